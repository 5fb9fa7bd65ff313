//! The Llama kernels (src/gpu/shaders/llama.wgsl) against their CPU twins at odd sizes, the whole GPU forward
//! pass (`GpuLlama::forward`) against `Llama::forward`, and generation and scoring on the GPU against the CPU, on
//! SmolLM2-135M-Instruct (Q4_1), skipped when the model is not installed.
//!
//! Tolerances:
//! - quantize (Q8_1): exact (q, d and s identical to `quant::quantize_q8`, ties and tiny blocks included);
//! - embed (Q8_0 row gather): exact;
//! - matvec / matmul (Q4_1 × Q8_1, Q8_0 × Q8_0, with and without the residual): the block integer sums are exact and
//!   the blocks are added in the CPU's order, so only a fused multiply-add in the scaling may differ:
//!   |Δ| ≤ 1e-6·M, M = Σ_j (|w_j| + 2|m_b|)·(|x_j| + amax_b/127) (a bound on Σ of the block terms' magnitudes);
//! - RMSNorm: exact (`ggml::rms_norm`'s f64 sum and mean emulated in integers, √ and 1/x correctly rounded);
//! - RoPE (`ggml::Rope`): |Δ| ≤ 1e-6·(|a| + |b|) per pair of q (the same (cos, sin) from the CPU, a possible fused
//!   multiply-add); keys in the f16 cache within 1e-3·(|a| + |b|) (one f16 rounding apart at most), values rounded
//!   to f16 exactly;
//! - attention: |Δ| ≤ 1e-5·max|v| (a convex combination of the values; summation orders and exp differ);
//! - SwiGLU (`ggml::swiglu`, its polynomial exp ported): |Δ| ≤ 1e-6·(4 + 2|g|)·|g·u|;
//! - whole model: next-token distributions within a total variation of 0.25, logits within 4, the same greedy
//!   choices wherever the CPU's top-two margin exceeds 1 (why: see `gpu_forward_matches_the_cpu_forward`);
//! - generation and scoring through `Generator` / `logprobs` on `OnDevice`: first-step logits within 4, per-token
//!   log-probabilities within 1, greedy tokens parting ways only at a step where the CPU's top-two margin is ≤ 1.
#![cfg(feature = "gpu")]

mod common;

use common::gpu;

use std::time::Instant;

use arbiter::gpu::llama::{self as gl, GpuLlama, Kernels, OnDevice};
use arbiter::nn::bpe::Message;
use arbiter::nn::generate::{logprobs, GenerateOptions, Generator};
use arbiter::nn::gguf::{f16_to_f32, GgmlType, Tensor};
use arbiter::nn::llama::{Llama, Logits};
use arbiter::nn::{ggml, quant};
use pollster::block_on;

/// Deterministic values in [-1, 1) (a 64-bit LCG).
struct Values(u64);

impl Values {
    fn bits(&mut self) -> u32 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 32) as u32
    }

    fn next(&mut self) -> f32 {
        ((self.bits() >> 8) as f32 / (1u32 << 24) as f32) * 2.0 - 1.0
    }

    fn vec(&mut self, len: usize, scale: f32) -> Vec<f32> {
        (0..len).map(|_| scale * self.next()).collect()
    }
}

#[test]
fn shader_validates_with_naga() {
    let module =
        naga::front::wgsl::parse_str(gl::SHADER).unwrap_or_else(|e| panic!("{}", e.emit_to_string(gl::SHADER)));
    naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::empty())
        .validate(&module)
        .unwrap_or_else(|e| panic!("llama.wgsl: {e:?}"));
}

