//! Pairwise matrices for display: battle counts, observed win rates and the rating-predicted win probabilities.

use serde::Serialize;

use super::rows::Rows;

/// Matrices indexed like `models` (the leaderboard order, best first).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Matrices {
    pub models: Vec<String>,
    /// Battles between i and j, both sides.
    pub counts: Vec<Vec<u64>>,
    /// Observed score of i against j (ties ½); `None` where they never met.
    pub win_rate: Vec<Vec<Option<f64>>>,
    /// Predicted P(i beats j) from the ratings: 1 / (1 + base^((R_j − R_i) / scale)).
    pub predicted: Vec<Vec<f64>>,
}

/// Predicted P(i ≻ j) for rating-scale values `raw`, row-major n×n. The CPU twin of `gpu::predicted`.
pub fn predicted(raw: &[f64], scale: f64, base: f64) -> Vec<f64> {
    let c = base.ln() / scale;
    let mut out = Vec::with_capacity(raw.len() * raw.len());
    for &ri in raw {
        for &rj in raw {
            out.push(super::bt::sigmoid((ri - rj) * c));
        }
    }
    out
}

/// Builds the matrices from the rows a ranking was fitted on, its rating-scale values `raw` (by model id) and its
/// leaderboard `order` (model ids, best first).
pub fn matrices(order: &[usize], rows: &Rows, models: &[String], raw: &[f64], scale: f64, base: f64) -> Matrices {
    let n = models.len();
    let mut count = vec![vec![0.0; n]; n];
    let mut score = vec![vec![0.0; n]; n];
    for r in &rows.rows {
        let (a, b) = (r.a as usize, r.b as usize);
        count[a][b] += r.count;
        count[b][a] += r.count;
        score[a][b] += r.count * r.y;
        score[b][a] += r.count * (1.0 - r.y);
    }
    let p = predicted(raw, scale, base);
    let pick = |f: &dyn Fn(usize, usize) -> f64| -> Vec<Vec<f64>> {
        order.iter().map(|&i| order.iter().map(|&j| f(i, j)).collect()).collect()
    };
    Matrices {
        models: order.iter().map(|&i| models[i].clone()).collect(),
        counts: pick(&|i, j| count[i][j]).into_iter().map(|r| r.into_iter().map(|x| x as u64).collect()).collect(),
        win_rate: order
            .iter()
            .map(|&i| order.iter().map(|&j| (count[i][j] > 0.0).then(|| score[i][j] / count[i][j])).collect())
            .collect(),
        predicted: pick(&|i, j| p[i * n + j]),
    }
}
