//! Local reward scoring with a real encoder: sentence embeddings of texts, and a reward head learned from LLMFAO's
//! crowd votes.
//!
//! cargo run --release --example reward -- --model DIR --texts FILE [--device cpu|gpu|auto] [--json]
//! cargo run --release --example reward -- --model DIR --fit-llmfao [--data DIR] [--embeddings FILE] [--json]
//!
//! DIR holds a sentence-transformers model (config.json, model.safetensors, tokenizer.json, optionally
//! sentence_bert_config.json; scripts/setup.sh installs all-MiniLM-L6-v2 in ~/.cache/arbiter/models).
//!
//! `--texts FILE` (one text per line) prints, per text, the embedding's first 8 dimensions and its norm. `--device`
//! picks the path: `gpu` requires a GPU adapter, `cpu` never uses one, `auto` (the default) uses a hardware GPU and
//! otherwise the CPU (a software adapter such as lavapipe is slower than the CPU path); `"device"` says which ran.
//!
//! `--fit-llmfao` embeds LLMFAO's 1,133 responses (../shared/data/llmfao, or `--data`), fits a linear reward head on
//! the crowd votes of the training prompts (Bradley-Terry loss, ridge, early stopping on validation prompts), and
//! reports pairwise accuracy on the decisive crowd votes of held-out prompts, beside the always-longer baseline and
//! GPT-4's agreement with the crowd. Prompts are split by their position in id order: every 4th (0, 4, ...) is
//! held out, positions 3, 9, 15 validate, the rest train. `--embeddings FILE` caches the embeddings (raw
//! little-endian f32, texts × dimension): read when it exists, written otherwise; examples/reward.mjs reads the same.
//!
//! Bad input: exit code 2 and one line on stderr, `error[CODE] message`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use arbiter::nn::Encoder;
use arbiter::reward::{fit_pairwise, Context, Embeddings, FitOptions, Vote};
use arbiter::Error;

fn main() -> ExitCode {
    match run() {
        Ok(out) => {
            println!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error[{}] {e}", e.code());
            ExitCode::from(2)
        }
    }
}

struct Args {
    model: PathBuf,
    texts: Option<String>,
    fit: bool,
    data: PathBuf,
    cache: Option<PathBuf>,
    device: String,
    json: bool,
}

fn args() -> Result<Args, Error> {
    let mut a = Args {
        model: PathBuf::new(),
        texts: None,
        fit: false,
        data: Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/llmfao"),
        cache: None,
        device: "auto".into(),
        json: false,
    };
    let mut model = None;
    let mut argv = std::env::args().skip(1);
    while let Some(arg) = argv.next() {
        let mut value = |name: &'static str| argv.next().ok_or_else(|| Error::option(name, "needs a value"));
        match arg.as_str() {
            "--model" => model = Some(PathBuf::from(value("--model")?)),
            "--texts" => a.texts = Some(value("--texts")?),
            "--fit-llmfao" => a.fit = true,
            "--data" => a.data = PathBuf::from(value("--data")?),
            "--embeddings" => a.cache = Some(PathBuf::from(value("--embeddings")?)),
            "--device" => a.device = value("--device")?,
            "--json" => a.json = true,
            other => return Err(Error::option("arguments", format!("unknown argument `{other}`"))),
        }
    }
    let usage = "usage: reward --model DIR (--texts FILE | --fit-llmfao [--data DIR] [--embeddings FILE]) \
                 [--device cpu|gpu|auto] [--json]";
    match (model, a.texts.is_some(), a.fit) {
        (Some(m), true, false) | (Some(m), false, true) => a.model = m,
        _ => return Err(Error::option("arguments", usage)),
    }
    if !["cpu", "gpu", "auto"].contains(&a.device.as_str()) {
        return Err(Error::option("--device", format!("`{}` is not cpu, gpu or auto", a.device)));
    }
    Ok(a)
}

fn run() -> Result<String, Error> {
    let a = args()?;
    let encoder = load(&a.model)?;
    let device = Device::open(&a.device, &encoder)?;
    if a.fit {
        return fit_llmfao(&a, &encoder, &device);
    }
    let file = a.texts.as_deref().unwrap_or_default();
    let text =
        std::fs::read_to_string(file).map_err(|e| Error::option("--texts", format!("cannot read `{file}`: {e}")))?;
    let lines: Vec<&str> = text.lines().collect();
    let (embeddings, ran) = device.embed(&encoder, &lines)?;
    let rows: Vec<serde_json::Value> = lines
        .iter()
        .zip(&embeddings)
        .map(|(t, e)| {
            let norm = e.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
            serde_json::json!({"text": t, "head": e.iter().take(8).map(|x| f64::from(*x)).collect::<Vec<_>>(), "norm": norm})
        })
        .collect();
    if a.json {
        return Ok(serde_json::json!({"device": ran, "dimension": encoder.dimension(), "texts": rows}).to_string());
    }
    let mut out = format!("device: {ran}, dimension {}\n", encoder.dimension());
    for r in &rows {
        let head: Vec<String> =
            r["head"].as_array().into_iter().flatten().map(|x| format!("{:+.4}", x.as_f64().unwrap_or(0.0))).collect();
        out.push_str(&format!(
            "{} | norm {:.6} | {}\n",
            head.join(" "),
            r["norm"].as_f64().unwrap_or(0.0),
            r["text"].as_str().unwrap_or("")
        ));
    }
    Ok(out.trim_end().to_owned())
}

