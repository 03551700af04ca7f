//! `kiln cleanup -run <uuid>` after a SIGKILLed build: an amazon-ebs build
//! against moto and a docker build on the real engine are killed while a
//! `shell-local` provisioner sleeps (after it wrote the run's UUID, from
//! `{{ build `PackerRunUUID` }}`, to a file); what they left carries the run
//! tags, and `kiln cleanup` deletes it, through the cloud's own API, as the
//! tests then check with boto3 and the docker CLI. A second cleanup finds
//! nothing. A successful build's AMI is not the run's to delete.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kiln_test::moto;
use serde_json::Value;

use crate::amazon::{builder, Moto};
use crate::support::*;

/// A `sleep` argument no other test uses, to find and end the orphaned
/// provisioner after kiln is killed.
pub(crate) fn sleep_marker(salt: u32) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{}.{}{salt}", 700 + std::process::id() % 200, nanos % 1000)
}

/// Kills (SIGKILL) the processes whose command line contains `marker`.
pub(crate) fn kill_matching(marker: &str) {
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmd.contains(marker) && !cmd.contains("cargo") {
            if let Some(pid) = entry.file_name().to_str() {
                let _ = Command::new("kill").args(["-9", pid]).status();
            }
        }
    }
}

/// Starts `kiln build` on `template` with `env`, waits until the
/// provisioner wrote the run's UUID to `run.txt` in `d`, then SIGKILLs kiln
/// and the sleeping provisioner. Returns the UUID.
pub(crate) fn build_and_kill(
    d: &TestDir,
    template: &Path,
    env: &[(&str, &str)],
    marker: &str,
) -> String {
    let mut c = d.kiln(&["build", "-color=false", template.to_str().unwrap()]);
    for (k, v) in env {
        c.env(k, v);
    }
    c.stdout(Stdio::null()).stderr(Stdio::null());
    let mut child: Child = c.spawn().unwrap();
    let started = Instant::now();
    let run_file = d.path().join("run.txt");
    let uuid = loop {
        let text = std::fs::read_to_string(&run_file).unwrap_or_default();
        if text.ends_with('\n') && !text.trim().is_empty() {
            break text.trim().to_string();
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the build ended ({status}) before its provisioner ran");
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the provisioner never ran"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    child.kill().unwrap(); // SIGKILL: no cleanup runs.
    child.wait().unwrap();
    kill_matching(&format!("sleep {marker}"));
    uuid
}

/// `kiln cleanup` with `args` against moto.
fn cleanup(d: &TestDir, m: Option<&Moto>, args: &[&str]) -> Run {
    let mut all = vec!["cleanup"];
    all.extend_from_slice(args);
    let mut c = d.kiln(&all);
    c.env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_REGION")
        .env_remove("AWS_DEFAULT_REGION")
        .env_remove("AWS_PROFILE");
    if m.is_some() {
        c.env("AWS_ACCESS_KEY_ID", "AKIDKILNTEST")
            .env("AWS_SECRET_ACCESS_KEY", "kiln-test-secret");
    }
    run(c)
}

/// What in moto carries `kiln:run` = `uuid`, by kind (with the tags of
/// the first key pair and the instance, to check the build name).
fn tagged(m: &Moto, uuid: &str) -> Value {
    m.py(&format!(
        r#"
run = {uuid:?}
c = ec2()
def has(tags):
    return any(t["Key"] == "kiln:run" and t["Value"] == run for t in (tags or []))
def tagmap(tags):
    return {{t["Key"]: t["Value"] for t in (tags or [])}}
ins = [i for r in c.describe_instances()["Reservations"] for i in r["Instances"]
       if i["State"]["Name"] not in ("terminated", "shutting-down") and has(i.get("Tags"))]
profiles = [p["InstanceProfileName"] for p in iam().list_instance_profiles()["InstanceProfiles"]
            if has(iam().get_instance_profile(InstanceProfileName=p["InstanceProfileName"])["InstanceProfile"].get("Tags"))]
print(json.dumps({{
    "instances": [i["InstanceId"] for i in ins],
    "instance_tags": [tagmap(i.get("Tags")) for i in ins],
    "volumes": [v["VolumeId"] for v in c.describe_volumes()["Volumes"] if has(v.get("Tags"))],
    "key_pairs": [k["KeyName"] for k in c.describe_key_pairs()["KeyPairs"] if has(k.get("Tags"))],
    "key_pair_tags": [tagmap(k.get("Tags")) for k in c.describe_key_pairs()["KeyPairs"] if has(k.get("Tags"))],
    "security_groups": [g["GroupId"] for g in c.describe_security_groups()["SecurityGroups"] if has(g.get("Tags"))],
    "amis": [i["ImageId"] for i in c.describe_images(Owners=["self"])["Images"] if has(i.get("Tags"))],
    "roles": [r["RoleName"] for r in iam().list_roles()["Roles"]
              if has(iam().list_role_tags(RoleName=r["RoleName"])["Tags"])],
    "instance_profiles": profiles,
}}))
"#
    ))
}

#[test]
fn cleanup_deletes_what_a_sigkilled_amazon_build_left() {
    let m = Moto::start();
    let d = dir();
    let marker = sleep_marker(1);
    let provisioner = r#"{"type": "shell-local", "inline": ["echo {{ build `PackerRunUUID` }} > run.txt", "sleep MARK"]}"#
        .replace("MARK", &marker);
    let t = d.write(
        "t.json",
        &format!(
            r#"{{"builders": [{}], "provisioners": [{provisioner}]}}"#,
            builder(
                &m,
                None,
                r#", "name": "killed", "source_ami": "ami-0b45e1", "ami_name": "kiln test cleanup {{timestamp}}",
                "run_tags": {"Purpose": "kiln-cleanup"},
                "temporary_iam_instance_profile_policy_document": {"Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["*"]}]}"#
            )
        ),
    );
    let uuid = build_and_kill(&d, &t, &[("AWS_EC2_METADATA_DISABLED", "true")], &marker);
    assert_eq!(uuid.len(), 36, "not a UUID: {uuid}");

    // What the killed build left carries the run tags.
    let left = tagged(&m, &uuid);
    for kind in [
        "instances",
        "volumes",
        "key_pairs",
        "security_groups",
        "roles",
        "instance_profiles",
    ] {
        assert_eq!(
            left[kind].as_array().map(Vec::len),
            Some(1),
            "{kind} of the run: {left}"
        );
    }
    assert_eq!(left["key_pair_tags"][0]["kiln:build"], "killed", "{left}");
    // The template's tags are unchanged beside the run tags.
    assert_eq!(
        left["instance_tags"][0],
        serde_json::json!({"Name": "Packer Builder", "Purpose": "kiln-cleanup",
                           "kiln:run": uuid, "kiln:build": "killed"})
    );
    // As if the kill had come after CreateImage: an AMI of the instance,
    // tagged as kiln tags it (moto gives its snapshot no tags).
    let instance = left["instances"][0].as_str().unwrap();
    m.py(&format!(
        r#"ec2().create_image(InstanceId="{instance}", Name="kiln test cleanup ami",
    TagSpecifications=[{{"ResourceType": "image", "Tags": [{{"Key": "kiln:run", "Value": "{uuid}"}}, {{"Key": "kiln:build", "Value": "killed"}}]}}])
print("{{}}")"#
    ));
    let snaps_before = m.py(
        r#"print(json.dumps([s["SnapshotId"] for s in ec2().describe_snapshots(OwnerIds=["self"])["Snapshots"]]))"#,
    );
    let endpoint = m.endpoint();
    let common = [
        "-cloud=amazon",
        "-region=us-east-1",
        "-endpoint",
        endpoint.as_str(),
    ];

    // A dry run lists and deletes nothing.
    let mut args = vec!["-run", uuid.as_str(), "-dry-run"];
    args.extend(common);
    let r = cleanup(&d, Some(&m), &args);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("Would delete key pair"), "{}", r.stdout);
    assert_eq!(tagged(&m, &uuid)["key_pairs"].as_array().unwrap().len(), 1);

    let mut args = vec!["-run", uuid.as_str()];
    args.extend(common);
    let r = cleanup(&d, Some(&m), &args);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    for what in [
        "Deleting instance",
        "Deleting AMI",
        "Deleting snapshot",
        "Deleting key pair",
        "Deleting security group",
        "Deleting IAM role",
        "Deleting IAM instance profile",
    ] {
        assert!(r.stdout.contains(what), "no `{what}` in:\n{}", r.stdout);
    }

    // Nothing of the run is left, counted through the EC2 and IAM APIs.
    let after = tagged(&m, &uuid);
    let kinds = [
        "instances",
        "volumes",
        "key_pairs",
        "security_groups",
        "amis",
        "roles",
        "instance_profiles",
    ];
    moto::assert_none_left(&after, &kinds);
    let kinds = [
        "key_pairs",
        "security_groups",
        "instances",
        "amis",
        "instance_profiles",
        "roles",
    ];
    moto::assert_none_left(&m.leftovers(), &kinds);
    let snaps_after = m.py(
        r#"print(json.dumps([s["SnapshotId"] for s in ec2().describe_snapshots(OwnerIds=["self"])["Snapshots"]]))"#,
    );
    assert!(
        snaps_after.as_array().unwrap().len() < snaps_before.as_array().unwrap().len(),
        "the AMI's snapshot was not deleted: {snaps_before} -> {snaps_after}"
    );

    // A second cleanup finds nothing.
    let r = cleanup(&d, Some(&m), &args);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains(&format!(
            "Nothing of run `{uuid}` found in amazon (us-east-1)"
        )),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("Deleting"), "{}", r.stdout);
}

