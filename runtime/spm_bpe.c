/* spm_bpe.c — merge by score: llama2.c's tokenizer.bin and SentencePiece BPE (RT_TOK_SPM_BPE).
 *
 * The text is normalized first (spm_norm.c: for llama2.c just a space in front). Then it is
 * cut into symbols, one per character, except that a user-defined piece (RT_TOK_FLAG_USER)
 * is one symbol as a whole and never merges. A character that is no piece is an unknown
 * symbol; with RT_TOK_F_BYTES_FIRST (llama2.c's run.c) it becomes its byte tokens at once,
 * which never merge either (run.c would look up "<0xNN>" followed by the neighbour's text,
 * which is no piece of any vocabulary we know; docs/tokenizers.md).
 *
 * Then, as long as some pair of adjacent symbols spells a piece of the piece hash, the pair
 * whose piece has the highest score merges, the leftmost on ties: llama2.c scans for the
 * strictly greatest score from the left; SentencePiece's bpe_model.cc pops a priority queue
 * ordered by (score, then smaller left position) — the same order. We keep SentencePiece's
 * queue: a binary heap of candidate pairs, with stale entries recognised on the way out
 * (one side already merged away or grown: the recorded length no longer matches), so a text
 * of n characters costs O(n log n) instead of run.c's O(n^2) scans.
 *
 * Output: each symbol's piece id. An unknown symbol becomes its byte tokens (byte_ids) when
 * the tokenizer has them, else unk_id (consecutive unknowns as one unk_id with
 * RT_TOK_F_MERGE_UNKNOWN). A symbol whose piece is RT_TOK_FLAG_UNUSED is split back into the
 * two symbols it was merged from, recursively, as bpe_model.cc's resegment does.
 *
 * Scratch (the normalized text, symbols, the heap) is malloc'd per call and freed. */
#include "runtime/tokenizer_impl.h"
#include "runtime/unicode_impl.h"

#include <stdlib.h>

/* A symbol: a span of the normalized text. Symbols form a doubly linked list in text order;
 * a merge grows the left one and empties the right one. */
typedef struct Sym {
    uint32_t start, len;        /* bytes of the normalized text; len 0: merged away */
    uint32_t id;                /* its piece, RT_TOK_NO_ID when unknown */
    int32_t prev, next;         /* neighbours, -1 at the ends */
    uint32_t node;              /* its merge tree node (for unused pieces) */
    uint8_t frozen;             /* user-defined or a byte token: never merges */
} Sym;

typedef struct Node {           /* a merge tree: leaves are the first symbols */
    uint32_t id;
    uint32_t left, right;       /* child nodes; RT_TOK_NO_ID for a leaf */
} Node;

typedef struct Pair {           /* a candidate merge */
    float score;
    uint32_t left, right;       /* symbol indices */
    uint32_t len;               /* bytes of the merged piece when queued */
    uint32_t id;                /* the merged piece */
} Pair;

typedef struct Work {
    const RtTokenizer *t;
    const uint8_t *s;           /* normalized text */
    Sym *sym;
    Node *node;
    uint32_t n_node;
    Pair *heap;
    size_t n_heap;
    uint32_t *stack;            /* emit_node's: at most one entry per node */
} Work;

/* Whether a comes out of the queue before b: higher score, then further left. */
static int pair_before(const Pair *a, const Pair *b)
{
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

static void heap_push(Work *w, Pair p)
{
    size_t i = w->n_heap++;
    while (i > 0) {
        size_t up = (i - 1) / 2;
        if (!pair_before(&p, &w->heap[up])) break;
        w->heap[i] = w->heap[up];
        i = up;
    }
    w->heap[i] = p;
}

static Pair heap_pop(Work *w)
{
    Pair top = w->heap[0], last = w->heap[--w->n_heap];
    size_t i = 0, n = w->n_heap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && pair_before(&w->heap[c + 1], &w->heap[c])) c++;
        if (!pair_before(&w->heap[c], &last)) break;
        w->heap[i] = w->heap[c];
        i = c;
    }
    if (n > 0) w->heap[i] = last;
    return top;
}

/* Queues the pair (a, b) of adjacent symbols if their bytes together spell a piece. */
static void maybe_queue(Work *w, int32_t a, int32_t b)
{
    if (a < 0 || b < 0) return;
    const Sym *l = &w->sym[a], *r = &w->sym[b];
    if (l->frozen || r->frozen) return;
    uint32_t len = l->len + r->len;
    uint32_t id = tok_find_piece(w->t, w->s + l->start, len);
    if (id == RT_TOK_NO_ID) return;
    float score = w->t->scores[id];
    if ((w->t->flags & RT_TOK_F_MERGE_FLOOR) && !(score > -1e10f)) return;
    heap_push(w, (Pair){ score, (uint32_t)a, (uint32_t)b, len, id });
}

static uint32_t leaf(Work *w, uint32_t id)
{
    w->node[w->n_node] = (Node){ id, RT_TOK_NO_ID, RT_TOK_NO_ID };
    return w->n_node++;
}

