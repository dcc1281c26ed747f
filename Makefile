# vmacd: top-level build.  `make` builds (installing the Debian packages
# that building needs, once: `make deps`); `make check`, `make demo` and
# `make bench` first install their own tools (ovs-scripts/deps.sh PROFILE).

BUILD    := build
OVS_SRC  := $(BUILD)/ovs/openvswitch
OVS_LIBS := $(BUILD)/ovs/libopenvswitch-vmacd.a \
            $(BUILD)/ovs/libopenvswitchavx512-vmacd.a
PYTHON   := /usr/bin/python3
VERSION  := $(shell cat VERSION)

CC       ?= gcc
OPT      ?= -O2
SAN      ?=
# CFLAGS, CPPFLAGS and LDFLAGS are the user's (or dpkg-buildflags'); ours
# come first.
CFLAGS   ?= -g $(OPT)
VMACD_CFLAGS := -std=gnu11 $(SAN) -Wall -Wextra -Wshadow \
            -Wstrict-prototypes -Wmissing-prototypes -Werror $(CFLAGS)
VMACD_CPPFLAGS := -Iinclude -isystem $(OVS_SRC) -isystem $(OVS_SRC)/include \
            -isystem $(OVS_SRC)/lib -include $(OVS_SRC)/config.h \
            -DVMACD_VERSION='"$(VERSION)"' $(CPPFLAGS)
LDLIBS   := $(OVS_LIBS) -lev -ljansson -lmicrohttpd -lcap-ng -lunbound \
            -lssl -lcrypto -lsystemd -latomic -lm -lpthread -lrt

# What building needs, installed and built once (one target, so that
# `make -jN` runs ovs-scripts/deps.sh once): the stamp is touched after
# deps.sh succeeded.
DEPS_STAMP := $(BUILD)/.deps-build

