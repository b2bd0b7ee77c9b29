/*
 * remote.c -- the remote-worker options of `run` and `console` (remote.h).
 */
#include "cli/remote.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "net/endpoint.h"

bool
rp_cli_remote_set(struct rp_cli_remote *r, const char *command, const char *name,
                  const char *value)
{
    if (strcmp(name, "--worker") == 0) {
        struct rp_endpoint ep;
        char *why = NULL;
        if (rp__endpoint_parse(value, RP_WORKER_PORT_DEFAULT, &ep, &why) != RP_OK) {
            rp_cli_error("%s: --worker: %s", command, why);
            free(why);
            return false;
        }
        if (r->n == RP_CLI_MAX_WORKERS) {
            rp_cli_error("%s: at most %d --worker", command, RP_CLI_MAX_WORKERS);
            return false;
        }
        r->workers[r->n++] = value;
        return true;
    }
    if (strcmp(name, "--insecure") == 0) {
        r->insecure = true;
        return true;
    }
    if (value == NULL || value[0] == '\0') {
        rp_cli_error("%s: %s needs a file", command, name);
        return false;
    }
    if (access(value, R_OK) != 0) {
        rp_cli_error("%s: %s: cannot read %s", command, name, value);
        return false;
    }
    if (strcmp(name, "--tls-ca") == 0)
        r->ca = value;
    else if (strcmp(name, "--tls-cert") == 0)
        r->cert = value;
    else if (strcmp(name, "--tls-key") == 0)
        r->key = value;
    else if (strcmp(name, "--token-file") == 0)
        r->token_file = value;
    else
        return false;
    return true;
}

bool
rp_cli_remote_apply(struct rp_cli_remote *r, const char *command, rp_pool_config *cfg)
{
    char *why = NULL;

    if ((r->cert == NULL) != (r->key == NULL)) {
        rp_cli_error("%s: --tls-cert and --tls-key go together", command);
        return false;
    }
    if (r->key != NULL && rp__secret_file_check(r->key, &why) != RP_OK) {
        rp_cli_error("%s: --tls-key: %s", command, why);
        free(why);
        return false;
    }
    if (r->token_file != NULL && rp__token_read(r->token_file, &r->token, &why) != RP_OK) {
        rp_cli_error("%s: --token-file: %s", command, why);
        free(why);
        return false;
    }
    if (r->n == 0 && (r->ca || r->cert || r->token_file || r->insecure)) {
        rp_cli_error("%s: the TLS and token options need a --worker", command);
        return false;
    }
    for (size_t i = 0; i < r->n && !r->ca && !r->cert && !r->insecure; i++) {
        struct rp_endpoint ep;
        if (rp__endpoint_parse(r->workers[i], RP_WORKER_PORT_DEFAULT, &ep, &why) == RP_OK &&
            !ep.loopback) {
            rp_cli_error("%s: --worker %s is not a loopback address: give --tls-ca (TLS), or "
                         "--insecure for plain ws", command, r->workers[i]);
            return false;
        }
        free(why);
        why = NULL;
    }
    cfg->remote_workers = r->workers;
    cfg->n_remote_workers = r->n;
    cfg->tls_ca = r->ca;
    cfg->tls_cert = r->cert;
    cfg->tls_key = r->key;
    cfg->token = r->token;
    cfg->remote_insecure = r->insecure;
    return true;
}

void
rp_cli_remote_free(struct rp_cli_remote *r)
{
    if (r->token != NULL)
        rp__token_free(r->token);
    r->token = NULL;
}
