//! One module per `kiln` command.

pub mod build;
pub mod common;
pub mod console;
pub mod fix;
pub mod fmt;
pub mod hcl2_upgrade;
pub mod init;
pub mod inspect;
pub mod plugins;
pub mod validate;
pub mod version;
