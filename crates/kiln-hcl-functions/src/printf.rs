//! The format-string engine behind `format` and `formatlist`, as cty's
//! `formatFSM` implements it: the verbs `%v %#v %t %b %d %o %x %X %e %E
//! %f %g %G %s %q %%`, the flags `space + - 0 #`, a width, a precision
//! (`.N`, or `.` alone for zero) and explicit argument indices (`%[2]d`,
//! after which counting goes on from there). Numbers are formatted as Go
//! formats a `big.Float` or `big.Int`; widths count characters. Every
//! argument must be used: extra ones are an error.

use hcl::Value;

use super::{to_bool, to_f64, to_str};

/// One parsed `%…` sequence.
struct Verb<'a> {
    /// The sequence as written, for messages.
    raw: &'a str,
    offset: usize,
    /// The 1-based argument it formats.
    arg: usize,
    mode: char,
    zero: bool,
    sharp: bool,
    plus: bool,
    minus: bool,
    space: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

/// Formats `args` by `fmt` as cty's `format` does.
pub(super) fn format(fmt: &str, args: &[Value]) -> Result<String, String> {
    let b = fmt.as_bytes();
    let mut out = String::new();
    let mut next_arg = 1usize;
    let mut highest = 0usize;
    let mut i = 0usize;
    while i < b.len() {
        if b[i] != b'%' {
            // Copy the run of plain text up to the next `%` (UTF-8 safe:
            // `%` never occurs inside a multi-byte sequence).
            let end = fmt[i..].find('%').map_or(b.len(), |e| i + e);
            out.push_str(&fmt[i..end]);
            i = end;
            continue;
        }
        if b.get(i + 1) == Some(&b'%') {
            out.push('%');
            i += 2;
            continue;
        }
        let start = i;
        i += 1;
        let mut v = Verb {
            raw: "",
            offset: start,
            arg: next_arg,
            mode: ' ',
            zero: false,
            sharp: false,
            plus: false,
            minus: false,
            space: false,
            width: None,
            prec: None,
        };
        while let Some(&c) = b.get(i) {
            match c {
                b'0' => v.zero = true,
                b'#' => v.sharp = true,
                b'-' => v.minus = true,
                b'+' => v.plus = true,
                b' ' => v.space = true,
                _ => break,
            }
            i += 1;
        }
        let bad = |i: usize| -> String {
            match fmt[i..].chars().next() {
                None => format!("invalid format string starting at offset {i}"),
                Some(c) => format!("unrecognized format character `{c}` at offset {i}"),
            }
        };
        if b.get(i) == Some(&b'[') {
            i += 1;
            if !matches!(b.get(i), Some(b'1'..=b'9')) {
                return Err(bad(i));
            }
            let mut n = 0usize;
            while let Some(d @ b'0'..=b'9') = b.get(i) {
                n = n.saturating_mul(10).saturating_add((d - b'0') as usize);
                i += 1;
            }
            if b.get(i) != Some(&b']') {
                return Err(bad(i));
            }
            i += 1;
            v.arg = n;
        }
        if let Some(b'1'..=b'9') = b.get(i) {
            let mut w = 0usize;
            while let Some(d @ b'0'..=b'9') = b.get(i) {
                w = w.saturating_mul(10).saturating_add((d - b'0') as usize);
                i += 1;
            }
            v.width = Some(w.min(10_000));
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            let mut p = 0usize;
            while let Some(d @ b'0'..=b'9') = b.get(i) {
                p = p.saturating_mul(10).saturating_add((d - b'0') as usize);
                i += 1;
            }
            v.prec = Some(p.min(10_000));
        }
        match b.get(i) {
            Some(c) if c.is_ascii_alphabetic() => v.mode = *c as char,
            _ => return Err(bad(i)),
        }
        i += 1;
        v.raw = &fmt[start..i];
        highest = highest.max(v.arg);
        append(&v, &mut out, args)?;
        next_arg = v.arg + 1;
    }
    if highest < args.len() {
        return Err(if highest == 0 {
            "too many arguments; no verbs in format string".into()
        } else {
            format!("too many arguments; only {highest} used by format string")
        });
    }
    Ok(out)
}

