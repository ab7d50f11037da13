/* test_safetensors.c — the safetensors reader against small files, good and lying.
 *
 * Every case writes one file into a fresh mkdtemp directory and opens it twice, with
 * st_open (mapped from disk) and st_open_mem (the same bytes in memory); both must agree.
 * A good file must open and give back the names, dtypes, shapes and bytes it was written
 * with; a broken one must fail with a message that names the file and contains the
 * expected text (the Diag writes into an open_memstream). One line PASS/FAIL per case;
 * the exit status is the number of failures (capped), 0 when all pass. */
#include "frontend/frontend.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static char g_dir[] = "/tmp/kiln-st-XXXXXX";
static int g_failed, g_passed;

/* ---- building files ------------------------------------------------------------ */

typedef struct Bytes {
    uint8_t *p;
    size_t n, cap;
} Bytes;

static void put(Bytes *b, const void *src, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = xrealloc(b->p, b->cap);
    }
    if (n) memcpy(b->p + b->n, src, n);
    b->n += n;
}

static void put_u64(Bytes *b, uint64_t v)
{
    uint8_t le[8];
    for (int i = 0; i < 8; i++) le[i] = (uint8_t)(v >> (8 * i));
    put(b, le, 8);
}

static uint8_t pattern(size_t i) { return (uint8_t)(i * 37 + 11); }

/* length | header (hlen bytes of it) | data_len bytes of pattern */
static Bytes make(const char *header, size_t hlen, size_t data_len)
{
    Bytes b = { 0 };
    put_u64(&b, hlen);
    put(&b, header, hlen);
    for (size_t i = 0; i < data_len; i++) {
        uint8_t c = pattern(i);
        put(&b, &c, 1);
    }
    return b;
}

static char *write_file(const char *name, const Bytes *b)
{
    char *path = xmalloc(strlen(g_dir) + strlen(name) + 2);
    sprintf(path, "%s/%s", g_dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || (b->n && fwrite(b->p, 1, b->n, f) != b->n) || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(2);
    }
    return path;
}

/* ---- running one file ------------------------------------------------------------ */

typedef struct Opened {
    int rc;
    char *msg;          /* everything the Diag printed */
    StFile f;
    Arena arena;
    Diag d;
} Opened;

static void open_it(Opened *o, const char *path, const Bytes *mem)
{
    memset(o, 0, sizeof *o);
    diag_init(&o->d);
    size_t len;
    o->d.out = open_memstream(&o->msg, &len);
    if (mem) o->rc = st_open_mem(&o->f, path, mem->p, mem->n, &o->d, &o->arena);
    else o->rc = st_open(&o->f, path, &o->d, &o->arena);
    fclose(o->d.out);
}

static void close_it(Opened *o)
{
    st_close(&o->f);
    arena_free(&o->arena);
    diag_free(&o->d);
    free(o->msg);
}

static void report(const char *name, int ok, const char *why, const char *msg)
{
    if (ok) {
        g_passed++;
        printf("PASS %s\n", name);
    } else {
        g_failed++;
        printf("FAIL %s: %s\n", name, why);
        if (msg && *msg) printf("     diagnostics: %s", msg);
    }
}

/* Opens path from disk, and b from memory unless it is NULL, and checks the outcome. A
 * good file is checked further by `check` (it returns NULL or what is wrong). */
typedef const char *(*CheckFn)(const StFile *f, const Bytes *b);

static void run(const char *name, const char *path, const Bytes *b, const char *expect,
                CheckFn check)
{
    for (int mem = 0; mem < (b ? 2 : 1); mem++) {
        char label[256];
        snprintf(label, sizeof label, "%s%s", name, mem ? " (mem)" : "");
        Opened o;
        open_it(&o, path, mem ? b : NULL);
        const char *why = NULL;
        if (!expect) {
            if (o.rc != 0) why = "did not open";
            else if (check) why = check(&o.f, b);
        } else if (o.rc == 0) {
            why = "opened, but must fail";
        } else if (o.f.tensors || o.f.n_tensors || o.f.map.data) {
            why = "failed but left the StFile filled in";
        } else if (o.arena.used) {
            why = "failed but left memory in the arena";
        } else if (!strstr(o.msg, expect)) {
            why = "message lacks the expected text";
        } else if (!strstr(o.msg, path) || !strstr(o.msg, ": error: ")) {
            why = "message does not name the file";
        }
        if (why && expect) {
            static char buf[512];
            snprintf(buf, sizeof buf, "%s (expected \"%s\")", why, expect);
            why = buf;
        }
        report(label, !why, why, o.msg);
        close_it(&o);
    }
}

