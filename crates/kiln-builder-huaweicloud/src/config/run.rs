//! The run section (the plugin's `RunConfig`): the flavor, zone, source
//! image (`source_image`, `source_image_name` or `source_image_filter`),
//! network (`vpc_id`, `subnets`, `security_groups`), EIP (`floating_ip`,
//! `reuse_ips`, `eip_type`, `eip_bandwidth_size`), root volume, data disks
//! (`data_disks`), user data, metadata and billing keys, with
//! `HW_ENTERPRISE_PROJECT_ID`. Pure; holds nothing.

use std::collections::BTreeMap;
use std::path::PathBuf;

use kiln_cloud::config::{keypair_lacks_private_key, Env};
use kiln_sdk::config::{ConfigError, ConfigErrors};
use kiln_ssh::CommunicatorConfig;
use serde::Deserialize;

use super::nonempty;

/// `source_image_filter` as the template writes it.
#[derive(Deserialize, Default, Debug, Clone)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawFilter {
    filters: RawFilterOptions,
    most_recent: bool,
}

/// `source_image_filter.filters`.
#[derive(Deserialize, Default, Debug, Clone)]
#[serde(default, deny_unknown_fields)]
struct RawFilterOptions {
    name: String,
    owner: String,
    visibility: String,
    tag: String,
}

/// One of `data_disks` as the template writes it.
#[derive(Deserialize, Default, Debug, Clone)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawDataDisk {
    volume_type: Option<String>,
    volume_size: u32,
    data_image_id: Option<String>,
    snapshot_id: Option<String>,
    volume_id: Option<String>,
}

/// The run keys as the template writes them.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct RawRun {
    flavor: Option<String>,
    enterprise_project_id: Option<String>,
    availability_zone: Option<String>,
    source_image: Option<String>,
    source_image_name: Option<String>,
    source_image_filter: RawFilter,
    floating_ip: Option<String>,
    reuse_ips: bool,
    eip_type: Option<String>,
    eip_bandwidth_size: u32,
    ssh_ip_version: Option<String>,
    vpc_id: Option<String>,
    subnets: Vec<String>,
    security_groups: Vec<String>,
    user_data: Option<String>,
    user_data_file: Option<String>,
    instance_name: Option<String>,
    instance_metadata: BTreeMap<String, String>,
    spot_pricing: bool,
    spot_maximum_price: Option<String>,
    volume_type: Option<String>,
    volume_size: u32,
    data_disks: Vec<RawDataDisk>,
    vault_id: Option<String>,
    config_drive: bool,
    ssh_keypair_name: Option<String>,
}

/// Where the source image comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceImage {
    /// `source_image`: an id, used as it is.
    Id(String),
    /// `source_image_name`, or `source_image_filter`: IMS's `ListImages`
    /// with these query parameters (`name`, `owner`, `__imagetype`,
    /// `tag`), active images, newest first.
    Filter {
        /// The query parameters.
        query: Vec<(String, String)>,
        /// `most_recent`: take the newest of several.
        most_recent: bool,
    },
}

/// A data disk the server is created with (`data_disks`), deleted with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataDisk {
    /// `volume_type` (default `SSD`).
    pub volume_type: String,
    /// What it is made from.
    pub source: DataDiskSource,
}

/// What a data disk is made from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataDiskSource {
    /// `volume_size`: an empty disk of that many GB.
    Size(u32),
    /// `data_image_id`: a data disk image, the disk its minimum size.
    Image(String),
}

/// Which EIP the server is reached through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Eip {
    /// `floating_ip`: the user's, kept.
    Given(String),
    /// `reuse_ips`: a free one of the project, kept.
    Reuse,
    /// `eip_bandwidth_size`: a temporary one of `eip_type` (default
    /// `5_bgp`), deleted.
    Create {
        /// `eip_type`.
        kind: String,
        /// `eip_bandwidth_size`, Mbit/s.
        bandwidth: u32,
    },
    /// None: the private address is used.
    None,
}

/// The validated run keys.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// `flavor` (an id or a name).
    pub flavor: String,
    /// `enterprise_project_id` (or `HW_ENTERPRISE_PROJECT_ID`).
    pub enterprise_project_id: Option<String>,
    /// `availability_zone`; `None` picks one of the region's at random.
    pub availability_zone: Option<String>,
    /// The source image.
    pub source_image: SourceImage,
    /// The EIP.
    pub eip: Eip,
    /// `ssh_ip_version` (`4` or `6`).
    pub ssh_ip_version: Option<String>,
    /// `vpc_id`; `None` makes a temporary VPC and subnet.
    pub vpc_id: Option<String>,
    /// `subnets` (ids), with `vpc_id`.
    pub subnets: Vec<String>,
    /// `security_groups` (ids; `default` ones are left out, as the plugin
    /// does); empty makes a temporary group open on the communicator port.
    pub security_groups: Vec<String>,
    /// `user_data`.
    pub user_data: Option<String>,
    /// `user_data_file`, read when the server is launched.
    pub user_data_file: Option<PathBuf>,
    /// `instance_name`; `None` is the image name.
    pub instance_name: Option<String>,
    /// `instance_metadata`.
    pub instance_metadata: BTreeMap<String, String>,
    /// `spot_pricing` with `spot_maximum_price`.
    pub spot: Option<Option<String>>,
    /// `volume_type` (default `SSD`).
    pub volume_type: String,
    /// `volume_size` GB (`None`: the image's minimum).
    pub volume_size: Option<u32>,
    /// `data_disks`.
    pub data_disks: Vec<DataDisk>,
    /// `vault_id`.
    pub vault_id: Option<String>,
    /// `config_drive`.
    pub config_drive: bool,
    /// `ssh_keypair_name`: an existing key pair.
    pub ssh_keypair_name: Option<String>,
}

