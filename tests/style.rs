//! Style control (contextual Bradley-Terry) against FastChat and arena-rank on LLMFAO crowd votes, with LMArena's
//! style features counted from the compared responses. Goldens: tests/golden/llmfao-style.json, made by
//! scripts/golden/make_style.py (which counts the features itself with tiktoken and FastChat's Markdown counter).

mod common;

use arbiter::battles::style;
use arbiter::rank::{Coefficient, Convention};
use arbiter::{rank, Battles, Ci, Leaderboard, ParseOptions, RankOptions};
use serde_json::Value;

fn battles() -> Battles {
    let options = ParseOptions { style: true, ..ParseOptions::default() };
    Battles::parse(&common::llmfao_style_jsonl(), &options).expect("LLMFAO with responses parses")
}

fn rating(board: &Leaderboard, model: &str) -> f64 {
    board.models.iter().find(|m| m.model == model).unwrap_or_else(|| panic!("{model} missing")).rating
}

fn each(map: &Value) -> impl Iterator<Item = (&str, f64)> {
    map.as_object().unwrap().iter().map(|(k, v)| (k.as_str(), v.as_f64().unwrap()))
}

fn compare(board: &Leaderboard, golden: &Value, elo_tol: f64, coef_tol: f64) -> (f64, f64) {
    let mut worst = (0.0_f64, 0.0_f64);
    for (model, want) in each(&golden["ratings"]) {
        let d = (rating(board, model) - want).abs();
        worst.0 = worst.0.max(d);
        assert!(d <= elo_tol, "{model}: ours {} vs {want}", rating(board, model));
    }
    let coefficients: Vec<f64> =
        golden["coefficients"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert_eq!(board.coefficients.len(), coefficients.len());
    for (c, want) in board.coefficients.iter().zip(coefficients) {
        let d = (c.value - want).abs();
        worst.1 = worst.1.max(d);
        assert!(d <= coef_tol, "{}: ours {} vs {want}", c.name, c.value);
    }
    worst
}

#[test]
fn style_counts_match_tiktoken_and_fastchat() {
    let golden = common::style_golden();
    let texts = common::llmfao_texts();
    for ((prompt, model), text) in &texts {
        let want = &golden["counts"][format!("{prompt}:{model}")];
        let got = style::counts([text.as_str()]);
        let expect = ["tokens", "header_count", "list_count", "bold_count"].map(|k| want[k].as_f64().unwrap());
        assert_eq!(got, expect, "prompt {prompt} model {model}");
    }
}

#[test]
fn fastchat_convention_matches_fastchat_to_1e_4_elo() {
    let golden = common::style_golden();
    let options = RankOptions { style: Some(Convention::FastChat), ..RankOptions::default() };
    let board = rank(&battles(), &options).unwrap();
    let names: Vec<&str> = board.coefficients.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, style::STYLE_FEATURES);
    let (elo, coef) = compare(&board, &golden["fastchat_converged"], 1e-4, 1e-6);
    eprintln!("FastChat (converged): max |ΔElo| {elo:.1e}, max |Δβ| {coef:.1e}");
    // FastChat's own defaults stop L-BFGS-B early; the distance is reported, not asserted tight.
    let (elo, coef) = compare(&board, &golden["fastchat"], 0.1, 1e-3);
    eprintln!("FastChat (its default stopping rule): max |ΔElo| {elo:.1e}, max |Δβ| {coef:.1e}");
}

#[test]
fn arena_rank_convention_matches_contextual_bradley_terry() {
    let golden = common::style_golden();
    for (name, reweighted) in [("arena_rank", false), ("arena_rank_reweighted", true)] {
        let mut options =
            RankOptions { style: Some(Convention::ArenaRank), ci: Ci::Sandwich, ..RankOptions::default() };
        options.rows.reweighted = reweighted;
        options.rows.min_pair_count = 1.0;
        let board = rank(&battles(), &options).unwrap();
        let (elo, coef) = compare(&board, &golden[name], 1e-4, 1e-6);
        eprintln!("{name}: max |ΔElo| {elo:.1e}, max |Δβ| {coef:.1e}");
        let mut worst: f64 = 0.0;
        for bound in ["lower", "upper"] {
            for (model, want) in each(&golden[name][bound]) {
                let m = board.models.iter().find(|m| m.model == model).unwrap();
                let got = if bound == "lower" { m.lower } else { m.upper };
                worst = worst.max((got - want).abs());
                assert!((got - want).abs() <= 1e-3, "{name} {model} {bound}: {got} vs {want}");
            }
        }
        eprintln!("{name}: sandwich bounds within {worst:.1e} Elo");
    }
}

