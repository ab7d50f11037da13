/* diag.c — the user-error channel: `file:line:col: error: message`, then the line quoted.
 *
 * A Diag owns a table of file names so that a Loc is three integers and can be copied into
 * every IR node. Errors are counted; after max_errors the rest are counted but not printed,
 * so one broken layer repeated 48 times does not bury the first message.
 *
 * The source line is read from the file only when a message is printed (a Loc keeps no
 * text): the file is opened by the name the user gave and read up to that line. What is
 * quoted is made safe for a terminal: tabs expand to 8-column stops, control bytes and
 * broken UTF-8 become ' ' and '?', and a line too long to read comfortably is cut to a
 * window around the column, marked by "...". Columns count bytes, as Loc does; a UTF-8
 * character takes one screen column. Colours are gcc's: bold location, red error, magenta
 * warning, cyan note, green caret. */
#include "support.h"
#include "diag.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void diag_init(Diag *d)
{
    memset(d, 0, sizeof *d);
    d->out = stderr;
    d->max_errors = 20;
    const char *none = "";
    VEC_PUSH(d->files, d->n_files, d->cap_files, none);
}

void diag_free(Diag *d)
{
    for (uint32_t i = 1; i < d->n_files; i++) free((char *)d->files[i]);
    free(d->files);
    d->files = NULL;
    d->n_files = d->cap_files = 0;
}

uint32_t diag_file(Diag *d, const char *name)
{
    for (uint32_t i = 1; i < d->n_files; i++)
        if (strcmp(d->files[i], name) == 0) return i;
    size_t n = strlen(name);
    char *copy = xmalloc(n + 1);
    memcpy(copy, name, n + 1);
    const char *c = copy;
    VEC_PUSH(d->files, d->n_files, d->cap_files, c);
    return d->n_files - 1;
}

Loc loc_make(uint32_t file, uint32_t line, uint32_t col)
{
    Loc l = { file, line, col };
    return l;
}

/* ---- colour ---------------------------------------------------------------------------- */

static DiagColor color_mode = DIAG_COLOR_AUTO;

int diag_color_from_name(const char *name)
{
    if (strcmp(name, "auto") == 0) return DIAG_COLOR_AUTO;
    if (strcmp(name, "always") == 0) return DIAG_COLOR_ALWAYS;
    if (strcmp(name, "never") == 0) return DIAG_COLOR_NEVER;
    return -1;
}

void diag_set_color(DiagColor mode)
{
    color_mode = mode;
}

/* auto: a terminal that is not dumb, and no NO_COLOR (no-color.org: set and not empty). */
static int use_color(const Diag *d)
{
    if (color_mode != DIAG_COLOR_AUTO) return color_mode == DIAG_COLOR_ALWAYS;
    const char *no = getenv("NO_COLOR"), *term = getenv("TERM");
    if (no && *no) return 0;
    if (term && strcmp(term, "dumb") == 0) return 0;
    int fd = fileno(d->out);
    return fd >= 0 && isatty(fd);
}

#define SGR_BOLD "\033[01m"
#define SGR_RED "\033[01;31m"
#define SGR_MAGENTA "\033[01;35m"
#define SGR_CYAN "\033[01;36m"
#define SGR_GREEN "\033[01;32m"
#define SGR_RESET "\033[m"

/* ---- quoting the source line ------------------------------------------------------------- */

enum {
    QUOTE_KEEP = 4096,      /* bytes of the line kept around the column while reading */
    QUOTE_WHOLE = 200,      /* a line up to this many bytes is quoted whole */
    QUOTE_CONTEXT = 80,     /* otherwise this many bytes each side of the column */
    QUOTE_OUT = 2048,       /* the quoted text after tab expansion (at most 200 * 8 + 6) */
};

/* One line as read: bytes [from, from + n) of it, of `total` bytes in all. */
typedef struct LineText {
    char bytes[QUOTE_KEEP];
    size_t from, n, total;
} LineText;