fn append(v: &Verb<'_>, out: &mut String, args: &[Value]) -> Result<(), String> {
    let Some(arg) = args.get(v.arg - 1) else {
        return Err(format!(
            "not enough arguments for `{}` at offset {}: it needs argument {} but {} given",
            v.raw,
            v.offset,
            v.arg,
            match args.len() {
                0 => "none were".to_string(),
                1 => "only 1 was".to_string(),
                n => format!("only {n} were"),
            }
        ));
    };
    let unsupported = |why: String| {
        format!(
            "unsupported value for `{}` at offset {}: {why}",
            v.raw, v.offset
        )
    };
    if v.mode != 'v' && matches!(arg, Value::Null) {
        return Err(unsupported("null value cannot be formatted".into()));
    }
    match v.mode {
        'v' => {
            let s = match arg {
                Value::String(s) if !v.sharp => s.clone(),
                Value::Number(_) if !v.sharp => {
                    let f = to_f64(arg).map_err(unsupported)?;
                    float_text(f, 'g', None)
                }
                other => crate::value::to_json(other).to_string(),
            };
            out.push_str(&pad(v, s));
        }
        't' => out.push_str(if to_bool(arg).map_err(unsupported)? {
            "true"
        } else {
            "false"
        }),
        'b' | 'd' | 'o' | 'x' | 'X' => {
            let n = integer(arg).map_err(unsupported)?;
            out.push_str(&format_int(v, n));
        }
        'e' | 'E' | 'f' | 'g' | 'G' => {
            let f = to_f64(arg).map_err(unsupported)?;
            out.push_str(&format_float(v, f));
        }
        's' | 'q' => {
            let mut s = to_str(arg).map_err(unsupported)?;
            // A precision limits the characters taken from the string
            // (cty ignores a zero precision).
            if let Some(p) = v.prec.filter(|p| *p > 0) {
                s = s.chars().take(p).collect();
            }
            if v.mode == 'q' {
                s = serde_json::to_string(&s).unwrap_or_default();
            }
            out.push_str(&pad(v, s));
        }
        other => {
            return Err(format!(
                "unsupported format verb `{other}` in `{}` at offset {}",
                v.raw, v.offset
            ))
        }
    }
    Ok(())
}

/// Pads to the verb's width as cty's `formatPadWidth` does: with zeros
/// for the `0` flag, on the right for `-`.
fn pad(v: &Verb<'_>, s: String) -> String {
    let Some(w) = v.width else { return s };
    let n = s.chars().count();
    if n >= w {
        return s;
    }
    let fill = if v.zero { "0" } else { " " }.repeat(w - n);
    if v.minus {
        s + &fill
    } else {
        fill + &s
    }
}

/// A whole-number argument, exactly (numbers beyond 2^53 included).
fn integer(v: &Value) -> Result<i128, String> {
    if let Value::Number(n) = v {
        if let Some(i) = n.as_i64() {
            return Ok(i as i128);
        }
        if let Some(u) = n.as_u64() {
            return Ok(u as i128);
        }
    }
    let f = to_f64(v)?;
    if f.fract() != 0.0 || f.abs() >= 1.7e38 {
        return Err("an integer is required".into());
    }
    Ok(f as i128)
}

/// Go's `big.Int` formatting: sign, `#` prefix, precision as a minimum
/// digit count, then width padding (spaces, zeros, or on the right).
fn format_int(v: &Verb<'_>, n: i128) -> String {
    let abs = n.unsigned_abs();
    let mut digits = match v.mode {
        'b' => format!("{abs:b}"),
        'o' => format!("{abs:o}"),
        'x' => format!("{abs:x}"),
        'X' => format!("{abs:X}"),
        _ => abs.to_string(),
    };
    let sign = if n < 0 {
        "-"
    } else if v.plus {
        "+"
    } else if v.space {
        " "
    } else {
        ""
    };
    let prefix = match (v.sharp, v.mode) {
        (true, 'b') => "0b",
        (true, 'o') => "0",
        (true, 'x') => "0x",
        (true, 'X') => "0X",
        _ => "",
    };
    let mut zeros = 0;
    if let Some(p) = v.prec {
        if digits.len() < p {
            zeros = p - digits.len();
        } else if digits == "0" && p == 0 {
            // Zero with a zero precision prints nothing at all.
            digits.clear();
        }
    }
    let (mut left, mut right) = (0, 0);
    let len = sign.len() + prefix.len() + zeros + digits.len();
    if let Some(w) = v.width.filter(|w| len < *w) {
        let d = w - len;
        if v.minus {
            right = d;
        } else if v.zero && v.prec.is_none() {
            zeros = d;
        } else {
            left = d;
        }
    }
    format!(
        "{}{sign}{prefix}{}{digits}{}",
        " ".repeat(left),
        "0".repeat(zeros),
        " ".repeat(right)
    )
}

