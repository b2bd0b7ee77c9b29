# Tensor tasks from the command line and the console (docs/tensor.md,
# docs/cli.md): `repartir run --tensor` for a matmul, a sum and a softmax
# (the backend and the double-precision check on stdout, the same checksum
# for the same seed, --json carrying it), a durable run stored as kind
# "tensor" and restored with `repartir restore`, a tensor task on a worker
# daemon with --remote, bad specs and the options --tensor refuses (exit 2,
# nothing run, a reason on stderr); then the console in tmux (private
# server, -f /dev/null, HOME and XDG directories in $TMPDIR): `--tensor
# matmul:200x200x200` typed in the submit form shows as "tensor
# matmul:200x200x200@1" in the jobs pane, and its detail shows the backend
# and the check; a bad spec keeps the form open with the reason. Every wait
# is bounded.
source tests/integration/lib.sh
rp=$BUILD/repartir
wk=$BUILD/repartir-worker
export PATH=/usr/local/bin:/usr/bin:/bin
# grep's `.` must match a whole UTF-8 character (the console's borders).
export LC_ALL=C.UTF-8
unset TMUX

expect_out_has() { grep -qF -- "$1" <<<"$out" || fail "stdout lacks '$1': $out"; }
expect_err_has() { grep -qF -- "$1" <<<"$err" || fail "stderr lacks '$1': $err"; }
# The backend on the first line: simd (ISA) or scalar (scalar).
backend_re='^tensor [a-z]+:[0-9x]+@[0-9]+: (simd \((avx512|avx2|neon)\)|scalar \(scalar\)), [0-9]+ threads?, [0-9]+ pieces?, [0-9.]+ ms, '
checksum() { grep -E '^(checksum|result) ' <<<"$out"; }

