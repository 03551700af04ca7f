//! The `ansible-local` configuration: Packer 1.6.6's keys, its defaults
//! and its checks, every problem collected at once. Pure apart from
//! looking at the local files and directories the keys name (Packer's
//! `validateFileConfig` / `validateDirConfig`) and at the working
//! directory (relative `playbook_files` and `playbook_dir` are made
//! absolute against it, as Packer's `filepath.Abs` does). Holds nothing
//! to clean up.

use kiln_sdk::config::decode_prepared;
use kiln_sdk::{ConfigError, ConfigErrors, PrepareContext, RawConfig};
use serde::Deserialize;

use crate::paths;

/// Packer's `DefaultStagingDir`: the default staging directory is a
/// time-ordered UUID below it.
pub const DEFAULT_STAGING_DIR: &str = "/tmp/packer-provisioner-ansible-local";
/// The default `command`.
pub const DEFAULT_COMMAND: &str = "ANSIBLE_FORCE_COLOR=1 PYTHONUNBUFFERED=1 ansible-playbook";
/// The default `galaxy_command`.
pub const DEFAULT_GALAXY_COMMAND: &str = "ansible-galaxy";

/// The keys as the template gives them (Packer's `Config`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Fields {
    command: String,
    extra_arguments: GoList,
    group_vars: String,
    host_vars: String,
    playbook_dir: String,
    playbook_file: String,
    playbook_files: GoList,
    playbook_paths: GoList,
    role_paths: GoList,
    staging_directory: String,
    clean_staging_directory: bool,
    inventory_file: String,
    inventory_groups: GoList,
    galaxy_file: String,
    galaxy_command: String,
}

/// A list key as Packer decodes it: a list, or one string split at its
/// commas (its decoder's `StringToSliceHookFunc(",")`: `"web,db"` is two
/// groups; `""` is none).
#[derive(Debug, Default)]
struct GoList(Vec<String>);

impl GoList {
    fn into_vec(self) -> Vec<String> {
        self.0
    }
}

impl<'de> Deserialize<'de> for GoList {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = GoList;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a list of strings")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<GoList, E> {
                Ok(GoList(if s.is_empty() {
                    Vec::new()
                } else {
                    s.split(',').map(str::to_string).collect()
                }))
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<GoList, E> {
                Ok(GoList::default())
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<GoList, A::Error> {
                let mut v = Vec::new();
                while let Some(s) = seq.next_element::<String>()? {
                    v.push(s);
                }
                Ok(GoList(v))
            }
        }
        d.deserialize_any(Visit)
    }
}

/// Which playbooks run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Playbooks {
    /// `playbook_file`, as given: uploaded to the staging directory under
    /// its base name.
    File(String),
    /// `playbook_files`, each made absolute and clean.
    Files(Vec<String>),
}

/// A prepared `ansible-local` provisioner: every default filled in.
#[derive(Debug, Clone)]
pub struct Config {
    /// The ansible-playbook command line prefix.
    pub command: String,
    /// Appended to each ansible-playbook command, joined by spaces.
    pub extra_arguments: Vec<String>,
    /// The local `group_vars` directory, uploaded to `<staging>/group_vars`.
    pub group_vars: Option<String>,
    /// The local `host_vars` directory, uploaded to `<staging>/host_vars`.
    pub host_vars: Option<String>,
    /// The local directory whose contents become the staging directory.
    pub playbook_dir: Option<String>,
    /// `playbook_dir` made absolute and clean (to find `playbook_files`
    /// inside it).
    pub playbook_dir_abs: Option<String>,
    /// The playbooks to run.
    pub playbooks: Playbooks,
    /// Directories uploaded to `<staging>/playbooks/<base name>`.
    pub playbook_paths: Vec<String>,
    /// Directories uploaded to `<staging>/roles/<base name>`.
    pub role_paths: Vec<String>,
    /// The remote staging directory.
    pub staging_directory: String,
    /// Remove the staging directory after the playbooks have run.
    pub clean_staging_directory: bool,
    /// The local inventory file; `None` generates one.
    pub inventory_file: Option<String>,
    /// The groups of the generated inventory.
    pub inventory_groups: Vec<String>,
    /// The local ansible-galaxy requirements file.
    pub galaxy_file: Option<String>,
    /// The ansible-galaxy command.
    pub galaxy_command: String,
    /// The build's name (`packer_build_name`).
    pub build_name: String,
    /// The builder's type (`packer_builder_type`).
    pub builder_type: String,
}

