//! The Llama forward pass on the GPU (`shaders/llama.wgsl`): [`GpuLlama`] uploads the quantised weights once and
//! runs [`Llama::forward`]'s contract on the device, every layer of a call in one command submission with one
//! readback (the logits), keys and values kept in a device-side [`GpuCache`].
//!
//! Weights stay quantised on the device, as GGUF stores them: Q4_1 tensors are uploaded as their raw 20-byte blocks
//! (q, k and v of a layer concatenated into one matrix, gate and up into another: the same bytes), Q8_0 tensors
//! (34-byte blocks, not 4-byte aligned) are split at upload into 32 bytes of quants and a 2-byte f16 scale per block
//! packed two per word: the same 34 bytes. Resident memory is the GGUF's weight bytes, the F32 norms, and the RoPE
//! table of (cos, sin) per position and pair (context × head_dim × 4 bytes: 2 MiB for SmolLM2's 8192 × 64).
//!
//! Arithmetic follows the CPU's quantised path: every product with a weight quantises the activation rows to Q8_1
//! blocks of 32 ([`crate::nn::quant::quantize_q8`], reproduced exactly: correctly rounded divisions done in integers,
//! f16 rounding in integers) and adds each block's integer dot product, scaled as [`crate::nn::quant::dot`] scales
//! it, in block order. One token (or a short prompt, fewer than [`TILED_FROM`] tokens) runs one mat-vec per token;
//! longer prompts run a tiled mat-mul (64 × 64 output tiles staged in workgroup memory).
//!
//! CPU twins: `quantize` ↔ `quant::quantize_q8`, `matvec`/`matmul` ↔ `quant::dot_row` (with the residual `x + y`),
//! `embed` ↔ `Tensor::dequantize_row`, `rope` ↔ `ggml::Rope` (the (cos, sin) table built on the CPU with its angles;
//! keys and values stored rounded to f16 as the CPU's cache), `swiglu` ↔ `ggml::swiglu` (its polynomial exp ported).
//! `rms_norm` ↔ `ggml::rms_norm` (its f64 sum and division emulated in integers, √ and 1/x correctly rounded),
//! `attention` ↔ `ggml::attention` (ggml's one-row and tiled flash attention: f64 sums and glibc's `expf` emulated in
//! integers, the one-row kernel's f16 accumulators). Products that ggml rounds before adding go through the shader's
//! `keep`, which no compiler can fuse into a multiply-add, and divisions are correctly rounded in integers, so the
//! kernels compute the CPU's bits on a device whose f32 `+`, `−` and `×` round as IEEE's do, as lavapipe's and
//! SwiftShader's do (WGSL promises less: it allows flushing subnormals and reassociating, which would break this).
//! [`Kernels`] exposes each kernel for the parity tests in tests/gpu_llama.rs.
//!
//! Device memory per call of t tokens: t × (5·dim + 2·kv + 3·hidden) f32 activations plus the logits (t × vocab
//! with [`Logits::All`]); the cache holds 2 × capacity × kv f32 per layer (capacity: a power of two ≥ the positions
//! used, at least 256; SmolLM2 at 8192 positions: 377 MB). Every buffer must fit one storage binding.

use super::{pipeline, Gpu};
use crate::error::{Error, Result};
use crate::nn::generate::Forward;
use crate::nn::ggml;
use crate::nn::gguf::{GgmlType, Tensor, QK};
use crate::nn::llama::{micro_batches, Llama, LlamaConfig, Logits};

/// The WGSL source (validated with naga in tests/gpu_llama.rs).
pub const SHADER: &str = include_str!("shaders/llama.wgsl");
/// The largest head dimension the attention kernel supports (4 columns for each of its 64 invocations).
pub const MAX_HEAD: usize = 256;
/// Calls of at least this many tokens run the tiled mat-mul; shorter ones a mat-vec per token.
pub const TILED_FROM: usize = 8;
/// The smallest cache allocation, in positions.
const MIN_CAPACITY: usize = 256;

/// One kernel's uniform block: eight 32-bit words (each kernel names its own fields; f32 as bits).
type Params = [u32; 8];

fn gpu_error(what: impl Into<String>) -> Error {
    Error::Gpu(what.into())
}

fn too_large(gpu: &Gpu, name: &str, bytes: u64) -> Result<()> {
    if bytes > gpu.max_binding() || bytes / 4 > u64::from(u32::MAX) {
        return Err(gpu_error(format!(
            "`{name}` needs {bytes} bytes; this adapter binds at most {} bytes per buffer",
            gpu.max_binding()
        )));
    }
    Ok(())
}

/// A storage buffer holding `bytes` (zero-padded to a whole word).
fn upload(gpu: &Gpu, name: &str, bytes: &[u8]) -> Result<wgpu::Buffer> {
    too_large(gpu, name, bytes.len() as u64)?;
    Ok(gpu.buffer(name, wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC, bytes))
}

fn upload_f32(gpu: &Gpu, name: &str, data: &[f32]) -> Result<wgpu::Buffer> {
    upload(gpu, name, bytemuck::cast_slice(data))
}

/// An uninitialised storage buffer of `words` 32-bit words.
fn scratch(gpu: &Gpu, name: &str, words: usize) -> Result<wgpu::Buffer> {
    let size = 4 * words.max(1) as u64;
    too_large(gpu, name, size)?;
    Ok(gpu.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(name),
        size,
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    }))
}

/// A 2-D grid of at least `groups` workgroups within the per-dimension limit (the kernels use x + y·width).
fn grid(gpu: &Gpu, groups: usize, what: &str) -> Result<(u32, u32)> {
    let max = gpu.limits.max_compute_workgroups_per_dimension as usize;
    let x = groups.clamp(1, max);
    let y = groups.div_ceil(x).max(1);
    if y > max {
        return Err(gpu_error(format!("{what}: {groups} workgroups exceed this adapter's dispatch limits")));
    }
    Ok((x as u32, y as u32))
}

