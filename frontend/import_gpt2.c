/* import_gpt2.c — a Hugging Face GPT-2 folder → a kiln model description (XML).
 *
 * Reads the keys of config.json (parsed by import_hf.c), finds the weights (model.safetensors)
 * and tokenizer files, looks at the tensor names to learn the layout (with or without the
 * `transformer.` prefix, tied or separate output head), and writes the graph as primitive ops,
 * one <repeat> for the layers. The result is then loaded back with fe_load, so an import that
 * succeeds has produced a model kiln accepts, weights checked. Paths in the XML are relative
 * to the XML file. */
#include "frontend/import_impl.h"

#include <errno.h>
#include <string.h>

typedef struct Gpt2Config {
    int64_t n_layer, n_head, n_embd, n_positions, vocab, n_inner;
    double eps;
    const char *act;        /* gelu op approx, or "relu" */
    int64_t eos;            /* -1 if none */
} Gpt2Config;

static int read_config(Diag *d, const char *path, json_object *cfg, Gpt2Config *c)
{
    const int64_t big = (int64_t)1 << 24;
    if (hf_int(d, path, cfg, "n_layer", 1, 1, 4096, &c->n_layer) || hf_int(d, path, cfg, "n_head", 1, 1, 4096, &c->n_head) ||
        hf_int(d, path, cfg, "n_embd", 1, 1, big, &c->n_embd) || hf_int(d, path, cfg, "n_positions", 1, 1, big, &c->n_positions) ||
        hf_int(d, path, cfg, "vocab_size", 1, 1, big, &c->vocab))
        return -1;
    if (c->n_embd % c->n_head) {
        diag_file_error(d, path, "n_embd %lld is not a multiple of n_head %lld", (long long)c->n_embd, (long long)c->n_head);
        return -1;
    }
    c->n_inner = 4 * c->n_embd;
    c->eps = 1e-5;
    if (hf_int(d, path, cfg, "n_inner", 0, 1, big, &c->n_inner) ||
        hf_num(d, path, cfg, "layer_norm_epsilon", 0, 1e-300, 1, &c->eps))
        return -1;
    const char *act = "gelu_new";
    if (hf_str(d, path, cfg, "activation_function", &act)) return -1;
    if (!strcmp(act, "gelu_new") || !strcmp(act, "gelu_pytorch_tanh") || !strcmp(act, "gelu_fast")) c->act = "tanh";
    else if (!strcmp(act, "gelu")) c->act = "erf";
    else if (!strcmp(act, "relu")) c->act = "relu";
    else {
        diag_file_error(d, path, "activation_function '%s' is not supported (gelu_new, gelu, relu)", act);
        return -1;
    }
    json_object *v = hf_key(cfg, "scale_attn_by_inverse_layer_idx");
    if (v && json_object_get_boolean(v)) {
        diag_file_error(d, path, "scale_attn_by_inverse_layer_idx is not supported");
        return -1;
    }
    c->eos = -1;
    if ((v = hf_key(cfg, "eos_token_id")) && json_object_is_type(v, json_type_int)) c->eos = json_object_get_int64(v);
    return 0;
}

