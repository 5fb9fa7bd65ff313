//! The GGUF reader (src/nn/gguf.rs) against gguf-python (scripts/golden/make_gguf.py): SmolLM2-135M-Instruct Q4_1 as
//! installed by scripts/setup.sh, and a small synthetic file with every value type and every supported tensor type.
//! Then corrupt files: each must be a `MODEL` error that names the problem, never a panic.

mod common;

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Instant;

use arbiter::nn::gguf::{f16_to_f32, GgmlType, Gguf, Tensor, Value};
use proptest::prelude::*;
use serde_json::{json, Value as Json};

const FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";

fn golden() -> &'static Json {
    static GOLDEN: OnceLock<Json> = OnceLock::new();
    GOLDEN.get_or_init(|| {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/smollm2-gguf.json");
        serde_json::from_str(&common::read(&path)).expect("golden JSON")
    })
}

fn model_bytes() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| {
        let path = common::model_dir("smollm2-135m").join(FILE);
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e} (run scripts/setup.sh)", path.display()))
    })
}

fn model() -> &'static Gguf {
    static MODEL: OnceLock<Gguf> = OnceLock::new();
    MODEL.get_or_init(|| Gguf::parse(model_bytes().to_vec()).expect("SmolLM2 GGUF parses"))
}

fn synthetic_bytes() -> Vec<u8> {
    let hex = golden()["synthetic"]["hex"].as_str().unwrap();
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect()
}

fn synthetic() -> Gguf {
    Gguf::parse(synthetic_bytes()).expect("synthetic GGUF parses")
}

/// The message of a `MODEL` error; panics on success or another code.
fn model_error<T: std::fmt::Debug>(result: arbiter::Result<T>) -> String {
    let e = result.expect_err("expected a MODEL error");
    assert_eq!(e.code(), "MODEL", "{e}");
    e.to_string()
}

fn fnv1a64(values: &[f32]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in values.iter().flat_map(|v| v.to_le_bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    }
    format!("{h:016x}")
}

/// x_j = f32(sin(j)), as make_gguf.py.
fn sin_x(n: usize) -> Vec<f32> {
    (0..n).map(|j| (j as f64).sin() as f32).collect()
}

fn as_json(g: &Gguf, value: &Value) -> Json {
    match value {
        Value::U8(v) => json!(v),
        Value::I8(v) => json!(v),
        Value::U16(v) => json!(v),
        Value::I16(v) => json!(v),
        Value::U32(v) => json!(v),
        Value::I32(v) => json!(v),
        Value::U64(v) => json!(v),
        Value::I64(v) => json!(v),
        Value::F32(v) => json!(f64::from(*v)),
        Value::F64(v) => json!(v),
        Value::Bool(v) => json!(v),
        Value::String(v) => json!(v),
        Value::Array(array) => Json::Array(g.items(array).unwrap().iter().map(|v| as_json(g, v)).collect()),
    }
}

fn close(got: f64, want: f64, rel: f64, what: &str) {
    assert!((got - want).abs() <= rel * want.abs().max(1e-30), "{what}: {got} vs {want}");
}

