//! Fitting reward heads from pairwise votes on embeddings.
//!
//! - [`fit_pairwise`]: a linear head (or a one-hidden-layer MLP) by Bradley-Terry maximum likelihood,
//!   minimising (1/W) Σ_v ω_v ℓ(y_v, s_a − s_b) + l2·‖θ‖² with ℓ(y, z) = −[y log σ(z) + (1 − y) log σ(−z)], W the
//!   total vote weight. The default l2 = 1e-3 on the mean loss is 1e-3·n on the summed loss: a light ridge that
//!   keeps separable data finite. The optimiser is deterministic full-batch L-BFGS (the linear loss is convex);
//!   early stopping keeps the parameters of the best validation loss and stops after `patience` steps without
//!   improvement. The validation set is explicit: the caller splits (e.g. by prompt) and passes both sets.
//! - [`fit_personal`] (PAL few-shot, spec 2.6): a new user's K logits W_u on a frozen PAL-A head, by L-BFGS.
//! - [`fit_pal`]: a whole PAL-A model (prototypes and every user's logits) by full-batch Adam from a seeded start.
//!
//! Scores are computed per embedding row and combined per vote, so a step costs O(rows × d + votes): 10k votes on
//! 20k 384-dim rows is ~8M multiply-adds per evaluation.

use serde::Serialize;

use super::heads::{distance, Activation, Affine, Context, Embeddings, Head, Linear, Mlp, Pal, PalForm};
use super::math::{dot, dot32, sigmoid, softmax, vote_loss, widen};
use crate::error::{Error, Result};
use crate::optim::minimise;
use crate::rng::Stream;

/// One pairwise vote: embedding rows `a` and `b`, the score of a (1 a won, ½ tie, 0 b won) and a weight ≥ 0.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Vote {
    /// Row of the first response.
    pub a: usize,
    /// Row of the second response.
    pub b: usize,
    /// y ∈ [0, 1]: 1 when a won, ½ for a tie, 0 when b won.
    pub score: f64,
    /// ω ≥ 0.
    pub weight: f64,
}

impl Vote {
    /// A vote of weight 1.
    pub fn new(a: usize, b: usize, score: f64) -> Self {
        Self { a, b, score, weight: 1.0 }
    }
}

/// Options of [`fit_pairwise`].
#[derive(Clone, Debug, PartialEq)]
pub struct FitOptions {
    /// The ridge on the mean loss, l2·‖θ‖² over all parameters (default 1e-3).
    pub l2: f64,
    /// Hidden units; 0 (the default) fits a linear head, more an MLP with one hidden layer.
    pub hidden: usize,
    /// The MLP's nonlinearity (default ReLU).
    pub activation: Activation,
    /// Most L-BFGS steps (default 500).
    pub max_iterations: usize,
    /// Early stopping: steps without a better validation loss before stopping (default 10).
    pub patience: usize,
    /// Converged when max |gradient| ≤ this (default 1e-7).
    pub tolerance: f64,
    /// Seeds the MLP's initial weights (the linear fit starts at 0).
    pub seed: u64,
}

impl Default for FitOptions {
    fn default() -> Self {
        Self {
            l2: 1e-3,
            hidden: 0,
            activation: Activation::Relu,
            max_iterations: 500,
            patience: 10,
            tolerance: 1e-7,
            seed: 0,
        }
    }
}

/// Loss and accuracy on a set of votes.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Metrics {
    /// Weighted mean BT loss (natural log), without the ridge.
    pub loss: f64,
    /// Weighted agreement y·h + (1 − y)(1 − h) with h = 1, 0 or ½ as s_a >, < or = s_b: a tie vote counts ½.
    pub accuracy: f64,
}

