/* translate.c — the command line of a sequence-to-sequence executable (kind KILN_SEQ2SEQ):
 * the original encoder-decoder Transformer, translating one sentence at a time.
 *
 * A source (the tokenizer's ids: its characters or pieces, then the end token) goes through
 * kiln_model.encode once at batch 1, which writes the states decode reads (the
 * cross-attention keys and values). Then decode runs from the start token (bos) at position
 * 0, and rt_beam_search (runtime/beam.h) drives it one position per call: every call's rows
 * are the live hypotheses, and before it each state's batch rows are reordered to follow
 * their parents (rt_reorder_states). Width 1 is greedy decoding. The src_valid input is all
 * ones (one sentence per call: no padding). Translations are printed one line per source.
 * --bleu scores them against a file of references (runtime/bleu.h).
 *
 * The inputs at the dims' bounds, the scratch of the widest state and the beam's memory are
 * allocated before the first sentence; a source's ids as it is read (rt_tokenize_text).
 * With -f, SIGINT (runtime/signals.c) ends the run between two sentences: the translations
 * so far are out, whole lines, and the exit status is 130. */
#include "runtime/beam.h"
#include "runtime/bleu.h"
#include "runtime/exe.h"
#include "runtime/profile.h"
#include "runtime/runtime.h"
#include "runtime/signals.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static const char help[] =
    "usage: %s [options]\n"
    "\n"
    "Translates with the encoder-decoder model compiled into this executable (%s).\n"
    "\n"
    "input (one of):\n"
    "  --translate TEXT       translate TEXT and print the translation\n"
    "  -f FILE                translate each line of FILE ('-' = standard input), one line out\n"
    "                         per line in; with neither, standard input when it is not a\n"
    "                         terminal\n"
    "  --src-tokens a,b,c     translate these source token ids (the end token included)\n"
    "decoding:\n"
    "  --beam N               beam search with N hypotheses, 1 to %lld (default 1: greedy,\n"
    "                         the most likely token each time)\n"
    "  --length-penalty A     beam search ranks the finished hypotheses by their sum of\n"
    "                         log-probabilities / length^A, length = their tokens, the end\n"
    "                         token included (default 1)\n"
    "  -n N                   at most N tokens per translation (default and maximum: %lld)\n"
    "  --show-ids             print each translation's token ids to standard error\n"
    "scoring:\n"
    "  --bleu REF_FILE        score the translations against REF_FILE (one reference per line,\n"
    "                         as many as the sources): corpus BLEU with 4-grams and the\n"
    "                         brevity penalty, on standard error\n"
    "other:\n"
    "  -t N                   threads, 1 to %d (default: measured at start-up); any N gives\n"
    "                         the same output\n"
    "  --stats                print the sentences, tokens and time to standard error\n"
    "  --weights FILE         the weights file, for an executable compiled with external\n"
    "                         weights (default: this executable's path + '.weights')\n"
    "  --verify-weights       hash every byte of the weights and compare with the hash\n"
    "                         recorded at compile time before running\n"
    "  --help                 this text\n"
    "  --version              the model, the kiln that compiled it, the target and sizes\n"
    "\n"
    "A source takes at most %lld tokens, its end token included: longer ones are refused, as\n"
    "are empty lines. A translation stops at the end token or after N tokens.\n";

typedef struct S2sOptions {
    const char *text, *file, *src_tokens, *bleu;
    long long beam, max_len;
    double alpha;
    int show_ids;
    RtCommon common;            /* --weights, -t, --stats, --verify-weights */
} S2sOptions;

typedef struct S2s {
    void *arena;
    const void *weights;
    int64_t dims[KILN_MAX_DIMS];
    int d_batch, d_seq, d_past, d_src;
    int enc_src, enc_valid, dec_tokens, dec_valid, dec_logits;
    int64_t src_len, past, max_batch, max_src;
    int32_t eos;                    /* the end token, -1 if none */
    int32_t *ones;                  /* (max_batch * max_src): src_valid, all real tokens */
    void *scratch;                  /* rt_reorder_states' */
    int64_t sentences, tokens;      /* --stats */
    double seconds;
} S2s;

static void s2s_dims(S2s *s, int64_t batch, int64_t seq)
{
    if (s->d_batch >= 0) s->dims[s->d_batch] = batch;
    s->dims[s->d_seq] = seq;
    if (s->d_past >= 0) s->dims[s->d_past] = s->past;
    s->dims[s->d_src] = s->src_len;
}

