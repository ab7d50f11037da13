/* xml.c — reads a model description (docs/model-format.md) into a module.
 *
 * Three steps. libxml2 parses the file (no network, no entity expansion, big line numbers)
 * and reports malformed XML with line and column. A model has no use for a DTD, so a
 * <!DOCTYPE> stops the parser where it stands: no internal subset is read (no entity
 * declarations, so no "billion laughs") and no external one is loaded from disk or network.
 * libxml2's own limits stay on (no XML_PARSE_HUGE): nesting deeper than 256 elements, or a
 * text node over 10 MB, is malformed XML. The document is validated against
 * model.xsd, compiled into kiln. Then one walk in document order builds the module:
 * parameters, dims, states and weight files here, then each <graph> (xml_graph.c).
 * Attribute values go through xml_attr.c, which evaluates their {expressions}.
 *
 * Locations: libxml2 records only the line of an element, and past line 65535 not even
 * that reliably, so a pre-pass finds each element's '<' in the text itself, in document
 * order (every raw '<' of a well-formed document opens a tag, an end tag, a comment, a
 * CDATA section or a processing instruction), and attribute errors search for `name=`
 * from there.
 *
 * Schema errors name an attribute or element libxml2 did not expect; for those kiln adds
 * "did you mean" with the nearest name the schema allows there, read from model.xsd itself
 * (parsed once more as a plain document), so the suggestions cannot drift from the format. */
#include "frontend_impl.h"
#include "support/diag.h"

#include <ctype.h>
#include <libxml/parser.h>
#include <libxml/xmlschemas.h>
#include <stdlib.h>
#include <string.h>

extern const char fe_model_xsd[];
extern const unsigned long fe_model_xsd_len;

/* ---- locations ------------------------------------------------------------------ */

static void index_lines(Fe *fe)
{
    uint32_t n = 1;
    for (size_t i = 0; i < fe->len; i++) n += fe->text[i] == '\n';
    fe->lines = arena_array(fe->a, (size_t)n + 2, sizeof *fe->lines);
    fe->lines[1] = fe->text;
    uint32_t k = 1;
    for (size_t i = 0; i < fe->len; i++)
        if (fe->text[i] == '\n') fe->lines[++k] = fe->text + i + 1;
    fe->n_lines = k;
}

static size_t line_len(Fe *fe, uint32_t line)
{
    const char *s = fe->lines[line];
    const char *e = line < fe->n_lines ? fe->lines[line + 1] : fe->text + fe->len;
    return (size_t)(e - s);
}

/* Finds needle on `line` at or after column `col`; 0 if absent. */
static uint32_t find_on_line(Fe *fe, uint32_t line, uint32_t col, const char *needle)
{
    if (line < 1 || line > fe->n_lines) return 0;
    const char *s = fe->lines[line];
    size_t n = line_len(fe, line), k = strlen(needle);
    for (size_t i = col ? col - 1 : 0; i + k <= n; i++)
        if (memcmp(s + i, needle, k) == 0) return (uint32_t)i + 1;
    return 0;
}

/* Where an element's '<' is, kept in its _private by the pre-pass. */
typedef struct ElemPos {
    uint32_t line, col;
} ElemPos;

/* The pre-pass's cursor: a byte offset into the text and the line it is on. */
typedef struct Cursor {
    size_t at;
    uint32_t line;
} Cursor;

/* Moves c to byte `to`, counting lines. */
static void cursor_move(Fe *fe, Cursor *c, size_t to)
{
    for (; c->at < to && c->at < fe->len; c->at++) c->line += fe->text[c->at] == '\n';
}

/* Moves c to the next `<name` (followed by a space, '/' or '>') that opens a tag,
 * skipping comments, CDATA sections and processing instructions; 0 if there is none. */
