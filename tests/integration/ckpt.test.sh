# `repartir ckpt ls|show|rm|gc` and `repartir sql` on a real store: listing,
# loading and verifying (a damaged checkpoint skipped), extracting bytes,
# removing, retention, read-only SQL (writes refused, the store unchanged),
# JSON, bad command lines, and a missing store that must stay missing.
# No command saves, so a small C program against the library makes the
# store. Everything lives under $TMPDIR; the user's state is never touched.
source tests/integration/lib.sh
rp=$BUILD/repartir
st=$TMPDIR/state
# Local time is printed: make it UTC.
export TZ=UTC

expect_out_has() { grep -qF -- "$1" <<<"$out" || fail "stdout lacks '$1': $out"; }
expect_err_has() { grep -qF -- "$1" <<<"$err" || fail "stderr lacks '$1': $err"; }
expect_no_out() { [[ -z $out ]] || fail "expected nothing on stdout, got: $out"; }
count_blobs() { find "$st/blobs" -type f -name '*.blob' | wc -l; }

# ---- help, generated from the tables ----
run_cmd "$rp" help ckpt; expect_rc 0
expect_out 'usage: repartir ckpt ls\|show\|rm\|gc'
for o in json iteration output keep max-age state-dir; do expect_out "--$o"; done
for s in 'ls \[KEY\]' 'show KEY' 'rm KEY' 'gc \[--keep N\]'; do expect_out "$s"; done
run_cmd "$rp" sql --help; expect_rc 0; expect_out 'usage: repartir sql'; expect_out '--state-dir DIR'
run_cmd "$rp" --help; expect_rc 0; expect_out '^  ckpt '; expect_out '^  sql '

# ---- no store: exit 1, a clear message, and nothing created ----
none=$TMPDIR/none/store
for c in "ckpt ls" "ckpt show k" "ckpt rm k" "ckpt gc --keep 1" "sql SELECT"; do
  # shellcheck disable=SC2086 # word splitting is the point
  run_cmd "$rp" $c --state-dir "$none"
  expect_rc 1; expect_err_has "no store at $none"; expect_no_out
done
[[ ! -e $TMPDIR/none ]] || fail "a read command created $TMPDIR/none"
# The default place (XDG), never the real one: a private HOME.
run_cmd env -u XDG_STATE_HOME HOME="$TMPDIR/home" "$rp" ckpt ls
expect_rc 1; expect_err_has "no store at $TMPDIR/home/.local/state/repartir"
run_cmd env XDG_STATE_HOME="$TMPDIR/xdg" HOME="$TMPDIR/home" "$rp" sql 'SELECT 1'
expect_rc 1; expect_err_has "no store at $TMPDIR/xdg/repartir"
[[ ! -e $TMPDIR/home && ! -e $TMPDIR/xdg ]] || fail "a read command created the default store"
mkdir "$TMPDIR/empty"
run_cmd "$rp" ckpt ls --state-dir "$TMPDIR/empty"; expect_rc 1; expect_err_has 'has no store.db'
[[ -z $(ls -A "$TMPDIR/empty") ]] || fail "ckpt ls wrote into an empty directory"

# ---- a store, made by a small program against the library ----
cat >"$TMPDIR/saver.c" <<'C'
/* saver DIR KEY ITERATION KIND SIZE [COPY]: saves SIZE bytes of KIND (text,
 * floats, random) as checkpoint ITERATION of KEY, and writes them to COPY.
 * saver DIR --backdate KEY SECONDS: makes KEY's checkpoints that much older. */
