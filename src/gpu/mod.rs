//! The GPU layer: the only module that touches wgpu. One context type over native backends (Vulkan, GL) and the
//! browser's WebGPU; kernels are WGSL files in `shaders/`, each with a CPU twin in the core and a parity test.
//!
//! Errors a caller cannot anticipate (no adapter, validation failure, device lost, out of memory) come back as
//! `Error::Gpu`; the default wgpu handler, which panics, is replaced so nothing panics across the wasm boundary.

pub mod contextual;
pub mod encoder;
pub mod llama;
mod predicted;
pub mod rank;
pub mod resample;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};

/// WGSL sources, validated with naga in native tests (the browser compiles them without naga).
pub const SHADERS: &[(&str, &str)] = &[
    ("predicted.wgsl", include_str!("shaders/predicted.wgsl")),
    ("resample.wgsl", RESAMPLE),
    ("contextual.wgsl", include_str!("shaders/contextual.wgsl")),
    ("encoder.wgsl", include_str!("shaders/encoder.wgsl")),
];

/// The resampling kernel with the Philox functions it calls (WGSL has no includes).
const RESAMPLE: &str = concat!(include_str!("shaders/philox.wgsl"), include_str!("shaders/resample.wgsl"));

/// A GPU device and queue with the pipelines arbiter uses.
pub struct Gpu {
    device: wgpu::Device,
    queue: wgpu::Queue,
    info: wgpu::AdapterInfo,
    limits: wgpu::Limits,
    lost: Arc<AtomicBool>,
    last_error: Arc<Mutex<Option<String>>>,
    predicted: predicted::Kernel,
    resample: wgpu::ComputePipeline,
    sample: wgpu::ComputePipeline,
    contextual: wgpu::ComputePipeline,
}

impl Gpu {
    /// Requests an adapter (high performance preferred) and a device with that adapter's limits.
    ///
    /// # Errors
    /// `GPU` when there is no adapter or the device cannot be created.
    pub async fn new() -> Result<Self> {
        let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
        desc.backends = wgpu::Backends::from_env().unwrap_or(wgpu::Backends::all());
        let instance = wgpu::Instance::new(desc);
        let options = wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::HighPerformance,
            ..Default::default()
        };
        let adapter = instance.request_adapter(&options).await.map_err(|e| Error::Gpu(format!("no adapter: {e}")))?;
        let limits = adapter.limits();
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("arbiter"),
                required_limits: limits.clone(),
                ..Default::default()
            })
            .await
            .map_err(|e| Error::Gpu(format!("cannot create a device: {e}")))?;
        let lost = Arc::new(AtomicBool::new(false));
        let flag = lost.clone();
        device.set_device_lost_callback(move |_, _| flag.store(true, Ordering::SeqCst));
        let last_error = Arc::new(Mutex::new(None));
        let sink = last_error.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            if let Ok(mut slot) = sink.lock() {
                *slot = Some(e.to_string());
            }
        }));
        let predicted = predicted::Kernel::new(&device);
        let resample = pipeline(&device, "resample", RESAMPLE, "main");
        let sample = pipeline(&device, "sample", RESAMPLE, "sample");
        let contextual = pipeline(&device, "contextual", include_str!("shaders/contextual.wgsl"), "main");
        let gpu = Self {
            device,
            queue,
            info: adapter.get_info(),
            limits,
            lost,
            last_error,
            predicted,
            resample,
            sample,
            contextual,
        };
        gpu.check()?;
        Ok(gpu)
    }

    /// The adapter's name and backend, e.g. `"llvmpipe (LLVM 15.0.6, 256 bits) (Vulkan)"`.
    pub fn adapter(&self) -> String {
        format!("{} ({:?})", self.info.name, self.info.backend)
    }

    /// True for a software adapter (lavapipe, SwiftShader, WARP): it runs on the CPU, slower than the CPU paths, so
    /// `auto` device choices skip it.
    pub fn is_software(&self) -> bool {
        self.info.device_type == wgpu::DeviceType::Cpu
    }

    /// Destroys the device, as a driver reset would: every later call fails with `GPU` and the rankings fall back
    /// to the CPU. For tests of that fallback.
    #[doc(hidden)]
    pub fn lose(&self) {
        self.device.destroy();
        self.lost.store(true, Ordering::SeqCst);
    }

    /// A buffer holding `bytes`, created empty and filled through the queue: unlike wgpu's `create_buffer_init`,
    /// which maps at creation, this cannot panic when the device is lost.
    fn buffer(&self, label: &str, usage: wgpu::BufferUsages, bytes: &[u8]) -> wgpu::Buffer {
        let size = (bytes.len() as u64).next_multiple_of(4).max(4);
        let buffer = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size,
            usage: usage | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        if bytes.len().is_multiple_of(4) {
            self.queue.write_buffer(&buffer, 0, bytes);
        } else {
            let mut padded = bytes.to_vec();
            padded.resize(size as usize, 0);
            self.queue.write_buffer(&buffer, 0, &padded);
        }
        buffer
    }

    /// The largest storage binding this device allows, in bytes.
    pub fn max_binding(&self) -> u64 {
        self.limits.max_storage_buffer_binding_size.min(self.limits.max_buffer_size)
    }

    fn check(&self) -> Result<()> {
        if self.lost.load(Ordering::SeqCst) {
            return Err(Error::Gpu("the device was lost".into()));
        }
        if let Some(e) = self.last_error.lock().ok().and_then(|mut s| s.take()) {
            return Err(Error::Gpu(e));
        }
        Ok(())
    }

    /// Predicted P(i ≻ j) for rating-scale values `raw` (row-major n×n, f32). GPU twin of
    /// [`crate::rank::matrix::predicted`].
    ///
    /// # Errors
    /// `GPU` when the device fails or is lost.
    pub async fn predicted(&self, raw: &[f64], scale: f64, base: f64) -> Result<Vec<f32>> {
        self.check()?;
        let out = predicted::run(self, raw, (base.ln() / scale) as f32).await?;
        self.check()?;
        Ok(out)
    }
}

