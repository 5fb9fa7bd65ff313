//! Reward heads on sentence embeddings (spec 2.1–2.8): linear, MLP, ArmoRM, DPA, PAL and GPM, one serde enum
//! [`Head`] stored as JSON tagged by `"kind"`.
//!
//! Parameters are f32 (like the embeddings; the JSON round-trips exactly), arithmetic is f64, scores are f64.
//! Every scoring call validates the head and its inputs first, so a head built in code and one loaded from JSON
//! behave the same: shapes that do not fit give `MODEL`, inputs of the wrong size or with NaN/∞ give
//! `INVALID_OPTION` naming the input, and a score that overflows gives `MODEL` rather than ∞.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::math::{dot, dot32, norm, sigmoid, softmax, widen};
use crate::error::{Error, Result};
use crate::judge::spearman;
use crate::rank::wenglin::phi;

/// ArmoRM's verbosity-penalty grid (spec 2.1), searched in order by [`verbosity_penalties`].
pub const PENALTY_GRID: [f64; 24] = [
    0.0, 0.01, 0.025, 0.05, 0.075, 0.1, 0.125, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75,
    0.8, 0.85, 0.9, 0.95,
];

/// ArmoRM's default Spearman threshold for the verbosity decorrelation (the argparse default, spec 2.1).
pub const CORRELATION_THRESHOLD: f64 = 0.03;

/// PAL-B's cap on exp(log_scale) (spec 2.6).
pub const MAX_SCALE: f64 = 100.0;

/// Rows of embeddings, row-major in one flat slice (a `Float32Array` in JS): `len()` rows of `dim()` values.
#[derive(Clone, Copy, Debug)]
pub struct Embeddings<'a> {
    data: &'a [f32],
    dim: usize,
}

impl<'a> Embeddings<'a> {
    /// Wraps `data` as rows of `dim` values. Errors (`INVALID_OPTION`): `dim` = 0, a length that is not a multiple of
    /// `dim`, or a NaN/∞ value (named by row and position).
    pub fn new(data: &'a [f32], dim: usize) -> Result<Self> {
        if dim == 0 {
            return Err(Error::option("dim", "must be at least 1"));
        }
        if !data.len().is_multiple_of(dim) {
            return Err(Error::option("embeddings", format!("{} values are not whole rows of {dim}", data.len())));
        }
        if let Some(k) = data.iter().position(|v| !v.is_finite()) {
            let why = format!("embedding {} has a non-finite value ({}) at {}", k / dim, data[k], k % dim);
            return Err(Error::option("embeddings", why));
        }
        Ok(Self { data, dim })
    }

    /// Values per row.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.data.len() / self.dim
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Row `i` (empty when out of range).
    pub fn row(&self, i: usize) -> &'a [f32] {
        self.data.get(i * self.dim..(i + 1) * self.dim).unwrap_or(&[])
    }
}

/// What a head may need besides the response embedding: the prompt embedding (ArmoRM gating, PAL-B, a GPM prompt
/// head) and the user (PAL).
#[derive(Clone, Copy, Debug, Default)]
pub struct Context<'a> {
    /// The prompt's embedding.
    pub prompt: Option<&'a [f32]>,
    /// The user's name, a key of [`Pal::users`].
    pub user: Option<&'a str>,
}

/// An affine map x ↦ W x + b, W stored as rows (outputs × inputs).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Affine {
    /// The rows of W.
    pub weights: Vec<Vec<f32>>,
    /// b, one per row.
    pub bias: Vec<f32>,
}

impl Affine {
    /// Input dimension (the length of the rows).
    pub fn inputs(&self) -> usize {
        self.weights.first().map_or(0, Vec::len)
    }

    /// Output dimension (the number of rows).
    pub fn outputs(&self) -> usize {
        self.weights.len()
    }

    /// W x + b, in f64. Assumes a checked map and `x.len() == inputs()`.
    pub fn apply(&self, x: &[f64]) -> Vec<f64> {
        self.weights.iter().zip(&self.bias).map(|(w, b)| dot32(w, x) + f64::from(*b)).collect()
    }

