//! Evaluating HCL2 expressions: the scope an expression sees (`var`,
//! `local`, `source`, `build`, `path`, `packer` and the functions), checks
//! of every reference before evaluating (so that an undefined variable gets
//! a "did you mean"). The conversions between HCL values and the JSON
//! values components are configured with come from `kiln-hcl-functions`
//! (re-exported here), which the function library shares.

use std::sync::Mutex;

use hcl::eval::{Context, Evaluate};
use hcl::{Expression, Map, Value};
use kiln_sdk::config::{ConfigError, Location};
use kiln_sdk::generated;

pub use super::references::{references, Reference};
pub use kiln_hcl_functions::value::{display, eval_message, from_json, kind, to_json};

use super::parser::{hint_for, Expr};

/// The generated build data a provisioner or post-processor may refer to
/// as `build.X`; unknown until the builder ran, so each evaluates to the
/// Go-template placeholder that components render at run time.
pub const BUILD_PLACEHOLDERS: &[&str] = &[
    generated::ID,
    generated::HOST,
    generated::PORT,
    generated::USER,
    generated::PASSWORD,
    generated::CONN_TYPE,
    generated::PACKER_RUN_UUID,
    generated::PACKER_HTTP_IP,
    generated::PACKER_HTTP_PORT,
    generated::PACKER_HTTP_ADDR,
    generated::SSH_PUBLIC_KEY,
    generated::SSH_PRIVATE_KEY,
    generated::WINRM_PASSWORD,
];

/// What a value not known until a build runs evaluates to: the outputs of
/// data sources that `validate` does not read (without
/// `-evaluate-datasources`), and whatever is computed from them. It is
/// Packer's placeholder for an unknown string, written into component
/// configurations in its place, so that a component checks the rest of its
/// configuration. See [`Scope::unknown`].
pub const UNKNOWN: &str = "<unknown>";

/// What an expression can see.
#[derive(Clone, Debug, Default)]
pub struct Scope {
    /// `var.*`; `None` where variables cannot be used (variable defaults).
    pub vars: Option<Map<String, Value>>,
    /// `local.*`; `None` where locals cannot be used.
    pub locals: Option<Map<String, Value>>,
    /// `data.TYPE.NAME`; `None` where data sources cannot be used.
    pub data: Option<Map<String, Value>>,
    /// Iterator variables of enclosing `dynamic` blocks (`name.key`,
    /// `name.value`).
    pub iterators: Map<String, Value>,
    /// `source.name` and `source.type`.
    pub source: Option<(String, String)>,
    /// `build.name` (the build block's name); `build.*` is usable when set.
    pub build: Option<String>,
    /// `path.root`: the template's directory.
    pub path_root: String,
    /// `env()` is allowed (variable defaults only).
    pub allow_env: bool,
    /// What is being evaluated, for messages (`a variable default`).
    pub what: &'static str,
    /// The values not known yet (`data.TYPE.NAME`, `local.NAME`): an
    /// expression that refers to one evaluates to [`UNKNOWN`] (element by
    /// element in a list or object literal) instead of being computed.
    pub unknown: std::collections::BTreeSet<String>,
    /// The context built for this scope's expressions (see
    /// [`ContextCache`]); starts empty.
    pub cache: ContextCache,
}

/// The evaluation context a [`Scope`] builds once and reuses for each of
/// its expressions: the function table (registering the whole library for
/// every expression used to dominate evaluating a template's locals),
/// `path` and `packer`. Each expression then declares its own `var`,
/// `local` and `data` subsets, iterators, `source` and `build` in it,
/// overwriting the previous expression's. hcl-rs cannot take a variable
/// back, so the context is built again whenever the names a scope declares
/// change. A clone of a scope starts with an empty cache; an evaluation
/// that finds the cache in use (re-entered, or on another thread) builds a
/// context of its own, as before.
#[derive(Default)]
pub struct ContextCache(Mutex<Option<CachedContext>>);

/// A built context and what it was built for.
struct CachedContext {
    allow_env: bool,
    path_root: String,
    /// The root names the scope declares besides `path` and `packer`, in
    /// declaration order.
    names: Vec<String>,
    ctx: Context<'static>,
}

impl Clone for ContextCache {
    fn clone(&self) -> Self {
        ContextCache::default()
    }
}

impl std::fmt::Debug for ContextCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ContextCache")
    }
}

