//! `kiln build` with the amazon-ebs builder against moto's EC2 server (a
//! real third-party EC2 implementation, installed in a venv by
//! scripts/install-deps.sh), started on a free loopback port per test.
//!
//! moto does not boot instances, so the SSH step is pointed (`ssh_host`,
//! `ssh_port`) at a loopback OpenSSH server (kiln-ssh's test harness). That
//! server plays the instance's cloud-init: its `AuthorizedKeysCommand` asks
//! moto for the key pairs' public keys, so the temporary key pair kiln
//! imports is what lets it log in. The tests check what the build left in
//! moto through boto3 (an independent EC2 and IAM client), and what exists
//! while the build runs through a `shell-local` provisioner that runs a
//! boto3 probe.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kiln_test::moto;
use kiln_test::sshd::{self, Sshd};
use serde_json::Value;

use crate::support::*;

/// The venv scripts/install-deps.sh creates.
pub(crate) fn venv() -> PathBuf {
    kiln_test::venv("KILN_MOTO_VENV", "moto-venv", &["bin/moto_server"], "moto")
}

/// The source images moto serves (`MOTO_AMIS_PATH`): EBS-backed, as
/// amazon-ebs requires (images moto makes itself report a `standard` root
/// device), with distinct creation dates.
const AMIS: &str = r#"[
  {"ami_id": "ami-0b45e1", "name": "kiln-base-1", "creation_date": "2024-01-01T00:00:00.000Z"},
  {"ami_id": "ami-0b01d1", "name": "kiln-src-old", "creation_date": "2023-01-01T00:00:00.000Z"},
  {"ami_id": "ami-0e3e51", "name": "kiln-src-new", "creation_date": "2025-06-01T00:00:00.000Z"},
  {"ami_id": "ami-0a1d21", "name": "kiln-src-older", "creation_date": "2022-01-01T00:00:00.000Z"}
]"#;
/// The id of `kiln-base-1`.
pub(crate) const BASE: &str = "ami-0b45e1";

/// A moto EC2 server on a loopback port; killed on drop.
pub(crate) struct Moto {
    pub(crate) port: u16,
    /// `https` with `-s` (moto's self-signed certificate).
    tls: bool,
    child: Child,
    _amis: tempfile::NamedTempFile,
    /// moto's stderr (its request log and tracebacks).
    log: tempfile::NamedTempFile,
    /// The sshd `AuthorizedKeysCommand` script's directory (root-owned,
    /// not group- or world-writable, as sshd requires).
    akc_dir: Option<PathBuf>,
}

const PRELUDE: &str = r#"
import boto3, json, sys, time
def client(kind, region="us-east-1"):
    return boto3.client(kind, endpoint_url="%ENDPOINT%", region_name=region, verify=False,
                        aws_access_key_id="AKIDKILNTEST", aws_secret_access_key="kiln-test-secret")
def ec2(region="us-east-1"):
    return client("ec2", region)
def iam():
    return client("iam")
"#;

impl Moto {
    pub(crate) fn start() -> Moto {
        Self::start_with(false)
    }

    /// moto over HTTPS with a self-signed certificate.
    fn start_tls() -> Moto {
        Self::start_with(true)
    }