/// Go's `big.Float` formatting for `%e %E %f %g %G`: the digits, then
/// the sign and padding.
fn format_float(v: &Verb<'_>, f: f64) -> String {
    // `%e` and `%f` default to 6 digits; `%g` to the shortest form.
    let prec = match v.mode {
        'g' | 'G' => v.prec,
        _ => Some(v.prec.unwrap_or(6)),
    };
    let text = float_text(f.abs(), v.mode, prec);
    let sign = if f.is_sign_negative() && f != 0.0 {
        "-"
    } else if v.plus {
        "+"
    } else if v.space {
        " "
    } else {
        ""
    };
    let len = sign.len() + text.len();
    let padding = v.width.map_or(0, |w| w.saturating_sub(len));
    if v.zero && !v.minus {
        format!("{sign}{}{text}", "0".repeat(padding))
    } else if v.minus {
        format!("{sign}{text}{}", " ".repeat(padding))
    } else {
        format!("{}{sign}{text}", " ".repeat(padding))
    }
}

/// A number's decimal digits: `(mantissa digits without trailing zeros,
/// exponent)` with the value `0.DIGITS × 10^exponent`, rounded to `sig`
/// significant digits, or the shortest digits that read back exactly.
fn decimal(abs: f64, sig: Option<usize>) -> (Vec<u8>, i32) {
    let s = match sig {
        Some(n) => format!("{:.*e}", n.max(1) - 1, abs),
        None => format!("{abs:e}"),
    };
    let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
    let mut digits: Vec<u8> = m.bytes().filter(u8::is_ascii_digit).collect();
    while digits.last() == Some(&b'0') {
        digits.pop();
    }
    if digits.is_empty() {
        return (digits, 0);
    }
    (digits, e.parse::<i32>().unwrap_or(0) + 1)
}

/// `x.Text(mode, prec)` of Go's `big.Float` for a non-negative `abs`
/// (a negative value gets its `-` in front); `None` is the shortest form.
pub(super) fn float_text(f: f64, mode: char, prec: Option<usize>) -> String {
    let neg = if f.is_sign_negative() && f != 0.0 {
        "-"
    } else {
        ""
    };
    let abs = f.abs();
    let body = match mode {
        'f' => match prec {
            Some(p) => format!("{abs:.p$}"),
            None => {
                let (d, e) = decimal(abs, None);
                fmt_f(&d, e, (d.len() as i32 - e).max(0) as usize)
            }
        },
        'e' | 'E' => match prec {
            Some(p) => {
                let (d, e) = decimal(abs, Some(p + 1));
                fmt_e(&d, e, p, mode)
            }
            None => {
                let (d, e) = decimal(abs, None);
                fmt_e(&d, e, d.len().saturating_sub(1), mode)
            }
        },
        _ => {
            let shortest = prec.is_none();
            let (d, e) = match prec {
                Some(p) => decimal(abs, Some(p.max(1))),
                None => decimal(abs, None),
            };
            let mut prec = match prec {
                Some(p) => p.max(1),
                None => d.len(),
            };
            let mut eprec = prec;
            if eprec > d.len() && d.len() as i32 >= e {
                eprec = d.len();
            }
            if shortest {
                eprec = 6;
            }
            let exp = e - 1;
            if exp < -4 || exp >= eprec as i32 {
                if prec > d.len() {
                    prec = d.len();
                }
                let m = if mode == 'G' { 'E' } else { 'e' };
                fmt_e(&d, e, prec.saturating_sub(1), m)
            } else {
                if prec as i32 > e {
                    prec = d.len();
                }
                fmt_f(&d, e, (prec as i32 - e).max(0) as usize)
            }
        }
    };
    format!("{neg}{body}")
}

