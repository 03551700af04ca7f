//! Property tests mirroring the fuzz targets in `fuzz/` (`json_parse`,
//! `legacy_template`), so that `cargo test` exercises them on every run:
//! the template parsers never panic, the spanned JSON parser agrees with
//! serde_json, and every error that comes from the template file has a
//! location.

use std::path::PathBuf;

use kiln_sdk::interpolate::Context;
use kiln_template::json::{self, Node, Spanned};
use kiln_template::legacy::{self, ROOT_KEYS};
use kiln_template::plan::{plan, Filters, VariableInputs};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        max_shrink_iters: 2_000,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------
// JSON text

fn ws() -> impl Strategy<Value = String> {
    "[ \t\r\n]{0,2}"
}

fn number_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "-?(0|[1-9][0-9]{0,3})",
        "-?(0|[1-9][0-9]{0,30})(\\.[0-9]{1,25})?([eE][+-]?[0-9]{1,4})?",
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|f| format!("{f:e}")),
        Just("18446744073709551616".to_string()),
        Just("-9223372036854775809".to_string()),
        Just("1.7976931348623157e308".to_string()),
        Just("-0".to_string()),
        Just("-0.0e-0".to_string()),
    ]
}

fn string_text() -> impl Strategy<Value = String> {
    // Plain characters (any but `"`, `\` and controls), every escape, and
    // `\u` escapes of any code unit (lone surrogates included).
    let piece = prop_oneof![
        4 => "[^\"\\\\\\x00-\\x1f]{1,4}",
        1 => "\\\\[\"\\\\/bfnrt]",
        1 => "\\\\u[0-9a-fA-F]{4}",
        1 => "\\\\u[dD][89abAB][0-9a-fA-F]{2}\\\\u[dD][c-fC-F][0-9a-fA-F]{2}",
    ];
    prop::collection::vec(piece, 0..5).prop_map(|p| format!("\"{}\"", p.concat()))
}

/// Syntactically valid JSON text, with whitespace, duplicate keys, every
/// number form and escape.
fn json_text() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("null".to_string()),
        Just("true".to_string()),
        Just("false".to_string()),
        number_text(),
        string_text(),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
        let key = prop_oneof![
            3 => "\"[a-c]\"",
            1 => string_text(),
        ];
        prop_oneof![
            prop::collection::vec((ws(), inner.clone(), ws()), 0..6).prop_map(|items| {
                let items: Vec<String> = items
                    .into_iter()
                    .map(|(a, v, b)| format!("{a}{v}{b}"))
                    .collect();
                format!("[{}]", items.join(","))
            }),
            prop::collection::vec((ws(), key, ws(), ws(), inner), 0..6).prop_map(|entries| {
                let entries: Vec<String> = entries
                    .into_iter()
                    .map(|(a, k, b, c, v)| format!("{a}{k}{b}:{c}{v}"))
                    .collect();
                format!("{{{}}}", entries.join(","))
            }),
        ]
    })
}

/// Valid JSON with a few bytes inserted, removed or replaced: mostly
/// invalid documents, near valid ones.
fn mutated_json_text() -> impl Strategy<Value = String> {
    let edit = (
        any::<prop::sample::Index>(),
        0..3u8,
        prop::sample::select(vec![
            '{', '}', '[', ']', ',', ':', '"', '\\', '-', '+', '.', 'e', '0', '1', ' ', '\n', 'u',
            't', 'n', '\u{0}', '\u{1f}', '\u{7f}', 'é', '\u{feff}', '😀',
        ]),
    );
    (json_text(), prop::collection::vec(edit, 1..4)).prop_map(|(text, edits)| {
        let mut chars: Vec<char> = text.chars().collect();
        for (at, op, c) in edits {
            let i = at.index(chars.len() + 1);
            match op {
                0 => chars.insert(i, c),
                1 if i < chars.len() => {
                    chars.remove(i);
                }
                _ if i < chars.len() => chars[i] = c,
                _ => chars.push(c),
            }
        }
        chars.into_iter().collect()
    })
}

/// True when `src` holds a `\uXXXX` escape of a UTF-16 surrogate that is
/// not half of a valid pair.
fn has_lone_surrogate(src: &str) -> bool {
    let b = src.as_bytes();
    let hex = |i: usize| {
        src.get(i..i + 4)
            .filter(|h| h.bytes().all(|c| c.is_ascii_hexdigit()))
            .and_then(|h| u32::from_str_radix(h, 16).ok())
    };
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            i += 1;
            continue;
        }
        if b.get(i + 1) != Some(&b'u') {
            i += 2;
            continue;
        }
        match hex(i + 2) {
            Some(0xD800..=0xDBFF) => {
                let lo = (b.get(i + 6) == Some(&b'\\') && b.get(i + 7) == Some(&b'u'))
                    .then(|| hex(i + 8))
                    .flatten();
                if !matches!(lo, Some(0xDC00..=0xDFFF)) {
                    return true;
                }
                i += 12;
            }
            Some(0xDC00..=0xDFFF) => return true,
            _ => i += 2,
        }
    }
    false
}

