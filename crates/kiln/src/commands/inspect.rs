//! `kiln inspect`: list what a template defines, in Packer's format
//! (variables, builders, provisioners), without validating components.

use kiln_core::ui::Level;
use kiln_template::hcl::types_data::DataSources;

use super::common;
use crate::cli::{Flag, Kind};

pub const USAGE: &str = "Usage: kiln inspect TEMPLATE

  Inspects a template, parsing and outputting the components a template
  defines. This does not validate the contents of a template (other than
  basic syntax by necessity).

Options:

  -machine-readable  Machine-readable output
";

pub const FLAGS: &[Flag] = &[Flag::new("machine-readable", Kind::Bool)];

/// Runs `kiln inspect`.
pub fn run(args: Vec<String>, machine_readable: bool) -> u8 {
    let common::Invocation {
        template: path,
        output,
        redactor,
        ..
    } = match common::start(&args, FLAGS, USAGE, machine_readable) {
        Ok(i) => i,
        Err(code) => return code,
    };
    if common::is_hcl2(&path) {
        return inspect_hcl2(&path, &output, &redactor);
    }
    let t = match common::load_template(&path) {
        Ok(t) => t,
        Err(errors) => {
            common::print_errors(&output, &errors);
            return 1;
        }
    };
    let say = |s: &str| output.line(Level::Say, s);
    say("Packer Inspect: JSON mode");
    if let Some(d) = t.description.as_deref().filter(|d| !d.is_empty()) {
        say("Description:\n");
        say(&format!("{d}\n"));
    }
    let mut vars = t.variables.clone();
    vars.sort_by(|a, b| a.name.cmp(&b.name));
    let required: Vec<_> = vars.iter().filter(|v| v.default.is_none()).collect();
    let optional: Vec<_> = vars.iter().filter(|v| v.default.is_some()).collect();
    if vars.is_empty() {
        say("Variables:\n");
        say("  <No variables>");
        say("");
    }
    if !required.is_empty() {
        say("Required variables:\n");
        for v in &required {
            output.machine("", "template-variable", &[&v.name, "", "1"]);
            say(&format!("  {}", v.name));
        }
        say("");
    }
    if !optional.is_empty() {
        say("Optional variables and their defaults:\n");
        let width = optional.iter().map(|v| v.name.len()).max().unwrap_or(0);
        for v in &optional {
            let value = if t.sensitive_variables.contains(&v.name) {
                "<sensitive>".to_string()
            } else {
                v.default.clone().unwrap_or_default()
            };
            output.machine("", "template-variable", &[&v.name, &value, "0"]);
            say(&format!("  {:<width$} = {value}", v.name));
        }
        say("");
    }
    say("Builders:\n");
    if t.builders.is_empty() {
        say("  <No builders>");
    }
    let mut builders = t.builders.clone();
    builders.sort_by(|a, b| a.name.cmp(&b.name));
    let width = builders.iter().map(|b| b.name.len()).max().unwrap_or(0);
    for b in &builders {
        output.machine("", "template-builder", &[&b.name, &b.builder_type]);
        if b.name == b.builder_type {
            say(&format!("  {}", b.name));
        } else {
            say(&format!("  {:<width$} ({})", b.name, b.builder_type));
        }
    }
    say("");
    say("Provisioners:\n");
    if t.provisioners.is_empty() {
        say("  <No provisioners>");
    }
    for pr in &t.provisioners {
        output.machine("", "template-provisioner", &[&pr.provisioner_type]);
        say(&format!("  {}", pr.provisioner_type));
    }
    say("\nNote: If your build names contain user variables or template\nfunctions such as 'timestamp', these are processed at build time,\nand therefore only show in their raw form here.");
    0
}

/// `kiln inspect` on an HCL2 template, in Packer's HCL2 layout: input
/// variables and locals with their values (sensitive ones hidden), then
/// each build's sources, provisioners and post-processor chains.
/// As Packer's, it fails on what the parse phase finds, values given by
/// `PKR_VAR_*` and the auto var files included (`inspect` takes no `-var`).
fn inspect_hcl2(
    path: &std::path::Path,
    output: &kiln_core::ui::Output,
    redactor: &kiln_sdk::ui::Redactor,
) -> u8 {
    let (mut t, errors) = kiln_template::hcl::parse(path);
    for v in &t.inputs.sensitive_inputs {
        redactor.add(v.clone());
    }
    if !errors.is_empty() {
        common::print_errors(output, &errors);
        return 1;
    }
    // The table's errors (required plugins) are `validate`'s to report.
    let (table, _) = crate::commands::plugins::hcl_table(&t);
    t.data_sources = DataSources::new(std::sync::Arc::new(table));
    let (i, _) = kiln_template::hcl::inspect(&t);
    let say = |s: &str| output.line(Level::Say, s);
    say("Packer Inspect: HCL2 mode\n");
    say("> input-variables:\n");
    for (name, value, sensitive) in &i.variables {
        let v = if *sensitive {
            "<sensitive>"
        } else {
            value.as_str()
        };
        output.machine("", "template-variable", &[name, v, "0"]);
        say(&format!("var.{name}: {v}"));
    }
    say("\n> local-variables:\n");
    for (name, value, sensitive) in &i.locals {
        let v = if *sensitive {
            "<sensitive>"
        } else {
            value.as_str()
        };
        say(&format!("local.{name}: {v}"));
    }
    say("\n> builds:\n");
    for (name, builder_type, provisioners, chains) in &i.builds {
        output.machine("", "template-builder", &[name, builder_type]);
        say(&format!("  > {name}:\n"));
        say(&format!("    sources:\n\n      {builder_type}\n"));
        if !provisioners.is_empty() {
            say("    provisioners:\n");
            for p in provisioners {
                output.machine("", "template-provisioner", &[p]);
                say(&format!("      {p}"));
            }
            say("");
        }
        if !chains.is_empty() {
            say("    post-processors:\n");
            for (n, chain) in chains.iter().enumerate() {
                say(&format!("      {n}:"));
                for pp in chain {
                    say(&format!("        {pp}"));
                }
            }
            say("");
        }
    }
    0
}
