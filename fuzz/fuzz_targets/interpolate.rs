//! `interpolate::render` and `check_syntax` never panic, never hang and never
//! allocate without bound, whatever the template string.
#![no_main]

use std::collections::BTreeMap;
use std::sync::Arc;

use kiln_sdk::interpolate::{check_syntax, render, Context, Generated};
use libfuzzer_sys::fuzz_target;
use serde_json::json;

fn context(generated: Generated) -> Context {
    let vars = BTreeMap::from([
        ("region".to_string(), "eu-west-1".to_string()),
        ("x".to_string(), "{{user `x`}}".to_string()),
        ("empty".to_string(), String::new()),
    ]);
    Context {
        user_variables: Arc::new(vars),
        build_name: Some("web".into()),
        build_type: Some("null".into()),
        template_dir: Some("/tmp".into()),
        enable_env: true,
        init_time: chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default(),
        generated,
        ..Default::default()
    }
    .with_data([
        ("Path", json!("/tmp/script.sh")),
        ("Vars", json!("A='1' B='2'")),
        (
            "List",
            json!([1, "two", 3.5, null, true, [1, 2], {"k": "v"}]),
        ),
        ("Map", json!({"a": 1, "b": {"c": [1, 2, 3]}})),
        ("Num", json!(42)),
        ("Neg", json!(-7)),
        ("Big", json!(18446744073709551615u64)),
    ])
}

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    let syntax_ok = check_syntax(src).is_ok();
    let placeholder = render(src, &context(Generated::Placeholder));
    // A string that renders parses.
    assert!(syntax_ok || placeholder.is_err(), "{src:?}");
    let known = Generated::Known(Arc::new(BTreeMap::from([
        ("ID".to_string(), "i-123".to_string()),
        ("Host".to_string(), "127.0.0.1".to_string()),
    ])));
    let _ = render(src, &context(known));
});
