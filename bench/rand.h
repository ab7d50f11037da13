/* rand.h — the benchmark generators' random weights (gen_gpt2.c, gen_llama2c.c).
 *
 * Deterministic on every machine and compiler: each tensor has its own splitmix64 stream,
 * seeded from its name (fnv1a), and a value is an Irwin–Hall approximation of a normal (the
 * sum of four 16-bit uniforms, done in integers, then scaled in double), so no libm function
 * (whose last bit may differ between C libraries) is involved. */
#ifndef KILN_BENCH_RAND_H
#define KILN_BENCH_RAND_H

#include <stdint.h>

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 0xCBF29CE484222325ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001B3ull;
    return h;
}

/* Approximately standard normal: four 16-bit uniforms summed (Irwin–Hall, n = 4), centred,
 * scaled to unit variance. Var of one U(0,1) is 1/12, of the sum 1/3: multiply by sqrt(3). */
static double normal(uint64_t *s)
{
    uint64_t r = splitmix64(s);
    uint32_t sum = (uint32_t)(r & 0xFFFF) + (uint32_t)(r >> 16 & 0xFFFF) + (uint32_t)(r >> 32 & 0xFFFF) +
                   (uint32_t)(r >> 48);
    return ((double)sum + 2.0) / 65536.0 * 1.7320508075688772 - 2.0 * 1.7320508075688772;
}

#endif