/// What [`fit_pairwise`] did.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FitReport {
    /// Metrics on the training votes at the returned parameters.
    pub train: Metrics,
    /// Metrics on the validation votes, when given.
    pub validation: Option<Metrics>,
    /// L-BFGS steps taken.
    pub iterations: usize,
    /// The step whose parameters are returned (the best validation loss; the last step without validation).
    pub best_iteration: usize,
    /// True when the gradient tolerance was reached.
    pub converged: bool,
}

/// Votes resolved to the distinct rows they use.
struct Votes {
    /// Distinct embedding rows, ascending.
    rows: Vec<usize>,
    /// Per vote: (local a, local b, y, ω / W).
    pairs: Vec<(usize, usize, f64, f64)>,
}

impl Votes {
    fn new(name: &'static str, votes: &[Vote], len: usize) -> Result<Self> {
        let mut total = 0.0;
        for (i, v) in votes.iter().enumerate() {
            if v.a >= len || v.b >= len {
                return Err(Error::option(
                    name,
                    format!("vote {i} refers to rows {} and {}, there are {len}", v.a, v.b),
                ));
            }
            if !((0.0..=1.0).contains(&v.score) && v.weight >= 0.0 && v.weight.is_finite()) {
                return Err(Error::option(name, format!("vote {i} has score {} and weight {}", v.score, v.weight)));
            }
            total += v.weight;
        }
        if !(total > 0.0 && total.is_finite()) {
            return Err(Error::Empty(format!(" (no {name} votes with a positive weight)")));
        }
        let mut local = vec![usize::MAX; len];
        let mut rows = Vec::new();
        for v in votes {
            for r in [v.a, v.b] {
                if local[r] == usize::MAX {
                    local[r] = 0;
                    rows.push(r);
                }
            }
        }
        rows.sort_unstable();
        rows.iter().enumerate().for_each(|(k, &r)| local[r] = k);
        let pairs = votes.iter().map(|v| (local[v.a], local[v.b], v.score, v.weight / total)).collect();
        Ok(Self { rows, pairs })
    }

    /// The mean loss at row scores `s`, its derivative per row into `ds` (when given).
    fn loss(&self, s: &[f64], mut ds: Option<&mut [f64]>) -> f64 {
        let mut loss = 0.0;
        for &(a, b, y, w) in &self.pairs {
            let z = s[a] - s[b];
            loss += w * vote_loss(y, z);
            if let Some(ds) = ds.as_deref_mut() {
                let g = w * (sigmoid(z) - y);
                ds[a] += g;
                ds[b] -= g;
            }
        }
        loss
    }

    fn metrics(&self, s: &[f64]) -> Metrics {
        let z: Vec<f64> = self.pairs.iter().map(|&(a, b, ..)| s[a] - s[b]).collect();
        summarise(&self.pairs, &z)
    }
}

/// Loss and accuracy of votes at their logits z = s_a − s_b.
fn summarise(pairs: &[(usize, usize, f64, f64)], z: &[f64]) -> Metrics {
    let (mut loss, mut accuracy) = (0.0, 0.0);
    for (&(_, _, y, w), &zv) in pairs.iter().zip(z) {
        let h = if zv > 0.0 {
            1.0
        } else if zv < 0.0 {
            0.0
        } else {
            0.5
        };
        loss += w * vote_loss(y, zv);
        accuracy += w * (y * h + (1.0 - y) * (1.0 - h));
    }
    Metrics { loss, accuracy }
}

/// The scalar model being fitted: its parameters are one flat vector.
#[derive(Clone, Copy)]
enum Shape {
    /// θ = w (d).
    Linear,
    /// θ = W1 (h × d, row-major) | b1 (h) | w2 (h); s = w2·act(W1 x + b1).
    Mlp { hidden: usize, activation: Activation },
}

impl Shape {
    fn size(self, d: usize) -> usize {
        match self {
            Shape::Linear => d,
            Shape::Mlp { hidden, .. } => hidden * (d + 2),
        }
    }

