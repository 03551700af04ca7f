//! The communicator configuration every builder flattens into its own:
//! `communicator` plus Packer's `ssh_*` keys, decoded and validated by
//! [`prepare`] into a typed [`CommunicatorConfig`] (durations as
//! `Duration`, ports as `u16`, enums instead of flags).
//!
//! `prepare` collects every error. Its only I/O is reading the private key
//! and certificate files the template names, as Packer does at validate
//! time: their contents must be registered with the redactor before any
//! output is produced. Holds no resources; nothing to clean up.

use std::path::PathBuf;
use std::time::Duration;

use kiln_sdk::config::{decode, decode_lenient, struct_fields, DecodeOptions};
use kiln_sdk::{ConfigError, ConfigErrors, PrepareContext, RawConfig, Secret};
use serde::de::DeserializeOwned;
use serde::Deserialize;

/// Packer's default `ssh_timeout`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);
/// Packer's default `ssh_handshake_attempts`.
pub const DEFAULT_HANDSHAKE_ATTEMPTS: u32 = 10;

/// The keys exactly as a template writes them.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Fields {
    communicator: String,
    ssh_host: String,
    ssh_port: Option<u16>,
    ssh_username: String,
    ssh_password: Option<Secret<String>>,
    ssh_private_key_file: String,
    ssh_agent_auth: bool,
    ssh_certificate_file: String,
    ssh_timeout: String,
    /// The deprecated spelling of `ssh_timeout`; it wins when both are set
    /// (Packer's communicator config: "Backwards compatibility").
    ssh_wait_timeout: String,
    ssh_handshake_attempts: Option<u32>,
    pause_before_connecting: String,
    ssh_keep_alive_interval: String,
    ssh_read_write_timeout: String,
    ssh_pty: bool,
    ssh_disable_agent_forwarding: bool,
    ssh_clear_authorized_keys: bool,
    ssh_bastion_host: String,
    ssh_bastion_port: Option<u16>,
    ssh_bastion_username: String,
    ssh_bastion_password: Option<Secret<String>>,
    ssh_bastion_private_key_file: String,
    ssh_bastion_agent_auth: bool,
    ssh_proxy_host: String,
    ssh_proxy_port: Option<u16>,
    ssh_proxy_username: String,
    ssh_proxy_password: Option<Secret<String>>,
    ssh_temporary_key_pair_type: String,
    ssh_temporary_key_pair_bits: Option<u32>,
    /// Packer's names (packer-plugin-sdk `communicator.SSH` and
    /// `SSHTemporaryKeyPair`; packer 1.6.6 accepts them on every builder).
    /// `_type`/`_bits` win over kiln's older `ssh_` spellings.
    temporary_key_pair_name: String,
    temporary_key_pair_type: String,
    temporary_key_pair_bits: Option<u32>,
    ssh_file_transfer_method: String,
    ssh_host_key: String,
    ssh_known_hosts_file: String,
}

/// The communicator's key names, for a builder's
/// [`DecodeOptions::extra_fields`].
pub fn field_names() -> &'static [&'static str] {
    struct_fields::<Fields>()
}

/// Which communicator a build uses.
#[derive(Debug, Clone)]
pub enum CommunicatorConfig {
    /// `communicator: none`.
    None,
    /// `communicator: ssh` (the default).
    Ssh(Box<SshConfig>),
}

impl CommunicatorConfig {
    /// The template spelling: `none` or `ssh`.
    pub fn kind(&self) -> &'static str {
        match self {
            CommunicatorConfig::None => "none",
            CommunicatorConfig::Ssh(_) => "ssh",
        }
    }
}

/// How files travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferMethod {
    /// The SFTP subsystem (kiln's default).
    Sftp,
    /// `scp -t` / `scp -f` over exec (Packer's default).
    Scp,
}

/// The type of a temporary key pair a builder generates and injects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPairType {
    /// ed25519 (kiln's default: instant to generate).
    Ed25519,
    /// RSA with this many bits (Packer's default type, 2048 bits).
    Rsa(u32),
}

