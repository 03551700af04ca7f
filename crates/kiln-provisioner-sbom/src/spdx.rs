//! The SPDX 2.3 JSON document of an [`Inventory`]: the operating system as
//! the described package, containing one package per installed package
//! (version, supplier, purl; licenses `NOASSERTION`, since the package
//! databases do not say reliably). Pure; nothing to clean up.

use serde_json::{json, Value};

use crate::inventory::{Inventory, Package};
use crate::DocumentInfo;

/// The SPDX identifier of the operating system package.
pub const OS_ID: &str = "SPDXRef-OperatingSystem";

/// `s` reduced to what an SPDX identifier may hold (`[A-Za-z0-9.-]`).
fn id_part(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// An SPDX actor (`Person: Name (email)`) from a `Name <email>` string;
/// `NOASSERTION` when empty. Parentheses in the name would end it early,
/// so they are dropped.
pub fn actor(kind: &str, who: Option<&str>) -> String {
    let Some(who) = who.map(str::trim).filter(|w| !w.is_empty()) else {
        return "NOASSERTION".into();
    };
    let (name, email) = match (who.find('<'), who.rfind('>')) {
        (Some(l), Some(r)) if l < r => (&who[..l], Some(who[l + 1..r].trim())),
        _ => (who, None),
    };
    let name: String = name
        .chars()
        .filter(|c| !matches!(c, '(' | ')' | '\n' | '\r'))
        .collect();
    let name = name.trim();
    let name = if name.is_empty() {
        email.unwrap_or("unknown")
    } else {
        name
    };
    match email.filter(|e| !e.is_empty() && !e.contains(['(', ')'])) {
        Some(e) => format!("{kind}: {name} ({e})"),
        None => format!("{kind}: {name}"),
    }
}

/// Whether `url` is a plain `http(s)` URL, as SPDX's `homepage` and
/// CycloneDX's references want; anything else is left out.
pub(crate) fn plain_url(url: &str) -> bool {
    (url.starts_with("http://") || url.starts_with("https://"))
        && url.len() > "https://".len()
        && !url.contains(|c: char| c.is_whitespace() || c.is_control() || "<>\"{}|\\^`".contains(c))
}

fn package(i: usize, p: &Package, inv: &Inventory) -> (String, Value) {
    let id = format!(
        "SPDXRef-Package-{}-{}-{}",
        p.manager.purl_type(),
        i + 1,
        id_part(&p.name)
    );
    let supplier_kind = match p.manager {
        crate::inventory::Manager::Rpm => "Organization",
        _ => "Person",
    };
    let mut v = json!({
        "name": p.name,
        "SPDXID": id,
        "versionInfo": p.full_version(),
        "supplier": actor(supplier_kind, p.supplier.as_deref()),
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": false,
    });
    let o = v.as_object_mut().expect("an object");
    if let Some(h) = p.homepage.as_deref().filter(|h| plain_url(h)) {
        o.insert("homepage".into(), json!(h));
    }
    if let Some(s) = &p.source {
        o.insert(
            "sourceInfo".into(),
            json!(format!("built package from: {s}")),
        );
    }
    o.insert("licenseConcluded".into(), json!("NOASSERTION"));
    o.insert("licenseDeclared".into(), json!("NOASSERTION"));
    o.insert("copyrightText".into(), json!("NOASSERTION"));
    o.insert(
        "externalRefs".into(),
        json!([{
            "referenceCategory": "PACKAGE-MANAGER",
            "referenceType": "purl",
            "referenceLocator": p.purl(inv.os.as_ref()),
        }]),
    );
    (id, v)
}

/// The SPDX 2.3 JSON document for `inv`.
pub fn document(inv: &Inventory, info: &DocumentInfo) -> Value {
    let os = inv.os.as_ref();
    let mut os_pkg = json!({
        "name": os.map(|o| o.id.as_str()).unwrap_or("unknown"),
        "SPDXID": OS_ID,
    });
    let o = os_pkg.as_object_mut().expect("an object");
    if let Some(v) = os.and_then(|o| o.version_id.as_ref()) {
        o.insert("versionInfo".into(), json!(v));
    }
    o.insert("supplier".into(), json!("NOASSERTION"));
    o.insert("downloadLocation".into(), json!("NOASSERTION"));
    o.insert("filesAnalyzed".into(), json!(false));
    if let Some(h) = os
        .and_then(|o| o.home_url.as_deref())
        .filter(|h| plain_url(h))
    {
        o.insert("homepage".into(), json!(h));
    }
    o.insert("licenseConcluded".into(), json!("NOASSERTION"));
    o.insert("licenseDeclared".into(), json!("NOASSERTION"));
    o.insert("copyrightText".into(), json!("NOASSERTION"));
    let description = match os.and_then(|o| o.pretty_name.clone().or(o.name.clone())) {
        Some(d) => d,
        None => "the machine has no os-release file".into(),
    };
    o.insert("description".into(), json!(description));
    o.insert("primaryPackagePurpose".into(), json!("OPERATING-SYSTEM"));

    let mut packages = vec![os_pkg];
    let mut relationships = vec![json!({
        "spdxElementId": "SPDXRef-DOCUMENT",
        "relationshipType": "DESCRIBES",
        "relatedSpdxElement": OS_ID,
    })];
    for (i, p) in inv.packages.iter().enumerate() {
        let (id, v) = package(i, p, inv);
        packages.push(v);
        relationships.push(json!({
            "spdxElementId": OS_ID,
            "relationshipType": "CONTAINS",
            "relatedSpdxElement": id,
        }));
    }
    json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": info.name,
        "documentNamespace": format!(
            "https://spdx.org/spdxdocs/kiln/{}-{}",
            id_part(&info.name),
            info.serial
        ),
        "creationInfo": {
            "created": info.created,
            "creators": [format!("Tool: kiln-{}", info.tool_version)],
            "comment": format!("Package databases read: {}.", if inv.managers.is_empty() {
                "none".to_string()
            } else {
                inv.manager_names()
            }),
        },
        "packages": packages,
        "relationships": relationships,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{debian_inventory, info};

    #[test]
    fn actors_keep_name_and_email() {
        assert_eq!(
            actor(
                "Person",
                Some("GNU Libc Maintainers <debian-glibc@lists.debian.org>")
            ),
            "Person: GNU Libc Maintainers (debian-glibc@lists.debian.org)"
        );
        assert_eq!(
            actor("Organization", Some("Red Hat, Inc.")),
            "Organization: Red Hat, Inc."
        );
        assert_eq!(
            actor("Person", Some("Jo (the maintainer) <jo@x.org>")),
            "Person: Jo the maintainer (jo@x.org)"
        );
        assert_eq!(actor("Person", Some("<a@b>")), "Person: a@b (a@b)");
        assert_eq!(actor("Person", None), "NOASSERTION");
        assert_eq!(actor("Person", Some("  ")), "NOASSERTION");
    }

    #[test]
    fn urls_must_be_plain() {
        assert!(plain_url("https://www.gnu.org/software/libc/libc.html"));
        assert!(!plain_url("www.gnu.org"));
        assert!(!plain_url("https://a b"));
        assert!(!plain_url("https://"));
    }

    #[test]
    fn the_document_describes_the_os_containing_each_package() {
        let doc = document(&debian_inventory(), &info());
        assert_eq!(doc["spdxVersion"], "SPDX-2.3");
        assert_eq!(doc["dataLicense"], "CC0-1.0");
        assert_eq!(
            doc["documentNamespace"],
            "https://spdx.org/spdxdocs/kiln/kiln-docker-00000000-0000-4000-8000-000000000000"
        );
        assert_eq!(doc["creationInfo"]["created"], "2026-01-02T03:04:05Z");
        assert_eq!(doc["creationInfo"]["creators"][0], "Tool: kiln-1.2.3");
        let pkgs = doc["packages"].as_array().unwrap();
        assert_eq!(pkgs.len(), 6, "the OS and five packages");
        assert_eq!(pkgs[0]["SPDXID"], OS_ID);
        assert_eq!(pkgs[0]["name"], "debian");
        assert_eq!(pkgs[0]["versionInfo"], "12");
        assert_eq!(pkgs[0]["primaryPackagePurpose"], "OPERATING-SYSTEM");
        let names: Vec<_> = pkgs[1..]
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            ["base-files", "libc6", "libc6", "libstdc++6", "tzdata"]
        );
        let libc = &pkgs[2];
        assert_eq!(libc["SPDXID"], "SPDXRef-Package-deb-2-libc6");
        assert_eq!(libc["versionInfo"], "2.36-9+deb12u4");
        assert_eq!(
            libc["supplier"],
            "Person: GNU Libc Maintainers (debian-glibc@lists.debian.org)"
        );
        assert_eq!(libc["licenseConcluded"], "NOASSERTION");
        assert_eq!(libc["licenseDeclared"], "NOASSERTION");
        assert_eq!(libc["sourceInfo"], "built package from: glibc");
        assert_eq!(
            libc["externalRefs"][0]["referenceLocator"],
            "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12&upstream=glibc"
        );
        assert_eq!(pkgs[4]["SPDXID"], "SPDXRef-Package-deb-4-libstdc--6");
        let rels = doc["relationships"].as_array().unwrap();
        assert_eq!(rels.len(), 6);
        assert_eq!(rels[0]["relationshipType"], "DESCRIBES");
        assert_eq!(rels[0]["relatedSpdxElement"], OS_ID);
        for (r, p) in rels[1..].iter().zip(&pkgs[1..]) {
            assert_eq!(r["spdxElementId"], OS_ID);
            assert_eq!(r["relationshipType"], "CONTAINS");
            assert_eq!(r["relatedSpdxElement"], p["SPDXID"]);
        }
        // Every identifier is unique.
        let mut ids: Vec<_> = pkgs.iter().map(|p| p["SPDXID"].as_str().unwrap()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), pkgs.len());
    }

    #[test]
    fn a_machine_without_os_release_is_an_unknown_os() {
        let mut inv = debian_inventory();
        inv.os = None;
        let doc = document(&inv, &info());
        assert_eq!(doc["packages"][0]["name"], "unknown");
        assert!(doc["packages"][0].get("versionInfo").is_none());
        assert_eq!(
            doc["packages"][1]["externalRefs"][0]["referenceLocator"],
            "pkg:deb/base-files@12.4%2Bdeb12u5?arch=amd64"
        );
    }
}