/* ---- the table of headers --------------------------------------------------------- */

#define T(name, dtype, shape, b, e) \
    "\"" name "\":{\"dtype\":\"" dtype "\",\"shape\":" shape ",\"data_offsets\":[" b "," e "]}"

typedef struct Case {
    const char *name;
    const char *header;     /* the JSON text */
    size_t data_len;        /* bytes in the data area */
    const char *expect;     /* NULL: opens; else a substring of the error */
} Case;

static const Case cases[] = {
    /* good files (checked for opening only; the detailed ones follow below) */
    { "ok_empty_object", "{}", 0, NULL },
    { "ok_only_metadata", "{\"__metadata__\":{\"format\":\"pt\"}}", 0, NULL },
    { "ok_padded_header", "{" T("a", "F32", "[2]", "0", "8") "}        ", 8, NULL },
    { "ok_newline_padding", "{" T("a", "F32", "[2]", "0", "8") "}\n", 8, NULL },
    { "ok_gap_between", "{" T("a", "F32", "[2]", "0", "8") "," T("b", "F32", "[2]", "16", "24")
      "}", 24, NULL },
    { "ok_trailing_bytes", "{" T("a", "F32", "[2]", "0", "8") "}", 100, NULL },
    { "ok_empty_at_end", "{" T("a", "F32", "[2]", "0", "8") "," T("z", "F32", "[0]", "8", "8")
      "}", 8, NULL },
    { "ok_empty_inside", "{" T("a", "F32", "[2]", "0", "8") "," T("z", "F32", "[3,0]", "4", "4")
      "}", 8, NULL },
    { "ok_zero_and_huge_dims", "{" T("z", "F32", "[1099511627776,1099511627776,0]", "0", "0")
      "}", 0, NULL },
    { "ok_f4_even", "{" T("q", "F4", "[4]", "0", "2") "}", 2, NULL },
    { "ok_negative_zero", "{" T("a", "F32", "[2]", "-0", "8") "}", 8, NULL },
    { "ok_unicode_name", "{" T("h\xc3\xa9llo", "F32", "[1]", "0", "4") "}", 4, NULL },
    { "ok_metadata_ignored_dup", "{\"__metadata__\":{\"a\":\"1\",\"a\":\"2\"}}", 0, NULL },

    /* the header as a whole */
    { "json_incomplete", "{\"a\":", 0, "ends in the middle" },
    { "json_whitespace_only", "        ", 0, "ends in the middle" },
    { "json_syntax", "{\"a\" 1}", 0, "not valid JSON: " },
    { "json_syntax_offset", "{\"abc\":{}, x}", 0, "at byte 11 of the header" },
    { "json_trailing_comma", "{" T("a", "F32", "[2]", "0", "8") ",}", 8, "not valid JSON" },
    { "json_trailing_garbage", "{}  x", 0, "not valid JSON" },
    { "json_two_objects", "{}{}", 0, "not valid JSON" },
    { "json_comment", "/* hi */{}", 0, "not valid JSON" },
    { "utf8_bad_byte", "{\"\xff\":1}", 0, "not valid UTF-8 at byte 2 of the header (0xff)" },
    { "utf8_overlong", "{\"\xc0\xaf\":1}", 0, "not valid UTF-8 at byte 2" },
    { "utf8_overlong_3", "{\"\xe0\x80\xaf\":1}", 0, "not valid UTF-8" },
    { "utf8_surrogate", "{\"\xed\xa0\x80\":1}", 0, "not valid UTF-8" },
    { "utf8_beyond_10ffff", "{\"\xf4\x90\x80\x80\":1}", 0, "not valid UTF-8" },
    { "utf8_cut_short", "{\"a\":1}  \xe2\x82", 0, "not valid UTF-8 at byte 9" },
    { "ok_utf8_4_bytes", "{\"\xf0\x9f\x98\x80\":{\"dtype\":\"U8\",\"shape\":[1],"
      "\"data_offsets\":[0,1]}}", 1, NULL },
    { "header_not_object", "[1, 2]", 0, "not an object" },
    { "header_string", "\"x\"   ", 0, "not an object" },

    /* names */
    { "duplicate_tensor", "{" T("a", "F32", "[2]", "0", "8") "," T("a", "F32", "[2]", "8", "16")
      "}", 16, "tensor 'a' is listed twice" },
    { "duplicate_tensor_escaped", "{" T("ab", "F32", "[2]", "0", "8") ","
      T("a\\u0062", "F32", "[2]", "8", "16") "}", 16, "tensor 'ab' is listed twice" },
    { "duplicate_field", "{\"a\":{\"dtype\":\"F32\",\"dtype\":\"I32\",\"shape\":[2],"
      "\"data_offsets\":[0,8]}}", 8, "tensor 'a': field 'dtype' is given twice" },
    { "duplicate_metadata", "{\"__metadata__\":{},\"__metadata__\":{}}", 0,
      "__metadata__ appears twice" },
    { "nul_in_name", "{" T("a\\u0000b", "F32", "[2]", "0", "8") "}", 8, "NUL character" },
    { "nul_in_field", "{\"a\":{\"dtype\\u0000x\":\"F32\",\"dtype\":\"F32\",\"shape\":[2],"
      "\"data_offsets\":[0,8]}}", 8, "NUL character" },

    /* an entry */
    { "entry_not_object", "{\"a\":5}", 0, "tensor 'a': entry is a number, not an object" },
    { "entry_array", "{\"a\":[1]}", 0, "tensor 'a': entry is an array" },
    { "missing_dtype", "{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
      "tensor 'a': missing field 'dtype'" },
    { "missing_shape", "{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", 8,
      "missing field 'shape'" },
    { "missing_offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8,
      "missing field 'data_offsets'" },
    { "unknown_field", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],"
      "\"offsets\":[0,8]}}", 8, "tensor 'a': unknown field 'offsets'" },
    { "dtype_not_string", "{" T("a", "F32", "[2]", "0", "8") "," "\"b\":{\"dtype\":32,"
      "\"shape\":[2],\"data_offsets\":[8,16]}}", 16, "tensor 'b': dtype is a number" },
    { "dtype_unknown", "{" T("a", "F31", "[2]", "0", "8") "}", 8, "unknown dtype 'F31'" },
    { "dtype_lowercase", "{" T("a", "f32", "[2]", "0", "8") "}", 8, "unknown dtype 'f32'" },
    { "dtype_with_nul", "{" T("a", "F32\\u0000", "[2]", "0", "8") "}", 8, "unknown dtype" },
    { "shape_not_array", "{\"a\":{\"dtype\":\"F32\",\"shape\":\"2\",\"data_offsets\":[0,8]}}", 8,
      "tensor 'a': shape is a string" },
    { "shape_float", "{" T("a", "F32", "[1.5]", "0", "8") "}", 8,
      "shape[0] is 1.5, not a non-negative integer" },
    { "shape_exponent", "{" T("a", "F32", "[1e3]", "0", "4000") "}", 4000, "shape[0] is 1e3" },
    { "shape_integral_float", "{" T("a", "F32", "[2.0]", "0", "8") "}", 8, "shape[0] is 2.0" },
    { "shape_negative", "{" T("a", "F32", "[2,-2]", "0", "8") "}", 8, "shape[1] is -2" },
    { "shape_string_dim", "{" T("a", "F32", "[\"2\"]", "0", "8") "}", 8, "shape[0] is \"2\"" },
    { "shape_nan", "{" T("a", "F32", "[NaN]", "0", "8") "}", 8, "shape[0] is NaN" },
    { "shape_dim_too_big", "{" T("a", "U8", "[1099511627777]", "0", "1099511627777") "}", 8,
      "shape[0] = 1099511627777 exceeds kiln's limit of 2^40" },
    { "shape_u64_max", "{" T("a", "U8", "[18446744073709551615]", "0", "8") "}", 8,
      "exceeds kiln's limit" },
    { "shape_beyond_u64", "{" T("a", "U8", "[99999999999999999999999]", "0", "8") "}", 8,
      "exceeds kiln's limit" },
    { "shape_beyond_i64_negative", "{" T("a", "U8", "[-99999999999999999999999]", "0", "8")
      "}", 8, "not a non-negative integer" },
    { "rank_too_big", "{" T("a", "F32", "[1,1,1,1,1,1,2]", "0", "8") "}", 8,
      "rank 7 exceeds kiln's limit of 6" },
    { "numel_too_big", "{" T("a", "F32", "[1048576,1048576,2]", "0", "8") "}", 8,
      "has more than 2^40 elements" },
    { "numel_wraps_u64", "{" T("a", "F64", "[1099511627776,1099511627776,1099511627776,16]",
      "0", "0") "}", 0, "has more than 2^40 elements" },
    { "f4_half_byte", "{" T("q", "F4", "[3]", "0", "2") "}", 2,
      "shape [3] of F4 is not a whole number of bytes" },
    { "offsets_not_array", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":8}}", 8,
      "data_offsets must be an array of two integers" },
    { "offsets_one", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8]}}", 8,
      "data_offsets must be an array of two integers" },
    { "offsets_three", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8,8]}}", 8,
      "data_offsets must be an array of two integers" },
    { "offsets_float", "{" T("a", "F32", "[2]", "0", "8.0") "}", 8,
      "data_offsets[1] is 8.0, not a non-negative integer" },
    { "offsets_negative", "{" T("a", "F32", "[2]", "-8", "0") "}", 8, "data_offsets[0] is -8" },
    { "offsets_null", "{" T("a", "F32", "[2]", "null", "8") "}", 8, "data_offsets[0] is null" },
    { "offsets_reversed", "{" T("a", "F32", "[0]", "8", "0") "}", 8,
      "data_offsets [8, 0] end before they begin" },
    { "offsets_mismatch", "{" T("h.0.attn.c_attn.weight", "F32", "[768, 2304]", "0", "1000") "}",
      1000, "tensor 'h.0.attn.c_attn.weight': data_offsets [0, 1000] do not match shape "
      "[768, 2304] of F32 (7077888 bytes)" },
    { "offsets_mismatch_scalar", "{" T("s", "BF16", "[]", "0", "4") "}", 4,
      "do not match shape [] of BF16 (2 bytes)" },
    { "offsets_saturated", "{" T("a", "F32", "[0]", "99999999999999999999",
      "99999999999999999999") "}", 8, "file is truncated" },
    { "offsets_huge_exact", "{" T("a", "F64", "[1099511627776]", "0", "8796093022208") "}", 8,
      "file is truncated: tensor 'a' ends at byte 8796093022208 of the data area, which has "
      "only 8 bytes" },
    { "metadata_not_object", "{\"__metadata__\":[\"x\"]}", 0,
      "__metadata__ is an array, not an object" },
    { "metadata_value_number", "{\"__metadata__\":{\"epoch\":3}}", 0,
      "__metadata__: 'epoch' is a number, not a string" },

    /* the data area as a whole */
    { "truncated_data", "{" T("a", "F32", "[2]", "0", "8") "," T("b", "F32", "[4]", "8", "24")
      "}", 20, "file is truncated: tensor 'b' ends at byte 24 of the data area, which has "
      "only 20 bytes" },
    { "no_data_at_all", "{" T("a", "F32", "[2]", "0", "8") "}", 0, "file is truncated" },
    { "overlap", "{" T("a", "F32", "[4]", "0", "16") "," T("b", "F32", "[4]", "8", "24") "}", 24,
      "tensors 'a' (data_offsets [0, 16]) and 'b' ([8, 24]) overlap" },
    { "overlap_same_range", "{" T("a", "F32", "[4]", "0", "16") "," T("b", "I32", "[4]", "0", "16")
      "}", 16, "overlap" },
    { "overlap_nested", "{" T("big", "F32", "[8]", "0", "32") "," T("mid", "F32", "[1]", "16",
      "20") "," T("late", "F32", "[2]", "24", "32") "}", 32, "overlap" },
    { "overlap_unsorted", "{" T("z", "F32", "[4]", "16", "32") "," T("y", "F32", "[4]", "0", "16")
      "," T("x", "F32", "[2]", "28", "36") "}", 36, "tensors 'z' (data_offsets [16, 32]) and "
      "'x' ([28, 36]) overlap" },
};

