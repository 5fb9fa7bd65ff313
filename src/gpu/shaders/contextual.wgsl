// One Newton reduction of contextual Bradley-Terry (rank::contextual::reduce is the CPU twin). Battles arrive sorted
// by unordered pair (i < j) and cut into segments of one pair; workgroup s reduces segment s to
//   [Σv, Σo·e, Σloss, Σc, Σc·y_i, Σo·v·z_f (k), Σe·z_f (k), Σv·z_f·z_g (g ≤ f, k(k+1)/2)]
// with o = +1 when side A is model i, y_i model i's score, e = c(p − y), v = c·p(1 − p), c = weight (× bootstrap
// multiplicity), and s = o(θ_i − θ_j) + β·z. The CPU adds the segments in f64 and assembles the gradient and
// Hessian; Σc and Σc·y_i are the pair totals of the connectivity check.

const MAX_K: u32 = 8u;
const MAX_Q: u32 = 57u; // 5 + 2 * MAX_K + MAX_K * (MAX_K + 1) / 2
const WG: u32 = 64u;

struct Params {
    n: u32,
    k: u32,
    q: u32,
    segments: u32,
    use_multiplicity: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> theta: array<f32>;
@group(0) @binding(2) var<storage, read> segs: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read> kind: array<u32>;
@group(0) @binding(4) var<storage, read> weight: array<f32>;
@group(0) @binding(5) var<storage, read> z: array<f32>;
@group(0) @binding(6) var<storage, read> multiplicity: array<u32>;
@group(0) @binding(7) var<storage, read_write> out: array<f32>;

var<workgroup> scratch: array<f32, 64>;

fn softplus(s: f32) -> f32 {
    return max(s, 0.0) + log(1.0 + exp(-abs(s)));
}

@compute @workgroup_size(64, 1, 1)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) t: u32,
) {
    let s = wg.x + wg.y * groups.x;
    if (s >= params.segments) {
        return;
    }
    let k = params.k;
    var acc: array<f32, MAX_Q>;
    for (var q = 0u; q < MAX_Q; q += 1u) {
        acc[q] = 0.0;
    }
    let seg = segs[s];
    let d = theta[seg.x] - theta[seg.y];
    for (var r = seg.z + t; r < seg.w; r += WG) {
        var c = weight[r];
        if (params.use_multiplicity == 1u) {
            c = c * f32(multiplicity[r]);
        }
        if (c == 0.0) {
            continue;
        }
        let m = kind[r];
        let y = f32(m & 3u) * 0.5;
        let o = select(-1.0, 1.0, (m & 4u) != 0u);
        var x = o * d;
        for (var f = 0u; f < k; f += 1u) {
            x += theta[params.n + f] * z[r * k + f];
        }
        // p = σ(x) and q = 1 − p = σ(−x), both without cancellation: p − y is −q for a win, p for a loss.
        let ex = exp(-abs(x));
        let big = 1.0 / (1.0 + ex);
        let small = ex / (1.0 + ex);
        let p = select(small, big, x >= 0.0);
        let q = select(big, small, x >= 0.0);
        let e = c * select(select(p - y, p, y == 0.0), -q, y == 1.0);
        let v = c * p * q;
        acc[0] += v;
        acc[1] += o * e;
        acc[2] += c * (softplus(x) - y * x);
        acc[3] += c;
        acc[4] += c * select(1.0 - y, y, o > 0.0);
        var idx = 5u + 2u * k;
        for (var f = 0u; f < k; f += 1u) {
            let zf = z[r * k + f];
            acc[5u + f] += o * v * zf;
            acc[5u + k + f] += e * zf;
            for (var g = 0u; g <= f; g += 1u) {
                acc[idx] += v * zf * z[r * k + g];
                idx += 1u;
            }
        }
    }
    for (var q = 0u; q < params.q; q += 1u) {
        scratch[t] = acc[q];
        workgroupBarrier();
        for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
            if (t < stride) {
                scratch[t] += scratch[t + stride];
            }
            workgroupBarrier();
        }
        if (t == 0u) {
            out[s * params.q + q] = scratch[0];
        }
        workgroupBarrier();
    }
}
