/* encode.c — the command line of an encoder's executable (kiln_model.kind KILN_ENCODER):
 * BERT-style models that read a whole input at once and give a vector per token.
 *
 * Every mode is one or more calls of kiln_model.run at past 0 on (batch, seq) arrays of
 * tokens, token types and valid flags (runtime/model.h names the inputs and outputs):
 *   --fill-mask TEXT        [CLS] TEXT [SEP] at batch 1; at each [MASK], the softmax of its
 *                           row of `logits` and the top-k tokens;
 *   --detect-replaced TEXT  the same input; per token, the sigmoid of `replaced`;
 *   --embed                 the lines of a file, in batches of up to `batch` lines padded to
 *                           the longest (valid = 0 past a line's end); per line the mean of
 *                           `hidden` over its tokens, [CLS] and [SEP] included (--pool cls:
 *                           the [CLS] row); without a `valid` input, one line per call;
 *   --tokens a,b,c          the ids as given (batch 1; --token-types, else all 0) and the
 *                           rows of `logits` and/or `hidden` written to files as float32.
 * A [SEP] inside TEXT ends the first segment: the tokens after it have token type 1, as
 * BERT's sentence pairs. Inputs over the model's positions are refused, but for --embed,
 * which keeps a line's first max-1 tokens and [SEP] and says so on stderr.
 * Everything is allocated before the first call; the arrays are (max_batch, max_seq).
 * SIGINT (runtime/signals.c) ends --embed between two calls: the vectors so far are out,
 * whole lines, and the exit status is 130. */
#include "runtime/exe.h"
#include "runtime/profile.h"
#include "runtime/runtime.h"
#include "runtime/selftest.h"
#include "runtime/signals.h"
#include "runtime/unicode_impl.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static const char help[] =
    "usage: %s MODE [options]\n"
    "\n"
    "Runs the encoder compiled into this executable (%s): outputs %s.\n"
    "\n"
    "modes (one of):\n"
    "  --fill-mask TEXT       the tokens the model predicts at each [MASK] in TEXT, most\n"
    "                         likely first, with their probabilities (needs the output logits)\n"
    "  --top-k K              with --fill-mask: how many per [MASK] (default 5)\n"
    "  --detect-replaced TEXT per token of TEXT, the probability that it was replaced\n"
    "                         (ELECTRA's discriminator: needs the output replaced)\n"
    "  --embed                one vector per line of text (standard input, or -f FILE), as\n"
    "                         numbers separated by spaces, one line out per line in; lines go\n"
    "                         through the model in batches of up to %lld, padded (needs the\n"
    "                         output hidden)\n"
    "  -f FILE                with --embed: read the lines from FILE ('-' = standard input)\n"
    "  --pool mean|cls        with --embed: the mean of the last hidden states over the line's\n"
    "                         tokens, [CLS] and [SEP] included (default), or the [CLS] row\n"
    "  --tokens a,b,c         run these token ids (a batch of one) instead of text:\n"
    "  --token-types 0,0,1    with --tokens: each token's segment (default all 0)\n"
    "  --logits FILE          with --tokens: write the logits (tokens x vocab float32,\n"
    "                         row-major) to FILE\n"
    "  --hidden FILE          with --tokens: write the last hidden states (tokens x width\n"
    "                         float32, row-major) to FILE\n"
    "  --replaced FILE        with --tokens: write the replaced-token logits (tokens float32)\n"
    "  --selftest             run the input embedded by kiln compile --selftest (token types\n"
    "                         0) and compare with the reference interpreter's logits stored\n"
    "                         with it: exit 0 when they agree, 1 when not, 2 without one\n"
    "other:\n"
    "  -t N                   threads, 1 to %d (default: measured at start-up, as for\n"
    "                         generating models); any N gives the same output\n"
    "  --stats                print the calls, tokens and time to standard error\n"
    "  --weights FILE         the weights file, for an executable compiled with external\n"
    "                         weights (default: this executable's path + '.weights')\n"
    "  --verify-weights       hash every byte of the weights and compare with the hash\n"
    "                         recorded at compile time before running\n"
    "  --help                 this text\n"
    "  --version              the model, the kiln that compiled it, the target and sizes\n"
    "\n"
    "Text goes through the model's tokenizer as [CLS] TEXT [SEP]; a [SEP] inside TEXT starts\n"
    "the second segment (token type 1). The model takes at most %lld tokens, [CLS] and [SEP]\n"
    "included: --embed keeps the first %lld tokens of a longer line and [SEP], and says so on\n"
    "standard error; the other modes refuse longer inputs. Empty lines are refused.\n";

