//! For `-incremental` builds: works out the inputs of the VM (everything
//! that shapes it before its provisioners run), asks the core for the
//! latest checkpoint made from the same inputs (`Checkpoints::plan`), and
//! stores the answer, read as a [`CheckpointData`], in
//! `QemuState::restore`; it also sets `QemuState::checkpoints_on`, which
//! makes StepCheckpointAttach attach the saver. Runs right after
//! StepDownload (the source is resolved and verified then) and before any
//! disk is made. Does nothing in a plain build, nor with `iso_skip_cache`
//! (QEMU reads the source itself, so it is not known by its content).
//! Holds no resources; nothing to undo.
//!
//! The inputs, a JSON object (secrets and free text are hashed, never kept
//! in clear; names and places are left out):
//!
//! - `qemu`: the first line of `QEMU_BINARY --version` (a migration stream
//!   is only read back by the same QEMU);
//! - `source`: `kind` (`iso` or `disk_image`), `use_backing_file`, and
//!   `digest`: the source by content, `ALGO:HEX`: the verified
//!   `iso_checksum` when there is one (a `file:` checksum as resolved),
//!   else the SHA-256 of the local file. Never its path or URL;
//! - `disk`: `size_mib` (`disk_size`), `interface`, `cache`, `discard`,
//!   `detect_zeroes`, `resize` (false with `skip_resize_disk`),
//!   `additional_bytes` (`disk_additional_size`), `qemu_img_create_args`
//!   and `qemu_img_resize_args`;
//! - `machine`: `qemu_binary`, `accelerator` (resolved: `kvm` or `tcg`
//!   for `auto`), `machine_type`, `memory_mib`, `smp` (the `-smp` value
//!   `cpus`, `sockets`, `cores` and `threads` make), `cpu_model`, `vga`,
//!   `net_device`, `network` (`user`, or `{"bridge": NAME}`),
//!   `cdrom_interface`, `firmware` (`default`, or the SHA-256 of the
//!   `bios`/`pflash` file, or for UEFI of its `code` and variable store
//!   template `vars`), `vtpm` (`null`, or its `version` and `device`),
//!   `qemuargs_sha256` (of the unrendered `qemuargs`, `null` when none);
//! - `boot`: `command_sha256` (of the unrendered `boot_command` or
//!   `boot_steps` with their descriptions, `null` when none) and
//!   `wait_ms` (the `boot_wait` used, `null` when there is no wait);
//! - `http_sha256`: what the HTTP server serves (`http_directory`: every
//!   file's relative path and SHA-256; `http_content`: every path and
//!   content), `null` when nothing;
//! - `floppy_sha256` and `cd_sha256`: the floppy's and the CD's label,
//!   files (relative path and SHA-256) and `*_content`, `null` when none.
//!
//! Left out, as they do not change the machine before provisioning:
//! `vm_name`, `output_directory`, `format` (the disks are kept as qcow2 in
//! a checkpoint and converted to `format` on restore; otherwise it only
//! names the final conversion), `skip_compaction`, `disk_compression`,
//! `qemu_img_args.convert`, the communicator and its settings, the
//! shutdown command and timeouts, `boot_key_interval` and
//! `boot_keygroup_interval`, the display and VNC, `host_port_*`,
//! `skip_nat_mapping`, `http_port_*`/`http_bind_address`,
//! `qmp_socket_path` and `iso_target_path`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use kiln_sdk::checkpoint::Checkpoints;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::checkpoint::CheckpointData;
use crate::checksum::{hash_file, Algorithm};
use crate::config::{Accelerator, Config, Firmware, HttpSource, Network, SourceKind, TpmVersion};
use crate::driver::Driver;
use crate::step_create_cd::expand;
use crate::QemuState;

/// A checkpoint the build starts from.
#[derive(Debug, Clone)]
pub struct Restored {
    /// The checkpoint's directory (read-only).
    pub dir: PathBuf,
    /// How many provisioners it holds.
    pub after: usize,
    /// What it holds.
    pub data: CheckpointData,
}