fn load(dir: &Path) -> Result<Encoder, Error> {
    let read = |name: &str| {
        std::fs::read(dir.join(name)).map_err(|e| Error::Model(format!("cannot read {name} in {}: {e}", dir.display())))
    };
    let sentence_config = read("sentence_bert_config.json").ok();
    Encoder::from_bytes(
        &read("config.json")?,
        &read("model.safetensors")?,
        &read("tokenizer.json")?,
        sentence_config.as_deref(),
    )
}

/// The path the encoder runs on.
enum Device {
    Cpu(String),
    #[cfg(feature = "gpu")]
    Gpu(Box<(arbiter::gpu::Gpu, arbiter::gpu::encoder::GpuEncoder)>),
}

impl Device {
    #[cfg_attr(not(feature = "gpu"), allow(clippy::unnecessary_wraps, unused_variables))]
    fn open(choice: &str, encoder: &Encoder) -> Result<Self, Error> {
        if choice == "cpu" {
            return Ok(Device::Cpu("cpu".into()));
        }
        #[cfg(feature = "gpu")]
        {
            match pollster::block_on(arbiter::gpu::Gpu::new()) {
                Ok(gpu) if choice == "gpu" || !gpu.is_software() => {
                    let on = arbiter::gpu::encoder::GpuEncoder::new(&gpu, encoder)?;
                    Ok(Device::Gpu(Box::new((gpu, on))))
                }
                Ok(gpu) => Ok(Device::Cpu(format!("cpu ({} is a software adapter)", gpu.adapter()))),
                Err(e) if choice == "gpu" => Err(e),
                Err(e) => Ok(Device::Cpu(format!("cpu ({e})"))),
            }
        }
        #[cfg(not(feature = "gpu"))]
        match choice {
            "gpu" => Err(Error::Gpu("built without the `gpu` feature".into())),
            _ => Ok(Device::Cpu("cpu (built without the `gpu` feature)".into())),
        }
    }

    fn embed(&self, encoder: &Encoder, texts: &[&str]) -> Result<(Vec<Vec<f32>>, String), Error> {
        match self {
            Device::Cpu(why) => Ok((encoder.embed(texts)?, why.clone())),
            #[cfg(feature = "gpu")]
            Device::Gpu(both) => {
                let (gpu, on) = &**both;
                Ok((pollster::block_on(on.embed(gpu, encoder, texts))?, format!("gpu: {}", gpu.adapter())))
            }
        }
    }
}

/// LLMFAO's responses and crowd votes, joined.
struct Llmfao {
    /// Response texts, in results.jsonl order.
    texts: Vec<String>,
    /// Per crowd vote: prompt, row of model_x's response, row of model_y's, score of x, GPT-4's score of x.
    votes: Vec<(u64, usize, usize, f64, Option<f64>)>,
}

fn score(winner: &str) -> Option<f64> {
    match winner {
        "left" => Some(1.0),
        "right" => Some(0.0),
        "tie" => Some(0.5),
        _ => None,
    }
}

/// One line of results.jsonl.
#[derive(serde::Deserialize)]
struct Response {
    prompt: u64,
    model: u64,
    result: String,
}

fn read_llmfao(dir: &Path) -> Result<Llmfao, Error> {
    let read = |name: &str| {
        std::fs::read_to_string(dir.join(name))
            .map_err(|e| Error::option("--data", format!("cannot read {}: {e}", dir.join(name).display())))
    };
    let bad = |file: &str, row: usize, why: String| Error::option("--data", format!("{file} row {row}: {why}"));
    let mut rows = HashMap::new();
    let mut texts = Vec::new();
    for (i, line) in read("results.jsonl")?.lines().enumerate() {
        let r: Response = serde_json::from_str(line).map_err(|e| bad("results.jsonl", i + 1, e.to_string()))?;
        rows.insert((r.prompt, r.model), texts.len());
        texts.push(r.result);
    }
    let table = |name: &str| -> Result<Vec<HashMap<String, String>>, Error> {
        csv::Reader::from_reader(read(name)?.as_bytes())
            .deserialize()
            .enumerate()
            .map(|(i, r)| r.map_err(|e| bad(name, i + 1, e.to_string())))
            .collect()
    };
    let field = |r: &HashMap<String, String>, name: &str, k: &str| -> Result<String, Error> {
        r.get(k).cloned().ok_or_else(|| bad(name, 0, format!("no column `{k}`")))
    };
    let mut gpt4 = HashMap::new();
    for r in table("gpt4-crowd-comparisons.csv")? {
        gpt4.insert(field(&r, "gpt4", "id")?, score(&field(&r, "gpt4", "winner")?));
    }
    let mut votes = Vec::new();
    for (i, r) in table("crowd-comparisons.csv")?.iter().enumerate() {
        let number = |k: &str| -> Result<u64, Error> {
            field(r, "crowd", k)?
                .parse()
                .map_err(|_| bad("crowd-comparisons.csv", i + 1, format!("`{k}` is not a number")))
        };
        let prompt = number("prompt")?;
        let row = |k: &str| -> Result<usize, Error> {
            let model = number(k)?;
            rows.get(&(prompt, model)).copied().ok_or_else(|| {
                bad("crowd-comparisons.csv", i + 1, format!("no response of model {model} to prompt {prompt}"))
            })
        };
        let y = score(&field(r, "crowd", "winner")?)
            .ok_or_else(|| bad("crowd-comparisons.csv", i + 1, "winner is not left, right or tie".into()))?;
        let judge = gpt4.get(&field(r, "crowd", "id")?).copied().flatten();
        votes.push((prompt, row("model_x")?, row("model_y")?, y, judge));
    }
    Ok(Llmfao { texts, votes })
}

