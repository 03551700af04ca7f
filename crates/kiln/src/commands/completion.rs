//! `kiln completion SHELL` prints a completion script for bash, zsh, fish,
//! elvish or PowerShell, and `kiln completion --man DIR` writes a man page
//! per command. Both are made from [`super::TABLE`] through a `clap`
//! description of the commands, so they never fall behind the flags the
//! commands really accept. kiln reads flags the Go way (`-var`); the
//! completions offer the `--var` spelling, which kiln accepts too.

use std::path::Path;

use clap::{Arg, ArgAction, ValueHint};
use clap_complete::Shell;

use super::{flag_help, Operand, TABLE};
use crate::cli::Kind;

/// `kiln completion -h`.
pub const USAGE: &str = "Usage: kiln completion SHELL
       kiln completion --man DIRECTORY

  Prints a shell completion script for SHELL (bash, zsh, fish, elvish or
  powershell), or writes kiln's man pages (kiln.1, kiln-build.1, ...) into
  DIRECTORY.

  bash:  kiln completion bash > ~/.local/share/bash-completion/completions/kiln
  zsh:   kiln completion zsh > \"${fpath[1]}/_kiln\"
  fish:  kiln completion fish > ~/.config/fish/completions/kiln.fish
";

/// The `clap` description of kiln's commands and flags.
pub fn command() -> clap::Command {
    let mut top = clap::Command::new("kiln")
        .about("A fast, Packer-compatible machine-image builder")
        .version(kiln_sdk::KILN_VERSION)
        .disable_help_subcommand(true);
    for c in TABLE {
        let mut sub = clap::Command::new(c.name).about(c.about);
        for f in c.flags {
            let arg = Arg::new(f.name)
                .long(f.name)
                .help(flag_help(c.usage, f.name));
            sub = sub.arg(match f.kind {
                Kind::Bool => arg.action(ArgAction::SetTrue),
                Kind::Value => arg.action(ArgAction::Set).value_name("VALUE"),
                Kind::Repeated => arg.action(ArgAction::Append).value_name("VALUE"),
            });
        }
        sub = match c.operand {
            Operand::None => sub,
            Operand::Template => sub.arg(
                Arg::new("TEMPLATE")
                    .help("a template file or a directory of HCL2 files")
                    .value_hint(ValueHint::AnyPath),
            ),
            Operand::Templates => sub.arg(
                Arg::new("TEMPLATE")
                    .num_args(0..)
                    .help("template files or directories")
                    .value_hint(ValueHint::AnyPath),
            ),
            Operand::Files(names) => {
                for (i, name) in names.iter().enumerate() {
                    sub = sub.arg(
                        Arg::new(*name)
                            .required(i == 0)
                            .value_hint(ValueHint::FilePath),
                    );
                }
                sub
            }
            Operand::Shell => sub.arg(
                Arg::new("SHELL")
                    .value_parser(["bash", "zsh", "fish", "elvish", "powershell"])
                    .help("the shell to complete for"),
            ),
            Operand::Subcommand(subs) => {
                for (name, about) in subs {
                    sub = sub.subcommand(
                        clap::Command::new(*name).about(*about).arg(
                            Arg::new("ARGS")
                                .num_args(0..)
                                .value_hint(ValueHint::AnyPath),
                        ),
                    );
                }
                sub
            }
        };
        top = top.subcommand(sub);
    }
    top
}

/// Runs `kiln completion`.
pub fn run(args: Vec<String>) -> u8 {
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["-h" | "-help" | "--help"] => {
            print!("{USAGE}");
            0
        }
        ["-man" | "--man", dir] => match write_man_pages(Path::new(dir)) {
            Ok(n) => {
                println!("wrote {n} man pages to `{dir}`");
                0
            }
            Err(e) => {
                eprintln!("error: {e}");
                1
            }
        },
        [shell] => match shell.parse::<Shell>() {
            Ok(sh) => {
                clap_complete::generate(sh, &mut command(), "kiln", &mut std::io::stdout());
                0
            }
            Err(_) => super::common::usage_error(
                &format!("unknown shell `{shell}`: expected bash, zsh, fish, elvish or powershell"),
                USAGE,
            ),
        },
        _ => super::common::usage_error("expected one SHELL, or `--man DIRECTORY`", USAGE),
    }
}

/// Writes `kiln.1` and `kiln-COMMAND.1` for every command into `dir`
/// (created if missing); returns how many pages it wrote.
fn write_man_pages(dir: &Path) -> Result<usize, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create `{}`: {e}", dir.display()))?;
    let top = command();
    let mut pages = vec![("kiln.1".to_string(), top.clone())];
    for sub in top.get_subcommands() {
        let name = format!("kiln-{}", sub.get_name());
        pages.push((format!("{name}.1"), sub.clone().name(name)));
    }
    for (file, cmd) in &pages {
        let mut buf = Vec::new();
        clap_mangen::Man::new(cmd.clone())
            .render(&mut buf)
            .map_err(|e| format!("cannot render `{file}`: {e}"))?;
        let path = dir.join(file);
        std::fs::write(&path, buf)
            .map_err(|e| format!("cannot write `{}`: {e}", path.display()))?;
    }
    Ok(pages.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clap_description_is_consistent() {
        command().debug_assert();
    }

    #[test]
    fn bash_completion_offers_commands_and_their_flags() {
        let mut out = Vec::new();
        clap_complete::generate(Shell::Bash, &mut command(), "kiln", &mut out);
        let s = String::from_utf8(out).unwrap();
        for want in [
            "build",
            "validate",
            "--var-file",
            "--parallel-builds",
            "--syntax-only",
        ] {
            assert!(
                s.contains(want),
                "`{want}` missing from the bash completion"
            );
        }
    }
}