/* The GPT-2 graph. prefix is "" or "transformer."; tied says the head reuses wte. */
static void write_gpt2(FILE *f, const Gpt2Config *c, const char *name, const char *src, const char *weights,
                       const char *vocab, const char *merges, const char *prefix, int tied)
{
    char eps[32];
    fmt_double(eps, sizeof eps, c->eps);
    fprintf(f,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<!-- GPT-2, written by `kiln import` from %s. The format is docs/model-format.md. -->\n"
        "<model name=\"%s\" family=\"gpt2\" format=\"1\">\n"
        "  <param name=\"n_layer\" value=\"%lld\"/>\n"
        "  <param name=\"n_head\" value=\"%lld\"/>\n"
        "  <param name=\"n_embd\" value=\"%lld\"/>\n"
        "  <param name=\"n_inner\" value=\"%lld\"/>\n"
        "  <param name=\"n_ctx\" value=\"%lld\"/>\n"
        "  <param name=\"vocab\" value=\"%lld\"/>\n"
        "  <param name=\"eps\" value=\"%s\"/>\n"
        "  <param name=\"head_dim\" value=\"{n_embd / n_head}\"/>\n"
        "  <param name=\"p\" value=\"%s\"/>\n",
        src, name, (long long)c->n_layer, (long long)c->n_head, (long long)c->n_embd, (long long)c->n_inner,
        (long long)c->n_positions, (long long)c->vocab, eps, prefix);
    if (c->eos >= 0) fprintf(f, "  <param name=\"eos\" value=\"%lld\"/>\n", (long long)c->eos);
    fprintf(f,
        "  <dim name=\"batch\" max=\"1\"/>\n"
        "  <dim name=\"seq\" max=\"{n_ctx}\"/>\n"
        "  <dim name=\"past\" max=\"{n_ctx}\"/>\n"
        "  <weights file=\"%s\"/>\n", weights);
    if (vocab) fprintf(f, "  <tokenizer kind=\"gpt2\" vocab=\"%s\" merges=\"%s\"/>\n", vocab, merges);
    fprintf(f,
        "  <repeat var=\"i\" count=\"{n_layer}\">\n"
        "    <state name=\"l{i}.k\" shape=\"batch, {n_head}, {n_ctx}, {head_dim}\"/>\n"
        "    <state name=\"l{i}.v\" shape=\"batch, {n_head}, {n_ctx}, {head_dim}\"/>\n"
        "  </repeat>\n"
        "  <graph name=\"forward\">\n"
        "    <input name=\"tokens\" dtype=\"i32\" shape=\"batch, seq\"/>\n"
        "    <weight name=\"wte\" tensor=\"{p}wte.weight\" shape=\"{vocab}, {n_embd}\"/>\n"
        "    <weight name=\"wpe\" tensor=\"{p}wpe.weight\" shape=\"{n_ctx}, {n_embd}\"/>\n"
        "    <op kind=\"gather\" name=\"tok_emb\" in=\"wte, tokens\"/>\n"
        "    <op kind=\"positions\" name=\"pos\" in=\"tokens\" start=\"past\"/>\n"
        "    <op kind=\"gather\" name=\"pos_emb\" in=\"wpe, pos\"/>\n"
        "    <op kind=\"add\" name=\"emb\" in=\"tok_emb, pos_emb\"/>\n"
        "    <!-- x is the residual stream: emb for layer 0, then the previous layer's l{i}.out -->\n"
        "    <repeat var=\"i\" count=\"{n_layer}\" carry=\"x\" init=\"emb\" next=\"l{i}.out\" result=\"h\">\n"
        "      <weight name=\"l{i}.ln_1.w\" tensor=\"{p}h.{i}.ln_1.weight\" shape=\"{n_embd}\"/>\n"
        "      <weight name=\"l{i}.ln_1.b\" tensor=\"{p}h.{i}.ln_1.bias\" shape=\"{n_embd}\"/>\n"
        "      <weight name=\"l{i}.attn.w\" tensor=\"{p}h.{i}.attn.c_attn.weight\" shape=\"{n_embd}, {3 * n_embd}\"/>\n"
        "      <weight name=\"l{i}.attn.b\" tensor=\"{p}h.{i}.attn.c_attn.bias\" shape=\"{3 * n_embd}\"/>\n"
        "      <weight name=\"l{i}.proj.w\" tensor=\"{p}h.{i}.attn.c_proj.weight\" shape=\"{n_embd}, {n_embd}\"/>\n"
        "      <weight name=\"l{i}.proj.b\" tensor=\"{p}h.{i}.attn.c_proj.bias\" shape=\"{n_embd}\"/>\n"
        "      <weight name=\"l{i}.ln_2.w\" tensor=\"{p}h.{i}.ln_2.weight\" shape=\"{n_embd}\"/>\n"
        "      <weight name=\"l{i}.ln_2.b\" tensor=\"{p}h.{i}.ln_2.bias\" shape=\"{n_embd}\"/>\n"
        "      <weight name=\"l{i}.fc.w\" tensor=\"{p}h.{i}.mlp.c_fc.weight\" shape=\"{n_embd}, {n_inner}\"/>\n"
        "      <weight name=\"l{i}.fc.b\" tensor=\"{p}h.{i}.mlp.c_fc.bias\" shape=\"{n_inner}\"/>\n"
        "      <weight name=\"l{i}.mlp_proj.w\" tensor=\"{p}h.{i}.mlp.c_proj.weight\" shape=\"{n_inner}, {n_embd}\"/>\n"
        "      <weight name=\"l{i}.mlp_proj.b\" tensor=\"{p}h.{i}.mlp.c_proj.bias\" shape=\"{n_embd}\"/>\n"
        "      <!-- attention: Conv1D weights are stored [in, out], so no tb -->\n"
        "      <op kind=\"layernorm\" name=\"l{i}.ln_1\" in=\"x, l{i}.ln_1.w, l{i}.ln_1.b\" eps=\"{eps}\"/>\n"
        "      <op kind=\"matmul\" name=\"l{i}.qkv_mm\" in=\"l{i}.ln_1, l{i}.attn.w\"/>\n"
        "      <op kind=\"add\" name=\"l{i}.qkv\" in=\"l{i}.qkv_mm, l{i}.attn.b\"/>\n"
        "      <op kind=\"slice\" name=\"l{i}.q_flat\" in=\"l{i}.qkv\" axis=\"2\" start=\"0\" len=\"{n_embd}\"/>\n"
        "      <op kind=\"slice\" name=\"l{i}.k_flat\" in=\"l{i}.qkv\" axis=\"2\" start=\"{n_embd}\" len=\"{n_embd}\"/>\n"
        "      <op kind=\"slice\" name=\"l{i}.v_flat\" in=\"l{i}.qkv\" axis=\"2\" start=\"{2 * n_embd}\" len=\"{n_embd}\"/>\n"
        "      <op kind=\"reshape\" name=\"l{i}.q_split\" in=\"l{i}.q_flat\" shape=\"batch, seq, {n_head}, {head_dim}\"/>\n"
        "      <op kind=\"reshape\" name=\"l{i}.k_split\" in=\"l{i}.k_flat\" shape=\"batch, seq, {n_head}, {head_dim}\"/>\n"
        "      <op kind=\"reshape\" name=\"l{i}.v_split\" in=\"l{i}.v_flat\" shape=\"batch, seq, {n_head}, {head_dim}\"/>\n"
        "      <op kind=\"transpose\" name=\"l{i}.q\" in=\"l{i}.q_split\" perm=\"0, 2, 1, 3\"/>\n"
        "      <op kind=\"transpose\" name=\"l{i}.k\" in=\"l{i}.k_split\" perm=\"0, 2, 1, 3\"/>\n"
        "      <op kind=\"transpose\" name=\"l{i}.v\" in=\"l{i}.v_split\" perm=\"0, 2, 1, 3\"/>\n"
        "      <op kind=\"cache\" name=\"l{i}.k_all\" in=\"l{i}.k\" state=\"l{i}.k\" axis=\"2\" at=\"past\"/>\n"
        "      <op kind=\"cache\" name=\"l{i}.v_all\" in=\"l{i}.v\" state=\"l{i}.v\" axis=\"2\" at=\"past\"/>\n"
        "      <op kind=\"matmul\" name=\"l{i}.scores\" in=\"l{i}.q, l{i}.k_all\" tb=\"1\"/>\n"
        "      <op kind=\"scale\" name=\"l{i}.scaled\" in=\"l{i}.scores\" value=\"{1 / sqrt(head_dim)}\"/>\n"
        "      <op kind=\"mask\" name=\"l{i}.masked\" in=\"l{i}.scaled\" causal=\"1\"/>\n"
        "      <op kind=\"softmax\" name=\"l{i}.probs\" in=\"l{i}.masked\"/>\n"
        "      <op kind=\"matmul\" name=\"l{i}.ctx\" in=\"l{i}.probs, l{i}.v_all\"/>\n"
        "      <op kind=\"transpose\" name=\"l{i}.ctx_t\" in=\"l{i}.ctx\" perm=\"0, 2, 1, 3\"/>\n"
        "      <op kind=\"reshape\" name=\"l{i}.ctx_flat\" in=\"l{i}.ctx_t\" shape=\"batch, seq, {n_embd}\"/>\n"
        "      <op kind=\"matmul\" name=\"l{i}.attn_mm\" in=\"l{i}.ctx_flat, l{i}.proj.w\"/>\n"
        "      <op kind=\"add\" name=\"l{i}.attn_out\" in=\"l{i}.attn_mm, l{i}.proj.b\"/>\n"
        "      <op kind=\"add\" name=\"l{i}.res\" in=\"x, l{i}.attn_out\"/>\n"
        "      <!-- MLP -->\n"
        "      <op kind=\"layernorm\" name=\"l{i}.ln_2\" in=\"l{i}.res, l{i}.ln_2.w, l{i}.ln_2.b\" eps=\"{eps}\"/>\n"
        "      <op kind=\"matmul\" name=\"l{i}.fc_mm\" in=\"l{i}.ln_2, l{i}.fc.w\"/>\n"
        "      <op kind=\"add\" name=\"l{i}.fc\" in=\"l{i}.fc_mm, l{i}.fc.b\"/>\n");
    if (!strcmp(c->act, "relu"))
        fprintf(f, "      <op kind=\"relu\" name=\"l{i}.act\" in=\"l{i}.fc\"/>\n");
    else
        fprintf(f, "      <op kind=\"gelu\" name=\"l{i}.act\" in=\"l{i}.fc\" approx=\"%s\"/>\n", c->act);
    fprintf(f,
        "      <op kind=\"matmul\" name=\"l{i}.mlp_mm\" in=\"l{i}.act, l{i}.mlp_proj.w\"/>\n"
        "      <op kind=\"add\" name=\"l{i}.mlp_out\" in=\"l{i}.mlp_mm, l{i}.mlp_proj.b\"/>\n"
        "      <op kind=\"add\" name=\"l{i}.out\" in=\"l{i}.res, l{i}.mlp_out\"/>\n"
        "    </repeat>\n"
        "    <weight name=\"ln_f.w\" tensor=\"{p}ln_f.weight\" shape=\"{n_embd}\"/>\n"
        "    <weight name=\"ln_f.b\" tensor=\"{p}ln_f.bias\" shape=\"{n_embd}\"/>\n"
        "    <op kind=\"layernorm\" name=\"ln_f\" in=\"h, ln_f.w, ln_f.b\" eps=\"{eps}\"/>\n");
    if (tied)
        fprintf(f, "    <!-- the output head is the embedding table (tied) -->\n"
                   "    <op kind=\"matmul\" name=\"lm_head\" in=\"ln_f, wte\" tb=\"1\"/>\n");
    else
        fprintf(f, "    <weight name=\"lm_head.w\" tensor=\"lm_head.weight\" shape=\"{vocab}, {n_embd}\"/>\n"
                   "    <op kind=\"matmul\" name=\"lm_head\" in=\"ln_f, lm_head.w\" tb=\"1\"/>\n");
    fprintf(f,
        "    <output name=\"logits\" from=\"lm_head\"/>\n"
        "  </graph>\n"
        "</model>\n");
}

