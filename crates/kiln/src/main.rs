//! The `kiln` binary: one thin module per command. Parsing of flags lives
//! in [`cli`], shared template loading in [`commands::common`]; the work
//! itself is in the library crates.

mod cli;
mod commands;

use std::process::ExitCode;

const USAGE: &str = "Usage: kiln [--version] [--help] <command> [<args>]

Available commands are:
    build           build image(s) from template
    console         creates a console for testing HCL2 expressions
    fix             fixes templates from old versions of packer
    fmt             Rewrites HCL2 config files to canonical format
    hcl2_upgrade    transform a JSON template into an HCL2 configuration
    init            install the plugins a template requires
    inspect         see components of a template
    plugins         list, install and remove plugins
    validate        check that a template is valid
    version         Prints the kiln version
";

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    // `-machine-readable` may come before the command, as with Packer.
    let mut machine_readable = false;
    while let Some(first) = args.first() {
        match first.as_str() {
            "-machine-readable" | "--machine-readable" => {
                machine_readable = true;
                args.remove(0);
            }
            _ => break,
        }
    }
    let Some(command) = args.first().cloned() else {
        eprint!("{USAGE}");
        return ExitCode::from(127);
    };
    let rest = args[1..].to_vec();
    let code = match command.as_str() {
        "build" => commands::build::run(rest, machine_readable),
        "validate" => commands::validate::run(rest, machine_readable),
        "inspect" => commands::inspect::run(rest, machine_readable),
        "fix" => commands::fix::run(rest),
        "init" => commands::init::run(rest),
        "plugins" => commands::plugins::run(rest),
        "console" => commands::console::run(rest),
        "fmt" => commands::fmt::run(rest),
        "hcl2_upgrade" => commands::hcl2_upgrade::run(rest),
        "version" | "-v" | "-version" | "--version" => {
            if rest
                .iter()
                .any(|a| matches!(a.as_str(), "-h" | "-help" | "--help"))
            {
                print!("{}", commands::version::USAGE);
                0
            } else {
                commands::version::run(
                    machine_readable
                        || rest
                            .iter()
                            .any(|a| a.trim_start_matches('-') == "machine-readable"),
                )
            }
        }
        "-h" | "-help" | "--help" | "help" => {
            print!("{USAGE}");
            0
        }
        other => {
            let commands = [
                "build",
                "console",
                "fix",
                "fmt",
                "hcl2_upgrade",
                "init",
                "inspect",
                "plugins",
                "validate",
                "version",
            ];
            let hint = kiln_sdk::config::did_you_mean(other, commands)
                .map(|c| format!("\n  hint: did you mean `kiln {c}`?"))
                .unwrap_or_default();
            eprintln!("error: unknown command `{other}`{hint}\n");
            eprint!("{USAGE}");
            127
        }
    };
    ExitCode::from(code)
}
