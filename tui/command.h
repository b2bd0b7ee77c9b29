/*
 * command.h -- the console's `:` command line: splitting words the way a
 * shell would (quotes and backslashes, no expansion) and the table of
 * commands (:submit, :cancel, :restore, :theme, :sort, :filter, :help,
 * :quit), which also generates their help.
 */
#ifndef RP_TUI_COMMAND_H
#define RP_TUI_COMMAND_H

#include <stddef.h>

#include <repartir.h>

/* Splits line into words: blanks separate words; '...' keeps everything
 * literally; "..." keeps everything but \" \\ \$ \` (backslash escapes);
 * a backslash outside quotes escapes the next character. *argv is a
 * malloc'd NULL-terminated array of *argc malloc'd words (free with
 * rp__command_free). An unterminated quote or a trailing backslash is
 * RP_ERR_INVALID with *why (malloc'd). An empty line gives 0 words. */
rp_status rp__command_split(const char *line, char ***argv /* OUT */, size_t *argc /* OUT */,
                            char **why /* OUT */);
void rp__command_free(char **argv, size_t argc);

/* Parses a task id: decimal, 1 to 2^63; an optional leading '#' or 't' is
 * allowed ("#42", "t42"). RP_ERR_INVALID otherwise. */
rp_status rp__command_parse_id(const char *text, uint64_t *out /* OUT */);

#endif /* RP_TUI_COMMAND_H */