/// Checks the golden rows of one tensor: values (the first 16, or all), the whole row bit for bit (FNV-1a of its
/// bytes), sums, and `dot_row` with sin(j) within 1e-5 of the row's scale Σ|w_j x_j| (and of |dot|, when not tiny).
fn check_rows(t: &Tensor<'_>, rows: &Json) {
    let x = sin_x(t.cols());
    let mut row = vec![0f32; t.cols()];
    for (r, want) in rows.as_object().unwrap() {
        let r: usize = r.parse().unwrap();
        let what = format!("{} row {r}", t.name);
        t.dequantize_row(r, &mut row);
        for (i, v) in want["values"].as_array().unwrap().iter().enumerate() {
            let v = v.as_f64().unwrap() as f32;
            assert_eq!(row[i].to_bits(), v.to_bits(), "{what} value {i}: {} vs {v}", row[i]);
        }
        assert_eq!(fnv1a64(&row), want["fnv1a64"].as_str().unwrap(), "{what}: FNV-1a of the dequantised row");
        let sum: f64 = row.iter().map(|&v| f64::from(v)).sum();
        let sumsq: f64 = row.iter().map(|&v| f64::from(v) * f64::from(v)).sum();
        close(sum, want["sum"].as_f64().unwrap(), 1e-9, &format!("{what} sum"));
        close(sumsq, want["sumsq"].as_f64().unwrap(), 1e-9, &format!("{what} sum of squares"));
        let dot = f64::from(t.dot_row(r, &x));
        let (want_dot, scale) = (want["dot"].as_f64().unwrap(), want["dot_abs"].as_f64().unwrap());
        assert!((dot - want_dot).abs() <= 1e-5 * scale, "{what}: dot {dot} vs {want_dot} (scale {scale})");
        if want_dot.abs() > 0.05 * scale {
            close(dot, want_dot, 1e-5, &format!("{what} dot"));
        }
    }
}

#[test]
fn header_and_metadata_match_gguf_python() {
    let g = model();
    let want = &golden()["model"];
    assert_eq!(model_bytes().len() as u64, want["size"].as_u64().unwrap());
    assert_eq!(u64::from(g.version()), want["version"].as_u64().unwrap());
    assert_eq!(g.alignment() as u64, want["alignment"].as_u64().unwrap());
    assert_eq!(g.data_offset() as u64, want["data_offset"].as_u64().unwrap());
    assert_eq!(g.tensors().len() as u64, want["tensor_count"].as_u64().unwrap());
    let metadata: Vec<_> = g.metadata().collect();
    let expected = want["metadata"].as_array().unwrap();
    assert_eq!(metadata.len() as u64, want["kv_count"].as_u64().unwrap());
    assert_eq!(metadata.len(), expected.len());
    for ((key, value), e) in metadata.iter().zip(expected) {
        assert_eq!(*key, e["key"].as_str().unwrap(), "metadata order");
        assert_eq!(value.type_name(), e["type"].as_str().unwrap(), "type of `{key}`");
        match value {
            Value::Array(array) => {
                assert_eq!(array.len() as u64, e["len"].as_u64().unwrap(), "length of `{key}`");
                let items = g.items(array).unwrap();
                assert_eq!(items.len(), array.len());
                let head: Vec<Json> = items.iter().take(5).map(|v| as_json(g, v)).collect();
                assert_eq!(Json::Array(head), e["head"], "head of `{key}`");
                assert_eq!(as_json(g, items.last().unwrap()), e["last"], "last of `{key}`");
            }
            _ => assert_eq!(as_json(g, value), e["value"], "value of `{key}`"),
        }
    }

    // The typed accessors.
    assert_eq!(g.string("general.architecture").unwrap(), "llama");
    assert_eq!(g.u32("llama.block_count").unwrap(), 30);
    assert_eq!(g.u32("llama.embedding_length").unwrap(), 576);
    assert_eq!(g.u32("llama.attention.head_count").unwrap(), 9);
    assert_eq!(g.u32("llama.attention.head_count_kv").unwrap(), 3);
    assert_eq!(g.f32("llama.rope.freq_base").unwrap(), 100_000.0);
    assert_eq!(g.f32("llama.attention.layer_norm_rms_epsilon").unwrap(), 1e-5);
    assert_eq!(g.u32("tokenizer.ggml.bos_token_id").unwrap(), 1);
    assert_eq!(g.u32("tokenizer.ggml.eos_token_id").unwrap(), 2);
    assert!(!g.bool("tokenizer.ggml.add_bos_token").unwrap());
    let template = g.string("tokenizer.chat_template").unwrap();
    assert_eq!(template.len(), 368);
    assert!(template.starts_with("{% for message in messages %}") && template.contains("<|im_start|>assistant"));
    let tokens = g.strings("tokenizer.ggml.tokens").unwrap();
    assert_eq!((tokens.len(), tokens[1], tokens[216], tokens[49_151]), (49_152, "<|im_start|>", "Ġ", "ectable"));
    let merges = g.strings("tokenizer.ggml.merges").unwrap();
    assert_eq!((merges.len(), merges[0], merges[48_899]), (48_900, "Ġ t", "ect able"));
    let types = g.i32s("tokenizer.ggml.token_type").unwrap();
    assert_eq!(types.len(), 49_152);
    assert!(types[..17].iter().all(|&t| t == 3) && types[17..].iter().all(|&t| t == 1));
}

