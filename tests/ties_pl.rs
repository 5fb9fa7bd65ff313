//! Tie models (Davidson, Rao-Kupper; spec 1.3) and Plackett-Luce (spec 1.4): the spec's worked examples, choix's
//! fixtures, degenerate data and LLMFAO.

mod common;

use arbiter::rank::bt;
use arbiter::rank::graph::Components;
use arbiter::rank::pl::{self, Observation, PlOptions};
use arbiter::rank::rows::Pair;
use arbiter::rank::ties::{self, TieFit, TieModel, TieOptions, TiePair};
use arbiter::rank::FALLBACK_RIDGE;
use arbiter::{Battles, Outcome};

fn tie_pair(i: u32, j: u32, wins_i: f64, wins_j: f64, ties: f64) -> TiePair {
    TiePair { i, j, wins_i, wins_j, ties }
}

fn model(model: TieModel) -> TieOptions {
    TieOptions { model, ..TieOptions::default() }
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}

/// Σ weight · ln P(outcome) from a fit's own probabilities.
fn log_likelihood_of(fit: &TieFit, pairs: &[TiePair]) -> f64 {
    pairs
        .iter()
        .map(|p| {
            let [pi, pt, pj] = fit.probabilities(p.i as usize, p.j as usize);
            let term = |w: f64, q: f64| if w > 0.0 { w * q.ln() } else { 0.0 };
            term(p.wins_i, pi) + term(p.ties, pt) + term(p.wins_j, pj)
        })
        .sum()
}

// ---------------------------------------------------------------------------------------------------- ties

#[test]
fn equal_players_with_a_third_ties_give_thirds() {
    // spec 1.3 [V-run]: Davidson ν = 1 and Rao-Kupper θ = 2 give (1/3, 1/3, 1/3); with tie fraction t = 1/3 those
    // are the MLEs (ν̂ = 2t/(1−t) = 1, θ̂ = (1+t)/(1−t) = 2).
    let pairs = [tie_pair(0, 1, 5.0, 5.0, 5.0)];
    for (m, tie) in [(TieModel::Davidson, 1.0), (TieModel::RaoKupper, 2.0)] {
        let fit = ties::fit_totals(2, &pairs, &model(m)).unwrap();
        assert!(close(fit.tie, tie, 1e-10), "{m:?} {}", fit.tie);
        assert!(fit.converged);
        for p in fit.probabilities(0, 1) {
            assert!(close(p, 1.0 / 3.0, 1e-10), "{m:?} {p}");
        }
        assert!(close(fit.log_likelihood, 15.0 * (1.0f64 / 3.0).ln(), 1e-9));
    }
}

#[test]
fn equal_players_closed_forms() {
    // spec 1.3 [V-run]: ν̂ = 2t/(1−t), θ̂ = (1+t)/(1−t) for equal players with tie fraction t; also on a balanced
    // 3-cycle (every pair equal, so all θ are equal).
    for (w, t_count) in [(3.0, 4.0), (10.0, 1.0), (1.0, 30.0), (7.5, 0.25)] {
        let t = t_count / (2.0 * w + t_count);
        let two = [tie_pair(0, 1, w, w, t_count)];
        let cycle = [tie_pair(0, 1, w, w, t_count), tie_pair(1, 2, w, w, t_count), tie_pair(2, 0, w, w, t_count)];
        for (n, pairs) in [(2, &two[..]), (3, &cycle[..])] {
            let d = ties::fit_totals(n, pairs, &model(TieModel::Davidson)).unwrap();
            assert!(close(d.tie, 2.0 * t / (1.0 - t), 1e-9), "ν̂ {} t {t}", d.tie);
            let r = ties::fit_totals(n, pairs, &model(TieModel::RaoKupper)).unwrap();
            assert!(close(r.tie, (1.0 + t) / (1.0 - t), 1e-9), "θ̂ {} t {t}", r.tie);
            for f in [&d, &r] {
                assert!(f.theta.iter().all(|x| x.abs() < 1e-12), "{:?}", f.theta);
                assert!(f.identified.iter().all(|&x| x) && f.ridge == 0.0);
            }
        }
    }
}

