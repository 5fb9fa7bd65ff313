//! Weng-Lin ratings against openskill.py 6.2.0: its five models' test fixtures (../shared/data/fixtures/openskill,
//! made by openskill's tests/models/generate.py) to 1e-9, and whole-arena runs over the LLMFAO crowd votes against
//! tests/golden/openskill-llmfao.json (scripts/golden/make_openskill.py).

mod common;

use arbiter::rank::wenglin::{predict_draw, predict_win, rate, rate_battles, Rating, WengLinModel, WengLinOptions};
use arbiter::{Battles, Outcome};
use serde_json::Value;

const MODELS: [(WengLinModel, &str); 5] = [
    (WengLinModel::PlackettLuce, "plackettluce"),
    (WengLinModel::BradleyTerryFull, "bradleyterryfull"),
    (WengLinModel::BradleyTerryPart, "bradleyterrypart"),
    (WengLinModel::ThurstoneMostellerFull, "thurstonemostellerfull"),
    (WengLinModel::ThurstoneMostellerPart, "thurstonemostellerpart"),
];

fn fixture(name: &str) -> Value {
    let path = common::shared(&format!("fixtures/openskill/{name}.json"));
    serde_json::from_str(&common::read(&path)).expect("fixture JSON")
}

/// Teams of `sizes` players, each at the model's initial rating.
fn teams(r: Rating, sizes: &[usize]) -> Vec<Vec<Rating>> {
    sizes.iter().map(|&n| vec![r; n]).collect()
}

fn weights(w: &[&[f64]]) -> Vec<Vec<f64>> {
    w.iter().map(|t| t.to_vec()).collect()
}

/// Compares a result with the fixture's `team_1`, `team_2`, ... lists; returns the largest difference.
fn check(expected: &Value, scenario: &str, got: &[Vec<Rating>]) -> f64 {
    let want = &expected[scenario];
    assert_eq!(want.as_object().unwrap().len(), got.len(), "{scenario}: number of teams");
    let mut worst: f64 = 0.0;
    for (t, team) in got.iter().enumerate() {
        let players = want[format!("team_{}", t + 1)].as_array().unwrap();
        assert_eq!(players.len(), team.len(), "{scenario}: team {} size", t + 1);
        for (p, (w, r)) in players.iter().zip(team).enumerate() {
            let (mu, sigma) = (w["mu"].as_f64().unwrap(), w["sigma"].as_f64().unwrap());
            let d = (r.mu - mu).abs().max((r.sigma - sigma).abs());
            assert!(d <= 1e-9, "{scenario} team {} player {p}: ({}, {}) vs ({mu}, {sigma})", t + 1, r.mu, r.sigma);
            worst = worst.max(d);
        }
    }
    worst
}

