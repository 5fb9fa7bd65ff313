//! Annotator methods (spec 1.9, 1.10): EM mixtures of Bradley-Terry, LCPO, Dawid-Skene, preference strength.

mod common;

use std::time::Instant;

use arbiter::annotators::dawid_skene::{self, DawidSkeneOptions};
use arbiter::annotators::lcpo::{self, LcpoOptions};
use arbiter::annotators::mixture::{self, MixtureOptions};
use arbiter::annotators::strength;
use arbiter::rank::bt;
use arbiter::rank::rows::Pair;
use arbiter::rng::Stream;
use arbiter::{Battles, Outcome, ParseOptions};

/// A vote: (model a, model b, outcome, judge, item id).
type Vote = (usize, usize, Outcome, String, String);

fn battles(votes: &[Vote]) -> Battles {
    let mut csv = String::from("model_a,model_b,winner,judge,id\n");
    for (a, b, o, judge, id) in votes {
        csv.push_str(&format!("m{a},m{b},{},{judge},{id}\n", o.label()));
    }
    Battles::parse(&csv, &ParseOptions::default()).unwrap()
}

/// Model ids in the parsed battles, by the generator's index.
fn ids(b: &Battles, n: usize) -> Vec<usize> {
    (0..n).map(|m| b.model_id(&format!("m{m}")).unwrap()).collect()
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// A decisive vote on a random pair from Bradley-Terry ratings `theta`.
fn draw(s: &mut Stream, theta: &[f64]) -> (usize, usize, Outcome) {
    let n = theta.len() as u32;
    let a = s.below(n) as usize;
    let b = (a + 1 + s.below(n - 1) as usize) % theta.len();
    let o = if s.uniform() < sigmoid(theta[a] - theta[b]) { Outcome::A } else { Outcome::B };
    (a, b, o)
}

/// Plain Bradley-Terry on all votes (ridge 0), by model id.
fn plain_bt(b: &Battles) -> Vec<f64> {
    let mut totals = std::collections::BTreeMap::<(usize, usize), (f64, f64)>::new();
    for r in 0..b.len() {
        let (a, c, o, count) = b.record(r);
        let score = match o {
            Outcome::A => 1.0,
            Outcome::B => 0.0,
            _ => 0.5,
        };
        let (i, j, s) = if a < c { (a, c, score) } else { (c, a, 1.0 - score) };
        let t = totals.entry((i, j)).or_default();
        t.0 += f64::from(count);
        t.1 += f64::from(count) * s;
    }
    let pairs: Vec<Pair> = totals.iter().map(|(&(i, j), &(n, s))| Pair { i: i as u32, j: j as u32, n, s }).collect();
    bt::fit(b.models().len(), &pairs, 0.0, None, 1e-12).theta
}

fn rmse(x: &[f64], y: &[f64]) -> f64 {
    let mx = x.iter().sum::<f64>() / x.len() as f64;
    let my = y.iter().sum::<f64>() / y.len() as f64;
    (x.iter().zip(y).map(|(a, b)| (a - mx - b + my).powi(2)).sum::<f64>() / x.len() as f64).sqrt()
}

/// 20 annotators × 60 votes; even annotators rate m0 > m1 > m2 (θ = 1, 0, −1), odd ones the reverse.
fn opposite_groups() -> Vec<Vote> {
    let mut s = Stream::new(7, 0);
    let mut votes = Vec::new();
    for u in 0..20 {
        let theta: Vec<f64> = [1.0, 0.0, -1.0].iter().map(|t| if u % 2 == 0 { *t } else { -t }).collect();
        for v in 0..60 {
            let (a, b, o) = draw(&mut s, &theta);
            votes.push((a, b, o, format!("u{u}"), format!("{u}-{v}")));
        }
    }
    votes
}

#[test]
fn mixture_recovers_opposite_groups() {
    let b = battles(&opposite_groups());
    let m = ids(&b, 3);
    let pooled = plain_bt(&b);
    assert!(pooled.iter().all(|t| t.abs() < 0.15), "pooled BT should be flat: {pooled:?}");
    for soft in [false, true] {
        let fit = mixture::fit(&b, &MixtureOptions { soft, ..MixtureOptions::default() }).unwrap();
        // Group of the even annotators.
        let even = fit.annotators.iter().find(|a| a.judge == "u0").unwrap().group;
        let correct = fit
            .annotators
            .iter()
            .filter(|a| {
                let u: usize = a.judge[1..].parse().unwrap();
                (a.group == even) == u.is_multiple_of(2)
            })
            .count();
        let accuracy = correct as f64 / 20.0;
        assert!(accuracy >= 0.95, "soft {soft}: accuracy {accuracy}");
        let (g, h) = (&fit.groups[even].theta, &fit.groups[1 - even].theta);
        assert!(g[m[0]] > g[m[1]] && g[m[1]] > g[m[2]], "{g:?}");
        assert!(h[m[0]] < h[m[1]] && h[m[1]] < h[m[2]], "{h:?}");
        assert!((g[m[0]] - 1.0).abs() < 0.3 && (h[m[2]] - 1.0).abs() < 0.3, "{g:?} {h:?}");
        assert_eq!(fit.groups.iter().map(|g| g.annotators).sum::<usize>(), 20);
        assert!((fit.groups.iter().map(|g| g.weight).sum::<f64>() - 1.0).abs() < 1e-12);
        assert!((fit.groups.iter().map(|g| g.battles).sum::<f64>() - 1200.0).abs() < 1e-9);
        // MaxMin: m0 and m2 are each the loser of one group (≈ −1); the middle model m1 (≈ 0 in both) wins.
        let e = &fit.egalitarian;
        assert!(e[m[1]] > e[m[0]] + 0.5 && e[m[1]] > e[m[2]] + 0.5 && e[m[1]].abs() < 0.3, "{e:?}");
        assert!(fit.log_likelihood.is_finite() && fit.log_likelihood < 0.0);
    }
}

#[test]
fn mixture_with_one_group_is_bradley_terry() {
    let b = battles(&opposite_groups()[..300]);
    let plain = plain_bt(&b);
    for soft in [false, true] {
        let fit =
            mixture::fit(&b, &MixtureOptions { groups: 1, soft, ridge: 0.0, ..MixtureOptions::default() }).unwrap();
        let diff = fit.groups[0].theta.iter().zip(&plain).fold(0.0_f64, |m, (x, y)| m.max((x - y).abs()));
        assert!(diff < 1e-9, "soft {soft}: {diff}");
        assert_eq!(fit.egalitarian, fit.groups[0].theta);
        assert!(fit.annotators.iter().all(|a| a.group == 0 && a.responsibilities == [1.0]));
    }
}

#[test]
fn mixture_is_deterministic_and_handles_degenerate_data() {
    let b = battles(&opposite_groups());
    let x = mixture::fit(&b, &MixtureOptions { groups: 3, seed: 42, ..MixtureOptions::default() }).unwrap();
    let y = mixture::fit(&b, &MixtureOptions { groups: 3, seed: 42, ..MixtureOptions::default() }).unwrap();
    assert_eq!(serde_json::to_string(&x).unwrap(), serde_json::to_string(&y).unwrap());
    // An undefeated model and a disconnected pair, one annotator each: finite ratings thanks to the ridge.
    let votes: Vec<Vote> = vec![
        (0, 1, Outcome::A, "u".into(), "1".into()),
        (0, 1, Outcome::A, "u".into(), "2".into()),
        (2, 3, Outcome::B, "v".into(), "3".into()),
        (2, 3, Outcome::Tie, "v".into(), "4".into()),
    ];
    let b = battles(&votes);
    for ridge in [0.0, 0.01] {
        for soft in [false, true] {
            let fit = mixture::fit(&b, &MixtureOptions { soft, ridge, ..MixtureOptions::default() }).unwrap();
            let all = fit.groups.iter().flat_map(|g| g.theta.iter()).chain(&fit.egalitarian);
            assert!(all.copied().all(f64::is_finite));
            assert!(fit.log_likelihood.is_finite());
        }
    }
}

#[test]
fn mixture_needs_a_judge_per_record() {
    let csv = "model_a,model_b,winner,judge\nx,y,model_a,u\nx,y,model_b,\n";
    let b = Battles::parse(csv, &ParseOptions::default()).unwrap();
    let e = mixture::fit(&b, &MixtureOptions::default()).unwrap_err();
    assert_eq!(e.code(), "MISSING_FIELD");
    assert_eq!(e.row(), Some(2));
    assert!(e.to_string().contains("judge"), "{e}");
}

/// 20 annotators × 1000 votes from Bradley-Terry over 8 models rated evenly from `spread / 2` down to `−spread / 2`;
/// each label flipped with probability `flip`.
fn noisy(flip: f64, spread: f64) -> (Vec<Vote>, Vec<f64>) {
    let truth: Vec<f64> = (0..8).map(|m| spread / 2.0 - spread * f64::from(m) / 7.0).collect();
    let mut s = Stream::new(11, 0);
    let mut votes = Vec::new();
    for u in 0..20 {
        for v in 0..1000 {
            let (a, b, mut o) = draw(&mut s, &truth);
            if s.uniform() < flip {
                o = if o == Outcome::A { Outcome::B } else { Outcome::A };
            }
            votes.push((a, b, o, format!("u{u}"), format!("{u}-{v}")));
        }
    }
    (votes, truth)
}

#[test]
fn lcpo_recovers_flip_rate() {
    let (votes, truth) = noisy(0.2, 6.0);
    let b = battles(&votes);
    let m = ids(&b, 8);
    let truth: Vec<f64> = (0..8).map(|k| truth[m.iter().position(|&x| x == k).unwrap()]).collect();
    let plain = plain_bt(&b);
    for per_annotator in [true, false] {
        let fit = lcpo::fit(&b, &LcpoOptions { per_annotator, ..LcpoOptions::default() }).unwrap();
        assert!((fit.eta - 0.8).abs() < 0.03, "per annotator {per_annotator}: η = {}", fit.eta);
        let (robust, naive) = (rmse(&fit.theta, &truth), rmse(&plain, &truth));
        assert!(robust < naive, "RMSE {robust} vs plain BT {naive}");
        assert!(fit.log_likelihood.is_finite());
        if per_annotator {
            assert_eq!(fit.annotators.len(), 20);
            assert!(fit.annotators.iter().all(|a| a.battles == 1000 && a.decisive == 1000));
            assert!(fit.annotators.iter().all(|a| (a.eta - 0.8).abs() < 0.1), "{:?}", fit.annotators);
        }
        eprintln!(
            "flips 20%: η {:.4}, RMSE {robust:.4} vs plain BT {naive:.4}, {} iterations",
            fit.eta, fit.iterations
        );
    }
}

#[test]
fn lcpo_without_noise_is_bradley_terry() {
    // The population limit: every pair's expected wins as weights (4 annotators × 28 pairs × 250 battles). The
    // score of η at η = 1 is then exactly 0 and the likelihood is concave there, so η̂ sits at its upper clamp and θ
    // is Bradley-Terry's.
    let truth: Vec<f64> = (0..8).map(|m| 1.5 - 3.0 * f64::from(m) / 7.0).collect();
    let mut csv = String::from("model_a,model_b,winner,judge,weight\n");
    for u in 0..4 {
        for i in 0..8 {
            for j in i + 1..8 {
                let p = sigmoid(truth[i] - truth[j]);
                csv.push_str(&format!(
                    "m{i},m{j},model_a,u{u},{}\nm{i},m{j},model_b,u{u},{}\n",
                    250.0 * p,
                    250.0 * (1.0 - p)
                ));
            }
        }
    }
    let b = Battles::parse(&csv, &ParseOptions::default()).unwrap();
    let m = ids(&b, 8);
    for per_annotator in [true, false] {
        let fit = lcpo::fit(&b, &LcpoOptions { per_annotator, ..LcpoOptions::default() }).unwrap();
        let diff = (0..8).fold(0.0_f64, |d, k| d.max((fit.theta[m[k]] - truth[k]).abs()));
        eprintln!("population: η {:.7}, max |θ − truth| {diff:.2e}, {} iterations", fit.eta, fit.iterations);
        assert!(fit.eta > 0.9999, "η = {}", fit.eta);
        assert!(diff < 1e-4, "{diff}");
    }

    // A random sample of 20 000 votes: the score of η at 1 has mean zero, so on a finite sample η̂ lands at 1 or
    // just below it (about half the time each). One global η: at 1, and θ is plain BT. One η per annotator (1000
    // votes each): some land below 1 (battle-weighted mean 0.982) and θ follows (measured 0.11 from plain BT).
    let (votes, _) = noisy(0.0, 3.0);
    let b = battles(&votes);
    let plain = plain_bt(&b);
    for (per_annotator, tolerance) in [(true, 0.15), (false, 1e-4)] {
        let fit = lcpo::fit(&b, &LcpoOptions { per_annotator, ..LcpoOptions::default() }).unwrap();
        let diff = fit.theta.iter().zip(&plain).fold(0.0_f64, |m, (x, y)| m.max((x - y).abs()));
        eprintln!("no noise: η {:.5}, max |θ − BT| {diff:.2e}, {} iterations", fit.eta, fit.iterations);
        assert!(fit.eta >= 0.97, "η = {}", fit.eta);
        assert!(diff < tolerance, "per annotator {per_annotator}: {diff}");
    }
}

#[test]
fn lcpo_ties_and_errors() {
    let votes: Vec<Vote> = vec![
        (0, 1, Outcome::Tie, "u".into(), "1".into()),
        (0, 1, Outcome::BothBad, "u".into(), "2".into()),
        (1, 2, Outcome::A, "v".into(), "3".into()),
    ];
    let fit = lcpo::fit(&battles(&votes), &LcpoOptions::default()).unwrap();
    // m1 beat m2 and never lost: not strongly connected, so the ridge of 1 applies.
    assert_eq!(fit.ridge, 1.0);
    // u voted only ties: its η keeps the start value and it has no decisive battles.
    assert_eq!((fit.annotators[0].eta, fit.annotators[0].decisive, fit.annotators[0].battles), (0.9, 0, 2));
    assert!(fit.theta.iter().all(|t| t.is_finite()) && fit.eta.is_finite());
    let bad = LcpoOptions { tolerance: f64::NAN, ..LcpoOptions::default() };
    assert_eq!(lcpo::fit(&battles(&votes), &bad).unwrap_err().code(), "INVALID_OPTION");
}

/// `n` items of classes A / B / tie with priors 0.4 / 0.4 / 0.2, each labelled by three annotators of accuracy 0.9,
/// 0.7 and 0.55 (a wrong label is one of the two others at random). Returns the votes and the true classes.
fn three_annotators(n: usize) -> (Vec<Vec<(usize, usize)>>, Vec<usize>) {
    let mut s = Stream::new(3, 0);
    let mut truth = Vec::new();
    let items = (0..n)
        .map(|_| {
            let c = s.weighted(&[0.4, 0.4, 0.2]).unwrap();
            truth.push(c);
            (0..3)
                .map(|k| {
                    let l = if s.uniform() < ACCURACY[k] { c } else { (c + 1 + s.below(2) as usize) % 3 };
                    (k, l)
                })
                .collect()
        })
        .collect();
    (items, truth)
}

const ACCURACY: [f64; 3] = [0.9, 0.7, 0.55];

#[test]
fn dawid_skene_three_annotators() {
    let (items, truth) = three_annotators(2000);
    let fit = dawid_skene::fit(&items, 3, 3, &DawidSkeneOptions::default()).unwrap();
    // With three annotators the maximum-likelihood confusion cells scatter by ±0.1 around the truth on 2000 items
    // (EM started from the true classes reaches the same likelihood): check each annotator's accuracy
    // Σ_c ρ_c Π_k[c][c] to ±0.03 and the cells to ±0.1.
    for (k, &acc) in ACCURACY.iter().enumerate() {
        let overall: f64 = (0..3).map(|c| fit.priors[c] * fit.confusion[k][c][c]).sum();
        assert!((overall - acc).abs() < 0.03, "annotator {k}: accuracy {overall} vs {acc}");
        for c in 0..3 {
            let d = fit.confusion[k][c][c];
            assert!((d - acc).abs() < 0.1, "annotator {k} class {c}: {d} vs {acc}");
        }
    }
    let posterior = fit.labels().iter().zip(&truth).filter(|(a, b)| a == b).count();
    // Plain majority; three different labels go to the first annotator's.
    let majority = items
        .iter()
        .zip(&truth)
        .filter(|(votes, &c)| {
            let mut n = [0; 3];
            votes.iter().for_each(|&(_, l)| n[l] += 1);
            let top = (0..3).find(|&l| n[l] >= 2).unwrap_or(votes[0].1);
            top == c
        })
        .count();
    eprintln!(
        "Dawid-Skene: diagonals {:.3?}, posterior {posterior} / 2000 right vs majority {majority} / 2000, {} iterations",
        fit.confusion.iter().map(|m| [m[0][0], m[1][1], m[2][2]]).collect::<Vec<_>>(),
        fit.iterations
    );
    assert!(posterior > majority, "{posterior} vs {majority}");
    assert!((fit.priors.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    assert!(fit.confusion.iter().flatten().all(|row| (row.iter().sum::<f64>() - 1.0).abs() < 1e-12));

    // Ten times the items: every diagonal cell within ±0.04 (measured: the worst, annotator 0's tie row, 0.935).
    let (items, _) = three_annotators(20_000);
    let fit = dawid_skene::fit(&items, 3, 3, &DawidSkeneOptions::default()).unwrap();
    for (k, &acc) in ACCURACY.iter().enumerate() {
        let overall: f64 = (0..3).map(|c| fit.priors[c] * fit.confusion[k][c][c]).sum();
        assert!((overall - acc).abs() < 0.015, "20 000 items, annotator {k}: accuracy {overall} vs {acc}");
        for c in 0..3 {
            let d = fit.confusion[k][c][c];
            assert!((d - acc).abs() < 0.04, "20 000 items, annotator {k} class {c}: {d} vs {acc}");
        }
    }
}

#[test]
fn dawid_skene_from_battles_aligns_sides() {
    let votes: Vec<Vote> = vec![
        (0, 1, Outcome::A, "u".into(), "p".into()),
        (1, 0, Outcome::B, "v".into(), "p".into()),
        (1, 0, Outcome::A, "w".into(), "p".into()),
        (1, 0, Outcome::BothBad, "u".into(), "q".into()),
    ];
    let b = battles(&votes);
    let (items, judges, keys) = dawid_skene::from_battles(&b).unwrap();
    assert_eq!(judges, ["u", "v", "w"]);
    assert_eq!(items, vec![vec![(0, 0), (1, 0), (2, 1)], vec![(0, 2)]]);
    let m = ids(&b, 2);
    assert_eq!((keys[0].id.as_str(), keys[0].model_a, keys[0].model_b), ("p", m[0], m[1]));
    assert_eq!((keys[1].id.as_str(), keys[1].model_a, keys[1].model_b), ("q", m[1], m[0]));
    let csv = "model_a,model_b,winner,judge\nx,y,model_a,u\n";
    let e = dawid_skene::from_battles(&Battles::parse(csv, &ParseOptions::default()).unwrap()).unwrap_err();
    assert_eq!((e.code(), e.row()), ("MISSING_FIELD", Some(1)));
}

#[test]
fn strength_hand_example_and_items() {
    // Three judges: margins (2, 1, 0) → μ̂ = 1, σ̂ = sqrt(2/3); (−1, 0.5, −2) → μ̂ = −5/6, σ̂ = sqrt(1.0555…).
    let s = strength::strength(&[2.0, 1.0, 0.0, -1.0, 0.5, -2.0], 3).unwrap();
    assert!((s[0].mean - 1.0).abs() < 1e-15 && (s[0].spread - (2.0f64 / 3.0).sqrt()).abs() < 1e-15);
    let mean = -5.0 / 6.0;
    let var = ((-1.0 - mean) * (-1.0 - mean) + (0.5 - mean) * (0.5 - mean) + (-2.0 - mean) * (-2.0 - mean)) / 3.0;
    assert!((s[1].mean - mean).abs() < 1e-15 && (s[1].spread - f64::sqrt(var)).abs() < 1e-15);
    assert_eq!(strength::strength(&[f64::INFINITY], 1).unwrap_err().code(), "INVALID_NUMBER");

    // Item p: A, A (seen as B on the swapped side), tie → votes +1, +1, 0.
    let votes: Vec<Vote> = vec![
        (0, 1, Outcome::A, "u".into(), "p".into()),
        (1, 0, Outcome::B, "v".into(), "p".into()),
        (0, 1, Outcome::Tie, "w".into(), "p".into()),
        (1, 0, Outcome::A, "u".into(), "q".into()),
    ];
    let items = strength::from_battles(&battles(&votes)).unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!((items[0].votes, items[0].mean), (3, 2.0 / 3.0));
    assert!((items[0].spread - (2.0f64 / 9.0).sqrt()).abs() < 1e-15);
    assert_eq!((items[1].mean, items[1].spread, items[1].votes), (1.0, 0.0, 1));
}

fn top(theta: &[f64], models: &[String], k: usize) -> Vec<String> {
    let mut order: Vec<usize> = (0..theta.len()).collect();
    order.sort_by(|&a, &b| theta[b].total_cmp(&theta[a]));
    order.iter().take(k).map(|&m| format!("{} ({:+.2})", models[m], theta[m])).collect()
}

#[test]
fn report_annotators_llmfao() {
    let b = common::llmfao("crowd-comparisons.csv");
    let models = b.models();
    eprintln!("LLMFAO crowd: {} votes, {} models", b.len(), models.len());

    let t = Instant::now();
    let fit = lcpo::fit(&b, &LcpoOptions::default()).unwrap();
    let took = t.elapsed();
    assert_eq!(fit.annotators.len(), 124);
    assert!(fit.theta.iter().chain([&fit.eta, &fit.log_likelihood]).all(|x| x.is_finite()));
    let mut by_eta = fit.annotators.clone();
    by_eta.sort_by(|x, y| x.eta.total_cmp(&y.eta));
    eprintln!(
        "LCPO per worker: {} iterations in {took:?}, battle-weighted mean η {:.4}, log-likelihood {:.2}",
        fit.iterations, fit.eta, fit.log_likelihood
    );
    for (name, list) in [("least", &by_eta[..5]), ("most", &by_eta[by_eta.len() - 5..])] {
        let row: Vec<String> = list
            .iter()
            .map(|a| format!("{}: η {:.3} ({} battles, {} decisive)", a.judge, a.eta, a.battles, a.decisive))
            .collect();
        eprintln!("  {name} reliable: {}", row.join("; "));
    }
    eprintln!("  LCPO top 3: {}", top(&fit.theta, models, 3).join(", "));
    let global = lcpo::fit(&b, &LcpoOptions { per_annotator: false, ..LcpoOptions::default() }).unwrap();
    eprintln!("LCPO global η {:.4} ({} iterations)", global.eta, global.iterations);

    let (items, judges, _) = dawid_skene::from_battles(&b).unwrap();
    let t = Instant::now();
    let ds = dawid_skene::fit(&items, judges.len(), 3, &DawidSkeneOptions::default()).unwrap();
    let took = t.elapsed();
    let acc = ds.accuracies();
    let votes: Vec<usize> = (0..judges.len()).map(|k| items.iter().flatten().filter(|v| v.0 == k).count()).collect();
    let weighted = acc.iter().zip(&votes).map(|(a, &n)| a * n as f64).sum::<f64>() / votes.iter().sum::<usize>() as f64;
    eprintln!(
        "Dawid-Skene: {} items, {} annotators, {} iterations in {took:?}; priors A/B/tie {:.3?}; mean diagonal {:.3} \
         (vote-weighted {weighted:.3})",
        items.len(),
        judges.len(),
        ds.iterations,
        ds.priors,
        acc.iter().sum::<f64>() / acc.len() as f64
    );
    assert!(ds.posteriors.iter().flatten().all(|x| x.is_finite()));

    for groups in [2, 3] {
        let t = Instant::now();
        let fit = mixture::fit(&b, &MixtureOptions { groups, ..MixtureOptions::default() }).unwrap();
        let took = t.elapsed();
        eprintln!(
            "Mixture K={groups}: {} iterations in {took:?}, log-likelihood {:.2}",
            fit.iterations, fit.log_likelihood
        );
        for (k, g) in fit.groups.iter().enumerate() {
            eprintln!(
                "  group {k}: {} annotators, {:.0} battles, weight {:.3}; top 3: {}",
                g.annotators,
                g.battles,
                g.weight,
                top(&g.theta, models, 3).join(", ")
            );
        }
        eprintln!("  egalitarian top 3: {}", top(&fit.egalitarian, models, 3).join(", "));
        assert!(fit.egalitarian.iter().all(|x| x.is_finite()));
    }

    let t = Instant::now();
    let items = strength::from_battles(&b).unwrap();
    let took = t.elapsed();
    let n = items.len() as f64;
    let share = |f: &dyn Fn(&strength::ItemStrength) -> bool| items.iter().filter(|i| f(i)).count() as f64 / n;
    eprintln!(
        "Strength: {} items in {took:?}, mean votes {:.2}; |mean| = 0: {:.3}, ≤ 0.2: {:.3}, ≤ 0.6: {:.3}, = 1: {:.3}; \
         mean spread {:.3}, spread = 0: {:.3}",
        items.len(),
        items.iter().map(|i| i.votes as f64).sum::<f64>() / n,
        share(&|i| i.mean == 0.0),
        share(&|i| i.mean.abs() <= 0.2),
        share(&|i| i.mean.abs() <= 0.6),
        share(&|i| i.mean.abs() == 1.0),
        items.iter().map(|i| i.spread).sum::<f64>() / n,
        share(&|i| i.spread == 0.0),
    );
    // The first vote of each item, against the crowd's mean.
    let mut first = std::collections::HashMap::new();
    for r in 0..b.len() {
        let (a, c, o, _) = b.record(r);
        first.entry((b.id(r).unwrap().to_owned(), a.min(c), a.max(c))).or_insert((a, o));
    }
    let against = items
        .iter()
        .filter(|i| {
            let (a, o) = first[&(i.id.clone(), i.model_a.min(i.model_b), i.model_a.max(i.model_b))];
            let sign = match o {
                Outcome::A => 1.0,
                Outcome::B => -1.0,
                _ => 0.0,
            } * if a == i.model_a { 1.0 } else { -1.0 };
            sign * i.mean < 0.0
        })
        .count();
    eprintln!("  items whose crowd mean opposes the first vote: {:.3}", against as f64 / n);
}

/// crowd-kit 1.4.1's Dawid-Skene run to its fixed point on LLMFAO (scripts/golden/make_dawid_skene.py). crowd-kit
/// does not smooth, so arbiter runs with a negligible pseudo-count; both start from the soft majority vote.
#[test]
fn dawid_skene_matches_crowd_kit_on_llmfao() {
    use arbiter::annotators::dawid_skene::{fit, from_battles, DawidSkeneOptions};
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/crowdkit-dawid-skene.json");
    let golden: serde_json::Value = serde_json::from_str(&common::read(&path)).unwrap();
    let battles = common::llmfao("crowd-comparisons.csv");
    let (items, judges, _) = from_battles(&battles).unwrap();
    let options = DawidSkeneOptions { smoothing: 1e-12, tolerance: 1e-15, max_iterations: 5000 };
    let f = fit(&items, judges.len(), 3, &options).unwrap();
    let worst = |a: &[f64], b: &serde_json::Value| {
        a.iter().zip(b.as_array().unwrap()).map(|(x, y)| (x - y.as_f64().unwrap()).abs()).fold(0.0, f64::max)
    };
    let priors = worst(&f.priors, &golden["priors"]);
    let posteriors =
        f.posteriors.iter().zip(golden["posteriors"].as_array().unwrap()).map(|(p, g)| worst(p, g)).fold(0.0, f64::max);
    let names: Vec<&str> = golden["workers"].as_array().unwrap().iter().map(|w| w.as_str().unwrap()).collect();
    let mut confusion: f64 = 0.0;
    for (k, judge) in judges.iter().enumerate() {
        let g = &golden["confusion"][names.iter().position(|n| n == judge).unwrap()];
        for c in 0..3 {
            // A row whose class the worker (almost) never saw is undetermined: worker 73's class-A row rests on
            // 3e-14 items (crowd-kit's clip makes it uniform, the tiny pseudo-count leaves it wherever it is).
            let support: f64 = items
                .iter()
                .zip(&f.posteriors)
                .map(|(votes, t)| votes.iter().filter(|v| v.0 == k).count() as f64 * t[c])
                .sum();
            if support > 1e-6 {
                confusion = confusion.max(worst(&f.confusion[k][c], &g[c]));
            }
        }
    }
    eprintln!(
        "crowd-kit parity: priors {priors:.1e}, posteriors {posteriors:.1e}, confusion {confusion:.1e}, {} steps",
        f.iterations
    );
    assert!(priors < 1e-6 && posteriors < 1e-5 && confusion < 1e-5, "{priors} {posteriors} {confusion}");
}
