// The sentence encoder's forward pass (gpu::encoder hosts it). CPU twins in nn::ops: `matmul` ↔ Linear::apply
// (+ gelu), `add_layer_norm` ↔ LayerNorm::apply, `attention` ↔ attention. Activations are row-major
// tokens × features f32 matrices of packed sequences (no padding).
//
// Every resource variable has its own binding number (the three entry points share one module); each pipeline's
// automatic layout holds only the bindings its entry point uses. Within WebGPU's default limits: ≤ 256
// invocations and ≤ 16 KiB of workgroup memory per entry point.

// ---- matmul: y = x·Wᵀ + b (optionally GELU), x rows × k, W n × k, y rows × n ----------------------------------
//
// An 8 × 8 workgroup computes a 64 × 64 output tile, each invocation an 8 × 8 register block: rows 4·ly + {0..3}
// and 32 + 4·ly + {0..3}, columns 4·lx + {0..3} and 32 + 4·lx + {0..3}, held as 16 vec4 accumulators. K advances
// in slices of 16 staged in workgroup memory (8.5 KiB) k-major, four rows of x (of W) packed per vec4, so an inner
// step is 4 vec4 loads for 64 multiply-adds (CPU drivers such as lavapipe and SwiftShader are bound by loads). The
// staging reads 16 consecutive k of a row (coalesced) and stores with a pitch of 17 vec4 (no bank conflicts);
// out-of-range rows, columns and k read as 0 and stores are bounds-checked, so any size works.

const TILE: u32 = 64u;
const BK: u32 = 16u;
const PITCH: u32 = 17u; // vec4 per k in the tiles: TILE / 4 + 1

struct MatmulParams {
    rows: u32,
    k: u32,
    n: u32,
    gelu: u32,
}

@group(0) @binding(0) var<uniform> mm: MatmulParams;
@group(0) @binding(1) var<storage, read> mm_x: array<f32>;
@group(0) @binding(2) var<storage, read> mm_w: array<f32>;
@group(0) @binding(3) var<storage, read> mm_b: array<f32>;
@group(0) @binding(4) var<storage, read_write> mm_y: array<f32>;

var<workgroup> tile_x: array<vec4<f32>, 272>; // [kk * PITCH + q]: x rows 4q .. 4q + 3 of the tile at k0 + kk
var<workgroup> tile_w: array<vec4<f32>, 272>; // [kk * PITCH + q]: W rows (output columns) 4q .. 4q + 3

// erf by Abramowitz & Stegun 7.1.26 with ops::erf's coefficients.
fn erf_as(x: f32) -> f32 {
    let t = 1.0 / (1.0 + 0.3275911 * abs(x));
    let poly = t * (0.2548296 + t * (-0.28449674 + t * (1.4214137 + t * (-1.4531521 + t * 1.0614054))));
    let e = 1.0 - poly * exp(-x * x);
    return select(-e, e, x >= 0.0);
}

// x·Φ(x), BERT's exact GELU (ops::gelu).
fn gelu(x: f32) -> f32 {
    return 0.5 * x * (1.0 + erf_as(x * 0.70710677));
}

fn mm_load_x(r: u32, k: u32) -> f32 {
    if (r < mm.rows && k < mm.k) {
        return mm_x[r * mm.k + k];
    }
    return 0.0;
}

fn mm_load_w(c: u32, k: u32) -> f32 {
    if (c < mm.n && k < mm.k) {
        return mm_w[c * mm.k + k];
    }
    return 0.0;
}

// Row r, columns c .. c + 3: bias, GELU when asked, bounds-checked stores.
fn mm_store(r: u32, c: u32, acc: vec4<f32>) {
    if (r >= mm.rows) {
        return;
    }
    for (var j = 0u; j < 4u; j += 1u) {
        if (c + j < mm.n) {
            var v = acc[j] + mm_b[c + j];
            if (mm.gelu != 0u) {
                v = gelu(v);
            }
            mm_y[r * mm.n + c + j] = v;
        }
    }
}

