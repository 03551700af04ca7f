//! Go text/template interpolation with Packer's functions, for legacy JSON
//! templates and for components' own placeholders (`{{.Path}}`, `{{.Vars}}`).
//!
//! A [`Context`] holds what the functions can see: user variables, the build
//! name and type, the template directory, component data (`.Path`…) and the
//! generated build data behind `{{ build `ID` }}`. [`render`] is pure apart
//! from reading the clock, the working directory and (in variable defaults
//! only) the environment.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use gotmpl::parse::{ListNode, Node};
use gotmpl::{MissingKey, Template, TemplateError, Value};

/// Limits on what rendering one string may do, so that no template can hang
/// kiln or exhaust its memory (Go's text/template has none; no real template
/// comes near them): `{{range}}` iterations, all loops together…
const MAX_RANGE_ITERS: u64 = 10_000;
/// …`{{template}}` invocations, counted on the parsed string with recursive
/// calls counted once (each `define` calling the previous one twice doubles
/// the count)…
const MAX_TEMPLATE_CALLS: usize = 100;
/// …and work: bytes written, plus the bytes every function call takes and
/// returns, each call counting [`CALL_COST`] bytes more.
const MAX_WORK: usize = 16 << 20;
/// What one function call costs of [`MAX_WORK`], whatever its arguments.
const CALL_COST: usize = 1024;

/// Go's text/template builtins, which gotmpl does not export; `and` and `or`
/// are evaluated by the executor itself and never reach the function table.
const BUILTINS: &[&str] = &[
    "call", "eq", "ge", "gt", "html", "index", "js", "le", "len", "lt", "ne", "not", "print",
    "printf", "println", "slice", "urlquery",
];

/// Generated build data (`{{ build `Host` }}`): unknown while preparing,
/// known once the builder has produced it.
#[derive(Clone, Debug, Default)]
pub enum Generated {
    /// Prepare time: `build` renders back to itself so the component can
    /// render it again at run time.
    #[default]
    Placeholder,
    /// Run time: the builder's generated data.
    Known(Arc<BTreeMap<String, String>>),
}

/// What the template functions can see. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Context {
    /// Final values of user variables (`{{user `x`}}`).
    pub user_variables: Arc<BTreeMap<String, String>>,
    /// `{{build_name}}`.
    pub build_name: Option<String>,
    /// `{{build_type}}`.
    pub build_type: Option<String>,
    /// `{{template_dir}}`: the directory of the template file, absolute.
    pub template_dir: Option<String>,
    /// `env` is allowed (only in variable defaults, as in Packer).
    pub enable_env: bool,
    /// Component data, reachable as `{{.Key}}`.
    pub data: BTreeMap<String, serde_json::Value>,
    /// `{{build `Key`}}`.
    pub generated: Generated,
    /// `{{timestamp}}`: fixed for the whole run, as in Packer.
    pub init_time: chrono::DateTime<chrono::Utc>,
    /// `{{packer_version}}`: [`crate::PACKER_COMPAT_VERSION`] in JSON
    /// templates, [`crate::PACKER_HCL2_VERSION`] in HCL2 ones (today's
    /// Packer gives its components its own version).
    pub packer_version: &'static str,
}

impl Default for Context {
    fn default() -> Self {
        Context {
            user_variables: Default::default(),
            build_name: None,
            build_type: None,
            template_dir: None,
            enable_env: false,
            data: BTreeMap::new(),
            generated: Generated::Placeholder,
            init_time: chrono::Utc::now(),
            packer_version: crate::PACKER_COMPAT_VERSION,
        }
    }
}

impl Context {
    /// A copy of this context with extra `{{.Key}}` data.
    pub fn with_data<I, K>(&self, entries: I) -> Context
    where
        I: IntoIterator<Item = (K, serde_json::Value)>,
        K: Into<String>,
    {
        let mut c = self.clone();
        for (k, v) in entries {
            c.data.insert(k.into(), v);
        }
        c
    }

