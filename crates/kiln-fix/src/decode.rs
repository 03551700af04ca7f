//! How Packer's fixers read a template, reproduced on `serde_json` values.
//!
//! Packer 1.6.6 decodes the parts of a template a fixer cares about with
//! `mapstructure` into small structs (`Builders []map[string]interface{}`,
//! `Provisioners []interface{}`, `PostProcessors []interface{}`), edits those
//! copies and writes them back under the lowercase key. The details of that
//! round trip are visible in `packer fix`'s output, so they are kept here:
//!
//! * a struct field is looked up by its Go name (`Builders`) first and then
//!   case-insensitively, but always written back as `builders`;
//! * decoding copies each builder map (one level deep) and the list itself;
//! * a strict decode rejects a non-list or a non-map element, while a weak
//!   decode (`WeakDecode`) lifts a scalar into a one-element list, turns an
//!   empty map into an empty list and merges a list of maps into one map;
//! * `null` decodes to Go's nil, which a fixer may write back as `null`.

use serde_json::{Map, Value};

use crate::error::{kind, FixError};

/// A JSON object, as the fixers see a builder or a provisioner.
pub(crate) type Object = Map<String, Value>;

/// A decoded `[]map[string]interface{}`: `None` is Go's nil slice, and a
/// `None` element is a nil map (a `null` in the template).
pub(crate) type ObjectList = Option<Vec<Option<Object>>>;

/// The template's root object.
pub(crate) fn root(template: Value) -> Result<Object, FixError> {
    match template {
        Value::Object(map) => Ok(map),
        other => Err(FixError::NotAnObject { got: kind(&other) }),
    }
}

