//! SmolLM2-135M-Instruct (Q4_1 GGUF, installed by scripts/setup.sh): the chat template and tokenizer give the
//! reference prompt ids, and greedy decoding answers as the reference does.

mod common;

use arbiter::nn::bpe::Message;
use arbiter::nn::llama::{Llama, Logits};
use pollster::block_on;

fn smollm2() -> Llama {
    let path = common::model_dir("smollm2-135m").join("SmolLM2-135M-Instruct.Q4_1.gguf");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e} (run scripts/setup.sh)", path.display()));
    Llama::from_gguf(bytes).expect("SmolLM2 loads")
}

#[test]
fn chat_prompt_ids_of_the_reference() {
    let model = smollm2();
    assert_eq!(
        france(&model),
        [
            1, 9690, 198, 2683, 359, 253, 5356, 5646, 11173, 3365, 3511, 308, 34519, 28, 7018, 411, 407, 19712, 8182,
            2, 198, 1, 4093, 198, 1780, 314, 260, 3575, 282, 4649, 47, 2, 198, 1, 520, 9531, 198
        ]
    );
}

fn france(model: &Llama) -> Vec<u32> {
    chat(model, "What is the capital of France?")
}

fn chat(model: &Llama, text: &str) -> Vec<u32> {
    let chat = model.tokenizer.chat(&[Message { role: "user".into(), content: text.into() }], true).unwrap();
    model.tokenizer.encode(&chat, true).unwrap()
}

#[test]
fn generator_streams_greedy_text_stops_and_scores() {
    use arbiter::nn::generate::{logprobs, Finish, GenerateOptions, Generator};
    let model = smollm2();
    let prompt = chat(&model, "Name three colors.");
    let run = |options: GenerateOptions| {
        let mut g = block_on(Generator::new(&model, &prompt, options)).unwrap();
        let mut streamed = String::new();
        while let Some(step) = block_on(g.next(&model)).unwrap() {
            streamed.push_str(&step.text);
        }
        assert_eq!(g.text, streamed);
        g
    };
    let g = run(GenerateOptions { max_tokens: 32, ..GenerateOptions::default() });
    assert_eq!((g.text.as_str(), g.finish), ("1. Red\n2. Blue\n3. Green", Some(Finish::Eos)));
    assert_eq!(g.tokens.last(), Some(&2), "ends with <|im_end|>");
    let answer = g.tokens.clone();
    // A stop string ends generation before it, and nothing of it is streamed.
    let g = run(GenerateOptions { stop: vec!["Blue".into()], ..GenerateOptions::default() });
    assert_eq!((g.text.as_str(), g.finish), ("1. Red\n2. ", Some(Finish::Stop)));
    // max_tokens.
    let g = run(GenerateOptions { max_tokens: 3, ..GenerateOptions::default() });
    assert_eq!((g.text.as_str(), g.finish), ("1. Red", Some(Finish::Length)));
    // Sampling is reproducible by seed.
    let sampled =
        |seed| run(GenerateOptions { temperature: 0.8, seed, max_tokens: 12, ..GenerateOptions::default() }).tokens;
    assert_eq!(sampled(7), sampled(7));
    // Teacher-forced log-probabilities: the greedy answer beats the same answer with one colour changed.
    let lp = block_on(logprobs(&model, &prompt, &answer)).unwrap();
    assert_eq!(lp.len(), answer.len());
    assert!(lp.iter().all(|x| x.is_finite() && *x <= 0.0), "{lp:?}");
    let mut other = answer.clone();
    other[3] = model.tokenizer.encode(" Purple", false).unwrap()[0];
    let worse = block_on(logprobs(&model, &prompt, &other)).unwrap();
    assert!(worse.iter().sum::<f32>() < lp.iter().sum::<f32>() - 1.0, "the model's own answer is more likely");
    assert!(block_on(Generator::new(&model, &[], GenerateOptions::default())).is_err());
    let bad = GenerateOptions { top_p: 0.0, ..GenerateOptions::default() };
    assert!(block_on(Generator::new(&model, &prompt, bad)).is_err());
}

/// llama.cpp's own outputs on this GGUF (scripts/golden/make_llama_goldens.mjs, @fugood/llama.node 1.7.15).
fn llamacpp() -> serde_json::Value {
    serde_json::from_str(&common::read(&std::path::PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/golden/smollm2-llamacpp.json"
    ))))
    .unwrap()
}

