//! A leaderboard from a battles file.
//!
//! cargo run --release --example leaderboard -- FILE [--format auto|json|jsonl|csv|counts] [--columns A,B,WINNER]
//!     [--method bt|elo] [--ci none|sandwich|bootstrap] [--rounds N] [--seed S] [--level 0.95]
//!     [--anchor MODEL=VALUE | --baseline MODEL] [--both-bad tie|exclude] [--ridge L] [--k K] [--skip-invalid] [--json]
//!
//! Bad input: exit code 2 and one line on stderr, `error[CODE] message` (the message names the row and field).

use std::fmt::Write as _;
use std::process::ExitCode;

use arbiter::rank::rows::RowOptions;
use arbiter::{Battles, BothBad, Ci, Error, Identify, Method, ParseOptions, RankOptions};

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
    file: String,
    parse: ParseOptions,
    rank: RankOptions,
    json: bool,
}

fn run() -> Result<String, Error> {
    let args = parse_args(std::env::args().skip(1).collect())?;
    let text = std::fs::read_to_string(&args.file)
        .map_err(|e| Error::option("FILE", format!("cannot read `{}`: {e}", args.file)))?;
    let battles = Battles::parse(&text, &args.parse)?;
    let board = arbiter::rank(&battles, &args.rank)?;
    if args.json {
        let mut value = serde_json::to_value(&board).map_err(|e| Error::option("json", e.to_string()))?;
        value["skipped"] = serde_json::to_value(battles.skipped()).unwrap_or_default();
        return Ok(value.to_string());
    }
    Ok(table(&board, battles.skipped().len()))
}

fn table(board: &arbiter::Leaderboard, skipped: usize) -> String {
    let width = board.models.iter().map(|m| m.model.chars().count()).max().unwrap_or(5).max(5);
    let mut out = format!(
        "{:>4}  {:<width$}  {:>9}  {:>9}  {:>9}  {:>7}\n",
        "rank", "model", "rating", "lower", "upper", "battles"
    );
    for m in &board.models {
        let mark = if m.identified { "" } else { "  (not identified)" };
        let _ = writeln!(
            out,
            "{:>4}  {:<width$}  {:>9.2}  {:>9.2}  {:>9.2}  {:>7}{mark}",
            m.rank, m.model, m.rating, m.lower, m.upper, m.battles
        );
    }
    for w in &board.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    if skipped > 0 {
        let _ = writeln!(out, "skipped {skipped} invalid rows");
    }
    out.trim_end().to_owned()
}

fn parse_args(argv: Vec<String>) -> Result<Args, Error> {
    let mut it = argv.into_iter();
    let mut args =
        Args { file: String::new(), parse: ParseOptions::default(), rank: RankOptions::default(), json: false };
    let mut rows = RowOptions::default();
    while let Some(flag) = it.next() {
        let mut value = |name: &'static str| it.next().ok_or_else(|| Error::option(name, "needs a value"));
        match flag.as_str() {
            "--json" => args.json = true,
            "--skip-invalid" => args.parse.skip_invalid = true,
            "--format" => args.parse.format = value("--format")?.parse()?,
            "--columns" => {
                let v = value("--columns")?;
                let parts: Vec<&str> = v.split(',').collect();
                let [a, b, w] = parts[..] else {
                    return Err(Error::option("--columns", "expects A,B,WINNER"));
                };
                (args.parse.columns.model_a, args.parse.columns.model_b) = (a.to_owned(), b.to_owned());
                w.clone_into(&mut args.parse.columns.winner);
            }
            "--method" => {
                args.rank.method = match value("--method")?.as_str() {
                    "bt" => Method::Bt,
                    "elo" => Method::Elo,
                    other => return Err(Error::option("--method", format!("`{other}` is not bt or elo"))),
                }
            }
            "--ci" => {
                args.rank.ci = match value("--ci")?.as_str() {
                    "none" => Ci::None,
                    "sandwich" => Ci::Sandwich,
                    "bootstrap" => Ci::Bootstrap,
                    other => {
                        return Err(Error::option("--ci", format!("`{other}` is not none, sandwich or bootstrap")))
                    }
                }
            }
            "--rounds" => args.rank.rounds = number(&value("--rounds")?, "--rounds")?,
            "--seed" => args.rank.seed = number(&value("--seed")?, "--seed")?,
            "--level" => args.rank.level = number(&value("--level")?, "--level")?,
            "--ridge" => args.rank.ridge = number(&value("--ridge")?, "--ridge")?,
            "--k" => args.rank.k = number(&value("--k")?, "--k")?,
            "--anchor" => {
                let v = value("--anchor")?;
                let (model, val) =
                    v.rsplit_once('=').ok_or_else(|| Error::option("--anchor", "expects MODEL=VALUE"))?;
                args.rank.identify = Identify::Anchor { model: model.to_owned(), value: number(val, "--anchor")? };
            }
            "--baseline" => args.rank.identify = Identify::Baseline { model: value("--baseline")? },
            "--both-bad" => {
                rows.both_bad = match value("--both-bad")?.as_str() {
                    "tie" => BothBad::Tie,
                    "exclude" => BothBad::Exclude,
                    other => return Err(Error::option("--both-bad", format!("`{other}` is not tie or exclude"))),
                }
            }
            f if f.starts_with("--") => return Err(Error::option("arguments", format!("unknown flag `{f}`"))),
            f if args.file.is_empty() => f.clone_into(&mut args.file),
            f => return Err(Error::option("arguments", format!("unexpected argument `{f}`"))),
        }
    }
    if args.file.is_empty() {
        return Err(Error::option("FILE", "usage: leaderboard FILE [options] (see the source for the list)"));
    }
    args.rank.rows = rows;
    Ok(args)
}

fn number<T: std::str::FromStr>(v: &str, option: &'static str) -> Result<T, Error> {
    v.parse().map_err(|_| Error::option(option, format!("`{v}` is not a valid number")))
}
