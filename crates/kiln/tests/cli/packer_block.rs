//! HCL2's `packer { … }` blocks and what Packer's parse phase rejects:
//! `required_version` checked against the Packer release whose HCL2 kiln
//! implements (JSON keeps 1.6.6), `validate -syntax-only` rejecting what
//! today's Packer rejects before evaluating anything, several `packer`
//! blocks merged, and `required_plugins` entries that kiln's built-in
//! components satisfy (`kiln init` installs nothing for them).

use crate::support::*;

const HCL2_VERSION: &str = "1.16.1";

/// A valid template with `packer_block` at the top.
fn template(packer_block: &str) -> String {
    format!(
        "{packer_block}\nsource \"null\" \"x\" {{\n  communicator = \"none\"\n}}\n\nbuild {{\n  sources = [\"source.null.x\"]\n}}\n"
    )
}

/// kiln with a plugin environment confined to the test directory.
fn kiln_isolated(d: &TestDir, args: &[&str]) -> Run {
    let mut c = d.kiln(args);
    c.env("KILN_PLUGIN_PATH", d.path().join("plugins"))
        .env("HOME", d.path())
        .env_remove("XDG_DATA_HOME")
        .env_remove("KILN_PLUGIN_DIR")
        .env_remove("KILN_PLUGIN_MIRROR")
        .env_remove("PACKER_PLUGIN_PATH");
    run(c)
}

