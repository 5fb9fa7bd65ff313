pub const QK: usize = 32;
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum GgmlType {
    Q4_0,
    Q4_1,
    Q8_0,
}
impl GgmlType {
    pub fn block_bytes(self) -> usize {
        match self {
            Self::Q4_0 => 18,
            Self::Q4_1 => 20,
            Self::Q8_0 => 34,
        }
    }
}
pub struct Q8 {
    pub d: Vec<f32>,
    pub s: Vec<f32>,
    pub q: Vec<[i16; QK]>,
}
#[path = "../../src/nn/quant/simd.rs"]
mod simd;
pub fn f16_to_f32(h: u16) -> f32 {
    let h = u32::from(h);
    let magnitude = h & 0x7fff;
    let finite = (f32::from_bits(magnitude << 13) * f32::from_bits(0x7780_0000)).to_bits();
    let bits = if magnitude >= 0x7c00 { 0x7f80_0000 | ((magnitude & 0x3ff) << 13) } else { finite };
    f32::from_bits(bits | ((h & 0x8000) << 16))
}
fn half(b: &[u8]) -> f32 {
    f16_to_f32(u16::from_le_bytes([b[0], b[1]]))
}
/// The plain per-block arithmetic (the portable kernel's, written out again).
fn reference(kind: GgmlType, row: &[u8], a: &Q8) -> f32 {
    let mut sum = 0.0f32;
    for (b, by) in row.chunks_exact(kind.block_bytes()).enumerate() {
        let d = half(by);
        let (q, m): (Vec<i32>, f32) = match kind {
            GgmlType::Q4_1 => (
                (0..32).map(|i| i32::from(if i < 16 { by[4 + i] & 15 } else { by[4 + i - 16] >> 4 })).collect(),
                half(&by[2..]),
            ),
            GgmlType::Q4_0 => (
                (0..32).map(|i| i32::from(if i < 16 { by[2 + i] & 15 } else { by[2 + i - 16] >> 4 }) - 8).collect(),
                0.0,
            ),
            _ => ((0..32).map(|i| i32::from(by[2 + i] as i8)).collect(), 0.0),
        };
        let sumi = q.iter().zip(&a.q[b]).map(|(w, x)| w * i32::from(*x)).sum::<i32>() as f32;
        sum += match kind {
            GgmlType::Q4_1 => (d * a.d[b]) * sumi + m * a.s[b],
            GgmlType::Q4_0 => sumi * d * a.d[b],
            _ => sumi * (d * a.d[b]),
        };
    }
    sum
}
pub struct Case {
    kind: GgmlType,
    w: Vec<u8>,
    acts: Vec<Q8>,
    rows: usize,
    out: Vec<f32>,
}
pub fn case(kind: GgmlType, rows: usize, cols: usize, t: usize) -> Case {
    let mut seed = 12345u64;
    let mut rnd = || {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (seed >> 33) as u32
    };
    let blocks = cols / QK;
    let bb = kind.block_bytes();
    let mut w = vec![0u8; rows * blocks * bb];
    for blk in w.chunks_exact_mut(bb) {
        blk[0..2].copy_from_slice(&(0x2000u16 + (rnd() % 0x800) as u16).to_le_bytes());
        blk[2..4].copy_from_slice(&(0xa000u16 + (rnd() % 0x800) as u16).to_le_bytes());
        for b in &mut blk[if kind == GgmlType::Q4_1 { 4 } else { 2 }..] {
            *b = rnd() as u8;
        }
    }
    let acts = activations(&mut rnd, cols, t);
    Case { kind, w, acts, rows, out: vec![0.0; rows * t] }
}
/// `t` random quantised activation rows of `cols`.
pub fn activations(rnd: &mut impl FnMut() -> u32, cols: usize, t: usize) -> Vec<Q8> {
    let blocks = cols / QK;
    let mut block = || {
        let mut q = [0i16; 32];
        for v in &mut q {
            *v = (rnd() % 255) as i16 - 127;
        }
        q
    };
    (0..t)
        .map(|_| {
            let q: Vec<_> = (0..blocks).map(|_| block()).collect();
            let d = (0..blocks).map(|b| (q[b][0] + 128) as f32 * 1e-5).collect();
            let s = (0..blocks).map(|b| (q[b][1] + 128) as f32 * 1e-3 - 0.1).collect();
            Q8 { d, s, q }
        })
        .collect()
}
/// The SIMD kernel on `w` (rows of whole blocks of `kind`) and `acts`, into `out`.
pub fn matmul(kind: GgmlType, w: &[u8], acts: &[Q8], out: &mut [f32]) {
    simd::matmul(kind, w, acts, out);
}
/// `x Wᵀ` by the SIMD kernel (`simd_on`) or the reference; returns a checksum.
pub fn run(c: &mut Case, simd_on: bool) -> f32 {
    if simd_on {
        matmul(c.kind, &c.w, &c.acts, &mut c.out);
    } else {
        let rb = c.w.len() / c.rows;
        for r in 0..c.rows {
            let row = &c.w[r * rb..(r + 1) * rb];
            for (i, a) in c.acts.iter().enumerate() {
                c.out[i * c.rows + r] = reference(c.kind, row, a);
            }
        }
    }
    c.out.iter().fold(0.0, |a, b| a + b)
}
/// Bit-exact check of every output.
pub fn check(kind: u32, rows: usize, cols: usize, t: usize) -> u32 {
    let kind = [GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q8_0][kind as usize];
    let mut c = case(kind, rows, cols, t);
    run(&mut c, false);
    let want = c.out.clone();
    run(&mut c, true);
    let rb = c.w.len() / c.rows;
    let single = (0..c.rows * t).map(|k| simd::dot(c.kind, &c.w[k % c.rows * rb..][..rb], &c.acts[k / c.rows]));
    let differ = |(a, b): (&f32, f32)| u32::from(a.to_bits() != b.to_bits());
    want.iter().zip(c.out.iter().copied()).map(differ).sum::<u32>() + want.iter().zip(single).map(differ).sum::<u32>()
}