/* Reads line `line` of path, keeping the bytes around byte column col (1-based, 0 =
 * none). 0 on success; -1 if the file cannot be opened or has no such line. Only a regular
 * file is read again: a pipe or a terminal gave its bytes once. */
static int read_line(const char *path, uint32_t line, uint32_t col, LineText *lt)
{
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) return -1;
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    int c = 0;
    for (uint32_t at = 1; at < line && c != EOF;)
        if ((c = getc(f)) == '\n') at++;
    lt->from = col > QUOTE_KEEP / 2 ? col - 1 - QUOTE_KEEP / 2 : 0;
    lt->n = lt->total = 0;
    int any = 0;
    while (c != EOF && (c = getc(f)) != EOF && c != '\n') {
        any = 1;
        if (lt->total >= lt->from && lt->n < QUOTE_KEEP) lt->bytes[lt->n++] = (char)c;
        lt->total++;
    }
    int failed = ferror(f);
    fclose(f);
    if (failed || (c == EOF && !any)) return -1;     /* past the end of the file */
    if (lt->n && lt->bytes[lt->n - 1] == '\r' && lt->from + lt->n == lt->total) lt->n--, lt->total--;
    return 0;
}

/* Length of the UTF-8 sequence at s (at most n bytes), or 0 if it is not valid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    size_t k = s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 && s[0] < 0xe0 ? 2 : 0;
    if (k == 0 || k > n) return 0;
    for (size_t i = 1; i < k; i++)
        if ((s[i] & 0xc0) != 0x80) return 0;
    return k;
}

/* The text to show for bytes [lo, hi) of lt and the screen column of byte `caret`
 * (1-based, on the same scale as the line). cut_left/right add "...". */
static size_t render(const LineText *lt, size_t lo, size_t hi, size_t caret, int cut_left, int cut_right, char *out,
                     size_t *caret_col)
{
    const unsigned char *b = (const unsigned char *)lt->bytes;
    size_t n = 0, width = 0;
    *caret_col = 0;
    if (cut_left) memcpy(out, "...", 3), n = width = 3;
    size_t i = lo;
    if (cut_left)
        while (i < hi && (b[i - lt->from] & 0xc0) == 0x80) i++;     /* not mid-character */
    while (i < hi && n + 8 < QUOTE_OUT - 4) {
        if (!*caret_col && caret && i + 1 >= caret) *caret_col = width + 1;
        unsigned char ch = b[i - lt->from];
        if (ch == '\t') {
            do out[n++] = ' ';
            while (++width % 8);
            i++;
        } else if (ch < 0x80) {
            out[n++] = ch < 0x20 || ch == 0x7f ? ' ' : (char)ch;
            width++;
            i++;
        } else {
            size_t k = utf8_len(b + (i - lt->from), hi - i);
            if (k == 0 && cut_right && hi - i < 4) break;   /* a character cut by the window */
            if (k == 0) out[n++] = '?', k = 1;
            else memcpy(out + n, b + (i - lt->from), k), n += k;
            width++;
            i += k;
        }
    }
    if (!*caret_col && caret) *caret_col = width + 1;    /* at or past the end of the line */
    if (cut_right) memcpy(out + n, "...", 3), n += 3;
    out[n] = 0;
    return n;
}

