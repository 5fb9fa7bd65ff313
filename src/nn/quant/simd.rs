//! The wasm SIMD kernel of [`super::matmul`] and [`super::dot_row`]. LLVM's own vectorisation of the portable
//! kernel widens every product to i32 and keeps the blocks apart (measured in Node: 41 ns per Q4_1 block; this
//! kernel: 9–11 ns). Per block the 32 products are taken as i8 × i8 → i16 (`extmul`) and summed in i16 where that
//! cannot overflow (|w| ≤ 15 with |a| ≤ 127 for four products; |w| ≤ 128 for two), then widened; four blocks share
//! one horizontal reduction and one vector of float work. (Splitting a group's weights once for all the activation
//! rows of a batch measured slower: the 8 vectors do not stay in registers.) The float work is lane for lane what
//! the portable kernel does (no FMA: a multiply rounds, then an add), and the four lanes are added to the row's sum
//! one after another, so the result is bit for bit the portable kernel's.

use core::arch::wasm32::{
    f32x4, f32x4_add, f32x4_convert_i32x4, f32x4_extract_lane, f32x4_mul, f32x4_splat, i16x8_add,
    i16x8_extmul_high_i8x16, i16x8_extmul_low_i8x16, i32x4_add, i32x4_extadd_pairwise_i16x8, i32x4_shuffle,
    i32x4_splat, i8x16, i8x16_splat, i8x16_sub, u32x4, u32x4_shl, u32x4_splat, u8x16, u8x16_shr, u8x16_splat, v128,
    v128_and, v128_or,
};

use super::{GgmlType, Q8, QK};

/// One quantised weight row (`row`, whole blocks of `kind`) times each activation row of `acts`, into `sums`.
pub(super) fn row_dots(kind: GgmlType, row: &[u8], acts: &[Q8], sums: &mut [f32]) {
    match kind {
        GgmlType::Q4_0 => dots::<Q4_0>(row, acts, sums),
        GgmlType::Q4_1 => dots::<Q4_1>(row, acts, sums),
        _ => dots::<Q8_0>(row, acts, sums),
    }
}

/// A block format: its size, its weights as two i8x16, its integer sums and its scaling.
trait Format {
    const SIZE: usize;
    fn weights(bytes: &[u8]) -> [v128; 2];
    /// One block's integer products of weights `w` with `q`, as four i32 partial sums. By default four products
    /// per i16 lane, exact for 4-bit weights: at most 15·127 (Q4_1) or 8·127 (Q4_0) each.
    #[inline]
    fn sum(w: &[v128; 2], q: &[i8; QK]) -> v128 {
        let (q0, q1) = (load_i8(&q[..16]), load_i8(&q[16..]));
        i32x4_extadd_pairwise_i16x8(i16x8_add(pairs(w[0], q0), pairs(w[1], q1)))
    }
    /// The blocks' terms in ggml's order, from their sums, scales d and minima m, and the activations' d_a, s_a.
    fn terms(sums: v128, d: v128, m: v128, ad: v128, s: v128) -> v128;
}

struct Q4_0;
struct Q4_1;
struct Q8_0;

/// The sums of i8 × i8 products two at a time, as i16 (exact when each pair's sum fits).
#[inline]
fn pairs(w: v128, q: v128) -> v128 {
    i16x8_add(i16x8_extmul_low_i8x16(w, q), i16x8_extmul_high_i8x16(w, q))
}

impl Format for Q4_0 {
    const SIZE: usize = 18;
    #[inline]
    fn weights(bytes: &[u8]) -> [v128; 2] {
        let v = load_u8(&bytes[2..18]);
        [i8x16_sub(v128_and(v, u8x16_splat(15)), i8x16_splat(8)), i8x16_sub(u8x16_shr(v, 4), i8x16_splat(8))]
    }
    #[inline]
    fn terms(sums: v128, d: v128, _: v128, ad: v128, _: v128) -> v128 {
        f32x4_mul(f32x4_mul(sums, d), ad)
    }
}

impl Format for Q4_1 {
    const SIZE: usize = 20;
    #[inline]
    fn weights(bytes: &[u8]) -> [v128; 2] {
        let v = load_u8(&bytes[4..20]);
        [v128_and(v, u8x16_splat(15)), u8x16_shr(v, 4)]
    }
    #[inline]
    fn terms(sums: v128, d: v128, m: v128, ad: v128, s: v128) -> v128 {
        f32x4_add(f32x4_mul(f32x4_mul(d, ad), sums), f32x4_mul(m, s))
    }
}

