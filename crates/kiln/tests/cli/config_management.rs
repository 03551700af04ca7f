//! The configuration-management provisioners (`puppet-masterless`,
//! `puppet-server`, `chef-solo`, `chef-client`) against packer 1.6.6: the
//! same template is built by `packer build` and `kiln build` with the
//! `docker` builder on `kiln-test/cm:bookworm` (Debian 12 with
//! puppet-agent), each committing and tagging its own image; then what the
//! provisioners printed and what they left in the two images are compared.
//! `puppet-masterless` runs the real Puppet 7 (`puppet apply`, a module,
//! hiera data). Chef cannot be installed here and a Puppet server cannot
//! run, so `chef-solo`, `chef-client`, `knife`, `curl` (fetching Chef's
//! installer) and the `puppet` of `puppet-server` are stand-in scripts
//! uploaded first, which record their arguments, user, `FACTER_`
//! variables and the files they are handed into a log in the image.
//! `validate` is compared on good and bad configs of all four. Each test
//! removes its containers (by label) and images, even when it fails.

use std::process::Command;

use crate::support::*;

/// The stand-in for `chef-solo`, `chef-client`, `knife` and `puppet`, by
/// the name it is called as.
const RECORD: &str = r#"#!/bin/sh
# Records how it was called into /var/log/cm-standin.log.
log=/var/log/cm-standin.log
name=$(basename "$0")
list() {
  echo "-- files of $1"
  find "$1" -type f | sort | while read -r f; do echo "--- $f"; cat "$f"; echo; done
}
{
  echo "== $name $*"
  echo "uid=$(id -u) pwd=$(pwd)"
  env | grep '^FACTER_' | sort
  dir=
  while [ $# -gt 0 ]; do
    case "$1" in
      -c|-j) echo "-- $1 $2"; cat "$2"; echo; dir=$(dirname "$2"); shift;;
      --certdir=*|--privatekeydir=*) list "${1#*=}";;
    esac
    shift
  done
  if [ -n "$dir" ]; then list "$dir"; fi
} >> "$log"
echo "$name stand-in ran"
"#;

/// The stand-in for `curl` fetching Chef's `install.sh`: prints an
/// installer that records how it was run.
const CURL: &str = r#"#!/bin/sh
echo "echo \"== curl $*\" >> /var/log/cm-standin.log"
echo 'echo "== install.sh $* uid=$(id -u)" >> /var/log/cm-standin.log'
echo 'echo "installed chef"'
"#;

/// The docker test image, its containers labelled for cleanup, and the
/// images the two builds tag.
struct Images {
    _cleanup: kiln_docker_test::Cleanup,
    label: String,
    repository: String,
}

impl Images {
    fn new(test: &str) -> Images {
        let label = format!("kiln-cli-test=cm-{test}-{}", std::process::id());
        let repository = format!("kiln-cli-test/cm-{test}-{}", std::process::id());
        let cleanup = kiln_docker_test::Cleanup::with_label(&label);
        for tool in ["kiln", "packer"] {
            cleanup.image(&format!("{repository}:{tool}"));
        }
        Images {
            _cleanup: cleanup,
            label,
            repository,
        }
    }

    /// The template's builder and post-processor: the CM image, its
    /// container labelled, committed and tagged `<repository>:<tool>`.
    fn template(
        &self,
        tool: &str,
        variables: serde_json::Value,
        provisioners: serde_json::Value,
    ) -> String {
        serde_json::json!({
            "variables": variables,
            "builders": [{
                "type": "docker",
                "image": kiln_docker_test::cm_image(),
                "pull": false,
                "commit": true,
                "run_command": ["-d", "-i", "-t", "-l", self.label, "--entrypoint=/bin/sh", "--", "{{.Image}}"]
            }],
            "provisioners": provisioners,
            "post-processors": [{"type": "docker-tag", "repository": self.repository, "tags": [tool]}]
        })
        .to_string()
    }