/// A private key read at prepare time.
#[derive(Clone)]
pub struct KeyFile {
    /// The path as the template gave it.
    pub path: String,
    /// The file's contents (OpenSSH or PEM).
    pub pem: Secret<String>,
}

impl std::fmt::Debug for KeyFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyFile")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// How to authenticate to one host. Methods are tried in the order agent,
/// key, password.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    /// The user name.
    pub username: String,
    /// `ssh_password` (also answers keyboard-interactive prompts).
    pub password: Option<Secret<String>>,
    /// `ssh_private_key_file`.
    pub private_key: Option<KeyFile>,
    /// `ssh_certificate_file`, used with the private key.
    pub certificate: Option<KeyFile>,
    /// `ssh_agent_auth`: the keys of the agent at `SSH_AUTH_SOCK`.
    pub agent: bool,
    /// A key the builder generated and injected (a temporary key pair).
    pub temporary_key: Option<Secret<std::sync::Arc<russh::keys::PrivateKey>>>,
}

/// A jump host (`ssh_bastion_*`).
#[derive(Debug, Clone)]
pub struct Bastion {
    /// Host name or address.
    pub host: String,
    /// Port (22).
    pub port: u16,
    /// How to log in to the bastion.
    pub credentials: Credentials,
}

/// A SOCKS5 proxy (`ssh_proxy_*`).
#[derive(Debug, Clone)]
pub struct Proxy {
    /// Host name or address.
    pub host: String,
    /// Port (1080).
    pub port: u16,
    /// Optional user name / password authentication.
    pub username: Option<String>,
    /// The proxy password.
    pub password: Option<Secret<String>>,
}

/// Which host keys are accepted.
#[derive(Debug, Clone, Default)]
pub enum HostKeyPolicy {
    /// Any key (Packer's behaviour: machines being built are new).
    #[default]
    AcceptAny,
    /// Only this key (`ssh_host_key`, an `authorized_keys`-style line).
    Pinned(String),
    /// Only keys listed for the host in this known_hosts file.
    KnownHosts(PathBuf),
}

/// A validated SSH communicator configuration.
#[derive(Debug, Clone)]
pub struct SshConfig {
    /// `ssh_host`; builders that discover the address override it.
    pub host: String,
    /// `ssh_port` (22).
    pub port: u16,
    /// Credentials for the target.
    pub credentials: Credentials,
    /// `ssh_timeout` (5m).
    pub timeout: Duration,
    /// `ssh_handshake_attempts` (10).
    pub handshake_attempts: u32,
    /// `pause_before_connecting`.
    pub pause_before_connecting: Duration,
    /// `ssh_keep_alive_interval` (5s; zero disables).
    pub keep_alive_interval: Duration,
    /// `ssh_read_write_timeout` (none).
    pub read_write_timeout: Option<Duration>,
    /// `ssh_pty`.
    pub pty: bool,
    /// `ssh_disable_agent_forwarding`.
    pub disable_agent_forwarding: bool,
    /// `ssh_clear_authorized_keys`.
    pub clear_authorized_keys: bool,
    /// `ssh_bastion_*`.
    pub bastion: Option<Bastion>,
    /// `ssh_proxy_*`.
    pub proxy: Option<Proxy>,
    /// `temporary_key_pair_type` / `_bits`.
    pub temporary_key_pair: KeyPairType,
    /// `temporary_key_pair_name`: what a builder that registers the
    /// temporary key pair with its cloud names it (Packer's default is
    /// `packer_<uuid>`, chosen by the builder).
    pub temporary_key_pair_name: Option<String>,
    /// `ssh_file_transfer_method`.
    pub transfer: TransferMethod,
    /// `ssh_host_key` / `ssh_known_hosts_file`.
    pub host_key: HostKeyPolicy,
}

