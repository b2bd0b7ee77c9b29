/*
 * test_endpoint.c -- listen addresses, the plain-ws-only-on-loopback rule,
 * and the checks on secret files (net/endpoint.c).
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "net/endpoint.h"
#include "tests/testing.h"

static void
addresses_parse(void)
{
    static const struct {
        const char *text;
        const char *host;
        unsigned port;
        bool ipv6, loopback, wildcard;
    } ok[] = {
        { "127.0.0.1:7070", "127.0.0.1", 7070, false, true, false },
        { "127.1.2.3:1", "127.1.2.3", 1, false, true, false },
        { "127.0.0.1", "127.0.0.1", 9999, false, true, false },
        { "[::1]:65535", "::1", 65535, true, true, false },
        { "[::1]", "::1", 9999, true, true, false },
        { "[::ffff:127.0.0.1]:80", "::ffff:127.0.0.1", 80, true, true, false },
        { "localhost:8080", "localhost", 8080, false, true, false },
        { "0.0.0.0:7070", "0.0.0.0", 7070, false, false, true },
        { "[::]:7070", "::", 7070, true, false, true },
        { "10.1.2.3:7070", "10.1.2.3", 7070, false, false, false },
        { "node-7.cluster.example:443", "node-7.cluster.example", 443, false, false, false },
        { "[2001:db8::5]:7", "2001:db8::5", 7, true, false, false },
    };
    static const char *const bad[] = {
        "", ":7070", "host:", "host:0", "host:65536", "host:-1", "host:70x", "host: 1",
        "::1:7070", "[::1", "[::1]x", "[nothost]:1", "[]:1", "-host:1", "host.:1", "ho st:1",
        "hö:1", "host:99999999999999999999", "a:b:c",
    };

    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        struct rp_endpoint e;
        char *why = NULL;
        CU_ASSERT_EQUAL_FATAL(rp__endpoint_parse(ok[i].text, 9999, &e, &why), RP_OK);
        CU_ASSERT_PTR_NULL(why);
        CU_ASSERT_STRING_EQUAL(e.host, ok[i].host);
        CU_ASSERT_EQUAL(e.port, ok[i].port);
        CU_ASSERT_EQUAL(e.ipv6, ok[i].ipv6);
        CU_ASSERT_EQUAL(e.loopback, ok[i].loopback);
        CU_ASSERT_EQUAL(e.wildcard, ok[i].wildcard);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct rp_endpoint e;
        char *why = NULL;
        memset(&e, 0x5a, sizeof e);
        if (rp__endpoint_parse(bad[i], 9999, &e, &why) != RP_ERR_INVALID)
            fprintf(stderr, "\n    accepted '%s'\n", bad[i]);
        CU_ASSERT_PTR_NOT_NULL(why);
        CU_ASSERT_EQUAL(e.port, 0x5a5a);          /* untouched */
        free(why);
    }
    char *why = NULL;
    struct rp_endpoint e;
    CU_ASSERT_EQUAL(rp__endpoint_parse(NULL, 1, &e, &why), RP_ERR_INVALID);
    free(why);
    /* A host name of 254 bytes is over the DNS limit. */
    char long_host[300];
    memset(long_host, 'a', 254);
    strcpy(long_host + 254, ":1");
    CU_ASSERT_EQUAL(rp__endpoint_parse(long_host, 1, &e, &why), RP_ERR_INVALID);
    free(why);
    long_host[253] = '\0';
    CU_ASSERT_EQUAL(rp__endpoint_parse(long_host, 1, &e, &why), RP_OK);
}

static void
plain_ws_only_on_loopback_or_insecure(void)
{
    struct rp_endpoint lo, any, far;
    char *why = NULL;

    CU_ASSERT_EQUAL_FATAL(rp__endpoint_parse("127.0.0.1:1", 1, &lo, &why), RP_OK);
    CU_ASSERT_EQUAL_FATAL(rp__endpoint_parse("0.0.0.0:1", 1, &any, &why), RP_OK);
    CU_ASSERT_EQUAL_FATAL(rp__endpoint_parse("10.0.0.1:1", 1, &far, &why), RP_OK);
    CU_ASSERT_EQUAL(rp__endpoint_policy(&lo, false, false, false, &why), RP_OK);
    CU_ASSERT_EQUAL(rp__endpoint_policy(&any, true, true, false, &why), RP_OK);
    CU_ASSERT_EQUAL(rp__endpoint_policy(&far, false, false, true, &why), RP_OK);
    CU_ASSERT_EQUAL(rp__endpoint_policy(&any, false, false, false, &why), RP_ERR_INVALID);
    CU_ASSERT_PTR_NOT_NULL_FATAL(why);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "--insecure"));
    free(why);
    CU_ASSERT_EQUAL(rp__endpoint_policy(&far, false, false, false, &why), RP_ERR_INVALID);
    free(why);
    CU_ASSERT_EQUAL(rp__endpoint_policy(&lo, true, false, false, &why), RP_ERR_INVALID);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "--key"));
    free(why);
    CU_ASSERT_EQUAL(rp__endpoint_policy(&lo, false, true, true, &why), RP_ERR_INVALID);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "--cert"));
    free(why);
}