    fn start_with(tls: bool) -> Moto {
        let v = venv();
        let port = sshd::free_port();
        let mut amis: Vec<Value> = serde_json::from_str(AMIS).unwrap();
        for a in &mut amis {
            let o = a.as_object_mut().unwrap();
            for (k, v) in [
                ("state", "available"),
                ("owner_id", "801119661308"),
                ("image_location", "amazon/kiln-test"),
                ("root_device_type", "ebs"),
                ("root_device_name", "/dev/xvda"),
                ("description", "a kiln test image"),
                ("image_type", "machine"),
                ("architecture", "x86_64"),
                ("virtualization_type", "hvm"),
                ("hypervisor", "xen"),
            ] {
                o.insert(k.into(), v.into());
            }
            o.insert("public".into(), true.into());
        }
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), serde_json::to_string(&amis).unwrap()).unwrap();
        let log = tempfile::NamedTempFile::new().unwrap();
        let mut c = Command::new(v.join("bin/moto_server"));
        c.env("MOTO_AMIS_PATH", file.path())
            .args(["-H", "127.0.0.1", "-p", &port.to_string()]);
        if tls {
            c.arg("-s");
        }
        let child = c
            .stdout(Stdio::null())
            .stderr(log.reopen().unwrap())
            .spawn()
            .expect("start moto_server");
        let m = Moto {
            port,
            tls,
            child,
            _amis: file,
            log,
            akc_dir: None,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto_server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        m
    }

    pub(crate) fn endpoint(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// What moto logged so far.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    /// A Python script using boto3 against this server (`PRELUDE`, the
    /// inventory [`moto::LEFTOVERS_PY`], then `code`).
    fn script(&self, code: &str) -> String {
        format!(
            "import warnings\nwarnings.filterwarnings('ignore')\n{}{}\n{code}",
            PRELUDE.replace("%ENDPOINT%", &self.endpoint()),
            moto::LEFTOVERS_PY
        )
    }

    /// A `shell-local` command that runs `code` (with `PRELUDE`) while the
    /// build runs; the script is written to `d`.
    fn probe(&self, d: &TestDir, name: &str, code: &str) -> String {
        let path = d.write(name, &self.script(code));
        format!("{} {}", venv().join("bin/python").display(), path.display())
    }

    /// Runs Python with boto3 against this server and decodes the JSON the
    /// script prints.
    pub(crate) fn py(&self, code: &str) -> Value {
        let script = self.script(code);
        let out = Command::new(venv().join("bin/python"))
            .args(["-c", &script])
            .output()
            .expect("run the venv's python");
        assert!(
            out.status.success(),
            "python failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "bad JSON from python ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }

    /// An sshd that authorises the public keys of moto's key pairs (the
    /// instance's cloud-init, played by the test).
    fn sshd(&mut self) -> Sshd {
        self.sshd_with_home(None)
    }

    /// Like [`Moto::sshd`], and like cloud-init it also writes the keys,
    /// as EC2's metadata serves them (`<type> <key> <key pair name>`), to
    /// `<home>/.ssh/authorized_keys`, the file the sshd reads. Sessions
    /// get `HOME=<home>`, so `~/.ssh/authorized_keys` is that file.
    fn sshd_with_home(&mut self, home: Option<&std::path::Path>) -> Sshd {
        let root = PathBuf::from(std::env::var("HOME").expect("HOME"));
        let dir = root.join(format!(
            ".cache/kiln/akc-{}-{}",
            std::process::id(),
            self.port
        ));
        std::fs::create_dir_all(&dir).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let keys_file = home.map(|h| h.join(".ssh/authorized_keys"));
        std::fs::write(
            dir.join("keys.py"),
            format!(
                r#"import boto3, os
c = boto3.client("ec2", endpoint_url="http://127.0.0.1:{port}", region_name="us-east-1", aws_access_key_id="AKIDKILNTEST", aws_secret_access_key="x")
lines = []
for k in c.describe_key_pairs(IncludePublicKey=True)["KeyPairs"]:
    f = k.get("PublicKey", "").split()
    if len(f) >= 2:
        lines.append(f[0] + " " + f[1] + " " + k["KeyName"])
path = {path:?}
if path:
    have = open(path).read().splitlines() if os.path.exists(path) else []
    with open(path, "a") as out:
        for l in lines:
            if l not in have:
                out.write(l + "\n")
for l in lines:
    print(l)
"#,
                port = self.port,
                path = keys_file
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
            ),
        )
        .unwrap();
        let script = dir.join("keys.sh");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\nexec {} {}\n",
                venv().join("bin/python").display(),
                dir.join("keys.py").display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        self.akc_dir = Some(dir);
        let mut extra = format!(
            "AuthorizedKeysCommand {}\nAuthorizedKeysCommandUser root",
            script.display()
        );
        if let (Some(home), Some(keys)) = (home, &keys_file) {
            extra = format!(
                "{extra}\nAuthorizedKeysFile {}\nSetEnv HOME={} SHLVL=1",
                keys.display(),
                home.display()
            );
        }
        Sshd::start_with(&extra)
    }

    pub(crate) fn leftovers(&self) -> Value {
        self.py("print(json.dumps(leftovers()))")
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(d) = &self.akc_dir {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

const SECRET: &str = "kiln-template-secret-key-0451";

/// An amazon-ebs builder block against `m`, connecting to `s` (or with
/// `communicator: none`), with `extra` keys.
pub(crate) fn builder(m: &Moto, s: Option<&Sshd>, extra: &str) -> String {
    builder_with(
        m,
        s.map(|s| (s, sshd::current_user())),
        &format!(r#", "instance_type": "t3.micro"{extra}"#),
    )
}

/// Like [`builder`], logging in as the given user, without
/// `instance_type` (`extra` gives it, or `spot_instance_types`).
pub(crate) fn builder_with(m: &Moto, ssh: Option<(&Sshd, String)>, extra: &str) -> String {
    let comm = match ssh {
        Some((s, user)) => format!(
            r#""ssh_username": "{user}", "ssh_host": "127.0.0.1", "ssh_port": {}, "ssh_timeout": "60s""#,
            s.port
        ),
        None => r#""communicator": "none""#.to_string(),
    };
    format!(
        r#"{{"type": "amazon-ebs", "region": "us-east-1", "custom_endpoint_ec2": "{}",
            "access_key": "AKIDKILNTEST", "secret_key": "{SECRET}",
            "aws_polling": {{"delay_seconds": 1, "max_attempts": 60}},
            {comm}{extra}}}"#,
        m.endpoint()
    )
}

/// The JSON a probe printed after `marker` (`    amazon-ebs: MARK={..}`).
fn probed(stdout: &str, marker: &str) -> Value {
    let line = stdout
        .lines()
        .find_map(|l| l.split_once(marker).map(|(_, j)| j))
        .unwrap_or_else(|| panic!("no {marker} line in:\n{stdout}"));
    serde_json::from_str(line).unwrap_or_else(|e| panic!("bad probe JSON ({e}): {line}"))
}

pub(crate) fn build(d: &TestDir, t: &std::path::Path) -> Run {
    let mut c = d.kiln(&["build", "-color=false", t.to_str().unwrap()]);
    c.env("AWS_EC2_METADATA_DISABLED", "true");
    run(c)
}

/// Replaces what varies between runs: ids, names, ports, times.
fn norm(text: &str, m: &Moto, s: Option<&Sshd>, d: &TestDir) -> String {
    let mut t = text.replace(&m.port.to_string(), "[MOTO]");
    if let Some(s) = s {
        t = t.replace(&s.port.to_string(), "[SSH]");
    }
    let mut out = String::new();
    for line in normalize(&t, d.path()).split_inclusive('\n') {
        out.push_str(&mask_ids(line));
    }
    out
}

/// `ami-…`, `i-…`, `snap-…`, `sg-…`, `packer_…`, `kiln test <ts>`.
fn mask_ids(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    'outer: while !rest.is_empty() {
        for (prefix, mask) in [
            ("ami-", "ami-[ID]"),
            ("snap-", "snap-[ID]"),
            ("sg-", "sg-[ID]"),
            ("i-", "i-[ID]"),
            ("packer_", "packer_[ID]"),
            ("kiln test ", "kiln test [TS]"),
        ] {
            let boundary = out
                .chars()
                .last()
                .is_none_or(|c| !c.is_ascii_alphanumeric() && c != '-');
            if boundary && rest.starts_with(prefix) {
                let tail = &rest[prefix.len()..];
                let n = tail
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                    .unwrap_or(tail.len());
                if n > 0 {
                    out.push_str(mask);
                    rest = &tail[n..];
                    continue 'outer;
                }
            }
        }
        let c = rest.chars().next().unwrap();
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

pub(crate) fn assert_clean(m: &Moto) {
    let kinds = [
        "key_pairs",
        "security_groups",
        "instances",
        "amis",
        "launch_templates",
        "instance_profiles",
        "roles",
    ];
    moto::assert_none_left(&m.leftovers(), &kinds);
}

#[test]
fn amazon_ebs_builds_copies_to_two_regions_and_tags() {
    let mut m = Moto::start();
    let s = m.sshd();
    let d = dir();
    let target = d.path().join("provisioned.txt");
    let t = d.write(
        "t.json",
        &format!(
            r#"{{"builders": [{}],
  "provisioners": [{{"type": "shell", "inline": ["echo \"provisioned $PACKER_BUILDER_TYPE from {{{{build `SourceAMI`}}}}\" > {}"]}}],
  "post-processors": [{{"type": "manifest", "output": "manifest.json"}}]}}"#,
            builder(
                &m,
                Some(&s),
                r#", "source_ami_filter": {"filters": {"name": "kiln-base-*"}, "owners": ["amazon"], "most_recent": true},
                "ami_name": "kiln test {{timestamp}}", "ami_description": "built by kiln",
                "ami_regions": ["us-west-2", "eu-west-1"], "ami_users": ["123456789013"],
                "snapshot_users": ["123456789013"],
                "tags": {"Name": "kiln-test", "Base": "{{ .SourceAMIName }}", "Region": "{{ .BuildRegion }}"},
                "snapshot_tags": {"Kind": "snapshot"}, "run_tags": {"Purpose": "kiln-test"}"#
            ),
            target.display()
        ),
    );
    let r = build(&d, &t);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(!r.stdout.contains(SECRET) && !r.stderr.contains(SECRET));
    insta::assert_snapshot!(format!(
        "exit code: {}\n----- stdout -----\n{}----- stderr -----\n{}",
        r.code,
        norm(&r.stdout, &m, Some(&s), &d),
        norm(&r.stderr, &m, Some(&s), &d)
    ));
    assert_eq!(
        std::fs::read_to_string(&target).unwrap(),
        format!("provisioned amazon-ebs from {BASE}\n")
    );

    // The AMIs, their tags and permissions, through the EC2 API.
    let amis = m.py(
        r#"
out = {}
for region in ["us-east-1", "us-west-2", "eu-west-1"]:
    c = ec2(region)
    ims = [i for i in c.describe_images(Owners=["self"])["Images"] if i["Name"].startswith("kiln test")]
    out[region] = [{
        "id": i["ImageId"],
        "description": i.get("Description"),
        "tags": {t["Key"]: t["Value"] for t in i.get("Tags", [])},
        "users": [p.get("UserId") for p in c.describe_image_attribute(ImageId=i["ImageId"], Attribute="launchPermission")["LaunchPermissions"]],
        "snapshots": [b["Ebs"]["SnapshotId"] for b in i["BlockDeviceMappings"] if "Ebs" in b],
    } for i in ims]
    for im in out[region]:
        snaps = c.describe_snapshots(SnapshotIds=im["snapshots"])["Snapshots"]
        im["snapshot_tags"] = [{t["Key"]: t["Value"] for t in s.get("Tags", [])} for s in snaps]
print(json.dumps(out))
"#,
    );
    let manifest: Value = serde_json::from_str(&d.read("manifest.json")).expect("manifest is JSON");
    let artifact_id = manifest["builds"][0]["artifact_id"].as_str().unwrap();
    let mut ids = Vec::new();
    for region in ["eu-west-1", "us-east-1", "us-west-2"] {
        let list = amis[region].as_array().unwrap();
        assert_eq!(list.len(), 1, "{region}: {amis}");
        let a = &list[0];
        ids.push(format!("{region}:{}", a["id"].as_str().unwrap()));
        assert_eq!(a["tags"]["Name"], "kiln-test", "{a}");
        assert_eq!(a["tags"]["Base"], "kiln-base-1", "{a}");
        assert_eq!(a["tags"]["Region"], region, "{a}");
        assert_eq!(a["users"], serde_json::json!(["123456789013"]), "{a}");
        assert_eq!(a["description"], "built by kiln", "{a}");
        for st in a["snapshot_tags"].as_array().unwrap() {
            assert_eq!(st["Kind"], "snapshot", "{a}");
            assert_eq!(st["Name"], "kiln-test", "{a}");
        }
    }
    assert_eq!(artifact_id, ids.join(","));
    assert_eq!(manifest["builds"][0]["builder_type"], "amazon-ebs");
    // Temporary resources are gone; the instance was terminated.
    moto::assert_none_left(&m.leftovers(), moto::TEMPORARY);
    // The instance carried the run tags.
    let tagged = m.py(
        r#"print(json.dumps([{t["Key"]: t["Value"] for t in i.get("Tags", []) if t["Key"] != "kiln:run"} for r in ec2().describe_instances(Filters=[{"Name": "tag:Purpose", "Values": ["kiln-test"]}])["Reservations"] for i in r["Instances"]]))"#,
    );
    assert_eq!(
        tagged,
        // With the run tags (`kiln:run`, the run's UUID, left out here).
        serde_json::json!([{"Name": "Packer Builder", "Purpose": "kiln-test", "kiln:build": "amazon-ebs"}])
    );
}

#[test]
fn amazon_ebs_provisioner_failure_leaves_nothing_behind() {
    let mut m = Moto::start();
    let s = m.sshd();
    let d = dir();
    let t = d.write(
        "t.json",
        &format!(
            r#"{{"builders": [{}],
  "provisioners": [{{"type": "shell", "inline": ["echo about to fail", "exit 3"]}}]}}"#,
            builder(
                &m,
                Some(&s),
                &format!(
                    r#", "source_ami": "{}", "ami_name": "kiln test {{{{timestamp}}}}""#,
                    BASE
                )
            )
        ),
    );
    let r = build(&d, &t);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("about to fail"), "{}", r.stdout);
    for want in [
        "==> amazon-ebs: Terminating the source AWS instance...",
        "==> amazon-ebs: Deleting temporary security group...",
        "==> amazon-ebs: Deleting temporary keypair...",
    ] {
        assert!(r.stdout.contains(want), "missing {want:?}:\n{}", r.stdout);
    }
    assert!(
        r.stderr
            .contains("Script exited with non-zero exit status: 3"),
        "{}",
        r.stderr
    );
    assert_clean(&m);
}

