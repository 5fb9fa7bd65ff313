//! Contextual Bradley-Terry on the GPU: the battles live on the device, sorted by pair and cut into segments, and
//! each Newton iteration is one dispatch of `shaders/contextual.wgsl` (per-segment sums in f32) plus an f64
//! assembly on the CPU ([`crate::rank::contextual::Newton`] drives both paths). Bootstrap replicates are resampled
//! on the device with the CPU's Philox draws, so both paths fit the same resamples.
//!
//! Memory: per battle 8 + 4k bytes on the device (k covariates in f32) and one u32 multiplicity; rows are split into
//! chunks that fit the adapter's storage-binding limit.

use std::rc::Rc;

use super::resample::Resampler;
use super::{read_back, Gpu};
use crate::error::{Error, Result};
use crate::rank::contextual::{symmetrize, Design, Newton, Reduction};
use crate::rank::graph::Reach;
use crate::rank::rows::Pair;
use crate::rng::Draws;

/// Covariates the kernel supports (its accumulator is sized for them).
pub const MAX_COVARIATES: usize = 8;
/// Battles per segment (one workgroup of 64 threads, 32 battles each).
const SEGMENT: usize = 2048;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    n: u32,
    k: u32,
    q: u32,
    segments: u32,
    use_multiplicity: u32,
    pad: [u32; 3],
}

/// One chunk's rows as the kernel reads them.
#[derive(Default)]
struct ChunkData {
    segs: Vec<[u32; 4]>,
    kind: Vec<u32>,
    weight: Vec<f32>,
    z: Vec<f32>,
}

struct Chunk {
    /// Bind groups without and with bootstrap multiplicities.
    bind: [wgpu::BindGroup; 2],
    out: wgpu::Buffer,
    segments: u32,
}

/// The battles of a [`Design`] on the device.
pub struct ContextualGpu {
    gpu: Rc<Gpu>,
    n: usize,
    k: usize,
    q: usize,
    theta: wgpu::Buffer,
    chunks: Vec<Chunk>,
    /// Pair index of each segment, and the distinct pairs (i < j).
    segment_pair: Vec<u32>,
    pairs: Vec<(u32, u32)>,
    multiplicity: wgpu::Buffer,
    /// Sorted position of each design row (the resample map).
    position: Vec<u32>,
    battles: u32,
    /// Draws the replicates on the device; `None` when some row stands for several battles (the CPU draws them).
    resampler: Option<Resampler>,
}

impl ContextualGpu {
    /// Uploads the design. `chunk_rows` caps the rows per chunk (tests use it to force several chunks).
    ///
    /// # Errors
    /// `GPU` for more than [`MAX_COVARIATES`] covariates, more than 2³² battles, or device failure.
    pub fn new(gpu: Rc<Gpu>, design: &Design, chunk_rows: Option<usize>) -> Result<Self> {
        let (n, k) = (design.n, design.k());
        if k > MAX_COVARIATES {
            return Err(Error::Gpu(format!("{k} covariates: the GPU path supports at most {MAX_COVARIATES}")));
        }
        if design.battles > f64::from(u32::MAX) {
            return Err(Error::Gpu("the GPU path supports at most 4294967295 battles".into()));
        }
        let q = 5 + 2 * k + k * (k + 1) / 2;
        let key = |r: usize| (design.a[r].min(design.b[r]), design.a[r].max(design.b[r]));
        let mut order: Vec<u32> = (0..design.len() as u32).collect();
        order.sort_by_key(|&r| key(r as usize));
        let mut position = vec![0u32; design.len()];
        for (p, &r) in order.iter().enumerate() {
            position[r as usize] = p as u32;
        }
        let align = (gpu.limits.min_storage_buffer_offset_alignment as usize / 4).max(1);
        let per_row = 4 * k.max(1) as u64;
        let limit = ((gpu.max_binding() / per_row) as usize).min(chunk_rows.unwrap_or(usize::MAX));
        let chunk = (limit / align * align).max(align);
        let device = &gpu.device;
        let theta = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("theta"),
            size: 4 * (n + k) as u64,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let multiplicity = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("multiplicity"),
            size: 4 * design.len().max(1) as u64,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        // Unit counts: a drawn battle is a row, so the device can draw the replicates itself.
        let unit = design.count.iter().all(|&c| c == 1);
        let battles = design.battles as u32;
        let mut this = Self {
            gpu: gpu.clone(),
            n,
            k,
            q,
            theta,
            chunks: Vec::new(),
            segment_pair: Vec::new(),
            pairs: Vec::new(),
            multiplicity,
            position,
            battles,
            resampler: None,
        };
        for start in (0..design.len()).step_by(chunk) {
            let rows = &order[start..(start + chunk).min(design.len())];
            let data = this.layout(design, rows);
            let uploaded = this.upload(start, rows.len(), &data);
            this.chunks.push(uploaded);
        }
        gpu.check()?;
        if unit && battles > 0 {
            this.resampler = Some(Resampler::new(gpu, battles, Some(&this.position), design.len())?);
        }
        Ok(this)
    }