#[test]
fn cleanup_leaves_the_ami_of_a_successful_build() {
    let m = Moto::start();
    let d = dir();
    let t = d.write(
        "t.json",
        &format!(
            r#"{{"builders": [{}],
  "provisioners": [{{"type": "shell-local", "inline": ["echo {{{{ build `PackerRunUUID` }}}} > run.txt"]}}]}}"#,
            builder(
                &m,
                None,
                r#", "source_ami": "ami-0b45e1", "ami_name": "kiln test kept {{timestamp}}", "tags": {"Name": "kept"}"#
            )
        ),
    );
    let mut c = d.kiln(&["build", "-color=false", t.to_str().unwrap()]);
    c.env("AWS_EC2_METADATA_DISABLED", "true");
    let r = run(c);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let uuid = d.read("run.txt").trim().to_string();
    // The artifact keeps the template's tags only.
    let amis = m.py(
        r#"print(json.dumps([{t["Key"]: t["Value"] for t in i.get("Tags", [])} for i in ec2().describe_images(Owners=["self"])["Images"] if i["Name"].startswith("kiln test kept")]))"#,
    );
    assert_eq!(amis, serde_json::json!([{"Name": "kept"}]));
    let endpoint = m.endpoint();
    let r = cleanup(
        &d,
        Some(&m),
        &[
            "-run",
            &uuid,
            "-cloud",
            "amazon",
            "-region",
            "us-east-1",
            "-endpoint",
            &endpoint,
        ],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("Nothing of run"), "{}", r.stdout);
    assert_eq!(m.leftovers()["amis"].as_array().unwrap().len(), 1);
}

