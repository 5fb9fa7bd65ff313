//! The byte-level BPE tokenizer of a GGUF model (`tokenizer.ggml.model = "gpt2"`), built from the file's own
//! vocabulary and merges with the `tokenizers` crate, and the model's chat template rendered by `minijinja`.
//!
//! Splitting follows llama.cpp: with special-token parsing on, the text is first cut at the control tokens'
//! strings (`<|im_start|>`, …), which become their ids; every other piece goes through the pre-tokenizer of
//! `tokenizer.ggml.pre` (for `smollm` and its family: each digit alone, then the GPT-2 regex) and byte-level BPE.
//! Decoding maps each token back to its bytes (GPT-2's byte ↔ unicode table), so a stream of tokens can be turned
//! into text as soon as the bytes form whole UTF-8 characters.

use std::collections::HashMap;

use tokenizers::models::bpe::{Vocab, BPE};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::Tokenizer;

use super::gguf::Gguf;
use crate::error::{Error, Result};

/// GGUF `token_type` of a control token (`<|im_start|>`): parsed from text only when asked, never merged.
const CONTROL: i32 = 3;

/// Pre-tokenizers that split each digit alone before the GPT-2 regex (llama.cpp's STARCODER/SMOLLM group).
const DIGIT_FIRST: &[&str] = &["smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva-7b"];

/// Control tokens that end generation besides `eos`, as llama.cpp's vocabulary marks them (end-of-turn markers and
/// the fill-in-the-middle repository/file/pad tokens).
const END_OF_GENERATION: &[&str] = &[
    "<|endoftext|>",
    "<|im_end|>",
    "<|eot_id|>",
    "<|eom_id|>",
    "<|end|>",
    "<end_of_turn>",
    "<EOT>",
    "<|fim_pad|>",
    "<|repo_name|>",
    "<|fim_repo|>",
    "<REPO>",
    "<reponame>",
    "<|file_sep|>",
];

/// One chat message for [`BpeTokenizer::chat`].
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Message {
    pub role: String,
    pub content: String,
}

/// A GGUF model's tokenizer.
pub struct BpeTokenizer {
    inner: Tokenizer,
    /// The tokens' bytes, one after another (one buffer rather than 49k small ones: ~1% of the model in memory).
    bytes: Vec<u8>,
    /// Where token i's bytes end in `bytes` (they start where token i − 1's end).
    ends: Vec<u32>,
    /// Control tokens (text, id), longest first, for splitting.
    controls: Vec<(String, u32)>,
    template: Option<String>,
    /// `tokenizer.ggml.bos_token_id` / `eos_token_id`.
    pub bos: Option<u32>,
    pub eos: Option<u32>,
    /// Tokens that end generation: `eos` and the control tokens of [`END_OF_GENERATION`].
    pub end: Vec<u32>,
}

impl std::fmt::Debug for BpeTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BpeTokenizer").field("vocab", &self.ends.len()).finish_non_exhaustive()
    }
}

fn model(what: impl Into<String>) -> Error {
    Error::Model(what.into())
}

/// GPT-2's table from bytes to the printable characters its byte-level vocabularies are written in.
fn byte_to_char() -> [char; 256] {
    let mut table = ['\0'; 256];
    let mut extra = 0u32;
    for (b, slot) in table.iter_mut().enumerate() {
        let printable = (0x21..=0x7e).contains(&b) || (0xa1..=0xac).contains(&b) || (0xae..=0xff).contains(&b);
        *slot = if printable {
            char::from(b as u8)
        } else {
            extra += 1;
            char::from_u32(255 + extra).unwrap_or('\0')
        };
    }
    table
}

// The loops over the ~49k tokens and merges live in small functions of their own, kept out of their caller:
// `#[inline(never)]` for LLVM, and `wasm-opt -ocimfs 50` (scripts/build-wasm.sh) for binaryen, which otherwise
// inlines every function that has one caller, whatever its size. V8 compiles a wasm
// function again with its optimising compiler once it has run for a while, and the loops would make the whole of
// `Llama::from_gguf`, into which everything else is inlined, that hot: compiling a function that size took 12.6 MB
// of compiler memory, which glibc keeps, to speed up a function that runs once (`benches/llama.mjs` measures the
// memory a loaded model adds).