/// The scenarios of openskill's generate.py, in its order. `limit_sigma=True` given to one call stays set on the
/// openskill model, so the "ties" and "weights" scenarios run with it too; "balance" uses a fresh model.
fn run_fixture(model: WengLinModel, name: &str) -> f64 {
    let data = fixture(name);
    let mut o = WengLinOptions::new(model);
    o.mu = data["model"]["mu"].as_f64().unwrap();
    o.sigma = data["model"]["sigma"].as_f64().unwrap();
    let r = o.rating();
    let mut worst: f64 = 0.0;

    let got = rate(&teams(r, &[1, 2]), None, None, None, &o).unwrap();
    worst = worst.max(check(&data, "normal", &got));

    let got = rate(&teams(r, &[1, 2, 1, 2]), Some(&[2.0, 1.0, 4.0, 3.0]), None, None, &o).unwrap();
    worst = worst.max(check(&data, "ranks", &got));

    let got = rate(&teams(r, &[1, 2]), None, Some(&[1.0, 2.0]), None, &o).unwrap();
    worst = worst.max(check(&data, "scores", &got));

    o.margin = 2.0;
    let w = weights(&[&[1.0, 2.0], &[2.0, 1.0], &[1.0, 2.0], &[3.0, 1.0], &[1.0, 2.0]]);
    let got = rate(&teams(r, &[2; 5]), None, Some(&[10.0, 5.0, 5.0, 2.0, 1.0]), Some(&w), &o).unwrap();
    worst = worst.max(check(&data, "margins", &got));
    o.margin = 0.0;

    o.limit_sigma = true;
    let got = rate(&teams(r, &[1, 2, 3]), Some(&[2.0, 1.0, 3.0]), None, None, &o).unwrap();
    worst = worst.max(check(&data, "limit_sigma", &got));

    let got = rate(&teams(r, &[1, 2, 3]), Some(&[1.0, 2.0, 1.0]), None, None, &o).unwrap();
    worst = worst.max(check(&data, "ties", &got));

    let w = weights(&[&[2.0, 0.0, 0.0], &[1.0, 2.0], &[0.0, 0.0, 1.0], &[0.0, 1.0]]);
    let got = rate(&teams(r, &[3, 2, 3, 2]), Some(&[2.0, 1.0, 4.0, 3.0]), None, Some(&w), &o).unwrap();
    worst = worst.max(check(&data, "weights", &got));

    let o =
        WengLinOptions { balance: true, ..WengLinOptions { mu: o.mu, sigma: o.sigma, ..WengLinOptions::new(model) } };
    let got = rate(&teams(r, &[2, 2]), Some(&[1.0, 2.0]), None, None, &o).unwrap();
    worst = worst.max(check(&data, "balance", &got));
    worst
}

#[test]
fn plackett_luce_reproduces_openskill_fixture() {
    let worst = run_fixture(WengLinModel::PlackettLuce, "plackettluce");
    eprintln!("plackett-luce: largest difference {worst:.1e}");
}

#[test]
fn bradley_terry_full_reproduces_openskill_fixture() {
    let worst = run_fixture(WengLinModel::BradleyTerryFull, "bradleyterryfull");
    eprintln!("bradley-terry-full: largest difference {worst:.1e}");
}

#[test]
fn bradley_terry_part_reproduces_openskill_fixture() {
    let worst = run_fixture(WengLinModel::BradleyTerryPart, "bradleyterrypart");
    eprintln!("bradley-terry-part: largest difference {worst:.1e}");
}

#[test]
fn thurstone_mosteller_full_reproduces_openskill_fixture() {
    let worst = run_fixture(WengLinModel::ThurstoneMostellerFull, "thurstonemostellerfull");
    eprintln!("thurstone-mosteller-full: largest difference {worst:.1e}");
}

#[test]
fn thurstone_mosteller_part_reproduces_openskill_fixture() {
    let worst = run_fixture(WengLinModel::ThurstoneMostellerPart, "thurstonemostellerpart");
    eprintln!("thurstone-mosteller-part: largest difference {worst:.1e}");
}

/// openskill 6.2.0, default PlackettLuce (values printed by the venv): r = rating(); rate([[r], [r]]) gives the
/// winner (27.635389493140497, 8.06590141354368) and the loser (22.364610506859503, 8.06590141354368);
/// predict_win([[a], [b]]) is [0.6592910279378554, 0.34070897206214457], predict_draw 0.22405409052637104.
#[test]
fn worked_example_one_on_one() {
    let o = WengLinOptions::default();
    let r = o.rating();
    assert_eq!(r, Rating::new(25.0, 25.0 / 3.0));
    assert!(r.ordinal().abs() < 1e-12);
    let got = rate(&[vec![r], vec![r]], None, None, None, &o).unwrap();
    let (a, b) = (got[0][0], got[1][0]);
    assert!((a.mu - 27.635_389_493_140_497).abs() < 1e-12, "{a:?}");
    assert!((b.mu - 22.364_610_506_859_503).abs() < 1e-12, "{b:?}");
    assert!((a.sigma - 8.065_901_413_543_68).abs() < 1e-12 && (b.sigma - a.sigma).abs() < 1e-15);
    let p = predict_win(&[vec![a], vec![b]], &o).unwrap();
    assert!((p[0] - 0.659_291_027_937_855_4).abs() < 1e-12 && (p[1] - 0.340_708_972_062_144_57).abs() < 1e-12);
    let draw = predict_draw(&[vec![a], vec![b]], &o).unwrap();
    assert!((draw - 0.224_054_090_526_371_04).abs() < 1e-12, "{draw}");
}

