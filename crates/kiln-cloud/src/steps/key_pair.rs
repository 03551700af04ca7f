//! The temporary key pair family (Packer's `StepKeyPair` of every cloud):
//! how the instance is logged in to, decided once before the run
//! ([`KeyPairPlan`]), and [`StepKeyPair`], which imports the temporary key
//! pair generated for this build (`packer_<uuid>`) into the cloud, tagged
//! with the run tags. With `-debug` its private key is also written to a
//! file in the working directory (mode 0600, `ec2_<build name>.pem` for
//! amazon), so the instance can be reached by hand between steps.
//!
//! The step records the key pair's name in the builder's state
//! ([`KeyPairState`]) and, before the import that may fail after creating
//! it, in itself; its cleanup deletes the temporary key pair (a missing one
//! is fine) and the debug key file, once.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};
use kiln_sdk::ui::Redactor;
use kiln_ssh::keys::KeyPairError;
use kiln_ssh::{KeyPairType, SshConfig, TemporaryKeyPair};

use super::Line;
use crate::ApiError;

/// How the instance is logged in to, decided before the run (Packer's
/// `StepKeyPair` rules, [`KeyPairPlan::decide`]).
pub enum KeyPairPlan {
    /// A temporary key pair, generated here and imported into the cloud.
    Temporary {
        /// Its name in the cloud (`packer_…`, or `temporary_key_pair_name`).
        name: String,
        /// The key pair.
        key: Box<TemporaryKeyPair>,
    },
    /// `ssh_keypair_name`: an existing key pair.
    Existing(String),
    /// `ssh_private_key_file` without a key pair name: the key is in the
    /// source image.
    PrivateKeyFile,
    /// `ssh_agent_auth` without a key pair name.
    Agent,
    /// `ssh_password`, or `communicator: none` with a password: no key pair.
    None,
}

impl KeyPairPlan {
    /// Packer's rules: a temporary key pair (named `temporary_key_pair_name`,
    /// else `temporary_name()`) unless the template names a key pair, a
    /// private key, the agent or a password. `ssh` is `None` for
    /// `communicator: none`; the generated private key is registered with
    /// `redactor`.
    pub fn decide(
        ssh: Option<&SshConfig>,
        keypair_name: Option<&str>,
        temporary_name: impl FnOnce() -> String,
        redactor: &Redactor,
    ) -> Result<KeyPairPlan, KeyPairError> {
        let existing = |n: &str| KeyPairPlan::Existing(n.to_string());
        Ok(match (ssh, keypair_name) {
            (Some(s), name) if s.credentials.agent => match name {
                Some(n) => existing(n),
                None => KeyPairPlan::Agent,
            },
            (Some(s), None) if s.credentials.private_key.is_some() => KeyPairPlan::PrivateKeyFile,
            // Packer creates a key pair whenever `temporary_key_pair_name`
            // is set, a password or not.
            (Some(s), None)
                if s.credentials.password.is_some() && s.temporary_key_pair_name.is_none() =>
            {
                KeyPairPlan::None
            }
            (_, Some(n)) => existing(n),
            (ssh, None) => {
                let kind = ssh
                    .map(|s| s.temporary_key_pair)
                    .unwrap_or(KeyPairType::Ed25519);
                let name = ssh
                    .and_then(|s| s.temporary_key_pair_name.clone())
                    .unwrap_or_else(temporary_name);
                let key = TemporaryKeyPair::generate(kind, &name, Some(redactor))?;
                KeyPairPlan::Temporary {
                    name,
                    key: Box::new(key),
                }
            }
        })
    }
}

/// The SSH login a cloud build uses, decided once before its steps run:
/// the communicator's settings (with the temporary key filled in), the
/// key pair plan, and the generated data that Packer's builders publish
/// for it (`PackerRunUUID`, `ConnType`, `SSHPublicKey`, …).
pub struct SshLogin {
    /// The SSH settings; `None` for `communicator: none`.
    pub ssh: Option<SshConfig>,
    /// How the instance is logged in to.
    pub plan: KeyPairPlan,
    /// The build's generated data so far.
    pub generated: std::collections::BTreeMap<String, String>,
}

