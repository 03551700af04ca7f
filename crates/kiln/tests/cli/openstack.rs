//! `kiln build` with the openstack builder against a REAL OpenStack
//! (`scripts/openstack.sh`: Keystone, Glance, Placement, Nova, Neutron from
//! Debian's packages, started once and shared by these tests,
//! `kiln_test::openstack`). Two parts of that cloud are stand-ins: Nova's
//! compute driver (the fake driver; a snapshot copies the source image)
//! and the ML2 driver that binds ports without an agent. Every API the
//! builder calls is the real service.
//!
//! The servers boot nothing, so a loopback sshd plays them (`ssh_host`),
//! its `AuthorizedKeysCommand` trusting the key pairs of ACTIVE servers as
//! cloud-init would. The tests check what a build leaves in the tests'
//! project (`inventory.py`), and compare kiln with packer 1.6.6's own
//! openstack builder on the same template and cloud.

use std::collections::BTreeSet;

use kiln_test::openstack::OpenStack;
use kiln_test::sshd;
use serde_json::Value;

use crate::support::*;

/// One test at a time: they share the tests' project, and each compares
/// what the project holds before and after its builds.
pub(crate) fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

/// The kinds of resources a build makes for itself and must not leave.
const TEMPORARY: [&str; 5] = ["servers", "ports", "floating_ips", "keypairs", "volumes"];

/// The template: the `tiny` image on `m1.tiny`, the network found by its
/// CIDR, a new floating IP on `public`, the image tagged, shared and with
/// a minimum disk, provisioned over SSH at the sshd's `port`.
fn template(os: &OpenStack, image: &str, port: u16, member: &str) -> Value {
    serde_json::json!({
        "builders": [{
            "type": "openstack",
            "identity_endpoint": os.var("OS_AUTH_URL"),
            "username": os.var("OS_USERNAME"),
            "password": os.var("OS_PASSWORD"),
            "tenant_name": os.var("OS_PROJECT_NAME"),
            "domain_name": "Default",
            "region": os.var("OS_REGION_NAME"),
            "flavor": "m1.tiny",
            "source_image_name": "tiny",
            "network_discovery_cidrs": ["10.99.0.0/16"],
            "floating_ip_network": "public",
            "image_name": image,
            "image_tags": ["kiln", "e2e"],
            "image_visibility": "shared",
            "image_members": [member],
            "image_min_disk": 2,
            "ssh_host": "127.0.0.1",
            "ssh_port": port,
            "ssh_username": sshd::current_user(),
            "ssh_timeout": "60s"
        }],
        "provisioners": [{"type": "shell", "inline": ["echo provisioned-on-openstack"]}]
    })
}

/// A name no other test run uses.
fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid_like())
}

fn uuid_like() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let n = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{:x}{:x}", n, std::process::id())
}

/// The rows of `kind` in `inv`.
fn rows<'a>(inv: &'a Value, kind: &str) -> &'a [Value] {
    inv[kind].as_array().map(Vec::as_slice).unwrap_or_default()
}

