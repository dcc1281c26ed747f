# vmacd: top-level build.  `make check` and `make demo` do their own set-up
# (Debian packages, libopenvswitch) through `make deps`.

BUILD    := build
OVS_SRC  := $(BUILD)/ovs/openvswitch
OVS_LIBS := $(BUILD)/ovs/libopenvswitch-vmacd.a \
            $(BUILD)/ovs/libopenvswitchavx512-vmacd.a
PYTHON   := /usr/bin/python3

CC       ?= gcc
OPT      ?= -O2
SAN      ?=
CFLAGS   := -std=gnu11 -g $(OPT) $(SAN) -Wall -Wextra -Wshadow \
            -Wstrict-prototypes -Wmissing-prototypes -Werror
CPPFLAGS := -Iinclude -isystem $(OVS_SRC) -isystem $(OVS_SRC)/include \
            -isystem $(OVS_SRC)/lib -include $(OVS_SRC)/config.h \
            -DVMACD_VERSION='"$(shell cat VERSION)"'
LDLIBS   := $(OVS_LIBS) -lev -ljansson -lmicrohttpd -lcap-ng -lunbound \
            -lssl -lcrypto -latomic -lm -lpthread -lrt

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

.SECONDEXPANSION:

.PHONY: all deps check unit system check-memory demo bench clean format \
        distclean

all: $(BINS) $(UNIT_BINS)

deps:
	@bash ovs-scripts/deps.sh

$(OVS_LIBS):
	@bash ovs-scripts/deps.sh

$(BUILD)/obj/%.o: controller/%.c $(HDRS) | $(OVS_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/obj/utilities/%.o: utilities/%.c $(wildcard utilities/*.h) \
                            | $(OVS_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(LIBVMACD): $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/bin/vmacd: $(BUILD)/obj/main.o $(LIBVMACD)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bin/vmacctl: $(VMACCTL_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS) -lcurl

$(BUILD)/tests/%: tests/unit/%.c $(TEST_HELPERS) $(LIBVMACD) \
                  $(wildcard tests/unit/*.h) $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Itests/unit -Icontroller $(CFLAGS) -o $@ $< \
	    $(TEST_HELPERS) \
	    $(LIBVMACD) $(LDLIBS) -lcmocka

# Unit tests: cmocka, one binary per tests/unit/test_*.c.
unit: $(UNIT_BINS)
	@bash tests/run-unit.sh $(UNIT_BINS)

# System tests: pytest against a sandboxed ovs-vswitchd (needs root).
# SYSTEM_TESTS narrows the run (a file, or file::test).
SYSTEM_TESTS ?= tests/system
system: $(BINS)
	$(PYTHON) -m pytest -p no:cacheprovider $(SYSTEM_TESTS) $(PYTEST_ARGS)

check: deps
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) fuzz-smoke
	$(MAKE) system

# The unit and system suites under valgrind.
check-memory: deps
	$(MAKE) all
	VALGRIND=1 bash tests/run-unit.sh $(UNIT_BINS)
	VMACD_VALGRIND=1 $(PYTHON) -m pytest -p no:cacheprovider $(SYSTEM_TESTS) \
	    $(PYTEST_ARGS)

demo: deps
	$(MAKE) $(BINS)
	bash ovs-scripts/demo.sh $(DEMO_ARGS)

format:
	clang-format -i controller/*.[ch] include/*.h utilities/*.[ch] \
	    tests/unit/*.c

clean:
	rm -rf $(BUILD)/obj $(BUILD)/bin $(BUILD)/tests $(LIBVMACD)

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
                   controller/config-json.c controller/cfgedit.c \
                   controller/probemeter.c
# The OpenFlow receive path: framing, handshake, PORT_STATUS, the
# decoders.
FUZZ_ofmsg_SRCS := tests/fuzz/fuzz_ofmsg.c controller/ofchan.c \
                   controller/ofswitch.c controller/oflimit.c \
                   controller/tlsio.c
# The API's request handling: framing, front, MHD, routing, path checks.
FUZZ_http_SRCS := tests/fuzz/fuzz_http.c controller/api.c \
                  controller/api-events.c controller/api-front.c \
                  controller/api-http.c controller/api-socket.c \
                  controller/tlsio.c
FUZZ_RUNS := write:4096:tests/fuzz/seeds ofmsg:8192:tests/fuzz/seeds-ofmsg \
             http:8192:tests/fuzz/seeds-http
FUZZ_BINS := $(FUZZ_NAMES:%=$(BUILD)/fuzz/fuzz_%)

.PHONY: fuzz fuzz-smoke

$(BUILD)/fuzz/fuzz_%: $$(FUZZ_%_SRCS) $(HDRS) | $(OVS_LIBS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) -Icontroller $(FUZZ_FLAGS) -o $@ \
	    $(FUZZ_$*_SRCS) $(LDLIBS)

# Runs every harness for FUZZ_SECONDS on its seeds and a corpus kept in
# build/fuzz/; a crash or a broken invariant fails the target.
fuzz: $(FUZZ_BINS)
	@for run in $(FUZZ_RUNS); do \
	    bash tests/fuzz/run.sh $(BUILD)/fuzz $$run $(FUZZ_SECONDS) \
	        || exit 1; \
	done

# What "make check" runs: every harness for a short time.
FUZZ_SMOKE_SECONDS ?= 30
fuzz-smoke:
	$(MAKE) fuzz FUZZ_SECONDS=$(FUZZ_SMOKE_SECONDS)

# Benchmarks: failover outage, controller reaction, scale, API and ARP
# responder figures, side by side with keepalived on the same OVS topology
# (bench/README.md).  QUICK=1: fewer runs, 1,000 aliases only, < 1 min.
BENCH_BINS := $(BUILD)/bench/prober $(BUILD)/bench/apiload \
              $(BUILD)/bench/arpbench

$(BUILD)/bench/%: bench/%.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -g -O2 -Wall -Wextra -Wshadow -Werror -o $@ $< \
	    -lpthread

bench: deps
	$(MAKE) $(BINS) $(BENCH_BINS)
	$(PYTHON) bench/bench.py $(if $(filter 1 yes true,$(QUICK)),--quick) \
	    $(BENCH_ARGS)
