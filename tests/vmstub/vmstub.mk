# nm-vmstub: the VM stand-in used by the network tests (tests/net/vmstub.sh).
# Included from the top-level Makefile; uses its CC, CFLAGS, O and $(O)/obj/%.o rule.
# Its first rule is `all`, so including it anywhere keeps `all` the default goal.
VMSTUB_SRC := $(wildcard tests/vmstub/*.c)
VMSTUB_OBJ := $(VMSTUB_SRC:%.c=$(O)/obj/%.o)

all: $(O)/nm-vmstub
INSTALL_BIN += $(O)/nm-vmstub

$(O)/nm-vmstub: $(VMSTUB_OBJ) $(O)/libnetmove.a
	$(CC) $(CFLAGS) -o $@ $(VMSTUB_OBJ) $(O)/libnetmove.a