    fn check(&self, name: &str) -> Result<()> {
        let inputs = self.inputs();
        if self.outputs() == 0 || inputs == 0 {
            return Err(model(format!("{name}: the weight matrix is empty")));
        }
        if let Some(i) = self.weights.iter().position(|row| row.len() != inputs) {
            return Err(model(format!("{name}: row {i} has {} weights, row 0 has {inputs}", self.weights[i].len())));
        }
        if self.bias.len() != self.outputs() {
            return Err(model(format!("{name}: {} biases for {} rows", self.bias.len(), self.outputs())));
        }
        self.weights.iter().try_for_each(|row| finite(name, row))?;
        finite(name, &self.bias)
    }
}

/// The nonlinearity between MLP layers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Activation {
    /// max(0, x).
    #[default]
    Relu,
    /// x·Φ(x), Φ from the fdlibm erfc the Weng-Lin models use (about one ulp): PyTorch's exact GELU.
    Gelu,
}

impl Activation {
    /// The activation at x.
    pub fn apply(self, x: f64) -> f64 {
        match self {
            Activation::Relu => x.max(0.0),
            Activation::Gelu => x * phi(x),
        }
    }

    /// Its derivative at x (0 at x = 0 for ReLU).
    pub fn derivative(self, x: f64) -> f64 {
        match self {
            Activation::Relu => f64::from(u8::from(x > 0.0)),
            Activation::Gelu => phi(x) + x * (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt(),
        }
    }
}

/// Runs `layers` on x with `activation` between them (not after the last).
fn forward(layers: &[Affine], activation: Activation, x: &[f64]) -> Vec<f64> {
    let mut h = x.to_vec();
    for (i, layer) in layers.iter().enumerate() {
        h = layer.apply(&h);
        if i + 1 < layers.len() {
            for v in &mut h {
                *v = activation.apply(*v);
            }
        }
    }
    h
}

/// Checks each layer and that each takes the previous one's outputs. Returns the input dimension.
fn check_chain(name: &str, layers: &[Affine]) -> Result<usize> {
    let first = layers.first().ok_or_else(|| model(format!("{name}: no layers")))?;
    for (i, layer) in layers.iter().enumerate() {
        layer.check(&format!("{name} layer {i}"))?;
        if i > 0 && layer.inputs() != layers[i - 1].outputs() {
            let why = format!(
                "{name} layer {i} takes {} inputs, layer {} gives {}",
                layer.inputs(),
                i - 1,
                layers[i - 1].outputs()
            );
            return Err(model(why));
        }
    }
    Ok(first.inputs())
}

/// A linear head s(y) = wᵀe_y + b.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Linear {
    /// w.
    pub weights: Vec<f32>,
    /// b (cancels in every pairwise probability).
    pub bias: f32,
}

/// An MLP head: affine layers with `activation` between them and one output, s(y) = MLP(e_y).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Mlp {
    /// The layers, input first; the last has one output.
    pub layers: Vec<Affine>,
    /// The nonlinearity between layers.
    #[serde(default)]
    pub activation: Activation,
}

/// ArmoRM (spec 2.1): attribute rewards r(y) = R e_y + b ∈ R^k, a gating MLP (ReLU) on the prompt embedding,
/// g = softmax(logits / temperature)·logit_scale, verbosity-debiased coefficients c = g Tᵀ ([`armo_coefficients`])
/// and score Σ_i r_i c_i.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Armo {
    /// The k attribute probes (k × d) and their biases.
    pub probes: Affine,
    /// The gating MLP on the prompt embedding (ReLU between layers), k outputs.
    pub gating: Vec<Affine>,
    /// The softmax temperature (default 10).
    #[serde(default = "ten")]
    pub temperature: f32,
    /// The scalar multiplying the gate (default 1).
    #[serde(default = "one")]
    pub logit_scale: f32,
    /// The index v of the verbosity attribute.
    pub verbosity: usize,
    /// The penalties p (k values; p_v is not used), e.g. from [`verbosity_penalties`].
    pub penalties: Vec<f32>,
}

fn ten() -> f32 {
    10.0
}

fn one() -> f32 {
    1.0
}