#[test]
fn cleanup_needs_a_run_and_knows_its_clouds() {
    let d = dir();
    let r = cleanup(&d, None, &[]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("`-run` is required"), "{}", r.stderr);
    let r = cleanup(&d, None, &["-run", "x", "-cloud", "gcp"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("unknown cloud `gcp` in `-cloud`"),
        "{}",
        r.stderr
    );
    let r = cleanup(&d, None, &["-run", "x", "-cloud", "amazon"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("needs the regions"), "{}", r.stderr);
}

/// The docker CLI's answer, trimmed.
fn docker(args: &[&str]) -> String {
    let o = Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run docker");
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

#[test]
fn cleanup_removes_the_container_of_a_sigkilled_docker_build() {
    let image = kiln_docker_test::base_image();
    let d = dir();
    let marker = sleep_marker(2);
    let t = d.write(
        "t.json",
        &r#"{"builders": [{"type": "docker", "name": "killed-docker", "image": "IMAGE", "discard": true, "pull": false}],
  "provisioners": [{"type": "shell-local", "inline": ["echo {{ build `PackerRunUUID` }} > run.txt", "sleep MARK"]}]}"#
            .replace("IMAGE", image)
            .replace("MARK", &marker),
    );
    let uuid = build_and_kill(&d, &t, &[], &marker);
    let filter = format!("label=kiln.run={uuid}");
    let left = docker(&["ps", "-aq", "--filter", &filter]);
    assert!(
        !left.is_empty(),
        "the killed build left no labelled container"
    );
    let build_label = docker(&[
        "inspect",
        "-f",
        "{{ index .Config.Labels \"kiln.build\" }}",
        &left,
    ]);
    assert_eq!(build_label, "killed-docker");

    let r = cleanup(&d, None, &["-run", &uuid, "-cloud=docker"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("Removing container"), "{}", r.stdout);
    assert_eq!(docker(&["ps", "-aq", "--filter", &filter]), "");

    let r = cleanup(&d, None, &["-run", &uuid, "-cloud=docker"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains(&format!("Nothing of run `{uuid}` found in docker")),
        "{}",
        r.stdout
    );
}

/// `kiln cleanup` of `cloud` with `env` (credentials and endpoint), every
/// variable that would select another cloud removed.
fn cleanup_cloud(d: &TestDir, env: &[(&str, &str)], args: &[&str]) -> Run {
    let mut all = vec!["cleanup"];
    all.extend_from_slice(args);
    let mut c = d.kiln(&all);
    for k in [
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "ALICLOUD_REGION",
        "TENCENTCLOUD_REGION",
        "UCLOUD_REGION",
        "HW_REGION_NAME",
    ] {
        c.env_remove(k);
    }
    for (k, v) in env {
        c.env(k, v);
    }
    run(c)
}

/// A `shell-local` provisioner that writes the run's UUID to `run.txt`,
/// then sleeps `marker` seconds (or not at all, for `None`).
fn run_file_provisioner(marker: Option<&str>) -> Value {
    let mut inline = vec![serde_json::json!(
        "echo {{ build `PackerRunUUID` }} > run.txt"
    )];
    if let Some(m) = marker {
        inline.push(format!("sleep {m}").into());
    }
    serde_json::json!([{"type": "shell-local", "inline": inline}])
}

/// Runs cleanup twice with `args`: the first deletes `n` resources, the
/// second finds nothing; `place` is how the last line names the search.
fn cleanup_twice(
    d: &TestDir,
    env: &[(&str, &str)],
    args: &[&str],
    uuid: &str,
    n: usize,
    place: &str,
) {
    let r = cleanup_cloud(d, env, args);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains(&format!(
            "{n} resource(s) of run `{uuid}` found in {place} and deleted"
        )),
        "{}",
        r.stdout
    );
    let r = cleanup_cloud(d, env, args);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains(&format!("Nothing of run `{uuid}` found in {place}")),
        "{}",
        r.stdout
    );
}

#[test]
fn cleanup_deletes_the_uhost_a_sigkilled_ucloud_build_left() {
    use kiln_test::ucloud_fake::{UcloudFake, PROJECT};
    let fake = UcloudFake::start();
    let d = dir();
    let marker = sleep_marker(3);
    let builder = |name: &str, image: &str| {
        serde_json::json!({
            "type": "ucloud-uhost", "name": name,
            "public_key": fake.public_key(), "private_key": fake.private_key(),
            "project_id": PROJECT, "region": "cn-bj2", "availability_zone": "cn-bj2-02",
            "base_url": fake.endpoint(), "source_image_id": "uimage-centos79",
            "instance_type": "n-basic-1", "image_name": image, "communicator": "none"
        })
    };
    let t = serde_json::json!({
        "builders": [builder("killed", "kiln-killed")],
        "provisioners": run_file_provisioner(Some(&marker)),
    });
    let path = d.write("t.json", &t.to_string());
    let uuid = build_and_kill(&d, &path, &[], &marker);
    let res = fake.resources();
    let hosts = res["uhost"].as_array().unwrap();
    assert_eq!(hosts.len(), 1, "{res:#}");
    assert_eq!(hosts[0]["Tag"], format!("kiln-{uuid}"), "{res:#}");
    assert_eq!(res["eip"].as_array().unwrap().len(), 1, "{res:#}");

    let endpoint = fake.endpoint();
    let env = [
        ("UCLOUD_PUBLIC_KEY", fake.public_key()),
        ("UCLOUD_PRIVATE_KEY", fake.private_key()),
        ("UCLOUD_PROJECT_ID", PROJECT),
        ("KILN_UCLOUD_BASE_URL", endpoint.as_str()),
    ];
    // A dry run lists it and deletes nothing.
    let args = [
        "-run",
        &uuid,
        "-cloud",
        "ucloud",
        "-region",
        "cn-bj2,cn-sh2",
    ];
    let r = cleanup_cloud(&d, &env, &[&args[..], &["-dry-run"]].concat());
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("Would delete UHost uhost-"),
        "{}",
        r.stdout
    );
    assert_eq!(fake.resources()["uhost"].as_array().unwrap().len(), 1);

    cleanup_twice(&d, &env, &args, &uuid, 1, "ucloud (cn-bj2, cn-sh2)");
    let res = fake.resources();
    for kind in ["uhost", "eip"] {
        assert_eq!(res[kind], serde_json::json!([]), "{kind}: {res:#}");
    }
    // Nothing ever reached the private key.
    let r = cleanup_cloud(&d, &env, &args);
    assert!(!r.stdout.contains(fake.private_key()) && !r.stderr.contains(fake.private_key()));
}

#[test]
fn cleanup_deletes_what_a_sigkilled_huaweicloud_build_left_but_not_a_finished_image() {
    use kiln_test::huaweicloud_fake::{HuaweicloudFake, PROJECT_ID};
    let fake = HuaweicloudFake::start();
    let d = dir();
    let e = fake.endpoint();
    let builder = |name: &str, image: &str| {
        serde_json::json!({
            "type": "huaweicloud-ecs", "name": name,
            "access_key": fake.access_key(), "secret_key": fake.secret_key(),
            "region": "cn-north-4", "project_id": PROJECT_ID,
            "endpoints": {"ecs": e, "ims": e, "vpc": e, "eip": e},
            "flavor": "s6.small.1", "source_image_name": "Ubuntu 22.04 server 64bit",
            "image_name": image, "eip_type": "5_bgp", "eip_bandwidth_size": 5,
            "communicator": "none"
        })
    };
    let env = [
        ("HW_ACCESS_KEY", fake.access_key()),
        ("HW_SECRET_KEY", fake.secret_key()),
        ("HW_PROJECT_ID", PROJECT_ID),
        ("KILN_HUAWEICLOUD_ENDPOINT", e.as_str()),
    ];

    // A finished build: its image is the artifact, not the run's to delete.
    let t = serde_json::json!({
        "builders": [builder("kept", "kiln-kept")],
        "provisioners": run_file_provisioner(None),
    });
    let (r, all) = run_both(kiln_on(&d, "kept.json", &t.to_string(), &["build"]));
    assert_eq!(r.code, 0, "{all}");
    let kept_run = d.read("run.txt").trim().to_string();
    let args = [
        "-run",
        &kept_run,
        "-cloud",
        "huaweicloud",
        "-region",
        "cn-north-4",
    ];
    let r = cleanup_cloud(&d, &env, &args);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("Nothing of run"), "{}", r.stdout);
    let images = |res: &Value| {
        res["image"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["__imagetype"] == "private")
            .count()
    };
    assert_eq!(images(&fake.resources()), 1);

    // A killed one leaves its server, EIP, VPC, subnet and security group.
    std::fs::remove_file(d.path().join("run.txt")).unwrap();
    let marker = sleep_marker(4);
    let t = serde_json::json!({
        "builders": [builder("killed", "kiln-killed")],
        "provisioners": run_file_provisioner(Some(&marker)),
    });
    let path = d.write("t.json", &t.to_string());
    let uuid = build_and_kill(&d, &path, &[], &marker);
    let res = fake.resources();
    for kind in ["server", "eip", "vpc", "subnet", "security_group"] {
        assert_eq!(res[kind].as_array().unwrap().len(), 1, "{kind}: {res:#}");
    }
    let args = [
        "-run",
        &uuid,
        "-cloud",
        "huaweicloud",
        "-region",
        "cn-north-4",
    ];
    cleanup_twice(&d, &env, &args, &uuid, 5, "huaweicloud (cn-north-4)");
    let res = fake.resources();
    for kind in ["server", "eip", "vpc", "subnet", "security_group"] {
        assert_eq!(res[kind], serde_json::json!([]), "{kind}: {res:#}");
    }
    assert_eq!(images(&res), 1, "the finished build's image stays");

    // One region at a time: a project belongs to one.
    let r = cleanup_cloud(
        &d,
        &env,
        &["-run", &uuid, "-cloud", "huaweicloud", "-region", "a,b"],
    );
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("one region at a time"), "{}", r.stderr);
}

