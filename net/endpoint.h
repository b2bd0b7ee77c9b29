/*
 * endpoint.h -- where a worker listens and how it may be reached, decided
 * before any socket exists: HOST:PORT parsing, loopback detection, the
 * "plain ws only on loopback or with --insecure" rule, and the checks on
 * the secrets a daemon reads (a private key or token file that group or
 * others can read is refused, as ssh refuses such a key).
 *
 * Pure functions of their arguments and the file system; any thread.
 */
#ifndef RP_NET_ENDPOINT_H
#define RP_NET_ENDPOINT_H

#include <stdbool.h>
#include <stdint.h>

#include <repartir.h>

#define RP_WORKER_PORT_DEFAULT 7070

struct rp_endpoint {
    char host[256];                 /* without brackets: "::1", "127.0.0.1", "node7" */
    uint16_t port;
    bool ipv6;                      /* host is an IPv6 literal */
    bool loopback;                  /* 127.0.0.0/8, ::1, ::ffff:127.x, or "localhost" */
    bool wildcard;                  /* 0.0.0.0 or :: (every interface) */
};

/* Parses "HOST:PORT", "[V6]:PORT", "HOST" or "[V6]" (then the port is
 * default_port). Ports 1-65535; a host name of letters, digits, '-' and
 * '.' (at most 253 bytes), or an IP literal. RP_ERR_INVALID with *why
 * (malloc'd) for anything else. */
rp_status rp__endpoint_parse(const char *text, uint16_t default_port,
                             struct rp_endpoint *out /* OUT */, char **why /* OUT */);

/* The transport rule: TLS needs both cert and key; without them (plain
 * ws) the endpoint must be loopback, or insecure must be set. RP_OK, or
 * RP_ERR_INVALID with *why saying what to add. */
rp_status rp__endpoint_policy(const struct rp_endpoint *e, bool have_cert, bool have_key,
                              bool insecure, char **why /* OUT */);

/* A secret file (private key, token): a regular file, not a link, that
 * neither group nor others can read or write. RP_ERR_INVALID (with the
 * chmod to run) or RP_ERR_IO (missing, unreadable) and *why. */
rp_status rp__secret_file_check(const char *path, char **why /* OUT */);

/* Reads a token file: checked as a secret file, one line of 16-4096
 * printable ASCII characters (a trailing newline is dropped). *token is
 * malloc'd; wipe and free it with rp__token_free. */
rp_status rp__token_read(const char *path, char **token /* OUT */, char **why /* OUT */);
void rp__token_free(char *token);

/* Compares two tokens in time that does not depend on where they differ. */
bool rp__token_equal(const char *a, const char *b);

#endif /* RP_NET_ENDPOINT_H */
