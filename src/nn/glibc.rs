//! Bit-exact pure-Rust ports of glibc's single-precision `expf`, `sinf` and
//! `cosf` as shipped in Debian 12 (glibc 2.36, x86-64).
//!
//! On x86-64 CPUs with FMA and AVX2, glibc's ifunc resolvers select the
//! `__expf_fma`, `__sinf_fma` and `__cosf_fma` variants. These are the generic
//! sources `sysdeps/ieee754/flt-32/e_expf.c`, `s_sinf.c` and `s_cosf.c`
//! (ARM optimized-routines code, with the tables from `e_exp2f_data.c`,
//! `sincosf.h` and `sincosf_data.c`) compiled with `-mfma -mavx2`, so GCC
//! contracted many `a * b + c` expressions into fused multiply-adds. Rounding
//! differs between a fused and an unfused evaluation, so to reproduce glibc's
//! results exactly each port uses a fused [`fma`] at precisely the places where
//! the disassembly of the glibc 2.36 Debian binary
//! (`/lib/x86_64-linux-gnu/libm.so.6`) shows a `vfmadd`/`vfmsub`/`vfnmadd`
//! instruction, and a plain multiply followed by an add everywhere else.
//! The tables and constants were read bit-for-bit out of that library's
//! `.rodata` (`__exp2f_data`, `__sincosf_table`, `__inv_pio4`).
//!
//! Only results are reproduced; floating-point exception flags and `errno`
//! (set by glibc on overflow/underflow/invalid) are not modelled.
//!
//! Everything is done with IEEE-754 binary64 arithmetic in round-to-nearest,
//! which is what the glibc code uses too, so the results are identical on every
//! target with IEEE `f64`. The fused multiply-adds are [`fma`]: exact, from
//! plain double operations, because wasm has no fma instruction and the
//! software `f64::mul_add` it falls back to is slow.

#![forbid(unsafe_code)]
// The single-letter names mirror the glibc sources to ease auditing.
#![allow(clippy::many_single_char_names)]

// ---------------------------------------------------------------------------
// expf
// ---------------------------------------------------------------------------

/// `__exp2f_data.tab`: `asuint64(2^(i/32)) - (i << 47)` for `i` in `0..32`.
const EXP2F_TAB: [u64; 32] = [
    0x3ff0_0000_0000_0000,
    0x3fef_d9b0_d315_8574,
    0x3fef_b558_6cf9_890f,
    0x3fef_9301_d012_5b51,
    0x3fef_72b8_3c7d_517b,
    0x3fef_5487_3168_b9aa,
    0x3fef_387a_6e75_6238,
    0x3fef_1e9d_f51f_dee1,
    0x3fef_06fe_0a31_b715,
    0x3fee_f1a7_373a_a9cb,
    0x3fee_dea6_4c12_3422,
    0x3fee_ce08_6061_892d,
    0x3fee_bfda_d536_2a27,
    0x3fee_b42b_569d_4f82,
    0x3fee_ab07_dd48_5429,
    0x3fee_a47e_b03a_5585,
    0x3fee_a09e_667f_3bcd,
    0x3fee_9f75_e8ec_5f74,
    0x3fee_a114_73eb_0187,
    0x3fee_a589_994c_ce13,
    0x3fee_ace5_422a_a0db,
    0x3fee_b737_b0cd_c5e5,
    0x3fee_c491_82a3_f090,
    0x3fee_d503_b23e_255d,
    0x3fee_e89f_995a_d3ad,
    0x3fee_ff76_f2fb_5e47,
    0x3fef_199b_dd85_529c,
    0x3fef_3720_dcef_9069,
    0x3fef_5818_dcfb_a487,
    0x3fef_7c97_337b_9b5f,
    0x3fef_a4af_a2a4_90da,
    0x3fef_d076_5b6e_4540,
];
/// `__exp2f_data.invln2_scaled` = 32 / ln 2.
const EXPF_INVLN2N: f64 = f64::from_bits(0x4047_1547_652b_82fe);
/// `__exp2f_data.shift` = 0x1.8p52.
const EXPF_SHIFT: f64 = f64::from_bits(0x4338_0000_0000_0000);
/// `__exp2f_data.poly_scaled[0..3]`.
const EXPF_C0: f64 = f64::from_bits(0x3ebc_6af8_4b91_2394);
const EXPF_C1: f64 = f64::from_bits(0x3f2e_bfce_50fa_c4f3);
const EXPF_C2: f64 = f64::from_bits(0x3f96_2e42_ff0c_52d6);

