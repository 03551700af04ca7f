//! Component configuration: the raw keys a template gives a component, with
//! where each one came from, and [`decode`], which turns them into a typed
//! config while collecting *every* problem (unknown keys with a "did you
//! mean", type errors, interpolation errors) instead of stopping at the
//! first.
//!
//! A component's `prepare` calls [`decode`], then adds its own validation
//! errors with [`ConfigErrors::push`] and returns them all together.

mod weak;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::interpolate::{self, Context};
pub use weak::WeakDeserializer;

/// Where a value sits in a template file (1-based line and column).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    /// The template file, as the user named it.
    pub file: Arc<str>,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// The keys of one component block, with the location of each key and
/// nested value. Paths are dotted keys with `[i]` for list items
/// (`inline[2]`, `custom_data.owner`).
#[derive(Clone, Debug, Default)]
pub struct RawConfig {
    /// The component's keys, with Packer's special keys (`type`, `only`,
    /// `override`, …) already removed.
    pub values: Map<String, Value>,
    /// Where the block itself starts.
    pub location: Option<Location>,
    /// Where each key (by path) sits.
    pub spans: Arc<BTreeMap<String, Location>>,
    /// Where the value of each key (by path) starts, when the template
    /// says (HCL2 attributes): for a problem with the value rather than
    /// the key (`method = "get"` points at `"get"`).
    pub value_spans: Arc<BTreeMap<String, Location>>,
}

impl RawConfig {
    /// A raw config without locations (for tests and plugins).
    pub fn from_value(value: Value) -> Self {
        match value {
            Value::Object(values) => RawConfig {
                values,
                ..Default::default()
            },
            _ => RawConfig::default(),
        }
    }

    /// Where the value of `path` starts, else [`RawConfig::locate`].
    pub fn locate_value(&self, path: &str) -> Option<Location> {
        self.value_spans
            .get(path)
            .cloned()
            .or_else(|| self.locate(path))
    }

    /// The best location for `path`: the path itself, else its nearest
    /// parent, else the block.
    pub fn locate(&self, path: &str) -> Option<Location> {
        let mut p = path;
        loop {
            if let Some(l) = self.spans.get(p) {
                return Some(l.clone());
            }
            match p.rfind(['.', '[']) {
                Some(i) => p = &p[..i],
                None => return self.location.clone(),
            }
        }
    }
}

/// One configuration problem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The key path the problem is about, if any (`inline[0]`).
    pub path: Option<String>,
    /// What is wrong, lowercase, with the user's values in backticks.
    pub message: String,
    /// A suggestion (`did you mean `inline`?`).
    pub hint: Option<String>,
    /// Where it is; filled in by [`ConfigErrors::locate`].
    pub location: Option<Location>,
}

impl ConfigError {
    /// A problem with the block as a whole.
    pub fn new(message: impl Into<String>) -> Self {
        ConfigError {
            path: None,
            message: message.into(),
            hint: None,
            location: None,
        }
    }

    /// A problem with one key.
    pub fn at(path: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError {
            path: Some(path.into()),
            ..ConfigError::new(message)
        }
    }

