/* load.c — from a path to a checked module: read (XML or .kir), bind weights, infer, verify.
 *
 * fe_load is what every command uses. The weight files are mapped and each tensor the
 * model names is looked up in them and checked: present, a loadable dtype, the declared
 * shape. The IR then points into the mapping; nothing is copied. Inference runs after
 * binding because a weight's dtype comes from its file. Errors accumulate so that one run
 * reports every missing weight, not just the first. */
#include "frontend_impl.h"
#include "frontend/tokenizer_chars.h"
#include "frontend/tokenizer_spm.h"
#include "frontend/tokenizer_wordpiece.h"

#include <stdlib.h>
#include <string.h>

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static const char *st_dtype_of(DType t)
{
    switch (t) {
    case DT_F32: return "F32";
    case DT_F16: return "F16";
    case DT_BF16: return "BF16";
    case DT_I32: return "I32";
    default: return "?";
    }
}

/* The tensor names of all files closest to name, for "did you mean" (only while messages
 * are still printed: it reads every name). */
static const char *closest_tensor(Module *m, Diag *d, const char *name)
{
    if (d->n_errors >= 20) return NULL;
    int best = 4;
    const char *hit = NULL;
    for (int f = 0; f < m->n_wfiles; f++) {
        StFile *sf = m->wfiles[f].handle;
        for (size_t i = 0; sf && i < sf->n_tensors; i++) {
            int d = text_distance(name, sf->tensors[i].name);
            if (d < best) best = d, hit = sf->tensors[i].name;
        }
    }
    return hit;
}

int fe_bind_weights(Module *m, Diag *d)
{
    int errs = d->n_errors;
    for (int f = 0; f < m->n_wfiles; f++) {
        WeightFile *wf = &m->wfiles[f];
        if (wf->handle) continue;
        StFile *sf = arena_alloc(m->arena, sizeof *sf);
        const char *full = path_join(m->arena, m->base_dir, wf->path);
        if (st_open(sf, full, d, m->arena) == 0) wf->handle = sf;
    }
    if (d->n_errors > errs) return -1;
    if (m->n_weights && m->n_wfiles == 0) {
        diag_error(d, m->loc, "the model uses weights but names no weight file (<weights file=\"...\"/>)");
        return -1;
    }
    for (int i = 0; i < m->n_weights; i++) {
        Weight *w = &m->weights[i];
        if (w->n_parts) continue;       /* a concatenation: its parts are entries of their own */
        const StTensor *t = NULL;
        const char *where = NULL;
        for (int f = 0; f < m->n_wfiles && !t; f++) {
            t = st_find(m->wfiles[f].handle, w->tensor);
            where = m->wfiles[f].path;
        }
        if (!t) {
            const char *near = closest_tensor(m, d, w->tensor);
            if (near) diag_error(d, w->loc, "weight tensor '%s' is not in %s; did you mean '%s'?", w->tensor,
                                 m->n_wfiles == 1 ? m->wfiles[0].path : "the weight files", near);
            else diag_error(d, w->loc, "weight tensor '%s' is not in %s", w->tensor,
                            m->n_wfiles == 1 ? m->wfiles[0].path : "the weight files");
            continue;
        }
        if (t->dtype >= DT_COUNT || t->dtype == DT_I32) {
            diag_error(d, w->loc, "weight tensor '%s' in %s has dtype %s; kiln loads F32, F16 and BF16 weights", w->tensor,
                       where, t->dtype_raw ? t->dtype_raw : st_dtype_of(t->dtype));
            continue;
        }
        Shape fs = { t->rank, { { 0, { 0, 0 } } } };
        for (int k = 0; k < t->rank; k++) fs.d[k] = dim_const(t->shape[k]);
        if (w->transposed && t->rank == 2) {    /* compare in the weight's own layout */
            Dim swap = fs.d[0];
            fs.d[0] = fs.d[1];
            fs.d[1] = swap;
        }
        if (!shape_eq(&fs, &w->shape)) {
            char b1[256], b2[256];
            ir_shape_str(m, &w->shape, b1, sizeof b1);
            ir_shape_str(m, &fs, b2, sizeof b2);
            diag_error(d, w->loc, "weight tensor '%s': the model says %s, %s has %s", w->tensor, b1, where, b2);
            continue;
        }
        if (w->declared >= 0 && w->declared != (int)t->dtype) {
            diag_error(d, w->loc, "weight tensor '%s': the model says %s, %s has %s", w->tensor,
                       dtype_name((DType)w->declared), where, t->dtype_raw ? t->dtype_raw : st_dtype_of(t->dtype));
            continue;
        }
        w->dtype = t->dtype;
        w->data = t->data;
    }
    ir_module_bind_concats(m);
    return d->n_errors > errs ? -1 : 0;
}

