#!/usr/bin/env python3
"""test_import_encoders.py KILN SOURCE CASE — `kiln import` of Hugging Face encoder folders (BERT,
ALBERT, DistilBERT, ELECTRA), checked against references that kiln did not compute.

Each case builds its folder in a temporary directory: model.safetensors from the weights of a
tests/ref case (Hugging Face names), config.json written here from that case's README, a
vocab.txt of vocab_size made-up tokens. The imported XML is run by the interpreter on the
case's inputs.safetensors and compared with its expected.safetensors (PyTorch) by compare.py.

Cases (meson.build runs each as import/enc-CASE):
  bert        tests/ref/bert (BertModel: no prefix, pooler): hidden and pooled; --tokenizer naming
              another vocabulary. Also: the names
              under `bert.` split into two shards with model.safetensors.index.json; without
              the pooler's tensors (no `pooled` output, hidden unchanged); with LayerNorm.gamma /
              .beta names (TensorFlow conversions: bert-base-uncased); do_lower_case from
              tokenizer_config.json (absent: lowercase="1"; false: "0").
  bert-mlm    tests/ref/bert plus a random MLM head (cls.predictions.*): `logits` against the
              head computed here in plain Python (BertLMPredictionHead's formula: dense, gelu,
              LayerNorm, tied decoder, bias) on the PyTorch `hidden`; the same with
              tie_word_embeddings false and a different decoder matrix (the tied logits must
              then fail); and ELECTRA's generator head (generator_predictions.*,
              generator_lm_head.*) on tests/ref/electra's hidden.
  albert      tests/ref/albert (AlbertForMaskedLM, one shared layer applied 3 times): logits,
              hidden.
  distilbert  tests/ref/distilbert (DistilBertForMaskedLM, no token types): logits, hidden;
              also with the `distilbert.` prefix removed.
  electra     tests/ref/electra (ElectraForPreTraining, embeddings_project): replaced, hidden.
  errors      every refusal: its message (naming the file and the field), a non-zero exit,
              no crash and no XML written."""
import json
import math
import os
import random
import struct
import subprocess
import sys
import tempfile

kiln, src, case = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2]), sys.argv[3]
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(src, 'tests', 'ref'))
import safetensors_io as st  # noqa: E402

ref = os.path.join(src, 'tests', 'ref')
failures = 0

# config.json of each reference case, from its README's architecture table
CONFIGS = {
    'bert': {'model_type': 'bert', 'architectures': ['BertModel'], 'hidden_size': 32, 'num_hidden_layers': 2,
             'num_attention_heads': 4, 'intermediate_size': 64, 'hidden_act': 'gelu', 'vocab_size': 50,
             'max_position_embeddings': 16, 'type_vocab_size': 2, 'layer_norm_eps': 1e-12,
             'position_embedding_type': 'absolute'},
    'albert': {'model_type': 'albert', 'architectures': ['AlbertForMaskedLM'], 'embedding_size': 16,
               'hidden_size': 32, 'num_hidden_layers': 3, 'num_attention_heads': 4, 'intermediate_size': 64,
               'hidden_act': 'gelu_new', 'vocab_size': 60, 'max_position_embeddings': 16, 'type_vocab_size': 2,
               'layer_norm_eps': 1e-12, 'num_hidden_groups': 1, 'inner_group_num': 1},
    'distilbert': {'model_type': 'distilbert', 'architectures': ['DistilBertForMaskedLM'], 'dim': 32, 'n_layers': 2,
                   'n_heads': 4, 'hidden_dim': 64, 'activation': 'gelu', 'vocab_size': 48,
                   'max_position_embeddings': 16, 'sinusoidal_pos_embds': False},
    'electra': {'model_type': 'electra', 'architectures': ['ElectraForPreTraining'], 'embedding_size': 16,
                'hidden_size': 32, 'num_hidden_layers': 2, 'num_attention_heads': 4, 'intermediate_size': 64,
                'hidden_act': 'gelu', 'vocab_size': 56, 'max_position_embeddings': 16, 'type_vocab_size': 2,
                'layer_norm_eps': 1e-12},
}


