//! kiln's built-in HCL2 data sources, written against kiln-sdk's
//! [`DataSourceFactory`] like any plugin's: `null` ([`null`]) and `http`
//! ([`http`]). `kiln-registry` lists them in the one table of built-in
//! components; the template evaluator finds them there by name.
//!
//! `prepare` checks a block's arguments as Packer's `Configure` does (every
//! problem at once, each at its key or value); `execute` reads. A data
//! source holds no state and needs no cleanup.

use kiln_sdk::config::{did_you_mean, ConfigError, ConfigErrors, RawConfig};
use kiln_sdk::{DataSourceFactory, PrepareContext};
use serde_json::Value;

pub mod http;
pub mod null;

pub use http::HttpDataSourceFactory;
pub use null::NullDataSourceFactory;

/// Every built-in data source type, in the order kiln names them.
pub fn factories() -> Vec<Box<dyn DataSourceFactory>> {
    vec![
        Box::new(NullDataSourceFactory),
        Box::new(HttpDataSourceFactory),
    ]
}

/// `data source `data.http.NAME``: the block, as messages name it (the
/// evaluator gives its reference as the context's `build_name`), else the
/// type.
fn what(ty: &str, cx: &PrepareContext) -> String {
    if cx.build_name.is_empty() {
        format!("data source `{ty}`")
    } else {
        format!("data source `{}`", cx.build_name)
    }
}

/// Reports each key of `raw` outside `args` (the arguments) and the
/// `dynamic` blocks HCL2 allows everywhere, with a "did you mean" hint. A
/// key with a location but no value location is a block.
fn check_keys(raw: &RawConfig, what: &str, args: &[&str], errors: &mut ConfigErrors) {
    const BLOCKS: &[&str] = &["dynamic"];
    for k in raw.values.keys() {
        if args.contains(&k.as_str()) || BLOCKS.contains(&k.as_str()) {
            continue;
        }
        let is_block = raw.spans.contains_key(k) && !raw.value_spans.contains_key(k);
        let (message, candidates): (_, Vec<&str>) = if is_block {
            (
                format!("unsupported block type `{k}` in {what}"),
                BLOCKS.iter().chain(args).copied().collect(),
            )
        } else {
            (
                format!("unsupported argument `{k}` in {what}"),
                args.iter().chain(BLOCKS).copied().collect(),
            )
        };
        let mut e = ConfigError::new(message);
        e.hint = did_you_mean(k, candidates).map(|s| format!("did you mean `{s}`?"));
        e.location = raw.locate(k);
        errors.push(e);
    }
}

/// A problem with the value of `key`, located at the value.
fn at_value(raw: &RawConfig, key: &str, message: String) -> ConfigError {
    let mut e = ConfigError::new(message);
    e.location = raw.locate_value(key);
    e
}

/// A problem with the block as a whole, located at the block.
fn at_block(raw: &RawConfig, message: String) -> ConfigError {
    let mut e = ConfigError::new(message);
    e.location = raw.location.clone();
    e
}

/// A value as text: strings as they are, numbers and bools as written.
fn display(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The name of a value's type, for messages (`a string`).
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}
