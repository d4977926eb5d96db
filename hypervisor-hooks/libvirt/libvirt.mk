# hypervisor-hooks/libvirt: nm-libvirt-hook (libvirt's QEMU hook, run on the
# destination of a migration) and nm-libvirt (a daemon turning libvirt's
# domain lifecycle events into netmove events).  Included from the top
# Makefile; uses its CC, CFLAGS, SAN, O, LDLIBS and the $(O)/obj object rule.
LIBVIRT_DIR := hypervisor-hooks/libvirt
LIBVIRT_PKGS := libxml-2.0 libvirt libvirt-qemu
LIBVIRT_CFLAGS := $(shell pkg-config --cflags $(LIBVIRT_PKGS) 2>/dev/null)
LIBVIRT_LIBS := $(shell pkg-config --libs $(LIBVIRT_PKGS) 2>/dev/null)
XML_LIBS := $(shell pkg-config --libs libxml-2.0 2>/dev/null)

all: $(O)/nm-libvirt-hook $(O)/nm-libvirt $(O)/unit/test_libvirt_hook

EXTRA_BINS += $(O)/nm-libvirt-hook $(O)/nm-libvirt
INSTALL_SBIN += $(O)/nm-libvirt-hook $(O)/nm-libvirt
# `make install` copies it to $(DESTDIR)/etc/libvirt/hooks/qemu.d/netmove.
INSTALL_LIBVIRT_HOOK := $(O)/nm-libvirt-hook

LIBVIRT_HOOK_OBJ := $(O)/obj/$(LIBVIRT_DIR)/nm-libvirt-hook.o $(O)/obj/$(LIBVIRT_DIR)/domxml.o
LIBVIRT_D_OBJ := $(O)/obj/$(LIBVIRT_DIR)/nm-libvirt.o $(O)/obj/$(LIBVIRT_DIR)/domxml.o \
	$(O)/obj/$(LIBVIRT_DIR)/rxrings.o $(O)/obj/hypervisor-hooks/qemu/qemu_nic.o

# The generic object rule compiles with $(CFLAGS): libxml2's and libvirt's
# include paths are added for these objects only.
$(sort $(LIBVIRT_HOOK_OBJ) $(LIBVIRT_D_OBJ)): CFLAGS += $(LIBVIRT_CFLAGS)
$(O)/obj/$(LIBVIRT_DIR)/rxrings.o: CFLAGS += -Ihypervisor-hooks/qemu

$(O)/nm-libvirt-hook: $(LIBVIRT_HOOK_OBJ) $(O)/libnetmove.a
	$(CC) $(CFLAGS) -o $@ $(LIBVIRT_HOOK_OBJ) $(O)/libnetmove.a $(LDLIBS) $(XML_LIBS)

$(O)/nm-libvirt: $(LIBVIRT_D_OBJ) $(O)/libnetmove.a
	$(CC) $(CFLAGS) -o $@ $(LIBVIRT_D_OBJ) $(O)/libnetmove.a $(LDLIBS) $(LIBVIRT_LIBS) -ljansson -lpthread

# tests/unit/test_domxml.c needs domxml.c and libxml2: these explicit rules
# take precedence over the top Makefile's $(O)/unit/% pattern rules.
$(O)/unit/test_domxml: tests/unit/test_domxml.c $(LIBVIRT_DIR)/domxml.c $(LIBVIRT_DIR)/domxml.h \
		$(O)/libnetmove.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LIBVIRT_CFLAGS) -Itests/unit -I$(LIBVIRT_DIR) -o $@ $< \
		$(LIBVIRT_DIR)/domxml.c $(O)/libnetmove.a $(LDLIBS) $(XML_LIBS) -lcmocka

$(O)/unit-san/test_domxml: tests/unit/test_domxml.c $(LIBVIRT_DIR)/domxml.c \
		$(LIBVIRT_DIR)/domxml.h $(O)/libnetmove-san.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LIBVIRT_CFLAGS) $(SAN) -O1 -Itests/unit -I$(LIBVIRT_DIR) -o $@ $< \
		$(LIBVIRT_DIR)/domxml.c $(O)/libnetmove-san.a $(LDLIBS) $(XML_LIBS) -lcmocka

# The hook's shell test, where tests/run.sh looks for unit tests (it prints
# cmocka's result lines); it runs the built $(O)/nm-libvirt-hook.
$(O)/unit/test_libvirt_hook: tests/unit/test_libvirt_hook.sh $(O)/nm-libvirt-hook $(O)/unit/sh_cmocka.sh
	@mkdir -p $(dir $@)
	install -m 0755 $< $@
