# dpm — build, test, fuzz, bench, demo.
#   make            build/dpm and build/dpm-test-apiserver
#   make test       everything CI checks (unit, cases, e2e; then again under ASan+UBSan)
#   make fuzz       libFuzzer targets (clang), FUZZ_SECONDS each
#   make bench      benchmarks in bench/
#   make demo       installs missing packages, builds, runs the demo
#   make demo-down  stops what an interrupted demo left running
#   make docs-cli   rewrites docs/cli.md from dpm's --help (tests/docs checks it)
#   make image      the container image as an OCI layout (BUILD/image/oci,
#                   dpm:VERSION), without a container daemon
#   make real-k8s   builds kube-apiserver + kube-controller-manager 1.20 from
#                   Debian's source, once (cached in ~/.cache/dpm/real-k8s)
#   make e2e-real   the e2e suites against that real control plane
# Variables: CC (gcc or clang), BUILD (output dir), SAN=1 (ASan+UBSan build).

CC ?= cc
BUILD ?= build
SAN ?=
FUZZ_SECONDS ?= 20
VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)

PKGS := yaml-0.1 jansson libcurl openssl libwebsockets zlib
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

# One warning set for all code (shipped, tests, fuzz targets, e2e tools);
# test code alone may leave parameters unused (cmocka's state, callbacks).
WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wconversion -Wsign-conversion -Wformat=2 -Wvla -Wwrite-strings -Wundef -Wpointer-arith
TEST_WARN := -Wno-unused-parameter
BASE_CFLAGS := -std=c11 -D_GNU_SOURCE -DDPM_VERSION='"$(VERSION)"' -Iinclude $(PKG_CFLAGS) $(WARN) -g -MMD -MP
OPT := -O2
ifeq ($(SAN),1)
OPT := -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
SAN_LDFLAGS := -fsanitize=address,undefined
endif
CFLAGS ?=
ALL_CFLAGS := $(BASE_CFLAGS) $(OPT) $(CFLAGS)
LDLIBS := $(PKG_LIBS) -lpthread -lm

LIB_SRC := $(wildcard lib/*/*.c)
DPM_SRC := $(wildcard cmd/*.c operator/*.c webhook/*.c)
APISERVER_SRC := $(wildcard tests/apiserver/*.c)
# Unit tests: tests/unit/<folder>/test_<name>.c, one binary each,
# $(BUILD)/tests/test_<name> (names are unique across folders); the folder
# mirrors lib/ (util, format, ..., operator), or is apiserver/ (the in-tree
# server's modules), webhook/ (the webhook's), it/ (against a running
# dpm-test-apiserver).  tests/unit/support/*.c is linked into every one.
UNIT_SRC := $(wildcard tests/unit/*/test_*.c)
# A test left at the top would silently not be built: stop instead.
ifneq ($(wildcard tests/unit/test_*.c),)
$(error $(wildcard tests/unit/test_*.c): a unit test goes into a folder of tests/unit/ (docs/hacking.md, Tests))
endif
UNIT_SUPPORT_SRC := $(wildcard tests/unit/support/*.c)
BENCH_SRC := $(wildcard bench/*.c)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
# Helper programs of the e2e suites (raw HTTP client, webhook driver).
TOOL_SRC := $(wildcard tests/e2e/webhook/*.c)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
LIB_OBJ := $(call obj,$(LIB_SRC))
DPM_OBJ := $(call obj,$(DPM_SRC))
APISERVER_OBJ := $(call obj,$(APISERVER_SRC))
UNIT_SUPPORT_OBJ := $(call obj,$(UNIT_SUPPORT_SRC))
UNIT_BIN := $(addprefix $(BUILD)/tests/,$(basename $(notdir $(UNIT_SRC))))
ifneq ($(words $(UNIT_BIN)),$(words $(sort $(UNIT_BIN))))
$(error two tests/unit/*/test_<name>.c share a name: $(sort $(foreach b,$(UNIT_BIN),$(if $(filter-out 1,$(words $(filter $(b),$(UNIT_BIN)))),$(notdir $(b))))))
endif
BENCH_BIN := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))
FUZZ_BIN := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRC))
TOOL_BIN := $(patsubst tests/e2e/webhook/%.c,$(BUILD)/tools/%,$(TOOL_SRC))

.PHONY: all unit test test-fast fuzz fuzz-build bench demo demo-down image docs-cli clean deps real-k8s e2e-real format
# Keep the objects of pattern chains (unit tests, benches): no rebuild each run.
.SECONDARY:
all: $(BUILD)/dpm $(BUILD)/dpm-test-apiserver

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(XWARN) -c $< -o $@
$(BUILD)/obj/tests/%.o $(BUILD)/obj/bench/%.o: XWARN := $(TEST_WARN)