/// The character at a 1-based line and column (columns on the first line
/// count from after a byte order mark).
fn char_at(src: &str, line: usize, column: usize) -> Option<char> {
    let text = src.split('\n').nth(line.checked_sub(1)?)?;
    let text = if line == 1 {
        text.strip_prefix('\u{feff}').unwrap_or(text)
    } else {
        text
    };
    text.chars().nth(column.checked_sub(1)?)
}

/// Every value's and key's position is that of its first character.
fn positions_are_right(src: &str, v: &Spanned) -> bool {
    let first = char_at(src, v.pos.line, v.pos.column);
    let ok = match &v.node {
        Node::Null => first == Some('n'),
        Node::Bool(b) => first == Some(if *b { 't' } else { 'f' }),
        Node::Number(_) => first.is_some_and(|c| c == '-' || c.is_ascii_digit()),
        Node::String(_) => first == Some('"'),
        Node::Array(_) => first == Some('['),
        Node::Object(_) => first == Some('{'),
    };
    ok && match &v.node {
        Node::Array(items) => items.iter().all(|i| positions_are_right(src, i)),
        Node::Object(entries) => entries.iter().all(|(_, k, v)| {
            char_at(src, k.line, k.column) == Some('"') && positions_are_right(src, v)
        }),
        _ => true,
    }
}

/// The property of the `json_parse` fuzz target. serde_json and Go's
/// `encoding/json` (which `json::parse` follows) disagree on three things:
/// serde_json stops at 128 levels (kiln at 256), rejects lone surrogate
/// escapes (Go reads U+FFFD) and a leading byte order mark (kiln skips it).
fn agrees_with_serde(src: &str) -> Result<(), TestCaseError> {
    let ours = json::parse(src);
    let theirs = serde_json::from_str::<Value>(src);
    match (ours, theirs) {
        (Ok(v), Ok(expected)) => {
            prop_assert!(positions_are_right(src, &v));
            prop_assert_eq!(v.to_value(), expected);
        }
        (Ok(v), Err(e)) => {
            prop_assert!(positions_are_right(src, &v));
            prop_assert!(
                src.starts_with('\u{feff}')
                    || e.to_string().contains("recursion limit exceeded")
                    || has_lone_surrogate(src),
                "accepted what serde_json rejects ({})",
                e
            );
        }
        (Err(e), Ok(_)) => prop_assert!(false, "rejected valid JSON: {}", e),
        (Err(e), Err(_)) => {
            prop_assert!(e.pos.line >= 1 && e.pos.column >= 1, "{:?}", e);
            prop_assert!(e.pos.line <= src.split('\n').count(), "{:?}", e);
        }
    }
    Ok(())
}

/// Any text, or text made of JSON's punctuation and letters.
const ANY_TEXT: &str = "\\PC{0,40}|[\\[\\]{}\":,0-9eE.+\\-tfnrul\\\\ ]{0,40}";

proptest! {
    #![proptest_config(config(3_000))]

    #[test]
    fn json_parse_agrees_with_serde_json_on_valid_text(src in json_text()) {
        agrees_with_serde(&src)?;
    }

    #[test]
    fn json_parse_agrees_with_serde_json_on_mutated_text(src in mutated_json_text()) {
        agrees_with_serde(&src)?;
    }

    #[test]
    fn json_parse_agrees_with_serde_json_on_any_text(src in ANY_TEXT) {
        agrees_with_serde(&src)?;
    }

    #[test]
    fn json_numbers_agree_with_serde_json(n in number_text()) {
        agrees_with_serde(&n)?;
        agrees_with_serde(&format!("[{n}, {{\"n\": {n}}}]"))?;
    }
}

