//! The ucloud-import configuration: the plugin's keys (`ufile_bucket_name`,
//! `ufile_key_name`, `skip_clean`, `image_name`, `image_description`,
//! `image_os_type`, `image_os_name`, `format`, `wait_image_ready_timeout`),
//! the ucloud-uhost builder's access section (`public_key`, `private_key`,
//! `project_id`, `region`, `base_url`, `profile`,
//! `shared_credentials_file`, the `UCLOUD_*` variables, reused from
//! kiln-builder-ucloud) and kiln's `ufile_endpoint`. Decoded and validated
//! into a typed [`Config`], every error at once; `ufile_key_name` is left
//! for run time (it may use the build's generated data). Pure; holds
//! nothing.

use std::time::Duration;

use kiln_builder_ucloud::config::{
    access_keys, prepare_access, valid_image_name, AccessConfig, DEFAULT_IMAGE_TIMEOUT,
};
use kiln_sdk::config::{struct_fields, ConfigError, ConfigErrors, RawConfig, SectionDecoder};
use kiln_sdk::PrepareContext;
use serde::Deserialize;

/// The post-processor's own keys as the template writes them.
#[derive(Deserialize, Default)]
#[serde(default)]
struct RawImport {
    ufile_bucket_name: Option<String>,
    ufile_key_name: Option<String>,
    skip_clean: bool,
    image_name: Option<String>,
    image_description: Option<String>,
    image_os_type: Option<String>,
    image_os_name: Option<String>,
    format: Option<String>,
    wait_image_ready_timeout: Option<i64>,
    ufile_endpoint: Option<String>,
}

/// The disk image's format (`format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `raw`.
    Raw,
    /// `vhd`.
    Vhd,
    /// `vmdk`.
    Vmdk,
    /// `qcow2`.
    Qcow2,
}

impl Format {
    /// The template's spelling, also the file extension looked for.
    pub fn name(self) -> &'static str {
        match self {
            Format::Raw => "raw",
            Format::Vhd => "vhd",
            Format::Vmdk => "vmdk",
            Format::Qcow2 => "qcow2",
        }
    }

    /// The spelling ImportCustomImage takes (the plugin's map: `qcow2`
    /// stays as it is).
    pub fn api(self) -> &'static str {
        match self {
            Format::Raw => "RAW",
            Format::Vhd => "VHD",
            Format::Vmdk => "VMDK",
            Format::Qcow2 => "qcow2",
        }
    }
}

/// The OS types ImportCustomImage accepts (`image_os_type`).
pub const OS_TYPES: &[&str] = &["CentOS", "Ubuntu", "Windows", "RedHat", "Debian", "Other"];

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// How to reach UCloud (the builder's access section).
    pub access: AccessConfig,
    /// `ufile_bucket_name`: an existing bucket.
    pub bucket: String,
    /// `ufile_key_name`, a template rendered when the post-processor runs
    /// (the plugin's `packer-import-{{timestamp}}.<format>` by default).
    pub key: String,
    /// `skip_clean`: keep the uploaded object.
    pub skip_clean: bool,
    /// `image_name`.
    pub image_name: String,
    /// `image_description`.
    pub description: String,
    /// `image_os_type`.
    pub os_type: String,
    /// `image_os_name`.
    pub os_name: String,
    /// `format`.
    pub format: Format,
    /// `wait_image_ready_timeout` (seconds; 3600 by default).
    pub wait_image_ready_timeout: Duration,
    /// kiln's `ufile_endpoint`: objects go path style to
    /// `<ufile_endpoint>/<bucket>/<key>` instead of the bucket's own
    /// domain (a UFile-compatible endpoint, or a test fake).
    pub ufile_endpoint: Option<String>,
}

/// Decodes and validates with the process environment (`UCLOUD_*`).
pub fn prepare(raw: &RawConfig, cx: &PrepareContext) -> Result<Config, ConfigErrors> {
    prepare_with_env(raw, cx, &|name| std::env::var(name).ok())
}

fn nonempty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.is_empty())
}

