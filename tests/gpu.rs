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
fn gpu() -> Option<std::rc::Rc<Gpu>> {
    if std::env::var("ARBITER_NO_GPU").is_ok_and(|v| v == "1") {
        return None;
    }
    Some(std::rc::Rc::new(
        pollster::block_on(Gpu::new()).expect("a wgpu adapter (install mesa-vulkan-drivers for lavapipe)"),
    ))
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

#[test]
fn gpu_draws_are_the_cpu_draws_rejections_included() {
    let Some(gpu) = gpu() else { return };
    // Bounds near 2^32 reject up to ~30% of words, which exercises the redraw path.
    for (bound, seed, stream, count) in
        [(1u32, 0u64, 0u32, 5u32), (10, 7, 3, 1001), (3_000_000_001, u64::MAX - 5, 9, 10_007), (u32::MAX, 42, 1, 4099)]
    {
        let mut cpu = vec![0u32; count as usize];
        arbiter::rng::Draws::new(seed, stream).fill_below(bound, &mut cpu);
        let gpu_out =
            pollster::block_on(arbiter::gpu::resample::Resampler::draws(&gpu, bound, seed, stream, count)).unwrap();
        assert_eq!(gpu_out, cpu, "bound {bound}");
    }
}

#[test]
fn gpu_bootstrap_counts_are_the_cpu_counts() {
    let Some(gpu) = gpu() else { return };
    for (draws, rows) in [(1usize, 1usize), (7, 3), (4099, 17), (100_003, 1001)] {
        let map: Vec<u32> = (0..draws).map(|i| ((i * 7919) % rows) as u32).collect();
        for mapped in [false, true] {
            let rows = if mapped { rows } else { draws };
            let resampler =
                arbiter::gpu::resample::Resampler::new(gpu.clone(), draws as u32, mapped.then_some(&map[..]), rows)
                    .unwrap();
            let got = pollster::block_on(resampler.counts(11, 5, 3)).unwrap();
            for r in 0..3 {
                let mut idx = vec![0u32; draws];
                arbiter::rng::Draws::new(11, 5 + r).fill_below(draws as u32, &mut idx);
                let mut want = vec![0u32; rows];
                for u in idx {
                    want[if mapped { map[u as usize] as usize } else { u as usize }] += 1;
                }
                assert_eq!(
                    &got[r as usize * rows..(r as usize + 1) * rows],
                    &want[..],
                    "draws {draws} mapped {mapped} r {r}"
                );
            }
        }
    }
}

mod common;

use arbiter::gpu::contextual::{ContextualGpu, GPU_STEP_TOL};
use arbiter::rank::contextual::{fit, reduce, Convention, Design, Reduction};
use arbiter::rank::rows::RowOptions;
use arbiter::{Battles, ParseOptions};

fn llmfao_design(rows: &RowOptions) -> Design {
    let options = ParseOptions { style: true, ..ParseOptions::default() };
    let battles = Battles::parse(&common::llmfao_style_jsonl(), &options).unwrap();
    Design::new(&battles, rows, true).unwrap()
}

/// A synthetic design with odd sizes, repeated records (count > 1), weights and zero-count rows.
fn synthetic(models: usize, records: usize, k: usize) -> Design {
    let mut battles = Battles::new();
    let mut values = Vec::new();
    for r in 0..records {
        let a = (r * 7 + r / 3) % models;
        let b = (a + 1 + (r * 13) % (models - 1)) % models;
        let outcome = [arbiter::Outcome::A, arbiter::Outcome::B, arbiter::Outcome::Tie][(r * 31 + a) % 3];
        battles.push(&format!("m{a}"), &format!("m{b}"), outcome, [1, 1, 3, 0, 2][r % 5]).unwrap();
        values.extend((0..k).map(|f| ((r * (f + 3)) as f32 * 0.37).sin() * (f + 1) as f32));
    }
    battles.set_covariates((0..k).map(|f| format!("f{f}")).collect(), values).unwrap();
    Design::new(&battles, &RowOptions { reweighted: true, min_pair_count: 2.0, ..RowOptions::default() }, true).unwrap()
}

/// Tolerance of a GPU reduction: each entry within 1e-4 of the sum of the magnitudes that make it (f32 sums of up to
/// 2048 terms per segment, then f64).
fn close(cpu: &Reduction, gpu: &Reduction, scale: f64) {
    for (i, (c, g)) in cpu.g.iter().zip(&gpu.g).enumerate() {
        assert!((c - g).abs() <= 1e-4 * scale, "g[{i}]: cpu {c} gpu {g}");
    }
    for ((i, j), c) in cpu.h.indexed_iter() {
        let g = gpu.h[[i, j]];
        assert!((c - g).abs() <= 1e-4 * scale, "h[{i},{j}]: cpu {c} gpu {g}");
    }
    assert!((cpu.loss - gpu.loss).abs() <= 1e-4 * scale, "loss: cpu {} gpu {}", cpu.loss, gpu.loss);
}

#[test]
fn contextual_reduction_matches_cpu_at_odd_sizes_and_chunks() {
    let Some(gpu) = gpu() else { return };
    for (models, records, k, chunk) in
        [(2, 1, 1, None), (7, 5003, 3, None), (13, 20_011, 5, Some(1024)), (5, 3001, 8, Some(64))]
    {
        let design = synthetic(models, records, k);
        let params: Vec<f64> = (0..models + k).map(|i| ((i as f64) * 0.9).sin() * 0.5).collect();
        let mut cpu = Reduction::zeros(models + k);
        reduce(&design, &params, None, &mut cpu);
        let device = ContextualGpu::new(gpu.clone(), &design, chunk).unwrap();
        let (got, _) = pollster::block_on(device.reduce(&params, false)).unwrap();
        close(&cpu, &got, design.battles.max(1.0));
    }
}

#[test]
fn contextual_fit_on_gpu_matches_cpu_within_0_01_elo() {
    let Some(gpu) = gpu() else { return };
    let alpha = 400.0 / std::f64::consts::LN_10;
    for (convention, chunk) in [(Convention::FastChat, None), (Convention::ArenaRank, Some(1000))] {
        let design = llmfao_design(&RowOptions::default());
        let lambda = convention.penalty(design.battles, 10.0);
        let (cpu, _) = fit(&design, lambda, None, None, 1e-12 * design.battles, 1e-9);
        let device = ContextualGpu::new(gpu.clone(), &design, chunk).unwrap();
        let (got, iterations) =
            pollster::block_on(device.fit(lambda, None, false, 1e-12 * design.battles, GPU_STEP_TOL)).unwrap();
        let n = design.n;
        let elo = (0..n).map(|i| ((cpu[i] - got[i]) * alpha).abs()).fold(0.0, f64::max);
        let beta = (n..cpu.len()).map(|i| (cpu[i] - got[i]).abs()).fold(0.0, f64::max);
        eprintln!("{convention:?}: GPU vs CPU max |ΔElo| {elo:.1e}, max |Δβ| {beta:.1e}, {iterations} iterations");
        assert!(elo <= 0.01 && beta <= 1e-4, "{convention:?}: ΔElo {elo}, Δβ {beta}");
    }
}

use arbiter::gpu::rank::GpuRanking;
use arbiter::{rank as rank_cpu, Ci, RankOptions};

fn max_gap(a: &arbiter::Leaderboard, b: &arbiter::Leaderboard) -> f64 {
    let mut worst: f64 = 0.0;
    for m in &a.models {
        let o = b.models.iter().find(|o| o.model == m.model).unwrap();
        worst = worst.max((m.rating - o.rating).abs()).max((m.lower - o.lower).abs()).max((m.upper - o.upper).abs());
    }
    for (c, d) in a.coefficients.iter().zip(&b.coefficients) {
        worst = worst.max((c.value - d.value).abs() * 1e2).max((c.lower - d.lower).abs() * 1e2);
    }
    worst
}

#[test]
fn gpu_rankings_match_the_cpu_and_name_the_device() {
    let Some(gpu) = gpu() else { return };
    let options = ParseOptions { style: true, ..ParseOptions::default() };
    let battles = Battles::parse(&common::llmfao_style_jsonl(), &options).unwrap();
    // BT bootstrap: the GPU resamples, the CPU fits: identical counts, so an identical leaderboard.
    let bt = RankOptions { ci: Ci::Bootstrap, rounds: 64, seed: 9, ..RankOptions::default() };
    let on_gpu =
        pollster::block_on(pollster::block_on(GpuRanking::new(Some(gpu.clone()), &battles, &bt)).unwrap().finish());
    let on_cpu = rank_cpu(&battles, &bt).unwrap();
    assert!(on_gpu.device.starts_with("gpu: "), "{}", on_gpu.device);
    assert_eq!(on_gpu.models, on_cpu.models);
    // Style control with a bootstrap: f32 reductions, within 0.01 Elo (and 1e-4 in β).
    for convention in [Convention::FastChat, Convention::ArenaRank] {
        let style =
            RankOptions { style: Some(convention), ci: Ci::Bootstrap, rounds: 8, seed: 4, ..RankOptions::default() };
        let on_gpu = pollster::block_on(
            pollster::block_on(GpuRanking::new(Some(gpu.clone()), &battles, &style)).unwrap().finish(),
        );
        let on_cpu = rank_cpu(&battles, &style).unwrap();
        let gap = max_gap(&on_gpu, &on_cpu);

        eprintln!("{convention:?} bootstrap, GPU vs CPU: max gap {gap:.1e} (Elo; β × 100)");
        assert!(gap <= 0.01, "{convention:?}: {gap}");
        assert!(on_gpu.device.starts_with("gpu: "));
    }
    // Without an adapter the same call runs on the CPU and says so.
    let none = pollster::block_on(pollster::block_on(GpuRanking::new(None, &battles, &bt)).unwrap().finish());
    assert_eq!(none.models, on_cpu.models);
    assert!(none.device.starts_with("cpu"));
}

#[test]
fn a_lost_device_falls_back_to_the_cpu_with_the_same_answer() {
    let Some(gpu) = gpu() else { return };
    let battles = common::llmfao_crowd();
    let options = RankOptions { ci: Ci::Bootstrap, rounds: 20, seed: 2, ..RankOptions::default() };
    let mut ranking = pollster::block_on(GpuRanking::new(Some(gpu.clone()), &battles, &options)).unwrap();
    pollster::block_on(ranking.run_rounds(5));
    gpu.lose();
    pollster::block_on(ranking.run_rounds(15));
    let board = ranking.ranking().leaderboard();
    assert!(board.device.starts_with("cpu (GPU failed after 5 rounds"), "{}", board.device);
    assert_eq!(board.models, rank_cpu(&battles, &options).unwrap().models);
}

#[test]
fn a_device_lost_before_the_style_fit_falls_back_to_the_cpu_fit() {
    let Some(gpu) = gpu() else { return };
    let battles =
        Battles::parse(&common::llmfao_style_jsonl(), &ParseOptions { style: true, ..ParseOptions::default() })
            .unwrap();
    let options = RankOptions { style: Some(Convention::FastChat), ci: Ci::Sandwich, ..RankOptions::default() };
    let mut ranking = GpuRanking::prepare(Some(gpu.clone()), &battles, &options).unwrap();
    gpu.lose();
    pollster::block_on(ranking.fit());
    let board = ranking.ranking().leaderboard();
    assert!(board.device.starts_with("cpu (GPU failed"), "{}", board.device);
    assert_eq!(board, arbiter::Leaderboard { device: board.device.clone(), ..rank_cpu(&battles, &options).unwrap() });
}