/* decode of tokens[0..n) as rows 0..n-1 at position past; the logits (n, vocab) */
static const float *decode_rows(S2s *s, const int32_t *tokens, int n)
{
    const void *in[KILN_MAX_IO] = { 0 }, *out[KILN_MAX_IO];
    in[s->dec_tokens] = tokens;
    if (s->dec_valid >= 0) in[s->dec_valid] = s->ones;
    s2s_dims(s, n, 1);
    double t0 = rt_profile_now();
    kiln_model.run(s->arena, s->weights, in, s->dims, out);
    s->seconds += rt_profile_now() - t0;
    s->past++;
    s->tokens += n;
    return out[s->dec_logits];
}

static int beam_step(void *ctx, const int32_t *parent, const int32_t *tokens, int n, const float **logits)
{
    S2s *s = ctx;
    rt_reorder_states(s->arena, parent, n, s->scratch);
    *logits = decode_rows(s, tokens, n);
    return 0;
}

/* Translates src[0..n) into ids (out, *n_out). */
static int translate_ids(S2s *s, RtBeam *beam, const int32_t *src, int64_t n, int32_t bos, int32_t *out, int *n_out,
                         double *score)
{
    const void *in[KILN_MAX_IO] = { 0 }, *enc_out[KILN_MAX_IO];
    in[s->enc_src] = src;
    if (s->enc_valid >= 0) in[s->enc_valid] = s->ones;
    s->src_len = n;
    s->past = 0;
    s2s_dims(s, 1, n);
    double t0 = rt_profile_now();
    if (s->sentences++ == 0) rt_pool_wake();
    kiln_model.encode.run(s->arena, s->weights, in, s->dims, enc_out);
    s->seconds += rt_profile_now() - t0;
    const float *first = decode_rows(s, &bos, 1);
    RtBeamModel m = { s, (int)kiln_model.vocab, beam_step };
    return rt_beam_search(beam, &m, first, out, n_out, score);
}

static int parse_args(int argc, char **argv, S2sOptions *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        int missing = 0;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            long long src_max = rt_dim_max("src");
            printf(help, rt_prog, kiln_model.name ? kiln_model.name : "unnamed", (long long)rt_dim_max("batch"),
                   (long long)kiln_model.max_positions, RT_MAX_THREADS, src_max);
            return 0;
        }
        int status;
        if (rt_common_option(argc, argv, &i, &o->common, &status)) {
            if (status >= 0) return status;
            continue;
        }
        if ((v = rt_opt_value(argc, argv, &i, "--translate", &missing))) o->text = v;
        else if ((v = rt_opt_value(argc, argv, &i, "--src-tokens", &missing))) o->src_tokens = v;
        else if ((v = rt_opt_value(argc, argv, &i, "--bleu", &missing))) o->bleu = v;
        else if ((v = rt_opt_value(argc, argv, &i, "--beam", &missing))) {
            if (rt_parse_int("--beam", v, 1, rt_dim_max("batch"), &o->beam)) return 2;
        } else if ((v = rt_opt_value(argc, argv, &i, "--length-penalty", &missing))) {
            if (rt_parse_float("--length-penalty", v, -10, 10, &o->alpha)) return 2;
        } else if ((v = rt_opt_value(argc, argv, &i, "-n", &missing))) {
            if (rt_parse_int("-n", v, 1, kiln_model.max_positions, &o->max_len)) return 2;
        } else if ((v = rt_opt_value(argc, argv, &i, "-f", &missing))) o->file = v;
        else if (!strcmp(a, "--show-ids")) o->show_ids = 1;
        else if (missing) return rt_usage("%s needs a value", a);
        else if (a[0] == '-') return rt_usage("unknown option '%s'", a);
        else return rt_usage("unexpected argument '%s' (text goes after --translate, or in -f FILE)", a);
        if (missing) return rt_usage("%s needs a value", a);
    }
    if (!!o->text + !!o->file + !!o->src_tokens > 1) return rt_usage("give one of --translate, -f and --src-tokens");
    if (o->bleu && (o->text || o->src_tokens)) return rt_usage("--bleu scores the lines of -f FILE or standard input");
    if (o->common.weights && kiln_model.weights) return rt_usage("--weights: this executable has its weights embedded");
    return -1;
}

