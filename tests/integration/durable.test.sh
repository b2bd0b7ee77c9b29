# Durable runs: `run --state-dir` keeps its job in a store; a coordinator
# killed with SIGKILL mid-run is finished by `repartir resume` (every task
# ends exactly once in the store, and ran at least once); `restore` runs an
# ended task again; and the refusals: unknown or unfinished tasks, a store
# another pool holds, a state dir that is a file or cannot be made, bad ids.
source tests/integration/lib.sh
rp=$BUILD/repartir
export PATH=/usr/local/bin:/usr/bin:/bin

# q STORE SQL: the rows of a one-column query, without the header.
q() { "$rp" sql --state-dir "$1" "$2" | tail -n +2 | tr -d ' '; }
# wait_for FILE REGEX SECONDS: until a line of FILE matches.
wait_for() {
  local end=$((SECONDS + $3))
  until grep -qE -- "$2" "$1" 2>/dev/null; do
    ((SECONDS < end)) || fail "no /$2/ in $1 after $3 s: $(cat "$1" 2>/dev/null)"
    sleep 0.05
  done
}

# ---- help ----
run_cmd "$rp" run --help; expect_rc 0; expect_out '--state-dir DIR'; expect_out '--checkpoint\[=MS\]'
run_cmd "$rp" help restore; expect_rc 0; expect_out '^usage: repartir restore ID'
expect_out '--no-wait'; expect_out '--json'; expect_out '--state-dir DIR'
run_cmd "$rp" resume --help; expect_rc 0; expect_out '^usage: repartir resume'
run_cmd "$rp" help; expect_rc 0; expect_out '^  restore ID'; expect_out '^  resume'

# ---- a durable run says its task ids, and the store has its results ----
s0=$TMPDIR/s0
run_cmd "$rp" run --state-dir "$s0" --shards 2 -- sh -c 'echo shard $REPARTIR_SHARD'
expect_rc 0; [[ $out == $'shard 0\nshard 1' ]] || fail "stdout: $out"
expect_err "^repartir: job 1 is tasks 1-2 in $s0\$"
[[ $(q "$s0" "SELECT count(*) FROM tasks WHERE state = 'succeeded'") == 2 ]] || fail "not in the store"
# --json carries the task ids too.
run_cmd "$rp" run --state-dir "$s0" --json -- true; expect_rc 0; expect_out '"tasks":\[\{"task":3,'
run_cmd "$rp" resume --state-dir "$s0"; expect_rc 0; expect_out "^nothing to resume in $s0\$"
run_cmd "$rp" resume --state-dir "$s0" --json; expect_rc 0
expect_out '"tasks":0,"succeeded":0,"failed":0'

# ---- the coordinator is killed mid-run; resume finishes the job ----
store=$TMPDIR/store
marks=$TMPDIR/marks
"$rp" run --state-dir "$store" --shards 20 --workers 2 -- \
  sh -c "echo \$REPARTIR_TASK_ID >> '$marks'; sleep 0.3" >"$TMPDIR/run.out" 2>"$TMPDIR/run.err" &