#[test]
fn amazon_ebs_ctrl_c_leaves_nothing_behind() {
    let mut m = Moto::start();
    let s = m.sshd();
    let d = dir();
    let marker = format!("{}.456", std::process::id() % 1000 + 7000);
    let t = d.write(
        "t.json",
        &format!(
            r#"{{"builders": [{}],
  "provisioners": [{{"type": "shell", "inline": ["echo started", "sleep {marker}"]}}]}}"#,
            builder(
                &m,
                Some(&s),
                &format!(
                    r#", "source_ami": "{}", "ami_name": "kiln test {{{{timestamp}}}}""#,
                    BASE
                )
            )
        ),
    );
    let mut c = d.kiln(&["build", "-color=false", t.to_str().unwrap()]);
    c.env("AWS_EC2_METADATA_DISABLED", "true")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = c.spawn().unwrap();
    let started = Instant::now();
    while kiln_test::procs::processes_matching(&format!("sleep {marker}")).is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the provisioner never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The instance is running now.
    assert_eq!(m.leftovers()["instances"].as_array().unwrap().len(), 1);
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("Cleanly cancelled builds after being interrupted."),
        "{stdout}"
    );
    assert!(
        stdout.contains("==> amazon-ebs: Deleting temporary keypair..."),
        "{stdout}"
    );
    assert_clean(&m);
}

#[test]
fn amazon_ebs_source_ami_filter_picks_the_newest_image() {
    let m = Moto::start();
    let newest = "ami-0e3e51";
    let d = dir();
    let filter = r#", "source_ami_filter": {"filters": {"name": "kiln-src-*"}, "owners": ["amazon"], "most_recent": true}, "skip_create_ami": true, "ami_name": "kiln test x""#;
    let t = d.write(
        "t.json",
        &format!(
            r#"{{"builders": [{}], "provisioners": [{{"type": "shell-local", "inline": ["echo source={{{{build `SourceAMI`}}}} name={{{{build `SourceAMIName`}}}}"]}}]}}"#,
            builder(&m, None, filter)
        ),
    );
    let r = build(&d, &t);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains(&format!("Found Image ID: {newest}")),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains(&format!("source={newest} name=kiln-src-new")),
        "{}",
        r.stdout
    );
    // Without `most_recent`, two matches are an error.
    let t = d.write(
        "t2.json",
        &format!(
            r#"{{"builders": [{}]}}"#,
            builder(&m, None, &filter.replace(r#", "most_recent": true"#, ""))
        ),
    );
    let r = build(&d, &t);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("more than one result (3 images)"),
        "{}",
        r.stderr
    );
    assert_clean(&m);
}

#[test]
fn amazon_ebs_force_deregister_replaces_an_existing_ami() {
    let m = Moto::start();
    let d = dir();
    let t = |extra: &str| {
        d.write(
            "t.json",
            &format!(
                r#"{{"builders": [{}]}}"#,
                builder(
                    &m,
                    None,
                    &format!(
                        r#", "source_ami": "{}", "ami_name": "kiln test fixed"{extra}"#,
                        BASE
                    )
                )
            ),
        )
    };
    let first = build(&d, &t(""));
    assert_eq!(first.code, 0, "{}\n{}", first.stdout, first.stderr);
    let old = m.py(
        r#"i = [i for i in ec2().describe_images(Owners=["self"])["Images"] if i["Name"] == "kiln test fixed"]; print(json.dumps({"id": i[0]["ImageId"], "snap": i[0]["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"]}))"#,
    );
    // The name is taken: pre-validation fails before anything is created.
    let again = build(&d, &t(""));
    assert_eq!(again.code, 1, "{}\n{}", again.stdout, again.stderr);
    assert!(
        again.stderr.contains(&format!(
            "name conflicts with an existing AMI: `{}`",
            old["id"].as_str().unwrap()
        )),
        "{}",
        again.stderr
    );
    let forced = build(
        &d,
        &t(r#", "force_deregister": true, "force_delete_snapshot": true"#),
    );
    assert_eq!(forced.code, 0, "{}\n{}", forced.stdout, forced.stderr);
    assert!(
        forced.stdout.contains(&format!(
            "Deregistered AMI kiln test fixed, id: {}",
            old["id"].as_str().unwrap()
        )),
        "{}",
        forced.stdout
    );
    let now = m.py(&format!(
        r#"c = ec2(); i = [i["ImageId"] for i in c.describe_images(Owners=["self"])["Images"] if i["Name"] == "kiln test fixed"]
s = [s["SnapshotId"] for s in c.describe_snapshots(OwnerIds=["self"])["Snapshots"] if s["SnapshotId"] == "{}"]
print(json.dumps({{"amis": i, "old_snapshot": s}}))"#,
        old["snap"].as_str().unwrap()
    ));
    let amis = now["amis"].as_array().unwrap();
    assert_eq!(amis.len(), 1, "{now}");
    assert_ne!(amis[0], old["id"], "{now}");
    assert_eq!(now["old_snapshot"], serde_json::json!([]), "{now}");
}

#[test]
fn amazon_ebs_artifact_is_destroyed_when_a_post_processor_discards_it() {
    let m = Moto::start();
    let d = dir();
    let t = d.write(
        "t.json",
        &format!(
            r#"{{"builders": [{}],
  "post-processors": [{{"type": "artifice", "files": ["t.json"], "keep_input_artifact": false}}]}}"#,
            builder(
                &m,
                None,
                &format!(
                    r#", "source_ami": "{}", "ami_name": "kiln test {{{{timestamp}}}}", "ami_regions": ["us-west-2"]"#,
                    BASE
                )
            )
        ),
    );
    let r = build(&d, &t);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_clean(&m);
    assert_eq!(
        m.py("print(json.dumps(leftovers('us-west-2')['amis']))"),
        serde_json::json!([])
    );
}

