//! A small msgpack codec for Go's `net/rpc` + ugorji codec: a dynamic
//! [`Value`] that keeps `str`, `bin` and `ext` apart (Go decodes `str` to
//! `string` and `bin` to `[]byte` inside `interface{}` fields), an encoder,
//! and an incremental decoder that says "need more bytes" instead of failing
//! on a partial message. Stores nothing; no I/O.

/// A msgpack value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `nil`.
    Nil,
    /// `true` / `false`.
    Bool(bool),
    /// A negative or small integer.
    Int(i64),
    /// An unsigned integer.
    UInt(u64),
    /// A float.
    Float(f64),
    /// `str`.
    Str(String),
    /// `bin`.
    Bin(Vec<u8>),
    /// An array.
    Array(Vec<Value>),
    /// A map, in wire order.
    Map(Vec<(Value, Value)>),
    /// An extension value (type, data).
    Ext(i8, Vec<u8>),
}

impl Value {
    /// A map keyed by strings (a Go struct).
    pub fn map<K: Into<String>>(entries: impl IntoIterator<Item = (K, Value)>) -> Value {
        Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| (Value::Str(k.into()), v))
                .collect(),
        )
    }
    /// A string.
    pub fn str(s: impl Into<String>) -> Value {
        Value::Str(s.into())
    }
    /// The value of a string key of a map.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Map(m) => m
                .iter()
                .find(|(k, _)| matches!(k, Value::Str(s) if s == key))
                .map(|(_, v)| v),
            _ => None,
        }
    }
    /// The string (`str`, or `bin` holding UTF-8).
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            Value::Bin(b) => std::str::from_utf8(b).ok(),
            _ => None,
        }
    }
    /// The integer, when non-negative.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Value::UInt(u) => Some(u),
            Value::Int(i) if i >= 0 => Some(i as u64),
            _ => None,
        }
    }
    /// The integer.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Value::UInt(u) => i64::try_from(u).ok(),
            Value::Int(i) => Some(i),
            _ => None,
        }
    }
    /// The boolean.
    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            Value::Bool(b) => Some(b),
            _ => None,
        }
    }
    /// The elements of an array (nil is an empty array, as in Go).
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(a) => Some(a),
            Value::Nil => Some(&[]),
            _ => None,
        }
    }
    /// True for `nil`.
    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Nil)
    }
    /// A list of strings (`[]string`), skipping anything else.
    pub fn strings(&self) -> Vec<String> {
        self.as_array()
            .unwrap_or(&[])
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect()
    }

    /// The value as JSON (bin as a UTF-8 string when it is one, ext as null).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Nil | Value::Ext(..) => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::UInt(u) => J::from(*u),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Value::Str(s) => J::String(s.clone()),
            Value::Bin(b) => J::String(String::from_utf8_lossy(b).into_owned()),
            Value::Array(a) => J::Array(a.iter().map(Value::to_json).collect()),
            Value::Map(m) => J::Object(
                m.iter()
                    .map(|(k, v)| {
                        let key = match k {
                            Value::Str(s) => s.clone(),
                            other => other.to_json().to_string(),
                        };
                        (key, v.to_json())
                    })
                    .collect(),
            ),
        }
    }

    /// A JSON value as msgpack (strings as `str`).
    pub fn from_json(v: &serde_json::Value) -> Value {
        use serde_json::Value as J;
        match v {
            J::Null => Value::Nil,
            J::Bool(b) => Value::Bool(*b),
            J::Number(n) => {
                if let Some(u) = n.as_u64() {
                    Value::UInt(u)
                } else if let Some(i) = n.as_i64() {
                    Value::Int(i)
                } else {
                    Value::Float(n.as_f64().unwrap_or(0.0))
                }
            }
            J::String(s) => Value::Str(s.clone()),
            J::Array(a) => Value::Array(a.iter().map(Value::from_json).collect()),
            J::Object(o) => Value::Map(
                o.iter()
                    .map(|(k, v)| (Value::Str(k.clone()), Value::from_json(v)))
                    .collect(),
            ),
        }
    }
}