typedef struct EncOptions {
    const char *fill_mask, *detect, *tokens, *token_types, *logits, *hidden, *replaced, *file;
    int embed, pool_cls, selftest;
    long long top_k;
    RtCommon common;            /* --weights, -t, --stats, --verify-weights */
} EncOptions;

/* The model's parts, found once. */
typedef struct Enc {
    void *arena;
    const void *weights;
    int in_tokens, in_types, in_valid;          /* places among run's inputs, -1 if absent */
    int out_logits, out_hidden, out_replaced;   /* places among run's outputs, -1 if absent */
    int64_t width;                              /* hidden's last dim */
    int64_t max_seq, max_batch;
    int64_t dims[KILN_MAX_DIMS];                /* run's: batch and seq set per call, others 1 */
    int d_batch, d_seq;
    int32_t *tokens, *types, *valid;            /* (max_batch, max_seq) */
    int64_t calls, rows;                        /* --stats */
    double seconds;
} Enc;

static const char *output_names(void)
{
    static char buf[256];
    size_t n = 0;
    for (int i = 0; i < kiln_model.n_outputs && n < sizeof buf - 64; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s", i ? ", " : "", kiln_model.outputs[i].name);
    return buf;
}

static int parse_args(int argc, char **argv, EncOptions *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        int missing = 0;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            printf(help, rt_prog, kiln_model.name ? kiln_model.name : "unnamed", output_names(),
                   (long long)rt_dim_max("batch"), RT_MAX_THREADS, (long long)kiln_model.max_seq,
                   (long long)kiln_model.max_seq - 1);
            return 0;
        }
        int status;
        if (rt_common_option(argc, argv, &i, &o->common, &status)) {
            if (status >= 0) return status;
            continue;
        }
        if ((v = rt_opt_value(argc, argv, &i, "--fill-mask", &missing))) o->fill_mask = v;
        else if ((v = rt_opt_value(argc, argv, &i, "--detect-replaced", &missing))) o->detect = v;
        else if ((v = rt_opt_value(argc, argv, &i, "--top-k", &missing))) {
            if (rt_parse_int("--top-k", v, 1, INT_MAX, &o->top_k)) return 2;
        } else if ((v = rt_opt_value(argc, argv, &i, "--pool", &missing))) {
            if (strcmp(v, "mean") && strcmp(v, "cls")) return rt_usage("--pool is mean or cls, not '%s'", v);
            o->pool_cls = !strcmp(v, "cls");
        } else if ((v = rt_opt_value(argc, argv, &i, "--tokens", &missing))) o->tokens = v;
        else if ((v = rt_opt_value(argc, argv, &i, "--token-types", &missing))) o->token_types = v;
        else if ((v = rt_opt_value(argc, argv, &i, "--logits", &missing))) o->logits = v;
        else if ((v = rt_opt_value(argc, argv, &i, "--hidden", &missing))) o->hidden = v;
        else if ((v = rt_opt_value(argc, argv, &i, "--replaced", &missing))) o->replaced = v;
        else if ((v = rt_opt_value(argc, argv, &i, "-f", &missing))) o->file = v;
        else if (!strcmp(a, "--embed")) o->embed = 1;
        else if (!strcmp(a, "--selftest")) o->selftest = 1;
        else if (missing) return rt_usage("%s needs a value", a);
        else if (a[0] == '-') return rt_usage("unknown option '%s'", a);
        else return rt_usage("unexpected argument '%s' (text goes after --fill-mask, --detect-replaced or in -f FILE)", a);
        if (missing) return rt_usage("%s needs a value", a);
    }
    int modes = !!o->fill_mask + !!o->detect + o->embed + !!o->tokens + o->selftest;
    if (modes == 0)
        return rt_usage("give a mode: --fill-mask TEXT, --detect-replaced TEXT, --embed, --tokens a,b,c or --selftest");
    if (modes > 1) return rt_usage("give one mode of --fill-mask, --detect-replaced, --embed, --tokens and --selftest");
    if (o->selftest && kiln_model.selftest_n < 1) {
        fprintf(stderr, "%s: this executable has no selftest: compile it with `kiln compile --selftest MODEL -o OUT` "
                "to embed a short input and the reference interpreter's logits for it\n", rt_prog);
        return 2;
    }
    if (o->top_k && !o->fill_mask) return rt_usage("--top-k is for --fill-mask");
    if ((o->file || o->pool_cls) && !o->embed) return rt_usage("-f and --pool are for --embed");
    if ((o->token_types || o->logits || o->hidden || o->replaced) && !o->tokens)
        return rt_usage("--token-types, --logits, --hidden and --replaced are for --tokens");
    if (o->tokens && !o->logits && !o->hidden && !o->replaced)
        return rt_usage("--tokens needs --logits FILE, --hidden FILE or --replaced FILE");
    if (o->common.weights && kiln_model.weights) return rt_usage("--weights: this executable has its weights embedded");
    return -1;
}

