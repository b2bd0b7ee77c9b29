/*
 * bench_ckpt.c -- the checkpoint store: how long a durable save and a load
 * of a model-sized checkpoint take beside plain file I/O, how well the
 * store compresses it, and how many durable key-value puts it does a
 * second.
 *
 *  1. Save: `mb` MiB of float32 training state (below) as iterations 1..R
 *     of one key of a fresh store, each through rp_ckpt_save. Anchor: the
 *     same bytes written to a new file in the directory that holds the
 *     store (open O_CREAT|O_TRUNC, write, fsync, close, then an fsync of
 *     the directory, since the store fsyncs its directory too). p50 and
 *     p90. Targets: p50 <= 30 ms, and <= 1.5x the anchor's p50.
 *  2. Load: rp_ckpt_load of the newest checkpoint, R times (checked byte
 *     for byte once, outside the timing). Target: p50 <= 20 ms. Anchor,
 *     for information: open + read() of the raw file into a fresh buffer.
 *     Both read a warm page cache: the figure is the store's own work
 *     (index lookup, decompression, checksum), not the disk's.
 *  3. Compression: raw bytes / stored bytes (rp_ckpt_list) and the codec
 *     the store chose, beside plain zstd level 1 on the same bytes and
 *     byte-shuffle + zstd level 1; and, for scale, what the parts of a save
 *     and a load cost alone (SHA-256, the shuffle, zstd-1 both ways) and
 *     their sum: the CPU a save and a load spend if done one after another.
 *  4. Durable KV puts: `kv` x rp_ckpt_kv_put of a 100-byte value, one
 *     transaction each: puts/s and per-put p50/p99. Anchor, for
 *     information: append 100 bytes + fdatasync to a file, interleaved put
 *     by put. At most KV_BUDGET_S seconds; a cut run says so.
 *
 * The training state: the tensors of a small transformer block (d = 256),
 * repeated until `mb` MiB are filled. Matrices are N(0, 0.02^2) (0.005 for
 * the projections back into the residual stream) plus a per-row offset;
 * layer-norm gains 1 + 0.05 N(0,1); biases 0.01 N(0,1). Values are made in
 * double and rounded to float32, so the exponent bytes take few values and
 * the low mantissa bits are noise, as in trained fp32 weights. Before each
 * save one "optimizer step" adds uniform noise of +-1e-4 to every value, so
 * no two checkpoints are alike (a content-addressed store could otherwise
 * skip the write). Everything comes from a fixed seed.
 *
 * One process, no children: on neither side do threads outlive a call
 * (the store's zstd workers are joined before a save returns), and rounds
 * are interleaved (ours first on even rounds, the anchor first on odd
 * ones) so the page cache, the journal and drift on the machine hit both
 * alike. All files live in a
 * fresh directory, `--dir`/bench_ckpt.XXXXXX (default: the current
 * directory, usually a real disk, where /tmp may be tmpfs), removed at the
 * end; its path and file-system type (statfs f_type) are printed, since
 * these figures belong to the file system as much as to us.
 *
 *   bench_ckpt [--mb 10] [--reps 21] [--dir PATH] [--kv 2000]
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <zstd.h>

#include <repartir.h>

#include "bench/common.h"

#define KEY "bench/weights"
#define WARMUP_KEY "bench/warm-up"
#define KV_PREFIX "bench/kv/"
#define SEED UINT64_C(0x5eed0fc4ec4b0177)
#define STEP 1e-4                 /* the optimizer step's noise, +- */
#define KV_VALUE_LEN 100
#define KV_BUDGET_S 30.0          /* longest the KV part may take */
#define PART_RUNS 5               /* runs of each part in section 3 */

/* ---- figures ---- */

static double
p50(const bench_samples *s)
{
    return bench_percentile(s->v, (size_t)s->n, 0.50);
}

static double
p90(const bench_samples *s)
{
    return bench_percentile(s->v, (size_t)s->n, 0.90);
}