    /// Adds a hint.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(loc) = &self.location {
            write!(f, "{loc}: ")?;
        }
        if let Some(path) = &self.path {
            write!(f, "`{path}`: ")?;
        }
        f.write_str(&self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

/// Every problem found while preparing one component (or a whole template).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    /// No errors yet.
    pub fn new() -> Self {
        Self::default()
    }
    /// Records a problem.
    pub fn push(&mut self, e: ConfigError) {
        self.0.push(e);
    }
    /// True when nothing is wrong.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// `Ok(value)` when empty, else `Err(self)`.
    pub fn into_result<T>(self, value: T) -> Result<T, ConfigErrors> {
        if self.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }
    /// The Go duration `value` of setting `key` (`5m`), `default` when
    /// empty; one that does not parse is recorded and `default` used.
    pub fn duration(&mut self, key: &str, value: &str, default: Duration) -> Duration {
        if value.is_empty() {
            return default;
        }
        crate::duration::parse_go_duration(value).unwrap_or_else(|e| {
            self.push(ConfigError::at(key, e));
            default
        })
    }
    /// Fills in the location of each error from `raw`'s spans.
    pub fn locate(mut self, raw: &RawConfig) -> Self {
        for e in &mut self.0 {
            if e.location.is_none() {
                e.location = match &e.path {
                    Some(p) => raw.locate(p),
                    None => raw.location.clone(),
                };
            }
        }
        self
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl From<ConfigError> for ConfigErrors {
    fn from(e: ConfigError) -> Self {
        ConfigErrors(vec![e])
    }
}

/// The closest of `candidates` to `input`, if it is close enough to be a
/// likely typo.
pub fn did_you_mean<'a>(
    input: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(input, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// Checks the local files of a component's `script` (when set) or
/// `scripts`, as Packer 1.6.6 does at validate (`Bad script`): one error
/// per missing file, at `script` or `scripts[i]`.
pub fn check_scripts(script: &str, scripts: &[String], errors: &mut ConfigErrors) {
    let found = if script.is_empty() {
        scripts
            .iter()
            .enumerate()
            .filter_map(|(i, path)| check_local_path(format!("scripts[{i}]"), "script", path))
            .collect()
    } else {
        Vec::from_iter(check_local_path("script", "script", script))
    };
    for e in found {
        errors.push(e);
    }
}

/// Packer's validate-time check of a local file or directory a component
/// names (`Bad script 'x.sh'`, `Bad source 'x'`, `Bad Floppy disk file`):
/// `None` when `path` exists, else an error at `key` saying which `what`
/// is missing and why, with a hint for relative paths (they are read from
/// the current directory, as in Packer).
pub fn check_local_path(key: impl Into<String>, what: &str, path: &str) -> Option<ConfigError> {
    let e = std::fs::metadata(path).err()?;
    let mut reason = e.to_string();
    if let Some(i) = reason.find(" (os error") {
        reason.truncate(i);
    }
    if let Some(first) = reason.get(..1) {
        reason = first.to_lowercase() + &reason[1..];
    }
    let err = ConfigError::at(key, format!("bad {what} `{path}`: {reason}"));
    Some(if std::path::Path::new(path).is_relative() {
        match std::env::current_dir() {
            Ok(cwd) => err.with_hint(format!(
                "a relative path is read from the current directory, `{}`",
                cwd.display()
            )),
            Err(_) => err,
        }
    } else {
        err
    })
}

/// The field names serde will accept for `T` (its `deserialize_struct`
/// fields). Empty for types that do not deserialize as a plain struct.
pub fn struct_fields<T: DeserializeOwned>() -> &'static [&'static str] {
    introspect::fields::<T>()
}

mod introspect {
    use serde::de::{self, Deserializer, Visitor};

    struct Capture<'a>(&'a mut &'static [&'static str]);

    #[derive(Debug)]
    struct Stop;
    impl std::fmt::Display for Stop {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("stop")
        }
    }
    impl std::error::Error for Stop {}
    impl de::Error for Stop {
        fn custom<T: std::fmt::Display>(_: T) -> Self {
            Stop
        }
    }

    impl<'de> Deserializer<'de> for Capture<'_> {
        type Error = Stop;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
            Err(Stop)
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Stop> {
            *self.0 = fields;
            Err(Stop)
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct map enum identifier ignored_any
        }
    }

    pub fn fields<T: serde::de::DeserializeOwned>() -> &'static [&'static str] {
        let mut out: &'static [&'static str] = &[];
        let _ = T::deserialize(Capture(&mut out));
        out
    }
}

/// Options for [`decode`].
#[derive(Default)]
pub struct DecodeOptions<'a> {
    /// Interpolate string values with this context first (JSON templates).
    pub interpolate: Option<&'a Context>,
    /// Top-level keys left uninterpolated, because the component renders them
    /// itself later (`execute_command`, `inline` of shell-local…).
    pub skip_interpolation: &'a [&'a str],
    /// Extra accepted keys that the struct does not declare (flattened
    /// sub-configs).
    pub extra_fields: &'a [&'a str],
}

/// Decodes a component's raw keys into `T`, collecting every problem:
/// interpolation errors, unknown keys (with a suggestion) and type errors.
/// Errors carry their key path and location.
pub fn decode<T: DeserializeOwned>(
    raw: &RawConfig,
    opts: &DecodeOptions<'_>,
) -> Result<T, ConfigErrors> {
    match decode_lenient(raw, opts) {
        (Some(v), errors) if errors.is_empty() => Ok(v),
        (_, errors) => Err(errors),
    }
}

/// A list of strings or one string, as Packer's weak decoding accepts for
/// list keys (`"action": "s3:*"` or `["s3:*"]`).
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    /// One string.
    One(String),
    /// A list.
    Many(Vec<String>),
}

