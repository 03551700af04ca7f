//! What is installed on a machine, as its package databases tell it: the
//! pure parsers of `/etc/os-release`, of `dpkg-query` output and dpkg's
//! status file, of `rpm -qa` output and of apk's installed database, and
//! the package URL (purl) of each package. No I/O; nothing to clean up.

use std::collections::BTreeMap;

/// The package database a package comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Manager {
    /// Debian's dpkg (`.deb`).
    Dpkg,
    /// RPM.
    Rpm,
    /// Alpine's apk.
    Apk,
}

impl Manager {
    /// Its name in messages and properties (`dpkg`).
    pub fn name(self) -> &'static str {
        match self {
            Manager::Dpkg => "dpkg",
            Manager::Rpm => "rpm",
            Manager::Apk => "apk",
        }
    }

    /// The package URL type of its packages (`deb`).
    pub fn purl_type(self) -> &'static str {
        match self {
            Manager::Dpkg => "deb",
            Manager::Rpm => "rpm",
            Manager::Apk => "apk",
        }
    }
}

/// The operating system, from `os-release(5)`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OsRelease {
    /// `ID` (`debian`); `linux` when the file has none, as os-release(5)
    /// says.
    pub id: String,
    /// `VERSION_ID` (`12`).
    pub version_id: Option<String>,
    /// `VERSION_CODENAME` (`bookworm`).
    pub version_codename: Option<String>,
    /// `NAME` (`Debian GNU/Linux`).
    pub name: Option<String>,
    /// `PRETTY_NAME` (`Debian GNU/Linux 12 (bookworm)`).
    pub pretty_name: Option<String>,
    /// `HOME_URL`.
    pub home_url: Option<String>,
}

impl OsRelease {
    /// The `distro` qualifier of package URLs: `debian-12`, or the
    /// codename when there is no version (`debian-trixie`).
    pub fn distro(&self) -> Option<String> {
        self.version_id
            .as_ref()
            .or(self.version_codename.as_ref())
            .map(|v| format!("{}-{v}", self.id))
    }
}

/// One installed package.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Package {
    /// Its name (`libc6`).
    pub name: String,
    /// Its version as the database has it: dpkg's with its epoch
    /// (`1:2.3-4`), rpm's `VERSION-RELEASE` (the epoch is apart), apk's
    /// (`1.2.3-r0`).
    pub version: String,
    /// Its architecture (`amd64`, `x86_64`, `noarch`).
    pub arch: Option<String>,
    /// Where it comes from.
    pub manager: Manager,
    /// rpm's epoch.
    pub epoch: Option<String>,
    /// The source package it was built from, when it differs from the
    /// name (dpkg's `Source`, rpm's source RPM, apk's origin).
    pub source: Option<String>,
    /// Who supplies it: dpkg's and apk's maintainer (`Name <email>`), rpm's
    /// vendor.
    pub supplier: Option<String>,
    /// Its home page.
    pub homepage: Option<String>,
}

impl Package {
    /// The version with rpm's epoch in front (`1:2.3-4.el9`).
    pub fn full_version(&self) -> String {
        match &self.epoch {
            Some(e) => format!("{e}:{}", self.version),
            None => self.version.clone(),
        }
    }

    /// The package URL: `pkg:deb/debian/libc6@2.36-9?arch=amd64&distro=debian-12`,
    /// the namespace and `distro` taken from the operating system when it
    /// is known, qualifiers in the canonical (sorted) order.
    pub fn purl(&self, os: Option<&OsRelease>) -> String {
        let mut out = format!("pkg:{}/", self.manager.purl_type());
        if let Some(os) = os {
            out.push_str(&percent_encode(&os.id));
            out.push('/');
        }
        out.push_str(&percent_encode(&self.name));
        out.push('@');
        out.push_str(&percent_encode(&self.version));
        let mut q = BTreeMap::new();
        if let Some(a) = &self.arch {
            q.insert("arch", a.clone());
        }
        if let Some(d) = os.and_then(OsRelease::distro) {
            q.insert("distro", d);
        }
        if let Some(e) = &self.epoch {
            q.insert("epoch", e.clone());
        }
        if let Some(s) = &self.source {
            q.insert("upstream", s.clone());
        }
        for (i, (k, v)) in q.iter().enumerate() {
            out.push(if i == 0 { '?' } else { '&' });
            out.push_str(k);
            out.push('=');
            out.push_str(&percent_encode(v));
        }
        out
    }
}