#include <repartir.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(int argc, char **argv) {
    if (argc == 5 && strcmp(argv[2], "--backdate") == 0) {
        char path[4096];
        sqlite3 *db;
        sqlite3_stmt *st;
        snprintf(path, sizeof path, "%s/store.db", argv[1]);
        if (sqlite3_open(path, &db) != SQLITE_OK ||
            sqlite3_prepare_v2(db, "UPDATE checkpoints SET created_ms = created_ms - ? * 1000"
                                   " WHERE key = ?", -1, &st, NULL) != SQLITE_OK)
            return 1;
        sqlite3_bind_int64(st, 1, atoll(argv[4]));
        sqlite3_bind_text(st, 2, argv[3], -1, SQLITE_STATIC);
        int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : 1;
        sqlite3_finalize(st);
        sqlite3_close(db);
        return rc;
    }
    if (argc < 6) return 2;
    size_t n = strtoull(argv[5], NULL, 10);
    unsigned char *d = malloc(n ? n : 1);
    unsigned long long x = strtoull(argv[3], NULL, 10) * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        if (strcmp(argv[4], "text") == 0)
            d[i] = "hello checkpoint "[i % 17];
        else if (strcmp(argv[4], "floats") == 0)   /* float32-like: shuffles well */
            d[i] = i % 4 == 3 ? 0x3f : i % 4 == 2 ? (unsigned char)(0x80 + (x >> 60))
                                                  : (unsigned char)(x >> 56);
        else
            d[i] = (unsigned char)(x >> 56);
    }
    rp_ckpt *s;
    char *why = NULL;
    if (rp_ckpt_open_why(argv[1], &s, &why) != RP_OK) { fprintf(stderr, "%s\n", why); return 1; }
    rp_status status = rp_ckpt_save(s, argv[2], strtoull(argv[3], NULL, 10), d, n);
    rp_ckpt_close(s);
    if (status != RP_OK) { fprintf(stderr, "save: %s\n", rp_strerror(status)); return 1; }
    if (argc > 6) { FILE *f = fopen(argv[6], "wb"); fwrite(d, 1, n, f); fclose(f); }
    free(d);
    return 0;
}
C
san=()
case $(basename "$BUILD") in
  build-asan) san=("-fsanitize=address,undefined") ;;
  build-tsan) san=(-fsanitize=thread) ;;
esac
# shellcheck disable=SC2046 # pkg-config's words are separate flags
"${CC:-cc}" -std=c17 -O1 "${san[@]}" -Iinclude -o "$TMPDIR/saver" "$TMPDIR/saver.c" \
  "$BUILD/librepartir.a" -pthread $(pkg-config --libs sqlite3 libzstd libcrypto) -lm \
  || fail "cannot build the saver"
save() { "$TMPDIR/saver" "$st" "$@" || fail "saver $*"; }
save model 1 floats 2000000 "$TMPDIR/model1"     # > 1 MiB: streamed to a file
save model 2 floats 2000000 "$TMPDIR/model2"
save notes 7 text 1000                            # compresses, inline
save notes 8 text 1000 "$TMPDIR/notes8"
save noise 1 random 200000                        # incompressible, a file
save empty 0 text 0
save $'odd\x01\xff' 3 text 10                     # any bytes but NUL
[[ $(count_blobs) -eq 3 ]] || fail "expected 3 blob files, found $(count_blobs)"

# ---- ls ----
run_cmd "$rp" ckpt ls --state-dir "$st"; expect_rc 0
expect_out '^KEY +ITERATION +SAVED +CODEC +RAW +STORED +RATIO +WHERE$'
expect_out '^model +2 +20[0-9]{2}-[0-9]{2}-[0-9]{2} [0-9:]{8} +shuffle4\+zstd +1\.9 MiB +[0-9.]+ MiB +[0-9.]+x +file$'
expect_out '^notes +8 .* zstd +1000 B +[0-9]+ B +[0-9.]+x +inline$'
expect_out '^noise +1 .* raw +195\.3 KiB +195\.3 KiB +1\.00x +file$'
expect_out '^empty +0 .* raw +0 B +0 B +- +inline$'
expect_out '^odd\\x01\\xFF +3 '                     # shown escaped, not raw
[[ $(grep -c '^model ' <<<"$out") -eq 2 ]] || fail "two model rows expected: $out"
# Newest first within a key.
[[ $(grep -E '^(model|notes) ' <<<"$out" | awk '{print $2}' | tr '\n' ' ') == '2 1 8 7 ' ]] ||
  fail "not newest first: $out"
run_cmd "$rp" ckpt ls notes --state-dir "$st"; expect_rc 0
[[ $(wc -l <<<"$out") -eq 3 ]] || fail "ls notes: $out"
run_cmd "$rp" ckpt ls nosuch --state-dir "$st"; expect_rc 1; expect_err_has "no checkpoint of key 'nosuch'"
run_cmd "$rp" ckpt ls --json --state-dir "$st"; expect_rc 0
[[ $(wc -l <<<"$out") -eq 1 ]] || fail "the JSON is not one line: $out"
expect_out '^\[\{"key":"empty","iteration":0,"created_ms":[0-9]{13},"saved_at":"20[0-9-]{8}T[0-9:]{8}\.[0-9]{3}\+00:00"'
expect_out_has '"key":"model","iteration":2,'
expect_out_has '"codec":"shuffle4+zstd","raw_size":2000000,"stored_size":'
expect_out_has '"ratio":null,"stored":"inline"}'
expect_out_has '"stored":"file"}'
expect_out_has '"key_base64":"b2RkAf8="'               # not UTF-8: base64
run_cmd "$rp" ckpt ls notes --json --state-dir="$st"; expect_rc 0
[[ $(grep -o '"key":"notes"' <<<"$out" | wc -l) -eq 2 ]] || fail "ls notes --json: $out"