impl SshLogin {
    /// [`SshLogin::decide`] on tokio's blocking pool: generating an RSA
    /// key takes tens of milliseconds of CPU, which on the async workers
    /// would hold up every other build's network calls (100 builds in one
    /// process stalled for seconds before their first call).
    pub async fn decide_off_thread(
        communicator: &kiln_ssh::CommunicatorConfig,
        keypair_name: Option<&str>,
        temporary_name: fn() -> String,
        redactor: &Redactor,
        run_uuid: &str,
    ) -> Result<SshLogin, KeyPairError> {
        let (communicator, keypair_name, redactor, run_uuid) = (
            communicator.clone(),
            keypair_name.map(String::from),
            redactor.clone(),
            run_uuid.to_string(),
        );
        tokio::task::spawn_blocking(move || {
            SshLogin::decide(
                &communicator,
                keypair_name.as_deref(),
                temporary_name,
                &redactor,
                &run_uuid,
            )
        })
        .await
        .expect("the key generation task panicked")
    }

    /// Decides the plan ([`KeyPairPlan::decide`]) for `communicator` and
    /// fills in the generated data of Packer's cloud builders.
    pub fn decide(
        communicator: &kiln_ssh::CommunicatorConfig,
        keypair_name: Option<&str>,
        temporary_name: impl FnOnce() -> String,
        redactor: &Redactor,
        run_uuid: &str,
    ) -> Result<SshLogin, KeyPairError> {
        use kiln_sdk::generated;
        let mut ssh = match communicator {
            kiln_ssh::CommunicatorConfig::Ssh(s) => Some((**s).clone()),
            kiln_ssh::CommunicatorConfig::None => None,
        };
        let plan = KeyPairPlan::decide(ssh.as_ref(), keypair_name, temporary_name, redactor)?;
        let mut data = std::collections::BTreeMap::from([
            (generated::PACKER_RUN_UUID.to_string(), run_uuid.to_string()),
            (
                generated::CONN_TYPE.to_string(),
                communicator.kind().to_string(),
            ),
        ]);
        if let Some(s) = ssh.as_mut() {
            let (public, private) = match &plan {
                KeyPairPlan::Temporary { key, .. } => (
                    key.public_openssh.clone(),
                    key.private_openssh.expose().clone(),
                ),
                _ => (
                    String::new(),
                    s.credentials
                        .private_key
                        .as_ref()
                        .map(|k| k.pem.expose().clone())
                        .unwrap_or_default(),
                ),
            };
            if let KeyPairPlan::Temporary { key, .. } = &plan {
                s.credentials.temporary_key = Some(kiln_sdk::Secret::new(std::sync::Arc::new(
                    key.private.clone(),
                )));
            }
            data.extend([
                (generated::PORT.to_string(), s.port.to_string()),
                (generated::USER.to_string(), s.credentials.username.clone()),
                (
                    generated::PASSWORD.to_string(),
                    s.credentials
                        .password
                        .as_ref()
                        .map(|p| p.expose().clone())
                        .unwrap_or_default(),
                ),
                (generated::SSH_PUBLIC_KEY.to_string(), public),
                (generated::SSH_PRIVATE_KEY.to_string(), private),
            ]);
        }
        Ok(SshLogin {
            ssh,
            plan,
            generated: data,
        })
    }
}

/// Makes the temporary key pair RSA (2048 bits) unless the template asks
/// for a type (`temporary_key_pair_type` or `ssh_temporary_key_pair_type`,
/// non-empty): the clouds whose key pair import takes RSA keys only
/// (ECS, CVM, Nova) call it after preparing `communicator` from `raw`, and
/// RSA is their Packer builders' default (kiln's elsewhere is ed25519).
pub fn rsa_by_default(
    communicator: &mut kiln_ssh::CommunicatorConfig,
    raw: &kiln_sdk::config::RawConfig,
) {
    let asked = ["temporary_key_pair_type", "ssh_temporary_key_pair_type"]
        .iter()
        .any(|k| raw.values.get(*k).is_some_and(|v| v.as_str() != Some("")));
    if let kiln_ssh::CommunicatorConfig::Ssh(s) = communicator {
        if !asked {
            s.temporary_key_pair = KeyPairType::Rsa(2048);
        }
    }
}

