/*
 * test_theme.c -- console themes (tui/theme.h): the slot table, the
 * built-in default and the shipped files (each parses, default.theme equals
 * rp__theme_default, light and dark are readable, mono has no colour), the
 * parser (every colour syntax, nearest-colour choices, attributes, `on`,
 * comments, blanks, CRLF, names, and each error with its line and an
 * unchanged result, plus random input), finding themes (user directory
 * over the built-ins, HOME fallback, names refused, unknown names,
 * broken and unreadable files), the name list and rp__theme_next, and
 * rp__theme_apply on a 256- and an 8-colour terminal that writes to
 * /dev/null, in a forked child so curses leaves nothing behind here.
 *
 * Decisions the tests pin down (theme.c's header says them too): a key
 * given twice -- the last line wins; #rrggbb maps to the nearest of
 * colours 16-255 by RGB distance, the lower number on a tie, so #000000
 * is 16, never 0; a lone `#` after a value starts a trailing comment.
 *
 * Tests that need the user's theme directory point XDG_CONFIG_HOME (or
 * HOME) at a private temporary directory and put both back afterwards.
 */
#include <curses.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/testing.h"
#include "tui/theme.h"

/* The themes built into the binary (tools/embed_themes.sh). */
extern const struct rp__builtin_theme {
    const char *name;
    const char *text;
    size_t len;
} rp__builtin_themes[];
extern const size_t rp__builtin_theme_count;

static const char *const shipped[] = { "default", "dark", "light", "solarized-dark", "mono" };
#define N_SHIPPED (sizeof shipped / sizeof shipped[0])

/* Exit status of a forked child that could not set up its test. */
#define CHILD_SKIP 77

/* ---- helpers ---- */

static rp_status
parse(const char *text, struct rp_theme *t, char **why)
{
    return rp__theme_parse(text, strlen(text), "t.theme", "t", t, why);
}

/* Parses text that must be valid; the style of `slot`. */
static struct rp_theme_style
style_of(const char *text, enum rp_theme_slot slot)
{
    struct rp_theme t;
    char *why = NULL;
    rp_status s = parse(text, &t, &why);

    CU_ASSERT_EQUAL(s, RP_OK);
    if (s != RP_OK) {
        fprintf(stderr, "\n  unexpected error for \"%s\": %s\n", text, why ? why : "(no why)");
        free(why);
        return (struct rp_theme_style){ -2, -2, 0 };
    }
    CU_ASSERT_PTR_NULL(why);
    return t.slot[slot];
}

static short
fg_of(const char *value)
{
    char text[256];

    snprintf(text, sizeof text, "normal = %s\n", value);
    return style_of(text, RP_THEME_NORMAL).fg;
}

static bool
same_theme(const struct rp_theme *a, const struct rp_theme *b)
{
    if (strcmp(a->name, b->name) != 0)
        return false;
    for (int i = 0; i < RP_THEME_SLOT_COUNT; i++)
        if (a->slot[i].fg != b->slot[i].fg || a->slot[i].bg != b->slot[i].bg ||
            a->slot[i].attrs != b->slot[i].attrs)
            return false;
    return true;
}

static bool
valid_theme(const struct rp_theme *t)
{
    if (memchr(t->name, '\0', sizeof t->name) == NULL || t->name[0] == '\0')
        return false;
    for (int i = 0; i < RP_THEME_SLOT_COUNT; i++) {
        const struct rp_theme_style *s = &t->slot[i];
        if (s->fg < -1 || s->fg > 255 || s->bg < -1 || s->bg > 255 || (s->attrs & ~0x1fu) != 0)
            return false;
    }
    return true;
}

static void
write_file(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");

    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(fwrite(text, 1, len, f), len);
    CU_ASSERT_EQUAL(fclose(f), 0);
}

/* XDG_CONFIG_HOME and HOME as they were before a test changed them. */
struct saved_env {
    char *xdg, *home;
};

static struct saved_env
save_env(void)
{
    const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");

    return (struct saved_env){ xdg ? strdup(xdg) : NULL, home ? strdup(home) : NULL };
}

static void
restore_one(const char *var, char *value)
{
    if (value != NULL)
        setenv(var, value, 1);
    else
        unsetenv(var);
    free(value);
}

static void
restore_env(struct saved_env e)
{
    restore_one("XDG_CONFIG_HOME", e.xdg);
    restore_one("HOME", e.home);
}

/* A private XDG_CONFIG_HOME with an empty repartir/themes in it; its
 * themes directory goes into themes. */
static void
private_config(char *dir, size_t size, char *themes, size_t themes_size)
{
    char sub[1024];

    rp_test_tmpdir(dir, size, "theme");
    snprintf(sub, sizeof sub, "%s/repartir", dir);
    CU_ASSERT_EQUAL_FATAL(mkdir(sub, 0700), 0);
    snprintf(themes, themes_size, "%s/repartir/themes", dir);
    CU_ASSERT_EQUAL_FATAL(mkdir(themes, 0700), 0);
    CU_ASSERT_EQUAL_FATAL(setenv("XDG_CONFIG_HOME", dir, 1), 0);
}

static void
user_theme(const char *themes, const char *file, const char *text)
{
    char path[1200];

    snprintf(path, sizeof path, "%s/%s", themes, file);
    write_file(path, text, strlen(text));
}

/* xterm's RGB for colour c, as a terminal shows it by default. */
static void
xterm_rgb(int c, double rgb[3])
{
    static const int basic[16][3] = {
        { 0, 0, 0 },       { 205, 0, 0 },   { 0, 205, 0 },   { 205, 205, 0 },
        { 0, 0, 238 },     { 205, 0, 205 }, { 0, 205, 205 }, { 229, 229, 229 },
        { 127, 127, 127 }, { 255, 0, 0 },   { 0, 255, 0 },   { 255, 255, 0 },
        { 92, 92, 255 },   { 255, 0, 255 }, { 0, 255, 255 }, { 255, 255, 255 },
    };
    static const int level[6] = { 0, 95, 135, 175, 215, 255 };

    if (c < 16) {
        for (int k = 0; k < 3; k++)
            rgb[k] = basic[c][k];
    } else if (c < 232) {
        rgb[0] = level[(c - 16) / 36];
        rgb[1] = level[(c - 16) / 6 % 6];
        rgb[2] = level[(c - 16) % 6];
    } else {
        rgb[0] = rgb[1] = rgb[2] = 8 + 10 * (c - 232);
    }
}

