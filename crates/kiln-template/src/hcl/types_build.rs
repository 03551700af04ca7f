//! `build { … }` blocks: which sources to build (`sources = [...]` and
//! nested `source` blocks that rename or extend a source), the
//! provisioners (with `only`, `except`, `override`, `pause_before`,
//! `max_retries`, `timeout`), the `error-cleanup-provisioner`, and the
//! post-processors (`post-processor` alone, or chained in a
//! `post-processors` block).

use hcl::{Expression, TraversalOperator, Value};
use kiln_sdk::config::{ConfigErrors, Location};

use super::eval::{self, located, Scope};
use super::parser::{BlockAst, BodyAst, Expr};

/// A source a build refers to.
#[derive(Clone, Debug)]
pub struct SourceRef {
    /// The builder type.
    pub source_type: String,
    /// The referenced source's name.
    pub name: String,
    /// Where the reference is written.
    pub location: Location,
    /// A nested `source` block's body: `name` renames the build, other
    /// fields extend the source's configuration.
    pub body: Option<BodyAst>,
}

/// A provisioner or the `error-cleanup-provisioner`.
#[derive(Clone, Debug)]
pub struct ProvisionerDecl {
    /// Its type.
    pub provisioner_type: String,
    /// Where it is declared.
    pub location: Location,
    /// Its body (with meta-arguments).
    pub body: BodyAst,
}

/// A post-processor.
#[derive(Clone, Debug)]
pub struct PostProcessorDecl {
    /// Its type.
    pub post_processor_type: String,
    /// Where it is declared.
    pub location: Location,
    /// Its body (with meta-arguments).
    pub body: BodyAst,
}

/// A `build` block.
#[derive(Clone, Debug)]
pub struct BuildBlock {
    /// Where it is declared.
    pub location: Location,
    /// `name`, unevaluated.
    pub name: Option<Expr>,
    /// `description`, unevaluated.
    pub description: Option<Expr>,
    /// `incremental` (kiln's own), unevaluated.
    pub incremental: Option<Expr>,
    /// The sources, in order.
    pub sources: Vec<SourceRef>,
    /// Provisioners, in order.
    pub provisioners: Vec<ProvisionerDecl>,
    /// The `error-cleanup-provisioner`.
    pub error_cleanup_provisioner: Option<ProvisionerDecl>,
    /// Post-processor chains.
    pub post_processors: Vec<Vec<PostProcessorDecl>>,
}

/// Meta-arguments of provisioners, handled by kiln rather than the
/// component.
pub const PROVISIONER_META: &[&str] = &[
    "name",
    "only",
    "except",
    "override",
    "pause_before",
    "max_retries",
    "timeout",
];
/// Meta-arguments of post-processors.
pub const POST_PROCESSOR_META: &[&str] = &["name", "only", "except", "keep_input_artifact"];

/// Parses a source reference as Packer's `sourceRefFromString`
/// (`hcl2template/types.build.from.go`): `TYPE.NAME`, or three parts or
/// more whose first is dropped (`source.TYPE.NAME`, `sources.TYPE.NAME`).
/// Packer also wants type and name to be identifiers; kiln only wants
/// them non-empty, since a `source` block may be named otherwise (as
/// `hcl2_upgrade` names one from a JSON builder's `name`).
pub fn parse_source_ref(s: &str) -> Option<(String, String)> {
    let parts: Vec<&str> = s.split('.').collect();
    let (t, n) = match parts.as_slice() {
        [t, n] => (*t, *n),
        [_, t, n, ..] => (*t, *n),
        _ => return None,
    };
    (!t.is_empty() && !n.is_empty()).then(|| (t.to_string(), n.to_string()))
}

fn one_label(block: &BlockAst, what: &str, errors: &mut ConfigErrors) -> Option<String> {
    match block.labels.as_slice() {
        [t] => Some(t.clone()),
        _ => {
            errors.push(located(
                &block.location,
                format!(
                    "a `{what}` block takes one label, its type; found {}",
                    block.labels.len()
                ),
            ));
            None
        }
    }
}

