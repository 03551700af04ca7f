//! Test support for kiln's docker components, shared by the builder's and
//! post-processors' tests and the CLI tests. It stores nothing between
//! runs except one base image, and every resource a test creates is undone
//! by a guard's `Drop`, so a failing test still cleans up:
//!
//! - [`base_image`]: `kiln-test/busybox:latest`, made once with
//!   `docker import` from a busybox-static root file system (no pulls).
//! - [`cm_image`]: `kiln-test/cm:bookworm`, a Debian root with python3,
//!   ansible-core and puppet-agent for the configuration-management
//!   provisioners' tests, made by `scripts/make-cm-image.sh` (which
//!   `scripts/install-deps.sh` runs); a test fails when it is missing.
//! - [`Registry`]: Debian's `docker-registry` serving on 127.0.0.1 from a
//!   temporary directory; dropping it kills the server and deletes the
//!   storage.
//! - [`Cleanup`]: containers and images to remove when the test ends.
//! - [`shared`] / [`exclusive`]: a lock so a test that counts dangling
//!   images does not see another test's intermediate image.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

/// The tag of the test base image.
pub const BASE_IMAGE: &str = "kiln-test/busybox:latest";

/// Runs the docker CLI and returns its output (never panics on failure).
pub fn docker(args: &[&str]) -> Output {
    Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run `docker {}`: {e}", args.join(" ")))
}

/// Runs the docker CLI, panicking with its stderr when it fails; returns
/// trimmed stdout.
pub fn docker_ok(args: &[&str]) -> String {
    let out = docker(args);
    assert!(
        out.status.success(),
        "`docker {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

static BASE: OnceLock<()> = OnceLock::new();

/// Makes sure [`BASE_IMAGE`] exists (importing it once) and returns its
/// tag. Panics with a clear message when docker or busybox is missing.
pub fn base_image() -> &'static str {
    BASE.get_or_init(|| {
        if docker(&["image", "inspect", BASE_IMAGE]).status.success() {
            return;
        }
        let busybox = Path::new("/bin/busybox");
        assert!(
            busybox.exists(),
            "busybox-static is required for the docker tests: run ./scripts/install-deps.sh"
        );
        let root = tempfile::tempdir().expect("temp dir");
        build_rootfs(root.path(), busybox).expect("build the busybox root file system");
        let tar = root.path().with_extension("tar");
        let st = Command::new("tar")
            .args(["-C"])
            .arg(root.path())
            .args(["--numeric-owner", "--owner=0", "--group=0", "-cf"])
            .arg(&tar)
            .arg(".")
            .status()
            .expect("run tar");
        assert!(st.success(), "tar of the root file system failed");
        let out = docker(&[
            "import",
            "--change",
            "CMD [\"/bin/sh\"]",
            tar.to_str().unwrap(),
            BASE_IMAGE,
        ]);
        let _ = std::fs::remove_file(&tar);
        // Another test process may have imported it meanwhile: fine.
        assert!(
            out.status.success() || docker(&["image", "inspect", BASE_IMAGE]).status.success(),
            "docker import failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    });
    BASE_IMAGE
}

/// The tag of the configuration-management guest image.
pub const CM_IMAGE: &str = "kiln-test/cm:bookworm";

/// Returns [`CM_IMAGE`]'s tag, panicking with the command that makes it
/// when it is missing (it takes minutes to build, so no test builds it).
pub fn cm_image() -> &'static str {
    assert!(
        docker(&["image", "inspect", CM_IMAGE]).status.success(),
        "the docker image `{CM_IMAGE}` is missing: run scripts/make-cm-image.sh (scripts/install-deps.sh does)"
    );
    CM_IMAGE
}

fn build_rootfs(root: &Path, busybox: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{symlink, PermissionsExt};
    for d in [
        "bin", "etc", "root", "tmp", "var/tmp", "usr/bin", "sbin", "home/app",
    ] {
        std::fs::create_dir_all(root.join(d))?;
    }
    std::fs::set_permissions(root.join("tmp"), std::fs::Permissions::from_mode(0o1777))?;
    std::fs::copy(busybox, root.join("bin/busybox"))?;
    std::fs::set_permissions(
        root.join("bin/busybox"),
        std::fs::Permissions::from_mode(0o755),
    )?;
    let list = Command::new(busybox).arg("--list").output()?;
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        let applet = applet.trim();
        if applet.is_empty() || applet == "busybox" {
            continue;
        }
        let _ = symlink("busybox", root.join("bin").join(applet));
    }
    std::fs::write(
        root.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
    )?;
    std::fs::write(
        root.join("etc/group"),
        "root:x:0:\napp:x:1000:\nnogroup:x:65534:\n",
    )?;
    Ok(())
}

static LOCK: RwLock<()> = RwLock::new(());

/// Held by tests that create intermediate images.
pub fn shared() -> RwLockReadGuard<'static, ()> {
    LOCK.read().unwrap_or_else(|e| e.into_inner())
}

/// Held by tests that count images: no other docker test of this process
/// runs meanwhile.
pub fn exclusive() -> RwLockWriteGuard<'static, ()> {
    LOCK.write().unwrap_or_else(|e| e.into_inner())
}

