/* exe.c — what every produced executable's command line shares, whatever its model's kind:
 * messages, option parsing, the thread pool, the weights, the arena and the token lists.
 * main.c (decoders: generation) and encode.c (encoders: fill-mask, embeddings, ...) are the
 * two front doors; main() picks one from kiln_model.kind. Errors are sentences on stderr:
 * rt_fail (exit 1: the input, a file or the model) and rt_usage (exit 2: the command line). */
#include "runtime/exe.h"
#include "runtime/runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

const char *rt_prog = "model";

/* ---- messages ------------------------------------------------------------------------- */

static void vmessage(const char *fmt, va_list ap)
{
    fprintf(stderr, "%s: error: ", rt_prog);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

/* A problem with the input, a file or the model: returns 1, the exit status. */
int rt_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage(fmt, ap);
    va_end(ap);
    return 1;
}

/* A problem with the command line: returns 2, the exit status. */
int rt_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage(fmt, ap);
    va_end(ap);
    fprintf(stderr, "(see: %s --help)\n", rt_prog);
    return 2;
}

/* ---- the command line ------------------------------------------------------------------ */

/* "-n VALUE", "-nVALUE" (short names), "--name VALUE", "--name=VALUE" (long names): returns
 * the value and advances *i, or NULL when argv[*i] is not this option. *missing is set when
 * it is, without a value. */
const char *rt_opt_value(int argc, char **argv, int *i, const char *name, int *missing)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0) return NULL;
    if (a[n] == 0) {
        if (*i + 1 >= argc) {
            *missing = 1;
            return NULL;
        }
        return argv[++*i];
    }
    if (name[1] == '-' ? a[n] == '=' : 1) return a + n + (name[1] == '-');
    return NULL;
}

int rt_parse_int(const char *opt, const char *v, long long lo, long long hi, long long *out)
{
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (end == v || *end || errno == ERANGE)
        return rt_usage("%s needs a whole number, not '%s'", opt, v);
    if (x < lo || x > hi) return rt_usage("%s %s is out of range (%lld to %lld)", opt, v, lo, hi);
    *out = x;
    return 0;
}

int rt_parse_float(const char *opt, const char *v, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (end == v || *end || errno == ERANGE || x != x)
        return rt_usage("%s needs a number, not '%s'", opt, v);
    if (!(x >= lo && x <= hi)) return rt_usage("%s %s is out of range (%g to %g)", opt, v, lo, hi);
    *out = x;
    return 0;
}

/* ---- threads ------------------------------------------------------------------------------ */

/* The pool's width and how it was chosen. */
RtPoolInfo rt_pool_info;

/* Makes the pool: given threads (-t), or 0 for the measured default. */
int rt_threads_start(long long given)
{
    if (given > 0) {
        int e = rt_pool_start((int)given);
        if (e) return rt_fail("cannot start %lld threads: %s", given, strerror(e));
        rt_pool_info.threads = (int)given;
        rt_pool_info.measured = 0;
    } else {
        rt_pool_info.threads = rt_pool_start_default(&rt_pool_info.tried, &rt_pool_info.speedup);
        rt_pool_info.measured = 1;
    }
    const char *mw = getenv("KILN_PARALLEL_MIN_WORK");
    if (mw && *mw) {
        char *end;
        errno = 0;
        long long v = strtoll(mw, &end, 10);
        if (*end || errno || v < 1)
            return rt_fail("KILN_PARALLEL_MIN_WORK must be a whole number from 1 up, not '%s'", mw);
        rt_pool_set_min_work(v);
    }
    return 0;
}

void rt_threads_describe(FILE *f)
{
    if (!rt_pool_info.measured)
        fprintf(f, "threads: %d (-t)\n", rt_pool_info.threads);
    else if (rt_pool_info.tried < 2)
        fprintf(f, "threads: 1 (default: this process may use one CPU)\n");
    else
        fprintf(f, "threads: %d (default: at start-up a compute probe ran %.2fx as fast on %d threads as on 1, "
                "%s the 1.3x needed)\n", rt_pool_info.threads, rt_pool_info.speedup, rt_pool_info.tried,
                rt_pool_info.threads > 1 ? "over" : "under");
}

/* ---- start-up: model, weights, arena ---------------------------------------------------- */