/* "   name   p50 ms   p90 ms   MiB/s at p50" */
static void
print_row(const char *name, const bench_samples *s, size_t bytes)
{
    printf("   %-30s %8.2f ms %8.2f ms %8.0f MiB/s\n", name, p50(s) * 1e3, p90(s) * 1e3,
           (double)bytes / (1 << 20) / p50(s));
}

static void
say_store_error(rp_ckpt *s, const char *call, rp_status st)
{
    char *why = rp_ckpt_why(s);

    fprintf(stderr, "bench_ckpt: %s: %s%s%s\n", call, rp_strerror(st), why ? ": " : "",
            why ? why : "");
    free(why);
}

/* ---- the training state ---- */

static uint64_t
next_random(uint64_t *s)          /* splitmix64 */
{
    uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));

    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static double
uniform(uint64_t *s)              /* [0, 1) */
{
    return (double)(next_random(s) >> 11) * 0x1.0p-53;
}

static double
gaussian(uint64_t *s)             /* N(0, 1), Box-Muller */
{
    double u = uniform(s), v = uniform(s);

    return sqrt(-2 * log(1 - u)) * cos(2 * M_PI * v);
}

enum layer_init {
    INIT_MATRIX,                  /* scale * N(0,1) + a per-row offset */
    INIT_GAIN,                    /* 1 + scale * N(0,1) */
    INIT_BIAS,                    /* scale * N(0,1) */
};

struct layer {
    size_t rows, cols;
    enum layer_init init;
    double scale;
};

#define D 256
/* One transformer block, GPT-2 style: repeated to fill the state. */
static const struct layer block[] = {
    { .rows = 1,     .cols = D,     .init = INIT_GAIN,   .scale = 0.05 },  /* ln1 */
    { .rows = 1,     .cols = D,     .init = INIT_BIAS,   .scale = 0.01 },
    { .rows = 3 * D, .cols = D,     .init = INIT_MATRIX, .scale = 0.02 },  /* qkv */
    { .rows = 1,     .cols = 3 * D, .init = INIT_BIAS,   .scale = 0.01 },
    { .rows = D,     .cols = D,     .init = INIT_MATRIX, .scale = 0.005 }, /* attn out */
    { .rows = 1,     .cols = D,     .init = INIT_BIAS,   .scale = 0.01 },
    { .rows = 1,     .cols = D,     .init = INIT_GAIN,   .scale = 0.05 },  /* ln2 */
    { .rows = 1,     .cols = D,     .init = INIT_BIAS,   .scale = 0.01 },
    { .rows = 4 * D, .cols = D,     .init = INIT_MATRIX, .scale = 0.02 },  /* mlp up */
    { .rows = 1,     .cols = 4 * D, .init = INIT_BIAS,   .scale = 0.01 },
    { .rows = D,     .cols = 4 * D, .init = INIT_MATRIX, .scale = 0.005 }, /* mlp down */
    { .rows = 1,     .cols = D,     .init = INIT_BIAS,   .scale = 0.01 },
};
#define BLOCK_LAYERS (sizeof block / sizeof block[0])

static void
make_state(float *w, size_t n, uint64_t *rng)
{
    size_t at = 0;

    for (size_t b = 0; at < n; b = (b + 1) % BLOCK_LAYERS) {
        const struct layer *l = &block[b];
        for (size_t r = 0; r < l->rows && at < n; r++) {
            double offset = l->init == INIT_MATRIX ? 0.1 * l->scale * gaussian(rng) : 0;
            double base = l->init == INIT_GAIN ? 1 : offset;
            for (size_t c = 0; c < l->cols && at < n; c++)
                w[at++] = (float)(base + l->scale * gaussian(rng));
        }
    }
}

/* One optimizer step: every value moves a little. */
static void
step_state(float *w, size_t n, uint64_t *rng)
{
    for (size_t i = 0; i < n; i++)
        w[i] += (float)(STEP * (2 * uniform(rng) - 1));
}

/* ---- plain file I/O: the anchors ---- */

