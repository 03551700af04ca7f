//! cty JSON: how Packer hands an HCL2 template's config to a Go plugin.
//! In HCL2 mode Packer sends each component config to `Prepare` /
//! `Configure` as msgpack `bin` holding go-cty's
//! `ctyjson.Marshal(v, cty.DynamicPseudoType)`, i.e.
//! `{"value": <value JSON>, "type": <type JSON>}` (plugin-protocol.md §4.1).
//! The plugin then checks the value against its flat config struct
//! (`gocty.FromCtyValue`) before decoding it as usual.
//!
//! kiln holds configs as JSON, so the type is inferred ([`CtyType::infer`])
//! the way Packer's HCL specs type the usual config fields:
//! - the config itself, and each element of an array of objects (an HCL
//!   block list), is an **object**;
//! - an array is a **list** of its elements' unified type (numbers and
//!   bools next to strings become strings, as cty's unification does; a
//!   null fits any type), or a **tuple** when they do not unify; `[]` is an
//!   empty list of strings;
//! - any other object (an attribute such as `tags = {…}`) is a **map** when
//!   its values are all primitives, else an object;
//! - `null` is a null of the dynamic pseudo-type.
//!
//! Without the plugin's own schema (its gob `ConfigSpec`), a struct-typed
//! attribute whose fields are all strings would be taken for a map; pass an
//! explicit [`CtyType`] to [`marshal`] for such cases. Stores nothing.

use std::collections::BTreeMap;

use serde_json::{Map, Value as J};

/// A cty type, as far as configs need them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CtyType {
    /// `cty.String`.
    String,
    /// `cty.Number`.
    Number,
    /// `cty.Bool`.
    Bool,
    /// `cty.DynamicPseudoType`: any type, carried with the value.
    Dynamic,
    /// `cty.List(T)`.
    List(Box<CtyType>),
    /// `cty.Set(T)`.
    Set(Box<CtyType>),
    /// `cty.Map(T)`.
    Map(Box<CtyType>),
    /// `cty.Object({…})`.
    Object(BTreeMap<String, CtyType>),
    /// `cty.Tuple([…])`.
    Tuple(Vec<CtyType>),
}

/// Why a value does not fit a type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("config value at `{path}` does not fit cty type `{ty}`: {reason}")]
pub struct CtyError {
    /// Where, as `a.b[2]` (empty for the whole value).
    pub path: String,
    /// The type's JSON.
    pub ty: String,
    /// What is wrong.
    pub reason: String,
}

impl CtyType {
    /// go-cty's type JSON: `"string"`, `["list","string"]`,
    /// `["object",{"a":"number"}]`, `["tuple",["bool"]]`, ….
    pub fn to_json(&self) -> J {
        match self {
            CtyType::String => J::from("string"),
            CtyType::Number => J::from("number"),
            CtyType::Bool => J::from("bool"),
            CtyType::Dynamic => J::from("dynamic"),
            CtyType::List(t) => J::Array(vec![J::from("list"), t.to_json()]),
            CtyType::Set(t) => J::Array(vec![J::from("set"), t.to_json()]),
            CtyType::Map(t) => J::Array(vec![J::from("map"), t.to_json()]),
            CtyType::Object(attrs) => J::Array(vec![
                J::from("object"),
                J::Object(
                    attrs
                        .iter()
                        .map(|(k, t)| (k.clone(), t.to_json()))
                        .collect(),
                ),
            ]),
            CtyType::Tuple(elems) => J::Array(vec![
                J::from("tuple"),
                J::Array(elems.iter().map(CtyType::to_json).collect()),
            ]),
        }
    }

    fn is_primitive(&self) -> bool {
        matches!(self, CtyType::String | CtyType::Number | CtyType::Bool)
    }

    /// The type kiln gives a whole component config (see the module docs):
    /// an object for a JSON object; otherwise as [`CtyType::infer_attr`].
    pub fn infer(v: &J) -> CtyType {
        match v {
            J::Object(m) => infer_object(m),
            other => CtyType::infer_attr(other),
        }
    }