impl Default for OneOrMany {
    fn default() -> Self {
        OneOrMany::Many(Vec::new())
    }
}

impl OneOrMany {
    /// The strings, in order.
    pub fn to_vec(&self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }

    /// The non-empty strings, in order.
    pub fn non_empty(&self) -> Vec<String> {
        self.to_vec()
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect()
    }
}

/// Decodes a component's keys section by section (a builder's access,
/// source, network… structs): each section gets only its own keys, so each
/// reports its own type errors, and the section asked with `unknown` also
/// gets the keys no section knows (`all` is every section's keys, and the
/// communicator's), so they are reported once, with a suggestion from all
/// of them. Pure; holds nothing.
pub struct SectionDecoder<'a> {
    raw: &'a RawConfig,
    interpolate: &'a Context,
    all: &'a [&'a str],
    skip_interpolation: &'a [&'a str],
    failed: std::cell::Cell<bool>,
}

impl<'a> SectionDecoder<'a> {
    /// A decoder of `raw`, interpolating with `interpolate` except the keys
    /// in `skip_interpolation` (rendered by the component at run time).
    pub fn new(
        raw: &'a RawConfig,
        interpolate: &'a Context,
        all: &'a [&'a str],
        skip_interpolation: &'a [&'a str],
    ) -> Self {
        SectionDecoder {
            raw,
            interpolate,
            all,
            skip_interpolation,
            failed: std::cell::Cell::new(false),
        }
    }

    /// Decodes `T`'s keys (with `unknown`, also the keys nobody knows),
    /// adding every problem to `errors`; `T::default()` when they cannot be
    /// decoded at all, and [`SectionDecoder::failed`] is then true.
    pub fn section<T: DeserializeOwned + Default>(
        &self,
        unknown: bool,
        errors: &mut ConfigErrors,
    ) -> T {
        let fields = struct_fields::<T>();
        let mut part = self.raw.clone();
        part.values.retain(|k, _| {
            fields.contains(&k.as_str()) || (unknown && !self.all.contains(&k.as_str()))
        });
        let (value, e) = decode_lenient::<T>(
            &part,
            &DecodeOptions {
                interpolate: Some(self.interpolate),
                skip_interpolation: self.skip_interpolation,
                extra_fields: self.all,
            },
        );
        errors.0.extend(e.0);
        value.unwrap_or_else(|| {
            self.failed.set(true);
            T::default()
        })
    }

    /// Whether a section could not be decoded.
    pub fn failed(&self) -> bool {
        self.failed.get()
    }
}

/// [`decode_lenient`] as a component's `prepare` starts: the build's
/// interpolation context applied to every key but `run_time_keys` (those
/// are rendered when the component runs). `Err` when nothing could be
/// decoded; otherwise the fields and the errors found so far, for
/// `prepare` to add its own checks to.
pub fn decode_prepared<T: DeserializeOwned>(
    raw: &RawConfig,
    cx: &crate::component::PrepareContext,
    run_time_keys: &[&str],
) -> Result<(T, ConfigErrors), ConfigErrors> {
    let (f, errors) = decode_lenient::<T>(
        raw,
        &DecodeOptions {
            interpolate: Some(&cx.interpolation),
            skip_interpolation: run_time_keys,
            ..Default::default()
        },
    );
    match f {
        Some(f) => Ok((f, errors)),
        None => Err(errors),
    }
}