fn ids(v: &serde_json::Value) -> Vec<u32> {
    v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u32).collect()
}

#[test]
fn tokens_and_chat_prompts_equal_llama_cpp() {
    let model = smollm2();
    let golden = llamacpp();
    let t = &golden["tokenize"];
    let mut n = 0;
    for group in ["llmfao_prompts", "llmfao_responses", "hand"] {
        for case in t[group].as_array().unwrap() {
            let text = case["text"].as_str().unwrap();
            assert_eq!(model.tokenizer.encode(text, true).unwrap(), ids(&case["ids"]), "{group}: {text:?}");
            assert_eq!(model.tokenizer.decode(&ids(&case["ids"])), text, "{group}: decoding {text:?}");
            n += 1;
        }
    }
    assert!(n >= 60, "{n} texts");
    for c in golden["chat"]["conversations"].as_array().unwrap() {
        let messages: Vec<Message> = serde_json::from_value(c["messages"].clone()).unwrap();
        let prompt = model.tokenizer.chat(&messages, true).unwrap();
        assert_eq!(prompt, c["prompt"].as_str().unwrap());
        assert_eq!(model.tokenizer.encode(&prompt, true).unwrap(), ids(&c["ids"]));
    }
}

/// Parity with llama.cpp: first-step logits and greedy continuations on the goldens' 10 chat prompts. The goldens
/// come from llama.cpp's portable x86-64 build (SSE2, no AVX/FMA/F16C), whose rounding `nn::ggml` and `nn::quant`
/// reproduce, so the top-20 first-step logits (relative to the top one) agree to the goldens' own f32 rounding and
/// every greedy continuation is identical for all 48 tokens (or up to the same end-of-turn token). Two tests of five
/// prompts each, so that the test harness runs the halves on two cores (the whole takes ~160 s on one).
fn greedy_continuations_and_first_logits_follow_llama_cpp(prompts: std::ops::Range<usize>) {
    use arbiter::nn::generate::{GenerateOptions, Generator};
    let model = smollm2();
    let golden = llamacpp();
    let chats = golden["chat"]["conversations"].as_array().unwrap();
    assert_eq!(chats.len(), 10);
    let (mut worst, mut same) = (0.0f32, Vec::new());
    for ((chat, run), first) in chats
        .iter()
        .zip(golden["greedy"]["runs"].as_array().unwrap())
        .zip(golden["first_step"]["runs"].as_array().unwrap())
        .skip(prompts.start)
        .take(prompts.len())
    {
        let prompt = ids(&chat["ids"]);
        let mut cache = model.cache();
        let logits = model.forward(&mut cache, &prompt, Logits::Last).unwrap();
        let top = first["top"].as_array().unwrap();
        let l0 = logits[top[0]["id"].as_u64().unwrap() as usize];
        for c in top {
            let ours = logits[c["id"].as_u64().unwrap() as usize] - l0;
            worst = worst.max((ours - c["logit_minus_top"].as_f64().unwrap() as f32).abs());
        }
        let want = ids(&run["ids"]);
        let eos = run["stopped_eos"].as_bool().unwrap();
        let options = GenerateOptions { max_tokens: want.len() + usize::from(eos), ..GenerateOptions::default() };
        let mut g = block_on(Generator::new(&model, &prompt, options)).unwrap();
        while block_on(g.next(&model)).unwrap().is_some() {}
        assert_eq!(g.finish == Some(arbiter::nn::generate::Finish::Eos), eos, "ends where llama.cpp ends");
        let got: Vec<u32> = g.tokens.iter().copied().filter(|t| !model.tokenizer.end.contains(t)).collect();
        same.push((got.iter().zip(&want).take_while(|(a, b)| a == b).count(), want.len()));
    }
    eprintln!("first-step |Δ logit − top| ≤ {worst}; identical greedy prefix (of llama.cpp's length): {same:?}");
    assert!(worst <= 1e-5, "first-step logits differ by {worst}");
    assert!(same.iter().all(|(n, len)| n == len), "greedy continuations differ from llama.cpp's: {same:?}");
}

#[test]
fn greedy_continuations_and_first_logits_follow_llama_cpp_on_prompts_0_to_4() {
    greedy_continuations_and_first_logits_follow_llama_cpp(0..5);
}

#[test]
fn greedy_continuations_and_first_logits_follow_llama_cpp_on_prompts_5_to_9() {
    greedy_continuations_and_first_logits_follow_llama_cpp(5..10);
}
