// Predicted win probabilities P[i][j] = 1 / (1 + base^((r_j - r_i) / scale)) = sigmoid((r_i - r_j) * c),
// c = ln(base) / scale, for rows [row0, row0 + rows) of an n x n matrix. CPU twin: rank::matrix::predicted.
// The ratings arrive centred (mean 0) so f32 keeps about 1e-5 rating points of precision.

struct Params {
    n: u32,
    row0: u32,
    rows: u32,
    c: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> ratings: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(16, 16, 1)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let j = id.x;
    let local_i = id.y;
    if (j >= params.n || local_i >= params.rows) {
        return;
    }
    let i = params.row0 + local_i;
    let d = (ratings[i] - ratings[j]) * params.c;
    // Stable logistic: never exponentiates a positive number.
    let e = exp(-abs(d));
    let p = select(e / (1.0 + e), 1.0 / (1.0 + e), d >= 0.0);
    out[local_i * params.n + j] = p;
}
