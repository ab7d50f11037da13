/* import.c — `kiln import DIR|model.bin [--tokenizer FILE] -o model.xml`.
 *
 * What is given decides the importer: a folder is a Hugging Face model (its config.json says
 * which family), a file a llama2.c checkpoint. The importers live in frontend/import_*.c and
 * check what they wrote by loading it back. */
#include "driver.h"

#include <string.h>
#include <sys/stat.h>

static const char help[] =
    "usage: kiln import DIR|model.bin [--tokenizer FILE] -o model.xml\n"
    "\n"
    "Describes a model as kiln XML (docs/model-format.md); docs/import.md has the details.\n"
    "\n"
    "  DIR        a Hugging Face model folder: config.json, the weights (model.safetensors, or\n"
    "             shards with model.safetensors.index.json) and the tokenizer files.\n"
    "             model_type gpt2: tokenizer vocab.json + merges.txt (or encoder.json +\n"
    "             vocab.bpe); weight names with the `transformer.` prefix or without.\n"
    "             model_type llama (LlamaForCausalLM): tokenizer.json, else tokenizer.model.\n"
    "             model_type bert, albert, distilbert, electra (encoders): vocab.txt, lower-\n"
    "             cased as tokenizer_config.json's do_lower_case says; names with the family's\n"
    "             prefix (`bert.`, ...) or without.\n"
    "  model.bin  a llama2.c checkpoint (the legacy export, version 0). Its weights are written\n"
    "             as safetensors beside the XML, under llama2.c's names: -o out/NAME.xml\n"
    "             writes out/NAME.safetensors (it never overwrites the checkpoint).\n"
    "\n"
    "  -o FILE           the model description to write; paths in it are relative to it\n"
    "  --tokenizer FILE  the tokenizer, by extension: .bin a llama2.c tokenizer.bin,\n"
    "                    .model a SentencePiece model, .json a Hugging Face tokenizer.json\n"
    "                    (LLaMA only), .txt a WordPiece vocab.txt (encoders); for a folder\n"
    "                    it replaces the one found there\n"
    "\n"
    "The written model is loaded back and checked, weights and tokenizer included.\n";

int cmd_import(int argc, char **argv)
{
    const char *in = NULL, *out = NULL, *tok = NULL, *v;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(help, stdout);
            return 0;
        }
        if ((v = opt_value(argc, argv, &i, "-o"))) out = v;
        else if ((v = opt_value(argc, argv, &i, "--tokenizer"))) tok = v;
        else if (argv[i][0] == '-') return usage_error("import", "unknown or incomplete option '%s'", argv[i]);
        else if (in) return usage_error("import", "one model at a time ('%s' and '%s')", in, argv[i]);
        else in = argv[i];
    }
    if (!in) return usage_error("import", "no model given (a Hugging Face folder or a llama2.c .bin)");
    if (!out) return usage_error("import", "no output given (-o model.xml)");
    Diag d;
    diag_init(&d);
    struct stat st;
    int rc = 1;
    size_t n = strlen(in);
    if (stat(in, &st) != 0)
        diag_file_error(&d, in, "no such file or directory");
    else if (S_ISDIR(st.st_mode))
        rc = fe_import_hf(&d, in, tok, out) ? 1 : 0;
    else if (n >= 5 && (!strcmp(in + n - 5, ".json") || (n >= 12 && !strcmp(in + n - 12, ".safetensors"))))
        diag_file_error(&d, in, "give the model's folder (kiln import DIR), not one of its files");
    else
        rc = fe_import_llama2c(&d, in, tok, out) ? 1 : 0;
    if (rc == 0) fprintf(stderr, "wrote %s\n", out);
    diag_free(&d);
    return rc;
}
