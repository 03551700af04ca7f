//! Alibaba Cloud's RPC request signing, signature version 1.0: the
//! percent-encoding of its POP API (kiln-cloud's: RFC 3986's unreserved
//! characters kept, everything else `%XX` in upper case, a space as
//! `%20`), the canonical
//! query (parameters sorted by name), the string to sign
//! (`GET&%2F&` + the encoded canonical query) and its HMAC-SHA1 with the
//! AccessKey secret and `&`, in base64. [`Params`] holds an action's
//! parameters, with the repeated-list (`InstanceId.1`) and tag
//! (`Tag.1.Key`) encodings. Pure; holds nothing.

use std::collections::BTreeMap;

use kiln_cloud::sign::hmac_sha1_base64;
/// Percent-encodes `s` as Alibaba's SDKs do (kiln-cloud's encoding).
pub use kiln_cloud::sign::percent_encode;

/// The canonical query of `params`: `name=value` pairs, both encoded,
/// sorted by name, joined with `&`.
pub fn canonical_query(params: &BTreeMap<String, String>) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The string to sign of a `method` request with `canonical` query.
pub fn string_to_sign(method: &str, canonical: &str) -> String {
    format!(
        "{method}&{}&{}",
        percent_encode("/"),
        percent_encode(canonical)
    )
}

/// The signature of `string_to_sign` with the AccessKey `secret`: base64
/// of HMAC-SHA1 keyed with `secret` and `&`.
pub fn signature(secret: &str, string_to_sign: &str) -> String {
    hmac_sha1_base64(format!("{secret}&").as_bytes(), string_to_sign.as_bytes())
}

/// The parameters of one API action, besides the common ones the client
/// adds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(pub(super) BTreeMap<String, String>);

impl Params {
    /// No parameters.
    pub fn new() -> Params {
        Params::default()
    }

    /// `name=value`.
    pub fn set(mut self, name: &str, value: impl Into<String>) -> Params {
        self.0.insert(name.to_string(), value.into());
        self
    }

    /// `name=value` when `value` is given.
    pub fn opt(self, name: &str, value: Option<impl Into<String>>) -> Params {
        match value {
            Some(v) => self.set(name, v),
            None => self,
        }
    }

    /// A repeated list: `name.1=a`, `name.2=b`, … (ECS's `RepeatList`).
    pub fn list<S: AsRef<str>>(mut self, name: &str, values: &[S]) -> Params {
        for (i, v) in values.iter().enumerate() {
            self.0
                .insert(format!("{name}.{}", i + 1), v.as_ref().to_string());
        }
        self
    }

    /// A list of objects: `name.1.field=value` for each object's fields.
    pub fn objects(mut self, name: &str, objects: &[Vec<(&str, String)>]) -> Params {
        for (i, fields) in objects.iter().enumerate() {
            for (field, value) in fields {
                self.0
                    .insert(format!("{name}.{}.{field}", i + 1), value.clone());
            }
        }
        self
    }

    /// Tags: `name.1.Key=k`, `name.1.Value=v`, … in key order.
    pub fn tags(self, name: &str, tags: &BTreeMap<String, String>) -> Params {
        let objects: Vec<Vec<(&str, String)>> = tags
            .iter()
            .map(|(k, v)| vec![("Key", k.clone()), ("Value", v.clone())])
            .collect();
        self.objects(name, &objects)
    }

    /// The value of `name`, if set.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}