    /// A copy of this context for run time: the builder's generated data
    /// known both as `{{ build `Key` }}` and as `{{ .Key }}`.
    pub fn with_generated(&self, generated: &BTreeMap<String, String>) -> Context {
        let mut c = self.with_data(
            generated
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))),
        );
        c.generated = Generated::Known(Arc::new(generated.clone()));
        c
    }
}

/// Why a string could not be interpolated.
#[derive(Debug, thiserror::Error)]
pub enum InterpolateError {
    /// The template syntax is wrong.
    #[error("template syntax error in `{input}`: {message}")]
    Syntax {
        /// The string as written.
        input: String,
        /// What the parser said.
        message: String,
    },
    /// A function or field failed while rendering.
    #[error("error rendering `{input}`: {message}")]
    Exec {
        /// The string as written.
        input: String,
        /// What went wrong.
        message: String,
    },
}

fn to_gotmpl(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::Nil,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or(0.0)),
        },
        serde_json::Value::String(s) => Value::String(s.as_str().into()),
        serde_json::Value::Array(a) => Value::List(a.iter().map(to_gotmpl).collect()),
        serde_json::Value::Object(m) => Value::Map(Arc::new(
            m.iter()
                .map(|(k, v)| (Arc::from(k.as_str()), to_gotmpl(v)))
                .collect(),
        )),
    }
}

fn arg_str(args: &[Value], i: usize, func: &str) -> gotmpl::Result<String> {
    match args.get(i) {
        Some(Value::String(s)) => Ok(s.to_string()),
        Some(other) => Ok(other.to_string()),
        None => Err(TemplateError::Exec(format!(
            "`{func}` expects at least {} argument(s)",
            i + 1
        ))),
    }
}

fn arg_int(args: &[Value], i: usize, func: &str) -> gotmpl::Result<i64> {
    match args.get(i) {
        Some(Value::Int(n)) => Ok(*n),
        Some(Value::Uint(n)) => Ok(*n as i64),
        Some(Value::String(s)) => s
            .parse()
            .map_err(|_| TemplateError::Exec(format!("`{func}` expects an integer, found `{s}`"))),
        _ => Err(TemplateError::Exec(format!(
            "`{func}` expects an integer as argument {}",
            i + 1
        ))),
    }
}

fn str_value(s: impl Into<Arc<str>>) -> Value {
    Value::String(s.into())
}

