//! Legacy JSON templates (Packer's `rawTemplate`): parse the file into a
//! typed [`Template`], collecting every structural problem with its
//! location. Nothing is interpolated here; that happens when the plan is
//! made and when components prepare.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use kiln_sdk::config::{did_you_mean, ConfigError, ConfigErrors, Location, RawConfig};
use kiln_sdk::duration::parse_go_duration;
use serde_json::{Map, Value};

use crate::json::{self, Node, Pos, Spanned};

/// The root keys Packer 1.6.6 accepts.
pub const ROOT_KEYS: &[&str] = &[
    "builders",
    "description",
    "error-cleanup-provisioner",
    "min_packer_version",
    "post-processors",
    "provisioners",
    "push",
    "sensitive-variables",
    "variables",
];

/// A user variable declared in `variables`.
#[derive(Clone, Debug)]
pub struct Variable {
    /// Its name.
    pub name: String,
    /// Its default, or `None` when it is required (`null`).
    pub default: Option<String>,
    /// Where it is declared.
    pub location: Location,
}

/// One entry of `builders`.
#[derive(Clone, Debug)]
pub struct BuilderBlock {
    /// `name`, or the type when unnamed (may contain template functions).
    pub name: String,
    /// `type`.
    pub builder_type: String,
    /// The other keys.
    pub raw: RawConfig,
    /// `incremental` (kiln's own): checkpoints for this build, as with
    /// `kiln build -incremental`.
    pub incremental: bool,
}

/// One entry of `provisioners` (or the `error-cleanup-provisioner`).
#[derive(Clone, Debug)]
pub struct ProvisionerBlock {
    /// 1-based position in the list, for Packer-style messages.
    pub index: usize,
    /// `type`.
    pub provisioner_type: String,
    /// `only`: build names this provisioner runs for.
    pub only: Vec<String>,
    /// `except`: build names it skips.
    pub except: Vec<String>,
    /// `override`: per-build config fragments, merged over the config.
    pub overrides: BTreeMap<String, Map<String, Value>>,
    /// `pause_before`.
    pub pause_before: Option<Duration>,
    /// `max_retries`.
    pub max_retries: u32,
    /// `timeout`.
    pub timeout: Option<Duration>,
    /// The other keys.
    pub raw: RawConfig,
}

/// One post-processor in a chain.
#[derive(Clone, Debug)]
pub struct PostProcessorBlock {
    /// `type`.
    pub post_processor_type: String,
    /// `name` (defaults to the type, for `-except`).
    pub name: Option<String>,
    /// `only`.
    pub only: Vec<String>,
    /// `except`.
    pub except: Vec<String>,
    /// `keep_input_artifact`, when set.
    pub keep_input_artifact: Option<bool>,
    /// The other keys.
    pub raw: RawConfig,
}

/// A parsed legacy JSON template.
#[derive(Clone, Debug)]
pub struct Template {
    /// The file as the user named it.
    pub path: Arc<str>,
    /// Its directory, absolute.
    pub dir: PathBuf,
    /// `description`.
    pub description: Option<String>,
    /// `min_packer_version`.
    pub min_packer_version: Option<String>,
    /// Where `min_packer_version` is set, for the error when kiln is too old.
    pub min_packer_version_location: Option<Location>,
    /// `variables`, in file order.
    pub variables: Vec<Variable>,
    /// `sensitive-variables`.
    pub sensitive_variables: Vec<String>,
    /// `builders`.
    pub builders: Vec<BuilderBlock>,
    /// Where `builders` is set (`None` when it is absent), for
    /// `validate`'s "at least one builder" error.
    pub builders_location: Option<Location>,
    /// `provisioners`.
    pub provisioners: Vec<ProvisionerBlock>,
    /// `error-cleanup-provisioner`.
    pub error_cleanup_provisioner: Option<ProvisionerBlock>,
    /// `post-processors`: each element is a chain.
    pub post_processors: Vec<Vec<PostProcessorBlock>>,
    /// Non-fatal remarks found while reading (`file:line:column: …`),
    /// shown by `validate` and `build` with the plan's.
    pub warnings: Vec<String>,
}

/// Reads and parses a template file.
pub fn load(path: &Path) -> Result<Template, ConfigErrors> {
    let (t, errors) = load_partial(path)?;
    errors.into_result(t)
}

