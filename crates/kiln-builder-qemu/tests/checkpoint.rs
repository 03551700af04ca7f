//! Checkpoints of the qemu builder with real QEMU under TCG: a first build
//! saves the running VM from inside its provision hook (memory, devices
//! and disks) and goes on; a second build restores that checkpoint and
//! finds what the first wrote before the save on disk and in memory (a
//! file in /dev/shm, a process, the same boot ID: the guest never
//! rebooted), and not what it wrote after. Needs the base Debian image of
//! scripts/make-base-image.sh (built once, cached outside the checkout).
//! The checkpoints and the hook stand in for the core's; everything they
//! write is in temporary directories.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use kiln_builder_qemu::QemuBuilderFactory;
use kiln_sdk::checkpoint::{Checkpoints, MachineSaver, Restore, Saved};
use kiln_sdk::communicator::{Communicator, ExitStatus};
use kiln_sdk::component::{BuildContext, BuildError, GeneratedData, Hook, HookEvent};
use kiln_sdk::config::RawConfig;
use kiln_sdk::ui::RecordingUi;
use kiln_sdk::{BuilderFactory, Ui};
use kiln_test::comm::run_cmd;
use kiln_test::prepare_cx;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

/// The base image directory, building it if needed.
fn base_image() -> PathBuf {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/make-base-image.sh");
    let out = Command::new("bash")
        .arg(&script)
        .stderr(Stdio::inherit())
        .output()
        .expect("run make-base-image.sh");
    assert!(out.status.success(), "make-base-image.sh failed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    PathBuf::from(
        stdout
            .lines()
            .last()
            .expect("make-base-image.sh printed no directory")
            .trim(),
    )
}

/// The core's side, as far as the builder sees it: records the inputs,
/// answers `plan` with `answer`, keeps the attached saver.
struct TestCheckpoints {
    answer: Option<Restore>,
    inputs: Mutex<Vec<Value>>,
    saver: Mutex<Option<Arc<dyn MachineSaver>>>,
}

impl TestCheckpoints {
    fn new(answer: Option<Restore>) -> Arc<Self> {
        Arc::new(TestCheckpoints {
            answer,
            inputs: Mutex::new(Vec::new()),
            saver: Mutex::new(None),
        })
    }
}

#[async_trait]
impl Checkpoints for TestCheckpoints {
    async fn plan(&self, _: &dyn Ui, inputs: Value) -> Option<Restore> {
        self.inputs.lock().unwrap().push(inputs);
        self.answer.clone()
    }
    fn attach(&self, saver: Arc<dyn MachineSaver>) {
        *self.saver.lock().unwrap() = Some(saver);
    }
}

/// What the hook saw.
#[derive(Default, Debug)]
struct Seen {
    /// From the build's start to the hook's.
    hook_after: Option<Duration>,
    /// How long the save took.
    save_took: Option<Duration>,
    saved: Option<Saved>,
    /// What `before` printed; its last line is the boot ID.
    before: Vec<String>,
    /// Lines the commands printed, per command.
    outputs: Vec<Vec<String>>,
}

enum Phase {
    /// Run `before` (its last line is the boot ID), save into `dir`, run
    /// `after` (the VM goes on).
    First {
        dir: PathBuf,
        before: String,
        after: String,
    },
    /// Run `check`.
    Second { check: String },
}

struct TestHook {
    phase: Phase,
    checkpoints: Arc<TestCheckpoints>,
    started: Instant,
    seen: Mutex<Seen>,
}

async fn sh(c: &dyn Communicator, cmd: &str) -> Result<Vec<String>, BuildError> {
    let (status, out, err) = run_cmd(c, cmd).await;
    if status != ExitStatus::Code(0) {
        return Err(BuildError::msg(format!(
            "`{cmd}`: {status:?}\nstdout: {out:?}\nstderr: {err:?}"
        )));
    }
    Ok(out)
}

