//! `kiln build` with the tencentcloud-cvm builder against the FAKE Tencent
//! Cloud API (`fakes/tencentcloud`, started per test by
//! `kiln_test::tencentcloud_fake`), through `KILN_TENCENTCLOUD_ENDPOINT`.
//!
//! The fake boots nothing: its instances' public address is 127.0.0.1,
//! and a loopback sshd plays the instance, its `AuthorizedKeysCommand`
//! asking the fake for the public keys of the key pairs bound to running
//! instances, so the temporary key pair kiln imports and launches with is
//! what lets the `shell` provisioner in. The tests check what the build
//! left in the fake (`resources()`) and the calls it made, normalised as
//! packer 1.6.6's recorded sequence is (`fakes/tencentcloud/fidelity/`).

use kiln_test::sshd;
use kiln_test::tencentcloud_fake::{self, TencentcloudFake};
use serde_json::Value;

use crate::support::*;

/// The source image the fake serves (a built-in public image).
const SOURCE_IMAGE: &str = "img-pi0ii46r";
/// The account the image is shared with.
const SHARE_ACCOUNT: &str = "100022223333";
/// What a build makes for itself and must delete, whatever its outcome.
const TEMPORARY: [&str; 5] = ["instance", "vpc", "subnet", "security_group", "key_pair"];

/// The seed template: ap-guangzhou, copied to ap-shanghai, shared,
/// provisioned over SSH through the public address (127.0.0.1 at `port`).
fn template(fake: &TencentcloudFake, secret: &str, port: u16) -> Value {
    serde_json::json!({
        "builders": [{
            "type": "tencentcloud-cvm",
            "secret_id": fake.secret_id(),
            "secret_key": secret,
            "region": "ap-guangzhou",
            "zone": "ap-guangzhou-3",
            "instance_type": "S5.MEDIUM2",
            "source_image_id": SOURCE_IMAGE,
            "image_name": "kiln-tencentcloud-e2e",
            "disk_type": "CLOUD_PREMIUM",
            "associate_public_ip_address": true,
            "image_copy_regions": ["ap-shanghai"],
            "image_share_accounts": [SHARE_ACCOUNT],
            "run_tags": {"team": "kiln"},
            "ssh_username": sshd::current_user(),
            "ssh_port": port,
            "ssh_timeout": "60s"
        }],
        "provisioners": [{"type": "shell", "inline": ["echo hi"]}]
    })
}

/// Writes `template` as `tencentcloud.json` in `d`, runs `kiln build` on it
/// with the API at `endpoint`, and returns the result with its stdout and
/// stderr together.
fn build(d: &TestDir, template: &Value, endpoint: &str) -> (Run, String) {
    let mut c = kiln_on(d, "tencentcloud.json", &template.to_string(), &["build"]);
    c.env("KILN_TENCENTCLOUD_ENDPOINT", endpoint);
    run_both(c)
}

/// kiln's own CVM client on `fake`, to set the fake up as a user's
/// tooling would.
fn cvm(fake: &TencentcloudFake) -> kiln_builder_tencentcloud::cloud::Cvm {
    kiln_builder_tencentcloud::cloud::Cvm::new(
        "ap-guangzhou",
        "ap-guangzhou-3",
        kiln_builder_tencentcloud::client::Credential {
            secret_id: fake.secret_id().into(),
            secret_key: kiln_sdk::Secret::new(fake.secret_key().into()),
            token: None,
        },
        Some(&fake.endpoint()),
    )
    .unwrap()
}

/// packer 1.6.6's recorded sequence for the seed template (as
/// `fidelity/packer-template.json`), with the differences kiln makes on
/// purpose (each also in docs/compatibility.md): kiln generates the key
/// pair and imports its public half (`ImportKeyPair`) where packer has CVM
/// make one and send the private key back (`CreateKeyPair`), and looks up
/// its id (`DescribeKeyPairs`) after the import and before deleting it;
/// it tags the copy with the run tags (`TagResources`); in cleanup it
/// waits until the terminated instance is gone (`DescribeInstances`)
/// before deleting its security group and network; and once the build
/// succeeded it takes the run tags off the images (`UnTagResources` in
/// each region), which `kiln cleanup` would otherwise find.
fn expected_actions() -> Vec<String> {
    let mut want = Vec::new();
    for line in tencentcloud_fake::recorded_actions("packer-1.6.6-actions.txt") {
        match line.as_str() {
            "cvm CreateKeyPair ap-guangzhou" => {
                want.push("cvm ImportKeyPair ap-guangzhou".into());
                want.push("cvm DescribeKeyPairs ap-guangzhou".into());
            }
            "cvm SyncImages ap-guangzhou" => {
                want.push(line);
                want.push("tag TagResources ap-shanghai".into());
            }
            "cvm TerminateInstances ap-guangzhou" => {
                want.push(line);
                want.push("cvm DescribeInstances ap-guangzhou".into());
            }
            "cvm DeleteKeyPairs ap-guangzhou" => {
                want.push("cvm DescribeKeyPairs ap-guangzhou".into());
                want.push(line);
            }
            _ => want.push(line),
        }
    }
    want.push("tag UnTagResources ap-guangzhou".into());
    want.push("tag UnTagResources ap-shanghai".into());
    want
}

