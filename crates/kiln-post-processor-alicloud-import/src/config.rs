//! The alicloud-import configuration: Packer 1.6.6's keys (`oss_bucket_name`,
//! `oss_key_name`, `skip_clean`, `tags`, `image_name`,
//! `image_description`, `image_os_type`, `image_platform`,
//! `image_architecture`, `image_system_size`, `format`,
//! `image_force_delete`), the alicloud-ecs builder's access section
//! (`access_key`, `secret_key`, `security_token`, `region`, `profile`,
//! the `ALICLOUD_*` variables, `custom_endpoint_ecs`, reused from
//! kiln-builder-alicloud), and kiln's `custom_endpoint_oss` and
//! `custom_endpoint_ram`. Packer's config embeds the whole builder config,
//! so the builder's other keys are accepted too, and ignored with a
//! warning, as Packer ignores them. Decoded and validated into a typed
//! [`Config`], every error at once; `oss_key_name` is left for run time
//! (it may use the build's generated data). Pure; holds nothing.

use std::collections::BTreeMap;

use kiln_builder_alicloud::config::{
    self as ecs_config, check_image_name, check_tag_keys, endpoint_url, AccessConfig,
};
use kiln_sdk::config::{
    struct_fields, ConfigError, ConfigErrors, OneOrMany, RawConfig, SectionDecoder,
};
use kiln_sdk::PrepareContext;
use serde::Deserialize;

/// The post-processor's own keys as the template writes them.
#[derive(Deserialize, Default)]
#[serde(default)]
struct RawImport {
    oss_bucket_name: Option<String>,
    oss_key_name: Option<String>,
    skip_clean: bool,
    tags: BTreeMap<String, String>,
    image_name: Option<String>,
    image_description: Option<String>,
    image_share_account: OneOrMany,
    image_copy_regions: OneOrMany,
    image_os_type: Option<String>,
    image_platform: Option<String>,
    image_architecture: Option<String>,
    image_system_size: Option<String>,
    format: Option<String>,
    image_force_delete: bool,
    custom_endpoint_oss: Option<String>,
    custom_endpoint_ram: Option<String>,
}

/// The disk image's format (`DiskDeviceMapping.1.Format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A raw disk.
    Raw,
    /// A VHD.
    Vhd,
    /// A qcow2 image.
    Qcow2,
}

impl Format {
    /// The spelling ImportImage takes.
    pub fn api(self) -> &'static str {
        match self {
            Format::Raw => "RAW",
            Format::Vhd => "VHD",
            Format::Qcow2 => "QCOW2",
        }
    }

    /// The format a file name's extension says, if any.
    pub fn of_file(name: &str) -> Option<Format> {
        let lower = name.to_ascii_lowercase();
        [
            ("raw", Format::Raw),
            ("vhd", Format::Vhd),
            ("qcow2", Format::Qcow2),
        ]
        .into_iter()
        .find(|(ext, _)| lower.ends_with(ext))
        .map(|(_, f)| f)
    }
}

/// The image's operating system type (`OSType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OsType {
    /// `linux`.
    Linux,
    /// `windows`.
    Windows,
}

impl OsType {
    /// The spelling ImportImage takes.
    pub fn api(self) -> &'static str {
        match self {
            OsType::Linux => "linux",
            OsType::Windows => "windows",
        }
    }
}

/// The image's architecture (`Architecture`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Architecture {
    /// `x86_64`.
    X86_64,
    /// `i386`.
    I386,
    /// `arm64`.
    Arm64,
}

impl Architecture {
    /// The spelling ImportImage takes.
    pub fn api(self) -> &'static str {
        match self {
            Architecture::X86_64 => "x86_64",
            Architecture::I386 => "i386",
            Architecture::Arm64 => "arm64",
        }
    }
}

/// What happens to the uploaded object once the image is imported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceObject {
    /// Deleted (Packer's default).
    Delete,
    /// Kept (`skip_clean`).
    Keep,
}

/// What happens when images of `image_name` exist already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExistingImage {
    /// The post-processor fails before uploading (Packer's default).
    Fail,
    /// They are deleted before the import (`image_force_delete`, `-force`).
    Delete,
}

