//! The CycloneDX 1.5 JSON BOM of an [`Inventory`]: the operating system as
//! the metadata component, one `library` component per installed package
//! (version, publisher, purl, which is also its `bom-ref`). Pure; nothing
//! to clean up.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::inventory::{Inventory, Package};
use crate::spdx::plain_url;
use crate::DocumentInfo;

/// The `bom-ref` of the operating system component.
pub const OS_REF: &str = "kiln:operating-system";

fn component(p: &Package, inv: &Inventory, bom_ref: String) -> Value {
    let purl = p.purl(inv.os.as_ref());
    let mut v = json!({
        "type": "library",
        "bom-ref": bom_ref,
    });
    let o = v.as_object_mut().expect("an object");
    if let Some(s) = &p.supplier {
        o.insert("publisher".into(), json!(s));
    }
    o.insert("name".into(), json!(p.name));
    o.insert("version".into(), json!(p.full_version()));
    o.insert("purl".into(), json!(purl));
    if let Some(h) = p.homepage.as_deref().filter(|h| plain_url(h)) {
        o.insert(
            "externalReferences".into(),
            json!([{"type": "website", "url": h}]),
        );
    }
    let mut props = vec![json!({"name": "kiln:package:manager", "value": p.manager.name()})];
    if let Some(a) = &p.arch {
        props.push(json!({"name": "kiln:package:arch", "value": a}));
    }
    if let Some(s) = &p.source {
        props.push(json!({"name": "kiln:package:source", "value": s}));
    }
    o.insert("properties".into(), Value::Array(props));
    v
}

/// The CycloneDX 1.5 JSON BOM for `inv`.
pub fn document(inv: &Inventory, info: &DocumentInfo) -> Value {
    let os = inv.os.as_ref();
    let mut os_component = json!({
        "type": "operating-system",
        "bom-ref": OS_REF,
        "name": os.map(|o| o.id.as_str()).unwrap_or("unknown"),
    });
    let o = os_component.as_object_mut().expect("an object");
    if let Some(v) = os.and_then(|o| o.version_id.as_ref()) {
        o.insert("version".into(), json!(v));
    }
    let description = match os.and_then(|o| o.pretty_name.clone().or(o.name.clone())) {
        Some(d) => d,
        None => "the machine has no os-release file".into(),
    };
    o.insert("description".into(), json!(description));
    if let Some(h) = os
        .and_then(|o| o.home_url.as_deref())
        .filter(|h| plain_url(h))
    {
        o.insert(
            "externalReferences".into(),
            json!([{"type": "website", "url": h}]),
        );
    }

    let mut seen = BTreeSet::new();
    let mut components = Vec::new();
    for p in &inv.packages {
        let purl = p.purl(inv.os.as_ref());
        // Identical package URLs (the same package twice in one
        // database) still need distinct references.
        let mut bom_ref = purl.clone();
        let mut n = 1;
        while !seen.insert(bom_ref.clone()) {
            n += 1;
            bom_ref = format!("{purl}#{n}");
        }
        components.push(component(p, inv, bom_ref));
    }
    let databases: Vec<Value> = inv
        .managers
        .iter()
        .map(|m| json!({"name": "kiln:package-database", "value": m.name()}))
        .collect();
    json!({
        "$schema": "http://cyclonedx.org/schema/bom-1.5.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": format!("urn:uuid:{}", info.serial),
        "version": 1,
        "metadata": {
            "timestamp": info.created,
            "tools": {
                "components": [{
                    "type": "application",
                    "name": "kiln",
                    "version": info.tool_version,
                }]
            },
            "component": os_component,
            "properties": databases,
        },
        "components": components,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{debian_inventory, info};

    #[test]
    fn the_bom_has_the_os_as_subject_and_each_package_as_a_library() {
        let bom = document(&debian_inventory(), &info());
        assert_eq!(bom["bomFormat"], "CycloneDX");
        assert_eq!(bom["specVersion"], "1.5");
        assert_eq!(bom["version"], 1);
        assert_eq!(
            bom["serialNumber"],
            "urn:uuid:00000000-0000-4000-8000-000000000000"
        );
        assert_eq!(bom["metadata"]["timestamp"], "2026-01-02T03:04:05Z");
        assert_eq!(
            bom["metadata"]["tools"]["components"][0]["version"],
            "1.2.3"
        );
        let os = &bom["metadata"]["component"];
        assert_eq!(os["type"], "operating-system");
        assert_eq!(os["name"], "debian");
        assert_eq!(os["version"], "12");
        assert_eq!(os["description"], "Debian GNU/Linux 12 (bookworm)");
        assert_eq!(bom["metadata"]["properties"][0]["value"], "dpkg");
        let c = bom["components"].as_array().unwrap();
        let names: Vec<_> = c.iter().map(|c| c["name"].as_str().unwrap()).collect();
        assert_eq!(
            names,
            ["base-files", "libc6", "libc6", "libstdc++6", "tzdata"]
        );
        assert!(c.iter().all(|c| c["type"] == "library"));
        assert!(c.iter().all(|c| c["bom-ref"] == c["purl"]));
        assert_eq!(
            c[2]["purl"],
            "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=i386&distro=debian-12&upstream=glibc"
        );
        assert_eq!(
            c[1]["publisher"],
            "GNU Libc Maintainers <debian-glibc@lists.debian.org>"
        );
        assert_eq!(
            c[1]["externalReferences"][0]["url"],
            "https://www.gnu.org/software/libc/libc.html"
        );
        assert!(c[0].get("externalReferences").is_none());
    }

    #[test]
    fn duplicate_package_urls_get_distinct_references() {
        let mut inv = debian_inventory();
        let mut twin = inv.packages[0].clone();
        twin.supplier = Some("someone else".into());
        inv.packages.insert(1, twin);
        let bom = document(&inv, &info());
        let c = bom["components"].as_array().unwrap();
        assert_eq!(c[0]["purl"], c[1]["purl"]);
        assert_eq!(
            c[1]["bom-ref"].as_str().unwrap(),
            format!("{}#2", c[0]["purl"].as_str().unwrap())
        );
    }
}