#[test]
fn no_ties_is_bradley_terry_on_the_boundary() {
    // spec 1.3: no ties → ν̂ → 0 (Davidson reduces to BT) and θ̂ → 1. The fit returns exactly 0 resp. 1 and the
    // BT strengths.
    let pairs = [tie_pair(0, 1, 3.0, 1.0, 0.0), tie_pair(1, 2, 2.0, 2.0, 0.0), tie_pair(0, 2, 1.0, 1.0, 0.0)];
    let bt_pairs: Vec<Pair> =
        pairs.iter().map(|p| Pair { i: p.i, j: p.j, n: p.wins_i + p.wins_j, s: p.wins_i }).collect();
    let bt = bt::fit(3, &bt_pairs, 0.0, None, 1e-13).theta;
    for (m, tie) in [(TieModel::Davidson, 0.0), (TieModel::RaoKupper, 1.0)] {
        let fit = ties::fit_totals(3, &pairs, &model(m)).unwrap();
        assert_eq!(fit.tie, tie);
        assert!(fit.converged);
        for (a, b) in fit.theta.iter().zip(&bt) {
            assert!(close(*a, *b, 1e-9), "{m:?} {a} {b}");
        }
        let p = fit.probabilities(0, 1);
        assert_eq!(p[1], 0.0);
        assert!(close(p[0], 1.0 / (1.0 + (bt[1] - bt[0]).exp()), 1e-9));
    }
    // Approaching the boundary: ν̂ and θ̂ − 1 shrink with the tie fraction.
    let mut last = (f64::INFINITY, f64::INFINITY);
    for ties_count in [1.0, 0.1, 0.01, 0.001] {
        let p = [tie_pair(0, 1, 30.0, 10.0, ties_count)];
        let d = ties::fit_totals(2, &p, &model(TieModel::Davidson)).unwrap().tie;
        let r = ties::fit_totals(2, &p, &model(TieModel::RaoKupper)).unwrap().tie - 1.0;
        assert!(d > 0.0 && d < last.0 && r > 0.0 && r < last.1, "{d} {r}");
        last = (d, r);
    }
    assert!(last.0 < 1e-4 && last.1 < 1e-4);
}

#[test]
fn the_fit_is_a_stationary_point() {
    // Gradient check through the public API: the log-likelihood computed from `probabilities` has zero
    // finite-difference derivative in every θ_k and in the tie parameter at the fit.
    let pairs = [
        tie_pair(0, 1, 6.0, 2.0, 3.0),
        tie_pair(1, 2, 4.0, 3.5, 1.0),
        tie_pair(0, 2, 2.0, 1.0, 4.0),
        tie_pair(3, 0, 1.0, 2.0, 2.0),
        tie_pair(2, 3, 5.0, 1.0, 0.5),
    ];
    for m in [TieModel::Davidson, TieModel::RaoKupper] {
        let fit = ties::fit_totals(4, &pairs, &model(m)).unwrap();
        assert!(close(log_likelihood_of(&fit, &pairs), fit.log_likelihood, 1e-10));
        let eps = 1e-5;
        for k in 0..=4 {
            let shifted = |h: f64| {
                let mut f = fit.clone();
                if k < 4 {
                    f.theta[k] += h;
                } else {
                    f.tie *= h.exp(); // ν or θ, on the log scale
                }
                log_likelihood_of(&f, &pairs)
            };
            let derivative = (shifted(eps) - shifted(-eps)) / (2.0 * eps);
            assert!(derivative.abs() < 1e-6, "{m:?} ∂{k} = {derivative}");
            assert!(shifted(0.05) < fit.log_likelihood && shifted(-0.05) < fit.log_likelihood);
        }
    }
}

