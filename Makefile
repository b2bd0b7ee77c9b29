# repartir -- one GNU Makefile.
#
#   make            library (build/librepartir.a + .so) and build/repartir
#   make run        install missing Debian packages, build, start repartir
#   make test       install missing packages, then every test: unit suites,
#                   integration scripts, ASan+UBSan, and TSan for the
#                   concurrent suites
#   make check-neon the SIMD suite cross-built for AArch64, under qemu (mk/neon.mk)
#   make bench      benchmarks beside their anchors (oneTBB, OpenMP)
#   make install    PREFIX=/usr/local DESTDIR= honoured
#   make SANITIZE=address,undefined ...   builds into build-asan/
#   make SANITIZE=thread ...              builds into build-tsan/
#   make V=1 ...    show full command lines

VERSION   := 0.1.0
SOVERSION := 0

PKG_CONFIG ?= pkg-config
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
CFLAGS     ?= -O2 -g
CXXFLAGS   ?= -O2 -g
SANITIZE   ?=

comma := ,
san_list := $(subst $(comma), ,$(SANITIZE))
ifeq ($(SANITIZE),)
  BUILD := build
else ifneq ($(filter thread,$(san_list)),)
  BUILD := build-tsan
else ifneq ($(filter address,$(san_list)),)
  BUILD := build-asan
else
  BUILD := build-san
endif
ifneq ($(SANITIZE),)
  SAN_FLAGS := -fsanitize=$(SANITIZE) -fno-sanitize-recover=all -fno-omit-frame-pointer
endif

ifeq ($(V),1)
  Q :=
  say := @true
else
  Q := @
  say := @printf '  %-7s %s\n'
endif

WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
        -Wformat=2 -Werror
ALL_CPPFLAGS := -D_GNU_SOURCE -DRP_VERSION='"$(VERSION)"' -Iinclude -I. $(CPPFLAGS)
ALL_CFLAGS   := -std=c17 $(WARN) -fPIC -fvisibility=hidden -pthread -MMD -MP \
                $(SAN_FLAGS) $(CFLAGS)
ALL_LDFLAGS  := -pthread $(SAN_FLAGS) $(LDFLAGS)
LIBS          = -lm $(STORE_LIBS) $(GPU_LIBS)

CUNIT_CFLAGS = $(shell $(PKG_CONFIG) --cflags cunit)
CUNIT_LIBS   = $(shell $(PKG_CONFIG) --libs cunit)
TBB_CFLAGS   = $(shell $(PKG_CONFIG) --cflags tbb)
TBB_LIBS     = $(shell $(PKG_CONFIG) --libs tbb)
OPENBLAS_CFLAGS = $(shell $(PKG_CONFIG) --cflags openblas)
OPENBLAS_LIBS   = $(shell $(PKG_CONFIG) --libs openblas)
STORE_CFLAGS = $(shell $(PKG_CONFIG) --cflags sqlite3 libzstd libcrypto libcjson)
STORE_LIBS   = $(shell $(PKG_CONFIG) --libs sqlite3 libzstd libcrypto libcjson) \
               $(shell $(PKG_CONFIG) --libs libwebsockets libssl)
CJSON_CFLAGS = $(shell $(PKG_CONFIG) --cflags libcjson)
CJSON_LIBS   = $(shell $(PKG_CONFIG) --libs libcjson)
# The GPU executor: the Vulkan loader, and the Khronos SPIR-V validator
# (a static C++ library, hence libstdc++) for user shaders.
GPU_LIBS     = $(shell $(PKG_CONFIG) --libs vulkan) -lSPIRV-Tools -lstdc++
GLSLANG     ?= glslangValidator
CURSES_CFLAGS = $(shell $(PKG_CONFIG) --cflags ncursesw)
CURSES_LIBS   = $(shell $(PKG_CONFIG) --libs ncursesw)