/* WCAG relative luminance of an RGB colour (0-255 channels). */
static double
luminance(const double rgb[3])
{
    static const double weight[3] = { 0.2126, 0.7152, 0.0722 };
    double l = 0;

    for (int k = 0; k < 3; k++) {
        double v = rgb[k] / 255.0;
        v = v <= 0.03928 ? v / 12.92 : pow((v + 0.055) / 1.055, 2.4);
        l += weight[k] * v;
    }
    return l;
}

/* WCAG contrast of two colours; -1 (the terminal's) is `terminal`. */
static double
contrast(int fg, int bg, const double terminal[3])
{
    double a[3], b[3], la, lb;

    if (fg < 0)
        memcpy(a, terminal, sizeof a);
    else
        xterm_rgb(fg, a);
    if (bg < 0)
        memcpy(b, terminal, sizeof b);
    else
        xterm_rgb(bg, b);
    la = luminance(a);
    lb = luminance(b);
    return la > lb ? (la + 0.05) / (lb + 0.05) : (lb + 0.05) / (la + 0.05);
}

/* Loads a built-in theme with no user directory in the way. */
static void
load_builtin(const char *name, struct rp_theme *t)
{
    struct saved_env env = save_env();
    char dir[512], themes[1024], *why = NULL;

    private_config(dir, sizeof dir, themes, sizeof themes);
    CU_ASSERT_EQUAL(rp__theme_load(name, t, &why), RP_OK);
    if (why != NULL)
        fprintf(stderr, "\n  %s: %s\n", name, why);
    CU_ASSERT_PTR_NULL(why);
    free(why);
    restore_env(env);
    rp_test_remove_tree(dir);
}

/* ---- the table and the default ---- */

static void
every_slot_has_a_unique_key(void)
{
    for (int i = 0; i < RP_THEME_SLOT_COUNT; i++) {
        const char *k = rp__theme_slot_key((enum rp_theme_slot)i);

        CU_ASSERT_PTR_NOT_NULL_FATAL(k);
        CU_ASSERT(strlen(k) > 0);
        CU_ASSERT(strcmp(k, "name") != 0);
        for (int j = 0; j < i; j++)
            CU_ASSERT(strcmp(k, rp__theme_slot_key((enum rp_theme_slot)j)) != 0);
    }
    CU_ASSERT_STRING_EQUAL(rp__theme_slot_key(RP_THEME_RUNNING), "state.running");
    CU_ASSERT_STRING_EQUAL(rp__theme_slot_key(RP_THEME_BORDER_FOCUS), "border.focus");
    CU_ASSERT_PTR_NULL(rp__theme_slot_key(RP_THEME_SLOT_COUNT));
    CU_ASSERT_PTR_NULL(rp__theme_slot_key((enum rp_theme_slot)-1));
    CU_ASSERT_PTR_NULL(rp__theme_slot_key((enum rp_theme_slot)1000));
}

static void
default_theme_uses_the_terminal_colours_for_text(void)
{
    struct rp_theme t;

    memset(&t, 0x5a, sizeof t);
    rp__theme_default(&t);
    CU_ASSERT(valid_theme(&t));
    CU_ASSERT_STRING_EQUAL(t.name, "default");
    CU_ASSERT_EQUAL(t.slot[RP_THEME_NORMAL].fg, RP_THEME_DEFAULT_COLOR);
    CU_ASSERT_EQUAL(t.slot[RP_THEME_NORMAL].bg, RP_THEME_DEFAULT_COLOR);
    CU_ASSERT_EQUAL(t.slot[RP_THEME_STATUS].fg, RP_THEME_DEFAULT_COLOR);
    CU_ASSERT(t.slot[RP_THEME_SELECTED].attrs & RP_THEME_ATTR_REVERSE);
    CU_ASSERT_EQUAL(t.slot[RP_THEME_FAILED].fg, COLOR_RED);
    CU_ASSERT(t.slot[RP_THEME_FAILED].attrs & RP_THEME_ATTR_BOLD);
    CU_ASSERT_EQUAL(t.slot[RP_THEME_SUCCEEDED].fg, COLOR_GREEN);
    CU_ASSERT_EQUAL(t.slot[RP_THEME_CANCELLED].fg, COLOR_MAGENTA);
    CU_ASSERT_EQUAL(t.slot[RP_THEME_TIMED_OUT].fg, COLOR_RED);
    /* Never white or yellow text on the terminal's background: one of
     * the two is unreadable on a light or a dark terminal. */
    for (int i = 0; i < RP_THEME_SLOT_COUNT; i++) {
        if (t.slot[i].bg != RP_THEME_DEFAULT_COLOR)
            continue;
        CU_ASSERT(t.slot[i].fg != COLOR_WHITE && t.slot[i].fg != COLOR_YELLOW &&
                  t.slot[i].fg != COLOR_BLACK && t.slot[i].fg < 8);
    }
}

/* ---- the shipped files ---- */

static void
every_shipped_theme_loads_by_name(void)
{
    CU_ASSERT_EQUAL(rp__builtin_theme_count, N_SHIPPED);
    for (size_t i = 0; i < N_SHIPPED; i++) {
        struct rp_theme t;

        memset(&t, 0, sizeof t);
        load_builtin(shipped[i], &t);
        CU_ASSERT(valid_theme(&t));
        CU_ASSERT_STRING_EQUAL(t.name, shipped[i]);
    }
}

static void
default_file_equals_the_built_in_default(void)
{
    struct rp_theme from_file, built_in;

    load_builtin("default", &from_file);
    rp__theme_default(&built_in);
    CU_ASSERT(same_theme(&from_file, &built_in));
    for (int i = 0; i < RP_THEME_SLOT_COUNT; i++) {
        if (from_file.slot[i].fg != built_in.slot[i].fg ||
            from_file.slot[i].bg != built_in.slot[i].bg ||
            from_file.slot[i].attrs != built_in.slot[i].attrs)
            fprintf(stderr, "\n  default.theme differs at %s\n",
                    rp__theme_slot_key((enum rp_theme_slot)i));
    }
}

/* Every file starts with a comment and sets every slot itself, so it can
 * be copied as a template. */
static void
shipped_files_comment_and_list_every_slot(void)
{
    for (size_t i = 0; i < rp__builtin_theme_count; i++) {
        const char *text = rp__builtin_themes[i].text;

        CU_ASSERT(rp__builtin_themes[i].len > 0 && text[0] == '#');
        for (int s = 0; s < RP_THEME_SLOT_COUNT; s++) {
            const char *key = rp__theme_slot_key((enum rp_theme_slot)s);
            size_t klen = strlen(key);
            bool found = false;

            for (const char *p = text; p != NULL && !found; p = strchr(p, '\n')) {
                if (*p == '\n')
                    p++;
                if (strncmp(p, key, klen) == 0 && (p[klen] == ' ' || p[klen] == '='))
                    found = true;
            }
            if (!found)
                fprintf(stderr, "\n  %s.theme lacks %s\n", rp__builtin_themes[i].name, key);
            CU_ASSERT(found);
        }
    }
}

