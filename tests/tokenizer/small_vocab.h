/* small_vocab.h — a tiny GPT-2-style tokenizer for the tests and the fuzzer (header-only).
 *
 * Line 1 of the vocabulary holds the 256 single-byte tokens, written with GPT-2's stand-ins,
 * id = byte value; the rest of the file (sv_tail) adds a few words, one per line, so that a
 * test can break line 2, 3... and expect that line in the message. The merges spell "hello"
 * and " w" (written "Ġw"). */
#ifndef KILN_TESTS_SMALL_VOCAB_H
#define KILN_TESTS_SMALL_VOCAB_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char sv_tail[] =
    ",\n\"he\": 256,\n\"ll\": 257,\n\"hell\": 258,\n\"hello\": 259,\n\"\xC4\xA0w\": 260,\n"
    "\"<|endoftext|>\": 261\n}\n";
static const char sv_merges[] = "#version: 0.2\nh e\nl l\nhe ll\nhell o\n\xC4\xA0 w\n";

enum { SV_HE = 256, SV_LL, SV_HELL, SV_HELLO, SV_SPACE_W, SV_EOT, SV_N };

/* GPT-2's stand-in code point for byte b (openai/gpt-2 bytes_to_unicode). */
static uint32_t sv_stand_in(uint32_t b)
{
    uint32_t next = 256;
    for (uint32_t c = 0; c < 256; c++) {
        int printable = (c >= '!' && c <= '~') || (c >= 0xA1 && c <= 0xAC) || c >= 0xAE;
        if (c == b) return printable ? c : next;
        if (!printable) next++;
    }
    return 0;
}

/* "{" and the 256 byte tokens (line 1, no newline, no closing brace), then tail (n bytes);
 * malloc'd, NUL-terminated, length in *len. */
static char *sv_vocab(const char *tail, size_t n, size_t *len)
{
    char *s = malloc(256 * 16 + n + 1), *o = s;
    *o++ = '{';
    for (uint32_t b = 0; b < 256; b++) {
        uint32_t cp = sv_stand_in(b);
        o += sprintf(o, "%s\"", b ? ", " : "");
        if (cp == '"' || cp == '\\') *o++ = '\\', *o++ = (char)cp;
        else if (cp < 0x80) *o++ = (char)cp;
        else *o++ = (char)(0xC0 | cp >> 6), *o++ = (char)(0x80 | (cp & 0x3F));
        o += sprintf(o, "\": %u", b);
    }
    memcpy(o, tail, n);
    o[n] = 0;
    *len = (size_t)(o - s) + n;
    return s;
}

#endif