impl Armo {
    fn check(&self) -> Result<usize> {
        self.probes.check("armo probes")?;
        let k = self.probes.outputs();
        check_chain("armo gating", &self.gating)?;
        let gates = self.gating.last().map_or(0, Affine::outputs);
        if gates != k {
            return Err(model(format!("armo gating gives {gates} logits for {k} attributes")));
        }
        if self.verbosity >= k || self.penalties.len() != k {
            let why = format!("verbosity {} and {} penalties for {k} attributes", self.verbosity, self.penalties.len());
            return Err(model(format!("armo: {why}")));
        }
        finite("armo penalties", &self.penalties)?;
        if !(self.temperature > 0.0 && self.temperature.is_finite() && self.logit_scale.is_finite()) {
            return Err(model(format!("armo: temperature {} and logit scale {}", self.temperature, self.logit_scale)));
        }
        Ok(self.probes.inputs())
    }

    /// The attribute rewards r(y) = R e_y + b.
    pub fn rewards(&self, response: &[f32]) -> Result<Vec<f64>> {
        let d = self.check()?;
        Ok(self.probes.apply(&input("response", response, d)?))
    }

    /// The gate g(x) = softmax(gating(e_x) / temperature)·logit_scale.
    pub fn gate(&self, prompt: &[f32]) -> Result<Vec<f64>> {
        self.check()?;
        self.gate_checked(prompt)
    }

    fn gate_checked(&self, prompt: &[f32]) -> Result<Vec<f64>> {
        let x = input("prompt", prompt, self.gating[0].inputs())?;
        let t = f64::from(self.temperature);
        let logits: Vec<f64> = forward(&self.gating, Activation::Relu, &x).iter().map(|l| l / t).collect();
        Ok(softmax(&logits).iter().map(|g| g * f64::from(self.logit_scale)).collect())
    }

    /// The coefficients c(x) = g(x) Tᵀ.
    pub fn coefficients(&self, prompt: &[f32]) -> Result<Vec<f64>> {
        self.check()?;
        self.coefficients_checked(prompt)
    }

    fn coefficients_checked(&self, prompt: &[f32]) -> Result<Vec<f64>> {
        let p: Vec<f64> = widen(&self.penalties);
        armo_coefficients(&self.gate_checked(prompt)?, self.verbosity, &p)
    }

    fn scores(&self, rows: &[Vec<f64>], context: &Context) -> Result<Vec<f64>> {
        let prompt = context.prompt.ok_or_else(|| Error::option("prompt", "the armo head's gating needs a prompt"))?;
        let c = self.coefficients_checked(prompt)?;
        Ok(rows.iter().map(|x| dot(&self.probes.apply(x), &c)).collect())
    }
}

/// ArmoRM's effective coefficients (spec 2.1): with T = I whose row v is replaced by e_v − p, c = g Tᵀ, i.e.
/// c_i = g_i for i ≠ v and c_v = −Σ_{i≠v} g_i p_i, so Σ_i r_i c_i = Σ_{i≠v} g_i (r_i − p_i r_v).
pub fn armo_coefficients(gate: &[f64], verbosity: usize, penalties: &[f64]) -> Result<Vec<f64>> {
    if gate.len() != penalties.len() || verbosity >= gate.len() {
        let why = format!("{} gate values, {} penalties, verbosity index {verbosity}", gate.len(), penalties.len());
        return Err(Error::option("penalties", why));
    }
    super::math::check_finite("gate", gate)?;
    super::math::check_finite("penalties", penalties)?;
    let mut c = gate.to_vec();
    c[verbosity] = -(0..gate.len()).filter(|&i| i != verbosity).map(|i| gate[i] * penalties[i]).sum::<f64>();
    Ok(c)
}