static int find_tag(Fe *fe, Cursor *c, const char *name)
{
    size_t k = strlen(name);
    static const struct { const char *open, *close; } skips[] = {
        { "<!--", "-->" }, { "<![CDATA[", "]]>" }, { "<?", "?>" },
    };
    for (;;) {
        const char *lt = memchr(fe->text + c->at, '<', fe->len - c->at);
        if (!lt) return 0;
        size_t at = (size_t)(lt - fe->text), rest = fe->len - at;
        cursor_move(fe, c, at);
        int skipped = 0;
        for (size_t i = 0; i < sizeof skips / sizeof skips[0] && !skipped; i++) {
            size_t n = strlen(skips[i].open);
            if (rest < n || memcmp(lt, skips[i].open, n) != 0) continue;
            const char *end = lt + n, *stop = fe->text + fe->len;
            size_t m = strlen(skips[i].close);
            while (end + m <= stop && memcmp(end, skips[i].close, m) != 0) end++;
            cursor_move(fe, c, (size_t)(end - fe->text) + m);
            skipped = 1;
        }
        if (skipped) continue;
        if (rest > k + 1 && memcmp(lt + 1, name, k) == 0 && lt[k + 1] && strchr(" \t\r\n/>", lt[k + 1])) return 1;
        cursor_move(fe, c, at + 1);
    }
}

/* Pre-pass: the line and column of each element's '<', in its _private. */
static void mark_positions(Fe *fe, xmlNode *first, Cursor *c)
{
    for (xmlNode *x = first; x; x = x->next) {
        if (x->type != XML_ELEMENT_NODE) continue;
        ElemPos *pos = arena_alloc(fe->a, sizeof *pos);
        const char *name = (const char *)x->name;
        if (x->ns && x->ns->prefix) name = arena_printf(fe->a, "%s:%s", (const char *)x->ns->prefix, name);
        if (find_tag(fe, c, name)) {
            pos->line = c->line;
            pos->col = (uint32_t)(fe->text + c->at - fe->lines[c->line]) + 1;
            cursor_move(fe, c, c->at + 1);
        } else {    /* not where the text says (cannot happen in a well-formed document) */
            long line = xmlGetLineNo(x);
            pos->line = line > 0 ? (uint32_t)line : 0;
            pos->col = 0;
        }
        x->_private = pos;
        mark_positions(fe, x->children, c);
    }
}

Loc fe_elem_loc(Fe *fe, xmlNode *x)
{
    const ElemPos *pos = x->_private;
    if (pos) return loc_make(fe->file, pos->line, pos->col);
    long line = xmlGetLineNo(x);
    return loc_make(fe->file, line > 0 ? (uint32_t)line : 0, 0);
}

/* Location of attribute `name` of x: its `name=` after the element's '<', possibly on a
 * following line when attributes are wrapped. Falls back to the element. */
Loc fe_attr_loc(Fe *fe, xmlNode *x, const char *name)
{
    Loc at = fe_elem_loc(fe, x);
    char needle[80];
    snprintf(needle, sizeof needle, " %s=", name);
    for (uint32_t line = at.line, col = at.col; line && line <= fe->n_lines && line < at.line + 20; line++, col = 1) {
        uint32_t c = find_on_line(fe, line, col, needle + (col == 1 ? 1 : 0));
        if (c) return loc_make(fe->file, line, c + (col == 1 ? 0 : 1));
        if (find_on_line(fe, line, col, ">")) break;
    }
    return at;
}

/* ---- declarations ----------------------------------------------------------------------- */

enum { FE_MAX_DECLS = 100000 };     /* parameters and states: a few per layer in real models */

int fe_repeat_count(Fe *fe, const Scope *sc, xmlNode *x, int64_t *count)
{
    const char *c = fe_get(fe, sc, x, "count");
    return c ? fe_parse_int(fe, c, 0, 100000, count, fe_attr_loc(fe, x, "count"), "count") : -1;
}

static void read_decls(Fe *fe, xmlNode *first, const Scope *sc);

static void read_state(Fe *fe, const Scope *sc, xmlNode *x)
{
    const char *name = fe_get_name(fe, sc, x, "name");
    const char *shape = fe_get(fe, sc, x, "shape");
    const char *dt = fe_get(fe, sc, x, "dtype");
    const char *ba = fe_get(fe, sc, x, "batch_axis");
    Shape s;
    DType dtype = DT_F32;
    int64_t axis = 0;
    if (!name || !shape) return;
    if (fe_parse_dims(fe, shape, &s, fe_attr_loc(fe, x, "shape"), "state shape")) return;
    if (dt && fe_parse_dtype(fe, dt, &dtype, fe_attr_loc(fe, x, "dtype"))) return;
    if (ba && fe_parse_int(fe, ba, -1, s.rank - 1, &axis, fe_attr_loc(fe, x, "batch_axis"), "batch_axis")) return;
    if (ir_module_state(fe->m, name) >= 0) {
        diag_error(fe->d, fe_elem_loc(fe, x), "state '%s' is declared twice", name);
        return;
    }
    ir_module_add_state(fe->m, name, dtype, &s, (int)axis, fe_elem_loc(fe, x));
}

