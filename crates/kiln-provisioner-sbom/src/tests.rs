//! The `sbom` provisioner's configuration checks and runs against a fake
//! machine that answers the provisioner's commands from the fixtures.

use std::path::Path;
use std::sync::Mutex;

use async_trait::async_trait;
use kiln_sdk::communicator::{
    CommandOutput, Communicator, CommunicatorError, ExitStatus, FileMeta, NoCommunicator,
    RemoteCommand,
};
use kiln_sdk::ui::RecordingUi;
use kiln_sdk::{BuildRecord, ProvisionContext};
use kiln_test::build_cx;
use serde_json::json;
use tokio::io::{AsyncRead, AsyncWrite};

use super::*;
use crate::testing::{APK, DPKG_QUERY, DPKG_STATUS, OS_RELEASE, RPM};

fn prepare(v: serde_json::Value) -> Result<Box<dyn Provisioner>, String> {
    SbomProvisionerFactory
        .prepare(&RawConfig::from_value(v), &build_cx("web", "docker"))
        .map(|p| p.component)
        .map_err(|e| e.to_string())
}

fn errs(v: serde_json::Value) -> String {
    prepare(v).err().unwrap_or_default()
}

#[test]
fn prepare_collects_every_error() {
    let e = errs(json!({}));
    assert!(
        e.contains("at least one of `output_spdx` and `output_cyclonedx` must be set"),
        "{e}"
    );
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let e = errs(json!({"output_spdx": d, "output_cyclonedx": "out/", "bogus": 1}));
    assert!(e.contains(&format!("`{d}` is a directory")), "{e}");
    assert!(e.contains("`out/` is a directory"), "{e}");
    assert!(e.contains("bogus"), "{e}");
    let e = errs(json!({"output_spdx": "a.json", "output_cyclonedx": "a.json"}));
    assert!(
        e.contains("`output_spdx` and `output_cyclonedx` are the same file `a.json`"),
        "{e}"
    );
    assert_eq!(errs(json!({"output_spdx": "a.json"})), "");
    assert_eq!(errs(json!({"output_cyclonedx": "b.json"})), "");
}

/// A machine that answers the provisioner's commands: `os_release` for
/// the os-release command (missing when `None`), `probe` for the probe,
/// then the databases' contents.
#[derive(Default)]
struct FakeGuest {
    os_release: Option<&'static str>,
    probe: &'static str,
    dpkg_query: Option<&'static str>,
    dpkg_status: Option<&'static str>,
    rpm: Option<&'static str>,
    apk: Option<&'static str>,
    commands: Mutex<Vec<String>>,
}

fn answer(
    output: &CommandOutput<'_>,
    text: Option<&str>,
    missing: &str,
) -> Result<ExitStatus, CommunicatorError> {
    match text {
        Some(t) => {
            for l in t.lines() {
                (output.stdout)(l);
            }
            Ok(ExitStatus::Code(0))
        }
        None => {
            (output.stderr)(missing);
            Ok(ExitStatus::Code(1))
        }
    }
}

#[async_trait]
impl Communicator for FakeGuest {
    async fn start(
        &self,
        command: &RemoteCommand,
        output: CommandOutput<'_>,
    ) -> Result<ExitStatus, CommunicatorError> {
        let c = command.command.as_str();
        self.commands.lock().unwrap().push(c.to_string());
        if c == guest::OS_RELEASE_COMMAND {
            answer(
                &output,
                self.os_release,
                "cat: /usr/lib/os-release: No such file",
            )
        } else if c == guest::PROBE_COMMAND {
            answer(&output, Some(self.probe), "")
        } else if c == guest::dpkg_query_command() {
            answer(
                &output,
                self.dpkg_query,
                "dpkg-query: error: broken database",
            )
        } else if c == guest::DPKG_STATUS_COMMAND {
            answer(&output, self.dpkg_status, "cat: no such file")
        } else if c == guest::rpm_command() {
            answer(&output, self.rpm, "error: rpmdb open failed")
        } else if c == guest::APK_COMMAND {
            answer(&output, self.apk, "cat: no such file")
        } else {
            (output.stderr)("sh: unknown command");
            Ok(ExitStatus::Code(127))
        }
    }
    async fn upload(
        &self,
        destination: &str,
        _source: &mut (dyn AsyncRead + Send + Unpin),
        _meta: FileMeta,
    ) -> Result<(), CommunicatorError> {
        Err(CommunicatorError::Failed(format!(
            "unexpected upload to {destination}"
        )))
    }
    async fn upload_dir(
        &self,
        destination: &str,
        _source: &Path,
        _exclude: &[String],
    ) -> Result<(), CommunicatorError> {
        Err(CommunicatorError::Failed(format!(
            "unexpected upload to {destination}"
        )))
    }
    async fn download(
        &self,
        source: &str,
        _destination: &mut (dyn AsyncWrite + Send + Unpin),
    ) -> Result<(), CommunicatorError> {
        Err(CommunicatorError::Failed(format!(
            "unexpected download of {source}"
        )))
    }
    async fn download_dir(
        &self,
        source: &str,
        _destination: &Path,
        _exclude: &[String],
    ) -> Result<(), CommunicatorError> {
        Err(CommunicatorError::Failed(format!(
            "unexpected download of {source}"
        )))
    }
}

