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

/// The same votes converted to LMArena JSONL text.
pub fn llmfao_crowd_jsonl() -> String {
    llmfao_crowd().to_jsonl()
}

pub fn golden() -> serde_json::Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/llmfao.json");
    serde_json::from_str(&read(&path)).expect("golden JSON")
}