    /// Runs `script` with `/bin/sh` in a throw-away container of the image
    /// `tool` built; returns its stdout.
    fn inspect(&self, tool: &str, script: &str) -> String {
        let image = format!("{}:{tool}", self.repository);
        let out = Command::new("docker")
            .args([
                "run",
                "--rm",
                "-l",
                &self.label,
                "--entrypoint",
                "/bin/sh",
                &image,
                "-c",
                script,
            ])
            .output()
            .expect("run docker");
        assert!(
            out.status.success(),
            "inspecting {image} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs `script` in the image of each tool; the outputs (node names
    /// hidden) must be the same. Returns kiln's.
    fn same_output(&self, script: &str) -> String {
        let (k, p) = (
            hide_node_names(&self.inspect("kiln", script)),
            hide_node_names(&self.inspect("packer", script)),
        );
        assert_eq!(k, p);
        k
    }

    /// [`LIST`] of `dirs` in both images, which must be the same.
    fn same_listing(&self, dirs: &[&str]) -> String {
        self.same_output(&format!("set -- {}\n{LIST}", dirs.join(" ")))
    }

    /// Writes `t.json` (the template with `variables` and `provisioners`
    /// between the markers) into `dirs` (kiln's, packer's) and builds it
    /// with each tool; both must succeed and print the same provisioner
    /// lines, which are returned.
    fn build_both(
        &self,
        dirs: [&TestDir; 2],
        variables: serde_json::Value,
        provisioners: Vec<serde_json::Value>,
    ) -> Vec<String> {
        kiln_test::require_packer();
        let [kd, pd] = dirs;
        let provisioners = marked(provisioners);
        kd.write(
            "t.json",
            &self.template("kiln", variables.clone(), provisioners.clone()),
        );
        pd.write("t.json", &self.template("packer", variables, provisioners));
        let args = ["build", "-color=false", "t.json"];
        let k = kiln(kd, &args);
        let p = run(pd.packer(&args).expect("packer"));
        assert_eq!(k.code, 0, "kiln:\n{}{}", k.stdout, k.stderr);
        assert_eq!(p.code, 0, "packer:\n{}{}", p.stdout, p.stderr);
        let (kl, pl) = (provisioner_lines(&k.stdout), provisioner_lines(&p.stdout));
        assert_eq!(kl, pl, "kiln:\n{}\npacker:\n{}", k.stdout, p.stdout);
        kl
    }
}

/// Writes the same files into both directories.
fn write_both(dirs: [&TestDir; 2], files: &[(&str, &str)]) {
    for d in dirs {
        for (name, content) in files {
            d.write(name, content);
        }
    }
}

/// `text` without ANSI colour sequences and carriage returns.
fn strip_ansi(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            continue;
        }
        if c != '\r' {
            out.push(c);
        }
    }
    out
}

/// Chef node names Packer makes (`packer-<time-ordered uuid>`) as
/// `packer-NODE`.
fn hide_node_names(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("packer-") {
        out.push_str(&rest[..at + "packer-".len()]);
        rest = &rest[at + "packer-".len()..];
        let candidate: String = rest.chars().take(36).collect();
        let groups: Vec<usize> = candidate.split('-').map(str::len).collect();
        if groups == [8, 4, 4, 4, 12]
            && candidate.chars().all(|c| c == '-' || c.is_ascii_hexdigit())
        {
            out.push_str("NODE");
            rest = &rest[36..];
        }
    }
    out.push_str(rest);
    out
}

/// The `FACTER_x='y'` words of a line in name order (packer's order is
/// Go's random map order).
fn sort_facts(line: &str) -> String {
    let words: Vec<&str> = line.split(' ').collect();
    let Some(first) = words.iter().position(|w| w.starts_with("FACTER_")) else {
        return line.to_string();
    };
    let count = words[first..]
        .iter()
        .take_while(|w| w.starts_with("FACTER_"))
        .count();
    let mut facts = words[first..first + count].to_vec();
    facts.sort_unstable();
    let mut all = words[..first].to_vec();
    all.extend(facts);
    all.extend(&words[first + count..]);
    all.join(" ")
}

