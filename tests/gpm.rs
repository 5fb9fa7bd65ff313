//! GPM skew-symmetric embeddings (spec 1.8): the fixed-embedding example, cycles, transitive data, determinism,
//! errors and degenerate data, and held-out log-loss on LLMFAO.

mod common;

use std::time::Instant;

use arbiter::rank::bt;
use arbiter::rank::gpm::{self, GpmFit, GpmOptions};
use arbiter::rank::rows::Pair;
use arbiter::rng::Stream;
use arbiter::{Battles, Outcome};

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// ½-win log-likelihood of logits `x(i, j)` on pair totals.
fn log_likelihood(pairs: &[Pair], x: impl Fn(usize, usize) -> f64) -> f64 {
    pairs
        .iter()
        .map(|p| {
            let l = x(p.i as usize, p.j as usize);
            p.s * l - p.n * (l.max(0.0) + (-l.abs()).exp().ln_1p())
        })
        .sum()
}

/// A ≻ B, B ≻ C, C ≻ A, each `win` to `lose` votes.
fn cycle_battles(win: u32, lose: u32) -> Battles {
    let mut b = Battles::new();
    for (x, y) in [("A", "B"), ("B", "C"), ("C", "A")] {
        b.push(x, y, Outcome::A, win).unwrap();
        b.push(x, y, Outcome::B, lose).unwrap();
    }
    b
}

fn assert_finite(fit: &GpmFit) {
    let all = fit.embeddings.iter().chain(&fit.theta).chain(std::iter::once(&fit.log_likelihood));
    assert!(all.clone().all(|x| x.is_finite()), "{fit:?}");
    assert!(fit.probabilities().iter().all(|p| p.is_finite() && (0.0..=1.0).contains(p)));
}

#[test]
fn fixed_embeddings_represent_the_cycle() {
    // Spec 1.8: unit vectors at 0°, 120°, 240° with τ = 0.1 give s = sin 120° and P = σ(8.66) = 0.99983.
    let embeddings = [0.0_f64, 120.0, 240.0]
        .iter()
        .flat_map(|deg| {
            let a = deg.to_radians();
            [a.cos(), a.sin()]
        })
        .collect();
    let fit = GpmFit {
        k: 1,
        embeddings,
        theta: vec![0.0; 3],
        tau: 0.1,
        log_likelihood: 0.0,
        ridge: 0.0,
        iterations: 0,
        converged: true,
    };
    for (i, j) in [(0, 1), (1, 2), (2, 0)] {
        assert!((fit.score(i, j) - 0.75_f64.sqrt()).abs() < 1e-12);
        assert!((fit.probability(i, j) - 0.99983).abs() < 5e-6, "{}", fit.probability(i, j));
        assert!((fit.probability(i, j) - sigmoid(8.660_254_037_844_386)).abs() < 1e-12);
    }
    let p = fit.probabilities();
    for i in 0..3 {
        assert_eq!(fit.score(i, i), 0.0);
        assert_eq!(p[i * 3 + i], 0.5);
        for j in 0..3 {
            assert_eq!(fit.score(i, j), -fit.score(j, i));
            assert!((p[i * 3 + j] + p[j * 3 + i] - 1.0).abs() < 1e-15);
        }
    }
    // BT on the same balanced cycle: every probability is ½.
    let pairs = [
        Pair { i: 0, j: 1, n: 1000.0, s: 999.0 },
        Pair { i: 1, j: 2, n: 1000.0, s: 999.0 },
        Pair { i: 0, j: 2, n: 1000.0, s: 1.0 },
    ];
    let theta = bt::fit(3, &pairs, 0.0, None, 1e-12).theta;
    assert!(theta.iter().all(|t| t.abs() < 1e-9), "{theta:?}");
}

