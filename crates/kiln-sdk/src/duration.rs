//! Go-style durations (`"1m30s"`, `"500ms"`, `"2h"`), as Packer's
//! `pause_before`, `timeout` and friends take them, and the human duration
//! formatting Packer prints ("16 milliseconds 531 microseconds").

use std::time::Duration;

/// Parses a Go `time.ParseDuration` string. A bare `0` is accepted, as in Go.
pub fn parse_go_duration(input: &str) -> Result<Duration, String> {
    let s = input.trim();
    if s.is_empty() {
        return Err("expected a duration like `30s` or `1m30s`, found an empty string".into());
    }
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let bad = || format!("expected a duration like `30s` or `1m30s`, found `{input}`");
    let s = s.strip_prefix('+').unwrap_or(s);
    if s.starts_with('-') {
        return Err(format!("a duration cannot be negative, found `{input}`"));
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| {
                format!("missing unit in duration `{input}` (use ns, us, ms, s, m or h)")
            })?;
        if num_len == 0 {
            return Err(bad());
        }
        let number: f64 = rest[..num_len].parse().map_err(|_| bad())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let scale = match unit {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => {
                return Err(format!(
                    "unknown unit `{unit}` in duration `{input}` (use ns, us, ms, s, m or h)"
                ))
            }
        };
        total += number * scale;
    }
    if !total.is_finite() || total > 1e12 {
        return Err(format!("duration `{input}` is too large"));
    }
    Ok(Duration::from_secs_f64(total))
}

/// Formats a duration the way Packer 1.6.6 does in "Build 'x' finished after
/// …" (hako/durafmt): the non-zero units from largest to smallest.
pub fn format_human(d: Duration) -> String {
    let units: [(&str, u128); 7] = [
        ("week", 7 * 24 * 3600 * 1_000_000),
        ("day", 24 * 3600 * 1_000_000),
        ("hour", 3600 * 1_000_000),
        ("minute", 60 * 1_000_000),
        ("second", 1_000_000),
        ("millisecond", 1_000),
        ("microsecond", 1),
    ];
    let mut micros = d.as_micros();
    let mut parts = Vec::new();
    for (name, size) in units {
        let n = micros / size;
        micros %= size;
        if n > 0 {
            parts.push(format!("{n} {name}{}", if n == 1 { "" } else { "s" }));
        }
    }
    if parts.is_empty() {
        "0 seconds".to_string()
    } else {
        parts.join(" ")
    }
}

/// Formats a duration as Go's `time.Duration.String` does (`1.5s`,
/// `1m30s`, `500ms`), for messages that quote a template's durations.
pub fn format_go(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".into();
    }
    if nanos < 1_000 {
        return format!("{nanos}ns");
    }
    if nanos < 1_000_000 {
        return format!("{}µs", trim_fraction(nanos as f64 / 1e3));
    }
    if nanos < 1_000_000_000 {
        return format!("{}ms", trim_fraction(nanos as f64 / 1e6));
    }
    let total_secs = d.as_secs();
    let (h, m) = (total_secs / 3600, (total_secs / 60) % 60);
    let s = (nanos % 60_000_000_000) as f64 / 1e9;
    let secs = format!("{}s", trim_fraction(s));
    if h > 0 {
        format!("{h}h{m}m{secs}")
    } else if m > 0 {
        format!("{m}m{secs}")
    } else {
        secs
    }
}

fn trim_fraction(x: f64) -> String {
    let s = format!("{x:.9}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_durations() {
        assert_eq!(parse_go_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(
            parse_go_duration("500ms").unwrap(),
            Duration::from_millis(500)
        );
        assert_eq!(
            parse_go_duration("1.5h").unwrap(),
            Duration::from_secs(5400)
        );
        assert_eq!(parse_go_duration("0").unwrap(), Duration::ZERO);
        assert!(parse_go_duration("10")
            .unwrap_err()
            .contains("missing unit"));
        assert!(parse_go_duration("5x")
            .unwrap_err()
            .contains("unknown unit `x`"));
        assert!(parse_go_duration("-1s").is_err());
        assert!(parse_go_duration("").is_err());
        assert!(parse_go_duration("s").is_err());
    }

    #[test]
    fn formats_like_go() {
        assert_eq!(format_go(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format_go(Duration::from_secs(90)), "1m30s");
        assert_eq!(format_go(Duration::from_secs(3600)), "1h0m0s");
        assert_eq!(format_go(Duration::from_millis(500)), "500ms");
    }

    #[test]
    fn formats_like_durafmt() {
        assert_eq!(
            format_human(Duration::from_micros(16_531)),
            "16 milliseconds 531 microseconds"
        );
        assert_eq!(format_human(Duration::from_secs(61)), "1 minute 1 second");
        assert_eq!(format_human(Duration::ZERO), "0 seconds");
    }
}
