# ovs-plugin: $(O)/libnmovs.a (vSwitch programming through libopenvswitch)
# and the $(O)/nm-ovs tool.  Included by the top Makefile.
#
# libopenvswitch comes from the cache built by mk/deps.sh (`make deps`).
# Only the ovs-plugin library objects see OVS's headers.

# Keeps `all` the default goal (this fragment may hold the first target)
# and builds the tool the network tests and the benchmark use.
all: $(O)/nm-ovs
INSTALL_SBIN += $(O)/nm-ovs

OVS_DIR    := $(shell mk/deps.sh --ovs-dir 2>/dev/null)
OVS_SRC    := $(OVS_DIR)/src
OVS_BUILD  := $(OVS_DIR)/build
OVS_LIBA   := $(OVS_BUILD)/lib/.libs/libopenvswitch.a
OVS_CFLAGS := -I$(OVS_SRC)/include -I$(OVS_BUILD)/include -I$(OVS_BUILD) \
	-I$(OVS_SRC)/lib -I$(OVS_BUILD)/lib -I$(OVS_SRC)
# OVS's list/hmap macros use `typeof` (GNU C).  No warning is relaxed: the
# headers included here are clean under the project's -W flags (lib/flow.h,
# via lib/packets.h, is not: it needs -Wno-sign-compare; avoid it).
OVS_WARN   := -std=gnu11
# libnmovs.a is one relocatable object: the ovs-plugin objects plus the
# libopenvswitch members they need, with every symbol but ovsp.h's API made
# local.  OVS's ~5500 global names (ctl_*, hmap_*, ...) then can never
# collide with, or silently bind to, a libnetmove or application symbol of
# the same name, and the application links no OVS archive.  What remains
# for the final link (configured --enable-ssl; glibc 2.36 has pthread and rt
# in libc; x86-64 needs no -latomic):
OVS_LDLIBS := -lssl -lcrypto -lm

NMOVS_SRC  := $(filter-out ovs-plugin/nm-ovs.c,$(wildcard ovs-plugin/*.c))
NMOVS_OBJ  := $(NMOVS_SRC:ovs-plugin/%.c=$(O)/ovs/%.o)

APP_LIBS   += $(O)/libnmovs.a
APP_LDLIBS += $(OVS_LDLIBS)

$(O)/ovs/%.o: ovs-plugin/%.c | $(OVS_LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(OVS_WARN) -Iovs-plugin $(OVS_CFLAGS) -MMD -MP -c $< -o $@

# Exported: the ovsp_* functions (internal helpers are ovsp__*).
$(O)/ovs/nmovs.o: $(NMOVS_OBJ) $(OVS_LIBA)
	$(CC) -r -nostdlib -o $@.all $(NMOVS_OBJ) $(OVS_LIBA)
	nm -g --defined-only $(NMOVS_OBJ) | \
		awk 'NF == 3 && $$3 ~ /^ovsp_[a-z]/ { print $$3 }' | sort -u >$@.syms
	objcopy --keep-global-symbols=$@.syms $@.all $@
	rm -f $@.all

$(O)/libnmovs.a: $(O)/ovs/nmovs.o
	rm -f $@
	ar rcs $@ $^

# The tool includes only ovsp.h and libnetmove: full warnings, no OVS paths.
$(O)/ovs-tool/nm-ovs.o: ovs-plugin/nm-ovs.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Iovs-plugin -MMD -MP -c $< -o $@

$(O)/nm-ovs: $(O)/ovs-tool/nm-ovs.o $(O)/libnmovs.a $(O)/libnetmove.a
	$(CC) $(CFLAGS) -o $@ $< $(O)/libnmovs.a $(O)/libnetmove.a $(LDLIBS) $(OVS_LDLIBS)

$(OVS_LIBA):
	@echo "ovs-plugin: libopenvswitch.a not found$(if $(OVS_DIR), in $(OVS_BUILD),): run 'make deps' first" >&2
	@exit 1
