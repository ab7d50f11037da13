/* safetensors.c — the weights reader: map a .safetensors file and check every byte of
 * its header before anything trusts it.
 *
 * The file is `u64 N (little endian) | N bytes of JSON | data area`. json-c parses the
 * header (strict mode); we then walk the root object once, checking each entry into a
 * heap list of Entry records whose names still point into json-c's objects. Only when the
 * whole file is good are the tensors copied into the caller's arena and sorted by name
 * (st_find is a binary search), so a failure leaves nothing behind but error messages.
 * Checks, in order: file and header length (the reference implementation caps headers at
 * 100 MB, so do we); strict UTF-8 (json-c's own check lets overlong forms through); JSON
 * syntax, reported at json-c's byte offset; no key twice (json-c silently keeps the last,
 * so scan_keys re-reads the validated text); each entry exactly {dtype, shape,
 * data_offsets}; every integer exact and non-negative (json-c saturates huge integers,
 * which the limits below then reject; 1.5, 1e3 and 2.0 are doubles and rejected); rank <=
 * IR_MAX_RANK, every dim and numel <= IR_MAX_EXTENT, so no product overflows; end - begin
 * == numel * element size; then over all tensors: the last end within the data area (else
 * the file is truncated) and, sorted by begin, no two non-empty ranges overlapping. Gaps
 * between tensors and bytes after the last one are accepted: they cannot alias anything.
 * (huggingface/safetensors is stricter: its Metadata::validate wants the tensors to tile
 * the data area exactly, reporting a hole as InvalidOffset and spare bytes at the end as
 * MetadataIncompleteBuffer. Conversely it ignores unknown fields in an entry, which we
 * reject, as we reject what exceeds kiln's rank and extent limits.) Data is not aligned
 * in general; readers memcpy out of StTensor.data. */
#include "frontend/frontend.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

enum { ST_MAX_HEADER = 100000000 };    /* bytes; the reference implementation's limit */

/* Every dtype of the safetensors specification. kiln loads the first four; the others are
 * listed with dtype DT_COUNT and fail only if a model asks for them. Sizes are in bits
 * because of F4 and F6: a tensor of those must still fill whole bytes. */
typedef struct StDtype {
    const char *name;
    int bits;
    DType dtype;
} StDtype;

static const StDtype st_dtypes[] = {
    { "F32", 32, DT_F32 },          { "F16", 16, DT_F16 },
    { "BF16", 16, DT_BF16 },        { "I32", 32, DT_I32 },
    { "F64", 64, DT_COUNT },        { "I64", 64, DT_COUNT },
    { "U64", 64, DT_COUNT },        { "C64", 64, DT_COUNT },
    { "U32", 32, DT_COUNT },        { "I16", 16, DT_COUNT },
    { "U16", 16, DT_COUNT },        { "I8", 8, DT_COUNT },
    { "U8", 8, DT_COUNT },          { "BOOL", 8, DT_COUNT },
    { "F8_E4M3", 8, DT_COUNT },     { "F8_E5M2", 8, DT_COUNT },
    { "F8_E8M0", 8, DT_COUNT },     { "F6_E2M3", 6, DT_COUNT },
    { "F6_E3M2", 6, DT_COUNT },     { "F4", 4, DT_COUNT },
};

/* One tensor while the header is checked; name and dtype_raw point into json-c objects
 * or into st_dtypes. begin/end are relative to the data area. */
typedef struct Entry {
    StTensor t;
    uint64_t begin, end;
} Entry;

typedef struct Reader {
    Diag *d;
    const char *name;           /* the file as the user named it, for messages */
    const uint8_t *bytes;       /* the whole file */
    size_t size;
    const char *header;         /* N bytes of JSON, not NUL-terminated */
    size_t header_len;
    uint64_t data_size;         /* size of the data area */
    Entry *entries;
    size_t n_entries, cap_entries;
} Reader;