/* One source: its ids (src, n) -> the translation printed (and added to bleu with ref). */
static int translate_one(S2s *s, RtBeam *beam, const S2sOptions *o, const RtTokenizer *tok, const int32_t *src,
                         int64_t n, int32_t *out, char *text, size_t text_cap, RtBleu *bleu, const char *ref,
                         size_t ref_n)
{
    int32_t bos = kiln_model.bos_id >= 0 ? (int32_t)kiln_model.bos_id : (int32_t)tok->bos_id;
    int got = 0;
    double score = 0;
    if (translate_ids(s, beam, src, n, bos, out, &got, &score)) return 1;
    int shown = got > 0 && out[got - 1] == s->eos ? got - 1 : got;
    if (tok) {
        size_t at = 0;
        long len = rt_tok_decode(tok, out, (size_t)shown, text, text_cap, &at);
        if (len < 0) return rt_fail("the translation cannot be decoded: %s (id %d)", rt_tok_strerror((int)len),
                                    at < (size_t)shown ? out[at] : -1);
        fwrite(text, 1, (size_t)len, stdout);
        if (bleu && rt_bleu_add_n(bleu, text, (size_t)len, ref, ref_n)) return rt_fail("out of memory for --bleu");
    } else {
        for (int i = 0; i < shown; i++) printf(i ? ",%d" : "%d", out[i]);
    }
    putchar('\n');
    if (o->show_ids) {
        fputs("ids:", stderr);
        for (int i = 0; i < got; i++) fprintf(stderr, "%s%d", i ? "," : " ", out[i]);
        fprintf(stderr, " (score %.6f)\n", score);
    }
    return ferror(stdout) ? rt_fail("cannot write the output: %s", strerror(errno)) : 0;
}

static int run_lines(S2s *s, RtBeam *beam, const S2sOptions *o, const RtTokenizer *tok, int32_t *out, char *text_out,
                     size_t text_cap)
{
    const char *path = o->file ? o->file : "-";
    const char *name = strcmp(path, "-") ? path : "standard input";
    size_t len = 0, ref_len = 0;
    char *text = o->text ? NULL : rt_read_input(path, "input", &len), *refs = NULL;
    if (!o->text && !text) return 1;
    const char *src_text = o->text ? o->text : text;
    if (o->text) len = strlen(o->text);
    RtBleu bleu;
    rt_bleu_init(&bleu);
    if (o->bleu && !(refs = rt_read_input(o->bleu, "reference", &ref_len))) {
        free(text);
        return 1;
    }
    size_t at = 0, ref_at = 0;
    int32_t *ids = NULL;
    int rc = 0;
    const char *line, *ref = NULL;
    size_t n, ref_n = 0;
    long long lineno = 0;
    if (!o->text && (rc = rt_catch_interrupt())) rc = rt_fail("cannot catch SIGINT: %s", strerror(rc));
    while (rc == 0 && (o->text ? lineno == 0 && ((line = src_text), (n = len), 1) : rt_next_line(src_text, len, &at, &line, &n))) {
        if (rt_interrupted) {
            fflush(stdout);
            fprintf(stderr, "%s: interrupted after %lld sentences\n", rt_prog, lineno);
            rc = RT_EXIT_INTERRUPTED;
            break;
        }
        lineno++;
        char where[64 + PATH_MAX];
        if (o->text) snprintf(where, sizeof where, "the --translate text");
        else snprintf(where, sizeof where, "%s line %lld", name, lineno);
        if (refs && !rt_next_line(refs, ref_len, &ref_at, &ref, &ref_n)) {
            rc = rt_fail("--bleu: %s has fewer lines than the sources (no reference for %s)", o->bleu, where);
            break;
        }
        if (rt_blank_line(line, n)) {
            rc = rt_fail("%s is empty: there is nothing to translate", where);
            break;
        }
        free(ids);
        long k = rt_tokenize_text(tok, line, n, where, &ids);
        if (k < 0) rc = 1;
        else if (k > s->max_src)
            rc = rt_fail("%s has %ld tokens with its end token, more than the model's %lld source positions", where, k,
                         (long long)s->max_src);
        if (rc == 0) rc = translate_one(s, beam, o, tok, ids, k, out, text_out, text_cap, refs ? &bleu : NULL, ref, ref_n);
    }
    if (rc == 0 && lineno == 0) rc = rt_fail("%s has no lines to translate", name);
    if (rc == 0 && refs && rt_next_line(refs, ref_len, &ref_at, &ref, &ref_n))
        rc = rt_fail("--bleu: %s has more lines than the %lld sources", o->bleu, lineno);
    if (rc == 0 && refs) {
        RtBleuScore b;
        rt_bleu_score(&bleu, &b);
        fprintf(stderr, "BLEU = %.2f, %.1f/%.1f/%.1f/%.1f (BP = %.3f, ratio = %.3f, hyp_len = %lld, ref_len = %lld)\n",
                100 * b.bleu, 100 * b.precision[0], 100 * b.precision[1], 100 * b.precision[2], 100 * b.precision[3],
                b.brevity_penalty, b.ref_len ? (double)b.hyp_len / (double)b.ref_len : 0.0, (long long)b.hyp_len,
                (long long)b.ref_len);
    }
    rt_bleu_free(&bleu);
    free(ids), free(text), free(refs);
    return rc;
}

