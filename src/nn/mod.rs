//! Small neural networks on the CPU: a BERT-family sentence encoder (sentence-transformers' mean pooling and L2
//! normalisation) loaded from `config.json`, `model.safetensors` and `tokenizer.json` bytes, and its operations
//! (`ops`), which are also the CPU twins of the GPU encoder's kernels.

pub mod bert;
pub mod bpe;
pub mod generate;
pub mod ggml;
pub mod gguf;
pub mod glibc;
pub mod llama;
pub mod ops;
pub mod quant;

pub use bert::{Batch, Encoder};
pub use ops::Seq;
