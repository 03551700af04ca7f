//! The vCPU section: `cpus`, `sockets`, `cores` and `threads`, with
//! Packer's topology rules, and the `-smp` value they make. Pure; holds
//! nothing.

use kiln_sdk::config::{ConfigError, ConfigErrors};

use super::raw::Fields;

/// The vCPUs (`cpus`, `sockets`, `cores`, `threads`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Smp {
    /// vCPUs present at boot.
    pub cpus: u32,
    /// The topology members the template set.
    pub sockets: Option<u32>,
    /// Cores per socket.
    pub cores: Option<u32>,
    /// Threads per core.
    pub threads: Option<u32>,
}

impl Smp {
    /// The `-smp` value, or `None` for QEMU's default (one vCPU).
    pub fn arg(&self) -> Option<String> {
        let topology = [self.sockets, self.cores, self.threads];
        if topology.iter().all(Option::is_none) {
            // Packer 1.6.6: one socket per vCPU.
            return (self.cpus > 1).then(|| format!("cpus={},sockets={}", self.cpus, self.cpus));
        }
        let mut a = format!("cpus={}", self.cpus);
        for (k, v) in ["sockets", "cores", "threads"].iter().zip(topology) {
            if let Some(v) = v {
                a.push_str(&format!(",{k}={v}"));
            }
        }
        let product: u32 = topology.iter().map(|v| v.unwrap_or(1)).product();
        if self.cpus < product {
            a.push_str(&format!(",maxcpus={product}"));
        }
        Some(a)
    }
}

/// The vCPUs: as Packer, the product of the topology, or `cpus` when
/// smaller.
pub(super) fn prepare(f: &Fields, errors: &mut ConfigErrors) -> Smp {
    for (key, v) in [
        ("cpus", f.cpus),
        ("sockets", f.sockets),
        ("cores", f.cores),
        ("threads", f.threads),
    ] {
        if v == Some(0) {
            errors.push(ConfigError::at(key, format!("`{key}` must be at least 1")));
        }
    }
    let topology = [f.sockets, f.cores, f.threads];
    if topology.iter().all(Option::is_none) {
        return Smp {
            cpus: f.cpus.unwrap_or(1).max(1),
            sockets: None,
            cores: None,
            threads: None,
        };
    }
    let product = topology
        .iter()
        .map(|v| v.unwrap_or(1).max(1))
        .fold(1u32, |a, b| a.saturating_mul(b));
    let cpus = f.cpus.map(|c| c.clamp(1, product)).unwrap_or(product);
    if let Some(s) = f.sockets {
        if s > cpus {
            errors.push(ConfigError::at(
                "sockets",
                format!("`sockets` ({s}) must not be higher than `cpus` ({cpus})"),
            ));
        }
    }
    Smp {
        cpus,
        sockets: f.sockets,
        cores: f.cores,
        threads: f.threads,
    }
}
