//! llama.cpp's CPU arithmetic for products with quantised weights: the activation row is quantised to 8 bits per
//! block of 32 (ggml's `quantize_row_q8_1_ref`; Q8_0 uses the same d and q), then each block's integer dot product is
//! scaled in ggml's order (its generic `ggml_vec_dot_q4_1_q8_1` / `ggml_vec_dot_q8_0_q8_0`).

#[cfg(not(target_arch = "wasm32"))]
use super::gguf::f16_to_f32;
use super::gguf::{GgmlType, Tensor, QK};

#[cfg(target_arch = "wasm32")]
mod simd;

/// f32 → f16 → f32, rounding to nearest even; the same as `f16_to_f32(f32_to_f16(x))` for every f32 (checked on
/// every 4099th bit pattern by the tests, on all 2^32 once), but without branches, so that loops of it vectorise
/// (the attention's f16 value sums call it for every element of every key).
#[inline]
pub fn round_f16(x: f32) -> f32 {
    let bits = x.to_bits();
    let sign = bits & 0x8000_0000;
    let abs = bits ^ sign;
    // Normal f16 range: round the mantissa to 10 bits, ties to even (a carry moves into the exponent by itself).
    let normal = (abs + 0x0fff + ((abs >> 13) & 1)) & !0x1fff;
    let normal = if normal >= 0x4780_0000 { 0x7f80_0000 } else { normal };
    // Below 2^-14 f16 steps by 2^-24: adding 0.5 (whose ulp is 2^-24) rounds to that step, ties to even.
    let small = ((f32::from_bits(abs) + 0.5) - 0.5).to_bits();
    let out = if abs >= 0x7f80_0000 {
        abs | u32::from(abs > 0x7f80_0000) << 22
    } else if abs >= 0x3880_0000 {
        normal
    } else {
        small
    };
    f32::from_bits(out | sign)
}

/// `x.round()` (halves away from zero, C's `roundf`) without the call that wasm makes for it: the fraction
/// `x − trunc(x)` is exact, so comparing it with ½ decides exactly.
#[inline]
pub fn round_away(x: f32) -> f32 {
    let t = x.trunc();
    if (x - t).abs() >= 0.5 {
        t + 1.0f32.copysign(x)
    } else {
        t
    }
}

/// IEEE binary16 bits of `x`, round to nearest even.
pub fn f32_to_f16(x: f32) -> u16 {
    let bits = x.to_bits();
    let sign = ((bits >> 16) & 0x8000) as u16;
    let exp = ((bits >> 23) & 0xff) as i32;
    let man = bits & 0x007f_ffff;
    if exp == 0xff {
        return sign | 0x7c00 | if man != 0 { 0x200 } else { 0 };
    }
    let e = exp - 127 + 15;
    if e >= 0x1f {
        return sign | 0x7c00;
    }
    if e <= 0 {
        if e < -10 {
            return sign;
        }
        let m = man | 0x0080_0000;
        let shift = (14 - e) as u32;
        let half = 1u32 << (shift - 1);
        let rest = m & ((1u32 << shift) - 1);
        let mut h = m >> shift;
        if rest > half || (rest == half && h & 1 == 1) {
            h += 1;
        }
        return sign | h as u16;
    }
    let mut h = ((e as u32) << 10) | (man >> 13);
    let rest = man & 0x1fff;
    if rest > 0x1000 || (rest == 0x1000 && h & 1 == 1) {
        h += 1;
    }
    sign | h as u16
}

/// Activation rows quantised to 8 bits per block of 32: per block the scale d and d·Σq (both through f16, as
/// ggml stores them) and the 32 values q.
#[derive(Clone, Debug, Default)]
pub struct Q8 {
    pub d: Vec<f32>,
    pub s: Vec<f32>,
    /// The quantised values (in -127..=127), widened to i16 for the kernels' 16-bit multiplies.
    pub q: Vec<[i16; QK]>,
}

/// ggml's `quantize_row_q8_1_ref` (Q8_0 has the same d and q): d = max|x|/127, q = round(x/d) half away from
/// zero. `x.len()` must be a multiple of 32.
pub fn quantize_q8(x: &[f32]) -> Q8 {
    let blocks = x.len() / QK;
    let mut out = Q8 { d: Vec::with_capacity(blocks), s: Vec::with_capacity(blocks), q: Vec::with_capacity(blocks) };
    for block in x.chunks_exact(QK) {
        let amax = block.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let d = amax / 127.0;
        let id = if d == 0.0 { 0.0 } else { 1.0 / d };
        let mut q = [0i16; QK];
        let mut sum = 0i32;
        for (q, v) in q.iter_mut().zip(block) {
            *q = i16::from(round_away(v * id) as i8);
            sum += i32::from(*q);
        }
        out.q.push(q);
        out.d.push(round_f16(d));
        out.s.push(round_f16(sum as f32 * d));
    }
    out
}