/// What a path key must name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    File,
    Directory,
}

/// Packer's `validateFileConfig` / `validateDirConfig`: `path` exists and
/// is a file (or a directory). A missing path reports why, with kiln's
/// hint for relative paths.
fn check_path(key: String, path: &str, kind: Kind) -> Option<ConfigError> {
    let what = match kind {
        Kind::File => "file",
        Kind::Directory => "directory",
    };
    if let Some(e) = kiln_sdk::config::check_local_path(key.clone(), what, path) {
        return Some(e);
    }
    let is_dir = std::fs::metadata(path).map(|m| m.is_dir()).unwrap_or(false);
    match (kind, is_dir) {
        (Kind::File, true) => Some(ConfigError::at(
            key,
            format!("`{path}` must point to a file, not a directory"),
        )),
        (Kind::Directory, false) => Some(ConfigError::at(
            key,
            format!("`{path}` must point to a directory"),
        )),
        _ => None,
    }
}

/// Packer's `uuid.TimeOrderedUUID`: the Unix time in seconds, then 12
/// random bytes, as `8-4-4-4-12` hex digits.
pub fn time_ordered_uuid() -> String {
    let unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as u32)
        .unwrap_or(0);
    let b = uuid::Uuid::new_v4().into_bytes();
    let hex =
        |r: std::ops::Range<usize>| -> String { b[r].iter().map(|x| format!("{x:02x}")).collect() };
    format!(
        "{unix:08x}-{}-{}-{}-{}",
        hex(0..2),
        hex(2..4),
        hex(4..6),
        hex(6..12)
    )
}

