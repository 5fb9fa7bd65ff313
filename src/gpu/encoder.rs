//! The sentence encoder's forward pass on the GPU (`shaders/encoder.wgsl`): [`GpuEncoder`] uploads every layer's
//! weights once, then runs a packed [`Batch`] through all layers in one command submission (the embeddings are
//! gathered and normalised on the CPU, the mean pooling too). Each kernel has its CPU twin in [`crate::nn::ops`]
//! ([`Kernels`] exposes them one by one for the parity tests in tests/gpu_encoder.rs).
//!
//! Device memory per batch of t tokens: t × (6h + i) f32 activations (MiniLM, 4096 tokens: 63 MB), plus the
//! layers' weights (MiniLM: 43 MB; the embedding tables stay on the CPU). Every buffer must fit one storage binding.

use ndarray::Array2;

use super::{read_back, Gpu};
use crate::error::{Error, Result};
use crate::nn::ops::{self, LayerNorm, Linear, Seq};
use crate::nn::{Batch, Encoder};

/// Output rows and columns per matmul workgroup.
const TILE: usize = 64;
/// Keys per sequence the attention kernel holds in workgroup memory (BERT's positions are ≤ 512).
pub const MAX_KEYS: usize = 1024;
/// The largest head dimension the attention kernel supports.
pub const MAX_HEAD: usize = 256;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct MatmulParams {
    rows: u32,
    k: u32,
    n: u32,
    gelu: u32,
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct NormParams {
    rows: u32,
    cols: u32,
    residual: u32,
    eps: f32,
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct AttentionParams {
    tokens: u32,
    hidden: u32,
    heads: u32,
    d: u32,
    scale: f32,
    groups: u32,
    pad: [u32; 2],
}

fn too_large(name: &str, bytes: u64, max: u64) -> Error {
    Error::Gpu(format!("`{name}` needs {bytes} bytes; this adapter binds at most {max} bytes per buffer"))
}

/// Checks that `len` f32 fit one storage binding (and u32 indexing).
fn fits(gpu: &Gpu, name: &str, len: usize) -> Result<()> {
    let bytes = 4 * len as u64;
    if bytes > gpu.max_binding() || len > u32::MAX as usize {
        return Err(too_large(name, bytes, gpu.max_binding()));
    }
    Ok(())
}

/// A storage buffer holding `data`, zero-padded to whole vec4 (the attention kernel also reads qkv as vec4).
fn upload(gpu: &Gpu, name: &str, data: &[f32]) -> Result<wgpu::Buffer> {
    fits(gpu, name, data.len().next_multiple_of(4))?;
    let usage = wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC;
    if data.len().is_multiple_of(4) && !data.is_empty() {
        return Ok(gpu.buffer(name, usage, bytemuck::cast_slice(data)));
    }
    let mut padded = data.to_vec();
    padded.resize(data.len().next_multiple_of(4).max(4), 0.0);
    Ok(gpu.buffer(name, usage, bytemuck::cast_slice(&padded)))
}

fn upload_matrix(gpu: &Gpu, name: &str, m: &Array2<f32>) -> Result<wgpu::Buffer> {
    let m = m.as_standard_layout();
    upload(gpu, name, m.as_slice().expect("standard layout"))
}

/// An uninitialised storage buffer of `len` f32 (rounded up to whole vec4).
fn scratch(gpu: &Gpu, name: &str, len: usize) -> Result<wgpu::Buffer> {
    let len = len.next_multiple_of(4).max(4);
    fits(gpu, name, len)?;
    Ok(gpu.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(name),
        size: 4 * len as u64,
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    }))
}

fn uniform<T: bytemuck::Pod>(gpu: &Gpu, params: &T) -> wgpu::Buffer {
    gpu.buffer("encoder params", wgpu::BufferUsages::UNIFORM, bytemuck::bytes_of(params))
}

/// A 2-D grid of at least `groups` workgroups within the per-dimension limit (the kernels use x + y·width).
fn grid(gpu: &Gpu, groups: usize, what: &str) -> Result<(u32, u32)> {
    let max = gpu.limits.max_compute_workgroups_per_dimension as usize;
    let x = groups.clamp(1, max);
    let y = groups.div_ceil(x);
    if y > max {
        return Err(Error::Gpu(format!("{what}: {groups} workgroups exceed this adapter's dispatch limits")));
    }
    Ok((x as u32, y as u32))
}

