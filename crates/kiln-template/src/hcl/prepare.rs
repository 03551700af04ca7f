//! Rewrites an expression before hcl-rs evaluates it, for the parts of
//! HashiCorp HCL's semantics that hcl-rs lacks:
//!
//! - operands convert as cty converts them: arithmetic and ordering
//!   operands to numbers (`"5" + 1` is `6`), `&&`, `||`, `!` and
//!   conditions to bools (`"true"`);
//! - `try(…)` and `can(…)` are lazy: each argument is evaluated on its own
//!   and errors are caught, so `try(var.m.missing, "x")` is `"x"`;
//! - `convert(value, type)` takes a type expression (`list(string)`).
//!
//! Calls that need evaluation are evaluated here and replaced by their
//! value; a failing one becomes a call to `__kiln_fail`, which reports the
//! message when the rewritten expression is evaluated. Inside a `for`
//! expression whose variables an argument uses, `try`/`can`/`convert`
//! cannot be evaluated ahead; they fall back to eager functions (see
//! `kiln_hcl_functions`, which also has the `__kiln_*` functions this
//! rewrites operators to).

use hcl::eval::{Context, Evaluate};
use hcl::expr::{BinaryOperator, FuncCall, Operation, UnaryOperator};
use hcl::{Expression, TemplateExpr};

use kiln_hcl_functions::value::eval_message;

use super::references::references;

const MAX_DEPTH: usize = 200;

/// The rewritten form of `e`, ready for hcl-rs in `ctx`.
pub fn rewrite(e: &Expression, ctx: &Context) -> Expression {
    Rewriter {
        ctx,
        bound: Vec::new(),
    }
    .expr(e, 0)
}

struct Rewriter<'a, 'b> {
    ctx: &'a Context<'b>,
    bound: Vec<String>,
}

fn call(name: &str, args: Vec<Expression>) -> Expression {
    let mut f = FuncCall::new(name);
    f.args = args;
    Expression::FuncCall(Box::new(f))
}

fn fail(message: String) -> Expression {
    call("__kiln_fail", vec![Expression::String(message)])
}

impl Rewriter<'_, '_> {
    fn uses_bound(&self, e: &Expression) -> bool {
        !self.bound.is_empty() && references(e).iter().any(|r| self.bound.contains(&r.root))
    }

    fn eval(&self, e: &Expression) -> Result<hcl::Value, String> {
        e.evaluate(self.ctx).map_err(|err| eval_message(&err))
    }

    fn expr(&mut self, e: &Expression, depth: usize) -> Expression {
        if depth > MAX_DEPTH {
            return fail("the expression is nested too deeply".into());
        }
        let d = depth + 1;
        match e {
            Expression::Array(items) => {
                Expression::Array(items.iter().map(|i| self.expr(i, d)).collect())
            }
            Expression::Object(o) => {
                let mut out = hcl::Object::new();
                for (k, v) in o {
                    let k = match k {
                        hcl::ObjectKey::Expression(ke)
                            if !matches!(ke, Expression::Variable(_)) =>
                        {
                            hcl::ObjectKey::Expression(self.expr(ke, d))
                        }
                        other => other.clone(),
                    };
                    out.insert(k, self.expr(v, d));
                }
                Expression::Object(out)
            }
            Expression::TemplateExpr(t) => self.template_expr(t, d),
            Expression::Traversal(t) => {
                let mut t = t.as_ref().clone();
                t.expr = self.expr(&t.expr, d);
                for op in &mut t.operators {
                    if let hcl::TraversalOperator::Index(i) = op {
                        *i = self.expr(i, d);
                    }
                }
                Expression::Traversal(Box::new(t))
            }
            Expression::FuncCall(f) => self.func(f, d),
            Expression::Parenthesis(inner) => {
                Expression::Parenthesis(Box::new(self.expr(inner, d)))
            }
            Expression::Conditional(c) => {
                let mut c = c.as_ref().clone();
                c.cond_expr = call("__kiln_bool", vec![self.expr(&c.cond_expr, d)]);
                c.true_expr = self.expr(&c.true_expr, d);
                c.false_expr = self.expr(&c.false_expr, d);
                Expression::Conditional(Box::new(c))
            }
            Expression::Operation(op) => match op.as_ref() {
                Operation::Unary(u) => {
                    let conv = match u.operator {
                        UnaryOperator::Neg => "__kiln_num",
                        UnaryOperator::Not => "__kiln_bool",
                    };
                    let mut u = u.clone();
                    u.expr = call(conv, vec![self.expr(&u.expr, d)]);
                    Expression::Operation(Box::new(Operation::Unary(u)))
                }
                Operation::Binary(b) => {
                    let conv = match b.operator {
                        BinaryOperator::Eq | BinaryOperator::NotEq => None,
                        BinaryOperator::And | BinaryOperator::Or => Some("__kiln_bool"),
                        _ => Some("__kiln_num"),
                    };
                    let mut b = b.clone();
                    b.lhs_expr = self.expr(&b.lhs_expr, d);
                    b.rhs_expr = self.expr(&b.rhs_expr, d);
                    if let Some(c) = conv {
                        b.lhs_expr = call(c, vec![b.lhs_expr]);
                        b.rhs_expr = call(c, vec![b.rhs_expr]);
                    }
                    Expression::Operation(Box::new(Operation::Binary(b)))
                }
            },
            Expression::ForExpr(f) => {
                let mut f = f.as_ref().clone();
                f.collection_expr = self.expr(&f.collection_expr, d);
                let before = self.bound.len();
                self.bound
                    .extend(f.key_var.iter().map(|k| k.as_str().to_string()));
                self.bound.push(f.value_var.as_str().to_string());
                f.key_expr = f.key_expr.as_ref().map(|k| self.expr(k, d));
                f.value_expr = self.expr(&f.value_expr, d);
                f.cond_expr = f
                    .cond_expr
                    .as_ref()
                    .map(|c| call("__kiln_bool", vec![self.expr(c, d)]));
                self.bound.truncate(before);
                Expression::ForExpr(Box::new(f))
            }
            other => other.clone(),
        }
    }

