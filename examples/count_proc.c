/*
 * count_proc.c -- counts to N, one step every STEP_MS milliseconds, as a
 * task that takes checkpoints through the PROCESS checkpoint protocol
 * (rp_task_set_checkpoint in include/repartir/task.h; `repartir run
 * --checkpoint`). It links nothing of repartir: the protocol is files,
 * environment variables and a signal.
 *
 *   build/examples/count_proc N [STEP_MS]
 *   repartir run --state-dir DIR --checkpoint=100 -- build/examples/count_proc 30 50
 *
 *   - $REPARTIR_RESTORE_FILE, when set, names the last checkpoint of an
 *     earlier attempt: it goes on from the step saved there;
 *   - after each step it writes its state to $REPARTIR_CHECKPOINT_FILE.tmp
 *     and renames that onto $REPARTIR_CHECKPOINT_FILE, so the engine only
 *     ever sees a whole checkpoint;
 *   - SIGUSR1 is the engine's reminder to checkpoint; this program already
 *     does after every step, so the handler only makes sure the signal does
 *     not end it (its default action would).
 * Without those variables it simply counts.
 *
 * Prints "started" or "resumed at K" first, "step I" for each step, and
 * "done N" at the end. Exit 0; 1 when a checkpoint cannot be written or a
 * restore file cannot be read; 2 for bad arguments.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Written as text, "count_proc STEP SUM\n": readable with cat, and a torn or
 * foreign file is recognised as such. */
struct state {
    unsigned long long step;       /* the last step done */
    unsigned long long sum;        /* 1 + 2 + ... + step: the work carried along */
};

static void
on_reminder(int sig)
{
    (void)sig;                     /* every step is checkpointed anyway */
}

static int
parse_number(const char *text, unsigned long long *out)
{
    char *end;

    if (text[0] < '0' || text[0] > '9')
        return -1;
    errno = 0;
    *out = strtoull(text, &end, 10);
    return *end != '\0' || errno != 0 ? -1 : 0;
}

/* Reads a state written by save(). 0, or -1 after saying why. */
static int
load(const char *path, struct state *st)
{
    FILE *f = fopen(path, "r");
    int ok;

    if (f == NULL) {
        fprintf(stderr, "count_proc: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    ok = fscanf(f, "count_proc %llu %llu", &st->step, &st->sum) == 2;
    fclose(f);
    if (!ok || st->sum != st->step * (st->step + 1) / 2) {
        fprintf(stderr, "count_proc: %s is not a checkpoint of count_proc\n", path);
        return -1;
    }
    return 0;
}

/* Writes st to path.tmp, then renames it onto path. 0, or -1 after saying
 * why. */
static int
save(const char *path, const struct state *st)
{
    size_t len = strlen(path);
    char *tmp = malloc(len + sizeof ".tmp");
    FILE *f;
    int rc = -1;

    if (tmp == NULL) {
        fprintf(stderr, "count_proc: out of memory\n");
        return -1;
    }
    memcpy(tmp, path, len);
    memcpy(tmp + len, ".tmp", sizeof ".tmp");
    if ((f = fopen(tmp, "w")) == NULL) {
        fprintf(stderr, "count_proc: cannot create %s: %s\n", tmp, strerror(errno));
        goto out;
    }
    fprintf(f, "count_proc %llu %llu\n", st->step, st->sum);
    if (fclose(f) != 0) {
        fprintf(stderr, "count_proc: cannot write %s: %s\n", tmp, strerror(errno));
        remove(tmp);
        goto out;
    }
    if (rename(tmp, path) != 0) {
        fprintf(stderr, "count_proc: cannot rename %s: %s\n", tmp, strerror(errno));
        remove(tmp);
        goto out;
    }
    rc = 0;
out:
    free(tmp);
    return rc;
}

/* Sleeps ms milliseconds, through any SIGUSR1 reminders. */
static void
pause_ms(unsigned long long ms)
{
    struct timespec left = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

    while (nanosleep(&left, &left) != 0 && errno == EINTR)
        ;
}

int
main(int argc, char **argv)
{
    const char *checkpoint = getenv("REPARTIR_CHECKPOINT_FILE");
    const char *restore = getenv("REPARTIR_RESTORE_FILE");
    struct state st = { 0, 0 };
    unsigned long long n, step_ms = 5;
    struct sigaction sa;

    if (argc < 2 || argc > 3 || parse_number(argv[1], &n) != 0 ||
        (argc == 3 && parse_number(argv[2], &step_ms) != 0)) {
        fprintf(stderr, "usage: count_proc N [STEP_MS]\n");
        return 2;
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_reminder;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);

    if (restore != NULL && restore[0] != '\0') {
        if (load(restore, &st) != 0)
            return 1;
        printf("resumed at %llu\n", st.step);
    } else {
        printf("started\n");
    }
    fflush(stdout);
    while (st.step < n) {
        pause_ms(step_ms);
        st.step++;
        st.sum += st.step;
        if (checkpoint != NULL && checkpoint[0] != '\0' && save(checkpoint, &st) != 0)
            return 1;
        printf("step %llu\n", st.step);
        fflush(stdout);
    }
    /* A restore file past N (an earlier, longer count) is done already. */
    if (st.sum != st.step * (st.step + 1) / 2) {
        fprintf(stderr, "count_proc: sum %llu is wrong\n", st.sum);
        return 1;
    }
    printf("done %llu\n", st.step);
    return 0;
}
