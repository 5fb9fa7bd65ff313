//! Online Elo (spec 1.1; FastChat `compute_elo`, evalica `elo`): battles applied in input order.

use crate::battles::{Battles, BothBad, Outcome};

/// Elo parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EloParams {
    /// K-factor (default 4).
    pub k: f64,
    /// Scale (default 400).
    pub scale: f64,
    /// Base (default 10).
    pub base: f64,
    /// Initial rating (default 1000).
    pub init: f64,
}

impl Default for EloParams {
    fn default() -> Self {
        Self { k: 4.0, scale: 400.0, base: 10.0, init: 1000.0 }
    }
}

/// One battle for Elo: model ids and A's score.
#[derive(Clone, Copy, Debug)]
pub struct Game {
    pub a: u32,
    pub b: u32,
    pub y: f64,
}

/// The battles in input order, a record with count c repeated c times; both-bad ties kept or dropped.
pub fn games(battles: &Battles, both_bad: BothBad) -> Vec<Game> {
    let mut out = Vec::with_capacity(battles.len());
    for i in 0..battles.len() {
        let (a, b, outcome, count) = battles.record(i);
        let y = match outcome {
            Outcome::A => 1.0,
            Outcome::B => 0.0,
            Outcome::Tie => 0.5,
            Outcome::BothBad if both_bad == BothBad::Tie => 0.5,
            Outcome::BothBad => continue,
        };
        for _ in 0..count {
            out.push(Game { a: a as u32, b: b as u32, y });
        }
    }
    out
}

/// Runs Elo over `order` (indices into `games`), returning ratings per model.
pub fn run(n: usize, games: &[Game], order: impl Iterator<Item = usize>, p: &EloParams, out: &mut Vec<f64>) {
    out.clear();
    out.resize(n, p.init);
    for g in order.map(|i| games[i]) {
        let (a, b) = (g.a as usize, g.b as usize);
        let expected = 1.0 / (1.0 + p.base.powf((out[b] - out[a]) / p.scale));
        let delta = p.k * (g.y - expected);
        out[a] += delta;
        out[b] -= delta;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_examples() {
        let games = [Game { a: 0, b: 1, y: 1.0 }, Game { a: 0, b: 1, y: 0.5 }];
        let mut r = Vec::new();
        run(2, &games, 0..1, &EloParams::default(), &mut r);
        assert!((r[0] - 1002.0).abs() < 1e-12 && (r[1] - 998.0).abs() < 1e-12);
        run(2, &games, 0..2, &EloParams::default(), &mut r);
        assert!((r[0] - 1_001.976_975_166_355_4).abs() < 1e-9, "{}", r[0]);
        assert!((r[1] - 998.023_024_833_644_6).abs() < 1e-9);
    }
}