/* Under the first line of a message: the source line, and a caret under the column. */
static void print_quote(Diag *d, Loc at, int color)
{
    if (!at.file || at.file >= d->n_files || !at.line) return;
    LineText line;
    LineText *lt = &line;
    if (read_line(d->files[at.file], at.line, at.col, lt)) return;
    size_t end = lt->from + lt->n, lo = lt->from, hi = end;
    int whole = lt->from == 0 && lt->total <= QUOTE_WHOLE;
    if (!whole) {
        size_t c = at.col ? at.col - 1 : 0;
        lo = c > QUOTE_CONTEXT ? c - QUOTE_CONTEXT : 0;
        if (lo < lt->from) lo = lt->from;
        hi = c + QUOTE_CONTEXT < end ? c + QUOTE_CONTEXT : end;
        if (hi < lo) hi = lo;
    }
    char text[QUOTE_OUT];
    size_t caret_col;
    render(lt, lo, hi, at.col, lo > 0, hi < lt->total, text, &caret_col);
    char margin[16];
    int w = snprintf(margin, sizeof margin, "%u", at.line);
    fprintf(d->out, " %*s | %s\n", w < 4 ? 4 : w, margin, text);
    if (!caret_col) return;
    fprintf(d->out, " %*s | %*s%s^%s\n", w < 4 ? 4 : w, "", (int)(caret_col - 1), "", color ? SGR_GREEN : "",
            color ? SGR_RESET : "");
}

/* ---- messages ---------------------------------------------------------------------------- */

static void print_loc(Diag *d, Loc at, int color)
{
    if (color) fputs(SGR_BOLD, d->out);
    if (at.file && at.file < d->n_files) {
        fputs(d->files[at.file], d->out);
        if (at.line) {
            fprintf(d->out, ":%u", at.line);
            if (at.col) fprintf(d->out, ":%u", at.col);
        }
        fputc(':', d->out);
    } else {
        fputs("kiln:", d->out);
    }
    if (color) fputs(SGR_RESET, d->out);
    fputc(' ', d->out);
}

static int error_limit(const Diag *d)
{
    return d->max_errors ? d->max_errors : 20;
}

int diag_too_many(const Diag *d)
{
    return d->n_errors > error_limit(d);
}

static void report(Diag *d, Loc at, const char *kind, const char *fmt, va_list ap)
{
    int limit = error_limit(d);
    if (d->quiet || d->n_errors > limit) return;
    if (d->n_errors == limit && kind[0] == 'e') {
        fprintf(d->out, "kiln: too many errors, stopping here\n");
        return;
    }
    int color = use_color(d);
    const char *sgr = kind[0] == 'e' ? SGR_RED : kind[0] == 'w' ? SGR_MAGENTA : SGR_CYAN;
    print_loc(d, at, color);
    fprintf(d->out, "%s%s:%s ", color ? sgr : "", kind, color ? SGR_RESET : "");
    vfprintf(d->out, fmt, ap);
    fputc('\n', d->out);
    print_quote(d, at, color);
}

void diag_verror(Diag *d, Loc at, const char *fmt, va_list ap)
{
    report(d, at, "error", fmt, ap);
    d->n_errors++;
}

void diag_error(Diag *d, Loc at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_verror(d, at, fmt, ap);
    va_end(ap);
}

void diag_warning(Diag *d, Loc at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report(d, at, "warning", fmt, ap);
    va_end(ap);
    d->n_warnings++;
}

void diag_note(Diag *d, Loc at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report(d, at, "note", fmt, ap);
    va_end(ap);
}

void diag_file_error(Diag *d, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_verror(d, loc_make(diag_file(d, path), 0, 0), fmt, ap);
    va_end(ap);
}

/* ---- suggestions ------------------------------------------------------------------------- */

Suggest suggest_start(const char *name)
{
    Suggest s = { name, NULL, 0 };
    return s;
}

/* As gcc's spellcheck does: lengths within half of the longer, distance within a third. */
void suggest_try(Suggest *s, const char *candidate)
{
    size_t a = strlen(s->name), b = strlen(candidate);
    size_t longer = a > b ? a : b, shorter = a > b ? b : a;
    if (longer - shorter > longer / 2 || strcmp(s->name, candidate) == 0) return;
    int dist = text_distance(s->name, candidate);
    if (dist > (int)(longer + 2) / 3) return;
    if (!s->best || dist < s->dist) s->best = candidate, s->dist = dist;
}