/// `a·b + c` rounded once, as a fused multiply-add rounds it.
///
/// wasm has no fma instruction, and `f64::mul_add` there is compiler-builtins' software fma (128-bit integer
/// arithmetic): 14% of a decoding step of SmolLM2 at a few hundred positions, where attention calls `expf` once per
/// key. This is Boldo and Melquiond's emulation ("Emulation of FMA and correctly rounded sums: proved algorithms
/// using rounding to odd", IEEE TC 2008): the product split exactly into `uh + ul` (Dekker), `c + uh` split
/// exactly into `th + tl` (Knuth's two-sum), `tl + ul` rounded to odd, then one rounding to nearest. It is exact
/// while no step overflows or underflows; outside a safe range (and for zeros, infinities and NaN) it defers to
/// `f64::mul_add`. The tests check it against `f64::mul_add` on products near cancellation and on midpoints.
#[must_use]
pub fn fma(a: f64, b: f64, c: f64) -> f64 {
    const LOW: f64 = f64::from_bits(0x2d30_0000_0000_0000); // 2^-300
    const HIGH: f64 = f64::from_bits(0x52b0_0000_0000_0000); // 2^300
    let p = a * b;
    let safe = |x: f64| x.abs() < HIGH;
    if !(p.abs() > LOW && safe(p) && safe(a) && safe(b) && safe(c)) {
        return a.mul_add(b, c);
    }
    let (uh, ul) = (p, product_error(a, b, p));
    let (th, tl) = two_sum(c, uh);
    th + add_odd(tl, ul)
}

/// Dekker's split of `x` into a high half of 26 bits and the rest: `x = hi + lo` exactly.
fn split(x: f64) -> (f64, f64) {
    let t = 134_217_729.0 * x; // 2^27 + 1
    let hi = t - (t - x);
    (hi, x - hi)
}

/// `a·b − p` exactly, for `p = a·b` rounded (Dekker's product; needs no overflow or underflow).
fn product_error(a: f64, b: f64, p: f64) -> f64 {
    let ((ah, al), (bh, bl)) = (split(a), split(b));
    ((ah * bh - p) + ah * bl + al * bh) + al * bl
}

/// `(s, e)` with `s = x + y` rounded and `s + e = x + y` exactly (Knuth).
fn two_sum(x: f64, y: f64) -> (f64, f64) {
    let s = x + y;
    let v = s - x;
    (s, (x - (s - v)) + (y - v))
}

/// `x + y` rounded to odd: truncated, then the last bit set when the sum was inexact.
fn add_odd(x: f64, y: f64) -> f64 {
    let (s, e) = two_sum(x, y);
    if e == 0.0 || s.to_bits() & 1 == 1 {
        return s;
    }
    // s is even and not exact: the odd neighbour on e's side is the rounding to odd.
    let away = (e > 0.0) == (s > 0.0);
    f64::from_bits(if away { s.to_bits() + 1 } else { s.to_bits() - 1 })
}

/// Top 12 bits of the exponent field of `x` (sign excluded), as in glibc's
/// `abstop12` / `top12(x) & 0x7ff`.
#[inline]
fn abstop12(x: f32) -> u32 {
    (x.to_bits() >> 20) & 0x7ff
}