/* Runs rows [0, batch) of the arrays at length seq; outputs[j] receive run's outputs. */
static void enc_run(Enc *e, int64_t batch, int64_t seq, const void **outputs)
{
    /* the inputs are (batch, seq): pack the rows, which sit max_seq apart */
    int32_t *arrays[3] = { e->tokens, e->types, e->valid };
    for (int a = 0; a < 3; a++)
        for (int64_t b = 1; b < batch; b++) memmove(arrays[a] + b * seq, arrays[a] + b * e->max_seq, (size_t)seq * 4);
    const void *in[KILN_MAX_IO] = { 0 };
    in[e->in_tokens] = e->tokens;
    if (e->in_types >= 0) in[e->in_types] = e->types;
    if (e->in_valid >= 0) in[e->in_valid] = e->valid;
    double t0 = rt_profile_now();
    if (e->calls++ == 0) rt_pool_wake();
    if (e->d_batch >= 0) e->dims[e->d_batch] = batch;
    e->dims[e->d_seq] = seq;
    kiln_model.run(e->arena, e->weights, in, e->dims, outputs);
    e->seconds += rt_profile_now() - t0;
    e->rows += batch;
}

/* Row b of the arrays: ids[0..n), token types by segment, all valid, padding after. */
static void enc_set_row(Enc *e, int64_t b, const int32_t *ids, int64_t n, const RtTokenizer *tok)
{
    int32_t *t = e->tokens + b * e->max_seq, *ty = e->types + b * e->max_seq, *va = e->valid + b * e->max_seq;
    int32_t type = 0;
    for (int64_t i = 0; i < e->max_seq; i++) {
        t[i] = i < n ? ids[i] : (tok && tok->pad_id != RT_TOK_NO_ID ? (int32_t)tok->pad_id : 0);
        ty[i] = i < n ? type : 0;
        va[i] = i < n;
        /* a [SEP] before the last token ends the first segment */
        if (tok && i < n - 1 && (uint32_t)ids[i] == tok->sep_id && type == 0) type = 1;
    }
    int64_t types_limit = e->in_types >= 0 ? kiln_model.inputs[e->in_types].limit : 0;
    if (types_limit == 1)
        for (int64_t i = 0; i < n; i++) ty[i] = 0;
}

/* Text -> [CLS] ids [SEP] in *ids (malloc'd), refused when longer than max (unless truncate:
 * then the first max-1 and the last id). Returns the count, or -1 (said, naming where). */
static int64_t enc_tokenize(const RtTokenizer *tok, const char *text, size_t len, int64_t max, int truncate,
                            const char *where, int32_t **ids)
{
    long n = rt_tokenize_text(tok, text, len, where, ids);
    if (n > max) {
        if (!truncate) {
            rt_fail("%s has %ld tokens with [CLS] and [SEP], more than the model's %lld positions", where, n,
                    (long long)max);
            return -1;
        }
        fprintf(stderr, "%s: note: %s has %ld tokens; kept the first %lld and [SEP]\n", rt_prog, where, n,
                (long long)max - 1);
        (*ids)[max - 1] = (*ids)[n - 1];
        n = (long)max;
    }
    return n;
}

/* A token as text: a word-initial piece without its space, a continuation with "##". */
static void print_token(FILE *f, const RtTokenizer *tok, int32_t id)
{
    size_t n;
    const char *p = rt_tok_decode_piece(tok, id, &n);
    if (!p) {
        fprintf(f, "<%d>", id);
        return;
    }
    if (n > 0 && p[0] == ' ') p++, n--;
    else if (tok->kind == RT_TOK_WORDPIECE) fputs("##", f);
    fwrite(p, 1, n, f);
}

