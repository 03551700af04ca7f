//! HCL2 templates read as today's Packer reads them, each behaviour
//! established from Packer's source (cited per test): top-level
//! `communicator` blocks, source references and `only`/`except` given by
//! any expression, duplicate `source` blocks (a `validate` error, not a
//! `-syntax-only` one), data sources, which `validate` checks but
//! does not read unless `-evaluate-datasources` is given, and the values
//! given to variables, checked in the parse phase.

use kiln_test::http::serve;

use crate::support::*;

fn build(d: &TestDir, args: &[&str]) -> Run {
    let mut a = vec!["build", "-color=false", "-parallel-builds=1"];
    a.extend_from_slice(args);
    kiln(d, &a)
}

/// Packer 1.16's `configSchema` (`hcl2template/parser.go`) accepts a
/// top-level `communicator` block with two labels, and `parseConfig`
/// ignores it (it decodes only `source` and `build` blocks): validate and
/// build pass, with a warning in kiln. Another label count is an error
/// from the parse phase on (`decodeDatasources` reads every file against
/// the same schema), so `-syntax-only` reports it too.
#[test]
fn top_level_communicator_blocks_are_accepted_and_ignored() {
    let d = dir();
    d.write(
        "comm.pkr.hcl",
        r#"communicator "ssh" "vagrant" {
  ssh_username = "vagrant"
  ssh_timeout  = "30m"
}

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]
}
"#,
    );
    let r = kiln(&d, &["validate", "comm.pkr.hcl"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains(
            "Warning: comm.pkr.hcl:1:1: the `communicator \"ssh\" \"vagrant\"` block is ignored, as in Packer"
        ),
        "{}",
        r.stdout
    );
    let r = build(&d, &["comm.pkr.hcl"]);
    assert_eq!(r.code, 0, "{}", r.stderr);

    d.write(
        "one-label.pkr.hcl",
        "communicator \"ssh\" {\n}\n\nsource \"null\" \"a\" {\n  communicator = \"none\"\n}\n\nbuild {\n  sources = [\"source.null.a\"]\n}\n",
    );
    for args in [
        &["validate", "-syntax-only", "one-label.pkr.hcl"][..],
        &["validate", "one-label.pkr.hcl"][..],
    ] {
        let r = kiln(&d, args);
        assert_eq!(r.code, 1, "{args:?}: {}", r.stdout);
        assert!(
            r.stderr.contains(
                "error: a `communicator` block takes two labels, its type and a name; found 1\n  --> one-label.pkr.hcl:1:1"
            ),
            "{args:?}: {}",
            r.stderr
        );
    }
}

