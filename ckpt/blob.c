/*
 * blob.c -- stored form of checkpoint bytes (see blob.h).
 *
 * Float32 weights barely compress with plain zstd (~1.06x): their bytes
 * interleave a predictable sign/exponent byte with three noisy mantissa
 * bytes. Regrouping byte 0 of every value, then byte 1, and so on (the
 * shuffle filter of Blosc and HDF5) puts the predictable bytes together,
 * where zstd finds them. Whether it pays is decided on a sample, so
 * integers, text and random bytes are not shuffled for nothing.
 */
#include "ckpt/blob.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "engine/alloc.h"

#define LEVEL 1                          /* ~500 MB/s: saves stay well under 30 ms/10 MB */
#define SHUFFLE_MIN ((size_t)4096)
#define SAMPLE_MAX ((size_t)256 << 10)
#define PIECE ((size_t)1 << 20)           /* streaming unit of rp__blob_stream */
#define PARALLEL_HASH_MIN ((size_t)1 << 20)

void
rp__sha256_hex(const void *data, size_t len, char out[RP__SHA256_HEX])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[32];
    unsigned int mdlen = 0;

    EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
    for (unsigned i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
}

/* Byte i of value k goes to plane i: out[i * n + k] = in[4k + i]. The
 * len % 4 trailing bytes follow unchanged. */
static void
shuffle4(unsigned char *out, const unsigned char *in, size_t len)
{
    size_t n = len / 4;

    for (size_t k = 0; k < n; k++) {
        out[k] = in[4 * k];
        out[n + k] = in[4 * k + 1];
        out[2 * n + k] = in[4 * k + 2];
        out[3 * n + k] = in[4 * k + 3];
    }
    memcpy(out + 4 * n, in + 4 * n, len - 4 * n);
}

static void
unshuffle4(unsigned char *out, const unsigned char *in, size_t len)
{
    size_t n = len / 4;

    for (size_t k = 0; k < n; k++) {
        out[4 * k] = in[k];
        out[4 * k + 1] = in[n + k];
        out[4 * k + 2] = in[2 * n + k];
        out[4 * k + 3] = in[3 * n + k];
    }
    memcpy(out + 4 * n, in + 4 * n, len - 4 * n);
}

/* zstd of src into a new buffer; *out_len. The frame carries its own
 * checksum too, so damage is caught before the SHA-256 is even reached. */
static unsigned char *
zstd_compress(const void *src, size_t len, size_t *out_len)
{
    size_t cap = ZSTD_compressBound(len);
    unsigned char *dst = rp_xmalloc(cap ? cap : 1);
    ZSTD_CCtx *cctx = ZSTD_createCCtx();
    size_t n;

    if (cctx == NULL) {
        fprintf(stderr, "repartir: out of memory (zstd context)\n");
        abort();
    }
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, LEVEL);
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
    n = ZSTD_compress2(cctx, dst, cap, src, len);
    ZSTD_freeCCtx(cctx);
    if (ZSTD_isError(n)) {
        free(dst);
        return NULL;
    }
    *out_len = n;
    return dst;
}

/* Does shuffling pay on a sample of the data? */
static bool
shuffle_pays(const unsigned char *raw, size_t len)
{
    size_t n = len < SAMPLE_MAX ? len : SAMPLE_MAX;
    unsigned char *shuffled;
    unsigned char *a, *b;
    size_t alen = 0, blen = 0;
    bool pays;

    n -= n % 4;
    shuffled = rp_xmalloc(n);
    shuffle4(shuffled, raw, n);
    a = zstd_compress(raw, n, &alen);
    b = zstd_compress(shuffled, n, &blen);
    /* 1% better is enough: on a whole array the gain is larger than on a
     * sample (4% on 256 KiB of Gaussian fp32, 9% on 10 MB), and shuffled
     * bytes compress faster. */
    pays = a != NULL && b != NULL && blen < alen - alen / 100;
    free(a);
    free(b);
    free(shuffled);
    return pays;
}

/* The codec for raw: shuffle if it pays on a sample; "raw" if the sample
 * (the better way) does not compress by 3%. */
static const char *
choose_codec(const unsigned char *raw, size_t len)
{
    size_t n = len < SAMPLE_MAX ? len : SAMPLE_MAX;
    bool shuffle = len >= SHUFFLE_MIN && len % 4 == 0 && shuffle_pays(raw, len);
    unsigned char *sample = rp_xmalloc(n ? n : 1), *packed;
    size_t packed_len = 0;
    bool pays;

    if (shuffle) {
        shuffle4(sample, raw, n - n % 4);
        memcpy(sample + (n - n % 4), raw + (n - n % 4), n % 4);
    } else {
        memcpy(sample, raw, n);
    }
    packed = n ? zstd_compress(sample, n, &packed_len) : NULL;
    pays = packed != NULL && packed_len < n - n / 33;
    free(packed);
    free(sample);
    return !pays ? "raw" : shuffle ? "shuffle4+zstd" : "zstd";
}

struct hash_job {
    const void *data;
    size_t len;
    char *out;
};

