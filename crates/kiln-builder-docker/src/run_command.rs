//! Translates Packer's `run_command` (arguments of `docker run`) into what
//! the engine API needs to create the build container. Pure: it stores only
//! the parsed options, owns no resources and has nothing to clean up.
//!
//! Packer runs `docker run <run_command>` and keeps the printed container
//! id; kiln creates and starts the same container through the API, so the
//! `docker run` options it understands are listed in [`parse`]. An option it
//! does not know is a configuration error, never silently dropped.

/// The container the build runs in, as `docker run` would create it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunSpec {
    /// The image (after `{{.Image}}` was rendered).
    pub image: String,
    /// `--entrypoint`: `Some(vec![])` resets the image's entrypoint.
    pub entrypoint: Option<Vec<String>>,
    /// The arguments after the image.
    pub cmd: Vec<String>,
    /// `-i`: keep stdin open.
    pub interactive: bool,
    /// `-t`: allocate a pseudo-terminal.
    pub tty: bool,
    /// `-e`.
    pub env: Vec<String>,
    /// `-u`.
    pub user: Option<String>,
    /// `-w`.
    pub workdir: Option<String>,
    /// `-v host:container[:mode]`.
    pub binds: Vec<String>,
    /// `--name`.
    pub name: Option<String>,
    /// `-h`.
    pub hostname: Option<String>,
    /// `--network`.
    pub network: Option<String>,
    /// `-l key=value`.
    pub labels: Vec<(String, String)>,
    /// `--privileged`.
    pub privileged: bool,
    /// `--cap-add`.
    pub cap_add: Vec<String>,
    /// `--cap-drop`.
    pub cap_drop: Vec<String>,
    /// `--tmpfs path[:options]`.
    pub tmpfs: Vec<String>,
    /// `--device host[:container[:perms]]`.
    pub devices: Vec<String>,
    /// `--platform`.
    pub platform: Option<String>,
    /// `--add-host host:ip`.
    pub extra_hosts: Vec<String>,
    /// `--init`.
    pub init: bool,
}

/// `docker run` options that take no value.
const BOOL_FLAGS: &[(&str, Option<char>)] = &[
    ("detach", Some('d')),
    ("interactive", Some('i')),
    ("tty", Some('t')),
    ("privileged", None),
    ("rm", None),
    ("init", None),
];

/// `docker run` options that take a value.
const VALUE_FLAGS: &[(&str, Option<char>)] = &[
    ("entrypoint", None),
    ("env", Some('e')),
    ("user", Some('u')),
    ("workdir", Some('w')),
    ("volume", Some('v')),
    ("name", None),
    ("hostname", Some('h')),
    ("network", None),
    ("net", None),
    ("label", Some('l')),
    ("cap-add", None),
    ("cap-drop", None),
    ("tmpfs", None),
    ("device", None),
    ("platform", None),
    ("add-host", None),
];

