/* test_diag_unit.c — support/diag.c on its own: the exact text of a message with its quoted
 * line and caret, for error, warning and note, with and without colour; what the quote does
 * with tabs, UTF-8, control bytes, CRLF and long lines; when there is no quote; the error
 * cap; and the "did you mean" rule. Messages go to a memory stream, from a scratch file. */
#include "support/diag.h"
#include "tests/check.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char path[4096];

/* The lines of the scratch file (1-based in messages). Line 4 is 300 bytes long, with '#'
 * at byte column 150. */
static void write_source(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(path, sizeof path, "%s/kiln-diag-%d.xml", tmp && *tmp ? tmp : "/tmp", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        exit(1);
    }
    fputs("<model name=\"t\">\n", f);                       /* 1 */
    fputs("\t<op kind=\"x\"/>\n", f);                       /* 2: a tab */
    fputs("  caf\xc3\xa9 <op/>\n", f);                      /* 3: é is 2 bytes, 1 column */
    for (int i = 0; i < 300; i++) fputc(i == 149 ? '#' : 'a' + i % 26, f);   /* 4 */
    fputc('\n', f);
    fputs("dos line\r\n", f);                               /* 5 */
    fputs("bad \xff byte, \x01 control\n", f);              /* 6 */
    fputs("\n", f);                                         /* 7: empty */
    fputs("last", f);                                       /* 8: no newline at the end */
    fclose(f);
}

typedef struct Out {
    Diag d;
    char *text;
    size_t len;
    uint32_t file;
} Out;

static void open_out(Out *o)
{
    diag_init(&o->d);
    o->text = NULL;
    o->d.out = open_memstream(&o->text, &o->len);
    o->file = diag_file(&o->d, path);
}

/* Closes the stream and returns what was printed (the caller frees it). */
static char *close_out(Out *o)
{
    fclose(o->d.out);
    diag_free(&o->d);
    return o->text;
}

/* expect: the whole output of one message at (line, col), with "%s" for the file name. */
#define EXPECT(what, got, fmt)                                                                \
    do {                                                                                      \
        char want_[8192];                                                                     \
        snprintf(want_, sizeof want_, fmt, path);                                             \
        CHECK(strcmp(got, want_) == 0, "%s:\n--- want\n%s--- got\n%s---", what, want_, got); \
    } while (0)

static char *one(const char *kind, uint32_t line, uint32_t col)
{
    Out o;
    open_out(&o);
    Loc at = loc_make(o.file, line, col);
    if (kind[0] == 'e') diag_error(&o.d, at, "bad %s", "thing");
    else if (kind[0] == 'w') diag_warning(&o.d, at, "odd %s", "thing");
    else diag_note(&o.d, at, "see %s", "here");
    return close_out(&o);
}

static void test_plain(void)
{
    diag_set_color(DIAG_COLOR_NEVER);
    char *s = one("error", 1, 2);
    EXPECT("error", s, "%s:1:2: error: bad thing\n    1 | <model name=\"t\">\n      |  ^\n");
    free(s);
    s = one("warning", 2, 2);
    EXPECT("warning, tab expanded", s, "%s:2:2: warning: odd thing\n    2 |         <op kind=\"x\"/>\n      |         ^\n");
    free(s);
    s = one("note", 3, 9);
    EXPECT("note, UTF-8 takes one column", s, "%s:3:9: note: see here\n    3 |   caf\xc3\xa9 <op/>\n      |        ^\n");
    free(s);
    s = one("error", 5, 5);
    EXPECT("CRLF", s, "%s:5:5: error: bad thing\n    5 | dos line\n      |     ^\n");
    free(s);
    s = one("error", 6, 1);
    EXPECT("bad bytes", s, "%s:6:1: error: bad thing\n    6 | bad ? byte,   control\n      | ^\n");
    free(s);
    s = one("error", 8, 5);
    EXPECT("last line, caret just past its end", s, "%s:8:5: error: bad thing\n    8 | last\n      |     ^\n");
    free(s);
    s = one("error", 7, 0);
    EXPECT("empty line, no column: quote without caret", s, "%s:7: error: bad thing\n    7 | \n");
    free(s);
    s = one("error", 3, 0);
    EXPECT("no column", s, "%s:3: error: bad thing\n    3 |   caf\xc3\xa9 <op/>\n");
    free(s);
    s = one("error", 9, 1);
    EXPECT("past the end of the file: no quote", s, "%s:9:1: error: bad thing\n");
    free(s);
    s = one("error", 0, 0);
    EXPECT("no line: no quote", s, "%s: error: bad thing\n");
    free(s);
}