/// `e^x`, bit-identical to glibc 2.36 `__expf_fma` (x86-64, FMA ifunc variant).
///
/// Port of `sysdeps/ieee754/flt-32/e_expf.c` (tables from `e_exp2f_data.c`).
/// Fused operations (from the disassembly of `__expf_fma`):
/// * `kd = fma(InvLn2N, x, SHIFT)` (`z = InvLn2N * x; kd = z + SHIFT`
///   contracted, `z` itself is never rounded),
/// * `r = fma(InvLn2N, x, -kd)` (`r = z - kd` contracted with the product),
/// * `z = fma(C0, r, C1)`, `y = fma(C2, r, 1)`, `y = fma(z, r*r, y)`;
/// * `r*r` and the final `y * s` are plain multiplies.
#[must_use]
pub fn expf(x: f32) -> f32 {
    let ix = x.to_bits();
    let abstop = abstop12(x);
    if abstop >= 0x42b {
        // |x| >= 88 or x is inf / NaN.
        if ix == 0xff80_0000 {
            return 0.0; // expf(-inf) = 0
        }
        if abstop >= 0x7f8 {
            return x + x; // +inf or NaN
        }
        if x > f32::from_bits(0x42b1_7217) {
            // x > 0x1.62e42ep6f: __math_oflowf(0) = 0x1p97f * 0x1p97f.
            return f32::INFINITY;
        }
        if x < f32::from_bits(0xc2cf_f1b4) {
            // x < -0x1.9fe368p6f: __math_uflowf(0) = 0x1p-95f * 0x1p-95f.
            return 0.0;
        }
        if x < f32::from_bits(0xc2ce_8ecf) {
            // x < -0x1.9d1d9ep6f: __math_may_uflowf(0) = 0x1.4p-75f * 0x1.4p-75f,
            // which rounds to the smallest subnormal.
            return f32::from_bits(1);
        }
    }
    // The same steps with plain multiplies and adds land within FUSED_GAP doubles of glibc's fused result (measured
    // over every input that reaches here with x ≥ −87, whose results are normal floats): unless that is near half
    // way between two floats, both round to the same float, and the exact emulation is not needed.
    let xd = f64::from(x);
    let y = expf_steps(xd, |a, b, c| a * b + c);
    if x >= -87.0 && (y.to_bits() & 0x1fff_ffff).abs_diff(0x1000_0000) > FUSED_GAP {
        #[allow(clippy::cast_possible_truncation)]
        return y as f32;
    }
    #[allow(clippy::cast_possible_truncation)]
    let out = expf_steps(xd, fma) as f32;
    out
}

/// Most doubles between the fused and the unfused evaluation of [`expf_steps`] over every float x in [−87, 88.72]
/// is 47 (measured over all of them; `unfused_expf_is_near_the_fused_one` checks a sample); this leaves a margin. A double's low 29 bits
/// are what rounding it to a float drops, so at a distance above this from half way (`0x1000_0000`) both round the
/// same way.
const FUSED_GAP: u64 = 64;

/// `e^x` in double before its rounding to float, with the multiply-adds done by `fma` (glibc's: fused).
#[inline]
fn expf_steps(xd: f64, fma: impl Fn(f64, f64, f64) -> f64) -> f64 {
    let kd = fma(EXPF_INVLN2N, xd, EXPF_SHIFT);
    let ki = kd.to_bits();
    let kd = kd - EXPF_SHIFT;
    let r = fma(EXPF_INVLN2N, xd, -kd);
    // ki % 32 < 32, so the index cast is lossless.
    #[allow(clippy::cast_possible_truncation)]
    let t = EXP2F_TAB[(ki % 32) as usize].wrapping_add(ki << 47);
    let s = f64::from_bits(t);
    let z = fma(EXPF_C0, r, EXPF_C1);
    let r2 = r * r;
    let y = fma(EXPF_C2, r, 1.0);
    let y = fma(z, r2, y);
    y * s
}

// ---------------------------------------------------------------------------
// sinf / cosf
// ---------------------------------------------------------------------------

/// One `sincos_t` record of `__sincosf_table` (`sincosf.h`).
struct SinCos {
    sign: [f64; 4],
    c0: f64,
    c1: f64,
    s1: f64,
    c2: f64,
    s2: f64,
    c3: f64,
    s3: f64,
    c4: f64,
}

