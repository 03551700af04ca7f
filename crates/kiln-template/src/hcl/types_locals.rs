//! `locals { a = … }` and `local "a" { expression = …, sensitive = … }`:
//! named expressions that may use variables and each other. They are
//! evaluated in dependency order; a cycle is reported with its path.

use std::collections::BTreeMap;

use hcl::{Map, Value};
use kiln_sdk::config::{ConfigErrors, Location};

use super::eval::{self, located, references, Scope};
use super::parser::{BlockAst, Expr};
use super::types_data::{check_types, data_scope, DataDecl, DataSources};

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
    evaluate_all(locals, &[], vars, &[], path_root, errors).locals
}

/// Locals and data sources, evaluated.
#[derive(Clone, Debug, Default)]
pub struct Evaluated {
    /// `local.*`.
    pub locals: Map<String, Value>,
    /// `data.*` as the scope sees it (`{TYPE: {NAME: outputs}}`).
    pub data: Map<String, Value>,
    /// The locals that are sensitive: declared so, or derived (directly or
    /// through other locals and data sources) from a sensitive variable.
    pub sensitive_locals: Vec<String>,
    /// What the data sources' `prepare` had to say (`data.T.N: …`).
    pub warnings: Vec<String>,
    /// The data sources not read (`data.T.N`: `validate` without
    /// `-evaluate-datasources`) and the locals computed from them
    /// (`local.X`, whose value is [`super::eval::UNKNOWN`]).
    pub unknown: Vec<String>,
}

/// Evaluates locals and data sources together, as one dependency graph
/// (Packer 1.12+): a data source may use locals and a local may use data
/// sources. Cycles are reported with their path; a node that fails leaves
/// its dependants out without further errors. `sensitive_vars` names the
/// sensitive variables, whose sensitivity flows into what uses them. No
/// data source type is known; see [`evaluate_all_with`].
pub fn evaluate_all(
    locals: &[LocalDecl],
    data: &[DataDecl],
    vars: &Map<String, Value>,
    sensitive_vars: &[String],
    path_root: &str,
    errors: &mut ConfigErrors,
) -> Evaluated {
    evaluate_all_with(
        locals,
        data,
        &DataSources::default(),
        vars,
        sensitive_vars,
        path_root,
        errors,
    )
}

