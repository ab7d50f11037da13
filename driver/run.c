/* run.c — `kiln run MODEL`: the reference interpreter behind the runtime's generation loop.
 *
 * Three ways to use it:
 *   -p PROMPT [-n N]                 tokenize, generate with the runtime's loop and samplers
 *   --tokens a,b,c --logits FILE     one forward pass; the float32 logits of every position
 *                                    (T x vocab, row-major) go to FILE; --prefill K feeds
 *                                    the first K tokens at once and the rest one by one
 *                                    through the KV cache, to check that path
 *   --inputs IN --dump OUT           every graph in order, inputs by name from a safetensors
 *                                    file, every output into another (batches, token types,
 *                                    masks, encoder-decoders)
 * The interpreter is plain C and slow: it is the reference, not the product. */
#include "driver.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/runtime.h"
#include "runtime/signals.h"

static const char help[] =
    "usage: kiln run MODEL [options]\n"
    "\n"
    "generation:\n"
    "  -p PROMPT          prompt text (UTF-8)\n"
    "  -f FILE            read the prompt from FILE ('-' = standard input)\n"
    "  -n N               new tokens to generate (default 64)\n"
    "  --temperature T    0 = greedy (default 0)\n"
    "  --top-k K          sample from the K most likely tokens (default 0 = all)\n"
    "  --top-p P          sample from the smallest set with mass P (default 1 = all)\n"
    "  --seed S           random seed for sampling (default 1)\n"
    "  --stats            print token counts and speed to standard error, with the\n"
    "                     executable's prefill: and decode: lines (decode: tokens fed after\n"
    "                     the prompt over the time of those forward steps)\n"
    "  --show-ids         print the prompt's and the generated token ids to standard error\n"
    "logits:\n"
    "  --tokens a,b,c     token ids to feed (batch of one)\n"
    "  --logits FILE      write the float32 logits of every position (T x vocab) to FILE\n"
    "  --prefill K        feed the first K tokens at once, then one token per run\n"
    "tensors:\n"
    "  --inputs FILE      safetensors file with every graph input, by name\n"
    "  --dump FILE        run every graph in order; write every output to FILE (safetensors)\n";

typedef struct Session {
    Module *m;
    Interp *in;
    const Graph *g;
    Diag *d;
    int vocab;
} Session;

/* The model's forward graph: the single graph, or the one named forward. */
static const Graph *forward_graph(Module *m, Diag *d)
{
    const Graph *g = m->n_graphs == 1 ? m->graphs[0] : ir_module_graph(m, "forward");
    if (!g) {
        diag_error(d, m->loc, "the model has several graphs and none is named 'forward'; use --inputs/--dump");
        return NULL;
    }
    if (g->n_inputs != 1 || g->inputs[0]->dtype != DT_I32 || g->inputs[0]->shape.rank != 2) {
        diag_error(d, g->loc, "graph '%s' does not take one token input (batch, seq); use --inputs/--dump", g->name);
        return NULL;
    }
    for (int i = 0; i < g->n_outputs; i++)
        if (!strcmp(g->outputs[i].name, "logits")) return g;
    diag_error(d, g->loc, "graph '%s' has no output named 'logits'", g->name);
    return NULL;
}

static int logits_output(const Graph *g)
{
    for (int i = 0; i < g->n_outputs; i++)
        if (!strcmp(g->outputs[i].name, "logits")) return i;
    return -1;
}

/* Runs n tokens; rows receives the logits of each position when non-NULL (n x vocab),
 * last the logits of the last position when non-NULL. */
