//! Reward scoring (spec section 2): the heads' spec properties (ArmoRM 2.1, DPA 2.2, PAL 2.6, GPM 1.8/2.8), JSON
//! round trips and input errors, best-of-N rules (2.9, RPS 2.3, SPO/SPPO 1.7, Nash 1.6), MAP's KKT conditions (2.4),
//! and fitting heads from votes (BT recovery, early stopping, PAL vs a pooled head).

use std::collections::BTreeMap;

use arbiter::judge::spearman;
use arbiter::reward::*;
use arbiter::rng::Stream;
use proptest::prelude::*;

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn normals(s: &mut Stream, n: usize, scale: f64) -> Vec<f32> {
    (0..n).map(|_| (scale * s.normal()) as f32).collect()
}

fn affine(s: &mut Stream, outputs: usize, inputs: usize) -> Affine {
    Affine { weights: (0..outputs).map(|_| normals(s, inputs, 1.0)).collect(), bias: normals(s, outputs, 0.5) }
}

/// A head of each kind (0..7) on d-dim embeddings, parameters drawn from `seed`.
fn random_head(kind: usize, d: usize, seed: u64) -> Head {
    let mut s = Stream::new(seed, 1);
    let users = |s: &mut Stream| -> BTreeMap<String, Vec<f32>> {
        ["u", "v"].iter().map(|u| ((*u).to_string(), normals(s, 2, 2.0))).collect()
    };
    match kind {
        0 => Head::Linear(Linear { weights: normals(&mut s, d, 1.0), bias: 0.25 }),
        1 => Head::Mlp(Mlp {
            layers: vec![affine(&mut s, 4, d), affine(&mut s, 3, 4), affine(&mut s, 1, 3)],
            activation: if seed.is_multiple_of(2) { Activation::Gelu } else { Activation::Relu },
        }),
        2 => Head::Armo(Armo {
            probes: affine(&mut s, 3, d),
            gating: vec![affine(&mut s, 5, d), affine(&mut s, 3, 5)],
            temperature: 10.0,
            logit_scale: 1.5,
            verbosity: 1,
            penalties: normals(&mut s, 3, 0.3).iter().map(|p| p.abs()).collect(),
        }),
        3 => Head::Dpa(Dpa { probes: affine(&mut s, 2, d), direction: vec![1.0, s.normal() as f32] }),
        4 => Head::Pal(Pal {
            projector: Some(affine(&mut s, 3, d)),
            form: PalForm::Distance { prototypes: vec![normals(&mut s, 3, 1.0), normals(&mut s, 3, 1.0)] },
            users: users(&mut s),
        }),
        5 => Head::Pal(Pal {
            projector: None,
            form: PalForm::Angle {
                prompt_projectors: vec![affine(&mut s, d, d), affine(&mut s, d, d)],
                log_scale: s.normal() as f32 * 3.0,
            },
            users: users(&mut s),
        }),
        _ => Head::Gpm(Gpm { map: affine(&mut s, 4, d), prompt_head: Some(affine(&mut s, 2, d)), tau: 0.1 }),
    }
}

fn code<T: std::fmt::Debug>(r: arbiter::Result<T>) -> &'static str {
    r.expect_err("expected an error").code()
}

// ---------------------------------------------------------------------------------------------------------------
// Heads

/// A one-layer gate with zero weights whose bias makes softmax(logits/10) exactly one-hot on `i`.
fn one_hot_gate(i: usize, k: usize, dx: usize) -> Vec<Affine> {
    let bias = (0..k).map(|j| if j == i { 1e4 } else { 0.0 }).collect();
    vec![Affine { weights: vec![vec![0.0; dx]; k], bias }]
}

fn identity(k: usize) -> Affine {
    Affine {
        weights: (0..k).map(|i| (0..k).map(|j| f32::from(u8::from(i == j))).collect()).collect(),
        bias: vec![0.0; k],
    }
}

#[test]
fn armo_one_hot_gate_scores_the_penalised_attribute() {
    // Spec 2.1: g one-hot on a non-verbosity i ⇒ score = r_i − p_i r_v.
    let r = [0.7f32, 0.3, 0.5];
    let p = [0.1f32, 0.2, 1.0];
    for i in [0, 1] {
        let head = Head::Armo(Armo {
            probes: identity(3),
            gating: one_hot_gate(i, 3, 2),
            temperature: 10.0,
            logit_scale: 1.0,
            verbosity: 2,
            penalties: p.to_vec(),
        });
        let context = Context { prompt: Some(&[0.3, -0.2]), user: None };
        let score = head.score(&r, &context).unwrap();
        let expected = f64::from(r[i]) - f64::from(p[i]) * f64::from(r[2]);
        assert!((score - expected).abs() < 1e-12, "{i}: {score} vs {expected}");
        let mut gate = [0.0; 3];
        gate[i] = 1.0;
        let c = armo_coefficients(&gate, 2, &[0.1, 0.2, 1.0]).unwrap();
        let direct: f64 = r.iter().zip(&c).map(|(a, b)| f64::from(*a) * b).sum();
        assert!((direct - expected).abs() < 1e-7);
    }
    // The verbosity gate weight itself does not enter: c_v = −Σ_{i≠v} g_i p_i.
    assert_eq!(armo_coefficients(&[0.0, 0.0, 1.0], 2, &[0.1, 0.2, 1.0]).unwrap(), vec![0.0, 0.0, -0.0]);
    assert_eq!(code(armo_coefficients(&[1.0], 1, &[0.0])), "INVALID_OPTION");
}

