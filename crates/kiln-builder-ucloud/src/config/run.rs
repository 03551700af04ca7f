//! The run section (the plugin's `RunConfig`): `availability_zone`,
//! `source_image_id`, `instance_type` (parsed into CPU, memory and machine
//! type), `instance_name`, `boot_disk_type`, `vpc_id`, `subnet_id`,
//! `security_group_id`, `eip_bandwidth`, `eip_charge_mode`, `user_data`,
//! `user_data_file`, `min_cpu_platform` and `use_ssh_private_ip`, with the
//! plugin's checks of `ssh_password`. Pure (`user_data_file` is only
//! checked to exist); holds nothing.

use kiln_sdk::config::{ConfigError, ConfigErrors};
use serde::Deserialize;

use super::nonempty;

/// The run keys as the template writes them.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct RawRun {
    pub(super) availability_zone: Option<String>,
    pub(super) source_image_id: Option<String>,
    pub(super) instance_type: Option<String>,
    pub(super) instance_name: Option<String>,
    pub(super) boot_disk_type: Option<String>,
    pub(super) vpc_id: Option<String>,
    pub(super) subnet_id: Option<String>,
    pub(super) security_group_id: Option<String>,
    pub(super) eip_bandwidth: Option<i64>,
    pub(super) eip_charge_mode: Option<String>,
    pub(super) user_data: Option<String>,
    pub(super) user_data_file: Option<String>,
    pub(super) min_cpu_platform: Option<String>,
    pub(super) use_ssh_private_ip: bool,
}

/// `boot_disk_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BootDiskType {
    /// `cloud_ssd` (the default).
    CloudSsd,
    /// `cloud_rssd`.
    CloudRssd,
    /// `local_normal`.
    LocalNormal,
    /// `local_ssd`.
    LocalSsd,
}

impl BootDiskType {
    /// Every type, in the template's spelling.
    pub const ALL: [(&'static str, BootDiskType); 4] = [
        ("cloud_ssd", BootDiskType::CloudSsd),
        ("cloud_rssd", BootDiskType::CloudRssd),
        ("local_normal", BootDiskType::LocalNormal),
        ("local_ssd", BootDiskType::LocalSsd),
    ];

    /// The template's spelling.
    pub fn as_str(self) -> &'static str {
        Self::ALL.iter().find(|(_, t)| *t == self).unwrap().0
    }

    /// UCloud's name (`CLOUD_SSD`).
    pub fn api_name(self) -> String {
        self.as_str().to_ascii_uppercase()
    }

    /// The template's spelling of UCloud's name `api`, if kiln knows it.
    pub fn from_api(api: &str) -> Option<BootDiskType> {
        Self::ALL
            .iter()
            .find(|(s, _)| s.eq_ignore_ascii_case(api))
            .map(|(_, t)| *t)
    }

    /// Whether the disk is local (its initialisation takes minutes).
    pub fn is_local(self) -> bool {
        matches!(self, BootDiskType::LocalNormal | BootDiskType::LocalSsd)
    }
}

/// `instance_type` parsed as the plugin parses it: `n-standard-1`
/// (host type, scale, CPUs) or `n-customized-1-2` (CPUs, memory in GiB).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceType {
    /// CPUs.
    pub cpu: u32,
    /// Memory in MiB.
    pub memory: u32,
    /// `N`, `O` or `C` (UCloud's `MachineType`).
    pub machine_type: String,
}

