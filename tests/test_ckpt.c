/*
 * test_ckpt.c -- the checkpoint store through its public API (ckpt.h),
 * black-box: round trips and codecs, which checkpoint a load returns,
 * persistence, damaged blobs and a damaged index, SIGKILL at random moments
 * of a save loop, a file-size limit and a read-only directory mid-save,
 * retention, shared blobs, the key-value table, bad arguments, and threads
 * (and a second opener) on one store.
 *
 * The only things looked at beside the API are the ones the header names:
 * DIR/store.db and the files under DIR/blobs/. Tests that change process
 * limits or privileges do it in a fork()ed child, which reports through its
 * exit status (the store creates no threads, so a child may use it).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/capability.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include <repartir.h>

#include "tests/testing.h"

/* A child that a test forks and that should end by itself well before
 * this: only a hung store gets near it. */
#define CHILD_WAIT_MS 30000

/* Exit status of a forked child that could not set up its test. */
#define CHILD_SKIP 77

/* ---- bytes ---- */

static uint64_t
splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);

    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* len incompressible bytes, the same for the same seed. */
static void
fill_random(void *buf, size_t len, uint64_t seed)
{
    unsigned char *p = buf;
    uint64_t x = seed, v;
    size_t i = 0;

    for (; i + 8 <= len; i += 8) {
        v = splitmix(&x);
        memcpy(p + i, &v, 8);
    }
    if (i < len) {
        v = splitmix(&x);
        memcpy(p + i, &v, len - i);
    }
}

static unsigned char *
random_bytes(size_t len, uint64_t seed)
{
    unsigned char *p = malloc(len > 0 ? len : 1);

    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    fill_random(p, len, seed);
    return p;
}

/* n float32 weights: a smooth curve plus a little noise, as a trained
 * layer looks (the exponent and top mantissa bytes repeat, the low ones
 * do not). */
static float *
float_weights(size_t n, uint64_t seed)
{
    float *f = malloc(n * sizeof *f);
    uint64_t x = seed;

    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    for (size_t i = 0; i < n; i++) {
        double noise = ((double)(splitmix(&x) >> 11) / 9007199254740992.0 - 0.5) * 1e-3;

        f[i] = (float)(0.5 * sin((double)i * 0.001) + 0.75 + noise);
    }
    return f;
}

/* A payload that says which iteration it is: 8 bytes of iteration, then
 * bytes seeded by it. */
static void
fill_payload(unsigned char *p, size_t len, uint64_t iteration)
{
    memcpy(p, &iteration, sizeof iteration);
    fill_random(p + sizeof iteration, len - sizeof iteration, iteration * 7919 + 1);
}

static bool
payload_is_intact(const unsigned char *p, size_t len, size_t want_len, uint64_t iteration)
{
    unsigned char *want;
    bool ok;

    if (p == NULL || len != want_len || memcmp(p, &iteration, sizeof iteration) != 0)
        return false;
    want = malloc(want_len);
    if (want == NULL)
        return false;
    fill_payload(want, want_len, iteration);
    ok = memcmp(p, want, want_len) == 0;
    free(want);
    return ok;
}

static int64_t
wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- temp dirs and the files of a store ---- */

/* A private temp dir for one test; remove_tree() takes it away. */
static void
make_tmpdir(char *dir, size_t size)
{
    rp_test_tmpdir(dir, size, "ckpt");
}

static void
remove_tree(const char *dir)
{
    rp_test_remove_tree(dir);
}

static void
path_in(char *out, size_t size, const char *dir, const char *name)
{
    int n = snprintf(out, size, "%s/%s", dir, name);

    CU_ASSERT_FATAL(n > 0 && (size_t)n < size);
}

#define MAX_FILES 512
#define FILE_PATH 512

typedef struct {
    int n;
    char path[MAX_FILES][FILE_PATH];
} file_set;

/* Counts in *count the regular files under root (recursively) and adds
 * them to files (if not NULL); counts in *tmp_names (if not NULL) entries
 * whose name says "tmp". No CUnit here: forked children use it. */
static void
walk_tree(const char *root, file_set *files, int *count, int *tmp_names)
{
    DIR *d = opendir(root);
    struct dirent *e;

    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        char p[FILE_PATH];
        struct stat st;
        int n;

        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        n = snprintf(p, sizeof p, "%s/%s", root, e->d_name);
        if (n <= 0 || (size_t)n >= sizeof p)
            continue;
        if (tmp_names != NULL && strcasestr(e->d_name, "tmp") != NULL)
            (*tmp_names)++;
        if (lstat(p, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            walk_tree(p, files, count, tmp_names);
            continue;
        }
        if (count != NULL)
            (*count)++;
        if (files != NULL && files->n < MAX_FILES)
            memcpy(files->path[files->n++], p, (size_t)n + 1);
    }
    closedir(d);
}

static file_set *
blob_files(const char *dir)
{
    char blobs[PATH_MAX];
    file_set *fs = calloc(1, sizeof *fs);

    CU_ASSERT_PTR_NOT_NULL_FATAL(fs);
    path_in(blobs, sizeof blobs, dir, "blobs");
    walk_tree(blobs, fs, NULL, NULL);
    return fs;
}

/* Files under DIR/blobs, temp files included; -1 if the path is too long.
 * No CUnit here: forked children use it. */
static int
blob_count(const char *dir)
{
    char blobs[PATH_MAX];
    int n = 0;

    if (snprintf(blobs, sizeof blobs, "%s/blobs", dir) >= (int)sizeof blobs)
        return -1;
    walk_tree(blobs, NULL, &n, NULL);
    return n;
}

/* Entries anywhere under dir whose name says "tmp": what an interrupted
 * save may leave and an open must remove. */
static int
tmp_count(const char *dir)
{
    int n = 0;

    walk_tree(dir, NULL, NULL, &n);
    return n;
}

/* The one file in `after` that is not in `before`, or NULL. */
static const char *
new_file(const file_set *before, const file_set *after)
{
    const char *found = NULL;

    for (int i = 0; i < after->n; i++) {
        bool old = false;

        for (int j = 0; j < before->n && !old; j++)
            old = strcmp(after->path[i], before->path[j]) == 0;
        if (!old) {
            if (found != NULL)
                return NULL;
            found = after->path[i];
        }
    }
    return found;
}

/* ---- the store ---- */