/// Copies `len` f32 of `source` to the CPU after the recorded work: one submission, one readback.
async fn finish(gpu: &Gpu, encoder: wgpu::CommandEncoder, source: &wgpu::Buffer, len: usize) -> Result<Vec<f32>> {
    let bytes = super::read_back_after(gpu, encoder, source, 4 * len.max(1) as u64).await?;
    gpu.check()?;
    Ok(bytes.chunks_exact(4).take(len).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
}

fn new_encoder(gpu: &Gpu) -> wgpu::CommandEncoder {
    gpu.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("llama") })
}

/// A quantised weight matrix on the device: rows of `cols` elements in blocks of 32.
pub struct DeviceMatrix {
    blocks: Blocks,
    rows: usize,
    cols: usize,
}

enum Blocks {
    /// GGUF's raw 20-byte blocks.
    Q4_1(wgpu::Buffer),
    /// 32 bytes of i8 per block; the f16 scales, two per word.
    Q8_0 { quants: wgpu::Buffer, scales: wgpu::Buffer },
}

impl DeviceMatrix {
    /// Uploads the rows of `parts` one after the other (they must share type and row length).
    ///
    /// # Errors
    /// `GPU` for a type other than Q4_1 or Q8_0, parts that differ, or a matrix beyond the binding limit.
    pub fn new(gpu: &Gpu, name: &str, parts: &[Tensor]) -> Result<Self> {
        let first = parts.first().ok_or_else(|| gpu_error(format!("`{name}` has no rows")))?;
        if let Some(p) = parts.iter().find(|p| p.kind != first.kind || p.cols() != first.cols()) {
            return Err(gpu_error(format!("`{}` ({} × {}) differs from `{}`", p.name, p.kind, p.cols(), first.name)));
        }
        let rows = parts.iter().map(Tensor::rows).sum();
        let bytes: Vec<u8> = parts.iter().flat_map(|p| p.bytes.iter().copied()).collect();
        let blocks = match first.kind {
            GgmlType::Q4_1 => Blocks::Q4_1(upload(gpu, name, &bytes)?),
            GgmlType::Q8_0 => {
                let (quants, scales) = split_q8_0(&bytes);
                Blocks::Q8_0 {
                    quants: upload(gpu, &format!("{name} quants"), &quants)?,
                    scales: upload(gpu, &format!("{name} scales"), &scales)?,
                }
            }
            other => {
                return Err(gpu_error(format!("`{}` is {other}; the GPU path multiplies Q4_1 and Q8_0", first.name)))
            }
        };
        Ok(Self { blocks, rows, cols: first.cols() })
    }

    /// Bytes resident on the device.
    pub fn bytes(&self) -> u64 {
        match &self.blocks {
            Blocks::Q4_1(b) => b.size(),
            Blocks::Q8_0 { quants, scales } => quants.size() + scales.size(),
        }
    }
}

/// Q8_0 blocks (f16 d, 32 i8) split into the quants and the scales.
fn split_q8_0(bytes: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let n = bytes.len() / 34;
    let (mut quants, mut scales) = (Vec::with_capacity(32 * n), Vec::with_capacity(2 * n));
    for block in bytes.chunks_exact(34) {
        scales.extend_from_slice(&block[..2]);
        quants.extend_from_slice(&block[2..]);
    }
    (quants, scales)
}

/// A dispatch waiting to be recorded: its pipeline, the binding of its uniform block and that block, its storage
/// buffers and its grid.
struct Op<'a> {
    pipeline: &'a wgpu::ComputePipeline,
    uniform: u32,
    params: Params,
    buffers: Vec<(u32, &'a wgpu::Buffer)>,
    groups: (u32, u32),
}

/// Dispatches recorded into one compute pass, their uniform blocks in one buffer.
#[derive(Default)]
struct Recorder<'a> {
    ops: Vec<Op<'a>>,
}

impl Recorder<'_> {
    fn record(&self, gpu: &Gpu, encoder: &mut wgpu::CommandEncoder) {
        let stride = (gpu.limits.min_uniform_buffer_offset_alignment as usize).max(32);
        let mut bytes = vec![0u8; stride * self.ops.len().max(1)];
        for (op, slot) in self.ops.iter().zip(bytes.chunks_exact_mut(stride)) {
            slot[..32].copy_from_slice(bytemuck::cast_slice(&op.params));
        }
        let uniform = gpu.buffer("llama params", wgpu::BufferUsages::UNIFORM, &bytes);
        let binds: Vec<wgpu::BindGroup> = self
            .ops
            .iter()
            .enumerate()
            .map(|(i, op)| {
                let params = wgpu::BufferBinding {
                    buffer: &uniform,
                    offset: (i * stride) as u64,
                    size: wgpu::BufferSize::new(32),
                };
                let mut entries =
                    vec![wgpu::BindGroupEntry { binding: op.uniform, resource: wgpu::BindingResource::Buffer(params) }];
                entries.extend(
                    op.buffers
                        .iter()
                        .map(|&(binding, b)| wgpu::BindGroupEntry { binding, resource: b.as_entire_binding() }),
                );
                gpu.device.create_bind_group(&wgpu::BindGroupDescriptor {
                    label: Some("llama"),
                    layout: &op.pipeline.get_bind_group_layout(0),
                    entries: &entries,
                })
            })
            .collect();
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor::default());
        for (op, bind) in self.ops.iter().zip(&binds) {
            pass.set_pipeline(op.pipeline);
            pass.set_bind_group(0, bind, &[]);
            pass.dispatch_workgroups(op.groups.0, op.groups.1, 1);
        }
    }
}

/// A quantised activation on the device: 8 words of i8 per block, and (d, s) per block.
#[derive(Clone, Copy)]
struct Q8Buffers<'a> {
    quants: &'a wgpu::Buffer,
    scales: &'a wgpu::Buffer,
}

/// The pipelines of `llama.wgsl`, created once; each method records one dispatch.
#[doc(hidden)]
pub struct Kernels {
    embed: wgpu::ComputePipeline,
    rms_norm: wgpu::ComputePipeline,
    quantize: wgpu::ComputePipeline,
    matvec: wgpu::ComputePipeline,
    matmul: wgpu::ComputePipeline,
    rope: wgpu::ComputePipeline,
    attention: wgpu::ComputePipeline,
    swiglu: wgpu::ComputePipeline,
    /// Bound to the weight bindings a dispatch does not use.
    none: wgpu::Buffer,
}