/// Whether products with `kind` quantise the activations (Q4_1, Q8_0, Q4_0) or take them in f32.
pub fn quantises(kind: GgmlType) -> bool {
    matches!(kind, GgmlType::Q4_0 | GgmlType::Q4_1 | GgmlType::Q8_0)
}

/// `x Wᵀ` for the rows of `x` (each `w.cols()` long), row-major `[rows of x][rows of w]`: each activation row is
/// quantised once, then meets every weight row.
pub fn matmul(w: &Tensor, x: &[f32]) -> Vec<f32> {
    let [y] = matmuls([w], x);
    y
}

/// [`matmul`] of several weights with the same input (a layer's q, k and v; gate and up), which is quantised once.
/// The weights must have the same number of columns.
pub fn matmuls<const N: usize>(ws: [&Tensor; N], x: &[f32]) -> [Vec<f32>; N] {
    let cols = ws.first().map_or(1, |w| w.cols()).max(1);
    let acts: Vec<Q8> =
        if ws.iter().any(|w| quantises(w.kind)) { x.chunks_exact(cols).map(quantize_q8).collect() } else { Vec::new() };
    ws.map(|w| product(w, x, &acts))
}

fn product(w: &Tensor, x: &[f32], acts: &[Q8]) -> Vec<f32> {
    let (rows, cols) = (w.rows(), w.cols());
    let t = x.len().checked_div(cols).unwrap_or(0);
    let mut out = vec![0.0f32; t * rows];
    if !quantises(w.kind) {
        for (i, xi) in x.chunks_exact(cols.max(1)).take(t).enumerate() {
            w.matvec(xi, &mut out[i * rows..(i + 1) * rows]);
        }
        return out;
    }
    #[cfg(target_arch = "wasm32")]
    simd::matmul(w.kind, w.bytes, &acts[..t], &mut out);
    #[cfg(not(target_arch = "wasm32"))]
    portable_matmul(w, &acts[..t], &mut out);
    out
}

/// [`matmul`]'s products on targets without a SIMD kernel: each weight row meets every activation row in
/// [`row_dots`] (a weight row is small enough to stay in cache while every activation row passes).
#[cfg(not(target_arch = "wasm32"))]
fn portable_matmul(w: &Tensor, acts: &[Q8], out: &mut [f32]) {
    let rows = w.rows();
    let mut sums = vec![0.0f32; acts.len()];
    for r in 0..rows {
        row_dots(w.kind, w.row(r), acts, &mut sums);
        for (i, sum) in sums.iter().enumerate() {
            out[i * rows + r] = *sum;
        }
    }
}

/// Row `r` of a quantised weight times one quantised activation row (ggml's `vec_dot`; what [`matmul`] computes
/// per element).
pub fn dot_row(w: &Tensor, r: usize, a: &Q8) -> f32 {
    #[cfg(target_arch = "wasm32")]
    return simd::dot(w.kind, w.row(r), a);
    #[cfg(not(target_arch = "wasm32"))]
    {
        let mut sum = [0.0];
        row_dots(w.kind, w.row(r), std::slice::from_ref(a), &mut sum);
        sum[0]
    }
}

/// The bytes of one quantised weight row times each of `acts`, into `sums`: each block's integer sum exactly,
/// scaled and added block after block in ggml's order. Integer sums do not depend on their order, so each target
/// adds them as it likes (wasm: [`simd`]).
#[cfg(not(target_arch = "wasm32"))]
fn row_dots(kind: GgmlType, row: &[u8], acts: &[Q8], sums: &mut [f32]) {
    let mut block = Block::default();
    sums.fill(0.0);
    for (b, bytes) in row.chunks_exact(kind.block_bytes()).enumerate() {
        block.unpack(kind, bytes);
        for (sum, a) in sums.iter_mut().zip(acts) {
            *sum += block.times(a, b);
        }
    }
}

/// Σ wᵢ·xᵢ over one block, exactly (on x86 LLVM turns this form into `pmaddwd`).
#[cfg(not(target_arch = "wasm32"))]
#[inline]
fn dot32(w: &[i16; QK], x: &[i16; QK]) -> i32 {
    w.iter().zip(x).map(|(&w, &x)| i32::from(w) * i32::from(x)).sum()
}

/// One weight block unpacked (the portable kernel): 32 signed values (Q4_0's nibbles minus 8, Q4_1's nibbles, Q8_0's bytes), its scale
/// d and, for Q4_1, its minimum m.
#[cfg(not(target_arch = "wasm32"))]
struct Block {
    q: [i16; QK],
    d: f32,
    m: f32,
    kind: GgmlType,
}

