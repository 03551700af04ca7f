//! The documents the `sbom` provisioner writes, checked by the reference
//! validators from PyPI: `pyspdxtools` (spdx-tools) for SPDX 2.3 and
//! cyclonedx-python-lib's strict JSON validator for CycloneDX 1.5, on
//! inventories from each package database's fixture, a machine without
//! os-release, an empty one and awkward package data. A broken document
//! must fail each validator, so a validator that accepts anything fails
//! the test. The validators live in a venv made by
//! `scripts/install-deps.sh` (`$KILN_SBOM_VENV`, default
//! `~/.cache/kiln/sbom-venv`); without it the test fails.

use std::path::{Path, PathBuf};
use std::process::Command;

use kiln_provisioner_sbom::{
    cyclonedx_document, parse_apk, parse_dpkg_query, parse_dpkg_status, parse_os_release,
    parse_rpm, spdx_document, DocumentInfo, Inventory, Manager, Package,
};

fn fixture(name: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The validators' venv; the test fails when it is missing.
fn venv() -> PathBuf {
    kiln_test::venv(
        "KILN_SBOM_VENV",
        "sbom-venv",
        &["bin/pyspdxtools", "bin/python"],
        "spdx-tools, cyclonedx-python-lib",
    )
}

/// `Err` with the validator's output when `path` is not valid SPDX.
fn validate_spdx(venv: &Path, path: &Path) -> Result<(), String> {
    let o = Command::new(venv.join("bin/pyspdxtools"))
        .arg("-i")
        .arg(path)
        .output()
        .expect("run pyspdxtools");
    if o.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ))
    }
}

/// `Err` with the validator's output when a file is not valid CycloneDX 1.5.
fn validate_cyclonedx(venv: &Path, paths: &[PathBuf]) -> Result<(), String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/validate-cyclonedx.py");
    let o = Command::new(venv.join("bin/python"))
        .arg(script)
        .args(paths)
        .output()
        .expect("run the CycloneDX validator");
    if o.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ))
    }
}

fn info() -> DocumentInfo {
    DocumentInfo::now("web server (test)", "0.1.0")
}

/// Packages whose data is awkward: characters to encode in package URLs,
/// parentheses and no email in suppliers, a home page that is no URL,
/// an epoch, no architecture.
fn awkward() -> Vec<Package> {
    vec![
        Package {
            name: "g++-12".into(),
            version: "1:12.2.0~rc1+dfsg-14".into(),
            arch: Some("amd64".into()),
            manager: Manager::Dpkg,
            epoch: None,
            source: Some("gcc-12".into()),
            supplier: Some("Jo (the \"maintainer\") <jo@example.org>".into()),
            homepage: Some("see the README".into()),
        },
        Package {
            name: "perl(Foo::Bar)".into(),
            version: "2.0-1".into(),
            arch: None,
            manager: Manager::Rpm,
            epoch: Some("3".into()),
            source: None,
            supplier: Some("Someone, Inc. (Europe)".into()),
            homepage: Some("https://example.org/a path".into()),
        },
        Package {
            name: "x".into(),
            version: "0".into(),
            arch: Some("noarch".into()),
            manager: Manager::Apk,
            epoch: None,
            source: None,
            supplier: Some("<only@email.example>".into()),
            homepage: None,
        },
    ]
}

fn inventories() -> Vec<(&'static str, Inventory)> {
    let debian = parse_os_release(&fixture("os-release-debian"));
    let rocky = parse_os_release("NAME=\"Rocky Linux\"\nID=\"rocky\"\nVERSION_ID=\"9.3\"\n");
    let alpine = parse_os_release("NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.19.1\nHOME_URL=\"https://alpinelinux.org/\"\n");
    vec![
        (
            "dpkg-query",
            Inventory::new(
                debian.clone(),
                vec![Manager::Dpkg],
                parse_dpkg_query(&fixture("dpkg-query.txt")).unwrap(),
            ),
        ),
        (
            "dpkg-status",
            Inventory::new(
                debian.clone(),
                vec![Manager::Dpkg],
                parse_dpkg_status(&fixture("dpkg-status")).unwrap(),
            ),
        ),
        (
            "rpm",
            Inventory::new(
                rocky,
                vec![Manager::Rpm],
                parse_rpm(&fixture("rpm-qa.txt")).unwrap(),
            ),
        ),
        (
            "apk",
            Inventory::new(
                alpine,
                vec![Manager::Apk],
                parse_apk(&fixture("apk-installed")).unwrap(),
            ),
        ),
        (
            "no-os-release",
            Inventory::new(
                None,
                vec![Manager::Dpkg],
                parse_dpkg_query(&fixture("dpkg-query.txt")).unwrap(),
            ),
        ),
        (
            "empty",
            Inventory::new(debian.clone(), vec![Manager::Rpm], vec![]),
        ),
        (
            "awkward",
            Inventory::new(
                debian,
                vec![Manager::Dpkg, Manager::Rpm, Manager::Apk],
                awkward(),
            ),
        ),
    ]
}

fn write(dir: &Path, name: &str, doc: &serde_json::Value) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, serde_json::to_vec_pretty(doc).unwrap()).unwrap();
    p
}

#[test]
fn kilns_documents_pass_the_reference_validators() {
    let venv = venv();
    let dir = tempfile::tempdir().unwrap();
    let mut boms = Vec::new();
    for (name, inv) in inventories() {
        let info = info();
        let spdx = write(
            dir.path(),
            &format!("{name}.spdx.json"),
            &spdx_document(&inv, &info),
        );
        if let Err(e) = validate_spdx(&venv, &spdx) {
            panic!("{name}: the SPDX document is invalid:\n{e}");
        }
        boms.push(write(
            dir.path(),
            &format!("{name}.cdx.json"),
            &cyclonedx_document(&inv, &info),
        ));
    }
    if let Err(e) = validate_cyclonedx(&venv, &boms) {
        panic!("invalid CycloneDX BOMs:\n{e}");
    }
}

#[test]
fn the_validators_reject_broken_documents() {
    let venv = venv();
    let dir = tempfile::tempdir().unwrap();
    let (_, inv) = inventories().remove(0);
    let info = info();

    let mut spdx = spdx_document(&inv, &info);
    // A relationship to a package that is not there.
    spdx["relationships"][1]["relatedSpdxElement"] = "SPDXRef-nowhere".into();
    let e = validate_spdx(&venv, &write(dir.path(), "bad.spdx.json", &spdx)).unwrap_err();
    assert!(e.contains("SPDXRef-nowhere"), "{e}");

    let mut bom = cyclonedx_document(&inv, &info);
    bom["components"][0]["type"] = "package".into();
    let e = validate_cyclonedx(&venv, &[write(dir.path(), "bad.cdx.json", &bom)]).unwrap_err();
    assert!(e.contains("bad.cdx.json"), "{e}");
}