/// What the build printed between the `BEGIN-CM` and `END-CM` markers
/// (echoed by shell provisioners around the provisioners under test),
/// normalised: colours, node names, fact order; Puppet's lines that name
/// the container or a time are dropped.
fn provisioner_lines(stdout: &str) -> Vec<String> {
    let lines: Vec<String> = strip_ansi(stdout).lines().map(String::from).collect();
    let begin = lines
        .iter()
        .position(|l| l.ends_with(": BEGIN-CM"))
        .unwrap_or_else(|| panic!("no BEGIN-CM in\n{stdout}"));
    let end = lines
        .iter()
        .position(|l| l.ends_with(": END-CM"))
        .unwrap_or_else(|| panic!("no END-CM in\n{stdout}"));
    lines[begin + 1..end - 1]
        .iter()
        .filter(|l| {
            ![
                "Compiled catalog",
                "Applying configuration version",
                "Applied catalog",
            ]
            .iter()
            .any(|v| l.contains(v))
        })
        .map(|l| match l.split_once("Provisioning with shell script: ") {
            // The inline script's local temporary file.
            Some((head, _)) => format!("{head}Provisioning with shell script: [SCRIPT]"),
            None => sort_facts(&hide_node_names(l)),
        })
        .collect()
}

/// The markers around the provisioners under test.
fn marked(provisioners: Vec<serde_json::Value>) -> serde_json::Value {
    let mut all = vec![serde_json::json!({"type": "shell", "inline": ["echo BEGIN-CM"]})];
    all.extend(provisioners);
    all.push(serde_json::json!({"type": "shell", "inline": ["echo END-CM"]}));
    serde_json::Value::Array(all)
}

/// The stand-ins uploaded into `/opt/standin` under `names`, and
/// `/usr/local/bin/curl`.
fn standins(names: &[&str]) -> Vec<serde_json::Value> {
    let mut chmod = vec!["chmod 755 /usr/local/bin/curl".to_string()];
    // packer's docker upload needs the directory to exist.
    let mut v = vec![
        serde_json::json!({"type": "shell", "inline": ["mkdir -p /opt/standin"]}),
        serde_json::json!({"type": "file", "source": "standin/curl", "destination": "/usr/local/bin/curl"}),
    ];
    for n in names {
        v.push(serde_json::json!({"type": "file", "source": "standin/record", "destination": format!("/opt/standin/{n}")}));
        chmod.push(format!("chmod 755 /opt/standin/{n}"));
    }
    v.push(serde_json::json!({"type": "shell", "inline": chmod}));
    v
}

/// Lists `dirs` in the image: each directory with its mode, each file with
/// its content (single uploads differ in mode: packer's docker
/// communicator leaves them 0600).
const LIST: &str = r#"for d in "$@"; do
  if [ ! -e "$d" ]; then echo "absent $d"; continue; fi
  find "$d" -type d | sort | while read -r x; do echo "dir $(stat -c %a "$x") $x"; done
  find "$d" -type f | sort | while read -r x; do echo "file $x"; cat "$x"; echo; done
done"#;