/* The tensor table t[0..n) is sane: names, dtypes, ranks, dims sizes or dims of the model. */
static int tensors_ok(const KilnTensor *t, int n, int32_t dtype)
{
    if (n < 0 || n > KILN_MAX_IO || (n > 0 && !t)) return 0;
    for (int i = 0; i < n; i++) {
        if (!t[i].name || t[i].rank < 1 || t[i].rank > KILN_MAX_RANK || t[i].dtype != dtype || t[i].limit < 0) return 0;
        for (int k = 0; k < t[i].rank; k++)
            if (t[i].dims[k] == 0 || t[i].dims[k] < -kiln_model.n_dims) return 0;
    }
    return 1;
}

int rt_check_model(void)
{
    const KilnModel *m = &kiln_model;
    if (m->abi_version != KILN_ABI_VERSION)
        return rt_fail("the model was compiled for runtime ABI %u, but this runtime is ABI %u; "
                    "compile it again with this kiln", m->abi_version, KILN_ABI_VERSION);
    int ok = m->run && m->vocab >= 1 && m->vocab <= INT_MAX / 2 && m->max_seq >= 1 && m->max_positions >= 1 &&
             m->max_positions <= INT_MAX / 2 && m->eos_id < m->vocab && !(m->weights && (uintptr_t)m->weights % 64) &&
             (m->kind == KILN_DECODER || m->kind == KILN_ENCODER || m->kind == KILN_SEQ2SEQ) &&
             m->n_dims >= 1 && m->n_dims <= KILN_MAX_DIMS && m->dims && m->n_inputs >= 1 && m->n_outputs >= 1 &&
             tensors_ok(m->inputs, m->n_inputs, KILN_I32) && tensors_ok(m->outputs, m->n_outputs, KILN_F32) &&
             rt_input("tokens") >= 0 && m->n_states >= 0 && (m->n_states == 0 || m->states);
    for (int i = 0; ok && i < m->n_dims; i++) ok = m->dims[i].name && m->dims[i].max >= 1 && m->dims[i].max <= INT_MAX / 2;
    for (int i = 0; ok && i < m->n_states; i++) {
        const KilnState *s = &m->states[i];
        ok = s->offset <= m->arena_bytes && s->bytes <= m->arena_bytes - s->offset &&
             (s->row_bytes == 0 || s->bytes % s->row_bytes == 0);
    }
    if (ok && m->kind != KILN_ENCODER) ok = rt_output("logits") >= 0;
    if (ok && m->kind == KILN_DECODER) ok = m->n_inputs == 1;
    if (ok && m->kind == KILN_SEQ2SEQ)
        ok = m->encode.run && m->encode.n_inputs >= 1 && tensors_ok(m->encode.inputs, m->encode.n_inputs, KILN_I32) &&
             tensors_ok(m->encode.outputs, m->encode.n_outputs, KILN_F32) && rt_dim("src") >= 0;
    if (!ok)
        return rt_fail("the model's description in this executable is inconsistent (vocab %lld, max_seq %lld, "
                    "context %lld); the executable is damaged", (long long)m->vocab, (long long)m->max_seq,
                    (long long)m->max_positions);
    return 0;
}

int rt_dim(const char *name)
{
    for (int i = 0; i < kiln_model.n_dims; i++)
        if (!strcmp(kiln_model.dims[i].name, name)) return i;
    return -1;
}

int64_t rt_dim_max(const char *name)
{
    int i = rt_dim(name);
    return i < 0 ? 1 : kiln_model.dims[i].max;
}

int rt_input(const char *name)
{
    for (int i = 0; i < kiln_model.n_inputs; i++)
        if (kiln_model.inputs[i].name && !strcmp(kiln_model.inputs[i].name, name)) return i;
    return -1;
}

int rt_output(const char *name)
{
    for (int i = 0; i < kiln_model.n_outputs; i++)
        if (kiln_model.outputs[i].name && !strcmp(kiln_model.outputs[i].name, name)) return i;
    return -1;
}

int64_t rt_tensor_numel(const KilnTensor *t, const int64_t *dims)
{
    int64_t n = 1;
    for (int k = 0; k < t->rank; k++) n *= t->dims[k] > 0 ? t->dims[k] : dims[-1 - t->dims[k]];
    return n;
}


static _Alignas(64) const char no_weights[64];