#[test]
fn fitted_gpm_predicts_the_cycle_where_bt_says_half() {
    for hybrid in [true, false] {
        let options = GpmOptions { hybrid, ..GpmOptions::default() };
        // 9999 : 1 votes: P ≥ 0.999 in the cycle direction (the penalty costs about 6e-4).
        let fit = gpm::fit(&cycle_battles(9999, 1), &options).unwrap();
        assert!(fit.converged, "{fit:?}");
        for (i, j) in [(0, 1), (1, 2), (2, 0)] {
            assert!(fit.probability(i, j) >= 0.999, "hybrid {hybrid}: P({i}≻{j}) = {}", fit.probability(i, j));
        }
        // θ is all but free here (its curvature is n·p(1 − p) ≈ 1 per 10⁴ votes): 0 up to the tolerance.
        assert!(fit.theta.iter().all(|t| t.abs() < 1e-3), "{:?}", fit.theta);
        // 999 : 1 votes: the empirical 0.999, less a penalty shrinkage of about 0.58·l2/1000 = 0.0058 at l2 = 10.
        let fit = gpm::fit(&cycle_battles(999, 1), &options).unwrap();
        for (i, j) in [(0, 1), (1, 2), (2, 0)] {
            let p = fit.probability(i, j);
            assert!((0.992..0.995).contains(&p), "hybrid {hybrid}: P({i}≻{j}) = {p}");
        }
        let tight = gpm::fit(&cycle_battles(999, 1), &GpmOptions { l2: 1e-3, ..options.clone() }).unwrap();
        assert!((tight.probability(0, 1) - 0.999).abs() < 1e-5, "{}", tight.probability(0, 1));
    }
    let mut b = cycle_battles(999, 1);
    b.push("A", "B", Outcome::Tie, 0).unwrap();
    let board = arbiter::rank(&b, &arbiter::RankOptions::default()).unwrap();
    assert!(board.models.iter().all(|m| (m.rating - 1000.0).abs() < 1e-6), "{board:?}");
}

/// Pair totals drawn from a BT model with ratings `theta`, `per_pair` battles per pair, 20% ties.
fn transitive(theta: &[f64], per_pair: u32, seed: u64) -> Vec<Pair> {
    let mut stream = Stream::new(seed, 0);
    let mut pairs = Vec::new();
    for i in 0..theta.len() {
        for j in i + 1..theta.len() {
            let p = sigmoid(theta[i] - theta[j]);
            let mut s = 0.0;
            for _ in 0..per_pair {
                s += if stream.uniform() < 0.2 {
                    0.5
                } else if stream.uniform() < p {
                    1.0
                } else {
                    0.0
                };
            }
            pairs.push(Pair { i: i as u32, j: j as u32, n: f64::from(per_pair), s });
        }
    }
    pairs
}

#[test]
fn hybrid_matches_bt_on_transitive_data() {
    let theta = [1.2, 0.7, 0.3, 0.0, -0.4, -0.9, -1.5, 0.1];
    let pairs = transitive(&theta, 200, 7);
    let bt = bt::fit(theta.len(), &pairs, 0.0, None, 1e-12).theta;
    let bt_ll = log_likelihood(&pairs, |i, j| bt[i] - bt[j]);
    for k in [1, 2] {
        let fit = gpm::fit_totals(theta.len(), &pairs, &GpmOptions { k, ..GpmOptions::default() }).unwrap();
        assert!(fit.converged);
        let ll = log_likelihood(&pairs, |i, j| fit.logit(i, j));
        assert!((ll - fit.log_likelihood).abs() < 1e-8 * ll.abs());
        // Never worse than BT (it starts there); better only by fitting noise, about half a chi-square on the
        // 2k·n embedding coordinates (k·n in expectation without a penalty): 0.2% of the log-likelihood here.
        let gain = ll - bt_ll;
        assert!(gain >= -1e-9 && gain < 2.0 * (k * theta.len()) as f64, "k = {k}: GPM {ll} vs BT {bt_ll}");
        assert!(gain < 5e-3 * bt_ll.abs(), "k = {k}: GPM {ll} vs BT {bt_ll}");
        let worst = (0..theta.len())
            .flat_map(|i| (0..theta.len()).map(move |j| (i, j)))
            .map(|(i, j)| (fit.probability(i, j) - sigmoid(bt[i] - bt[j])).abs())
            .fold(0.0, f64::max);
        // The sampling error of a 200-vote pair rate is 0.035.
        assert!(worst < 0.05, "k = {k}: largest |ΔP| against BT = {worst}");
    }
}

