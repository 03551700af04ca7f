//! `kiln build -incremental`, `-resume`, `-explain` and `kiln cache`
//! through the binary, against the real Docker engine: checkpoints are
//! images committed after each provisioner. Each test has its own cache
//! directory (KILN_CACHE_DIR) and clears it, removing the checkpoint
//! images, when it ends.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::docker::{docker_ok, serial, Guard};
use crate::support::*;
use kiln_test::TestDir;

/// A cache of the test's own, cleared (images too) when dropped.
struct TestCache {
    dir: std::path::PathBuf,
    work: std::path::PathBuf,
}

impl TestCache {
    fn new(d: &TestDir) -> TestCache {
        TestCache {
            dir: d.path().join("cache"),
            work: d.path().to_path_buf(),
        }
    }

    fn kiln(&self, d: &TestDir, args: &[&str]) -> Run {
        let mut c = d.kiln(args);
        c.env("KILN_CACHE_DIR", &self.dir);
        run(c)
    }

    fn spawn(&self, d: &TestDir, args: &[&str]) -> std::process::Child {
        let mut c = d.kiln(args);
        c.env("KILN_CACHE_DIR", &self.dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c.spawn().expect("start kiln")
    }

    /// The checkpoint images the cache's entries name.
    fn images(&self) -> Vec<String> {
        let mut v = Vec::new();
        let Ok(rd) = std::fs::read_dir(self.dir.join("checkpoints")) else {
            return v;
        };
        for e in rd.flatten() {
            if let Ok(text) = std::fs::read_to_string(e.path().join("meta.json")) {
                let m: serde_json::Value = serde_json::from_str(&text).unwrap();
                v.push(m["data"]["image"].as_str().unwrap().to_string());
            }
        }
        v
    }
}

impl Drop for TestCache {
    fn drop(&mut self) {
        let mut c = Command::new(env!("CARGO_BIN_EXE_kiln"));
        c.args(["cache", "clear"])
            .env("KILN_CACHE_DIR", &self.dir)
            .current_dir(&self.work)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let _ = c.status();
    }
}

/// Every file, directory and link of `image`'s file system, with modes,
/// owners, link targets and the SHA-256 of file contents (times left out),
/// read from `docker export`.
fn tree(image: &str) -> BTreeMap<String, String> {
    let cid = docker_ok(&["create", image, "/bin/true"]);
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "docker export {cid} | python3 -c '{}'",
            r#"
import sys, tarfile, hashlib
t = tarfile.open(fileobj=sys.stdin.buffer, mode="r|")
for m in t:
    if m.isfile():
        d = hashlib.sha256(t.extractfile(m).read()).hexdigest()
    else:
        d = m.linkname
    print(m.name, oct(m.mode), m.uid, m.gid, m.type.decode(), d, sep="\t")
"#
        ))
        .output()
        .expect("docker export");
    let _ = docker_ok(&["rm", "-f", &cid]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let (name, rest) = l.split_once('\t').unwrap();
            (name.to_string(), rest.to_string())
        })
        .collect()
}

/// The image the build's manifest names (the last entry).
fn built_image(d: &TestDir, manifest: &str) -> String {
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.path().join(manifest)).unwrap()).unwrap();
    m["builds"].as_array().unwrap().last().unwrap()["artifact_id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn cat(image: &str, path: &str) -> String {
    docker_ok(&["run", "--rm", "--entrypoint", "/bin/cat", image, path])
}

/// Five provisioners: shell (inline), shell-local (outside the machine),
/// shell (a script file), file (a local file), shell (inline, reading what
/// the others wrote). Each machine provisioner prints `RUN-pN`.
fn template(g: &Guard, manifest_output: &str) -> String {
    format!(
        r#"{{"builders": [{{"type": "docker", "image": "{}", "commit": true, "run_command": {}}}],
           "provisioners": [
             {{"type": "shell", "inline": ["echo RUN-p1", "echo one > /one"]}},
             {{"type": "shell-local", "inline": ["echo local >> runs.txt"]}},
             {{"type": "shell", "script": "s3.sh"}},
             {{"type": "file", "source": "data.txt", "destination": "/data.txt"}},
             {{"type": "shell", "inline": ["echo RUN-p5", "cat /one /three /data.txt > /all"]}}
           ],
           "post-processors": [{{"type": "manifest", "output": "{manifest_output}"}}]}}"#,
        kiln_docker_test::base_image(),
        g.run_command()
    )
}

fn ran(all: &str, marker: &str) -> bool {
    all.lines().any(|l| l.trim_end().ends_with(marker))
}

