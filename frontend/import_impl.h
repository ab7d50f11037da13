/* import_impl.h — shared by the importers (frontend/import_*.c) only.
 *
 * import_hf.c reads a folder's config.json and picks the family; import_gpt2.c,
 * import_hf_llama.c and import_hf_bert.c (BERT, ALBERT, DistilBERT, ELECTRA) read their
 * families' configs; import_llama2c.c reads llama2.c
 * checkpoints; import_llama.c writes the LLaMA XML both LLaMA importers share and loads
 * the result back. */
#ifndef KILN_IMPORT_IMPL_H
#define KILN_IMPORT_IMPL_H

#include "frontend/frontend.h"

#include <json-c/json.h>

/* ---- LLaMA: the tensors, their names and shapes ---------------------------------------- */

/* In the order of a llama2.c checkpoint (which has the RoPE tables between NORM and OUTPUT).
 * Per-layer tensors are WQ..W3 and the two layer norms. */
typedef enum LlamaTensor {
    LT_EMBED, LT_ATTN_NORM, LT_WQ, LT_WK, LT_WV, LT_WO, LT_FFN_NORM, LT_W1, LT_W2, LT_W3, LT_NORM, LT_OUTPUT,
    LT_COUNT
} LlamaTensor;

/* Tensor names of one convention; per-layer names hold "{i}" for the layer. */
typedef struct LlamaNames {
    const char *name[LT_COUNT];
} LlamaNames;
extern const LlamaNames llama_names_llama2c;   /* tok_embeddings.weight, layers.{i}.attention.wq.weight, ... */
extern const LlamaNames llama_names_hf;        /* model.embed_tokens.weight, model.layers.{i}.self_attn.q_proj.weight, ... */

int llama_per_layer(LlamaTensor t);
/* The shape of tensor t ([out, in] for matrices): its rank (1 or 2). */
int llama_shape(const LlamaHparams *h, LlamaTensor t, int64_t shape[2]);
/* The name of tensor t in layer i (i ignored for global tensors), in the arena. */
const char *llama_name(Arena *a, const LlamaNames *names, LlamaTensor t, int64_t i);

/* Checks that make a LlamaHparams describable, reporting against `path`: every size positive,
 * head counts divide (n_head divides dim unless head_dim has a name: HF's explicit head_dim),
 * head_dim even. Messages use the source's names for the fields (config.json's keys, llama2.c's
 * header fields). Upper bounds are the caller's. */
typedef struct LlamaFieldNames {
    const char *what;       /* starts each message: "llama2.c header: " or "" */
    const char *dim, *hidden, *n_layer, *n_head, *n_kv_head, *head_dim, *vocab, *n_ctx;
} LlamaFieldNames;
int llama_check(Diag *d, const char *path, const LlamaHparams *h, const LlamaFieldNames *f);

/* ---- LLaMA: the XML writer ----------------------------------------------------------------- */

typedef struct LlamaDesc {
    const char *name;           /* the model's name (a file or folder name) */
    const char *source;         /* what was imported, for the opening comment */
    const char *kind_note;      /* a sentence on the source's conventions, for the comment */
    LlamaHparams h;
    int explicit_head_dim;      /* head_dim is not dim / n_head (HF's head_dim) */
    const char *pairing;        /* RoPE: "interleaved" (llama2.c) or "half" (HF rotate_half) */
    const char *eos_note;       /* a comment on the eos parameter, or NULL */
    const LlamaNames *names;
    const char **weights;       /* the weight files, paths relative to the XML */
    int n_weights;
    const char *tok_kind;       /* NULL: no tokenizer */
    const char *tok_file;       /* relative to the XML */
} LlamaDesc;

/* Writes the model description to out_path and loads it back (weights, tokenizer). */
int llama_write_and_check(Diag *d, Arena *a, const LlamaDesc *m, const char *out_path, unsigned load_flags);

/* ---- helpers of all importers (import_hf.c) ---------------------------------------------- */

int import_is_file(const char *path);
int import_is_dir(const char *path);
/* 1 when a and b name the same existing file (device and inode). */
int import_same_file(const char *a, const char *b);
/* A name for the model from a path's last component (extension dropped when strip_ext), kept
 * to letters, digits, '-', '_', '.'. */
const char *import_model_name(Arena *a, const char *path, int strip_ext);
/* The tokenizer kind of a file by its name: .bin llama2c, .model sentencepiece, .json hf;
 * NULL (after reporting) otherwise, or when it is not a file. */
const char *import_tokenizer_kind(Diag *d, const char *path);
/* How the XML in out_dir names target: relative to out_dir, unless that climbs to the root
 * (/tmp/x.xml naming /work/m.bin gets /work/m.bin, not ../work/m.bin). */
const char *import_path(Arena *a, const char *out_dir, const char *target);
/* s escaped for an XML attribute value (or a comment), in the arena. */
const char *import_xml_escape(Arena *a, const char *s);

/* config.json values. Each reports `path: error: 'key' ...` and returns -1 when the key is
 * present with the wrong type or out of range; when it is absent, required ones report and
 * optional ones leave *out as it is and return 0. JSON null counts as absent. */
json_object *hf_key(json_object *cfg, const char *key);  /* NULL if absent or null */
int hf_int(Diag *d, const char *path, json_object *cfg, const char *key, int required, int64_t lo, int64_t hi,
           int64_t *out);
int hf_num(Diag *d, const char *path, json_object *cfg, const char *key, int required, double lo, double hi,
           double *out);
int hf_bool(Diag *d, const char *path, json_object *cfg, const char *key, int *out);
int hf_str(Diag *d, const char *path, json_object *cfg, const char *key, const char **out);
/* The parsed JSON text, an object; NULL after reporting. */
json_object *hf_parse(Diag *d, const char *path, const char *text, size_t len);
/* The weight files of a folder, as paths under dir: model.safetensors, or the shards of
 * model.safetensors.index.json in the order its weight map first names them. *n = 0 when the
 * folder has neither; a folder with pytorch_model.bin alone is an error (convert it). */
int hf_weight_files(Diag *d, Arena *a, const char *dir, const char ***files, int *n);

/* The families (cfg is the parsed config.json at cfg_path in dir). */
int import_gpt2(Diag *d, Arena *a, const char *dir, const char *cfg_path, json_object *cfg, const char *tokenizer,
                const char *out_path);
int import_hf_llama(Diag *d, Arena *a, const char *dir, const char *cfg_path, json_object *cfg, const char *tokenizer,
                    const char *out_path);
/* family: the model_type, "bert", "albert", "distilbert" or "electra". */
int import_hf_bert(Diag *d, Arena *a, const char *dir, const char *cfg_path, json_object *cfg, const char *family,
                   const char *tokenizer, const char *out_path);
/* config.json of a LLaMA → hyper-parameters (no file is read). */
int hf_llama_hparams(Diag *d, const char *path, json_object *cfg, LlamaHparams *h, int *explicit_head_dim);

#endif