static void
mono_has_no_colours_and_keeps_slots_apart(void)
{
    struct rp_theme t;

    load_builtin("mono", &t);
    for (int i = 0; i < RP_THEME_SLOT_COUNT; i++) {
        CU_ASSERT_EQUAL(t.slot[i].fg, RP_THEME_DEFAULT_COLOR);
        CU_ASSERT_EQUAL(t.slot[i].bg, RP_THEME_DEFAULT_COLOR);
    }
    CU_ASSERT(t.slot[RP_THEME_SELECTED].attrs & RP_THEME_ATTR_REVERSE);
    CU_ASSERT(t.slot[RP_THEME_FAILED].attrs & RP_THEME_ATTR_BOLD);
    CU_ASSERT(t.slot[RP_THEME_DIM].attrs & RP_THEME_ATTR_DIM);
    CU_ASSERT(t.slot[RP_THEME_FAILED].attrs != t.slot[RP_THEME_SUCCEEDED].attrs);
    CU_ASSERT(t.slot[RP_THEME_RUNNING].attrs != t.slot[RP_THEME_QUEUED].attrs);
}

/* Text slots of light and dark reach WCAG contrast 3:1 against their
 * background (the terminal's: white for light, black for dark), with the
 * xterm palette; frames and empty bar cells are exempt. */
static void
check_contrast(const char *name, const double terminal[3])
{
    struct rp_theme t;

    load_builtin(name, &t);
    for (int i = 0; i < RP_THEME_SLOT_COUNT; i++) {
        double c;

        if (i == RP_THEME_BORDER || i == RP_THEME_BAR_EMPTY)
            continue;
        if (t.slot[i].fg < 0 && t.slot[i].bg < 0)
            continue;
        CU_ASSERT(t.slot[i].fg >= 0);
        if (t.slot[i].fg < 0)
            continue;
        c = contrast(t.slot[i].fg, t.slot[i].bg, terminal);
        if (c < 3.0)
            fprintf(stderr, "\n  %s: %s has contrast %.2f\n", name,
                    rp__theme_slot_key((enum rp_theme_slot)i), c);
        CU_ASSERT(c >= 3.0);
    }
}

static void
light_and_dark_text_is_readable(void)
{
    static const double white[3] = { 255, 255, 255 }, black[3] = { 0, 0, 0 };
    struct rp_theme light;

    check_contrast("light", white);
    check_contrast("dark", black);
    /* And, said plainly: no yellow and no white text in light (frames and
     * empty bar cells may be pale). */
    load_builtin("light", &light);
    for (int i = 0; i < RP_THEME_SLOT_COUNT; i++) {
        short fg = light.slot[i].fg;

        if (i == RP_THEME_BORDER || i == RP_THEME_BAR_EMPTY)
            continue;
        CU_ASSERT(fg != 3 && fg != 7 && fg != 11 && fg != 15 && fg != 231 &&
                  !(fg >= 226 && fg <= 230) && !(fg >= 250 && fg <= 255));
    }
}

/* ---- colours ---- */

static void
colour_names_and_bright_names(void)
{
    static const char *const names[8] = {
        "black", "red", "green", "yellow", "blue", "magenta", "cyan", "white",
    };
    char value[64];

    for (short i = 0; i < 8; i++) {
        CU_ASSERT_EQUAL(fg_of(names[i]), i);
        snprintf(value, sizeof value, "bright-%s", names[i]);
        CU_ASSERT_EQUAL(fg_of(value), 8 + i);
    }
    CU_ASSERT_EQUAL(fg_of("default"), RP_THEME_DEFAULT_COLOR);
    CU_ASSERT_EQUAL(fg_of("RED"), 1);
    CU_ASSERT_EQUAL(fg_of("Bright-Cyan"), 14);
    CU_ASSERT_EQUAL(fg_of("DEFAULT"), RP_THEME_DEFAULT_COLOR);
}

static void
colour_numbers(void)
{
    CU_ASSERT_EQUAL(fg_of("0"), 0);
    CU_ASSERT_EQUAL(fg_of("7"), 7);
    CU_ASSERT_EQUAL(fg_of("007"), 7);
    CU_ASSERT_EQUAL(fg_of("255"), 255);
    CU_ASSERT_EQUAL(fg_of("color0"), 0);
    CU_ASSERT_EQUAL(fg_of("color42"), 42);
    CU_ASSERT_EQUAL(fg_of("color255"), 255);
    CU_ASSERT_EQUAL(fg_of("Color9"), 9);
}

/* #rrggbb: the nearest of 16-255, the lower number on a tie. */
static void
hex_colours_take_the_nearest_xterm_colour(void)
{
    CU_ASSERT_EQUAL(fg_of("#ff0000"), 196);
    CU_ASSERT_EQUAL(fg_of("#FF0000"), 196);
    CU_ASSERT_EQUAL(fg_of("#fe0101"), 196);
    CU_ASSERT_EQUAL(fg_of("#000000"), 16);    /* the cube's black, not colour 0 */
    CU_ASSERT_EQUAL(fg_of("#010101"), 16);
    CU_ASSERT_EQUAL(fg_of("#ffffff"), 231);
    CU_ASSERT_EQUAL(fg_of("#00ff00"), 46);
    CU_ASSERT_EQUAL(fg_of("#0000ff"), 21);
    CU_ASSERT_EQUAL(fg_of("#5f87af"), 67);    /* exact cube entry */
    CU_ASSERT_EQUAL(fg_of("#5f5f5f"), 59);    /* exact cube grey beats 240/241 */
    CU_ASSERT_EQUAL(fg_of("#808080"), 244);   /* greys ramp: 8 + 10 * 12 */
    CU_ASSERT_EQUAL(fg_of("#080808"), 232);
    CU_ASSERT_EQUAL(fg_of("#767676"), 243);
    CU_ASSERT_EQUAL(fg_of("#eeeeee"), 255);
    CU_ASSERT_EQUAL(fg_of("#0d0d0d"), 232);   /* 232 and 233 tie: the lower */
    CU_ASSERT_EQUAL(fg_of("#d0d0d0"), 252);
    CU_ASSERT_EQUAL(fg_of("#268bd2"), 32);    /* solarized blue: (0,135,215) */
}

