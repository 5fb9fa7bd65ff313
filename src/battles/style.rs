//! LMArena's style features (spec 1.5), counted from response texts exactly as FastChat's pipeline does:
//! - `sum_assistant_tokens`: tokens of the assistant messages under OpenAI's `cl100k_base` encoding (the one
//!   `tiktoken.encoding_for_model("gpt-3.5-turbo")` returns in FastChat's `clean_battle_data.py`), special tokens
//!   allowed;
//! - `header_count`, `list_count`, `bold_count`: the Markdown counts of `add_markdown_info.py`, on the assistant
//!   messages joined by newlines, with code blocks removed first.
//!
//! A battle's feature is then the ratio d = (a − b)/(a + b + 1) of the two sides' counts ([`ratio`]).

use std::sync::OnceLock;

use regex::Regex;

/// The names of the four style features, in LMArena's order.
pub const STYLE_FEATURES: [&str; 4] = ["sum_assistant_tokens", "header_count", "list_count", "bold_count"];

struct Patterns {
    code: Regex,
    ordered: Regex,
    unordered: Regex,
    bold_stars: Regex,
    bold_underscores: Regex,
}

fn patterns() -> &'static Patterns {
    static P: OnceLock<Patterns> = OnceLock::new();
    P.get_or_init(|| {
        let re = |s: &str| Regex::new(s).expect("a valid pattern");
        Patterns {
            code: re(r"```([^`]*)```"),
            ordered: re(r"(?m)^\s*\d+\.\s"),
            unordered: re(r"(?m)^\s*[-*+]\s"),
            bold_stars: re(r"\*\*[^*\n]+\*\*"),
            bold_underscores: re(r"__[^_\n]+__"),
        }
    })
}

/// Number of `cl100k_base` tokens in `text`, special tokens allowed (tiktoken's `allowed_special="all"`).
pub fn tokens(text: &str) -> usize {
    tiktoken_rs::cl100k_base_singleton().encode_with_special_tokens(text).len()
}

/// The four counts of one side, from its assistant messages.
pub fn counts<'a>(assistant: impl IntoIterator<Item = &'a str> + Clone) -> [f64; 4] {
    let tokens: usize = assistant.clone().into_iter().map(tokens).sum();
    let joined = assistant.into_iter().collect::<Vec<_>>().join("\n");
    let text = remove_code(&joined);
    let p = patterns();
    let headers = header_count(&text);
    let lists = p.ordered.find_iter(&text).count() + p.unordered.find_iter(&text).count();
    let bold = p.bold_stars.find_iter(&text).count() + p.bold_underscores.find_iter(&text).count();
    [tokens as f64, headers as f64, lists as f64, bold as f64]
}

/// FastChat's `remove_pattern`: every inner text of a ```…``` block is deleted everywhere it occurs, one block after
/// the other (the backticks stay).
fn remove_code(text: &str) -> String {
    let blocks: Vec<String> =
        patterns().code.captures_iter(text).map(|c| c.get(1).map_or("", |m| m.as_str()).to_owned()).collect();
    let mut out = text.to_owned();
    for block in blocks.iter().filter(|b| !b.is_empty()) {
        out = out.replace(block.as_str(), "");
    }
    out
}

/// FastChat sums six patterns, `^#{k}\s` for k = 1..6: a header line with h leading hashes then whitespace matches
/// exactly one of them (k = h), so the count is the number of such lines with 1 ≤ h ≤ 6.
fn header_count(text: &str) -> usize {
    let mut count = 0;
    for line_start in std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)) {
        let rest = &text[line_start..];
        let hashes = rest.bytes().take_while(|&c| c == b'#').count();
        if (1..=6).contains(&hashes) && rest[hashes..].chars().next().is_some_and(char::is_whitespace) {
            count += 1;
        }
    }
    count
}

/// LMArena's per-battle feature: d = (a − b)/(a + b + 1). `None` when it is not finite.
pub fn ratio(a: f64, b: f64) -> Option<f64> {
    let d = (a - b) / (a + b + 1.0);
    d.is_finite().then_some(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_counts_follow_fastchat() {
        let text =
            "# Title\n## Sub\n####### not a header\n#nospace\n1. one\n  2. two\n- a\n* b\n+ c\n**bold** and __also__\n";
        let c = counts([text]);
        assert_eq!(c[1], 2.0);
        assert_eq!(c[2], 5.0);
        assert_eq!(c[3], 2.0);
    }

    #[test]
    fn code_blocks_are_removed_before_counting() {
        let c = counts(["Code:\n```\n# not a header\n- not a list\n```\n# Header"]);
        assert_eq!((c[1], c[2]), (1.0, 0.0));
    }

    #[test]
    fn tokens_are_cl100k() {
        // "hello world" is two cl100k tokens; the special token counts as one.
        assert_eq!(tokens("hello world"), 2);
        assert_eq!(tokens("<|endoftext|>"), 1);
    }

    #[test]
    fn ratio_adds_one() {
        assert_eq!(ratio(3.0, 1.0), Some(0.4));
        assert_eq!(ratio(0.0, 0.0), Some(0.0));
        assert_eq!(ratio(-1.0, 0.0), None);
    }
}
