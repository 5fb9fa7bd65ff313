//! Nash equilibrium / maximal lottery (spec 1.6): the spec's worked examples, the solvers against the exact LP on
//! random games, the two margin conventions, degenerate inputs and LLMFAO.

mod common;

use std::time::Instant;

use arbiter::rank::nash::{
    exploitability, fixed_point_residual, multiplicative_weights, nash, payoff, population, solve, solve_exact, Impute,
    Margins, MatrixOptions, NashBattleOptions, NashOptions, Solver,
};
use arbiter::rng::Stream;
use arbiter::{rank, Battles, Outcome, RankOptions};

/// A = P − ½ from the upper triangle of P (P_ij for i < j).
fn from_upper(n: usize, upper: &[(usize, usize, f64)]) -> Vec<f64> {
    let mut a = vec![0.0; n * n];
    for &(i, j, p) in upper {
        a[i * n + j] = p - 0.5;
        a[j * n + i] = 0.5 - p;
    }
    a
}

/// Rock-paper-scissors: 0 beats 1, 1 beats 2, 2 beats 0, surely.
fn rps() -> Vec<f64> {
    from_upper(3, &[(0, 1, 1.0), (1, 2, 1.0), (0, 2, 0.0)])
}

/// P(A≻B) = .9, P(B≻C) = .6, P(C≻A) = .7.
fn weighted_cycle() -> Vec<f64> {
    from_upper(3, &[(0, 1, 0.9), (1, 2, 0.6), (0, 2, 0.3)])
}

fn close(x: &[f64], y: &[f64], tol: f64) -> bool {
    x.len() == y.len() && x.iter().zip(y).all(|(p, q)| (p - q).abs() <= tol)
}

fn kl_uniform(x: &[f64]) -> f64 {
    let n = x.len() as f64;
    x.iter().filter(|p| **p > 0.0).map(|p| p * (p * n).ln()).sum()
}

/// Both solvers on one matrix: the extragradient (default options) and the simplex.
fn both(a: &[f64], n: usize) -> [arbiter::rank::nash::Equilibrium; 2] {
    [solve(a, n, &NashOptions::default()).unwrap(), solve_exact(a, n).unwrap()]
}

#[test]
fn rock_paper_scissors_is_uniform() {
    for eq in both(&rps(), 3) {
        assert!(close(&eq.probabilities, &[1.0 / 3.0; 3], 1e-9), "{:?}", eq.probabilities);
        assert!(eq.exploitability < 1e-12, "{}", eq.exploitability);
        assert!(eq.value.abs() < 1e-12);
        assert_eq!(eq.support, vec![0, 1, 2]);
        assert!(eq.converged);
    }
    assert_eq!(exploitability(&rps(), 3, &[1.0 / 3.0; 3], 0.0, None).unwrap(), 0.0);
}

#[test]
fn weighted_cycle_is_one_two_four_sevenths() {
    for eq in both(&weighted_cycle(), 3) {
        assert!(close(&eq.probabilities, &[1.0 / 7.0, 2.0 / 7.0, 4.0 / 7.0], 1e-9), "{:?}", eq.probabilities);
        assert!(eq.exploitability < 1e-12);
    }
}

#[test]
fn general_three_cycle_is_proportional_to_opposite_margins() {
    // Margins x = P_AB − ½, z = P_BC − ½, y = P_CA − ½ give the NE ∝ (z, y, x).
    let mut rng = Stream::new(7, 0);
    for _ in 0..20 {
        let (x, z, y) = (0.01 + 0.49 * rng.uniform(), 0.01 + 0.49 * rng.uniform(), 0.01 + 0.49 * rng.uniform());
        let a = from_upper(3, &[(0, 1, 0.5 + x), (1, 2, 0.5 + z), (0, 2, 0.5 - y)]);
        let s = x + y + z;
        for eq in both(&a, 3) {
            assert!(close(&eq.probabilities, &[z / s, y / s, x / s], 1e-8), "{:?}", eq.probabilities);
        }
    }
}