    fn template_expr(&mut self, t: &TemplateExpr, d: usize) -> Expression {
        let Ok(mut tpl) = hcl::Template::from_expr(t) else {
            return Expression::TemplateExpr(Box::new(t.clone()));
        };
        self.template(&mut tpl, d);
        let text = tpl.to_string();
        let out = match t {
            TemplateExpr::QuotedString(_) => TemplateExpr::QuotedString(text),
            TemplateExpr::Heredoc(h) => TemplateExpr::Heredoc(
                hcl::expr::Heredoc::new(h.delimiter.clone(), text).with_strip_mode(h.strip),
            ),
        };
        Expression::TemplateExpr(Box::new(out))
    }

    fn template(&mut self, t: &mut hcl::Template, d: usize) {
        for el in t.elements_mut() {
            match el {
                hcl::template::Element::Literal(_) => {}
                hcl::template::Element::Interpolation(i) => i.expr = self.expr(&i.expr, d),
                hcl::template::Element::Directive(dir) => match dir.as_mut() {
                    hcl::template::Directive::If(i) => {
                        i.cond_expr = call("__kiln_bool", vec![self.expr(&i.cond_expr, d)]);
                        self.template(&mut i.true_template, d);
                        if let Some(f) = i.false_template.as_mut() {
                            self.template(f, d);
                        }
                    }
                    hcl::template::Directive::For(f) => {
                        f.collection_expr = self.expr(&f.collection_expr, d);
                        let before = self.bound.len();
                        self.bound
                            .extend(f.key_var.iter().map(|k| k.as_str().to_string()));
                        self.bound.push(f.value_var.as_str().to_string());
                        self.template(&mut f.template, d);
                        self.bound.truncate(before);
                    }
                },
            }
        }
    }

    fn func(&mut self, f: &FuncCall, d: usize) -> Expression {
        let name = f.name.name.as_str();
        let args: Vec<Expression> = f.args.iter().map(|a| self.expr(a, d)).collect();
        let lazy = f.name.namespace.is_empty()
            && !f.expand_final
            && matches!(name, "try" | "can" | "convert")
            && !f.args.iter().any(|a| self.uses_bound(a));
        if !lazy {
            let mut out = f.clone();
            out.args = args;
            return Expression::FuncCall(Box::new(out));
        }
        match name {
            "try" => {
                if args.is_empty() {
                    return fail(
                        "error in function `try`: at least one argument is required".into(),
                    );
                }
                let mut last = String::new();
                for a in &args {
                    match self.eval(a) {
                        Ok(v) => return Expression::from(v),
                        Err(e) => last = e,
                    }
                }
                fail(format!(
                    "error in function `try`: no argument succeeded; the last one failed with: {last}"
                ))
            }
            "can" => {
                if args.len() != 1 {
                    return fail(
                        "error in function `can`: exactly one argument is required".into(),
                    );
                }
                Expression::Bool(self.eval(&args[0]).is_ok())
            }
            _ => {
                // convert(value, type)
                if args.len() != 2 {
                    return fail(
                        "error in function `convert`: two arguments are required, a value and a type".into(),
                    );
                }
                let ty = match super::types_constraint::parse_type(&f.args[1]) {
                    Ok(t) => t,
                    Err(e) => return fail(format!("error in function `convert`: {e}")),
                };
                match self.eval(&args[0]) {
                    Ok(v) => match super::types_constraint::convert(&v, &ty) {
                        Ok(v) => Expression::from(v),
                        Err(e) => fail(format!(
                            "error in function `convert`: cannot convert to {ty}: {e}"
                        )),
                    },
                    Err(e) => fail(e),
                }
            }
        }
    }
}