static bool
write_all(int fd, const void *data, size_t len)
{
    for (size_t off = 0; off < len;) {
        ssize_t w = write(fd, (const char *)data + off, len - off);
        if (w < 0 && errno != EINTR)
            return false;
        if (w > 0)
            off += (size_t)w;
    }
    return true;
}

static bool
fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    bool ok = fd >= 0 && fsync(fd) == 0;

    if (fd >= 0)
        close(fd);
    return ok;
}

/* What a careful program does to put a file on disk, without the rename. */
static bool
raw_write(const char *dir, const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    bool ok = fd >= 0 && write_all(fd, data, len) && fsync(fd) == 0;

    if (fd >= 0 && close(fd) != 0)
        ok = false;
    if (ok)
        ok = fsync_dir(dir);
    if (!ok)
        fprintf(stderr, "bench_ckpt: writing %s: %s\n", path, strerror(errno));
    return ok;
}

/* The whole file, malloc'd, or NULL (said why). */
static void *
raw_read(const char *path, size_t *len /* OUT */)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    char *buf = NULL;
    size_t off = 0;

    if (fd < 0 || fstat(fd, &st) != 0)
        goto fail;
    if ((buf = malloc(st.st_size > 0 ? (size_t)st.st_size : 1)) == NULL)
        goto fail;
    while (off < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + off, (size_t)st.st_size - off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            goto fail;
        off += (size_t)r;
    }
    close(fd);
    *len = off;
    return buf;
fail:
    fprintf(stderr, "bench_ckpt: reading %s: %s\n", path, strerror(errno));
    free(buf);
    if (fd >= 0)
        close(fd);
    return NULL;
}

/* ---- the run ---- */

struct bench {
    char dir[PATH_MAX - 64];      /* the fresh directory: the store's parent; room
                                   * is left for the names of the files in it */
    char store_dir[PATH_MAX];
    char raw_path[PATH_MAX];      /* the newest raw file */
    rp_ckpt *store;
    float *state;
    size_t bytes, n;
    uint64_t rng;
    int reps;
    long kv;
};

/* 1. rp_ckpt_save beside write + fsync, interleaved. */
static int
measure_save(struct bench *b)
{
    bench_samples ours = { 0 }, raw = { 0 };
    rp_status st;

    printf("   1. save: %.1f MiB as iterations 1..%d of one key, a step before each; "
           "interleaved with the raw write\n", (double)b->bytes / (1 << 20), b->reps);
    step_state(b->state, b->n, &b->rng);
    snprintf(b->raw_path, sizeof b->raw_path, "%s/raw-warm-up.bin", b->dir);
    if ((st = rp_ckpt_save(b->store, WARMUP_KEY, 1, b->state, b->bytes)) != RP_OK) {
        say_store_error(b->store, "rp_ckpt_save", st);
        return 1;
    }
    if (!raw_write(b->dir, b->raw_path, b->state, b->bytes))
        return 1;
    for (int round = 0; round < b->reps; round++) {
        step_state(b->state, b->n, &b->rng);
        snprintf(b->raw_path, sizeof b->raw_path, "%s/raw-%03d.bin", b->dir, round + 1);
        for (int k = 0; k < 2; k++) {
            double t0 = bench_now();
            if ((k == 0) == (round % 2 == 0)) {
                st = rp_ckpt_save(b->store, KEY, (uint64_t)round + 1, b->state, b->bytes);
                if (st != RP_OK) {
                    say_store_error(b->store, "rp_ckpt_save", st);
                    return 1;
                }
                bench_add(&ours, bench_now() - t0);
            } else {
                if (!raw_write(b->dir, b->raw_path, b->state, b->bytes))
                    return 1;
                bench_add(&raw, bench_now() - t0);
            }
        }
    }
    printf("   %-30s %11s %11s %14s\n", "", "p50", "p90", "at p50");
    print_row("rp_ckpt_save", &ours, b->bytes);
    print_row("write, fsync, close, dir fsync", &raw, b->bytes);
    bench_print_ratio("save / raw write, p50", p50(&ours), p50(&raw), "<= 1.50",
                      p50(&ours) <= 1.5 * p50(&raw));
    printf("   %-36s %6.2f   target <= 30 ms: %s\n", "save p50, ms", p50(&ours) * 1e3,
           p50(&ours) <= 0.030 ? "met" : "NOT met");
    return 0;
}

