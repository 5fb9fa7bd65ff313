//! Local sentence embeddings with a real encoder (the first part of local reward scoring).
//!
//! cargo run --release --example reward -- --model DIR --texts FILE [--device cpu|gpu|auto] [--json]
//!
//! DIR holds a sentence-transformers model (config.json, model.safetensors, tokenizer.json, optionally
//! sentence_bert_config.json; scripts/setup.sh installs all-MiniLM-L6-v2 in ~/.cache/arbiter/models). FILE has one
//! text per line. Prints, per text, the embedding's first 8 dimensions and its norm. The encoder runs on the CPU
//! (`--device gpu` is refused until the WGSL encoder exists; `auto` and `cpu` use the CPU); `"device"` says so.
//!
//! Bad input: exit code 2 and one line on stderr, `error[CODE] message`.

use std::path::PathBuf;
use std::process::ExitCode;

use arbiter::nn::Encoder;
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

fn run() -> Result<String, Error> {
    let (mut model, mut texts, mut json, mut device) = (None, None, false, "auto".to_owned());
    let mut argv = std::env::args().skip(1);
    while let Some(arg) = argv.next() {
        let mut value = |name: &'static str| argv.next().ok_or_else(|| Error::option(name, "needs a value"));
        match arg.as_str() {
            "--model" => model = Some(PathBuf::from(value("--model")?)),
            "--texts" => texts = Some(value("--texts")?),
            "--device" => device = value("--device")?,
            "--json" => json = true,
            other => return Err(Error::option("arguments", format!("unknown argument `{other}`"))),
        }
    }
    let usage = "usage: reward --model DIR --texts FILE [--device cpu|gpu|auto] [--json]";
    let (Some(dir), Some(file)) = (model, texts) else { return Err(Error::option("arguments", usage)) };
    match device.as_str() {
        "cpu" | "auto" => {}
        "gpu" => return Err(Error::Gpu("the encoder has no GPU path yet; use --device cpu".into())),
        other => return Err(Error::option("--device", format!("`{other}` is not cpu, gpu or auto"))),
    }
    let read = |name: &str| {
        std::fs::read(dir.join(name)).map_err(|e| Error::Model(format!("cannot read {name} in {}: {e}", dir.display())))
    };
    let sentence_config = read("sentence_bert_config.json").ok();
    let encoder = Encoder::from_bytes(
        &read("config.json")?,
        &read("model.safetensors")?,
        &read("tokenizer.json")?,
        sentence_config.as_deref(),
    )?;
    let text =
        std::fs::read_to_string(&file).map_err(|e| Error::option("--texts", format!("cannot read `{file}`: {e}")))?;
    let lines: Vec<&str> = text.lines().collect();
    let embeddings = encoder.embed(&lines)?;
    let rows: Vec<serde_json::Value> = lines
        .iter()
        .zip(&embeddings)
        .map(|(t, e)| {
            let norm = e.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
            serde_json::json!({"text": t, "head": e.iter().take(8).map(|x| f64::from(*x)).collect::<Vec<_>>(), "norm": norm})
        })
        .collect();
    if json {
        return Ok(serde_json::json!({"device": "cpu", "dimension": encoder.dimension(), "texts": rows}).to_string());
    }
    let mut out = format!("device: cpu, dimension {}\n", encoder.dimension());
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