@compute @workgroup_size(8, 8, 1)
fn matmul(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let row0 = wg.y * TILE;
    let col0 = wg.x * TILE;
    // acc_ab: row quad a (0: 4ly, 1: 32 + 4ly), row a.{x,y,z,w} in that quad, column quad b (0: 4lx, 1: 32 + 4lx).
    var acc_0x0 = vec4<f32>(0.0);
    var acc_0x1 = vec4<f32>(0.0);
    var acc_0y0 = vec4<f32>(0.0);
    var acc_0y1 = vec4<f32>(0.0);
    var acc_0z0 = vec4<f32>(0.0);
    var acc_0z1 = vec4<f32>(0.0);
    var acc_0w0 = vec4<f32>(0.0);
    var acc_0w1 = vec4<f32>(0.0);
    var acc_1x0 = vec4<f32>(0.0);
    var acc_1x1 = vec4<f32>(0.0);
    var acc_1y0 = vec4<f32>(0.0);
    var acc_1y1 = vec4<f32>(0.0);
    var acc_1z0 = vec4<f32>(0.0);
    var acc_1z1 = vec4<f32>(0.0);
    var acc_1w0 = vec4<f32>(0.0);
    var acc_1w1 = vec4<f32>(0.0);
    // Staging: invocation li fills k = k0 + li % 16 of quads li / 16 + 4e, e = 0..3, in both tiles.
    let skk = li % BK;
    let sq = li / BK;
    for (var k0 = 0u; k0 < mm.k; k0 += BK) {
        let k = k0 + skk;
        for (var e = 0u; e < 4u; e += 1u) {
            let q = sq + 4u * e;
            let r = row0 + 4u * q;
            tile_x[skk * PITCH + q] =
                vec4<f32>(mm_load_x(r, k), mm_load_x(r + 1u, k), mm_load_x(r + 2u, k), mm_load_x(r + 3u, k));
            let c = col0 + 4u * q;
            tile_w[skk * PITCH + q] =
                vec4<f32>(mm_load_w(c, k), mm_load_w(c + 1u, k), mm_load_w(c + 2u, k), mm_load_w(c + 3u, k));
        }
        workgroupBarrier();
        for (var kk = 0u; kk < BK; kk += 1u) {
            let a0 = tile_x[kk * PITCH + lid.y];
            let a1 = tile_x[kk * PITCH + lid.y + 8u];
            let b0 = tile_w[kk * PITCH + lid.x];
            let b1 = tile_w[kk * PITCH + lid.x + 8u];
            acc_0x0 += a0.x * b0;
            acc_0x1 += a0.x * b1;
            acc_0y0 += a0.y * b0;
            acc_0y1 += a0.y * b1;
            acc_0z0 += a0.z * b0;
            acc_0z1 += a0.z * b1;
            acc_0w0 += a0.w * b0;
            acc_0w1 += a0.w * b1;
            acc_1x0 += a1.x * b0;
            acc_1x1 += a1.x * b1;
            acc_1y0 += a1.y * b0;
            acc_1y1 += a1.y * b1;
            acc_1z0 += a1.z * b0;
            acc_1z1 += a1.z * b1;
            acc_1w0 += a1.w * b0;
            acc_1w1 += a1.w * b1;
        }
        workgroupBarrier();
    }
    let r0 = row0 + 4u * lid.y;
    let r1 = r0 + 32u;
    let c0 = col0 + 4u * lid.x;
    let c1 = c0 + 32u;
    mm_store(r0, c0, acc_0x0);
    mm_store(r0, c1, acc_0x1);
    mm_store(r0 + 1u, c0, acc_0y0);
    mm_store(r0 + 1u, c1, acc_0y1);
    mm_store(r0 + 2u, c0, acc_0z0);
    mm_store(r0 + 2u, c1, acc_0z1);
    mm_store(r0 + 3u, c0, acc_0w0);
    mm_store(r0 + 3u, c1, acc_0w1);
    mm_store(r1, c0, acc_1x0);
    mm_store(r1, c1, acc_1x1);
    mm_store(r1 + 1u, c0, acc_1y0);
    mm_store(r1 + 1u, c1, acc_1y1);
    mm_store(r1 + 2u, c0, acc_1z0);
    mm_store(r1 + 2u, c1, acc_1z1);
    mm_store(r1 + 3u, c0, acc_1w0);
    mm_store(r1 + 3u, c1, acc_1w1);
}

