//! The encoder's operations on the CPU, one function per GPU kernel (`src/gpu/shaders/encoder.wgsl`): these are
//! the CPU twins the parity tests compare the kernels with, and the CPU forward pass itself.
//!
//! Activations are row-major `tokens × features` matrices of several sequences packed end to end (no padding);
//! [`Seq`] says where each sequence lies, and attention only looks inside a token's own sequence (the padding mask
//! of a padded batch, without the padding).

use ndarray::{Array1, Array2, ArrayView2, Axis, Slice};

/// Where one sequence lies in a packed batch: tokens `start .. start + len`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seq {
    pub start: usize,
    pub len: usize,
}

/// A dense layer `y = x Wᵀ + b`, with `W` stored `out × in` as PyTorch stores it.
#[derive(Clone, Debug)]
pub struct Linear {
    pub w: Array2<f32>,
    pub b: Array1<f32>,
}

impl Linear {
    /// `x Wᵀ + b` for every row of `x`.
    pub fn apply(&self, x: &ArrayView2<f32>) -> Array2<f32> {
        x.dot(&self.w.t()) + &self.b
    }
}

/// Layer normalisation over the features of each row (biased variance, as PyTorch).
#[derive(Clone, Debug)]
pub struct LayerNorm {
    pub g: Array1<f32>,
    pub b: Array1<f32>,
    pub eps: f32,
}

impl LayerNorm {
    /// `x ← LayerNorm(x + residual)`; the residual is optional (the embeddings have none).
    pub fn apply(&self, x: &mut Array2<f32>, residual: Option<&Array2<f32>>) {
        if let Some(r) = residual {
            *x += r;
        }
        for mut row in x.rows_mut() {
            let n = row.len() as f32;
            let mean = row.sum() / n;
            let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n;
            let inv = 1.0 / (var + self.eps).sqrt();
            for ((v, g), b) in row.iter_mut().zip(&self.g).zip(&self.b) {
                *v = (*v - mean) * inv * g + b;
            }
        }
    }
}

/// Multi-head self-attention of packed sequences. `qkv` holds, per token, the query, key and value projections
/// side by side (`tokens × 3h`); the result is the context (`tokens × h`). Scores are scaled by 1/√d and the
/// softmax subtracts each row's maximum.
pub fn attention(qkv: &ArrayView2<f32>, seqs: &[Seq], heads: usize) -> Array2<f32> {
    let h = qkv.ncols() / 3;
    let d = h / heads;
    let scale = 1.0 / (d as f32).sqrt();
    let mut context = Array2::<f32>::zeros((qkv.nrows(), h));
    for s in seqs {
        let tokens = qkv.slice_axis(Axis(0), Slice::from(s.start..s.start + s.len));
        for head in 0..heads {
            let at = |part: usize| Slice::from(part * h + head * d..part * h + (head + 1) * d);
            let (q, k, v) = (
                tokens.slice_axis(Axis(1), at(0)),
                tokens.slice_axis(Axis(1), at(1)),
                tokens.slice_axis(Axis(1), at(2)),
            );
            let mut scores = q.dot(&k.t());
            for mut row in scores.rows_mut() {
                let top = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                row.mapv_inplace(|x| ((x - top) * scale).exp());
                let sum = row.sum();
                row /= sum;
            }
            context
                .slice_axis_mut(Axis(0), Slice::from(s.start..s.start + s.len))
                .slice_axis_mut(Axis(1), Slice::from(head * d..(head + 1) * d))
                .assign(&scores.dot(&v));
        }
    }
    context
}

/// GELU with the normal CDF, x·Φ(x) = ½x(1 + erf(x/√2)) (BERT's exact `gelu`, not the tanh approximation), with
/// erf from Abramowitz & Stegun 7.1.26 (absolute error ≤ 1.5e-7, below f32's resolution of the activations).
pub fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

fn erf(x: f32) -> f32 {
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs());
    let poly = t * (0.254_829_6 + t * (-0.284_496_74 + t * (1.421_413_7 + t * (-1.453_152_1 + t * 1.061_405_4))));
    (1.0 - poly * (-x * x).exp()).copysign(x)
}

/// The mean of each sequence's token states, scaled to unit length (sentence-transformers' pooling + Normalize).
pub fn mean_pool(states: &ArrayView2<f32>, seqs: &[Seq]) -> Vec<Vec<f32>> {
    seqs.iter()
        .map(|s| {
            let rows = states.slice_axis(Axis(0), Slice::from(s.start..s.start + s.len));
            let mut pooled = rows.mean_axis(Axis(0)).unwrap_or_else(|| Array1::zeros(states.ncols()));
            let norm = pooled.dot(&pooled).sqrt().max(1e-12);
            pooled /= norm;
            pooled.to_vec()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn erf_is_within_abramowitz_stegun_bounds() {
        // erf(0.5), erf(1), erf(2), erf(-1.5) from tables.
        for (x, want) in [(0.5f32, 0.520_499_9f64), (1.0, 0.842_700_8), (2.0, 0.995_322_3), (-1.5, -0.966_105_1)] {
            assert!((f64::from(super::erf(x)) - want).abs() < 3e-7, "erf({x})");
        }
        assert!(super::erf(0.0).abs() < 2e-7);
        assert!((super::gelu(1.0) - 0.841_344_7).abs() < 1e-6);
    }
}
