//! `kiln doctor`: which builders can run on this machine, and for each
//! thing one lacks, the Debian package that brings it. It only looks
//! (PATH, `/dev/kvm`, the Docker engine's ping, credential sources) and
//! changes nothing; it reuses the builders' own probes (the qemu builder's
//! KVM probe, the docker builder's engine connection), so it answers what a
//! build would find.

use std::path::PathBuf;

use kiln_builder_qemu::driver::{Driver, QemuDriver};

/// `kiln doctor -h`.
pub const USAGE: &str = "Usage: kiln doctor

  Checks what kiln's builders, provisioners and post-processors need at run
  time (QEMU, the Docker engine, ...) and says which builders can run on
  this machine, with the package to install for what is missing. It changes
  nothing. The exit status is 0 when every check passes, 2 when something
  is missing.
";

/// How one check came out.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    /// Usable, with what was found.
    Ok(String),
    /// Usable with a limitation (QEMU without KVM).
    Limited(String),
    /// Not usable: why, and what to install or do.
    Missing { why: String, fix: String },
}

/// A program that must be on PATH, with the Debian package that has it.
struct Program {
    name: &'static str,
    package: &'static str,
}

/// What the qemu builder runs.
const QEMU_PROGRAMS: &[Program] = &[
    Program {
        name: "qemu-system-x86_64",
        package: "qemu-system-x86",
    },
    Program {
        name: "qemu-img",
        package: "qemu-utils",
    },
];

/// Programs that some options of the builders and post-processors run.
const OPTIONAL_PROGRAMS: &[(Program, &str)] = &[
    (
        Program {
            name: "xorriso",
            package: "xorriso",
        },
        "qemu `cd_files` / `cd_content`",
    ),
    (
        Program {
            name: "mcopy",
            package: "mtools",
        },
        "qemu `floppy_files`",
    ),
    (
        Program {
            name: "mkfs.vfat",
            package: "dosfstools",
        },
        "qemu `floppy_files`",
    ),
    (
        Program {
            name: "swtpm",
            package: "swtpm",
        },
        "qemu `vtpm`",
    ),
    (
        Program {
            name: "sh",
            package: "dash",
        },
        "the shell-local provisioner and post-processor",
    ),
];

/// Where `name` is on `path` (a PATH value), if it is there.
fn which(name: &str, path: &str) -> Option<PathBuf> {
    std::env::split_paths(path)
        .map(|d| d.join(name))
        .find(|p| kiln_plugin::discover::is_executable(p))
}

/// The qemu builder: its programs, then whether KVM really runs a guest.
async fn qemu(path: &str) -> Outcome {
    let missing: Vec<&Program> = QEMU_PROGRAMS
        .iter()
        .filter(|p| which(p.name, path).is_none())
        .collect();
    if !missing.is_empty() {
        let names: Vec<String> = missing.iter().map(|p| format!("`{}`", p.name)).collect();
        let packages: Vec<&str> = missing.iter().map(|p| p.package).collect();
        return Outcome::Missing {
            why: format!("{} not found on PATH", names.join(" and ")),
            fix: format!("apt-get install {}", packages.join(" ")),
        };
    }
    let binary = which("qemu-system-x86_64", path)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    if QemuDriver.kvm_usable(&binary).await {
        Outcome::Ok("qemu-system-x86_64 and qemu-img; KVM works".into())
    } else {
        Outcome::Limited(
            "qemu-system-x86_64 and qemu-img; KVM is not usable here, so guests run under TCG \
             (software emulation, several times slower)"
                .into(),
        )
    }
}

/// The docker builder and post-processors: the engine answers.
async fn docker() -> Outcome {
    let endpoint = kiln_builder_docker::client::Endpoint::from_env(|k| std::env::var(k).ok());
    let host = endpoint.host();
    let attempt = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        let d = kiln_builder_docker::connect()
            .await
            .map_err(|e| e.to_string())?;
        d.version().await.map_err(|e| e.to_string())
    })
    .await;
    match attempt {
        Ok(Ok(v)) => Outcome::Ok(format!(
            "Docker engine {} at `{host}`",
            v.version.unwrap_or_else(|| "(unknown version)".into())
        )),
        Ok(Err(e)) => Outcome::Missing {
            why: format!("the Docker engine at `{host}` does not answer: {e}"),
            fix: "apt-get install docker.io, start it (`systemctl start docker`), or set \
                  DOCKER_HOST"
                .into(),
        },
        Err(_) => Outcome::Missing {
            why: format!("the Docker engine at `{host}` did not answer within 10 seconds"),
            fix: "check that the engine is running, or set DOCKER_HOST".into(),
        },
    }
}

