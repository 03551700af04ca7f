//! The run section (Packer's `RunConfig`): the source image
//! (`source_image`, `source_image_name`, `source_image_filter` or
//! `external_source_image_url`), the flavor and zone, the networks
//! (`networks`, `ports`, `network_discovery_cidrs`), the floating IP
//! (`floating_ip`, `reuse_ips`, `floating_ip_network` or the deprecated
//! `floating_ip_pool`), security groups, user data, metadata, the
//! block-storage root volume (`use_blockstorage_volume`, `volume_*`), and
//! how the communicator finds the server (`ssh_interface`,
//! `ssh_ip_version`). Pure; holds nothing.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use kiln_cloud::config::keypair_lacks_private_key;
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
    tags: Vec<String>,
    visibility: String,
    properties: BTreeMap<String, String>,
}

/// The run keys as the template writes them.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct RawRun {
    ssh_interface: Option<String>,
    ssh_ip_version: Option<String>,
    source_image: Option<String>,
    source_image_name: Option<String>,
    external_source_image_url: Option<String>,
    external_source_image_format: Option<String>,
    external_source_image_properties: BTreeMap<String, String>,
    source_image_filter: RawFilter,
    flavor: Option<String>,
    availability_zone: Option<String>,
    rackconnect_wait: bool,
    floating_ip_network: Option<String>,
    instance_floating_ip_net: Option<String>,
    floating_ip: Option<String>,
    reuse_ips: bool,
    security_groups: Vec<String>,
    networks: Vec<String>,
    ports: Vec<String>,
    network_discovery_cidrs: Vec<String>,
    user_data: Option<String>,
    user_data_file: Option<String>,
    instance_name: Option<String>,
    instance_metadata: BTreeMap<String, String>,
    force_delete: bool,
    config_drive: bool,
    floating_ip_pool: Option<String>,
    use_blockstorage_volume: bool,
    volume_name: Option<String>,
    volume_type: Option<String>,
    volume_size: u32,
    volume_availability_zone: Option<String>,
    openstack_provider: Option<String>,
    use_floating_ip: bool,
    image_creation_wait: u64,
    ssh_keypair_name: Option<String>,
}

/// Where the source image comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceImage {
    /// `source_image`: an id, used as it is.
    Id(String),
    /// `source_image_name` or `source_image_filter`: Glance's image list
    /// with these query parameters, then these properties; exactly one
    /// match unless `most_recent`.
    Filter(ImageFilter),
    /// `external_source_image_url`: a temporary Glance image imported
    /// (`web-download`) from the URL, deleted after the build.
    External {
        /// The URL.
        url: String,
        /// `external_source_image_format` (default `qcow2`).
        format: String,
        /// `external_source_image_properties`.
        properties: BTreeMap<String, String>,
    },
}

/// A Glance image query.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ImageFilter {
    /// Glance's query parameters (`name`, `owner`, `tag`, `visibility`,
    /// and for a filter `status=active`, `member_status=accepted`,
    /// `sort=created_at:desc`).
    pub query: Vec<(String, String)>,
    /// Properties every match must have.
    pub properties: BTreeMap<String, String>,
    /// `most_recent`: take the newest of several.
    pub most_recent: bool,
}

/// Which floating IP the server is reached through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FloatingIp {
    /// `floating_ip`: the user's (an id), kept.
    Given(String),
    /// `reuse_ips`: a free one of the project, kept.
    Reuse,
    /// `floating_ip_network` (or `floating_ip_pool`): a new one on that
    /// network (an id or a name), released after the build.
    Create(String),
    /// None ("Floating IP not required").
    None,
}

/// The block-storage root volume (`use_blockstorage_volume`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    /// `volume_name` (default `packer_<uuid>`).
    pub name: String,
    /// `volume_type`.
    pub kind: Option<String>,
    /// `volume_size` GB; `None`: the source image's minimum disk, or its
    /// size rounded up.
    pub size: Option<u32>,
    /// `volume_availability_zone` (default `availability_zone`).
    pub availability_zone: Option<String>,
}