/// `sources = …`: a list literal (whose items may be bare `source.T.N`
/// traversals), or any expression that evaluates to a list of strings or
/// null, with variables and locals in scope, as Packer decodes it.
fn source_refs_from(e: &Expr, scope: &Scope, errors: &mut ConfigErrors) -> Vec<SourceRef> {
    if let Some(name) = scope.unknown_ref(e) {
        errors.push(Scope::unknown_error(e, "sources", &name));
        return Vec::new();
    }
    let items: Vec<Expression> = match &e.expr {
        Expression::Array(items) => items.clone(),
        _ => match scope.eval(e) {
            Ok(Value::Array(values)) => values.into_iter().map(Expression::from).collect(),
            Ok(Value::Null) => Vec::new(),
            Ok(v) => {
                errors.push(
                    eval::at(
                        e,
                        format!(
                            "`sources` must be a list of strings, found {}",
                            eval::kind(&v)
                        ),
                    )
                    .with_hint("write `sources = [\"source.TYPE.NAME\"]`"),
                );
                return Vec::new();
            }
            Err(err) => {
                errors.push(err);
                return Vec::new();
            }
        },
    };
    let items = &items;
    let mut out = Vec::new();
    for item in items {
        // `source.null.x` written as a traversal rather than a string.
        if let Expression::Traversal(t) = item {
            if let (
                Expression::Variable(v),
                [TraversalOperator::GetAttr(ty), TraversalOperator::GetAttr(n)],
            ) = (&t.expr, t.operators.as_slice())
            {
                if v.as_str() == "source" {
                    out.push(SourceRef {
                        source_type: ty.to_string(),
                        name: n.to_string(),
                        location: e.location.clone(),
                        body: None,
                    });
                    continue;
                }
            }
        }
        let ie = Expr {
            expr: item.clone(),
            location: e.location.clone(),
        };
        match scope.eval(&ie) {
            Ok(hcl::Value::String(s)) => match parse_source_ref(&s) {
                Some((t, n)) => out.push(SourceRef {
                    source_type: t,
                    name: n,
                    location: e.location.clone(),
                    body: None,
                }),
                None => errors.push(
                    eval::at(e, format!("invalid source reference `{s}`"))
                        .with_hint("write `source.TYPE.NAME`, as in `source.null.example`"),
                ),
            },
            Ok(v) => errors.push(eval::at(
                e,
                format!(
                    "a source reference must be a string, found {}",
                    eval::kind(&v)
                ),
            )),
            Err(err) => errors.push(err),
        }
    }
    out
}