async fn download(gpu: &Gpu, buffer: &wgpu::Buffer, rows: usize, cols: usize) -> Result<Array2<f32>> {
    let bytes = read_back(gpu, buffer, 4 * (rows * cols) as u64).await?;
    gpu.check()?;
    let values = bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    Array2::from_shape_vec((rows, cols), values).map_err(|e| Error::Gpu(e.to_string()))
}

/// A dense layer on the device.
struct DeviceLinear {
    w: wgpu::Buffer,
    b: wgpu::Buffer,
    out: usize,
    inp: usize,
}

impl DeviceLinear {
    fn new(gpu: &Gpu, name: &str, layer: &Linear) -> Result<Self> {
        Ok(Self {
            w: upload_matrix(gpu, &format!("{name}.weight"), &layer.w)?,
            b: upload(gpu, &format!("{name}.bias"), layer.b.as_slice().expect("contiguous bias"))?,
            out: layer.w.nrows(),
            inp: layer.w.ncols(),
        })
    }
}

/// A layer norm on the device.
struct DeviceNorm {
    g: wgpu::Buffer,
    b: wgpu::Buffer,
    eps: f32,
}

impl DeviceNorm {
    fn new(gpu: &Gpu, name: &str, norm: &LayerNorm) -> Result<Self> {
        Ok(Self {
            g: upload(gpu, &format!("{name}.weight"), norm.g.as_slice().expect("contiguous gain"))?,
            b: upload(gpu, &format!("{name}.bias"), norm.b.as_slice().expect("contiguous bias"))?,
            eps: norm.eps,
        })
    }
}

/// The three pipelines of `encoder.wgsl`, created once.
#[doc(hidden)]
pub struct Kernels {
    matmul: wgpu::ComputePipeline,
    layer_norm: wgpu::ComputePipeline,
    attention: wgpu::ComputePipeline,
    /// Bound as the residual when there is none (a buffer may not be bound writable and read-only at once).
    none: wgpu::Buffer,
}

impl Kernels {
    pub fn new(gpu: &Gpu) -> Self {
        let source = include_str!("shaders/encoder.wgsl");
        Self {
            matmul: super::pipeline(&gpu.device, "encoder matmul", source, "matmul"),
            layer_norm: super::pipeline(&gpu.device, "encoder add_layer_norm", source, "add_layer_norm"),
            attention: super::pipeline(&gpu.device, "encoder attention", source, "attention"),
            none: gpu.buffer("no residual", wgpu::BufferUsages::STORAGE, &[0; 4]),
        }
    }

