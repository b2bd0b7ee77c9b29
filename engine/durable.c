/*
 * durable.c -- the state dir of a durable pool: store, journal and the
 * I/O thread of the process checkpoint protocol (see durable.h).
 *
 * THREADS: the queue of closures is guarded by `lock`; the closures run
 * one at a time on the I/O thread, which is the only user of the store
 * handle for saves (loads for restore files happen there too).
 */
#include "engine/durable.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ckpt/store.h"
#include "engine/alloc.h"
#include "engine/file.h"

struct closure {
    struct closure *next;
    void (*fn)(void *arg);
    void *arg;
};

struct rp__durable {
    char *dir, *run;
    rp_ckpt *store;
    rp__journal *journal;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct closure *head, **tail;
    bool closing, started;
};

static void *
io_main(void *arg)
{
    rp__durable *d = arg;

    pthread_mutex_lock(&d->lock);
    for (;;) {
        struct closure *c;
        while (d->head == NULL && !d->closing)
            pthread_cond_wait(&d->cond, &d->lock);
        if ((c = d->head) == NULL)
            break;
        d->head = c->next;
        if (d->head == NULL)
            d->tail = &d->head;
        pthread_mutex_unlock(&d->lock);
        c->fn(c->arg);
        free(c);
        pthread_mutex_lock(&d->lock);
    }
    pthread_mutex_unlock(&d->lock);
    return NULL;
}

void
rp__durable_post(rp__durable *d, void (*fn)(void *arg), void *arg)
{
    struct closure *c = rp_xmalloc(sizeof *c);

    c->fn = fn;
    c->arg = arg;
    c->next = NULL;
    pthread_mutex_lock(&d->lock);
    *d->tail = c;
    d->tail = &c->next;
    pthread_cond_signal(&d->cond);
    pthread_mutex_unlock(&d->lock);
}

rp_status
rp__durable_open(const char *dir, rp__durable **out, char **why)
{
    rp__durable *d = rp_xcalloc(1, sizeof *d);
    rp_status status;
    int err;

    *out = NULL;
    *why = NULL;
    d->dir = rp_xstrdup(dir);
    d->run = rp__sprintf("%s/run", dir);
    d->tail = &d->head;
    pthread_mutex_init(&d->lock, NULL);
    pthread_cond_init(&d->cond, NULL);
    if ((status = rp_ckpt_open_why(dir, &d->store, why)) != RP_OK)
        goto fail;
    if ((status = rp__journal_open(dir, &d->journal, why)) != RP_OK)
        goto fail;
    if (mkdir(d->run, 0755) != 0 && errno != EEXIST) {
        *why = rp__sprintf("cannot make %s: %s", d->run, strerror(errno));
        status = RP_ERR_IO;
        goto fail;
    }
    if ((err = pthread_create(&d->thread, NULL, io_main, d)) != 0) {
        *why = rp__sprintf("cannot start the checkpoint thread: %s", strerror(err));
        status = RP_ERR_SYSTEM;
        goto fail;
    }
    d->started = true;
    *out = d;
    return RP_OK;
fail:
    rp__durable_close(d);
    return status;
}

void
rp__durable_close(rp__durable *d)
{
    if (d == NULL)
        return;
    if (d->started) {
        pthread_mutex_lock(&d->lock);
        d->closing = true;
        pthread_cond_signal(&d->cond);
        pthread_mutex_unlock(&d->lock);
        pthread_join(d->thread, NULL);
    }
    rp__journal_close(d->journal);
    rp_ckpt_close(d->store);
    pthread_cond_destroy(&d->cond);
    pthread_mutex_destroy(&d->lock);
    free(d->run);
    free(d->dir);
    free(d);
}

rp_ckpt *
rp__durable_store(rp__durable *d)
{
    return d->store;
}

rp__journal *
rp__durable_journal(rp__durable *d)
{
    return d->journal;
}

void
rp__durable_key(rp_task_id origin, char buf[32])
{
    snprintf(buf, 32, "task/%" PRIu64, origin);
}

char *
rp__durable_run_dir(rp__durable *d, rp_task_id id)
{
    return rp__sprintf("%s/%" PRIu64, d->run, id);
}

/* ---- the checkpoint file ---- */

/* Which version of a file this is: a rename makes a new inode. */
struct version {
    uint64_t ino, size;
    int64_t mtime_ns;
};

static bool
same_version(const struct version *a, const struct version *b)
{
    return a->ino == b->ino && a->size == b->size && a->mtime_ns == b->mtime_ns;
}

static bool
read_marker(const char *path, struct version *v)
{
    FILE *f = fopen(path, "re");
    bool ok;

    if (f == NULL)
        return false;
    ok = fscanf(f, "%" SCNu64 " %" SCNu64 " %" SCNd64, &v->ino, &v->size, &v->mtime_ns) == 3;
    fclose(f);
    return ok;
}

static void
write_marker(const char *path, const struct version *v)
{
    char *tmp = rp__sprintf("%s.tmp", path);
    FILE *f = fopen(tmp, "we");

    /* A lost marker only means that version is saved once more. */
    if (f != NULL) {
        fprintf(f, "%" PRIu64 " %" PRIu64 " %" PRId64 "\n", v->ino, v->size, v->mtime_ns);
        if (fclose(f) == 0)
            rename(tmp, path);
    }
    free(tmp);
}