/// The ids (or names) of `kind` in `inv`.
fn ids(inv: &Value, kind: &str) -> BTreeSet<String> {
    rows(inv, kind)
        .iter()
        .map(|r| {
            r["id"]
                .as_str()
                .or_else(|| r["name"].as_str())
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

/// Nothing of `TEMPORARY` in `after` that `before` did not have.
fn assert_nothing_left(before: &Value, after: &Value, all: &str) {
    for kind in TEMPORARY {
        let left: Vec<_> = ids(after, kind)
            .difference(&ids(before, kind))
            .cloned()
            .collect();
        assert!(left.is_empty(), "the build left {kind} {left:?}:\n{all}");
    }
}

/// The image named `name` in `inv`.
fn image<'a>(inv: &'a Value, name: &str) -> Option<&'a Value> {
    rows(inv, "images")
        .iter()
        .find(|i| i["name"].as_str() == Some(name))
}

/// Deletes the image `id` (test cleanup), as the tests' user.
fn delete_image(os: &OpenStack, id: &str) {
    os.python(&format!(
        "import openstack; openstack.connect().image.delete_image('{id}', ignore_missing=True)"
    ));
}

/// Runs `kiln build` on `template` in a fresh directory.
fn kiln_build(template: &Value) -> (Run, String) {
    let d = dir();
    run_both(kiln_on(
        &d,
        "openstack.json",
        &template.to_string(),
        &["build"],
    ))
}

/// Runs packer 1.6.6's `build` on `template` in a fresh directory.
fn packer_build(packer: &std::path::Path, template: &Value) -> (Run, String) {
    let d = dir();
    std::fs::write(d.path().join("openstack.json"), template.to_string()).unwrap();
    let mut c = std::process::Command::new(packer);
    c.current_dir(d.path())
        .args(["build", "openstack.json"])
        .env("CHECKPOINT_DISABLE", "1")
        .env_remove("PACKER_LOG");
    run_both(c)
}

#[test]
fn a_build_provisions_over_ssh_makes_the_image_and_leaves_nothing_else() {
    let _one = one_at_a_time();
    let os = OpenStack::shared();
    let sshd = os.sshd();
    let member = os.project_id("kiln-other");
    let name = unique("kiln-os-e2e");
    let before = os.inventory();
    let (r, all) = kiln_build(&template(os, &name, sshd.port, &member));
    let after = os.inventory();
    assert_eq!(r.code, 0, "{all}");
    assert!(all.contains("openstack: provisioned-on-openstack"), "{all}");
    assert_in_order(
        &all,
        [
            "==> openstack: Loading flavor: m1.tiny",
            "    openstack: Verified flavor. ID: ",
            "==> openstack: Creating temporary keypair: packer_",
            "    openstack: Found Image ID: ",
            "==> openstack: Discovering provisioning network...",
            "    openstack: Found network ID: ",
            "==> openstack: Launching server...",
            "    openstack: Server ID: ",
            "==> openstack: Waiting for server to become ready...",
            "==> openstack: Creating floating IP using network ",
            "    openstack: Created floating IP: '",
            "==> openstack: Associating floating IP '",
            "    openstack: Added floating IP '",
            "==> openstack: Connected to SSH!",
            "==> openstack: Stopping server: ",
            "==> openstack: Creating the image: ",
            "    openstack: Image: ",
            &format!("==> openstack: Waiting for image {name} (image id: "),
            "==> openstack: Updating image tags to kiln, e2e",
            "==> openstack: Updating image visibility to shared",
            &format!("==> openstack: Adding member '{member}' to image "),
            "==> openstack: Updating image min disk to 2",
            "==> openstack: Deleted temporary floating IP '",
            "==> openstack: Terminating the source server: ",
            "==> openstack: Deleting temporary keypair: packer_",
            "--> openstack: An image was created: ",
        ],
    );
    assert_nothing_left(&before, &after, &all);
    let img = image(&after, &name).unwrap_or_else(|| panic!("no image {name}: {after}"));
    let id = img["id"].as_str().unwrap().to_string();
    assert_eq!(img["status"], "active", "{img}");
    assert_eq!(img["visibility"], "shared", "{img}");
    assert_eq!(img["tags"], serde_json::json!(["e2e", "kiln"]), "{img}");
    assert_eq!(img["min_disk"], 2, "{img}");
    assert_eq!(
        img["members"],
        serde_json::json!([[member, "pending"]]),
        "{img}"
    );
    // The run tags, which found the image of a lost create, are off the
    // finished image.
    assert_eq!(
        img["properties"],
        serde_json::json!({"image_type": "image"}),
        "{img}"
    );
    assert!(
        all.contains(&format!("--> openstack: An image was created: {id}")),
        "{all}"
    );
    assert!(
        !all.contains(os.var("OS_PASSWORD")),
        "the password was printed"
    );
    delete_image(os, &id);
}

#[test]
fn packer_1_6_6_builds_the_same_template_against_the_same_cloud_with_the_same_result() {
    let packer = kiln_test::require_packer();
    let _one = one_at_a_time();
    let os = OpenStack::shared();
    let sshd = os.sshd();
    let member = os.project_id("kiln-other");
    let (kiln_name, packer_name) = (unique("kiln-os-diff"), unique("packer-os-diff"));

    let before = os.inventory();
    let (r, kiln_all) = kiln_build(&template(os, &kiln_name, sshd.port, &member));
    assert_eq!(r.code, 0, "{kiln_all}");
    let after_kiln = os.inventory();

    let (p, packer_all) = packer_build(&packer, &template(os, &packer_name, sshd.port, &member));
    let after_packer = os.inventory();
    assert_eq!(p.code, 0, "packer failed:\n{packer_all}");
    assert!(
        packer_all.contains("openstack: provisioned-on-openstack"),
        "{packer_all}"
    );

    // The same resources made and deleted: each leaves one image, and
    // nothing else.
    assert_nothing_left(&before, &after_kiln, &kiln_all);
    assert_nothing_left(&after_kiln, &after_packer, &packer_all);
    let (k, p) = (
        image(&after_packer, &kiln_name)
            .expect("kiln's image")
            .clone(),
        image(&after_packer, &packer_name)
            .expect("packer's image")
            .clone(),
    );
    for field in [
        "status",
        "visibility",
        "tags",
        "min_disk",
        "members",
        "properties",
    ] {
        assert_eq!(k[field], p[field], "{field}: kiln {k} packer {p}");
    }

    // The same steps, in the same order, in the same words (but the
    // documented differences: kiln imports its key pair where packer has
    // Nova make one, so packer's `Created temporary keypair` is kiln's
    // too, and kiln says the floating IP step's detail lines alike).
    let lines = [
        "==> openstack: Loading flavor: m1.tiny",
        "    openstack: Verified flavor. ID: ",
        "==> openstack: Creating temporary keypair: packer_",
        "==> openstack: Created temporary keypair: packer_",
        "    openstack: Found Image ID: ",
        "==> openstack: Discovering provisioning network...",
        "    openstack: Found network ID: ",
        "==> openstack: Launching server...",
        "    openstack: Server ID: ",
        "==> openstack: Waiting for server to become ready...",
        "==> openstack: Creating floating IP using network ",
        "    openstack: Created floating IP: '",
        "==> openstack: Associating floating IP '",
        "    openstack: Added floating IP '",
        "==> openstack: Provisioning with shell script: ",
        "==> openstack: Stopping server: ",
        "==> openstack: Creating the image: ",
        "    openstack: Image: ",
        "==> openstack: Waiting for image ",
        "==> openstack: Updating image tags to kiln, e2e",
        "==> openstack: Updating image visibility to shared",
        "==> openstack: Adding member '",
        "==> openstack: Updating image min disk to 2",
        "==> openstack: Deleted temporary floating IP '",
        "==> openstack: Terminating the source server: ",
        "==> openstack: Deleting temporary keypair: packer_",
        "--> openstack: An image was created: ",
    ];
    assert_in_order(&packer_all, lines);
    assert_in_order(&kiln_all, lines);
    for name in [kiln_name, packer_name] {
        if let Some(i) = image(&after_packer, &name) {
            delete_image(os, i["id"].as_str().unwrap());
        }
    }
}

/// `use_blockstorage_volume`: the server boots from a Cinder volume made
/// from the source image; the stopped server's volume is released and
/// uploaded as the image (Cinder's `os-volume_upload_image`), and the
/// volume is deleted. This Cinder has the fix for CVE-2023-2088, as every
/// supported release since 2023: it refuses the `os-detach` of a volume Nova
/// attached, so packer 1.6.6 (and today's plugin, which detaches the same
/// way) fails there, cleaning up; kiln terminates the stopped server to
/// release the volume and makes the image.
#[test]
fn a_volume_backed_build_makes_its_image_where_packer_1_6_6_cannot_detach_the_volume() {
    let packer = kiln_test::require_packer();
    let _one = one_at_a_time();
    let os = OpenStack::shared();
    let sshd = os.sshd();
    let member = os.project_id("kiln-other");
    let (kiln_name, packer_name) = (unique("kiln-os-vol"), unique("packer-os-vol"));
    let volume_backed = |name: &str| {
        let mut t = template(os, name, sshd.port, &member);
        let b = t["builders"][0].as_object_mut().unwrap();
        b.insert("use_blockstorage_volume".into(), true.into());
        b.insert("volume_size".into(), 1.into());
        b.insert("image_disk_format".into(), "raw".into());
        t
    };
    let before = os.inventory();
    let (r, kiln_all) = kiln_build(&volume_backed(&kiln_name));
    let after_kiln = os.inventory();
    assert_eq!(r.code, 0, "{kiln_all}");
    assert_nothing_left(&before, &after_kiln, &kiln_all);
    assert_in_order(
        &kiln_all,
        [
            "    openstack: Found Image ID: ",
            "==> openstack: Creating volume...",
            "==> openstack: Waiting for volume ",
            "    openstack: Volume ID: ",
            "==> openstack: Launching server...",
            "==> openstack: Waiting for server to become ready...",
            "    openstack: provisioned-on-openstack",
            "==> openstack: Stopping server: ",
            "==> openstack: Detaching volume ",
            "==> openstack: Cinder refuses to detach a volume Nova attached: terminating the stopped server ",
            "==> openstack: Waiting for volume ",
            "==> openstack: Creating the image: ",
            "==> openstack: Waiting for image ",
            "==> openstack: Terminating the source server: ",
            "==> openstack: Deleting volume: ",
            "--> openstack: An image was created: ",
        ],
    );
    // The image holds the volume's bytes: the source image's, as the
    // stand-in volume driver copies them both ways.
    let built = image(&after_kiln, &kiln_name)
        .unwrap_or_else(|| panic!("no image {kiln_name}: {after_kiln}\n{kiln_all}"))
        .clone();
    let source_size =
        os.python("import openstack; print(openstack.connect().image.find_image('tiny').size)");
    assert_eq!(built["status"], "active", "{built}");
    assert_eq!(built["disk_format"], "raw", "{built}");
    assert_eq!(built["size"].to_string(), source_size.trim(), "{built}");
    assert_eq!(built["tags"], serde_json::json!(["e2e", "kiln"]), "{built}");
    assert_eq!(built["min_disk"], 2, "{built}");

    let (p, packer_all) = packer_build(&packer, &volume_backed(&packer_name));
    let after_packer = os.inventory();
    assert_eq!(p.code, 1, "packer 1.6.6 succeeded:\n{packer_all}");
    assert!(
        packer_all.contains("Error detaching block storage volume")
            && packer_all.contains("but got 409 instead"),
        "{packer_all}"
    );
    assert_nothing_left(&after_kiln, &after_packer, &packer_all);
    assert!(
        image(&after_packer, &packer_name).is_none(),
        "{after_packer}"
    );
    delete_image(os, built["id"].as_str().unwrap());
}

#[test]
fn reuse_ips_takes_a_free_floating_ip_and_keeps_it() {
    let _one = one_at_a_time();
    let os = OpenStack::shared();
    let sshd = os.sshd();
    // A free floating IP of the project, made by hand.
    let text = os.python(
        "import openstack; c = openstack.connect(); n = c.network.find_network('public'); \
         f = c.network.create_ip(floating_network_id=n.id); print(f.id, f.floating_ip_address)",
    );
    let (fip, address) = text.trim().split_once(' ').expect("id and address");
    let name = unique("kiln-os-reuse");
    let mut t = template(os, &name, sshd.port, &os.project_id("kiln-other"));
    let b = t["builders"][0].as_object_mut().unwrap();
    b.remove("floating_ip_network");
    b.insert("reuse_ips".into(), true.into());
    b.insert("skip_create_image".into(), true.into());
    let before = os.inventory();
    let (r, all) = kiln_build(&t);
    let after = os.inventory();
    assert_eq!(r.code, 0, "{all}");
    // Some free floating IP (another test's may be free too) was used,
    // and no floating IP was made or released.
    assert!(
        all.contains("==> openstack: Searching for unassociated floating IP"),
        "{all}"
    );
    assert!(
        all.contains("    openstack: Selected floating IP: '"),
        "{all}"
    );
    assert!(!all.contains("Deleted temporary floating IP"), "{all}");
    assert!(
        all.contains("==> openstack: Skipping image creation..."),
        "{all}"
    );
    assert!(
        ids(&after, "floating_ips").contains(fip),
        "the reused floating IP {fip} ({address}) was kept: {after}"
    );
    assert!(
        image(&after, &name).is_none(),
        "skip_create_image made an image"
    );
    for kind in ["servers", "keypairs"] {
        assert!(
            ids(&after, kind).is_subset(&ids(&before, kind)),
            "left {kind}: {all}"
        );
    }
    os.python(&format!(
        "import openstack; openstack.connect().network.delete_ip('{fip}')"
    ));
}

/// `external_source_image_url`: Glance's web-download import fetches the
/// source from an HTTP server on loopback into a temporary image, the
/// server boots from it, and the temporary image is deleted after the
/// build (packer 1.6.6 has no such key: today's plugin's flow and words).
#[test]
fn external_source_image_url_imports_a_temporary_source_and_deletes_it() {
    let _one = one_at_a_time();
    let os = OpenStack::shared();
    let sshd = os.sshd();
    let served = kiln_test::http::serve(
        "/external-source.img",
        "application/octet-stream",
        "kiln external source image bytes",
    );
    let name = unique("kiln-os-external");
    let mut t = template(os, &name, sshd.port, &os.project_id("kiln-other"));
    let b = t["builders"][0].as_object_mut().unwrap();
    b.remove("source_image_name");
    b.insert("external_source_image_url".into(), served.url().into());
    b.insert("external_source_image_format".into(), "raw".into());
    b.insert(
        "external_source_image_properties".into(),
        serde_json::json!({"os_distro": "kiln-external"}),
    );
    let before = os.inventory();
    let (r, all) = kiln_build(&t);
    let after = os.inventory();
    assert_eq!(r.code, 0, "{all}");
    assert_in_order(
        &all,
        [
            "==> openstack: Creating image using external source image with name ".to_string(),
            "==> openstack: Using disk format raw".to_string(),
            "==> openstack: Created image with ID ".to_string(),
            format!(
                "==> openstack: Importing External Source Image from URL {}",
                served.url()
            ),
            "==> openstack: Launching server...".to_string(),
            "    openstack: provisioned-on-openstack".to_string(),
            "==> openstack: Deleting temporary external source image: ".to_string(),
        ],
    );
    let fetched = served.requests();
    assert!(
        fetched
            .iter()
            .any(|r| r.starts_with("GET /external-source.img ")),
        "Glance did not fetch the source: {fetched:?}\n{all}"
    );
    assert_nothing_left(&before, &after, &all);
    // The only new image is the build's own: the temporary one is gone.
    let new_images: Vec<String> = ids(&after, "images")
        .difference(&ids(&before, "images"))
        .cloned()
        .collect();
    let built = image(&after, &name).unwrap_or_else(|| panic!("no image {name}: {all}"));
    let built_id = built["id"].as_str().unwrap().to_string();
    assert_eq!(
        new_images,
        std::slice::from_ref(&built_id),
        "{after}\n{all}"
    );
    delete_image(os, &built_id);
}

#[test]
fn bad_credentials_and_a_wrong_domain_fail_clearly_before_anything_is_made() {
    let _one = one_at_a_time();
    let os = OpenStack::shared();
    let before = os.inventory();
    for (key, value) in [
        ("password", "not-the-password"),
        ("domain_name", "NoSuchDomain"),
    ] {
        let mut t = template(os, &unique("kiln-os-bad"), 22, "x");
        t["builders"][0][key] = value.into();
        let (r, all) = kiln_build(&t);
        assert_ne!(r.code, 0, "{all}");
        assert!(all.contains("Error initializing compute client"), "{all}");
        assert!(
            all.contains("Keystone") && all.contains("Unauthorized"),
            "{all}"
        );
        assert!(
            all.contains("check the credentials"),
            "the error says what to check: {all}"
        );
        assert!(
            !all.contains("not-the-password"),
            "the password was printed: {all}"
        );
        assert!(
            !all.contains(os.var("OS_PASSWORD")),
            "the password was printed: {all}"
        );
    }
    let after = os.inventory();
    assert_nothing_left(&before, &after, "");
}

#[test]
fn ctrl_c_at_every_step_leaves_nothing() {
    let _one = one_at_a_time();
    let os = OpenStack::shared();
    let sshd = os.sshd();
    let member = os.project_id("kiln-other");
    let before = os.inventory();
    let prefix = unique("kiln-os-ctrl-c");
    let interrupted = ctrl_c_at_every_step(
        30,
        |n| {
            let d = dir();
            let t = template(os, &format!("{prefix}-{n}"), sshd.port, &member);
            let mut c = kiln_on(&d, "openstack.json", &t.to_string(), &["build"]);
            c.env("KILN_TEST_SIGNAL_AT_STEP", n.to_string());
            (d, run(c))
        },
        |context, _, r| {
            let after = os.inventory();
            assert_nothing_left(&before, &after, &format!("{context}\n{}", r.stdout));
            let images: Vec<&Value> = rows(&after, "images")
                .iter()
                .filter(|i| i["name"].as_str().is_some_and(|n| n.starts_with(&prefix)))
                .collect();
            assert!(
                images.is_empty(),
                "{context}: left {images:?}\n{}",
                r.stdout
            );
        },
        |_, r| {
            assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
            let after = os.inventory();
            for i in rows(&after, "images") {
                if i["name"].as_str().is_some_and(|n| n.starts_with(&prefix)) {
                    delete_image(os, i["id"].as_str().unwrap());
                }
            }
        },
    );
    assert_interrupted_at(
        &interrupted,
        &[
            "StepLoadFlavor",
            "StepKeyPair",
            "StepSourceImageInfo",
            "StepDiscoverNetwork",
            "StepRunSourceServer",
            "StepAllocateIp",
            "StepConnect",
            "StepProvision",
            "StepCleanupTempKeys",
            "StepStopServer",
            "stepCreateImage",
            "stepUpdateImageTags",
            "stepUpdateImageVisibility",
            "stepAddImageMembers",
            "stepUpdateImageMinDisk",
        ],
    );
}

#[test]
fn a_build_failing_after_the_image_deletes_the_image_and_everything_else() {
    let _one = one_at_a_time();
    let os = OpenStack::shared();
    let sshd = os.sshd();
    let name = unique("kiln-os-fail");
    let mut t = template(os, &name, sshd.port, &os.project_id("kiln-other"));
    // Glance refuses a tag longer than 255 characters: the tag update,
    // after the image is made, fails.
    t["builders"][0]["image_tags"] = serde_json::json!(["x".repeat(300)]);
    let before = os.inventory();
    let (r, all) = kiln_build(&t);
    let after = os.inventory();
    assert_ne!(r.code, 0, "{all}");
    assert!(all.contains("Error updating image tags"), "{all}");
    assert!(all.contains("Deleting the image "), "{all}");
    assert_nothing_left(&before, &after, &all);
    assert!(
        image(&after, &name).is_none(),
        "the failed build's image was left: {after}"
    );
}

// ---------------------------------------------------------------------------
// The fault matrix: Keystone's and Nova's endpoints behind fault proxies
// (Nova's reached through clouds.yaml's `compute_endpoint_override`, as
// openstacksdk has it), each case one build of the shared cloud.

/// The operation a request to Keystone or Nova calls, as kiln's client
/// names it.
fn openstack_action(r: &kiln_test::fault_proxy::RequestView<'_>) -> Option<String> {
    let path = r.uri.path();
    let method = r.method.as_str();
    let body = std::str::from_utf8(r.body).unwrap_or_default();
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let name = match (method, segments.as_slice()) {
        ("POST", [.., "auth", "tokens"]) => "CreateToken",
        ("POST", [.., "os-keypairs"]) => "CreateKeypair",
        ("DELETE", [.., "os-keypairs", _]) => "DeleteKeypair",
        ("POST", [.., "servers"]) => "CreateServer",
        ("DELETE", [.., "servers", _]) => "DeleteServer",
        ("GET", [.., "servers", _]) => "ShowServer",
        ("POST", [.., "servers", _, "action"]) if body.contains("createImage") => {
            "CreateServerImage"
        }
        ("POST", [.., "servers", _, "action"]) if body.contains("os-stop") => "StopServer",
        ("GET", [.., "flavors", _]) => "ShowFlavor",
        _ => return Some(format!("{method} {path}")),
    };
    Some(name.to_string())
}

/// A 429 or 5xx reply as Nova words it (Keystone's readers take it too).
fn fault_dialect() -> JsonApi {
    JsonApi {
        action: openstack_action,
        throttle: (429, "overLimit".into()),
        error: |s| {
            if s == 503 {
                "serviceUnavailable"
            } else {
                "computeFault"
            }
        },
        body: |code, message, _id| serde_json::json!({code: {"code": 0, "message": message}}),
        content_type: "application/json",
    }
}

/// `url`'s `host:port`.
fn host_port(url: &str) -> String {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    rest.split('/').next().unwrap().to_string()
}

/// The catalog's public compute endpoint of the tests' user.
fn nova_endpoint(os: &OpenStack) -> String {
    os.python("import openstack; print(openstack.connect().compute.get_endpoint())")
        .trim()
        .to_string()
}

#[test]
fn keystone_and_nova_faults_are_retried_or_fail_cleanly_leaving_nothing() {
    use kiln_test::fault_proxy::{Fault, FaultProxy, Rule};
    let _one = one_at_a_time();
    let os = OpenStack::shared();
    let sshd = os.sshd();
    let nova = nova_endpoint(os);
    let keystone = os.var("OS_AUTH_URL").to_string();
    let kp = FaultProxy::start(
        &format!("http://{}", host_port(&keystone)),
        fault_dialect(),
        7,
        vec![],
    )
    .expect("start Keystone's fault proxy");
    let np = FaultProxy::start(
        &format!("http://{}", host_port(&nova)),
        fault_dialect(),
        7,
        vec![],
    )
    .expect("start Nova's fault proxy");
    let proxied = |url: &str, proxy: &FaultProxy| {
        url.replacen(&host_port(url), &host_port(&proxy.endpoint()), 1)
    };
    let d = dir();
    std::fs::write(
        d.path().join("clouds.yaml"),
        format!(
            "clouds:\n  faulty:\n    auth:\n      auth_url: {}\n      username: {}\n      password: {}\n      project_name: {}\n      user_domain_name: Default\n      project_domain_name: Default\n    region_name: {}\n    compute_endpoint_override: {}\n",
            proxied(&keystone, &kp),
            os.var("OS_USERNAME"),
            os.var("OS_PASSWORD"),
            os.var("OS_PROJECT_NAME"),
            os.var("OS_REGION_NAME"),
            proxied(&nova, &np),
        ),
    )
    .unwrap();
    let member = os.project_id("kiln-other");
    // (proxy, action, fault, at most): a fault that stops is retried and
    // the build makes one image; one that does not stop fails it.
    let cases: Vec<(&FaultProxy, &str, Fault, Option<usize>)> = vec![
        (&kp, "CreateToken", Fault::Throttle, Some(2)),
        (&kp, "CreateToken", Fault::Status(503), Some(1)),
        (&kp, "CreateToken", Fault::Reset, Some(1)),
        (&np, "CreateKeypair", Fault::LostReply, Some(1)),
        (&np, "CreateServer", Fault::Throttle, Some(2)),
        (&np, "CreateServer", Fault::LostReply, Some(1)),
        (&np, "CreateServerImage", Fault::LostReply, Some(1)),
        (&np, "StopServer", Fault::Status(500), Some(1)),
        (&np, "DeleteServer", Fault::Reset, Some(1)),
        (&np, "CreateServer", Fault::Status(500), None),
        (&np, "CreateServerImage", Fault::Status(503), None),
    ];
    for (proxy, action, fault, limit) in cases {
        let label = format!("{fault:?} on {action} (at most {limit:?} times)");
        let mut rule = Rule::new(fault.clone()).on(&[action]);
        if let Some(n) = limit {
            rule = rule.limit(n);
        }
        kp.set_rules(vec![]);
        np.set_rules(vec![]);
        proxy.set_rules(vec![rule]);
        let name = unique("kiln-os-fault");
        let mut t = template(os, &name, sshd.port, &member);
        let b = t["builders"][0].as_object_mut().unwrap();
        for k in [
            "identity_endpoint",
            "username",
            "password",
            "tenant_name",
            "domain_name",
            "region",
        ] {
            b.remove(k);
        }
        b.insert("cloud".into(), "faulty".into());
        let before = os.inventory();
        let mut c = kiln_on(&d, "openstack.json", &t.to_string(), &["build"]);
        c.env("OS_CLIENT_CONFIG_FILE", d.path().join("clouds.yaml"));
        let (r, all) = run_both(c);
        let after = os.inventory();
        assert!(
            proxy.fired_on(action, fault.kind()) >= 1,
            "{label}: the fault never fired\n{}",
            proxy.summary()
        );
        assert_nothing_left(&before, &after, &format!("{label}: {all}"));
        let new_images: Vec<&Value> = rows(&after, "images")
            .iter()
            .filter(|i| i["name"].as_str() == Some(name.as_str()))
            .collect();
        if limit.is_some() {
            assert_eq!(r.code, 0, "{label}: {all}\n{}", proxy.summary());
            assert_eq!(new_images.len(), 1, "{label}: one image, not two: {after}");
            delete_image(os, new_images[0]["id"].as_str().unwrap());
        } else {
            assert_ne!(r.code, 0, "{label}: {all}");
            let words = match action {
                "CreateServer" => "Error launching source server",
                "CreateServerImage" => "Error creating image",
                other => other,
            };
            assert!(
                all.contains(words),
                "{label}: the error names the call: {all}"
            );
            assert!(
                new_images.is_empty(),
                "{label}: a failed build left its image: {after}"
            );
        }
        assert!(
            !all.contains(os.var("OS_PASSWORD")),
            "{label}: the password was printed"
        );
    }
}
