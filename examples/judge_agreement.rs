//! How well an LLM judge agrees with human votes on the same items (CapArena's protocol).
//!
//! cargo run --release --example judge_agreement -- HUMAN_FILE JUDGE_FILE [--columns A,B,WINNER] [--json]
//!
//! Both files are battle files (LMArena JSON/JSONL or CSV) whose records carry an item `id`; a CSV in LLMFAO's
//! layout (`left`, `right`, `winner`) is read without `--columns`. Each judge verdict is compared with every human
//! vote on its item, sides aligned. Prints `{"items", "votes", "agreement_with_ties", "agreement_without_ties",
//! "decisive_votes", "spearman", "kendall", "models"}`: caption-level agreement with ties as a third label and
//! without tied votes, and the rank correlations of the two Bradley-Terry leaderboards.
//!
//! Bad input: exit code 2 and one line on stderr, `error[CODE] message`.

use std::process::ExitCode;

use arbiter::{Battles, Error, ParseOptions, RankOptions};

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
    let mut files = Vec::new();
    let mut json = false;
    let mut columns: Option<[String; 3]> = None;
    let mut argv = std::env::args().skip(1);
    while let Some(arg) = argv.next() {
        match arg.as_str() {
            "--json" => json = true,
            "--columns" => {
                let v = argv.next().ok_or_else(|| Error::option("--columns", "needs a value"))?;
                let parts: Vec<&str> = v.split(',').collect();
                let [a, b, w] = parts[..] else { return Err(Error::option("--columns", "expects A,B,WINNER")) };
                columns = Some([a.to_owned(), b.to_owned(), w.to_owned()]);
            }
            f if f.starts_with("--") => return Err(Error::option("arguments", format!("unknown flag `{f}`"))),
            _ => files.push(arg),
        }
    }
    let [human, judge] = &files[..] else {
        return Err(Error::option(
            "FILE",
            "usage: judge_agreement HUMAN_FILE JUDGE_FILE [--columns A,B,WINNER] [--json]",
        ));
    };
    let human = read(human, columns.as_ref())?;
    let judge = read(judge, columns.as_ref())?;
    let a = arbiter::judge::agreement(&human, &judge, &RankOptions::default())?;
    if json {
        let value = serde_json::json!({
            "items": a.items,
            "votes": a.votes,
            "agreement_with_ties": a.agreement_with_ties,
            "agreement_without_ties": a.agreement_without_ties,
            "decisive_votes": a.decisive_votes,
            "spearman": a.spearman,
            "kendall": a.kendall,
            "models": a.models,
        });
        return Ok(value.to_string());
    }
    Ok(format!(
        "items {}  votes compared {}\nagreement with ties     {:.4}\nagreement without ties  {:.4}  ({} decisive pairs)\n\
         model level ({} models): Spearman {:.4}  Kendall {:.4}",
        a.items, a.votes, a.agreement_with_ties, a.agreement_without_ties, a.decisive_votes, a.models, a.spearman,
        a.kendall
    ))
}

/// Reads a battle file; a CSV whose header has `left` and `right` but no `model_a` is read as LLMFAO.
fn read(path: &str, columns: Option<&[String; 3]>) -> Result<Battles, Error> {
    let text =
        std::fs::read_to_string(path).map_err(|e| Error::option("FILE", format!("cannot read `{path}`: {e}")))?;
    let mut options = ParseOptions::default();
    if let Some([a, b, w]) = columns {
        (options.columns.model_a, options.columns.model_b, options.columns.winner) = (a.clone(), b.clone(), w.clone());
    } else {
        let header: Vec<&str> = text.lines().next().unwrap_or("").split(',').map(str::trim).collect();
        if !header.contains(&"model_a") && header.contains(&"left") && header.contains(&"right") {
            options.columns.model_a = "left".into();
            options.columns.model_b = "right".into();
        }
    }
    Battles::parse(&text, &options)
}
