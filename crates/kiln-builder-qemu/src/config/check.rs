//! The checks several sections share: a value from a fixed list, a port
//! range, and defaults for empty strings (a Go duration with a default is
//! [`ConfigErrors::duration`]).
//! Each pushes its error and returns a usable value, so every section
//! goes on and every error is collected. Pure; holds nothing.

use std::ops::RangeInclusive;

use kiln_sdk::config::{ConfigError, ConfigErrors};

/// `value`, or `default` when it is empty.
pub(super) fn or(value: &str, default: &str) -> String {
    if value.is_empty() {
        default.to_string()
    } else {
        value.to_string()
    }
}

/// `value`, or `None` when it is empty.
pub(super) fn opt(value: &str) -> Option<String> {
    (!value.is_empty()).then(|| value.to_string())
}

/// `value` must be one of `allowed`.
pub(super) fn one_of(errors: &mut ConfigErrors, key: &str, value: &str, allowed: &[&str]) {
    if !allowed.contains(&value) {
        let list = allowed
            .iter()
            .map(|a| format!("`{a}`"))
            .collect::<Vec<_>>()
            .join(", ");
        errors.push(ConfigError::at(
            key,
            format!("`{key}` must be one of {list}, found `{value}`"),
        ));
    }
}

/// A `*_min`..=`*_max` port range with its defaults.
pub(super) fn range(
    errors: &mut ConfigErrors,
    keys: (&str, &str),
    values: (Option<u16>, Option<u16>),
    defaults: (u16, u16),
) -> RangeInclusive<u16> {
    let min = values.0.unwrap_or(defaults.0);
    let max = values.1.unwrap_or(defaults.1);
    if min > max {
        errors.push(ConfigError::at(
            keys.0,
            format!(
                "`{}` ({min}) must be less than `{}` ({max})",
                keys.0, keys.1
            ),
        ));
    }
    min..=max
}