#[test]
fn probabilities_sum_to_one_and_rao_kupper_matches_its_formula() {
    let pairs = [tie_pair(0, 1, 6.0, 2.0, 3.0), tie_pair(1, 2, 4.0, 3.5, 1.0), tie_pair(0, 2, 2.0, 1.0, 4.0)];
    let fit = ties::fit_totals(3, &pairs, &model(TieModel::RaoKupper)).unwrap();
    let (pi, pj, k) = (fit.theta[0].exp(), fit.theta[2].exp(), fit.tie);
    let p = fit.probabilities(0, 2);
    assert!(close(p[0], pi / (pi + k * pj), 1e-14));
    assert!(close(p[1], (k * k - 1.0) * pi * pj / ((pi + k * pj) * (k * pi + pj)), 1e-14));
    assert!(close(p[2], pj / (k * pi + pj), 1e-14));
    let d = ties::fit_totals(3, &pairs, &model(TieModel::Davidson)).unwrap();
    let (pi, pj, nu) = (d.theta[0].exp(), d.theta[2].exp(), d.tie);
    let den = pi + pj + nu * (pi * pj).sqrt();
    let q = d.probabilities(0, 2);
    assert!(close(q[0], pi / den, 1e-14) && close(q[1], nu * (pi * pj).sqrt() / den, 1e-14));
    for f in [&fit, &d] {
        for (i, j) in [(0, 1), (1, 2), (2, 0), (0, 7)] {
            assert!(close(f.probabilities(i, j).iter().sum::<f64>(), 1.0, 1e-14));
        }
    }
}

#[test]
fn serde_names() {
    assert_eq!(serde_json::to_string(&TieModel::Davidson).unwrap(), "\"davidson\"");
    assert_eq!(serde_json::to_string(&TieModel::RaoKupper).unwrap(), "\"rao-kupper\"");
    let fit = ties::fit_totals(2, &[tie_pair(0, 1, 2.0, 1.0, 1.0)], &TieOptions::default()).unwrap();
    let json = serde_json::to_value(&fit).unwrap();
    assert!(json.get("logLikelihood").is_some() && json.get("identified").is_some());
}

#[test]
fn degenerate_data_stays_finite() {
    // An undefeated model (0 never loses or ties against 1) and a model without battles (3): the fallback ridge,
    // those models unidentified, everything finite.
    let pairs = [tie_pair(0, 1, 4.0, 0.0, 0.0), tie_pair(1, 2, 2.0, 1.0, 1.0)];
    for m in [TieModel::Davidson, TieModel::RaoKupper] {
        let fit = ties::fit_totals(4, &pairs, &model(m)).unwrap();
        assert_eq!(fit.ridge, FALLBACK_RIDGE);
        assert_eq!(fit.identified, vec![false, true, true, false]);
        assert!(fit.theta.iter().chain([&fit.tie, &fit.log_likelihood]).all(|x| x.is_finite()));
        assert!(fit.theta[0] > fit.theta[1] && fit.converged);
        assert!(close(fit.theta.iter().sum::<f64>(), 0.0, 1e-12));
    }
    // Strongly connected data with an extra model that has no battles: no ridge needed; that model is θ = 0 before
    // centring and unidentified.
    let pairs = [tie_pair(0, 1, 3.0, 1.0, 1.0)];
    let fit = ties::fit_totals(3, &pairs, &TieOptions::default()).unwrap();
    assert_eq!(fit.ridge, 0.0);
    assert_eq!(fit.identified, vec![true, true, false]);
    assert!(close(fit.theta.iter().sum::<f64>(), 0.0, 1e-12));
    // Disconnected groups: the fallback ridge; the largest component (the first of equal size) is identified.
    let pairs = [tie_pair(0, 1, 3.0, 1.0, 1.0), tie_pair(2, 3, 1.0, 2.0, 2.0)];
    let fit = ties::fit_totals(4, &pairs, &TieOptions::default()).unwrap();
    assert_eq!(fit.ridge, FALLBACK_RIDGE);
    assert_eq!(fit.identified.iter().filter(|&&x| x).count(), 2);
    // Every battle a tie: ν̂ = ∞, an EMPTY error; nothing: EMPTY; bad options and rows: errors, no panic.
    assert_eq!(
        ties::fit_totals(2, &[tie_pair(0, 1, 0.0, 0.0, 4.0)], &TieOptions::default()).unwrap_err().code(),
        "EMPTY"
    );
    assert_eq!(ties::fit(&Battles::new(), &TieOptions::default()).unwrap_err().code(), "EMPTY");
    for bad in [
        TieOptions { ridge: -1.0, ..TieOptions::default() },
        TieOptions { tolerance: 0.0, ..TieOptions::default() },
        TieOptions { tolerance: f64::NAN, ..TieOptions::default() },
        TieOptions { max_iterations: 0, ..TieOptions::default() },
    ] {
        assert_eq!(ties::fit_totals(2, &pairs[..1], &bad).unwrap_err().code(), "INVALID_OPTION");
    }
    let err = ties::fit_totals(2, &[tie_pair(0, 1, 1.0, f64::INFINITY, 0.0)], &TieOptions::default()).unwrap_err();
    assert_eq!((err.code(), err.row()), ("INVALID_NUMBER", Some(1)));
}

