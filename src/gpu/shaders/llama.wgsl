// The Llama forward pass (gpu::llama hosts it), computing the CPU's bits. CPU twins: `quantize` ↔
// quant::quantize_q8, `matvec` / `matmul` ↔ quant::dot row by row (plus the residual x + y when asked), `embed` ↔
// Tensor::dequantize_row, `rms_norm`, `rope`, `attention` and `swiglu` ↔ nn::ggml's, `expf_check` ↔ nn::glibc::expf.
//
// Weights stay quantised: Q4_1 as GGUF's raw 20-byte blocks (5 words: f16 d | f16 m << 16, then 16 bytes of
// nibbles, low nibbles elements 0..15, high nibbles 16..31); Q8_0 split into 8 words of i8 per block and f16 scales
// packed two per word (the same 34 bytes per block). Activations quantised to Q8_1: 8 words of i8 per block and
// (d, s) per block as f32 holding f16 values. Integer dot products of one block (≤ 32 · 127 · 127 < 2^24) are
// computed in f32, where they are exact whatever the order, then scaled in quant::dot's order, and the blocks are
// added in row order, as on the CPU.
//
// Every resource variable has its own binding number, shared only by the two entry points that read the same data
// (matvec, matmul); each pipeline's automatic layout holds the bindings its entry point uses. Within WebGPU's default
// limits: ≤ 256 invocations and ≤ 16 KiB of workgroup memory per entry point.

// ---- f16 and exact rounding helpers -------------------------------------------------------------------------

// 0, but not provably so: each entry point that calls `keep` sets it from its uniforms first.
var<private> opaque_zero: u32;

// x unchanged, but no longer visibly a product: a compiler may fuse a·b + c into one multiply-add (one rounding),
// where ggml's SSE2 build rounds the product first. Every product that is added to something goes through keep.
fn keep(x: f32) -> f32 {
    return bitcast<f32>(bitcast<u32>(x) ^ opaque_zero);
}

fn keep4(x: vec4<f32>) -> vec4<f32> {
    return bitcast<vec4<f32>>(bitcast<vec4<u32>>(x) ^ vec4<u32>(opaque_zero));
}

// IEEE half bits → f32, exactly (subnormals too, without relying on the device's f16 handling).
fn half_to_f32(h: u32) -> f32 {
    let sign = (h & 0x8000u) << 16u;
    let mag = h & 0x7fffu;
    if (mag >= 0x7c00u) {
        return bitcast<f32>(sign | 0x7f800000u | ((mag & 0x3ffu) << 13u));
    }
    if (mag >= 0x400u) {
        return bitcast<f32>(sign | ((mag + 0x1c000u) << 13u));
    }
    let v = f32(mag) * 5.9604645e-8; // mag · 2^-24, exact
    return select(v, -v, sign != 0u);
}

// f32 → IEEE half bits, round to nearest even: quant::f32_to_f16 line for line.
fn f32_to_half(x: f32) -> u32 {
    let bits = bitcast<u32>(x);
    let sign = (bits >> 16u) & 0x8000u;
    let exp = i32((bits >> 23u) & 0xffu);
    let man = bits & 0x7fffffu;
    if (exp == 0xff) {
        return sign | 0x7c00u | select(0u, 0x200u, man != 0u);
    }
    let e = exp - 127 + 15;
    if (e >= 0x1f) {
        return sign | 0x7c00u;
    }
    if (e <= 0) {
        if (e < -10) {
            return sign;
        }
        let m = man | 0x800000u;
        let shift = u32(14 - e);
        let half = 1u << (shift - 1u);
        let rest = m & ((1u << shift) - 1u);
        var h = m >> shift;
        if (rest > half || (rest == half && (h & 1u) == 1u)) {
            h += 1u;
        }
        return sign | h;
    }
    var h = (u32(e) << 10u) | (man >> 13u);
    let rest = man & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u) == 1u)) {
        h += 1u;
    }
    return sign | h;
}

fn round_f16(x: f32) -> f32 {
    return half_to_f32(f32_to_half(x));
}

// a / 127 correctly rounded (the device's division may be off by ulps): the 24-bit mantissa divided in integers.
// Zero, subnormal, infinite and NaN inputs and subnormal results take the device's division.
fn div127(a: f32) -> f32 {
    let bits = bitcast<u32>(a);
    let e = (bits >> 23u) & 0xffu;
    if (e == 0u || e == 0xffu) {
        return a / 127.0;
    }
    let n = ((bits & 0x7fffffu) | 0x800000u) << 7u;
    var q = n / 127u;
    var be = i32(e) - 7;
    if (q >= 0x1000000u) {
        q = n / 254u + select(0u, 1u, n % 254u >= 128u);
        be += 1;
    } else {
        q += select(0u, 1u, n % 127u >= 64u);
    }
    if (q == 0x1000000u) {
        q = 0x800000u;
        be += 1;
    }
    if (be <= 0) {
        return a / 127.0;
    }
    return bitcast<f32>((bits & 0x80000000u) | (u32(be) << 23u) | (q & 0x7fffffu));
}

// 1 / d correctly rounded: 2^47 / mantissa by long division (no ties are possible). Zero, subnormal, infinite and
// NaN inputs and out-of-range results take the device's division.
fn recip(d: f32) -> f32 {
    let bits = bitcast<u32>(d);
    let e = i32((bits >> 23u) & 0xffu);
    if (e == 0 || e == 0xff) {
        return 1.0 / d;
    }
    let m = (bits & 0x7fffffu) | 0x800000u;
    var q = 0x800000u;
    var be = 254 - e;
    if (m != 0x800000u) {
        var r = 0x800000u;
        q = 0u;
        for (var i = 0u; i < 24u; i += 1u) {
            r <<= 1u;
            q <<= 1u;
            if (r >= m) {
                r -= m;
                q |= 1u;
            }
        }
        q += select(0u, 1u, 2u * r > m);
        be = 253 - e;
        if (q == 0x1000000u) {
            q = 0x800000u;
            be += 1;
        }
    }
    if (be <= 0 || be >= 0xff) {
        return 1.0 / d;
    }
    return bitcast<f32>((bits & 0x80000000u) | (u32(be) << 23u) | (q & 0x7fffffu));
}

// a / b correctly rounded (the device's division may be off by ulps): the 24-bit mantissas divided in integers,
// 25 or 26 quotient bits and the remainder for the rounding. Zero, subnormal, infinite and NaN operands and results
// outside the normal range take the device's division.
fn div_rn(a: f32, b: f32) -> f32 {
    let ab = bitcast<u32>(a);
    let bb = bitcast<u32>(b);
    let ea = i32((ab >> 23u) & 0xffu);
    let eb = i32((bb >> 23u) & 0xffu);
    if (ea == 0 || ea == 0xff || eb == 0 || eb == 0xff) {
        return a / b;
    }
    let ma = (ab & 0x7fffffu) | 0x800000u;
    let mb = (bb & 0x7fffffu) | 0x800000u;
    // q = ⌊ma · 2^25 / mb⌋: 25 bits when ma < mb, else 26; bit by bit, r < mb < 2^24 so 2r + 1 fits.
    var r = 0u;
    var q = 0u;
    for (var i = 0; i < 49; i += 1) {
        r = 2u * r + select(0u, (ma >> u32(max(23 - i, 0))) & 1u, i <= 23);
        q <<= 1u;
        if (r >= mb) {
            r -= mb;
            q |= 1u;
        }
    }
    var e = ea - eb + 127 - 25 + 23;
    let extra = 32u - countLeadingZeros(q) - 24u; // 1 or 2 bits below the 24 kept
    let kept = q >> extra;
    let rest = q & ((1u << extra) - 1u);
    let half = 1u << (extra - 1u);
    var m = kept;
    if (rest > half || (rest == half && (r != 0u || (kept & 1u) == 1u))) {
        m += 1u;
    }
    e += i32(extra);
    if (m == 0x1000000u) {
        m = 0x800000u;
        e += 1;
    }
    if (e <= 0 || e >= 0xff) {
        return a / b;
    }
    return bitcast<f32>(((ab ^ bb) & 0x80000000u) | (u32(e) << 23u) | (m & 0x7fffffu));
}