int rt_seq2seq_main(int argc, char **argv)
{
    const KilnModel *m = &kiln_model;
    S2sOptions o = { 0 };
    o.alpha = 1;
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0) return rc;
    S2s s = { 0 };
    s.d_batch = rt_dim("batch"), s.d_seq = rt_dim("seq"), s.d_past = rt_dim("past"), s.d_src = rt_dim("src");
    for (int i = 0; i < m->n_dims; i++) s.dims[i] = 1;
    s.max_batch = rt_dim_max("batch");
    s.max_src = rt_dim_max("src");
    s.dec_tokens = rt_input("tokens"), s.dec_valid = rt_input("src_valid"), s.dec_logits = rt_output("logits");
    s.enc_src = -1, s.enc_valid = -1;
    for (int i = 0; i < m->encode.n_inputs; i++) {
        if (!strcmp(m->encode.inputs[i].name, "src")) s.enc_src = i;
        if (!strcmp(m->encode.inputs[i].name, "src_valid")) s.enc_valid = i;
    }
    if (s.enc_src < 0 || s.d_seq < 0) return rt_fail("this model's encode graph has no input src; the executable is damaged");
    int64_t max_len = o.max_len ? o.max_len : m->max_positions;
    int width = o.beam ? (int)o.beam : 1;

    RtTokenizer tok;
    void *tok_copy = NULL;
    if (!o.src_tokens) {
        if (!m->tokenizer) return rt_fail("this model has no tokenizer: give source ids with --src-tokens a,b,c");
        if (rt_open_tokenizer(&tok, &tok_copy)) return 1;
        if (!o.text && !o.file && isatty(STDIN_FILENO))
            return free(tok_copy), rt_usage("nothing to translate: give --translate TEXT, -f FILE, or lines on standard input");
    }
    RtWeights w = { 0 };
    int32_t eos = m->eos_id >= 0 ? (int32_t)m->eos_id : !o.src_tokens && tok.eos_id != RT_TOK_NO_ID ? (int32_t)tok.eos_id : -1;
    if (m->bos_id < 0 && (o.src_tokens || tok.bos_id == RT_TOK_NO_ID)) {
        free(tok_copy);
        return rt_fail("the model has no start token for the decoder: give it a parameter bos (or a tokenizer with one)");
    }
    RtBeamOptions bo = { width, o.alpha, (int)max_len, eos };
    s.eos = eos;
    RtBeam *beam = rt_beam_new(&bo, (int)m->vocab);
    s.ones = malloc((size_t)(s.max_batch * s.max_src) * sizeof *s.ones);
    s.scratch = malloc(rt_reorder_scratch_bytes((int)s.max_batch));
    int32_t *out = malloc((size_t)max_len * sizeof *out);
    size_t text_cap = (size_t)max_len * 64 + 1;
    char *text = malloc(text_cap);
    rc = beam && s.ones && s.scratch && out && text ? 0 : rt_fail("out of memory for the search");
    for (int64_t i = 0; rc == 0 && i < s.max_batch * s.max_src; i++) s.ones[i] = 1;
    if (rc == 0) rc = rt_start(o.common.weights, o.common.verify_weights, o.common.stats, o.common.threads, &w, &s.arena);
    s.weights = w.data;
    if (rc == 0) {
        if (o.src_tokens) {
            int32_t *ids = NULL;
            int64_t n = 0;
            rc = rt_parse_ids("--src-tokens", o.src_tokens, m->vocab, "tokens in its vocabulary", &ids, &n);
            if (rc == 0 && n > s.max_src)
                rc = rt_fail("--src-tokens: %lld tokens are more than the model's %lld source positions", (long long)n,
                             (long long)s.max_src);
            if (rc == 0) rc = translate_one(&s, beam, &o, NULL, ids, n, out, text, text_cap, NULL, NULL, 0);
            free(ids);
        } else {
            rc = run_lines(&s, beam, &o, &tok, out, text, text_cap);
        }
        if (fflush(stdout) != 0 && rc == 0) rc = rt_fail("cannot write the output: %s", strerror(errno));
    }
    if (rc == 0 && o.common.stats) {
        fprintf(stderr, "translate: %lld sentences, %lld decoder rows in %.3f s of model time (%.1f sentences/s)\n",
                (long long)s.sentences, (long long)s.tokens, s.seconds,
                s.seconds > 0 ? (double)s.sentences / s.seconds : 0.0);
        rt_threads_describe(stderr);
    }
    rt_stop(&w, s.arena);
    rt_beam_free(beam);
    free(s.ones), free(s.scratch), free(out), free(text), free(tok_copy);
    return rc;
}