/// `tokenizer.ggml.tokens` as the `tokenizers` crate's vocabulary (token → id).
#[inline(never)]
fn vocab(tokens: &[&str]) -> Vocab {
    tokens.iter().enumerate().map(|(i, t)| ((*t).to_owned(), i as u32)).collect()
}

/// `tokenizer.ggml.merges` (`"a b"` each) as pairs.
#[inline(never)]
fn merges(merges: &[&str]) -> Result<Vec<(String, String)>> {
    merges
        .iter()
        .enumerate()
        .map(|(i, m)| {
            m.split_once(' ')
                .map(|(a, b)| (a.to_owned(), b.to_owned()))
                .ok_or_else(|| model(format!("tokenizer.ggml.merges[{i}] `{m}` is not two tokens")))
        })
        .collect()
}

/// The tokens' bytes one after another, where each ends, and the control tokens (text, id).
struct TokenBytes {
    bytes: Vec<u8>,
    ends: Vec<u32>,
    controls: Vec<(String, u32)>,
}

#[inline(never)]
fn token_bytes(tokens: &[&str], types: &[i32]) -> Result<TokenBytes> {
    let table = byte_to_char();
    let back: HashMap<char, u8> = table.iter().enumerate().map(|(b, c)| (*c, b as u8)).collect();
    let mut controls = Vec::new();
    let (mut bytes, mut ends) = (Vec::new(), Vec::with_capacity(tokens.len()));
    for (id, (t, ty)) in tokens.iter().zip(types).enumerate() {
        if *ty == CONTROL {
            controls.push(((*t).to_owned(), id as u32));
            bytes.extend_from_slice(t.as_bytes());
        } else {
            bytes.extend(t.chars().map(|c| back.get(&c).copied().unwrap_or(b'?')));
        }
        let end = u32::try_from(bytes.len()).map_err(|_| model("tokenizer.ggml.tokens: over 4 GiB of text"))?;
        ends.push(end);
    }
    bytes.shrink_to_fit();
    Ok(TokenBytes { bytes, ends, controls })
}

impl BpeTokenizer {
    /// The tokenizer stored in a GGUF file's metadata.
    ///
    /// # Errors
    /// `MODEL` naming the key that is missing or of the wrong type, an unsupported tokenizer model or pre-tokenizer,
    /// or a merge that does not parse.
    pub fn from_gguf(gguf: &Gguf) -> Result<Self> {
        let kind = gguf.string("tokenizer.ggml.model")?;
        if kind != "gpt2" {
            return Err(model(format!("tokenizer.ggml.model `{kind}` is not supported (gpt2, byte-level BPE)")));
        }
        let pre = gguf.string("tokenizer.ggml.pre").unwrap_or("default");
        let tokens = gguf.strings("tokenizer.ggml.tokens")?;
        let types = gguf.i32s("tokenizer.ggml.token_type")?;
        if types.len() != tokens.len() {
            return Err(model(format!(
                "tokenizer.ggml.token_type has {} entries for {} tokens",
                types.len(),
                tokens.len()
            )));
        }
        let merges = merges(&gguf.strings("tokenizer.ggml.merges")?)?;
        let bpe = BPE::builder()
            .vocab_and_merges(vocab(&tokens), merges)
            .build()
            .map_err(|e| model(format!("tokenizer.ggml.merges: {e}")))?;
        let byte_level = ByteLevel::new(false, false, true);
        let pre_tokenizer: PreTokenizerWrapper = if DIGIT_FIRST.contains(&pre) {
            Sequence::new(vec![Digits::new(true).into(), byte_level.into()]).into()
        } else if pre == "gpt2" || pre == "default" {
            byte_level.into()
        } else {
            return Err(model(format!("tokenizer.ggml.pre `{pre}` is not supported (smollm, starcoder, gpt2, …)")));
        };
        let mut inner = Tokenizer::new(bpe);
        inner.with_pre_tokenizer(Some(pre_tokenizer));
        let TokenBytes { bytes, ends, mut controls } = token_bytes(&tokens, &types)?;
        controls.sort_by_key(|(t, _)| std::cmp::Reverse(t.len()));
        let id = |key: &str| gguf.u32(key).ok();
        let mut end: Vec<u32> =
            controls.iter().filter(|(t, _)| END_OF_GENERATION.contains(&t.as_str())).map(|(_, id)| *id).collect();
        end.extend(id("tokenizer.ggml.eos_token_id"));
        end.sort_unstable();
        end.dedup();
        Ok(Self {
            end,
            inner,
            bytes,
            ends,
            controls,
            template: gguf.string("tokenizer.chat_template").ok().map(str::to_owned),
            bos: id("tokenizer.ggml.bos_token_id"),
            eos: id("tokenizer.ggml.eos_token_id"),
        })
    }

