//! kiln-post-processors: Packer 1.6.6's built-in local post-processors.
//!
//! - [`manifest`] records each build's artifact in a JSON file, safely when
//!   many builds (in this process or in others) write the same file.
//! - [`checksum`] writes checksum files for the artifact's files.
//! - [`compress`] packs the artifact's files into an archive (`tar`, `zip`,
//!   gzip, lz4, xz, bgzf, zstd).
//! - [`artifice`] replaces the artifact with files chosen by glob patterns.
//!
//! Each module has a typed `Config`, a factory whose `prepare` only decodes
//! and validates, and a post-processor whose `post_process` does the work.
//! [`factories`] returns all four for registration.

pub mod artifice;
pub mod checksum;
pub mod compress;
pub mod manifest;

mod common;

use kiln_sdk::PostProcessorFactory;

/// The factories of every post-processor in this crate, for the registry.
pub fn factories() -> Vec<Box<dyn PostProcessorFactory>> {
    vec![
        Box::new(manifest::ManifestFactory),
        Box::new(checksum::ChecksumFactory),
        Box::new(compress::CompressFactory),
        Box::new(artifice::ArtificeFactory),
    ]
}

#[cfg(test)]
mod tests {
    #[test]
    fn factory_names_are_packer_type_names() {
        let names: Vec<_> = super::factories().iter().map(|f| f.name()).collect();
        assert_eq!(names, ["manifest", "checksum", "compress", "artifice"]);
    }
}
