/* import_hf_bert.c — a Hugging Face encoder folder (BERT, ALBERT, DistilBERT, ELECTRA) → a kiln
 * model description.
 *
 * The four families are one graph: embeddings (word + token type + position, LayerNorm; ALBERT
 * and ELECTRA then map the embedding size to the hidden size with a Linear), post-LN layers
 * (self-attention with padded keys masked, residual, LayerNorm; feed-forward, residual,
 * LayerNorm), then the heads the weights have. Only tensor names and a few switches differ, so
 * each family is a table of names (Names) and the writer is shared. ALBERT's one layer group
 * is the same tensors in every layer of the repeat (its weight sharing); DistilBERT has no
 * token types. The heads: an MLM head (dense, activation, LayerNorm, the word embeddings as
 * decoder, a bias) gives `logits`; ELECTRA's discriminator (dense, activation, a 1-wide dense)
 * gives `replaced`; a BERT or ALBERT pooler gives `pooled`; `hidden` is always there. A head
 * is taken when its first tensor is in the weights, then all of its tensors must be.
 *
 * config.json gives the sizes under each family's keys (DistilBERT: dim, n_layers, ...) with
 * transformers' defaults for the optional ones. The XML is written to memory while every
 * weight it names is noted (with {p}, the name prefix, and {i}, the layer, as in the XML);
 * the notes are then looked up in the weight files and their shapes compared with
 * config.json's, so a wrong folder is reported in its own terms before anything is written.
 * LayerNorm tensors may be named gamma/beta (checkpoints converted from TensorFlow).
 * The tokenizer is vocab.txt (WordPiece), cased or not as tokenizer_config.json's
 * do_lower_case says (transformers' default for all four: lowercase). The written file is
 * loaded back like the other importers' (weights and tokenizer built). */
#include "frontend/import_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef enum Family { FAM_BERT, FAM_ALBERT, FAM_DISTILBERT, FAM_ELECTRA, FAM_COUNT } Family;

static const char *const fam_name[FAM_COUNT] = { "bert", "albert", "distilbert", "electra" };
static const char *const fam_title[FAM_COUNT] = { "BERT", "ALBERT", "DistilBERT", "ELECTRA" };

/* The activations of transformers' ACT2FN that kiln has as ops. gelu_fast is gelu_new's
 * formula written differently. */
typedef enum Act { ACT_GELU_ERF, ACT_GELU_TANH, ACT_RELU, ACT_SILU } Act;

static const struct {
    const char *name;
    Act act;
} acts[] = {
    { "gelu", ACT_GELU_ERF }, { "gelu_new", ACT_GELU_TANH }, { "gelu_pytorch_tanh", ACT_GELU_TANH },
    { "gelu_fast", ACT_GELU_TANH }, { "relu", ACT_RELU }, { "silu", ACT_SILU }, { "swish", ACT_SILU },
};

/* Tensor names of a family, without ".weight" / ".bias". The encoder's are under the prefix
 * {p} ("bert." or ""); `layer` holds {i} unless the layers share one set (ALBERT); the
 * heads' names are at the top level, as transformers saves them. NULL: the family has none. */
typedef struct Names {
    const char *word, *pos, *type, *emb_ln, *project;
    const char *layer, *q, *k, *v, *o, *ln1, *ff1, *ff2, *ln2;
    const char *pooler;
    const char *mlm_dense, *mlm_ln, *mlm_bias, *mlm_bias_alt, *mlm_decoder;
    const char *disc_dense, *disc_pred;
} Names;

static const Names fam_names[FAM_COUNT] = {
    [FAM_BERT] = {
        "embeddings.word_embeddings", "embeddings.position_embeddings", "embeddings.token_type_embeddings",
        "embeddings.LayerNorm", NULL,
        "encoder.layer.{i}.", "attention.self.query", "attention.self.key", "attention.self.value",
        "attention.output.dense", "attention.output.LayerNorm", "intermediate.dense", "output.dense", "output.LayerNorm",
        "pooler.dense",
        "cls.predictions.transform.dense", "cls.predictions.transform.LayerNorm", "cls.predictions.bias",
        "cls.predictions.decoder.bias", "cls.predictions.decoder.weight",
        NULL, NULL,
    },
    [FAM_ALBERT] = {
        "embeddings.word_embeddings", "embeddings.position_embeddings", "embeddings.token_type_embeddings",
        "embeddings.LayerNorm", "encoder.embedding_hidden_mapping_in",
        "encoder.albert_layer_groups.0.albert_layers.0.", "attention.query", "attention.key", "attention.value",
        "attention.dense", "attention.LayerNorm", "ffn", "ffn_output", "full_layer_layer_norm",
        "pooler",
        "predictions.dense", "predictions.LayerNorm", "predictions.bias", "predictions.decoder.bias",
        "predictions.decoder.weight",
        NULL, NULL,
    },
    [FAM_DISTILBERT] = {
        "embeddings.word_embeddings", "embeddings.position_embeddings", NULL, "embeddings.LayerNorm", NULL,
        "transformer.layer.{i}.", "attention.q_lin", "attention.k_lin", "attention.v_lin", "attention.out_lin",
        "sa_layer_norm", "ffn.lin1", "ffn.lin2", "output_layer_norm",
        NULL,
        "vocab_transform", "vocab_layer_norm", "vocab_projector.bias", NULL, "vocab_projector.weight",
        NULL, NULL,
    },
    [FAM_ELECTRA] = {
        "embeddings.word_embeddings", "embeddings.position_embeddings", "embeddings.token_type_embeddings",
        "embeddings.LayerNorm", "embeddings_project",
        "encoder.layer.{i}.", "attention.self.query", "attention.self.key", "attention.self.value",
        "attention.output.dense", "attention.output.LayerNorm", "intermediate.dense", "output.dense", "output.LayerNorm",
        NULL,
        /* the generator (ElectraForMaskedLM); its head's activation is always gelu */
        "generator_predictions.dense", "generator_predictions.LayerNorm", "generator_lm_head.bias", NULL,
        "generator_lm_head.weight",
        "discriminator_predictions.dense", "discriminator_predictions.dense_prediction",
    },
};