    /// Number of tokens.
    pub fn vocab_size(&self) -> usize {
        self.ends.len()
    }

    /// Token ids of `text`. With `special`, control-token strings in the text become their ids (as for a chat
    /// prompt); without, they are ordinary text.
    ///
    /// # Errors
    /// `MODEL` when the tokenizer fails.
    pub fn encode(&self, text: &str, special: bool) -> Result<Vec<u32>> {
        let mut ids = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            let next = if special { self.next_control(rest) } else { None };
            let (plain, control) = match next {
                Some((at, len, id)) => (&rest[..at], Some((len, id))),
                None => (rest, None),
            };
            if !plain.is_empty() {
                let e = self.inner.encode_fast(plain, false).map_err(|e| model(format!("tokenizer: {e}")))?;
                ids.extend_from_slice(e.get_ids());
            }
            match control {
                Some((len, id)) => {
                    ids.push(id);
                    rest = &rest[plain.len() + len..];
                }
                None => break,
            }
        }
        Ok(ids)
    }

    /// The first control token in `text`: (byte offset, byte length, id); the longest wins at one offset.
    fn next_control(&self, text: &str) -> Option<(usize, usize, u32)> {
        self.controls
            .iter()
            .filter_map(|(t, id)| text.find(t.as_str()).map(|at| (at, t.len(), *id)))
            .min_by_key(|&(at, len, _)| (at, std::cmp::Reverse(len)))
    }

    /// The bytes of one token (its text for control tokens; empty for an unknown id).
    pub fn token_bytes(&self, id: u32) -> &[u8] {
        let i = id as usize;
        let Some(&end) = self.ends.get(i) else { return &[] };
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.bytes[start as usize..end as usize]
    }

    /// The text of `ids` (invalid UTF-8, e.g. a cut multi-byte character, becomes U+FFFD).
    pub fn decode(&self, ids: &[u32]) -> String {
        let bytes: Vec<u8> = ids.iter().flat_map(|&id| self.token_bytes(id).iter().copied()).collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// The model's chat template applied to `messages` (with `add_generation_prompt`, the assistant's turn is
    /// opened), as Hugging Face renders it: `messages`, `add_generation_prompt`, `bos_token` and `eos_token` are
    /// defined, and `raise_exception(msg)` fails with `msg`.
    ///
    /// # Errors
    /// `MODEL` when the file has no template, or the template fails to parse or render.
    pub fn chat(&self, messages: &[Message], add_generation_prompt: bool) -> Result<String> {
        let template = self.template.as_deref().ok_or_else(|| model("the GGUF has no tokenizer.chat_template"))?;
        let mut env = minijinja::Environment::new();
        env.add_function("raise_exception", |msg: String| -> std::result::Result<String, minijinja::Error> {
            Err(minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, msg))
        });
        env.add_template("chat", template).map_err(|e| model(format!("tokenizer.chat_template: {e}")))?;
        let text =
            |id: Option<u32>| id.map(|i| String::from_utf8_lossy(self.token_bytes(i)).into_owned()).unwrap_or_default();
        let context = minijinja::context! {
            messages => messages
                .iter()
                .map(|m| minijinja::context! { role => m.role.clone(), content => m.content.clone() })
                .collect::<Vec<_>>(),
            add_generation_prompt => add_generation_prompt,
            bos_token => text(self.bos),
            eos_token => text(self.eos),
        };
        env.get_template("chat")
            .and_then(|t| t.render(context))
            .map_err(|e| model(format!("tokenizer.chat_template: {e}")))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn gpt2_byte_table_is_a_bijection_onto_printable_characters() {
        let table = super::byte_to_char();
        assert_eq!(table[usize::from(b' ')], 'Ġ');
        assert_eq!(table[usize::from(b'\n')], 'Ċ');
        assert_eq!(table[usize::from(b'A')], 'A');
        let mut seen: Vec<char> = table.to_vec();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), 256);
    }
}
