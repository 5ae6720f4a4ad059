# clientnic: a 0-RTT TCP middlebox.
#   make            build both daemons (clientnic, servernic), their
#                   control tool (clientnicctl), the link emulator and the
#                   engine library
#   make check      install test dependencies, run unit tests (plain and
#                   ASan+UBSan) and the network-namespace end-to-end tests
#   make demo       show 0-RTT over an emulated WAN (root)
#   make bench      print benchmark figures (root)
#   make soak       1000 echo connections over a lossy WAN, bridges vs boxes (root)
#   make install    daemons, clientnicctl, man pages, systemd units (PREFIX,
#                   DESTDIR); make uninstall
# V=1 shows the commands.

CC      ?= gcc
B       ?= build
CSTD    := -std=c17 -D_GNU_SOURCE
WARN    := -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wcast-qual \
           -Wstrict-prototypes -Wmissing-prototypes -Wsign-compare \
           -Wvla -Wformat=2
OPT     ?= -O2 -g
SANFLAGS := -fsanitize=address,undefined
ifeq ($(SAN),1)
OPT     := -O1 -g $(SANFLAGS) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += $(SANFLAGS)
endif
CFLAGS  += $(CSTD) $(WARN) $(OPT) -MMD -MP -Isrc

ifneq ($(V),1)
Q = @
say = @printf '  %-6s %s\n' $(1) $(2);
endif

# The engine is pure (no system calls) and shared by both roles; the daemon
# is the I/O around it.
ENGINE_SRC := $(addprefix src/engine/,packet.c checksum.c siphash.c \
              flow_table.c options_cache.c rewriter.c spoofer.c peer_opt.c peer.c fast.c \
              handlers.c admin.c)
# Both daemons are these objects with an entry of their own that names
# the role (src/daemon/clientnic.c, servernic.c).
DAEMON_SRC := $(addprefix src/daemon/,main.c daemon.c worker.c workers.c \
              stats.c event_log.c pktio.c log.c pcap_out.c peer_key.c \
              privs.c cache_file.c outbuf.c report.c worker_query.c \
              ctl_server.c control.c sd_notify.c config_file.c fastpath.c \
              iflink.c)