    /// Scores of `rows`, and per row the hidden pre-activations (MLP).
    fn forward(self, e: &Embeddings, rows: &[usize], theta: &[f64]) -> (Vec<f64>, Vec<Vec<f64>>) {
        match self {
            Shape::Linear => (rows.iter().map(|&r| dot32(e.row(r), theta)).collect(), Vec::new()),
            Shape::Mlp { hidden, activation } => {
                let d = e.dim();
                let (w1, rest) = theta.split_at(hidden * d);
                let (b1, w2) = rest.split_at(hidden);
                let z: Vec<Vec<f64>> = rows
                    .iter()
                    .map(|&r| w1.chunks_exact(d).zip(b1).map(|(w, b)| dot32(e.row(r), w) + b).collect())
                    .collect();
                let s = z
                    .iter()
                    .map(|zr: &Vec<f64>| zr.iter().zip(w2).map(|(v, w)| w * activation.apply(*v)).sum())
                    .collect();
                (s, z)
            }
        }
    }

    /// Adds Σ_rows ds_r ∂s_r/∂θ to `grad`.
    fn backward(self, e: &Embeddings, rows: &[usize], theta: &[f64], z: &[Vec<f64>], ds: &[f64], grad: &mut [f64]) {
        match self {
            Shape::Linear => {
                for (&r, g) in rows.iter().zip(ds) {
                    grad.iter_mut().zip(e.row(r)).for_each(|(t, x)| *t += g * f64::from(*x));
                }
            }
            Shape::Mlp { hidden, activation } => {
                let d = e.dim();
                let w2 = &theta[hidden * (d + 1)..];
                let (g1, rest) = grad.split_at_mut(hidden * d);
                let (gb1, gw2) = rest.split_at_mut(hidden);
                for ((&r, g), zr) in rows.iter().zip(ds).zip(z) {
                    let x = e.row(r);
                    for (u, v) in zr.iter().enumerate() {
                        gw2[u] += g * activation.apply(*v);
                        let dz = g * w2[u] * activation.derivative(*v);
                        gb1[u] += dz;
                        g1[u * d..(u + 1) * d].iter_mut().zip(x).for_each(|(t, xi)| *t += dz * f64::from(*xi));
                    }
                }
            }
        }
    }

    /// The fitted head.
    fn head(self, d: usize, theta: &[f64]) -> Head {
        match self {
            Shape::Linear => Head::Linear(Linear { weights: narrow(theta), bias: 0.0 }),
            Shape::Mlp { hidden, activation } => {
                let (w1, rest) = theta.split_at(hidden * d);
                let (b1, w2) = rest.split_at(hidden);
                let layers = vec![
                    Affine { weights: w1.chunks_exact(d).map(narrow).collect(), bias: narrow(b1) },
                    Affine { weights: vec![narrow(w2)], bias: vec![0.0] },
                ];
                Head::Mlp(Mlp { layers, activation })
            }
        }
    }

    /// The starting point: 0 for the linear head; He-scaled normal W1 and 1/√h-scaled w2 for the MLP.
    fn start(self, d: usize, seed: u64) -> Vec<f64> {
        let mut theta = vec![0.0; self.size(d)];
        if let Shape::Mlp { hidden, .. } = self {
            let mut stream = Stream::new(seed, 0);
            let (w1, rest) = theta.split_at_mut(hidden * d);
            for w in w1.iter_mut() {
                *w = stream.normal() * (2.0 / d as f64).sqrt();
            }
            rest[hidden..].iter_mut().for_each(|w| *w = stream.normal() / (hidden as f64).sqrt());
        }
        theta
    }
}

/// The regularised training loss and its gradient.
fn objective(shape: Shape, e: &Embeddings, votes: &Votes, l2: f64, theta: &[f64], grad: &mut [f64]) -> f64 {
    let (s, z) = shape.forward(e, &votes.rows, theta);
    let mut ds = vec![0.0; s.len()];
    let loss = votes.loss(&s, Some(&mut ds));
    grad.iter_mut().zip(theta).for_each(|(g, t)| *g = 2.0 * l2 * t);
    shape.backward(e, &votes.rows, theta, &z, &ds, grad);
    loss + l2 * dot(theta, theta)
}