/* ---- raw files: the length field itself ------------------------------------------ */

static void run_raw(const char *name, const uint8_t *p, size_t n, const char *expect)
{
    Bytes b = { 0 };
    put(&b, p, n);
    char file[128];
    snprintf(file, sizeof file, "%s.safetensors", name);
    char *path = write_file(file, &b);
    run(name, path, &b, expect, NULL);
    unlink(path);
    free(path);
    free(b.p);
}

static void raw_cases(void)
{
    run_raw("file_empty", NULL, 0, "file is empty");
    run_raw("file_5_bytes", (const uint8_t *)"\x02\0\0\0\0", 5, "only 5 bytes: too short");
    run_raw("header_length_0", (const uint8_t *)"\0\0\0\0\0\0\0\0{}", 10, "header length is 0");
    run_raw("header_length_absurd", (const uint8_t *)"\0\0\0\0\0\0\0\x10{}", 10,
            "header length 1152921504606846976 is absurd");
    run_raw("header_length_u64_max", (const uint8_t *)"\xff\xff\xff\xff\xff\xff\xff\xff{}", 10,
            "is absurd");
    run_raw("header_past_end", (const uint8_t *)"\x40\0\0\0\0\0\0\0{}", 10,
            "file is truncated: the header length says 64 bytes, but only 2 follow");
    run_raw("header_nul_byte", (const uint8_t *)"\x04\0\0\0\0\0\0\0{\0} ", 12,
            "NUL byte at byte 1 of the header");
    run_raw("header_nul_padding", (const uint8_t *)"\x04\0\0\0\0\0\0\0{}\0\0", 12, "NUL byte");

    /* A header of 100 MB + 1 in a sparse file of that size (st_open maps, never reads). */
    Bytes b = { 0 };
    put_u64(&b, 100000001);
    put(&b, "{}", 2);
    char *path = write_file("header_too_big.safetensors", &b);
    if (truncate(path, 8 + 100000001 + 16) != 0) {
        report("header_too_big", 0, "cannot make the sparse file", NULL);
    } else {
        run("header_too_big", path, NULL, "header of 100000001 bytes exceeds the limit", NULL);
    }
    unlink(path);
    free(path);
    free(b.p);

    /* Files that are not there or not files. */
    run("missing_file", "/nonexistent/kiln/model.safetensors", NULL, "cannot open", NULL);
    run("a_directory", g_dir, NULL, "not a regular file", NULL);
}

