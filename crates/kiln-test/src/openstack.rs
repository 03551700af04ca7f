//! The REAL OpenStack cloud the openstack builder's tests run against:
//! Keystone, Glance, Placement, Nova, Neutron, RabbitMQ and MariaDB from
//! Debian 12's packages, brought up by `scripts/openstack.sh start` once
//! per machine boot and shared by every test (the script takes a lock, so
//! concurrent tests end with one cloud). Two parts are stand-ins and say
//! so: Nova's compute driver (the fake driver, whose snapshots copy the
//! source image) and an ML2 mechanism driver that binds ports with no
//! agent. Every API service is the real one.
//!
//! [`OpenStack::shared`] starts it (or finds it up) and reads the
//! credentials of the tests' user (`kiln`, project `kiln`) and of the
//! admin; [`OpenStack::sshd`] is a loopback sshd that plays the servers
//! (its `AuthorizedKeysCommand` trusts the key pairs of ACTIVE servers,
//! as cloud-init would); [`OpenStack::inventory`] lists what the tests'
//! project holds. Nothing here deletes the cloud: `scripts/openstack.sh
//! stop` does.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

/// The repository's root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The running test cloud; see the module docs.
pub struct OpenStack {
    /// The tests' user's `OS_*` variables.
    pub env: BTreeMap<String, String>,
    /// The admin's `OS_*` variables.
    pub admin: BTreeMap<String, String>,
    /// A file of the tests' user's variables (`KEY=VALUE` lines).
    env_file: PathBuf,
}

fn parse_env(out: &str) -> BTreeMap<String, String> {
    out.lines()
        .filter_map(|l| {
            let l = l.trim().strip_prefix("export ").unwrap_or(l.trim());
            let (k, v) = l.split_once('=')?;
            Some((
                k.to_string(),
                v.trim_matches(|c| c == '"' || c == '\'').to_string(),
            ))
        })
        .filter(|(k, _)| k.starts_with("OS_"))
        .collect()
}

fn script(args: &[&str]) -> String {
    let path = repo_root().join("scripts/openstack.sh");
    let out = Command::new(&path)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run `{}`: {e}", path.display()));
    assert!(
        out.status.success(),
        "`scripts/openstack.sh {}` failed ({}); the openstack tests need the test cloud, which scripts/install-deps.sh installs:\n{}\n{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl OpenStack {
    /// The cloud, started once per test process (the script finds it up
    /// when another process started it).
    pub fn shared() -> &'static OpenStack {
        static CLOUD: OnceLock<OpenStack> = OnceLock::new();
        CLOUD.get_or_init(|| {
            script(&["start"]);
            let env = parse_env(&script(&["env", "kiln"]));
            let admin = parse_env(&script(&["env"]));
            assert!(
                env.contains_key("OS_AUTH_URL") && env.contains_key("OS_PASSWORD"),
                "`scripts/openstack.sh env kiln` gave no credentials: {env:?}"
            );
            let env_file =
                std::env::temp_dir().join(format!("kiln-openstack-env-{}", std::process::id()));
            let text: String = env.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
            std::fs::write(&env_file, text).expect("write the openstack env file");
            OpenStack {
                env,
                admin,
                env_file,
            }
        })
    }

    /// One of the tests' user's variables.
    pub fn var(&self, k: &str) -> &str {
        self.env
            .get(k)
            .unwrap_or_else(|| panic!("the test cloud's env has no `{k}`"))
    }

    /// A loopback sshd playing the cloud's servers (see the module docs).
    pub fn sshd(&self) -> crate::sshd::Sshd {
        crate::sshd::Sshd::start_with(&format!(
            "AuthorizedKeysCommand /usr/bin/python3 {} {}\nAuthorizedKeysCommandUser root",
            repo_root()
                .join("crates/kiln-test/openstack/authorized_keys.py")
                .display(),
            self.env_file.display()
        ))
    }

    /// What the tests' project holds (`openstack/inventory.py`).
    pub fn inventory(&self) -> Value {
        let path = repo_root().join("crates/kiln-test/openstack/inventory.py");
        let out = python(&self.env, &[path.to_str().expect("a UTF-8 path")]);
        serde_json::from_str(&out).expect("the inventory is JSON")
    }

    /// Runs Python `code` with openstacksdk as the tests' user; what it
    /// printed.
    pub fn python(&self, code: &str) -> String {
        python(&self.env, &["-c", code])
    }

    /// The id of the project `name` (admin's view).
    pub fn project_id(&self, name: &str) -> String {
        python(
            &self.admin,
            &[
                "-c",
                &format!("import openstack; print(openstack.connect().identity.find_project('{name}').id)"),
            ],
        )
        .trim()
        .to_string()
    }
}

/// Runs Debian's `/usr/bin/python3` (which has openstacksdk) with `args`
/// and only `env`'s variables; what it printed. Fails the test if it fails.
fn python(env: &BTreeMap<String, String>, args: &[&str]) -> String {
    let out = Command::new("/usr/bin/python3")
        .args(args)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .envs(env)
        .output()
        .unwrap_or_else(|e| panic!("cannot run /usr/bin/python3: {e}"));
    assert!(
        out.status.success(),
        "python3 {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scripts_env_lines_are_read() {
        let env = parse_env("export OS_AUTH_URL=http://127.0.0.1:5000/v3\nexport OS_PASSWORD='x y'\nOS_REGION_NAME=\"RegionOne\"\nPATH=/bin\n");
        assert_eq!(env["OS_AUTH_URL"], "http://127.0.0.1:5000/v3");
        assert_eq!(env["OS_PASSWORD"], "x y");
        assert_eq!(env["OS_REGION_NAME"], "RegionOne");
        assert!(!env.contains_key("PATH"));
    }
}
