# GPU (Vulkan) tasks from the command line and the console (docs/cli.md,
# `repartir help run`), on whatever Vulkan driver is installed (lavapipe,
# "llvmpipe ...", in CI). Shaders are compiled here from GLSL with
# glslangValidator, inputs made with python3, and every output checked
# byte for byte against what python3 computes.
#   - `run --spirv`: 2*a+b over 1000 floats (2 inputs, 1 output, --groups
#     computed): exit 0, the "gpu: DEVICE (TYPE), X x Y x Z groups, T ms"
#     and "output 0: BYTES bytes sha256 HEX -> DIR/task1.out0.bin" lines,
#     the file (in the current directory, or --out-dir) byte-exact and its
#     sha256 that of sha256sum; --json carrying that stdout; a shader with
#     two outputs over --groups 4,3,2 (gl_WorkGroupID.x/y/z).
#   - `run --tensor OP --gpu` (matmul, add, sum, softmax): it succeeds,
#     checks itself against double precision, and ran on "gpu (vulkan)".
#   - bad command lines (exit 2, nothing run, the reason on stderr): a
#     missing shader or input, bad --output-size / --groups, too many
#     buffers, the --spirv options without --spirv, --spirv with a command,
#     --shards or no output, --gpu without --tensor; and failures at run
#     time (exit 1, the reason on stderr): random bytes, a truncated or
#     empty module, a binding past the buffers, a 2^40-byte output, more
#     groups than the device takes.
#   - no Vulkan driver (VK_DRIVER_FILES/VK_ICD_FILENAMES at nothing): a
#     shader fails with "no GPU: <why>"; `--tensor --gpu` still succeeds
#     on the CPU, saying the GPU was asked for but none is open.
#   - a shader that outlives --timeout 0.5 fails within 5 s, saying so,
#     and ends "timed_out" as a command does.
#   - the console in tmux (private server, -f /dev/null, HOME and XDG
#     directories in $TMPDIR, --no-store, 200x45 so the GPU's part of the
#     header fits): the header says "gpu ready ... llvmpipe ...", the workers
#     pane has a GPU row gpu0; a --spirv job typed in the submit form runs
#     on gpu0 as "spirv saxpy.spv, 2 in, 1 out", its detail shows the
#     "gpu: ..." stdout and the output file lands in the console's current
#     directory; a --tensor job with backend gpu runs on the GPU; the form
#     refuses the --groups `repartir run` refuses (1,2,3,4). Without a
#     driver the header says "gpu unavailable: <why>", a --spirv job fails
#     with "no GPU" and a plain command still succeeds; with --no-gpu the
#     header says nothing of a GPU, there is no gpu0 row and the form
#     refuses a shader.
# Checks marked "BUG:" showed product bugs (both fixed: a timed-out shader
# ended "failed", and the form read --groups with sscanf); they are
# counted and fail the script at the end, after every other check has run.
# Every command and every wait is bounded.
source tests/integration/lib.sh
rp=$BUILD/repartir
export PATH=/usr/local/bin:/usr/bin:/bin
# grep's `.` must match a whole UTF-8 character (the console's borders).
export LC_ALL=C.UTF-8
unset TMUX

bugs=0
bug() { echo "FAIL: BUG: $*" >&2; bugs=$((bugs + 1)); }
expect_out_has() { grep -qF -- "$1" <<<"$out" || fail "stdout lacks '$1': $out"; }
expect_err_has() { grep -qF -- "$1" <<<"$err" || fail "stderr lacks '$1': $err"; }
# rp_run ARGS...: `repartir ARGS` bounded to 60 s, into $out $err $rc.
rp_run() { run_cmd timeout 60 "$rp" "$@"; [[ $rc != 124 ]] || fail "repartir $* ran past 60 s"; }
# same FILE EXPECTED: byte for byte.
same() { cmp -s -- "$1" "$2" || fail "$1 differs from $2 ($(cmp -- "$1" "$2" 2>&1 || true))"; }
sha() { sha256sum -- "$1" | cut -d' ' -f1; }