/// The system disk types ECS takes.
pub const VOLUME_TYPES: &[&str] = &["SAS", "SSD", "GPSSD", "ESSD", "SATA", "GPSSD2", "ESSD2"];

/// Validates the run keys.
pub(super) fn prepare(
    r: &RawRun,
    communicator: &CommunicatorConfig,
    env: Env<'_>,
    errors: &mut ConfigErrors,
) -> RunConfig {
    let err =
        |errors: &mut ConfigErrors, key: &str, m: String| errors.push(ConfigError::at(key, m));
    let flavor = nonempty(r.flavor.clone()).unwrap_or_default();
    if flavor.is_empty() {
        err(errors, "flavor", "a `flavor` must be specified".into());
    }
    let ssh_keypair_name = nonempty(r.ssh_keypair_name.clone());
    if keypair_lacks_private_key(ssh_keypair_name.as_deref(), communicator) {
        err(
            errors,
            "ssh_keypair_name",
            "an `ssh_private_key_file` must be provided or `ssh_agent_auth` enabled when `ssh_keypair_name` is specified".into(),
        );
    }
    let f = &r.source_image_filter.filters;
    let filter_empty = f.name.is_empty() && f.owner.is_empty() && f.visibility.is_empty();
    let id = nonempty(r.source_image.clone());
    let name = nonempty(r.source_image_name.clone());
    let source_image = match (id, name) {
        (Some(_), Some(_)) => {
            err(
                errors,
                "source_image_name",
                "only a `source_image` or a `source_image_name` can be specified, not both".into(),
            );
            SourceImage::Id(String::new())
        }
        (Some(id), None) => SourceImage::Id(id),
        (None, Some(name)) => SourceImage::Filter {
            query: vec![("name".into(), name)],
            most_recent: false,
        },
        (None, None) if filter_empty => {
            err(
                errors,
                "source_image",
                "either a `source_image`, a `source_image_name`, or `source_image_filter` must be specified".into(),
            );
            SourceImage::Id(String::new())
        }
        (None, None) => {
            let mut query = Vec::new();
            for (k, v) in [("name", &f.name), ("owner", &f.owner), ("tag", &f.tag)] {
                if !v.is_empty() {
                    query.push((k.to_string(), v.clone()));
                }
            }
            if !f.visibility.is_empty() {
                match f.visibility.as_str() {
                    // The visibility is IMS's `__imagetype`; public images are `gold`.
                    "public" => query.push(("__imagetype".into(), "gold".into())),
                    v @ ("private" | "market" | "shared") => {
                        query.push(("__imagetype".into(), v.into()))
                    }
                    v => err(
                        errors,
                        "source_image_filter",
                        format!("not a valid visibility `{v}`: expected `public`, `private`, `market` or `shared`"),
                    ),
                }
            }
            SourceImage::Filter {
                query,
                most_recent: r.source_image_filter.most_recent,
            }
        }
    };
    if let Some(v) = &r.ssh_ip_version {
        if !v.is_empty() && v != "4" && v != "6" {
            err(
                errors,
                "ssh_ip_version",
                format!("`ssh_ip_version` must be `4` or `6`, not `{v}`"),
            );
        }
    }
    for (k, v) in &r.instance_metadata {
        if k.len() > 255 {
            err(
                errors,
                "instance_metadata",
                format!("instance metadata key too long (max 255 bytes): `{k}`"),
            );
        }
        if v.len() > 255 {
            err(
                errors,
                "instance_metadata",
                format!("instance metadata value of `{k}` too long (max 255 bytes)"),
            );
        }
    }
    let vpc_id = nonempty(r.vpc_id.clone());
    match (&vpc_id, r.subnets.is_empty()) {
        (Some(_), true) => err(
            errors,
            "subnets",
            "`subnets` must be specified with `vpc_id`".into(),
        ),
        (None, false) => err(
            errors,
            "subnets",
            "`subnets` must be empty if the `vpc_id` was not specified".into(),
        ),
        _ => {}
    }
    let eip = if let Some(id) = nonempty(r.floating_ip.clone()) {
        Eip::Given(id)
    } else if r.reuse_ips {
        Eip::Reuse
    } else if r.eip_bandwidth_size != 0 {
        Eip::Create {
            kind: nonempty(r.eip_type.clone()).unwrap_or_else(|| "5_bgp".into()),
            bandwidth: r.eip_bandwidth_size,
        }
    } else {
        Eip::None
    };
    let volume_type = nonempty(r.volume_type.clone()).unwrap_or_else(|| "SSD".into());
    if !VOLUME_TYPES.contains(&volume_type.as_str()) {
        err(
            errors,
            "volume_type",
            format!(
                "unknown `volume_type` `{volume_type}`: expected one of {}",
                VOLUME_TYPES.join(", ")
            ),
        );
    }
    let data_disks = r
        .data_disks
        .iter()
        .enumerate()
        .filter_map(|(i, d)| data_disk(i, d, errors))
        .collect();
    if let Some(p) = nonempty(r.user_data_file.clone()) {
        if !std::path::Path::new(&p).is_file() {
            err(
                errors,
                "user_data_file",
                format!("`user_data_file` `{p}` is not a file"),
            );
        }
    }
    RunConfig {
        flavor,
        enterprise_project_id: env.or_var(&r.enterprise_project_id, "HW_ENTERPRISE_PROJECT_ID"),
        availability_zone: nonempty(r.availability_zone.clone()),
        source_image,
        eip,
        ssh_ip_version: nonempty(r.ssh_ip_version.clone()),
        vpc_id,
        subnets: r.subnets.clone(),
        security_groups: r
            .security_groups
            .iter()
            .filter(|g| !g.contains("default"))
            .cloned()
            .collect(),
        user_data: nonempty(r.user_data.clone()),
        user_data_file: nonempty(r.user_data_file.clone()).map(PathBuf::from),
        instance_name: nonempty(r.instance_name.clone()),
        instance_metadata: r.instance_metadata.clone(),
        spot: r
            .spot_pricing
            .then(|| nonempty(r.spot_maximum_price.clone())),
        volume_type,
        volume_size: (r.volume_size != 0).then_some(r.volume_size),
        data_disks,
        vault_id: nonempty(r.vault_id.clone()),
        config_drive: r.config_drive,
        ssh_keypair_name,
    }
}

