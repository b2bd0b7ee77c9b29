# Remote workers from the command line: `repartir run --worker/--remote`
# against repartir-worker daemons on loopback (plain ws, then mutual TLS
# with a token made here), what a failure on a worker says, bad options,
# the daemon's own bad command lines, and the console's workers pane
# showing a daemon as a row (tmux). Every wait is bounded.
source tests/integration/lib.sh
rp=$BUILD/repartir
wk=$BUILD/repartir-worker
export PATH=/usr/local/bin:/usr/bin:/bin LC_ALL=C.UTF-8
unset TMUX

pids=()
cleanup() {
  tmux -S "$TMPDIR/tmux.sock" kill-server 2>/dev/null || true
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

stop_worker() {
  kill -TERM "$1"
  for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
  fail "worker $1 still runs 10 s after SIGTERM"
}

# ---- the daemon's command line ----
for bad in "--slots 0|--slots: a number from 1 to 4096" "--bind nope:::|--bind:" \
  "--bind 10.1.2.3:7070|loopback|--insecure" "--cert x|--cert and --key go together" \
  "--allow bin|--allow: an absolute path prefix" "--max-frame 10|--max-frame" \
  "--bogus|unknown option" "extra|unexpected argument"; do
  read -ra args <<<"${bad%%|*}"
  run_cmd "$wk" "${args[@]}"
  expect_rc 2; expect_err "${bad#*|}"
done
run_cmd "$wk" --help
expect_rc 0; expect_out '^usage: repartir-worker'

# ---- plain ws on loopback ----
start_worker a --slots 2
wa=$wpid pa=$port
start_worker b --slots 2
wb=$wpid pb=$port
run_cmd "$rp" run --worker 127.0.0.1:$pa --worker 127.0.0.1:$pb --remote --shards 6 -- \
  sh -c 'echo "shard $REPARTIR_SHARD of $REPARTIR_TOTAL_SHARDS"'
expect_rc 0
for i in 0 1 2 3 4 5; do expect_out "^shard $i of 6$"; done
grep -q 'coordinator .* connected' "$TMPDIR/a.log" || fail "worker a saw no coordinator"
# JSON results name the attempt and carry the exit code and output.
run_cmd "$rp" run --worker 127.0.0.1:$pa --remote --json -- sh -c 'echo out; echo err >&2; exit 3'
expect_rc 1
expect_out '"exit_code":3'; expect_out '"stdout":"out\\n"'; expect_out '"stderr":"err\\n"'
# A program that is not on the worker: the error says where.
run_cmd "$rp" run --worker 127.0.0.1:$pa --remote -- /no/such/program
expect_rc 1; expect_err "cannot run '/no/such/program'.*\\(on a\\)"
# Bad command lines.
run_cmd "$rp" run --remote -- true
expect_rc 2; expect_err '--remote needs at least one --worker'
run_cmd "$rp" run --worker 'bad:::' -- true
expect_rc 2; expect_err '--worker: '
run_cmd "$rp" run --worker 10.9.8.7:7070 --remote -- true
expect_rc 2; expect_err 'not a loopback address'
run_cmd "$rp" run --tls-ca "$TMPDIR/none.pem" -- true
expect_rc 2; expect_err 'cannot read'
run_cmd "$rp" run --worker 127.0.0.1:$pa --remote --checkpoint -- true
expect_rc 2; expect_err 'checkpoint'
stop_worker "$wa"; stop_worker "$wb"
grep -q 'stopped' "$TMPDIR/a.log" || fail "worker a did not say it stopped"

# ---- mutual TLS and a token ----
tests/integration/mkcerts.sh "$TMPDIR/pki"
printf 'tok-%s\n' 0123456789abcdef0123456789 >"$TMPDIR/token"
chmod 600 "$TMPDIR/token"
start_worker t --cert "$TMPDIR/pki/server.pem" --key "$TMPDIR/pki/server.key" \
  --ca "$TMPDIR/pki/ca.pem" --token-file "$TMPDIR/token"
wt=$wpid pt=$port
grep -q '(mutual tls)' "$TMPDIR/t.log" || fail "worker t is not on mutual TLS: $(cat "$TMPDIR/t.log")"
run_cmd "$rp" run --worker 127.0.0.1:$pt --remote --tls-ca "$TMPDIR/pki/ca.pem" \
  --tls-cert "$TMPDIR/pki/client.pem" --tls-key "$TMPDIR/pki/client.key" \
  --token-file "$TMPDIR/token" -- echo over tls
expect_rc 0; expect_out '^over tls$'
# A key others can read is refused before anything is dialled.
cp "$TMPDIR/pki/client.key" "$TMPDIR/open.key"; chmod 644 "$TMPDIR/open.key"
run_cmd "$rp" run --worker 127.0.0.1:$pt --tls-ca "$TMPDIR/pki/ca.pem" \
  --tls-cert "$TMPDIR/pki/client.pem" --tls-key "$TMPDIR/open.key" -- true
expect_rc 2; expect_err 'chmod 600'
# Without the client certificate the worker refuses, and both sides say
# so; a --remote task waits (for a worker that would take it) until the
# run is interrupted.
run_cmd timeout --preserve-status -s INT 3 "$rp" run --worker 127.0.0.1:$pt --tls-ca "$TMPDIR/pki/ca.pem" \
  --token-file "$TMPDIR/token" --remote -- echo here
expect_rc 130; [[ -z $out ]] || fail "the refused task ran: $out"
expect_err 'auth: a client certificate is required'
grep -q 'closed: auth: a client certificate is required' "$TMPDIR/t.log" ||
  fail "no refusal logged: $(cat "$TMPDIR/t.log")"
# And with a client certificate and no token, the token is asked for.
run_cmd timeout --preserve-status -s INT 3 "$rp" run --worker 127.0.0.1:$pt --tls-ca "$TMPDIR/pki/ca.pem" \
  --tls-cert "$TMPDIR/pki/client.pem" --tls-key "$TMPDIR/pki/client.key" --remote -- true
expect_rc 130; expect_err 'auth: a token is required'
stop_worker "$wt"

# ---- the console's workers pane ----
command -v tmux >/dev/null || fail "needs tmux"
start_worker pane --slots 3
wp=$wpid pp=$port
tm() { tmux -u -S "$TMPDIR/tmux.sock" -f /dev/null "$@"; }
mkdir -p "$TMPDIR/home"
tm new-session -d -s rc -x 120 -y 40 \
  "env HOME=$TMPDIR/home XDG_STATE_HOME=$TMPDIR/state XDG_CONFIG_HOME=$TMPDIR/config \
   $rp console --no-store --workers 2 --worker 127.0.0.1:$pp; sleep 600"
ok=0
for _ in $(seq 100); do
  scr=$(tm capture-pane -p -t rc)
  if grep -qE "127\.0\.0\.1:$pp +pane +idle .* REM" <<<"$scr"; then ok=1; break; fi
  sleep 0.1
done
((ok)) || { printf '%s\n' "$scr" >&2; fail "the console shows no row for the worker"; }
# The worker goes: its row says lost.
{ kill -KILL "$wp"; wait "$wp"; } 2>/dev/null || true
ok=0
for _ in $(seq 100); do
  scr=$(tm capture-pane -p -t rc)
  if grep -qE "127\.0\.0\.1:$pp +pane +lost" <<<"$scr"; then ok=1; break; fi
  sleep 0.1
done
((ok)) || { printf '%s\n' "$scr" >&2; fail "the console does not show the worker lost"; }
tm send-keys -t rc q
exit 0