// Rust's f32::round: half away from zero (WGSL's round() is half to even). x − trunc(x) is exact.
fn round_away(x: f32) -> f32 {
    let t = trunc(x);
    return select(t, t + sign(x), abs(x - t) >= 0.5);
}

// The four i8 of a word, as f32.
fn unpack_i8(word: u32) -> vec4<f32> {
    return vec4<f32>(vec4<i32>(vec4<u32>(word) << vec4<u32>(24u, 16u, 8u, 0u)) >> vec4<u32>(24u));
}

// ---- embed: x[t] = token_embd row tokens[t], dequantised (Q8_0) ------------------------------------------------

struct EmbedParams {
    total: u32, // tokens · cols
    cols: u32,
    blocks: u32, // per row
    _pad: u32,
}

@group(0) @binding(0) var<uniform> em: EmbedParams;
@group(0) @binding(1) var<storage, read> em_tokens: array<u32>;
@group(0) @binding(2) var<storage, read> em_q: array<u32>;
@group(0) @binding(3) var<storage, read> em_s: array<u32>;
@group(0) @binding(4) var<storage, read_write> em_x: array<f32>;

@compute @workgroup_size(64, 1, 1)
fn embed(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let e = gid.x + gid.y * groups.x * 64u;
    if (e >= em.total) {
        return;
    }
    let c = e % em.cols;
    let block = em_tokens[e / em.cols] * em.blocks + c / 32u;
    let d = half_to_f32((em_s[block / 2u] >> (16u * (block % 2u))) & 0xffffu);
    let j = c % 32u;
    let q = i32(em_q[block * 8u + j / 4u] << (24u - 8u * (j % 4u))) >> 24u;
    em_x[e] = f32(q) * d;
}

// ---- rms_norm: h[r] = (x[row0 + r] · 1/√(mean(x²) + eps)) · g, as ggml::rms_norm ---------------------------------
//
// One workgroup per row. ggml squares in f32 and sums the squares in f64, divides in f64 and rounds the mean to f32;
// WGSL has no f64, so one invocation does that sum in integers, exactly as binary64 rounds (`big_add`), then the
// division (`wide_div`) and both roundings, then √ and 1/x correctly rounded (`sqrt_rn`, `recip`); the scaling is
// done by all.

struct NormParams {
    rows: u32,
    cols: u32,
    row0: u32,
    eps: f32,
}

@group(0) @binding(5) var<uniform> nm: NormParams;
@group(0) @binding(6) var<storage, read> nm_x: array<f32>;
@group(0) @binding(7) var<storage, read> nm_g: array<f32>;
@group(0) @binding(8) var<storage, read_write> nm_h: array<f32>;

var<workgroup> nm_inv: f32;

@compute @workgroup_size(64, 1, 1)
fn rms_norm(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let row = wg.x + wg.y * groups.x;
    if (row >= nm.rows) {
        return;
    }
    let base = (nm.row0 + row) * nm.cols;
    if (lid == 0u) {
        var sum = Big(vec4<u32>(0u), 0, false);
        var special = 0u; // a square that is infinite or NaN: the f64 sum is that (or NaN)
        for (var c = 0u; c < nm.cols; c += 1u) {
            let v = nm_x[base + c];
            // The square, rounded to f32 as in ggml (taken apart in integers, it cannot be fused into an fma).
            let sq = v * v;
            if ((bitcast<u32>(sq) >> 23u) == 0xffu) {
                special = select(bitcast<u32>(sq), 0x7fc00000u, special != 0u && special != bitcast<u32>(sq));
            } else {
                sum = big_add(sum, big_f32(sq));
            }
        }
        var mean = to_f32(wide_div(Wide(sum.m.xy, sum.e), nm.cols));
        if (special != 0u) {
            mean = bitcast<f32>(special);
        }
        nm_inv = recip(sqrt_rn(mean + nm.eps));
    }
    let inv = workgroupUniformLoad(&nm_inv);
    let out = row * nm.cols;
    for (var c = lid; c < nm.cols; c += 64u) {
        nm_h[out + c] = nm_x[base + c] * inv * nm_g[c];
    }
}

// ---- binary64 emulation in integers (rms_norm's mean, attention's sums and expf) ---------------------------------
// A u64 is vec2<u32>(low, high). Shift amounts stay below 32 in every WGSL shift (WGSL takes them modulo 32).

// m · 2^e, m < 2^64 (≤ 53 bits once rounded as a binary64 significand).
struct Wide {
    m: vec2<u32>,
    e: i32,
}

fn add64(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
    let lo = a.x + b.x;
    return vec2<u32>(lo, a.y + b.y + select(0u, 1u, lo < a.x));
}

fn sub64(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
    return vec2<u32>(a.x - b.x, a.y - b.y - select(0u, 1u, a.x < b.x));
}

fn less64(a: vec2<u32>, b: vec2<u32>) -> bool {
    return a.y < b.y || (a.y == b.y && a.x < b.x);
}

fn bitlen64(a: vec2<u32>) -> u32 {
    if (a.y != 0u) {
        return 64u - countLeadingZeros(a.y);
    }
    return 32u - countLeadingZeros(a.x);
}

// a << s for s < 64 (the caller keeps the result below 2^64).
fn shl64(a: vec2<u32>, s: u32) -> vec2<u32> {
    if (s == 0u) {
        return a;
    }
    if (s >= 32u) {
        return vec2<u32>(0u, a.x << (s - 32u));
    }
    return vec2<u32>(a.x << s, (a.y << s) | (a.x >> (32u - s)));
}

fn shr64(a: vec2<u32>, s: u32) -> vec2<u32> {
    if (s == 0u) {
        return a;
    }
    if (s >= 64u) {
        return vec2<u32>(0u);
    }
    if (s >= 32u) {
        return vec2<u32>(a.y >> (s - 32u), 0u);
    }
    return vec2<u32>((a.x >> s) | (a.y << (32u - s)), a.y >> s);
}

// m² exactly, for m < 2^26 (in 16-bit halves: h < 2^10).
fn square64(m: u32) -> vec2<u32> {
    let l = m & 0xffffu;
    let h = m >> 16u;
    let ll = l * l;
    let cross = 2u * h * l; // < 2^27
    let lo = ll + (cross << 16u);
    return vec2<u32>(lo, h * h + (cross >> 16u) + select(0u, 1u, lo < ll));
}

// w rounded to `bits` significant bits, to nearest, ties to even; `sticky`: a nonzero remainder below w.m was lost
// (callers pass it only when w.m has more than `bits` bits, so it always takes part).
fn round_sticky(w: Wide, bits: u32, sticky: bool) -> Wide {
    let n = bitlen64(w.m);
    if (n <= bits) {
        return w;
    }
    let drop = n - bits;
    var m = shr64(w.m, drop);
    let rest = sub64(w.m, shl64(m, drop));
    let half = shl64(vec2<u32>(1u, 0u), drop - 1u);
    if (less64(half, rest) || (all(rest == half) && (sticky || (m.x & 1u) == 1u))) {
        m = add64(m, vec2<u32>(1u, 0u));
    }
    var e = w.e + i32(drop);
    if (bitlen64(m) > bits) {
        m = shr64(m, 1u); // 2^bits: the low bit is 0
        e += 1;
    }
    return Wide(m, e);
}

// ---- exact values of up to 128 bits: binary64 sums and fused multiply-adds ------------------------------------
// ±m · 2^e with m < 2^128 (vec4<u32>, least significant word first). Rounded to a binary64 value, m < 2^53.

struct Big {
    m: vec4<u32>,
    e: i32,
    neg: bool,
}

// Written without loops or dynamic vector indices (slow on GPUs, and not every compiler gets them right).
fn bitlen128(m: vec4<u32>) -> u32 {
    if (m.w != 0u) {
        return 128u - countLeadingZeros(m.w);
    }
    if (m.z != 0u) {
        return 96u - countLeadingZeros(m.z);
    }
    if (m.y != 0u) {
        return 64u - countLeadingZeros(m.y);
    }
    return 32u - countLeadingZeros(m.x);
}