/// What the inputs need besides the config: found by looking at files and
/// programs ([`gather`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// The source by content, `ALGO:HEX`.
    pub source_digest: String,
    /// `QEMU_BINARY --version`, its first line.
    pub qemu_version: String,
    /// The accelerator, resolved.
    pub accelerator: Option<String>,
    /// The firmware by content.
    pub firmware: Value,
    /// The floppy's content, hashed.
    pub floppy: Option<String>,
    /// The CD's content, hashed.
    pub cd: Option<String>,
    /// What the HTTP server serves, hashed.
    pub http: Option<String>,
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

async fn file_sha256(path: &Path) -> Result<String, String> {
    hash_file(path, Algorithm::Sha256)
        .await
        .map_err(|e| format!("cannot read `{}` to hash it: {e}", path.display()))
}

/// Hashes a list of (file, path in the image) pairs, a path → content map
/// and a label into one digest.
async fn hash_files(
    files: &[(PathBuf, PathBuf)],
    content: &BTreeMap<String, String>,
    label: &str,
) -> Result<String, String> {
    let mut listed: Vec<(String, String)> = Vec::with_capacity(files.len());
    for (src, rel) in files {
        listed.push((rel.display().to_string(), file_sha256(src).await?));
    }
    listed.sort();
    let content: BTreeMap<&String, String> = content
        .iter()
        .map(|(k, v)| (k, sha256_hex(v.as_bytes())))
        .collect();
    let doc = json!({ "label": label, "files": listed, "content": content });
    Ok(sha256_hex(doc.to_string().as_bytes()))
}

/// The firmware by content.
async fn firmware(f: &Firmware) -> Result<Value, String> {
    Ok(match f {
        Firmware::Default => json!("default"),
        Firmware::Bios(p) => json!({ "bios": file_sha256(p).await? }),
        Firmware::Pflash(p) => json!({ "pflash": file_sha256(p).await? }),
        Firmware::Efi(e) => {
            let (code, vars) = match (&e.code, &e.vars) {
                (Some(c), Some(v)) => (c.clone(), v.clone()),
                _ => crate::step_run::find_ovmf().ok_or_else(|| {
                    "`efi_boot` needs OVMF (install Debian's `ovmf` package)".to_string()
                })?,
            };
            json!({ "efi": { "code": file_sha256(&code).await?, "vars": file_sha256(&vars).await? } })
        }
    })
}

/// Finds the [`Facts`]: the source's digest (the verified checksum, else
/// the file's SHA-256), QEMU's version, the accelerator, and the content
/// of the firmware, floppy, CD and HTTP directory. `None` when the source
/// cannot be known by content (`iso_skip_cache`).
pub async fn gather(
    c: &Config,
    state: &QemuState,
    driver: &dyn Driver,
) -> Result<Option<Facts>, String> {
    let source_digest = match (&state.source_digest, &state.source_path) {
        _ if c.source.skip_cache => return Ok(None),
        (Some(d), _) => d.clone(),
        (None, Some(p)) => format!("sha256:{}", file_sha256(p).await?),
        (None, None) => return Err("internal error: no source image".into()),
    };
    let binary = &c.machine.qemu_binary;
    let qemu_version = driver
        .run(binary, &["--version".into()])
        .await
        .map_err(|e| format!("cannot ask QEMU its version: {e}"))?
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .to_string();
    let accelerator = match c.machine.accelerator {
        Accelerator::Named(a) => Some(a.to_string()),
        Accelerator::None => None,
        Accelerator::Auto => Some(if driver.kvm_usable(binary).await {
            "kvm".into()
        } else {
            "tcg".into()
        }),
    };
    let floppy = match &c.floppy {
        Some(f) => {
            let mut patterns = f.files.clone();
            patterns.extend(f.dirs.iter().cloned());
            Some(hash_files(&expand(&patterns)?, &f.content, &f.label).await?)
        }
        None => None,
    };
    let cd = match &c.cd {
        Some(cd) => Some(hash_files(&expand(&cd.files)?, &cd.content, &cd.label).await?),
        None => None,
    };
    let http = match c.http.as_ref().map(|h| &h.source) {
        Some(HttpSource::Directory(d)) => {
            let pattern = d.display().to_string();
            // Paths relative to the directory: its own name does not count.
            let files: Vec<(PathBuf, PathBuf)> = expand(&[pattern])?
                .into_iter()
                .map(|(src, rel)| {
                    let inner = rel.components().skip(1).collect::<PathBuf>();
                    (src, inner)
                })
                .collect();
            Some(hash_files(&files, &BTreeMap::new(), "").await?)
        }
        Some(HttpSource::Content(m)) => Some(hash_files(&[], m, "").await?),
        None => None,
    };
    Ok(Some(Facts {
        source_digest,
        qemu_version,
        accelerator,
        firmware: firmware(&c.machine.firmware).await?,
        floppy,
        cd,
        http,
    }))
}