#[async_trait]
impl Hook for TestHook {
    async fn run(
        &self,
        event: HookEvent,
        ui: &dyn Ui,
        communicator: &dyn Communicator,
        _: &GeneratedData,
        cancel: &CancellationToken,
    ) -> Result<(), BuildError> {
        if event != HookEvent::Provision {
            return Ok(());
        }
        self.seen.lock().unwrap().hook_after = Some(self.started.elapsed());
        match &self.phase {
            Phase::First { dir, before, after } => {
                let out = sh(communicator, before).await?;
                self.seen.lock().unwrap().before = out;
                let saver = self
                    .checkpoints
                    .saver
                    .lock()
                    .unwrap()
                    .clone()
                    .ok_or_else(|| BuildError::msg("no saver was attached"))?;
                let t = Instant::now();
                let saved = saver.save(ui, dir, cancel).await?;
                self.seen.lock().unwrap().save_took = Some(t.elapsed());
                self.seen.lock().unwrap().saved = Some(saved);
                let out = sh(communicator, after).await?;
                self.seen.lock().unwrap().outputs.push(out);
            }
            Phase::Second { check } => {
                let out = sh(communicator, check).await?;
                self.seen.lock().unwrap().outputs.push(out);
            }
        }
        Ok(())
    }
}

/// Runs one build of `config` with `checkpoints` and a hook in `phase`.
async fn build(
    config: Value,
    checkpoints: Arc<TestCheckpoints>,
    phase: Phase,
) -> (Result<(), BuildError>, Arc<TestHook>, Vec<String>) {
    let prepared = QemuBuilderFactory
        .prepare(&RawConfig::from_value(config), &prepare_cx("qemu"))
        .unwrap_or_else(|e| panic!("prepare: {e}"));
    let ui = Arc::new(RecordingUi::default());
    let hook = Arc::new(TestHook {
        phase,
        checkpoints: checkpoints.clone(),
        started: Instant::now(),
        seen: Mutex::new(Seen::default()),
    });
    let r = prepared
        .component
        .run(BuildContext {
            ui: ui.clone(),
            hook: hook.clone(),
            cancel: CancellationToken::new(),
            on_error: Default::default(),
            debug: false,
            force: false,
            run_uuid: "00000000-0000-0000-0000-000000000000",
            record: Default::default(),
            checkpoints: Some(checkpoints as Arc<dyn Checkpoints>),
        })
        .await
        .map(|_| ());
    (r, hook, ui.lines())
}

fn config(base: &Path, out: &Path, name: &str) -> Value {
    json!({
        "iso_url": base.join("disk-boot.qcow2"), "iso_checksum": "none",
        "disk_image": true, "use_backing_file": true, "headless": true,
        "output_directory": out, "vm_name": name, "disk_size": "3G",
        "disk_additional_size": ["64M"], "memory": 512, "accelerator": "tcg",
        "ssh_username": "root", "ssh_private_key_file": base.join("id_ed25519"),
        "ssh_timeout": "6m", "shutdown_command": "poweroff", "shutdown_timeout": "3m"
    })
}