typedef struct EncConfig {
    Family fam;
    int64_t d, d_emb, n_layer, n_head, d_ff, vocab, n_pos, n_types;   /* n_types 0: none */
    double eps;
    Act act, head_act;          /* the layers' and the MLM head's */
    int tied;                   /* the MLM decoder is the word embedding table */
    int lowercase;
} EncConfig;

/* ---- config.json ------------------------------------------------------------------------ */

static int read_act(Diag *d, const char *path, json_object *cfg, const char *key, const char *dflt, Act *out)
{
    const char *s = dflt;
    if (hf_str(d, path, cfg, key, &s)) return -1;
    for (size_t i = 0; i < sizeof acts / sizeof *acts; i++)
        if (!strcmp(s, acts[i].name)) {
            *out = acts[i].act;
            return 0;
        }
    diag_file_error(d, path, "%s '%s' is not supported (kiln has gelu, gelu_new, gelu_pytorch_tanh, gelu_fast, relu, "
                             "silu)", key, s);
    return -1;
}

static int read_config(Diag *d, const char *path, json_object *cfg, Family fam, EncConfig *c)
{
    const int64_t big = (int64_t)1 << 24;
    memset(c, 0, sizeof *c);
    c->fam = fam;
    c->eps = 1e-12;
    c->tied = 1;
    c->n_types = 2;
    const char *k_d = "hidden_size", *k_head = "num_attention_heads";
    if (fam == FAM_DISTILBERT) {
        k_d = "dim";
        k_head = "n_heads";
        c->n_types = 0;
        if (hf_int(d, path, cfg, "dim", 1, 1, big, &c->d) || hf_int(d, path, cfg, "n_layers", 1, 1, 4096, &c->n_layer) ||
            hf_int(d, path, cfg, "n_heads", 1, 1, 4096, &c->n_head) ||
            hf_int(d, path, cfg, "hidden_dim", 1, 1, big, &c->d_ff) ||
            read_act(d, path, cfg, "activation", "gelu", &c->act))
            return -1;
        c->head_act = c->act;
    } else {
        if (hf_int(d, path, cfg, "hidden_size", 1, 1, big, &c->d) ||
            hf_int(d, path, cfg, "num_hidden_layers", 1, 1, 4096, &c->n_layer) ||
            hf_int(d, path, cfg, "num_attention_heads", 1, 1, 4096, &c->n_head) ||
            hf_int(d, path, cfg, "intermediate_size", 1, 1, big, &c->d_ff) ||
            hf_int(d, path, cfg, "type_vocab_size", 0, 1, big, &c->n_types) ||
            hf_num(d, path, cfg, "layer_norm_eps", 0, 1e-300, 1, &c->eps) ||
            read_act(d, path, cfg, "hidden_act", fam == FAM_ALBERT ? "gelu_new" : "gelu", &c->act))
            return -1;
        c->head_act = fam == FAM_ELECTRA ? ACT_GELU_ERF : c->act;
        const char *pos = "absolute";
        if (hf_str(d, path, cfg, "position_embedding_type", &pos)) return -1;
        if (strcmp(pos, "absolute") != 0) {
            diag_file_error(d, path, "position_embedding_type '%s' is not supported: kiln imports learned absolute "
                                     "positions ('absolute') only", pos);
            return -1;
        }
        int decoder = 0;
        if (hf_bool(d, path, cfg, "is_decoder", &decoder)) return -1;
        if (decoder) {
            diag_file_error(d, path, "is_decoder = true is not supported: kiln imports %s as an encoder "
                                     "(bidirectional attention)", fam_title[fam]);
            return -1;
        }
    }
    if (hf_int(d, path, cfg, "vocab_size", 1, 1, big, &c->vocab) ||
        hf_int(d, path, cfg, "max_position_embeddings", 1, 1, big, &c->n_pos) ||
        hf_bool(d, path, cfg, "tie_word_embeddings", &c->tied))
        return -1;
    /* ALBERT and ELECTRA embed in embedding_size (transformers' default 128), the others in d */
    int own_emb = fam == FAM_ALBERT || fam == FAM_ELECTRA;
    c->d_emb = own_emb ? 128 : c->d;
    if (own_emb && hf_int(d, path, cfg, "embedding_size", 0, 1, big, &c->d_emb)) return -1;
    if (fam == FAM_ALBERT) {
        static const char *const groups[] = { "num_hidden_groups", "inner_group_num" };
        for (int i = 0; i < 2; i++) {
            int64_t n = 1;
            if (hf_int(d, path, cfg, groups[i], 0, 0, 4096, &n)) return -1;
            if (n != 1) {
                diag_file_error(d, path, "%s = %lld is not supported: kiln imports ALBERT with one layer group of one "
                                         "layer (num_hidden_groups = inner_group_num = 1), shared by all layers",
                                groups[i], (long long)n);
                return -1;
            }
        }
    }
    if (c->d % c->n_head) {
        diag_file_error(d, path, "%s %lld is not a multiple of %s %lld (the heads split the hidden size)", k_d,
                        (long long)c->d, k_head, (long long)c->n_head);
        return -1;
    }
    return 0;
}