#[test]
fn battles_count_both_bad_as_ties_and_use_weights() {
    let mut a = Battles::new();
    a.push("x", "y", Outcome::A, 3).unwrap();
    a.push("y", "x", Outcome::A, 1).unwrap();
    a.push("x", "y", Outcome::BothBad, 1).unwrap();
    a.push("y", "x", Outcome::Tie, 1).unwrap();
    let fit = ties::fit(&a, &TieOptions::default()).unwrap();
    let totals = ties::fit_totals(2, &[tie_pair(0, 1, 3.0, 1.0, 2.0)], &TieOptions::default()).unwrap();
    assert_eq!(fit.theta, totals.theta);
    assert_eq!(fit.tie, totals.tie);
}

#[test]
fn held_out_on_a_toy_split() {
    let mut b = Battles::new();
    for _ in 0..3 {
        b.push("x", "y", Outcome::A, 2).unwrap();
        b.push("y", "x", Outcome::A, 1).unwrap();
        b.push("x", "y", Outcome::Tie, 1).unwrap();
    }
    b.push("x", "z", Outcome::A, 1).unwrap(); // z unseen in training
    let test: Vec<bool> = (0..b.len()).map(|r| r >= 6).collect();
    let c = ties::held_out(&b, &test).unwrap();
    assert_eq!(c.skipped, 1);
    assert_eq!(c.train_battles, 8.0);
    assert_eq!(c.test_battles, 4.0);
    assert!(close(c.tie_rate, 0.25, 1e-15));
    // Train = test distribution (x wins 1/2, ties 1/4, y wins 1/4): both tie models fit it exactly (two parameters
    // for one pair), so their 3-outcome score is −entropy of (1/2, 1/4, 1/4). BT's half-win p is 2.5/4, so it
    // predicts ((1−t)p, t, (1−t)(1−p)) = (0.46875, 0.25, 0.28125); its score E = p.
    let entropy = -(0.5 * 0.5f64.ln() + 0.5 * 0.25f64.ln());
    let score = |e: f64| 0.5 * e.ln() + 0.25 * (1.0 - e).ln() + 0.25 * 0.5 * (e.ln() + (1.0 - e).ln());
    for h in [&c.davidson, &c.rao_kupper] {
        assert!(close(h.log_likelihood, -entropy, 1e-9), "{h:?}");
        assert!(close(h.score_log_likelihood, score(0.625), 1e-9), "{h:?}");
    }
    let bt = 0.5 * 0.46875f64.ln() + 0.25 * 0.25f64.ln() + 0.25 * 0.28125f64.ln();
    assert!(close(c.bradley_terry.log_likelihood, bt, 1e-9), "{:?}", c.bradley_terry);
    assert!(close(c.bradley_terry.score_log_likelihood, score(0.625), 1e-9));
    assert_eq!(ties::held_out(&b, &[true]).unwrap_err().code(), "INVALID_OPTION");
    let all_test = vec![true; b.len()];
    assert_eq!(ties::held_out(&b, &all_test).unwrap_err().code(), "EMPTY");
}