/// Size and modification time of every file in `dir`.
fn listing(dir: &Path) -> Vec<(String, u64, SystemTime)> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| {
            let m = e.metadata().unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                m.len(),
                m.modified().unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saves_the_running_vm_and_restores_it_without_booting() {
    let base = base_image();
    let tmp = tempfile::tempdir().unwrap();
    let ck = tmp.path().join("checkpoint-1");
    std::fs::create_dir(&ck).unwrap();

    // First build: boot, write the markers, save, go on.
    let first = TestCheckpoints::new(None);
    let (r, hook, lines) = build(
        config(&base, &tmp.path().join("out1"), "one.qcow2"),
        first.clone(),
        Phase::First {
            dir: ck.clone(),
            // On disk (never synced: the page cache is in the saved
            // memory), in memory only, and a running process.
            before: "echo one > /root/marker; echo in-memory > /dev/shm/mem-marker; \
                     setsid sleep 4242 </dev/null >/dev/null 2>&1 & \
                     cat /proc/sys/kernel/random/boot_id"
                .into(),
            // The VM goes on after the save.
            after: "echo two > /root/after; cat /root/marker /dev/shm/mem-marker".into(),
        },
    )
    .await;
    assert!(r.is_ok(), "{r:?}\n{}", lines.join("\n"));
    let seen1 = std::mem::take(&mut *hook.seen.lock().unwrap());
    assert_eq!(
        seen1.outputs,
        [vec!["one".to_string(), "in-memory".into()]],
        "{}",
        lines.join("\n")
    );
    let saved = seen1.saved.clone().expect("the hook saved a checkpoint");
    assert_eq!(saved.external_size, 0);
    assert_eq!(
        saved.data,
        json!({"layout": 1, "state": "machine.state",
               "disks": [{"file": "disk0.qcow2", "format": "qcow2", "overlay": true},
                         {"file": "disk1.qcow2", "format": "qcow2", "overlay": false}],
               "efivars": null})
    );
    let files: Vec<String> = listing(&ck).into_iter().map(|f| f.0).collect();
    assert_eq!(files, ["disk0.qcow2", "disk1.qcow2", "machine.state"]);
    assert!(
        lines
            .iter()
            .any(|l| l.contains("Saving a checkpoint of the VM")),
        "{}",
        lines.join("\n")
    );
    let inputs1 = first.inputs.lock().unwrap().clone();
    assert_eq!(inputs1.len(), 1);
    assert!(
        inputs1[0]["source"]["digest"]
            .as_str()
            .unwrap()
            .starts_with("sha256:"),
        "{:#}",
        inputs1[0]
    );
    let before = listing(&ck);

    // Second build, another name and place: same inputs; restored.
    let second = TestCheckpoints::new(Some(Restore {
        after: 1,
        data: saved.data.clone(),
        dir: ck.clone(),
    }));
    let out2 = tmp.path().join("out2");
    let (r, hook, lines) = build(
        config(&base, &out2, "two.qcow2"),
        second.clone(),
        Phase::Second {
            check: "cat /root/marker /dev/shm/mem-marker /proc/sys/kernel/random/boot_id; \
                    pgrep -fx 'sleep 4242' >/dev/null && echo sleeping || echo not-sleeping; \
                    test -e /root/after && echo after-exists || echo no-after; date +%s"
                .into(),
        },
    )
    .await;
    assert!(r.is_ok(), "{r:?}\n{}", lines.join("\n"));
    assert_eq!(*second.inputs.lock().unwrap(), inputs1);
    let mut seen2 = std::mem::take(&mut *hook.seen.lock().unwrap());
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    // The guest's clock carries on from the save (printed, not checked).
    let guest_now: i64 = seen2.outputs[0].pop().unwrap().parse().unwrap();
    let boot_id = seen1.before.last().cloned().unwrap();
    assert_eq!(
        seen2.outputs,
        [vec![
            "one".to_string(),
            "in-memory".into(),
            boot_id,
            "sleeping".into(),
            "no-after".into()
        ]],
        "{}",
        lines.join("\n")
    );
    let said = |s: &str| lines.iter().any(|l| l.contains(s));
    assert!(
        said("Restored the VM from the checkpoint (memory and disks)"),
        "{}",
        lines.join("\n")
    );
    assert!(
        !said("booting disk image") && !said("Creating required virtual machine disks"),
        "{}",
        lines.join("\n")
    );
    // The checkpoint is left as it was; the output overlay is backed by
    // the source again.
    assert_eq!(listing(&ck), before);
    let info = Command::new("qemu-img")
        .args(["info", "--output=json", "-U"])
        .arg(out2.join("two.qcow2"))
        .output()
        .unwrap();
    let info: Value = serde_json::from_slice(&info.stdout).unwrap();
    let backing = std::fs::canonicalize(base.join("disk-boot.qcow2")).unwrap();
    assert_eq!(
        info["backing-filename"].as_str(),
        Some(backing.to_str().unwrap()),
        "{info:#}"
    );
    assert!(out2.join("two.qcow2-1").is_file());

    let size: u64 = before.iter().map(|f| f.1).sum();
    println!(
        "first build: hook after {:.1}s, save took {:.1}s ({} MiB); restored build: hook after {:.1}s",
        seen1.hook_after.unwrap().as_secs_f64(),
        seen1.save_took.unwrap().as_secs_f64(),
        size >> 20,
        seen2.hook_after.unwrap().as_secs_f64(),
    );
    for l in lines.iter().filter(|l| l.contains("Restored the VM")) {
        println!("{l}");
    }
    println!(
        "the restored guest's clock is {}s behind the host's",
        now - guest_now
    );
}

/// TPM2_GetRandom(8) written to /dev/tpm0: the answer's header, in hex.
/// A TPM that was not started up (its state lost) answers
/// `TPM_RC_INITIALIZE` (0x100) instead of success.
const TPM_GET_RANDOM: &str = "exec 3<>/dev/tpm0; \
    printf '\\200\\001\\000\\000\\000\\014\\000\\000\\001\\173\\000\\010' >&3; \
    dd bs=64 count=1 status=none <&3 | od -An -tx1 -N10 | tr -d ' \\n'; echo; exec 3>&-";

/// The other disk path (a standalone copy in `raw`) and the state beside
/// the VM: UEFI variables (OVMF; the kernel loaded with `-kernel`), an
/// emulated TPM (swtpm, its state carried by the migration stream), a
/// floppy and an additional disk.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restores_uefi_tpm_and_raw_disks() {
    let base = base_image();
    let tmp = tempfile::tempdir().unwrap();
    let ck = tmp.path().join("checkpoint-1");
    std::fs::create_dir(&ck).unwrap();
    let config = |out: &Path, name: &str| {
        json!({
            "iso_url": base.join("disk.qcow2"), "iso_checksum": "none",
            "disk_image": true, "format": "raw", "headless": true,
            "output_directory": out, "vm_name": name, "disk_size": "2G",
            "disk_additional_size": ["64M"], "memory": 512, "accelerator": "tcg",
            "efi_boot": true, "vtpm": true,
            "floppy_content": {"greeting.txt": "hi"},
            "qemuargs": [["-kernel", base.join("vmlinuz")], ["-initrd", base.join("initrd.img")],
                         ["-append", "root=/dev/vda rw console=ttyS0"]],
            "ssh_username": "root", "ssh_private_key_file": base.join("id_ed25519"),
            "ssh_timeout": "6m", "shutdown_command": "poweroff", "shutdown_timeout": "3m"
        })
    };
    let first = TestCheckpoints::new(None);
    let (r, hook, lines) = build(
        config(&tmp.path().join("out1"), "one.raw"),
        first.clone(),
        Phase::First {
            dir: ck.clone(),
            before: format!(
                "echo one > /root/marker; echo in-memory > /dev/shm/mem-marker; {TPM_GET_RANDOM}; \
                 test -d /sys/firmware/efi && echo efi; cat /proc/sys/kernel/random/boot_id"
            ),
            after: "cat /root/marker".into(),
        },
    )
    .await;
    assert!(r.is_ok(), "{r:?}\n{}", lines.join("\n"));
    let seen1 = std::mem::take(&mut *hook.seen.lock().unwrap());
    assert_eq!(seen1.outputs, [vec!["one".to_string()]]);
    // TPM2_GetRandom's answer: tag 8001, size 0x14, TPM_RC_SUCCESS.
    let tpm_ok = "80010000001400000000".to_string();
    assert_eq!(seen1.before.len(), 3, "{:?}", seen1.before);
    assert_eq!(seen1.before[..2], [tpm_ok.clone(), "efi".into()]);
    let saved = seen1.saved.clone().expect("the hook saved a checkpoint");
    assert_eq!(
        saved.data,
        json!({"layout": 1, "state": "machine.state",
               "disks": [{"file": "disk0.qcow2", "format": "qcow2", "overlay": false},
                         {"file": "disk1.qcow2", "format": "qcow2", "overlay": false}],
               "efivars": "efivars.fd"})
    );
    let second = TestCheckpoints::new(Some(Restore {
        after: 1,
        data: saved.data.clone(),
        dir: ck.clone(),
    }));
    let out2 = tmp.path().join("out2");
    let (r, hook, lines) = build(
        config(&out2, "two.raw"),
        second.clone(),
        Phase::Second {
            check: format!(
                "cat /root/marker /dev/shm/mem-marker; {TPM_GET_RANDOM}; \
                 test -d /sys/firmware/efi && echo efi; cat /proc/sys/kernel/random/boot_id"
            ),
        },
    )
    .await;
    assert!(r.is_ok(), "{r:?}\n{}", lines.join("\n"));
    assert_eq!(
        *second.inputs.lock().unwrap(),
        *first.inputs.lock().unwrap()
    );
    let seen2 = std::mem::take(&mut *hook.seen.lock().unwrap());
    assert_eq!(
        seen2.outputs,
        [vec![
            "one".to_string(),
            "in-memory".into(),
            tpm_ok,
            "efi".into(),
            seen1.before[2].clone()
        ]],
        "{}",
        lines.join("\n")
    );
    let info = Command::new("qemu-img")
        .args(["info", "--output=json"])
        .arg(out2.join("two.raw"))
        .output()
        .unwrap();
    let info: Value = serde_json::from_slice(&info.stdout).unwrap();
    assert_eq!(info["format"], "raw", "{info:#}");
    assert_eq!(info["virtual-size"], 2u64 << 30, "{info:#}");
    assert!(out2.join("efivars.fd").is_file());
    println!(
        "UEFI+TPM: first build: hook after {:.1}s, save took {:.1}s; restored build: hook after {:.1}s",
        seen1.hook_after.unwrap().as_secs_f64(),
        seen1.save_took.unwrap().as_secs_f64(),
        seen2.hook_after.unwrap().as_secs_f64(),
    );
}
