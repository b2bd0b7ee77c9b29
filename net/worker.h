/*
 * worker.h -- repartir-worker, the daemon that runs a coordinator's tasks
 * (net/worker.c; docs/remote.md).
 */
#ifndef RP_NET_WORKER_H
#define RP_NET_WORKER_H

#include <stdbool.h>
#include <stddef.h>

struct rp_worker_options {
    const char *cert, *key, *ca;
    const char *const *allow;       /* --allow prefixes */
    size_t nallow;
    unsigned slots;
    size_t max_frame;
    bool insecure;
};

/* The whole program: parses argv, serves until drained. Returns the exit
 * status: 0 drained or stopped by a second signal, 1 could not start, 2
 * bad usage. */
int rp_worker_main(int argc, char **argv);

#endif /* RP_NET_WORKER_H */
