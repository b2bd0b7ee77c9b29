/*
 * workdir.c -- a worker's work dir (workdir.h): files by content, run dirs
 * under safe names, the --allow list.
 */
#include "net/workdir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/alloc.h"
#include "net/proto.h"

struct rp_workdir {
    char *dir;
    int files_fd, runs_fd;          /* DIR/files, DIR/runs */
    unsigned counter;               /* temp file names */
};

struct rp_file_in {
    rp_workdir *w;
    char sha256[65];
    char tmp[96];
    int fd;
    uint64_t size, written;
    EVP_MD_CTX *md;
};

static rp_status
io_error(char **why, const char *what, const char *path)
{
    *why = rp__sprintf("%s %s: %s", what, path, strerror(errno));
    return RP_ERR_IO;
}

static bool
hex64(const char *s)
{
    if (s == NULL || strlen(s) != 64)
        return false;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return false;
    return true;
}

/* mkdir if missing, then open it as a directory without following a link. */
static int
open_dir_at(int at, const char *name, bool create)
{
    if (create && mkdirat(at, name, 0700) != 0 && errno != EEXIST)
        return -1;
    return openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/* Files half received when a daemon on this work dir stopped: one daemon
 * per work dir, so whatever is there is dead. */
static void
remove_partial_files(rp_workdir *w)
{
    int fd = dup(w->files_fd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    struct dirent *e;

    if (d == NULL) {
        if (fd >= 0)
            close(fd);
        return;
    }
    while ((e = readdir(d)) != NULL)
        if (strncmp(e->d_name, ".in-", 4) == 0)
            unlinkat(w->files_fd, e->d_name, 0);
    closedir(d);
}

rp_status
rp__workdir_open(const char *dir, rp_workdir **out, char **why)
{
    rp_workdir *w;
    int root;

    *out = NULL;
    *why = NULL;
    if (dir == NULL || dir[0] == '\0') {
        *why = rp_xstrdup("no work dir");
        return RP_ERR_INVALID;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return io_error(why, "cannot create", dir);
    if ((root = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        return io_error(why, "cannot open", dir);
    w = rp_xcalloc(1, sizeof *w);
    w->dir = rp_xstrdup(dir);
    w->files_fd = open_dir_at(root, "files", true);
    w->runs_fd = open_dir_at(root, "runs", true);
    close(root);
    if (w->files_fd < 0 || w->runs_fd < 0) {
        rp_status st = io_error(why, "cannot make files/ and runs/ in", dir);
        rp__workdir_close(w);
        return st;
    }
    remove_partial_files(w);
    *out = w;
    return RP_OK;
}

void
rp__workdir_close(rp_workdir *w)
{
    if (w == NULL)
        return;
    if (w->files_fd >= 0)
        close(w->files_fd);
    if (w->runs_fd >= 0)
        close(w->runs_fd);
    free(w->dir);
    free(w);
}

bool
rp__workdir_has(rp_workdir *w, const char *sha256)
{
    struct stat st;

    return hex64(sha256) && fstatat(w->files_fd, sha256, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
           S_ISREG(st.st_mode);
}

/* ---- receiving ---- */

rp_status
rp__workdir_receive(rp_workdir *w, const char *sha256, uint64_t size, uint64_t max_size,
                    rp_file_in **out, char **why)
{
    rp_file_in *f;

    *out = NULL;
    *why = NULL;
    if (!hex64(sha256)) {
        *why = rp_xstrdup("a file's SHA-256 must be 64 lowercase hex digits");
        return RP_ERR_INVALID;
    }
    if (size > max_size) {
        *why = rp__sprintf("a file of %llu bytes is over the limit of %llu",
                           (unsigned long long)size, (unsigned long long)max_size);
        return RP_ERR_INVALID;
    }
    f = rp_xcalloc(1, sizeof *f);
    f->w = w;
    memcpy(f->sha256, sha256, 65);
    f->size = size;
    snprintf(f->tmp, sizeof f->tmp, ".in-%.64s.%u", sha256, w->counter++);
    f->fd = openat(w->files_fd, f->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                   0600);
    if (f->fd < 0) {
        rp_status st = io_error(why, "cannot create a file in", w->dir);
        free(f);
        return st;
    }
    f->md = EVP_MD_CTX_new();
    if (f->md == NULL || EVP_DigestInit_ex(f->md, EVP_sha256(), NULL) != 1)
        rp__out_of_memory(0);
    *out = f;
    return RP_OK;
}

rp_status
rp__file_in_write(rp_file_in *f, const void *data, size_t len, char **why)
{
    const char *p = data;

    *why = NULL;
    if (len > f->size - f->written) {
        *why = rp__sprintf("more bytes than the %llu announced",
                           (unsigned long long)f->size);
        return RP_ERR_INVALID;
    }
    EVP_DigestUpdate(f->md, data, len);
    while (len > 0) {
        ssize_t n = write(f->fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return io_error(why, "cannot write a file in", f->w->dir);
        p += n;
        len -= (size_t)n;
        f->written += (uint64_t)n;
    }
    return RP_OK;
}

void
rp__file_in_abort(rp_file_in *f)
{
    if (f == NULL)
        return;
    close(f->fd);
    unlinkat(f->w->files_fd, f->tmp, 0);
    EVP_MD_CTX_free(f->md);
    free(f);
}

rp_status
rp__file_in_finish(rp_file_in *f, char **why)
{
    unsigned char digest[32];
    char hex[65];
    unsigned dlen = 0;
    rp_status st = RP_OK;

    *why = NULL;
    EVP_DigestFinal_ex(f->md, digest, &dlen);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    if (f->written != f->size) {
        *why = rp__sprintf("the file ended after %llu of %llu bytes",
                           (unsigned long long)f->written, (unsigned long long)f->size);
        st = RP_ERR_CORRUPT;
    } else if (memcmp(hex, f->sha256, 64) != 0) {
        *why = rp__sprintf("the file's SHA-256 is %s, not %s", hex, f->sha256);
        st = RP_ERR_CORRUPT;
    } else if (fchmod(f->fd, 0400) != 0 || fsync(f->fd) != 0 ||
               renameat(f->w->files_fd, f->tmp, f->w->files_fd, f->sha256) != 0) {
        st = io_error(why, "cannot keep a file in", f->w->dir);
    } else {
        fsync(f->w->files_fd);
        close(f->fd);
        EVP_MD_CTX_free(f->md);
        free(f);
        return RP_OK;
    }
    rp__file_in_abort(f);
    return st;
}

/* ---- run dirs ---- */

/* Removes everything under the directory fd refers to (fd is closed). */
/* Removes everything under the directory fd refers to (fd is closed).
 * A task may have made its directories read-only: each is made writable
 * (0700) first; links are removed, never followed. */
static void
empty_dir(int fd)
{
    DIR *d;
    struct dirent *e;

    fchmod(fd, 0700);
    if ((d = fdopendir(fd)) == NULL) {
        close(fd);
        return;
    }
    while ((e = readdir(d)) != NULL) {
        struct stat st;
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
            int sub;
            fchmodat(dirfd(d), e->d_name, 0700, 0);
            sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub >= 0)
                empty_dir(sub);
            unlinkat(dirfd(d), e->d_name, AT_REMOVEDIR);
        } else {
            unlinkat(dirfd(d), e->d_name, 0);
        }
    }
    closedir(d);
}

/* A run's name: one safe component. */
static bool
run_name_ok(const char *run)
{
    return run != NULL && rp__proto_safe_name(run) && strchr(run, '/') == NULL;
}

void
rp__workdir_unstage(rp_workdir *w, const char *run)
{
    int fd;

    if (!run_name_ok(run))
        return;                     /* never "..", "." or an absolute path */
    fchmodat(w->runs_fd, run, 0700, AT_SYMLINK_NOFOLLOW);
    fd = openat(w->runs_fd, run, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

    if (fd >= 0)
        empty_dir(fd);
    unlinkat(w->runs_fd, run, AT_REMOVEDIR);
}

/* Puts a copy of the cached file at its name under run_fd: directories on
 * the way made here (never followed through a link), the file new
 * (O_EXCL). A copy, not a link: a task may change its files, never the
 * cache other tasks read. */
static rp_status
place(rp_workdir *w, int run_fd, const struct rp_staged_file *f, char **why)
{
    char *path = rp_xstrdup(f->name), *base = path, *slash;
    int dir = dup(run_fd), in = -1, out = -1;
    char buf[65536];
    ssize_t n = 0;
    rp_status st = RP_OK;

    while (dir >= 0 && (slash = strchr(base, '/')) != NULL) {
        int next;
        *slash = '\0';
        next = open_dir_at(dir, base, true);
        close(dir);
        dir = next;
        base = slash + 1;
    }
    if (dir < 0) {
        *why = rp__sprintf("cannot make the directories of %s (a file of the same name?)",
                           f->name);
        st = RP_ERR_INVALID;
        goto out;
    }
    out = openat(dir, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (out < 0) {
        if (errno == EEXIST || errno == EISDIR) {
            *why = rp__sprintf("two files are named %s", f->name);
            st = RP_ERR_INVALID;
        } else {
            st = io_error(why, "cannot create", f->name);
        }
        goto out;
    }
    in = openat(w->files_fd, f->sha256, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    while (in >= 0 && (n = read(in, buf, sizeof buf)) > 0)
        if (write(out, buf, (size_t)n) != n) {
            n = -1;
            break;
        }
    /* Permission bits only: no set-user-ID or set-group-ID file comes in
     * from the network. */
    if (in < 0 || n < 0 || fchmod(out, f->mode & 01777) != 0)
        st = io_error(why, "cannot place", f->name);
out:
    if (in >= 0)
        close(in);
    if (out >= 0)
        close(out);
    if (dir >= 0)
        close(dir);
    free(path);
    return st;
}

rp_status
rp__workdir_stage(rp_workdir *w, const char *run, const struct rp_staged_file *files, size_t n,
                  char **path, char **why)
{
    int run_fd;
    rp_status st = RP_OK;

    *path = NULL;
    *why = NULL;
    if (!run_name_ok(run)) {
        *why = rp_xstrdup("a bad run name");
        return RP_ERR_INVALID;
    }
    for (size_t i = 0; i < n; i++) {
        if (!rp__proto_safe_name(files[i].name)) {
            *why = rp__sprintf("the file name '%.255s' is not a safe relative name", files[i].name);
            return RP_ERR_INVALID;
        }
        if (files[i].mode > 07777 || !rp__workdir_has(w, files[i].sha256)) {
            *why = rp__sprintf("%s: %s", files[i].name,
                               files[i].mode > 07777 ? "a bad mode" : "not in the cache");
            return RP_ERR_INVALID;
        }
    }
    if (mkdirat(w->runs_fd, run, 0700) != 0) {
        if (errno == EEXIST) {
            *why = rp__sprintf("the run dir %s exists already", run);
            return RP_ERR_BUSY;
        }
        return io_error(why, "cannot make the run dir", run);
    }
    run_fd = openat(w->runs_fd, run, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (run_fd < 0)
        st = io_error(why, "cannot open the run dir", run);
    for (size_t i = 0; st == RP_OK && i < n; i++)
        st = place(w, run_fd, &files[i], why);
    if (run_fd >= 0)
        close(run_fd);
    if (st != RP_OK) {
        rp__workdir_unstage(w, run);
        return st;
    }
    *path = rp__sprintf("%s/runs/%s", w->dir, run);
    return RP_OK;
}

/* ---- --allow ---- */

bool
rp__allow_program(const char *const *prefixes, size_t n, const char *path, char **why)
{
    char real[PATH_MAX];

    *why = NULL;
    if (n == 0)
        return true;
    if (path == NULL || realpath(path, real) == NULL) {
        *why = rp__sprintf("'%.255s' cannot be found: %s", path ? path : "", strerror(errno));
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(prefixes[i]);
        if (prefixes[i][0] != '/')
            continue;               /* only absolute prefixes mean anything */
        while (len > 1 && prefixes[i][len - 1] == '/')
            len--;
        if (strncmp(real, prefixes[i], len) == 0 &&
            (real[len] == '\0' || real[len] == '/' || (len == 1 && prefixes[i][0] == '/')))
            return true;
    }
    *why = rp__sprintf("'%.255s' (%.255s) is not under any --allow prefix of this worker", path,
                       real);
    return false;
}

rp_status
rp__file_sha256(const char *path, char hex[65], uint64_t *size, unsigned *mode, char **why)
{
    unsigned char buf[1 << 16], digest[EVP_MAX_MD_SIZE];
    unsigned dlen = 0;
    struct stat st;
    EVP_MD_CTX *md = NULL;
    uint64_t total = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    rp_status status = RP_ERR_IO;

    *why = NULL;
    if (fd < 0) {
        *why = rp__sprintf("cannot open %s: %s", path, strerror(errno));
        return RP_ERR_IO;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        *why = rp__sprintf("%s is not a regular file", path);
        close(fd);
        return RP_ERR_INVALID;
    }
    md = EVP_MD_CTX_new();
    if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
        rp__out_of_memory(0);
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            *why = rp__sprintf("cannot read %s: %s", path, strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        EVP_DigestUpdate(md, buf, (size_t)n);
        total += (uint64_t)n;
    }
    EVP_DigestFinal_ex(md, digest, &dlen);
    for (unsigned i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    *size = total;
    *mode = (unsigned)st.st_mode & 0777;
    status = RP_OK;
out:
    EVP_MD_CTX_free(md);
    close(fd);
    return status;
}
