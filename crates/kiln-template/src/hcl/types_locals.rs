//! `locals { a = … }` and `local "a" { expression = …, sensitive = … }`:
//! named expressions that may use variables and each other. They are
//! evaluated in dependency order; a cycle is reported with its path.

use std::collections::BTreeMap;

use hcl::{Map, Value};
use kiln_sdk::config::{ConfigErrors, Location};

use super::eval::{self, located, references, Scope};
use super::parser::{BlockAst, Expr};

/// One local value.
#[derive(Clone, Debug)]
pub struct LocalDecl {
    /// Its name.
    pub name: String,
    /// Where it is declared.
    pub location: Location,
    /// Its expression.
    pub expr: Expr,
    /// `sensitive` (`local` blocks only).
    pub sensitive: bool,
}

/// Decodes a `locals` block.
pub fn decode_locals(block: &BlockAst, errors: &mut ConfigErrors) -> Vec<LocalDecl> {
    if !block.labels.is_empty() {
        errors.push(located(&block.location, "a `locals` block takes no label"));
    }
    for b in &block.body.blocks {
        errors.push(located(
            &b.location,
            format!("unexpected block `{}` in a `locals` block", b.ident),
        ));
    }
    block
        .body
        .attrs
        .iter()
        .map(|a| LocalDecl {
            name: a.name.clone(),
            location: a.key_location.clone(),
            expr: a.value.clone(),
            sensitive: false,
        })
        .collect()
}

/// Decodes a `local "name"` block.
pub fn decode_local(block: &BlockAst, errors: &mut ConfigErrors) -> Option<LocalDecl> {
    let [name] = block.labels.as_slice() else {
        errors.push(located(
            &block.location,
            "a `local` block takes one label, the local's name",
        ));
        return None;
    };
    block.body.check_schema(
        &format!("local `{name}`"),
        &["expression", "sensitive"],
        &[],
        errors,
    );
    let Some(expr) = block.body.attr("expression") else {
        errors.push(located(
            &block.location,
            format!("local `{name}` needs an `expression`"),
        ));
        return None;
    };
    let sensitive = match block.body.attr("sensitive") {
        Some(a) => match eval::eval_constant(&a.value, "a local declaration") {
            Ok(Value::Bool(b)) => b,
            Ok(_) => {
                errors.push(eval::at(&a.value, "`sensitive` must be a bool"));
                false
            }
            Err(e) => {
                errors.push(e);
                false
            }
        },
        None => false,
    };
    Some(LocalDecl {
        name: name.clone(),
        location: block.location.clone(),
        expr: expr.value.clone(),
        sensitive,
    })
}

/// Evaluates the locals in dependency order. Locals that fail (or depend on
/// one that failed, or sit in a cycle) are left out of the result; each
/// problem is reported once.
pub fn evaluate(
    locals: &[LocalDecl],
    vars: &Map<String, Value>,
    path_root: &str,
    errors: &mut ConfigErrors,
) -> Map<String, Value> {
    let mut by_name: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, l) in locals.iter().enumerate() {
        if let Some(&j) = by_name.get(l.name.as_str()) {
            errors.push(
                located(&l.location, format!("duplicate local `{}`", l.name))
                    .with_hint(format!("it is already defined at {}", locals[j].location)),
            );
            continue;
        }
        by_name.insert(&l.name, i);
    }
    let deps: Vec<Vec<usize>> = locals
        .iter()
        .map(|l| {
            let mut d: Vec<usize> = references(&l.expr.expr)
                .into_iter()
                .filter(|r| r.root == "local")
                .filter_map(|r| r.attr.and_then(|a| by_name.get(a.as_str()).copied()))
                .collect();
            d.dedup();
            d
        })
        .collect();

    // Depth-first topological order; grey nodes on the stack reveal cycles.
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        White,
        Grey,
        Black,
    }
    let mut mark = vec![Mark::White; locals.len()];
    let mut order = Vec::new();
    let mut in_cycle = vec![false; locals.len()];
    for start in by_name.values().copied().collect::<Vec<_>>() {
        if mark[start] != Mark::White {
            continue;
        }
        // Iterative DFS: (node, next dependency index).
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        mark[start] = Mark::Grey;
        while let Some(&mut (n, ref mut next)) = stack.last_mut() {
            if let Some(&dep) = deps[n].get(*next) {
                *next += 1;
                match mark[dep] {
                    Mark::White => {
                        mark[dep] = Mark::Grey;
                        stack.push((dep, 0));
                    }
                    Mark::Grey => {
                        let pos = stack.iter().position(|(x, _)| *x == dep).unwrap_or(0);
                        let cycle: Vec<usize> = stack[pos..].iter().map(|(x, _)| *x).collect();
                        if cycle.iter().all(|c| !in_cycle[*c]) {
                            let path: Vec<String> = cycle
                                .iter()
                                .chain(std::iter::once(&dep))
                                .map(|c| format!("`local.{}`", locals[*c].name))
                                .collect();
                            let first = &locals[dep];
                            errors.push(
                                located(
                                    &first.location,
                                    format!("local `{}` depends on itself: {}", first.name, path.join(" → ")),
                                )
                                .with_hint("break the cycle: a local cannot refer to itself, directly or through others"),
                            );
                        }
                        for c in cycle {
                            in_cycle[c] = true;
                        }
                    }
                    Mark::Black => {}
                }
            } else {
                mark[n] = Mark::Black;
                order.push(n);
                stack.pop();
            }
        }
    }

    let mut values = Map::new();
    let mut failed = vec![false; locals.len()];
    for i in order {
        let l = &locals[i];
        if in_cycle[i] || deps[i].iter().any(|d| failed[*d] || in_cycle[*d]) {
            failed[i] = true;
            continue;
        }
        let scope = Scope {
            vars: Some(vars.clone()),
            locals: Some(locals_scope(locals, &values)),
            path_root: path_root.to_string(),
            what: "a local",
            ..Scope::default()
        };
        match scope.eval(&l.expr) {
            Ok(v) => {
                values.insert(l.name.clone(), v);
            }
            Err(e) => {
                failed[i] = true;
                errors.push(e);
            }
        }
    }
    values
}