static void
attributes_and_backgrounds(void)
{
    struct rp_theme_style s;

    s = style_of("normal = red bold", RP_THEME_NORMAL);
    CU_ASSERT(s.fg == 1 && s.bg == RP_THEME_DEFAULT_COLOR && s.attrs == RP_THEME_ATTR_BOLD);
    s = style_of("normal = default bold dim underline reverse italic", RP_THEME_NORMAL);
    CU_ASSERT_EQUAL(s.attrs, RP_THEME_ATTR_BOLD | RP_THEME_ATTR_DIM | RP_THEME_ATTR_UNDERLINE |
                                 RP_THEME_ATTR_REVERSE | RP_THEME_ATTR_ITALIC);
    s = style_of("normal = black on cyan", RP_THEME_NORMAL);
    CU_ASSERT(s.fg == 0 && s.bg == 6 && s.attrs == 0);
    s = style_of("normal = 231 on #ff0000 underline", RP_THEME_NORMAL);
    CU_ASSERT(s.fg == 231 && s.bg == 196 && s.attrs == RP_THEME_ATTR_UNDERLINE);
    s = style_of("normal = default on default", RP_THEME_NORMAL);
    CU_ASSERT(s.fg == -1 && s.bg == -1 && s.attrs == 0);
    /* `on BG` may follow the attributes, too. */
    s = style_of("normal = red bold ON color4 bold", RP_THEME_NORMAL);
    CU_ASSERT(s.fg == 1 && s.bg == 4 && s.attrs == RP_THEME_ATTR_BOLD);
    /* A slot set in the file loses the default's attributes. */
    s = style_of("state.failed = red", RP_THEME_FAILED);
    CU_ASSERT(s.fg == 1 && s.attrs == 0);
}

/* ---- layout ---- */

static void
comments_blanks_whitespace_and_crlf(void)
{
    static const char text[] =
        "# a comment\r\n"
        "\r\n"
        "   \t  \n"
        "  # an indented comment = red\n"
        "\tnormal\t=\tred\ton\tblue\tbold\t\r\n"
        "state.failed=green\n"
        "  selected   =   #00ff00   # trailing comment: on red bold\r\n"
        "key = yellow #\n"
        "bar = blue";                 /* no newline at the end */
    struct rp_theme t, def;
    char *why = NULL;

    CU_ASSERT_EQUAL_FATAL(parse(text, &t, &why), RP_OK);
    CU_ASSERT_PTR_NULL(why);
    rp__theme_default(&def);
    CU_ASSERT(t.slot[RP_THEME_NORMAL].fg == 1 && t.slot[RP_THEME_NORMAL].bg == 4 &&
              t.slot[RP_THEME_NORMAL].attrs == RP_THEME_ATTR_BOLD);
    CU_ASSERT(t.slot[RP_THEME_FAILED].fg == 2 && t.slot[RP_THEME_FAILED].attrs == 0);
    CU_ASSERT(t.slot[RP_THEME_SELECTED].fg == 46 && t.slot[RP_THEME_SELECTED].bg == -1 &&
              t.slot[RP_THEME_SELECTED].attrs == 0);
    CU_ASSERT_EQUAL(t.slot[RP_THEME_KEY].fg, 3);
    CU_ASSERT_EQUAL(t.slot[RP_THEME_BAR].fg, 4);
    /* Slots the file leaves out keep the default's style. */
    CU_ASSERT_EQUAL(memcmp(&t.slot[RP_THEME_LOST], &def.slot[RP_THEME_LOST],
                           sizeof t.slot[RP_THEME_LOST]), 0);
    CU_ASSERT_EQUAL(memcmp(&t.slot[RP_THEME_TITLE], &def.slot[RP_THEME_TITLE],
                           sizeof t.slot[RP_THEME_TITLE]), 0);
}

static void
empty_text_is_the_default_under_the_default_name(void)
{
    struct rp_theme t, def;
    char *why = NULL;

    CU_ASSERT_EQUAL(rp__theme_parse("", 0, "e.theme", "empty", &t, &why), RP_OK);
    CU_ASSERT_PTR_NULL(why);
    CU_ASSERT_STRING_EQUAL(t.name, "empty");
    rp__theme_default(&def);
    CU_ASSERT_EQUAL(memcmp(t.slot, def.slot, sizeof t.slot), 0);
    CU_ASSERT_EQUAL(rp__theme_parse(NULL, 0, "e.theme", "empty", &t, &why), RP_OK);
    /* No default name: the default theme's. */
    CU_ASSERT_EQUAL(rp__theme_parse("# nothing\n", 10, NULL, NULL, &t, &why), RP_OK);
    CU_ASSERT_STRING_EQUAL(t.name, "default");
}

static void
name_line_sets_the_name(void)
{
    struct rp_theme t;
    char *why = NULL, long_name[64];

    CU_ASSERT_EQUAL(parse("name = mine\nnormal = red\n", &t, &why), RP_OK);
    CU_ASSERT_STRING_EQUAL(t.name, "mine");
    CU_ASSERT_EQUAL(parse("normal = red\n", &t, &why), RP_OK);
    CU_ASSERT_STRING_EQUAL(t.name, "t");
    CU_ASSERT_EQUAL(parse("name = a\nname = b   # the last wins\n", &t, &why), RP_OK);
    CU_ASSERT_STRING_EQUAL(t.name, "b");
    memset(long_name, 'n', 63);
    long_name[63] = '\0';
    {
        char text[128];

        snprintf(text, sizeof text, "name = %s\n", long_name);
        CU_ASSERT_EQUAL(parse(text, &t, &why), RP_OK);
        CU_ASSERT_STRING_EQUAL(t.name, long_name);
    }
    CU_ASSERT_PTR_NULL(why);
}

static void
a_key_given_twice_takes_the_last(void)
{
    struct rp_theme t;
    char *why = NULL;

    CU_ASSERT_EQUAL(parse("normal = red bold\nnormal = blue on green\n", &t, &why), RP_OK);
    CU_ASSERT(t.slot[RP_THEME_NORMAL].fg == 4 && t.slot[RP_THEME_NORMAL].bg == 2 &&
              t.slot[RP_THEME_NORMAL].attrs == 0);
}

/* ---- errors ---- */

