//! The operations of llama.cpp's CPU backend (ggml) for a Llama forward, written to round exactly where ggml's
//! portable x86-64 build rounds (SSE2 only: no AVX, FMA or F16C; the build of the prebuilt @fugood/llama.node whose
//! outputs are this crate's goldens), so logits and greedy tokens come out bit for bit the same. On this small model
//! every one of these rounding points moves the first-step logits by 0.3–0.9 when done the "ideal" way instead.
//!
//! - RMSNorm: squares in f32 summed in f64, `1/sqrtf(mean + eps)`, then `(x·scale)·g`.
//! - RoPE: θ starts at the position and is multiplied by `base^(−2/d)` (f32 `powf`) pair after pair; `cosf`/`sinf`.
//! - SwiGLU: `x / (1 + v_expf(−x)) · up` with ggml's SSE2 polynomial exp ([`v_expf`]).
//! - Attention: flash attention over an f16 KV cache. Batches of fewer than 64 queries (every decoding step) take
//!   ggml's one-row kernel (the query rounded to f16, dot products summed in f64, an online softmax with `expf`, the
//!   value sum kept in f16); batches of 64 or more take its tiled kernel (64 × 64 tiles in f32, the softmax with
//!   [`v_expf`] summed four lanes at a time).
//!
//! `expf`, `sinf` and `cosf` are glibc's, ported ([`glibc`]) so that wasm computes what native llama.cpp computes
//! (Rust's wasm libm, a musl port, differs in the last bit for ~9% of `expf` arguments, enough to change tokens);
//! `powf` is the platform's (glibc and musl agree on the one value used).

use super::glibc;
use super::quant::round_f16;

#[cfg(target_arch = "wasm32")]
mod simd;

/// ggml's `GGML_FA_TILE_Q` and `GGML_FA_TILE_KV`: query rows per tiled batch and keys per tile.
const TILE: usize = 64;

/// `out = (x · 1/√(mean(x²) + eps)) · g`, the mean summed in f64 (`ggml_compute_forward_rms_norm_f32`).
pub fn rms_norm(x: &[f32], g: &[f32], eps: f32, out: &mut [f32]) {
    let sum: f64 = x.iter().map(|v| f64::from(v * v)).sum();
    let mean = (sum / x.len() as f64) as f32;
    let scale = 1.0 / (mean + eps).sqrt();
    for ((o, v), g) in out.iter_mut().zip(x).zip(g) {
        *o = (v * scale) * g;
    }
}

/// Rotary embedding in llama.cpp's NORM layout (adjacent pairs), its angles built as `ggml_rope_cache_init` does.
#[derive(Clone, Copy, Debug)]
pub struct Rope {
    theta_scale: f32,
    head_dim: usize,
}

impl Rope {
    pub fn new(base: f32, head_dim: usize) -> Self {
        Self { theta_scale: base.powf(-2.0 / head_dim as f32), head_dim }
    }

    /// The (cos, sin) of each pair's angle at position `pos` (the same for every head and layer).
    pub fn table(&self, pos: usize) -> Vec<(f32, f32)> {
        let mut theta = pos as f32;
        (0..self.head_dim / 2)
            .map(|_| {
                let angle = (glibc::cosf(theta), glibc::sinf(theta));
                theta *= self.theta_scale;
                angle
            })
            .collect()
    }

    /// Turns every head of `x` (heads × head_dim) by the angles of one position ([`Rope::table`]).
    pub fn turn(x: &mut [f32], table: &[(f32, f32)]) {
        for head in x.chunks_exact_mut(2 * table.len()) {
            for (pair, &(cos, sin)) in head.chunks_exact_mut(2).zip(table) {
                let (a, b) = (pair[0], pair[1]);
                pair[0] = a * cos - b * sin;
                pair[1] = a * sin + b * cos;
            }
        }
    }
}

/// ggml's `ggml_v_expf` (vec.h, SSE2 without FMA), one lane: e^x to about 1.5 ulp by a degree-5 polynomial.
pub fn v_expf(x: f32) -> f32 {
    let c = |bits: u32| f32::from_bits(bits);
    let r = c(0x4b40_0000); // 0x1.8p23
    let z = x * c(0x3fb8_aa3b) + r; // log2(e)
    let n = z - r;
    let b = (x - n * c(0x3f31_7200)) - n * c(0x35bf_be8e); // ln 2, in two parts
    let e = z.to_bits() << 23;
    let k = f32::from_bits(e.wrapping_add(1f32.to_bits()));
    let u = b * b;
    let j =
        ((c(0x3c07_2010) * b + c(0x3d2b_9f17)) * u + (c(0x3e2a_af33) * b + c(0x3eff_fedb))) * u + c(0x3f7f_fff6) * b;
    if n.abs() <= 126.0 || n.is_nan() {
        return k * j + k;
    }
    let g = if n <= 0.0 { 0x8200_0000u32 } else { 0 };
    let s1 = f32::from_bits(g.wrapping_add(0x7f00_0000));
    let s2 = f32::from_bits(e.wrapping_sub(g));
    if n.abs() > 192.0 {
        s1 * s1
    } else {
        (s2 * j + s2) * s1
    }
}