for tool in glslangValidator python3 sha256sum tmux; do
  command -v "$tool" >/dev/null || fail "the GPU tests need $tool (not found in $PATH)"
done

# Every console (and so every task it runs) has this in its environment:
# at exit, whatever is left of them is waited for, then killed, by pid, so
# none writes into $TMPDIR as it is removed.
mark=RP_GPU_TEST=$TMPDIR
ours() {
  local f
  for f in /proc/[0-9]*/environ; do
    grep -qzxF -- "$mark" "$f" 2>/dev/null && { f=${f%/environ}; echo "${f#/proc/}"; }
  done
  return 0
}
cleanup() {
  local left
  tmux -S "$TMPDIR/tmux.sock" kill-server 2>/dev/null || true
  for _ in $(seq 50); do
    mapfile -t left < <(ours)
    ((${#left[@]} == 0)) && return 0
    sleep 0.1
  done
  kill -KILL "${left[@]}" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 143' TERM INT HUP

# Everything from here runs in a private directory: `run --spirv` writes
# its outputs to the current one by default.
w=$TMPDIR/w
mkdir -p "$w"
cd "$w" || fail "cannot cd to $w"

# compile NAME: NAME.comp (already written) into NAME.spv.
compile() {
  timeout 30 glslangValidator -V --target-env vulkan1.2 -o "$1.spv" "$1.comp" >"$1.log" 2>&1 ||
    fail "glslangValidator $1.comp: $(cat "$1.log")"
}

# ---- shaders and data ----
cat >saxpy.comp <<'EOF'
#version 450
layout(local_size_x = 64) in;
layout(set = 0, binding = 0) readonly buffer A { float a[]; };
layout(set = 0, binding = 1) readonly buffer B { float b[]; };
layout(set = 0, binding = 2) writeonly buffer O { float o[]; };
void main() {
  uint i = gl_GlobalInvocationID.x;
  if (i < 1000u) o[i] = 2.0 * a[i] + b[i];
}
EOF
# Two outputs over an X x Y x Z grid of one-invocation groups: out0 has
# each group's coordinates, out1 its linear index times k[0].
cat >grid.comp <<'EOF'
#version 450
layout(local_size_x = 1) in;
layout(set = 0, binding = 0) readonly buffer K { uint k[]; };
layout(set = 0, binding = 1) writeonly buffer O0 { uint o0[]; };
layout(set = 0, binding = 2) writeonly buffer O1 { uint o1[]; };
void main() {
  uvec3 g = gl_WorkGroupID, n = gl_NumWorkGroups;
  uint i = g.x + n.x * (g.y + n.y * g.z);
  o0[i] = g.x * 10000u + g.y * 100u + g.z;
  o1[i] = i * k[0];
}
EOF
# Binding 2 with only 2 buffers given.
cat >bind2.comp <<'EOF'
#version 450
layout(local_size_x = 1) in;
layout(set = 0, binding = 0) buffer A { uint a[]; };
layout(set = 0, binding = 1) buffer B { uint b[]; };
layout(set = 0, binding = 2) buffer C { uint c[]; };
void main() { c[0] = a[0] + b[0]; }
EOF
# Never ends in time: lavapipe caps each loop at 65535 iterations, so the
# grid is what takes long (65535 x 65535 invocations of up to 65535 each).
cat >spin.comp <<'EOF'
#version 450
layout(local_size_x = 1) in;
layout(set = 0, binding = 0) coherent volatile buffer A { uint a[]; };
layout(set = 0, binding = 1) buffer O { uint o[]; };
void main() {
  uint n = 0u;
  while (a[0] != 12345u && n < 200000000u) { n++; atomicAdd(a[1], 1u); }
  o[0] = n;
}
EOF
for s in saxpy grid bind2 spin; do compile "$s"; done

timeout 30 python3 - <<'EOF' || fail "python3 could not make the inputs"
import random, struct
random.seed(7)
f32 = lambda v: struct.unpack('<f', struct.pack('<f', v))[0]
# Magnitudes within a factor 8 of each other: 2a+b is exact in double, so
# packing it rounds once, as the GPU does.
a = [f32(random.choice((-1, 1)) * random.uniform(1, 2)) for _ in range(1000)]
b = [f32(random.choice((-1, 1)) * random.uniform(1, 2)) for _ in range(1000)]
open('a.bin', 'wb').write(struct.pack('<1000f', *a))
open('b.bin', 'wb').write(struct.pack('<1000f', *b))
open('saxpy.want', 'wb').write(struct.pack('<1000f', *[2 * x + y for x, y in zip(a, b)]))
X, Y, Z = 4, 3, 2
open('k.bin', 'wb').write(struct.pack('<I', 7))
o0 = [0] * (X * Y * Z); o1 = [0] * (X * Y * Z)
for z in range(Z):
    for y in range(Y):
        for x in range(X):
            i = x + X * (y + Y * z)
            o0[i] = x * 10000 + y * 100 + z
            o1[i] = i * 7
open('grid0.want', 'wb').write(struct.pack('<%dI' % len(o0), *o0))
open('grid1.want', 'wb').write(struct.pack('<%dI' % len(o1), *o1))
open('z8.bin', 'wb').write(bytes(8))
open('z4.bin', 'wb').write(bytes(4))
EOF
head -c 1000 /dev/urandom >rand.spv
head -c 200 saxpy.spv >trunc.spv
: >empty.spv
[[ $(stat -c %s saxpy.spv) -gt 200 ]] || fail "saxpy.spv is too small to truncate"

n=1000 local_size=64
groups=$(((n + local_size - 1) / local_size))
saxpy=(--spirv saxpy.spv --input a.bin --input b.bin --output-size $((n * 4)) --groups "$groups")
gpu_re='^gpu: [^ ].* \([a-z -]+\), '

# ---- run --spirv: 2a+b, the output in the current directory ----
rp_run run "${saxpy[@]}"
expect_rc 0
expect_out "${gpu_re}${groups} x 1 x 1 groups, [0-9.]+ ms\$"
expect_out "^output 0: 4000 bytes sha256 [0-9a-f]{64} -> $w/task1\\.out0\\.bin\$"
[[ $(wc -l <<<"$out") == 2 ]] || fail "--spirv: not two lines: $out"
[[ -z $err ]] || fail "--spirv: stderr: $err"
[[ -f task1.out0.bin ]] || fail "--spirv: no task1.out0.bin in the current directory ($(ls))"
same task1.out0.bin saxpy.want
expect_out_has "sha256 $(sha task1.out0.bin) -> "
device=$(sed -nE 's/^gpu: (.*) \(([a-z -]+)\), .*/\1/p' <<<"$out")
[[ -n $device ]] || fail "no device name in: $out"
device_re=$(sed 's/[][\\.*^$(){}+?|]/\\&/g' <<<"$device")

# --out-dir, and --json carrying the same stdout.
mkdir -p od
rp_run run --json "${saxpy[@]}" --out-dir od
expect_rc 0
expect_out_has '"state":"succeeded"'
expect_out_has '"exit_code":0'
expect_out_has "\"stdout\":\"gpu: $device ("
expect_out_has "groups, "
expect_out_has "\\noutput 0: 4000 bytes sha256 $(sha saxpy.want) -> $w/od/task1.out0.bin\\n\""
expect_out_has '"succeeded":1,"failed":0'
[[ -z $err ]] || fail "--spirv --json: stderr: $err"
same od/task1.out0.bin saxpy.want

# Two outputs over a 3-D grid.
mkdir -p od2
rp_run run --spirv grid.spv --input k.bin --output-size 96 --output-size 96 --groups 4,3,2 \
  --out-dir od2
expect_rc 0
expect_out "${gpu_re}4 x 3 x 2 groups, [0-9.]+ ms\$"
expect_out "^output 0: 96 bytes sha256 $(sha grid0.want) -> $w/od2/task1\\.out0\\.bin\$"
expect_out "^output 1: 96 bytes sha256 $(sha grid1.want) -> $w/od2/task1\\.out1\\.bin\$"
[[ $(wc -l <<<"$out") == 3 ]] || fail "two outputs: not three lines: $out"
same od2/task1.out0.bin grid0.want
same od2/task1.out1.bin grid1.want

# ---- --tensor --gpu ----
for spec in matmul:300x200x100 add:100000 sum:100001 softmax:300x333; do
  rp_run run --tensor "$spec" --gpu
  expect_rc 0
  expect_out "^tensor $spec@1: "
  expect_out '^(checksum|result) -?[0-9.e+-]+; checked against double precision$'
  [[ -z $err ]] || fail "--tensor $spec --gpu: stderr: $err"
  # The op waits for the GPU still opening (before 24707e5 it found "none
  # open" and ran on the CPU).
  expect_out "^tensor $spec@1: gpu \\(vulkan\\), 1 thread, 1 piece, [0-9.]+ ms, "
  expect_out "^chose gpu: $device_re, as the task asked \\(backend gpu\\)\$"
done

# ---- bad command lines: exit 2, nothing run, the reason ----
marker=$TMPDIR/ran
rm -f task*.bin
outs17=()
for _ in $(seq 17); do outs17+=(--output-size 4); done
bad_cli() {
  local why=$1; shift
  rp_run run "$@"
  expect_rc 2
  expect_err '^repartir: '
  expect_err_has "$why"
  [[ -z $out ]] || fail "run $*: stdout: $out"
}
bad_cli "--spirv: cannot read 'nope.spv': No such file" --spirv nope.spv --output-size 4
bad_cli "--spirv: cannot read '': empty name" --spirv '' --output-size 4
bad_cli "--input: cannot read 'nope.bin': No such file" --spirv saxpy.spv --input nope.bin \
  --output-size 4
bad_cli "--input: cannot read '$w': not a readable file" --spirv saxpy.spv --input "$w" \
  --output-size 4
for v in 0 -5 abc 2199023255552 1099511627777 ''; do
  bad_cli "--output-size: '$v' is not a size in bytes (1 to 2^40)" --spirv saxpy.spv \
    --input a.bin --output-size "$v"
done
for v in 0 1,2,3,4 x 1,,2 1,0 4294967296 -1; do
  bad_cli "--groups: '$v' is not X[,Y[,Z]] workgroup counts" "${saxpy[@]}" --groups "$v"
done
bad_cli "--output-size: at most 16 buffers in all" --spirv saxpy.spv "${outs17[@]}"
bad_cli "--input, --output-size, --groups and --out-dir go with --spirv" --input a.bin -- touch "$marker"
bad_cli "--input, --output-size, --groups and --out-dir go with --spirv" --output-size 4 -- touch "$marker"
bad_cli "--input, --output-size, --groups and --out-dir go with --spirv" --groups 2 -- touch "$marker"
bad_cli "--input, --output-size, --groups and --out-dir go with --spirv" --out-dir od -- touch "$marker"
bad_cli "--spirv runs a shader, not a command: drop 'touch'" "${saxpy[@]}" -- touch "$marker"
bad_cli "--spirv takes no --tensor, --checkpoint, --env, --cwd, --shards" "${saxpy[@]}" --shards 2
bad_cli "--spirv takes no" "${saxpy[@]}" --tensor add:10
bad_cli "--spirv takes no" "${saxpy[@]}" --retries 1
bad_cli "--spirv needs at least one --output-size" --spirv saxpy.spv --input a.bin --input b.bin
bad_cli "--gpu goes with --tensor" --gpu -- touch "$marker"
bad_cli "--out-dir: '$w/nowhere'" "${saxpy[@]}" --out-dir "$w/nowhere"
[[ ! -e $marker ]] || fail "a refused command line ran its command"
[[ -z $(ls task*.bin 2>/dev/null) ]] || fail "a refused command line wrote $(ls task*.bin)"

# ---- failures at run time: exit 1, the reason on stderr ----
bad_run() {
  local why=$1; shift
  rp_run run "$@"
  expect_rc 1
  expect_err_has "$why"
  grep -q '^output ' <<<"$out" && fail "run $*: an output: $out"
  return 0
}
bad_run "invalid SPIR-V: bad magic number" --spirv rand.spv --output-size 4
bad_run "invalid SPIR-V: " --spirv trunc.spv --output-size 4
bad_run "invalid SPIR-V: shorter than its header" --spirv empty.spv --output-size 4
bad_run "the shader uses binding 2 but has only 2 buffers" --spirv bind2.spv --input z4.bin \
  --output-size 4
bad_run "out of device memory: output 0 of 1048576 MiB; $device allows " --spirv saxpy.spv \
  --input a.bin --input b.bin --output-size 1099511627776 --groups $groups
bad_run "70000 x 1 x 1 groups: $device takes 1..65535" "${saxpy[@]}" --groups 70000
bad_run "1 x 1 x 70000 groups: $device takes " "${saxpy[@]}" --groups 1,1,70000
[[ -z $(ls task*.bin 2>/dev/null) ]] || fail "a failed shader wrote $(ls task*.bin)"

# ---- a shader past its --timeout ----
spin=(--spirv spin.spv --input z8.bin --output-size 4 --groups 65535,65535 --timeout 0.5)
start=$(date +%s%N)
rp_run run "${spin[@]}"
ms=$((($(date +%s%N) - start) / 1000000))
expect_rc 1
expect_err_has "timed out: the shader did not finish within 500 ms"
((ms < 5000)) || fail "a shader with --timeout 0.5 took $ms ms to fail"
[[ ! -e task1.out0.bin ]] || fail "a timed-out shader wrote task1.out0.bin"
rp_run run --json "${spin[@]}"
expect_rc 1
expect_out_has '"error":"timed out: the shader did not finish within 500 ms'
# BUG (fixed): docs/tasks.md: TIMED_OUT is the state of a task whose
# attempt outlived rp_task_set_timeout_ms, as a command's does
# ("timed_out"); a shader's ended "failed".
grep -qF '"state":"timed_out"' <<<"$out" ||
  bug "a shader past --timeout ends $(grep -oE '"state":"[a-z_]+"' <<<"$out"), not \"timed_out\" (a command's does): $out"

# ---- no Vulkan driver ----
nodrv=(env VK_DRIVER_FILES=/nonexistent.json VK_ICD_FILENAMES=/nonexistent.json)
run_cmd timeout 60 "${nodrv[@]}" "$rp" run "${saxpy[@]}"
expect_rc 1
expect_err '^repartir: no GPU: .*[a-z]'
expect_err_has 'no GPU: no Vulkan driver'
[[ -z $out ]] || fail "no driver: stdout: $out"
[[ ! -e task1.out0.bin ]] || fail "no driver: task1.out0.bin written"
run_cmd timeout 60 "${nodrv[@]}" "$rp" run --tensor matmul:64x64x64 --gpu
expect_rc 0
expect_out '^tensor matmul:64x64x64@1: (simd|scalar) \('
expect_out '^chose (simd|scalar): .*gpu: none open, though the task asked for it'
expect_out 'checked against double precision$'

# ---- the console ----
sock=$TMPDIR/tmux.sock
tm() { tmux -u -S "$sock" -f /dev/null "$@"; }
printf '%s\n' 'trap : INT' '"$@"' 'echo "EXIT=$?"' 'exec sleep 600' >"$TMPDIR/launch.sh"
mkdir -p "$TMPDIR/home" "$TMPDIR/config"
S= scr=
header() { head -n 3 <<<"$scr"; }
row() { grep -E -m1 "^.{3}j$1 " <<<"$scr" || true; }
row_is() { row "$1" | grep -qE -- "$2"; }
wait_for() { until_screen "no '$1' on the screen after ${2:-10} s" "${2:-10}" has "$1"; }
wait_re() { until_screen "nothing matches /$1/ after ${2:-10} s" "${2:-10}" has_re "$1"; }
wait_gone() { until_screen "'$1' still on the screen after ${2:-10} s" "${2:-10}" lacks "$1"; }
wait_row() { until_screen "job $1's row does not match /$2/ after ${3:-10} s" "${3:-10}" row_is "$1" "$2"; }
key() { tm send-keys -t "$S" "$@"; }
# -l --: a leading "--" would be taken as send-keys' own.
typed() { tm send-keys -t "$S" -l -- "$1"; }
idle() { wait_re '^ workers 0/[0-9]+ +queued 0   running 0   ' 15; }
exited() {
  wait_re '^EXIT=' 15
  has_re '^EXIT=0([^0-9]|$)' || { show; fail "$S: the console did not exit 0"; }
  tm kill-session -t "$S"
}
# submit_form LINE: types LINE into the submit form and presses Enter.
submit_form() {
  key s; wait_for 'submit a job'
  local tail=$1
  ((${#tail} <= 20)) || tail=${tail: -20}
  typed "$1"; wait_for "$tail"
  key Enter
}
# start NAME DIR [VAR=VALUE...] -- OPTIONS...: `repartir console OPTIONS`
# in DIR, in a 200x45 session and a clean environment plus the VARs; waits
# for its first frame.
start() {
  S=$1
  local dir=$2 vars=()
  shift 2
  while [[ $1 != -- ]]; do vars+=("$1"); shift; done
  shift
  mkdir -p "$dir"
  tm new-session -d -s "$S" -c "$dir" -x 200 -y 45 -- env -i PATH="$PATH" HOME="$TMPDIR/home" \
    XDG_STATE_HOME="$TMPDIR/state-$S" XDG_CONFIG_HOME="$TMPDIR/config" LANG=C.UTF-8 \
    TERM=xterm-256color "$mark" "${vars[@]}" sh "$TMPDIR/launch.sh" "$rp" console "$@"
  wait_for 'workers (' 30
  wait_re '^.{3}jobs \(' 10
}
spirv_line="--spirv saxpy.spv --input a.bin --input b.bin --output-size 4000 --groups $groups"

# With the GPU: ready in the header, gpu0 in the workers pane.
c1=$TMPDIR/console1
mkdir -p "$c1"; cp saxpy.spv a.bin b.bin grid.spv k.bin "$c1/"
start gpu "$c1" -- --no-store --workers 2
wait_re "gpu ready   spirv 0   tensor ops 0   $device_re \\([0-9]+ CUs?, [a-z -]+\\)" 20
header | grep -qF 'gpu opening' && { show; fail "the header says both opening and ready"; }
wait_re ' gpu0 +idle .* GPU( |$)'
wait_re ' proc0 +idle .* CPU( |$)'
submit_form "$spirv_line"
wait_re '^submitted job 1: 1 task' 15
wait_gone 'submit a job'
wait_row 1 'spirv saxpy\.spv, 2 in, 1 out +succeeded +gpu +gpu0 +1/1 .* exit 0' 30
wait_for 'detail: job 1'
wait_re '. command +spirv saxpy\.spv, 2 in, 1 out '
wait_re '. state +succeeded \(exit 0\)'
wait_re ". gpu: $device_re \\([a-z -]+\\), $groups x 1 x 1 groups, [0-9.]+ ms "
wait_re ". output 0: 4000 bytes sha256 $(sha saxpy.want | cut -c1-20)"
wait_re "gpu ready   spirv 1   tensor ops 0   $device_re"
wait_re ' gpu0 +idle .* - +1 +[^ ]+ GPU( |$)'
[[ -f $c1/task1.out0.bin ]] || fail "the console's shader wrote no $c1/task1.out0.bin ($(ls "$c1"))"
same "$c1/task1.out0.bin" saxpy.want
# A tensor op with backend gpu (Tab to Backend, Space twice: any, cpu, gpu).
key s; wait_for 'submit a job'
typed '--tensor matmul:300x200x100'; wait_for '--tensor matmul:300x200x100'
key Tab Tab Tab Tab Space Space; wait_re 'Backend +< gpu >'
key Enter
wait_re '^submitted job 2: 1 task' 15
wait_row 2 'tensor matmul:300x200x100@1 +succeeded +gpu ' 30
wait_for 'detail: job 2'
wait_re '. tensor matmul:300x200x100@1: gpu \(vulkan\), 1 thread, 1 piece, '
wait_re ". chose gpu: $device_re, as the task asked \\(backend gpu\\)"
wait_re '. checksum -?[0-9.]+; checked against double precision '
wait_re "gpu ready   spirv 1   tensor ops 1   $device_re"
# BUG (fixed): the form read --groups with sscanf("%u,%u,%u"), so it took
# what `repartir run` refuses: 1,2,3,4 ran as 1,2,3 (and 2x as 2, -1 as
# 4294967295). Both now parse with rp__groups_parse.
submit_form '--spirv grid.spv --input k.bin --output-size 96 --output-size 96 --groups 1,2,3,4'
until_screen "neither refused nor submitted after 10 s" 10 \
  eval "has \"--groups: '1,2,3,4' is not\" || has_re '^submitted job 3: '"
if has_re '^submitted job 3: '; then
  bug "the console's form took --groups 1,2,3,4 (run refuses it: not X[,Y[,Z]])"
  wait_row 3 'spirv grid\.spv, 1 in, 2 out +(succeeded|failed) ' 30
else
  has 'submit a job' || { show; fail "a refused --groups closed the form"; }
  key Escape; wait_gone 'submit a job'
fi
idle; key q; exited

# No driver: unavailable, and why; a shader fails, a command still runs.
c2=$TMPDIR/console2
mkdir -p "$c2"; cp saxpy.spv a.bin b.bin "$c2/"
start nodriver "$c2" VK_DRIVER_FILES=/nonexistent.json VK_ICD_FILENAMES=/nonexistent.json \
  -- --no-store --workers 2
wait_re 'gpu unavailable: no Vulkan driver: [a-zA-Z]' 20
header | grep -qF 'gpu ready' && { show; fail "no driver, yet the header says ready"; }
submit_form "$spirv_line"
wait_re '^submitted job 1: 1 task' 15
wait_row 1 'spirv saxpy\.spv, 2 in, 1 out +failed +gpu ' 30
wait_for 'detail: job 1'
wait_re '. state +failed: no GPU: no Vulkan driver'
[[ ! -e $c2/task1.out0.bin ]] || fail "no driver, yet $c2/task1.out0.bin was written"
submit_form 'true'
wait_re '^submitted job 2: 1 task' 15
wait_row 2 'true +succeeded +any +proc[0-9] ' 30
wait_re 'gpu unavailable: no Vulkan driver'
idle; key q; exited

# --no-gpu: no GPU in the header or the workers pane; a shader is refused.
c3=$TMPDIR/console3
mkdir -p "$c3"; cp saxpy.spv a.bin b.bin "$c3/"
start nogpu "$c3" -- --no-store --workers 2 --no-gpu
wait_re ' proc1 +idle .* CPU( |$)'
wait_re '^ workers 0/2 '
header | grep -qi 'gpu' && { show; fail "--no-gpu: the header speaks of a GPU"; }
has 'gpu0' && { show; fail "--no-gpu: a gpu0 row"; }
submit_form "$spirv_line"
wait_for 'no usable GPU'
has 'submit a job' || { show; fail "--no-gpu: a refused shader closed the form"; }
key Escape; wait_gone 'submit a job'
[[ -z $(row 1) ]] || { show; fail "--no-gpu: a refused shader became job 1"; }
idle; key q; exited

((bugs == 0)) || fail "$bugs check(s) marked BUG failed (above)"
