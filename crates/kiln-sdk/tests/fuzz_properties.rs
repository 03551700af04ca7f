//! Property tests mirroring the fuzz targets in `fuzz/` (`interpolate`,
//! `config_decode`), so that `cargo test` exercises them on every run:
//! interpolation, config decoding and duration parsing never panic, and
//! rendering stops within its budgets.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use kiln_sdk::config::{decode, decode_scalar, DecodeOptions, RawConfig};
use kiln_sdk::duration::parse_go_duration;
use kiln_sdk::interpolate::{check_syntax, render, Context, Generated};
use proptest::prelude::*;
use serde::Deserialize;
use serde_json::{json, Value};

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        max_shrink_iters: 2_000,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------
// Interpolation

fn context() -> Context {
    let vars = BTreeMap::from([
        ("a".to_string(), "eu-west-1".to_string()),
        ("x".to_string(), "{{user `x`}}".to_string()),
    ]);
    Context {
        user_variables: Arc::new(vars),
        build_name: Some("web".into()),
        build_type: Some("null".into()),
        template_dir: Some("/tmp".into()),
        generated: Generated::Known(Arc::new(BTreeMap::from([(
            "ID".to_string(),
            "i-1".to_string(),
        )]))),
        init_time: chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default(),
        ..Default::default()
    }
    .with_data([
        ("Path", json!("/tmp/x.sh")),
        ("List", json!([1, "two", [3], {"k": null}])),
        ("Map", json!({"a": 1, "b": {"c": [1, 2]}})),
    ])
}

/// Pieces of Go templates: actions, control structures, Packer's functions
/// and the builtins, literals of every kind, and the loops and
/// self-references that must stay within the budgets.
const TOKENS: &[&str] = &[
    "{{",
    "}}",
    "{{- ",
    " -}}",
    " ",
    "\n",
    "x",
    "range",
    "if",
    "else",
    "end",
    "with",
    "define",
    "template",
    "block",
    "break",
    "continue",
    "\"t\"",
    "`s`",
    "``",
    ".",
    "$",
    "$x",
    "$x :=",
    "$x =",
    "|",
    "(",
    ")",
    ",",
    "0",
    "-1",
    "3",
    "100000",
    "2.5",
    "1e3",
    "0x10",
    "'a'",
    "true",
    "nil",
    "user `a`",
    "user `x`",
    "env `HOME`",
    "build_name",
    "build_type",
    "template_dir",
    "timestamp",
    "uuid",
    "pwd",
    "packer_version",
    "isotime",
    "isotime `2006-01-02 Mon`",
    "strftime `%Y-%m-%d %Q`",
    "split",
    "split `a-b` `-` 1",
    "replace",
    "replace_all",
    "replace_all `` `xyz`",
    "upper",
    "lower",
    "clean_resource_name",
    "build `ID`",
    "build `Nope`",
    "sed",
    "vault",
    "consul_key",
    "print",
    "printf",
    "printf \"%5d%s%v%q\"",
    "println",
    "len",
    "index",
    "slice",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "and",
    "or",
    "not",
    "js",
    "html",
    "urlquery",
    "call",
    ".Path",
    ".List",
    ".Map.b.c",
    ".Nope",
    "/* c */",
    "{{range 100000}}",
    "{{$x = print $x $x}}",
    "{{template \"t\" .}}",
    "{{define \"t\"}}",
];

fn template_soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..40).prop_map(|t| t.concat())
}

/// `$x` grown `n` times by `grow`: doubling, or escaping backslashes.
fn growing(n: u32, grow: &str) -> String {
    format!("{{{{$x := `\\ab`}}}}{{{{range {n}}}}}{{{{$x = {grow}}}}}{{{{end}}}}{{{{len $x}}}}")
}

/// `n` templates, each calling the previous one twice: 2^n calls.
fn define_chain(n: usize) -> String {
    let mut s = String::from("{{define \"t0\"}}x{{end}}");
    for i in 1..=n {
        let p = i - 1;
        s.push_str(&format!(
            "{{{{define \"t{i}\"}}}}{{{{template \"t{p}\"}}}}{{{{template \"t{p}\"}}}}{{{{end}}}}"
        ));
    }
    s + &format!("{{{{template \"t{n}\"}}}}")
}

