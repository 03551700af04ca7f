//! `data "TYPE" "NAME" { … }`: data sources, read while the template is
//! evaluated and used as `data.TYPE.NAME.ATTR`. They sit in the same
//! dependency graph as locals (Packer 1.12+), so a data source may use
//! locals and locals may use data sources; see
//! [`super::types_locals::evaluate_all_with`].
//!
//! Built in: `null` (`input` comes back as `output`) and `http` (`url`,
//! `method`, `request_headers`, `request_body`; outputs `url`,
//! `request_headers`, `body`, `status_code` and `response_headers`).
//! Other types come from a [`DataSourceResolver`] the caller provides
//! (kiln's binary: the data sources of plugins), as kiln-sdk
//! [`DataSourceFactory`]s: their block is evaluated into a config with
//! every key's location, prepared (all config errors at once), then
//! executed. A type neither knows is an error with a "did you mean" hint.
//! A data source holds no state and needs no cleanup: `http` makes one
//! request, with a timeout.
//!
//! `validate` reads no data source unless `-evaluate-datasources` is given
//! ([`DataSources::without_execution`]), as Packer's `validate`: each
//! block's configuration is still checked ([`check`]), but its outputs are
//! unknown ([`super::eval::UNKNOWN`]).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hcl::{Map, Value};
use kiln_sdk::component::{BuildError, DataSourceContext};
use kiln_sdk::config::{did_you_mean, ConfigError, ConfigErrors, Location};
use kiln_sdk::interpolate::Context;
use kiln_sdk::ui::Redactor;
use kiln_sdk::{DataSourceFactory, PrepareContext};
use tokio_util::sync::CancellationToken;

use super::eval::{self, located, Scope};
use super::parser::{BlockAst, BodyAst};

/// The data source types kiln reads itself.
pub const DATA_TYPES: &[&str] = &["null", "http"];

/// Data source types beyond [`DATA_TYPES`]: kiln's binary resolves them
/// to the data sources of discovered plugins. Asked only for types kiln
/// does not read itself, so an implementation may find its factories
/// lazily.
pub trait DataSourceResolver: Send + Sync {
    /// The factory of data source type `ty`, when known.
    fn factory(&self, ty: &str) -> Option<&dyn DataSourceFactory>;
    /// Every type known, for "did you mean" hints.
    fn types(&self) -> Vec<String>;
}

impl DataSourceResolver for Vec<Box<dyn DataSourceFactory>> {
    fn factory(&self, ty: &str) -> Option<&dyn DataSourceFactory> {
        self.iter().find(|f| f.name() == ty).map(|f| f.as_ref())
    }
    fn types(&self) -> Vec<String> {
        self.iter().map(|f| f.name().to_string()).collect()
    }
}

/// The resolver a template's data sources are evaluated with, and whether
/// they are read; the default knows no type beyond the built-in ones and
/// reads them.
#[derive(Clone, Default)]
pub struct DataSources {
    resolver: Option<Arc<dyn DataSourceResolver>>,
    skip_execution: bool,
}

impl DataSources {
    /// Data sources resolved by `resolver`.
    pub fn new(resolver: impl DataSourceResolver + 'static) -> Self {
        DataSources {
            resolver: Some(Arc::new(resolver)),
            skip_execution: false,
        }
    }

    /// The same data sources, checked but not read (no request, no API
    /// call): their outputs are unknown. `validate` without
    /// `-evaluate-datasources`, as Packer's.
    pub fn without_execution(mut self) -> Self {
        self.skip_execution = true;
        self
    }

    /// False when the data sources are only checked, not read.
    pub fn executes(&self) -> bool {
        !self.skip_execution
    }

    /// The factory of `ty`, a type kiln does not read itself.
    pub fn factory(&self, ty: &str) -> Option<&dyn DataSourceFactory> {
        self.resolver.as_deref().and_then(|r| r.factory(ty))
    }

    /// The resolver's types.
    pub fn types(&self) -> Vec<String> {
        self.resolver
            .as_deref()
            .map(|r| r.types())
            .unwrap_or_default()
    }

    /// Whether `ty` is a type kiln reads, itself or through the resolver.
    pub fn knows(&self, ty: &str) -> bool {
        DATA_TYPES.contains(&ty) || self.factory(ty).is_some()
    }
}