/// `d.ddde±XX` with `prec` digits after the point.
fn fmt_e(d: &[u8], e: i32, prec: usize, mode: char) -> String {
    let mut s = String::new();
    s.push(d.first().map_or('0', |c| *c as char));
    if prec > 0 {
        s.push('.');
        for i in 1..=prec {
            s.push(d.get(i).map_or('0', |c| *c as char));
        }
    }
    let exp = if d.is_empty() { 0 } else { e - 1 };
    s.push(if mode == 'E' { 'E' } else { 'e' });
    s.push(if exp < 0 { '-' } else { '+' });
    s.push_str(&format!("{:02}", exp.abs()));
    s
}

/// `ddd.ddd` with `prec` digits after the point.
fn fmt_f(d: &[u8], e: i32, prec: usize) -> String {
    let at = |i: i32| -> char {
        if i >= 0 && (i as usize) < d.len() {
            d[i as usize] as char
        } else {
            '0'
        }
    };
    let mut s = String::new();
    if e > 0 {
        for i in 0..e {
            s.push(at(i));
        }
    } else {
        s.push('0');
    }
    if prec > 0 {
        s.push('.');
        for i in 0..prec as i32 {
            s.push(at(e + i));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::super::tests::{check, eval};

    /// The examples of Packer's `format` page and cty's own tests.
    #[test]
    fn documented_examples() {
        check(&[
            (r#"format("Hello, %s!", "Ander")"#, r#""Hello, Ander!""#),
            (
                r#"format("There are %d lights", 4)"#,
                r#""There are 4 lights""#,
            ),
            (r#"format("%%")"#, r#""%""#),
            (r#"format("%v", "hello")"#, r#""hello""#),
            (r#"format("%v", 12)"#, r#""12""#),
            (r#"format("%v", 1.5)"#, r#""1.5""#),
            (r#"format("%v", 1000000)"#, r#""1e+06""#),
            (r#"format("%v", true)"#, r#""true""#),
            (r#"format("%v", null)"#, r#""null""#),
            (r#"format("%v", [true])"#, r#""[true]""#),
            (r#"format("%#v", "hello")"#, r#""\"hello\"""#),
            (r#"format("%#v", true)"#, r#""true""#),
            (r#"format("%#v", 1)"#, r#""1""#),
            (r#"format("%#v", {a = 1})"#, r#""{\"a\":1}""#),
            (r#"format("%#v", [true])"#, r#""[true]""#),
            (r#"format("%#v", null)"#, r#""null""#),
            (r#"format("%t", true)"#, r#""true""#),
            (r#"format("%t", "false")"#, r#""false""#),
            (r#"format("%b", 5)"#, r#""101""#),
            (r#"format("%d", 12)"#, r#""12""#),
            (r#"format("%d", "12")"#, r#""12""#),
            (r#"format("%o", 8)"#, r#""10""#),
            (r#"format("%x", 255)"#, r#""ff""#),
            (r#"format("%X", 255)"#, r#""FF""#),
            (r#"format("%#x", 255)"#, r#""0xff""#),
            (r#"format("%e", 12345.6789)"#, r#""1.234568e+04""#),
            (r#"format("%E", 0.00012)"#, r#""1.200000E-04""#),
            (r#"format("%f", 3.14159)"#, r#""3.141590""#),
            (r#"format("%.2f", 3.14159)"#, r#""3.14""#),
            (r#"format("%9.2f", 3.14159)"#, r#""     3.14""#),
            (r#"format("%9f", 3.14159)"#, r#"" 3.141590""#),
            (r#"format("%.f", 2.6)"#, r#""3""#),
            (r#"format("%g", 1.5)"#, r#""1.5""#),
            (r#"format("%g", 1e21)"#, r#""1e+21""#),
            (r#"format("%g", 0.00001)"#, r#""1e-05""#),
            (r#"format("%.3g", 3.14159)"#, r#""3.14""#),
            (r#"format("%G", 1e-7)"#, r#""1E-07""#),
            (r#"format("%s", "hello")"#, r#""hello""#),
            (r#"format("%s", 12)"#, r#""12""#),
            (r#"format("%s", true)"#, r#""true""#),
            (r#"format("%.3s", "hello")"#, r#""hel""#),
            (r#"format("%q", "hello")"#, r#""\"hello\"""#),
            (r#"format("%q", 12)"#, r#""\"12\"""#),
            (r#"format("%5s|%-5s|", "ab", "cd")"#, r#""   ab|cd   |""#),
            (r#"format("%05d", -7)"#, r#""-0007""#),
            (r#"format("%05s", "ab")"#, r#""000ab""#),
            (r#"format("%+d % d", 5, 5)"#, r#""+5  5""#),
            (r#"format("%+.1f", 2.25)"#, r#""+2.2""#),
            (r#"format("%-8.3f|", -1.5)"#, r#""-1.500  |""#),
            (r#"format("%.5d", 42)"#, r#""00042""#),
            (r#"format("%[2]s %[1]s", "a", "b")"#, r#""b a""#),
            (r#"format("%[2]s %s", "a", "b", "c")"#, r#""b c""#),
            (r#"format("%s %[1]s", "a")"#, r#""a a""#),
            (r#"format("%d", 9007199254740993)"#, r#""9007199254740993""#),
            (r#"format("%v", "🤔🤷")"#, r#""🤔🤷""#),
            (r#"format("%3s|", "é")"#, r#""  é|""#),
        ]);
    }

    #[test]
    fn impossible_requests_are_errors() {
        for (expr, want) in [
            (r#"format("%d")"#, "not enough arguments for `%d` at offset 0: it needs argument 1 but none were given"),
            (r#"format("%s %s", "a")"#, "not enough arguments for `%s` at offset 3"),
            (r#"format("%[3]s", "a", "b")"#, "it needs argument 3 but only 2 were given"),
            (r#"format("hello", "a")"#, "too many arguments; no verbs in format string"),
            (r#"format("%s", "a", "b")"#, "too many arguments; only 1 used by format string"),
            (r#"format("%[2]s", "a", "b", "c")"#, "too many arguments; only 2 used by format string"),
            (r#"format("%d", 1.5)"#, "unsupported value for `%d` at offset 0: an integer is required"),
            (r#"format("%d", "x")"#, "unsupported value for `%d` at offset 0: a number is required"),
            (r#"format("%t", 1)"#, "unsupported value for `%t` at offset 0: a bool is required"),
            (r#"format("%s", [1])"#, "unsupported value for `%s` at offset 0: a string is required, found a list"),
            (r#"format("%s", null)"#, "null value cannot be formatted"),
            (r#"format("%c", 65)"#, "unsupported format verb `c` in `%c` at offset 0"),
            (r#"format("abc %")"#, "invalid format string starting at offset 5"),
            (r#"format("%!", 1)"#, "unrecognized format character `!` at offset 1"),
            (r#"format("%[0]d", 1)"#, "unrecognized format character `0` at offset 2"),
            (r#"formatlist("%s", ["a"], "b")"#, "too many arguments; only 1 used by format string"),
        ] {
            let e = eval(expr).unwrap_err();
            assert!(e.contains(want), "{expr}: {e}");
        }
    }

    /// `%g` and `%e` choose their digits as Go's `big.Float` does.
    #[test]
    fn float_texts_follow_go() {
        use super::float_text;
        for (f, mode, prec, want) in [
            (0.0, 'g', None, "0"),
            (100000.0, 'g', None, "100000"),
            (1000000.0, 'g', None, "1e+06"),
            (0.0001, 'g', None, "0.0001"),
            (123456789.0, 'g', Some(4), "1.235e+08"),
            (1.0, 'g', Some(3), "1"),
            (0.0, 'e', Some(2), "0.00e+00"),
            (-2.5, 'e', Some(1), "-2.5e+00"),
            (1e100, 'e', Some(0), "1e+100"),
            (0.5, 'f', None, "0.5"),
            (1e21, 'f', None, "1000000000000000000000"),
        ] {
            assert_eq!(float_text(f, mode, prec), want, "{f} {mode} {prec:?}");
        }
    }
}
