/* import_hf.c — a Hugging Face model folder → a kiln model description (XML).
 *
 * Reads config.json with json-c, finds the weights (model.safetensors) and tokenizer files,
 * looks at the tensor names to learn the layout (with or without the `transformer.` prefix,
 * tied or separate output head), and writes the graph as primitive ops, one <repeat> for the
 * layers. The result is then loaded back with fe_load, so an import that succeeds has
 * produced a model kiln accepts, weights checked. GPT-2 is the family handled here; others
 * follow the same pattern. Paths in the XML are relative to the XML file. */
#include "frontend_impl.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <json-c/json.h>
#include <string.h>
#include <sys/stat.h>

typedef struct Gpt2Config {
    int64_t n_layer, n_head, n_embd, n_positions, vocab, n_inner;
    double eps;
    const char *act;        /* gelu op approx, or "relu" */
    int64_t eos;            /* -1 if none */
} Gpt2Config;

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int get_int(Diag *d, const char *path, json_object *cfg, const char *key, int64_t lo, int64_t hi, int64_t *out)
{
    json_object *v;
    if (!json_object_object_get_ex(cfg, key, &v) || !json_object_is_type(v, json_type_int)) {
        diag_file_error(d, path, "'%s' is missing or not an integer", key);
        return -1;
    }
    int64_t x = json_object_get_int64(v);
    if (x < lo || x > hi) {
        diag_file_error(d, path, "'%s' = %lld is out of range (%lld to %lld)", key, (long long)x, (long long)lo, (long long)hi);
        return -1;
    }
    *out = x;
    return 0;
}

static int read_config(Diag *d, const char *path, Gpt2Config *c)
{
    size_t len;
    char *text = file_read_all(d, path, &len);
    if (!text) return -1;
    json_tokener *tk = json_tokener_new();
    json_object *cfg = json_tokener_parse_ex(tk, text, (int)len);
    int rc = -1;
    if (!cfg || json_tokener_get_error(tk) != json_tokener_success) {
        diag_file_error(d, path, "not valid JSON (%s at byte %zu)", json_tokener_error_desc(json_tokener_get_error(tk)),
                        json_tokener_get_parse_end(tk));
        goto out;
    }
    if (!json_object_is_type(cfg, json_type_object)) {
        diag_file_error(d, path, "not a JSON object");
        goto out;
    }
    json_object *v;
    const char *type = json_object_object_get_ex(cfg, "model_type", &v) ? json_object_get_string(v) : NULL;
    if (!type || strcmp(type, "gpt2") != 0) {
        diag_file_error(d, path, "model_type '%s' is not supported by kiln import (supported: gpt2)", type ? type : "(none)");
        goto out;
    }
    const int64_t big = (int64_t)1 << 24;
    if (get_int(d, path, cfg, "n_layer", 1, 4096, &c->n_layer) || get_int(d, path, cfg, "n_head", 1, 4096, &c->n_head) ||
        get_int(d, path, cfg, "n_embd", 1, big, &c->n_embd) || get_int(d, path, cfg, "n_positions", 1, big, &c->n_positions) ||
        get_int(d, path, cfg, "vocab_size", 1, big, &c->vocab))
        goto out;
    if (c->n_embd % c->n_head) {
        diag_file_error(d, path, "n_embd %lld is not a multiple of n_head %lld", (long long)c->n_embd, (long long)c->n_head);
        goto out;
    }
    c->n_inner = 4 * c->n_embd;
    if (json_object_object_get_ex(cfg, "n_inner", &v) && !json_object_is_type(v, json_type_null) &&
        get_int(d, path, cfg, "n_inner", 1, big, &c->n_inner))
        goto out;
    c->eps = 1e-5;
    if (json_object_object_get_ex(cfg, "layer_norm_epsilon", &v)) {
        if (!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int)) {
            diag_file_error(d, path, "'layer_norm_epsilon' is not a number");
            goto out;
        }
        c->eps = json_object_get_double(v);
        if (!(c->eps > 0)) {
            diag_file_error(d, path, "'layer_norm_epsilon' must be positive");
            goto out;
        }
    }
    const char *act = json_object_object_get_ex(cfg, "activation_function", &v) ? json_object_get_string(v) : "gelu_new";
    if (!strcmp(act, "gelu_new") || !strcmp(act, "gelu_pytorch_tanh") || !strcmp(act, "gelu_fast")) c->act = "tanh";
    else if (!strcmp(act, "gelu")) c->act = "erf";
    else if (!strcmp(act, "relu")) c->act = "relu";
    else {
        diag_file_error(d, path, "activation_function '%s' is not supported (gelu_new, gelu, relu)", act);
        goto out;
    }
    if (json_object_object_get_ex(cfg, "scale_attn_by_inverse_layer_idx", &v) && json_object_get_boolean(v)) {
        diag_file_error(d, path, "scale_attn_by_inverse_layer_idx is not supported");
        goto out;
    }
    c->eos = -1;
    if (json_object_object_get_ex(cfg, "eos_token_id", &v) && json_object_is_type(v, json_type_int))
        c->eos = json_object_get_int64(v);
    rc = 0;