LINKEM_SRC := tools/linkem.c src/daemon/pktio.c
CTL_SRC    := src/ctl/clientnicctl.c
UNIT_SRC   := $(wildcard tests/unit/test_*.c)
UNIT_AUX   := tests/unit/frames.c
BENCH_SRC  := $(wildcard bench/*.c)

obj = $(patsubst %.c,$(B)/obj/%.o,$(1))

LIB     := $(B)/libclientnic.a
DAEMON  := $(B)/clientnic
SNIC    := $(B)/servernic
LINKEM  := $(B)/linkem
CTL     := $(B)/clientnicctl
UNITS   := $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRC))

.SECONDARY:
.PHONY: all check unit unit-asan vm fuzz e2e demo bench soak deps clean
all: $(LIB) $(DAEMON) $(SNIC) $(LINKEM) $(CTL)

$(B)/obj/%.o: %.c
	$(call say,CC,$<)mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(LIB): $(call obj,$(ENGINE_SRC))
	$(call say,AR,$@)rm -f $@
	$(Q)ar rcs $@ $^

$(DAEMON) $(SNIC): $(B)/%: $(B)/obj/src/daemon/%.o $(call obj,$(DAEMON_SRC)) $(LIB)
	$(call say,LD,$@)$(CC) $(LDFLAGS) -o $@ $^ -lpcap -lbpf -lelf -lz

$(LINKEM): $(call obj,$(LINKEM_SRC))
	$(call say,LD,$@)$(CC) $(LDFLAGS) -o $@ $^ -lm

$(CTL): $(call obj,$(CTL_SRC))
	$(call say,LD,$@)$(CC) $(LDFLAGS) -o $@ $^

$(B)/tests/%: $(B)/obj/tests/unit/%.o $(call obj,$(UNIT_AUX)) $(LIB)
	$(call say,LD,$@)mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lcmocka $(TEST_LIBS)

# The kernel fast path (src/bpf/): one object, embedded in a libbpf
# skeleton for the daemon and the unit test that loads it. bpftool's
# static link drops the DWARF and keeps the BTF.
BPF_CLANG  ?= clang
BPFTOOL    ?= bpftool
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_x86 \
              -I/usr/include/$(shell gcc -dumpmachine) -Isrc -Wall -Werror
BPF_SKEL   := $(B)/bpf/fastpath.skel.h

$(B)/bpf/fastpath.bpf.o: src/bpf/fastpath.bpf.c $(wildcard src/bpf/*.h) \
		src/engine/fast_flow.h
	$(call say,BPF,$@)mkdir -p $(dir $@)
	$(Q)$(BPF_CLANG) $(BPF_CFLAGS) -c $< -o $(@:.o=.dbg.o)
	$(Q)$(BPFTOOL) gen object $@ $(@:.o=.dbg.o)

# The end-to-end tests' own BPF (tests/e2e/*.bpf.c), loaded by tc.
$(B)/tests/%.bpf.o: tests/e2e/%.bpf.c
	$(call say,BPF,$@)mkdir -p $(dir $@)
	$(Q)$(BPF_CLANG) $(BPF_CFLAGS) -c $< -o $@
E2E_BPF := $(B)/tests/vlan_tag.bpf.o

$(BPF_SKEL): $(B)/bpf/fastpath.bpf.o
	$(call say,SKEL,$@)$(BPFTOOL) gen skeleton $< >$@.tmp && mv $@.tmp $@

# A system header to the compiler: bpftool's code casts const away.
$(B)/obj/src/daemon/fastpath.o $(B)/obj/tests/unit/test_fast_bpf.o: $(BPF_SKEL)
$(B)/obj/src/daemon/fastpath.o $(B)/obj/tests/unit/test_fast_bpf.o: \
	CFLAGS += -isystem $(B)/bpf
$(B)/tests/test_fast_bpf: TEST_LIBS := -lbpf -lelf -lz

$(B)/bench/%: $(B)/obj/bench/%.o $(LIB)
	$(call say,LD,$@)mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lm

unit: $(UNITS)
	$(Q)tests/run-unit.sh $(UNITS)

unit-asan:
	$(Q)$(MAKE) --no-print-directory B=build/asan SAN=1 unit

# libFuzzer over whole flows (clang); FUZZ_SECONDS=0 only replays the corpus.
FUZZ_SECONDS ?= 20
FUZZ := build/fuzz/fuzz_engine
$(FUZZ): fuzz/fuzz_engine.c $(ENGINE_SRC) $(wildcard src/engine/*.h)
	$(call say,FUZZ,$@)mkdir -p $(dir $@)
	$(Q)clang $(CSTD) -g -O1 -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=all -Isrc fuzz/fuzz_engine.c $(ENGINE_SRC) -o $@

fuzz: $(FUZZ)
	$(Q)rm -rf build/fuzz/corpus && python3 fuzz/make_corpus.py build/fuzz/corpus
	$(Q)cd build/fuzz && ./fuzz_engine -max_total_time=$(FUZZ_SECONDS) \
		-print_final_stats=1 corpus 2>fuzz.log || { tail -50 fuzz.log; exit 1; }
	$(Q)grep -E 'stat::number_of_executed_units|Done' build/fuzz/fuzz.log | \
		sed 's/^/  fuzz: /'

# The kernel path under Debian 12's kernel (Linux 6.1) in emulated
# guests: its programs' unit test, the daemons attaching, handing over and
# detaching them, TCP inside a VLAN tag (tests/vm/check.sh).
$(B)/vm/init: tests/vm/init.c
	$(call say,LD,$@)mkdir -p $(dir $@)
	$(Q)$(CC) $(CSTD) $(WARN) -O2 -static -o $@ $<

vm: $(B)/tests/test_fast_bpf $(B)/clientnic $(B)/servernic $(B)/bench/loadgen \
    $(B)/vm/init
	$(Q)tests/vm/check.sh $(B)

deps:
	$(Q)scripts/install-deps.sh

# The main end-to-end tests, run again with every frame through the daemons
# (the whole suite runs with the kernel path).
E2E_BOTH := test_http.sh test_early_data.sh test_concurrent.sh \
            test_lossy_wan.sh test_stacks.sh test_workers.sh \
            test_pair_http.sh test_pair_first_byte.sh test_pair_lossy.sh \
            test_pair_fallback.sh test_pair_peer_killed.sh test_vlan.sh

check: deps
	$(Q)$(MAKE) --no-print-directory all $(E2E_BPF)
	$(Q)$(MAKE) --no-print-directory unit
	$(Q)$(MAKE) --no-print-directory unit-asan
	$(Q)$(MAKE) --no-print-directory vm
	$(Q)$(MAKE) --no-print-directory fuzz
	$(Q)$(MAKE) --no-print-directory B=build/asan SAN=1 build/asan/clientnic \
		build/asan/servernic
	$(Q)CLIENTNIC_BIN=$(CURDIR)/build/asan/clientnic \
		SERVERNIC_BIN=$(CURDIR)/build/asan/servernic DATAPATH=bpf \
		tests/e2e/run.sh
	$(Q)CLIENTNIC_BIN=$(CURDIR)/build/asan/clientnic \
		SERVERNIC_BIN=$(CURDIR)/build/asan/servernic DATAPATH=afpacket \
		tests/e2e/run.sh $(addprefix tests/e2e/,$(E2E_BOTH))

e2e: all $(E2E_BPF)
	$(Q)tests/e2e/run.sh

demo: deps all
	$(Q)BUILD=$(B) scripts/demo.sh $(DEMO_ARGS)

bench: deps all $(patsubst bench/%.c,$(B)/bench/%,$(BENCH_SRC))
	$(Q)bench/run.sh

# Echo connections of mixed sizes over a lossy WAN, bridges then the boxes
# (SOAK_MODE=clientnic|pair|both, SOAK_COUNT, ...: see bench/soak.sh).
soak: deps all
	$(Q)BUILD=$(B) bench/soak.sh

# Install: PREFIX (/usr/local) and DESTDIR as usual. The daemons and
# clientnicctl (which needs root, or the daemon's --control-group) go to
# $(SBINDIR), their man pages to $(MANDIR)/man8, the template units
# clientnic@.service and servernic@.service (instance NAME reads
# /etc/clientnic/NAME.env or /etc/servernic/NAME.env) to $(UNITDIR) with
# the users and folders they need (sysusers.d, tmpfiles.d), the example
# env files to $(DOCDIR). Nothing goes to /etc or /var. `make uninstall`
# removes exactly these files (and $(DOCDIR) if it is left empty).
PREFIX      ?= /usr/local
DESTDIR     ?=
SBINDIR     ?= $(PREFIX)/sbin
MANDIR      ?= $(PREFIX)/share/man
DOCDIR      ?= $(PREFIX)/share/doc/clientnic
UNITDIR     ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
INSTALL     ?= install
INSTALLED   := $(SBINDIR)/clientnic $(SBINDIR)/servernic $(SBINDIR)/clientnicctl \
               $(MANDIR)/man8/clientnic.8 $(MANDIR)/man8/servernic.8 \
               $(MANDIR)/man8/clientnicctl.8 \
               $(UNITDIR)/clientnic@.service $(UNITDIR)/servernic@.service \
               $(SYSUSERSDIR)/clientnic.conf $(TMPFILESDIR)/clientnic.conf \
               $(DOCDIR)/clientnic.env.example $(DOCDIR)/servernic.env.example

.PHONY: install uninstall
install: $(DAEMON) $(SNIC) $(CTL)
	$(call say,INSTALL,$(DESTDIR)$(PREFIX))$(INSTALL) -d -m 0755 \
		$(addprefix $(DESTDIR),$(SBINDIR) $(MANDIR)/man8 $(UNITDIR) \
		$(SYSUSERSDIR) $(TMPFILESDIR) $(DOCDIR))
	$(Q)$(INSTALL) -m 0755 $(DAEMON) $(SNIC) $(CTL) $(DESTDIR)$(SBINDIR)/
	$(Q)$(INSTALL) -m 0644 man/clientnic.8 man/servernic.8 man/clientnicctl.8 \
		$(DESTDIR)$(MANDIR)/man8/
	$(Q)mkdir -p $(B)/systemd && for u in clientnic servernic; do \
		sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@DOCDIR@|$(DOCDIR)|g' \
			systemd/$$u@.service.in >$(B)/systemd/$$u@.service || exit 1; \
	done
	$(Q)$(INSTALL) -m 0644 $(B)/systemd/clientnic@.service \
		$(B)/systemd/servernic@.service $(DESTDIR)$(UNITDIR)/
	$(Q)$(INSTALL) -m 0644 systemd/clientnic.sysusers $(DESTDIR)$(SYSUSERSDIR)/clientnic.conf
	$(Q)$(INSTALL) -m 0644 systemd/clientnic.tmpfiles $(DESTDIR)$(TMPFILESDIR)/clientnic.conf
	$(Q)$(INSTALL) -m 0644 systemd/clientnic.env.example \
		systemd/servernic.env.example $(DESTDIR)$(DOCDIR)/

uninstall:
	$(call say,RM,$(DESTDIR)$(PREFIX))rm -f $(addprefix $(DESTDIR),$(INSTALLED))
	$(Q)rmdir $(DESTDIR)$(DOCDIR) 2>/dev/null || true

clean:
	rm -rf build

-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)
