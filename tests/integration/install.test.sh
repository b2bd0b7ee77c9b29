# `make install` into a DESTDIR, then build a C and a C++ program against the
# installed headers and library through pkg-config, and run them.
source tests/integration/lib.sh
dest=$TMPDIR/dest
prefix=/opt/rp
make --no-print-directory -s install DESTDIR="$dest" PREFIX="$prefix" >/dev/null

for f in bin/repartir include/repartir.h include/repartir/pool.h include/repartir/common.h \
         lib/librepartir.a lib/librepartir.so lib/librepartir.so.0 lib/pkgconfig/repartir.pc; do
  [[ -e $dest$prefix/$f ]] || fail "make install did not install $f"
done
grep -q "^prefix=$prefix\$" "$dest$prefix/lib/pkgconfig/repartir.pc" || fail "repartir.pc has the wrong prefix"

# pkg-config must point at the DESTDIR copy for this test.
sed "s|$prefix|$dest$prefix|g" "$dest$prefix/lib/pkgconfig/repartir.pc" > "$TMPDIR/repartir.pc"
export PKG_CONFIG_PATH=$TMPDIR
cat > "$TMPDIR/use.c" <<'C'
#include <repartir.h>
#include <stdio.h>
static void body(size_t lo, size_t hi, void *ctx) { __atomic_fetch_add((size_t *)ctx, hi - lo, __ATOMIC_RELAXED); }
int main(void) {
    rp_pool *p; size_t n = 0;
    if (rp_pool_create(NULL, &p) != RP_OK) return 1;
    rp_parallel_for(p, 0, 100000, 0, body, &n);
    rp_pool_shutdown(p);
    printf("%s %zu\n", rp_version(), n);
    return n == 100000 ? 0 : 1;
}
C
cc -std=c17 -Wall -Wextra -Werror $(pkg-config --cflags repartir) "$TMPDIR/use.c" \
   -o "$TMPDIR/use_shared" $(pkg-config --libs repartir)
LD_LIBRARY_PATH=$dest$prefix/lib "$TMPDIR/use_shared" | grep -q ' 100000$' || fail "shared-library program failed"
cc -std=c17 $(pkg-config --cflags repartir) "$TMPDIR/use.c" -o "$TMPDIR/use_static" \
   "$dest$prefix/lib/librepartir.a" \
   $(pkg-config --libs --static repartir | sed 's/-lrepartir//')
"$TMPDIR/use_static" | grep -q ' 100000$' || fail "static-library program failed"

# The public header is usable from C++ too (rp_group is declared on stacks there).
cat > "$TMPDIR/use.cpp" <<'CPP'
#include <repartir.h>
int main() { rp_group g = RP_GROUP_INIT; rp_group_wait(&g); return rp_strerror(RP_OK)[0] == 's' ? 0 : 1; }
CPP
c++ -Wall -Wextra -Werror $(pkg-config --cflags repartir) "$TMPDIR/use.cpp" -o "$TMPDIR/use_cpp" \
    $(pkg-config --libs repartir)
LD_LIBRARY_PATH=$dest$prefix/lib "$TMPDIR/use_cpp" || fail "C++ program failed"

# Only exported API symbols leak out of the shared library.
bad=$(nm -D --defined-only "$dest$prefix/lib/librepartir.so" | awk '$2 ~ /[TDB]/ {print $3}' | grep -v '^rp_' || true)
[[ -z $bad ]] || fail "non-API symbols exported: $bad"
make --no-print-directory -s uninstall DESTDIR="$dest" PREFIX="$prefix"
[[ ! -e $dest$prefix/lib/librepartir.so ]] || fail "uninstall left the library"