/// predict_win / predict_draw of three uneven teams against openskill 6.2.0 (values printed by the venv).
#[test]
fn predictions_match_openskill() {
    let o = WengLinOptions::default();
    let teams = vec![
        vec![Rating::new(30.0, 5.0)],
        vec![Rating::new(25.0, 8.0), Rating::new(20.0, 3.0)],
        vec![Rating::new(28.0, 2.0)],
    ];
    let want_win = [0.231_790_213_058_588_7, 0.616_555_429_356_687_1, 0.151_654_357_584_724_26];
    let win = predict_win(&teams, &o).unwrap();
    for (p, w) in win.iter().zip(want_win) {
        assert!((p - w).abs() < 1e-12, "{win:?}");
    }
    let draw = predict_draw(&teams, &o).unwrap();
    assert!((draw - 0.129_330_407_490_000_7).abs() < 1e-12, "{draw}");
    let pair = predict_win(&teams[..2], &o).unwrap();
    assert!((pair[0] - 0.096_453_861_583_236_04).abs() < 1e-12, "{pair:?}");
}

/// Fractional ranks: openskill's Plackett-Luce truncates ranks to integers (1.5 and 1.2 tie), the other models
/// only order them (1.2 beats 1.5). Values printed by openskill 6.2.0 for rate([[r], [r, r]], ranks=[1.5, 1.2]).
#[test]
fn fractional_ranks_follow_openskill() {
    let r = WengLinOptions::default().rating();
    let teams = [vec![r], vec![r, r]];
    let tie = [(26.481_187_696_410_927, 8.244_535_891_006_825), (23.518_812_303_589_073, 8.207_298_168_569_771)];
    let beaten = [(24.253_883_416_624_774, 8.244_535_891_006_825), (25.746_116_583_375_226, 8.207_298_168_569_771)];
    for (model, ranks, want) in [
        (WengLinModel::PlackettLuce, [1.5, 1.2], tie),
        (WengLinModel::PlackettLuce, [1.0, 1.0], tie),
        (WengLinModel::BradleyTerryFull, [1.5, 1.2], beaten),
        (WengLinModel::BradleyTerryFull, [1.0, 1.0], tie),
    ] {
        let got = rate(&teams, Some(&ranks), None, None, &WengLinOptions::new(model)).unwrap();
        for (team, (mu, sigma)) in got.iter().zip(want) {
            for p in team {
                assert!((p.mu - mu).abs() < 1e-12 && (p.sigma - sigma).abs() < 1e-12, "{model:?} {ranks:?}: {got:?}");
            }
        }
    }
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let o = WengLinOptions::default();
    let r = o.rating();
    let code = |e: arbiter::Error| e.code();
    assert_eq!(code(rate(&[], None, None, None, &o).unwrap_err()), "INVALID_OPTION");
    assert_eq!(code(rate(&[vec![r]], None, None, None, &o).unwrap_err()), "INVALID_OPTION");
    assert!(rate(&[vec![r], vec![]], None, None, None, &o).is_err());
    assert!(rate(&[vec![r], vec![r]], Some(&[1.0]), None, None, &o).is_err());
    assert!(rate(&[vec![r], vec![r]], Some(&[1.0, f64::NAN]), None, None, &o).is_err());
    assert!(rate(&[vec![r], vec![r]], None, Some(&[1.0, f64::INFINITY]), None, &o).is_err());
    assert!(rate(&[vec![r], vec![r]], Some(&[1.0, 2.0]), Some(&[1.0, 2.0]), None, &o).is_err());
    assert!(rate(&[vec![r], vec![r]], None, None, Some(&[vec![1.0]]), &o).is_err());
    assert!(rate(&[vec![r], vec![r]], None, None, Some(&[vec![1.0], vec![1.0, 2.0]]), &o).is_err());
    assert!(rate(&[vec![r], vec![Rating::new(25.0, f64::NAN)]], None, None, None, &o).is_err());
    assert!(rate(&[vec![r], vec![Rating::new(25.0, -1.0)]], None, None, None, &o).is_err());
    assert!(rate(&[vec![r], vec![Rating::new(f64::INFINITY, 1.0)]], None, None, None, &o).is_err());
    // σ = 0 with τ = 0 has no defined update.
    let still = WengLinOptions { tau: 0.0, ..WengLinOptions::default() };
    let zero = Rating::new(25.0, 0.0);
    assert!(rate(&[vec![zero], vec![r]], None, None, None, &still).is_err());
    // Weights without bounds must be > 0 (a loss divides by the weight).
    let raw = WengLinOptions { weight_bounds: None, ..WengLinOptions::default() };
    assert!(rate(&[vec![r], vec![r]], None, None, Some(&[vec![0.0], vec![1.0]]), &raw).is_err());
    for bad in [
        WengLinOptions { sigma: 0.0, ..WengLinOptions::default() },
        WengLinOptions { beta: f64::NAN, ..WengLinOptions::default() },
        WengLinOptions { kappa: -1.0, ..WengLinOptions::default() },
        WengLinOptions { tau: f64::INFINITY, ..WengLinOptions::default() },
        WengLinOptions { margin: -1.0, ..WengLinOptions::default() },
        WengLinOptions { weight_bounds: Some((2.0, 1.0)), ..WengLinOptions::default() },
    ] {
        assert_eq!(code(rate(&[vec![r], vec![r]], None, None, None, &bad).unwrap_err()), "INVALID_OPTION");
        assert!(predict_win(&[vec![r], vec![r]], &bad).is_err());
        assert!(predict_draw(&[vec![r], vec![r]], &bad).is_err());
    }
    assert!(predict_win(&[vec![r]], &o).is_err());
    assert!(predict_draw(&[vec![r], vec![]], &o).is_err());
    assert_eq!(code(rate_battles(&Battles::new(), &o).unwrap_err()), "EMPTY");
}