/* tokenizer_config.json's do_lower_case, 1 when the file or the key is absent. */
static int read_lowercase(Diag *d, Arena *a, const char *dir, int *lower)
{
    const char *path = path_join(a, dir, "tokenizer_config.json");
    *lower = 1;
    if (!import_is_file(path)) return 0;
    size_t len;
    char *text = file_read_max(d, path, FILE_READ_MAX, &len);
    json_object *js = text ? hf_parse(d, path, text, len) : NULL;
    int rc = js ? hf_bool(d, path, js, "do_lower_case", lower) : -1;
    json_object_put(js);
    free(text);
    return rc;
}

/* vocab.txt has one token a line, the last newline optional: it must have vocab_size lines. */
static int check_vocab(Diag *d, const char *path, const char *cfg_path, int64_t vocab)
{
    size_t len;
    char *text = file_read_max(d, path, FILE_READ_MAX, &len);
    if (!text) return -1;
    int64_t lines = len && text[len - 1] != '\n';
    for (size_t i = 0; i < len; i++) lines += text[i] == '\n';
    free(text);
    if (lines != vocab) {
        diag_file_error(d, path, "has %lld tokens (one a line), but %s's vocab_size is %lld", (long long)lines, cfg_path,
                        (long long)vocab);
        return -1;
    }
    return 0;
}

/* ---- the weight files ----------------------------------------------------------------------- */

typedef struct Shards {
    StFile *sf;
    const char **files;
    int n;
} Shards;

static const StTensor *find(const Shards *s, const char *name, const char **where)
{
    for (int i = 0; i < s->n; i++) {
        const StTensor *t = st_find(&s->sf[i], name);
        if (t) {
            if (where) *where = s->files[i];
            return t;
        }
    }
    return NULL;
}

/* tensor with {p} and {i} replaced */
static const char *expand(Arena *a, const char *tensor, const char *prefix, int64_t layer)
{
    const char *out = "";
    for (const char *s = tensor; *s;) {
        if (!strncmp(s, "{p}", 3)) {
            out = arena_printf(a, "%s%s", out, prefix);
            s += 3;
        } else if (!strncmp(s, "{i}", 3)) {
            out = arena_printf(a, "%s%lld", out, (long long)layer);
            s += 3;
        } else {
            const char *e = strchr(s + 1, '{');
            size_t k = e ? (size_t)(e - s) : strlen(s);
            out = arena_printf(a, "%s%.*s", out, (int)k, s);
            s += k;
        }
    }
    return out;
}

/* ---- the graph -------------------------------------------------------------------------- */

/* A weight the XML names: tensor as the XML spells it ({p}, {i}), its shape from config.json. */
typedef struct Need {
    const char *tensor;
    int rank;
    int64_t shape[2];
} Need;

typedef struct Writer {
    FILE *f;                    /* the XML, in memory */
    Arena *a;
    const Names *n;
    const Shards *s;            /* the weight files, */
    const char *prefix;         /* and the value of {p} in them */
    Need *need;
    int n_need, cap;
} Writer;

/* <weight name="NAME" tensor="{p}REL.SUFFIX"/> with shape rows (, cols when cols_sym). */
static void weight(Writer *w, const char *ind, const char *name, const char *tensor, const char *rows_sym, int64_t rows,
                   const char *cols_sym, int64_t cols)
{
    fprintf(w->f, "%s<weight name=\"%s\" tensor=\"%s\" shape=\"%s%s%s\"/>\n", ind, name, tensor, rows_sym,
            cols_sym ? ", " : "", cols_sym ? cols_sym : "");
    if (w->n_need == w->cap) {
        Need *grown = arena_array(w->a, (size_t)(w->cap = w->cap ? 2 * w->cap : 64), sizeof *grown);
        if (w->n_need) memcpy(grown, w->need, (size_t)w->n_need * sizeof *grown);
        w->need = grown;
    }
    w->need[w->n_need++] = (Need){ tensor, cols_sym ? 2 : 1, { rows, cols } };
}

