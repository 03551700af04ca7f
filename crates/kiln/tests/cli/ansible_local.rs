//! The `ansible-local` provisioner on a real guest, differential against
//! packer 1.6.6: the same template and project (a playbook that installs
//! a file, templates a config from variables, uses a role from
//! `role_paths`, another installed by ansible-galaxy, `group_vars`,
//! `host_vars` and `playbook_dir`; then `playbook_files` with
//! `playbook_paths` and `clean_staging_directory`) built by `packer
//! build` and by `kiln build` with the `docker` builder on
//! `kiln_docker_test::cm_image()` (Debian 12 with ansible-core 2.14), so
//! real ansible-playbook and ansible-galaxy run in the container. Compared:
//! the provisioner's output, the files the playbooks made in the two
//! committed images, and what is left in the staging directory. A failing
//! task fails both builds with the task's message shown. Each test removes
//! the containers (by label) and images it made, even when it fails.

use std::path::Path;
use std::process::Command;
use std::sync::Mutex;

use kiln_docker_test::{cm_image, docker_ok, Cleanup};

use crate::support::*;

/// The builds of this file run one at a time: each runs two builds of a
/// Debian guest.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// The containers and images of one test, removed when it ends.
struct Case {
    label: String,
    cleanup: Cleanup,
}

impl Case {
    fn new(test: &str) -> Case {
        let label = format!("kiln-cli-test=ansible-local-{test}-{}", std::process::id());
        Case {
            cleanup: Cleanup::with_label(&label),
            label,
        }
    }

    /// The builder's `run_command`, labelling the build container.
    fn run_command(&self) -> serde_json::Value {
        serde_json::json!([
            "-d",
            "-i",
            "-t",
            "-l",
            self.label,
            "--entrypoint=/bin/sh",
            "--",
            "{{.Image}}"
        ])
    }

    /// The image `tool` (`kiln` or `packer`) commits; removed at the end.
    fn image(&self, tool: &str) -> String {
        let repo = format!("kiln-cli-test/ansible-local-{tool}-{}", std::process::id());
        self.cleanup.image(&format!("{repo}:t"));
        repo
    }

    /// Runs `script` with `sh` in a throwaway container of `image`.
    fn in_image(&self, image: &str, script: &str) -> String {
        docker_ok(&[
            "run",
            "--rm",
            "-l",
            &self.label,
            "--entrypoint",
            "/bin/sh",
            image,
            "-c",
            script,
        ])
    }

    fn containers(&self) -> Vec<String> {
        kiln_docker_test::containers_labelled(&self.label)
    }
}

