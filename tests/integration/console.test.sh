# The console, driven through tmux: a private server (-S in $TMPDIR, -f
# /dev/null), detached sessions of 120x40, a clean environment (HOME and the
# XDG directories in $TMPDIR), a store per case or none. Each case starts
# `repartir console` through a wrapper that prints EXIT=<status> when it
# ends, so a case can check that it quit cleanly and gave the terminal back.
# Cases: the submit form (and its refusals), the detail of a job and its
# zoom, cancel (no, then yes), a checkpointed task cancelled and restored
# from its checkpoint, the filter, the help, themes (and broken ones),
# resizes (and a terminal too small), tags and a bulk cancel, vt100 without
# colours or UTF-8, quitting (asked while work runs) and the remembered
# preferences, --readonly (and NO_COLOR), bad command lines, no terminal,
# --demo, a full redraw (Ctrl-L) that changes nothing, and SIGHUP (the
# terminal closes) or SIGTERM leaving no task behind.
#
# Every check on the screen polls it (every 0.1 s, up to a generous limit):
# nothing depends on how fast the machine is. Checks marked "BUG:" show a
# known console bug; they are counted and fail the script at the end, after
# every other case has run.
source tests/integration/lib.sh
rp=$BUILD/repartir
export PATH=/usr/local/bin:/usr/bin:/bin
# grep's `.` must match a whole UTF-8 character (▸, └, ─ on the screen).
export LC_ALL=C.UTF-8
unset TMUX

bugs=0
bug() { echo "FAIL: BUG: $*" >&2; bugs=$((bugs + 1)); }

# ---- bad command lines and no terminal (no tmux needed) ----
for bad in "--workers 0|out of range" "--workers x|not a whole number" \
  "--bogus|unknown option '--bogus'" "--no-store --state-dir $TMPDIR/x|contradict" \
  "--demo --readonly|--readonly forbids" "extra|unexpected argument 'extra'" \
  "--theme=|--theme needs a name" "--state-dir=|needs a directory"; do
  read -ra args <<<"${bad%%|*}"
  XDG_STATE_HOME=$TMPDIR/nothing run_cmd "$rp" console "${args[@]}" </dev/null
  expect_rc 2; expect_err "^repartir: .*${bad#*|}"; [[ -z $out ]] || fail "console ${bad%%|*}: stdout: $out"
done
XDG_STATE_HOME=$TMPDIR/nothing run_cmd "$rp" console --workers 2 </dev/null
expect_rc 3; expect_err '^repartir: console: needs a terminal'
[[ ! -e $TMPDIR/nothing ]] || fail "a console without a terminal made $TMPDIR/nothing"
[[ ! -e $TMPDIR/x ]] || fail "a refused console made its state dir"

