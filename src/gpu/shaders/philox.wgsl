// Philox4x32-10 and Lemire's exact bounded draws: the WGSL twin of src/rng.rs (prepended to the kernels that draw).
// WGSL has no 64-bit integers, so the 32x32 -> 64-bit products are built from 16-bit halves.

const PHILOX_M0: u32 = 0xD2511F53u;
const PHILOX_M1: u32 = 0xCD9E8D57u;
const PHILOX_W0: u32 = 0x9E3779B9u;
const PHILOX_W1: u32 = 0xBB67AE85u;

// (high, low) words of a * b.
fn mulhilo(a: u32, b: u32) -> vec2<u32> {
    let a_lo = a & 0xffffu;
    let a_hi = a >> 16u;
    let b_lo = b & 0xffffu;
    let b_hi = b >> 16u;
    let ll = a_lo * b_lo;
    let lh = a_lo * b_hi;
    let hl = a_hi * b_lo;
    let mid = (ll >> 16u) + (lh & 0xffffu) + (hl & 0xffffu);
    let hi = a_hi * b_hi + (lh >> 16u) + (hl >> 16u) + (mid >> 16u);
    return vec2<u32>(hi, a * b);
}

fn philox4x32(counter: vec4<u32>, key_in: vec2<u32>) -> vec4<u32> {
    var c = counter;
    var k = key_in;
    for (var round = 0u; round < 10u; round += 1u) {
        let p0 = mulhilo(PHILOX_M0, c.x);
        let p1 = mulhilo(PHILOX_M1, c.z);
        c = vec4<u32>(p1.x ^ c.y ^ k.x, p1.y, p0.x ^ c.w ^ k.y, p0.y);
        k = vec2<u32>(k.x + PHILOX_W0, k.y + PHILOX_W1);
    }
    return c;
}

// Lemire: the high word of x * n, or 0xffffffff when the low word falls in the biased zone (below threshold).
fn lemire(x: u32, n: u32, threshold: u32) -> u32 {
    let m = mulhilo(x, n);
    return select(0xffffffffu, m.x, m.y >= threshold);
}

// Draw `i` (< 2^32) of `stream` in [0, n), given word `word` of its block: as rng::Draws::fill_below, a rejected word
// is redrawn from word 0 of the block at counter (i, 0, stream, attempt), attempt = 1, 2, ...
fn draw_below(word: u32, i: u32, stream: u32, key: vec2<u32>, n: u32, threshold: u32) -> u32 {
    var v = lemire(word, n, threshold);
    var attempt = 1u;
    loop {
        if (v != 0xffffffffu || attempt > 64u) {
            break;
        }
        v = lemire(philox4x32(vec4<u32>(i, 0u, stream, attempt), key).x, n, threshold);
        attempt += 1u;
    }
    return select(v, 0u, v == 0xffffffffu);
}
