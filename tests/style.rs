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
