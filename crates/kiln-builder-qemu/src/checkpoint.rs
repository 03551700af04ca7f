//! Checkpoints of the qemu builder's running VM (`kiln build
//! -incremental`): [`QemuSaver`], the [`MachineSaver`] the build attaches
//! once SSH answers, and [`CheckpointData`], what a checkpoint holds.
//!
//! A save pauses the VM (QMP `stop`, which drains and flushes every disk),
//! writes its memory and device state with a migration to a file
//! (`migrate` to `file:DIR/machine.state`, polled through `query-migrate`),
//! copies every disk while the VM is paused (standalone qcow2 copies made
//! with `qemu-img convert -U`; with `use_backing_file`, the overlay file as
//! it is, its backing file set again on restore) and the UEFI variable
//! store, then resumes the VM (`cont`, also after a failure), so the build
//! goes on as if nothing happened. Everything is written into the
//! checkpoint's directory, which the core owns: there is nothing outside it
//! to clean up (the builder factory has no checkpoint cleaner), and a
//! failed save leaves its partial files to the core, which discards the
//! directory.
//!
//! The restore side is in `step_restore_disks` (the disks) and
//! `step_restore_machine` (`-incoming defer`, `migrate-incoming`, `cont`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use kiln_sdk::checkpoint::{MachineSaver, Saved};
use kiln_sdk::component::BuildError;
use kiln_sdk::ui::Ui;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::config::DiskFormat;
use crate::driver::Driver;
use crate::qmp::Qmp;

/// The layout of [`CheckpointData`] this builder writes and reads.
pub const LAYOUT: u32 = 1;

/// The file the migration stream (memory and devices) is written to.
pub const STATE_FILE: &str = "machine.state";

/// What a qemu checkpoint holds, as stored in [`Saved::data`]: names of
/// files in the checkpoint's directory, never paths or secrets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointData {
    /// [`LAYOUT`].
    pub layout: u32,
    /// The migration stream: memory and device state.
    pub state: String,
    /// The VM's disks, the main one first, then the
    /// `disk_additional_size` ones in order.
    pub disks: Vec<SavedDisk>,
    /// The UEFI variable store (`efi_boot`), a raw copy.
    pub efivars: Option<String>,
}

/// One saved disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedDisk {
    /// The file in the checkpoint's directory.
    pub file: String,
    /// Its format (`qcow2`).
    pub format: String,
    /// True for a `use_backing_file` overlay: only the blocks written over
    /// the source image, which becomes its backing file again on restore.
    pub overlay: bool,
}

impl CheckpointData {
    /// Reads `data` as the core stored it, checking that it is this
    /// builder's layout and that every file it names is a plain name that
    /// exists in `dir`.
    pub fn from_restore(data: &Value, dir: &Path) -> Result<CheckpointData, String> {
        let d: CheckpointData = serde_json::from_value(data.clone())
            .map_err(|e| format!("the checkpoint's data is not a qemu checkpoint: {e}"))?;
        if d.layout != LAYOUT {
            return Err(format!(
                "the checkpoint has layout `{}`, this kiln reads layout `{LAYOUT}`",
                d.layout
            ));
        }
        let names = std::iter::once(&d.state)
            .chain(d.disks.iter().map(|x| &x.file))
            .chain(d.efivars.iter());
        for name in names {
            if name.is_empty() || name.contains('/') || name == ".." || name == "." {
                return Err(format!("the checkpoint names a bad file `{name}`"));
            }
            if !dir.join(name).is_file() {
                return Err(format!(
                    "the checkpoint's file `{}` is missing",
                    dir.join(name).display()
                ));
            }
        }
        if d.disks.is_empty() {
            return Err("the checkpoint has no disk".into());
        }
        Ok(d)
    }
}

/// QEMU's `file:` migration URI for `path` (absolute; QEMU reads a comma as
/// the start of its options).
pub fn file_uri(path: &Path) -> Result<String, String> {
    let shown = path.display().to_string();
    if !path.is_absolute() || shown.contains(',') {
        return Err(format!(
            "QEMU cannot migrate to `{shown}`: the path must be absolute and have no comma"
        ));
    }
    Ok(format!("file:{shown}"))
}

