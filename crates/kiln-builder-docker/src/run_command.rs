//! Translates Packer's `run_command` (arguments of `docker run`) into what
//! the engine API needs to create the build container. Pure: it stores only
//! the parsed options, owns no resources and has nothing to clean up.
//!
//! Packer runs `docker run <run_command>` and keeps the printed container
//! id; kiln creates and starts the same container through the API, so each
//! `docker run` option is mapped onto the engine's container `Config` or
//! `HostConfig` here ([`OPTIONS`] lists them). An option of `docker run`
//! that is not mapped yet, or one `docker run` does not have, is a
//! configuration error naming it, never silently dropped.

use std::collections::HashMap;

use bollard::models::{
    HealthConfig, HostConfig, HostConfigCgroupnsModeEnum, HostConfigLogConfig, Mount,
    MountTmpfsOptions, MountType, PortBinding, ResourcesUlimits, RestartPolicy,
    RestartPolicyNameEnum,
};
use kiln_sdk::duration::parse_go_duration;

/// The container the build runs in, as `docker run` would create it.
#[derive(Debug, Clone, Default, PartialEq)]
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
    /// `-v host:container[:mode]` (and `-v name:container` for a named
    /// volume).
    pub binds: Vec<String>,
    /// `-v /container/path`: anonymous volumes (removed with the container).
    pub volumes: Vec<String>,
    /// `--name`.
    pub name: Option<String>,
    /// `-h`.
    pub hostname: Option<String>,
    /// `--domainname`.
    pub domainname: Option<String>,
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
    /// `--expose` and the container ports of `-p`, as `port/proto`.
    pub exposed_ports: Vec<String>,
    /// `--stop-signal`.
    pub stop_signal: Option<String>,
    /// `--stop-timeout`, in seconds.
    pub stop_timeout: Option<i64>,
    /// `--health-*` and `--no-healthcheck`.
    pub healthcheck: Option<HealthConfig>,
    /// Every other option, already in the engine's form (resources,
    /// security, namespaces, DNS, ports, mounts, logging…); the fields
    /// above are filled in on top of it.
    pub host: HostConfig,
}