# ---- show: load, verify, describe, extract ----
run_cmd "$rp" ckpt show model --state-dir "$st"; expect_rc 0
expect_out '^iteration +2$'; expect_out '^size +1\.9 MiB \(2000000 bytes\)$'
expect_out '^stored +file, shuffle4\+zstd, '; expect_out '^verified +yes'
expect_out '^checkpoints +2 of this key$'
if grep -q '^skipped' <<<"$out"; then fail "nothing was skipped: $out"; fi
run_cmd "$rp" ckpt show model --json --state-dir "$st"; expect_rc 0
expect_out_has '"key":"model","iteration":2,'; expect_out_has '"verified":true,"skipped":null,"checkpoints":2}'
run_cmd "$rp" ckpt show model --output "$TMPDIR/got" --state-dir "$st"; expect_rc 0
cmp -s "$TMPDIR/got" "$TMPDIR/model2" || fail "show --output wrote other bytes"
expect_err_has "wrote iteration 2 of 'model' (2000000 bytes)"
"$rp" ckpt show notes --output - --state-dir "$st" >"$TMPDIR/got" || fail "show --output -"
cmp -s "$TMPDIR/got" "$TMPDIR/notes8" || fail "show --output - wrote other bytes"
run_cmd "$rp" ckpt show empty --output "$TMPDIR/got" --state-dir "$st"; expect_rc 0
[[ -f $TMPDIR/got && ! -s $TMPDIR/got ]] || fail "an empty checkpoint is an empty file"
run_cmd "$rp" ckpt show model --iteration 2 --state-dir "$st"; expect_rc 0; expect_out '^iteration +2$'
run_cmd "$rp" ckpt show model --iteration 1 --state-dir "$st"
expect_rc 0; expect_out '^iteration +1$'
run_cmd "$rp" ckpt show model --iteration 9 --state-dir "$st"
expect_rc 1; expect_err_has "has no iteration 9 (the newest is 2)"
run_cmd "$rp" ckpt show nosuch --state-dir "$st"; expect_rc 1; expect_err_has "no checkpoint of key 'nosuch'"

# A damaged newest checkpoint is skipped, named, and the one before loads.
run_cmd "$rp" sql "SELECT blob FROM checkpoints WHERE key = 'model' AND iteration = 2" --state-dir "$st"
expect_rc 0
blob=$(sed -n 2p <<<"$out")
[[ $blob =~ ^[0-9a-f]{64}\.blob$ ]] || fail "no blob name: $out"
printf 'XXXX' | dd of="$st/blobs/${blob:0:2}/$blob" bs=1 seek=4096 conv=notrunc 2>/dev/null
run_cmd "$rp" ckpt show model --state-dir "$st"; expect_rc 0
expect_out '^iteration +1$'
expect_out_has "checkpoint 'model' iteration 2 is damaged (checksum mismatch)"
run_cmd "$rp" ckpt show model --output "$TMPDIR/got" --state-dir "$st"; expect_rc 0
cmp -s "$TMPDIR/got" "$TMPDIR/model1" || fail "the fallback wrote other bytes"
expect_err_has 'warning: checkpoint '"'model'"' iteration 2 is damaged'
run_cmd "$rp" ckpt show model --iteration 2 --state-dir "$st"
expect_rc 1; expect_err_has 'iteration 2 is damaged'

# ---- sql: reads, never writes ----
run_cmd "$rp" sql --state-dir "$st" \
  "SELECT key, iteration, inline_data IS NULL AS in_file, NULL AS missing, x'00ff' AS b
   FROM checkpoints WHERE key IN ('model', 'notes') ORDER BY key, iteration"