#[test]
fn a_build_provisions_over_ssh_shares_copies_and_leaves_only_the_images() {
    let fake = TencentcloudFake::start();
    let sshd = fake.sshd();
    let d = dir();
    let (r, all) = build(
        &d,
        &template(&fake, fake.secret_key(), sshd.port),
        &fake.endpoint(),
    );
    assert_provisioned(&r, &all, "tencentcloud-cvm: hi", &fake.log());

    // Packer 1.6.6's lines (fidelity/packer-1.6.6-output.txt), in its order.
    assert_in_order(
        &r.stdout,
        [
            "==> tencentcloud-cvm: Trying to check image name: kiln-tencentcloud-e2e...",
            "    tencentcloud-cvm: Image name: useable",
            "==> tencentcloud-cvm: Trying to check source image: img-pi0ii46r...",
            "    tencentcloud-cvm: Image found: Ubuntu Server 18.04.1 LTS 64位",
            "==> tencentcloud-cvm: Trying to create a new keypair: packer_",
            "    tencentcloud-cvm: Keypair created: skey-",
            "==> tencentcloud-cvm: Trying to create a new vpc...",
            "    tencentcloud-cvm: Vpc created: vpc-",
            "==> tencentcloud-cvm: Trying to create a new subnet...",
            "    tencentcloud-cvm: Subnet created: subnet-",
            "==> tencentcloud-cvm: Trying to create a new securitygroup...",
            "    tencentcloud-cvm: Securitygroup created: sg-",
            "==> tencentcloud-cvm: Trying to create securitygroup polices...",
            "==> tencentcloud-cvm: Trying to create a new instance...",
            "    tencentcloud-cvm: Waiting for instance ready",
            "    tencentcloud-cvm: Instance created: ins-",
            "    tencentcloud-cvm: hi",
            "==> tencentcloud-cvm: Trying to detach keypair: skey-",
            "    tencentcloud-cvm: Waiting for keypair detached",
            "    tencentcloud-cvm: Keypair detached",
            "==> tencentcloud-cvm: Trying to create a new image: kiln-tencentcloud-e2e...",
            "    tencentcloud-cvm: Waiting for image ready",
            "==> tencentcloud-cvm: Trying to share image to: 100022223333...",
            "    tencentcloud-cvm: Image shared",
            "==> tencentcloud-cvm: Trying to copy image to: ap-shanghai...",
            "    tencentcloud-cvm: Waiting for image ready",
            "==> tencentcloud-cvm: Cleaning up instance...",
            "==> tencentcloud-cvm: Cleaning up securitygroup...",
            "==> tencentcloud-cvm: Cleaning up subnet...",
            "==> tencentcloud-cvm: Cleaning up vpc...",
            "==> tencentcloud-cvm: Cleaning up keypair...",
        ],
    );

    // The images, in both regions, are the artifact: shared (the build
    // region's), without kiln's run tags.
    let res = fake.resources();
    let images = rows(&res, "image");
    assert_eq!(images.len(), 2, "{res:#}");
    let image = |region: &str| {
        images
            .iter()
            .find(|i| i["Region"] == region)
            .unwrap_or_else(|| panic!("no image in {region}: {res:#}"))
    };
    let (gz, sh) = (image("ap-guangzhou"), image("ap-shanghai"));
    let id = |i: &Value| i["ImageId"].as_str().unwrap().to_string();
    assert!(
        all.contains(&format!(
            "Tencentcloud images(ap-guangzhou: {}\nap-shanghai: {}) were created:",
            id(gz),
            id(sh)
        )),
        "{all}"
    );
    for i in [gz, sh] {
        assert_eq!(i["ImageState"], "NORMAL", "{i:#}");
        assert_eq!(i["ImageName"], "kiln-tencentcloud-e2e");
        assert_eq!(i["Tags"], serde_json::json!({}), "run tags left: {i:#}");
    }
    assert_eq!(gz["shared"], serde_json::json!([SHARE_ACCOUNT]), "{gz:#}");
    assert_none_left(&res, TEMPORARY);

    // The instance carried the template's run tags and kiln's; its system
    // disk the template's type.
    let log = fake.request_log();
    let launch = log
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["action"] == "RunInstances")
        .unwrap();
    let tags = &launch["params"]["TagSpecification"][0]["Tags"];
    let keys: Vec<&str> = tags
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["Key"].as_str().unwrap())
        .collect();
    assert!(
        keys.contains(&"team") && keys.contains(&kiln_sdk::run_tags::RUN),
        "{launch:#}"
    );
    assert_eq!(launch["params"]["SystemDisk"]["DiskType"], "CLOUD_PREMIUM");

    // The same calls as packer 1.6.6, but for the documented differences.
    assert_eq!(fake.normalized_actions(), expected_actions());
}

