//! Checks `-events=json` output against the published schema
//! (`docs/schemas/events.schema.json`). [`crate::run`] calls it for every
//! kiln run of the test suite that asks for JSON events, so every event any
//! test sees is checked, not just the ones a test looks at.

use std::sync::OnceLock;

/// The compiled schema, read once per test process.
fn validator() -> &'static jsonschema::Validator {
    static V: OnceLock<jsonschema::Validator> = OnceLock::new();
    V.get_or_init(|| {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/schemas/events.schema.json"
        );
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {path}: {e}"));
        let schema: serde_json::Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path} is not JSON: {e}"));
        jsonschema::validator_for(&schema).unwrap_or_else(|e| panic!("{path} is no schema: {e}"))
    })
}

/// Panics, naming the line and what is wrong, unless every line of
/// `stdout` is one JSON event that the schema accepts.
pub fn check(stdout: &str) {
    for (i, line) in stdout.lines().enumerate() {
        let event: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("-events=json line {} is not JSON ({e}): {line}", i + 1));
        let errors: Vec<String> = validator()
            .iter_errors(&event)
            .map(|e| format!("{e} at `{}`", e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "-events=json line {} breaks docs/schemas/events.schema.json:\n  {}\n{line}",
            i + 1,
            errors.join("\n  ")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn the_schema_accepts_events_and_rejects_malformed_ones() {
        check(concat!(
            r#"{"type":"build_started","build":"a","builder_type":"null","time":"2026-01-01T00:00:00.000Z"}"#,
            "\n",
            r#"{"type":"run_finished","cancelled":false,"failed":0,"builds":1,"exit_code":0,"time":"2026-01-01T00:00:00.000Z"}"#,
        ));
        for bad in [
            r#"{"type":"run_finished","cancelled":false,"failed":0,"builds":1,"time":"2026-01-01T00:00:00.000Z"}"#,
            r#"{"type":"nosuch","time":"2026-01-01T00:00:00.000Z"}"#,
            r#"{"type":"step","build":"a","step":"S","extra":1,"time":"2026-01-01T00:00:00.000Z"}"#,
            r#"{"type":"step","build":"a","step":"S"}"#,
        ] {
            let r = std::panic::catch_unwind(|| check(bad));
            assert!(r.is_err(), "accepted: {bad}");
        }
    }
}