/// Recursion that ends, branching in two at each of `n` levels.
fn branching_recursion(n: usize) -> String {
    format!(
        "{{{{define \"a\"}}}}{{{{if .}}}}{{{{template \"a\" (slice . 1)}}}}\
         {{{{template \"a\" (slice . 1)}}}}{{{{end}}}}{{{{end}}}}{{{{template \"a\" `{}`}}}}",
        "x".repeat(n)
    )
}

fn nested_blocks(n: usize) -> String {
    format!(
        "{}x{}",
        "{{if 1}}{{range 3}}".repeat(n),
        "{{end}}{{end}}".repeat(n)
    )
}

fn nested_parens(n: usize) -> String {
    format!("{{{{{}1{}}}}}", "print (".repeat(n), ")".repeat(n))
}

/// Well-formed templates that loop, recurse and grow values: each must stop
/// on a budget rather than hang.
fn runaway() -> impl Strategy<Value = String> {
    let grow = prop::sample::select(vec![
        "print $x $x",
        "js $x",
        "replace_all `` $x $x",
        "printf \"%s%s\" $x $x",
    ]);
    prop_oneof![
        (1u32..200, grow).prop_map(|(n, g)| growing(n, g)),
        (1usize..50).prop_map(define_chain),
        (1usize..60).prop_map(branching_recursion),
        (1usize..120).prop_map(nested_blocks),
        (1usize..150).prop_map(nested_parens),
    ]
}

fn render_properties(src: &str) -> Result<(), TestCaseError> {
    let ctx = context();
    let syntax = check_syntax(src);
    let rendered = render(src, &ctx);
    if let Ok(out) = &rendered {
        prop_assert!(
            syntax.is_ok(),
            "renders but fails the syntax check: {:?}",
            syntax
        );
        prop_assert!(out.len() <= 16 << 20);
    }
    if !src.contains("{{") {
        prop_assert_eq!(rendered.ok(), Some(src.to_string()));
    }
    let mut placeholder = ctx;
    placeholder.generated = Generated::Placeholder;
    placeholder.enable_env = true;
    let _ = render(src, &placeholder);
    Ok(())
}

proptest! {
    #![proptest_config(config(3_000))]

    #[test]
    fn render_never_panics_on_template_soup(src in template_soup()) {
        render_properties(&src)?;
    }

    #[test]
    fn render_never_panics_on_any_text(src in "(\\{\\{|\\}\\}|\\PC){0,40}") {
        render_properties(&src)?;
    }
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn render_stops_runaway_templates(src in runaway()) {
        render_properties(&src)?;
    }
}

// ---------------------------------------------------------------------------
// Config decoding

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
#[allow(dead_code)]
struct Sample {
    name: String,
    count: u32,
    small: u8,
    signed: i64,
    wide: i128,
    huge: u128,
    ratio: f64,
    single: f32,
    flag: bool,
    letter: Option<char>,
    maybe: Option<i32>,
    list: Vec<String>,
    codes: Vec<i32>,
    map: BTreeMap<String, String>,
    lists: HashMap<String, Vec<u16>>,
    nested: Nested,
    nested_list: Vec<Nested>,
    mode: Mode,
    pair: Option<(u8, String)>,
    any: Value,
    boxed: Option<Box<Sample>>,
}

#[derive(Debug, Default, Deserialize)]
#[allow(dead_code)]
struct Nested {
    required: String,
    #[serde(default)]
    port: u16,
}

#[derive(Debug, Default, Deserialize)]
#[allow(dead_code)]
enum Mode {
    #[default]
    #[serde(rename = "auto")]
    Auto,
    #[serde(rename = "manual")]
    Manual,
}

const KEYS: &[&str] = &[
    "name",
    "count",
    "small",
    "signed",
    "wide",
    "huge",
    "ratio",
    "single",
    "flag",
    "letter",
    "maybe",
    "list",
    "codes",
    "map",
    "lists",
    "nested",
    "nested_list",
    "mode",
    "pair",
    "any",
    "boxed",
    "required",
    "port",
    "nmae",
    "extra",
];

fn weak_string() -> impl Strategy<Value = String> {
    prop_oneof![
        "-?(0|[1-9][0-9]{0,40})",
        "[+-]{0,2}0[xXbBoO]?[+-]?[0-9a-fA-F_]{0,34}",
        "-?[0-9]{1,5}(\\.[0-9]{0,5})?([eE][+-]?[0-9]{1,3})?",
        prop::sample::select(vec![
            "true",
            "false",
            "t",
            "F",
            "yes",
            "",
            " 12 ",
            "inf",
            "NaN",
            "-0",
            "auto",
            "manual",
            "x",
            "éé",
            "{{user `a`}}",
            "{{ bad",
        ])
        .prop_map(String::from),
        "\\PC{0,8}",
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        weak_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..6).prop_map(|kv| {
                Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            }),
        ]
    })
}