#[test]
fn puppet_masterless_applies_the_same_manifests_with_real_puppet_as_packer() {
    let images = Images::new("puppet-masterless");
    let (kd, pd) = (dir(), dir());
    write_both(
        [&kd, &pd],
        &[
            (
                "site.pp",
                "include motd\nfile { '/etc/kiln-puppet.txt':\n  ensure  => file,\n  content => \"role=${facts['role']} build=${facts['packer_build_name']} type=${facts['packer_builder_type']} greeting=${lookup('greeting')}\\n\",\n}\n",
            ),
            (
                "modules/motd/manifests/init.pp",
                "class motd (String $message = lookup('motd::message')) {\n  file { '/etc/motd-kiln':\n    ensure  => file,\n    content => \"${message}\\n\",\n  }\n}\n",
            ),
            (
                "hiera.yaml",
                "---\nversion: 5\ndefaults:\n  datadir: /opt/hieradata\n  data_hash: yaml_data\nhierarchy:\n  - name: common\n    path: common.yaml\n",
            ),
            (
                "hieradata/common.yaml",
                "---\ngreeting: hello from hiera\nmotd::message: managed by puppet\n",
            ),
            (
                "more/second.pp",
                "file { '/etc/kiln-second.txt': ensure => file, content => \"second\\n\" }\n",
            ),
        ],
    );
    let provisioners = vec![
        serde_json::json!({"type": "file", "source": "hieradata", "destination": "/opt/"}),
        serde_json::json!({
            "type": "puppet-masterless",
            "manifest_file": "site.pp",
            "module_paths": ["modules"],
            "hiera_config_path": "hiera.yaml",
            "facter": {"role": "web-{{user `tier`}}"},
            "extra_arguments": ["--environment={{user `env`}}", "--detailed-exitcodes"],
            "clean_staging_directory": true
        }),
        // A manifest directory, no sudo, Puppet found by its
        // directory, another staging and working directory.
        serde_json::json!({
            "type": "puppet-masterless",
            "manifest_file": "more",
            "prevent_sudo": true,
            "puppet_bin_dir": "/usr/bin",
            "staging_directory": "/var/tmp/pm-{{user `tier`}}",
            "working_directory": "/tmp",
            "extra_arguments": ["--verbose"]
        }),
    ];
    let kl = images.build_both(
        [&kd, &pd],
        serde_json::json!({"env": "production", "tier": "front"}),
        provisioners,
    );
    for want in [
        "==> docker: Provisioning with Puppet...",
        "    docker: Uploading hiera configuration...",
        "    docker: Uploading local modules from: modules",
        "    docker: Uploading manifest file from: site.pp",
        "    docker: Running Puppet: cd /tmp/packer-puppet-masterless && FACTER_packer_build_name='docker' FACTER_packer_builder_type='docker' FACTER_role='web-front' sudo -E puppet apply --detailed-exitcodes --modulepath='/tmp/packer-puppet-masterless/module-0' --hiera_config='/tmp/packer-puppet-masterless/hiera.yaml' --environment=production --detailed-exitcodes /tmp/packer-puppet-masterless/manifests/site.pp",
        "    docker: Uploading manifest directory from: more",
        "    docker: Running Puppet: cd /tmp && FACTER_packer_build_name='docker' FACTER_packer_builder_type='docker' /usr/bin/puppet apply --detailed-exitcodes --verbose /var/tmp/pm-front/manifests",
    ] {
        assert!(kl.iter().any(|l| l == want), "missing {want:?} in\n{}", kl.join("\n"));
    }
    let ki = images.same_output("cat /etc/kiln-puppet.txt /etc/motd-kiln /etc/kiln-second.txt");
    assert_eq!(
        ki,
        "role=web-front build=docker type=docker greeting=hello from hiera\nmanaged by puppet\nsecond\n"
    );
    let dirs = ["/tmp/packer-puppet-masterless", "/var/tmp/pm-front"];
    let kf = images.same_listing(&dirs);
    assert!(kf.starts_with("absent /tmp/packer-puppet-masterless\ndir 777 /var/tmp/pm-front\ndir 777 /var/tmp/pm-front/manifests\n"), "{kf}");
}

