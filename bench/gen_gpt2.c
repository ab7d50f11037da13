/* gen_gpt2.c — writes a GPT-2 124M Hugging Face folder with random weights of the real shapes.
 *
 * Usage: gen_gpt2 DIR      (DIR is created if needed; writes DIR/config.json and
 *                           DIR/model.safetensors, ~498 MB of float32)
 *
 * The benchmark needs GPT-2 124M's shapes, not its knowledge: decode speed depends on the
 * weight bytes, prefill on the FLOPs, and correctness is checked against an independent
 * PyTorch forward run on these same weights (bench/make_ref.py). Tensor names are those of
 * Hugging Face's GPT2Model without the `transformer.` prefix; the head is tied to wte (no
 * lm_head.weight); matrices use the Conv1D layout [in, out].
 *
 * Values are deterministic on every machine and compiler (bench/rand.h: a splitmix64 stream
 * per tensor, seeded from its name, Irwin–Hall normals rounded once to float). Matrices
 * have std 0.02, wpe 0.01; LayerNorm weights are 1 + 0.1·N, biases 0.02·N (N ≈ standard
 * normal). No dependency beyond the C library: `cc -O2 -o gen_gpt2 gen_gpt2.c`. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "rand.h"

enum { N_LAYER = 12, N_EMBD = 768, N_POS = 1024, VOCAB = 50257, N_INNER = 4 * N_EMBD };

typedef struct Tensor {
    char name[64];
    int64_t shape[2];
    int ndim;
    double mean, std;       /* value = mean + std * N */
    uint64_t begin, end;    /* byte offsets in the data section */
} Tensor;

static Tensor tensors[4 + 12 * N_LAYER + 2];
static int n_tensors;
static uint64_t data_bytes;