#[test]
fn quantize_matches_quantize_q8_exactly() {
    let Some(gpu) = gpu() else { return };
    let kernels = Kernels::new(&gpu);
    let mut values = Values(1);
    for (blocks, scale) in [(1, 1.0), (3, 0.01), (18, 4.0), (48 * 7, 30.0), (1001, 1e-3)] {
        let x = values.vec(32 * blocks, scale);
        let (q, d, s) = pollster::block_on(kernels.quantize_q8(&gpu, &x)).unwrap();
        let want = quant::quantize_q8(&x);
        assert_eq!((q, d, s), (bytes_of(&want.q), want.d, want.s), "{blocks} blocks of scale {scale}");
    }
    // Special blocks: zeros, exact ties (amax 127: x/d lands on k + 0.5), one nonzero value, tiny and huge values,
    // subnormal f16 scales, and amax of every binade's mantissa edges.
    let mut x = vec![0.0f32; 32];
    x.extend((0..32).map(|j| if j == 0 { 127.0 } else { (j as f32 - 16.0) + 0.5 }));
    x.extend((0..32).map(|j| if j == 5 { -3.0 } else { 0.0 }));
    x.extend((0..32).map(|j| 1e-6 * (j as f32 - 15.5)));
    x.extend((0..32).map(|j| 6e4 * (j as f32 - 15.5) / 16.0));
    x.extend((0..32).map(|j| 3e-9 * (j as f32 - 12.0)));
    for bits in [0x3f80_0000u32, 0x3fff_ffff, 0x4000_0001, 0x3f7e_0000, 0x42fe_0000, 0x42fd_ffff, 0x4b7f_ffff] {
        let amax = f32::from_bits(bits);
        x.extend((0..32).map(|j| amax * ((j as f32) - 31.0) / 31.0));
    }
    let (q, d, s) = pollster::block_on(kernels.quantize_q8(&gpu, &x)).unwrap();
    let want = quant::quantize_q8(&x);
    assert_eq!((q, d, s), (bytes_of(&want.q), want.d, want.s), "special blocks");
}

/// The quantised values of `quant::quantize_q8` (kept as i16 for the CPU kernels) as the GPU's bytes.
fn bytes_of(q: &[[i16; 32]]) -> Vec<i8> {
    q.concat().into_iter().map(|v| i8::try_from(v).unwrap()).collect()
}

/// Random GGUF blocks of `kind` for `rows` rows of `cols`: f16 scales around `scale`, random quants.
fn random_blocks(values: &mut Values, kind: GgmlType, rows: usize, cols: usize, scale: f32) -> Vec<u8> {
    let mut bytes = Vec::new();
    for _ in 0..rows * cols / 32 {
        bytes.extend(quant::f32_to_f16(scale * (0.5 + values.next().abs())).to_le_bytes());
        let quants = if kind == GgmlType::Q4_1 {
            bytes.extend(quant::f32_to_f16(-8.0 * scale * values.next().abs()).to_le_bytes());
            16
        } else {
            32
        };
        bytes.extend((0..quants).map(|_| values.bits() as u8));
    }
    bytes
}

/// Σ_j (|w_j| + 2|m_b|)·(|x_j| + amax_b/127) of row r: a bound on the block terms' magnitudes.
fn magnitude(w: &Tensor, r: usize, x: &[f32]) -> f64 {
    let mut row = vec![0.0f32; w.cols()];
    w.dequantize_row(r, &mut row);
    let bytes = w.row(r);
    let mut total = 0.0;
    for (b, (wb, xb)) in row.chunks_exact(32).zip(x.chunks_exact(32)).enumerate() {
        let m = if w.kind == GgmlType::Q4_1 {
            f64::from(f16_to_f32(u16::from_le_bytes([bytes[20 * b + 2], bytes[20 * b + 3]])))
        } else {
            0.0
        };
        let amax = xb.iter().fold(0f32, |a, v| a.max(v.abs()));
        total += wb
            .iter()
            .zip(xb)
            .map(|(w, x)| (f64::from(w.abs()) + 2.0 * m.abs()) * (f64::from(x.abs()) + f64::from(amax) / 127.0))
            .sum::<f64>();
    }
    total
}