#[test]
fn cleanup_deletes_what_a_sigkilled_openstack_build_left_but_not_a_finished_image() {
    use kiln_test::openstack::OpenStack;
    let _one = crate::openstack::one_at_a_time();
    let os = OpenStack::shared();
    let d = dir();
    let builder = |name: &str, image: &str| {
        serde_json::json!({
            "type": "openstack", "name": name,
            "identity_endpoint": os.var("OS_AUTH_URL"), "username": os.var("OS_USERNAME"),
            "password": os.var("OS_PASSWORD"), "tenant_name": os.var("OS_PROJECT_NAME"),
            "domain_name": "Default", "region": os.var("OS_REGION_NAME"),
            "flavor": "m1.tiny", "source_image_name": "tiny",
            "network_discovery_cidrs": ["10.99.0.0/16"], "floating_ip_network": "public",
            "image_name": image, "communicator": "none"
        })
    };
    let env: Vec<(&str, &str)> = os
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let region = os.var("OS_REGION_NAME");
    let place = format!("openstack ({region})");
    let images = |name: &str| -> Vec<String> {
        serde_json::from_str::<Vec<String>>(&os.python(&format!(
            "import json, openstack; c = openstack.connect(); \
             print(json.dumps([i.id for i in c.image.images(owner=c.current_project_id) if i.name == '{name}']))"
        )))
        .unwrap()
    };

    // A finished build: its image is the artifact, not the run's to delete.
    let kept = format!("kiln-cleanup-kept-{}", std::process::id());
    let t = serde_json::json!({
        "builders": [builder("kept", &kept)],
        "provisioners": run_file_provisioner(None),
    });
    let (r, all) = run_both(kiln_on(&d, "kept.json", &t.to_string(), &["build"]));
    assert_eq!(r.code, 0, "{all}");
    assert_cleanup_leaves_a_success(&d.path().join("run.txt"), "openstack", region, |args| {
        cleanup_cloud(&d, &env, args)
    });
    let kept_images = images(&kept);
    assert_eq!(kept_images.len(), 1, "the finished build's image");

    // A killed one leaves its server, floating IP and (untagged) key pair.
    std::fs::remove_file(d.path().join("run.txt")).unwrap();
    let marker = sleep_marker(5);
    let t = serde_json::json!({
        "builders": [builder("killed", "kiln-cleanup-killed")],
        "provisioners": run_file_provisioner(Some(&marker)),
    });
    let path = d.write("t.json", &t.to_string());
    let uuid = build_and_kill(&d, &path, &[], &marker);
    let left = |what: &str| -> usize {
        os.python(&format!(
            "import openstack; c = openstack.connect(); r = '{uuid}'; \
             print(len([s for s in c.compute.servers() if s.metadata.get('kiln:run') == r]) if '{what}' == 'servers' \
             else len([f for f in c.network.ips(project_id=c.current_project_id) if ('kiln:run=' + r) in (f.description or '')]))"
        ))
        .trim()
        .parse()
        .unwrap()
    };
    assert_eq!((left("servers"), left("floating_ips")), (1, 1));
    let args = [
        "-run",
        uuid.as_str(),
        "-cloud",
        "openstack",
        "-region",
        region,
    ];
    cleanup_twice(&d, &env, &args, &uuid, 2, &place);
    assert_eq!((left("servers"), left("floating_ips")), (0, 0));
    assert_eq!(
        images(&kept),
        kept_images,
        "the finished build's image stays"
    );

    // The key pair carries no tag: cleanup cannot find it (documented);
    // the test removes it, and the kept image.
    os.python(&format!(
        "import openstack; c = openstack.connect(); \
         [c.compute.delete_keypair(k) for k in c.compute.keypairs() if k.name.startswith('packer_') \
          and not any(s.key_name == k.name for s in c.compute.servers())]; \
         [c.image.delete_image(i) for i in {kept_images:?}]"
    ));

    // One region at a time: the credentials name one project.
    let r = cleanup_cloud(
        &d,
        &env,
        &["-run", &uuid, "-cloud", "openstack", "-region", "a,b"],
    );
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("one region at a time"), "{}", r.stderr);
}