pid=$!
wait_for "$TMPDIR/run.err" '^repartir: job [0-9]+ is tasks [0-9]+-[0-9]+ in ' 20
wait_for "$marks" '^[0-9]+$' 20
sleep 0.8
kill -KILL "$pid"
wait "$pid" 2>/dev/null && fail "run was not killed"
range=$(grep -oE 'tasks [0-9]+-[0-9]+' "$TMPDIR/run.err"); range=${range#tasks }
first=${range%-*}; last=${range#*-}
((last - first == 19)) || fail "20 shards are not 20 ids: $range"
ended=$(q "$store" "SELECT count(*) FROM tasks WHERE state = 'succeeded'")
((ended < 20)) || fail "all 20 ended before the kill: nothing to resume"

# The last shard has not ended: restore refuses it. (Its pool recovers the
# work, starts some of it and stops again: that work stays queued.)
run_cmd "$rp" restore "$last" --state-dir "$store"
expect_rc 1; expect_err "task $last has not ended"; expect_err 'repartir resume'
expect_err 'recovered unfinished work from .*: [0-9]+ queued, [0-9]+ interrupted, [0-9]+ killed, 0 unrecoverable'

run_cmd timeout 60 "$rp" resume --state-dir "$store"
expect_rc 0
expect_out '^resumed [0-9]+ tasks: [0-9]+ succeeded, 0 failed$'
expect_err "^repartir: resuming [0-9]+ tasks from $store: "
[[ $(q "$store" "SELECT count(*) FROM tasks WHERE state = 'succeeded'") == 20 ]] ||
  fail "not all 20 succeeded: $("$rp" sql --state-dir "$store" 'SELECT id, state FROM tasks')"
[[ $(q "$store" "SELECT count(*) FROM tasks WHERE state IN ('queued', 'running')") == 0 ]] ||
  fail "tasks left unfinished"
dups=$(q "$store" "SELECT task FROM events WHERE state IN ('succeeded', 'failed', 'cancelled',
                   'timed_out') GROUP BY task HAVING count(*) > 1")
[[ -z $dups ]] || fail "tasks with two final events: $dups"
# At least once: every task ran (a task cut short may have run twice).
for id in $(q "$store" "SELECT id FROM tasks"); do
  grep -qx "$id" "$marks" || fail "task $id never ran (marks: $(tr '\n' ' ' <"$marks"))"
done
run_cmd "$rp" resume --state-dir "$store"; expect_rc 0; expect_out '^nothing to resume'

# ---- run on a store with unfinished work: says so, and runs it too ----
s1=$TMPDIR/s1
"$rp" run --state-dir "$s1" -- sleep 30 >/dev/null 2>"$TMPDIR/s1.err" &
pid=$!
wait_for "$TMPDIR/s1.err" '^repartir: job 1 is task 1 in ' 20
kill -KILL "$pid"; wait "$pid" 2>/dev/null || true
run_cmd "$rp" run --state-dir "$s1" -- echo hi
expect_rc 0; [[ $out == hi ]] || fail "stdout: $out"
expect_err "^repartir: recovered unfinished work from $s1: 0 queued, 1 interrupted, 1 killed, 0 unrecoverable"
expect_err "^repartir: job 2 is task 2 in $s1\$"
# Stopping that pool left the interrupted task queued, not cancelled.
[[ $(q "$s1" "SELECT state FROM tasks WHERE id = 1") == queued ]] || fail "task 1 not queued"

# ---- another pool holds the store: every command says so, exit 3 ----
s2=$TMPDIR/s2
"$rp" run --state-dir "$s2" -- sh -c "[ -e '$TMPDIR/go' ] && echo quick || sleep 30" \
  >/dev/null 2>"$TMPDIR/s2.err" &
pid=$!
wait_for "$TMPDIR/s2.err" '^repartir: job 1 is task 1 in ' 20
run_cmd "$rp" restore 1 --state-dir "$s2"
expect_rc 3; expect_err "restore: cannot use the store at $s2: .*in use by another pool \(process $pid\)"
run_cmd "$rp" resume --state-dir "$s2"; expect_rc 3; expect_err 'in use by another pool'
run_cmd "$rp" run --state-dir "$s2" -- true; expect_rc 3; expect_err 'in use by another pool'
# SIGTERM cancels the job, as without a store; its end is recorded.
kill -TERM "$pid"
set +e; wait "$pid"; rc=$?; set -e
[[ $rc == 143 ]] || fail "run after SIGTERM: exit $rc, not 143"
[[ $(q "$s2" "SELECT state FROM tasks WHERE id = 1") == cancelled ]] || fail "task 1 not cancelled"

# ---- restore: a task that ended runs again, as a new task ----
# --no-wait: the pool may start the new task before it stops; then (it is
# still sleeping) the stop leaves it queued for the next pool.
run_cmd "$rp" restore 1 --state-dir "$s2" --no-wait
expect_rc 0
expect_out '^restored task 1 as 2 from scratch \(no checkpoint\)$'
[[ $(q "$s2" "SELECT state FROM tasks WHERE id = 2") == queued ]] || fail "task 2 not queued"
touch "$TMPDIR/go"
run_cmd timeout 60 "$rp" resume --state-dir "$s2"; expect_rc 0
expect_out '^resumed 1 task: 1 succeeded, 0 failed$'
run_cmd "$rp" restore 2 --state-dir "$s2"
expect_rc 0; [[ $out == quick ]] || fail "stdout: $out"
expect_err '^repartir: restored task 2 as 3 from scratch \(no checkpoint\)$'
run_cmd "$rp" restore 3 --state-dir "$s2" --json
expect_rc 0
expect_out '^\{"job":[0-9]+,"restored_from":3,"from_checkpoint":false,"iteration":null,"tasks":\[\{"task":4,'
expect_out '"stdout":"quick\\n"'
run_cmd "$rp" restore 4 --state-dir "$s2" --no-wait --json
expect_rc 0; expect_out '^\{"restored_from":4,"from_checkpoint":false,"iteration":null,"task":5,"job":[0-9]+\}$'
# A failing task's restore fails the same way: exit 1.
run_cmd "$rp" run --state-dir "$s2" -- sh -c 'exit 4'; expect_rc 1
id=$(grep -oE 'is task [0-9]+' <<<"$err"); id=${id#is task }
run_cmd "$rp" restore "$id" --state-dir "$s2"; expect_rc 1; expect_err 'code 4'

# ---- refusals ----
run_cmd "$rp" restore 999 --state-dir "$s2"; expect_rc 1; expect_err "the store at $s2 has no task 999"
for bad in abc 0 1x 1.5 ' 1' 99999999999999999999999; do
  run_cmd "$rp" restore "$bad" --state-dir "$s2"; expect_rc 2; expect_err 'is not a task id'
done
run_cmd "$rp" restore -5 --state-dir "$s2"; expect_rc 2; expect_err "unknown option '-5'"
run_cmd "$rp" restore --state-dir "$s2"; expect_rc 2; expect_err 'which task'
run_cmd "$rp" restore 1 2 --state-dir "$s2"; expect_rc 2; expect_err 'one task ID'
run_cmd "$rp" resume extra --state-dir "$s2"; expect_rc 2; expect_err "unexpected argument 'extra'"
run_cmd "$rp" resume --workers 0 --state-dir "$s2"; expect_rc 2
# No store: restore and resume say so and create nothing.
run_cmd "$rp" restore 1 --state-dir "$TMPDIR/none"; expect_rc 1; expect_err 'no store at .*none'
run_cmd "$rp" resume --state-dir "$TMPDIR/none"; expect_rc 1; expect_err 'no store at'
[[ ! -e $TMPDIR/none ]] || fail "a store was created"
# A state dir that is a regular file.
touch "$TMPDIR/file"
run_cmd "$rp" run --state-dir "$TMPDIR/file" -- true
expect_rc 2; expect_err "--state-dir: '$TMPDIR/file' is not a directory"
run_cmd "$rp" restore 1 --state-dir "$TMPDIR/file"; expect_rc 1; expect_err 'not a directory'
run_cmd "$rp" resume --state-dir "$TMPDIR/file"; expect_rc 1; expect_err 'not a directory'
# --checkpoint's store is the default one; when it cannot be made: exit 3,
# nothing ran. (A file in its path, since root may write anywhere.)
XDG_STATE_HOME=$TMPDIR/file run_cmd "$rp" run --checkpoint -- touch "$TMPDIR/ran"
expect_rc 3; expect_err "run: cannot open the store at $TMPDIR/file/repartir: "
[[ ! -e $TMPDIR/ran ]] || fail "the command ran without its store"
XDG_STATE_HOME=$TMPDIR/xdg run_cmd "$rp" run --checkpoint=50 -- true
expect_rc 0; expect_err "is task 1 in $TMPDIR/xdg/repartir\$"; [[ -f $TMPDIR/xdg/repartir/store.db ]]
run_cmd "$rp" run --checkpoint=0 -- true; expect_rc 2; expect_err 'out of range'
run_cmd "$rp" run --checkpoint=soon -- true; expect_rc 2; expect_err 'not a whole number'
run_cmd "$rp" run --checkpoint 100 -- true; expect_rc 2; expect_err 'goes after .=. \(--checkpoint=100\)'
run_cmd "$rp" run --state-dir= -- true; expect_rc 2; expect_err 'needs a directory'