/// Decodes a builder's config `T` and the communicator config from the
/// same raw block: `T` must not declare the communicator's keys; each
/// decode accepts the other's keys, so unknown keys are reported once.
pub fn decode_with_communicator<T: DeserializeOwned>(
    raw: &RawConfig,
    cx: &PrepareContext,
    skip_interpolation: &[&str],
) -> Result<(T, CommunicatorConfig), ConfigErrors> {
    let builder = decode::<T>(
        raw,
        &DecodeOptions {
            interpolate: Some(&cx.interpolation),
            skip_interpolation,
            extra_fields: field_names(),
        },
    );
    let mut comm = prepare(raw, cx);
    // `decode` cannot see the fields of a struct without any (the null
    // builder's): report its unknown keys here.
    if struct_fields::<T>().is_empty() {
        let mut unknown = ConfigErrors::new();
        for key in raw.values.keys() {
            if !field_names().contains(&key.as_str()) {
                let mut e =
                    ConfigError::at(key.clone(), format!("unknown configuration key `{key}`"));
                if let Some(s) = kiln_sdk::config::did_you_mean(key, field_names().iter().copied())
                {
                    e = e.with_hint(format!("did you mean `{s}`?"));
                }
                unknown.push(e);
            }
        }
        if !unknown.is_empty() {
            let mut all = unknown.locate(raw);
            all.0.extend(comm.err().into_iter().flat_map(|e| e.0));
            comm = Err(all);
        }
    }
    match (builder, comm) {
        (Ok(b), Ok(c)) => Ok((b, c)),
        (b, c) => {
            let mut errors = ConfigErrors::new();
            errors.0.extend(b.err().into_iter().flat_map(|e| e.0));
            errors.0.extend(c.err().into_iter().flat_map(|e| e.0));
            Err(errors)
        }
    }
}