// chef/bento's HCL2 directory asks for `>= 1.7.0`; kiln used to compare
// with 1.6.6 and refuse it.
#[test]
fn required_version_is_checked_against_the_hcl2_release() {
    let d = dir();
    d.write(
        "t.pkr.hcl",
        &template("packer {\n  required_version = \">= 1.7.0\"\n}\n"),
    );
    for args in [
        &["validate", "-syntax-only", "t.pkr.hcl"][..],
        &["validate", "t.pkr.hcl"],
    ] {
        let r = kiln(&d, args);
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
    }

    d.write(
        "new.pkr.hcl",
        &template("packer {\n  required_version = \">= 1.17.0, < 2.0.0\"\n}\n"),
    );
    let r = kiln(&d, &["validate", "-syntax-only", "new.pkr.hcl"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains(&format!(
            "this template requires Packer `>= 1.17.0, < 2.0.0`; kiln implements the HCL2 language of Packer {HCL2_VERSION}"
        )) && r.stderr.contains("--> new.pkr.hcl:2:22"),
        "{}",
        r.stderr
    );
}

// `packer.version` is the HCL2 release; JSON's `{{packer_version}}` stays
// 1.6.6, checked against packer 1.6.6 itself.
#[test]
fn packer_version_is_the_hcl2_release_in_hcl2_and_1_6_6_in_json() {
    let d = dir();
    d.write(
        "t.pkr.hcl",
        "source \"file\" \"v\" {\n  content = \"${packer.version} {{packer_version}}\"\n  target  = \"hcl2.txt\"\n}\n\nbuild {\n  sources = [\"source.file.v\"]\n  provisioner \"shell-local\" {\n    inline = [\"echo in-provisioner {{packer_version}}\"]\n  }\n}\n",
    );
    let r = kiln(&d, &["build", "t.pkr.hcl"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Today's Packer gives its components its own version
    // (`packer_core_version`), so `{{packer_version}}` agrees with
    // `packer.version` in HCL2.
    assert_eq!(d.read("hcl2.txt"), format!("{HCL2_VERSION} {HCL2_VERSION}"));
    assert!(
        r.stdout.contains(&format!("in-provisioner {HCL2_VERSION}")),
        "{}",
        r.stdout
    );

    let json = r#"{"builders": [{"type": "file", "content": "{{packer_version}}", "target": "json.txt"}]}"#;
    d.write("t.json", json);
    let r = kiln(&d, &["build", "t.json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(d.read("json.txt"), "1.6.6");

    kiln_test::require_packer();
    let packer_dir = dir();
    packer_dir.write("t.json", json);
    let r = run(packer_dir.packer(&["build", "t.json"]).unwrap());
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(packer_dir.read("json.txt"), d.read("json.txt"));
}

/// What today's Packer rejects in its parse phase, so `validate
/// -syntax-only` too: each case fails with its location and a hint.
/// Sources: hashicorp/packer hcl2template/parser.go (`Parse`,
/// `packerBlockSchema`), types.required_plugins.go, addrs/plugin.go,
/// types.variables.go (`decodeVariableBlock`), and the duplicate `locals`
/// and `data` checks of `Parse`.
#[test]
fn syntax_only_rejects_what_packers_parse_phase_rejects() {
    let cases = [
        (
            "packer-unknown-key",
            "packer {\n  version = \">= 1.7.0\"\n}\n",
        ),
        (
            "plugin-string-form",
            "packer {\n  required_plugins {\n    amazon = \">= 1.0\"\n  }\n}\n",
        ),
        (
            "plugin-source-one-part",
            "packer {\n  required_plugins {\n    amazon = {\n      source  = \"amazon\"\n      version = \">= 1.0\"\n    }\n  }\n}\n",
        ),
        (
            "plugin-source-two-parts",
            "packer {\n  required_plugins {\n    amazon = {\n      source  = \"hashicorp/amazon\"\n      version = \">= 1.0\"\n    }\n  }\n}\n",
        ),
        (
            "plugin-prerelease-constraint",
            "packer {\n  required_plugins {\n    amazon = {\n      source  = \"github.com/hashicorp/amazon\"\n      version = \">= 1.3.0-dev\"\n    }\n  }\n}\n",
        ),
        (
            "duplicate-locals",
            "locals {\n  region = \"eu-west-1\"\n}\n\nlocals {\n  region = \"us-east-1\"\n}\n",
        ),
        (
            "duplicate-data",
            "data \"null\" \"v\" {\n  input = \"a\"\n}\n\ndata \"null\" \"v\" {\n  input = \"b\"\n}\n",
        ),
        (
            "default-wrong-type",
            "variable \"disk_size\" {\n  type    = number\n  default = \"large\"\n}\n",
        ),
    ];
    for (name, head) in cases {
        let d = dir();
        let file = format!("{name}.pkr.hcl");
        d.write(&file, &template(head));
        let r = kiln_isolated(&d, &["validate", "-syntax-only", &file]);
        assert_eq!(r.code, 1, "{name}: {}", r.stdout);
        insta::assert_snapshot!(format!("syntax_only_{name}"), r.snapshot(d.path()));
        let full = kiln_isolated(&d, &["validate", &file]);
        assert_eq!(full.code, 1, "{name}");
        assert_eq!(
            full.stderr.matches("error: ").count(),
            r.stderr.matches("error: ").count(),
            "{name}: `validate` reports the same problems once:\n{}",
            full.stderr
        );
    }

    // A template without a `build` block passes the parse phase; Packer's
    // `validate` then fails with "Missing build block", and so does kiln's.
    let d = dir();
    d.write(
        "nobuild.pkr.hcl",
        "source \"null\" \"x\" {\n  communicator = \"none\"\n}\n",
    );
    let r = kiln(&d, &["validate", "-syntax-only", "nobuild.pkr.hcl"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = kiln(&d, &["validate", "nobuild.pkr.hcl"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("no `build` block"), "{}", r.stderr);
}

// hashicorp/packer hcl2template/parser.go appends every file's
// `required_version` (each must hold) and types.required_plugins.go every
// `required_plugins` block; plugin.go's `PluginRequirements` reports a
// name required twice, after the parse phase.
#[test]
fn several_packer_blocks_are_merged() {
    let d = dir();
    std::fs::create_dir(d.path().join("t")).unwrap();
    d.write(
        "t/a.pkr.hcl",
        &template(
            "packer {\n  required_version = \">= 1.7.0\"\n}\n\npacker {\n  required_plugins {\n    docker = {\n      source  = \"github.com/hashicorp/docker\"\n      version = \">= 1.0.0\"\n    }\n  }\n}\n",
        ),
    );
    d.write(
        "t/b.pkr.hcl",
        "packer {\n  required_version = \"< 2.0.0\"\n  required_plugins {\n    qemu = {\n      source  = \"github.com/hashicorp/qemu\"\n      version = \">= 1.0.0\"\n    }\n  }\n}\n",
    );
    let r = kiln_isolated(&d, &["validate", "t"]);
    assert_eq!(r.code, 0, "{}", r.stderr);

    // Every `required_version` must hold, wherever it is.
    d.write(
        "t/c.pkr.hcl",
        "packer {\n  required_version = \"< 1.10.0\"\n}\n",
    );
    let r = kiln_isolated(&d, &["validate", "-syntax-only", "t"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("--> t/c.pkr.hcl:2:22"), "{}", r.stderr);
    std::fs::remove_file(d.path().join("t/c.pkr.hcl")).unwrap();

    // A plugin required twice: the parse phase passes, `validate` fails.
    d.write(
        "t/c.pkr.hcl",
        "packer {\n  required_plugins {\n    docker = {\n      source  = \"github.com/hashicorp/docker\"\n      version = \">= 1.1.0\"\n    }\n  }\n}\n",
    );
    let r = kiln_isolated(&d, &["validate", "-syntax-only", "t"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = kiln_isolated(&d, &["validate", "t"]);
    insta::assert_snapshot!("packer_blocks_plugin_required_twice", r.snapshot(d.path()));
}

const BUILTIN_REQUIRED: &str = "packer {\n  required_plugins {\n    amazon = {\n      source  = \"github.com/hashicorp/amazon\"\n      version = \">= 1.2.0\"\n    }\n    docker = {\n      source  = \"github.com/hashicorp/docker\"\n      version = \"~> 1\"\n    }\n    qemu = {\n      source  = \"github.com/hashicorp/qemu\"\n      version = \">= 1.0.9\"\n    }\n  }\n}\n";

// chef/bento requires the plugins of the builders it uses; those kiln has
// built in need no install and no mirror.
#[test]
fn builtin_plugins_are_satisfied_by_kiln_and_init_installs_nothing() {
    let d = dir();
    d.write("t.pkr.hcl", &template(BUILTIN_REQUIRED));
    let r = kiln_isolated(&d, &["init", "t.pkr.hcl"]);
    insta::assert_snapshot!("init_builtin_plugins", r.snapshot(d.path()));
    assert_eq!(r.code, 0);
    assert!(
        !d.path().join("plugins").exists(),
        "init installed something"
    );

    let r = kiln_isolated(&d, &["validate", "t.pkr.hcl"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = kiln_isolated(&d, &["plugins", "required", "t.pkr.hcl"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .contains("amazon github.com/hashicorp/amazon (>= 1.2.0): built into kiln"),
        "{}",
        r.stdout
    );

    // A fork is not kiln's built-in plugin: it must be installed.
    d.write(
        "fork.pkr.hcl",
        &template("packer {\n  required_plugins {\n    qemu = {\n      source  = \"github.com/someone/qemu\"\n      version = \">= 1.0.0\"\n    }\n  }\n}\n"),
    );
    let r = kiln_isolated(&d, &["validate", "fork.pkr.hcl"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("plugin `qemu` (`github.com/someone/qemu` `>= 1.0.0`) is required, but it is not installed"),
        "{}",
        r.stderr
    );

    // `init` reads the whole template first, as `packer init` does.
    d.write(
        "bad.pkr.hcl",
        &template("packer {\n  required_plugins {\n    amazon = {\n      source  = \"hashicorp/amazon\"\n      version = \">= 1.2.0\"\n    }\n  }\n}\n"),
    );
    let r = kiln_isolated(&d, &["init", "bad.pkr.hcl"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("invalid source `hashicorp/amazon`"),
        "{}",
        r.stderr
    );
}

#[test]
fn version_shows_the_packer_releases_kiln_follows() {
    let d = dir();
    let r = kiln(&d, &["version"]);
    assert_eq!(r.code, 0);
    assert!(
        r.stdout.starts_with("kiln v")
            && r.stdout.contains(&format!(
                "(HCL2: Packer {HCL2_VERSION}; JSON: Packer 1.6.6)"
            )),
        "{}",
        r.stdout
    );
    let r = kiln(&d, &["-machine-readable", "version"]);
    assert!(
        r.stdout.contains(&format!(
            "(HCL2: Packer {HCL2_VERSION}; JSON: Packer 1.6.6)"
        )),
        "{}",
        r.stdout
    );
}
