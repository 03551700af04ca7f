//! HCL2 templates end to end: `validate`, `build` and `inspect` on
//! `.pkr.hcl` files and directories, snapshots of what invalid templates
//! report, and a JSON template and its hand-written HCL2 twin building the
//! same files and manifest.

use crate::support::*;

/// Copies a fixture (file or directory) under `fixtures/hcl` into the test
/// directory and returns its name there.
fn copy_hcl(d: &TestDir, rel: &str) -> String {
    let src = fixture(&format!("hcl/{rel}"));
    let name = src.file_name().unwrap().to_string_lossy().into_owned();
    if src.is_dir() {
        let dst = d.path().join(&name);
        std::fs::create_dir_all(&dst).unwrap();
        for e in std::fs::read_dir(&src).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), dst.join(e.file_name())).unwrap();
        }
    } else {
        std::fs::copy(&src, d.path().join(&name)).unwrap();
    }
    name
}

fn build(d: &TestDir, args: &[&str]) -> Run {
    let mut a = vec!["build", "-color=false", "-parallel-builds=1"];
    a.extend_from_slice(args);
    kiln(d, &a)
}

#[test]
fn invalid_templates_report_every_error_with_its_location() {
    for name in [
        "undefined-variable.pkr.hcl",
        "locals-cycle.pkr.hcl",
        "syntax-error.pkr.hcl",
        "unknown-source-and-block.pkr.hcl",
        "plugins-and-types.pkr.hcl",
    ] {
        let d = dir();
        let t = copy_hcl(&d, &format!("invalid/{name}"));
        let r = kiln(&d, &["validate", &t]);
        assert_eq!(r.code, 1, "{name}: {}", r.stderr);
        insta::assert_snapshot!(format!("invalid_{name}"), r.snapshot(d.path()));
    }
}

#[test]
fn validate_and_build_a_single_file() {
    let d = dir();
    let t = copy_hcl(&d, "valid/null-shell-local.pkr.hcl");
    let r = kiln(&d, &["validate", &t]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = build(&d, &[&t]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("HELLO from demo/alpha on null, 3 words"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("beta is different"), "{}", r.stdout);
    let m: serde_json::Value = serde_json::from_str(&d.read("manifest.json")).unwrap();
    let names: Vec<&str> = m["builds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["demo.null.alpha", "demo.null.beta"]);
}

#[test]
fn only_and_except_match_full_build_names() {
    let d = dir();
    let t = copy_hcl(&d, "valid/null-shell-local.pkr.hcl");
    let r = build(&d, &["-only=*.beta", &t]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stdout.contains("demo.null.alpha"), "{}", r.stdout);
    let r = kiln(&d, &["validate", "-only=nothing", &t]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains(
            "`-only=nothing` matches no build; the builds are: demo.null.alpha, demo.null.beta"
        ),
        "{}",
        r.stdout
    );
}

#[test]
fn directories_read_every_file_and_auto_var_files_then_var_wins() {
    let d = dir();
    let t = copy_hcl(&d, "valid/dir");
    let r = build(&d, &[&t]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(d.read("auto.txt"), "Hello auto!\nsize 1\nsize 2\n");
    let m: serde_json::Value = serde_json::from_str(&d.read("manifest.json")).unwrap();
    assert_eq!(
        m["builds"][0]["custom_data"],
        serde_json::json!({"owner": "ops", "total": "3"})
    );
    let r = build(&d, &["-var", "name=cli", "-var", "sizes=[5]", &t]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(d.read("cli.txt"), "Hello cli!\nsize 5\n");
    let r = kiln(&d, &["validate", "-var", "nmae=x", &t]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("`-var`: undefined variable `nmae`"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("did you mean `name`?"), "{}", r.stderr);
}

#[test]
fn inspect_shows_variables_locals_and_builds() {
    let d = dir();
    let t = copy_hcl(&d, "valid/null-shell-local.pkr.hcl");
    let r = kiln(&d, &["inspect", &t]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    insta::assert_snapshot!(r.snapshot(d.path()));
    let t = copy_hcl(&d, "valid/dir");
    let r = kiln(&d, &["inspect", &t]);
    assert!(r.stdout.contains("var.secret: <sensitive>"), "{}", r.stdout);
}

#[test]
fn pkr_json_is_refused_clearly() {
    let d = dir();
    let t = d.write("a.pkr.json", "{}");
    let r = kiln(&d, &["validate", t.to_str().unwrap()]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("HCL2 template in JSON syntax"),
        "{}",
        r.stderr
    );
}

/// The manifest without what differs between runs, builds sorted by name.
fn manifest(d: &TestDir) -> serde_json::Value {
    let mut m: serde_json::Value = serde_json::from_str(&d.read("manifest.json")).unwrap();
    m.as_object_mut().unwrap().remove("last_run_uuid");
    let builds = m["builds"].as_array_mut().unwrap();
    for b in builds.iter_mut() {
        b.as_object_mut().unwrap().remove("packer_run_uuid");
    }
    builds.sort_by_key(|b| b["name"].as_str().unwrap_or("").to_string());
    m
}

#[test]
fn a_json_template_and_its_hcl2_twin_build_the_same_things() {
    let (dj, dh) = (dir(), dir());
    let tj = copy_hcl(&dj, "equivalent.json");
    let th = copy_hcl(&dh, "equivalent.pkr.hcl");
    let rj = build(&dj, &[&tj]);
    let rh = build(&dh, &[&th]);
    assert_eq!(rj.code, 0, "{}", rj.stderr);
    assert_eq!(rh.code, 0, "{}", rh.stderr);
    assert_eq!(manifest(&dj), manifest(&dh));
    for f in [
        "hello.txt",
        "null.alpha.out",
        "file.hello.md5",
        "file.hello.sha256",
        "null.alpha.md5",
    ] {
        let (a, b) = (dj.path().join(f), dh.path().join(f));
        assert_eq!(a.exists(), b.exists(), "{f}");
        if a.exists() {
            assert_eq!(dj.read(f), dh.read(f), "{f}");
        }
    }
    assert_eq!(dh.read("null.alpha.out"), "hello from null.alpha\n");
    assert_eq!(dh.read("hello.txt"), "hello world\n");
}
