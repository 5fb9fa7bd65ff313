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
//! log-probability of RESPONSE as the assistant's answer, `{"logprob", "tokens", "device"}`. `--device` picks the
//! path: `gpu` requires a GPU adapter (the WGSL forward, `gpu::llama`), `cpu` never uses one, `auto` (the default)
//! uses a hardware GPU and otherwise the CPU (a software adapter such as lavapipe is slower than the CPU path);
//! `"device"` says which ran (`gpu: <adapter>`, `cpu` or `cpu (<why>)`).
//!
//! Bad input: exit code 2 and one line on stderr, `error[CODE] message`.

use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

use arbiter::nn::bpe::Message;
use arbiter::nn::generate::{logprobs, Forward, GenerateOptions, Generator};
use arbiter::nn::llama::Llama;
use arbiter::Error;
use pollster::block_on;

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
    if !["cpu", "gpu", "auto"].contains(&device.as_str()) {
        return Err(Error::option("--device", format!("`{device}` is not cpu, gpu or auto")));
    }
    let bytes = std::fs::read(&file).map_err(|e| Error::Model(format!("cannot read {file}: {e}")))?;
    let model = Llama::from_gguf(bytes)?;
    let chat = model.tokenizer.chat(&[Message { role: "user".into(), content: prompt }], true)?;
    let ids = model.tokenizer.encode(&chat, true)?;
    let task = Task { ids, score, options: o, json };
    match Device::open(&device, &model)? {
        Device::Cpu(why) => block_on(task.run(&model, &why)),
        #[cfg(feature = "gpu")]
        Device::Gpu(both) => {
            let (gpu, on) = &*both;
            let device = format!("gpu: {}", gpu.adapter());
            block_on(task.run(&arbiter::gpu::llama::OnDevice { gpu, model: on, llama: &model }, &device))
        }
    }
}

/// The path the model runs on.
enum Device {
    Cpu(String),
    #[cfg(feature = "gpu")]
    Gpu(Box<(arbiter::gpu::Gpu, arbiter::gpu::llama::GpuLlama)>),
}

impl Device {
    /// `cpu`; `gpu` (an adapter is required); `auto`: a hardware adapter, else the CPU (a software adapter such as
    /// lavapipe is slower than the CPU path).
    #[cfg_attr(not(feature = "gpu"), allow(clippy::unnecessary_wraps, unused_variables))]
    fn open(choice: &str, model: &Llama) -> Result<Self, Error> {
        if choice == "cpu" {
            return Ok(Device::Cpu("cpu".into()));
        }
        #[cfg(feature = "gpu")]
        {
            match block_on(arbiter::gpu::Gpu::new()) {
                Ok(gpu) if choice == "gpu" || !gpu.is_software() => {
                    let on = arbiter::gpu::llama::GpuLlama::new(&gpu, model)?;
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
}

/// What to do with the prompt's ids: score a response, or generate.
struct Task {
    ids: Vec<u32>,
    score: Option<String>,
    options: GenerateOptions,
    json: bool,
}

impl Task {
    /// Runs on `model` (the CPU's or the GPU's forward: the same code), `device` naming it in the output.
    async fn run<M: Forward>(self, model: &M, device: &str) -> Result<String, Error> {
        let (ids, json) = (&self.ids, self.json);
        if let Some(response) = &self.score {
            let answer = model.llama().tokenizer.encode(response, false)?;
            let lp = logprobs(model, ids, &answer).await?;
            let total: f64 = lp.iter().map(|x| f64::from(*x)).sum();
            let out = serde_json::json!({"logprob": total, "tokens": answer.len(), "device": device});
            return Ok(if json {
                out.to_string()
            } else {
                format!("log p(response | prompt) = {total:.4} over {} tokens ({device})", answer.len())
            });
        }
        let start = Instant::now();
        let mut g = Generator::new(model, ids, self.options).await?;
        let prefill = start.elapsed().as_secs_f64();
        let start = Instant::now();
        while let Some(step) = g.next(model).await? {
            if !json {
                print!("{}", step.text);
                std::io::stdout().flush().ok();
            }
        }
        let decode = start.elapsed().as_secs_f64();
        let per_s = |n: usize, s: f64| if s > 0.0 { n as f64 / s } else { 0.0 };
        let out = serde_json::json!({
            "text": g.text,
            "tokens": g.tokens.len(),
            "prefill_tokens_per_s": per_s(ids.len(), prefill),
            "decode_tokens_per_s": per_s(g.tokens.len(), decode),
            "device": device,
            "finish": g.finish,
        });
        if json {
            return Ok(out.to_string());
        }
        Ok(format!(
            "\n[{} tokens, {:?}; prefill {:.1} tokens/s ({} tokens), decode {:.1} tokens/s, {device}]",
            g.tokens.len(),
            g.finish,
            out["prefill_tokens_per_s"].as_f64().unwrap_or(0.0),
            ids.len(),
            out["decode_tokens_per_s"].as_f64().unwrap_or(0.0)
        ))
    }
}