/// The options kiln understands, for error messages.
pub fn supported_options() -> String {
    BOOL_FLAGS
        .iter()
        .chain(VALUE_FLAGS)
        .map(|(long, short)| match short {
            Some(s) => format!("`-{s}`/`--{long}`"),
            None => format!("`--{long}`"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Parses `docker run` arguments (already rendered). Errors are lowercase
/// and name the offending argument in backticks.
pub fn parse(args: &[String]) -> Result<RunSpec, String> {
    let mut spec = RunSpec::default();
    let mut i = 0;
    let mut image: Option<String> = None;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if arg == "--" {
            break;
        }
        let (name, inline): (String, Option<String>) = if let Some(long) = arg.strip_prefix("--") {
            match long.split_once('=') {
                Some((n, v)) => (n.to_string(), Some(v.to_string())),
                None => (long.to_string(), None),
            }
        } else if let Some(short) = arg.strip_prefix('-').filter(|s| !s.is_empty()) {
            // `-dit`, `-eFOO=1`, `-e FOO=1`.
            let mut chars = short.chars();
            let mut resolved = None;
            while let Some(c) = chars.next() {
                if let Some((long, _)) = BOOL_FLAGS.iter().find(|(_, s)| *s == Some(c)) {
                    apply_bool(&mut spec, long);
                    continue;
                }
                if let Some((long, _)) = VALUE_FLAGS.iter().find(|(_, s)| *s == Some(c)) {
                    let rest: String = chars.collect();
                    resolved = Some((long.to_string(), (!rest.is_empty()).then_some(rest)));
                    break;
                }
                return Err(format!(
                    "unsupported `docker run` option `-{c}` in `{arg}`; kiln understands {}",
                    supported_options()
                ));
            }
            match resolved {
                Some(r) => r,
                None => continue,
            }
        } else {
            image = Some(arg.clone());
            break;
        };
        if BOOL_FLAGS.iter().any(|(l, _)| *l == name) {
            match inline.as_deref() {
                None | Some("true") => apply_bool(&mut spec, &name),
                Some("false") => {}
                Some(other) => {
                    return Err(format!(
                        "`--{name}` takes `true` or `false`, found `{other}`"
                    ))
                }
            }
            continue;
        }
        if !VALUE_FLAGS.iter().any(|(l, _)| *l == name) {
            return Err(format!(
                "unsupported `docker run` option `{arg}`; kiln understands {}",
                supported_options()
            ));
        }
        let value = match inline {
            Some(v) => v,
            None => {
                let Some(v) = args.get(i) else {
                    return Err(format!("`docker run` option `{arg}` needs a value"));
                };
                i += 1;
                v.clone()
            }
        };
        apply_value(&mut spec, &name, value)?;
    }
    let image = match image {
        Some(img) => img,
        None => match args.get(i) {
            Some(img) => {
                i += 1;
                img.clone()
            }
            None => return Err("`run_command` names no image; end it with `{{.Image}}`".into()),
        },
    };
    if image.is_empty() {
        return Err("the image in `run_command` is empty".into());
    }
    spec.image = image;
    spec.cmd = args[i..].to_vec();
    Ok(spec)
}

fn apply_bool(spec: &mut RunSpec, long: &str) {
    match long {
        "interactive" => spec.interactive = true,
        "tty" => spec.tty = true,
        "privileged" => spec.privileged = true,
        "init" => spec.init = true,
        // The build container always runs detached and is always removed.
        _ => {}
    }
}

fn apply_value(spec: &mut RunSpec, long: &str, value: String) -> Result<(), String> {
    match long {
        "entrypoint" => {
            spec.entrypoint = Some(if value.is_empty() {
                Vec::new()
            } else {
                vec![value]
            })
        }
        "env" => spec.env.push(value),
        "user" => spec.user = Some(value),
        "workdir" => spec.workdir = Some(value),
        "volume" => {
            if !value.contains(':') {
                return Err(format!(
                    "`--volume {value}`: anonymous volumes are not supported; use `host:container`"
                ));
            }
            spec.binds.push(value)
        }
        "name" => spec.name = Some(value),
        "hostname" => spec.hostname = Some(value),
        "network" | "net" => spec.network = Some(value),
        "label" => {
            let (k, v) = value.split_once('=').unwrap_or((value.as_str(), ""));
            spec.labels.push((k.to_string(), v.to_string()));
        }
        "cap-add" => spec.cap_add.push(value),
        "cap-drop" => spec.cap_drop.push(value),
        "tmpfs" => spec.tmpfs.push(value),
        "device" => spec.devices.push(value),
        "platform" => spec.platform = Some(value),
        "add-host" => spec.extra_hosts.push(value),
        _ => unreachable_option(long)?,
    }
    Ok(())
}

fn unreachable_option(long: &str) -> Result<(), String> {
    Err(format!("unsupported `docker run` option `--{long}`"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn packer_default_run_command() {
        let s = parse(&args(&[
            "-d",
            "-i",
            "-t",
            "--entrypoint=/bin/sh",
            "--",
            "busybox:latest",
        ]))
        .unwrap();
        assert_eq!(s.image, "busybox:latest");
        assert_eq!(s.entrypoint, Some(vec!["/bin/sh".to_string()]));
        assert!(s.interactive && s.tty);
        assert!(s.cmd.is_empty());
    }

    #[test]
    fn combined_short_flags_values_and_command() {
        let s = parse(&args(&[
            "-dit",
            "-eA=1",
            "-e",
            "B=2",
            "--label",
            "x=y",
            "-v",
            "/h:/c:ro",
            "--cap-add=NET_ADMIN",
            "img",
            "sleep",
            "100",
        ]))
        .unwrap();
        assert_eq!(s.env, ["A=1", "B=2"]);
        assert_eq!(s.labels, [("x".to_string(), "y".to_string())]);
        assert_eq!(s.binds, ["/h:/c:ro"]);
        assert_eq!(s.cap_add, ["NET_ADMIN"]);
        assert_eq!(s.image, "img");
        assert_eq!(s.cmd, ["sleep", "100"]);
        assert_eq!(s.entrypoint, None);
    }

    #[test]
    fn empty_entrypoint_resets_it() {
        let s = parse(&args(&["--entrypoint=", "img"])).unwrap();
        assert_eq!(s.entrypoint, Some(vec![]));
    }

    #[test]
    fn unknown_options_and_missing_image_are_errors() {
        let e = parse(&args(&["--memory=1g", "img"])).unwrap_err();
        assert!(
            e.contains("unsupported `docker run` option `--memory=1g`"),
            "{e}"
        );
        let e = parse(&args(&["-x", "img"])).unwrap_err();
        assert!(e.contains("`-x`"), "{e}");
        let e = parse(&args(&["-d", "--"])).unwrap_err();
        assert!(e.contains("names no image"), "{e}");
        let e = parse(&args(&["-e"])).unwrap_err();
        assert!(e.contains("needs a value"), "{e}");
    }
}
