//! `kiln validate`: every invalid fixture's errors are snapshotted (all of
//! them at once, with file:line:column and hints); valid fixtures pass.

use crate::support::*;

#[test]
fn invalid_templates_report_every_problem_with_location() {
    let mut all = String::new();
    for f in fixtures("invalid") {
        let d = dir();
        let t = copy_fixture(&d, &f);
        let r = kiln(&d, &["validate", "-var", "zone=z", &t]);
        assert_eq!(r.code, 1, "{f} should be invalid");
        assert!(!r.stderr.contains("panicked"), "{f}: {}", r.stderr);
        all.push_str(&format!("===== {f}\n{}\n", r.snapshot(d.path())));
    }
    insta::assert_snapshot!(all);
}

#[test]
fn valid_templates_pass() {
    for f in fixtures("valid") {
        let d = dir();
        let t = copy_fixture(&d, &f);
        let r = kiln(&d, &["validate", &t]);
        assert_eq!(r.code, 0, "{f}: {}", r.stderr);
        assert_eq!(r.stdout, "The configuration is valid.\n", "{f}");
    }
}

#[test]
fn syntax_only_skips_component_checks() {
    let d = dir();
    let t = copy_fixture(&d, "invalid/unknown-keys.json");
    let r = kiln(&d, &["validate", "-syntax-only", &t]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let t = copy_fixture(&d, "invalid/bad-json.json");
    let r = kiln(&d, &["validate", "-syntax-only", &t]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("bad-json.json:4:3"), "{}", r.stderr);
}

#[test]
fn machine_readable_errors() {
    let d = dir();
    let t = copy_fixture(&d, "invalid/unknown-root-key.json");
    let r = kiln(&d, &["validate", "-machine-readable", &t]);
    assert_eq!(r.code, 1);
    assert!(r.stdout.contains(",,ui,error,unknown-root-key.json:2:3: unknown top-level key `buildrs`\\n  hint: did you mean `builders`?"), "{}", r.stdout);
}

#[test]
fn raw_control_bytes_in_a_template_are_escaped_in_errors() {
    let d = dir();
    // An ESC byte (JSON-escaped, so the file is valid JSON) in an unknown
    // builder type and a raw one in the source line the error shows.
    d.write(
        "t.json",
        "{\"builders\": [{\"type\": \"nul\\u001b[2Jl\", \"x\": 1}], \"_c\": \"\u{1b}[2J\"}",
    );
    let r = kiln(&d, &["validate", "t.json"]);
    assert_eq!(r.code, 1);
    assert!(!r.stderr.contains('\x1b'), "{:?}", r.stderr);
    assert!(r.stderr.contains("\\u{1b}[2J"), "{}", r.stderr);
}
