//! The sentence encoder against sentence-transformers (PyTorch CPU) on real texts, and its errors on bad model files.

mod common;

use std::path::PathBuf;

use arbiter::nn::Encoder;

fn golden() -> serde_json::Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/minilm-embeddings.json");
    serde_json::from_str(&common::read(&path)).expect("golden JSON")
}

fn cosine(a: &[f32], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| f64::from(*x) * y).sum();
    let na: f64 = a.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|y| y * y).sum::<f64>().sqrt();
    dot / (na * nb)
}

/// 62 texts (LLMFAO prompts and responses, three truncated at 256 tokens, empty and non-ASCII texts):
/// cosine ≥ 0.9999 with sentence-transformers' embeddings (scripts/golden/make_embeddings.py), unit norms, and the
/// same token counts.
#[test]
fn embeddings_match_sentence_transformers() {
    let g = golden();
    let encoder = common::minilm();
    let texts: Vec<&str> = g["texts"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
    assert!(texts.len() >= 50);
    let got = encoder.embed(&texts).unwrap();
    let mut worst: f64 = 1.0;
    for (i, (e, want)) in got.iter().zip(g["embeddings"].as_array().unwrap()).enumerate() {
        let want: Vec<f64> = want.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
        assert_eq!(e.len(), 384);
        let c = cosine(e, &want);
        worst = worst.min(c);
        assert!(c >= 0.9999, "text {i}: cosine {c}");
        let norm: f32 = e.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "text {i}: norm {norm}");
        let (ids, _) = encoder.tokens(texts[i]).unwrap();
        assert_eq!(ids.len() as u64, g["tokens"][i].as_u64().unwrap(), "text {i}: token count");
    }
    eprintln!("worst cosine vs sentence-transformers over {} texts: {worst:.9}", texts.len());
}

#[test]
fn bad_model_files_name_the_problem() {
    let dir = common::model_dir("all-MiniLM-L6-v2");
    let read = |f: &str| std::fs::read(dir.join(f)).unwrap();
    let (config, weights, tokenizer) = (read("config.json"), read("model.safetensors"), read("tokenizer.json"));
    let err = |c: &[u8], w: &[u8], t: &[u8]| Encoder::from_bytes(c, w, t, None).unwrap_err();
    let e = err(br#"{"model_type": "gpt2", "hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 8, "max_position_embeddings": 8}"#, &weights, &tokenizer);
    assert_eq!(e.code(), "MODEL");
    assert!(e.to_string().contains("model_type `gpt2`"), "{e}");
    let e = err(b"{not json", &weights, &tokenizer);
    assert!(e.to_string().contains("config.json"), "{e}");
    let e = err(&config, b"garbage", &tokenizer);
    assert!(e.to_string().contains("model.safetensors"), "{e}");
    let e = err(&config, &weights, b"{}");
    assert!(e.to_string().contains("tokenizer.json"), "{e}");
    // A config asking for a bigger model than the weights: the tensor and both shapes are named.
    let bigger = String::from_utf8(config.clone()).unwrap().replace("\"hidden_size\": 384", "\"hidden_size\": 768");
    let e = err(bigger.as_bytes(), &weights, &tokenizer);
    assert!(e.to_string().contains("shape"), "{e}");
    let e = err(String::from_utf8(config).unwrap().replace("\"gelu\"", "\"relu\"").as_bytes(), &weights, &tokenizer);
    assert!(e.to_string().contains("hidden_act `relu`"), "{e}");
}
