/* namemap.c — name → small integer, by open addressing in an arena.
 *
 * For the lookups that would otherwise be linear per name (weights, states, parameters of
 * a module, a few thousand at most in real models but unbounded in hostile input). Keys
 * are not copied: they must live as long as the map (arena strings do). The table doubles
 * when half full; the old one is left in the arena. FNV-1a hashing. */
#include "support.h"

#include <string.h>

static uint32_t hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

int namemap_get(const NameMap *m, const char *key)
{
    if (!m->cap) return -1;
    for (uint32_t i = hash(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        if (!m->keys[i]) return -1;
        if (strcmp(m->keys[i], key) == 0) return m->vals[i];
    }
}

void namemap_put(Arena *a, NameMap *m, const char *key, int val)
{
    if (2 * (m->n + 1) > m->cap) {
        NameMap grown = { 0 };
        grown.cap = m->cap ? 2 * m->cap : 64;
        grown.keys = arena_array(a, grown.cap, sizeof *grown.keys);
        grown.vals = arena_array(a, grown.cap, sizeof *grown.vals);
        for (uint32_t i = 0; i < m->cap; i++)
            if (m->keys[i]) namemap_put(a, &grown, m->keys[i], m->vals[i]);
        *m = grown;
    }
    uint32_t i = hash(key) & (m->cap - 1);
    while (m->keys[i] && strcmp(m->keys[i], key) != 0) i = (i + 1) & (m->cap - 1);
    if (!m->keys[i]) m->n++;
    m->keys[i] = key;
    m->vals[i] = val;
}
