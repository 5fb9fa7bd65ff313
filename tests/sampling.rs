//! Pair sampling (spec 4): each arena's rules, frequencies, determinism, errors, and the information-gain sampler.

mod common;

use arbiter::rng::Stream;
use arbiter::sampling::{simulate, BucketMode, PairSampler, Posterior, Strategy, PRIOR_SD};

const DRAWS: usize = 20_000;

fn draws(n: usize, strategy: Strategy, seed: u64, k: usize) -> Vec<(usize, usize)> {
    let mut sampler = PairSampler::new(n, strategy, seed).unwrap();
    (0..k).map(|_| sampler.next(None).unwrap()).collect()
}

/// Asserts that `count` of `k` draws is within 3σ of probability `p`.
fn within_3_sigma(count: usize, k: usize, p: f64, what: &str) {
    let mean = k as f64 * p;
    let sigma = (k as f64 * p * (1.0 - p)).sqrt();
    assert!(
        (count as f64 - mean).abs() <= 3.0 * sigma,
        "{what}: {count} of {k}, expected {mean:.0} ± {:.0}",
        3.0 * sigma
    );
}

fn unordered_counts(n: usize, pairs: &[(usize, usize)]) -> Vec<Vec<usize>> {
    let mut counts = vec![vec![0; n]; n];
    for &(a, b) in pairs {
        assert_ne!(a, b, "self-pair");
        assert!(a < n && b < n);
        counts[a.min(b)][a.max(b)] += 1;
    }
    counts
}

#[test]
fn uniform_frequencies_and_swap() {
    let n = 5;
    let pairs = draws(n, Strategy::Uniform, 1, DRAWS);
    let counts = unordered_counts(n, &pairs);
    for (i, row) in counts.iter().enumerate() {
        for (j, &count) in row.iter().enumerate().skip(i + 1) {
            within_3_sigma(count, DRAWS, 0.1, &format!("uniform pair ({i}, {j})"));
        }
    }
    let lower_first = pairs.iter().filter(|(a, b)| a < b).count();
    within_3_sigma(lower_first, DRAWS, 0.5, "uniform side swap");
}

#[test]
fn weighted_frequencies_default_one_and_zero_never_drawn() {
    // Pairs of 4 models: (0,1) weighs 3, (2,3) 0, the four others 1 by default: total 7.
    let strategy = Strategy::Weighted { weights: vec![(1, 0, 3.0), (2, 3, 0.0)] };
    let pairs = draws(4, strategy, 2, DRAWS);
    let counts = unordered_counts(4, &pairs);
    assert_eq!(counts[2][3], 0);
    within_3_sigma(counts[0][1], DRAWS, 3.0 / 7.0, "weighted (0, 1)");
    for (i, j) in [(0, 2), (0, 3), (1, 2), (1, 3)] {
        within_3_sigma(counts[i][j], DRAWS, 1.0 / 7.0, &format!("weighted ({i}, {j})"));
    }
}

#[test]
fn sides_are_swapped_half_of_the_time() {
    // Only (0, 1) can be drawn: model 0 is side A in about half of the draws.
    let strategy = Strategy::Weighted { weights: vec![(0, 2, 0.0), (1, 2, 0.0)] };
    let pairs = draws(3, strategy, 3, DRAWS);
    assert!(pairs.iter().all(|&(a, b)| a.min(b) == 0 && a.max(b) == 1));
    within_3_sigma(pairs.iter().filter(|p| p.0 == 0).count(), DRAWS, 0.5, "weighted swap");
    // FastChat draws model 0 first almost always; the swap still puts it on side A half of the time.
    let strategy = Strategy::FastChat {
        weights: vec![50.0, 1.0, 1.0],
        boost: vec![],
        outage: vec![],
        anonymous: vec![],
        targets: vec![],
    };
    let pairs = draws(3, strategy, 4, DRAWS);
    let with_0: Vec<_> = pairs.iter().filter(|(a, b)| *a == 0 || *b == 0).collect();
    within_3_sigma(with_0.iter().filter(|p| p.0 == 0).count(), with_0.len(), 0.5, "fastchat swap");
}