/// Any text, or text made of Go duration pieces.
const DURATION_LIKE: &str =
    "\\PC{0,12}|[0-9.+-]{0,6}(ns|us|µs|ms|s|m|h|x)?([0-9.]{0,4}(ns|us|ms|s|m|h))?";

/// Go's duration units, in nanoseconds.
const UNITS: [(&str, u64); 6] = [
    ("ns", 1),
    ("us", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

fn scalars(v: &Value) {
    let _ = decode_scalar::<u8>(v);
    let _ = decode_scalar::<u32>(v);
    let _ = decode_scalar::<i64>(v);
    let _ = decode_scalar::<u64>(v);
    let _ = decode_scalar::<i128>(v);
    let _ = decode_scalar::<u128>(v);
    let _ = decode_scalar::<f32>(v);
    let _ = decode_scalar::<bool>(v);
    let _ = decode_scalar::<String>(v);
    let _ = decode_scalar::<char>(v);
    let _ = decode_scalar::<Vec<String>>(v);
    let _ = decode_scalar::<Option<u16>>(v);
    let _ = decode_scalar::<Mode>(v);
    let _ = decode_scalar::<Nested>(v);
    let _ = decode_scalar::<(u8, bool)>(v);
    if let Value::String(s) = v {
        let _ = parse_go_duration(s);
    }
    match v {
        Value::Array(items) => items.iter().for_each(scalars),
        Value::Object(m) => m.values().for_each(scalars),
        _ => {}
    }
}

proptest! {
    #![proptest_config(config(3_000))]

    #[test]
    fn decode_never_panics(v in json_value()) {
        scalars(&v);
        let raw = match &v {
            Value::Object(_) => RawConfig::from_value(v.clone()),
            other => RawConfig::from_value(json!({ "any": other, "list": other, "boxed": other })),
        };
        let _ = decode::<Sample>(&raw, &DecodeOptions::default());
        let _ = decode::<Nested>(&raw, &DecodeOptions::default());
        let ctx = context();
        let decoded = decode::<Sample>(
            &raw,
            &DecodeOptions {
                interpolate: Some(&ctx),
                skip_interpolation: &["list"],
                extra_fields: &["extra"],
            },
        );
        if let Err(errs) = decoded {
            prop_assert!(!errs.is_empty());
        }
    }

    #[test]
    fn weak_integers_read_go_literals(n in any::<i64>(), base in 0..5u8, sign in any::<bool>()) {
        let m = n.unsigned_abs();
        let digits = match base {
            0 => m.to_string(),
            1 => format!("0x{m:x}"),
            2 => format!("0b{m:b}"),
            3 => format!("0o{m:o}"),
            _ => format!("0{m:o}"),
        };
        let text = match (n < 0, sign) {
            (true, _) => format!("-{digits}"),
            (false, true) => format!("+{digits}"),
            (false, false) => digits,
        };
        prop_assert_eq!(decode_scalar::<i64>(&json!(text)), Ok(n));
        prop_assert_eq!(decode_scalar::<i64>(&json!(n)), Ok(n));
    }

    #[test]
    fn durations_never_panic(s in DURATION_LIKE) {
        if let Ok(d) = parse_go_duration(&s) {
            prop_assert!(d <= Duration::from_secs(1_000_000_000_000));
        }
    }

    #[test]
    fn durations_add_up(parts in prop::collection::vec((0u32..1000, 0..6usize), 1..4)) {
        let text: String = parts.iter().map(|(n, u)| format!("{n}{}", UNITS[*u].0)).collect();
        let nanos: u64 = parts.iter().map(|(n, u)| u64::from(*n) * UNITS[*u].1).sum();
        let d = parse_go_duration(&text).map_err(TestCaseError::fail)?;
        // The parser sums in floating point seconds.
        let error = d.as_nanos().abs_diff(u128::from(nanos));
        prop_assert!(error <= 1 + u128::from(nanos) / 1_000_000_000_000, "{} -> {:?}", text, d);
    }
}