/* ---- good files, checked in detail ------------------------------------------------- */

static const char *expect_tensor(const StFile *f, const char *name, DType dt, const char *raw,
                                 int rank, const int64_t *shape, uint64_t nbytes)
{
    static char why[256];
    const StTensor *t = st_find(f, name);
    if (!t) return snprintf(why, sizeof why, "'%s' not found", name), why;
    if (strcmp(t->name, name)) return "st_find returned another tensor";
    if (t->dtype != dt || strcmp(t->dtype_raw, raw))
        return snprintf(why, sizeof why, "'%s': dtype %d '%s'", name, t->dtype, t->dtype_raw), why;
    if (t->rank != rank) return snprintf(why, sizeof why, "'%s': rank %d", name, t->rank), why;
    for (int i = 0; i < rank; i++)
        if (t->shape[i] != shape[i])
            return snprintf(why, sizeof why, "'%s': shape[%d] = %lld", name, i,
                            (long long)t->shape[i]), why;
    if (t->nbytes != nbytes)
        return snprintf(why, sizeof why, "'%s': %llu bytes", name,
                        (unsigned long long)t->nbytes), why;
    return NULL;
}

/* Checks that t's bytes are the pattern bytes [begin, begin + nbytes) of the data area. */
static const char *expect_bytes(const StFile *f, const char *name, uint64_t begin)
{
    const StTensor *t = st_find(f, name);
    if (!t) return "tensor missing";
    if (t->data != f->map.data + f->data_start + begin) return "data pointer is wrong";
    for (uint64_t i = 0; i < t->nbytes; i++)
        if (t->data[i] != pattern(begin + i)) return "data bytes differ";
    return NULL;
}