static rp_ckpt *
open_store(const char *dir)
{
    rp_ckpt *s = NULL;
    char *why = NULL;
    rp_status st = rp_ckpt_open_why(dir, &s, &why);

    if (st != RP_OK)
        fprintf(stderr, "\n    rp_ckpt_open(%s): %s: %s\n", dir, rp_strerror(st),
                why != NULL ? why : "(no why)");
    free(why);
    CU_ASSERT_EQUAL_FATAL(st, RP_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    return s;
}

static void
save_ok(rp_ckpt *s, const char *key, uint64_t iteration, const void *data, size_t len)
{
    rp_status st = rp_ckpt_save(s, key, iteration, data, len);

    if (st != RP_OK) {
        char *why = rp_ckpt_why(s);

        fprintf(stderr, "\n    save %s/%" PRIu64 " (%zu bytes): %s: %s\n", key, iteration, len,
                rp_strerror(st), why != NULL ? why : "(no why)");
        free(why);
    }
    CU_ASSERT_EQUAL_FATAL(st, RP_OK);
}

/* Whether loading key gives RP_OK, exactly want_len bytes equal to want,
 * and iteration want_iter; says what it got when not. */
static bool
loads(rp_ckpt *s, const char *key, const void *want, size_t want_len, uint64_t want_iter)
{
    void *data = (void *)1;
    size_t len = (size_t)-1;
    uint64_t it = UINT64_MAX;
    rp_status st = rp_ckpt_load(s, key, &data, &len, &it);
    bool ok = st == RP_OK && len == want_len && it == want_iter &&
              (want_len == 0 ? data == NULL : memcmp(data, want, want_len) == 0);

    if (!ok)
        fprintf(stderr, "\n    load %s: %s, %zu bytes (want %zu), iteration %" PRIu64
                        " (want %" PRIu64 ")%s\n",
                key, rp_strerror(st), len, want_len, it, want_iter,
                st == RP_OK && len == want_len ? ", other bytes" : "");
    if (st == RP_OK)
        free(data);
    return ok;
}

static rp_status
load_status(rp_ckpt *s, const char *key)
{
    void *data = NULL;
    size_t len = 0;
    rp_status st = rp_ckpt_load(s, key, &data, &len, NULL);

    if (st == RP_OK)
        free(data);
    return st;
}

/* Whether rp_ckpt_why has a sentence to give. */
static bool
has_why(rp_ckpt *s)
{
    char *why = rp_ckpt_why(s);
    bool ok = why != NULL && why[0] != '\0';

    free(why);
    return ok;
}

typedef struct {
    char key[64];
    uint64_t iteration;
    int64_t created_ms;
    char codec[32];
    uint64_t raw_size, stored_size;
    bool inline_stored;
} entry;

typedef struct {
    size_t n, calls, stop_after;    /* stop_after 0: never */
    entry e[256];
} listing;

static bool
collect(const rp_ckpt_info *info, void *ctx)
{
    listing *l = ctx;

    l->calls++;
    if (l->n < sizeof l->e / sizeof l->e[0]) {
        entry *e = &l->e[l->n++];

        snprintf(e->key, sizeof e->key, "%s", info->key != NULL ? info->key : "(null)");
        snprintf(e->codec, sizeof e->codec, "%s", info->codec != NULL ? info->codec : "(null)");
        e->iteration = info->iteration;
        e->created_ms = info->created_ms;
        e->raw_size = info->raw_size;
        e->stored_size = info->stored_size;
        e->inline_stored = info->inline_stored;
    }
    return l->stop_after == 0 || l->calls < l->stop_after;
}

/* The listing of key (NULL: all keys); free() it. */
static listing *
list_of(rp_ckpt *s, const char *key)
{
    listing *l = calloc(1, sizeof *l);

    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    CU_ASSERT_EQUAL(rp_ckpt_list(s, key, collect, l), RP_OK);
    return l;
}

static size_t
count_of(rp_ckpt *s, const char *key)
{
    listing *l = list_of(s, key);
    size_t n = l->n;

    free(l);
    return n;
}

static size_t
non_inline_count(rp_ckpt *s, const char *key)
{
    listing *l = list_of(s, key);
    size_t n = 0;

    for (size_t i = 0; i < l->n; i++)
        n += !l->e[i].inline_stored;
    free(l);
    return n;
}

static bool
is_codec(const char *c)
{
    return strcmp(c, "raw") == 0 || strcmp(c, "zstd") == 0 || strcmp(c, "shuffle4+zstd") == 0;
}

/* Waits for child pid; its exit status, or -1 if a signal ended it (or it
 * outlived CHILD_WAIT_MS and was killed). */
static int
child_exit_code(pid_t pid)
{
    double give_up = rp_test_now() + CHILD_WAIT_MS / 1000.0;
    int status = 0;
    pid_t r;

    while ((r = waitpid(pid, &status, WNOHANG)) == 0 && rp_test_now() < give_up)
        rp_test_sleep_ms(5);
    if (r == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        return -1;
    }
    if (r < 0 || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}

/* ---- round trips ---- */

static void
round_trip_keeps_bytes_and_reports_sizes(void)
{
    char dir[PATH_MAX];
    size_t big = 5u << 20, nfloats = (8u << 20) / sizeof(float);
    unsigned char *one = random_bytes(1, 1), *small = random_bytes(1000, 2);
    unsigned char *rnd = random_bytes(big, 3);
    float *w = float_weights(nfloats, 4);
    int64_t t0, t1;
    rp_ckpt *s;
    listing *l;

    make_tmpdir(dir, sizeof dir);
    s = open_store(dir);
    t0 = wall_ms();
    save_ok(s, "empty", 10, NULL, 0);
    save_ok(s, "one", 11, one, 1);
    save_ok(s, "small", 12, small, 1000);
    save_ok(s, "random", 13, rnd, big);
    save_ok(s, "floats", 14, w, nfloats * sizeof(float));
    t1 = wall_ms();

    CU_ASSERT(loads(s, "empty", NULL, 0, 10));
    CU_ASSERT(loads(s, "one", one, 1, 11));
    CU_ASSERT(loads(s, "small", small, 1000, 12));
    CU_ASSERT(loads(s, "random", rnd, big, 13));
    CU_ASSERT(loads(s, "floats", w, nfloats * sizeof(float), 14));

    /* Empty data also saves from a non-NULL pointer. */
    save_ok(s, "empty2", 1, one, 0);
    CU_ASSERT(loads(s, "empty2", NULL, 0, 1));

    l = list_of(s, "empty");
    CU_ASSERT_EQUAL_FATAL(l->n, 1);
    CU_ASSERT_STRING_EQUAL(l->e[0].key, "empty");
    CU_ASSERT_EQUAL(l->e[0].iteration, 10);
    CU_ASSERT_EQUAL(l->e[0].raw_size, 0);
    CU_ASSERT_TRUE(l->e[0].inline_stored);
    CU_ASSERT(is_codec(l->e[0].codec));
    CU_ASSERT(l->e[0].created_ms >= t0 - 1000 && l->e[0].created_ms <= t1 + 1000);
    free(l);

    l = list_of(s, "one");
    CU_ASSERT_EQUAL_FATAL(l->n, 1);
    CU_ASSERT_EQUAL(l->e[0].raw_size, 1);
    CU_ASSERT_TRUE(l->e[0].inline_stored);
    CU_ASSERT(is_codec(l->e[0].codec));
    free(l);

    l = list_of(s, "small");
    CU_ASSERT_EQUAL_FATAL(l->n, 1);
    CU_ASSERT_EQUAL(l->e[0].iteration, 12);
    CU_ASSERT_EQUAL(l->e[0].raw_size, 1000);
    CU_ASSERT_TRUE(l->e[0].inline_stored);
    CU_ASSERT(is_codec(l->e[0].codec));
    CU_ASSERT(l->e[0].stored_size <= RP_CKPT_INLINE_MAX);
    free(l);

    /* Incompressible: raw, or zstd that costs next to nothing; a file. */
    l = list_of(s, "random");
    CU_ASSERT_EQUAL_FATAL(l->n, 1);
    CU_ASSERT_EQUAL(l->e[0].raw_size, big);
    CU_ASSERT_FALSE(l->e[0].inline_stored);
    CU_ASSERT(is_codec(l->e[0].codec));
    if (strcmp(l->e[0].codec, "raw") == 0)
        CU_ASSERT_EQUAL(l->e[0].stored_size, big);
    CU_ASSERT(l->e[0].stored_size <= big + big / 100 + 4096);
    CU_ASSERT(l->e[0].created_ms >= t0 - 1000 && l->e[0].created_ms <= t1 + 1000);
    free(l);

    /* Float32 weights: the shuffle pays, and the result is smaller. */
    l = list_of(s, "floats");
    CU_ASSERT_EQUAL_FATAL(l->n, 1);
    CU_ASSERT_EQUAL(l->e[0].raw_size, nfloats * sizeof(float));
    CU_ASSERT_FALSE(l->e[0].inline_stored);
    CU_ASSERT_STRING_EQUAL(l->e[0].codec, "shuffle4+zstd");
    CU_ASSERT(l->e[0].stored_size < l->e[0].raw_size);
    CU_ASSERT(l->e[0].stored_size > 0);
    free(l);

    /* Two large checkpoints: two blob files, no temp files. */
    CU_ASSERT_EQUAL(blob_count(dir), 2);
    CU_ASSERT_EQUAL(tmp_count(dir), 0);
    CU_ASSERT_EQUAL(count_of(s, NULL), 6);

    rp_ckpt_close(s);
    remove_tree(dir);
    free(one);
    free(small);
    free(rnd);
    free(w);
}

/* Inline is decided by stored bytes: 1 MB of zeros compresses to a few
 * bytes and lives in the index, not in a file. */
static void
compressible_data_is_stored_inline(void)
{
    char dir[PATH_MAX];
    size_t len = 1u << 20;
    unsigned char *zeros = calloc(1, len);
    rp_ckpt *s;
    listing *l;

    CU_ASSERT_PTR_NOT_NULL_FATAL(zeros);
    make_tmpdir(dir, sizeof dir);
    s = open_store(dir);
    save_ok(s, "zeros", 1, zeros, len);
    CU_ASSERT(loads(s, "zeros", zeros, len, 1));
    l = list_of(s, "zeros");
    CU_ASSERT_EQUAL_FATAL(l->n, 1);
    CU_ASSERT_EQUAL(l->e[0].raw_size, len);
    CU_ASSERT(l->e[0].stored_size < 64 * 1024);
    CU_ASSERT_TRUE(l->e[0].inline_stored);
    CU_ASSERT(strcmp(l->e[0].codec, "raw") != 0 && is_codec(l->e[0].codec));
    free(l);
    CU_ASSERT_EQUAL(blob_count(dir), 0);
    rp_ckpt_close(s);
    remove_tree(dir);
    free(zeros);
}

/* ---- which checkpoint a load returns ---- */

static void
highest_iteration_wins_then_newest_save(void)
{
    char dir[PATH_MAX];
    unsigned char *d1 = random_bytes(100, 1), *d2 = random_bytes(200, 2);
    unsigned char *d3 = random_bytes(100000, 3), *d2b = random_bytes(300, 4);
    unsigned char *d3b = random_bytes(400, 5), *other = random_bytes(50, 6);
    rp_ckpt *s;
    listing *l;

    make_tmpdir(dir, sizeof dir);
    s = open_store(dir);
    save_ok(s, "k", 1, d1, 100);
    CU_ASSERT(loads(s, "k", d1, 100, 1));
    save_ok(s, "k", 2, d2, 200);
    CU_ASSERT(loads(s, "k", d2, 200, 2));
    save_ok(s, "k", 3, d3, 100000);
    CU_ASSERT(loads(s, "k", d3, 100000, 3));

    /* An older iteration saved later does not win over a higher one. */
    save_ok(s, "k", 2, d2b, 300);
    CU_ASSERT(loads(s, "k", d3, 100000, 3));

    /* Another key's iterations change nothing. */
    save_ok(s, "k2", 100, other, 50);
    CU_ASSERT(loads(s, "k", d3, 100000, 3));
    CU_ASSERT(loads(s, "k2", other, 50, 100));

    /* Listing, newest first: 3, then the two versions of 2, then 1. */
    l = list_of(s, "k");
    CU_ASSERT_EQUAL_FATAL(l->n, 4);
    CU_ASSERT_EQUAL(l->e[0].iteration, 3);
    CU_ASSERT_EQUAL(l->e[1].iteration, 2);
    CU_ASSERT_EQUAL(l->e[2].iteration, 2);
    CU_ASSERT_EQUAL(l->e[3].iteration, 1);
    CU_ASSERT_EQUAL(l->e[1].raw_size, 300);     /* the newer version of 2 first */
    CU_ASSERT_EQUAL(l->e[2].raw_size, 200);
    for (size_t i = 0; i < l->n; i++)
        CU_ASSERT_STRING_EQUAL(l->e[i].key, "k");
    free(l);

    /* The same iteration saved again: the newer version is loaded. */
    save_ok(s, "k", 3, d3b, 400);
    CU_ASSERT(loads(s, "k", d3b, 400, 3));
    l = list_of(s, "k");
    CU_ASSERT_EQUAL_FATAL(l->n, 5);
    CU_ASSERT_EQUAL(l->e[0].iteration, 3);
    CU_ASSERT_EQUAL(l->e[0].raw_size, 400);
    free(l);

    /* All keys: 6 checkpoints; a callback that returns false stops it. */
    l = calloc(1, sizeof *l);
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    CU_ASSERT_EQUAL(rp_ckpt_list(s, NULL, collect, l), RP_OK);
    CU_ASSERT_EQUAL(l->n, 6);
    memset(l, 0, sizeof *l);
    l->stop_after = 2;
    CU_ASSERT_EQUAL(rp_ckpt_list(s, NULL, collect, l), RP_OK);
    CU_ASSERT_EQUAL(l->calls, 2);
    free(l);

    /* A key with no checkpoint, and a listing of it. */
    CU_ASSERT_EQUAL(load_status(s, "nope"), RP_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(count_of(s, "nope"), 0);

    rp_ckpt_close(s);
    remove_tree(dir);
    free(d1);
    free(d2);
    free(d3);
    free(d2b);
    free(d3b);
    free(other);
}

/* Keys are exact bytes: no pattern characters, no prefixes. */
static void
keys_are_exact_bytes(void)
{
    char dir[PATH_MAX];
    const char *keys[] = { "k_1", "kx1", "k%", "k", "k1", "K_1", "a/b\\c", "\xff\xfe", "k 1" };
    size_t nkeys = sizeof keys / sizeof keys[0];
    char payload[32];
    rp_ckpt *s;

    make_tmpdir(dir, sizeof dir);
    s = open_store(dir);
    for (size_t i = 0; i < nkeys; i++) {
        snprintf(payload, sizeof payload, "value of %zu", i);
        save_ok(s, keys[i], i + 1, payload, strlen(payload));
    }
    for (size_t i = 0; i < nkeys; i++) {
        listing *l = list_of(s, keys[i]);

        snprintf(payload, sizeof payload, "value of %zu", i);
        CU_ASSERT(loads(s, keys[i], payload, strlen(payload), i + 1));
        CU_ASSERT_EQUAL(l->n, 1);
        free(l);
    }
    CU_ASSERT_EQUAL(count_of(s, NULL), nkeys);
    CU_ASSERT_EQUAL(load_status(s, "k_"), RP_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(rp_ckpt_delete(s, "k_1", NULL), RP_OK);
    CU_ASSERT_EQUAL(count_of(s, NULL), nkeys - 1);
    CU_ASSERT(loads(s, "kx1", "value of 1", 10, 2));
    CU_ASSERT_EQUAL(rp_ckpt_delete(s, "k%", NULL), RP_OK);
    CU_ASSERT_EQUAL(count_of(s, NULL), nkeys - 2);
    CU_ASSERT(loads(s, "k", "value of 3", 10, 4));
    rp_ckpt_close(s);
    remove_tree(dir);
}

/* ---- persistence ---- */

static void
reopen_keeps_checkpoints_and_kv(void)
{
    char dir[PATH_MAX], sub[PATH_MAX];
    unsigned char *small = random_bytes(2000, 1), *large = random_bytes(300000, 2);
    float *w = float_weights(100000, 3);
    listing *before, *after;
    rp_ckpt *s;
    void *v = NULL;
    size_t vlen = 0;

    make_tmpdir(dir, sizeof dir);
    path_in(sub, sizeof sub, dir, "store");       /* open creates the directory */
    s = open_store(sub);
    save_ok(s, "small", 1, small, 2000);
    save_ok(s, "large", 7, large, 300000);
    save_ok(s, "large", 8, w, 100000 * sizeof(float));
    save_ok(s, "empty", 3, NULL, 0);
    CU_ASSERT_EQUAL(rp_ckpt_kv_put(s, "cfg", "abc", 3), RP_OK);
    before = list_of(s, NULL);
    rp_ckpt_close(s);

    s = open_store(sub);
    CU_ASSERT(loads(s, "small", small, 2000, 1));
    CU_ASSERT(loads(s, "large", w, 100000 * sizeof(float), 8));
    CU_ASSERT(loads(s, "empty", NULL, 0, 3));
    CU_ASSERT_EQUAL(rp_ckpt_kv_get(s, "cfg", &v, &vlen), RP_OK);
    CU_ASSERT(vlen == 3 && v != NULL && memcmp(v, "abc", 3) == 0);
    free(v);
    after = list_of(s, NULL);
    CU_ASSERT_EQUAL_FATAL(after->n, before->n);
    CU_ASSERT_EQUAL(after->n, 4);
    for (size_t i = 0; i < after->n; i++) {
        const entry *a = &after->e[i], *b = &before->e[i];

        CU_ASSERT_STRING_EQUAL(a->key, b->key);
        CU_ASSERT_STRING_EQUAL(a->codec, b->codec);
        CU_ASSERT_EQUAL(a->iteration, b->iteration);
        CU_ASSERT_EQUAL(a->created_ms, b->created_ms);
        CU_ASSERT_EQUAL(a->raw_size, b->raw_size);
        CU_ASSERT_EQUAL(a->stored_size, b->stored_size);
        CU_ASSERT_EQUAL(a->inline_stored, b->inline_stored);
    }
    /* Reopening removes nothing that is referenced. */
    CU_ASSERT_EQUAL(blob_count(sub), 2);
    rp_ckpt_close(s);

    /* A second reopen, and a third: still the same. */
    s = open_store(sub);
    s = (rp_ckpt_close(s), open_store(sub));
    CU_ASSERT(loads(s, "large", w, 100000 * sizeof(float), 8));
    CU_ASSERT_EQUAL(blob_count(sub), 2);
    rp_ckpt_close(s);

    free(before);
    free(after);
    remove_tree(dir);
    free(small);
    free(large);
    free(w);
}

static void
two_stores_are_independent(void)
{
    char da[PATH_MAX], db[PATH_MAX];
    unsigned char *x = random_bytes(200000, 1), *y = random_bytes(200000, 2);
    rp_ckpt *a, *b;
    void *v = NULL;
    size_t vlen = 0;

    make_tmpdir(da, sizeof da);
    make_tmpdir(db, sizeof db);
    a = open_store(da);
    b = open_store(db);
    save_ok(a, "k", 1, x, 200000);
    save_ok(b, "k", 2, y, 200000);
    CU_ASSERT_EQUAL(rp_ckpt_kv_put(a, "cfg", "A", 1), RP_OK);
    CU_ASSERT(loads(a, "k", x, 200000, 1));
    CU_ASSERT(loads(b, "k", y, 200000, 2));
    CU_ASSERT_EQUAL(rp_ckpt_kv_get(b, "cfg", &v, &vlen), RP_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(rp_ckpt_delete(a, "k", NULL), RP_OK);
    CU_ASSERT_EQUAL(load_status(a, "k"), RP_ERR_NOT_FOUND);
    CU_ASSERT(loads(b, "k", y, 200000, 2));
    CU_ASSERT_EQUAL(blob_count(da), 0);
    CU_ASSERT_EQUAL(blob_count(db), 1);
    rp_ckpt_close(a);
    rp_ckpt_close(b);
    remove_tree(da);
    remove_tree(db);
    free(x);
    free(y);
}

/* ---- damage ---- */

typedef enum { FLIP_BYTE, TRUNCATE, REMOVE } damage;

static void
damage_file(const char *path, damage how)
{
    struct stat st;
    int fd;

    CU_ASSERT_EQUAL_FATAL(stat(path, &st), 0);
    CU_ASSERT_FATAL(st.st_size > 16);
    switch (how) {
    case FLIP_BYTE: {
        unsigned char c;
        off_t at = st.st_size / 2;

        chmod(path, 0644);      /* the store may keep blobs read-only */
        fd = open(path, O_RDWR);
        CU_ASSERT_FATAL(fd >= 0);
        CU_ASSERT_EQUAL_FATAL(pread(fd, &c, 1, at), 1);
        c ^= 0x5a;
        CU_ASSERT_EQUAL_FATAL(pwrite(fd, &c, 1, at), 1);
        close(fd);
        chmod(path, st.st_mode & 07777);
        break;
    }
    case TRUNCATE:
        chmod(path, 0644);
        CU_ASSERT_EQUAL_FATAL(truncate(path, st.st_size / 2), 0);
        chmod(path, st.st_mode & 07777);
        break;
    case REMOVE:
        CU_ASSERT_EQUAL_FATAL(unlink(path), 0);
        break;
    }
}

/* Two large checkpoints of one key; the newest one's blob is damaged while
 * the store is closed. The load falls back to the previous one and says
 * why; saving the damaged content again makes a checkpoint that loads. */
static void
damaged_newest_falls_back(damage how)
{
    char dir[PATH_MAX];
    size_t len = 300000;
    unsigned char *v1 = random_bytes(len, 1), *v2 = random_bytes(len, 2);
    file_set *before, *after;
    const char *victim;
    char victim_path[FILE_PATH];
    rp_ckpt *s;

    make_tmpdir(dir, sizeof dir);
    s = open_store(dir);
    save_ok(s, "model", 1, v1, len);
    before = blob_files(dir);
    CU_ASSERT_EQUAL_FATAL(before->n, 1);
    save_ok(s, "model", 2, v2, len);
    after = blob_files(dir);
    CU_ASSERT_EQUAL_FATAL(after->n, 2);
    victim = new_file(before, after);
    CU_ASSERT_PTR_NOT_NULL_FATAL(victim);
    snprintf(victim_path, sizeof victim_path, "%s", victim);
    free(before);
    free(after);
    rp_ckpt_close(s);

    damage_file(victim_path, how);

    s = open_store(dir);
    CU_ASSERT(loads(s, "model", v1, len, 1));
    CU_ASSERT_TRUE(has_why(s));
    /* Still so on a second load. */
    CU_ASSERT(loads(s, "model", v1, len, 1));

    /* The same content saved again must not reuse the damaged file. */
    save_ok(s, "model", 3, v2, len);
    CU_ASSERT(loads(s, "model", v2, len, 3));
    rp_ckpt_close(s);

    s = open_store(dir);
    CU_ASSERT(loads(s, "model", v2, len, 3));
    rp_ckpt_close(s);
    remove_tree(dir);
    free(v1);
    free(v2);
}

static void
flipped_byte_falls_back_to_the_previous(void)
{
    damaged_newest_falls_back(FLIP_BYTE);
}

static void
truncated_blob_falls_back_to_the_previous(void)
{
    damaged_newest_falls_back(TRUNCATE);
}

static void
missing_blob_falls_back_to_the_previous(void)
{
    damaged_newest_falls_back(REMOVE);
}

static void
only_checkpoint_damaged_is_corrupt(void)
{
    char dir[PATH_MAX];
    size_t len = 300000;
    unsigned char *v = random_bytes(len, 1);
    file_set *fs;
    char victim[FILE_PATH];
    void *data = (void *)1;
    size_t dlen = 0;
    rp_ckpt *s;

    make_tmpdir(dir, sizeof dir);
    s = open_store(dir);
    save_ok(s, "only", 1, v, len);
    fs = blob_files(dir);
    CU_ASSERT_EQUAL_FATAL(fs->n, 1);
    snprintf(victim, sizeof victim, "%s", fs->path[0]);
    free(fs);
    rp_ckpt_close(s);

    damage_file(victim, FLIP_BYTE);
    s = open_store(dir);
    CU_ASSERT_EQUAL(rp_ckpt_load(s, "only", &data, &dlen, NULL), RP_ERR_CORRUPT);
    CU_ASSERT_TRUE(has_why(s));
    /* Other keys are not affected. */
    save_ok(s, "other", 1, "x", 1);
    CU_ASSERT(loads(s, "other", "x", 1, 1));
    rp_ckpt_close(s);
    remove_tree(dir);
    free(v);
}

/* Opens dir, expecting a clean refusal: CORRUPT (or IO), a why, no store. */
static void
open_is_refused(const char *dir, bool io_ok)
{
    rp_ckpt *s = NULL;
    char *why = NULL;
    rp_status st = rp_ckpt_open_why(dir, &s, &why);

    CU_ASSERT(st == RP_ERR_CORRUPT || (io_ok && st == RP_ERR_IO));
    if (!(st == RP_ERR_CORRUPT || (io_ok && st == RP_ERR_IO)))
        fprintf(stderr, "\n    open of a damaged store: %s\n", rp_strerror(st));
    CU_ASSERT_PTR_NULL(s);
    CU_ASSERT(why != NULL && why[0] != '\0');
    free(why);
    if (st == RP_OK)
        rp_ckpt_close(s);
}

static void
damaged_index_is_refused_cleanly(void)
{
    char dir[PATH_MAX], db[PATH_MAX];
    unsigned char junk[100];
    rp_ckpt *s;
    int fd;

    make_tmpdir(dir, sizeof dir);
    s = open_store(dir);
    save_ok(s, "k", 1, "abc", 3);
    save_ok(s, "k", 2, "abcd", 4);
    rp_ckpt_close(s);

    /* The first 100 bytes, the SQLite header, overwritten. */
    path_in(db, sizeof db, dir, "store.db");
    memset(junk, 0xa5, sizeof junk);
    fd = open(db, O_WRONLY);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(pwrite(fd, junk, sizeof junk, 0), (ssize_t)sizeof junk);
    close(fd);
    open_is_refused(dir, true);
    /* Refusing it twice is the same (the first refusal changed nothing). */
    open_is_refused(dir, true);

    /* The index replaced by a few bytes of text. */
    fd = open(db, O_WRONLY | O_TRUNC);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(write(fd, "not a database\n", 15), 15);
    close(fd);
    open_is_refused(dir, true);
    remove_tree(dir);
}

/* The first column of the first row of sql run on database file db; -1 on
 * an error. */
static long
sql_int(const char *db, const char *sql)
{
    sqlite3 *h = NULL;
    sqlite3_stmt *st = NULL;
    long v = -1;

    if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = (long)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(h);
    return v;
}

/* A valid SQLite database that is not a repartir store. */
static void
foreign_database_is_refused(void)
{
    char dir[PATH_MAX], db[PATH_MAX];
    sqlite3 *h = NULL;

    make_tmpdir(dir, sizeof dir);
    path_in(db, sizeof db, dir, "store.db");
    CU_ASSERT_EQUAL_FATAL(sqlite3_open(db, &h), SQLITE_OK);
    CU_ASSERT_EQUAL(sqlite3_exec(h, "CREATE TABLE photos(id INTEGER PRIMARY KEY, name TEXT);"
                                    "INSERT INTO photos(name) VALUES('cat');",
                                 NULL, NULL, NULL),
                    SQLITE_OK);
    sqlite3_close(h);
    open_is_refused(dir, false);

    /* And the foreign database is left as it was: no tables added. */
    CU_ASSERT_EQUAL(sql_int(db, "SELECT count(*) FROM sqlite_master"), 1);
    CU_ASSERT_EQUAL(sql_int(db, "SELECT count(*) FROM photos"), 1);
    remove_tree(dir);
}

/* An index from a newer repartir (docs/store.md: the version is PRAGMA
 * user_version) is refused, and left as it was. */
static void
newer_schema_is_unsupported(void)
{
    char dir[PATH_MAX], db[PATH_MAX];
    rp_ckpt *s = NULL;
    char *why = NULL;
    sqlite3 *h = NULL;
    rp_status st;

    make_tmpdir(dir, sizeof dir);
    path_in(db, sizeof db, dir, "store.db");
    s = open_store(dir);
    save_ok(s, "k", 1, "abc", 3);
    rp_ckpt_close(s);
    CU_ASSERT_EQUAL_FATAL(sqlite3_open(db, &h), SQLITE_OK);
    CU_ASSERT_EQUAL(sqlite3_exec(h, "PRAGMA user_version = 100000", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);

    s = NULL;
    st = rp_ckpt_open_why(dir, &s, &why);
    CU_ASSERT_EQUAL(st, RP_ERR_UNSUPPORTED);
    CU_ASSERT_PTR_NULL(s);
    CU_ASSERT(why != NULL && why[0] != '\0');
    free(why);
    if (st == RP_OK)
        rp_ckpt_close(s);
    CU_ASSERT_EQUAL(sql_int(db, "PRAGMA user_version"), 100000);
    remove_tree(dir);
}

/* ---- crash: SIGKILL at a random moment of a save loop ---- */

#define CRASH_PAYLOAD (200u * 1024)

/* Saves iterations first, first+1, ... of "crash"; after each save that
 * returned, writes its iteration to ackfd. Never returns. */
static void __attribute__((noreturn))
crash_child(const char *dir, uint64_t first, int ackfd)
{
    unsigned char *buf = malloc(CRASH_PAYLOAD);
    rp_ckpt *s = NULL;

    if (buf == NULL || rp_ckpt_open(dir, &s) != RP_OK)
        _exit(2);
    for (uint64_t i = first;; i++) {
        fill_payload(buf, CRASH_PAYLOAD, i);
        if (rp_ckpt_save(s, "crash", i, buf, CRASH_PAYLOAD) != RP_OK)
            _exit(3);
        if (write(ackfd, &i, sizeof i) != (ssize_t)sizeof i)
            _exit(4);
    }
}

static void
crash_at_random_moments_loses_nothing_acknowledged(void)
{
    char base[PATH_MAX], dir[PATH_MAX];
    unsigned trials = 30 / rp_test_slowdown(), seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    uint64_t newest = 0;        /* what the last reopen loaded, 0 = nothing */
    unsigned fresh_dirs = 0, saves_seen = 0;

    if (trials < 6)
        trials = 6;
    make_tmpdir(base, sizeof base);
    dir[0] = '\0';
    for (unsigned t = 0; t < trials; t++) {
        /* 5 to 50 ms; longer under sanitizers, whose saves are slower. */
        unsigned delay = (5 + (unsigned)rand_r(&seed) % 46) * (rp_test_slowdown() + 1) / 2;
        uint64_t first, last_ack = 0, v, lower, got = 0;
        int fds[2], status = 0;
        void *data = NULL;
        size_t len = 0;
        rp_status st;
        pid_t pid;
        rp_ckpt *s;

        /* Every sixth trial starts a new store, so that kills also land
         * while one is being created. */
        if (t % 6 == 0) {
            if (dir[0] != '\0')
                remove_tree(dir);
            char name[32];

            snprintf(name, sizeof name, "s%u", fresh_dirs++);
            path_in(dir, sizeof dir, base, name);
            newest = 0;
        }
        first = newest + 1;
        CU_ASSERT_EQUAL_FATAL(pipe(fds), 0);
        pid = fork();
        CU_ASSERT_FATAL(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            crash_child(dir, first, fds[1]);
        }
        close(fds[1]);
        rp_test_sleep_ms(delay);
        kill(pid, SIGKILL);
        CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
        if (!WIFSIGNALED(status))
            fprintf(stderr, "\n    crash child ended by itself: exit %d (2 open, 3 save, 4 pipe)\n",
                    WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        CU_ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        while (read(fds[0], &v, sizeof v) == (ssize_t)sizeof v)
            last_ack = v;
        close(fds[0]);
        if (last_ack != 0)
            saves_seen += (unsigned)(last_ack - first + 1);

        /* Reopen: everything acknowledged is there, nothing half-written. */
        s = open_store(dir);
        CU_ASSERT_EQUAL(tmp_count(dir), 0);
        CU_ASSERT((size_t)blob_count(dir) <= non_inline_count(s, "crash"));
        lower = last_ack != 0 ? last_ack : first - 1;
        st = rp_ckpt_load(s, "crash", &data, &len, &got);
        if (lower == 0) {
            CU_ASSERT(st == RP_OK || st == RP_ERR_NOT_FOUND);
        } else {
            CU_ASSERT_EQUAL(st, RP_OK);
        }
        if (st == RP_OK) {
            bool ok = got >= lower && got <= lower + 1 &&
                      payload_is_intact(data, len, CRASH_PAYLOAD, got);

            if (!ok)
                fprintf(stderr, "\n    trial %u (kill after %u ms): loaded iteration %" PRIu64
                                ", %zu bytes; acknowledged %" PRIu64 ", first %" PRIu64 "\n",
                        t, delay, got, len, last_ack, first);
            CU_ASSERT_TRUE(ok);
            newest = got;
            free(data);
        } else if (st != RP_ERR_NOT_FOUND || lower != 0) {
            char *why = rp_ckpt_why(s);

            fprintf(stderr, "\n    trial %u (kill after %u ms): load %s: %s; acknowledged %" PRIu64
                            "\n",
                    t, delay, rp_strerror(st), why != NULL ? why : "(no why)", last_ack);
            free(why);
        }
        /* Keep the store small; retention after a crash must work too. */
        CU_ASSERT_EQUAL(rp_ckpt_cleanup(s, 2, 0, NULL), RP_OK);
        CU_ASSERT((size_t)blob_count(dir) <= non_inline_count(s, "crash"));
        rp_ckpt_close(s);
    }
    /* The kills must have landed among saves, not only before them. */
    CU_ASSERT(saves_seen > 0);
    remove_tree(base);
}

/* ---- write failures mid-save ---- */

/* In a child: with a 100 KB file-size limit, a 2 MB save fails with
 * RP_ERR_IO and leaves nothing; what was there loads; small saves still
 * work. Exit 0, or the number of the failed step. */
static int
fsize_child(const char *dir, const unsigned char *v1, size_t len1, const unsigned char *big,
            size_t len2)
{
    struct rlimit rl = { 100 * 1024, 100 * 1024 };
    rp_ckpt *s = NULL;
    void *data = NULL;
    size_t len = 0;
    uint64_t it = 0;
    char *why;

    signal(SIGXFSZ, SIG_IGN);
    if (rp_ckpt_open(dir, &s) != RP_OK)
        return 10;
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
        return CHILD_SKIP;
    if (rp_ckpt_save(s, "model", 2, big, len2) != RP_ERR_IO)
        return 11;
    why = rp_ckpt_why(s);
    if (why == NULL || why[0] == '\0')
        return 12;
    free(why);
    if (rp_ckpt_load(s, "model", &data, &len, &it) != RP_OK)
        return 13;
    if (it != 1 || len != len1 || memcmp(data, v1, len1) != 0)
        return 14;
    free(data);
    if (blob_count(dir) != 1)
        return 15;
    if (rp_ckpt_save(s, "model", 3, "small", 5) != RP_OK)
        return 16;
    rp_ckpt_close(s);
    return 0;
}

static void
file_size_limit_fails_the_save_cleanly(void)
{
    char dir[PATH_MAX];
    size_t len1 = 150000, len2 = 2u << 20;
    unsigned char *v1 = random_bytes(len1, 1), *big = random_bytes(len2, 2);
    rp_ckpt *s;
    pid_t pid;
    int code;

    make_tmpdir(dir, sizeof dir);
    s = open_store(dir);
    save_ok(s, "model", 1, v1, len1);
    rp_ckpt_close(s);

    pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0)
        _exit(fsize_child(dir, v1, len1, big, len2));
    code = child_exit_code(pid);
    if (code != 0)
        fprintf(stderr, "\n    file-size child failed at step %d (11: save not RP_ERR_IO, 12: no "
                        "why, 13/14: previous does not load, 15: blob files != 1, 16: small "
                        "save after the failure)\n", code);
    CU_ASSERT_EQUAL(code, 0);

    /* Without the limit: the small save is the newest, the large one left
     * nothing behind, and the first one still loads after a cleanup. */
    s = open_store(dir);
    CU_ASSERT(loads(s, "model", "small", 5, 3));
    CU_ASSERT_EQUAL(blob_count(dir), 1);
    CU_ASSERT_EQUAL(tmp_count(dir), 0);
    CU_ASSERT_EQUAL(count_of(s, "model"), 2);
    CU_ASSERT_EQUAL(rp_ckpt_delete(s, "model", NULL), RP_OK);
    CU_ASSERT_EQUAL(blob_count(dir), 0);
    rp_ckpt_close(s);
    remove_tree(dir);
    free(v1);
    free(big);
}

/* Lowers this (single-threaded, forked) process's effective capabilities
 * so that root obeys file permissions. */
static bool
drop_dac_capabilities(void)
{
    struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct data[2];
    const int caps[] = { CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER };

    memset(data, 0, sizeof data);
    if (syscall(SYS_capget, &hdr, data) != 0)
        return false;
    for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++)
        data[caps[i] >> 5].effective &= ~(1u << (caps[i] & 31));
    return syscall(SYS_capset, &hdr, data) == 0;
}

/* In a child: the store is open, then its directory becomes read-only; a
 * large save fails with RP_ERR_IO and leaves what was there. A reopen is
 * refused with RP_ERR_IO or, if it succeeds, cannot save either. */
static int
readonly_child(const char *dir, const unsigned char *v1, size_t len1, const unsigned char *big,
               size_t len2)
{
    char blobs[PATH_MAX], probe[PATH_MAX];
    rp_ckpt *s = NULL;
    void *data = NULL;
    size_t len = 0;
    uint64_t it = 0;
    char *why = NULL;
    rp_status st;
    int fd;

    if (rp_ckpt_open(dir, &s) != RP_OK)
        return 19;
    if (snprintf(blobs, sizeof blobs, "%s/blobs", dir) >= (int)sizeof blobs ||
        snprintf(probe, sizeof probe, "%s/probe", blobs) >= (int)sizeof probe)
        return 18;
    if (chmod(blobs, 0555) != 0 || chmod(dir, 0555) != 0)
        return CHILD_SKIP;
    if (geteuid() == 0)
        drop_dac_capabilities();
    fd = open(probe, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd >= 0) {                  /* permissions are not enforced here */
        close(fd);
        unlink(probe);
        return CHILD_SKIP;
    }
    if (rp_ckpt_save(s, "model", 2, big, len2) != RP_ERR_IO)
        return 20;
    why = rp_ckpt_why(s);
    if (why == NULL || why[0] == '\0')
        return 21;
    free(why);
    if (rp_ckpt_load(s, "model", &data, &len, &it) != RP_OK)
        return 22;
    if (it != 1 || len != len1 || memcmp(data, v1, len1) != 0)
        return 23;
    free(data);
    if (blob_count(dir) != 1 || tmp_count(dir) != 0)
        return 24;
    rp_ckpt_close(s);

    s = NULL;
    why = NULL;
    st = rp_ckpt_open_why(dir, &s, &why);
    if (st == RP_OK) {
        if (rp_ckpt_save(s, "model", 2, big, len2) != RP_ERR_IO)
            return 25;
        rp_ckpt_close(s);
    } else {
        if (st != RP_ERR_IO)
            return 26;
        if (why == NULL || why[0] == '\0')
            return 27;
        free(why);
    }
    return 0;
}

static void
read_only_directory_fails_the_save_cleanly(void)
{
    char dir[PATH_MAX], blobs[PATH_MAX];
    size_t len1 = 150000, len2 = 1u << 20;
    unsigned char *v1 = random_bytes(len1, 1), *big = random_bytes(len2, 2);
    rp_ckpt *s;
    pid_t pid;
    int code;

    make_tmpdir(dir, sizeof dir);
    path_in(blobs, sizeof blobs, dir, "blobs");
    s = open_store(dir);
    save_ok(s, "model", 1, v1, len1);
    rp_ckpt_close(s);

    pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0)
        _exit(readonly_child(dir, v1, len1, big, len2));
    code = child_exit_code(pid);
    chmod(dir, 0755);
    chmod(blobs, 0755);
    if (code == CHILD_SKIP) {
        fprintf(stderr, "\n    note: read-only directory not tested: permissions are not "
                        "enforced for this user\n");
    } else {
        if (code != 0)
            fprintf(stderr, "\n    read-only child failed at step %d (19: open, 20: save not "
                            "RP_ERR_IO, 21: no why, 22/23: previous does not load, 24: files "
                            "left, 25: reopened store saves, 26/27: reopen not RP_ERR_IO "
                            "with a why)\n", code);
        CU_ASSERT_EQUAL(code, 0);
    }

    s = open_store(dir);
    CU_ASSERT(loads(s, "model", v1, len1, 1));
    CU_ASSERT_EQUAL(count_of(s, "model"), 1);
    CU_ASSERT_EQUAL(blob_count(dir), 1);
    CU_ASSERT_EQUAL(tmp_count(dir), 0);
    save_ok(s, "model", 2, big, len2);
    CU_ASSERT(loads(s, "model", big, len2, 2));
    rp_ckpt_close(s);
    remove_tree(dir);
    free(v1);
    free(big);
}

/* ---- retention ---- */

static void
cleanup_keeps_the_newest_and_removes_their_files(void)
{
    char dir[PATH_MAX];
    size_t large = 150000, small = 1000, removed = 99;
    unsigned char *a[6], *b[6];
    rp_ckpt *s;
    listing *l;

    make_tmpdir(dir, sizeof dir);
    s = open_store(dir);
    for (uint64_t i = 1; i <= 5; i++) {
        a[i] = random_bytes(large, 100 + i);
        b[i] = random_bytes(i % 2 ? large : small, 200 + i);
        save_ok(s, "a", i, a[i], large);
        save_ok(s, "b", i, b[i], i % 2 ? large : small);
    }
    CU_ASSERT_EQUAL(blob_count(dir), 8);

    CU_ASSERT_EQUAL(rp_ckpt_cleanup(s, 0, 0, &removed), RP_OK);
    CU_ASSERT_EQUAL(removed, 0);
    CU_ASSERT_EQUAL(count_of(s, NULL), 10);

    removed = 99;
    CU_ASSERT_EQUAL(rp_ckpt_cleanup(s, 2, 0, &removed), RP_OK);
    CU_ASSERT_EQUAL(removed, 6);
    l = list_of(s, "a");
    CU_ASSERT_EQUAL_FATAL(l->n, 2);
    CU_ASSERT(l->e[0].iteration == 5 && l->e[1].iteration == 4);
    free(l);
    l = list_of(s, "b");
    CU_ASSERT_EQUAL_FATAL(l->n, 2);
    CU_ASSERT(l->e[0].iteration == 5 && l->e[1].iteration == 4);
    free(l);
    CU_ASSERT_EQUAL(blob_count(dir), 3);        /* a4, a5, b5 */
    CU_ASSERT(loads(s, "a", a[5], large, 5));
    CU_ASSERT(loads(s, "b", b[5], large, 5));

    /* By age: everything older than a second goes, but each key keeps its
     * newest; fresh checkpoints stay. */
    rp_test_sleep_ms(1200);
    save_ok(s, "c", 1, "c1", 2);
    save_ok(s, "c", 2, "c2", 2);
    removed = 99;
    CU_ASSERT_EQUAL(rp_ckpt_cleanup(s, 0, 1, &removed), RP_OK);
    CU_ASSERT_EQUAL(removed, 2);
    CU_ASSERT_EQUAL(count_of(s, "a"), 1);
    CU_ASSERT_EQUAL(count_of(s, "b"), 1);
    CU_ASSERT_EQUAL(count_of(s, "c"), 2);
    CU_ASSERT_EQUAL(blob_count(dir), 2);        /* a5, b5 */
    CU_ASSERT(loads(s, "a", a[5], large, 5));
    CU_ASSERT(loads(s, "b", b[5], large, 5));

    CU_ASSERT_EQUAL(rp_ckpt_cleanup(s, 1, 0, NULL), RP_OK);
    CU_ASSERT_EQUAL(count_of(s, "c"), 1);
    CU_ASSERT(loads(s, "c", "c2", 2, 2));

    /* Delete: every checkpoint of the key and its file. */
    removed = 99;
    CU_ASSERT_EQUAL(rp_ckpt_delete(s, "a", &removed), RP_OK);
    CU_ASSERT_EQUAL(removed, 1);
    CU_ASSERT_EQUAL(load_status(s, "a"), RP_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(count_of(s, "a"), 0);
    CU_ASSERT_EQUAL(blob_count(dir), 1);
    removed = 99;
    {
        rp_status st = rp_ckpt_delete(s, "a", &removed);

        CU_ASSERT(st == RP_OK || st == RP_ERR_NOT_FOUND);
        if (st == RP_OK)
            CU_ASSERT_EQUAL(removed, 0);
    }
    rp_ckpt_close(s);

    s = open_store(dir);
    CU_ASSERT_EQUAL(load_status(s, "a"), RP_ERR_NOT_FOUND);
    CU_ASSERT(loads(s, "b", b[5], large, 5));
    CU_ASSERT_EQUAL(count_of(s, NULL), 2);
    CU_ASSERT_EQUAL(blob_count(dir), 1);
    rp_ckpt_close(s);
    remove_tree(dir);
    for (int i = 1; i <= 5; i++) {
        free(a[i]);
        free(b[i]);
    }
}

static void
identical_content_shares_one_blob(void)
{
    char dir[PATH_MAX];
    size_t len = 300000;
    unsigned char *x = random_bytes(len, 1);
    rp_ckpt *s;

    make_tmpdir(dir, sizeof dir);
    s = open_store(dir);
    save_ok(s, "x", 1, x, len);
    save_ok(s, "y", 7, x, len);
    CU_ASSERT_EQUAL(blob_count(dir), 1);
    save_ok(s, "x", 2, x, len);                 /* and within a key */
    CU_ASSERT_EQUAL(blob_count(dir), 1);
    CU_ASSERT_EQUAL(non_inline_count(s, NULL), 3);

    CU_ASSERT_EQUAL(rp_ckpt_delete(s, "x", NULL), RP_OK);
    CU_ASSERT_EQUAL(blob_count(dir), 1);
    CU_ASSERT(loads(s, "y", x, len, 7));
    rp_ckpt_close(s);

    /* The open-time sweep keeps it too: y still references it. */
    s = open_store(dir);
    CU_ASSERT_EQUAL(blob_count(dir), 1);
    CU_ASSERT(loads(s, "y", x, len, 7));

    /* Retention that removes one sharer keeps it for the other. */
    save_ok(s, "z", 1, x, len);
    save_ok(s, "z", 2, "other", 5);
    CU_ASSERT_EQUAL(rp_ckpt_cleanup(s, 1, 0, NULL), RP_OK);
    CU_ASSERT_EQUAL(blob_count(dir), 1);
    CU_ASSERT(loads(s, "y", x, len, 7));

    CU_ASSERT_EQUAL(rp_ckpt_delete(s, "y", NULL), RP_OK);
    CU_ASSERT_EQUAL(blob_count(dir), 0);
    rp_ckpt_close(s);
    remove_tree(dir);
    free(x);
}

/* ---- key-value ---- */

typedef struct {
    size_t n, stop_after;
    char keys[16][32];
    size_t lens[16];
    unsigned char values[16][16];
} kv_listing;

static bool
kv_collect(const char *key, const void *value, size_t len, void *ctx)
{
    kv_listing *l = ctx;

    if (l->n < 16) {
        snprintf(l->keys[l->n], sizeof l->keys[0], "%s", key);
        l->lens[l->n] = len;
        if (len > 0 && len <= sizeof l->values[0])
            memcpy(l->values[l->n], value, len);
        l->n++;
    }
    return l->stop_after == 0 || l->n < l->stop_after;
}

static bool
kv_is(rp_ckpt *s, const char *key, const void *want, size_t want_len)
{
    void *v = (void *)1;
    size_t len = (size_t)-1;
    rp_status st = rp_ckpt_kv_get(s, key, &v, &len);
    bool ok = st == RP_OK && len == want_len &&
              (want_len == 0 ? v == NULL : memcmp(v, want, want_len) == 0);

    if (!ok)
        fprintf(stderr, "\n    kv_get %s: %s, %zu bytes (want %zu)\n", key, rp_strerror(st),
                len, want_len);
    if (st == RP_OK)
        free(v);
    return ok;
}

static void
kv_put_get_list_delete(void)
{
    char dir[PATH_MAX];
    const char bin[] = { 'a', '\0', 'b', '\0', '\xff' };
    void *v = NULL;
    size_t len = 0;
    kv_listing *l = calloc(1, sizeof *l);
    rp_ckpt *s;

    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    make_tmpdir(dir, sizeof dir);
    s = open_store(dir);
    CU_ASSERT_EQUAL(rp_ckpt_kv_get(s, "missing", &v, &len), RP_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(rp_ckpt_kv_put(s, "cfg/b", "two", 3), RP_OK);
    CU_ASSERT_EQUAL(rp_ckpt_kv_put(s, "cfg/a", "1", 1), RP_OK);
    CU_ASSERT_EQUAL(rp_ckpt_kv_put(s, "cfh", "x", 1), RP_OK);
    CU_ASSERT_EQUAL(rp_ckpt_kv_put(s, "bin", bin, sizeof bin), RP_OK);
    CU_ASSERT_EQUAL(rp_ckpt_kv_put(s, "cfg/empty", NULL, 0), RP_OK);
    CU_ASSERT_EQUAL(rp_ckpt_kv_put(s, "a_b", "1", 1), RP_OK);
    CU_ASSERT_EQUAL(rp_ckpt_kv_put(s, "axb", "2", 1), RP_OK);
    CU_ASSERT_EQUAL(rp_ckpt_kv_put(s, "a%c", "3", 1), RP_OK);

    CU_ASSERT(kv_is(s, "cfg/a", "1", 1));
    CU_ASSERT(kv_is(s, "cfg/b", "two", 3));
    CU_ASSERT(kv_is(s, "bin", bin, sizeof bin));
    CU_ASSERT(kv_is(s, "cfg/empty", NULL, 0));

    /* Overwrite, delete, delete of what is absent. */
    CU_ASSERT_EQUAL(rp_ckpt_kv_put(s, "cfg/a", "eleven", 6), RP_OK);
    CU_ASSERT(kv_is(s, "cfg/a", "eleven", 6));
    CU_ASSERT_EQUAL(rp_ckpt_kv_delete(s, "cfg/b"), RP_OK);
    CU_ASSERT_EQUAL(rp_ckpt_kv_get(s, "cfg/b", &v, &len), RP_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(rp_ckpt_kv_delete(s, "cfg/b"), RP_OK);
    CU_ASSERT_EQUAL(rp_ckpt_kv_delete(s, "never"), RP_OK);

    /* By prefix, in key order. */
    CU_ASSERT_EQUAL(rp_ckpt_kv_list(s, "cfg/", kv_collect, l), RP_OK);
    CU_ASSERT_EQUAL_FATAL(l->n, 2);
    CU_ASSERT_STRING_EQUAL(l->keys[0], "cfg/a");
    CU_ASSERT_STRING_EQUAL(l->keys[1], "cfg/empty");
    CU_ASSERT(l->lens[0] == 6 && memcmp(l->values[0], "eleven", 6) == 0);
    CU_ASSERT_EQUAL(l->lens[1], 0);

    memset(l, 0, sizeof *l);
    CU_ASSERT_EQUAL(rp_ckpt_kv_list(s, "", kv_collect, l), RP_OK);
    CU_ASSERT_EQUAL_FATAL(l->n, 7);
    {
        const char *want[] = { "a%c", "a_b", "axb", "bin", "cfg/a", "cfg/empty", "cfh" };

        for (size_t i = 0; i < 7; i++)
            CU_ASSERT_STRING_EQUAL(l->keys[i], want[i]);
    }
    CU_ASSERT(l->lens[3] == sizeof bin && memcmp(l->values[3], bin, sizeof bin) == 0);

    /* Prefixes are bytes, not patterns. */
    memset(l, 0, sizeof *l);
    CU_ASSERT_EQUAL(rp_ckpt_kv_list(s, "a_", kv_collect, l), RP_OK);
    CU_ASSERT_EQUAL(l->n, 1);
    CU_ASSERT_STRING_EQUAL(l->keys[0], "a_b");
    memset(l, 0, sizeof *l);
    CU_ASSERT_EQUAL(rp_ckpt_kv_list(s, "a%", kv_collect, l), RP_OK);
    CU_ASSERT_EQUAL(l->n, 1);
    CU_ASSERT_STRING_EQUAL(l->keys[0], "a%c");
    memset(l, 0, sizeof *l);
    CU_ASSERT_EQUAL(rp_ckpt_kv_list(s, "zzz", kv_collect, l), RP_OK);
    CU_ASSERT_EQUAL(l->n, 0);

    /* A callback that returns false stops the listing. */
    memset(l, 0, sizeof *l);
    l->stop_after = 2;
    CU_ASSERT_EQUAL(rp_ckpt_kv_list(s, "", kv_collect, l), RP_OK);
    CU_ASSERT_EQUAL(l->n, 2);

    /* Checkpoints and the table do not see each other's keys. */
    CU_ASSERT_EQUAL(load_status(s, "cfh"), RP_ERR_NOT_FOUND);
    rp_ckpt_close(s);

    /* Durable across a reopen. */
    s = open_store(dir);
    CU_ASSERT(kv_is(s, "cfg/a", "eleven", 6));
    CU_ASSERT(kv_is(s, "bin", bin, sizeof bin));
    CU_ASSERT(kv_is(s, "cfg/empty", NULL, 0));
    CU_ASSERT_EQUAL(rp_ckpt_kv_get(s, "cfg/b", &v, &len), RP_ERR_NOT_FOUND);
    memset(l, 0, sizeof *l);
    CU_ASSERT_EQUAL(rp_ckpt_kv_list(s, "", kv_collect, l), RP_OK);
    CU_ASSERT_EQUAL(l->n, 7);
    rp_ckpt_close(s);
    remove_tree(dir);
    free(l);
}

/* ---- bad arguments ---- */

static bool
never(const rp_ckpt_info *info, void *ctx)
{
    (void)info;
    *(int *)ctx += 1;
    return true;
}

static bool
kv_never(const char *key, const void *value, size_t len, void *ctx)
{
    (void)key;
    (void)value;
    (void)len;
    *(int *)ctx += 1;
    return true;
}

static void
bad_arguments_are_invalid(void)
{
    char dir[PATH_MAX];
    char *longest = malloc(RP_CKPT_KEY_MAX + 2), *too_long = malloc(RP_CKPT_KEY_MAX + 2);
    rp_ckpt *s = NULL, *none = NULL;
    void *data = NULL;
    size_t len = 0, removed = 0;
    uint64_t it = 0;
    char *why = NULL;
    int calls = 0;

    CU_ASSERT_FATAL(longest != NULL && too_long != NULL);
    memset(longest, 'k', RP_CKPT_KEY_MAX);
    longest[RP_CKPT_KEY_MAX] = '\0';
    memset(too_long, 'k', RP_CKPT_KEY_MAX + 1);
    too_long[RP_CKPT_KEY_MAX + 1] = '\0';

    CU_ASSERT_EQUAL(rp_ckpt_open(NULL, &none), RP_ERR_INVALID);
    CU_ASSERT_PTR_NULL(none);
    CU_ASSERT_EQUAL(rp_ckpt_open_why(NULL, &none, &why), RP_ERR_INVALID);
    CU_ASSERT_PTR_NULL(none);
    free(why);
    CU_ASSERT_EQUAL(rp_ckpt_open_why(NULL, &none, NULL), RP_ERR_INVALID);
    rp_ckpt_close(NULL);

    make_tmpdir(dir, sizeof dir);
    CU_ASSERT_EQUAL(rp_ckpt_open(dir, NULL), RP_ERR_INVALID);
    s = open_store(dir);

    CU_ASSERT_EQUAL(rp_ckpt_save(NULL, "k", 1, "x", 1), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_ckpt_save(s, NULL, 1, "x", 1), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_ckpt_save(s, "", 1, "x", 1), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_ckpt_save(s, too_long, 1, "x", 1), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_ckpt_save(s, "k", 1, NULL, 5), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(count_of(s, NULL), 0);
    save_ok(s, longest, 1, "x", 1);
    save_ok(s, "k", 1, NULL, 0);
    CU_ASSERT(loads(s, longest, "x", 1, 1));

    CU_ASSERT_EQUAL(rp_ckpt_load(NULL, "k", &data, &len, &it), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_ckpt_load(s, NULL, &data, &len, &it), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_ckpt_load(s, "", &data, &len, &it), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_ckpt_load(s, too_long, &data, &len, &it), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_ckpt_load(s, "k", NULL, &len, &it), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_ckpt_load(s, "k", &data, NULL, &it), RP_ERR_INVALID);
    CU_ASSERT(loads(s, "k", NULL, 0, 1));       /* iteration may be NULL: see load_status */
    CU_ASSERT_EQUAL(load_status(s, "k"), RP_OK);

    CU_ASSERT_EQUAL(rp_ckpt_cleanup(NULL, 1, 0, &removed), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_ckpt_delete(NULL, "k", &removed), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_ckpt_delete(s, NULL, &removed), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_ckpt_delete(s, "", &removed), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_ckpt_delete(s, too_long, &removed), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_ckpt_list(NULL, NULL, never, &calls), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_ckpt_list(s, NULL, NULL, NULL), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_ckpt_list(s, "", never, &calls), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(calls, 0);

    CU_ASSERT_EQUAL(rp_ckpt_kv_put(NULL, "k", "v", 1), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_ckpt_kv_put(s, NULL, "v", 1), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_ckpt_kv_put(s, "", "v", 1), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_ckpt_kv_put(s, "k", NULL, 1), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_ckpt_kv_get(NULL, "k", &data, &len), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_ckpt_kv_get(s, NULL, &data, &len), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_ckpt_kv_get(s, "k", NULL, &len), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_ckpt_kv_get(s, "k", &data, NULL), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_ckpt_kv_delete(NULL, "k"), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_ckpt_kv_delete(s, NULL), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_ckpt_kv_list(NULL, "", kv_never, &calls), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_ckpt_kv_list(s, "", NULL, NULL), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(calls, 0);

    /* Nothing of the refused calls happened. */
    CU_ASSERT_EQUAL(count_of(s, NULL), 2);
    CU_ASSERT_EQUAL(rp_ckpt_kv_list(s, "", kv_never, &calls), RP_OK);
    CU_ASSERT_EQUAL(calls, 0);
    rp_ckpt_close(s);
    remove_tree(dir);
    free(longest);
    free(too_long);
}

static void
unusable_directories_fail_with_a_why(void)
{
    char dir[PATH_MAX], file[PATH_MAX], under[PATH_MAX];
    const char *paths[2];
    int fd;

    make_tmpdir(dir, sizeof dir);
    path_in(file, sizeof file, dir, "plain-file");
    path_in(under, sizeof under, file, "store");
    fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(write(fd, "hello\n", 6), 6);
    close(fd);
    paths[0] = file;            /* a regular file, not a directory */
    paths[1] = under;           /* below a regular file */
    for (size_t i = 0; i < 2; i++) {
        rp_ckpt *s = NULL;
        char *why = NULL;
        rp_status st = rp_ckpt_open_why(paths[i], &s, &why);

        CU_ASSERT_NOT_EQUAL(st, RP_OK);
        CU_ASSERT(st == RP_ERR_IO || st == RP_ERR_INVALID || st == RP_ERR_CORRUPT);
        CU_ASSERT_PTR_NULL(s);
        CU_ASSERT(why != NULL && why[0] != '\0');
        free(why);
        if (st == RP_OK)
            rp_ckpt_close(s);
    }
    /* The file is untouched. */
    {
        char buf[16] = { 0 };

        fd = open(file, O_RDONLY);
        CU_ASSERT_FATAL(fd >= 0);
        CU_ASSERT_EQUAL(read(fd, buf, sizeof buf), 6);
        CU_ASSERT_STRING_EQUAL(buf, "hello\n");
        close(fd);
    }
    remove_tree(dir);
}

/* ---- threads ---- */

typedef struct {
    rp_ckpt *s;
    int index, rounds;
    atomic_int *failures;
    atomic_bool *done;
    const char *dir;
} worker_arg;

static void
note_failure(atomic_int *failures, const char *what, int index, int round)
{
    if (atomic_fetch_add(failures, 1) < 5)
        fprintf(stderr, "\n    thread %d round %d: %s\n", index, round, what);
}

/* Saves and loads its own key: every load gives what it saved last. */
static void *
saver_thread(void *p)
{
    worker_arg *a = p;
    char key[16];
    size_t cap = 100000;
    unsigned char *buf = malloc(cap);

    snprintf(key, sizeof key, "t%d", a->index);
    for (int r = 0; r < a->rounds && buf != NULL; r++) {
        size_t len = r % 3 == 0 ? cap : 2000 + (size_t)r;      /* files and inline */
        void *data = NULL;
        size_t got_len = 0;
        uint64_t got = 0;

        fill_random(buf, len, (uint64_t)a->index * 1000003 + (uint64_t)r);
        if (rp_ckpt_save(a->s, key, (uint64_t)r + 1, buf, len) != RP_OK) {
            note_failure(a->failures, "save failed", a->index, r);
            continue;
        }
        if (rp_ckpt_load(a->s, key, &data, &got_len, &got) != RP_OK) {
            note_failure(a->failures, "load failed", a->index, r);
            continue;
        }
        if (got != (uint64_t)r + 1 || got_len != len || memcmp(data, buf, len) != 0)
            note_failure(a->failures, "load gave other data", a->index, r);
        free(data);
    }
    if (buf == NULL)
        note_failure(a->failures, "out of memory", a->index, 0);
    free(buf);
    return NULL;
}

static bool
sane_entry(const rp_ckpt_info *info, void *ctx)
{
    int *bad = ctx;

    if (info->key == NULL || info->codec == NULL || !is_codec(info->codec) ||
        info->iteration == 0 || info->raw_size == 0)
        (*bad)++;
    return true;
}

static void *
lister_thread(void *p)
{
    worker_arg *a = p;
    int round = 0;

    while (!atomic_load(a->done)) {
        int bad = 0;

        if (rp_ckpt_list(a->s, NULL, sane_entry, &bad) != RP_OK)
            note_failure(a->failures, "list failed", -1, round);
        if (bad != 0)
            note_failure(a->failures, "list gave a bad entry", -1, round);
        round++;
        sched_yield();
    }
    return NULL;
}

static void
threads_saving_their_own_keys_read_their_own_writes(void)
{
    char dir[PATH_MAX];
    int rounds = 50 / (int)rp_test_slowdown();
    atomic_int failures = 0;
    atomic_bool done = false;
    worker_arg args[5];
    pthread_t th[5];
    rp_ckpt *s;

    if (rounds < 6)
        rounds = 6;
    make_tmpdir(dir, sizeof dir);
    s = open_store(dir);
    for (int i = 0; i < 5; i++) {
        args[i] = (worker_arg){ s, i, rounds, &failures, &done, dir };
        CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, i < 4 ? saver_thread : lister_thread,
                                             &args[i]),
                              0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    atomic_store(&done, true);
    pthread_join(th[4], NULL);
    CU_ASSERT_EQUAL(atomic_load(&failures), 0);
    CU_ASSERT_EQUAL(count_of(s, NULL), (size_t)rounds * 4);
    rp_ckpt_close(s);
    remove_tree(dir);
}

#define OPENER_PAYLOAD (150u * 1024)

/* Saves large checkpoints of "a" on its own handle and loads each back. */
static void *
busy_saver_thread(void *p)
{
    worker_arg *a = p;
    unsigned char *buf = malloc(OPENER_PAYLOAD);

    for (int r = 0; r < a->rounds && buf != NULL; r++) {
        uint64_t it = (uint64_t)r + 1, got = 0;
        void *data = NULL;
        size_t len = 0;
        rp_status st;

        fill_payload(buf, OPENER_PAYLOAD, it);
        st = rp_ckpt_save(a->s, "a", it, buf, OPENER_PAYLOAD);
        if (st != RP_OK) {
            char *why = rp_ckpt_why(a->s);

            note_failure(a->failures, why != NULL ? why : rp_strerror(st), 0, r);
            free(why);
            continue;
        }
        st = rp_ckpt_load(a->s, "a", &data, &len, &got);
        if (st != RP_OK || got != it || !payload_is_intact(data, len, OPENER_PAYLOAD, got))
            note_failure(a->failures, "a saved checkpoint does not load", 0, r);
        if (st == RP_OK)
            free(data);
    }
    free(buf);
    atomic_store(a->done, true);
    return NULL;
}

/* Opens and closes the same directory again and again (each open sweeps
 * temp files and unreferenced blobs), loading through its own handle. */
static void *
reopener_thread(void *p)
{
    worker_arg *a = p;
    int r = 0;

    while (!atomic_load(a->done)) {
        rp_ckpt *s = NULL;
        void *data = NULL;
        size_t len = 0;
        uint64_t got = 0;
        rp_status st = rp_ckpt_open(a->dir, &s);

        if (st != RP_OK) {
            note_failure(a->failures, "second open failed", 1, r++);
            continue;
        }
        st = rp_ckpt_load(s, "a", &data, &len, &got);
        if (st == RP_OK && !payload_is_intact(data, len, OPENER_PAYLOAD, got))
            note_failure(a->failures, "second handle loads damaged data", 1, r);
        else if (st != RP_OK && st != RP_ERR_NOT_FOUND)
            note_failure(a->failures, "second handle cannot load", 1, r);
        if (st == RP_OK)
            free(data);
        rp_ckpt_close(s);
        r++;
    }
    return NULL;
}

/* "Several processes may open one store": an open elsewhere must never
 * take a blob that a save in progress has written but not yet indexed. */
static void
a_second_opener_never_breaks_a_save_in_progress(void)
{
    char dir[PATH_MAX];
    int rounds = 60 / (int)rp_test_slowdown();
    atomic_int failures = 0;
    atomic_bool done = false;
    worker_arg args[2];
    pthread_t th[2];
    rp_ckpt *s;

    if (rounds < 10)
        rounds = 10;
    make_tmpdir(dir, sizeof dir);
    s = open_store(dir);
    args[0] = (worker_arg){ s, 0, rounds, &failures, &done, dir };
    args[1] = (worker_arg){ NULL, 1, 0, &failures, &done, dir };
    CU_ASSERT_EQUAL_FATAL(pthread_create(&th[0], NULL, busy_saver_thread, &args[0]), 0);
    CU_ASSERT_EQUAL_FATAL(pthread_create(&th[1], NULL, reopener_thread, &args[1]), 0);
    pthread_join(th[0], NULL);
    pthread_join(th[1], NULL);
    CU_ASSERT_EQUAL(atomic_load(&failures), 0);
    CU_ASSERT_EQUAL(count_of(s, "a"), (size_t)rounds);
    rp_ckpt_close(s);

    s = open_store(dir);
    {
        void *data = NULL;
        size_t len = 0;
        uint64_t got = 0;

        CU_ASSERT_EQUAL(rp_ckpt_load(s, "a", &data, &len, &got), RP_OK);
        CU_ASSERT_EQUAL(got, (uint64_t)rounds);
        CU_ASSERT(payload_is_intact(data, len, OPENER_PAYLOAD, (uint64_t)rounds));
        free(data);
    }
    CU_ASSERT((size_t)blob_count(dir) <= non_inline_count(s, "a"));
    rp_ckpt_close(s);
    remove_tree(dir);
}

/* rp_ckpt_load_iteration: exactly that iteration, its newest version. */
static void
a_given_iteration_loads(void)
{
    char dir[PATH_MAX];
    rp_ckpt *s;
    void *data = NULL;
    size_t len = 0;

    make_tmpdir(dir, sizeof dir);
    s = open_store(dir);
    for (uint64_t it = 1; it <= 3; it++) {
        char text[32];
        snprintf(text, sizeof text, "iteration %llu", (unsigned long long)it);
        CU_ASSERT_EQUAL(rp_ckpt_save(s, "k", it, text, strlen(text)), RP_OK);
    }
    CU_ASSERT_EQUAL(rp_ckpt_save(s, "k", 2, "iteration 2, again", 18), RP_OK);
    CU_ASSERT_EQUAL(rp_ckpt_load_iteration(s, "k", 1, &data, &len), RP_OK);
    CU_ASSERT(len == 11 && memcmp(data, "iteration 1", 11) == 0);
    free(data);
    CU_ASSERT_EQUAL(rp_ckpt_load_iteration(s, "k", 2, &data, &len), RP_OK);
    CU_ASSERT(len == 18 && memcmp(data, "iteration 2, again", 18) == 0);
    free(data);
    CU_ASSERT_EQUAL(rp_ckpt_load_iteration(s, "k", 9, &data, &len), RP_ERR_NOT_FOUND);
    CU_ASSERT_PTR_NULL(data);
    CU_ASSERT_EQUAL(rp_ckpt_load_iteration(s, "nokey", 1, &data, &len), RP_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(rp_ckpt_load_iteration(s, "k", (uint64_t)INT64_MAX + 1, &data, &len),
                    RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_ckpt_load_iteration(s, "k", 1, NULL, &len), RP_ERR_INVALID);
    rp_ckpt_close(s);
    remove_tree(dir);
}

/* A load racing a cleanup that removes what it was about to read must
 * still find the newest intact checkpoint: never RP_ERR_CORRUPT, since
 * nothing is damaged (it once said so, 33 times in 11,500 loads). */
struct churn {
    rp_ckpt *s;
    _Atomic bool stop;
};

static void *
churn_main(void *arg)
{
    struct churn *c = arg;
    unsigned char buf[2000];

    for (uint64_t it = 2; !atomic_load(&c->stop); it++) {
        memset(buf, (int)(it & 0xff), sizeof buf);
        CU_ASSERT_EQUAL(rp_ckpt_save(c->s, "hot", it, buf, sizeof buf), RP_OK);
        CU_ASSERT_EQUAL(rp_ckpt_cleanup(c->s, 1, 0, NULL), RP_OK);
    }
    return NULL;
}

static void
loads_racing_cleanup_never_say_corrupt(void)
{
    char dir[PATH_MAX];
    unsigned char buf[2000];
    struct churn c;
    pthread_t thread;
    double until = rp_test_now() + 1.5;
    unsigned loads = 0, bad = 0;

    make_tmpdir(dir, sizeof dir);
    c.s = open_store(dir);
    atomic_init(&c.stop, false);
    memset(buf, 1, sizeof buf);
    CU_ASSERT_EQUAL_FATAL(rp_ckpt_save(c.s, "hot", 1, buf, sizeof buf), RP_OK);
    CU_ASSERT_EQUAL_FATAL(pthread_create(&thread, NULL, churn_main, &c), 0);
    while (rp_test_now() < until) {
        void *data = NULL;
        size_t len = 0;
        uint64_t it = 0;
        rp_status st = rp_ckpt_load(c.s, "hot", &data, &len, &it);
        loads++;
        if (st != RP_OK || len != sizeof buf || ((unsigned char *)data)[0] != (it & 0xff))
            bad++;
        free(data);
    }
    atomic_store(&c.stop, true);
    pthread_join(thread, NULL);
    CU_ASSERT(loads > 0);
    CU_ASSERT_EQUAL(bad, 0);
    rp_ckpt_close(c.s);
    remove_tree(dir);
}

static const rp_test_case cases[] = {
    { "round_trip_keeps_bytes_and_reports_sizes", round_trip_keeps_bytes_and_reports_sizes },
    { "compressible_data_is_stored_inline", compressible_data_is_stored_inline },
    { "highest_iteration_wins_then_newest_save", highest_iteration_wins_then_newest_save },
    { "keys_are_exact_bytes", keys_are_exact_bytes },
    { "reopen_keeps_checkpoints_and_kv", reopen_keeps_checkpoints_and_kv },
    { "two_stores_are_independent", two_stores_are_independent },
    { "flipped_byte_falls_back_to_the_previous", flipped_byte_falls_back_to_the_previous },
    { "truncated_blob_falls_back_to_the_previous", truncated_blob_falls_back_to_the_previous },
    { "missing_blob_falls_back_to_the_previous", missing_blob_falls_back_to_the_previous },
    { "only_checkpoint_damaged_is_corrupt", only_checkpoint_damaged_is_corrupt },
    { "damaged_index_is_refused_cleanly", damaged_index_is_refused_cleanly },
    { "foreign_database_is_refused", foreign_database_is_refused },
    { "newer_schema_is_unsupported", newer_schema_is_unsupported },
    { "crash_at_random_moments_loses_nothing_acknowledged",
      crash_at_random_moments_loses_nothing_acknowledged },
    { "file_size_limit_fails_the_save_cleanly", file_size_limit_fails_the_save_cleanly },
    { "read_only_directory_fails_the_save_cleanly", read_only_directory_fails_the_save_cleanly },
    { "cleanup_keeps_the_newest_and_removes_their_files",
      cleanup_keeps_the_newest_and_removes_their_files },
    { "identical_content_shares_one_blob", identical_content_shares_one_blob },
    { "kv_put_get_list_delete", kv_put_get_list_delete },
    { "bad_arguments_are_invalid", bad_arguments_are_invalid },
    { "unusable_directories_fail_with_a_why", unusable_directories_fail_with_a_why },
    { "a_given_iteration_loads", a_given_iteration_loads },
    { "loads_racing_cleanup_never_say_corrupt", loads_racing_cleanup_never_say_corrupt },
    { "threads_saving_their_own_keys_read_their_own_writes",
      threads_saving_their_own_keys_read_their_own_writes },
    { "a_second_opener_never_breaks_a_save_in_progress",
      a_second_opener_never_breaks_a_save_in_progress },
    { NULL, NULL },
};

const rp_test_suite rp_test_suite_ckpt = { "ckpt", cases, true };