static void st_error(Reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void st_error(Reader *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_verror(r->d, loc_make(diag_file(r->d, r->name), 0, 0), fmt, ap);
    va_end(ap);
}

/* What a user calls a JSON value: "a number", not "an int". */
static const char *json_kind(json_object *v)
{
    switch (json_object_get_type(v)) {
    case json_type_null: return "null";
    case json_type_boolean: return "a boolean";
    case json_type_double:
    case json_type_int: return "a number";
    case json_type_string: return "a string";
    case json_type_array: return "an array";
    case json_type_object: return "an object";
    }
    return "a value";
}

/* An exact non-negative integer, or -1. json-c makes 1.5, 1e3 and 3.0 doubles and
 * saturates integers beyond int64 (at INT64_MAX / INT64_MIN), which every caller's
 * bound then rejects, so no huge value can pass as a small one. */
static int json_count(json_object *v, int64_t *out)
{
    if (!json_object_is_type(v, json_type_int)) return -1;
    int64_t x = json_object_get_int64(v);
    if (x < 0) return -1;
    *out = x;
    return 0;
}

static void shape_format(char *buf, size_t cap, const StTensor *t)
{
    size_t n = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < t->rank && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%lld", i ? ", " : "", (long long)t->shape[i]);
    if (n < cap) snprintf(buf + n, cap - n, "]");
}

/* ---- duplicate keys ---------------------------------------------------------- */

/* A key of the root object (parent -1) or of one of its member objects. */
typedef struct Key {
    const char *s;              /* decoded bytes, length len (may hold a NUL: rejected) */
    size_t len;
    long parent;                /* index in the key list of the enclosing root key */
    char *owned;                /* heap copy when the key had escapes */
} Key;

static int key_cmp(const void *pa, const void *pb)
{
    const Key *a = pa, *b = pb;
    if (a->parent != b->parent) return a->parent < b->parent ? -1 : 1;
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->s, b->s, n);
    if (c) return c;
    return a->len < b->len ? -1 : a->len > b->len;
}

/* json-c keeps the last of two equal keys and truncates keys at \u0000, so a file could
 * say one thing to kiln and another to PyTorch. The header has already been parsed by
 * json-c, so it is well-formed JSON: a lexical walk that skips strings and counts
 * brackets finds the keys of depths 1 (tensor names) and 2 (fields of an entry). Keys
 * with escapes are decoded by json-c itself. __metadata__'s keys are not checked (the
 * metadata is ignored). */
static int scan_keys(Reader *r, size_t len)
{
    enum { MAX_DEPTH = 64 };    /* json-c refuses nesting deeper than 32 */
    const char *s = r->header;
    char kind[MAX_DEPTH];       /* '{' or '[' per open depth */
    int depth = 0;
    char prev = 0;              /* last significant character outside strings */
    long root_key = -1;         /* index of the current depth-1 key */
    int in_metadata = 0;
    Key *keys = NULL;
    size_t n_keys = 0, cap_keys = 0;
    json_tokener *tok = json_tokener_new();
    int bad = 0;

    if (!tok) kiln_internal(__FILE__, __LINE__, "out of memory");
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '"') {
            size_t j = i + 1, escapes = 0;
            while (j < len && s[j] != '"') {
                if (s[j] == '\\') escapes++, j++;
                j++;
            }
            KILN_ASSERT(j < len);       /* json-c accepted the text */
            int is_key = depth >= 1 && depth <= 2 && kind[depth - 1] == '{' &&
                         (prev == '{' || prev == ',');
            if (is_key && !(depth == 2 && in_metadata)) {
                Key k = { s + i + 1, j - i - 1, depth == 1 ? -1 : root_key, NULL };
                if (escapes) {
                    json_tokener_reset(tok);
                    json_object *str = json_tokener_parse_ex(tok, s + i, (int)(j - i + 1));
                    KILN_ASSERT(str && json_object_is_type(str, json_type_string));
                    k.len = (size_t)json_object_get_string_len(str);
                    k.owned = xmalloc(k.len + 1);
                    memcpy(k.owned, json_object_get_string(str), k.len + 1);
                    k.s = k.owned;
                    json_object_put(str);
                }
                if (memchr(k.s, 0, k.len)) {
                    if (depth == 1)
                        st_error(r, "tensor name '%s\\u0000...' contains a NUL character", k.s);
                    else
                        st_error(r, "tensor '%.*s': field name '%s\\u0000...' contains a "
                                 "NUL character", (int)keys[root_key].len, keys[root_key].s,
                                 k.s);
                    bad = 1;
                }
                if (depth == 1) {
                    root_key = (long)n_keys;
                    in_metadata = k.len == 12 && memcmp(k.s, "__metadata__", 12) == 0;
                }
                VEC_PUSH(keys, n_keys, cap_keys, k);
            }
            prev = '"';
            i = j;
            continue;
        }
        if (c == '{' || c == '[') {
            KILN_ASSERT(depth < MAX_DEPTH);
            kind[depth++] = c;
        } else if (c == '}' || c == ']') {
            depth--;
        }
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') prev = c;
    }
    json_tokener_free(tok);

    /* Sorting by (parent, bytes) makes equal keys of one object neighbours; the parent
     * indices stay valid because we look names up in a copy taken before sorting. */
    Key *by_index = xmalloc((n_keys ? n_keys : 1) * sizeof *by_index);
    if (n_keys) memcpy(by_index, keys, n_keys * sizeof *keys);
    if (n_keys) qsort(keys, n_keys, sizeof *keys, key_cmp);
    for (size_t i = 1; i < n_keys; i++) {
        if (key_cmp(&keys[i - 1], &keys[i]) != 0) continue;
        if (i >= 2 && key_cmp(&keys[i - 2], &keys[i]) == 0) continue;  /* said already */
        const Key *k = &keys[i], *p = k->parent < 0 ? NULL : &by_index[k->parent];
        if (!p && k->len == 12 && memcmp(k->s, "__metadata__", 12) == 0)
            st_error(r, "__metadata__ appears twice in the header");
        else if (!p)
            st_error(r, "tensor '%.*s' is listed twice in the header", (int)k->len, k->s);
        else
            st_error(r, "tensor '%.*s': field '%.*s' is given twice", (int)p->len, p->s,
                     (int)k->len, k->s);
        bad = 1;
    }
    for (size_t i = 0; i < n_keys; i++) free(keys[i].owned);
    free(keys);
    free(by_index);
    return bad ? -1 : 0;
}