/// ArmoRM's verbosity decorrelation (spec 2.1): for each attribute i ≠ v of `rewards` (samples × k), the smallest
/// p_i of [`PENALTY_GRID`] with Spearman(r_i − p_i r_v, r_v) ≤ `threshold` (the last grid value when none is; an
/// undefined correlation, one side constant, counts as 0). p_v = 1, as in the spec's T.
pub fn verbosity_penalties(rewards: &[Vec<f64>], verbosity: usize, threshold: f64) -> Result<Vec<f64>> {
    let k = super::math::check_table("rewards", rewards)?;
    if rewards.len() < 2 || verbosity >= k || !threshold.is_finite() {
        let why = format!("{} samples of {k} attributes, verbosity {verbosity}, threshold {threshold}", rewards.len());
        return Err(Error::option("rewards", why));
    }
    let column = |i: usize| -> Vec<f64> { rewards.iter().map(|r| r[i]).collect() };
    let rv = column(verbosity);
    let penalty = |i: usize| {
        let ri = column(i);
        let fits = |p: &f64| {
            let x: Vec<f64> = ri.iter().zip(&rv).map(|(a, b)| a - p * b).collect();
            spearman(&x, &rv).unwrap_or(0.0) <= threshold
        };
        PENALTY_GRID.iter().copied().find(fits).unwrap_or(PENALTY_GRID[PENALTY_GRID.len() - 1])
    };
    Ok((0..k).map(|i| if i == verbosity { 1.0 } else { penalty(i) }).collect())
}

/// DPA (spec 2.2): attribute rewards r(y) = R e_y + b and a preference direction v, score = vᵀr / ‖v‖.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Dpa {
    /// The attribute probes (k × d), e.g. helpfulness and verbosity.
    pub probes: Affine,
    /// v (k values, not zero; normalised when scoring).
    pub direction: Vec<f32>,
}

impl Dpa {
    fn check(&self) -> Result<usize> {
        self.probes.check("dpa probes")?;
        if self.direction.len() != self.probes.outputs() {
            return Err(model(format!(
                "dpa: {} direction values for {} probes",
                self.direction.len(),
                self.probes.outputs()
            )));
        }
        unit_direction(&widen(&self.direction)).map_err(|e| model(format!("dpa direction: {e}")))?;
        Ok(self.probes.inputs())
    }

    /// The attribute rewards r(y) = R e_y + b.
    pub fn rewards(&self, response: &[f32]) -> Result<Vec<f64>> {
        let d = self.check()?;
        Ok(self.probes.apply(&input("response", response, d)?))
    }

    fn scores(&self, rows: &[Vec<f64>]) -> Result<Vec<f64>> {
        let v = unit_direction(&widen(&self.direction))?;
        Ok(rows.iter().map(|x| dot(&v, &self.probes.apply(x))).collect())
    }
}

/// v / ‖v‖ (spec 2.2: DPA's reward is only scale-free once v is a unit vector). Errors on an empty, non-finite or
/// zero vector.
pub fn unit_direction(v: &[f64]) -> Result<Vec<f64>> {
    super::math::check_finite("direction", v)?;
    let top = v.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    if top == 0.0 {
        return Err(Error::option("direction", "is zero (or empty): it has no direction"));
    }
    let scaled: Vec<f64> = v.iter().map(|x| x / top).collect();
    let n = norm(&scaled);
    Ok(scaled.iter().map(|x| x / n).collect())
}

/// DPA's direction at angle θ (radians) in the (helpfulness, verbosity) plane: (cos θ, sin θ).
pub fn angle_direction(theta: f64) -> [f64; 2] {
    [theta.cos(), theta.sin()]
}

/// DPA's reward vᵀr with v normalised ([`unit_direction`]).
pub fn directional_reward(direction: &[f64], rewards: &[f64]) -> Result<f64> {
    if direction.len() != rewards.len() {
        return Err(Error::option(
            "rewards",
            format!("{} values for a {}-dim direction", rewards.len(), direction.len()),
        ));
    }
    super::math::check_finite("rewards", rewards)?;
    Ok(dot(&unit_direction(direction)?, rewards))
}

/// PAL (spec 2.6): items in a feature space f(y) = P e_y + b (or e_y without a projector), K prototypes and per-user
/// mixture weights w_u = softmax(W_u).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pal {
    /// The projector f; `None` is the identity.
    #[serde(default)]
    pub projector: Option<Affine>,
    /// PAL-A (distance to an ideal point) or PAL-B (angle to a prompt-conditioned direction).
    #[serde(flatten)]
    pub form: PalForm,
    /// Each user's K logits W_u.
    #[serde(default)]
    pub users: BTreeMap<String, Vec<f32>>,
}

