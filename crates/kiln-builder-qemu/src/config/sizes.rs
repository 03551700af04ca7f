//! The size syntaxes: `disk_size` (MiB, or a `K`/`M`/`G`/`T` suffix, as
//! Packer reads it) and a `disk_additional_size` entry (bytes, or a suffix
//! up to `E`, as qemu-img reads it). Pure; holds nothing.

/// Parses `disk_size`: a number of MiB, or a number with a `K`, `M`, `G`
/// or `T` suffix (as `qemu-img` takes it).
pub fn parse_disk_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let bad = || format!("expected a size like `40960M` or `20G`, found `{s}`");
    let (num, mult) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let m: f64 = match c.to_ascii_uppercase() {
                'K' => 1.0 / 1024.0,
                'M' => 1.0,
                'G' => 1024.0,
                'T' => 1024.0 * 1024.0,
                _ => return Err(bad()),
            };
            (&t[..i], m)
        }
        _ => (t, 1.0),
    };
    let n: f64 = num.trim().parse().map_err(|_| bad())?;
    let mib = (n * mult).ceil();
    if !mib.is_finite() || mib < 1.0 {
        return Err(bad());
    }
    Ok(mib as u64)
}

/// Parses a `disk_additional_size` entry as qemu-img reads it: bytes, or
/// a number with a `k`/`K`, `M`, `G`, `T`, `P` or `E` suffix (powers of
/// 1024; a trailing `b` is ignored).
pub fn parse_byte_size(s: &str) -> Result<u64, String> {
    let bad = || format!("expected a size like `1G` or `512M`, found `{s}`");
    let t = s.trim();
    let t = t.strip_suffix(['b', 'B']).unwrap_or(t);
    let (num, shift) = match t.chars().last() {
        Some(c) if c.is_ascii_alphabetic() => {
            let shift = match c {
                'k' | 'K' => 10,
                'M' | 'm' => 20,
                'G' | 'g' => 30,
                'T' | 't' => 40,
                'P' | 'p' => 50,
                'E' | 'e' => 60,
                _ => return Err(bad()),
            };
            (&t[..t.len() - 1], shift)
        }
        _ => (t, 0),
    };
    let n: u64 = num.trim().parse().map_err(|_| bad())?;
    if n == 0 {
        return Err(bad());
    }
    n.checked_shl(shift)
        .filter(|v| v >> shift == n)
        .ok_or_else(bad)
}