/// Decodes a `build` block. `scope` (variables and locals) evaluates the
/// `sources` list.
pub fn decode_build(
    block: &BlockAst,
    scope: &Scope,
    errors: &mut ConfigErrors,
    warnings: &mut Vec<String>,
) -> BuildBlock {
    if !block.labels.is_empty() {
        errors.push(
            located(&block.location, "a `build` block takes no label")
                .with_hint("name it with `name = \"…\"`"),
        );
    }
    let expanded = expand_dynamic_blocks(&block.body, scope, errors);
    let body = &expanded;
    body.check_schema(
        "a `build` block",
        &["name", "description", "sources", "incremental"],
        &[
            "source",
            "provisioner",
            "error-cleanup-provisioner",
            "post-processor",
            "post-processors",
            "hcp_packer_registry",
        ],
        errors,
    );
    let mut b = BuildBlock {
        location: block.location.clone(),
        name: body.attr("name").map(|a| a.value.clone()),
        description: body.attr("description").map(|a| a.value.clone()),
        incremental: body.attr("incremental").map(|a| a.value.clone()),
        sources: Vec::new(),
        provisioners: Vec::new(),
        error_cleanup_provisioner: None,
        post_processors: Vec::new(),
    };
    if let Some(a) = body.attr("sources") {
        b.sources = source_refs_from(&a.value, scope, errors);
    }
    for nested in &body.blocks {
        match nested.ident.as_str() {
            "source" => {
                let Some(label) = one_label(nested, "source", errors) else {
                    continue;
                };
                match parse_source_ref(&label) {
                    Some((t, n)) => b.sources.push(SourceRef {
                        source_type: t,
                        name: n,
                        location: nested.location.clone(),
                        body: Some(nested.body.clone()),
                    }),
                    None => errors.push(
                        located(
                            &nested.location,
                            format!("invalid source reference `{label}`"),
                        )
                        .with_hint("write `source \"source.TYPE.NAME\" { … }`"),
                    ),
                }
            }
            "provisioner" => {
                if let Some(t) = one_label(nested, "provisioner", errors) {
                    b.provisioners.push(ProvisionerDecl {
                        provisioner_type: t,
                        location: nested.location.clone(),
                        body: nested.body.clone(),
                    });
                }
            }
            "error-cleanup-provisioner" => {
                if let Some(t) = one_label(nested, "error-cleanup-provisioner", errors) {
                    if b.error_cleanup_provisioner.is_some() {
                        errors.push(located(
                            &nested.location,
                            "only one `error-cleanup-provisioner` is allowed per build",
                        ));
                    }
                    b.error_cleanup_provisioner = Some(ProvisionerDecl {
                        provisioner_type: t,
                        location: nested.location.clone(),
                        body: nested.body.clone(),
                    });
                }
            }
            "post-processor" => {
                if let Some(t) = one_label(nested, "post-processor", errors) {
                    b.post_processors.push(vec![PostProcessorDecl {
                        post_processor_type: t,
                        location: nested.location.clone(),
                        body: nested.body.clone(),
                    }]);
                }
            }
            "post-processors" => {
                nested.body.check_schema(
                    "a `post-processors` block",
                    &[],
                    &["post-processor"],
                    errors,
                );
                let chain: Vec<PostProcessorDecl> = nested
                    .body
                    .blocks_of("post-processor")
                    .filter_map(|pp| {
                        one_label(pp, "post-processor", errors).map(|t| PostProcessorDecl {
                            post_processor_type: t,
                            location: pp.location.clone(),
                            body: pp.body.clone(),
                        })
                    })
                    .collect();
                if !chain.is_empty() {
                    b.post_processors.push(chain);
                }
            }
            "hcp_packer_registry" => warnings.push(format!(
                "{}: `hcp_packer_registry` is ignored: kiln does not publish to HCP Packer",
                nested.location
            )),
            _ => {}
        }
    }
    if b.sources.is_empty() {
        errors.push(
            located(&block.location, "this `build` block has no sources")
                .with_hint("add `sources = [\"source.TYPE.NAME\"]` or a nested `source` block"),
        );
    }
    b
}