/* 2. rp_ckpt_load beside read(), interleaved; checked once first. */
static int
measure_load(struct bench *b)
{
    bench_samples ours = { 0 }, raw = { 0 };
    void *data = NULL;
    size_t len = 0;
    uint64_t iteration = 0;
    rp_status st;

    printf("   2. load: the newest checkpoint (iteration %d), %d times, warm page cache; "
           "interleaved with read() of the raw file\n", b->reps, b->reps);
    if ((st = rp_ckpt_load(b->store, KEY, &data, &len, &iteration)) != RP_OK) {
        say_store_error(b->store, "rp_ckpt_load", st);
        return 1;
    }
    bool same = len == b->bytes && iteration == (uint64_t)b->reps &&
                memcmp(data, b->state, len) == 0;
    free(data);
    if (!same) {
        fprintf(stderr, "bench_ckpt: rp_ckpt_load gave %zu bytes of iteration %llu, "
                "%s; saved %zu bytes as iteration %d\n", len, (unsigned long long)iteration,
                len == b->bytes ? "different bytes" : "", b->bytes, b->reps);
        return 1;
    }
    for (int round = 0; round < b->reps; round++) {
        for (int k = 0; k < 2; k++) {
            bool fine;
            double t0 = bench_now();
            data = NULL;
            len = 0;
            if ((k == 0) == (round % 2 == 0)) {
                st = rp_ckpt_load(b->store, KEY, &data, &len, NULL);
                bench_add(&ours, bench_now() - t0);
                if (!(fine = st == RP_OK && len == b->bytes))
                    say_store_error(b->store, "rp_ckpt_load", st);
            } else {
                data = raw_read(b->raw_path, &len);
                bench_add(&raw, bench_now() - t0);
                fine = data != NULL && len == b->bytes;
            }
            free(data);
            if (!fine)
                return 1;
        }
    }
    printf("   %-30s %11s %11s %14s\n", "", "p50", "p90", "at p50");
    print_row("rp_ckpt_load", &ours, b->bytes);
    print_row("open + read() + close", &raw, b->bytes);
    bench_print_ratio("load / read(), p50", p50(&ours), p50(&raw), NULL, false);
    printf("   %-36s %6.2f   target <= 20 ms: %s\n", "load p50, ms", p50(&ours) * 1e3,
           p50(&ours) <= 0.020 ? "met" : "NOT met");
    return 0;
}

struct listing {
    int count;
    uint64_t iteration, raw_size, stored_size;
    bool inline_stored;
    char codec[32];
};

static bool
on_checkpoint(const rp_ckpt_info *info, void *ctx)
{
    struct listing *l = ctx;

    if (l->count++ == 0) {      /* newest first */
        l->iteration = info->iteration;
        l->raw_size = info->raw_size;
        l->stored_size = info->stored_size;
        l->inline_stored = info->inline_stored;
        snprintf(l->codec, sizeof l->codec, "%s", info->codec ? info->codec : "(null)");
    }
    return true;
}

/* Transposes len/4 four-byte values into four planes of bytes. */
static void
shuffle4(const unsigned char *in, unsigned char *out, size_t len)
{
    size_t n = len / 4;

    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < 4; k++)
            out[k * n + i] = in[4 * i + k];
    memcpy(out + 4 * n, in + 4 * n, len - 4 * n);
}