fn debian_guest() -> FakeGuest {
    FakeGuest {
        os_release: Some(OS_RELEASE),
        probe: "dpkg-query\ndpkg-status\n",
        dpkg_query: Some(DPKG_QUERY),
        dpkg_status: Some(DPKG_STATUS),
        ..Default::default()
    }
}

/// Runs `p` against `comm`; returns the result, the UI's lines and the
/// record.
async fn provision(
    p: &dyn Provisioner,
    comm: &dyn Communicator,
) -> (Result<(), BuildError>, Vec<String>, BuildRecord) {
    let ui = RecordingUi::default();
    let record = BuildRecord::default();
    let interpolation = Default::default();
    let r = p
        .provision(
            ProvisionContext {
                ui: &ui,
                cancel: tokio_util_token(),
                interpolation: &interpolation,
                generated: &Default::default(),
                debug: false,
                record: &record,
            },
            comm,
        )
        .await;
    (r, ui.lines(), record)
}

fn tokio_util_token() -> tokio_util::sync::CancellationToken {
    tokio_util::sync::CancellationToken::new()
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The names and versions a document lists, in its order.
fn spdx_packages(doc: &serde_json::Value) -> Vec<String> {
    doc["packages"].as_array().unwrap()[1..]
        .iter()
        .map(|p| {
            format!(
                "{} {}",
                p["name"].as_str().unwrap(),
                p["versionInfo"].as_str().unwrap()
            )
        })
        .collect()
}

fn cyclonedx_packages(doc: &serde_json::Value) -> Vec<String> {
    doc["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{} {}",
                c["name"].as_str().unwrap(),
                c["version"].as_str().unwrap()
            )
        })
        .collect()
}

#[tokio::test]
async fn a_debian_machine_gets_both_documents_attached() {
    let dir = tempfile::tempdir().unwrap();
    let spdx = dir.path().join("sbom/web.spdx.json");
    let cdx = dir.path().join("web.cdx.json");
    // An existing output is replaced.
    std::fs::write(&cdx, "old").unwrap();
    let p = prepare(json!({
        "output_spdx": dir.path().join("sbom/{{ build_name }}.spdx.json"),
        "output_cyclonedx": cdx,
    }))
    .unwrap();
    let guest = debian_guest();
    let (r, ui, record) = provision(p.as_ref(), &guest).await;
    r.unwrap();
    assert_eq!(
        ui,
        [
            "say: Reading the machine's package databases...".to_string(),
            format!(
                "say: Writing SBOM: 5 packages (dpkg) to {} (SPDX 2.3)",
                spdx.display()
            ),
            format!(
                "say: Writing SBOM: 5 packages (dpkg) to {} (CycloneDX 1.5)",
                cdx.display()
            ),
        ]
    );
    // dpkg-query is used when it is there; the status file is not read.
    let commands = guest.commands.lock().unwrap().clone();
    assert_eq!(
        commands,
        [
            guest::OS_RELEASE_COMMAND.to_string(),
            guest::PROBE_COMMAND.to_string(),
            guest::dpkg_query_command(),
        ]
    );
    let kinds: Vec<_> = record
        .attachments()
        .into_iter()
        .map(|a| (a.kind, a.path))
        .collect();
    assert_eq!(
        kinds,
        [
            (KIND_SPDX.to_string(), spdx.clone()),
            (KIND_CYCLONEDX.to_string(), cdx.clone())
        ]
    );
    let want = [
        "base-files 12.4+deb12u5",
        "libc6 2.36-9+deb12u4",
        "libc6 2.36-9+deb12u4",
        "libstdc++6 12.2.0-14",
        "tzdata 2024a-0+deb12u1",
    ];
    let s = read_json(&spdx);
    assert_eq!(s["spdxVersion"], "SPDX-2.3");
    assert_eq!(s["name"], "web");
    assert_eq!(spdx_packages(&s), want);
    let c = read_json(&cdx);
    assert_eq!(c["specVersion"], "1.5");
    assert_eq!(cyclonedx_packages(&c), want);
    // Both documents share the serial number.
    let serial = c["serialNumber"]
        .as_str()
        .unwrap()
        .trim_start_matches("urn:uuid:");
    assert!(
        s["documentNamespace"].as_str().unwrap().ends_with(serial),
        "{s}"
    );
    // No temporary file is left beside the outputs.
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        left.iter().all(|n| !n.starts_with(".kiln-sbom-")),
        "{left:?}"
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&cdx).unwrap().permissions().mode() & 0o777,
        0o644
    );
}