/* ---- one entry ----------------------------------------------------------------- */

static int check_metadata(Reader *r, json_object *v)
{
    if (!json_object_is_type(v, json_type_object)) {
        st_error(r, "__metadata__ is %s, not an object of strings", json_kind(v));
        return -1;
    }
    json_object_object_foreach(v, key, val) {
        if (!json_object_is_type(val, json_type_string)) {
            st_error(r, "__metadata__: '%s' is %s, not a string", key, json_kind(val));
            return -1;
        }
    }
    return 0;
}

static int check_shape(Reader *r, const char *name, json_object *shape, StTensor *t,
                       int64_t *numel)
{
    if (!json_object_is_type(shape, json_type_array)) {
        st_error(r, "tensor '%s': shape is %s, not an array of integers", name,
                 json_kind(shape));
        return -1;
    }
    size_t rank = json_object_array_length(shape);
    if (rank > IR_MAX_RANK) {
        st_error(r, "tensor '%s': rank %zu exceeds kiln's limit of %d dimensions", name, rank,
                 (int)IR_MAX_RANK);
        return -1;
    }
    t->rank = (int)rank;
    *numel = 1;
    int too_big = 0;
    for (size_t i = 0; i < rank; i++) {
        json_object *v = json_object_array_get_idx(shape, i);
        int64_t x;
        if (json_count(v, &x) != 0) {
            st_error(r, "tensor '%s': shape[%zu] is %s, not a non-negative integer", name, i,
                     json_object_to_json_string(v));
            return -1;
        }
        if (x > IR_MAX_EXTENT) {
            st_error(r, "tensor '%s': shape[%zu] = %s exceeds kiln's limit of 2^40", name, i,
                     json_object_to_json_string(v));
            return -1;
        }
        t->shape[i] = x;
        /* Each factor is <= 2^40; stop multiplying once past the limit (a later 0 still
         * makes the tensor empty, which is fine). */
        if (x == 0) *numel = 0;
        else if (*numel > IR_MAX_EXTENT / x) too_big = 1;
        else *numel *= x;
    }
    if (too_big && *numel != 0) {
        char buf[160];
        shape_format(buf, sizeof buf, t);
        st_error(r, "tensor '%s': shape %s has more than 2^40 elements, kiln's limit", name, buf);
        return -1;
    }
    return 0;
}