# vmacctl (the CLI) is its own program in utilities/ (as OVS keeps its
# utilities apart from lib/): its files stay out of libvmacd.
VMACCTL_SRCS := $(wildcard utilities/vmacctl*.c)
VMACCTL_OBJS := $(VMACCTL_SRCS:utilities/%.c=$(BUILD)/obj/utilities/%.o)
LIB_SRCS := $(filter-out controller/main.c, $(wildcard controller/*.c))
LIB_OBJS := $(LIB_SRCS:controller/%.c=$(BUILD)/obj/%.o)
# Public headers in include/, private ones next to their .c files.
HDRS     := $(wildcard include/*.h controller/*.h)
LIBVMACD := $(BUILD)/libvmacd.a

UNIT_SRCS  := $(wildcard tests/unit/test_*.c)
UNIT_BINS  := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
TEST_HELPERS := $(filter-out $(UNIT_SRCS),$(wildcard tests/unit/*.c))

BINS := $(BUILD)/bin/vmacd $(if $(VMACCTL_SRCS),$(BUILD)/bin/vmacctl)

# Man pages: one scdoc source each in man/.
MAN_SRCS := $(wildcard man/*.scd)
MANS     := $(MAN_SRCS:man/%.scd=$(BUILD)/man/%)
# The systemd unit, with the install paths filled in.
UNIT     := $(BUILD)/vmacd.service

.SECONDEXPANSION:

.PHONY: all deps deps-unit deps-check deps-check-memory deps-demo deps-bench \
        deps-fuzz deps-deb check unit system check-memory demo bench clean format \
        distclean install uninstall deb man golden

# `make` builds what gets installed; the unit tests are built by `make unit`
# (and `make check`), which also installs cmocka.
all: $(BINS) $(MANS) $(UNIT)

$(DEPS_STAMP): ovs-scripts/deps.sh
	@bash ovs-scripts/deps.sh build
	@mkdir -p $(dir $@)
	@touch $@

deps: $(DEPS_STAMP)

# The tools of the other targets; after the build's, never at the same
# time (one apt-get at a time).
deps-unit deps-check deps-check-memory deps-demo deps-bench deps-fuzz \
        deps-deb: $(DEPS_STAMP)
	@bash ovs-scripts/deps.sh $(@:deps-%=%)

$(OVS_LIBS): | $(DEPS_STAMP)

$(BUILD)/obj/%.o: controller/%.c $(HDRS) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(VMACD_CPPFLAGS) $(VMACD_CFLAGS) -c -o $@ $<

$(BUILD)/obj/utilities/%.o: utilities/%.c $(wildcard utilities/*.h) \
                            | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(VMACD_CPPFLAGS) $(VMACD_CFLAGS) -c -o $@ $<

$(LIBVMACD): $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/bin/vmacd: $(BUILD)/obj/main.o $(LIBVMACD) $(OVS_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(VMACD_CFLAGS) $(LDFLAGS) -o $@ $(BUILD)/obj/main.o $(LIBVMACD) \
	    $(LDLIBS)

$(BUILD)/bin/vmacctl: $(VMACCTL_OBJS) $(OVS_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(VMACD_CFLAGS) $(LDFLAGS) -o $@ $(VMACCTL_OBJS) $(LDLIBS) -lcurl

$(BUILD)/tests/%: tests/unit/%.c $(TEST_HELPERS) $(LIBVMACD) \
                  $(wildcard tests/unit/*.h) $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(VMACD_CPPFLAGS) -Itests/unit -Icontroller $(VMACD_CFLAGS) $(LDFLAGS) -o $@ \
	    $< $(TEST_HELPERS) $(LIBVMACD) $(LDLIBS) -lcmocka

$(BUILD)/man/%: man/%.scd | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	scdoc < $< > $@.tmp || { rm -f $@.tmp; exit 1; }
	mv $@.tmp $@

man: $(MANS)

# Install layout.  PREFIX for the programs, man pages, docs and the unit;
# the configuration is in SYSCONFDIR (/etc), whatever PREFIX says.
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
SBINDIR    ?= $(PREFIX)/sbin
DATADIR    ?= $(PREFIX)/share
MANDIR     ?= $(DATADIR)/man
DOCDIR     ?= $(DATADIR)/doc/vmacd
BASHCOMPDIR ?= $(DATADIR)/bash-completion/completions
UNITDIR    ?= $(PREFIX)/lib/systemd/system
SYSCONFDIR ?= /etc
# INSTALL_CONFIG=no leaves SYSCONFDIR alone (the Debian package's postinst
# puts the config in place).
INSTALL_CONFIG ?= yes
CONFIG     := $(SYSCONFDIR)/vmacd/vmacd.json
EXAMPLE    := $(DATADIR)/vmacd/vmacd.example.json
DOCS       := README.md docs/api.md docs/config.md
INSTALL    ?= install
# build/man/vmacd.8 -> MANDIR/man8/vmacd.8
INSTALLED_MANS = $(foreach m,$(MANS),$(MANDIR)/man$(subst .,,$(suffix \
                 $(m)))/$(notdir $(m)))

$(UNIT): systemd/vmacd.service.in VERSION
	@mkdir -p $(dir $@)
	sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
	    $< > $@.tmp && mv $@.tmp $@

# The unit file depends on the install paths: rebuild it for every install.
install: all
	@rm -f $(UNIT) && $(MAKE) --no-print-directory $(UNIT)
	$(INSTALL) -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) \
	    $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
	    $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(UNITDIR) \
	    $(DESTDIR)$(DOCDIR) $(DESTDIR)$(DATADIR)/vmacd
	$(INSTALL) -m 0755 $(BUILD)/bin/vmacd $(DESTDIR)$(SBINDIR)/vmacd
	$(INSTALL) -m 0755 $(BUILD)/bin/vmacctl $(DESTDIR)$(BINDIR)/vmacctl
	$(INSTALL) -m 0644 $(filter %.5,$(MANS)) $(DESTDIR)$(MANDIR)/man5/
	$(INSTALL) -m 0644 $(filter %.8,$(MANS)) $(DESTDIR)$(MANDIR)/man8/
	$(INSTALL) -m 0644 vmacctl.bash-completion \
	    $(DESTDIR)$(BASHCOMPDIR)/vmacctl
	$(INSTALL) -m 0644 $(UNIT) $(DESTDIR)$(UNITDIR)/vmacd.service
	$(INSTALL) -m 0644 $(DOCS) $(DESTDIR)$(DOCDIR)/
	$(INSTALL) -m 0644 flows/README.md $(DESTDIR)$(DOCDIR)/flows.md
	$(INSTALL) -m 0644 vmacd.example.json $(DESTDIR)$(EXAMPLE)
ifeq ($(INSTALL_CONFIG),yes)
	$(INSTALL) -d -m 0755 $(DESTDIR)$(SYSCONFDIR)/vmacd
	@if [ -e $(DESTDIR)$(CONFIG) ]; then \
	    echo "install: keeping $(DESTDIR)$(CONFIG)"; \
	else \
	    echo "$(INSTALL) -m 0640 vmacd.example.json $(DESTDIR)$(CONFIG)"; \
	    $(INSTALL) -m 0640 vmacd.example.json $(DESTDIR)$(CONFIG); \
	fi
endif

# Removes what `make install` installed.  The configuration goes only when
# it is still the example (vmacd writes API changes to it).
uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/vmacd $(DESTDIR)$(BINDIR)/vmacctl \
	    $(addprefix $(DESTDIR),$(INSTALLED_MANS)) \
	    $(DESTDIR)$(BASHCOMPDIR)/vmacctl $(DESTDIR)$(UNITDIR)/vmacd.service \
	    $(addprefix $(DESTDIR)$(DOCDIR)/,$(notdir $(DOCS)) flows.md)
	@if [ -f $(DESTDIR)$(CONFIG) ] && [ -f $(DESTDIR)$(EXAMPLE) ] \
	    && cmp -s $(DESTDIR)$(CONFIG) $(DESTDIR)$(EXAMPLE); then \
	    echo "rm -f $(DESTDIR)$(CONFIG)"; rm -f $(DESTDIR)$(CONFIG) \
	        $(DESTDIR)$(CONFIG).base $(DESTDIR)$(CONFIG).journal.*; \
	elif [ -e $(DESTDIR)$(CONFIG) ]; then \
	    echo "uninstall: keeping $(DESTDIR)$(CONFIG) (changed)"; \
	fi
	rm -f $(DESTDIR)$(EXAMPLE)
	-rmdir $(DESTDIR)$(DATADIR)/vmacd $(DESTDIR)$(DOCDIR) \
	    $(DESTDIR)$(SYSCONFDIR)/vmacd 2>/dev/null

# The Debian package, built in a copy of the tree (build/deb/) from Debian
# packages only; see debian/ and ovs-scripts/deb.sh.
deb: deps-deb
	bash ovs-scripts/deb.sh

# flows/pipeline.txt and flows/pipeline-vlan.txt anew from flowgen (review
# the diff before committing).
golden: $(BUILD)/tests/test_flowgen $(BUILD)/tests/test_flowgen_vlan
	VMACD_UPDATE_GOLDEN=1 $(BUILD)/tests/test_flowgen
	VMACD_UPDATE_GOLDEN=1 $(BUILD)/tests/test_flowgen_vlan

# Unit tests: cmocka, one binary per tests/unit/test_*.c.
unit: deps-unit
	@$(MAKE) --no-print-directory $(UNIT_BINS)
	@bash tests/run-unit.sh $(UNIT_BINS)

# System tests: pytest against a sandboxed ovs-vswitchd (needs root).
# SYSTEM_TESTS narrows the run (a file, or file::test).
SYSTEM_TESTS ?= tests/system
system: deps-check
	@$(MAKE) --no-print-directory all
	$(PYTHON) -m pytest -p no:cacheprovider $(SYSTEM_TESTS) $(PYTEST_ARGS)

check: deps-check
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) fuzz-smoke
	$(MAKE) system

# The unit and system suites under valgrind.
check-memory: deps-check-memory
	$(MAKE) all $(UNIT_BINS)
	VALGRIND=1 bash tests/run-unit.sh $(UNIT_BINS)
	VMACD_VALGRIND=1 $(PYTHON) -m pytest -p no:cacheprovider $(SYSTEM_TESTS) \
	    $(PYTEST_ARGS)

demo: deps-demo
	$(MAKE) $(BINS)
	bash ovs-scripts/demo.sh $(DEMO_ARGS)

format:
	clang-format -i controller/*.[ch] include/*.h utilities/*.[ch] \
	    tests/unit/*.c

clean:
	rm -rf $(BUILD)/obj $(BUILD)/bin $(BUILD)/tests $(BUILD)/man \
	    $(BUILD)/deb $(LIBVMACD) $(UNIT)

distclean:
	rm -rf $(BUILD)

# Fuzzing (libFuzzer, clang), each harness for FUZZ_SECONDS: the
# validation behind the API's writes (config_parse_json and cfgedit), and
# the OpenFlow receive path (ofchan, ofswitch, the reply decoders).
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_FLAGS   := -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined \
                -fno-sanitize-recover=all
# Each harness: its sources; FUZZ_RUNS gives its maximum input and seeds.
FUZZ_NAMES := write ofmsg http
FUZZ_write_SRCS := tests/fuzz/fuzz_write.c controller/config.c \
                   controller/config-check.c controller/config-alias.c \
                   controller/config-json.c controller/config-index.c \
                   controller/config-ovsdb.c controller/config-bridge.c \
                   controller/cfgedit.c controller/probemeter.c \
                   controller/verror.c controller/ifname.c
# The OpenFlow receive path: framing, handshake, PORT_STATUS, the
# decoders.
FUZZ_ofmsg_SRCS := tests/fuzz/fuzz_ofmsg.c controller/ofchan.c \
                   controller/ofswitch.c controller/oflimit.c \
                   controller/tlsio.c controller/ifname.c
# The API's request handling: framing, front, MHD, routing, path checks.
FUZZ_http_SRCS := tests/fuzz/fuzz_http.c controller/api.c \
                  controller/api-events.c controller/api-front.c \
                  controller/api-http.c controller/api-socket.c \
                  controller/tlsio.c
FUZZ_RUNS := write:4096:tests/fuzz/seeds ofmsg:8192:tests/fuzz/seeds-ofmsg \
             http:8192:tests/fuzz/seeds-http
FUZZ_BINS := $(FUZZ_NAMES:%=$(BUILD)/fuzz/fuzz_%)

.PHONY: fuzz fuzz-smoke

$(BUILD)/fuzz/fuzz_%: $$(FUZZ_%_SRCS) $(HDRS) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(VMACD_CPPFLAGS) -Icontroller $(FUZZ_FLAGS) -o $@ \
	    $(FUZZ_$*_SRCS) $(LDLIBS)

# Runs every harness for FUZZ_SECONDS on its seeds and a corpus kept in
# build/fuzz/; a crash or a broken invariant fails the target.
fuzz: deps-fuzz
	$(MAKE) $(FUZZ_BINS)
	@for run in $(FUZZ_RUNS); do \
	    bash tests/fuzz/run.sh $(BUILD)/fuzz $$run $(FUZZ_SECONDS) \
	        || exit 1; \
	done

# What "make check" runs: every harness for a short time.
FUZZ_SMOKE_SECONDS ?= 30
fuzz-smoke:
	$(MAKE) fuzz FUZZ_SECONDS=$(FUZZ_SMOKE_SECONDS)

# Benchmarks: failover outage, controller reaction, scale, API and ARP
# responder figures, side by side with keepalived on the same OVS topology,
# scale figures side by side with a baseline vmacd (bench/README.md).  Each
# part runs bounded in time and leaves nothing running.  QUICK=1: fewer
# runs, 10 and 1,000 aliases only, about 4 min.
BENCH_BINS := $(BUILD)/bench/prober $(BUILD)/bench/apiload \
              $(BUILD)/bench/arpbench

$(BUILD)/bench/%: bench/%.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -g -O2 -Wall -Wextra -Wshadow -Werror -o $@ $< \
	    -lpthread

bench: deps-bench
	$(MAKE) $(BINS) $(BENCH_BINS)
	$(PYTHON) bench/bench.py $(if $(filter 1 yes true,$(QUICK)),--quick) \
	    $(BENCH_ARGS)
