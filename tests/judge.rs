//! Judge evaluation (spec 3): rank correlations, caption-level agreement, CapArena-Auto net win scores.

mod common;

use arbiter::judge::{agreement, kendall, net_win_score, spearman};
use arbiter::{Battles, Outcome, ParseOptions, RankOptions};

fn close(x: f64, y: f64, tol: f64) -> bool {
    (x - y).abs() <= tol
}

fn csv(text: &str) -> Battles {
    Battles::parse(text, &ParseOptions::default()).expect("test CSV parses")
}

#[test]
fn swapping_two_adjacent_in_five_gives_spearman_09_kendall_08() {
    // Spec 3 [V-run].
    let x = [1.0, 2.0, 3.0, 4.0, 5.0];
    let y = [1.0, 2.0, 4.0, 3.0, 5.0];
    assert!(close(spearman(&x, &y).unwrap(), 0.9, 1e-12));
    assert!(close(kendall(&x, &y).unwrap(), 0.8, 1e-12));
    assert_eq!(spearman(&x, &x).unwrap(), 1.0);
    assert_eq!(kendall(&x, &x).unwrap(), 1.0);
    let reversed = [5.0, 4.0, 3.0, 2.0, 1.0];
    assert_eq!(spearman(&x, &reversed).unwrap(), -1.0);
    assert_eq!(kendall(&x, &reversed).unwrap(), -1.0);
}

#[test]
fn correlations_with_ties_match_scipy() {
    // .venv/bin/python -c "from scipy.stats import spearmanr, kendalltau; x=[1,2,2,3,5,5,5,8]; y=[2,1,3,3,4,6,6,7];
    //   print(repr(spearmanr(x,y).statistic), repr(kendalltau(x,y).statistic))"
    let x = [1.0, 2.0, 2.0, 3.0, 5.0, 5.0, 5.0, 8.0];
    let y = [2.0, 1.0, 3.0, 3.0, 4.0, 6.0, 6.0, 7.0];
    assert!(close(spearman(&x, &y).unwrap(), 0.925_626_545_313_669_2, 1e-14));
    assert!(close(kendall(&x, &y).unwrap(), 0.840_672_807_476_707_6, 1e-14));
    // x=[3.1,-0.4,2.2,2.2,0.0,7.5,1.0,-0.4,4.4,2.2]; y=[1,1,2,3,0,9,1,0,5,2] (same script)
    let x = [3.1, -0.4, 2.2, 2.2, 0.0, 7.5, 1.0, -0.4, 4.4, 2.2];
    let y = [1.0, 1.0, 2.0, 3.0, 0.0, 9.0, 1.0, 0.0, 5.0, 2.0];
    assert!(close(spearman(&x, &y).unwrap(), 0.818_185_838_326_315_6, 1e-14));
    assert!(close(kendall(&x, &y).unwrap(), 0.716_103_957_570_952_5, 1e-14));
}

#[test]
fn correlations_reject_what_is_undefined() {
    for (x, y) in [
        (vec![1.0, 2.0], vec![1.0]),
        (vec![1.0], vec![1.0]),
        (vec![], vec![]),
        (vec![1.0, f64::NAN, 3.0], vec![1.0, 2.0, 3.0]),
        (vec![1.0, 2.0, 3.0], vec![1.0, f64::INFINITY, 3.0]),
        (vec![2.0, 2.0, 2.0], vec![1.0, 2.0, 3.0]),
    ] {
        assert_eq!(spearman(&x, &y).unwrap_err().code(), "INVALID_OPTION");
        assert_eq!(kendall(&x, &y).unwrap_err().code(), "INVALID_OPTION");
    }
}

/// Human votes: item 1 three times on (a, b), once mirrored; item 2 on (b, c) and once on another pair.
const HUMAN: &str = "id,model_a,model_b,winner
1,a,b,model_a
1,b,a,model_b
1,a,b,tie
2,b,c,model_a
2,a,c,model_a
";

/// Judge verdicts: item 1 as the humans, item 2 mirrored (and a tie), item 3 that no human saw.
const JUDGE: &str = "id,model_a,model_b,winner
1,a,b,model_a
2,c,b,model_b
2,b,c,tie
3,a,c,model_a
";