/// Polls `query-migrate` until the migration (outgoing or incoming)
/// completes; fails on `failed` or `cancelled` with QEMU's reason, and
/// cancels an outgoing migration when `cancel` fires.
pub async fn wait_migration(
    qmp: &Qmp,
    cancel: &CancellationToken,
    outgoing: bool,
) -> Result<(), BuildError> {
    let mut delay = Duration::from_millis(20);
    loop {
        let v = qmp
            .execute("query-migrate", None)
            .await
            .map_err(|e| BuildError::msg(format!("cannot follow the migration: {e}")))?;
        match v.get("status").and_then(Value::as_str).unwrap_or("") {
            "completed" => return Ok(()),
            s @ ("failed" | "cancelled") => {
                let why = v
                    .get("error-desc")
                    .and_then(Value::as_str)
                    .unwrap_or("no reason given");
                return Err(BuildError::msg(format!("the migration {s}: {why}")));
            }
            _ => {}
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = cancel.cancelled() => {
                if outgoing {
                    let _ = qmp.execute("migrate_cancel", None).await;
                }
                return Err(BuildError::Cancelled);
            }
        }
        delay = (delay * 2).min(Duration::from_millis(250));
    }
}

/// Saves the running VM into a checkpoint directory (see the module docs).
pub struct QemuSaver {
    qmp: Arc<Qmp>,
    driver: Arc<dyn Driver>,
    disks: Vec<PathBuf>,
    format: DiskFormat,
    overlay: bool,
    efivars: Option<PathBuf>,
    one_at_a_time: tokio::sync::Mutex<()>,
}

impl QemuSaver {
    /// A saver for the VM behind `qmp` whose disks are `disks` (main
    /// first) in `format`; `overlay` when the main disk is a
    /// `use_backing_file` overlay; `efivars`, its writable UEFI store.
    pub fn new(
        qmp: Arc<Qmp>,
        driver: Arc<dyn Driver>,
        disks: Vec<PathBuf>,
        format: DiskFormat,
        overlay: bool,
        efivars: Option<PathBuf>,
    ) -> Self {
        QemuSaver {
            qmp,
            driver,
            disks,
            format,
            overlay,
            efivars,
            one_at_a_time: Default::default(),
        }
    }

    /// Writes the state and the disks while the VM is paused.
    async fn save_paused(
        &self,
        ui: &dyn Ui,
        dir: &Path,
        cancel: &CancellationToken,
    ) -> Result<CheckpointData, BuildError> {
        let state = dir.join(STATE_FILE);
        let uri = file_uri(&state).map_err(BuildError::msg)?;
        // No bandwidth limit: the VM is paused, nothing competes with it.
        let _ = self
            .qmp
            .execute(
                "migrate-set-parameters",
                Some(json!({"max-bandwidth": 1u64 << 40})),
            )
            .await;
        self.qmp
            .execute("migrate", Some(json!({ "uri": uri })))
            .await
            .map_err(|e| BuildError::msg(format!("cannot save the VM's memory: {e}")))?;
        wait_migration(&self.qmp, cancel, true)
            .await
            .map_err(|e| match e {
                BuildError::Cancelled => e,
                e => BuildError::msg(format!(
                    "cannot save the VM's memory to `{}`: {e}",
                    state.display()
                )),
            })?;
        let mut disks = Vec::with_capacity(self.disks.len());
        for (i, disk) in self.disks.iter().enumerate() {
            if cancel.is_cancelled() {
                return Err(BuildError::Cancelled);
            }
            let file = format!("disk{i}.qcow2");
            let target = dir.join(&file);
            let overlay = i == 0 && self.overlay;
            ui.message(&format!("Copying disk `{}`", disk.display()));
            if overlay {
                tokio::fs::copy(disk, &target).await.map_err(|e| {
                    BuildError::msg(format!(
                        "cannot copy `{}` to `{}`: {e}",
                        disk.display(),
                        target.display()
                    ))
                })?;
            } else {
                let args: Vec<String> = vec![
                    "convert".into(),
                    "-U".into(),
                    "-f".into(),
                    self.format.as_str().into(),
                    "-O".into(),
                    "qcow2".into(),
                    disk.display().to_string(),
                    target.display().to_string(),
                ];
                self.driver.run("qemu-img", &args).await.map_err(|e| {
                    BuildError::msg(format!("cannot copy disk `{}`: {e}", disk.display()))
                })?;
            }
            disks.push(SavedDisk {
                file,
                format: "qcow2".into(),
                overlay,
            });
        }
        let efivars = match &self.efivars {
            Some(vars) => {
                let target = dir.join("efivars.fd");
                tokio::fs::copy(vars, &target).await.map_err(|e| {
                    BuildError::msg(format!(
                        "cannot copy `{}` to `{}`: {e}",
                        vars.display(),
                        target.display()
                    ))
                })?;
                Some("efivars.fd".to_string())
            }
            None => None,
        };
        Ok(CheckpointData {
            layout: LAYOUT,
            state: STATE_FILE.into(),
            disks,
            efivars,
        })
    }
}

