//! A weakly typed serde deserializer over `serde_json::Value`, matching
//! Packer's `mapstructure` decoding with `WeaklyTypedInput`: `"5"` decodes as
//! a number, `"true"` as a bool, a number as a string, and a single value as
//! a one-element list. Template interpolation produces strings, so
//! `"cpus": "{{user `cpus`}}"` must decode into an integer field.

use serde::de::{self, value::Error, DeserializeSeed, IntoDeserializer, Visitor};
use serde_json::Value;

/// Deserializes from a borrowed JSON value with weak typing.
pub struct WeakDeserializer<'a>(pub &'a Value);

fn kind(v: &Value) -> de::Unexpected<'_> {
    match v {
        Value::Null => de::Unexpected::Unit,
        Value::Bool(b) => de::Unexpected::Bool(*b),
        Value::Number(n) => match n.as_f64() {
            Some(f) => de::Unexpected::Float(f),
            None => de::Unexpected::Other("number"),
        },
        Value::String(s) => de::Unexpected::Str(s),
        Value::Array(_) => de::Unexpected::Seq,
        Value::Object(_) => de::Unexpected::Map,
    }
}

/// Go's `strconv.ParseBool`.
fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Go's `strconv.ParseInt(s, 0, 64)`: decimal, `0x`, `0o`/`0` and `0b` prefixes.
fn parse_go_int(s: &str) -> Option<i128> {
    let s = s.trim();
    let (neg, body) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let body = body.replace('_', "");
    // One sign only, in front: `from_str_radix` would take another (`--5`,
    // `0x-5`), and negating `i128::MIN` overflows. Overflow is its error;
    // there is no length limit (`0b` and 64 binary digits is an `i64`).
    if body.is_empty() || !body.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    let value = if let Some(h) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        i128::from_str_radix(h, 16).ok()?
    } else if let Some(b) = body.strip_prefix("0b").or_else(|| body.strip_prefix("0B")) {
        i128::from_str_radix(b, 2).ok()?
    } else if let Some(o) = body.strip_prefix("0o").or_else(|| body.strip_prefix("0O")) {
        i128::from_str_radix(o, 8).ok()?
    } else if body.len() > 1 && body.starts_with('0') {
        i128::from_str_radix(&body[1..], 8).ok()?
    } else {
        body.parse().ok()?
    };
    Some(if neg { -value } else { value })
}

impl WeakDeserializer<'_> {
    fn integer<'de, V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let exp = "an integer";
        match self.0 {
            Value::Number(n) => {
                if let Some(u) = n.as_u64() {
                    visitor.visit_u64(u)
                } else if let Some(i) = n.as_i64() {
                    visitor.visit_i64(i)
                } else {
                    Err(de::Error::invalid_type(kind(self.0), &exp))
                }
            }
            Value::String(s) => match parse_go_int(s) {
                Some(i) if i >= 0 && i <= u64::MAX as i128 => visitor.visit_u64(i as u64),
                Some(i) if i >= i64::MIN as i128 && i < 0 => visitor.visit_i64(i as i64),
                _ => Err(de::Error::invalid_value(kind(self.0), &exp)),
            },
            Value::Bool(b) => visitor.visit_u64(u64::from(*b)),
            _ => Err(de::Error::invalid_type(kind(self.0), &exp)),
        }
    }
}