/// [`evaluate_all`], with the data source types of `sources` (plugins)
/// known too. Data sources of a type neither built in nor known to
/// `sources` are reported first and left out (references to them are
/// undefined).
pub fn evaluate_all_with(
    locals: &[LocalDecl],
    data: &[DataDecl],
    sources: &DataSources,
    vars: &Map<String, Value>,
    sensitive_vars: &[String],
    path_root: &str,
    errors: &mut ConfigErrors,
) -> Evaluated {
    let known = check_types(data, sources, errors);
    let data: Vec<DataDecl> = data
        .iter()
        .zip(known)
        .filter(|(_, k)| *k)
        .map(|(d, _)| d.clone())
        .collect();
    let data = data.as_slice();
    let n = locals.len();
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
    let mut data_by_ref: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for (i, d) in data.iter().enumerate() {
        if let Some(&j) = data_by_ref.get(&(d.data_type.as_str(), d.name.as_str())) {
            errors.push(
                located(
                    &d.location,
                    format!("duplicate data source `{}`", d.reference()),
                )
                .with_hint(format!(
                    "it is already declared at {}",
                    data[j - n].location
                )),
            );
            continue;
        }
        data_by_ref.insert((&d.data_type, &d.name), n + i);
    }
    let node_refs = |i: usize| -> Vec<super::eval::Reference> {
        if i < n {
            references(&locals[i].expr.expr)
        } else {
            let mut out = Vec::new();
            collect_body_refs(&data[i - n].body, &mut out);
            out
        }
    };
    let node_name = |i: usize| -> String {
        if i < n {
            format!("local.{}", locals[i].name)
        } else {
            data[i - n].reference()
        }
    };
    let node_location = |i: usize| -> &Location {
        if i < n {
            &locals[i].location
        } else {
            &data[i - n].location
        }
    };
    let total = n + data.len();
    let mut tainted = vec![false; total];
    let deps: Vec<Vec<usize>> = (0..total)
        .map(|i| {
            let refs = node_refs(i);
            tainted[i] = refs.iter().any(|r| {
                r.root == "var" && r.attr.as_ref().is_some_and(|a| sensitive_vars.contains(a))
            });
            let mut d: Vec<usize> = refs
                .into_iter()
                .filter_map(|r| match r.root.as_str() {
                    "local" => r.attr.and_then(|a| by_name.get(a.as_str()).copied()),
                    "data" => match (&r.attr, &r.attr2) {
                        (Some(t), Some(nm)) => data_by_ref.get(&(t.as_str(), nm.as_str())).copied(),
                        _ => None,
                    },
                    _ => None,
                })
                .collect();
            d.sort_unstable();
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
    let mut mark = vec![Mark::White; total];
    let mut order = Vec::new();
    let mut in_cycle = vec![false; total];
    let roots: Vec<usize> = by_name
        .values()
        .copied()
        .chain(data_by_ref.values().copied())
        .collect();
    for start in roots {
        if mark[start] != Mark::White {
            continue;
        }
        // Iterative DFS: (node, next dependency index).
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        mark[start] = Mark::Grey;
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            if let Some(&dep) = deps[node].get(*next) {
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
                                .map(|c| format!("`{}`", node_name(*c)))
                                .collect();
                            let (what, name) = if dep < n {
                                ("local", locals[dep].name.clone())
                            } else {
                                ("data source", data[dep - n].reference())
                            };
                            errors.push(
                                located(
                                    node_location(dep),
                                    format!("{what} `{name}` depends on itself: {}", path.join(" → ")),
                                )
                                .with_hint("break the cycle: a local or data source cannot refer to itself, directly or through others"),
                            );
                        }
                        for c in cycle {
                            in_cycle[c] = true;
                        }
                    }
                    Mark::Black => {}
                }
            } else {
                mark[node] = Mark::Black;
                order.push(node);
                stack.pop();
            }
        }
    }

    let mut values = Map::new();
    let mut data_values: Map<String, Value> = Map::new();
    let mut warnings = Vec::new();
    // What plugin data sources print is scrubbed of the sensitive values
    // known so far: the sensitive variables, then each sensitive local as
    // it is evaluated.
    let redactor = kiln_sdk::ui::Redactor::new();
    for name in sensitive_vars {
        if let Some(v) = vars.get(name) {
            redactor.add(super::eval::display(v));
        }
    }
    let mut failed = vec![false; total];
    let mut sensitive = vec![false; total];
    let mut unknown: Vec<String> = Vec::new();
    // One scope for the whole walk, updated as values become known (a scope
    // per node, copying every value so far, made the walk quadratic).
    let mut scope = Scope {
        vars: Some(vars.clone()),
        locals: Some(locals_scope(locals, &values)),
        data: Some(data_scope(data, &data_values)),
        path_root: path_root.to_string(),
        ..Scope::default()
    };
    for i in order {
        if in_cycle[i] || deps[i].iter().any(|d| failed[*d] || in_cycle[*d]) {
            failed[i] = true;
            continue;
        }
        sensitive[i] =
            tainted[i] || (i < n && locals[i].sensitive) || deps[i].iter().any(|d| sensitive[*d]);
        scope.what = if i < n { "a local" } else { "a data source" };
        if i < n {
            let is_unknown = scope.unknown_ref(&locals[i].expr).is_some();
            match scope.eval(&locals[i].expr) {
                Ok(v) if is_unknown => {
                    let name = format!("local.{}", locals[i].name);
                    scope.unknown.insert(name.clone());
                    unknown.push(name);
                    if let Some(l) = scope.locals.as_mut() {
                        l.insert(locals[i].name.clone(), v.clone());
                    }
                    values.insert(locals[i].name.clone(), v);
                }
                Ok(v) => {
                    if sensitive[i] {
                        redactor.add(super::eval::display(&v));
                    }
                    if let Some(l) = scope.locals.as_mut() {
                        l.insert(locals[i].name.clone(), v.clone());
                    }
                    values.insert(locals[i].name.clone(), v);
                }
                Err(e) => {
                    failed[i] = true;
                    errors.push(e);
                }
            }
        } else if !sources.executes() {
            // Checked, not read: its outputs are unknown.
            match super::types_data::check(&data[i - n], &scope, sources, &redactor, &mut warnings)
            {
                Ok(()) => {
                    scope.unknown.insert(data[i - n].reference());
                    unknown.push(data[i - n].reference());
                }
                Err(e) => {
                    failed[i] = true;
                    errors.0.extend(e.0);
                }
            }
        } else {
            match super::types_data::read(&data[i - n], &scope, sources, &redactor, &mut warnings) {
                Ok(v) => {
                    data_values.insert(data[i - n].reference(), v);
                    // Data sources are few: rebuilding their scope is cheap.
                    scope.data = Some(data_scope(data, &data_values));
                }
                Err(e) => {
                    failed[i] = true;
                    errors.0.extend(e.0);
                }
            }
        }
    }
    Evaluated {
        locals: values,
        data: data_scope(data, &data_values),
        sensitive_locals: (0..n)
            .filter(|i| sensitive[*i])
            .map(|i| locals[i].name.clone())
            .collect(),
        warnings,
        unknown,
    }
}

fn collect_body_refs(body: &super::parser::BodyAst, out: &mut Vec<super::eval::Reference>) {
    for a in &body.attrs {
        out.extend(references(&a.value.expr));
    }
    for b in &body.blocks {
        collect_body_refs(&b.body, out);
    }
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
