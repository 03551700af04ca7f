//! The `sbom` provisioner through the `kiln` binary on real guests:
//!
//! - a docker build of `kiln-test/cm:bookworm` (Debian 12, dpkg), JSON and
//!   HCL2 templates, with a `manifest` post-processor: the SPDX and
//!   CycloneDX files list exactly the packages `dpkg-query` lists in a
//!   container of the same image, both pass the reference validators from
//!   PyPI (spdx-tools' `pyspdxtools`, cyclonedx-python-lib; the venv of
//!   `scripts/install-deps.sh`, `$KILN_SBOM_VENV`: the test fails without
//!   it), and the manifest entry names both under `kiln.attachments`;
//! - the busybox image, which has no package database: the build fails
//!   with the provisioner's message and writes nothing.
//!
//! Each test removes the containers it made (the builds discard theirs).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::docker::{docker_ok, serial, Guard};
use crate::support::*;

/// The validators' venv; the test fails when it is missing.
fn venv() -> PathBuf {
    kiln_test::venv(
        "KILN_SBOM_VENV",
        "sbom-venv",
        &["bin/pyspdxtools", "bin/python"],
        "spdx-tools, cyclonedx-python-lib",
    )
}

/// Asserts that `cmd` succeeds, showing its output when it does not.
fn assert_valid(mut cmd: Command, what: &str) {
    let o = cmd.output().unwrap_or_else(|e| panic!("run {what}: {e}"));
    assert!(
        o.status.success(),
        "{what} rejects the document:\n{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Both documents pass the reference validators.
pub(crate) fn validate(spdx: &Path, cyclonedx: &Path) {
    let venv = venv();
    let mut c = Command::new(venv.join("bin/pyspdxtools"));
    c.arg("-i").arg(spdx);
    assert_valid(c, "pyspdxtools");
    let mut c = Command::new(venv.join("bin/python"));
    c.arg(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../kiln-provisioner-sbom/tests/validate-cyclonedx.py"),
    )
    .arg(cyclonedx);
    assert_valid(c, "cyclonedx-python-lib");
}

/// The installed packages of `image` as `name version arch` lines,
/// sorted, from `dpkg-query` in a fresh container; cross-checked against
/// the count of `ii` lines of `dpkg -l`.
fn real_packages(image: &str) -> Vec<String> {
    let out = docker_ok(&[
        "run",
        "--rm",
        "--entrypoint",
        "/bin/sh",
        image,
        "-c",
        "dpkg-query -W -f='${Package} ${Version} ${Architecture}\\n'; echo \"ii $(dpkg -l | grep -c '^ii')\"",
    ]);
    let mut lines: Vec<String> = out.lines().map(String::from).collect();
    let ii = lines.pop().expect("the ii count");
    lines.sort();
    assert_eq!(ii, format!("ii {}", lines.len()), "{lines:?}");
    assert!(lines.len() > 50, "too few packages: {lines:?}");
    lines
}

pub(crate) fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// The value of qualifier `key` of a package URL.
fn qualifier(purl: &str, key: &str) -> String {
    let q = purl.split_once('?').map(|(_, q)| q).unwrap_or_default();
    q.split('&')
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
        .unwrap_or_default()
        .to_string()
}

/// `name version arch` of each package of an SPDX document (the OS
/// aside), sorted; each must be contained by the OS.
pub(crate) fn spdx_packages(doc: &serde_json::Value) -> Vec<String> {
    let pkgs = doc["packages"].as_array().unwrap();
    assert_eq!(pkgs[0]["primaryPackagePurpose"], "OPERATING-SYSTEM");
    assert_eq!(pkgs[0]["name"], "debian");
    assert_eq!(pkgs[0]["versionInfo"], "12");
    let contained: Vec<&serde_json::Value> = doc["relationships"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["relationshipType"] == "CONTAINS")
        .map(|r| &r["relatedSpdxElement"])
        .collect();
    assert_eq!(contained.len(), pkgs.len() - 1);
    let mut v: Vec<String> = pkgs[1..]
        .iter()
        .map(|p| {
            assert!(contained.contains(&&p["SPDXID"]), "{p}");
            let purl = p["externalRefs"][0]["referenceLocator"].as_str().unwrap();
            assert!(purl.starts_with("pkg:deb/debian/"), "{purl}");
            assert_eq!(qualifier(purl, "distro"), "debian-12");
            format!(
                "{} {} {}",
                p["name"].as_str().unwrap(),
                p["versionInfo"].as_str().unwrap(),
                qualifier(purl, "arch")
            )
        })
        .collect();
    v.sort();
    v
}

/// `name version arch` of each component of a CycloneDX BOM, sorted.
pub(crate) fn cyclonedx_packages(doc: &serde_json::Value) -> Vec<String> {
    assert_eq!(doc["metadata"]["component"]["type"], "operating-system");
    assert_eq!(doc["metadata"]["component"]["name"], "debian");
    let mut v: Vec<String> = doc["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            assert_eq!(c["type"], "library");
            let purl = c["purl"].as_str().unwrap();
            assert_eq!(c["bom-ref"], purl);
            format!(
                "{} {} {}",
                c["name"].as_str().unwrap(),
                c["version"].as_str().unwrap(),
                qualifier(purl, "arch")
            )
        })
        .collect();
    v.sort();
    v
}

/// Runs the template `file` with `text` in a fresh directory and checks
/// the SBOMs of build `name` against the image's real package list and
/// the validators, and the manifest's attachments.
fn build_and_check(file: &str, text: &str, name: &str) {
    let d = dir();
    d.write(file, text);
    let r = kiln(&d, &["build", "-color=false", file]);
    let all = both(&r);
    assert_eq!(r.code, 0, "{all}");
    let spdx = d.path().join(format!("sbom/{name}.spdx.json"));
    let cdx = d.path().join(format!("sbom/{name}.cdx.json"));
    let want = real_packages(kiln_docker_test::cm_image());
    for (path, format) in [(&spdx, "SPDX 2.3"), (&cdx, "CycloneDX 1.5")] {
        let line = format!(
            "Writing SBOM: {} packages (dpkg) to sbom/{name}.{} ({format})",
            want.len(),
            path.file_name()
                .unwrap()
                .to_string_lossy()
                .split_once('.')
                .unwrap()
                .1
        );
        assert!(all.contains(&line), "missing {line:?} in:\n{all}");
    }
    let s = read_json(&spdx);
    assert_eq!(spdx_packages(&s), want, "SPDX against dpkg-query");
    let c = read_json(&cdx);
    assert_eq!(cyclonedx_packages(&c), want, "CycloneDX against dpkg-query");
    validate(&spdx, &cdx);

    let m = read_json(&d.path().join("m.json"));
    let entry = m["builds"].as_array().unwrap().last().unwrap();
    let attachments: Vec<(String, String, u64)> = entry["kiln"]["attachments"]
        .as_array()
        .unwrap_or_else(|| panic!("no attachments in {entry}"))
        .iter()
        .map(|a| {
            (
                a["kind"].as_str().unwrap().to_string(),
                a["name"].as_str().unwrap().to_string(),
                a["size"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        attachments,
        [
            (
                "sbom-spdx".to_string(),
                format!("sbom/{name}.spdx.json"),
                std::fs::metadata(&spdx).unwrap().len()
            ),
            (
                "sbom-cyclonedx".to_string(),
                format!("sbom/{name}.cdx.json"),
                std::fs::metadata(&cdx).unwrap().len()
            ),
        ]
    );
}

#[test]
fn a_debian_container_gets_valid_sboms_of_its_real_packages_json() {
    let _serial = serial();
    let g = Guard::new("sbom-json");
    let t = serde_json::json!({
        "builders": [{
            "type": "docker", "name": "deb", "image": kiln_docker_test::cm_image(),
            "pull": false, "discard": true,
            "run_command": serde_json::from_str::<serde_json::Value>(&g.run_command()).unwrap(),
        }],
        "provisioners": [{
            "type": "sbom",
            "output_spdx": "sbom/{{ build_name }}.spdx.json",
            "output_cyclonedx": "sbom/{{ build_name }}.cdx.json",
        }],
        "post-processors": [{"type": "manifest", "output": "m.json"}]
    });
    build_and_check("t.json", &t.to_string(), "deb");
    assert!(g.containers().is_empty(), "the build container is left");
}

#[test]
fn a_debian_container_gets_valid_sboms_of_its_real_packages_hcl2() {
    let _serial = serial();
    let g = Guard::new("sbom-hcl");
    let t = format!(
        r#"source "docker" "deb" {{
  image       = "{}"
  pull        = false
  discard     = true
  run_command = {}
}}

build {{
  sources = ["source.docker.deb"]

  provisioner "sbom" {{
    output_spdx      = "sbom/${{source.name}}.spdx.json"
    output_cyclonedx = "sbom/${{source.name}}.cdx.json"
  }}

  post-processor "manifest" {{
    output = "m.json"
  }}
}}
"#,
        kiln_docker_test::cm_image(),
        g.run_command()
    );
    build_and_check("t.pkr.hcl", &t, "deb");
    assert!(g.containers().is_empty(), "the build container is left");
}

#[test]
fn a_machine_without_a_package_database_fails_the_build_clearly() {
    let _serial = serial();
    let g = Guard::new("sbom-none");
    let d = dir();
    let t = serde_json::json!({
        "builders": [{
            "type": "docker", "image": kiln_docker_test::base_image(),
            "pull": false, "discard": true,
            "run_command": serde_json::from_str::<serde_json::Value>(&g.run_command()).unwrap(),
        }],
        "provisioners": [{"type": "sbom", "output_spdx": "s.spdx.json", "output_cyclonedx": "s.cdx.json"}],
        "post-processors": [{"type": "manifest", "output": "m.json"}]
    });
    d.write("t.json", &t.to_string());
    let r = kiln(&d, &["build", "-color=false", "t.json"]);
    let all = both(&r);
    assert_eq!(r.code, 1, "{all}");
    assert!(
        all.contains(
            "no package database found on the machine: the `sbom` provisioner reads dpkg's \
             (`dpkg-query` or /var/lib/dpkg/status), rpm's (`rpm`) and apk's (/lib/apk/db/installed)"
        ),
        "{all}"
    );
    for f in ["s.spdx.json", "s.cdx.json", "m.json"] {
        assert!(!d.path().join(f).exists(), "{f} was written");
    }
    assert!(g.containers().is_empty(), "the build container is left");
}