static const struct bad_case {
    const char *text;
    unsigned line;
    const char *says;
} bad_cases[] = {
    { "normal = red\nfoo = red\n", 2, "unknown key 'foo'" },
    { "State.Bogus = red\n", 1, "state.running" },   /* the message lists the keys */
    { "normal foo = red\n", 1, "one word" },
    { "= red\n", 1, "missing key" },
    { "\n\nnormal = purple\n", 3, "unknown colour 'purple'" },
    { "normal = bright-purple\n", 1, "unknown colour" },
    { "normal = bright-\n", 1, "unknown colour" },
    { "normal = bright-default\n", 1, "unknown colour" },
    { "normal = color\n", 1, "unknown colour" },
    { "normal = colorx1\n", 1, "unknown colour" },
    { "normal = -1\n", 1, "unknown colour" },
    { "normal = 12a\n", 1, "unknown colour" },
    { "normal = 256\n", 1, "out of range" },
    { "normal = color256\n", 1, "out of range" },
    { "normal = 99999999999999999999999\n", 1, "out of range" },
    { "normal = red on 1000\n", 1, "out of range" },
    { "normal = #12345\n", 1, "#rrggbb" },
    { "normal = #1234567\n", 1, "#rrggbb" },
    { "normal = #12345g\n", 1, "#rrggbb" },
    { "normal = #\n", 1, "has no value" },   /* a lone # is a comment */
    { "normal = #xyz\n", 1, "#rrggbb" },
    { "normal red\n", 1, "missing '='" },
    { "# fine\nnormal\n", 2, "missing '='" },
    { "normal =\n", 1, "has no value" },
    { "normal =    \t \r\n", 1, "has no value" },
    { "normal =  # only a comment\n", 1, "has no value" },
    { "normal = red on blue on green\n", 1, "'on' appears twice" },
    { "normal = red on\n", 1, "needs a background" },
    { "normal = red on bold\n", 1, "unknown colour 'bold'" },
    { "normal = bold\n", 1, "must start with a colour" },
    { "normal = on red\n", 1, "must start with a colour" },
    { "normal = red blinking\n", 1, "unknown attribute 'blinking'" },
    { "normal = red blue\n", 1, "second colour 'blue'" },
    { "normal = = red\n", 1, "unknown colour '='" },
    { "normal = red bold bold bold bold bold bold bold bold bold bold bold bold bold bold "
      "bold bold\n", 1, "too many words" },
    { "name =\n", 1, "'name' has no value" },
    { "name = two words\n", 1, "one word" },
    { "name = nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn\n", 1,
      "at most 63" },
    { "name = a\033b\n", 1, "control character" },
    { "normal = red\r\nerror = nope\r\n", 2, "unknown colour 'nope'" },
};

/* Parses text (len bytes) that must fail at `line` saying `says`, into a
 * theme that must come back untouched. */
static void
expect_error(const char *text, size_t len, unsigned line, const char *says)
{
    struct rp_theme t, before;
    char *why = NULL, prefix[64];
    rp_status s;

    memset(&t, 0xa5, sizeof t);
    before = t;
    s = rp__theme_parse(text, len, "bad.theme", "bad", &t, &why);
    CU_ASSERT_EQUAL(s, RP_ERR_INVALID);
    CU_ASSERT_EQUAL(memcmp(&t, &before, sizeof t), 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(why);
    snprintf(prefix, sizeof prefix, "bad.theme:%u: ", line);
    CU_ASSERT_EQUAL(strncmp(why, prefix, strlen(prefix)), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, says));
    if (s != RP_ERR_INVALID || strncmp(why, prefix, strlen(prefix)) != 0 ||
        strstr(why, says) == NULL)
        fprintf(stderr, "\n  wanted \"%s...%s\", got \"%s\"\n", prefix, says, why);
    free(why);
}

static void
each_error_names_the_line_and_leaves_out_alone(void)
{
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++)
        expect_error(bad_cases[i].text, strlen(bad_cases[i].text), bad_cases[i].line,
                     bad_cases[i].says);
}

static void
nul_bytes_are_refused(void)
{
    static const char text[] = "normal = red\nerror = red\0 bold\n";
    static const char at_end[] = "normal = red\n\n\n\0";

    expect_error(text, sizeof text - 1, 2, "NUL");
    expect_error(at_end, sizeof at_end - 1, 4, "NUL");
    /* Text need not be NUL-terminated: only len bytes are read. */
    {
        struct rp_theme t;
        char *why = NULL;

        CU_ASSERT_EQUAL(rp__theme_parse("normal = red\0garbage", 12, "x", "x", &t, &why), RP_OK);
        CU_ASSERT_EQUAL(t.slot[RP_THEME_NORMAL].fg, 1);
    }
}

static void
lines_over_1024_bytes_are_refused(void)
{
    char text[1200];
    struct rp_theme t;
    char *why = NULL;
    size_t n;

    /* Exactly 1024 bytes, plus CRLF: fine. */
    n = (size_t)snprintf(text, sizeof text, "\n# ");
    memset(text + n, 'x', 1024 - 2);
    n += 1024 - 2;
    memcpy(text + n, "\r\n", 3);
    CU_ASSERT_EQUAL(parse(text, &t, &why), RP_OK);
    CU_ASSERT_PTR_NULL(why);
    free(why);
    /* 1025: refused, on line 2. */
    memcpy(text + n, "x\n", 3);
    expect_error(text, strlen(text), 2, "1025 bytes");
}

static void
files_over_64_kib_are_refused(void)
{
    size_t len = 70 * 1024, line_len = 64, i;
    char *text = malloc(len);
    struct rp_theme t;
    char *why = NULL;

    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    /* Lines of 63 '#' and a newline: byte 65536 is on line 1025. */
    for (i = 0; i < len; i++)
        text[i] = i % line_len == line_len - 1 ? '\n' : '#';
    expect_error(text, len, 64 * 1024 / line_len + 1, "64 KiB");
    /* Exactly 64 KiB is allowed. */
    CU_ASSERT_EQUAL(rp__theme_parse(text, 64 * 1024, "ok", "ok", &t, &why), RP_OK);
    CU_ASSERT_PTR_NULL(why);
    free(why);
    free(text);
}

static void
bad_arguments_are_invalid_not_a_crash(void)
{
    struct rp_theme t;
    char *why = NULL;

    CU_ASSERT_EQUAL(rp__theme_parse(NULL, 5, "x", "x", &t, &why), RP_ERR_INVALID);
    free(why);
    why = NULL;
    CU_ASSERT_EQUAL(rp__theme_parse("normal = red", 12, "x", "x", NULL, &why), RP_ERR_INVALID);
    free(why);
    /* why may be NULL: the status alone. */
    CU_ASSERT_EQUAL(rp__theme_parse("normal = nope", 13, "x", "x", &t, NULL), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp__theme_load("default", NULL, &why), RP_ERR_INVALID);
}

static uint64_t
next_random(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);

    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Random bytes and random edits of default.theme: OK or INVALID with a
 * reason that names the file, never anything else. */