static const char *check_basic(const StFile *f, const Bytes *b)
{
    (void)b;
    const char *why;
    if (f->n_tensors != 5) return "expected 5 tensors";
    const char *order[] = { "b", "e", "i", "s", "w" };
    for (int i = 0; i < 5; i++)
        if (strcmp(f->tensors[i].name, order[i])) return "tensors are not sorted by name";
    if ((why = expect_tensor(f, "w", DT_F32, "F32", 2, (int64_t[]){ 2, 3 }, 24))) return why;
    if ((why = expect_tensor(f, "b", DT_F16, "F16", 1, (int64_t[]){ 4 }, 8))) return why;
    if ((why = expect_tensor(f, "s", DT_BF16, "BF16", 0, NULL, 2))) return why;
    if ((why = expect_tensor(f, "i", DT_COUNT, "I64", 2, (int64_t[]){ 1, 1 }, 8))) return why;
    if ((why = expect_tensor(f, "e", DT_F32, "F32", 2, (int64_t[]){ 0, 5 }, 0))) return why;
    if ((why = expect_bytes(f, "w", 0)) || (why = expect_bytes(f, "b", 24)) ||
        (why = expect_bytes(f, "s", 32)) || (why = expect_bytes(f, "i", 34)))
        return why;
    if (st_find(f, "__metadata__")) return "__metadata__ listed as a tensor";
    if (st_find(f, "") || st_find(f, "a") || st_find(f, "x") || st_find(f, "ww"))
        return "st_find found a tensor that is not there";
    if (f->data_start % 8) return "padded header should align the data area";
    return NULL;
}