#[test]
fn matvec_and_matmul_match_quant_dot() {
    let Some(gpu) = gpu() else { return };
    let kernels = Kernels::new(&gpu);
    let mut values = Values(2);
    let (mut worst, mut exact, mut total) = (0f64, 0usize, 0usize);
    // (tokens, rows, cols): one row, odd rows around the 64-row tile, odd token counts around the 64-token tile,
    // more than the 32 blocks the mat-vec stages at once (1088 = 34 blocks), SmolLM2's shapes.
    let cases = [(1, 1, 32), (3, 37, 96), (1, 65, 1088), (5, 130, 576), (65, 37, 96), (70, 200, 1536), (9, 960, 576)];
    for kind in [GgmlType::Q4_1, GgmlType::Q8_0] {
        for (t, rows, cols) in cases {
            let bytes = random_blocks(&mut values, kind, rows, cols, 0.01);
            let shape = [cols, rows];
            let w = Tensor { name: "w", shape: &shape, kind, bytes: &bytes };
            let x = values.vec(t * cols, 2.0);
            let residual = values.vec(t * rows, 1.0);
            for (tiled, with_residual) in [(false, false), (true, false), (false, true), (true, true)] {
                let r = with_residual.then_some(residual.as_slice());
                let got = pollster::block_on(kernels.linear_rows(&gpu, &w, &x, r, tiled)).unwrap();
                assert_eq!(got.len(), t * rows);
                for (i, xi) in x.chunks_exact(cols).enumerate() {
                    let y = quant::quantize_q8(xi);
                    for row in 0..rows {
                        let mut want = quant::dot_row(&w, row, &y);
                        if with_residual {
                            want += residual[i * rows + row];
                        }
                        let g = got[i * rows + row];
                        let m = magnitude(&w, row, xi) + if with_residual { 1.0 } else { 0.0 };
                        let diff = f64::from((g - want).abs());
                        worst = worst.max(diff / m);
                        exact += usize::from(g == want);
                        total += 1;
                        assert!(
                            diff <= 1e-6 * m,
                            "{kind} {t}×{cols}→{rows} tiled={tiled} residual={with_residual} [{i},{row}]: gpu {g} \
                             cpu {want} |Δ| {diff:e} > 1e-6·{m}"
                        );
                    }
                }
            }
        }
    }
    eprintln!("matvec/matmul: max |Δ|/M {worst:.3e}; {exact} of {total} outputs bit-identical");
}

#[test]
fn embed_matches_dequantize_row() {
    let Some(gpu) = gpu() else { return };
    let kernels = Kernels::new(&gpu);
    let mut values = Values(3);
    let (rows, cols) = (301, 96);
    let bytes = random_blocks(&mut values, GgmlType::Q8_0, rows, cols, 0.02);
    let shape = [cols, rows];
    let table = Tensor { name: "token_embd.weight", shape: &shape, kind: GgmlType::Q8_0, bytes: &bytes };
    let tokens = [0u32, 300, 7, 7, 150, 1];
    let got = pollster::block_on(kernels.embed_rows(&gpu, &table, &tokens)).unwrap();
    let mut want = vec![0.0f32; tokens.len() * cols];
    for (id, out) in tokens.iter().zip(want.chunks_exact_mut(cols)) {
        table.dequantize_row(*id as usize, out);
    }
    assert_eq!(got, want);
}

/// The kernel emulates ggml's f64 sum of squares and f64 mean in integers: bit-identical to `ggml::rms_norm` on rows
/// of ordinary activations, of values spread over 2^±60 (where f64 rounding and f32 subnormal squares both occur),
/// of zeros, and of a single nonzero value.
#[test]
fn rms_norm_is_ggml_bit_for_bit() {
    let Some(gpu) = gpu() else { return };
    let kernels = Kernels::new(&gpu);
    let mut values = Values(4);
    let mut rows_of = |rows: usize, cols: usize, kind: usize| -> Vec<f32> {
        let v = values.vec(rows * cols, 3.0);
        match kind {
            0 => v.iter().map(|x| x + 0.5).collect(),
            1 => v.iter().enumerate().map(|(i, x)| x * 2f32.powi((i * 7919 % 121) as i32 - 60)).collect(),
            2 => vec![0.0; rows * cols],
            _ => (0..rows * cols).map(|i| if i % cols == cols / 2 { v[i] * 1e-30 } else { 0.0 }).collect(),
        }
    };
    for (rows, cols, kind) in
        [(1, 1, 0), (3, 45, 0), (37, 576, 0), (2, 1536, 0), (5, 4000, 0), (9, 577, 1), (2, 64, 2), (3, 33, 3)]
    {
        let x = rows_of(rows, cols, kind);
        let g: Vec<f32> = (0..cols).map(|i| 0.5 + (i % 13) as f32 * 0.1).collect();
        let got = pollster::block_on(kernels.rms_norm_rows(&gpu, &x, &g, 1e-5)).unwrap();
        let mut want = vec![0.0f32; rows * cols];
        for (xr, out) in x.chunks_exact(cols).zip(want.chunks_exact_mut(cols)) {
            arbiter::nn::ggml::rms_norm(xr, &g, 1e-5, out);
        }
        for (i, (a, b)) in got.iter().zip(&want).enumerate() {
            assert_eq!(a.to_bits(), b.to_bits(), "{rows}×{cols} kind {kind} [{i}]: gpu {a:e} ggml {b:e}");
        }
    }
    // Rows whose f32 mean lands next to a tie: squares 1, 1, 2^-24, 2^-24 sum to 2 + 2^-23, so mean = 0.25 + 2^-26,
    // the midpoint of two f32s, and a last square decides. 2^-50 is kept by f64 (ulp 2^-51 at 2): the mean rounds up.
    // 2^-60 is lost by f64: a tie, rounded to even (down), where the exact sum would round up. eps = 2^-10 keeps the
    // two means apart in mean + eps.
    let (eps, tiny) = (2f32.powi(-10), [2f32.powi(-25), 2f32.powi(-30)]);
    let x: Vec<f32> = tiny.iter().flat_map(|&t| [1.0, 1.0, 2f32.powi(-12), 2f32.powi(-12), t, 0.0, 0.0, 0.0]).collect();
    let g = [1.0f32; 8];
    let got = pollster::block_on(kernels.rms_norm_rows(&gpu, &x, &g, eps)).unwrap();
    let mut want = [0.0f32; 16];
    for (xr, out) in x.chunks_exact(8).zip(want.chunks_exact_mut(8)) {
        arbiter::nn::ggml::rms_norm(xr, &g, eps, out);
    }
    assert_ne!(want[0], want[8], "the two rows' means must round apart");
    assert_eq!(
        got.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        want.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
    );
}