/* 3. What the store stored, beside zstd-1 alone; the parts, for scale. */
static int
measure_compression(struct bench *b)
{
    struct listing l = { 0 };
    size_t cap = ZSTD_compressBound(b->bytes), plain = 0, shuffled = 0;
    unsigned char *shuf = malloc(b->bytes), *packed = malloc(cap), *back = malloc(b->bytes);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned digest_len;
    bench_samples sha = { 0 }, shuffle = { 0 }, zplain = { 0 }, zshuf = { 0 }, unz = { 0 };
    rp_status st;
    int rc = 1;

    printf("   3. compression of the newest checkpoint; its parts alone for scale, "
           "median of %d\n", PART_RUNS);
    if (shuf == NULL || packed == NULL || back == NULL) {
        fprintf(stderr, "bench_ckpt: out of memory\n");
        goto done;
    }
    if ((st = rp_ckpt_list(b->store, KEY, on_checkpoint, &l)) != RP_OK) {
        say_store_error(b->store, "rp_ckpt_list", st);
        goto done;
    }
    if (l.count != b->reps || l.iteration != (uint64_t)b->reps || l.raw_size != b->bytes ||
        l.stored_size == 0) {
        fprintf(stderr, "bench_ckpt: rp_ckpt_list: %d checkpoints, the newest iteration "
                "%llu of %llu bytes stored in %llu; expected %d, %d, %zu\n", l.count,
                (unsigned long long)l.iteration, (unsigned long long)l.raw_size,
                (unsigned long long)l.stored_size, b->reps, b->reps, b->bytes);
        goto done;
    }
    for (int i = 0; i < PART_RUNS; i++) {
        double t0 = bench_now();
        if (EVP_Digest(b->state, b->bytes, digest, &digest_len, EVP_sha256(), NULL) != 1)
            goto done;
        double t1 = bench_now();
        plain = ZSTD_compress(packed, cap, b->state, b->bytes, 1);
        double t2 = bench_now();
        shuffle4((const unsigned char *)b->state, shuf, b->bytes);
        double t3 = bench_now();
        shuffled = ZSTD_compress(packed, cap, shuf, b->bytes, 1);
        double t4 = bench_now();
        size_t out = ZSTD_decompress(back, b->bytes, packed, shuffled);
        double t5 = bench_now();
        if (ZSTD_isError(plain) || ZSTD_isError(shuffled) || ZSTD_isError(out) ||
            out != b->bytes || memcmp(back, shuf, b->bytes) != 0) {
            fprintf(stderr, "bench_ckpt: zstd failed\n");
            goto done;
        }
        bench_add(&sha, t1 - t0);
        bench_add(&zplain, t2 - t1);
        bench_add(&shuffle, t3 - t2);
        bench_add(&zshuf, t4 - t3);
        bench_add(&unz, t5 - t4);
    }
    printf("   %-30s %8.3fx  (%llu -> %llu bytes, codec %s%s)\n", "the store",
           (double)l.raw_size / (double)l.stored_size, (unsigned long long)l.raw_size,
           (unsigned long long)l.stored_size, l.codec, l.inline_stored ? ", inline" : "");
    printf("   %-30s %8.3fx  (%zu bytes)\n", "zstd -1, no shuffle",
           (double)b->bytes / (double)plain, plain);
    printf("   %-30s %8.3fx  (%zu bytes)\n", "shuffle4 + zstd -1",
           (double)b->bytes / (double)shuffled, shuffled);
    printf("   %-30s %8.2f ms   %-30s %8.2f ms\n", "SHA-256 (OpenSSL)",
           bench_median(&sha) * 1e3, "shuffle4", bench_median(&shuffle) * 1e3);
    printf("   %-30s %8.2f ms   %-30s %8.2f ms\n", "zstd -1, no shuffle",
           bench_median(&zplain) * 1e3, "zstd -1 of the shuffled bytes",
           bench_median(&zshuf) * 1e3);
    printf("   %-30s %8.2f ms\n", "zstd decompress (shuffled)", bench_median(&unz) * 1e3);
    /* The shuffle's time stands for the unshuffle's: the same traffic. */
    printf("   %-30s %8.2f ms   %-30s %8.2f ms\n", "CPU of a save, serial",
           (bench_median(&sha) + bench_median(&shuffle) + bench_median(&zshuf)) * 1e3,
           "CPU of a load, serial",
           (bench_median(&sha) + bench_median(&shuffle) + bench_median(&unz)) * 1e3);
    rc = 0;
done:
    free(shuf);
    free(packed);
    free(back);
    return rc;
}