static void
random_input_never_breaks_the_parser(void)
{
    static const char alphabet[] = "= #\n\r\tonredbl0123456789abcdefxX-.\0";
    const struct rp__builtin_theme *def = NULL;
    unsigned rounds = 20000 / rp_test_slowdown();
    uint64_t seed = 42;
    size_t ok = 0, bad = 0;

    for (size_t i = 0; i < rp__builtin_theme_count; i++)
        if (strcmp(rp__builtin_themes[i].name, "default") == 0)
            def = &rp__builtin_themes[i];
    CU_ASSERT_PTR_NOT_NULL_FATAL(def);
    for (unsigned r = 0; r < rounds; r++) {
        size_t len = r % 2 ? def->len : next_random(&seed) % 300;
        char *text = malloc(len + 1);
        struct rp_theme t;
        char *why = NULL;
        rp_status s;

        CU_ASSERT_PTR_NOT_NULL_FATAL(text);
        if (r % 2) {
            unsigned edits = 1 + (unsigned)(next_random(&seed) % 4);

            memcpy(text, def->text, len);
            for (unsigned e = 0; e < edits; e++)
                text[next_random(&seed) % len] =
                    next_random(&seed) % 4 ? alphabet[next_random(&seed) % (sizeof alphabet - 1)]
                                           : (char)next_random(&seed);
        } else {
            for (size_t k = 0; k < len; k++)
                text[k] = r % 4 ? alphabet[next_random(&seed) % (sizeof alphabet - 1)]
                                : (char)next_random(&seed);
        }
        s = rp__theme_parse(text, len, "fuzz", "fuzz", &t, &why);
        if (s == RP_OK) {
            ok++;
            CU_ASSERT_PTR_NULL(why);
            CU_ASSERT(valid_theme(&t));
        } else {
            bad++;
            CU_ASSERT_EQUAL(s, RP_ERR_INVALID);
            CU_ASSERT(why != NULL && strncmp(why, "fuzz:", 5) == 0);
        }
        free(why);
        free(text);
    }
    /* Both kinds of outcome were reached. */
    CU_ASSERT(ok > 0);
    CU_ASSERT(bad > 0);
}

/* ---- finding themes ---- */

static void
user_theme_wins_over_the_built_in(void)
{
    struct saved_env env = save_env();
    char dir[512], themes[1024], *why = NULL;
    struct rp_theme t;

    private_config(dir, sizeof dir, themes, sizeof themes);
    user_theme(themes, "dark.theme", "# mine\nnormal = red\n");
    CU_ASSERT_EQUAL(rp__theme_load("dark", &t, &why), RP_OK);
    CU_ASSERT_PTR_NULL(why);
    CU_ASSERT_STRING_EQUAL(t.name, "dark");
    CU_ASSERT_EQUAL(t.slot[RP_THEME_NORMAL].fg, 1);
    /* Everything else is the default theme, not the built-in dark. */
    CU_ASSERT_EQUAL(t.slot[RP_THEME_DIM].fg, RP_THEME_DEFAULT_COLOR);
    /* A user-only theme loads, under its `name =` if it has one. */
    user_theme(themes, "mine.theme", "name = My-Theme\nstate.running = 220 bold\n");
    CU_ASSERT_EQUAL(rp__theme_load("mine", &t, &why), RP_OK);
    CU_ASSERT_STRING_EQUAL(t.name, "My-Theme");
    CU_ASSERT_EQUAL(t.slot[RP_THEME_RUNNING].fg, 220);
    free(why);
    restore_env(env);
    rp_test_remove_tree(dir);
}

static void
home_config_is_used_without_xdg(void)
{
    struct saved_env env = save_env();
    char dir[512], path[1024], *why = NULL;
    struct rp_theme t;

    rp_test_tmpdir(dir, sizeof dir, "theme-home");
    snprintf(path, sizeof path, "%s/.config", dir);
    CU_ASSERT_EQUAL_FATAL(mkdir(path, 0700), 0);
    snprintf(path, sizeof path, "%s/.config/repartir", dir);
    CU_ASSERT_EQUAL_FATAL(mkdir(path, 0700), 0);
    snprintf(path, sizeof path, "%s/.config/repartir/themes", dir);
    CU_ASSERT_EQUAL_FATAL(mkdir(path, 0700), 0);
    user_theme(path, "homey.theme", "normal = green\n");
    unsetenv("XDG_CONFIG_HOME");
    setenv("HOME", dir, 1);
    CU_ASSERT_EQUAL(rp__theme_load("homey", &t, &why), RP_OK);
    CU_ASSERT_EQUAL(t.slot[RP_THEME_NORMAL].fg, 2);
    free(why);
    why = NULL;
    /* A relative XDG_CONFIG_HOME is ignored (the XDG spec says so). */
    setenv("XDG_CONFIG_HOME", "relative/dir", 1);
    CU_ASSERT_EQUAL(rp__theme_load("homey", &t, &why), RP_OK);
    free(why);
    why = NULL;
    /* Neither: the built-ins still load. */
    unsetenv("XDG_CONFIG_HOME");
    unsetenv("HOME");
    CU_ASSERT_EQUAL(rp__theme_load("mono", &t, &why), RP_OK);
    CU_ASSERT_EQUAL(rp__theme_load("homey", &t, &why), RP_ERR_NOT_FOUND);
    CU_ASSERT_PTR_NOT_NULL(why);
    free(why);
    restore_env(env);
    rp_test_remove_tree(dir);
}

static void
broken_user_theme_is_invalid_with_the_path_and_line(void)
{
    struct saved_env env = save_env();
    char dir[512], themes[1024], *why = NULL, *big;
    struct rp_theme t, before;
    size_t big_len = 70 * 1024;

    private_config(dir, sizeof dir, themes, sizeof themes);
    user_theme(themes, "broken.theme", "normal = red\nselected = chartreuse\n");
    memset(&t, 0x3c, sizeof t);
    before = t;
    CU_ASSERT_EQUAL(rp__theme_load("broken", &t, &why), RP_ERR_INVALID);
    CU_ASSERT_PTR_NOT_NULL_FATAL(why);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, themes));
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "broken.theme:2: "));
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "chartreuse"));
    CU_ASSERT_EQUAL(memcmp(&t, &before, sizeof t), 0);
    free(why);
    why = NULL;
    /* A broken user file does not fall back to the built-in it shadows. */
    user_theme(themes, "light.theme", "light = yes\n");
    CU_ASSERT_EQUAL(rp__theme_load("light", &t, &why), RP_ERR_INVALID);
    free(why);
    why = NULL;
    /* Too big on disk: refused, not read whole. */
    big = malloc(big_len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(big);
    memset(big, '\n', big_len);
    {
        char path[1200];

        snprintf(path, sizeof path, "%s/big.theme", themes);
        write_file(path, big, big_len);
    }
    free(big);
    CU_ASSERT_EQUAL(rp__theme_load("big", &t, &why), RP_ERR_INVALID);
    CU_ASSERT(why != NULL && strstr(why, "64 KiB") != NULL);
    free(why);
    restore_env(env);
    rp_test_remove_tree(dir);
}