#[test]
fn rope_matches_the_cpu_and_fills_the_cache() {
    let Some(gpu) = gpu() else { return };
    let kernels = Kernels::new(&gpu);
    let mut values = Values(5);
    let mut worst = 0f64;
    // (tokens, heads, kv heads, head dim, start): SmolLM2's 9/3 × 64 at a late position, odd shapes.
    for (t, heads, kv_heads, hd, start) in [(1, 9, 3, 64, 4000), (7, 9, 3, 64, 0), (3, 4, 1, 6, 11), (5, 2, 2, 2, 1)] {
        let (dim, kv) = (heads * hd, kv_heads * hd);
        let stride = dim + 2 * kv;
        let qkv = values.vec(t * stride, 2.0);
        let (rows, cache) =
            pollster::block_on(kernels.rope_rows(&gpu, &qkv, (heads, kv_heads, hd), start, 1e5)).unwrap();
        let cap = start + t;
        for (i, row) in qkv.chunks_exact(stride).enumerate() {
            let pos = start + i;
            let (mut q, mut k) = (row[..dim].to_vec(), row[dim..dim + kv].to_vec());
            let rope = ggml::Rope::new(1e5, hd);
            let table = rope.table(pos);
            ggml::Rope::turn(&mut q, &table);
            ggml::Rope::turn(&mut k, &table);
            let k: Vec<f32> = k.iter().map(|&v| quant::round_f16(v)).collect();
            let v: Vec<f32> = row[dim + kv..].iter().map(|&v| quant::round_f16(v)).collect();
            let got_k = &cache[pos * kv..(pos + 1) * kv];
            let got_v = &cache[(cap + pos) * kv..(cap + pos + 1) * kv];
            assert_eq!(got_v, v.as_slice(), "values of position {pos}");
            let pairs =
                [(&rows[i * stride..i * stride + dim], &q, &row[..dim], 1e-6), (got_k, &k, &row[dim..dim + kv], 1e-3)];
            for (got, want, input, tolerance) in pairs {
                for (j, (g, w)) in got.iter().zip(want.iter()).enumerate() {
                    let m = f64::from(input[j & !1].abs() + input[j | 1].abs());
                    let diff = f64::from((g - w).abs());
                    worst = worst.max(diff / m);
                    assert!(
                        diff <= tolerance * m,
                        "t {t} heads {heads}/{kv_heads}×{hd} pos {pos} [{j}]: gpu {g} cpu {w}"
                    );
                }
            }
        }
    }
    eprintln!("rope: max |Δ|/(|a| + |b|) {worst:.3e}");
}

