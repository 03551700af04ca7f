//! One module per `kiln` command, and [`TABLE`], the list of them that the
//! top-level usage, `kiln help COMMAND`, shell completion and the man pages
//! are made from.

pub mod build;
pub mod cache;
pub mod cleanup;
pub mod common;
pub mod completion;
pub mod console;
pub mod doctor;
pub mod fix;
pub mod fmt;
pub mod hcl2_upgrade;
pub mod init;
pub mod inspect;
pub mod plugins;
pub mod validate;
pub mod verify_attestation;
pub mod version;

use crate::cli::Flag;

/// What a command takes after its flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operand {
    /// Nothing.
    None,
    /// One template file or directory.
    Template,
    /// Template files or directories, any number.
    Templates,
    /// A subcommand and its arguments (`kiln plugins installed`).
    Subcommand(&'static [(&'static str, &'static str)]),
    /// A shell name (`kiln completion bash`).
    Shell,
    /// Files, named by these placeholders (`ATTESTATION`, `ARTIFACT`); all
    /// but the first are optional.
    Files(&'static [&'static str]),
}

/// One command of the `kiln` binary.
pub struct Command {
    /// Its name: `kiln NAME`.
    pub name: &'static str,
    /// One line on what it does, as the top-level usage shows it.
    pub about: &'static str,
    /// Its `-h` text; the flags' help is read from the lines that start
    /// with `  -NAME`.
    pub usage: &'static str,
    /// The flags it accepts.
    pub flags: &'static [Flag],
    /// What follows the flags.
    pub operand: Operand,
}

/// Every command, in the order the top-level usage lists them.
pub const TABLE: &[Command] = &[
    Command {
        name: "build",
        about: "build image(s) from template",
        usage: build::USAGE,
        flags: build::FLAGS,
        operand: Operand::Template,
    },
    Command {
        name: "cache",
        about: "list and remove the checkpoints of incremental builds",
        usage: cache::USAGE,
        flags: &[],
        operand: Operand::Subcommand(&[
            ("list", "list the checkpoints, most recently used first"),
            (
                "prune",
                "remove least recently used checkpoints down to a size, and old ones",
            ),
            ("clear", "remove every checkpoint"),
        ]),
    },
    Command {
        name: "cleanup",
        about: "delete what a killed run left behind, found by its run tags",
        usage: cleanup::USAGE,
        flags: cleanup::FLAGS,
        operand: Operand::None,
    },
    Command {
        name: "completion",
        about: "print a shell completion script (bash, zsh, fish, elvish, powershell)",
        usage: completion::USAGE,
        flags: &[],
        operand: Operand::Shell,
    },
    Command {
        name: "console",
        about: "creates a console for testing HCL2 expressions",
        usage: console::USAGE,
        flags: console::FLAGS,
        operand: Operand::Template,
    },
    Command {
        name: "doctor",
        about: "check which builders can run on this machine",
        usage: doctor::USAGE,
        flags: &[],
        operand: Operand::None,
    },
    Command {
        name: "fix",
        about: "fixes templates from old versions of packer",
        usage: fix::USAGE,
        flags: fix::FLAGS,
        operand: Operand::Template,
    },
    Command {
        name: "fmt",
        about: "Rewrites HCL2 config files to canonical format",
        usage: fmt::USAGE,
        flags: fmt::FLAGS,
        operand: Operand::Templates,
    },
    Command {
        name: "hcl2_upgrade",
        about: "transform a JSON template into an HCL2 configuration",
        usage: hcl2_upgrade::USAGE,
        flags: hcl2_upgrade::FLAGS,
        operand: Operand::Template,
    },
    Command {
        name: "init",
        about: "install the plugins a template requires",
        usage: init::USAGE,
        flags: init::FLAGS,
        operand: Operand::Template,
    },
    Command {
        name: "inspect",
        about: "see components of a template",
        usage: inspect::USAGE,
        flags: inspect::FLAGS,
        operand: Operand::Template,
    },
    Command {
        name: "plugins",
        about: "list, install and remove plugins",
        usage: plugins::USAGE,
        flags: &[],
        operand: Operand::Subcommand(&[
            (
                "installed",
                "list every plugin kiln finds, with its components",
            ),
            (
                "install",
                "install a plugin binary as SOURCE (HOST/ORG/NAME)",
            ),
            (
                "remove",
                "remove an installed plugin (every version, or one)",
            ),
            (
                "required",
                "list a template's required plugins and what satisfies them",
            ),
        ]),
    },
    Command {
        name: "validate",
        about: "check that a template is valid",
        usage: validate::USAGE,
        flags: validate::FLAGS,
        operand: Operand::Template,
    },
    Command {
        name: "verify-attestation",
        about: "verify a provenance attestation's signature and subjects",
        usage: verify_attestation::USAGE,
        flags: verify_attestation::FLAGS,
        operand: Operand::Files(&["ATTESTATION", "ARTIFACT"]),
    },
    Command {
        name: "version",
        about: "Prints the kiln version",
        usage: version::USAGE,
        flags: &[],
        operand: Operand::None,
    },
];

/// The command called `name`.
pub fn find(name: &str) -> Option<&'static Command> {
    TABLE.iter().find(|c| c.name == name)
}

/// The top-level usage: the commands and what each does.
pub fn usage() -> String {
    let mut s = String::from(
        "Usage: kiln [--version] [--help] <command> [<args>]\n\nAvailable commands are:\n",
    );
    for c in TABLE {
        // At least one space after a long name (`verify-attestation`).
        s.push_str(&format!("    {:<15} {}\n", c.name, c.about));
    }
    s
}

/// The help text of `flag` in `usage`: what follows the flag's name (and
/// its value placeholder) on the line that starts with `  -NAME`.
pub fn flag_help(usage: &str, flag: &str) -> String {
    for line in usage.lines() {
        let t = line.trim_start();
        let Some(rest) = t.strip_prefix('-').map(|r| r.trim_start_matches('-')) else {
            continue;
        };
        let Some(after) = rest.strip_prefix(flag) else {
            continue;
        };
        if !after.is_empty() && !after.starts_with([' ', '=', '\'']) {
            continue;
        }
        // The help starts after the first run of two or more spaces, or
        // after a placeholder with no spaces in it (`-on-error=[a|b] Help`).
        let start = after
            .find("  ")
            .unwrap_or_else(|| after.find(' ').unwrap_or(after.len()));
        return after[start..].trim().to_string();
    }
    String::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_flag_of_every_command_has_help() {
        for c in TABLE {
            for f in c.flags {
                assert!(
                    !flag_help(c.usage, f.name).is_empty(),
                    "`kiln {} -{}` has no line in its usage",
                    c.name,
                    f.name
                );
            }
        }
    }

    #[test]
    fn flag_help_reads_the_usage_line() {
        assert_eq!(
            flag_help(build::USAGE, "var"),
            "Variable for templates, can be used multiple times."
        );
        assert!(flag_help(build::USAGE, "on-error").starts_with("If the build fails do"));
        assert_eq!(
            flag_help(build::USAGE, "var-file"),
            "JSON file containing user variables, can be used multiple times."
        );
    }
}
