//! The caller-shaped entry (`arbiter::methods`) that the JS API and the examples share: every method on LLMFAO,
//! option checking, and finite output on degenerate data.

mod common;

use arbiter::methods::{self, ArenaSampler, METHODS};
use arbiter::{Battles, Outcome};
use serde_json::{json, Value};

fn crowd() -> Battles {
    common::llmfao("crowd-comparisons.csv")
}

/// Every number in a JSON value is finite (serde_json writes NaN and infinity as null, so none may be null
/// where a number is expected: the check is that no `null` appears at all).
fn all_finite(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Number(n) => n.as_f64().is_some_and(f64::is_finite),
        Value::Array(a) => a.iter().all(all_finite),
        Value::Object(o) => o.values().all(all_finite),
        _ => true,
    }
}

#[test]
fn every_method_runs_on_llmfao_with_sorted_finite_rows() {
    let battles = crowd();
    for &method in METHODS {
        let board = methods::run(&battles, method, &Value::Null).unwrap_or_else(|e| panic!("{method}: {e}"));
        let value = serde_json::to_value(&board).unwrap();
        assert!(all_finite(&value), "{method}: {value}");
        assert_eq!(board.method, method);
        assert_eq!(board.models.len(), 59, "{method}");
        assert!(board.models.iter().all(|m| m.rating.is_finite()));
    }
}

#[test]
fn nash_rows_have_probabilities_and_the_board_its_exploitability() {
    let board = methods::run(&crowd(), "nash", &Value::Null).unwrap();
    let value = serde_json::to_value(&board).unwrap();
    assert!(value["exploitability"].as_f64().unwrap() < 1e-9);
    let total: f64 = value["models"].as_array().unwrap().iter().map(|m| m["probability"].as_f64().unwrap()).sum();
    assert!((total - 1.0).abs() < 1e-9);
    // Sorted by probability; the support plays the equilibrium to a draw (win rate ½ at β = 0).
    let p: Vec<f64> = board.models.iter().map(|m| m.probability.unwrap()).collect();
    assert!(p.windows(2).all(|w| w[0] >= w[1]));
    for m in board.models.iter().filter(|m| m.probability.unwrap() > 1e-9) {
        assert!((m.rating - 0.5).abs() < 1e-9, "{}: {}", m.model, m.rating);
    }
    assert!(board.unique.unwrap(), "BT imputation gives a unique equilibrium on LLMFAO");
    let top = board.bt_top_exploitability.unwrap();
    assert!(top > 0.3 && top < 0.34, "{top}");
    let fishburn = methods::run(&crowd(), "nash", &json!({"margins": "fishburn", "impute": "half"})).unwrap();
    assert_eq!(fishburn.margins.as_deref(), Some("fishburn"));
}

#[test]
fn mixture_gives_one_leaderboard_per_group() {
    let board = methods::run(&crowd(), "mixture", &json!({"groups": 3})).unwrap();
    let groups = board.groups.as_ref().unwrap();
    assert_eq!(groups.len(), 3);
    assert!((groups.iter().map(|g| g.weight).sum::<f64>() - 1.0).abs() < 1e-9);
    assert_eq!(groups.iter().map(|g| g.annotators.len()).sum::<usize>(), 124);
    for g in groups {
        assert_eq!(g.models.len(), 59);
    }
}

#[test]
fn lcpo_reports_each_annotator() {
    let board = methods::run(&crowd(), "lcpo", &Value::Null).unwrap();
    let annotators = board.annotators.as_ref().unwrap();
    assert_eq!(annotators.len(), 124);
    assert!(annotators.iter().all(|a| (0.5..=1.0).contains(&a.eta)));
    let eta = board.eta.unwrap();
    assert!(eta > 0.8 && eta < 0.95, "{eta}");
}