#[test]
fn puppet_server_runs_the_same_agent_command_as_packer() {
    let images = Images::new("puppet-server");
    let (kd, pd) = (dir(), dir());
    write_both(
        [&kd, &pd],
        &[
            ("standin/record", RECORD),
            ("standin/curl", CURL),
            ("certs/ca.pem", "CA\n"),
            ("certs/node.pem", "NODE CERT\n"),
            ("keys/node.pem", "NODE KEY\n"),
        ],
    );
    let mut provisioners = standins(&["puppet"]);
    provisioners.push(serde_json::json!({
        "type": "puppet-server",
        "puppet_bin_dir": "/opt/standin",
        "puppet_server": "puppet.{{user `domain`}}",
        "puppet_node": "web-01.{{user `domain`}}",
        "client_cert_path": "certs",
        "client_private_key_path": "keys",
        "facter": {"role": "web", "dc": "eu"},
        "extra_arguments": ["--test", "--environment={{user `env`}}", "--waitforcert={{.PuppetNode}}"]
    }));
    // Exit code 2 (changes applied) succeeds; the staging directory is
    // removed; no sudo.
    provisioners.push(serde_json::json!({
        "type": "puppet-server",
        "execute_command": "{{.FacterVars}} {{.PuppetBinDir}}/puppet agent --server={{.PuppetServer}}{{if .Sudo}} sudo{{end}}; exit 2",
        "puppet_bin_dir": "/opt/standin",
        "puppet_server": "second",
        "prevent_sudo": true,
        "staging_dir": "/var/tmp/ps2",
        "clean_staging_directory": true
    }));
    images.build_both(
        [&kd, &pd],
        serde_json::json!({"env": "production", "domain": "example.com"}),
        provisioners,
    );
    let ki = images.same_output("cat /var/log/cm-standin.log");
    assert!(
        ki.starts_with("== puppet agent --onetime --no-daemonize --detailed-exitcodes --server=puppet.example.com --certname=web-01.example.com --certdir=/tmp/packer-puppet-server/certs --privatekeydir=/tmp/packer-puppet-server/private_keys --test --environment=production --waitforcert=web-01.example.com\nuid=0 pwd=/tmp/packer-puppet-server\nFACTER_dc=eu\n"),
        "{ki}"
    );
    assert!(
        ki.contains("--- /tmp/packer-puppet-server/private_keys/node.pem\nNODE KEY\n"),
        "{ki}"
    );
    let dirs = ["/tmp/packer-puppet-server", "/var/tmp/ps2"];
    let kf = images.same_listing(&dirs);
    assert!(
        kf.contains("dir 777 /tmp/packer-puppet-server/certs\n"),
        "{kf}"
    );
    assert!(kf.ends_with("absent /var/tmp/ps2\n"), "{kf}");
}

