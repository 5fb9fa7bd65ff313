//! The predicted-probability matrix kernel (`shaders/predicted.wgsl`).

use super::{read_back, Gpu};
use crate::error::{Error, Result};

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    n: u32,
    row0: u32,
    rows: u32,
    c: f32,
}

pub(super) struct Kernel {
    pipeline: wgpu::ComputePipeline,
}

impl Kernel {
    pub(super) fn new(device: &wgpu::Device) -> Self {
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("predicted.wgsl"),
            source: wgpu::ShaderSource::Wgsl(include_str!("shaders/predicted.wgsl").into()),
        });
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some("predicted"),
            layout: None,
            module: &module,
            entry_point: Some("main"),
            compilation_options: wgpu::PipelineCompilationOptions::default(),
            cache: None,
        });
        Self { pipeline }
    }
}

/// Runs the kernel in row blocks that fit the adapter's storage-binding and dispatch limits.
pub(super) async fn run(gpu: &Gpu, raw: &[f64], c: f32) -> Result<Vec<f32>> {
    let n = raw.len();
    if n == 0 {
        return Ok(Vec::new());
    }
    let mean = raw.iter().sum::<f64>() / n as f64;
    let centred: Vec<f32> = raw.iter().map(|x| (x - mean) as f32).collect();
    let row_bytes = 4 * n as u64;
    let max_binding = gpu.max_binding();
    let max_groups = u64::from(gpu.limits.max_compute_workgroups_per_dimension);
    if row_bytes > max_binding || (n as u64).div_ceil(16) > max_groups {
        return Err(Error::Gpu(format!("{n} models exceed this adapter's buffer or dispatch limits")));
    }
    let block = (max_binding / row_bytes).min(max_groups * 16).min(n as u64) as usize;
    let device = &gpu.device;
    let ratings = gpu.buffer("ratings", wgpu::BufferUsages::STORAGE, bytemuck::cast_slice(&centred));
    let out = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("predicted"),
        size: block as u64 * row_bytes,
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
        mapped_at_creation: false,
    });
    let mut result = Vec::with_capacity(n * n);
    for row0 in (0..n).step_by(block) {
        let rows = block.min(n - row0);
        let params = Params { n: n as u32, row0: row0 as u32, rows: rows as u32, c };
        let uniform = gpu.buffer("params", wgpu::BufferUsages::UNIFORM, bytemuck::bytes_of(&params));
        let layout = gpu.predicted.pipeline.get_bind_group_layout(0);
        let bind = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("predicted"),
            layout: &layout,
            entries: &[
                wgpu::BindGroupEntry { binding: 0, resource: uniform.as_entire_binding() },
                wgpu::BindGroupEntry { binding: 1, resource: ratings.as_entire_binding() },
                wgpu::BindGroupEntry { binding: 2, resource: out.as_entire_binding() },
            ],
        });
        let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor::default());
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor::default());
            pass.set_pipeline(&gpu.predicted.pipeline);
            pass.set_bind_group(0, &bind, &[]);
            pass.dispatch_workgroups((n as u32).div_ceil(16), (rows as u32).div_ceil(16), 1);
        }
        gpu.queue.submit([encoder.finish()]);
        let bytes = read_back(gpu, &out, rows as u64 * row_bytes).await?;
        result.extend_from_slice(bytemuck::cast_slice::<u8, f32>(&bytes));
    }
    Ok(result)
}
