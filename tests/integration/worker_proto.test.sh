# The worker daemon against docs/protocol.md, through wsraw: a client that
# shares no code with net/ (raw sockets, its own WebSocket handshake,
# frames and JSON reader). The cases of `wsraw --list` run against one
# worker; after each, a fresh `good` connection proves the daemon still
# serves, and one connection held open through all of them proves a bad
# peer ends only its own connection. SIGTERM with a coordinator connected:
# drain, a clean close, exit 0 within 10 s. Then a worker with
# --token-file and one with mutual TLS, and the secret files they refuse.
source tests/integration/lib.sh
worker=$BUILD/repartir-worker
wsraw=$BUILD/tests/wsraw
[[ -x $worker ]] || fail "no $worker (make $worker)"
[[ -x $wsraw ]] || fail "no $wsraw (make $wsraw)"

pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

# alive PID: running, not a zombie waiting to be reaped.
alive() {
  [[ -r /proc/$1/status ]] && ! grep -qs '^State:[[:space:]]*Z' "/proc/$1/status"
}

# start_worker NAME ARGS...: a worker on a free loopback port, with its
# stderr in $TMPDIR/NAME.log; sets $port and $pid once it says it listens.
start_worker() {
  local name=$1 log=$TMPDIR/$1.log
  shift
  for _ in 1 2 3 4 5 6 7 8; do
    port=$((20000 + RANDOM % 40000))
    # exec: $! is the worker itself, the one SIGTERM must reach
    (exec "$worker" --bind "127.0.0.1:$port" --work-dir "$TMPDIR/$name.wd" "$@" 2>"$log") &
    pid=$!
    pids+=("$pid")
    for _ in $(seq 50); do
      if grep -q "^repartir-worker: listening on 127.0.0.1:$port (" "$log"; then
        return 0
      fi
      alive "$pid" || break
      sleep 0.1
    done
    alive "$pid" && fail "$name: not listening after 5 s: $(cat "$log")"
    wait "$pid" 2>/dev/null || true     # gone: the port was taken, most likely
  done
  fail "$name: could not start on any port: $(cat "$log")"
}

# stop_worker NAME PID: SIGTERM drains; it must exit 0 within 10 s.
stop_worker() {
  local status
  kill -TERM "$2"
  for _ in $(seq 100); do
    alive "$2" || break
    sleep 0.1
  done
  alive "$2" && fail "$1: still running 10 s after SIGTERM: $(tail -5 "$TMPDIR/$1.log")"
  set +e
  wait "$2"
  status=$?
  set -e
  [[ $status == 0 ]] || fail "$1: exit $status after SIGTERM: $(tail -5 "$TMPDIR/$1.log")"
}

# finish NAME PID: a wsraw in the background must end, with exit 0, within
# 30 s; its line is shown.
finish() {
  local status
  for _ in $(seq 300); do
    alive "$2" || break
    sleep 0.1
  done
  alive "$2" && fail "wsraw $1 still running after 30 s: $(cat "$TMPDIR/$1.err")"
  set +e
  wait "$2"
  status=$?
  set -e
  cat "$TMPDIR/$1.out"
  [[ $status == 0 ]] || fail "wsraw $1: exit $status: $(cat "$TMPDIR/$1.out" "$TMPDIR/$1.err")"
}

# ws ARGS...: one wsraw run, bounded; its line is shown.
ws() {
  run_cmd timeout 30 "$wsraw" "$@"
  printf '%s\n' "$out"
}

# -- a plain worker: every case, and the daemon goes on serving
start_worker plain
plain=$pid
addr=127.0.0.1:$port

(exec "$wsraw" "$addr" hold >"$TMPDIR/hold.out" 2>"$TMPDIR/hold.err") &
hold=$!
pids+=("$hold")

cases=$("$wsraw" --list)
[[ $cases == *good* && $cases == *oversized* ]] || fail "wsraw --list: $cases"
for c in $cases; do
  case $c in
    hold | drain) continue ;;         # driven below
    bad-token | no-token) continue ;; # need a worker with a token
    cert-refused) continue ;;         # needs one with mutual TLS
  esac
  ws "$addr" "$c"
  [[ $rc == 0 ]] || fail "case $c (exit $rc): $out $err"
  alive "$plain" || fail "the worker died after case $c: $(tail -5 "$TMPDIR/plain.log")"
  ws "$addr" good
  [[ $rc == 0 ]] || fail "good after case $c: $out $err"
done