#[test]
fn chef_solo_writes_the_same_files_and_runs_the_same_command_as_packer() {
    let images = Images::new("chef-solo");
    let (kd, pd) = (dir(), dir());
    write_both(
        [&kd, &pd],
        &[
            ("standin/record", RECORD),
            ("standin/curl", CURL),
            ("cookbooks/base/metadata.rb", "name 'base'\n"),
            ("cookbooks/base/recipes/default.rb", "log 'hi'\n"),
            ("more-cookbooks/app/metadata.rb", "name 'app'\n"),
            ("roles/web.json", "{\"name\":\"web\"}\n"),
            ("data_bags/users/alice.json", "{\"id\":\"alice\"}\n"),
            ("environments/staging.json", "{\"name\":\"staging\"}\n"),
            ("secret", "secret-key\n"),
            (
                "solo.rb.tpl",
                "cookbook_path [{{.CookbookPaths}}]\nlicense '{{.ChefLicense}}' env '{{user `env`}}' roles '{{.RolesPath}}'\n",
            ),
        ],
    );
    let mut provisioners = standins(&["chef-solo"]);
    provisioners.push(serde_json::json!({"type": "shell", "inline": ["ln -s /opt/standin/chef-solo /usr/local/bin/chef-solo"]}));
    provisioners.push(serde_json::json!({
        "type": "chef-solo",
        "cookbook_paths": ["cookbooks", "more-cookbooks/"],
        "remote_cookbook_paths": ["/srv/cookbooks"],
        "roles_path": "roles",
        "data_bags_path": "data_bags",
        "environments_path": "environments",
        "encrypted_data_bag_secret_path": "secret",
        "chef_environment": "staging",
        "version": "17.10.3",
        "run_list": ["recipe[base]", "role[web]"],
        "json": {
            "who": "{{user `who`}}",
            "n": 1.0, "big": 1e21, "small": 0.0000001,
            "html": "<b>&</b>",
            "nested": {"z": [1, 2], "a": null, "t": true},
            "run_list": ["replaced"]
        }
    }));
    // No install, no sudo, a config template, a custom command and
    // staging directory.
    provisioners.push(serde_json::json!({
        "type": "chef-solo",
        "skip_install": true,
        "prevent_sudo": true,
        "config_template": "solo.rb.tpl",
        "roles_path": "roles",
        "staging_directory": "/var/tmp/solo-{{user `env`}}/",
        "execute_command": "{{if .Sudo}}sudo {{end}}/opt/standin/chef-solo -c {{.ConfigPath}} -j {{.JsonPath}} --user-var {{user `env`}}"
    }));
    images.build_both(
        [&kd, &pd],
        serde_json::json!({"env": "production", "who": "a \"quoted\" \\ user"}),
        provisioners,
    );
    let ki = images.same_output("cat /var/log/cm-standin.log");
    for want in [
        "== curl -L https://omnitruck.chef.io/install.sh\n== install.sh -v 17.10.3 uid=0\n",
        "== chef-solo --no-color -c /tmp/packer-chef-solo/solo.rb -j /tmp/packer-chef-solo/node.json\nuid=0",
        "chef_license \t\t\"accept-silent\"\ncookbook_path \t[\"/srv/cookbooks\",\"/tmp/packer-chef-solo/cookbooks-0\",\"/tmp/packer-chef-solo/cookbooks-1\"]\n",
        "\"html\": \"\\u003cb\\u003e\\u0026\\u003c/b\\u003e\",\n",
        "\"who\": \"a \\\"quoted\\\" \\\\ user\"\n",
        "--- /tmp/packer-chef-solo/cookbooks-1/app/metadata.rb\nname 'app'\n",
        "== chef-solo -c /var/tmp/solo-production/solo.rb -j /var/tmp/solo-production/node.json --user-var production\n",
        "cookbook_path []\nlicense '' env 'production' roles '/var/tmp/solo-production//roles'\n",
    ] {
        assert!(ki.contains(want), "missing {want:?} in\n{ki}");
    }
    let dirs = ["/tmp/packer-chef-solo", "/var/tmp/solo-production"];
    let kf = images.same_listing(&dirs);
    assert!(kf.contains("dir 777 /tmp/packer-chef-solo/roles\n"), "{kf}");
}