static void *
hash_main(void *arg)
{
    struct hash_job *h = arg;

    rp__sha256_hex(h->data, h->len, h->out);
    return NULL;
}

void
rp__sha256_hex_while(const void *data, size_t len, char out[RP__SHA256_HEX],
                     void (*fn)(void *arg), void *arg)
{
    struct hash_job h = { data, len, out };
    pthread_t thread;
    bool parallel = len >= PARALLEL_HASH_MIN && pthread_create(&thread, NULL, hash_main, &h) == 0;

    if (!parallel)
        hash_main(&h);
    fn(arg);
    if (parallel)
        pthread_join(thread, NULL);
}

static bool
write_all(int fd, const unsigned char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = EIO;
            return false;
        }
        p += n;
        len -= (size_t)n;
    }
    return true;
}

rp_status
rp__blob_stream(const void *raw, size_t len, const char *tmp_path, struct rp__stored *out,
                char **why)
{
    const unsigned char *src = raw;
    unsigned char *shuffled = NULL, *buf = NULL;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    ZSTD_CCtx *cctx = NULL;
    unsigned char digest[32];
    size_t cap = 0, written = 0;
    off_t synced = 0;
    const char *step = "create";
    int fd = -1, err = 0;
    rp_status status = RP_ERR_IO;

    if (md == NULL) {
        fprintf(stderr, "repartir: out of memory (hash context)\n");
        abort();
    }
    out->codec = choose_codec(src, len);
    fd = open(tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 && errno == EEXIST && unlink(tmp_path) == 0)   /* stale: a crashed twin */
        fd = open(tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        goto fail;
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    step = "write";
    if (strcmp(out->codec, "raw") == 0) {
        for (size_t off = 0; off < len; off += PIECE) {
            size_t n = len - off < PIECE ? len - off : PIECE;
            if (!write_all(fd, src + off, n))
                goto fail;
            EVP_DigestUpdate(md, src + off, n);
            sync_file_range(fd, (off_t)off, (off_t)n, SYNC_FILE_RANGE_WRITE);
        }
        written = len;
    } else {
        if (strcmp(out->codec, "shuffle4+zstd") == 0) {
            shuffled = rp_xmalloc(len);
            shuffle4(shuffled, src, len);
            src = shuffled;
        }
        cctx = ZSTD_createCCtx();
        if (cctx == NULL) {
            fprintf(stderr, "repartir: out of memory (zstd context)\n");
            abort();
        }
        ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, LEVEL);
        ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
        ZSTD_CCtx_setPledgedSrcSize(cctx, len);
        cap = ZSTD_compressBound(PIECE);
        buf = rp_xmalloc(cap);
        for (size_t off = 0;;) {
            size_t n = len - off < PIECE ? len - off : PIECE;
            bool last = off + n == len;
            ZSTD_inBuffer in = { src + off, n, 0 };
            size_t left;
            do {
                ZSTD_outBuffer o = { buf, cap, 0 };
                left = ZSTD_compressStream2(cctx, &o, &in, last ? ZSTD_e_end : ZSTD_e_continue);
                if (ZSTD_isError(left)) {
                    errno = EINVAL;
                    step = "compress";
                    goto fail;
                }
                if (o.pos != 0) {
                    if (!write_all(fd, buf, o.pos))
                        goto fail;
                    EVP_DigestUpdate(md, buf, o.pos);
                    written += o.pos;
                }
            } while (last ? left != 0 : in.pos < in.size);
            /* Let the disk start on what is written while we compress on. */
            sync_file_range(fd, synced, (off_t)written - synced, SYNC_FILE_RANGE_WRITE);
            synced = (off_t)written;
            off += n;
            if (last)
                break;
        }
    }
    step = "fsync";
    if (fsync(fd) != 0)
        goto fail;
    step = "close";
    if (close(fd) != 0) {
        fd = -1;
        goto fail;
    }
    fd = -1;
    EVP_DigestFinal_ex(md, digest, NULL);
    for (unsigned i = 0; i < 32; i++)
        snprintf(out->sha + 2 * i, 3, "%02x", digest[i]);
    out->len = written;
    status = RP_OK;
    goto done;

fail:
    err = errno;
    *why = rp__sprintf("cannot %s %s: %s", step, tmp_path, strerror(err));
    if (fd >= 0)
        close(fd);
    unlink(tmp_path);
done:
    ZSTD_freeCCtx(cctx);
    EVP_MD_CTX_free(md);
    free(buf);
    free(shuffled);
    return status;
}

void
rp__blob_encode(const void *raw, size_t len, struct rp__blob *out)
{
    const unsigned char *src = raw;
    unsigned char *shuffled = NULL, *packed;
    size_t packed_len = 0;
    bool shuffle = len >= SHUFFLE_MIN && len % 4 == 0 && shuffle_pays(src, len);

    if (shuffle) {
        shuffled = rp_xmalloc(len);
        shuffle4(shuffled, src, len);
        src = shuffled;
    }
    packed = len != 0 ? zstd_compress(src, len, &packed_len) : NULL;
    free(shuffled);
    if (packed != NULL && packed_len < len - len / 33) {
        out->data = packed;
        out->len = packed_len;
        out->codec = shuffle ? "shuffle4+zstd" : "zstd";
        return;
    }
    free(packed);
    out->data = len != 0 ? rp_xmalloc(len) : NULL;
    if (len != 0)
        memcpy(out->data, raw, len);
    out->len = len;
    out->codec = "raw";
}

