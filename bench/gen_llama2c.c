/* gen_llama2c.c — writes a LLaMA-shaped model with random weights as a llama2.c checkpoint.
 *
 * Usage: gen_llama2c OUT.bin [dim hidden_dim n_layers n_heads n_kv_heads vocab seq_len]
 *        (default 512 1376 8 8 4 512 4096: 23.4 M parameters, 94 MB of float32; head dim 64,
 *        grouped-query attention 2:1, a context of 4096 positions)
 *
 * The long-context benchmark (bench/long_context.sh) needs LLaMA's shapes and RoPE, whose
 * positions are unbounded, not its knowledge: decode time against the KV bytes read, and
 * prefill attention against the FMA peak. The vocabulary is 512 so that it can use the
 * tok512.bin tokenizer of ../shared/models/stories260K (kiln import --tokenizer).
 *
 * The llama2.c legacy layout (frontend/import_llama2c.c): 7 int32 (the arguments, vocab
 * positive = classifier tied to the embedding), then float32 token_embedding, rms_att, wq,
 * wk, wv, wo, rms_ffn, w1, w2, w3, rms_final, freq_cis_real, freq_cis_imag. Weights come
 * from bench/rand.h (deterministic): matrices std 0.02, the RMSNorm weights 1 + 0.1·N; the
 * RoPE tables are theta 10000's cos and sin, as llama2.c's export writes them. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rand.h"

static FILE *out;
static const char *out_path;

static int fail(const char *what)
{
    fprintf(stderr, "gen_llama2c: %s %s: %s\n", what, out_path, strerror(errno));
    return 1;
}

/* n values mean + std * N from the stream of `name` */
static int put_random(const char *name, uint64_t n, double mean, double std)
{
    enum { CHUNK = 1 << 16 };
    static float buf[CHUNK];
    uint64_t s = fnv1a(name);
    for (uint64_t done = 0; done < n;) {
        size_t k = n - done < CHUNK ? (size_t)(n - done) : CHUNK;
        for (size_t j = 0; j < k; j++) buf[j] = (float)(mean + std * normal(&s));
        if (fwrite(buf, 4, k, out) != k) return fail("cannot write");
        done += k;
    }
    return 0;
}

int main(int argc, char **argv)
{
    int64_t v[7] = { 512, 1376, 8, 8, 4, 512, 4096 };
    static const char *const field[7] = { "dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab", "seq_len" };
    if ((argc != 2 && argc != 9) || argv[1][0] == '-') {
        fprintf(stderr, "usage: gen_llama2c OUT.bin [dim hidden_dim n_layers n_heads n_kv_heads vocab seq_len]\n");
        return 2;
    }
    for (int i = 0; argc == 9 && i < 7; i++) {
        char *end;
        v[i] = strtoll(argv[2 + i], &end, 10);
        if (*end || v[i] < 1 || v[i] > (1 << 20)) {
            fprintf(stderr, "gen_llama2c: %s '%s' is not a count from 1 to 2^20\n", field[i], argv[2 + i]);
            return 2;
        }
    }
    int64_t dim = v[0], hidden = v[1], L = v[2], heads = v[3], kv_heads = v[4], vocab = v[5], seq = v[6];
    if (dim % heads || heads % kv_heads || (dim / heads) % 2) {
        fprintf(stderr, "gen_llama2c: dim must split into n_heads even head dims, n_heads into n_kv_heads groups\n");
        return 2;
    }
    int64_t hd = dim / heads, kv_dim = kv_heads * hd;
    out_path = argv[1];
    if (!(out = fopen(out_path, "wb"))) return fail("cannot create");
    int32_t header[7];
    for (int i = 0; i < 7; i++) header[i] = (int32_t)v[i];
    if (fwrite(header, 4, 7, out) != 7) return fail("cannot write");

    static const struct { const char *name; int per_layer; char rows, cols; double mean, std; } arrays[] = {
        { "token_embedding", 0, 'v', 'd', 0, 0.02 }, { "rms_att", 1, '1', 'd', 1, 0.1 },
        { "wq", 1, 'd', 'd', 0, 0.02 },             { "wk", 1, 'k', 'd', 0, 0.02 },
        { "wv", 1, 'k', 'd', 0, 0.02 },             { "wo", 1, 'd', 'd', 0, 0.02 },
        { "rms_ffn", 1, '1', 'd', 1, 0.1 },         { "w1", 1, 'h', 'd', 0, 0.02 },
        { "w2", 1, 'd', 'h', 0, 0.02 },             { "w3", 1, 'h', 'd', 0, 0.02 },
        { "rms_final", 0, '1', 'd', 1, 0.1 },
    };
    uint64_t params = 0;
    for (size_t a = 0; a < sizeof arrays / sizeof arrays[0]; a++) {
        int64_t n[2];
        for (int i = 0; i < 2; i++) {
            char c = i ? arrays[a].cols : arrays[a].rows;
            n[i] = c == 'v' ? vocab : c == 'd' ? dim : c == 'k' ? kv_dim : c == 'h' ? hidden : 1;
        }
        /* one stream per layer's array, as a checkpoint's tensors are */
        for (int64_t l = 0; l < (arrays[a].per_layer ? L : 1); l++) {
            char name[64];
            snprintf(name, sizeof name, "%s.%lld", arrays[a].name, (long long)l);
            if (put_random(name, (uint64_t)(n[0] * n[1]), arrays[a].mean, arrays[a].std)) return 1;
            params += (uint64_t)(n[0] * n[1]);
        }
    }
    /* freq_cis_real then freq_cis_imag [seq, hd/2]: cos and sin of pos * 10000^(-2i/hd) */
    for (int part = 0; part < 2; part++)
        for (int64_t p = 0; p < seq; p++)
            for (int64_t i = 0; i < hd / 2; i++) {
                double a = (double)p * pow(10000.0, -(double)(2 * i) / (double)hd);
                float x = (float)(part ? sin(a) : cos(a));
                if (fwrite(&x, 4, 1, out) != 1) return fail("cannot write");
            }
    if (fclose(out) != 0) return fail("cannot write");
    printf("gen_llama2c: wrote %s (dim %lld, hidden %lld, %lld layers, %lld/%lld heads, vocab %lld, context %lld: "
           "%.1f M parameters)\n", out_path, (long long)dim, (long long)hidden, (long long)L, (long long)heads,
           (long long)kv_heads, (long long)vocab, (long long)seq, params / 1e6);
    return 0;
}