/// Decodes and validates the communicator keys of `raw` (other keys are
/// ignored), registering every secret with the redactor.
pub fn prepare(raw: &RawConfig, cx: &PrepareContext) -> Result<CommunicatorConfig, ConfigErrors> {
    let names = field_names();
    let mut only = raw.clone();
    only.values.retain(|k, _| names.contains(&k.as_str()));
    let (f, mut errors) = decode_lenient::<Fields>(
        &only,
        &DecodeOptions {
            interpolate: Some(&cx.interpolation),
            ..Default::default()
        },
    );
    let Some(f) = f else {
        return Err(errors);
    };
    for secret in [
        &f.ssh_password,
        &f.ssh_bastion_password,
        &f.ssh_proxy_password,
    ]
    .into_iter()
    .flatten()
    {
        cx.redactor.add(secret.expose().clone());
    }

    // Durations are decoded whatever the communicator, as Packer's
    // mapstructure decoding does (`communicator: none` with a bad
    // `ssh_timeout` is an error there too).
    let timeout = errors.duration("ssh_timeout", &f.ssh_timeout, DEFAULT_TIMEOUT);
    let timeout = match errors.duration("ssh_wait_timeout", &f.ssh_wait_timeout, Duration::ZERO) {
        Duration::ZERO => timeout,
        wait => wait,
    };
    let pause_before_connecting = errors.duration(
        "pause_before_connecting",
        &f.pause_before_connecting,
        Duration::ZERO,
    );
    let keep_alive_interval = errors.duration(
        "ssh_keep_alive_interval",
        &f.ssh_keep_alive_interval,
        Duration::from_secs(5),
    );
    let read_write_timeout = errors.duration(
        "ssh_read_write_timeout",
        &f.ssh_read_write_timeout,
        Duration::ZERO,
    );

    match f.communicator.as_str() {
        "" | "ssh" => {}
        "none" => return errors.locate(raw).into_result(CommunicatorConfig::None),
        "winrm" => {
            errors.push(ConfigError::at(
                "communicator",
                "the `winrm` communicator is not supported by kiln",
            ));
            return Err(errors.locate(raw));
        }
        other => {
            errors.push(
                ConfigError::at("communicator", format!("unknown communicator `{other}`"))
                    .with_hint("use `ssh` or `none`"),
            );
            return Err(errors.locate(raw));
        }
    }

    if f.ssh_username.is_empty() {
        errors.push(
            ConfigError::at("ssh_username", "an `ssh_username` must be specified")
                .with_hint("some builders used to default `ssh_username` to `root`"),
        );
    }
    let private_key = read_key(
        cx,
        "ssh_private_key_file",
        &f.ssh_private_key_file,
        &mut errors,
    );
    let certificate = read_key(
        cx,
        "ssh_certificate_file",
        &f.ssh_certificate_file,
        &mut errors,
    );
    if certificate.is_some() && private_key.is_none() {
        errors.push(ConfigError::at(
            "ssh_certificate_file",
            "`ssh_certificate_file` needs `ssh_private_key_file` (the certificate's key)",
        ));
    }

    let bastion = if f.ssh_bastion_host.is_empty() {
        None
    } else {
        let key = read_key(
            cx,
            "ssh_bastion_private_key_file",
            &f.ssh_bastion_private_key_file,
            &mut errors,
        );
        if f.ssh_bastion_password.is_none() && key.is_none() && !f.ssh_bastion_agent_auth {
            errors.push(ConfigError::at(
                "ssh_bastion_host",
                "`ssh_bastion_password`, `ssh_bastion_private_key_file` or `ssh_bastion_agent_auth` must be specified",
            ));
        }
        Some(Bastion {
            host: f.ssh_bastion_host.clone(),
            port: nonzero_port(f.ssh_bastion_port, 22, "ssh_bastion_port", &mut errors),
            credentials: Credentials {
                username: if f.ssh_bastion_username.is_empty() {
                    f.ssh_username.clone()
                } else {
                    f.ssh_bastion_username.clone()
                },
                password: f.ssh_bastion_password.clone(),
                private_key: key,
                certificate: None,
                agent: f.ssh_bastion_agent_auth,
                temporary_key: None,
            },
        })
    };

    let proxy = if f.ssh_proxy_host.is_empty() {
        None
    } else {
        if bastion.is_some() {
            errors.push(ConfigError::at(
                "ssh_proxy_host",
                "`ssh_proxy_host` and `ssh_bastion_host` cannot be combined",
            ));
        }
        Some(Proxy {
            host: f.ssh_proxy_host.clone(),
            port: nonzero_port(f.ssh_proxy_port, 1080, "ssh_proxy_port", &mut errors),
            username: (!f.ssh_proxy_username.is_empty()).then(|| f.ssh_proxy_username.clone()),
            password: f.ssh_proxy_password.clone(),
        })
    };

    let (type_key, pair_type) = if f.temporary_key_pair_type.is_empty() {
        (
            "ssh_temporary_key_pair_type",
            f.ssh_temporary_key_pair_type.as_str(),
        )
    } else {
        (
            "temporary_key_pair_type",
            f.temporary_key_pair_type.as_str(),
        )
    };
    let (bits_key, pair_bits) = match f.temporary_key_pair_bits {
        Some(bits) => ("temporary_key_pair_bits", Some(bits)),
        None => ("ssh_temporary_key_pair_bits", f.ssh_temporary_key_pair_bits),
    };
    let temporary_key_pair = match pair_type {
        "" | "ed25519" => {
            if pair_bits.is_some() {
                errors.push(ConfigError::at(
                    bits_key,
                    format!("`{bits_key}` applies to `rsa` key pairs only"),
                ));
            }
            KeyPairType::Ed25519
        }
        "rsa" => {
            let bits = pair_bits.unwrap_or(2048);
            if !(2048..=16384).contains(&bits) {
                errors.push(ConfigError::at(
                    bits_key,
                    format!("`{bits}` bits is out of range: rsa keys need 2048 to 16384 bits"),
                ));
            }
            KeyPairType::Rsa(bits)
        }
        other => {
            errors.push(ConfigError::at(
                type_key,
                format!("unknown key pair type `{other}`; expected `ed25519` or `rsa`"),
            ));
            KeyPairType::Ed25519
        }
    };

    let transfer = match f.ssh_file_transfer_method.as_str() {
        "" | "sftp" => TransferMethod::Sftp,
        "scp" => TransferMethod::Scp,
        other => {
            errors.push(ConfigError::at(
                "ssh_file_transfer_method",
                format!("unknown transfer method `{other}`; expected `sftp` or `scp`"),
            ));
            TransferMethod::Sftp
        }
    };

    let host_key = match (f.ssh_host_key.is_empty(), f.ssh_known_hosts_file.is_empty()) {
        (true, true) => HostKeyPolicy::AcceptAny,
        (false, true) => {
            if let Err(e) = russh::keys::ssh_key::PublicKey::from_openssh(f.ssh_host_key.trim()) {
                errors.push(ConfigError::at(
                    "ssh_host_key",
                    format!(
                        "`{}` is not a public key like `ssh-ed25519 AAAA…`: {e}",
                        f.ssh_host_key
                    ),
                ));
            }
            HostKeyPolicy::Pinned(f.ssh_host_key.trim().to_string())
        }
        (true, false) => HostKeyPolicy::KnownHosts(PathBuf::from(&f.ssh_known_hosts_file)),
        (false, false) => {
            errors.push(ConfigError::at(
                "ssh_known_hosts_file",
                "only one of `ssh_host_key` and `ssh_known_hosts_file` may be set",
            ));
            HostKeyPolicy::AcceptAny
        }
    };

    let config = SshConfig {
        host: f.ssh_host,
        port: nonzero_port(f.ssh_port, 22, "ssh_port", &mut errors),
        credentials: Credentials {
            username: f.ssh_username,
            password: f.ssh_password,
            private_key,
            certificate,
            agent: f.ssh_agent_auth,
            temporary_key: None,
        },
        timeout,
        handshake_attempts: match f.ssh_handshake_attempts {
            None | Some(0) => DEFAULT_HANDSHAKE_ATTEMPTS,
            Some(n) => n,
        },
        pause_before_connecting,
        keep_alive_interval,
        read_write_timeout: (!read_write_timeout.is_zero()).then_some(read_write_timeout),
        pty: f.ssh_pty,
        disable_agent_forwarding: f.ssh_disable_agent_forwarding,
        clear_authorized_keys: f.ssh_clear_authorized_keys,
        bastion,
        proxy,
        temporary_key_pair,
        temporary_key_pair_name: (!f.temporary_key_pair_name.is_empty())
            .then(|| f.temporary_key_pair_name.clone()),
        transfer,
        host_key,
    };
    if errors.is_empty() {
        Ok(CommunicatorConfig::Ssh(Box::new(config)))
    } else {
        Err(errors.locate(raw))
    }
}