rp_status
rp__blob_decode(const char *codec, const void *stored, size_t stored_len, size_t raw_len,
                void **out, char **why)
{
    bool shuffled = strcmp(codec, "shuffle4+zstd") == 0;
    unsigned char *raw;

    *out = NULL;
    if (strcmp(codec, "raw") == 0) {
        if (stored_len != raw_len) {
            *why = rp__sprintf("%zu bytes stored, %zu expected", stored_len, raw_len);
            return RP_ERR_CORRUPT;
        }
        raw = raw_len ? rp_xmalloc(raw_len) : NULL;
        if (raw_len)
            memcpy(raw, stored, raw_len);
        *out = raw;
        return RP_OK;
    }
    if (!shuffled && strcmp(codec, "zstd") != 0) {
        *why = rp__sprintf("unknown codec '%s'", codec);
        return RP_ERR_CORRUPT;
    }
    raw = rp_xmalloc(raw_len ? raw_len : 1);
    size_t n = ZSTD_decompress(raw, raw_len, stored, stored_len);
    if (ZSTD_isError(n) || n != raw_len) {
        *why = rp__sprintf("cannot decompress: %s",
                           ZSTD_isError(n) ? ZSTD_getErrorName(n) : "wrong length");
        free(raw);
        return RP_ERR_CORRUPT;
    }
    if (shuffled) {
        unsigned char *plain = rp_xmalloc(raw_len ? raw_len : 1);
        unshuffle4(plain, raw, raw_len);
        free(raw);
        raw = plain;
    }
    *out = raw;
    return RP_OK;
}

static _Atomic unsigned long tmp_counter;

/* fsync of the directory holding path, so that the rename is durable. */
static int
fsync_parent(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash != NULL ? rp__sprintf("%.*s", (int)(slash - path), path) : rp_xstrdup(".");
    int fd = open(dir[0] != '\0' ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = fd < 0 ? -1 : fsync(fd);
    int err = errno;

    if (fd >= 0)
        close(fd);
    free(dir);
    errno = err;
    return rc;
}

rp_status
rp__blob_write(const char *path, const void *data, size_t len, char **why)
{
    char *tmp = rp__sprintf("%s.tmp.%ld.%lu", path, (long)getpid(),
                            atomic_fetch_add(&tmp_counter, 1));
    const unsigned char *p = data;
    size_t left = len;
    int fd, err = 0;
    const char *step = "create";

    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 && errno == EEXIST && unlink(tmp) == 0)   /* stale: a crashed twin */
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        err = errno;
        goto fail;
    }
    step = "write";
    while (left > 0) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            err = n < 0 ? errno : EIO;
            goto fail;
        }
        p += n;
        left -= (size_t)n;
    }
    step = "fsync";
    if (fsync(fd) != 0) {
        err = errno;
        goto fail;
    }
    close(fd);
    fd = -1;
    step = "rename";
    if (rename(tmp, path) != 0) {
        err = errno;
        goto fail;
    }
    free(tmp);
    if (fsync_parent(path) != 0) {
        /* Not unlinked: the file holds the right bytes, and an earlier
         * checkpoint with the same content may be using it. If nothing
         * refers to it, the next sweep removes it. */
        *why = rp__sprintf("cannot fsync the directory of %s: %s", path, strerror(errno));
        return RP_ERR_IO;
    }
    return RP_OK;

fail:
    *why = rp__sprintf("cannot %s %s: %s", step, tmp, strerror(err));
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    free(tmp);
    return RP_ERR_IO;
}

rp_status
rp__blob_read(const char *path, size_t expected, void **data, size_t *len, char **why)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    unsigned char *buf = NULL;
    size_t got = 0;

    *data = NULL;
    *len = 0;
    if (fd < 0 || fstat(fd, &st) != 0) {
        int err = errno;
        *why = rp__sprintf("cannot read %s: %s", path, strerror(err));
        if (fd >= 0)
            close(fd);
        return err == ENOENT ? RP_ERR_NOT_FOUND : RP_ERR_IO;
    }
    if (expected != (size_t)-1 && (uint64_t)st.st_size != expected) {
        /* Checked before allocating: a damaged file may claim any size. */
        *why = rp__sprintf("%s has %lld bytes, %zu expected", path, (long long)st.st_size,
                           expected);
        close(fd);
        return RP_ERR_CORRUPT;
    }
    buf = rp_xmalloc(st.st_size > 0 ? (size_t)st.st_size : 1);
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            *why = rp__sprintf("cannot read %s: %s", path, n < 0 ? strerror(errno)
                                                                 : "file shrank");
            free(buf);
            close(fd);
            return n < 0 ? RP_ERR_IO : RP_ERR_CORRUPT;
        }
        got += (size_t)n;
    }
    close(fd);
    *data = buf;
    *len = got;
    return RP_OK;
}
