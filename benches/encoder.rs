//! Native benchmarks of local reward scoring: the sentence encoder (all-MiniLM-L6-v2, installed by
//! scripts/setup.sh), milliseconds per text at 128 tokens, batch 1 and batch 32, on the CPU path; and fitting a
//! linear reward head from 10k votes on 20k 384-dim embeddings (browser scale). `cargo bench --bench encoder`. The
//! wasm build against onnxruntime-web is benches/encoder.mjs.

use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

use arbiter::nn::Encoder;
use arbiter::reward::{fit_pairwise, Embeddings, FitOptions, Vote};
use arbiter::rng::Stream;

fn minilm() -> Encoder {
    let root = std::env::var_os("ARBITER_MODELS").map_or_else(
        || PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/arbiter/models"),
        PathBuf::from,
    );
    let dir = root.join("all-MiniLM-L6-v2");
    let bytes = |f: &str| std::fs::read(dir.join(f)).expect("all-MiniLM-L6-v2 (run scripts/setup.sh)");
    Encoder::from_bytes(
        &bytes("config.json"),
        &bytes("model.safetensors"),
        &bytes("tokenizer.json"),
        Some(&bytes("sentence_bert_config.json")),
    )
    .expect("all-MiniLM-L6-v2 loads")
}

/// Texts of exactly 126 single-token words, 128 tokens with [CLS] and [SEP].
fn texts(encoder: &Encoder, n: usize) -> Vec<String> {
    const WORDS: [&str; 16] = [
        "the", "city", "school", "world", "first", "new", "music", "team", "water", "house", "light", "game", "river",
        "night", "story", "king",
    ];
    let texts: Vec<String> = (0..n)
        .map(|i| (0..126).map(|j| WORDS[(i * 7 + j * j + j) % WORDS.len()]).collect::<Vec<_>>().join(" "))
        .collect();
    for t in &texts {
        assert_eq!(encoder.tokens(t).expect("tokenizes").0.len(), 128);
    }
    texts
}

fn benches(c: &mut Criterion) {
    let encoder = minilm();
    let mut group = c.benchmark_group("minilm 128 tokens");
    group.sample_size(10);
    for batch in [1usize, 32] {
        let texts = texts(&encoder, batch);
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_function(format!("cpu batch {batch}"), |b| b.iter(|| encoder.embed(&refs).expect("embeds")));
    }
    group.finish();
    fit(c);
}

/// 10k training and 1k validation votes between random unit rows, decided by a random linear utility.
fn fit(c: &mut Criterion) {
    let (d, n) = (384, 20_000);
    let mut s = Stream::new(1, 0);
    let mut data: Vec<f32> = Vec::with_capacity(n * d);
    for _ in 0..n {
        let row: Vec<f64> = (0..d).map(|_| s.normal()).collect();
        let norm = row.iter().map(|x| x * x).sum::<f64>().sqrt();
        data.extend(row.iter().map(|x| (x / norm) as f32));
    }
    let w: Vec<f64> = (0..d).map(|_| s.normal()).collect();
    let utility = |i: usize| -> f64 { data[i * d..(i + 1) * d].iter().zip(&w).map(|(x, y)| f64::from(*x) * y).sum() };
    let mut votes = |k: usize| -> Vec<Vote> {
        (0..k)
            .map(|_| {
                let (a, b) = ((s.uniform() * n as f64) as usize % n, (s.uniform() * n as f64) as usize % n);
                let p = 1.0 / (1.0 + (utility(b) - utility(a)).exp());
                Vote::new(a, b, if s.uniform() < p { 1.0 } else { 0.0 })
            })
            .collect()
    };
    let (train, validation) = (votes(10_000), votes(1000));
    let e = Embeddings::new(&data, d).expect("finite rows");
    let mut group = c.benchmark_group("reward head");
    group.sample_size(10);
    group.bench_function("fit linear, 10k votes, 384 dims", |b| {
        b.iter(|| fit_pairwise(&e, &train, &validation, &FitOptions::default()).expect("fits"));
    });
    group.finish();
}

criterion_group!(encoder_benches, benches);
criterion_main!(encoder_benches);