static void read_decl(Fe *fe, xmlNode *x, const Scope *sc)
{
    const char *tag = (const char *)x->name;
    Module *m = fe->m;
    Loc at = fe_elem_loc(fe, x);
    if (strcmp(tag, "param") == 0) {
        const char *name = fe_get_name(fe, sc, x, "name"), *value = fe_get(fe, sc, x, "value");
        if (!name || !value) return;
        int first = namemap_get(&m->param_index, name);
        if (first >= 0) {
            diag_error(fe->d, at, "parameter '%s' is given twice (first at line %u)", name, m->params[first].loc.line);
            return;
        }
        ir_module_add_param(m, name, value, at);
    } else if (strcmp(tag, "dim") == 0) {
        const char *name = fe_get_name(fe, sc, x, "name"), *max = fe_get(fe, sc, x, "max");
        int64_t v;
        if (!name || !max) return;
        if (strchr(name, '.') || isdigit((unsigned char)name[0])) {
            diag_error(fe->d, fe_attr_loc(fe, x, "name"), "dimension name '%s' must be letters, digits and '_'", name);
            return;
        }
        if (fe_parse_int(fe, max, 1, IR_MAX_EXTENT, &v, fe_attr_loc(fe, x, "max"), "max")) return;
        if (ir_module_sym(m, name)) diag_error(fe->d, at, "dimension '%s' is declared twice", name);
        else if (ir_module_add_sym(m, name, v, at) < 0) diag_error(fe->d, at, "too many dimensions (limit %d)", IR_MAX_SYMS);
    } else if (strcmp(tag, "weights") == 0) {
        const char *file = fe_get(fe, sc, x, "file");
        if (file) ir_module_add_weight_file(m, file, at);
    } else if (strcmp(tag, "tokenizer") == 0) {
        const char *kind = fe_get(fe, sc, x, "kind");
        if (!kind) return;
        if (m->tokenizer.kind) {
            diag_error(fe->d, at, "a model has one tokenizer");
            return;
        }
        m->tokenizer.kind = kind;
        m->tokenizer.loc = at;
        const char *need[2] = { NULL, NULL };
        if (strcmp(kind, "gpt2") == 0) need[0] = "vocab", need[1] = "merges";
        else if (strcmp(kind, "llama2c") == 0 || strcmp(kind, "sentencepiece") == 0 || strcmp(kind, "hf") == 0 ||
                 strcmp(kind, "wordpiece") == 0 || strcmp(kind, "chars") == 0)
            need[0] = "file";
        else {
            diag_error(fe->d, fe_attr_loc(fe, x, "kind"),
                       "unknown tokenizer kind '%s' (expected gpt2, llama2c, sentencepiece, hf, wordpiece or chars)", kind);
            return;
        }
        for (int i = 0; i < 2 && need[i]; i++) {
            const char *f = fe_get(fe, sc, x, need[i]);
            if (!f) {
                diag_error(fe->d, at, "tokenizer '%s' needs the attribute %s", kind, need[i]);
                return;
            }
            m->tokenizer.files[m->tokenizer.n_files++] = f;
        }
        /* lowercase="0": a cased vocabulary, kept in the IR as the kind wordpiece_cased */
        const char *lower = fe_get(fe, sc, x, "lowercase");
        if (lower && strcmp(kind, "wordpiece") != 0)
            diag_error(fe->d, fe_attr_loc(fe, x, "lowercase"), "the attribute lowercase is for tokenizer kind wordpiece only");
        else if (lower && strcmp(lower, "0") == 0)
            m->tokenizer.kind = "wordpiece_cased";
        else if (lower && strcmp(lower, "1") != 0)
            diag_error(fe->d, fe_attr_loc(fe, x, "lowercase"), "lowercase is '%s'; expected 1 (BERT uncased, the default) or 0", lower);
    } else if (strcmp(tag, "state") == 0) {
        read_state(fe, sc, x);
    } else if (strcmp(tag, "repeat") == 0) {
        const char *var = fe_get_name(fe, sc, x, "var");
        int64_t count;
        if (!var || fe_repeat_count(fe, sc, x, &count)) return;
        int errs = fe->d->n_errors;
        for (int64_t i = 0; i < count && fe->d->n_errors == errs; i++) {     /* one report per mistake, not per layer */
            if (fe->m->n_states + fe->m->n_params > FE_MAX_DECLS) {
                diag_error(fe->d, fe_elem_loc(fe, x), "more than %d parameters and states; are repeats nested too deep?",
                           FE_MAX_DECLS);
                return;
            }
            Scope inner = { var, arena_printf(fe->a, "%lld", (long long)i), sc };
            read_decls(fe, x->children, &inner);
        }
    }
}