fn f(v: f32) -> u32 {
    v.to_bits()
}

impl Kernels {
    pub fn new(gpu: &Gpu) -> Self {
        let p = |entry: &str| pipeline(&gpu.device, &format!("llama {entry}"), SHADER, entry);
        Self {
            embed: p("embed"),
            rms_norm: p("rms_norm"),
            quantize: p("quantize"),
            matvec: p("matvec"),
            matmul: p("matmul"),
            rope: p("rope"),
            attention: p("attention"),
            swiglu: p("swiglu"),
            none: gpu.buffer("llama none", wgpu::BufferUsages::STORAGE, &[0; 16]),
        }
    }

    /// x[t] ← row `tokens[t]` of the Q8_0 table, dequantised.
    fn embed<'a>(
        &'a self,
        gpu: &Gpu,
        rec: &mut Recorder<'a>,
        (tokens, table, x): (&'a wgpu::Buffer, &'a DeviceMatrix, &'a wgpu::Buffer),
        t: usize,
    ) -> Result<()> {
        let Blocks::Q8_0 { quants, scales } = &table.blocks else {
            return Err(gpu_error("the token embeddings must be Q8_0 on the GPU path"));
        };
        let total = t * table.cols;
        let params = [total as u32, table.cols as u32, (table.cols / QK) as u32, 0, 0, 0, 0, 0];
        let groups = grid(gpu, total.div_ceil(64), "embed")?;
        let buffers = vec![(1, tokens), (2, quants), (3, scales), (4, x)];
        rec.ops.push(Op { pipeline: &self.embed, uniform: 0, params, buffers, groups });
        Ok(())
    }

    /// h[r] ← RMSNorm of x[row0 + r] with gain g, for `rows` rows of `cols`.
    fn rms_norm<'a>(
        &'a self,
        gpu: &Gpu,
        rec: &mut Recorder<'a>,
        (x, g, h): (&'a wgpu::Buffer, &'a wgpu::Buffer, &'a wgpu::Buffer),
        (row0, rows, cols): (usize, usize, usize),
        eps: f32,
    ) -> Result<()> {
        let params = [rows as u32, cols as u32, row0 as u32, f(eps), 0, 0, 0, 0];
        let groups = grid(gpu, rows, "rms_norm")?;
        rec.ops.push(Op {
            pipeline: &self.rms_norm,
            uniform: 5,
            params,
            buffers: vec![(6, x), (7, g), (8, h)],
            groups,
        });
        Ok(())
    }

    /// The first `blocks` blocks of 32 of `x` → Q8_1.
    fn quantize<'a>(
        &'a self,
        gpu: &Gpu,
        rec: &mut Recorder<'a>,
        x: &'a wgpu::Buffer,
        out: Q8Buffers<'a>,
        blocks: usize,
    ) -> Result<()> {
        let params = [blocks as u32, 0, 0, 0, 0, 0, 0, 0];
        let groups = grid(gpu, blocks.div_ceil(64), "quantize")?;
        let buffers = vec![(10, x), (11, out.quants), (12, out.scales)];
        rec.ops.push(Op { pipeline: &self.quantize, uniform: 9, params, buffers, groups });
        Ok(())
    }

    /// y (+)= x·Wᵀ for `tokens` quantised rows: a mat-vec per token, or the tiled mat-mul when `tiled`.
    fn linear<'a>(
        &'a self,
        gpu: &Gpu,
        rec: &mut Recorder<'a>,
        (w, x, y): (&'a DeviceMatrix, Q8Buffers<'a>, &'a wgpu::Buffer),
        tokens: usize,
        (residual, tiled): (bool, bool),
    ) -> Result<()> {
        let max = gpu.limits.max_compute_workgroups_per_dimension as usize;
        let groups = (w.rows.div_ceil(64), if tiled { tokens.div_ceil(64) } else { tokens });
        if groups.0 > max || groups.1 > max {
            return Err(gpu_error(format!("a product of {tokens} × {} rows exceeds the dispatch limits", w.rows)));
        }
        let (kind, w4, q8, s8) = match &w.blocks {
            Blocks::Q4_1(b) => (0, b, &self.none, &self.none),
            Blocks::Q8_0 { quants, scales } => (1, &self.none, quants, scales),
        };
        let params = [w.rows as u32, (w.cols / QK) as u32, tokens as u32, kind, u32::from(residual), 0, 0, 0];
        let buffers = vec![(14, w4), (15, q8), (16, s8), (17, x.quants), (18, x.scales), (19, y)];
        let pipeline = if tiled { &self.matmul } else { &self.matvec };
        rec.ops.push(Op { pipeline, uniform: 13, params, buffers, groups: (groups.0 as u32, groups.1 as u32) });
        Ok(())
    }

    /// RoPE of q and k of `tokens` qkv rows at positions start.., k and v stored in the layer's cache.
    fn rope<'a>(
        &'a self,
        gpu: &Gpu,
        rec: &mut Recorder<'a>,
        (qkv, table, cache): (&'a wgpu::Buffer, &'a wgpu::Buffer, &'a wgpu::Buffer),
        shape: AttentionShape,
    ) -> Result<()> {
        let (dim, kv) = (shape.heads * shape.head_dim, shape.kv_heads * shape.head_dim);
        let AttentionShape { tokens, start, head_dim, stride, capacity, .. } = shape;
        let params = [tokens, start, dim, kv, head_dim, stride, capacity, 0].map(|v| v as u32);
        let groups = grid(gpu, (tokens * (dim / 2 + kv)).div_ceil(64), "rope")?;
        let buffers = vec![(21, qkv), (22, table), (23, cache)];
        rec.ops.push(Op { pipeline: &self.rope, uniform: 20, params, buffers, groups });
        Ok(())
    }

    /// Causal attention of `tokens` queries (in qkv rows) over the cache → out (tokens × dim).
    fn attention<'a>(
        &'a self,
        gpu: &Gpu,
        rec: &mut Recorder<'a>,
        (qkv, cache, out): (&'a wgpu::Buffer, &'a wgpu::Buffer, &'a wgpu::Buffer),
        shape: AttentionShape,
    ) -> Result<()> {
        let AttentionShape { tokens, start, heads, kv_heads, head_dim, stride, capacity } = shape;
        let scale = f(1.0 / (head_dim as f32).sqrt());
        let mut params = [tokens, start, heads, kv_heads, head_dim, stride, capacity, 0].map(|v| v as u32);
        params[7] = scale;
        let groups = grid(gpu, tokens * heads, "attention")?;
        let buffers = vec![(25, qkv), (26, cache), (27, out)];
        rec.ops.push(Op { pipeline: &self.attention, uniform: 24, params, buffers, groups });
        Ok(())
    }

    /// act ← silu(gate) · up of `tokens` rows [gate | up].
    fn swiglu<'a>(
        &'a self,
        gpu: &Gpu,
        rec: &mut Recorder<'a>,
        (gu, act): (&'a wgpu::Buffer, &'a wgpu::Buffer),
        tokens: usize,
        hidden: usize,
    ) -> Result<()> {
        let total = tokens * hidden;
        let params = [total as u32, hidden as u32, 0, 0, 0, 0, 0, 0];
        let groups = grid(gpu, total.div_ceil(64), "swiglu")?;
        rec.ops.push(Op { pipeline: &self.swiglu, uniform: 28, params, buffers: vec![(29, gu), (30, act)], groups });
        Ok(())
    }
}