/// Appends the encoding of `v` to `out`.
pub fn encode(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Nil => out.push(0xc0),
        Value::Bool(false) => out.push(0xc2),
        Value::Bool(true) => out.push(0xc3),
        Value::UInt(u) => encode_uint(*u, out),
        Value::Int(i) if *i >= 0 => encode_uint(*i as u64, out),
        Value::Int(i) => {
            let i = *i;
            if i >= -32 {
                out.push(i as i8 as u8);
            } else if i >= i8::MIN as i64 {
                out.push(0xd0);
                out.push(i as i8 as u8);
            } else if i >= i16::MIN as i64 {
                out.push(0xd1);
                out.extend_from_slice(&(i as i16).to_be_bytes());
            } else if i >= i32::MIN as i64 {
                out.push(0xd2);
                out.extend_from_slice(&(i as i32).to_be_bytes());
            } else {
                out.push(0xd3);
                out.extend_from_slice(&i.to_be_bytes());
            }
        }
        Value::Float(f) => {
            out.push(0xcb);
            out.extend_from_slice(&f.to_be_bytes());
        }
        Value::Str(s) => {
            let n = s.len();
            if n < 32 {
                out.push(0xa0 | n as u8);
            } else if n < 256 {
                out.push(0xd9);
                out.push(n as u8);
            } else if n < 65536 {
                out.push(0xda);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            } else {
                out.push(0xdb);
                out.extend_from_slice(&(n as u32).to_be_bytes());
            }
            out.extend_from_slice(s.as_bytes());
        }
        Value::Bin(b) => {
            let n = b.len();
            if n < 256 {
                out.push(0xc4);
                out.push(n as u8);
            } else if n < 65536 {
                out.push(0xc5);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            } else {
                out.push(0xc6);
                out.extend_from_slice(&(n as u32).to_be_bytes());
            }
            out.extend_from_slice(b);
        }
        Value::Array(a) => {
            let n = a.len();
            if n < 16 {
                out.push(0x90 | n as u8);
            } else if n < 65536 {
                out.push(0xdc);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            } else {
                out.push(0xdd);
                out.extend_from_slice(&(n as u32).to_be_bytes());
            }
            for x in a {
                encode(x, out);
            }
        }
        Value::Map(m) => {
            let n = m.len();
            if n < 16 {
                out.push(0x80 | n as u8);
            } else if n < 65536 {
                out.push(0xde);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            } else {
                out.push(0xdf);
                out.extend_from_slice(&(n as u32).to_be_bytes());
            }
            for (k, x) in m {
                encode(k, out);
                encode(x, out);
            }
        }
        Value::Ext(t, d) => {
            match d.len() {
                1 => out.push(0xd4),
                2 => out.push(0xd5),
                4 => out.push(0xd6),
                8 => out.push(0xd7),
                16 => out.push(0xd8),
                n if n < 256 => {
                    out.push(0xc7);
                    out.push(n as u8);
                }
                n if n < 65536 => {
                    out.push(0xc8);
                    out.extend_from_slice(&(n as u16).to_be_bytes());
                }
                n => {
                    out.push(0xc9);
                    out.extend_from_slice(&(n as u32).to_be_bytes());
                }
            }
            out.push(*t as u8);
            out.extend_from_slice(d);
        }
    }
}

fn encode_uint(u: u64, out: &mut Vec<u8>) {
    if u < 128 {
        out.push(u as u8);
    } else if u < 256 {
        out.push(0xcc);
        out.push(u as u8);
    } else if u < 65536 {
        out.push(0xcd);
        out.extend_from_slice(&(u as u16).to_be_bytes());
    } else if u < (1 << 32) {
        out.push(0xce);
        out.extend_from_slice(&(u as u32).to_be_bytes());
    } else {
        out.push(0xcf);
        out.extend_from_slice(&u.to_be_bytes());
    }
}

/// Why bytes are not msgpack.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("invalid msgpack: {0}")]
pub struct DecodeError(pub String);

const MAX_DEPTH: usize = 128;

/// Decodes one value from the start of `buf`: `Ok(None)` when more bytes
/// are needed, else the value and how many bytes it took.
pub fn decode(buf: &[u8]) -> Result<Option<(Value, usize)>, DecodeError> {
    let mut pos = 0;
    match decode_at(buf, &mut pos, 0) {
        Ok(v) => Ok(Some((v, pos))),
        Err(Need::More) => Ok(None),
        Err(Need::Bad(e)) => Err(DecodeError(e)),
    }
}

enum Need {
    More,
    Bad(String),
}

fn take<'a>(buf: &'a [u8], pos: &mut usize, n: usize) -> Result<&'a [u8], Need> {
    let end = pos.checked_add(n).ok_or(Need::More)?;
    if end > buf.len() {
        return Err(Need::More);
    }
    let s = &buf[*pos..end];
    *pos = end;
    Ok(s)
}