/// `__sincosf_table.hpi_inv` = 2^24 * 2/pi (same in both records).
const HPI_INV: f64 = f64::from_bits(0x4164_5f30_6dc9_c883);
/// `__sincosf_table.hpi` = pi/2 (same in both records).
const HPI: f64 = f64::from_bits(0x3ff9_21fb_5444_2d18);
/// `pi63` = pi * 2^-63 (used by `reduce_large`).
const PI63: f64 = f64::from_bits(0x3c19_21fb_5444_2d18);

const ONE: f64 = 1.0;
const MONE: f64 = -1.0;

/// `__sincosf_table[0]`.
const SINCOS0: SinCos = SinCos {
    sign: [ONE, MONE, MONE, ONE],
    c0: f64::from_bits(0x3ff0_0000_0000_0000),
    c1: f64::from_bits(0xbfdf_ffff_fd0c_621c),
    s1: f64::from_bits(0xbfc5_5554_5995_a603),
    c2: f64::from_bits(0x3fa5_5553_e106_8f19),
    s2: f64::from_bits(0x3f81_1076_0523_0bc4),
    c3: f64::from_bits(0xbf56_c087_e89a_359d),
    s3: f64::from_bits(0xbf29_94eb_3774_cf24),
    c4: f64::from_bits(0x3ef9_9343_027b_f8c3),
};

/// `__sincosf_table[1]` (cosine coefficients negated, used when `n & 2`).
const SINCOS1: SinCos = SinCos {
    sign: [ONE, MONE, MONE, ONE],
    c0: f64::from_bits(0xbff0_0000_0000_0000),
    c1: f64::from_bits(0x3fdf_ffff_fd0c_621c),
    s1: f64::from_bits(0xbfc5_5554_5995_a603),
    c2: f64::from_bits(0xbfa5_5553_e106_8f19),
    s2: f64::from_bits(0x3f81_1076_0523_0bc4),
    c3: f64::from_bits(0x3f56_c087_e89a_359d),
    s3: f64::from_bits(0xbf29_94eb_3774_cf24),
    c4: f64::from_bits(0xbef9_9343_027b_f8c3),
};

/// `__inv_pio4`: 4/pi as a bit string, 24 overlapping 32-bit windows.
const INV_PIO4: [u32; 24] = [
    0x0000_00a2,
    0x0000_a2f9,
    0x00a2_f983,
    0xa2f9_836e,
    0xf983_6e4e,
    0x836e_4e44,
    0x6e4e_4415,
    0x4e44_1529,
    0x4415_29fc,
    0x1529_fc27,
    0x29fc_2757,
    0xfc27_57d1,
    0x2757_d1f5,
    0x57d1_f534,
    0xd1f5_34dd,
    0xf534_ddc0,
    0x34dd_c0db,
    0xddc0_db62,
    0xc0db_6295,
    0xdb62_9599,
    0x6295_993c,
    0x9599_3c43,
    0x993c_4390,
    0x3c43_9041,
];

/// `__math_invalidf(y)` = `(y - y) / (y - y)`: NaN (quieted `y` if `y` is NaN).
/// NaN payload/sign bits are not guaranteed to match glibc (x86's default NaN
/// is negative, and wasm does not specify NaN bits), only NaN-ness.
#[inline]
fn invalid(y: f32) -> f32 {
    if y.is_nan() {
        y + y
    } else {
        f32::NAN
    }
}