/// `s` with everything but RFC 3986's unreserved characters and `:`
/// percent-encoded, as package URL components must be (the purl spec
/// leaves `:` unencoded, as the reference `packageurl-python` does).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~:".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// What a machine holds: its OS (when it has an os-release file), the
/// package databases found, and their packages sorted by name (then
/// version, architecture and database), duplicates removed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Inventory {
    /// The operating system.
    pub os: Option<OsRelease>,
    /// The databases read, in the order dpkg, rpm, apk.
    pub managers: Vec<Manager>,
    /// The packages, sorted.
    pub packages: Vec<Package>,
}

impl Inventory {
    /// An inventory of `packages`, sorted and without duplicates.
    pub fn new(
        os: Option<OsRelease>,
        mut managers: Vec<Manager>,
        mut packages: Vec<Package>,
    ) -> Self {
        managers.sort();
        managers.dedup();
        packages.sort_by(|a, b| {
            (&a.name, &a.version, &a.arch, a.manager, &a.epoch)
                .cmp(&(&b.name, &b.version, &b.arch, b.manager, &b.epoch))
                .then_with(|| a.cmp(b))
        });
        packages.dedup_by(|a, b| {
            (&a.name, &a.version, &a.arch, a.manager, &a.epoch)
                == (&b.name, &b.version, &b.arch, b.manager, &b.epoch)
        });
        Inventory {
            os,
            managers,
            packages,
        }
    }

    /// The databases' names joined with `, ` (`dpkg`).
    pub fn manager_names(&self) -> String {
        let names: Vec<_> = self.managers.iter().map(|m| m.name()).collect();
        names.join(", ")
    }
}

/// Output of a package database that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line} of {what}: {reason}")]
pub struct ParseError {
    /// What was read (`` the `dpkg-query` output ``).
    pub what: &'static str,
    /// The line, from 1.
    pub line: usize,
    /// What is wrong with it.
    pub reason: String,
}

/// The `dpkg-query` format [`parse_dpkg_query`] reads: one line per
/// package, tab-separated.
pub const DPKG_QUERY_FORMAT: &str =
    r"${Package}\t${Version}\t${Architecture}\t${Source}\t${Maintainer}\t${Homepage}\t${Status}\n";

/// The `rpm --queryformat` [`parse_rpm`] reads.
pub const RPM_QUERY_FORMAT: &str =
    r"%{NAME}\t%{EPOCH}\t%{VERSION}\t%{RELEASE}\t%{ARCH}\t%{VENDOR}\t%{SOURCERPM}\t%{URL}\n";

fn non_empty(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

/// dpkg's `Source` field without the version in parentheses
/// (`glibc (2.36-9)` → `glibc`); `None` when empty or the package's own
/// name.
fn dpkg_source(source: &str, name: &str) -> Option<String> {
    let s = source.split(" (").next().unwrap_or_default().trim();
    (!s.is_empty() && s != name).then(|| s.to_string())
}

/// Whether dpkg's `Status` (`install ok installed`) says the package is
/// installed (not only its configuration files left).
fn dpkg_installed(status: &str) -> bool {
    status.split_whitespace().last() == Some("installed")
}

/// Parses `dpkg-query -W -f=`[`DPKG_QUERY_FORMAT`] output; packages that
/// are not installed (configuration files left) are left out.
pub fn parse_dpkg_query(output: &str) -> Result<Vec<Package>, ParseError> {
    let mut packages = Vec::new();
    for (i, line) in output.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() != 7 {
            return Err(ParseError {
                what: "the `dpkg-query` output",
                line: i + 1,
                reason: format!("expected 7 tab-separated fields, found {}", f.len()),
            });
        }
        if !dpkg_installed(f[6]) || f[1].is_empty() {
            continue;
        }
        packages.push(Package {
            name: f[0].to_string(),
            version: f[1].to_string(),
            arch: non_empty(f[2]),
            manager: Manager::Dpkg,
            epoch: None,
            source: dpkg_source(f[3], f[0]),
            supplier: non_empty(f[4]),
            homepage: non_empty(f[5]),
        });
    }
    Ok(packages)
}

