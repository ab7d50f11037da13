// gpt2_ref.js — an independent GPT-2 encoder, for ids beyond golden.jsonl.
//
// The algorithm of openai/gpt-2's encoder.py (as the gpt-3-encoder npm package ports it, which
// made golden.jsonl): JavaScript's own regex engine splits the text, then each piece's bytes
// are merged by rank, every occurrence of the best pair at once. One deliberate difference from
// gpt-3-encoder: pairs are keyed "a b" (space never occurs in a token), not "a,b", whose
// commas can collide. kiln's tests do not run this (no Node at test time); it made
// long_cases.jsonl:
//   node gpt2_ref.js ../shared/models/gpt2-tokenizer < texts.jsonl > cases.jsonl
// Input lines {"name", "text"}; output lines add "ids". Node's regex follows its own Unicode
// version (17.0 in Node 20), kiln's tables Python's (14.0): keep texts to characters assigned
// in both.
'use strict';
const fs = require('fs');
const dir = process.argv[2];
const encoder = JSON.parse(fs.readFileSync(dir + '/encoder.json', 'utf8'));
const lines = fs.readFileSync(dir + '/vocab.bpe', 'utf8').split('\n');
const ranks = new Map();
lines.slice(1).forEach((l, i) => { if (l.length) ranks.set(l, i); });

const byteToChar = [];
{
  let n = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
    byteToChar[b] = String.fromCodePoint(printable ? b : 256 + n++);
  }
}
const pat = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

function bpe(word) {              // word: array of symbols (strings)
  while (word.length > 1) {
    let best = Infinity, first, second;
    for (let i = 0; i + 1 < word.length; i++) {
      const r = ranks.get(word[i] + ' ' + word[i + 1]);
      if (r !== undefined && r < best) { best = r; first = word[i]; second = word[i + 1]; }
    }
    if (best === Infinity) break;
    const out = [];
    for (let i = 0; i < word.length;) {
      if (i + 1 < word.length && word[i] === first && word[i + 1] === second) {
        out.push(first + second); i += 2;
      } else { out.push(word[i]); i += 1; }
    }
    word = out;
  }
  return word;
}

function encode(text) {
  const ids = [];
  for (const m of text.matchAll(pat)) {
    const sym = Array.from(Buffer.from(m[0], 'utf8'), (b) => byteToChar[b]);
    for (const t of bpe(sym)) ids.push(encoder[t]);
  }
  return ids;
}

const input = fs.readFileSync(0, 'utf8').split('\n').filter((l) => l.length);
for (const l of input) {
  const c = JSON.parse(l);
  process.stdout.write(JSON.stringify({ name: c.name, text: c.text, ids: encode(c.text) }) + '\n');
}