/// Replaces characters that cloud image names reject with `-` (Packer's
/// `clean_resource_name`, amazon rules).
pub fn clean_resource_name(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "()[]./-'@_ ".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// Formats a time with a Go reference layout (`2006-01-02T15:04:05Z07:00`).
pub fn format_go_time(t: &chrono::DateTime<chrono::Utc>, layout: &str) -> String {
    use chrono::{Datelike, Timelike};
    const TOKENS: &[&str] = &[
        "January",
        "Monday",
        "Z07:00",
        "-07:00",
        "Z0700",
        "-0700",
        "2006",
        ".000000000",
        ".000000",
        ".000",
        "Jan",
        "Mon",
        "MST",
        "002",
        "_2",
        "01",
        "02",
        "03",
        "04",
        "05",
        "06",
        "15",
        "PM",
        "pm",
        "1",
        "2",
        "3",
        "4",
        "5",
    ];
    let mut out = String::new();
    let mut rest = layout;
    'outer: while !rest.is_empty() {
        for tok in TOKENS {
            if let Some(after) = rest.strip_prefix(tok) {
                let s = match *tok {
                    "January" => t.format("%B").to_string(),
                    "Monday" => t.format("%A").to_string(),
                    "Z07:00" | "Z0700" => "Z".to_string(),
                    "-07:00" => "+00:00".to_string(),
                    "-0700" => "+0000".to_string(),
                    "2006" => format!("{:04}", t.year()),
                    ".000000000" => format!(".{:09}", t.nanosecond() % 1_000_000_000),
                    ".000000" => format!(".{:06}", t.nanosecond() / 1000 % 1_000_000),
                    ".000" => format!(".{:03}", t.nanosecond() / 1_000_000 % 1000),
                    "Jan" => t.format("%b").to_string(),
                    "Mon" => t.format("%a").to_string(),
                    "MST" => "UTC".to_string(),
                    "002" => format!("{:03}", t.ordinal()),
                    "_2" => format!("{:>2}", t.day()),
                    "01" => format!("{:02}", t.month()),
                    "02" => format!("{:02}", t.day()),
                    "03" => format!("{:02}", (t.hour() + 11) % 12 + 1),
                    "04" => format!("{:02}", t.minute()),
                    "05" => format!("{:02}", t.second()),
                    "06" => format!("{:02}", t.year() % 100),
                    "15" => format!("{:02}", t.hour()),
                    "PM" => (if t.hour() >= 12 { "PM" } else { "AM" }).to_string(),
                    "pm" => (if t.hour() >= 12 { "pm" } else { "am" }).to_string(),
                    "1" => t.month().to_string(),
                    "2" => t.day().to_string(),
                    "3" => ((t.hour() + 11) % 12 + 1).to_string(),
                    "4" => t.minute().to_string(),
                    "5" => t.second().to_string(),
                    _ => String::new(),
                };
                out.push_str(&s);
                rest = after;
                continue 'outer;
            }
        }
        let c = rest.chars().next().unwrap_or(' ');
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

fn strftime(t: &chrono::DateTime<chrono::Utc>, format: &str) -> gotmpl::Result<String> {
    use chrono::format::{Item, StrftimeItems};
    let items: Vec<Item<'_>> = StrftimeItems::new(format).collect();
    if items.iter().any(|i| matches!(i, Item::Error)) {
        return Err(TemplateError::Exec(format!(
            "invalid strftime format `{format}`"
        )));
    }
    Ok(t.format_with_items(items.into_iter()).to_string())
}

/// What is left of one render's [`MAX_WORK`]. Shared by the function table
/// and the output, so it is atomic (gotmpl wants `Send + Sync` functions).
#[derive(Clone)]
struct Budget(Arc<AtomicUsize>);

impl Budget {
    fn new() -> Self {
        Budget(Arc::new(AtomicUsize::new(MAX_WORK)))
    }

    fn spend(&self, n: usize) -> gotmpl::Result<()> {
        self.0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                left.checked_sub(n)
            })
            .map(|_| ())
            .map_err(|_| {
                self.0.store(0, Ordering::Relaxed);
                budget_error()
            })
    }

    fn exhausted(&self) -> bool {
        self.0.load(Ordering::Relaxed) == 0
    }
}

fn budget_error() -> TemplateError {
    TemplateError::Exec(format!(
        "the template does too much work (more than {} MiB of text, counting what its functions make)",
        MAX_WORK >> 20
    ))
}

fn text_len(v: &Value) -> usize {
    match v {
        Value::String(s) => s.len(),
        _ => 0,
    }
}

/// Registers template functions that spend from a [`Budget`].
trait Metered {
    fn metered(
        self,
        budget: &Budget,
        name: &str,
        f: impl Fn(&[Value]) -> gotmpl::Result<Value> + Send + Sync + 'static,
    ) -> Self;
}

impl Metered for Template {
    fn metered(
        self,
        budget: &Budget,
        name: &str,
        f: impl Fn(&[Value]) -> gotmpl::Result<Value> + Send + Sync + 'static,
    ) -> Self {
        let budget = budget.clone();
        self.func(name, move |args| {
            budget.spend(CALL_COST + args.iter().map(text_len).sum::<usize>())?;
            let v = f(args)?;
            budget.spend(text_len(&v))?;
            Ok(v)
        })
    }
}