/// The sizes of one attention call.
#[derive(Clone, Copy, Debug)]
struct AttentionShape {
    tokens: usize,
    start: usize,
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
    /// Floats per qkv row.
    stride: usize,
    /// Positions per cache half.
    capacity: usize,
}

impl AttentionShape {
    fn check(&self) -> Result<()> {
        let AttentionShape { heads, kv_heads, head_dim, .. } = *self;
        if head_dim == 0 || head_dim > MAX_HEAD || kv_heads == 0 || heads % kv_heads != 0 {
            return Err(gpu_error(format!(
                "attention of {heads} heads, {kv_heads} KV heads of {head_dim}: the kernel needs head_dim up to \
                 {MAX_HEAD} and whole groups"
            )));
        }
        Ok(())
    }
}

/// One-kernel runs for the parity tests (each uploads its inputs, records one dispatch and reads one buffer back).
impl Kernels {
    /// Q8_1 quantisation of rows of whole blocks on the device: `(q, d, s)` as [`crate::nn::quant::quantize_q8`]
    /// computes them.
    ///
    /// # Errors
    /// `GPU` when the length is not whole blocks, a buffer exceeds the binding limit or the device fails.
    pub async fn quantize_q8(&self, gpu: &Gpu, x: &[f32]) -> Result<(Vec<i8>, Vec<f32>, Vec<f32>)> {
        gpu.check()?;
        if x.is_empty() || !x.len().is_multiple_of(QK) {
            return Err(gpu_error(format!("quantize: {} values are not whole blocks of {QK}", x.len())));
        }
        let blocks = x.len() / QK;
        let input = upload_f32(gpu, "x", x)?;
        let out = scratch(gpu, "q8", 10 * blocks)?;
        let scales = scratch(gpu, "q8 scales", 2 * blocks)?;
        let mut rec = Recorder::default();
        self.quantize(gpu, &mut rec, &input, Q8Buffers { quants: &out, scales: &scales }, blocks)?;
        let mut encoder = new_encoder(gpu);
        rec.record(gpu, &mut encoder);
        encoder.copy_buffer_to_buffer(&scales, 0, &out, 4 * 8 * blocks as u64, 8 * blocks as u64);
        let words = finish(gpu, encoder, &out, 10 * blocks).await?;
        let q = words[..8 * blocks].iter().flat_map(|w| w.to_bits().to_le_bytes().map(|b| b as i8)).collect();
        let (d, s) = words[8 * blocks..].chunks_exact(2).map(|p| (p[0], p[1])).unzip();
        Ok((q, d, s))
    }

    /// `x·Wᵀ` (plus `residual` when given) for the rows of `x` (`t × cols`), quantised on the device first: the
    /// mat-vec per row, or the tiled mat-mul when `tiled`. The GPU twin of [`crate::nn::quant::dot`] row by row.
    ///
    /// # Errors
    /// `GPU` for a weight type other than Q4_1 / Q8_0, mismatched lengths, a buffer beyond the binding limit, or a
    /// device failure.
    pub async fn linear_rows(
        &self,
        gpu: &Gpu,
        w: &Tensor<'_>,
        x: &[f32],
        residual: Option<&[f32]>,
        tiled: bool,
    ) -> Result<Vec<f32>> {
        gpu.check()?;
        let cols = w.cols();
        if cols == 0 || x.is_empty() || !x.len().is_multiple_of(cols) || w.rows() == 0 {
            return Err(gpu_error(format!("linear: {} values are not rows of {cols}", x.len())));
        }
        let t = x.len() / cols;
        if residual.is_some_and(|r| r.len() != t * w.rows()) {
            return Err(gpu_error("linear: the residual's length differs from the output's"));
        }
        let matrix = DeviceMatrix::new(gpu, w.name, &[*w])?;
        let input = upload_f32(gpu, "x", x)?;
        let quants = scratch(gpu, "q8", t * cols / 4)?;
        let scales = scratch(gpu, "q8 scales", 2 * t * cols / QK)?;
        let y = match residual {
            Some(r) => upload_f32(gpu, "y", r)?,
            None => scratch(gpu, "y", t * w.rows())?,
        };
        let q8 = Q8Buffers { quants: &quants, scales: &scales };
        let mut rec = Recorder::default();
        self.quantize(gpu, &mut rec, &input, q8, t * cols / QK)?;
        self.linear(gpu, &mut rec, (&matrix, q8, &y), t, (residual.is_some(), tiled))?;
        let mut encoder = new_encoder(gpu);
        rec.record(gpu, &mut encoder);
        finish(gpu, encoder, &y, t * w.rows()).await
    }