#[test]
fn chef_client_writes_the_same_files_and_cleans_up_as_packer() {
    let images = Images::new("chef-client");
    let (kd, pd) = (dir(), dir());
    write_both(
        [&kd, &pd],
        &[
            ("standin/record", RECORD),
            ("standin/curl", CURL),
            ("validator.pem", "VALIDATION KEY\n"),
            ("secret", "secret-key\n"),
            (
                "client.rb.tpl",
                "node_name '{{.NodeName}}' # {{.ServerUrl}} {{user `env`}}\n",
            ),
        ],
    );
    let mut provisioners = standins(&["chef-client", "knife"]);
    provisioners.push(serde_json::json!({"type": "shell", "inline": [
        "ln -s /opt/standin/chef-client /usr/local/bin/chef-client",
        "ln -s /opt/standin/knife /usr/local/bin/knife"
    ]}));
    // Packer's defaults: install, a generated node name, knife clean-up of
    // node and client, the staging directory removed.
    provisioners.push(serde_json::json!({
        "type": "chef-client",
        "server_url": "https://chef.{{user `domain`}}/organizations/acme",
        "validation_key_path": "validator.pem",
        "validation_client_name": "acme-validator",
        "encrypted_data_bag_secret_path": "secret",
        "chef_environment": "prod",
        "ssl_verify_mode": "verify_none",
        "trusted_certs_dir": "/etc/chef/trusted_certs",
        "run_list": ["role[web]"],
        "json": {"app": {"port": 8080}}
    }));
    // No install, no sudo, a named node, policies, a config template,
    // custom knife command; the client and the staging directory kept.
    provisioners.push(serde_json::json!({
        "type": "chef-client",
        "server_url": "https://chef.{{user `domain`}}",
        "skip_install": true,
        "prevent_sudo": true,
        "node_name": "web-{{user `env`}}",
        "policy_name": "web",
        "policy_group": "prod",
        "skip_clean_client": true,
        "skip_clean_staging_directory": true,
        "staging_directory": "/var/tmp/client2",
        "knife_command": "{{if .Sudo}}sudo {{end}}/opt/standin/knife {{.Args}} {{.Flags}} --config-from-kiln-test",
        "execute_command": "/opt/standin/chef-client -c {{.ConfigPath}} -j {{.JsonPath}}"
    }));
    provisioners.push(serde_json::json!({
        "type": "chef-client",
        "server_url": "https://third",
        "skip_install": true,
        "node_name": "third",
        "config_template": "client.rb.tpl",
        "skip_clean_node": true,
        "skip_clean_client": true,
        "staging_directory": "/var/tmp/client3"
    }));
    let kl = images.build_both(
        [&kd, &pd],
        serde_json::json!({"env": "production", "domain": "example.com"}),
        provisioners,
    );
    for want in [
        "    docker: curl -L https://omnitruck.chef.io/install.sh | sudo bash -s --",
        "    docker: Uploading validator.pem...",
        "==> docker: Cleaning up chef node...",
        "    docker: Removing directory: /tmp/packer-chef-client",
    ] {
        assert!(
            kl.iter().any(|l| l == want),
            "missing {want:?} in\n{}",
            kl.join("\n")
        );
    }
    let ki = images.same_output("cat /var/log/cm-standin.log");
    for want in [
        "== chef-client --no-color -c /tmp/packer-chef-client/client.rb -j /tmp/packer-chef-client/first-boot.json\n",
        "node_name \"packer-NODE\"\n",
        "validation_key \"/tmp/packer-chef-client/validation.pem\"\n",
        "--- /tmp/packer-chef-client/validation.pem\nVALIDATION KEY\n",
        "== knife node delete packer-NODE -y -c /tmp/packer-chef-client/knife.rb\n",
        "== knife client delete packer-NODE -y -c /tmp/packer-chef-client/knife.rb\n",
        "== knife node delete web-production -y -c /var/tmp/client2/knife.rb --config-from-kiln-test\n",
        "node_name 'third' # https://third production\n",
    ] {
        assert!(ki.contains(want), "missing {want:?} in\n{ki}");
    }
    assert!(!ki.contains("knife client delete web-production"), "{ki}");
    let dirs = [
        "/tmp/packer-chef-client",
        "/var/tmp/client2",
        "/var/tmp/client3",
    ];
    let kf = images.same_listing(&dirs);
    assert!(
        kf.starts_with("absent /tmp/packer-chef-client\ndir 777 /var/tmp/client2\n"),
        "{kf}"
    );
    assert!(kf.contains("absent /var/tmp/client3\n"), "{kf}");
}