#[test]
fn agreement_aligns_mirrored_sides_and_counts_ties() {
    let result = agreement(&csv(HUMAN), &csv(JUDGE), &RankOptions::default()).unwrap();
    // Judge "a" on item 1 vs humans a, a (mirrored), tie: 2 of 3 equal, 2 of 2 decisive equal.
    // Judge "b" (as c,b → model_b) on item 2 vs human b: equal; judge tie vs human b: not equal, not decisive.
    // The human (a, c) vote on item 2 is another pair: skipped.
    assert_eq!(result.items, 2);
    assert_eq!(result.votes, 5);
    assert_eq!(result.decisive_votes, 3);
    assert!(close(result.agreement_with_ties, 3.0 / 5.0, 1e-15));
    assert!(close(result.agreement_without_ties, 1.0, 1e-15));
    // Both leaderboards order a > b > c.
    assert_eq!(result.models, 3);
    assert!(close(result.spearman, 1.0, 1e-12) && close(result.kendall, 1.0, 1e-12));
    let json = serde_json::to_value(&result).unwrap();
    assert!(json.get("agreementWithoutTies").is_some() && json.get("decisiveVotes").is_some());
}

#[test]
fn agreement_counts_record_counts_and_several_judge_verdicts() {
    let human = csv("id,model_a,model_b,winner,count\n1,a,b,model_a,3\n1,a,b,model_b,1\n");
    let judge = csv("id,model_a,model_b,winner\n1,b,a,model_b\n1,a,b,model_a\n");
    let result = agreement(&human, &judge, &RankOptions::default()).unwrap();
    // Two verdicts "a", each against 3 + 1 votes: 6 of 8 equal.
    assert_eq!((result.items, result.votes, result.decisive_votes), (1, 8, 8));
    assert!(close(result.agreement_with_ties, 0.75, 1e-15));
}

#[test]
fn agreement_without_decisive_votes_or_correlation_reports_zero() {
    // The judge always says tie: no decisive comparison, and its leaderboard is flat (no correlation).
    let human = csv("id,model_a,model_b,winner\n1,a,b,model_a\n2,a,b,model_a\n");
    let judge = csv("id,model_a,model_b,winner\n1,a,b,tie\n2,b,a,tie (bothbad)\n");
    let result = agreement(&human, &judge, &RankOptions::default()).unwrap();
    assert_eq!((result.votes, result.decisive_votes, result.models), (2, 0, 2));
    assert_eq!(result.agreement_with_ties, 0.0);
    assert_eq!(result.agreement_without_ties, 0.0);
    assert_eq!((result.spearman, result.kendall), (0.0, 0.0));
}

#[test]
fn agreement_errors() {
    let judge = csv(JUDGE);
    // Records without ids: MISSING_FIELD naming the row and `id`.
    let mut no_ids = Battles::new();
    no_ids.push("a", "b", Outcome::A, 1).unwrap();
    let e = agreement(&no_ids, &judge, &RankOptions::default()).unwrap_err();
    assert_eq!((e.code(), e.row()), ("MISSING_FIELD", Some(1)));
    assert!(e.to_string().contains("`id`"), "{e}");
    let e = agreement(&csv(HUMAN), &no_ids, &RankOptions::default()).unwrap_err();
    assert_eq!((e.code(), e.row()), ("MISSING_FIELD", Some(1)));
    // No item in common, or nothing at all: EMPTY.
    let other = csv("id,model_a,model_b,winner\n9,a,b,model_a\n");
    assert_eq!(agreement(&csv(HUMAN), &other, &RankOptions::default()).unwrap_err().code(), "EMPTY");
    assert_eq!(agreement(&Battles::new(), &judge, &RankOptions::default()).unwrap_err().code(), "EMPTY");
    // Bad rank options come from rank().
    let bad = RankOptions { level: 2.0, ..RankOptions::default() };
    assert_eq!(agreement(&csv(HUMAN), &judge, &bad).unwrap_err().code(), "INVALID_OPTION");
}

/// `model` against each baseline: (wins, losses, ties), half of them with the model on side B.
fn caparena(model: &str, columns: &[(&str, u32, u32, u32)]) -> Battles {
    let mut battles = Battles::new();
    for &(baseline, wins, losses, ties) in columns {
        for (outcome, count) in [(Outcome::A, wins), (Outcome::B, losses), (Outcome::Tie, ties)] {
            let half = count / 2;
            battles.push(model, baseline, outcome, half).unwrap();
            let mirrored = match outcome {
                Outcome::A => Outcome::B,
                Outcome::B => Outcome::A,
                other => other,
            };
            battles.push(baseline, model, mirrored, count - half).unwrap();
        }
    }
    battles
}

