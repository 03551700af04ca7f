//! `legacy::parse` and `plan::plan` never panic, and every error that comes
//! from the template file carries a location.
#![no_main]

use std::path::PathBuf;

use kiln_sdk::interpolate::Context;
use kiln_template::plan::{plan, Filters, VariableInputs};
use libfuzzer_sys::fuzz_target;

fn context() -> Context {
    Context {
        init_time: chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default(),
        ..Default::default()
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    let t = match kiln_template::legacy::parse(src, "fuzz.json".into(), PathBuf::from("/tmp")) {
        Ok(t) => t,
        Err(errs) => {
            assert!(!errs.is_empty());
            for e in &errs.0 {
                let loc = e
                    .location
                    .as_ref()
                    .unwrap_or_else(|| panic!("no location: {e}"));
                assert!(loc.line >= 1 && loc.column >= 1, "{e}");
            }
            return;
        }
    };
    // Variables given on the command line, and filters over the builds.
    let inputs = VariableInputs {
        var_files: Vec::new(),
        vars: t
            .variables
            .iter()
            .take(2)
            .map(|v| (v.name.clone(), "{{user `x`}}".to_string()))
            .collect(),
    };
    let first = t
        .builders
        .first()
        .map(|b| b.name.clone())
        .unwrap_or_default();
    for filters in [
        Filters::default(),
        Filters {
            only: vec![first.clone(), "*".into()],
            except: vec!["{a,b}*".into(), first],
        },
    ] {
        if let Err(errs) = plan(&t, &inputs, &filters, context()) {
            for e in &errs.0 {
                let from_flags =
                    e.message.starts_with("`-only`") || e.message.starts_with("`-except`");
                assert!(from_flags || e.location.is_some(), "no location: {e}");
            }
        }
    }
});