/// Extreme but finite ratings stay finite in every model: the logistic and Plackett-Luce terms saturate, the
/// Thurstone-Mosteller ones take openskill's asymptotic branches.
#[test]
fn extreme_ratings_stay_finite() {
    for (model, _) in MODELS {
        let o = WengLinOptions::new(model);
        let teams = vec![
            vec![Rating::new(1e4, 1.0)],
            vec![Rating::new(-1e4, 1.0)],
            vec![Rating::new(0.0, 1e-3), Rating::new(1e4, 50.0)],
        ];
        for ranks in [[1.0, 2.0, 3.0], [3.0, 2.0, 1.0], [1.0, 1.0, 1.0]] {
            let got = rate(&teams, Some(&ranks), None, None, &o).unwrap();
            assert!(got.iter().flatten().all(|r| r.mu.is_finite() && r.sigma.is_finite() && r.sigma >= 0.0));
        }
        let p = predict_win(&teams, &o).unwrap();
        assert!(p.iter().all(|x| x.is_finite()));
        assert!(predict_draw(&teams, &o).unwrap().is_finite());
    }
}

/// An undefeated model keeps rising, a winless one falling; both stay finite; a model without battles keeps the
/// initial rating; ties are draws; `count` repeats a record.
#[test]
fn rate_battles_small_arena() {
    let mut b = Battles::new();
    b.push("a", "b", Outcome::A, 3).unwrap();
    b.push("b", "c", Outcome::Tie, 1).unwrap();
    b.push("c", "a", Outcome::BothBad, 0).unwrap();
    let o = WengLinOptions::default();
    let fit = rate_battles(&b, &o).unwrap();
    assert_eq!(fit.matches, 4);
    // Replaying by hand with `rate` gives the same numbers.
    let (mut a, mut bb, mut c) = (o.rating(), o.rating(), o.rating());
    for _ in 0..3 {
        let t = rate(&[vec![a], vec![bb]], Some(&[1.0, 2.0]), None, None, &o).unwrap();
        (a, bb) = (t[0][0], t[1][0]);
    }
    let t = rate(&[vec![bb], vec![c]], Some(&[1.0, 1.0]), None, None, &o).unwrap();
    (bb, c) = (t[0][0], t[1][0]);
    assert_eq!(fit.ratings, vec![a, bb, c]);
    assert!(a.mu > 25.0 && bb.mu < 25.0);
}

