/* import_llama2c.c — a llama2.c checkpoint (model.bin) → safetensors beside the model XML.
 *
 * The legacy format (llama2.c export version 0, which run.c reads): 7 little-endian int32
 *     dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len
 * then float32 arrays, packed, in this order (hd = dim / n_heads, kv_dim = n_kv_heads * hd):
 *     token_embedding [vocab, dim]    rms_att [L, dim]            wq [L, dim, dim]
 *     wk [L, kv_dim, dim]             wv [L, kv_dim, dim]         wo [L, dim, dim]
 *     rms_ffn [L, dim]                w1 [L, hidden, dim]         w2 [L, dim, hidden]
 *     w3 [L, hidden, dim]             rms_final [dim]
 *     freq_cis_real [seq_len, hd/2]   freq_cis_imag [seq_len, hd/2]
 *     wcls [vocab, dim]               only when vocab_size < 0 (unshared classifier)
 * Matrices are nn.Linear's [out, in]. A positive vocab_size means the classifier is the token
 * embedding (tied).
 *
 * The whole file is mapped and checked before anything is written: the header field by field,
 * then every array's size with overflow-checked arithmetic against the file's size, then the
 * total, which must be exact (a difference of exactly one classifier is called a shared/
 * unshared mix-up). The weights are then views into the mapping, one per layer, under
 * llama2.c's checkpoint names (model.py's state_dict: tok_embeddings.weight,
 * layers.N.attention.wq.weight, ...), and st_write streams them from the mapping to the
 * safetensors file: nothing is copied into memory. The RoPE tables are not kept (the rope op
 * computes them); they are only compared with theta 10000, and a mismatch is a warning. */
#include "frontend/import_impl.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

enum { HEADER = 28 };
#define MAGIC 0x616b3432u       /* "ak42": llama2.c's version 1 and 2 exports start with it */

static const char *const field[7] = { "dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len" };

static int32_t rd_i32(const uint8_t *p)
{
    uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    int32_t v;
    memcpy(&v, &u, sizeof v);
    return v;
}

static float rd_f32(const uint8_t *p)
{
    uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    float v;
    memcpy(&v, &u, sizeof v);
    return v;
}

/* One array of the file: n_rep copies (layers) of shape, in bytes. */
typedef struct Array {
    const char *what;       /* llama2.c's name of the array */
    int rank;
    int64_t shape[3];
    uint64_t bytes;
} Array;

/* bytes of a: 4 * product of its shape; -1 on overflow. */
static int array_bytes(Array *a)
{
    uint64_t n = 4;
    for (int k = 0; k < a->rank; k++)
        if (__builtin_mul_overflow(n, (uint64_t)a->shape[k], &n)) return -1;
    a->bytes = n;
    return 0;
}

static const char *shape_str(Arena *ar, const Array *a)
{
    const char *s = "";
    for (int k = 0; k < a->rank; k++) s = arena_printf(ar, "%s%s%lld", s, k ? ", " : "", (long long)a->shape[k]);
    return s;
}

/* The arrays of the file in order; tensor t of each (LT_COUNT for the RoPE tables). */
static int layout(const LlamaHparams *h, Array *arr, LlamaTensor *which)
{
    int n = 0;
    for (int t = 0; t < LT_COUNT; t++) {
        if (t == LT_OUTPUT) {
            for (int k = 0; k < 2; k++) {
                arr[n] = (Array){ k ? "freq_cis_imag" : "freq_cis_real", 2, { h->n_ctx, h->head_dim / 2 }, 0 };
                which[n++] = LT_COUNT;
            }
            if (h->tied) break;
        }
        static const char *const what[LT_COUNT] = {
            "token_embedding", "rms_att", "wq", "wk", "wv", "wo", "rms_ffn", "w1", "w2", "w3", "rms_final", "wcls"
        };
        Array a = { what[t], 0, { 0 }, 0 };
        int64_t s[2];
        int r = llama_shape(h, (LlamaTensor)t, s);
        if (llama_per_layer((LlamaTensor)t)) a.shape[a.rank++] = h->n_layer;
        for (int k = 0; k < r; k++) a.shape[a.rank++] = s[k];
        arr[n] = a;
        which[n++] = (LlamaTensor)t;
    }
    return n;
}

/* Compares the file's RoPE table at position 1 with theta 10000 (warning only). */
static void check_rope(Diag *d, const char *name, const LlamaHparams *h, const uint8_t *real, const uint8_t *imag)
{
    if (h->n_ctx < 2) return;
    int64_t half = h->head_dim / 2;
    for (int64_t i = 0; i < half; i++) {
        double freq = pow(10000.0, -(double)(2 * i) / (double)h->head_dim);
        double c = rd_f32(real + 4 * (half + i)), s = rd_f32(imag + 4 * (half + i));
        if (!(fabs(c - cos(freq)) <= 1e-4) || !(fabs(s - sin(freq)) <= 1e-4)) {
            diag_warning(d, loc_make(diag_file(d, name), 0, 0),
                         "the file's RoPE table (freq_cis_real/imag) is not theta 10000's: at position 1, pair %lld, "
                         "it has cos %g, sin %g where theta 10000 gives %g, %g; the imported model uses theta 10000, "
                         "as llama2.c's run.c does",
                         (long long)i, c, s, cos(freq), sin(freq));
            return;
        }
    }
}

