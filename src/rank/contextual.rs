//! Contextual Bradley-Terry: P(A wins) = σ(θ_a − θ_b + Σ_f β_f z_f) with per-battle covariates z (LMArena's style
//! control, spec 1.5; property decomposition, spec 1.12). Covariates cannot be aggregated into pair counts, so
//! every battle is a row: a Newton iteration costs one pass over the battles ([`reduce`]), which is what the GPU
//! path (`gpu::contextual`) computes in WGSL. [`Newton`] is a step-by-step solver so the same iteration can be driven
//! by the CPU reduction or by an asynchronous GPU one.
//!
//! On the natural scale, with c_r the battle's multiplicity and w_r its weight, the minimised objective is
//!   L(θ, β) = Σ_r c_r w_r [softplus(s_r) − y_r s_r] + ½ λ_θ ‖θ‖² + ½ λ_β ‖β‖²,   s_r = θ_a − θ_b + β·z_r,
//! and the two reference conventions differ only in λ (see [`Convention`]).

#![allow(clippy::needless_range_loop)] // index loops over matrix blocks read better than zipped iterators here

use ndarray::Array2;

use super::bt::{sigmoid, softplus};
use super::rows::RowOptions;
use std::sync::Arc;

use crate::battles::{Battles, BothBad, Covariates, Outcome};
use crate::error::{Error, Result};
use crate::linalg::{cholesky, cholesky_into, cholesky_inverse, cholesky_solve};

/// Which reference's regularisation to reproduce.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub enum Convention {
    /// FastChat `fit_contextual_bt`: sum loss + 0.25·‖[r; β]‖² with r = θ / ln(base) (reg 0.5 on every parameter).
    #[default]
    #[serde(rename = "fastchat")]
    FastChat,
    /// arena-rank `ContextualBradleyTerry`: mean loss + ½·‖β‖² (reg 1 on the coefficients only, none on θ).
    #[serde(rename = "arena-rank")]
    ArenaRank,
}

impl std::str::FromStr for Convention {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "fastchat" => Ok(Convention::FastChat),
            "arena-rank" => Ok(Convention::ArenaRank),
            _ => Err(Error::option("styleConvention", format!("`{s}` is not one of fastchat, arena-rank"))),
        }
    }
}

impl Convention {
    /// (λ_θ, λ_β) of the sum-scaled objective for `battles` battles on a scale of base `base`.
    pub fn penalty(self, battles: f64, base: f64) -> (f64, f64) {
        match self {
            Convention::FastChat => (0.5 / (base.ln() * base.ln()), 0.5),
            Convention::ArenaRank => (0.0, battles),
        }
    }
}

/// The battles of a contextual fit, one row per record (multiplicity = its count).
#[derive(Clone, Debug)]
pub struct Design {
    /// Number of models.
    pub n: usize,
    /// Covariate names.
    pub names: Vec<String>,
    pub a: Vec<u32>,
    pub b: Vec<u32>,
    /// Twice A's score: 2 win, 1 tie, 0 loss.
    pub y2: Vec<u8>,
    /// Battles per row.
    pub count: Vec<u32>,
    /// Per-row weight (user weight × arena-rank reweighting), `None` when all are 1.
    pub w: Option<Vec<f64>>,
    /// The battles' covariate table (shared with them, not copied), and the record of each design row when some
    /// records are left out (count 0, excluded both-bad ties).
    pub d: Arc<Covariates>,
    pub record: Option<Vec<u32>>,
    /// Mean and standard deviation of each covariate over the fitted battles (a zero deviation is taken as 1).
    pub mean: Vec<f64>,
    pub sd: Vec<f64>,
    /// Σ count.
    pub battles: f64,
}