    fn bind(gpu: &Gpu, pipeline: &wgpu::ComputePipeline, entries: &[(u32, &wgpu::Buffer)]) -> wgpu::BindGroup {
        let entries: Vec<_> = entries
            .iter()
            .map(|&(binding, buffer)| wgpu::BindGroupEntry { binding, resource: buffer.as_entire_binding() })
            .collect();
        gpu.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("encoder"),
            layout: &pipeline.get_bind_group_layout(0),
            entries: &entries,
        })
    }

    /// Records `y = x·Wᵀ + b` (GELU applied when `gelu`) for `rows` rows.
    fn record_linear(
        &self,
        gpu: &Gpu,
        pass: &mut wgpu::ComputePass<'_>,
        (x, layer, y): (&wgpu::Buffer, &DeviceLinear, &wgpu::Buffer),
        rows: usize,
        gelu: bool,
    ) -> Result<()> {
        let max = gpu.limits.max_compute_workgroups_per_dimension as usize;
        let (gx, gy) = (layer.out.div_ceil(TILE), rows.div_ceil(TILE));
        if gx > max || gy > max {
            return Err(Error::Gpu(format!("matmul of {rows} × {}: too many workgroups", layer.out)));
        }
        let params =
            MatmulParams { rows: rows as u32, k: layer.inp as u32, n: layer.out as u32, gelu: u32::from(gelu) };
        let params = uniform(gpu, &params);
        let bind = Self::bind(gpu, &self.matmul, &[(0, &params), (1, x), (2, &layer.w), (3, &layer.b), (4, y)]);
        pass.set_pipeline(&self.matmul);
        pass.set_bind_group(0, &bind, &[]);
        pass.dispatch_workgroups(gx as u32, gy as u32, 1);
        Ok(())
    }

    /// Records `x ← LN(x + residual)` for `rows` rows of `cols`.
    fn record_norm(
        &self,
        gpu: &Gpu,
        pass: &mut wgpu::ComputePass<'_>,
        (x, residual, norm): (&wgpu::Buffer, Option<&wgpu::Buffer>, &DeviceNorm),
        rows: usize,
        cols: usize,
    ) -> Result<()> {
        let (gx, gy) = grid(gpu, rows, "layer norm")?;
        let params =
            NormParams { rows: rows as u32, cols: cols as u32, residual: u32::from(residual.is_some()), eps: norm.eps };
        let params = uniform(gpu, &params);
        let r = residual.unwrap_or(&self.none);
        let bind = Self::bind(gpu, &self.layer_norm, &[(5, &params), (6, x), (7, r), (8, &norm.g), (9, &norm.b)]);
        pass.set_pipeline(&self.layer_norm);
        pass.set_bind_group(0, &bind, &[]);
        pass.dispatch_workgroups(gx, gy, 1);
        Ok(())
    }

    /// Records the attention of `tokens` tokens (`qkv` tokens × 3·hidden, `spans` one (start, len) per token).
    fn record_attention(
        &self,
        gpu: &Gpu,
        pass: &mut wgpu::ComputePass<'_>,
        (qkv, spans, context): (&wgpu::Buffer, &wgpu::Buffer, &wgpu::Buffer),
        tokens: usize,
        (hidden, heads): (usize, usize),
    ) -> Result<()> {
        let d = hidden / heads;
        let (gx, gy) = grid(gpu, tokens * heads, "attention")?;
        let params = AttentionParams {
            tokens: tokens as u32,
            hidden: hidden as u32,
            heads: heads as u32,
            d: d as u32,
            scale: 1.0 / (d as f32).sqrt(),
            groups: (tokens * heads) as u32,
            pad: [0; 2],
        };
        let params = uniform(gpu, &params);
        let bind = Self::bind(gpu, &self.attention, &[(10, &params), (11, qkv), (12, spans), (13, context), (14, qkv)]);
        pass.set_pipeline(&self.attention);
        pass.set_bind_group(0, &bind, &[]);
        pass.dispatch_workgroups(gx, gy, 1);
        Ok(())
    }

    /// Runs `record` in one compute pass and submits it.
    fn submit(gpu: &Gpu, record: impl FnOnce(&mut wgpu::ComputePass<'_>) -> Result<()>) -> Result<()> {
        let mut encoder = gpu.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("encoder") });
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor::default());
            record(&mut pass)?;
        }
        gpu.queue.submit([encoder.finish()]);
        Ok(())
    }

    /// `x·Wᵀ + b`, then GELU when `gelu`, on the device: the GPU twin of [`Linear::apply`] (+ [`ops::gelu`]).
    ///
    /// # Errors
    /// `GPU` when a buffer exceeds the binding limit or the device fails.
    pub async fn linear(&self, gpu: &Gpu, x: &Array2<f32>, layer: &Linear, gelu: bool) -> Result<Array2<f32>> {
        gpu.check()?;
        if x.ncols() != layer.w.ncols() {
            return Err(Error::Gpu(format!("linear: x has {} columns, W {}", x.ncols(), layer.w.ncols())));
        }
        let (rows, out) = (x.nrows(), layer.w.nrows());
        if rows == 0 || out == 0 {
            return Ok(Array2::zeros((rows, out)));
        }
        let device_layer = DeviceLinear::new(gpu, "linear", layer)?;
        let xb = upload_matrix(gpu, "x", x)?;
        let y = scratch(gpu, "y", rows * out)?;
        Self::submit(gpu, |pass| self.record_linear(gpu, pass, (&xb, &device_layer, &y), rows, gelu))?;
        download(gpu, &y, rows, out).await
    }

    /// `LN(x + residual)` on the device: the GPU twin of [`LayerNorm::apply`].
    ///
    /// # Errors
    /// `GPU` when a buffer exceeds the binding limit or the device fails.
    pub async fn add_layer_norm(
        &self,
        gpu: &Gpu,
        x: &Array2<f32>,
        residual: Option<&Array2<f32>>,
        norm: &LayerNorm,
    ) -> Result<Array2<f32>> {
        gpu.check()?;
        let (rows, cols) = x.dim();
        if residual.is_some_and(|r| r.dim() != x.dim()) || norm.g.len() != cols || norm.b.len() != cols {
            return Err(Error::Gpu("add_layer_norm: shapes differ".into()));
        }
        if rows == 0 || cols == 0 {
            return Ok(x.clone());
        }
        let device_norm = DeviceNorm::new(gpu, "norm", norm)?;
        let xb = upload_matrix(gpu, "x", x)?;
        let rb = residual.map(|r| upload_matrix(gpu, "residual", r)).transpose()?;
        Self::submit(gpu, |pass| self.record_norm(gpu, pass, (&xb, rb.as_ref(), &device_norm), rows, cols))?;
        download(gpu, &xb, rows, cols).await
    }

    /// Multi-head attention of packed sequences on the device: the GPU twin of [`ops::attention`].
    ///
    /// # Errors
    /// `GPU` when the heads do not divide the width, a head exceeds [`MAX_HEAD`], a sequence exceeds [`MAX_KEYS`]
    /// or lies outside `qkv`, a buffer exceeds the binding limit, or the device fails.
    pub async fn attention(&self, gpu: &Gpu, qkv: &Array2<f32>, seqs: &[Seq], heads: usize) -> Result<Array2<f32>> {
        gpu.check()?;
        let (tokens, width) = qkv.dim();
        if width % 3 != 0 || heads == 0 || !(width / 3).is_multiple_of(heads) {
            return Err(Error::Gpu(format!("attention: {width} columns do not split into q, k, v of {heads} heads")));
        }
        let hidden = width / 3;
        if tokens == 0 || hidden == 0 {
            return Ok(Array2::zeros((tokens, hidden)));
        }
        let spans = spans(gpu, tokens, seqs, hidden / heads)?;
        let qkv_b = upload_matrix(gpu, "qkv", qkv)?;
        let context = scratch(gpu, "context", tokens * hidden)?;
        Self::submit(gpu, |pass| {
            self.record_attention(gpu, pass, (&qkv_b, &spans, &context), tokens, (hidden, heads))
        })?;
        download(gpu, &context, tokens, hidden).await
    }
}

