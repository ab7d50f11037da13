/* import_llama.c — what the two LLaMA importers share: tensor names and shapes, the checks
 * of the hyper-parameters, and the XML writer.
 *
 * A LLaMA is described once, whatever it came from: pre-RMSNorm blocks, RoPE on q and k,
 * grouped-query attention (the caches hold the kv heads; a `repeat` op along the heads feeds
 * the query heads, left out when every query head has its own kv head), SwiGLU, a final
 * RMSNorm and an output matrix or the token embedding (tied). The two sources differ in
 * tensor names (LlamaNames), in RoPE's pairing (llama2.c rotates adjacent pairs (x[2m],
 * x[2m+1]); Hugging Face's rotate_half pairs (x[m], x[m + hd/2]), having permuted q and k
 * rows at conversion) and in head_dim, which Hugging Face may give apart from dim / n_head.
 * The graph follows tests/ref/llama2xs/model.xml, op for op, so the passes see the pattern
 * they fuse. After writing, the model is loaded back (fe_load: schema, shapes, every weight's
 * name, dtype and shape) and its tokenizer built, so a successful import is a usable model. */
#include "frontend/import_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

const LlamaNames llama_names_llama2c = { {
    [LT_EMBED] = "tok_embeddings.weight",
    [LT_ATTN_NORM] = "layers.{i}.attention_norm.weight",
    [LT_WQ] = "layers.{i}.attention.wq.weight",
    [LT_WK] = "layers.{i}.attention.wk.weight",
    [LT_WV] = "layers.{i}.attention.wv.weight",
    [LT_WO] = "layers.{i}.attention.wo.weight",
    [LT_FFN_NORM] = "layers.{i}.ffn_norm.weight",
    [LT_W1] = "layers.{i}.feed_forward.w1.weight",
    [LT_W2] = "layers.{i}.feed_forward.w2.weight",
    [LT_W3] = "layers.{i}.feed_forward.w3.weight",
    [LT_NORM] = "norm.weight",
    [LT_OUTPUT] = "output.weight",
} };

const LlamaNames llama_names_hf = { {
    [LT_EMBED] = "model.embed_tokens.weight",
    [LT_ATTN_NORM] = "model.layers.{i}.input_layernorm.weight",
    [LT_WQ] = "model.layers.{i}.self_attn.q_proj.weight",
    [LT_WK] = "model.layers.{i}.self_attn.k_proj.weight",
    [LT_WV] = "model.layers.{i}.self_attn.v_proj.weight",
    [LT_WO] = "model.layers.{i}.self_attn.o_proj.weight",
    [LT_FFN_NORM] = "model.layers.{i}.post_attention_layernorm.weight",
    [LT_W1] = "model.layers.{i}.mlp.gate_proj.weight",
    [LT_W2] = "model.layers.{i}.mlp.down_proj.weight",
    [LT_W3] = "model.layers.{i}.mlp.up_proj.weight",
    [LT_NORM] = "model.norm.weight",
    [LT_OUTPUT] = "lm_head.weight",
} };

int llama_per_layer(LlamaTensor t)
{
    return t >= LT_ATTN_NORM && t <= LT_W3;
}

int llama_shape(const LlamaHparams *h, LlamaTensor t, int64_t s[2])
{
    int64_t q = h->n_head * h->head_dim, kv = h->n_kv_head * h->head_dim;
    switch (t) {
    case LT_EMBED: case LT_OUTPUT: s[0] = h->vocab, s[1] = h->dim; return 2;
    case LT_ATTN_NORM: case LT_FFN_NORM: case LT_NORM: s[0] = h->dim; return 1;
    case LT_WQ: s[0] = q, s[1] = h->dim; return 2;
    case LT_WK: case LT_WV: s[0] = kv, s[1] = h->dim; return 2;
    case LT_WO: s[0] = h->dim, s[1] = q; return 2;
    case LT_W1: case LT_W3: s[0] = h->hidden, s[1] = h->dim; return 2;
    case LT_W2: s[0] = h->dim, s[1] = h->hidden; return 2;
    default: KILN_UNREACHABLE();
    }
}

const char *llama_name(Arena *a, const LlamaNames *names, LlamaTensor t, int64_t i)
{
    const char *pat = names->name[t], *at = strstr(pat, "{i}");
    if (!at) return pat;
    return arena_printf(a, "%.*s%lld%s", (int)(at - pat), pat, (long long)i, at + 3);
}