impl std::fmt::Debug for DataSources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.resolver.is_some() {
            "DataSources(resolver)"
        } else {
            "DataSources(built-in)"
        })
    }
}

/// How long an `http` data source may take, connection included.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(60);

/// An HTTP answer: status, headers (canonical names), body.
type HttpAnswer = (u16, Vec<(String, String)>, String);

/// One `data` block.
#[derive(Clone, Debug)]
pub struct DataDecl {
    /// The data source type (`http`).
    pub data_type: String,
    /// Its name.
    pub name: String,
    /// Where it is declared.
    pub location: Location,
    /// Its configuration, unevaluated.
    pub body: BodyAst,
}

impl DataDecl {
    /// `data.TYPE.NAME`.
    pub fn reference(&self) -> String {
        format!("data.{}.{}", self.data_type, self.name)
    }
}

/// Decodes a `data` block, checking its labels (Packer's parse phase). Its
/// arguments are checked when the template is evaluated, as Packer does
/// (`startDatasource`, from `Initialize`): a built-in type's by
/// [`check_block`], another's by its resolver ([`check_types`]).
pub fn decode_data(block: &BlockAst, errors: &mut ConfigErrors) -> Option<DataDecl> {
    let [ty, name] = block.labels.as_slice() else {
        errors.push(
            located(
                &block.location,
                format!(
                    "a `data` block takes two labels, the data source type and a name; found {}",
                    block.labels.len()
                ),
            )
            .with_hint("write `data \"http\" \"example\" { url = \"…\" }`"),
        );
        return None;
    };
    Some(DataDecl {
        data_type: ty.clone(),
        name: name.clone(),
        location: block.location.clone(),
        body: block.body.clone(),
    })
}

/// Checks the arguments of a built-in data source's block: the known
/// keys, and `http`'s `url`.
fn check_block(d: &DataDecl) -> Result<(), ConfigErrors> {
    let mut errors = ConfigErrors::new();
    let what = format!("data source `{}`", d.reference());
    match d.data_type.as_str() {
        "null" => d
            .body
            .check_schema(&what, &["input"], &["dynamic"], &mut errors),
        "http" => {
            d.body.check_schema(
                &what,
                &["url", "method", "request_headers", "request_body"],
                &["dynamic"],
                &mut errors,
            );
            if d.body.attr("url").is_none() {
                errors.push(
                    located(&d.location, format!("{what} needs a `url`"))
                        .with_hint("add `url = \"https://…\"`"),
                );
            }
        }
        _ => {}
    }
    errors.into_result(())
}

/// Reports each `data` block whose type is neither built in nor known to
/// `sources`, with a hint naming the closest known type, else every known
/// type. Returns, for each block, whether its type is known.
pub fn check_types(
    decls: &[DataDecl],
    sources: &DataSources,
    errors: &mut ConfigErrors,
) -> Vec<bool> {
    let mut known_types: Option<Vec<String>> = None;
    decls
        .iter()
        .map(|d| {
            if sources.knows(&d.data_type) {
                return true;
            }
            let types = known_types.get_or_insert_with(|| {
                let mut t: Vec<String> = DATA_TYPES.iter().map(|s| s.to_string()).collect();
                t.extend(sources.types());
                t
            });
            let mut e = located(
                &d.location,
                format!("unknown data source type `{}`", d.data_type),
            );
            e.hint = Some(
                match did_you_mean(&d.data_type, types.iter().map(String::as_str)) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!(
                        "kiln reads the data sources {}; `{}` must come from a kiln plugin that \
                         serves it (see `kiln plugins installed`)",
                        types
                            .iter()
                            .map(|t| format!("`{t}`"))
                            .collect::<Vec<_>>()
                            .join(", "),
                        d.data_type
                    ),
                },
            );
            errors.push(e);
            false
        })
        .collect()
}

