# examples/count_proc: a program that takes checkpoints through the process
# checkpoint protocol (`run --checkpoint`). Killed with SIGKILL mid-run, it
# is restored from its last checkpoint (`repartir restore`); its coordinator
# killed mid-run, `repartir resume` runs it again from its last checkpoint.
# Either way it goes on from a step above 0 and reaches "done 30".
source tests/integration/lib.sh
rp=$BUILD/repartir
count=$BUILD/examples/count_proc

# wait_for SECONDS CMD...: until CMD succeeds.
wait_for() {
  local end=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < end)) || fail "still not true after some seconds: $*"
    sleep 0.05
  done
}
# The id in "repartir: job J is task ID in DIR".
task_id() { local id; id=$(grep -oE 'is task [0-9]+' "$1") || fail "no task id in $1"; echo "${id#is task }"; }
# The last "step N" of a text.
last_step() { grep -oE 'step [0-9]+' | tail -n 1 | cut -d' ' -f2; }

# ---- on its own, without the protocol's variables, it just counts ----
run_cmd "$count"; expect_rc 2; expect_err usage
run_cmd "$count" 3 x; expect_rc 2
run_cmd "$count" 3 1; expect_rc 0
[[ $out == $'started\nstep 1\nstep 2\nstep 3\ndone 3' ]] || fail "stdout: $out"

# ---- the program is killed; restore goes on from its checkpoint ----
d=$TMPDIR/store-a
"$rp" run --state-dir "$d" --checkpoint=100 --json -- "$count" 30 50 \
  >"$TMPDIR/a.json" 2>"$TMPDIR/a.err" &
cli=$!
wait_for 20 grep -q 'is task' "$TMPDIR/a.err"
id=$(task_id "$TMPDIR/a.err")
# Once a checkpoint is in the store, and a little more.
wait_for 20 "$rp" ckpt ls "task/$id" --state-dir "$d"
sleep 0.3
child=$(pgrep -P "$cli") || fail "count_proc is not running (finished already?)"
kill -KILL "$child"
set +e; wait "$cli"; rc=$?; set -e
[[ $rc == 1 ]] || fail "run after its task was killed: exit $rc, not 1"
grep -qF "\"task\":$id,\"shard\":0,\"state\":\"failed\",\"exit_code\":-1,\"signal\":9" "$TMPDIR/a.json" ||
  fail "the killed task: $(cat "$TMPDIR/a.json")"
killed_at=$(grep -oE '"stdout":"[^"]*"' "$TMPDIR/a.json" | sed 's/\\n/\n/g' | last_step)
((killed_at < 30)) || fail "it had finished before the kill"

run_cmd "$rp" ckpt ls --state-dir "$d"; expect_rc 0; expect_out "^task/$id "

run_cmd "$rp" restore "$id" --state-dir "$d"
expect_rc 0
expect_err "^repartir: restored task $id as [0-9]+ from checkpoint iteration [1-9][0-9]*\$"
new=$(grep -oE "as [0-9]+" <<<"$err"); new=${new#as }
expect_out '^resumed at [0-9]+$'
at=$(head -n 1 <<<"$out"); at=${at#resumed at }
((at > 0)) || fail "restored from step 0"
((at <= killed_at)) || fail "resumed at $at, past the $killed_at steps it did"
expect_out '^done 30$'
grep -q '^started' <<<"$out" && fail "it started over: $out"
[[ $(grep -c '^step ' <<<"$out") == $((30 - at)) ]] || fail "steps repeated or skipped: $out"

# The new task keeps the key: restoring it goes on from its own last one.
run_cmd "$rp" ckpt ls --state-dir "$d"; expect_out "^task/$id "
grep -qE "^task/$new " <<<"$out" && fail "the restored task has a key of its own: $out"
run_cmd "$rp" restore "$new" --state-dir "$d" --json
expect_rc 0; expect_out "\"restored_from\":$new,\"from_checkpoint\":true,\"iteration\":[0-9]+"
expect_out '"stdout":"resumed at 30\\ndone 30\\n"'

# ---- the coordinator is killed; resume runs the task from its checkpoint ----
d=$TMPDIR/store-b
"$rp" run --state-dir "$d" --checkpoint=100 -- "$count" 30 50 >/dev/null 2>"$TMPDIR/b.err" &
cli=$!
wait_for 20 grep -q 'is task' "$TMPDIR/b.err"
id=$(task_id "$TMPDIR/b.err")
wait_for 20 "$rp" ckpt ls "task/$id" --state-dir "$d"
sleep 0.3
kill -KILL "$cli"
wait "$cli" 2>/dev/null && fail "run was not killed"
run_cmd timeout 60 "$rp" resume --state-dir "$d"
expect_rc 0; expect_out '^resumed 1 task: 1 succeeded, 0 failed$'
expect_err 'resuming 1 task from .*: 0 queued, 1 interrupted'
# The result is the store's: the second attempt's output.
run_cmd "$rp" sql --state-dir "$d" "SELECT CAST(stdout AS TEXT) AS out, attempts FROM tasks WHERE id = $id"
expect_rc 0
expect_out '^resumed at [1-9][0-9]*\\x0Astep '
expect_out 'done 30\\x0A'
run_cmd "$rp" ckpt ls --state-dir "$d"; expect_rc 0; expect_out "^task/$id "