static int check_entry(Reader *r, const char *name, json_object *v, Entry *e)
{
    if (!json_object_is_type(v, json_type_object)) {
        st_error(r, "tensor '%s': entry is %s, not an object {dtype, shape, data_offsets}",
                 name, json_kind(v));
        return -1;
    }
    json_object_object_foreach(v, key, val) {
        (void)val;
        if (strcmp(key, "dtype") && strcmp(key, "shape") && strcmp(key, "data_offsets")) {
            st_error(r, "tensor '%s': unknown field '%s' (expected dtype, shape, data_offsets)",
                     name, key);
            return -1;
        }
    }
    json_object *dtype, *shape, *offsets;
    const char *missing = !json_object_object_get_ex(v, "dtype", &dtype) ? "dtype"
                        : !json_object_object_get_ex(v, "shape", &shape) ? "shape"
                        : !json_object_object_get_ex(v, "data_offsets", &offsets) ? "data_offsets"
                        : NULL;
    if (missing) {
        st_error(r, "tensor '%s': missing field '%s'", name, missing);
        return -1;
    }

    memset(e, 0, sizeof *e);
    e->t.name = name;
    if (!json_object_is_type(dtype, json_type_string)) {
        st_error(r, "tensor '%s': dtype is %s, not a string", name, json_kind(dtype));
        return -1;
    }
    const char *ds = json_object_get_string(dtype);
    const StDtype *dt = NULL;
    for (size_t i = 0; i < sizeof st_dtypes / sizeof st_dtypes[0]; i++)
        if (strcmp(ds, st_dtypes[i].name) == 0) dt = &st_dtypes[i];
    if (!dt || strlen(ds) != (size_t)json_object_get_string_len(dtype)) {
        st_error(r, "tensor '%s': unknown dtype '%s'", name, ds);
        return -1;
    }
    e->t.dtype = dt->dtype;
    e->t.dtype_raw = dt->name;

    int64_t numel;
    if (check_shape(r, name, shape, &e->t, &numel) != 0) return -1;
    /* numel <= 2^40 and bits <= 64: the product fits easily. */
    uint64_t nbits = (uint64_t)numel * (uint64_t)dt->bits;
    if (nbits % 8) {
        char buf[160];
        shape_format(buf, sizeof buf, &e->t);
        st_error(r, "tensor '%s': shape %s of %s is not a whole number of bytes", name, buf,
                 dt->name);
        return -1;
    }
    e->t.nbytes = nbits / 8;

    if (!json_object_is_type(offsets, json_type_array) ||
        json_object_array_length(offsets) != 2) {
        st_error(r, "tensor '%s': data_offsets must be an array of two integers [begin, end]",
                 name);
        return -1;
    }
    int64_t be[2];
    for (size_t i = 0; i < 2; i++) {
        json_object *x = json_object_array_get_idx(offsets, i);
        if (json_count(x, &be[i]) != 0) {
            st_error(r, "tensor '%s': data_offsets[%zu] is %s, not a non-negative integer",
                     name, i, json_object_to_json_string(x));
            return -1;
        }
    }
    e->begin = (uint64_t)be[0];
    e->end = (uint64_t)be[1];
    if (e->begin > e->end) {
        st_error(r, "tensor '%s': data_offsets [%llu, %llu] end before they begin", name,
                 (unsigned long long)e->begin, (unsigned long long)e->end);
        return -1;
    }
    if (e->end - e->begin != e->t.nbytes) {
        char buf[160];
        shape_format(buf, sizeof buf, &e->t);
        st_error(r, "tensor '%s': data_offsets [%llu, %llu] do not match shape %s of %s "
                 "(%llu bytes)", name, (unsigned long long)e->begin,
                 (unsigned long long)e->end, buf, dt->name, (unsigned long long)e->t.nbytes);
        return -1;
    }
    return 0;
}

/* ---- the whole data area ----------------------------------------------------------- */

static int entry_by_begin(const void *pa, const void *pb)
{
    const Entry *a = pa, *b = pb;
    if (a->begin != b->begin) return a->begin < b->begin ? -1 : 1;
    if (a->end != b->end) return a->end < b->end ? -1 : 1;
    return strcmp(a->t.name, b->t.name);
}