/// Splits a file of RFC 822-like stanzas (dpkg's status file, apk's
/// installed database) into `(first line, fields)`, continuation lines
/// dropped. `sep` is the separator of key and value.
fn stanzas(text: &str, sep: char) -> Vec<(usize, BTreeMap<String, String>)> {
    let mut out = Vec::new();
    let mut cur: Option<(usize, BTreeMap<String, String>)> = None;
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            out.extend(cur.take());
            continue;
        }
        if line.starts_with([' ', '\t']) {
            continue;
        }
        let Some((k, v)) = line.split_once(sep) else {
            continue;
        };
        let entry = cur.get_or_insert_with(|| (i + 1, BTreeMap::new()));
        entry
            .1
            .entry(k.to_string())
            .or_insert_with(|| v.trim().to_string());
    }
    out.extend(cur);
    out
}

/// Parses dpkg's status file (`/var/lib/dpkg/status`), for machines with
/// the database but no `dpkg-query`; packages that are not installed are
/// left out.
pub fn parse_dpkg_status(text: &str) -> Result<Vec<Package>, ParseError> {
    let mut packages = Vec::new();
    for (line, f) in stanzas(text, ':') {
        let get = |k: &str| f.get(k).map(String::as_str).unwrap_or_default();
        let Some(name) = non_empty(get("Package")) else {
            return Err(ParseError {
                what: "`/var/lib/dpkg/status`",
                line,
                reason: "a stanza without `Package`".into(),
            });
        };
        if !dpkg_installed(get("Status")) || get("Version").is_empty() {
            continue;
        }
        packages.push(Package {
            source: dpkg_source(get("Source"), &name),
            name,
            version: get("Version").to_string(),
            arch: non_empty(get("Architecture")),
            manager: Manager::Dpkg,
            epoch: None,
            supplier: non_empty(get("Maintainer")),
            homepage: non_empty(get("Homepage")),
        });
    }
    Ok(packages)
}

/// rpm's `(none)` for a missing tag, as `None`.
fn rpm_tag(s: &str) -> Option<String> {
    non_empty(s).filter(|s| s != "(none)")
}

/// Parses `rpm -qa --queryformat` [`RPM_QUERY_FORMAT`] output. The
/// `gpg-pubkey` entries are the database's signing keys, not software,
/// and are left out.
pub fn parse_rpm(output: &str) -> Result<Vec<Package>, ParseError> {
    let mut packages = Vec::new();
    for (i, line) in output.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() != 8 {
            return Err(ParseError {
                what: "the `rpm -qa` output",
                line: i + 1,
                reason: format!("expected 8 tab-separated fields, found {}", f.len()),
            });
        }
        if f[0] == "gpg-pubkey" {
            continue;
        }
        let version = match rpm_tag(f[3]) {
            Some(release) => format!("{}-{release}", f[2]),
            None => f[2].to_string(),
        };
        packages.push(Package {
            name: f[0].to_string(),
            version,
            arch: rpm_tag(f[4]),
            manager: Manager::Rpm,
            epoch: rpm_tag(f[1]),
            source: rpm_tag(f[6]),
            supplier: rpm_tag(f[5]),
            homepage: rpm_tag(f[7]),
        });
    }
    Ok(packages)
}

/// Parses apk's installed database (`/lib/apk/db/installed`): stanzas of
/// `P:` name, `V:` version, `A:` architecture, `o:` origin, `m:`
/// maintainer, `U:` URL, among others.
pub fn parse_apk(text: &str) -> Result<Vec<Package>, ParseError> {
    let mut packages = Vec::new();
    for (line, f) in stanzas(text, ':') {
        let get = |k: &str| f.get(k).map(String::as_str).unwrap_or_default();
        let (Some(name), Some(version)) = (non_empty(get("P")), non_empty(get("V"))) else {
            return Err(ParseError {
                what: "`/lib/apk/db/installed`",
                line,
                reason: "a package without `P:` (name) or `V:` (version)".into(),
            });
        };
        packages.push(Package {
            source: non_empty(get("o")).filter(|o| *o != name),
            name,
            version,
            arch: non_empty(get("A")),
            manager: Manager::Apk,
            epoch: None,
            supplier: non_empty(get("m")),
            homepage: non_empty(get("U")),
        });
    }
    Ok(packages)
}

