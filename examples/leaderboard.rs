//! A leaderboard from a battles file.
//!
//! cargo run --release --example leaderboard -- FILE [--format auto|json|jsonl|csv|counts] [--columns A,B,WINNER]
//!     [--method bt|elo|davidson|rao-kupper|pl|weng-lin|nash|gpm|mixture|lcpo] [--groups K] [--ci none|sandwich|bootstrap] [--rounds N] [--seed S] [--level 0.95]
//!     [--anchor MODEL=VALUE | --baseline MODEL] [--both-bad tie|exclude] [--ridge L] [--k K] [--skip-invalid] [--json]
//!     [--style] [--style-convention fastchat|arena-rank] [--device cpu|gpu|auto]
//!
//! `--style` reads covariates from JSON/JSONL records (LMArena's style features from `response_a`/`response_b`,
//! `conversation_a`/`conversation_b` or `conv_metadata`; or given `features_a`/`features_b`, `features`) and fits a
//! style-controlled Bradley-Terry model (convention default fastchat); the table shows the ratings with and without
//! style control side by side, and the coefficients. `--device gpu` runs the heavy part (style-control fits, the
//! bootstrap's resampling) on a wgpu adapter and fails without one; `auto` (the default) uses one when present;
//! `cpu` never does. The JSON output names the path in `"device"`.
//!
//! The methods beyond Bradley-Terry (`arbiter::methods`) print their own board: models best first with `rating`
//! (Elo scale; Weng-Lin: μ − 3σ; Nash: win rate against the equilibrium) plus `probability` and `"exploitability"`
//! for `nash`, `mu`/`sigma` for `weng-lin`, `winRate` for `gpm`, and for `mixture` (`--groups K`, annotators from the
//! `judge` field: `--columns A,B,WINNER,JUDGE` maps it in a CSV) one leaderboard per group under `"groups"`.
//!
//! Bad input: exit code 2 and one line on stderr, `error[CODE] message` (the message names the row and field).

use std::fmt::Write as _;
use std::process::ExitCode;

use arbiter::rank::rows::RowOptions;
use arbiter::{Battles, BothBad, Ci, Convention, Error, Identify, Leaderboard, Method, ParseOptions, RankOptions};

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

#[derive(Clone, Copy, PartialEq)]
enum Device {
    Cpu,
    Gpu,
    Auto,
}

struct Args {
    file: String,
    /// A method of `arbiter::methods`, with its options.
    method: Option<String>,
    method_options: serde_json::Map<String, serde_json::Value>,
    parse: ParseOptions,
    rank: RankOptions,
    json: bool,
    device: Device,
}

fn run() -> Result<String, Error> {
    let args = parse_args(std::env::args().skip(1).collect())?;
    let text = std::fs::read_to_string(&args.file)
        .map_err(|e| Error::option("FILE", format!("cannot read `{}`: {e}", args.file)))?;
    let battles = Battles::parse(&text, &args.parse)?;
    if let Some(method) = &args.method {
        let board = arbiter::methods::run(&battles, method, &serde_json::Value::Object(args.method_options))?;
        return Ok(if args.json {
            serde_json::to_value(&board).map_err(|e| Error::option("json", e.to_string()))?.to_string()
        } else {
            method_table(&board)
        });
    }
    if !args.method_options.is_empty() {
        return Err(Error::option("--groups", "applies to --method mixture only"));
    }
    let board = rank(&battles, &args.rank, args.device)?;
    if args.json {
        let mut value = serde_json::to_value(&board).map_err(|e| Error::option("json", e.to_string()))?;
        value["skipped"] = serde_json::to_value(battles.skipped()).unwrap_or_default();
        return Ok(value.to_string());
    }
    let plain = if args.rank.style.is_some() {
        Some(arbiter::rank(&battles, &RankOptions { style: None, ci: Ci::None, ..args.rank.clone() })?)
    } else {
        None
    };
    Ok(table(&board, plain.as_ref(), battles.skipped().len()))
}

/// Ranks on the requested device. `gpu` without an adapter is an error; `auto` falls back to the CPU.
fn rank(battles: &Battles, options: &RankOptions, device: Device) -> Result<Leaderboard, Error> {
    if device == Device::Cpu {
        return arbiter::rank(battles, options);
    }
    let gpu = match pollster::block_on(arbiter::gpu::Gpu::new()) {
        Ok(gpu) => Some(std::rc::Rc::new(gpu)),
        Err(e) if device == Device::Gpu => return Err(e),
        Err(_) => None,
    };
    let ranking = pollster::block_on(arbiter::gpu::rank::GpuRanking::new(gpu, battles, options))?;
    Ok(pollster::block_on(ranking.finish()))
}