#[test]
fn wrong_credentials_fail_clearly_create_nothing_and_print_no_secret() {
    let fake = TencentcloudFake::start();
    let d = dir();
    let (r, all) = build(
        &d,
        &template(&fake, "not-the-secret-key", 22),
        &fake.endpoint(),
    );
    assert_bad_credentials(
        &r,
        &all,
        "AuthFailure.SignatureFailure",
        "`secret_id` and `secret_key`",
        "not-the-secret-key",
    );
    assert_none_left(&fake.resources(), TEMPORARY.into_iter().chain(["image"]));
    let actions: Vec<String> = fake.requests().iter().map(|q| q.action.clone()).collect();
    assert_eq!(actions, ["DescribeZones"]);
}

#[test]
fn the_secret_key_appears_nowhere_in_the_output() {
    let fake = TencentcloudFake::start();
    let sshd = fake.sshd();
    assert_logged_build_hides(
        &dir(),
        "tencentcloud.json",
        &template(&fake, fake.secret_key(), sshd.port).to_string(),
        &[("KILN_TENCENTCLOUD_ENDPOINT", &fake.endpoint())],
        fake.secret_key(),
    );
}

#[test]
fn a_failing_provisioner_cleans_up_everything_and_detaches_nothing() {
    let fake = TencentcloudFake::start();
    let sshd = fake.sshd();
    let d = dir();
    let mut t = template(&fake, fake.secret_key(), sshd.port);
    t["provisioners"][0]["inline"] = serde_json::json!(["exit 3"]);
    let (r, all) = build(&d, &t, &fake.endpoint());
    assert_ne!(r.code, 0, "{all}");
    for line in [
        "Cleaning up instance...",
        "Deleting subnet because of cancellation or error...",
        "Deleting vpc because of cancellation or error...",
        "Cleaning up keypair...",
    ] {
        assert!(r.stdout.contains(line), "no `{line}` in:\n{}", r.stdout);
    }
    let res = fake.resources();
    assert_none_left(&res, TEMPORARY.into_iter().chain(["image"]));
    assert!(
        !fake
            .requests()
            .iter()
            .any(|q| q.action == "DisassociateInstancesKeyPairs" || q.action == "CreateImage"),
        "nothing after the provisioner ran"
    );
}

#[test]
fn an_existing_vpc_and_subnet_are_used_and_left_alone() {
    let fake = TencentcloudFake::start();
    let sshd = fake.sshd();
    // The user's VPC and subnet, made through kiln's own client.
    let d = dir();
    let vpc = cvm(&fake);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (vpc_id, subnet_id) = rt.block_on(async {
        use kiln_builder_tencentcloud::cloud::network::{
            NetworkApi, TemporaryNetwork, TemporarySubnet,
        };
        let v = vpc
            .create_network(
                &TemporaryNetwork {
                    name: "users".into(),
                    cidr: "172.16.0.0/16".into(),
                },
                &[],
            )
            .await
            .unwrap();
        let s = vpc
            .create_subnet(
                &v,
                &TemporarySubnet {
                    name: "users".into(),
                    cidr: "172.16.1.0/24".into(),
                    zone: None,
                },
                &[],
            )
            .await
            .unwrap();
        (v, s)
    });
    let mut t = template(&fake, fake.secret_key(), sshd.port);
    t["builders"][0]["image_copy_regions"] = serde_json::json!([]);
    t["builders"][0]["vpc_id"] = vpc_id.clone().into();
    t["builders"][0]["subnet_id"] = subnet_id.clone().into();
    let (r, all) = build(&d, &t, &fake.endpoint());
    assert_eq!(r.code, 0, "{all}");
    assert!(
        all.contains(&format!("Trying to use existing vpc: {vpc_id}...")),
        "{all}"
    );
    let res = fake.resources();
    let vpcs: Vec<&str> = rows(&res, "vpc")
        .iter()
        .map(|v| v["VpcId"].as_str().unwrap())
        .collect();
    assert_eq!(vpcs, [vpc_id.as_str()], "{res:#}");
    assert_eq!(rows(&res, "subnet").len(), 1, "{res:#}");
    assert_none_left(&res, ["instance", "security_group", "key_pair"]);
}