#[test]
fn docker_incremental_restores_the_latest_unchanged_checkpoint_and_matches_a_full_build() {
    let _serial = serial();
    let mut g = Guard::new("incr-main");
    let d = dir();
    let cache = TestCache::new(&d);
    d.write("s3.sh", "echo RUN-p3\necho three > /three\n");
    d.write("data.txt", "data v1\n");
    let t = d.write("t.json", &template(&g, "m.json"));
    let t = t.to_str().unwrap();

    // 1. Nothing cached: every provisioner runs, four checkpoints are saved
    // (not after shell-local, whose effects are outside the machine).
    let r = cache.kiln(&d, &["build", "-color=false", "-incremental", t]);
    let all = both(&r);
    assert_eq!(r.code, 0, "{all}");
    for m in ["RUN-p1", "RUN-p3", "RUN-p5"] {
        assert!(ran(&all, m), "{m} did not run:\n{all}");
    }
    assert!(all.contains("No checkpoint to restore; running all 5 provisioner(s) and saving a checkpoint after each of the 4 that change the machine"), "{all}");
    for n in [1, 3, 4, 5] {
        assert!(
            all.contains(&format!("Saved the checkpoint after provisioner {n} of 5")),
            "no checkpoint {n}:\n{all}"
        );
    }
    assert!(
        !all.contains("Saved the checkpoint after provisioner 2 of 5"),
        "{all}"
    );
    let first = built_image(&d, "m.json");
    g.images.push(first.clone());
    assert_eq!(cache.images().len(), 4);

    // 2. Nothing changed: the last checkpoint is restored, no machine
    // provisioner runs, shell-local runs again.
    let r = cache.kiln(&d, &["build", "-color=false", "-incremental", t]);
    let all = both(&r);
    assert_eq!(r.code, 0, "{all}");
    assert!(
        all.contains("Restoring the checkpoint after provisioner 5 of 5 (shell, saved "),
        "{all}"
    );
    for m in ["RUN-p1", "RUN-p3", "RUN-p5"] {
        assert!(!ran(&all, m), "{m} ran again:\n{all}");
    }
    assert!(
        all.contains(
            "Provisioner 2 of 5 (shell-local) runs again: its effects are outside the machine"
        ),
        "{all}"
    );
    assert_eq!(d.read("runs.txt"), "local\nlocal\n");
    let second = built_image(&d, "m.json");
    g.images.push(second.clone());
    assert_eq!(
        tree(&first),
        tree(&second),
        "the restored build's image differs"
    );

    // 3. The script of provisioner 3 changed: 1 is reused, 3 to 5 run, and
    // -explain says why.
    d.write("s3.sh", "echo RUN-p3\necho three v2 > /three\n");
    let r = cache.kiln(&d, &["build", "-color=false", "-explain", t]);
    let all = both(&r);
    assert_eq!(r.code, 0, "{all}");
    assert_in_order(
        &all,
        [
            "Checkpoints (-explain):",
            "provisioner 1 of 5 (shell): hit",
            "provisioner 2 of 5 (shell-local): not checkpointed: its effects are outside the machine; it runs every time",
            "provisioner 3 of 5 (shell): miss: provisioner 3 (shell): `s3.sh` changed",
            "provisioner 4 of 5 (file): miss: an earlier input changed",
            "provisioner 5 of 5 (shell): miss: an earlier input changed",
            "Restoring the checkpoint after provisioner 1 of 5 (shell, saved ",
        ],
    );
    assert!(!ran(&all, "RUN-p1"), "{all}");
    assert!(ran(&all, "RUN-p3") && ran(&all, "RUN-p5"), "{all}");
    let third = built_image(&d, "m.json");
    g.images.push(third.clone());
    assert_eq!(cat(&third, "/all"), "one\nthree v2\ndata v1");

    // 4. A plain build of the same template makes the same image.
    let r = kiln(&d, &["build", "-color=false", t]);
    let all = both(&r);
    assert_eq!(r.code, 0, "{all}");
    assert!(
        !all.contains("checkpoint"),
        "a plain build used checkpoints:\n{all}"
    );
    let full = built_image(&d, "m.json");
    g.images.push(full.clone());
    assert_eq!(
        tree(&third),
        tree(&full),
        "incremental and full builds differ"
    );

    // 5. A changed file of provisioner 4 reruns 4 and 5 only; the change of
    // the base image reruns everything.
    d.write("data.txt", "data v2\n");
    let r = cache.kiln(&d, &["build", "-color=false", "-explain", t]);
    let all = both(&r);
    assert_eq!(r.code, 0, "{all}");
    assert!(
        all.contains("provisioner 4 of 5 (file): miss: provisioner 4 (file): `data.txt` changed"),
        "{all}"
    );
    assert!(
        all.contains("Restoring the checkpoint after provisioner 3 of 5"),
        "{all}"
    );
    assert!(
        !ran(&all, "RUN-p1") && !ran(&all, "RUN-p3") && ran(&all, "RUN-p5"),
        "{all}"
    );
    g.images.push(built_image(&d, "m.json"));

    let other_base = format!("kiln-test/incr-base:{}", std::process::id());
    docker_ok(&["tag", kiln_docker_test::base_image(), &other_base]);
    // The same template with the base image named otherwise.
    let original = std::fs::read_to_string(t).unwrap();
    std::fs::write(
        t,
        original.replace(kiln_docker_test::base_image(), &other_base),
    )
    .unwrap();
    // Same image ID under another name: still a hit (the source counts by ID).
    let r = cache.kiln(&d, &["build", "-color=false", "-incremental", t]);
    let all = both(&r);
    assert_eq!(r.code, 0, "{all}");
    assert!(
        all.contains("Restoring the checkpoint after provisioner 5 of 5"),
        "{all}"
    );
    g.images.push(built_image(&d, "m.json"));
    // A different image under that name: everything runs again.
    let cid = docker_ok(&["create", kiln_docker_test::base_image(), "/bin/true"]);
    let base2 = docker_ok(&["commit", "-c", "ENV KILN_INCR=2", &cid, &other_base]);
    docker_ok(&["rm", &cid]);
    g.images.push(base2);
    g.images.push(other_base.clone());
    let r = cache.kiln(&d, &["build", "-color=false", "-explain", t]);
    let all = both(&r);
    assert_eq!(r.code, 0, "{all}");
    assert!(
        all.contains("provisioner 1 of 5 (shell): miss: the builder's inputs changed: `image_id`"),
        "{all}"
    );
    assert!(
        ran(&all, "RUN-p1") && ran(&all, "RUN-p3") && ran(&all, "RUN-p5"),
        "{all}"
    );
    g.images.push(built_image(&d, "m.json"));
    assert!(g.containers().is_empty(), "a container was left");
}

