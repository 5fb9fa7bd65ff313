//! The wasm SIMD twin of `ggml::portable_one_row`, the attention of every decoding step, with the same bits:
//! - the f64 dot products two keys to a vector (a pair's elements interleaved, multiplied in f32, which is exact for
//!   two f16 values, then widened and added in element order), eight keys at a time so that four chains of
//!   additions overlap;
//! - the f16 value sum four elements to a vector, rounded by [`round_f16`], lane for lane `quant::round_f16`.
//!
//! The scalar kernel compiled to wasm took ~250 ns per key and head; this one 50–70 ns, plus `expf`
//! (`benches/llama-context.mjs`: decoding after 386 prompt tokens went from 22–25 to 30–34 tokens/s with it and the
//! cheaper `expf`). `tests/wasm_kernel` checks it bit for bit against scalar arithmetic at odd sizes and on extreme
//! values.

use core::arch::wasm32::{
    f32x4, f32x4_add, f32x4_extract_lane, f32x4_gt, f32x4_mul, f32x4_splat, f32x4_sub, f64x2, f64x2_add,
    f64x2_extract_lane, f64x2_promote_low_f32x4, f64x2_splat, i32x4_add, i32x4_max, i32x4_min, i32x4_shuffle,
    u32x4_splat, v128, v128_and, v128_or, v128_xor,
};

/// Keys scored together: four pairs, four independent chains of f64 additions.
const KEYS: usize = 8;

/// One query (`q16`, already rounded to f16) over positions `0..visible`: key and value `p` are the `q16.len()`
/// floats at `p * stride` in `keys` and `values`. The online softmax takes `expf` (glibc's, in the crate).
pub fn one_row(
    q16: &[f32],
    keys: &[f32],
    values: &[f32],
    stride: usize,
    visible: usize,
    scale: f32,
    expf: impl Fn(f32) -> f32,
) -> Vec<f32> {
    let d = q16.len();
    let (mut m, mut s) = (f32::NEG_INFINITY, 0.0f32);
    let mut acc = vec![f32x4_splat(0.0); d.div_ceil(4)];
    for (p, dot) in scores(q16, keys, stride, visible).into_iter().enumerate() {
        let score = dot as f32 * scale;
        let (mut ms, mut vs) = (1.0f32, 1.0f32);
        if score > m {
            ms = expf(m - score);
            m = score;
            let ms4 = f32x4_splat(ms);
            for a in &mut acc {
                *a = round_f16(f32x4_mul(*a, ms4));
            }
        } else {
            vs = expf(score - m);
        }
        let vs4 = f32x4_splat(vs);
        let value = &values[p * stride..][..d];
        let (body, tail) = acc.split_at_mut(d / 4);
        for (a, e) in body.iter_mut().zip(value.chunks_exact(4)) {
            *a = round_f16(f32x4_add(*a, f32x4_mul(f32x4(e[0], e[1], e[2], e[3]), vs4)));
        }
        if let Some(a) = tail.first_mut() {
            *a = round_f16(f32x4_add(*a, f32x4_mul(padded_tail(value), vs4)));
        }
        s = s * ms + vs;
    }
    let inv = if s == 0.0 { 0.0 } else { 1.0 / s };
    let lanes = acc.iter().flat_map(|&a| {
        [f32x4_extract_lane::<0>(a), f32x4_extract_lane::<1>(a), f32x4_extract_lane::<2>(a), f32x4_extract_lane::<3>(a)]
    });
    lanes.take(d).map(|a| a * inv).collect()
}

/// The one to three elements of `x` after its whole fours, padded with zeros.
#[inline]
fn padded_tail(x: &[f32]) -> v128 {
    let rest = x.chunks_exact(4).remainder();
    let e = |i: usize| rest.get(i).copied().unwrap_or(0.0);
    f32x4(e(0), e(1), e(2), e(3))
}