int fe_llama2c_parse(Diag *d, const char *name, const uint8_t *data, size_t size, Arena *a, LlamaHparams *h,
                     StTensor **tensors, size_t *n_tensors)
{
    *tensors = NULL;
    *n_tensors = 0;
    memset(h, 0, sizeof *h);
    if (size < HEADER) {
        diag_file_error(d, name, "is %zu bytes, shorter than the %d-byte header of a llama2.c checkpoint "
                                 "(7 int32: dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len)",
                        size, HEADER);
        return -1;
    }
    if ((uint32_t)rd_i32(data) == MAGIC) {
        diag_file_error(d, name, "is a llama2.c export of version %d (magic \"ak42\"); kiln reads the legacy "
                                 "format, version 0 (llama2.c's export.py --version 0)", rd_i32(data + 4));
        return -1;
    }
    int64_t f[7];
    for (int k = 0; k < 7; k++) f[k] = rd_i32(data + 4 * k);
    if (f[5] == 0) {
        diag_file_error(d, name, "llama2.c header: 'vocab_size' is 0: it must be positive (classifier shared with "
                                 "the embedding) or negative (unshared)");
        return -1;
    }
    *h = (LlamaHparams){ .dim = f[0], .hidden = f[1], .n_layer = f[2], .n_head = f[3], .n_kv_head = f[4],
                         .vocab = f[5] < 0 ? -f[5] : f[5], .n_ctx = f[6], .eps = 1e-5, .theta = 10000,
                         .tied = f[5] > 0, .bos = 1, .eos = 1 };
    const LlamaFieldNames fn = { "llama2.c header: ", field[0], field[1], field[2], field[3], field[4], NULL, field[5], field[6] };
    if (llama_check(d, name, h, &fn)) return -1;
    h->head_dim = h->dim / h->n_head;

    /* sizes: every array, then the total, against the file */
    Array arr[LT_COUNT + 2];
    LlamaTensor which[LT_COUNT + 2];
    int n = layout(h, arr, which);
    uint64_t total = HEADER, at[LT_COUNT + 2];
    for (int i = 0; i < n; i++) {
        int over = array_bytes(&arr[i]);
        if (over || arr[i].bytes > size) {
            const char *amount = over ? "more than 2^64" : arena_printf(a, "%llu", (unsigned long long)arr[i].bytes);
            diag_file_error(d, name, "llama2.c header: %s [%s] would take %s bytes, more than the whole file (%zu "
                                     "bytes): the header's sizes are wrong, or this is not a llama2.c checkpoint",
                            arr[i].what, shape_str(a, &arr[i]), amount, size);
            return -1;
        }
        at[i] = total;
        if (__builtin_add_overflow(total, arr[i].bytes, &total)) total = UINT64_MAX;
    }
    if (total != size) {
        Array cls = { "wcls", 2, { h->vocab, h->dim }, 0 };
        array_bytes(&cls);      /* cannot overflow: token_embedding has the same size */
        const char *fields = arena_printf(a, "dim %lld, hidden_dim %lld, n_layers %lld, n_heads %lld, n_kv_heads %lld, "
                                          "vocab_size %lld, seq_len %lld", (long long)f[0], (long long)f[1], (long long)f[2],
                                          (long long)f[3], (long long)f[4], (long long)f[5], (long long)f[6]);
        const char *why;
        if (h->tied && total <= UINT64_MAX - cls.bytes && size == total + cls.bytes)
            why = arena_printf(a, "the extra %llu bytes are exactly an unshared classifier wcls [%lld, %lld]: the "
                                  "header's vocab_size should be negative (-%lld), or the file has a classifier the "
                                  "header does not announce", (unsigned long long)cls.bytes, (long long)h->vocab,
                               (long long)h->dim, (long long)h->vocab);
        else if (!h->tied && size + cls.bytes == total)
            why = arena_printf(a, "the file is exactly one classifier wcls [%lld, %lld] short: the header's negative "
                                  "vocab_size announces an unshared classifier the file does not have (a shared "
                                  "classifier is a positive vocab_size, %lld)", (long long)h->vocab, (long long)h->dim,
                               (long long)h->vocab);
        else if (size > total)
            why = arena_printf(a, "%llu bytes too many", (unsigned long long)(size - total));
        else
            why = arena_printf(a, "%llu bytes missing: truncated?", (unsigned long long)(total - size));
        diag_file_error(d, name, "is %zu bytes, but its llama2.c header (%s; classifier %s) describes %llu bytes: %s", size,
                        fields, h->tied ? "shared" : "unshared", (unsigned long long)total, why);
        return -1;
    }
    if (h->n_layer > 4096 || h->n_head > 4096) {
        diag_file_error(d, name, "llama2.c header: %s %lld is more than kiln handles (4096)",
                        h->n_layer > 4096 ? "n_layers" : "n_heads", (long long)(h->n_layer > 4096 ? h->n_layer : h->n_head));
        return -1;
    }

    /* the tensors: views of the mapping, one per layer */
    size_t count = 0;
    for (int i = 0; i < n; i++) count += which[i] == LT_COUNT ? 0 : llama_per_layer(which[i]) ? (size_t)h->n_layer : 1;
    StTensor *ts = arena_array(a, count, sizeof *ts);
    size_t k = 0;
    for (int i = 0; i < n; i++) {
        if (which[i] == LT_COUNT) continue;
        int per = llama_per_layer(which[i]);
        int64_t reps = per ? h->n_layer : 1;
        uint64_t one = arr[i].bytes / (uint64_t)reps;
        for (int64_t l = 0; l < reps; l++) {
            StTensor *t = &ts[k++];
            t->name = llama_name(a, &llama_names_llama2c, which[i], l);
            t->dtype = DT_F32;
            t->dtype_raw = "F32";
            t->rank = llama_shape(h, which[i], t->shape);
            t->data = data + at[i] + (uint64_t)l * one;
            t->nbytes = one;
        }
    }
    for (int i = 0; i < n; i++)
        if (which[i] == LT_COUNT && !strcmp(arr[i].what, "freq_cis_real")) check_rope(d, name, h, data + at[i], data + at[i + 1]);
    *tensors = ts;
    *n_tensors = count;
    return 0;
}