fn nonzero_port(p: Option<u16>, default: u16, key: &str, errors: &mut ConfigErrors) -> u16 {
    match p {
        None => default,
        Some(0) => {
            errors.push(ConfigError::at(key, "port `0` is not a valid port"));
            default
        }
        Some(p) => p,
    }
}

/// Reads a key or certificate file and registers its contents (whole, and
/// each line long enough to identify it) with the redactor.
fn read_key(
    cx: &PrepareContext,
    key: &str,
    path: &str,
    errors: &mut ConfigErrors,
) -> Option<KeyFile> {
    if path.is_empty() {
        return None;
    }
    let expanded = expand_home(path);
    match std::fs::read_to_string(&expanded) {
        Ok(pem) => {
            if key != "ssh_certificate_file" {
                register_key_material(&cx.redactor, &pem);
                // Packer 1.6.6 parses the key at validate (`Failed to read
                // key 'x': no key found`). A key encrypted with a passphrase
                // passes here; connecting says what to do with it.
                if let Err(message) = crate::connect::parse_key(path, &pem) {
                    errors.push(ConfigError::at(key, message).with_hint(format!(
                        "`{key}` must name a private key file, such as one `ssh-keygen` writes"
                    )));
                    return None;
                }
            }
            Some(KeyFile {
                path: path.to_string(),
                pem: Secret::new(pem),
            })
        }
        Err(e) => {
            errors.push(ConfigError::at(key, format!("cannot read `{path}`: {e}")));
            None
        }
    }
}

/// Registers private key text with the redactor: the whole text and every
/// line of it that is not a `-----BEGIN`/`END` marker, so a key printed
/// line by line is scrubbed too.
pub fn register_key_material(redactor: &kiln_sdk::ui::Redactor, pem: &str) {
    redactor.add(pem.trim().to_string());
    for line in pem.lines() {
        let line = line.trim();
        if line.len() >= 16 && !line.starts_with("-----") {
            redactor.add(line.to_string());
        }
    }
}

