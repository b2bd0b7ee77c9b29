# mk/neon.mk -- the NEON kernels (engine/simd/simd_neon.c) tested on any
# host: the SIMD engine and its suite (tests/test_simd.c) cross-built for
# AArch64 and run under qemu-user. Included by the Makefile; `make test`
# runs it.
#
#   make check-neon    build $(BUILD)/neon/test_simd, run it twice under
#                      qemu: REPARTIR_SIMD=neon, then =scalar
#
# Only what the kernels need is built (engine/simd/, engine/alloc.c), with
# tests/neon/ standing in for CUnit and its runner: an arm64 CUnit would
# take a multiarch (dpkg --add-architecture) install. The binary is
# static, so qemu needs no AArch64 root (-L). A missing cross compiler or
# qemu is an error, never a skip.

NEON_CC  ?= aarch64-linux-gnu-gcc
# qemu-user-static installs qemu-aarch64-static; qemu-user, qemu-aarch64.
NEON_QEMU ?= $(firstword $(foreach q,qemu-aarch64-static qemu-aarch64, \
                                   $(shell command -v $(q) 2>/dev/null)))
NEON_DIR := $(BUILD)/neon
NEON_BIN := $(NEON_DIR)/test_simd
NEON_SRCS := $(wildcard engine/simd/*.c) engine/alloc.c tests/test_simd.c tests/neon/main.c
NEON_OBJS := $(patsubst %.c,$(NEON_DIR)/obj/%.o,$(NEON_SRCS))

NEON_CPPFLAGS := -D_GNU_SOURCE -Iinclude -I.
NEON_CFLAGS   := -std=c17 $(WARN) -O2 -pthread -MMD -MP

.PHONY: neon-tools

neon-tools:
	@command -v $(NEON_CC) >/dev/null 2>&1 || { \
	    echo "check-neon: no AArch64 cross compiler ($(NEON_CC)): run tools/deps.sh" \
	         "(as root) to install gcc-aarch64-linux-gnu" >&2; exit 1; }
	@case "$$($(NEON_CC) -print-file-name=libc.a)" in /*) ;; *) \
	    echo "check-neon: no AArch64 static libc: run tools/deps.sh (as root) to install" \
	         "libc6-dev-arm64-cross" >&2; exit 1;; esac
	@test -n "$(NEON_QEMU)" || { \
	    echo "check-neon: no qemu-aarch64-static or qemu-aarch64: run tools/deps.sh" \
	         "(as root) to install qemu-user-static" >&2; exit 1; }

check-neon: $(NEON_BIN) | neon-tools
	@echo "== simd suite on AArch64 under $(notdir $(NEON_QEMU)), REPARTIR_SIMD=neon ($(NEON_BIN))"
	$(Q)REPARTIR_SIMD=neon $(NEON_QEMU) $(NEON_BIN)
	@echo "== simd suite on AArch64 under $(notdir $(NEON_QEMU)), REPARTIR_SIMD=scalar ($(NEON_BIN))"
	$(Q)REPARTIR_SIMD=scalar $(NEON_QEMU) $(NEON_BIN)

$(NEON_BIN): $(NEON_OBJS)
	$(say) LINK $@
	$(Q)$(NEON_CC) -static -pthread -o $@ $^ -lm

# The shim's <CUnit/CUnit.h> for the suite and its driver only.
$(NEON_DIR)/obj/tests/%.o: NEON_CPPFLAGS += -Itests/neon

$(NEON_DIR)/obj/%.o: %.c | neon-tools
	$(say) CC-A64 $<
	$(Q)mkdir -p $(@D)
	$(Q)$(NEON_CC) $(NEON_CPPFLAGS) $(NEON_CFLAGS) -c -o $@ $<

-include $(NEON_OBJS:.o=.d)