#[test]
fn options_are_checked() {
    let battles = crowd();
    let code = |method: &str, options: Value| methods::run(&battles, method, &options).unwrap_err().code();
    assert_eq!(code("elo-plus", Value::Null), "INVALID_OPTION");
    assert_eq!(code("davidson", json!({"groups": 2})), "INVALID_OPTION");
    assert_eq!(code("gpm", json!({"k": -1})), "INVALID_OPTION");
    assert_eq!(code("gpm", json!({"k": 0})), "INVALID_OPTION");
    assert_eq!(code("nash", json!({"margins": "plurality"})), "INVALID_OPTION");
    assert_eq!(code("weng-lin", json!({"model": "glicko"})), "INVALID_OPTION");
    assert_eq!(code("pl", json!({"scale": 0})), "INVALID_OPTION");
    assert_eq!(code("pl", json!([1, 2])), "INVALID_OPTION");
    // The mixture and LCPO need annotators.
    let mut plain = Battles::new();
    plain.push("a", "b", Outcome::A, 3).unwrap();
    plain.push("b", "a", Outcome::A, 1).unwrap();
    assert_eq!(methods::run(&plain, "mixture", &Value::Null).unwrap_err().code(), "MISSING_FIELD");
    assert_eq!(methods::run(&plain, "lcpo", &Value::Null).unwrap_err().code(), "MISSING_FIELD");
    assert_eq!(methods::run(&Battles::new(), "davidson", &Value::Null).unwrap_err().code(), "EMPTY");
}

#[test]
fn degenerate_data_give_finite_boards() {
    // An undefeated model, a model that never wins, and a separate pair that never met the others.
    let text = "model_a,model_b,winner,judge,id\n\
                a,b,model_a,u,1\na,b,model_a,v,1\nb,c,model_a,u,2\nb,c,tie,v,2\na,c,model_a,u,3\n\
                d,e,model_a,u,4\ne,d,model_a,v,5\nd,e,tie,u,6\n";
    let battles = Battles::parse(text, &arbiter::ParseOptions::default()).unwrap();
    for &method in METHODS {
        match methods::run(&battles, method, &Value::Null) {
            Ok(board) => {
                let value = serde_json::to_value(&board).unwrap();
                assert!(all_finite(&value), "{method}: {value}");
            }
            Err(e) => panic!("{method}: {e}"),
        }
    }
}

#[test]
fn plackett_luce_by_name_matches_choix() {
    // choix testcase-rankings-2 via names; the fixture's ml_est are centred log-strengths.
    let case: Value =
        serde_json::from_str(&common::read(&common::shared("fixtures/choix/testcase-rankings-2.json"))).unwrap();
    let names = |v: &Value| -> Value { v.as_array().unwrap().iter().map(|i| json!(format!("m{i}"))).collect() };
    let observations: Value = case["data"].as_array().unwrap().iter().map(names).collect();
    let board =
        methods::plackett_luce(&observations, &json!({"scale": 1, "base": std::f64::consts::E, "init": 0})).unwrap();
    for (i, want) in case["ml_est"].as_array().unwrap().iter().enumerate() {
        let row = board.models.iter().find(|m| m.model == format!("m{i}")).unwrap();
        assert!((row.rating - want.as_f64().unwrap()).abs() < 1e-4, "m{i}: {} vs {want}", row.rating);
    }
    let choice = json!([{"chosen": "x", "among": ["y", "z"]}, {"chosen": "y", "among": ["x"]}, {"chosen": "z", "among": ["x", "y"]}]);
    assert_eq!(methods::plackett_luce(&choice, &Value::Null).unwrap().models.len(), 3);
    assert_eq!(methods::plackett_luce(&json!([{"chosen": 1}]), &Value::Null).unwrap_err().code(), "INVALID_OPTION");
}

#[test]
fn consensus_and_strength_on_llmfao() {
    let battles = crowd();
    let c = methods::dawid_skene(&battles).unwrap();
    assert_eq!(c.items.len(), 2139);
    assert_eq!(c.annotators.len(), 124);
    assert!(c.items.iter().all(|i| (i.posterior.iter().sum::<f64>() - 1.0).abs() < 1e-9));
    let s = methods::strength(&battles).unwrap();
    assert_eq!(s.len(), 2139);
    assert!(s.iter().all(|i| i.mean.abs() <= 1.0 && i.spread >= 0.0));
}