fn pipeline(device: &wgpu::Device, label: &str, source: &str, entry: &str) -> wgpu::ComputePipeline {
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some(label),
        source: wgpu::ShaderSource::Wgsl(source.into()),
    });
    device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some(label),
        layout: None,
        module: &module,
        entry_point: Some(entry),
        compilation_options: wgpu::PipelineCompilationOptions::default(),
        cache: None,
    })
}

/// Copies `size` bytes of `source` back to the CPU.
async fn read_back(gpu: &Gpu, source: &wgpu::Buffer, size: u64) -> Result<Vec<u8>> {
    let encoder = gpu.device.create_command_encoder(&wgpu::CommandEncoderDescriptor::default());
    read_back_after(gpu, encoder, source, size).await
}

/// Submits the work recorded in `encoder`, then copies `size` bytes of `source` back to the CPU (one submission).
async fn read_back_after(
    gpu: &Gpu,
    mut encoder: wgpu::CommandEncoder,
    source: &wgpu::Buffer,
    size: u64,
) -> Result<Vec<u8>> {
    let staging = gpu.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("arbiter readback"),
        size,
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    encoder.copy_buffer_to_buffer(source, 0, &staging, 0, size);
    gpu.queue.submit([encoder.finish()]);
    let (sender, receiver) = futures_channel::oneshot::channel();
    staging.map_async(wgpu::MapMode::Read, .., move |result| {
        let _ = sender.send(result);
    });
    #[cfg(not(target_arch = "wasm32"))]
    gpu.device.poll(wgpu::PollType::wait_indefinitely()).map_err(|e| Error::Gpu(e.to_string()))?;
    receiver
        .await
        .map_err(|_| Error::Gpu("the readback was dropped".into()))?
        .map_err(|e| Error::Gpu(format!("readback failed: {e}")))?;
    let bytes = staging.get_mapped_range(..).map_err(|e| Error::Gpu(e.to_string()))?.to_vec();
    staging.unmap();
    Ok(bytes)
}
