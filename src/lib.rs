//! arbiter: exact, fast arena statistics for AI-model leaderboards, natively, in wasm and on WebGPU.
//!
//! The core (`battles`, `rank`) knows nothing of JS or GPUs. `gpu` is the only module that touches wgpu;
//! `wasm` the only one that touches wasm-bindgen. Start with [`Battles::parse`] and [`rank::rank`].

pub mod annotators;
pub mod battles;
pub mod error;
#[cfg(feature = "gpu")]
pub mod gpu;
pub mod judge;
mod linalg;
pub mod methods;
pub mod nn;
mod optim;
mod options;
pub mod rank;
pub mod reward;
pub mod rng;
pub mod sampling;
pub mod stats;

#[cfg(target_arch = "wasm32")]
mod wasm;

pub use battles::{Battles, BothBad, Format, Outcome, ParseOptions};
pub use error::{Error, Result};
pub use rank::{rank, Ci, Convention, Identify, Leaderboard, Method, RankOptions, Ranking};
