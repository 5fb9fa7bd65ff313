//! Native benchmarks on LLMFAO crowd votes (8,931 battles, 59 models): parse, Bradley-Terry fit, sandwich, a
//! 1000-round bootstrap and online Elo. `cargo bench --bench rank`. The Node (wasm) side and the peers are in
//! benches/node.mjs.

use criterion::{criterion_group, criterion_main, Criterion};

use arbiter::{rank, Battles, Ci, Method, ParseOptions, RankOptions};

fn llmfao() -> (String, ParseOptions) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data/llmfao/crowd-comparisons.csv");
    let text = std::fs::read_to_string(path).expect("../shared/data/llmfao");
    let mut options = ParseOptions::default();
    options.columns.model_a = "left".into();
    options.columns.model_b = "right".into();
    (text, options)
}

fn benches(c: &mut Criterion) {
    let (text, parse) = llmfao();
    let battles = Battles::parse(&text, &parse).unwrap();
    c.bench_function("parse LLMFAO csv", |b| b.iter(|| Battles::parse(&text, &parse).unwrap()));
    c.bench_function("bt fit", |b| b.iter(|| rank(&battles, &RankOptions::default()).unwrap()));
    let sandwich = RankOptions { ci: Ci::Sandwich, ..RankOptions::default() };
    c.bench_function("bt + sandwich", |b| b.iter(|| rank(&battles, &sandwich).unwrap()));
    let elo = RankOptions { method: Method::Elo, ..RankOptions::default() };
    c.bench_function("online elo", |b| b.iter(|| rank(&battles, &elo).unwrap()));
    let boot = RankOptions { ci: Ci::Bootstrap, rounds: 1000, ..RankOptions::default() };
    let mut group = c.benchmark_group("bootstrap");
    group.sample_size(10);
    group.bench_function("bt bootstrap 1000 rounds", |b| b.iter(|| rank(&battles, &boot).unwrap()));
    group.finish();
}

criterion_group!(rank_benches, benches);
criterion_main!(rank_benches);