expect_rc 0
expect_out '^key +iteration +in_file +missing +b$'
expect_out '^model +1 +1 +NULL +<2 bytes>$'
expect_out '^notes +8 +0 +NULL +<2 bytes>$'
[[ $(wc -l <<<"$out") -eq 5 ]] || fail "sql: $out"
run_cmd "$rp" sql --json --state-dir "$st" \
  "SELECT key, iteration, 9223372036854775807 AS big, 1.5 AS f, NULL AS n, x'00ff' AS b,
          CAST(x'ff41' AS TEXT) AS t FROM checkpoints WHERE key = 'notes' ORDER BY iteration"
expect_rc 0
[[ $out == '[{"key":"notes","iteration":7,"big":9223372036854775807,"f":1.5,"n":null,"b":"AP8=","t":"/0E="},{"key":"notes","iteration":8,"big":9223372036854775807,"f":1.5,"n":null,"b":"AP8=","t":"/0E="}]' ]] ||
  fail "sql --json: $out"
run_cmd "$rp" sql --json --state-dir "$st" "SELECT 1 WHERE 0"; expect_rc 0; [[ $out == '[]' ]] || fail "$out"
run_cmd "$rp" sql --state-dir "$st" "PRAGMA user_version"; expect_rc 0; expect_out '^ +2$'

count() { "$rp" sql --state-dir "$st" "SELECT count(*) || '/' || (SELECT count(*) FROM kv) FROM checkpoints" | sed -n 2p; }
before=$(count)
for w in "DELETE FROM checkpoints" "INSERT INTO kv VALUES ('a', x'00', 1)" \
         "UPDATE checkpoints SET iteration = 0" "DROP TABLE kv" "CREATE TEMP TABLE t (a)" \
         "PRAGMA user_version = 9" "VACUUM" "VACUUM INTO '$TMPDIR/copy.db'" \
         "WITH x AS (SELECT 1) DELETE FROM kv"; do
  run_cmd "$rp" sql --state-dir "$st" "$w"
  expect_rc 2; expect_err_has "refused: this statement would write"; expect_no_out
done
[[ ! -e $TMPDIR/copy.db ]] || fail "VACUUM INTO wrote a file"
run_cmd "$rp" sql --state-dir "$st" "ATTACH '$TMPDIR/other.db' AS o"
expect_rc 2; expect_err_has 'ATTACH and DETACH are refused'
[[ ! -e $TMPDIR/other.db ]] || fail "ATTACH made a file"
[[ $(count) == "$before" ]] || fail "the store changed: $before -> $(count)"

run_cmd "$rp" sql --state-dir "$st" "SELEKT 1"; expect_rc 2; expect_err_has 'syntax error'; expect_no_out
run_cmd "$rp" sql --state-dir "$st" "SELECT * FROM nope"; expect_rc 2; expect_err_has 'no such table: nope'
run_cmd "$rp" sql --state-dir "$st" "SELECT abs(-9223372036854775808)"; expect_rc 2
expect_err_has 'integer overflow'; expect_no_out
run_cmd "$rp" sql --state-dir "$st" "SELECT 1; SELECT 2"; expect_rc 2; expect_err_has 'one statement at a time'
run_cmd "$rp" sql --state-dir "$st" "SELECT 1; -- fine"; expect_rc 0
run_cmd "$rp" sql --state-dir "$st" " ; "; expect_rc 2; expect_err_has 'the statement is empty'
run_cmd "$rp" sql --state-dir "$st"; expect_rc 2; expect_err_has 'no STATEMENT'
run_cmd "$rp" sql --state-dir "$st" "SELECT 1" "SELECT 2"; expect_rc 2; expect_err_has 'one STATEMENT'
run_cmd "$rp" sql --bogus "SELECT 1"; expect_rc 2; expect_err_has "unknown option '--bogus'"
run_cmd "$rp" sql --state-dir; expect_rc 2; expect_err_has '--state-dir needs a value'

# ---- rm ----
run_cmd "$rp" ckpt rm notes --state-dir "$st"; expect_rc 0; expect_out "^removed 2 checkpoints of 'notes'$"
run_cmd "$rp" ckpt rm notes --state-dir "$st"; expect_rc 1; expect_err_has "no checkpoint of key 'notes'"
run_cmd "$rp" ckpt ls notes --state-dir "$st"; expect_rc 1
blobs=$(count_blobs)
run_cmd "$rp" ckpt rm noise --state-dir "$st"; expect_rc 0; expect_out "removed 1 checkpoint of 'noise'"
[[ $(count_blobs) -eq $((blobs - 1)) ]] || fail "rm left the blob file behind"