/// Every `docker run` option: long name, short name, kind.
pub const OPTIONS: &[(&str, Option<char>, Kind)] = &[
    // Mapped flags.
    ("interactive", Some('i'), Kind::Flag),
    ("tty", Some('t'), Kind::Flag),
    ("privileged", None, Kind::Flag),
    ("init", None, Kind::Flag),
    ("read-only", None, Kind::Flag),
    ("oom-kill-disable", None, Kind::Flag),
    ("publish-all", Some('P'), Kind::Flag),
    ("no-healthcheck", None, Kind::Flag),
    // Mapped options with a value.
    ("entrypoint", None, Kind::Value),
    ("env", Some('e'), Kind::Value),
    ("user", Some('u'), Kind::Value),
    ("workdir", Some('w'), Kind::Value),
    ("volume", Some('v'), Kind::Value),
    ("mount", None, Kind::Value),
    ("name", None, Kind::Value),
    ("hostname", Some('h'), Kind::Value),
    ("domainname", None, Kind::Value),
    ("network", None, Kind::Value),
    ("net", None, Kind::Value),
    ("label", Some('l'), Kind::Value),
    ("cap-add", None, Kind::Value),
    ("cap-drop", None, Kind::Value),
    ("tmpfs", None, Kind::Value),
    ("device", None, Kind::Value),
    ("device-cgroup-rule", None, Kind::Value),
    ("platform", None, Kind::Value),
    ("add-host", None, Kind::Value),
    ("memory", Some('m'), Kind::Value),
    ("memory-swap", None, Kind::Value),
    ("memory-reservation", None, Kind::Value),
    ("memory-swappiness", None, Kind::Value),
    ("shm-size", None, Kind::Value),
    ("cpus", None, Kind::Value),
    ("cpu-shares", Some('c'), Kind::Value),
    ("cpu-period", None, Kind::Value),
    ("cpu-quota", None, Kind::Value),
    ("cpu-rt-period", None, Kind::Value),
    ("cpu-rt-runtime", None, Kind::Value),
    ("cpuset-cpus", None, Kind::Value),
    ("cpuset-mems", None, Kind::Value),
    ("blkio-weight", None, Kind::Value),
    ("pids-limit", None, Kind::Value),
    ("ulimit", None, Kind::Value),
    ("cgroupns", None, Kind::Value),
    ("cgroup-parent", None, Kind::Value),
    ("security-opt", None, Kind::Value),
    ("sysctl", None, Kind::Value),
    ("ipc", None, Kind::Value),
    ("pid", None, Kind::Value),
    ("uts", None, Kind::Value),
    ("userns", None, Kind::Value),
    ("group-add", None, Kind::Value),
    ("dns", None, Kind::Value),
    ("dns-search", None, Kind::Value),
    ("dns-option", None, Kind::Value),
    ("dns-opt", None, Kind::Value),
    ("oom-score-adj", None, Kind::Value),
    ("runtime", None, Kind::Value),
    ("storage-opt", None, Kind::Value),
    ("restart", None, Kind::Value),
    ("log-driver", None, Kind::Value),
    ("log-opt", None, Kind::Value),
    ("publish", Some('p'), Kind::Value),
    ("expose", None, Kind::Value),
    ("link", None, Kind::Value),
    ("volumes-from", None, Kind::Value),
    ("volume-driver", None, Kind::Value),
    ("stop-signal", None, Kind::Value),
    ("stop-timeout", None, Kind::Value),
    ("health-cmd", None, Kind::Value),
    ("health-interval", None, Kind::Value),
    ("health-timeout", None, Kind::Value),
    ("health-start-period", None, Kind::Value),
    ("health-retries", None, Kind::Value),
    // The `docker` CLI's own: no effect on the container kiln creates.
    ("detach", Some('d'), Kind::CliFlag),
    ("rm", None, Kind::CliFlag),
    ("sig-proxy", None, Kind::CliFlag),
    ("quiet", Some('q'), Kind::CliFlag),
    ("disable-content-trust", None, Kind::CliFlag),
    ("attach", Some('a'), Kind::CliValue),
    ("detach-keys", None, Kind::CliValue),
    // `docker run` options not mapped onto the engine API yet.
    ("use-api-socket", None, Kind::UnmappedFlag),
    ("env-file", None, Kind::UnmappedValue),
    ("label-file", None, Kind::UnmappedValue),
    ("cidfile", None, Kind::UnmappedValue),
    ("pull", None, Kind::UnmappedValue),
    ("gpus", None, Kind::UnmappedValue),
    ("ip", None, Kind::UnmappedValue),
    ("ip6", None, Kind::UnmappedValue),
    ("mac-address", None, Kind::UnmappedValue),
    ("network-alias", None, Kind::UnmappedValue),
    ("link-local-ip", None, Kind::UnmappedValue),
    ("isolation", None, Kind::UnmappedValue),
    ("kernel-memory", None, Kind::UnmappedValue),
    ("blkio-weight-device", None, Kind::UnmappedValue),
    ("device-read-bps", None, Kind::UnmappedValue),
    ("device-read-iops", None, Kind::UnmappedValue),
    ("device-write-bps", None, Kind::UnmappedValue),
    ("device-write-iops", None, Kind::UnmappedValue),
    ("cpu-count", None, Kind::UnmappedValue),
    ("cpu-percent", None, Kind::UnmappedValue),
    ("io-maxbandwidth", None, Kind::UnmappedValue),
    ("io-maxiops", None, Kind::UnmappedValue),
];

/// How a `docker run` option is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A boolean flag, mapped.
    Flag,
    /// An option with a value, mapped.
    Value,
    /// A flag that only concerns the `docker` CLI itself: accepted, without
    /// effect (kiln always creates the container detached and removes it at
    /// the end).
    CliFlag,
    /// An option with a value that only concerns the `docker` CLI itself.
    CliValue,
    /// A `docker run` flag kiln does not map yet.
    UnmappedFlag,
    /// A `docker run` option with a value kiln does not map yet.
    UnmappedValue,
}

impl Kind {
    fn is_flag(self) -> bool {
        matches!(self, Kind::Flag | Kind::CliFlag | Kind::UnmappedFlag)
    }
}

fn by_long(name: &str) -> Option<Kind> {
    OPTIONS.iter().find(|(l, _, _)| *l == name).map(|o| o.2)
}