/// Expands the `dynamic` blocks of a `build` body (`dynamic "provisioner"
/// { for_each, iterator, labels, content }`, and so on) into the blocks
/// they make, in place. The iterator (`NAME.key`, `NAME.value`) is
/// substituted into each copy's expressions, since provisioners and
/// post-processors are evaluated later, once per source.
pub fn expand_dynamic_blocks(body: &BodyAst, scope: &Scope, errors: &mut ConfigErrors) -> BodyAst {
    let mut out = BodyAst {
        attrs: body.attrs.clone(),
        blocks: Vec::new(),
    };
    for b in &body.blocks {
        if b.ident != "dynamic" {
            out.blocks.push(b.clone());
            continue;
        }
        let [ident] = b.labels.as_slice() else {
            errors.push(
                located(&b.location, "a `dynamic` block takes one label, the type of the blocks it makes")
                    .with_hint("write `dynamic \"provisioner\" { for_each = …; labels = [\"shell\"]; content { … } }`"),
            );
            continue;
        };
        b.body.check_schema(
            &format!("`dynamic \"{ident}\"`"),
            &["for_each", "iterator", "labels"],
            &["content"],
            errors,
        );
        let contents: Vec<&BlockAst> = b.body.blocks_of("content").collect();
        let (Some(for_each), [content]) = (b.body.attr("for_each"), contents.as_slice()) else {
            errors.push(located(
                &b.location,
                format!("`dynamic \"{ident}\"` needs `for_each` and exactly one `content` block"),
            ));
            continue;
        };
        let iterator = match b.body.attr("iterator").map(|a| &a.value) {
            Some(e) => match &e.expr {
                hcl::Expression::Variable(v) => v.as_str().to_string(),
                _ => {
                    errors.push(eval::at(e, "`iterator` must be a bare name, such as `p`"));
                    continue;
                }
            },
            None => ident.clone(),
        };
        if scope.unknown_ref(&for_each.value).is_some() {
            // Not known until data sources are read (`validate`): no block.
            continue;
        }
        let items: Vec<(Value, Value)> = match scope.eval(&for_each.value) {
            Ok(Value::Array(a)) => a
                .into_iter()
                .enumerate()
                .map(|(i, v)| (Value::from(i as i64), v))
                .collect(),
            Ok(Value::Object(o)) => o.into_iter().map(|(k, v)| (Value::from(k), v)).collect(),
            Ok(Value::Null) => Vec::new(),
            Ok(v) => {
                errors.push(eval::at(
                    &for_each.value,
                    format!(
                        "`for_each` must be a list, set or map, found {}",
                        eval::kind(&v)
                    ),
                ));
                continue;
            }
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        for (key, value) in items {
            let mut it = hcl::Map::new();
            it.insert("key".to_string(), key);
            it.insert("value".to_string(), value);
            let it = Value::Object(it);
            let mut iscope = scope.clone();
            iscope.iterators.insert(iterator.clone(), it.clone());
            let labels = match b.body.attr("labels") {
                Some(a) => match iscope.eval(&a.value) {
                    Ok(Value::Array(l)) => l.iter().map(eval::display).collect(),
                    Ok(v) => {
                        errors.push(eval::at(
                            &a.value,
                            format!(
                                "`labels` must be a list of strings, found {}",
                                eval::kind(&v)
                            ),
                        ));
                        continue;
                    }
                    Err(e) => {
                        errors.push(e);
                        continue;
                    }
                },
                None => Vec::new(),
            };
            out.blocks.push(BlockAst {
                ident: ident.clone(),
                labels,
                location: content.location.clone(),
                body: substitute_body(&content.body, &iterator, &it),
            });
        }
    }
    out
}

fn substitute_body(body: &BodyAst, name: &str, value: &Value) -> BodyAst {
    BodyAst {
        attrs: body
            .attrs
            .iter()
            .map(|a| {
                let mut a = a.clone();
                a.value.expr = super::prepare::substitute(&a.value.expr, name, value);
                a
            })
            .collect(),
        blocks: body
            .blocks
            .iter()
            .map(|b| BlockAst {
                body: substitute_body(&b.body, name, value),
                ..b.clone()
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_references() {
        assert_eq!(
            parse_source_ref("source.null.a"),
            Some(("null".into(), "a".into()))
        );
        assert_eq!(
            parse_source_ref("null.a"),
            Some(("null".into(), "a".into()))
        );
        // As Packer's `sourceRefFromString`: the first of three parts or
        // more is dropped, whatever it is.
        assert_eq!(
            parse_source_ref("sources.null.a"),
            Some(("null".into(), "a".into()))
        );
        assert_eq!(
            parse_source_ref("x.null.a.b"),
            Some(("null".into(), "a".into()))
        );
        // Two parts are always TYPE.NAME (then an unknown source).
        assert_eq!(
            parse_source_ref("source.null"),
            Some(("source".into(), "null".into()))
        );
        assert_eq!(parse_source_ref("null"), None);
        assert_eq!(parse_source_ref("source..a"), None);
        assert_eq!(parse_source_ref("null."), None);
        assert_eq!(parse_source_ref(""), None);
    }
}
