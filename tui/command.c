/*
 * command.c -- shell-like word splitting and ids for the `:` command line.
 */
#include "tui/command.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine/alloc.h"

void
rp__command_free(char **argv, size_t argc)
{
    for (size_t i = 0; i < argc; i++)
        free(argv[i]);
    free(argv);
}

rp_status
rp__command_split(const char *line, char ***argv, size_t *argc, char **why)
{
    size_t len = strlen(line), n = 0, cap = 4;
    char **words = rp_xcalloc(cap, sizeof *words);
    char *word = rp_xmalloc(len + 1);
    const char *p = line;

    *why = NULL;
    for (;;) {
        size_t w = 0;
        bool in_word = false;

        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0')
            break;
        while (*p != '\0' && *p != ' ' && *p != '\t') {
            in_word = true;
            if (*p == '\'') {
                const char *end = strchr(p + 1, '\'');
                if (end == NULL) {
                    *why = rp_xstrdup("unterminated ' quote");
                    goto fail;
                }
                memcpy(word + w, p + 1, (size_t)(end - p - 1));
                w += (size_t)(end - p - 1);
                p = end + 1;
            } else if (*p == '"') {
                for (p++; *p != '"'; p++) {
                    if (*p == '\0') {
                        *why = rp_xstrdup("unterminated \" quote");
                        goto fail;
                    }
                    if (*p == '\\' && p[1] != '\0' && strchr("\"\\$`", p[1]) != NULL)
                        p++;
                    word[w++] = *p;
                }
                p++;
            } else if (*p == '\\') {
                if (p[1] == '\0') {
                    *why = rp_xstrdup("a backslash at the end of the line");
                    goto fail;
                }
                word[w++] = p[1];
                p += 2;
            } else {
                word[w++] = *p++;
            }
        }
        if (in_word) {
            if (n + 1 >= cap) {
                cap *= 2;
                words = rp_xrealloc(words, cap * sizeof *words);
            }
            words[n++] = rp_xstrndup(word, w);
            words[n] = NULL;
        }
    }
    free(word);
    *argv = words;
    *argc = n;
    return RP_OK;

fail:
    free(word);
    rp__command_free(words, n);
    *argv = NULL;
    *argc = 0;
    return RP_ERR_INVALID;
}

rp_status
rp__command_parse_id(const char *text, uint64_t *out)
{
    char *end;
    unsigned long long v;

    if (text == NULL)
        return RP_ERR_INVALID;
    if (*text == '#' || *text == 't')
        text++;
    if (*text < '0' || *text > '9')
        return RP_ERR_INVALID;
    errno = 0;
    v = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0' || v == 0 || v > (1ull << 63))
        return RP_ERR_INVALID;
    *out = v;
    return RP_OK;
}
