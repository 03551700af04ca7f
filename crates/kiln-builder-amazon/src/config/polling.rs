//! The polling section (Packer's `AWSPollingConfig`): `aws_polling`'s
//! `delay_seconds` and `max_attempts`, with the SDK's
//! `AWS_POLL_DELAY_SECONDS` / `AWS_MAX_ATTEMPTS` overrides for what the
//! template leaves unset. Pure but for reading those two variables; holds
//! nothing.

use std::time::Duration;

use kiln_sdk::config::{ConfigError, ConfigErrors};
use serde::Deserialize;

use super::raw::one_block;

/// The polling keys as the template writes them.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct RawPollingSection {
    #[serde(deserialize_with = "one_block")]
    pub(super) aws_polling: Option<RawPolling>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawPolling {
    pub(super) delay_seconds: Option<u64>,
    pub(super) max_attempts: Option<u32>,
}

/// `aws_polling`: how waiters poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Polling {
    /// `delay_seconds`.
    pub delay: Duration,
    /// `max_attempts`.
    pub max_attempts: u32,
}

/// Packer's default `aws_polling`: the SDK waiters' 15 s, 40 attempts.
pub const DEFAULT_POLLING: Polling = Polling {
    delay: Duration::from_secs(15),
    max_attempts: 40,
};

/// Validates `aws_polling`.
pub(super) fn prepare(r: &RawPollingSection, errors: &mut ConfigErrors) -> Polling {
    let given = r.aws_polling.as_ref();
    if given.and_then(|p| p.max_attempts) == Some(0) {
        errors.push(ConfigError::at(
            "aws_polling.max_attempts",
            "`max_attempts` must be at least 1",
        ));
    }
    // Packer honours the SDK's environment overrides for what the
    // template leaves unset.
    let env = |name: &str| std::env::var(name).ok();
    let delay = given
        .and_then(|p| p.delay_seconds)
        .or_else(|| env("AWS_POLL_DELAY_SECONDS").and_then(|v| v.parse().ok()))
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_POLLING.delay);
    let max_attempts = match given.and_then(|p| p.max_attempts) {
        Some(n) => n.max(1),
        None => env("AWS_MAX_ATTEMPTS")
            .and_then(|v| v.parse().ok())
            .unwrap_or(DEFAULT_POLLING.max_attempts),
    };
    Polling {
        delay,
        max_attempts,
    }
}