static bool
count_key(const char *key, const void *value, size_t len, void *ctx)
{
    (void)key, (void)value;
    if (len == KV_VALUE_LEN)
        (*(long *)ctx)++;
    return true;
}

/* 4. Durable KV puts beside append + fdatasync, interleaved. */
static int
measure_kv(struct bench *b)
{
    double *put = calloc((size_t)b->kv, sizeof *put), *sync = calloc((size_t)b->kv, sizeof *sync);
    char key[64], path[PATH_MAX + 32];
    unsigned char value[KV_VALUE_LEN];
    long done = 0, listed = 0;
    double put_total = 0, sync_total = 0, start;
    void *got = NULL;
    size_t got_len = 0;
    rp_status st = RP_OK;
    int fd = -1, rc = 1;

    printf("   4. durable KV puts: %ld x %d-byte values, one transaction each; "
           "interleaved with append + fdatasync\n", b->kv, KV_VALUE_LEN);
    snprintf(path, sizeof path, "%s/kv-anchor.bin", b->dir);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
    if (put == NULL || sync == NULL || fd < 0) {
        fprintf(stderr, "bench_ckpt: %s: %s\n", path, strerror(errno));
        goto done;
    }
    start = bench_now();
    for (; done < b->kv && bench_now() - start < KV_BUDGET_S; done++) {
        snprintf(key, sizeof key, KV_PREFIX "%06ld", done);
        for (size_t j = 0; j < sizeof value; j++)
            value[j] = (unsigned char)(done * 31 + (long)j);
        for (int k = 0; k < 2; k++) {
            double t0 = bench_now();
            if ((k == 0) == (done % 2 == 0)) {
                if ((st = rp_ckpt_kv_put(b->store, key, value, sizeof value)) != RP_OK) {
                    say_store_error(b->store, "rp_ckpt_kv_put", st);
                    goto done;
                }
                put[done] = bench_now() - t0;
                put_total += put[done];
            } else {
                if (!write_all(fd, value, sizeof value) || fdatasync(fd) != 0) {
                    fprintf(stderr, "bench_ckpt: %s: %s\n", path, strerror(errno));
                    goto done;
                }
                sync[done] = bench_now() - t0;
                sync_total += sync[done];
            }
        }
    }
    if (done == 0) {
        rc = 0;
        goto done;
    }
    /* The last one reads back, and the table holds exactly what was put. */
    if ((st = rp_ckpt_kv_get(b->store, key, &got, &got_len)) != RP_OK) {
        say_store_error(b->store, "rp_ckpt_kv_get", st);
        goto done;
    }
    if ((st = rp_ckpt_kv_list(b->store, KV_PREFIX, count_key, &listed)) != RP_OK) {
        say_store_error(b->store, "rp_ckpt_kv_list", st);
        goto done;
    }
    if (got_len != sizeof value || memcmp(got, value, sizeof value) != 0 || listed != done) {
        fprintf(stderr, "bench_ckpt: KV: %s read back %zu bytes%s; listed %ld of %ld\n", key,
                got_len, got_len == sizeof value ? " that differ" : "", listed, done);
        goto done;
    }
    if (done < b->kv)
        printf("   (stopped after %ld of %ld: the %.0f s budget ran out)\n", done, b->kv,
               KV_BUDGET_S);
    printf("   %-30s %8.0f /s   p50 %7.3f ms   p99 %7.3f ms\n", "rp_ckpt_kv_put",
           (double)done / put_total, bench_percentile(put, (size_t)done, 0.5) * 1e3,
           bench_percentile(put, (size_t)done, 0.99) * 1e3);
    printf("   %-30s %8.0f /s   p50 %7.3f ms   p99 %7.3f ms\n", "append 100 B + fdatasync",
           (double)done / sync_total, bench_percentile(sync, (size_t)done, 0.5) * 1e3,
           bench_percentile(sync, (size_t)done, 0.99) * 1e3);
    bench_print_ratio("puts/s / fdatasyncs/s", sync_total / put_total, 1, NULL, false);
    rc = 0;
done:
    free(got);
    if (fd >= 0)
        close(fd);
    free(put);
    free(sync);
    return rc;
}