/// Evaluates a data source's arguments in `scope` and reads it: a built-in
/// type here, any other through `sources` (whose prepare warnings go to
/// `warnings`, and whose output `redactor` scrubs).
pub fn read(
    d: &DataDecl,
    scope: &Scope,
    sources: &DataSources,
    redactor: &Redactor,
    warnings: &mut Vec<String>,
) -> Result<Value, ConfigErrors> {
    if let Some(f) = plugin_factory(d, sources) {
        return read_external(d, f?, scope, redactor, warnings);
    }
    check_block(d)?;
    let args = eval_args(d, scope)?;
    let out = match d.data_type.as_str() {
        "null" => {
            let mut o = Map::new();
            o.insert(
                "input".into(),
                args.get("input").cloned().unwrap_or(Value::Null),
            );
            o.insert(
                "output".into(),
                args.get("input").cloned().unwrap_or(Value::Null),
            );
            Ok(Value::Object(o))
        }
        "http" => read_http(d, &args),
        other => Err(located(
            &d.location,
            format!("unknown data source type `{other}`"),
        )),
    };
    out.map_err(ConfigErrors::from)
}

/// Checks a data source's configuration without reading it (no request,
/// no API call), as Packer's `validate` does without
/// `-evaluate-datasources`: a built-in type's arguments as Packer's
/// `Configure` checks them, a resolver's type through its `prepare`.
/// Arguments that depend on values not known yet are
/// [`super::eval::UNKNOWN`] here, as in Packer.
pub fn check(
    d: &DataDecl,
    scope: &Scope,
    sources: &DataSources,
    redactor: &Redactor,
    warnings: &mut Vec<String>,
) -> Result<(), ConfigErrors> {
    if let Some(f) = plugin_factory(d, sources) {
        return prepare_external(d, f?, scope, redactor, warnings).map(|_| ());
    }
    check_block(d)?;
    let args = eval_args(d, scope)?;
    match d.data_type.as_str() {
        "http" => http_request(d, &args).map(|_| ()).map_err(Into::into),
        _ => Ok(()),
    }
}

/// A built-in data source's arguments, evaluated.
fn eval_args(d: &DataDecl, scope: &Scope) -> Result<Map<String, Value>, ConfigErrors> {
    let mut errors = ConfigErrors::new();
    let mut args = Map::new();
    for a in &d.body.attrs {
        match scope.eval(&a.value) {
            Ok(v) => {
                args.insert(a.name.clone(), v);
            }
            Err(e) => errors.push(e),
        }
    }
    errors.into_result(args)
}

/// Reads a data source of a resolver: its block becomes a config with the
/// location of every key, the factory prepares it (reporting every config
/// problem at once, each at its key), and `execute` runs on a thread of
/// its own (templates may be evaluated inside an async runtime).
/// For a data source whose type is not built in: the plugin factory that
/// serves its type, or the "unknown type" error. `None` for a built-in type.
fn plugin_factory<'a>(
    d: &DataDecl,
    sources: &'a DataSources,
) -> Option<Result<&'a dyn DataSourceFactory, ConfigErrors>> {
    if DATA_TYPES.contains(&d.data_type.as_str()) {
        return None;
    }
    Some(sources.factory(&d.data_type).ok_or_else(|| {
        located(
            &d.location,
            format!("unknown data source type `{}`", d.data_type),
        )
        .into()
    }))
}

fn read_external(
    d: &DataDecl,
    factory: &dyn DataSourceFactory,
    scope: &Scope,
    redactor: &Redactor,
    warnings: &mut Vec<String>,
) -> Result<Value, ConfigErrors> {
    let source = prepare_external(d, factory, scope, redactor, warnings)?;
    let outcome = std::thread::scope(|s| {
        s.spawn(|| -> Result<serde_json::Value, String> {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start the async runtime: {e}"))?;
            rt.block_on(source.execute(DataSourceContext {
                cancel: CancellationToken::new(),
            }))
            .map_err(|e| match e {
                BuildError::Cancelled => "it was cancelled".to_string(),
                BuildError::Failed(m) => m,
            })
        })
        .join()
        .unwrap_or_else(|_| Err("the data source panicked".into()))
    });
    let output = outcome.map_err(|e| {
        located(
            &d.location,
            format!("{}: {}", d.reference(), redactor.redact(&e)),
        )
    })?;
    if !output.is_object() {
        return Err(located(
            &d.location,
            format!(
                "{}: data source `{}` returned {}, not an object of outputs",
                d.reference(),
                d.data_type,
                output
            ),
        )
        .into());
    }
    Ok(eval::from_json(&output))
}