/* A Linear (torch layout [out, in]): weight and bias NAME.w, NAME.b of tensors REL.weight,
 * REL.bias, and y = x Wᵀ + b as NAME_mm, NAME. */
static void linear(Writer *w, const char *ind, const char *name, const char *in, const char *rel, const char *out_sym,
                   int64_t out, const char *in_sym, int64_t in_n)
{
    weight(w, ind, arena_printf(w->a, "%s.w", name), arena_printf(w->a, "%s.weight", rel), out_sym, out, in_sym, in_n);
    weight(w, ind, arena_printf(w->a, "%s.b", name), arena_printf(w->a, "%s.bias", rel), out_sym, out, NULL, 0);
    fprintf(w->f, "%s<op kind=\"matmul\" name=\"%s_mm\" in=\"%s, %s.w\" tb=\"1\"/>\n", ind, name, in, name);
    fprintf(w->f, "%s<op kind=\"add\" name=\"%s\" in=\"%s_mm, %s.b\"/>\n", ind, name, name, name);
}

/* A LayerNorm's tensors are REL.weight and REL.bias, or REL.gamma and REL.beta in checkpoints
 * converted from TensorFlow (bert-base-uncased's model.safetensors; transformers renames them
 * when it loads them). */
static void layernorm(Writer *w, const char *ind, const char *name, const char *in, const char *rel, const char *d_sym,
                      int64_t d)
{
    const char *tf_w = arena_printf(w->a, "%s.gamma", rel);
    int tf = !find(w->s, expand(w->a, arena_printf(w->a, "%s.weight", rel), w->prefix, 0), NULL) &&
             find(w->s, expand(w->a, tf_w, w->prefix, 0), NULL);
    weight(w, ind, arena_printf(w->a, "%s.w", name), arena_printf(w->a, "%s.%s", rel, tf ? "gamma" : "weight"), d_sym,
           d, NULL, 0);
    weight(w, ind, arena_printf(w->a, "%s.b", name), arena_printf(w->a, "%s.%s", rel, tf ? "beta" : "bias"), d_sym, d,
           NULL, 0);
    fprintf(w->f, "%s<op kind=\"layernorm\" name=\"%s\" in=\"%s, %s.w, %s.b\" eps=\"{eps}\"/>\n", ind, name, in, name,
            name);
}

static void activation(Writer *w, const char *ind, const char *name, const char *in, Act act)
{
    if (act == ACT_GELU_ERF || act == ACT_GELU_TANH)
        fprintf(w->f, "%s<op kind=\"gelu\" name=\"%s\" in=\"%s\" approx=\"%s\"/>\n", ind, name, in,
                act == ACT_GELU_ERF ? "erf" : "tanh");
    else
        fprintf(w->f, "%s<op kind=\"%s\" name=\"%s\" in=\"%s\"/>\n", ind, act == ACT_RELU ? "relu" : "silu", name, in);
}

static const char *under_prefix(Writer *w, const char *rel)     /* an encoder tensor */
{
    return arena_printf(w->a, "{p}%s", rel);
}

static const char *in_layer(Writer *w, const char *rel)         /* a layer's tensor */
{
    return arena_printf(w->a, "{p}%s%s", w->n->layer, rel);
}

static const char *table(Writer *w, const char *rel)            /* an embedding table */
{
    return arena_printf(w->a, "{p}%s.weight", rel);
}

/* What the folder's weights hold, found before the XML is written. */
typedef struct Heads {
    const char *prefix;         /* "bert." or "" */
    int project;                /* embeddings → hidden Linear (ELECTRA only when sizes differ) */
    int pooler, mlm, disc;
    const char *mlm_bias;       /* the bias tensor's name */
} Heads;

/* The attention of a layer between the projections q, k, v (batch, seq, d) and the output's. */
static const char *const attention[] = {
    "<op kind=\"reshape\" name=\"l{i}.q_heads\" in=\"l{i}.q_cols\" shape=\"batch, seq, {n_head}, {head_dim}\"/>",
    "<op kind=\"reshape\" name=\"l{i}.k_heads\" in=\"l{i}.k_cols\" shape=\"batch, seq, {n_head}, {head_dim}\"/>",
    "<op kind=\"reshape\" name=\"l{i}.v_heads\" in=\"l{i}.v_cols\" shape=\"batch, seq, {n_head}, {head_dim}\"/>",
    "<op kind=\"transpose\" name=\"l{i}.q\" in=\"l{i}.q_heads\" perm=\"0, 2, 1, 3\"/>   <!-- (batch, heads, seq, hd) -->",
    "<op kind=\"transpose\" name=\"l{i}.k\" in=\"l{i}.k_heads\" perm=\"0, 2, 1, 3\"/>",
    "<op kind=\"transpose\" name=\"l{i}.v\" in=\"l{i}.v_heads\" perm=\"0, 2, 1, 3\"/>",
    "<op kind=\"matmul\" name=\"l{i}.scores\" in=\"l{i}.q, l{i}.k\" tb=\"1\"/>          <!-- (batch, heads, seq, seq) -->",
    "<op kind=\"scale\" name=\"l{i}.scaled\" in=\"l{i}.scores\" value=\"{1 / sqrt(head_dim)}\"/>",
    "<op kind=\"mask\" name=\"l{i}.masked\" in=\"l{i}.scaled, valid\"/>",
    "<op kind=\"softmax\" name=\"l{i}.probs\" in=\"l{i}.masked\"/>",
    "<op kind=\"matmul\" name=\"l{i}.ctx\" in=\"l{i}.probs, l{i}.v\"/>",
    "<op kind=\"transpose\" name=\"l{i}.ctx_t\" in=\"l{i}.ctx\" perm=\"0, 2, 1, 3\"/>",
    "<op kind=\"reshape\" name=\"l{i}.ctx_cat\" in=\"l{i}.ctx_t\" shape=\"batch, seq, {d}\"/>",
};

