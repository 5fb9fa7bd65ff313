// Bootstrap resampling, many replicates at once: replicate r draws `draws` battles uniformly with replacement (the
// Philox stream stream0 + r) and counts, per target row, how often each was drawn. A battle's row is map[battle]
// when `mapped` is 1 (BT: the unique row of the battle; contextual: its position in pair order), the battle itself
// otherwise. CPU twin: rng::Draws::fill_below followed by the same counting.

struct Params {
    draws: u32,
    threshold: u32,
    key0: u32,
    key1: u32,
    stream0: u32,
    rows: u32,
    mapped: u32,
    // Invocations per row of the dispatch grid (x workgroups * 64).
    width: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> map: array<u32>;
@group(0) @binding(2) var<storage, read_write> counts: array<atomic<u32>>;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let block = id.x + id.y * params.width;
    if (block * 4u >= params.draws) {
        return;
    }
    let r = id.z;
    let stream = params.stream0 + r;
    let key = vec2<u32>(params.key0, params.key1);
    let words = philox4x32(vec4<u32>(block, 0u, stream, 0u), key);
    for (var j = 0u; j < 4u; j += 1u) {
        let i = block * 4u + j;
        if (i >= params.draws) {
            break;
        }
        let v = draw_below(words[j], i, stream, key, params.draws, params.threshold);
        var row = v;
        if (params.mapped == 1u) {
            row = map[v];
        }
        atomicAdd(&counts[r * params.rows + row], 1u);
    }
}

// The draws themselves (draw i of stream stream0 into counts[i], for i < rows): exercises the rejection path with
// bounds close to 2^32, which counting cannot (its counts buffer would need one entry per value).
@compute @workgroup_size(64, 1, 1)
fn sample(@builtin(global_invocation_id) id: vec3<u32>) {
    let i = id.x + id.y * params.width;
    if (i >= params.rows) {
        return;
    }
    let key = vec2<u32>(params.key0, params.key1);
    let words = philox4x32(vec4<u32>(i / 4u, 0u, params.stream0, 0u), key);
    atomicStore(&counts[i], draw_below(words[i % 4u], i, params.stream0, key, params.draws, params.threshold));
}