static int run_tokens(Session *s, const int32_t *tokens, int n, float *rows, float *last)
{
    Tensor in = { DT_I32, 2, { 1, n }, (void *)tokens };
    Tensor out[8] = { { 0 } };
    if (s->g->n_outputs > 8) return -1;
    if (interp_run(s->in, s->g, &in, out)) return -1;
    int li = logits_output(s->g);
    Tensor *t = &out[li];
    int rc = 0;
    int64_t per_pos = t->dim[t->rank - 1];
    int64_t positions = t->rank == 3 ? t->dim[1] : 1;
    if (per_pos != s->vocab || (rows && positions != n)) {
        diag_error(s->d, s->g->loc, "output 'logits' has an unexpected shape");
        rc = -1;
    } else {
        const float *data = t->data;
        if (rows) memcpy(rows, data, (size_t)n * (size_t)s->vocab * sizeof *rows);
        if (last) memcpy(last, data + (positions - 1) * s->vocab, (size_t)s->vocab * sizeof *last);
    }
    for (int i = 0; i < s->g->n_outputs; i++) tensor_free(&out[i]);
    return rc;
}

static int forward_step(void *ctx, const int32_t *tokens, int n, float *logits)
{
    return run_tokens(ctx, tokens, n, NULL, logits);
}

static int parse_tokens(const char *s, int32_t **out, int *n)
{
    int cap = 16;
    *out = xmalloc((size_t)cap * sizeof **out);
    *n = 0;
    const char *p = s;
    while (*p) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < 0 || v > INT32_MAX) return usage_error("run", "--tokens: bad token id at '%s'", p);
        if (*n == cap) *out = xrealloc(*out, (size_t)(cap *= 2) * sizeof **out);
        (*out)[(*n)++] = (int32_t)v;
        p = end;
        if (*p == ',') p++;
        else if (*p) return usage_error("run", "--tokens: expected ',' at '%s'", p);
    }
    if (*n == 0) return usage_error("run", "--tokens: no token ids");
    return 0;
}

/* --inputs/--dump: every graph in order, inputs by name, all outputs written. */
static int run_tensors(Module *m, Interp *in, Diag *d, const char *inputs_path, const char *dump_path, Arena *a)
{
    StFile sf;
    if (st_open(&sf, inputs_path, d, a)) return -1;
    int rc = -1;
    StTensor *outs = NULL;
    Tensor *keep = NULL;
    int n_outs = 0, cap = 0;
    for (int gi = 0; gi < m->n_graphs; gi++) {
        const Graph *g = m->graphs[gi];
        Tensor ins[IR_MAX_INPUTS * 4] = { { 0 } };
        if (g->n_inputs > (int)(sizeof ins / sizeof ins[0])) goto out;
        for (int i = 0; i < g->n_inputs; i++) {
            const Node *x = g->inputs[i];
            const StTensor *t = st_find(&sf, x->name);
            if (!t) {
                diag_file_error(d, inputs_path, "no tensor '%s' for input '%s' of graph '%s'", x->name, x->name, g->name);
                goto out;
            }
            if (t->dtype != x->dtype || t->rank != x->shape.rank) {
                diag_file_error(d, inputs_path, "tensor '%s': input '%s' wants %s of rank %d, the file has %s of rank %d",
                                x->name, x->name, dtype_name(x->dtype), x->shape.rank, t->dtype_raw, t->rank);
                goto out;
            }
            if (tensor_alloc(&ins[i], x->dtype, t->rank, t->shape)) {
                diag_file_error(d, inputs_path, "tensor '%s' is too large", x->name);
                goto out;
            }
            memcpy(ins[i].data, t->data, t->nbytes);
        }
        Tensor res[16] = { { 0 } };
        int bad = g->n_outputs > 16 || interp_run(in, g, ins, res);
        for (int i = 0; i < g->n_inputs; i++) tensor_free(&ins[i]);
        if (bad) goto out;
        for (int i = 0; i < g->n_outputs; i++) {
            if (n_outs == cap) {
                cap = cap ? 2 * cap : 8;
                outs = xrealloc(outs, (size_t)cap * sizeof *outs);
                keep = xrealloc(keep, (size_t)cap * sizeof *keep);
            }
            keep[n_outs] = res[i];
            StTensor *o = &outs[n_outs++];
            memset(o, 0, sizeof *o);
            o->name = g->outputs[i].name;
            o->dtype = res[i].dtype;
            o->rank = res[i].rank;
            memcpy(o->shape, res[i].dim, sizeof o->shape);
            o->data = res[i].data;
            o->nbytes = (uint64_t)tensor_numel(&res[i]) * (uint64_t)dtype_size(res[i].dtype);
        }
    }
    rc = st_write(dump_path, outs, (size_t)n_outs, d);
out:
    for (int i = 0; i < n_outs; i++) tensor_free(&keep[i]);
    free(outs);
    free(keep);
    st_close(&sf);
    return rc;
}