/// Fits a linear head (or, with `options.hidden > 0`, a one-hidden-layer MLP) to `train` by Bradley-Terry maximum
/// likelihood with a ridge, early-stopped on `validation` (may be empty: then no early stopping). The linear head's
/// bias is 0 (it cancels in every comparison), as is the MLP's output bias.
///
/// Errors: no train vote with a positive weight → `EMPTY`; a row index out of range, a score outside [0, 1], a
/// negative or non-finite weight, or bad options → `INVALID_OPTION`.
pub fn fit_pairwise(
    e: &Embeddings,
    train: &[Vote],
    validation: &[Vote],
    options: &FitOptions,
) -> Result<(Head, FitReport)> {
    if !(options.l2 >= 0.0 && options.l2.is_finite() && options.tolerance > 0.0) {
        return Err(Error::option(
            "l2",
            format!("l2 {} and tolerance {} must be ≥ 0 and > 0", options.l2, options.tolerance),
        ));
    }
    let fit = Votes::new("train", train, e.len())?;
    let check = if validation.is_empty() { None } else { Some(Votes::new("validation", validation, e.len())?) };
    let shape = match options.hidden {
        0 => Shape::Linear,
        hidden => Shape::Mlp { hidden, activation: options.activation },
    };
    let mut theta = shape.start(e.dim(), options.seed);
    let validation_loss = |theta: &[f64]| check.as_ref().map(|v| v.loss(&shape.forward(e, &v.rows, theta).0, None));
    let mut best = (validation_loss(&theta).unwrap_or(f64::INFINITY), 0, theta.clone());
    let run = minimise(
        |t, g| objective(shape, e, &fit, options.l2, t, g),
        &mut theta,
        options.max_iterations,
        options.tolerance,
        |iteration, t| {
            let Some(loss) = validation_loss(t) else { return false };
            if loss < best.0 {
                best = (loss, iteration, t.to_vec());
            }
            iteration - best.1 >= options.patience
        },
    );
    let (best_iteration, theta) = if check.is_some() { (best.1, best.2) } else { (run.iterations, theta) };
    let metrics = |v: &Votes| v.metrics(&shape.forward(e, &v.rows, &theta).0);
    let report = FitReport {
        train: metrics(&fit),
        validation: check.as_ref().map(metrics),
        iterations: run.iterations,
        best_iteration,
        converged: run.converged,
    };
    Ok((shape.head(e.dim(), &theta), report))
}

/// Loss and accuracy of a scalar head on `votes` (PAL needs `context.user`).
pub fn evaluate(head: &Head, e: &Embeddings, votes: &[Vote], context: &Context) -> Result<Metrics> {
    let v = Votes::new("votes", votes, e.len())?;
    let s = head.scores(e, context)?;
    let local: Vec<f64> = v.rows.iter().map(|&r| s[r]).collect();
    Ok(v.metrics(&local))
}

/// Options of [`fit_personal`].
#[derive(Clone, Debug, PartialEq)]
pub struct PersonalOptions {
    /// The ridge toward 0 (uniform weights) on the user's logits, on the mean loss (default 1e-2).
    pub l2: f64,
    /// Most L-BFGS steps (default 200).
    pub max_iterations: usize,
}

impl Default for PersonalOptions {
    fn default() -> Self {
        Self { l2: 1e-2, max_iterations: 200 }
    }
}