static int entry_by_name(const void *pa, const void *pb)
{
    const Entry *a = pa, *b = pb;
    return strcmp(a->t.name, b->t.name);
}

static int check_layout(Reader *r)
{
    Entry *e = r->entries;
    size_t n = r->n_entries;
    const Entry *last = NULL;
    for (size_t i = 0; i < n; i++)
        if (!last || e[i].end > last->end) last = &e[i];
    if (last && last->end > r->data_size) {
        st_error(r, "file is truncated: tensor '%s' ends at byte %llu of the data area, which "
                 "has only %llu bytes (the file has %zu bytes, it needs %llu)", last->t.name,
                 (unsigned long long)last->end, (unsigned long long)r->data_size, r->size,
                 (unsigned long long)(8 + r->header_len + last->end));
        return -1;
    }
    /* Sorted by begin, a tensor overlaps an earlier one iff it begins before the largest
     * end seen so far. Empty tensors occupy no bytes and overlap nothing. */
    if (n > 1) qsort(e, n, sizeof *e, entry_by_begin);
    const Entry *reach = NULL;      /* the non-empty tensor with the largest end so far */
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        if (e[i].begin == e[i].end) continue;
        if (reach && e[i].begin < reach->end) {
            st_error(r, "tensors '%s' (data_offsets [%llu, %llu]) and '%s' ([%llu, %llu]) "
                     "overlap", reach->t.name, (unsigned long long)reach->begin,
                     (unsigned long long)reach->end, e[i].t.name,
                     (unsigned long long)e[i].begin, (unsigned long long)e[i].end);
            bad = 1;
        }
        if (!reach || e[i].end > reach->end) reach = &e[i];
    }
    return bad ? -1 : 0;
}

/* ---- open ------------------------------------------------------------------------- */

/* Strict UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing past U+10FFFF), as
 * the reference implementation requires. json-c's own check lets overlong forms such as
 * C0 AF (a second spelling of '/') through. Returns the offset of the first bad byte, or
 * n when all is well. */
static size_t utf8_check(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i], cp, min;
        size_t k;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) k = 1, cp = c & 0x1f, min = 0x80;
        else if ((c & 0xf0) == 0xe0) k = 2, cp = c & 0x0f, min = 0x800;
        else if (c >= 0xf0 && c <= 0xf4) k = 3, cp = c & 0x07, min = 0x10000;
        else return i;
        if (n - i <= k) return i;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xc0) != 0x80) return i;
            cp = cp << 6 | (s[i + j] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
        i += k + 1;
    }
    return n;
}

/* Parses the header into a json-c object, or reports why not and returns NULL. */
static json_object *parse_header(Reader *r)
{
    const char *nul = memchr(r->header, 0, r->header_len);
    if (nul) {
        st_error(r, "header is not valid JSON: NUL byte at byte %zu of the header",
                 (size_t)(nul - r->header));
        return NULL;
    }
    size_t bad = utf8_check((const unsigned char *)r->header, r->header_len);
    if (bad < r->header_len) {
        st_error(r, "header is not valid UTF-8 at byte %zu of the header (0x%02x)", bad,
                 (unsigned char)r->header[bad]);
        return NULL;
    }
    json_tokener *tok = json_tokener_new();
    if (!tok) kiln_internal(__FILE__, __LINE__, "out of memory");
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    json_object *root = json_tokener_parse_ex(tok, r->header, (int)r->header_len);
    enum json_tokener_error err = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);

    if (err == json_tokener_continue) {
        st_error(r, "header is not valid JSON: it ends in the middle of a value "
                 "(header length %zu)", r->header_len);
        json_object_put(root);
        return NULL;
    }
    if (err != json_tokener_success) {
        st_error(r, "header is not valid JSON: %s at byte %zu of the header",
                 json_tokener_error_desc(err), end);
        json_object_put(root);
        return NULL;
    }
    /* The format pads the header with spaces (to align the data area). */
    for (size_t i = end; i < r->header_len; i++) {
        char c = r->header[i];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
            st_error(r, "header is not valid JSON: unexpected bytes after the object at byte "
                     "%zu of the header", i);
            json_object_put(root);
            return NULL;
        }
    }
    if (!json_object_is_type(root, json_type_object)) {
        st_error(r, "header is %s, not an object {name: {dtype, shape, data_offsets}}",
                 json_kind(root));
        json_object_put(root);
        return NULL;
    }
    if (scan_keys(r, end) != 0) {
        json_object_put(root);
        return NULL;
    }
    return root;
}

