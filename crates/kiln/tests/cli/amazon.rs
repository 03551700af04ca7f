//! `kiln build` with the amazon-ebs builder against moto's EC2 server (a
//! real third-party EC2 implementation, installed in a venv by
//! scripts/install-deps.sh), started on a free loopback port per test.
//!
//! moto does not boot instances, so the SSH step is pointed (`ssh_host`,
//! `ssh_port`) at a loopback OpenSSH server (kiln-ssh's test harness). That
//! server plays the instance's cloud-init: its `AuthorizedKeysCommand` asks
//! moto for the key pairs' public keys, so the temporary key pair kiln
//! imports is what lets it log in. The tests check what the build left in
//! moto through boto3 (an independent EC2 client).

#[path = "../../../kiln-ssh/src/testing.rs"]
mod sshd;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use sshd::Sshd;

use crate::support::*;

/// The venv scripts/install-deps.sh creates.
fn venv() -> PathBuf {
    let v = std::env::var_os("KILN_MOTO_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var("HOME").expect("HOME")).join(".cache/kiln/moto-venv")
        });
    assert!(
        v.join("bin/moto_server").exists(),
        "moto is not installed in `{}`: run scripts/install-deps.sh",
        v.display()
    );
    v
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
const BASE: &str = "ami-0b45e1";

/// A moto EC2 server on a loopback port; killed on drop.
struct Moto {
    port: u16,
    child: Child,
    _amis: tempfile::NamedTempFile,
    /// The sshd `AuthorizedKeysCommand` script's directory (root-owned,
    /// not group- or world-writable, as sshd requires).
    akc_dir: Option<PathBuf>,
}

const PRELUDE: &str = r#"
import boto3, json, sys, time
def ec2(region="us-east-1"):
    return boto3.client("ec2", endpoint_url="http://127.0.0.1:%PORT%", region_name=region,
                        aws_access_key_id="AKIDKILNTEST", aws_secret_access_key="kiln-test-secret")
def leftovers(region="us-east-1"):
    c = ec2(region)
    return {
        "key_pairs": [k["KeyName"] for k in c.describe_key_pairs()["KeyPairs"] if k["KeyName"].startswith("packer_")],
        "security_groups": [g["GroupName"] for g in c.describe_security_groups()["SecurityGroups"] if g["GroupName"].startswith("packer_")],
        "instances": [i["InstanceId"] for r in c.describe_instances()["Reservations"] for i in r["Instances"]
                      if i["State"]["Name"] not in ("terminated", "shutting-down")],
        "amis": [im["ImageId"] for im in c.describe_images(Owners=["self"])["Images"] if im["Name"].startswith("kiln test")],
    }
"#;

impl Moto {
    fn start() -> Moto {
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
        let child = Command::new(v.join("bin/moto_server"))
            .env("MOTO_AMIS_PATH", file.path())
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto_server");
        let m = Moto {
            port,
            child,
            _amis: file,
            akc_dir: None,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto_server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        m
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Runs Python with boto3 against this server and decodes the JSON the
    /// script prints.
    fn py(&self, code: &str) -> Value {
        let script = format!(
            "{}\n{code}",
            PRELUDE.replace("%PORT%", &self.port.to_string())
        );
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
        let home = PathBuf::from(std::env::var("HOME").expect("HOME"));
        let dir = home.join(format!(
            ".cache/kiln/akc-{}-{}",
            std::process::id(),
            self.port
        ));
        std::fs::create_dir_all(&dir).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let script = dir.join("keys.sh");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\nexec {py} -c 'import boto3\nc = boto3.client(\"ec2\", endpoint_url=\"http://127.0.0.1:{port}\", region_name=\"us-east-1\", aws_access_key_id=\"AKIDKILNTEST\", aws_secret_access_key=\"x\")\nfor k in c.describe_key_pairs(IncludePublicKey=True)[\"KeyPairs\"]:\n    print(k.get(\"PublicKey\", \"\").strip())\n'\n",
                py = venv().join("bin/python").display(),
                port = self.port
            ),
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        self.akc_dir = Some(dir);
        Sshd::start_with(&format!(
            "AuthorizedKeysCommand {}\nAuthorizedKeysCommandUser root",
            script.display()
        ))
    }

    fn leftovers(&self) -> Value {
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
fn builder(m: &Moto, s: Option<&Sshd>, extra: &str) -> String {
    let comm = match s {
        Some(s) => format!(
            r#""ssh_username": "{}", "ssh_host": "127.0.0.1", "ssh_port": {}, "ssh_timeout": "60s""#,
            sshd::current_user(),
            s.port
        ),
        None => r#""communicator": "none""#.to_string(),
    };
    format!(
        r#"{{"type": "amazon-ebs", "region": "us-east-1", "custom_endpoint_ec2": "{}",
            "access_key": "AKIDKILNTEST", "secret_key": "{SECRET}",
            "instance_type": "t3.micro", "aws_polling": {{"delay_seconds": 1, "max_attempts": 60}},
            {comm}{extra}}}"#,
        m.endpoint()
    )
}

fn build(d: &TestDir, t: &std::path::Path) -> Run {
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

fn assert_clean(m: &Moto) {
    let l = m.leftovers();
    for k in ["key_pairs", "security_groups", "instances", "amis"] {
        assert_eq!(l[k], serde_json::json!([]), "leftover {k} in moto: {l}");
    }
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
    let l = m.leftovers();
    for k in ["key_pairs", "security_groups", "instances"] {
        assert_eq!(l[k], serde_json::json!([]), "leftover {k}: {l}");
    }
    // The instance carried the run tags.
    let tagged = m.py(
        r#"print(json.dumps([{t["Key"]: t["Value"] for t in i.get("Tags", [])} for r in ec2().describe_instances(Filters=[{"Name": "tag:Purpose", "Values": ["kiln-test"]}])["Reservations"] for i in r["Instances"]]))"#,
    );
    assert_eq!(
        tagged,
        serde_json::json!([{"Name": "Packer Builder", "Purpose": "kiln-test"}])
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
    while sshd::processes_matching(&format!("sleep {marker}")).is_empty() {
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
  "vpc_filter": {"filters": {"isDefault": "true"}},
  "temporary_security_group_source_cidrs": ["10.0.0.0/33"],
  "aws_poling": {},
  "ssh_username": "admin"}]}"#,
    );
    let r = kiln(&d, &["validate", t.to_str().unwrap()]);
    assert_eq!(r.code, 1);
    insta::assert_snapshot!(r.snapshot(d.path()));
}
