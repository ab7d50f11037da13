/* frontend.h — from users' files to IR: XML models, .kir text, safetensors weights,
 * tokenizer files and Hugging Face folders.
 *
 * Everything here reports bad input as user errors through a Diag, naming the file and,
 * where there is one, the line, column, tensor or field; functions return 0 (or a non-NULL
 * pointer) on success. Nothing here knows about LLVM. */
#ifndef KILN_FRONTEND_H
#define KILN_FRONTEND_H

#include "ir/ir.h"

/* ---- safetensors ------------------------------------------------------------------ */

/* A safetensors file, mapped. Layout: u64 little-endian header length N, N bytes of JSON
 * {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}, then the data
 * area; offsets are relative to the data area. Every offset, size and shape is checked:
 * in bounds, end - begin == numel * dtype size (no overflow), no two tensors overlap, no
 * name twice. Gaps between tensors are allowed (see safetensors.c). */
typedef struct StTensor {
    const char *name;
    DType dtype;            /* F32, F16, BF16, I32; DT_COUNT for the dtypes kiln cannot load */
    const char *dtype_raw;  /* the file's spelling: "F32", "I64", "F8_E4M3", ... */
    int rank;               /* 0 for a scalar (one element) */
    int64_t shape[IR_MAX_RANK];
    const uint8_t *data;    /* inside the mapping; not necessarily aligned: read with memcpy */
    uint64_t nbytes;
} StTensor;

typedef struct StFile {
    const char *path;
    MappedFile map;         /* the whole file */
    int owns_map;           /* st_open mapped it, st_close unmaps it; st_open_mem: borrowed */
    uint64_t data_start;    /* offset of the data area in the file: 8 + header length */
    StTensor *tensors;      /* sorted by name (strcmp), in the caller's arena */
    size_t n_tensors;
} StFile;

/* Opens and validates path. Tensors of other dtypes (I64, U8, F64, ...) are listed with
 * their raw dtype name but give an error only when a model asks for them. On failure
 * nothing is left mapped or allocated (not even in the arena) and f is zeroed. */
int st_open(StFile *f, const char *path, Diag *d, Arena *a);
/* Same, over bytes already in memory (fuzzing, tests); data must outlive f. */
int st_open_mem(StFile *f, const char *name, const uint8_t *data, size_t size, Diag *d, Arena *a);
const StTensor *st_find(const StFile *f, const char *name);     /* NULL if absent */
void st_close(StFile *f);
/* Writes n tensors (F32, F16, BF16 or I32) to path; 0 on success. */
int st_write(const char *path, const StTensor *ts, size_t n, Diag *d);

/* ---- models ------------------------------------------------------------------------ */

enum { FE_NO_WEIGHTS = 1 };     /* fe_load flags: do not open the weight files */

/* Reads a model (XML, or .kir by extension), binds its weights and checks everything:
 * schema, names, shapes, weight files. NULL after reporting errors. */
Module *fe_load(Arena *a, Diag *d, const char *path, unsigned flags);
/* The steps of fe_load, for tools that need them apart. fe_read_xml_mem reads a model
 * description from memory (path names it in messages; relative paths start from its
 * directory). */
Module *fe_read_xml(Arena *a, Diag *d, const char *path);
Module *fe_read_xml_mem(Arena *a, Diag *d, const char *path, const char *text, size_t len);
int fe_bind_weights(Module *m, Diag *d);
int fe_finish(Module *m, Diag *d);
/* Closes the weight files (the module's arena is the caller's). */
void fe_release(Module *m);

/* ---- importers ------------------------------------------------------------------------ */

/* Importers write a model XML at out_path (paths in it relative to it) and load it back
 * to check it, weights and tokenizer included; tokenizer (or NULL) overrides the one found,
 * its kind taken from its name: .bin llama2c, .model sentencepiece, .json hf, .txt wordpiece.
 * docs/import.md. fe_import_hf: a Hugging Face folder (config.json, safetensors, tokenizer
 * files): GPT-2, LLaMA, or the encoders BERT, ALBERT, DistilBERT and ELECTRA. fe_import_llama2c: a llama2.c checkpoint (.bin, legacy version 0), whose weights
 * are written as safetensors beside the XML (out/NAME.xml → out/NAME.safetensors). */
int fe_import_hf(Diag *d, const char *dir, const char *tokenizer, const char *out_path);
int fe_import_llama2c(Diag *d, const char *bin, const char *tokenizer, const char *out_path);

/* What an importer learned about a LLaMA-family model. */
typedef struct LlamaHparams {
    int64_t dim, hidden, n_layer, n_head, n_kv_head, head_dim, vocab, n_ctx;
    double eps, theta;
    int tied;               /* the output matrix is the token embedding */
    int64_t bos, eos;       /* -1 when unknown */
} LlamaHparams;

/* The checks of the importers over bytes in memory (fuzzing, tests): a llama2.c checkpoint
 * (header, then sizes against the file; *tensors its weights as views into data, in the
 * arena, llama2.c's names) and a LLaMA config.json. 0, or -1 after reporting. */
int fe_llama2c_parse(Diag *d, const char *name, const uint8_t *data, size_t size, Arena *a, LlamaHparams *h,
                     StTensor **tensors, size_t *n_tensors);
int fe_hf_llama_config(Diag *d, const char *name, const char *text, size_t len, LlamaHparams *h);

/* ---- the model's tokenizer ---------------------------------------------------------- */

/* Builds the runtime table (runtime/tokenizer.h) of the tokenizer m names, its files taken
 * relative to the model. *blob is NULL (and 0 returned) when the model names no tokenizer
 * or one of a kind this kiln cannot build yet; -1 after reporting bad tokenizer files. */
int fe_model_tokenizer(Module *m, Diag *d, void **blob, size_t *size);

/* ---- GPT-2 byte-level BPE tokenizer files ---------------------------------------------- */

#include "frontend/tokenizer_gpt2.h"

#endif