#[test]
fn davidson_on_llmfao_is_finite_with_all_models() {
    // Cross-checked with scipy BFGS on the per-battle likelihood (gtol 1e-8): Davidson ll −8995.839704 at
    // ν = 1.479708; Rao-Kupper ll −8977.520395 at θ = 2.566000.
    let battles = common::llmfao("crowd-comparisons.csv");
    assert_eq!(battles.models().len(), 59);
    for (m, ll, tie) in
        [(TieModel::Davidson, -8_995.839_704, 1.479_708), (TieModel::RaoKupper, -8_977.520_395, 2.566_000)]
    {
        let fit = ties::fit(&battles, &model(m)).unwrap();
        assert!(close(fit.log_likelihood, ll, 1e-5) && close(fit.tie, tie, 1e-5), "{m:?} {fit:?}");
        assert!(fit.converged, "{m:?}");
        assert_eq!(fit.ridge, 0.0);
        assert!(fit.identified.iter().all(|&x| x), "{m:?}");
        assert_eq!(fit.theta.len(), 59);
        assert!(fit.theta.iter().chain([&fit.tie, &fit.log_likelihood]).all(|x| x.is_finite()));
        assert!(close(fit.theta.iter().sum::<f64>(), 0.0, 1e-9));
        assert!(fit.tie > if m == TieModel::Davidson { 0.0 } else { 1.0 });
    }
}

fn llmfao_split(battles: &Battles) -> Vec<bool> {
    (0..battles.len())
        .map(|r| battles.id(r).and_then(|id| id.parse::<u64>().ok()).is_some_and(|id| id % 5 == 0))
        .collect()
}

#[test]
fn report_ties_llmfao() {
    let battles = common::llmfao("crowd-comparisons.csv");
    let start = std::time::Instant::now();
    let d = ties::fit(&battles, &TieOptions::default()).unwrap();
    let r = ties::fit(&battles, &model(TieModel::RaoKupper)).unwrap();
    let elapsed = start.elapsed();
    eprintln!(
        "LLMFAO crowd, all {} votes: Davidson ν = {:.6} ({} iterations, ll {:.3}); Rao-Kupper θ = {:.6} ({} iterations, ll {:.3}); both fits {:.1} ms",
        battles.len(),
        d.tie,
        d.iterations,
        d.log_likelihood,
        r.tie,
        r.iterations,
        r.log_likelihood,
        elapsed.as_secs_f64() * 1e3
    );
    let test = llmfao_split(&battles);
    let start = std::time::Instant::now();
    let c = ties::held_out(&battles, &test).unwrap();
    let elapsed = start.elapsed();
    eprintln!(
        "held out (item id % 5 == 0): train {} / test {} battles, {} skipped, training tie rate {:.4} ({:.1} ms)",
        c.train_battles,
        c.test_battles,
        c.skipped,
        c.tie_rate,
        elapsed.as_secs_f64() * 1e3
    );
    for (name, h) in [("Davidson", &c.davidson), ("Rao-Kupper", &c.rao_kupper), ("BT ½-win", &c.bradley_terry)] {
        eprintln!(
            "  {name:<11} tie {:.6}  mean 3-outcome ll {:.6}  mean score ll {:.6}",
            h.tie, h.log_likelihood, h.score_log_likelihood
        );
    }
    assert!(c.test_battles > 1000.0 && c.train_battles > 6000.0);
    // A tie model predicts ties better than a constant tie rate, or at least not worse than by a hair.
    assert!(c.davidson.log_likelihood > c.bradley_terry.log_likelihood - 0.01);
}

