//! The [`Driver`]: every process the builder starts (qemu, qemu-img,
//! xorriso, mkfs.vfat, mcopy) goes through it, so steps can be unit-tested
//! with a fake. [`QemuDriver`] is the real one. A started VM is a
//! [`VmProcess`]: a watch channel that reports its exit, and a kill
//! switch; the child is also killed if the handle is dropped. The KVM
//! probe caches its verdict per host boot under kiln's cache directory.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::watch;

/// Why a process failed.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// It could not be started.
    #[error("cannot run `{program}`: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// It exited unsuccessfully.
    #[error("`{command}` failed ({status}): {stderr}")]
    Failed {
        /// The command line.
        command: String,
        /// The exit status.
        status: String,
        /// Its stderr, trimmed.
        stderr: String,
    },
    /// Something else around running it.
    #[error("{0}")]
    Other(String),
}

/// How a VM process ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmExit {
    /// `exit status 0`, `killed by signal 9`…
    pub status: String,
    /// True for a clean exit (status 0).
    pub success: bool,
}

/// A running (or finished) VM process.
pub struct VmProcess {
    /// The process id, for logs.
    pub pid: Option<u32>,
    /// `Some` once the process has exited.
    pub exited: watch::Receiver<Option<VmExit>>,
    kill: Arc<dyn Fn() + Send + Sync>,
}

impl VmProcess {
    /// A handle from its parts (fake drivers use this).
    pub fn new(
        pid: Option<u32>,
        exited: watch::Receiver<Option<VmExit>>,
        kill: Arc<dyn Fn() + Send + Sync>,
    ) -> Self {
        VmProcess { pid, exited, kill }
    }

    /// Kills the process (SIGKILL); harmless when it already exited.
    pub fn kill(&self) {
        (self.kill)()
    }

    /// The exit, if it happened.
    pub fn exit(&self) -> Option<VmExit> {
        self.exited.borrow().clone()
    }

    /// Waits until the process exits.
    pub async fn wait(&self) -> VmExit {
        let mut rx = self.exited.clone();
        loop {
            if let Some(e) = rx.borrow_and_update().clone() {
                return e;
            }
            if rx.changed().await.is_err() {
                return rx.borrow().clone().unwrap_or(VmExit {
                    status: "unknown".into(),
                    success: false,
                });
            }
        }
    }
}

/// Runs the builder's external programs.
#[async_trait]
pub trait Driver: Send + Sync {
    /// Runs `program` to completion; returns its stdout.
    async fn run(&self, program: &str, args: &[String]) -> Result<String, DriverError>;
    /// True when `program` is on PATH.
    fn has(&self, program: &str) -> bool;
    /// Starts QEMU, its stdout and stderr going to `log`.
    async fn start_vm(
        &self,
        binary: &str,
        args: &[String],
        log: &Path,
    ) -> Result<VmProcess, DriverError>;
    /// True when KVM really runs a guest here.
    async fn kvm_usable(&self, binary: &str) -> bool;
}

/// The real driver.
#[derive(Default)]
pub struct QemuDriver;

fn quote(program: &str, args: &[String]) -> String {
    std::iter::once(program.to_string())
        .chain(args.iter().map(|a| {
            if a.is_empty() || a.contains(char::is_whitespace) {
                format!("'{a}'")
            } else {
                a.clone()
            }
        }))
        .collect::<Vec<_>>()
        .join(" ")
}

/// kiln's cache directory (`KILN_CACHE_DIR`, else `~/.cache/kiln`).
pub fn kiln_cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("KILN_CACHE_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/tmp".into());
    PathBuf::from(home).join(".cache").join("kiln")
}