/// `validate` accepts and rejects the same configs as packer 1.6.6, and
/// kiln names every problem of a config at once.
#[test]
fn validate_accepts_and_rejects_what_packer_does() {
    kiln_test::require_packer();
    let d = dir();
    d.write("site.pp", "notify { 'x': }\n");
    d.write("cookbooks/a/metadata.rb", "name 'a'\n");
    d.write("secret", "s\n");
    let cases = [
        (
            true,
            serde_json::json!({"type": "puppet-masterless", "manifest_file": "site.pp", "facter": {"n": 1}, "staging_directory": "/x", "guest_os_type": "Windows"}),
        ),
        (false, serde_json::json!({"type": "puppet-masterless"})),
        (
            false,
            serde_json::json!({"type": "puppet-masterless", "manifest_file": "site.pp", "module_paths": ["site.pp"]}),
        ),
        (
            false,
            serde_json::json!({"type": "puppet-masterless", "manifest_file": "site.pp", "hiera_config_path": "cookbooks"}),
        ),
        (
            false,
            serde_json::json!({"type": "puppet-masterless", "manifest_file": "site.pp", "manifest_dir": "nope"}),
        ),
        (
            false,
            serde_json::json!({"type": "puppet-masterless", "manifest_file": "site.pp", "staging_dir": "/x"}),
        ),
        (
            false,
            serde_json::json!({"type": "puppet-masterless", "manifest_file": "site.pp", "guest_os_type": "beos"}),
        ),
        (
            false,
            serde_json::json!({"type": "puppet-masterless", "manifest_file": "site.pp", "execute_command": "{{ .Unclosed"}),
        ),
        (
            true,
            serde_json::json!({"type": "puppet-server", "staging_dir": "/x", "client_cert_path": "cookbooks"}),
        ),
        (
            false,
            serde_json::json!({"type": "puppet-server", "staging_directory": "/x"}),
        ),
        (
            false,
            serde_json::json!({"type": "puppet-server", "client_private_key_path": "secret"}),
        ),
        (
            true,
            serde_json::json!({"type": "chef-solo", "cookbook_paths": ["cookbooks"], "encrypted_data_bag_secret_path": "secret", "json": {"a": [1, {"b": null}]}}),
        ),
        (
            false,
            serde_json::json!({"type": "chef-solo", "cookbook_paths": ["secret"]}),
        ),
        (
            false,
            serde_json::json!({"type": "chef-solo", "encrypted_data_bag_secret_path": "cookbooks"}),
        ),
        (
            false,
            serde_json::json!({"type": "chef-solo", "config_template": "cookbooks"}),
        ),
        (
            false,
            serde_json::json!({"type": "chef-solo", "elevated_user": "x"}),
        ),
        (
            true,
            serde_json::json!({"type": "chef-client", "server_url": "https://c", "policy_name": "a", "policy_group": "b", "validation_key_path": "nope.pem"}),
        ),
        (false, serde_json::json!({"type": "chef-client"})),
        (
            false,
            serde_json::json!({"type": "chef-client", "server_url": "https://c", "policy_group": "b"}),
        ),
        (
            false,
            serde_json::json!({"type": "chef-client", "server_url": "https://c", "knife_command": "{{ if }}"}),
        ),
    ];
    for (ok, provisioner) in cases {
        let t = serde_json::json!({"builders": [{"type": "null", "communicator": "none"}], "provisioners": [provisioner]});
        d.write("t.json", &t.to_string());
        let k = kiln(&d, &["validate", "t.json"]);
        let p = run(d.packer(&["validate", "t.json"]).expect("packer"));
        assert_eq!(
            (k.code == 0, p.code == 0),
            (ok, ok),
            "{provisioner}\nkiln:\n{}{}\npacker:\n{}{}",
            k.stdout,
            k.stderr,
            p.stdout,
            p.stderr
        );
    }
    // Every problem at once, each at its key.
    let t = serde_json::json!({"builders": [{"type": "null", "communicator": "none"}], "provisioners": [
        {"type": "chef-client", "policy_name": "a", "encrypted_data_bag_secret_path": "cookbooks", "guest_os_type": "beos", "bogus": 1}
    ]});
    d.write("t.json", &t.to_string());
    let k = kiln(&d, &["validate", "t.json"]);
    assert_eq!(k.code, 1);
    let all = format!("{}{}", k.stdout, k.stderr);
    for key in [
        "`bogus`",
        "`guest_os_type`",
        "`server_url`",
        "`encrypted_data_bag_secret_path`",
        "`policy_name`",
    ] {
        assert!(all.contains(key), "{key} missing in\n{all}");
    }
}
