/* test_st_models.c — the safetensors reader on the real models of ../shared/models.
 *
 * Each model's README (in its folder) gives the tensor count, names, shapes and the number
 * of parameters; we check those, that every tensor is F32 with nbytes == 4 * numel, and
 * that the first floats of a few tensors are finite (read with memcpy: data is not
 * aligned). Exit 77 (skipped) when $KILN_SHARED or both model files are absent. */
#include "frontend/frontend.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int g_failed, g_ran;

typedef struct Want {
    const char *name;
    int rank;
    int64_t shape[2];
} Want;

static void fail(const char *model, const char *fmt, const char *what)
{
    printf("FAIL %s: ", model);
    printf(fmt, what);
    printf("\n");
    g_failed++;
}

static void check_model(const char *shared, const char *dir, size_t n_tensors, int64_t params,
                        const Want *want, size_t n_want)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/models/%s/model.safetensors", shared, dir);
    if (access(path, R_OK) != 0) {
        printf("skipped %s: %s not found\n", dir, path);
        return;
    }
    g_ran++;
    Diag d;
    diag_init(&d);
    Arena a = { 0 };
    StFile f;
    int before = g_failed;
    if (st_open(&f, path, &d, &a) != 0) {
        fail(dir, "%s does not open", path);
        goto done;
    }
    if (f.n_tensors != n_tensors) {
        printf("FAIL %s: %zu tensors, expected %zu\n", dir, f.n_tensors, n_tensors);
        g_failed++;
    }
    int64_t total = 0;
    for (size_t i = 0; i < f.n_tensors; i++) {
        const StTensor *t = &f.tensors[i];
        int64_t numel = 1;
        for (int k = 0; k < t->rank; k++) numel *= t->shape[k];
        total += numel;
        if (t->dtype != DT_F32 || strcmp(t->dtype_raw, "F32"))
            fail(dir, "tensor '%s' is not F32", t->name);
        if (t->nbytes != (uint64_t)numel * 4)
            fail(dir, "tensor '%s': nbytes != 4 * numel", t->name);
        for (uint64_t k = 0; k < t->nbytes / 4 && k < 16; k++) {
            float v;
            memcpy(&v, t->data + 4 * k, 4);
            if (!isfinite(v)) fail(dir, "tensor '%s' has a non-finite value", t->name);
        }
    }
    if (total != params) {
        printf("FAIL %s: %lld parameters, expected %lld\n", dir, (long long)total,
               (long long)params);
        g_failed++;
    }
    for (size_t i = 0; i < n_want; i++) {
        const StTensor *t = st_find(&f, want[i].name);
        if (!t) {
            fail(dir, "tensor '%s' not found", want[i].name);
            continue;
        }
        if (t->rank != want[i].rank || t->shape[0] != want[i].shape[0] ||
            (t->rank > 1 && t->shape[1] != want[i].shape[1]))
            fail(dir, "tensor '%s' has the wrong shape", want[i].name);
        float first;
        memcpy(&first, t->data, 4);
        if (!isfinite(first) || first == 0.0f)
            fail(dir, "tensor '%s': first value is not a finite non-zero float", want[i].name);
    }
    st_close(&f);
    if (g_failed == before)
        printf("PASS %s: %zu tensors, %lld parameters\n", dir, n_tensors, (long long)params);
done:
    arena_free(&a);
    diag_free(&d);
}

int main(void)
{
    const char *shared = getenv("KILN_SHARED");
    if (!shared || access(shared, R_OK) != 0) {
        printf("skipped: ../shared not found (KILN_SHARED=%s)\n", shared ? shared : "");
        return 77;
    }
    static const Want makemore[] = {
        { "transformer.wte.weight", 2, { 27, 64 } },
        { "transformer.wpe.weight", 2, { 16, 64 } },
        { "transformer.h.0.attn.c_attn.weight", 2, { 192, 64 } },
        { "transformer.h.3.mlp.c_proj.weight", 2, { 64, 256 } },
        { "transformer.ln_f.weight", 1, { 64, 0 } },
        { "lm_head.weight", 2, { 27, 64 } },
    };
    check_model(shared, "makemore-names-gpt", 53, 204544, makemore,
                sizeof makemore / sizeof makemore[0]);
    static const Want llama[] = {
        { "tok_embeddings.weight", 2, { 512, 64 } },
        { "layers.0.attention.wq.weight", 2, { 64, 64 } },
        { "layers.0.attention.wk.weight", 2, { 32, 64 } },
        { "layers.4.feed_forward.w2.weight", 2, { 64, 192 } },
        { "norm.weight", 1, { 64, 0 } },
    };
    check_model(shared, "llama2xs-tinystories", 47, 279232, llama, sizeof llama / sizeof llama[0]);
    if (!g_ran) return 77;
    printf("%s\n", g_failed ? "FAILED" : "all models read");
    return g_failed ? 1 : 0;
}
