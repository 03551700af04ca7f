//! Date and time functions: `timestamp`, `formatdate`, `timeadd`,
//! `legacy_isotime`, and Packer 1.16's `rfc3339_parse` and
//! `unix_timestamp_parse` (a timestamp as an object of its parts).

use chrono::{DateTime, Datelike, FixedOffset, Timelike, Utc};
use hcl::eval::FuncArgs;
use hcl::Value;

use super::{to_i64, to_str, Entry};

pub(super) const FUNCS: &[Entry] = &[
    ("formatdate", 2, false, formatdate),
    ("legacy_isotime", 0, true, legacy_isotime),
    ("rfc3339_parse", 1, false, rfc3339_parse),
    ("timeadd", 2, false, timeadd),
    ("timestamp", 0, false, timestamp),
    ("unix_timestamp_parse", 1, false, unix_timestamp_parse),
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

/// The parts of `t` in its own offset, as Packer's `rfc3339_parse` and
/// `unix_timestamp_parse` return them (attributes in cty's sorted order);
/// `last` is the one attribute the two differ by.
fn parts(t: &DateTime<FixedOffset>, last: (&str, Value)) -> Value {
    let iso = t.iso_week();
    let mut m = hcl::Map::new();
    let mut put = |k: &str, v: Value| {
        m.insert(k.to_string(), v);
    };
    put("day", t.day().into());
    put("hour", t.hour().into());
    put("iso_week", iso.week().into());
    put("iso_year", iso.year().into());
    put("minute", t.minute().into());
    put("month", t.month().into());
    put("month_name", MONTHS[t.month0() as usize].into());
    put(last.0, last.1);
    put("second", t.second().into());
    put("weekday", t.weekday().num_days_from_sunday().into());
    put(
        "weekday_name",
        DAYS[t.weekday().num_days_from_monday() as usize].into(),
    );
    put("year", t.year().into());
    put("year_day", t.ordinal().into());
    // `rfc3339` sorts before `second`, `unix` after `second`.
    m.sort_keys();
    Value::Object(m)
}

/// `rfc3339_parse(ts)`: the parts of an RFC 3339 timestamp, in its own
/// offset; a space may stand for the `T`, and fractional seconds are
/// allowed.
fn rfc3339_parse(a: FuncArgs) -> Result<Value, String> {
    let s = to_str(&a[0])?;
    let mut norm = s.clone();
    if norm.as_bytes().get(10) == Some(&b' ') {
        norm.replace_range(10..11, "T");
    }
    let t = parse_ts(&norm).map_err(|_| {
        format!("`{s}` is not a valid RFC 3339 timestamp, such as `2023-07-25T23:43:16Z`")
    })?;
    Ok(parts(&t, ("unix", Value::from(t.timestamp()))))
}

/// `unix_timestamp_parse(n)`: the parts of a Unix time (seconds), in UTC,
/// with its RFC 3339 form.
fn unix_timestamp_parse(a: FuncArgs) -> Result<Value, String> {
    let n = to_i64(&a[0])?;
    let t = DateTime::from_timestamp(n, 0)
        .ok_or_else(|| format!("`{n}` is outside the range of representable times"))?
        .fixed_offset();
    let text = rfc3339(&t);
    Ok(parts(&t, ("rfc3339", Value::from(text))))
}

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

    /// Packer's examples: the two functions agree on 1690328596.
    #[test]
    fn timestamps_parse_into_their_parts() {
        let parts = r#""day":25,"hour":23,"iso_week":30,"iso_year":2023,"minute":43,"month":7,"month_name":"July","#;
        let rest = r#""second":16,"#;
        let tail = r#""weekday":2,"weekday_name":"Tuesday","year":2023,"year_day":206"#;
        check(&[
            (
                r#"rfc3339_parse("2023-07-25T23:43:16Z")"#,
                &format!("{{{parts}{rest}\"unix\":1690328596,{tail}}}"),
            ),
            (
                r#"rfc3339_parse("2023-07-25 23:43:16Z")"#,
                &format!("{{{parts}{rest}\"unix\":1690328596,{tail}}}"),
            ),
            (
                r#"rfc3339_parse("2023-07-25T23:43:16Z").unix"#,
                "1690328596",
            ),
            (
                r#"unix_timestamp_parse(1690328596)"#,
                &format!("{{{parts}\"rfc3339\":\"2023-07-25T23:43:16Z\",{rest}{tail}}}"),
            ),
            (
                r#"unix_timestamp_parse(1690328596).rfc3339"#,
                r#""2023-07-25T23:43:16Z""#,
            ),
            (
                r#"unix_timestamp_parse("0").rfc3339"#,
                r#""1970-01-01T00:00:00Z""#,
            ),
            (r#"unix_timestamp_parse(-1).year"#, "1969"),
            // Fractional seconds are accepted; the parts stay in the offset
            // the timestamp was written in.
            (
                r#"[for k in ["hour", "day", "weekday", "unix", "second"] : rfc3339_parse("2024-01-01T01:30:05.25+05:00")[k]]"#,
                "[1,1,1,1704054605,5]",
            ),
            // 1 January 2021 is a Friday in ISO week 53 of 2020.
            (
                r#"[for k in ["iso_year", "iso_week", "weekday_name", "year_day"] : rfc3339_parse("2021-01-01T00:00:00Z")[k]]"#,
                r#"[2020,53,"Friday",1]"#,
            ),
            (
                r#"rfc3339_parse("2024-12-31T12:00:00-00:30").year_day"#,
                "366",
            ),
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
        for (expr, want) in [
            (
                r#"rfc3339_parse("2023-07-25")"#,
                "`2023-07-25` is not a valid RFC 3339 timestamp",
            ),
            (
                r#"rfc3339_parse("2023-07-25T23:43:16")"#,
                "is not a valid RFC 3339 timestamp",
            ),
            (r#"unix_timestamp_parse(1.5)"#, "a whole number is required"),
            (r#"unix_timestamp_parse("soon")"#, "a number is required"),
            (
                r#"unix_timestamp_parse(9000000000000000)"#,
                "outside the range of representable times",
            ),
        ] {
            let e = eval(expr).unwrap_err();
            assert!(e.contains(want), "{expr}: {e}");
        }
    }
}
