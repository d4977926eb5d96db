# ebpf: the tc buffer program, built into a CO-RE skeleton that libnetmove's
# buffer module embeds.  Included by the top-level Makefile.

BPF_CLANG  ?= clang
BPF_STRIP  ?= llvm-strip
BPFTOOL    ?= bpftool
BPF_BTF    ?= /sys/kernel/btf/vmlinux
BPF_OUT    := $(O)/ebpf
BPF_CFLAGS := -target bpf -mcpu=v3 -O2 -g -D__TARGET_ARCH_x86 -Wall -Werror \
	-I$(BPF_OUT) -Iebpf

EXTRA_CFLAGS += -I$(BPF_OUT) -Iebpf
EXTRA_LDLIBS += -lbpf -lelf -lz
LIB_DEPS     += $(BPF_OUT)/nm_buffer.skel.h

$(BPF_OUT)/vmlinux.h:
	@mkdir -p $(dir $@)
	$(BPFTOOL) btf dump file $(BPF_BTF) format c > $@.tmp
	mv $@.tmp $@

$(BPF_OUT)/nm_buffer.bpf.o: ebpf/nm_buffer.bpf.c ebpf/nm_buffer.h $(BPF_OUT)/vmlinux.h
	@mkdir -p $(dir $@)
	$(BPF_CLANG) $(BPF_CFLAGS) -c $< -o $@.tmp
	$(BPF_STRIP) -g $@.tmp
	mv $@.tmp $@

$(BPF_OUT)/nm_buffer.skel.h: $(BPF_OUT)/nm_buffer.bpf.o
	$(BPFTOOL) gen skeleton $< name nm_buffer > $@.tmp
	mv $@.tmp $@
