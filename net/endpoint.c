/*
 * endpoint.c -- listen addresses, the transport rule and secret files
 * (endpoint.h).
 */
#include "net/endpoint.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/alloc.h"

#define TOKEN_MIN 16
#define TOKEN_MAX 4096

static bool
host_name_ok(const char *h)
{
    size_t n = strlen(h);

    if (n == 0 || n > 253 || h[0] == '-' || h[0] == '.' || h[n - 1] == '.')
        return false;
    for (; *h; h++)
        if (!((*h >= 'a' && *h <= 'z') || (*h >= 'A' && *h <= 'Z') || (*h >= '0' && *h <= '9') ||
              *h == '-' || *h == '.'))
            return false;
    return true;
}

rp_status
rp__endpoint_parse(const char *text, uint16_t default_port, struct rp_endpoint *out, char **why)
{
    struct rp_endpoint e;
    const char *host = text, *port = NULL;
    size_t host_len;
    unsigned char addr[16];

    *why = NULL;
    memset(&e, 0, sizeof e);
    if (text == NULL || text[0] == '\0') {
        *why = rp_xstrdup("an empty address (want HOST:PORT)");
        return RP_ERR_INVALID;
    }
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (close == NULL || (close[1] != '\0' && close[1] != ':')) {
            *why = rp__sprintf("'%.300s': an IPv6 address goes in brackets: [::1]:7070", text);
            return RP_ERR_INVALID;
        }
        host = text + 1;
        host_len = (size_t)(close - host);
        port = close[1] == ':' ? close + 2 : NULL;
        e.ipv6 = true;
    } else {
        const char *colon = strchr(text, ':');
        if (colon != NULL && strchr(colon + 1, ':') != NULL) {
            *why = rp__sprintf("'%.300s': an IPv6 address goes in brackets: [::1]:7070", text);
            return RP_ERR_INVALID;
        }
        host_len = colon ? (size_t)(colon - text) : strlen(text);
        port = colon ? colon + 1 : NULL;
    }
    if (host_len == 0 || host_len >= sizeof e.host) {
        *why = rp__sprintf("'%.300s': no host, or a host over 253 bytes", text);
        return RP_ERR_INVALID;
    }
    memcpy(e.host, host, host_len);
    e.host[host_len] = '\0';
    e.port = default_port;
    if (port != NULL) {
        char *end;
        unsigned long p;
        errno = 0;
        p = strtoul(port, &end, 10);
        if (*port < '0' || *port > '9' || *end != '\0' || errno != 0 || p < 1 || p > 65535) {
            *why = rp__sprintf("'%.300s': the port must be a number from 1 to 65535", text);
            return RP_ERR_INVALID;
        }
        e.port = (uint16_t)p;
    }
    if (e.ipv6) {
        if (inet_pton(AF_INET6, e.host, addr) != 1) {
            *why = rp__sprintf("'%.300s' is not an IPv6 address", e.host);
            return RP_ERR_INVALID;
        }
        static const unsigned char v6_loopback[16] = { [15] = 1 };
        static const unsigned char v4_mapped[12] = { [10] = 0xff, [11] = 0xff };
        e.loopback = memcmp(addr, v6_loopback, 16) == 0 ||
                     (memcmp(addr, v4_mapped, 12) == 0 && addr[12] == 127);
        static const unsigned char zero[16];
        e.wildcard = memcmp(addr, zero, 16) == 0;
    } else if (inet_pton(AF_INET, e.host, addr) == 1) {
        e.loopback = addr[0] == 127;
        e.wildcard = addr[0] == 0 && addr[1] == 0 && addr[2] == 0 && addr[3] == 0;
    } else if (host_name_ok(e.host)) {
        e.loopback = strcmp(e.host, "localhost") == 0;
    } else {
        *why = rp__sprintf("'%.300s' is neither a host name nor an IP address", e.host);
        return RP_ERR_INVALID;
    }
    *out = e;
    return RP_OK;
}

rp_status
rp__endpoint_policy(const struct rp_endpoint *e, bool have_cert, bool have_key, bool insecure,
                    char **why)
{
    *why = NULL;
    if (have_cert != have_key) {
        *why = rp_xstrdup(have_cert ? "--cert needs --key (its private key)"
                                    : "--key needs --cert (its certificate)");
        return RP_ERR_INVALID;
    }
    if (have_cert || e->loopback || insecure)
        return RP_OK;
    *why = rp__sprintf("%s:%u is not a loopback address: give --cert and --key for TLS, "
                       "or --insecure to accept plain ws there",
                       e->host, (unsigned)e->port);
    return RP_ERR_INVALID;
}

rp_status
rp__secret_file_check(const char *path, char **why)
{
    struct stat st;

    *why = NULL;
    if (path == NULL || lstat(path, &st) != 0) {
        *why = rp__sprintf("cannot read %s: %s", path ? path : "(null)", strerror(errno));
        return RP_ERR_IO;
    }
    if (!S_ISREG(st.st_mode)) {
        *why = rp__sprintf("%s is not a regular file (a link or a device is refused)", path);
        return RP_ERR_INVALID;
    }
    if (st.st_mode & 077) {
        *why = rp__sprintf("%s can be read or written by others (mode %04o): run chmod 600 %s",
                           path, (unsigned)(st.st_mode & 07777), path);
        return RP_ERR_INVALID;
    }
    return RP_OK;
}

rp_status
rp__token_read(const char *path, char **token, char **why)
{
    char buf[TOKEN_MAX + 3];
    size_t n = 0;
    ssize_t r;
    rp_status st;
    int fd;

    *token = NULL;
    if ((st = rp__secret_file_check(path, why)) != RP_OK)
        return st;
    if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
        *why = rp__sprintf("cannot read %s: %s", path, strerror(errno));
        return RP_ERR_IO;
    }
    while (n < sizeof buf && (r = read(fd, buf + n, sizeof buf - n)) != 0) {
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            *why = rp__sprintf("cannot read %s: %s", path, strerror(errno));
            close(fd);
            OPENSSL_cleanse(buf, sizeof buf);
            return RP_ERR_IO;
        }
        n += (size_t)r;
    }
    close(fd);
    if (n > 0 && buf[n - 1] == '\n')
        n--;
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    st = RP_OK;
    if (n < TOKEN_MIN || n > TOKEN_MAX) {
        *why = rp__sprintf("the token in %s must be one line of %d to %d characters", path,
                           TOKEN_MIN, TOKEN_MAX);
        st = RP_ERR_INVALID;
    }
    for (size_t i = 0; st == RP_OK && i < n; i++)
        if (buf[i] < 0x21 || buf[i] > 0x7e) {
            *why = rp__sprintf("the token in %s holds a blank or a non-printable character",
                               path);
            st = RP_ERR_INVALID;
        }
    if (st == RP_OK)
        *token = rp_xstrndup(buf, n);
    OPENSSL_cleanse(buf, sizeof buf);
    return st;
}

void
rp__token_free(char *token)
{
    if (token != NULL) {
        OPENSSL_cleanse(token, strlen(token));
        free(token);
    }
}

bool
rp__token_equal(const char *a, const char *b)
{
    size_t la, lb;

    if (a == NULL || b == NULL)
        return false;
    la = strlen(a);
    lb = strlen(b);
    /* Lengths are not secret; the bytes are compared in constant time. */
    return la == lb && CRYPTO_memcmp(a, b, la) == 0;
}
