//! `data "TYPE" "NAME" { … }`: data sources, read while the template is
//! evaluated and used as `data.TYPE.NAME.ATTR`. They sit in the same
//! dependency graph as locals (Packer 1.12+), so a data source may use
//! locals and locals may use data sources; see
//! [`super::types_locals::evaluate_all_with`].
//!
//! Every type, built in (`null`, `http`) or from a plugin, is a kiln-sdk
//! [`DataSourceFactory`] found by name in the table of components the
//! caller gives ([`DataSources`], over a [`Registry`]); this module knows
//! no type itself. A block is evaluated into a config with every key's
//! location, prepared (all config errors at once), then executed. A type
//! the table does not know is an error with a "did you mean" hint.
//!
//! `validate` reads no data source unless `-evaluate-datasources` is given
//! ([`DataSources::without_execution`]), as Packer's `validate`: each
//! block's configuration is still checked ([`check`]), but its outputs are
//! unknown ([`super::eval::UNKNOWN`]).

use std::path::PathBuf;
use std::sync::Arc;

use hcl::{Map, Value};
use kiln_sdk::component::{BuildError, DataSourceContext};
use kiln_sdk::config::{did_you_mean, ConfigErrors, Location};
use kiln_sdk::interpolate::Context;
use kiln_sdk::ui::Redactor;
use kiln_sdk::{DataSourceFactory, PrepareContext, Registry};
use tokio_util::sync::CancellationToken;

use super::eval::{self, located, Scope};
use super::parser::{BlockAst, BodyAst};

/// The data source types a template's `data` blocks can use (the
/// `data_sources` of a table of components), and whether they are read.
/// The default knows no type.
#[derive(Clone, Default)]
pub struct DataSources {
    table: Arc<Registry>,
    skip_execution: bool,
}

impl DataSources {
    /// The data sources of `table`.
    pub fn new(table: Arc<Registry>) -> Self {
        DataSources {
            table,
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

    /// The factory of `ty`.
    pub fn factory(&self, ty: &str) -> Option<&dyn DataSourceFactory> {
        self.table.data_source(ty)
    }

    /// Every type known, in table order (built-ins first).
    pub fn types(&self) -> Vec<&'static str> {
        self.table.data_source_names()
    }

    /// Whether `ty` is a known type.
    pub fn knows(&self, ty: &str) -> bool {
        self.factory(ty).is_some()
    }
}

impl std::fmt::Debug for DataSources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.types()).finish()
    }
}

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
/// (`startDatasource`, from `Initialize`): by its type's factory
/// ([`check`], [`read`]), once [`check_types`] has found it.
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

/// Reports each `data` block whose type `sources` does not know, with a
/// hint naming the closest known type, else every known type. Returns,
/// for each block, whether its type is known.
pub fn check_types(
    decls: &[DataDecl],
    sources: &DataSources,
    errors: &mut ConfigErrors,
) -> Vec<bool> {
    decls
        .iter()
        .map(|d| {
            if sources.knows(&d.data_type) {
                return true;
            }
            let types = sources.types();
            let mut e = located(
                &d.location,
                format!("unknown data source type `{}`", d.data_type),
            );
            e.hint = Some(match did_you_mean(&d.data_type, types.iter().copied()) {
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
            });
            errors.push(e);
            false
        })
        .collect()
}

/// Evaluates a data source's arguments in `scope` and reads it through
/// the factory of its type in `sources`: its block becomes a config with
/// the location of every key, the factory prepares it (reporting every
/// config problem at once, each at its key; its warnings go to
/// `warnings`), and `execute` runs on a thread of its own (templates may
/// be evaluated inside an async runtime). `redactor` scrubs the errors.
pub fn read(
    d: &DataDecl,
    scope: &Scope,
    sources: &DataSources,
    redactor: &Redactor,
    warnings: &mut Vec<String>,
) -> Result<Value, ConfigErrors> {
    let source = prepare(d, factory(d, sources)?, scope, redactor, warnings)?;
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
        let (message, hint) = split_hint(&e);
        let mut err = located(
            &d.location,
            format!("{}: {}", d.reference(), redactor.redact(message)),
        );
        err.hint = hint.map(|h| redactor.redact(h).into_owned());
        err
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

/// A failure message and its hint: a data source's `execute` may end its
/// message with `\n  hint: …`, as a [`kiln_sdk::config::ConfigError`]
/// displays one.
fn split_hint(message: &str) -> (&str, Option<&str>) {
    match message.split_once("\n  hint: ") {
        Some((m, h)) => (m, Some(h)),
        None => (message, None),
    }
}

/// Checks a data source's configuration without reading it (no request,
/// no API call), as Packer's `validate` does without
/// `-evaluate-datasources`: its type's factory prepares it. Arguments
/// that depend on values not known yet are [`super::eval::UNKNOWN`] here,
/// as in Packer.
pub fn check(
    d: &DataDecl,
    scope: &Scope,
    sources: &DataSources,
    redactor: &Redactor,
    warnings: &mut Vec<String>,
) -> Result<(), ConfigErrors> {
    prepare(d, factory(d, sources)?, scope, redactor, warnings).map(|_| ())
}

/// The factory of a data source's type, or the "unknown type" error.
fn factory<'a>(
    d: &DataDecl,
    sources: &'a DataSources,
) -> Result<&'a dyn DataSourceFactory, ConfigErrors> {
    sources.factory(&d.data_type).ok_or_else(|| {
        located(
            &d.location,
            format!("unknown data source type `{}`", d.data_type),
        )
        .into()
    })
}