#[test]
fn every_tensor_matches_and_lies_in_the_file() {
    let g = model();
    let want = golden()["model"]["tensors"].as_array().unwrap();
    assert_eq!(g.tensors().len(), 272);
    let len = model_bytes().len();
    let mut counts = std::collections::BTreeMap::new();
    for (info, e) in g.tensors().iter().zip(want) {
        assert_eq!(info.name, e["name"].as_str().unwrap());
        let shape: Vec<usize> = e["shape"].as_array().unwrap().iter().map(|d| d.as_u64().unwrap() as usize).collect();
        assert_eq!(info.shape, shape, "{}", info.name);
        assert_eq!(info.kind.name(), e["type"].as_str().unwrap(), "{}", info.name);
        assert_eq!(info.offset as u64, e["offset"].as_u64().unwrap(), "{}", info.name);
        assert_eq!(info.size as u64, e["size"].as_u64().unwrap(), "{}", info.name);
        assert!(info.offset >= g.data_offset() && info.offset + info.size <= len, "{}", info.name);
        assert_eq!(info.offset % g.alignment(), 0, "{}", info.name);
        let t = g.tensor(&info.name).unwrap();
        assert_eq!((t.name, t.shape, t.kind), (info.name.as_str(), info.shape.as_slice(), info.kind));
        assert_eq!(t.bytes.len(), t.rows() * t.row_bytes(), "{}", info.name);
        assert!(t.bytes == &model_bytes()[info.offset..info.offset + info.size], "{}", info.name);
        *counts.entry(info.kind.name()).or_insert(0) += 1;
    }
    assert_eq!(counts, [("F32", 61), ("Q4_1", 210), ("Q8_0", 1)].into());
    let last = g.tensors().last().unwrap();
    assert_eq!(last.offset + last.size, len, "the last tensor ends at the end of the file");
    let embd = g.tensor("token_embd.weight").unwrap();
    assert_eq!((embd.cols(), embd.rows(), embd.row_bytes()), (576, 49_152, 612));
    let down = g.tensor("blk.0.ffn_down.weight").unwrap();
    assert_eq!((down.cols(), down.rows(), down.row_bytes()), (1536, 576, 960));
    let norm = g.tensor("output_norm.weight").unwrap();
    assert_eq!((norm.cols(), norm.rows(), norm.row_bytes()), (576, 1, 2304));
    let e = model_error(g.tensor("output.weight"));
    assert!(e.contains("no tensor `output.weight`"), "{e}");
}

