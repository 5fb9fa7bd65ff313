//! Rankings with the GPU doing the heavy part: the style-controlled (contextual BT) fit and its bootstrap, and the
//! resampling of a BT bootstrap (many replicates per dispatch). The statistics stay in the core's [`Ranking`]:
//! the GPU hands it fitted parameters or resampled counts, drawn with the CPU's Philox streams.
//!
//! Anything the GPU cannot do (no adapter, a lost device, a limit, more covariates than the kernel holds) falls back
//! to the CPU path, which draws the same resamples; [`Leaderboard::device`](crate::Leaderboard) says which path ran,
//! and why when it fell back.

use std::rc::Rc;

use super::contextual::{ContextualGpu, GPU_STEP_TOL};
use super::resample::Resampler;
use super::Gpu;
use crate::battles::Battles;
use crate::error::{Error, Result};
use crate::rank::{Ci, Method, RankOptions, Ranking};

enum Path {
    /// BT bootstrap: replicates resampled on the device, fits on the CPU.
    Bt(Resampler),
    /// Style control: fits and replicates on the device.
    Style(ContextualGpu),
    /// Nothing for the GPU to do (Elo, no bootstrap), or it failed.
    Cpu,
}

/// A [`Ranking`] whose heavy work runs on a GPU.
pub struct GpuRanking {
    ranking: Ranking,
    path: Path,
    /// The style-control point fit is still to do ([`GpuRanking::fit`]).
    pending: bool,
}

impl GpuRanking {
    /// Prepares and fits: [`GpuRanking::prepare`] then [`GpuRanking::fit`].
    ///
    /// # Errors
    /// As [`GpuRanking::prepare`].
    pub async fn new(gpu: Option<Rc<Gpu>>, battles: &Battles, options: &RankOptions) -> Result<Self> {
        let mut this = Self::prepare(gpu, battles, options)?;
        this.fit().await;
        Ok(this)
    }

    /// Everything but the GPU work: validation, tallies, the upload of the battles. Without a device, or when the
    /// upload fails, the CPU computes the whole point estimate here.
    ///
    /// # Errors
    /// The core's errors (bad options, empty data); never `GPU`: GPU failures fall back to the CPU.
    pub fn prepare(gpu: Option<Rc<Gpu>>, battles: &Battles, options: &RankOptions) -> Result<Self> {
        let Some(gpu) = gpu else {
            return Ok(Self::cpu(Ranking::new(battles, options)?, "cpu (no GPU adapter)"));
        };
        match Self::prepare_on(gpu, battles, options) {
            Ok(this) => Ok(this),
            Err(Error::Gpu(why)) => Ok(Self::cpu(Ranking::new(battles, options)?, &format!("cpu (GPU failed: {why})"))),
            Err(e) => Err(e),
        }
    }

    fn prepare_on(gpu: Rc<Gpu>, battles: &Battles, options: &RankOptions) -> Result<Self> {
        let label = format!("gpu: {}", gpu.adapter());
        if options.style.is_some() && options.method == Method::Bt {
            let mut ranking = Ranking::deferred_style(battles, options)?;
            let (design, _, _) = ranking.style_state().expect("a style ranking");
            let device = ContextualGpu::new(gpu, design, None)?;
            ranking.set_device(label);
            return Ok(Self { ranking, path: Path::Style(device), pending: true });
        }
        let mut ranking = Ranking::new(battles, options)?;
        match ranking.battle_rows() {
            Some((map, rows)) if options.ci == Ci::Bootstrap => {
                let resampler = Resampler::new(gpu, map.len() as u32, Some(map), rows)?;
                ranking.set_device(label);
                Ok(Self { ranking, path: Path::Bt(resampler), pending: false })
            }
            _ => Ok(Self::cpu(ranking, "cpu (nothing to accelerate: the GPU runs style control and bootstraps)")),
        }
    }

    fn cpu(mut ranking: Ranking, device: &str) -> Self {
        ranking.set_device(device);
        Self { ranking, path: Path::Cpu, pending: false }
    }

    /// The style-control point fit on the device (nothing to do otherwise). If the device fails, the CPU fits.
    pub async fn fit(&mut self) {
        if !std::mem::take(&mut self.pending) {
            return;
        }
        let Path::Style(device) = &self.path else { return };
        let (_, _, lambda) = self.ranking.style_state().expect("a style ranking");
        let gtol = self.ranking.style_tolerance(false);
        match device.fit(lambda, None, false, gtol, GPU_STEP_TOL).await {
            Ok((params, iterations)) => self.ranking.set_style_fit(params, iterations),
            Err(e) => {
                self.ranking.fit_style_on_cpu();
                self.ranking.set_device(format!("cpu (GPU failed: {e})"));
                self.path = Path::Cpu;
            }
        }
    }

    /// Runs up to `k` more bootstrap rounds (the same resamples as [`Ranking::run_rounds`]). A GPU failure moves the
    /// remaining rounds to the CPU.
    pub async fn run_rounds(&mut self, k: u32) {
        self.fit().await;
        let k = k.min(self.ranking.remaining());
        let end = self.ranking.done() + k;
        if let Err(e) = self.try_rounds(k).await {
            let done = self.ranking.done();
            self.ranking.set_device(format!("cpu (GPU failed after {done} rounds: {e})"));
            self.path = Path::Cpu;
            self.ranking.run_rounds(end - done);
        }
    }

    async fn try_rounds(&mut self, k: u32) -> Result<()> {
        let (seed, first) = (self.ranking.options().seed, self.ranking.done());
        match &self.path {
            Path::Bt(resampler) => {
                let counts = resampler.counts(seed, first, k).await?;
                let rows = counts.len() / k.max(1) as usize;
                for round in counts.chunks(rows.max(1)).take(k as usize) {
                    self.ranking.push_bt_counts(round);
                }
            }
            Path::Style(device) => {
                let gtol = self.ranking.style_tolerance(true);
                for round in first..first + k {
                    let params = {
                        let (design, warm, lambda) = self.ranking.style_state().expect("a style ranking");
                        device.round(design, seed, round, warm, lambda, gtol).await?
                    };
                    self.ranking.push_style_round(&params);
                }
            }
            Path::Cpu => self.ranking.run_rounds(k),
        }
        Ok(())
    }

    /// The ranking (leaderboard, matrices, progress).
    pub fn ranking(&self) -> &Ranking {
        &self.ranking
    }

    /// Runs every remaining round and returns the leaderboard.
    pub async fn finish(mut self) -> crate::Leaderboard {
        self.fit().await;
        let k = self.ranking.remaining();
        self.run_rounds(k).await;
        self.ranking.leaderboard()
    }
}
