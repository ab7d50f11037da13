/* exe.h — the parts of a produced executable's command line that decoders (main.c) and
 * encoders (encode.c) share (runtime/exe.c). */
#ifndef KILN_RUNTIME_EXE_H
#define KILN_RUNTIME_EXE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "runtime/model.h"
#include "runtime/tokenizer.h"

#ifndef KILN_VERSION
#define KILN_VERSION "unknown"
#endif

extern const char *rt_prog;         /* argv[0]'s last part, for messages */

/* "PROG: error: ..." on stderr; rt_fail returns 1 (the input, a file, the model), rt_usage 2
 * (the command line, with a pointer to --help). */
int rt_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int rt_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "-n VALUE", "-nVALUE" (short names), "--name VALUE", "--name=VALUE" (long names): returns
 * the value and advances *i, or NULL when argv[*i] is not this option. *missing is set when
 * it is, without a value. */
const char *rt_opt_value(int argc, char **argv, int *i, const char *name, int *missing);
/* The value of option opt in [lo, hi], or rt_usage's 2. */
int rt_parse_int(const char *opt, const char *v, long long lo, long long hi, long long *out);
int rt_parse_float(const char *opt, const char *v, double lo, double hi, double *out);

/* The pool's width and how it was chosen. */
typedef struct RtPoolInfo {
    int threads, measured, tried;
    double speedup;
} RtPoolInfo;
extern RtPoolInfo rt_pool_info;
/* Makes the pool: given threads (-t), or 0 for the measured default. */
int rt_threads_start(long long given);
void rt_threads_describe(FILE *f);

/* runtime/cpu.c: this processor has what kiln_model.cpu_needs names, else rt_fail's 1 with
 * the CPU the executable was compiled for and an older one to use. */
int rt_cpu_check(void);

/* kiln_model is consistent and of this runtime's ABI, else rt_fail's 1. */
int rt_check_model(void);
/* The place of the input or output of that name in kiln_model's tables, or -1. */
int rt_input(const char *name);
int rt_output(const char *name);
/* The place of the dim of that name in kiln_model.dims, or -1; its bound, 1 when absent. */
int rt_dim(const char *name);
int64_t rt_dim_max(const char *name);
/* Elements of t at these dims (run's dims[]). */
int64_t rt_tensor_numel(const KilnTensor *t, const int64_t *dims);

typedef struct RtWeights {
    const void *data;
    void *map;                  /* the mapping to undo, or NULL */
    size_t map_len;
} RtWeights;
/* The embedded blob, or the side file (path_arg, or the executable's path + ".weights")
 * mapped read-only and checked. */
int rt_weights_open(const char *path_arg, RtWeights *w);
/* The options every kind of executable takes: --weights FILE, -t N, --stats,
 * --verify-weights, --version. rt_common_option returns 1 when argv[*i] was one of them
 * (*status -1: go on; 0: --version printed, exit 0; 2: a bad value, said), else 0. */
typedef struct RtCommon {
    const char *weights;
    long long threads;
    int stats, verify_weights;
} RtCommon;
int rt_common_option(int argc, char **argv, int *i, RtCommon *c, int *status);

/* Start-up of every kind of executable: the weights (checked against their hash with
 * verify; said on stderr with stats), the arena, the thread pool (-t threads, 0: measured).
 * rt_fail's 1 on a problem; rt_stop undoes what was done either way. */
int rt_start(const char *weights_path, int verify, int stats, long long threads, RtWeights *w, void **arena);
void rt_stop(RtWeights *w, void *arena);
/* The arena: one anonymous mapping, page aligned (so 64-byte aligned) and zeroed; NULL
 * when it cannot be had. */
void *rt_arena_alloc(void);

/* The embedded tokenizer, read in place (4-byte aligned: copied once into *copy, to free,
 * if the blob is not); rt_fail's 1 when it is unusable. */
int rt_open_tokenizer(RtTokenizer *t, void **copy);

/* Option opt's list "a,b,c" of whole numbers below limit (0: any; `what` names them in the
 * message, "token types") into *out (malloc'd, freed by the caller even on an error). */
int rt_parse_ids(const char *opt, const char *s, int64_t limit, const char *what, int32_t **out, int64_t *n);
/* --tokens a,b,c: the ids, each below kiln_model.vocab. */
int rt_parse_tokens(const char *s, int32_t **out, int64_t *n);
/* Beam search: row i of every state with a batch axis (KilnState.row_bytes) becomes what
 * row parent[i] held (i < n). Only the rows whose parent is another row are copied, through
 * scratch (rt_reorder_scratch_bytes(n) bytes): whole rows at the bounds. */
void rt_reorder_states(void *arena, const int32_t *parent, int n, void *scratch);
size_t rt_reorder_scratch_bytes(int n);

/* --version: the model, the compiler, the target, sizes, inputs and outputs, threads. */
void rt_print_version(void);
/* The executable of an encoder (runtime/encode.c): main() hands it the command line. */
int rt_encoder_main(int argc, char **argv);
/* The executable of an encoder-decoder (runtime/translate.c). */
int rt_seq2seq_main(int argc, char **argv);
/* The next line of text[*at..len) into line, n (without its newline or a \r before it),
 * advancing *at; 0 at the end. */
int rt_next_line(const char *text, size_t len, size_t *at, const char **line, size_t *n);
/* s[0..n) holds nothing but spaces and tabs. */
int rt_blank_line(const char *s, size_t n);
/* text (a line of input, a --fill-mask text, a source sentence; `where` names it in
 * messages) through the tokenizer's rt_tok_prompt into *ids (malloc'd, freed by the caller
 * even on an error), every id checked against the model's vocabulary. Returns the count, or
 * -1 after saying why (invalid UTF-8 with its byte, a token error, an id out of range). */
long rt_tokenize_text(const RtTokenizer *tok, const char *text, size_t len, const char *where, int32_t **ids);
/* FILE ('-': standard input) in a NUL-terminated malloc'd buffer, read no further than
 * limit + 1 bytes: *over is set when there were more than limit. NULL after saying why,
 * naming the file as `what` ("prompt": "cannot read the prompt file 'x': ..."). */
char *rt_read_all(const char *path, const char *what, size_t limit, size_t *len, int *over);
/* The most bytes an executable reads from one file or standard input. */
#define RT_MAX_READ_BYTES ((size_t)1 << 30)
/* All of FILE, refusing one longer than RT_MAX_READ_BYTES; NULL after saying why. */
char *rt_read_input(const char *path, const char *what, size_t *len);

#endif
