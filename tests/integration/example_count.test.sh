# examples/count: a program that checkpoints every step in a store is
# killed with SIGKILL, several times, mid-run; each run goes on from where
# the last stopped, and the last one reaches N with the right sum.
source tests/integration/lib.sh
count=$BUILD/examples/count
store=$TMPDIR/count-store
n=400

run_cmd "$count"; expect_rc 2; expect_err 'usage'
run_cmd "$count" "$store" notanumber; expect_rc 2

last=0
for kill_after in 0.3 0.4 0.5; do
  "$count" "$store" "$n" 5 >"$TMPDIR/count.out" 2>&1 &
  pid=$!
  sleep "$kill_after"
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  first=$(head -n 1 "$TMPDIR/count.out")
  case $first in
    started) [[ $last == 0 ]] || fail "started from 0 after reaching $last" ;;
    "resumed at "*)
      at=${first#resumed at }
      (( at >= last )) || fail "resumed at $at, below the $last reached before"
      last=$at ;;
    *) fail "unexpected first line: $first" ;;
  esac
done

run_cmd "$count" "$store" "$n" 1
expect_rc 0
expect_out "^resumed at [0-9]+"
at=$(head -n 1 <<<"$out"); at=${at#resumed at }
(( at > 0 )) || fail "the killed runs saved nothing"
(( at >= last )) || fail "resumed at $at, below $last"
expect_out "reached $n"
# No temp or orphan files once a clean run has closed the store.
[[ -z $(find "$store/blobs" -name 'tmp.*' -o -name '*.tmp.*') ]] || fail "temp files left"
