//! A small policy model in the library: SmolLM2-135M-Instruct (GGUF) answering a prompt, or scoring a response.
//!
//! cargo run --release --example generate -- --model FILE --prompt TEXT [--max-tokens N] [--seed S]
//!     [--temperature T] [--top-k K] [--top-p P] [--repetition-penalty R] [--stop TEXT]... [--device cpu|gpu|auto]
//!     [--json]
//! cargo run --release --example generate -- --model FILE --prompt TEXT --score RESPONSE [--json]
//!
//! FILE is a Llama-family GGUF (scripts/setup.sh installs SmolLM2-135M-Instruct Q4_1 in
//! ~/.cache/arbiter/models/smollm2-135m/). The prompt is sent as one user message through the model's chat template.
//! Prints `{"text", "tokens", "prefill_tokens_per_s", "decode_tokens_per_s", "device"}`; with `--score`, the
//! log-probability of RESPONSE as the assistant's answer, `{"logprob", "tokens"}`. The model runs on the CPU:
//! `--device gpu` is refused: the WGSL forward (`gpu::llama`) is not wired into generation yet (`auto` and `cpu` use
//! the CPU).
//!
//! Bad input: exit code 2 and one line on stderr, `error[CODE] message`.

use std::process::ExitCode;
use std::time::Instant;

use arbiter::nn::bpe::Message;
use arbiter::nn::generate::{logprobs, GenerateOptions, Generator};
use arbiter::nn::llama::Llama;
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

fn number<T: std::str::FromStr>(name: &'static str, v: &str) -> Result<T, Error> {
    v.parse().map_err(|_| Error::option(name, format!("`{v}` is not a valid number")))
}

fn run() -> Result<String, Error> {
    let (mut file, mut prompt, mut score, mut device, mut json) = (None, None, None, "auto".to_owned(), false);
    let mut o = GenerateOptions::default();
    let mut argv = std::env::args().skip(1);
    while let Some(arg) = argv.next() {
        let mut value = |name: &'static str| argv.next().ok_or_else(|| Error::option(name, "needs a value"));
        match arg.as_str() {
            "--model" => file = Some(value("--model")?),
            "--prompt" => prompt = Some(value("--prompt")?),
            "--score" => score = Some(value("--score")?),
            "--max-tokens" => o.max_tokens = number("--max-tokens", &value("--max-tokens")?)?,
            "--seed" => o.seed = number("--seed", &value("--seed")?)?,
            "--temperature" => o.temperature = number("--temperature", &value("--temperature")?)?,
            "--top-k" => o.top_k = number("--top-k", &value("--top-k")?)?,
            "--top-p" => o.top_p = number("--top-p", &value("--top-p")?)?,
            "--repetition-penalty" => {
                o.repetition_penalty = number("--repetition-penalty", &value("--repetition-penalty")?)?;
            }
            "--stop" => o.stop.push(value("--stop")?),
            "--device" => device = value("--device")?,
            "--json" => json = true,
            other => return Err(Error::option("arguments", format!("unknown argument `{other}`"))),
        }
    }
    let usage = "usage: generate --model FILE --prompt TEXT [--score RESPONSE] [--max-tokens N] [--seed S] \
                 [--temperature T] [--device cpu|gpu|auto] [--json]";
    let (Some(file), Some(prompt)) = (file, prompt) else { return Err(Error::option("arguments", usage)) };
    match device.as_str() {
        "cpu" | "auto" => {}
        "gpu" => return Err(Error::Gpu("the language model has no GPU path yet; use --device cpu".into())),
        other => return Err(Error::option("--device", format!("`{other}` is not cpu, gpu or auto"))),
    }
    let bytes = std::fs::read(&file).map_err(|e| Error::Model(format!("cannot read {file}: {e}")))?;
    let model = Llama::from_gguf(bytes)?;
    let chat = model.tokenizer.chat(&[Message { role: "user".into(), content: prompt }], true)?;
    let ids = model.tokenizer.encode(&chat, true)?;
    if let Some(response) = score {
        let answer = model.tokenizer.encode(&response, false)?;
        let lp = logprobs(&model, &ids, &answer)?;
        let total: f64 = lp.iter().map(|x| f64::from(*x)).sum();
        let out = serde_json::json!({"logprob": total, "tokens": answer.len()});
        return Ok(if json {
            out.to_string()
        } else {
            format!("log p(response | prompt) = {total:.4} over {} tokens", answer.len())
        });
    }
    let start = Instant::now();
    let mut g = Generator::new(&model, &ids, o)?;
    let prefill = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let mut streamed = String::new();
    while let Some(step) = g.next(&model)? {
        if !json {
            print!("{}", step.text);
        }
        streamed.push_str(&step.text);
    }
    let decode = start.elapsed().as_secs_f64();
    let per_s = |n: usize, s: f64| if s > 0.0 { n as f64 / s } else { 0.0 };
    let out = serde_json::json!({
        "text": g.text,
        "tokens": g.tokens.len(),
        "prefill_tokens_per_s": per_s(ids.len(), prefill),
        "decode_tokens_per_s": per_s(g.tokens.len(), decode),
        "device": "cpu",
        "finish": g.finish,
    });
    if json {
        return Ok(out.to_string());
    }
    Ok(format!(
        "\n[{} tokens, {:?}; prefill {:.1} tokens/s ({} tokens), decode {:.1} tokens/s, cpu]",
        g.tokens.len(),
        g.finish,
        out["prefill_tokens_per_s"].as_f64().unwrap_or(0.0),
        ids.len(),
        out["decode_tokens_per_s"].as_f64().unwrap_or(0.0)
    ))
}