#[cfg(not(target_arch = "wasm32"))]
impl Default for Block {
    fn default() -> Self {
        Self { q: [0; QK], d: 0.0, m: 0.0, kind: GgmlType::Q8_0 }
    }
}

#[cfg(not(target_arch = "wasm32"))]
impl Block {
    fn unpack(&mut self, kind: GgmlType, bytes: &[u8]) {
        let half = |b: &[u8]| f16_to_f32(u16::from_le_bytes([b[0], b[1]]));
        self.d = half(bytes);
        self.kind = kind;
        match kind {
            GgmlType::Q4_1 | GgmlType::Q4_0 => {
                let min = kind == GgmlType::Q4_1;
                let (nibbles, offset) = if min { (&bytes[4..20], 0i16) } else { (&bytes[2..18], 8) };
                self.m = if min { half(&bytes[2..]) } else { 0.0 };
                let (lo, hi) = self.q.split_at_mut(16);
                for ((l, h), &n) in lo.iter_mut().zip(hi).zip(nibbles) {
                    *l = i16::from(n & 15) - offset;
                    *h = i16::from(n >> 4) - offset;
                }
            }
            _ => {
                for (q, &b) in self.q.iter_mut().zip(&bytes[2..34]) {
                    *q = i16::from(b as i8);
                }
            }
        }
    }

    /// This block times block `b` of `a` in the order of ggml's generic code: (d_w·d_a)·Σ + m_w·s_a for Q4_1,
    /// Σ·(d_w·d_a) for Q8_0, (Σ·d_w)·d_a for Q4_0 (the orders differ in ggml, and so in the last bit).
    #[inline]
    fn times(&self, a: &Q8, b: usize) -> f32 {
        let sumi = dot32(&self.q, &a.q[b]) as f32;
        match self.kind {
            GgmlType::Q4_1 => (self.d * a.d[b]) * sumi + self.m * a.s[b],
            GgmlType::Q4_0 => sumi * self.d * a.d[b],
            _ => sumi * (self.d * a.d[b]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f16_rounding_is_ieee_nearest_even() {
        for (x, bits) in
            [(1.0f32, 0x3c00u16), (65504.0, 0x7bff), (65520.0, 0x7c00), (-2.0, 0xc000), (5.960_464_5e-8, 1)]
        {
            assert_eq!(f32_to_f16(x), bits, "{x}");
        }
        // 1 + 2^-11 lies halfway between 1 and 1 + 2^-10: to the even mantissa, 1.
        assert_eq!(f32_to_f16(1.0 + 2f32.powi(-11)), 0x3c00);
        assert_eq!(f32_to_f16(1.0 + 3.0 * 2f32.powi(-11)), 0x3c02);
        for h in (0u16..0x7c00).step_by(7) {
            assert_eq!(f32_to_f16(f16_to_f32(h)), h, "round trip of {h:#x}");
        }
    }

    #[test]
    fn branch_free_f16_rounding_matches_the_conversions() {
        for bits in
            (0..=u32::MAX).step_by(4099).chain([0x3880_0000, 0x387f_ffff, 0x477f_efff, 0x477f_f000, 0x7f80_0001])
        {
            let x = f32::from_bits(bits);
            let want = f16_to_f32(f32_to_f16(x));
            let got = round_f16(x);
            assert!(got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()), "{bits:#x}: {got} vs {want}");
        }
    }

    #[test]
    fn round_away_is_round() {
        for bits in
            (0..=u32::MAX).step_by(4099).chain([0x3eff_ffff, 0x3f00_0000, 0x3fc0_0000, 0x4b00_0001, 0xbf00_0000])
        {
            let x = f32::from_bits(bits);
            let (got, want) = (round_away(x), x.round());
            assert!(got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()), "{bits:#x}: {got} vs {want}");
        }
    }

    #[test]
    fn q8_blocks_follow_ggml() {
        let x: Vec<f32> = (0..64).map(|i| (i as f32 - 20.5) * 0.37).collect();
        let q = quantize_q8(&x);
        let amax = 42.5f32 * 0.37;
        assert_eq!(q.d[1], round_f16(amax / 127.0));
        assert_eq!(q.q[1][31], 127);
        assert_eq!(q.q[0][0], (-20.5f32 * 0.37 * 127.0 / (20.5 * 0.37)).round() as i16);
        let sum: i32 = q.q[0].iter().map(|&v| i32::from(v)).sum();
        assert_eq!(q.s[0], round_f16(sum as f32 * (20.5 * 0.37 / 127.0)));
        let zero = quantize_q8(&[0.0; 32]);
        assert!(zero.q[0].iter().all(|&v| v == 0) && zero.d[0] == 0.0);
    }
}