/// `gate ← gate / (1 + v_expf(0 − gate)) · up` (`ggml_vec_swiglu_f32`, SSE2 branch).
pub fn swiglu(gate: &mut [f32], up: &[f32]) {
    for (g, u) in gate.iter_mut().zip(up) {
        *g = *g / (1.0 + v_expf(0.0 - *g)) * u;
    }
}

/// The shape of an attention call.
#[derive(Clone, Copy, Debug)]
pub struct Heads {
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
}

/// Causal attention of `t` query rows (positions `start..start + t`, each `heads × head_dim` in `q`) over the
/// cache's first `start + t` positions (`keys`/`values`: f16 values, `kv_heads × head_dim` per position), as
/// ggml's flash attention computes it. Returns `t × heads × head_dim`.
pub fn attention(q: &[f32], t: usize, start: usize, keys: &[f32], values: &[f32], shape: Heads) -> Vec<f32> {
    let Heads { heads, kv_heads, head_dim: d } = shape;
    let (width, group) = (heads * d, heads / kv_heads);
    let scale = 1.0 / (d as f32).sqrt();
    let mut out = vec![0.0f32; t * width];
    for h in 0..heads {
        let cache = Cache { keys, values, offset: (h / group) * d, stride: kv_heads * d, d };
        let query = |i: usize| &q[i * width + h * d..i * width + (h + 1) * d];
        let mut rows: Vec<Vec<f32>> = Vec::with_capacity(t);
        if t >= TILE {
            for r0 in (0..t).step_by(TILE) {
                let tile: Vec<&[f32]> = (r0..t.min(r0 + TILE)).map(query).collect();
                rows.extend(tiled(&tile, &cache, start + r0, scale));
            }
        } else {
            rows.extend((0..t).map(|i| one_row(query(i), &cache, start + i + 1, scale)));
        }
        for (i, row) in rows.iter().enumerate() {
            out[i * width + h * d..i * width + (h + 1) * d].copy_from_slice(row);
        }
    }
    out
}

/// One KV head's keys and values in the cache.
struct Cache<'a> {
    keys: &'a [f32],
    values: &'a [f32],
    offset: usize,
    stride: usize,
    d: usize,
}

impl Cache<'_> {
    fn key(&self, p: usize) -> &[f32] {
        &self.keys[p * self.stride + self.offset..][..self.d]
    }

    fn value(&self, p: usize) -> &[f32] {
        &self.values[p * self.stride + self.offset..][..self.d]
    }
}

/// `ggml_compute_forward_flash_attn_ext_f16_one_chunk` for one query over positions `0..visible`: the query in
/// f16, scores summed in f64, an online softmax with `expf`, the weighted values accumulated in f16.
fn one_row(q: &[f32], cache: &Cache, visible: usize, scale: f32) -> Vec<f32> {
    let q16: Vec<f32> = q.iter().map(|&x| round_f16(x)).collect();
    #[cfg(target_arch = "wasm32")]
    {
        let (keys, values) = (&cache.keys[cache.offset..], &cache.values[cache.offset..]);
        simd::one_row(&q16, keys, values, cache.stride, visible, scale, glibc::expf)
    }
    #[cfg(not(target_arch = "wasm32"))]
    portable_one_row(&q16, cache, visible, scale)
}

/// [`one_row`] on targets without a SIMD kernel (wasm: `simd::one_row`, bit for bit the same).
#[cfg(not(target_arch = "wasm32"))]
fn portable_one_row(q16: &[f32], cache: &Cache, visible: usize, scale: f32) -> Vec<f32> {
    let (mut m, mut s) = (f32::NEG_INFINITY, 0.0f32);
    let mut acc = vec![0.0f32; q16.len()];
    let scores = scores(q16, cache, visible);
    for (p, dot) in scores.into_iter().enumerate() {
        let score = dot as f32 * scale;
        let (mut ms, mut vs) = (1.0f32, 1.0f32);
        if score > m {
            ms = glibc::expf(m - score);
            m = score;
            for a in &mut acc {
                *a = round_f16(*a * ms);
            }
        } else {
            vs = glibc::expf(score - m);
        }
        for (a, v) in acc.iter_mut().zip(cache.value(p)) {
            *a = round_f16(*a + v * vs);
        }
        s = s * ms + vs;
    }
    let inv = if s == 0.0 { 0.0 } else { 1.0 / s };
    acc.iter().map(|a| a * inv).collect()
}

