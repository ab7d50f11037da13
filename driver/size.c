/* size.c — `kiln size EXE`: what the bytes of a produced executable are.
 *
 * A small reader of 64-bit little-endian ELF (x86-64 and AArch64 executables; no libelf):
 * the file is mapped, every header, section and name is checked to lie inside it before it
 * is read (the file is untrusted), and each field is assembled byte by byte, so the reader
 * works whatever the host. The symbol table then says what each byte of the allocated
 * sections is, by the names the backend and the runtime give their symbols:
 *   kernels        functions "k.<node>" (backend/kernels.c names each kernel after the
 *                  first node that needed it);
 *   forward        kiln_forward (and kiln_forward_profiled, its --profile twin);
 *   weights        from kiln_weights, tokenizer from kiln_tokenizer, for the lengths the
 *                  kiln_model record states (the blobs' labels carry no size); the
 *                  --selftest logits (kiln_selftest) count as other data;
 *   runtime        the runtime's functions and tables: local symbols of its source files
 *                  (the file symbols the assembler writes), and the names it exports —
 *                  rt_, tok_, uni_, kiln_ and main;
 *   libc and start-up code, other data: the other functions and objects;
 *   other          what no symbol covers: ELF and dynamic-linking tables, relocations,
 *                  unwind tables, alignment padding.
 * Symbols that overlap (aliases) are counted once. The parts add up exactly to the sizes of
 * the sections that are loaded and stored in the file; .bss, loaded but not stored, is
 * shown apart. */
#include "driver.h"

#include <stdlib.h>
#include <string.h>

#include "runtime/model.h"

static const char help[] =
    "usage: kiln size EXE [-n N | --all]\n"
    "\n"
    "What the bytes of an executable made by kiln compile are: kernels, the forward\n"
    "function, the runtime, libc and start-up code, the tokenizer tables, the weights, other\n"
    "data and the rest (ELF tables, relocations, unwind tables, padding), each with its share\n"
    "of the loaded sections; then the kernels, largest first.\n"
    "\n"
    "  -n N     list the N largest kernels (default 10)\n"
    "  --all    list every kernel\n"
    "\n"
    "Reads 64-bit ELF for x86-64 and AArch64 (docs/debugging.md).\n";

enum { SHT_NOBITS = 8, SHT_SYMTAB = 2, SHT_STRTAB = 3, SHF_ALLOC = 2, STT_OBJECT = 1, STT_FUNC = 2, STT_FILE = 4,
       SHN_LORESERVE = 0xff00, SHN_XINDEX = 0xffff };

typedef enum Part {
    P_KERNELS, P_FORWARD, P_RUNTIME, P_RUNTIME_DATA, P_LIBC, P_TOKENIZER, P_WEIGHTS, P_DATA, P_OTHER, P_COUNT
} Part;

static const char *const part_name[P_COUNT] = {
    "kernels", "forward", "runtime code", "runtime data (tables)", "libc and start-up code",
    "tokenizer (kiln_tokenizer)", "weights (kiln_weights)", "other data",
    "other (ELF and dynamic-linking tables, relocations, unwind tables, padding)",
};

typedef struct Section {
    uint32_t type;
    uint64_t flags, addr, offset, size;
} Section;

typedef struct Elf {
    const uint8_t *p;
    uint64_t size;
    Section *sh;
    uint32_t n_sh;
    const uint8_t *sym;         /* the symbol table (24-byte entries) */
    uint64_t n_sym;
    const char *str;            /* its string table */
    uint64_t str_size;
} Elf;

static uint64_t rd(const uint8_t *p, int n)     /* little-endian, n bytes */
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

/* Whether [off, off + len) lies in the file. */
static int inside(const Elf *e, uint64_t off, uint64_t len)
{
    return off <= e->size && len <= e->size - off;
}

typedef struct Sym {
    const char *name;
    uint64_t value, size;
    uint32_t shndx;
    int type, local;
    const char *file;           /* the last file symbol before it (locals only) */
} Sym;

