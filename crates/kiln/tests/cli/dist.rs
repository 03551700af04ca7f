//! `scripts/dist.sh`: the release tarball and the Debian package, made from
//! the binary under test (`--bin`), then used as a user would: the tarball
//! unpacked and its `kiln` run; the package installed with `apt-get install
//! ./kiln_*.deb` in a private mount namespace whose `/usr`, `/var` and `/etc`
//! are throw-away overlays, so the machine is left as it was.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::*;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn sh(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{text}",
        out.status
    );
    text
}

fn kiln_version() -> String {
    let out = sh(Command::new(env!("CARGO_BIN_EXE_kiln")).arg("version"));
    out.lines().next().unwrap().to_string()
}

#[test]
fn dist_builds_a_tarball_and_a_debian_package_that_install_and_run() {
    let d = dir();
    let out = d.path().join("dist");
    let made = sh(Command::new(repo().join("scripts/dist.sh"))
        .args(["--bin", env!("CARGO_BIN_EXE_kiln"), "--out"])
        .arg(&out)
        .current_dir(repo()));
    let find = |suffix: &str| -> PathBuf {
        std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.to_string_lossy().ends_with(suffix))
            .unwrap_or_else(|| panic!("no `*{suffix}` in {}:\n{made}", out.display()))
    };
    let version = kiln_version();

    // The tarball: what it holds, and its kiln runs.
    let tarball = find(".tar.gz");
    let listing = sh(Command::new("tar").arg("-tzf").arg(&tarball));
    let top = tarball
        .file_name()
        .unwrap()
        .to_string_lossy()
        .trim_end_matches(".tar.gz")
        .to_string();
    for want in [
        "kiln",
        "README.md",
        "LICENSE",
        "completions/kiln.bash",
        "completions/_kiln",
        "completions/kiln.fish",
        "man/kiln.1.gz",
        "man/kiln-build.1.gz",
    ] {
        let entry = format!("{top}/{want}");
        assert!(
            listing.lines().any(|l| l == entry),
            "`{entry}` missing from the tarball:\n{listing}"
        );
    }
    let unpacked = d.path().join("unpacked");
    std::fs::create_dir(&unpacked).unwrap();
    sh(Command::new("tar")
        .arg("-xzf")
        .arg(&tarball)
        .arg("-C")
        .arg(&unpacked));
    let bin = unpacked.join(&top).join("kiln");
    let ran = sh(Command::new(&bin).arg("version"));
    assert_eq!(ran.lines().next(), Some(version.as_str()));
    let sections = sh(Command::new("readelf").arg("-S").arg(&bin));
    assert!(
        !sections.contains(".symtab"),
        "the binary is not stripped:\n{sections}"
    );
    let completion =
        std::fs::read_to_string(unpacked.join(&top).join("completions/kiln.bash")).unwrap();
    assert!(
        completion.contains("complete") && completion.contains("kiln"),
        "{completion}"
    );

    // The package: its control fields, then a real install.
    let deb = find(".deb");
    let fields = sh(Command::new("dpkg-deb").args(["-f"]).arg(&deb).args([
        "Package",
        "Version",
        "Depends",
        "Recommends",
    ]));
    assert!(fields.contains("Package: kiln"), "{fields}");
    assert!(fields.contains("Depends: libc6"), "{fields}");
    assert!(fields.contains("Recommends: qemu-system-x86"), "{fields}");
    let contents = sh(Command::new("dpkg-deb").arg("-c").arg(&deb));
    for want in [
        "./usr/bin/kiln",
        "./usr/share/bash-completion/completions/kiln",
        "./usr/share/man/man1/kiln.1.gz",
    ] {
        assert!(
            contents.contains(want),
            "`{want}` missing from the package:\n{contents}"
        );
    }
    let overlay = d.path().join("overlay");
    std::fs::create_dir(&overlay).unwrap();
    let script = format!(
        r#"set -e
for dir in usr var etc; do
  mkdir -p '{o}'/$dir.upper '{o}'/$dir.work
  mount -t overlay overlay -o lowerdir=/$dir,upperdir='{o}'/$dir.upper,workdir='{o}'/$dir.work /$dir
done
apt-get install -y --no-install-recommends '{deb}' > '{o}/apt.log' 2>&1 || {{ cat '{o}/apt.log'; exit 1; }}
dpkg -s kiln | grep '^Status:'
/usr/bin/kiln version | head -n1
ls /usr/share/man/man1/kiln.1.gz /usr/share/bash-completion/completions/kiln
"#,
        o = overlay.display(),
        deb = deb.display(),
    );
    let on_machine = || Path::new("/usr/share/man/man1/kiln.1.gz").exists();
    let before = on_machine();
    let installed = sh(Command::new("unshare").args(["-m", "sh", "-c", &script]));
    assert!(
        installed.contains("Status: install ok installed"),
        "{installed}"
    );
    assert!(installed.contains(&version), "{installed}");
    // The machine itself did not get kiln.
    assert_eq!(
        on_machine(),
        before,
        "the install leaked out of its namespace"
    );
}