/// The two PAL models, tagged `"form"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "form", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum PalForm {
    /// PAL-A: s_u(y) = −‖f(y) − a_u‖ with the ideal point a_u = Σ_k w_uk p_k.
    Distance {
        /// The prototypes p_k in feature space (K × d′).
        prototypes: Vec<Vec<f32>>,
    },
    /// PAL-B: s_u(y) = min(exp(ls), 100)·cos(f(y), u(x)) with u(x) = Σ_k w_uk g_k(x).
    Angle {
        /// The K linear prompt projectors g_k (d′ × d_x each).
        prompt_projectors: Vec<Affine>,
        /// ls (default ln(1/0.07), the PAL initialisation).
        #[serde(default = "initial_log_scale")]
        log_scale: f32,
    },
}

fn initial_log_scale() -> f32 {
    (1.0f32 / 0.07).ln()
}

impl Pal {
    /// K, the number of prototypes (prompt projectors for PAL-B).
    pub fn prototypes(&self) -> usize {
        match &self.form {
            PalForm::Distance { prototypes } => prototypes.len(),
            PalForm::Angle { prompt_projectors, .. } => prompt_projectors.len(),
        }
    }

    /// Checks the shapes; returns (response dimension, feature dimension).
    pub(crate) fn check(&self) -> Result<(usize, usize)> {
        let features = match &self.form {
            PalForm::Distance { prototypes } => check_rows("pal prototypes", prototypes)?,
            PalForm::Angle { prompt_projectors, log_scale } => {
                prompt_projectors
                    .iter()
                    .enumerate()
                    .try_for_each(|(k, g)| g.check(&format!("pal prompt projector {k}")))?;
                let first = prompt_projectors.first().ok_or_else(|| model("pal: no prompt projectors".into()))?;
                if prompt_projectors.iter().any(|g| g.inputs() != first.inputs() || g.outputs() != first.outputs()) {
                    return Err(model("pal: the prompt projectors differ in shape".into()));
                }
                finite("pal log scale", &[*log_scale])?;
                first.outputs()
            }
        };
        let dim = match &self.projector {
            Some(p) => {
                p.check("pal projector")?;
                if p.outputs() != features {
                    return Err(model(format!(
                        "pal: the projector gives {}, the prototypes have {features}",
                        p.outputs()
                    )));
                }
                p.inputs()
            }
            None => features,
        };
        for (user, w) in &self.users {
            if w.len() != self.prototypes() {
                return Err(model(format!(
                    "pal user `{user}` has {} weights for {} prototypes",
                    w.len(),
                    self.prototypes()
                )));
            }
            finite(&format!("pal user `{user}`"), w)?;
        }
        Ok((dim, features))
    }

    /// f(y): the projector applied to a response embedding (in f64).
    pub fn features(&self, response: &[f64]) -> Vec<f64> {
        self.projector.as_ref().map_or_else(|| response.to_vec(), |p| p.apply(response))
    }

    /// w_u = softmax(W_u) of a known user.
    pub fn user_weights(&self, user: &str) -> Result<Vec<f64>> {
        let w = self.users.get(user).ok_or_else(|| {
            Error::option("user", format!("unknown user `{user}` (the head has {} users)", self.users.len()))
        })?;
        Ok(softmax(&widen(w)))
    }

    /// PAL-A's ideal point a_u = Σ_k w_uk p_k (an error for PAL-B).
    pub fn ideal_point(&self, user: &str) -> Result<Vec<f64>> {
        self.check()?;
        let PalForm::Distance { prototypes } = &self.form else {
            return Err(Error::option("head", "PAL-B (angle) has no ideal point"));
        };
        Ok(mix(&self.user_weights(user)?, prototypes))
    }

    fn scores(&self, rows: &[Vec<f64>], context: &Context) -> Result<Vec<f64>> {
        let user = context.user.ok_or_else(|| Error::option("user", "a PAL head scores for a user; none given"))?;
        let w = self.user_weights(user)?;
        let f: Vec<Vec<f64>> = rows.iter().map(|x| self.features(x)).collect();
        match &self.form {
            PalForm::Distance { prototypes } => {
                let a = mix(&w, prototypes);
                Ok(f.iter().map(|y| -distance(y, &a)).collect())
            }
            PalForm::Angle { prompt_projectors, log_scale } => {
                let prompt = context.prompt.ok_or_else(|| Error::option("prompt", "PAL-B needs a prompt embedding"))?;
                let x = input("prompt", prompt, prompt_projectors[0].inputs())?;
                let mut u = vec![0.0; prompt_projectors[0].outputs()];
                for (g, wk) in prompt_projectors.iter().zip(&w) {
                    u.iter_mut().zip(g.apply(&x)).for_each(|(ui, gi)| *ui += wk * gi);
                }
                let scale = f64::from(*log_scale).exp().min(MAX_SCALE);
                Ok(f.iter().map(|y| scale * cosine(y, &u)).collect())
            }
        }
    }
}

