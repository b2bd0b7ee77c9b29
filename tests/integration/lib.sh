# Helpers for tests/integration/*.test.sh (sourced). $BUILD is the build
# directory, $TMPDIR a private scratch directory.
set -euo pipefail

fail() { echo "FAIL: $*" >&2; exit 1; }

# run_cmd CMD...: runs it, keeps stdout/stderr/status in $out $err $rc.
run_cmd() {
  set +e
  out=$("$@" 2>"$TMPDIR/stderr")
  rc=$?
  err=$(cat "$TMPDIR/stderr")
  set -e
}

expect_rc() { [[ $rc == "$1" ]] || fail "expected exit $1, got $rc (stdout: $out; stderr: $err)"; }
expect_out() { grep -qE -- "$1" <<<"$out" || fail "stdout lacks /$1/: $out"; }
expect_err() { grep -qE -- "$1" <<<"$err" || fail "stderr lacks /$1/: $err"; }
