//! Picks the free host port (in `host_port_min`..=`host_port_max`) that
//! QEMU's user networking forwards to the guest's communicator port, and
//! holds it with a listener until QEMU starts. Stores it in
//! `QemuState::comm_host_port` and the generated `Host`/`Port`; nothing to
//! undo (StepRun drops the listener).

use std::net::TcpListener;
use std::ops::RangeInclusive;
use std::sync::Arc;

use async_trait::async_trait;
use kiln_sdk::generated;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};
use kiln_ssh::CommunicatorConfig;

use crate::config::{Config, Network};
use crate::QemuState;

/// Binds the first free port of `range` on `addr`, starting at a
/// pseudo-random offset so concurrent builds rarely collide.
pub fn pick_port(addr: &str, range: &RangeInclusive<u16>) -> Option<(u16, TcpListener)> {
    let (lo, hi) = (*range.start() as u32, *range.end() as u32);
    let len = hi - lo + 1;
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0)
        ^ std::process::id();
    (0..len).find_map(|i| {
        let port = (lo + (seed.wrapping_add(i)) % len) as u16;
        TcpListener::bind((addr, port)).ok().map(|l| (port, l))
    })
}

/// See the module docs.
pub struct StepForwardPort {
    config: Arc<Config>,
}

impl StepForwardPort {
    /// The step for `config`.
    pub fn new(config: Arc<Config>) -> Self {
        StepForwardPort { config }
    }
}

#[async_trait]
impl Step<QemuState> for StepForwardPort {
    fn name(&self) -> &'static str {
        "StepForwardPort"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut QemuState,
    ) -> Result<StepAction, StepError> {
        let CommunicatorConfig::Ssh(ssh) = &self.config.communicator else {
            return Ok(StepAction::Continue);
        };
        if self.config.machine.network != (Network::User { forward: true }) {
            let host = if ssh.host.is_empty() {
                "127.0.0.1".to_string()
            } else {
                ssh.host.clone()
            };
            state.generated.insert(generated::HOST.into(), host);
            state
                .generated
                .insert(generated::PORT.into(), ssh.port.to_string());
            return Ok(StepAction::Continue);
        }
        let range = &self.config.host_ports;
        cx.ui.say(&format!(
            "Looking for available communicator (SSH, WinRM, etc) port between {} and {}",
            range.start(),
            range.end()
        ));
        let (port, hold) = pick_port("127.0.0.1", range).ok_or_else(|| {
            StepError::msg(format!(
                "no free port between {} and {} (`host_port_min` / `host_port_max`)",
                range.start(),
                range.end()
            ))
        })?;
        state.comm_host_port = Some(port);
        state.port_holds.push(hold);
        state
            .generated
            .insert(generated::HOST.into(), "127.0.0.1".into());
        state
            .generated
            .insert(generated::PORT.into(), port.to_string());
        Ok(StepAction::Continue)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_a_free_port_in_range() {
        let (p, _hold) = pick_port("127.0.0.1", &(20000..=20010)).unwrap();
        assert!((20000..=20010).contains(&p));
        assert!(
            pick_port("127.0.0.1", &(p..=p)).is_none(),
            "a held port is not free"
        );
    }
}