#[test]
fn pure_gpm_fits_transitive_data_too() {
    // Points on a line off the origin give s(i, j) = c·(a_j − a_i): k = 1 represents BT up to the penalty.
    let theta = [1.0, 0.5, 0.0, -0.5, -1.0];
    let pairs = transitive(&theta, 400, 11);
    let bt = bt::fit(theta.len(), &pairs, 0.0, None, 1e-12).theta;
    let bt_ll = log_likelihood(&pairs, |i, j| bt[i] - bt[j]);
    let fit = gpm::fit_totals(5, &pairs, &GpmOptions { hybrid: false, ..GpmOptions::default() }).unwrap();
    assert!(fit.converged);
    assert!(fit.theta.iter().all(|&t| t == 0.0));
    assert!(fit.log_likelihood > bt_ll - 2.0, "GPM {} vs BT {bt_ll}", fit.log_likelihood);
}

#[test]
fn fit_is_a_stationary_point_by_finite_differences() {
    // Recompute the penalised objective from the public fit, perturb every parameter, and check the central
    // differences vanish (the analytic gradient itself is checked the same way in the unit tests).
    let pairs = transitive(&[0.8, 0.1, -0.3, 0.4, -1.0, 0.0], 60, 5);
    let mut cyclic = pairs.clone();
    cyclic.push(Pair { i: 5, j: 6, n: 40.0, s: 36.0 });
    cyclic.push(Pair { i: 6, j: 7, n: 40.0, s: 36.0 });
    cyclic.push(Pair { i: 5, j: 7, n: 40.0, s: 4.0 });
    let total: f64 = cyclic.iter().map(|p| p.n).sum();
    for hybrid in [true, false] {
        let o = GpmOptions { k: 2, hybrid, l2: 2.0, tau: 0.5, tolerance: 1e-10, ..GpmOptions::default() };
        let fit = gpm::fit_totals(8, &cyclic, &o).unwrap();
        assert!(fit.converged);
        assert!(fit.score(5, 6) > 0.0 && fit.score(6, 7) > 0.0 && fit.score(7, 5) > 0.0, "{fit:?}");
        let f =
            |fit: &GpmFit| -log_likelihood(&cyclic, |i, j| fit.logit(i, j)) + objective(fit, o.l2) + fit.log_likelihood;
        let h = 1e-5;
        let coordinates = fit.embeddings.len() + if hybrid { fit.theta.len() } else { 0 };
        for c in 0..coordinates {
            let shifted = |by: f64| {
                let mut g = fit.clone();
                match c.checked_sub(g.embeddings.len()) {
                    None => g.embeddings[c] += by,
                    Some(t) => g.theta[t] += by,
                }
                f(&g)
            };
            let derivative = (shifted(h) - shifted(-h)) / (2.0 * h);
            assert!(derivative.abs() < 1e-5 * total, "hybrid {hybrid}, coordinate {c}: {derivative}");
        }
    }
}

#[test]
fn same_seed_same_fit() {
    let pairs = transitive(&[0.5, -0.2, 0.3, 0.0, -0.6], 50, 3);
    let options = GpmOptions { k: 2, seed: 42, ..GpmOptions::default() };
    let a = gpm::fit_totals(5, &pairs, &options).unwrap();
    let b = gpm::fit_totals(5, &pairs, &options).unwrap();
    assert_eq!(a, b);
    assert_eq!(serde_json::to_string(&a).unwrap(), serde_json::to_string(&b).unwrap());
    let other = gpm::fit_totals(5, &pairs, &GpmOptions { seed: 43, ..options }).unwrap();
    assert_ne!(a.embeddings, other.embeddings);
    // Another start reaches the same optimum (up to a rotation of the embeddings) on this small problem.
    assert!((a.log_likelihood - other.log_likelihood).abs() < 1e-4, "{} vs {}", a.log_likelihood, other.log_likelihood);
}