// ---- add_layer_norm: x ← LN(x + residual) per row ---------------------------------------------------------------
//
// One workgroup of 128 per row (rows on a 2-D grid); the sum, then the sum of squared deviations (biased variance,
// two passes as the CPU twin), by tree reductions in workgroup memory. Each invocation owns columns lid + 128m.

const LN_WG: u32 = 128u;

struct NormParams {
    rows: u32,
    cols: u32,
    residual: u32,
    eps: f32,
}

@group(0) @binding(5) var<uniform> ln: NormParams;
@group(0) @binding(6) var<storage, read_write> ln_x: array<f32>;
@group(0) @binding(7) var<storage, read> ln_r: array<f32>;
@group(0) @binding(8) var<storage, read> ln_g: array<f32>;
@group(0) @binding(9) var<storage, read> ln_b: array<f32>;

var<workgroup> ln_red: array<f32, LN_WG>;

// The workgroup's sum of `v` (called in uniform control flow by every invocation).
fn ln_sum(lid: u32, v: f32) -> f32 {
    ln_red[lid] = v;
    workgroupBarrier();
    for (var s = LN_WG / 2u; s > 0u; s >>= 1u) {
        if (lid < s) {
            ln_red[lid] += ln_red[lid + s];
        }
        workgroupBarrier();
    }
    let total = ln_red[0];
    workgroupBarrier();
    return total;
}

@compute @workgroup_size(128, 1, 1)
fn add_layer_norm(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let row = wg.x + wg.y * groups.x;
    if (row >= ln.rows) {
        return;
    }
    let base = row * ln.cols;
    var sum = 0.0;
    for (var c = lid; c < ln.cols; c += LN_WG) {
        var v = ln_x[base + c];
        if (ln.residual != 0u) {
            v += ln_r[base + c];
            ln_x[base + c] = v;
        }
        sum += v;
    }
    let n = f32(ln.cols);
    let mean = ln_sum(lid, sum) / n;
    var sq = 0.0;
    for (var c = lid; c < ln.cols; c += LN_WG) {
        let d = ln_x[base + c] - mean;
        sq += d * d;
    }
    let variance = ln_sum(lid, sq) / n;
    let inv = 1.0 / sqrt(variance + ln.eps);
    for (var c = lid; c < ln.cols; c += LN_WG) {
        ln_x[base + c] = (ln_x[base + c] - mean) * inv * ln_g[c] + ln_b[c];
    }
}

// ---- attention: context of one (token, head) per workgroup ------------------------------------------------------
//
// qkv is tokens × 3h (query | key | value); span[t] = (start, length) of token t's sequence (its mask: keys outside
// it are never read). Scores q·k of the sequence's keys go to workgroup memory (≤ AT_KEYS), then the softmax with
// the maximum subtracted, scaled by 1/√d after the subtraction (as ops::attention), then Σ p·v / Σ p. The weighted
// sum splits the keys among 64 / w groups of w invocations (w = d/4 vec4 columns when 4 divides d, else d scalar
// columns) and adds the groups' partial sums; d > 64 not divisible by 4 strides the columns instead. When 4 divides
// d, keys and values are read as vec4 (`at_qkv4`, the same buffer as `at_qkv`). A token with an empty span gets
// zeros. Workgroup memory: 4 KiB of scores + 2.25 KiB.

const AT_WG: u32 = 64u;
const AT_KEYS: u32 = 1024u;
const AT_HEAD4: u32 = 64u; // the largest head dimension, 256, in vec4

