//! The `http` data source, as Packer's `datasource/http`: one request
//! (`url`, `method`, `request_headers`, `request_body`) while the template
//! is evaluated, with a timeout ([`HTTP_TIMEOUT`]); its outputs are `url`,
//! `method`, `request_headers`, `status_code`, `response_headers` (names
//! in Go's canonical form, repeated headers joined with `, `) and `body`.
//! `prepare` checks the arguments as Packer's `Configure` does (a `url`, a
//! method of Packer's list, in capitals); `execute` makes the request, and
//! an answer that is not 2xx is an error. Holds nothing; nothing to clean
//! up.

use std::time::Duration;

use async_trait::async_trait;
use kiln_sdk::component::{BuildError, DataSourceContext};
use kiln_sdk::config::{ConfigError, ConfigErrors, RawConfig};
use kiln_sdk::{DataSource, DataSourceFactory, PrepareContext, Prepared};
use serde_json::{Map, Value};

use super::{at_block, at_value, display, kind};

/// How long an `http` data source may take, connection included.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(60);

/// The methods an `http` data source may use, as Packer's.
const HTTP_METHODS: &[&str] = &["HEAD", "GET", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"];

/// The arguments of the block.
const ARGS: &[&str] = &["url", "method", "request_headers", "request_body"];

/// Registers `http`.
pub struct HttpDataSourceFactory;

/// An `http` data source's request, checked as Packer's `Configure` does.
struct HttpRequest {
    url: String,
    method: String,
    body: Option<String>,
    headers: Vec<(String, String)>,
}

impl DataSourceFactory for HttpDataSourceFactory {
    fn name(&self) -> &'static str {
        "http"
    }

    fn prepare(
        &self,
        raw: &RawConfig,
        cx: &PrepareContext,
    ) -> Result<Prepared<Box<dyn DataSource>>, ConfigErrors> {
        let mut errors = ConfigErrors::new();
        let what = super::what("http", cx);
        super::check_keys(raw, &what, ARGS, &mut errors);
        if !raw.values.contains_key("url") {
            errors.push(
                at_block(raw, format!("{what} needs a `url`"))
                    .with_hint("add `url = \"https://…\"`"),
            );
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let request = http_request(raw)?;
        Ok(Prepared::new(Box::new(request) as Box<dyn DataSource>))
    }
}

/// The string value of `key`: numbers and bools as written; none when
/// absent or null.
fn string_arg(raw: &RawConfig, key: &str) -> Result<Option<String>, ConfigError> {
    match raw.values.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(v @ (Value::Number(_) | Value::Bool(_))) => Ok(Some(display(v))),
        Some(v) => Err(at_value(
            raw,
            key,
            format!("`{key}` must be a string, found {}", kind(v)),
        )),
    }
}

