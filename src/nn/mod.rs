//! Small neural networks on the CPU: a BERT-family sentence encoder (sentence-transformers' mean pooling and L2
//! normalisation) loaded from `config.json`, `model.safetensors` and `tokenizer.json` bytes.

pub mod bert;

pub use bert::Encoder;