/// Parses `instance_type` (the plugin's `ParseInstanceType`).
pub fn parse_instance_type(s: &str) -> Result<InstanceType, String> {
    let parts: Vec<&str> = s.split('-').collect();
    let number = |x: &str, what: &str| {
        x.parse::<u32>()
            .map_err(|_| format!("{what} count of `instance_type` `{s}` is not a number"))
    };
    let even = |n: u32, what: &str| {
        if n != 1 && !n.is_multiple_of(2) {
            Err(format!(
                "expected the {what} of `instance_type` to be 1 or even, got {n}"
            ))
        } else {
            Ok(())
        }
    };
    match parts.as_slice() {
        [host, "customized", cpu, memory] => {
            if *host != "n" {
                return Err(format!(
                    "the host type of a customized `instance_type` can only be `n`, got `{s}`"
                ));
            }
            let (cpu, memory) = (number(cpu, "cpu")?, number(memory, "memory")?);
            even(cpu, "cpu count")?;
            even(memory, "memory")?;
            if !(1..=32).contains(&cpu) || !(1..=128).contains(&memory) {
                return Err(format!(
                    "expected 1-32 CPUs and 1-128 GiB of memory in `instance_type`, got `{s}`"
                ));
            }
            if memory * 2 < cpu || memory > cpu * 12 {
                return Err(format!(
                    "the ratio of cpu to memory should be range of 2:1 ~ 1:12, got {cpu}:{memory}"
                ));
            }
            Ok(InstanceType {
                cpu,
                memory: memory * 1024,
                machine_type: "N".into(),
            })
        }
        [host, scale, cpu] => {
            if !["n", "o", "c"].contains(host) {
                return Err(format!(
                    "the host type of `instance_type` must be one of `n`, `o`, `c`, got `{s}`"
                ));
            }
            let per_cpu = match *scale {
                "highcpu" => 1024,
                "basic" => 2048,
                "standard" => 4096,
                "highmem" => 8192,
                _ => return Err(format!("expected `instance_type` like `n-standard-1` (highcpu, basic, standard or highmem), got `{s}`")),
            };
            let cpu = number(cpu, "cpu")?;
            even(cpu, "cpu count")?;
            if *host == "o" {
                if ![2, 4, 8, 16, 32, 64, 96].contains(&cpu) || (*scale == "highmem" && cpu == 64) {
                    return Err(format!(
                        "`instance_type` `{s}` is not an O type UCloud offers"
                    ));
                }
            } else if !(1..=32).contains(&cpu) || (*scale == "highmem" && cpu > 16) {
                return Err(format!(
                    "`instance_type` `{s}` has more CPUs than UCloud offers for its type"
                ));
            }
            Ok(InstanceType {
                cpu,
                memory: cpu * per_cpu,
                machine_type: host.to_ascii_uppercase(),
            })
        }
        _ => Err(format!(
            "`instance_type` is invalid, expected like `n-standard-1`, got `{s}`"
        )),
    }
}

/// The validated run section.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// `availability_zone`.
    pub zone: String,
    /// `source_image_id`.
    pub source_image_id: String,
    /// `instance_type`, parsed.
    pub instance_type: InstanceType,
    /// `instance_type` as written.
    pub instance_type_name: String,
    /// `instance_name` (`packer-<8 hex>` by default).
    pub instance_name: String,
    /// `boot_disk_type`.
    pub boot_disk_type: BootDiskType,
    /// `vpc_id`.
    pub vpc_id: Option<String>,
    /// `subnet_id`.
    pub subnet_id: Option<String>,
    /// `security_group_id`.
    pub security_group_id: Option<String>,
    /// `eip_bandwidth` (Mbps, 10 by default).
    pub eip_bandwidth: u32,
    /// `eip_charge_mode` as UCloud names it (`Traffic`, `Bandwidth`,
    /// `PostAccurateBandwidth`).
    pub eip_pay_mode: &'static str,
    /// `user_data` or the contents of `user_data_file` (read at run time).
    pub user_data: Option<String>,
    /// `user_data_file`.
    pub user_data_file: Option<String>,
    /// `min_cpu_platform` (`Intel/Auto` by default).
    pub min_cpu_platform: String,
    /// `use_ssh_private_ip`.
    pub use_ssh_private_ip: bool,
}

const CPU_PLATFORMS: [&str; 8] = [
    "Intel/Auto",
    "Intel/IvyBridge",
    "Intel/Haswell",
    "Intel/Broadwell",
    "Intel/Skylake",
    "Intel/Cascadelake",
    "Amd/Auto",
    "Amd/Epyc2",
];

/// The problems of `ssh_password` as a UHost password: 8-30 characters
/// UCloud takes, of at least two kinds (upper, lower, digit, special).
pub fn password_problems(password: &str) -> Vec<String> {
    const SPECIAL: &str = "`()~!@#$%^&*-+=_|{}[]:;'<>,.?/";
    let mut out = Vec::new();
    let n = password.chars().count();
    if !(8..=30).contains(&n)
        || !password
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || SPECIAL.contains(c))
    {
        out.push("`ssh_password` must have 8-30 characters, letters, digits and `` `()~!@#$%^&*-+=_|{}[]:;'<>,.?/ `` only".to_string());
    }
    let kinds = [
        password.chars().any(|c| c.is_ascii_uppercase()),
        password.chars().any(|c| c.is_ascii_lowercase()),
        password.chars().any(|c| c.is_ascii_digit()),
        password.chars().any(|c| SPECIAL.contains(c)),
    ];
    if kinds.iter().filter(|k| **k).count() < 2 {
        out.push("`ssh_password` must have at least 2 of capital letters, lower case letters, numbers and special characters".to_string());
    }
    out
}

/// Whether `name` is 1-63 characters of letters (Chinese too), digits and
/// `-_.` (the plugin's `instanceNamePattern`).
fn valid_instance_name(name: &str) -> bool {
    (1..=63).contains(&name.chars().count())
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || "-_.".contains(c))
}