/// The validated run keys.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// The source image.
    pub source_image: SourceImage,
    /// `flavor` (an id or a name).
    pub flavor: String,
    /// `availability_zone`.
    pub availability_zone: Option<String>,
    /// `rackconnect_wait`.
    pub rackconnect_wait: bool,
    /// The floating IP.
    pub floating_ip: FloatingIp,
    /// `instance_floating_ip_net`: the server's network whose port gets
    /// the floating IP.
    pub instance_floating_ip_net: Option<String>,
    /// `security_groups` (names).
    pub security_groups: Vec<String>,
    /// `networks` (ids).
    pub networks: Vec<String>,
    /// `ports` (ids).
    pub ports: Vec<String>,
    /// `network_discovery_cidrs`.
    pub network_discovery_cidrs: Vec<String>,
    /// `user_data`.
    pub user_data: Option<String>,
    /// `user_data_file`, read when the server is launched.
    pub user_data_file: Option<PathBuf>,
    /// `instance_name`; `None` is the image name.
    pub instance_name: Option<String>,
    /// `instance_metadata`.
    pub instance_metadata: BTreeMap<String, String>,
    /// `force_delete`.
    pub force_delete: bool,
    /// `config_drive`.
    pub config_drive: bool,
    /// The root volume, with `use_blockstorage_volume`.
    pub volume: Option<Volume>,
    /// `ssh_interface`: the network (pool) whose address to connect to.
    pub ssh_interface: Option<String>,
    /// `ssh_ip_version` (`4` or `6`).
    pub ssh_ip_version: Option<String>,
    /// `image_creation_wait`: a pause after the image is active.
    pub image_creation_wait: Duration,
    /// `ssh_keypair_name`: an existing key pair.
    pub ssh_keypair_name: Option<String>,
}

/// Packer's default external image format.
pub const DEFAULT_EXTERNAL_FORMAT: &str = "qcow2";

/// The visibilities Glance knows.
pub const VISIBILITIES: &[&str] = &["public", "private", "shared", "community"];

