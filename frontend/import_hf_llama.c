/* import_hf_llama.c — a Hugging Face LlamaForCausalLM folder → a kiln model description.
 *
 * config.json gives the hyper-parameters (transformers' LlamaConfig names and defaults:
 * num_key_value_heads = num_attention_heads, rope_theta 10000, rms_norm_eps 1e-6,
 * tie_word_embeddings false, head_dim = hidden_size / num_attention_heads). What the graph
 * cannot express is refused by name: rope_scaling, attention or MLP biases, an activation
 * other than silu. The weights are model.safetensors, or the shards that
 * model.safetensors.index.json's weight_map names (one <weights> element each; tensors are
 * looked up in all of them). Before writing anything every tensor the model needs is looked
 * up and its shape checked against config.json, so a wrong folder is reported in the
 * folder's terms (config key, tensor name, shard) rather than as a line of the written XML.
 * The tokenizer is tokenizer.model (kind sentencepiece), else tokenizer.json (hf), unless
 * --tokenizer names one. The SentencePiece model comes first because a folder with both
 * (Llama 2, TinyLlama) has it as the original, tokenizer.json being its conversion to a
 * SentencePiece-style BPE that kind hf does not read (it reads ByteLevel BPE: Llama 3's
 * folders, which have tokenizer.json alone). RoPE pairs are rotate_half's (x[m], x[m + hd/2]). */
#include "frontend/import_impl.h"

#include <stdlib.h>
#include <string.h>

/* eos_token_id (or bos_token_id): an integer, or a list whose first element is taken; *n is
 * the list's length (1 for an integer, 0 when absent). */
static int token_id(Diag *d, const char *path, json_object *cfg, const char *key, int64_t vocab, int64_t *out, size_t *n)
{
    json_object *v = hf_key(cfg, key);
    *n = 0;
    if (!v) return 0;
    if (json_object_is_type(v, json_type_array)) {
        *n = json_object_array_length(v);
        if (*n == 0) return 0;
        v = json_object_array_get_idx(v, 0);
    } else {
        *n = 1;
    }
    if (!v || !json_object_is_type(v, json_type_int)) {
        diag_file_error(d, path, "'%s' must be a token id (an integer or a list of them)", key);
        return -1;
    }
    int64_t x = json_object_get_int64(v);
    if (x < 0 || x >= vocab) {
        diag_file_error(d, path, "'%s' = %lld is not a token id (vocab_size is %lld)", key, (long long)x, (long long)vocab);
        return -1;
    }
    *out = x;
    return 0;
}