/// The validated config.
#[derive(Debug, Clone)]
pub struct Config {
    /// Credentials, region and the ECS endpoint.
    pub access: AccessConfig,
    /// `oss_bucket_name`.
    pub bucket: String,
    /// `oss_key_name`, a template rendered when the post-processor runs;
    /// empty: `Packer_<nanoseconds>`.
    pub object_key: String,
    /// `skip_clean`.
    pub source_object: SourceObject,
    /// `tags`: the image's tags.
    pub tags: BTreeMap<String, String>,
    /// `image_name`; Packer 1.6.6 accepts a template without it, but no
    /// import can run without it (checked when the post-processor runs).
    pub image_name: Option<String>,
    /// `image_description`.
    pub description: Option<String>,
    /// `image_os_type`; `None` leaves it to ECS (`linux`).
    pub os_type: Option<OsType>,
    /// `image_platform` (`CentOS`, `Ubuntu`, …); `None` leaves it to ECS.
    pub platform: Option<String>,
    /// `image_architecture`; `None` leaves it to ECS (`x86_64`).
    pub architecture: Option<Architecture>,
    /// `image_system_size`, in GiB; `None` leaves it to ECS.
    pub system_size: Option<u32>,
    /// `format`; `None`: the file's extension says.
    pub format: Option<Format>,
    /// `image_force_delete` (or `-force`).
    pub existing_image: ExistingImage,
    /// `custom_endpoint_oss`, as a URL.
    pub custom_endpoint_oss: Option<String>,
    /// `custom_endpoint_ram`, as a URL.
    pub custom_endpoint_ram: Option<String>,
}

/// The config and what `prepare` has to say.
#[derive(Debug)]
pub struct Prepared {
    /// The config.
    pub config: Config,
    /// Warnings for `validate` and `build`.
    pub warnings: Vec<String>,
}

/// Decodes and validates with the process environment (`ALICLOUD_*`).
pub fn prepare(raw: &RawConfig, cx: &PrepareContext) -> Result<Prepared, ConfigErrors> {
    prepare_with_env(raw, cx, &|name| std::env::var(name).ok())
}

