//! The wasm SIMD kernel of [`super::matmul`] and [`super::dot_row`]. Per block the 32 weights are widened to four
//! i16x8 and multiplied with the activations (kept as i16 in [`Q8`]) by `i32x4.dot_i16x8_s` (x86's `pmaddwd`:
//! exact, |w·a| ≤ 128·127). The integer sums of four blocks (of one row, or one block of four rows) share one
//! horizontal reduction and one vector of float work, whose lanes are lane for lane what the portable kernel does
//! (no FMA: a multiply rounds, then an add), added to each row's sum in block order, so every result is bit for bit
//! the portable kernel's.
//!
//! Two shapes (Node, one thread; `benches/llama-kernel.mjs` times them on the model's own weights):
//! - one activation row (decode): eight weight rows at a time, one from each eighth of the matrix, so that eight
//!   streams of weights come from memory at once (a decode step reads ~96 MB, more than the caches hold) and a
//!   block's activations are loaded once for eight rows; the float work takes four rows to a vector, each lane
//!   one row's sum: 3.2 ns per block on the real weights, against 4.0 for row i of a matrix's first half with row
//!   i of its second half (four blocks of one row to a vector), 3.3–3.6 for four rows from the quarters and
//!   7.6–10 for the i8 `extmul` kernel of the first version (random weights that stay in cache flatter it 2x);
//! - many rows (prefill): each block is widened once and meets 32 activation rows at a time ([`CHUNK`]), its four
//!   partial sums kept per row; then the float work takes four rows to a vector, each lane one row's sum, its
//!   blocks scaled and added in order: 2.9–3.1 ns per block·row, against 3.4–3.7 with the float work one row at a
//!   time (four blocks to a vector, whose lanes are then added one by one) and 4.3 without the chunks.

use core::arch::wasm32::{
    f32x4, f32x4_add, f32x4_convert_i32x4, f32x4_extract_lane, f32x4_mul, f32x4_splat, i16x8, i16x8_extend_high_i8x16,
    i16x8_extend_low_i8x16, i16x8_splat, i16x8_sub, i32x4_add, i32x4_dot_i16x8, i32x4_shuffle, i32x4_splat,
    u16x8_extend_high_u8x16, u16x8_extend_low_u8x16, u16x8_shr, u16x8_splat, u32x4, u32x4_shl, u32x4_shr, u32x4_splat,
    u8x16, v128, v128_and, v128_or,
};

use super::{GgmlType, Q8, QK};

/// `x Wᵀ` for quantised weights `w` (`out.len() / acts.len()` rows of whole blocks of `kind`) and activation rows
/// `acts`, into `out` (`[activation row][weight row]`).
pub(super) fn matmul(kind: GgmlType, w: &[u8], acts: &[Q8], out: &mut [f32]) {
    match kind {
        GgmlType::Q4_0 => matmul_as::<Q4_0>(w, acts, out),
        GgmlType::Q4_1 => matmul_as::<Q4_1>(w, acts, out),
        _ => matmul_as::<Q8_0>(w, acts, out),
    }
}

/// One weight row (whole blocks of `kind`) times one activation row.
pub(super) fn dot(kind: GgmlType, row: &[u8], a: &Q8) -> f32 {
    match kind {
        GgmlType::Q4_0 => row_dot::<Q4_0>(row, a),
        GgmlType::Q4_1 => row_dot::<Q4_1>(row, a),
        _ => row_dot::<Q8_0>(row, a),
    }
}

/// A block format: its size, its weights as four i16x8, its scales and its float terms.
trait Format {
    const SIZE: usize;
    /// The block's 32 weights as four i16x8, in order.
    fn weights(bytes: &[u8]) -> [v128; 4];
    /// The scales d (and Q4_1's minima m, else zeros) of four blocks, as f32.
    #[inline]
    fn scales(blocks: [&[u8]; 4]) -> (v128, v128) {
        let [b0, b1, b2, b3] = blocks;
        (f16x4(u32x4(f16_bits(b0), f16_bits(b1), f16_bits(b2), f16_bits(b3))), f32x4_splat(0.0))
    }
    /// The blocks' terms in ggml's order, from their sums, scales d and minima m, and the activations' d_a, s_a.
    fn terms(sums: v128, d: v128, m: v128, ad: v128, s: v128) -> v128;
}

