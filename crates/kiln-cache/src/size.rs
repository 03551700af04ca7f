//! Byte sizes as people write them (`20GiB`, `500MB`, `1.5G`) and as
//! `kiln cache list` prints them (`1.2 GiB`).
//!
//! The units: a bare number or `B` is bytes; `KB`, `MB`, `GB`, `TB` are
//! powers of 1000 (the SI reading of the `B` forms); `KiB`, `MiB`, `GiB`,
//! `TiB`, and the one-letter `K`, `M`, `G`, `T`, are powers of 1024 (the
//! one-letter forms follow `du -h`, `ls -h` and Docker, where `20G` means
//! 20 GiB). Case does not matter, a space may stand between the number and
//! the unit, and the number may have a fraction (`1.5G`), rounded down to
//! a whole byte.

use crate::CacheError;

/// What a size may look like, for error messages.
const ACCEPTED: &str = "give a number of bytes (`1048576`), or a number with a unit: \
     `KB`, `MB`, `GB`, `TB` (powers of 1000) or `KiB`, `MiB`, `GiB`, `TiB`, `K`, `M`, `G`, `T` \
     (powers of 1024), as in `20GiB`, `500MB`, `1.5G`";

/// Parses a byte size: `"20GiB"`, `"500MB"`, `"1.5G"`, `"1048576"`, `"0"`.
/// See the module documentation for the units.
pub fn parse_size(s: &str) -> Result<u64, CacheError> {
    let bad = |why: &str| CacheError::BadSize(format!("size `{s}` {why}: {ACCEPTED}"));
    let text = s.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let unit = unit.trim_start();
    let multiplier: u128 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1000,
        "mb" => 1000u128.pow(2),
        "gb" => 1000u128.pow(3),
        "tb" => 1000u128.pow(4),
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "t" | "tib" => 1 << 40,
        _ => return Err(bad("has an unknown unit")),
    };
    let (whole, fraction) = match number.split_once('.') {
        Some((w, f)) => (w, f),
        None => (number, ""),
    };
    if whole.is_empty() && fraction.is_empty() {
        return Err(bad("has no number"));
    }
    if fraction.contains('.') {
        return Err(bad("is not a number"));
    }
    let whole: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| bad("is too large"))?
    };
    // Digits past the 18th cannot change a result that fits in a u64 by a
    // whole byte for any of the units above, beyond rounding down.
    let fraction = &fraction[..fraction.len().min(18)];
    let fraction_value: u128 = if fraction.is_empty() {
        0
    } else {
        fraction.parse().map_err(|_| bad("is not a number"))?
    };
    let scale = 10u128.pow(fraction.len() as u32);
    let bytes = whole
        .checked_mul(multiplier)
        .and_then(|w| w.checked_add(fraction_value * multiplier / scale))
        .ok_or_else(|| bad("is too large"))?;
    u64::try_from(bytes).map_err(|_| bad("is too large"))
}

/// A size for people: `512 B`, `1.5 KiB`, `20.0 GiB` (powers of 1024, one
/// decimal).
pub fn format_size(n: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_forms() {
        let cases: &[(&str, u64)] = &[
            ("0", 0),
            ("1048576", 1_048_576),
            ("20GiB", 20 << 30),
            ("20gib", 20 << 30),
            ("20 GiB", 20 << 30),
            ("500MB", 500_000_000),
            ("500mb", 500_000_000),
            ("1.5G", 3 << 29),
            ("1.5g", 3 << 29),
            ("2K", 2048),
            ("2KB", 2000),
            ("2KiB", 2048),
            ("3M", 3 << 20),
            ("1T", 1 << 40),
            ("1TB", 1_000_000_000_000),
            ("7B", 7),
            (".5K", 512),
            ("1.", 1),
            ("  42  ", 42),
            ("0.0001K", 0),
        ];
        for (text, want) in cases {
            assert_eq!(parse_size(text).unwrap(), *want, "{text}");
        }
        assert_eq!(parse_size("18446744073709551615").unwrap(), u64::MAX);
    }

    #[test]
    fn rejects_what_it_does_not_understand() {
        for text in [
            "", "  ", "abc", "GiB", "12XB", "1.2.3", "-1", "1e9", "12 G B", ".", "1,5G",
        ] {
            let err = parse_size(text).unwrap_err();
            let msg = err.to_string();
            assert!(matches!(err, CacheError::BadSize(_)), "{text}");
            assert!(msg.contains(&format!("`{text}`")), "{msg}");
            assert!(msg.contains("`20GiB`"), "{msg}");
        }
    }

    #[test]
    fn rejects_sizes_too_large() {
        for text in [
            "18446744073709551616",
            "17000000T",
            "99999999999999999999999999999999999999999",
        ] {
            let msg = parse_size(text).unwrap_err().to_string();
            assert!(msg.contains("too large"), "{text}: {msg}");
        }
    }

    #[test]
    fn formats_for_people() {
        assert_eq!(format_size(0), "0 B");
        assert_eq!(format_size(1023), "1023 B");
        assert_eq!(format_size(1024), "1.0 KiB");
        assert_eq!(format_size(1536), "1.5 KiB");
        assert_eq!(format_size(20 << 30), "20.0 GiB");
        assert_eq!(format_size(1_288_490_189), "1.2 GiB");
        assert_eq!(format_size(u64::MAX), "16.0 EiB");
    }
}