static void write_graph(Writer *w, const EncConfig *c, const Heads *h)
{
    const Names *n = w->n;
    const char *E = c->d_emb != c->d ? "{d_emb}" : "{d}", *I = "      ";
    FILE *f = w->f;
    fprintf(f, "  <graph name=\"forward\">\n"
               "    <input name=\"tokens\" dtype=\"i32\" shape=\"batch, seq\"/>\n");
    if (n->type) fprintf(f, "    <input name=\"token_types\" dtype=\"i32\" shape=\"batch, seq\"/>\n");
    fprintf(f, "    <input name=\"valid\" dtype=\"i32\" shape=\"batch, seq\"/>     <!-- 1 = real token, 0 = padding -->\n"
               "\n"
               "    <!-- embeddings: LN(word[t]%s + position[j]), positions 0..seq-1 in every row -->\n",
            n->type ? " + token_type[tt]" : "");
    weight(w, "    ", "word_emb", table(w, n->word), "{vocab}", c->vocab, E, c->d_emb);
    weight(w, "    ", "pos_emb", table(w, n->pos), "{n_pos}", c->n_pos, E, c->d_emb);
    if (n->type) weight(w, "    ", "type_emb", table(w, n->type), "{n_types}", c->n_types, E, c->d_emb);
    fprintf(f, "    <op kind=\"gather\" name=\"words\" in=\"word_emb, tokens\"/>          <!-- (batch, seq, %s) -->\n",
            c->d_emb != c->d ? "d_emb" : "d");
    if (n->type) fprintf(f, "    <op kind=\"gather\" name=\"types\" in=\"type_emb, token_types\"/>\n");
    fprintf(f, "    <op kind=\"positions\" name=\"pos\" in=\"tokens\" start=\"0\"/>\n"
               "    <op kind=\"gather\" name=\"positions\" in=\"pos_emb, pos\"/>\n");
    if (n->type) fprintf(f, "    <op kind=\"add\" name=\"words_types\" in=\"words, types\"/>\n");
    fprintf(f, "    <op kind=\"add\" name=\"emb_sum\" in=\"%s, positions\"/>\n", n->type ? "words_types" : "words");
    layernorm(w, "    ", h->project ? "emb_norm" : "emb", "emb_sum", under_prefix(w, n->emb_ln), E, c->d_emb);
    if (h->project) {
        fprintf(f, "    <!-- the embedding size to the hidden size -->\n");
        linear(w, "    ", "emb", "emb_norm", under_prefix(w, n->project), "{d}", c->d, E, c->d_emb);
    }
    fprintf(f, "\n");
    if (!strstr(n->layer, "{i}"))
        fprintf(f, "    <!-- one set of layer weights, the same tensors in every layer (ALBERT's sharing) -->\n");
    fprintf(f, "    <repeat var=\"i\" count=\"{n_layer}\" carry=\"x\" init=\"emb\" next=\"l{i}.out\" "
               "result=\"hidden_states\">\n"
               "%s<!-- self-attention, bidirectional; padded keys masked (padded query rows are computed) -->\n", I);
    linear(w, I, "l{i}.q_cols", "x", in_layer(w, n->q), "{d}", c->d, "{d}", c->d);
    linear(w, I, "l{i}.k_cols", "x", in_layer(w, n->k), "{d}", c->d, "{d}", c->d);
    linear(w, I, "l{i}.v_cols", "x", in_layer(w, n->v), "{d}", c->d, "{d}", c->d);
    for (size_t k = 0; k < sizeof attention / sizeof *attention; k++) fprintf(f, "%s%s\n", I, attention[k]);
    linear(w, I, "l{i}.attn_out", "l{i}.ctx_cat", in_layer(w, n->o), "{d}", c->d, "{d}", c->d);
    fprintf(f, "%s<!-- post-LN: normalize after the residual add -->\n"
               "%s<op kind=\"add\" name=\"l{i}.res1\" in=\"x, l{i}.attn_out\"/>\n", I, I);
    layernorm(w, I, "l{i}.a", "l{i}.res1", in_layer(w, n->ln1), "{d}", c->d);
    fprintf(f, "\n%s<!-- feed-forward -->\n", I);
    linear(w, I, "l{i}.ff1", "l{i}.a", in_layer(w, n->ff1), "{d_ff}", c->d_ff, "{d}", c->d);
    activation(w, I, "l{i}.act", "l{i}.ff1", c->act);
    linear(w, I, "l{i}.ff2", "l{i}.act", in_layer(w, n->ff2), "{d}", c->d, "{d_ff}", c->d_ff);
    fprintf(f, "%s<op kind=\"add\" name=\"l{i}.res2\" in=\"l{i}.a, l{i}.ff2\"/>\n", I);
    layernorm(w, I, "l{i}.out", "l{i}.res2", in_layer(w, n->ln2), "{d}", c->d);
    fprintf(f, "    </repeat>\n");

    if (h->mlm) {
        fprintf(f, "\n    <!-- masked-LM head: LN(act(dense(hidden))), then the %s and a bias -->\n",
                c->tied ? "word embeddings as the decoder (tied)" : "decoder");
        linear(w, "    ", "mlm.dense", "hidden_states", n->mlm_dense, E, c->d_emb, "{d}", c->d);
        activation(w, "    ", "mlm.act", "mlm.dense", c->head_act);
        layernorm(w, "    ", "mlm.norm", "mlm.act", n->mlm_ln, E, c->d_emb);
        const char *dec = "word_emb";
        if (!c->tied) {
            weight(w, "    ", "mlm.decoder", n->mlm_decoder, "{vocab}", c->vocab, E, c->d_emb);
            dec = "mlm.decoder";
        }
        weight(w, "    ", "mlm.bias", h->mlm_bias, "{vocab}", c->vocab, NULL, 0);
        fprintf(f, "    <op kind=\"matmul\" name=\"mlm.logits_mm\" in=\"mlm.norm, %s\" tb=\"1\"/>"
                   "   <!-- (batch, seq, vocab) -->\n"
                   "    <op kind=\"add\" name=\"mlm.logits\" in=\"mlm.logits_mm, mlm.bias\"/>\n", dec);
    }
    if (h->disc) {
        fprintf(f, "\n    <!-- ELECTRA discriminator: dense, act, then one logit per token (replaced or not) -->\n");
        linear(w, "    ", "disc.dense", "hidden_states", n->disc_dense, "{d}", c->d, "{d}", c->d);
        activation(w, "    ", "disc.act", "disc.dense", c->act);
        linear(w, "    ", "disc.pred", "disc.act", n->disc_pred, "1", 1, "{d}", c->d);
        fprintf(f, "    <op kind=\"take\" name=\"disc.logit\" in=\"disc.pred\" axis=\"2\" index=\"0\"/>"
                   "   <!-- (batch, seq) -->\n");
    }
    if (h->pooler) {
        fprintf(f, "\n    <!-- pooler: tanh(dense(hidden[:, 0])), the [CLS] position -->\n"
                   "    <op kind=\"take\" name=\"cls\" in=\"hidden_states\" axis=\"1\" index=\"0\"/>"
                   "  <!-- (batch, d) -->\n");
        linear(w, "    ", "pooler_dense", "cls", under_prefix(w, n->pooler), "{d}", c->d, "{d}", c->d);
        fprintf(f, "    <op kind=\"tanh\" name=\"pooler\" in=\"pooler_dense\"/>\n");
    }
    fprintf(f, "\n");
    if (h->mlm) fprintf(f, "    <output name=\"logits\" from=\"mlm.logits\"/>\n");
    if (h->disc) fprintf(f, "    <output name=\"replaced\" from=\"disc.logit\"/>\n");
    fprintf(f, "    <output name=\"hidden\" from=\"hidden_states\"/>\n");
    if (h->pooler) fprintf(f, "    <output name=\"pooled\" from=\"pooler\"/>\n");
    fprintf(f, "  </graph>\n"
               "</model>\n");
}