struct Q4_0;
struct Q4_1;
struct Q8_0;

/// Sixteen bytes of nibbles as weights 0–7, 8–15 (low nibbles), 16–23, 24–31 (high nibbles).
#[inline]
fn nibbles(v: v128) -> [v128; 4] {
    let (lo, hi) = (u16x8_extend_low_u8x16(v), u16x8_extend_high_u8x16(v));
    let mask = u16x8_splat(15);
    [v128_and(lo, mask), v128_and(hi, mask), u16x8_shr(lo, 4), u16x8_shr(hi, 4)]
}

impl Format for Q4_0 {
    const SIZE: usize = 18;
    #[inline]
    fn weights(bytes: &[u8]) -> [v128; 4] {
        let eight = i16x8_splat(8);
        nibbles(load_u8(&bytes[2..18])).map(|w| i16x8_sub(w, eight))
    }
    #[inline]
    fn terms(sums: v128, d: v128, _: v128, ad: v128, _: v128) -> v128 {
        f32x4_mul(f32x4_mul(sums, d), ad)
    }
}

impl Format for Q4_1 {
    const SIZE: usize = 20;
    #[inline]
    fn weights(bytes: &[u8]) -> [v128; 4] {
        nibbles(load_u8(&bytes[4..20]))
    }
    /// d and m are adjacent: one u32 per block.
    #[allow(clippy::inline_always)] // measured: left to the compiler, a call per block in the decode loop
    #[inline(always)]
    fn scales(blocks: [&[u8]; 4]) -> (v128, v128) {
        let h = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        let [b0, b1, b2, b3] = blocks;
        let both = u32x4(h(b0), h(b1), h(b2), h(b3));
        (f16x4(v128_and(both, u32x4_splat(0xffff))), f16x4(u32x4_shr(both, 16)))
    }
    #[inline]
    fn terms(sums: v128, d: v128, m: v128, ad: v128, s: v128) -> v128 {
        f32x4_add(f32x4_mul(f32x4_mul(d, ad), sums), f32x4_mul(m, s))
    }
}

impl Format for Q8_0 {
    const SIZE: usize = 34;
    #[inline]
    fn weights(bytes: &[u8]) -> [v128; 4] {
        let (a, b) = (load_u8(&bytes[2..18]), load_u8(&bytes[18..34]));
        [i16x8_extend_low_i8x16(a), i16x8_extend_high_i8x16(a), i16x8_extend_low_i8x16(b), i16x8_extend_high_i8x16(b)]
    }
    #[inline]
    fn terms(sums: v128, d: v128, _: v128, ad: v128, _: v128) -> v128 {
        f32x4_mul(sums, f32x4_mul(d, ad))
    }
}

/// Activation rows per pass over the weights in prefill: their partial sums (16 bytes per block and row) stay in L1.
const CHUNK: usize = 32;

fn matmul_as<F: Format>(w: &[u8], acts: &[Q8], out: &mut [f32]) {
    match acts {
        [] => {}
        [a] => matvec::<F>(w, a, out),
        _ => {
            let rows = out.len() / acts.len();
            let row_bytes = w.len() / rows.max(1);
            let mut scratch = Scratch::default();
            for (c, chunk) in acts.chunks(CHUNK).enumerate() {
                scratch.take(chunk, row_bytes / F::SIZE);
                for (r, row) in w.chunks_exact(row_bytes).enumerate() {
                    scratch.row_dots::<F>(row, chunk);
                    for (i, sum) in scratch.sums[..chunk.len()].iter().enumerate() {
                        out[(c * CHUNK + i) * rows + r] = *sum;
                    }
                }
            }
        }
    }
}

