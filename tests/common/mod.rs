//! Shared test helpers: the real data in ../shared and the committed golden files.
#![allow(dead_code)]

use std::path::PathBuf;

use arbiter::{Battles, ParseOptions};

/// ../shared/data, next to the repository (as on CI).
pub fn shared(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data").join(path)
}

pub fn read(path: &PathBuf) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// LLMFAO crowd votes as LMArena battles: left → model_a, right → model_b, in file order.
pub fn llmfao_crowd() -> Battles {
    let mut options = ParseOptions::default();
    options.columns.model_a = "left".into();
    options.columns.model_b = "right".into();
    Battles::parse(&read(&shared("llmfao/crowd-comparisons.csv")), &options).expect("LLMFAO parses")
}

/// Any LLMFAO comparison file (`crowd-comparisons.csv`, `gpt4-crowd-comparisons.csv`, ...): left → model_a,
/// right → model_b, `worker` → judge (crowd files only), `id` = the item (prompt + pair), in file order.
pub fn llmfao(file: &str) -> Battles {
    let mut options = ParseOptions::default();
    options.columns.model_a = "left".into();
    options.columns.model_b = "right".into();
    options.columns.judge = "worker".into();
    Battles::parse(&read(&shared(&format!("llmfao/{file}"))), &options).expect("LLMFAO parses")
}

/// The same votes converted to LMArena JSONL text.
pub fn llmfao_crowd_jsonl() -> String {
    llmfao_crowd().to_jsonl()
}

pub fn golden() -> serde_json::Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/llmfao.json");
    serde_json::from_str(&read(&path)).expect("golden JSON")
}

/// Response texts of LLMFAO (results.jsonl), by (prompt id, model id); a missing text is "".
pub fn llmfao_texts() -> std::collections::BTreeMap<(u64, u64), String> {
    read(&shared("llmfao/results.jsonl"))
        .lines()
        .map(|line| {
            let r: serde_json::Value = serde_json::from_str(line).expect("results.jsonl line");
            let key = (r["prompt"].as_u64().unwrap(), r["model"].as_u64().unwrap());
            (key, r["result"].as_str().unwrap_or("").to_owned())
        })
        .collect()
}

/// LLMFAO crowd votes as LMArena JSONL with the two compared responses (`response_a`, `response_b`), in file order.
pub fn llmfao_style_jsonl() -> String {
    let texts = llmfao_texts();
    let csv = read(&shared("llmfao/crowd-comparisons.csv"));
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let mut out = String::new();
    for record in reader.records() {
        let r = record.expect("CSV row");
        let id = |i: usize| r[i].parse::<u64>().unwrap();
        let winner = match &r[5] {
            "left" => "model_a",
            "right" => "model_b",
            _ => "tie",
        };
        let line = serde_json::json!({
            "model_a": &r[6], "model_b": &r[7], "winner": winner,
            "response_a": texts[&(id(1), id(2))], "response_b": texts[&(id(1), id(3))],
        });
        out.push_str(&line.to_string());
        out.push('\n');
    }
    out
}

/// The style-control goldens (scripts/golden/make_style.py).
pub fn style_golden() -> serde_json::Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/llmfao-style.json");
    serde_json::from_str(&read(&path)).expect("style golden JSON")
}

/// The folder of a model installed by scripts/setup.sh (ARBITER_MODELS, default ~/.cache/arbiter/models).
pub fn model_dir(name: &str) -> PathBuf {
    let root = std::env::var_os("ARBITER_MODELS").map_or_else(
        || PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/arbiter/models"),
        PathBuf::from,
    );
    root.join(name)
}

/// all-MiniLM-L6-v2 as installed by scripts/setup.sh.
pub fn minilm() -> arbiter::nn::Encoder {
    let dir = model_dir("all-MiniLM-L6-v2");
    let bytes = |f: &str| {
        std::fs::read(dir.join(f)).unwrap_or_else(|e| panic!("{}: {e} (run scripts/setup.sh)", dir.join(f).display()))
    };
    arbiter::nn::Encoder::from_bytes(
        &bytes("config.json"),
        &bytes("model.safetensors"),
        &bytes("tokenizer.json"),
        Some(&bytes("sentence_bert_config.json")),
    )
    .expect("all-MiniLM-L6-v2 loads")
}

/// The wgpu adapter, or None (with a skip line) where there is none.
#[cfg(feature = "gpu")]
pub fn gpu() -> Option<arbiter::gpu::Gpu> {
    match pollster::block_on(arbiter::gpu::Gpu::new()) {
        Ok(gpu) => {
            eprintln!("adapter: {}", gpu.adapter());
            Some(gpu)
        }
        Err(e) => {
            eprintln!("skipped: no wgpu adapter ({e})");
            None
        }
    }
}