#[test]
fn style_changes_the_leaderboard_and_coefficients_have_intervals() {
    let b = battles();
    let plain = rank(&b, &RankOptions::default()).unwrap();
    let styled =
        rank(&b, &RankOptions { style: Some(Convention::FastChat), ci: Ci::Sandwich, ..RankOptions::default() })
            .unwrap();
    assert!(plain.coefficients.is_empty());
    let moved = plain.models.iter().filter(|m| (rating(&styled, &m.model) - m.rating).abs() > 1.0).count();
    assert!(moved > 10, "style control moved only {moved} models");
    for Coefficient { name, value, lower, upper, variance } in &styled.coefficients {
        assert!(lower < value && value < upper && *variance > 0.0, "{name}");
    }
    // Longer answers win more often on LLMFAO too.
    assert!(styled.coefficients[0].value > 0.0);
}

fn parse(text: &str) -> arbiter::Result<Battles> {
    Battles::parse(text, &ParseOptions { style: true, ..ParseOptions::default() })
}

#[test]
fn covariate_sources_and_their_errors() {
    // LMArena's conv_metadata: numbers or objects of numbers (summed).
    let meta = r#"{"model_a":"x","model_b":"y","winner":"model_a","conv_metadata":{"sum_assistant_a_tokens":30,
        "sum_assistant_b_tokens":10,"header_count_a":{"h1":1,"h2":1},"header_count_b":{"h1":0},
        "list_count_a":{"ordered":0,"unordered":3},"list_count_b":{"ordered":1},"bold_count_a":{"**":0,"__":0},
        "bold_count_b":{"**":2,"__":0}}}"#
        .replace('\n', " ");
    let b = parse(&meta).unwrap();
    assert_eq!(b.covariate_names(), style::STYLE_FEATURES);
    let want = [20.0 / 41.0, 2.0 / 3.0, 2.0 / 5.0, -2.0 / 3.0];
    for (got, want) in b.covariates(0).unwrap().iter().zip(want) {
        assert!((f64::from(*got) - want).abs() < 1e-7);
    }
    // Conversations: only the assistant turns count.
    let conv = r#"{"model_a":"x","model_b":"y","winner":"tie","conversation_a":[{"role":"user","content":"- q\n- q"},
        {"role":"assistant","content":"- one\n- two"}],"conversation_b":[{"role":"assistant","content":"none"}]}"#
        .replace('\n', " ")
        .replace("- q - q", "- q\\n- q")
        .replace("- one - two", "- one\\n- two");
    let b = parse(&conv).unwrap();
    assert!((f64::from(b.covariates(0).unwrap()[2]) - 2.0 / 3.0).abs() < 1e-7);
    // Given per-side features (ratio) and per-battle features (as is).
    let given = r#"{"model_a":"x","model_b":"y","winner":"model_b","features_a":{"len":3},"features_b":{"len":1},"features":{"correct":-1.5}}"#;
    let b = parse(given).unwrap();
    assert_eq!(b.covariate_names(), ["len", "correct"]);
    assert_eq!(b.covariates(0).unwrap(), [0.4, -1.5]);
    // The JSONL writer keeps them, in order, as per-battle `features`.
    let again = parse(&b.to_jsonl()).unwrap();
    assert_eq!(again.covariate_names(), ["len", "correct"]);
    assert_eq!(again.covariates(0).unwrap(), [0.4, -1.5]);

    let code = |text: &str| parse(text).unwrap_err().code();
    let err = |text: &str| parse(text).unwrap_err().to_string();
    assert_eq!(code(r#"{"model_a":"x","model_b":"y","winner":"tie","response_a":"hi"}"#), "MISSING_FIELD");
    assert!(err(r#"{"model_a":"x","model_b":"y","winner":"tie","response_a":"hi"}"#).contains("response_b"));
    assert_eq!(code(r#"{"model_a":"x","model_b":"y","winner":"tie"}"#), "MISSING_FIELD");
    let bad_ratio = r#"{"model_a":"x","model_b":"y","winner":"tie","features_a":{"f":-1},"features_b":{"f":0}}"#;
    assert_eq!(code(bad_ratio), "INVALID_NUMBER");
    let not_number = r#"{"model_a":"x","model_b":"y","winner":"tie","features":{"f":"big"}}"#;
    assert!(err(not_number).contains("features.f"), "{}", err(not_number));
    let two = format!("{given}\n{}", r#"{"model_a":"x","model_b":"y","winner":"tie","features":{"other":1}}"#);
    let e = parse(&two).unwrap_err();
    assert_eq!((e.code(), e.row()), ("PARSE", Some(2)));
    let csv =
        Battles::parse("model_a,model_b,winner\nx,y,tie\n", &ParseOptions { style: true, ..ParseOptions::default() });
    assert_eq!(csv.unwrap_err().code(), "INVALID_OPTION");
    // Style control on battles without covariates is an option error, not a silent plain fit.
    let plain = Battles::parse(r#"{"model_a":"x","model_b":"y","winner":"tie"}"#, &ParseOptions::default()).unwrap();
    let e = rank(&plain, &RankOptions { style: Some(Convention::FastChat), ..RankOptions::default() }).unwrap_err();
    assert_eq!(e.code(), "INVALID_OPTION");
}

/// Uniform numbers in [0, 1) from Philox (seeded, reproducible).
fn uniform(seed: u64, n: usize) -> Vec<f64> {
    let mut out = vec![0u32; n];
    arbiter::rng::Draws::new(seed, 0).fill_below(u32::MAX, &mut out);
    out.into_iter().map(|x| f64::from(x) / f64::from(u32::MAX)).collect()
}

fn synthetic(n: usize, theta: &[f64], alpha: &[f64], seed: u64) -> String {
    let u = uniform(seed, n * (4 + alpha.len()));
    let mut text = String::new();
    let m = theta.len();
    for i in 0..n {
        let r = &u[i * (4 + alpha.len())..];
        let a = (r[0] * m as f64) as usize;
        let b = (a + 1 + (r[1] * (m - 1) as f64) as usize) % m;
        // Roughly normal covariates: sum of two uniforms, centred and scaled to unit variance.
        let phi: Vec<f64> = (0..alpha.len()).map(|j| (r[3 + j] + r[2] - 1.0) * 6f64.sqrt()).collect();
        let s = theta[a] - theta[b] + alpha.iter().zip(&phi).map(|(x, y)| x * y).sum::<f64>();
        let winner = if r[3 + alpha.len()] < 1.0 / (1.0 + (-s).exp()) { "model_a" } else { "model_b" };
        let features: serde_json::Map<String, Value> =
            phi.iter().enumerate().map(|(j, x)| (format!("p{j}"), (*x).into())).collect();
        let line = serde_json::json!({"model_a": format!("m{a}"), "model_b": format!("m{b}"), "winner": winner,
            "features": features});
        text.push_str(&line.to_string());
        text.push('\n');
    }
    text
}

#[test]
fn property_weights_are_recovered() {
    // spec 1.12 (Dissecting Human and LLM Preferences): a known α over property differences is recovered,
    // ‖α̂ − α‖ < 0.1 with 20k battles. The covariates share one uniform, so they are correlated.
    let alpha = [0.8, -0.5, 0.3];
    let theta = [0.4, 0.0, -0.4, 0.2, -0.2];
    let b = parse(&synthetic(20_000, &theta, &alpha, 11)).unwrap();
    let board = rank(&b, &RankOptions { style: Some(Convention::FastChat), ..RankOptions::default() }).unwrap();
    // Coefficients are per standard deviation of the covariate: undo the standardisation to compare with α.
    let sd: Vec<f64> = (0..alpha.len())
        .map(|j| {
            let xs: Vec<f64> = (0..b.len()).map(|i| f64::from(b.covariates(i).unwrap()[j])).collect();
            let mean = xs.iter().sum::<f64>() / xs.len() as f64;
            (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / xs.len() as f64).sqrt()
        })
        .collect();
    let err: f64 = board.coefficients.iter().zip(alpha).zip(&sd).map(|((c, a), s)| (c.value / s - a).powi(2)).sum();
    assert!(err.sqrt() < 0.1, "‖α̂ − α‖ = {}", err.sqrt());
}

#[test]
fn longer_always_wins_is_style_not_skill() {
    // spec 1.5: when longer answers win (here with probability σ(4d)) and length is independent of the model,
    // β_length > 0 and the ratings are about equal.
    let u = uniform(5, 5 * 4000);
    let mut text = String::new();
    for r in u.chunks(5) {
        let a = (r[0] * 4.0) as usize;
        let b = (a + 1 + (r[1] * 3.0) as usize) % 4;
        let (la, lb) = ((r[2] * 1000.0) as u32, (r[3] * 1000.0) as u32);
        let d = (f64::from(la) - f64::from(lb)) / f64::from(la + lb + 1);
        let winner = if r[4] < 1.0 / (1.0 + (-4.0 * d).exp()) { "model_a" } else { "model_b" };
        text.push_str(&format!(
            "{{\"model_a\":\"m{a}\",\"model_b\":\"m{b}\",\"winner\":\"{winner}\",\"features_a\":{{\"length\":{la}}},\"features_b\":{{\"length\":{lb}}}}}\n"
        ));
    }
    let board =
        rank(&parse(&text).unwrap(), &RankOptions { style: Some(Convention::FastChat), ..RankOptions::default() })
            .unwrap();
    assert!(board.coefficients[0].value > 1.0, "{:?}", board.coefficients);
    let spread = board.models[0].rating - board.models[3].rating;
    assert!(spread < 30.0, "ratings spread {spread} Elo");
}

#[test]
fn seeded_style_bootstrap_is_reproducible_and_covers_the_estimate() {
    let b = battles();
    let options = RankOptions {
        style: Some(Convention::FastChat),
        ci: Ci::Bootstrap,
        rounds: 40,
        seed: 3,
        ..RankOptions::default()
    };
    let one = rank(&b, &options).unwrap();
    let mut chunked = arbiter::Ranking::new(&b, &options).unwrap();
    while chunked.remaining() > 0 {
        chunked.run_rounds(7);
    }
    assert_eq!(one, chunked.leaderboard());
    for c in &one.coefficients {
        assert!(c.lower <= c.value && c.value <= c.upper && c.variance > 0.0, "{c:?}");
    }
    let covered = one.models.iter().filter(|m| m.lower <= m.rating && m.rating <= m.upper).count();
    assert!(covered >= one.models.len() - 2, "{covered} of {}", one.models.len());
    // The sandwich and the bootstrap agree on the size of the coefficients' uncertainty.
    let sandwich = rank(&b, &RankOptions { ci: Ci::Sandwich, ..options.clone() }).unwrap();
    for (p, q) in one.coefficients.iter().zip(&sandwich.coefficients) {
        let ratio = (p.upper - p.lower) / (q.upper - q.lower);
        assert!((0.6..1.6).contains(&ratio), "{}: bootstrap/sandwich width {ratio}", p.name);
    }
}

#[test]
fn chunked_appends_equal_one_parse_and_fail_atomically() {
    let text = common::llmfao_style_jsonl();
    let options = ParseOptions { style: true, ..ParseOptions::default() };
    let whole = Battles::parse(&text, &options).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut chunked = Battles::parse(&(lines[..1000].join("\n") + "\n"), &options).unwrap();
    for part in lines[1000..].chunks(2999) {
        chunked.append(&(part.join("\n") + "\n"), &options).unwrap();
    }
    assert_eq!(chunked.len(), whole.len());
    assert_eq!(chunked.to_jsonl(), whole.to_jsonl());
    // A bad row in a chunk: its global row number, and nothing of that chunk kept (not even a new model).
    let bad = "{\"model_a\":\"new model\",\"model_b\":\"GPT 4\",\"winner\":\"model_a\",\"features\":{\"x\":1}}\n{\"model_a\":\"x\"}\n";
    let before = chunked.to_jsonl();
    let models = chunked.models().len();
    let e = chunked.append(bad, &options).unwrap_err();
    assert_eq!(e.row(), Some(whole.len() + 1), "{e}");
    assert_eq!(chunked.to_jsonl(), before);
    assert_eq!(chunked.models().len(), models);
    assert_eq!(rank(&chunked, &RankOptions::default()).unwrap(), rank(&whole, &RankOptions::default()).unwrap());
}
