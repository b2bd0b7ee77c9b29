/*
 * count.c -- counts to N, one step every few milliseconds, checkpointing
 * every step in a repartir store. Kill it at any moment (kill -9 too) and
 * run it again: it goes on from the last step that was saved, never from 0,
 * and never repeats a step it had acknowledged.
 *
 *   build/examples/count STORE_DIR N [STEP_MS]
 *
 * Prints "resumed at K" (or "started") first, "reached N" at the end.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <repartir.h>

struct state {
    unsigned long long step;       /* the last step done */
    unsigned long long sum;        /* 1 + 2 + ... + step: the "work" carried along */
};

int
main(int argc, char **argv)
{
    rp_ckpt *store;
    struct state st = { 0, 0 };
    char *why = NULL, *end;
    unsigned long long n;
    long step_ms = argc > 3 ? strtol(argv[3], NULL, 10) : 5;
    void *data;
    size_t len;
    rp_status s;

    if (argc < 3 || (errno = 0, n = strtoull(argv[2], &end, 10), *end != '\0' || errno != 0)) {
        fprintf(stderr, "usage: count STORE_DIR N [STEP_MS]\n");
        return 2;
    }
    if ((s = rp_ckpt_open_why(argv[1], &store, &why)) != RP_OK) {
        fprintf(stderr, "count: %s: %s\n", rp_strerror(s), why ? why : "");
        free(why);
        return 1;
    }
    s = rp_ckpt_load(store, "count", &data, &len, NULL);
    if (s == RP_OK && len == sizeof st) {
        memcpy(&st, data, sizeof st);
        printf("resumed at %llu\n", st.step);
    } else if (s == RP_ERR_NOT_FOUND) {
        printf("started\n");
    } else {
        fprintf(stderr, "count: cannot load: %s\n", rp_strerror(s));
        rp_ckpt_close(store);
        return 1;
    }
    free(data);
    fflush(stdout);
    while (st.step < n) {
        struct timespec pause = { step_ms / 1000, (step_ms % 1000) * 1000000L };
        st.step++;
        st.sum += st.step;
        if ((s = rp_ckpt_save(store, "count", st.step, &st, sizeof st)) != RP_OK) {
            fprintf(stderr, "count: cannot save step %llu: %s\n", st.step, rp_strerror(s));
            rp_ckpt_close(store);
            return 1;
        }
        nanosleep(&pause, NULL);
    }
    rp_ckpt_cleanup(store, 1, 0, NULL);
    rp_ckpt_close(store);
    if (st.sum != n * (n + 1) / 2) {
        fprintf(stderr, "count: sum %llu is wrong\n", st.sum);
        return 1;
    }
    printf("reached %llu\n", n);
    return 0;
}