/// Reads a template file; see [`parse_partial`].
pub fn load_partial(path: &Path) -> Result<(Template, ConfigErrors), ConfigErrors> {
    let display: Arc<str> = path.to_string_lossy().into();
    let src = std::fs::read_to_string(path).map_err(|e| {
        ConfigErrors::from(ConfigError::new(format!(
            "cannot read template `{display}`: {e}"
        )))
    })?;
    let dir = path
        .parent()
        .map(|p| {
            if p.as_os_str().is_empty() {
                Path::new(".")
            } else {
                p
            }
        })
        .and_then(|p| std::fs::canonicalize(p).ok())
        .unwrap_or_else(|| PathBuf::from("."));
    parse_partial(&src, display, dir)
}

struct Ctx {
    file: Arc<str>,
    errors: ConfigErrors,
}

impl Ctx {
    fn loc(&self, pos: Pos) -> Location {
        Location {
            file: self.file.clone(),
            line: pos.line,
            column: pos.column,
        }
    }

    fn error(&mut self, pos: Pos, message: impl Into<String>) {
        let mut e = ConfigError::new(message);
        e.location = Some(self.loc(pos));
        self.errors.push(e);
    }

    fn error_hint(&mut self, pos: Pos, message: impl Into<String>, hint: Option<String>) {
        let mut e = ConfigError::new(message);
        e.location = Some(self.loc(pos));
        e.hint = hint;
        self.errors.push(e);
    }

    fn string(&mut self, v: &Spanned, what: &str) -> Option<String> {
        match &v.node {
            Node::String(s) => Some(s.clone()),
            _ => {
                self.error(
                    v.pos,
                    format!("{what}: expected a string, found {}", v.kind()),
                );
                None
            }
        }
    }

    fn string_list(&mut self, v: &Spanned, what: &str) -> Vec<String> {
        match &v.node {
            Node::Array(items) => items.iter().filter_map(|i| self.string(i, what)).collect(),
            Node::String(s) => vec![s.clone()],
            _ => {
                self.error(
                    v.pos,
                    format!("{what}: expected a list of strings, found {}", v.kind()),
                );
                Vec::new()
            }
        }
    }

    fn raw(&self, block: &Spanned, entries: &[(String, Pos, Spanned)], skip: &[&str]) -> RawConfig {
        let mut values = Map::new();
        let mut spans = Vec::new();
        for (k, kpos, v) in entries {
            if skip.contains(&k.as_str()) {
                continue;
            }
            values.insert(k.clone(), v.to_value());
            spans.push((k.clone(), *kpos));
            v.collect_spans(k, &mut spans);
        }
        RawConfig {
            values,
            location: Some(self.loc(block.pos)),
            spans: Arc::new(
                spans
                    .into_iter()
                    .map(|(p, pos)| (p, self.loc(pos)))
                    .collect(),
            ),
            ..Default::default()
        }
    }
}

/// Parses template source. `file` names it in errors; `dir` is its directory.
pub fn parse(src: &str, file: Arc<str>, dir: PathBuf) -> Result<Template, ConfigErrors> {
    let (t, errors) = parse_partial(src, file, dir)?;
    errors.into_result(t)
}