#[test]
fn docker_resume_continues_after_the_last_successful_provisioner() {
    let _serial = serial();
    let mut g = Guard::new("incr-resume");
    let d = dir();
    let cache = TestCache::new(&d);
    let shared = d.path().join("shared");
    std::fs::create_dir_all(&shared).unwrap();
    let run_command = serde_json::json!([
        "-d",
        "-i",
        "-t",
        "-l",
        g.label,
        "-v",
        format!("{}:/mnt", shared.display()),
        "--entrypoint=/bin/sh",
        "--",
        "{{.Image}}"
    ]);
    let t = d.write(
        "t.json",
        &format!(
            r#"{{"builders": [{{"type": "docker", "image": "{}", "commit": true, "run_command": {run_command}}}],
               "provisioners": [
                 {{"type": "shell", "inline": ["echo RUN-p1", "echo one > /one"]}},
                 {{"type": "shell", "inline": ["echo RUN-p2", "test -f /mnt/ready"]}}
               ],
               "post-processors": [{{"type": "manifest", "output": "m.json"}}]}}"#,
            kiln_docker_test::base_image()
        ),
    );
    let t = t.to_str().unwrap();
    let r = cache.kiln(&d, &["build", "-color=false", "-resume", t]);
    let all = both(&r);
    assert_eq!(r.code, 1, "{all}");
    assert!(ran(&all, "RUN-p1") && ran(&all, "RUN-p2"), "{all}");
    assert!(
        all.contains("Saved the checkpoint after provisioner 1 of 2"),
        "{all}"
    );
    assert_eq!(cache.images().len(), 1);
    assert!(
        g.containers().is_empty(),
        "the failed build left its container"
    );

    // -on-error=abort keeps its meaning: the restored container that
    // failed again is left for inspection, and the checkpoint stays.
    let r = cache.kiln(
        &d,
        &["build", "-color=false", "-on-error=abort", "-resume", t],
    );
    let all = both(&r);
    assert_eq!(r.code, 1, "{all}");
    assert!(
        all.contains("Restoring the checkpoint after provisioner 1 of 2"),
        "{all}"
    );
    assert!(!ran(&all, "RUN-p1") && ran(&all, "RUN-p2"), "{all}");
    let left = g.containers();
    assert_eq!(left.len(), 1, "abort must leave the container: {all}");
    docker_ok(&["rm", "-f", "-v", &left[0]]);
    assert_eq!(cache.images().len(), 1);

    std::fs::write(shared.join("ready"), "").unwrap();
    let r = cache.kiln(&d, &["build", "-color=false", "-resume", t]);
    let all = both(&r);
    assert_eq!(r.code, 0, "{all}");
    assert!(
        all.contains("Restoring the checkpoint after provisioner 1 of 2 (shell, saved "),
        "{all}"
    );
    assert!(!ran(&all, "RUN-p1") && ran(&all, "RUN-p2"), "{all}");
    let image = built_image(&d, "m.json");
    g.images.push(image.clone());
    assert_eq!(cat(&image, "/one"), "one");

    // -debug keeps its meaning with a restored machine: it pauses after
    // each step, the checkpoint's included, and the build completes.
    let mut c = d.kiln(&["build", "-color=false", "-debug", "-incremental", t]);
    c.env("KILN_CACHE_DIR", d.path().join("cache"));
    let r = kiln_test::run_with_input(c, &b"\n".repeat(100));
    let all = both(&r);
    assert_eq!(r.code, 0, "{all}");
    assert_in_order(
        &all,
        [
            "Restoring the checkpoint after provisioner 2 of 2 (shell, saved ",
            "Pausing after run of step 'StepCheckpointPlan'. Press enter to continue.",
            "Pausing after run of step 'StepRunContainer'. Press enter to continue.",
            "Pausing after run of step 'StepProvision'. Press enter to continue.",
            "Committing the container",
            "Pausing before cleanup of step 'StepCheckpointPlan'. Press enter to continue.",
        ],
    );
    assert!(!ran(&all, "RUN-p1") && !ran(&all, "RUN-p2"), "{all}");
    g.images.push(built_image(&d, "m.json"));
}

