//! The HTTP section: what the built-in server serves (`http_directory` or
//! `http_content`, not both), on `http_bind_address` (`0.0.0.0`) and a
//! port from `http_port_min`..`http_port_max` (8000–9000). Pure; holds
//! nothing.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;
use std::path::PathBuf;

use kiln_sdk::config::{ConfigError, ConfigErrors};

use super::check::{or, range};
use super::raw::Fields;

/// What the built-in HTTP server serves.
#[derive(Debug, Clone)]
pub enum HttpSource {
    /// `http_directory`.
    Directory(PathBuf),
    /// `http_content`: URL path → content.
    Content(BTreeMap<String, String>),
}

/// The built-in HTTP server.
#[derive(Debug, Clone)]
pub struct Http {
    /// What to serve.
    pub source: HttpSource,
    /// `http_bind_address` (`0.0.0.0`).
    pub bind_address: String,
    /// `http_port_min`..=`http_port_max` (8000–9000).
    pub ports: RangeInclusive<u16>,
}

/// Validates the HTTP keys; `None` when there is nothing to serve.
pub(super) fn prepare(f: &Fields, errors: &mut ConfigErrors) -> Option<Http> {
    let ports = range(
        errors,
        ("http_port_min", "http_port_max"),
        (f.http_port_min, f.http_port_max),
        (8000, 9000),
    );
    let source = match (f.http_directory.is_empty(), f.http_content.is_empty()) {
        (false, false) => {
            errors.push(ConfigError::at(
                "http_content",
                "only one of `http_directory` or `http_content` may be specified",
            ));
            None
        }
        (false, true) => Some(HttpSource::Directory(PathBuf::from(&f.http_directory))),
        (true, false) => Some(HttpSource::Content(f.http_content.clone())),
        (true, true) => None,
    };
    source.map(|source| Http {
        source,
        bind_address: or(&f.http_bind_address, "0.0.0.0"),
        ports,
    })
}
