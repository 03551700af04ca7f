//! The HCL2 loader and evaluator: any text read as native HCL2
//! (`parser::parse_file`) and as HCL2 JSON syntax
//! (`json_syntax::parse_file`); what parses has its variables resolved
//! and its locals evaluated (functions, operators, `try`/`can`, `for`
//! expressions, templates). Never panics; every error has a location.
//! Data sources are not read (they make network requests).
#![no_main]

use kiln_sdk::config::ConfigErrors;
use kiln_template::hcl::parser::{parse_file, SourceFile};
use kiln_template::hcl::{json_syntax, types_locals, types_variable};
use kiln_template::VariableInputs;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if text.len() > 16 * 1024 {
        return;
    }
    let f = SourceFile::new("f.pkr.hcl".into(), text);
    for parsed in [parse_file(&f, text), json_syntax::parse_file(&f, text)] {
        let body = match parsed {
            Ok(b) => b,
            Err(e) => {
                assert!(e.0.iter().all(|e| e.location.is_some()), "{e}");
                continue;
            }
        };
        let mut errors = ConfigErrors::new();
        let mut vars = Vec::new();
        let mut locals = Vec::new();
        for b in &body.blocks {
            match b.ident.as_str() {
                "variable" => vars.extend(types_variable::decode_variable(b, &mut errors)),
                "locals" => locals.extend(types_locals::decode_locals(b, &mut errors)),
                "local" => locals.extend(types_locals::decode_local(b, &mut errors)),
                _ => {}
            }
        }
        let given =
            types_variable::collect_inputs(&vars, &[], &VariableInputs::default(), &mut errors);
        let resolved = types_variable::resolve(&vars, &given, ".", &mut errors);
        let _ = types_locals::evaluate_all(
            &locals,
            &[],
            &resolved.values,
            &resolved.sensitive,
            ".",
            &mut errors,
        );
        let _ = errors.to_string();
    }
});