/// A shell-quoted os-release value, unquoted: double quotes with
/// backslash escapes, single quotes literal.
fn unquote(v: &str) -> String {
    let v = v.trim();
    if v.len() >= 2 && v.starts_with('\'') && v.ends_with('\'') {
        return v[1..v.len() - 1].to_string();
    }
    if v.len() >= 2 && v.starts_with('"') && v.ends_with('"') {
        let mut out = String::new();
        let mut chars = v[1..v.len() - 1].chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            } else {
                out.push(c);
            }
        }
        return out;
    }
    v.to_string()
}

/// Parses an os-release file; `None` when it has no `KEY=value` line.
pub fn parse_os_release(text: &str) -> Option<OsRelease> {
    let mut vars = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            let v = unquote(v);
            if !v.is_empty() {
                vars.insert(k.trim().to_string(), v);
            }
        }
    }
    if vars.is_empty() {
        return None;
    }
    let get = |k: &str| vars.get(k).cloned();
    Some(OsRelease {
        id: get("ID").unwrap_or_else(|| "linux".into()),
        version_id: get("VERSION_ID"),
        version_codename: get("VERSION_CODENAME"),
        name: get("NAME"),
        pretty_name: get("PRETTY_NAME"),
        home_url: get("HOME_URL"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::testing::{APK, DPKG_QUERY, DPKG_STATUS, OS_RELEASE as DEBIAN_OS, RPM};

    fn debian() -> OsRelease {
        parse_os_release(DEBIAN_OS).unwrap()
    }

    #[test]
    fn os_release_values_are_unquoted() {
        assert_eq!(
            debian(),
            OsRelease {
                id: "debian".into(),
                version_id: Some("12".into()),
                version_codename: Some("bookworm".into()),
                name: Some("Debian GNU/Linux".into()),
                pretty_name: Some("Debian GNU/Linux 12 (bookworm)".into()),
                home_url: Some("https://www.debian.org/".into()),
            }
        );
        let os = parse_os_release(
            "# c\nNAME='Alpine Linux'\nVERSION_ID=3.19.1\nPRETTY_NAME=\"say \\\"hi\\\"\"\n",
        )
        .unwrap();
        assert_eq!(os.id, "linux");
        assert_eq!(os.name.as_deref(), Some("Alpine Linux"));
        assert_eq!(os.pretty_name.as_deref(), Some("say \"hi\""));
        assert_eq!(os.distro().as_deref(), Some("linux-3.19.1"));
        assert_eq!(parse_os_release("\n# nothing\n"), None);
    }

    #[test]
    fn dpkg_query_output_gives_the_installed_packages() {
        let p = parse_dpkg_query(DPKG_QUERY).unwrap();
        let names: Vec<_> = p.iter().map(|p| p.name.as_str()).collect();
        // `oldpkg` has only its configuration files left.
        assert_eq!(
            names,
            ["base-files", "libc6", "libstdc++6", "libc6", "tzdata"]
        );
        assert_eq!(
            p[1],
            Package {
                name: "libc6".into(),
                version: "2.36-9+deb12u4".into(),
                arch: Some("amd64".into()),
                manager: Manager::Dpkg,
                epoch: None,
                source: Some("glibc".into()),
                supplier: Some("GNU Libc Maintainers <debian-glibc@lists.debian.org>".into()),
                homepage: Some("https://www.gnu.org/software/libc/libc.html".into()),
            }
        );
        // A source named like the package is no source of its own.
        assert_eq!(p[0].source, None);
        assert_eq!(p[0].homepage, None);
        let e = parse_dpkg_query("a\t1\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 1 of the `dpkg-query` output: expected 7 tab-separated fields, found 2"
        );
    }

    #[test]
    fn the_dpkg_status_file_gives_what_dpkg_query_gives() {
        let mut a = parse_dpkg_status(DPKG_STATUS).unwrap();
        let mut b = parse_dpkg_query(DPKG_QUERY).unwrap();
        a.sort();
        b.sort();
        assert_eq!(a, b);
        let e = parse_dpkg_status("Status: install ok installed\nVersion: 1\n").unwrap_err();
        assert!(e.to_string().contains("without `Package`"), "{e}");
    }

    #[test]
    fn rpm_output_keeps_epoch_and_release_and_drops_keys() {
        let p = parse_rpm(RPM).unwrap();
        let names: Vec<_> = p.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["bash", "openssl-libs", "tzdata"]);
        assert_eq!(p[1].version, "3.0.7-25.el9_3");
        assert_eq!(p[1].epoch.as_deref(), Some("1"));
        assert_eq!(p[1].full_version(), "1:3.0.7-25.el9_3");
        assert_eq!(
            p[1].source.as_deref(),
            Some("openssl-3.0.7-25.el9_3.src.rpm")
        );
        assert_eq!(
            p[1].supplier.as_deref(),
            Some("Rocky Enterprise Software Foundation")
        );
        assert_eq!(p[0].epoch, None);
        assert_eq!(p[2].arch.as_deref(), Some("noarch"));
        assert_eq!(p[2].homepage, None);
        assert!(parse_rpm("bash\t(none)\t5\n").is_err());
    }

    #[test]
    fn apk_database_gives_each_package() {
        let p = parse_apk(APK).unwrap();
        let names: Vec<_> = p.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["musl", "busybox", "ssl_client"]);
        assert_eq!(p[0].version, "1.2.4_git20230717-r4");
        assert_eq!(p[0].arch.as_deref(), Some("x86_64"));
        assert_eq!(p[0].source, None);
        assert_eq!(p[2].source.as_deref(), Some("busybox"));
        assert_eq!(
            p[1].supplier.as_deref(),
            Some("Sören Tempel <soeren+alpine@soeren-tempel.net>")
        );
        assert_eq!(p[1].homepage.as_deref(), Some("https://busybox.net/"));
        let e = parse_apk("C:Q1abc=\nP:x\n\nP:y\nV:1\n").unwrap_err();
        assert_eq!(e.line, 1, "{e}");
    }

    #[test]
    fn package_urls_follow_the_purl_spec() {
        let p = parse_dpkg_query(DPKG_QUERY).unwrap();
        let os = debian();
        assert_eq!(
            p[1].purl(Some(&os)),
            "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12&upstream=glibc"
        );
        assert_eq!(
            p[2].purl(Some(&os)),
            "pkg:deb/debian/libstdc%2B%2B6@12.2.0-14?arch=amd64&distro=debian-12&upstream=gcc-12"
        );
        assert_eq!(
            p[0].purl(None),
            "pkg:deb/base-files@12.4%2Bdeb12u5?arch=amd64"
        );
        let r = parse_rpm(RPM).unwrap();
        let rocky = parse_os_release("ID=rocky\nVERSION_ID=9.3\n").unwrap();
        assert_eq!(
            r[1].purl(Some(&rocky)),
            "pkg:rpm/rocky/openssl-libs@3.0.7-25.el9_3?arch=x86_64&distro=rocky-9.3&epoch=1&upstream=openssl-3.0.7-25.el9_3.src.rpm"
        );
        let a = parse_apk(APK).unwrap();
        let alpine = parse_os_release("ID=alpine\nVERSION_ID=3.19.1\n").unwrap();
        assert_eq!(
            a[2].purl(Some(&alpine)),
            "pkg:apk/alpine/ssl_client@1.36.1-r15?arch=x86_64&distro=alpine-3.19.1&upstream=busybox"
        );
        // An epoch in a dpkg version is part of it.
        let mut e = p[0].clone();
        e.version = "1:2.3".into();
        assert!(e.purl(None).contains("@1:2.3?"), "{}", e.purl(None));
    }

    #[test]
    fn inventories_are_sorted_by_name_without_duplicates() {
        let mut p = parse_dpkg_query(DPKG_QUERY).unwrap();
        p.extend(parse_apk(APK).unwrap());
        p.push(p[0].clone());
        let inv = Inventory::new(None, vec![Manager::Apk, Manager::Dpkg, Manager::Apk], p);
        let names: Vec<_> = inv
            .packages
            .iter()
            .map(|p| format!("{}:{}", p.name, p.arch.as_deref().unwrap_or("")))
            .collect();
        assert_eq!(
            names,
            [
                "base-files:amd64",
                "busybox:x86_64",
                "libc6:amd64",
                "libc6:i386",
                "libstdc++6:amd64",
                "musl:x86_64",
                "ssl_client:x86_64",
                "tzdata:all"
            ]
        );
        assert_eq!(inv.manager_names(), "dpkg, apk");
    }
}
