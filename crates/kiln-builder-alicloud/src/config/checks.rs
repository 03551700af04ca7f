//! The checks several sections make: a value among the API's spellings
//! (with a suggestion), an IPv4 CIDR block, tag keys, a custom endpoint.
//! Pure; holds nothing.

use std::collections::BTreeMap;

use kiln_sdk::config::{did_you_mean, ConfigError, ConfigErrors};

/// Parses `value` of `key` as one of `choices` (exact spelling, as the ECS
/// API takes it), suggesting the nearest one when it is not.
pub fn choice<T: Copy>(
    key: &str,
    value: &str,
    choices: &[(&str, T)],
    errors: &mut ConfigErrors,
) -> Option<T> {
    if let Some((_, t)) = choices.iter().find(|(name, _)| *name == value) {
        return Some(*t);
    }
    let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
    let list = names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(" or ");
    let mut e = ConfigError::at(key, format!("`{key}` must be {list}, found `{value}`"));
    // A difference of case first: `active` is `Active`, not `Deactive`.
    let same_letters = names
        .iter()
        .copied()
        .find(|n| n.eq_ignore_ascii_case(value));
    if let Some(s) = same_letters.or_else(|| did_you_mean(value, names.iter().copied())) {
        e = e.with_hint(format!("did you mean `{s}`?"));
    }
    errors.push(e);
    None
}

/// Checks that `value` of `key` is an IPv4 CIDR block (`172.16.0.0/16`).
pub(super) fn check_cidr(key: &str, value: &str, errors: &mut ConfigErrors) {
    let ok = value.split_once('/').is_some_and(|(ip, bits)| {
        ip.parse::<std::net::Ipv4Addr>().is_ok()
            && bits.parse::<u8>().is_ok_and(|b| b <= 32)
            && !bits.starts_with('+')
    });
    if !ok {
        errors.push(ConfigError::at(
            key,
            format!("`{key}` must be an IPv4 CIDR block such as `172.16.0.0/16`, found `{value}`"),
        ));
    }
}

/// Checks that no tag of the map `key` has an empty key (ECS rejects
/// `Tag.N.Key=`).
pub fn check_tag_keys(key: &str, tags: &BTreeMap<String, String>, errors: &mut ConfigErrors) {
    if tags.keys().any(String::is_empty) {
        errors.push(ConfigError::at(
            key,
            format!("`{key}` has a tag with an empty key"),
        ));
    }
}

/// A custom endpoint as a URL: a bare host (`ecs.example.com[:port]`, as
/// the Alibaba SDK takes it) gets `https://`; otherwise an http or https
/// URL without a path.
pub fn endpoint_url(key: &str, value: &str, errors: &mut ConfigErrors) -> Option<String> {
    let url = if value.contains("://") {
        value.trim_end_matches('/').to_string()
    } else {
        format!("https://{}", value.trim_end_matches('/'))
    };
    let ok = match url.split_once("://") {
        Some(("http" | "https", host)) => !host.is_empty() && !host.contains(['/', ' ', '?', '#']),
        _ => false,
    };
    if ok {
        Some(url)
    } else {
        errors.push(ConfigError::at(
            key,
            format!("`{value}` is not a host name or an http(s) URL without a path (such as `ecs.cn-hangzhou.aliyuncs.com`)"),
        ));
        None
    }
}