#[test]
fn buckets_respect_sizes() {
    // Billions of parameters: big (≥ 100) = {2, 3}; small (≤ 60) = {0, 1, 5}; model 4 (70B) is in neither.
    let sizes = vec![7.0, 8.0, 405.0, 123.0, 70.0, 30.0];
    let big = |m: usize| m == 2 || m == 3;
    let small = |m: usize| m == 0 || m == 1 || m == 5;
    let strategy = |mode, sizes: &Vec<f64>| Strategy::Buckets { sizes: sizes.clone(), big: 100.0, small: 60.0, mode };
    let pairs = draws(6, strategy(BucketMode::BigVsSmall, &sizes), 5, 4000);
    assert!(pairs.iter().all(|&(a, b)| (big(a) && small(b)) || (big(b) && small(a))));
    within_3_sigma(pairs.iter().filter(|p| big(p.0)).count(), 4000, 0.5, "big-vs-small swap");
    let pairs = draws(6, strategy(BucketMode::Small, &sizes), 6, 4000);
    assert!(pairs.iter().all(|&(a, b)| small(a) && small(b) && a != b));
    let counts = unordered_counts(6, &pairs);
    for (i, j) in [(0, 1), (0, 5), (1, 5)] {
        within_3_sigma(counts[i][j], 4000, 1.0 / 3.0, &format!("small pair ({i}, {j})"));
    }
    // No big model: the first model comes from the full list; the second from the small bucket without it.
    let pairs = draws(3, strategy(BucketMode::BigVsSmall, &vec![7.0, 8.0, 30.0]), 7, 2000);
    assert!(pairs.iter().all(|&(a, b)| a != b));
    // A single small model: its rival falls back to the full list (never itself).
    let pairs = draws(3, strategy(BucketMode::Small, &vec![7.0, 200.0, 300.0]), 8, 2000);
    assert!(pairs.iter().all(|&(a, b)| (a == 0) != (b == 0)));
    let counts = unordered_counts(3, &pairs);
    assert!(counts[0][1] > 0 && counts[0][2] > 0 && counts[1][2] == 0);
}

#[test]
fn fastchat_rules() {
    let fastchat = |weights: Vec<f64>, boost, outage, anonymous, targets| Strategy::FastChat {
        weights,
        boost,
        outage,
        anonymous,
        targets,
    };
    // Anonymous models never meet; an outage model and a zero-weight model are never drawn.
    let pairs =
        draws(6, fastchat(vec![1.0, 1.0, 1.0, 1.0, 1.0, 0.0], vec![], vec![3], vec![0, 1, 2], vec![]), 9, DRAWS);
    assert!(pairs.iter().all(|&(a, b)| !(a < 3 && b < 3)));
    assert!(pairs.iter().all(|&(a, b)| ![a, b].contains(&3) && ![a, b].contains(&5)));
    // Boost ×5: model 3 is drawn first with p = 5/8 among 4 models, so it is in the pair with
    // p = 5/8 + 3/8 · 1/3 = 3/4.
    let pairs = draws(4, fastchat(vec![], vec![3], vec![], vec![], vec![]), 10, DRAWS);
    within_3_sigma(pairs.iter().filter(|(a, b)| *a == 3 || *b == 3).count(), DRAWS, 0.75, "boosted model");
    // Targets: 0 targets 1, which as 0's rival weighs 0.5 · total (4) / 1 target = 2 against 1 + 1 for the others,
    // so P({0, 1}) = 1/4 · 2/4 + 1/4 · 1/3 = 5/24.
    let pairs = draws(4, fastchat(vec![], vec![], vec![], vec![], vec![(0, vec![1, 1])]), 11, DRAWS);
    let counts = unordered_counts(4, &pairs);
    within_3_sigma(counts[0][1], DRAWS, 5.0 / 24.0, "targeted pair");
    within_3_sigma(counts[2][3], DRAWS, 1.0 / 6.0, "untargeted pair");
}

#[test]
fn the_same_seed_gives_the_same_pairs() {
    let strategies = [
        Strategy::Uniform,
        Strategy::Weighted { weights: vec![(0, 1, 2.5)] },
        Strategy::Buckets {
            sizes: vec![1.0, 2.0, 300.0, 400.0],
            big: 100.0,
            small: 60.0,
            mode: BucketMode::BigVsSmall,
        },
        Strategy::FastChat { weights: vec![], boost: vec![1], outage: vec![], anonymous: vec![], targets: vec![] },
        Strategy::InformationGain,
    ];
    for strategy in strategies {
        let first = draws(4, strategy.clone(), 42, 200);
        assert_eq!(first, draws(4, strategy.clone(), 42, 200), "{strategy:?}");
        assert_ne!(first, draws(4, strategy.clone(), 43, 200), "{strategy:?}");
    }
}