#[test]
fn armo_score_is_linear_in_the_rewards_and_equals_the_coefficient_sum() {
    let Head::Armo(armo) = random_head(2, 4, 7) else { unreachable!() };
    let head = Head::Armo(armo.clone());
    let prompt = [0.2f32, -0.4, 0.1, 0.9];
    let c = armo.coefficients(&prompt).unwrap();
    let g = armo.gate(&prompt).unwrap();
    assert!((g.iter().sum::<f64>() - 1.5).abs() < 1e-12, "g sums to logit_scale");
    let score = |r: &[f64]| -> f64 { r.iter().zip(&c).map(|(a, b)| a * b).sum() };
    let (r1, r2) = ([1.0, -2.0, 0.5], [0.3, 0.7, -1.1]);
    let mixed: Vec<f64> = r1.iter().zip(&r2).map(|(a, b)| 2.0 * a - 3.0 * b).collect();
    assert!((score(&mixed) - (2.0 * score(&r1) - 3.0 * score(&r2))).abs() < 1e-12);
    // The model card's check: sum(rewards · coeffs) == score.
    let y = [0.5f32, 0.1, -0.3, 0.8];
    let r = armo.rewards(&y).unwrap();
    let context = Context { prompt: Some(&prompt), user: None };
    assert!((head.score(&y, &context).unwrap() - score(&r)).abs() < 1e-12);
    assert_eq!(code(head.score(&y, &Context::default())), "INVALID_OPTION", "armo needs a prompt");
}

#[test]
fn verbosity_penalties_take_the_smallest_grid_value_under_the_threshold() {
    let mut s = Stream::new(3, 0);
    let rows: Vec<Vec<f64>> = (0..300)
        .map(|_| {
            let v = s.normal();
            vec![0.8 * v + 0.3 * s.normal(), s.normal(), v]
        })
        .collect();
    let p = verbosity_penalties(&rows, 2, 0.03).unwrap();
    assert_eq!(p[2], 1.0);
    assert!(p[0] > 0.0, "a verbose attribute is penalised: {p:?}");
    let rv: Vec<f64> = rows.iter().map(|r| r[2]).collect();
    for i in [0, 1] {
        let corr = |q: f64| {
            let x: Vec<f64> = rows.iter().map(|r| r[i] - q * r[2]).collect();
            spearman(&x, &rv).unwrap()
        };
        assert!(corr(p[i]) <= 0.03, "{i}: {}", corr(p[i]));
        let k = arbiter::reward::heads::PENALTY_GRID.iter().position(|g| *g == p[i]).unwrap();
        assert!(k == 0 || corr(arbiter::reward::heads::PENALTY_GRID[k - 1]) > 0.03, "smallest");
    }
    assert_eq!(code(verbosity_penalties(&rows, 3, 0.03)), "INVALID_OPTION");
}

#[test]
fn dpa_direction_properties() {
    // Spec 2.2: v = (1, 0) ranks by helpfulness only; ‖v‖ is normalised away; R(v1) + R(v2) = (v1 + v2)ᵀr.
    let rewards = vec![vec![0.9, 0.1], vec![0.5, 0.9], vec![0.95, 0.0]];
    assert_eq!(best_direction(&rewards, &[1.0, 0.0]).unwrap(), 2);
    assert_eq!(best_direction(&rewards, &[5.0, 0.0]).unwrap(), 2);
    assert_eq!(best_direction(&rewards, &[0.0, 1.0]).unwrap(), 1);
    let r = [0.6, -0.4];
    let (v1, v2) = (angle_direction(-0.26), angle_direction(0.5));
    let sum = directional_reward(&v1, &r).unwrap() + directional_reward(&v2, &r).unwrap();
    let direct = (v1[0] + v2[0]) * r[0] + (v1[1] + v2[1]) * r[1];
    assert!((sum - direct).abs() < 1e-12);
    assert!((directional_reward(&[3.0, 4.0], &r).unwrap() - (0.6 * 0.6 - 0.8 * 0.4)).abs() < 1e-12);
    assert_eq!(code(unit_direction(&[0.0, 0.0])), "INVALID_OPTION");
    let head = Head::Dpa(Dpa { probes: identity(2), direction: vec![2.0, 0.0] });
    assert!((head.score(&[0.7, 0.2], &Context::default()).unwrap() - 0.7).abs() < 1e-7);
    let zero = r#"{"kind":"dpa","probes":{"weights":[[1,0],[0,1]],"bias":[0,0]},"direction":[0,0]}"#;
    assert_eq!(code(Head::from_json(zero)), "MODEL");
}

