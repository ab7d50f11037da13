/* import_hf.c — a Hugging Face model folder: read config.json, pick the family, and the
 * helpers every importer shares.
 *
 * The family comes from config.json's model_type (or, when that is missing, its
 * architectures list): gpt2 → import_gpt2.c, llama → import_hf_llama.c, the encoders bert,
 * albert, distilbert and electra → import_hf_bert.c. config.json is parsed
 * once with json-c; the families read their keys through hf_int/hf_num/hf_bool/hf_str, which
 * say which key is wrong and why (missing, wrong JSON type, out of range). JSON null is
 * taken as absent, as transformers does. */
#include "frontend/import_impl.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int import_is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int import_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int import_same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

const char *import_model_name(Arena *a, const char *path, int strip_ext)
{
    char abs[4096];
    const char *p = realpath(path, abs) ? abs : path;
    const char *slash = strrchr(p, '/');
    const char *base = slash && slash[1] ? slash + 1 : p;
    char *name = arena_strdup(a, base);
    char *dot = strip_ext ? strrchr(name, '.') : NULL;
    if (dot && dot != name) *dot = 0;
    for (char *q = name; *q; q++)
        if (!isalnum((unsigned char)*q) && *q != '-' && *q != '_' && *q != '.') *q = '_';
    return name[0] ? name : "model";
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

const char *import_tokenizer_kind(Diag *d, const char *path)
{
    if (!import_is_file(path)) {
        diag_file_error(d, path, "%s", import_is_dir(path) ? "is a directory, not a tokenizer file" : "no such tokenizer file");
        return NULL;
    }
    if (ends_with(path, ".bin")) return "llama2c";
    if (ends_with(path, ".model")) return "sentencepiece";
    if (ends_with(path, ".json")) return "hf";
    diag_file_error(d, path, "cannot tell the tokenizer's kind from its name: .bin is a llama2.c tokenizer.bin, "
                             ".model a SentencePiece model, .json a Hugging Face tokenizer.json");
    return NULL;
}

const char *import_path(Arena *a, const char *out_dir, const char *target)
{
    const char *rel = path_relative(a, out_dir, target);
    char abs_dir[4096], cwd[4096];
    if (!realpath(out_dir, abs_dir)) return rel;
    int ups = 0, depth = 0;
    for (const char *p = rel; !strncmp(p, "../", 3); p += 3) ups++;
    for (const char *p = abs_dir; *p; p++) depth += *p == '/' && p[1];
    if (ups < depth) return rel;
    /* lexically absolute: symlinks stay as the user named them */
    if (target[0] != '/' && !getcwd(cwd, sizeof cwd)) return rel;
    return arena_printf(a, "/%s", path_relative(a, "/", target[0] == '/' ? target : path_join(a, cwd, target)));
}

const char *import_xml_escape(Arena *a, const char *s)
{
    size_t n = 0;
    for (const char *p = s; *p; p++) n += strchr("&<>\"'-", *p) ? 6 : 1;
    char *out = arena_alloc(a, n + 1), *q = out;
    for (const char *p = s; *p; p++) {
        /* "--" may not appear in a comment, where sources are named too */
        const char *e = *p == '&' ? "&amp;" : *p == '<' ? "&lt;" : *p == '>' ? "&gt;" : *p == '"' ? "&quot;"
                      : *p == '\'' ? "&apos;" : *p == '-' && p > s && p[-1] == '-' ? "&#45;" : NULL;
        if (e) q += sprintf(q, "%s", e);
        else *q++ = *p;
    }
    *q = 0;
    return out;
}

/* ---- config.json ------------------------------------------------------------------------ */

json_object *hf_key(json_object *cfg, const char *key)
{
    json_object *v;
    if (!json_object_object_get_ex(cfg, key, &v) || json_object_is_type(v, json_type_null)) return NULL;
    return v;
}

static const char *type_name(json_object *v)
{
    switch (json_object_get_type(v)) {
    case json_type_boolean: return "a boolean";
    case json_type_double: return "a fraction";
    case json_type_int: return "an integer";
    case json_type_object: return "an object";
    case json_type_array: return "a list";
    case json_type_string: return "a string";
    default: return "null";
    }
}

int hf_int(Diag *d, const char *path, json_object *cfg, const char *key, int required, int64_t lo, int64_t hi,
           int64_t *out)
{
    json_object *v = hf_key(cfg, key);
    if (!v) {
        if (!required) return 0;
        diag_file_error(d, path, "'%s' is missing (an integer is needed)", key);
        return -1;
    }
    if (!json_object_is_type(v, json_type_int)) {
        diag_file_error(d, path, "'%s' must be an integer, not %s", key, type_name(v));
        return -1;
    }
    int64_t x = json_object_get_int64(v);
    if (x < lo || x > hi) {
        diag_file_error(d, path, "'%s' = %lld is out of range (%lld to %lld)", key, (long long)x, (long long)lo,
                        (long long)hi);
        return -1;
    }
    *out = x;
    return 0;
}

int hf_num(Diag *d, const char *path, json_object *cfg, const char *key, int required, double lo, double hi,
           double *out)
{
    json_object *v = hf_key(cfg, key);
    if (!v) {
        if (!required) return 0;
        diag_file_error(d, path, "'%s' is missing (a number is needed)", key);
        return -1;
    }
    if (!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int)) {
        diag_file_error(d, path, "'%s' must be a number, not %s", key, type_name(v));
        return -1;
    }
    double x = json_object_get_double(v);
    if (!(x >= lo && x <= hi)) {
        diag_file_error(d, path, "'%s' = %g is out of range (%g to %g)", key, x, lo, hi);
        return -1;
    }
    *out = x;
    return 0;
}