    /// RMSNorm of each row of `x` with gain `g`: the GPU twin of [`crate::nn::ggml::rms_norm`].
    ///
    /// # Errors
    /// `GPU` for mismatched lengths, a buffer beyond the binding limit, or a device failure.
    pub async fn rms_norm_rows(&self, gpu: &Gpu, x: &[f32], g: &[f32], eps: f32) -> Result<Vec<f32>> {
        gpu.check()?;
        let cols = g.len();
        if cols == 0 || x.is_empty() || !x.len().is_multiple_of(cols) {
            return Err(gpu_error("rms_norm: x is not rows of the gain's length"));
        }
        let rows = x.len() / cols;
        let (xb, gb, h) = (upload_f32(gpu, "x", x)?, upload_f32(gpu, "g", g)?, scratch(gpu, "h", x.len())?);
        let mut rec = Recorder::default();
        self.rms_norm(gpu, &mut rec, (&xb, &gb, &h), (0, rows, cols), eps)?;
        let mut encoder = new_encoder(gpu);
        rec.record(gpu, &mut encoder);
        finish(gpu, encoder, &h, x.len()).await
    }

    /// RoPE of `t` rows `[q (heads·head_dim) | k (kv) | v (kv)]` at positions `start..`: returns the rows with q
    /// rotated, then the layer's cache (keys of positions `0..start + t`, then values; rows before `start` zero).
    /// The GPU twin of [`rope`] (+ the cache store).
    ///
    /// # Errors
    /// `GPU` for mismatched lengths, an odd head dimension, a buffer beyond the binding limit, or a device failure.
    pub async fn rope_rows(
        &self,
        gpu: &Gpu,
        qkv: &[f32],
        (heads, kv_heads, head_dim): (usize, usize, usize),
        start: usize,
        base: f32,
    ) -> Result<(Vec<f32>, Vec<f32>)> {
        gpu.check()?;
        let (dim, kv) = (heads * head_dim, kv_heads * head_dim);
        let stride = dim + 2 * kv;
        if !head_dim.is_multiple_of(2) || stride == 0 || qkv.is_empty() || !qkv.len().is_multiple_of(stride) {
            return Err(gpu_error("rope: qkv is not rows of q | k | v"));
        }
        let t = qkv.len() / stride;
        let capacity = start + t;
        let shape = AttentionShape { tokens: t, start, heads, kv_heads, head_dim, stride, capacity };
        let table = upload(gpu, "rope table", bytemuck::cast_slice(&rope_table(head_dim, capacity, base)))?;
        let rows = upload_f32(gpu, "qkv", qkv)?;
        let cache = upload_f32(gpu, "cache", &vec![0.0; 2 * capacity * kv])?;
        let mut rec = Recorder::default();
        self.rope(gpu, &mut rec, (&rows, &table, &cache), shape)?;
        let mut encoder = new_encoder(gpu);
        rec.record(gpu, &mut encoder);
        let cached = finish(gpu, encoder, &cache, 2 * capacity * kv).await?;
        let encoder = new_encoder(gpu);
        Ok((finish(gpu, encoder, &rows, qkv.len()).await?, cached))
    }

    /// Causal grouped-query attention of `t` queries (`q`: t × heads·head_dim, at positions `start..start + t`)
    /// over `keys` and `values` ((start + t) × kv_heads·head_dim): the GPU twin of [`ggml::attention`].
    ///
    /// # Errors
    /// `GPU` for mismatched lengths, heads the kernel does not support, a buffer beyond the binding limit, or a
    /// device failure.
    pub async fn attention_rows(
        &self,
        gpu: &Gpu,
        (q, keys, values): (&[f32], &[f32], &[f32]),
        (heads, kv_heads, head_dim): (usize, usize, usize),
        start: usize,
    ) -> Result<Vec<f32>> {
        gpu.check()?;
        let (dim, kv) = (heads * head_dim, kv_heads * head_dim);
        if dim == 0 || q.is_empty() || q.len() % dim != 0 {
            return Err(gpu_error("attention: q is not rows of heads · head_dim"));
        }
        let t = q.len() / dim;
        let capacity = start + t;
        if keys.len() != capacity * kv || values.len() != keys.len() {
            return Err(gpu_error("attention: keys and values must hold start + t positions"));
        }
        let shape = AttentionShape { tokens: t, start, heads, kv_heads, head_dim, stride: dim, capacity };
        shape.check()?;
        let qb = upload_f32(gpu, "q", q)?;
        let cache = upload_f32(gpu, "cache", &[keys, values].concat())?;
        let out = scratch(gpu, "attention out", t * dim)?;
        let mut rec = Recorder::default();
        self.attention(gpu, &mut rec, (&qb, &cache, &out), shape)?;
        let mut encoder = new_encoder(gpu);
        rec.record(gpu, &mut encoder);
        finish(gpu, encoder, &out, t * dim).await
    }

    /// silu(gate)·up of rows `[gate (hidden) | up (hidden)]`: the GPU twin of [`swiglu`].
    ///
    /// # Errors
    /// `GPU` for mismatched lengths, a buffer beyond the binding limit, or a device failure.
    pub async fn swiglu_rows(&self, gpu: &Gpu, gate_up: &[f32], hidden: usize) -> Result<Vec<f32>> {
        gpu.check()?;
        if hidden == 0 || gate_up.is_empty() || !gate_up.len().is_multiple_of(2 * hidden) {
            return Err(gpu_error("swiglu: not rows of gate | up"));
        }
        let t = gate_up.len() / (2 * hidden);
        let (gu, act) = (upload_f32(gpu, "gate up", gate_up)?, scratch(gpu, "act", t * hidden)?);
        let mut rec = Recorder::default();
        self.swiglu(gpu, &mut rec, (&gu, &act), t, hidden)?;
        let mut encoder = new_encoder(gpu);
        rec.record(gpu, &mut encoder);
        finish(gpu, encoder, &act, t * hidden).await
    }

