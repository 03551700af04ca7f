//! `config::decode` (and the `WeakDeserializer` under it), `decode_scalar`
//! and `parse_go_duration` never panic on any JSON value.
#![no_main]

use std::collections::{BTreeMap, HashMap};

use kiln_sdk::config::{decode, decode_scalar, DecodeOptions, RawConfig};
use kiln_sdk::duration::parse_go_duration;
use kiln_sdk::interpolate::Context;
use libfuzzer_sys::fuzz_target;
use serde::Deserialize;
use serde_json::Value;

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
    #[serde(default)]
    tags: Vec<String>,
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

fn scalars(v: &Value) {
    let _ = decode_scalar::<u8>(v);
    let _ = decode_scalar::<u32>(v);
    let _ = decode_scalar::<i64>(v);
    let _ = decode_scalar::<u64>(v);
    let _ = decode_scalar::<i128>(v);
    let _ = decode_scalar::<f64>(v);
    let _ = decode_scalar::<bool>(v);
    let _ = decode_scalar::<String>(v);
    let _ = decode_scalar::<char>(v);
    let _ = decode_scalar::<Vec<String>>(v);
    let _ = decode_scalar::<Option<u16>>(v);
    let _ = decode_scalar::<Mode>(v);
    let _ = decode_scalar::<Nested>(v);
    if let Value::String(s) = v {
        let _ = parse_go_duration(s);
    }
}

fn walk(v: &Value) {
    scalars(v);
    match v {
        Value::Array(items) => items.iter().for_each(walk),
        Value::Object(m) => m.values().for_each(walk),
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = parse_go_duration(s);
    }
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    walk(&value);
    let raw = match &value {
        Value::Object(_) => RawConfig::from_value(value.clone()),
        other => RawConfig::from_value(serde_json::json!({ "any": other, "list": other })),
    };
    let _ = decode::<Sample>(&raw, &DecodeOptions::default());
    let _ = decode::<Nested>(&raw, &DecodeOptions::default());
    let _ = decode::<BTreeMap<String, Value>>(&raw, &DecodeOptions::default());
    let ctx = Context::default();
    let _ = decode::<Sample>(
        &raw,
        &DecodeOptions {
            interpolate: Some(&ctx),
            skip_interpolation: &["list"],
            extra_fields: &["extra"],
        },
    );
});