#[test]
fn invalid_options_and_data_are_errors() {
    let b = cycle_battles(10, 1);
    let code = |o: GpmOptions| gpm::fit(&b, &o).unwrap_err().code();
    assert_eq!(code(GpmOptions { k: 0, ..GpmOptions::default() }), "INVALID_OPTION");
    assert_eq!(code(GpmOptions { k: 100_000, ..GpmOptions::default() }), "INVALID_OPTION");
    for tau in [f64::NAN, 0.0, -1.0, f64::INFINITY] {
        assert_eq!(code(GpmOptions { tau, ..GpmOptions::default() }), "INVALID_OPTION");
    }
    for l2 in [f64::NAN, 0.0, -1.0] {
        assert_eq!(code(GpmOptions { l2, ..GpmOptions::default() }), "INVALID_OPTION");
    }
    assert_eq!(code(GpmOptions { tolerance: f64::NAN, ..GpmOptions::default() }), "INVALID_OPTION");
    let o = GpmOptions::default();
    assert_eq!(gpm::fit(&Battles::new(), &o).unwrap_err().code(), "EMPTY");
    let mut zero = Battles::new();
    zero.push("A", "B", Outcome::A, 0).unwrap();
    assert_eq!(gpm::fit(&zero, &o).unwrap_err().code(), "EMPTY");
    assert_eq!(gpm::fit_totals(3, &[], &o).unwrap_err().code(), "EMPTY");
    let bad = |p: Pair| gpm::fit_totals(3, &[p], &o).unwrap_err();
    let e = bad(Pair { i: 0, j: 1, n: f64::NAN, s: 0.0 });
    assert_eq!((e.code(), e.row()), ("INVALID_NUMBER", Some(1)));
    assert_eq!(bad(Pair { i: 0, j: 1, n: 2.0, s: 3.0 }).code(), "INVALID_NUMBER");
    assert_eq!(bad(Pair { i: 0, j: 1, n: 2.0, s: f64::INFINITY }).code(), "INVALID_NUMBER");
    assert_eq!(bad(Pair { i: 1, j: 1, n: 2.0, s: 1.0 }).code(), "INVALID_OPTION");
    assert_eq!(bad(Pair { i: 0, j: 3, n: 2.0, s: 1.0 }).code(), "INVALID_OPTION");
    assert_eq!(gpm::held_out(&b, &[true], &[1]).unwrap_err().code(), "INVALID_OPTION");
    assert_eq!(gpm::held_out(&b, &vec![true; b.len()], &[1]).unwrap_err().code(), "EMPTY");
    assert_eq!(gpm::held_out(&b, &vec![false; b.len()], &[1]).unwrap_err().code(), "EMPTY");
    assert_eq!(gpm::held_out(&b, &vec![false; b.len()], &[0]).unwrap_err().code(), "INVALID_OPTION");
}

#[test]
fn degenerate_data_stay_finite() {
    // An undefeated model: no finite BT MLE, so θ gets the fallback ridge; embeddings are held by l2.
    let mut b = Battles::new();
    b.push("A", "B", Outcome::A, 30).unwrap();
    b.push("A", "C", Outcome::A, 30).unwrap();
    b.push("B", "C", Outcome::A, 10).unwrap();
    b.push("C", "B", Outcome::A, 10).unwrap();
    for hybrid in [true, false] {
        let fit = gpm::fit(&b, &GpmOptions { hybrid, k: 2, ..GpmOptions::default() }).unwrap();
        assert_finite(&fit);
        assert_eq!(fit.ridge, 1.0);
        // 60 battles against a prior of l2 = 10: the unbeaten model is clearly ahead, not certain.
        assert!(fit.probability(0, 1) > 0.7 && fit.probability(0, 2) > 0.7, "{fit:?}");
    }
    // Two groups that never met, and a cycle with no losses at all.
    let mut b = Battles::new();
    b.push("A", "B", Outcome::Tie, 5).unwrap();
    b.push("C", "D", Outcome::B, 5).unwrap();
    b.push("D", "C", Outcome::BothBad, 5).unwrap();
    assert_finite(&gpm::fit(&b, &GpmOptions::default()).unwrap());
    let fit = gpm::fit(&cycle_battles(50, 0), &GpmOptions::default()).unwrap();
    assert_finite(&fit);
    assert!(fit.probability(0, 1) > 0.85 && fit.probability(2, 0) > 0.85, "{fit:?}");
    // A model without battles keeps a zero embedding and θ = 0 relative to the others' mean.
    let pairs = [
        Pair { i: 0, j: 1, n: 10.0, s: 6.0 },
        Pair { i: 1, j: 2, n: 10.0, s: 5.0 },
        Pair { i: 0, j: 2, n: 4.0, s: 1.0 },
    ];
    let fit = gpm::fit_totals(4, &pairs, &GpmOptions::default()).unwrap();
    assert_finite(&fit);
    assert_eq!(&fit.embeddings[6..], &[0.0, 0.0]);
    // Weights of 0 and a zero-weight pair are ignored.
    let with_zero = [pairs[0], pairs[1], pairs[2], Pair { i: 2, j: 3, n: 0.0, s: 0.0 }];
    assert_eq!(gpm::fit_totals(4, &with_zero, &GpmOptions::default()).unwrap(), fit);
}