/// Validates the run keys.
pub(super) fn prepare(
    r: &RawRun,
    communicator: &CommunicatorConfig,
    temporary_name: &dyn Fn() -> String,
    errors: &mut ConfigErrors,
) -> RunConfig {
    let err =
        |errors: &mut ConfigErrors, key: &str, m: String| errors.push(ConfigError::at(key, m));
    let ssh_keypair_name = nonempty(r.ssh_keypair_name.clone());
    if keypair_lacks_private_key(ssh_keypair_name.as_deref(), communicator) {
        err(
            errors,
            "ssh_keypair_name",
            "an `ssh_private_key_file` must be provided or `ssh_agent_auth` enabled when `ssh_keypair_name` is specified".into(),
        );
    }

    let id = nonempty(r.source_image.clone());
    let name = nonempty(r.source_image_name.clone());
    let url = nonempty(r.external_source_image_url.clone());
    let f = &r.source_image_filter.filters;
    let filter_set = !(f.name.is_empty()
        && f.owner.is_empty()
        && f.tags.is_empty()
        && f.visibility.is_empty()
        && f.properties.is_empty());
    let set = [id.is_some(), name.is_some(), url.is_some(), filter_set]
        .iter()
        .filter(|b| **b)
        .count();
    if set == 0 {
        err(
            errors,
            "source_image",
            "either a `source_image`, a `source_image_name`, an `external_source_image_url` or a `source_image_filter` must be specified".into(),
        );
    } else if set > 1 {
        err(
            errors,
            "source_image",
            "only one of the options `source_image`, `source_image_name`, `external_source_image_url`, or `source_image_filter` can be specified, not multiple".into(),
        );
    }
    if !f.visibility.is_empty() && !VISIBILITIES.contains(&f.visibility.as_str()) {
        err(
            errors,
            "source_image_filter.filters.visibility",
            format!(
                "unknown visibility `{}`: expected one of `public`, `private`, `shared`, `community`",
                f.visibility
            ),
        );
    }
    let source_image = if let Some(id) = id {
        SourceImage::Id(id)
    } else if let Some(url) = url {
        SourceImage::External {
            url,
            format: nonempty(r.external_source_image_format.clone())
                .unwrap_or_else(|| DEFAULT_EXTERNAL_FORMAT.into()),
            properties: r.external_source_image_properties.clone(),
        }
    } else if let Some(name) = name {
        // As Packer: the name alone, no status or sort.
        SourceImage::Filter(ImageFilter {
            query: vec![("name".into(), name)],
            ..ImageFilter::default()
        })
    } else {
        let mut query: Vec<(String, String)> = Vec::new();
        if !f.name.is_empty() {
            query.push(("name".into(), f.name.clone()));
        }
        if !f.owner.is_empty() {
            query.push(("owner".into(), f.owner.clone()));
        }
        for t in &f.tags {
            query.push(("tag".into(), t.clone()));
        }
        if !f.visibility.is_empty() {
            query.push(("visibility".into(), f.visibility.clone()));
        }
        query.extend([
            ("status".into(), "active".into()),
            ("member_status".into(), "accepted".into()),
            ("sort".into(), "created_at:desc".into()),
        ]);
        SourceImage::Filter(ImageFilter {
            query,
            properties: f.properties.clone(),
            most_recent: r.source_image_filter.most_recent,
        })
    };

    let flavor = nonempty(r.flavor.clone()).unwrap_or_default();
    if flavor.is_empty() {
        err(errors, "flavor", "a `flavor` must be specified".into());
    }
    let ssh_ip_version = nonempty(r.ssh_ip_version.clone());
    if let Some(v) = &ssh_ip_version {
        if v != "4" && v != "6" {
            err(
                errors,
                "ssh_ip_version",
                format!("SSH IP version must be either 4 or 6, not `{v}`"),
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
                format!("instance metadata value too long (max 255 bytes): `{v}`"),
            );
        }
    }
    for c in &r.network_discovery_cidrs {
        if parse_cidr(c).is_none() {
            err(
                errors,
                "network_discovery_cidrs",
                format!("`{c}` is not a CIDR block (such as `10.0.0.0/8`)"),
            );
        }
    }
    let user_data_file = nonempty(r.user_data_file.clone()).map(PathBuf::from);
    if let Some(p) = &user_data_file {
        if !p.is_file() {
            err(
                errors,
                "user_data_file",
                format!("user_data_file not found: `{}`", p.display()),
            );
        }
    }
    let floating_network =
        nonempty(r.floating_ip_network.clone()).or_else(|| nonempty(r.floating_ip_pool.clone()));
    let floating_ip = if let Some(ip) = nonempty(r.floating_ip.clone()) {
        FloatingIp::Given(ip)
    } else if r.reuse_ips {
        FloatingIp::Reuse
    } else if let Some(n) = floating_network {
        FloatingIp::Create(n)
    } else {
        FloatingIp::None
    };
    let availability_zone = nonempty(r.availability_zone.clone());
    let volume = r.use_blockstorage_volume.then(|| Volume {
        name: nonempty(r.volume_name.clone()).unwrap_or_else(temporary_name),
        kind: nonempty(r.volume_type.clone()),
        size: (r.volume_size > 0).then_some(r.volume_size),
        availability_zone: nonempty(r.volume_availability_zone.clone())
            .or_else(|| availability_zone.clone()),
    });
    RunConfig {
        source_image,
        flavor,
        availability_zone,
        rackconnect_wait: r.rackconnect_wait,
        floating_ip,
        instance_floating_ip_net: nonempty(r.instance_floating_ip_net.clone()),
        security_groups: r.security_groups.clone(),
        networks: r.networks.clone(),
        ports: r.ports.clone(),
        network_discovery_cidrs: r.network_discovery_cidrs.clone(),
        user_data: nonempty(r.user_data.clone()),
        user_data_file,
        instance_name: nonempty(r.instance_name.clone()),
        instance_metadata: r.instance_metadata.clone(),
        force_delete: r.force_delete,
        config_drive: r.config_drive,
        volume,
        ssh_interface: nonempty(r.ssh_interface.clone()),
        ssh_ip_version,
        image_creation_wait: Duration::from_secs(r.image_creation_wait),
        ssh_keypair_name,
    }
}

/// `cidr` as an address and a prefix length.
pub fn parse_cidr(cidr: &str) -> Option<(std::net::IpAddr, u8)> {
    let (addr, len) = cidr.split_once('/')?;
    let addr: std::net::IpAddr = addr.parse().ok()?;
    let len: u8 = len.parse().ok()?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    (len <= max).then_some((addr, len))
}

/// Whether network `outer` contains network `inner` (Packer's
/// `containsNet`: `inner`'s address is in `outer` and `outer` is no
/// smaller).
pub fn contains_net(outer: &str, inner: &str) -> bool {
    let (Some((oa, ol)), Some((ia, il))) = (parse_cidr(outer), parse_cidr(inner)) else {
        return false;
    };
    let bits = |a: std::net::IpAddr| -> u128 {
        match a {
            std::net::IpAddr::V4(v) => u128::from(u32::from(v)) << 96,
            std::net::IpAddr::V6(v) => u128::from(v),
        }
    };
    if oa.is_ipv4() != ia.is_ipv4() {
        return false;
    }
    // IPv4 addresses sit in the top 32 bits, so a prefix counts from the
    // top for both families.
    let mask = if ol == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(ol))
    };
    (bits(oa) & mask) == (bits(ia) & mask) && ol <= il
}