#[test]
fn amazon_ebs_without_credentials_fails_clearly() {
    let d = dir();
    let t = d.write(
        "t.json",
        r#"{"builders": [{"type": "amazon-ebs", "region": "us-east-1", "source_ami": "ami-12c6146b",
            "instance_type": "t3.micro", "ami_name": "kiln test x", "communicator": "none",
            "custom_endpoint_ec2": "http://127.0.0.1:9"}]}"#,
    );
    let mut c = d.kiln(&["build", "-color=false", t.to_str().unwrap()]);
    c.env("AWS_EC2_METADATA_DISABLED", "true")
        .env("HOME", d.path())
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_CONFIG_FILE")
        .env_remove("AWS_SHARED_CREDENTIALS_FILE");
    let r = run(c);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .contains("no valid credential sources found for the amazon-ebs builder"),
        "{}",
        r.stderr
    );
}

#[test]
fn amazon_ebs_validate_reports_every_error() {
    let d = dir();
    let t = d.write(
        "bad.json",
        r#"{"builders": [{"type": "amazon-ebs",
  "region": "us-est-1",
  "access_key": "AKID",
  "source_ami_filter": {"filters": {"name": "debian-*"}},
  "ami_name": "no*stars",
  "ami_regions": ["eu-west-9"],
  "ssh_interface": "public_dsn",
  "shutdown_behavior": "halt",
  "spot_price": "cheap",
  "force_delete_snapshot": true,
  "metadata_options": {"http_tokens": "always"},
  "temporary_security_group_source_cidrs": ["10.0.0.0/33"],
  "mfa_code": "123456",
  "aws_poling": {},
  "ssh_username": "admin"}]}"#,
    );
    let r = kiln(&d, &["validate", t.to_str().unwrap()]);
    assert_eq!(r.code, 1);
    insta::assert_snapshot!(r.snapshot(d.path()));
}

/// Runs `kiln build -debug`, answering every pause.
fn build_debug(d: &TestDir, t: &std::path::Path) -> Run {
    let mut c = d.kiln(&["build", "-color=false", "-debug", t.to_str().unwrap()]);
    c.env("AWS_EC2_METADATA_DISABLED", "true");
    kiln_test::run_with_input(c, &b"\n".repeat(200))
}

#[test]
fn amazon_ebs_clears_the_temporary_key_from_authorized_keys() {
    sshd::ensure_password_user();
    let mut m = Moto::start();
    // The instance's home: only this test's (the kiln-ssh tests use the
    // user's real one), owned by the user so `sed -i` can replace the file.
    let home = PathBuf::from(format!(
        "/tmp/kiln-amazon-home-{}-{}",
        std::process::id(),
        m.port
    ));
    std::fs::create_dir_all(home.join(".ssh")).unwrap();
    let kept =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKilnKeptKeyKilnKeptKeyKilnKeptKey12345 kept@example";
    let keys = home.join(".ssh/authorized_keys");
    std::fs::write(&keys, format!("{kept}\n")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o755)).unwrap();
    let chown = Command::new("chown")
        .args(["-R", sshd::PASSWORD_USER])
        .arg(&home)
        .status()
        .unwrap();
    assert!(chown.success());
    let s = m.sshd_with_home(Some(&home));
    let d = dir();
    let t = d.write(
        "t.json",
        &format!(
            r#"{{"builders": [{}],
  "provisioners": [{{"type": "shell", "inline": ["echo \"during: $(grep -c ' packer_' ~/.ssh/authorized_keys) key(s) of this build\""]}}]}}"#,
            builder_with(
                &m,
                Some((&s, sshd::PASSWORD_USER.to_string())),
                &format!(
                    r#", "instance_type": "t3.micro", "source_ami": "{BASE}", "ami_name": "kiln test {{{{timestamp}}}}", "ssh_clear_authorized_keys": true"#
                )
            )
        ),
    );
    let r = build(&d, &t);
    let after = std::fs::read_to_string(&keys).unwrap();
    let _ = std::fs::remove_dir_all(&home);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    // The key was there while provisioning (cloud-init put it there)…
    assert!(
        r.stdout.contains("during: 1 key(s) of this build"),
        "{}",
        r.stdout
    );
    // …and StepCleanupTempKeys ran after provisioning, before the stop.
    let cleared = r
        .stdout
        .find("==> amazon-ebs: Trying to remove ephemeral keys from authorized_keys files")
        .unwrap_or_else(|| panic!("{}", r.stdout));
    let provisioned = r.stdout.find("during: 1").unwrap();
    let stopped = r
        .stdout
        .find("==> amazon-ebs: Stopping the source instance...")
        .unwrap();
    assert!(provisioned < cleared && cleared < stopped, "{}", r.stdout);
    // The image's authorized_keys keeps the other keys only.
    assert_eq!(after, format!("{kept}\n"));
    assert!(!home.join(".ssh/authorized_keys.bak").exists());
    moto::assert_none_left(&m.leftovers(), moto::TEMPORARY);
}

#[test]
fn amazon_ebs_debug_saves_the_temporary_key_and_removes_it() {
    let m = Moto::start();
    let d = dir();
    let check = m.probe(
        &d,
        "probe.py",
        r#"
import subprocess, os, stat
pem = "ec2_amazon-ebs.pem"
mode = oct(stat.S_IMODE(os.stat(pem).st_mode))
public = subprocess.run(["ssh-keygen", "-y", "-f", pem], capture_output=True, text=True, check=True).stdout.split()[1]
pairs = [k for k in ec2().describe_key_pairs(IncludePublicKey=True)["KeyPairs"] if k["KeyName"].startswith("packer_")]
print("KEY=" + json.dumps({"mode": mode, "header": open(pem).readline().strip(),
    "matches": [k["KeyName"] for k in pairs if k.get("PublicKey", "").split()[1] == public]}))
"#,
    );
    let t = d.write(
        "t.json",
        &format!(
            r#"{{"builders": [{}],
  "provisioners": [{{"type": "shell-local", "inline": ["{check}"]}}]}}"#,
            builder(
                &m,
                None,
                &format!(r#", "source_ami": "{BASE}", "ami_name": "kiln test {{{{timestamp}}}}""#)
            )
        ),
    );
    let r = build_debug(&d, &t);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("    amazon-ebs: Saving key for debug purposes: ec2_amazon-ebs.pem"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("Pausing after run of step 'StepKeyPair'. Press enter to continue."),
        "{}",
        r.stdout
    );
    let key = probed(&r.stdout, "KEY=");
    assert_eq!(key["mode"], "0o600", "{key}");
    assert_eq!(
        key["header"], "-----BEGIN OPENSSH PRIVATE KEY-----",
        "{key}"
    );
    // The file holds the private half of the key pair imported into EC2.
    assert_eq!(key["matches"].as_array().unwrap().len(), 1, "{key}");
    // Cleanup deleted it with the key pair.
    assert!(!d.path().join("ec2_amazon-ebs.pem").exists());
    moto::assert_none_left(&m.leftovers(), moto::TEMPORARY);
}