static void add(const char *name, int64_t d0, int64_t d1, double mean, double std)
{
    Tensor *t = &tensors[n_tensors++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->shape[0] = d0;
    t->shape[1] = d1;
    t->ndim = d1 ? 2 : 1;
    t->mean = mean;
    t->std = std;
    t->begin = data_bytes;
    data_bytes += (uint64_t)d0 * (uint64_t)(d1 ? d1 : 1) * 4;
    t->end = data_bytes;
}

static int die(const char *what, const char *path)
{
    fprintf(stderr, "gen_gpt2: %s %s: %s\n", what, path, strerror(errno));
    return 1;
}

static int write_config(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "w");
    if (!f) return die("cannot create", path);
    fprintf(f,
            "{\n"
            "  \"activation_function\": \"gelu_new\",\n"
            "  \"architectures\": [\"GPT2LMHeadModel\"],\n"
            "  \"attn_pdrop\": 0.1,\n"
            "  \"bos_token_id\": 50256,\n"
            "  \"embd_pdrop\": 0.1,\n"
            "  \"eos_token_id\": 50256,\n"
            "  \"initializer_range\": 0.02,\n"
            "  \"layer_norm_epsilon\": 1e-05,\n"
            "  \"model_type\": \"gpt2\",\n"
            "  \"n_ctx\": %d,\n"
            "  \"n_embd\": %d,\n"
            "  \"n_head\": 12,\n"
            "  \"n_inner\": null,\n"
            "  \"n_layer\": %d,\n"
            "  \"n_positions\": %d,\n"
            "  \"resid_pdrop\": 0.1,\n"
            "  \"vocab_size\": %d\n"
            "}\n",
            N_POS, N_EMBD, N_LAYER, N_POS, VOCAB);
    if (fclose(f) != 0) return die("cannot write", path);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2 || argv[1][0] == '-') {
        fprintf(stderr, "usage: gen_gpt2 DIR\n"
                        "writes DIR/config.json and DIR/model.safetensors: GPT-2 124M, random weights\n");
        return 2;
    }
    const char *dir = argv[1];
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) return die("cannot create", dir);

    char name[64];
    add("wte.weight", VOCAB, N_EMBD, 0, 0.02);
    add("wpe.weight", N_POS, N_EMBD, 0, 0.01);
    for (int l = 0; l < N_LAYER; l++) {
#define ADD(suffix, d0, d1, mean, std) \
        (snprintf(name, sizeof name, "h.%d.%s", l, suffix), add(name, d0, d1, mean, std))
        ADD("ln_1.weight", N_EMBD, 0, 1, 0.1);
        ADD("ln_1.bias", N_EMBD, 0, 0, 0.02);
        ADD("attn.c_attn.weight", N_EMBD, 3 * N_EMBD, 0, 0.02);
        ADD("attn.c_attn.bias", 3 * N_EMBD, 0, 0, 0.02);
        ADD("attn.c_proj.weight", N_EMBD, N_EMBD, 0, 0.02);
        ADD("attn.c_proj.bias", N_EMBD, 0, 0, 0.02);
        ADD("ln_2.weight", N_EMBD, 0, 1, 0.1);
        ADD("ln_2.bias", N_EMBD, 0, 0, 0.02);
        ADD("mlp.c_fc.weight", N_EMBD, N_INNER, 0, 0.02);
        ADD("mlp.c_fc.bias", N_INNER, 0, 0, 0.02);
        ADD("mlp.c_proj.weight", N_INNER, N_EMBD, 0, 0.02);
        ADD("mlp.c_proj.bias", N_EMBD, 0, 0, 0.02);
#undef ADD
    }
    add("ln_f.weight", N_EMBD, 0, 1, 0.1);
    add("ln_f.bias", N_EMBD, 0, 0, 0.02);

    /* The header: JSON, padded with spaces to a multiple of 8 bytes so that the data (and so
     * every float) is aligned when the file is mapped. */
    size_t cap = 64 * 1024, len = 0;
    char *hdr = malloc(cap);
    if (!hdr) return fprintf(stderr, "gen_gpt2: out of memory\n"), 1;
    len += (size_t)snprintf(hdr + len, cap - len, "{\"__metadata__\":{\"format\":\"pt\"}");
    for (int i = 0; i < n_tensors; i++) {
        Tensor *t = &tensors[i];
        if (t->ndim == 2)
            len += (size_t)snprintf(hdr + len, cap - len, ",\"%s\":{\"dtype\":\"F32\",\"shape\":[%lld,%lld],", t->name,
                                    (long long)t->shape[0], (long long)t->shape[1]);
        else
            len += (size_t)snprintf(hdr + len, cap - len, ",\"%s\":{\"dtype\":\"F32\",\"shape\":[%lld],", t->name,
                                    (long long)t->shape[0]);
        len += (size_t)snprintf(hdr + len, cap - len, "\"data_offsets\":[%llu,%llu]}", (unsigned long long)t->begin,
                                (unsigned long long)t->end);
    }
    len += (size_t)snprintf(hdr + len, cap - len, "}");
    while (len % 8) hdr[len++] = ' ';

    if (write_config(dir)) return 1;
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) return die("cannot create", tmp);
    unsigned char n8[8];
    for (int i = 0; i < 8; i++) n8[i] = (unsigned char)((uint64_t)len >> (8 * i));
    fwrite(n8, 1, 8, f);
    fwrite(hdr, 1, len, f);

    enum { CHUNK = 1 << 16 };
    static float buf[CHUNK];
    for (int i = 0; i < n_tensors; i++) {
        Tensor *t = &tensors[i];
        uint64_t s = fnv1a(t->name), n = (t->end - t->begin) / 4;
        for (uint64_t done = 0; done < n;) {
            size_t k = n - done < CHUNK ? (size_t)(n - done) : CHUNK;
            for (size_t j = 0; j < k; j++) buf[j] = (float)(t->mean + t->std * normal(&s));
            if (fwrite(buf, 4, k, f) != k) return die("cannot write", tmp);
            done += k;
        }
    }
    if (fclose(f) != 0) return die("cannot write", tmp);
    if (rename(tmp, path) != 0) return die("cannot rename to", path);
    free(hdr);
    printf("gen_gpt2: wrote %s/config.json and %s (%d tensors, %.1f MB of float32)\n", dir, path, n_tensors,
           data_bytes / 1e6);
    return 0;
}