struct AttentionParams {
    tokens: u32,
    hidden: u32,
    heads: u32,
    d: u32,
    scale: f32,
    groups: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(10) var<uniform> at: AttentionParams;
@group(0) @binding(11) var<storage, read> at_qkv: array<f32>;
@group(0) @binding(12) var<storage, read> at_span: array<vec2<u32>>;
@group(0) @binding(13) var<storage, read_write> at_ctx: array<f32>;
@group(0) @binding(14) var<storage, read> at_qkv4: array<vec4<f32>>;

var<workgroup> at_scores: array<f32, AT_KEYS>;
var<workgroup> at_q: array<vec4<f32>, AT_HEAD4>;
var<workgroup> at_red: array<f32, AT_WG>;
var<workgroup> at_part: array<vec4<f32>, AT_WG>;

// The workgroup's maximum (take_max) or sum of `v` (called in uniform control flow by every invocation).
fn at_reduce(lid: u32, v: f32, take_max: bool) -> f32 {
    at_red[lid] = v;
    workgroupBarrier();
    for (var s = AT_WG / 2u; s > 0u; s >>= 1u) {
        if (lid < s) {
            let other = at_red[lid + s];
            at_red[lid] = select(at_red[lid] + other, max(at_red[lid], other), take_max);
        }
        workgroupBarrier();
    }
    let total = at_red[0];
    workgroupBarrier();
    return total;
}

@compute @workgroup_size(64, 1, 1)
fn attention(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let g = wg.x + wg.y * groups.x;
    if (g >= at.groups) {
        return;
    }
    let token = g / at.heads;
    let head = g % at.heads;
    let d = at.d;
    let quads = d % 4u == 0u;
    let span = at_span[token];
    let start = span.x;
    let len = min(span.y, AT_KEYS);
    let stride = 3u * at.hidden;
    let q_at = token * stride + head * d;
    for (var c4 = lid; c4 < (d + 3u) / 4u; c4 += AT_WG) {
        var q = vec4<f32>(0.0);
        for (var e = 0u; e < 4u; e += 1u) {
            if (4u * c4 + e < d) {
                q[e] = at_qkv[q_at + 4u * c4 + e];
            }
        }
        at_q[c4] = q;
    }
    workgroupBarrier();
    let k_at = at.hidden + head * d;
    var top = -3.4e38;
    for (var j = lid; j < len; j += AT_WG) {
        let row = (start + j) * stride + k_at;
        var s = 0.0;
        if (quads) {
            var s4 = vec4<f32>(0.0);
            for (var c4 = 0u; c4 < d / 4u; c4 += 1u) {
                s4 += at_q[c4] * at_qkv4[row / 4u + c4];
            }
            s = (s4.x + s4.y) + (s4.z + s4.w);
        } else {
            for (var c = 0u; c < d; c += 1u) {
                s += at_q[c / 4u][c % 4u] * at_qkv[row + c];
            }
        }
        at_scores[j] = s;
        top = max(top, s);
    }
    top = at_reduce(lid, top, true);
    var sum = 0.0;
    for (var j = lid; j < len; j += AT_WG) {
        let p = exp((at_scores[j] - top) * at.scale);
        at_scores[j] = p;
        sum += p;
    }
    // The reduction's barriers also publish every invocation's at_scores.
    sum = at_reduce(lid, sum, false);
    let inv = select(0.0, 1.0 / sum, len > 0u);
    let v_at = 2u * at.hidden + head * d;
    let out = token * at.hidden + head * d;
    let w = select(d, d / 4u, quads);
    var acc = vec4<f32>(0.0);
    if (w <= AT_WG) {
        let parts = AT_WG / w;
        let part = lid / w;
        let c = lid % w;
        if (part < parts) {
            for (var j = part; j < len; j += parts) {
                let row = (start + j) * stride + v_at;
                if (quads) {
                    acc += at_scores[j] * at_qkv4[row / 4u + c];
                } else {
                    acc.x += at_scores[j] * at_qkv[row + c];
                }
            }
        }
    }
    at_part[lid] = acc;
    workgroupBarrier();
    if (w <= AT_WG) {
        if (lid < w) {
            let parts = AT_WG / w;
            var total = vec4<f32>(0.0);
            for (var p = 0u; p < parts; p += 1u) {
                total += at_part[p * w + lid];
            }
            total *= inv;
            if (quads) {
                for (var e = 0u; e < 4u; e += 1u) {
                    at_ctx[out + 4u * lid + e] = total[e];
                }
            } else {
                at_ctx[out + lid] = total.x;
            }
        }
    } else {
        for (var c = lid; c < w; c += AT_WG) {
            var total = vec4<f32>(0.0);
            for (var j = 0u; j < len; j += 1u) {
                let row = (start + j) * stride + v_at;
                if (quads) {
                    total += at_scores[j] * at_qkv4[row / 4u + c];
                } else {
                    total.x += at_scores[j] * at_qkv[row + c];
                }
            }
            total *= inv;
            if (quads) {
                for (var e = 0u; e < 4u; e += 1u) {
                    at_ctx[out + 4u * c + e] = total[e];
                }
            } else {
                at_ctx[out + c] = total.x;
            }
        }
    }
}