#[test]
fn docker_checkpoints_that_are_gone_or_corrupt_are_ignored_with_a_warning() {
    let _serial = serial();
    let mut g = Guard::new("incr-corrupt");
    let d = dir();
    let cache = TestCache::new(&d);
    let t = d.write(
        "t.json",
        &format!(
            r#"{{"builders": [{{"type": "docker", "image": "{}", "commit": true, "run_command": {}}}],
               "provisioners": [
                 {{"type": "shell", "inline": ["echo RUN-p1"]}},
                 {{"type": "shell", "inline": ["echo RUN-p2"]}},
                 {{"type": "shell", "inline": ["echo RUN-p3"]}}
               ],
               "post-processors": [{{"type": "manifest", "output": "m.json"}}]}}"#,
            kiln_docker_test::base_image(),
            g.run_command()
        ),
    );
    let t = t.to_str().unwrap();
    let r = cache.kiln(&d, &["build", "-color=false", "-incremental", t]);
    assert_eq!(r.code, 0, "{}", both(&r));
    g.images.push(built_image(&d, "m.json"));

    // The metadata of the last checkpoint is cut short, and the image of
    // the second is removed by hand.
    let mut by_after = BTreeMap::new();
    for e in std::fs::read_dir(d.path().join("cache/checkpoints")).unwrap() {
        let p = e.unwrap().path();
        let m: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(p.join("meta.json")).unwrap()).unwrap();
        by_after.insert(m["after"].as_u64().unwrap(), (p, m));
    }
    let (p3, _) = &by_after[&3];
    let meta = std::fs::read_to_string(p3.join("meta.json")).unwrap();
    std::fs::write(p3.join("meta.json"), &meta[..meta.len() / 2]).unwrap();
    let (_, m2) = &by_after[&2];
    docker_ok(&["rmi", m2["data"]["tag"].as_str().unwrap()]);

    let r = cache.kiln(&d, &["build", "-color=false", "-incremental", t]);
    let all = both(&r);
    assert_eq!(r.code, 0, "{all}");
    // Warnings go to stderr, in order.
    assert_in_order(
        &r.stderr,
        [
            "Warning: ignoring the checkpoint after provisioner 3 of 3 (shell): ",
            "Warning: ignoring the checkpoint after provisioner 2 of 3 (shell): what it saved outside the cache is gone",
        ],
    );
    assert!(
        r.stdout
            .contains("Restoring the checkpoint after provisioner 1 of 3 (shell, saved "),
        "{all}"
    );
    assert!(
        !ran(&all, "RUN-p1") && ran(&all, "RUN-p2") && ran(&all, "RUN-p3"),
        "{all}"
    );
    // Both were saved again, whole.
    assert!(
        all.contains("Saved the checkpoint after provisioner 2 of 3"),
        "{all}"
    );
    assert!(
        all.contains("Saved the checkpoint after provisioner 3 of 3"),
        "{all}"
    );
    g.images.push(built_image(&d, "m.json"));
    let list = cache.kiln(&d, &["cache", "list"]);
    assert_eq!(list.code, 0, "{}", both(&list));
    assert!(!list.stdout.contains("corrupt"), "{}", list.stdout);
}

