//! Exactness against the reference implementations on real data (LLMFAO crowd votes, 8,931 battles, 59 models).
//! Goldens: tests/golden/llmfao.json, made by scripts/golden/make_goldens.py (arena-rank, evalica, choix in a venv).

mod common;

use arbiter::{rank, Ci, Method, RankOptions};
use serde_json::Value;

fn board(options: &RankOptions) -> arbiter::Leaderboard {
    rank(&common::llmfao_crowd(), options).unwrap()
}

fn get<'a>(board: &'a arbiter::Leaderboard, model: &str) -> &'a arbiter::rank::ModelRating {
    board.models.iter().find(|m| m.model == model).unwrap_or_else(|| panic!("{model} missing"))
}

fn each(map: &Value) -> impl Iterator<Item = (&str, f64)> {
    map.as_object().unwrap().iter().map(|(k, v)| (k.as_str(), v.as_f64().unwrap()))
}

#[test]
fn bradley_terry_matches_arena_rank_and_evalica_to_1e_6_elo() {
    let golden = common::golden();
    let ours = board(&RankOptions::default());
    let mut worst: f64 = 0.0;
    for peer in ["arena_rank_bt", "evalica_bt"] {
        for (model, rating) in each(&golden[peer]["ratings"]) {
            let d = (get(&ours, model).rating - rating).abs();
            worst = worst.max(d);
            assert!(d <= 1e-6, "{peer} {model}: ours {} vs {rating}", get(&ours, model).rating);
        }
    }
    eprintln!("largest difference to a peer: {worst:.2e} Elo");
    assert_eq!(ours.models[0].model, "GPT 4");
}

#[test]
fn sandwich_matches_arena_rank_to_1e_3() {
    let golden = &common::golden()["arena_rank_bt"];
    let ours = board(&RankOptions { ci: Ci::Sandwich, ..RankOptions::default() });
    for (key, pick) in [("rating_lower", 0), ("rating_upper", 1)] {
        for (model, bound) in each(&golden[key]) {
            let m = get(&ours, model);
            let value = if pick == 0 { m.lower } else { m.upper };
            assert!((value - bound).abs() <= 1e-3, "{key} {model}: ours {value} vs {bound}");
        }
    }
    for (model, variance) in each(&golden["variances"]) {
        let v = get(&ours, model).variance;
        assert!((v - variance).abs() <= 1e-6 * variance.max(1.0), "variance {model}: {v} vs {variance}");
    }
}

#[test]
fn online_elo_matches_evalica_to_1e_9() {
    let ours = board(&RankOptions { method: Method::Elo, ..RankOptions::default() });
    let csv = common::read(&common::shared("llmfao/evalica-llmfao-golden.csv"));
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let mut n = 0;
    for record in reader.records() {
        let record = record.unwrap();
        if &record[0] != "elo" {
            continue;
        }
        let expected: f64 = record[2].parse().unwrap();
        let got = get(&ours, &record[1]).rating;
        assert!((got - expected).abs() <= 1e-9, "{}: {got} vs {expected}", &record[1]);
        n += 1;
    }
    assert_eq!(n, 59);
}

#[test]
fn bootstrap_width_is_within_5_percent_of_the_peers() {
    let golden = common::golden();
    let ours = board(&RankOptions { ci: Ci::Bootstrap, rounds: 1000, seed: 42, ..RankOptions::default() });
    let width = ours.models.iter().map(|m| m.upper - m.lower).sum::<f64>() / ours.models.len() as f64;
    for (peer, b) in golden["bootstrap"].as_object().unwrap() {
        let theirs = b["mean_width"].as_f64().unwrap();
        eprintln!("mean 95% width: ours {width:.2}, {peer} {theirs:.2}");
        assert!((width / theirs - 1.0).abs() <= 0.05, "{peer}: ours {width} vs {theirs}");
    }
}