/* ---- the checks ----------------------------------------------------------------------------- */

static const char *shape_str(Arena *a, const int64_t *s, int rank)
{
    const char *out = "[";
    for (int k = 0; k < rank; k++) out = arena_printf(a, "%s%s%lld", out, k ? ", " : "", (long long)s[k]);
    return arena_printf(a, "%s]", out);
}

/* Every noted weight is in the files with config.json's shape. */
static int check_needs(Diag *d, Arena *a, const Shards *s, const Writer *w, const char *prefix, const char *cfg_path,
                       const char *layers_key, int64_t n_layer)
{
    const char *in = s->n == 1 ? "" : arena_printf(a, " in any of the %d shards", s->n);
    for (int k = 0; k < w->n_need; k++) {
        const Need *nd = &w->need[k];
        int per_layer = strstr(nd->tensor, "{i}") != NULL;
        for (int64_t l = 0; l < (per_layer ? n_layer : 1); l++) {
            const char *name = expand(a, nd->tensor, prefix, l), *where = NULL;
            const StTensor *t = find(s, name, &where);
            if (!t) {
                if (per_layer)
                    diag_file_error(d, s->files[0], "no tensor '%s'%s (%s: %s %lld)", name, in, cfg_path, layers_key,
                                    (long long)n_layer);
                else
                    diag_file_error(d, s->files[0], "no tensor '%s'%s", name, in);
                return -1;
            }
            if (t->rank != nd->rank || t->shape[0] != nd->shape[0] || (nd->rank == 2 && t->shape[1] != nd->shape[1])) {
                diag_file_error(d, where, "tensor '%s' is %s, but %s makes it %s", name, shape_str(a, t->shape, t->rank),
                                cfg_path, shape_str(a, nd->shape, nd->rank));
                return -1;
            }
            if (t->dtype != DT_F32 && t->dtype != DT_F16 && t->dtype != DT_BF16) {
                diag_file_error(d, where, "tensor '%s' is %s; kiln reads F32, F16 and BF16 weights", name, t->dtype_raw);
                return -1;
            }
        }
    }
    return 0;
}