    /// The type of an attribute's value (see the module docs).
    pub fn infer_attr(v: &J) -> CtyType {
        match v {
            J::Null => CtyType::Dynamic,
            J::Bool(_) => CtyType::Bool,
            J::Number(_) => CtyType::Number,
            J::String(_) => CtyType::String,
            J::Array(items) => {
                let types: Vec<CtyType> = items.iter().map(infer_element).collect();
                if types.is_empty() {
                    return CtyType::List(Box::new(CtyType::String));
                }
                match types
                    .iter()
                    .skip(1)
                    .try_fold(types[0].clone(), |a, b| unify(&a, b))
                {
                    // A list of nulls: strings, the usual element type.
                    Some(CtyType::Dynamic) => CtyType::List(Box::new(CtyType::String)),
                    Some(t) => CtyType::List(Box::new(t)),
                    None => CtyType::Tuple(types),
                }
            }
            J::Object(m) => {
                let types: Vec<CtyType> = m.values().map(CtyType::infer_attr).collect();
                let elem = types
                    .iter()
                    .try_fold(CtyType::Dynamic, |a, b| unify(&a, b))
                    .filter(|t| t.is_primitive() || *t == CtyType::Dynamic);
                match elem {
                    Some(CtyType::Dynamic) => CtyType::Map(Box::new(CtyType::String)),
                    Some(t) => CtyType::Map(Box::new(t)),
                    None => infer_object(m),
                }
            }
        }
    }
}

fn infer_object(m: &Map<String, J>) -> CtyType {
    CtyType::Object(
        m.iter()
            .map(|(k, v)| (k.clone(), CtyType::infer_attr(v)))
            .collect(),
    )
}

/// An array element: objects are blocks (objects), the rest as attributes.
fn infer_element(v: &J) -> CtyType {
    match v {
        J::Object(m) => infer_object(m),
        other => CtyType::infer_attr(other),
    }
}

/// The one type both `a` and `b` convert to, as cty's unification finds
/// it for config values; `None` when there is none.
fn unify(a: &CtyType, b: &CtyType) -> Option<CtyType> {
    use CtyType::*;
    Some(match (a, b) {
        (Dynamic, t) | (t, Dynamic) => t.clone(),
        (a, b) if a == b => a.clone(),
        (a, b) if a.is_primitive() && b.is_primitive() => String,
        (List(x), List(y)) => List(Box::new(unify(x, y)?)),
        (Set(x), Set(y)) => Set(Box::new(unify(x, y)?)),
        (Map(x), Map(y)) => Map(Box::new(unify(x, y)?)),
        (Object(x), Object(y)) => {
            let mut out = x.clone();
            for (k, t) in y {
                let u = match out.get(k) {
                    Some(e) => unify(e, t)?,
                    None => t.clone(),
                };
                out.insert(k.clone(), u);
            }
            Object(out)
        }
        _ => return None,
    })
}

/// `v` as go-cty's JSON for type `ty` (`ctyjson.Marshal(v, ty)`):
/// converts primitives the way cty does (a number or bool to a string),
/// fills an object's missing attributes with null, and wraps values of the
/// dynamic type as `{"value","type"}`.
pub fn value_json(v: &J, ty: &CtyType) -> Result<J, CtyError> {
    value_at(v, ty, &mut String::new())
}

