"""Minimal safetensors reader/writer, Python 3 standard library only.

Shared by make_refs.py (which runs under Debian's /usr/bin/python3 with torch) and compare.py
(which runs in CI under a plain python3 without numpy).

File format (https://github.com/huggingface/safetensors):
  - 8 bytes: N, the header length, unsigned 64-bit little-endian;
  - N bytes: UTF-8 JSON object {"name": {"dtype": "F32", "shape": [..], "data_offsets": [b, e]}, ...}
    (optionally a "__metadata__" entry mapping strings to strings); offsets are relative to the
    start of the data area, which begins right after the header; the writer pads the header with
    spaces so that 8 + N is a multiple of 8;
  - the data area: raw little-endian tensor data, row-major (C order).

The writer lays tensors out in the order given, without gaps, and writes the JSON keys in that same
order with a fixed separator style, so that its output is a pure function of its input.
"""

import array
import json
import struct
import sys

# dtype name -> (bytes per element, array typecode or None when not convertible to Python numbers)
DTYPES = {
    "F64": (8, "d"),
    "F32": (4, "f"),
    "F16": (2, None),
    "BF16": (2, None),
    "I64": (8, "q"),
    "I32": (4, "i"),
    "I16": (2, "h"),
    "I8": (1, "b"),
    "U8": (1, "B"),
    "BOOL": (1, "B"),
}


class SafetensorsError(Exception):
    """The file cannot be read as safetensors (message says why)."""


def _numel(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def write(path, tensors):
    """Write tensors to path.

    tensors: list of (name, dtype, shape, data) with dtype a key of DTYPES, shape a list of ints and
    data the raw little-endian bytes (len(data) == numel(shape) * itemsize).
    """
    header = {}
    offset = 0
    blobs = []
    for name, dtype, shape, data in tensors:
        if name in header:
            raise ValueError("duplicate tensor name %r" % name)
        itemsize = DTYPES[dtype][0]
        if len(data) != _numel(shape) * itemsize:
            raise ValueError("tensor %r: %d bytes for shape %r of %s" % (name, len(data), shape, dtype))
        header[name] = {"dtype": dtype, "shape": [int(d) for d in shape],
                        "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((-len(text)) % 8)  # 8-byte header length + padded header = multiple of 8
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def read(path):
    """Read path; return an ordered dict name -> (dtype, shape, raw bytes).

    Raises SafetensorsError with a sentence naming the problem for anything malformed; OSError
    propagates for files that cannot be opened.
    """
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        raise SafetensorsError("%s: file too short (%d bytes) to hold a safetensors header" % (path, len(blob)))
    (n,) = struct.unpack("<Q", blob[:8])
    if n > len(blob) - 8:
        raise SafetensorsError("%s: header length %d exceeds the file size %d (not a safetensors file?)"
                               % (path, n, len(blob)))
    try:
        header = json.loads(blob[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise SafetensorsError("%s: header is not valid UTF-8 JSON (%s)" % (path, e))
    if not isinstance(header, dict):
        raise SafetensorsError("%s: header is not a JSON object" % path)
    data = blob[8 + n:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype = info["dtype"]
            shape = [int(d) for d in info["shape"]]
            begin, end = (int(x) for x in info["data_offsets"])
        except (KeyError, TypeError, ValueError):
            raise SafetensorsError("%s: tensor %r has a malformed header entry" % (path, name))
        if dtype not in DTYPES:
            raise SafetensorsError("%s: tensor %r has unknown dtype %r" % (path, name, dtype))
        if any(d < 0 for d in shape):
            raise SafetensorsError("%s: tensor %r has a negative dimension" % (path, name))
        if not (0 <= begin <= end <= len(data)):
            raise SafetensorsError("%s: tensor %r data_offsets [%d, %d] outside the data area of %d bytes"
                                   % (path, name, begin, end, len(data)))
        if end - begin != _numel(shape) * DTYPES[dtype][0]:
            raise SafetensorsError("%s: tensor %r holds %d bytes but shape %r of %s needs %d"
                                   % (path, name, end - begin, shape, dtype, _numel(shape) * DTYPES[dtype][0]))
        out[name] = (dtype, shape, data[begin:end])
    return out


def to_list(dtype, raw):
    """Decode raw little-endian bytes of a numeric dtype into a flat list of Python numbers."""
    code = DTYPES[dtype][1]
    if code is None:
        raise SafetensorsError("dtype %s cannot be decoded without numpy" % dtype)
    a = array.array(code)
    if a.itemsize != DTYPES[dtype][0]:
        raise SafetensorsError("this Python's array type %r is not %d bytes" % (code, DTYPES[dtype][0]))
    a.frombytes(raw)
    if sys.byteorder == "big":
        a.byteswap()
    return a.tolist()


def from_list(dtype, values):
    """Encode a flat list of Python numbers as raw little-endian bytes of dtype."""
    a = array.array(DTYPES[dtype][1], values)
    if sys.byteorder == "big":
        a.byteswap()
    return a.tobytes()
