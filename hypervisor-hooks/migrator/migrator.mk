# hypervisor-hooks/migrator: the compact pre-copy migrator (nm-migrate), its guest, and
# the unit test and fuzz harness that link its objects.  Included from the top
# Makefile (-include hypervisor-hooks/migrator/migrator.mk); uses its CC, CFLAGS, O, LDLIBS
# and the $(O)/obj, $(O)/san and $(O)/fuzzlib object rules.
all: $(O)/nm-migrate

EXTRA_BINS += $(O)/nm-migrate
INSTALL_SBIN += $(O)/nm-migrate

HH_DIR      := hypervisor-hooks/migrator
HH_CORE     := vm dev dev_nic tap cpu cpu_emu cpu_kvm stream precopy precopy_send precopy_recv summary
HH_OBJ      := $(HH_CORE:%=$(O)/obj/$(HH_DIR)/%.o) $(O)/hh/guest_blob.o
HH_SAN_OBJ  := $(HH_CORE:%=$(O)/san/$(HH_DIR)/%.o) $(O)/hh/guest_blob.o
HH_LDLIBS   := -lunicorn -lpthread

# The guest: freestanding 32-bit flat protected mode, linked at HW_LOAD with
# the start file first, flattened to a raw image the VMM embeds.
HH_GUEST_CFLAGS := -m32 -ffreestanding -fno-pic -fno-pie -fno-stack-protector \
	-fno-asynchronous-unwind-tables -fno-tree-loop-distribute-patterns -mno-sse -mno-mmx -mno-80387 -O2 \
	-Wall -Wextra -Werror
HH_GUEST_LOAD := 0x10000

$(O)/hh/guest/%.o: $(HH_DIR)/guest/%.S
	@mkdir -p $(dir $@)
	$(CC) $(HH_GUEST_CFLAGS) -c $< -o $@

$(O)/hh/guest/%.o: $(HH_DIR)/guest/%.c $(HH_DIR)/guest/io.h $(HH_DIR)/hw.h
	@mkdir -p $(dir $@)
	$(CC) $(HH_GUEST_CFLAGS) -c $< -o $@

$(O)/hh/guest.elf: $(O)/hh/guest/start.o $(O)/hh/guest/guest.o $(O)/hh/guest/net.o
	$(CC) -m32 -nostdlib -static -no-pie -Wl,--build-id=none \
		-Wl,-Ttext=$(HH_GUEST_LOAD) -o $@ $^

$(O)/hh/guest.bin: $(O)/hh/guest.elf
	objcopy -O binary $< $@

$(O)/hh/guest_blob.o: $(HH_DIR)/guest_blob.S $(O)/hh/guest.bin
	$(CC) -DHH_GUEST_BIN='"$(O)/hh/guest.bin"' -c $< -o $@

$(O)/nm-migrate: $(O)/obj/$(HH_DIR)/nm-migrate.o $(HH_OBJ) $(O)/libnetmove.a
	$(CC) $(CFLAGS) -o $@ $(O)/obj/$(HH_DIR)/nm-migrate.o $(HH_OBJ) \
		$(O)/libnetmove.a $(LDLIBS) $(HH_LDLIBS)

# Explicit rules take precedence over the top Makefile's unit patterns.
$(O)/unit/test_precopy: tests/unit/test_precopy.c $(HH_OBJ) $(O)/libnetmove.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -Itests/unit -I$(HH_DIR) -o $@ $< $(HH_OBJ) \
		$(O)/libnetmove.a $(LDLIBS) $(HH_LDLIBS) -lcmocka

$(O)/unit-san/test_precopy: tests/unit/test_precopy.c $(HH_SAN_OBJ) $(O)/libnetmove-san.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SAN) -O1 -MMD -MP -Itests/unit -I$(HH_DIR) -o $@ $< $(HH_SAN_OBJ) \
		$(O)/libnetmove-san.a $(LDLIBS) $(HH_LDLIBS) -lcmocka

$(O)/fuzz/fuzz_stream: tests/fuzz/fuzz_stream.c $(O)/fuzzlib/$(HH_DIR)/stream.o $(O)/libnetmove-fuzz.a
	@mkdir -p $(dir $@)
	$(CLANG) $(FUZZ_CFLAGS) -I$(HH_DIR) -fsanitize=fuzzer,address,undefined -o $@ $< \
		$(O)/fuzzlib/$(HH_DIR)/stream.o $(O)/libnetmove-fuzz.a $(LDLIBS)

$(O)/unit/test_nic: tests/unit/test_nic.c $(HH_OBJ) $(O)/libnetmove.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -Itests/unit -I$(HH_DIR) -o $@ $< $(HH_OBJ) \
		$(O)/libnetmove.a $(LDLIBS) $(HH_LDLIBS) -lcmocka

$(O)/unit-san/test_nic: tests/unit/test_nic.c $(HH_SAN_OBJ) $(O)/libnetmove-san.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SAN) -O1 -MMD -MP -Itests/unit -I$(HH_DIR) -o $@ $< $(HH_SAN_OBJ) \
		$(O)/libnetmove-san.a $(LDLIBS) $(HH_LDLIBS) -lcmocka