LIB_SRCS   := $(wildcard engine/*.c engine/sched/*.c engine/exec/*.c engine/simd/*.c \
                         engine/gpu/*.c ckpt/*.c net/*.c)
CLI_SRCS   := $(wildcard cli/*.c)
TUI_SRCS   := $(wildcard tui/*.c)
THEME_FILES := $(sort $(wildcard themes/*.theme))
TEST_SRCS  := $(wildcard tests/*.c)
BENCH_COMMON := bench/common.c

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(filter %.c,$(1))) \
      $(patsubst %.cpp,$(BUILD)/obj/%.o,$(filter %.cpp,$(1)))

LIB_OBJS  := $(call obj,$(LIB_SRCS))
CLI_OBJS  := $(call obj,$(CLI_SRCS))
# The console (tui/) is an internal archive: the library stays free of curses.
TUI_OBJS  := $(call obj,$(TUI_SRCS)) $(BUILD)/obj/gen/themes.o
TUI_LIB   := $(BUILD)/libtui.a
TEST_OBJS := $(call obj,$(TEST_SRCS))

STATIC_LIB := $(BUILD)/librepartir.a
SHARED_LIB := $(BUILD)/librepartir.so.$(SOVERSION)
TEST_BIN   := $(BUILD)/tests/run_tests
EXAMPLE_BINS := $(patsubst examples/%.c,$(BUILD)/examples/%,$(wildcard examples/*.c))

# Benchmarks: each program runs ours and its anchors, in child processes,
# in the same run (bench/README.md).
BENCHES := fib pfor idle spawn ckpt submit console remote simd gpu
bench_fib_srcs  := bench/bench_fib.c bench/anchors/fib_omp.c bench/anchors/fib_tbb.cpp
bench_pfor_srcs := bench/bench_pfor.c bench/anchors/pfor_omp.c
bench_idle_srcs := bench/bench_idle.c bench/anchors/idle_omp.c bench/anchors/idle_tbb.cpp
bench_spawn_srcs := bench/bench_spawn.c
bench_ckpt_srcs := bench/bench_ckpt.c
bench_submit_srcs := bench/bench_submit.c
bench_console_srcs := bench/bench_console.c
bench_remote_srcs := bench/bench_remote.c bench/anchors/tls_pingpong.c bench/anchors/lws_echo.c
bench_simd_srcs := bench/bench_simd.c
bench_gpu_srcs := bench/bench_gpu.c
BENCH_BINS := $(addprefix $(BUILD)/bench/bench_,$(BENCHES))

.PHONY: FORCE all run test check check-concurrent check-integration check-neon bench \
        bench-build install uninstall clean deps fuzz
.DEFAULT_GOAL := all

all: $(STATIC_LIB) $(SHARED_LIB) $(BUILD)/librepartir.so $(BUILD)/repartir \
     $(BUILD)/repartir-worker $(BUILD)/tests/wsraw \
     $(BUILD)/repartir.pc $(EXAMPLE_BINS)

deps:
	$(Q)tools/deps.sh

run: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(BUILD)/repartir console --demo

# The whole suite, as CI runs it (.ci/run). Each sanitizer build lives in
# its own folder, so the three never mix.
test: deps
	$(Q)$(MAKE) --no-print-directory check check-integration
	$(Q)$(MAKE) --no-print-directory check-neon
	$(Q)$(MAKE) --no-print-directory SANITIZE=address,undefined check
	$(Q)$(MAKE) --no-print-directory SANITIZE=thread check-concurrent
	@echo "make test: all passed"

# Unit suites of this build; the concurrent ones a second time with the
# portable fence protocol instead of membarrier (see docs/scheduler.md).
check: $(TEST_BIN) $(BUILD)/fuzz/replay_proto $(BUILD)/repartir-worker
	@echo "== unit suites ($(BUILD))"
	$(Q)$(TEST_BIN)
	@echo "== fuzz corpus through the protocol decoders ($(BUILD))"
	$(Q)$(BUILD)/fuzz/replay_proto fuzz/corpus/proto/*
	@echo "== concurrent suites, fence protocol ($(BUILD))"
	$(Q)REPARTIR_SCHED_FENCE=1 $(TEST_BIN) --concurrent

check-concurrent: $(TEST_BIN) $(BUILD)/repartir-worker
	@echo "== concurrent suites ($(BUILD))"
	$(Q)$(TEST_BIN) --concurrent
	$(Q)REPARTIR_SCHED_FENCE=1 $(TEST_BIN) --concurrent

check-integration: all
	@echo "== integration ($(BUILD))"
	$(Q)tests/integration/run.sh $(BUILD)

bench: deps
	$(Q)$(MAKE) --no-print-directory bench-build
	$(Q)for b in $(BENCHES); do $(BUILD)/bench/bench_$$b || exit 1; echo; done

bench-build: $(BENCH_BINS)

# ---- library ----

$(STATIC_LIB): $(LIB_OBJS)
	$(say) AR $@
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(SHARED_LIB): $(LIB_OBJS)
	$(say) LINK $@
	$(Q)$(CC) -shared -Wl,-soname,librepartir.so.$(SOVERSION) -Wl,--exclude-libs,ALL \
	    $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/librepartir.so: $(SHARED_LIB)
	$(Q)ln -sf librepartir.so.$(SOVERSION) $@

# The prefix is part of the file: regenerate whenever PREFIX & co. change.
pc_subst = sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
               -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|'

$(BUILD)/repartir.pc: repartir.pc.in FORCE
	$(Q)mkdir -p $(@D)
	$(Q)$(pc_subst) $< > $@.tmp
	$(Q)if cmp -s $@.tmp $@; then rm $@.tmp; else mv $@.tmp $@; fi

FORCE:

# ---- programs ----

$(BUILD)/repartir: $(CLI_OBJS) $(TUI_LIB) $(STATIC_LIB)
	$(say) LINK $@
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $(CLI_OBJS) $(TUI_LIB) $(STATIC_LIB) $(CURSES_LIBS) \
	    $(CJSON_LIBS) $(LIBS)

$(BUILD)/repartir-worker: $(BUILD)/obj/worker/main.o $(STATIC_LIB)
	$(say) LINK $@
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $< $(STATIC_LIB) $(LIBS)

# The independent client of the protocol tests: raw sockets, no lws, no
# net/proto.c (tests/integration/worker_proto.test.sh).
$(BUILD)/tests/wsraw: tests/integration/wsraw.c
	$(say) LINK $@
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< -lssl -lcrypto

$(BUILD)/obj/cli/%.o: ALL_CPPFLAGS += $(CJSON_CFLAGS) $(CURSES_CFLAGS)
$(BUILD)/obj/tui/%.o: ALL_CPPFLAGS += $(CJSON_CFLAGS) $(CURSES_CFLAGS)

$(TUI_LIB): $(TUI_OBJS)
	$(say) AR $@
	$(Q)rm -f $@ && $(AR) rcs $@ $^

# The shipped themes/*.theme, built into the binary (tools/embed_themes.sh).
$(BUILD)/gen/themes.c: tools/embed_themes.sh $(THEME_FILES)
	$(say) GEN $@
	$(Q)mkdir -p $(@D)
	$(Q)tools/embed_themes.sh $(THEME_FILES) > $@.tmp && mv $@.tmp $@

$(BUILD)/obj/gen/%.o: $(BUILD)/gen/%.c
	$(say) CC $<
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -c -o $@ $<

# The GPU kernels (engine/gpu/shaders/*.comp) as SPIR-V arrays in C,
# compiled at build time and embedded in the library. ewise.comp is built
# once per operator, sgemm.comp once more with 64 x 64 tiles.
SHADERS := saxpy reduce softmax sgemm
EWISE_OPS := add:0 sub:1 mul:2 div:3
SHADER_HDRS := $(patsubst %,$(BUILD)/gen/shaders/%.h,$(SHADERS) sgemm64 \
                 $(foreach o,$(EWISE_OPS),$(firstword $(subst :, ,$(o)))))

$(BUILD)/gen/shaders/sgemm64.h: engine/gpu/shaders/sgemm.comp
	$(say) GLSL $< [64]
	$(Q)mkdir -p $(@D)
	$(Q)$(GLSLANG) -V --target-env vulkan1.2 --quiet -DTILE=64 --vn rp__spv_sgemm64 -o $@.tmp $< \
	    && mv $@.tmp $@

$(BUILD)/gen/shaders/%.h: engine/gpu/shaders/%.comp
	$(say) GLSL $<
	$(Q)mkdir -p $(@D)
	$(Q)$(GLSLANG) -V --target-env vulkan1.2 --quiet --vn rp__spv_$* -o $@.tmp $< && mv $@.tmp $@

define ewise_rule
$(BUILD)/gen/shaders/$(1).h: engine/gpu/shaders/ewise.comp
	$$(say) GLSL $$< [$(1)]
	$$(Q)mkdir -p $$(@D)
	$$(Q)$$(GLSLANG) -V --target-env vulkan1.2 --quiet -DOP=$(2) --vn rp__spv_$(1) -o $$@.tmp $$< \
	    && mv $$@.tmp $$@
endef
$(foreach o,$(EWISE_OPS),$(eval $(call ewise_rule,$(firstword $(subst :, ,$(o))),$(lastword $(subst :, ,$(o))))))

$(BUILD)/gen/build_gen_shaders.h: $(SHADER_HDRS)
	$(Q)(echo '#include <stdint.h>'; for h in $(notdir $^); do echo "#include \"shaders/$$h\""; \
	    done) > $@.tmp && mv $@.tmp $@

$(BUILD)/obj/engine/gpu/kernels.o: $(BUILD)/gen/build_gen_shaders.h
$(BUILD)/obj/engine/gpu/kernels.o: ALL_CPPFLAGS += -I$(BUILD)/gen

# Examples use only the public API, as a user's program would.
$(BUILD)/examples/%: $(BUILD)/obj/examples/%.o $(STATIC_LIB)
	$(say) LINK $@
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $< $(STATIC_LIB) $(LIBS)

$(TEST_BIN): $(TEST_OBJS) $(TUI_LIB) $(STATIC_LIB)
	$(say) LINK $@
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $(TEST_OBJS) $(TUI_LIB) $(STATIC_LIB) $(CUNIT_LIBS) \
	    $(CURSES_LIBS) $(LIBS)

$(BUILD)/obj/tests/%.o: ALL_CPPFLAGS += $(CUNIT_CFLAGS) $(CURSES_CFLAGS)
$(BUILD)/obj/ckpt/%.o: ALL_CPPFLAGS += $(STORE_CFLAGS)
$(BUILD)/obj/engine/%.o: ALL_CPPFLAGS += $(STORE_CFLAGS)
$(BUILD)/obj/net/%.o: ALL_CPPFLAGS += $(STORE_CFLAGS)
# Each SIMD variant is built for its instruction set and runs only where
# cpuid finds it (engine/simd/simd.c).
$(BUILD)/obj/engine/simd/simd_avx2.o: ALL_CFLAGS += -mavx2 -mfma
$(BUILD)/obj/engine/simd/simd_avx512.o: ALL_CFLAGS += -mavx512f -mfma

# Benchmarks and their anchors: OpenMP and oneTBB only here.
$(BUILD)/obj/bench/%.o: ALL_CFLAGS += -fopenmp
$(BUILD)/obj/bench/%.o: ALL_CPPFLAGS += $(TBB_CFLAGS) $(CURSES_CFLAGS)
$(BUILD)/obj/bench/bench_simd.o: ALL_CPPFLAGS += $(OPENBLAS_CFLAGS)
$(BUILD)/bench/bench_simd: TBB_LIBS += $(OPENBLAS_LIBS)

.SECONDEXPANSION:
# Objects reached through pattern chains are kept, not deleted as intermediates.
.SECONDARY:
$(BUILD)/bench/bench_%: $$(call obj,$$(bench_$$*_srcs) $(BENCH_COMMON)) $(STATIC_LIB)
	$(say) LINK $@
	$(Q)mkdir -p $(@D)
	$(Q)$(CXX) $(ALL_LDFLAGS) -fopenmp -o $@ $(filter %.o,$^) $(STATIC_LIB) \
	    $(TBB_LIBS) $(LIBS)

# The console's benchmark draws real frames: it links the console too.
$(BUILD)/bench/bench_console: $(call obj,$(bench_console_srcs) $(BENCH_COMMON)) $(TUI_LIB) \
                              $(STATIC_LIB)
	$(say) LINK $@
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $(filter %.o,$^) $(TUI_LIB) $(STATIC_LIB) $(CURSES_LIBS) \
	    $(LIBS)

# ---- fuzzing (fuzz/) ----

# The fuzz target as a plain program that runs files through it: any
# compiler, every build (make check replays the corpus).
$(BUILD)/fuzz/replay_proto: $(BUILD)/obj/fuzz/fuzz_proto.o $(STATIC_LIB)
	$(say) LINK $@
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $< $(STATIC_LIB) $(LIBS)

$(BUILD)/obj/fuzz/%.o: ALL_CPPFLAGS += $(CJSON_CFLAGS)

# libFuzzer needs clang: `make fuzz [FUZZ_SECONDS=60]`. New inputs go to
# build-fuzz/corpus, crashes to build-fuzz/; fuzz/corpus/proto is the seed.
FUZZ_SECONDS ?= 60
FUZZ_CC ?= clang
build-fuzz/fuzz_proto: fuzz/fuzz_proto.c net/proto.c engine/alloc.c net/proto.h
	@mkdir -p build-fuzz
	$(say) FUZZ $@
	$(Q)$(FUZZ_CC) -std=c17 -g -O1 -D_GNU_SOURCE -DRP_LIBFUZZER -Iinclude -I. $(CJSON_CFLAGS) \
	    -fsanitize=fuzzer,address,undefined -o $@ fuzz/fuzz_proto.c net/proto.c engine/alloc.c \
	    $(CJSON_LIBS)

fuzz: build-fuzz/fuzz_proto
	@mkdir -p build-fuzz/corpus
	build-fuzz/fuzz_proto -max_total_time=$(FUZZ_SECONDS) -artifact_prefix=build-fuzz/ \
	    build-fuzz/corpus fuzz/corpus/proto

# ---- objects ----

$(BUILD)/obj/%.o: %.c
	$(say) CC $<
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/obj/%.o: %.cpp
	$(say) CXX $<
	$(Q)mkdir -p $(@D)
	$(Q)$(CXX) -std=c++17 $(ALL_CPPFLAGS) -Wall -Wextra -Werror -pthread -MMD -MP \
	    $(SAN_FLAGS) $(CXXFLAGS) -c -o $@ $<

include mk/neon.mk

# ---- install ----

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR)/pkgconfig \
	    $(DESTDIR)$(INCLUDEDIR)/repartir
	install -m 755 $(BUILD)/repartir $(DESTDIR)$(BINDIR)/repartir
	install -m 644 include/repartir.h $(DESTDIR)$(INCLUDEDIR)/repartir.h
	install -m 644 include/repartir/*.h $(DESTDIR)$(INCLUDEDIR)/repartir/
	install -m 644 $(STATIC_LIB) $(DESTDIR)$(LIBDIR)/librepartir.a
	install -m 755 $(SHARED_LIB) $(DESTDIR)$(LIBDIR)/librepartir.so.$(SOVERSION)
	ln -sf librepartir.so.$(SOVERSION) $(DESTDIR)$(LIBDIR)/librepartir.so
	install -m 644 $(BUILD)/repartir.pc $(DESTDIR)$(LIBDIR)/pkgconfig/repartir.pc

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/repartir $(DESTDIR)$(INCLUDEDIR)/repartir.h \
	    $(DESTDIR)$(LIBDIR)/librepartir.a $(DESTDIR)$(LIBDIR)/librepartir.so \
	    $(DESTDIR)$(LIBDIR)/librepartir.so.$(SOVERSION) \
	    $(DESTDIR)$(LIBDIR)/pkgconfig/repartir.pc
	rm -rf $(DESTDIR)$(INCLUDEDIR)/repartir

clean:
	rm -rf build build-asan build-tsan build-san build-fuzz

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
