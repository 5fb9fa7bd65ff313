//! The wasm SIMD attention row (src/nn/ggml/simd.rs) against the scalar one-row kernel written out again, bit for
//! bit, with f16 rounding done a second, independent way (f64 arithmetic instead of bit tricks).
#[path = "../../src/nn/ggml/simd.rs"]
mod simd;

/// f32 → f16 → f32, to nearest even, from the definition.
fn round_f16(x: f32) -> f32 {
    if x.is_nan() {
        return f32::from_bits(x.to_bits() | 0x0040_0000);
    }
    let a = f64::from(x.abs());
    if a >= 65520.0 {
        return f32::INFINITY.copysign(x);
    }
    let exponent = ((x.to_bits() >> 23) & 0xff) as i32 - 127;
    let ulp = 2f64.powi(exponent.max(-14) - 10);
    ((a / ulp).round_ties_even() * ulp).copysign(f64::from(x)) as f32
}

/// ggml's one-row kernel, scalar: f64 scores in element order, online softmax, values summed in f16.
fn reference(q16: &[f32], keys: &[f32], values: &[f32], stride: usize, visible: usize, scale: f32) -> Vec<f32> {
    let d = q16.len();
    let (mut m, mut s) = (f32::NEG_INFINITY, 0.0f32);
    let mut acc = vec![0.0f32; d];
    for p in 0..visible {
        let key = &keys[p * stride..][..d];
        let dot: f64 = q16.iter().zip(key).map(|(a, b)| f64::from(a * b)).sum();
        let score = dot as f32 * scale;
        let (mut ms, mut vs) = (1.0f32, 1.0f32);
        if score > m {
            ms = expf(m - score);
            m = score;
            for a in &mut acc {
                *a = round_f16(*a * ms);
            }
        } else {
            vs = expf(score - m);
        }
        for (a, v) in acc.iter_mut().zip(&values[p * stride..][..d]) {
            *a = round_f16(*a + v * vs);
        }
        s = s * ms + vs;
    }
    let inv = if s == 0.0 { 0.0 } else { 1.0 / s };
    acc.iter().map(|a| a * inv).collect()
}

fn expf(x: f32) -> f32 {
    x.exp()
}

pub struct Case {
    q16: Vec<f32>,
    keys: Vec<f32>,
    values: Vec<f32>,
    stride: usize,
    visible: usize,
    scale: f32,
}

/// Random f16 values: `regime` 0 of moderate size (|x| in 2^-6 … 8, as in the model's cache), 1 any finite f16
/// (zeros, subnormals, up to 65504), 2 the same with infinities and NaNs.
fn half(rnd: &mut impl FnMut() -> u32, regime: u32) -> f32 {
    let r = rnd();
    let sign = (r & 1) << 15;
    let bits = match regime {
        0 => (9 + (r >> 1) % 9) << 10 | (r >> 8) & 0x3ff,
        _ if regime == 2 && r % 97 == 0 => 0x7c00 | u32::from(r % 3 == 0) * ((r >> 8) & 0x3ff | 1),
        _ => (r >> 1) % 0x7c00,
    };
    crate::kern::f16_to_f32((sign | bits) as u16)
}

pub fn case(d: usize, visible: usize, pad: usize, regime: u32, seed: u32) -> Case {
    let mut state = u64::from(seed) * 2 + 1;
    let mut rnd = || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 33) as u32
    };
    let stride = d + pad;
    let n = visible * stride;
    let q16 = (0..d).map(|_| half(&mut rnd, regime)).collect();
    let keys = (0..n).map(|_| half(&mut rnd, regime)).collect();
    let values = (0..n).map(|_| half(&mut rnd, regime)).collect();
    let scale = if regime == 0 { 1.0 / (d as f32).sqrt() } else { [1e-6, 0.125, 4.0][seed as usize % 3] };
    Case { q16, keys, values, stride, visible, scale }
}

pub fn run(c: &Case, simd_on: bool) -> Vec<f32> {
    if simd_on {
        simd::one_row(&c.q16, &c.keys, &c.values, c.stride, c.visible, c.scale, expf)
    } else {
        reference(&c.q16, &c.keys, &c.values, c.stride, c.visible, c.scale)
    }
}

/// How many outputs differ (bits; NaNs of any payload count as equal).
pub fn check(d: usize, visible: usize, pad: usize, regime: u32, seed: u32) -> u32 {
    let c = case(d, visible, pad, regime, seed);
    differences(&run(&c, false), &run(&c, true))
}

fn differences(want: &[f32], got: &[f32]) -> u32 {
    let same = |a: f32, b: f32| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
    u32::try_from(want.len().abs_diff(got.len())).unwrap_or(u32::MAX)
        + want.iter().zip(got).map(|(&a, &b)| u32::from(!same(a, b))).sum::<u32>()
}

/// The kernel's f16 rounding against [`round_f16`] on every `step`th f32 bit pattern, and at the edges of f16's
/// range (overflow, the smallest normal and subnormal, ties) and their neighbours: one key of zeros makes the row's
/// output its single value row added to 0 and rounded to f16 (weight 1, sum 1).
pub fn check_rounding(step: u32) -> u32 {
    const D: usize = 4096;
    let edges = [65504.0, 65519.996, 65520.0, 65536.0, 2f32.powi(-14), 2f32.powi(-24), 2f32.powi(-25), 3.0 * 2f32.powi(-26)];
    let specials = [0.0, f32::MIN_POSITIVE, f32::MAX, f32::INFINITY, f32::NAN, 1.0 + f32::EPSILON, 2049.0, 2051.0];
    let patterns: Vec<f32> = (0..=u32::MAX / step)
        .map(|i| f32::from_bits(i.wrapping_mul(step)))
        .chain(edges.into_iter().chain(specials).flat_map(|x| [x, -x, f32::from_bits(x.to_bits() + 1), f32::from_bits(x.to_bits() - 1)]))
        .collect();
    let (q16, keys) = (vec![0.0f32; D], vec![0.0f32; D]);
    let mut wrong = 0;
    for values in patterns.chunks(D) {
        let d = values.len();
        let got = simd::one_row(&q16[..d], &keys[..d], values, d, 1, 1.0, expf);
        // The sum starts at +0, so a −0 value comes out +0.
        let want: Vec<f32> = values.iter().map(|&v| round_f16(0.0 + v)).collect();
        wrong += differences(&want, &got);
    }
    wrong
}
