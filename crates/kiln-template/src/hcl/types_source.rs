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
    let value_spans = body
        .attrs
        .iter()
        .filter(|a| !skip.contains(&a.name.as_str()))
        .map(|a| (a.name.clone(), a.value.location.clone()))
        .collect();
    RawConfig {
        values,
        location: Some(location.clone()),
        spans: Arc::new(spans),
        value_spans: Arc::new(value_spans),
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
        if b.ident == "dynamic" {
            expand_dynamic(b, scope, prefix, &mut values, spans, errors);
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

/// `dynamic "X" { for_each = …, iterator = it, labels = […], content { … } }`:
/// one `X` block per element of `for_each`, each evaluated with `it.key`
/// and `it.value` (the iterator is named `X` unless `iterator` says
/// otherwise), appended to the list under `X`.
fn expand_dynamic(
    b: &BlockAst,
    scope: &Scope,
    prefix: &str,
    values: &mut Map<String, serde_json::Value>,
    spans: &mut BTreeMap<String, Location>,
    errors: &mut ConfigErrors,
) {
    let [ident] = b.labels.as_slice() else {
        errors.push(
            located(
                &b.location,
                "a `dynamic` block takes one label, the type of the blocks it makes",
            )
            .with_hint("write `dynamic \"disk\" { for_each = …; content { … } }`"),
        );
        return;
    };
    b.body.check_schema(
        &format!("`dynamic \"{ident}\"`"),
        &["for_each", "iterator", "labels"],
        &["content"],
        errors,
    );
    let Some(for_each) = b.body.attr("for_each") else {
        errors.push(located(
            &b.location,
            format!("`dynamic \"{ident}\"` needs `for_each`"),
        ));
        return;
    };
    let contents: Vec<&BlockAst> = b.body.blocks_of("content").collect();
    let [content] = contents.as_slice() else {
        errors.push(located(
            &b.location,
            format!(
                "`dynamic \"{ident}\"` needs exactly one `content` block, found {}",
                contents.len()
            ),
        ));
        return;
    };
    let iterator = match b.body.attr("iterator") {
        Some(a) => match &a.value.expr {
            hcl::Expression::Variable(v) => v.as_str().to_string(),
            _ => {
                errors.push(eval::at(
                    &a.value,
                    "`iterator` must be a bare name, such as `disk`",
                ));
                return;
            }
        },
        None => ident.clone(),
    };
    if scope.unknown_ref(&for_each.value).is_some() {
        // Not known until data sources are read (`validate`): no block.
        return;
    }
    let items: Vec<(hcl::Value, hcl::Value)> = match scope.eval(&for_each.value) {
        Ok(hcl::Value::Array(a)) => a
            .into_iter()
            .enumerate()
            .map(|(i, v)| (hcl::Value::from(i as i64), v))
            .collect(),
        Ok(hcl::Value::Object(o)) => o
            .into_iter()
            .map(|(k, v)| (hcl::Value::from(k), v))
            .collect(),
        Ok(hcl::Value::Null) => Vec::new(),
        Ok(v) => {
            errors.push(eval::at(
                &for_each.value,
                format!(
                    "`for_each` must be a list, set or map, found {}",
                    eval::kind(&v)
                ),
            ));
            return;
        }
        Err(e) => {
            errors.push(e);
            return;
        }
    };
    spans
        .entry(format!("{prefix}{ident}"))
        .or_insert_with(|| b.location.clone());
    for (key, value) in items {
        let mut it = hcl::Map::new();
        it.insert("key".to_string(), key);
        it.insert("value".to_string(), value);
        let mut inner_scope = scope.clone();
        inner_scope
            .iterators
            .insert(iterator.clone(), hcl::Value::Object(it));
        let labels = match b.body.attr("labels") {
            Some(a) => match inner_scope.eval(&a.value) {
                Ok(hcl::Value::Array(l)) => l.iter().map(eval::display).collect(),
                Ok(v) => {
                    errors.push(eval::at(
                        &a.value,
                        format!(
                            "`labels` must be a list of strings, found {}",
                            eval::kind(&v)
                        ),
                    ));
                    Vec::new()
                }
                Err(e) => {
                    errors.push(e);
                    Vec::new()
                }
            },
            None => Vec::new(),
        };
        let list = values
            .entry(ident.clone())
            .or_insert_with(|| serde_json::Value::Array(Vec::new()));
        let serde_json::Value::Array(existing) = list else {
            errors.push(located(
                &b.location,
                format!("`{ident}` is set both as an argument and as a block"),
            ));
            return;
        };
        let i = existing.len();
        let path = format!("{prefix}{ident}[{i}]");
        spans.insert(path.clone(), content.location.clone());
        let mut inner = body_values(
            &content.body,
            &inner_scope,
            &format!("{path}."),
            &[],
            spans,
            errors,
        );
        if !labels.is_empty() {
            inner.insert(
                "labels".into(),
                serde_json::Value::Array(
                    labels.into_iter().map(serde_json::Value::String).collect(),
                ),
            );
        }
        if let Some(serde_json::Value::Array(items)) = values.get_mut(ident) {
            items.push(serde_json::Value::Object(inner));
        }
    }
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

    #[test]
    fn dynamic_blocks_expand_with_their_iterator() {
        let src = "source \"file\" \"f\" {\n  disk {\n    size = 1\n  }\n  dynamic \"disk\" {\n    for_each = [2, 3]\n    content {\n      size = disk.value * 10\n      at   = disk.key\n    }\n  }\n  dynamic \"tag\" {\n    for_each = { a = \"x\" }\n    iterator = t\n    content {\n      name = \"${t.key}=${t.value}\"\n    }\n  }\n  dynamic \"bad\" {\n    for_each = 5\n    content {}\n  }\n}\n";
        let f = SourceFile::new("t.pkr.hcl".into(), src);
        let ast = parse_file(&f, src).unwrap();
        let mut errors = ConfigErrors::new();
        let s = decode_source(&ast.blocks[0], &mut errors).unwrap();
        let raw = body_to_raw(&s.body, &Scope::default(), &s.location, &[], &mut errors);
        assert_eq!(
            raw.values["disk"],
            serde_json::json!([{"size": 1}, {"size": 20, "at": 0}, {"size": 30, "at": 1}])
        );
        assert_eq!(raw.values["tag"], serde_json::json!([{"name": "a=x"}]));
        assert_eq!(raw.locate("disk[2].size").unwrap().line, 8);
        let e = errors.to_string();
        assert!(
            e.contains("t.pkr.hcl:20:16: `for_each` must be a list, set or map, found a number"),
            "{e}"
        );
    }
}
