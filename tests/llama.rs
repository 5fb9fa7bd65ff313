//! SmolLM2-135M-Instruct (Q4_1 GGUF, installed by scripts/setup.sh): the chat template and tokenizer give the
//! reference prompt ids, and greedy decoding answers as the reference does.

mod common;

use arbiter::nn::bpe::Message;
use arbiter::nn::llama::{Llama, Logits};

fn smollm2() -> Llama {
    let path = common::model_dir("smollm2-135m").join("SmolLM2-135M-Instruct.Q4_1.gguf");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e} (run scripts/setup.sh)", path.display()));
    Llama::from_gguf(bytes).expect("SmolLM2 loads")
}

#[test]
fn greedy_answer_of_the_reference() {
    let model = smollm2();
    let chat = model
        .tokenizer
        .chat(&[Message { role: "user".into(), content: "What is the capital of France?".into() }], true)
        .unwrap();
    let prompt = model.tokenizer.encode(&chat, true).unwrap();
    assert_eq!(
        prompt,
        [
            1, 9690, 198, 2683, 359, 253, 5356, 5646, 11173, 3365, 3511, 308, 34519, 28, 7018, 411, 407, 19712, 8182,
            2, 198, 1, 4093, 198, 1780, 314, 260, 3575, 282, 4649, 47, 2, 198, 1, 520, 9531, 198
        ]
    );
    let mut cache = model.cache();
    let mut logits = model.forward(&mut cache, &prompt, Logits::Last).unwrap();
    let mut out = Vec::new();
    for _ in 0..8 {
        let best = logits.iter().enumerate().fold(0, |b, (i, v)| if *v > logits[b] { i } else { b }) as u32;
        out.push(best);
        if best == 2 {
            break;
        }
        logits = model.forward(&mut cache, &[best], Logits::Last).unwrap();
    }
    eprintln!("{out:?} {:?}", model.tokenizer.decode(&out));
    assert_eq!(out, [504, 3575, 282, 4649, 314, 7042, 30, 2]);
}

fn france(model: &Llama) -> Vec<u32> {
    let chat = model
        .tokenizer
        .chat(&[Message { role: "user".into(), content: "What is the capital of France?".into() }], true)
        .unwrap();
    model.tokenizer.encode(&chat, true).unwrap()
}

#[test]
fn generator_streams_greedy_text_stops_and_scores() {
    use arbiter::nn::generate::{logprobs, Finish, GenerateOptions, Generator};
    let model = smollm2();
    let prompt = france(&model);
    let mut g =
        Generator::new(&model, &prompt, GenerateOptions { max_tokens: 16, ..GenerateOptions::default() }).unwrap();
    let mut streamed = String::new();
    while let Some(step) = g.next(&model).unwrap() {
        streamed.push_str(&step.text);
    }
    assert_eq!(g.tokens, [504, 3575, 282, 4649, 314, 7042, 30, 2]);
    assert_eq!(g.finish, Some(Finish::Eos));
    assert_eq!(streamed, "The capital of France is Paris.");
    assert_eq!(g.text, streamed);
    // A stop string ends generation before it, and nothing of it is streamed.
    let options = GenerateOptions { stop: vec![" Paris".into()], ..GenerateOptions::default() };
    let mut g = Generator::new(&model, &prompt, options).unwrap();
    let mut streamed = String::new();
    while let Some(step) = g.next(&model).unwrap() {
        streamed.push_str(&step.text);
    }
    assert_eq!((streamed.as_str(), g.finish), ("The capital of France is", Some(Finish::Stop)));
    // max_tokens.
    let mut g =
        Generator::new(&model, &prompt, GenerateOptions { max_tokens: 3, ..GenerateOptions::default() }).unwrap();
    while g.next(&model).unwrap().is_some() {}
    assert_eq!((g.text.as_str(), g.finish), ("The capital of", Some(Finish::Length)));
    // Sampling is reproducible by seed.
    let sampled = |seed| {
        let options = GenerateOptions { temperature: 0.8, seed, max_tokens: 12, ..GenerateOptions::default() };
        let mut g = Generator::new(&model, &prompt, options).unwrap();
        while g.next(&model).unwrap().is_some() {}
        g.tokens
    };
    assert_eq!(sampled(7), sampled(7));
    // Teacher-forced log-probabilities: the greedy answer is the most likely token at every step.
    let answer = [504, 3575, 282, 4649, 314, 7042, 30, 2];
    let lp = logprobs(&model, &prompt, &answer).unwrap();
    assert_eq!(lp.len(), 8);
    assert!(lp.iter().all(|x| x.is_finite() && *x <= 0.0), "{lp:?}");
    let worse = logprobs(&model, &prompt, &[504, 3575, 282, 4649, 314, 11173, 30, 2]).unwrap();
    assert!(worse.iter().sum::<f32>() < lp.iter().sum::<f32>() - 1.0, "Paris beats another token");
    assert!(Generator::new(&model, &[], GenerateOptions::default()).is_err());
    assert!(Generator::new(&model, &prompt, GenerateOptions { top_p: 0.0, ..GenerateOptions::default() }).is_err());
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

/// First-step logits and greedy continuations against llama.cpp. NOT yet the parity (10 of 10 prompts
/// identical for 32 tokens): this f32 path agrees on 5 of 10, and its top-20 first-step logits (relative to the top
/// one) differ by up to 0.39. llama.cpp rounds activations to 8 bits before each quantised product and keeps an f16
/// KV cache, but emulating both did not close the gap (its final hidden state stays ~1% away), so a structural
/// difference remains to be found. This test holds the measured level so that it cannot silently get worse.
#[test]
fn greedy_continuations_and_first_logits_follow_llama_cpp() {
    use arbiter::nn::generate::{GenerateOptions, Generator};
    let model = smollm2();
    let golden = llamacpp();
    let chats = golden["chat"]["conversations"].as_array().unwrap();
    let (mut worst, mut same) = (0.0f32, Vec::new());
    for ((chat, run), first) in chats
        .iter()
        .zip(golden["greedy"]["runs"].as_array().unwrap())
        .zip(golden["first_step"]["runs"].as_array().unwrap())
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
        let options = GenerateOptions { max_tokens: want.len(), ..GenerateOptions::default() };
        let mut g = Generator::new(&model, &prompt, options).unwrap();
        while g.next(&model).unwrap().is_some() {}
        let got: Vec<u32> = g.tokens.iter().copied().filter(|t| !model.tokenizer.end.contains(t)).collect();
        same.push((got.iter().zip(&want).take_while(|(a, b)| a == b).count(), want.len()));
    }
    eprintln!("first-step |Δ logit − top| ≤ {worst}; identical greedy prefix (of llama.cpp's length): {same:?}");
    assert!(worst <= 0.45, "first-step logits differ by {worst}");
    let matching = same.iter().filter(|(n, len)| *n >= (*len).min(32)).count();
    assert!(matching >= 5, "{matching} of 10 prompts identical for 32 tokens: {same:?}");
}