/// Options of [`fit_pal`].
#[derive(Clone, Debug, PartialEq)]
pub struct PalOptions {
    /// K, the number of prototypes (default 2).
    pub prototypes: usize,
    /// Adam steps (default 500).
    pub iterations: usize,
    /// Adam's step size (default 0.05).
    pub learning_rate: f64,
    /// The ridge toward 0 on the prototypes, on the mean loss (default 3e-3). PAL-A is otherwise nearly
    /// indifferent between one-hot weights on prototypes at the ideal points and flatter weights on prototypes pushed
    /// outward; this ridge picks the former, so w_u identifies the user's group.
    pub prototype_l2: f64,
    /// The ridge toward 0 (uniform weights) on each user's logits, on that user's mean loss (default 1e-4).
    pub logit_l2: f64,
    /// Seeds the start: prototypes 0.1·N(0, 1), logits N(0, 1) (PAL's randn(K)).
    pub seed: u64,
}

impl Default for PalOptions {
    fn default() -> Self {
        Self { prototypes: 2, iterations: 500, learning_rate: 0.05, prototype_l2: 3e-3, logit_l2: 1e-4, seed: 0 }
    }
}

/// What a PAL fit did.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PalReport {
    /// Loss and accuracy on the fitted votes.
    pub train: Metrics,
    /// Optimiser steps.
    pub iterations: usize,
}

/// PAL-A training data: the features f(y) of the used rows and, per vote, its user.
struct PalData {
    features: Vec<Vec<f64>>,
    votes: Votes,
    users_of: Vec<usize>,
    /// Per user: the share of the total vote weight.
    shares: Vec<f64>,
}

impl PalData {
    fn new(projector: Option<&Affine>, e: &Embeddings, votes: Votes, users_of: Vec<usize>, users: usize) -> Self {
        let mut shares = vec![0.0; users];
        votes.pairs.iter().zip(&users_of).for_each(|(p, &u)| shares[u] += p.3);
        let features = votes
            .rows
            .iter()
            .map(|&r| match projector {
                Some(p) => p.apply(&widen(e.row(r))),
                None => widen(e.row(r)),
            })
            .collect();
        Self { features, votes, users_of, shares }
    }

    /// Each user's weights w_u and ideal point a_u at x = prototypes (K × d, row-major) | logits (users × K).
    fn ideal_points(&self, k: usize, x: &[f64]) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
        let d = self.features.first().map_or(0, Vec::len);
        let (protos, logits) = x.split_at(k * d);
        let w: Vec<Vec<f64>> = logits.chunks_exact(k).map(softmax).collect();
        let a = w
            .iter()
            .map(|wu| {
                let mut a = vec![0.0; d];
                for (wk, p) in wu.iter().zip(protos.chunks_exact(d)) {
                    a.iter_mut().zip(p).for_each(|(ai, pi)| *ai += wk * pi);
                }
                a
            })
            .collect();
        (w, a)
    }

    /// Per vote: the distances of a and b to the voter's ideal point.
    fn distances<'a>(&'a self, a: &'a [Vec<f64>]) -> impl Iterator<Item = (f64, f64)> + 'a {
        self.votes
            .pairs
            .iter()
            .zip(&self.users_of)
            .map(move |(&(ra, rb, ..), &u)| (distance(&self.features[ra], &a[u]), distance(&self.features[rb], &a[u])))
    }

    fn metrics(&self, k: usize, x: &[f64]) -> Metrics {
        let (_, a) = self.ideal_points(k, x);
        let z: Vec<f64> = self.distances(&a).map(|(da, db)| db - da).collect();
        summarise(&self.votes.pairs, &z)
    }
}