/// Checks an `http` data source's arguments (types, a `url`, a method
/// Packer knows), without making the request.
fn http_request(raw: &RawConfig) -> Result<HttpRequest, ConfigError> {
    let url = string_arg(raw, "url")?.unwrap_or_default();
    if url.is_empty() {
        return Err(at_value(raw, "url", "`url` must not be empty".into())
            .with_hint("write a full URL such as `https://example.com/file`"));
    }
    let method = string_arg(raw, "method")?.unwrap_or_else(|| "GET".into());
    if !HTTP_METHODS.contains(&method.as_str()) {
        let upper = method.to_uppercase();
        return Err(at_value(
            raw,
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
    let body = string_arg(raw, "request_body")?;
    let mut headers: Vec<(String, String)> = Vec::new();
    match raw.values.get("request_headers") {
        None | Some(Value::Null) => {}
        Some(Value::Object(o)) => {
            for (k, v) in o {
                match v {
                    Value::String(_) | Value::Number(_) | Value::Bool(_) => {
                        headers.push((k.clone(), display(v)))
                    }
                    other => {
                        return Err(at_value(
                            raw,
                            "request_headers",
                            format!(
                                "`request_headers.{k}` must be a string, found {}",
                                kind(other)
                            ),
                        ))
                    }
                }
            }
        }
        Some(v) => {
            return Err(at_value(
                raw,
                "request_headers",
                format!(
                    "`request_headers` must be a map of strings, found {}",
                    kind(v)
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

/// A failure of `execute`, with its hint: the evaluator shows the part
/// after `\n  hint: ` (a [`ConfigError`]'s display) as the error's hint.
fn failure(message: String, hint: &str) -> BuildError {
    BuildError::msg(ConfigError::new(message).with_hint(hint))
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

/// An error and its causes, `: `-separated.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(&format!(": {inner}"));
        src = inner.source();
    }
    s
}

/// Headers as an object of strings.
fn object(pairs: &[(String, String)]) -> Value {
    Value::Object(
        pairs
            .iter()
            .map(|(k, v)| (k.clone(), Value::from(v.clone())))
            .collect(),
    )
}

impl HttpRequest {
    /// Makes the request: status, headers (canonical names, repeated ones
    /// joined), body.
    async fn send(&self) -> Result<(u16, Vec<(String, String)>, String), BuildError> {
        let url = &self.url;
        let parsed = reqwest::Url::parse(url).map_err(|e| {
            failure(
                format!("`{url}` is not a valid URL: {e}"),
                "write a full URL such as `https://example.com/file`",
            )
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(BuildError::msg(format!(
                "`{url}`: only `http` and `https` URLs can be read"
            )));
        }
        let method = reqwest::Method::from_bytes(self.method.as_bytes())
            .map_err(|_| BuildError::msg(format!("`{}` is not an HTTP method", self.method)))?;
        let failed = |e: String| {
            failure(
                format!("request to `{url}` failed: {e}"),
                "check the URL and that the server is reachable from this machine",
            )
        };
        let client = reqwest::Client::builder()
            .timeout(HTTP_TIMEOUT)
            .build()
            .map_err(|e| failed(format!("cannot start the HTTP client: {e}")))?;
        let mut req = client.request(method, parsed);
        for (k, v) in &self.headers {
            req = req.header(k, v);
        }
        if let Some(b) = &self.body {
            req = req.body(b.clone());
        }
        let resp = req.send().await.map_err(|e| failed(chain(&e)))?;
        let status = resp.status().as_u16();
        let mut headers: Vec<(String, String)> = Vec::new();
        for (k, v) in resp.headers() {
            let k = canonical_header(k.as_str());
            let v = String::from_utf8_lossy(v.as_bytes()).into_owned();
            match headers.iter_mut().find(|(n, _)| *n == k) {
                Some((_, prev)) => {
                    prev.push_str(", ");
                    prev.push_str(&v);
                }
                None => headers.push((k, v)),
            }
        }
        let text = resp
            .text()
            .await
            .map_err(|e| failed(format!("cannot read the response body: {e}")))?;
        Ok((status, headers, text))
    }
}

#[async_trait]
impl DataSource for HttpRequest {
    async fn execute(&self, cx: DataSourceContext) -> Result<Value, BuildError> {
        let (status, response_headers, text) = tokio::select! {
            r = self.send() => r?,
            _ = cx.cancel.cancelled() => return Err(BuildError::Cancelled),
        };
        let (method, url) = (&self.method, &self.url);
        if !(200..300).contains(&status) {
            return Err(failure(
                format!("`{method} {url}` answered with status {status}"),
                "the `http` data source needs a 2xx answer",
            ));
        }
        let mut o = Map::new();
        o.insert("url".into(), Value::from(url.clone()));
        o.insert("method".into(), Value::from(method.clone()));
        o.insert("request_headers".into(), object(&self.headers));
        o.insert("status_code".into(), Value::from(status));
        o.insert("response_headers".into(), object(&response_headers));
        o.insert("body".into(), Value::from(text));
        Ok(Value::Object(o))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_test::data_source_cx;
    use kiln_test::http::serve_once;
    use serde_json::json;
    use tokio_util::sync::CancellationToken;

    async fn read(config: Value) -> Result<Value, String> {
        let p = HttpDataSourceFactory
            .prepare(
                &RawConfig::from_value(config),
                &data_source_cx("data.http.v"),
            )
            .map_err(|e| e.to_string())?;
        p.component
            .execute(DataSourceContext {
                cancel: CancellationToken::new(),
            })
            .await
            .map_err(|e| e.to_string())
    }

    #[tokio::test]
    async fn reads_body_status_and_headers() {
        let (url, h) = serve_once(200, "1.2.3");
        let j = read(json!({
            "url": url,
            "method": "POST",
            "request_headers": { "Accept": "text/plain", "X-N": 1 },
            "request_body": "hi",
        }))
        .await
        .unwrap();
        let req = h.join().unwrap();
        assert!(req.starts_with("POST /v "), "{req}");
        assert!(req.to_lowercase().contains("accept: text/plain"), "{req}");
        assert!(req.to_lowercase().contains("x-n: 1"), "{req}");
        assert_eq!(j["url"], url.as_str());
        assert_eq!(j["method"], "POST");
        assert_eq!(j["body"], "1.2.3");
        assert_eq!(j["status_code"], 200);
        assert_eq!(j["response_headers"]["Content-Type"], "text/plain");
        assert_eq!(j["response_headers"]["X-Thing"], "a, b");
        assert_eq!(j["request_headers"]["Accept"], "text/plain");
        assert_eq!(j["request_headers"]["X-N"], "1");
    }

    #[tokio::test]
    async fn failures_say_what_to_check() {
        let (url, h) = serve_once(404, "no");
        let e = read(json!({ "url": url })).await.unwrap_err();
        h.join().unwrap();
        assert_eq!(
            e,
            format!(
                "`GET {url}` answered with status 404\n  hint: the `http` data source needs a 2xx answer"
            )
        );
        let e = read(json!({ "url": "ftp://x" })).await.unwrap_err();
        assert_eq!(e, "`ftp://x`: only `http` and `https` URLs can be read");
        let e = read(json!({ "url": "no scheme" })).await.unwrap_err();
        assert!(e.starts_with("`no scheme` is not a valid URL: "), "{e}");
    }

    #[test]
    fn configuration_is_checked_as_packer_does() {
        let check = |config: Value| match HttpDataSourceFactory.prepare(
            &RawConfig::from_value(config),
            &data_source_cx("data.http.v"),
        ) {
            Ok(_) => String::new(),
            Err(e) => e.to_string(),
        };
        assert_eq!(
            check(json!({ "ulr": "x" })),
            "unsupported argument `ulr` in data source `data.http.v`\n\
             data source `data.http.v` needs a `url`\n  hint: add `url = \"https://…\"`"
        );
        assert_eq!(
            check(json!({ "url": "" })),
            "`url` must not be empty\n  hint: write a full URL such as `https://example.com/file`"
        );
        assert_eq!(
            check(json!({ "url": "https://x", "method": "get" })),
            "`get` is not a method the `http` data source can use\n  hint: write it in capitals, `GET`, as Packer requires"
        );
        assert!(
            check(json!({ "url": "https://x", "method": "FETCH" })).contains("use one of `HEAD`"),
        );
        assert_eq!(
            check(json!({ "url": "https://x", "request_headers": { "A": [1] } })),
            "`request_headers.A` must be a string, found a list"
        );
        assert_eq!(
            check(json!({ "url": "https://x", "request_headers": "A" })),
            "`request_headers` must be a map of strings, found a string"
        );
        assert_eq!(
            check(json!({ "url": ["https://x"] })),
            "`url` must be a string, found a list"
        );
        assert_eq!(check(json!({ "url": "https://x", "method": "PUT" })), "");
    }
}