/// `e` with every free use of the variable `name` replaced by `value`: how
/// a `dynamic` block's iterator reaches the blocks it makes when those are
/// evaluated later (provisioners, per source).
pub fn substitute(e: &Expression, name: &str, value: &hcl::Value) -> Expression {
    subst(e, name, value, 0)
}

fn subst(e: &Expression, name: &str, value: &hcl::Value, depth: usize) -> Expression {
    if depth > MAX_DEPTH {
        return e.clone();
    }
    let d = depth + 1;
    let s = |x: &Expression| subst(x, name, value, d);
    match e {
        Expression::Variable(v) if v.as_str() == name => {
            Expression::Parenthesis(Box::new(Expression::from(value.clone())))
        }
        Expression::Array(items) => Expression::Array(items.iter().map(s).collect()),
        Expression::Object(o) => {
            let mut out = hcl::Object::new();
            for (k, v) in o {
                let k = match k {
                    hcl::ObjectKey::Expression(ke) if !matches!(ke, Expression::Variable(_)) => {
                        hcl::ObjectKey::Expression(s(ke))
                    }
                    other => other.clone(),
                };
                out.insert(k, s(v));
            }
            Expression::Object(out)
        }
        Expression::TemplateExpr(t) => {
            let Ok(mut tpl) = hcl::Template::from_expr(t) else {
                return e.clone();
            };
            subst_template(&mut tpl, name, value, d);
            let text = tpl.to_string();
            Expression::TemplateExpr(Box::new(match t.as_ref() {
                TemplateExpr::QuotedString(_) => TemplateExpr::QuotedString(text),
                TemplateExpr::Heredoc(h) => TemplateExpr::Heredoc(
                    hcl::expr::Heredoc::new(h.delimiter.clone(), text).with_strip_mode(h.strip),
                ),
            }))
        }
        Expression::Traversal(t) => {
            let mut t = t.as_ref().clone();
            t.expr = s(&t.expr);
            for op in &mut t.operators {
                if let hcl::TraversalOperator::Index(i) = op {
                    *i = s(i);
                }
            }
            Expression::Traversal(Box::new(t))
        }
        Expression::FuncCall(f) => {
            let mut f = f.as_ref().clone();
            f.args = f.args.iter().map(s).collect();
            Expression::FuncCall(Box::new(f))
        }
        Expression::Parenthesis(inner) => Expression::Parenthesis(Box::new(s(inner))),
        Expression::Conditional(c) => {
            let mut c = c.as_ref().clone();
            c.cond_expr = s(&c.cond_expr);
            c.true_expr = s(&c.true_expr);
            c.false_expr = s(&c.false_expr);
            Expression::Conditional(Box::new(c))
        }
        Expression::Operation(op) => Expression::Operation(Box::new(match op.as_ref() {
            Operation::Unary(u) => {
                let mut u = u.clone();
                u.expr = s(&u.expr);
                Operation::Unary(u)
            }
            Operation::Binary(b) => {
                let mut b = b.clone();
                b.lhs_expr = s(&b.lhs_expr);
                b.rhs_expr = s(&b.rhs_expr);
                Operation::Binary(b)
            }
        })),
        Expression::ForExpr(f) => {
            let mut f = f.as_ref().clone();
            f.collection_expr = s(&f.collection_expr);
            let shadowed = f.value_var.as_str() == name
                || f.key_var.as_ref().is_some_and(|k| k.as_str() == name);
            if !shadowed {
                f.key_expr = f.key_expr.as_ref().map(s);
                f.value_expr = s(&f.value_expr);
                f.cond_expr = f.cond_expr.as_ref().map(s);
            }
            Expression::ForExpr(Box::new(f))
        }
        other => other.clone(),
    }
}

