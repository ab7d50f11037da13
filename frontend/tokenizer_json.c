/* tokenizer_json.c — Hugging Face tokenizer.json (the `tokenizers` library) to a tokenizer blob.
 *
 * Supported: model.type "BPE" with a ByteLevel pre-tokenizer (alone or inside a Sequence) —
 * GPT-2 and its descendants. Such a file is GPT-2's two files in one: model.vocab is the
 * encoder.json object (token strings in GPT-2's byte stand-ins → ids) and model.merges the
 * vocab.bpe lines, either as "A B" strings or as ["A", "B"] pairs (tokenizers >= 0.20).
 * added_tokens whose ids are not in model.vocab (<|endoftext|> of some exports) are added to
 * it, their text written in stand-ins. We write both out as the two texts GPT-2's loader
 * reads (tokenizer_gpt2.c builds the RT_TOK_GPT2 blob and checks everything), one entry per
 * line, so that its messages name "tokenizer.json (model.vocab)" with line = entry + 1 and
 * "tokenizer.json (model.merges)" with line = merge number. Anything else — another model
 * type, a normalizer, a pre-tokenizer that is not ByteLevel, SentencePiece-style BPE with
 * byte_fallback (Llama 2's folders) — is reported as not supported, naming the field. */
#include "frontend/tokenizer_spm.h"
#include "frontend/tokenizer_blob.h"
#include "frontend/tokenizer_gpt2.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

typedef struct Text {
    char *p;
    size_t n, cap;
} Text;

static void text_put(Text *t, const char *s, size_t n)
{
    while (t->n + n + 1 > t->cap) {
        t->cap = t->cap ? 2 * t->cap : 4096;
        t->p = xrealloc(t->p, t->cap);
    }
    memcpy(t->p + t->n, s, n);
    t->n += n;
    t->p[t->n] = 0;
}

static void text_str(Text *t, const char *s)
{
    text_put(t, s, strlen(s));
}