/// Calls one of gotmpl's [`BUILTINS`] through a template that holds nothing
/// but that call, and catches its result.
fn call_builtin(name: &str, args: &[Value]) -> gotmpl::Result<Value> {
    let result = Arc::new(std::sync::Mutex::new(Value::Nil));
    let slot = result.clone();
    let params: String = (0..args.len()).map(|i| format!(" .a{i}")).collect();
    let data = Value::Map(Arc::new(
        args.iter()
            .enumerate()
            .map(|(i, a)| (Arc::from(format!("a{i}").as_str()), a.clone()))
            .collect(),
    ));
    Template::new("")
        .func("result", move |a| {
            if let (Ok(mut r), Some(v)) = (slot.lock(), a.first()) {
                *r = v.clone();
            }
            Ok(str_value(""))
        })
        .parse(&format!("{{{{result ({name}{params})}}}}"))?
        .execute_to_string(&data)?;
    let value = result.lock().map(|v| v.clone()).unwrap_or(Value::Nil);
    Ok(value)
}

/// How many `{{template}}` invocations running `list` makes at most, each
/// recursive call counted once: recursion ends on gotmpl's depth limit or
/// on a test that needs a (metered) function. Stops counting past
/// [`MAX_TEMPLATE_CALLS`].
fn template_calls(tpl: &Template, list: &ListNode, stack: &mut Vec<String>) -> usize {
    let mut calls = 0usize;
    for node in &list.nodes {
        if calls > MAX_TEMPLATE_CALLS {
            break;
        }
        calls = calls.saturating_add(match node {
            Node::List(l) => template_calls(tpl, l, stack),
            Node::If(b) | Node::Range(b) | Node::With(b) => template_calls(tpl, &b.body, stack)
                .saturating_add(
                    b.else_body
                        .as_ref()
                        .map_or(0, |e| template_calls(tpl, e, stack)),
                ),
            Node::Template(t) => {
                let name = t.name.as_str();
                match tpl.lookup(name) {
                    Some(body) if !stack.iter().any(|s| s == name) => {
                        stack.push(name.to_string());
                        let n = template_calls(tpl, body, stack);
                        stack.pop();
                        n.saturating_add(1)
                    }
                    _ => 1,
                }
            }
            _ => 0,
        });
    }
    calls
}

/// The rendered text, spending from the budget as it grows.
struct Output<'a> {
    text: String,
    budget: &'a Budget,
}

impl fmt::Write for Output<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.budget.spend(s.len()).map_err(|_| fmt::Error)?;
        self.text.push_str(s);
        Ok(())
    }
}

/// Go's `strings.Replace` result length, refusing results beyond the budget
/// before building them (an empty `old` matches around every character).
fn check_replace(
    func: &str,
    s: &str,
    old: &str,
    new: &str,
    n: Option<usize>,
) -> gotmpl::Result<()> {
    let matches = if old.is_empty() {
        s.chars().count() + 1
    } else {
        s.matches(old).count()
    };
    let matches = n.map_or(matches, |n| matches.min(n));
    let len = (s.len() as u128 + matches as u128 * new.len() as u128)
        .saturating_sub(matches as u128 * old.len() as u128);
    if len > MAX_WORK as u128 {
        return Err(TemplateError::Exec(format!(
            "`{func}`: the result would be larger than {} MiB",
            MAX_WORK >> 20
        )));
    }
    Ok(())
}