#[test]
fn bad_strategies_are_refused() {
    let invalid = |n: usize, strategy: Strategy| {
        let e = PairSampler::new(n, strategy.clone(), 0).unwrap_err();
        assert_eq!(e.code(), "INVALID_OPTION", "{strategy:?}: {e}");
    };
    invalid(0, Strategy::Uniform);
    invalid(1, Strategy::InformationGain);
    for w in [f64::NAN, -1.0, f64::INFINITY] {
        invalid(3, Strategy::Weighted { weights: vec![(0, 1, w)] });
    }
    invalid(2, Strategy::Weighted { weights: vec![(0, 1, 0.0)] });
    invalid(3, Strategy::Weighted { weights: vec![(0, 3, 1.0)] });
    invalid(3, Strategy::Weighted { weights: vec![(1, 1, 1.0)] });
    invalid(3, Strategy::Weighted { weights: vec![(0, 1, 1.0), (1, 0, 2.0)] });
    let buckets = |sizes: Vec<f64>, big, small| Strategy::Buckets { sizes, big, small, mode: BucketMode::Small };
    invalid(3, buckets(vec![1.0, 2.0], 100.0, 60.0));
    invalid(3, buckets(vec![1.0, f64::NAN, 3.0], 100.0, 60.0));
    invalid(3, buckets(vec![1.0, -2.0, 3.0], 100.0, 60.0));
    invalid(3, buckets(vec![1.0, 2.0, 3.0], 60.0, 100.0));
    let fastchat = |weights: Vec<f64>, boost, outage, anonymous, targets| Strategy::FastChat {
        weights,
        boost,
        outage,
        anonymous,
        targets,
    };
    invalid(3, fastchat(vec![1.0, 1.0], vec![], vec![], vec![], vec![]));
    invalid(3, fastchat(vec![1.0, f64::NAN, 1.0], vec![], vec![], vec![], vec![]));
    invalid(3, fastchat(vec![0.0, 0.0, 0.0], vec![], vec![], vec![], vec![]));
    invalid(3, fastchat(vec![], vec![3], vec![], vec![], vec![]));
    invalid(3, fastchat(vec![], vec![], vec![7], vec![], vec![]));
    invalid(3, fastchat(vec![], vec![], vec![], vec![3], vec![]));
    invalid(3, fastchat(vec![], vec![], vec![], vec![], vec![(3, vec![0])]));
    invalid(3, fastchat(vec![], vec![], vec![], vec![], vec![(0, vec![5])]));
    invalid(3, fastchat(vec![], vec![], vec![], vec![], vec![(0, vec![1]), (0, vec![2])]));
    // Everyone anonymous, or every rival out: a model that can be drawn first has no rival.
    invalid(2, fastchat(vec![], vec![], vec![], vec![0, 1], vec![]));
    invalid(3, fastchat(vec![], vec![], vec![1, 2], vec![], vec![]));
    // A posterior of another size.
    let mut sampler = PairSampler::new(3, Strategy::InformationGain, 0).unwrap();
    let posterior = Posterior::new(4, PRIOR_SD).unwrap();
    assert_eq!(sampler.next(Some(&posterior)).unwrap_err().code(), "INVALID_OPTION");
}