fn by_short(c: char) -> Option<(&'static str, Kind)> {
    OPTIONS
        .iter()
        .find(|(_, s, _)| *s == Some(c))
        .map(|o| (o.0, o.2))
}

fn unmapped(long: &str) -> String {
    format!(
        "the `docker run` option `--{long}` is not mapped onto the engine API by kiln yet; \
         docs/builders/docker.md lists the options kiln maps"
    )
}

fn unknown(arg: &str, name: &str) -> String {
    let hint = kiln_sdk::config::did_you_mean(name, OPTIONS.iter().map(|o| o.0))
        .map(|s| format!("; did you mean `--{s}`?"))
        .unwrap_or_default();
    format!("unknown `docker run` option `{arg}`{hint}")
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
        let (name, kind, inline): (String, Kind, Option<String>) =
            if let Some(long) = arg.strip_prefix("--") {
                let (n, v) = match long.split_once('=') {
                    Some((n, v)) => (n, Some(v.to_string())),
                    None => (long, None),
                };
                let Some(kind) = by_long(n) else {
                    return Err(unknown(arg, n));
                };
                (n.to_string(), kind, v)
            } else if let Some(short) = arg.strip_prefix('-').filter(|s| !s.is_empty()) {
                // `-dit`, `-eFOO=1`, `-e FOO=1`, `-m=256m`.
                let mut chars = short.chars();
                let mut resolved = None;
                while let Some(c) = chars.next() {
                    let Some((long, kind)) = by_short(c) else {
                        return Err(format!("unknown `docker run` option `-{c}` in `{arg}`"));
                    };
                    if kind.is_flag() {
                        apply_flag(&mut spec, long, kind)?;
                        continue;
                    }
                    let rest: String = chars.collect();
                    let rest = rest.strip_prefix('=').map(str::to_string).unwrap_or(rest);
                    resolved = Some((long.to_string(), kind, (!rest.is_empty()).then_some(rest)));
                    break;
                }
                match resolved {
                    Some(r) => r,
                    None => continue,
                }
            } else {
                image = Some(arg.clone());
                break;
            };
        if kind.is_flag() {
            match inline.as_deref() {
                None | Some("true") => apply_flag(&mut spec, &name, kind)?,
                Some("false") => {}
                Some(other) => {
                    return Err(format!(
                        "`--{name}` takes `true` or `false`, found `{other}`"
                    ))
                }
            }
            continue;
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
        match kind {
            Kind::CliValue => {}
            Kind::UnmappedValue => return Err(unmapped(&name)),
            _ => apply_value(&mut spec, &name, value)
                .map_err(|e| format!("`docker run` option `--{name}`: {e}"))?,
        }
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

fn apply_flag(spec: &mut RunSpec, long: &str, kind: Kind) -> Result<(), String> {
    match kind {
        Kind::UnmappedFlag => return Err(unmapped(long)),
        // The build container always runs detached and is always removed.
        Kind::CliFlag => return Ok(()),
        _ => {}
    }
    match long {
        "interactive" => spec.interactive = true,
        "tty" => spec.tty = true,
        "privileged" => spec.privileged = true,
        "init" => spec.init = true,
        "read-only" => spec.host.readonly_rootfs = Some(true),
        "oom-kill-disable" => spec.host.oom_kill_disable = Some(true),
        "publish-all" => spec.host.publish_all_ports = Some(true),
        "no-healthcheck" => {
            spec.healthcheck = Some(HealthConfig {
                test: Some(vec!["NONE".into()]),
                ..Default::default()
            })
        }
        other => return Err(unmapped(other)),
    }
    Ok(())
}

fn push(list: &mut Option<Vec<String>>, value: String) {
    list.get_or_insert_with(Vec::new).push(value);
}

fn key_value(value: &str) -> Result<(String, String), String> {
    match value.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("expected `KEY=value`, found `{value}`")),
    }
}

fn int(value: &str) -> Result<i64, String> {
    value
        .trim()
        .parse()
        .map_err(|_| format!("expected a whole number, found `{value}`"))
}

fn seconds_as_nanos(value: &str) -> Result<i64, String> {
    let d = parse_go_duration(value)?;
    i64::try_from(d.as_nanos()).map_err(|_| format!("`{value}` is too long"))
}