#[async_trait]
impl MachineSaver for QemuSaver {
    async fn save(
        &self,
        ui: &dyn Ui,
        dir: &Path,
        cancel: &CancellationToken,
    ) -> Result<Saved, BuildError> {
        let _one = self.one_at_a_time.lock().await;
        let started = Instant::now();
        let dir = std::fs::canonicalize(dir).map_err(|e| {
            BuildError::msg(format!(
                "cannot use the checkpoint directory `{}`: {e}",
                dir.display()
            ))
        })?;
        let status = self
            .qmp
            .status()
            .await
            .map_err(|e| BuildError::msg(format!("cannot save the VM: {e}")))?;
        let running = status == "running";
        ui.say("Saving a checkpoint of the VM (memory, devices and disks)...");
        if running {
            self.qmp
                .execute("stop", None)
                .await
                .map_err(|e| BuildError::msg(format!("cannot pause the VM: {e}")))?;
        }
        let saved = self.save_paused(ui, &dir, cancel).await;
        // Resume whatever happened: the build goes on as before the save.
        let resumed = if running {
            self.qmp
                .execute("cont", None)
                .await
                .map(|_| ())
                .map_err(|e| BuildError::msg(format!("cannot resume the VM after the save: {e}")))
        } else {
            Ok(())
        };
        let data = saved?;
        resumed?;
        let size = dir_size(&dir);
        ui.message(&format!(
            "Checkpoint saved in {:.1}s ({} MiB)",
            started.elapsed().as_secs_f64(),
            size >> 20
        ));
        let data = serde_json::to_value(&data)
            .map_err(|e| BuildError::msg(format!("cannot record the checkpoint: {e}")))?;
        Ok(Saved {
            data,
            external_size: 0,
        })
    }
}