int llama_check(Diag *d, const char *path, const LlamaHparams *h, const LlamaFieldNames *f)
{
    const struct { const char *name; int64_t v; } pos[] = {
        { f->dim, h->dim }, { f->hidden, h->hidden }, { f->n_layer, h->n_layer }, { f->n_head, h->n_head },
        { f->n_kv_head, h->n_kv_head }, { f->vocab, h->vocab }, { f->n_ctx, h->n_ctx },
    };
    for (size_t i = 0; i < sizeof pos / sizeof pos[0]; i++)
        if (pos[i].v <= 0) {
            diag_file_error(d, path, "%s'%s' is %lld: it must be positive", f->what, pos[i].name, (long long)pos[i].v);
            return -1;
        }
    if (!f->head_dim && h->dim % h->n_head) {
        diag_file_error(d, path, "%s'%s' %lld is not a multiple of '%s' %lld (the heads split the width)", f->what, f->dim,
                        (long long)h->dim, f->n_head, (long long)h->n_head);
        return -1;
    }
    if (h->n_head % h->n_kv_head) {
        diag_file_error(d, path, "%s'%s' %lld is not a multiple of '%s' %lld (each kv head serves as many query heads)",
                        f->what, f->n_head, (long long)h->n_head, f->n_kv_head, (long long)h->n_kv_head);
        return -1;
    }
    int64_t hd = f->head_dim ? h->head_dim : h->dim / h->n_head;
    if (hd <= 0 || hd % 2) {
        if (f->head_dim)
            diag_file_error(d, path, "%s'%s' %lld is odd: RoPE rotates pairs of a head's components", f->what, f->head_dim,
                            (long long)hd);
        else
            diag_file_error(d, path, "%sthe head size '%s' / '%s' = %lld is odd: RoPE rotates pairs of a head's components",
                            f->what, f->dim, f->n_head, (long long)hd);
        return -1;
    }
    return 0;
}

/* ---- the XML ------------------------------------------------------------------------------- */