/// `sinf_poly` from `sincosf.h` with GCC's FMA contraction as in the binary.
///
/// Even `n`: `fma(s2 + x2*s3, x7, fma(x3, s1, x))` with `s2 + x2*s3` fused
/// and `x3 = x*x2`, `x7 = x3*x2` plain products.
/// Odd `n`: `fma(c3 + x2*c4, x6, fma(x4, c2, c0 + x2*c1))` with `c3 + x2*c4`
/// and `c0 + x2*c1` fused and `x4 = x2*x2`, `x6 = x4*x2` plain products.
#[inline]
fn sinf_poly(x: f64, x2: f64, p: &SinCos, n: u32) -> f32 {
    let r = if n & 1 == 0 {
        let x3 = x * x2;
        let s1 = fma(x2, p.s3, p.s2);
        let x7 = x3 * x2;
        let s = fma(x3, p.s1, x);
        fma(s1, x7, s)
    } else {
        let x4 = x2 * x2;
        let c2 = fma(x2, p.c4, p.c3);
        let c1 = fma(x2, p.c1, p.c0);
        let x6 = x4 * x2;
        let c = fma(x4, p.c2, c1);
        fma(c2, x6, c)
    };
    #[allow(clippy::cast_possible_truncation)]
    let out = r as f32;
    out
}

/// `reduce_fast` (non-`TOINT_INTRINSICS` variant) for `|x| < 120`:
/// `n = ((int32_t)(x * hpi_inv) + 0x800000) >> 24`, `r = fma(-n, hpi, x)`
/// (the `x - n * hpi` is contracted into one `vfnmadd`).
#[inline]
fn reduce_fast(x: f64) -> (f64, u32) {
    let r = x * HPI_INV;
    // |r| < 120 * 2^24 * 2/pi < 2^31, so the truncating cast is exact C semantics.
    #[allow(clippy::cast_possible_truncation)]
    let n = (r as i32).wrapping_add(0x0080_0000) >> 24;
    let xr = fma(-f64::from(n), HPI, x);
    #[allow(clippy::cast_sign_loss)]
    let n = n as u32;
    (xr, n)
}

/// `reduce_large` for 120 <= |x| < inf: Payne-Hanek style reduction with
/// the 4/pi bit table. Pure integer arithmetic plus one rounding multiply.
#[inline]
fn reduce_large(xi: u32) -> (f64, u32) {
    let idx = ((xi >> 26) & 15) as usize;
    let arr = &INV_PIO4[idx..];
    let shift = (xi >> 23) & 7;
    let xi = ((xi & 0x00ff_ffff) | 0x0080_0000) << shift;

    let res0 = u64::from(xi.wrapping_mul(arr[0]));
    let res1 = u64::from(xi) * u64::from(arr[4]);
    let res2 = u64::from(xi) * u64::from(arr[8]);
    let res0 = ((res2 >> 32) | (res0 << 32)).wrapping_add(res1);

    let n = res0.wrapping_add(1u64 << 61) >> 62;
    let res0 = res0.wrapping_sub(n << 62);
    #[allow(clippy::cast_possible_wrap, clippy::cast_precision_loss)]
    let x = res0 as i64 as f64;
    #[allow(clippy::cast_possible_truncation)]
    let n = n as u32;
    (x * PI63, n)
}

/// `sin(x)`, bit-identical to glibc 2.36 `__sinf_fma` (x86-64, FMA ifunc variant).
///
/// Port of `sysdeps/ieee754/flt-32/s_sinf.c` with `sincosf.h` and
/// `sincosf_data.c`. Fused operations (from the disassembly): in `sinf_poly`
/// (see there) and in `reduce_fast` (`x - n*hpi` is one FMA). The argument is
/// reduced exactly as glibc does: no reduction for `|x| < pi/4`, `reduce_fast`
/// for `|x| < 120`, `reduce_large` otherwise.
#[must_use]
pub fn sinf(y: f32) -> f32 {
    let x = f64::from(y);
    let top = abstop12(y);
    if top < 0x3f4 {
        // |y| < pi/4
        if top < 0x397 {
            // |y| < 2^-12: sin(y) rounds to y.
            return y;
        }
        let s = x * x;
        sinf_poly(x, s, &SINCOS0, 0)
    } else if top < 0x42f {
        // |y| < 120
        let (x, n) = reduce_fast(x);
        let s = SINCOS0.sign[(n & 3) as usize];
        let p = if n & 2 != 0 { &SINCOS1 } else { &SINCOS0 };
        sinf_poly(x * s, x * x, p, n)
    } else if top < 0x7f8 {
        let xi = y.to_bits();
        let sign = xi >> 31;
        let (x, n) = reduce_large(xi);
        let ns = n.wrapping_add(sign);
        let s = SINCOS0.sign[(ns & 3) as usize];
        let p = if ns & 2 != 0 { &SINCOS1 } else { &SINCOS0 };
        sinf_poly(x * s, x * x, p, n)
    } else {
        // inf or NaN: glibc returns __math_invalidf(y) = (y - y) / (y - y),
        // i.e. the quieted input NaN, or the default NaN for +-inf.
        invalid(y)
    }
}