/// Σ_k w_k p_k.
fn mix(w: &[f64], prototypes: &[Vec<f32>]) -> Vec<f64> {
    let mut a = vec![0.0; prototypes.first().map_or(0, Vec::len)];
    for (wk, p) in w.iter().zip(prototypes) {
        a.iter_mut().zip(p).for_each(|(ai, pi)| *ai += wk * f64::from(*pi));
    }
    a
}

/// ‖x − y‖.
pub(crate) fn distance(x: &[f64], y: &[f64]) -> f64 {
    x.iter().zip(y).map(|(a, b)| (a - b) * (a - b)).sum::<f64>().sqrt()
}

/// cos(x, y); 0 when either is zero.
fn cosine(x: &[f64], y: &[f64]) -> f64 {
    let n = norm(x) * norm(y);
    if n > 0.0 {
        (dot(x, y) / n).clamp(-1.0, 1.0)
    } else {
        0.0
    }
}

/// GPM as a scorer (spec 1.8, 2.8): v_y = normalise(M e_y + b) ∈ R^{2k}; block weights λ = softmax(prompt head)
/// or all 1; the skew score S_ij = v_iᵀRᵀv_j/τ = Σ_l λ_l (v_i[2l]·v_j[2l+1] − v_i[2l+1]·v_j[2l]) / τ, with R
/// block-diagonal of blocks [[0, −λ_l], [λ_l, 0]] (the spec's 1.8 convention); P(i ≻ j) = σ(S_ij).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Gpm {
    /// M and b: 2k outputs.
    pub map: Affine,
    /// The prompt head giving k block logits; `None` means λ = 1.
    #[serde(default)]
    pub prompt_head: Option<Affine>,
    /// τ > 0 (default 0.1, the inference setting).
    #[serde(default = "initial_tau")]
    pub tau: f32,
}

fn initial_tau() -> f32 {
    0.1
}

impl Gpm {
    fn check(&self) -> Result<usize> {
        self.map.check("gpm map")?;
        let size = self.map.outputs();
        if !size.is_multiple_of(2) {
            return Err(model(format!("gpm: the map gives {size} values, not an even number")));
        }
        if let Some(h) = &self.prompt_head {
            h.check("gpm prompt head")?;
            if h.outputs() != size / 2 {
                return Err(model(format!("gpm: {} block logits for {} blocks", h.outputs(), size / 2)));
            }
        }
        if !(self.tau > 0.0 && self.tau.is_finite()) {
            return Err(model(format!("gpm: tau {} is not positive", self.tau)));
        }
        Ok(self.map.inputs())
    }

    /// The unit vector v_y of a response (0 when M e_y + b = 0).
    pub fn embed(&self, response: &[f32]) -> Result<Vec<f64>> {
        let d = self.check()?;
        Ok(self.vector(&input("response", response, d)?))
    }

    fn vector(&self, x: &[f64]) -> Vec<f64> {
        let v = self.map.apply(x);
        let n = norm(&v);
        if n > 0.0 {
            v.iter().map(|t| t / n).collect()
        } else {
            v
        }
    }

    /// λ: softmax of the prompt head on the prompt, or all 1 without a prompt head.
    pub fn blocks(&self, context: &Context) -> Result<Vec<f64>> {
        self.check()?;
        self.blocks_checked(context)
    }

    fn blocks_checked(&self, context: &Context) -> Result<Vec<f64>> {
        let Some(head) = &self.prompt_head else {
            return Ok(vec![1.0; self.map.outputs() / 2]);
        };
        let prompt = context.prompt.ok_or_else(|| Error::option("prompt", "the gpm prompt head needs a prompt"))?;
        Ok(softmax(&head.apply(&input("prompt", prompt, head.inputs())?)))
    }