/* The prefix and the heads, from the names in the files. */
static int find_heads(Diag *d, Arena *a, const Shards *s, Family fam, const EncConfig *c, Heads *h)
{
    const Names *n = &fam_names[fam];
    const char *word = arena_printf(a, "%s.weight", n->word), *pword = arena_printf(a, "%s.%s", fam_name[fam], word);
    memset(h, 0, sizeof *h);
    if (find(s, pword, NULL)) h->prefix = arena_printf(a, "%s.", fam_name[fam]);
    else if (find(s, word, NULL)) h->prefix = "";
    else {
        diag_file_error(d, s->files[0], "no tensor '%s' or '%s' in %s: not the weights of a Hugging Face %s model", word,
                        pword, s->n == 1 ? "it" : arena_printf(a, "any of the %d shards", s->n), fam_title[fam]);
        return -1;
    }
    /* ALBERT always maps; ELECTRA only when embedding_size differs (then the tensor must be there) */
    h->project = n->project && (fam == FAM_ALBERT || c->d_emb != c->d ||
                                find(s, arena_printf(a, "%s%s.weight", h->prefix, n->project), NULL));
    h->pooler = n->pooler && find(s, arena_printf(a, "%s%s.weight", h->prefix, n->pooler), NULL);
    h->mlm = find(s, arena_printf(a, "%s.weight", n->mlm_dense), NULL) != NULL;
    h->disc = n->disc_dense && find(s, arena_printf(a, "%s.weight", n->disc_dense), NULL);
    h->mlm_bias = n->mlm_bias_alt && !find(s, n->mlm_bias, NULL) && find(s, n->mlm_bias_alt, NULL) ? n->mlm_bias_alt
                                                                                                   : n->mlm_bias;
    return 0;
}

/* ---- the folder ----------------------------------------------------------------------- */

static void write_head(FILE *f, const EncConfig *c, const Heads *h, const char *name, const char *src, const char *arch,
                       const char *const *weights_xml, int n_weights, const char *vocab_xml)
{
    char eps[32];
    fmt_double(eps, sizeof eps, c->eps);
    const char *heads[4];
    int nh = 0;
    if (h->mlm) heads[nh++] = "masked-LM head (logits)";
    if (h->disc) heads[nh++] = "discriminator (replaced)";
    heads[nh++] = "last hidden states (hidden)";
    if (h->pooler) heads[nh++] = "pooler (pooled)";
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<!-- %s, written by `kiln import` from %s%s%s%s.\n     Outputs: ", fam_title[c->fam], src,
            arch ? " (" : "", arch ? arch : "", arch ? ")" : "");
    for (int i = 0; i < nh; i++) fprintf(f, "%s%s", i ? (i == nh - 1 ? " and " : ", ") : "", heads[i]);
    fprintf(f, ".\n     Hugging Face's tensor names, torch nn.Linear layout [out, in], post-LN. The format is\n"
               "     docs/model-format.md. -->\n"
               "<model name=\"%s\" family=\"%s\" format=\"1\">\n"
               "  <param name=\"n_layer\" value=\"%lld\"/>\n"
               "  <param name=\"d\" value=\"%lld\"/>\n",
            name, fam_name[c->fam], (long long)c->n_layer, (long long)c->d);
    if (c->d_emb != c->d) fprintf(f, "  <param name=\"d_emb\" value=\"%lld\"/>\n", (long long)c->d_emb);
    fprintf(f, "  <param name=\"n_head\" value=\"%lld\"/>\n"
               "  <param name=\"head_dim\" value=\"{d / n_head}\"/>\n"
               "  <param name=\"d_ff\" value=\"%lld\"/>\n"
               "  <param name=\"vocab\" value=\"%lld\"/>\n"
               "  <param name=\"n_pos\" value=\"%lld\"/>\n",
            (long long)c->n_head, (long long)c->d_ff, (long long)c->vocab, (long long)c->n_pos);
    if (c->n_types) fprintf(f, "  <param name=\"n_types\" value=\"%lld\"/>\n", (long long)c->n_types);
    fprintf(f, "  <param name=\"eps\" value=\"%s\"/>\n"
               "  <param name=\"p\" value=\"%s\"/>\n"
               "\n"
               "  <dim name=\"batch\" max=\"8\"/>\n"
               "  <dim name=\"seq\" max=\"{n_pos}\"/>\n"
               "\n",
            eps, h->prefix);
    for (int i = 0; i < n_weights; i++) fprintf(f, "  <weights file=\"%s\"/>\n", weights_xml[i]);
    fprintf(f, "  <tokenizer kind=\"wordpiece\" file=\"%s\" lowercase=\"%d\"/>\n\n", vocab_xml, c->lowercase);
}