static void read_sym(const Elf *e, uint64_t i, const char *file, Sym *s)
{
    const uint8_t *p = e->sym + i * 24;
    uint64_t name = rd(p, 4);
    s->name = name < e->str_size && memchr(e->str + name, 0, e->str_size - name) ? e->str + name : "";
    s->type = p[4] & 15;
    s->local = (p[4] >> 4) == 0;
    s->shndx = (uint32_t)rd(p + 6, 2);
    s->value = rd(p + 8, 8);
    s->size = rd(p + 16, 8);
    s->file = s->local ? file : NULL;
}

/* Checks the headers and finds the symbol table; errors name path and say what is wrong. */
static int elf_open(Elf *e, const char *path, Diag *d)
{
    static const uint8_t magic[4] = { 0x7f, 'E', 'L', 'F' };
    if (e->size < 16 || memcmp(e->p, magic, 4) != 0) {
        diag_file_error(d, path, "not an ELF file (kiln size reads executables made by kiln compile)");
        return -1;
    }
    if (e->p[4] == 1) {
        diag_file_error(d, path, "a 32-bit ELF file; kiln size reads 64-bit executables (x86-64, AArch64)");
        return -1;
    }
    if (e->p[4] != 2 || e->p[5] != 1) {
        diag_file_error(d, path, "%s ELF file; kiln size reads 64-bit little-endian executables",
                        e->p[5] == 2 ? "a big-endian" : "an unknown kind of");
        return -1;
    }
    if (e->size < 64) {
        diag_file_error(d, path, "truncated: %llu bytes, shorter than an ELF header", (unsigned long long)e->size);
        return -1;
    }
    uint64_t shoff = rd(e->p + 40, 8), shentsize = rd(e->p + 58, 2), shnum = rd(e->p + 60, 2);
    if (shoff == 0) {
        diag_file_error(d, path, "no section headers (kiln size needs them)");
        return -1;
    }
    if (shentsize != 64) {
        diag_file_error(d, path, "damaged: section headers of %llu bytes, not 64", (unsigned long long)shentsize);
        return -1;
    }
    if (shnum == 0 && inside(e, shoff, 64)) shnum = rd(e->p + shoff + 32, 8);     /* many: in section 0 */
    if (shnum == 0 || shnum > e->size / 64 || !inside(e, shoff, shnum * 64)) {
        diag_file_error(d, path, "truncated or damaged: %llu section headers at offset %llu do not fit in %llu bytes",
                        (unsigned long long)shnum, (unsigned long long)shoff, (unsigned long long)e->size);
        return -1;
    }
    e->n_sh = (uint32_t)shnum;
    e->sh = xcalloc(shnum ? shnum : 1, sizeof *e->sh);
    for (uint32_t i = 0; i < e->n_sh; i++) {
        const uint8_t *h = e->p + shoff + (uint64_t)i * 64;
        Section *s = &e->sh[i];
        s->type = (uint32_t)rd(h + 4, 4);
        s->flags = rd(h + 8, 8);
        s->addr = rd(h + 16, 8);
        s->offset = rd(h + 24, 8);
        s->size = rd(h + 32, 8);
        if (s->type != SHT_NOBITS && i > 0 && !inside(e, s->offset, s->size)) {
            diag_file_error(d, path, "truncated or damaged: section %u (%llu bytes at offset %llu) extends past the end "
                            "of the file (%llu bytes)", i, (unsigned long long)s->size, (unsigned long long)s->offset,
                            (unsigned long long)e->size);
            return -1;
        }
        if (s->type == SHT_SYMTAB && !e->sym) {
            uint32_t link = (uint32_t)rd(h + 40, 4);
            if (rd(h + 56, 8) != 24 || link == 0 || link >= shnum) {
                diag_file_error(d, path, "damaged: the symbol table's header is not valid");
                return -1;
            }
            const uint8_t *l = e->p + shoff + (uint64_t)link * 64;
            uint64_t str_off = rd(l + 24, 8), str_size = rd(l + 32, 8);
            if (rd(l + 4, 4) != SHT_STRTAB || !inside(e, str_off, str_size)) {
                diag_file_error(d, path, "truncated or damaged: the symbol names are not inside the file");
                return -1;
            }
            e->sym = e->p + s->offset;
            e->n_sym = s->size / 24;
            e->str = (const char *)e->p + str_off;
            e->str_size = str_size;
        }
    }
    return 0;
}