#[test]
fn condorcet_winner_is_pure() {
    let a = from_upper(3, &[(0, 1, 0.8), (0, 2, 0.6), (1, 2, 0.7)]);
    for eq in both(&a, 3) {
        assert!(close(&eq.probabilities, &[1.0, 0.0, 0.0], 1e-8), "{:?}", eq.probabilities);
        assert_eq!(eq.support, vec![0]);
        assert!(eq.exploitability < 1e-8);
    }
}

#[test]
fn dominated_option_gets_no_mass() {
    let a = from_upper(4, &[(0, 1, 1.0), (1, 2, 1.0), (0, 2, 0.0), (0, 3, 0.9), (1, 3, 0.8), (2, 3, 0.7)]);
    for eq in both(&a, 4) {
        let third = 1.0 / 3.0;
        assert!(close(&eq.probabilities, &[third, third, third, 0.0], 1e-8), "{:?}", eq.probabilities);
        assert_eq!(eq.support, vec![0, 1, 2]);
    }
}

#[test]
fn regularised_weighted_cycle() {
    let a = weighted_cycle();
    let options = NashOptions { beta: 0.1, tolerance: 1e-14, ..NashOptions::default() };
    let eq = solve(&a, 3, &options).unwrap();
    assert!(eq.converged, "{eq:?}");
    assert!(close(&eq.probabilities, &[0.28131, 0.19767, 0.52102], 5e-6), "{:?}", eq.probabilities);
    let residual = fixed_point_residual(&a, 3, &eq.probabilities, 0.1, None).unwrap();
    assert!(residual < 1e-12, "{residual}");
    assert!(exploitability(&a, 3, &eq.probabilities, 0.1, None).unwrap() < 1e-12);
    // The β = 0 equilibrium is not the regularised one: its gap is positive in the regularised game.
    let plain = [1.0 / 7.0, 2.0 / 7.0, 4.0 / 7.0];
    assert!(exploitability(&a, 3, &plain, 0.1, None).unwrap() > 1e-3);
    assert!(fixed_point_residual(&a, 3, &plain, 0.1, None).unwrap() > 1e-3);
    // An explicit uniform μ is the default.
    let with_mu = NashOptions { mu: Some(vec![2.0; 3]), ..options };
    assert!(close(&solve(&a, 3, &with_mu).unwrap().probabilities, &eq.probabilities, 1e-15));
}

#[test]
fn mwu_last_iterate_cycles_and_extragradient_converges() {
    let a = rps();
    let x0 = [0.5, 0.3, 0.2];
    assert!((kl_uniform(&x0) - 0.069).abs() < 5e-4);
    let (last, average) = multiplicative_weights(&a, 3, &x0, 0.5, 5000).unwrap();
    let kl = kl_uniform(&last);
    assert!((kl - 1.09).abs() < 0.01, "MWU last-iterate KL {kl}");
    assert!(close(&average, &[0.329, 0.339, 0.332], 1e-3), "{average:?}");
    // Extragradient with the same step (η / max|A| = 0.5), no exact finish, from the same start… via μ.
    let options = NashOptions {
        eta: 0.25,
        mu: Some(x0.to_vec()),
        polish: false,
        iterations: 5000,
        tolerance: 0.0,
        ..NashOptions::default()
    };
    let eg = solve(&a, 3, &options).unwrap();
    assert!(kl_uniform(&eg.probabilities) < 1e-12, "{:?}", eg.probabilities);
}

fn random_skew(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = Stream::new(seed, n as u32);
    let mut a = vec![0.0; n * n];
    for i in 0..n {
        for j in i + 1..n {
            let v = rng.uniform() - 0.5;
            a[i * n + j] = v;
            a[j * n + i] = -v;
        }
    }
    a
}