#[test]
fn cache_list_prune_and_clear_remove_checkpoint_images_too() {
    let _serial = serial();
    let mut g = Guard::new("incr-cache");
    let d = dir();
    let cache = TestCache::new(&d);
    let t = d.write(
        "t.json",
        &format!(
            r#"{{"builders": [{{"type": "docker", "image": "{}", "commit": true, "run_command": {}}}],
               "provisioners": [
                 {{"type": "shell", "inline": ["dd if=/dev/zero of=/a bs=1024 count=300 2>/dev/null"]}},
                 {{"type": "shell", "inline": ["dd if=/dev/zero of=/b bs=1024 count=300 2>/dev/null"]}}
               ],
               "post-processors": [{{"type": "manifest", "output": "m.json"}}]}}"#,
            kiln_docker_test::base_image(),
            g.run_command()
        ),
    );
    let t = t.to_str().unwrap();
    let empty = cache.kiln(&d, &["cache", "list"]);
    assert_eq!(empty.code, 0, "{}", both(&empty));
    assert!(
        empty.stdout.starts_with("No checkpoints in "),
        "{}",
        empty.stdout
    );

    let r = cache.kiln(&d, &["build", "-color=false", "-incremental", t]);
    assert_eq!(r.code, 0, "{}", both(&r));
    g.images.push(built_image(&d, "m.json"));
    let images = cache.images();
    assert_eq!(images.len(), 2);

    let list = cache.kiln(&d, &["cache", "list"]);
    assert_eq!(list.code, 0, "{}", both(&list));
    let rows: Vec<&str> = list.stdout.lines().collect();
    assert!(rows[0].starts_with("KEY "), "{}", list.stdout);
    // Most recently used first: the checkpoint after provisioner 2.
    assert!(
        rows[1].contains(" docker ") && rows[1].contains("2/2 shell"),
        "{}",
        list.stdout
    );
    assert!(rows[2].contains("1/2 shell"), "{}", list.stdout);
    assert!(rows[1].contains("t.json"), "{}", list.stdout);
    assert!(rows[3].starts_with("2 checkpoint(s), "), "{}", list.stdout);

    // Pruning to a size below both keeps none, and their images go.
    let bad = cache.kiln(&d, &["cache", "prune", "-max-size=lots"]);
    assert_eq!(bad.code, 1, "{}", both(&bad));
    assert!(bad.stderr.contains("`lots`"), "{}", bad.stderr);
    let p = cache.kiln(&d, &["cache", "prune", "-max-size=1KiB"]);
    assert_eq!(p.code, 0, "{}", both(&p));
    assert!(
        p.stdout.starts_with("Removed 2 checkpoint(s)"),
        "{}",
        p.stdout
    );
    for i in &images {
        let gone = Command::new("docker")
            .args(["image", "inspect", i])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(!gone.success(), "checkpoint image {i} was left");
    }

    // A size limit while building: each save prunes what no longer fits.
    let mut c = d.kiln(&["build", "-color=false", "-incremental", t]);
    c.env("KILN_CACHE_DIR", d.path().join("cache"))
        .env("KILN_CACHE_MAX_SIZE", "400KiB");
    let r = run(c);
    let all = both(&r);
    assert_eq!(r.code, 0, "{all}");
    assert!(
        all.contains(
            "Pruned 1 least recently used checkpoint(s) to keep the cache under 400.0 KiB"
        ),
        "{all}"
    );
    g.images.push(built_image(&d, "m.json"));
    assert_eq!(cache.images().len(), 1);

    let c = cache.kiln(&d, &["cache", "clear"]);
    assert_eq!(c.code, 0, "{}", both(&c));
    assert!(
        c.stdout.starts_with("Removed 1 checkpoint(s)"),
        "{}",
        c.stdout
    );
    assert!(cache.images().is_empty());
    let bad = cache.kiln(&d, &["cache", "sweep"]);
    assert_eq!(bad.code, 1);
    assert!(
        bad.stderr.contains("unknown subcommand `sweep`"),
        "{}",
        bad.stderr
    );
}

