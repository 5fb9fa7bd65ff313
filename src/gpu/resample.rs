//! Bootstrap resampling on the GPU (`shaders/philox.wgsl` + `shaders/resample.wgsl`), many replicates per dispatch.
//! The draws are those of [`crate::rng::Draws`], bit for bit, so a GPU bootstrap resamples exactly as the CPU one.

use std::rc::Rc;

use super::{read_back, Gpu};
use crate::error::{Error, Result};

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    draws: u32,
    threshold: u32,
    key0: u32,
    key1: u32,
    stream0: u32,
    rows: u32,
    mapped: u32,
    width: u32,
}

/// `draws` battles drawn with replacement per replicate and counted per target row; the battle → row map stays on
/// the GPU between calls.
pub struct Resampler {
    gpu: Rc<Gpu>,
    draws: u32,
    rows: usize,
    map: Option<wgpu::Buffer>,
    dummy: wgpu::Buffer,
}

impl Resampler {
    /// `map[battle]` is the row a drawn battle counts for; without a map, battle i counts for row i.
    ///
    /// # Errors
    /// `GPU` when the map exceeds the adapter's storage-binding limit.
    pub fn new(gpu: Rc<Gpu>, draws: u32, map: Option<&[u32]>, rows: usize) -> Result<Self> {
        if draws == 0 {
            return Err(Error::Gpu("nothing to resample".into()));
        }
        let max = gpu.max_binding();
        if map.is_some_and(|m| 4 * m.len() as u64 > max) || 4 * rows as u64 > max {
            return Err(Error::Gpu(format!("{draws} battles exceed this adapter's storage-binding limit")));
        }
        let map = map.map(|m| gpu.buffer("battle map", wgpu::BufferUsages::STORAGE, bytemuck::cast_slice(m)));
        let dummy = gpu.buffer("no map", wgpu::BufferUsages::STORAGE, &[0; 4]);
        Ok(Self { gpu, draws, rows, map, dummy })
    }

    /// Largest number of replicates one call can count (the counts must fit one storage binding).
    pub fn batch(&self) -> u32 {
        let per = 4 * self.rows.max(1) as u64;
        (self.gpu.max_binding() / per).clamp(1, u64::from(self.gpu.limits.max_compute_workgroups_per_dimension)) as u32
    }

    /// Writes the counts of replicates `first..first + replicates` into `counts` (on the GPU, `replicates × rows`
    /// u32, at least that large).
    pub(super) fn encode(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        counts: &wgpu::Buffer,
        seed: u64,
        first: u32,
        replicates: u32,
    ) {
        let gpu = &*self.gpu;
        let blocks = self.draws.div_ceil(4);
        let max = gpu.limits.max_compute_workgroups_per_dimension;
        let groups = blocks.div_ceil(64);
        let x = groups.min(max);
        let y = groups.div_ceil(x);
        let params = Params {
            draws: self.draws,
            threshold: self.draws.wrapping_neg() % self.draws,
            key0: seed as u32,
            key1: (seed >> 32) as u32,
            stream0: first,
            rows: self.rows as u32,
            mapped: u32::from(self.map.is_some()),
            width: x * 64,
        };
        let uniform = gpu.buffer("resample params", wgpu::BufferUsages::UNIFORM, bytemuck::bytes_of(&params));
        let layout = gpu.resample.get_bind_group_layout(0);
        let bind = gpu.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("resample"),
            layout: &layout,
            entries: &[
                wgpu::BindGroupEntry { binding: 0, resource: uniform.as_entire_binding() },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: self.map.as_ref().unwrap_or(&self.dummy).as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 2,
                    resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                        buffer: counts,
                        offset: 0,
                        size: wgpu::BufferSize::new(4 * u64::from(replicates) * self.rows as u64),
                    }),
                },
            ],
        });
        encoder.clear_buffer(counts, 0, Some(4 * u64::from(replicates) * self.rows as u64));
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor::default());
        pass.set_pipeline(&gpu.resample);
        pass.set_bind_group(0, &bind, &[]);
        pass.dispatch_workgroups(x, y, replicates);
    }

    /// The first `count` draws of stream `stream` in `[0, bound)` (a test of the draws themselves, rejections
    /// included; the CPU twin is [`crate::rng::Draws::fill_below`]).
    ///
    /// # Errors
    /// `GPU` when the device fails.
    pub async fn draws(gpu: &Gpu, bound: u32, seed: u64, stream: u32, count: u32) -> Result<Vec<u32>> {
        gpu.check()?;
        let max = gpu.limits.max_compute_workgroups_per_dimension;
        let groups = count.div_ceil(64).max(1);
        let x = groups.min(max);
        let params = Params {
            draws: bound,
            threshold: bound.wrapping_neg() % bound.max(1),
            key0: seed as u32,
            key1: (seed >> 32) as u32,
            stream0: stream,
            rows: count,
            mapped: 0,
            width: x * 64,
        };
        let device = &gpu.device;
        let uniform = gpu.buffer("draws params", wgpu::BufferUsages::UNIFORM, bytemuck::bytes_of(&params));
        let size = 4 * u64::from(count.max(1));
        let out = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("draws"),
            size,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let layout = gpu.sample.get_bind_group_layout(0);
        let bind = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("draws"),
            layout: &layout,
            entries: &[
                // `sample` does not read the map, so its automatic layout has no binding 1.
                wgpu::BindGroupEntry { binding: 0, resource: uniform.as_entire_binding() },
                wgpu::BindGroupEntry { binding: 2, resource: out.as_entire_binding() },
            ],
        });
        let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor::default());
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor::default());
            pass.set_pipeline(&gpu.sample);
            pass.set_bind_group(0, &bind, &[]);
            pass.dispatch_workgroups(x, groups.div_ceil(x), 1);
        }
        gpu.queue.submit([encoder.finish()]);
        let bytes = read_back(gpu, &out, size).await?;
        gpu.check()?;
        Ok(bytemuck::cast_slice::<u8, u32>(&bytes)[..count as usize].to_vec())
    }

    /// Counts of replicates `first..first + replicates`, `counts[r * rows + row]`, read back to the CPU.
    ///
    /// # Errors
    /// `GPU` when the device fails.
    pub async fn counts(&self, seed: u64, first: u32, replicates: u32) -> Result<Vec<u32>> {
        self.gpu.check()?;
        let mut out = Vec::with_capacity(replicates as usize * self.rows);
        let batch = self.batch();
        let mut done = 0;
        while done < replicates {
            let r = batch.min(replicates - done);
            let size = 4 * u64::from(r) * self.rows as u64;
            let buffer = self.gpu.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("bootstrap counts"),
                size,
                usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            let mut encoder = self.gpu.device.create_command_encoder(&wgpu::CommandEncoderDescriptor::default());
            self.encode(&mut encoder, &buffer, seed, first + done, r);
            self.gpu.queue.submit([encoder.finish()]);
            let bytes = read_back(&self.gpu, &buffer, size).await?;
            out.extend_from_slice(bytemuck::cast_slice::<u8, u32>(&bytes));
            done += r;
        }
        self.gpu.check()?;
        Ok(out)
    }
}