int hf_llama_hparams(Diag *d, const char *path, json_object *cfg, LlamaHparams *h, int *explicit_head_dim)
{
    const int64_t big = (int64_t)1 << 24;
    memset(h, 0, sizeof *h);
    h->eps = 1e-6;
    h->theta = 10000;
    h->bos = h->eos = -1;
    *explicit_head_dim = 0;
    if (hf_int(d, path, cfg, "hidden_size", 1, 1, big, &h->dim) ||
        hf_int(d, path, cfg, "intermediate_size", 1, 1, big, &h->hidden) ||
        hf_int(d, path, cfg, "num_hidden_layers", 1, 1, 4096, &h->n_layer) ||
        hf_int(d, path, cfg, "num_attention_heads", 1, 1, 4096, &h->n_head) ||
        hf_int(d, path, cfg, "vocab_size", 1, 1, big, &h->vocab) ||
        hf_int(d, path, cfg, "max_position_embeddings", 1, 1, big, &h->n_ctx))
        return -1;
    h->n_kv_head = h->n_head;
    h->head_dim = -1;
    if (hf_int(d, path, cfg, "num_key_value_heads", 0, 1, 4096, &h->n_kv_head) ||
        hf_int(d, path, cfg, "head_dim", 0, 1, 65536, &h->head_dim) ||
        hf_num(d, path, cfg, "rms_norm_eps", 0, 1e-30, 1, &h->eps) ||
        hf_num(d, path, cfg, "rope_theta", 0, 1, 1e12, &h->theta) || hf_bool(d, path, cfg, "tie_word_embeddings", &h->tied))
        return -1;
    const char *act = "silu";
    int bias = 0;
    if (hf_str(d, path, cfg, "hidden_act", &act)) return -1;
    if (strcmp(act, "silu") != 0) {
        diag_file_error(d, path, "hidden_act '%s' is not supported: a LLaMA's feed-forward is SwiGLU (silu)", act);
        return -1;
    }
    json_object *rs = hf_key(cfg, "rope_scaling");
    if (rs) {
        json_object *t = NULL;
        const char *type = json_object_is_type(rs, json_type_object) &&
                           (json_object_object_get_ex(rs, "rope_type", &t) || json_object_object_get_ex(rs, "type", &t))
                           ? json_object_get_string(t) : NULL;
        diag_file_error(d, path, "rope_scaling%s%s%s is not supported: kiln's rope op has plain frequencies (theta^(-2m/hd))",
                        type ? " (type '" : "", type ? type : "", type ? "')" : "");
        return -1;
    }
    static const char *const biases[] = { "attention_bias", "mlp_bias" };
    for (int i = 0; i < 2; i++) {
        if (hf_bool(d, path, cfg, biases[i], &bias)) return -1;
        if (bias) {
            diag_file_error(d, path, "%s = true is not supported: kiln's LLaMA has no biases", biases[i]);
            return -1;
        }
    }
    const LlamaFieldNames fn = { "", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                                 "num_key_value_heads", h->head_dim > 0 ? "head_dim" : NULL, "vocab_size",
                                 "max_position_embeddings" };
    /* a head_dim that says what dim / n_head says is not worth a literal in the XML */
    *explicit_head_dim = h->head_dim > 0 && !(h->dim % h->n_head == 0 && h->head_dim == h->dim / h->n_head);
    if (llama_check(d, path, h, &fn)) return -1;
    if (h->head_dim <= 0) h->head_dim = h->dim / h->n_head;
    size_t n_eos, n_bos;
    if (token_id(d, path, cfg, "bos_token_id", h->vocab, &h->bos, &n_bos) ||
        token_id(d, path, cfg, "eos_token_id", h->vocab, &h->eos, &n_eos))
        return -1;
    return 0;
}

int fe_hf_llama_config(Diag *d, const char *name, const char *text, size_t len, LlamaHparams *h)
{
    json_object *cfg = hf_parse(d, name, text, len);
    int explicit_head_dim;
    int rc = cfg ? hf_llama_hparams(d, name, cfg, h, &explicit_head_dim) : -1;
    json_object_put(cfg);
    return rc;
}

/* ---- the folder ----------------------------------------------------------------------- */

static const char *shape_str(Arena *a, const int64_t *s, int rank)
{
    const char *out = "[";
    for (int k = 0; k < rank; k++) out = arena_printf(a, "%s%s%lld", out, k ? ", " : "", (long long)s[k]);
    return arena_printf(a, "%s]", out);
}

/* Every tensor the model reads is in one of the files, with the shape config.json gives. */
static int check_tensors(Diag *d, Arena *a, const char *cfg_path, const LlamaHparams *h, const char **files, int n_files)
{
    StFile *sf = arena_array(a, (size_t)n_files, sizeof *sf);
    int opened = 0, rc = -1;
    for (; opened < n_files; opened++)
        if (st_open(&sf[opened], files[opened], d, a)) goto out;
    for (int t = 0; t < LT_COUNT; t++) {
        if (t == LT_OUTPUT && h->tied) continue;
        for (int64_t l = 0; l < (llama_per_layer((LlamaTensor)t) ? h->n_layer : 1); l++) {
            const char *name = llama_name(a, &llama_names_hf, (LlamaTensor)t, l);
            const StTensor *st = NULL;
            const char *where = NULL;
            for (int i = 0; i < n_files && !st; i++)
                if ((st = st_find(&sf[i], name))) where = files[i];
            if (!st) {
                const char *in = n_files == 1 ? files[0] : arena_printf(a, "any of the %d shards", n_files);
                if (t == LT_OUTPUT)
                    diag_file_error(d, files[0], "no tensor 'lm_head.weight' in %s, and %s does not tie the output to "
                                                 "the embedding (tie_word_embeddings is false)", in, cfg_path);
                else if (t == LT_EMBED)
                    diag_file_error(d, files[0], "no tensor '%s' in %s: not the weights of a Hugging Face LlamaForCausalLM",
                                    name, in);
                else
                    diag_file_error(d, files[0], "no tensor '%s' in %s (%s: num_hidden_layers %lld)", name, in, cfg_path,
                                    (long long)h->n_layer);
                goto out;
            }
            int64_t want[2];
            int rank = llama_shape(h, (LlamaTensor)t, want);
            if (st->rank != rank || st->shape[0] != want[0] || (rank == 2 && st->shape[1] != want[1])) {
                diag_file_error(d, where, "tensor '%s' is %s, but %s makes it %s", name, shape_str(a, st->shape, st->rank),
                                cfg_path, shape_str(a, want, rank));
                goto out;
            }
            if (st->dtype != DT_F32 && st->dtype != DT_F16 && st->dtype != DT_BF16) {
                diag_file_error(d, where, "tensor '%s' is %s; kiln reads F32, F16 and BF16 weights", name, st->dtype_raw);
                goto out;
            }
        }
    }
    rc = 0;
out:
    for (int i = 0; i < opened; i++) st_close(&sf[i]);
    return rc;
}