/// The inputs of the VM (see the module docs for each key).
pub fn inputs(c: &Config, facts: &Facts) -> Value {
    let (kind, backing) = match c.source.kind {
        SourceKind::Iso => ("iso", false),
        SourceKind::DiskImage { backing_file } => ("disk_image", backing_file),
    };
    let m = &c.machine;
    let network = match &m.network {
        Network::User { .. } => json!("user"),
        Network::Bridge(b) => json!({ "bridge": b }),
    };
    let vtpm = m.tpm.as_ref().map(|t| {
        json!({
            "version": match t.version { TpmVersion::V2 => "2.0", TpmVersion::V1_2 => "1.2" },
            "device": t.device,
        })
    });
    let qemuargs =
        (!m.qemuargs.is_empty()).then(|| sha256_hex(json!(m.qemuargs).to_string().as_bytes()));
    let boot_command = (!c.boot.steps.is_empty()).then(|| {
        let steps: Vec<Value> = c
            .boot
            .steps
            .iter()
            .map(|s| json!([s.command, s.description]))
            .collect();
        sha256_hex(json!(steps).to_string().as_bytes())
    });
    // The wait StepTypeBootCommand makes.
    let wait = match (c.boot.wait, c.boot.steps.is_empty()) {
        (Some(w), _) => Some(w),
        (None, false) => Some(Duration::from_secs(10)),
        (None, true) => None,
    };
    json!({
        "qemu": facts.qemu_version,
        "source": {
            "kind": kind,
            "use_backing_file": backing,
            "digest": facts.source_digest,
        },
        "disk": {
            "size_mib": c.disk.size_mib,
            "interface": c.disk.interface,
            "cache": c.disk.cache,
            "discard": c.disk.discard,
            "detect_zeroes": c.disk.detect_zeroes,
            "resize": c.disk.resize,
            "additional_bytes": c.disk.additional_bytes,
            "qemu_img_create_args": c.disk.img_args.create,
            "qemu_img_resize_args": c.disk.img_args.resize,
        },
        "machine": {
            "qemu_binary": m.qemu_binary,
            "accelerator": facts.accelerator,
            "machine_type": m.machine_type,
            "memory_mib": m.memory_mib,
            "smp": m.smp.arg(),
            "cpu_model": m.cpu_model,
            "vga": m.vga,
            "net_device": m.net_device,
            "network": network,
            "cdrom_interface": m.cdrom_interface,
            "firmware": facts.firmware,
            "vtpm": vtpm,
            "qemuargs_sha256": qemuargs,
        },
        "boot": {
            "command_sha256": boot_command,
            "wait_ms": wait.map(|w| w.as_millis() as u64),
        },
        "http_sha256": facts.http,
        "floppy_sha256": facts.floppy,
        "cd_sha256": facts.cd,
    })
}

/// See the module docs.
pub struct StepCheckpointPlan {
    config: Arc<Config>,
    driver: Arc<dyn Driver>,
    checkpoints: Option<Arc<dyn Checkpoints>>,
}

impl StepCheckpointPlan {
    /// The step for `config`; does nothing when `checkpoints` is `None`.
    pub fn new(
        config: Arc<Config>,
        driver: Arc<dyn Driver>,
        checkpoints: Option<Arc<dyn Checkpoints>>,
    ) -> Self {
        StepCheckpointPlan {
            config,
            driver,
            checkpoints,
        }
    }
}