// m << s for s < 128 (bits past 2^128 are lost): whole words, then bits.
fn shl128(m: vec4<u32>, s: u32) -> vec4<u32> {
    let w = s / 32u;
    var v = m;
    if (w == 1u) {
        v = vec4<u32>(0u, m.xyz);
    } else if (w == 2u) {
        v = vec4<u32>(0u, 0u, m.xy);
    } else if (w == 3u) {
        v = vec4<u32>(0u, 0u, 0u, m.x);
    }
    let b = s % 32u;
    if (b == 0u) {
        return v;
    }
    return (v << vec4<u32>(b)) | (vec4<u32>(0u, v.xyz) >> vec4<u32>(32u - b));
}

// m >> s for s < 128.
fn shr128(m: vec4<u32>, s: u32) -> vec4<u32> {
    let w = s / 32u;
    var v = m;
    if (w == 1u) {
        v = vec4<u32>(m.yzw, 0u);
    } else if (w == 2u) {
        v = vec4<u32>(m.zw, 0u, 0u);
    } else if (w == 3u) {
        v = vec4<u32>(m.w, 0u, 0u, 0u);
    }
    let b = s % 32u;
    if (b == 0u) {
        return v;
    }
    return (v >> vec4<u32>(b)) | (vec4<u32>(v.yzw, 0u) << vec4<u32>(32u - b));
}

fn add128(a: vec4<u32>, b: vec4<u32>) -> vec4<u32> {
    let s = a + b;
    let c = select(vec4<u32>(0u), vec4<u32>(1u), s < a); // carries out of each word
    let x = s.x;
    let y = s.y + c.x;
    let cy = c.y + select(0u, 1u, y < s.y);
    let z = s.z + cy;
    let cz = c.z + select(0u, 1u, z < s.z);
    return vec4<u32>(x, y, z, s.w + cz);
}

// a − b for a ≥ b.
fn sub128(a: vec4<u32>, b: vec4<u32>) -> vec4<u32> {
    let d = a - b;
    let c = select(vec4<u32>(0u), vec4<u32>(1u), a < b); // borrows out of each word
    let y = d.y - c.x;
    let cy = c.y + select(0u, 1u, d.y < c.x);
    let z = d.z - cy;
    let cz = c.z + select(0u, 1u, d.z < cy);
    return vec4<u32>(d.x, y, z, d.w - cz);
}

fn less128(a: vec4<u32>, b: vec4<u32>) -> bool {
    if (a.w != b.w) {
        return a.w < b.w;
    }
    if (a.z != b.z) {
        return a.z < b.z;
    }
    if (a.y != b.y) {
        return a.y < b.y;
    }
    return a.x < b.x;
}

// a · b exactly (64 bits of each), from 16-bit halves of 32-bit words.
fn mul32(a: u32, b: u32) -> vec2<u32> {
    let lh = (a & 0xffffu) * (b >> 16u);
    let mid = lh + (a >> 16u) * (b & 0xffffu);
    let ll = (a & 0xffffu) * (b & 0xffffu);
    let lo = ll + (mid << 16u);
    let hi = (a >> 16u) * (b >> 16u) + (mid >> 16u) + select(0u, 0x10000u, mid < lh) + select(0u, 1u, lo < ll);
    return vec2<u32>(lo, hi);
}

fn mul128(a: vec2<u32>, b: vec2<u32>) -> vec4<u32> {
    let r = vec4<u32>(mul32(a.x, b.x), mul32(a.y, b.y));
    let r1 = add128(r, vec4<u32>(0u, mul32(a.x, b.y), 0u));
    return add128(r1, vec4<u32>(0u, mul32(a.y, b.x), 0u));
}

// x rounded to 53 significant bits, to nearest, ties to even (bits below m were folded into its lowest bit).
fn round53(x: Big) -> Big {
    let n = bitlen128(x.m);
    if (n <= 53u) {
        return x;
    }
    let drop = n - 53u;
    let half = shr128(x.m, drop - 1u); // the kept bits and the first dropped one
    var q = shr128(half, 1u);
    let rest = any(shl128(half, drop - 1u) != x.m);
    if ((half.x & 1u) == 1u && (rest || (q.x & 1u) == 1u)) {
        q = add128(q, vec4<u32>(1u, 0u, 0u, 0u));
    }
    var e = x.e + i32(drop);
    if (bitlen128(q) > 53u) {
        q = shr128(q, 1u); // 2^53: the low bit is 0
        e += 1;
    }
    return Big(q, e, x.neg);
}

// m · 2^shift as an integer; bits shifted out (shift < 0) are folded into the lowest bit ("sticky").
fn place(m: vec4<u32>, shift: i32) -> vec4<u32> {
    if (shift >= 0) {
        return shl128(m, u32(shift));
    }
    let s = u32(-shift);
    if (s >= 128u) {
        return vec4<u32>(select(0u, 1u, any(m != vec4<u32>(0u))), 0u, 0u, 0u);
    }
    var kept = shr128(m, s);
    if (any(shl128(kept, s) != m)) {
        kept.x |= 1u;
    }
    return kept;
}

// a + b rounded to binary64: both placed with the larger one's top bit at bit 125, the smaller one's lost bits
// folded into its lowest bit (at least 70 bits below the rounding point, so it only breaks ties), added or
// subtracted, rounded once. An exact zero is +0 unless both are −0, as in IEEE arithmetic.
fn big_add(a: Big, b: Big) -> Big {
    let na = bitlen128(a.m);
    let nb = bitlen128(b.m);
    if (na == 0u) {
        return round53(Big(b.m, b.e, b.neg && (nb != 0u || a.neg)));
    }
    if (nb == 0u) {
        return round53(a);
    }
    let w = max(a.e + i32(na), b.e + i32(nb)) - 126;
    let pa = place(a.m, a.e - w);
    let pb = place(b.m, b.e - w);
    if (a.neg == b.neg) {
        return round53(Big(add128(pa, pb), w, a.neg));
    }
    if (less128(pa, pb)) {
        return round53(Big(sub128(pb, pa), w, b.neg));
    }
    let d = sub128(pa, pb);
    return round53(Big(d, w, a.neg && any(d != vec4<u32>(0u))));
}

// fma(a, b, c) in binary64: the exact product (a, b binary64 values) plus c, rounded once.
fn big_fma(a: Big, b: Big, c: Big) -> Big {
    return big_add(Big(mul128(a.m.xy, b.m.xy), a.e + b.e, a.neg != b.neg), c);
}

// An f32 exactly.
fn big_f32(x: f32) -> Big {
    let bits = bitcast<u32>(x);
    let e = (bits >> 23u) & 0xffu;
    let m = select((bits & 0x7fffffu) | 0x800000u, bits & 0x7fffffu, e == 0u);
    return Big(vec4<u32>(m, 0u, 0u, 0u), select(i32(e) - 150, -149, e == 0u), (bits >> 31u) == 1u);
}

// A normal binary64 from its bits (high word, low word).
fn big_f64(hi: u32, lo: u32) -> Big {
    let e = i32((hi >> 20u) & 0x7ffu);
    return Big(vec4<u32>(lo, (hi & 0xfffffu) | 0x100000u, 0u, 0u), e - 1075, (hi >> 31u) == 1u);
}

// A binary64 value (53 bits) rounded to f32.
fn big_to_f32(x: Big) -> f32 {
    let v = to_f32(Wide(x.m.xy, x.e));
    return select(v, -v, x.neg);
}

