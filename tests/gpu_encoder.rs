//! The sentence encoder's GPU kernels (src/gpu/shaders/encoder.wgsl) against their CPU twins in `nn::ops`, at odd
//! sizes, and the whole GPU forward pass against `Encoder::forward` / `Encoder::embed` on real texts.
//!
//! Tolerances (f32 on both sides, different summation orders):
//! - matmul: |Δ| ≤ 1e-5·√k·(Σ_k |x·w| + |b|) per element (the magnitude of the dot product), GELU epilogue alike;
//! - layer norm: |Δ| ≤ 1e-5·(|g|·(|z| + max|v|/σ) + |b|), z the normalised value, v = x + residual of the row, σ its
//!   standard deviation (the rounding of v relative to the spread: the row's conditioning);
//! - attention: |Δ| ≤ 1e-5·max |v| of the sequence's values (the context is a convex combination of them);
//! - whole model: cosine ≥ 0.9999 per sentence embedding.
#![cfg(feature = "gpu")]

mod common;

use common::gpu;

use std::time::Instant;

use arbiter::gpu::encoder::{GpuEncoder, Kernels};
use arbiter::nn::ops::{self, LayerNorm, Linear, Seq};
use ndarray::{Array1, Array2};

/// Deterministic values in [-1, 1) (a 64-bit LCG).
struct Values(u64);

impl Values {
    fn next(&mut self) -> f32 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }

    fn matrix(&mut self, rows: usize, cols: usize, scale: f32, offset: f32) -> Array2<f32> {
        Array2::from_shape_simple_fn((rows, cols), || offset + scale * self.next())
    }

    fn vector(&mut self, len: usize, scale: f32, offset: f32) -> Array1<f32> {
        Array1::from_shape_simple_fn(len, || offset + scale * self.next())
    }
}

#[test]
fn matmul_matches_linear_apply_at_odd_sizes() {
    let Some(gpu) = gpu() else { return };
    let kernels = Kernels::new(&gpu);
    let mut values = Values(1);
    let (mut worst_abs, mut worst_rel) = (0f64, 0f64);
    // (rows, in, out): odd, single row, below / at / above the 64 × 64 tile and the 16-deep k slice, MiniLM's shapes.
    for (rows, inp, out) in
        [(37, 45, 29), (1, 45, 29), (1, 1, 1), (64, 16, 64), (65, 17, 130), (130, 384, 1152), (77, 1536, 384)]
    {
        let x = values.matrix(rows, inp, 2.0, 0.0);
        let layer = Linear { w: values.matrix(out, inp, 0.5, 0.0), b: values.vector(out, 1.0, 0.0) };
        for gelu in [false, true] {
            let mut want = layer.apply(&x.view());
            if gelu {
                want.mapv_inplace(ops::gelu);
            }
            let got = pollster::block_on(kernels.linear(&gpu, &x, &layer, gelu)).unwrap();
            assert_eq!(got.dim(), (rows, out));
            let bound = 1e-5 * (inp as f64).sqrt();
            for r in 0..rows {
                for c in 0..out {
                    let magnitude =
                        x.row(r).iter().zip(layer.w.row(c)).map(|(a, w)| f64::from((a * w).abs())).sum::<f64>()
                            + f64::from(layer.b[c].abs());
                    let diff = f64::from((got[[r, c]] - want[[r, c]]).abs());
                    worst_abs = worst_abs.max(diff);
                    worst_rel = worst_rel.max(diff / magnitude);
                    assert!(
                        diff <= bound * magnitude,
                        "{rows}×{inp}→{out} gelu={gelu} [{r},{c}]: gpu {} cpu {} |Δ| {diff:e} > 1e-5·√k·{magnitude}",
                        got[[r, c]],
                        want[[r, c]]
                    );
                }
            }
        }
    }
    eprintln!("matmul: max |Δ| {worst_abs:.3e}, max |Δ|/Σ|x·w| {worst_rel:.3e}");
}

