//! `kiln version`: kiln's version and the Packer releases it follows
//! (`kiln_sdk::PACKER_HCL2_VERSION` for HCL2, `PACKER_COMPAT_VERSION` for JSON).

/// `kiln version -h`.
pub const USAGE: &str = "Usage: kiln version [-machine-readable]

  Prints the kiln version and the Packer versions it follows: today's
  Packer for HCL2 templates, Packer 1.6.6 for legacy JSON templates.
";

/// `kiln vX.Y.Z (HCL2: Packer A.B.C; JSON: Packer 1.6.6)`.
fn line() -> String {
    format!(
        "kiln v{} (HCL2: Packer {}; JSON: Packer {})",
        kiln_sdk::KILN_VERSION,
        kiln_sdk::PACKER_HCL2_VERSION,
        kiln_sdk::PACKER_COMPAT_VERSION
    )
}

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
        println!("{ts},,ui,say,{}", line());
    } else {
        println!("{}", line());
    }
    0
}