#[test]
fn extragradient_matches_the_exact_solver_on_random_games() {
    for (n, seed) in [(7, 1), (7, 2), (13, 3), (13, 4), (59, 5), (59, 6)] {
        let a = random_skew(n, seed);
        let exact = solve_exact(&a, n).unwrap();
        let eg = solve(&a, n, &NashOptions::default()).unwrap();
        assert!(exact.converged && eg.converged, "n={n}");
        assert!(exact.exploitability < 1e-12, "n={n}: {}", exact.exploitability);
        assert!(eg.exploitability <= 1e-6, "n={n}: {}", eg.exploitability);
        assert!((exact.exploitability - eg.exploitability).abs() <= 1e-6);
        // Random games have a unique equilibrium: the lotteries agree too.
        assert!(close(&exact.probabilities, &eg.probabilities, 1e-6), "n={n}");
        assert_eq!(exact.support, eg.support, "n={n}");
        assert!((exact.probabilities.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }
}

#[test]
fn plain_extragradient_converges_on_small_random_games() {
    // Without the exact finish the last iterate still gets there, only more slowly.
    for (n, seed) in [(7, 1), (13, 3)] {
        let a = random_skew(n, seed);
        let options = NashOptions { polish: false, eta: 2.0, iterations: 200_000, ..NashOptions::default() };
        let eg = solve(&a, n, &options).unwrap();
        assert!(eg.converged && eg.exploitability <= 1e-6, "{eg:?}");
        assert!(eg.iterations > 16, "{}", eg.iterations);
        assert!(close(&eg.probabilities, &solve_exact(&a, n).unwrap().probabilities, 1e-4));
    }
}

#[test]
fn scale_does_not_change_the_plain_equilibrium() {
    let a = random_skew(13, 9);
    let big: Vec<f64> = a.iter().map(|v| v * 1000.0).collect();
    let (x, y) = (solve_exact(&a, 13).unwrap(), solve_exact(&big, 13).unwrap());
    assert!(close(&x.probabilities, &y.probabilities, 1e-9));
    let z = solve(&big, 13, &NashOptions { tolerance: 1e-3, ..NashOptions::default() }).unwrap();
    assert!(close(&x.probabilities, &z.probabilities, 1e-6));
}

fn battles(rows: &[(&str, &str, Outcome, u32)]) -> Battles {
    let mut b = Battles::new();
    for &(x, y, o, c) in rows {
        b.push(x, y, o, c).unwrap();
    }
    b
}

#[test]
fn margin_conventions_differ_with_unequal_pair_counts() {
    // A beats B 3–0, B beats C 10–0, C beats A 60–40.
    let b = battles(&[
        ("A", "B", Outcome::A, 3),
        ("B", "C", Outcome::A, 10),
        ("C", "A", Outcome::A, 60),
        ("C", "A", Outcome::B, 40),
    ]);
    let fishburn = MatrixOptions { margins: Margins::Fishburn, ..MatrixOptions::default() };
    let pf = payoff(&b, &fishburn).unwrap();
    assert_eq!(pf.matrix, vec![0.0, 3.0, -20.0, -3.0, 0.0, 10.0, 20.0, -10.0, 0.0]);
    let pn = payoff(&b, &MatrixOptions::default()).unwrap();
    assert!((pn.matrix[1] - (3.5 / 4.0 - 0.5)).abs() < 1e-15);
    assert!((pn.matrix[5] - (10.5 / 11.0 - 0.5)).abs() < 1e-15);
    assert!((pn.matrix[6] - (60.5 / 101.0 - 0.5)).abs() < 1e-15);
    let f = solve_exact(&pf.matrix, 3).unwrap().probabilities;
    assert!(close(&f, &[10.0 / 33.0, 20.0 / 33.0, 3.0 / 33.0], 1e-12), "{f:?}");
    let (x, z, y) = (pn.matrix[1], pn.matrix[5], pn.matrix[6]);
    let s = x + y + z;
    let nl = solve_exact(&pn.matrix, 3).unwrap().probabilities;
    assert!(close(&nl, &[z / s, y / s, x / s], 1e-12), "{nl:?}");
    assert!((f[1] - nl[1]).abs() > 0.3);
    // Through nash(): same answers, and both solvers agree.
    for solver in [Solver::Auto, Solver::Exact, Solver::Extragradient] {
        let o = NashBattleOptions { matrix: fishburn.clone(), solver, ..NashBattleOptions::default() };
        let r = nash(&b, &o).unwrap();
        assert!(close(&r.probabilities, &f, 1e-9), "{solver:?}");
        assert_ne!(r.solver, Solver::Auto);
    }
}

#[test]
fn ties_both_bad_and_weights_count() {
    let b = battles(&[("A", "B", Outcome::Tie, 2), ("A", "B", Outcome::BothBad, 2), ("A", "B", Outcome::A, 1)]);
    let p = payoff(&b, &MatrixOptions { alpha: 0.0, ..MatrixOptions::default() }).unwrap();
    assert!((p.matrix[1] - (3.0 / 5.0 - 0.5)).abs() < 1e-15);
    let f = payoff(&b, &MatrixOptions { margins: Margins::Fishburn, ..MatrixOptions::default() }).unwrap();
    assert_eq!(f.matrix[1], 1.0);
}

#[test]
fn unobserved_pairs_are_even_or_imputed() {
    // A–B and B–C met, A–C never did; a chain A > B > C.
    let b = battles(&[
        ("A", "B", Outcome::A, 6),
        ("A", "B", Outcome::B, 2),
        ("B", "C", Outcome::A, 6),
        ("B", "C", Outcome::B, 2),
    ]);
    let half = payoff(&b, &MatrixOptions::default()).unwrap();
    assert_eq!(half.matrix[2], 0.0);
    assert_eq!((half.observed_pairs, half.unobserved_pairs), (2, 1));
    let bt = payoff(&b, &MatrixOptions { impute: Impute::Bt, ..MatrixOptions::default() }).unwrap();
    // BT: θ_A − θ_B = θ_B − θ_C = ln 3, so P(A ≻ C) = 9/10.
    assert!((bt.matrix[2] - 0.4).abs() < 1e-9, "{}", bt.matrix[2]);
    assert_eq!(bt.matrix[6], -bt.matrix[2]);
    for p in [half, bt] {
        let eq = solve_exact(&p.matrix, 3).unwrap();
        assert!(close(&eq.probabilities, &[1.0, 0.0, 0.0], 1e-12));
    }
}

#[test]
fn undefeated_and_disconnected_data_give_finite_answers() {
    // Two groups that never meet: {A, B} (A undefeated) and {C, D} (C undefeated).
    let b = battles(&[("A", "B", Outcome::A, 5), ("C", "D", Outcome::A, 4), ("C", "D", Outcome::Tie, 1)]);
    for margins in [Margins::Nlhf, Margins::Fishburn] {
        for impute in [Impute::Half, Impute::Bt] {
            let matrix = MatrixOptions { margins, impute, ..MatrixOptions::default() };
            for solver in [Solver::Exact, Solver::Extragradient] {
                let r = nash(&b, &NashBattleOptions { matrix: matrix.clone(), solver, ..Default::default() }).unwrap();
                assert!(r.probabilities.iter().all(|p| p.is_finite() && *p >= 0.0));
                assert!((r.probabilities.iter().sum::<f64>() - 1.0).abs() < 1e-12);
                assert!(r.exploitability.is_finite() && r.exploitability <= 1e-6, "{r:?}");
                assert!(r.pure_exploitability.iter().all(|v| v.is_finite()));
                // B and D are beaten by their group's winner and never get mass.
                assert!(r.probabilities[1] < 1e-6 && r.probabilities[3] < 1e-6, "{:?}", r.probabilities);
                // A and C never met: every mix of the two is an equilibrium (BT imputes A over C: then A alone).
                assert_eq!(r.unique, impute == Impute::Bt && margins == Margins::Nlhf, "{r:?}");
                assert!(!r.warnings.is_empty());
                assert!(serde_json::to_string(&r).is_ok());
            }
        }
    }
}

#[test]
fn regularised_nash_on_battles() {
    let b = battles(&[
        ("A", "B", Outcome::A, 9),
        ("A", "B", Outcome::B, 1),
        ("B", "C", Outcome::A, 6),
        ("B", "C", Outcome::B, 4),
        ("C", "A", Outcome::A, 7),
        ("C", "A", Outcome::B, 3),
    ]);
    let o = NashBattleOptions {
        matrix: MatrixOptions { alpha: 0.0, ..MatrixOptions::default() },
        nash: NashOptions { beta: 0.1, tolerance: 1e-13, ..NashOptions::default() },
        ..NashBattleOptions::default()
    };
    let r = nash(&b, &o).unwrap();
    assert_eq!(r.solver, Solver::Extragradient);
    assert!(close(&r.probabilities, &[0.28131, 0.19767, 0.52102], 5e-6), "{:?}", r.probabilities);
    let exact = NashBattleOptions { solver: Solver::Exact, ..o };
    assert_eq!(nash(&b, &exact).unwrap_err().code(), "INVALID_OPTION");
}

#[test]
fn population_is_the_weighted_mean() {
    let (rps, cycle) = (rps(), weighted_cycle());
    let mean = population(&[(1.0, rps.clone()), (3.0, cycle.clone())]).unwrap();
    for k in 0..9 {
        assert!((mean[k] - (0.25 * rps[k] + 0.75 * cycle[k])).abs() < 1e-15);
    }
    let eq = solve_exact(&mean, 3).unwrap();
    assert!(eq.exploitability < 1e-12);
    // Against each judge alone the population's NE is exploitable; against the mixture it is not.
    assert!(exploitability(&cycle, 3, &eq.probabilities, 0.0, None).unwrap() > 1e-3);
    let one = population(&[(2.0, cycle.clone())]).unwrap();
    assert_eq!(one, cycle);
    assert_eq!(population(&[]).unwrap_err().code(), "EMPTY");
    assert_eq!(population(&[(0.0, rps.clone())]).unwrap_err().code(), "INVALID_OPTION");
    assert_eq!(population(&[(f64::NAN, rps.clone())]).unwrap_err().code(), "INVALID_OPTION");
    assert_eq!(population(&[(1.0, rps.clone()), (1.0, vec![0.0; 4])]).unwrap_err().code(), "INVALID_OPTION");
    assert_eq!(population(&[(1.0, vec![f64::NAN; 9])]).unwrap_err().code(), "INVALID_OPTION");
}

#[test]
fn bad_and_degenerate_inputs() {
    let code = |r: arbiter::Result<arbiter::rank::nash::Equilibrium>| r.unwrap_err().code();
    // Empty and one-model games.
    assert_eq!(code(solve_exact(&[], 0)), "EMPTY");
    assert_eq!(code(solve(&[], 0, &NashOptions::default())), "EMPTY");
    for eq in [solve_exact(&[0.0], 1).unwrap(), solve(&[0.0], 1, &NashOptions::default()).unwrap()] {
        assert_eq!(eq.probabilities, vec![1.0]);
        assert_eq!(eq.exploitability, 0.0);
        assert_eq!(eq.support, vec![0]);
    }
    // A zero game: every lottery is an equilibrium; the start point (uniform) is returned.
    let eq = solve_exact(&[0.0; 4], 2).unwrap();
    assert_eq!(eq.probabilities, vec![0.5, 0.5]);
    // NaN, infinity, wrong size, not skew-symmetric.
    let mut nan = rps();
    nan[1] = f64::NAN;
    assert_eq!(code(solve_exact(&nan, 3)), "INVALID_OPTION");
    assert_eq!(code(solve(&nan, 3, &NashOptions::default())), "INVALID_OPTION");
    let mut inf = rps();
    inf[1] = f64::INFINITY;
    assert_eq!(code(solve_exact(&inf, 3)), "INVALID_OPTION");
    assert_eq!(code(solve_exact(&rps(), 4)), "INVALID_OPTION");
    let p = [0.5, 0.9, 0.1, 0.5];
    assert_eq!(code(solve_exact(&p, 2)), "INVALID_OPTION");
    // Bad options.
    let bad = |o: NashOptions| code(solve(&rps(), 3, &o));
    assert_eq!(bad(NashOptions { beta: -1.0, ..NashOptions::default() }), "INVALID_OPTION");
    assert_eq!(bad(NashOptions { beta: f64::NAN, ..NashOptions::default() }), "INVALID_OPTION");
    assert_eq!(bad(NashOptions { eta: 0.0, ..NashOptions::default() }), "INVALID_OPTION");
    assert_eq!(bad(NashOptions { tolerance: f64::NAN, ..NashOptions::default() }), "INVALID_OPTION");
    assert_eq!(bad(NashOptions { mu: Some(vec![1.0, 0.0, 1.0]), ..NashOptions::default() }), "INVALID_OPTION");
    assert_eq!(bad(NashOptions { mu: Some(vec![1.0; 2]), ..NashOptions::default() }), "INVALID_OPTION");
    assert_eq!(exploitability(&rps(), 3, &[f64::NAN; 3], 0.0, None).unwrap_err().code(), "INVALID_OPTION");
    assert_eq!(exploitability(&rps(), 3, &[0.0; 3], 0.0, None).unwrap_err().code(), "INVALID_OPTION");
    assert_eq!(fixed_point_residual(&rps(), 3, &[1.0; 2], 0.1, None).unwrap_err().code(), "INVALID_OPTION");
    assert_eq!(multiplicative_weights(&rps(), 3, &[1.0; 3], -1.0, 5).unwrap_err().code(), "INVALID_OPTION");
    // Zero iterations: the start point, not converged, still finite.
    let eq = solve(&weighted_cycle(), 3, &NashOptions { iterations: 0, polish: false, ..NashOptions::default() });
    let eq = eq.unwrap();
    assert!(!eq.converged && eq.exploitability.is_finite());
    // Battles: none, and bad matrix options.
    assert_eq!(payoff(&Battles::new(), &MatrixOptions::default()).unwrap_err().code(), "EMPTY");
    assert_eq!(nash(&Battles::new(), &NashBattleOptions::default()).unwrap_err().code(), "EMPTY");
    let b = battles(&[("A", "B", Outcome::A, 1)]);
    let alpha = MatrixOptions { alpha: -1.0, ..MatrixOptions::default() };
    assert_eq!(payoff(&b, &alpha).unwrap_err().code(), "INVALID_OPTION");
    // A set whose only records have count 0 has nothing to fit.
    let zero = battles(&[("A", "B", Outcome::A, 0)]);
    assert_eq!(nash(&zero, &NashBattleOptions::default()).map(|r| r.probabilities).unwrap_err().code(), "EMPTY");
}

/// Exploitabilities of every model's point mass, for the BT #1.
fn bt_top(battles: &Battles) -> usize {
    let board = rank(battles, &RankOptions::default()).unwrap();
    battles.model_id(&board.models[0].model).unwrap()
}

#[test]
fn llmfao_solvers_agree() {
    let b = common::llmfao("crowd-comparisons.csv");
    for (margins, impute) in
        [(Margins::Nlhf, Impute::Half), (Margins::Fishburn, Impute::Half), (Margins::Nlhf, Impute::Bt)]
    {
        let p = payoff(&b, &MatrixOptions { margins, impute, ..MatrixOptions::default() }).unwrap();
        assert_eq!((p.observed_pairs, p.unobserved_pairs), (927, 1711 - 927));
        let exact = solve_exact(&p.matrix, p.n).unwrap();
        let eg = solve(&p.matrix, p.n, &NashOptions::default()).unwrap();
        let scale = p.matrix.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(exact.converged && eg.converged);
        assert!(exact.exploitability <= 1e-12 * scale, "{margins:?}: {}", exact.exploitability);
        assert!(eg.exploitability <= 1e-6, "{margins:?}: {}", eg.exploitability);
        assert!((exact.exploitability - eg.exploitability).abs() <= 1e-6);
        if impute == Impute::Bt {
            // Imputed margins: one equilibrium, which both solvers find.
            assert!(exact.unique && eg.unique);
            assert!(close(&exact.probabilities, &eg.probabilities, 1e-6));
            assert_eq!(exact.support, eg.support);
        } else {
            // Margin 0 on the 784 pairs that never met leaves a face of equilibria (scipy's HiGHS: 31 models can
            // carry mass): neither answer is certified unique.
            assert!(!exact.unique);
        }
    }
}

#[test]
fn report_nash_llmfao() {
    let files = ["crowd-comparisons.csv", "gpt4-crowd-comparisons.csv", "gpt3-crowd-comparisons.csv"];
    for file in files {
        let b = common::llmfao(file);
        let top = bt_top(&b);
        eprintln!("== {file}: {} battles, {} models, BT #1 = {}", b.len(), b.models().len(), b.models()[top]);
        for (margins, impute) in
            [(Margins::Nlhf, Impute::Half), (Margins::Fishburn, Impute::Half), (Margins::Nlhf, Impute::Bt)]
        {
            let matrix = MatrixOptions { margins, impute, ..MatrixOptions::default() };
            for solver in [Solver::Exact, Solver::Extragradient] {
                let o = NashBattleOptions { matrix: matrix.clone(), solver, ..NashBattleOptions::default() };
                let start = Instant::now();
                let r = nash(&b, &o).unwrap();
                let ms = start.elapsed().as_secs_f64() * 1e3;
                assert!(r.converged && r.exploitability <= 1e-6, "{margins:?} {impute:?} {solver:?} {r:?}");
                let mut support: Vec<(usize, f64)> = r.support.iter().map(|&i| (i, r.probabilities[i])).collect();
                support.sort_by(|x, y| y.1.total_cmp(&x.1));
                let shown: Vec<String> = support.iter().map(|(i, p)| format!("{} {:.4}", r.models[*i], p)).collect();
                eprintln!(
                    "{margins:?}/{impute:?} {solver:?}: {ms:.2} ms (debug), {} iterations, exploitability {:.2e}, value \
                     {:.2e}, unique {}, support {}: {}",
                    r.iterations,
                    r.exploitability,
                    r.value,
                    r.unique,
                    r.support.len(),
                    shown.join(", ")
                );
                if solver == Solver::Exact {
                    let p = payoff(&b, &matrix).unwrap();
                    let mut e = vec![0.0; p.n];
                    e[top] = 1.0;
                    let point = exploitability(&p.matrix, p.n, &e, 0.0, None).unwrap();
                    assert!((point - r.pure_exploitability[top]).abs() < 1e-12);
                    let best = (0..p.n).max_by(|&i, &j| p.matrix[i * p.n + top].total_cmp(&p.matrix[j * p.n + top]));
                    eprintln!(
                        "  point mass on BT #1 {}: exploitability {point:.4} (best reply {}), NE mass on it {:.4}",
                        r.models[top],
                        r.models[best.unwrap()],
                        r.probabilities[top]
                    );
                }
            }
        }
        let beta = NashBattleOptions {
            nash: NashOptions { beta: 0.01, tolerance: 1e-9, ..NashOptions::default() },
            ..Default::default()
        };
        let start = Instant::now();
        let r = nash(&b, &beta).unwrap();
        let mut top5: Vec<(usize, f64)> = r.probabilities.iter().copied().enumerate().collect();
        top5.sort_by(|x, y| y.1.total_cmp(&x.1));
        let shown: Vec<String> = top5.iter().take(5).map(|(i, p)| format!("{} {:.4}", r.models[*i], p)).collect();
        eprintln!(
            "Nlhf beta=0.01: {:.2} ms (debug), {} iterations, gap {:.2e}, top 5: {}",
            start.elapsed().as_secs_f64() * 1e3,
            r.iterations,
            r.exploitability,
            shown.join(", ")
        );
    }
}