/* Appends the symbols of text[0..n) to w->sym; returns their count. */
static uint32_t split(Work *w, size_t n)
{
    const RtTokenizer *t = w->t;
    uint32_t count = 0;
    for (size_t p = 0; p < n;) {
        uint32_t id = RT_TOK_NO_ID, len = 0;
        uint8_t frozen = 0;
        if (t->max_user_len) {      /* the longest user-defined piece here */
            size_t most = n - p < t->max_user_len ? n - p : t->max_user_len;
            for (size_t l = most; l > 0 && id == RT_TOK_NO_ID; l--) {
                uint32_t u = tok_find_piece(t, w->s + p, l);
                if (u != RT_TOK_NO_ID && (tok_flags(t, u) & RT_TOK_FLAG_USER)) id = u, len = (uint32_t)l;
            }
            frozen = id != RT_TOK_NO_ID;
        }
        if (id == RT_TOK_NO_ID) {
            uint32_t cp;
            int cl = uni_utf8_decode(w->s + p, n - p, &cp);
            len = cl > 0 ? (uint32_t)cl : 1;
            id = tok_find_piece(t, w->s + p, len);
        }
        if (id == RT_TOK_NO_ID && (t->flags & RT_TOK_F_BYTES_FIRST)) {
            for (uint32_t k = 0; k < len; k++) {
                uint32_t b = t->byte_ids ? t->byte_ids[w->s[p + k]] : t->unk_id;
                w->sym[count] = (Sym){ (uint32_t)p + k, 1, b, -1, -1, leaf(w, b), 1 };
                count++;
            }
        } else {
            w->sym[count] = (Sym){ (uint32_t)p, len, id, -1, -1, leaf(w, id), frozen };
            count++;
        }
        p += len;
    }
    for (uint32_t i = 0; i < count; i++) {
        w->sym[i].prev = (int32_t)i - 1;
        w->sym[i].next = i + 1 < count ? (int32_t)i + 1 : -1;
    }
    return count;
}

static void merge_all(Work *w, uint32_t count)
{
    for (uint32_t i = 1; i < count; i++) maybe_queue(w, (int32_t)i - 1, (int32_t)i);
    while (w->n_heap > 0) {
        Pair p = heap_pop(w);
        Sym *l = &w->sym[p.left], *r = &w->sym[p.right];
        if (l->len == 0 || r->len == 0 || l->len + r->len != p.len) continue;   /* stale */
        w->node[w->n_node] = (Node){ p.id, l->node, r->node };
        l->node = w->n_node++;
        l->len = p.len;
        l->id = p.id;
        l->next = r->next;
        if (r->next >= 0) w->sym[r->next].prev = (int32_t)p.left;
        r->len = 0;
        maybe_queue(w, l->prev, (int32_t)p.left);
        maybe_queue(w, (int32_t)p.left, l->next);
    }
}

/* Output state: ids written so far, and whether the last one was a merged unknown. */
typedef struct Out {
    uint32_t *ids;
    size_t n, cap;
    int last_unknown;
} Out;

static int put(Out *o, uint32_t id)
{
    if (o->n >= o->cap) return 0;
    o->ids[o->n++] = id;
    o->last_unknown = 0;
    return 1;
}

/* Emits a merge tree node: an unused piece as its two halves, recursively (bpe_model.cc's
 * resegment), with an explicit stack: a tree can be as deep as its piece is long. */
static int emit_node(Work *w, Out *o, uint32_t root)
{
    size_t top = 0;
    w->stack[top++] = root;
    while (top > 0) {
        const Node *nd = &w->node[w->stack[--top]];
        /* a half that is an unknown character (no id: only a made-up table merges one) keeps
         * the piece whole */
        if (nd->left != RT_TOK_NO_ID && (tok_flags(w->t, nd->id) & RT_TOK_FLAG_UNUSED) &&
            w->node[nd->left].id != RT_TOK_NO_ID && w->node[nd->right].id != RT_TOK_NO_ID) {
            w->stack[top++] = nd->right;
            w->stack[top++] = nd->left;
        } else if (!put(o, nd->id)) {
            return 0;
        }
    }
    return 1;
}

static int emit(Work *w, Out *o, const Sym *sy)
{
    const RtTokenizer *t = w->t;
    if (sy->id != RT_TOK_NO_ID) return emit_node(w, o, sy->node);
    if (t->byte_ids) {
        for (uint32_t k = 0; k < sy->len; k++)
            if (!put(o, t->byte_ids[w->s[sy->start + k]])) return 0;
        return 1;
    }
    if ((t->flags & RT_TOK_F_MERGE_UNKNOWN) && o->last_unknown) return 1;
    if (!put(o, t->unk_id)) return 0;
    o->last_unknown = 1;
    return 1;
}

long tok_spm_bpe_encode(const RtTokenizer *t, const uint8_t *text, size_t len, uint32_t *ids,
                        size_t cap, size_t *err_at)
{
    *err_at = 0;
    size_t n;
    uint8_t *s = tok_spm_normalize(t, text, len, &n);
    if (!s) return RT_TOK_ENOMEM;
    if (n > UINT32_MAX / 4) {
        free(s);
        return RT_TOK_ENOMEM;
    }
    /* at most n symbols; a merge tree of n leaves has fewer than 2n nodes; the heap holds
     * the n - 1 first pairs and two per merge */
    Work w = { t, s, malloc((n + 1) * sizeof(Sym)), malloc((2 * n + 1) * sizeof(Node)), 0,
               malloc((3 * n + 1) * sizeof(Pair)), 0, malloc((2 * n + 1) * sizeof(uint32_t)) };
    long rc = RT_TOK_ENOMEM;
    if (w.sym && w.node && w.heap && w.stack) {
        uint32_t count = split(&w, n);
        merge_all(&w, count);
        Out o = { ids, 0, cap, 0 };
        rc = 0;
        for (int32_t i = count ? 0 : -1; i >= 0; i = w.sym[i].next) {
            if (!emit(&w, &o, &w.sym[i])) {
                rc = RT_TOK_ENOSPACE;
                break;
            }
        }
        if (rc == 0) rc = (long)o.n;
    }
    free(w.sym);
    free(w.node);
    free(w.heap);
    free(w.stack);
    free(s);
    return rc;
}
