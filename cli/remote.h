/*
 * remote.h -- the options that point a command's embedded engine at
 * repartir-worker daemons (docs/remote.md), shared by `run` and
 * `console`: --worker (repeatable), --tls-ca, --tls-cert, --tls-key,
 * --token-file, --insecure.
 */
#ifndef RP_CLI_REMOTE_H
#define RP_CLI_REMOTE_H

#include <stdbool.h>
#include <stddef.h>

#include <repartir.h>

#define RP_CLI_MAX_WORKERS 64

/* The entries of an option table (X(id, name, arg, help), arg NULL for a
 * flag), for the commands' own VALUE/FLAG lists. */
#define RP_CLI_REMOTE_OPTIONS(VALUE, FLAG)                                    \
    VALUE(WORKER, "worker", "HOST:PORT",                                      \
          "also run tasks on the repartir-worker daemon there (repeatable;\n" \
          "        docs/remote.md); dialled again with backoff if it goes")   \
    VALUE(TLS_CA, "tls-ca", "FILE",                                           \
          "the CA the workers' certificates must chain to (turns TLS on)")   \
    VALUE(TLS_CERT, "tls-cert", "FILE",                                       \
          "our client certificate, for workers started with --ca")           \
    VALUE(TLS_KEY, "tls-key", "FILE", "its private key (mode 600)")           \
    VALUE(TOKEN_FILE, "token-file", "FILE",                                   \
          "the token the workers require (one line, mode 600)")             \
    FLAG(INSECURE, "insecure",                                                \
         "allow plain ws to a worker that is not on loopback")

struct rp_cli_remote {
    const char *workers[RP_CLI_MAX_WORKERS];
    size_t n;
    const char *ca, *cert, *key, *token_file;
    bool insecure;
    char *token;                    /* read by rp_cli_remote_apply */
};

/* Records one remote option by its name ("--worker"); false (after saying
 * why on stderr) for a bad value. */
bool rp_cli_remote_set(struct rp_cli_remote *r, const char *command, const char *name,
                       const char *value);
/* Checks the files, reads the token and fills cfg's remote fields (which
 * point into r until rp_cli_remote_free). false after saying why. */
bool rp_cli_remote_apply(struct rp_cli_remote *r, const char *command, rp_pool_config *cfg);
void rp_cli_remote_free(struct rp_cli_remote *r);

#endif /* RP_CLI_REMOTE_H */