$(BUILD)/libdpm.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/dpm: $(DPM_OBJ) $(BUILD)/libdpm.a
	$(CC) $(SAN_LDFLAGS) -o $@ $(DPM_OBJ) $(BUILD)/libdpm.a $(LDLIBS)

$(BUILD)/dpm-test-apiserver: $(APISERVER_OBJ) $(BUILD)/libdpm.a
	$(CC) $(SAN_LDFLAGS) -o $@ $(APISERVER_OBJ) $(BUILD)/libdpm.a $(LDLIBS)

# Test code also finds the support headers and, from the repository root,
# the in-tree server's and the webhook's private headers
# ("tests/apiserver/store.h", "webhook/webhook.h").
TEST_INC := -I. -Itests/unit/support
$(BUILD)/obj/tests/unit/%.o: tests/unit/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(XWARN) $(TEST_INC) -c $< -o $@

# Unit tests link the whole library; by folder, tests of the in-tree API
# server (apiserver/) also link its objects, tests of the webhook (webhook/)
# its objects (all but main.o, the command line).
APISERVER_LIB_OBJ := $(filter-out %/main.o,$(APISERVER_OBJ))
WEBHOOK_LIB_OBJ := $(filter-out %/main.o,$(call obj,$(wildcard webhook/*.c)))
UNIT_LINK_apiserver := $(APISERVER_LIB_OBJ)
UNIT_LINK_webhook := $(WEBHOOK_LIB_OBJ)
UNIT_LINK_cmd := $(BUILD)/obj/cmd/opts.o
# unit_rule(SRC): the binary of tests/unit/FOLDER/test_NAME.c.
define unit_rule
$(BUILD)/tests/$(basename $(notdir $(1))): $(call obj,$(1)) $(UNIT_SUPPORT_OBJ) $(UNIT_LINK_$(word 3,$(subst /, ,$(1)))) $(BUILD)/libdpm.a
	@mkdir -p $$(dir $$@)
	$$(CC) $$(SAN_LDFLAGS) -o $$@ $$^ $$(LDLIBS) -lcmocka
endef
$(foreach src,$(UNIT_SRC),$(eval $(call unit_rule,$(src))))

$(BUILD)/tools/%: $(BUILD)/obj/tests/e2e/webhook/%.o $(BUILD)/libdpm.a
	@mkdir -p $(dir $@)
	$(CC) $(SAN_LDFLAGS) -o $@ $< $(BUILD)/libdpm.a $(LDLIBS)

# The fuzz targets without libFuzzer: each linked with tests/fuzz/replay.c
# (a main() that runs the inputs it is given once) and built like the rest
# of the tree (same compiler, warnings, SAN), so that `make test` replays
# the checked-in corpora (tests/fuzz/run-suite.sh) under gcc and under
# ASan+UBSan.  fuzz_as_* link the in-tree server's objects, fuzz_wh_* the
# webhook's, as their libFuzzer builds do.
FUZZ_REPLAY_BIN := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz-replay/%,$(FUZZ_SRC))
FUZZ_REPLAY_OBJ := $(call obj,tests/fuzz/replay.c)
$(BUILD)/fuzz-replay/fuzz_as_%: $(BUILD)/obj/tests/fuzz/fuzz_as_%.o $(FUZZ_REPLAY_OBJ) $(APISERVER_LIB_OBJ) $(BUILD)/libdpm.a
	@mkdir -p $(dir $@)
	$(CC) $(SAN_LDFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/fuzz-replay/fuzz_wh_%: $(BUILD)/obj/tests/fuzz/fuzz_wh_%.o $(FUZZ_REPLAY_OBJ) $(WEBHOOK_LIB_OBJ) $(BUILD)/libdpm.a
	@mkdir -p $(dir $@)
	$(CC) $(SAN_LDFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/fuzz-replay/%: $(BUILD)/obj/tests/fuzz/%.o $(FUZZ_REPLAY_OBJ) $(BUILD)/libdpm.a
	@mkdir -p $(dir $@)
	$(CC) $(SAN_LDFLAGS) -o $@ $^ $(LDLIBS)

# Every test binary of the build: the unit tests, the corpus replayers and
# the e2e tools.
unit: $(UNIT_BIN) $(FUZZ_REPLAY_BIN) $(TOOL_BIN)

$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(BUILD)/libdpm.a
	@mkdir -p $(dir $@)
	$(CC) $(SAN_LDFLAGS) -o $@ $< $(BUILD)/libdpm.a $(LDLIBS)

# The whole test suite, as CI runs it: normal build first, then ASan+UBSan.
test: all unit
	$(MAKE) --no-print-directory SAN=1 BUILD=build/asan all unit
	tests/run.sh build build/asan

# Only the normal build (quicker while developing).
test-fast: all unit
	tests/run.sh build

# libFuzzer: the library (and, for fuzz_as_* targets, the in-tree API
# server's modules) is compiled once with clang and the fuzzer
# instrumentation (-fsanitize=fuzzer-no-link), then each target links it.
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -DDPM_VERSION='"$(VERSION)"' -Iinclude $(PKG_CFLAGS) $(WARN) -g -O1 \
	-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -DDPM_FUZZING
FUZZ_LDFLAGS := -fsanitize=fuzzer,address,undefined
APISERVER_FUZZ_SRC := $(filter-out tests/apiserver/main.c,$(APISERVER_SRC))
FUZZ_LIB_OBJ := $(patsubst %.c,$(BUILD)/fuzzobj/%.o,$(LIB_SRC))
FUZZ_AS_OBJ := $(patsubst %.c,$(BUILD)/fuzzobj/%.o,$(APISERVER_FUZZ_SRC))
FUZZ_TARGET_OBJ := $(patsubst %.c,$(BUILD)/fuzzobj/%.o,$(FUZZ_SRC))
# A static pattern rule: these objects are explicit targets, so make builds
# them as prerequisites of the pattern rules below.
$(FUZZ_LIB_OBJ) $(FUZZ_AS_OBJ) $(FUZZ_TARGET_OBJ): $(BUILD)/fuzzobj/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) $(XWARN) -MMD -MP -c $< -o $@
$(BUILD)/fuzzobj/tests/%.o: XWARN := $(TEST_WARN)
$(BUILD)/fuzz/fuzz_as_%: $(BUILD)/fuzzobj/tests/fuzz/fuzz_as_%.o $(FUZZ_LIB_OBJ) $(FUZZ_AS_OBJ)
	@mkdir -p $(dir $@)
	clang $(FUZZ_LDFLAGS) -o $@ $^ $(LDLIBS)
# fuzz_wh_* targets: the webhook's connection framing (webhook/conn.c) too.
FUZZ_WH_OBJ := $(patsubst %.c,$(BUILD)/fuzzobj/%.o,webhook/conn.c)
$(FUZZ_WH_OBJ): $(BUILD)/fuzzobj/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@
$(BUILD)/fuzz/fuzz_wh_%: $(BUILD)/fuzzobj/tests/fuzz/fuzz_wh_%.o $(FUZZ_LIB_OBJ) $(FUZZ_WH_OBJ)
	@mkdir -p $(dir $@)
	clang $(FUZZ_LDFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/fuzz/%: $(BUILD)/fuzzobj/tests/fuzz/%.o $(FUZZ_LIB_OBJ)
	@mkdir -p $(dir $@)
	clang $(FUZZ_LDFLAGS) -o $@ $^ $(LDLIBS)
fuzz-build: $(FUZZ_BIN)
fuzz: fuzz-build
	tests/fuzz/run.sh $(BUILD) $(FUZZ_SECONDS)

bench: all $(BENCH_BIN)
	bench/run.sh $(BUILD)

deps:
	.ci/install-deps

demo: deps
	$(MAKE) --no-print-directory all
	examples/demo.sh $(BUILD)

demo-down:
	examples/demo.sh --down $(BUILD)

# mmdebstrap + umoci (apt); the base root filesystem is cached in
# ~/.cache/dpm/image (40-95 s cold, 3-10 s warm). docs/operations.md.
image: all
	image/build.sh $(BUILD)

docs-cli: $(BUILD)/dpm
	tests/docs/gen-cli.sh $(BUILD)/dpm > docs/cli.md

# A real Kubernetes 1.20 control plane (docs/real-cluster.md): the build is
# cached outside the checkout and takes 10-20 minutes cold on two cores.
real-k8s:
	nice -n 10 tests/e2e/support/build-real-k8s.sh

# The e2e suites against it (started and stopped here; state in
# build/real-cluster, removed by `down`).
e2e-real: all real-k8s
	tests/e2e/run-real.sh $(BUILD)

# The house style (.clang-format) over every C file; tests/lint checks it.
format:
	git ls-files '*.c' '*.h' | xargs clang-format -i

clean:
	rm -rf $(BUILD) build

-include $(shell find $(BUILD)/obj $(BUILD)/fuzzobj -name '*.d' 2>/dev/null)