#[test]
fn two_kilns_building_the_same_template_share_the_cache_safely() {
    let _serial = serial();
    let mut g = Guard::new("incr-race");
    let d = dir();
    let cache = TestCache::new(&d);
    let t = d.write(
        "t.json",
        &format!(
            r#"{{"builders": [{{"type": "docker", "image": "{}", "commit": true, "run_command": {}}}],
               "provisioners": [
                 {{"type": "shell", "inline": ["echo one > /one"]}},
                 {{"type": "shell", "inline": ["echo two > /two"]}}
               ]}}"#,
            kiln_docker_test::base_image(),
            g.run_command()
        ),
    );
    let t = t.to_str().unwrap();
    let checkpoint_images = || -> Vec<String> {
        docker_ok(&[
            "images",
            "-q",
            "--no-trunc",
            "--filter",
            "reference=kiln-checkpoint",
        ])
        .lines()
        .map(String::from)
        .collect()
    };
    let before = checkpoint_images();
    let a = cache.spawn(
        &d,
        &[
            "build",
            "-color=false",
            "-machine-readable",
            "-incremental",
            t,
        ],
    );
    let b = cache.spawn(
        &d,
        &[
            "build",
            "-color=false",
            "-machine-readable",
            "-incremental",
            t,
        ],
    );
    for child in [a, b] {
        let out = child.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        for line in text.lines() {
            if let Some(id) = line.split(",artifact,0,id,").nth(1) {
                g.images.push(id.to_string());
            }
        }
    }
    // One valid checkpoint per key, every image it names exists, and no
    // checkpoint image is left that the cache does not name.
    let list = cache.kiln(&d, &["cache", "list"]);
    assert!(list.stdout.contains("2 checkpoint(s)"), "{}", list.stdout);
    assert!(!list.stdout.contains("corrupt"), "{}", list.stdout);
    let named = cache.images();
    for i in &named {
        docker_ok(&["image", "inspect", "-f", "{{.Id}}", i]);
    }
    let new: Vec<String> = checkpoint_images()
        .into_iter()
        .filter(|i| !before.contains(i))
        .collect();
    assert_eq!(named.len(), 2, "{named:?}");
    for i in &new {
        assert!(
            named.contains(i),
            "checkpoint image {i} is not in the cache"
        );
    }
    assert!(
        !std::fs::read_dir(d.path().join("cache/staging"))
            .map(|rd| rd.count() > 0)
            .unwrap_or(false),
        "a staging directory was left"
    );
}

#[test]
fn a_template_can_ask_for_checkpoints_per_build() {
    let _serial = serial();
    let mut g = Guard::new("incr-template");
    let d = dir();
    let cache = TestCache::new(&d);
    // HCL2: `incremental = true` in the build block; no flag needed.
    let t = d.write(
        "t.pkr.hcl",
        &format!(
            r#"source "docker" "img" {{
  image       = "{}"
  commit      = true
  run_command = {}
}}
build {{
  incremental = true
  sources     = ["source.docker.img"]
  provisioner "shell" {{
    inline = ["echo RUN-p1"]
  }}
  post-processor "manifest" {{
    output = "m.json"
  }}
}}
"#,
            kiln_docker_test::base_image(),
            g.run_command()
        ),
    );
    let t = t.to_str().unwrap();
    for (round, want) in [
        (1, "No checkpoint to restore"),
        (
            2,
            "Restoring the checkpoint after provisioner 1 of 1 (shell, saved ",
        ),
    ] {
        let r = cache.kiln(&d, &["build", "-color=false", t]);
        let all = both(&r);
        assert_eq!(r.code, 0, "round {round}: {all}");
        assert!(all.contains(want), "round {round}: {all}");
        assert_eq!(ran(&all, "RUN-p1"), round == 1, "round {round}: {all}");
        g.images.push(built_image(&d, "m.json"));
    }

    // JSON: `incremental` on a builder applies to that build only.
    let j = d.write(
        "t.json",
        &format!(
            r#"{{"builders": [
                 {{"type": "docker", "name": "kept", "incremental": true, "image": "{0}", "commit": true, "run_command": {1}}},
                 {{"type": "docker", "name": "plain", "image": "{0}", "commit": true, "run_command": {1}}}
               ],
               "provisioners": [{{"type": "shell", "inline": ["echo RUN-$PACKER_BUILD_NAME"]}}],
               "post-processors": [{{"type": "manifest", "output": "j.json"}}]}}"#,
            kiln_docker_test::base_image(),
            g.run_command()
        ),
    );
    let j = j.to_str().unwrap();
    for round in [1, 2] {
        let r = cache.kiln(&d, &["build", "-color=false", "-parallel-builds=1", j]);
        let all = both(&r);
        assert_eq!(r.code, 0, "round {round}: {all}");
        assert_eq!(ran(&all, "RUN-kept"), round == 1, "round {round}: {all}");
        assert!(ran(&all, "RUN-plain"), "round {round}: {all}");
        assert!(!all.contains("plain: Saved the checkpoint"), "{all}");
        let m: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(d.path().join("j.json")).unwrap())
                .unwrap();
        for b in m["builds"].as_array().unwrap() {
            g.images
                .push(b["artifact_id"].as_str().unwrap().to_string());
        }
    }
    let bad = d.write(
        "bad.json",
        r#"{"builders": [{"type": "null", "communicator": "none", "incremental": "yes"}]}"#,
    );
    let r = kiln(&d, &["validate", bad.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{}", both(&r));
    assert!(
        both(&r).contains("builder 1: `incremental`: expected a boolean, found a string"),
        "{}",
        both(&r)
    );
}

#[test]
fn builders_without_checkpoints_say_so_and_run_everything() {
    let d = dir();
    let t = d.write(
        "t.json",
        r#"{"builders": [{"type": "null", "communicator": "none"}],
            "provisioners": [{"type": "shell-local", "inline": ["echo ran >> runs.txt"]}]}"#,
    );
    let mut c = d.kiln(&["build", "-color=false", "-incremental", t.to_str().unwrap()]);
    c.env("KILN_CACHE_DIR", d.path().join("cache"));
    let r = run(c);
    assert_eq!(r.code, 0, "{}", both(&r));
    assert!(
        r.stderr.contains(
            "Warning: this builder does not make checkpoints; -incremental runs every provisioner"
        ),
        "{}",
        both(&r)
    );
    assert_eq!(d.read("runs.txt"), "ran\n");
}