static void read_decls(Fe *fe, xmlNode *first, const Scope *sc)
{
    for (xmlNode *x = first; x && !diag_too_many(fe->d); x = x->next)
        if (x->type == XML_ELEMENT_NODE && strcmp((const char *)x->name, "graph") != 0) read_decl(fe, x, sc);
}

/* ---- suggestions from model.xsd ------------------------------------------------------------ */

static xmlDoc *model_xsd_doc;     /* model.xsd as a plain document, made with the schema */

static int is_xs(const xmlNode *x, const char *tag)
{
    return x->type == XML_ELEMENT_NODE && strcmp((const char *)x->name, tag) == 0;
}

/* The name an <xs:element> declares or refers to. */
static const char *xsd_element_name(xmlNode *decl)
{
    const char *n = fe_raw_attr(decl, "name");
    return n ? n : fe_raw_attr(decl, "ref");
}

/* The top-level declaration <xs:`kind` name="name"> of model.xsd, or NULL. */
static xmlNode *xsd_global(const char *kind, const char *name)
{
    for (xmlNode *t = xmlDocGetRootElement(model_xsd_doc)->children; t; t = t->next) {
        const char *n = is_xs(t, kind) ? fe_raw_attr(t, "name") : NULL;
        if (n && strcmp(n, name) == 0) return t;
    }
    return NULL;
}

/* The complexType of an element declaration: inline, named by type=, or that of the
 * global element named by ref=. */
static xmlNode *xsd_type_of(xmlNode *decl)
{
    const char *ref = fe_raw_attr(decl, "ref"), *type = fe_raw_attr(decl, "type");
    if (ref) return (decl = xsd_global("element", ref)) ? xsd_type_of(decl) : NULL;
    if (type) return xsd_global("complexType", type);
    for (xmlNode *c = decl->children; c; c = c->next)
        if (is_xs(c, "complexType")) return c;
    return NULL;
}

/* The declaration of child element `name` within complexType t (at any depth of its
 * choices), or NULL. */
static xmlNode *xsd_child_decl(xmlNode *t, const char *name)
{
    for (xmlNode *c = t->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE) continue;
        if (!is_xs(c, "element")) {
            xmlNode *d = xsd_child_decl(c, name);
            if (d) return d;
            continue;
        }
        const char *n = xsd_element_name(c);
        if (n && strcmp(n, name) == 0) return c;
    }
    return NULL;
}

/* The complexType model.xsd gives element x where it stands (a <repeat> in a <graph> is
 * not one in <model>), following the path from the root; NULL if the path is not valid. */
static xmlNode *xsd_type_at(xmlNode *x)
{
    const char *name = (const char *)x->name;
    if (!x->parent || x->parent->type != XML_ELEMENT_NODE) {
        xmlNode *d = xsd_global("element", name);
        return d ? xsd_type_of(d) : NULL;
    }
    xmlNode *up = xsd_type_at(x->parent), *d = up ? xsd_child_decl(up, name) : NULL;
    return d ? xsd_type_of(d) : NULL;
}

/* Offers s every child element name declared in complexType t. */
static void try_child_elements(Suggest *s, xmlNode *t)
{
    for (xmlNode *c = t->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE) continue;
        const char *n = is_xs(c, "element") ? xsd_element_name(c) : NULL;
        if (n) suggest_try(s, n);
        else try_child_elements(s, c);
    }
}

/* " Did you mean 'tb'?" for a schema message about attribute 'tbb' of x or about the
 * unexpected element x, when model.xsd allows a name close to it there; else "". */