/// The per-token table (start, length) of each token's sequence, the attention mask; tokens outside every sequence
/// get (0, 0) and a zero context, as on the CPU.
fn spans(gpu: &Gpu, tokens: usize, seqs: &[Seq], head: usize) -> Result<wgpu::Buffer> {
    if head > MAX_HEAD {
        return Err(Error::Gpu(format!("attention heads of {head} exceed the kernel's {MAX_HEAD}")));
    }
    let mut table = vec![[0u32; 2]; tokens];
    for s in seqs {
        if s.len > MAX_KEYS {
            return Err(Error::Gpu(format!("a sequence of {} tokens exceeds the kernel's {MAX_KEYS}", s.len)));
        }
        if s.start + s.len > tokens {
            return Err(Error::Gpu(format!("sequence {}..{} lies outside {tokens} tokens", s.start, s.start + s.len)));
        }
        table[s.start..s.start + s.len].fill([s.start as u32, s.len as u32]);
    }
    fits(gpu, "attention spans", 2 * tokens)?;
    Ok(gpu.buffer("attention spans", wgpu::BufferUsages::STORAGE, bytemuck::cast_slice(&table)))
}

/// One transformer block on the device.
struct DeviceLayer {
    qkv: DeviceLinear,
    attention_out: DeviceLinear,
    attention_norm: DeviceNorm,
    intermediate: DeviceLinear,
    output: DeviceLinear,
    output_norm: DeviceNorm,
}

/// A sentence encoder whose transformer layers run on the GPU: the GPU twin of [`Encoder::forward`] and
/// [`Encoder::embed`] (tokenisation, embeddings and pooling stay on the CPU).
pub struct GpuEncoder {
    kernels: Kernels,
    layers: Vec<DeviceLayer>,
    hidden: usize,
    heads: usize,
    intermediate: usize,
}

impl std::fmt::Debug for GpuEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuEncoder")
            .field("layers", &self.layers.len())
            .field("hidden", &self.hidden)
            .field("heads", &self.heads)
            .field("intermediate", &self.intermediate)
            .finish_non_exhaustive()
    }
}

