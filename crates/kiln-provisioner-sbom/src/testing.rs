//! Fixtures shared by the unit tests: the Debian inventory of
//! `tests/fixtures` and fixed document information.

use crate::inventory::{parse_dpkg_query, parse_os_release, Inventory, Manager};
use crate::DocumentInfo;

pub(crate) const OS_RELEASE: &str = include_str!("../tests/fixtures/os-release-debian");
pub(crate) const DPKG_QUERY: &str = include_str!("../tests/fixtures/dpkg-query.txt");
pub(crate) const DPKG_STATUS: &str = include_str!("../tests/fixtures/dpkg-status");
pub(crate) const RPM: &str = include_str!("../tests/fixtures/rpm-qa.txt");
pub(crate) const APK: &str = include_str!("../tests/fixtures/apk-installed");

/// The five installed packages of the dpkg fixture on Debian 12.
pub(crate) fn debian_inventory() -> Inventory {
    Inventory::new(
        parse_os_release(OS_RELEASE),
        vec![Manager::Dpkg],
        parse_dpkg_query(DPKG_QUERY).unwrap(),
    )
}

/// Document information with a fixed time and serial number.
pub(crate) fn info() -> DocumentInfo {
    DocumentInfo {
        name: "kiln-docker".into(),
        created: "2026-01-02T03:04:05Z".into(),
        serial: uuid::Uuid::parse_str("00000000-0000-4000-8000-000000000000").unwrap(),
        tool_version: "1.2.3".into(),
    }
}