int
main(int argc, char **argv)
{
    struct bench b = { .rng = SEED };
    const char *parent = ".";
    char parent_abs[PATH_MAX];
    long mb = 10, reps = 21, kv = 2000;
    rp_status st;
    int rc = 1;

    for (int i = 1; i < argc; i += 2) {
        const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (val == NULL) { fprintf(stderr, "bench_ckpt: %s needs a value\n", opt); return 2; }
        if (strcmp(opt, "--mb") == 0) mb = atol(val);
        else if (strcmp(opt, "--reps") == 0) reps = atol(val);
        else if (strcmp(opt, "--dir") == 0) parent = val;
        else if (strcmp(opt, "--kv") == 0) kv = atol(val);
        else { fprintf(stderr, "bench_ckpt: unknown option %s\n", opt); return 2; }
    }
    if (mb < 1 || mb > 1024 || reps < 1 || reps > BENCH_MAX_SAMPLES || kv < 0 ||
        kv > 1000000) {
        fprintf(stderr, "bench_ckpt: bad arguments (--mb 1..1024, --reps 1..%d, "
                "--kv 0..1000000)\n", BENCH_MAX_SAMPLES);
        return 2;
    }
    b.reps = (int)reps;
    b.kv = kv;
    b.bytes = (size_t)mb << 20;
    b.n = b.bytes / sizeof(float);
    /* Saves, loads and parts at 1 s per 10 MiB each at worst, plus the KV budget. */
    bench_watchdog("bench_ckpt",
                   60 + 0.1 * (double)mb * (3.0 * (double)reps + PART_RUNS + 4) + KV_BUDGET_S);
    if (realpath(parent, parent_abs) == NULL) {
        fprintf(stderr, "bench_ckpt: %s: %s\n", parent, strerror(errno));
        return 2;
    }
    if ((size_t)snprintf(b.dir, sizeof b.dir, "%s/bench_ckpt.XXXXXX", parent_abs) >=
            sizeof b.dir || mkdtemp(b.dir) == NULL) {
        fprintf(stderr, "bench_ckpt: cannot make a directory in %s: %s\n", parent_abs,
                strerror(errno));
        return 2;
    }
    bench_watchdog_names(b.dir);
    snprintf(b.store_dir, sizeof b.store_dir, "%s/store", b.dir);

    bench_print_machine("checkpoint store: save, load, compression, durable KV puts");
    if (!bench_print_file_system(b.dir))
        goto done;
    if ((b.state = malloc(b.bytes)) == NULL) {
        fprintf(stderr, "bench_ckpt: out of memory\n");
        goto done;
    }
    make_state(b.state, b.n, &b.rng);
    printf("   state: %ld MiB of float32 (%zu values), transformer blocks of d = %d, "
           "seed %#llx\n", mb, b.n, D, (unsigned long long)SEED);
    char *why = NULL;
    if ((st = rp_ckpt_open_why(b.store_dir, &b.store, &why)) != RP_OK) {
        fprintf(stderr, "bench_ckpt: rp_ckpt_open %s: %s%s%s\n", b.store_dir,
                rp_strerror(st), why ? ": " : "", why ? why : "");
        free(why);
        goto done;
    }
    if (measure_save(&b) != 0 || measure_load(&b) != 0 || measure_compression(&b) != 0)
        goto done;
    if (kv > 0 && measure_kv(&b) != 0)
        goto done;
    rc = 0;
done:
    rp_ckpt_close(b.store);
    free(b.state);
    bench_remove_tree(b.dir);
    return rc;
}