/// Tencent's API for the fault proxy: the action is the `X-TC-Action`
/// header; errors are Tencent's `{"Response": {"Error": …}}` body, HTTP
/// 200 for throttling (as Tencent answers), the status for 5xx.
fn tencent(throttle: &str) -> JsonApi {
    JsonApi {
        action: |r| {
            r.headers
                .get("x-tc-action")
                .and_then(|v| v.to_str().ok())
                .map(String::from)
        },
        throttle: (200, throttle.to_string()),
        error: |_| "InternalError",
        body: |code, message, request_id| {
            serde_json::json!({"Response": {
                "Error": {"Code": code, "Message": message},
                "RequestId": request_id,
            }})
        },
        content_type: "application/json",
    }
}

/// A build without SSH: the network, the instance and the image, nothing
/// copied or shared.
fn fault_template(fake: &TencentcloudFake) -> Value {
    serde_json::json!({
        "builders": [{
            "type": "tencentcloud-cvm",
            "secret_id": fake.secret_id(),
            "secret_key": fake.secret_key(),
            "region": "ap-guangzhou",
            "zone": "ap-guangzhou-3",
            "instance_type": "S5.MEDIUM2",
            "source_image_id": SOURCE_IMAGE,
            "image_name": "kiln-tencentcloud-faults",
            "communicator": "none"
        }]
    })
}

/// The fault matrix on Tencent: each case on its own fake and proxy, the
/// build without SSH; one that succeeds made exactly one image.
struct Faults;

impl FaultCloud for Faults {
    type Fake = TencentcloudFake;
    const TEMPORARY: &'static [&'static str] = &TEMPORARY;
    const BUILT: &'static [(&'static str, usize)] = &[("image", 1)];

    fn start(&self) -> (TencentcloudFake, String) {
        let fake = TencentcloudFake::start();
        let endpoint = fake.endpoint();
        (fake, endpoint)
    }

    fn dialect(&self, throttle: &'static str) -> JsonApi {
        tencent(throttle)
    }

    fn build(&self, fake: &TencentcloudFake, d: &TestDir, endpoint: &str) -> (Run, String) {
        build(d, &fault_template(fake), endpoint)
    }

    fn resources(&self, fake: &TencentcloudFake) -> Value {
        fake.resources()
    }

    fn secret<'a>(&self, fake: &'a TencentcloudFake) -> &'a str {
        fake.secret_key()
    }
}

/// The creating calls the matrix hits.
const CREATES: [&str; 5] = [
    "RunInstances",
    "CreateVpc",
    "CreateSecurityGroup",
    "ImportKeyPair",
    "CreateImage",
];

#[test]
fn tencents_throttling_on_creating_calls_is_retried_and_leaves_nothing() {
    let throttles = [
        "RequestLimitExceeded",
        "RequestLimitExceeded.UinLimitExceeded",
    ];
    fault_matrix(&Faults, FaultCase::throttling(&CREATES, &throttles));
}

#[test]
fn errors_resets_and_lost_replies_on_creating_calls_leave_nothing() {
    let mut cases = FaultCase::transient(&CREATES, "RequestLimitExceeded");
    // A fault that does not stop: the build gives up, clearly, and
    // cleans up.
    cases.push(FaultCase {
        action: "CreateImage",
        fault: kiln_test::fault_proxy::Fault::Status(503),
        throttle: "RequestLimitExceeded",
        limit: None,
    });
    fault_matrix(&Faults, cases);
}

#[test]
fn the_fakes_own_fault_hook_throttles_the_detach_and_the_build_still_succeeds() {
    let fake = TencentcloudFake::start();
    let sshd = fake.sshd();
    fake.fail(
        "DisassociateInstancesKeyPairs",
        "RequestLimitExceeded.IPLimitExceeded",
        2,
    );
    let d = dir();
    let mut t = template(&fake, fake.secret_key(), sshd.port);
    t["builders"][0]["image_copy_regions"] = serde_json::json!([]);
    let (r, all) = build(&d, &t, &fake.endpoint());
    assert_eq!(r.code, 0, "{all}");
    assert_eq!(fake.faults_fired("DisassociateInstancesKeyPairs"), 2);
    assert_none_left(&fake.resources(), TEMPORARY);
}