# ---- tmux ----
command -v tmux >/dev/null || fail "the console tests need tmux (not found in $PATH)"
sock=$TMPDIR/tmux.sock
tm() { tmux -u -S "$sock" -f /dev/null "$@"; }
# Every console (and so every task) runs with this in its environment: at
# exit, whatever is left of them is killed, by pid.
mark=RP_CONSOLE_TEST=$TMPDIR
ours() {
  local f
  for f in /proc/[0-9]*/environ; do
    grep -qzxF -- "$mark" "$f" 2>/dev/null && { f=${f%/environ}; echo "${f#/proc/}"; }
  done
  return 0
}
cleanup() {
  tm kill-server 2>/dev/null || true
  local pids
  mapfile -t pids < <(ours)
  ((${#pids[@]} == 0)) || kill "${pids[@]}" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 143' TERM INT HUP
# `trap : INT`: a Ctrl-C sent to the pane reaches this shell too (no job
# control here, one process group); it must outlive it to print EXIT=.
printf '%s\n' 'trap : INT' '"$@"' 'echo "EXIT=$?"' 'exec sleep 600' >"$TMPDIR/launch.sh"
mkdir -p "$TMPDIR/home" "$TMPDIR/config/repartir/themes"

S=        # the session of the current case
H=40      # its height
scr=      # its screen, as last captured

line_is() { sed -n "$1p" <<<"$scr" | grep -qE -- "$2"; }
# The jobs pane's line of job ID: border, tag and fold marks, jID.
row() { grep -E -m1 "^.{3}j$1 " <<<"$scr" || true; }
row_is() { row "$1" | grep -qE -- "$2"; }
no_row() { [[ -z $(row "$1") ]]; }
wait_for() { until_screen "no '$1' on the screen after ${2:-10} s" "${2:-10}" has "$1"; }
wait_re() { until_screen "nothing matches /$1/ after ${2:-10} s" "${2:-10}" has_re "$1"; }
wait_gone() { until_screen "'$1' still on the screen after ${2:-10} s" "${2:-10}" lacks "$1"; }
wait_status() {
  until_screen "the status line does not match /$1/ after ${2:-10} s" "${2:-10}" line_is $((H - 1)) "$1"
}
wait_header() { until_screen "the header does not match /$1/" "${2:-10}" line_is 1 "$1"; }
wait_row() { until_screen "job $1's row does not match /$2/ after ${3:-10} s" "${3:-10}" row_is "$1" "$2"; }
wait_no_row() { until_screen "job $1 is still listed" "${2:-10}" no_row "$1"; }
key() { tm send-keys -t "$S" "$@"; }
typed() { tm send-keys -t "$S" -l -- "$1"; }
cmd() { key :; typed "$1"; key Enter; }
# submitted: waits for a "submitted job N" status line newer than the last
# one (N grows), and sets $job to N.
job=0
status_job() { sed -n "$((H - 1))p" <<<"$scr" | grep -oE '^submitted job [0-9]+' | grep -oE '[0-9]+$'; }
newer_job() { local n; n=$(status_job); [[ -n $n ]] && ((n > job)); }
submitted() {
  until_screen "no 'submitted job N' status line for a job after $job" 15 newer_job
  job=$(status_job)
}
flags() { tm display -p -t "$S" 'alt=#{alternate_on} cursor=#{cursor_flag} mouse=#{mouse_any_flag} keypad=#{keypad_cursor_flag}'; }

# start NAME [VAR=VALUE...] -- OPTIONS...: `repartir console OPTIONS` in a
# new 120x40 session NAME, in a clean environment (the VARs added), and
# waits for its first frame.
start() {
  S=$1 H=40 job=0
  shift
  local env=("$mark" PATH="$PATH" HOME="$TMPDIR/home" XDG_STATE_HOME="$TMPDIR/state-$S"
    XDG_CONFIG_HOME="$TMPDIR/config" LANG=C.UTF-8 TERM=xterm-256color)
  while [[ $1 != -- ]]; do env+=("$1"); shift; done
  shift
  # --no-gpu: the GPU in the console is gpu_cli.test.sh's; here the panes
  # keep the sizes these checks count.
  tm new-session -d -s "$S" -x 120 -y 40 -- env -i "${env[@]}" sh "$TMPDIR/launch.sh" "$rp" console --no-gpu "$@"
  wait_for 'workers (' 30
  wait_re '^.{3}jobs \(' 10
}

# idle: the header's counts say nothing is queued or running (they are
# refreshed once a second; q asks or not by them).
idle() { wait_re '^ workers 0/[0-9]+ +queued 0   running 0   ' 15; }
# intact: a full redraw (Ctrl-L) changes nothing in the jobs and detail
# panes: the terminal shows what the console drew. Only when nothing runs
# (elapsed times change) and the sort is newest (:sort newest marks when
# the redraw is done). The detail's times line has its own check (below).
panes() { sed -n "/^.\{3\}jobs (/,$((H - 2))p" <<<"$scr" | grep -v '^. times  '; }
intact() {
  local before
  scr=$(screen); before=$(panes)
  key C-l; cmd 'sort newest'; wait_status '^sorted by newest'
  [[ $(panes) == "$before" ]] || {
    bug "$S: the screen differs from what a full redraw (Ctrl-L) draws:"$'\n'"$(diff <(echo "$before") <(panes))"
  }
}
# exited [noalt]: the console was told to quit: it exits 0 and gives the
# terminal back: cursor shown, mouse and keypad modes off, and (unless noalt:
# a terminal without an alternate screen) its frames gone, only the
# wrapper's line left on the shell's screen.
exited() {
  wait_re '^EXIT=' 15
  has_re '^EXIT=0([^0-9]|$)' || { show; fail "$S: the console did not exit 0"; }
  local f; f=$(flags)
  [[ $f == 'alt=0 cursor=1 mouse=0 keypad=0' ]] || fail "$S: the terminal was not restored: $f"
  if [[ ${1:-} != noalt ]]; then
    [[ $(grep -v '^ *$' <<<"$scr") == EXIT=0 ]] || { show; fail "$S: the console's screen is left after it quit"; }
  fi
  tm kill-session -t "$S"
}

# ---- 1. the submit form; 4. the filter; 5. the help ----
start form -- --workers 2 --state-dir "$TMPDIR/store-form"
wait_for 'no jobs yet: press s to submit one'
f=$(flags)
[[ $f == 'alt=1 cursor=0 mouse=1 keypad=1' ]] || fail "terminal modes while running: $f"
has_re '^.{3}workers \(2\)' || { show; fail "no 'workers (2)' pane"; }
wait_header '^ repartir  embedded engine, store /'; wait_header ' theme default *$'
has_re '^ workers 0/2 .*queued 0   running 0   succeeded 0   failed 0   cancelled 0   timed out 0' ||
  { show; fail "no counts line"; }
line_is "$H" '^s submit  c cancel  r restore' || { show; fail "no footer"; }
# Refusals keep the form open with the reason; Esc closes it.
key s; wait_for 'submit a job'
key Enter; wait_for 'Command: type the program to run'
typed 'true'; key Tab; key Tab; key BSpace; typed 0; wait_re 'Shards +0 '
key Enter; wait_for 'Shards: at least 1'
key Escape; wait_status '^nothing was submitted'; wait_gone 'submit a job'
no_row 1 || { show; fail "a refused form submitted a job"; }
# Submitted through the form: the cursor lands on it; its output in the detail.
key s; wait_for 'submit a job'
typed "sh -c 'echo form-output-42'"
wait_for "sh -c 'echo form-output-42'"
key Enter
submitted; [[ $job == 1 ]] || fail "first job is $job"
wait_status '^submitted job 1: 1 task from 1'
wait_gone 'submit a job'
wait_row 1 'succeeded' 20
wait_for 'detail: job 1'
wait_re "^. command +sh -c 'echo form-output-42'"
wait_re '^. state +succeeded \(exit 0\)'
wait_re '^. ── stdout \(15 B\)'
# Enter: the detail full size (the jobs pane goes); Enter and Esc close it.
key g; key Enter
wait_gone 'jobs ('; wait_for 'detail: job 1'
wait_re '^. form-output-42 '
key Enter; wait_for 'jobs ('
key Enter; wait_gone 'jobs ('
key Escape; wait_for 'jobs ('; wait_row 1 succeeded
# A named job; the filter (/) shows only what matches, Esc clears it.
key s; wait_for 'submit a job'
typed 'true'; key Tab; typed 'zebra-unique'; wait_re 'Name +zebra-unique'
key Enter; submitted; named=$job
wait_row "$named" 'zebra-unique +succeeded' 20
wait_for 'jobs (2 jobs, 2 tasks)'
key /; typed 'zebra'
wait_for 'filter: zebra'; wait_no_row 1; wait_row "$named" zebra-unique
wait_re '^/zebra +\(1 match; Enter keeps, Esc clears\)'
key Escape
wait_gone 'filter: '; wait_row 1 succeeded; wait_row "$named" succeeded
key /; typed 'no-such-thing'
wait_for 'no job matches the filter'; { no_row 1 && no_row "$named"; } || { show; fail "rows left"; }
key Escape; wait_row 1 succeeded; wait_row "$named" succeeded
# The help: any key closes it.
key '?'; wait_for 'help: keys'; wait_for 'this help'; wait_for 'cancel the selected'
key x; wait_gone 'help: keys'; wait_row 1 succeeded
idle; intact
# Nothing runs: q quits at once.
idle; key q; exited

# ---- 2. cancel: n does nothing, y cancels ----
start cancel -- --workers 2 --state-dir "$TMPDIR/store-cancel"
cmd 'submit sleep 300'; submitted; sleeper=$job
wait_status "^submitted job $sleeper \\(task [0-9]+\\)"
wait_row "$sleeper" 'running' 20
wait_for "detail: job $sleeper"
key c; wait_status "^Cancel job $sleeper \\(sleep 300\\)\\? \\[y/n\\]"
key n; wait_status '^nothing was done'
# A job submitted after the answer ends after anything the answer did.
cmd 'submit true'; submitted; wait_row "$job" succeeded 20; wait_for "detail: job $job"
row_is "$sleeper" running || { show; fail "n cancelled job $sleeper"; }
key j; wait_for "detail: job $sleeper"
key c; wait_status "^Cancel job $sleeper \\(sleep 300\\)\\? \\[y/n\\]"
key y; wait_status '^cancel sent to 1 job or task'
wait_row "$sleeper" 'cancelled' 20
wait_re '^. state +cancelled'
# :cancel ID asks nothing.
cmd 'submit sleep 300'; submitted; wait_row "$job" running 20
task=$(sed -n "$((H - 1))p" <<<"$scr" | grep -oE 'task [0-9]+' | grep -oE '[0-9]+')
cmd "cancel $task"; wait_status '^cancel sent to 1 job or task'; wait_row "$job" cancelled 20
cmd 'cancel x'; wait_status '^usage: :cancel TASK-ID'
idle; key q; exited

# ---- 3. a checkpointed task, cancelled, restored from its checkpoint ----
stop=$TMPDIR/stop
start ckpt -- --workers 2 --state-dir "$TMPDIR/store-ckpt"
key s; wait_for 'submit a job'
typed "sh -c 'i=0; [ -n \"\$REPARTIR_RESTORE_FILE\" ] && i=\$(cat \"\$REPARTIR_RESTORE_FILE\"); trap \"\" USR1; while :; do i=\$((i+1)); echo \$i > \"\$REPARTIR_CHECKPOINT_FILE.tmp\"; mv \"\$REPARTIR_CHECKPOINT_FILE.tmp\" \"\$REPARTIR_CHECKPOINT_FILE\"; echo \"at \$i\"; [ -e \"$stop\" ] && break; sleep 0.2; done'"
for _ in 1 2 3 4 5 6 7 8; do key Tab; done
wait_re 'Checkpoints +\[ \] off'
key Space; wait_re 'Checkpoints +\[x\] on'
key Enter; submitted; first=$job
wait_row "$first" running 20
wait_re '^. settings .* checkpoints on'
wait_re "^. checkpoint +task/$first: #[0-9]+ at " 30
key c; wait_status "^Cancel job $first \\(sh -c "
key y; wait_row "$first" cancelled 20
wait_re '^. state +cancelled'
# The newest checkpoint of the cancelled task: its iteration and its state.
run_cmd "$rp" ckpt show "task/$first" --json --state-dir "$TMPDIR/store-ckpt"; expect_rc 0
iter=$(grep -oE '"iteration":[0-9]+' <<<"$out" | grep -oE '[0-9]+$')
run_cmd "$rp" ckpt show "task/$first" --iteration "$iter" --output "$TMPDIR/ck" --state-dir "$TMPDIR/store-ckpt"
expect_rc 0
at=$(tr -d '\n' <"$TMPDIR/ck"); [[ $at =~ ^[0-9]+$ ]] || fail "checkpoint content: $at"
key r; wait_status "^Restore job $first \\(sh -c "
key y; wait_status "^restored task $first as task [0-9]+, from checkpoint $iter\$"
new_task=$(sed -n "$((H - 1))p" <<<"$scr" | grep -oE 'as task [0-9]+' | grep -oE '[0-9]+$')
touch "$stop"
# The cursor follows the new task's job; it goes on from the checkpoint.
wait_re "^. ids +task $new_task  job [0-9]+ " 20
restored=$(grep -oE "^. ids +task $new_task  job [0-9]+" <<<"$scr" | grep -oE '[0-9]+$')
((restored != first)) || { show; fail "the restore is in job $first"; }
wait_for "detail: job $restored"
wait_row "$restored" succeeded 20
wait_re "^. checkpoint +task/$first: #"
key Enter; wait_gone 'jobs ('
wait_re '^. ── stdout \('
grep -A1 -E '^. ── stdout \(' <<<"$scr" | tail -1 | grep -qE "^. at $((at + 1)) " ||
  { show; fail "the restored task did not go on from 'at $at'"; }
key Escape; wait_for 'jobs ('
run_cmd "$rp" sql --state-dir "$TMPDIR/store-ckpt" "SELECT CAST(stdout AS TEXT) FROM tasks WHERE id = $new_task"
expect_rc 0; expect_out "^ *at $((at + 1))\\\\x0A"
run_cmd "$rp" sql --state-dir "$TMPDIR/store-ckpt" "SELECT state FROM tasks WHERE id = $first"
expect_rc 0; expect_out '^ *cancelled *$'
idle; intact; key q; exited

# ---- 8. tags and a bulk cancel ----
start tags -- --workers 4 --state-dir "$TMPDIR/store-tags"
for _ in 1 2 3; do
  cmd 'submit sleep 300'; submitted; wait_row "$job" running 20; wait_for "detail: job $job"
done
# Newest first: the cursor is on job 3, the top row. Space tags and moves down.
wait_row 3 running
key Space; wait_row 3 '^.\* '; wait_for 'detail: job 2'; wait_for '[tagged]'
key Escape; wait_status '^tags cleared'; wait_row 3 '^.  '; wait_gone '[tagged]'
key g; wait_for 'detail: job 3'
key Space; wait_row 3 '^.\* '; wait_for 'detail: job 2'
key Space; wait_row 2 '^.\* '; wait_for 'detail: job 1'
key Space; wait_row 1 '^.\* '
key c; wait_status '^Cancel the 3 tagged rows\? \[y/n\]'
key y; wait_status '^cancel sent to 3 jobs or tasks'
for j in 1 2 3; do wait_row "$j" '^.  .* cancelled ' 20; done
wait_gone '[tagged]'
wait_re '^. command +sleep 300 +.$'
idle; intact
# An ended task's "submitted HH:MM:SS" is one time: every redraw must show
# the same one. (Redraws at different moments of the second: Ctrl-L.)
seen=
for _ in $(seq 25); do
  key C-l; sleep 0.1; scr=$(screen)
  seen+="$(grep -oE '^. times +submitted [0-9:]+' <<<"$scr" | grep -oE '[0-9:]+$')"$'\n'
done
seen=$(sort -u <<<"$seen" | grep . | paste -sd " ")
[[ -n $seen ]] || { show; fail "no 'submitted' time in the detail"; }
[[ $seen == *' '* ]] &&
  bug "the detail's 'submitted' time of an ended task changes between redraws: $seen" \
    "(wall_time: time(NULL) - (now - then) / 1e9, each rounded down on its own)"
key q; exited

# ---- 6. themes ----
printf '# a broken theme\nstate.running = purple-ish\n' >"$TMPDIR/config/repartir/themes/broken.theme"
start theme -- --workers 1 --no-store
wait_header ' theme default *$'
key t; wait_status '^theme [a-z-]+$'
next=$(sed -n "$((H - 1))p" <<<"$scr"); next=${next#theme }
[[ $next != default ]] || fail "t kept the default theme"
wait_header " theme $next *\$"
cmd 'theme light'; wait_status '^theme light$'; wait_header ' theme light *$'
cmd 'theme nosuch'; wait_status "^theme nosuch: no theme 'nosuch': not built in"
wait_header ' theme light *$'
cmd 'theme broken'
wait_status "^theme broken: $TMPDIR/config/repartir/themes/broken.theme:2: unknown colour 'purple-ish'"
wait_header ' theme light *$'
cmd 'theme'; wait_status '^usage: :theme NAME'
# t goes round every theme; a broken one must not stop it (it sorts first,
# so the step after the last theme lands on it).
cmd 'theme solarized-dark'; wait_header ' theme solarized-dark *$'
key t; wait_status '^theme '; key t
cmd 'sort oldest'; wait_status '^sorted by oldest'   # both t handled by now
if line_is 1 ' theme solarized-dark *$'; then
  bug "t is stuck on solarized-dark: the cycle's next theme, broken.theme, fails to load," \
    "and every further t tries it again"
fi
key q; exited
rm "$TMPDIR/config/repartir/themes/broken.theme"

# ---- 7. resize ----
start resize -- --workers 2 --no-store
cmd 'submit true'; submitted; wait_row "$job" succeeded 20
longest() {   # in characters
  local l n=0
  while IFS= read -r l; do ((${#l} <= n)) || n=${#l}; done <<<"$scr"
  echo "$n"
}
frames_ok() {   # every part of the screen is there, as wide as the terminal
  has 'workers (2)' && has_re 'jobs \(1 jobs?, 1 tasks?\)' && has "detail: job $job" && lacks 'needs at least' &&
    line_is 1 '^ repartir  embedded engine.* theme default *$' && line_is "$H" '^s submit  c cancel' &&
    row_is "$job" succeeded && [[ $(longest) == "$1" ]]
}
tm resize-window -t "$S" -x 80 -y 24; H=24
until_screen "the 80x24 screen is not whole" 10 frames_ok 80
tm resize-window -t "$S" -x 70 -y 20; H=20
wait_for 'repartir needs at least 80x24; this terminal is 70x20'
has 'workers (' && { show; fail "frames drawn on a terminal too small"; }
tm resize-window -t "$S" -x 120 -y 40; H=40
until_screen "the 120x40 screen is not whole again" 10 frames_ok 120
cmd 'submit true'; submitted; wait_row "$job" succeeded 20
idle; intact; key q; exited

# ---- 9. vt100, no colour, no UTF-8 ----
start vt100 TERM=vt100 NO_COLOR=1 LANG=C -- --workers 2 --no-store
wait_re '^\+- workers \(2\) -'; wait_re '^\+- jobs \(0 jobs, 0 tasks\)'; wait_re '^s submit  c cancel'
cmd 'submit true'; submitted; wait_row "$job" 'true +succeeded' 20
wait_re "^\\+- detail: job $job -"
LC_ALL=C grep -q $'[\x80-\xff]' <<<"$scr" && { show; fail "non-ASCII on a LANG=C screen"; }
idle; intact; key q; exited noalt

# ---- 11. --readonly (and NO_COLOR on a colour terminal) ----
start readonly NO_COLOR=1 -- --readonly --workers 2 --no-store
line_is "$H" '^Space tag  Enter details ' || { show; fail "footer: $(sed -n "${H}p" <<<"$scr")"; }
line_is "$H" 'read-only *$' ||
  bug "--readonly at 120 columns: the footer's keys fill the line, so its 'read-only' mark" \
    "(drawn only when they leave 10 columns) never shows: '$(sed -n "${H}p" <<<"$scr")'"
has 'submit' && { show; fail "a read-only console offers submit"; }
has 'no jobs yet: press s' && { show; fail "a read-only console says press s"; }
key s; wait_status '^read-only console: actions that change anything are off'
has 'submit a job' && { show; fail "the form opened read-only"; }
key Escape; cmd 'submit true'; wait_status '^read-only console'
key c; wait_status '^read-only console'; key r; wait_status '^read-only console'
# NO_COLOR: attributes only (tmux shows colours as SGR 30-37, 40-47, 90-107, 38;5, 48;5).
colours=$'\e\\[([34][0-7]|9[0-7]|10[0-7]|[34]8;[0-9;]+)m'
tm capture-pane -e -p -t "$S" | grep -qE "$colours" && fail "colours with NO_COLOR set"
key q; exited

# ---- 10. quit: asked while work runs; the preferences are remembered ----
prefs=$TMPDIR/state-prefs
start quit XDG_STATE_HOME="$prefs" -- --workers 2 --state-dir "$TMPDIR/store-quit"
tm capture-pane -e -p -t "$S" | grep -qE "$colours" || fail "no colours on xterm-256color"
cmd 'submit sleep 300'; submitted; wait_row "$job" running 20
wait_re '^ workers 1/2 .*   running 1   '
key q
wait_status '^1 tasks are queued or running; quitting stops them \(they stay queued in the store\)\. Quit\? \[y/n\]'
key n; wait_status '^nothing was done'; row_is "$job" running || { show; fail "n quit"; }
cmd 'theme light'; wait_header ' theme light *$'
key o; wait_for 'sort: oldest'
key /; typed 'sleep'; wait_for 'filter: sleep'; key Enter; wait_status '^([^/]|$)'; wait_row "$job" running
key q; wait_status 'Quit\? \[y/n\]'
key y; exited
grep -qx 'theme = light' "$prefs/repartir/console.conf" || fail "console.conf: $(cat "$prefs/repartir/console.conf")"
grep -qx 'sort = oldest' "$prefs/repartir/console.conf" || fail "console.conf: $(cat "$prefs/repartir/console.conf")"
grep -qx 'filter = sleep' "$prefs/repartir/console.conf" || fail "console.conf: $(cat "$prefs/repartir/console.conf")"
run_cmd "$rp" sql --state-dir "$TMPDIR/store-quit" "SELECT state FROM tasks WHERE job = $job"
expect_rc 0; expect_out '^ *queued *$'
# The next console starts with them; nothing runs, so q quits at once.
start quit2 XDG_STATE_HOME="$prefs" -- --workers 2 --no-store
wait_header ' theme light *$'; wait_for 'sort: oldest  filter: sleep'
key q; exited
# --forget neither loads nor saves them.
start quit3 XDG_STATE_HOME="$prefs" -- --workers 2 --no-store --forget
wait_header ' theme default *$'; wait_for 'sort: newest'; has 'filter:' && { show; fail "--forget loaded the filter"; }
key t; wait_status '^theme '
key q; exited
grep -qx 'theme = light' "$prefs/repartir/console.conf" || fail "--forget saved: $(cat "$prefs/repartir/console.conf")"

# q right after a submit: the task is queued or running, so q must ask.
start quit4 -- --workers 2 --no-store
key : ; typed 'submit sleep 300'; key Enter q
wait_re '(Quit\? \[y/n\]|^EXIT=)' 15
if has 'Quit? [y/n]'; then
  key y
else
  bug "q right after ':submit sleep 300' quit without asking: the question counts the" \
    "running and queued tasks of the header, which are refreshed once a second"
fi
exited

# ---- 13. --demo ----
start demo -- --demo --state-dir "$TMPDIR/store-demo"
wait_status '^demo: [0-9]+ jobs submitted'
wait_re '^.{3}jobs \(([5-9]|[1-9][0-9]+) jobs, '
wait_row 1 'warm-up +succeeded' 30
wait_re '^.{3}j[0-9]+ +flaky upload .*(failed|backoff)' 60
counted=$(sed -n 2p <<<"$scr" | grep -oE '^ workers [0-9]+/[0-9]+' | grep -oE '[0-9]+$')
pane=$(grep -oE 'workers \([0-9]+\)' <<<"$scr" | grep -oE '[0-9]+')
[[ -n $counted && $counted == "$pane" ]] ||
  bug "--demo: the header counts '$counted' workers but the workers pane lists $pane"
key q; wait_status 'Quit\? \[y/n\]'; key y; exited

# ---- the terminal closes (SIGHUP), or SIGTERM: no task may outlive the console ----
for sig in HUP TERM; do
  start "sig$sig" -- --workers 2 --no-store
  cmd "submit sh -c 'sleep 300; : task-$sig-$$'"; submitted; wait_row "$job" running 20
  pgrep -f "task-$sig-$$" >/dev/null || fail "no task-$sig-$$ process"
  if [[ $sig == HUP ]]; then
    tm kill-session -t "$S"
  else
    kill -TERM "$(pgrep -P "$(tm display -p -t "$S" '#{pane_pid}')")"
    wait_re '^EXIT='
    [[ $(flags) == 'alt=0 cursor=1 mouse=0 keypad=0' ]] || fail "SIGTERM: the terminal was not restored: $(flags)"
    tm kill-session -t "$S"
  fi
  end=$((SECONDS + 10))
  while mapfile -t pids < <(pgrep -f "task-$sig-$$"); ((${#pids[@]} > 0 && SECONDS < end)); do
    sleep 0.1
  done
  if ((${#pids[@]} > 0)); then
    bug "SIG$sig to the console (--no-store) leaves its running task behind: pid ${pids[*]}" \
      "runs on, orphaned (q stops it)"
    kill "${pids[@]}" 2>/dev/null || true
  fi
done

# ---- output that would harm a terminal; a running task's output; pause; Ctrl-C ----
start hostile -- --workers 2 --no-store --forget
# NUL bytes, an escape sequence, a right-to-left override, wide characters.
cmd "submit printf 'a\\0b\\033[2Jc\\342\\200\\256d\\n'"; submitted
wait_row "$job" 'succeeded'
wait_re '^. a\.b\.\[2Jc\.\.\.d'
cmd 'submit echo 中文中文中文中文中文中文中文中文中文中文中文中文中文中文'; submitted
wait_row "$job" 'succeeded'
# The wide name stops at its column: the state still lines up under STATE.
# (display columns: wc -L counts a wide character as two)
head_line=$(grep -E '^.  ID ' <<<"$scr"); row_line=$(row "$job")
col=$(printf '%s' "${head_line%%STATE*}" | wc -L)
rcol=$(printf '%s' "${row_line%%succeeded*}" | wc -L)
[[ -n $col && $col == "$rcol" ]] || { show; fail "a wide name pushed the STATE column ($rcol, not $col)"; }
# A running task's output shows before it ends.
cmd "submit sh -c 'echo first-line; exec sleep 300'"; submitted
wait_for 'stdout so far' 10; wait_for 'first-line'
# :cancel jID cancels the whole job, without a question.
cmd "cancel j$job"; wait_row "$job" 'cancelled'
# Paused, the console sleeps: well under 1% of a core over 3 s.
pid=$(pgrep -f -n -x "$rp console --no-gpu --workers 2 --no-store --forget")
key Z; wait_status '^paused'
t0=$(awk '{ print $14 + $15 }' "/proc/$pid/stat"); sleep 3
t1=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
((t1 - t0 <= 3)) || fail "paused, the console used $((t1 - t0)) ticks of CPU in 3 s"
key Z; wait_status '^live again'
# Ctrl-C leaves a prompt; twice at the quit question always quits.
cmd "submit sleep 300"; submitted
key /; typed abc; key C-c; wait_gone 'Enter keeps'
key C-c; wait_for 'Quit? [y/n]'; key C-c
exited

((bugs == 0)) || fail "$bugs check(s) show known console bugs (marked BUG: above)"
