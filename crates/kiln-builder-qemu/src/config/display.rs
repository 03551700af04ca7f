//! The display and VNC section: how the screen is shown (`headless`,
//! `display`, `use_default_display`) and the VNC server (`disable_vnc`,
//! `vnc_bind_address`, `vnc_port_min`..`vnc_port_max`, `vnc_use_password`,
//! `vnc_password`, which is registered with the redactor). Pure; holds
//! nothing.

use std::ops::RangeInclusive;

use kiln_sdk::config::{ConfigError, ConfigErrors};
use kiln_sdk::secret::Secret;
use kiln_sdk::PrepareContext;

use super::check::{or, range};
use super::raw::Fields;

/// How the VM's screen is shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Display {
    /// `headless`: VNC only.
    Headless,
    /// `-display VALUE` (`display`, else gtk as in Packer).
    Window(String),
    /// `use_default_display`: QEMU's own choice.
    QemuDefault,
}

/// VNC.
#[derive(Debug, Clone)]
pub struct Vnc {
    /// `vnc_bind_address` (`127.0.0.1`).
    pub bind_address: String,
    /// `vnc_port_min`..=`vnc_port_max` (5900–6000).
    pub ports: RangeInclusive<u16>,
    /// `vnc_use_password`.
    pub password: Option<VncPassword>,
}

/// The VNC password.
#[derive(Debug, Clone)]
pub enum VncPassword {
    /// `vnc_password`.
    Given(Secret<String>),
    /// Random, made at run time (as Packer does when `vnc_password` is
    /// empty).
    Generated,
}

/// The display: nothing to get wrong.
pub(super) fn display(f: &Fields) -> Display {
    if f.headless {
        Display::Headless
    } else if !f.display.is_empty() {
        Display::Window(f.display.clone())
    } else if f.use_default_display {
        Display::QemuDefault
    } else {
        Display::Window("gtk".into())
    }
}

/// Validates the VNC keys; `None` with `disable_vnc`.
pub(super) fn prepare(f: &Fields, cx: &PrepareContext, errors: &mut ConfigErrors) -> Option<Vnc> {
    let ports = range(
        errors,
        ("vnc_port_min", "vnc_port_max"),
        (f.vnc_port_min, f.vnc_port_max),
        (5900, 6000),
    );
    if *ports.start() < 5900 {
        errors.push(ConfigError::at(
            "vnc_port_min",
            format!(
                "`vnc_port_min` must be at least 5900 (QEMU counts displays from there), found `{}`",
                ports.start()
            ),
        ));
    }
    let password = f.vnc_password.clone().filter(|p| !p.expose().is_empty());
    if let Some(p) = &password {
        cx.redactor.add(p.expose().clone());
        if !f.vnc_use_password {
            errors.push(ConfigError::at(
                "vnc_password",
                "`vnc_password` needs `vnc_use_password: true`",
            ));
        }
    }
    if f.disable_vnc && f.vnc_use_password {
        errors.push(ConfigError::at(
            "vnc_use_password",
            "`vnc_use_password` cannot be used with `disable_vnc`",
        ));
    }
    (!f.disable_vnc).then(|| Vnc {
        bind_address: or(&f.vnc_bind_address, "127.0.0.1"),
        ports,
        password: f.vnc_use_password.then_some(match password {
            Some(p) => VncPassword::Given(p),
            None => VncPassword::Generated,
        }),
    })
}
