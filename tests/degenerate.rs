//! Degenerate data: documented behaviour, never NaN or infinity in an output.
//!
//! Documented behaviour: when the scored-against graph is not strongly connected (an undefeated or winless model,
//! disconnected groups, too few battles) the unregularised MLE does not exist. Bradley-Terry then fits with
//! `FALLBACK_RIDGE` (a standard normal prior on θ), says so in `warnings`, and marks every model outside the largest
//! strongly connected component `identified: false`.

mod common;

use arbiter::battles::BothBad;
use arbiter::rank::FALLBACK_RIDGE;
use arbiter::{rank, Battles, Ci, Method, ParseOptions, RankOptions};
use proptest::prelude::*;

fn battles(list: &[(&str, &str, &str)]) -> Battles {
    let text: String = list.iter().map(|(a, b, w)| format!("{a},{b},{w}\n")).collect();
    Battles::parse(&format!("model_a,model_b,winner\n{text}"), &ParseOptions::default()).unwrap()
}

fn all_cis() -> Vec<RankOptions> {
    let mut out = Vec::new();
    for (method, ci) in
        [(Method::Bt, Ci::None), (Method::Bt, Ci::Sandwich), (Method::Bt, Ci::Bootstrap), (Method::Elo, Ci::Bootstrap)]
    {
        out.push(RankOptions { method, ci, rounds: 50, ..RankOptions::default() });
    }
    out
}

fn assert_finite(board: &arbiter::Leaderboard) {
    for m in &board.models {
        for v in [m.rating, m.lower, m.upper, m.variance] {
            assert!(v.is_finite(), "{m:?}");
        }
        assert!(m.lower <= m.rating + 1e-9 || board.ci == Ci::Bootstrap, "{m:?}");
    }
}

fn identified(board: &arbiter::Leaderboard, model: &str) -> bool {
    board.models.iter().find(|m| m.model == model).unwrap().identified
}

#[test]
fn undefeated_and_winless_models() {
    let b = battles(&[
        ("top", "a", "model_a"),
        ("top", "b", "model_a"),
        ("a", "b", "model_a"),
        ("b", "a", "model_a"),
        ("a", "c", "tie"),
        ("c", "b", "model_b"),
        ("b", "c", "model_b"),
        ("low", "c", "model_b"),
    ]);
    for o in all_cis() {
        let board = rank(&b, &o).unwrap();
        assert_finite(&board);
        assert!(!identified(&board, "top") && !identified(&board, "low"));
        assert!(identified(&board, "a") && identified(&board, "b") && identified(&board, "c"));
        assert_eq!(board.warnings.len(), 1, "{:?}", board.warnings);
        if o.method == Method::Bt {
            assert_eq!(board.ridge, FALLBACK_RIDGE);
            assert_eq!(board.models[0].model, "top");
            assert_eq!(board.models.last().unwrap().model, "low");
        }
    }
}

#[test]
fn disconnected_components() {
    let b = battles(&[
        ("x", "y", "model_a"),
        ("y", "x", "model_a"),
        ("x", "z", "model_b"),
        ("z", "y", "model_b"),
        ("y", "z", "tie"),
        ("u", "v", "model_a"),
        ("v", "u", "model_a"),
    ]);
    for o in all_cis() {
        let board = rank(&b, &o).unwrap();
        assert_finite(&board);
        assert!(identified(&board, "x") && identified(&board, "z"));
        assert!(!identified(&board, "u") && !identified(&board, "v"));
    }
}

#[test]
fn a_single_battle() {
    let b = battles(&[("x", "y", "model_a")]);
    for o in all_cis() {
        let board = rank(&b, &o).unwrap();
        assert_finite(&board);
        assert!(board.models.iter().all(|m| !m.identified));
        assert_eq!(board.models[0].model, "x");
    }
}

#[test]
fn a_model_left_without_battles() {
    // Its only battle is a both-bad tie, excluded as Music Arena does.
    let b = battles(&[("x", "y", "model_a"), ("y", "x", "model_a"), ("x", "z", "tie (bothbad)")]);
    let mut o = RankOptions { ci: Ci::Sandwich, ..RankOptions::default() };
    o.rows.both_bad = BothBad::Exclude;
    let board = rank(&b, &o).unwrap();
    assert_finite(&board);
    let z = board.models.iter().find(|m| m.model == "z").unwrap();
    assert!(!z.identified && z.battles == 0);
}