#[test]
fn output_serialises_in_camel_case() {
    let fit = gpm::fit(&cycle_battles(20, 3), &GpmOptions::default()).unwrap();
    let v = serde_json::to_value(&fit).unwrap();
    for key in ["k", "embeddings", "theta", "tau", "logLikelihood", "ridge", "iterations", "converged"] {
        assert!(v.get(key).is_some(), "missing {key}: {v}");
    }
    let h = gpm::held_out(&cycle_battles(20, 3), &[false, false, false, false, true, true], &[1]).unwrap();
    let v = serde_json::to_value(&h).unwrap();
    assert!(v[0].get("logLoss").is_some() && v[1]["label"] == "gpm k=1", "{v}");
}

#[test]
fn held_out_scores_and_skips() {
    let mut b = cycle_battles(40, 10);
    b.push("A", "D", Outcome::A, 3).unwrap();
    let mut test = vec![false; b.len()];
    test[0] = true; // A ≻ B, 40 votes
    test[6] = true; // A vs D: D never trained
    let h = gpm::held_out(&b, &test, &[1, 2]).unwrap();
    assert_eq!(h.iter().map(|r| r.label.as_str()).collect::<Vec<_>>(), ["bt", "gpm k=1", "gpm k=2"]);
    assert!(h.iter().all(|r| r.battles == 40 && r.skipped == 3 && r.log_loss.is_finite()));
    // Training keeps A ≻ B only through the 10 B-votes, so BT sees an ordering; either way the loss is finite.
    assert!(h.iter().all(|r| r.log_loss > 0.0), "{h:?}");
}

fn item_split(battles: &Battles) -> Vec<bool> {
    (0..battles.len())
        .map(|r| battles.id(r).expect("LLMFAO has ids").parse::<u64>().expect("numeric item id") % 5 == 0)
        .collect()
}

/// LLMFAO crowd pair totals (left = i when i < j), as the fit sees them.
fn pair_totals(battles: &Battles) -> Vec<Pair> {
    let mut map = std::collections::BTreeMap::new();
    for r in 0..battles.len() {
        let (a, b, outcome, count) = battles.record(r);
        let y = match outcome {
            Outcome::A => 1.0,
            Outcome::B => 0.0,
            _ => 0.5,
        };
        let (key, y) = if a < b { ((a, b), y) } else { ((b, a), 1.0 - y) };
        let e = map.entry(key).or_insert((0.0, 0.0));
        e.0 += f64::from(count);
        e.1 += f64::from(count) * y;
    }
    map.into_iter().map(|((i, j), (n, s))| Pair { i: i as u32, j: j as u32, n, s }).collect()
}

/// The penalised objective: −log-likelihood + ½·l2·‖v‖² (+ ½·ridge·‖θ‖²).
fn objective(fit: &GpmFit, l2: f64) -> f64 {
    let v: f64 = fit.embeddings.iter().map(|x| x * x).sum();
    let t: f64 = fit.theta.iter().map(|x| x * x).sum();
    -fit.log_likelihood + 0.5 * l2 * v + 0.5 * fit.ridge * t
}