static int mode_fill_mask(const EncOptions *o, Enc *e, const RtTokenizer *tok)
{
    if (e->out_logits < 0) return rt_fail("--fill-mask needs the output logits (a masked-LM head); this model gives %s",
                                          output_names());
    if (tok->mask_id == RT_TOK_NO_ID) return rt_fail("--fill-mask: the tokenizer has no [MASK] token");
    int32_t *ids;
    int64_t n = enc_tokenize(tok, o->fill_mask, strlen(o->fill_mask), e->max_seq, 0, "the --fill-mask text", &ids);
    if (n < 0) {
        free(ids);
        return 1;
    }
    int64_t masks = 0;
    for (int64_t i = 0; i < n; i++) masks += (uint32_t)ids[i] == tok->mask_id;
    if (masks == 0) {
        free(ids);
        return rt_fail("--fill-mask: the text has no [MASK] (write [MASK] where a word is to be predicted)");
    }
    int64_t vocab = kiln_model.vocab, k = o->top_k ? o->top_k : 5;
    if (k > vocab) k = vocab;
    int32_t *best = malloc((size_t)k * sizeof *best);
    double *prob = malloc((size_t)vocab * sizeof *prob);
    if (!best || !prob) {
        free(ids), free(best), free(prob);
        return rt_fail("out of memory for --fill-mask");
    }
    enc_set_row(e, 0, ids, n, tok);
    const void *out[KILN_MAX_IO];
    enc_run(e, 1, n, out);
    const float *logits = out[e->out_logits];
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++) {
        if ((uint32_t)ids[i] != tok->mask_id) continue;
        const float *row = logits + i * vocab;
        double top = -INFINITY, sum = 0;
        for (int64_t v = 0; v < vocab; v++) top = row[v] > top ? row[v] : top;
        for (int64_t v = 0; v < vocab; v++) sum += prob[v] = exp((double)row[v] - top);
        /* the k best, by selection: ties to the lower id */
        for (int64_t j = 0; j < k; j++) {
            int32_t b = -1;
            for (int64_t v = 0; v < vocab; v++) {
                int taken = 0;
                for (int64_t q = 0; q < j && !taken; q++) taken = best[q] == v;
                if (!taken && (b < 0 || prob[v] > prob[b])) b = (int32_t)v;
            }
            best[j] = b;
        }
        printf("[MASK] %lld of %lld (token %lld):\n", (long long)++m, (long long)masks, (long long)i);
        for (int64_t j = 0; j < k; j++) {
            printf("  %.4f  ", prob[best[j]] / sum);
            print_token(stdout, tok, best[j]);
            putchar('\n');
        }
    }
    free(ids), free(best), free(prob);
    return 0;
}

static int mode_detect(const EncOptions *o, Enc *e, const RtTokenizer *tok)
{
    if (e->out_replaced < 0)
        return rt_fail("--detect-replaced needs the output replaced (ELECTRA's discriminator); this model gives %s",
                       output_names());
    int32_t *ids;
    int64_t n = enc_tokenize(tok, o->detect, strlen(o->detect), e->max_seq, 0, "the --detect-replaced text", &ids);
    if (n < 0) {
        free(ids);
        return 1;
    }
    enc_set_row(e, 0, ids, n, tok);
    const void *out[KILN_MAX_IO];
    enc_run(e, 1, n, out);
    const float *score = out[e->out_replaced];
    for (int64_t i = 0; i < n; i++) {
        double p = 1 / (1 + exp(-(double)score[i]));
        printf("%.4f  %s", p, p > 0.5 ? "replaced  " : "original  ");
        print_token(stdout, tok, ids[i]);
        putchar('\n');
    }
    free(ids);
    return 0;
}

/* One line of numbers per row of the batch: the mean of hidden over the row's tokens, or
 * its [CLS] row. */
static int print_embeddings(Enc *e, const float *hidden, int64_t batch, int64_t seq, const int64_t *len, int cls)
{
    for (int64_t b = 0; b < batch; b++) {
        const float *h = hidden + b * seq * e->width;
        for (int64_t c = 0; c < e->width; c++) {
            double s = 0;
            int64_t rows = cls ? 1 : len[b];
            for (int64_t i = 0; i < rows; i++) s += h[i * e->width + c];
            printf(c ? " %.7g" : "%.7g", s / (double)rows);
        }
        putchar('\n');
    }
    return ferror(stdout) ? rt_fail("cannot write the output: %s", strerror(errno)) : 0;
}