pids=()
cleanup() {
  tmux -S "$TMPDIR/tmux.sock" kill-server 2>/dev/null || true
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 143' TERM INT HUP

# ---- run --tensor: matmul, sum, softmax ----
run_cmd "$rp" run --tensor matmul:96x80x64
expect_rc 0
expect_out "${backend_re}[0-9.]+ GFLOP/s\$"
expect_out '^tensor matmul:96x80x64@1: '
expect_out '^chose (simd|scalar): '
expect_out '^checksum -?[0-9.e+-]+; checked against double precision$'
[[ $(wc -l <<<"$out") == 3 ]] || fail "matmul: not three lines: $out"
[[ -z $err ]] || fail "matmul: stderr: $err"
first=$(checksum)

run_cmd "$rp" run --tensor sum:1000x1000@7
expect_rc 0
expect_out "${backend_re}[0-9.]+ GB/s\$"
expect_out '^tensor sum:1000x1000@7: '
expect_out '^result -?[0-9.e+-]+; checked against double precision$'

run_cmd "$rp" run --tensor softmax:300x500@3 --workers 2
expect_rc 0
expect_out "$backend_re"
expect_out '^tensor softmax:300x500@3: '
expect_out '^checksum [0-9.e+-]+; checked against double precision$'
# softmax rows sum to 1: 300 rows sum to 300 (within float rounding)
expect_out '^checksum (299\.99[0-9]*|300(\.0[0-9]*)?);'

# The same spec, the same checksum: again, on 1 worker, with the seed spelt
# out (1 is the default).
run_cmd "$rp" run --tensor matmul:96x80x64 --workers 1
expect_rc 0; [[ $(checksum) == "$first" ]] || fail "1 worker: '$(checksum)' vs '$first'"
expect_out ', 1 thread, '
run_cmd "$rp" run --tensor matmul:96x80x64@1 --workers 2
expect_rc 0; [[ $(checksum) == "$first" ]] || fail "@1: '$(checksum)' vs '$first'"
run_cmd "$rp" run --tensor matmul:96x80x64@2
expect_rc 0; [[ $(checksum) != "$first" ]] || fail "another seed, the same checksum: $first"

# Shards: each its own task, each the same op.
run_cmd "$rp" run --tensor add:5000@4 --shards 3
expect_rc 0
[[ $(grep -c 'checked against double precision' <<<"$out") == 3 ]] || fail "3 shards: $out"
expect_err '^== shard 2/3: succeeded \(exit 0'

# ---- --json carries the output ----
run_cmd "$rp" run --json --tensor matmul:64x64x64
expect_rc 0
expect_out_has '"state":"succeeded"'
expect_out_has '"exit_code":0'
expect_out_has '"stdout":"tensor matmul:64x64x64@1: '
expect_out_has 'checked against double precision\n"'
grep -qE '"stdout":"tensor matmul:64x64x64@1: (simd|scalar) \(' <<<"$out" || fail "--json: no backend: $out"
expect_out_has '"succeeded":1,"failed":0'
[[ -z $err ]] || fail "--json: stderr: $err"

# ---- durable: stored as a tensor task, restored ----
run_cmd "$rp" run --tensor dot:70000@5 --state-dir "$TMPDIR/store"
expect_rc 0; expect_out 'checked against double precision$'
stored=$(checksum)
run_cmd "$rp" sql --state-dir "$TMPDIR/store" "SELECT kind, spec FROM jobs WHERE id = 1"
expect_rc 0
expect_out '^ *tensor +\{'
expect_out_has '"kind":"tensor","tensor":"dot:70000@5"'
run_cmd "$rp" restore 1 --state-dir "$TMPDIR/store"
expect_rc 0
expect_out '^tensor dot:70000@5: '
expect_out 'checked against double precision$'
[[ $(checksum) == "$stored" ]] || fail "restored: '$(checksum)' vs '$stored'"
expect_err_has 'restored task 1 as 2'

# ---- bad specs: exit 2, nothing run, the reason ----
for bad in "matmul:2x2|matmul takes MxNxK" "nope:3|'nope' is not a tensor op" \
  "add:0|dimensions are whole numbers" "add:3x|dimensions are whole numbers" \
  "add:3@|the seed after '@' is a whole number" "add:3@x|the seed after '@'" \
  "transpose:5|transpose takes RxC" "matmul|expected OP:DIMS" "|expected OP:DIMS" \
  "add:65536x65537|over the 4294967296" "add:99999999999999999999999|dimensions are whole"; do
  run_cmd "$rp" run --tensor "${bad%%|*}"
  expect_rc 2
  expect_err "^repartir: --tensor: "
  expect_err_has "${bad#*|}"
  [[ -z $out ]] || fail "--tensor '${bad%%|*}': stdout: $out"
done
run_cmd "$rp" run --tensor
expect_rc 2; expect_err '^repartir: '; [[ -z $out ]] || fail "--tensor alone: stdout: $out"

# ---- what --tensor does not take ----
marker=$TMPDIR/ran
for bad in "-- touch $marker|--tensor runs a tensor op, not a command" \
  "--timeout 5|--tensor takes no" "--env A=b|--tensor takes no" \
  "--cwd /tmp|--tensor takes no" "--checkpoint|--tensor takes no" \
  "--remote|--remote needs at least one --worker"; do
  read -ra args <<<"${bad%%|*}"
  run_cmd "$rp" run --tensor add:10 "${args[@]}"
  expect_rc 2
  expect_err "^repartir: run: "
  expect_err_has "${bad#*|}"
  [[ -z $out ]] || fail "--tensor with ${bad%%|*}: stdout: $out"
done
[[ ! -e $marker ]] || fail "--tensor with -- ran the command"
# And the other way round: a command before --tensor.
run_cmd "$rp" run -- true --tensor add:10
expect_rc 0   # after --, --tensor is the command's argument

# ---- --remote: the task runs on a worker daemon ----
start_worker tw --slots 1
run_cmd timeout 60 "$rp" run --worker 127.0.0.1:$port --remote --tensor matmul:96x80x64
expect_rc 0
expect_out "$backend_re"
expect_out 'checked against double precision$'
[[ $(checksum) == "$first" ]] || fail "on the worker: '$(checksum)' vs '$first'"
kill -TERM "$wpid"
for _ in $(seq 100); do kill -0 "$wpid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$wpid" 2>/dev/null && fail "worker still runs 10 s after SIGTERM"

# ---- the console ----
command -v tmux >/dev/null || fail "the console tests need tmux (not found in $PATH)"
sock=$TMPDIR/tmux.sock
tm() { tmux -u -S "$sock" -f /dev/null "$@"; }
printf '%s\n' 'trap : INT' '"$@"' 'echo "EXIT=$?"' 'exec sleep 600' >"$TMPDIR/launch.sh"
mkdir -p "$TMPDIR/home" "$TMPDIR/config"
S= H=40 scr=
row() { grep -E -m1 "^.{3}j$1 " <<<"$scr" || true; }
row_is() { row "$1" | grep -qE -- "$2"; }
wait_for() { until_screen "no '$1' on the screen after ${2:-10} s" "${2:-10}" has "$1"; }
wait_re() { until_screen "nothing matches /$1/ after ${2:-10} s" "${2:-10}" has_re "$1"; }
wait_gone() { until_screen "'$1' still on the screen after ${2:-10} s" "${2:-10}" lacks "$1"; }
wait_row() { until_screen "job $1's row does not match /$2/ after ${3:-10} s" "${3:-10}" row_is "$1" "$2"; }
key() { tm send-keys -t "$S" "$@"; }
# idle: the header's counts (refreshed once a second) say nothing runs, so
# q quits without asking.
idle() { wait_re '^ workers 0/[0-9]+ +queued 0   running 0   ' 15; }
typed() { tm send-keys -t "$S" -l -- "$1"; }
exited() {
  wait_re '^EXIT=' 15
  has_re '^EXIT=0([^0-9]|$)' || { show; fail "$S: the console did not exit 0"; }
  tm kill-session -t "$S"
}
# start NAME OPTIONS...: `repartir console OPTIONS` in a 120x40 session, in a
# clean environment; waits for its first frame.
start() {
  S=$1; shift
  tm new-session -d -s "$S" -x 120 -y 40 -- env -i PATH="$PATH" HOME="$TMPDIR/home" \
    XDG_STATE_HOME="$TMPDIR/state-$S" XDG_CONFIG_HOME="$TMPDIR/config" LANG=C.UTF-8 \
    TERM=xterm-256color sh "$TMPDIR/launch.sh" "$rp" console "$@"
  wait_for 'workers (' 30
  wait_re '^.{3}jobs \(' 10
}

for store in "--state-dir $TMPDIR/store-console" --no-store; do
  read -ra opts <<<"$store"
  start "console${#opts[@]}" --workers 2 "${opts[@]}"
  wait_for 'no jobs yet'
  # A bad spec: the form stays open and says why; Esc closes it.
  key s; wait_for 'submit a job'
  typed '--tensor matmul:2x2'; wait_for '--tensor matmul:2x2'
  key Enter; wait_for '--tensor: matmul takes MxNxK'
  has 'submit a job' || { show; fail "a refused spec closed the form"; }
  key Escape; wait_gone 'submit a job'
  [[ -z $(row 1) ]] || { show; fail "a refused spec submitted a job"; }
  # The good one.
  key s; wait_for 'submit a job'
  typed '--tensor matmul:200x200x200'; wait_for '--tensor matmul:200x200x200'
  key Enter
  wait_re '^submitted job 1: 1 task' 15
  wait_gone 'submit a job'
  wait_row 1 'tensor matmul:200x200x200@1 +succeeded' 30
  has 'tensor matmul:200x200x200' || { show; fail "no 'tensor matmul:200x200x200' in the jobs pane"; }
  # Its detail: the command, the state, the three lines of stdout.
  wait_for 'detail: job 1'
  wait_re '^. command +tensor matmul:200x200x200@1 '
  wait_re '^. state +succeeded \(exit 0\)'
  wait_re '^. tensor matmul:200x200x200@1: (simd \((avx512|avx2|neon)\)|scalar \(scalar\)), [0-9]+ threads?, '
  wait_re '^. chose (simd|scalar): '
  wait_re '^. checksum -?[0-9.]+; checked against double precision '
  idle; key q; exited
done