/// chef/bento's main HCL2 directory, reduced: `sources = var.sources_enabled`
/// and `except = var.is_windows ? local.source_names : null`. Packer
/// decodes `sources`, `only` and `except` with variables and locals in
/// scope (`gohcl.DecodeBody` into `[]string`, so any list of strings or
/// null: `hcl2template/types.build.go`, `types.build.provisioners.go`);
/// a reference has two parts, or three whose first is dropped
/// (`sourceRefFromString`), so `sources.null.two` is `null.two`. `only`
/// and `except` compare names with `TYPE.NAME` as they are
/// (`OnlyExcept.Skip`): `sources.null.two` there matches nothing and is
/// skipped, not an error (kiln warns).
#[test]
fn sources_only_and_except_take_expressions_as_in_chef_bento() {
    let d = dir();
    d.write(
        "bento.pkr.hcl",
        r#"variable "sources_enabled" {
  type    = list(string)
  default = ["source.null.one", "sources.null.two"]
}

variable "is_windows" {
  type    = bool
  default = false
}

locals {
  source_names = [for s in var.sources_enabled : trimprefix(s, "source.")]
}

source "null" "one" {
  communicator = "none"
}

source "null" "two" {
  communicator = "none"
}

build {
  sources = var.sources_enabled

  provisioner "shell-local" {
    inline = ["echo unix ${source.name} >> ${source.name}.log"]
    except = var.is_windows ? local.source_names : null
  }

  provisioner "shell-local" {
    inline = ["echo windows ${source.name} >> ${source.name}.log"]
    only   = var.is_windows ? local.source_names : null
  }
}
"#,
    );
    let r = kiln(&d, &["validate", "bento.pkr.hcl"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stdout.contains("Warning"), "{}", r.stdout);

    // Not Windows: `except` and `only` are null, every provisioner runs.
    let r = build(&d, &["bento.pkr.hcl"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(d.read("one.log"), "unix one\nwindows one\n");
    assert_eq!(d.read("two.log"), "unix two\nwindows two\n");

    // Windows: the lists are `null.one` and `sources.null.two`; the second
    // names no source, so `two` runs the unix provisioner, not the other.
    std::fs::remove_file(d.path().join("one.log")).unwrap();
    std::fs::remove_file(d.path().join("two.log")).unwrap();
    let r = build(&d, &["-var", "is_windows=true", "bento.pkr.hcl"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(d.read("one.log"), "windows one\n");
    assert_eq!(d.read("two.log"), "unix two\n");
    for (line, key) in [(28, "except"), (33, "only")] {
        let want = format!(
            "Warning: bento.pkr.hcl:{line}:14: `{key}` names `sources.null.two`, which is not a source of this build, so it matches nothing; write `null.two`: `{key}` names sources as `TYPE.NAME`, without a prefix"
        );
        assert!(
            r.stdout.contains(&want),
            "missing {want:?} in\n{}",
            r.stdout
        );
    }
}

/// What `sources`, `only` and `except` must be: a list of strings or null
/// (a null `sources` leaves the build without sources: Packer's
/// "missing source reference"), and not both `only` and `except`
/// (`OnlyExcept.Validate` in `types.build.provisioners.go`).
#[test]
fn bad_sources_only_and_except_are_reported_together() {
    let d = dir();
    d.write(
        "bad.pkr.hcl",
        r#"variable "none" {
  type    = list(string)
  default = null
}

source "null" "a" {
  communicator = "none"
}

build {
  sources = var.none
}

build {
  sources = "source.null.a"
}

build {
  sources = ["source.null.a", "null."]

  provisioner "shell-local" {
    inline = ["true"]
    only   = ["null.a"]
    except = ["null.b"]
  }

  post-processor "shell-local" {
    inline = ["true"]
    only   = "null.a"
  }
}
"#,
    );
    let r = kiln(&d, &["validate", "bad.pkr.hcl"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    for want in [
        "error: this `build` block has no sources\n  --> bad.pkr.hcl:10:1",
        "error: `sources` must be a list of strings, found a string\n  --> bad.pkr.hcl:15:13",
        "error: invalid source reference `null.`\n  --> bad.pkr.hcl:19:13",
        "error: only one of `only` and `except` may be set\n  --> bad.pkr.hcl:24:5",
        "error: `only` must be a list of strings, found a string\n  --> bad.pkr.hcl:29:14",
    ] {
        assert!(r.stderr.contains(want), "missing {want:?} in\n{}", r.stderr);
    }
}

/// Two `source` blocks with one type and name: Packer reports it in
/// `parseConfig` (`hcl2template/parser.go`), which `Initialize` calls, so
/// `validate` fails and `validate -syntax-only`, which stops after
/// `Parse` (`command/validate.go`), passes.
#[test]
fn duplicate_sources_fail_validate_but_not_syntax_only() {
    let d = dir();
    d.write("a.pkr.hcl", "source \"null\" \"a\" {\n  communicator = \"none\"\n}\n\nbuild {\n  sources = [\"source.null.a\"]\n}\n");
    d.write(
        "b.pkr.hcl",
        "# the same source again\nsource \"null\" \"a\" {\n  communicator = \"none\"\n}\n",
    );
    std::fs::create_dir(d.path().join("t")).unwrap();
    for f in ["a.pkr.hcl", "b.pkr.hcl"] {
        std::fs::rename(d.path().join(f), d.path().join("t").join(f)).unwrap();
    }
    let r = kiln(&d, &["validate", "-syntax-only", "t"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("Syntax-only check passed"),
        "{}",
        r.stdout
    );
    let r = kiln(&d, &["validate", "t"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stderr
            .contains("error: duplicate source `source.null.a`\n  --> t/b.pkr.hcl:2:1"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("hint: it is already declared at t/a.pkr.hcl:1:1"),
        "{}",
        r.stderr
    );
    assert_eq!(r.stderr.matches("error:").count(), 1, "{}", r.stderr);
}

/// A port nothing listens on: one just released.
fn closed_port_url() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("http://127.0.0.1:{port}/release.json")
}

/// A data source whose outputs feed locals, another data source, a
/// source's configuration, a list, an object and a provisioner.
const DATA_TEMPLATE: &str = r#"variable "url" {
  type = string
}

data "http" "release" {
  url = var.url
}

data "null" "name" {
  input = "v-${jsondecode(data.http.release.body).version}"
}

locals {
  version = jsondecode(data.http.release.body).version
  tags    = { Name = "box", Version = local.version }
}

source "file" "f" {
  content = "${local.version} ${data.null.name.output}\n"
  target  = "out.txt"
}

build {
  sources = ["source.file.f"]

  provisioner "shell-local" {
    inline = ["echo ${local.tags.Name} ${local.tags.Version} > tags.txt"]
  }
}
"#;

/// Packer's `validate` starts and configures every data source but does
/// not execute it unless `-evaluate-datasources` is given
/// (`evaluateDatasources(skipExecution)` in
/// `hcl2template/types.packer_config.go`; `command/validate_test.go`,
/// `TestValidateCommand_SkipDatasourceExecution`): its outputs are unknown,
/// and what depends on them gets a placeholder. `build` reads them.
#[test]
fn validate_reads_no_data_source_unless_told() {
    let d = dir();
    d.write("data.pkr.hcl", DATA_TEMPLATE);

    // Nothing listens: `validate` passes, `-evaluate-datasources` and
    // `build` fail on the request.
    let url = format!("url={}", closed_port_url());
    let r = kiln(&d, &["validate", "-var", &url, "data.pkr.hcl"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("The configuration is valid."),
        "{}",
        r.stdout
    );
    for args in [
        &[
            "validate",
            "-evaluate-datasources",
            "-var",
            &url,
            "data.pkr.hcl",
        ][..],
        &["build", "-color=false", "-var", &url, "data.pkr.hcl"][..],
    ] {
        let r = kiln(&d, args);
        assert_eq!(r.code, 1, "{args:?}: {}", r.stdout);
        assert!(
            r.stderr
                .contains("error: data.http.release: request to `http://127.0.0.1:"),
            "{args:?}: {}",
            r.stderr
        );
        assert!(r.stderr.contains("--> data.pkr.hcl:5:1"), "{}", r.stderr);
    }

    // A server that counts: `validate` makes no request, the others one.
    let server = serve(
        "/release.json",
        "application/json",
        "{\"version\": \"1.4.2\"}",
    );
    let url = format!("url={}", server.url());
    let r = kiln(&d, &["validate", "-var", &url, "data.pkr.hcl"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(server.requests().len(), 0, "validate made a request");
    let r = kiln(
        &d,
        &[
            "validate",
            "-evaluate-datasources",
            "-var",
            &url,
            "data.pkr.hcl",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(server.requests().len(), 1);
    let r = build(&d, &["-var", &url, "data.pkr.hcl"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(server.requests().len(), 2);
    assert_eq!(d.read("out.txt"), "1.4.2 v-1.4.2\n");
    assert_eq!(d.read("tags.txt"), "box 1.4.2\n");
}

/// Without reading, a data source's configuration is still checked, as
/// Packer's `Configure` does (`datasource/http/data.go`: a `url`, a method
/// of its list, in capitals), and a value that must be known to plan the
/// builds (`sources` here) is an error that says why.
#[test]
fn validate_checks_data_sources_it_does_not_read() {
    let d = dir();
    d.write(
        "bad.pkr.hcl",
        r#"data "http" "a" {
  url    = "https://example.com/a"
  method = "get"
}

data "http" "b" {
  url = ""
}

data "http" "list" {
  url = "https://example.com/list"
}

source "null" "a" {
  communicator = "none"
}

build {
  sources = jsondecode(data.http.list.body)
}
"#,
    );
    let r = kiln(&d, &["validate", "bad.pkr.hcl"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    for want in [
        "error: `get` is not a method the `http` data source can use\n  --> bad.pkr.hcl:3:12",
        "hint: write it in capitals, `GET`, as Packer requires",
        "error: `url` must not be empty\n  --> bad.pkr.hcl:7:9",
        "error: `sources` depends on `data.http.list`, which is not known until data sources are read\n  --> bad.pkr.hcl:19:13",
        "hint: `validate` does not read data sources; run `kiln validate -evaluate-datasources`",
    ] {
        assert!(r.stderr.contains(want), "missing {want:?} in\n{}", r.stderr);
    }
}

/// A directory template with a `number` and a `list(string)` variable and
/// the given `.auto.pkrvars.hcl` text, under `t/`.
fn template_with_auto_vars(d: &TestDir, auto_vars: &str) {
    d.write(
        "t/build.pkr.hcl",
        "variable \"disk\" {\n  type    = number\n  default = 1\n}\n\nvariable \"boot_command\" {\n  type    = list(string)\n  default = []\n}\n\nsource \"null\" \"a\" {\n  communicator = \"none\"\n}\n\nbuild {\n  sources = [\"source.null.a\"]\n}\n",
    );
    d.write("t/vars.auto.pkrvars.hcl", auto_vars);
}

/// Runs `args` then `t` in `d`, with `env` set.
fn kiln_env(d: &TestDir, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut a = args.to_vec();
    a.push("t");
    let mut c = d.kiln(&a);
    for (k, v) in env {
        c.env(k, v);
    }
    run(c)
}

/// Asserts that `r` failed with exactly one problem, `want`.
fn fails_once(r: &Run, args: &[&str], want: &str) {
    assert_eq!(r.code, 1, "{args:?}: {}", r.stdout);
    assert!(
        r.stderr.contains("1 problem was found"),
        "{args:?}: {}",
        r.stderr
    );
    assert_eq!(r.stderr.matches(want).count(), 1, "{args:?}: {}", r.stderr);
}

const PHASES: [&[&str]; 3] = [&["validate", "-syntax-only"], &["validate"], &["inspect"]];

/// Packer's parse phase collects the values given to the variables and
/// converts them to their types: `Parse` (hashicorp/packer
/// hcl2template/parser.go) ends with `collectInputVariableValues`
/// (hcl2template/types.variables.go), given `os.Environ()`, the
/// `.auto.pkrvars.hcl` files then each `-var-file`, and the `-var`
/// values; `validate -syntax-only` stops after it, and `inspect` fails on
/// its errors (command/inspect.go returns on `GetConfig`'s). So a value
/// that does not fit its type fails all three, reported once by
/// `validate`, which runs both phases.
#[test]
fn given_values_of_the_wrong_type_fail_the_parse_phase_once() {
    let d = dir();
    template_with_auto_vars(&d, "boot_command = \"<enter>\"\n");
    for args in PHASES {
        let r = kiln_env(&d, args, &[]);
        fails_once(
            &r,
            args,
            "error: invalid value for variable `boot_command` from `t/vars.auto.pkrvars.hcl`: \
             a value of type `list(string)` is required, found a string\n  \
             --> t/vars.auto.pkrvars.hcl:1:16",
        );
    }

    // `PKR_VAR_`, `-var-file` and `-var` go through the same check (the
    // last two on `validate`; `inspect` takes no `-var`).
    template_with_auto_vars(&d, "boot_command = [\"<enter>\"]\n");
    for args in PHASES {
        let r = kiln_env(&d, args, &[("PKR_VAR_disk", "big")]);
        fails_once(
            &r,
            args,
            "error: invalid value for variable `disk` from `PKR_VAR_disk`: a number is required, found `big`",
        );
    }
    d.write("more.pkrvars.hcl", "disk = \"big\"\n");
    d.write("more.txt", "disk = 2\n");
    for phase in &PHASES[..2] {
        for (extra, want) in [
            (
                &["-var", "disk=big"][..],
                "error: invalid value for variable `disk` from `-var`: a number is required, found `big`",
            ),
            (
                &["-var", "dsik=2"][..],
                "error: `-var`: undefined variable `dsik`\n  hint: did you mean `disk`?",
            ),
            (
                &["-var-file", "more.pkrvars.hcl"][..],
                "error: invalid value for variable `disk` from `more.pkrvars.hcl`: a number is required, found `big`\n  --> more.pkrvars.hcl:1:8",
            ),
            // Packer: "Could not guess format of more.txt".
            (
                &["-var-file", "more.txt"][..],
                "error: cannot tell the format of variable file `more.txt`",
            ),
        ] {
            let args: Vec<&str> = phase.iter().chain(extra).copied().collect();
            let r = kiln_env(&d, &args, &[]);
            fails_once(&r, &args, want);
        }
    }
    // Fitting values pass every phase.
    d.write("ok.pkrvars.hcl", "disk = 3\n");
    for args in [
        &[
            "validate",
            "-syntax-only",
            "-var-file",
            "ok.pkrvars.hcl",
            "-var",
            "disk=4",
        ][..],
        &["validate", "-var-file", "ok.pkrvars.hcl", "-var", "disk=4"][..],
        &["inspect"][..],
    ] {
        let r = kiln_env(&d, args, &[("PKR_VAR_disk", "2")]);
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
    }
}

/// A `variable` block in a var file is an error of the parse phase:
/// `collectInputVariableValues` (hashicorp/packer
/// hcl2template/types.variables.go) reports "Variable declaration in a
/// .pkrvar file" for it, so `validate -syntax-only` and `inspect` fail too.
#[test]
fn variable_block_in_a_var_file_fails_the_parse_phase_once() {
    let d = dir();
    template_with_auto_vars(&d, "variable \"disk\" {\n  default = 2\n}\n");
    for args in PHASES {
        let r = kiln_env(&d, args, &[]);
        fails_once(
            &r,
            args,
            "error: a variable file can only assign values; found a `variable` block\n  \
             --> t/vars.auto.pkrvars.hcl:1:1",
        );
    }
}