void
rp__durable_ingest(rp__durable *d, rp_task_id id, rp_task_id origin)
{
    char *run = rp__durable_run_dir(d, id);
    char *path = rp__sprintf("%s/checkpoint", run), *marker = rp__sprintf("%s/ingested", run);
    char key[32];
    struct version now, seen;
    struct stat st;
    uint64_t last;
    int64_t created;
    void *data = NULL;
    int fd;

    rp__durable_key(origin, key);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        goto out;
    now.ino = (uint64_t)st.st_ino;
    now.size = (uint64_t)st.st_size;
    now.mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    if (read_marker(marker, &seen) && same_version(&now, &seen))
        goto out;
    /* The file is the program's, written and renamed: it no longer
     * changes, so a map of it is a stable view. */
    if (st.st_size > 0) {
        data = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (data == MAP_FAILED) {
            data = NULL;
            goto out;
        }
    }
    if (rp__ckpt_last(d->store, key, &last, &created) != RP_OK)
        last = 0;
    if (rp_ckpt_save(d->store, key, last + 1, data != NULL ? data : "", (size_t)st.st_size) ==
        RP_OK) {
        write_marker(marker, &now);
        rp__ckpt_trim(d->store, key, RP_TASK_CHECKPOINTS_KEPT);
    }
out:
    if (data != NULL)
        munmap(data, (size_t)st.st_size);
    if (fd >= 0)
        close(fd);
    free(marker);
    free(path);
    free(run);
}

rp_status
rp__durable_prepare(rp__durable *d, rp_task_id id, rp_task_id origin, char **checkpoint,
                    char **restore, char **why)
{
    char *run = rp__durable_run_dir(d, id);
    char *restore_path = rp__sprintf("%s/restore", run);
    char key[32];
    void *data = NULL;
    size_t len = 0;
    uint64_t iteration;
    rp_status status;

    *checkpoint = *restore = NULL;
    *why = NULL;
    if (mkdir(run, 0700) != 0 && errno != EEXIST) {
        *why = rp__sprintf("cannot make %s: %s", run, strerror(errno));
        free(restore_path);
        free(run);
        return RP_ERR_IO;
    }
    /* A version the program renamed into place just before a crash. */
    rp__durable_ingest(d, id, origin);
    rp__durable_key(origin, key);
    status = rp_ckpt_load(d->store, key, &data, &len, &iteration);
    if (status == RP_OK && rp__file_replace(restore_path, data, len, 0600) == 0) {
        *restore = restore_path;
        restore_path = NULL;
    } else if (status == RP_OK) {
        *why = rp__sprintf("cannot restore the checkpoint of %s: cannot write %s", key,
                           restore_path);
    } else if (status != RP_ERR_NOT_FOUND) {
        char *detail = rp_ckpt_why(d->store);
        *why = rp__sprintf("cannot restore the checkpoint of %s: %s", key,
                           detail != NULL ? detail : rp_strerror(status));
        free(detail);
    }
    if (restore_path != NULL)
        unlink(restore_path);       /* none to restore: no stale copy either */
    free(data);
    *checkpoint = rp__sprintf("%s/checkpoint", run);
    free(restore_path);
    free(run);
    return RP_OK;
}

static void
remove_tree(const char *path)
{
    DIR *dir = opendir(path);
    struct dirent *e;

    while (dir != NULL && (e = readdir(dir)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char *child = rp__sprintf("%s/%s", path, e->d_name);
        if (unlink(child) != 0 && errno == EISDIR)
            remove_tree(child);
        free(child);
    }
    if (dir != NULL)
        closedir(dir);
    rmdir(path);
}

struct forget_req {
    rp__durable *d;
    rp_task_id id;
};

static void
forget_run(void *arg)
{
    struct forget_req *r = arg;
    char *run = rp__durable_run_dir(r->d, r->id);

    remove_tree(run);
    free(run);
    free(r);
}

void
rp__durable_forget_run(rp__durable *d, rp_task_id id)
{
    struct forget_req *r = rp_xmalloc(sizeof *r);

    r->d = d;
    r->id = id;
    rp__durable_post(d, forget_run, r);
}

void
rp__durable_sweep_runs(rp__durable *d, bool (*keep)(void *ctx, rp_task_id id), void *ctx)
{
    DIR *dir = opendir(d->run);
    struct dirent *e;

    while (dir != NULL && (e = readdir(dir)) != NULL) {
        char *end;
        unsigned long long id;

        if (e->d_name[0] == '.')
            continue;
        errno = 0;
        id = strtoull(e->d_name, &end, 10);
        if (errno == 0 && *end == '\0' && keep(ctx, id))
            continue;
        char *child = rp__sprintf("%s/%s", d->run, e->d_name);
        remove_tree(child);
        free(child);
    }
    if (dir != NULL)
        closedir(dir);
}

uint64_t
rp__process_start_time(pid_t pid)
{
    char path[64], buf[1024];
    const char *p;
    unsigned long long start = 0;
    ssize_t n;
    int fd;

    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    /* "pid (comm) state ..." -- comm may hold spaces and ')': skip to the
     * last ')'. Then field 3 is the state; starttime is field 22. */
    p = strrchr(buf, ')');
    if (p == NULL)
        return 0;
    p++;
    for (int field = 3; field < 22 && p != NULL; field++)
        p = strchr(p + 1, ' ');
    if (p == NULL || sscanf(p, " %llu", &start) != 1)
        return 0;
    return start;
}