/// [`prepare`] with `env` for the environment variables; every error at
/// once, located in the template.
pub fn prepare_with_env(
    raw: &RawConfig,
    cx: &PrepareContext,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Prepared, ConfigErrors> {
    let own = struct_fields::<RawImport>();
    let builder = ecs_config::builder_keys();
    let all: Vec<&str> = own.iter().chain(builder.iter()).copied().collect();
    let mut errors = ConfigErrors::new();
    let d = SectionDecoder::new(raw, &cx.interpolation, &all, &["oss_key_name"]);
    // The access section also gets the unknown keys, to report them once.
    let access = ecs_config::prepare_access(&d, true, cx, env, &mut errors);
    let r: RawImport = d.section(false, &mut errors);
    let e = &mut errors;

    let bucket = nonempty(r.oss_bucket_name.clone()).unwrap_or_default();
    if bucket.is_empty() {
        e.push(ConfigError::at(
            "oss_bucket_name",
            "`oss_bucket_name` must be set: the OSS bucket the disk image is uploaded to",
        ));
    } else if let Some(why) = check_bucket_name(&bucket) {
        e.push(ConfigError::at("oss_bucket_name", why));
    }
    let object_key = r.oss_key_name.clone().unwrap_or_default();
    if let Err(err) = kiln_sdk::interpolate::check_syntax(&object_key) {
        e.push(ConfigError::at("oss_key_name", err.to_string()));
    }
    let image_name = nonempty(r.image_name.clone());
    let mut warnings = Vec::new();
    match &image_name {
        Some(name) => {
            if let Some(why) = check_image_name("image_name", name) {
                e.push(ConfigError::at("image_name", why));
            }
        }
        None => warnings.push(
            "`image_name` is not set: Packer 1.6.6 accepts this, but no image can be imported \
             without a name, so the post-processor will fail before uploading anything"
                .to_string(),
        ),
    }
    if let Some(d) = &r.image_description {
        if d.chars().count() > 256 || d.starts_with("http://") || d.starts_with("https://") {
            e.push(ConfigError::at(
                "image_description",
                "`image_description` must be at most 256 characters and cannot start with `http://` or `https://`",
            ));
        }
    }
    check_tag_keys("tags", &r.tags, e);
    let os_type = r.image_os_type.as_deref().and_then(|v| {
        choice(
            "image_os_type",
            v,
            &[("linux", OsType::Linux), ("windows", OsType::Windows)],
            e,
        )
    });
    let architecture = r.image_architecture.as_deref().and_then(|v| {
        choice(
            "image_architecture",
            v,
            &[
                ("x86_64", Architecture::X86_64),
                ("i386", Architecture::I386),
                ("arm64", Architecture::Arm64),
            ],
            e,
        )
    });
    let format = r.format.as_deref().and_then(|v| {
        choice(
            "format",
            v,
            &[
                ("raw", Format::Raw),
                ("vhd", Format::Vhd),
                ("qcow2", Format::Qcow2),
            ],
            e,
        )
    });
    let system_size = r
        .image_system_size
        .as_deref()
        .filter(|s| !s.is_empty())
        .and_then(|s| match s.trim().parse::<u32>() {
            Ok(n) if (1..=2048).contains(&n) => Some(n),
            _ => {
                e.push(ConfigError::at(
                    "image_system_size",
                    format!("`image_system_size` must be a whole number of GiB from 1 to 2048, found `{s}`"),
                ));
                None
            }
        });
    let custom_endpoint_oss = nonempty(r.custom_endpoint_oss.clone())
        .and_then(|v| endpoint_url("custom_endpoint_oss", &v, e));
    let custom_endpoint_ram = nonempty(r.custom_endpoint_ram.clone())
        .and_then(|v| endpoint_url("custom_endpoint_ram", &v, e));

    if let Some(w) = ignored_keys(raw, own, &r) {
        warnings.push(w);
    }
    let config = Config {
        access,
        bucket,
        object_key,
        source_object: if r.skip_clean {
            SourceObject::Keep
        } else {
            SourceObject::Delete
        },
        tags: r.tags,
        image_name,
        description: nonempty(r.image_description),
        os_type,
        platform: nonempty(r.image_platform),
        architecture,
        system_size,
        format,
        existing_image: if r.image_force_delete || cx.force {
            ExistingImage::Delete
        } else {
            ExistingImage::Fail
        },
        custom_endpoint_oss,
        custom_endpoint_ram,
    };
    if errors.is_empty() {
        Ok(Prepared { config, warnings })
    } else {
        Err(errors.locate(raw))
    }
}

/// The warning naming the keys the template sets that the post-processor
/// accepts but does not use: the alicloud-ecs builder's own keys (Packer's
/// config embeds the builder's), `image_share_account` and
/// `image_copy_regions` (which Packer 1.6.6 declares and never uses).
fn ignored_keys(raw: &RawConfig, own: &[&str], r: &RawImport) -> Option<String> {
    let access = ecs_config::access_keys();
    let mut keys: Vec<String> = raw
        .values
        .keys()
        .filter(|k| {
            let k = k.as_str();
            !own.contains(&k) && !access.contains(&k) && ecs_config::builder_keys().contains(&k)
        })
        .map(|k| format!("`{k}`"))
        .collect();
    if !r.image_share_account.non_empty().is_empty() {
        keys.push("`image_share_account`".into());
    }
    if !r.image_copy_regions.non_empty().is_empty() {
        keys.push("`image_copy_regions`".into());
    }
    (!keys.is_empty()).then(|| {
        format!(
            "{} {} ignored by alicloud-import, as Packer 1.6.6 ignores {}",
            keys.join(", "),
            if keys.len() == 1 { "is" } else { "are" },
            if keys.len() == 1 { "it" } else { "them" },
        )
    })
}

/// Parses `value` of `key` as one of `choices`, in any case (ImportImage
/// takes `RAW` and `raw` alike); else the builder's error, with a
/// suggestion.
fn choice<T: Copy>(
    key: &str,
    value: &str,
    choices: &[(&str, T)],
    errors: &mut ConfigErrors,
) -> Option<T> {
    choices
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(value))
        .map(|(_, t)| *t)
        .or_else(|| ecs_config::choice(key, value, choices, errors))
}

/// Why `name` is not a valid OSS bucket name: 3 to 63 characters, lower
/// case letters, digits and hyphens, not starting or ending with a hyphen.
fn check_bucket_name(name: &str) -> Option<String> {
    let ok = (3..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    (!ok).then(|| {
        format!(
            "`oss_bucket_name` must be 3 to 63 lower case letters, digits and hyphens, not starting or ending with a hyphen, found `{name}`"
        )
    })
}

fn nonempty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests;