#[test]
fn json_parse_nesting_is_limited_without_overflowing_the_stack() {
    for depth in [1, 128, 129, 256, 257, 100_000] {
        for (open, close) in [("[", "]"), ("{\"a\":", "}")] {
            let src = format!("{}1{}", open.repeat(depth), close.repeat(depth));
            let r = json::parse(&src);
            assert_eq!(r.is_ok(), depth <= 256, "depth {depth}");
            if depth < 128 {
                assert_eq!(
                    r.unwrap().to_value(),
                    serde_json::from_str::<Value>(&src).unwrap()
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Legacy templates and plans

fn template_string() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9 _-]{0,8}",
        Just("{{user `a`}}".to_string()),
        Just("{{user `b`}}-{{user `a`}}".to_string()),
        Just("x{{user `c`}}{{user `c`}}".to_string()),
        Just("{{env `HOME`}}".to_string()),
        Just("{{timestamp}}-{{build_name}}".to_string()),
        Just("{{ split `a,b` `,` 5 }}".to_string()),
        Just("{{ nosuchfunc }}".to_string()),
        Just("{{ unclosed".to_string()),
        Just("{{range 100000}}x{{end}}".to_string()),
        Just("{{$a := `xx`}}{{range 40}}{{$a = print $a $a}}{{end}}".to_string()),
    ]
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(Value::from),
        (-1e20f64..1e20).prop_map(Value::from),
        template_string().prop_map(Value::String),
        prop::sample::select(vec!["1s", "1m30s", "soon", "-1s", "", "0", "1.5h", "9e99h"])
            .prop_map(Value::from),
    ]
}

fn any_value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(("[a-z_]{1,6}", inner), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn names() -> impl Strategy<Value = Value> {
    prop_oneof![
        prop::collection::vec(
            prop::sample::select(vec!["null", "a", "b", "file", "zzz"]),
            0..3
        )
        .prop_map(|v| json!(v)),
        prop::sample::select(vec!["null", "a"]).prop_map(Value::from),
        any_value(),
    ]
}

/// A component block: `type` and Packer's special keys, mostly well typed.
fn block() -> impl Strategy<Value = Value> {
    let key = prop::sample::select(vec![
        "type",
        "name",
        "only",
        "except",
        "override",
        "pause_before",
        "timeout",
        "max_retries",
        "keep_input_artifact",
        "inline",
        "command",
        "communicator",
    ]);
    let type_name = prop::sample::select(vec!["null", "file", "shell-local", "manifest"]);
    let entry =
        (key, any::<bool>(), any_value(), names(), type_name).prop_map(|(k, typed, v, n, t)| {
            let v = match (k, typed) {
                ("type", true) => json!(t),
                ("only" | "except", true) => n,
                ("override", true) => json!({"a": {"inline": ["x"]}, "b": v}),
                _ => v,
            };
            (k.to_string(), v)
        });
    prop_oneof![
        9 => prop::collection::vec(entry, 0..6)
            .prop_map(|e| Value::Object(e.into_iter().collect())),
        1 => any_value(),
    ]
}

/// A template-shaped document: Packer's root keys with values of the right
/// shape most of the time, and of any shape otherwise.
fn template_value() -> impl Strategy<Value = Value> {
    let variables = prop::collection::vec(
        (
            prop::sample::select(vec!["a", "b", "c", "d"]),
            prop_oneof![
                3 => template_string().prop_map(Value::String),
                1 => Just(Value::Null),
                1 => scalar(),
            ],
        ),
        0..5,
    )
    .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect()));
    let section = prop_oneof![
        (
            Just("builders"),
            prop::collection::vec(block(), 0..4).prop_map(Value::Array)
        ),
        (
            Just("provisioners"),
            prop::collection::vec(block(), 0..4).prop_map(Value::Array)
        ),
        (Just("error-cleanup-provisioner"), block()),
        (
            Just("post-processors"),
            prop::collection::vec(
                prop_oneof![
                    block(),
                    prop::collection::vec(block(), 0..3).prop_map(Value::Array),
                    Just(json!("manifest")),
                ],
                0..4
            )
            .prop_map(Value::Array)
        ),
        (Just("variables"), variables),
        (Just("sensitive-variables"), names()),
        (
            Just("min_packer_version"),
            prop::sample::select(vec!["1.0.0", "1.6.6", "1.50.", "v2", "x", ""])
                .prop_map(Value::from)
        ),
        (prop::sample::select(ROOT_KEYS.to_vec()), any_value()),
        (
            prop::sample::select(vec!["_comment", "buildrs", "x"]),
            any_value()
        ),
    ];
    prop::collection::vec(section, 0..8).prop_map(|sections| {
        let mut m = Map::new();
        m.insert("builders".into(), json!([{"type": "null"}]));
        for (k, v) in sections {
            m.insert(k.to_string(), v);
        }
        Value::Object(m)
    })
}