/// `cos(x)`, bit-identical to glibc 2.36 `__cosf_fma` (x86-64, FMA ifunc variant).
///
/// Port of `sysdeps/ieee754/flt-32/s_cosf.c` with `sincosf.h` and
/// `sincosf_data.c`. Fused operations as for [`sinf`]: those of `sinf_poly`
/// and `reduce_fast`.
#[must_use]
pub fn cosf(y: f32) -> f32 {
    let x = f64::from(y);
    let top = abstop12(y);
    if top < 0x3f4 {
        // |y| < pi/4
        if top < 0x397 {
            // |y| < 2^-12: cos(y) rounds to 1.
            return 1.0;
        }
        let x2 = x * x;
        sinf_poly(x, x2, &SINCOS0, 1)
    } else if top < 0x42f {
        // |y| < 120
        let (x, n) = reduce_fast(x);
        let s = SINCOS0.sign[(n & 3) as usize];
        let p = if n & 2 != 0 { &SINCOS1 } else { &SINCOS0 };
        sinf_poly(x * s, x * x, p, n ^ 1)
    } else if top < 0x7f8 {
        let xi = y.to_bits();
        let sign = xi >> 31;
        let (x, n) = reduce_large(xi);
        let ns = n.wrapping_add(sign);
        let s = SINCOS0.sign[(ns & 3) as usize];
        let p = if ns & 2 != 0 { &SINCOS1 } else { &SINCOS0 };
        sinf_poly(x * s, x * x, p, n ^ 1)
    } else {
        // inf or NaN: glibc returns __math_invalidf(y) = (y - y) / (y - y),
        // i.e. the quieted input NaN, or the default NaN for +-inf.
        invalid(y)
    }
}

/// Against the platform's glibc (what Rust's `f32::exp/sin/cos` call on Linux with glibc) on every 4099th bit pattern
/// (1 048 321 values of each sign and exponent); the port was checked on all 2^32 when it was written.
#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
mod tests {
    #[test]
    fn equal_to_glibc_bit_for_bit() {
        for bits in (0..=u32::MAX).step_by(4099) {
            let x = f32::from_bits(bits);
            for (name, ours, theirs) in [
                ("expf", super::expf(x), x.exp()),
                ("sinf", super::sinf(x), x.sin()),
                ("cosf", super::cosf(x), x.cos()),
            ] {
                assert!(ours.to_bits() == theirs.to_bits() || (ours.is_nan() && theirs.is_nan()), "{name}({x:e})");
            }
        }
    }

    /// The premise of `expf`'s shortcut: the unfused steps stay within `FUSED_GAP` doubles of the fused ones (on every
    /// 257th float in [−87, 88.72]; the most over all of them is 47), and the shortcut and the exact emulation agree
    /// on the floats, including those near half way where `expf` takes the emulation.
    #[test]
    fn unfused_expf_is_near_the_fused_one() {
        let (lo, hi) = (-87.0f32, f32::from_bits(0x42b1_7217));
        let mut most = 0;
        for bits in (0..=u32::MAX).step_by(257) {
            let x = f32::from_bits(bits);
            if !(lo..=hi).contains(&x) {
                continue;
            }
            let xd = f64::from(x);
            let (fused, plain) = (super::expf_steps(xd, super::fma), super::expf_steps(xd, |a, b, c| a * b + c));
            most = most.max(fused.to_bits().abs_diff(plain.to_bits()));
            assert_eq!(super::expf(x).to_bits(), (fused as f32).to_bits(), "expf({x:e})");
        }
        assert!(most <= 47, "{most} doubles apart");
        // The only two floats in the range whose unfused result rounds to another float (of the 121 that take the
        // emulation; found by a scan of all of them).
        for bits in [0x4202_422f, 0xc27c_65d9] {
            let xd = f64::from(f32::from_bits(bits));
            let (fused, plain) = (super::expf_steps(xd, super::fma), super::expf_steps(xd, |a, b, c| a * b + c));
            assert_ne!((fused as f32).to_bits(), (plain as f32).to_bits());
            assert_eq!(super::expf(f32::from_bits(bits)).to_bits(), (fused as f32).to_bits());
        }
    }

