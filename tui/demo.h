/*
 * demo.h -- `--demo`: a mixed workload submitted through the console's
 * source, so a newcomer sees every part of the console move: short and
 * long jobs, a sharded job, one that fails and retries, one that takes
 * checkpoints (with a store), and a trickle of small jobs for the
 * throughput line. Bounded: it stops submitting after DEMO_ROUNDS.
 */
#ifndef RP_TUI_DEMO_H
#define RP_TUI_DEMO_H

#include <stdint.h>

struct rp_console;
struct rp_demo;

/* Submits the first jobs; NULL if nothing could be submitted (said on
 * the status line). */
struct rp_demo *rp__demo_start(struct rp_console *c);
/* When the next trickle job is due (UINT64_MAX once it is over). */
uint64_t rp__demo_next_ns(const struct rp_demo *d);
void rp__demo_tick(struct rp_demo *d, struct rp_console *c, uint64_t now_ns);
void rp__demo_stop(struct rp_demo *d);   /* NULL is fine */

#endif /* RP_TUI_DEMO_H */