/// What the key pair step shows a line for; the cloud words it
/// ([`KeyPairApi::line`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPairEvent<'a> {
    /// [`KeyPairPlan::PrivateKeyFile`] or [`KeyPairPlan::Existing`].
    ExistingKey,
    /// [`KeyPairPlan::Agent`].
    Agent,
    /// [`KeyPairPlan::None`].
    NoKeyPair,
    /// The temporary key pair (its name) is being imported.
    Creating(&'a str),
    /// The temporary key pair (its name) was imported.
    Created(&'a str),
    /// The private key is being saved at this path (`-debug`).
    SavingDebugKey(&'a Path),
    /// The temporary key pair (its name) is being deleted.
    Deleting(&'a str),
}

/// Packer's wording, the same in every cloud's plugin but for the source
/// image's name (`source AMI` for amazon).
pub fn packer_line(event: &KeyPairEvent<'_>) -> Option<Line> {
    Some(match event {
        KeyPairEvent::ExistingKey => Line::Say("Using existing SSH private key".into()),
        KeyPairEvent::Agent => Line::Say("Using SSH Agent with key pair in source image".into()),
        KeyPairEvent::NoKeyPair => Line::Say("Not using temporary keypair".into()),
        KeyPairEvent::Creating(name) => Line::Say(format!("Creating temporary keypair: {name}")),
        KeyPairEvent::SavingDebugKey(path) => {
            Line::Message(format!("Saving key for debug purposes: {}", path.display()))
        }
        KeyPairEvent::Deleting(_) => Line::Say("Deleting temporary keypair...".into()),
        KeyPairEvent::Created(_) => return None,
    })
}

/// The cloud calls of the key pair step, implemented by the builder on its
/// client: retried, and idempotent on a retry after a lost reply.
#[async_trait]
pub trait KeyPairApi: Send + Sync {
    /// Imports `public_key` (an `authorized_keys` line) as the key pair
    /// `name`, tagged with `tags`. A retry that finds the key pair already
    /// imported (by an attempt whose reply was lost) succeeds.
    async fn import_key_pair(
        &self,
        name: &str,
        public_key: &str,
        tags: &[(String, String)],
    ) -> Result<(), ApiError>;

    /// Deletes the key pair `name`; one already gone is deleted.
    async fn delete_key_pair(&self, name: &str) -> Result<(), ApiError>;

    /// The line shown for `event`, if any: Packer's wording
    /// ([`packer_line`]) unless the cloud's plugin words it differently.
    fn line(&self, event: &KeyPairEvent<'_>) -> Option<Line> {
        packer_line(event)
    }
}

/// What the key pair step reads from and records in the builder's state.
pub trait KeyPairState: Send {
    /// The cloud client.
    type Api: KeyPairApi;
    /// The client of the build region.
    fn key_pair_api(&self) -> &Self::Api;
    /// The run tags everything this build creates carries.
    fn run_tags(&self) -> &[(String, String)];
    /// Records the key pair the instance is launched with.
    fn set_key_pair_name(&mut self, name: String);
}

/// See the module docs.
pub struct StepKeyPair {
    plan: KeyPairPlan,
    /// `-debug`: where the temporary private key is saved.
    debug_key: Option<PathBuf>,
    /// The temporary key pair to delete (recorded before the import).
    created: Option<String>,
    /// The debug key file to delete (recorded before writing it).
    saved: Option<PathBuf>,
}

impl StepKeyPair {
    /// A key pair step following `plan`; with `debug_key`, a temporary
    /// private key is saved there.
    pub fn new(plan: KeyPairPlan, debug_key: Option<PathBuf>) -> Self {
        StepKeyPair {
            plan,
            debug_key,
            created: None,
            saved: None,
        }
    }
}

fn show<A: KeyPairApi>(api: &A, cx: &StepContext<'_>, event: KeyPairEvent<'_>) {
    if let Some(line) = api.line(&event) {
        line.show(cx.ui);
    }
}

#[async_trait]
impl<S: KeyPairState> Step<S> for StepKeyPair {
    fn name(&self) -> &'static str {
        "StepKeyPair"
    }

    async fn run(&mut self, cx: &StepContext<'_>, state: &mut S) -> Result<StepAction, StepError> {
        let api = state.key_pair_api();
        let (name, key) = match &self.plan {
            KeyPairPlan::PrivateKeyFile => {
                show(api, cx, KeyPairEvent::ExistingKey);
                return Ok(StepAction::Continue);
            }
            KeyPairPlan::Agent => {
                show(api, cx, KeyPairEvent::Agent);
                return Ok(StepAction::Continue);
            }
            KeyPairPlan::None => {
                show(api, cx, KeyPairEvent::NoKeyPair);
                return Ok(StepAction::Continue);
            }
            KeyPairPlan::Existing(name) => {
                show(api, cx, KeyPairEvent::ExistingKey);
                state.set_key_pair_name(name.clone());
                return Ok(StepAction::Continue);
            }
            KeyPairPlan::Temporary { name, key } => (name, key),
        };
        show(api, cx, KeyPairEvent::Creating(name));
        // Recorded first: an import that fails after the cloud made the key
        // pair (its reply lost) still leaves it for cleanup to delete.
        self.created = Some(name.clone());
        api.import_key_pair(name, &key.public_openssh, state.run_tags())
            .await
            .map_err(|e| StepError::msg(format!("error creating temporary keypair: {e}")))?;
        show(api, cx, KeyPairEvent::Created(name));
        state.set_key_pair_name(name.clone());
        if let Some(path) = &self.debug_key {
            show(state.key_pair_api(), cx, KeyPairEvent::SavingDebugKey(path));
            self.saved = Some(path.clone());
            key.write_debug_copy(path)
                .map_err(|e| StepError::msg(format!("error saving debug key: {e}")))?;
        }
        Ok(StepAction::Continue)
    }

    async fn cleanup(&mut self, cx: &StepContext<'_>, state: &mut S) {
        if let Some(name) = self.created.take() {
            let api = state.key_pair_api();
            show(api, cx, KeyPairEvent::Deleting(&name));
            if let Err(e) = api.delete_key_pair(&name).await {
                cx.ui.error(&format!(
                    "Error cleaning up keypair. Please delete the key manually: {name} ({e})"
                ));
            }
        }
        if let Some(path) = self.saved.take() {
            if let Err(e) = std::fs::remove_file(&path) {
                cx.ui.error(&format!(
                    "Error removing debug key '{}': {e}",
                    path.display()
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Mutex;
    use std::time::Duration;

    use kiln_sdk::ui::RecordingUi;
    use kiln_sdk::Secret;
    use kiln_ssh::config::{Credentials, HostKeyPolicy, KeyFile, TransferMethod};
    use tokio_util::sync::CancellationToken;

    use super::*;
    use crate::steps::testing::{context, service_error, FakeCalls, ALWAYS};

    /// A key pair in the fake cloud: its public key and tags.
    type KeyPair = (String, Vec<(String, String)>);

    /// An in-memory cloud: its key pairs (name → public key, tags),
    /// every call made and the failures to answer with (`imported`: the
    /// key pair is imported, then the reply is lost; `delete`).
    #[derive(Default)]
    struct Fake {
        keys: Mutex<BTreeMap<String, KeyPair>>,
        calls: FakeCalls,
    }

    impl Fake {
        fn calls(&self) -> Vec<String> {
            self.calls.calls()
        }
        fn failing(point: &str, action: &str, code: &str) -> Fake {
            let fake = Fake::default();
            fake.calls.fail(point, ALWAYS, service_error(action, code));
            fake
        }
        fn keys(&self) -> Vec<String> {
            self.keys.lock().unwrap().keys().cloned().collect()
        }
    }

    #[async_trait]
    impl KeyPairApi for Fake {
        async fn import_key_pair(
            &self,
            name: &str,
            public_key: &str,
            tags: &[(String, String)],
        ) -> Result<(), ApiError> {
            self.calls.record(format!("import {name}"));
            self.keys
                .lock()
                .unwrap()
                .insert(name.into(), (public_key.into(), tags.to_vec()));
            self.calls.fault("imported")
        }
        async fn delete_key_pair(&self, name: &str) -> Result<(), ApiError> {
            self.calls.record(format!("delete {name}"));
            self.calls.fault("delete")?;
            self.keys.lock().unwrap().remove(name);
            Ok(())
        }
    }

    struct State {
        api: Fake,
        tags: Vec<(String, String)>,
        key_pair_name: Option<String>,
    }

    impl KeyPairState for State {
        type Api = Fake;
        fn key_pair_api(&self) -> &Fake {
            &self.api
        }
        fn run_tags(&self) -> &[(String, String)] {
            &self.tags
        }
        fn set_key_pair_name(&mut self, name: String) {
            self.key_pair_name = Some(name);
        }
    }

    fn state(api: Fake) -> State {
        State {
            api,
            tags: vec![("kiln:run".into(), "r1".into())],
            key_pair_name: None,
        }
    }

    fn temporary(name: &str) -> KeyPairPlan {
        let key = TemporaryKeyPair::generate(KeyPairType::Ed25519, name, None).unwrap();
        KeyPairPlan::Temporary {
            name: name.into(),
            key: Box::new(key),
        }
    }

    fn ssh(credentials: Credentials, temporary_name: Option<&str>) -> SshConfig {
        SshConfig {
            host: String::new(),
            port: 22,
            credentials,
            timeout: Duration::from_secs(300),
            handshake_attempts: 10,
            pause_before_connecting: Duration::ZERO,
            keep_alive_interval: Duration::from_secs(5),
            read_write_timeout: None,
            pty: false,
            disable_agent_forwarding: false,
            clear_authorized_keys: false,
            bastion: None,
            proxy: None,
            temporary_key_pair: KeyPairType::Ed25519,
            temporary_key_pair_name: temporary_name.map(str::to_string),
            transfer: TransferMethod::Sftp,
            host_key: HostKeyPolicy::AcceptAny,
        }
    }

    #[tokio::test]
    async fn a_temporary_key_pair_is_imported_tagged_recorded_and_deleted_once() {
        let ui = RecordingUi::default();
        let cx = context(&ui, &CancellationToken::new());
        let mut st = state(Fake::default());
        let plan = temporary("packer_k1");
        let public = match &plan {
            KeyPairPlan::Temporary { key, .. } => key.public_openssh.clone(),
            _ => unreachable!(),
        };
        let mut step = StepKeyPair::new(plan, None);
        let r = step.run(&cx, &mut st).await.unwrap();
        assert_eq!(r, StepAction::Continue);
        assert_eq!(st.key_pair_name.as_deref(), Some("packer_k1"));
        let (key, tags) = st.api.keys.lock().unwrap()["packer_k1"].clone();
        assert_eq!(key, public);
        assert_eq!(tags, [("kiln:run".to_string(), "r1".to_string())]);
        assert_eq!(ui.lines(), ["say: Creating temporary keypair: packer_k1"]);

        step.cleanup(&cx, &mut st).await;
        step.cleanup(&cx, &mut st).await;
        assert!(st.api.keys().is_empty());
        assert_eq!(st.api.calls(), ["import packer_k1", "delete packer_k1"]);
        assert_eq!(
            ui.lines(),
            [
                "say: Creating temporary keypair: packer_k1",
                "say: Deleting temporary keypair..."
            ]
        );
    }

    #[tokio::test]
    async fn an_import_that_creates_then_fails_is_still_cleaned_up() {
        let ui = RecordingUi::default();
        let cx = context(&ui, &CancellationToken::new());
        let mut st = state(Fake::failing("imported", "ImportKeyPair", "RequestTimeout"));
        let mut step = StepKeyPair::new(temporary("packer_k2"), None);
        let e = step.run(&cx, &mut st).await.unwrap_err();
        assert_eq!(
            e.to_string(),
            "error creating temporary keypair: RequestTimeout: ImportKeyPair failed"
        );
        assert_eq!(st.key_pair_name, None);
        assert_eq!(st.api.keys(), ["packer_k2"]);
        step.cleanup(&cx, &mut st).await;
        assert!(st.api.keys().is_empty(), "{:?}", st.api.keys());
    }

    #[tokio::test]
    async fn a_failed_delete_is_reported_with_the_name_to_delete_by_hand() {
        let ui = RecordingUi::default();
        let cx = context(&ui, &CancellationToken::new());
        let mut st = state(Fake::failing("delete", "DeleteKeyPair", "AccessDenied"));
        let mut step = StepKeyPair::new(temporary("packer_k3"), None);
        step.run(&cx, &mut st).await.unwrap();
        step.cleanup(&cx, &mut st).await;
        assert_eq!(
            ui.lines().last().unwrap(),
            "error: Error cleaning up keypair. Please delete the key manually: packer_k3 (AccessDenied: DeleteKeyPair failed)"
        );
    }

    #[tokio::test]
    async fn debug_saves_the_private_key_0600_and_cleanup_removes_it() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ec2_b.pem");
        let ui = RecordingUi::default();
        let cx = context(&ui, &CancellationToken::new());
        let mut st = state(Fake::default());
        let plan = temporary("packer_k4");
        let private = match &plan {
            KeyPairPlan::Temporary { key, .. } => key.private_openssh.expose().clone(),
            _ => unreachable!(),
        };
        let mut step = StepKeyPair::new(plan, Some(path.clone()));
        step.run(&cx, &mut st).await.unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), private);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(
            ui.lines()[1],
            format!("message: Saving key for debug purposes: {}", path.display())
        );
        step.cleanup(&cx, &mut st).await;
        assert!(!path.exists());
        assert!(st.api.keys().is_empty());
    }

    #[tokio::test]
    async fn a_debug_key_that_cannot_be_saved_fails_the_step_and_the_key_pair_goes() {
        let ui = RecordingUi::default();
        let cx = context(&ui, &CancellationToken::new());
        let mut st = state(Fake::default());
        let path = PathBuf::from("/nonexistent-kiln-dir/ec2_b.pem");
        let mut step = StepKeyPair::new(temporary("packer_k5"), Some(path));
        let e = step.run(&cx, &mut st).await.unwrap_err();
        assert!(e.to_string().starts_with("error saving debug key: "), "{e}");
        step.cleanup(&cx, &mut st).await;
        assert!(st.api.keys().is_empty());
        assert!(
            ui.lines().iter().any(|l| l
                .starts_with("error: Error removing debug key '/nonexistent-kiln-dir/ec2_b.pem'")),
            "{:?}",
            ui.lines()
        );
    }

    #[tokio::test]
    async fn plans_without_a_temporary_key_pair_create_and_delete_nothing() {
        let cases = [
            (
                KeyPairPlan::Existing("mine".into()),
                "say: Using existing SSH private key",
                Some("mine"),
            ),
            (
                KeyPairPlan::PrivateKeyFile,
                "say: Using existing SSH private key",
                None,
            ),
            (
                KeyPairPlan::Agent,
                "say: Using SSH Agent with key pair in source image",
                None,
            ),
            (KeyPairPlan::None, "say: Not using temporary keypair", None),
        ];
        for (plan, line, recorded) in cases {
            let ui = RecordingUi::default();
            let cx = context(&ui, &CancellationToken::new());
            let mut st = state(Fake::default());
            let mut step = StepKeyPair::new(plan, Some(PathBuf::from("/nonexistent/k.pem")));
            step.run(&cx, &mut st).await.unwrap();
            step.cleanup(&cx, &mut st).await;
            assert_eq!(ui.lines(), [line]);
            assert_eq!(st.key_pair_name.as_deref(), recorded);
            assert!(st.api.calls().is_empty(), "{:?}", st.api.calls());
        }
    }

    #[test]
    fn the_plan_follows_packers_rules() {
        let r = Redactor::new();
        let key_file = || KeyFile {
            path: "k.pem".into(),
            pem: Secret::new("pem".to_string()),
        };
        let creds = |f: &dyn Fn(&mut Credentials)| {
            let mut c = Credentials::default();
            f(&mut c);
            c
        };
        let name = || "packer_generated".to_string();
        let plan = |s: Option<SshConfig>, n: Option<&str>| {
            KeyPairPlan::decide(s.as_ref(), n, name, &r).unwrap()
        };
        let agent = creds(&|c| c.agent = true);
        let key = creds(&|c| c.private_key = Some(key_file()));
        let password = creds(&|c| c.password = Some(Secret::new("pw".to_string())));

        assert!(matches!(
            plan(Some(ssh(agent.clone(), None)), None),
            KeyPairPlan::Agent
        ));
        assert!(
            matches!(plan(Some(ssh(agent, None)), Some("k")), KeyPairPlan::Existing(n) if n == "k")
        );
        assert!(matches!(
            plan(Some(ssh(key.clone(), None)), None),
            KeyPairPlan::PrivateKeyFile
        ));
        assert!(
            matches!(plan(Some(ssh(key, None)), Some("k")), KeyPairPlan::Existing(n) if n == "k")
        );
        assert!(matches!(
            plan(Some(ssh(password.clone(), None)), None),
            KeyPairPlan::None
        ));
        assert!(matches!(plan(None, Some("k")), KeyPairPlan::Existing(n) if n == "k"));
        // `temporary_key_pair_name` makes a key pair even with a password.
        assert!(matches!(
            plan(Some(ssh(password, Some("named"))), None),
            KeyPairPlan::Temporary { name, .. } if name == "named"
        ));
        match plan(Some(ssh(Credentials::default(), None)), None) {
            KeyPairPlan::Temporary { name, key } => {
                assert_eq!(name, "packer_generated");
                assert!(key.public_openssh.starts_with("ssh-ed25519 "));
                // The private key is registered with the redactor.
                assert!(!r.is_empty());
            }
            _ => panic!("expected a temporary key pair"),
        }
        assert!(matches!(plan(None, None), KeyPairPlan::Temporary { .. }));
    }
}