fn subst_template(t: &mut hcl::Template, name: &str, value: &hcl::Value, d: usize) {
    for el in t.elements_mut() {
        match el {
            hcl::template::Element::Literal(_) => {}
            hcl::template::Element::Interpolation(i) => i.expr = subst(&i.expr, name, value, d),
            hcl::template::Element::Directive(dir) => match dir.as_mut() {
                hcl::template::Directive::If(i) => {
                    i.cond_expr = subst(&i.cond_expr, name, value, d);
                    subst_template(&mut i.true_template, name, value, d);
                    if let Some(f) = i.false_template.as_mut() {
                        subst_template(f, name, value, d);
                    }
                }
                hcl::template::Directive::For(f) => {
                    f.collection_expr = subst(&f.collection_expr, name, value, d);
                    let shadowed = f.value_var.as_str() == name
                        || f.key_var.as_ref().is_some_and(|k| k.as_str() == name);
                    if !shadowed {
                        subst_template(&mut f.template, name, value, d);
                    }
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::hcl::eval::{to_json, Scope};
    use crate::hcl::parser::Expr;
    use hcl::{Map, Value};
    use kiln_sdk::config::Location;

    fn eval(src: &str) -> Result<String, String> {
        let body: hcl::Body = hcl::parse(&format!("x = {src}\n")).map_err(|e| e.to_string())?;
        let e = body.attributes().next().unwrap().expr.clone();
        let mut vars = Map::new();
        let mut m = Map::new();
        m.insert("a".to_string(), Value::from("1"));
        vars.insert("m".to_string(), Value::Object(m));
        vars.insert("n".to_string(), Value::from("5"));
        let s = Scope {
            vars: Some(vars),
            locals: Some(Map::new()),
            what: "a test",
            ..Scope::default()
        };
        s.eval(&Expr {
            expr: e,
            location: Location {
                file: "t".into(),
                line: 1,
                column: 5,
            },
        })
        .map(|v| to_json(&v).to_string())
        .map_err(|e| e.message)
    }

    #[test]
    fn operands_convert_as_cty_converts_them() {
        for (src, want) in [
            (r#""5" + 1"#, "6"),
            (r#"var.n * "2""#, "10"),
            (r#"-"3""#, "-3"),
            (r#""10" > 9"#, "true"),
            (r#""5" == 5"#, "false"),
            (r#""true" && true"#, "true"),
            (r#"!"false""#, "true"),
            (r#""true" ? "y" : "n""#, r#""y""#),
            (r#""${"2" + 2}-x""#, r#""4-x""#),
            (r#"[for v in ["1", "2"] : v + 1]"#, "[2,3]"),
            (r#"[for v in ["1", "2"] : v if v > 1]"#, r#"["2"]"#),
        ] {
            assert_eq!(eval(src).as_deref(), Ok(want), "{src}");
        }
        let e = eval(r#""a" + 1"#).unwrap_err();
        assert!(
            e.starts_with("invalid operand: a number is required, found `a`"),
            "{e}"
        );
    }

    #[test]
    fn try_and_can_are_lazy() {
        for (src, want) in [
            (r#"try(var.m.b, "fallback")"#, r#""fallback""#),
            (r#"try(var.m.a, "fallback")"#, r#""1""#),
            (r#"try(tonumber("x"), 0) + 1"#, "1"),
            (r#"can(var.m.b)"#, "false"),
            (r#"can(var.m.a)"#, "true"),
            (r#"can(regex("^a", "abc"))"#, "true"),
            (r#""${try(var.m.z, "t")}!""#, r#""t!""#),
            (r#"convert(["a", 1], list(string))"#, r#"["a","1"]"#),
            (r#"convert("5", number) + 1"#, "6"),
        ] {
            assert_eq!(eval(src).as_deref(), Ok(want), "{src}");
        }
        let e = eval(r#"try(var.m.b, var.m.c)"#).unwrap_err();
        assert!(
            e.starts_with("error in function `try`: no argument succeeded"),
            "{e}"
        );
        let e = eval(r#"convert("x", number)"#).unwrap_err();
        assert!(
            e.contains("error in function `convert`: cannot convert to number"),
            "{e}"
        );
    }
}