/// A boot sector that proves KVM runs what real boot loaders do: it
/// enters 32-bit protected mode with the real-mode data segments still
/// loaded, returns through an `iret`, and then writes 0x31 to
/// isa-debug-exit, so QEMU exits with status 99. Where KVM lacks
/// unrestricted guest support (nested virtualization), that state has to
/// be emulated and KVM's emulator cannot do a protected-mode `iret`: the
/// guest stops with "KVM internal error. Suberror: 1 … emulation failure",
/// as syslinux's boot does there, and the probe times out. A boot sector
/// that only wrote the port passed on such a host while every real image
/// failed. Source (GNU as, `--32`, linked at 0x7c00):
///
/// ```text
/// .code16
///   cli; xor %ax,%ax; mov %ax,%ds; mov %ax,%ss; mov $0x7c00,%sp
///   lgdtl gdtr; mov %cr0,%eax; or $1,%eax; mov %eax,%cr0
///   ljmpl $0x08,$pm32
/// .code32
/// pm32: pushfl; pushl $0x08; pushl $after; iretl
/// after: movb $0x31,%al; outb %al,$0xf4; hlt
/// gdt: .quad 0, 0x00cf9a000000ffff, 0x00cf92000000ffff
/// gdtr: .word 23; .long gdt
/// ```
fn probe_image() -> Vec<u8> {
    let mut b = vec![
        0xFA, 0x31, 0xC0, 0x8E, 0xD8, 0x8E, 0xD0, 0xBC, 0x00, 0x7C, 0x66, 0x0F, 0x01, 0x16, 0x48,
        0x7C, 0x0F, 0x20, 0xC0, 0x66, 0x83, 0xC8, 0x01, 0x0F, 0x22, 0xC0, 0x66, 0xEA, 0x22, 0x7C,
        0x00, 0x00, 0x08, 0x00, 0x9C, 0x6A, 0x08, 0x68, 0x2B, 0x7C, 0x00, 0x00, 0xCF, 0xB0, 0x31,
        0xE6, 0xF4, 0xF4, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0x00, 0x00,
        0x00, 0x9A, 0xCF, 0x00, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x92, 0xCF, 0x00, 0x17, 0x00, 0x30,
        0x7C, 0x00, 0x00,
    ];
    b.resize(510, 0);
    b.extend_from_slice(&[0x55, 0xAA]);
    b
}