/// One activation row times every weight row, eight at a time: rows i, i + n/8, …, i + 7n/8, so that eight streams
/// of weights come from memory at once (decode reads ~96 MB per token, more than the caches hold) and each block's
/// activations are loaded once for eight rows. Per block, four rows' integer sums are reduced into one vector whose
/// lane k is row k's, and its float terms are added lane for lane: each lane is one row's sum, block after block.
fn matvec<F: Format>(w: &[u8], a: &Q8, out: &mut [f32]) {
    let row_bytes = w.len() / out.len().max(1);
    let eighth = out.len() / 8;
    let (eight, rest) = out.split_at_mut(8 * eighth);
    for i in 0..eighth {
        let row = |k: usize| w[(i + k * eighth) * row_bytes..][..row_bytes].chunks_exact(F::SIZE);
        let low = row(0).zip(row(1)).zip(row(2).zip(row(3)));
        let high = row(4).zip(row(5)).zip(row(6).zip(row(7)));
        let (mut s0, mut s1) = (f32x4_splat(0.0), f32x4_splat(0.0));
        for (b, (((b0, b1), (b2, b3)), ((b4, b5), (b6, b7)))) in low.zip(high).enumerate() {
            let q = load_q(&a.q[b]);
            let (ad, s) = (f32x4_splat(a.d[b]), f32x4_splat(a.s[b]));
            s0 = four_rows::<F>([b0, b1, b2, b3], &q, ad, s, s0);
            s1 = four_rows::<F>([b4, b5, b6, b7], &q, ad, s, s1);
        }
        for (k, sum) in to_array(s0).into_iter().chain(to_array(s1)).enumerate() {
            eight[i + k * eighth] = sum;
        }
    }
    for (k, o) in rest.iter_mut().enumerate() {
        *o = row_dot::<F>(&w[(8 * eighth + k) * row_bytes..][..row_bytes], a);
    }
}

/// `sum` plus the terms of one block of four weight rows (`blocks`) against activations `q` with scales `ad`, `s`:
/// lane k is row k's.
#[allow(clippy::inline_always)] // the decode loop's body
#[inline(always)]
fn four_rows<F: Format>(blocks: [&[u8]; 4], q: &[v128; 4], ad: v128, s: v128, sum: v128) -> v128 {
    let [b0, b1, b2, b3] = blocks;
    let sumi = reduce4(block::<F>(b0, q), block::<F>(b1, q), block::<F>(b2, q), block::<F>(b3, q));
    let (d, m) = F::scales(blocks);
    f32x4_add(sum, F::terms(f32x4_convert_i32x4(sumi), d, m, ad, s))
}

#[inline]
fn to_array(v: v128) -> [f32; 4] {
    [f32x4_extract_lane::<0>(v), f32x4_extract_lane::<1>(v), f32x4_extract_lane::<2>(v), f32x4_extract_lane::<3>(v)]
}

/// One weight row times one activation row: four blocks at a time, then the last one to three one at a time.
fn row_dot<F: Format>(row: &[u8], a: &Q8) -> f32 {
    let groups = row.chunks_exact(4 * F::SIZE);
    let rest = groups.remainder();
    let first = (row.len() - rest.len()) / F::SIZE;
    let mut s = 0.0;
    for (g, bytes) in groups.enumerate() {
        s = group::<F>(bytes, 4 * g, a, s);
    }
    for (k, bytes) in rest.chunks_exact(F::SIZE).enumerate() {
        s = single::<F>(bytes, first + k, a, s);
    }
    s
}