#[tokio::test]
async fn without_dpkg_query_the_status_file_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s.json");
    let p = prepare(json!({"output_spdx": out})).unwrap();
    let guest = FakeGuest {
        probe: "dpkg-status\n",
        ..debian_guest()
    };
    let (r, ui, _) = provision(p.as_ref(), &guest).await;
    r.unwrap();
    assert!(guest
        .commands
        .lock()
        .unwrap()
        .contains(&guest::DPKG_STATUS_COMMAND.to_string()));
    assert_eq!(spdx_packages(&read_json(&out)).len(), 5, "{ui:?}");
}

#[tokio::test]
async fn rpm_and_apk_machines_are_read_too() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("c.json");
    let p = prepare(json!({"output_cyclonedx": out})).unwrap();
    let rocky = FakeGuest {
        os_release: Some("ID=rocky\nVERSION_ID=9.3\n"),
        probe: "rpm\n",
        rpm: Some(RPM),
        ..Default::default()
    };
    let (r, ui, _) = provision(p.as_ref(), &rocky).await;
    r.unwrap();
    assert!(ui[1].contains("3 packages (rpm)"), "{ui:?}");
    let c = read_json(&out);
    assert_eq!(
        cyclonedx_packages(&c),
        [
            "bash 5.1.8-6.el9_1",
            "openssl-libs 1:3.0.7-25.el9_3",
            "tzdata 2024a-1.el9"
        ]
    );
    assert!(c["components"][1]["purl"]
        .as_str()
        .unwrap()
        .starts_with("pkg:rpm/rocky/openssl-libs@3.0.7-25.el9_3?"));

    let alpine = FakeGuest {
        os_release: None,
        probe: "apk\n",
        apk: Some(APK),
        ..Default::default()
    };
    let (r, ui, _) = provision(p.as_ref(), &alpine).await;
    r.unwrap();
    assert!(ui.iter().any(|l| l.contains("3 packages (apk)")), "{ui:?}");
    assert!(
        ui.iter()
            .any(|l| l.starts_with("error: the machine has no /etc/os-release")),
        "{ui:?}"
    );
    let c = read_json(&out);
    assert_eq!(c["metadata"]["component"]["name"], "unknown");
    assert_eq!(
        cyclonedx_packages(&c),
        [
            "busybox 1.36.1-r15",
            "musl 1.2.4_git20230717-r4",
            "ssl_client 1.36.1-r15"
        ]
    );
}

#[tokio::test]
async fn an_empty_rpm_database_beside_dpkg_is_not_named() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s.json");
    let p = prepare(json!({"output_spdx": out})).unwrap();
    let guest = FakeGuest {
        probe: "dpkg-query\nrpm\n",
        rpm: Some(""),
        ..debian_guest()
    };
    let (r, ui, _) = provision(p.as_ref(), &guest).await;
    r.unwrap();
    assert!(ui[1].contains("5 packages (dpkg) to"), "{ui:?}");
}

#[tokio::test]
async fn a_machine_without_a_package_database_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s.json");
    let p = prepare(json!({"output_spdx": out})).unwrap();
    let guest = FakeGuest {
        probe: "",
        ..debian_guest()
    };
    let (r, _, record) = provision(p.as_ref(), &guest).await;
    assert_eq!(r.unwrap_err().to_string(), NO_DATABASE);
    assert!(!out.exists());
    assert!(record.attachments().is_empty());
}

#[tokio::test]
async fn a_failing_database_command_fails_with_its_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s.json");
    let p = prepare(json!({"output_spdx": out})).unwrap();
    let guest = FakeGuest {
        dpkg_query: None,
        ..debian_guest()
    };
    let (r, _, _) = provision(p.as_ref(), &guest).await;
    assert_eq!(
        r.unwrap_err().to_string(),
        "`dpkg-query -W` failed on the machine (exit status 1): dpkg-query: error: broken database"
    );
    assert!(!out.exists());
}

#[tokio::test]
async fn garbage_from_a_database_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let p = prepare(json!({"output_spdx": dir.path().join("s.json")})).unwrap();
    let guest = FakeGuest {
        dpkg_query: Some("not\tenough\n"),
        ..debian_guest()
    };
    let (r, _, _) = provision(p.as_ref(), &guest).await;
    assert_eq!(
        r.unwrap_err().to_string(),
        "cannot read the machine's packages: line 1 of the `dpkg-query` output: expected 7 tab-separated fields, found 2"
    );
}

#[tokio::test]
async fn no_communicator_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = prepare(json!({"output_spdx": dir.path().join("s.json")})).unwrap();
    let (r, _, _) = provision(p.as_ref(), &NoCommunicator).await;
    let e = r.unwrap_err().to_string();
    assert!(
        e.starts_with("cannot read the machine's packages: this build has no communicator"),
        "{e}"
    );
}

#[tokio::test]
async fn an_unwritable_output_fails_and_attaches_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("file"), "").unwrap();
    let p = prepare(json!({"output_spdx": dir.path().join("file/s.json")})).unwrap();
    let (r, _, record) = provision(p.as_ref(), &debian_guest()).await;
    let e = r.unwrap_err().to_string();
    assert!(e.starts_with("cannot write `"), "{e}");
    assert!(record.attachments().is_empty());
}