impl Design {
    /// Collects the rows. Both-bad ties are ties or left out as `rows` says; arena-rank's reweighting gives each
    /// battle 1 / max(pair count, min_pair_count), normalised to mean 1 over the battles (arena-rank's
    /// `ContextualPairDataset`).
    ///
    /// # Errors
    /// `INVALID_OPTION` when the battles have no covariates, `MISSING_FIELD` for a record without them.
    pub fn new(battles: &Battles, rows: &RowOptions, standardize: bool) -> Result<Self> {
        let Some(table) = battles.covariate_table().filter(|t| !t.names.is_empty()) else {
            return Err(Error::option("style", "the battles have no covariates (parse them with `style: true`)"));
        };
        let k = table.names.len();
        let n = battles.len();
        let keep = |i: usize| {
            let (_, _, outcome, count) = battles.record(i);
            count > 0 && !(outcome == Outcome::BothBad && rows.both_bad == BothBad::Exclude)
        };
        let kept = (0..n).filter(|&i| keep(i)).count();
        let mut design = Design {
            n: battles.models().len(),
            names: table.names.clone(),
            a: Vec::with_capacity(kept),
            b: Vec::with_capacity(kept),
            y2: Vec::with_capacity(kept),
            count: Vec::with_capacity(kept),
            w: None,
            record: (kept < n).then(|| Vec::with_capacity(kept)),
            d: table,
            mean: vec![0.0; k],
            sd: vec![1.0; k],
            battles: 0.0,
        };
        let weighted = (0..n).any(|i| battles.weight(i) != 1.0);
        let mut weights = Vec::with_capacity(if weighted || rows.reweighted { kept } else { 0 });
        for i in (0..n).filter(|&i| keep(i)) {
            let (a, b, outcome, count) = battles.record(i);
            if battles.covariates(i).unwrap_or_default().iter().any(|x| !x.is_finite()) {
                return Err(Error::MissingField {
                    at: crate::error::Location { row: i + 1, field: Some("features".into()) },
                });
            }
            design.a.push(a as u32);
            design.b.push(b as u32);
            design.y2.push(match outcome {
                Outcome::A => 2,
                Outcome::B => 0,
                Outcome::Tie | Outcome::BothBad => 1,
            });
            design.count.push(count);
            if let Some(r) = &mut design.record {
                r.push(i as u32);
            }
            if weights.capacity() > 0 {
                weights.push(battles.weight(i));
            }
            design.battles += f64::from(count);
        }
        if rows.reweighted {
            reweight(&design, rows.min_pair_count, &mut weights);
        }
        if weights.iter().any(|&w| w != 1.0) {
            design.w = Some(weights);
        }
        if standardize {
            design.standardize();
        }
        Ok(design)
    }

    /// Number of covariates.
    pub fn k(&self) -> usize {
        self.names.len()
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.a.len()
    }

    /// True without rows.
    pub fn is_empty(&self) -> bool {
        self.a.is_empty()
    }

    /// Weight of row `r` (without its multiplicity).
    pub fn weight(&self, r: usize) -> f64 {
        self.w.as_ref().map_or(1.0, |w| w[r])
    }

    /// Raw covariate j of row r.
    fn raw(&self, r: usize, j: usize) -> f64 {
        let record = self.record.as_ref().map_or(r, |m| m[r] as usize);
        f64::from(self.d.values[record * self.k() + j])
    }

    /// Standardised covariate j of row r.
    pub fn z(&self, r: usize, j: usize) -> f64 {
        (self.raw(r, j) - self.mean[j]) / self.sd[j]
    }

    /// Population mean and deviation over the battles (numpy's `mean` and `std`), as FastChat and arena-rank.
    fn standardize(&mut self) {
        let k = self.k();
        let (mut sum, mut sq) = (vec![0.0; k], vec![0.0; k]);
        for r in 0..self.len() {
            let c = f64::from(self.count[r]);
            for j in 0..k {
                sum[j] += c * self.raw(r, j);
            }
        }
        for j in 0..k {
            self.mean[j] = sum[j] / self.battles;
        }
        for r in 0..self.len() {
            let c = f64::from(self.count[r]);
            for j in 0..k {
                let x = self.raw(r, j) - self.mean[j];
                sq[j] += c * x * x;
            }
        }
        for j in 0..k {
            let sd = (sq[j] / self.battles).sqrt();
            self.sd[j] = if sd > 0.0 { sd } else { 1.0 };
        }
    }
}