/// What one weight row needs against a chunk of activation rows, kept between rows. The rows are padded to a
/// multiple of four with zeros, so that the float work takes four rows to a vector.
#[derive(Default)]
struct Scratch {
    /// Block-major: `partial[b · rows + i]` holds block b's four partial integer sums against activation row i.
    partial: Vec<v128>,
    /// Block-major: the activation rows' d and s of each block.
    ad: Vec<f32>,
    s: Vec<f32>,
    /// The weight row's d and m (Q4_1's minimum; else unused) of each block.
    d: Vec<v128>,
    m: Vec<v128>,
    /// Per row of the chunk, its product with the weight row; its length is the padded row count (`rows` above).
    sums: Vec<f32>,
}

impl Scratch {
    /// Lays out the activation rows' scales block-major, once per chunk.
    fn take(&mut self, acts: &[Q8], blocks: usize) {
        let rows = acts.len().div_ceil(4) * 4;
        self.partial = vec![i32x4_splat(0); blocks * rows];
        (self.ad, self.s) = (vec![0.0; blocks * rows], vec![0.0; blocks * rows]);
        for (i, a) in acts.iter().enumerate() {
            for b in 0..blocks {
                (self.ad[b * rows + i], self.s[b * rows + i]) = (a.d[b], a.s[b]);
            }
        }
        self.sums = vec![0.0; rows];
    }

    /// `self.sums[i]` = `row` times `acts[i]`: the integer sums of every block and row, then per block the float
    /// terms of four rows in one vector, added to their sums block after block.
    fn row_dots<F: Format>(&mut self, row: &[u8], acts: &[Q8]) {
        let n = self.sums.len();
        self.d.clear();
        self.m.clear();
        for (b, bytes) in row.chunks_exact(F::SIZE).enumerate() {
            let w = F::weights(bytes);
            for (p, a) in self.partial[b * n..][..acts.len()].iter_mut().zip(acts) {
                *p = block_sum(&w, &load_q(&a.q[b]));
            }
            self.d.push(f32x4_splat(half(bytes)));
            self.m.push(f32x4_splat(half(&bytes[2..])));
        }
        for i in (0..n).step_by(4) {
            let mut sum = f32x4_splat(0.0);
            for (b, (&d, &m)) in self.d.iter().zip(&self.m).enumerate() {
                let p = &self.partial[b * n + i..][..4];
                let sumi = f32x4_convert_i32x4(reduce4(p[0], p[1], p[2], p[3]));
                sum = f32x4_add(sum, F::terms(sumi, d, m, lanes(&self.ad, b * n + i), lanes(&self.s, b * n + i)));
            }
            self.sums[i..i + 4].copy_from_slice(&to_array(sum));
        }
    }
}

/// One block's products as four i32 partial sums.
#[allow(clippy::inline_always)] // measured: 8.3 → 7.6 ns per block with them inlined into the loops
#[inline(always)]
fn block_sum(w: &[v128; 4], q: &[v128; 4]) -> v128 {
    let dot = |k: usize| i32x4_dot_i16x8(w[k], q[k]);
    i32x4_add(i32x4_add(dot(0), dot(1)), i32x4_add(dot(2), dot(3)))
}

/// `sum` plus blocks `b..b + 4` (in `bytes`) times activation row `a`, added block after block.
#[allow(clippy::inline_always)] // measured: 8.3 → 7.6 ns per block with them inlined into the loops
#[inline(always)]
fn group<F: Format>(bytes: &[u8], b: usize, a: &Q8, sum: f32) -> f32 {
    let sumi = reduce4(
        block::<F>(bytes, &load_q(&a.q[b])),
        block::<F>(&bytes[F::SIZE..], &load_q(&a.q[b + 1])),
        block::<F>(&bytes[2 * F::SIZE..], &load_q(&a.q[b + 2])),
        block::<F>(&bytes[3 * F::SIZE..], &load_q(&a.q[b + 3])),
    );
    let (d, m) = F::scales([bytes, &bytes[F::SIZE..], &bytes[2 * F::SIZE..], &bytes[3 * F::SIZE..]]);
    add_lanes(sum, F::terms(f32x4_convert_i32x4(sumi), d, m, lanes(&a.d, b), lanes(&a.s, b)))
}

