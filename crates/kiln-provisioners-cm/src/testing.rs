//! Unit-test support: a fake guest that records every command and upload
//! (keeping uploaded files' contents) and answers with a chosen exit code,
//! and the contexts a build named `web` of a `docker` builder gives its
//! provisioners, with the user variable `env` = `production` and the
//! generated `Password` = `s3cret$`. Stores everything in memory.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use kiln_sdk::communicator::{
    CommandOutput, Communicator, CommunicatorError, ExitStatus, FileMeta, RemoteCommand,
};
use kiln_sdk::component::BuildError;
use kiln_sdk::interpolate::{Context, Generated};
use kiln_sdk::ui::RecordingUi;
use kiln_sdk::{PrepareContext, ProvisionContext, Provisioner, ProvisionerFactory, RawConfig};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};

/// A guest that records what is done to it.
#[derive(Default)]
pub(crate) struct FakeGuest {
    log: Mutex<Vec<String>>,
    files: Mutex<BTreeMap<String, String>>,
    /// Commands containing the first string exit with the second.
    fail: Option<(String, i32)>,
}

impl FakeGuest {
    /// A guest where commands containing `needle` exit with `code`.
    pub(crate) fn exiting_with(needle: &str, code: i32) -> FakeGuest {
        FakeGuest {
            fail: Some((needle.to_string(), code)),
            ..Default::default()
        }
    }

    /// Every call, in order: `run: <command>`, `upload: <path>`,
    /// `upload_dir: <dst> <- <src>`.
    pub(crate) fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// The content uploaded to `path`.
    pub(crate) fn file(&self, path: &str) -> String {
        self.files
            .lock()
            .unwrap()
            .get(path)
            .cloned()
            .unwrap_or_else(|| panic!("nothing was uploaded to `{path}`"))
    }
}

#[async_trait]
impl Communicator for FakeGuest {
    async fn start(
        &self,
        command: &RemoteCommand,
        output: CommandOutput<'_>,
    ) -> Result<ExitStatus, CommunicatorError> {
        self.log
            .lock()
            .unwrap()
            .push(format!("run: {}", command.command));
        match &self.fail {
            Some((needle, code)) if command.command.contains(needle.as_str()) => {
                (output.stderr)(&format!("{needle} failed"));
                Ok(ExitStatus::Code(*code))
            }
            _ => Ok(ExitStatus::Code(0)),
        }
    }
    async fn upload(
        &self,
        destination: &str,
        source: &mut (dyn AsyncRead + Send + Unpin),
        _meta: FileMeta,
    ) -> Result<(), CommunicatorError> {
        let mut content = String::new();
        source
            .read_to_string(&mut content)
            .await
            .map_err(|e| CommunicatorError::Failed(e.to_string()))?;
        self.log
            .lock()
            .unwrap()
            .push(format!("upload: {destination}"));
        self.files
            .lock()
            .unwrap()
            .insert(destination.to_string(), content);
        Ok(())
    }
    async fn upload_dir(
        &self,
        destination: &str,
        source: &Path,
        _exclude: &[String],
    ) -> Result<(), CommunicatorError> {
        self.log
            .lock()
            .unwrap()
            .push(format!("upload_dir: {destination} <- {}", source.display()));
        Ok(())
    }
    async fn download(
        &self,
        source: &str,
        _destination: &mut (dyn AsyncWrite + Send + Unpin),
    ) -> Result<(), CommunicatorError> {
        Err(CommunicatorError::Failed(format!(
            "no download of {source}"
        )))
    }
    async fn download_dir(
        &self,
        source: &str,
        _destination: &Path,
        _exclude: &[String],
    ) -> Result<(), CommunicatorError> {
        Err(CommunicatorError::Failed(format!(
            "no download of {source}"
        )))
    }
}

fn user_variables() -> Arc<BTreeMap<String, String>> {
    Arc::new(BTreeMap::from([(
        "env".to_string(),
        "production".to_string(),
    )]))
}

/// The prepare context of build `web` (a `docker` builder).
pub(crate) fn cx() -> PrepareContext {
    let mut cx = kiln_test::build_cx("web", "docker");
    cx.interpolation.user_variables = user_variables();
    cx
}

/// Prepares `config`, panicking on errors.
pub(crate) fn prepare(
    factory: &dyn ProvisionerFactory,
    config: serde_json::Value,
) -> Box<dyn Provisioner> {
    match factory.prepare(&RawConfig::from_value(config), &cx()) {
        Ok(p) => p.component,
        Err(e) => panic!("unexpected config errors:\n{e}"),
    }
}

/// The errors of preparing `config`, one string each (none when it is
/// accepted).
pub(crate) fn errors(factory: &dyn ProvisionerFactory, config: serde_json::Value) -> Vec<String> {
    match factory.prepare(&RawConfig::from_value(config), &cx()) {
        Ok(_) => Vec::new(),
        Err(e) => e.0.iter().map(ToString::to_string).collect(),
    }
}

/// Runs `p` against `guest` as build `web` does; returns the UI lines
/// other than the commands' own output.
pub(crate) async fn provision(
    p: &dyn Provisioner,
    guest: &FakeGuest,
) -> Result<Vec<String>, BuildError> {
    let generated = Arc::new(BTreeMap::from([(
        "Password".to_string(),
        "s3cret$".to_string(),
    )]));
    let interpolation = Context {
        build_name: Some("web".into()),
        build_type: Some("docker".into()),
        user_variables: user_variables(),
        generated: Generated::Known(generated.clone()),
        ..Default::default()
    };
    let ui = RecordingUi::default();
    p.provision(
        ProvisionContext {
            ui: &ui,
            cancel: tokio_util::sync::CancellationToken::new(),
            interpolation: &interpolation,
            generated: &generated,
            debug: false,
            record: &Default::default(),
        },
        guest,
    )
    .await?;
    Ok(ui
        .lines()
        .into_iter()
        .filter(|l| !l.starts_with("error: "))
        .collect())
}

/// The message of a [`provision`] that must fail.
pub(crate) async fn failure(p: &dyn Provisioner, guest: &FakeGuest) -> String {
    match provision(p, guest).await {
        Ok(ui) => panic!("provisioning succeeded: {ui:?}"),
        Err(e) => e.to_string(),
    }
}
