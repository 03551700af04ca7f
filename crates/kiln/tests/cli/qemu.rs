//! The qemu builder end to end, through the kiln binary, with real QEMU
//! under TCG. The VM tests need the base Debian image that
//! scripts/make-base-image.sh builds (cached outside the checkout, so only
//! the first run pays for debootstrap). VM boots are slow under TCG: each
//! test boots at most two.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;

fn build(d: &TestDir, args: &[&str]) -> Run {
    let mut a = vec!["build", "-color=false"];
    a.extend_from_slice(args);
    kiln(d, &a)
}

/// The base image directory, building it if needed.
pub(crate) fn base_image() -> PathBuf {
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

#[test]
fn qemu_validate_collects_every_error() {
    let d = dir();
    d.write(
        "t.json",
        r#"{"builders":[{"type":"qemu","format":"vmdk","accelerator":"bogus","disk_interface":"sata2",
            "boot_wait":"xx","host_port_min":5000,"host_port_max":4000,"use_backing_file":true,
            "communicator":"none"}]}"#,
    );
    let r = kiln(&d, &["validate", "t.json"]);
    assert_ne!(r.code, 0);
    insta::assert_snapshot!(r.snapshot(d.path()));
}

#[test]
fn qemu_inspect_lists_the_builder() {
    let d = dir();
    d.write(
        "t.json",
        r#"{"builders":[{"type":"qemu","iso_url":"x.iso","iso_checksum":"none","communicator":"none"}]}"#,
    );
    let r = kiln(&d, &["validate", "t.json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

/// A failing provisioner leaves no qemu process and no output directory.
/// `shell-local` fails while the VM is up, so no boot has to finish.
#[test]
fn qemu_failing_provisioner_cleans_up() {
    let base = base_image();
    let d = dir();
    let out = d.path().join("out-fail");
    d.write(
        "t.json",
        &serde_json::json!({
            "builders": [{
                "type": "qemu", "iso_url": base.join("disk-boot.qcow2"), "iso_checksum": "none",
                "disk_image": true, "use_backing_file": true, "headless": true,
                "communicator": "none", "output_directory": out, "vm_name": "vm",
                "memory": 256, "shutdown_timeout": "5m"
            }],
            "provisioners": [{"type": "shell-local", "inline": ["exit 3"]}]
        })
        .to_string(),
    );
    let r = build(&d, &["t.json"]);
    assert_ne!(r.code, 0, "{}", r.stdout);
    assert!(
        r.stdout.contains("Starting VM, booting disk image"),
        "{}",
        r.stdout
    );
    assert!(!out.exists(), "the output directory was left behind");
    let mut left = kiln_test::procs::processes_matching(&out.display().to_string());
    left.retain(|cmd| cmd.contains("qemu-system"));
    assert!(left.is_empty(), "qemu left running: {left:?}");
}

fn write_iso_tree(root: &Path, base: &Path) {
    std::fs::create_dir_all(root.join("isolinux")).unwrap();
    // Mount points the initrd moves /dev, /proc, /sys and /run onto.
    for sub in ["bin", "dev", "proc", "sys", "run", "tmp"] {
        std::fs::create_dir_all(root.join(sub)).unwrap();
    }
    std::fs::copy(
        "/usr/lib/ISOLINUX/isolinux.bin",
        root.join("isolinux/isolinux.bin"),
    )
    .unwrap();
    std::fs::copy(
        "/usr/lib/syslinux/modules/bios/ldlinux.c32",
        root.join("isolinux/ldlinux.c32"),
    )
    .unwrap();
    // No default: isolinux waits at `boot:` for the boot command.
    std::fs::write(root.join("isolinux/isolinux.cfg"), "PROMPT 1\nTIMEOUT 0\n").unwrap();
    std::fs::copy(base.join("vmlinuz"), root.join("vmlinuz")).unwrap();
    std::fs::copy(base.join("initrd.img"), root.join("initrd.img")).unwrap();
    std::fs::copy("/bin/busybox", root.join("bin/busybox")).unwrap();
    // Run as init from the CD (the initrd mounts it as root): write the
    // marker from the typed kernel command line to the disk, power off.
    let init = "#!/bin/busybox sh\n\
        /bin/busybox mount -t proc proc /proc 2>/dev/null\n\
        for w in $(/bin/busybox cat /proc/cmdline); do\n\
          case $w in kiln_marker=*) m=${w#kiln_marker=};; esac\n\
        done\n\
        echo \"MARKER:$m:END\" | /bin/busybox dd of=/dev/vda conv=fsync 2>/dev/null\n\
        /bin/busybox sync\n\
        /bin/busybox poweroff -f\n";
    std::fs::write(root.join("kiln-init"), init).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        root.join("kiln-init"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
}

/// The ISO + boot_command path: a bootable ISO made here (isolinux waiting
/// at `boot:`), a boot command that types a kernel command line carrying a
/// marker, `communicator: none`, and a guest that writes the marker to the
/// new disk and powers off.
#[test]
fn qemu_iso_boot_command_types_a_kernel_command_line() {
    let base = base_image();
    let d = dir();
    let tree = d.path().join("isotree");
    write_iso_tree(&tree, &base);
    let iso = d.path().join("test.iso");
    let st = Command::new("xorriso")
        .args([
            "-as",
            "mkisofs",
            "-quiet",
            "-R",
            "-J",
            "-b",
            "isolinux/isolinux.bin",
            "-c",
            "isolinux/boot.cat",
            "-no-emul-boot",
            "-boot-load-size",
            "4",
            "-boot-info-table",
            "-o",
        ])
        .arg(&iso)
        .arg(&tree)
        .status()
        .unwrap();
    assert!(st.success());
    let out = d.path().join("out-iso");
    d.write(
        "t.json",
        &serde_json::json!({
            "builders": [{
                "type": "qemu", "iso_url": iso, "iso_checksum": "none",
                "headless": true, "communicator": "none", "output_directory": out,
                "vm_name": "disk.qcow2", "disk_size": "16M", "memory": 512,
                "disk_interface": "virtio",
                "boot_wait": "4s", "boot_key_interval": "20ms",
                "boot_command": ["/vmlinuz initrd=/initrd.img root=/dev/sr0 rootfstype=iso9660 ",
                                 "init=/kiln-init console=ttyS0 kiln_marker={{ .Name }}-typed<enter>"],
                "shutdown_timeout": "4m"
            }]
        })
        .to_string(),
    );
    let start = Instant::now();
    let r = build(&d, &["t.json"]);
    assert_eq!(r.code, 0, "stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("Typing the boot command over QMP"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("Waiting for shutdown..."), "{}", r.stdout);
    assert!(r.stdout.contains("VM files in directory:"), "{}", r.stdout);
    let raw = d.path().join("disk.raw");
    let st = Command::new("qemu-img")
        .args(["convert", "-O", "raw"])
        .arg(out.join("disk.qcow2"))
        .arg(&raw)
        .status()
        .unwrap();
    assert!(st.success());
    let bytes = std::fs::read(&raw).unwrap();
    let head = String::from_utf8_lossy(&bytes[..64]);
    assert!(
        head.starts_with("MARKER:disk.qcow2-typed:END"),
        "disk starts with {head:?}"
    );
    eprintln!("iso build took {:?}", start.elapsed());
}

fn ssh_cat(port: u16, key: &Path, cmd: &str, deadline: Duration) -> Option<String> {
    let start = Instant::now();
    while start.elapsed() < deadline {
        let out = Command::new("ssh")
            .args([
                "-q",
                "-o",
                "BatchMode=yes",
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
                "-o",
                "ConnectTimeout=3",
                "-i",
            ])
            .arg(key)
            .args(["-p", &port.to_string(), "root@127.0.0.1", cmd])
            .output()
            .ok()?;
        if out.status.success() {
            return Some(String::from_utf8_lossy(&out.stdout).into_owned());
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    None
}

/// Builds from the base disk image over SSH with a shell provisioner that
/// writes a marker, then boots the produced image with plain qemu and reads
/// the marker over SSH.
#[test]
fn qemu_ssh_build_then_boot_the_image() {
    let base = base_image();
    let d = dir();
    let out = d.path().join("out-ssh");
    let key = base.join("id_ed25519");
    d.write(
        "t.json",
        &serde_json::json!({
            "builders": [{
                "type": "qemu", "iso_url": base.join("disk-boot.qcow2"), "iso_checksum": "none",
                "disk_image": true, "headless": true, "output_directory": out, "vm_name": "vm.qcow2",
                "disk_size": "3G", "memory": 512,
                "ssh_username": "root", "ssh_private_key_file": key, "ssh_timeout": "6m",
                "shutdown_command": "poweroff", "shutdown_timeout": "3m"
            }],
            "provisioners": [{"type": "shell", "inline": ["echo kiln-was-here > /root/marker", "sync"]}]
        })
        .to_string(),
    );
    let r = build(&d, &["t.json"]);
    assert_eq!(r.code, 0, "stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("Connected to SSH!"), "{}", r.stdout);
    assert!(
        r.stdout.contains("Gracefully halting virtual machine"),
        "{}",
        r.stdout
    );

    // Boot the result with plain qemu.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut vm = Command::new("qemu-system-x86_64")
        .args([
            "-machine",
            "type=pc,accel=tcg",
            "-m",
            "512M",
            "-display",
            "none",
            "-netdev",
        ])
        .arg(format!("user,id=n0,hostfwd=tcp:127.0.0.1:{port}-:22"))
        .args(["-device", "virtio-net,netdev=n0", "-drive"])
        .arg(format!(
            "file={},if=virtio,snapshot=on",
            out.join("vm.qcow2").display()
        ))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let got = ssh_cat(port, &key, "cat /root/marker", Duration::from_secs(360));
    let _ = vm.kill();
    let _ = vm.wait();
    assert_eq!(got.as_deref(), Some("kiln-was-here\n"));
}

/// A loopback HTTP/1.0 server for the download tests: serves `files`
/// (URL path → local file) and records every path asked for.
struct HttpServer {
    port: u16,
    requests: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl HttpServer {
    fn start(files: Vec<(String, PathBuf)>) -> HttpServer {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = requests.clone();
        let files = std::sync::Arc::new(files);
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let (log, files) = (log.clone(), files.clone());
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(conn.try_clone().unwrap());
                    let mut line = String::new();
                    reader.read_line(&mut line).unwrap_or(0);
                    let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
                    loop {
                        let mut h = String::new();
                        if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                            break;
                        }
                    }
                    log.lock().unwrap().push(path.clone());
                    let mut conn = conn;
                    match files.iter().find(|(p, _)| *p == path) {
                        Some((_, file)) => {
                            let mut f = std::fs::File::open(file).unwrap();
                            let len = f.metadata().unwrap().len();
                            let _ = write!(
                                conn,
                                "HTTP/1.0 200 OK\r\nContent-Length: {len}\r\nContent-Type: application/octet-stream\r\n\r\n"
                            );
                            let _ = std::io::copy(&mut f, &mut conn);
                        }
                        None => {
                            let _ =
                                write!(conn, "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n");
                        }
                    }
                });
            }
        });
        HttpServer { port, requests }
    }

    fn count(&self, path: &str) -> usize {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|p| *p == path)
            .count()
    }
}

/// One VM boot for many features: the base image downloaded over HTTP
/// (with progress, checked against a `file:` checksum URL) into the
/// download cache, booted under UEFI (OVMF; the kernel is loaded with
/// `-kernel`, which OVMF boots too), with a floppy (`floppy_files` and
/// `floppy_content`, checked on the host while QEMU holds it: the cloud
/// kernel has no floppy driver), an additional disk and a swtpm TPM, both
/// checked from inside the guest. A second build of the same source hits
/// the cache (no second download), then stops because the output directory
/// is not empty, leaving the first build's output alone.
#[test]
fn qemu_http_cache_efi_floppy_extra_disk_and_tpm() {
    let base = base_image();
    let d = dir();
    let key = base.join("id_ed25519");
    let sums = d.path().join("SHA256SUMS");
    let out = Command::new("sha256sum")
        .arg(base.join("disk.qcow2"))
        .output()
        .unwrap();
    let hex = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    std::fs::write(&sums, format!("{hex}  disk.qcow2\n")).unwrap();
    let server = HttpServer::start(vec![
        ("/disk.qcow2".into(), base.join("disk.qcow2")),
        ("/SHA256SUMS".into(), sums.clone()),
    ]);
    let url = format!("http://127.0.0.1:{}", server.port);
    d.write("hello.txt", "hello from floppy_files\n");
    let out = d.path().join("out-efi");
    // The built disk goes on to alicloud-import, against the fake Alibaba
    // Cloud API: a qemu build's output becomes an ECS image.
    let fake = kiln_test::alicloud_fake::AlicloudFake::start();
    let template = |output: &Path| {
        serde_json::json!({
            "builders": [{
                "type": "qemu", "iso_url": format!("{url}/disk.qcow2"),
                "iso_checksum": format!("file:{url}/SHA256SUMS"),
                "disk_image": true, "use_backing_file": true, "headless": true,
                "output_directory": output, "vm_name": "vm.qcow2", "disk_size": "3G", "memory": 512,
                "efi_boot": true, "vtpm": true, "disk_additional_size": ["64M"],
                "floppy_files": ["hello.txt"], "floppy_content": {"greeting.txt": "hi from floppy_content"},
                "floppy_label": "KILNFLOP",
                "qemuargs": [["-kernel", base.join("vmlinuz")], ["-initrd", base.join("initrd.img")],
                             ["-append", "root=/dev/vda rw console=ttyS0"]],
                "ssh_username": "root", "ssh_private_key_file": key, "ssh_timeout": "6m",
                "shutdown_command": "poweroff", "shutdown_timeout": "3m"
            }],
            "provisioners": [
                {"type": "shell-local", "inline": [
                    format!("pid=$(pgrep -f 'qemu-system.*{}' | head -n1)", output.display()),
                    "img=$(tr '\\0' '\\n' < /proc/$pid/cmdline | grep -A1 '^-fda$' | tail -n1)",
                    "echo \"HOST-FLOPPY-LABEL: $(mlabel -s -i \"$img\" :: | sed 's/.* is //' | tr -d ' ')\"",
                    "echo \"HOST-FLOPPY: $(mtype -i \"$img\" ::/hello.txt) / $(mtype -i \"$img\" ::/greeting.txt)\""
                ]},
                {"type": "shell", "inline": [
                    "test -d /sys/firmware/efi && echo GUEST-EFI: yes",
                    "echo GUEST-VDB-BYTES: $(( $(cat /sys/block/vdb/size) * 512 ))",
                    "echo GUEST-TPM: $(cat /sys/class/tpm/tpm0/tpm_version_major)"
                ]}
            ],
            "post-processors": [{
                "type": "alicloud-import", "keep_input_artifact": true, "skip_clean": true,
                "access_key": fake.access_key(), "secret_key": fake.secret_key(),
                "region": "cn-hangzhou", "custom_endpoint_ecs": fake.endpoint(),
                "custom_endpoint_oss": fake.endpoint(), "custom_endpoint_ram": fake.endpoint(),
                "oss_bucket_name": "kiln-qemu", "oss_key_name": "qemu/vm.qcow2",
                "image_name": "kiln-qemu-import", "image_os_type": "linux",
                "image_platform": "Debian", "image_architecture": "x86_64", "format": "qcow2"
            }]
        })
        .to_string()
    };
    d.write("t.json", &template(&out));
    let cache = d.path().join("cache");
    let build_with_cache = |args: &[&str]| {
        let mut a = vec!["build", "-color=false"];
        a.extend_from_slice(args);
        let mut c = d.kiln(&a);
        c.env("PACKER_CACHE_DIR", &cache);
        run(c)
    };
    let r = build_with_cache(&["t.json"]);
    assert_eq!(r.code, 0, "stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
    for want in [
        format!("Downloading {url}/disk.qcow2"),
        "100% (".to_string(),
        "Starting the virtual TPM (swtpm)".to_string(),
        "HOST-FLOPPY-LABEL: KILNFLOP".to_string(),
        "HOST-FLOPPY: hello from floppy_files / hi from floppy_content".to_string(),
        "GUEST-EFI: yes".to_string(),
        "GUEST-VDB-BYTES: 67108864".to_string(),
        "GUEST-TPM: 2".to_string(),
    ] {
        assert!(
            r.stdout.contains(&want),
            "missing {want:?} in:\n{}",
            r.stdout
        );
    }
    let mut files: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files, ["efivars.fd", "vm.qcow2", "vm.qcow2-1"]);
    assert_eq!(server.count("/disk.qcow2"), 1);
    // alicloud-import uploaded the system disk, whole, and imported it.
    let res = fake.resources();
    let objects = res["object"].as_array().unwrap();
    assert_eq!(objects.len(), 1, "{res:#}");
    assert_eq!(objects[0]["Key"], "qemu/vm.qcow2", "{res:#}");
    let size = std::fs::metadata(out.join("vm.qcow2")).unwrap().len();
    assert_eq!(objects[0]["Size"], size, "{res:#}");
    let images = res["image"].as_array().unwrap();
    assert_eq!(images.len(), 1, "{res:#}");
    assert_eq!(images[0]["ImageName"], "kiln-qemu-import", "{res:#}");
    assert_eq!(images[0]["Status"], "Available", "{res:#}");
    assert_eq!(images[0]["disks"][0]["Format"], "QCOW2", "{res:#}");
    let id = images[0]["ImageId"].as_str().unwrap();
    assert!(r.stdout.contains(id), "{}", r.stdout);
    let cached: Vec<_> = std::fs::read_dir(&cache).unwrap().flatten().collect();
    assert_eq!(cached.len(), 1, "{cached:?}");

    // The same source again: served from the cache. The non-empty output
    // directory then stops the build before any VM starts.
    let r = build_with_cache(&["t.json"]);
    assert_ne!(r.code, 0, "{}", r.stdout);
    assert!(
        r.stdout
            .contains(&format!("Using cached {}", cached[0].path().display())),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("Downloading"), "{}", r.stdout);
    assert_eq!(server.count("/disk.qcow2"), 1);
    assert!(
        out.join("vm.qcow2").is_file(),
        "the first build's output was removed"
    );
    assert!(!r.stdout.contains("Starting VM"), "{}", r.stdout);
}

/// A Linux bridge for the `net_bridge` test, with a dnsmasq DHCP server on
/// it that hands the guest one fixed address, and an `allow` line in
/// qemu-bridge-helper's ACL (`/etc/qemu/bridge.conf`). Drop stops dnsmasq,
/// deletes the bridge and removes the ACL line again.
struct Bridge {
    name: String,
    dnsmasq: std::process::Child,
    acl_line: Option<String>,
}

const BRIDGE_ACL: &str = "/etc/qemu/bridge.conf";

impl Bridge {
    fn create(name: &str, host_cidr: &str, guest_ip: &str, dir: &Path) -> Bridge {
        let ip = |args: &[&str]| {
            let out = Command::new("ip").args(args).output().expect("run `ip`");
            assert!(
                out.status.success(),
                "`ip {}` failed (the net_bridge test needs root or CAP_NET_ADMIN): {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let _ = Command::new("ip").args(["link", "del", name]).output();
        ip(&["link", "add", name, "type", "bridge"]);
        ip(&["addr", "add", host_cidr, "dev", name]);
        ip(&["link", "set", name, "up"]);
        let line = format!("allow {name}");
        let acl = std::fs::read_to_string(BRIDGE_ACL).unwrap_or_default();
        let acl_line = if acl.lines().any(|l| l.trim() == line) {
            None
        } else {
            std::fs::create_dir_all("/etc/qemu").expect("create /etc/qemu");
            let mut s = acl.clone();
            if !s.is_empty() && !s.ends_with('\n') {
                s.push('\n');
            }
            s.push_str(&line);
            s.push('\n');
            std::fs::write(BRIDGE_ACL, s).expect("write the bridge ACL");
            Some(line)
        };
        let dnsmasq = Command::new("/usr/sbin/dnsmasq")
            .args([
                "--keep-in-foreground",
                "--conf-file=/dev/null",
                "--port=0",
                "--bind-interfaces",
                "--except-interface=lo",
            ])
            .arg(format!("--interface={name}"))
            .arg(format!(
                "--dhcp-range={guest_ip},{guest_ip},255.255.255.0,1h"
            ))
            .arg(format!("--dhcp-leasefile={}", dir.join("leases").display()))
            .arg(format!("--pid-file={}", dir.join("dnsmasq.pid").display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start dnsmasq (scripts/install-deps.sh installs dnsmasq-base)");
        Bridge {
            name: name.to_string(),
            dnsmasq,
            acl_line,
        }
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = self.dnsmasq.kill();
        let _ = self.dnsmasq.wait();
        let _ = Command::new("ip")
            .args(["link", "del", &self.name])
            .output();
        if let Some(line) = &self.acl_line {
            if let Ok(acl) = std::fs::read_to_string(BRIDGE_ACL) {
                let kept: String = acl
                    .lines()
                    .filter(|l| l.trim() != line)
                    .map(|l| format!("{l}\n"))
                    .collect();
                let _ = std::fs::write(BRIDGE_ACL, kept);
            }
        }
    }
}

/// `net_bridge`: the VM's NIC sits on a bridge (through qemu's bridge
/// helper) instead of user networking, gets its address from the DHCP
/// server on the bridge, and kiln reaches it at that address through
/// `ssh_host`, with no port forward.
#[test]
fn qemu_net_bridge_build_reaches_the_guest_on_the_bridge() {
    let base = base_image();
    let d = dir();
    let name = format!("kilnbr{}", std::process::id() % 100_000);
    let _bridge = Bridge::create(&name, "10.213.77.1/24", "10.213.77.2", d.path());
    let out = d.path().join("out-bridge");
    d.write(
        "t.json",
        &serde_json::json!({
            "builders": [{
                "type": "qemu", "iso_url": base.join("disk-boot.qcow2"), "iso_checksum": "none",
                "disk_image": true, "use_backing_file": true, "headless": true,
                "output_directory": out, "vm_name": "vm.qcow2", "memory": 512,
                "net_bridge": name, "ssh_host": "10.213.77.2",
                "ssh_username": "root", "ssh_private_key_file": base.join("id_ed25519"),
                "ssh_timeout": "6m", "shutdown_command": "poweroff", "shutdown_timeout": "3m"
            }],
            "provisioners": [{"type": "shell", "inline": ["ip -4 -o addr show scope global"]}]
        })
        .to_string(),
    );
    let r = build(&d, &["t.json"]);
    assert_eq!(r.code, 0, "stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("Connected to SSH!"), "{}", r.stdout);
    assert!(
        r.stdout.contains("inet 10.213.77.2/24"),
        "the guest has no address on the bridge:\n{}",
        r.stdout
    );
    assert!(
        !r.stdout.contains("Looking for available communicator"),
        "a bridged build must not forward a port:\n{}",
        r.stdout
    );
    assert!(out.join("vm.qcow2").exists());
}