/// Evaluates a data source block into a config and prepares it (every
/// config problem at once, each at its key). The factory's context names
/// the block (`data.TYPE.NAME`) as its `build_name`.
fn prepare(
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
        build_name: d.reference(),
        builder_type: String::new(),
        interpolation: Context {
            template_dir: Some(template_dir.to_string_lossy().into_owned()),
            packer_version: kiln_sdk::PACKER_HCL2_VERSION,
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
    use kiln_sdk::config::ConfigError;
    use kiln_test::http::serve_once;
    use kiln_test::sshd::free_port;

    /// The built-in data sources, as `kiln-registry` lists them, plus
    /// `extra`.
    fn table(extra: Vec<Box<dyn DataSourceFactory>>) -> DataSources {
        let mut data_sources = kiln_data_sources::factories();
        data_sources.extend(extra);
        DataSources::new(Arc::new(Registry {
            data_sources,
            ..Registry::default()
        }))
    }

    fn builtin() -> DataSources {
        table(Vec::new())
    }

    fn decl(src: &str) -> (Option<DataDecl>, ConfigErrors) {
        let f = SourceFile::new("t.pkr.hcl".into(), src);
        let body = parse_file(&f, src).unwrap();
        let mut errors = ConfigErrors::new();
        let d = decode_data(&body.blocks[0], &mut errors);
        (d, errors)
    }

    #[test]
    fn http_reads_body_status_and_headers() {
        let (url, h) = serve_once(200, "1.2.3");
        let (d, e) = decl(&format!(
            "data \"http\" \"v\" {{\n  url = \"{url}\"\n  request_headers = {{ Accept = \"text/plain\" }}\n}}\n"
        ));
        assert!(e.is_empty(), "{e}");
        let v = read(
            &d.unwrap(),
            &Scope::default(),
            &builtin(),
            &Redactor::new(),
            &mut Vec::new(),
        )
        .unwrap();
        let req = h.join().unwrap();
        assert!(req.to_lowercase().contains("accept: text/plain"), "{req}");
        let j = eval::to_json(&v);
        assert_eq!(j["body"], "1.2.3");
        assert_eq!(j["status_code"], 200);
        assert_eq!(j["response_headers"]["X-Thing"], "a, b");
        assert_eq!(j["request_headers"]["Accept"], "text/plain");
    }

    #[test]
    fn http_errors_are_clear() {
        let (url, h) = serve_once(404, "no");
        let (d, _) = decl(&format!("data \"http\" \"v\" {{\n  url = \"{url}\"\n}}\n"));
        let e = read(
            &d.unwrap(),
            &Scope::default(),
            &builtin(),
            &Redactor::new(),
            &mut Vec::new(),
        )
        .unwrap_err();
        h.join().unwrap();
        assert!(e.to_string().contains("answered with status 404"), "{e}");
        // Nothing listens on a port just released.
        let port = free_port();
        let (d, _) = decl(&format!(
            "data \"http\" \"v\" {{\n  url = \"http://127.0.0.1:{port}/\"\n}}\n"
        ));
        let e = read(
            &d.unwrap(),
            &Scope::default(),
            &builtin(),
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
            &builtin(),
            &Redactor::new(),
            &mut Vec::new(),
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("t.pkr.hcl:1:1: data.http.v: `ftp://x`: only"),
            "{e}"
        );
    }

    #[test]
    fn schema_and_types_are_checked() {
        // Unknown types are checked at evaluation, against the resolver.
        let (d, e) = decl("data \"htp\" \"v\" {\n}\n");
        assert!(e.is_empty(), "{e}");
        let mut e = ConfigErrors::new();
        let known = check_types(&[d.unwrap()], &builtin(), &mut e);
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
        let sources = builtin();
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
            &builtin(),
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
        let mut sources = table(vec![Box::new(Repeat)]);
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
