# `repartir run`: real processes on the embedded engine -- output passed
# through, shards, failures, timeouts, JSON, binary output, interrupts, and
# bad command lines that must run nothing.
source tests/integration/lib.sh
rp=$BUILD/repartir
# A known PATH, so "not found in PATH" does not depend on the machine.
export PATH=/usr/local/bin:/usr/bin:/bin

# Fixed-string matches, for JSON text full of characters ERE would eat.
expect_out_has() { grep -qF -- "$1" <<<"$out" || fail "stdout lacks '$1': $out"; }
expect_err_has() { grep -qF -- "$1" <<<"$err" || fail "stderr lacks '$1': $err"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# ---- help ----
run_cmd "$rp" run --help; expect_rc 0
expect_out 'usage: repartir run \[OPTIONS\] -- BIN ARGS'
for o in shards priority timeout retries json workers env cwd; do expect_out "--$o"; done
run_cmd "$rp" help run; expect_rc 0; expect_out 'usage: repartir run'; expect_out '--timeout SEC'
run_cmd "$rp" --help; expect_rc 0; expect_out 'run \[OPTIONS\]'
# After '--', --help belongs to the command.
run_cmd "$rp" run -- printf '%s\n' --help; expect_rc 0; [[ $out == --help ]] || fail "got: $out"

# ---- success: stdout passed through, nothing else said ----
run_cmd "$rp" run -- echo hello world; expect_rc 0
[[ $out == 'hello world' ]] || fail "stdout: $out"
[[ -z $err ]] || fail "stderr should be empty when it is not a tty: $err"
run_cmd "$rp" run -- sh -c 'echo to-err >&2'; expect_rc 0; expect_err '^to-err$'

# ---- shards: each sees its index and the total, output in shard order ----
run_cmd "$rp" run --shards 3 -- sh -c 'echo $REPARTIR_SHARD/$REPARTIR_TOTAL_SHARDS'
expect_rc 0
[[ $out == $'0/3\n1/3\n2/3' ]] || fail "shard output: $out"
expect_err '^== shard 0/3: succeeded \(exit 0, [0-9.]+ s\)$'
expect_err '^== shard 2/3: succeeded'
# Order is the shards', not the order they finish in.
run_cmd "$rp" run --shards 3 --workers 3 -- sh -c 'sleep 0.$((3 - REPARTIR_SHARD)); echo $REPARTIR_SHARD'
expect_rc 0; [[ $out == $'0\n1\n2' ]] || fail "order: $out"

# ---- environment, working directory, priority, options with '=' ----
mkdir "$TMPDIR/wd"
run_cmd "$rp" run --env FOO=bar --env=EMPTY= --cwd "$TMPDIR/wd" --priority=high -- \
  sh -c 'echo "$FOO[${EMPTY-unset}]"; pwd'
expect_rc 0; expect_out '^bar\[\]$'; expect_out "^$TMPDIR/wd\$"

# ---- failure: exit 1, the task's stderr and the reason ----
run_cmd "$rp" run -- sh -c 'echo partial; echo oops >&2; exit 3'
expect_rc 1; expect_out '^partial$'; expect_err '^oops$'; expect_err 'repartir: .*3'
run_cmd "$rp" run --shards 2 -- sh -c 'exit $REPARTIR_SHARD'
expect_rc 1; expect_err '^== shard 1/2: failed \(exit 1'; expect_err 'shard 1: '
expect_err '1 of 2 tasks did not succeed'

# ---- timeout: ends promptly, exit 1, says so ----
start=$(now_ms)
run_cmd "$rp" run --timeout 0.2 -- sleep 30
took=$(($(now_ms) - start))
expect_rc 1; expect_err 'timed out'
((took < 2000)) || fail "--timeout 0.2 took $took ms"

# ---- retries: a failing command runs 1 + N times ----
run_cmd "$rp" run --json --retries 2 -- sh -c "echo x >> '$TMPDIR/tries'; exit 1"
expect_rc 1; expect_out_has '"attempts":3'
[[ $(wc -l <"$TMPDIR/tries") -eq 3 ]] || fail "ran $(wc -l <"$TMPDIR/tries") times, not 3"

# ---- JSON ----
run_cmd "$rp" run --json --shards 2 -- sh -c 'echo hi; echo "é" >&2; exit $REPARTIR_SHARD'
expect_rc 1
expect_out '^\{"job":[1-9][0-9]*,"tasks":\[\{"task":[1-9]'
for k in task shard state exit_code signal attempts error wall_ms cpu_ms max_rss_kb \
         stdout stderr stdout_bytes stderr_bytes stdout_truncated stderr_truncated; do
  expect_out_has "\"$k\":"
done
expect_out_has '"shard":0,"state":"succeeded","exit_code":0,"signal":0,"attempts":1,"error":null'
expect_out_has '"shard":1,"state":"failed","exit_code":1'
expect_out_has '"stdout":"hi\n"'
expect_out_has '"stderr":"é\n"'
expect_out_has '"stdout_bytes":3,'
expect_out_has '"stdout_truncated":false'
expect_out '"succeeded":1,"failed":1\}$'
[[ $(wc -l <<<"$out") -eq 1 ]] || fail "the JSON document is not one line: $out"
run_cmd "$rp" run --json --timeout 0.2 -- sleep 30
expect_rc 1; expect_out_has '"state":"timed_out"'; expect_out '"error":"[^"]*timed out'

# ---- binary output: raw bytes through, base64 in JSON ----
printf '\377\000\001binary\n' >"$TMPDIR/expected"
"$rp" run -- printf '\377\000\001binary\n' >"$TMPDIR/got" || fail "binary run failed"
cmp -s "$TMPDIR/expected" "$TMPDIR/got" || fail "binary stdout changed: $(od -c "$TMPDIR/got")"
run_cmd "$rp" run --json -- printf '\377\376'
expect_rc 0; expect_out_has '"stdout_base64":"//4="'; expect_out_has '"stdout_bytes":2,'
[[ $out != *'"stdout":'* ]] || fail "binary stdout also given as a string: $out"
run_cmd "$rp" run --json -- printf 'a\000b'      # NUL is valid UTF-8 but not in a C string
expect_rc 0; expect_out_has '"stdout_base64":"YQBi"'
# The validator: well-formed UTF-8 stays a string, anything else is base64
# (padding of 1, 2 and 3 bytes; overlong, surrogate, past U+10FFFF, cut short).
while read -r bytes want; do
  run_cmd "$rp" run --json -- printf "$bytes"; expect_rc 0; expect_out_has "$want"
done <<'EOF'
\303\251\342\202\254\360\237\230\200 "stdout":"é€😀"
\377 "stdout_base64":"/w=="
\377a "stdout_base64":"/2E="
\377ab "stdout_base64":"/2Fi"
\300\200 "stdout_base64":"wIA="
\355\240\200 "stdout_base64":"7aCA"
\364\220\200\200 "stdout_base64":"9JCAgA=="
\342\202 "stdout_base64":"4oI="
EOF

# ---- interrupts: the job is cancelled, its processes die, 130/143 ----
for sig in INT TERM; do
  rm -f "$TMPDIR/pid"
  "$rp" run -- sh -c "echo \$\$ > '$TMPDIR/pid'; exec sleep 30" >/dev/null 2>"$TMPDIR/sigerr" &
  rp_pid=$!
  for _ in $(seq 50); do [[ -s $TMPDIR/pid ]] && break; sleep 0.05; done
  [[ -s $TMPDIR/pid ]] || fail "the task did not start"
  start=$(now_ms)
  kill -$sig $rp_pid
  set +e; wait $rp_pid; rc=$?; set -e
  took=$(($(now_ms) - start))
  want=$([[ $sig == INT ]] && echo 130 || echo 143)
  [[ $rc == "$want" ]] || fail "SIG$sig: exit $rc, not $want: $(cat "$TMPDIR/sigerr")"
  ((took < 3000)) || fail "SIG$sig took $took ms"
  grep -q "interrupted by SIG$sig" "$TMPDIR/sigerr" || fail "no word on SIG$sig: $(cat "$TMPDIR/sigerr")"
  ! kill -0 "$(cat "$TMPDIR/pid")" 2>/dev/null || fail "SIG$sig left the task running"
done

# ---- bad command lines: exit 2, a message naming the problem, nothing run ----
printf '#!/bin/sh\ntouch %s/ran\n' "$TMPDIR" >"$TMPDIR/noexec"; chmod 644 "$TMPDIR/noexec"
bad() {  # bad REGEX ARGS...: `run ARGS` must fail as a usage error
  local want=$1; shift
  run_cmd "$rp" run "$@"; expect_rc 2; expect_err "$want"
  [[ -z $out ]] || fail "run $*: a usage error printed to stdout: $out"
  [[ ! -e $TMPDIR/ran ]] || fail "run $*: a usage error ran the command"
}
mark=(touch "$TMPDIR/ran")
bad 'no command to run'                     
bad 'no command to run'                     --
bad 'no command to run'                     --shards 2 --
bad "'echo' is not an option; the command goes after '--'" echo hi
bad "cannot run 'no-such-command-xyz': not found in PATH" -- no-such-command-xyz
bad "cannot run '/no/such/file': No such file or directory" -- /no/such/file
bad "cannot run '$TMPDIR': it is a directory"           -- "$TMPDIR"
bad "cannot run '$TMPDIR/noexec': not an executable file" -- "$TMPDIR/noexec"
bad 'the command name is empty'             -- ''
bad "unknown option '--bogus'"              --bogus -- "${mark[@]}"
bad "unknown option '-x'"                   -x -- "${mark[@]}"
bad '--shards needs a value'                --shards
bad '--shards needs a value'                --shards -- "${mark[@]}"
bad "--shards: 'abc' is not a whole number" --shards abc -- "${mark[@]}"
bad '--shards: 0 is out of range'           --shards 0 -- "${mark[@]}"
bad '--shards: 1000001 is out of range'     --shards 1000001 -- "${mark[@]}"
bad '--shards: 99999999999999999999 is out of range' --shards 99999999999999999999 -- "${mark[@]}"
bad "--timeout: 'abc' is not a number of seconds" --timeout abc -- "${mark[@]}"
bad "--timeout: 'nan' is not a number"      --timeout nan -- "${mark[@]}"
bad "--timeout: '-1' is not a number"       --timeout -1 -- "${mark[@]}"
bad "--timeout: '1e3' is not a number"      --timeout 1e3 -- "${mark[@]}"
bad "--timeout: '\\.' is not a number"      --timeout . -- "${mark[@]}"
bad '--timeout: 0 is out of range'          --timeout 0 -- "${mark[@]}"
bad '--timeout: 0.0 is out of range'        --timeout 0.0 -- "${mark[@]}"
bad '--timeout: 604801 is out of range'     --timeout 604801 -- "${mark[@]}"
bad "--retries: 1001 is out of range"       --retries 1001 -- "${mark[@]}"
bad "--retries: '-1' is not a whole number|--retries: -1 is out of range" --retries -1 -- "${mark[@]}"
bad '--workers: 0 is out of range'          --workers 0 -- "${mark[@]}"
bad "--priority: 'urgent' is not one of low, normal, high, critical" --priority urgent -- "${mark[@]}"
bad "--env: 'NOEQUALS' is not KEY=VALUE"    --env NOEQUALS -- "${mark[@]}"
bad "--env: '=x' is not KEY=VALUE"          --env =x -- "${mark[@]}"
bad "--cwd: '/no/such/dir': No such file or directory" --cwd /no/such/dir -- "${mark[@]}"
bad "--cwd: '$TMPDIR/noexec' is not a directory" --cwd "$TMPDIR/noexec" -- "${mark[@]}"
bad '--json takes no value'                 --json=yes -- "${mark[@]}"

# A value that can pass: the last case must fail only for its own reason.
run_cmd "$rp" run --timeout 604800 --retries 0 --workers 1 --priority critical -- "${mark[@]}"
expect_rc 0; [[ -e $TMPDIR/ran ]] || fail "valid options did not run the command"