#[test]
fn dequantised_rows_are_bit_exact_and_dots_match() {
    let g = model();
    let want = &golden()["model"];
    for n in [576, 1536] {
        assert_eq!(fnv1a64(&sin_x(n)), want["x_fnv1a64"][n.to_string()].as_str().unwrap(), "sin(j) as numpy");
    }
    let rows = want["rows"].as_object().unwrap();
    assert_eq!(rows.len(), 7);
    for (name, rows) in rows {
        check_rows(&g.tensor(name).unwrap(), rows);
    }

    // Every row, against an f64 dot of the dequantised row; and matvec agrees with dot_row bit for bit.
    for name in ["blk.0.attn_k.weight", "blk.0.ffn_down.weight", "blk.0.attn_norm.weight"] {
        let t = g.tensor(name).unwrap();
        let x = sin_x(t.cols());
        let w = t.dequantize();
        assert_eq!(w.len(), t.rows() * t.cols());
        let mut out = vec![0f32; t.rows()];
        t.matvec(&x, &mut out);
        for (r, row) in w.chunks_exact(t.cols()).enumerate() {
            let exact: f64 = row.iter().zip(&x).map(|(&a, &b)| f64::from(a) * f64::from(b)).sum();
            let scale: f64 = row.iter().zip(&x).map(|(&a, &b)| (f64::from(a) * f64::from(b)).abs()).sum();
            let dot = t.dot_row(r, &x);
            assert!((f64::from(dot) - exact).abs() <= 1e-5 * scale, "{name} row {r}: {dot} vs {exact}");
            assert_eq!(out[r].to_bits(), dot.to_bits(), "{name} row {r}: matvec vs dot_row");
        }
    }
    let embd = g.tensor("token_embd.weight").unwrap();
    let x = sin_x(576);
    let mut out = vec![0f32; embd.rows()];
    embd.matvec(&x, &mut out);
    for r in [0, 1, 504, 49_151] {
        assert_eq!(out[r].to_bits(), embd.dot_row(r, &x).to_bits(), "token_embd row {r}");
    }
}

/// One pass of matvec over the 210 Q4_1 weights of the 30 blocks; prints the time (no assertion on it).
#[test]
fn q4_1_matvec_pass_over_all_layers() {
    let g = model();
    let weights: Vec<Tensor<'_>> =
        g.tensors().iter().filter(|t| t.kind == GgmlType::Q4_1).map(|t| g.tensor(&t.name).unwrap()).collect();
    assert_eq!(weights.len(), 210);
    let xs = [sin_x(576), sin_x(1536)];
    let mut outs: Vec<Vec<f32>> = weights.iter().map(|t| vec![0f32; t.rows()]).collect();
    let mut best = f64::INFINITY;
    let mut check = 0f64;
    for _ in 0..5 {
        let start = Instant::now();
        for (t, out) in weights.iter().zip(&mut outs) {
            t.matvec(&xs[usize::from(t.cols() == 1536)], out);
        }
        best = best.min(start.elapsed().as_secs_f64());
        check = outs.iter().flatten().map(|&v| f64::from(v)).sum();
    }
    let bytes: usize = weights.iter().map(|t| t.bytes.len()).sum();
    println!(
        "Q4_1 matvec over 30 layers ({:.1} MB): {:.2} ms per pass, {:.2} GB/s (checksum {check:.3})",
        bytes as f64 / 1e6,
        best * 1e3,
        bytes as f64 / best / 1e9
    );
    assert!(check.is_finite());
}