#[test]
fn llmfao_fits_converge_at_or_above_bt() {
    let battles = common::llmfao("crowd-comparisons.csv");
    let pairs = pair_totals(&battles);
    let bt = bt::fit(59, &pairs, 0.0, None, 1e-12).theta;
    let bt_ll = log_likelihood(&pairs, |i, j| bt[i] - bt[j]);
    for k in [1, 2, 4] {
        let o = GpmOptions { k, ..GpmOptions::default() };
        let fit = gpm::fit(&battles, &o).unwrap();
        assert_finite(&fit);
        assert!(fit.converged, "k = {k}: {} iterations", fit.iterations);
        assert_eq!(fit.embeddings.len(), 59 * 2 * k);
        assert!(fit.log_likelihood >= bt_ll - 1e-6, "k = {k}: {} vs BT {bt_ll}", fit.log_likelihood);
        assert!((fit.log_likelihood - log_likelihood(&pairs, |i, j| fit.logit(i, j))).abs() < 1e-6);
        // Other seeds land on the same objective value (the optimum is unique up to rotations here).
        for seed in 1..3 {
            let other = gpm::fit(&battles, &GpmOptions { seed, ..o.clone() }).unwrap();
            let (a, b) = (objective(&fit, o.l2), objective(&other, o.l2));
            assert!((a - b).abs() < 1e-3, "k = {k}, seed {seed}: objective {b} vs {a}");
        }
    }
    let o = GpmOptions { k: 4, hybrid: false, ..GpmOptions::default() };
    assert_eq!(gpm::fit(&battles, &o).unwrap(), gpm::fit(&battles, &o).unwrap());
}

#[test]
fn report_gpm_llmfao() {
    let battles = common::llmfao("crowd-comparisons.csv");
    let test = item_split(&battles);
    let start = Instant::now();
    let rows = gpm::held_out(&battles, &test, &[1, 2, 4]).unwrap();
    let elapsed = start.elapsed();
    eprintln!("LLMFAO crowd, held out: items with id % 5 == 0 (defaults: hybrid, τ = 1, l2 = 10)");
    eprintln!("{:<10} {:>10} {:>8} {:>8}", "method", "log-loss", "battles", "skipped");
    for r in &rows {
        eprintln!("{:<10} {:>10.5} {:>8} {:>8}", r.label, r.log_loss, r.battles, r.skipped);
    }
    eprintln!("(BT + 3 GPM fits in {elapsed:?}, debug build)");
    assert_eq!(rows.len(), 4);
    assert!(rows.iter().all(|r| r.log_loss.is_finite() && r.log_loss > 0.0 && r.battles > 1500));
    // At the default penalty the hybrid is never worse than BT by more than noise, for every k.
    assert!(rows[1..].iter().all(|r| r.log_loss < rows[0].log_loss + 1e-3), "{rows:?}");
    eprintln!("full-data fits (in-sample ½-win log-likelihood; BT at its MLE):");
    let pairs = pair_totals(&battles);
    let bt = bt::fit(59, &pairs, 0.0, None, 1e-12).theta;
    eprintln!("  bt       log-lik {:.3}", log_likelihood(&pairs, |i, j| bt[i] - bt[j]));
    for k in [1, 2, 4] {
        for hybrid in [true, false] {
            let start = Instant::now();
            let fit = gpm::fit(&battles, &GpmOptions { k, hybrid, ..GpmOptions::default() }).unwrap();
            let norm = fit.embeddings.iter().map(|x| x * x).sum::<f64>().sqrt();
            eprintln!(
                "  gpm k={k} hybrid {hybrid:<5}: log-lik {:.3}, ‖v‖ {norm:.3}, {} iterations, converged {}, {:?}",
                fit.log_likelihood,
                fit.iterations,
                fit.converged,
                start.elapsed()
            );
        }
    }
    let gpt4 = common::llmfao("gpt4-crowd-comparisons.csv");
    let rows = gpm::held_out(&gpt4, &item_split(&gpt4), &[1, 2, 4]).unwrap();
    let line: Vec<String> = rows.iter().map(|r| format!("{} {:.5}", r.label, r.log_loss)).collect();
    eprintln!("gpt4-crowd, same split ({} held out): {}", rows[0].battles, line.join(" | "));
    for hybrid in [true, false] {
        for l2 in [1.0, 3.0, 10.0, 30.0] {
            let o = GpmOptions { hybrid, l2, ..GpmOptions::default() };
            let rows = gpm::held_out_with(&battles, &test, &[1, 2, 4], &o).unwrap();
            let line: Vec<String> = rows.iter().map(|r| format!("{} {:.5}", r.label, r.log_loss)).collect();
            eprintln!("hybrid {hybrid:<5} l2 {l2:<4}: {}", line.join(" | "));
        }
    }
}