/// Evaluates a resolver's data source block into a config and prepares it
/// (every config problem at once, each at its key).
fn prepare_external(
    d: &DataDecl,
    factory: &dyn DataSourceFactory,
    scope: &Scope,
    redactor: &Redactor,
    warnings: &mut Vec<String>,
) -> Result<Box<dyn kiln_sdk::DataSource>, ConfigErrors> {
    let mut errors = ConfigErrors::new();
    let raw = super::types_source::body_to_raw(&d.body, scope, &d.location, &[], &mut errors);
    if !errors.is_empty() {
        return Err(errors);
    }
    let template_dir =
        std::path::absolute(&scope.path_root).unwrap_or_else(|_| PathBuf::from(&scope.path_root));
    let cx = PrepareContext {
        build_name: String::new(),
        builder_type: String::new(),
        interpolation: Context {
            template_dir: Some(template_dir.to_string_lossy().into_owned()),
            ..Context::default()
        },
        redactor: redactor.clone(),
        debug: false,
        force: false,
        on_error: Default::default(),
        template_dir,
    };
    let prepared = factory.prepare(&raw, &cx).map_err(|e| e.locate(&raw))?;
    warnings.extend(
        prepared
            .warnings
            .iter()
            .map(|w| format!("{}: {w}", d.reference())),
    );
    Ok(prepared.component)
}

fn string_arg(
    d: &DataDecl,
    args: &Map<String, Value>,
    key: &str,
) -> Result<Option<String>, ConfigError> {
    match args.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(v @ (Value::Number(_) | Value::Bool(_))) => Ok(Some(eval::display(v))),
        Some(v) => Err(at_attr(
            d,
            key,
            format!("`{key}` must be a string, found {}", eval::kind(v)),
        )),
    }
}

fn at_attr(d: &DataDecl, key: &str, msg: String) -> ConfigError {
    let loc = d
        .body
        .attr(key)
        .map(|a| a.value.location.clone())
        .unwrap_or_else(|| d.location.clone());
    located(&loc, msg)
}

/// `Content-Type` from `content-type`: Go's canonical header form, as
/// Packer reports response headers.
fn canonical_header(name: &str) -> String {
    name.split('-')
        .map(|p| {
            let mut c = p.chars();
            match c.next() {
                Some(f) => f
                    .to_uppercase()
                    .chain(c.flat_map(char::to_lowercase))
                    .collect(),
                None => String::new(),
            }
        })
        .collect::<Vec<String>>()
        .join("-")
}