int import_gpt2(Diag *d, Arena *a, const char *dir, const char *cfg_path, json_object *cfg, const char *tokenizer,
                const char *out_path)
{
    Gpt2Config c;
    if (read_config(d, cfg_path, cfg, &c)) return -1;
    if (tokenizer) {
        diag_file_error(d, tokenizer, "--tokenizer is for LLaMA models; a GPT-2 folder's tokenizer is its vocab.json + "
                                      "merges.txt (or encoder.json + vocab.bpe)");
        return -1;
    }
    const char *weights = path_join(a, dir, "model.safetensors");
    const char *prefix = "", *vocab = NULL, *merges = NULL;
    int tied = 1, have_weights = import_is_file(weights);
    if (have_weights) {
        StFile sf;
        if (st_open(&sf, weights, d, a)) return -1;
        prefix = st_find(&sf, "transformer.wte.weight") ? "transformer." : "";
        int have_wte = st_find(&sf, "transformer.wte.weight") || st_find(&sf, "wte.weight");
        tied = !st_find(&sf, "lm_head.weight");
        st_close(&sf);
        if (!have_wte) {
            diag_file_error(d, weights, "no tensor 'wte.weight' or 'transformer.wte.weight': not GPT-2 weights");
            return -1;
        }
    } else if (import_is_file(path_join(a, dir, "pytorch_model.bin"))) {
        diag_file_error(d, dir, "has pytorch_model.bin but no model.safetensors; kiln reads safetensors "
                                "(convert with the safetensors library)");
        return -1;
    } else {
        /* Describe the model now, check it once the weights are downloaded. */
        diag_warning(d, loc_make(diag_file(d, dir), 0, 0),
                     "no model.safetensors yet: assuming the Hugging Face hub layout (tensor names without "
                     "'transformer.', tied head, vocab.json + merges.txt); `kiln check` verifies it once the files are there");
    }
    static const char *pairs[2][2] = { { "vocab.json", "merges.txt" }, { "encoder.json", "vocab.bpe" } };
    for (int i = 0; i < 2 && !vocab; i++)
        if (import_is_file(path_join(a, dir, pairs[i][0])) && import_is_file(path_join(a, dir, pairs[i][1]))) {
            vocab = path_join(a, dir, pairs[i][0]);
            merges = path_join(a, dir, pairs[i][1]);
        }
    if (!vocab && !have_weights) {
        vocab = path_join(a, dir, "vocab.json");
        merges = path_join(a, dir, "merges.txt");
    } else if (!vocab) {
        diag_warning(d, loc_make(diag_file(d, dir), 0, 0),
                     "no tokenizer files (vocab.json + merges.txt): the model will take token ids only");
    }
    const char *out_dir = path_dirname(a, out_path);
    FILE *f = fopen(out_path, "w");
    if (!f) {
        diag_file_error(d, out_path, "cannot write: %s", strerror(errno));
        return -1;
    }
    write_gpt2(f, &c, import_model_name(a, dir, 0), import_xml_escape(a, dir),
               import_xml_escape(a, import_path(a, out_dir, weights)),
               vocab ? import_xml_escape(a, import_path(a, out_dir, vocab)) : NULL,
               merges ? import_xml_escape(a, import_path(a, out_dir, merges)) : NULL, prefix, tied);
    if (fclose(f) != 0) {
        diag_file_error(d, out_path, "cannot write: %s", strerror(errno));
        return -1;
    }
    /* the proof: kiln accepts what it wrote, weights included when they are there */
    Module *m = fe_load(a, d, out_path, have_weights ? 0 : FE_NO_WEIGHTS);
    if (!m) return -1;
    fe_release(m);
    return 0;
}
