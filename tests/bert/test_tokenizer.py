#!/usr/bin/env python3
"""test_tokenizer.py TEST_WORDPIECE MODEL_DIR — kiln's WordPiece on bert-tiny's vocab.txt.

The golden ids are those of scripts/train_bert.py's own Python tokenizer (BERT's
BasicTokenizer + greedy longest-match WordPiece), stored in MODEL_DIR/reference.json: the
tokenizer cases (ids without [CLS]/[SEP]) and the fill-mask sentences (ids with them; their
literal "[MASK]" must give the [MASK] id, as in Hugging Face's tokenizer). They are written as
the golden-file format of tests/tokenizer/test_wordpiece.c ({"name", "text", "tokens", "ids"},
ids with [CLS] first and [SEP] last), which runs kiln's tokenizer (frontend/tokenizer_wordpiece.c
+ runtime/wordpiece.c) on every text, uncased, and checks encoding and decoding.
Exit status: that of test_wordpiece (0 pass, 1 fail)."""
import json
import os
import shutil
import subprocess
import sys
import tempfile


def main(test_wordpiece, model_dir):
    with open(os.path.join(model_dir, "reference.json"), encoding="utf-8") as f:
        ref = json.load(f)
    vocab = os.path.join(model_dir, "vocab.txt")
    with open(vocab, encoding="utf-8") as f:
        pieces = [line.rstrip("\n") for line in f]
    cls, sep = pieces.index("[CLS]"), pieces.index("[SEP]")
    lines = []
    for i, c in enumerate(ref["tokenizer"]):
        lines.append(("case%d" % i, c["text"], [cls] + c["ids"] + [sep]))
    for i, c in enumerate(ref["fill_mask"]):
        lines.append(("fill%d" % i, c["text"], c["ids"]))
    if len(ref["tokenizer"]) < 12:
        print("FAIL: reference.json has %d tokenizer cases, expected at least 12" % len(ref["tokenizer"]))
        return 1
    tmp = tempfile.mkdtemp(prefix="kiln-bert-")
    try:
        golden = os.path.join(tmp, "golden.jsonl")
        with open(golden, "w", encoding="utf-8") as f:
            for name, text, ids in lines:
                f.write(json.dumps({"name": name, "text": text, "tokens": [pieces[i] for i in ids],
                                    "ids": ids}) + "\n")
        cmd = [test_wordpiece, vocab, golden, "1"]
        print("$ " + " ".join(cmd) + "   # %d cases from reference.json" % len(lines), flush=True)
        return subprocess.run(cmd).returncode
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.stderr.write("usage: test_tokenizer.py TEST_WORDPIECE MODEL_DIR\n")
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2]))