#[test]
fn add_layer_norm_matches_layer_norm_apply() {
    let Some(gpu) = gpu() else { return };
    let kernels = Kernels::new(&gpu);
    let mut values = Values(2);
    let (mut worst_abs, mut worst_rel) = (0f64, 0f64);
    // 70 000 rows of 3: a 2-D grid of workgroups (more than 65 535 rows).
    for (rows, cols) in [(37, 45), (1, 1), (1, 384), (130, 384), (3, 1000), (70_000, 3)] {
        // An offset of 3 tests the cancellation in x − mean.
        let x = values.matrix(rows, cols, 1.0, 3.0);
        let residual = values.matrix(rows, cols, 0.5, -1.0);
        let norm = LayerNorm { g: values.vector(cols, 0.5, 1.0), b: values.vector(cols, 0.2, 0.0), eps: 1e-12 };
        for with_residual in [false, true] {
            let mut want = x.clone();
            norm.apply(&mut want, with_residual.then_some(&residual));
            let got = pollster::block_on(kernels.add_layer_norm(&gpu, &x, with_residual.then_some(&residual), &norm))
                .unwrap();
            assert_eq!(got.dim(), (rows, cols));
            // The conditioning of row r: max |x + residual| / σ (rounding of the inputs, relative to the spread).
            let mut summed = x.mapv(f64::from);
            if with_residual {
                summed += &residual.mapv(f64::from);
            }
            let condition: Vec<f64> = summed
                .rows()
                .into_iter()
                .map(|row| {
                    let mean = row.mean().unwrap();
                    let sigma = (row.mapv(|v| (v - mean).powi(2)).mean().unwrap() + f64::from(norm.eps)).sqrt();
                    row.iter().map(|v| v.abs()).fold(0.0, f64::max) / sigma
                })
                .collect();
            for ((r, c), g) in got.indexed_iter() {
                let w = want[[r, c]];
                let z = f64::from(((w - norm.b[c]) / norm.g[c]).abs());
                let magnitude = f64::from(norm.g[c].abs()) * (z + condition[r]) + f64::from(norm.b[c].abs());
                let diff = f64::from((g - w).abs());
                worst_abs = worst_abs.max(diff);
                worst_rel = worst_rel.max(diff / magnitude);
                assert!(
                    diff <= 1e-5 * magnitude,
                    "{rows}×{cols} residual={with_residual} [{r},{c}]: gpu {g} cpu {w} |Δ| {diff:e} > 1e-5·{magnitude}"
                );
            }
        }
    }
    eprintln!("add_layer_norm: max |Δ| {worst_abs:.3e}, max |Δ|/(|g|(|z| + max|v|/σ) + |b|) {worst_rel:.3e}");
}

fn packed(lengths: &[usize]) -> Vec<Seq> {
    let mut start = 0;
    lengths
        .iter()
        .map(|&len| {
            let s = Seq { start, len };
            start += len;
            s
        })
        .collect()
}

#[test]
fn attention_matches_cpu_over_packed_sequences() {
    let Some(gpu) = gpu() else { return };
    let kernels = Kernels::new(&gpu);
    let mut values = Values(3);
    let (mut worst_abs, mut worst_rel) = (0f64, 0f64);
    // (sequence lengths, heads, head dimension): odd; d above the 64 invocations (strided columns); vec4 columns
    // (4 | d) up to the largest head; BERT's longest sequence; 5 462 tokens × 12 heads = 65 544 workgroups (a 2-D
    // grid).
    let cases: [(&[usize], usize, usize); 7] = [
        (&[1, 17, 70], 3, 5),
        (&[1], 1, 1),
        (&[33, 2, 9], 2, 70),
        (&[20, 5], 1, 256),
        (&[3, 40], 2, 12),
        (&[512, 3], 12, 32),
        (&[911, 910, 910, 911, 910, 910], 12, 1),
    ];
    for (lengths, heads, d) in cases {
        let seqs = packed(lengths);
        let tokens: usize = lengths.iter().sum();
        let h = heads * d;
        // Scores of a few units: a peaked softmax.
        let qkv = values.matrix(tokens, 3 * h, 1.5, 0.0);
        let want = ops::attention(&qkv.view(), &seqs, heads);
        let got = pollster::block_on(kernels.attention(&gpu, &qkv, &seqs, heads)).unwrap();
        assert_eq!(got.dim(), (tokens, h));
        for s in &seqs {
            for head in 0..heads {
                let v_max = (s.start..s.start + s.len)
                    .flat_map(|t| (0..d).map(move |c| (t, 2 * h + head * d + c)))
                    .map(|ix| f64::from(qkv[ix].abs()))
                    .fold(0.0, f64::max);
                for t in s.start..s.start + s.len {
                    for c in head * d..(head + 1) * d {
                        let diff = f64::from((got[[t, c]] - want[[t, c]]).abs());
                        worst_abs = worst_abs.max(diff);
                        worst_rel = worst_rel.max(diff / v_max);
                        assert!(
                            diff <= 1e-5 * v_max,
                            "lengths {lengths:?} heads {heads} d {d} [{t},{c}]: gpu {} cpu {} |Δ| {diff:e} > \
                             1e-5·{v_max}",
                            got[[t, c]],
                            want[[t, c]]
                        );
                    }
                }
            }
        }
    }
    eprintln!("attention: max |Δ| {worst_abs:.3e}, max |Δ|/max|v| {worst_rel:.3e}");
}