/// Docker's byte sizes (`256m`, `1g`, `512k`, `1024`, `1.5GiB`): binary
/// units, as `docker run` reads `--memory` and `--shm-size`.
pub fn parse_bytes(value: &str) -> Result<i64, String> {
    let bad = || format!("expected a size such as `256m` or `1g`, found `{value}`");
    let s = value.trim();
    let digits_end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(digits_end);
    let number: f64 = number.parse().map_err(|_| bad())?;
    let unit = unit.trim_start().to_ascii_lowercase();
    let unit = unit.strip_suffix('b').unwrap_or(&unit);
    let unit = unit.strip_suffix('i').unwrap_or(unit);
    let power = match unit {
        "" => 0,
        "k" => 1,
        "m" => 2,
        "g" => 3,
        "t" => 4,
        "p" => 5,
        _ => return Err(bad()),
    };
    let bytes = number * 1024f64.powi(power);
    if !bytes.is_finite() || bytes > i64::MAX as f64 {
        return Err(bad());
    }
    Ok(bytes as i64)
}

/// `[ip:][host_port:]container_port[/proto]` of `-p`.
fn publish(spec: &mut RunSpec, value: &str) -> Result<(), String> {
    let (addr, proto) = match value.rsplit_once('/') {
        Some((a, p)) if !p.contains(':') => (a, p),
        _ => (value, "tcp"),
    };
    let parts: Vec<&str> = addr.rsplitn(3, ':').collect();
    let (container, host_port, host_ip) = match parts.as_slice() {
        [c] => (*c, "", ""),
        [c, h] => (*c, *h, ""),
        [c, h, ip] => (*c, *h, *ip),
        _ => return Err(format!("cannot read `{value}`")),
    };
    if container.is_empty() || !container.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!(
            "expected `[ip:][host_port:]container_port[/protocol]`, found `{value}` \
             (port ranges are not mapped yet)"
        ));
    }
    let key = format!("{container}/{proto}");
    spec.exposed_ports.push(key.clone());
    spec.host
        .port_bindings
        .get_or_insert_with(HashMap::new)
        .entry(key)
        .or_insert_with(|| Some(Vec::new()))
        .get_or_insert_with(Vec::new)
        .push(PortBinding {
            host_ip: (!host_ip.is_empty()).then(|| host_ip.trim_matches(['[', ']']).to_string()),
            host_port: Some(host_port.to_string()),
        });
    Ok(())
}

/// `--mount type=bind,source=/a,target=/b[,readonly]`.
fn mount(value: &str) -> Result<Mount, String> {
    let mut m = Mount::default();
    let mut tmpfs = MountTmpfsOptions::default();
    for field in value.split(',') {
        let (k, v) = match field.split_once('=') {
            Some((k, v)) => (k.trim(), Some(v.trim())),
            None => (field.trim(), None),
        };
        let need = || v.ok_or_else(|| format!("`{k}` needs a value in `{value}`"));
        match k {
            "type" => {
                m.typ = Some(match need()? {
                    "bind" => MountType::BIND,
                    "volume" => MountType::VOLUME,
                    "tmpfs" => MountType::TMPFS,
                    other => {
                        return Err(format!(
                            "mount type `{other}` is not mapped; use `bind`, `volume` or `tmpfs`"
                        ))
                    }
                })
            }
            "source" | "src" => m.source = Some(need()?.to_string()),
            "target" | "destination" | "dst" => m.target = Some(need()?.to_string()),
            "readonly" | "ro" => {
                m.read_only = Some(match v {
                    None | Some("true") | Some("1") => true,
                    Some("false") | Some("0") => false,
                    Some(o) => return Err(format!("`{k}` takes `true` or `false`, found `{o}`")),
                })
            }
            "tmpfs-size" => tmpfs.size_bytes = Some(parse_bytes(need()?)?),
            "tmpfs-mode" => {
                tmpfs.mode = Some(
                    i64::from_str_radix(need()?, 8)
                        .map_err(|_| format!("`tmpfs-mode` must be octal, found `{field}`"))?,
                )
            }
            "" => {}
            other => return Err(format!("mount option `{other}` is not mapped yet")),
        }
    }
    if m.target.is_none() {
        return Err(format!("`{value}` has no `target`"));
    }
    let typ = m.typ.get_or_insert(MountType::VOLUME);
    if *typ == MountType::TMPFS && tmpfs != MountTmpfsOptions::default() {
        m.tmpfs_options = Some(tmpfs);
    }
    Ok(m)
}