fn value_at(v: &J, ty: &CtyType, path: &mut String) -> Result<J, CtyError> {
    let fail = |path: &str, reason: String| CtyError {
        path: path.to_string(),
        ty: ty.to_json().to_string(),
        reason,
    };
    if v.is_null() {
        return Ok(J::Null);
    }
    let with = |path: &mut String, seg: String, t: &CtyType, x: &J| {
        let len = path.len();
        path.push_str(&seg);
        let r = value_at(x, t, path);
        path.truncate(len);
        r
    };
    let key_seg = |path: &str, k: &str| {
        if path.is_empty() {
            k.to_string()
        } else {
            format!(".{k}")
        }
    };
    match (ty, v) {
        (CtyType::Dynamic, v) => {
            let t = CtyType::infer(v);
            Ok(dynamic_json(value_at(v, &t, path)?, &t))
        }
        (CtyType::String, J::String(_)) => Ok(v.clone()),
        (CtyType::String, J::Number(n)) => Ok(J::String(n.to_string())),
        (CtyType::String, J::Bool(b)) => Ok(J::String(b.to_string())),
        (CtyType::Number, J::Number(_)) => Ok(v.clone()),
        (CtyType::Number, J::String(s)) => {
            match serde_json::from_str::<serde_json::Number>(s.trim()) {
                Ok(n) => Ok(J::Number(n)),
                Err(_) => Err(fail(path, format!("`{s}` is not a number"))),
            }
        }
        (CtyType::Bool, J::Bool(_)) => Ok(v.clone()),
        (CtyType::Bool, J::String(s)) if s == "true" || s == "false" => Ok(J::Bool(s == "true")),
        (CtyType::List(t) | CtyType::Set(t), J::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, x)| with(path, format!("[{i}]"), t, x))
            .collect::<Result<Vec<_>, _>>()
            .map(J::Array),
        (CtyType::Tuple(ts), J::Array(items)) => {
            if ts.len() != items.len() {
                return Err(fail(
                    path,
                    format!("{} elements where the tuple has {}", items.len(), ts.len()),
                ));
            }
            ts.iter()
                .zip(items)
                .enumerate()
                .map(|(i, (t, x))| with(path, format!("[{i}]"), t, x))
                .collect::<Result<Vec<_>, _>>()
                .map(J::Array)
        }
        (CtyType::Map(t), J::Object(m)) => {
            let mut out = Map::new();
            for (k, x) in m {
                let seg = key_seg(path, k);
                out.insert(k.clone(), with(path, seg, t, x)?);
            }
            Ok(J::Object(out))
        }
        (CtyType::Object(attrs), J::Object(m)) => {
            if let Some(k) = m.keys().find(|k| !attrs.contains_key(*k)) {
                return Err(fail(path, format!("the type has no attribute `{k}`")));
            }
            let mut out = Map::new();
            for (k, t) in attrs {
                let x = m.get(k).unwrap_or(&J::Null);
                let seg = key_seg(path, k);
                out.insert(k.clone(), with(path, seg, t, x)?);
            }
            Ok(J::Object(out))
        }
        (_, v) => Err(fail(path, format!("found `{v}`"))),
    }
}

fn dynamic_json(value: J, ty: &CtyType) -> J {
    let mut m = Map::new();
    m.insert("value".into(), value);
    m.insert("type".into(), ty.to_json());
    J::Object(m)
}

/// `ctyjson.Marshal(v, cty.DynamicPseudoType)` for `v` typed as `ty`:
/// the bytes Packer puts in the msgpack `bin` it sends to `Prepare`.
pub fn marshal(v: &J, ty: &CtyType) -> Result<Vec<u8>, CtyError> {
    let value = value_json(v, ty)?;
    // go-cty writes "value" before "type"; built by hand so that the order
    // holds whatever serde_json's map order is.
    let mut out = b"{\"value\":".to_vec();
    out.extend_from_slice(value.to_string().as_bytes());
    out.extend_from_slice(b",\"type\":");
    out.extend_from_slice(ty.to_json().to_string().as_bytes());
    out.push(b'}');
    Ok(out)
}

