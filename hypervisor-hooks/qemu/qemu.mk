# hypervisor-hooks/qemu: nm-qemu, netmove driven by a QEMU's QMP events.
# Included from the top Makefile; uses its CC, CFLAGS, O, LDLIBS and the
# $(O)/obj object rule.
all: $(O)/nm-qemu

EXTRA_BINS += $(O)/nm-qemu
INSTALL_SBIN += $(O)/nm-qemu

QEMU_DIR := hypervisor-hooks/qemu
QEMU_OBJ := $(O)/obj/$(QEMU_DIR)/nm-qemu.o $(O)/obj/$(QEMU_DIR)/qmp.o $(O)/obj/$(QEMU_DIR)/qemu_nic.o

$(O)/nm-qemu: $(QEMU_OBJ) $(O)/libnetmove.a
	$(CC) $(CFLAGS) -o $@ $(QEMU_OBJ) $(O)/libnetmove.a $(LDLIBS) -ljansson

# tests/unit/test_qemu_nic.c needs qemu_nic.c and jansson: these explicit
# rules take precedence over the top Makefile's $(O)/unit/% pattern rules.
$(O)/unit/test_qemu_nic: tests/unit/test_qemu_nic.c $(QEMU_DIR)/qemu_nic.c $(QEMU_DIR)/qemu_nic.h \
		$(O)/libnetmove.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit -I$(QEMU_DIR) -o $@ $< $(QEMU_DIR)/qemu_nic.c \
		$(O)/libnetmove.a $(LDLIBS) -ljansson -lcmocka

$(O)/unit-san/test_qemu_nic: tests/unit/test_qemu_nic.c $(QEMU_DIR)/qemu_nic.c \
		$(QEMU_DIR)/qemu_nic.h $(O)/libnetmove-san.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SAN) -O1 -Itests/unit -I$(QEMU_DIR) -o $@ $< $(QEMU_DIR)/qemu_nic.c \
		$(O)/libnetmove-san.a $(LDLIBS) -ljansson -lcmocka