pub(super) fn prepare(
    r: &RawRun,
    ssh_password: Option<&str>,
    errors: &mut ConfigErrors,
) -> RunConfig {
    let required = |key: &str, v: &Option<String>, errors: &mut ConfigErrors| {
        let v = nonempty(v.clone()).unwrap_or_default();
        if v.is_empty() {
            errors.push(ConfigError::at(
                key.to_string(),
                format!("`{key}` must be set"),
            ));
        }
        v
    };
    let zone = required("availability_zone", &r.availability_zone, errors);
    let source_image_id = required("source_image_id", &r.source_image_id, errors);
    let instance_type_name = required("instance_type", &r.instance_type, errors);
    let instance_type = if instance_type_name.is_empty() {
        InstanceType {
            cpu: 1,
            memory: 1024,
            machine_type: "N".into(),
        }
    } else {
        parse_instance_type(&instance_type_name).unwrap_or_else(|e| {
            errors.push(ConfigError::at("instance_type", e));
            InstanceType {
                cpu: 1,
                memory: 1024,
                machine_type: "N".into(),
            }
        })
    };
    let vpc_id = nonempty(r.vpc_id.clone());
    let subnet_id = nonempty(r.subnet_id.clone());
    if vpc_id.is_some() != subnet_id.is_some() {
        errors.push(ConfigError::at(
            if vpc_id.is_some() {
                "subnet_id"
            } else {
                "vpc_id"
            },
            "expected both `vpc_id` and `subnet_id` to be set, or neither",
        ));
    }
    let boot_disk_type = match nonempty(r.boot_disk_type.clone()) {
        None => BootDiskType::CloudSsd,
        Some(s) => BootDiskType::ALL
            .iter()
            .find(|(n, _)| *n == s)
            .map(|(_, t)| *t)
            .unwrap_or_else(|| {
                errors.push(ConfigError::at(
                    "boot_disk_type",
                    format!("`boot_disk_type` must be one of `cloud_ssd`, `cloud_rssd`, `local_normal`, `local_ssd`, got `{s}`"),
                ));
                BootDiskType::CloudSsd
            }),
    };
    let instance_name = match nonempty(r.instance_name.clone()) {
        None => format!("packer-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]),
        Some(n) => {
            if !valid_instance_name(&n) {
                errors.push(ConfigError::at(
                    "instance_name",
                    format!("expected `instance_name` to be 1-63 characters of letters, digits and `-_.`, got `{n}`"),
                ));
            }
            n
        }
    };
    if r.use_ssh_private_ip && vpc_id.is_none() {
        errors.push(ConfigError::at(
            "vpc_id",
            "`vpc_id` must be set when `use_ssh_private_ip` is true",
        ));
    }
    if let Some(p) = ssh_password.filter(|p| !p.is_empty()) {
        for e in password_problems(p) {
            errors.push(ConfigError::at("ssh_password", e));
        }
    }
    let user_data = nonempty(r.user_data.clone());
    let user_data_file = nonempty(r.user_data_file.clone());
    if user_data.is_some() && user_data_file.is_some() {
        errors.push(ConfigError::at(
            "user_data",
            "only one of `user_data` or `user_data_file` can be specified",
        ));
    } else if let Some(f) = &user_data_file {
        if !std::path::Path::new(f).exists() {
            errors.push(ConfigError::at(
                "user_data_file",
                format!("`user_data_file` `{f}` not found"),
            ));
        }
    }
    let min_cpu_platform =
        nonempty(r.min_cpu_platform.clone()).unwrap_or_else(|| "Intel/Auto".into());
    if !CPU_PLATFORMS.contains(&min_cpu_platform.as_str()) {
        errors.push(ConfigError::at(
            "min_cpu_platform",
            format!(
                "`min_cpu_platform` must be one of {}, got `{min_cpu_platform}`",
                CPU_PLATFORMS.map(|p| format!("`{p}`")).join(", ")
            ),
        ));
    }
    let eip_pay_mode = match nonempty(r.eip_charge_mode.clone()).as_deref() {
        None | Some("traffic") => "Traffic",
        Some("bandwidth") => "Bandwidth",
        Some("post_accurate_bandwidth") => "PostAccurateBandwidth",
        Some(other) => {
            errors.push(ConfigError::at(
                "eip_charge_mode",
                format!("`eip_charge_mode` must be one of `traffic`, `bandwidth`, `post_accurate_bandwidth`, got `{other}`"),
            ));
            "Traffic"
        }
    };
    let eip_bandwidth = match r.eip_bandwidth {
        None | Some(0) => 10,
        Some(b) if b > 0 => b as u32,
        Some(b) => {
            errors.push(ConfigError::at(
                "eip_bandwidth",
                format!("`eip_bandwidth` must be positive, got {b}"),
            ));
            10
        }
    };
    RunConfig {
        zone,
        source_image_id,
        instance_type,
        instance_type_name,
        instance_name,
        boot_disk_type,
        vpc_id,
        subnet_id,
        security_group_id: nonempty(r.security_group_id.clone()),
        eip_bandwidth,
        eip_pay_mode,
        user_data,
        user_data_file,
        min_cpu_platform,
        use_ssh_private_ip: r.use_ssh_private_ip,
    }
}
