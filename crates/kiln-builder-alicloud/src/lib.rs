//! The `alicloud-ecs` builder (Packer's `builder/alicloud/ecs`), in
//! progress: its typed configuration ([`config`]: Packer 1.6.6's keys, one
//! section a file, every error at once) and Alibaba's signed RPC client
//! ([`client`]: signature v1, endpoints, error replies mapped onto
//! kiln-cloud's retry policy). The build steps on kiln-cloud's toolkit and
//! the registry entry come next (issue 17). Holds nothing to clean up.

pub mod client;
pub mod config;