static char *read_prompt_file(Diag *d, const char *path, size_t *len)
{
    if (strcmp(path, "-") != 0) return file_read_all(d, path, len);
    size_t cap = 4096, n = 0;
    char *buf = xmalloc(cap);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n - 1, stdin)) > 0) {
        n += got;
        if (cap - n < 2) buf = xrealloc(buf, cap *= 2);
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

/* Context length for generation: the bound of `past` when the model caches, else `seq`. */
static int64_t context_length(const Module *m)
{
    int past = ir_module_sym(m, "past"), seq = ir_module_sym(m, "seq");
    if (past) return m->syms[past].max;
    return seq ? m->syms[seq].max : 0;
}

int cmd_run(int argc, char **argv)
{
    const char *path = NULL, *prompt = NULL, *prompt_file = NULL, *tokens_arg = NULL, *logits_path = NULL;
    const char *inputs_path = NULL, *dump_path = NULL, *v;
    long long n_new = 64, top_k = 0, seed = 1, prefill = -1;
    double temperature = 0, top_p = 1;
    int stats = 0, show_ids = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(help, stdout);
            return 0;
        }
        if ((v = opt_value(argc, argv, &i, "-p"))) prompt = v;
        else if ((v = opt_value(argc, argv, &i, "-f"))) prompt_file = v;
        else if ((v = opt_value(argc, argv, &i, "-n"))) { if (opt_int("run", "-n", v, 0, 1 << 24, &n_new)) return 2; }
        else if ((v = opt_value(argc, argv, &i, "--temperature"))) { if (opt_float("run", "--temperature", v, 0, 100, &temperature)) return 2; }
        else if ((v = opt_value(argc, argv, &i, "--top-k"))) { if (opt_int("run", "--top-k", v, 0, 1 << 30, &top_k)) return 2; }
        else if ((v = opt_value(argc, argv, &i, "--top-p"))) { if (opt_float("run", "--top-p", v, 0, 1, &top_p)) return 2; }
        else if ((v = opt_value(argc, argv, &i, "--seed"))) { if (opt_int("run", "--seed", v, 0, INT64_MAX, &seed)) return 2; }
        else if ((v = opt_value(argc, argv, &i, "--tokens"))) tokens_arg = v;
        else if ((v = opt_value(argc, argv, &i, "--logits"))) logits_path = v;
        else if ((v = opt_value(argc, argv, &i, "--prefill"))) { if (opt_int("run", "--prefill", v, 1, 1 << 30, &prefill)) return 2; }
        else if ((v = opt_value(argc, argv, &i, "--inputs"))) inputs_path = v;
        else if ((v = opt_value(argc, argv, &i, "--dump"))) dump_path = v;
        else if (!strcmp(a, "--stats")) stats = 1;
        else if (!strcmp(a, "--show-ids")) show_ids = 1;
        else if (a[0] == '-' && a[1]) return usage_error("run", "unknown or incomplete option '%s'", a);
        else if (path) return usage_error("run", "one model at a time ('%s' and '%s')", path, a);
        else path = a;
    }
    if (!path) return usage_error("run", "no model given");
    int modes = !!(prompt || prompt_file) + !!tokens_arg + !!(inputs_path || dump_path);
    if (modes != 1) return usage_error("run", "give exactly one of -p/-f (generate), --tokens (logits) or --inputs/--dump");
    if (prompt && prompt_file) return usage_error("run", "give -p or -f, not both");
    if (tokens_arg && !logits_path) return usage_error("run", "--tokens needs --logits FILE");
    if ((inputs_path != NULL) != (dump_path != NULL)) return usage_error("run", "--inputs and --dump go together");

    Arena a = { 0 };
    Diag d;
    diag_init(&d);
    int rc = 1;
    int32_t *tokens = NULL, *gen = NULL;
    void *blob = NULL;
    char *text = NULL;
    Interp *in = NULL;
    Module *m = fe_load(&a, &d, path, 0);
    if (!m) goto out;
    in = interp_new(m, &d);
    if (!in) goto out;

    if (inputs_path) {
        rc = run_tensors(m, in, &d, inputs_path, dump_path, &a) ? 1 : 0;
        goto out;
    }
    Session s = { m, in, forward_graph(m, &d), &d, 0 };
    if (!s.g) goto out;
    const Node *lg = s.g->outputs[logits_output(s.g)].node;
    Dim vd = lg->shape.d[lg->shape.rank - 1];
    if (!dim_is_const(vd)) {
        diag_error(&d, lg->loc, "output 'logits' must end in a constant vocabulary dimension");
        goto out;
    }
    s.vocab = (int)vd.k;
    int64_t ctx = context_length(m);

    if (tokens_arg) {
        int n;
        if (parse_tokens(tokens_arg, &tokens, &n)) { rc = 2; goto out; }
        if (ctx && n > ctx) {
            diag_error(&d, m->loc, "%d tokens do not fit in the context of %lld positions", n, (long long)ctx);
            goto out;
        }
        float *rows = xmalloc((size_t)n * (size_t)s.vocab * sizeof *rows);
        int k = prefill > 0 && prefill < n ? (int)prefill : n;
        int bad = run_tokens(&s, tokens, k, rows, NULL);
        for (int i = k; i < n && !bad; i++) bad = run_tokens(&s, tokens + i, 1, rows + (size_t)i * (size_t)s.vocab, NULL);
        if (!bad && file_write_all(&d, logits_path, rows, (size_t)n * (size_t)s.vocab * sizeof *rows) == 0) rc = 0;
        free(rows);
        goto out;
    }

    /* generation */
    if (!m->tokenizer.kind) {
        diag_error(&d, m->loc, "the model names no tokenizer; use --tokens");
        goto out;
    }
    if (strcmp(m->tokenizer.kind, "gpt2") != 0 && strcmp(m->tokenizer.kind, "llama2c") != 0 &&
        strcmp(m->tokenizer.kind, "sentencepiece") != 0 && strcmp(m->tokenizer.kind, "hf") != 0) {
        diag_error(&d, m->tokenizer.loc, "tokenizer kind '%s' is not supported by this version of kiln", m->tokenizer.kind);
        goto out;
    }
    size_t blob_size, len = 0;
    if (fe_model_tokenizer(m, &d, &blob, &blob_size)) goto out;
    RtTokenizer tok;
    int trc = rt_tok_open(blob, blob_size, &tok);
    KILN_ASSERT(trc == RT_TOK_OK);      /* we just built it */
    if (prompt_file) {
        text = read_prompt_file(&d, prompt_file, &len);
        if (!text) goto out;
    } else {
        len = strlen(prompt);
    }
    const char *ptext = text ? text : prompt;
    Loc where = loc_make(diag_file(&d, prompt_file ? prompt_file : "-p PROMPT"), 0, 0);
    size_t cap = rt_tok_prompt_cap(&tok, len);
    if (cap == SIZE_MAX || cap > SIZE_MAX / sizeof *tokens) {
        diag_error(&d, where, "the prompt (%zu bytes) is too long to tokenize", len);
        goto out;
    }
    tokens = xmalloc(cap * sizeof *tokens);
    size_t err_at = 0;
    long n = rt_tok_prompt(&tok, ptext, len, tokens, cap, &err_at);
    if (n == RT_TOK_EUTF8) {
        diag_error(&d, where, "the prompt is not valid UTF-8: byte %zu (0x%02x) is not part of a character",
                   err_at, (unsigned char)ptext[err_at < len ? err_at : len - 1]);
        goto out;
    }
    if (n == RT_TOK_ENOSTART) {
        diag_error(&d, where, "the prompt is empty and the tokenizer has no start token");
        goto out;
    }
    if (n < 0) {
        diag_error(&d, where, "the prompt cannot be tokenized: %s", rt_tok_strerror((int)n));
        goto out;
    }
    if (ctx && n > ctx) {       /* as the executable: a prompt must fit; -n stops at a full context */
        diag_error(&d, where, "the prompt has %ld tokens, more than the context of %lld positions", n,
                   (long long)ctx);
        goto out;
    }
    RtForward f = { &s, forward_step, s.vocab, (int)ctx };
    RtSampler sp = { (float)temperature, (int)top_k, (float)top_p, (uint64_t)seed };
    RtGenStats st;
    gen = xmalloc(((size_t)n_new + 1) * sizeof *gen);
    fwrite(ptext, 1, len, stdout);
    /* the end of text: the model's parameter eos (as the compiled executable), else the tokenizer's */
    int64_t eos;
    if (ir_module_eos(m, s.vocab, &eos)) {
        diag_error(&d, m->loc, "parameter eos = \"%s\" is not a token id below the vocabulary size %d",
                   ir_module_param(m, "eos"), s.vocab);
        goto out;
    }
    if (eos < 0 && tok.eos_id != RT_TOK_NO_ID) eos = tok.eos_id;
    RtGenOptions go = { .n_new = (int)n_new, .eos_id = (int32_t)eos, .repeat_penalty = 1 };
    int cerr = rt_catch_interrupt();    /* Ctrl-C: the text so far, then exit 130, as the executable */
    if (cerr) {
        diag_error(&d, loc_make(0, 0, 0), "cannot catch SIGINT: %s", strerror(cerr));
        goto out;
    }
    int got = rt_generate(&f, &tok, &sp, &go, tokens, (int)n, stdout, gen, &st);
    fputc('\n', stdout);
    fflush(stdout);
    if (got < 0) goto out;
    if (st.stop == RT_STOP_INTERRUPT) {
        fprintf(stderr, "kiln: interrupted after %d new tokens\n", got);
        rc = RT_EXIT_INTERRUPTED;
        goto out;
    }
    if (st.stop == RT_STOP_CONTEXT)
        fprintf(stderr, "kiln: stopped: the context of %lld positions is full\n", (long long)ctx);
    if (show_ids) {
        fputs("prompt ids:", stderr);
        for (long i = 0; i < n; i++) fprintf(stderr, "%s%d", i ? "," : " ", tokens[i]);
        fputs("\ngenerated ids:", stderr);
        for (int i = 0; i < got; i++) fprintf(stderr, "%s%d", i ? "," : " ", gen[i]);
        fputc('\n', stderr);
    }
    if (stats) {
        fprintf(stderr, "prompt %d tokens in %.3f s; %d new tokens in %.3f s (%.1f tokens/s, reference interpreter)\n",
                st.prompt_tokens, st.prefill_seconds, st.new_tokens, st.decode_seconds,
                st.decode_seconds > 0 ? st.new_tokens / st.decode_seconds : 0.0);
        rt_print_speeds(stderr, &st);   /* the executable's lines, counted the same way */
    }
    rc = 0;
out:
    if (in) interp_free(in);
    if (m) fe_release(m);
    free(tokens);
    free(gen);
    free(blob);
    free(text);
    arena_free(&a);
    diag_free(&d);
    return rc;
}
