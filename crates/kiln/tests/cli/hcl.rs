//! HCL2 templates end to end: `validate`, `build` and `inspect` on
//! `.pkr.hcl` files and directories, snapshots of what invalid templates
//! report, and a JSON template and its hand-written HCL2 twin building the
//! same files and manifest.

use kiln_test::http::serve;

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
    // The manifest's `name` is `packer_build_name`: the source block's
    // own name, not the build's (`demo.null.alpha`) nor the local `name`,
    // as in Packer (hcl2template/types.source.go, `builderVariables`;
    // packer 1.6.6 writes `base` twice too).
    assert_eq!(names, ["base", "base"]);
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
fn pkr_json_files_and_mixed_directories_load() {
    let d = dir();
    let t = copy_hcl(&d, "valid/mixed");
    let r = build(&d, &[&t]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(d.read("mixed.txt"), "hi json, 3\n");
    assert!(r.stdout.contains("mixed.null.one"), "{}", r.stdout);
    let r = build(&d, &["-var", "who=cli", &t]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(d.read("mixed.txt"), "hi cli, 3\n");
    let vf = d.write("more.json", r#"{"count_to": 7}"#);
    let r = build(&d, &["-var-file", vf.to_str().unwrap(), &t]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(d.read("mixed.txt"), "hi json, 7\n");
}

#[test]
fn invalid_pkr_json_reports_every_error_with_its_location() {
    let d = dir();
    let t = copy_hcl(&d, "invalid/json-syntax.pkr.json");
    let r = kiln(&d, &["validate", &t]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    insta::assert_snapshot!(r.snapshot(d.path()));
    let t = d.write("broken.pkr.json", "{\n  \"source\": {\n}");
    let r = kiln(&d, &["validate", t.to_str().unwrap()]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("error: invalid JSON: `,` or `}` was expected")
            && r.stderr.contains("broken.pkr.json:3:2"),
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
    for twin in ["equivalent.pkr.hcl", "equivalent.pkr.json"] {
        json_and_twin_build_the_same_things(twin);
    }
}

fn json_and_twin_build_the_same_things(twin: &str) {
    let (dj, dh) = (dir(), dir());
    let tj = copy_hcl(&dj, "equivalent.json");
    let th = copy_hcl(&dh, twin);
    let rj = build(&dj, &[&tj]);
    let rh = build(&dh, &[&th]);
    assert_eq!(rj.code, 0, "{}", rj.stderr);
    assert_eq!(rh.code, 0, "{}", rh.stderr);
    assert_eq!(manifest(&dj), manifest(&dh));
    // HCL2 components see the source's name as the build name
    // (`packer_build_name`), so the JSON twin names its builders so.
    for f in [
        "hello.txt",
        "alpha.out",
        "hello.md5",
        "hello.sha256",
        "alpha.md5",
    ] {
        let (a, b) = (dj.path().join(f), dh.path().join(f));
        assert_eq!(a.exists(), b.exists(), "{f}");
        if a.exists() {
            assert_eq!(dj.read(f), dh.read(f), "{f}");
        }
    }
    assert_eq!(dh.read("alpha.out"), "hello from alpha\n");
    assert_eq!(dh.read("hello.txt"), "hello world\n");
}

#[test]
fn data_sources_feed_locals_and_builds_and_secrets_stay_hidden() {
    let d = dir();
    let t = copy_hcl(&d, "valid/data.pkr.hcl");
    let server = serve("/version", "text/plain", "1.4.2\n");
    let url_var = format!("url={}", server.url());
    let r = build(&d, &["-var", &url_var, "-var", "token=s3cr3t-t0ken", &t]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(d.read("data.txt"), "v1.4.2 200 text/plain\n");
    let req = &server.requests()[0];
    assert!(req.contains("Bearer s3cr3t-t0ken"), "{req}");
    assert!(r.stdout.contains("auth is <sensitive>"), "{}", r.stdout);
    assert!(!r.stdout.contains("s3cr3t-t0ken"), "{}", r.stdout);
    assert!(!r.stderr.contains("s3cr3t-t0ken"), "{}", r.stderr);
}

#[test]
fn data_source_errors_are_located_and_reported_together() {
    let d = dir();
    let t = copy_hcl(&d, "invalid/data-sources.pkr.hcl");
    let r = kiln(&d, &["validate", &t]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    insta::assert_snapshot!(r.snapshot(d.path()));
}

#[test]
fn dynamic_provisioners_operators_and_lazy_try() {
    let d = dir();
    let t = copy_hcl(&d, "valid/dynamic.pkr.hcl");
    let r = build(&d, &[&t]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(d.read("dyn.txt"), "total=3 pick=fallback ok=true\n");
    assert_eq!(d.read("steps.txt"), "0:one\n1:two\n");
}

/// Runs kiln in `d` with `input` on its standard input.
fn kiln_stdin(d: &TestDir, args: &[&str], input: &str) -> Run {
    kiln_test::run_with_input(d.kiln(args), input.as_bytes())
}

#[test]
fn console_evaluates_piped_expressions_against_a_template() {
    let d = dir();
    let t = copy_hcl(&d, "valid/dir");
    let r = kiln_stdin(
        &d,
        &["console", "-var", "name=cli", &t],
        "upper(var.name)\n\nvar.secret\nlength(var.sizes) + \"1\"\ncidrsubnet(\"10.0.0.0/16\", 8, 2)\nvar.nmae\nexit\nvar.name\n",
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(r.stdout, "CLI\n<sensitive>\n3\n10.0.2.0/24\n");
    assert!(
        r.stderr.contains("undefined variable `var.nmae`"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("did you mean `var.name`?"),
        "{}",
        r.stderr
    );
    let r = kiln_stdin(&d, &["console"], "jsonencode({a = [1, \"x\"]})\n");
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, "{\"a\":[1,\"x\"]}\n"),
        "{}",
        r.stderr
    );
}

#[test]
fn fmt_formats_checks_diffs_and_is_idempotent() {
    let d = dir();
    let t = copy_hcl(&d, "fmt");
    let golden = std::fs::read_to_string(fixture("hcl/fmt/messy.pkr.hcl.golden")).unwrap();
    let file = format!("{t}/messy.pkr.hcl");
    let r = kiln(&d, &["fmt", "-check", &t]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert_eq!(r.stdout, format!("{file}\n"));
    let r = kiln(&d, &["fmt", "-diff", "-write=false", &file]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains(&format!("--- old/{file}")),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("+  communicator = \"none\""),
        "{}",
        r.stdout
    );
    let r = kiln(&d, &["fmt", &t]);
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, format!("{file}\n").as_str()),
        "{}",
        r.stderr
    );
    assert_eq!(d.read(&file), golden);
    let r = kiln(&d, &["fmt", "-check", &t]);
    assert_eq!((r.code, r.stdout.as_str()), (0, ""), "{}", r.stderr);
    let r = kiln_stdin(&d, &["fmt", "-"], "a=1\nbb = 2\n");
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, "a  = 1\nbb = 2\n"),
        "{}",
        r.stderr
    );
    let r = kiln_stdin(&d, &["fmt", "-"], "a = [\n");
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("--> <stdin>:1:7"), "{}", r.stderr);
}

#[test]
fn fmt_is_idempotent_over_every_hcl_fixture() {
    let mut files = Vec::new();
    let mut stack = vec![fixture("hcl")];
    while let Some(p) = stack.pop() {
        for e in std::fs::read_dir(&p).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.to_string_lossy().ends_with(".pkr.hcl")
                && !p.to_string_lossy().contains("syntax-error")
            {
                files.push(p);
            }
        }
    }
    assert!(files.len() > 8, "{files:?}");
    let d = dir();
    for f in files {
        let src = std::fs::read_to_string(&f).unwrap();
        let once = kiln_stdin(&d, &["fmt", "-"], &src);
        assert_eq!(once.code, 0, "{}: {}", f.display(), once.stderr);
        let twice = kiln_stdin(&d, &["fmt", "-"], &once.stdout);
        assert_eq!(once.stdout, twice.stdout, "{}", f.display());
    }
}

#[test]
fn hcl2_upgrade_output_validates_for_every_json_fixture() {
    for f in fixtures("valid") {
        let d = dir();
        let t = copy_fixture(&d, &f);
        let r = kiln(&d, &["hcl2_upgrade", &t]);
        assert_eq!(r.code, 0, "{f}: {}", r.stderr);
        assert_eq!(r.stdout, format!("Successfully created {t}.pkr.hcl\n"));
        let out = format!("{t}.pkr.hcl");
        let v = kiln(&d, &["validate", &out]);
        assert_eq!(v.code, 0, "{f}:\n{}\n{}", d.read(&out), v.stderr);
        // The output is already in canonical form.
        let c = kiln(&d, &["fmt", "-check", &out]);
        assert_eq!(c.code, 0, "{f}:\n{}", d.read(&out));
    }
}

#[test]
fn hcl2_upgrade_builds_the_same_things() {
    let (dj, dh) = (dir(), dir());
    let tj = copy_fixture(&dj, "valid/file-checksum.json");
    copy_fixture(&dh, "valid/file-checksum.json");
    let r = kiln(&dh, &["hcl2_upgrade", "-output-file=up.pkr.hcl", &tj]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(dh
        .read("up.pkr.hcl")
        .contains("source \"file\" \"autogenerated_1\" {"));
    let rj = build(&dj, &[&tj]);
    let rh = build(&dh, &["up.pkr.hcl"]);
    assert_eq!(rj.code, 0, "{}", rj.stderr);
    assert_eq!(rh.code, 0, "{}", rh.stderr);
    assert_eq!(dj.read("hello.txt"), dh.read("hello.txt"));
    // The builder has no name: JSON calls the build `file`; the upgraded
    // source is `autogenerated_1` (as `packer hcl2_upgrade` names it), and
    // HCL2 components see that name as `{{.BuildName}}`.
    for ty in ["md5", "sha1", "sha256", "sha512"] {
        assert_eq!(
            dj.read(&format!("file.{ty}")),
            dh.read(&format!("autogenerated_1.{ty}")),
            "{ty}"
        );
    }
    let r = kiln(&dh, &["hcl2_upgrade", "up.pkr.hcl"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("already an HCL2 template"),
        "{}",
        r.stderr
    );
}