static int mode_embed(const EncOptions *o, Enc *e, const RtTokenizer *tok)
{
    if (e->out_hidden < 0) return rt_fail("--embed needs the output hidden; this model gives %s", output_names());
    const char *path = o->file ? o->file : "-";
    if (!strcmp(path, "-") && isatty(STDIN_FILENO))
        return rt_usage("--embed reads lines from standard input or -f FILE: give one of them");
    size_t len;
    char *text = rt_read_input(path, "input", &len);
    if (!text) return 1;
    const char *name = strcmp(path, "-") ? path : "standard input";
    int64_t per_call = e->in_valid >= 0 ? e->max_batch : 1;     /* padding needs the valid mask */
    int32_t **ids = calloc((size_t)per_call, sizeof *ids);
    int64_t *n = calloc((size_t)per_call, sizeof *n);
    int rc = ids && n ? 0 : rt_fail("out of memory for --embed");
    int64_t line = 0, batch = 0, seq = 0;
    char where[64 + PATH_MAX];
    const char *ln;
    size_t ln_n, at = 0;
    if (rc == 0 && (rc = rt_catch_interrupt())) rc = rt_fail("cannot catch SIGINT: %s", strerror(rc));
    while (rc == 0 && rt_next_line(text, len, &at, &ln, &ln_n)) {
        if (batch == 0 && rt_interrupted) {
            fflush(stdout);
            fprintf(stderr, "%s: interrupted after %lld lines\n", rt_prog, (long long)line);
            rc = RT_EXIT_INTERRUPTED;
            break;
        }
        line++;
        snprintf(where, sizeof where, "%s line %lld", name, (long long)line);
        if (rt_blank_line(ln, ln_n)) {
            rc = rt_fail("%s is empty: --embed gives one vector per line of text", where);
            break;
        }
        n[batch] = enc_tokenize(tok, ln, ln_n, e->max_seq, 1, where, &ids[batch]);
        if (n[batch] < 0) {
            rc = 1;
            break;
        }
        seq = n[batch] > seq ? n[batch] : seq;
        batch++;
        if (batch == per_call || at >= len) {
            for (int64_t b = 0; b < batch; b++) enc_set_row(e, b, ids[b], n[b], tok);
            const void *out[KILN_MAX_IO];
            enc_run(e, batch, seq, out);
            rc = print_embeddings(e, out[e->out_hidden], batch, seq, n, o->pool_cls);
            for (int64_t b = 0; b < batch; b++) free(ids[b]), ids[b] = NULL;
            batch = seq = 0;
        }
    }
    if (rc == 0 && line == 0) rc = rt_fail("%s has no lines to embed", name);
    for (int64_t b = 0; ids && b < per_call; b++) free(ids[b]);
    free(ids), free(n), free(text);
    return rc;
}

/* Writes count floats to path; rt_fail's 1 on an error. */
static int write_floats(const char *path, const float *x, size_t count)
{
    FILE *f = fopen(path, "wb");
    if (!f) return rt_fail("cannot write '%s': %s", path, strerror(errno));
    int bad = fwrite(x, sizeof *x, count, f) != count;
    int e = errno;
    if (fclose(f) != 0 && !bad) bad = 1, e = errno;
    return bad ? rt_fail("cannot write '%s': %s", path, strerror(e)) : 0;
}

/* --selftest: the embedded ids (token types 0, all valid) against the embedded logits. */
static int mode_selftest(Enc *e)
{
    const KilnModel *m = &kiln_model;
    int64_t n = m->selftest_n;
    if (n > e->max_seq || e->out_logits < 0 || !m->selftest_tokens || !m->selftest_logits)
        return rt_fail("the selftest data in this executable is inconsistent; the executable is damaged");
    for (int64_t i = 0; i < n; i++)
        if (m->selftest_tokens[i] < 0 || m->selftest_tokens[i] >= m->vocab)
            return rt_fail("the selftest's token %lld is outside the vocabulary; the executable is damaged", (long long)i);
    enc_set_row(e, 0, m->selftest_tokens, n, NULL);
    const void *out[KILN_MAX_IO];
    enc_run(e, 1, n, out);
    return rt_selftest_check(out[e->out_logits], m->selftest_logits, n, m->vocab, stdout);
}

