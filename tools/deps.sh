#!/usr/bin/env bash
# tools/deps.sh -- installs the Debian packages repartir needs to build,
# test and benchmark, and nothing else. It checks first: when everything is
# there it does nothing, needs no network and no root. `make run`,
# `make test` and `make bench` call it.
#
#   tools/deps.sh           install what is missing (as root)
#   tools/deps.sh --check   only report; exit 1 if something is missing
set -euo pipefail

# One line per package: name, then why we need it.
PACKAGES=(
  "build-essential    C compiler, make, libc headers"
  "g++                the oneTBB anchor benchmarks are C++"
  "pkg-config         compiler flags for every library"
  "libcunit1-dev      unit test framework (CUnit)"
  "libtbb-dev         oneTBB, the anchor the scheduler is measured against"
  "libopenblas-dev    OpenBLAS, the anchor the SIMD kernels are measured against"
  "libgomp1           OpenMP runtime, the other scheduler anchor"
  "libcjson-dev       JSON for the CLI's --json output (and, later, the protocol)"
  "libsqlite3-dev     the state store's index (SQLite, WAL mode)"
  "libzstd-dev        compression of checkpoint blobs"
  "libssl-dev         SHA-256 of checkpoints, TLS (OpenSSL; the raw TLS anchor)"
  "libwebsockets-dev  the coordinator-worker transport (WebSockets over TLS)"
  "openssl            the remote tests make their own CA and certificates"
  "parallel           GNU parallel, an anchor of the process-spawn benchmark"
  "libncurses-dev     the console (ncursesw)"
  "tmux               the console's tests drive it inside tmux"
  "libvulkan-dev      the GPU executor: Vulkan headers and loader"
  "glslang-tools      compiles the GPU kernels (GLSL) to SPIR-V at build time"
  "spirv-tools        the Khronos validator, which checks user SPIR-V before the driver"
  "mesa-vulkan-drivers  lavapipe: a Vulkan device on the CPU, for the tests and machines without a GPU"
  "gcc-aarch64-linux-gnu  cross compiler for the NEON kernels' test (make check-neon)"
  "libc6-dev-arm64-cross  AArch64 libc headers and static libc for that cross build"
  "qemu-user-static   runs the AArch64 test binary on x86; static, so no shared-library deps"
)

check_only=0
case "${1:-}" in
  --check) check_only=1 ;;
  "") ;;
  -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "deps.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
esac

missing=()
for line in "${PACKAGES[@]}"; do
  pkg=${line%% *}
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [[ $status == "install ok installed" ]] || missing+=("$pkg")
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

echo "repartir needs these Debian packages: ${missing[*]}" >&2
if ((check_only)); then
  exit 1
fi
if ((EUID != 0)); then
  cat >&2 <<MSG
deps.sh: installing packages needs root. Run, then retry:
  sudo tools/deps.sh
or install them yourself:
  sudo apt-get install --no-install-recommends ${missing[*]}
MSG
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# Refresh the package lists only when apt has none yet or cannot find one
# of the packages, so a warm machine installs without touching the network.
if ! apt-get install -y --no-install-recommends "${missing[@]}" 2>/dev/null; then
  echo "deps.sh: refreshing the package lists (apt-get update)" >&2
  if ! apt-get update || ! apt-get install -y --no-install-recommends "${missing[@]}"; then
    echo "deps.sh: apt-get could not install: ${missing[*]}" >&2
    echo "deps.sh: check the network and /etc/apt/sources.list*, then run tools/deps.sh again" >&2
    exit 1
  fi
fi
echo "deps.sh: installed ${missing[*]}" >&2