fn llmfao_golden() -> Value {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/openskill-llmfao.json");
    serde_json::from_str(&common::read(&path)).expect("openskill golden JSON")
}

/// Every model over the 8,931 LLMFAO crowd votes equals openskill.py run over the same votes in the same order.
#[test]
fn rate_battles_matches_openskill_on_llmfao() {
    let battles = common::llmfao("crowd-comparisons.csv");
    let golden = llmfao_golden();
    assert_eq!(golden["matches"].as_u64(), Some(8931));
    for (model, _) in MODELS {
        let key = serde_json::to_value(model).unwrap();
        let key = key.as_str().unwrap();
        let fit = rate_battles(&battles, &WengLinOptions::new(model)).unwrap();
        assert_eq!(fit.matches, 8931);
        assert_eq!(fit.ratings.len(), 59);
        let want = golden["models"][key]["ratings"].as_object().unwrap();
        assert_eq!(want.len(), 59);
        let mut worst: f64 = 0.0;
        for (id, name) in battles.models().iter().enumerate() {
            let r = fit.ratings[id];
            assert!(r.mu.is_finite() && r.sigma.is_finite() && r.sigma > 0.0);
            let w = &want[name];
            for (ours, theirs) in [(r.mu, &w["mu"]), (r.sigma, &w["sigma"]), (r.ordinal(), &w["ordinal"])] {
                let d = (ours - theirs.as_f64().unwrap()).abs();
                assert!(d <= 1e-9, "{key} {name}: {ours} vs {theirs}");
                worst = worst.max(d);
            }
        }
        eprintln!("{key}: largest difference to openskill {worst:.1e}");
    }
}

#[test]
fn report_wenglin_llmfao() {
    let battles = common::llmfao("crowd-comparisons.csv");
    let golden = llmfao_golden();
    for (model, _) in MODELS {
        let key = serde_json::to_value(model).unwrap();
        let key = key.as_str().unwrap().to_owned();
        let start = std::time::Instant::now();
        let fit = rate_battles(&battles, &WengLinOptions::new(model)).unwrap();
        let elapsed = start.elapsed();
        let python = golden["models"][&key]["seconds"].as_f64().unwrap_or(f64::NAN);
        eprintln!(
            "{key}: {} matches in {:.2} ms (openskill.py {:.0} ms)",
            fit.matches,
            elapsed.as_secs_f64() * 1e3,
            python * 1e3
        );
        let mut order: Vec<usize> = (0..fit.ratings.len()).collect();
        order.sort_by(|&a, &b| fit.ratings[b].ordinal().total_cmp(&fit.ratings[a].ordinal()));
        for &m in order.iter().take(5) {
            let r = fit.ratings[m];
            eprintln!(
                "  {:<28} ordinal {:>8.4}  mu {:>8.4}  sigma {:.4}",
                battles.models()[m],
                r.ordinal(),
                r.mu,
                r.sigma
            );
        }
    }
}