/* The safetensors file beside the XML: out.xml → out.safetensors (other names get the
 * extension appended). */
static const char *weights_path(Arena *a, const char *out_path)
{
    size_t n = strlen(out_path);
    if (n > 4 && !strcmp(out_path + n - 4, ".xml")) return arena_printf(a, "%.*s.safetensors", (int)(n - 4), out_path);
    return arena_printf(a, "%s.safetensors", out_path);
}

int fe_import_llama2c(Diag *d, const char *bin, const char *tokenizer, const char *out_path)
{
    Arena a = { 0 };
    MappedFile map = { 0 };
    int rc = -1;
    LlamaHparams h;
    StTensor *ts;
    size_t n;
    const char *tok_kind = NULL;
    if (file_map(d, bin, &map) || fe_llama2c_parse(d, bin, map.data, map.size, &a, &h, &ts, &n)) goto out;
    if (tokenizer && !(tok_kind = import_tokenizer_kind(d, tokenizer))) goto out;
    const char *wpath = weights_path(&a, out_path);
    const char *inputs[2] = { bin, tokenizer };
    for (int i = 0; i < 2; i++)
        for (int o = 0; o < 2 && inputs[i]; o++) {
            const char *w = o ? out_path : wpath;
            if (import_same_file(w, inputs[i])) {
                diag_file_error(d, w, "is the %s being imported: refusing to overwrite it (choose another -o)",
                                i ? "tokenizer" : "checkpoint");
                goto out;
            }
        }
    if (st_write(wpath, ts, n, d)) {
        remove(wpath);
        goto out;
    }
    file_unmap(&map);
    const char *out_dir = path_dirname(&a, out_path);
    const char *weights[1] = { import_xml_escape(&a, import_path(&a, out_dir, wpath)) };
    LlamaDesc m = {
        .name = import_model_name(&a, bin, 1),
        .source = import_xml_escape(&a, bin),
        .kind_note = arena_printf(&a, "A llama2.c checkpoint (legacy version 0); its weights are in %s, under llama2.c's names.",
                                  weights[0]),
        .h = h,
        .pairing = "interleaved",
        .eos_note = "llama2.c's run.c ends a story when the model produces BOS (1), not EOS (2): eos is 1",
        .names = &llama_names_llama2c,
        .weights = weights,
        .n_weights = 1,
        .tok_kind = tok_kind,
        .tok_file = tokenizer ? import_xml_escape(&a, import_path(&a, out_dir, tokenizer)) : NULL,
    };
    if (!tokenizer)
        diag_warning(d, loc_make(diag_file(d, bin), 0, 0),
                     "no --tokenizer (a llama2.c tokenizer.bin): the model will take token ids only");
    rc = llama_write_and_check(d, &a, &m, out_path, 0);
out:
    file_unmap(&map);
    arena_free(&a);
    return rc;
}