/// Like [`parse`], but a template whose JSON is well-formed comes back even
/// when parts of it are wrong, with those errors, so that later stages can
/// report their own problems too (all errors at once).
pub fn parse_partial(
    src: &str,
    file: Arc<str>,
    dir: PathBuf,
) -> Result<(Template, ConfigErrors), ConfigErrors> {
    let root = json::parse(src).map_err(|e| {
        let mut ce = ConfigError::new(format!("invalid JSON: {}", e.kind));
        ce.location = Some(Location {
            file: file.clone(),
            line: e.pos.line,
            column: e.pos.column,
        });
        ConfigErrors::from(ce)
    })?;
    let mut cx = Ctx {
        file: file.clone(),
        errors: ConfigErrors::new(),
    };
    // Packer 1.6.6 rejects a key set twice in one object, at any depth
    // (`template has duplicate field`); Go's decoder would keep the last.
    for (key, first, again) in root.duplicate_keys() {
        cx.error_hint(
            again,
            format!(
                "duplicate key `{key}`: it is already set at line {}, column {}",
                first.line, first.column
            ),
            Some("a key may appear only once in an object; remove one of them".into()),
        );
    }
    let mut t = Template {
        path: file,
        dir,
        description: None,
        min_packer_version: None,
        min_packer_version_location: None,
        variables: Vec::new(),
        sensitive_variables: Vec::new(),
        builders: Vec::new(),
        builders_location: None,
        provisioners: Vec::new(),
        error_cleanup_provisioner: None,
        post_processors: Vec::new(),
        warnings: Vec::new(),
    };
    let Node::Object(entries) = &root.node else {
        cx.error(
            root.pos,
            format!("a template must be a JSON object, found {}", root.kind()),
        );
        return Err(cx.errors);
    };

    for (key, kpos, v) in entries {
        match key.as_str() {
            k if k.starts_with('_') => {}
            "description" => t.description = cx.string(v, "`description`"),
            "min_packer_version" => {
                t.min_packer_version = cx.string(v, "`min_packer_version`");
                t.min_packer_version_location = Some(cx.loc(v.pos));
            }
            "push" => {}
            "variables" => parse_variables(&mut cx, v, &mut t),
            "sensitive-variables" => {
                t.sensitive_variables = cx.string_list(v, "`sensitive-variables`")
            }
            "builders" => {
                t.builders_location = Some(cx.loc(v.pos));
                parse_builders(&mut cx, v, &mut t);
            }
            "provisioners" => match &v.node {
                Node::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        if let Some(p) = parse_provisioner(
                            &mut cx,
                            item,
                            &format!("provisioner {}", i + 1),
                            i + 1,
                        ) {
                            t.provisioners.push(p);
                        }
                    }
                }
                _ => cx.error(
                    v.pos,
                    format!("`provisioners`: expected an array, found {}", v.kind()),
                ),
            },
            "error-cleanup-provisioner" => {
                t.error_cleanup_provisioner =
                    parse_provisioner(&mut cx, v, "error-cleanup-provisioner", 1);
            }
            "post-processors" => parse_post_processors(&mut cx, v, &mut t),
            other => {
                let hint = did_you_mean(other, ROOT_KEYS.iter().copied())
                    .map(|s| format!("did you mean `{s}`?"));
                cx.error_hint(*kpos, format!("unknown top-level key `{other}`"), hint);
            }
        }
    }
    // A template without builders parses (`validate -syntax-only` and
    // `inspect` accept it, as Packer 1.6.6's parser does); `validate`
    // rejects it, see `plan::check_build_references`.

    // A name in `sensitive-variables` that is not declared masks nothing;
    // Packer 1.6.6 accepts it silently, kiln says so.
    for s in &t.sensitive_variables {
        if !t.variables.iter().any(|v| &v.name == s) {
            let hint = did_you_mean(s, t.variables.iter().map(|v| v.name.as_str()))
                .map(|x| format!(" (did you mean `{x}`?)"))
                .unwrap_or_default();
            let pos = root
                .get("sensitive-variables")
                .map(|v| v.pos)
                .unwrap_or_default();
            t.warnings.push(format!(
                "{}: `sensitive-variables` names `{s}`, which is not declared in `variables`; it is ignored{hint}",
                cx.loc(pos)
            ));
        }
    }

    Ok((t, cx.errors))
}

fn parse_variables(cx: &mut Ctx, v: &Spanned, t: &mut Template) {
    let Node::Object(entries) = &v.node else {
        cx.error(
            v.pos,
            format!("`variables`: expected an object, found {}", v.kind()),
        );
        return;
    };
    for (name, kpos, value) in entries {
        let default = match &value.node {
            Node::Null => None,
            Node::String(s) => Some(s.clone()),
            _ => {
                cx.error(
                    value.pos,
                    format!("variable `{name}`: expected a string default (or null for a required variable), found {}", value.kind()),
                );
                continue;
            }
        };
        t.variables.retain(|x| &x.name != name);
        t.variables.push(Variable {
            name: name.clone(),
            default,
            location: cx.loc(*kpos),
        });
    }
}