#[test]
fn amazon_ebs_vpc_subnet_and_security_group_filters() {
    let m = Moto::start();
    let net = m.py(
        r#"
c = ec2()
def tag(kind, v):
    return [{"ResourceType": kind, "Tags": [{"Key": "Class", "Value": v}]}]
vpc = c.create_vpc(CidrBlock="10.7.0.0/16", TagSpecifications=tag("vpc", "build"))["Vpc"]["VpcId"]
sub = c.create_subnet(VpcId=vpc, CidrBlock="10.7.1.0/24", TagSpecifications=tag("subnet", "build"))["Subnet"]["SubnetId"]
sg = c.create_security_group(GroupName="kiln-in-vpc", Description="kiln", VpcId=vpc, TagSpecifications=tag("security-group", "packer"))["GroupId"]
default = [v["VpcId"] for v in c.describe_vpcs()["Vpcs"] if v["IsDefault"]][0]
other = c.create_security_group(GroupName="kiln-default-vpc", Description="kiln", VpcId=default, TagSpecifications=tag("security-group", "packer"))["GroupId"]
print(json.dumps({"vpc": vpc, "subnet": sub, "sg": sg, "other": other}))
"#,
    );
    let d = dir();
    let t = d.write(
        "t.json",
        &format!(
            r#"{{"builders": [{}]}}"#,
            builder(
                &m,
                None,
                &format!(
                    r#", "source_ami": "{BASE}", "ami_name": "kiln test {{{{timestamp}}}}",
                "vpc_filter": {{"filters": {{"tag:Class": "build"}}}},
                "subnet_filter": {{"filters": {{"tag:Class": "build"}}}},
                "security_group_filter": {{"filters": {{"tag:Class": "packer"}}}},
                "run_tags": {{"Purpose": "kiln-net"}}"#
                )
            )
        ),
    );
    let r = build(&d, &t);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    for want in [
        format!(
            "    amazon-ebs: Found VPC ID: {}",
            net["vpc"].as_str().unwrap()
        ),
        format!(
            "    amazon-ebs: Found Subnet ID: {}",
            net["subnet"].as_str().unwrap()
        ),
        // Only the group in the filtered VPC.
        format!(
            "    amazon-ebs: Found Security Group(s): {}\n",
            net["sg"].as_str().unwrap()
        ),
    ] {
        assert!(r.stdout.contains(&want), "missing {want:?}:\n{}", r.stdout);
    }
    assert!(
        !r.stdout.contains("Creating temporary security group"),
        "{}",
        r.stdout
    );
    let inst = m.py(
        r#"print(json.dumps([{"vpc": i.get("VpcId"), "subnet": i.get("SubnetId"), "groups": [g["GroupId"] for g in i["SecurityGroups"]]}
    for r in ec2().describe_instances(Filters=[{"Name": "tag:Purpose", "Values": ["kiln-net"]}])["Reservations"] for i in r["Instances"]]))"#,
    );
    assert_eq!(
        inst,
        serde_json::json!([{"vpc": net["vpc"], "subnet": net["subnet"], "groups": [net["sg"]]}])
    );
    // Two VPCs match: an error, before anything is created.
    m.py(
        r#"ec2().create_vpc(CidrBlock="10.8.0.0/16", TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": "Class", "Value": "build"}]}]); print("{}")"#,
    );
    let t = d.write(
        "t.json",
        &std::fs::read_to_string(&t)
            .unwrap()
            .replace("kiln test {{timestamp}}", "kiln test again"),
    );
    let r = build(&d, &t);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .contains("exactly one VPC should match `vpc_filter`, but 2 VPCs were found"),
        "{}",
        r.stderr
    );
    moto::assert_none_left(&m.leftovers(), moto::TEMPORARY);
}

#[test]
fn amazon_ebs_metadata_options_and_temporary_instance_profile() {
    let m = Moto::start();
    let d = dir();
    let probe = m.probe(
        &d,
        "probe.py",
        r#"
i = iam()
p = [p for p in i.list_instance_profiles()["InstanceProfiles"] if p["InstanceProfileName"].startswith("packer-")][0]
roles = [r["RoleName"] for r in p["Roles"]]
role = i.get_role(RoleName=roles[0])["Role"]
doc = i.get_role_policy(RoleName=roles[0], PolicyName=roles[0])["PolicyDocument"]
inst = [x for r in ec2().describe_instances(Filters=[{"Name": "instance-state-name", "Values": ["running"]}])["Reservations"] for x in r["Instances"]][0]
print("IAM=" + json.dumps({"profile": p["InstanceProfileName"], "arn": p["Arn"], "roles": roles,
    "trust": role["AssumeRolePolicyDocument"], "policy": doc,
    "instance_profile": inst.get("IamInstanceProfile", {}).get("Arn"), "metadata": inst["MetadataOptions"]}))
"#,
    );
    let t = d.write(
        "t.json",
        &format!(
            r#"{{"builders": [{}],
  "provisioners": [{{"type": "shell-local", "inline": ["{probe}"]}}]}}"#,
            builder(
                &m,
                None,
                &format!(
                    r#", "source_ami": "{BASE}", "ami_name": "kiln test {{{{timestamp}}}}",
                "metadata_options": {{"http_tokens": "required", "http_put_response_hop_limit": 3, "instance_metadata_tags": "enabled"}},
                "temporary_iam_instance_profile_policy_document": {{
                  "Version": "2012-10-17",
                  "Statement": [{{"Effect": "Allow", "Action": ["logs:*", "s3:GetObject"], "Resource": "*"}}]}}"#
                )
            )
        ),
    );
    let r = build(&d, &t);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let p = probed(&r.stdout, "IAM=");
    let name = p["profile"].as_str().unwrap();
    assert!(name.starts_with("packer-"), "{p}");
    assert_eq!(p["roles"], serde_json::json!([name]), "{p}");
    assert_eq!(p["instance_profile"], p["arn"], "{p}");
    assert_eq!(
        p["policy"],
        serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["logs:*", "s3:GetObject"], "Resource": ["*"]}]}),
        "{p}"
    );
    assert_eq!(
        p["trust"]["Statement"][0]["Principal"]["Service"], "ec2.amazonaws.com",
        "{p}"
    );
    assert_eq!(p["metadata"]["HttpTokens"], "required", "{p}");
    assert_eq!(p["metadata"]["HttpPutResponseHopLimit"], 3, "{p}");
    assert_eq!(p["metadata"]["HttpEndpoint"], "enabled", "{p}");
    assert_eq!(p["metadata"]["InstanceMetadataTags"], "enabled", "{p}");
    for want in [
        format!("==> amazon-ebs: Creating temporary instance profile for this instance: {name}"),
        format!("==> amazon-ebs: Creating temporary role for this instance: {name}"),
        "==> amazon-ebs: Detaching temporary role from instance profile...".to_string(),
        "==> amazon-ebs: Deleting temporary instance profile...".to_string(),
    ] {
        assert!(r.stdout.contains(&want), "missing {want:?}:\n{}", r.stdout);
    }
    // The role and profile are gone; the AMI stays.
    let kinds = [
        "key_pairs",
        "security_groups",
        "instances",
        "instance_profiles",
        "roles",
    ];
    moto::assert_none_left(&m.leftovers(), &kinds);

    // `iam_instance_profile` must exist (unless `skip_profile_validation`)…
    let running = m.probe(
        &d,
        "running.py",
        r#"print("ARN=" + json.dumps([x.get("IamInstanceProfile", {}).get("Arn") for r in ec2().describe_instances(Filters=[{"Name": "instance-state-name", "Values": ["running"]}])["Reservations"] for x in r["Instances"]]))"#,
    );
    let named = |profile: &str| {
        d.write(
            "t2.json",
            &format!(
                r#"{{"builders": [{}], "provisioners": [{{"type": "shell-local", "inline": ["{running}"]}}]}}"#,
                builder(
                    &m,
                    None,
                    &format!(
                        r#", "source_ami": "{BASE}", "ami_name": "kiln test {profile}", "skip_create_ami": true,
                        "iam_instance_profile": "{profile}""#
                    )
                )
            ),
        )
    };
    let r = build(&d, &named("kiln-missing"));
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .contains("couldn't find specified instance profile `kiln-missing`"),
        "{}",
        r.stderr
    );
    // …and is used as is.
    m.py(r#"iam().create_instance_profile(InstanceProfileName="kiln-existing"); print("{}")"#);
    let r = build(&d, &named("kiln-existing"));
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(
        probed(&r.stdout, "ARN="),
        serde_json::json!(["arn:aws:iam::123456789012:instance-profile/kiln-existing"])
    );
    assert!(
        !r.stdout.contains("temporary instance profile"),
        "{}",
        r.stdout
    );
}