#[async_trait]
impl Step<QemuState> for StepCheckpointPlan {
    fn name(&self) -> &'static str {
        "StepCheckpointPlan"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut QemuState,
    ) -> Result<StepAction, StepError> {
        let Some(checkpoints) = &self.checkpoints else {
            return Ok(StepAction::Continue);
        };
        let facts = gather(&self.config, state, self.driver.as_ref())
            .await
            .map_err(|e| StepError::msg(format!("cannot work out the checkpoint inputs: {e}")))?;
        let Some(facts) = facts else {
            cx.ui.message(
                "No checkpoints for this build: with `iso_skip_cache` the source is not known by its content",
            );
            return Ok(StepAction::Continue);
        };
        state.checkpoints_on = true;
        let Some(restore) = checkpoints.plan(cx.ui, inputs(&self.config, &facts)).await else {
            return Ok(StepAction::Continue);
        };
        match CheckpointData::from_restore(&restore.data, &restore.dir) {
            Ok(data) if data.disks.len() == 1 + self.config.disk.additional_bytes.len() => {
                state.restore = Some(Restored {
                    dir: restore.dir,
                    after: restore.after,
                    data,
                });
            }
            Ok(data) => cx.ui.error(&format!(
                "Not using the checkpoint in `{}`: it has {} disks, the build makes {}; starting from scratch",
                restore.dir.display(),
                data.disks.len(),
                1 + self.config.disk.additional_bytes.len()
            )),
            Err(e) => cx.ui.error(&format!(
                "Not using the checkpoint in `{}`: {e}; starting from scratch",
                restore.dir.display()
            )),
        }
        Ok(StepAction::Continue)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::fake::FakeDriver;
    use crate::tests::config_with;

    fn facts() -> Facts {
        Facts {
            source_digest: "sha256:abc".into(),
            qemu_version: "QEMU emulator version 10.0.2".into(),
            accelerator: Some("tcg".into()),
            firmware: json!("default"),
            floppy: None,
            cd: None,
            http: None,
        }
    }

    #[tokio::test]
    async fn does_nothing_in_a_plain_build() {
        let c = config_with(json!({}), false);
        let d = Arc::new(FakeDriver::default());
        let (r, state, lines) = crate::tests::run_step(
            StepCheckpointPlan::new(c, d.clone(), None),
            QemuState::default(),
            false,
        )
        .await;
        assert!(r.is_ok(), "{r:?}");
        assert!(!state.checkpoints_on && state.restore.is_none());
        assert!(d.calls().is_empty() && lines.is_empty(), "{lines:?}");
    }

    /// Answers `plan` with a checkpoint in `dir` holding `data`.
    struct Answer {
        dir: PathBuf,
        data: Value,
        seen: std::sync::Mutex<Vec<Value>>,
    }

    #[async_trait]
    impl Checkpoints for Answer {
        async fn plan(
            &self,
            _: &dyn kiln_sdk::Ui,
            inputs: Value,
        ) -> Option<kiln_sdk::checkpoint::Restore> {
            self.seen.lock().unwrap().push(inputs);
            Some(kiln_sdk::checkpoint::Restore {
                after: 2,
                data: self.data.clone(),
                dir: self.dir.clone(),
            })
        }
        fn attach(&self, _: Arc<dyn kiln_sdk::checkpoint::MachineSaver>) {}
    }

    #[tokio::test]
    async fn plans_with_the_inputs_and_checks_the_answer() {
        let tmp = tempfile::tempdir().unwrap();
        for f in ["machine.state", "disk0.qcow2"] {
            std::fs::write(tmp.path().join(f), "").unwrap();
        }
        let data = json!({"layout": 1, "state": "machine.state", "efivars": null,
            "disks": [{"file": "disk0.qcow2", "format": "qcow2", "overlay": false}]});
        let run = |extra: Value, data: Value| {
            let c = config_with(extra, false);
            let answer = Arc::new(Answer {
                dir: tmp.path().to_path_buf(),
                data,
                seen: Default::default(),
            });
            let step = StepCheckpointPlan::new(
                c,
                Arc::new(FakeDriver {
                    stdout: "QEMU emulator version 10.0.2\n".into(),
                    ..Default::default()
                }),
                Some(answer.clone() as Arc<dyn Checkpoints>),
            );
            let state = QemuState {
                source_digest: Some("sha256:abc".into()),
                ..Default::default()
            };
            async move {
                let (r, state, lines) = crate::tests::run_step(step, state, false).await;
                assert!(r.is_ok(), "{r:?}");
                let seen = answer.seen.lock().unwrap().clone();
                (state, lines, seen)
            }
        };
        let (state, lines, seen) = run(json!({"accelerator": "tcg"}), data.clone()).await;
        assert!(state.checkpoints_on);
        let restore = state.restore.expect("restored");
        assert_eq!(restore.after, 2);
        assert_eq!(restore.data.disks[0].file, "disk0.qcow2");
        assert!(lines.is_empty(), "{lines:?}");
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0]["source"]["digest"], "sha256:abc");
        assert_eq!(seen[0]["qemu"], "QEMU emulator version 10.0.2");

        // A checkpoint that does not fit is not used: the build starts
        // from scratch (and still saves checkpoints).
        let (state, lines, _) = run(
            json!({"accelerator": "tcg", "disk_additional_size": ["1M"]}),
            data.clone(),
        )
        .await;
        assert!(state.checkpoints_on && state.restore.is_none());
        assert!(
            lines
                .iter()
                .any(|l| l.contains("it has 1 disks, the build makes 2")),
            "{lines:?}"
        );
        let mut missing = data;
        missing["disks"][0]["file"] = json!("gone.qcow2");
        let (state, lines, _) = run(json!({"accelerator": "tcg"}), missing).await;
        assert!(state.checkpoints_on && state.restore.is_none());
        assert!(
            lines
                .iter()
                .any(|l| l.contains("gone.qcow2") && l.contains("missing")),
            "{lines:?}"
        );
    }

    #[test]
    fn inputs_leave_out_names_and_places_and_are_stable() {
        let a = config_with(
            json!({"vm_name": "a", "output_directory": "out-a", "format": "qcow2",
                   "communicator": "ssh", "ssh_username": "root", "ssh_password": "s3cret",
                   "shutdown_command": "poweroff", "memory": 1024}),
            false,
        );
        let b = config_with(
            json!({"vm_name": "b", "output_directory": "out-b", "format": "raw",
                   "shutdown_timeout": "1m", "memory": 1024,
                   "headless": true, "vnc_port_min": 5990, "host_port_min": 3000,
                   "skip_compaction": true, "boot_key_interval": "5ms"}),
            false,
        );
        assert_eq!(inputs(&a, &facts()), inputs(&b, &facts()));
        assert_eq!(inputs(&a, &facts()), inputs(&a, &facts()));
        let text = inputs(&a, &facts()).to_string();
        for absent in ["out-a", "\"a\"", "poweroff", "s3cret", "root", "x.iso"] {
            assert!(!text.contains(absent), "{absent} in {text}");
        }
        let v = inputs(&a, &facts());
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "qemu",
                "source",
                "disk",
                "machine",
                "boot",
                "http_sha256",
                "floppy_sha256",
                "cd_sha256"
            ]
        );
    }

    #[test]
    fn inputs_change_with_what_shapes_the_machine() {
        let base = inputs(&config_with(json!({}), false), &facts());
        for changed in [
            json!({"memory": 1024}),
            json!({"cpus": 2}),
            json!({"disk_size": "1G"}),
            json!({"disk_interface": "ide"}),
            json!({"disk_additional_size": ["1M"]}),
            json!({"machine_type": "q35"}),
            json!({"net_device": "e1000"}),
            json!({"qemuargs": [["-cpu", "max"]]}),
            json!({"boot_command": ["<enter>"]}),
            json!({"boot_wait": "3s"}),
        ] {
            let other = inputs(&config_with(changed.clone(), false), &facts());
            assert_ne!(base, other, "{changed} did not change the inputs");
        }
        let mut f = facts();
        f.source_digest = "sha256:def".into();
        assert_ne!(base, inputs(&config_with(json!({}), false), &f));
        f = facts();
        f.accelerator = Some("kvm".into());
        assert_ne!(base, inputs(&config_with(json!({}), false), &f));
    }

    #[test]
    fn secrets_in_the_boot_command_are_hashed() {
        let c = config_with(
            json!({"boot_command": ["passwd=hunter2<enter>"], "qemuargs": [["-smbios", "type=11,value=hunter2"]]}),
            false,
        );
        let text = inputs(&c, &facts()).to_string();
        assert!(!text.contains("hunter2"), "{text}");
        assert_eq!(inputs(&c, &facts())["boot"]["wait_ms"], 10000);
    }

    /// The source counts by content: the verified checksum when there is
    /// one, else the file's SHA-256; its path or URL does not count.
    #[tokio::test]
    async fn the_source_counts_by_content() {
        let tmp = tempfile::tempdir().unwrap();
        let (one, two) = (tmp.path().join("one.img"), tmp.path().join("two.img"));
        std::fs::write(&one, b"abc").unwrap();
        std::fs::write(&two, b"abc").unwrap();
        let driver = FakeDriver {
            stdout: "QEMU emulator version 10.0.2\nCopyright\n".into(),
            ..Default::default()
        };
        let c = config_with(json!({"accelerator": "tcg"}), false);
        let state = |p: &Path, digest: Option<&str>| QemuState {
            source_path: Some(p.to_path_buf()),
            source_digest: digest.map(String::from),
            ..Default::default()
        };
        let a = gather(&c, &state(&one, None), &driver)
            .await
            .unwrap()
            .unwrap();
        let b = gather(&c, &state(&two, None), &driver)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(a, b);
        assert_eq!(
            a.source_digest,
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(a.qemu_version, "QEMU emulator version 10.0.2");
        assert_eq!(a.accelerator.as_deref(), Some("tcg"));
        let v = gather(
            &c,
            &state(&one, Some("md5:900150983cd24fb0d6963f7d28e17f72")),
            &driver,
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!(v.source_digest, "md5:900150983cd24fb0d6963f7d28e17f72");
        std::fs::write(&two, b"abd").unwrap();
        let b = gather(&c, &state(&two, None), &driver)
            .await
            .unwrap()
            .unwrap();
        assert_ne!(a.source_digest, b.source_digest);

        let skip = config_with(json!({"iso_skip_cache": true}), false);
        assert_eq!(
            gather(&skip, &state(&one, None), &driver).await.unwrap(),
            None
        );
    }

    #[tokio::test]
    async fn http_floppy_and_cd_count_by_content() {
        let tmp = tempfile::tempdir().unwrap();
        let (d1, d2) = (tmp.path().join("h1"), tmp.path().join("h2"));
        for d in [&d1, &d2] {
            std::fs::create_dir_all(d.join("sub")).unwrap();
            std::fs::write(d.join("sub/preseed.cfg"), "d-i x").unwrap();
        }
        let driver = FakeDriver::default();
        let state = QemuState {
            source_digest: Some("sha256:abc".into()),
            ..Default::default()
        };
        let facts_of = |extra: Value| {
            let c = config_with(extra, false);
            let driver = &driver;
            let state = &state;
            async move { gather(&c, state, driver).await.unwrap().unwrap() }
        };
        let a = facts_of(json!({"accelerator": "tcg", "http_directory": d1})).await;
        let b = facts_of(json!({"accelerator": "tcg", "http_directory": d2})).await;
        assert!(a.http.is_some());
        assert_eq!(a.http, b.http);
        std::fs::write(d2.join("sub/preseed.cfg"), "d-i y").unwrap();
        let b = facts_of(json!({"accelerator": "tcg", "http_directory": d2})).await;
        assert_ne!(a.http, b.http);
        let f = facts_of(json!({"accelerator": "tcg", "floppy_content": {"ks.cfg": "pw=hunter2"}}))
            .await;
        let g =
            facts_of(json!({"accelerator": "tcg", "floppy_content": {"ks.cfg": "pw=other"}})).await;
        assert!(f.floppy.is_some() && f.cd.is_none());
        assert_ne!(f.floppy, g.floppy);
        let cd =
            facts_of(json!({"accelerator": "tcg", "cd_files": [d1.join("sub/preseed.cfg")]})).await;
        assert!(cd.cd.is_some());
    }
}