    /// `expf` of each of `x` by the shader's port of glibc's: the GPU twin of [`crate::nn::glibc::expf`] (its own
    /// entry point, compiled on demand: the forward pass reaches it only through `attention`).
    ///
    /// # Errors
    /// `GPU` for an empty input, a buffer beyond the binding limit, or a device failure.
    pub async fn expf_rows(&self, gpu: &Gpu, x: &[f32]) -> Result<Vec<f32>> {
        gpu.check()?;
        if x.is_empty() {
            return Err(gpu_error("expf: no input"));
        }
        let pipeline = pipeline(&gpu.device, "llama expf", SHADER, "expf_check");
        let (xb, y) = (upload_f32(gpu, "expf x", x)?, scratch(gpu, "expf y", x.len())?);
        let groups = grid(gpu, x.len().div_ceil(64), "expf")?;
        let mut rec = Recorder::default();
        let params = [x.len() as u32, 0, 0, 0, 0, 0, 0, 0];
        rec.ops.push(Op { pipeline: &pipeline, uniform: 31, params, buffers: vec![(32, &xb), (33, &y)], groups });
        let mut encoder = new_encoder(gpu);
        rec.record(gpu, &mut encoder);
        finish(gpu, encoder, &y, x.len()).await
    }

    /// Rows `tokens` of a Q8_0 table, dequantised: the GPU twin of [`Tensor::dequantize_row`].
    ///
    /// # Errors
    /// `GPU` for a table that is not Q8_0, a token outside it, a buffer beyond the binding limit, or a device
    /// failure.
    pub async fn embed_rows(&self, gpu: &Gpu, table: &Tensor<'_>, tokens: &[u32]) -> Result<Vec<f32>> {
        gpu.check()?;
        if tokens.is_empty() || tokens.iter().any(|&id| id as usize >= table.rows()) {
            return Err(gpu_error("embed: a token outside the table"));
        }
        let matrix = DeviceMatrix::new(gpu, table.name, &[*table])?;
        let ids = upload(gpu, "tokens", bytemuck::cast_slice(tokens))?;
        let x = scratch(gpu, "x", tokens.len() * table.cols())?;
        let mut rec = Recorder::default();
        self.embed(gpu, &mut rec, (&ids, &matrix, &x), tokens.len())?;
        let mut encoder = new_encoder(gpu);
        rec.record(gpu, &mut encoder);
        finish(gpu, encoder, &x, tokens.len() * table.cols()).await
    }
}

/// (cos, sin) of position p, pair i at `p · head_dim/2 + i`, for `positions` positions, with the angles of
/// [`ggml::Rope`]: θ starts at the position and is multiplied by base^(−2/head_dim) pair after pair.
pub fn rope_table(head_dim: usize, positions: usize, base: f32) -> Vec<[f32; 2]> {
    let rope = ggml::Rope::new(base, head_dim);
    (0..positions).flat_map(|pos| rope.table(pos)).map(|(cos, sin)| [cos, sin]).collect()
}

/// silu(gate)·up of rows `[gate (hidden) | up (hidden)]` by [`ggml::swiglu`]: the CPU twin of the `swiglu` kernel.
pub fn swiglu(gate_up: &[f32], hidden: usize) -> Vec<f32> {
    gate_up
        .chunks_exact(2 * hidden)
        .flat_map(|row| {
            let (mut gate, up) = (row[..hidden].to_vec(), &row[hidden..]);
            ggml::swiglu(&mut gate, up);
            gate
        })
        .collect()
}

/// One transformer block on the device.
struct DeviceLayer {
    attn_norm: wgpu::Buffer,
    /// attn_q | attn_k | attn_v rows.
    qkv: DeviceMatrix,
    output: DeviceMatrix,
    ffn_norm: wgpu::Buffer,
    /// ffn_gate | ffn_up rows.
    gate_up: DeviceMatrix,
    down: DeviceMatrix,
}

impl DeviceLayer {
    fn new(gpu: &Gpu, model: &Llama, l: usize) -> Result<Self> {
        let w = |name: &str| model.weight(l, name);
        let name = |part: &str| format!("blk.{l}.{part}");
        Ok(Self {
            attn_norm: upload_f32(gpu, &name("attn_norm"), &model.attn_norm[l])?,
            qkv: DeviceMatrix::new(gpu, &name("attn_qkv"), &[w("attn_q")?, w("attn_k")?, w("attn_v")?])?,
            output: DeviceMatrix::new(gpu, &name("attn_output"), &[w("attn_output")?])?,
            ffn_norm: upload_f32(gpu, &name("ffn_norm"), &model.ffn_norm[l])?,
            gate_up: DeviceMatrix::new(gpu, &name("ffn_gate_up"), &[w("ffn_gate")?, w("ffn_up")?])?,
            down: DeviceMatrix::new(gpu, &name("ffn_down"), &[w("ffn_down")?])?,
        })
    }

    fn bytes(&self) -> u64 {
        self.attn_norm.size()
            + self.ffn_norm.size()
            + self.qkv.bytes()
            + self.output.bytes()
            + self.gate_up.bytes()
            + self.down.bytes()
    }
}

/// The KV cache of one conversation on the device: per layer one buffer, keys then values, `capacity` positions of
/// `kv_heads·head_dim` f32 each. Grows (by powers of two, copying what it holds) as positions are added.
pub struct GpuCache {
    layers: Vec<wgpu::Buffer>,
    capacity: usize,
    /// Positions filled.
    pub len: usize,
}

impl std::fmt::Debug for GpuCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuCache").field("capacity", &self.capacity).field("len", &self.len).finish_non_exhaustive()
    }
}

/// The activations of one call of t tokens.
struct Scratch {
    tokens: wgpu::Buffer,
    x: wgpu::Buffer,
    h: wgpu::Buffer,
    quants: wgpu::Buffer,
    scales: wgpu::Buffer,
    qkv: wgpu::Buffer,
    attended: wgpu::Buffer,
    gate_up: wgpu::Buffer,
    act: wgpu::Buffer,
    logits: wgpu::Buffer,
}