fn reweight(design: &Design, min_pair_count: f64, weights: &mut [f64]) {
    let key = |r: usize| (design.a[r].min(design.b[r]), design.a[r].max(design.b[r]));
    let mut total: rustc_hash::FxHashMap<(u32, u32), f64> = rustc_hash::FxHashMap::default();
    for r in 0..design.len() {
        *total.entry(key(r)).or_insert(0.0) += f64::from(design.count[r]);
    }
    let factor: Vec<f64> = (0..design.len()).map(|r| 1.0 / total[&key(r)].max(min_pair_count)).collect();
    let mean = (0..design.len()).map(|r| f64::from(design.count[r]) * factor[r]).sum::<f64>() / design.battles;
    for (w, f) in weights.iter_mut().zip(factor) {
        *w *= f / mean;
    }
}

/// One pass over the battles at `params` = [θ; β]: the data part of the loss, gradient and Hessian.
#[derive(Clone, Debug, Default)]
pub struct Reduction {
    pub loss: f64,
    pub g: Vec<f64>,
    pub h: Array2<f64>,
}

impl Reduction {
    /// A zeroed reduction of dimension m.
    pub fn zeros(m: usize) -> Self {
        Self { loss: 0.0, g: vec![0.0; m], h: Array2::zeros((m, m)) }
    }

    fn clear(&mut self, m: usize) {
        if self.h.nrows() == m {
            self.loss = 0.0;
            self.g.fill(0.0);
            self.h.fill(0.0);
        } else {
            *self = Self::zeros(m);
        }
    }
}

/// The CPU reduction. `multiplicity` replaces the rows' counts (a bootstrap resample).
pub fn reduce(design: &Design, params: &[f64], multiplicity: Option<&[u32]>, out: &mut Reduction) {
    let (n, k) = (design.n, design.k());
    let m = n + k;
    out.clear(m);
    let (theta, beta) = params.split_at(n);
    let h = out.h.as_slice_mut().expect("standard layout");
    let mut z = vec![0.0; k];
    for r in 0..design.len() {
        let c = f64::from(multiplicity.map_or(design.count[r], |m| m[r]));
        if c == 0.0 {
            continue;
        }
        let cw = c * design.weight(r);
        let (a, b) = (design.a[r] as usize, design.b[r] as usize);
        let mut s = theta[a] - theta[b];
        for (j, zj) in z.iter_mut().enumerate() {
            *zj = design.z(r, j);
            s += beta[j] * *zj;
        }
        let y = f64::from(design.y2[r]) * 0.5;
        let p = sigmoid(s);
        out.loss += cw * (softplus(s) - y * s);
        let e = cw * (p - y);
        let v = cw * p * (1.0 - p);
        out.g[a] += e;
        out.g[b] -= e;
        h[a * m + a] += v;
        h[b * m + b] += v;
        h[a * m + b] -= v;
        h[b * m + a] -= v;
        for j in 0..k {
            out.g[n + j] += e * z[j];
            let vz = v * z[j];
            h[a * m + n + j] += vz;
            h[b * m + n + j] -= vz;
            for l in 0..=j {
                h[(n + j) * m + n + l] += vz * z[l];
            }
        }
    }
    symmetrize(&mut out.h, n);
}

/// Fills the parts of the Hessian a reduction leaves out: the cross block's transpose and the feature block's upper
/// triangle.
pub fn symmetrize(h: &mut Array2<f64>, n: usize) {
    let m = h.nrows();
    for j in n..m {
        for a in 0..n {
            h[[j, a]] = h[[a, j]];
        }
        for l in j + 1..m {
            h[[j, l]] = h[[l, j]];
        }
    }
}