static int st_read(StFile *f, Reader *r, Arena *a)
{
    if (r->size == 0) {
        st_error(r, "file is empty, not a safetensors file");
        return -1;
    }
    if (r->size < 8) {
        st_error(r, "file is only %zu bytes: too short for a safetensors file (an 8-byte "
                 "header length, then the JSON header)", r->size);
        return -1;
    }
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | r->bytes[i];
    if (hlen == 0) {
        st_error(r, "header length is 0: not a safetensors file");
        return -1;
    }
    if (hlen > r->size - 8) {
        if (hlen > ST_MAX_HEADER)
            st_error(r, "header length %llu is absurd for a file of %zu bytes: not a "
                     "safetensors file?", (unsigned long long)hlen, r->size);
        else
            st_error(r, "file is truncated: the header length says %llu bytes, but only %zu "
                     "follow", (unsigned long long)hlen, r->size - 8);
        return -1;
    }
    if (hlen > ST_MAX_HEADER) {
        st_error(r, "header of %llu bytes exceeds the limit of %d bytes",
                 (unsigned long long)hlen, ST_MAX_HEADER);
        return -1;
    }
    r->header = (const char *)r->bytes + 8;
    r->header_len = (size_t)hlen;
    r->data_size = r->size - 8 - hlen;

    json_object *root = parse_header(r);
    if (!root) return -1;

    int bad = 0;
    json_object_object_foreach(root, key, val) {
        if (strcmp(key, "__metadata__") == 0) {
            bad |= check_metadata(r, val);
            continue;
        }
        Entry e;
        if (check_entry(r, key, val, &e) != 0) {
            bad = 1;
            continue;
        }
        VEC_PUSH(r->entries, r->n_entries, r->cap_entries, e);
    }
    if (!bad) bad = check_layout(r);

    if (!bad) {
        const uint8_t *area = r->bytes + 8 + hlen;
        if (r->n_entries > 1)
            qsort(r->entries, r->n_entries, sizeof *r->entries, entry_by_name);
        f->n_tensors = r->n_entries;
        f->tensors = r->n_entries ? arena_array(a, r->n_entries, sizeof *f->tensors) : NULL;
        for (size_t i = 0; i < r->n_entries; i++) {
            StTensor *t = &f->tensors[i];
            *t = r->entries[i].t;
            t->name = arena_strdup(a, t->name);
            t->data = area + r->entries[i].begin;
        }
        f->data_start = 8 + hlen;
    }
    json_object_put(root);
    return bad ? -1 : 0;
}

int st_open_mem(StFile *f, const char *name, const uint8_t *data, size_t size, Diag *d, Arena *a)
{
    memset(f, 0, sizeof *f);
    Reader r = { .d = d, .name = name, .bytes = data, .size = size };
    int rc = st_read(f, &r, a);
    free(r.entries);
    if (rc != 0) {
        memset(f, 0, sizeof *f);
        return -1;
    }
    f->path = arena_strdup(a, name);
    f->map.data = data;
    f->map.size = size;
    return 0;
}

int st_open(StFile *f, const char *path, Diag *d, Arena *a)
{
    memset(f, 0, sizeof *f);
    MappedFile m;
    if (file_map(d, path, &m) != 0) return -1;
    if (st_open_mem(f, path, m.data, m.size, d, a) != 0) {
        file_unmap(&m);
        return -1;
    }
    f->owns_map = 1;
    return 0;
}

const StTensor *st_find(const StFile *f, const char *name)
{
    size_t lo = 0, hi = f->n_tensors;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(name, f->tensors[mid].name);
        if (c == 0) return &f->tensors[mid];
        if (c < 0) hi = mid;
        else lo = mid + 1;
    }
    return NULL;
}

void st_close(StFile *f)
{
    if (f->owns_map) file_unmap(&f->map);
    memset(f, 0, sizeof *f);
}