/* ---- what each symbol is ------------------------------------------------------------ */

static int starts(const char *s, const char *prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

/* The runtime's sources (runtime/meson.build, rt_exe_src): their static symbols follow
 * their file symbol. tests/inspect checks this list against the build file. */
static const char *const runtime_files[] = {
    "bpe.c", "chars.c", "generate.c", "spm_bpe.c", "spm_norm.c", "spm_unigram.c", "tokenizer.c", "threads.c", "unicode.c",
    "unicode_tables.c", "wordpiece.c", "capture.c", "main.c", "profile.c", "selftest.c", "exe.c", "encode.c", "beam.c", "translate.c",
    "bleu.c", "cpu.c", "signals.c",
};

static int runtime_symbol(const Sym *s)
{
    if (s->file) {
        const char *base = strrchr(s->file, '/');
        base = base ? base + 1 : s->file;
        for (size_t i = 0; i < sizeof runtime_files / sizeof runtime_files[0]; i++)
            if (!strcmp(base, runtime_files[i])) return 1;
    }
    return starts(s->name, "rt_") || starts(s->name, "tok_") || starts(s->name, "uni_") || starts(s->name, "kiln_") ||
           !strcmp(s->name, "main");
}

static Part part_of(const Sym *s)
{
    if (s->type == STT_FUNC && starts(s->name, "k.")) return P_KERNELS;
    if (!strcmp(s->name, "kiln_forward") || !strcmp(s->name, "kiln_forward_profiled")) return P_FORWARD;
    if (!strcmp(s->name, "kiln_model")) return P_DATA;     /* the backend's record */
    if (runtime_symbol(s)) return s->type == STT_FUNC ? P_RUNTIME : P_RUNTIME_DATA;
    return s->type == STT_FUNC ? P_LIBC : P_DATA;
}

/* A range of one section's bytes and what they are. */
typedef struct Span {
    uint64_t start, end;        /* addresses */
    uint32_t section;
    Part part;
} Span;

static int by_section_then_start(const void *a, const void *b)
{
    const Span *x = a, *y = b;
    if (x->section != y->section) return x->section < y->section ? -1 : 1;
    if (x->start != y->start) return x->start < y->start ? -1 : 1;
    return x->part < y->part ? -1 : x->part > y->part;
}

typedef struct Kernel {
    const char *name;
    uint64_t bytes;
} Kernel;

static int by_bytes_desc(const void *a, const void *b)
{
    const Kernel *x = a, *y = b;
    if (x->bytes != y->bytes) return x->bytes > y->bytes ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* The 8 bytes at address addr of section sh, or 0 when they are not in the file. */
static uint64_t read_at(const Elf *e, uint32_t sh, uint64_t addr)
{
    const Section *s = &e->sh[sh];
    if (s->type == SHT_NOBITS || addr < s->addr || addr - s->addr > s->size || s->size - (addr - s->addr) < 8) return 0;
    return rd(e->p + s->offset + (addr - s->addr), 8);
}

typedef struct Report {
    uint64_t part[P_COUNT];
    uint64_t loaded, bss;
    Kernel *kernels;
    int n_kernels, cap_kernels;
    uint64_t kernel_bytes;
} Report;

static void add_span(Span **v, int *n, int *cap, const Elf *e, uint32_t sh, uint64_t start, uint64_t len, Part part)
{
    if (sh == 0 || sh >= e->n_sh || !(e->sh[sh].flags & SHF_ALLOC) || len == 0) return;
    const Section *s = &e->sh[sh];
    if (s->size > UINT64_MAX - s->addr) return;         /* a damaged header: nothing is in it */
    uint64_t lo = start < s->addr ? s->addr : start;
    uint64_t hi = len > UINT64_MAX - start ? UINT64_MAX : start + len;
    if (hi > s->addr + s->size) hi = s->addr + s->size;
    if (lo >= hi) return;
    Span span = { lo, hi, sh, part };
    VEC_PUSH(*v, *n, *cap, span);
}

static void measure(const Elf *e, Report *r)
{
    Span *spans = NULL;
    int n = 0, cap = 0;
    const char *file = NULL;
    Sym s, weights = { 0 }, tokenizer = { 0 }, selftest = { 0 }, model = { 0 };
    for (uint64_t i = 1; i < e->n_sym; i++) {
        read_sym(e, i, file, &s);
        if (s.type == STT_FILE) {
            file = s.name;
            continue;
        }
        if (s.shndx == 0 || s.shndx >= SHN_LORESERVE || s.shndx >= e->n_sh) continue;
        if (!strcmp(s.name, "kiln_weights")) weights = s;
        else if (!strcmp(s.name, "kiln_tokenizer")) tokenizer = s;
        else if (!strcmp(s.name, "kiln_selftest")) selftest = s;
        else if (!strcmp(s.name, "kiln_model")) model = s;
        if (s.size == 0 || (s.type != STT_FUNC && s.type != STT_OBJECT)) continue;
        Part p = part_of(&s);
        add_span(&spans, &n, &cap, e, s.shndx, s.value, s.size, p);
        if (p == P_KERNELS) {
            Kernel k = { s.name, s.size };
            VEC_PUSH(r->kernels, r->n_kernels, r->cap_kernels, k);
            r->kernel_bytes += s.size;
        }
    }
    /* the blobs' labels have no size: kiln_model states it (runtime/model.h) */
    uint64_t wbytes = weights.size, tbytes = tokenizer.size, sbytes = selftest.size;
    if (model.name && model.shndx && (uint32_t)read_at(e, model.shndx, model.value) == KILN_ABI_VERSION) {
        if (!wbytes) wbytes = read_at(e, model.shndx, model.value + offsetof(KilnModel, weights_bytes));
        if (!tbytes) tbytes = read_at(e, model.shndx, model.value + offsetof(KilnModel, tokenizer_bytes));
        uint64_t rows = read_at(e, model.shndx, model.value + offsetof(KilnModel, selftest_n));
        uint64_t vocab = read_at(e, model.shndx, model.value + offsetof(KilnModel, vocab));
        if (!sbytes && rows <= 1u << 20 && vocab <= 1u << 30) sbytes = rows * vocab * 4;     /* f32 logits */
    }
    if (weights.name) add_span(&spans, &n, &cap, e, weights.shndx, weights.value, wbytes, P_WEIGHTS);
    if (tokenizer.name) add_span(&spans, &n, &cap, e, tokenizer.shndx, tokenizer.value, tbytes, P_TOKENIZER);
    if (selftest.name) add_span(&spans, &n, &cap, e, selftest.shndx, selftest.value, sbytes, P_DATA);
    if (n) qsort(spans, (size_t)n, sizeof *spans, by_section_then_start);

    /* each allocated section: its bytes covered by spans (once), the rest is "other" */
    int k = 0;
    for (uint32_t i = 1; i < e->n_sh; i++) {
        const Section *sec = &e->sh[i];
        if (!(sec->flags & SHF_ALLOC)) continue;
        if (sec->type == SHT_NOBITS) {
            r->bss += sec->size;
            while (k < n && spans[k].section == i) k++;
            continue;
        }
        r->loaded += sec->size;
        uint64_t covered = 0, cursor = sec->addr;
        for (; k < n && spans[k].section == i; k++) {
            uint64_t lo = spans[k].start > cursor ? spans[k].start : cursor;
            if (spans[k].end <= lo) continue;
            r->part[spans[k].part] += spans[k].end - lo;
            covered += spans[k].end - lo;
            cursor = spans[k].end;
        }
        r->part[P_OTHER] += sec->size - covered;
    }
    free(spans);
}

static const char *machine_name(unsigned m)
{
    return m == 62 ? "x86-64" : m == 183 ? "AArch64" : "unknown machine";
}

static void print_report(const Elf *e, const char *path, const Report *r, int top)
{
    unsigned type = (unsigned)rd(e->p + 16, 2);
    printf("%s: ELF64 %s %s, %llu bytes\n", path, machine_name((unsigned)rd(e->p + 18, 2)),
           type == 2 ? "executable" : type == 3 ? "executable (PIE) or shared object" : type == 1 ? "object" : "file",
           (unsigned long long)e->size);
    if (!e->sym) printf("no symbol table (stripped?): its bytes are all counted as other\n");
    printf("\n%12s %6s  %s\n", "bytes", "%", "part");
    int order[P_COUNT];
    for (int i = 0; i < P_COUNT; i++) order[i] = i;
    for (int i = 1; i < P_COUNT; i++)          /* largest first */
        for (int j = i; j > 0 && r->part[order[j]] > r->part[order[j - 1]]; j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    for (int i = 0; i < P_COUNT; i++) {
        int p = order[i];
        printf("%12llu %5.1f%%  %s", (unsigned long long)r->part[p],
               r->loaded ? 100.0 * (double)r->part[p] / (double)r->loaded : 0.0, part_name[p]);
        if (p == P_KERNELS) printf(", %d functions", r->n_kernels);
        putchar('\n');
    }
    printf("%12llu %5.1f%%  loaded sections, in the file (the rest of the file: symbols, debug information,\n"
           "%21sheaders and alignment)\n", (unsigned long long)r->loaded, 100.0, "");
    printf("%12llu %6s  zero-filled at load (.bss; not in the file)\n", (unsigned long long)r->bss, "");
    if (!r->n_kernels) return;
    int shown = top < 0 || top > r->n_kernels ? r->n_kernels : top;
    printf("\nkernels, largest first (%d of %d, %llu bytes in all):\n", shown, r->n_kernels,
           (unsigned long long)r->kernel_bytes);
    for (int i = 0; i < shown; i++) printf("%12llu  %s\n", (unsigned long long)r->kernels[i].bytes, r->kernels[i].name);
    if (shown < r->n_kernels) printf("%12s  (%d more: --all lists them)\n", "", r->n_kernels - shown);
}

int cmd_size(int argc, char **argv)
{
    const char *path = NULL, *v;
    long long top = 10;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(help, stdout);
            return 0;
        }
        if (!strcmp(a, "--all")) top = -1;
        else if ((v = opt_value(argc, argv, &i, "-n"))) {
            if (opt_int("size", "-n", v, 0, 1000000000, &top)) return 2;
        } else if (a[0] == '-' && a[1]) return usage_error("size", "unknown or incomplete option '%s'", a);
        else if (path) return usage_error("size", "one executable at a time ('%s' and '%s')", path, a);
        else path = a;
    }
    if (!path) return usage_error("size", "no executable given");
    Diag d;
    diag_init(&d);
    MappedFile mf;
    int rc = 1;
    if (file_map(&d, path, &mf)) goto out;
    Elf e = { 0 };
    e.p = mf.data;
    e.size = mf.size;
    if (elf_open(&e, path, &d) == 0) {
        Report r = { 0 };
        measure(&e, &r);
        if (r.n_kernels) qsort(r.kernels, (size_t)r.n_kernels, sizeof *r.kernels, by_bytes_desc);
        print_report(&e, path, &r, (int)top);
        free(r.kernels);
        rc = fflush(stdout) == 0 ? 0 : 1;
    }
    free(e.sh);
    file_unmap(&mf);
out:
    diag_free(&d);
    return rc;
}