/// Embeddings of `texts`, from the cache file when it holds exactly `texts × dimension` values.
fn cached_embeddings(
    cache: Option<&Path>,
    device: &Device,
    encoder: &Encoder,
    texts: &[String],
) -> Result<(Vec<f32>, String), Error> {
    let size = texts.len() * encoder.dimension();
    if let Some(bytes) = cache.and_then(|p| std::fs::read(p).ok()).filter(|b| b.len() == size * 4) {
        let flat = bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        return Ok((flat, "cache".into()));
    }
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let (rows, ran) = device.embed(encoder, &refs)?;
    let flat: Vec<f32> = rows.concat();
    if let Some(path) = cache {
        let bytes: Vec<u8> = flat.iter().flat_map(|x| x.to_le_bytes()).collect();
        std::fs::write(path, bytes)
            .map_err(|e| Error::option("--embeddings", format!("cannot write {}: {e}", path.display())))?;
    }
    Ok((flat, ran))
}

/// Agreement with the decisive votes: 1 for the winner, ½ for a predicted tie.
fn accuracy(
    votes: &[&(u64, usize, usize, f64, Option<f64>)],
    predict: impl Fn(usize, usize, Option<f64>) -> f64,
) -> f64 {
    let hits: f64 = votes.iter().map(|&&(_, x, y, s, j)| 1.0 - (predict(x, y, j) - s).abs()).sum();
    hits / votes.len().max(1) as f64
}

fn fit_llmfao(a: &Args, encoder: &Encoder, device: &Device) -> Result<String, Error> {
    let data = read_llmfao(&a.data)?;
    let (flat, ran) = cached_embeddings(a.cache.as_deref(), device, encoder, &data.texts)?;
    let e = Embeddings::new(&flat, encoder.dimension())?;
    let mut prompts: Vec<u64> = data.votes.iter().map(|v| v.0).collect();
    prompts.sort_unstable();
    prompts.dedup();
    let part = |p: u64| match prompts.iter().position(|&q| q == p).unwrap_or(0) {
        i if i % 4 == 0 => 2,
        3 | 9 | 15 => 1,
        _ => 0,
    };
    let votes_of = |k: usize| -> Vec<Vote> {
        data.votes.iter().filter(|v| part(v.0) == k).map(|&(_, x, y, s, _)| Vote::new(x, y, s)).collect()
    };
    let (train, validation) = (votes_of(0), votes_of(1));
    let (head, report) = fit_pairwise(&e, &train, &validation, &FitOptions::default())?;
    let scores = head.scores(&e, &Context::default())?;
    let test: Vec<_> = data.votes.iter().filter(|v| part(v.0) == 2 && v.3 != 0.5).collect();
    let side = |a: f64, b: f64| {
        if a > b {
            1.0
        } else if a < b {
            0.0
        } else {
            0.5
        }
    };
    let heldout = accuracy(&test, |x, y, _| side(scores[x], scores[y]));
    let longer =
        accuracy(&test, |x, y, _| side(data.texts[x].chars().count() as f64, data.texts[y].chars().count() as f64));
    let gpt4 = accuracy(&test, |_, _, j| j.unwrap_or(0.5));
    let held_out: Vec<u64> = prompts.iter().copied().filter(|&p| part(p) == 2).collect();
    let out = serde_json::json!({
        "heldout_accuracy": heldout,
        "baseline_longer_accuracy": longer,
        "gpt4_judge_accuracy": gpt4,
        "n_train": train.len(),
        "n_validation": validation.len(),
        "n_test": test.len(),
        "test_prompts": held_out,
        "iterations": report.iterations,
        "best_iteration": report.best_iteration,
        "embeddings": ran,
    });
    if a.json {
        return Ok(out.to_string());
    }
    Ok(format!(
        "LLMFAO, {} responses embedded ({ran}); train {} votes, validation {}, test {} decisive votes on prompts \
         {held_out:?}\nheld-out accuracy: reward head {heldout:.4}, always-longer {longer:.4}, GPT-4 judge {gpt4:.4}",
        data.texts.len(),
        train.len(),
        validation.len(),
        test.len()
    ))
}