    /// Checks `fma` against `f64::mul_add` (correctly rounded: glibc's `fma`, or the instruction).
    fn check(a: f64, b: f64, c: f64) {
        let (ours, theirs) = (super::fma(a, b, c), a.mul_add(b, c));
        assert!(
            ours.to_bits() == theirs.to_bits(),
            "fma({a:e}, {b:e}, {c:e}) = {ours:e}, correctly rounded {theirs:e}"
        );
    }

    /// Random operands of every sign and of exponents across and beyond the emulation's range, with `c` drawn so that
    /// the sum cancels the product (`c` = −RN(a·b) nudged by a few ulps, or by a relative few ε), or falls near half
    /// an ulp of the product, or at random; and one case in six built so that `c + a·b` lies just off a midpoint
    /// between two doubles, where rounding `tl + ul` to nearest instead of to odd gives the wrong neighbour (that
    /// variant fails this test).
    #[test]
    fn fma_is_correctly_rounded() {
        // ±[1, 2) · 2^e with e uniform in −span..=span.
        fn any(rng: &mut crate::rng::Stream, span: u32) -> f64 {
            let m = 1.0 + rng.uniform();
            let e = (rng.next_u32() % (2 * span + 1)) as i32 - span as i32;
            let sign = if rng.next_u32() & 1 == 1 { -1.0 } else { 1.0 };
            sign * m * 2f64.powi(e)
        }
        let mut rng = crate::rng::Stream::new(7, 0);
        for i in 0..2_000_000 {
            if i % 6 == 5 {
                // a·b = 2^e (1 − u²) rounds to 2^e, half an ulp of an odd c: the product's error decides whether
                // c + a·b rounds down; a naive c + uh + ul rounds it up half of the time.
                let u = f64::from(1 + rng.next_u32() % (1 << 26)) * 2f64.powi(-52);
                let e = (rng.next_u32() % 400) as i32 - 200;
                let c = f64::from(2 * (rng.next_u32() % (1 << 20)) + 1) + 2f64.powi(52);
                let sign = if rng.next_u32() & 1 == 1 { -1.0 } else { 1.0 };
                check((1.0 + u) * 2f64.powi(e), sign * (1.0 - u), sign * c * 2f64.powi(e + 1));
                continue;
            }
            let (a, b) = (any(&mut rng, 320), any(&mut rng, 320));
            let p = a * b;
            let ulp = f64::from_bits(p.abs().to_bits() + 1) - p.abs();
            let small = f64::from(any(&mut rng, 2) as i32); // an integer in −7..=7
            let c = match i % 5 {
                0 => -p + small * ulp,
                1 => -p * (1.0 + small * f64::EPSILON),
                2 => 0.5 * ulp.copysign(small) + any(&mut rng, 3) * ulp * 2f64.powi(-60),
                3 => any(&mut rng, 330),
                _ => p * any(&mut rng, 60),
            };
            check(a, b, c);
        }
        for (a, b, c) in
            [(0.0, 1.0, -0.0), (-0.0, 1.0, 0.0), (1e300, 1e300, 1.0), (1e-200, 1e-200, -0.0), (f64::NAN, 1.0, 1.0)]
        {
            let (ours, theirs) = (super::fma(a, b, c), a.mul_add(b, c));
            assert!(ours.to_bits() == theirs.to_bits() || (ours.is_nan() && theirs.is_nan()));
        }
    }
}