static void test_long_line(void)
{
    diag_set_color(DIAG_COLOR_NEVER);
    char *s = one("error", 4, 150);
    char *quote = strchr(s, '\n') + 1, *caret = strchr(quote, '\n') + 1;
    CHECK(strncmp(quote, "    4 | ...", 11) == 0, "a cut line starts with ...: %s", quote);
    CHECK(strstr(quote, "...\n") == caret - 4, "and ends with ...: %s", quote);
    CHECK(caret - quote < 200, "the quote is a window, not 300 columns (%d)", (int)(caret - quote));
    size_t at = strcspn(caret, "^");
    CHECK(caret[at] == '^' && quote[at] == '#', "the caret is under byte column 150:\n%s", quote);
    free(s);
}

static void test_color(void)
{
    diag_set_color(DIAG_COLOR_ALWAYS);
    char *s = one("error", 1, 2);
    EXPECT("error in colour", s,
           "\033[01m%s:1:2:\033[m \033[01;31merror:\033[m bad thing\n    1 | <model name=\"t\">\n      |  \033[01;32m^\033[m\n");
    free(s);
    s = one("warning", 0, 0);
    EXPECT("warning in colour", s, "\033[01m%s:\033[m \033[01;35mwarning:\033[m odd thing\n");
    free(s);
    s = one("note", 0, 0);
    EXPECT("note in colour", s, "\033[01m%s:\033[m \033[01;36mnote:\033[m see here\n");
    free(s);
    diag_set_color(DIAG_COLOR_AUTO);
    s = one("error", 1, 2);
    CHECK(!strchr(s, '\033'), "auto: a memory stream is no terminal: %s", s);
    free(s);
    diag_set_color(DIAG_COLOR_NEVER);
    CHECK(diag_color_from_name("auto") == DIAG_COLOR_AUTO && diag_color_from_name("always") == DIAG_COLOR_ALWAYS &&
          diag_color_from_name("never") == DIAG_COLOR_NEVER && diag_color_from_name("yes") == -1,
          "color names");
}

static void test_cap(void)
{
    Out o;
    open_out(&o);
    o.d.max_errors = 3;
    for (int i = 0; i < 5; i++) {
        CHECK(diag_too_many(&o.d) == (i >= 4), "diag_too_many after %d errors", i);
        diag_error(&o.d, loc_make(0, 0, 0), "error %d", i);
        diag_note(&o.d, loc_make(0, 0, 0), "note %d", i);
    }
    int n = o.d.n_errors;
    char *s = close_out(&o);
    CHECK(n == 5, "every error counted (%d)", n);
    CHECK(strcmp(s, "kiln: error: error 0\nkiln: note: note 0\nkiln: error: error 1\nkiln: note: note 1\n"
                    "kiln: error: error 2\nkiln: note: note 2\nkiln: too many errors, stopping here\n") == 0,
          "three errors with their notes, then the cap:\n%s", s);
    free(s);
}

static void test_suggest(void)
{
    static const char *const attrs[] = { "tb", "eps", "axis", "rot" };
    struct { const char *name, *want; } cases[] = {
        { "tbb", "tb" }, { "epss", "eps" }, { "axsi", "axis" }, { "foo", NULL }, { "x", NULL }, { "tb", NULL },
        { "rotation", NULL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        Suggest s = suggest_start(cases[i].name);
        for (size_t j = 0; j < sizeof attrs / sizeof attrs[0]; j++) suggest_try(&s, attrs[j]);
        int ok = cases[i].want ? s.best && strcmp(s.best, cases[i].want) == 0 : s.best == NULL;
        CHECK(ok, "suggestion for '%s': want %s, got %s", cases[i].name, cases[i].want ? cases[i].want : "none",
              s.best ? s.best : "none");
    }
    Suggest s = suggest_start("n_embed");
    suggest_try(&s, "n_head");
    suggest_try(&s, "n_embd");
    CHECK(s.best && strcmp(s.best, "n_embd") == 0, "the nearest of several: %s", s.best ? s.best : "none");
}

int main(void)
{
    write_source();
    test_plain();
    test_long_line();
    test_color();
    test_cap();
    test_suggest();
    unlink(path);
    printf("%d checks, %d failed\n", check_count, check_failures);
    return check_failures != 0;
}