def run(*args, ok=True):
    p = subprocess.run(list(args), capture_output=True, text=True)
    print('$ %s\n%s%s' % (' '.join(args), p.stdout, p.stderr))
    if ok and p.returncode != 0:
        print('FAIL: exit status %d' % p.returncode)
        sys.exit(1)
    return p


def check(what, cond):
    global failures
    print('%s: %s' % ('ok' if cond else 'FAIL', what))
    failures += not cond


def compare(expected, actual):
    """compare.py's verdict: True when every tensor passes."""
    p = run(sys.executable, os.path.join(ref, 'compare.py'), expected, actual, ok=False)
    if p.returncode == 2:
        print('FAIL: compare.py could not read the files')
        sys.exit(1)
    return p.returncode == 0


def write_vocab(path, n):
    toks = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'] + ['tok%d' % i for i in range(n - 5)]
    with open(path, 'w') as f:
        f.write('\n'.join(toks) + '\n')


def make_folder(tmp, name, refcase, tensors=None, config=None, vocab=None):
    """A Hugging Face folder TMP/NAME: tensors (default: refcase's weights), config.json (default:
    CONFIGS[refcase]), vocab.txt of vocab (default: vocab_size) tokens."""
    folder = os.path.join(tmp, name)
    os.makedirs(folder)
    if tensors is None:
        tensors = st.read(os.path.join(ref, refcase, 'weights.safetensors'))
    st.write(os.path.join(folder, 'model.safetensors'), [(n, t[0], t[1], t[2]) for n, t in tensors.items()])
    cfg = dict(CONFIGS[refcase]) if config is None else config
    with open(os.path.join(folder, 'config.json'), 'w') as f:
        json.dump(cfg, f)
    write_vocab(os.path.join(folder, 'vocab.txt'), cfg.get('vocab_size', 50) if vocab is None else vocab)
    return folder


def import_and_run(tmp, folder, refcase, tag):
    """Imports folder and runs the XML on refcase's inputs; returns (xml text, outputs file)."""
    xml = os.path.join(tmp, tag + '.xml')
    out = os.path.join(tmp, tag + '.out.safetensors')
    run(kiln, 'import', folder, '-o', xml)
    run(kiln, 'run', xml, '--inputs', os.path.join(ref, refcase, 'inputs.safetensors'), '--dump', out)
    with open(xml) as f:
        return f.read(), out


def matches(tmp, folder, refcase, tag):
    text, out = import_and_run(tmp, folder, refcase, tag)
    return compare(os.path.join(ref, refcase, 'expected.safetensors'), out), text, out


def renamed(tensors, fn):
    return {fn(n): t for n, t in tensors.items()}


def f32(values):
    return st.from_list('F32', values)


def values(t):
    return st.to_list(t[0], t[2])


# ---- a head computed in plain Python (the reference for heads no tests/ref case has) --------

def gelu(z):
    return 0.5 * z * (1 + math.erf(z / math.sqrt(2)))


def mlm_reference(hidden, shape, dense_w, dense_b, ln_w, ln_b, dec_w, bias, vocab, eps=1e-12):
    """transformers' BertLMPredictionHead (and ElectraGeneratorPredictions + lm head):
    y = LN(gelu(h Wdᵀ + bd)); logits = y Wdecᵀ + bias, on each row of hidden (B, T, H)."""
    B, T, H = shape
    E = len(dense_b)
    out = []
    for r in range(B * T):
        h = hidden[r * H:(r + 1) * H]
        z = [gelu(sum(dense_w[o * H + i] * h[i] for i in range(H)) + dense_b[o]) for o in range(E)]
        mu = sum(z) / E
        var = sum((x - mu) ** 2 for x in z) / E
        y = [(x - mu) / math.sqrt(var + eps) * ln_w[k] + ln_b[k] for k, x in enumerate(z)]
        out += [sum(dec_w[v * E + k] * y[k] for k in range(E)) + bias[v] for v in range(vocab)]
    return out


