//! Date and time functions: `timestamp`, `formatdate`, `timeadd`,
//! `legacy_isotime`.

use chrono::{DateTime, Datelike, FixedOffset, Timelike, Utc};
use hcl::eval::FuncArgs;
use hcl::Value;

use super::{to_str, Entry};

pub(super) const FUNCS: &[Entry] = &[
    ("formatdate", 2, false, formatdate),
    ("legacy_isotime", 0, true, legacy_isotime),
    ("timeadd", 2, false, timeadd),
    ("timestamp", 0, false, timestamp),
];

fn parse_ts(s: &str) -> Result<DateTime<FixedOffset>, String> {
    DateTime::parse_from_rfc3339(s).map_err(|_| format!("`{s}` is not a valid RFC 3339 timestamp"))
}

fn timestamp(_: FuncArgs) -> Result<Value, String> {
    Ok(Value::from(
        Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
    ))
}

fn legacy_isotime(a: FuncArgs) -> Result<Value, String> {
    let now = Utc::now();
    match a.first() {
        None => Ok(Value::from(now.format("%Y-%m-%dT%H:%M:%SZ").to_string())),
        Some(f) => Ok(Value::from(kiln_sdk::interpolate::format_go_time(
            &now,
            &to_str(f)?,
        ))),
    }
}

fn timeadd(a: FuncArgs) -> Result<Value, String> {
    let t = parse_ts(&to_str(&a[0])?)?;
    let d = to_str(&a[1])?;
    let (neg, rest) = match d.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, d.strip_prefix('+').unwrap_or(&d)),
    };
    let dur = kiln_sdk::duration::parse_go_duration(rest)
        .map_err(|e| format!("invalid duration `{d}`: {e}"))?;
    let dur = chrono::Duration::from_std(dur).map_err(|_| format!("duration `{d}` is too long"))?;
    let r = if neg {
        t.checked_sub_signed(dur)
    } else {
        t.checked_add_signed(dur)
    }
    .ok_or_else(|| "the resulting time is out of range".to_string())?;
    Ok(Value::from(rfc3339(&r)))
}