/// The bytes the files directly in `dir` take on disk.
fn dir_size(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.blocks() * 512)
                .sum()
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::fake::FakeDriver;
    use kiln_sdk::ui::RecordingUi;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    use tokio::net::UnixListener;

    /// A fake QEMU whose migrations end in `migration` (`completed`,
    /// `failed`); returns the commands it got.
    async fn fake_qemu(
        path: &Path,
        migration: &'static str,
    ) -> tokio::task::JoinHandle<Vec<String>> {
        let listener = UnixListener::bind(path).unwrap();
        tokio::spawn(async move {
            let (s, _) = listener.accept().await.unwrap();
            let (r, mut w) = s.into_split();
            let mut lines = BufReader::new(r).lines();
            w.write_all(b"{\"QMP\": {\"version\": {}, \"capabilities\": []}}\n")
                .await
                .unwrap();
            let mut seen = Vec::new();
            while let Ok(Some(line)) = lines.next_line().await {
                let v: Value = serde_json::from_str(&line).unwrap();
                let cmd = v["execute"].as_str().unwrap().to_string();
                let reply = match cmd.as_str() {
                    "query-status" => json!({"return": {"status": "running"}}),
                    "query-migrate" => {
                        json!({"return": {"status": migration, "error-desc": "No space left on device"}})
                    }
                    "migrate" => {
                        seen.push(format!(
                            "migrate {}",
                            v["arguments"]["uri"].as_str().unwrap()
                        ));
                        json!({"return": {}})
                    }
                    _ => json!({"return": {}}),
                };
                if cmd != "migrate" {
                    seen.push(cmd);
                }
                w.write_all(format!("{reply}\n").as_bytes()).await.unwrap();
            }
            seen
        })
    }

    async fn save_with(
        migration: &'static str,
    ) -> (
        Result<Saved, BuildError>,
        Vec<String>,
        Vec<String>,
        tempfile::TempDir,
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let sock = tmp.path().join("qmp.sock");
        let server = fake_qemu(&sock, migration).await;
        let qmp = Arc::new(Qmp::connect(&sock, Duration::from_secs(5)).await.unwrap());
        let dir = tmp.path().join("ck");
        std::fs::create_dir(&dir).unwrap();
        let vars = tmp.path().join("efivars.fd");
        std::fs::write(&vars, "vars").unwrap();
        let driver = Arc::new(FakeDriver::default());
        let saver = QemuSaver::new(
            qmp.clone(),
            driver.clone(),
            vec!["out/vm".into(), "out/vm-1".into()],
            DiskFormat::Raw,
            false,
            Some(vars),
        );
        let ui = RecordingUi::default();
        let r = saver.save(&ui, &dir, &CancellationToken::new()).await;
        drop(saver);
        drop(qmp);
        let seen = server.await.unwrap();
        (r, seen, driver.calls(), tmp)
    }

    #[tokio::test]
    async fn saves_memory_then_disks_while_paused_and_resumes() {
        let (r, seen, calls, tmp) = save_with("completed").await;
        let saved = r.unwrap();
        let dir = std::fs::canonicalize(tmp.path().join("ck")).unwrap();
        assert_eq!(
            seen,
            [
                "qmp_capabilities".to_string(),
                "query-status".into(),
                "stop".into(),
                "migrate-set-parameters".into(),
                format!("migrate file:{}/machine.state", dir.display()),
                "query-migrate".into(),
                "cont".into(),
            ]
        );
        let d = dir.display();
        assert_eq!(
            calls,
            [
                format!("qemu-img convert -U -f raw -O qcow2 out/vm {d}/disk0.qcow2"),
                format!("qemu-img convert -U -f raw -O qcow2 out/vm-1 {d}/disk1.qcow2"),
            ]
        );
        assert_eq!(saved.data["efivars"], "efivars.fd");
        assert_eq!(saved.data["disks"][1]["file"], "disk1.qcow2");
        assert_eq!(
            std::fs::read_to_string(dir.join("efivars.fd")).unwrap(),
            "vars"
        );
    }

    #[tokio::test]
    async fn a_failed_migration_fails_the_save_and_the_vm_goes_on() {
        let (r, seen, calls, _tmp) = save_with("failed").await;
        let e = r.unwrap_err().to_string();
        assert!(
            e.contains("cannot save the VM's memory")
                && e.contains("the migration failed: No space left on device"),
            "{e}"
        );
        assert_eq!(seen.last().map(String::as_str), Some("cont"), "{seen:?}");
        assert!(calls.is_empty(), "{calls:?}");
    }

    #[test]
    fn data_round_trips_and_is_checked() {
        let dir = tempfile::tempdir().unwrap();
        let d = CheckpointData {
            layout: LAYOUT,
            state: STATE_FILE.into(),
            disks: vec![SavedDisk {
                file: "disk0.qcow2".into(),
                format: "qcow2".into(),
                overlay: true,
            }],
            efivars: None,
        };
        let v = serde_json::to_value(&d).unwrap();
        assert_eq!(
            v,
            json!({"layout": 1, "state": "machine.state",
                   "disks": [{"file": "disk0.qcow2", "format": "qcow2", "overlay": true}],
                   "efivars": null})
        );
        let e = CheckpointData::from_restore(&v, dir.path()).unwrap_err();
        assert!(e.contains("machine.state") && e.contains("missing"), "{e}");
        std::fs::write(dir.path().join(STATE_FILE), "").unwrap();
        std::fs::write(dir.path().join("disk0.qcow2"), "").unwrap();
        assert_eq!(CheckpointData::from_restore(&v, dir.path()).unwrap(), d);

        let mut bad = v.clone();
        bad["state"] = json!("../x");
        let e = CheckpointData::from_restore(&bad, dir.path()).unwrap_err();
        assert!(e.contains("bad file `../x`"), "{e}");
        let mut other = v.clone();
        other["layout"] = json!(7);
        let e = CheckpointData::from_restore(&other, dir.path()).unwrap_err();
        assert!(e.contains("layout `7`"), "{e}");
        let e =
            CheckpointData::from_restore(&json!({"image": "sha256:x"}), dir.path()).unwrap_err();
        assert!(e.contains("not a qemu checkpoint"), "{e}");
    }

    #[test]
    fn migration_uris_are_absolute_files() {
        assert_eq!(
            file_uri(Path::new("/c/machine.state")).unwrap(),
            "file:/c/machine.state"
        );
        assert!(file_uri(Path::new("rel/x")).is_err());
        assert!(file_uri(Path::new("/a,b/x")).unwrap_err().contains("comma"));
    }
}