    /// The device layout of `rows` (design rows in pair order): segments, and per row its kind (y2 | o << 2),
    /// weight × count and covariates. Records each segment's pair.
    fn layout(&mut self, design: &Design, rows: &[u32]) -> ChunkData {
        let mut data = ChunkData::default();
        for (local, &r) in rows.iter().enumerate() {
            let r = r as usize;
            let (i, j) = (design.a[r].min(design.b[r]), design.a[r].max(design.b[r]));
            let last = data.segs.last().copied();
            if last.is_none_or(|s| (s[0], s[1]) != (i, j) || (s[3] - s[2]) as usize == SEGMENT) {
                if self.pairs.last() != Some(&(i, j)) {
                    self.pairs.push((i, j));
                }
                self.segment_pair.push(self.pairs.len() as u32 - 1);
                data.segs.push([i, j, local as u32, local as u32]);
            }
            data.segs.last_mut().expect("a segment")[3] += 1;
            data.kind.push(u32::from(design.y2[r]) | (u32::from(design.a[r] == i) << 2));
            data.weight.push((design.weight(r) * f64::from(design.count[r])) as f32);
            data.z.extend((0..self.k).map(|f| design.z(r, f) as f32));
        }
        data
    }

    /// Uploads one chunk (rows `start..start + len` in pair order) and binds it, without and with multiplicities.
    fn upload(&self, start: usize, len: usize, data: &ChunkData) -> Chunk {
        let gpu = &*self.gpu;
        let storage = |label: &str, bytes: &[u8]| gpu.buffer(label, wgpu::BufferUsages::STORAGE, bytes);
        let segs = storage("segments", bytemuck::cast_slice(&data.segs));
        let kind = storage("kind", bytemuck::cast_slice(&data.kind));
        let weight = storage("weight", bytemuck::cast_slice(&data.weight));
        let z = storage("z", bytemuck::cast_slice(&data.z));
        let out = gpu.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("segment sums"),
            size: 4 * (data.segs.len() * self.q).max(1) as u64,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let segments = data.segs.len() as u32;
        let bind = [0u32, 1].map(|use_multiplicity| {
            let (n, k, q) = (self.n as u32, self.k as u32, self.q as u32);
            let params = Params { n, k, q, segments, use_multiplicity, pad: [0; 3] };
            let uniform = gpu.buffer("contextual params", wgpu::BufferUsages::UNIFORM, bytemuck::bytes_of(&params));
            let slice = wgpu::BufferBinding {
                buffer: &self.multiplicity,
                offset: 4 * start as u64,
                size: wgpu::BufferSize::new(4 * len as u64),
            };
            let entries = [
                (0, uniform.as_entire_binding()),
                (1, self.theta.as_entire_binding()),
                (2, segs.as_entire_binding()),
                (3, kind.as_entire_binding()),
                (4, weight.as_entire_binding()),
                (5, z.as_entire_binding()),
                (6, wgpu::BindingResource::Buffer(slice)),
                (7, out.as_entire_binding()),
            ]
            .map(|(binding, resource)| wgpu::BindGroupEntry { binding, resource });
            let layout = gpu.contextual.get_bind_group_layout(0);
            gpu.device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some("contextual"),
                layout: &layout,
                entries: &entries,
            })
        });
        Chunk { bind, out, segments }
    }

    /// One reduction at `params` = [θ; β]; with `bootstrap`, the rows count with the current multiplicities. Also
    /// returns the pair totals (for the connectivity check of a resample).
    ///
    /// # Errors
    /// `GPU` when the device fails or is lost.
    pub async fn reduce(&self, params: &[f64], bootstrap: bool) -> Result<(Reduction, Vec<Pair>)> {
        let gpu = &*self.gpu;
        gpu.check()?;
        let theta: Vec<f32> = params.iter().map(|&x| x as f32).collect();
        gpu.queue.write_buffer(&self.theta, 0, bytemuck::cast_slice(&theta));
        let total: u64 = self.chunks.iter().map(|c| u64::from(c.segments)).sum::<u64>() * self.q as u64 * 4;
        let gather = gpu.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("segment sums (all chunks)"),
            size: total.max(4),
            usage: wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let mut encoder = gpu.device.create_command_encoder(&wgpu::CommandEncoderDescriptor::default());
        let max = gpu.limits.max_compute_workgroups_per_dimension;
        let mut offset = 0;
        for c in &self.chunks {
            {
                let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor::default());
                pass.set_pipeline(&gpu.contextual);
                pass.set_bind_group(0, &c.bind[usize::from(bootstrap)], &[]);
                let x = c.segments.min(max);
                pass.dispatch_workgroups(x, c.segments.div_ceil(x), 1);
            }
            let size = u64::from(c.segments) * self.q as u64 * 4;
            encoder.copy_buffer_to_buffer(&c.out, 0, &gather, offset, size);
            offset += size;
        }
        gpu.queue.submit([encoder.finish()]);
        let bytes = read_back(gpu, &gather, total.max(4)).await?;
        gpu.check()?;
        Ok(self.assemble(bytemuck::cast_slice::<u8, f32>(&bytes)))
    }

    /// Adds the segment sums in f64 into the gradient, Hessian, loss and pair totals.
    fn assemble(&self, sums: &[f32]) -> (Reduction, Vec<Pair>) {
        let (n, k, q) = (self.n, self.k, self.q);
        let m = n + k;
        let mut red = Reduction::zeros(m);
        let mut pairs: Vec<Pair> = self.pairs.iter().map(|&(i, j)| Pair { i, j, n: 0.0, s: 0.0 }).collect();
        for (s, &p) in self.segment_pair.iter().enumerate() {
            let x: Vec<f64> = sums[s * q..(s + 1) * q].iter().map(|&v| f64::from(v)).collect();
            let (i, j) = (self.pairs[p as usize].0 as usize, self.pairs[p as usize].1 as usize);
            let h = &mut red.h;
            h[[i, i]] += x[0];
            h[[j, j]] += x[0];
            h[[i, j]] -= x[0];
            h[[j, i]] -= x[0];
            red.g[i] += x[1];
            red.g[j] -= x[1];
            red.loss += x[2];
            pairs[p as usize].n += x[3];
            pairs[p as usize].s += x[4];
            let mut idx = 5 + 2 * k;
            for f in 0..k {
                h[[i, n + f]] += x[5 + f];
                h[[j, n + f]] -= x[5 + f];
                red.g[n + f] += x[5 + k + f];
                for g in 0..=f {
                    h[[n + f, n + g]] += x[idx];
                    idx += 1;
                }
            }
        }
        symmetrize(&mut red.h, n);
        (red, pairs)
    }

    /// Damped Newton with GPU reductions. Returns [θ; β] and the iteration count.
    ///
    /// # Errors
    /// `GPU` when the device fails or is lost.
    pub async fn fit(
        &self,
        lambda: (f64, f64),
        start: Option<&[f64]>,
        bootstrap: bool,
        gtol: f64,
        step_tol: f64,
    ) -> Result<(Vec<f64>, usize)> {
        let start = start.map_or_else(|| vec![0.0; self.n + self.k], <[f64]>::to_vec);
        let mut newton = Newton::new(self.n, start, lambda, gtol, step_tol);
        loop {
            let (red, _) = self.reduce(newton.params(), bootstrap).await?;
            if newton.update(&red) {
                return Ok((newton.params().to_vec(), newton.iterations));
            }
        }
    }

    /// Loads bootstrap replicate `round` of `seed` into the multiplicities: drawn on the device when every row is one
    /// battle, otherwise drawn on the CPU (the same draws) and uploaded.
    pub fn resample(&self, design: &Design, seed: u64, round: u32) {
        if let Some(resampler) = &self.resampler {
            let mut encoder = self.gpu.device.create_command_encoder(&wgpu::CommandEncoderDescriptor::default());
            resampler.encode(&mut encoder, &self.multiplicity, seed, round, 1);
            self.gpu.queue.submit([encoder.finish()]);
            return;
        }
        let mut draws = vec![0u32; self.battles as usize];
        Draws::new(seed, round).fill_below(self.battles, &mut draws);
        let mut start = Vec::new();
        let counts = crate::rank::contextual_multiplicity(design, &draws, &mut start);
        let mut sorted = vec![0u32; counts.len()];
        for (r, c) in counts.into_iter().enumerate() {
            sorted[self.position[r] as usize] = c;
        }
        self.gpu.queue.write_buffer(&self.multiplicity, 0, bytemuck::cast_slice(&sorted));
    }

    /// One bootstrap round on the device: resample, check that the resample still connects the models (else fit it
    /// with [`crate::rank::FALLBACK_RIDGE`] from zero), and refit from `warm`.
    ///
    /// # Errors
    /// `GPU` when the device fails or is lost.
    pub async fn round(
        &self,
        design: &Design,
        seed: u64,
        round: u32,
        warm: &[f64],
        lambda: (f64, f64),
        gtol: f64,
    ) -> Result<Vec<f64>> {
        self.resample(design, seed, round);
        let mut lambda = lambda;
        let mut start = Some(warm);
        if lambda.0 == 0.0 {
            let (_, pairs) = self.reduce(warm, true).await?;
            if !Reach::new(self.n, &self.pairs).strongly_connected(&pairs) {
                lambda.0 = crate::rank::FALLBACK_RIDGE;
                start = None;
            }
        }
        Ok(self.fit(lambda, start, true, gtol, crate::rank::STYLE_ROUND_STEP_TOL.max(GPU_STEP_TOL)).await?.0)
    }
}

/// Newton stops after a step below this on the GPU path: f32 reductions leave gradient noise of order 1e-7 relative,
/// so smaller steps cannot be resolved (1e-5 in θ is 2e-3 Elo points, and the error after it is its square).
pub const GPU_STEP_TOL: f64 = 1e-5;