/// Damped Newton, one reduction at a time: ask [`Newton::params`] where to reduce, hand the reduction to
/// [`Newton::update`], repeat until it returns true.
#[derive(Clone, Debug)]
pub struct Newton {
    n: usize,
    params: Vec<f64>,
    previous: Vec<f64>,
    step: Vec<f64>,
    g: Vec<f64>,
    h: Array2<f64>,
    l: Array2<f64>,
    lambda: (f64, f64),
    /// Stop when max |gradient| ≤ this.
    gtol: f64,
    /// Stop after a full step smaller than this (the error left is of order its square).
    step_tol: f64,
    t: f64,
    best: f64,
    stepped: bool,
    /// The last step was large: check that it lowered the loss. Near the optimum a Newton step on this convex loss
    /// always descends, and the check would only see rounding (f32 on the GPU: the loss is good to ~1e-7 relative,
    /// far coarser than the last decreases).
    check: bool,
    pub iterations: usize,
}

impl Newton {
    /// Starts from `start` (θ then β) with penalties `lambda` = (λ_θ, λ_β) on the sum-scaled objective.
    pub fn new(n: usize, start: Vec<f64>, lambda: (f64, f64), gtol: f64, step_tol: f64) -> Self {
        let m = start.len();
        Self {
            n,
            previous: start.clone(),
            params: start,
            step: vec![0.0; m],
            g: vec![0.0; m],
            h: Array2::zeros((m, m)),
            l: Array2::zeros((m, m)),
            lambda,
            gtol,
            step_tol,
            t: 1.0,
            best: f64::INFINITY,
            stepped: false,
            check: false,
            iterations: 0,
        }
    }

    /// Where the next reduction is needed (after `update` returned true: the solution).
    pub fn params(&self) -> &[f64] {
        &self.params
    }

    /// Takes the reduction at [`Newton::params`]; returns true when the fit is done.
    pub fn update(&mut self, red: &Reduction) -> bool {
        let (n, (lt, lb)) = (self.n, self.lambda);
        let penalty: f64 = self.params.iter().enumerate().map(|(i, x)| if i < n { lt } else { lb } * x * x).sum();
        let loss = red.loss + 0.5 * penalty;
        let descended = loss <= self.best + 1e-12 * self.best.abs().max(1.0);
        if self.check && !descended {
            // The full step raised the loss (or overflowed): halve it.
            self.t *= 0.5;
            if self.t < 1e-12 {
                self.params.copy_from_slice(&self.previous);
                return true;
            }
            for ((x, p), d) in self.params.iter_mut().zip(&self.previous).zip(&self.step) {
                *x = p + self.t * d;
            }
            return false;
        }
        self.best = loss;
        let last_step = self.t * self.step.iter().fold(0.0_f64, |m, x| m.max(x.abs()));
        for (i, (g, x)) in self.g.iter_mut().zip(&red.g).enumerate() {
            *g = x + if i < n { lt } else { lb } * self.params[i];
        }
        let gmax = self.g.iter().fold(0.0_f64, |m, x| m.max(x.abs()));
        if gmax <= self.gtol || (self.stepped && last_step < self.step_tol) || self.iterations == 100 {
            return true;
        }
        self.h.assign(&red.h);
        for i in 0..self.params.len() {
            self.h[[i, i]] += if i < n { lt } else { lb };
        }
        condition(&mut self.h, n, lt);
        if !cholesky_into(&self.h, &mut self.l) {
            return true;
        }
        for (s, g) in self.step.iter_mut().zip(&self.g) {
            *s = -g;
        }
        cholesky_solve(&self.l, &mut self.step);
        self.previous.copy_from_slice(&self.params);
        if lt == 0.0 {
            // θ is defined up to a shift: keep Σθ = 0 (the references start at 0 and their gradient sums to 0).
            let mean = self.step[..n].iter().sum::<f64>() / n as f64;
            self.step[..n].iter_mut().for_each(|d| *d -= mean);
        }
        for (x, d) in self.params.iter_mut().zip(&self.step) {
            *x += d;
        }
        self.t = 1.0;
        self.stepped = true;
        self.check = self.step.iter().any(|d| d.abs() > 0.5);
        self.iterations += 1;
        false
    }
}