/// The root file system of the first partition of `disk` (qcow2), dumped
/// with debugfs (no mount needed), as `path -> mode owner digest`, less
/// what every boot changes (logs, caches, the random seed, DHCP leases,
/// temporary files).
fn disk_tree(disk: &Path, work: &Path) -> BTreeMap<String, String> {
    let raw = work.join("disk.raw");
    let ok = |c: &mut Command| {
        let out = c.output().unwrap();
        assert!(
            out.status.success(),
            "{:?}: {}",
            c,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    ok(Command::new("qemu-img")
        .args(["convert", "-O", "raw"])
        .arg(disk)
        .arg(&raw));
    let table: serde_json::Value =
        serde_json::from_str(&ok(Command::new("sfdisk").arg("-J").arg(&raw))).unwrap();
    let parts = table["partitiontable"]["partitions"].as_array().unwrap();
    // The root file system is the last (Linux) partition.
    let root = parts.last().unwrap();
    let (start, size) = (
        root["start"].as_u64().unwrap(),
        root["size"].as_u64().unwrap(),
    );
    let fs = work.join("root.ext4");
    ok(Command::new("dd")
        .arg(format!("if={}", raw.display()))
        .arg(format!("of={}", fs.display()))
        .args([
            "bs=512",
            &format!("skip={start}"),
            &format!("count={size}"),
            "status=none",
        ]));
    let _ = std::fs::remove_file(&raw);
    let dump = work.join("dump");
    let _ = std::fs::remove_dir_all(&dump);
    std::fs::create_dir_all(&dump).unwrap();
    ok(Command::new("debugfs")
        .arg("-R")
        .arg(format!("rdump / {}", dump.display()))
        .arg(&fs));
    let _ = std::fs::remove_file(&fs);
    let listing = ok(Command::new("python3").arg("-c").arg(
        r#"
import os, sys, hashlib, stat
root = sys.argv[1]
skip = ("var/log", "var/cache", "var/lib/systemd", "var/lib/dhcp", "tmp", "var/tmp", "run", "root/.bash_history", "lost+found")
for d, dirs, files in os.walk(root):
    rel = os.path.relpath(d, root)
    dirs[:] = sorted(x for x in dirs if not os.path.join(rel, x).lstrip("./").startswith(skip))
    for f in sorted(files):
        p = os.path.join(d, f)
        r = os.path.relpath(p, root)
        if r.startswith(skip):
            continue
        st = os.lstat(p)
        if stat.S_ISLNK(st.st_mode):
            digest = "-> " + os.readlink(p)
        elif stat.S_ISREG(st.st_mode):
            digest = hashlib.sha256(open(p, "rb").read()).hexdigest()
        else:
            digest = "special"
        print(r, oct(st.st_mode), digest, sep="\t")
"#,
    ).arg(&dump));
    let _ = std::fs::remove_dir_all(&dump);
    listing
        .lines()
        .map(|l| {
            let (name, rest) = l.split_once('\t').unwrap();
            (name.to_string(), rest.to_string())
        })
        .collect()
}

/// qemu under TCG: the first `-incremental` build saves the running VM
/// (memory and disks) after each provisioner; after a change to the second
/// provisioner's script, the next build restores the VM as it was after
/// the first one, without booting: a process the first provisioner
/// started in the background is still running. Damaged checkpoints are
/// ignored with a warning; the build that then boots from scratch gives
/// an output disk with the same files as the restored one.
#[test]
fn qemu_incremental_restores_the_running_vm_and_matches_a_full_build() {
    let base = crate::qemu::base_image();
    let d = dir();
    let cache = TestCache::new(&d);
    let key = base.join("id_ed25519");
    d.write(
        "s2.sh",
        "echo RUN-p2\npgrep -f 'sleep 4242' >/dev/null && echo SLEEPER-ALIVE\ncat /root/one > /root/two\necho v1 >> /root/two\nsync\n",
    );
    let template = |out: &str| {
        serde_json::json!({
            "builders": [{
                "type": "qemu", "iso_url": base.join("disk-boot.qcow2"), "iso_checksum": "none",
                "disk_image": true, "headless": true, "output_directory": out, "vm_name": "vm.qcow2",
                "disk_size": "3G", "memory": 512,
                "ssh_username": "root", "ssh_private_key_file": key, "ssh_timeout": "6m",
                "shutdown_command": "poweroff", "shutdown_timeout": "3m"
            }],
            "provisioners": [
                {"type": "shell", "inline": ["echo RUN-p1", "echo one > /root/one", "nohup sleep 4242 >/dev/null 2>&1 &", "sync"]},
                {"type": "shell", "script": "s2.sh"}
            ]
        })
        .to_string()
    };
    d.write("t.json", &template("out"));
    let r = cache.kiln(&d, &["build", "-color=false", "-incremental", "t.json"]);
    let all = both(&r);
    assert_eq!(r.code, 0, "{all}");
    assert!(
        ran(&all, "RUN-p1") && ran(&all, "RUN-p2") && ran(&all, "SLEEPER-ALIVE"),
        "{all}"
    );
    assert!(
        all.contains("Saved the checkpoint after provisioner 1 of 2 (shell, "),
        "{all}"
    );
    assert!(
        all.contains("Saved the checkpoint after provisioner 2 of 2 (shell, "),
        "{all}"
    );

    // The second script changed: the VM comes back as it was after the
    // first provisioner, the background process included.
    d.write(
        "s2.sh",
        "echo RUN-p2\npgrep -f 'sleep 4242' >/dev/null && echo SLEEPER-ALIVE\ncat /root/one > /root/two\necho v2 >> /root/two\nsync\n",
    );
    let r = cache.kiln(
        &d,
        &["build", "-color=false", "-explain", "-force", "t.json"],
    );
    let all = both(&r);
    assert_eq!(r.code, 0, "{all}");
    assert_in_order(
        &all,
        [
            "provisioner 1 of 2 (shell): hit",
            "provisioner 2 of 2 (shell): miss: provisioner 2 (shell): `s2.sh` changed",
            "Restoring the checkpoint after provisioner 1 of 2 (shell, saved ",
            "Restored the VM from the checkpoint (memory and disks)",
            "RUN-p2",
            "SLEEPER-ALIVE",
        ],
    );
    assert!(!ran(&all, "RUN-p1"), "{all}");
    assert!(
        !all.contains("Waiting for SSH to become available") || all.contains("Connected to SSH!"),
        "{all}"
    );

    // Every saved machine state is damaged (one byte): the next build
    // ignores the checkpoints with a warning and boots; built elsewhere,
    // from the boot, it gives the same files.
    let mut damaged = 0;
    for e in std::fs::read_dir(d.path().join("cache/checkpoints")).unwrap() {
        let state = e.unwrap().path().join("machine.state");
        if let Ok(mut bytes) = std::fs::read(&state) {
            let at = bytes.len() / 2;
            bytes[at] ^= 0xff;
            std::fs::write(&state, bytes).unwrap();
            damaged += 1;
        }
    }
    assert_eq!(
        damaged, 3,
        "two checkpoints of the first build, one of the second"
    );
    d.write("full.json", &template("out-full"));
    let r = cache.kiln(&d, &["build", "-color=false", "-incremental", "full.json"]);
    let all = both(&r);
    assert_eq!(r.code, 0, "{all}");
    for n in [2, 1] {
        assert!(
            r.stderr.contains(&format!(
                "Warning: ignoring the checkpoint after provisioner {n} of 2 (shell): "
            )),
            "{all}"
        );
    }
    assert!(all.contains("No checkpoint to restore"), "{all}");
    assert!(ran(&all, "RUN-p1") && ran(&all, "RUN-p2"), "{all}");
    let incremental = disk_tree(&d.path().join("out/vm.qcow2"), d.path());
    let full = disk_tree(&d.path().join("out-full/vm.qcow2"), d.path());
    assert_eq!(
        incremental.get("root/two").map(|s| s.as_str()),
        full.get("root/two").map(|s| s.as_str())
    );
    assert!(
        incremental.contains_key("root/two"),
        "{:?}",
        incremental.keys().take(5).collect::<Vec<_>>()
    );
    let differ: Vec<&String> = incremental
        .keys()
        .chain(full.keys())
        .filter(|k| incremental.get(*k) != full.get(*k))
        .collect();
    assert!(
        differ.is_empty(),
        "the incremental and full disks differ in: {differ:?}"
    );
}
