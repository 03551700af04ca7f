//! The HCL2 loader never panics: random text, and random mutations of a
//! valid template, come back as errors (or a plan), never as a crash.

use kiln_template::hcl::load_hcl;
use kiln_template::{Filters, VariableInputs};
use proptest::prelude::*;

const VALID: &str = r#"
variable "v" {
  type    = list(object({ a = string }))
  default = [{ a = "x" }]
}
locals {
  l = [for x in var.v : upper(x.a)]
  m = merge({ a = 1 }, { b = format("%05d", 3) })
}
source "null" "n" {
  communicator = "none"
}
build {
  name    = "b"
  sources = ["source.null.n"]
  provisioner "shell-local" {
    inline = ["echo ${local.l[0]} ${build.ID} ${source.name}"]
    only   = ["null.n"]
  }
  post-processors {
    post-processor "manifest" {}
  }
}
"#;

fn load(text: &str) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("t.pkr.hcl");
    std::fs::write(&p, text).unwrap();
    let _ = load_hcl(&p, &VariableInputs::default(), &Filters::default());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn random_text_never_panics(s in "\\PC{0,200}") {
        load(&s);
    }

    #[test]
    fn hcl_like_text_never_panics(s in r#"([a-z_]{1,4}|[{}\[\]()"=.,:?!<>+*/%$~-]|\$\{|%\{|\n| |[0-9]){0,120}"#) {
        load(&s);
    }

    #[test]
    fn mutated_valid_templates_never_panic(cut in 0usize..VALID.len(), insert in r#"[{}\[\]()"=.$%~a-z0-9 \n]{0,8}"#) {
        let mut s = VALID.to_string();
        let mut at = cut;
        while !s.is_char_boundary(at) {
            at -= 1;
        }
        s.insert_str(at, &insert);
        load(&s);
        s.truncate(at);
        load(&s);
    }
}

#[test]
fn the_valid_template_plans() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("t.pkr.hcl");
    std::fs::write(&p, VALID).unwrap();
    let (plan, errors) = load_hcl(&p, &VariableInputs::default(), &Filters::default());
    assert!(errors.is_empty(), "{errors}");
    assert_eq!(plan.builds[0].name, "b.null.n");
    assert_eq!(
        plan.builds[0].provisioners[0].raw.values["inline"][0],
        "echo X {{ build `ID` }} n"
    );
}