impl Scope {
    /// The root names this scope declares besides `path` and `packer`.
    fn declared_names(&self) -> impl Iterator<Item = &str> {
        [
            self.vars.as_ref().map(|_| "var"),
            self.locals.as_ref().map(|_| "local"),
            self.data.as_ref().map(|_| "data"),
        ]
        .into_iter()
        .flatten()
        .chain(self.iterators.keys().map(String::as_str))
        .chain(self.source.as_ref().map(|_| "source"))
        .chain(self.build.as_ref().map(|_| "build"))
    }

    /// What every expression of this scope sees alike: the functions,
    /// `path` and `packer`.
    fn base_context(&self) -> Context<'static> {
        let mut ctx = Context::new();
        kiln_hcl_functions::register(&mut ctx, self.allow_env);
        let cwd = std::env::current_dir()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut path = Map::new();
        path.insert("cwd".into(), Value::from(cwd));
        path.insert("root".into(), Value::from(self.path_root.clone()));
        ctx.declare_var("path", Value::Object(path));
        let mut packer = Map::new();
        packer.insert("version".into(), Value::from(kiln_sdk::PACKER_HCL2_VERSION));
        ctx.declare_var("packer", Value::Object(packer));
        ctx
    }

    /// Declares in `ctx` what an expression with references `refs` sees
    /// besides the base context. Of `var`, `local` and `data` it holds only
    /// the entries the expression refers to (all of one root when it uses
    /// the root as a whole), so that evaluating each of N locals costs what
    /// that local refers to, not a copy of all N values: a template's
    /// evaluation stays linear in its locals and references.
    fn declare(&self, ctx: &mut Context<'static>, refs: &[Reference]) {
        let only = |root: &str, map: &Map<String, Value>| -> Value {
            let mut wanted: Vec<&str> = Vec::new();
            for r in refs.iter().filter(|r| r.root == root) {
                match &r.attr {
                    Some(a) => wanted.push(a),
                    None => return Value::Object(map.clone()),
                }
            }
            Value::Object(
                wanted
                    .into_iter()
                    .filter_map(|k| map.get_key_value(k))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            )
        };
        if let Some(v) = &self.vars {
            ctx.declare_var("var", only("var", v));
        }
        if let Some(l) = &self.locals {
            ctx.declare_var("local", only("local", l));
        }
        if let Some(d) = &self.data {
            ctx.declare_var("data", only("data", d));
        }
        for (k, v) in &self.iterators {
            ctx.declare_var(k.as_str(), v.clone());
        }
        if let Some((name, ty)) = &self.source {
            let mut s = Map::new();
            s.insert("name".into(), Value::from(name.clone()));
            s.insert("type".into(), Value::from(ty.clone()));
            ctx.declare_var("source", Value::Object(s));
        }
        if let Some(name) = &self.build {
            let mut b = Map::new();
            b.insert("name".into(), Value::from(name.clone()));
            for k in BUILD_PLACEHOLDERS {
                b.insert((*k).into(), Value::from(format!("{{{{ build `{k}` }}}}")));
            }
            ctx.declare_var("build", Value::Object(b));
        }
    }

    /// Evaluates `e`, whose references are `refs`, in this scope's cached
    /// context (see [`ContextCache`]).
    fn evaluate(&self, e: &Expr, refs: &[Reference]) -> Result<Value, ConfigError> {
        let run = |ctx: &Context<'static>| {
            let expr = super::prepare::rewrite(&e.expr, ctx);
            expr.evaluate(ctx).map_err(|err| {
                let mut ce = ConfigError::new(eval_message(&err));
                ce.location = Some(e.location.clone());
                ce
            })
        };
        let Ok(mut cache) = self.cache.0.try_lock() else {
            let mut ctx = self.base_context();
            self.declare(&mut ctx, refs);
            return run(&ctx);
        };
        let fits = cache.as_ref().is_some_and(|c| {
            c.allow_env == self.allow_env
                && c.path_root == self.path_root
                && c.names.iter().map(String::as_str).eq(self.declared_names())
        });
        if !fits {
            *cache = Some(CachedContext {
                allow_env: self.allow_env,
                path_root: self.path_root.clone(),
                names: self.declared_names().map(str::to_string).collect(),
                ctx: self.base_context(),
            });
        }
        let cached = cache.as_mut().expect("the cache was just filled");
        self.declare(&mut cached.ctx, refs);
        run(&cached.ctx)
    }

    /// Checks every reference of `expr` against this scope.
    pub fn check_references(&self, e: &Expr) -> Result<(), ConfigError> {
        self.check(e, &references(&e.expr))
    }

    /// Checks `refs`, the references of `e`, against this scope.
    fn check(&self, e: &Expr, refs: &[Reference]) -> Result<(), ConfigError> {
        for r in refs {
            let err = |msg: String, hint: Option<String>| {
                let mut ce = ConfigError::new(msg);
                ce.hint = hint;
                ce.location = Some(e.location.clone());
                ce
            };
            let check =
                |kind: &str, map: &Option<Map<String, Value>>, decl: &str| match (map, &r.attr) {
                    (None, _) => Err(err(
                        format!("`{}` cannot be used in {}", dotted(r), self.what),
                        Some(match kind {
                            "var" => {
                                "variables cannot refer to other variables; use a `locals` block"
                                    .into()
                            }
                            _ => "locals are not available here".into(),
                        }),
                    )),
                    (Some(m), Some(a)) if !m.contains_key(a) => Err(err(
                        format!(
                            "undefined {} `{kind}.{a}`",
                            if kind == "var" { "variable" } else { "local" }
                        ),
                        hint_for(a, m.keys().map(String::as_str))
                            .map(|h| h.replacen('`', &format!("`{kind}."), 1))
                            .or_else(|| Some(format!("declare it with {decl}"))),
                    )),
                    _ => Ok(()),
                };
            match r.root.as_str() {
                "var" => check(
                    "var",
                    &self.vars,
                    &format!("a `variable \"{}\"` block", r.attr.as_deref().unwrap_or("")),
                )?,
                "local" => check(
                    "local",
                    &self.locals,
                    &format!(
                        "a `locals` block (`{} = …`)",
                        r.attr.as_deref().unwrap_or("")
                    ),
                )?,
                "source" if self.source.is_none() => return Err(err(
                    format!("`{}` cannot be used in {}", dotted(r), self.what),
                    Some(
                        "`source.name` and `source.type` are known in `source` and `build` blocks"
                            .into(),
                    ),
                )),
                "build" if self.build.is_none() => {
                    return Err(err(
                        format!("`{}` cannot be used in {}", dotted(r), self.what),
                        Some("`build.*` is known in provisioners and post-processors".into()),
                    ))
                }
                "data" => {
                    let Some(data) = &self.data else {
                        return Err(err(
                            format!("`{}` cannot be used in {}", dotted(r), self.what),
                            Some("data sources are known in locals, data sources, sources and builds".into()),
                        ));
                    };
                    let (Some(ty), Some(name)) = (&r.attr, &r.attr2) else {
                        return Err(err(
                            format!("`{}` is not a data source", dotted(r)),
                            Some("refer to a data source as `data.TYPE.NAME.ATTRIBUTE`".into()),
                        ));
                    };
                    let known = match data.get(ty) {
                        Some(Value::Object(o)) => o.contains_key(name),
                        _ => false,
                    };
                    if !known {
                        let all: Vec<String> = data
                            .iter()
                            .flat_map(|(t, v)| match v {
                                Value::Object(o) => {
                                    o.keys().map(|n| format!("data.{t}.{n}")).collect()
                                }
                                _ => Vec::new(),
                            })
                            .collect();
                        let want = format!("data.{ty}.{name}");
                        return Err(err(
                            format!("undefined data source `{want}`"),
                            hint_for(&want, all.iter().map(String::as_str)).or_else(|| {
                                Some(format!(
                                    "declare it with `data \"{ty}\" \"{name}\" {{ … }}`"
                                ))
                            }),
                        ));
                    }
                }
                "path" => {
                    if let Some(a) = &r.attr {
                        if a != "cwd" && a != "root" {
                            return Err(err(
                                format!("unknown attribute `path.{a}`"),
                                Some("`path` has `cwd` and `root`".into()),
                            ));
                        }
                    }
                }
                "packer" => {
                    if let Some(a) = &r.attr {
                        if a != "version" {
                            return Err(err(
                                format!("unknown attribute `packer.{a}`"),
                                Some("`packer` has `version`".into()),
                            ));
                        }
                    }
                }
                "build" => {
                    if let Some(a) = &r.attr {
                        if a != "name" && !BUILD_PLACEHOLDERS.contains(&a.as_str()) {
                            let mut h =
                                hint_for(a, BUILD_PLACEHOLDERS.iter().copied().chain(["name"]));
                            if let Some(x) = h.as_mut() {
                                *x = x.replacen('`', "`build.", 1);
                            }
                            return Err(err(format!("unknown attribute `build.{a}`"), h));
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The first value not known yet that `e` refers to (`data.T.N` or
    /// `local.X`; see [`Scope::unknown`]).
    pub fn unknown_ref(&self, e: &Expr) -> Option<String> {
        if self.unknown.is_empty() {
            return None;
        }
        self.first_unknown(&references(&e.expr))
    }

    /// The first of `refs` that is a value not known yet.
    fn first_unknown(&self, refs: &[Reference]) -> Option<String> {
        if self.unknown.is_empty() {
            return None;
        }
        refs.iter().find_map(|r| {
            let name = match (r.root.as_str(), &r.attr, &r.attr2) {
                ("data", Some(t), Some(n)) => format!("data.{t}.{n}"),
                ("local", Some(a), _) => format!("local.{a}"),
                _ => return None,
            };
            self.unknown.contains(&name).then_some(name)
        })
    }

    /// An error for `key`, which must be known when the template is
    /// evaluated but refers to `name`, a value not known yet.
    pub fn unknown_error(e: &Expr, key: &str, name: &str) -> ConfigError {
        at(
            e,
            format!("`{key}` depends on `{name}`, which is not known until data sources are read"),
        )
        .with_hint(
            "`validate` does not read data sources; run `kiln validate -evaluate-datasources`",
        )
    }

    /// Evaluates `e`, checking its references first (one walk of `e`
    /// finds them for the check, for the values not known yet and for
    /// the context).
    pub fn eval(&self, e: &Expr) -> Result<Value, ConfigError> {
        let refs = references(&e.expr);
        self.check(e, &refs)?;
        if self.first_unknown(&refs).is_some() {
            return self.eval_unknown(e);
        }
        self.evaluate(e, &refs)
    }
}

impl Scope {
    /// `e` refers to a value not known yet: a list or object literal keeps
    /// its shape (each element evaluated on its own), anything else is
    /// [`UNKNOWN`].
    fn eval_unknown(&self, e: &Expr) -> Result<Value, ConfigError> {
        let sub = |x: &Expression| Expr {
            expr: x.clone(),
            location: e.location.clone(),
        };
        match &e.expr {
            Expression::Array(items) => items
                .iter()
                .map(|x| self.eval(&sub(x)))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            Expression::Object(o) => {
                let mut out = Map::new();
                for (k, v) in o {
                    let key = match k {
                        hcl::ObjectKey::Identifier(i) => i.as_str().to_string(),
                        hcl::ObjectKey::Expression(Expression::Variable(v)) => {
                            v.as_str().to_string()
                        }
                        hcl::ObjectKey::Expression(x) => display(&self.eval(&sub(x))?),
                        _ => continue,
                    };
                    out.insert(key, self.eval(&sub(v))?);
                }
                Ok(Value::Object(out))
            }
            _ => Ok(Value::from(UNKNOWN)),
        }
    }
}

fn dotted(r: &Reference) -> String {
    match &r.attr {
        Some(a) => format!("{}.{a}", r.root),
        None => r.root.clone(),
    }
}

/// Evaluates `e` with no variables at all (constant expressions such as
/// var-file values and `packer` settings); functions still work.
pub fn eval_constant(e: &Expr, what: &'static str) -> Result<Value, ConfigError> {
    Scope {
        what,
        ..Scope::default()
    }
    .eval(e)
}

/// Where an expression starts, for errors that are not about evaluation.
pub fn at(e: &Expr, message: impl Into<String>) -> ConfigError {
    let mut ce = ConfigError::new(message);
    ce.location = Some(e.location.clone());
    ce
}

/// A located error.
pub fn located(location: &Location, message: impl Into<String>) -> ConfigError {
    let mut ce = ConfigError::new(message);
    ce.location = Some(location.clone());
    ce
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expr(s: &str) -> Expr {
        let body: hcl::Body = hcl::parse(&format!("x = {s}")).unwrap();
        let e = body.attributes().next().unwrap().expr.clone();
        Expr {
            expr: e,
            location: Location {
                file: "t".into(),
                line: 1,
                column: 5,
            },
        }
    }

    #[test]
    fn finds_references_everywhere() {
        let r = references(&expr(r#""${var.a}-%{ if local.b }x%{ endif }" "#).expr);
        assert_eq!(r[0].attr.as_deref(), Some("a"));
        assert_eq!(r[1].root, "local");
        let r = references(&expr("[for s in var.l : upper(s)]").expr);
        assert_eq!(r.len(), 1);
    }

    #[test]
    fn undefined_variables_get_a_suggestion() {
        let mut vars = Map::new();
        vars.insert("region".to_string(), Value::from("x"));
        let s = Scope {
            vars: Some(vars),
            locals: Some(Map::new()),
            what: "a test",
            ..Scope::default()
        };
        let e = s.eval(&expr("var.regoin")).unwrap_err();
        assert_eq!(e.message, "undefined variable `var.regoin`");
        assert_eq!(e.hint.as_deref(), Some("did you mean `var.region`?"));
        assert_eq!(
            s.eval(&expr("\"${var.region}-1\"")).unwrap(),
            Value::from("x-1")
        );
        let e = s.eval(&expr("source.name")).unwrap_err();
        assert!(e.message.contains("cannot be used in a test"), "{e}");
    }

    /// A scope's cached context gives what a fresh scope gives, whatever
    /// was evaluated in it before: no variable of an earlier expression or
    /// an earlier shape of the scope stays visible.
    #[test]
    fn a_reused_scope_evaluates_as_a_fresh_one() {
        let mut vars = Map::new();
        vars.insert("a".to_string(), Value::from(1));
        vars.insert("b".to_string(), Value::from(2));
        let mut s = Scope {
            vars: Some(vars),
            what: "a test",
            ..Scope::default()
        };
        let fresh = |s: &Scope, e: &str| s.clone().eval(&expr(e));
        for e in [
            "var.a + var.b",
            "var.a",
            "length(var)",
            "upper(\"x\")",
            "path.root",
        ] {
            assert_eq!(s.eval(&expr(e)), fresh(&s, e), "{e}");
        }
        // Only what an expression refers to is declared, for each one.
        assert_eq!(s.eval(&expr("length(var)")).unwrap(), Value::from(2));
        assert_eq!(
            s.eval(&expr("keys(var)")).unwrap(),
            Value::Array(vec![Value::from("a"), Value::from("b")])
        );
        // An iterator declared for a while, then gone.
        s.iterators.insert("it".into(), Value::from("v"));
        assert_eq!(s.eval(&expr("it")).unwrap(), Value::from("v"));
        s.iterators.clear();
        let gone = s.eval(&expr("it")).unwrap_err();
        assert_eq!(Some(gone), fresh(&s, "it").err());
        // `env` follows `allow_env` as it changes.
        std::env::set_var("KILN_TEMPLATE_EVAL_TEST", "set");
        s.allow_env = true;
        assert_eq!(
            s.eval(&expr("env(\"KILN_TEMPLATE_EVAL_TEST\")")).unwrap(),
            Value::from("set")
        );
        s.allow_env = false;
        assert!(s.eval(&expr("env(\"KILN_TEMPLATE_EVAL_TEST\")")).is_err());
        // `path.root` follows `path_root`.
        s.path_root = "/elsewhere".into();
        assert_eq!(
            s.eval(&expr("path.root")).unwrap(),
            Value::from("/elsewhere")
        );
    }

    #[test]
    fn build_values_are_placeholders() {
        let s = Scope {
            build: Some("b".into()),
            ..Scope::default()
        };
        assert_eq!(
            s.eval(&expr("\"${build.name}:${build.ID}\"")).unwrap(),
            Value::from("b:{{ build `ID` }}")
        );
    }

    #[test]
    fn unknown_values_are_the_placeholder_and_literals_keep_their_shape() {
        let mut http = Map::new();
        http.insert("v".to_string(), Value::Null);
        let mut data = Map::new();
        data.insert("http".to_string(), Value::Object(http));
        let s = Scope {
            vars: Some(Map::new()),
            locals: Some(Map::new()),
            data: Some(data),
            unknown: ["data.http.v".to_string()].into(),
            ..Scope::default()
        };
        let u = Value::from(UNKNOWN);
        assert_eq!(
            s.unknown_ref(&expr("data.http.v.body")).as_deref(),
            Some("data.http.v")
        );
        assert_eq!(s.unknown_ref(&expr("\"x\"")), None);
        assert_eq!(s.eval(&expr("jsondecode(data.http.v.body).x")).unwrap(), u);
        assert_eq!(
            s.eval(&expr("[\"a\", \"${data.http.v.body}\"]")).unwrap(),
            Value::Array(vec![Value::from("a"), u.clone()])
        );
        let o = s
            .eval(&expr(
                "{ a = data.http.v.body, \"b\" = 1, c = [data.http.v.url] }",
            ))
            .unwrap();
        assert_eq!(
            to_json(&o),
            serde_json::json!({"a": UNKNOWN, "b": 1, "c": [UNKNOWN]})
        );
        // References are still checked first.
        let e = s.eval(&expr("[data.http.w.body]")).unwrap_err();
        assert!(
            e.message.contains("undefined data source `data.http.w`"),
            "{e}"
        );
    }
}