/// `kiln cleanup` with `args` against the fake.
fn cleanup(d: &TestDir, fake: &TencentcloudFake, args: &[&str]) -> Run {
    kiln_cleanup(
        d,
        args,
        &[
            ("TENCENTCLOUD_SECRET_ID", fake.secret_id()),
            ("TENCENTCLOUD_SECRET_KEY", fake.secret_key()),
            ("KILN_TENCENTCLOUD_ENDPOINT", &fake.endpoint()),
        ],
    )
}

#[test]
fn cleanup_deletes_what_a_sigkilled_tencentcloud_build_left_and_nothing_else() {
    let fake = TencentcloudFake::start();
    let sshd = fake.sshd();
    let d = dir();
    let marker = crate::cleanup::sleep_marker(11);
    let mut t = template(&fake, fake.secret_key(), sshd.port);
    t["builders"][0]["name"] = "killed".into();
    t["builders"][0]["image_copy_regions"] = serde_json::json!([]);
    let run_file = d.path().join("run.txt");
    t["provisioners"] = serde_json::json!([{"type": "shell", "inline": [
        format!("echo {{{{ build `PackerRunUUID` }}}} > {}", run_file.display()),
        format!("sleep {marker}"),
    ]}]);
    let path = d.write("killed.json", &t.to_string());
    let endpoint = fake.endpoint();
    let uuid = crate::cleanup::build_and_kill(
        &d,
        &path,
        &[("KILN_TENCENTCLOUD_ENDPOINT", endpoint.as_str())],
        &marker,
    );
    assert_eq!(uuid.len(), 36, "not a UUID: {uuid}");

    // What the killed build left: everything it makes before provisioning,
    // each carrying the run.
    let res = fake.resources();
    for kind in TEMPORARY {
        let r = rows(&res, kind);
        assert_eq!(r.len(), 1, "{kind}: {res:#}");
        assert_eq!(r[0]["Tags"]["kiln:run"], uuid.as_str(), "{kind}: {res:#}");
    }
    // Another run's VPC is not this run's.
    let other = cvm(&fake);
    let other_vpc = tokio::runtime::Runtime::new().unwrap().block_on(async {
        use kiln_builder_tencentcloud::cloud::network::{NetworkApi, TemporaryNetwork};
        other
            .create_network(
                &TemporaryNetwork {
                    name: "other".into(),
                    cidr: "192.168.0.0/16".into(),
                },
                &[("kiln:run".to_string(), "another-run".to_string())],
            )
            .await
            .unwrap()
    });

    let args = [
        "-run",
        uuid.as_str(),
        "-cloud",
        "tencentcloud",
        "-region",
        "ap-guangzhou",
    ];
    let r = cleanup(&d, &fake, &args);
    assert_cleanup_deleted(&r, 5, &uuid, "tencentcloud (ap-guangzhou)");
    let res = fake.resources();
    assert_none_left(&res, ["instance", "subnet", "security_group", "key_pair"]);
    let vpcs: Vec<&str> = rows(&res, "vpc")
        .iter()
        .map(|v| v["VpcId"].as_str().unwrap())
        .collect();
    assert_eq!(vpcs, [other_vpc.as_str()], "{res:#}");

    // A second cleanup finds nothing.
    let r = cleanup(&d, &fake, &args);
    assert_cleanup_found_nothing(&r, &uuid, "tencentcloud (ap-guangzhou)");
}

#[test]
fn cleanup_leaves_the_images_of_a_successful_tencentcloud_build() {
    let fake = TencentcloudFake::start();
    let sshd = fake.sshd();
    let d = dir();
    let run_file = d.path().join("run.txt");
    let mut t = template(&fake, fake.secret_key(), sshd.port);
    t["provisioners"][0]["inline"] = serde_json::json!([format!(
        "echo {{{{ build `PackerRunUUID` }}}} > {}",
        run_file.display()
    )]);
    let (r, all) = build(&d, &t, &fake.endpoint());
    assert_eq!(r.code, 0, "{all}");
    assert_cleanup_leaves_a_success(
        &run_file,
        "tencentcloud",
        "ap-guangzhou,ap-shanghai",
        |args| cleanup(&d, &fake, args),
    );
    assert_eq!(rows(&fake.resources(), "image").len(), 2);
}