#[test]
fn attention_matches_the_cpu_over_the_cache() {
    let Some(gpu) = gpu() else { return };
    let kernels = Kernels::new(&gpu);
    let mut values = Values(6);
    let mut worst = 0f64;
    // (tokens, start, heads, kv heads, head dim): decode and prefill at SmolLM2's shape, more than the 1024 keys of
    // one chunk (online softmax), odd groups, the largest head, a head of one vec4.
    let cases = [
        (1, 40, 9, 3, 64),
        (37, 0, 9, 3, 64),
        (3, 1500, 9, 3, 64),
        (5, 2, 6, 2, 12),
        (2, 3, 2, 2, 256),
        (4, 0, 3, 3, 4),
    ];
    for (t, start, heads, kv_heads, hd) in cases {
        let (dim, kv) = (heads * hd, kv_heads * hd);
        let q = values.vec(t * dim, 1.5);
        let keys = values.vec((start + t) * kv, 1.5);
        let v = values.vec((start + t) * kv, 1.0);
        let got =
            pollster::block_on(kernels.attention_rows(&gpu, (&q, &keys, &v), (heads, kv_heads, hd), start)).unwrap();
        let want = gl::attention((&q, &keys, &v), (heads, kv_heads, hd), start);
        let v_max = f64::from(v.iter().fold(0f32, |m, x| m.max(x.abs())));
        for (i, (a, b)) in got.iter().zip(&want).enumerate() {
            let diff = f64::from((a - b).abs());
            worst = worst.max(diff / v_max);
            assert!(diff <= 1e-5 * v_max, "t {t} start {start} {heads}/{kv_heads}×{hd} [{i}]: gpu {a} cpu {b}");
        }
    }
    eprintln!("attention: max |Δ|/max|v| {worst:.3e}");
}

#[test]
fn swiglu_matches_the_cpu() {
    let Some(gpu) = gpu() else { return };
    let kernels = Kernels::new(&gpu);
    let mut values = Values(7);
    let mut worst = 0f64;
    for (t, hidden) in [(1, 1), (3, 1536), (17, 45)] {
        let gu = values.vec(t * 2 * hidden, 12.0);
        let got = pollster::block_on(kernels.swiglu_rows(&gpu, &gu, hidden)).unwrap();
        let want = gl::swiglu(&gu, hidden);
        for (i, (a, b)) in got.iter().zip(&want).enumerate() {
            let at = (i / hidden) * 2 * hidden + i % hidden;
            let (g, u) = (f64::from(gu[at]), f64::from(gu[at + hidden]));
            let m = (4.0 + 2.0 * g.abs()) * (g * u).abs();
            let diff = f64::from((a - b).abs());
            worst = worst.max(diff / m.max(1e-30));
            assert!(diff <= 1e-6 * m, "{t}×{hidden} [{i}]: gpu {a} cpu {b}");
        }
    }
    eprintln!("swiglu: max |Δ|/((4 + 2|g|)|g·u|) {worst:.3e}");
}

fn smollm2() -> Option<Llama> {
    let path = common::model_dir("smollm2-135m").join("SmolLM2-135M-Instruct.Q4_1.gguf");
    let Ok(bytes) = std::fs::read(&path) else {
        eprintln!("skipped: {} is not installed (scripts/setup.sh)", path.display());
        return None;
    };
    Some(Llama::from_gguf(bytes).expect("SmolLM2 loads"))
}

fn prompt(model: &Llama, text: &str) -> Vec<u32> {
    let chat = model.tokenizer.chat(&[Message { role: "user".into(), content: text.into() }], true).unwrap();
    model.tokenizer.encode(&chat, true).unwrap()
}