static void schema_hint(xmlNode *x, const char *msg, char *hint, size_t cap)
{
    hint[0] = 0;
    if (!x || x->type != XML_ELEMENT_NODE || !model_xsd_doc) return;
    const char *p = strstr(msg, "The attribute '");
    char attr[128];
    Suggest s;
    if (p && strstr(msg, "' is not allowed")) {
        p += strlen("The attribute '");
        const char *q = strchr(p, '\'');
        xmlNode *t = xsd_type_at(x);
        if (!q || (size_t)(q - p) >= sizeof attr || !t) return;
        snprintf(attr, sizeof attr, "%.*s", (int)(q - p), p);
        s = suggest_start(attr);
        for (xmlNode *a = t->children; a; a = a->next) {
            const char *an = is_xs(a, "attribute") ? fe_raw_attr(a, "name") : NULL;
            if (an && !fe_raw_attr(x, an)) suggest_try(&s, an);     /* not one x already has */
        }
    } else if (strstr(msg, "This element is not expected") || strstr(msg, "No matching global declaration")) {
        s = suggest_start((const char *)x->name);
        if (x->parent && x->parent->type == XML_ELEMENT_NODE) {
            xmlNode *t = xsd_type_at(x->parent);
            if (!t) return;
            try_child_elements(&s, t);
        } else {
            for (xmlNode *t = xmlDocGetRootElement(model_xsd_doc)->children; t; t = t->next)
                if (is_xs(t, "element") && fe_raw_attr(t, "name")) suggest_try(&s, fe_raw_attr(t, "name"));
        }
    } else {
        return;
    }
    if (s.best) snprintf(hint, cap, " Did you mean '%s'?", s.best);     /* libxml2's messages are sentences */
}

/* ---- libxml2 ---------------------------------------------------------------------------- */

/* libxml2 counts a column in characters, a Loc in bytes: the byte column of character
 * column `chars` of line (past the end of the line by as many as libxml2 says). */
static uint32_t byte_col(Fe *fe, uint32_t line, uint32_t chars)
{
    if (line < 1 || line > fe->n_lines || !chars) return chars;
    const char *s = fe->lines[line];
    size_t n = line_len(fe, line);
    uint32_t seen = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xc0) != 0x80 && ++seen == chars) return (uint32_t)i + 1;
    return (uint32_t)n + (chars - seen);
}

static void on_xml_error(void *user, xmlErrorPtr e)
{
    Fe *fe = user;
    if (!e || e->level == XML_ERR_WARNING) return;
    char msg[512];
    snprintf(msg, sizeof msg, "%s", e->message ? e->message : "malformed XML");
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' ')) msg[--n] = 0;
    /* libxml2's limits suggest an option the user cannot give */
    char *huge = strstr(msg, "use XML_PARSE_HUGE option");
    if (huge) snprintf(huge, sizeof msg - (size_t)(huge - msg), "(a limit of kiln's XML reader)");
    int schema = e->domain == XML_FROM_SCHEMASV || e->domain == XML_FROM_SCHEMASP;
    uint32_t line = e->line > 0 ? (uint32_t)e->line : 0;
    uint32_t col = schema || e->int2 <= 0 ? 0 : byte_col(fe, line, (uint32_t)e->int2);
    char hint[160] = "";
    Loc at = loc_make(fe->file, line, col);
    xmlNode *x = schema ? e->node : NULL;
    if (x && x->type == XML_ELEMENT_NODE) {
        at = fe_elem_loc(fe, x);
        schema_hint(x, msg, hint, sizeof hint);
    }
    diag_error(fe->d, at, "%s%s%s", schema ? "schema: " : "", msg, hint);
}

/* SAX hook at `<!DOCTYPE name ...`, before its internal subset: refuse and stop. */
static void refuse_doctype(void *ctx, const xmlChar *name, const xmlChar *public_id, const xmlChar *system_id)
{
    (void)name;
    (void)public_id;
    xmlParserCtxt *pc = ctx;
    Fe *fe = pc->_private;
    uint32_t line = pc->input && pc->input->line > 0 ? (uint32_t)pc->input->line : 0;
    diag_error(fe->d, loc_make(fe->file, line, find_on_line(fe, line, 0, "<!DOCTYPE")),
               "a model description may not have a <!DOCTYPE>: DTDs and entities are not part of "
               "the model format%s", system_id ? " (and kiln loads no external DTD)" : "");
    xmlStopParser(pc);
}