static void
unreadable_user_theme_is_an_io_error(void)
{
    struct saved_env env = save_env();
    char dir[512], themes[1024], path[1200], *why = NULL;
    struct rp_theme t;

    private_config(dir, sizeof dir, themes, sizeof themes);
    snprintf(path, sizeof path, "%s/dir.theme", themes);
    CU_ASSERT_EQUAL_FATAL(mkdir(path, 0700), 0);
    CU_ASSERT_EQUAL(rp__theme_load("dir", &t, &why), RP_ERR_IO);
    CU_ASSERT(why != NULL && strstr(why, "dir.theme") != NULL);
    free(why);
    restore_env(env);
    rp_test_remove_tree(dir);
}

static void
unknown_and_bad_names(void)
{
    static const char long63[] =
        "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn";
    static const char *const bad[] = {
        "", ".", "..", "../dark", "a/b", "/etc/passwd", ".hidden", "dark/",
        "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn",  /* 64 */
        "tab\there",
    };
    struct saved_env env = save_env();
    char dir[512], themes[1024], *why = NULL;
    struct rp_theme t;

    private_config(dir, sizeof dir, themes, sizeof themes);
    CU_ASSERT_EQUAL(rp__theme_load("no-such-theme", &t, &why), RP_ERR_NOT_FOUND);
    CU_ASSERT(why != NULL && strstr(why, "no-such-theme") != NULL);
    free(why);
    why = NULL;
    /* 63 bytes is a valid name, just not a theme. */
    CU_ASSERT_EQUAL_FATAL(strlen(long63), 63);
    CU_ASSERT_EQUAL(rp__theme_load(long63, &t, &why), RP_ERR_NOT_FOUND);
    free(why);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        why = NULL;
        CU_ASSERT_EQUAL(rp__theme_load(bad[i], &t, &why), RP_ERR_INVALID);
        CU_ASSERT_PTR_NOT_NULL(why);
        free(why);
    }
    why = NULL;
    CU_ASSERT_EQUAL(rp__theme_load(NULL, &t, &why), RP_ERR_INVALID);
    CU_ASSERT_PTR_NOT_NULL(why);
    free(why);
    restore_env(env);
    rp_test_remove_tree(dir);
}

static bool
has_name(char **names, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return true;
    return false;
}

static void
names_are_sorted_unique_and_include_user_themes(void)
{
    struct saved_env env = save_env();
    char dir[512], themes[1024], path[1200], **names;
    size_t n;

    private_config(dir, sizeof dir, themes, sizeof themes);
    rp__theme_names(&names, &n);
    CU_ASSERT_EQUAL(n, N_SHIPPED);
    rp__theme_names_free(names, n);

    user_theme(themes, "mine.theme", "normal = red\n");
    user_theme(themes, "dark.theme", "normal = red\n");   /* shadows a built-in */
    user_theme(themes, ".hidden.theme", "");
    user_theme(themes, ".theme", "");
    user_theme(themes, "notes.txt", "");
    user_theme(themes, "aaa.theme.bak", "");
    snprintf(path, sizeof path, "%s/folder.theme", themes);
    CU_ASSERT_EQUAL_FATAL(mkdir(path, 0700), 0);
    rp__theme_names(&names, &n);
    CU_ASSERT_EQUAL(n, N_SHIPPED + 1);
    for (size_t i = 0; i < N_SHIPPED; i++)
        CU_ASSERT(has_name(names, n, shipped[i]));
    CU_ASSERT(has_name(names, n, "mine"));
    CU_ASSERT(!has_name(names, n, "folder"));
    CU_ASSERT(!has_name(names, n, ".hidden"));
    for (size_t i = 1; i < n; i++)
        CU_ASSERT(strcmp(names[i - 1], names[i]) < 0);
    rp__theme_names_free(names, n);
    rp__theme_names_free(NULL, 0);

    /* No user directory at all: the built-ins. */
    setenv("XDG_CONFIG_HOME", "/nonexistent/rp-test", 1);
    rp__theme_names(&names, &n);
    CU_ASSERT_EQUAL(n, N_SHIPPED);
    rp__theme_names_free(names, n);
    restore_env(env);
    rp_test_remove_tree(dir);
}

static void
next_walks_the_names_and_wraps(void)
{
    struct saved_env env = save_env();
    char dir[512], themes[1024], **names, *next;
    size_t n;

    private_config(dir, sizeof dir, themes, sizeof themes);
    user_theme(themes, "zzz.theme", "normal = red\n");
    rp__theme_names(&names, &n);
    CU_ASSERT_FATAL(n == N_SHIPPED + 1);
    CU_ASSERT_STRING_EQUAL(names[n - 1], "zzz");
    for (size_t i = 0; i < n; i++) {
        next = rp__theme_next(names[i]);
        CU_ASSERT_STRING_EQUAL(next, names[(i + 1) % n]);
        free(next);
    }
    next = rp__theme_next("zzz");
    CU_ASSERT_STRING_EQUAL(next, names[0]);
    free(next);
    next = rp__theme_next("not-a-theme");
    CU_ASSERT_STRING_EQUAL(next, names[0]);
    free(next);
    next = rp__theme_next(NULL);
    CU_ASSERT_STRING_EQUAL(next, names[0]);
    free(next);
    rp__theme_names_free(names, n);
    restore_env(env);
    rp_test_remove_tree(dir);
}

/* ---- curses ---- */

/* In a child: rp__theme_apply on xterm-256color and on xterm (8 colours),
 * both writing to /dev/null. Returns 0, CHILD_SKIP, or the number of the
 * check that failed. */