#[test]
fn attention_rejects_sequences_beyond_the_kernel() {
    let Some(gpu) = gpu() else { return };
    let kernels = Kernels::new(&gpu);
    let qkv = Array2::<f32>::zeros((1025, 6));
    let err = pollster::block_on(kernels.attention(&gpu, &qkv, &packed(&[1025]), 2)).unwrap_err();
    assert_eq!(err.code(), "GPU", "{err}");
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| f64::from(*x) * f64::from(*y)).sum();
    let norm = |v: &[f32]| v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    dot / (norm(a) * norm(b))
}

/// Eight LLMFAO responses spread over the length distribution: the empty text, the longest (truncated at 256
/// tokens) and six between.
fn texts() -> Vec<String> {
    let mut all: Vec<String> = common::read(&common::shared("llmfao/results.jsonl"))
        .lines()
        .map(|line| {
            let r: serde_json::Value = serde_json::from_str(line).expect("results.jsonl line");
            r["result"].as_str().unwrap_or("").to_owned()
        })
        .collect();
    all.sort_by_key(String::len);
    let last = all.len() - 1;
    [0.0, 0.05, 0.2, 0.3, 0.4, 0.6, 0.8, 1.0].iter().map(|f| all[(f * last as f64) as usize].clone()).collect()
}

#[test]
fn gpu_encoder_matches_the_cpu_forward_pass() {
    let Some(gpu) = gpu() else { return };
    let encoder = common::minilm();
    let texts = texts();
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let start = Instant::now();
    let gpu_encoder = GpuEncoder::new(&gpu, &encoder).unwrap();
    let upload = start.elapsed();

    // The last hidden states of one packed batch (the four shorter texts: lavapipe is slow, and `embed` below runs
    // all eight through the same forward pass).
    let batches = encoder.batches(&texts[..4]).unwrap();
    assert_eq!(batches.len(), 1);
    let batch = &batches[0];
    let want = encoder.forward(batch).unwrap();
    let t = Instant::now();
    let got = pollster::block_on(gpu_encoder.forward(&gpu, &encoder, batch)).unwrap();
    let forward = t.elapsed();
    assert_eq!(got.dim(), want.dim());
    let max_abs = got.iter().zip(&want).map(|(g, w)| (g - w).abs()).fold(0f32, f32::max);
    let max_state = want.iter().map(|w| w.abs()).fold(0f32, f32::max);
    assert!(max_abs <= 1e-3 * max_state, "hidden states: max |Δ| {max_abs} > 1e-3·max|state| {max_state}");

    // Sentence embeddings.
    let cpu = encoder.embed(&texts).unwrap();
    let t = Instant::now();
    let embedded = pollster::block_on(gpu_encoder.embed(&gpu, &encoder, &texts)).unwrap();
    let embed = t.elapsed();
    assert_eq!(embedded.len(), texts.len());
    let mut worst = 1f64;
    for (i, (g, c)) in embedded.iter().zip(&cpu).enumerate() {
        assert_eq!(g.len(), 384);
        let cos = cosine(g, c);
        worst = worst.min(cos);
        assert!(cos >= 0.9999, "text {i} ({} chars): cosine {cos} < 0.9999", texts[i].len());
    }
    eprintln!(
        "GpuEncoder: forward of {} tokens: states max |Δ| {max_abs:.3e} (max |state| {max_state:.2}); embed of {} \
         tokens in {} texts: min cosine {worst:.9} (1 − cos {:.1e}); upload {upload:.2?}, forward {forward:.2?}, embed {embed:.2?}, \
         test {:.2?}",
        batch.ids.len(),
        encoder.batches(&texts).unwrap()[0].ids.len(),
        texts.len(),
        1.0 - worst,
        start.elapsed()
    );
}