int hf_bool(Diag *d, const char *path, json_object *cfg, const char *key, int *out)
{
    json_object *v = hf_key(cfg, key);
    if (!v) return 0;
    if (!json_object_is_type(v, json_type_boolean)) {
        diag_file_error(d, path, "'%s' must be true or false, not %s", key, type_name(v));
        return -1;
    }
    *out = json_object_get_boolean(v);
    return 0;
}

int hf_str(Diag *d, const char *path, json_object *cfg, const char *key, const char **out)
{
    json_object *v = hf_key(cfg, key);
    if (!v) return 0;
    if (!json_object_is_type(v, json_type_string)) {
        diag_file_error(d, path, "'%s' must be a string, not %s", key, type_name(v));
        return -1;
    }
    *out = json_object_get_string(v);
    return 0;
}

json_object *hf_parse(Diag *d, const char *path, const char *text, size_t len)
{
    if (len > INT32_MAX) {
        diag_file_error(d, path, "is %zu bytes: too large for a JSON configuration", len);
        return NULL;
    }
    json_tokener *tk = json_tokener_new();
    json_object *cfg = json_tokener_parse_ex(tk, text, (int)len);
    enum json_tokener_error e = json_tokener_get_error(tk);
    if (!cfg || e != json_tokener_success) {
        if (e == json_tokener_success || e == json_tokener_continue)
            diag_file_error(d, path, "not valid JSON (it ends too early, at byte %zu)", len);
        else
            diag_file_error(d, path, "not valid JSON (%s at byte %zu)", json_tokener_error_desc(e),
                            json_tokener_get_parse_end(tk));
        json_object_put(cfg);
        cfg = NULL;
    } else if (!json_object_is_type(cfg, json_type_object)) {
        diag_file_error(d, path, "not a JSON object");
        json_object_put(cfg);
        cfg = NULL;
    }
    json_tokener_free(tk);
    return cfg;
}

/* ---- the folder --------------------------------------------------------------------------- */

/* The model_type an architectures entry implies (transformers' class name prefixes). */
static const struct {
    const char *arch_prefix, *type;
} arch_families[] = {
    { "LlamaFor", "llama" }, { "GPT2", "gpt2" }, { "DistilBert", "distilbert" }, { "Albert", "albert" },
    { "Electra", "electra" }, { "Bert", "bert" },
};

/* "gpt2", "llama", "bert", ..., or another model_type (reported by the caller); NULL after an
 * error. */
static const char *family(Diag *d, const char *path, json_object *cfg)
{
    const char *type = NULL;
    if (hf_str(d, path, cfg, "model_type", &type)) return NULL;
    if (type) return type;
    json_object *arch = hf_key(cfg, "architectures");
    if (arch && json_object_is_type(arch, json_type_array))
        for (size_t i = 0; i < json_object_array_length(arch); i++) {
            const char *s = json_object_get_string(json_object_array_get_idx(arch, i));
            for (size_t k = 0; s && k < sizeof arch_families / sizeof *arch_families; k++)
                if (!strncmp(s, arch_families[k].arch_prefix, strlen(arch_families[k].arch_prefix)))
                    return arch_families[k].type;
        }
    return "(none)";
}

