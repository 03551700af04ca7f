//! `kiln console` with piped input, in both of Packer's modes: HCL2
//! expressions against a `.pkr.hcl` template, and Go templates against a
//! legacy JSON template's user variables. Values are compared with what
//! packer 1.6.6's `packer console` prints for the same input. (The
//! terminal, with line editing and history, is in terminal.rs.)

use crate::support::*;

const HCL: &str = r#"variable "name" { default = "cli" }
variable "pw" {
  default   = "hunter2-console"
  sensitive = true
}
locals {
  tags = { owner = "me", n = 2 }
  l    = [1, "x", true]
}
source "null" "a" { communicator = "none" }
build { sources = ["source.null.a"] }
"#;

const JSON: &str = r#"{"variables": {"foo": "bar", "n": "3", "pw": "hunter2-json"},
 "sensitive-variables": ["pw"],
 "builders": [{"type": "null", "communicator": "none"}]}"#;

/// Runs `console` with `input` piped in, by kiln and (for one-line inputs,
/// since packer prints only the last result) by packer 1.6.6.
fn console(d: &TestDir, program: &str, template: &str, input: &str) -> Run {
    let args = ["console", template];
    let c = match program {
        "kiln" => d.kiln(&args),
        _ => d.packer(&args).expect("packer"),
    };
    kiln_test::run_with_input(c, input.as_bytes())
}

#[test]
fn hcl2_values_print_as_packer_prints_them() {
    let d = dir();
    d.write("t.pkr.hcl", HCL);
    let packer = kiln_test::packer_or_skip("the console comparison").is_some();
    for expr in [
        "var.name",
        "local.tags",
        "local.l",
        "\"a${var.name}\"",
        "null",
        "{a={b=[1, 2.5]}}",
        "[\"q\\\"uote\"]",
        "1.5",
        "10 / 4",
        "[]",
    ] {
        let kiln = console(&d, "kiln", "t.pkr.hcl", &format!("{expr}\n"));
        assert_eq!(kiln.code, 0, "{expr}: {}", kiln.stderr);
        if packer {
            let want = console(&d, "packer", "t.pkr.hcl", &format!("{expr}\n"));
            assert_eq!(want.code, 0, "packer on {expr}: {}", want.stderr);
            assert_eq!(kiln.stdout, want.stdout, "{expr}");
        }
    }
}

#[test]
fn hcl2_variables_and_expression_errors() {
    let d = dir();
    d.write("t.pkr.hcl", HCL);
    let r = console(&d, "kiln", "t.pkr.hcl", "variables\n");
    assert_eq!(r.code, 0, "{}", r.stderr);
    insta::assert_snapshot!(r.stdout, @r#"
    > input-variables:

    var.name: "cli"
    var.pw: "<sensitive>"

    > local-variables:

    local.l: "[\n  1,\n  \"x\",\n  true,\n]"
    local.tags: "{\n  \"n\" = 2\n  \"owner\" = \"me\"\n}"
    "#);
    // An expression that does not parse, and one that fails: each is an
    // error about the expression, with its column, and the console goes on.
    let r = console(&d, "kiln", "t.pkr.hcl", "upper(\nvar.nope\nvar.name\n");
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(r.stdout, "cli\n");
    insta::assert_snapshot!(r.stderr);
}

#[test]
fn json_templates_render_go_templates_with_their_variables() {
    let d = dir();
    d.write("t.json", JSON);
    let packer = kiln_test::packer_or_skip("the console comparison").is_some();
    for line in [
        "{{user `foo`}}",
        "{{upper (user `foo`)}}",
        "plain text",
        "{{ split \"a,b\" \",\" 1 }}",
        "{{ user `n` }}-{{ user `foo` }}",
        "{{isotime `2006`}}",
    ] {
        let kiln = console(&d, "kiln", "t.json", &format!("{line}\n"));
        assert_eq!(kiln.code, 0, "{line}: {}", kiln.stderr);
        if packer {
            let want = console(&d, "packer", "t.json", &format!("{line}\n"));
            assert_eq!(kiln.stdout, want.stdout, "{line}");
        }
    }
    // `-var` wins over the default; a sensitive variable stays hidden.
    let mut c = d.kiln(&["console", "-var", "foo=given", "t.json"]);
    c.env_remove("KILN_NO_LIVE");
    let r = kiln_test::run_with_input(c, b"{{user `foo`}}\n{{user `pw`}}\nvariables\n");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout,
        "given\n<sensitive>\n\nfoo: given,\nn: 3,\npw: <sensitive>,\n"
    );
    assert!(!r.stdout.contains("hunter2"), "{}", r.stdout);
    // What JSON mode cannot see fails, clearly, with exit code 1 (packer
    // 1.6.6 prints the error on stdout and exits 0).
    let r = console(&d, "kiln", "t.json", "{{build_name}}\n{{ bad }}\n");
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(r.stdout, "");
    insta::assert_snapshot!(r.stderr);
}

#[test]
fn json_mode_without_a_template_and_its_help() {
    let d = dir();
    let r = kiln_test::run_with_input(
        d.kiln(&["console", "-config-type=json"]),
        b"{{ upper `x` }}\nhelp\n",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.starts_with("X\nkiln console, JSON mode:"),
        "{}",
        r.stdout
    );
    let r = kiln(&d, &["console", "-config-type=yaml"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("expected `hcl2` or `json`"),
        "{}",
        r.stderr
    );
}
