//! `kiln version`.

/// `kiln version -h`.
pub const USAGE: &str = "Usage: kiln version [-machine-readable]

  Prints the kiln version and the Packer version it is compatible with.
";

/// Prints the version (and Packer's machine-readable version records).
pub fn run(machine_readable: bool) -> u8 {
    let v = kiln_sdk::KILN_VERSION;
    if machine_readable {
        let ts = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        println!("{ts},,version,{v}");
        println!("{ts},,version-prelease,");
        println!("{ts},,version-commit,");
        println!(
            "{ts},,ui,say,kiln v{v} (Packer {} compatible)",
            kiln_sdk::PACKER_COMPAT_VERSION
        );
    } else {
        println!(
            "kiln v{v} (Packer {} compatible)",
            kiln_sdk::PACKER_COMPAT_VERSION
        );
    }
    0
}