int import_hf_bert(Diag *d, Arena *a, const char *dir, const char *cfg_path, json_object *cfg, const char *family,
                   const char *tokenizer, const char *out_path)
{
    Family fam = FAM_COUNT;
    for (int i = 0; i < FAM_COUNT; i++)
        if (!strcmp(family, fam_name[i])) fam = (Family)i;
    KILN_ASSERT(fam != FAM_COUNT);
    EncConfig c;
    if (read_config(d, cfg_path, cfg, fam, &c)) return -1;

    /* the tokenizer: vocab.txt, checked against vocab_size */
    const char *vocab = tokenizer ? tokenizer : path_join(a, dir, "vocab.txt");
    if (tokenizer) {
        size_t n = strlen(tokenizer);
        if (n < 4 || strcmp(tokenizer + n - 4, ".txt") != 0) {
            diag_file_error(d, tokenizer, "a %s model's tokenizer is a WordPiece vocab.txt (--tokenizer FILE.txt)",
                            fam_title[fam]);
            return -1;
        }
    }
    if (!import_is_file(vocab)) {
        if (tokenizer) diag_file_error(d, tokenizer, "no such tokenizer file");
        else
            diag_file_error(d, dir, "no vocab.txt: kiln reads a %s folder's WordPiece vocabulary from vocab.txt%s",
                            fam_title[fam], fam == FAM_ALBERT ? " (ALBERT's hub folders have a SentencePiece "
                                                                "spiece.model instead, which kind wordpiece cannot read)" : "");
        return -1;
    }
    if (check_vocab(d, vocab, cfg_path, c.vocab) || read_lowercase(d, a, dir, &c.lowercase)) return -1;

    /* the weights */
    Shards s = { 0 };
    if (hf_weight_files(d, a, dir, &s.files, &s.n)) return -1;
    if (!s.n) {
        diag_file_error(d, dir, "no model.safetensors (or model.safetensors.index.json with its shards)");
        return -1;
    }
    for (int i = -2; i < s.n; i++) {
        const char *in = i == -2 ? cfg_path : i == -1 ? vocab : s.files[i];
        if (import_same_file(out_path, in)) {
            diag_file_error(d, out_path, "is one of the files being imported: refusing to overwrite it (choose another -o)");
            return -1;
        }
    }
    s.sf = arena_array(a, (size_t)s.n, sizeof *s.sf);
    int opened = 0, rc = -1;
    char *xml = NULL;
    size_t xml_len = 0;
    FILE *f = NULL;
    for (; opened < s.n; opened++)
        if (st_open(&s.sf[opened], s.files[opened], d, a)) goto out;
    Heads h;
    if (find_heads(d, a, &s, fam, &c, &h)) goto out;

    /* the XML, in memory, then its weights checked */
    const char *out_dir = path_dirname(a, out_path);
    const char **weights_xml = arena_array(a, (size_t)s.n, sizeof *weights_xml);
    for (int i = 0; i < s.n; i++) weights_xml[i] = import_xml_escape(a, import_path(a, out_dir, s.files[i]));
    const char *arch = NULL;
    json_object *archs = hf_key(cfg, "architectures");
    if (archs && json_object_is_type(archs, json_type_array) && json_object_array_length(archs) > 0 &&
        json_object_is_type(json_object_array_get_idx(archs, 0), json_type_string))
        arch = import_xml_escape(a, json_object_get_string(json_object_array_get_idx(archs, 0)));
    if (!(f = open_memstream(&xml, &xml_len))) {
        diag_file_error(d, out_path, "cannot write: %s", strerror(errno));
        goto out;
    }
    Writer w = { f, a, &fam_names[fam], &s, h.prefix, NULL, 0, 0 };
    write_head(f, &c, &h, import_model_name(a, dir, 0), import_xml_escape(a, dir), arch, weights_xml, s.n,
               import_xml_escape(a, import_path(a, out_dir, vocab)));
    write_graph(&w, &c, &h);
    if (fclose(f) != 0) {
        f = NULL;
        diag_file_error(d, out_path, "cannot write: %s", strerror(errno));
        goto out;
    }
    f = NULL;
    if (check_needs(d, a, &s, &w, h.prefix, cfg_path, fam == FAM_DISTILBERT ? "n_layers" : "num_hidden_layers",
                    c.n_layer))
        goto out;
    if (file_write_all(d, out_path, xml, xml_len)) goto out;
    rc = 0;
out:
    if (f) fclose(f);
    free(xml);
    for (int i = 0; i < opened; i++) st_close(&s.sf[i]);
    if (rc) return rc;
    /* the proof: kiln accepts what it wrote, weights and tokenizer included */
    Module *m = fe_load(a, d, out_path, 0);
    if (!m) return -1;
    fe_release(m);
    return 0;
}
