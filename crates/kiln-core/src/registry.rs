//! The table of component types a run can use: kiln-sdk's
//! [`Registry`](kiln_sdk::Registry), of all four kinds, filled by
//! `kiln-registry` (built-ins) and `kiln-plugin` (discovered plugins).
//! Re-exported here because the engine prepares builds from it.

pub use kiln_sdk::registry::Registry;