    /// The K×K skew matrix S (row-major) of the candidates: S = −Sᵀ and diag S = 0 exactly.
    pub fn skew(&self, candidates: &Embeddings, context: &Context) -> Result<Vec<f64>> {
        let d = self.check()?;
        self.skew_rows(&rows(candidates, d)?, context)
    }

    fn skew_rows(&self, rows: &[Vec<f64>], context: &Context) -> Result<Vec<f64>> {
        let lambda = self.blocks_checked(context)?;
        let v: Vec<Vec<f64>> = rows.iter().map(|x| self.vector(x)).collect();
        let tau = f64::from(self.tau);
        let s: Vec<f64> = v.iter().flat_map(|vi| v.iter().map(|vj| gpm_score(vi, vj, &lambda) / tau)).collect();
        finite_output(s)
    }
}

/// GPM's s(i ≻ j) = Σ_l λ_l (v_i[2l]·v_j[2l+1] − v_i[2l+1]·v_j[2l]) (spec 1.8), before the 1/τ. Exactly
/// antisymmetric in (i, j) and 0 for i = j.
pub fn gpm_score(vi: &[f64], vj: &[f64], lambda: &[f64]) -> f64 {
    vi.chunks_exact(2).zip(vj.chunks_exact(2)).zip(lambda).map(|((a, b), l)| l * (a[0] * b[1] - a[1] * b[0])).sum()
}

/// A reward head, stored as JSON tagged by `"kind"`: `{"kind":"linear","weights":[...],"bias":0}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Head {
    /// s = wᵀe + b.
    Linear(Linear),
    /// s = MLP(e).
    Mlp(Mlp),
    /// ArmoRM (spec 2.1); needs a prompt.
    Armo(Armo),
    /// DPA (spec 2.2).
    Dpa(Dpa),
    /// PAL-A / PAL-B (spec 2.6); needs a user (and a prompt for PAL-B).
    Pal(Pal),
    /// GPM (spec 1.8, 2.8): pairwise only, no scalar score.
    Gpm(Gpm),
}

impl Head {
    /// Parses and validates a head. Malformed JSON or shapes that do not fit give `MODEL`.
    pub fn from_json(text: &str) -> Result<Head> {
        let head: Head = serde_json::from_str(text).map_err(|e| model(format!("reward head JSON: {e}")))?;
        head.validate()?;
        Ok(head)
    }