#[test]
fn arena_sampler_by_name() {
    let models: Vec<String> = ["a", "b", "c", "d"].iter().map(|s| (*s).to_owned()).collect();
    let mut s = ArenaSampler::new(
        &models,
        &json!({"strategy": "weighted", "seed": 3, "weights": [["a", "b", 0], ["c", "d", 5]]}),
    )
    .unwrap();
    for _ in 0..200 {
        let (x, y) = s.next_pair().unwrap();
        assert!(x != y && !matches!((x.min(y), x.max(y)), (0, 1)));
    }
    let mut ig = ArenaSampler::new(&models, &json!({"strategy": "information-gain"})).unwrap();
    for _ in 0..120 {
        let (x, y) = ig.next_pair().unwrap();
        ig.observe(x, y, if x < y { 1.0 } else { 0.0 }).unwrap();
    }
    let err = |o: Value| ArenaSampler::new(&models, &o).unwrap_err().code();
    assert_eq!(err(json!({"strategy": "fastchat", "boost": ["zz"]})), "UNKNOWN_MODEL");
    assert_eq!(err(json!({"strategy": "buckets", "sizes": {"a": 7}})), "INVALID_OPTION");
    assert_eq!(err(json!({"strategy": "random"})), "INVALID_OPTION");
    assert_eq!(err(json!({"strategy": "uniform", "weights": []})), "INVALID_OPTION");
    assert_eq!(ig.observe(0, 0, 1.0).unwrap_err().code(), "INVALID_OPTION");
}

#[test]
fn simulation_by_name() {
    let options = json!({"ratings": {"a": 0, "b": 100, "c": -100, "d": 50}, "targetWidth": 200, "seed": 1});
    let sim = methods::simulate(&options).unwrap();
    assert!(sim.reached && sim.votes > 0);
    assert_eq!(methods::simulate(&json!({"ratings": [1, 2]})).unwrap_err().code(), "INVALID_OPTION");
}

#[test]
fn weng_lin_match_from_json_is_openskills_worked_example() {
    // openskill 6.2.0: PlackettLuce().rate([[r], [r]]) for default ratings (tests/openskill.rs has the source line).
    let r = json!({"mu": 25.0, "sigma": 25.0 / 3.0});
    let got = methods::weng_lin_match(&json!([[r], [r]]), &Value::Null).unwrap();
    assert!((got[0][0].mu - 27.635_389_493_140_497).abs() < 1e-12);
    assert!((got[1][0].sigma - 8.065_901_413_543_68).abs() < 1e-12);
    // The ranks put team 2 first.
    let flipped = methods::weng_lin_match(&json!([[r], [r]]), &json!({"ranks": [2, 1]})).unwrap();
    assert!((flipped[1][0].mu - 27.635_389_493_140_497).abs() < 1e-12);
    let err = |t: Value, o: Value| methods::weng_lin_match(&t, &o).unwrap_err().code();
    assert_eq!(err(json!([[r], [r]]), json!({"rank": [1, 2]})), "INVALID_OPTION");
    assert_eq!(err(json!([[r], [r]]), json!({"model": "elo"})), "INVALID_OPTION");
    assert_eq!(err(json!([[{"mu": 1}]]), Value::Null), "INVALID_OPTION");
    assert_eq!(err(json!([[r]]), Value::Null), "INVALID_OPTION");
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    /// Small random arenas: up to 6 models, 1-30 votes, any outcome, 1-3 annotators, a few items.
    fn arena() -> impl Strategy<Value = Vec<(u8, u8, u8, u8, u8)>> {
        prop::collection::vec((0u8..6, 0u8..6, 0u8..4, 0u8..3, 0u8..5), 1..30)
    }

    fn build(list: &[(u8, u8, u8, u8, u8)]) -> Option<Battles> {
        let mut text = String::from("model_a,model_b,winner,judge,id\n");
        let labels = ["model_a", "model_b", "tie", "tie (bothbad)"];
        for &(a, b, w, j, id) in list {
            if a != b {
                text.push_str(&format!("m{a},m{b},{},u{j},{id}\n", labels[w as usize]));
            }
        }
        Battles::parse(&text, &arbiter::ParseOptions::default()).ok().filter(|b| !b.is_empty())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        /// Every method on any small arena gives finite output or a typed error (never a panic, NaN or infinity):
        /// undefeated and winless models, separate groups, all-tie data, single votes.
        #[test]
        fn every_method_is_finite_or_a_typed_error(list in arena()) {
            if let Some(b) = build(&list) {
                for &method in METHODS {
                    match methods::run(&b, method, &Value::Null) {
                        Ok(board) => {
                            let value = serde_json::to_value(&board).unwrap();
                            prop_assert!(all_finite(&value), "{method}: {value}");
                        }
                        Err(e) => prop_assert!(["EMPTY", "INVALID_OPTION"].contains(&e.code()), "{method}: {e}"),
                    }
                }
                for result in [methods::dawid_skene(&b).map(|c| serde_json::to_value(c).unwrap()),
                               methods::strength(&b).map(|s| serde_json::to_value(s).unwrap())] {
                    match result {
                        Ok(value) => prop_assert!(all_finite(&value), "{value}"),
                        Err(e) => prop_assert!(e.code() == "EMPTY", "{e}"),
                    }
                }
            }
        }

        /// The exact Nash solver's lottery is unbeatable on any random skew-symmetric game (odd sizes too).
        #[test]
        fn exact_nash_is_unbeatable(n in 1usize..9, entries in prop::collection::vec(-1.0f64..1.0, 64)) {
            use arbiter::rank::nash::solve_exact;
            let mut a = vec![0.0; n * n];
            for i in 0..n {
                for j in i + 1..n {
                    a[i * n + j] = entries[i * 8 + j];
                    a[j * n + i] = -entries[i * 8 + j];
                }
            }
            let eq = solve_exact(&a, n).unwrap();
            prop_assert!((eq.probabilities.iter().sum::<f64>() - 1.0).abs() < 1e-9);
            for i in 0..n {
                let payoff: f64 = (0..n).map(|j| a[i * n + j] * eq.probabilities[j]).sum();
                prop_assert!(payoff <= 1e-9, "row {i} beats the lottery by {payoff}");
            }
        }
    }
}