/// Like [`decode`], but also returns the decoded value when the only
/// problems were unknown keys or interpolation errors (which are left out of
/// the value), so a component can go on to report its own checks too: every
/// error at once. `None` when the keys could not be decoded at all.
pub fn decode_lenient<T: DeserializeOwned>(
    raw: &RawConfig,
    opts: &DecodeOptions<'_>,
) -> (Option<T>, ConfigErrors) {
    let mut errors = ConfigErrors::new();
    let mut values = raw.values.clone();

    if let Some(ctx) = opts.interpolate {
        for (key, value) in values.iter_mut() {
            if opts.skip_interpolation.contains(&key.as_str()) {
                continue;
            }
            interpolate_value(value, key, ctx, &mut errors);
        }
    }

    let fields = struct_fields::<T>();
    if !fields.is_empty() {
        let known = || fields.iter().chain(opts.extra_fields.iter()).copied();
        for key in values.keys() {
            if !known().any(|f| f == key) {
                let mut e =
                    ConfigError::at(key.clone(), format!("unknown configuration key `{key}`"));
                if let Some(s) = did_you_mean(key, known()) {
                    e = e.with_hint(format!("did you mean `{s}`?"));
                }
                errors.push(e);
            }
        }
        // Unknown keys are reported above; drop them so that one typo does
        // not hide the type errors of the other keys.
        values.retain(|k, _| known().any(|f| f == k));
    }

    let value = Value::Object(values);
    let mut track = serde_path_to_error::Track::new();
    let result = T::deserialize(serde_path_to_error::Deserializer::new(
        WeakDeserializer(&value),
        &mut track,
    ));
    match result {
        Ok(v) => (Some(v), errors.locate(raw)),
        Err(e) => {
            let path = track.path().to_string();
            let message = humanize_serde_error(&e.to_string());
            if path.is_empty() || path == "." {
                errors.push(ConfigError::new(message));
            } else {
                errors.push(ConfigError::at(path, message));
            }
            (None, errors.locate(raw))
        }
    }
}

/// Rewrites serde's messages into kiln's style (`expected X, found Y`).
fn humanize_serde_error(msg: &str) -> String {
    if let Some(rest) = msg
        .strip_prefix("invalid type: ")
        .or_else(|| msg.strip_prefix("invalid value: "))
    {
        if let Some((found, expected)) = rest.split_once(", expected ") {
            let found = found
                .replace("string \"", "`")
                .replace('"', "`")
                .replace("unit value", "null");
            return format!("expected {expected}, found {found}");
        }
    }
    if let Some(field) = msg.strip_prefix("missing field ") {
        return format!("required key {field} is missing");
    }
    msg.to_string()
}

/// Decodes one value with Packer's weak typing (`"5"` as a number).
pub fn decode_scalar<T: DeserializeOwned>(value: &Value) -> Result<T, String> {
    T::deserialize(WeakDeserializer(value)).map_err(|e| humanize_serde_error(&e.to_string()))
}

/// Interpolates every string inside `value` in place, recording errors with
/// their path.
pub fn interpolate_value(value: &mut Value, path: &str, ctx: &Context, errors: &mut ConfigErrors) {
    match value {
        Value::String(s) => match interpolate::render(s, ctx) {
            Ok(r) => *s = r,
            Err(e) => errors.push(ConfigError::at(path.to_string(), e.to_string())),
        },
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                interpolate_value(item, &format!("{path}[{i}]"), ctx, errors);
            }
        }
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                interpolate_value(v, &format!("{path}.{k}"), ctx, errors);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Deserialize, Debug)]
    #[allow(dead_code)]
    struct Cfg {
        inline: Vec<String>,
        #[serde(default)]
        valid_exit_codes: Vec<i64>,
        #[serde(default)]
        count: u32,
    }

    #[test]
    fn collects_unknown_keys_and_type_errors() {
        let raw = RawConfig::from_value(
            json!({"inlin": ["x"], "bogus": 1, "inline": ["a"], "count": "many"}),
        );
        let errs = decode::<Cfg>(&raw, &DecodeOptions::default()).unwrap_err();
        let text = errs.to_string();
        assert!(text.contains("unknown configuration key `inlin`"), "{text}");
        assert!(text.contains("did you mean `inline`?"), "{text}");
        assert!(text.contains("unknown configuration key `bogus`"), "{text}");
        assert!(
            text.contains("`count`: expected an integer, found `many`"),
            "{text}"
        );
    }

    #[test]
    fn finds_struct_fields() {
        assert_eq!(
            struct_fields::<Cfg>(),
            &["inline", "valid_exit_codes", "count"]
        );
    }

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(
            did_you_mean("provisoners", ["builders", "provisioners"]),
            Some("provisioners")
        );
        assert_eq!(did_you_mean("zzz", ["builders", "provisioners"]), None);
    }

    #[test]
    fn check_local_path_reports_missing_files_like_packer() {
        assert!(check_local_path("script", "script", "/").is_none());
        let e = check_local_path("scripts[1]", "script", "/nonexistent/x.sh").unwrap();
        assert_eq!(
            e.message,
            "bad script `/nonexistent/x.sh`: no such file or directory"
        );
        assert_eq!(e.hint, None);
        let e = check_local_path("source", "source", "nonexistent-kiln.txt").unwrap();
        assert!(e
            .hint
            .unwrap()
            .starts_with("a relative path is read from the current directory"));
    }
}