    /// The head as JSON (parameters as f32, so [`Head::from_json`] gives back an equal head).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a head has only string map keys")
    }

    /// Checks that the shapes fit together and the parameters are finite (`MODEL` otherwise).
    pub fn validate(&self) -> Result<()> {
        self.dim().map(|_| ())
    }

    /// The response-embedding dimension the head expects (validating it).
    pub fn dim(&self) -> Result<usize> {
        match self {
            Head::Linear(h) => {
                finite("linear", &h.weights)?;
                finite("linear bias", &[h.bias])?;
                if h.weights.is_empty() {
                    return Err(model("linear: no weights".into()));
                }
                Ok(h.weights.len())
            }
            Head::Mlp(h) => {
                let d = check_chain("mlp", &h.layers)?;
                let out = h.layers.last().map_or(0, Affine::outputs);
                if out == 1 {
                    Ok(d)
                } else {
                    Err(model(format!("mlp: the last layer gives {out} values, not 1")))
                }
            }
            Head::Armo(h) => h.check(),
            Head::Dpa(h) => h.check(),
            Head::Pal(h) => h.check().map(|(d, _)| d),
            Head::Gpm(h) => h.check(),
        }
    }

    /// The scalar reward of one response (every kind but GPM).
    pub fn score(&self, response: &[f32], context: &Context) -> Result<f64> {
        let x = input("response", response, self.dim()?)?;
        Ok(self.row_scores(&[x], context)?[0])
    }

    /// The scalar rewards of several responses (every kind but GPM); prompt and user parts are computed once.
    pub fn scores(&self, candidates: &Embeddings, context: &Context) -> Result<Vec<f64>> {
        self.row_scores(&rows(candidates, self.dim()?)?, context)
    }

    /// P(a ≻ b): σ(s_a − s_b) for the scalar heads (PAL-A's σ(dist_b − dist_a), PAL-B's two-way softmax), σ(S_ab)
    /// for GPM.
    pub fn probability(&self, a: &[f32], b: &[f32], context: &Context) -> Result<f64> {
        let d = self.dim()?;
        let pair = [input("embedding a", a, d)?, input("embedding b", b, d)?];
        Ok(self.matrix(&pair, context)?[1])
    }

    /// The K×K matrix P_ij = P(i ≻ j) of the candidates (row-major; P_ii = ½, P_ij + P_ji = 1).
    pub fn preferences(&self, candidates: &Embeddings, context: &Context) -> Result<Vec<f64>> {
        self.matrix(&rows(candidates, self.dim()?)?, context)
    }

    fn matrix(&self, rows: &[Vec<f64>], context: &Context) -> Result<Vec<f64>> {
        if let Head::Gpm(h) = self {
            return Ok(h.skew_rows(rows, context)?.iter().map(|s| sigmoid(*s)).collect());
        }
        let s = self.row_scores(rows, context)?;
        Ok(s.iter().flat_map(|si| s.iter().map(move |sj| sigmoid(si - sj))).collect())
    }

    /// Scores of checked rows (the head already validated).
    fn row_scores(&self, rows: &[Vec<f64>], context: &Context) -> Result<Vec<f64>> {
        let s = match self {
            Head::Linear(h) => rows.iter().map(|x| dot32(&h.weights, x) + f64::from(h.bias)).collect(),
            Head::Mlp(h) => rows.iter().map(|x| forward(&h.layers, h.activation, x)[0]).collect(),
            Head::Armo(h) => h.scores(rows, context)?,
            Head::Dpa(h) => h.scores(rows)?,
            Head::Pal(h) => h.scores(rows, context)?,
            Head::Gpm(_) => {
                return Err(Error::option("kind", "a GPM head has no scalar score; use preferences or probability"))
            }
        };
        finite_output(s)
    }
}

fn model(why: String) -> Error {
    Error::Model(why)
}

/// Parameters must be finite.
fn finite(name: &str, values: &[f32]) -> Result<()> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(i) => Err(model(format!("{name}: value {i} is {}, not finite", values[i]))),
        None => Ok(()),
    }
}

/// Equal-length finite rows (prototypes); returns the length.
fn check_rows(name: &str, rows: &[Vec<f32>]) -> Result<usize> {
    let d = rows.first().map_or(0, Vec::len);
    if d == 0 {
        return Err(model(format!("{name}: empty")));
    }
    if let Some(i) = rows.iter().position(|r| r.len() != d) {
        return Err(model(format!("{name}: row {i} has {} values, row 0 has {d}", rows[i].len())));
    }
    rows.iter().try_for_each(|r| finite(name, r))?;
    Ok(d)
}

/// One input embedding of the expected size, finite, in f64.
fn input(name: &'static str, row: &[f32], dim: usize) -> Result<Vec<f64>> {
    if row.len() != dim {
        return Err(Error::option("embedding", format!("{name} has {} values, the head expects {dim}", row.len())));
    }
    if let Some(k) = row.iter().position(|v| !v.is_finite()) {
        return Err(Error::option("embedding", format!("{name} has a non-finite value ({}) at {k}", row[k])));
    }
    Ok(widen(row))
}

/// All rows of `candidates` in f64, after checking their width.
fn rows(candidates: &Embeddings, dim: usize) -> Result<Vec<Vec<f64>>> {
    if candidates.dim() != dim {
        let why = format!("embeddings have {} values per row, the head expects {dim}", candidates.dim());
        return Err(Error::option("embeddings", why));
    }
    Ok((0..candidates.len()).map(|i| widen(candidates.row(i))).collect())
}

/// Scores that overflowed to ±∞ (enormous weights or inputs) are an error, never returned.
fn finite_output(s: Vec<f64>) -> Result<Vec<f64>> {
    if s.iter().all(|v| v.is_finite()) {
        Ok(s)
    } else {
        Err(model("the head's output overflowed (weights or inputs too large)".into()))
    }
}