#[test]
fn nash_against_a_population_of_judges() {
    let (gpt4, gpt3) = (common::llmfao("gpt4-crowd-comparisons.csv"), common::llmfao("gpt3-crowd-comparisons.csv"));
    // One judge of weight 1 is that judge's own equilibrium.
    let alone = methods::run(&gpt4, "nash", &Value::Null).unwrap();
    let single = methods::nash_population(&[(&gpt4, 1.0)], &Value::Null).unwrap();
    for (a, b) in alone.models.iter().zip(&single.models) {
        assert_eq!(a.model, b.model);
        assert!((a.probability.unwrap() - b.probability.unwrap()).abs() < 1e-12);
    }
    // A weight of 0 removes a judge.
    let zero = methods::nash_population(&[(&gpt4, 1.0), (&gpt3, 0.0)], &Value::Null).unwrap();
    assert!((zero.exploitability.unwrap() - alone.exploitability.unwrap()).abs() < 1e-12);
    let both = methods::nash_population(&[(&gpt4, 0.5), (&gpt3, 0.5)], &json!({"margins": "nlhf"})).unwrap();
    let value = serde_json::to_value(&both).unwrap();
    assert!(all_finite(&value));
    assert_eq!(both.models.len(), 59);
    assert!((both.models.iter().map(|m| m.probability.unwrap()).sum::<f64>() - 1.0).abs() < 1e-9);
    assert_eq!(both.battles, 2 * 2139);
    assert_eq!(methods::nash_population(&[], &Value::Null).unwrap_err().code(), "EMPTY");
    assert_eq!(methods::nash_population(&[(&gpt4, -1.0)], &Value::Null).unwrap_err().code(), "INVALID_OPTION");
}

#[test]
fn nash_kl_reference_by_name() {
    let battles = crowd();
    let models = battles.models().to_vec();
    // A reference concentrated on GPT 4 pulls the regularised lottery towards it.
    let mu: serde_json::Map<String, Value> =
        models.iter().map(|m| (m.clone(), json!(if m == "GPT 4" { 50.0 } else { 1.0 }))).collect();
    let plain = methods::run(&battles, "nash", &json!({"beta": 0.05})).unwrap();
    let pulled = methods::run(&battles, "nash", &json!({"beta": 0.05, "mu": mu})).unwrap();
    let p = |b: &methods::Board| b.models.iter().find(|m| m.model == "GPT 4").unwrap().probability.unwrap();
    assert!(p(&pulled) > p(&plain) + 0.05, "{} vs {}", p(&pulled), p(&plain));
    let err = |o: Value| methods::run(&battles, "nash", &o).unwrap_err().code();
    assert_eq!(err(json!({"beta": 0.1, "mu": {"GPT 4": 1}})), "INVALID_OPTION");
    assert_eq!(err(json!({"beta": 0.1, "mu": {"nobody": 1}})), "UNKNOWN_MODEL");
}