static void detailed_basic(void)
{
    const char *json = "{\"__metadata__\":{\"format\":\"pt\"},"
        T("w", "F32", "[2,3]", "0", "24") "," T("b", "F16", "[4]", "24", "32") ","
        T("s", "BF16", "[]", "32", "34") "," T("i", "I64", "[1,1]", "34", "42") ","
        T("e", "F32", "[0,5]", "42", "42") "}";
    char header[512];
    size_t n = strlen(json);
    memcpy(header, json, n);
    while (n % 8) header[n++] = ' ';        /* as the reference writer pads */
    Bytes b = make(header, n, 42);
    char *path = write_file("basic.safetensors", &b);
    run("ok_basic_detailed", path, &b, NULL, check_basic);
    unlink(path);
    free(path);
    free(b.p);
}

/* Floats at an odd address: readers must memcpy. */
static const char *check_unaligned(const StFile *f, const Bytes *b)
{
    (void)b;
    const StTensor *t = st_find(f, "v");
    if (!t || t->nbytes != 12) return "tensor v missing";
    if (((uintptr_t)t->data & 3) == 0) return "test is meant to have unaligned data";
    float v[3];
    memcpy(v, t->data, sizeof v);
    if (v[0] != 1.5f || v[1] != -2.0f || v[2] != 3.25f) return "values differ";
    return NULL;
}

static void detailed_unaligned(void)
{
    /* begin is chosen so that 8 + header length + begin is not a multiple of 4. */
    char json[128];
    int begin = 0;
    size_t n = 0;
    for (begin = 1; begin < 4; begin++) {
        n = (size_t)snprintf(json, sizeof json, "{" T("v", "F32", "[3]", "%d", "%d") "}", begin,
                             begin + 12);
        if ((8 + n + (size_t)begin) % 4) break;
    }
    Bytes b = { 0 };
    put_u64(&b, n);
    put(&b, json, n);
    float v[3] = { 1.5f, -2.0f, 3.25f };
    put(&b, "xxx", (size_t)begin);
    put(&b, v, sizeof v);
    char *path = write_file("unaligned.safetensors", &b);
    run("ok_unaligned", path, &b, NULL, check_unaligned);
    unlink(path);
    free(path);
    free(b.p);
}

/* Nesting deeper than json-c's limit (32) must be a JSON error, not a stack overflow. */
static void deep_nesting(void)
{
    Bytes h = { 0 };
    put(&h, "{\"a\":", 5);
    for (int i = 0; i < 5000; i++) put(&h, "[", 1);
    for (int i = 0; i < 5000; i++) put(&h, "]", 1);
    put(&h, "}", 1);
    Bytes b = make((const char *)h.p, h.n, 0);
    char *path = write_file("deep.safetensors", &b);
    run("json_too_deep", path, &b, "not valid JSON: nesting too deep", NULL);
    unlink(path);
    free(path);
    free(b.p);
    free(h.p);
}

static const char *check_escaped(const StFile *f, const Bytes *b)
{
    (void)b;
    if (!st_find(f, "ab") || !st_find(f, "q\"uote") || !st_find(f, "\xc3\xa9"))
        return "escaped names not decoded";
    return NULL;
}

static void detailed_escaped(void)
{
    const char *json = "{" T("a\\u0062", "F32", "[1]", "0", "4") ","
        T("q\\\"uote", "F32", "[1]", "4", "8") "," T("\\u00e9", "F32", "[1]", "8", "12") "}";
    Bytes b = make(json, strlen(json), 12);
    char *path = write_file("escaped.safetensors", &b);
    run("ok_escaped_names", path, &b, NULL, check_escaped);
    unlink(path);
    free(path);
    free(b.p);
}

