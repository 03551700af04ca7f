//! The boot section: `boot_wait`, the boot command (`boot_command`, one
//! step, or `boot_steps`, each `[keys]` or `[keys, description]`; kept
//! unrendered, but its template syntax and, when literal, its keys are
//! checked), `boot_key_interval` (100ms, or `PACKER_KEY_INTERVAL`) and
//! `boot_keygroup_interval`. Reads `PACKER_KEY_INTERVAL`; holds nothing.

use std::time::Duration;

use kiln_sdk::config::{ConfigError, ConfigErrors};
use kiln_sdk::duration::parse_go_duration;
use kiln_sdk::interpolate;

use super::raw::Fields;
use crate::bootcommand;

/// Booting.
#[derive(Debug, Clone)]
pub struct Boot {
    /// `boot_wait` (10s when there is a boot command). `None` when the
    /// template does not set it: without a boot command, kiln then does
    /// not wait at all (Packer waits 10s for nothing).
    pub wait: Option<Duration>,
    /// `boot_command` (one step, joined) or `boot_steps`, unrendered.
    pub steps: Vec<BootStep>,
    /// `boot_key_interval` (100ms, or `PACKER_KEY_INTERVAL`).
    pub key_interval: Duration,
    /// `boot_keygroup_interval`: accepted and checked; QMP types keys one
    /// by one, as Packer's VNC driver does, so there are no key groups.
    pub keygroup_interval: Option<Duration>,
}

/// One step of the boot command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootStep {
    /// The keys, unrendered.
    pub command: String,
    /// What it does (`boot_steps`' second element).
    pub description: Option<String>,
}

/// Validates the boot keys.
pub(super) fn prepare(f: &Fields, errors: &mut ConfigErrors) -> Boot {
    let wait = (!f.boot_wait.is_empty())
        .then(|| errors.duration("boot_wait", &f.boot_wait, Duration::from_secs(10)));
    let default_interval = std::env::var("PACKER_KEY_INTERVAL")
        .ok()
        .and_then(|v| parse_go_duration(&v).ok())
        .unwrap_or(Duration::from_millis(100));
    let key_interval = errors.duration("boot_key_interval", &f.boot_key_interval, default_interval);
    let keygroup_interval = (!f.boot_keygroup_interval.is_empty()).then(|| {
        errors.duration(
            "boot_keygroup_interval",
            &f.boot_keygroup_interval,
            Duration::ZERO,
        )
    });
    let steps = steps(f, errors);
    for (i, step) in steps.iter().enumerate() {
        let key = if f.boot_steps.is_empty() {
            "boot_command".to_string()
        } else {
            format!("boot_steps[{i}]")
        };
        if let Err(e) = interpolate::check_syntax(&step.command) {
            errors.push(ConfigError::at(key, e.to_string()));
        } else if let Err(e) = bootcommand::parse(&step.command) {
            // Only literal keys can be checked before rendering: a
            // template action may still produce keys.
            if !step.command.contains("{{") {
                errors.push(ConfigError::at(key, e.to_string()));
            }
        }
    }
    Boot {
        wait,
        steps,
        key_interval,
        keygroup_interval,
    }
}

/// `boot_command` as one step, or the `boot_steps`.
fn steps(f: &Fields, errors: &mut ConfigErrors) -> Vec<BootStep> {
    if !f.boot_command.is_empty() && !f.boot_steps.is_empty() {
        errors.push(ConfigError::at(
            "boot_steps",
            "only one of `boot_command` or `boot_steps` may be specified",
        ));
        return Vec::new();
    }
    if !f.boot_command.is_empty() {
        return vec![BootStep {
            command: f.boot_command.concat(),
            description: None,
        }];
    }
    let mut steps = Vec::new();
    for (i, s) in f.boot_steps.iter().enumerate() {
        match s.as_slice() {
            [command] | [command, _] => steps.push(BootStep {
                command: command.clone(),
                description: s.get(1).filter(|d| !d.is_empty()).cloned(),
            }),
            _ => errors.push(ConfigError::at(
                format!("boot_steps[{i}]"),
                format!(
                    "each `boot_steps` entry is `[keys]` or `[keys, description]`, found {} elements",
                    s.len()
                ),
            )),
        }
    }
    steps
}