/* model.xsd, compiled once per process (kiln is single-threaded) and kept until exit. */
static xmlSchema *model_schema(void)
{
    static xmlSchema *schema;
    if (!schema) {
        xmlSchemaParserCtxt *pc = xmlSchemaNewMemParserCtxt(fe_model_xsd, (int)fe_model_xsd_len);
        schema = pc ? xmlSchemaParse(pc) : NULL;
        KILN_ASSERT(schema);    /* the schema is ours: failing to parse it is a kiln bug */
        xmlSchemaFreeParserCtxt(pc);
        model_xsd_doc = xmlReadMemory(fe_model_xsd, (int)fe_model_xsd_len, "model.xsd", NULL, XML_PARSE_NONET);
        KILN_ASSERT(model_xsd_doc);
    }
    return schema;
}

Module *fe_read_xml(Arena *a, Diag *d, const char *path)
{
    size_t len;
    char *text = file_read_max(d, path, FILE_READ_MAX, &len);
    if (!text) return NULL;
    Module *m = fe_read_xml_mem(a, d, path, text, len);
    free(text);
    return m;
}

Module *fe_read_xml_mem(Arena *a, Diag *d, const char *path, const char *text, size_t len)
{
    Fe fe = { 0 };
    fe.a = a;
    fe.d = d;
    fe.path = path;
    fe.file = diag_file(d, path);
    if (len == 0) {
        diag_file_error(d, path, "the file is empty");
        return NULL;
    }
    if (len > (size_t)1 << 30) {
        diag_file_error(d, path, "the file is too large for a model description (%zu bytes)", len);
        return NULL;
    }
    fe.text = text;
    fe.len = len;
    index_lines(&fe);
    int errs = d->n_errors;

    xmlSetStructuredErrorFunc(&fe, on_xml_error);
    xmlParserCtxt *pc = xmlNewParserCtxt();
    if (!pc) kiln_out_of_memory(sizeof *pc);
    pc->_private = &fe;
    pc->sax->internalSubset = refuse_doctype;
    /* never XML_PARSE_NOENT, _DTDLOAD, _DTDATTR, _XINCLUDE or _HUGE (see above) */
    xmlDoc *doc = xmlCtxtReadMemory(pc, text, (int)len, path, NULL,
                                    XML_PARSE_NONET | XML_PARSE_BIG_LINES | XML_PARSE_NOCDATA);
    xmlFreeParserCtxt(pc);
    Module *m = NULL;
    if (!doc || d->n_errors > errs) {
        if (d->n_errors == errs) diag_file_error(d, path, "not a well-formed XML document");
        goto out;
    }
    xmlNode *root = xmlDocGetRootElement(doc);
    Cursor cur = { 0, 1 };
    mark_positions(&fe, root, &cur);

    xmlSchemaValidCtxt *vc = xmlSchemaNewValidCtxt(model_schema());
    xmlSchemaSetValidStructuredErrors(vc, on_xml_error, &fe);
    int bad = xmlSchemaValidateDoc(vc, doc);
    xmlSchemaFreeValidCtxt(vc);
    if (bad || d->n_errors > errs) {
        if (d->n_errors == errs) diag_file_error(d, path, "does not follow the model format (docs/model-format.md)");
        goto out;
    }

    fe.m = ir_module_new(a);
    fe.m->files = d;
    fe.m->base_dir = path_dirname(a, path);
    fe.m->loc = fe_elem_loc(&fe, root);
    fe.m->name = arena_strdup(a, fe_raw_attr(root, "name"));
    if (fe_raw_attr(root, "family")) fe.m->family = arena_strdup(a, fe_raw_attr(root, "family"));
    read_decls(&fe, root->children, NULL);
    if (d->n_errors == errs)
        for (xmlNode *x = root->children; x; x = x->next)
            if (x->type == XML_ELEMENT_NODE && strcmp((const char *)x->name, "graph") == 0) fe_read_graph(&fe, x);
    if (d->n_errors == errs && fe.m->n_graphs == 0) diag_error(d, fe.m->loc, "the model has no <graph>");
    if (d->n_errors == errs) m = fe.m;
out:
    if (doc) xmlFreeDoc(doc);
    xmlSetStructuredErrorFunc(NULL, NULL);
    return m;
}
