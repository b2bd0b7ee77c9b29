#!/usr/bin/env bash
# Runs every tests/integration/*.test.sh against the binaries in BUILD_DIR
# (default build/). Each script gets BUILD (absolute) and a private TMPDIR,
# and fails by exiting non-zero.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(cd "$root/${1:-build}" && pwd) || { echo "no build dir ${1:-build}" >&2; exit 2; }
failed=0
for t in "$here"/*.test.sh; do
  name=$(basename "$t" .test.sh)
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/repartir-it.XXXXXX")
  start=$(date +%s%N)
  if out=$(cd "$root" && BUILD="$build" TMPDIR="$tmp" timeout 300 bash "$t" 2>&1); then
    printf '  %-28s ok (%d ms)\n' "$name" $((($(date +%s%N) - start) / 1000000))
  else
    printf '  %-28s FAILED\n' "$name"; printf '%s\n' "$out" | sed 's/^/    | /'
    failed=1
  fi
  rm -rf "$tmp"
done
exit $failed