fn be(buf: &[u8], pos: &mut usize, n: usize) -> Result<u64, Need> {
    Ok(take(buf, pos, n)?
        .iter()
        .fold(0u64, |a, b| (a << 8) | *b as u64))
}

fn decode_at(buf: &[u8], pos: &mut usize, depth: usize) -> Result<Value, Need> {
    if depth > MAX_DEPTH {
        return Err(Need::Bad("nesting is too deep".into()));
    }
    let b = take(buf, pos, 1)?[0];
    let string = |buf: &[u8], pos: &mut usize, n: usize| -> Result<Value, Need> {
        let s = take(buf, pos, n)?;
        Ok(match std::str::from_utf8(s) {
            Ok(s) => Value::Str(s.to_string()),
            Err(_) => Value::Bin(s.to_vec()),
        })
    };
    let array = |buf: &[u8], pos: &mut usize, n: usize| -> Result<Value, Need> {
        let mut v = Vec::with_capacity(n.min(1024));
        for _ in 0..n {
            v.push(decode_at(buf, pos, depth + 1)?);
        }
        Ok(Value::Array(v))
    };
    let map = |buf: &[u8], pos: &mut usize, n: usize| -> Result<Value, Need> {
        let mut v = Vec::with_capacity(n.min(1024));
        for _ in 0..n {
            let k = decode_at(buf, pos, depth + 1)?;
            v.push((k, decode_at(buf, pos, depth + 1)?));
        }
        Ok(Value::Map(v))
    };
    let ext = |buf: &[u8], pos: &mut usize, n: usize| -> Result<Value, Need> {
        let t = take(buf, pos, 1)?[0] as i8;
        Ok(Value::Ext(t, take(buf, pos, n)?.to_vec()))
    };
    Ok(match b {
        0x00..=0x7f => Value::UInt(b as u64),
        0x80..=0x8f => map(buf, pos, (b & 0x0f) as usize)?,
        0x90..=0x9f => array(buf, pos, (b & 0x0f) as usize)?,
        0xa0..=0xbf => string(buf, pos, (b & 0x1f) as usize)?,
        0xc0 => Value::Nil,
        0xc2 => Value::Bool(false),
        0xc3 => Value::Bool(true),
        0xc4..=0xc6 => {
            let n = be(buf, pos, 1 << (b - 0xc4))? as usize;
            Value::Bin(take(buf, pos, n)?.to_vec())
        }
        0xc7..=0xc9 => {
            let n = be(buf, pos, 1 << (b - 0xc7))? as usize;
            ext(buf, pos, n)?
        }
        0xca => Value::Float(f32::from_bits(be(buf, pos, 4)? as u32) as f64),
        0xcb => Value::Float(f64::from_bits(be(buf, pos, 8)?)),
        0xcc..=0xcf => Value::UInt(be(buf, pos, 1 << (b - 0xcc))?),
        0xd0 => Value::Int(be(buf, pos, 1)? as u8 as i8 as i64),
        0xd1 => Value::Int(be(buf, pos, 2)? as u16 as i16 as i64),
        0xd2 => Value::Int(be(buf, pos, 4)? as u32 as i32 as i64),
        0xd3 => Value::Int(be(buf, pos, 8)? as i64),
        0xd4..=0xd8 => ext(buf, pos, 1 << (b - 0xd4))?,
        0xd9..=0xdb => {
            let n = be(buf, pos, 1 << (b - 0xd9))? as usize;
            string(buf, pos, n)?
        }
        0xdc | 0xdd => {
            let n = be(buf, pos, if b == 0xdc { 2 } else { 4 })? as usize;
            array(buf, pos, n)?
        }
        0xde | 0xdf => {
            let n = be(buf, pos, if b == 0xde { 2 } else { 4 })? as usize;
            map(buf, pos, n)?
        }
        0xe0..=0xff => Value::Int(b as i8 as i64),
        0xc1 => return Err(Need::Bad("reserved byte 0xc1".into())),
    })
}

/// A Go `time.Time` as ugorji ≥ 1.2 sends it: the msgpack timestamp
/// extension (type -1), 96-bit form.
pub fn timestamp(t: std::time::SystemTime) -> Value {
    let d = t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let mut data = Vec::with_capacity(12);
    data.extend_from_slice(&d.subsec_nanos().to_be_bytes());
    data.extend_from_slice(&(d.as_secs() as i64).to_be_bytes());
    Value::Ext(-1, data)
}

