//! A counter-based random generator: Philox4x32-10 (Salmon et al., SC'11, the generator of cuRAND and JAX).
//! A draw is a pure function of (seed, stream, index), so the bootstrap gives the same resamples natively, in wasm
//! and in a WGSL kernel, whatever the chunking or thread order. It is hand-written (30 lines) because the GPU twin
//! must compute bit-identical values, which no crate's internal state layout promises.

const M0: u32 = 0xD251_1F53;
const M1: u32 = 0xCD9E_8D57;
const W0: u32 = 0x9E37_79B9;
const W1: u32 = 0xBB67_AE85;

fn mulhilo(a: u32, b: u32) -> (u32, u32) {
    let p = u64::from(a) * u64::from(b);
    ((p >> 32) as u32, p as u32)
}

/// Philox4x32 with 10 rounds.
pub fn philox4x32(counter: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let (mut c, mut k) = (counter, key);
    for _ in 0..10 {
        let (hi0, lo0) = mulhilo(M0, c[0]);
        let (hi1, lo1) = mulhilo(M1, c[2]);
        c = [hi1 ^ c[1] ^ k[0], lo1, hi0 ^ c[3] ^ k[1], lo0];
        k = [k[0].wrapping_add(W0), k[1].wrapping_add(W1)];
    }
    c
}

/// Exactly uniform integers in `[0, n)`: draw `i` of stream `stream` comes from word `i % 4` of the Philox block at
/// counter `(i / 4, stream, 0)`, mapped by Lemire's multiply-shift with rejection (integer-only, so native code,
/// wasm and WGSL agree bit for bit). A rejected word (probability below n / 2^32) is redrawn from the block at
/// counter `(i, stream, attempt)`, attempt = 1, 2, ...
#[derive(Clone, Copy, Debug)]
pub struct Draws {
    key: [u32; 2],
    stream: u32,
}

impl Draws {
    /// Draws of `stream` (e.g. the bootstrap replicate) under `seed`.
    pub fn new(seed: u64, stream: u32) -> Self {
        Self { key: [seed as u32, (seed >> 32) as u32], stream }
    }

    fn block(&self, k: u64, attempt: u32) -> [u32; 4] {
        philox4x32([k as u32, (k >> 32) as u32, self.stream, attempt], self.key)
    }

    /// Fills `out` with draws `0..out.len()` in `[0, n)`; `n` must be at least 1.
    pub fn fill_below(&self, n: u32, out: &mut [u32]) {
        // 2^32 mod n: the words below it in the low half would make some values more likely.
        let threshold = n.wrapping_neg() % n;
        for (k, chunk) in out.chunks_mut(4).enumerate() {
            let words = self.block(k as u64, 0);
            for (j, (o, &x)) in chunk.iter_mut().zip(&words).enumerate() {
                *o = match below(x, n, threshold) {
                    Some(v) => v,
                    None => self.redraw(4 * k as u64 + j as u64, n, threshold),
                };
            }
        }
    }

    #[cold]
    fn redraw(&self, i: u64, n: u32, threshold: u32) -> u32 {
        (1..).find_map(|attempt| below(self.block(i, attempt)[0], n, threshold)).unwrap_or(0)
    }
}

/// A sequential stream of Philox draws for the methods that need randomness in order (initialisations, samplers,
/// simulations): word `i` is word `i % 4` of the block at counter `(i / 4, stream, 0xFFFF_FFFF)`, so the same
/// `(seed, stream)` gives the same numbers on every runtime.
#[derive(Clone, Debug)]
pub struct Stream {
    key: [u32; 2],
    id: u32,
    block: u64,
    words: [u32; 4],
    used: usize,
}

impl Stream {
    /// The stream `stream` under `seed`.
    pub fn new(seed: u64, stream: u32) -> Self {
        Self { key: [seed as u32, (seed >> 32) as u32], id: stream, block: 0, words: [0; 4], used: 4 }
    }

    /// The next 32 random bits.
    pub fn next_u32(&mut self) -> u32 {
        if self.used == 4 {
            let k = self.block;
            self.words = philox4x32([k as u32, (k >> 32) as u32, self.id, u32::MAX], self.key);
            self.block += 1;
            self.used = 0;
        }
        self.used += 1;
        self.words[self.used - 1]
    }

