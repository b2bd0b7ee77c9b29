# The repartir command line: help, version, the demo, and bad input.
source tests/integration/lib.sh
rp=$BUILD/repartir

run_cmd "$rp" --version; expect_rc 0; expect_out '^repartir [0-9]+\.[0-9]+\.[0-9]+$'
run_cmd "$rp" version; expect_rc 0; expect_out '^repartir [0-9]'
run_cmd "$rp" --help; expect_rc 0; expect_out 'usage: repartir'; expect_out 'demo'; expect_out 'exit status'
run_cmd "$rp" help demo; expect_rc 0; expect_out '--workers N'
run_cmd "$rp" demo --help; expect_rc 0; expect_out 'usage: repartir demo'
# Alone without a terminal: the usage (on a terminal it is the console).
run_cmd "$rp" </dev/null; expect_rc 0; expect_out 'usage: repartir'; expect_out 'console'
run_cmd "$rp" help </dev/null; expect_rc 0; expect_out 'usage: repartir'
run_cmd "$rp" help console; expect_rc 0; expect_out '--state-dir DIR'; expect_out '--readonly'
# With only options it is the console, which needs a terminal: exit 3.
run_cmd "$rp" --workers 2 </dev/null; expect_rc 3; expect_err 'needs a terminal'

# The demo does real work and says so.
run_cmd "$rp" demo --workers 2; expect_rc 0
expect_out 'a pool of 2 workers'
expect_out 'fib\(30\) = 832040'
expect_out 'sum of x\^2 over 16777216 floats'
expect_out 'ran CCHNLL'

# Bad input: a clear message on stderr, exit 2, nothing run.
run_cmd "$rp" frobnicate; expect_rc 2; expect_err "unknown command 'frobnicate'"
run_cmd "$rp" help frobnicate; expect_rc 2; expect_err "no command 'frobnicate'"
run_cmd "$rp" version extra; expect_rc 2; expect_err 'takes no arguments'
run_cmd "$rp" demo --workers; expect_rc 2; expect_err 'needs a number'
run_cmd "$rp" demo --workers abc; expect_rc 2; expect_err "'abc' is not a whole number"
run_cmd "$rp" demo --workers 0; expect_rc 2; expect_err 'out of range'
run_cmd "$rp" demo --workers 99999999999999999999; expect_rc 2; expect_err 'out of range'
run_cmd "$rp" demo --workers 2x; expect_rc 2; expect_err 'not a whole number'
run_cmd "$rp" demo --bogus; expect_rc 2; expect_err "unknown option '--bogus'"
[[ -z $out ]] || fail "a usage error printed to stdout: $out"