#[test]
fn amazon_ebs_spot_instance_through_a_launch_template_and_fleet() {
    let m = Moto::start();
    let d = dir();
    let probe = m.probe(
        &d,
        "probe.py",
        r#"
c = ec2()
out = []
for lt in c.describe_launch_templates()["LaunchTemplates"]:
    v = c.describe_launch_template_versions(LaunchTemplateId=lt["LaunchTemplateId"])["LaunchTemplateVersions"]
    out.append({"name": lt["LaunchTemplateName"], "tags": {t["Key"]: t["Value"] for t in lt.get("Tags", []) if t["Key"] != "kiln:run"},
                "data": v[0]["LaunchTemplateData"]})
print("LT=" + json.dumps(out, default=str))
"#,
    );
    let t = d.write(
        "t.json",
        &format!(
            r#"{{"builders": [{}],
  "provisioners": [{{"type": "shell-local", "inline": ["{probe}"]}}]}}"#,
            builder_with(
                &m,
                None,
                &format!(
                    r#", "source_ami": "{BASE}", "ami_name": "kiln test {{{{timestamp}}}}",
                "spot_price": "0.05", "spot_instance_types": ["t3.small", "t3.medium"],
                "spot_tags": {{"SpotFor": "{{{{ .SourceAMIName }}}}"}}, "block_duration_minutes": 60,
                "no_ephemeral": true,
                "metadata_options": {{"http_tokens": "required", "http_put_response_hop_limit": 2}},
                "run_tags": {{"Purpose": "kiln-spot"}}"#
                )
            )
        ),
    );
    let r = build(&d, &t);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    for want in [
        "==> amazon-ebs: Launching a spot AWS instance...",
        "    amazon-ebs: Created Spot Fleet launch template: lt-",
        "    amazon-ebs: Adding tag: \"SpotFor\": \"kiln-base-1\"",
    ] {
        assert!(r.stdout.contains(want), "missing {want:?}:\n{}", r.stdout);
    }
    // Spot instances are imaged running, as in Packer.
    assert!(
        !r.stdout.contains("Stopping the source instance"),
        "{}",
        r.stdout
    );
    // The launch template, while the build ran.
    let lts = probed(&r.stdout, "LT=");
    let lts = lts.as_array().unwrap();
    assert_eq!(lts.len(), 1, "{lts:?}");
    let lt = &lts[0];
    assert!(
        lt["name"]
            .as_str()
            .unwrap()
            .starts_with("packer-fleet-launch-template-"),
        "{lt}"
    );
    assert_eq!(
        lt["tags"],
        serde_json::json!({"SpotFor": "kiln-base-1", "kiln:build": "amazon-ebs"})
    );
    let data = &lt["data"];
    assert_eq!(data["ImageId"], BASE, "{data}");
    assert_eq!(
        data["InstanceMarketOptions"],
        serde_json::json!({"MarketType": "spot", "SpotOptions": {"MaxPrice": "0.05", "BlockDurationMinutes": 60}}),
        "{data}"
    );
    assert_eq!(data["MetadataOptions"]["HttpTokens"], "required", "{data}");
    assert_eq!(
        data["MetadataOptions"]["HttpPutResponseHopLimit"], 2,
        "{data}"
    );
    assert!(data.get("InstanceType").is_none(), "{data}");
    let devices: Vec<&str> = data["BlockDeviceMappings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["DeviceName"].as_str().unwrap())
        .collect();
    assert_eq!(devices.len(), 26, "no_ephemeral: {data}");
    assert_eq!((devices[0], devices[25]), ("xvdca", "xvdcz"));
    assert!(
        data["BlockDeviceMappings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|b| b.get("NoDevice").is_some() && b.get("Ebs").is_none()),
        "{data}"
    );
    // The instance: a spot instance of one of the types, tagged; its spot
    // request carries `spot_tags`.
    let inst = m.py(
        r#"
c = ec2()
ins = [i for r in c.describe_instances(Filters=[{"Name": "tag:Purpose", "Values": ["kiln-spot"]}])["Reservations"] for i in r["Instances"]]
sirs = c.describe_spot_instance_requests(Filters=[{"Name": "instance-id", "Values": [i["InstanceId"] for i in ins]}])["SpotInstanceRequests"]
print(json.dumps({"instances": [{"type": i["InstanceType"], "lifecycle": i.get("InstanceLifecycle"), "state": i["State"]["Name"],
    "tags": {t["Key"]: t["Value"] for t in i.get("Tags", [])}} for i in ins],
    "requests": [{t["Key"]: t["Value"] for t in s.get("Tags", []) if t["Key"] != "kiln:run"} for s in sirs]}))
"#,
    );
    let instances = inst["instances"].as_array().unwrap();
    assert_eq!(instances.len(), 1, "{inst}");
    let i = &instances[0];
    assert!(
        ["t3.small", "t3.medium"].contains(&i["type"].as_str().unwrap()),
        "{inst}"
    );
    assert_eq!(i["lifecycle"], "spot", "{inst}");
    assert_eq!(i["state"], "terminated", "{inst}");
    assert_eq!(i["tags"]["Name"], "Packer Builder", "{inst}");
    assert_eq!(
        inst["requests"],
        serde_json::json!([{"SpotFor": "kiln-base-1", "kiln:build": "amazon-ebs"}]),
        "{inst}"
    );
    // The launch template is deleted; the AMI stays.
    let kinds = [
        "key_pairs",
        "security_groups",
        "instances",
        "launch_templates",
    ];
    let l = m.leftovers();
    moto::assert_none_left(&l, &kinds);
    assert_eq!(l["amis"].as_array().unwrap().len(), 1, "{l}");
}

#[test]
fn amazon_ebs_insecure_skip_tls_verify_accepts_a_self_signed_endpoint() {
    let m = Moto::start_tls();
    let d = dir();
    let t = |extra: &str| {
        d.write(
            "t.json",
            &format!(
                r#"{{"builders": [{}]}}"#,
                builder(
                    &m,
                    None,
                    &format!(
                        r#", "source_ami": "{BASE}", "ami_name": "kiln test {{{{timestamp}}}}"{extra}"#
                    )
                )
            ),
        )
    };
    // moto's certificate is self-signed: refused by default…
    let r = build(&d, &t(""));
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.to_lowercase().contains("certificate"),
        "{}",
        r.stderr
    );
    // …accepted with `insecure_skip_tls_verify`, for EC2 and IAM alike.
    let r = build(
        &d,
        &t(r#", "insecure_skip_tls_verify": true, "iam_instance_profile": "kiln-tls""#),
    );
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .contains("couldn't find specified instance profile `kiln-tls`: NoSuchEntity"),
        "{}",
        r.stderr
    );
    let r = build(&d, &t(r#", "insecure_skip_tls_verify": true"#));
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("AMIs were created:"), "{}", r.stdout);
    let l = m.leftovers();
    moto::assert_none_left(&l, moto::TEMPORARY);
    assert_eq!(l["amis"].as_array().unwrap().len(), 1, "{l}");
}

/// moto 5.2.5 (the newest on PyPI) does not implement
/// `EnableImageDeprecation`: it answers 500 and logs `NotImplementedError`.
/// This checks that kiln makes the call for the AMI it made, at Packer's
/// point, and that the failure cleans up; it fails once moto implements
/// the call, so that this test can check the deprecation time instead.
#[test]
fn amazon_ebs_deprecate_at_calls_enable_image_deprecation() {
    let m = Moto::start();
    let d = dir();
    let t = d.write(
        "t.json",
        &format!(
            r#"{{"builders": [{}]}}"#,
            builder(
                &m,
                None,
                &format!(
                    r#", "source_ami": "{BASE}", "ami_name": "kiln test {{{{timestamp}}}}", "deprecate_at": "2030-01-02T15:04:05Z""#
                )
            )
        ),
    );
    let r = build(&d, &t);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("    amazon-ebs: Modifying: deprecate_at"),
        "{}",
        r.stdout
    );
    assert!(
        r.stderr.contains("error modifying deprecate_at on `ami-"),
        "{}",
        r.stderr
    );
    assert!(
        m.log().contains(
            "NotImplementedError: The enable_image_deprecation action has not been implemented"
        ),
        "{}",
        m.log()
    );
    assert_clean(&m);
}