    /// Uniform in `[0, 1)` with 53 random bits.
    pub fn uniform(&mut self) -> f64 {
        let hi = u64::from(self.next_u32() >> 5);
        let lo = u64::from(self.next_u32() >> 6);
        ((hi << 26) | lo) as f64 / (1u64 << 53) as f64
    }

    /// Exactly uniform in `[0, n)`; `n` must be at least 1.
    pub fn below(&mut self, n: u32) -> u32 {
        let threshold = n.wrapping_neg() % n;
        loop {
            if let Some(v) = below(self.next_u32(), n, threshold) {
                return v;
            }
        }
    }

    /// A standard normal draw (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let u = 1.0 - self.uniform();
        let v = self.uniform();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    /// An index drawn with probability proportional to `weights` (non-negative, not all zero); `None` otherwise.
    pub fn weighted(&mut self, weights: &[f64]) -> Option<usize> {
        let total: f64 = weights.iter().filter(|w| w.is_finite() && **w > 0.0).sum();
        if total <= 0.0 || !total.is_finite() {
            return None;
        }
        let mut x = self.uniform() * total;
        let mut last = None;
        for (i, &w) in weights.iter().enumerate() {
            if w.is_finite() && w > 0.0 {
                last = Some(i);
                if x < w {
                    return Some(i);
                }
                x -= w;
            }
        }
        last
    }
}

/// Lemire's map of a 32-bit word to `[0, n)`: the high half of x·n, unless the low half falls in the biased zone.
fn below(x: u32, n: u32, threshold: u32) -> Option<u32> {
    let m = u64::from(x) * u64::from(n);
    ((m as u32) >= threshold).then_some((m >> 32) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn philox_known_answers() {
        // Random123's kat_vectors for philox4x32_10.
        assert_eq!(philox4x32([0, 0, 0, 0], [0, 0]), [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8]);
        assert_eq!(
            philox4x32([0xffff_ffff; 4], [0xffff_ffff; 2]),
            [0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd]
        );
        assert_eq!(
            philox4x32([0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344], [0xa409_3822, 0x299f_31d0]),
            [0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1]
        );
    }

    #[test]
    fn lemire_rejection_is_exactly_uniform() {
        // With n = 3 and 32-bit words, each value must have exactly (2^32 - threshold) / 3 preimages.
        let n = 3u32;
        let t = n.wrapping_neg() % n;
        assert_eq!(t, 1);
        assert_eq!(below(0, n, t), None);
        assert_eq!(below(1, n, t), Some(0));
        assert_eq!(below(u32::MAX, n, t), Some(2));
        assert_eq!(u32::MAX.wrapping_neg() % u32::MAX, 1);
    }

    #[test]
    fn draws_are_uniform_enough() {
        let mut out = vec![0; 100_000];
        Draws::new(7, 3).fill_below(10, &mut out);
        let mut hist = [0usize; 10];
        for &x in &out {
            hist[x as usize] += 1;
        }
        assert!(hist.iter().all(|&h| (9_500..10_500).contains(&h)), "{hist:?}");
    }

    #[test]
    fn stream_is_uniform_and_repeatable() {
        let mut s = Stream::new(42, 1);
        let x: Vec<f64> = (0..20_000).map(|_| s.uniform()).collect();
        assert!(x.iter().all(|v| (0.0..1.0).contains(v)));
        let mean = x.iter().sum::<f64>() / x.len() as f64;
        assert!((mean - 0.5).abs() < 0.01, "{mean}");
        let mut again = Stream::new(42, 1);
        assert_eq!(again.uniform(), x[0]);
        let z: Vec<f64> = (0..20_000).map(|_| s.normal()).collect();
        let m = z.iter().sum::<f64>() / z.len() as f64;
        let v = z.iter().map(|t| (t - m) * (t - m)).sum::<f64>() / z.len() as f64;
        assert!(m.abs() < 0.03 && (v - 1.0).abs() < 0.05, "{m} {v}");
        assert_eq!(s.weighted(&[0.0, 0.0]), None);
        assert_eq!(s.weighted(&[0.0, 2.0, 0.0]), Some(1));
    }
}