// x / d as binary64 rounds it (x ≥ 0 a binary64 value, d ≥ 1): long division to 56–57 quotient bits, then rounded
// to 53 with the remainder as sticky.
fn wide_div(x: Wide, d: u32) -> Wide {
    let n = bitlen64(x.m);
    if (n == 0u) {
        return x;
    }
    let k = 56u + (32u - countLeadingZeros(d)) - n;
    var r = 0u;
    var q = vec2<u32>(0u);
    for (var i = 0u; i < n + k; i += 1u) {
        var bit = 0u;
        if (i < n) {
            bit = shr64(x.m, n - 1u - i).x & 1u;
        }
        // r < d ≤ 2^31, so 2r + 1 fits.
        r = 2u * r + bit;
        q = shl64(q, 1u);
        if (r >= d) {
            r -= d;
            q.x |= 1u;
        }
    }
    return round_sticky(Wide(q, x.e - i32(k)), 53u, r != 0u);
}

// x rounded to f32 (to nearest, ties to even): 24 significant bits, fewer for subnormals (the 2^-149 grid), +∞
// past the largest f32.
fn to_f32(x: Wide) -> f32 {
    let n0 = bitlen64(x.m);
    if (n0 == 0u) {
        return 0.0;
    }
    let top0 = x.e + i32(n0) - 1;
    if (top0 < -149) {
        // Below 2^-149: 2^-149 above the midpoint 2^-150, else 0 (the tie goes to the even 0).
        let above_half = top0 == -150 && any(x.m != shl64(vec2<u32>(1u, 0u), n0 - 1u));
        return bitcast<f32>(select(0u, 1u, above_half));
    }
    let w = round_sticky(x, u32(min(top0 + 150, 24)), false);
    let n = bitlen64(w.m);
    let top = w.e + i32(n) - 1;
    if (top > 127) {
        return bitcast<f32>(0x7f800000u | (w.m.x & 0u)); // +∞ (not a constant expression: Tint rejects a constant ∞)
    }
    if (top < -126) {
        return bitcast<f32>(shl64(w.m, u32(w.e + 149)).x); // w.e ≥ -149: rounded to that grid
    }
    return bitcast<f32>((u32(top + 127) << 23u) | (shl64(w.m, 24u - n).x & 0x7fffffu));
}

// The sign of (m · 2^e)² − a for a positive normal f32 a and m < 2^26, in integers; 0 when the scales are too far
// apart to matter (the callers' m · 2^e is within a few ulps of √a).
fn cmp_sq(m: u32, e: i32, a: f32) -> i32 {
    let bits = bitcast<u32>(a);
    let d = i32(bits >> 23u) - 150 - 2 * e;
    if (d < 0 || d > 40) {
        return 0;
    }
    let lhs = square64(m);
    let rhs = shl64(vec2<u32>((bits & 0x7fffffu) | 0x800000u, 0u), u32(d));
    if (less64(lhs, rhs)) {
        return -1;
    }
    return select(1, 0, all(lhs == rhs));
}

// √a correctly rounded (the device's sqrt may be off by ulps): its result moved until a lies between the squares of
// the midpoints next to it. Zero, subnormal, negative, infinite and NaN inputs take the device's sqrt.
fn sqrt_rn(a: f32) -> f32 {
    var y = sqrt(a);
    let ab = bitcast<u32>(a);
    if (ab == 0u || ab >= 0x7f800000u || (ab >> 23u) == 0u) {
        return y;
    }
    for (var i = 0u; i < 8u; i += 1u) {
        let yb = bitcast<u32>(y);
        let my = (yb & 0x7fffffu) | 0x800000u;
        let ey = i32(yb >> 23u) - 150;
        if (cmp_sq(2u * my + 1u, ey - 1, a) < 0) {
            y = bitcast<f32>(yb + 1u);
            continue;
        }
        let below = select(cmp_sq(2u * my - 1u, ey - 1, a), cmp_sq(4u * my - 1u, ey - 2, a), my == 0x800000u);
        if (below > 0) {
            y = bitcast<f32>(yb - 1u);
            continue;
        }
        break;
    }
    return y;
}

// ---- glibc's expf (the FMA build of `__expf`, as nn::glibc::expf), in binary64 emulated in integers ---------------

// `__exp2f_data.tab`: (high, low) words of asuint64(2^(i/32)) − (i << 47).
const EXPF_TAB = array<vec2<u32>, 32>(
    vec2<u32>(0x3ff00000u, 0x00000000u), vec2<u32>(0x3fefd9b0u, 0xd3158574u), vec2<u32>(0x3fefb558u, 0x6cf9890fu),
    vec2<u32>(0x3fef9301u, 0xd0125b51u), vec2<u32>(0x3fef72b8u, 0x3c7d517bu), vec2<u32>(0x3fef5487u, 0x3168b9aau),
    vec2<u32>(0x3fef387au, 0x6e756238u), vec2<u32>(0x3fef1e9du, 0xf51fdee1u), vec2<u32>(0x3fef06feu, 0x0a31b715u),
    vec2<u32>(0x3feef1a7u, 0x373aa9cbu), vec2<u32>(0x3feedea6u, 0x4c123422u), vec2<u32>(0x3feece08u, 0x6061892du),
    vec2<u32>(0x3feebfdau, 0xd5362a27u), vec2<u32>(0x3feeb42bu, 0x569d4f82u), vec2<u32>(0x3feeab07u, 0xdd485429u),
    vec2<u32>(0x3feea47eu, 0xb03a5585u), vec2<u32>(0x3feea09eu, 0x667f3bcdu), vec2<u32>(0x3fee9f75u, 0xe8ec5f74u),
    vec2<u32>(0x3feea114u, 0x73eb0187u), vec2<u32>(0x3feea589u, 0x994cce13u), vec2<u32>(0x3feeace5u, 0x422aa0dbu),
    vec2<u32>(0x3feeb737u, 0xb0cdc5e5u), vec2<u32>(0x3feec491u, 0x82a3f090u), vec2<u32>(0x3feed503u, 0xb23e255du),
    vec2<u32>(0x3feee89fu, 0x995ad3adu), vec2<u32>(0x3feeff76u, 0xf2fb5e47u), vec2<u32>(0x3fef199bu, 0xdd85529cu),
    vec2<u32>(0x3fef3720u, 0xdcef9069u), vec2<u32>(0x3fef5818u, 0xdcfba487u), vec2<u32>(0x3fef7c97u, 0x337b9b5fu),
    vec2<u32>(0x3fefa4afu, 0xa2a490dau), vec2<u32>(0x3fefd076u, 0x5b6e4540u),
);

// e^x bit for bit as glibc computes it: k = round(x · 32/ln 2), r = x · 32/ln 2 − k (both one fma), then
// 2^(k/32) · (1 + r·C2 + r²·(C1 + r·C0)) with glibc's fused and plain operations, rounded to f32 at the end.
fn expf_glibc(x: f32) -> f32 {
    let ix = bitcast<u32>(x);
    let abstop = (ix >> 20u) & 0x7ffu;
    if (abstop >= 0x42bu) {
        if (ix == 0xff800000u) {
            return 0.0;
        }
        if (abstop >= 0x7f8u || x > bitcast<f32>(0x42b17217u)) {
            return bitcast<f32>(0x7f800000u | (ix & 0u)) + x; // +∞, or NaN (not a constant: Tint rejects ∞)
        }
        if (x < bitcast<f32>(0xc2cff1b4u)) {
            return 0.0;
        }
        if (x < bitcast<f32>(0xc2ce8ecfu)) {
            return bitcast<f32>(1u);
        }
    }
    let zero = Big(vec4<u32>(0u), 0, false);
    let invln2n = big_f64(0x40471547u, 0x652b82feu);
    let xd = big_f32(x);
    // glibc's seven binary64 operations in order, through one call of big_fma (so that a compiler that inlines
    // everything emits the emulation once): kd = fma(32/ln 2, x, 1.5·2^52) (= 1.5·2^52 + k), r = fma(32/ln 2, x, −k),
    // z = fma(C0, r, C1), r² = r·r, y = fma(C2, r, 1), y = fma(z, r², y), and y·s with s = 2^(k/32).
    var k = 0;
    var r = zero;
    var z = zero;
    var r2 = zero;
    var y = zero;
    var s = zero;
    for (var step = 0u; step < 7u; step += 1u) {
        var a = r;
        var b = r;
        var c = zero;
        switch step {
            case 0u: {
                a = invln2n;
                b = xd;
                c = big_f64(0x43380000u, 0u);
            }
            case 1u: {
                a = invln2n;
                b = xd;
                c = Big(vec4<u32>(u32(abs(k)), 0u, 0u, 0u), 0, k > 0);
            }
            case 2u: {
                a = big_f64(0x3ebc6af8u, 0x4b912394u);
                c = big_f64(0x3f2ebfceu, 0x50fac4f3u);
            }
            case 4u: {
                a = big_f64(0x3f962e42u, 0xff0c52d6u);
                c = big_f64(0x3ff00000u, 0u);
            }
            case 5u: {
                a = z;
                b = r2;
                c = y;
            }
            case 6u: {
                a = y;
                b = s;
            }
            default: {} // 3: r · r
        }
        let v = big_fma(a, b, c);
        switch step {
            case 0u: {
                k = bitcast<i32>(v.m.x);
                let t = EXPF_TAB[u32(k) & 31u];
                s = big_f64(t.x + (u32(k) << 15u), t.y);
            }
            case 1u: {
                r = v;
            }
            case 2u: {
                z = v;
            }
            case 3u: {
                r2 = v;
            }
            default: {
                y = v;
            }
        }
    }
    return big_to_f32(y);
}