#[test]
fn amazon_ebs_hcl2_object_keys_are_blocks() {
    let d = dir();
    let t = d.write(
        "t.pkr.hcl",
        r#"source "amazon-ebs" "x" {
  region        = "us-east-1"
  instance_type = "t3.micro"
  ami_name      = "kiln test"
  communicator  = "none"
  source_ami_filter {
    filters     = { name = "kiln-base-*" }
    owners      = ["self"]
    most_recent = true
  }
  vpc_filter {
    filters = { "tag:Class" = "build" }
  }
  metadata_options {
    http_tokens = "required"
  }
  temporary_iam_instance_profile_policy_document {
    Statement {
      Action   = ["logs:*"]
      Effect   = "Allow"
      Resource = ["*"]
    }
    Version = "2012-10-17"
  }
}
build { sources = ["source.amazon-ebs.x"] }
"#,
    );
    let r = kiln(&d, &["validate", t.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    // Two blocks where one is expected.
    let t = d.write(
        "t.pkr.hcl",
        &std::fs::read_to_string(&t).unwrap().replace(
            "  metadata_options {",
            "  metadata_options {\n    http_tokens = \"optional\"\n  }\n  metadata_options {",
        ),
    );
    let r = kiln(&d, &["validate", t.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("only one block is allowed here"),
        "{}",
        r.stderr
    );
}

/// `temporary_key_pair_name` names the key pair kiln imports (Packer's
/// amazon `StepKeyPair` imports `Comm.SSHTemporaryKeyPairName`, which
/// `RunConfig.Prepare` sets to `packer_<uuid>` only when the template gives
/// none); the key logs in to the instance and is deleted at the end.
#[test]
fn amazon_ebs_temporary_key_pair_name_names_the_key_pair() {
    let mut m = Moto::start();
    let s = m.sshd();
    let d = dir();
    let probe = m.probe(
        &d,
        "probe.py",
        r#"print("PAIRS=" + json.dumps(sorted(k["KeyName"] for k in ec2().describe_key_pairs()["KeyPairs"])))"#,
    );
    let t = d.write(
        "t.json",
        &format!(
            r#"{{"variables": {{"n": "web"}},
  "builders": [{}],
  "provisioners": [{{"type": "shell-local", "inline": ["{probe}"]}},
                   {{"type": "shell", "inline": ["echo logged in with the named key"]}}]}}"#,
            builder(
                &m,
                Some(&s),
                &format!(
                    r#", "source_ami": "{BASE}", "ami_name": "kiln test {{{{timestamp}}}}",
                    "temporary_key_pair_name": "kiln-named-{{{{user `n`}}}}""#
                )
            )
        ),
    );
    let r = build(&d, &t);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("==> amazon-ebs: Creating temporary keypair: kiln-named-web"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("logged in with the named key"),
        "{}",
        r.stdout
    );
    assert_eq!(
        probed(&r.stdout, "PAIRS="),
        serde_json::json!(["kiln-named-web"])
    );
    assert!(r
        .stdout
        .contains("==> amazon-ebs: Deleting temporary keypair..."));
    let left = m
        .py(r#"print(json.dumps([k["KeyName"] for k in ec2().describe_key_pairs()["KeyPairs"]]))"#);
    assert_eq!(left, serde_json::json!([]), "key pairs left in moto");
}

/// A template whose EC2 endpoint is `endpoint`, failing at its first call
/// (`DescribeImages` of "Prevalidating AMI Name"), with two attempts per
/// call and one-second request timeouts.
fn endpoint_failure(endpoint: &str) -> Run {
    let d = dir();
    let t = d.write(
        "t.json",
        &format!(
            r#"{{"builders": [{{"type": "amazon-ebs", "region": "us-east-1", "source_ami": "ami-12c6146b",
            "instance_type": "t3.micro", "ami_name": "kiln test x", "communicator": "none",
            "access_key": "AKIDKILNTEST", "secret_key": "{SECRET}", "max_retries": 2,
            "custom_endpoint_ec2": "{endpoint}"}}]}}"#
        ),
    );
    let mut c = d.kiln(&["build", "-color=false", t.to_str().unwrap()]);
    c.env("AWS_EC2_METADATA_DISABLED", "true")
        .env("KILN_CLOUD_CONNECT_TIMEOUT", "1")
        .env("KILN_CLOUD_READ_TIMEOUT", "1");
    run(c)
}

/// A loopback listener that runs `serve` on every connection it accepts,
/// each in its own thread; the connections stay open until `serve`
/// returns.
fn listener(serve: fn(std::net::TcpStream)) -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            std::thread::spawn(move || serve(s));
        }
    });
    port
}

#[test]
fn amazon_ebs_endpoint_that_never_answers_fails_within_the_timeouts() {
    // Accepts, reads the request, and never answers.
    let port = listener(|mut s| {
        use std::io::Read;
        let mut buf = [0u8; 4096];
        while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
    });
    let endpoint = format!("http://127.0.0.1:{port}");
    let r = endpoint_failure(&endpoint);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let want = format!(
        "error querying AMI: EC2 at `{endpoint}` did not answer `DescribeImages` in time (gave up after 2 attempts in "
    );
    assert!(r.stderr.contains(&want), "{}", r.stderr);
    assert!(
        r.stderr
            .contains("hint: check the endpoint (`custom_endpoint_ec2`), the network"),
        "{}",
        r.stderr
    );
}

#[test]
fn amazon_ebs_refused_connection_says_what_and_where() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let r = endpoint_failure(&endpoint);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let want = format!(
        "error querying AMI: cannot connect to EC2 at `{endpoint}` for `DescribeImages`: connection refused (gave up after 2 attempts in "
    );
    assert!(r.stderr.contains(&want), "{}", r.stderr);
    assert!(
        !r.stderr.contains("DispatchFailure") && !r.stderr.contains("ConnectorError"),
        "{}",
        r.stderr
    );
}