out:
    json_object_put(cfg);
    json_tokener_free(tk);
    free(text);
    return rc;
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

/* The folder's last component, kept to name characters: models/gpt2-medium/ → gpt2-medium. */
static const char *model_name(Arena *a, const char *dir)
{
    char abs[4096];
    const char *p = realpath(dir, abs) ? abs : dir;
    const char *slash = strrchr(p, '/');
    const char *base = slash && slash[1] ? slash + 1 : p;
    char *name = arena_strdup(a, base);
    for (char *q = name; *q; q++)
        if (!isalnum((unsigned char)*q) && *q != '-' && *q != '_' && *q != '.') *q = '_';
    return name[0] ? name : "model";
}

int fe_import_hf(Diag *d, const char *dir, const char *out_path)
{
    Arena a = { 0 };
    int rc = -1;
    Gpt2Config c;
    const char *cfg = path_join(&a, dir, "config.json");
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        diag_file_error(d, dir, "%s", stat(dir, &st) != 0 ? "no such directory" : "not a directory (kiln import reads a model folder)");
        goto out;
    }
    if (!exists(cfg)) {
        diag_file_error(d, dir, "no config.json: not a Hugging Face model folder");
        goto out;
    }
    if (read_config(d, cfg, &c)) goto out;
    const char *weights = path_join(&a, dir, "model.safetensors");
    const char *prefix = "", *vocab = NULL, *merges = NULL;
    int tied = 1, have_weights = exists(weights);
    if (have_weights) {
        StFile sf;
        if (st_open(&sf, weights, d, &a)) goto out;
        prefix = st_find(&sf, "transformer.wte.weight") ? "transformer." : "";
        int have_wte = st_find(&sf, "transformer.wte.weight") || st_find(&sf, "wte.weight");
        tied = !st_find(&sf, "lm_head.weight");
        st_close(&sf);
        if (!have_wte) {
            diag_file_error(d, weights, "no tensor 'wte.weight' or 'transformer.wte.weight': not GPT-2 weights");
            goto out;
        }
    } else if (exists(path_join(&a, dir, "pytorch_model.bin"))) {
        diag_file_error(d, dir, "has pytorch_model.bin but no model.safetensors; kiln reads safetensors "
                                "(convert with the safetensors library)");
        goto out;
    } else {
        /* Describe the model now, check it once the weights are downloaded. */
        diag_warning(d, loc_make(diag_file(d, dir), 0, 0),
                     "no model.safetensors yet: assuming the Hugging Face hub layout (tensor names without "
                     "'transformer.', tied head, vocab.json + merges.txt); `kiln check` verifies it once the files are there");
    }
    static const char *pairs[2][2] = { { "vocab.json", "merges.txt" }, { "encoder.json", "vocab.bpe" } };
    for (int i = 0; i < 2 && !vocab; i++)
        if (exists(path_join(&a, dir, pairs[i][0])) && exists(path_join(&a, dir, pairs[i][1]))) {
            vocab = path_join(&a, dir, pairs[i][0]);
            merges = path_join(&a, dir, pairs[i][1]);
        }
    if (!vocab && !have_weights) {
        vocab = path_join(&a, dir, "vocab.json");
        merges = path_join(&a, dir, "merges.txt");
    } else if (!vocab) {
        diag_warning(d, loc_make(diag_file(d, dir), 0, 0),
                     "no tokenizer files (vocab.json + merges.txt): the model will take token ids only");
    }
    const char *out_dir = path_dirname(&a, out_path);
    FILE *f = fopen(out_path, "w");
    if (!f) {
        diag_file_error(d, out_path, "cannot write: %s", strerror(errno));
        goto out;
    }
    write_gpt2(f, &c, model_name(&a, dir), dir, path_relative(&a, out_dir, weights), vocab ? path_relative(&a, out_dir, vocab) : NULL,
               merges ? path_relative(&a, out_dir, merges) : NULL, prefix, tied);
    if (fclose(f) != 0) {
        diag_file_error(d, out_path, "cannot write: %s", strerror(errno));
        goto out;
    }
    /* the proof: kiln accepts what it wrote, weights included when they are there */
    Module *m = fe_load(&a, d, out_path, have_weights ? 0 : FE_NO_WEIGHTS);
    if (m) {
        fe_release(m);
        rc = 0;
    }
out:
    arena_free(&a);
    return rc;
}