/// Reads a Go `time.Time` in either generation's form: the timestamp
/// extension, or (ugorji 2015) `bin` with `time.MarshalBinary` bytes.
pub fn parse_time(v: &Value) -> Option<std::time::SystemTime> {
    use std::time::{Duration, UNIX_EPOCH};
    let (secs, nanos): (i64, u32) = match v {
        Value::Ext(-1, d) => match d.len() {
            4 => (u32::from_be_bytes(d[..4].try_into().ok()?) as i64, 0),
            8 => {
                let x = u64::from_be_bytes(d[..8].try_into().ok()?);
                ((x & 0x3_ffff_ffff) as i64, (x >> 34) as u32)
            }
            12 => (
                i64::from_be_bytes(d[4..12].try_into().ok()?),
                u32::from_be_bytes(d[..4].try_into().ok()?),
            ),
            _ => return None,
        },
        // version 1, seconds since year 1 (i64), nanoseconds (i32), zone (i16).
        Value::Bin(d) if d.len() >= 15 && d[0] == 1 => {
            const UNIX_TO_INTERNAL: i64 = (1969 * 365 + 1969 / 4 - 1969 / 100 + 1969 / 400) * 86400;
            let s = i64::from_be_bytes(d[1..9].try_into().ok()?) - UNIX_TO_INTERNAL;
            (s, u32::from_be_bytes(d[9..13].try_into().ok()?))
        }
        _ => return None,
    };
    if secs <= 0 {
        return None;
    }
    Some(UNIX_EPOCH + Duration::new(secs as u64, nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(v: Value) {
        let mut b = Vec::new();
        encode(&v, &mut b);
        assert_eq!(decode(&b).unwrap(), Some((v.clone(), b.len())), "{v:?}");
        // Every strict prefix needs more bytes.
        for n in 0..b.len().min(512) {
            assert_eq!(decode(&b[..n]).unwrap(), None, "{v:?} prefix {n}");
        }
    }

    #[test]
    fn roundtrips_every_kind() {
        for v in [
            Value::Nil,
            Value::Bool(true),
            Value::UInt(0),
            Value::UInt(300),
            Value::UInt(1 << 40),
            Value::Int(-1),
            Value::Int(-200),
            Value::Int(-70000),
            Value::Int(i64::MIN),
            Value::Float(1.5),
            Value::str("x".repeat(40)),
            Value::str("y".repeat(70000)),
            Value::Bin(vec![1, 2, 3]),
            Value::Array((0..20).map(Value::UInt).collect()),
            Value::map([
                ("ServiceMethod", Value::str("Builder.Run")),
                ("Seq", Value::UInt(0)),
            ]),
            Value::Ext(-1, vec![0; 12]),
            Value::Ext(5, vec![0; 3]),
        ] {
            roundtrip(v);
        }
    }

    #[test]
    fn matches_the_captured_request_bytes() {
        // From the probe: `Builder.ConfigSpec`, seq 0, nil body.
        let mut b = Vec::new();
        encode(
            &Value::map([
                ("ServiceMethod", Value::str("Builder.ConfigSpec")),
                ("Seq", Value::UInt(0)),
            ]),
            &mut b,
        );
        encode(&Value::Nil, &mut b);
        let mut want = vec![0x82, 0xad];
        want.extend_from_slice(b"ServiceMethod");
        want.push(0xb2);
        want.extend_from_slice(b"Builder.ConfigSpec");
        want.push(0xa3);
        want.extend_from_slice(b"Seq");
        want.extend_from_slice(&[0x00, 0xc0]);
        assert_eq!(b, want);
    }

    #[test]
    fn rejects_reserved_bytes_and_deep_nesting() {
        assert!(decode(&[0xc1]).is_err());
        assert!(decode(&[0x91; 200]).is_err());
    }

    #[test]
    fn times_in_both_generations() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::new(1_600_000_000, 5);
        assert_eq!(parse_time(&timestamp(t)), Some(t));
        // The probe's captured fixext8 `211f22c06b0356bf`.
        let v = Value::Ext(-1, hex_bytes("211f22c06b0356bf"));
        assert!(parse_time(&v).is_some());
    }

    fn hex_bytes(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }
}