static int
apply_checks(void)
{
    static const char text[] =
        "state.running = 220 bold\n"
        "lost = bright-red on 124\n"
        "bar = #268bd2 on bright-blue\n";
    struct rp_theme def, t;
    struct rp_theme_attrs a;
    FILE *out = fopen("/dev/null", "w"), *in = fopen("/dev/null", "r");
    SCREEN *scr;
    short fg, bg;
    int f;

    if (out == NULL || in == NULL)
        return CHILD_SKIP;
    rp__theme_default(&def);
    if (rp__theme_parse(text, sizeof text - 1, "t", "t", &t, NULL) != RP_OK)
        return 1;

    if ((scr = newterm("xterm-256color", out, in)) == NULL)
        return CHILD_SKIP;
    if (start_color() == ERR || use_default_colors() == ERR || COLORS < 256)
        return CHILD_SKIP;
    rp__theme_apply(&def, true, &a);
    f = (int)RP_THEME_FAILED;
    if (PAIR_NUMBER((attr_t)a.attr[f]) != f + 1 || !((attr_t)a.attr[f] & A_BOLD))
        return 2;
    if (pair_content((short)(f + 1), &fg, &bg) == ERR || fg != COLOR_RED || bg != -1)
        return 3;
    if (!((attr_t)a.attr[RP_THEME_SELECTED] & A_REVERSE))
        return 4;
    rp__theme_apply(&t, true, &a);
    if (pair_content(RP_THEME_RUNNING + 1, &fg, &bg) == ERR || fg != 220 || bg != -1)
        return 5;
    if (pair_content(RP_THEME_LOST + 1, &fg, &bg) == ERR || fg != 9 || bg != 124)
        return 6;
    /* Without colour: attributes only, and mono stays readable. */
    rp__theme_apply(&t, false, &a);
    for (int i = 0; i < RP_THEME_SLOT_COUNT; i++)
        if (PAIR_NUMBER((attr_t)a.attr[i]) != 0)
            return 7;
    if (!((attr_t)a.attr[RP_THEME_SELECTED] & A_REVERSE) ||
        !((attr_t)a.attr[RP_THEME_FAILED] & A_BOLD) || !((attr_t)a.attr[RP_THEME_ERROR] & A_BOLD) ||
        !((attr_t)a.attr[RP_THEME_DIM] & A_DIM) || !((attr_t)a.attr[RP_THEME_RUNNING] & A_BOLD))
        return 8;
    endwin();
    delscreen(scr);

    if ((scr = newterm("xterm", out, in)) == NULL)
        return CHILD_SKIP;
    if (start_color() == ERR || use_default_colors() == ERR || COLORS != 8)
        return CHILD_SKIP;
    rp__theme_apply(&t, true, &a);
    /* 220 (255,215,0) is nearest yellow. */
    if (pair_content(RP_THEME_RUNNING + 1, &fg, &bg) == ERR || fg != COLOR_YELLOW || bg != -1)
        return 9;
    /* bright-red is red plus bold; 124 (175,0,0) is nearest red. */
    if (pair_content(RP_THEME_LOST + 1, &fg, &bg) == ERR || fg != COLOR_RED || bg != COLOR_RED ||
        !((attr_t)a.attr[RP_THEME_LOST] & A_BOLD))
        return 10;
    /* #268bd2 (32: 0,135,215) is nearest cyan; a bright background just
     * loses its brightness, and bold is for foregrounds only. */
    if (pair_content(RP_THEME_BAR + 1, &fg, &bg) == ERR || fg != COLOR_CYAN || bg != COLOR_BLUE ||
        ((attr_t)a.attr[RP_THEME_BAR] & A_BOLD))
        return 11;
    endwin();
    delscreen(scr);
    fclose(out);
    fclose(in);
    return 0;
}

static void
apply_makes_pairs_and_maps_colours_down(void)
{
    int status = 0;
    pid_t pid;

    fflush(NULL);
    pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0)
        _exit(apply_checks());
    CU_ASSERT_EQUAL_FATAL(waitpid(pid, &status, 0), pid);
    CU_ASSERT_FATAL(WIFEXITED(status));
    if (WEXITSTATUS(status) == CHILD_SKIP) {
        fprintf(stderr, "\n  (skipped: no xterm terminfo)\n");
        return;
    }
    if (WEXITSTATUS(status) != 0)
        fprintf(stderr, "\n  rp__theme_apply check %d failed\n", WEXITSTATUS(status));
    CU_ASSERT_EQUAL(WEXITSTATUS(status), 0);
}

static const rp_test_case cases[] = {
    { "every_slot_has_a_unique_key", every_slot_has_a_unique_key },
    { "default_theme_uses_the_terminal_colours_for_text",
      default_theme_uses_the_terminal_colours_for_text },
    { "every_shipped_theme_loads_by_name", every_shipped_theme_loads_by_name },
    { "default_file_equals_the_built_in_default", default_file_equals_the_built_in_default },
    { "shipped_files_comment_and_list_every_slot", shipped_files_comment_and_list_every_slot },
    { "mono_has_no_colours_and_keeps_slots_apart", mono_has_no_colours_and_keeps_slots_apart },
    { "light_and_dark_text_is_readable", light_and_dark_text_is_readable },
    { "colour_names_and_bright_names", colour_names_and_bright_names },
    { "colour_numbers", colour_numbers },
    { "hex_colours_take_the_nearest_xterm_colour", hex_colours_take_the_nearest_xterm_colour },
    { "attributes_and_backgrounds", attributes_and_backgrounds },
    { "comments_blanks_whitespace_and_crlf", comments_blanks_whitespace_and_crlf },
    { "empty_text_is_the_default_under_the_default_name",
      empty_text_is_the_default_under_the_default_name },
    { "name_line_sets_the_name", name_line_sets_the_name },
    { "a_key_given_twice_takes_the_last", a_key_given_twice_takes_the_last },
    { "each_error_names_the_line_and_leaves_out_alone",
      each_error_names_the_line_and_leaves_out_alone },
    { "nul_bytes_are_refused", nul_bytes_are_refused },
    { "lines_over_1024_bytes_are_refused", lines_over_1024_bytes_are_refused },
    { "files_over_64_kib_are_refused", files_over_64_kib_are_refused },
    { "bad_arguments_are_invalid_not_a_crash", bad_arguments_are_invalid_not_a_crash },
    { "random_input_never_breaks_the_parser", random_input_never_breaks_the_parser },
    { "user_theme_wins_over_the_built_in", user_theme_wins_over_the_built_in },
    { "home_config_is_used_without_xdg", home_config_is_used_without_xdg },
    { "broken_user_theme_is_invalid_with_the_path_and_line",
      broken_user_theme_is_invalid_with_the_path_and_line },
    { "unreadable_user_theme_is_an_io_error", unreadable_user_theme_is_an_io_error },
    { "unknown_and_bad_names", unknown_and_bad_names },
    { "names_are_sorted_unique_and_include_user_themes",
      names_are_sorted_unique_and_include_user_themes },
    { "next_walks_the_names_and_wraps", next_walks_the_names_and_wraps },
    { "apply_makes_pairs_and_maps_colours_down", apply_makes_pairs_and_maps_colours_down },
    { NULL, NULL },
};

const rp_test_suite rp_test_suite_theme = { .name = "theme", .cases = cases };
