# hypervisor-hooks/qemu: nm-qemu, netmove driven by a QEMU's QMP events.
# Included from the top Makefile; uses its CC, CFLAGS, O, LDLIBS and the
# $(O)/obj object rule.
all: $(O)/nm-qemu

EXTRA_BINS += $(O)/nm-qemu
INSTALL_SBIN += $(O)/nm-qemu

QEMU_DIR := hypervisor-hooks/qemu
QEMU_OBJ := $(O)/obj/$(QEMU_DIR)/nm-qemu.o $(O)/obj/$(QEMU_DIR)/qmp.o

$(O)/nm-qemu: $(QEMU_OBJ) $(O)/libnetmove.a
	$(CC) $(CFLAGS) -o $@ $(QEMU_OBJ) $(O)/libnetmove.a $(LDLIBS) -ljansson