/// One block's products (weights in `bytes`, activations `q`) as four i32 partial sums.
#[allow(clippy::inline_always)] // measured: 8.3 → 7.6 ns per block with them inlined into the loops
#[inline(always)]
fn block<F: Format>(bytes: &[u8], q: &[v128; 4]) -> v128 {
    block_sum(&F::weights(bytes), q)
}

/// `sum` plus the four lanes of `t`, one after another.
#[inline]
fn add_lanes(sum: f32, t: v128) -> f32 {
    (((sum + f32x4_extract_lane::<0>(t)) + f32x4_extract_lane::<1>(t)) + f32x4_extract_lane::<2>(t))
        + f32x4_extract_lane::<3>(t)
}

/// Four consecutive f32 from `v[b..]`.
#[inline]
fn lanes(v: &[f32], b: usize) -> v128 {
    let v = &v[b..b + 4];
    f32x4(v[0], v[1], v[2], v[3])
}

/// The four lane sums of each of four vectors, as one vector.
#[inline]
fn reduce4(s0: v128, s1: v128, s2: v128, s3: v128) -> v128 {
    let a = i32x4_add(i32x4_shuffle::<0, 4, 1, 5>(s0, s1), i32x4_shuffle::<2, 6, 3, 7>(s0, s1));
    let b = i32x4_add(i32x4_shuffle::<0, 4, 1, 5>(s2, s3), i32x4_shuffle::<2, 6, 3, 7>(s2, s3));
    i32x4_add(i32x4_shuffle::<0, 1, 4, 5>(a, b), i32x4_shuffle::<2, 3, 6, 7>(a, b))
}

/// Four f16 scales (finite, as in any valid file; upper bits clear) to f32 exactly, as [`super::f16_to_f32`] does
/// it: the magnitude bits moved into place and multiplied by 2^112, the sign put back.
#[inline]
fn f16x4(bits: v128) -> v128 {
    let magnitude = v128_and(bits, u32x4_splat(0x7fff));
    let value = f32x4_mul(u32x4_shl(magnitude, 13), f32x4_splat(f32::from_bits(0x7780_0000)));
    v128_or(value, u32x4_shl(v128_and(bits, u32x4_splat(0x8000)), 16))
}

/// The f16 at the start of `b` as f32 (a block's d; at byte 2, Q4_1's m, which the other formats' terms ignore).
#[inline]
fn half(b: &[u8]) -> f32 {
    f32x4_extract_lane::<0>(f16x4(u32x4_splat(f16_bits(b))))
}

#[inline]
fn f16_bits(b: &[u8]) -> u32 {
    u32::from(u16::from_le_bytes([b[0], b[1]]))
}

#[inline]
fn load_u8(b: &[u8]) -> v128 {
    u8x16(b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15])
}

/// A block's 32 activations as four i16x8.
#[inline]
fn load_q(q: &[i16; QK]) -> [v128; 4] {
    let load = |b: &[i16]| i16x8(b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]);
    [load(&q[..8]), load(&q[8..16]), load(&q[16..24]), load(&q[24..])]
}

/// `sum` plus block `b` (in `bytes`) times activation row `a`, through lane 0 of [`group`]'s vector arithmetic (a
/// row's last one to three blocks: padding them to a group measured slower).
fn single<F: Format>(bytes: &[u8], b: usize, a: &Q8, sum: f32) -> f32 {
    let zero = i32x4_splat(0);
    let sumi = f32x4_convert_i32x4(reduce4(block::<F>(bytes, &load_q(&a.q[b])), zero, zero, zero));
    let (d, m) = (f32x4_splat(half(bytes)), f32x4_splat(half(&bytes[2..])));
    sum + f32x4_extract_lane::<0>(F::terms(sumi, d, m, f32x4_splat(a.d[b]), f32x4_splat(a.s[b])))
}