#[test]
fn pal_with_one_prototype_is_a_shared_ideal_point() {
    let users = [("a".to_string(), vec![3.0f32]), ("b".to_string(), vec![-7.0])].into_iter().collect();
    let head = Head::Pal(Pal { projector: None, form: PalForm::Distance { prototypes: vec![vec![1.0, 0.0]] }, users });
    let rows = [0.3f32, 0.1, 1.0, 0.0, -1.0, 2.0];
    let e = Embeddings::new(&rows, 2).unwrap();
    let sa = head.scores(&e, &Context { prompt: None, user: Some("a") }).unwrap();
    let sb = head.scores(&e, &Context { prompt: None, user: Some("b") }).unwrap();
    assert_eq!(sa, sb);
    assert_eq!(sa[1], 0.0, "the item at the ideal point");
    assert_eq!(code(head.scores(&e, &Context { prompt: None, user: Some("c") })), "INVALID_OPTION");
    assert_eq!(code(head.scores(&e, &Context::default())), "INVALID_OPTION");
}

#[test]
fn pal_a_item_at_the_ideal_point_beats_all_others() {
    let Head::Pal(pal) = random_head(4, 3, 11) else { unreachable!() };
    // Without a projector the ideal point is an embedding; put one item exactly there.
    let pal = Pal { projector: None, ..pal };
    let a = pal.ideal_point("u").unwrap();
    let head = Head::Pal(pal);
    let mut s = Stream::new(5, 0);
    let mut rows: Vec<f32> = a.iter().map(|v| *v as f32).collect();
    rows.extend(normals(&mut s, 3 * 20, 1.0));
    let e = Embeddings::new(&rows, 3).unwrap();
    let context = Context { prompt: None, user: Some("u") };
    let p = head.preferences(&e, &context).unwrap();
    let n = e.len();
    assert!((1..n).all(|j| p[j] > 0.5), "{:?}", &p[..n]);
    assert_eq!(best_score(&head.scores(&e, &context).unwrap()).unwrap(), 0);
}

#[test]
fn pal_b_caps_the_logit_scale() {
    let head = Head::Pal(Pal {
        projector: None,
        form: PalForm::Angle { prompt_projectors: vec![identity(2)], log_scale: 10.0 },
        users: [("u".to_string(), vec![0.0f32])].into_iter().collect(),
    });
    let context = Context { prompt: Some(&[1.0, 1.0]), user: Some("u") };
    assert!((head.score(&[2.0, 2.0], &context).unwrap() - 100.0).abs() < 1e-9);
    assert!((head.score(&[-1.0, -1.0], &context).unwrap() + 100.0).abs() < 1e-9);
    assert_eq!(head.score(&[0.0, 0.0], &context).unwrap(), 0.0);
    assert_eq!(code(head.score(&[1.0, 0.0], &Context { prompt: None, user: Some("u") })), "INVALID_OPTION");
}

#[test]
fn gpm_skew_matrix_is_exactly_antisymmetric() {
    let Head::Gpm(gpm) = random_head(6, 5, 2) else { unreachable!() };
    let mut s = Stream::new(9, 0);
    let rows = normals(&mut s, 5 * 7, 1.0);
    let e = Embeddings::new(&rows, 5).unwrap();
    let prompt = normals(&mut s, 5, 1.0);
    let context = Context { prompt: Some(&prompt), user: None };
    let m = gpm.skew(&e, &context).unwrap();
    for i in 0..7 {
        assert_eq!(m[i * 7 + i], 0.0);
        for j in 0..7 {
            assert_eq!(m[i * 7 + j], -m[j * 7 + i]);
        }
    }
    assert_eq!(code(Head::Gpm(gpm).scores(&e, &context)), "INVALID_OPTION", "GPM has no scalar score");
}

#[test]
fn gpm_represents_the_three_cycle() {
    // Spec 1.8: unit vectors at 0°, 120°, 240°, k = 1, τ = 0.1 give s = sin 120° on A≻B, B≻C, C≻A: P = σ(8.66).
    let head = Head::Gpm(Gpm { map: identity(2), prompt_head: None, tau: 0.1 });
    let angle = |deg: f64| [deg.to_radians().cos() as f32, deg.to_radians().sin() as f32];
    let (a, b, c) = (angle(0.0), angle(120.0), angle(240.0));
    for (x, y) in [(a, b), (b, c), (c, a)] {
        let p = head.probability(&x, &y, &Context::default()).unwrap();
        assert!((p - 0.999_83).abs() < 1e-5, "{p}");
    }
    assert!((gpm_score(&[1.0, 0.0], &[0.0, 1.0], &[1.0]) - 1.0).abs() < 1e-15);
}