// ---------------------------------------------------------------------------------------------------- Plackett-Luce

#[test]
fn pl_uniform_scores_give_one_sixth() {
    // spec 1.4 [V-run]: all scores equal → every permutation of 3 items has probability 1/6.
    let theta = [0.3, 0.3, 0.3];
    let perms = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]];
    let mut total = 0.0;
    for p in perms {
        let prob = pl::probability(&theta, &p).unwrap();
        assert!(close(prob, 1.0 / 6.0, 1e-15), "{p:?} {prob}");
        total += prob;
    }
    assert!(close(total, 1.0, 1e-14));
    // Unequal scores: the 6 probabilities still sum to 1.
    let theta = [1.2, -0.4, 0.1];
    let total: f64 = perms.iter().map(|p| pl::probability(&theta, p).unwrap()).sum();
    assert!(close(total, 1.0, 1e-14));
}

#[test]
fn pl_two_items_is_bradley_terry() {
    // spec 1.4 [V-run]: the PL log-likelihood of a 2-item ranking equals the BT log-likelihood.
    let theta = [0.7, -1.1, 0.2];
    for (i, j) in [(0, 1), (1, 0), (2, 1)] {
        let ll = pl::log_likelihood(&theta, &[Observation::Ranking(vec![i, j])]).unwrap();
        let bt = -(1.0 + (theta[j] - theta[i]).exp()).ln();
        assert!(close(ll, bt, 1e-15));
        let choice = pl::log_likelihood(&theta, &[Observation::Choice { chosen: i, among: vec![j] }]).unwrap();
        assert_eq!(ll, choice);
    }
}

fn choix_case(name: &str) -> (usize, Vec<Observation>, Vec<f64>) {
    let text = common::read(&common::shared(&format!("fixtures/choix/testcase-{name}.json")));
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let n = v["n_items"].as_u64().unwrap() as usize;
    let index = |x: &serde_json::Value| x.as_u64().unwrap() as usize;
    let observations = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let d = d.as_array().unwrap();
            if name.starts_with("top1") {
                Observation::Choice {
                    chosen: index(&d[0]),
                    among: d[1].as_array().unwrap().iter().map(index).collect(),
                }
            } else {
                Observation::Ranking(d.iter().map(index).collect())
            }
        })
        .collect();
    let ml = v["ml_est"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
    (n, observations, ml)
}

#[test]
fn pl_matches_all_choix_fixtures() {
    // choix's tests compare with ATOL = 1e-4 on centred log-strengths.
    for name in ["pairwise-1", "pairwise-2", "rankings-1", "rankings-2", "top1-1", "top1-2"] {
        let (n, observations, ml) = choix_case(name);
        let fit = pl::fit(n, &observations, &PlOptions::default()).unwrap();
        assert!(fit.converged && fit.alpha == 0.0, "{name}");
        assert!(fit.identified.iter().all(|&x| x), "{name}");
        for (a, b) in fit.theta.iter().zip(&ml) {
            assert!(close(*a, *b, 1e-4), "{name}: {:?} vs {ml:?}", fit.theta);
        }
        let ll = pl::log_likelihood(&fit.theta, &observations).unwrap();
        assert!(close(ll, fit.log_likelihood, 1e-12));
    }
}

#[test]
fn pl_alpha_matches_choix_regularised_mm() {
    // choix.mm_top1 / mm_rankings with alpha = 0.5 (choix 0.4.1, tol 1e-14), printed by the venv's choix.
    let (n, top1, _) = choix_case("top1-2");
    let fit = pl::fit(n, &top1, &PlOptions { alpha: 0.5, tolerance: 1e-13, ..PlOptions::default() }).unwrap();
    for (a, b) in fit.theta.iter().zip(CHOIX_TOP1_2_ALPHA_HALF) {
        assert!(close(*a, b, 1e-8), "{:?}", fit.theta);
    }
    let (n, rankings, _) = choix_case("rankings-2");
    let fit = pl::fit(n, &rankings, &PlOptions { alpha: 0.5, tolerance: 1e-13, ..PlOptions::default() }).unwrap();
    for (a, b) in fit.theta.iter().zip(CHOIX_RANKINGS_2_ALPHA_HALF) {
        assert!(close(*a, b, 1e-8), "{:?}", fit.theta);
    }
}