/// [`prepare`] with `env` for the environment variables; every error at
/// once, located in the template.
pub fn prepare_with_env(
    raw: &RawConfig,
    cx: &PrepareContext,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigErrors> {
    let own = struct_fields::<RawImport>();
    let access_keys = access_keys();
    let all: Vec<&str> = own.iter().chain(access_keys.iter()).copied().collect();
    let mut errors = ConfigErrors::new();
    let d = SectionDecoder::new(raw, &cx.interpolation, &all, &["ufile_key_name"]);
    // The access section also gets the unknown keys, to report them once.
    let access = prepare_access(&d, true, cx, env, &mut errors);
    let r: RawImport = d.section(false, &mut errors);
    let e = &mut errors;

    let mut required = |key: &str, v: &Option<String>, what: &str| {
        let v = nonempty(v.clone());
        if v.is_none() {
            e.push(ConfigError::at(key, format!("`{key}` must be set: {what}")));
        }
        v.unwrap_or_default()
    };
    let bucket = required(
        "ufile_bucket_name",
        &r.ufile_bucket_name,
        "the UFile bucket (it must exist) the disk image is uploaded to",
    );
    let image_name = required(
        "image_name",
        &r.image_name,
        "the name of the imported image",
    );
    let os_type = required(
        "image_os_type",
        &r.image_os_type,
        "`CentOS`, `Ubuntu`, `Windows`, `RedHat`, `Debian` or `Other`",
    );
    let os_name = required(
        "image_os_name",
        &r.image_os_name,
        "the name of the OS, such as `CentOS 7.2 64位` (`Other` when `image_os_type` is `Other`)",
    );
    let format_text = required("format", &r.format, "`raw`, `vhd`, `vmdk` or `qcow2`");
    if !image_name.is_empty() && !valid_image_name(&image_name) {
        e.push(ConfigError::at(
            "image_name",
            format!("expected `image_name` to be 1-63 characters and only support chinese, english, numbers, '-_,.:[]', got `{image_name}`"),
        ));
    }
    if !os_type.is_empty() && !OS_TYPES.contains(&os_type.as_str()) {
        e.push(ConfigError::at(
            "image_os_type",
            format!(
                "expected `image_os_type` to be one of `{}`, got `{os_type}`",
                OS_TYPES.join("`, `")
            ),
        ));
    }
    let format = [Format::Raw, Format::Vhd, Format::Vmdk, Format::Qcow2]
        .into_iter()
        .find(|f| f.name() == format_text);
    if format.is_none() && !format_text.is_empty() {
        e.push(ConfigError::at(
            "format",
            format!("expected `format` only be one of 'raw', 'vhd', 'vmdk', or 'qcow2', got `{format_text}`"),
        ));
    }
    let format = format.unwrap_or(Format::Raw);
    let key = match nonempty(r.ufile_key_name.clone()) {
        Some(k) => k,
        None => format!("packer-import-{{{{timestamp}}}}.{}", format.name()),
    };
    if let Err(err) = kiln_sdk::interpolate::check_syntax(&key) {
        e.push(ConfigError::at(
            "ufile_key_name",
            format!("error parsing `ufile_key_name` template: {err}"),
        ));
    }
    let wait_image_ready_timeout = match r.wait_image_ready_timeout {
        Some(s) if s > 0 => Duration::from_secs(s as u64),
        _ => DEFAULT_IMAGE_TIMEOUT,
    };
    let ufile_endpoint = match nonempty(r.ufile_endpoint.clone()) {
        Some(u) if u.starts_with("http://") || u.starts_with("https://") => {
            Some(u.trim_end_matches('/').to_string())
        }
        Some(u) => {
            e.push(ConfigError::at(
                "ufile_endpoint",
                format!("`ufile_endpoint` must be an http:// or https:// URL, got `{u}`"),
            ));
            None
        }
        None => None,
    };
    let config = Config {
        access,
        bucket,
        key,
        skip_clean: r.skip_clean,
        image_name,
        description: r.image_description.unwrap_or_default(),
        os_type,
        os_name,
        format,
        wait_image_ready_timeout,
        ufile_endpoint,
    };
    if errors.is_empty() {
        Ok(config)
    } else {
        Err(errors.locate(raw))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use kiln_test::prepare_cx;

    fn raw(v: serde_json::Value) -> RawConfig {
        RawConfig::from_value(v)
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn full() -> serde_json::Value {
        serde_json::json!({
            "public_key": "pub", "private_key": "priv", "project_id": "org-kiln",
            "region": "cn-bj2", "ufile_bucket_name": "b", "image_name": "kiln-imported",
            "image_os_type": "CentOS", "image_os_name": "CentOS 7.9 64位", "format": "qcow2"
        })
    }

    #[test]
    fn a_full_config_is_typed_with_the_plugins_defaults() {
        let c = prepare_with_env(&raw(full()), &prepare_cx("file"), &no_env).unwrap();
        assert_eq!(c.format, Format::Qcow2);
        assert_eq!(c.format.api(), "qcow2");
        assert_eq!(c.key, "packer-import-{{timestamp}}.qcow2");
        assert_eq!(c.wait_image_ready_timeout, Duration::from_secs(3600));
        assert!(!c.skip_clean);
        assert_eq!(c.access.base_url, "https://api.ucloud.cn");
        assert_eq!(c.ufile_endpoint, None);
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let e = prepare_with_env(
            &raw(serde_json::json!({
                "image_name": "bad/name", "image_os_type": "Gentoo", "format": "iso",
                "ufile_endpoint": "ftp://x", "ufile_key_name": "{{ .Oops"
            })),
            &prepare_cx("file"),
            &no_env,
        )
        .unwrap_err()
        .to_string();
        for want in [
            "`region`",
            "`project_id`",
            "no UCloud credentials",
            "`ufile_bucket_name` must be set",
            "`image_os_name` must be set",
            "expected `image_name` to be 1-63 characters",
            "expected `image_os_type` to be one of",
            "expected `format` only be one of",
            "`ufile_endpoint` must be an http://",
            "`ufile_key_name` template",
        ] {
            assert!(e.contains(want), "`{want}` missing from:\n{e}");
        }
    }
}