#[test]
fn seeded_bootstrap_reproduces_the_pinned_native_result() {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/arbiter-bootstrap.json");
    let pinned: Value = serde_json::from_str(&common::read(&path)).unwrap();
    let options = RankOptions { ci: Ci::Bootstrap, rounds: 1000, seed: 42, ..RankOptions::default() };
    let (a, b) = (board(&options), board(&options));
    assert_eq!(a, b, "repeated runs are identical");
    for m in pinned["models"].as_array().unwrap() {
        let ours = get(&a, m["model"].as_str().unwrap());
        for (key, value) in [("lower", ours.lower), ("upper", ours.upper)] {
            assert!((value - m[key].as_f64().unwrap()).abs() <= 1e-9, "{key} {}", ours.model);
        }
    }
}

#[test]
fn choix_pairwise_cases_match_ml_est() {
    for case in 1..=2 {
        let path = common::shared(&format!("fixtures/choix/testcase-pairwise-{case}.json"));
        let fixture: Value = serde_json::from_str(&common::read(&path)).unwrap();
        let n = fixture["n_items"].as_u64().unwrap() as usize;
        let mut battles = arbiter::Battles::new();
        let names: Vec<String> = (0..n).map(|i| format!("item{i}")).collect();
        for pair in fixture["data"].as_array().unwrap() {
            let (w, l) = (pair[0].as_u64().unwrap() as usize, pair[1].as_u64().unwrap() as usize);
            battles.push(&names[w], &names[l], arbiter::Outcome::A, 1).unwrap();
        }
        // Natural scale (scale 1, base e), centred at 0: choix's log-strengths.
        let options = RankOptions { scale: 1.0, base: std::f64::consts::E, init: 0.0, ..RankOptions::default() };
        let ours = rank(&battles, &options).unwrap();
        for (i, expected) in fixture["ml_est"].as_array().unwrap().iter().enumerate() {
            let got = get(&ours, &names[i]).rating;
            let expected = expected.as_f64().unwrap();
            assert!((got - expected).abs() <= 1e-6, "case {case} item {i}: {got} vs {expected}");
        }
    }
}

#[test]
fn reweighted_bradley_terry_and_sandwich_match_arena_rank() {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/llmfao-reweighted.json");
    let golden: Value = serde_json::from_str(&common::read(&path)).unwrap();
    let mut options = RankOptions { ci: Ci::Sandwich, ..RankOptions::default() };
    options.rows.reweighted = true;
    options.rows.min_pair_count = golden["min_pair_count"].as_f64().unwrap();
    let ours = board(&options);
    for (model, rating) in each(&golden["ratings"]) {
        let m = get(&ours, model);
        assert!((m.rating - rating).abs() <= 1e-6, "{model}: {} vs {rating}", m.rating);
    }
    for (model, lower) in each(&golden["rating_lower"]) {
        assert!((get(&ours, model).lower - lower).abs() <= 1e-3, "lower {model}");
    }
    for (model, upper) in each(&golden["rating_upper"]) {
        assert!((get(&ours, model).upper - upper).abs() <= 1e-3, "upper {model}");
    }
}

#[test]
fn weights_and_counts_are_consistent() {
    // A counts table equals the expanded battles; uniform weights leave ratings unchanged.
    let battles = common::llmfao_crowd();
    let mut counts = String::from("model_a,model_b,winner,count\n");
    let mut weighted = String::from("model_a,model_b,winner,weight\n");
    for i in 0..battles.len() {
        let (a, b, o, _) = battles.record(i);
        let (a, b) = (&battles.models()[a], &battles.models()[b]);
        counts.push_str(&format!("\"{a}\",\"{b}\",{},2\n", o.label()));
        weighted.push_str(&format!("\"{a}\",\"{b}\",{},3.5\n", o.label()));
    }
    let base = rank(&battles, &RankOptions::default()).unwrap();
    let mut o = arbiter::ParseOptions::default();
    o.format = arbiter::Format::Counts;
    let doubled = rank(&arbiter::Battles::parse(&counts, &o).unwrap(), &RankOptions::default()).unwrap();
    let w =
        rank(&arbiter::Battles::parse(&weighted, &arbiter::ParseOptions::default()).unwrap(), &RankOptions::default())
            .unwrap();
    for m in &base.models {
        assert!((get(&doubled, &m.model).rating - m.rating).abs() < 1e-6);
        assert!((get(&w, &m.model).rating - m.rating).abs() < 1e-6);
        assert_eq!(get(&doubled, &m.model).battles, 2 * m.battles);
    }
}
