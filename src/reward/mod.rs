//! Local reward scoring (spec section 2): small reward heads on sentence embeddings, best-of-N selection rules,
//! MAP's palette solver and fitting heads from votes. Pure CPU code, the same natively and in wasm.
//!
//! - [`heads`]: the heads as one JSON-serialisable enum [`Head`] (linear, MLP, ArmoRM 2.1, DPA 2.2, PAL 2.6, GPM
//!   2.8) with scores and pairwise probabilities; ArmoRM's coefficient transform and verbosity decorrelation.
//! - [`select`]: best-of-N rules (2.9): max reward, DPA's vᵀr, MAP's λᵀr, MaxMin, SPO/SPPO batch win rate, the Nash
//!   mixture of the candidate game, and RPS (2.3).
//! - [`map`]: MAP's dual (2.4) by projected Newton, with a KKT report and an infeasibility certificate.
//! - [`api`]: the caller-shaped entry (heads as JSON text, votes and options as JSON values) for JS and the examples.
//! - [`fit`]: Bradley-Terry fits of linear/MLP heads from pairwise votes, PAL-A and PAL few-shot user fits.
//!
//! Embeddings are `f32` rows (unit-norm MiniLM vectors in practice); arithmetic is `f64`, scores are `f64`. Random
//! draws come from [`crate::rng::Stream`] only, so every result is a function of its inputs and seed.

pub mod api;
pub mod fit;
pub mod heads;
pub mod map;
mod math;
pub mod select;

pub use fit::{
    evaluate, fit_pairwise, fit_pal, fit_personal, FitOptions, FitReport, Metrics, PalOptions, PalReport,
    PersonalOptions, Vote,
};
pub use heads::{
    angle_direction, armo_coefficients, directional_reward, gpm_score, unit_direction, verbosity_penalties, Activation,
    Affine, Armo, Context, Dpa, Embeddings, Gpm, Head, Linear, Mlp, Pal, PalForm,
};
pub use map::{solve_map, Kkt, MapOptions, MapSolution};
pub use select::{
    best_direction, best_maxmin, best_score, best_weighted, best_win_rate, nash_mixture, sample_directions, select_rps,
    win_rates, Mixture, RpsChoice, Tagged, WinRate,
};