static json_object *get(json_object *o, const char *key)
{
    json_object *v = NULL;
    return o && json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static const char *type_of(json_object *o)
{
    json_object *t = get(o, "type");
    return t && json_object_is_type(t, json_type_string) ? json_object_get_string(t) : NULL;
}

/* Whether the pre-tokenizer is ByteLevel, or a Sequence holding exactly one, ByteLevel. */
static int byte_level(json_object *pre)
{
    const char *ty = type_of(pre);
    if (!ty) return 0;
    if (!strcmp(ty, "ByteLevel")) return 1;
    if (strcmp(ty, "Sequence") != 0) return 0;
    json_object *list = get(pre, "pretokenizers");
    if (!list || !json_object_is_type(list, json_type_array) || json_object_array_length(list) != 1) return 0;
    return byte_level(json_object_array_get_idx(list, 0));
}

/* GPT-2's stand-in of byte c (encoder.py bytes_to_unicode), as UTF-8 into out; its length. */
static size_t stand_in(uint8_t c, char *out)
{
    uint32_t cp = c, next = 256;
    int printable = (c >= '!' && c <= '~') || (c >= 0xA1 && c <= 0xAC) || c >= 0xAE;
    if (!printable) {
        for (uint32_t b = 0; b < c; b++) {
            int p = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
            next += !p;
        }
        cp = next;
    }
    if (cp < 0x80) return out[0] = (char)cp, 1;
    out[0] = (char)(0xC0 | cp >> 6);
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
}

/* Appends s as a JSON string literal. */
static void json_quoted(Text *t, const char *s, size_t n)
{
    json_object *str = json_object_new_string_len(s, (int)n);
    text_str(t, json_object_to_json_string_ext(str, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(str);
}

static int build(Diag *d, const char *name, json_object *root, void **blob, size_t *size)
{
    json_object *model = get(root, "model");
    const char *mtype = type_of(model);
    if (!model || !json_object_is_type(model, json_type_object)) {
        diag_file_error(d, name, "no \"model\" object (expected a Hugging Face tokenizer.json)");
        return -1;
    }
    if (!mtype || strcmp(mtype, "BPE") != 0) {
        diag_file_error(d, name, "model.type is %s%s%s; kiln reads BPE models only", mtype ? "\"" : "",
                        mtype ? mtype : "missing", mtype ? "\"" : "");
        return -1;
    }
    json_object *fb = get(model, "byte_fallback");
    if (fb && json_object_get_boolean(fb)) {
        diag_file_error(d, name, "model.byte_fallback is true (SentencePiece-style BPE, as in Llama 2 "
                        "folders): not supported yet; use the folder's tokenizer.model with kind=\"sentencepiece\"");
        return -1;
    }
    json_object *norm = get(root, "normalizer");
    if (norm && !json_object_is_type(norm, json_type_null)) {
        diag_file_error(d, name, "normalizer %s is not supported with a ByteLevel BPE model",
                        type_of(norm) ? type_of(norm) : "(unknown)");
        return -1;
    }
    if (!byte_level(get(root, "pre_tokenizer"))) {
        const char *pt = type_of(get(root, "pre_tokenizer"));
        diag_file_error(d, name, "pre_tokenizer is %s; kiln reads BPE with the ByteLevel pre-tokenizer "
                        "(GPT-2 style)", pt ? pt : "missing");
        return -1;
    }
    json_object *vocab = get(model, "vocab"), *merges = get(model, "merges");
    if (!vocab || !json_object_is_type(vocab, json_type_object)) {
        diag_file_error(d, name, "model.vocab is not an object of token strings to ids");
        return -1;
    }
    if (!merges || !json_object_is_type(merges, json_type_array)) {
        diag_file_error(d, name, "model.merges is not an array");
        return -1;
    }

    /* the vocabulary, one key per line, then added tokens it lacks */
    Text v = { 0 }, m = { 0 };
    text_str(&v, "{\n");
    int first = 1;
    json_object_object_foreach(vocab, key, val) {
        if (!first) text_str(&v, ",\n");
        first = 0;
        json_quoted(&v, key, strlen(key));
        text_str(&v, ": ");
        text_str(&v, json_object_to_json_string_ext(val, JSON_C_TO_STRING_PLAIN));
    }
    json_object *added = get(root, "added_tokens");
    size_t n_added = added && json_object_is_type(added, json_type_array) ? json_object_array_length(added) : 0;
    for (size_t i = 0; i < n_added; i++) {
        json_object *a = json_object_array_get_idx(added, i), *content = get(a, "content"), *id = get(a, "id");
        if (!content || !id || !json_object_is_type(content, json_type_string)) continue;
        const char *s = json_object_get_string(content);
        size_t n = (size_t)json_object_get_string_len(content);
        Text k = { 0 };
        char buf[2];
        for (size_t j = 0; j < n; j++) text_put(&k, buf, stand_in((uint8_t)s[j], buf));
        json_object *have = NULL;
        int in_vocab = k.p && json_object_object_get_ex(vocab, k.p, &have);
        if (!in_vocab) {
            if (!first) text_str(&v, ",\n");
            first = 0;
            json_quoted(&v, k.p ? k.p : "", k.n);
            text_str(&v, ": ");
            text_str(&v, json_object_to_json_string_ext(id, JSON_C_TO_STRING_PLAIN));
        }
        free(k.p);
    }
    text_str(&v, "\n}\n");

    /* the merges, one per line */
    int rc = 0;
    size_t n_merges = json_object_array_length(merges);
    for (size_t i = 0; i < n_merges && rc == 0; i++) {
        json_object *e = json_object_array_get_idx(merges, i);
        if (json_object_is_type(e, json_type_string)) {
            text_str(&m, json_object_get_string(e));
        } else if (json_object_is_type(e, json_type_array) && json_object_array_length(e) == 2 &&
                   json_object_is_type(json_object_array_get_idx(e, 0), json_type_string) &&
                   json_object_is_type(json_object_array_get_idx(e, 1), json_type_string)) {
            const char *a = json_object_get_string(json_object_array_get_idx(e, 0));
            const char *b = json_object_get_string(json_object_array_get_idx(e, 1));
            if (strchr(a, ' ') || strchr(b, ' ')) {
                diag_file_error(d, name, "model.merges[%zu]: a token contains a space, which GPT-2's "
                                "byte stand-ins never do", i);
                rc = -1;
            }
            text_str(&m, a);
            text_str(&m, " ");
            text_str(&m, b);
        } else {
            diag_file_error(d, name, "model.merges[%zu] is neither \"A B\" nor [\"A\", \"B\"]", i);
            rc = -1;
        }
        text_str(&m, "\n");
    }
    if (n_merges == 0) text_str(&m, "#version: 0.2\n");
    if (rc == 0) {
        size_t nl = strlen(name);
        char *vname = xmalloc(nl + 16), *mname = xmalloc(nl + 16);
        snprintf(vname, nl + 16, "%s (model.vocab)", name);
        snprintf(mname, nl + 16, "%s (model.merges)", name);
        rc = fe_gpt2_tokenizer_build_mem(d, vname, v.p, v.n, mname, m.p, m.n, blob, size);
        free(vname);
        free(mname);
    }
    free(v.p);
    free(m.p);
    return rc;
}

int fe_hf_tokenizer_build_mem(Diag *d, const char *name, const void *data, size_t len, void **blob,
                              size_t *size)
{
    *blob = NULL;
    *size = 0;
    if (len == 0) {
        diag_file_error(d, name, "empty file (expected a Hugging Face tokenizer.json)");
        return -1;
    }
    if (len > (1u << 30)) {
        diag_file_error(d, name, "file too large (at most 1 GiB)");
        return -1;
    }
    json_tokener *tok = json_tokener_new();
    if (!tok) kiln_internal(__FILE__, __LINE__, "out of memory");
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    json_object *root = json_tokener_parse_ex(tok, data, (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (jerr != json_tokener_success) {
        diag_file_error(d, name, "byte %zu: malformed JSON: %s", end,
                        jerr == json_tokener_continue ? "the file ends before the JSON is complete"
                                                      : json_tokener_error_desc(jerr));
        json_object_put(root);
        return -1;
    }
    int rc = build(d, name, root, blob, size);
    json_object_put(root);
    return rc;
}

int fe_hf_tokenizer_build(Diag *d, const char *path, void **blob, size_t *size)
{
    return tok_build_file(d, path, fe_hf_tokenizer_build_mem, blob, size);
}