fn parse_builders(cx: &mut Ctx, v: &Spanned, t: &mut Template) {
    // `null` is no builders, as for Packer 1.6.6 (whose `fix` writes
    // `"builders": null` into a template without them).
    if let Node::Null = v.node {
        return;
    }
    let Node::Array(items) = &v.node else {
        cx.error(
            v.pos,
            format!("`builders`: expected an array, found {}", v.kind()),
        );
        return;
    };
    for (i, item) in items.iter().enumerate() {
        let Node::Object(entries) = &item.node else {
            cx.error(
                item.pos,
                format!(
                    "builder {}: expected an object, found {}",
                    i + 1,
                    item.kind()
                ),
            );
            continue;
        };
        let builder_type = match item.get("type") {
            Some(tv) => cx.string(tv, &format!("builder {}: `type`", i + 1)),
            None => {
                cx.error(item.pos, format!("builder {}: missing `type`", i + 1));
                None
            }
        };
        let name = match item.get("name") {
            Some(nv) => cx.string(nv, &format!("builder {}: `name`", i + 1)),
            None => builder_type.clone(),
        };
        let (Some(builder_type), Some(name)) = (builder_type, name) else {
            continue;
        };
        if t.builders.iter().any(|b| b.name == name) {
            let hint = Some("give each builder of the same type a distinct `name`".to_string());
            cx.error_hint(
                item.pos,
                format!("builder {}: a builder named `{name}` already exists", i + 1),
                hint,
            );
            continue;
        }
        let incremental = match item.get("incremental") {
            None => false,
            Some(Spanned {
                node: Node::Bool(b),
                ..
            }) => *b,
            Some(v) => {
                cx.error_hint(
                    v.pos,
                    format!(
                        "builder {}: `incremental`: expected a boolean, found {}",
                        i + 1,
                        v.kind()
                    ),
                    Some("write `true` or `false`, without quotes".to_string()),
                );
                false
            }
        };
        let raw = cx.raw(item, entries, &["type", "name", "incremental"]);
        t.builders.push(BuilderBlock {
            name,
            builder_type,
            raw,
            incremental,
        });
    }
}

const PROVISIONER_SPECIAL: &[&str] = &[
    "type",
    "only",
    "except",
    "override",
    "pause_before",
    "max_retries",
    "timeout",
];

fn parse_provisioner(
    cx: &mut Ctx,
    item: &Spanned,
    what: &str,
    index: usize,
) -> Option<ProvisionerBlock> {
    let Node::Object(entries) = &item.node else {
        cx.error(
            item.pos,
            format!("{what}: expected an object, found {}", item.kind()),
        );
        return None;
    };
    let provisioner_type = match item.get("type") {
        Some(tv) => cx.string(tv, &format!("{what}: `type`")),
        None => {
            cx.error(item.pos, format!("{what}: missing `type`"));
            None
        }
    };
    let only = item
        .get("only")
        .map(|v| cx.string_list(v, &format!("{what}: `only`")))
        .unwrap_or_default();
    let except = item
        .get("except")
        .map(|v| cx.string_list(v, &format!("{what}: `except`")))
        .unwrap_or_default();
    if !only.is_empty() && !except.is_empty() {
        cx.error(
            item.pos,
            format!("{what}: only one of `only` or `except` may be specified"),
        );
    }
    let duration = |cx: &mut Ctx, key: &str| -> Option<Duration> {
        let v = item.get(key)?;
        let s = cx.string(v, &format!("{what}: `{key}`"))?;
        match parse_go_duration(&s) {
            Ok(d) => Some(d),
            Err(e) => {
                cx.error(v.pos, format!("{what}: `{key}`: {e}"));
                None
            }
        }
    };
    let pause_before = duration(cx, "pause_before");
    let timeout = duration(cx, "timeout");
    let max_retries = match item.get("max_retries") {
        None => 0,
        Some(v) => match kiln_sdk::config::decode_scalar::<u32>(&v.to_value()) {
            Ok(n) => n,
            Err(_) => {
                cx.error(
                    v.pos,
                    format!(
                        "{what}: `max_retries`: expected a non-negative integer, found {}",
                        v.kind()
                    ),
                );
                0
            }
        },
    };
    let mut overrides = BTreeMap::new();
    if let Some(ov) = item.get("override") {
        match ov.to_value() {
            Value::Object(m) => {
                for (build, cfg) in m {
                    match cfg {
                        Value::Object(c) => {
                            overrides.insert(build, c);
                        }
                        _ => cx.error(
                            ov.pos,
                            format!("{what}: `override.{build}` must be an object"),
                        ),
                    }
                }
            }
            _ => cx.error(
                ov.pos,
                format!(
                    "{what}: `override`: expected an object, found {}",
                    ov.kind()
                ),
            ),
        }
    }
    let raw = cx.raw(item, entries, PROVISIONER_SPECIAL);
    Some(ProvisionerBlock {
        index,
        provisioner_type: provisioner_type?,
        only,
        except,
        overrides,
        pause_before,
        max_retries,
        timeout,
        raw,
    })
}