/// The f64 dot products of `q16` with keys `0..visible`, each summed in element order.
fn scores(q16: &[f32], keys: &[f32], stride: usize, visible: usize) -> Vec<f64> {
    // The query's elements in pairs, each twice, to meet a pair of keys interleaved: [q0, q0, q1, q1], [q2, q2, …].
    let qq: Vec<v128> = q16
        .chunks(2)
        .map(|c| {
            let b = c.get(1).copied().unwrap_or(0.0);
            f32x4(c[0], c[0], b, b)
        })
        .collect();
    let mut out = Vec::with_capacity(visible + KEYS);
    for first in (0..visible).step_by(KEYS) {
        // Past the last key the last one is scored again, and dropped.
        let key = |i: usize| (first + i).min(visible - 1) * stride;
        for pair in eight(&qq, q16, keys, core::array::from_fn(key)) {
            out.extend([f64x2_extract_lane::<0>(pair), f64x2_extract_lane::<1>(pair)]);
        }
    }
    out.truncate(visible);
    out
}

/// The dot products of the query with the eight keys at `starts`, as four f64x2 (keys 0 and 1, 2 and 3, …).
#[inline]
fn eight(qq: &[v128], q16: &[f32], keys: &[f32], starts: [usize; KEYS]) -> [v128; KEYS / 2] {
    let d = q16.len();
    let key: [&[f32]; KEYS] = starts.map(|start| &keys[start..start + d]);
    let mut sums = [f64x2_splat(0.0); KEYS / 2];
    for c in 0..d / 4 {
        let (q01, q23) = (qq[2 * c], qq[2 * c + 1]);
        for (k, sum) in sums.iter_mut().enumerate() {
            let (a, b) = (&key[2 * k][4 * c..4 * c + 4], &key[2 * k + 1][4 * c..4 * c + 4]);
            let (a, b) = (f32x4(a[0], a[1], a[2], a[3]), f32x4(b[0], b[1], b[2], b[3]));
            // [a0 b0 a1 b1] and [a2 b2 a3 b3] times the query; each product of two f16 values is exact in f32.
            let lo = f32x4_mul(i32x4_shuffle::<0, 4, 1, 5>(a, b), q01);
            let hi = f32x4_mul(i32x4_shuffle::<2, 6, 3, 7>(a, b), q23);
            *sum = f64x2_add(*sum, f64x2_promote_low_f32x4(lo));
            *sum = f64x2_add(*sum, f64x2_promote_low_f32x4(i32x4_shuffle::<2, 3, 2, 3>(lo, lo)));
            *sum = f64x2_add(*sum, f64x2_promote_low_f32x4(hi));
            *sum = f64x2_add(*sum, f64x2_promote_low_f32x4(i32x4_shuffle::<2, 3, 2, 3>(hi, hi)));
        }
    }
    for j in d / 4 * 4..d {
        for (k, sum) in sums.iter_mut().enumerate() {
            let (a, b) = (q16[j] * key[2 * k][j], q16[j] * key[2 * k + 1][j]);
            *sum = f64x2_add(*sum, f64x2(f64::from(a), f64::from(b)));
        }
    }
    sums
}

/// `quant::round_f16` on four lanes: f32 → f16 → f32, to nearest even. Adding and taking away 1.5·2^(e+13), where
/// 2^e is the lane's binade (at least 2^-14, f16's smallest normal), leaves a sum in [2^(e+13), 2^(e+14)), whose ulp
/// is f16's, 2^(e−10): the hardware rounds to it, ties to even, and the difference is exact. Magnitudes above f16's
/// largest, 65504, become infinities (multiplied by 2^127); the sign is put back so that zeros keep theirs.
#[inline]
fn round_f16(x: v128) -> v128 {
    let splat = |b: u32| u32x4_splat(b);
    let abs = v128_and(x, splat(0x7fff_ffff));
    let binade = i32x4_min(i32x4_max(v128_and(x, splat(0x7f80_0000)), splat(0x3880_0000)), splat(0x4780_0000));
    let magic = i32x4_add(binade, splat(0x06c0_0000));
    let r = f32x4_sub(f32x4_add(abs, magic), magic);
    let over = v128_and(f32x4_gt(r, f32x4_splat(65504.0)), splat(0x7f00_0000 - 0x3f80_0000));
    let r = f32x4_mul(r, i32x4_add(splat(0x3f80_0000), over));
    v128_or(r, v128_xor(x, abs))
}