/* Many tensors in reverse name order: sorting and binary search. */
enum { MANY = 1000 };

static const char *check_many(const StFile *f, const Bytes *b)
{
    (void)b;
    if (f->n_tensors != MANY) return "wrong tensor count";
    for (size_t i = 1; i < f->n_tensors; i++)
        if (strcmp(f->tensors[i - 1].name, f->tensors[i].name) >= 0) return "not sorted";
    for (int i = 0; i < MANY; i++) {
        char name[32];
        snprintf(name, sizeof name, "layer.%d.w", i);
        const StTensor *t = st_find(f, name);
        if (!t || t->shape[0] != 1 + i % 3) return "st_find failed";
        if (t->data != f->map.data + f->data_start + (uint64_t)(MANY - 1 - i) * 12)
            return "wrong data pointer";
    }
    return NULL;
}

static void detailed_many(void)
{
    Bytes h = { 0 };
    put(&h, "{", 1);
    for (int i = MANY - 1; i >= 0; i--) {
        char e[160];
        uint64_t begin = (uint64_t)(MANY - 1 - i) * 12;
        snprintf(e, sizeof e, "%s\"layer.%d.w\":{\"dtype\":\"F32\",\"shape\":[%d],"
                 "\"data_offsets\":[%llu,%llu]}", i == MANY - 1 ? "" : ",", i, 1 + i % 3,
                 (unsigned long long)begin, (unsigned long long)(begin + 4 * (1 + i % 3)));
        put(&h, e, strlen(e));
    }
    put(&h, "}", 1);
    Bytes b = make((const char *)h.p, h.n, MANY * 12);
    char *path = write_file("many.safetensors", &b);
    run("ok_many_tensors", path, &b, NULL, check_many);
    unlink(path);
    free(path);
    free(b.p);
    free(h.p);
}

/* json-c is not built with ASan, so an over-read of the header would go unseen by the
 * fuzzer: here the file ends right before an unreadable page, and the header is the last
 * thing in it. A read past its end is a SIGSEGV. */
static void guard_page_cases(void)
{
    static const struct { const char *name, *header, *expect; } g[] = {
        { "guard_ok", "{}   ", NULL },
        { "guard_incomplete", "{\"a\":", "ends in the middle" },
        { "guard_number_at_end", "{\"a\":12", "ends in the middle" },
        { "guard_open_string", "{\"abc", "ends in the middle" },
        { "guard_escape_at_end", "{\"a\\", "ends in the middle" },
        { "guard_utf8_at_end", "{}\xe2", "not valid UTF-8" },
    };
    long page = sysconf(_SC_PAGESIZE);
    uint8_t *mem = mmap(NULL, 2 * (size_t)page, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED || mprotect(mem + page, (size_t)page, PROT_NONE) != 0) {
        report("guard_page", 0, "cannot map a guard page", NULL);
        return;
    }
    for (size_t i = 0; i < sizeof g / sizeof g[0]; i++) {
        size_t n = strlen(g[i].header);
        Bytes b = make(g[i].header, n, 0);
        uint8_t *at = mem + page - b.n;
        memcpy(at, b.p, b.n);
        Bytes view = { at, b.n, b.n };
        char *path = write_file("guard.safetensors", &b);
        run(g[i].name, path, &view, g[i].expect, NULL);
        unlink(path);
        free(path);
        free(b.p);
    }
    munmap(mem, 2 * (size_t)page);
}

/* ---- main ------------------------------------------------------------------------- */

int main(void)
{
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 2;
    }
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const Case *c = &cases[i];
        Bytes b = make(c->header, strlen(c->header), c->data_len);
        char file[128];
        snprintf(file, sizeof file, "%s.safetensors", c->name);
        char *path = write_file(file, &b);
        run(c->name, path, &b, c->expect, NULL);
        unlink(path);
        free(path);
        free(b.p);
    }
    raw_cases();
    detailed_basic();
    detailed_unaligned();
    detailed_escaped();
    detailed_many();
    deep_nesting();
    guard_page_cases();

    if (rmdir(g_dir) != 0) perror("rmdir");
    printf("%d passed, %d failed\n", g_passed, g_failed);
    return g_failed ? 1 : 0;
}