static void
write_file(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    CU_ASSERT_EQUAL(chmod(path, mode), 0);
}

static void
secret_files_and_tokens(void)
{
    char dir[PATH_MAX], key[PATH_MAX + 16], link[PATH_MAX + 16], tok[PATH_MAX + 16];
    char *why = NULL, *token = NULL;

    rp_test_tmpdir(dir, sizeof dir, "endpoint");
    snprintf(key, sizeof key, "%s/key.pem", dir);
    snprintf(link, sizeof link, "%s/link.pem", dir);
    snprintf(tok, sizeof tok, "%s/token", dir);

    write_file(key, "-----BEGIN PRIVATE KEY-----\n", 0600);
    CU_ASSERT_EQUAL(rp__secret_file_check(key, &why), RP_OK);
    CU_ASSERT_PTR_NULL(why);
    CU_ASSERT_EQUAL(chmod(key, 0400), 0);
    CU_ASSERT_EQUAL(rp__secret_file_check(key, &why), RP_OK);
    static const mode_t open_modes[] = { 0640, 0604, 0660, 0606, 0644, 0620 };
    for (size_t i = 0; i < sizeof open_modes / sizeof open_modes[0]; i++) {
        CU_ASSERT_EQUAL(chmod(key, open_modes[i]), 0);
        CU_ASSERT_EQUAL(rp__secret_file_check(key, &why), RP_ERR_INVALID);
        CU_ASSERT_PTR_NOT_NULL_FATAL(why);
        CU_ASSERT_PTR_NOT_NULL(strstr(why, "chmod 600"));
        free(why);
        why = NULL;
    }
    CU_ASSERT_EQUAL(chmod(key, 0600), 0);
    CU_ASSERT_EQUAL(symlink(key, link), 0);
    CU_ASSERT_EQUAL(rp__secret_file_check(link, &why), RP_ERR_INVALID);
    free(why);
    CU_ASSERT_EQUAL(rp__secret_file_check(dir, &why), RP_ERR_INVALID);    /* a directory */
    free(why);
    CU_ASSERT_EQUAL(rp__secret_file_check("/nonexistent/key", &why), RP_ERR_IO);
    free(why);

    write_file(tok, "0123456789abcdef-token\n", 0600);
    CU_ASSERT_EQUAL_FATAL(rp__token_read(tok, &token, &why), RP_OK);
    CU_ASSERT_STRING_EQUAL(token, "0123456789abcdef-token");
    CU_ASSERT_TRUE(rp__token_equal(token, "0123456789abcdef-token"));
    CU_ASSERT_FALSE(rp__token_equal(token, "0123456789abcdef-tokex"));
    CU_ASSERT_FALSE(rp__token_equal(token, "0123456789abcdef-toke"));
    CU_ASSERT_FALSE(rp__token_equal(token, NULL));
    rp__token_free(token);
    write_file(tok, "0123456789abcdef-crlf\r\n", 0600);
    CU_ASSERT_EQUAL(rp__token_read(tok, &token, &why), RP_OK);
    CU_ASSERT_STRING_EQUAL(token, "0123456789abcdef-crlf");
    rp__token_free(token);
    static const char *const bad_tokens[] = {
        "short\n", "0123456789abcdef with space\n", "0123456789abcdef\nsecond line\n",
        "0123456789abcdef\t\n", "",
    };
    for (size_t i = 0; i < sizeof bad_tokens / sizeof bad_tokens[0]; i++) {
        write_file(tok, bad_tokens[i], 0600);
        token = (char *)"sentinel";
        CU_ASSERT_EQUAL(rp__token_read(tok, &token, &why), RP_ERR_INVALID);
        CU_ASSERT_PTR_NULL(token);
        CU_ASSERT_PTR_NOT_NULL(why);
        free(why);
    }
    /* 4096 characters are fine, 4097 are not. */
    char *big = malloc(4099);
    CU_ASSERT_PTR_NOT_NULL_FATAL(big);
    memset(big, 'x', 4096);
    strcpy(big + 4096, "\n");
    write_file(tok, big, 0600);
    CU_ASSERT_EQUAL(rp__token_read(tok, &token, &why), RP_OK);
    CU_ASSERT_EQUAL(strlen(token), 4096);
    rp__token_free(token);
    big[4096] = 'x';
    strcpy(big + 4097, "\n");
    write_file(tok, big, 0600);
    CU_ASSERT_EQUAL(rp__token_read(tok, &token, &why), RP_ERR_INVALID);
    free(why);
    free(big);
    /* A token file others can read is refused like a key. */
    write_file(tok, "0123456789abcdef-token\n", 0644);
    CU_ASSERT_EQUAL(rp__token_read(tok, &token, &why), RP_ERR_INVALID);
    CU_ASSERT_PTR_NULL(token);
    free(why);
    rp__token_free(NULL);
    rp_test_remove_tree(dir);
}

static const rp_test_case cases[] = {
    { "addresses_parse", addresses_parse },
    { "plain_ws_only_on_loopback_or_insecure", plain_ws_only_on_loopback_or_insecure },
    { "secret_files_and_tokens", secret_files_and_tokens },
    { NULL, NULL },
};

const rp_test_suite rp_test_suite_endpoint = { .name = "endpoint", .cases = cases };