/// PAL-A's loss (logit z = ‖f_b − a_u‖ − ‖f_a − a_u‖) plus the ridges (prototypes; logits, each user's weighted by
/// their share of the votes so that it acts on that user's mean loss), and its gradient at x = prototypes | logits.
fn pal_objective(data: &PalData, k: usize, ridge: (f64, f64), x: &[f64], grad: &mut [f64]) -> f64 {
    let d = data.features.first().map_or(0, Vec::len);
    let (w, a) = data.ideal_points(k, x);
    // g[u] = ∂loss/∂a_u; ∂z/∂a = (f_a − a)/‖f_a − a‖ − (f_b − a)/‖f_b − a‖ (a term is 0 at the ideal point).
    let mut g = vec![vec![0.0; d]; data.shares.len()];
    let mut loss = 0.0;
    for ((&(ra, rb, y, wt), &u), (da, db)) in data.votes.pairs.iter().zip(&data.users_of).zip(data.distances(&a)) {
        let z = db - da;
        loss += wt * vote_loss(y, z);
        let dz = wt * (sigmoid(z) - y);
        for (r, dist, sign) in [(ra, da, 1.0), (rb, db, -1.0)] {
            if dist > 0.0 {
                let c = sign * dz / dist;
                g[u].iter_mut().zip(&data.features[r]).zip(&a[u]).for_each(|((gi, f), ai)| *gi += c * (f - ai));
            }
        }
    }
    let (protos, logits) = x.split_at(k * d);
    grad.fill(0.0);
    let (gp, gw) = grad.split_at_mut(k * d);
    for (u, gu) in g.iter().enumerate() {
        let ga = dot(gu, &a[u]);
        for (kk, p) in protos.chunks_exact(d).enumerate() {
            gp[kk * d..(kk + 1) * d].iter_mut().zip(gu).for_each(|(t, gi)| *t += w[u][kk] * gi);
            gw[u * k + kk] = w[u][kk] * (dot(gu, p) - ga);
        }
    }
    gp.iter_mut().zip(protos).for_each(|(t, p)| *t += 2.0 * ridge.0 * p);
    let mut penalty = ridge.0 * dot(protos, protos);
    for ((t, l), share) in gw.chunks_exact_mut(k).zip(logits.chunks_exact(k)).zip(&data.shares) {
        t.iter_mut().zip(l).for_each(|(ti, li)| *ti += 2.0 * ridge.1 * share * li);
        penalty += ridge.1 * share * dot(l, l);
    }
    loss + penalty
}

fn narrow(v: &[f64]) -> Vec<f32> {
    v.iter().map(|x| *x as f32).collect()
}

fn check_ridge(l2: f64) -> Result<()> {
    if l2 >= 0.0 && l2.is_finite() {
        Ok(())
    } else {
        Err(Error::option("l2", format!("{l2} is not ≥ 0 and finite")))
    }
}

/// PAL few-shot (spec 2.6): fits only `user`'s K logits W_u on their `votes`, everything else of the PAL-A head
/// frozen, from W_u = 0 (uniform weights) with a ridge toward 0. Returns the head with the user added (or
/// replaced).
///
/// Errors: a PAL-B head → `INVALID_OPTION`; an invalid head → `MODEL`; embeddings of another dimension, bad votes
/// → `INVALID_OPTION`; no vote with a positive weight → `EMPTY`.
pub fn fit_personal(
    head: &Pal,
    e: &Embeddings,
    user: &str,
    votes: &[Vote],
    options: &PersonalOptions,
) -> Result<(Pal, PalReport)> {
    let (dim, _) = head.check()?;
    let PalForm::Distance { prototypes } = &head.form else {
        return Err(Error::option("head", "only PAL-A (distance) heads are fitted"));
    };
    if e.dim() != dim {
        return Err(Error::option("embeddings", format!("rows have {} values, the head expects {dim}", e.dim())));
    }
    check_ridge(options.l2)?;
    let data = PalData::new(head.projector.as_ref(), e, Votes::new("votes", votes, e.len())?, vec![0; votes.len()], 1);
    let protos: Vec<f64> = prototypes.iter().flat_map(|p| widen(p)).collect();
    let k = prototypes.len();
    let mut logits = vec![0.0; k];
    let run = minimise(
        |w, g| {
            let x = [protos.as_slice(), w].concat();
            let mut gx = vec![0.0; x.len()];
            let loss = pal_objective(&data, k, (0.0, options.l2), &x, &mut gx);
            g.copy_from_slice(&gx[protos.len()..]);
            loss
        },
        &mut logits,
        options.max_iterations,
        1e-9,
        |_, _| false,
    );
    let mut fitted = head.clone();
    fitted.users.insert(user.to_string(), narrow(&logits));
    let train = data.metrics(k, &[protos.as_slice(), &logits].concat());
    Ok((fitted, PalReport { train, iterations: run.iterations }))
}