fn build_template(input: &str, ctx: &Context, budget: &Budget) -> gotmpl::Result<Template> {
    let vars = ctx.user_variables.clone();
    let build_name = ctx.build_name.clone();
    let build_type = ctx.build_type.clone();
    let template_dir = ctx.template_dir.clone().unwrap_or_default();
    let enable_env = ctx.enable_env;
    let generated = ctx.generated.clone();
    let init = ctx.init_time;
    let packer_version = ctx.packer_version;

    let mut tpl = Template::new("root")
        .missing_key(MissingKey::Error)
        .max_range_iters(MAX_RANGE_ITERS);
    for &name in BUILTINS {
        tpl = tpl.metered(budget, name, move |args| call_builtin(name, args));
    }
    let tpl = tpl
        .metered(budget, "user", move |args| {
            let k = arg_str(args, 0, "user")?;
            Ok(str_value(vars.get(&k).cloned().unwrap_or_default()))
        })
        .metered(budget, "env", move |args| {
            if !enable_env {
                return Err(TemplateError::Exec(
                    "`env` can only be used in the default value of a variable".into(),
                ));
            }
            let k = arg_str(args, 0, "env")?;
            Ok(str_value(std::env::var(k).unwrap_or_default()))
        })
        // Packer: "build_name not available" where no build is known
        // (variable defaults, the console's JSON mode).
        .metered(budget, "build_name", move |_| match &build_name {
            Some(n) => Ok(str_value(n.as_str())),
            None => Err(TemplateError::Exec("build_name not available".into())),
        })
        .metered(budget, "build_type", move |_| match &build_type {
            Some(t) => Ok(str_value(t.as_str())),
            None => Err(TemplateError::Exec("build_type not available".into())),
        })
        .metered(budget, "template_dir", move |_| {
            Ok(str_value(template_dir.as_str()))
        })
        .metered(budget, "pwd", |_| {
            std::env::current_dir()
                .map(|p| str_value(p.to_string_lossy().as_ref()))
                .map_err(|e| TemplateError::Exec(format!("cannot read the working directory: {e}")))
        })
        .metered(budget, "packer_version", move |_| {
            Ok(str_value(packer_version))
        })
        .metered(budget, "timestamp", move |_| {
            Ok(str_value(init.timestamp().to_string()))
        })
        // Packer's `isotime` and `strftime` use the run's start time too, so
        // every use in one run agrees.
        .metered(budget, "isotime", move |args| {
            let now = init;
            match args.first() {
                Some(layout) => Ok(str_value(format_go_time(&now, &layout.to_string()))),
                None => Ok(str_value(now.format("%Y-%m-%dT%H:%M:%SZ").to_string())),
            }
        })
        .metered(budget, "strftime", move |args| {
            let f = arg_str(args, 0, "strftime")?;
            Ok(str_value(strftime(&init, &f)?))
        })
        .metered(budget, "uuid", |_| {
            Ok(str_value(uuid::Uuid::new_v4().to_string()))
        })
        .metered(budget, "lower", |args| {
            Ok(str_value(arg_str(args, 0, "lower")?.to_lowercase()))
        })
        .metered(budget, "upper", |args| {
            Ok(str_value(arg_str(args, 0, "upper")?.to_uppercase()))
        })
        .metered(budget, "split", |args| {
            let s = arg_str(args, 0, "split")?;
            let sep = arg_str(args, 1, "split")?;
            let i = arg_int(args, 2, "split")?;
            let parts: Vec<&str> = if sep.is_empty() {
                s.split_terminator("").skip(1).collect()
            } else {
                s.split(sep.as_str()).collect()
            };
            usize::try_from(i)
                .ok()
                .and_then(|i| parts.get(i))
                .map(|p| str_value(*p))
                .ok_or_else(|| {
                    TemplateError::Exec(format!(
                        "`split`: index {i} out of range for `{s}` split by `{sep}` ({} parts)",
                        parts.len()
                    ))
                })
        })
        .metered(budget, "replace", |args| {
            let old = arg_str(args, 0, "replace")?;
            let new = arg_str(args, 1, "replace")?;
            let n = arg_int(args, 2, "replace")?;
            let s = arg_str(args, 3, "replace")?;
            check_replace("replace", &s, &old, &new, usize::try_from(n).ok())?;
            Ok(str_value(if n < 0 {
                s.replace(&old, &new)
            } else {
                s.replacen(&old, &new, n as usize)
            }))
        })
        .metered(budget, "replace_all", |args| {
            let old = arg_str(args, 0, "replace_all")?;
            let new = arg_str(args, 1, "replace_all")?;
            let s = arg_str(args, 2, "replace_all")?;
            check_replace("replace_all", &s, &old, &new, None)?;
            Ok(str_value(s.replace(&old, &new)))
        })
        .metered(budget, "clean_resource_name", |args| {
            Ok(str_value(clean_resource_name(&arg_str(
                args,
                0,
                "clean_resource_name",
            )?)))
        })
        .metered(budget, "build", move |args| {
            let k = arg_str(args, 0, "build")?;
            match &generated {
                Generated::Placeholder => Ok(str_value(format!("{{{{ build `{k}` }}}}"))),
                Generated::Known(map) => {
                    map.get(&k).map(|v| str_value(v.as_str())).ok_or_else(|| {
                        TemplateError::Exec(format!(
                            "the builder did not generate `{k}` (known: {})",
                            map.keys()
                                .map(|k| format!("`{k}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ))
                    })
                }
            }
        })
        .metered(budget, "sed", |_| {
            Err(TemplateError::Exec(
                "`sed` was removed from Packer; use `replace` or `replace_all`".into(),
            ))
        })
        .metered(budget, "consul_key", |_| Err(unavailable("consul_key")))
        .metered(budget, "vault", |_| Err(unavailable("vault")))
        .metered(budget, "aws_secretsmanager", |_| {
            Err(unavailable("aws_secretsmanager"))
        })
        .metered(budget, "aws_secretsmanager_raw", |_| {
            Err(unavailable("aws_secretsmanager_raw"))
        })
        .parse(input)?;
    if let Some(root) = tpl.lookup("root") {
        let calls = template_calls(&tpl, root, &mut vec!["root".to_string()]);
        if calls > MAX_TEMPLATE_CALLS {
            return Err(TemplateError::Exec(format!(
                "`{{{{template}}}}` calls expand to more than {MAX_TEMPLATE_CALLS} invocations"
            )));
        }
    }
    Ok(tpl)
}

fn unavailable(f: &str) -> TemplateError {
    TemplateError::Exec(format!(
        "`{f}` needs a network service that kiln cannot reach from this template"
    ))
}

/// Renders `input` with Packer's template functions. Strings without `{{`
/// are returned as they are.
pub fn render(input: &str, ctx: &Context) -> Result<String, InterpolateError> {
    let mut work = MAX_WORK;
    render_within(input, ctx, &mut work)
}

/// [`render`], spending from `work`, a budget of bytes parsed, written, and
/// taken and made by functions that several renders share (one render never
/// spends more than 16 MiB). Fails once the budget is spent, so that values
/// rendered again and again (variables referring to each other) stop.
pub fn render_within(
    input: &str,
    ctx: &Context,
    work: &mut usize,
) -> Result<String, InterpolateError> {
    if !input.contains("{{") {
        return Ok(input.to_string());
    }
    let available = (*work).min(MAX_WORK);
    let budget = Budget(Arc::new(AtomicUsize::new(available)));
    let result = render_budgeted(input, ctx, &budget);
    *work -= available - budget.0.load(Ordering::Relaxed);
    result
}

fn render_budgeted(
    input: &str,
    ctx: &Context,
    budget: &Budget,
) -> Result<String, InterpolateError> {
    let exec_error = |e: TemplateError| InterpolateError::Exec {
        input: input.to_string(),
        message: strip_go_prefix(&e.to_string()),
    };
    budget.spend(input.len()).map_err(exec_error)?;
    let tpl = build_template(input, ctx, budget).map_err(|e| InterpolateError::Syntax {
        input: input.to_string(),
        message: strip_go_prefix(&e.to_string()),
    })?;
    let data = Value::Map(Arc::new(
        ctx.data
            .iter()
            .map(|(k, v)| (Arc::from(k.as_str()), to_gotmpl(v)))
            .collect(),
    ));
    let mut out = Output {
        text: String::new(),
        budget,
    };
    match tpl.execute_fmt(&mut out, &data) {
        Ok(()) => Ok(out.text),
        Err(_) if budget.exhausted() => Err(exec_error(budget_error())),
        Err(e) => Err(exec_error(e)),
    }
}

/// Checks the syntax of `input` without rendering it.
pub fn check_syntax(input: &str) -> Result<(), InterpolateError> {
    if !input.contains("{{") {
        return Ok(());
    }
    build_template(input, &Context::default(), &Budget::new())
        .map(|_| ())
        .map_err(|e| InterpolateError::Syntax {
            input: input.to_string(),
            message: strip_go_prefix(&e.to_string()),
        })
}

fn strip_go_prefix(msg: &str) -> String {
    let m = msg.strip_prefix("template: ").unwrap_or(msg);
    let m = m.strip_prefix("root:").unwrap_or(m);
    m.strip_prefix("execution error: ")
        .unwrap_or(m)
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn ctx() -> Context {
        let mut vars = BTreeMap::new();
        vars.insert("region".to_string(), "eu-west-1".to_string());
        Context {
            user_variables: Arc::new(vars),
            build_name: Some("web".into()),
            build_type: Some("null".into()),
            init_time: chrono::Utc.timestamp_opt(1767225600, 0).unwrap(),
            ..Default::default()
        }
    }

    #[test]
    fn packer_functions() {
        let c = ctx();
        let r = |s: &str| render(s, &c).unwrap();
        assert_eq!(
            r("ami-{{ user `region` }}-{{timestamp}}"),
            "ami-eu-west-1-1767225600"
        );
        assert_eq!(r("{{build_name}}/{{build_type}}"), "web/null");
        assert_eq!(r("{{ upper `abc` }}{{ lower `DEF` }}"), "ABCdef");
        assert_eq!(r("{{ split `a-b-c` `-` 1 }}"), "b");
        assert_eq!(r("{{ replace `a` `b` 1 `aaa` }}"), "baa");
        assert_eq!(r("{{ replace_all `a` `b` `aaa` }}"), "bbb");
        assert_eq!(r("{{ `aaa` | replace_all `a` `c` }}"), "ccc");
        assert_eq!(r("{{ clean_resource_name `a:b` }}"), "a-b");
        assert_eq!(r("{{ build `ID` }}"), "{{ build `ID` }}");
        assert_eq!(r("plain"), "plain");
        assert_eq!(r("{{packer_version}}"), "1.6.6");
        assert_eq!(r("{{ uuid }}").len(), 36);
    }

    #[test]
    fn env_only_when_enabled() {
        let mut c = ctx();
        assert!(render("{{env `HOME`}}", &c)
            .unwrap_err()
            .to_string()
            .contains("default value"));
        c.enable_env = true;
        assert!(render("{{env `HOME`}}", &c).is_ok());
    }

    #[test]
    fn component_data_and_build_data() {
        let mut c = ctx().with_data([("Path", serde_json::json!("/tmp/x"))]);
        assert_eq!(render("sh {{.Path}}", &c).unwrap(), "sh /tmp/x");
        assert!(render("{{.Nope}}", &c).is_err());
        c.generated = Generated::Known(Arc::new(BTreeMap::from([(
            "ID".to_string(),
            "i-1".to_string(),
        )])));
        assert_eq!(render("{{ build `ID` }}", &c).unwrap(), "i-1");
        assert!(render("{{ build `Host` }}", &c)
            .unwrap_err()
            .to_string()
            .contains("`ID`"));
    }

    #[test]
    fn syntax_errors_are_errors() {
        assert!(render("{{ user `x` ", &ctx()).is_err());
        assert!(render("{{ nosuchfunc }}", &ctx()).is_err());
        assert!(render("{{ strftime `%Q` }}", &ctx()).is_err());
    }

    #[test]
    fn range_loops_have_an_iteration_budget() {
        let e = render("{{range 100000000}}x{{end}}", &ctx()).unwrap_err();
        assert!(e.to_string().contains("range iteration budget"), "{e}");
        assert_eq!(render("{{range 3}}{{.}}{{end}}", &ctx()).unwrap(), "012");
    }

    #[test]
    fn doubling_values_hit_the_work_budget() {
        let e = render(
            "{{$a := `xx`}}{{range 64}}{{$a = print $a $a}}{{end}}{{len $a}}",
            &ctx(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("too much work"), "{e}");
        let e = render("{{$a := `\\`}}{{range 64}}{{$a = js $a}}{{end}}", &ctx()).unwrap_err();
        assert!(e.to_string().contains("too much work"), "{e}");
    }

    #[test]
    fn replace_with_an_empty_pattern_cannot_explode() {
        let big = "a".repeat(5000);
        let s = format!("{{{{ replace_all `` `{big}` (replace_all `` `{big}` `{big}`) }}}}");
        let e = render(&s, &ctx()).unwrap_err();
        assert!(e.to_string().contains("larger than 16 MiB"), "{e}");
        assert_eq!(
            render("{{ replace_all `` `-` `ab` }}", &ctx()).unwrap(),
            "-a-b-"
        );
        assert_eq!(
            render("{{ replace `` `-` 2 `ab` }}", &ctx()).unwrap(),
            "-a-b"
        );
    }

    #[test]
    fn template_call_chains_are_bounded() {
        // Each `define` calls the previous one twice: 2^40 calls.
        let mut s = String::from("{{define \"t0\"}}{{end}}");
        for i in 1..=40 {
            let p = i - 1;
            s.push_str(&format!(
                "{{{{define \"t{i}\"}}}}{{{{template \"t{p}\"}}}}{{{{template \"t{p}\"}}}}{{{{end}}}}"
            ));
        }
        s.push_str("{{template \"t40\"}}");
        let e = render(&s, &ctx()).unwrap_err();
        assert!(e.to_string().contains("more than 100 invocations"), "{e}");
        assert!(check_syntax(&s).is_err());
        let ok = "{{define \"t\"}}[{{.}}]{{end}}{{template \"t\" 1}}{{template \"t\" 2}}";
        assert_eq!(render(ok, &ctx()).unwrap(), "[1][2]");
    }

    #[test]
    fn recursive_templates_are_bounded() {
        // Terminating recursion that branches in two at every level.
        let s = "{{define \"a\"}}{{if .}}{{template \"a\" (slice . 1)}}{{template \"a\" (slice . 1)}}{{end}}{{end}}{{template \"a\" `xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx`}}";
        let e = render(s, &ctx()).unwrap_err();
        assert!(e.to_string().contains("too much work"), "{e}");
        let e = render(
            "{{define \"a\"}}{{template \"a\"}}{{end}}{{template \"a\"}}",
            &ctx(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("recursion limit"), "{e}");
    }

    #[test]
    fn builtins_behave_as_before_metering() {
        let c = ctx();
        let r = |s: &str| render(s, &c).unwrap();
        assert_eq!(r("{{ printf \"%03d-%s\" 7 `x` }}"), "007-x");
        assert_eq!(r("{{ print 1 2 `a` `b` }}|{{ println `x` }}"), "1 2ab|x\n");
        assert_eq!(
            r("{{ if and (eq 1 1) (ne `a` `b`) (lt 1 2) }}yes{{ end }}"),
            "yes"
        );
        assert_eq!(
            r("{{ len `abc` }} {{ index `abc` 1 }} {{ slice `abc` 1 }}"),
            "3 98 bc"
        );
        assert_eq!(
            r("{{ html `<a>` }} {{ urlquery `a b` }} {{ not true }}"),
            "&lt;a&gt; a+b false"
        );
        assert!(render("{{ index `abc` 9 }}", &c)
            .unwrap_err()
            .to_string()
            .contains("index out of range: 9"));
    }

    #[test]
    fn renders_can_share_a_budget() {
        let mut work = 5000;
        let s = "{{ user `region` }}{{ user `region` }}";
        assert_eq!(
            render_within(s, &ctx(), &mut work).unwrap(),
            "eu-west-1eu-west-1"
        );
        assert!(work < 5000);
        let mut work = 10;
        assert!(render_within(s, &ctx(), &mut work).is_err());
        assert_eq!(work, 0);
    }

    #[test]
    fn go_layouts() {
        let t = chrono::Utc.with_ymd_and_hms(2026, 1, 2, 15, 4, 5).unwrap();
        assert_eq!(
            format_go_time(&t, "2006-01-02T15:04:05Z07:00"),
            "2026-01-02T15:04:05Z"
        );
        assert_eq!(
            format_go_time(&t, "Jan 2, 2006 at 3:04pm (MST)"),
            "Jan 2, 2026 at 3:04pm (UTC)"
        );
        assert_eq!(format_go_time(&t, "20060102"), "20260102");
    }
}