/// Every declared local is known to the reference check; those not
/// evaluated yet are null (only reachable when they failed).
fn locals_scope(locals: &[LocalDecl], values: &Map<String, Value>) -> Map<String, Value> {
    let mut m = Map::new();
    for l in locals {
        m.insert(
            l.name.clone(),
            values.get(&l.name).cloned().unwrap_or(Value::Null),
        );
    }
    m
}

/// The names of sensitive locals.
pub fn sensitive(locals: &[LocalDecl]) -> Vec<String> {
    locals
        .iter()
        .filter(|l| l.sensitive)
        .map(|l| l.name.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hcl::parser::{parse_file, SourceFile};

    fn run(src: &str) -> (Map<String, Value>, ConfigErrors) {
        let f = SourceFile::new("t.pkr.hcl".into(), src);
        let body = parse_file(&f, src).unwrap();
        let mut errors = ConfigErrors::new();
        let mut locals = Vec::new();
        for b in &body.blocks {
            match b.ident.as_str() {
                "locals" => locals.extend(decode_locals(b, &mut errors)),
                "local" => locals.extend(decode_local(b, &mut errors)),
                _ => {}
            }
        }
        let mut vars = Map::new();
        vars.insert("v".to_string(), Value::from("x"));
        let values = evaluate(&locals, &vars, "/r", &mut errors);
        (values, errors)
    }

    #[test]
    fn dependency_order_whatever_the_file_order() {
        let (v, e) = run(
            "locals {\n  c = \"${local.b}-c\"\n  a = var.v\n}\nlocal \"b\" {\n  expression = \"${local.a}-b\"\n  sensitive = true\n}\n",
        );
        assert!(e.is_empty(), "{e}");
        assert_eq!(v["c"], Value::from("x-b-c"));
    }

    #[test]
    fn cycles_are_reported_with_their_path() {
        let (v, e) = run(
            "locals {\n  a = local.b\n  b = local.c\n  c = local.a\n  d = 1\n  e = local.a\n}\n",
        );
        assert_eq!(e.0.len(), 1, "{e}");
        assert!(
            e.to_string()
                .contains("depends on itself: `local.a` → `local.b` → `local.c` → `local.a`"),
            "{e}"
        );
        assert_eq!(v["d"], Value::from(1));
        assert!(!v.contains_key("e"));
    }

    #[test]
    fn self_reference_and_undefined() {
        let (_, e) = run("locals {\n  a = local.a\n  b = local.nope\n}\n");
        let t = e.to_string();
        assert!(
            t.contains("local `a` depends on itself: `local.a` → `local.a`"),
            "{t}"
        );
        assert!(t.contains("undefined local `local.nope`"), "{t}");
    }
}