const POST_PROCESSOR_SPECIAL: &[&str] = &["type", "name", "only", "except", "keep_input_artifact"];

fn parse_post_processors(cx: &mut Ctx, v: &Spanned, t: &mut Template) {
    let Node::Array(items) = &v.node else {
        cx.error(
            v.pos,
            format!("`post-processors`: expected an array, found {}", v.kind()),
        );
        return;
    };
    for (i, item) in items.iter().enumerate() {
        let what = format!("post-processor {}", i + 1);
        let chain = match &item.node {
            Node::Array(seq) => seq
                .iter()
                .enumerate()
                .filter_map(|(j, pp)| {
                    let what = format!("post-processor {}.{}", i + 1, j + 1);
                    if matches!(pp.node, Node::Array(_)) {
                        cx.error(
                            pp.pos,
                            format!("{what}: a sequence cannot be nested in a sequence"),
                        );
                        return None;
                    }
                    parse_post_processor(cx, pp, &what)
                })
                .collect(),
            _ => parse_post_processor(cx, item, &what).into_iter().collect(),
        };
        t.post_processors.push(chain);
    }
}

fn parse_post_processor(cx: &mut Ctx, item: &Spanned, what: &str) -> Option<PostProcessorBlock> {
    match &item.node {
        Node::String(s) => Some(PostProcessorBlock {
            post_processor_type: s.clone(),
            name: None,
            only: Vec::new(),
            except: Vec::new(),
            keep_input_artifact: None,
            raw: RawConfig {
                location: Some(cx.loc(item.pos)),
                ..Default::default()
            },
        }),
        Node::Object(entries) => {
            let post_processor_type = match item.get("type") {
                Some(tv) => cx.string(tv, &format!("{what}: `type`")),
                None => {
                    cx.error(item.pos, format!("{what}: missing `type`"));
                    None
                }
            };
            let name = item
                .get("name")
                .and_then(|v| cx.string(v, &format!("{what}: `name`")));
            let only = item
                .get("only")
                .map(|v| cx.string_list(v, &format!("{what}: `only`")))
                .unwrap_or_default();
            let except = item
                .get("except")
                .map(|v| cx.string_list(v, &format!("{what}: `except`")))
                .unwrap_or_default();
            // Packer 1.6.6's parser decodes this key strictly: the string
            // `"true"` is rejected (`expected type 'bool', got
            // unconvertible type 'string'`), by every command.
            let keep_input_artifact = match item.get("keep_input_artifact") {
                None => None,
                Some(Spanned {
                    node: Node::Bool(b),
                    ..
                }) => Some(*b),
                Some(v) => {
                    let hint = match &v.node {
                        Node::String(s) if s == "true" || s == "false" => {
                            Some(format!("write `{s}` without quotes"))
                        }
                        _ => Some("write `true` or `false`, without quotes".to_string()),
                    };
                    cx.error_hint(
                        v.pos,
                        format!(
                            "{what}: `keep_input_artifact`: expected a boolean, found {}",
                            v.kind()
                        ),
                        hint,
                    );
                    None
                }
            };
            let raw = cx.raw(item, entries, POST_PROCESSOR_SPECIAL);
            Some(PostProcessorBlock {
                post_processor_type: post_processor_type?,
                name,
                only,
                except,
                keep_input_artifact,
                raw,
            })
        }
        _ => {
            cx.error(
                item.pos,
                format!(
                    "{what}: expected a type name, an object or an array, found {}",
                    item.kind()
                ),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(src: &str) -> Result<Template, ConfigErrors> {
        parse(src, "t.json".into(), PathBuf::from("/tmp"))
    }

    #[test]
    fn parses_every_section() {
        let t = p(r#"{
  "_comment": "ignored",
  "description": "d",
  "variables": {"a": "x", "req": null},
  "sensitive-variables": ["a"],
  "builders": [{"type": "null", "communicator": "none"}, {"type": "null", "name": "two"}],
  "provisioners": [{"type": "shell-local", "inline": ["x"], "only": ["two"], "pause_before": "1s", "max_retries": "2",
                    "override": {"two": {"inline": ["y"]}}}],
  "error-cleanup-provisioner": {"type": "shell-local", "inline": ["c"]},
  "post-processors": ["manifest", {"type": "checksum", "keep_input_artifact": true}, [{"type": "compress"}, "manifest"]]
}"#)
        .unwrap();
        assert_eq!(t.builders.len(), 2);
        assert_eq!(t.builders[0].name, "null");
        assert_eq!(t.variables[1].default, None);
        assert_eq!(t.provisioners[0].max_retries, 2);
        assert_eq!(t.provisioners[0].pause_before, Some(Duration::from_secs(1)));
        assert!(t.provisioners[0].overrides.contains_key("two"));
        assert!(!t.provisioners[0].raw.values.contains_key("only"));
        assert_eq!(t.post_processors.len(), 3);
        assert_eq!(t.post_processors[2].len(), 2);
        assert_eq!(t.post_processors[1][0].keep_input_artifact, Some(true));
        assert_eq!(t.provisioners[0].raw.locate("inline[0]").unwrap().line, 7);
    }

    #[test]
    fn reports_every_problem_with_locations() {
        let errs = p(r#"{
  "buildrs": [],
  "variables": {"n": 5},
  "provisioners": [{"inline": []}, {"type": "x", "pause_before": "soon"}],
  "post-processors": [[["nested"]]]
}"#)
        .unwrap_err();
        let text = errs.to_string();
        assert!(
            text.contains(
                "t.json:2:3: unknown top-level key `buildrs`\n  hint: did you mean `builders`?"
            ),
            "{text}"
        );
        assert!(
            text.contains("t.json:3:22: variable `n`: expected a string default"),
            "{text}"
        );
        assert!(
            text.contains("t.json:4:20: provisioner 1: missing `type`"),
            "{text}"
        );
        assert!(text.contains("provisioner 2: `pause_before`"), "{text}");
        assert!(text.contains("sequence cannot be nested"), "{text}");
        // No builders is `validate`'s error (`plan`), not the parser's.
        assert!(!text.contains("no `builders`"), "{text}");
    }

    #[test]
    fn keep_input_artifact_as_a_string_is_rejected() {
        // packer 1.6.6: `post-processor 1.1: 1 error(s) decoding: /
        // 'keep_input_artifact' expected type 'bool', got unconvertible
        // type 'string', value: 'true'`, at every command.
        let errs = p(r#"{"builders": [{"type": "null"}],
 "post-processors": [{"type": "compress", "keep_input_artifact": "true"}]}"#)
        .unwrap_err();
        let text = errs.to_string();
        assert!(
            text.contains("t.json:2:66: post-processor 1: `keep_input_artifact`: expected a boolean, found a string\n  hint: write `true` without quotes"),
            "{text}"
        );
    }

    #[test]
    fn duplicate_builder_names() {
        let errs = p(r#"{"builders": [{"type": "null"}, {"type": "null"}]}"#).unwrap_err();
        assert!(errs
            .to_string()
            .contains("builder 2: a builder named `null` already exists"));
    }

    #[test]
    fn duplicate_keys_are_errors_at_the_second_occurrence() {
        // Packer 1.6.6: `Failed to parse template: template has duplicate
        // field: communicator` (exit 1), for a key repeated at any depth.
        let errs = p("{\"builders\": [{\"type\": \"null\",\n  \"communicator\": \"none\",\n  \"communicator\": \"none\"}],\n \"variables\": {\"a\": \"1\", \"a\": \"2\"}}")
            .unwrap_err()
            .to_string();
        assert!(
            errs.contains(
                "t.json:3:3: duplicate key `communicator`: it is already set at line 2, column 3"
            ),
            "{errs}"
        );
        assert!(errs.contains("t.json:4:26: duplicate key `a`"), "{errs}");
    }

    #[test]
    fn undeclared_sensitive_variables_are_a_warning() {
        // Packer 1.6.6 validates and builds such a template.
        let t = p(r#"{"variables": {"password": "x"},
  "sensitive-variables": ["pasword", "password"],
  "builders": [{"type": "null", "communicator": "none"}]}"#)
        .unwrap();
        assert_eq!(t.warnings.len(), 1, "{:?}", t.warnings);
        assert_eq!(
            t.warnings[0],
            "t.json:2:26: `sensitive-variables` names `pasword`, which is not declared in `variables`; it is ignored (did you mean `password`?)"
        );
    }
}