int hf_weight_files(Diag *d, Arena *a, const char *dir, const char ***files, int *n)
{
    *n = 0;
    const char *single = path_join(a, dir, "model.safetensors"), *index = path_join(a, dir, "model.safetensors.index.json");
    if (import_is_file(single)) {
        *files = arena_alloc(a, sizeof **files);
        (*files)[(*n)++] = single;
        return 0;
    }
    if (!import_is_file(index)) {
        if (import_is_file(path_join(a, dir, "pytorch_model.bin")) ||
            import_is_file(path_join(a, dir, "pytorch_model.bin.index.json"))) {
            diag_file_error(d, dir, "has pytorch_model.bin but no model.safetensors; kiln reads safetensors "
                                    "(convert with the safetensors library)");
            return -1;
        }
        return 0;
    }
    size_t len;
    char *text = file_read_max(d, index, FILE_READ_MAX, &len);
    json_object *js = text ? hf_parse(d, index, text, len) : NULL, *map = js ? hf_key(js, "weight_map") : NULL;
    int rc = -1;
    if (!js) goto out;
    if (!map || !json_object_is_type(map, json_type_object) || json_object_object_length(map) == 0) {
        diag_file_error(d, index, "has no 'weight_map' (an object: tensor name → shard file)");
        goto out;
    }
    *files = arena_array(a, (size_t)json_object_object_length(map), sizeof **files);
    json_object_object_foreach(map, tensor, v) {
        const char *f = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
        if (!f || !f[0] || strchr(f, '/')) {
            diag_file_error(d, index, "weight_map['%s'] must be the name of a file in the folder", tensor);
            goto out;
        }
        const char *p = path_join(a, dir, f);
        int seen = 0;
        for (int i = 0; i < *n && !seen; i++) seen = !strcmp((*files)[i], p);
        if (seen) continue;
        if (!import_is_file(p)) {
            diag_file_error(d, index, "names the shard '%s' (for tensor '%s'), which is not in the folder", f, tensor);
            goto out;
        }
        (*files)[(*n)++] = p;
    }
    rc = 0;
out:
    json_object_put(js);
    free(text);
    return rc;
}

int fe_import_hf(Diag *d, const char *dir, const char *tokenizer, const char *out_path)
{
    Arena a = { 0 };
    int rc = -1;
    size_t len;
    char *text = NULL;
    json_object *cfg = NULL;
    const char *path = path_join(&a, dir, "config.json");
    if (!import_is_dir(dir)) {
        struct stat st;
        diag_file_error(d, dir, "%s", stat(dir, &st) != 0 ? "no such directory" : "not a directory (kiln import reads a model folder)");
        goto out;
    }
    if (!import_is_file(path)) {
        diag_file_error(d, dir, "no config.json: not a Hugging Face model folder");
        goto out;
    }
    if (!(text = file_read_max(d, path, FILE_READ_MAX, &len)) || !(cfg = hf_parse(d, path, text, len))) goto out;
    const char *type = family(d, path, cfg);
    if (!type) goto out;
    if (!strcmp(type, "gpt2")) rc = import_gpt2(d, &a, dir, path, cfg, tokenizer, out_path);
    else if (!strcmp(type, "llama")) rc = import_hf_llama(d, &a, dir, path, cfg, tokenizer, out_path);
    else if (!strcmp(type, "bert") || !strcmp(type, "albert") || !strcmp(type, "distilbert") || !strcmp(type, "electra"))
        rc = import_hf_bert(d, &a, dir, path, cfg, type, tokenizer, out_path);
    else if (!strcmp(type, "llama2.c"))
        diag_file_error(d, path, "model_type 'llama2.c' is a llama2.c checkpoint: import its .bin file "
                                 "(kiln import model.bin -o model.xml)");
    else
        diag_file_error(d, path, "model_type '%s' is not supported by kiln import (supported: gpt2, llama, bert, "
                                 "albert, distilbert, electra)", type);
out:
    json_object_put(cfg);
    free(text);
    arena_free(&a);
    return rc;
}