fn table(board: &Leaderboard, plain: Option<&Leaderboard>, skipped: usize) -> String {
    let width = board.models.iter().map(|m| m.model.chars().count()).max().unwrap_or(5).max(5);
    let mut out = format!(
        "{:>4}  {:<width$}  {:>9}  {:>9}  {:>9}  {:>7}",
        "rank", "model", "rating", "lower", "upper", "battles"
    );
    if plain.is_some() {
        out.push_str("  no style  moved");
    }
    out.push('\n');
    for (position, m) in board.models.iter().enumerate() {
        let _ = write!(
            out,
            "{:>4}  {:<width$}  {:>9.2}  {:>9.2}  {:>9.2}  {:>7}",
            m.rank, m.model, m.rating, m.lower, m.upper, m.battles
        );
        if let Some(p) = plain.and_then(|p| p.models.iter().position(|o| o.model == m.model).map(|i| (i, &p.models[i])))
        {
            let _ = write!(out, "  {:>8.2}  {:>+5}", p.1.rating, p.0 as i64 - position as i64);
        }
        let mark = if m.identified { "" } else { "  (not identified)" };
        let _ = writeln!(out, "{mark}");
    }
    for c in &board.coefficients {
        let _ = writeln!(out, "coefficient {:<22} {:>9.4}  [{:.4}, {:.4}]", c.name, c.value, c.lower, c.upper);
    }
    let _ = writeln!(out, "device: {}", board.device);
    for w in &board.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    if skipped > 0 {
        let _ = writeln!(out, "skipped {skipped} invalid rows");
    }
    out.trim_end().to_owned()
}

/// The table of a method board: rank, model, rating, the method's own column, battles; then groups and facts.
fn method_table(board: &arbiter::methods::Board) -> String {
    let width = board.models.iter().map(|m| m.model.chars().count()).max().unwrap_or(5).max(5);
    let mut out = String::new();
    let rows = |out: &mut String, models: &[arbiter::methods::Row]| {
        let _ = writeln!(out, "{:>4}  {:<width$}  {:>9}  {:>11}  {:>7}", "rank", "model", "rating", "", "battles");
        for (i, m) in models.iter().enumerate() {
            let extra = match (m.probability, m.mu, m.win_rate) {
                (Some(p), ..) => format!("p={p:.4}"),
                (_, Some(mu), _) => format!("mu={mu:.3}"),
                (.., Some(w)) => format!("win={w:.4}"),
                _ => String::new(),
            };
            let mark = if m.identified { "" } else { "  (not identified)" };
            let _ = writeln!(
                out,
                "{:>4}  {:<width$}  {:>9.2}  {extra:>11}  {:>7}{mark}",
                i + 1,
                m.model,
                m.rating,
                m.battles
            );
        }
    };
    rows(&mut out, &board.models);
    for (g, group) in board.groups.iter().flatten().enumerate() {
        let _ = writeln!(out, "\ngroup {g}: weight {:.3}, {} annotators", group.weight, group.annotators.len());
        rows(&mut out, &group.models);
    }
    let facts = [
        ("tie", board.tie),
        ("exploitability", board.exploitability),
        ("exploitability of the BT #1", board.bt_top_exploitability),
        ("eta", board.eta),
        ("log-likelihood", board.log_likelihood),
    ];
    for (name, value) in facts {
        if let Some(v) = value {
            let _ = writeln!(out, "{name}: {v:.6}");
        }
    }
    for w in &board.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    out.trim_end().to_owned()
}

fn parse_args(argv: Vec<String>) -> Result<Args, Error> {
    let mut it = argv.into_iter();
    let mut args = Args {
        file: String::new(),
        method: None,
        method_options: serde_json::Map::new(),
        parse: ParseOptions::default(),
        rank: RankOptions::default(),
        json: false,
        device: Device::Auto,
    };
    let mut convention = Convention::FastChat;
    let mut rows = RowOptions::default();
    while let Some(flag) = it.next() {
        let mut value = |name: &'static str| it.next().ok_or_else(|| Error::option(name, "needs a value"));
        match flag.as_str() {
            "--json" => args.json = true,
            "--style" => args.parse.style = true,
            "--style-convention" => convention = value("--style-convention")?.parse()?,
            "--device" => {
                args.device = match value("--device")?.as_str() {
                    "cpu" => Device::Cpu,
                    "gpu" => Device::Gpu,
                    "auto" => Device::Auto,
                    other => return Err(Error::option("--device", format!("`{other}` is not cpu, gpu or auto"))),
                }
            }
            "--skip-invalid" => args.parse.skip_invalid = true,
            "--format" => args.parse.format = value("--format")?.parse()?,
            "--columns" => {
                let v = value("--columns")?;
                let parts: Vec<&str> = v.split(',').collect();
                let (&[a, b, w] | &[a, b, w, _]) = &parts[..] else {
                    return Err(Error::option("--columns", "expects A,B,WINNER[,JUDGE]"));
                };
                (args.parse.columns.model_a, args.parse.columns.model_b) = (a.to_owned(), b.to_owned());
                w.clone_into(&mut args.parse.columns.winner);
                if let Some(judge) = parts.get(3) {
                    (*judge).clone_into(&mut args.parse.columns.judge);
                }
            }
            "--method" => {
                args.rank.method = match value("--method")?.as_str() {
                    "bt" => Method::Bt,
                    "elo" => Method::Elo,
                    other if arbiter::methods::METHODS.contains(&other) => {
                        args.method = Some(other.to_owned());
                        Method::Bt
                    }
                    other => {
                        let known = arbiter::methods::METHODS.join(", ");
                        return Err(Error::option("--method", format!("`{other}` is not one of bt, elo, {known}")));
                    }
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
            "--groups" => {
                let k: u32 = number(&value("--groups")?, "--groups")?;
                args.method_options.insert("groups".into(), k.into());
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
    args.rank.style = args.parse.style.then_some(convention);
    Ok(args)
}

fn number<T: std::str::FromStr>(v: &str, option: &'static str) -> Result<T, Error> {
    v.parse().map_err(|_| Error::option(option, format!("`{v}` is not a valid number")))
}