/// Containers and images removed when the guard drops, even on panic.
#[derive(Default)]
pub struct Cleanup {
    containers: Mutex<Vec<String>>,
    images: Mutex<Vec<String>>,
    /// Containers carrying this label (`key=value`) are removed too.
    label: Option<String>,
}

impl Cleanup {
    /// A guard that also removes every container labelled `label`.
    pub fn with_label(label: &str) -> Cleanup {
        Cleanup {
            containers: Mutex::new(Vec::new()),
            images: Mutex::new(Vec::new()),
            label: Some(label.to_string()),
        }
    }
    /// Removes `image` (id or reference) at the end.
    pub fn image(&self, image: &str) {
        self.images.lock().unwrap().push(image.to_string());
    }
    /// Removes `container` at the end.
    pub fn container(&self, container: &str) {
        self.containers.lock().unwrap().push(container.to_string());
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let mut containers = self
            .containers
            .lock()
            .map(|v| v.clone())
            .unwrap_or_default();
        if let Some(l) = &self.label {
            containers.extend(containers_labelled(l));
        }
        for c in containers {
            let _ = docker(&["rm", "-f", "-v", &c]);
        }
        let images = self.images.lock().map(|v| v.clone()).unwrap_or_default();
        for i in images.iter().rev() {
            let _ = docker(&["rmi", "-f", i]);
        }
    }
}

/// Ids of every container (running or not) labelled `label` (`key=value`).
pub fn containers_labelled(label: &str) -> Vec<String> {
    let out = docker(&["ps", "-aq", "--filter", &format!("label={label}")]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .filter(|l| !l.is_empty())
        .collect()
}

/// Ids of every untagged (dangling) image.
pub fn dangling_images() -> Vec<String> {
    let out = docker(&["images", "-q", "--no-trunc", "--filter", "dangling=true"]);
    let mut v: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .filter(|l| !l.is_empty())
        .collect();
    v.sort();
    v.dedup();
    v
}

/// Ids of every image, tagged or not.
pub fn all_images() -> Vec<String> {
    let out = docker(&["images", "-aq", "--no-trunc"]);
    let mut v: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .filter(|l| !l.is_empty())
        .collect();
    v.sort();
    v.dedup();
    v
}

/// A local registry server (Debian's `docker-registry`) on loopback.
pub struct Registry {
    child: Child,
    /// `127.0.0.1:<port>`.
    pub address: String,
    _storage: tempfile::TempDir,
}

impl Registry {
    /// Starts a registry on a free loopback port and waits until it
    /// answers. Panics when the package is missing.
    pub fn start() -> Registry {
        let bin = PathBuf::from("/usr/bin/docker-registry");
        assert!(
            bin.exists(),
            "docker-registry is required for the push tests: run ./scripts/install-deps.sh"
        );
        let storage = tempfile::tempdir().expect("temp dir");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let address = format!("127.0.0.1:{port}");
        let config = storage.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {address}\n",
                storage.path().join("data").display()
            ),
        )
        .expect("write registry config");
        let child = Command::new(bin)
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start docker-registry");
        let registry = Registry {
            child,
            address,
            _storage: storage,
        };
        let started = Instant::now();
        while std::net::TcpStream::connect(&registry.address).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "the registry did not start listening on {}",
                registry.address
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        registry
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A unique suffix for names in one test run.
pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}-{}-{nanos}", std::process::id())
}