/* The embedded blob, or the side file mapped read-only and checked. */
int rt_weights_open(const char *path_arg, RtWeights *w)
{
    const KilnModel *m = &kiln_model;
    if (m->weights) {
        w->data = m->weights;
        return 0;
    }
    char self[PATH_MAX + 16];
    const char *path = path_arg;
    if (!path) {
        ssize_t n = readlink("/proc/self/exe", self, PATH_MAX);
        if (n <= 0 || n >= PATH_MAX)
            return rt_fail("this executable's weights are in a side file, and its own path is unknown "
                        "(/proc/self/exe: %s); give --weights FILE", n < 0 ? strerror(errno) : "too long");
        memcpy(self + n, ".weights", 9);
        path = self;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return rt_fail("cannot open the weights file '%s': %s (this executable was compiled with its weights in a "
                    "side file; %s)", path, strerror(errno),
                    path_arg ? "check the path" : "put it beside the executable or give --weights FILE");
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return rt_fail("cannot read the weights file '%s': %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return rt_fail("the weights file '%s' is not a regular file", path);
    }
    if ((uint64_t)st.st_size != m->weights_bytes) {
        close(fd);
        return rt_fail("the weights file '%s' has %llu bytes, but this model's weights have %llu: it is %s", path,
                    (unsigned long long)st.st_size, (unsigned long long)m->weights_bytes,
                    (uint64_t)st.st_size < m->weights_bytes ? "truncated or another model's" : "another model's");
    }
    if (m->weights_bytes == 0) {
        close(fd);
        w->data = no_weights;
        return 0;
    }
    void *p = mmap(NULL, (size_t)m->weights_bytes, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (p == MAP_FAILED) return rt_fail("cannot map the weights file '%s': %s", path, strerror(e));
    uint64_t check = rt_weights_check(p, m->weights_bytes);
    if (check != m->weights_check) {
        munmap(p, (size_t)m->weights_bytes);
        return rt_fail("the weights file '%s' does not belong to this executable (check %016llx, expected %016llx): "
                    "use the file compiled with it", path, (unsigned long long)check,
                    (unsigned long long)m->weights_check);
    }
    w->data = p;
    w->map = p;
    w->map_len = (size_t)m->weights_bytes;
    return 0;
}

/* The arena: one anonymous mapping, page aligned (so 64-byte aligned) and zeroed. */
void *rt_arena_alloc(void)
{
    uint64_t n = kiln_model.arena_bytes ? kiln_model.arena_bytes : 64;
    if (n > SIZE_MAX / 2) return NULL;
    void *p = mmap(NULL, (size_t)n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

int rt_parse_ids(const char *opt, const char *s, int64_t limit, const char *what, int32_t **out, int64_t *n)
{
    size_t cap = 1;
    for (const char *p = s; *p; p++) cap += *p == ',';
    int32_t *ids = malloc(cap * sizeof *ids);
    if (!ids) return rt_fail("out of memory for %zu values of %s", cap, opt);
    *out = ids;
    *n = 0;
    const char *p = s;
    while (*p) {
        char *end;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (end == p || errno || v < 0 || (*end && *end != ','))
            return rt_usage("%s needs whole numbers separated by commas: bad value at '%s'", opt, p);
        if (limit > 0 && v >= limit)
            return rt_fail("%s: %lld (position %lld) is out of range: the model has %lld %s", opt, v, (long long)*n,
                           (long long)limit, what);
        if (v > INT32_MAX) return rt_fail("%s: %lld (position %lld) is out of range", opt, v, (long long)*n);
        ids[(*n)++] = (int32_t)v;
        p = *end ? end + 1 : end;
    }
    if (*n == 0) return rt_usage("%s: no values", opt);
    return 0;
}

int rt_parse_tokens(const char *s, int32_t **out, int64_t *n)
{
    return rt_parse_ids("--tokens", s, kiln_model.vocab, "tokens in its vocabulary", out, n);
}

/* Reads all of FILE ('-': standard input) into a NUL-terminated buffer. */
char *rt_read_all(const char *path, const char *what, size_t limit, size_t *len, int *over)
{
    int in = !strcmp(path, "-");
    FILE *f = in ? stdin : fopen(path, "rb");
    if (!f) {
        rt_fail("cannot read the %s file '%s': %s", what, path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0, got;
    char *buf = malloc(cap);
    *over = 0;
    while (buf && (got = fread(buf + n, 1, (cap - n - 1 < limit + 1 - n ? cap - n - 1 : limit + 1 - n), f)) > 0) {
        n += got;
        if (n > limit) {
            *over = 1;
            break;
        }
        if (cap - n < 2) {
            char *b = cap < SIZE_MAX / 2 ? realloc(buf, cap *= 2) : NULL;
            if (!b) free(buf);
            buf = b;
        }
    }
    int bad = !*over && ferror(f), e = errno;
    if (!in) fclose(f);
    if (!buf || bad) {
        free(buf);
        if (!buf) rt_fail("out of memory for the %s (%s)", what, in ? "standard input" : path);
        else if (in) rt_fail("cannot read the %s from standard input: %s", what, strerror(e));
        else rt_fail("cannot read the %s file '%s': %s", what, path, strerror(e));
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

char *rt_read_input(const char *path, const char *what, size_t *len)
{
    int over;
    char *text = rt_read_all(path, what, RT_MAX_READ_BYTES, len, &over);
    if (text && over) {
        free(text);
        rt_fail("the %s (%s) is longer than %zu bytes, the most this executable reads", what,
                strcmp(path, "-") ? path : "standard input", (size_t)RT_MAX_READ_BYTES);
        return NULL;
    }
    return text;
}
int rt_open_tokenizer(RtTokenizer *t, void **copy)
{
    const void *blob = kiln_model.tokenizer;
    *copy = NULL;
    if ((uintptr_t)blob % 4) {
        *copy = malloc((size_t)kiln_model.tokenizer_bytes);
        if (*copy) memcpy(*copy, blob, (size_t)kiln_model.tokenizer_bytes);
        blob = *copy;
    }
    int trc = blob ? rt_tok_open(blob, (size_t)kiln_model.tokenizer_bytes, t) : RT_TOK_ETRUNC;
    if (trc != RT_TOK_OK) {
        free(*copy);
        *copy = NULL;
        return rt_fail("the tokenizer table in this executable is unusable: %s", rt_tok_strerror(trc));
    }
    return 0;
}

void rt_print_version(void)
{
    const KilnModel *m = &kiln_model;
    printf("%s\n", m->name ? m->name : "(unnamed model)");
    printf("  compiled by kiln %s; runtime of kiln %s (ABI %u)\n", m->kiln_version ? m->kiln_version : "?",
           KILN_VERSION, m->abi_version);
    printf("  target %s, cpu %s\n", m->target ? m->target : "?", m->cpu ? m->cpu : "?");
    if (m->weights)
        printf("  weights embedded, %llu bytes\n", (unsigned long long)m->weights_bytes);
    else
        printf("  weights external (<executable>.weights or --weights FILE), %llu bytes\n",
               (unsigned long long)m->weights_bytes);
    if (m->kind == KILN_ENCODER)
        printf("  encoder: vocabulary %lld tokens, at most %lld tokens per input and %lld inputs per call\n",
               (long long)m->vocab, (long long)m->max_seq, (long long)rt_dim_max("batch"));
    else
        printf("  vocabulary %lld tokens, context %lld positions (at most %lld per forward call)\n",
               (long long)m->vocab, (long long)m->max_positions, (long long)m->max_seq);
    printf("  inputs");
    for (int i = 0; i < m->n_inputs; i++) printf("%s %s", i ? "," : "", m->inputs[i].name);
    printf("; outputs");
    for (int i = 0; i < m->n_outputs; i++) printf("%s %s", i ? "," : "", m->outputs[i].name);
    printf("\n");
    printf("  arena %llu bytes; tokenizer %s\n", (unsigned long long)m->arena_bytes,
           m->tokenizer ? "embedded" : "none (use --tokens)");
    if (m->selftest_n > 0) printf("  selftest: %lld tokens and their logits embedded (--selftest)\n", (long long)m->selftest_n);
    else printf("  selftest: none (kiln compile --selftest embeds one)\n");
    if (rt_threads_start(0) == 0) {
        printf("  ");
        rt_threads_describe(stdout);
        rt_pool_stop();
    }
}

void rt_reorder_states(void *arena, const int32_t *parent, int n, void *scratch)
{
    for (int k = 0; k < kiln_model.n_states; k++) {
        const KilnState *st = &kiln_model.states[k];
        if (st->row_bytes == 0) continue;
        uint8_t *base = (uint8_t *)arena + st->offset, *tmp = scratch;
        size_t row = (size_t)st->row_bytes;
        for (int i = 0; i < n; i++)
            if (parent[i] != i) memcpy(tmp + (size_t)i * row, base + (size_t)parent[i] * row, row);
        for (int i = 0; i < n; i++)
            if (parent[i] != i) memcpy(base + (size_t)i * row, tmp + (size_t)i * row, row);
    }
}

size_t rt_reorder_scratch_bytes(int n)
{
    uint64_t widest = 0;
    for (int k = 0; k < kiln_model.n_states; k++)
        if (kiln_model.states[k].row_bytes > widest) widest = kiln_model.states[k].row_bytes;
    return (size_t)widest * (size_t)n + 1;
}

int rt_start(const char *weights_path, int verify, int stats, long long threads, RtWeights *w, void **arena)
{
    const KilnModel *m = &kiln_model;
    *arena = NULL;
    int rc = rt_cpu_check();
    if (rc == 0) rc = rt_weights_open(weights_path, w);
    if (rc == 0 && verify) {
        uint64_t h = rt_weights_hash(w->data, m->weights_bytes);
        if (h != m->weights_hash)
            rc = rt_fail("the weights are damaged: their hash is %016llx, expected %016llx", (unsigned long long)h,
                         (unsigned long long)m->weights_hash);
        else if (stats)
            fprintf(stderr, "weights verified: %llu bytes, hash %016llx\n", (unsigned long long)m->weights_bytes,
                    (unsigned long long)h);
    }
    if (rc == 0 && !(*arena = rt_arena_alloc()))
        rc = rt_fail("cannot allocate the model's memory (%llu bytes): %s", (unsigned long long)m->arena_bytes,
                     strerror(errno));
    if (rc == 0) rc = rt_threads_start(threads);
    return rc;
}

void rt_stop(RtWeights *w, void *arena)
{
    rt_pool_stop();
    if (arena) munmap(arena, (size_t)(kiln_model.arena_bytes ? kiln_model.arena_bytes : 64));
    if (w->map) munmap(w->map, w->map_len);
    w->map = NULL;
}

int rt_common_option(int argc, char **argv, int *i, RtCommon *c, int *status)
{
    const char *a = argv[*i], *v;
    int missing = 0;
    *status = -1;
    if (!strcmp(a, "--version")) {
        rt_print_version();
        *status = 0;
        return 1;
    }
    if ((v = rt_opt_value(argc, argv, i, "--weights", &missing))) c->weights = v;
    else if ((v = rt_opt_value(argc, argv, i, "-t", &missing))) {
        if (rt_parse_int("-t", v, 1, RT_MAX_THREADS, &c->threads)) *status = 2;
    } else if (!strcmp(a, "--stats")) c->stats = 1;
    else if (!strcmp(a, "--verify-weights")) c->verify_weights = 1;
    else if (missing) *status = rt_usage("%s needs a value", a);
    else return 0;
    return 1;
}

int rt_next_line(const char *text, size_t len, size_t *at, const char **line, size_t *n)
{
    if (*at >= len) return 0;
    size_t end = *at;
    while (end < len && text[end] != '\n') end++;
    *line = text + *at;
    *n = (end > *at && text[end - 1] == '\r' ? end - 1 : end) - *at;
    *at = end + 1;
    return 1;
}

int rt_blank_line(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t') return 0;
    return 1;
}

long rt_tokenize_text(const RtTokenizer *tok, const char *text, size_t len, const char *where, int32_t **ids)
{
    size_t cap = rt_tok_prompt_cap(tok, len), err_at = 0;
    *ids = cap < SIZE_MAX / 4 ? malloc(cap * sizeof **ids) : NULL;
    if (!*ids) return rt_fail("out of memory for the tokens of %s", where), -1;
    long n = rt_tok_prompt(tok, text, len, *ids, cap, &err_at);
    if (n == RT_TOK_EUTF8)
        return rt_fail("%s is not valid UTF-8: byte %zu (0x%02x) is not part of a character", where, err_at,
                       (unsigned char)text[err_at < len ? err_at : len - 1]), -1;
    if (n < 0) return rt_fail("%s cannot be tokenized: %s (byte %zu)", where, rt_tok_strerror((int)n), err_at), -1;
    for (long i = 0; i < n; i++)
        if ((*ids)[i] < 0 || (*ids)[i] >= kiln_model.vocab)
            return rt_fail("the tokenizer gave id %d for %s, beyond the model's vocabulary of %lld tokens", (*ids)[i],
                           where, (long long)kiln_model.vocab), -1;
    return n;
}