# ---- gc ----
for i in 1 2 3 4; do save hist "$i" text 100; done
"$TMPDIR/saver" "$st" --backdate hist $((3 * 86400)) || fail "backdate"
save hist 5 text 100                              # new: stays
run_cmd "$rp" ckpt gc --max-age 2d --state-dir "$st"; expect_rc 0; expect_out '^removed 4 checkpoints$'
run_cmd "$rp" ckpt ls hist --state-dir "$st"; expect_rc 0; expect_out '^hist +5 '
save old 1 text 10; save old 2 text 10
"$TMPDIR/saver" "$st" --backdate old $((30 * 86400)) || fail "backdate"
run_cmd "$rp" ckpt gc --max-age 7d --state-dir "$st"; expect_rc 0; expect_out '^removed 1 checkpoint$'
run_cmd "$rp" ckpt ls old --state-dir "$st"; expect_rc 0; expect_out '^old +2 '   # the newest stays
run_cmd "$rp" ckpt gc --max-age 3600 --keep 1 --state-dir "$st"; expect_rc 0
expect_out '^removed 1 checkpoint$'                                           # model 1
run_cmd "$rp" ckpt ls model --state-dir "$st"; expect_rc 0
[[ $(wc -l <<<"$out") -eq 2 ]] || fail "gc --keep 1 left: $out"
run_cmd "$rp" ckpt gc --keep 1 --state-dir "$st"; expect_rc 0; expect_out '^removed 0 checkpoints$'

# ---- bad command lines: exit 2, nothing on stdout, the store untouched ----
before=$(count)
bad() { run_cmd "$rp" "$@"; expect_rc 2; expect_no_out; }
bad ckpt; expect_err_has 'which one: ls, show, rm or gc'
bad ckpt frob; expect_err_has "no subcommand 'frob'"
bad ckpt ls --bogus --state-dir "$st"; expect_err_has "ckpt ls: unknown option '--bogus'"
bad ckpt ls a b --state-dir "$st"; expect_err_has "unexpected argument 'b'"
bad ckpt ls --json=yes --state-dir "$st"; expect_err_has '--json takes no value'
bad ckpt ls --keep 1 --state-dir "$st"; expect_err_has "--keep is not an option of 'ckpt ls'"
bad ckpt show --state-dir "$st"; expect_err_has 'which KEY?'
bad ckpt rm --state-dir "$st"; expect_err_has 'which KEY?'
bad ckpt rm "" --state-dir "$st"; expect_err_has 'KEY is empty'
bad ckpt rm "$(printf 'k%.0s' {1..1025})" --state-dir "$st"; expect_err_has 'longer than 1024 bytes'
bad ckpt show model --output --state-dir "$st"; expect_err_has '--output needs a value'
bad ckpt show model --json --output x --state-dir "$st"; expect_err_has 'one or the other'
bad ckpt show model --iteration x --state-dir "$st"; expect_err_has "'x' is not a whole number"
bad ckpt show model --iteration -1 --state-dir "$st"; expect_err_has 'out of range'
bad ckpt gc --state-dir "$st"; expect_err_has 'say what to remove'
bad ckpt gc --keep 0 --state-dir "$st"; expect_err_has 'out of range'
bad ckpt gc --keep 4294967296 --state-dir "$st"; expect_err_has 'out of range'
for d in 3w 0 1.5h -1 d 12hh 99999999999d ''; do
  bad ckpt gc --max-age="$d" --state-dir "$st"
done
bad ckpt gc --max-age 3w --state-dir "$st"; expect_err_has "'3w' is not a duration"
bad ckpt gc --max-age 0 --state-dir "$st"; expect_err_has 'out of range'
bad ckpt ls --state-dir ""; expect_err_has '--state-dir needs a directory'
[[ $(count) == "$before" ]] || fail "a bad command line changed the store"
# A KEY that looks like an option goes after '--'.
run_cmd "$rp" ckpt rm --state-dir "$st" -- --weird; expect_rc 1; expect_err_has "no checkpoint of key '--weird'"

# ---- a directory whose store.db is not a store: exit 3, and refused ----
mkdir "$TMPDIR/foreign"
printf 'not a database at all, just text\n' >"$TMPDIR/foreign/store.db"
run_cmd "$rp" ckpt ls --state-dir "$TMPDIR/foreign"; expect_rc 3; expect_err_has 'cannot open the store'
run_cmd "$rp" sql "SELECT 1" --state-dir "$TMPDIR/foreign"; expect_rc 3; expect_err_has 'not a database'
true
