//! Battle files in: formats, column and label mappings, typed errors naming the row and field.

mod common;

use arbiter::{Battles, Format, Outcome, ParseOptions};

fn parse(text: &str) -> arbiter::Result<Battles> {
    Battles::parse(text, &ParseOptions::default())
}

#[test]
fn lmarena_jsonl_json_and_csv_agree() {
    let jsonl = concat!(
        r#"{"model_a":"x","model_b":"y","winner":"model_a","conversation_a":[{"role":"user","content":"hi"}],"tstamp":1.5,"judge":"u1","id":7}"#,
        "\n\n",
        r#"{"model_a":"y","model_b":"z","winner":"tie (bothbad)","category":"code"}"#,
        "\n"
    );
    let json = r#"[{"model_a":"x","model_b":"y","winner":"model_a","tstamp":1.5,"judge":"u1","id":7},
                   {"model_a":"y","model_b":"z","winner":"tie (bothbad)","category":"code"}]"#;
    let csv = "model_a,model_b,winner,tstamp,judge,id,category\nx,y,model_a,1.5,u1,7,\ny,z,tie (bothbad),,,,code\n";
    for text in [jsonl, json, csv] {
        let b = parse(text).unwrap();
        assert_eq!(b.models(), ["x", "y", "z"]);
        assert_eq!(b.record(0), (0, 1, Outcome::A, 1));
        assert_eq!(b.record(1), (1, 2, Outcome::BothBad, 1));
        assert_eq!(b.judge(0), Some("u1"));
        assert_eq!(b.id(0), Some("7"));
        assert_eq!(b.tstamp(0), Some(1.5));
        assert_eq!(b.category(1), Some("code"));
    }
}

#[test]
fn llmfao_csv_with_column_mapping() {
    let b = common::llmfao_crowd();
    assert_eq!(b.len(), 8931);
    assert_eq!(b.models().len(), 59);
    // Round trip through LMArena JSONL keeps every battle.
    let again = parse(&common::llmfao_crowd_jsonl()).unwrap();
    assert_eq!(again.len(), 8931);
    for i in [0, 100, 8930] {
        let (a, b1, o, c) = b.record(i);
        let (a2, b2, o2, c2) = again.record(i);
        assert_eq!(
            (b.models()[a].as_str(), b.models()[b1].as_str(), o, c),
            (again.models()[a2].as_str(), again.models()[b2].as_str(), o2, c2)
        );
    }
}

#[test]
fn counts_table() {
    let text = "model_a,model_b,outcome,count\nx,y,model_a,3\nx,y,model_b,1\nx,y,tie,2\n";
    let mut o = ParseOptions::default();
    o.format = Format::Counts;
    let b = Battles::parse(text, &o).unwrap();
    assert_eq!(b.total(), 6);
    let err = Battles::parse("model_a,model_b,winner\nx,y,model_a\n", &o).unwrap_err();
    assert_eq!(err.code(), "MISSING_FIELD");
    assert!(err.to_string().contains("`count`"), "{err}");
    let err = Battles::parse("model_a,model_b,winner,count\nx,y,model_a,2.5\n", &o).unwrap_err();
    assert_eq!((err.code(), err.row()), ("INVALID_NUMBER", Some(2)));
}

#[test]
fn errors_name_row_and_field() {
    let cases: &[(&str, &str, usize, &str)] = &[
        ("{\"model_a\":\"x\",\"model_b\":\"y\",\"winner\":\"model_a\"}\n{\"model_a\":\"x\",\"model_b\":\"y\",\"winner\":\n", "PARSE", 2, ""),
        ("{\"model_a\":\"x\",\"model_b\":\"y\",\"winner\":\"draw\"}\n", "UNKNOWN_LABEL", 1, "`winner`"),
        ("{\"model_a\":\"x\",\"winner\":\"tie\"}\n", "MISSING_FIELD", 1, "`model_b`"),
        ("{\"model_a\":\"x\",\"model_b\":\"x\",\"winner\":\"tie\"}\n", "SELF_BATTLE", 1, "`x`"),
        ("{\"model_a\":\"x\",\"model_b\":\"y\",\"winner\":\"tie\",\"weight\":-1}\n", "INVALID_NUMBER", 1, "`weight`"),
        ("model_a,model_b,winner\nx,y,model_a\nx,,model_b\n", "MISSING_FIELD", 3, "`model_b`"),
        ("model_a,model_b,winner\nx,y,model_a\nx,y\n", "MISSING_FIELD", 3, "`winner`"),
        ("[{\"model_a\":\"x\",\"model_b\":\"y\",\"winner\":\"model_a\"},{\"model_a\":\"x\",\"model_b\":\"y\",\"winner\":\"?\"}]", "UNKNOWN_LABEL", 2, "`?`"),
    ];
    for &(text, code, row, needle) in cases {
        let err = parse(text).unwrap_err();
        assert_eq!(err.code(), code, "{text}: {err}");
        assert_eq!(err.row(), Some(row), "{text}: {err}");
        assert!(err.to_string().contains(needle), "{err}");
    }
}

#[test]
fn skip_invalid_reports_what_was_left_out() {
    let text = "{\"model_a\":\"x\",\"model_b\":\"y\",\"winner\":\"model_a\"}\nnot json\n{\"model_a\":\"x\",\"model_b\":\"x\",\"winner\":\"tie\"}\n";
    let mut o = ParseOptions::default();
    o.skip_invalid = true;
    let b = Battles::parse(text, &o).unwrap();
    assert_eq!(b.len(), 1);
    let skipped: Vec<(usize, &str)> = b.skipped().iter().map(|s| (s.row, s.code)).collect();
    assert_eq!(skipped, [(2, "PARSE"), (3, "SELF_BATTLE")]);
}

#[test]
fn custom_labels_and_bom() {
    let mut o = ParseOptions::default();
    o.labels.tie.push("draw".into());
    let b = Battles::parse("\u{feff}model_a,model_b,winner\nx,y,draw\n", &o).unwrap();
    assert_eq!(b.record(0).2, Outcome::Tie);
}

#[test]
fn empty_input_is_empty_not_an_error() {
    assert!(parse("").unwrap().is_empty());
    assert!(parse("[]").unwrap().is_empty());
    assert_eq!(arbiter::rank(&parse("[]").unwrap(), &arbiter::RankOptions::default()).unwrap_err().code(), "EMPTY");
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        /// Arbitrary bytes never panic any parser; they parse or give a typed error.
        #[test]
        fn parsers_never_panic(text in ".{0,200}", fmt in 0usize..5) {
            let mut o = ParseOptions::default();
            o.format = [Format::Auto, Format::Json, Format::Jsonl, Format::Csv, Format::Counts][fmt];
            let _ = Battles::parse(&text, &o);
            o.skip_invalid = true;
            let _ = Battles::parse(&text, &o);
        }

        /// Mangled valid JSONL lines never panic.
        #[test]
        fn mangled_jsonl_never_panics(cut in 0usize..60, junk in "[\\[\\]{}\",:a-z0-9 ]{0,8}") {
            let line = r#"{"model_a":"x","model_b":"y","winner":"model_a","count":3}"#;
            let cut = cut.min(line.len());
            let text = format!("{}{}{}\n{line}\n", &line[..cut], junk, &line[cut..]);
            let _ = parse(&text);
        }
    }
}