const CHOIX_TOP1_2_ALPHA_HALF: [f64; 3] =
    [0.109_150_050_079_086_12, -0.218_300_100_158_172_25, 0.109_150_050_079_086_12];
const CHOIX_RANKINGS_2_ALPHA_HALF: [f64; 4] =
    [-0.218_515_265_860_394_1, 0.433_164_794_289_931_54, -0.437_582_778_421_877_2, 0.222_933_249_992_339_77];

#[test]
fn pl_bad_input_is_an_error() {
    let o = PlOptions::default();
    let err = |obs: Vec<Observation>| pl::fit(3, &obs, &o).unwrap_err();
    let e = err(vec![Observation::Ranking(vec![0, 1]), Observation::Ranking(vec![0, 3])]);
    assert_eq!((e.code(), e.row()), ("INVALID_NUMBER", Some(2)));
    assert_eq!(err(vec![Observation::Ranking(vec![0, 1, 0])]).code(), "INVALID_NUMBER");
    assert_eq!(err(vec![Observation::Ranking(vec![1])]).code(), "INVALID_NUMBER");
    assert_eq!(err(vec![Observation::Ranking(vec![])]).code(), "INVALID_NUMBER");
    assert_eq!(err(vec![Observation::Choice { chosen: 1, among: vec![] }]).code(), "INVALID_NUMBER");
    assert_eq!(err(vec![Observation::Choice { chosen: 1, among: vec![2, 1] }]).code(), "INVALID_NUMBER");
    assert_eq!(err(vec![Observation::Choice { chosen: 5, among: vec![2] }]).code(), "INVALID_NUMBER");
    assert_eq!(err(vec![]).code(), "EMPTY");
    assert_eq!(pl::fit(0, &[Observation::Ranking(vec![0, 1])], &o).unwrap_err().code(), "EMPTY");
    let ok = [Observation::Ranking(vec![0, 1])];
    for bad in [
        PlOptions { alpha: -1.0, ..o },
        PlOptions { alpha: f64::NAN, ..o },
        PlOptions { tolerance: 0.0, ..o },
        PlOptions { max_iterations: 0, ..o },
    ] {
        assert_eq!(pl::fit(2, &ok, &bad).unwrap_err().code(), "INVALID_OPTION");
    }
    assert_eq!(pl::log_likelihood(&[0.0, f64::NAN], &ok).unwrap_err().code(), "INVALID_OPTION");
    assert_eq!(pl::probability(&[0.0, 1.0], &[0, 2]).unwrap_err().code(), "INVALID_NUMBER");
}

#[test]
fn pl_without_an_mle_falls_back_and_marks_items() {
    // Item 0 always chosen, item 3 never observed: no MLE; α = FALLBACK_RIDGE, both unidentified, all finite.
    let obs = [
        Observation::Ranking(vec![0, 1, 2]),
        Observation::Choice { chosen: 0, among: vec![2] },
        Observation::Ranking(vec![1, 2]),
        Observation::Ranking(vec![2, 1]),
    ];
    let fit = pl::fit(4, &obs, &PlOptions::default()).unwrap();
    assert_eq!(fit.alpha, FALLBACK_RIDGE);
    assert!(fit.converged);
    assert_eq!(fit.identified, vec![false, true, true, false]);
    assert!(fit.theta.iter().chain([&fit.log_likelihood]).all(|x| x.is_finite()));
    assert!(fit.theta[0] > fit.theta[1] && close(fit.theta.iter().sum::<f64>(), 0.0, 1e-12));
    // An item never chosen (a single decisive battle): still finite.
    let fit = pl::fit(2, &[Observation::Ranking(vec![1, 0])], &PlOptions::default()).unwrap();
    assert!(fit.theta[1] > fit.theta[0] && fit.theta.iter().all(|x| x.is_finite()));
    assert_eq!(fit.identified, vec![false, false]);
}