impl Scratch {
    fn new(gpu: &Gpu, c: &LlamaConfig, t: usize, out_rows: usize) -> Result<Self> {
        let kv = c.kv_heads * c.head_dim;
        let widest = c.dim.max(c.hidden);
        Ok(Self {
            tokens: scratch(gpu, "tokens", t)?,
            x: scratch(gpu, "x", t * c.dim)?,
            h: scratch(gpu, "h", t * c.dim)?,
            quants: scratch(gpu, "q8", t * widest / 4)?,
            scales: scratch(gpu, "q8 scales", 2 * t * widest / QK)?,
            qkv: scratch(gpu, "qkv", t * (c.dim + 2 * kv))?,
            attended: scratch(gpu, "attention", t * c.dim)?,
            gate_up: scratch(gpu, "gate up", t * 2 * c.hidden)?,
            act: scratch(gpu, "act", t * c.hidden)?,
            logits: scratch(gpu, "logits", out_rows * c.vocab)?,
        })
    }

    fn q8(&self) -> Q8Buffers<'_> {
        Q8Buffers { quants: &self.quants, scales: &self.scales }
    }
}

/// A Llama model whose forward pass runs on the GPU: the GPU twin of [`Llama::forward`] (tokenisation and sampling
/// stay on the CPU).
pub struct GpuLlama {
    kernels: Kernels,
    config: LlamaConfig,
    layers: Vec<DeviceLayer>,
    embed: DeviceMatrix,
    /// `output.weight` when the file has one; otherwise the embeddings are tied.
    output: Option<DeviceMatrix>,
    output_norm: wgpu::Buffer,
    rope: wgpu::Buffer,
}

impl std::fmt::Debug for GpuLlama {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuLlama").field("config", &self.config).finish_non_exhaustive()
    }
}

impl GpuLlama {
    /// Uploads `model`'s weights (quantised, see the module doc) and creates the pipelines.
    ///
    /// # Errors
    /// `GPU` for weights other than Q4_1 / Q8_0 (token embeddings: Q8_0), q/k/v or gate/up of different types, a
    /// head dimension the attention kernel does not support, a tensor beyond the binding limit, or a device failure;
    /// `MODEL` for a missing tensor.
    pub fn new(gpu: &Gpu, model: &Llama) -> Result<Self> {
        gpu.check()?;
        let c = model.config.clone();
        let shape = AttentionShape {
            tokens: 0,
            start: 0,
            heads: c.heads,
            kv_heads: c.kv_heads,
            head_dim: c.head_dim,
            stride: 0,
            capacity: 0,
        };
        shape.check()?;
        let layers = (0..c.layers).map(|l| DeviceLayer::new(gpu, model, l)).collect::<Result<Vec<_>>>()?;
        let embed = DeviceMatrix::new(gpu, "token_embd.weight", &[model.gguf.tensor("token_embd.weight")?])?;
        if !matches!(embed.blocks, Blocks::Q8_0 { .. }) {
            return Err(gpu_error("token_embd.weight must be Q8_0 on the GPU path"));
        }
        let output = match model.output.as_str() {
            "token_embd.weight" => None,
            name => Some(DeviceMatrix::new(gpu, name, &[model.gguf.tensor(name)?])?),
        };
        let output_norm = upload_f32(gpu, "output_norm", &model.output_norm)?;
        let rope = upload(gpu, "rope table", bytemuck::cast_slice(&rope_table(c.head_dim, c.context, c.rope_base)))?;
        let this = Self { kernels: Kernels::new(gpu), config: c, layers, embed, output, output_norm, rope };
        gpu.check()?;
        Ok(this)
    }

    /// An empty cache for this model (device memory is taken by the first forward).
    pub fn cache(&self) -> GpuCache {
        GpuCache { layers: Vec::new(), capacity: 0, len: 0 }
    }

    /// Bytes the model keeps on the device (weights, norms, RoPE table).
    pub fn resident_bytes(&self) -> u64 {
        self.layers.iter().map(DeviceLayer::bytes).sum::<u64>()
            + self.embed.bytes()
            + self.output.as_ref().map_or(0, DeviceMatrix::bytes)
            + self.output_norm.size()
            + self.rope.size()
    }

    /// Runs `tokens` after what `cache` holds, appends their keys and values, and returns the logits of the
    /// positions `want` selects, as [`Llama::forward`]: every layer in one submission, one readback.
    ///
    /// # Errors
    /// `MODEL` for a token outside the vocabulary or a context longer than the model's; `GPU` when an activation
    /// exceeds the binding limit or the device fails.
    pub async fn forward(&self, gpu: &Gpu, cache: &mut GpuCache, tokens: &[u32], want: Logits) -> Result<Vec<f32>> {
        gpu.check()?;
        let c = &self.config;
        if cache.len + tokens.len() > c.context {
            return Err(Error::Model(format!(
                "{} tokens exceed the context of {}",
                cache.len + tokens.len(),
                c.context
            )));
        }
        if let Some(&id) = tokens.iter().find(|&&id| id as usize >= c.vocab) {
            return Err(Error::Model(format!("token {id} is outside the vocabulary of {}", c.vocab)));
        }
        if tokens.is_empty() {
            return Ok(Vec::new());
        }
        let (t, start) = (tokens.len(), cache.len);
        let out_rows = if want == Logits::All { t } else { 1 };
        let mut encoder = new_encoder(gpu);
        let grown = self.grow(gpu, cache, start + t, &mut encoder)?;
        let (layers, capacity) = grown.as_ref().map_or((&cache.layers, cache.capacity), |(l, cap)| (l, *cap));
        let s = Scratch::new(gpu, c, t, out_rows)?;
        gpu.queue.write_buffer(&s.tokens, 0, bytemuck::cast_slice(tokens));
        let mut rec = Recorder::default();
        let shape = AttentionShape {
            tokens: t,
            start,
            heads: c.heads,
            kv_heads: c.kv_heads,
            head_dim: c.head_dim,
            stride: c.dim + 2 * c.kv_heads * c.head_dim,
            capacity,
        };
        self.record(gpu, &mut rec, &s, layers, shape)?;
        self.record_logits(gpu, &mut rec, &s, t, want)?;
        rec.record(gpu, &mut encoder);
        let logits = finish(gpu, encoder, &s.logits, out_rows * c.vocab).await?;
        if let Some((layers, capacity)) = grown {
            cache.layers = layers;
            cache.capacity = capacity;
        }
        cache.len += t;
        Ok(if want == Logits::None { Vec::new() } else { logits })
    }

