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

# start_worker NAME ARGS...: a repartir-worker ($wk) on a free loopback
# port, logging to $TMPDIR/NAME.log; sets $port and $wpid and appends the
# pid to the caller's pids array (killed by its cleanup).
start_worker() {
  local name=$1; shift
  for _ in 1 2 3 4 5 6 7 8; do
    port=$((20000 + RANDOM % 40000))
    "$wk" --bind 127.0.0.1:$port --node "$name" --work-dir "$TMPDIR/wd-$name" "$@" \
      2>"$TMPDIR/$name.log" &
    wpid=$!
    for _ in $(seq 50); do
      grep -q 'listening on' "$TMPDIR/$name.log" 2>/dev/null && { pids+=("$wpid"); return 0; }
      kill -0 "$wpid" 2>/dev/null || break
      sleep 0.1
    done
    kill "$wpid" 2>/dev/null || true
  done
  fail "cannot start worker $name: $(cat "$TMPDIR/$name.log")"
}

# The console's screen, for scripts that drive it in tmux: each defines
# tm (tmux on its private socket) and sets S to the session it looks at.
# screen prints the pane; until_screen WHAT SECONDS TEST... captures it
# into $scr every 0.1 s until TEST... succeeds, and on time out shows it
# and fails; has, has_re and lacks test $scr.
screen() { tm capture-pane -p -t "$S"; }
show() { printf -- '---- screen of %s ----\n%s\n----\n' "$S" "$scr" >&2; }
until_screen() {
  local what=$1 end=$((SECONDS + $2)); shift 2
  while :; do
    scr=$(screen)
    "$@" && return 0
    ((SECONDS < end)) || { show; fail "$S: $what"; }
    sleep 0.1
  done
}
has() { grep -qF -- "$1" <<<"$scr"; }
has_re() { grep -qE -- "$1" <<<"$scr"; }
lacks() { ! grep -qF -- "$1" <<<"$scr"; }