/// The methods an `http` data source may use, as Packer's.
const HTTP_METHODS: &[&str] = &["HEAD", "GET", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"];

/// An `http` data source's request, checked as Packer's `Configure` does.
struct HttpRequest {
    url: String,
    method: String,
    body: Option<String>,
    headers: Vec<(String, String)>,
}

/// Checks an `http` data source's arguments (types, a `url`, a method
/// Packer knows), without making the request.
fn http_request(d: &DataDecl, args: &Map<String, Value>) -> Result<HttpRequest, ConfigError> {
    let url = string_arg(d, args, "url")?.unwrap_or_default();
    if url.is_empty() {
        return Err(at_attr(d, "url", "`url` must not be empty".into())
            .with_hint("write a full URL such as `https://example.com/file`"));
    }
    let method = string_arg(d, args, "method")?.unwrap_or_else(|| "GET".into());
    if !HTTP_METHODS.contains(&method.as_str()) {
        let upper = method.to_uppercase();
        return Err(at_attr(
            d,
            "method",
            format!("`{method}` is not a method the `http` data source can use"),
        )
        .with_hint(if HTTP_METHODS.contains(&upper.as_str()) {
            format!("write it in capitals, `{upper}`, as Packer requires")
        } else {
            format!(
                "use one of {}",
                HTTP_METHODS
                    .iter()
                    .map(|m| format!("`{m}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }));
    }
    let body = string_arg(d, args, "request_body")?;
    let mut headers: Vec<(String, String)> = Vec::new();
    match args.get("request_headers") {
        None | Some(Value::Null) => {}
        Some(Value::Object(o)) => {
            for (k, v) in o {
                match v {
                    Value::String(_) | Value::Number(_) | Value::Bool(_) => {
                        headers.push((k.clone(), eval::display(v)))
                    }
                    other => {
                        return Err(at_attr(
                            d,
                            "request_headers",
                            format!(
                                "`request_headers.{k}` must be a string, found {}",
                                eval::kind(other)
                            ),
                        ))
                    }
                }
            }
        }
        Some(v) => {
            return Err(at_attr(
                d,
                "request_headers",
                format!(
                    "`request_headers` must be a map of strings, found {}",
                    eval::kind(v)
                ),
            ))
        }
    }
    Ok(HttpRequest {
        url,
        method,
        body,
        headers,
    })
}

fn read_http(d: &DataDecl, args: &Map<String, Value>) -> Result<Value, ConfigError> {
    let HttpRequest {
        url,
        method,
        body,
        headers,
    } = http_request(d, args)?;
    let parsed = reqwest::Url::parse(&url).map_err(|e| {
        at_attr(d, "url", format!("`{url}` is not a valid URL: {e}"))
            .with_hint("write a full URL such as `https://example.com/file`")
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(at_attr(
            d,
            "url",
            format!("`{url}`: only `http` and `https` URLs can be read"),
        ));
    }
    let m = reqwest::Method::from_bytes(method.as_bytes())
        .map_err(|_| at_attr(d, "method", format!("`{method}` is not an HTTP method")))?;
    let req_headers = headers.clone();
    // A thread of its own: templates may be loaded inside an async runtime.
    let outcome = std::thread::spawn(move || -> Result<HttpAnswer, String> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the HTTP client: {e}"))?;
        rt.block_on(async move {
            let client = reqwest::Client::builder()
                .timeout(HTTP_TIMEOUT)
                .build()
                .map_err(|e| format!("cannot start the HTTP client: {e}"))?;
            let mut req = client.request(m, parsed);
            for (k, v) in &req_headers {
                req = req.header(k, v);
            }
            if let Some(b) = body {
                req = req.body(b);
            }
            let resp = req.send().await.map_err(|e| {
                let mut s = e.to_string();
                let mut src = std::error::Error::source(&e);
                while let Some(inner) = src {
                    s.push_str(&format!(": {inner}"));
                    src = inner.source();
                }
                s
            })?;
            let status = resp.status().as_u16();
            let mut hs: Vec<(String, String)> = Vec::new();
            for (k, v) in resp.headers() {
                let k = canonical_header(k.as_str());
                let v = String::from_utf8_lossy(v.as_bytes()).into_owned();
                match hs.iter_mut().find(|(n, _)| *n == k) {
                    Some((_, prev)) => {
                        prev.push_str(", ");
                        prev.push_str(&v);
                    }
                    None => hs.push((k, v)),
                }
            }
            let text = resp
                .text()
                .await
                .map_err(|e| format!("cannot read the response body: {e}"))?;
            Ok((status, hs, text))
        })
    })
    .join()
    .unwrap_or_else(|_| Err("the HTTP client failed".into()));
    let (status, response_headers, text) = outcome.map_err(|e| {
        located(
            &d.location,
            format!("{}: request to `{url}` failed: {e}", d.reference()),
        )
        .with_hint("check the URL and that the server is reachable from this machine")
    })?;
    if !(200..300).contains(&status) {
        return Err(located(
            &d.location,
            format!(
                "{}: `{method} {url}` answered with status {status}",
                d.reference()
            ),
        )
        .with_hint("the `http` data source needs a 2xx answer"));
    }
    let mut o = Map::new();
    o.insert("url".into(), Value::from(url));
    o.insert("method".into(), Value::from(method.clone()));
    o.insert(
        "request_headers".into(),
        Value::Object(
            headers
                .into_iter()
                .map(|(k, v)| (k, Value::from(v)))
                .collect(),
        ),
    );
    o.insert("status_code".into(), Value::from(status as i64));
    o.insert(
        "response_headers".into(),
        Value::Object(
            response_headers
                .into_iter()
                .map(|(k, v)| (k, Value::from(v)))
                .collect(),
        ),
    );
    o.insert("body".into(), Value::from(text));
    Ok(Value::Object(o))
}

/// `data` as the scope sees it: `{TYPE: {NAME: outputs}}`; every declared
/// data source is present (null until read).
pub fn data_scope(decls: &[DataDecl], values: &Map<String, Value>) -> Map<String, Value> {
    let mut m: Map<String, Value> = Map::new();
    for d in decls {
        let v = values.get(&d.reference()).cloned().unwrap_or(Value::Null);
        let entry = m
            .entry(d.data_type.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(o) = entry {
            o.insert(d.name.clone(), v);
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hcl::parser::{parse_file, SourceFile};
    use std::io::{Read, Write};

    fn decl(src: &str) -> (Option<DataDecl>, ConfigErrors) {
        let f = SourceFile::new("t.pkr.hcl".into(), src);
        let body = parse_file(&f, src).unwrap();
        let mut errors = ConfigErrors::new();
        let d = decode_data(&body.blocks[0], &mut errors);
        (d, errors)
    }

    /// A one-shot HTTP server on loopback answering `status` with `body`;
    /// returns its URL and the request it received.
    fn serve(status: u16, body: &'static str) -> (String, std::thread::JoinHandle<String>) {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/v", l.local_addr().unwrap());
        let h = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut buf = vec![0u8; 8192];
            let mut req = Vec::new();
            loop {
                let n = s.read(&mut buf).unwrap();
                req.extend_from_slice(&buf[..n]);
                if n == 0 || req.windows(4).any(|w| w == b"\r\n\r\n") {
                    break;
                }
            }
            write!(
                s,
                "HTTP/1.1 {status} X\r\nContent-Type: text/plain\r\nX-Thing: a\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
            .unwrap();
            String::from_utf8_lossy(&req).into_owned()
        });
        (url, h)
    }

    #[test]
    fn http_reads_body_status_and_headers() {
        let (url, h) = serve(200, "1.2.3");
        let (d, e) = decl(&format!(
            "data \"http\" \"v\" {{\n  url = \"{url}\"\n  request_headers = {{ Accept = \"text/plain\" }}\n}}\n"
        ));
        assert!(e.is_empty(), "{e}");
        let v = read(
            &d.unwrap(),
            &Scope::default(),
            &DataSources::default(),
            &Redactor::new(),
            &mut Vec::new(),
        )
        .unwrap();
        let req = h.join().unwrap();
        assert!(req.to_lowercase().contains("accept: text/plain"), "{req}");
        let j = eval::to_json(&v);
        assert_eq!(j["body"], "1.2.3");
        assert_eq!(j["status_code"], 200);
        assert_eq!(j["response_headers"]["X-Thing"], "a");
        assert_eq!(j["request_headers"]["Accept"], "text/plain");
    }

    #[test]
    fn http_errors_are_clear() {
        let (url, h) = serve(404, "no");
        let (d, _) = decl(&format!("data \"http\" \"v\" {{\n  url = \"{url}\"\n}}\n"));
        let e = read(
            &d.unwrap(),
            &Scope::default(),
            &DataSources::default(),
            &Redactor::new(),
            &mut Vec::new(),
        )
        .unwrap_err();
        h.join().unwrap();
        assert!(e.to_string().contains("answered with status 404"), "{e}");
        // Nothing listens on a port just released.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let (d, _) = decl(&format!(
            "data \"http\" \"v\" {{\n  url = \"http://127.0.0.1:{port}/\"\n}}\n"
        ));
        let e = read(
            &d.unwrap(),
            &Scope::default(),
            &DataSources::default(),
            &Redactor::new(),
            &mut Vec::new(),
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("t.pkr.hcl:1:1: data.http.v: request to"),
            "{e}"
        );
        let (d, _) = decl("data \"http\" \"v\" {\n  url = \"ftp://x\"\n}\n");
        let e = read(
            &d.unwrap(),
            &Scope::default(),
            &DataSources::default(),
            &Redactor::new(),
            &mut Vec::new(),
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("t.pkr.hcl:2:9: `ftp://x`: only"),
            "{e}"
        );
    }

    #[test]
    fn schema_and_types_are_checked() {
        // Unknown types are checked at evaluation, against the resolver.
        let (d, e) = decl("data \"htp\" \"v\" {\n}\n");
        assert!(e.is_empty(), "{e}");
        let mut e = ConfigErrors::new();
        let known = check_types(&[d.unwrap()], &DataSources::default(), &mut e);
        assert_eq!(known, [false]);
        assert!(
            e.to_string()
                .contains("t.pkr.hcl:1:1: unknown data source type `htp`"),
            "{e}"
        );
        assert!(
            e.0[0].hint.as_deref() == Some("did you mean `http`?"),
            "{e:?}"
        );
        // A built-in type's arguments are checked at evaluation (read or
        // not), as Packer's `startDatasource` does in `Initialize`.
        let (d, e) = decl("data \"http\" \"v\" {\n  ulr = \"x\"\n}\n");
        assert!(e.is_empty(), "{e}");
        let d = d.unwrap();
        let sources = DataSources::default();
        for e in [
            check(
                &d,
                &Scope::default(),
                &sources,
                &Redactor::new(),
                &mut Vec::new(),
            )
            .unwrap_err(),
            read(
                &d,
                &Scope::default(),
                &sources,
                &Redactor::new(),
                &mut Vec::new(),
            )
            .unwrap_err(),
        ] {
            let t = e.to_string();
            assert!(
                t.contains("t.pkr.hcl:2:3: unsupported argument `ulr`"),
                "{t}"
            );
            assert!(
                t.contains("t.pkr.hcl:1:1: data source `data.http.v` needs a `url`"),
                "{t}"
            );
        }
        let (d, e) = decl("data \"null\" \"n\" {\n  input = [1]\n}\n");
        assert!(e.is_empty());
        let v = read(
            &d.unwrap(),
            &Scope::default(),
            &DataSources::default(),
            &Redactor::new(),
            &mut Vec::new(),
        )
        .unwrap();
        assert_eq!(eval::to_json(&v)["output"], serde_json::json!([1]));
    }

    /// A data source written against kiln-sdk's traits, as plugins are:
    /// `repeat` (`word`, `times`) outputs `text`.
    struct Repeat;

    struct Prepared(String);

    impl DataSourceFactory for Repeat {
        fn name(&self) -> &'static str {
            "repeat"
        }
        fn prepare(
            &self,
            raw: &kiln_sdk::RawConfig,
            _: &PrepareContext,
        ) -> Result<kiln_sdk::Prepared<Box<dyn kiln_sdk::DataSource>>, ConfigErrors> {
            let mut errors = ConfigErrors::new();
            for k in raw.values.keys() {
                if k != "word" && k != "times" {
                    errors.push(ConfigError::at(k.clone(), format!("unknown key `{k}`")));
                }
            }
            let word = raw.values.get("word").and_then(|v| v.as_str());
            if word.is_none() {
                errors.push(ConfigError::at("word", "`word` must be a string"));
            }
            let times = raw.values.get("times").and_then(|v| v.as_u64());
            if times.is_none() {
                errors.push(ConfigError::at("times", "`times` must be a number"));
            }
            if !errors.is_empty() {
                return Err(errors.locate(raw));
            }
            Ok(kiln_sdk::Prepared::new(Box::new(Prepared(
                word.unwrap_or_default().repeat(times.unwrap_or(0) as usize),
            ))))
        }
    }

    #[async_trait::async_trait]
    impl kiln_sdk::DataSource for Prepared {
        async fn execute(&self, _: DataSourceContext) -> Result<serde_json::Value, BuildError> {
            if self.0.is_empty() {
                return Err(BuildError::msg("nothing to repeat"));
            }
            Ok(serde_json::json!({ "text": self.0 }))
        }
    }

    fn evaluate(src: &str) -> (Map<String, Value>, ConfigErrors) {
        let (e, errors) = evaluate_with(src, true);
        (e.locals, errors)
    }

    fn evaluate_with(
        src: &str,
        execute: bool,
    ) -> (super::super::types_locals::Evaluated, ConfigErrors) {
        let f = SourceFile::new("t.pkr.hcl".into(), src);
        let body = parse_file(&f, src).unwrap();
        let mut errors = ConfigErrors::new();
        let mut data = Vec::new();
        let mut locals = Vec::new();
        for b in &body.blocks {
            match b.ident.as_str() {
                "data" => data.extend(decode_data(b, &mut errors)),
                "locals" => {
                    locals.extend(super::super::types_locals::decode_locals(b, &mut errors))
                }
                _ => {}
            }
        }
        let mut sources = DataSources::new(vec![Box::new(Repeat) as Box<dyn DataSourceFactory>]);
        if !execute {
            sources = sources.without_execution();
        }
        let e = super::super::types_locals::evaluate_all_with(
            &locals,
            &data,
            &sources,
            &Map::new(),
            &[],
            ".",
            &mut errors,
        );
        (e, errors)
    }

    /// `validate` without `-evaluate-datasources`, as Packer's
    /// `evaluateDatasources(skipExecution)` (`hcl2template/
    /// types.packer_config.go`): every data source is prepared, none is
    /// executed, and what uses one is unknown.
    #[test]
    fn without_execution_data_sources_are_checked_not_read() {
        let src = "locals {\n  out  = data.repeat.r.text\n  both = \"${local.out}!\"\n  n    = 1\n}\ndata \"repeat\" \"r\" {\n  word  = \"\"\n  times = 2\n}\ndata \"http\" \"h\" {\n  url    = \"http://127.0.0.1:1/\"\n  method = \"FETCH\"\n}\ndata \"repeat\" \"bad\" {\n  times = 1\n}\n";
        let (e, errors) = evaluate_with(src, false);
        let t = errors.to_string();
        // `execute` would fail (`nothing to repeat`) and the request
        // could not connect: neither happens. Configuration errors do.
        assert!(!t.contains("nothing to repeat"), "{t}");
        assert!(!t.contains("request to"), "{t}");
        assert!(
            t.contains("t.pkr.hcl:12:12: `FETCH` is not a method the `http` data source can use"),
            "{t}"
        );
        assert!(
            t.contains("t.pkr.hcl:14:1: `word`: `word` must be a string"),
            "{t}"
        );
        assert_eq!(errors.0.len(), 2, "{t}");
        assert_eq!(e.locals["out"], Value::from(eval::UNKNOWN));
        assert_eq!(e.locals["both"], Value::from(eval::UNKNOWN));
        assert_eq!(e.locals["n"], Value::from(1));
        assert_eq!(e.unknown, ["data.repeat.r", "local.out", "local.both"]);

        // With execution, the same data source is read and fails.
        let (_, errors) = evaluate_with(src, true);
        assert!(errors.to_string().contains("nothing to repeat"), "{errors}");
    }

    #[test]
    fn resolver_data_sources_are_prepared_executed_and_checked() {
        let (l, e) = evaluate(
            "locals {\n  w = \"ab\"\n  out = data.repeat.r.text\n}\ndata \"repeat\" \"r\" {\n  word  = local.w\n  times = 3\n}\n",
        );
        assert!(e.is_empty(), "{e}");
        assert_eq!(l["out"], Value::from("ababab"));

        // Every config problem, each at its key; an `execute` failure at
        // the block; an unknown type with the resolver's types in its hint.
        let (_, e) = evaluate(
            "data \"repeat\" \"a\" {\n  wrd   = \"x\"\n  times = \"many\"\n}\ndata \"repeat\" \"b\" {\n  word  = \"\"\n  times = 2\n}\ndata \"repaet\" \"c\" {\n}\ndata \"zzz\" \"d\" {\n}\n",
        );
        let t = e.to_string();
        for want in [
            "t.pkr.hcl:9:1: unknown data source type `repaet`",
            "t.pkr.hcl:11:1: unknown data source type `zzz`",
            "t.pkr.hcl:2:3: `wrd`: unknown key `wrd`",
            "t.pkr.hcl:1:1: `word`: `word` must be a string",
            "t.pkr.hcl:3:3: `times`: `times` must be a number",
            "t.pkr.hcl:5:1: data.repeat.b: nothing to repeat",
        ] {
            assert!(t.contains(want), "missing {want:?} in\n{t}");
        }
        assert_eq!(e.0[0].hint.as_deref(), Some("did you mean `repeat`?"));
        assert_eq!(
            e.0[1].hint.as_deref(),
            Some(
                "kiln reads the data sources `null`, `http`, `repeat`; `zzz` must come from a kiln plugin that serves it (see `kiln plugins installed`)"
            )
        );
    }
}
