//! The `kiln` binary: one thin module per command. Parsing of flags lives
//! in [`cli`], shared template loading in [`commands::common`]; the work
//! itself is in the library crates.

mod cli;
mod commands;
mod limits;

use std::process::ExitCode;

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
        eprint!("{}", commands::usage());
        return ExitCode::from(127);
    };
    let rest = args[1..].to_vec();
    ExitCode::from(dispatch(&command, rest, machine_readable))
}

/// Runs `command` with its arguments; returns the exit code.
fn dispatch(command: &str, rest: Vec<String>, machine_readable: bool) -> u8 {
    match command {
        "build" => commands::build::run(rest, machine_readable),
        "validate" => commands::validate::run(rest, machine_readable),
        "inspect" => commands::inspect::run(rest, machine_readable),
        "fix" => commands::fix::run(rest),
        "cleanup" => commands::cleanup::run(rest),
        "init" => commands::init::run(rest),
        "plugins" => commands::plugins::run(rest),
        "cache" => commands::cache::run(rest),
        "console" => commands::console::run(rest),
        "fmt" => commands::fmt::run(rest),
        "hcl2_upgrade" => commands::hcl2_upgrade::run(rest),
        "completion" => commands::completion::run(rest),
        "doctor" => commands::doctor::run(rest),
        "verify-attestation" => commands::verify_attestation::run(rest),
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
        // `kiln help build` shows the build command's help (Packer 1.6.6
        // prints the command list; its `packer build -h` is what users want).
        "help" if rest.first().is_some_and(|c| commands::find(c).is_some()) => {
            dispatch(&rest[0], vec!["-help".to_string()], machine_readable)
        }
        "-h" | "-help" | "--help" | "help" => {
            print!("{}", commands::usage());
            0
        }
        other => {
            let names = commands::TABLE.iter().map(|c| c.name);
            let hint = kiln_sdk::config::did_you_mean(other, names)
                .map(|c| format!("\n  hint: did you mean `kiln {c}`?"))
                .unwrap_or_default();
            eprintln!("error: unknown command `{other}`{hint}\n");
            eprint!("{}", commands::usage());
            127
        }
    }
}