// expf_check: y = expf_glibc(x) element-wise, for the parity test of the port (not part of the forward pass).

struct ExpfParams {
    len: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(31) var<uniform> ex: ExpfParams;
@group(0) @binding(32) var<storage, read> ex_x: array<f32>;
@group(0) @binding(33) var<storage, read_write> ex_y: array<f32>;

@compute @workgroup_size(64, 1, 1)
fn expf_check(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = gid.x + gid.y * groups.x * 64u;
    if (i < ex.len) {
        ex_y[i] = expf_glibc(ex_x[i]);
    }
}

// ---- quantize: f32 rows → Q8_1 blocks (quant::quantize_q8), one block per invocation ------------------------

struct QuantParams {
    blocks: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(9) var<uniform> qz: QuantParams;
@group(0) @binding(10) var<storage, read> qz_x: array<f32>;
@group(0) @binding(11) var<storage, read_write> qz_q: array<u32>;
@group(0) @binding(12) var<storage, read_write> qz_ds: array<vec2<f32>>;

@compute @workgroup_size(64, 1, 1)
fn quantize(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    opaque_zero = u32(qz.blocks == 0u);
    let b = gid.x + gid.y * groups.x * 64u;
    if (b >= qz.blocks) {
        return;
    }
    let base = b * 32u;
    var amax = 0.0;
    for (var j = 0u; j < 32u; j += 1u) {
        amax = max(amax, abs(qz_x[base + j]));
    }
    let d = div127(amax);
    let id = select(recip(d), 0.0, d == 0.0);
    var sum = 0;
    for (var w = 0u; w < 8u; w += 1u) {
        var word = 0u;
        for (var e = 0u; e < 4u; e += 1u) {
            let q = i32(clamp(round_away(keep(qz_x[base + 4u * w + e] * id)), -128.0, 127.0));
            sum += q;
            word |= (u32(q) & 0xffu) << (8u * e);
        }
        qz_q[b * 8u + w] = word;
    }
    qz_ds[b] = vec2<f32>(round_f16(d), round_f16(f32(sum) * d));
}

// ---- matvec / matmul: y[t][r] (+)= row r of W · quantised x[t] ---------------------------------------------------
//
// kind 0: W is Q4_1 (mm_w4, raw blocks); kind 1: W is Q8_0 (mm_q8 quants, mm_s8 scales). `acc` adds the product to
// y (the residual connection, x + y as on the CPU). The unused weight bindings get a dummy buffer.

struct MatParams {
    rows: u32,
    blocks: u32, // per row
    tokens: u32,
    kind: u32,
    acc: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(13) var<uniform> mm: MatParams;
@group(0) @binding(14) var<storage, read> mm_w4: array<u32>;
@group(0) @binding(15) var<storage, read> mm_q8: array<u32>;
@group(0) @binding(16) var<storage, read> mm_s8: array<u32>;
@group(0) @binding(17) var<storage, read> mm_xq: array<u32>;
@group(0) @binding(18) var<storage, read> mm_xds: array<vec2<f32>>;
@group(0) @binding(19) var<storage, read_write> mm_y: array<f32>;

const LO = vec4<u32>(0u, 8u, 16u, 24u);
const HI = vec4<u32>(4u, 12u, 20u, 28u);

fn q8_scale(block: u32) -> f32 {
    return half_to_f32((mm_s8[block / 2u] >> (16u * (block % 2u))) & 0xffffu);
}

fn mm_store(t: u32, r: u32, v: f32) {
    let o = t * mm.rows + r;
    if (mm.acc != 0u) {
        mm_y[o] = mm_y[o] + v;
    } else {
        mm_y[o] = v;
    }
}

// matvec: one invocation per weight row, its blocks in order; the token's activation (grid y) staged in chunks of
// 32 blocks (4.25 KiB). For decoding and short prompts.

const MV_CHUNK: u32 = 32u;

var<workgroup> mv_x: array<vec4<f32>, 256>;
var<workgroup> mv_ds: array<vec2<f32>, MV_CHUNK>;

// Block `blk` of the weights times staged block `b` of the activation, scaled as quant::dot.
fn mv_block(blk: u32, b: u32) -> f32 {
    let xs = mv_ds[b];
    var acc = vec4<f32>(0.0);
    if (mm.kind == 0u) {
        let at = blk * 5u;
        for (var i = 0u; i < 4u; i += 1u) {
            let word = vec4<u32>(mm_w4[at + 1u + i]);
            acc += vec4<f32>((word >> LO) & vec4<u32>(15u)) * mv_x[b * 8u + i];
            acc += vec4<f32>((word >> HI) & vec4<u32>(15u)) * mv_x[b * 8u + 4u + i];
        }
        let isum = (acc.x + acc.y) + (acc.z + acc.w);
        let dm = mm_w4[at];
        return keep((half_to_f32(dm & 0xffffu) * xs.x) * isum) + keep(half_to_f32(dm >> 16u) * xs.y);
    }
    for (var i = 0u; i < 8u; i += 1u) {
        acc += unpack_i8(mm_q8[blk * 8u + i]) * mv_x[b * 8u + i];
    }
    let isum = (acc.x + acc.y) + (acc.z + acc.w);
    return keep(isum * (q8_scale(blk) * xs.x));
}

@compute @workgroup_size(64, 1, 1)
fn matvec(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    opaque_zero = u32(mm.rows == 0u);
    let t = wg.y;
    let row = wg.x * 64u + lid;
    let r = min(row, mm.rows - 1u);
    var sumf = 0.0;
    for (var c0 = 0u; c0 < mm.blocks; c0 += MV_CHUNK) {
        let n = min(MV_CHUNK, mm.blocks - c0);
        let first = t * mm.blocks + c0;
        for (var i = lid; i < n * 8u; i += 64u) {
            mv_x[i] = unpack_i8(mm_xq[first * 8u + i]);
        }
        if (lid < n) {
            mv_ds[lid] = mm_xds[first + lid];
        }
        workgroupBarrier();
        for (var b = 0u; b < n; b += 1u) {
            sumf += mv_block(r * mm.blocks + c0 + b, b);
        }
        workgroupBarrier();
    }
    if (row < mm.rows) {
        mm_store(t, row, sumf);
    }
}

// matmul: a 64-token × 64-row output tile per 8 × 8 workgroup, each invocation an 8 × 8 register block (tokens
// 4·ly + {0..3} and 32 + 4·ly + {0..3}, rows 4·lx + {0..3} and 32 + 4·lx + {0..3}), as encoder.wgsl's matmul. A
// block of 32 is staged in two slices of 16 k, k-major with a pitch of 17 vec4 (8.5 KiB), as small integers in f32;
// the integer sums of a block (exact) are then scaled into the running sums with the block's scales (1 KiB), block
// after block as on the CPU. Out-of-range tokens and rows read as 0; stores are bounds-checked.

const MT_PITCH: u32 = 17u;

var<workgroup> mt_x: array<vec4<f32>, 272>; // [kk * 17 + q]: tokens 4q .. 4q + 3
var<workgroup> mt_w: array<vec4<f32>, 272>; // [kk * 17 + q]: weight rows 4q .. 4q + 3
var<workgroup> mt_wd: array<f32, 64>;
var<workgroup> mt_wm: array<f32, 64>;
var<workgroup> mt_xd: array<f32, 64>;
var<workgroup> mt_xs: array<f32, 64>;

// The four weight words `wi` (of the slice's four) of rows r .. r + 3, block b; 0 past the last row.
fn mt_words(r: u32, b: u32, s: u32, wi: u32) -> vec4<u32> {
    var w = vec4<u32>(0u);
    for (var e = 0u; e < 4u; e += 1u) {
        if (r + e < mm.rows) {
            let blk = (r + e) * mm.blocks + b;
            if (mm.kind == 0u) {
                w[e] = mm_w4[blk * 5u + 1u + wi];
            } else {
                w[e] = mm_q8[blk * 8u + 4u * s + wi];
            }
        }
    }
    return w;
}

// Stages slice s (k = 16s .. 16s + 15) of block b: invocation li fills k = 4·(li / 16) + {0..3} of quad li % 16.
fn mt_stage(li: u32, t0: u32, r0: u32, b: u32, s: u32) {
    let q = li % 16u;
    let wi = li / 16u;
    let w = mt_words(r0 + 4u * q, b, s, wi);
    var x = vec4<u32>(0u);
    for (var e = 0u; e < 4u; e += 1u) {
        let t = t0 + 4u * q + e;
        if (t < mm.tokens) {
            x[e] = mm_xq[(t * mm.blocks + b) * 8u + 4u * s + wi];
        }
    }
    for (var i = 0u; i < 4u; i += 1u) {
        let at = (4u * wi + i) * MT_PITCH + q;
        mt_x[at] = vec4<f32>(vec4<i32>(x << vec4<u32>(24u - 8u * i)) >> vec4<u32>(24u));
        if (mm.kind == 0u) {
            mt_w[at] = vec4<f32>((w >> vec4<u32>(8u * i + 4u * s)) & vec4<u32>(15u));
        } else {
            mt_w[at] = vec4<f32>(vec4<i32>(w << vec4<u32>(24u - 8u * i)) >> vec4<u32>(24u));
        }
    }
    if (s == 0u) {
        let r = r0 + li;
        var d = 0.0;
        var m = 0.0;
        if (r < mm.rows) {
            let blk = r * mm.blocks + b;
            if (mm.kind == 0u) {
                let dm = mm_w4[blk * 5u];
                d = half_to_f32(dm & 0xffffu);
                m = half_to_f32(dm >> 16u);
            } else {
                d = q8_scale(blk);
            }
        }
        mt_wd[li] = d;
        mt_wm[li] = m;
        let t = t0 + li;
        var xs = vec2<f32>(0.0);
        if (t < mm.tokens) {
            xs = mm_xds[t * mm.blocks + b];
        }
        mt_xd[li] = xs.x;
        mt_xs[li] = xs.y;
    }
}

// The running sums of token t (in the tile) and rows 4c .. 4c + 3, plus the integer sums of one block, scaled.
fn mt_scale(sum: vec4<f32>, isum: vec4<f32>, t: u32, c: u32) -> vec4<f32> {
    let wd = vec4<f32>(mt_wd[4u * c], mt_wd[4u * c + 1u], mt_wd[4u * c + 2u], mt_wd[4u * c + 3u]);
    let xd = mt_xd[t];
    if (mm.kind == 0u) {
        let wm = vec4<f32>(mt_wm[4u * c], mt_wm[4u * c + 1u], mt_wm[4u * c + 2u], mt_wm[4u * c + 3u]);
        return sum + (keep4((wd * xd) * isum) + keep4(wm * mt_xs[t]));
    }
    return sum + keep4(isum * (wd * xd));
}

fn mt_store(t: u32, r: u32, v: vec4<f32>) {
    if (t >= mm.tokens) {
        return;
    }
    for (var e = 0u; e < 4u; e += 1u) {
        if (r + e < mm.rows) {
            mm_store(t, r + e, v[e]);
        }
    }
}

@compute @workgroup_size(8, 8, 1)
fn matmul(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    opaque_zero = u32(mm.rows == 0u);
    let r0 = wg.x * 64u;
    let t0 = wg.y * 64u;
    // s_ab / i_ab: token quad a (0: 4ly, 1: 32 + 4ly), token a.{x,y,z,w} in it, row quad b (0: 4lx, 1: 32 + 4lx);
    // s running sums, i the integer sums of the current block.
    var s_0x0 = vec4<f32>(0.0);
    var s_0x1 = vec4<f32>(0.0);
    var s_0y0 = vec4<f32>(0.0);
    var s_0y1 = vec4<f32>(0.0);
    var s_0z0 = vec4<f32>(0.0);
    var s_0z1 = vec4<f32>(0.0);
    var s_0w0 = vec4<f32>(0.0);
    var s_0w1 = vec4<f32>(0.0);
    var s_1x0 = vec4<f32>(0.0);
    var s_1x1 = vec4<f32>(0.0);
    var s_1y0 = vec4<f32>(0.0);
    var s_1y1 = vec4<f32>(0.0);
    var s_1z0 = vec4<f32>(0.0);
    var s_1z1 = vec4<f32>(0.0);
    var s_1w0 = vec4<f32>(0.0);
    var s_1w1 = vec4<f32>(0.0);
    for (var b = 0u; b < mm.blocks; b += 1u) {
        var i_0x0 = vec4<f32>(0.0);
        var i_0x1 = vec4<f32>(0.0);
        var i_0y0 = vec4<f32>(0.0);
        var i_0y1 = vec4<f32>(0.0);
        var i_0z0 = vec4<f32>(0.0);
        var i_0z1 = vec4<f32>(0.0);
        var i_0w0 = vec4<f32>(0.0);
        var i_0w1 = vec4<f32>(0.0);
        var i_1x0 = vec4<f32>(0.0);
        var i_1x1 = vec4<f32>(0.0);
        var i_1y0 = vec4<f32>(0.0);
        var i_1y1 = vec4<f32>(0.0);
        var i_1z0 = vec4<f32>(0.0);
        var i_1z1 = vec4<f32>(0.0);
        var i_1w0 = vec4<f32>(0.0);
        var i_1w1 = vec4<f32>(0.0);
        for (var s = 0u; s < 2u; s += 1u) {
            mt_stage(li, t0, r0, b, s);
            workgroupBarrier();
            for (var kk = 0u; kk < 16u; kk += 1u) {
                let a0 = mt_x[kk * MT_PITCH + lid.y];
                let a1 = mt_x[kk * MT_PITCH + lid.y + 8u];
                let b0 = mt_w[kk * MT_PITCH + lid.x];
                let b1 = mt_w[kk * MT_PITCH + lid.x + 8u];
                i_0x0 += a0.x * b0;
                i_0x1 += a0.x * b1;
                i_0y0 += a0.y * b0;
                i_0y1 += a0.y * b1;
                i_0z0 += a0.z * b0;
                i_0z1 += a0.z * b1;
                i_0w0 += a0.w * b0;
                i_0w1 += a0.w * b1;
                i_1x0 += a1.x * b0;
                i_1x1 += a1.x * b1;
                i_1y0 += a1.y * b0;
                i_1y1 += a1.y * b1;
                i_1z0 += a1.z * b0;
                i_1z1 += a1.z * b1;
                i_1w0 += a1.w * b0;
                i_1w1 += a1.w * b1;
            }
            if (s == 1u) {
                let ta = 4u * lid.y;
                let tb = ta + 32u;
                let c0 = lid.x;
                let c1 = lid.x + 8u;
                s_0x0 = mt_scale(s_0x0, i_0x0, ta, c0);
                s_0x1 = mt_scale(s_0x1, i_0x1, ta, c1);
                s_0y0 = mt_scale(s_0y0, i_0y0, ta + 1u, c0);
                s_0y1 = mt_scale(s_0y1, i_0y1, ta + 1u, c1);
                s_0z0 = mt_scale(s_0z0, i_0z0, ta + 2u, c0);
                s_0z1 = mt_scale(s_0z1, i_0z1, ta + 2u, c1);
                s_0w0 = mt_scale(s_0w0, i_0w0, ta + 3u, c0);
                s_0w1 = mt_scale(s_0w1, i_0w1, ta + 3u, c1);
                s_1x0 = mt_scale(s_1x0, i_1x0, tb, c0);
                s_1x1 = mt_scale(s_1x1, i_1x1, tb, c1);
                s_1y0 = mt_scale(s_1y0, i_1y0, tb + 1u, c0);
                s_1y1 = mt_scale(s_1y1, i_1y1, tb + 1u, c1);
                s_1z0 = mt_scale(s_1z0, i_1z0, tb + 2u, c0);
                s_1z1 = mt_scale(s_1z1, i_1z1, tb + 2u, c1);
                s_1w0 = mt_scale(s_1w0, i_1w0, tb + 3u, c0);
                s_1w1 = mt_scale(s_1w1, i_1w1, tb + 3u, c1);
            }
            workgroupBarrier();
        }
    }
    let ta = t0 + 4u * lid.y;
    let tb = ta + 32u;
    let c0 = r0 + 4u * lid.x;
    let c1 = c0 + 32u;
    mt_store(ta, c0, s_0x0);
    mt_store(ta, c1, s_0x1);
    mt_store(ta + 1u, c0, s_0y0);
    mt_store(ta + 1u, c1, s_0y1);
    mt_store(ta + 2u, c0, s_0z0);
    mt_store(ta + 2u, c1, s_0z1);
    mt_store(ta + 3u, c0, s_0w0);
    mt_store(ta + 3u, c1, s_0w1);
    mt_store(tb, c0, s_1x0);
    mt_store(tb, c1, s_1x1);
    mt_store(tb + 1u, c0, s_1y0);
    mt_store(tb + 1u, c1, s_1y1);
    mt_store(tb + 2u, c0, s_1z0);
    mt_store(tb + 2u, c1, s_1z1);
    mt_store(tb + 3u, c0, s_1w0);
    mt_store(tb + 3u, c1, s_1w1);
}

// ---- rope: rotary embedding of q and k in place (adjacent pairs), k and v copied into the layer's cache ---------
//
// qkv rows are [q (dim) | k (kv) | v (kv)]; the table holds (cos, sin) of position p, pair i at p · head_dim/2 + i
// (computed on the CPU as ggml::Rope computes them). The cache is [keys: cap × kv | values: cap × kv], f32 holding
// f16-rounded values (the CPU's f16 cache).

struct RopeParams {
    tokens: u32,
    start: u32,
    dim: u32,
    kv: u32,
    head_dim: u32,
    stride: u32,
    cap: u32,
    _pad: u32,
}

@group(0) @binding(20) var<uniform> rp: RopeParams;
@group(0) @binding(21) var<storage, read_write> rp_qkv: array<f32>;
@group(0) @binding(22) var<storage, read> rp_table: array<vec2<f32>>;
@group(0) @binding(23) var<storage, read_write> rp_cache: array<f32>;

@compute @workgroup_size(64, 1, 1)
fn rope(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    opaque_zero = u32(rp.tokens == 0u);
    let e = gid.x + gid.y * groups.x * 64u;
    let pairs = rp.dim / 2u + rp.kv;
    if (e >= rp.tokens * pairs) {
        return;
    }
    let t = e / pairs;
    let c = 2u * (e % pairs);
    let pos = rp.start + t;
    let at = t * rp.stride + c;
    if (c >= rp.dim + rp.kv) {
        let v = rp.cap * rp.kv + pos * rp.kv + c - rp.dim - rp.kv;
        rp_cache[v] = round_f16(rp_qkv[at]);
        rp_cache[v + 1u] = round_f16(rp_qkv[at + 1u]);
        return;
    }
    let cs = rp_table[pos * (rp.head_dim / 2u) + (c % rp.head_dim) / 2u];
    let a = rp_qkv[at];
    let b = rp_qkv[at + 1u];
    let x = keep(a * cs.x) - keep(b * cs.y);
    let y = keep(a * cs.y) + keep(b * cs.x);
    if (c < rp.dim) {
        rp_qkv[at] = x;
        rp_qkv[at + 1u] = y;
    } else {
        let k = pos * rp.kv + c - rp.dim;
        rp_cache[k] = round_f16(x);
        rp_cache[k + 1u] = round_f16(y);
    }
}

// ---- attention: ggml's flash attention of one (token, head) per workgroup over the f16 cache ---------------------
//
// As ggml::attention, bit for bit. Calls of fewer than 64 tokens take ggml's one-row kernel: the query rounded to
// f16, each score an f64 sum (`big_add`) rounded to f32 and scaled, an online softmax with glibc's expf whose
// weighted values are kept in f16. Calls of 64 tokens or more take its tiled kernel: keys in tiles of 64, scores
// summed in f32, the running maximum updated once per tile (expf), the tile's weights by ggml's polynomial exp
// (v_expf) summed four at a time and then in f64, the weighted values in f32. The sequential parts (the running
// maximum, the accumulators) keep ggml's order: keys in order, one invocation per column (head_dim ≤ 256, 4 per
// invocation); the scores and exponentials are computed in parallel between barriers. Keys go in chunks of 1024
// (one-row) or 64 (tiled) through workgroup memory. Scores that are not finite (a model gone wrong) are the one
// case not reproduced: ggml turns them into NaN, the emulated sums into large finite values.

const AT_WG: u32 = 64u;
const AT_CHUNK: u32 = 1024u;

struct AttentionParams {
    tokens: u32,
    start: u32,
    heads: u32,
    kv_heads: u32,
    head_dim: u32,
    stride: u32,
    cap: u32,
    scale: f32,
}

@group(0) @binding(24) var<uniform> ap: AttentionParams;
@group(0) @binding(25) var<storage, read> ap_qkv: array<f32>;
@group(0) @binding(26) var<storage, read> ap_cache: array<f32>;
@group(0) @binding(27) var<storage, read_write> ap_out: array<f32>;

var<workgroup> at_q: array<f32, 256>;
// One-row: the scores, then the value factors vs. Tiled: the scores, then the weights.
var<workgroup> at_s: array<f32, AT_CHUNK>;
// One-row: the maximum before each key, then the rescaling factors ms.
var<workgroup> at_ms: array<f32, AT_CHUNK>;
// The running maximum and sum (tiled: the tile's rescaling factor in at_step.z).
var<workgroup> at_step: vec3<f32>;

// The attention of query `t` of head `head` (kv head offset `kvh`) over keys 0 .. visible − 1, written to out.
@compute @workgroup_size(64, 1, 1)
fn attention(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    opaque_zero = u32(ap.heads == 0u);
    let g = wg.x + wg.y * groups.x;
    if (g >= ap.tokens * ap.heads) {
        return;
    }
    let t = g / ap.heads;
    let head = g % ap.heads;
    let kvh = (head / (ap.heads / ap.kv_heads)) * ap.head_dim;
    let visible = ap.start + t + 1u;
    let tiled = ap.tokens >= 64u;
    let q_at = t * ap.stride + head * ap.head_dim;
    for (var c = lid; c < ap.head_dim; c += AT_WG) {
        at_q[c] = select(round_f16(ap_qkv[q_at + c]), ap_qkv[q_at + c], tiled);
    }
    workgroupBarrier();
    var acc = vec4<f32>(0.0);
    if (tiled) {
        acc = at_tiled(lid, visible, kvh);
    } else {
        acc = at_one_row(lid, visible, kvh);
    }
    let sum = workgroupUniformLoad(&at_step).y;
    let inv = select(recip(sum), 0.0, sum == 0.0);
    let o = t * ap.heads * ap.head_dim + head * ap.head_dim;
    for (var i = 0u; i < 4u; i += 1u) {
        let c = lid + i * AT_WG;
        if (c < ap.head_dim) {
            ap_out[o + c] = acc[i] * inv;
        }
    }
}

// ggml's one-row kernel (`ggml_compute_forward_flash_attn_ext_f16_one_chunk`): returns this invocation's
// accumulators (columns lid + 64i), rounded to f16; at_step.y: the sum S.
fn at_one_row(lid: u32, visible: u32, kvh: u32) -> vec4<f32> {
    let kv = ap.kv_heads * ap.head_dim;
    let values = ap.cap * kv;
    var acc = vec4<f32>(0.0);
    var m = 0.0;
    var sum = 0.0;
    for (var c0 = 0u; c0 < visible; c0 += AT_CHUNK) {
        let n = min(AT_CHUNK, visible - c0);
        for (var j = lid; j < n; j += AT_WG) {
            // q and k hold f16 values: each product is exact in f32, and its f64 sum is emulated.
            let key = (c0 + j) * kv + kvh;
            var dot = Big(vec4<u32>(0u), 0, false);
            for (var c = 0u; c < ap.head_dim; c += 1u) {
                dot = big_add(dot, big_f32(at_q[c] * ap_cache[key + c]));
            }
            at_s[j] = keep(big_to_f32(dot) * ap.scale);
        }
        workgroupBarrier();
        if (lid == 0u) {
            // The running maximum before each key (the very first key has none: it sets ms = 0 below).
            for (var j = 0u; j < n; j += 1u) {
                at_ms[j] = m;
                if (c0 + j == 0u || at_s[j] > m) {
                    m = at_s[j];
                }
            }
        }
        workgroupBarrier();
        for (var j = lid; j < n; j += AT_WG) {
            // A new maximum rescales what came before by ms = expf(before − s), else the key weighs
            // vs = expf(s − before); the very first key has no before: ms = expf(−∞) = 0.
            let s = at_s[j];
            let before = at_ms[j];
            let grows = s > before;
            let e = expf_glibc(select(s - before, before - s, grows));
            at_ms[j] = select(select(1.0, e, grows), 0.0, c0 + j == 0u);
            at_s[j] = select(e, 1.0, grows || c0 + j == 0u);
        }
        workgroupBarrier();
        for (var j = 0u; j < n; j += 1u) {
            let ms = at_ms[j];
            let vs = at_s[j];
            let at = values + (c0 + j) * kv + kvh;
            for (var i = 0u; i < 4u; i += 1u) {
                let c = lid + i * AT_WG;
                if (c < ap.head_dim) {
                    let scaled = round_f16(keep(acc[i] * ms));
                    acc[i] = round_f16(scaled + keep(ap_cache[at + c] * vs));
                }
            }
            sum = keep(sum * ms) + vs;
        }
        workgroupBarrier();
    }
    if (lid == 0u) {
        at_step.y = sum;
    }
    return acc;
}

// ggml's tiled kernel (`ggml_compute_forward_flash_attn_ext_tiled`), one query row: returns this invocation's
// accumulators (columns lid + 64i); at_step.y: the sum S.
fn at_tiled(lid: u32, visible: u32, kvh: u32) -> vec4<f32> {
    let kv = ap.kv_heads * ap.head_dim;
    let values = ap.cap * kv;
    var acc = vec4<f32>(0.0);
    for (var c0 = 0u; c0 < visible; c0 += AT_WG) {
        let n = min(AT_WG, visible - c0);
        // Key lid of the tile: its score, in f32 in element order.
        if (lid < n) {
            let key = (c0 + lid) * kv + kvh;
            var dot = 0.0;
            for (var c = 0u; c < ap.head_dim; c += 1u) {
                dot += keep(at_q[c] * ap_cache[key + c]);
            }
            at_s[lid] = keep(dot * ap.scale);
        }
        workgroupBarrier();
        if (lid == 0u) {
            var top = at_s[0];
            for (var j = 1u; j < n; j += 1u) {
                top = max(top, at_s[j]);
            }
            var step = at_step;
            if (c0 == 0u) {
                step = vec3<f32>(top, 0.0, 1.0); // nothing to rescale yet
            } else if (top > step.x) {
                step.z = expf_glibc(step.x - top);
                step.y = keep(step.y * step.z);
                step.x = top;
            } else {
                step.z = 1.0;
            }
            at_step = step;
        }
        let step = workgroupUniformLoad(&at_step);
        if (lid < n) {
            at_s[lid] = v_expf(at_s[lid] - step.x);
        } else {
            at_s[lid] = 0.0;
        }
        workgroupBarrier();
        if (lid == 0u) {
            // The weights four lanes at a time, those sums added in f64, then S (ggml: S + sum in f64; a binary64
            // addition commutes, so S can come last through the same call).
            var total = Big(vec4<u32>(0u), 0, false);
            for (var j = 0u; j <= AT_WG; j += 4u) {
                var x = step.y;
                if (j < AT_WG) {
                    x = (at_s[j] + at_s[j + 1u]) + (at_s[j + 2u] + at_s[j + 3u]);
                }
                total = big_add(total, big_f32(x));
            }
            at_step.y = big_to_f32(total);
        }
        for (var i = 0u; i < 4u; i += 1u) {
            let c = lid + i * AT_WG;
            if (c < ap.head_dim) {
                var a = keep(acc[i] * step.z);
                for (var j = 0u; j < n; j += 1u) {
                    a += keep(at_s[j] * ap_cache[values + (c0 + j) * kv + kvh + c]);
                }
                acc[i] = a;
            }
        }
        workgroupBarrier();
    }
    return acc;
}

// ---- swiglu: act[t][j] = gate / (1 + v_expf(−gate)) · up, from rows [gate (hidden) | up (hidden)] ----------------

struct SwigluParams {
    total: u32, // tokens · hidden
    hidden: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(28) var<uniform> sw: SwigluParams;
@group(0) @binding(29) var<storage, read> sw_gu: array<f32>;
@group(0) @binding(30) var<storage, read_write> sw_out: array<f32>;

@compute @workgroup_size(64, 1, 1)
fn swiglu(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    opaque_zero = u32(sw.total == 0u);
    let e = gid.x + gid.y * groups.x * 64u;
    if (e >= sw.total) {
        return;
    }
    let at = (e / sw.hidden) * 2u * sw.hidden + e % sw.hidden;
    let g = sw_gu[at];
    sw_out[e] = div_rn(g, 1.0 + v_expf(0.0 - g)) * sw_gu[at + sw.hidden];
}

// ggml's SSE2 `ggml_v_expf`, one lane, line for line as ggml::v_expf.
fn v_expf(x: f32) -> f32 {
    // ggml rounds x·log2(e) to an integer by adding and subtracting 1.5·2^23, which a driver may simplify away:
    // round() (half to even) is that rounding.
    let n = round(x * bitcast<f32>(0x3fb8aa3bu));
    let b = (x - keep(n * bitcast<f32>(0x3f317200u))) - keep(n * bitcast<f32>(0x35bfbe8eu));
    let e = bitcast<u32>(i32(n)) << 23u;
    let k = bitcast<f32>(e + 0x3f800000u);
    let u = b * b;
    let p1 = keep(bitcast<f32>(0x3c072010u) * b) + bitcast<f32>(0x3d2b9f17u);
    let p2 = keep(bitcast<f32>(0x3e2aaf33u) * b) + bitcast<f32>(0x3efffedbu);
    let j = keep(keep(keep(p1 * u) + p2) * u) + keep(bitcast<f32>(0x3f7ffff6u) * b);
    if (abs(n) <= 126.0 || n != n) {
        return keep(k * j) + k;
    }
    let g = select(0u, 0x82000000u, n <= 0.0);
    let s1 = bitcast<f32>(g + 0x7f000000u);
    let s2 = bitcast<f32>(e - g);
    if (abs(n) > 192.0) {
        return s1 * s1;
    }
    return (keep(s2 * j) + s2) * s1;
}
