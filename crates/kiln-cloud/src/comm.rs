//! The connection every cloud builder's state carries, wired once: the
//! address the communicator connects to (an `ssh_host: Option<String>`
//! field), the connection (`communicator: Option<Arc<SshCommunicator>>`)
//! and the generated data for provisioners (`generated: BTreeMap<String,
//! String>`). [`impl_ssh_state!`](crate::impl_ssh_state) implements
//! kiln-ssh's `SshState` (which `StepConnect` fills in) and kiln-sdk's
//! `HasCommunicator` (which `StepProvision` reads) on a state with those
//! three fields. Holds nothing; the connection closes when the state drops
//! it (`StepConnect`'s cleanup).

use std::sync::Arc;

use kiln_sdk::communicator::{Communicator, NoCommunicator};
use kiln_ssh::SshCommunicator;

/// The paths [`impl_ssh_state!`](crate::impl_ssh_state) expands to.
#[doc(hidden)]
pub mod __private {
    pub use kiln_sdk::communicator::Communicator;
    pub use kiln_sdk::component::GeneratedData;
    pub use kiln_sdk::steps::HasCommunicator;
    pub use kiln_ssh::{SshCommunicator, SshState};
}

/// The connected communicator, or kiln-sdk's `NoCommunicator` before
/// `StepConnect` has connected (and with `communicator: none`).
pub fn connected(communicator: &Option<Arc<SshCommunicator>>) -> Arc<dyn Communicator> {
    match communicator {
        Some(c) => c.clone(),
        None => Arc::new(NoCommunicator),
    }
}

/// Implements `SshState` and `HasCommunicator` on a builder's step state
/// with the fields `ssh_host`, `communicator` and `generated` (see the
/// [module docs](crate::comm)): `kiln_cloud::impl_ssh_state!(AlicloudState);`.
#[macro_export]
macro_rules! impl_ssh_state {
    ($state:ty) => {
        impl $crate::comm::__private::SshState for $state {
            fn ssh_host(&self) -> ::std::option::Option<::std::string::String> {
                self.ssh_host.clone()
            }
            fn set_ssh_communicator(
                &mut self,
                communicator: ::std::option::Option<
                    ::std::sync::Arc<$crate::comm::__private::SshCommunicator>,
                >,
            ) {
                self.communicator = communicator;
            }
        }

        impl $crate::comm::__private::HasCommunicator for $state {
            fn communicator(&self) -> ::std::sync::Arc<dyn $crate::comm::__private::Communicator> {
                $crate::comm::connected(&self.communicator)
            }
            fn generated(&self) -> $crate::comm::__private::GeneratedData {
                ::std::sync::Arc::new(self.generated.clone())
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use kiln_sdk::communicator::{CommandOutput, CommunicatorError, RemoteCommand};
    use kiln_sdk::steps::HasCommunicator;
    use kiln_ssh::{SshCommunicator, SshState};

    struct State {
        ssh_host: Option<String>,
        communicator: Option<Arc<SshCommunicator>>,
        generated: BTreeMap<String, String>,
    }

    crate::impl_ssh_state!(State);

    #[tokio::test]
    async fn a_state_reads_its_fields_and_has_no_communicator_before_connecting() {
        let mut s = State {
            ssh_host: Some("10.0.0.1".into()),
            communicator: None,
            generated: BTreeMap::from([("ID".to_string(), "i-1".to_string())]),
        };
        assert_eq!(s.ssh_host(), Some("10.0.0.1".to_string()));
        assert_eq!(s.generated()["ID"], "i-1");
        let out = CommandOutput {
            stdout: &|_| {},
            stderr: &|_| {},
        };
        let cmd = RemoteCommand {
            command: "uptime".into(),
        };
        let e = s.communicator().start(&cmd, out).await.unwrap_err();
        assert!(matches!(e, CommunicatorError::None(_)), "{e}");
        s.set_ssh_communicator(None);
        assert!(s.communicator.is_none());
    }
}