/// Writes the Ansible project both tools build from.
fn project(d: &TestDir) {
    d.write(
        "failing.yml",
        r#"- hosts: all
  gather_facts: false
  tasks:
    - debug: {msg: before the failure}
    - fail: {msg: "kiln-deliberate-failure: the task failed on purpose"}
    - debug: {msg: never shown}
"#,
    );
    d.write(
        "play/site.yml",
        r#"- hosts: web
  gather_facts: false
  vars:
    app_name: kiln-demo
  roles:
    - web
    - galaxyrole
  tasks:
    - name: install a file
      copy:
        src: files/hello.txt
        dest: /opt/demo/hello.txt
        mode: "0644"
    - name: template a config
      template:
        src: templates/app.conf.j2
        dest: /etc/demo/app.conf
        mode: "0600"
    - name: record the build
      copy:
        dest: /etc/demo/build.txt
        content: "{{ packer_build_name }} {{ packer_builder_type }} {{ extra_thing | default('none') }}\n"
"#,
    );
    d.write("play/files/hello.txt", "hello from the playbook's files\n");
    d.write(
        "play/templates/app.conf.j2",
        "name={{ app_name }}\nport={{ port }}\nmotd={{ motd }}\nwelcome={{ web_welcome }}\ngroups={{ group_names | join(',') }}\n",
    );
    d.write("gv/all.yml", "motd: hello from group_vars\n");
    d.write("gv/web.yml", "web_welcome: hi, web group\n");
    d.write("hv/127.0.0.1.yml", "port: 8080\n");
    d.write(
        "roles/web/tasks/main.yml",
        r#"- name: the role's directories
  file: {path: "{{ item }}", state: directory, mode: "0755"}
  loop: [/opt/demo, /etc/demo]
- name: the role's file
  copy: {dest: /etc/demo/web-role, content: "{{ web_role_message }}\n", mode: "0640"}
"#,
    );
    d.write(
        "roles/web/defaults/main.yml",
        "web_role_message: from the web role\n",
    );
    // A role ansible-galaxy installs from a tarball inside `playbook_dir`
    // (the staging directory is fixed, so the path is known).
    d.write(
        "galaxy-src/galaxyrole/meta/main.yml",
        "galaxy_info:\n  author: kiln\n  description: test role\n  license: MIT\n  min_ansible_version: \"2.9\"\n",
    );
    d.write(
        "galaxy-src/galaxyrole/tasks/main.yml",
        "- copy: {dest: /etc/demo/galaxy-role, content: \"installed by ansible-galaxy\\n\"}\n",
    );
    let st = Command::new("tar")
        .args([
            "-C",
            "galaxy-src",
            "-czf",
            "play/galaxyrole.tar.gz",
            "galaxyrole",
        ])
        .current_dir(d.path())
        .status()
        .expect("run tar");
    assert!(st.success(), "tar of the galaxy role failed");
    d.write(
        "requirements.yml",
        "- src: /tmp/kiln-ansible-stage/galaxyrole.tar.gz\n  name: galaxyrole\n",
    );
    // For the `playbook_files` case.
    d.write(
        "other/second.yml",
        r#"- hosts: db
  gather_facts: false
  tasks:
    - copy: {dest: /etc/demo/second.txt, content: "second playbook, {{ motd }}, {{ extra_thing }}\n"}
- import_playbook: /tmp/kiln-ansible-stage/playbooks/books/extra.yml
"#,
    );
    d.write(
        "books/extra.yml",
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - copy: {dest: /etc/demo/extra.txt, content: \"from playbook_paths\\n\"}\n",
    );
}

/// Builds `template` (written by `make` for each tool) with kiln and with
/// packer, each in its own directory holding the same project.
fn build_both(make: impl Fn(&str) -> serde_json::Value) -> [(TestDir, Run); 2] {
    kiln_test::require_packer();
    let (kd, pd) = (dir(), dir());
    for (d, tool) in [(&kd, "kiln"), (&pd, "packer")] {
        project(d);
        d.write("t.json", &make(tool).to_string());
    }
    let args = ["build", "-color=false", "t.json"];
    let k = kiln(&kd, &args);
    let p = run(pd.packer(&args).expect("packer"));
    [(kd, k), (pd, p)]
}

/// The provisioner's lines: from `Provisioning with Ansible...` to the
/// next step, normalised (the test directory, the staging directory's
/// UUID, the generated inventory's number).
fn ansible_lines(stdout: &str, d: &Path) -> Vec<String> {
    let text = normalize(stdout, d);
    let mut out = Vec::new();
    let mut inside = false;
    for l in text.lines() {
        if l.starts_with("==> docker: ") {
            inside = l == "==> docker: Provisioning with Ansible...";
        }
        if inside {
            out.push(hide_inventory_number(l.trim_end()));
        }
    }
    assert!(!out.is_empty(), "no ansible-local output in:\n{stdout}");
    out
}

/// `packer-provisioner-ansible-local1234` as `packer-provisioner-ansible-localN`.
fn hide_inventory_number(line: &str) -> String {
    const NAME: &str = "packer-provisioner-ansible-local";
    let mut out = String::new();
    let mut rest = line;
    while let Some(at) = rest.find(NAME) {
        out.push_str(&rest[..at + NAME.len()]);
        rest = &rest[at + NAME.len()..];
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits > 0 {
            out.push('N');
            rest = &rest[digits..];
        }
    }
    out.push_str(rest);
    out
}

/// What the playbooks made, with modes and owners.
const RESULTS: &str = "cd /etc/demo && for f in /opt/demo/hello.txt /etc/demo/*; do stat -c '%n %a %U' \"$f\"; cat \"$f\"; done";

#[test]
fn a_playbook_with_roles_vars_galaxy_and_playbook_dir_builds_as_with_packer() {
    let _serial = serial();
    let case = Case::new("playbook-file");
    cm_image();
    let [(kd, k), (pd, p)] = build_both(|tool| {
        serde_json::json!({
            "builders": [{
                "type": "docker", "image": cm_image(), "pull": false, "commit": true,
                "run_command": case.run_command(),
            }],
            "provisioners": [{
                "type": "ansible-local",
                "playbook_dir": "play",
                "playbook_file": "play/site.yml",
                "group_vars": "gv",
                "host_vars": "hv",
                "role_paths": ["roles/web"],
                "galaxy_file": "requirements.yml",
                "inventory_groups": ["web", "db"],
                "staging_directory": "/tmp/kiln-ansible-stage",
            }],
            "post-processors": [{"type": "docker-tag", "repository": case.image(tool), "tags": ["t"]}],
        })
    });
    assert_eq!(k.code, 0, "kiln:\n{}{}", k.stdout, k.stderr);
    assert_eq!(p.code, 0, "packer:\n{}{}", p.stdout, p.stderr);
    let kiln_lines = ansible_lines(&k.stdout, kd.path());
    assert_eq!(
        kiln_lines,
        ansible_lines(&p.stdout, pd.path()),
        "kiln:\n{}\npacker:\n{}",
        k.stdout,
        p.stdout
    );
    for want in [
        "    docker: Executing Ansible Galaxy: cd /tmp/kiln-ansible-stage && ansible-galaxy install -r /tmp/kiln-ansible-stage/requirements.yml -p /tmp/kiln-ansible-stage/roles",
        "    docker: Executing Ansible: cd /tmp/kiln-ansible-stage && ANSIBLE_FORCE_COLOR=1 PYTHONUNBUFFERED=1 ansible-playbook /tmp/kiln-ansible-stage/site.yml --extra-vars \"packer_build_name=docker packer_builder_type=docker packer_http_addr=ERR_HTTP_ADDR_NOT_IMPLEMENTED_BY_BUILDER -o IdentitiesOnly=yes\"  -c local -i /tmp/kiln-ansible-stage/packer-provisioner-ansible-localN",
    ] {
        assert!(kiln_lines.iter().any(|l| l == want), "missing {want:?} in\n{}", k.stdout);
    }

    // The playbook's work, the same in both images.
    let kiln_image = format!("{}:t", case.image("kiln"));
    let packer_image = format!("{}:t", case.image("packer"));
    let made = case.in_image(&kiln_image, RESULTS);
    assert_eq!(made, case.in_image(&packer_image, RESULTS));
    assert_eq!(
        made,
        "/opt/demo/hello.txt 644 root\nhello from the playbook's files\n\
         /etc/demo/app.conf 600 root\nname=kiln-demo\nport=8080\nmotd=hello from group_vars\nwelcome=hi, web group\ngroups=db,web\n\
         /etc/demo/build.txt 644 root\ndocker docker none\n\
         /etc/demo/galaxy-role 644 root\ninstalled by ansible-galaxy\n\
         /etc/demo/web-role 640 root\nfrom the web role"
    );

    // The staging directory is left (no `clean_staging_directory`), laid
    // out alike. Files uploaded one by one get the communicator's default
    // mode: 0644 in kiln, 0600 with packer's docker communicator (a
    // documented difference); everything else matches, modes included.
    let listing = "cd /tmp/kiln-ansible-stage && find . -mindepth 1 -printf '%P %y %m\\n' | sort";
    let staged = |image: &str, single_mode: &str| -> Vec<String> {
        case.in_image(image, listing)
            .lines()
            .map(hide_inventory_number)
            .map(|l| {
                let single = [
                    "site.yml f ",
                    "requirements.yml f ",
                    "packer-provisioner-ansible-localN f ",
                ]
                .iter()
                .any(|p| l.starts_with(p));
                match l.rsplit_once(' ') {
                    Some((head, mode)) if single => {
                        assert_eq!(mode, single_mode, "{l}");
                        format!("{head} [single file]")
                    }
                    _ => l,
                }
            })
            .collect()
    };
    let kiln_staged = staged(&kiln_image, "644");
    assert_eq!(kiln_staged, staged(&packer_image, "600"));
    for want in [
        "files/hello.txt f 644",
        "galaxyrole.tar.gz f 644",
        "group_vars/web.yml f 644",
        "host_vars/127.0.0.1.yml f 644",
        "packer-provisioner-ansible-localN f [single file]",
        "requirements.yml f [single file]",
        "roles/galaxyrole/tasks/main.yml f 644",
        "roles/web/defaults/main.yml f 644",
        "site.yml f [single file]",
        "templates/app.conf.j2 f 644",
    ] {
        assert!(
            kiln_staged.iter().any(|l| l == want),
            "missing {want:?} in {kiln_staged:#?}"
        );
    }
    let inventory = case.in_image(
        &kiln_image,
        "cat /tmp/kiln-ansible-stage/packer-provisioner-ansible-local*",
    );
    assert_eq!(inventory, "[web]\n127.0.0.1\n[db]\n127.0.0.1");
    assert!(case.containers().is_empty(), "a build container is left");
}

#[test]
fn playbook_files_with_playbook_paths_and_clean_staging_directory_build_as_with_packer() {
    let _serial = serial();
    let case = Case::new("playbook-files");
    cm_image();
    let [(kd, k), (pd, p)] = build_both(|tool| {
        serde_json::json!({
            "builders": [{
                "type": "docker", "image": cm_image(), "pull": false, "commit": true,
                "run_command": case.run_command(),
            }],
            "provisioners": [{
                "type": "ansible-local",
                "playbook_dir": "play",
                "playbook_files": ["play/site.yml", "other/second.yml"],
                "playbook_paths": ["books"],
                "group_vars": "gv",
                "host_vars": "hv",
                "role_paths": ["roles/web"],
                "galaxy_file": "requirements.yml",
                // A string for a list is split at its commas, as in Packer.
                "inventory_groups": "web,db",
                "extra_arguments": ["-e", "extra_thing=yes"],
                "clean_staging_directory": true,
                "staging_directory": "/tmp/kiln-ansible-stage",
            }],
            "post-processors": [{"type": "docker-tag", "repository": case.image(tool), "tags": ["t"]}],
        })
    });
    assert_eq!(k.code, 0, "kiln:\n{}{}", k.stdout, k.stderr);
    assert_eq!(p.code, 0, "packer:\n{}{}", p.stdout, p.stderr);
    let kiln_lines = ansible_lines(&k.stdout, kd.path());
    assert_eq!(
        kiln_lines,
        ansible_lines(&p.stdout, pd.path()),
        "kiln:\n{}\npacker:\n{}",
        k.stdout,
        p.stdout
    );
    for want in [
        "    docker: Uploading playbook file: [DIR]/other/second.yml",
        "    docker: Creating directory: /tmp/kiln-ansible-stage[DIR]/other",
        "    docker: Creating directory: /tmp/kiln-ansible-stage/playbooks/books",
        "    docker: Removing staging directory...",
        "    docker: Removing directory: /tmp/kiln-ansible-stage",
    ] {
        assert!(
            kiln_lines.iter().any(|l| l == want),
            "missing {want:?} in\n{}",
            k.stdout
        );
    }
    let kiln_image = format!("{}:t", case.image("kiln"));
    let packer_image = format!("{}:t", case.image("packer"));
    let made = case.in_image(&kiln_image, RESULTS);
    assert_eq!(made, case.in_image(&packer_image, RESULTS));
    for want in [
        "/etc/demo/second.txt 644 root\nsecond playbook, hello from group_vars, yes\n",
        "/etc/demo/extra.txt 644 root\nfrom playbook_paths\n",
        "/etc/demo/build.txt 644 root\ndocker docker yes\n",
    ] {
        assert!(made.contains(want), "missing {want:?} in\n{made}");
    }
    // Cleaned in both.
    for image in [&kiln_image, &packer_image] {
        assert_eq!(
            case.in_image(
                image,
                "test -e /tmp/kiln-ansible-stage && echo left || echo gone"
            ),
            "gone",
            "{image}"
        );
    }
    assert!(case.containers().is_empty(), "a build container is left");
}

#[test]
fn a_failing_task_fails_the_build_with_its_message() {
    let _serial = serial();
    let case = Case::new("failing");
    cm_image();
    let [(kd, k), (pd, p)] = build_both(|_| {
        serde_json::json!({
            "builders": [{
                "type": "docker", "image": cm_image(), "pull": false, "commit": true,
                "run_command": case.run_command(),
            }],
            "provisioners": [{
                "type": "ansible-local",
                "playbook_file": "failing.yml",
                "clean_staging_directory": true,
            }],
        })
    });
    assert_eq!(k.code, 1, "kiln:\n{}{}", k.stdout, k.stderr);
    assert_eq!(p.code, 1, "packer:\n{}{}", p.stdout, p.stderr);
    for want in [
        "kiln-deliberate-failure: the task failed on purpose",
        "Error executing Ansible: Non-zero exit status: 2",
    ] {
        assert!(
            both(&k).contains(want),
            "kiln does not show {want:?}:\n{}",
            both(&k)
        );
        assert!(
            both(&p).contains(want),
            "packer does not show {want:?}:\n{}",
            both(&p)
        );
    }
    // The same lines up to the failure (the default staging directory's
    // UUID hidden). Then kiln removes the staging directory, which
    // `clean_staging_directory` asks for and packer 1.6.6 skips after a
    // failure (a documented difference).
    let kiln_lines = ansible_lines(&k.stdout, kd.path());
    let removal = [
        "    docker: Removing staging directory...".to_string(),
        "    docker: Removing directory: /tmp/packer-provisioner-ansible-local/[UUID]".to_string(),
    ];
    assert_eq!(kiln_lines[kiln_lines.len() - 2..], removal, "{}", k.stdout);
    assert_eq!(
        kiln_lines[..kiln_lines.len() - 2],
        ansible_lines(&p.stdout, pd.path())
    );
    assert!(
        !k.stdout.contains("Committing the container"),
        "{}",
        k.stdout
    );
    assert!(
        case.containers().is_empty(),
        "a failed build left its container"
    );
}

/// `validate` of a block with every path check failing: packer 1.6.6
/// reports 12 errors at once; kiln reports the same 12, each at its key.
#[test]
fn validate_reports_the_same_problems_as_packer_at_once() {
    kiln_test::require_packer();
    let d = dir();
    d.write("file.yml", "- hosts: all\n");
    d.write("dir/keep", "");
    d.write(
        "t.json",
        &serde_json::json!({
            "builders": [{"type": "null", "communicator": "none"}],
            "provisioners": [{
                "type": "ansible-local",
                "playbook_file": "nope.yml",
                "playbook_files": ["missing.yml", "dir"],
                "inventory_file": "dir",
                "galaxy_file": "nog",
                "playbook_dir": "file.yml",
                "group_vars": "nogv",
                "host_vars": "file.yml",
                "playbook_paths": ["nopp", "file.yml"],
                "role_paths": ["norp"],
            }],
        })
        .to_string(),
    );
    let k = kiln(&d, &["validate", "t.json"]);
    let p = run(d.packer(&["validate", "t.json"]).expect("packer"));
    assert_eq!(
        (k.code, p.code),
        (1, 1),
        "kiln:\n{}\npacker:\n{}",
        both(&k),
        both(&p)
    );
    assert!(both(&p).contains("12 error(s) occurred"), "{}", both(&p));
    let all = both(&k);
    assert!(all.contains("12 problems were found"), "{all}");
    for (key, what) in [
        (
            "",
            "either `playbook_file` or `playbook_files` can be specified, not both",
        ),
        ("`playbook_file`: ", "bad file `nope.yml`"),
        ("`playbook_files[0]`: ", "bad file `missing.yml`"),
        ("`playbook_files[1]`: ", "`dir` must point to a file"),
        ("`inventory_file`: ", "`dir` must point to a file"),
        ("`galaxy_file`: ", "bad file `nog`"),
        ("`playbook_dir`: ", "`file.yml` must point to a directory"),
        ("`group_vars`: ", "bad directory `nogv`"),
        ("`host_vars`: ", "`file.yml` must point to a directory"),
        ("`playbook_paths[0]`: ", "bad directory `nopp`"),
        (
            "`playbook_paths[1]`: ",
            "`file.yml` must point to a directory",
        ),
        ("`role_paths[0]`: ", "bad directory `norp`"),
    ] {
        let want = format!("provisioner `ansible-local`: {key}{what}");
        assert!(all.contains(&want), "missing {want:?} in\n{all}");
    }
}
