//! The error type of `kiln fix`.

use serde_json::Value;

/// Why a template could not be fixed.
///
/// Packer 1.6.6 either reports these as decoding errors or, for a handful of
/// malformed inputs, crashes; kiln reports every one of them as an error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FixError {
    /// The template's root is not a JSON object.
    #[error("template must be an object, got {got}")]
    NotAnObject {
        /// What the root was, e.g. "an array".
        got: &'static str,
    },

    /// A value the fixer needs has the wrong JSON type.
    #[error("fixer `{fixer}`: `{path}` must be {expected}, got {got}")]
    WrongType {
        /// The fixer that failed.
        fixer: &'static str,
        /// Where the value is, e.g. `builders[0].type`.
        path: String,
        /// What the fixer needs there, e.g. "an array".
        expected: &'static str,
        /// What it found, e.g. "a string".
        got: &'static str,
    },

    /// A value the fixer needs is missing.
    #[error("fixer `{fixer}`: `{path}` is missing, expected {expected}")]
    Missing {
        /// The fixer that failed.
        fixer: &'static str,
        /// Where the value should be, e.g. `builders[0].type`.
        path: String,
        /// What the fixer needs there, e.g. "a string".
        expected: &'static str,
    },

    /// A string that must spell a boolean does not.
    #[error("fixer `{fixer}`: `{path}` is not a boolean: `{value}`")]
    NotABoolean {
        /// The fixer that failed.
        fixer: &'static str,
        /// Where the value is, e.g. `builders[0].ssh_private_ip`.
        path: String,
        /// The string found there.
        value: String,
    },
}

/// The kind of a JSON value, with an article, for error messages.
pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_lowercase_with_backticked_values() {
        let e = FixError::WrongType {
            fixer: "iso-md5",
            path: "builders[0]".into(),
            expected: "an object",
            got: "a number",
        };
        assert_eq!(
            e.to_string(),
            "fixer `iso-md5`: `builders[0]` must be an object, got a number"
        );
        let e = FixError::NotABoolean {
            fixer: "amazon-private-ip",
            path: "builders[1].ssh_private_ip".into(),
            value: "maybe".into(),
        };
        assert_eq!(
            e.to_string(),
            "fixer `amazon-private-ip`: `builders[1].ssh_private_ip` is not a boolean: `maybe`"
        );
        assert_eq!(
            FixError::NotAnObject { got: "an array" }.to_string(),
            "template must be an object, got an array"
        );
    }
}