#[test]
fn information_gain_goes_where_the_posterior_is_widest() {
    // Many votes among 0, 1, 2; none for 3: every chosen pair involves 3.
    let mut posterior = Posterior::new(4, PRIOR_SD).unwrap();
    for k in 0..90 {
        let (a, b) = [(0, 1), (1, 2), (0, 2)][k % 3];
        posterior.observe(a, b, if k % 2 == 0 { 1.0 } else { 0.0 }).unwrap();
    }
    posterior.refit();
    let mut sampler = PairSampler::new(4, Strategy::InformationGain, 12).unwrap();
    let mut partners = [0; 4];
    for _ in 0..300 {
        let (a, b) = sampler.next(Some(&posterior)).unwrap();
        assert!(a == 3 || b == 3, "({a}, {b})");
        partners[a + b - 3] += 1;
    }
    // The three pairs with 3 are (nearly) equally informative: ties are broken at random.
    assert!(partners[..3].iter().all(|&c| c > 50), "{partners:?}");
    // The criterion: the drop of the mean width after Σ ← Σ − c·u uᵀ, u = Σx, c = p(1−p)/(1 + p(1−p)·xᵀΣx).
    let width = posterior.mean_width();
    let (theta, sigma) = (posterior.theta(), posterior.covariance());
    let p = 1.0 / (1.0 + (theta[1] - theta[0]).exp());
    let w = p * (1.0 - p);
    let u: Vec<f64> = (0..4).map(|k| sigma[[k, 0]] - sigma[[k, 1]]).collect();
    let c = w / (1.0 + w * (u[0] - u[1]));
    let mut after = posterior.clone();
    after.observe(0, 1, 1.0).unwrap();
    let mut by_hand = sigma.clone();
    for i in 0..4 {
        for j in 0..4 {
            by_hand[[i, j]] -= c * u[i] * u[j];
        }
    }
    assert!(after.covariance().iter().zip(by_hand.iter()).all(|(x, y)| (x - y).abs() < 1e-14));
    assert!((posterior.gain(0, 1).unwrap() - (width - after.mean_width())).abs() < 1e-9);
    assert!(posterior.gain(3, 0).unwrap() > 5.0 * posterior.gain(0, 1).unwrap());
    assert_eq!(posterior.gain(1, 1).unwrap_err().code(), "INVALID_OPTION");
    assert_eq!(posterior.gain(0, 4).unwrap_err().code(), "INVALID_OPTION");
}

#[test]
fn posterior_inputs_and_degenerate_data() {
    assert_eq!(Posterior::new(1, 1.0).unwrap_err().code(), "INVALID_OPTION");
    for sd in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e-300] {
        assert_eq!(Posterior::new(3, sd).unwrap_err().code(), "INVALID_OPTION", "{sd}");
    }
    let mut p = Posterior::new(3, 1.0).unwrap();
    for (a, b, s) in [(0, 0, 1.0), (0, 3, 1.0), (0, 1, 1.5), (0, 1, f64::NAN)] {
        assert_eq!(p.observe(a, b, s).unwrap_err().code(), "INVALID_OPTION");
    }
    // An undefeated model and a model without votes: the prior keeps everything finite.
    for _ in 0..20 {
        p.observe(0, 1, 1.0).unwrap();
    }
    p.refit();
    assert!(p.theta()[0] > 0.0 && p.theta().iter().all(|t| t.is_finite()));
    assert!(p.covariance().iter().all(|x| x.is_finite()));
    assert!(p.mean_width().is_finite() && p.centred_sd()[2] > p.centred_sd()[0]);
}

#[test]
fn posterior_from_llmfao_votes() {
    let crowd = common::llmfao("crowd-comparisons.csv");
    let p = Posterior::from_battles(&crowd, PRIOR_SD).unwrap();
    assert_eq!(p.models(), 59);
    assert!(p.theta().iter().all(|t| t.is_finite()));
    // ~150 votes per model, 39% ties: intervals of roughly ±60 Elo.
    let width = p.mean_width();
    assert!(width > 50.0 && width < 300.0, "{width}");
    let mut sampler = PairSampler::new(59, Strategy::InformationGain, 0).unwrap();
    let (a, b) = sampler.next(Some(&p)).unwrap();
    assert!(a != b && a < 59 && b < 59);
}