fn argmax(v: &[f32]) -> u32 {
    v.iter().enumerate().fold(0, |b, (i, x)| if *x > v[b] { i } else { b }) as u32
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

/// The total-variation distance between the next-token distributions softmax(a) and softmax(b).
fn tv_distance(a: &[f32], b: &[f32]) -> f64 {
    let p = |v: &[f32]| {
        let top = v.iter().fold(f32::MIN, |m, x| m.max(*x));
        let e: Vec<f64> = v.iter().map(|x| f64::from(x - top).exp()).collect();
        let sum: f64 = e.iter().sum();
        e.into_iter().map(move |x| x / sum)
    };
    p(a).zip(p(b)).map(|(x, y)| (x - y).abs()).sum::<f64>() / 2.0
}

/// The gap between the best and the second-best logit.
fn margin(v: &[f32]) -> f32 {
    let best = argmax(v) as usize;
    let second = v.iter().enumerate().filter(|(i, _)| *i != best).fold(f32::MIN, |m, (_, x)| m.max(*x));
    v[best] - second
}

/// Worst differences over the compared logit rows.
#[derive(Default)]
struct Worst {
    logit: f32,
    tv: f64,
    agree: usize,
    rows: usize,
}

impl Worst {
    /// Adds one row; a greedy choice may differ only where the CPU's top-two margin is within `margin_ok`.
    fn add(&mut self, got: &[f32], want: &[f32], what: &str) {
        self.logit = self.logit.max(max_diff(got, want));
        self.tv = self.tv.max(tv_distance(got, want));
        self.rows += 1;
        let same = argmax(got) == argmax(want);
        self.agree += usize::from(same);
        assert!(same || margin(want) <= 1.0, "{what}: greedy choice differs with a CPU margin of {}", margin(want));
    }
}

/// Whole model: logits of two chat prompts (prefill: tiled mat-mul) and of 8 greedy decode steps each (mat-vec,
/// both fed the CPU's choices), and `Logits::All` of a short prompt, GPU vs CPU (the measurements below are from
/// three prompts and 16 steps; CI runs fewer on lavapipe to save time).
///
/// The two run the same quantised arithmetic, bit for bit the same in the mat-vecs, quantisation, RoPE, SwiGLU and
/// embedding and (since the kernel emulates ggml's f64 sums) the RMSNorm, but not in the attention (ggml's flash
/// attention with f16 accumulators on the CPU, an f32 softmax here) nor the tiled mat-mul's fused multiply-adds. An ulp of difference there
/// now and then moves one activation across a rounding boundary of its 8-bit quantisation (a change of
/// d = max|x|/127 of its block in one input, large next to the other inputs when the block holds an outlier
/// feature), and 30 layers carry such flips on. Measured: the tiled path alone (ulps of fused multiply-add, no
/// attention involved) moves position 0's logits by 0.24; over these prompts logits differ by up to 1.5 and the
/// next-token distributions by a total variation of up to 0.13 (25 of 27 greedy choices equal; with the f32 RMSNorm:
/// 2.3 and 0.08, 57 of 60), with the greedy choices agreeing wherever the
/// CPU's top-two margin exceeds 0.5. Bounds: total variation ≤ 0.25, max |Δ logit| ≤ 4 (a wrong kernel moves logits
/// by tens and the distributions entirely), equal greedy choices wherever the CPU's margin exceeds 1.
#[test]
fn gpu_forward_matches_the_cpu_forward() {
    let Some(model) = smollm2() else { return };
    let Some(gpu) = gpu() else { return };
    let t = Instant::now();
    let gpu_model = GpuLlama::new(&gpu, &model).unwrap();
    eprintln!("upload {:.2?}, resident {:.1} MB", t.elapsed(), gpu_model.resident_bytes() as f64 / 1e6);
    let texts = ["What is the capital of France?", "Why is the sky blue? Be brief."];
    let mut worst = Worst::default();
    let (mut prefill_time, mut decode_time, mut decoded_tokens) = (0.0, 0.0, 0);
    for text in texts {
        let tokens = prompt(&model, text);
        let mut cpu_cache = model.cache();
        let mut gpu_cache = gpu_model.cache();
        let mut want = model.forward(&mut cpu_cache, &tokens, Logits::Last).unwrap();
        let t = Instant::now();
        let mut got = pollster::block_on(gpu_model.forward(&gpu, &mut gpu_cache, &tokens, Logits::Last)).unwrap();
        prefill_time += t.elapsed().as_secs_f64();
        let prefill = max_diff(&got, &want);
        let mut decoded = Vec::new();
        for step in 0..8 {
            worst.add(&got, &want, &format!("{text:?} step {step}"));
            let next = argmax(&want);
            decoded.push(next);
            want = model.forward(&mut cpu_cache, &[next], Logits::Last).unwrap();
            let t = Instant::now();
            got = pollster::block_on(gpu_model.forward(&gpu, &mut gpu_cache, &[next], Logits::Last)).unwrap();
            decode_time += t.elapsed().as_secs_f64();
            decoded_tokens += 1;
        }
        worst.add(&got, &want, &format!("{text:?} step 8"));
        eprintln!(
            "{text:?}: {} prompt tokens, prefill max |Δ logit| {prefill:.3e}; CPU greedy {:?}",
            tokens.len(),
            model.tokenizer.decode(&decoded)
        );
    }
    // Logits::All of the first 9 tokens (every row through the tiled output projection).
    let tokens = &prompt(&model, texts[0])[..9];
    let want = model.forward(&mut model.cache(), tokens, Logits::All).unwrap();
    let got = pollster::block_on(gpu_model.forward(&gpu, &mut gpu_model.cache(), tokens, Logits::All)).unwrap();
    assert_eq!(got.len(), want.len());
    for (r, (g, w)) in got.chunks_exact(model.config.vocab).zip(want.chunks_exact(model.config.vocab)).enumerate() {
        worst.add(g, w, &format!("Logits::All row {r}"));
    }
    eprintln!(
        "whole model: {} logit rows, max |Δ logit| {:.3e}, max total variation {:.3e}, greedy choices agree {}/{}; \
         GPU prefill {:.2} s per prompt, decode {:.0} ms per token",
        worst.rows,
        worst.logit,
        worst.tv,
        worst.agree,
        worst.rows,
        prefill_time / 3.0,
        1e3 * decode_time / f64::from(decoded_tokens)
    );
    assert!(worst.tv <= 0.25, "max total variation {}", worst.tv);
    assert!(worst.logit <= 4.0, "max |Δ logit| {}", worst.logit);
}

/// Timings of a ~100-token prefill and of decoding on the GPU and the CPU (slow on lavapipe: run with --ignored).
#[test]
#[ignore = "timing, minutes on lavapipe"]
fn gpu_forward_timings() {
    let Some(model) = smollm2() else { return };
    let Some(gpu) = gpu() else { return };
    let gpu_model = GpuLlama::new(&gpu, &model).unwrap();
    let text = "Summarise in one sentence: The Bradley-Terry model assigns each player a strength, and the \
                probability that one player beats another is a logistic function of the difference of their \
                strengths. Arena leaderboards fit it to pairwise human votes between chatbots, then report \
                bootstrap confidence intervals.";
    let tokens = prompt(&model, text);
    let mut cpu_cache = model.cache();
    let t = Instant::now();
    let want = model.forward(&mut cpu_cache, &tokens, Logits::Last).unwrap();
    let cpu_prefill = t.elapsed();
    let mut cache = gpu_model.cache();
    let t = Instant::now();
    let got = pollster::block_on(gpu_model.forward(&gpu, &mut cache, &tokens, Logits::Last)).unwrap();
    let prefill = t.elapsed();
    let n = 8;
    let (mut next, t) = (argmax(&got), Instant::now());
    for _ in 0..n {
        next = argmax(&pollster::block_on(gpu_model.forward(&gpu, &mut cache, &[next], Logits::Last)).unwrap());
    }
    let decode = t.elapsed() / n;
    let (mut next, t) = (argmax(&want), Instant::now());
    for _ in 0..n {
        next = argmax(&model.forward(&mut cpu_cache, &[next], Logits::Last).unwrap());
    }
    let cpu_decode = t.elapsed() / n;
    eprintln!(
        "{} tokens: GPU prefill {prefill:.2?}, decode {decode:.2?}/token; CPU prefill {cpu_prefill:.2?}, decode \
         {cpu_decode:.2?}/token",
        tokens.len()
    );
}

/// llama.cpp's goldens (tests/golden/smollm2-llamacpp.json): the chat prompts' ids, by conversation id.
fn golden_prompts() -> Vec<(u64, Vec<u32>)> {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/smollm2-llamacpp.json");
    let golden: serde_json::Value = serde_json::from_str(&common::read(&path)).unwrap();
    let ids = |v: &serde_json::Value| v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u32).collect();
    golden["chat"]["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["id"].as_u64().unwrap(), ids(&c["ids"])))
        .collect()
}

/// How greedy generation through `Generator` on the GPU compared with the CPU on one prompt.
struct Agreement {
    /// Max |Δ logit| of the first step (the prefill's logits).
    first_logit: f32,
    /// Leading tokens identical, of `len` (the CPU's).
    same: usize,
    len: usize,
    /// The CPU's top-two margin at the first step where the tokens differ (they may only where it is small).
    split_margin: Option<f32>,
}

/// Greedy generation of at most `max_tokens` on the CPU and, through the same `Generator` code, on the GPU.
fn compare_generation(model: &Llama, device: &OnDevice, prompt: &[u32], max_tokens: usize) -> Agreement {
    let options = GenerateOptions { max_tokens, ..GenerateOptions::default() };
    let mut cpu = block_on(Generator::new(model, prompt, options.clone())).unwrap();
    let first = cpu.logits().to_vec();
    let mut margins = vec![margin(&first)];
    while block_on(cpu.next(model)).unwrap().is_some() {
        margins.push(margin(cpu.logits()));
    }
    let mut gpu = block_on(Generator::new(device, prompt, options)).unwrap();
    let first_logit = max_diff(gpu.logits(), &first);
    while block_on(gpu.next(device)).unwrap().is_some() {}
    let same = cpu.tokens.iter().zip(&gpu.tokens).take_while(|(a, b)| a == b).count();
    let split_margin = (same < cpu.tokens.len().max(gpu.tokens.len())).then(|| margins[same]);
    Agreement { first_logit, same, len: cpu.tokens.len(), split_margin }
}

/// Asserts that the tokens differ only after a close call of the CPU (top-two margin ≤ 1, as in
/// `gpu_forward_matches_the_cpu_forward`).
fn assert_close_calls_only(a: &Agreement, what: &str) {
    if let Some(m) = a.split_margin {
        assert!(m <= 1.0, "{what}: GPU tokens differ at step {} where the CPU's margin is {m}", a.same);
    }
}

/// `Generator` and `logprobs` on the GPU (`OnDevice`) against the CPU (`Llama`), the same code over the `Forward`
/// trait: greedy generation of 4 tokens after golden conversation 16 (36 prompt tokens), and teacher-forced
/// log-probabilities of 4 tokens after 9 (the tiled and the mat-vec paths, `Logits::All`). Measured on lavapipe:
/// identical tokens (4/4), first-step max |Δ logit| 1.00, max |Δ logprob| 0.32 (all golden prompts:
/// `gpu_generation_on_the_golden_prompts`). Bounds: first-step |Δ logit| ≤ 4 and |Δ logprob| ≤ 1 (rounding flips in
/// the 8-bit activations move logits by up to ~2, see `gpu_forward_matches_the_cpu_forward`); tokens may differ only
/// from a step where the CPU's top-two margin is ≤ 1.
#[test]
fn generator_and_logprobs_on_the_gpu_follow_the_cpu() {
    let Some(model) = smollm2() else { return };
    let Some(gpu) = gpu() else { return };
    let on = GpuLlama::new(&gpu, &model).unwrap();
    let device = OnDevice { gpu: &gpu, model: &on, llama: &model };
    let (_, prompt) = golden_prompts().into_iter().find(|(id, _)| *id == 16).unwrap();
    let a = compare_generation(&model, &device, &prompt, 4);
    let (head, tail) = prompt.split_at(9);
    let want = block_on(logprobs(&model, head, &tail[..4])).unwrap();
    let got = block_on(logprobs(&device, head, &tail[..4])).unwrap();
    let lp = max_diff(&got, &want);
    eprintln!(
        "tokens identical {}/{}, first-step max |Δ logit| {:.3}, max |Δ logprob| {lp:.3}",
        a.same, a.len, a.first_logit
    );
    assert_close_calls_only(&a, "conversation 16");
    assert!(a.first_logit <= 4.0, "first-step |Δ logit| {}", a.first_logit);
    assert!(lp <= 1.0, "logprobs differ by {lp}");
}

/// The measurement behind the bounds above: greedy generation of 32 tokens (the length) through `Generator` on
/// every golden chat prompt, GPU vs CPU (whose tokens are llama.cpp's); 12 minutes on lavapipe: run with --ignored.
/// Measured with the exact RMSNorm: identical on 7 of 10 prompts (9 of 10 over 16 tokens); the other 3 part ways
/// after 12, 22 and 25 tokens, where the CPU's top-two margin is 0.20, 0.17 and 0.06; first-step max |Δ logit| 1.37.
/// Before it (f32 sum of squares): 5 of 10 over 16 tokens, first-step max |Δ logit| 1.23.
#[test]
#[ignore = "measurement, 12 minutes on lavapipe"]
fn gpu_generation_on_the_golden_prompts() {
    let Some(model) = smollm2() else { return };
    let Some(gpu) = gpu() else { return };
    let on = GpuLlama::new(&gpu, &model).unwrap();
    let device = OnDevice { gpu: &gpu, model: &on, llama: &model };
    let (mut identical, mut worst) = (0, 0.0f32);
    let prompts = golden_prompts();
    for (id, prompt) in &prompts {
        let a = compare_generation(&model, &device, prompt, 32);
        eprintln!(
            "conversation {id}: {}/{} tokens identical, first-step max |Δ logit| {:.3}, split margin {:?}",
            a.same, a.len, a.first_logit, a.split_margin
        );
        identical += usize::from(a.split_margin.is_none());
        worst = worst.max(a.first_logit);
        assert_close_calls_only(&a, &format!("conversation {id}"));
    }
    eprintln!("{identical}/{} prompts with identical tokens; first-step max |Δ logit| {worst:.3}", prompts.len());
    assert!(worst <= 4.0, "first-step |Δ logit| {worst}");
}