int fe_finish(Module *m, Diag *d)
{
    int errs = d->n_errors;
    for (int gi = 0; gi < m->n_graphs; gi++) {
        Graph *g = m->graphs[gi];
        /* aux marks nodes whose type is unknown, so one mistake is reported once */
        for (int i = 0; i < g->n_nodes; i++) g->nodes[i]->aux = NULL;
        for (int i = 0; i < g->n_nodes; i++) {
            Node *n = g->nodes[i];
            int poisoned = 0;
            for (int j = 0; j < n->n_in; j++) poisoned |= n->in[j]->aux != NULL;
            if (poisoned || ir_infer(m, n, d)) n->aux = n;
        }
        for (int i = 0; i < g->n_nodes; i++) g->nodes[i]->aux = NULL;
    }
    if (d->n_errors > errs) return -1;
    return ir_verify(m, d) ? -1 : 0;
}

Module *fe_load(Arena *a, Diag *d, const char *path, unsigned flags)
{
    Module *m;
    if (ends_with(path, ".kir")) {
        size_t len;
        char *text = file_read_max(d, path, FILE_READ_MAX, &len);
        if (!text) return NULL;
        m = ir_parse(a, d, path, text, len);
        free(text);
        if (!m) return NULL;
        /* the parser verified the types as written; binding checks the files agree */
        if (!(flags & FE_NO_WEIGHTS) && fe_bind_weights(m, d)) goto fail;
        return m;
    }
    m = fe_read_xml(a, d, path);
    if (!m) return NULL;
    int bound = (flags & FE_NO_WEIGHTS) ? 0 : fe_bind_weights(m, d);
    /* go on inferring even when weights failed, to report graph errors too */
    if (fe_finish(m, d) || bound) goto fail;
    return m;
fail:
    fe_release(m);
    return NULL;
}

/* The vocabulary of the model: the last dimension of a graph output named logits, when it
 * is a constant; 0 when no graph says. */
static int64_t model_vocab(const Module *m)
{
    for (int gi = 0; gi < m->n_graphs; gi++) {
        const Graph *g = m->graphs[gi];
        for (int i = 0; i < g->n_outputs; i++) {
            const Node *n = g->outputs[i].node;
            if (strcmp(g->outputs[i].name, "logits") != 0 || !n || n->shape.rank < 1) continue;
            Dim v = n->shape.d[n->shape.rank - 1];
            if (dim_is_const(v)) return v.k;
        }
    }
    return 0;
}

int fe_model_tokenizer(Module *m, Diag *d, void **blob, size_t *size)
{
    *blob = NULL;
    *size = 0;
    const TokenizerFiles *tf = &m->tokenizer;
    if (!tf->kind) return 0;
    const char *f0 = tf->n_files > 0 ? path_join(m->arena, m->base_dir, tf->files[0]) : NULL;
    int rc;
    if (strcmp(tf->kind, "gpt2") == 0 && tf->n_files == 2)
        rc = fe_gpt2_tokenizer_build(d, f0, path_join(m->arena, m->base_dir, tf->files[1]), blob, size);
    else if (strcmp(tf->kind, "llama2c") == 0 && f0)
        rc = fe_llama2c_tokenizer_build(d, f0, blob, size);
    else if (strcmp(tf->kind, "sentencepiece") == 0 && f0)
        rc = fe_spm_tokenizer_build(d, f0, blob, size);
    else if (strcmp(tf->kind, "hf") == 0 && f0)
        rc = fe_hf_tokenizer_build(d, f0, blob, size);
    else if (strcmp(tf->kind, "wordpiece") == 0 && f0)      /* XML lowercase="1" (default) */
        rc = fe_wordpiece_tokenizer_build(d, f0, 1, blob, size);
    else if (strcmp(tf->kind, "wordpiece_cased") == 0 && f0)    /* lowercase="0" */
        rc = fe_wordpiece_tokenizer_build(d, f0, 0, blob, size);
    else if (strcmp(tf->kind, "chars") == 0 && f0)
        rc = fe_chars_tokenizer_build(d, f0, blob, size);
    else
        return 0;       /* a kind this kiln cannot build */
    if (rc) return rc;
    /* ids the tokenizer makes must be rows of the embedding: no more tokens than the
     * vocabulary (a model may have more rows, padded); llama2.c's file, which does not say
     * its count, must match exactly */
    unsigned n = fe_tokenizer_blob_tokens(*blob, *size);
    int64_t vocab = model_vocab(m);
    int exact = strcmp(tf->kind, "llama2c") == 0;
    if (vocab > 0 && (exact ? (int64_t)n != vocab : (int64_t)n > vocab)) {
        diag_error(d, tf->loc, "tokenizer %s has %u tokens but the model's vocabulary is %lld", tf->files[0], n,
                   (long long)vocab);
        free(*blob);
        *blob = NULL;
        *size = 0;
        return -1;
    }
    return 0;
}

void fe_release(Module *m)
{
    if (!m) return;
    for (int f = 0; f < m->n_wfiles; f++)
        if (m->wfiles[f].handle) {
            st_close(m->wfiles[f].handle);
            m->wfiles[f].handle = NULL;
        }
}