#[test]
fn synthetic_file_has_every_value_and_tensor_type() {
    let g = synthetic();
    let want = &golden()["synthetic"];
    assert_eq!(g.alignment() as u64, want["alignment"].as_u64().unwrap());
    assert_eq!(g.alignment(), 64);
    assert_eq!(g.data_offset() as u64, want["data_offset"].as_u64().unwrap());
    let metadata: Vec<_> = g.metadata().collect();
    let expected = want["metadata"].as_array().unwrap();
    assert_eq!(metadata.len(), expected.len());
    for ((key, value), e) in metadata.iter().zip(expected) {
        assert_eq!(*key, e["key"].as_str().unwrap());
        assert_eq!(value.type_name(), e["type"].as_str().unwrap(), "type of `{key}`");
        assert_eq!(as_json(&g, value), e["value"], "value of `{key}`");
    }
    let Some(Value::Array(nested)) = g.get("t.nested") else { panic!("t.nested is not an array") };
    let rows: Vec<Vec<Value>> = g
        .items(nested)
        .unwrap()
        .iter()
        .map(|row| match row {
            Value::Array(row) => g.items(row).unwrap(),
            other => panic!("t.nested holds {other:?}"),
        })
        .collect();
    assert_eq!(rows, [vec![Value::I32(1), Value::I32(2)], vec![Value::I32(3)]]);
    // u32 takes any integer type whose value fits.
    assert_eq!(g.u32("t.u8").unwrap(), 200);
    assert_eq!(g.u32("t.u16").unwrap(), 60_000);
    assert_eq!(g.u32("t.u32").unwrap(), 4_000_000_000);
    for key in ["t.i8", "t.i32", "t.u64", "t.i64"] {
        let e = model_error(g.u32(key));
        assert!(e.contains(&format!("`{key}`")) && e.contains("expected a u32"), "{e}");
    }
    assert_eq!(g.f32("t.f32").unwrap(), 0.1);
    assert_eq!(g.f32("t.f64").unwrap(), 0.1);
    assert_eq!(g.strings("t.strings").unwrap(), ["a", "", "ü b"]);
    assert_eq!(g.i32s("t.i32s").unwrap(), [1, -2, 3]);
    assert_eq!(g.i32s("t.u8s").unwrap(), [0, 7, 255]);
    assert!(g.bool("t.bool").unwrap());

    let tensors = want["tensors"].as_array().unwrap();
    assert_eq!(g.tensors().len(), tensors.len());
    let mut kinds = Vec::new();
    for e in tensors {
        let t = g.tensor(e["name"].as_str().unwrap()).unwrap();
        let info = g.tensor_info(t.name).unwrap();
        assert_eq!(t.kind.name(), e["type"].as_str().unwrap());
        assert_eq!(info.offset as u64, e["offset"].as_u64().unwrap());
        assert_eq!(t.bytes.len() as u64, e["size"].as_u64().unwrap());
        let shape: Vec<usize> = e["shape"].as_array().unwrap().iter().map(|d| d.as_u64().unwrap() as usize).collect();
        assert_eq!(t.shape, shape);
        assert_eq!(t.rows(), shape[1..].iter().product::<usize>());
        check_rows(&t, &e["rows"]);
        let all: Vec<f32> = e["rows"]
            .as_object()
            .unwrap()
            .values()
            .flat_map(|r| r["values"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32))
            .collect();
        assert_eq!(
            t.dequantize().iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            all.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
        let x = sin_x(t.cols());
        let mut out = vec![0f32; t.rows()];
        t.matvec(&x, &mut out);
        for (r, o) in out.iter().enumerate() {
            assert_eq!(o.to_bits(), t.dot_row(r, &x).to_bits(), "{} row {r}", t.name);
        }
        kinds.push(t.kind);
    }
    assert_eq!(kinds, GgmlType::ALL);
    assert_eq!(g.tensor("q8_0").unwrap().rows(), 6);
}

#[test]
fn f16_conversion_is_exact() {
    for h in 0..=u16::MAX {
        let got = f16_to_f32(h);
        let (sign, exp, man) = (h >> 15, (h >> 10) & 31, f64::from(h & 0x3ff));
        let magnitude = match exp {
            0 => man * 2f64.powi(-24),
            31 if man == 0.0 => f64::INFINITY,
            31 => {
                assert!(got.is_nan() && (got.to_bits() >> 13) & 0x3ff == u32::from(h & 0x3ff), "{h:#06x}");
                assert_eq!(got.is_sign_negative(), sign == 1);
                continue;
            }
            _ => (1.0 + man / 1024.0) * 2f64.powi(i32::from(exp) - 15),
        };
        let want = if sign == 1 { -magnitude } else { magnitude };
        assert_eq!(got.to_bits(), (want as f32).to_bits(), "{h:#06x}");
    }
}

#[test]
fn ggml_types_are_named() {
    assert_eq!(GgmlType::from_id(3).unwrap(), GgmlType::Q4_1);
    assert_eq!(GgmlType::name_of(13), Some("Q5_K"));
    assert_eq!(GgmlType::name_of(30), Some("BF16"));
    let e = model_error(GgmlType::from_id(13));
    assert!(e.contains("Q5_K (13)") && e.contains("F32, F16, Q4_0, Q4_1, Q8_0"), "{e}");
    for t in GgmlType::ALL {
        assert_eq!(GgmlType::from_id(t.id()).unwrap(), t);
        assert_eq!(GgmlType::name_of(t.id()), Some(t.name()));
    }
}

/// The header of the real file (everything before the data section).
fn header() -> Vec<u8> {
    model_bytes()[..golden()["model"]["data_offset"].as_u64().unwrap() as usize].to_vec()
}

/// The offset of the tensor info of `name` (its name's length field) in the real file.
fn tensor_info_at(bytes: &[u8], name: &str) -> usize {
    let mut needle = (name.len() as u64).to_le_bytes().to_vec();
    needle.extend_from_slice(name.as_bytes());
    bytes.windows(needle.len()).position(|w| w == needle).expect("tensor info found")
}

#[test]
fn truncated_files_are_errors() {
    let bytes = model_bytes();
    let data = model().data_offset();
    let mut cuts: Vec<usize> = (0..=40).collect();
    cuts.extend([100, 1000, 10_000, 500_000, 1_000_000, data - 1000, data - 1, data, data + 1000, bytes.len() - 1]);
    for cut in cuts {
        let e = model_error(Gguf::parse(bytes[..cut].to_vec()));
        assert!(e.contains("truncated"), "cut at {cut}: {e}");
    }
    let e = model_error(Gguf::parse(bytes[..bytes.len() - 1].to_vec()));
    assert!(e.contains("tensor `output_norm.weight`") && e.contains("past the end"), "{e}");
    let e = model_error(Gguf::parse(bytes[..500_000].to_vec()));
    assert!(e.contains("metadata key `tokenizer.ggml.tokens`"), "{e}");
}

#[test]
fn corrupt_headers_are_named_errors() {
    let mut bytes = header();
    bytes[..4].copy_from_slice(b"GGML");
    let e = model_error(Gguf::parse(bytes));
    assert!(e.contains("not a GGUF file") && e.contains("GGML"), "{e}");

    let mut bytes = header();
    bytes[4..8].copy_from_slice(&2u32.to_le_bytes());
    let e = model_error(Gguf::parse(bytes));
    assert!(e.contains("version 2 is not supported"), "{e}");
    let mut bytes = header();
    bytes[4..8].copy_from_slice(&3u32.to_be_bytes());
    let e = model_error(Gguf::parse(bytes));
    assert!(e.contains("big-endian"), "{e}");

    // The ggml type of blk.0.attn_q.weight: after its name, n_dims (2) and ne[2].
    let name = "blk.0.attn_q.weight";
    let at = tensor_info_at(&header(), name) + 8 + name.len() + 4 + 16;
    assert_eq!(header()[at..at + 4], 3u32.to_le_bytes(), "Q4_1 type field");
    for (id, named) in [(13, "Q5_K (13)"), (30, "BF16 (30)"), (99, "unknown ggml type 99")] {
        let mut bytes = header();
        bytes[at..at + 4].copy_from_slice(&(id as u32).to_le_bytes());
        let e = model_error(Gguf::parse(bytes));
        assert!(e.contains(&format!("tensor `{name}` has ")) && e.contains(named), "{e}");
        assert!(e.contains("supported: F32, F16, Q4_0, Q4_1, Q8_0"), "{e}");
    }
    // Its offset, no longer a multiple of the alignment; its n_dims, too many.
    let mut bytes = model_bytes().to_vec();
    bytes[at + 4] += 1;
    let e = model_error(Gguf::parse(bytes));
    assert!(e.contains(name) && e.contains("alignment"), "{e}");
    let mut bytes = header();
    bytes[at - 20] = 5;
    let e = model_error(Gguf::parse(bytes));
    assert!(e.contains(name) && e.contains("5 dimensions"), "{e}");

    // Absurd counts: tensors, metadata entries, a string length, an array length.
    let mut bytes = header();
    bytes[8..16].copy_from_slice(&(1u64 << 40).to_le_bytes());
    let e = model_error(Gguf::parse(bytes));
    assert!(e.contains("tensor count 1099511627776") && e.contains("impossible"), "{e}");
    let mut bytes = header();
    bytes[16..24].copy_from_slice(&u64::MAX.to_le_bytes());
    let e = model_error(Gguf::parse(bytes));
    assert!(e.contains("metadata count") && e.contains("impossible"), "{e}");
    let mut bytes = header();
    bytes[24 + 7] = 0x7f; // the length of the first key
    let e = model_error(Gguf::parse(bytes));
    assert!(e.contains("metadata entry #0") && e.contains("string length"), "{e}");
    let key = b"tokenizer.ggml.tokens";
    let at = header().windows(key.len()).position(|w| w == key).unwrap() + key.len();
    let mut bytes = header();
    bytes[at + 8 + 6] = 0x10; // the array length (after the value and element types), 2^52 + 49152
    let e = model_error(Gguf::parse(bytes));
    assert!(e.contains("`tokenizer.ggml.tokens`") && e.contains("array length"), "{e}");
    let mut bytes = header();
    bytes[at..at + 4].copy_from_slice(&42u32.to_le_bytes());
    let e = model_error(Gguf::parse(bytes));
    assert!(e.contains("`tokenizer.ggml.tokens`") && e.contains("unknown value type 42"), "{e}");
}

#[test]
fn synthetic_corruptions_are_named_errors() {
    // A key given twice: rename `t.i16` to `t.u16`.
    let mut bytes = synthetic_bytes();
    let at = bytes.windows(5).position(|w| w == b"t.i16").unwrap();
    bytes[at + 2] = b'u';
    let e = model_error(Gguf::parse(bytes));
    assert!(e.contains("`t.u16` is given twice"), "{e}");
    // A BOOL that is neither 0 nor 1.
    let mut bytes = synthetic_bytes();
    let at = bytes.windows(6).position(|w| w == b"t.bool").unwrap() + 6 + 4;
    bytes[at] = 2;
    let e = model_error(Gguf::parse(bytes));
    assert!(e.contains("`t.bool`") && e.contains("BOOL byte 2"), "{e}");
    // A non-power-of-two alignment.
    let mut bytes = synthetic_bytes();
    let at = bytes.windows(17).position(|w| w == b"general.alignment").unwrap() + 17 + 4;
    bytes[at] = 48;
    let e = model_error(Gguf::parse(bytes));
    assert!(e.contains("`general.alignment`") && e.contains("power of two"), "{e}");
    // A tensor given twice: rename `q4_1` to `q4_0`.
    let mut bytes = synthetic_bytes();
    let at = bytes.windows(4).position(|w| w == b"q4_1").unwrap();
    bytes[at + 3] = b'0';
    let e = model_error(Gguf::parse(bytes));
    assert!(e.contains("tensor `q4_0` is given twice"), "{e}");
    // Rows of zero elements, but 2^62 · 4 rows: q8_0's [32, 2, 3] → [0, 2^62, 4].
    let mut bytes = synthetic_bytes();
    let at = bytes.windows(4).position(|w| w == b"q8_0").unwrap() + 4 + 4;
    bytes[at..at + 24].copy_from_slice(&[0u64.to_le_bytes(), (1u64 << 62).to_le_bytes(), 4u64.to_le_bytes()].concat());
    let e = model_error(Gguf::parse(bytes));
    assert!(e.contains("tensor `q8_0` of shape [0, 4611686018427387904, 4] is impossibly large"), "{e}");
    // A row that is not whole blocks: q4_0's ne0 64 → 48.
    let mut bytes = synthetic_bytes();
    let at = bytes.windows(4).position(|w| w == b"q4_0").unwrap() + 4 + 4;
    bytes[at] = 48;
    let e = model_error(Gguf::parse(bytes));
    assert!(e.contains("tensor `q4_0`") && e.contains("not a multiple of the Q4_0 block size 32"), "{e}");
}

#[test]
fn missing_and_wrongly_typed_keys_are_named_errors() {
    let g = model();
    let e = model_error(g.u32("llama.expert_count"));
    assert!(e.contains("`llama.expert_count` is missing"), "{e}");
    let e = model_error(g.string("tokenizer.ggml.scores"));
    assert!(e.contains("`tokenizer.ggml.scores` is missing"), "{e}");
    let e = model_error(g.u32("general.architecture"));
    assert!(e.contains("`general.architecture` is STRING \"llama\", expected a u32"), "{e}");
    let e = model_error(g.string("llama.block_count"));
    assert!(e.contains("`llama.block_count` is UINT32 30, expected STRING"), "{e}");
    let e = model_error(g.f32("llama.block_count"));
    assert!(e.contains("`llama.block_count` is UINT32 30, expected FLOAT32"), "{e}");
    let e = model_error(g.strings("tokenizer.ggml.token_type"));
    assert!(e.contains("`tokenizer.ggml.token_type` is ARRAY[INT32] of 49152 elements, expected ARRAY[STRING]"), "{e}");
    let e = model_error(g.i32s("tokenizer.ggml.tokens"));
    assert!(e.contains("`tokenizer.ggml.tokens` is ARRAY[STRING] of 49152 elements, expected ARRAY[INT32]"), "{e}");
    let e = model_error(g.bool("tokenizer.chat_template"));
    assert!(e.contains("`tokenizer.chat_template` is STRING of 368 bytes, expected BOOL"), "{e}");
}

/// Exercises a parsed (possibly corrupt) file's accessors and a few tensors; must not panic.
fn exercise(g: &Gguf) {
    for (key, _) in g.metadata() {
        let _ = (g.u32(key), g.f32(key), g.string(key), g.strings(key), g.i32s(key), g.bool(key));
    }
    for info in g.tensors().iter().take(8) {
        let t = g.tensor(&info.name).unwrap();
        if t.rows() > 0 && t.cols() > 0 && t.cols() <= 1 << 16 {
            let mut row = vec![0f32; t.cols()];
            t.dequantize_row(t.rows() - 1, &mut row);
            let _ = t.dot_row(0, &row);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Random byte mutations of the first 4 KB (magic, counts, keys, value types, string lengths, the start of the
    /// vocabulary) never panic: the file parses or is a MODEL error.
    #[test]
    fn mutated_headers_never_panic(edits in prop::collection::vec((0usize..4096, any::<u8>()), 1..8)) {
        let mut bytes = model_bytes().to_vec();
        for (at, b) in edits {
            bytes[at] = b;
        }
        match Gguf::parse(bytes) {
            Ok(g) => exercise(&g),
            Err(e) => prop_assert_eq!(e.code(), "MODEL"),
        }
    }

    /// The same on the synthetic file, every byte of it in reach.
    #[test]
    fn mutated_synthetic_files_never_panic(
        edits in prop::collection::vec((0usize..2112, any::<u8>()), 1..6),
        cut in 0usize..2200,
    ) {
        let mut bytes = synthetic_bytes();
        let len = bytes.len();
        for (at, b) in edits {
            bytes[at % len] = b;
        }
        bytes.truncate(cut);
        match Gguf::parse(bytes) {
            Ok(g) => exercise(&g),
            Err(e) => prop_assert_eq!(e.code(), "MODEL"),
        }
    }
}