/// amazon-ebs needs no local program; it says where credentials would come
/// from, since a build without them fails at its first call.
fn amazon(var: &dyn Fn(&str) -> Option<String>, home: Option<PathBuf>) -> Outcome {
    if var("AWS_ACCESS_KEY_ID").is_some() {
        return Outcome::Ok("credentials from AWS_ACCESS_KEY_ID".into());
    }
    if let Some(p) = var("AWS_PROFILE") {
        return Outcome::Ok(format!("credentials from the profile `{p}` (AWS_PROFILE)"));
    }
    let files = [
        var("AWS_SHARED_CREDENTIALS_FILE").map(PathBuf::from),
        home.as_ref().map(|h| h.join(".aws/credentials")),
        var("AWS_CONFIG_FILE").map(PathBuf::from),
        home.as_ref().map(|h| h.join(".aws/config")),
    ];
    if let Some(f) = files.iter().flatten().find(|f| f.is_file()) {
        return Outcome::Ok(format!("credentials from `{}`", f.display()));
    }
    Outcome::Limited(
        "no AWS credentials found in the environment or ~/.aws; templates must give \
         `access_key`/`secret_key`, or the build must run on an instance with a role"
            .into(),
    )
}

fn line(out: &mut String, name: &str, outcome: &Outcome) {
    match outcome {
        Outcome::Ok(s) => out.push_str(&format!("  ok       {name:<12} {s}\n")),
        Outcome::Limited(s) => out.push_str(&format!("  limited  {name:<12} {s}\n")),
        Outcome::Missing { why, fix } => {
            out.push_str(&format!("  missing  {name:<12} {why}\n"));
            out.push_str(&format!("           {:<12} fix: {fix}\n", ""));
        }
    }
}

/// Runs `kiln doctor`.
pub fn run(args: Vec<String>) -> u8 {
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        [] => {}
        ["-h" | "-help" | "--help"] => {
            print!("{USAGE}");
            return 0;
        }
        _ => return super::common::usage_error("`kiln doctor` takes no arguments", USAGE),
    }
    let rt = match super::common::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    let path = std::env::var("PATH").unwrap_or_default();
    let (qemu, docker) = rt.block_on(async { tokio::join!(qemu(&path), docker()) });
    let amazon = amazon(
        &|k| std::env::var(k).ok().filter(|v| !v.is_empty()),
        std::env::var_os("HOME").map(PathBuf::from),
    );
    let mut out = String::from("Builders:\n");
    for (name, o) in [
        ("null", &Outcome::Ok("always".into())),
        ("file", &Outcome::Ok("always".into())),
        ("qemu", &qemu),
        ("docker", &docker),
        ("amazon-ebs", &amazon),
    ] {
        line(&mut out, name, o);
    }
    out.push_str("\nOptional tools:\n");
    let mut missing = [&qemu, &docker]
        .iter()
        .any(|o| matches!(o, Outcome::Missing { .. }));
    for (p, what) in OPTIONAL_PROGRAMS {
        let o = match which(p.name, &path) {
            Some(at) => Outcome::Ok(format!("`{}` for {what}", at.display())),
            None => {
                missing = true;
                Outcome::Missing {
                    why: format!("`{}` not found on PATH; needed for {what}", p.name),
                    fix: format!("apt-get install {}", p.package),
                }
            }
        };
        line(&mut out, p.name, &o);
    }
    print!("{out}");
    if missing {
        2
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_finds_programs_on_the_given_path_only() {
        assert!(which("sh", "/bin:/usr/bin").is_some());
        assert!(which("sh", "/nonexistent").is_none());
    }

    #[tokio::test]
    async fn qemu_names_the_packages_it_lacks() {
        match qemu("/nonexistent").await {
            Outcome::Missing { why, fix } => {
                assert!(why.contains("`qemu-system-x86_64` and `qemu-img`"), "{why}");
                assert_eq!(fix, "apt-get install qemu-system-x86 qemu-utils");
            }
            o => panic!("{o:?}"),
        }
    }

    #[test]
    fn amazon_says_where_credentials_come_from() {
        let none = |_: &str| None;
        assert!(matches!(amazon(&none, None), Outcome::Limited(_)));
        let key = |k: &str| (k == "AWS_ACCESS_KEY_ID").then(|| "AKIA".to_string());
        assert_eq!(
            amazon(&key, None),
            Outcome::Ok("credentials from AWS_ACCESS_KEY_ID".into())
        );
    }
}