/// Go's `strings.EqualFold` for an ASCII `target`: ASCII letters match either
/// case, and the two non-ASCII letters whose simple case folding reaches an
/// ASCII letter (U+017F `ſ` for `s`, U+212A Kelvin sign for `k`) match too.
pub(crate) fn equal_fold(key: &str, target: &str) -> bool {
    let mut key = key.chars();
    let mut target = target.chars();
    loop {
        match (key.next(), target.next()) {
            (None, None) => return true,
            (Some(a), Some(b)) => {
                let same = a == b
                    || (a.is_ascii() && a.eq_ignore_ascii_case(&b))
                    || (a == '\u{17F}' && b.eq_ignore_ascii_case(&'s'))
                    || (a == '\u{212A}' && b.eq_ignore_ascii_case(&'k'));
                if !same {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

/// The key `mapstructure` reads a struct field named `go_name` from: the
/// exact Go name if present, otherwise the first key equal to it under case
/// folding. (Go picks among several such keys at random; kiln takes the
/// first in template order.)
pub(crate) fn field_key(root: &Object, go_name: &str) -> Option<String> {
    if root.contains_key(go_name) {
        return Some(go_name.to_owned());
    }
    root.keys().find(|k| equal_fold(k, go_name)).cloned()
}

/// Strictly decodes `v` (found at `path`) into `[]map[string]interface{}`.
pub(crate) fn strict_object_list(
    fixer: &'static str,
    v: &Value,
    path: &str,
) -> Result<ObjectList, FixError> {
    match v {
        Value::Null => Ok(None),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::Null => Ok(None),
                Value::Object(map) => Ok(Some(map.clone())),
                other => Err(FixError::WrongType {
                    fixer,
                    path: format!("{path}[{i}]"),
                    expected: "an object",
                    got: kind(other),
                }),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        other => Err(FixError::WrongType {
            fixer,
            path: path.to_owned(),
            expected: "an array",
            got: kind(other),
        }),
    }
}

/// Strictly decodes the template's builders (`Builders []map[string]interface{}`).
/// Returns the key they were read from along with the copies.
pub(crate) fn decode_builders(
    fixer: &'static str,
    root: &Object,
) -> Result<(Option<String>, ObjectList), FixError> {
    match field_key(root, "Builders") {
        None => Ok((None, None)),
        Some(key) => {
            let list = strict_object_list(fixer, &root[&key], &key)?;
            Ok((Some(key), list))
        }
    }
}

/// Encodes a decoded object list back to JSON (`nil` encodes as `null`).
pub(crate) fn encode_objects(list: ObjectList) -> Value {
    match list {
        None => Value::Null,
        Some(items) => Value::Array(
            items
                .into_iter()
                .map(|item| item.map_or(Value::Null, Value::Object))
                .collect(),
        ),
    }
}

/// The common shape of a builder fixer: decode the builders strictly, run
/// `f` on every non-null builder with its path (e.g. `builders[2]`), and
/// write the list back under `builders` (as `null` when there was none).
pub(crate) fn fix_builders(
    fixer: &'static str,
    template: Value,
    mut f: impl FnMut(&mut Object, &str) -> Result<(), FixError>,
) -> Result<Value, FixError> {
    let mut root = root(template)?;
    let (key, mut list) = decode_builders(fixer, &root)?;
    if let (Some(key), Some(items)) = (&key, &mut list) {
        for (i, builder) in items.iter_mut().enumerate() {
            if let Some(builder) = builder {
                f(builder, &format!("{key}[{i}]"))?;
            }
        }
    }
    root.insert("builders".to_owned(), encode_objects(list));
    Ok(Value::Object(root))
}

/// A builder's `type`, when it is a string.
pub(crate) fn type_of(object: &Object) -> Option<&str> {
    object.get("type").and_then(Value::as_str)
}

/// Go's `delete(m, from); m[to] = v`: moves the value of `from` to `to`,
/// replacing any value `to` had. A new `to` takes `from`'s place in the key
/// order. Returns whether `from` was present.
pub(crate) fn rename(object: &mut Object, from: &str, to: &str) -> bool {
    let Some(index) = object.keys().position(|k| k == from) else {
        return false;
    };
    let Some(value) = object.shift_remove(from) else {
        return false;
    };
    if object.contains_key(to) {
        object.insert(to.to_owned(), value);
    } else {
        object.shift_insert(index, to.to_owned(), value);
    }
    true
}

/// Go's `delete(m, from); m[to] = value`, with a new value.
pub(crate) fn replace(object: &mut Object, from: &str, to: &str, value: Value) {
    rename(object, from, to);
    object.insert(to.to_owned(), value);
}

/// `WeakDecode` into `[]interface{}`: `None` for nil (absent or `null`), the
/// elements of a list, nothing for an empty map, and any other value lifted
/// into a one-element list.
pub(crate) fn weak_list(v: Option<&Value>) -> Option<Vec<Value>> {
    match v {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => Some(items.clone()),
        Some(Value::Object(map)) if map.is_empty() => Some(Vec::new()),
        Some(other) => Some(vec![other.clone()]),
    }
}

/// Where a decode failed and what was found there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DecodeFailure {
    pub path: String,
    pub got: &'static str,
}

/// `WeakDecode` into `map[string]interface{}`: a map is copied, `null` is a
/// nil map, and a list is merged element by element into one map (an empty
/// list gives an empty map). Anything else fails.
pub(crate) fn weak_object(v: &Value, path: &str) -> Result<Option<Object>, DecodeFailure> {
    let mut acc = None;
    weak_object_into(&mut acc, v, path)?;
    Ok(acc)
}

fn weak_object_into(acc: &mut Option<Object>, v: &Value, path: &str) -> Result<(), DecodeFailure> {
    match v {
        Value::Null => Ok(()),
        Value::Object(map) => {
            match acc {
                None => *acc = Some(map.clone()),
                Some(existing) => {
                    for (k, v) in map {
                        existing.insert(k.clone(), v.clone());
                    }
                }
            }
            Ok(())
        }
        Value::Array(items) if items.is_empty() => {
            acc.get_or_insert_with(Object::new);
            Ok(())
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                weak_object_into(acc, item, &format!("{path}[{i}]"))?;
            }
            Ok(())
        }
        other => Err(DecodeFailure {
            path: path.to_owned(),
            got: kind(other),
        }),
    }
}

/// Strict `Decode` into `map[string]interface{}`: `Err(())` for anything
/// but a map or `null`.
pub(crate) fn strict_object(v: &Value) -> Result<Option<Object>, ()> {
    match v {
        Value::Null => Ok(None),
        Value::Object(map) => Ok(Some(map.clone())),
        _ => Err(()),
    }
}

/// The post-processor definitions a fixer edits, as Packer's `ppList` finds
/// them: each object in `post-processors`, and each object inside a nested
/// list (a sequence). Strings and other values are skipped. `f` gets each
/// definition and its path.
///
/// Like Packer, this does nothing when `post-processors` is absent or `null`,
/// and fails when it is not a list. Returns whether `post-processors` was
/// there, since some fixers only touch the builders when it is.
pub(crate) fn for_each_post_processor(
    fixer: &'static str,
    root: &mut Object,
    mut f: impl FnMut(&mut Object, &str) -> Result<(), FixError>,
) -> Result<bool, FixError> {
    let items = match root.get_mut("post-processors") {
        None | Some(Value::Null) => return Ok(false),
        Some(Value::Array(items)) => items,
        Some(other) => {
            return Err(FixError::WrongType {
                fixer,
                path: "post-processors".to_owned(),
                expected: "an array",
                got: kind(other),
            })
        }
    };
    for (i, item) in items.iter_mut().enumerate() {
        match item {
            Value::Object(pp) => f(pp, &format!("post-processors[{i}]"))?,
            Value::Array(inner) => {
                for (j, inner) in inner.iter_mut().enumerate() {
                    if let Value::Object(pp) = inner {
                        f(pp, &format!("post-processors[{i}][{j}]"))?;
                    }
                }
            }
            _ => {}
        }
    }
    Ok(true)
}

/// Runs a post-processor fixer: nothing happens unless `post-processors` is
/// present and not `null`.
pub(crate) fn fix_post_processors(
    fixer: &'static str,
    template: Value,
    f: impl FnMut(&mut Object, &str) -> Result<(), FixError>,
) -> Result<Value, FixError> {
    let mut root = root(template)?;
    for_each_post_processor(fixer, &mut root, f)?;
    Ok(Value::Object(root))
}

/// Go's `strconv.ParseBool`.
pub(crate) fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Object {
        match v {
            Value::Object(m) => m,
            _ => unreachable!("test helper takes objects"),
        }
    }

    #[test]
    fn equal_fold_matches_go() {
        assert!(equal_fold("builders", "Builders"));
        assert!(equal_fold("BUILDERS", "Builders"));
        assert!(equal_fold("builder\u{17F}", "Builders"));
        assert!(equal_fold("\u{212A}", "k"));
        assert!(!equal_fold("builder", "Builders"));
        assert!(!equal_fold("buildersx", "Builders"));
        assert!(!equal_fold("bÜilders", "Builders"));
    }

    #[test]
    fn field_key_prefers_the_go_name() {
        let root = obj(json!({"builders": 1, "Builders": 2}));
        assert_eq!(field_key(&root, "Builders").as_deref(), Some("Builders"));
        let root = obj(json!({"BUILDERS": 1, "builders": 2}));
        assert_eq!(field_key(&root, "Builders").as_deref(), Some("BUILDERS"));
        assert_eq!(field_key(&obj(json!({})), "Builders"), None);
    }

    #[test]
    fn weak_decoding_lifts_and_merges() {
        assert_eq!(weak_list(Some(&json!("a"))), Some(vec![json!("a")]));
        assert_eq!(weak_list(Some(&json!({}))), Some(vec![]));
        assert_eq!(weak_list(Some(&json!(null))), None);
        assert_eq!(
            weak_object(&json!([{"a": 1}, null, [{"b": 2}], {"a": 3}]), "p"),
            Ok(Some(obj(json!({"a": 3, "b": 2}))))
        );
        assert_eq!(weak_object(&json!([]), "p"), Ok(Some(Object::new())));
        assert_eq!(weak_object(&json!(null), "p"), Ok(None));
        assert_eq!(
            weak_object(&json!([{}, "x"]), "p"),
            Err(DecodeFailure {
                path: "p[1]".into(),
                got: "a string"
            })
        );
    }

    #[test]
    fn rename_keeps_position() {
        let mut o = obj(json!({"a": 1, "old": 2, "z": 3}));
        assert!(rename(&mut o, "old", "new"));
        assert_eq!(o.keys().collect::<Vec<_>>(), ["a", "new", "z"]);
        let mut o = obj(json!({"new": 0, "old": 2}));
        assert!(rename(&mut o, "old", "new"));
        assert_eq!(Value::Object(o), json!({"new": 2}));
        let mut o = obj(json!({"a": 1}));
        assert!(!rename(&mut o, "old", "new"));
    }

    #[test]
    fn parse_go_bool_accepts_go_spellings() {
        for t in ["1", "t", "T", "TRUE", "true", "True"] {
            assert_eq!(parse_go_bool(t), Some(true));
        }
        for f in ["0", "f", "F", "FALSE", "false", "False"] {
            assert_eq!(parse_go_bool(f), Some(false));
        }
        assert_eq!(parse_go_bool("yes"), None);
        assert_eq!(parse_go_bool("tRUE"), None);
    }
}