static void write_xml(FILE *f, const LlamaDesc *m)
{
    const LlamaHparams *h = &m->h;
    const char *const *nm = m->names->name;
    char eps[32], theta[32];
    fmt_double(eps, sizeof eps, h->eps);
    if (h->theta == (double)(int64_t)h->theta) snprintf(theta, sizeof theta, "%lld", (long long)h->theta);
    else fmt_double(theta, sizeof theta, h->theta);     /* 10000, not fmt_double's 1e+04 */
    int gqa = h->n_kv_head != h->n_head;
    fprintf(f,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<!-- %s: a LLaMA, written by `kiln import` from %s.\n"
        "     %s\n"
        "     Pre-RMSNorm blocks, RoPE on q and k (%s), %s, SwiGLU, %s.\n"
        "     The format is docs/model-format.md; docs/import.md says how sources map onto it. -->\n"
        "<model name=\"%s\" family=\"llama\" format=\"1\">\n"
        "  <param name=\"n_layer\" value=\"%lld\"/>\n"
        "  <param name=\"dim\" value=\"%lld\"/>\n"
        "  <param name=\"n_head\" value=\"%lld\"/>\n"
        "  <param name=\"n_kv_head\" value=\"%lld\"/>\n",
        m->name, m->source, m->kind_note,
        !strcmp(m->pairing, "half") ? "pairs (x[m], x[m + hd/2]), as Hugging Face's rotate_half"
                                    : "adjacent pairs (x[2m], x[2m+1]), as llama2.c",
        gqa ? "grouped-query attention" : "multi-head attention",
        h->tied ? "output tied to the token embedding" : "untied output matrix",
        m->name, (long long)h->n_layer, (long long)h->dim, (long long)h->n_head, (long long)h->n_kv_head);
    if (m->explicit_head_dim) fprintf(f, "  <param name=\"head_dim\" value=\"%lld\"/>\n", (long long)h->head_dim);
    else fprintf(f, "  <param name=\"head_dim\" value=\"{dim / n_head}\"/>\n");
    fprintf(f,
        "  <param name=\"q_dim\" value=\"{n_head * head_dim}\"/>\n"
        "  <param name=\"kv_dim\" value=\"{n_kv_head * head_dim}\"/>\n"
        "  <param name=\"hidden\" value=\"%lld\"/>\n"
        "  <param name=\"vocab\" value=\"%lld\"/>\n"
        "  <param name=\"n_ctx\" value=\"%lld\"/>\n"
        "  <param name=\"eps\" value=\"%s\"/>\n"
        "  <param name=\"theta\" value=\"%s\"/>\n"
        "  <param name=\"pairing\" value=\"%s\"/>\n",
        (long long)h->hidden, (long long)h->vocab, (long long)h->n_ctx, eps, theta, m->pairing);
    if (h->bos >= 0) fprintf(f, "  <param name=\"bos\" value=\"%lld\"/>\n", (long long)h->bos);
    if (h->eos >= 0) {
        if (m->eos_note) fprintf(f, "  <!-- %s -->\n", m->eos_note);
        fprintf(f, "  <param name=\"eos\" value=\"%lld\"/>\n", (long long)h->eos);
    }
    fprintf(f,
        "\n"
        "  <dim name=\"batch\" max=\"1\"/>\n"
        "  <dim name=\"seq\" max=\"{n_ctx}\"/>\n"
        "  <dim name=\"past\" max=\"{n_ctx}\"/>\n"
        "\n");
    for (int i = 0; i < m->n_weights; i++) fprintf(f, "  <weights file=\"%s\"/>\n", m->weights[i]);
    if (m->tok_kind) fprintf(f, "  <tokenizer kind=\"%s\" file=\"%s\"/>\n", m->tok_kind, m->tok_file);
    fprintf(f,
        "\n"
        "  <!-- the caches hold the kv heads only (batch, kv heads, positions, hd) -->\n"
        "  <repeat var=\"i\" count=\"{n_layer}\">\n"
        "    <state name=\"l{i}.k\" shape=\"batch, {n_kv_head}, {n_ctx}, {head_dim}\"/>\n"
        "    <state name=\"l{i}.v\" shape=\"batch, {n_kv_head}, {n_ctx}, {head_dim}\"/>\n"
        "  </repeat>\n"
        "\n"
        "  <graph name=\"forward\">\n"
        "    <input name=\"tokens\" dtype=\"i32\" shape=\"batch, seq\"/>\n"
        "\n"
        "    <weight name=\"tok_emb.w\" tensor=\"%s\" shape=\"{vocab}, {dim}\"/>\n"
        "    <op kind=\"gather\" name=\"emb\" in=\"tok_emb.w, tokens\"/>             <!-- (batch, seq, dim) -->\n"
        "    <op kind=\"positions\" name=\"pos\" in=\"tokens\" start=\"past\"/>        <!-- (batch, seq): past, past+1, ... -->\n"
        "\n"
        "    <repeat var=\"i\" count=\"{n_layer}\" carry=\"x\" init=\"emb\" next=\"l{i}.out\" result=\"h\">\n"
        "      <weight name=\"l{i}.attn_norm.w\" tensor=\"%s\" shape=\"{dim}\"/>\n"
        "      <weight name=\"l{i}.wq\" tensor=\"%s\" shape=\"{q_dim}, {dim}\"/>\n"
        "      <weight name=\"l{i}.wk\" tensor=\"%s\" shape=\"{kv_dim}, {dim}\"/>\n"
        "      <weight name=\"l{i}.wv\" tensor=\"%s\" shape=\"{kv_dim}, {dim}\"/>\n"
        "      <weight name=\"l{i}.wo\" tensor=\"%s\" shape=\"{dim}, {q_dim}\"/>\n"
        "      <weight name=\"l{i}.ffn_norm.w\" tensor=\"%s\" shape=\"{dim}\"/>\n"
        "      <weight name=\"l{i}.w1\" tensor=\"%s\" shape=\"{hidden}, {dim}\"/>\n"
        "      <weight name=\"l{i}.w2\" tensor=\"%s\" shape=\"{dim}, {hidden}\"/>\n"
        "      <weight name=\"l{i}.w3\" tensor=\"%s\" shape=\"{hidden}, {dim}\"/>\n"
        "\n",
        nm[LT_EMBED], nm[LT_ATTN_NORM], nm[LT_WQ], nm[LT_WK], nm[LT_WV], nm[LT_WO], nm[LT_FFN_NORM], nm[LT_W1],
        nm[LT_W2], nm[LT_W3]);
    fprintf(f,
        "      <!-- attention; nn.Linear weights [out, in], no biases -->\n"
        "      <op kind=\"rmsnorm\" name=\"l{i}.attn_norm\" in=\"x, l{i}.attn_norm.w\" eps=\"{eps}\"/>\n"
        "      <op kind=\"matmul\" name=\"l{i}.q_cols\" in=\"l{i}.attn_norm, l{i}.wq\" tb=\"1\"/>   <!-- (batch, seq, q_dim) -->\n"
        "      <op kind=\"matmul\" name=\"l{i}.k_cols\" in=\"l{i}.attn_norm, l{i}.wk\" tb=\"1\"/>   <!-- (batch, seq, kv_dim) -->\n"
        "      <op kind=\"matmul\" name=\"l{i}.v_cols\" in=\"l{i}.attn_norm, l{i}.wv\" tb=\"1\"/>\n"
        "      <op kind=\"reshape\" name=\"l{i}.q_heads\" in=\"l{i}.q_cols\" shape=\"batch, seq, {n_head}, {head_dim}\"/>\n"
        "      <op kind=\"reshape\" name=\"l{i}.k_heads\" in=\"l{i}.k_cols\" shape=\"batch, seq, {n_kv_head}, {head_dim}\"/>\n"
        "      <op kind=\"reshape\" name=\"l{i}.v_heads\" in=\"l{i}.v_cols\" shape=\"batch, seq, {n_kv_head}, {head_dim}\"/>\n"
        "      <op kind=\"transpose\" name=\"l{i}.q_t\" in=\"l{i}.q_heads\" perm=\"0, 2, 1, 3\"/>   <!-- (batch, heads, seq, hd) -->\n"
        "      <op kind=\"transpose\" name=\"l{i}.k_t\" in=\"l{i}.k_heads\" perm=\"0, 2, 1, 3\"/>   <!-- (batch, kv heads, seq, hd) -->\n"
        "      <op kind=\"transpose\" name=\"l{i}.v\" in=\"l{i}.v_heads\" perm=\"0, 2, 1, 3\"/>\n"
        "      <!-- RoPE on q and k at positions past.. (keys are cached already rotated) -->\n"
        "      <op kind=\"rope\" name=\"l{i}.q\" in=\"l{i}.q_t, pos\" theta=\"{theta}\" pairing=\"{pairing}\"/>\n"
        "      <op kind=\"rope\" name=\"l{i}.k\" in=\"l{i}.k_t, pos\" theta=\"{theta}\" pairing=\"{pairing}\"/>\n"
        "      <op kind=\"cache\" name=\"l{i}.k_cached\" in=\"l{i}.k\" state=\"l{i}.k\" axis=\"2\" at=\"past\"/>\n"
        "      <op kind=\"cache\" name=\"l{i}.v_cached\" in=\"l{i}.v\" state=\"l{i}.v\" axis=\"2\" at=\"past\"/>\n");
    if (gqa)
        fprintf(f,
            "      <!-- grouped-query attention: kv head j serves query heads j * n_head / n_kv_head and on -->\n"
            "      <op kind=\"repeat\" name=\"l{i}.k_all\" in=\"l{i}.k_cached\" axis=\"1\" times=\"{n_head / n_kv_head}\"/>\n"
            "      <op kind=\"repeat\" name=\"l{i}.v_all\" in=\"l{i}.v_cached\" axis=\"1\" times=\"{n_head / n_kv_head}\"/>\n");
    const char *k_all = gqa ? "l{i}.k_all" : "l{i}.k_cached", *v_all = gqa ? "l{i}.v_all" : "l{i}.v_cached";
    fprintf(f,
        "      <op kind=\"matmul\" name=\"l{i}.scores\" in=\"l{i}.q, %s\" tb=\"1\"/>        <!-- (batch, heads, seq, past+seq) -->\n"
        "      <op kind=\"scale\" name=\"l{i}.scaled\" in=\"l{i}.scores\" value=\"{1 / sqrt(head_dim)}\"/>\n"
        "      <op kind=\"mask\" name=\"l{i}.masked\" in=\"l{i}.scaled\" causal=\"1\"/>\n"
        "      <op kind=\"softmax\" name=\"l{i}.probs\" in=\"l{i}.masked\"/>\n"
        "      <op kind=\"matmul\" name=\"l{i}.ctx\" in=\"l{i}.probs, %s\"/>              <!-- (batch, heads, seq, hd) -->\n"
        "      <op kind=\"transpose\" name=\"l{i}.ctx_t\" in=\"l{i}.ctx\" perm=\"0, 2, 1, 3\"/>\n"
        "      <op kind=\"reshape\" name=\"l{i}.ctx_cat\" in=\"l{i}.ctx_t\" shape=\"batch, seq, {q_dim}\"/>\n"
        "      <op kind=\"matmul\" name=\"l{i}.attn_out\" in=\"l{i}.ctx_cat, l{i}.wo\" tb=\"1\"/>\n"
        "      <op kind=\"add\" name=\"l{i}.res\" in=\"x, l{i}.attn_out\"/>\n"
        "\n"
        "      <!-- SwiGLU feed-forward: w2(silu(w1 b) * w3 b) -->\n"
        "      <op kind=\"rmsnorm\" name=\"l{i}.ffn_norm\" in=\"l{i}.res, l{i}.ffn_norm.w\" eps=\"{eps}\"/>\n"
        "      <op kind=\"matmul\" name=\"l{i}.gate\" in=\"l{i}.ffn_norm, l{i}.w1\" tb=\"1\"/>     <!-- (batch, seq, hidden) -->\n"
        "      <op kind=\"matmul\" name=\"l{i}.up\" in=\"l{i}.ffn_norm, l{i}.w3\" tb=\"1\"/>\n"
        "      <op kind=\"silu\" name=\"l{i}.gate_act\" in=\"l{i}.gate\"/>\n"
        "      <op kind=\"mul\" name=\"l{i}.glu\" in=\"l{i}.gate_act, l{i}.up\"/>\n"
        "      <op kind=\"matmul\" name=\"l{i}.ffn_out\" in=\"l{i}.glu, l{i}.w2\" tb=\"1\"/>\n"
        "      <op kind=\"add\" name=\"l{i}.out\" in=\"l{i}.res, l{i}.ffn_out\"/>\n"
        "    </repeat>\n"
        "\n"
        "    <weight name=\"norm.w\" tensor=\"%s\" shape=\"{dim}\"/>\n"
        "    <op kind=\"rmsnorm\" name=\"norm\" in=\"h, norm.w\" eps=\"{eps}\"/>\n",
        k_all, v_all, nm[LT_NORM]);
    if (h->tied)
        fprintf(f,
            "    <!-- tied output: logits = norm @ token embedding^T -->\n"
            "    <op kind=\"matmul\" name=\"lm_head\" in=\"norm, tok_emb.w\" tb=\"1\"/>               <!-- (batch, seq, vocab) -->\n");
    else
        fprintf(f,
            "    <weight name=\"output.w\" tensor=\"%s\" shape=\"{vocab}, {dim}\"/>\n"
            "    <op kind=\"matmul\" name=\"lm_head\" in=\"norm, output.w\" tb=\"1\"/>                <!-- (batch, seq, vocab) -->\n",
            nm[LT_OUTPUT]);
    fprintf(f,
        "    <output name=\"logits\" from=\"lm_head\"/>\n"
        "  </graph>\n"
        "</model>\n");
}

int llama_write_and_check(Diag *d, Arena *a, const LlamaDesc *m, const char *out_path, unsigned load_flags)
{
    FILE *f = fopen(out_path, "w");
    if (!f) {
        diag_file_error(d, out_path, "cannot write: %s", strerror(errno));
        return -1;
    }
    write_xml(f, m);
    if (ferror(f) | fclose(f)) {
        diag_file_error(d, out_path, "cannot write: %s", strerror(errno));
        return -1;
    }
    /* the proof: kiln accepts what it wrote, weights and tokenizer included */
    Module *mod = fe_load(a, d, out_path, load_flags);
    if (!mod) return -1;
    void *blob = NULL;
    size_t size = 0;
    int rc = fe_model_tokenizer(mod, d, &blob, &size);
    free(blob);
    fe_release(mod);
    return rc ? -1 : 0;
}