macro_rules! weak_int {
    ($($name:ident),*) => {$(
        fn $name<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            self.integer(visitor)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for WeakDeserializer<'_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Number(n) => {
                if let Some(u) = n.as_u64() {
                    visitor.visit_u64(u)
                } else if let Some(i) = n.as_i64() {
                    visitor.visit_i64(i)
                } else {
                    visitor.visit_f64(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            Value::String(s) => visitor.visit_str(s),
            Value::Array(items) => visitor.visit_seq(WeakSeq(items.iter())),
            Value::Object(map) => visitor.visit_map(WeakMap {
                iter: map.iter(),
                value: None,
            }),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let exp = "a boolean (true or false)";
        match self.0 {
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::String(s) if s.is_empty() => visitor.visit_bool(false),
            Value::String(s) => match parse_go_bool(s) {
                Some(b) => visitor.visit_bool(b),
                None => Err(de::Error::invalid_value(kind(self.0), &exp)),
            },
            Value::Number(n) => visitor.visit_bool(n.as_f64().is_some_and(|f| f != 0.0)),
            other => Err(de::Error::invalid_type(kind(other), &exp)),
        }
    }

    weak_int!(
        deserialize_i8,
        deserialize_i16,
        deserialize_i32,
        deserialize_i64,
        deserialize_i128,
        deserialize_u8,
        deserialize_u16,
        deserialize_u32,
        deserialize_u64,
        deserialize_u128
    );

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Number(n) => visitor.visit_f64(n.as_f64().unwrap_or(f64::NAN)),
            Value::String(s) => match s.trim().parse::<f64>() {
                Ok(f) => visitor.visit_f64(f),
                Err(_) => Err(de::Error::invalid_value(kind(self.0), &"a number")),
            },
            other => Err(de::Error::invalid_type(kind(other), &"a number")),
        }
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_string(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_string(visitor)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::String(s) => visitor.visit_str(s),
            Value::Number(n) => visitor.visit_string(n.to_string()),
            Value::Bool(b) => visitor.visit_str(if *b { "1" } else { "0" }),
            other => Err(de::Error::invalid_type(kind(other), &"a string")),
        }
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_string(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_string(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Array(items) => visitor.visit_seq(WeakSeq(items.iter())),
            Value::Null => visitor.visit_seq(WeakSeq([].iter())),
            Value::Object(_) => Err(de::Error::invalid_type(kind(self.0), &"a list")),
            single => visitor.visit_seq(WeakSeq(std::slice::from_ref(single).iter())),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        static EMPTY: std::sync::OnceLock<serde_json::Map<String, Value>> =
            std::sync::OnceLock::new();
        match self.0 {
            Value::Object(map) => visitor.visit_map(WeakMap {
                iter: map.iter(),
                value: None,
            }),
            Value::Null => visitor.visit_map(WeakMap {
                iter: EMPTY.get_or_init(serde_json::Map::new).iter(),
                value: None,
            }),
            other => Err(de::Error::invalid_type(kind(other), &"an object")),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_map(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.0 {
            Value::String(s) => visitor.visit_enum(s.as_str().into_deserializer()),
            other => Err(de::Error::invalid_type(kind(other), &"a string")),
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_string(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }
}

struct WeakSeq<'a>(std::slice::Iter<'a, Value>);

impl<'de> de::SeqAccess<'de> for WeakSeq<'_> {
    type Error = Error;
    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        match self.0.next() {
            Some(v) => seed.deserialize(WeakDeserializer(v)).map(Some),
            None => Ok(None),
        }
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

struct WeakMap<'a> {
    iter: serde_json::map::Iter<'a>,
    value: Option<&'a Value>,
}

impl<'de> de::MapAccess<'de> for WeakMap<'_> {
    type Error = Error;
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        match self.iter.next() {
            Some((k, v)) => {
                self.value = Some(v);
                seed.deserialize(k.as_str().into_deserializer()).map(Some)
            }
            None => Ok(None),
        }
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        match self.value.take() {
            Some(v) => seed.deserialize(WeakDeserializer(v)),
            None => Err(de::Error::custom("value requested before key")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Deserialize, Debug, PartialEq)]
    struct T {
        n: u32,
        b: bool,
        s: String,
        l: Vec<String>,
        o: Option<i64>,
    }

    #[test]
    fn weak_types_like_mapstructure() {
        let v = json!({"n": "12", "b": "true", "s": 5, "l": "single", "o": "-0x10"});
        let t = T::deserialize(WeakDeserializer(&v)).unwrap();
        assert_eq!(
            t,
            T {
                n: 12,
                b: true,
                s: "5".into(),
                l: vec!["single".into()],
                o: Some(-16)
            }
        );
    }

    #[test]
    fn integers_take_one_leading_sign_only() {
        for bad in [
            "--170141183460469231731687303715884105728",
            "-0x-80000000000000000000000000000000",
            "--5",
            "+-5",
            "0x+5",
            "0b-1",
            "- 5",
        ] {
            assert_eq!(parse_go_int(bad), None, "{bad}");
            assert!(
                i64::deserialize(WeakDeserializer(&json!(bad))).is_err(),
                "{bad}"
            );
        }
        assert_eq!(parse_go_int("-0x10"), Some(-16));
        assert_eq!(parse_go_int(&"9".repeat(60)), None);
        assert_eq!(parse_go_int("+1_000"), Some(1000));
        assert_eq!(parse_go_int(" 017 "), Some(15));
    }

    #[test]
    fn long_binary_and_octal_literals_are_integers() {
        let min = format!("-0b1{}", "0".repeat(63));
        assert_eq!(
            i64::deserialize(WeakDeserializer(&json!(min))).unwrap(),
            i64::MIN
        );
        let max = format!("0b{}", "1".repeat(64));
        assert_eq!(
            u64::deserialize(WeakDeserializer(&json!(max))).unwrap(),
            u64::MAX
        );
        let padded = format!("{}17", "0".repeat(50));
        assert_eq!(
            u8::deserialize(WeakDeserializer(&json!(padded))).unwrap(),
            15
        );
        assert!(
            u64::deserialize(WeakDeserializer(&json!(format!("0b1{}", "0".repeat(64))))).is_err()
        );
    }

    #[test]
    fn bad_values_are_errors() {
        let v = json!({"n": "twelve", "b": "yes", "s": "", "l": [], "o": null});
        assert!(T::deserialize(WeakDeserializer(&v)).is_err());
    }
}