/// `~/x` → `$HOME/x`, as Packer does for key paths.
pub(crate) fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_test::prepare_cx;
    use serde_json::json;

    /// A minimal password-authenticated SSH config with `extra` keys added.
    fn minimal_with(extra: serde_json::Value) -> Result<SshConfig, String> {
        let mut v = json!({"ssh_host": "h", "ssh_username": "u", "ssh_password": "p"});
        v.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        ssh(v)
    }

    fn ssh(v: serde_json::Value) -> Result<SshConfig, String> {
        match prepare(&RawConfig::from_value(v), &prepare_cx("null")) {
            Ok(CommunicatorConfig::Ssh(c)) => Ok(*c),
            Ok(CommunicatorConfig::None) => Err("none".into()),
            Err(e) => Err(e.to_string()),
        }
    }

    #[test]
    fn applies_packer_defaults() {
        let c = ssh(json!({"ssh_host": "h", "ssh_username": "u", "ssh_password": "p"})).unwrap();
        assert_eq!(c.port, 22);
        assert_eq!(c.timeout, Duration::from_secs(300));
        assert_eq!(c.handshake_attempts, 10);
        assert_eq!(c.transfer, TransferMethod::Sftp);
        assert_eq!(c.temporary_key_pair, KeyPairType::Ed25519);
        assert!(matches!(c.host_key, HostKeyPolicy::AcceptAny));
        assert_eq!(c.read_write_timeout, None);
    }

    #[test]
    fn collects_every_error() {
        let e = ssh(json!({
            "ssh_timeout": "5x", "ssh_port": 0, "ssh_file_transfer_method": "ftp",
            "ssh_temporary_key_pair_type": "dsa", "ssh_private_key_file": "/nonexistent/key",
            "ssh_bastion_host": "b", "ssh_host_key": "garbage",
        }))
        .unwrap_err();
        for needle in [
            "`ssh_timeout`",
            "`ssh_username`: an `ssh_username` must be specified",
            "`ssh_port`: port `0`",
            "unknown transfer method `ftp`",
            "unknown key pair type `dsa`",
            "cannot read `/nonexistent/key`",
            "`ssh_bastion_password`, `ssh_bastion_private_key_file`",
            "`ssh_host_key`: `garbage` is not a public key",
        ] {
            assert!(e.contains(needle), "missing {needle:?} in:\n{e}");
        }
    }

    #[test]
    fn ssh_wait_timeout_is_the_old_name_of_ssh_timeout() {
        // packer-plugin-sdk communicator/config.go, prepareSSH: "Backwards
        // compatibility: if SSHWaitTimeout != 0, SSHTimeout = SSHWaitTimeout".
        let with = minimal_with;
        let c = with(json!({"ssh_wait_timeout": "7s"})).unwrap();
        assert_eq!(c.timeout, Duration::from_secs(7));
        let c = with(json!({"ssh_wait_timeout": "7s", "ssh_timeout": "1h"})).unwrap();
        assert_eq!(c.timeout, Duration::from_secs(7));
        let c = with(json!({"ssh_wait_timeout": "", "ssh_timeout": "1h"})).unwrap();
        assert_eq!(c.timeout, Duration::from_secs(3600));
        let e = with(json!({"ssh_wait_timeout": "soon"})).unwrap_err();
        assert!(e.contains("`ssh_wait_timeout`"), "{e}");
    }

    #[test]
    fn none_and_unknown_communicators() {
        assert_eq!(ssh(json!({"communicator": "none"})).unwrap_err(), "none");
        assert!(ssh(json!({"communicator": "telnet"}))
            .unwrap_err()
            .contains("unknown communicator `telnet`"));
    }

    #[test]
    fn registers_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("k");
        let pair =
            crate::keys::TemporaryKeyPair::generate(KeyPairType::Ed25519, "t", None).unwrap();
        let pem = pair.private_openssh.expose().to_string();
        std::fs::write(&key, &pem).unwrap();
        let line = pem.lines().nth(1).unwrap().to_string();
        let c = prepare_cx("null");
        let r = prepare(
            &RawConfig::from_value(json!({
                "ssh_username": "u", "ssh_password": "hunter2",
                "ssh_private_key_file": key, "ssh_temporary_key_pair_type": "rsa",
            })),
            &c,
        );
        assert!(r.is_ok(), "{:?}", r.err());
        assert_eq!(
            c.redactor.redact(&format!("hunter2 {line}")),
            "<sensitive> <sensitive>"
        );
    }

    #[test]
    fn reads_the_private_key_at_prepare() {
        // packer 1.6.6 `validate`: `ssh_private_key_file is invalid: Error
        // setting up SSH config: Failed to read key 'id_test': no key
        // found` (and the same for `ssh_bastion_private_key_file`).
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("id_test");
        std::fs::write(
            &bad,
            "-----BEGIN OPENSSH PRIVATE KEY-----\nnot a real key\n-----END OPENSSH PRIVATE KEY-----\n",
        )
        .unwrap();
        let bad = bad.to_str().unwrap();
        let e = ssh(json!({
            "ssh_username": "u", "ssh_private_key_file": bad,
            "ssh_bastion_host": "b", "ssh_bastion_private_key_file": bad,
        }))
        .unwrap_err();
        for key in ["ssh_private_key_file", "ssh_bastion_private_key_file"] {
            assert!(
                e.contains(&format!(
                    "`{key}`: cannot parse private key `{bad}`: no key found ("
                )),
                "{e}"
            );
        }
        assert!(
            e.contains("hint: `ssh_private_key_file` must name a private key file"),
            "{e}"
        );
        assert!(!e.contains("not a real key"), "{e}");

        // A key encrypted with a passphrase passes prepare, as before:
        // connecting says what to do with it (tests/sshd.rs).
        let enc = dir.path().join("id_enc");
        let out = std::process::Command::new("ssh-keygen")
            .args(["-q", "-N", "secret-passphrase", "-t", "ed25519", "-f"])
            .arg(&enc)
            .output()
            .expect("ssh-keygen");
        assert!(out.status.success(), "{out:?}");
        ssh(json!({"ssh_username": "u", "ssh_private_key_file": enc}))
            .unwrap_or_else(|e| panic!("{e}"));
    }

    #[test]
    fn decodes_alongside_a_builder_config() {
        #[derive(Deserialize)]
        #[allow(dead_code)]
        struct B {
            #[serde(default)]
            image: String,
        }
        let raw = RawConfig::from_value(json!({
            "image": "x", "ssh_username": "u", "ssh_pasword": "p", "communicator": "ssh"
        }));
        let e = match decode_with_communicator::<B>(&raw, &prepare_cx("null"), &[]) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("accepted a typo"),
        };
        assert_eq!(
            e.matches("unknown configuration key `ssh_pasword`").count(),
            1,
            "{e}"
        );
        assert!(e.contains("did you mean `ssh_password`?"), "{e}");
        let raw = RawConfig::from_value(json!({"image": "x", "communicator": "none"}));
        let (b, c) = decode_with_communicator::<B>(&raw, &prepare_cx("null"), &[])
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((b.image.as_str(), c.kind()), ("x", "none"));
    }

    #[test]
    fn takes_packers_temporary_key_pair_keys() {
        // packer-plugin-sdk communicator/config.go: `temporary_key_pair_name`
        // (SSH) and `temporary_key_pair_type`/`_bits` (SSHTemporaryKeyPair);
        // packer 1.6.6 validates all three on the null and docker builders.
        let with = minimal_with;
        let c = with(json!({
            "temporary_key_pair_name": "packer_web",
            "temporary_key_pair_type": "rsa",
            "temporary_key_pair_bits": 4096,
        }))
        .unwrap();
        assert_eq!(c.temporary_key_pair_name.as_deref(), Some("packer_web"));
        assert_eq!(c.temporary_key_pair, KeyPairType::Rsa(4096));
        assert_eq!(with(json!({})).unwrap().temporary_key_pair_name, None);
        let e = with(json!({"temporary_key_pair_bits": 4096})).unwrap_err();
        assert!(
            e.contains("`temporary_key_pair_bits` applies to `rsa`"),
            "{e}"
        );
        let e = with(json!({"temporary_key_pair_type": "dsa"})).unwrap_err();
        assert!(e.contains("`temporary_key_pair_type`"), "{e}");
    }
}
