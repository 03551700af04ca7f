//! The UCloud models' readings: phases, addresses, key splitting.

use kiln_cloud::steps::instance::Phase;

use super::image::split_key;
use super::instance::phase;
use super::*;

fn host(state: &str, disk: &str) -> UHost {
    UHost {
        state: state.into(),
        boot_disk_state: disk.into(),
        ..Default::default()
    }
}

#[test]
fn a_uhost_runs_once_its_boot_disk_is_ready() {
    assert_eq!(phase(&host("Initializing", "")), Phase::Starting);
    assert_eq!(phase(&host("Running", "Initializing")), Phase::Starting);
    assert_eq!(phase(&host("Running", "Normal")), Phase::Running);
    assert_eq!(phase(&host("Stopped", "Normal")), Phase::Stopped);
    assert_eq!(phase(&host("Install Fail", "")), Phase::Failed);
}

#[test]
fn the_address_is_the_private_or_the_first_public_one() {
    let mut h = host("Running", "Normal");
    h.ip_set = vec![
        Ip {
            kind: "Private".into(),
            ip: "10.9.0.2".into(),
        },
        Ip {
            kind: "Bgp".into(),
            ip: "1.2.3.4".into(),
        },
    ];
    assert_eq!(h.ssh_host(true).as_deref(), Some("10.9.0.2"));
    assert_eq!(h.ssh_host(false).as_deref(), Some("1.2.3.4"));
    assert_eq!(split_key("org-kiln:cn-bj2"), ("org-kiln", "cn-bj2"));
}