/// The sizes of data disk ECS takes, GB.
const DATA_DISK_SIZES: std::ops::RangeInclusive<u32> = 10..=32768;

/// `data_disks[i]` checked as the plugin's `StepCheckVolumes` checks it
/// (one of `volume_size`, `volume_id`, `snapshot_id` and `data_image_id`),
/// at `validate` rather than at run time; `None` after an error.
fn data_disk(i: usize, d: &RawDataDisk, errors: &mut ConfigErrors) -> Option<DataDisk> {
    const KEYS: &str = "`volume_size`, `volume_id`, `snapshot_id` or `data_image_id`";
    let at = format!("data_disks[{i}]");
    let given: Vec<&str> = [
        ("volume_size", d.volume_size != 0),
        ("volume_id", nonempty(d.volume_id.clone()).is_some()),
        ("snapshot_id", nonempty(d.snapshot_id.clone()).is_some()),
        ("data_image_id", nonempty(d.data_image_id.clone()).is_some()),
    ]
    .into_iter()
    .filter_map(|(k, set)| set.then_some(k))
    .collect();
    let volume_type = nonempty(d.volume_type.clone()).unwrap_or_else(|| "SSD".into());
    let mut ok = true;
    let mut fail = |m: String| {
        errors.push(ConfigError::at(&at, format!("`{at}`: {m}")));
        ok = false;
    };
    if !VOLUME_TYPES.contains(&volume_type.as_str()) {
        fail(format!(
            "unknown `volume_type` `{volume_type}`: expected one of {}",
            VOLUME_TYPES.join(", ")
        ));
    }
    let source = match given.as_slice() {
        [] => {
            fail(format!("one of {KEYS} must be specified"));
            None
        }
        ["volume_size"] if !DATA_DISK_SIZES.contains(&d.volume_size) => {
            fail(format!(
                "`volume_size` must be from 10 to 32768 GB, not {}",
                d.volume_size
            ));
            None
        }
        ["volume_size"] => Some(DataDiskSource::Size(d.volume_size)),
        ["data_image_id"] => nonempty(d.data_image_id.clone()).map(DataDiskSource::Image),
        [k @ ("volume_id" | "snapshot_id")] => {
            fail(format!(
                "`{k}` is not supported by kiln's huaweicloud-ecs builder yet: `volume_size` or `data_image_id`"
            ));
            None
        }
        many => {
            let many = many.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>();
            fail(format!(
                "only one of {KEYS} can be specified, but {} were specified",
                many.join(", ")
            ));
            None
        }
    };
    source.filter(|_| ok).map(|source| DataDisk {
        volume_type,
        source,
    })
}
