# netmove: one entry point.  make deps | all | test | bench | demo | fuzz | install | deb | clean
# Everything is built under build/.  `make test` and `make demo` need root.

.DEFAULT_GOAL := all

CC       := gcc
CLANG    := clang
O        := build
PREFIX   ?= /usr/local

PKGS     := libnl-3.0 libnl-route-3.0 libpcap
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
# libmicrohttpd serves netmoved's --metrics: linked into netmoved only.
AGENT_CFLAGS := $(shell pkg-config --cflags libmicrohttpd 2>/dev/null)
AGENT_LDLIBS := $(shell pkg-config --libs libmicrohttpd 2>/dev/null || echo -lmicrohttpd)

WARN     := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-format-nonliteral
CFLAGS   ?= -O2 -g
CFLAGS   += -std=c11 -D_GNU_SOURCE $(WARN) -Inetmove/include $(PKG_CFLAGS)
LDLIBS   := $(PKG_LIBS) -lssl -lcrypto -lm

SAN      := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

# Fragments add to these: EXTRA_CFLAGS, EXTRA_LDLIBS (libnetmove users),
# APP_LIBS (archives linked into the netmove and netmoved binaries only),
# LIB_DEPS (generated headers libnetmove objects need first).
EXTRA_CFLAGS :=
EXTRA_LDLIBS :=
APP_LIBS :=
APP_LDLIBS :=
EXTRA_BINS := $(O)/guest/udp-reflect
LIB_DEPS :=
# What `make install` puts in sbin/ and bin/ (fragments add their programs);
# every man page in docs/ goes to its section.
INSTALL_SBIN := $(O)/netmove $(O)/netmoved
INSTALL_BIN :=
MANPAGES := $(wildcard docs/*.[1-8])
-include ebpf/ebpf.mk
-include ovs-plugin/ovs.mk
-include tests/vmstub/vmstub.mk
-include hypervisor-hooks/migrator/migrator.mk
-include hypervisor-hooks/qemu/qemu.mk
-include hypervisor-hooks/libvirt/libvirt.mk
-include packaging/packaging.mk
CFLAGS   += $(EXTRA_CFLAGS)
LDLIBS   += $(EXTRA_LDLIBS)

LIB_SRC  := $(wildcard netmove/lib/*.c)
CLI_SRC  := $(wildcard netmove/cli/*.c)
AGENT_SRC := $(wildcard netmove/agent/*.c)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)

LIB_OBJ  := $(LIB_SRC:%.c=$(O)/obj/%.o)
LIB_SAN  := $(LIB_SRC:%.c=$(O)/san/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(O)/obj/%.o)
AGENT_OBJ := $(AGENT_SRC:%.c=$(O)/obj/%.o)
UNITS    := $(UNIT_SRC:tests/unit/%.c=$(O)/unit/%)
UNITS_SAN := $(UNIT_SRC:tests/unit/%.c=$(O)/unit-san/%)
FUZZERS  := $(FUZZ_SRC:tests/fuzz/%.c=$(O)/fuzz/%)

FUZZ_SECONDS ?= 60
FUZZ_QUICK   ?= 5

.PHONY: all deps deps-check need-root test test-qemu kernels unit net fuzz fuzz-quick bench demo install clean

all: $(O)/netmove $(O)/netmoved $(UNITS) $(EXTRA_BINS) $(O)/unit/test_cli_usage

$(O)/obj/%.o: %.c | $(LIB_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(O)/san/%.o: %.c | $(LIB_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SAN) -O1 -MMD -MP -c $< -o $@

$(O)/libnetmove.a: $(LIB_OBJ)
	ar rcs $@ $^

$(O)/libnetmove-san.a: $(LIB_SAN)
	ar rcs $@ $^

# The CLI reads journal records with jansson (netmove journal --svg).
$(O)/netmove: $(CLI_OBJ) $(O)/libnetmove.a $(APP_LIBS)
	$(CC) $(CFLAGS) -o $@ $(CLI_OBJ) $(O)/libnetmove.a $(APP_LIBS) $(LDLIBS) $(APP_LDLIBS) -ljansson

$(AGENT_OBJ): CFLAGS += -Iovs-plugin $(AGENT_CFLAGS)

$(O)/netmoved: $(AGENT_OBJ) $(O)/libnetmove.a $(APP_LIBS)
	$(CC) $(CFLAGS) -o $@ $(AGENT_OBJ) $(O)/libnetmove.a $(APP_LIBS) $(LDLIBS) $(APP_LDLIBS) $(AGENT_LDLIBS) -lpthread

$(O)/unit/%: tests/unit/%.c $(O)/libnetmove.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit -Inetmove/lib -o $@ $< $(O)/libnetmove.a $(LDLIBS) -lcmocka

# Unit tests of netmoved's own modules that need no library beyond
# libnetmove: built with the modules they test.
UNIT_AGENT_test_choreo := netmove/agent/choreo.c
UNIT_AGENT_test_shipq := netmove/agent/shipq.c netmove/agent/recfile.c
UNIT_AGENT_test_recfile := netmove/agent/recfile.c
UNIT_AGENT_test_metrics := netmove/agent/metrics.c
UNIT_AGENT_test_relq := netmove/agent/relq.c
UNIT_AGENT_test_sched := netmove/agent/sched.c netmove/agent/requester.c
UNIT_AGENT_test_series := netmove/agent/series.c
define agent_unit
$(O)/unit/$(1): tests/unit/$(1).c $$(UNIT_AGENT_$(1)) $(O)/libnetmove.a
	@mkdir -p $$(dir $$@)
	$$(CC) $$(CFLAGS) -Itests/unit -Inetmove/agent -o $$@ $$< $$(UNIT_AGENT_$(1)) \
		$(O)/libnetmove.a $$(LDLIBS) -lcmocka

$(O)/unit-san/$(1): tests/unit/$(1).c $$(UNIT_AGENT_$(1)) $(O)/libnetmove-san.a
	@mkdir -p $$(dir $$@)
	$$(CC) $$(CFLAGS) $$(SAN) -O1 -Itests/unit -Inetmove/agent -o $$@ $$< $$(UNIT_AGENT_$(1)) \
		$(O)/libnetmove-san.a $$(LDLIBS) -lcmocka
endef
$(foreach t,test_choreo test_shipq test_recfile test_metrics test_relq test_sched test_series,$(eval $(call agent_unit,$(t))))

# netmove plan's decision (planrank.c), fed tables: no agent, no network.
UNIT_AGENT_test_plan := netmove/agent/planrank.c
$(eval $(call agent_unit,test_plan))

# The CLI's timeline (netmove/cli/timeline.c, jansson), read back with libxml2.
TIMELINE_T := tests/unit/test_timeline.c netmove/cli/timeline.c netmove/cli/timeline.h
$(O)/unit/test_timeline: $(TIMELINE_T) $(O)/libnetmove.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(shell pkg-config --cflags libxml-2.0) -Itests/unit -Inetmove/cli -o $@ $< \
		netmove/cli/timeline.c $(O)/libnetmove.a $(LDLIBS) -ljansson -lxml2 -lcmocka

$(O)/unit-san/test_timeline: $(TIMELINE_T) $(O)/libnetmove-san.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(shell pkg-config --cflags libxml-2.0) $(SAN) -O1 -Itests/unit -Inetmove/cli \
		-o $@ $< netmove/cli/timeline.c $(O)/libnetmove-san.a $(LDLIBS) -ljansson -lxml2 -lcmocka

# The programs' usage errors, where tests/run.sh looks for unit tests (it
# prints cmocka's result lines); it runs the programs built in $(O)/.
$(O)/unit/test_cli_usage: tests/unit/test_cli_usage.sh $(O)/unit/sh_cmocka.sh
	@mkdir -p $(dir $@)
	install -m 0755 $< $@

# What the shell unit tests share (not a test: not executable).
$(O)/unit/sh_cmocka.sh: tests/unit/sh_cmocka.sh
	@mkdir -p $(dir $@)
	install -m 0644 $< $@

$(O)/unit-san/%: tests/unit/%.c $(O)/libnetmove-san.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SAN) -O1 -Itests/unit -Inetmove/lib -o $@ $< $(O)/libnetmove-san.a $(LDLIBS) -lcmocka

# netmoved under ThreadSanitizer, for the concurrency tests (tests/net/test_tsan.sh).
TSAN      := -fsanitize=thread -fno-omit-frame-pointer
LIB_TSAN  := $(LIB_SRC:%.c=$(O)/tsan/%.o)
AGENT_TSAN := $(AGENT_SRC:%.c=$(O)/tsan/%.o)

$(O)/tsan/%.o: %.c | $(LIB_DEPS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(TSAN) -O1 -MMD -MP -c $< -o $@

$(AGENT_TSAN): CFLAGS += -Iovs-plugin $(AGENT_CFLAGS)

$(O)/tsan/netmoved: $(AGENT_TSAN) $(LIB_TSAN) $(APP_LIBS)
	$(CC) $(CFLAGS) $(TSAN) -o $@ $(AGENT_TSAN) $(LIB_TSAN) $(APP_LIBS) $(LDLIBS) $(APP_LDLIBS) $(AGENT_LDLIBS) -lpthread

FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -g -O1 $(WARN) -Inetmove/include $(PKG_CFLAGS) $(EXTRA_CFLAGS) \
	-fno-sanitize-recover=all

$(O)/fuzzlib/%.o: %.c | $(LIB_DEPS)
	@mkdir -p $(dir $@)
	$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link,address,undefined -MMD -MP -c $< -o $@

$(O)/libnetmove-fuzz.a: $(LIB_SRC:%.c=$(O)/fuzzlib/%.o)
	ar rcs $@ $^

$(O)/fuzz/%: tests/fuzz/%.c $(O)/libnetmove-fuzz.a
	@mkdir -p $(dir $@)
	$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $< \
		$(O)/libnetmove-fuzz.a $(LDLIBS) $(FUZZ_LDFLAGS)

# fuzz_guestrx checks every pread of the guest's memory against its regions.
$(O)/fuzz/fuzz_guestrx: FUZZ_LDFLAGS := -Wl,--wrap=pread
# The state machine is netmoved's own module: built with it.
$(O)/fuzz/fuzz_choreo: tests/fuzz/fuzz_choreo.c netmove/agent/choreo.c $(O)/libnetmove-fuzz.a
	@mkdir -p $(dir $@)
	$(CLANG) $(FUZZ_CFLAGS) -Inetmove/agent -fsanitize=fuzzer,address,undefined -o $@ $< \
		netmove/agent/choreo.c $(O)/libnetmove-fuzz.a $(LDLIBS)

# The schedule's file reader: netmoved's own module, built with it.
$(O)/fuzz/fuzz_sched: tests/fuzz/fuzz_sched.c netmove/agent/sched.c netmove/agent/requester.c \
		$(O)/libnetmove-fuzz.a
	@mkdir -p $(dir $@)
	$(CLANG) $(FUZZ_CFLAGS) -Inetmove/agent -fsanitize=fuzzer,address,undefined -o $@ $< \
		netmove/agent/sched.c netmove/agent/requester.c $(O)/libnetmove-fuzz.a $(LDLIBS)

deps: need-root
	@mk/deps.sh --update

need-root:
	@if [ "$$(id -u)" -ne 0 ]; then \
		echo "netmove: this target needs root (network namespaces, Open vSwitch, eBPF)."; \
		echo "netmove: run it as root, e.g. from a root shell: make $(MAKECMDGOALS)"; \
		exit 1; fi

deps-check: need-root
	@mk/deps.sh --check || mk/deps.sh

test: deps-check
	@$(MAKE) --no-print-directory all $(UNITS_SAN) $(FUZZERS) $(O)/tsan/netmoved
	@tests/run.sh

unit: all $(UNITS_SAN)
	@tests/run.sh unit

net: need-root all
	@tests/run.sh net

kernels: deps-check
	@$(MAKE) --no-print-directory all
	@tests/run.sh kernels

test-qemu: deps-check
	@$(MAKE) --no-print-directory all
	@MIGRATIONS=$${MIGRATIONS:-5} NMQEMU_ARGS=--own-pause tests/run.sh qemu

fuzz: $(FUZZERS)
	@tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZERS)

# The QEMU test guest's UDP reflector: static, for its initramfs.
$(O)/guest/udp-reflect: tests/guest/udp_reflect.c
	@mkdir -p $(@D)
	$(CC) -O2 -static -Wall -Wextra -Werror -o $@ $<

$(O)/bench_tls: tests/bench_tls.c $(O)/libnetmove.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $(O)/libnetmove.a $(LDLIBS) -lpthread

bench: deps-check
	@$(MAKE) --no-print-directory all $(O)/bench_tls
	@tests/bench.sh

demo: deps-check
	@$(MAKE) --no-print-directory all
	@tests/net/demo.sh

install: all
	@for p in $(INSTALL_SBIN); do \
		echo "install $$p -> $(DESTDIR)$(PREFIX)/sbin/"; \
		install -D -m 0755 $$p $(DESTDIR)$(PREFIX)/sbin/$${p##*/} || exit 1; done
	@for p in $(INSTALL_BIN); do \
		echo "install $$p -> $(DESTDIR)$(PREFIX)/bin/"; \
		install -D -m 0755 $$p $(DESTDIR)$(PREFIX)/bin/$${p##*/} || exit 1; done
	@if [ -n "$(INSTALL_LIBVIRT_HOOK)" ]; then \
		echo "install $(INSTALL_LIBVIRT_HOOK) -> $(DESTDIR)/etc/libvirt/hooks/qemu.d/netmove"; \
		install -D -m 0755 $(INSTALL_LIBVIRT_HOOK) $(DESTDIR)/etc/libvirt/hooks/qemu.d/netmove; fi
	@for m in $(MANPAGES); do \
		d=$(DESTDIR)$(PREFIX)/share/man/man$${m##*.}; \
		echo "install $$m -> $$d/"; \
		install -D -m 0644 $$m $$d/$${m##*/} || exit 1; done

clean:
	rm -rf $(O)

-include $(shell find $(O) -name '*.d' 2>/dev/null)