#[test]
fn amazon_ebs_html_page_from_a_wrong_endpoint_is_named() {
    // A web server that is not EC2: 404 with an HTML page.
    let port = listener(|mut s| {
        use std::io::{Read, Write};
        let mut buf = [0u8; 65536];
        let _ = s.read(&mut buf);
        let body =
            "<html><head><title>404 Not Found</title></head><body><h1>Not Found</h1></body></html>";
        let _ = write!(
            s,
            "HTTP/1.1 404 Not Found\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
    });
    let endpoint = format!("http://127.0.0.1:{port}");
    let r = endpoint_failure(&endpoint);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let want = format!(
        "error querying AMI: EC2 `DescribeImages` at `{endpoint}` answered HTTP 404 (404 Not Found)\n  hint: check that `{endpoint}` (`custom_endpoint_ec2`) is an endpoint of the EC2 API"
    );
    assert!(r.stderr.contains(&want), "{}", r.stderr);
    assert!(
        !r.stderr.contains("unhandled error") && !r.stderr.contains("ServiceError"),
        "{}",
        r.stderr
    );
}

/// The `test` post-processor on an amazon-ebs artifact: an instance is
/// launched from the new AMI (moto's EC2, asked by a check that runs while
/// it is up), the checks run over SSH with the build's settings, and the
/// instance, its key pair and security group are gone afterwards. A
/// failing check fails the build (exit 1), keeps the AMI and says so in the
/// manifest.
#[test]
fn amazon_ebs_test_post_processor_launches_from_the_new_ami() {
    let mut m = Moto::start();
    let s = m.sshd();
    for (tag, check, want_code) in [
        ("pass", "true", 0),
        ("fail", "echo broken image; exit 4", 1),
    ] {
        let d = dir();
        let probe = m.probe(
            &d,
            "running.py",
            r#"print("RUNNING=" + json.dumps(sorted(i["ImageId"] for r in ec2().describe_instances(Filters=[{"Name": "instance-state-name", "Values": ["running", "pending"]}])["Reservations"] for i in r["Instances"])))"#,
        );
        let t = d.write(
            "t.json",
            &serde_json::json!({
                "builders": [serde_json::from_str::<Value>(&builder(
                    &m,
                    Some(&s),
                    &format!(r#", "source_ami": "{BASE}", "ami_name": "kiln test {{{{timestamp}}}}""#),
                ))
                .unwrap()],
                "post-processors": [[
                    {"type": "test", "checks": [
                        {"name": "launched", "inline": [format!("{probe} > {}", d.path().join("running.txt").display())]},
                        {"name": "works", "inline": [check]}
                    ]},
                    {"type": "manifest", "output": "manifest.json"}
                ]]
            })
            .to_string(),
        );
        let r = build(&d, &t);
        assert_eq!(r.code, want_code, "{tag}:\n{}\n{}", r.stdout, r.stderr);
        let manifest: Value =
            serde_json::from_str(&d.read("manifest.json")).expect("manifest is JSON");
        let entry = &manifest["builds"][0];
        let ami = entry["artifact_id"]
            .as_str()
            .and_then(|id| id.strip_prefix("us-east-1:"))
            .unwrap_or_else(|| panic!("{tag}: {manifest}"))
            .to_string();
        // While the checks ran, the one instance up was launched from it.
        assert_eq!(
            probed(&d.read("running.txt"), "RUNNING="),
            serde_json::json!([ami]),
            "{tag}"
        );
        assert_eq!(
            entry["kiln"]["tests"]["status"],
            if want_code == 0 { "passed" } else { "failed" },
            "{tag}: {manifest}"
        );
        if want_code == 1 {
            let all = format!("{}{}", r.stdout, r.stderr);
            assert!(
                all.contains("works") && all.contains("broken image"),
                "{all}"
            );
        }
        // The AMI is kept; what the test launched is gone.
        let amis = m.py(r#"print(json.dumps([i["ImageId"] for i in ec2().describe_images(Owners=["self"])["Images"]]))"#);
        assert!(
            amis.as_array().unwrap().iter().any(|a| a == ami.as_str()),
            "{tag}: {amis}"
        );
        moto::assert_none_left(&m.leftovers(), moto::TEMPORARY);
    }
}

/// An `-incremental` build against `m`, with the cache in `cache` and the
/// standard credential chain set as the cache's cleaner uses it.
fn build_incremental(d: &TestDir, cache: &std::path::Path, t: &std::path::Path) -> Run {
    let mut c = d.kiln(&["build", "-color=false", "-incremental", t.to_str().unwrap()]);
    incremental_env(&mut c, cache);
    run(c)
}

fn incremental_env(c: &mut Command, cache: &std::path::Path) {
    // moto's volumes are large: two checkpoints must fit the cache.
    c.env("KILN_CACHE_DIR", cache)
        .env("KILN_CACHE_MAX_SIZE", "1099511627776")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ACCESS_KEY_ID", "AKIDKILNTEST")
        .env("AWS_SECRET_ACCESS_KEY", "kiln-test-secret");
}

/// A template with two shell provisioners echoing `RUN-p1` and `p2`.
fn incremental_template(d: &TestDir, m: &Moto, s: &Sshd, extra: &str, p2: &str) -> PathBuf {
    d.write(
        "t.json",
        &format!(
            r#"{{"builders": [{}],
  "provisioners": [{{"type": "shell", "inline": ["echo RUN-p1"]}}, {{"type": "shell", "inline": ["echo {p2}"]}}]}}"#,
            builder(
                m,
                Some(s),
                &format!(r#", "source_ami": "{BASE}", "ami_name": "kiln test {{{{timestamp}}}}"{extra}"#)
            )
        ),
    )
}

/// The checkpoint AMIs in moto: id → snapshot ids.
fn checkpoint_amis(m: &Moto) -> Value {
    m.py(
        r#"print(json.dumps({i["ImageId"]: [b["Ebs"]["SnapshotId"] for b in i.get("BlockDeviceMappings", []) if "Ebs" in b] for i in ec2().describe_images(Owners=["self"], Filters=[{"Name": "tag-key", "Values": ["kiln:checkpoint"]}])["Images"]}))"#,
    )
}

#[test]
fn amazon_ebs_incremental_checkpoint_images_restore_from_an_ami() {
    let mut m = Moto::start();
    let s = m.sshd();
    let d = dir();
    let cache = d.path().join("cache");
    let on = r#", "checkpoint_images": true"#;

    let t = incremental_template(&d, &m, &s, on, "RUN-p2");
    let r = build_incremental(&d, &cache, &t);
    let all = format!("{}{}", r.stdout, r.stderr);
    assert_eq!(r.code, 0, "{all}");
    assert!(!all.contains(SECRET), "{all}");
    for n in [1, 2] {
        assert!(
            all.contains(&format!(
                "Saved the checkpoint after provisioner {n} of 2 (shell, "
            )),
            "{n}: {all}"
        );
    }
    assert!(all.contains("RUN-p1") && all.contains("RUN-p2"), "{all}");
    let first = checkpoint_amis(&m);
    assert_eq!(first.as_object().unwrap().len(), 2, "{first}\n{all}");
    moto::assert_none_left(&m.leftovers(), moto::TEMPORARY);

    // p2 changed: the instance starts from the checkpoint after p1.
    let t = incremental_template(&d, &m, &s, on, "RUN-p2-changed");
    let r = build_incremental(&d, &cache, &t);
    let all = format!("{}{}", r.stdout, r.stderr);
    assert_eq!(r.code, 0, "{all}");
    assert!(
        all.contains("Restoring the checkpoint after provisioner 1 of 2 (shell, saved "),
        "{all}"
    );
    assert!(!all.contains("RUN-p1"), "{all}");
    assert!(all.contains("RUN-p2-changed"), "{all}");
    let restored = all
        .lines()
        .find_map(|l| l.split_once("Launching the instance from checkpoint AMI "))
        .map(|(_, ami)| ami.trim().to_string())
        .unwrap_or_else(|| panic!("no checkpoint AMI launched:\n{all}"));
    assert!(first.get(&restored).is_some(), "{restored}: {first}");
    // moto's instances (terminated ones included): build 1's from the
    // source AMI, build 2's from the checkpoint.
    let launched = m.py(
        r#"print(json.dumps(sorted(i["ImageId"] for r in ec2().describe_instances()["Reservations"] for i in r["Instances"])))"#,
    );
    let mut want = vec![BASE.to_string(), restored.clone()];
    want.sort();
    assert_eq!(launched, serde_json::json!(want));
    let second = checkpoint_amis(&m);
    assert_eq!(second.as_object().unwrap().len(), 3, "{second}");
    moto::assert_none_left(&m.leftovers(), moto::TEMPORARY);

    // `kiln cache clear` deregisters them and deletes their snapshots.
    let snapshots: Vec<String> = second
        .as_object()
        .unwrap()
        .values()
        .flat_map(|v| v.as_array().unwrap().iter())
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert!(!snapshots.is_empty(), "{second}");
    let mut c = d.kiln(&["cache", "clear"]);
    incremental_env(&mut c, &cache);
    let r = run(c);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(checkpoint_amis(&m), serde_json::json!({}));
    let left = m.py(&format!(
        r#"want = set({})
print(json.dumps(sorted(s["SnapshotId"] for s in ec2().describe_snapshots(OwnerIds=["self"])["Snapshots"] if s["SnapshotId"] in want)))"#,
        serde_json::to_string(&snapshots).unwrap()
    ));
    assert_eq!(left, serde_json::json!([]));
    moto::assert_none_left(&m.leftovers(), moto::TEMPORARY);
}

#[test]
fn amazon_ebs_incremental_without_checkpoint_images_warns_and_runs_all() {
    let mut m = Moto::start();
    let s = m.sshd();
    let d = dir();
    let cache = d.path().join("cache");
    let t = incremental_template(&d, &m, &s, "", "RUN-p2");
    for _ in 0..2 {
        let r = build_incremental(&d, &cache, &t);
        let all = format!("{}{}", r.stdout, r.stderr);
        assert_eq!(r.code, 0, "{all}");
        assert!(
            all.contains("this builder does not make checkpoints"),
            "{all}"
        );
        assert!(all.contains("RUN-p1") && all.contains("RUN-p2"), "{all}");
        assert!(!all.contains("Saved the checkpoint"), "{all}");
    }
    assert_eq!(checkpoint_amis(&m), serde_json::json!({}));
    moto::assert_none_left(&m.leftovers(), moto::TEMPORARY);
}
