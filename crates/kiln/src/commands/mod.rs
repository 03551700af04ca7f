//! One module per `kiln` command.

pub mod build;
pub mod common;
pub mod fix;
pub mod inspect;
pub mod validate;
pub mod version;
