//! `kiln inspect` prints what Packer 1.6.6's does.

use crate::support::*;

#[test]
fn inspect_human_and_machine_readable() {
    let d = dir();
    let t = copy_fixture(&d, "valid/variables.json");
    let r = kiln(&d, &["inspect", &t]);
    assert_eq!(r.code, 0);
    insta::assert_snapshot!("inspect_human", r.snapshot(d.path()));
    let r = kiln(&d, &["inspect", "-machine-readable", &t]);
    insta::assert_snapshot!("inspect_machine", r.snapshot(d.path()));
    assert!(
        !r.stdout.contains("p4ssw0rd"),
        "sensitive defaults are not shown"
    );
}

#[test]
fn fix_rewrites_old_templates() {
    let d = dir();
    let t = d.write(
        "old.json",
        r#"{"builders": [{"type": "null", "communicator": "none", "ssh_wait_timeout": "10m"}],
            "post-processors": [{"type": "manifest", "filename": "m.json"}]}"#,
    );
    let r = kiln(&d, &["fix", "-validate=false", t.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let fixed: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(fixed["builders"][0]["ssh_timeout"], "10m");
    assert_eq!(fixed["post-processors"][0]["output"], "m.json");
    insta::assert_snapshot!(r.stdout);
}

/// `kiln inspect` of an HCL2 template reads each data source once (its
/// plan and its lists of variables and locals share one evaluation).
#[test]
fn inspect_reads_each_data_source_once() {
    let server = kiln_test::http::serve("/version", "text/plain", "1.2.3");
    let d = dir();
    d.write(
        "t.pkr.hcl",
        &format!(
            r#"data "http" "v" {{
  url = "{}"
}}
locals {{
  version = data.http.v.body
}}
source "null" "n" {{
  communicator = "none"
}}
build {{
  sources = ["source.null.n"]
}}
"#,
            server.url()
        ),
    );
    let r = kiln(&d, &["inspect", "t.pkr.hcl"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("1.2.3"), "{}", r.stdout);
    assert_eq!(server.requests().len(), 1, "{:#?}", server.requests());
}