/// The f64 dot products of `q` with the keys `0..visible`, each summed in element order as ggml sums it; four keys
/// at a time, so that four independent sums hide the latency of each one's additions.
#[cfg(not(target_arch = "wasm32"))]
fn scores(q: &[f32], cache: &Cache, visible: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(visible);
    let mut p = 0;
    while p + 4 <= visible {
        let keys = [cache.key(p), cache.key(p + 1), cache.key(p + 2), cache.key(p + 3)];
        let mut sums = [0.0f64; 4];
        for (j, a) in q.iter().enumerate() {
            for (sum, key) in sums.iter_mut().zip(&keys) {
                *sum += f64::from(a * key[j]);
            }
        }
        out.extend(sums);
        p += 4;
    }
    out.extend((p..visible).map(|p| q.iter().zip(cache.key(p)).map(|(a, b)| f64::from(a * b)).sum::<f64>()));
    out
}

/// The scaled f32 dot products of `q` with keys `first..first + visible` into `p` (each summed in element order),
/// −∞ past them; four keys at a time, so that four independent sums hide the latency of each one's additions.
fn tile_scores(q: &[f32], cache: &Cache, first: usize, visible: usize, scale: f32, p: &mut [f32; TILE]) {
    let mut k = 0;
    while k + 4 <= visible {
        let keys = [cache.key(first + k), cache.key(first + k + 1), cache.key(first + k + 2), cache.key(first + k + 3)];
        let mut sums = [0.0f32; 4];
        for (j, a) in q.iter().enumerate() {
            for (sum, key) in sums.iter_mut().zip(&keys) {
                *sum += a * key[j];
            }
        }
        for (pk, sum) in p[k..k + 4].iter_mut().zip(sums) {
            *pk = sum * scale;
        }
        k += 4;
    }
    for (k, pk) in p.iter_mut().enumerate().skip(k) {
        *pk = if k < visible {
            q.iter().zip(cache.key(first + k)).fold(0.0f32, |sum, (a, b)| sum + a * b) * scale
        } else {
            f32::NEG_INFINITY
        };
    }
}

/// `ggml_compute_forward_flash_attn_ext_tiled` for the queries `tile` at positions `first..`: keys in tiles of 64;
/// per tile the scores summed in f32, the running maximum updated once (`expf`), the tile's softmax by [`v_expf`]
/// summed four lanes at a time in f64, the weighted values added in f32 in key order. Keys a query cannot see
/// weigh exactly 0, so they are left out of the sums (adding 0 changes nothing).
fn tiled(tile: &[&[f32]], cache: &Cache, first: usize, scale: f32) -> Vec<Vec<f32>> {
    let mut p = [0.0f32; TILE];
    tile.iter()
        .enumerate()
        .map(|(r, q)| {
            let (mut m, mut s) = (f32::NEG_INFINITY, 0.0f32);
            let mut acc = vec![0.0f32; q.len()];
            let seen = first + r + 1;
            for ic in (0..seen).step_by(TILE) {
                let visible = TILE.min(seen - ic);
                tile_scores(q, cache, ic, visible, scale, &mut p);
                let top = p.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let new = m.max(top);
                if new > m {
                    let ms = glibc::expf(m - new);
                    for a in &mut acc {
                        *a *= ms;
                    }
                    s *= ms;
                }
                m = new;
                let mut sum = 0.0f64;
                for lanes in p.chunks_exact_mut(4) {
                    for x in lanes.iter_mut() {
                        *x = v_expf(*x - new);
                    }
                    sum += f64::from((lanes[0] + lanes[1]) + (lanes[2] + lanes[3]));
                }
                s = (f64::from(s) + sum) as f32;
                for (k, &pk) in p[..visible].iter().enumerate() {
                    for (a, v) in acc.iter_mut().zip(cache.value(ic + k)) {
                        *a += pk * v;
                    }
                }
            }
            let inv = if s == 0.0 { 0.0 } else { 1.0 / s };
            acc.iter().map(|a| a * inv).collect()
        })
        .collect()
}