#[test]
fn simulate_inputs_determinism_and_progress() {
    let theta = [0.5, 0.0, -0.5, 0.2];
    let invalid = |theta: &[f64], target: f64| simulate(theta, Strategy::Uniform, target, 100, 0).unwrap_err().code();
    assert_eq!(invalid(&[0.0], 100.0), "INVALID_OPTION");
    assert_eq!(invalid(&[0.0, f64::NAN], 100.0), "INVALID_OPTION");
    for target in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert_eq!(invalid(&theta, target), "INVALID_OPTION");
    }
    let a = simulate(&theta, Strategy::InformationGain, 150.0, 5000, 7).unwrap();
    assert_eq!(a, simulate(&theta, Strategy::InformationGain, 150.0, 5000, 7).unwrap());
    assert!(a.reached && a.votes < 5000);
    assert_eq!(a.widths.last().unwrap().0, a.votes);
    assert!(a.widths.last().unwrap().1 <= 150.0 && a.widths[0].1 > 150.0);
    assert!(a.widths.windows(2).all(|w| w[0].0 < w[1].0));
    // Not reached within the budget: stops at max_votes, last width recorded there.
    let b = simulate(&theta, Strategy::Uniform, 1.0, 120, 7).unwrap();
    assert!(!b.reached && b.votes == 120 && b.widths.last().unwrap().0 == 120);
    // No votes allowed: only the prior width.
    let c = simulate(&theta, Strategy::Uniform, 100.0, 0, 7).unwrap();
    assert_eq!((c.votes, c.reached, c.widths.len()), (0, false, 1));
    let json = serde_json::to_value(&a).unwrap();
    assert!(json.get("widths").is_some() && json.get("reached").is_some());
}

/// Mean votes (over seeds 1..=5) that uniform and information-gain sampling need to bring the mean 95% interval
/// width of 12 models with true Elo ~ N(0, spread²) (Philox stream 0 of seed 2024) down to 100 Elo points.
fn votes_needed(spread: f64) -> (f64, f64) {
    let mut rng = Stream::new(2024, 0);
    let elo: Vec<f64> = (0..12).map(|_| spread * rng.normal()).collect();
    let theta: Vec<f64> = elo.iter().map(|r| r * std::f64::consts::LN_10 / 400.0).collect();
    eprintln!("true Elo ~ N(0, {spread}²): {:?}", elo.iter().map(|r| r.round()).collect::<Vec<_>>());
    let (target, budget) = (100.0, 50_000);
    let mut means = Vec::new();
    for (name, strategy) in [("uniform", Strategy::Uniform), ("information gain", Strategy::InformationGain)] {
        let start = std::time::Instant::now();
        let runs: Vec<usize> = (1..=5)
            .map(|seed| {
                let s = simulate(&theta, strategy.clone(), target, budget, seed).unwrap();
                assert!(s.reached, "{name}, seed {seed}: {s:?}");
                s.votes
            })
            .collect();
        let mean = runs.iter().sum::<usize>() as f64 / runs.len() as f64;
        eprintln!(
            "  {name:<16}: votes to a mean 95% CI width of {target} Elo: {runs:?}, mean {mean:.0} ({:.1?} for 5 runs, debug)",
            start.elapsed()
        );
        means.push(mean);
    }
    eprintln!("  information gain / uniform = {:.3}", means[1] / means[0]);
    (means[0], means[1])
}

#[test]
fn report_sampling() {
    // Cost on LLMFAO (59 models, 8931 votes): the posterior, then information-gain draws.
    let crowd = common::llmfao("crowd-comparisons.csv");
    let start = std::time::Instant::now();
    let posterior = Posterior::from_battles(&crowd, PRIOR_SD).unwrap();
    let fitted = start.elapsed();
    let mut sampler = PairSampler::new(59, Strategy::InformationGain, 0).unwrap();
    let start = std::time::Instant::now();
    for _ in 0..100 {
        sampler.next(Some(&posterior)).unwrap();
    }
    eprintln!(
        "LLMFAO: posterior {fitted:.1?}, information-gain draw {:.2?} each, mean 95% CI width {:.1} Elo (debug)",
        start.elapsed() / 100,
        posterior.mean_width()
    );
    // The spec's setting. With ratings this close every pair is nearly equally informative (p(1−p) ≈ 0.21–0.25),
    // so no design can do much better than uniform: the greedy design computed with the TRUE ratings needs 985
    // votes where uniform allocation needs 993 in expectation (numpy check of the same criterion). Measured over
    // 40 seeds: uniform 1010, information gain 992 (−1.8%).
    let (uniform, gain) = votes_needed(100.0);
    assert!(gain < uniform, "information gain needs fewer votes: {gain} vs {uniform}");
    // Wider ratings: close pairs carry much more information than far ones, and the gain becomes large.
    let (uniform, gain) = votes_needed(300.0);
    assert!(gain < 0.9 * uniform, "information gain needs fewer votes: {gain} vs {uniform}");
}