#[async_trait]
impl Driver for QemuDriver {
    async fn run(&self, program: &str, args: &[String]) -> Result<String, DriverError> {
        let out = tokio::process::Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output()
            .await
            .map_err(|source| DriverError::Spawn {
                program: program.to_string(),
                source,
            })?;
        if !out.status.success() {
            return Err(DriverError::Failed {
                command: quote(program, args),
                status: out.status.to_string(),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn has(&self, program: &str) -> bool {
        if program.contains('/') {
            return Path::new(program).is_file();
        }
        std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
            .unwrap_or(false)
    }

    async fn start_vm(
        &self,
        binary: &str,
        args: &[String],
        log: &Path,
    ) -> Result<VmProcess, DriverError> {
        let file = std::fs::File::create(log)
            .map_err(|e| DriverError::Other(format!("cannot create `{}`: {e}", log.display())))?;
        let file2 = file
            .try_clone()
            .map_err(|e| DriverError::Other(format!("cannot reopen `{}`: {e}", log.display())))?;
        let mut child = tokio::process::Command::new(binary)
            .args(args)
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(file2)
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| DriverError::Spawn {
                program: binary.to_string(),
                source,
            })?;
        let pid = child.id();
        let (tx, rx) = watch::channel(None);
        let (kill_tx, mut kill_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
        tokio::spawn(async move {
            let status = loop {
                tokio::select! {
                    s = child.wait() => break s,
                    k = kill_rx.recv() => {
                        let _ = child.start_kill();
                        if k.is_none() {
                            // The handle was dropped: kill and reap.
                            break child.wait().await;
                        }
                    }
                }
            };
            let exit = match status {
                Ok(s) => VmExit {
                    status: s.to_string(),
                    success: s.success(),
                },
                Err(e) => VmExit {
                    status: format!("wait failed: {e}"),
                    success: false,
                },
            };
            let _ = tx.send(Some(exit));
        });
        Ok(VmProcess::new(
            pid,
            rx,
            Arc::new(move || {
                let _ = kill_tx.send(());
            }),
        ))
    }

    async fn kvm_usable(&self, binary: &str) -> bool {
        if std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/kvm")
            .is_err()
        {
            return false;
        }
        let boot_id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        // `kvm-probe2`: the answers of the older, weaker probe are not reused.
        let cache = kiln_cache_dir().join(format!("kvm-probe2-{boot_id}"));
        if !boot_id.is_empty() {
            if let Ok(v) = std::fs::read_to_string(&cache) {
                return v.trim() == "yes";
            }
        }
        let Ok(dir) = tempfile::tempdir() else {
            return false;
        };
        let img = dir.path().join("probe.img");
        if std::fs::write(&img, probe_image()).is_err() {
            return false;
        }
        let child = tokio::process::Command::new(binary)
            .args([
                "-accel",
                "kvm",
                "-display",
                "none",
                "-nodefaults",
                "-no-user-config",
                "-m",
                "16",
                "-device",
                "isa-debug-exit,iobase=0xf4,iosize=0x04",
                "-boot",
                "a",
                "-drive",
            ])
            .arg(format!("file={},format=raw,if=floppy", img.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .status();
        let ok = matches!(
            tokio::time::timeout(Duration::from_secs(3), child).await,
            Ok(Ok(s)) if s.code() == Some(99)
        );
        if !boot_id.is_empty() {
            let _ = std::fs::create_dir_all(kiln_cache_dir());
            let _ = std::fs::write(&cache, if ok { "yes" } else { "no" });
        }
        ok
    }
}

#[cfg(test)]
pub mod fake {
    //! A driver that records commands and succeeds.
    use super::*;
    use std::sync::Mutex;

    /// Records every command; `fail` makes commands containing it fail.
    #[derive(Default)]
    pub struct FakeDriver {
        /// `program arg arg…` per call.
        pub calls: Mutex<Vec<String>>,
        /// Substring that makes a command fail.
        pub fail: Option<String>,
        /// What `run` returns on stdout.
        pub stdout: String,
    }

    impl FakeDriver {
        /// The recorded calls.
        pub fn calls(&self) -> Vec<String> {
            self.calls.lock().unwrap().clone()
        }
    }

    #[async_trait]
    impl Driver for FakeDriver {
        async fn run(&self, program: &str, args: &[String]) -> Result<String, DriverError> {
            let line = quote(program, args);
            self.calls.lock().unwrap().push(line.clone());
            if let Some(f) = &self.fail {
                if line.contains(f.as_str()) {
                    return Err(DriverError::Failed {
                        command: line,
                        status: "exit status: 1".into(),
                        stderr: "boom".into(),
                    });
                }
            }
            Ok(self.stdout.clone())
        }
        fn has(&self, _: &str) -> bool {
            true
        }
        async fn start_vm(
            &self,
            b: &str,
            a: &[String],
            _: &Path,
        ) -> Result<VmProcess, DriverError> {
            self.calls.lock().unwrap().push(quote(b, a));
            let (tx, rx) = watch::channel(None);
            let tx = Arc::new(tx);
            Ok(VmProcess::new(
                None,
                rx,
                Arc::new(move || {
                    let _ = tx.send(Some(VmExit {
                        status: "killed".into(),
                        success: false,
                    }));
                }),
            ))
        }
        async fn kvm_usable(&self, _: &str) -> bool {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn run_reports_failures_with_the_command() {
        let d = QemuDriver;
        assert_eq!(d.run("echo", &["hi".into()]).await.unwrap(), "hi\n");
        let e = d
            .run("sh", &["-c".into(), "echo nope >&2; exit 3".into()])
            .await
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("`sh -c 'echo nope >&2; exit 3'` failed") && e.contains("nope"),
            "{e}"
        );
        let e = d.run("/nonexistent/x", &[]).await.unwrap_err().to_string();
        assert!(e.starts_with("cannot run `/nonexistent/x`"), "{e}");
    }

    #[tokio::test]
    async fn vm_process_reports_exit_and_can_be_killed() {
        let dir = tempfile::tempdir().unwrap();
        let d = QemuDriver;
        let vm = d
            .start_vm(
                "sh",
                &["-c".into(), "echo out; exit 4".into()],
                &dir.path().join("log"),
            )
            .await
            .unwrap();
        let e = vm.wait().await;
        assert!(!e.success && e.status.contains('4'), "{e:?}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("log")).unwrap(),
            "out\n"
        );
        let vm = d
            .start_vm("sleep", &["30".into()], &dir.path().join("log2"))
            .await
            .unwrap();
        assert!(vm.exit().is_none());
        vm.kill();
        let e = tokio::time::timeout(Duration::from_secs(5), vm.wait())
            .await
            .unwrap();
        assert!(e.status.contains("signal"), "{e:?}");
    }

    /// The KVM probe is a real program: under TCG (which emulates every
    /// instruction) it reaches the debug port, so a probe that times out
    /// under KVM means KVM, not the probe.
    #[test]
    fn the_kvm_probe_runs_to_its_exit_under_tcg() {
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("probe.img");
        std::fs::write(&img, probe_image()).unwrap();
        let mut child = std::process::Command::new("qemu-system-x86_64")
            .args([
                "-accel",
                "tcg",
                "-display",
                "none",
                "-nodefaults",
                "-no-user-config",
            ])
            .args([
                "-m",
                "16",
                "-device",
                "isa-debug-exit,iobase=0xf4,iosize=0x04",
            ])
            .args(["-boot", "a", "-drive"])
            .arg(format!("file={},format=raw,if=floppy", img.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("run qemu-system-x86_64 (scripts/install-deps.sh installs it)");
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                panic!("the probe did not finish under tcg");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        assert_eq!(status.code(), Some(99), "{status}");
    }
}