#[test]
fn caparena_auto_published_averages() {
    // Spec 3: Gemini-1.5-pro-002 (29 + 61 + 78.5)/3 = 56.17 over 200 battles per baseline.
    let baselines: Vec<String> = ["GPT-4o-0806", "CogVLM2-llama3-chat-19B", "MiniCPM-V2.6-8B"].map(String::from).into();
    let gemini = caparena(
        "Gemini-1.5-pro-002",
        &[("GPT-4o-0806", 100, 42, 58), ("CogVLM2-llama3-chat-19B", 140, 18, 42), ("MiniCPM-V2.6-8B", 170, 13, 17)],
    );
    let score = net_win_score(&gemini, "Gemini-1.5-pro-002", &baselines).unwrap();
    let columns: Vec<f64> = score.per_baseline.iter().map(|(_, s)| *s).collect();
    assert_eq!(columns, vec![29.0, 61.0, 78.5]);
    assert!(close(score.average, 56.17, 0.005));
    // GPT-4o-0806 is a baseline itself: its own column is 0 and the divisor stays 3.
    let gpt = caparena("GPT-4o-0806", &[("CogVLM2-llama3-chat-19B", 130, 19, 51), ("MiniCPM-V2.6-8B", 160, 7, 33)]);
    let score = net_win_score(&gpt, "GPT-4o-0806", &baselines).unwrap();
    assert_eq!(score.per_baseline[0], ("GPT-4o-0806".to_owned(), 0.0));
    assert_eq!((score.per_baseline[1].1, score.per_baseline[2].1), (55.5, 76.5));
    assert!(close(score.average, 44.0, 1e-12));
}

#[test]
fn net_win_errors() {
    let battles = caparena("m", &[("x", 1, 1, 1), ("y", 2, 0, 0)]);
    let x = vec!["x".to_owned()];
    assert_eq!(net_win_score(&battles, "nobody", &x).unwrap_err().code(), "UNKNOWN_MODEL");
    assert_eq!(net_win_score(&battles, "m", &["z".to_owned()]).unwrap_err().code(), "UNKNOWN_MODEL");
    assert_eq!(net_win_score(&battles, "m", &[]).unwrap_err().code(), "INVALID_OPTION");
    // x and y never met.
    assert_eq!(net_win_score(&battles, "x", &["y".to_owned()]).unwrap_err().code(), "EMPTY");
    assert_eq!(net_win_score(&battles, "y", &["m".to_owned()]).unwrap().average, -100.0);
}

#[test]
fn report_judges_llmfao() {
    let crowd = common::llmfao("crowd-comparisons.csv");
    let options = RankOptions::default();
    eprintln!("judge    items  votes  agree(ties)  agree(no ties)  decisive  spearman  kendall  models");
    // Expected values: pandas merge on `id`, sides aligned, and scipy's spearmanr/kendalltau on
    // evalica.bradley_terry(left, right, winner, tolerance=1e-14, limit=10**6) scores, in /work/main/.venv.
    let expected = [
        (
            "GPT-4",
            "gpt4-crowd-comparisons.csv",
            [0.414_847_161_572_052_4, 0.661_627_472_937_663_3, 0.730_917_592_051_432, 0.537_112_799_532_437_2],
        ),
        (
            "GPT-3.5",
            "gpt3-crowd-comparisons.csv",
            [0.375_657_821_072_668_2, 0.601_115_760_111_576, 0.715_703_034_895_728_5, 0.540_192_949_123_792_3],
        ),
    ];
    for (name, file, want) in expected {
        let judge = common::llmfao(file);
        let start = std::time::Instant::now();
        let r = agreement(&crowd, &judge, &options).unwrap();
        let elapsed = start.elapsed();
        eprintln!(
            "{name:<8} {:>5}  {:>5}  {:>11.4}  {:>14.4}  {:>8}  {:>8.6}  {:>7.6}  {:>6}   ({elapsed:.1?}, debug)",
            r.items,
            r.votes,
            r.agreement_with_ties,
            r.agreement_without_ties,
            r.decisive_votes,
            r.spearman,
            r.kendall,
            r.models
        );
        // One verdict per item, ~4 crowd votes per item: every crowd vote is compared once.
        assert_eq!((r.items, r.votes, r.models), (2139, 8931, 59));
        let got = [r.agreement_with_ties, r.agreement_without_ties, r.spearman, r.kendall];
        for (g, w) in got.iter().zip(want) {
            assert!(close(*g, w, 1e-9), "{name}: {got:?} vs {want:?}");
        }
    }
}