/// Fits a whole PAL-A model (spec 2.6) on multi-user votes: K prototypes in the embedding space (no projector) and
/// every user's logits, by full-batch Adam (β = 0.9, 0.999) from a seeded start. `votes` pairs a user index into
/// `users` with a vote; a user without votes keeps the random start.
///
/// Errors: bad options, a duplicate user, a user or row index out of range, bad votes → `INVALID_OPTION`; no vote
/// with a positive weight → `EMPTY`.
pub fn fit_pal(
    e: &Embeddings,
    users: &[String],
    votes: &[(usize, Vote)],
    options: &PalOptions,
) -> Result<(Pal, PalReport)> {
    check_ridge(options.prototype_l2)?;
    check_ridge(options.logit_l2)?;
    if options.prototypes == 0 || !(options.learning_rate > 0.0 && options.learning_rate.is_finite()) {
        let why = format!("{} prototypes, learning rate {}", options.prototypes, options.learning_rate);
        return Err(Error::option("prototypes", why));
    }
    let mut names = std::collections::BTreeMap::new();
    for (i, name) in users.iter().enumerate() {
        if names.insert(name.clone(), i).is_some() {
            return Err(Error::option("users", format!("user `{name}` appears twice")));
        }
    }
    if let Some(i) = votes.iter().position(|(u, _)| *u >= users.len()) {
        return Err(Error::option("votes", format!("vote {i} is by user {}, there are {}", votes[i].0, users.len())));
    }
    let plain: Vec<Vote> = votes.iter().map(|(_, v)| *v).collect();
    let users_of = votes.iter().map(|(u, _)| *u).collect();
    let data = PalData::new(None, e, Votes::new("votes", &plain, e.len())?, users_of, users.len());
    let (k, d) = (options.prototypes, e.dim());
    let mut stream = Stream::new(options.seed, 0);
    let mut x: Vec<f64> = (0..k * d + users.len() * k).map(|_| stream.normal()).collect();
    x[..k * d].iter_mut().for_each(|p| *p *= 0.1);
    adam(&mut x, options.iterations, options.learning_rate, |x, g| {
        pal_objective(&data, k, (options.prototype_l2, options.logit_l2), x, g)
    });
    let (protos, logits) = x.split_at(k * d);
    let pal = Pal {
        projector: None,
        form: PalForm::Distance { prototypes: protos.chunks_exact(d).map(narrow).collect() },
        users: users.iter().zip(logits.chunks_exact(k)).map(|(u, l)| (u.clone(), narrow(l))).collect(),
    };
    Ok((pal, PalReport { train: data.metrics(k, &x), iterations: options.iterations }))
}

/// Full-batch Adam (β₁ = 0.9, β₂ = 0.999, ε = 1e-8) for `steps` steps.
fn adam(x: &mut [f64], steps: usize, rate: f64, mut f: impl FnMut(&[f64], &mut [f64]) -> f64) {
    let (mut m, mut v, mut g) = (vec![0.0; x.len()], vec![0.0; x.len()], vec![0.0; x.len()]);
    let (mut b1, mut b2) = (1.0, 1.0);
    for _ in 0..steps {
        f(x, &mut g);
        b1 *= 0.9;
        b2 *= 0.999;
        for i in 0..x.len() {
            m[i] = 0.9 * m[i] + 0.1 * g[i];
            v[i] = 0.999 * v[i] + 0.001 * g[i] * g[i];
            x[i] -= rate * (m[i] / (1.0 - b1)) / ((v[i] / (1.0 - b2)).sqrt() + 1e-8);
        }
    }
}