impl GpuEncoder {
    /// Uploads `encoder`'s layer weights (f32) and creates the pipelines.
    ///
    /// # Errors
    /// `GPU` naming the tensor that exceeds the adapter's storage-binding limit, for a head dimension above
    /// [`MAX_HEAD`], or when the device fails.
    pub fn new(gpu: &Gpu, encoder: &Encoder) -> Result<Self> {
        gpu.check()?;
        let config = &encoder.config;
        let (hidden, heads) = (config.hidden_size, config.num_attention_heads);
        if hidden / heads > MAX_HEAD {
            return Err(Error::Gpu(format!("attention heads of {} exceed the kernel's {MAX_HEAD}", hidden / heads)));
        }
        let layers = encoder
            .layers
            .iter()
            .enumerate()
            .map(|(l, layer)| {
                let name = |part: &str| format!("encoder.layer.{l}.{part}");
                Ok(DeviceLayer {
                    qkv: DeviceLinear::new(gpu, &name("attention.self.qkv"), &layer.qkv)?,
                    attention_out: DeviceLinear::new(gpu, &name("attention.output.dense"), &layer.attention_out)?,
                    attention_norm: DeviceNorm::new(gpu, &name("attention.output.LayerNorm"), &layer.attention_norm)?,
                    intermediate: DeviceLinear::new(gpu, &name("intermediate.dense"), &layer.intermediate)?,
                    output: DeviceLinear::new(gpu, &name("output.dense"), &layer.output)?,
                    output_norm: DeviceNorm::new(gpu, &name("output.LayerNorm"), &layer.output_norm)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let this = Self { kernels: Kernels::new(gpu), layers, hidden, heads, intermediate: config.intermediate_size };
        gpu.check()?;
        Ok(this)
    }

    /// The last hidden states (`tokens × hidden`) of a packed batch: embeddings on the CPU, then every layer on the
    /// device in one command submission, and one readback.
    ///
    /// # Errors
    /// `MODEL` when a token is outside the model's tables; `GPU` when `encoder` is not the one uploaded, an
    /// activation exceeds the binding limit, a sequence exceeds [`MAX_KEYS`], or the device fails.
    pub async fn forward(&self, gpu: &Gpu, encoder: &Encoder, batch: &Batch) -> Result<Array2<f32>> {
        gpu.check()?;
        let config = &encoder.config;
        if config.hidden_size != self.hidden
            || config.num_attention_heads != self.heads
            || config.intermediate_size != self.intermediate
            || encoder.layers.len() != self.layers.len()
        {
            return Err(Error::Gpu("this GpuEncoder was built from another encoder".into()));
        }
        let x0 = encoder.embeddings(batch)?;
        let tokens = x0.nrows();
        if tokens == 0 {
            return Ok(x0);
        }
        let (h, i) = (self.hidden, self.intermediate);
        let spans = spans(gpu, tokens, &batch.seqs, h / self.heads)?;
        let x = upload_matrix(gpu, "hidden states", &x0)?;
        let qkv = scratch(gpu, "qkv activations", tokens * 3 * h)?;
        let context = scratch(gpu, "attention context", tokens * h)?;
        let y = scratch(gpu, "attention output", tokens * h)?;
        let inner = scratch(gpu, "intermediate activations", tokens * i)?;
        let k = &self.kernels;
        Kernels::submit(gpu, |pass| {
            for layer in &self.layers {
                k.record_linear(gpu, pass, (&x, &layer.qkv, &qkv), tokens, false)?;
                k.record_attention(gpu, pass, (&qkv, &spans, &context), tokens, (h, self.heads))?;
                k.record_linear(gpu, pass, (&context, &layer.attention_out, &y), tokens, false)?;
                k.record_norm(gpu, pass, (&y, Some(&x), &layer.attention_norm), tokens, h)?;
                k.record_linear(gpu, pass, (&y, &layer.intermediate, &inner), tokens, true)?;
                k.record_linear(gpu, pass, (&inner, &layer.output, &x), tokens, false)?;
                k.record_norm(gpu, pass, (&x, Some(&y), &layer.output_norm), tokens, h)?;
            }
            Ok(())
        })?;
        download(gpu, &x, tokens, h).await
    }

    /// Sentence embeddings (mean-pooled, unit length), one per text: [`Encoder::embed`] with the layers on the
    /// device.
    ///
    /// # Errors
    /// As [`GpuEncoder::forward`], and `MODEL` when the tokenizer fails.
    pub async fn embed(&self, gpu: &Gpu, encoder: &Encoder, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let mut out = Vec::with_capacity(texts.len());
        for batch in encoder.batches(texts)? {
            let states = self.forward(gpu, encoder, &batch).await?;
            out.extend(ops::mean_pool(&states.view(), &batch.seqs));
        }
        Ok(out)
    }
}
