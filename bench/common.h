/*
 * common.h -- what the benchmarks share.
 *
 * Each benchmark binary is a driver: run without arguments it re-executes
 * itself once per contender (`--impl NAME ...`) so that runtimes never share
 * a process (OpenMP and TBB threads linger and would skew the next one),
 * interleaves rounds, and prints our figure beside the anchor's with the
 * ratio. A child prints `key=value` lines; the driver collects them.
 */
#ifndef RP_BENCH_COMMON_H
#define RP_BENCH_COMMON_H

#include <stdbool.h>
#include <stddef.h>

#define BENCH_MAX_SAMPLES 64

typedef struct {
    double v[BENCH_MAX_SAMPLES];
    int n;
} bench_samples;

double bench_now(void);                       /* monotonic seconds */
double bench_cpu_seconds(void);               /* user+system of this process */
void bench_add(bench_samples *s, double v);
double bench_min(const bench_samples *s);
double bench_median(const bench_samples *s);
/* Nearest-rank percentile (p in [0, 1]) of v[0..n), left unsorted; 0 if n
 * is 0. */
double bench_percentile(const double *v, size_t n, double p);
/* Bounds a whole run: after `seconds` (at least 1) the process says it ran
 * past its limit, names what it leaves behind (bench_watchdog_names), and
 * exits 3. program: its name in that message (static storage). */
void bench_watchdog(const char *program, double seconds);
void bench_watchdog_names(const char *dir);

/* The stdout of one child run. */
typedef struct {
    char *text;
} bench_output;

/* Runs this program again with args (NULL-terminated, without argv[0]).
 * Returns false (after saying why on stderr) if the child failed. */
bool bench_run(const char *const *args, bench_output *out /* OUT */);
/* Appends every value of `key` ("key=value" lines) to s. */
void bench_values(const bench_output *o, const char *key, bench_samples *s);
/* The last value of key, as text ("" if none) or as a number (0 if none). */
const char *bench_value_str(const bench_output *o, const char *key, char *buf, size_t len);
double bench_value(const bench_output *o, const char *key);
void bench_output_free(bench_output *o);

/* One header line: date, CPU model, CPUs, kernel. */
void bench_print_machine(const char *title);
/* Prints which file system dir is on (and warns for a RAM one, where fsync
 * costs nothing); false if it cannot tell. */
bool bench_print_file_system(const char *dir);
/* rm -rf dir ("" is ignored); complaints on stderr. */
void bench_remove_tree(const char *dir);
/* "  name    value unit" rows, and the ratio line with its target;
 * target_text NULL: a ratio shown for information, with no target. */
void bench_print_ratio(const char *what, double ours, double anchor,
                       const char *target_text, bool met);

/* Naive fib(n) with one rp_group spawn per call: the fork/join workload of
 * bench_fib, and the burst of work in bench_idle. Run with rp_pool_run. */
struct bench_fib {
    int n;
    long result;
};
void bench_fib_task(void *arg /* struct bench_fib * */);

#endif /* RP_BENCH_COMMON_H */