fn apply_value(spec: &mut RunSpec, long: &str, value: String) -> Result<(), String> {
    let h = &mut spec.host;
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
            if value.contains(':') {
                spec.binds.push(value)
            } else if value.starts_with('/') {
                spec.volumes.push(value)
            } else {
                return Err(format!(
                    "expected `host:container[:mode]` or an absolute container path, found `{value}`"
                ));
            }
        }
        "mount" => h.mounts.get_or_insert_with(Vec::new).push(mount(&value)?),
        "name" => spec.name = Some(value),
        "hostname" => spec.hostname = Some(value),
        "domainname" => spec.domainname = Some(value),
        "network" | "net" => spec.network = Some(value),
        "label" => {
            let (k, v) = value.split_once('=').unwrap_or((value.as_str(), ""));
            spec.labels.push((k.to_string(), v.to_string()));
        }
        "cap-add" => spec.cap_add.push(value),
        "cap-drop" => spec.cap_drop.push(value),
        "tmpfs" => spec.tmpfs.push(value),
        "device" => spec.devices.push(value),
        "device-cgroup-rule" => push(&mut h.device_cgroup_rules, value),
        "platform" => spec.platform = Some(value),
        "add-host" => spec.extra_hosts.push(value),
        "memory" => h.memory = Some(parse_bytes(&value)?),
        "memory-swap" => {
            h.memory_swap = Some(if value.trim() == "-1" {
                -1
            } else {
                parse_bytes(&value)?
            })
        }
        "memory-reservation" => h.memory_reservation = Some(parse_bytes(&value)?),
        "memory-swappiness" => h.memory_swappiness = Some(int(&value)?),
        "shm-size" => h.shm_size = Some(parse_bytes(&value)?),
        "cpus" => {
            let cpus: f64 = value
                .trim()
                .parse()
                .ok()
                .filter(|c: &f64| c.is_finite() && *c >= 0.0)
                .ok_or_else(|| {
                    format!("expected a number of CPUs such as `1.5`, found `{value}`")
                })?;
            h.nano_cpus = Some((cpus * 1e9).round() as i64);
        }
        "cpu-shares" => h.cpu_shares = Some(int(&value)?),
        "cpu-period" => h.cpu_period = Some(int(&value)?),
        "cpu-quota" => h.cpu_quota = Some(int(&value)?),
        "cpu-rt-period" => h.cpu_realtime_period = Some(int(&value)?),
        "cpu-rt-runtime" => h.cpu_realtime_runtime = Some(int(&value)?),
        "cpuset-cpus" => h.cpuset_cpus = Some(value),
        "cpuset-mems" => h.cpuset_mems = Some(value),
        "blkio-weight" => {
            h.blkio_weight = Some(
                value
                    .trim()
                    .parse()
                    .map_err(|_| format!("expected a weight from 10 to 1000, found `{value}`"))?,
            )
        }
        "pids-limit" => h.pids_limit = Some(int(&value)?),
        "ulimit" => {
            let (name, limits) = value
                .split_once('=')
                .ok_or_else(|| format!("expected `name=soft[:hard]`, found `{value}`"))?;
            let (soft, hard) = limits.split_once(':').unwrap_or((limits, limits));
            h.ulimits
                .get_or_insert_with(Vec::new)
                .push(ResourcesUlimits {
                    name: Some(name.to_string()),
                    soft: Some(int(soft)?),
                    hard: Some(int(hard)?),
                });
        }
        "cgroupns" => {
            h.cgroupns_mode = Some(match value.as_str() {
                "host" => HostConfigCgroupnsModeEnum::HOST,
                "private" => HostConfigCgroupnsModeEnum::PRIVATE,
                "" => HostConfigCgroupnsModeEnum::EMPTY,
                other => return Err(format!("expected `host` or `private`, found `{other}`")),
            })
        }
        "cgroup-parent" => h.cgroup_parent = Some(value),
        "security-opt" => push(&mut h.security_opt, value),
        "sysctl" => {
            let (k, v) = key_value(&value)?;
            h.sysctls.get_or_insert_with(HashMap::new).insert(k, v);
        }
        "ipc" => h.ipc_mode = Some(value),
        "pid" => h.pid_mode = Some(value),
        "uts" => h.uts_mode = Some(value),
        "userns" => h.userns_mode = Some(value),
        "group-add" => push(&mut h.group_add, value),
        "dns" => push(&mut h.dns, value),
        "dns-search" => push(&mut h.dns_search, value),
        "dns-option" | "dns-opt" => push(&mut h.dns_options, value),
        "oom-score-adj" => h.oom_score_adj = Some(int(&value)?),
        "runtime" => h.runtime = Some(value),
        "storage-opt" => {
            let (k, v) = key_value(&value)?;
            h.storage_opt.get_or_insert_with(HashMap::new).insert(k, v);
        }
        "restart" => {
            let (name, count) = match value.split_once(':') {
                Some((n, c)) => (n, Some(int(c)?)),
                None => (value.as_str(), None),
            };
            let name = match name {
                "no" | "" => RestartPolicyNameEnum::NO,
                "always" => RestartPolicyNameEnum::ALWAYS,
                "unless-stopped" => RestartPolicyNameEnum::UNLESS_STOPPED,
                "on-failure" => RestartPolicyNameEnum::ON_FAILURE,
                other => {
                    return Err(format!(
                        "expected `no`, `always`, `unless-stopped` or `on-failure[:N]`, found `{other}`"
                    ))
                }
            };
            h.restart_policy = Some(RestartPolicy {
                name: Some(name),
                maximum_retry_count: count,
            });
        }
        "log-driver" => h.log_config.get_or_insert_with(Default::default).typ = Some(value),
        "log-opt" => {
            let (k, v) = key_value(&value)?;
            h.log_config
                .get_or_insert_with(HostConfigLogConfig::default)
                .config
                .get_or_insert_with(HashMap::new)
                .insert(k, v);
        }
        "publish" => publish(spec, &value)?,
        "expose" => spec.exposed_ports.push(if value.contains('/') {
            value
        } else {
            format!("{value}/tcp")
        }),
        "link" => push(&mut h.links, value),
        "volumes-from" => push(&mut h.volumes_from, value),
        "volume-driver" => h.volume_driver = Some(value),
        "stop-signal" => spec.stop_signal = Some(value),
        "stop-timeout" => spec.stop_timeout = Some(int(&value)?),
        "health-cmd" => {
            spec.healthcheck.get_or_insert_with(Default::default).test =
                Some(vec!["CMD-SHELL".into(), value])
        }
        "health-interval" => {
            spec.healthcheck
                .get_or_insert_with(Default::default)
                .interval = Some(seconds_as_nanos(&value)?)
        }
        "health-timeout" => {
            spec.healthcheck
                .get_or_insert_with(Default::default)
                .timeout = Some(seconds_as_nanos(&value)?)
        }
        "health-start-period" => {
            spec.healthcheck
                .get_or_insert_with(Default::default)
                .start_period = Some(seconds_as_nanos(&value)?)
        }
        "health-retries" => {
            spec.healthcheck
                .get_or_insert_with(Default::default)
                .retries = Some(int(&value)?)
        }
        other => return Err(format!("`--{other}` is not mapped yet")),
    }
    Ok(())
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
    fn resource_security_and_namespace_options_map_onto_host_config() {
        let s = parse(&args(&[
            "--memory",
            "256m",
            "-m=1g",
            "--memory-swap=-1",
            "--shm-size",
            "64M",
            "--cpus",
            "1.5",
            "-c",
            "512",
            "--cgroupns=host",
            "--security-opt",
            "seccomp=unconfined",
            "--security-opt=apparmor=unconfined",
            "--ulimit",
            "nofile=1024:2048",
            "--sysctl",
            "net.ipv4.ip_forward=1",
            "--pids-limit=100",
            "--read-only",
            "--dns=1.1.1.1",
            "-v",
            "/anon",
            "--mount",
            "type=tmpfs,target=/scratch,tmpfs-size=1m",
            "-p",
            "127.0.0.1:8080:80",
            "--restart=on-failure:3",
            "--no-healthcheck",
            "img",
        ]))
        .unwrap();
        let h = &s.host;
        assert_eq!(h.memory, Some(1 << 30), "the last --memory wins");
        assert_eq!(h.memory_swap, Some(-1));
        assert_eq!(h.shm_size, Some(64 << 20));
        assert_eq!(h.nano_cpus, Some(1_500_000_000));
        assert_eq!(h.cpu_shares, Some(512));
        assert_eq!(h.cgroupns_mode, Some(HostConfigCgroupnsModeEnum::HOST));
        assert_eq!(
            h.security_opt.as_deref(),
            Some(
                &[
                    "seccomp=unconfined".to_string(),
                    "apparmor=unconfined".into()
                ][..]
            )
        );
        let u = &h.ulimits.as_ref().unwrap()[0];
        assert_eq!((u.soft, u.hard), (Some(1024), Some(2048)));
        assert_eq!(h.sysctls.as_ref().unwrap()["net.ipv4.ip_forward"], "1");
        assert_eq!(h.pids_limit, Some(100));
        assert_eq!(h.readonly_rootfs, Some(true));
        assert_eq!(s.volumes, ["/anon"]);
        let m = &h.mounts.as_ref().unwrap()[0];
        assert_eq!(m.typ, Some(MountType::TMPFS));
        assert_eq!(m.tmpfs_options.as_ref().unwrap().size_bytes, Some(1 << 20));
        let b = &h.port_bindings.as_ref().unwrap()["80/tcp"]
            .as_ref()
            .unwrap()[0];
        assert_eq!(b.host_ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(b.host_port.as_deref(), Some("8080"));
        assert_eq!(s.exposed_ports, ["80/tcp"]);
        assert_eq!(
            h.restart_policy.as_ref().unwrap().maximum_retry_count,
            Some(3)
        );
        assert_eq!(
            s.healthcheck.as_ref().unwrap().test,
            Some(vec!["NONE".into()])
        );
    }

    #[test]
    fn byte_sizes_read_as_docker_reads_them() {
        for (s, n) in [
            ("1024", 1024),
            ("512k", 512 << 10),
            ("256m", 256 << 20),
            ("256MB", 256 << 20),
            ("1g", 1 << 30),
            ("1.5GiB", 3 << 29),
        ] {
            assert_eq!(parse_bytes(s), Ok(n), "{s}");
        }
        assert!(parse_bytes("lots").is_err());
        assert!(parse_bytes("5x").is_err());
    }

    #[test]
    fn unknown_unmapped_and_malformed_options_are_errors() {
        let e = parse(&args(&["--frobnicate=1", "img"])).unwrap_err();
        assert_eq!(e, "unknown `docker run` option `--frobnicate=1`");
        let e = parse(&args(&["--memroy=1g", "img"])).unwrap_err();
        assert!(e.ends_with("; did you mean `--memory`?"), "{e}");
        let e = parse(&args(&["-x", "img"])).unwrap_err();
        assert!(e.contains("`-x`"), "{e}");
        let e = parse(&args(&["--env-file", "vars.env", "img"])).unwrap_err();
        assert!(
            e.contains("`--env-file` is not mapped onto the engine API by kiln yet"),
            "{e}"
        );
        let e = parse(&args(&["--gpus=all", "img"])).unwrap_err();
        assert!(e.contains("`--gpus`"), "{e}");
        let e = parse(&args(&["--memory", "lots", "img"])).unwrap_err();
        assert!(
            e.contains("`docker run` option `--memory`: expected a size"),
            "{e}"
        );
        let e = parse(&args(&["--cgroupns", "shared", "img"])).unwrap_err();
        assert!(e.contains("expected `host` or `private`"), "{e}");
        let e = parse(&args(&["-d", "--"])).unwrap_err();
        assert!(e.contains("names no image"), "{e}");
        let e = parse(&args(&["-e"])).unwrap_err();
        assert!(e.contains("needs a value"), "{e}");
        // The CLI's own options are accepted and change nothing.
        let s = parse(&args(&["--rm", "-a", "stdout", "--sig-proxy=false", "img"])).unwrap();
        assert_eq!(s.image, "img");
    }
}
