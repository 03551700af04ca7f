//! The named values an HCL2 expression refers to (`var.region`,
//! `data.http.x`, `local.l`), found everywhere in it: string templates,
//! heredocs and `for` expressions included, the `for` variables left out.
//! The evaluator checks them before evaluating, the rewriter
//! ([`super::prepare`]) and locals ordering use them too.

use hcl::Expression;

/// A reference to a named value: `var.region` is root `var`, attribute
/// `region`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    /// The root variable.
    pub root: String,
    /// The first attribute, when the traversal has one.
    pub attr: Option<String>,
    /// The second attribute (`data.TYPE.NAME` has `NAME` here).
    pub attr2: Option<String>,
}

/// Every named value `expr` refers to (including inside string templates
/// and heredocs).
pub fn references(expr: &Expression) -> Vec<Reference> {
    let mut out = Vec::new();
    walk(expr, &mut out, 0);
    out
}

fn walk(expr: &Expression, out: &mut Vec<Reference>, depth: usize) {
    if depth > 256 {
        return;
    }
    let d = depth + 1;
    match expr {
        Expression::Null | Expression::Bool(_) | Expression::Number(_) | Expression::String(_) => {}
        Expression::Array(items) => items.iter().for_each(|e| walk(e, out, d)),
        Expression::Object(o) => {
            for (k, v) in o {
                if let hcl::ObjectKey::Expression(k) = k {
                    // A bare identifier key is a literal name, not a reference.
                    if !matches!(k, Expression::Variable(_)) {
                        walk(k, out, d);
                    }
                }
                walk(v, out, d);
            }
        }
        Expression::TemplateExpr(t) => {
            if let Ok(t) = hcl::Template::from_expr(t) {
                walk_template(&t, out, d);
            }
        }
        Expression::Variable(v) => out.push(Reference {
            root: v.as_str().to_string(),
            attr: None,
            attr2: None,
        }),
        Expression::Traversal(t) => {
            if let Expression::Variable(v) = &t.expr {
                let name = |i: usize| match t.operators.get(i) {
                    Some(hcl::TraversalOperator::GetAttr(a)) => Some(a.as_str().to_string()),
                    _ => None,
                };
                let attr = name(0);
                let attr2 = attr.as_ref().and_then(|_| name(1));
                out.push(Reference {
                    root: v.as_str().to_string(),
                    attr,
                    attr2,
                });
            } else {
                walk(&t.expr, out, d);
            }
            for op in &t.operators {
                if let hcl::TraversalOperator::Index(e) = op {
                    walk(e, out, d);
                }
            }
        }
        Expression::FuncCall(f) => f.args.iter().for_each(|e| walk(e, out, d)),
        Expression::Parenthesis(e) => walk(e, out, d),
        Expression::Conditional(c) => {
            walk(&c.cond_expr, out, d);
            walk(&c.true_expr, out, d);
            walk(&c.false_expr, out, d);
        }
        Expression::Operation(op) => match op.as_ref() {
            hcl::Operation::Unary(u) => walk(&u.expr, out, d),
            hcl::Operation::Binary(b) => {
                walk(&b.lhs_expr, out, d);
                walk(&b.rhs_expr, out, d);
            }
        },
        Expression::ForExpr(f) => {
            walk(&f.collection_expr, out, d);
            let bound: Vec<&str> = f
                .key_var
                .iter()
                .map(|k| k.as_str())
                .chain(std::iter::once(f.value_var.as_str()))
                .collect();
            let mut inner = Vec::new();
            for e in f
                .key_expr
                .iter()
                .chain(std::iter::once(&f.value_expr))
                .chain(f.cond_expr.iter())
            {
                walk(e, &mut inner, d);
            }
            out.extend(
                inner
                    .into_iter()
                    .filter(|r| !bound.contains(&r.root.as_str())),
            );
        }
        _ => {}
    }
}

fn walk_template(t: &hcl::Template, out: &mut Vec<Reference>, d: usize) {
    for el in t.elements() {
        match el {
            hcl::template::Element::Literal(_) => {}
            hcl::template::Element::Interpolation(i) => walk(&i.expr, out, d),
            hcl::template::Element::Directive(dir) => match dir.as_ref() {
                hcl::template::Directive::If(i) => {
                    walk(&i.cond_expr, out, d);
                    walk_template(&i.true_template, out, d);
                    if let Some(f) = &i.false_template {
                        walk_template(f, out, d);
                    }
                }
                hcl::template::Directive::For(f) => {
                    walk(&f.collection_expr, out, d);
                    let mut inner = Vec::new();
                    walk_template(&f.template, &mut inner, d);
                    let bound: Vec<&str> = f
                        .key_var
                        .iter()
                        .map(|k| k.as_str())
                        .chain(std::iter::once(f.value_var.as_str()))
                        .collect();
                    out.extend(
                        inner
                            .into_iter()
                            .filter(|r| !bound.contains(&r.root.as_str())),
                    );
                }
            },
        }
    }
}