#[test]
fn head_json_loads_and_rejects_bad_shapes_and_inputs() {
    let head = Head::from_json(r#"{"kind":"linear","weights":[1,2],"bias":0}"#).unwrap();
    assert_eq!(head.score(&[0.5, 0.25], &Context::default()).unwrap(), 1.0);
    assert_eq!(head.to_json(), r#"{"kind":"linear","weights":[1.0,2.0],"bias":0.0}"#);
    for bad in [
        r#"{"kind":"linear","weights":[],"bias":0}"#,
        r#"{"kind":"nope"}"#,
        r#"{"kind":"mlp","layers":[{"weights":[[1,2]],"bias":[0]},{"weights":[[1,2]],"bias":[0]}]}"#,
        r#"{"kind":"mlp","layers":[{"weights":[[1,2],[3]],"bias":[0,0]}]}"#,
        r#"{"kind":"gpm","map":{"weights":[[1],[2],[3]],"bias":[0,0,0]}}"#,
        r#"{"kind":"pal","form":"distance","prototypes":[[1,2]],"users":{"u":[1,2]}}"#,
        "not json",
    ] {
        assert_eq!(code(Head::from_json(bad)), "MODEL", "{bad}");
    }
    let err = head.score(&[1.0, 2.0, 3.0], &Context::default()).unwrap_err();
    assert_eq!(err.code(), "INVALID_OPTION");
    assert!(err.to_string().contains("response has 3 values, the head expects 2"), "{err}");
    assert_eq!(code(head.score(&[1.0, f32::NAN], &Context::default())), "INVALID_OPTION");
    assert_eq!(code(Embeddings::new(&[1.0, f32::INFINITY], 2)), "INVALID_OPTION");
    assert_eq!(code(Embeddings::new(&[1.0, 2.0, 3.0], 2)), "INVALID_OPTION");
    let e = Embeddings::new(&[1.0, 2.0, 3.0], 3).unwrap();
    assert_eq!(code(head.scores(&e, &Context::default())), "INVALID_OPTION");
    // Overflow is an error, never ∞.
    let huge = Head::Mlp(Mlp {
        layers: vec![Affine { weights: vec![vec![f32::MAX]], bias: vec![0.0] }; 9],
        activation: Activation::Relu,
    });
    assert_eq!(code(huge.score(&[f32::MAX], &Context::default())), "MODEL");
}

proptest! {
    #[test]
    fn heads_round_trip_and_give_complementary_finite_probabilities(kind in 0usize..7, d in 1usize..6, seed in 0u64..1_000_000) {
        let head = random_head(kind, d, seed);
        prop_assert_eq!(Head::from_json(&head.to_json()).unwrap(), head.clone());
        let mut s = Stream::new(seed, 2);
        let (a, b, prompt) = (normals(&mut s, d, 2.0), normals(&mut s, d, 2.0), normals(&mut s, d, 1.0));
        let context = Context { prompt: Some(&prompt), user: Some("u") };
        let pab = head.probability(&a, &b, &context).unwrap();
        let pba = head.probability(&b, &a, &context).unwrap();
        prop_assert!((0.0..=1.0).contains(&pab));
        prop_assert!((pab + pba - 1.0).abs() < 1e-12, "{} + {}", pab, pba);
        prop_assert_eq!(head.probability(&a, &a, &context).unwrap(), 0.5);
        if kind != 6 {
            let s = head.score(&a, &context).unwrap();
            prop_assert!(s.is_finite());
            let t = head.score(&b, &context).unwrap();
            prop_assert!((pab - sigmoid(s - t)).abs() < 1e-12);
        }
    }

    #[test]
    fn win_rate_selection_matches_reward_selection_under_a_bt_judge(scores in prop::collection::btree_set(-50i32..50, 1..9), rotate in 0usize..9) {
        let mut s: Vec<f64> = scores.iter().map(|v| f64::from(*v) / 10.0).collect();
        let shift = rotate % s.len();
        s.rotate_left(shift);
        let n = s.len();
        let p: Vec<f64> = (0..n * n).map(|k| sigmoid(s[k / n] - s[k % n])).collect();
        let best = best_score(&s).unwrap();
        prop_assert_eq!(best_win_rate(&p, n, WinRate::Spo).unwrap(), best);
        prop_assert_eq!(best_win_rate(&p, n, WinRate::Sppo).unwrap(), best);
        prop_assert_eq!(nash_mixture(&p, n).unwrap().best, best);
    }

    #[test]
    fn rps_never_loses_to_the_best_baseline(seed in 0u64..100_000, k in 1usize..6, theta in 0.0f64..1.5) {
        let mut s = Stream::new(seed, 3);
        let target = angle_direction(s.uniform() - 0.5);
        let mut pool: Vec<Tagged> = Vec::new();
        for d in sample_directions(target, k, theta, &mut s).unwrap().into_iter().chain(std::iter::repeat_n(target, k)) {
            pool.push(Tagged { direction: d.to_vec(), rewards: vec![s.normal(), s.normal()] });
        }
        let choice = select_rps(&pool, &target).unwrap();
        let baseline = choice.baseline.unwrap();
        let d = &pool[baseline].direction;
        prop_assert!((d[1].atan2(d[0]) - target[1].atan2(target[0])).abs() < 1e-12);
        prop_assert!(choice.score >= directional_reward(&target, &pool[baseline].rewards).unwrap());
        prop_assert_eq!(choice.index, best_direction(&pool.iter().map(|c| c.rewards.clone()).collect::<Vec<_>>(), &target).unwrap());
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Best-of-N

#[test]
fn rock_paper_scissors_is_a_three_way_tie_broken_by_index() {
    let p = [0.5, 1.0, 0.0, 0.0, 0.5, 1.0, 1.0, 0.0, 0.5];
    for rule in [WinRate::Spo, WinRate::Sppo] {
        assert_eq!(win_rates(&p, 3, rule).unwrap(), vec![0.5; 3]);
        assert_eq!(best_win_rate(&p, 3, rule).unwrap(), 0);
    }
    let mix = nash_mixture(&p, 3).unwrap();
    assert!(mix.probabilities.iter().all(|x| (x - 1.0 / 3.0).abs() < 1e-9), "{:?}", mix.probabilities);
    assert_eq!(mix.best, 0);
    assert!(mix.exploitability < 1e-12);
    let mut s = Stream::new(1, 0);
    assert!((0..50).all(|_| mix.sample(&mut s) < 3));
}

#[test]
fn nash_mixture_of_a_weighted_cycle_and_sppo_values() {
    // Spec 1.6: P(A≻B) = .9, P(B≻C) = .6, P(C≻A) = .7 → (1/7, 2/7, 4/7).
    let p = [0.5, 0.9, 0.3, 0.1, 0.5, 0.6, 0.7, 0.4, 0.5];
    let mix = nash_mixture(&p, 3).unwrap();
    for (x, e) in mix.probabilities.iter().zip([1.0 / 7.0, 2.0 / 7.0, 4.0 / 7.0]) {
        assert!((x - e).abs() < 1e-9, "{:?}", mix.probabilities);
    }
    assert_eq!(mix.best, 2);
    // Spec 1.7: s = (2, 1, 0, −1, 0.5) ⇒ SPPO's P̂ = (0.7764, 0.6007, 0.3993, 0.2236, 0.5), self term included.
    let s = [2.0, 1.0, 0.0, -1.0, 0.5];
    let p: Vec<f64> = (0..25).map(|k| sigmoid(s[k / 5] - s[k % 5])).collect();
    let rates = win_rates(&p, 5, WinRate::Sppo).unwrap();
    for (r, e) in rates.iter().zip([0.7764, 0.6007, 0.3993, 0.2236, 0.5]) {
        assert!((r - e).abs() < 5e-5, "{rates:?}");
    }
    let spo = win_rates(&p, 5, WinRate::Spo).unwrap();
    assert!((spo[4] - 0.5).abs() < 1e-12 && spo[0] > rates[0]);
    assert_eq!(code(win_rates(&[0.5, 1.5, -0.5, 0.5], 2, WinRate::Spo)), "INVALID_OPTION");
    assert_eq!(code(win_rates(&[], 0, WinRate::Spo)), "EMPTY");
}

#[test]
fn reward_vector_rules() {
    let rewards = vec![vec![1.0, -1.0], vec![0.2, 0.3], vec![0.9, 0.0], vec![0.2, 0.3]];
    assert_eq!(best_maxmin(&rewards).unwrap(), 1, "ties go to the lowest index");
    assert_eq!(best_weighted(&rewards, &[1.0, 0.1]).unwrap(), 0);
    assert_eq!(best_weighted(&rewards, &[1.0, 2.0]).unwrap(), 2);
    assert_eq!(code(best_weighted(&rewards, &[-1.0, 0.0])), "INVALID_OPTION");
    assert_eq!(code(best_weighted(&rewards, &[1.0])), "INVALID_OPTION");
    assert_eq!(code(best_score(&[])), "EMPTY");
    assert_eq!(code(best_score(&[1.0, f64::NAN])), "INVALID_OPTION");
}

#[test]
fn rps_with_zero_width_is_best_of_n_under_the_target() {
    let target = angle_direction(0.3);
    let mut s = Stream::new(4, 0);
    let directions = sample_directions(target, 5, 0.0, &mut s).unwrap();
    let v = unit_direction(&target).unwrap();
    assert!(directions.iter().all(|d| d.to_vec() == v));
    let wide = sample_directions(target, 200, 0.2, &mut s).unwrap();
    assert!(wide.iter().all(|d| (d[1].atan2(d[0]) - 0.3).abs() <= 0.2 + 1e-12));
    let pool: Vec<Tagged> =
        directions.iter().map(|d| Tagged { direction: d.to_vec(), rewards: vec![s.normal(), s.normal()] }).collect();
    let rewards: Vec<Vec<f64>> = pool.iter().map(|c| c.rewards.clone()).collect();
    let choice = select_rps(&pool, &target).unwrap();
    assert_eq!(choice.index, best_direction(&rewards, &target).unwrap());
    assert_eq!(choice.baseline, Some(choice.index));
    assert_eq!(code(sample_directions(target, 3, 4.0, &mut s)), "INVALID_OPTION");
}

// ---------------------------------------------------------------------------------------------------------------
// MAP

fn normal_rewards(seed: u64, m: usize, n: usize) -> Vec<Vec<f64>> {
    let mut s = Stream::new(seed, 0);
    (0..m).map(|_| (0..n).map(|_| s.normal()).collect()).collect()
}

#[test]
fn map_meets_the_palette_exactly() {
    // Spec 2.4: R ~ N(0, 1), 2 × 200, c = (0.5, 0.3) ⇒ E_w[r] = c (test the KKT equality, not λ).
    let r = normal_rewards(0, 2, 200);
    let sol = solve_map(&r, &[0.5, 0.3], &MapOptions::default()).unwrap();
    assert!(sol.kkt.satisfied, "{:?}", sol.kkt);
    assert_eq!(sol.kkt.active, vec![true, true]);
    for (e, c) in sol.expected.iter().zip([0.5, 0.3]) {
        assert!((e - c).abs() < 1e-6, "{:?}", sol.expected);
    }
    assert!((sol.weights.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    assert!(sol.lambda.iter().all(|l| *l > 0.0 && l.is_finite()));
    assert!(sol.iterations < 50, "Newton: {}", sol.iterations);
    // The dual is maximal: nudging λ lowers it.
    let dual = |l: &[f64]| {
        let z: Vec<f64> = (0..200).map(|j| l[0] * r[0][j] + l[1] * r[1][j]).collect();
        -(z.iter().map(|v| v.exp()).sum::<f64>() / 200.0).ln() + 0.5 * l[0] + 0.3 * l[1]
    };
    assert!((dual(&sol.lambda) - sol.dual).abs() < 1e-9);
    for (d0, d1) in [(1e-3, 0.0), (-1e-3, 0.0), (0.0, 1e-3), (0.0, -1e-3)] {
        assert!(dual(&[sol.lambda[0] + d0, sol.lambda[1] + d1]) < sol.dual);
    }
    assert_eq!(best_weighted(&transpose(&r), &sol.lambda).unwrap(), argmax_weight(&sol.weights));
}

fn transpose(r: &[Vec<f64>]) -> Vec<Vec<f64>> {
    (0..r[0].len()).map(|j| r.iter().map(|row| row[j]).collect()).collect()
}

fn argmax_weight(w: &[f64]) -> usize {
    (0..w.len()).fold(0, |b, j| if w[j] > w[b] { j } else { b })
}

#[test]
fn map_keeps_slack_constraints_inactive_and_reports_infeasible_palettes() {
    let r = normal_rewards(1, 2, 300);
    let sol = solve_map(&r, &[-5.0, 0.4], &MapOptions::default()).unwrap();
    assert_eq!(sol.lambda[0], 0.0);
    assert!(sol.kkt.satisfied && sol.expected[0] >= -5.0);
    assert!((sol.expected[1] - 0.4).abs() < 1e-8);
    // Below the base means: λ = 0, w uniform.
    let base = solve_map(&r, &[-5.0, -5.0], &MapOptions::default()).unwrap();
    assert_eq!(base.lambda, vec![0.0, 0.0]);
    // Above a row's maximum: unreachable.
    let top = r[0].iter().copied().fold(f64::MIN, f64::max);
    let err = solve_map(&r, &[top + 0.1, 0.0], &MapOptions::default()).unwrap_err();
    assert_eq!(err.code(), "INVALID_OPTION");
    assert!(err.to_string().contains("palette") && err.to_string().contains("unreachable"), "{err}");
    // Jointly unreachable though each coordinate alone is reachable: the certificate comes from λ's direction.
    let corner = vec![vec![1.0, 0.0, -1.0], vec![0.0, 1.0, -1.0]];
    assert_eq!(code(solve_map(&corner, &[0.9, 0.9], &MapOptions::default())), "INVALID_OPTION");
    assert_eq!(code(solve_map(&corner, &[0.9], &MapOptions::default())), "INVALID_OPTION");
    assert_eq!(code(solve_map(&[], &[], &MapOptions::default())), "EMPTY");
}

// ---------------------------------------------------------------------------------------------------------------
// Fitting

/// `n` unit vectors of dimension d.
fn unit_rows(s: &mut Stream, n: usize, d: usize) -> Vec<f32> {
    (0..n)
        .flat_map(|_| {
            let v: Vec<f64> = (0..d).map(|_| s.normal()).collect();
            let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
            v.into_iter().map(move |x| (x / norm) as f32).collect::<Vec<_>>()
        })
        .collect()
}

/// Votes on random pairs of `rows` rows, a beating b with probability σ(logit(a, b)).
fn votes(s: &mut Stream, rows: usize, count: usize, logit: impl Fn(usize, usize) -> f64) -> Vec<Vote> {
    (0..count)
        .map(|_| {
            let a = s.below(rows as u32) as usize;
            let b = s.below(rows as u32) as usize;
            Vote::new(a, b, f64::from(u8::from(s.uniform() < sigmoid(logit(a, b)))))
        })
        .collect()
}

fn cosine(a: &[f64], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    dot / (a.iter().map(|x| x * x).sum::<f64>().sqrt() * b.iter().map(|x| x * x).sum::<f64>().sqrt())
}

#[test]
fn pooled_linear_fit_recovers_the_generating_weights() {
    let (d, n) = (16, 2000);
    let mut s = Stream::new(21, 0);
    let data = unit_rows(&mut s, n, d);
    let e = Embeddings::new(&data, d).unwrap();
    let w: Vec<f64> = (0..d).map(|_| 3.0 * s.normal()).collect();
    let score = |i: usize| -> f64 { e.row(i).iter().zip(&w).map(|(x, y)| f64::from(*x) * y).sum() };
    let train = votes(&mut s, n, 6000, |a, b| score(a) - score(b));
    let validation = votes(&mut s, n, 1000, |a, b| score(a) - score(b));
    let (head, report) = fit_pairwise(&e, &train, &validation, &FitOptions::default()).unwrap();
    let Head::Linear(linear) = &head else { panic!("a linear head") };
    let fitted: Vec<f64> = linear.weights.iter().map(|v| f64::from(*v)).collect();
    assert!(cosine(&fitted, &w) > 0.95, "cosine {}", cosine(&fitted, &w));
    let v = report.validation.unwrap();
    assert!(v.accuracy > 0.7 && v.loss.is_finite() && report.train.loss.is_finite(), "{report:?}");
    assert!(report.best_iteration <= report.iterations);
    // The same data, no validation: runs to convergence.
    let (_, full) = fit_pairwise(&e, &train, &[], &FitOptions::default()).unwrap();
    assert!(full.converged && full.validation.is_none(), "{full:?}");
}

#[test]
fn early_stopping_and_errors() {
    let mut s = Stream::new(5, 0);
    let data = unit_rows(&mut s, 50, 8);
    let e = Embeddings::new(&data, 8).unwrap();
    // Pure noise: validation loss stops improving quickly; the result stays finite.
    let train = votes(&mut s, 50, 200, |_, _| 0.0);
    let validation = votes(&mut s, 50, 100, |_, _| 0.0);
    let options = FitOptions { l2: 0.0, patience: 3, ..FitOptions::default() };
    let (head, report) = fit_pairwise(&e, &train, &validation, &options).unwrap();
    assert!(report.iterations <= report.best_iteration + 3, "{report:?}");
    assert!(report.train.loss.is_finite() && report.validation.unwrap().loss.is_finite());
    assert!(head.scores(&e, &Context::default()).unwrap().iter().all(|v| v.is_finite()));
    let o = FitOptions::default();
    assert_eq!(code(fit_pairwise(&e, &[], &[], &o)), "EMPTY");
    assert_eq!(code(fit_pairwise(&e, &[Vote { weight: 0.0, ..Vote::new(0, 1, 1.0) }], &[], &o)), "EMPTY");
    let err = fit_pairwise(&e, &[Vote::new(0, 50, 1.0)], &[], &o).unwrap_err();
    assert_eq!(err.code(), "INVALID_OPTION");
    assert!(err.to_string().contains("vote 0"), "{err}");
    assert_eq!(code(fit_pairwise(&e, &[Vote::new(0, 1, 1.5)], &[], &o)), "INVALID_OPTION");
    assert_eq!(code(fit_pairwise(&e, &train, &[Vote::new(99, 1, 1.0)], &o)), "INVALID_OPTION");
}

#[test]
fn mlp_fit_learns_a_nonlinear_preference() {
    // Preference for responses near ±u (an even function): a linear head cannot express it.
    let (d, n) = (6, 600);
    let mut s = Stream::new(8, 0);
    let data = unit_rows(&mut s, n, d);
    let e = Embeddings::new(&data, d).unwrap();
    let score = |i: usize| 8.0 * f64::from(e.row(i)[0]).powi(2);
    let train = votes(&mut s, n, 3000, |a, b| score(a) - score(b));
    let validation = votes(&mut s, n, 1000, |a, b| score(a) - score(b));
    let mlp = FitOptions { hidden: 16, activation: Activation::Gelu, ..FitOptions::default() };
    let (head, report) = fit_pairwise(&e, &train, &validation, &mlp).unwrap();
    let (_, linear) = fit_pairwise(&e, &train, &validation, &FitOptions::default()).unwrap();
    let (m, l) = (report.validation.unwrap().accuracy, linear.validation.unwrap().accuracy);
    assert!(m > l + 0.1, "mlp {m} vs linear {l}");
    assert!(matches!(head, Head::Mlp(_)));
    assert_eq!(Head::from_json(&head.to_json()).unwrap(), head);
}

/// Two user groups with ideal points at ±e_1 (PAL-A's model): items are N(0, I) in 4 dims, user u of group g votes
/// a ≻ b with probability σ(‖f_b − a_g‖ − ‖f_a − a_g‖).
struct Groups {
    data: Vec<f32>,
    d: usize,
}

impl Groups {
    fn new(s: &mut Stream, n: usize) -> Self {
        let d = 4;
        Self { data: normals(s, n * d, 1.5), d }
    }

    fn logit(&self, group: usize, a: usize, b: usize) -> f64 {
        let ideal = if group == 0 { 1.0 } else { -1.0 };
        let dist = |i: usize| -> f64 {
            let row = &self.data[i * self.d..(i + 1) * self.d];
            row.iter()
                .enumerate()
                .map(|(k, x)| (f64::from(*x) - if k == 0 { ideal } else { 0.0 }).powi(2))
                .sum::<f64>()
                .sqrt()
        };
        dist(b) - dist(a)
    }
}

#[test]
fn pal_recovers_two_groups_and_beats_a_pooled_head_for_a_new_user() {
    let mut s = Stream::new(13, 0);
    let n = 400;
    let groups = Groups::new(&mut s, n);
    let e = Embeddings::new(&groups.data, groups.d).unwrap();
    let users: Vec<String> = (0..20).map(|u| format!("user{u}")).collect();
    let mut all: Vec<(usize, Vote)> = Vec::new();
    for u in 0..users.len() {
        for v in votes(&mut s, n, 300, |a, b| groups.logit(u % 2, a, b)) {
            all.push((u, v));
        }
    }
    let (pal, report) = fit_pal(&e, &users, &all, &PalOptions::default()).unwrap();
    assert!(report.train.loss.is_finite());
    let top = |u: &str| -> (usize, f64) {
        let w = pal.user_weights(u).unwrap();
        if w[0] >= w[1] {
            (0, w[0])
        } else {
            (1, w[1])
        }
    };
    let (even, odd) = (top("user0").0, top("user1").0);
    assert_ne!(even, odd, "the two groups use different prototypes");
    let mut weights = Vec::new();
    for (u, name) in users.iter().enumerate() {
        let (k, w) = top(name);
        assert_eq!(k, if u % 2 == 0 { even } else { odd }, "{name}");
        weights.push(w);
    }
    // Nearly one-hot: each user's 300 noisy votes leave some spread in their own ideal point.
    let mean = weights.iter().sum::<f64>() / weights.len() as f64;
    assert!(mean > 0.93 && weights.iter().all(|w| *w > 0.8), "{weights:?}");
    // The ideal points sit near ±e_1.
    for (name, sign) in [("user0", 1.0), ("user1", -1.0)] {
        let a = pal.ideal_point(name).unwrap();
        let along = sign * a[0];
        let across = a[1..].iter().map(|x| x * x).sum::<f64>().sqrt();
        assert!((0.7..1.3).contains(&along) && across < 0.2, "{name}: {a:?}");
    }

    // A new user of group 0 with 40 votes, against a pooled BT head on everyone's votes.
    let mine = votes(&mut s, n, 40, |a, b| groups.logit(0, a, b));
    let (personal, _) = fit_personal(&pal, &e, "new", &mine, &PersonalOptions::default()).unwrap();
    assert!(personal.users.contains_key("new") && personal.users.len() == users.len() + 1);
    let pooled_votes: Vec<Vote> = all.iter().map(|(_, v)| *v).chain(mine.iter().copied()).collect();
    let (pooled, _) = fit_pairwise(&e, &pooled_votes, &[], &FitOptions::default()).unwrap();
    let held_out = votes(&mut s, n, 3000, |a, b| groups.logit(0, a, b));
    let context = Context { prompt: None, user: Some("new") };
    let mine_acc = evaluate(&Head::Pal(personal.clone()), &e, &held_out, &context).unwrap().accuracy;
    let pooled_acc = evaluate(&pooled, &e, &held_out, &Context::default()).unwrap().accuracy;
    assert!(mine_acc > pooled_acc + 0.1, "personal {mine_acc} vs pooled {pooled_acc}");
    let w = personal.user_weights("new").unwrap();
    assert!(w[even] > 0.65, "40 votes put the new user in group 0's prototype: {w:?}");

    // Errors: PAL-B heads, unknown users, duplicate names, out-of-range indices.
    let Head::Pal(angle) = random_head(5, 4, 1) else { unreachable!() };
    assert_eq!(code(fit_personal(&angle, &e, "x", &mine, &PersonalOptions::default())), "INVALID_OPTION");
    assert_eq!(code(fit_personal(&pal, &e, "x", &[], &PersonalOptions::default())), "EMPTY");
    let twice = vec!["a".to_string(), "a".to_string()];
    assert_eq!(code(fit_pal(&e, &twice, &all[..1], &PalOptions::default())), "INVALID_OPTION");
    assert_eq!(code(fit_pal(&e, &users[..1], &[(1, Vote::new(0, 1, 1.0))], &PalOptions::default())), "INVALID_OPTION");
}