/// Makes the Hessian invertible without changing the step in the identified subspace: rows of models without
/// battles get a unit diagonal, and without a penalty on θ the rating block gets c·11ᵀ (the gradient is orthogonal
/// to it).
fn condition(h: &mut Array2<f64>, n: usize, lambda_theta: f64) {
    for k in 0..h.nrows() {
        if h[[k, k]] == 0.0 {
            h[[k, k]] = 1.0;
        }
    }
    if lambda_theta == 0.0 {
        let c = (0..n).map(|k| h[[k, k]]).sum::<f64>() / n as f64 / n as f64;
        for i in 0..n {
            for j in 0..n {
                h[[i, j]] += c;
            }
        }
    }
}

/// Fits on the CPU from `start` (zeros when `None`). Returns the parameters [θ; β] and the iteration count.
pub fn fit(
    design: &Design,
    lambda: (f64, f64),
    start: Option<&[f64]>,
    multiplicity: Option<&[u32]>,
    gtol: f64,
    step_tol: f64,
) -> (Vec<f64>, usize) {
    let m = design.n + design.k();
    let start = start.map_or_else(|| vec![0.0; m], <[f64]>::to_vec);
    let mut newton = Newton::new(design.n, start, lambda, gtol, step_tol);
    let mut red = Reduction::zeros(m);
    loop {
        reduce(design, newton.params(), multiplicity, &mut red);
        if newton.update(&red) {
            return (newton.params, newton.iterations);
        }
    }
}