def random_tensor(rng, shape, std, mean=0.0):
    n = 1
    for s in shape:
        n *= s
    return [mean + rng.gauss(0, std) for _ in range(n)]


# ---- the cases ---------------------------------------------------------------------------------

def case_bert(tmp):
    ok, text, out = matches(tmp, make_folder(tmp, 'bert', 'bert'), 'bert', 'bert')
    check('BertModel (no prefix, pooler): hidden and pooled of tests/ref/bert (PyTorch)', ok)
    check('the XML has the pooled output and lowercase="1" (no tokenizer_config.json)',
          '<output name="pooled"' in text and 'lowercase="1"' in text)
    check('no logits output without an MLM head', '<output name="logits"' not in text)
    other = os.path.join(tmp, 'other-vocab.txt')
    write_vocab(other, 50)
    xml = os.path.join(tmp, 'bert-tok.xml')
    run(kiln, 'import', os.path.join(tmp, 'bert'), '--tokenizer', other, '-o', xml)
    with open(xml) as f:
        check('--tokenizer FILE.txt replaces vocab.txt', 'file="other-vocab.txt"' in f.read())

    # bert. prefix, two shards, cased vocabulary
    w = st.read(os.path.join(ref, 'bert', 'weights.safetensors'))
    folder = make_folder(tmp, 'bert-shards', 'bert', tensors={})
    os.remove(os.path.join(folder, 'model.safetensors'))
    names = list(w)
    halves = {'model-00001-of-00002.safetensors': names[:len(names) // 2],
              'model-00002-of-00002.safetensors': names[len(names) // 2:]}
    weight_map = {}
    for shard, part in halves.items():
        st.write(os.path.join(folder, shard), [('bert.' + n,) + tuple(w[n]) for n in part])
        weight_map.update({'bert.' + n: shard for n in part})
    with open(os.path.join(folder, 'model.safetensors.index.json'), 'w') as f:
        json.dump({'metadata': {}, 'weight_map': weight_map}, f)
    with open(os.path.join(folder, 'tokenizer_config.json'), 'w') as f:
        json.dump({'do_lower_case': False, 'tokenizer_class': 'BertTokenizer'}, f)
    ok, text, _ = matches(tmp, folder, 'bert', 'bert-shards')
    check('bert. prefix in two shards: hidden and pooled of tests/ref/bert', ok)
    check('two <weights> elements, {p} = "bert."', text.count('<weights ') == 2 and '<param name="p" value="bert."/>' in text)
    check('do_lower_case false gives lowercase="0"', 'lowercase="0"' in text)

    # LayerNorm.gamma / .beta, as in bert-base-uncased's model.safetensors (converted from TensorFlow)
    tf = renamed(w, lambda n: 'bert.' + n.replace('LayerNorm.weight', 'LayerNorm.gamma').replace('LayerNorm.bias',
                                                                                            'LayerNorm.beta'))
    ok, text, _ = matches(tmp, make_folder(tmp, 'bert-gamma', 'bert', tensors=tf), 'bert', 'bert-gamma')
    check('LayerNorm.gamma / .beta names: hidden and pooled of tests/ref/bert',
          ok and 'LayerNorm.gamma' in text and 'LayerNorm.weight' not in text)

    # no pooler: no pooled output, the same hidden
    folder = make_folder(tmp, 'bert-nopool', 'bert', tensors={n: t for n, t in w.items() if not n.startswith('pooler.')})
    text, out = import_and_run(tmp, folder, 'bert', 'bert-nopool')
    check('without pooler tensors: no pooled output', '"pooled"' not in text and 'pooled' not in st.read(out))
    p = run(sys.executable, os.path.join(ref, 'compare.py'), os.path.join(ref, 'bert', 'expected.safetensors'), out,
            '--only', 'hidden', ok=False)
    check('without pooler tensors: hidden of tests/ref/bert', p.returncode == 0)


def mlm_case(tmp, refcase, tag, head_names, prefix, tied, config_extra, rng, E):
    """Adds a random MLM head under head_names (dense, ln, bias, decoder) to refcase's weights,
    imports it and compares `logits` with mlm_reference on refcase's PyTorch hidden; returns
    (passed, the tied reference) for further checks."""
    w = st.read(os.path.join(ref, refcase, 'weights.safetensors'))
    cfg = dict(CONFIGS[refcase], **config_extra)
    H, V = cfg['hidden_size'], cfg['vocab_size']
    dense_w, dense_b = random_tensor(rng, [E, H], 0.2), random_tensor(rng, [E], 0.1)
    ln_w, ln_b = random_tensor(rng, [E], 0.1, 1.0), random_tensor(rng, [E], 0.1)
    bias = random_tensor(rng, [V], 0.1)
    dense, ln, bias_name, dec_name = head_names
    extra = {dense + '.weight': ('F32', [E, H], f32(dense_w)), dense + '.bias': ('F32', [E], f32(dense_b)),
             ln + '.weight': ('F32', [E], f32(ln_w)), ln + '.bias': ('F32', [E], f32(ln_b)),
             bias_name: ('F32', [V], f32(bias))}
    word = values(w[prefix + 'embeddings.word_embeddings.weight'])
    dec = word
    if not tied:
        dec = random_tensor(rng, [V, E], 0.3)
        extra[dec_name] = ('F32', [V, E], f32(dec))
    w.update(extra)
    folder = make_folder(tmp, tag, refcase, tensors=w, config=cfg)
    text, out = import_and_run(tmp, folder, refcase, tag)
    exp = st.read(os.path.join(ref, refcase, 'expected.safetensors'))['hidden']
    # the reference works on the float32 parameters kiln reads
    def r32(xs):
        return st.to_list('F32', f32(xs))
    args = [r32(dense_w), r32(dense_b), r32(ln_w), r32(ln_b)]
    ref_logits = mlm_reference(values(exp), exp[1], *args, r32(dec), r32(bias), V)
    tied_logits = mlm_reference(values(exp), exp[1], *args, r32(word), r32(bias), V)
    expected = os.path.join(tmp, tag + '.expected.safetensors')
    st.write(expected, [('logits', 'F32', exp[1][:2] + [V], f32(ref_logits))])
    return compare(expected, out), tied_logits, out, text, exp[1][:2] + [V]


def case_bert_mlm(tmp):
    rng = random.Random(11)
    names = ('cls.predictions.transform.dense', 'cls.predictions.transform.LayerNorm', 'cls.predictions.bias',
             'cls.predictions.decoder.weight')
    ok, _, _, text, _ = mlm_case(tmp, 'bert', 'bert-mlm', names, '', True, {'architectures': ['BertForMaskedLM']},
                                 rng, 32)
    check('BERT MLM head (tied): logits of the Python head on the PyTorch hidden', ok)
    check('logits declared before hidden', 0 < text.find('name="logits"') < text.find('name="hidden"'))
    ok, tied_logits, out, text, shape = mlm_case(tmp, 'bert', 'bert-mlm-untied', names, '', False,
                                                 {'tie_word_embeddings': False}, rng, 32)
    check('BERT MLM head, tie_word_embeddings false: logits with cls.predictions.decoder.weight', ok)
    wrong = os.path.join(tmp, 'tied-instead.safetensors')
    st.write(wrong, [('logits', 'F32', shape, f32(tied_logits))])
    check('...and those logits fail against the tied head (the comparison can fail)', not compare(wrong, out))
    # the bias under its other name (cls.predictions.decoder.bias, tied to cls.predictions.bias)
    names_alt = names[:2] + ('cls.predictions.decoder.bias', names[3])
    ok, _, _, text, _ = mlm_case(tmp, 'bert', 'bert-mlm-decbias', names_alt, '', True, {}, rng, 32)
    check('BERT MLM head with the bias saved as cls.predictions.decoder.bias', ok and 'decoder.bias' in text)
    gen = ('generator_predictions.dense', 'generator_predictions.LayerNorm', 'generator_lm_head.bias',
           'generator_lm_head.weight')
    ok, _, _, text, _ = mlm_case(tmp, 'electra', 'electra-gen', gen, 'electra.', True,
                                 {'architectures': ['ElectraForMaskedLM']}, rng, 16)
    check('ELECTRA generator head (hidden -> embedding size, gelu, LN, tied): logits', ok)


def case_family(tmp, refcase):
    ok, text, _ = matches(tmp, make_folder(tmp, refcase, refcase), refcase, refcase)
    check('%s: the outputs of tests/ref/%s (PyTorch)' % (refcase, refcase), ok)
    return text


def case_albert(tmp):
    text = case_family(tmp, 'albert')
    check('one set of layer tensors (no {i} in the layer names)', 'albert_layers.0.attention.query.weight' in text
          and 'albert_layers.{i}' not in text)


def case_distilbert(tmp):
    text = case_family(tmp, 'distilbert')
    check('no token_types input', 'token_types' not in text)
    w = renamed(st.read(os.path.join(ref, 'distilbert', 'weights.safetensors')),
                lambda n: n[len('distilbert.'):] if n.startswith('distilbert.') else n)
    ok, _, _ = matches(tmp, make_folder(tmp, 'distilbert-noprefix', 'distilbert', tensors=w), 'distilbert', 'dnp')
    check('distilbert without the distilbert. prefix: logits and hidden', ok)


def case_electra(tmp):
    text = case_family(tmp, 'electra')
    check('replaced declared before hidden, no logits', 0 < text.find('name="replaced"') < text.find('name="hidden"')
          and 'name="logits"' not in text)


def case_errors(tmp):
    n = [0]

    def refused(what, folder, *needles, args=()):
        out = os.path.join(tmp, 'err%d.xml' % n[0])
        n[0] += 1
        p = run(kiln, 'import', folder, '-o', out, *args, ok=False)
        msg = p.stdout + p.stderr
        good = 1 <= p.returncode <= 125 and 'internal error' not in msg and not os.path.exists(out)
        missing = [s for s in needles if s not in msg]
        check('%s: refused (%s)' % (what, 'status %d' % p.returncode if good else 'BAD EXIT OR XML WRITTEN'), good)
        check('%s: message has %s' % (what, ' / '.join(repr(s) for s in needles)), not missing)

    def cfg(refcase, **kv):
        c = dict(CONFIGS[refcase])
        for k, v in kv.items():
            if v is None:
                c.pop(k, None)
            else:
                c[k] = v
        return c

    w = st.read(os.path.join(ref, 'bert', 'weights.safetensors'))
    folder = make_folder(tmp, 'bin-only', 'bert')
    os.rename(os.path.join(folder, 'model.safetensors'), os.path.join(folder, 'pytorch_model.bin'))
    refused('pytorch_model.bin only', folder, 'bin-only: error: has pytorch_model.bin but no model.safetensors',
            'convert')
    refused('position_embedding_type', make_folder(tmp, 'relpos', 'bert', config=cfg(
        'bert', position_embedding_type='relative_key')),
        "config.json: error: position_embedding_type 'relative_key' is not supported")
    refused('hidden_act', make_folder(tmp, 'act', 'bert', config=cfg('bert', hidden_act='quick_gelu')),
            "config.json: error: hidden_act 'quick_gelu' is not supported")
    refused('distilbert activation', make_folder(tmp, 'dact', 'distilbert', config=cfg('distilbert', activation='tanh')),
            "config.json: error: activation 'tanh' is not supported")
    refused('missing tensor', make_folder(tmp, 'missing', 'bert', tensors={
        k: v for k, v in w.items() if k != 'encoder.layer.1.output.dense.weight'}),
        "model.safetensors: error: no tensor 'encoder.layer.1.output.dense.weight' (",
        'num_hidden_layers 2')
    refused('mis-shaped tensor', make_folder(tmp, 'shape', 'bert', config=cfg('bert', intermediate_size=48)),
            "model.safetensors: error: tensor 'encoder.layer.0.intermediate.dense.weight' is [64, 32], but",
            'config.json makes it [48, 32]')
    refused('not an encoder at all', make_folder(tmp, 'noemb', 'bert', tensors={
        'x.weight': ('F32', [2], f32([0, 0]))}),
        "no tensor 'embeddings.word_embeddings.weight' or 'bert.embeddings.word_embeddings.weight'")
    partial = dict(w)
    partial['cls.predictions.transform.dense.weight'] = ('F32', [32, 32], f32([0.0] * 1024))
    refused('partial MLM head', make_folder(tmp, 'partial', 'bert', tensors=partial),
            "no tensor 'cls.predictions.transform.dense.bias'")
    refused('heads do not divide', make_folder(tmp, 'heads', 'bert', config=cfg('bert', num_attention_heads=5)),
            'config.json: error: hidden_size 32 is not a multiple of num_attention_heads 5')
    refused('distilbert heads', make_folder(tmp, 'dheads', 'distilbert', config=cfg('distilbert', n_heads=3)),
            'config.json: error: dim 32 is not a multiple of n_heads 3')
    refused('num_hidden_groups', make_folder(tmp, 'groups', 'albert', config=cfg('albert', num_hidden_groups=2)),
            'config.json: error: num_hidden_groups = 2 is not supported')
    refused('inner_group_num', make_folder(tmp, 'inner', 'albert', config=cfg('albert', inner_group_num=2)),
            'config.json: error: inner_group_num = 2 is not supported')
    folder = make_folder(tmp, 'novocab', 'bert')
    os.remove(os.path.join(folder, 'vocab.txt'))
    refused('missing vocab.txt', folder, 'novocab: error: no vocab.txt')
    refused('vocab.txt size', make_folder(tmp, 'vocab49', 'bert', vocab=49),
            'vocab.txt: error: has 49 tokens (one a line), but', "config.json's vocab_size is 50")
    refused('missing required key', make_folder(tmp, 'nokey', 'bert', config=cfg('bert', intermediate_size=None)),
            "config.json: error: 'intermediate_size' is missing")
    refused('is_decoder', make_folder(tmp, 'decoder', 'bert', config=cfg('bert', is_decoder=True)),
            'config.json: error: is_decoder = true is not supported')
    refused('unknown model_type', make_folder(tmp, 'roberta', 'bert', config=cfg('bert', model_type='roberta')),
            "model_type 'roberta' is not supported", 'bert, albert, distilbert, electra')
    folder = make_folder(tmp, 'tokcfg', 'bert')
    with open(os.path.join(folder, 'tokenizer_config.json'), 'w') as f:
        json.dump({'do_lower_case': 'yes'}, f)
    refused('do_lower_case not a boolean', folder,
            "tokenizer_config.json: error: 'do_lower_case' must be true or false")
    refused('--tokenizer not a .txt', make_folder(tmp, 'tokopt', 'bert'), 'a BERT model\'s tokenizer is a WordPiece',
            args=('--tokenizer', os.path.join(tmp, 'tokopt', 'config.json')))


CASES = {'bert': case_bert, 'bert-mlm': case_bert_mlm, 'albert': case_albert, 'distilbert': case_distilbert,
         'electra': case_electra, 'errors': case_errors}
with tempfile.TemporaryDirectory() as tmp:
    CASES[case](tmp)
print('%d failed' % failures if failures else 'PASS')
sys.exit(1 if failures else 0)