alive "$hold" || fail "the held connection ended early: $(cat "$TMPDIR/hold.out" "$TMPDIR/hold.err")"
kill -TERM "$hold"
finish hold "$hold"

# Each refused connection left a line in the log.
grep -q 'closed: malformed' "$TMPDIR/plain.log" || fail "no refusal logged: $(tail "$TMPDIR/plain.log")"

ws "$addr" good
[[ $rc == 0 ]] || fail "good at the end: $out $err"

# SIGTERM with a coordinator connected: it hears drain, then a clean close.
(exec "$wsraw" "$addr" drain >"$TMPDIR/drain.out" 2>"$TMPDIR/drain.err") &
drain=$!
pids+=("$drain")
for _ in $(seq 50); do
  grep -q 'welcomed' "$TMPDIR/drain.err" && break
  alive "$drain" || break
  sleep 0.1
done
grep -q 'welcomed' "$TMPDIR/drain.err" || fail "wsraw drain: $(cat "$TMPDIR/drain.out" "$TMPDIR/drain.err")"
stop_worker plain "$plain"
finish drain "$drain"

# refused_at_start WHAT ARGS...: the worker must not start with these.
refused_at_start() {
  local what=$1
  shift
  run_cmd timeout 10 "$worker" --bind "127.0.0.1:$((20000 + RANDOM % 40000))" \
    --work-dir "$TMPDIR/refused.wd" "$@"
  [[ $rc != 0 && $rc != 124 ]] || fail "$what: exit $rc ($err)"
  expect_err 'chmod 600'
}

# -- a token: 32 characters, mode 600; readable by others, or a link, it
# is refused at start
token=$(openssl rand -hex 16)
printf '%s\n' "$token" >"$TMPDIR/token"
chmod 644 "$TMPDIR/token"
refused_at_start "a token file of mode 644" --token-file "$TMPDIR/token"
chmod 600 "$TMPDIR/token"
ln -s "$TMPDIR/token" "$TMPDIR/token.link"
run_cmd timeout 10 "$worker" --bind "127.0.0.1:$((20000 + RANDOM % 40000))" \
  --work-dir "$TMPDIR/refused.wd" --token-file "$TMPDIR/token.link"
[[ $rc != 0 && $rc != 124 ]] || fail "a token file that is a link: exit $rc ($err)"

start_worker token --token-file "$TMPDIR/token"
addr=127.0.0.1:$port
for c in bad-token no-token not-json; do
  ws --token "$token" "$addr" "$c"
  [[ $rc == 0 ]] || fail "token worker, case $c (exit $rc): $out $err"
done
ws --token "$token" "$addr" good
[[ $rc == 0 ]] || fail "token worker, good: $out $err"
stop_worker token "$pid"

# -- mutual TLS: the worker's CA must sign the client's certificate
pki=$TMPDIR/pki
bash tests/integration/mkcerts.sh "$pki" >/dev/null 2>&1 || fail "mkcerts.sh failed"
start_worker tls --cert "$pki/server.pem" --key "$pki/server.key" --ca "$pki/ca.pem"
grep -q '(mutual tls)' "$TMPDIR/tls.log" || fail "tls worker: $(cat "$TMPDIR/tls.log")"
addr=127.0.0.1:$port
tls=(--tls --ca "$pki/ca.pem" --cert "$pki/client.pem" --key "$pki/client.key")
for c in good not-json duplicate-node; do
  ws "${tls[@]}" "$addr" "$c"
  [[ $rc == 0 ]] || fail "tls worker, case $c (exit $rc): $out $err"
done
# A client certificate from another CA: error auth (docs/protocol.md);
# none at all: refused too.
ws --tls --ca "$pki/ca.pem" --cert "$pki/other-client.pem" --key "$pki/other-client.key" \
  "$addr" cert-refused
[[ $rc == 0 ]] || fail "tls worker, a client of another CA: $out $err"
ws --tls --ca "$pki/ca.pem" "$addr" good
[[ $rc == 1 ]] || fail "tls worker let in a client without a certificate: $out $err"
ws "${tls[@]}" "$addr" good
[[ $rc == 0 ]] || fail "tls worker, good at the end: $out $err"
stop_worker tls "$pid"

# A private key that others can read is refused at start.
cp "$pki/server.key" "$TMPDIR/open.key"
chmod 644 "$TMPDIR/open.key"
refused_at_start "a key of mode 644" --cert "$pki/server.pem" --key "$TMPDIR/open.key" \
  --ca "$pki/ca.pem"