static int mode_tokens(const EncOptions *o, Enc *e)
{
    if (o->logits && e->out_logits < 0) return rt_fail("--logits: this model gives no logits (it gives %s)", output_names());
    if (o->hidden && e->out_hidden < 0) return rt_fail("--hidden: this model gives no hidden (it gives %s)", output_names());
    if (o->replaced && e->out_replaced < 0)
        return rt_fail("--replaced: this model gives no replaced (it gives %s)", output_names());
    int32_t *ids = NULL, *types = NULL;
    int64_t n = 0, nt = 0;
    int rc = rt_parse_tokens(o->tokens, &ids, &n);
    if (rc == 0 && n > e->max_seq)
        rc = rt_fail("--tokens: %lld tokens are more than the model's %lld positions", (long long)n, (long long)e->max_seq);
    if (rc == 0 && o->token_types) {
        if (e->in_types < 0) rc = rt_fail("--token-types: this model takes no token types");
        if (rc == 0) rc = rt_parse_ids("--token-types", o->token_types, kiln_model.inputs[e->in_types].limit, "token types",
                                      &types, &nt);
        if (rc == 0 && nt != n)
            rc = rt_fail("--token-types has %lld values for %lld tokens", (long long)nt, (long long)n);
    }
    if (rc == 0) {
        enc_set_row(e, 0, ids, n, NULL);
        if (types) memcpy(e->types, types, (size_t)n * sizeof *types);
        const void *out[KILN_MAX_IO];
        enc_run(e, 1, n, out);
        if (o->logits) rc = write_floats(o->logits, out[e->out_logits], (size_t)(n * kiln_model.vocab));
        if (rc == 0 && o->hidden) rc = write_floats(o->hidden, out[e->out_hidden], (size_t)(n * e->width));
        if (rc == 0 && o->replaced) rc = write_floats(o->replaced, out[e->out_replaced], (size_t)n);
    }
    free(ids), free(types);
    return rc;
}

int rt_encoder_main(int argc, char **argv)
{
    const KilnModel *m = &kiln_model;
    EncOptions o = { 0 };
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0) return rc;
    Enc e = { 0 };
    e.in_tokens = rt_input("tokens");
    e.in_types = rt_input("token_types");
    e.in_valid = rt_input("valid");
    e.out_logits = rt_output("logits");
    e.out_hidden = rt_output("hidden");
    e.out_replaced = rt_output("replaced");
    e.max_seq = m->max_seq < m->max_positions ? m->max_seq : m->max_positions;
    e.max_batch = rt_dim_max("batch");
    e.d_batch = rt_dim("batch");
    e.d_seq = rt_dim("seq");
    for (int i = 0; i < m->n_dims; i++) e.dims[i] = 1;
    if (e.out_hidden >= 0) {
        const KilnTensor *h = &m->outputs[e.out_hidden];
        e.width = h->dims[h->rank - 1];
        if (h->rank != 3 || h->dims[1] != -1 - e.d_seq || e.width < 1) e.out_hidden = -1;
    }
    if (e.out_replaced >= 0 && (m->outputs[e.out_replaced].rank != 2 || m->outputs[e.out_replaced].dims[1] != -1 - e.d_seq))
        e.out_replaced = -1;

    RtTokenizer tok;
    void *tok_copy = NULL;
    if (!o.tokens && !o.selftest) {
        if (!m->tokenizer) return rt_fail("this model has no tokenizer: give token ids with --tokens a,b,c");
        if (rt_open_tokenizer(&tok, &tok_copy)) return 1;
    }
    RtWeights w = { 0 };
    size_t cells = (size_t)(e.max_batch * e.max_seq);
    e.tokens = calloc(cells, sizeof *e.tokens);
    e.types = calloc(cells, sizeof *e.types);
    e.valid = calloc(cells, sizeof *e.valid);
    rc = e.tokens && e.types && e.valid ? 0 : rt_fail("out of memory for the model's inputs");
    if (rc == 0) rc = rt_start(o.common.weights, o.common.verify_weights, o.common.stats, o.common.threads, &w, &e.arena);
    e.weights = w.data;
    if (rc == 0) {
        rc = o.selftest ? mode_selftest(&e)
           : o.fill_mask ? mode_fill_mask(&o, &e, &tok)
           : o.detect   ? mode_detect(&o, &e, &tok)
           : o.embed    ? mode_embed(&o, &e, &tok)
                        : mode_tokens(&o, &e);
        if (fflush(stdout) != 0 && rc == 0) rc = rt_fail("cannot write the output: %s", strerror(errno));
    }
    if (rc == 0 && o.common.stats) {
        fprintf(stderr, "encode: %lld calls, %lld inputs in %.3f s (%.1f inputs/s)\n", (long long)e.calls,
                (long long)e.rows, e.seconds, e.seconds > 0 ? (double)e.rows / e.seconds : 0.0);
        rt_threads_describe(stderr);
    }
    rt_stop(&w, e.arena);
    free(e.tokens), free(e.types), free(e.valid), free(tok_copy);
    return rc;
}