#[test]
fn pl_from_battles_keeps_decisive_battles() {
    let mut b = Battles::new();
    b.push("x", "y", Outcome::A, 2).unwrap();
    b.push("x", "y", Outcome::B, 1).unwrap();
    b.push("x", "y", Outcome::Tie, 3).unwrap();
    b.push("y", "x", Outcome::BothBad, 1).unwrap();
    let (obs, dropped) = pl::from_battles(&b);
    assert_eq!(dropped, 4);
    assert_eq!(
        obs,
        vec![Observation::Ranking(vec![0, 1]), Observation::Ranking(vec![0, 1]), Observation::Ranking(vec![1, 0])]
    );
}

/// LLMFAO's decisive battles as BT pair totals (i < j, s = i's wins).
fn decisive_pairs(battles: &Battles) -> Vec<Pair> {
    let mut map = std::collections::BTreeMap::new();
    for r in 0..battles.len() {
        let (a, b, outcome, count) = battles.record(r);
        let winner_a = match outcome {
            Outcome::A => true,
            Outcome::B => false,
            _ => continue,
        };
        let (i, j) = (a.min(b) as u32, a.max(b) as u32);
        let e = map.entry((i, j)).or_insert((0.0, 0.0));
        e.0 += f64::from(count);
        if winner_a == (a < b) {
            e.1 += f64::from(count);
        }
    }
    map.into_iter().map(|((i, j), (n, s))| Pair { i, j, n, s }).collect()
}

#[test]
fn pl_on_llmfao_decisive_battles_equals_bradley_terry() {
    let battles = common::llmfao("crowd-comparisons.csv");
    let (obs, dropped) = pl::from_battles(&battles);
    assert_eq!(obs.len() + dropped, 8931);
    let n = battles.models().len();
    let pairs = decisive_pairs(&battles);
    assert!(Components::new(n, &pairs).strongly_connected());
    let bt = bt::fit(n, &pairs, 0.0, None, 1e-13).theta;
    let fit = pl::fit(n, &obs, &PlOptions { tolerance: 1e-12, ..PlOptions::default() }).unwrap();
    assert!(fit.converged && fit.alpha == 0.0 && fit.identified.iter().all(|&x| x));
    let worst = fit.theta.iter().zip(&bt).fold(0.0_f64, |m, (a, b)| m.max((a - b).abs()));
    assert!(worst < 1e-6, "max |Δθ| = {worst}");
}

#[test]
fn report_pl_llmfao() {
    let battles = common::llmfao("crowd-comparisons.csv");
    let (obs, dropped) = pl::from_battles(&battles);
    let start = std::time::Instant::now();
    let fit = pl::fit(battles.models().len(), &obs, &PlOptions::default()).unwrap();
    let elapsed = start.elapsed();
    let pairs = decisive_pairs(&battles);
    let bt = bt::fit(battles.models().len(), &pairs, 0.0, None, 1e-13).theta;
    let worst = fit.theta.iter().zip(&bt).fold(0.0_f64, |m, (a, b)| m.max((a - b).abs()));
    eprintln!(
        "PL on LLMFAO decisive battles: {} rankings ({dropped} ties dropped), {} MM steps, converged {}, ll {:.4}, \
         max |θ_PL − θ_BT| = {worst:.2e}, {:.1} ms",
        obs.len(),
        fit.iterations,
        fit.converged,
        fit.log_likelihood,
        elapsed.as_secs_f64() * 1e3
    );
}
