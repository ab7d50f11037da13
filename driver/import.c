/* import.c — `kiln import DIR -o model.xml`. */
#include "driver.h"

#include <string.h>

static const char help[] =
    "usage: kiln import DIR -o model.xml\n"
    "\n"
    "Describes a Hugging Face model folder as a kiln model (XML): DIR holds config.json,\n"
    "model.safetensors and, for text generation, the tokenizer files (vocab.json + merges.txt\n"
    "or encoder.json + vocab.bpe). Weight names may carry the `transformer.` prefix or not.\n"
    "Supported: GPT-2. The written model is loaded back and checked, weights included.\n";

int cmd_import(int argc, char **argv)
{
    const char *dir = NULL, *out = NULL, *v;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(help, stdout);
            return 0;
        }
        if ((v = opt_value(argc, argv, &i, "-o"))) out = v;
        else if (argv[i][0] == '-') return usage_error("import", "unknown or incomplete option '%s'", argv[i]);
        else if (dir) return usage_error("import", "one folder at a time ('%s' and '%s')", dir, argv[i]);
        else dir = argv[i];
    }
    if (!dir) return usage_error("import", "no folder given");
    if (!out) return usage_error("import", "no output given (-o model.xml)");
    Diag d;
    diag_init(&d);
    int rc = fe_import_hf(&d, dir, out) ? 1 : 0;
    if (rc == 0) fprintf(stderr, "wrote %s\n", out);
    diag_free(&d);
    return rc;
}
