//! GPU kernels: every WGSL file validates with naga, and every kernel matches its CPU twin at odd sizes on a real
//! wgpu adapter (lavapipe natively; the same kernels run in Node on Dawn and in Chromium through tests/js).
//!
//! Tolerance: the GPU computes in f32 from ratings centred on their mean, the CPU in f64. A predicted probability
//! may differ by |Δp| ≤ 2e-6 (f32 rounding of a rating difference of a few hundred points, then of exp).
#![cfg(feature = "gpu")]

use arbiter::gpu::{Gpu, SHADERS};
use arbiter::rank::matrix::predicted;

#[test]
fn every_shader_validates_with_naga() {
    for (name, source) in SHADERS {
        let module =
            naga::front::wgsl::parse_str(source).unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(source)));
        naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::empty())
            .validate(&module)
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
    }
}

/// The adapter, or None where the environment says there is none to test (ARBITER_NO_GPU=1). CI installs lavapipe,
/// so a missing adapter there is a failure, not a skip.
fn gpu() -> Option<Gpu> {
    if std::env::var("ARBITER_NO_GPU").is_ok_and(|v| v == "1") {
        return None;
    }
    Some(pollster::block_on(Gpu::new()).expect("a wgpu adapter (install mesa-vulkan-drivers for lavapipe)"))
}

#[test]
fn predicted_matches_cpu_at_odd_sizes() {
    let Some(gpu) = gpu() else { return };
    eprintln!("adapter: {}", gpu.adapter());
    for n in [1usize, 2, 17, 59, 137, 301] {
        // Deterministic, spread-out ratings (rating scale, around 1000 ± 400).
        let raw: Vec<f64> = (0..n).map(|i| 1000.0 + 400.0 * ((i as f64 * 0.7123).sin())).collect();
        let cpu = predicted(&raw, 400.0, 10.0);
        let gpu_out = pollster::block_on(gpu.predicted(&raw, 400.0, 10.0)).unwrap();
        assert_eq!(gpu_out.len(), n * n);
        for (k, (c, g)) in cpu.iter().zip(&gpu_out).enumerate() {
            assert!((c - f64::from(*g)).abs() <= 2e-6, "n={n} k={k}: cpu {c} gpu {g}");
        }
    }
}