fn rfc3339(t: &DateTime<FixedOffset>) -> String {
    if t.offset().local_minus_utc() == 0 {
        t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    } else {
        t.format("%Y-%m-%dT%H:%M:%S%:z").to_string()
    }
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

fn formatdate(a: FuncArgs) -> Result<Value, String> {
    let spec = to_str(&a[0])?;
    let t = parse_ts(&to_str(&a[1])?)?;
    let chars: Vec<char> = spec.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            // Quoted literal; '' is a literal quote.
            if chars.get(i + 1) == Some(&'\'') {
                out.push('\'');
                i += 2;
                continue;
            }
            let mut j = i + 1;
            loop {
                match chars.get(j) {
                    None => return Err("unterminated literal `'` in the format".into()),
                    Some('\'') if chars.get(j + 1) == Some(&'\'') => {
                        out.push('\'');
                        j += 2;
                    }
                    Some('\'') => break,
                    Some(ch) => {
                        out.push(*ch);
                        j += 1;
                    }
                }
            }
            i = j + 1;
            continue;
        }
        if !c.is_ascii_alphabetic() {
            out.push(c);
            i += 1;
            continue;
        }
        let mut n = 1;
        while chars.get(i + n) == Some(&c) {
            n += 1;
        }
        let seq: String = std::iter::repeat_n(c, n).collect();
        let off = t.offset().local_minus_utc();
        let piece = match seq.as_str() {
            "YYYY" => format!("{:04}", t.year()),
            "YY" => format!("{:02}", t.year() % 100),
            "MMMM" => MONTHS[t.month0() as usize].to_string(),
            "MMM" => MONTHS[t.month0() as usize][..3].to_string(),
            "MM" => format!("{:02}", t.month()),
            "M" => t.month().to_string(),
            "DD" => format!("{:02}", t.day()),
            "D" => t.day().to_string(),
            "EEEE" => DAYS[t.weekday().num_days_from_monday() as usize].to_string(),
            "EEE" => DAYS[t.weekday().num_days_from_monday() as usize][..3].to_string(),
            "hh" => format!("{:02}", t.hour()),
            "h" => t.hour().to_string(),
            "HH" => format!("{:02}", if t.hour12().1 == 0 { 12 } else { t.hour12().1 }),
            "H" => t.hour12().1.to_string(),
            "AA" => if t.hour() < 12 { "AM" } else { "PM" }.to_string(),
            "aa" => if t.hour() < 12 { "am" } else { "pm" }.to_string(),
            "mm" => format!("{:02}", t.minute()),
            "m" => t.minute().to_string(),
            "ss" => format!("{:02}", t.second()),
            "s" => t.second().to_string(),
            "ZZZZZ" => format!(
                "{}{:02}:{:02}",
                if off < 0 { '-' } else { '+' },
                off.abs() / 3600,
                off.abs() % 3600 / 60
            ),
            "ZZZZ" => format!(
                "{}{:02}{:02}",
                if off < 0 { '-' } else { '+' },
                off.abs() / 3600,
                off.abs() % 3600 / 60
            ),
            "ZZZ" => {
                if off == 0 {
                    "UTC".into()
                } else {
                    format!(
                        "{}{:02}{:02}",
                        if off < 0 { '-' } else { '+' },
                        off.abs() / 3600,
                        off.abs() % 3600 / 60
                    )
                }
            }
            "Z" => {
                if off == 0 {
                    "Z".into()
                } else {
                    format!(
                        "{}{:02}:{:02}",
                        if off < 0 { '-' } else { '+' },
                        off.abs() / 3600,
                        off.abs() % 3600 / 60
                    )
                }
            }
            other => {
                return Err(format!(
                    "invalid date format sequence `{other}`; quote literal letters with `'`"
                ))
            }
        };
        out.push_str(&piece);
        i += n;
    }
    Ok(Value::from(out))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{check, eval};

    #[test]
    fn documented_examples() {
        check(&[
            (
                r#"formatdate("DD MMM YYYY hh:mm ZZZ", "2018-01-02T23:12:01Z")"#,
                r#""02 Jan 2018 23:12 UTC""#,
            ),
            (
                r#"formatdate("EEEE, DD-MMM-YY hh:mm:ss ZZZ", "2018-01-02T23:12:01Z")"#,
                r#""Tuesday, 02-Jan-18 23:12:01 UTC""#,
            ),
            (
                r#"formatdate("EEE, DD MMM YYYY hh:mm:ss ZZZ", "2018-01-02T23:12:01-08:00")"#,
                r#""Tue, 02 Jan 2018 23:12:01 -0800""#,
            ),
            (
                r#"formatdate("MMM DD, YYYY", "2018-01-02T23:12:01Z")"#,
                r#""Jan 02, 2018""#,
            ),
            (
                r#"formatdate("HH:mmaa", "2018-01-02T23:12:01Z")"#,
                r#""11:12pm""#,
            ),
            (
                r#"formatdate("h 'o''clock'", "2018-01-02T03:12:01Z")"#,
                r#""3 o'clock""#,
            ),
            (
                r#"timeadd("2017-11-22T00:00:00Z", "10m")"#,
                r#""2017-11-22T00:10:00Z""#,
            ),
            (
                r#"timeadd("2017-11-22T00:00:00Z", "-1h")"#,
                r#""2017-11-21T23:00:00Z""#,
            ),
            ("length(timestamp())", "20"),
        ]);
    }

    #[test]
    fn errors_are_explained() {
        assert!(eval(r#"formatdate("YYYY", "yesterday")"#)
            .unwrap_err()
            .contains("not a valid RFC 3339"));
        assert!(eval(r#"formatdate("Q", "2018-01-02T23:12:01Z")"#)
            .unwrap_err()
            .contains("invalid date format"));
        assert!(eval(r#"timeadd("2017-11-22T00:00:00Z", "soon")"#)
            .unwrap_err()
            .contains("invalid duration"));
    }
}
