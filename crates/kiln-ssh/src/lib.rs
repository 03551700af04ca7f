//! kiln-ssh: the SSH communicator. [`config`] decodes Packer's
//! `communicator` / `ssh_*` keys into a typed [`SshConfig`] that builders
//! flatten into their own config ([`decode_with_communicator`]);
//! [`StepConnect`] waits for sshd and connects (direct, through a SOCKS5
//! proxy or a bastion); [`SshCommunicator`] runs commands and moves files
//! over SFTP or SCP; [`keys`] makes temporary key pairs and
//! [`StepCleanupTempKeys`] removes them from the machine afterwards
//! (`ssh_clear_authorized_keys`).
//!
//! Resources: the connection lives in the communicator that `StepConnect`
//! stores in the builder's state; the step's cleanup drops it, which closes
//! the session (and the bastion's). russh is wrapped entirely: no russh type
//! appears in kiln-sdk.

pub mod comm;
pub mod config;
pub mod connect;
pub mod keys;
mod quick_ack;
pub mod step;
pub mod step_cleanup_temp_keys;

pub use comm::{shell_quote, SshCommunicator};
pub use config::{
    decode_with_communicator, field_names, prepare, CommunicatorConfig, KeyPairType, SshConfig,
    TransferMethod,
};
pub use connect::{connect_once, ConnectError, Connection};
pub use keys::TemporaryKeyPair;
pub use step::{wait_for_ssh, SshState, StepConnect, WaitError};
pub use step_cleanup_temp_keys::{clear_authorized_keys, StepCleanupTempKeys};

/// The generated data a builder that connects over SSH provides to
/// provisioners (`{{ build `Host` }}`…), as Packer's builders declare it.
pub const GENERATED_DATA_KEYS: &[&str] = kiln_sdk::generated::SSH_KEYS;