/// The sandwich covariance H⁻¹ G H⁻¹ of [θ; β] on the sum scale:
/// - arena-rank (exactly its `compute_hessian_and_covariance`): H = Σ w p(1−p) x xᵀ + hessian_reg·N·I,
///   G = Σ (w (y − p))² x xᵀ − λ_β²/N · [0; β][0; β]ᵀ (its regularisation correction), plus any fallback ridge on θ;
/// - FastChat (which has no sandwich): H is the objective's Hessian (penalties included), G as above without the
///   correction.
pub fn sandwich(
    design: &Design,
    params: &[f64],
    convention: Convention,
    lambda: (f64, f64),
    hessian_reg: f64,
) -> Array2<f64> {
    let (n, k) = (design.n, design.k());
    let m = n + k;
    let mut h = Array2::<f64>::zeros((m, m));
    let mut g = Array2::<f64>::zeros((m, m));
    let mut x = vec![0.0; k];
    for r in 0..design.len() {
        let c = f64::from(design.count[r]);
        let w = design.weight(r);
        let (a, b) = (design.a[r] as usize, design.b[r] as usize);
        let mut s = params[a] - params[b];
        for (j, xj) in x.iter_mut().enumerate() {
            *xj = design.z(r, j);
            s += params[n + j] * *xj;
        }
        let p = sigmoid(s);
        let y = f64::from(design.y2[r]) * 0.5;
        let hv = c * w * p * (1.0 - p);
        let gv = c * (w * (y - p)).powi(2);
        for (mat, v) in [(&mut h, hv), (&mut g, gv)] {
            mat[[a, a]] += v;
            mat[[b, b]] += v;
            mat[[a, b]] -= v;
            mat[[b, a]] -= v;
            for j in 0..k {
                mat[[a, n + j]] += v * x[j];
                mat[[b, n + j]] -= v * x[j];
                for l in 0..=j {
                    mat[[n + j, n + l]] += v * x[j] * x[l];
                }
            }
        }
    }
    symmetrize(&mut h, n);
    symmetrize(&mut g, n);
    match convention {
        Convention::ArenaRank => {
            let reg = hessian_reg * design.battles;
            for i in 0..m {
                h[[i, i]] += reg + if i < n { lambda.0 } else { 0.0 };
            }
            // arena-rank's reg (mean scale) is λ_β / N; its correction on the sum scale is reg²·vvᵀ.
            let reg = lambda.1 / design.battles;
            for i in n..m {
                for j in n..m {
                    g[[i, j]] -= reg * reg * params[i] * params[j];
                }
            }
        }
        Convention::FastChat => {
            for i in 0..m {
                h[[i, i]] += if i < n { lambda.0 } else { lambda.1 };
            }
        }
    }
    for i in 0..m {
        if h[[i, i]] == 0.0 {
            h[[i, i]] = 1e-12;
        }
    }
    match cholesky(&h) {
        Some(l) => {
            let inv = cholesky_inverse(&l);
            inv.dot(&g).dot(&inv)
        }
        None => Array2::zeros((m, m)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn design(rows: &[(u32, u32, u8, f32)], standardize: bool) -> Design {
        let mut battles = Battles::new();
        let names = ["m0", "m1", "m2"];
        let mut values = Vec::new();
        for &(a, b, y2, z) in rows {
            let outcome = [Outcome::B, Outcome::Tie, Outcome::A][y2 as usize];
            battles.push(names[a as usize], names[b as usize], outcome, 1).unwrap();
            values.push(z);
        }
        battles.set_covariates(vec!["len".into()], values).unwrap();
        Design::new(&battles, &RowOptions::default(), standardize).unwrap()
    }

    #[test]
    fn zero_covariates_give_ridge_bt() {
        // All covariates equal: z = 0 after centring, so the fit is BT with ridge λ_θ and β = 0.
        let d = design(
            &[(0, 1, 2, 1.0), (0, 1, 2, 1.0), (1, 0, 2, 1.0), (1, 2, 2, 1.0), (2, 0, 0, 1.0), (2, 1, 1, 1.0)],
            true,
        );
        let (p, _) = fit(&d, (0.1, 0.5), None, None, 1e-12, 1e-9);
        assert!(p[3].abs() < 1e-12);
        let pairs = crate::rank::rows::Rows::new(
            &{
                let mut b = Battles::new();
                for (a, c, o) in [(0, 1, 2), (0, 1, 2), (1, 0, 2), (1, 2, 2), (2, 0, 0), (2, 1, 1)] {
                    b.push(["m0", "m1", "m2"][a], ["m0", "m1", "m2"][c], [Outcome::B, Outcome::Tie, Outcome::A][o], 1)
                        .unwrap();
                }
                b
            },
            &RowOptions::default(),
        );
        let index = crate::rank::rows::pair_index(&pairs.rows);
        let mut totals = Vec::new();
        crate::rank::rows::pair_totals(&pairs.rows, pairs.rows.iter().map(|r| r.count), &index, &mut totals);
        let bt = crate::rank::bt::fit(3, &totals, 0.1, None, 1e-14);
        for i in 0..3 {
            assert!((p[i] - bt.theta[i]).abs() < 1e-9, "{p:?} {:?}", bt.theta);
        }
    }

    #[test]
    fn mirrored_battles_leave_the_fit_unchanged() {
        // spec 1.5: duplicating each battle with sides swapped, z negated and the outcome flipped doubles the data
        // loss term by term, so with the penalty doubled too the optimum is the same.
        let rows = [(0, 1, 2, 3.0), (0, 1, 0, -1.0), (1, 2, 2, 2.0), (2, 0, 1, 0.5), (1, 2, 0, -2.0), (2, 0, 2, 1.0)];
        let mirrored: Vec<_> = rows.iter().flat_map(|&(a, b, y, z)| [(a, b, y, z), (b, a, 2 - y, -z)]).collect();
        let (p, _) = fit(&design(&rows, false), (0.2, 0.5), None, None, 1e-13, 1e-12);
        let (q, _) = fit(&design(&mirrored, false), (0.4, 1.0), None, None, 1e-13, 1e-12);
        for i in 0..4 {
            assert!((p[i] - q[i]).abs() < 1e-9, "{p:?} {q:?}");
        }
        assert!(p[3] > 0.0);
    }
}