/// The property of the `legacy_template` fuzz target.
fn parse_and_plan(src: &str) -> Result<(), TestCaseError> {
    let t = match legacy::parse(src, "t.json".into(), PathBuf::from("/tmp")) {
        Ok(t) => t,
        Err(errs) => {
            prop_assert!(!errs.is_empty());
            for e in &errs.0 {
                let loc = e.location.as_ref();
                prop_assert!(
                    loc.is_some_and(|l| l.line >= 1 && l.column >= 1),
                    "no location: {}",
                    e
                );
            }
            return Ok(());
        }
    };
    let inputs = VariableInputs {
        var_files: Vec::new(),
        vars: vec![("b".into(), "{{user `a`}}!".into())],
    };
    for filters in [
        Filters::default(),
        Filters {
            only: vec!["[ab]*".into(), "null".into()],
            except: vec!["file".into(), "manifest".into()],
        },
    ] {
        if let Err(errs) = plan(&t, &inputs, &filters, Context::default()) {
            for e in &errs.0 {
                prop_assert!(e.location.is_some(), "no location: {}", e);
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(2_000))]

    #[test]
    fn legacy_templates_parse_and_plan_without_panicking(
        v in template_value(),
        pretty in any::<bool>(),
    ) {
        let src = if pretty {
            serde_json::to_string_pretty(&v).unwrap()
        } else {
            serde_json::to_string(&v).unwrap()
        };
        parse_and_plan(&src)?;
    }

    #[test]
    fn legacy_parse_locates_errors_in_any_text(
        src in prop_oneof![mutated_json_text(), "\\PC{0,30}"],
    ) {
        parse_and_plan(&src)?;
    }
}

/// The deepest values the parser accepts go through parsing, planning and
/// weakly typed decoding (with interpolation) on a test thread's 2 MiB stack.
#[test]
fn deepest_values_decode_without_overflowing_the_stack() {
    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Deep {
        any: Value,
        list: Vec<Value>,
        #[serde(default)]
        nested: Option<Box<Deep>>,
    }
    // `{"builders": [{` takes three of the 256 levels.
    let list = format!("{}1{}", "[".repeat(253), "]".repeat(253));
    let nested = format!("{}1{}", "{\"nested\":".repeat(252), "}".repeat(252));
    let src = format!(
        "{{\"builders\": [{{\"type\": \"null\", \
         \"any\": {list}, \"list\": {list}, \"nested\": {nested}}}]}}"
    );
    let t = legacy::parse(&src, "t.json".into(), PathBuf::from("/tmp")).unwrap();
    let ctx = Context::default();
    let e = kiln_sdk::config::decode::<Deep>(
        &t.builders[0].raw,
        &kiln_sdk::config::DecodeOptions {
            interpolate: Some(&ctx),
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(e.to_string().contains("expected an object"), "{e}");
    assert!(plan(&t, &VariableInputs::default(), &Filters::default(), ctx).is_ok());
}

// The HCL2 loader and evaluator (the `hcl_template` fuzz target's
// property): text built from HCL2 fragments, read as native syntax and as
// JSON syntax, never panics, and every parse error has a location.

fn hcl_fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("locals {\n".to_string()),
        Just("}\n".to_string()),
        Just("variable \"v\" {\n  type = number\n  default = \"5\"\n}\n".to_string()),
        Just("a = try(var.v.x, 1)\n".to_string()),
        Just("b = var.v + \"2\"\n".to_string()),
        Just("c = [for x in [\"1\", 2] : x * 2 if x > 0]\n".to_string()),
        Just("d = \"%{ for x in local.c }${x}%{ endfor }\"\n".to_string()),
        Just("e = can(local.a) ? cidrhost(\"10.0.0.0/8\", -1) : null\n".to_string()),
        Just("f = convert(local.c, list(string))\n".to_string()),
        Just("g = local.g\n".to_string()),
        Just("{\"locals\": {\"h\": \"${1 + 1}\"}}".to_string()),
        "[a-z{}\\[\\]()=\"$%:.,+*/!<>?\\- \\n0-9]{0,40}",
    ]
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn hcl_parse_and_evaluate_never_panic(parts in prop::collection::vec(hcl_fragment(), 0..12)) {
        use kiln_sdk::config::ConfigErrors;
        use kiln_template::hcl::parser::{parse_file, SourceFile};
        use kiln_template::hcl::{json_syntax, types_locals, types_variable};
        let text = parts.concat();
        let f = SourceFile::new("f.pkr.hcl".into(), &text);
        for parsed in [parse_file(&f, &text), json_syntax::parse_file(&f, &text)] {
            let body = match parsed {
                Ok(b) => b,
                Err(e) => {
                    prop_assert!(e.0.iter().all(|e| e.location.is_some()), "{}", e);
                    continue;
                }
            };
            let mut errors = ConfigErrors::new();
            let mut vars = Vec::new();
            let mut locals = Vec::new();
            for b in &body.blocks {
                match b.ident.as_str() {
                    "variable" => vars.extend(types_variable::decode_variable(b, &mut errors)),
                    "locals" => locals.extend(types_locals::decode_locals(b, &mut errors)),
                    _ => {}
                }
            }
            let given = types_variable::collect_inputs(&vars, &[], &VariableInputs::default(), &mut errors);
            let resolved = types_variable::resolve(&vars, &given, ".", &mut errors);
            let _ = types_locals::evaluate_all(&locals, &[], &resolved.values, &resolved.sensitive, ".", &mut errors);
            prop_assert!(errors.0.iter().all(|e| e.location.is_some() || e.message.contains("-var")), "{}", errors);
        }
    }
}
