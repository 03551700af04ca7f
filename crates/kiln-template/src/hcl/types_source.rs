//! `source "TYPE" "NAME" { … }`: a builder configuration that `build`
//! blocks refer to as `source.TYPE.NAME`. Also how any component body
//! (source, provisioner, post-processor) becomes the [`RawConfig`] the
//! component decodes: attributes are evaluated, nested blocks become lists
//! of objects under the block's type, and every key keeps its location.

use std::collections::BTreeMap;
use std::sync::Arc;

use kiln_sdk::config::{ConfigErrors, Location, RawConfig};
use serde_json::Map;

use super::eval::{self, located, Scope};
use super::parser::{BlockAst, BodyAst};

/// A `source` block.
#[derive(Clone, Debug)]
pub struct SourceBlock {
    /// The builder type.
    pub source_type: String,
    /// The source's name.
    pub name: String,
    /// Where it is declared.
    pub location: Location,
    /// Its configuration, unevaluated.
    pub body: BodyAst,
}

impl SourceBlock {
    /// `TYPE.NAME`.
    pub fn reference(&self) -> String {
        format!("{}.{}", self.source_type, self.name)
    }
}

/// Decodes a `source` block.
pub fn decode_source(block: &BlockAst, errors: &mut ConfigErrors) -> Option<SourceBlock> {
    let [ty, name] = block.labels.as_slice() else {
        errors.push(
            located(
                &block.location,
                format!(
                    "a `source` block takes two labels, the builder type and a name; found {}",
                    block.labels.len()
                ),
            )
            .with_hint("write `source \"null\" \"example\" { … }`"),
        );
        return None;
    };
    Some(SourceBlock {
        source_type: ty.clone(),
        name: name.clone(),
        location: block.location.clone(),
        body: block.body.clone(),
    })
}

/// Evaluates a component body into a [`RawConfig`], skipping the `skip`
/// keys (meta-arguments handled by kiln itself).
pub fn body_to_raw(
    body: &BodyAst,
    scope: &Scope,
    location: &Location,
    skip: &[&str],
    errors: &mut ConfigErrors,
) -> RawConfig {
    let mut spans = BTreeMap::new();
    let values = body_values(body, scope, "", skip, &mut spans, errors);
    RawConfig {
        values,
        location: Some(location.clone()),
        spans: Arc::new(spans),
    }
}

fn body_values(
    body: &BodyAst,
    scope: &Scope,
    prefix: &str,
    skip: &[&str],
    spans: &mut BTreeMap<String, Location>,
    errors: &mut ConfigErrors,
) -> Map<String, serde_json::Value> {
    let mut values = Map::new();
    for a in &body.attrs {
        if skip.contains(&a.name.as_str()) {
            continue;
        }
        let path = format!("{prefix}{}", a.name);
        spans.insert(path.clone(), a.key_location.clone());
        match scope.eval(&a.value) {
            Ok(v) => {
                values.insert(a.name.clone(), eval::to_json(&v));
            }
            Err(e) => errors.push(e),
        }
    }
    for b in &body.blocks {
        if skip.contains(&b.ident.as_str()) {
            continue;
        }
        let list = values
            .entry(b.ident.clone())
            .or_insert_with(|| serde_json::Value::Array(Vec::new()));
        let serde_json::Value::Array(items) = list else {
            errors.push(located(
                &b.location,
                format!("`{}` is set both as an argument and as a block", b.ident),
            ));
            continue;
        };
        let i = items.len();
        let path = format!("{prefix}{}[{i}]", b.ident);
        spans
            .entry(format!("{prefix}{}", b.ident))
            .or_insert_with(|| b.location.clone());
        spans.insert(path.clone(), b.location.clone());
        let mut inner = body_values(&b.body, scope, &format!("{path}."), &[], spans, errors);
        if !b.labels.is_empty() {
            // Labelled nested blocks keep their labels as `name`-like keys.
            inner.insert(
                "labels".into(),
                serde_json::Value::Array(
                    b.labels
                        .iter()
                        .cloned()
                        .map(serde_json::Value::String)
                        .collect(),
                ),
            );
        }
        if let Some(serde_json::Value::Array(items)) = values.get_mut(&b.ident) {
            items.push(serde_json::Value::Object(inner));
        }
    }
    values
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hcl::parser::{parse_file, SourceFile};

    #[test]
    fn nested_blocks_become_lists_with_spans() {
        let src = "source \"file\" \"f\" {\n  content = \"${source.name}-${source.type}\"\n  disk {\n    size = 5\n  }\n}\n";
        let f = SourceFile::new("t.pkr.hcl".into(), src);
        let ast = parse_file(&f, src).unwrap();
        let mut errors = ConfigErrors::new();
        let s = decode_source(&ast.blocks[0], &mut errors).unwrap();
        let scope = Scope {
            source: Some(("f".into(), "file".into())),
            what: "a source",
            ..Scope::default()
        };
        let raw = body_to_raw(&s.body, &scope, &s.location, &[], &mut errors);
        assert!(errors.is_empty(), "{errors}");
        assert_eq!(raw.values["content"], "f-file");
        assert_eq!(raw.values["disk"], serde_json::json!([{"size": 5}]));
        assert_eq!(raw.locate("disk[0].size").unwrap().line, 4);
        assert_eq!(raw.locate("content").unwrap().column, 3);
    }

    #[test]
    fn sources_need_two_labels() {
        let src = "source \"null\" {\n}\n";
        let f = SourceFile::new("t.pkr.hcl".into(), src);
        let ast = parse_file(&f, src).unwrap();
        let mut errors = ConfigErrors::new();
        assert!(decode_source(&ast.blocks[0], &mut errors).is_none());
        assert!(errors.to_string().contains("takes two labels"), "{errors}");
    }
}