int import_hf_llama(Diag *d, Arena *a, const char *dir, const char *cfg_path, json_object *cfg, const char *tokenizer,
                    const char *out_path)
{
    LlamaDesc m = { 0 };
    if (hf_llama_hparams(d, cfg_path, cfg, &m.h, &m.explicit_head_dim)) return -1;
    const char **files = NULL;
    int n_files = 0;
    if (hf_weight_files(d, a, dir, &files, &n_files)) return -1;
    if (n_files && check_tensors(d, a, cfg_path, &m.h, files, n_files)) return -1;
    if (!n_files) {
        diag_warning(d, loc_make(diag_file(d, dir), 0, 0),
                     "no model.safetensors (or model.safetensors.index.json) yet: the model is described without its "
                     "weights; `kiln check` verifies it once model.safetensors is there");
        files = arena_alloc(a, sizeof *files);
        files[n_files++] = path_join(a, dir, "model.safetensors");
    }
    const char *tok = tokenizer;
    if (tok) {
        if (!(m.tok_kind = import_tokenizer_kind(d, tok))) return -1;
    } else if (import_is_file(tok = path_join(a, dir, "tokenizer.model"))) {
        m.tok_kind = "sentencepiece";
    } else if (import_is_file(tok = path_join(a, dir, "tokenizer.json"))) {
        m.tok_kind = "hf";
    } else {
        tok = NULL;
        diag_warning(d, loc_make(diag_file(d, dir), 0, 0),
                     "no tokenizer.json or tokenizer.model: the model will take token ids only");
    }
    /* the XML must not replace what it describes */
    for (int i = -2; i < n_files; i++) {
        const char *in = i == -2 ? cfg_path : i == -1 ? tok : files[i];
        if (in && import_same_file(out_path, in)) {
            diag_file_error(d, out_path, "is one of the files being imported: refusing to overwrite it (choose another -o)");
            return -1;
        }
    }
    const char *out_dir = path_dirname(a, out_path);
    m.weights = arena_array(a, (size_t)n_files, sizeof *m.weights);
    for (int i = 0; i < n_files; i++) m.weights[i] = import_xml_escape(a, import_path(a, out_dir, files[i]));
    m.n_weights = n_files;
    m.tok_file = tok ? import_xml_escape(a, import_path(a, out_dir, tok)) : NULL;
    m.name = import_model_name(a, dir, 0);
    m.source = import_xml_escape(a, dir);
    m.kind_note = "A Hugging Face LlamaForCausalLM folder (config.json, safetensors); Hugging Face's tensor names.";
    m.pairing = "half";
    json_object *eos = hf_key(cfg, "eos_token_id");
    if (eos && json_object_is_type(eos, json_type_array) && json_object_array_length(eos) > 1)
        m.eos_note = arena_printf(a, "config.json's eos_token_id lists %zu ids; generation stops at the first",
                                  json_object_array_length(eos));
    m.names = &llama_names_hf;
    return llama_write_and_check(d, a, &m, out_path, n_files && import_is_file(files[0]) ? 0 : FE_NO_WEIGHTS);
}