/// Decodes and checks the keys, in Packer 1.6.6's order; every problem at
/// once.
pub fn prepare(raw: &RawConfig, cx: &PrepareContext) -> Result<Config, ConfigErrors> {
    let (f, mut errors) = decode_prepared::<Fields>(raw, cx, &[])?;
    let extra_arguments = f.extra_arguments.into_vec();
    let playbook_files_given = f.playbook_files.into_vec();
    let playbook_paths = f.playbook_paths.into_vec();
    let role_paths = f.role_paths.into_vec();
    let inventory_groups = f.inventory_groups.into_vec();
    let cwd = std::env::current_dir().ok();
    let absolute = |p: &str| paths::absolute(p, cwd.as_deref());

    match (f.playbook_file.is_empty(), playbook_files_given.is_empty()) {
        (false, false) => errors.push(ConfigError::new(
            "either `playbook_file` or `playbook_files` can be specified, not both",
        )),
        (true, true) => errors.push(ConfigError::new(
            "either `playbook_file` or `playbook_files` must be specified",
        )),
        _ => {}
    }
    if !f.playbook_file.is_empty() {
        errors.0.extend(check_path(
            "playbook_file".into(),
            &f.playbook_file,
            Kind::File,
        ));
    }
    let mut playbook_files = Vec::with_capacity(playbook_files_given.len());
    for (i, p) in playbook_files_given.iter().enumerate() {
        let key = format!("playbook_files[{i}]");
        if p.is_empty() {
            errors.push(ConfigError::at(key, "must name a playbook file"));
            continue;
        }
        match check_path(key, p, Kind::File) {
            Some(e) => errors.push(e),
            None => playbook_files.push(absolute(p)),
        }
    }
    let optional_file = |key: &str, value: &str, errors: &mut ConfigErrors| {
        if value.is_empty() {
            return None;
        }
        errors
            .0
            .extend(check_path(key.to_string(), value, Kind::File));
        Some(value.to_string())
    };
    let inventory_file = optional_file("inventory_file", &f.inventory_file, &mut errors);
    let galaxy_file = optional_file("galaxy_file", &f.galaxy_file, &mut errors);
    let optional_dir = |key: &str, value: &str, errors: &mut ConfigErrors| {
        if value.is_empty() {
            return None;
        }
        errors
            .0
            .extend(check_path(key.to_string(), value, Kind::Directory));
        Some(value.to_string())
    };
    let playbook_dir = optional_dir("playbook_dir", &f.playbook_dir, &mut errors);
    let group_vars = optional_dir("group_vars", &f.group_vars, &mut errors);
    let host_vars = optional_dir("host_vars", &f.host_vars, &mut errors);
    for (key, list) in [
        ("playbook_paths", &playbook_paths),
        ("role_paths", &role_paths),
    ] {
        for (i, p) in list.iter().enumerate() {
            errors
                .0
                .extend(check_path(format!("{key}[{i}]"), p, Kind::Directory));
        }
    }
    if !errors.is_empty() {
        return Err(errors.locate(raw));
    }

    let or = |v: String, default: &str| {
        if v.is_empty() {
            default.to_string()
        } else {
            v
        }
    };
    Ok(Config {
        command: or(f.command, DEFAULT_COMMAND),
        extra_arguments,
        group_vars,
        host_vars,
        playbook_dir_abs: playbook_dir.as_deref().map(absolute),
        playbook_dir,
        playbooks: if f.playbook_file.is_empty() {
            Playbooks::Files(playbook_files)
        } else {
            Playbooks::File(f.playbook_file)
        },
        playbook_paths,
        role_paths,
        staging_directory: if f.staging_directory.is_empty() {
            paths::join(&[DEFAULT_STAGING_DIR, &time_ordered_uuid()])
        } else {
            f.staging_directory
        },
        clean_staging_directory: f.clean_staging_directory,
        inventory_file,
        inventory_groups,
        galaxy_file,
        galaxy_command: or(f.galaxy_command, DEFAULT_GALAXY_COMMAND),
        build_name: cx.build_name.clone(),
        builder_type: cx.builder_type.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_test::build_cx;
    use serde_json::json;

    struct Fixture {
        dir: tempfile::TempDir,
    }

    impl Fixture {
        fn new() -> Fixture {
            let dir = tempfile::tempdir().unwrap();
            for d in ["play", "play/roles", "gv", "hv", "roles/web", "books"] {
                std::fs::create_dir_all(dir.path().join(d)).unwrap();
            }
            for f in [
                "site.yml",
                "play/other.yml",
                "inventory",
                "requirements.yml",
            ] {
                std::fs::write(dir.path().join(f), "---\n").unwrap();
            }
            Fixture { dir }
        }
        fn p(&self, rel: &str) -> String {
            self.dir.path().join(rel).display().to_string()
        }
    }

    fn prepare_json(v: serde_json::Value) -> Result<Config, ConfigErrors> {
        prepare(&RawConfig::from_value(v), &build_cx("web", "docker"))
    }

    fn messages(v: serde_json::Value) -> Vec<String> {
        match prepare_json(v) {
            Ok(_) => Vec::new(),
            Err(e) => e.0.iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn defaults_follow_packer() {
        let fx = Fixture::new();
        let c = prepare_json(json!({"playbook_file": fx.p("site.yml")})).unwrap();
        assert_eq!(c.command, DEFAULT_COMMAND);
        assert_eq!(c.galaxy_command, "ansible-galaxy");
        assert_eq!(c.playbooks, Playbooks::File(fx.p("site.yml")));
        assert!(!c.clean_staging_directory);
        assert_eq!(c.inventory_file, None);
        assert!(c.inventory_groups.is_empty() && c.extra_arguments.is_empty());
        assert_eq!(
            (c.build_name.as_str(), c.builder_type.as_str()),
            ("web", "docker")
        );
        // `/tmp/packer-provisioner-ansible-local/<8>-<4>-<4>-<4>-<12>`.
        let uuid = c
            .staging_directory
            .strip_prefix("/tmp/packer-provisioner-ansible-local/")
            .unwrap_or_else(|| panic!("{}", c.staging_directory));
        let groups: Vec<usize> = uuid.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12], "{uuid}");
        assert!(
            uuid.chars()
                .all(|c| c == '-' || c.is_ascii_digit() || ('a'..='f').contains(&c)),
            "{uuid}"
        );
        // Each prepare gets its own directory.
        let again = prepare_json(json!({"playbook_file": fx.p("site.yml")})).unwrap();
        assert_ne!(again.staging_directory, c.staging_directory);
    }

    #[test]
    fn the_time_ordered_uuid_starts_with_the_time() {
        let before = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let u = time_ordered_uuid();
        let secs = u64::from_str_radix(&u[..8], 16).unwrap();
        assert!(secs >= before && secs <= before + 5, "{u}");
    }

    #[test]
    fn every_key_is_taken_as_given() {
        let fx = Fixture::new();
        let c = prepare_json(json!({
            "command": "ansible-playbook -v",
            "extra_arguments": ["--tags", "web"],
            "group_vars": fx.p("gv"),
            "host_vars": fx.p("hv"),
            "playbook_dir": fx.p("play"),
            "playbook_files": [fx.p("site.yml"), fx.p("play/../play/other.yml")],
            "playbook_paths": [fx.p("books")],
            "role_paths": [fx.p("roles/web")],
            "staging_directory": "/opt/stage",
            "clean_staging_directory": true,
            "inventory_file": fx.p("inventory"),
            "inventory_groups": ["web", "db"],
            "galaxy_file": fx.p("requirements.yml"),
            "galaxy_command": "/usr/local/bin/ansible-galaxy",
        }))
        .unwrap();
        assert_eq!(c.command, "ansible-playbook -v");
        assert_eq!(c.extra_arguments, ["--tags", "web"]);
        assert_eq!(c.group_vars, Some(fx.p("gv")));
        assert_eq!(c.host_vars, Some(fx.p("hv")));
        assert_eq!(c.playbook_dir, Some(fx.p("play")));
        assert_eq!(c.playbook_dir_abs, Some(fx.p("play")));
        // Cleaned, as Packer's filepath.Abs does.
        assert_eq!(
            c.playbooks,
            Playbooks::Files(vec![fx.p("site.yml"), fx.p("play/other.yml")])
        );
        assert_eq!(c.playbook_paths, [fx.p("books")]);
        assert_eq!(c.role_paths, [fx.p("roles/web")]);
        assert_eq!(c.staging_directory, "/opt/stage");
        assert!(c.clean_staging_directory);
        assert_eq!(c.inventory_file, Some(fx.p("inventory")));
        assert_eq!(c.inventory_groups, ["web", "db"]);
        assert_eq!(c.galaxy_file, Some(fx.p("requirements.yml")));
        assert_eq!(c.galaxy_command, "/usr/local/bin/ansible-galaxy");
    }

    #[test]
    fn no_playbook_is_an_error() {
        assert_eq!(
            messages(json!({})),
            ["either `playbook_file` or `playbook_files` must be specified"]
        );
        assert_eq!(
            messages(json!({"playbook_file": "", "playbook_files": []})),
            ["either `playbook_file` or `playbook_files` must be specified"]
        );
    }

    /// Packer 1.6.6 reports these twelve problems of one block together
    /// (checked with `packer validate`), in this order.
    #[test]
    fn every_problem_is_reported_at_once_in_packers_order() {
        let fx = Fixture::new();
        let missing = fx.p("missing");
        let got = messages(json!({
            "playbook_file": fx.p("nope.yml"),
            "playbook_files": [fx.p("missing.yml"), fx.p("play"), ""],
            "inventory_file": fx.p("play"),
            "galaxy_file": fx.p("nog"),
            "playbook_dir": fx.p("site.yml"),
            "group_vars": missing,
            "host_vars": fx.p("site.yml"),
            "playbook_paths": [fx.p("nopp"), fx.p("site.yml")],
            "role_paths": [fx.p("norp")],
        }));
        let want = [
            "either `playbook_file` or `playbook_files` can be specified, not both".to_string(),
            format!(
                "`playbook_file`: bad file `{}`: no such file or directory",
                fx.p("nope.yml")
            ),
            format!(
                "`playbook_files[0]`: bad file `{}`: no such file or directory",
                fx.p("missing.yml")
            ),
            format!(
                "`playbook_files[1]`: `{}` must point to a file, not a directory",
                fx.p("play")
            ),
            "`playbook_files[2]`: must name a playbook file".to_string(),
            format!(
                "`inventory_file`: `{}` must point to a file, not a directory",
                fx.p("play")
            ),
            format!(
                "`galaxy_file`: bad file `{}`: no such file or directory",
                fx.p("nog")
            ),
            format!(
                "`playbook_dir`: `{}` must point to a directory",
                fx.p("site.yml")
            ),
            format!("`group_vars`: bad directory `{missing}`: no such file or directory"),
            format!(
                "`host_vars`: `{}` must point to a directory",
                fx.p("site.yml")
            ),
            format!(
                "`playbook_paths[0]`: bad directory `{}`: no such file or directory",
                fx.p("nopp")
            ),
            format!(
                "`playbook_paths[1]`: `{}` must point to a directory",
                fx.p("site.yml")
            ),
            format!(
                "`role_paths[0]`: bad directory `{}`: no such file or directory",
                fx.p("norp")
            ),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn unknown_keys_and_bad_types_come_with_the_other_problems() {
        let got = messages(json!({"playbook_fil": "x.yml"}));
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(
            got[0].contains("unknown configuration key `playbook_fil`"),
            "{got:?}"
        );
        assert!(got[0].contains("did you mean `playbook_file`?"), "{got:?}");
        assert!(got[1].contains("must be specified"), "{got:?}");
        let got = messages(json!({"inventory_groups": {"a": 1}}));
        assert!(
            got.iter()
                .any(|e| e.contains("`inventory_groups`") && e.contains("a list of strings")),
            "{got:?}"
        );
        let got = messages(json!({"clean_staging_directory": "yes"}));
        assert!(
            got.iter().any(|e| e.contains("`clean_staging_directory`")),
            "{got:?}"
        );
    }

    #[test]
    fn a_relative_missing_path_hints_at_the_working_directory() {
        let got = prepare_json(json!({"playbook_file": "no-such-playbook.yml"})).unwrap_err();
        let e = &got.0[0];
        assert_eq!(e.path.as_deref(), Some("playbook_file"));
        assert!(
            e.hint
                .as_deref()
                .is_some_and(|h| h.contains("current directory")),
            "{e}"
        );
    }

    /// Packer 1.6.6 splits a string given for a list at its commas
    /// (`"inventory_groups": "web,db"` makes two groups; checked with
    /// `packer build`).
    #[test]
    fn a_string_for_a_list_is_split_at_commas() {
        let fx = Fixture::new();
        let c = prepare_json(json!({
            "playbook_file": fx.p("site.yml"),
            "inventory_groups": "web,db",
            "extra_arguments": "-v",
            "role_paths": "",
        }))
        .unwrap();
        assert_eq!(c.inventory_groups, ["web", "db"]);
        assert_eq!(c.extra_arguments, ["-v"]);
        assert!(c.role_paths.is_empty());
        let c = prepare_json(json!({
            "playbook_files": format!("{},{}", fx.p("site.yml"), fx.p("play/other.yml")),
        }))
        .unwrap();
        assert_eq!(
            c.playbooks,
            Playbooks::Files(vec![fx.p("site.yml"), fx.p("play/other.yml")])
        );
    }

    #[test]
    fn values_are_interpolated() {
        let fx = Fixture::new();
        let c = prepare_json(json!({
            "playbook_file": fx.p("site.yml"),
            "staging_directory": "/tmp/{{build_name}}",
            "extra_arguments": ["-e", "role={{build_type}}"],
        }))
        .unwrap();
        assert_eq!(c.staging_directory, "/tmp/web");
        assert_eq!(c.extra_arguments, ["-e", "role=docker"]);
    }
}