impl Format for Q8_0 {
    const SIZE: usize = 34;
    #[inline]
    fn weights(bytes: &[u8]) -> [v128; 2] {
        [load_u8(&bytes[2..18]), load_u8(&bytes[18..34])]
    }
    #[inline]
    fn sum(w: &[v128; 2], q: &[i8; QK]) -> v128 {
        let (q0, q1) = (load_i8(&q[..16]), load_i8(&q[16..]));
        // Two products of at most 128·127 per i16 lane: each pair widened.
        i32x4_add(i32x4_extadd_pairwise_i16x8(pairs(w[0], q0)), i32x4_extadd_pairwise_i16x8(pairs(w[1], q1)))
    }
    #[inline]
    fn terms(sums: v128, d: v128, _: v128, ad: v128, _: v128) -> v128 {
        f32x4_mul(sums, f32x4_mul(d, ad))
    }
}

/// [`row_dots`] for format `F`: one activation row after another, four blocks at a time, then a row's last one to
/// three blocks one at a time.
fn dots<F: Format>(row: &[u8], acts: &[Q8], sums: &mut [f32]) {
    let groups = row.chunks_exact(4 * F::SIZE);
    let rest = groups.remainder();
    let first = row.len() / F::SIZE - rest.len() / F::SIZE;
    for (sum, a) in sums.iter_mut().zip(acts) {
        let mut s = 0.0;
        for (g, bytes) in groups.clone().enumerate() {
            s = group::<F>(bytes, 4 * g, a, s);
        }
        for (k, bytes) in rest.chunks_exact(F::SIZE).enumerate() {
            s = single::<F>(bytes, first + k, a, s);
        }
        *sum = s;
    }
}

/// `sum` plus blocks `b..b + 4` (in `bytes`) times activation row `a`, added block after block.
#[inline]
fn group<F: Format>(bytes: &[u8], b: usize, a: &Q8, sum: f32) -> f32 {
    let half = |at: usize| {
        let h = |k: usize| f16_bits(&bytes[k * F::SIZE + at..]);
        f16x4(u32x4(h(0), h(1), h(2), h(3)))
    };
    let lanes = |v: &[f32]| {
        let v = &v[b..b + 4];
        f32x4(v[0], v[1], v[2], v[3])
    };
    let partial = |k: usize| F::sum(&F::weights(&bytes[k * F::SIZE..]), &a.q[b + k]);
    let sumi = f32x4_convert_i32x4(reduce4(partial(0), partial(1), partial(2), partial(3)));
    let terms = F::terms(sumi, half(0), half(2), lanes(&a.d), lanes(&a.s));
    (((sum + f32x4_extract_lane::<0>(terms)) + f32x4_extract_lane::<1>(terms)) + f32x4_extract_lane::<2>(terms))
        + f32x4_extract_lane::<3>(terms)
}

/// `sum` plus block `b` (in `bytes`) times activation row `a`, through lane 0 of the same vector arithmetic.
fn single<F: Format>(bytes: &[u8], b: usize, a: &Q8, sum: f32) -> f32 {
    let zero = i32x4_splat(0);
    let sumi = f32x4_convert_i32x4(reduce4(F::sum(&F::weights(bytes), &a.q[b]), zero, zero, zero));
    let half = |at: usize| f16x4(u32x4_splat(f16_bits(&bytes[at..])));
    let terms = F::terms(sumi, half(0), half(2), f32x4_splat(a.d[b]), f32x4_splat(a.s[b]));
    sum + f32x4_extract_lane::<0>(terms)
}

/// The four lane sums of each of four vectors, as one vector.
#[inline]
fn reduce4(s0: v128, s1: v128, s2: v128, s3: v128) -> v128 {
    let a = i32x4_add(i32x4_shuffle::<0, 4, 1, 5>(s0, s1), i32x4_shuffle::<2, 6, 3, 7>(s0, s1));
    let b = i32x4_add(i32x4_shuffle::<0, 4, 1, 5>(s2, s3), i32x4_shuffle::<2, 6, 3, 7>(s2, s3));
    i32x4_add(i32x4_shuffle::<0, 1, 4, 5>(a, b), i32x4_shuffle::<2, 3, 6, 7>(a, b))
}

/// Four f16 scales (finite, as in any valid file) to f32 exactly, as [`super::f16_to_f32`] does it: the magnitude
/// bits moved into place and multiplied by 2^112, the sign put back.
#[inline]
fn f16x4(bits: v128) -> v128 {
    let magnitude = v128_and(bits, u32x4_splat(0x7fff));
    let value = f32x4_mul(u32x4_shl(magnitude, 13), f32x4_splat(f32::from_bits(0x7780_0000)));
    v128_or(value, u32x4_shl(v128_and(bits, u32x4_splat(0x8000)), 16))
}

#[inline]
fn f16_bits(b: &[u8]) -> u32 {
    u32::from(u16::from_le_bytes([b[0], b[1]]))
}

#[inline]
fn load_u8(b: &[u8]) -> v128 {
    u8x16(b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15])
}

#[inline]
fn load_i8(b: &[i8]) -> v128 {
    i8x16(b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15])
}
