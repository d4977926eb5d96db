# ebpf: the tc buffer program, built into two CO-RE objects that libnetmove's
# buffer module embeds and picks from at run time (nm_buffer.bpf.c says
# how they differ).  The objects use no vmlinux.h: nm_kern.h declares what
# they read of the kernel, relocated when loaded, so they do not depend on
# the build host's kernel.  Included by the top-level Makefile.

BPF_CLANG  ?= clang
BPF_STRIP  ?= llvm-strip
BPFTOOL    ?= bpftool
BPF_OUT    := $(O)/ebpf
BPF_CFLAGS := -target bpf -mcpu=v3 -O2 -g -D__TARGET_ARCH_x86 -Wall -Werror \
	-Iebpf -idirafter /usr/include/$(shell $(CC) -dumpmachine)
BPF_SRC    := ebpf/nm_buffer.bpf.c ebpf/nm_buffer.h ebpf/nm_kern.h

EXTRA_CFLAGS += -I$(BPF_OUT) -Iebpf
EXTRA_LDLIBS += -lbpf -lelf -lz
LIB_DEPS     += $(BPF_OUT)/nm_buffer.skel.h $(BPF_OUT)/nm_buffer_copy.skel.h

$(BPF_OUT)/nm_buffer.bpf.o: $(BPF_SRC)
	@mkdir -p $(dir $@)
	$(BPF_CLANG) $(BPF_CFLAGS) -c $< -o $@.tmp
	$(BPF_STRIP) -g $@.tmp
	mv $@.tmp $@

$(BPF_OUT)/nm_buffer_copy.bpf.o: $(BPF_SRC)
	@mkdir -p $(dir $@)
	$(BPF_CLANG) $(BPF_CFLAGS) -DNM_CAPTURE_COPY -c $< -o $@.tmp
	$(BPF_STRIP) -g $@.tmp
	mv $@.tmp $@

$(BPF_OUT)/%.skel.h: $(BPF_OUT)/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $* > $@.tmp
	mv $@.tmp $@