    /// New cache buffers when `needed` positions exceed the capacity, with copies of what the cache holds recorded
    /// into `encoder` (the cache itself changes only once the call succeeds).
    fn grow(
        &self,
        gpu: &Gpu,
        cache: &GpuCache,
        needed: usize,
        encoder: &mut wgpu::CommandEncoder,
    ) -> Result<Option<(Vec<wgpu::Buffer>, usize)>> {
        if needed <= cache.capacity && cache.layers.len() == self.layers.len() {
            return Ok(None);
        }
        let c = &self.config;
        let kv = c.kv_heads * c.head_dim;
        let capacity = needed.next_power_of_two().max(MIN_CAPACITY).min(c.context.max(needed));
        let (half, filled, old_half) =
            (4 * (capacity * kv) as u64, 4 * (cache.len * kv) as u64, 4 * (cache.capacity * kv) as u64);
        let mut layers = Vec::with_capacity(self.layers.len());
        for l in 0..self.layers.len() {
            let buffer = scratch(gpu, &format!("blk.{l} kv cache"), 2 * capacity * kv)?;
            if let Some(old) = cache.layers.get(l).filter(|_| filled > 0) {
                encoder.copy_buffer_to_buffer(old, 0, &buffer, 0, filled);
                encoder.copy_buffer_to_buffer(old, old_half, &buffer, half, filled);
            }
            layers.push(buffer);
        }
        Ok(Some((layers, capacity)))
    }

    /// Records the embedding gather and every layer.
    fn record<'a>(
        &'a self,
        gpu: &Gpu,
        rec: &mut Recorder<'a>,
        s: &'a Scratch,
        cache: &'a [wgpu::Buffer],
        shape: AttentionShape,
    ) -> Result<()> {
        let (k, c) = (&self.kernels, &self.config);
        let (t, dim, eps) = (shape.tokens, c.dim, c.rms_eps);
        let tiled = t >= TILED_FROM;
        k.embed(gpu, rec, (&s.tokens, &self.embed, &s.x), t)?;
        for (layer, kv) in self.layers.iter().zip(cache) {
            k.rms_norm(gpu, rec, (&s.x, &layer.attn_norm, &s.h), (0, t, dim), eps)?;
            k.quantize(gpu, rec, &s.h, s.q8(), t * dim / QK)?;
            k.linear(gpu, rec, (&layer.qkv, s.q8(), &s.qkv), t, (false, tiled))?;
            k.rope(gpu, rec, (&s.qkv, &self.rope, kv), shape)?;
            k.attention(gpu, rec, (&s.qkv, kv, &s.attended), shape)?;
            k.quantize(gpu, rec, &s.attended, s.q8(), t * dim / QK)?;
            k.linear(gpu, rec, (&layer.output, s.q8(), &s.x), t, (true, tiled))?;
            k.rms_norm(gpu, rec, (&s.x, &layer.ffn_norm, &s.h), (0, t, dim), eps)?;
            k.quantize(gpu, rec, &s.h, s.q8(), t * dim / QK)?;
            k.linear(gpu, rec, (&layer.gate_up, s.q8(), &s.gate_up), t, (false, tiled))?;
            k.swiglu(gpu, rec, (&s.gate_up, &s.act), t, c.hidden)?;
            k.quantize(gpu, rec, &s.act, s.q8(), t * c.hidden / QK)?;
            k.linear(gpu, rec, (&layer.down, s.q8(), &s.x), t, (true, tiled))?;
        }
        Ok(())
    }

    /// Records the final norm and the output projection of the rows `want` selects.
    fn record_logits<'a>(
        &'a self,
        gpu: &Gpu,
        rec: &mut Recorder<'a>,
        s: &'a Scratch,
        t: usize,
        want: Logits,
    ) -> Result<()> {
        let (k, c) = (&self.kernels, &self.config);
        let (row0, rows) = if want == Logits::All { (0, t) } else { (t - 1, 1) };
        let output = self.output.as_ref().unwrap_or(&self.embed);
        k.rms_norm(gpu, rec, (&s.x, &self.output_norm, &s.h), (row0, rows, c.dim), c.rms_eps)?;
        k.quantize(gpu, rec, &s.h, s.q8(), rows * c.dim / QK)?;
        k.linear(gpu, rec, (output, s.q8(), &s.logits), rows, (false, rows >= TILED_FROM))
    }
}

/// A [`GpuLlama`] on its device with the CPU model it came from (tokenizer, shape): what [`Generator`] and
/// [`logprobs`] run on to use the GPU.
///
/// [`Generator`]: crate::nn::generate::Generator
/// [`logprobs`]: crate::nn::generate::logprobs
#[derive(Clone, Copy)]
pub struct OnDevice<'a> {
    pub gpu: &'a Gpu,
    pub model: &'a GpuLlama,
    pub llama: &'a Llama,
}

impl Forward for OnDevice<'_> {
    type Cache = GpuCache;

    fn llama(&self) -> &Llama {
        self.llama
    }

    fn cache(&self) -> GpuCache {
        self.model.cache()
    }

    /// [`GpuLlama::forward`] in the CPU's [`micro_batches`] (a call's activations and
    /// `Logits::All` rows stay within a binding).
    async fn forward(&self, cache: &mut GpuCache, tokens: &[u32], want: Logits) -> Result<Vec<f32>> {
        let mut logits = Vec::new();
        for (batch, keep) in micro_batches(tokens, want) {
            logits.extend(self.model.forward(self.gpu, cache, batch, keep).await?);
        }
        Ok(logits)
    }
}
