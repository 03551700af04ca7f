//! What the sections' raw keys share: `one_block` (an object-valued key,
//! as JSON writes it or as one HCL2 block), filter objects, Packer's
//! "one string or a list", and the template-syntax check of the tag maps
//! rendered at run time. Each section declares its own raw keys. Pure;
//! holds nothing.

use std::collections::BTreeMap;

use kiln_sdk::config::{ConfigError, ConfigErrors};
use kiln_sdk::interpolate;
use serde::Deserialize;

/// An object-valued key: a JSON object, or in HCL2 one block (which the
/// HCL2 decoder hands over as a one-element list of objects). The inner
/// values keep the weak typing.
pub(super) fn one_block<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct OneBlock<T>(std::marker::PhantomData<T>);
    impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for OneBlock<T> {
        type Value = Option<T>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an object (one block)")
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D2: serde::Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_any(self)
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            T::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(Some)
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Self::Value, A::Error> {
            let first = seq.next_element::<T>()?;
            if seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
                return Err(serde::de::Error::custom("only one block is allowed here"));
            }
            Ok(first)
        }
    }
    d.deserialize_any(OneBlock(std::marker::PhantomData))
}

/// `vpc_filter`, `security_group_filter`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawFilter {
    pub(super) filters: BTreeMap<String, String>,
}

/// Checks the template syntax of the tag map `key` (rendered at run
/// time, when the source AMI and region are known).
pub(super) fn check_tags(key: &str, tags: &BTreeMap<String, String>, errors: &mut ConfigErrors) {
    for (k, v) in tags {
        for s in [k, v] {
            if let Err(e) = interpolate::check_syntax(s) {
                errors.push(ConfigError::at(format!("{key}.{k}"), e.to_string()));
            }
        }
    }
}
