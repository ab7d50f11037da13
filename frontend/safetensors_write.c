/* safetensors_write.c — writes tensors as a safetensors file (kiln run --dump, importers).
 *
 * The header is JSON built by json-c, padded with spaces to a multiple of 8 so that the
 * data area is 8-byte aligned in the file; tensors follow in the order given, packed. */
#include "frontend/frontend.h"

#include <errno.h>
#include <json-c/json.h>
#include <string.h>

static const char *st_name(DType t)
{
    static const char *names[DT_COUNT] = { [DT_F32] = "F32", [DT_F16] = "F16", [DT_BF16] = "BF16", [DT_I32] = "I32" };
    return t < DT_COUNT ? names[t] : NULL;
}

int st_write(const char *path, const StTensor *ts, size_t n, Diag *d)
{
    json_object *root = json_object_new_object();
    uint64_t off = 0;
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_new_object(), *shape = json_object_new_array(), *offs = json_object_new_array();
        KILN_ASSERT(st_name(ts[i].dtype));
        json_object_object_add(e, "dtype", json_object_new_string(st_name(ts[i].dtype)));
        for (int k = 0; k < ts[i].rank; k++) json_object_array_add(shape, json_object_new_int64(ts[i].shape[k]));
        json_object_object_add(e, "shape", shape);
        json_object_array_add(offs, json_object_new_int64((int64_t)off));
        json_object_array_add(offs, json_object_new_int64((int64_t)(off + ts[i].nbytes)));
        json_object_object_add(e, "data_offsets", offs);
        json_object_object_add(root, ts[i].name, e);
        off += ts[i].nbytes;
    }
    const char *js = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN);
    size_t hlen = strlen(js), padded = (hlen + 7) & ~(size_t)7;
    FILE *f = fopen(path, "wb");
    int rc = -1;
    if (!f) {
        diag_file_error(d, path, "cannot write: %s", strerror(errno));
        goto out;
    }
    uint8_t len8[8];
    for (int k = 0; k < 8; k++) len8[k] = (uint8_t)((uint64_t)padded >> (8 * k));
    int ok = fwrite(len8, 1, 8, f) == 8 && fwrite(js, 1, hlen, f) == hlen;
    for (size_t k = hlen; ok && k < padded; k++) ok = fputc(' ', f) != EOF;
    for (size_t i = 0; ok && i < n; i++) ok = fwrite(ts[i].data, 1, ts[i].nbytes, f) == ts[i].nbytes;
    if (fclose(f) != 0) ok = 0;
    if (!ok) diag_file_error(d, path, "cannot write: %s", strerror(errno));
    else rc = 0;
out:
    json_object_put(root);
    return rc;
}