/// [`marshal`] with the inferred type ([`CtyType::infer`]).
pub fn marshal_inferred(v: &J) -> Vec<u8> {
    marshal(v, &CtyType::infer(v)).expect("an inferred type always fits its value")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ty(v: J) -> J {
        CtyType::infer(&v).to_json()
    }

    #[test]
    fn primitives_and_null() {
        assert_eq!(ty(json!("x")), json!("string"));
        assert_eq!(ty(json!(1.5)), json!("number"));
        assert_eq!(ty(json!(true)), json!("bool"));
        assert_eq!(ty(json!(null)), json!("dynamic"));
    }

    #[test]
    fn the_config_is_an_object_of_its_attributes() {
        assert_eq!(
            ty(json!({"communicator": "none", "n": 3, "on": false, "gone": null})),
            json!(["object", {"communicator": "string", "n": "number", "on": "bool", "gone": "dynamic"}])
        );
        assert_eq!(ty(json!({})), json!(["object", {}]));
    }

    #[test]
    fn arrays_are_lists_of_the_unified_type_else_tuples() {
        assert_eq!(
            ty(json!({"inline": ["a", "b"]})),
            json!(["object", {"inline": ["list", "string"]}])
        );
        // cty unifies number and bool with string to string.
        assert_eq!(
            CtyType::infer_attr(&json!(["a", 1, true, null])).to_json(),
            json!(["list", "string"])
        );
        assert_eq!(
            CtyType::infer_attr(&json!([1, 2.5])).to_json(),
            json!(["list", "number"])
        );
        assert_eq!(
            CtyType::infer_attr(&json!([])).to_json(),
            json!(["list", "string"])
        );
        assert_eq!(
            CtyType::infer_attr(&json!([["-m", "512"], ["-smp", "2"]])).to_json(),
            json!(["list", ["list", "string"]])
        );
        assert_eq!(
            CtyType::infer_attr(&json!(["a", ["b"]])).to_json(),
            json!(["tuple", ["string", ["list", "string"]]])
        );
    }

    #[test]
    fn attribute_objects_are_maps_unless_nested() {
        assert_eq!(
            CtyType::infer_attr(&json!({"a": "x", "b": 2})).to_json(),
            json!(["map", "string"])
        );
        assert_eq!(
            CtyType::infer_attr(&json!({"a": 1, "b": 2})).to_json(),
            json!(["map", "number"])
        );
        assert_eq!(
            CtyType::infer_attr(&json!({})).to_json(),
            json!(["map", "string"])
        );
        assert_eq!(
            CtyType::infer_attr(
                &json!({"filters": {"name": "x"}, "owners": ["me"], "most_recent": true})
            )
            .to_json(),
            json!(["object", {"filters": ["map", "string"], "owners": ["list", "string"], "most_recent": "bool"}])
        );
    }

    #[test]
    fn block_lists_are_lists_of_objects_with_every_attribute() {
        let v = json!({"disk": [{"size": 10, "name": "a"}, {"size": 20, "tags": {"k": "v"}}]});
        let t = CtyType::infer(&v);
        assert_eq!(
            t.to_json(),
            json!(["object", {"disk": ["list", ["object", {
                "name": "string", "size": "number", "tags": ["map", "string"]}]]}])
        );
        // Missing attributes become null.
        assert_eq!(
            value_json(&v, &t).unwrap(),
            json!({"disk": [{"name": "a", "size": 10, "tags": null},
                            {"name": null, "size": 20, "tags": {"k": "v"}}]})
        );
    }

    #[test]
    fn values_convert_to_the_type_as_cty_does() {
        let v = json!({"l": ["a", 1, true], "m": {"x": 1, "y": "z"}});
        let t = CtyType::infer(&v);
        assert_eq!(
            value_json(&v, &t).unwrap(),
            json!({"l": ["a", "1", "true"], "m": {"x": "1", "y": "z"}})
        );
        let e = value_json(
            &json!({"a": {"b": ["x"]}}),
            &CtyType::Object(BTreeMap::from([(
                "a".to_string(),
                CtyType::Object(BTreeMap::from([(
                    "b".to_string(),
                    CtyType::List(Box::new(CtyType::Number)),
                )])),
            )])),
        )
        .unwrap_err();
        assert_eq!(e.path, "a.b[0]");
        assert!(e.to_string().contains("`x` is not a number"), "{e}");
    }

    #[test]
    fn dynamic_values_carry_their_type() {
        assert_eq!(
            value_json(&json!([1, "a"]), &CtyType::List(Box::new(CtyType::Dynamic))).unwrap(),
            json!([{"value": 1, "type": "number"}, {"value": "a", "type": "string"}])
        );
    }

    #[test]
    fn marshals_like_ctyjson_with_the_dynamic_pseudo_type() {
        assert_eq!(
            String::from_utf8(marshal_inferred(&json!({"communicator": "none"}))).unwrap(),
            r#"{"value":{"communicator":"none"},"type":["object",{"communicator":"string"}]}"#
        );
    }
}