#[test]
fn unknown_anchor_and_bad_options() {
    let b = battles(&[("x", "y", "model_a"), ("y", "x", "model_a")]);
    let o =
        RankOptions { identify: arbiter::Identify::Anchor { model: "nope".into(), value: 1.0 }, ..Default::default() };
    assert_eq!(rank(&b, &o).unwrap_err().code(), "UNKNOWN_MODEL");
    for o in [
        RankOptions { level: 1.0, ..Default::default() },
        RankOptions { base: f64::NAN, ..Default::default() },
        RankOptions { ci: Ci::Bootstrap, rounds: 0, ..Default::default() },
        RankOptions { method: Method::Elo, ci: Ci::Sandwich, ..Default::default() },
    ] {
        assert_eq!(rank(&b, &o).unwrap_err().code(), "INVALID_OPTION");
    }
}

fn random_battles() -> impl Strategy<Value = Vec<(u8, u8, u8)>> {
    prop::collection::vec((0u8..6, 0u8..6, 0u8..3), 1..60)
}

fn build(list: &[(u8, u8, u8)], swap: bool) -> Option<Battles> {
    let labels = ["model_a", "model_b", "tie"];
    let rows: Vec<(String, String, &str)> = list
        .iter()
        .filter(|(a, b, _)| a != b)
        .map(|&(a, b, w)| {
            let (a, b) = (format!("m{a}"), format!("m{b}"));
            if swap {
                (b, a, labels[[1, 0, 2][w as usize]])
            } else {
                (a, b, labels[w as usize])
            }
        })
        .collect();
    if rows.is_empty() {
        return None;
    }
    let refs: Vec<(&str, &str, &str)> = rows.iter().map(|(a, b, w)| (a.as_str(), b.as_str(), *w)).collect();
    Some(battles(&refs))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// Any small data set gives finite outputs with every interval method.
    #[test]
    fn outputs_are_always_finite(list in random_battles()) {
        if let Some(b) = build(&list, false) {
            for o in all_cis() {
                assert_finite(&rank(&b, &o).unwrap());
            }
        }
    }

    /// Swapping sides and flipping outcomes leaves Bradley-Terry ratings unchanged (spec 1.2).
    #[test]
    fn side_swap_invariance(list in random_battles()) {
        if let (Some(b), Some(s)) = (build(&list, false), build(&list, true)) {
            let o = RankOptions { ci: Ci::Sandwich, ..Default::default() };
            let (x, y) = (rank(&b, &o).unwrap(), rank(&s, &o).unwrap());
            for m in &x.models {
                let n = y.models.iter().find(|n| n.model == m.model).unwrap();
                prop_assert!((m.rating - n.rating).abs() < 1e-6, "{} vs {}", m.rating, n.rating);
                prop_assert!((m.variance - n.variance).abs() < 1e-6 * (1.0 + m.variance));
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    /// The bootstrap's allocation-free connectivity check agrees with the full component analysis.
    #[test]
    fn reach_agrees_with_components(list in prop::collection::vec((0u32..7, 0u32..7, 0u8..4), 0..25)) {
        use arbiter::rank::graph::{Components, Reach};
        use arbiter::rank::rows::Pair;
        let mut pairs: Vec<Pair> = Vec::new();
        for (i, j, kind) in list {
            let (i, j) = (i.min(j), i.max(j));
            if i == j || pairs.iter().any(|p| (p.i, p.j) == (i, j)) {
                continue;
            }
            // kind: 0 = no battles this round, 1 = i always won, 2 = j always won, 3 = both scored.
            let (n, s) = [(0.0, 0.0), (2.0, 2.0), (2.0, 0.0), (3.0, 1.5)][kind as usize];
            pairs.push(Pair { i, j, n, s });
        }
        let index: Vec<(u32, u32)> = pairs.iter().map(|p| (p.i, p.j)).collect();
        let expected = Components::new(7, &pairs).strongly_connected();
        prop_assert_eq!(Reach::new(7, &index).strongly_connected(&pairs), expected);
    }
}
