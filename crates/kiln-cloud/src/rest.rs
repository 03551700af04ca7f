//! One call of a REST-style cloud API (Huawei Cloud's, OpenStack's): the
//! service it goes to, the operation's name (for messages and fault
//! tests), the HTTP method, the path and query, the JSON body and its
//! content type. Each builder's client sends it its own way (signed, or
//! with a token); this is only the request's description. Holds nothing.

use serde_json::Value;

/// See the module docs; `S` is the cloud's service type.
#[derive(Debug, Clone)]
pub struct Call<S> {
    /// The service.
    pub service: S,
    /// The operation (`CreateServer`), for messages.
    pub op: &'static str,
    /// The HTTP method.
    pub method: http::Method,
    /// The path (below the service's endpoint, or from its root, as the
    /// client has it), or a whole URL (a pagination link).
    pub path: String,
    /// The query parameters.
    pub query: Vec<(String, String)>,
    /// The JSON body.
    pub body: Option<Value>,
    /// The body's content type.
    pub content_type: &'static str,
}

impl<S> Call<S> {
    /// A `GET` of `path`.
    pub fn get(service: S, op: &'static str, path: impl Into<String>) -> Self {
        Call {
            service,
            op,
            method: http::Method::GET,
            path: path.into(),
            query: Vec::new(),
            body: None,
            content_type: "application/json",
        }
    }

    /// A `POST` of `body` to `path`.
    pub fn post(service: S, op: &'static str, path: impl Into<String>, body: Value) -> Self {
        Call::get(service, op, path).with(http::Method::POST, body)
    }

    /// A `PUT` of `body` to `path`.
    pub fn put(service: S, op: &'static str, path: impl Into<String>, body: Value) -> Self {
        Call::get(service, op, path).with(http::Method::PUT, body)
    }

    /// A `DELETE` of `path`.
    pub fn delete(service: S, op: &'static str, path: impl Into<String>) -> Self {
        Call {
            method: http::Method::DELETE,
            ..Call::get(service, op, path)
        }
    }

    /// The call with `method` and `body` (`PUT`, `PATCH`).
    pub fn with(mut self, method: http::Method, body: Value) -> Self {
        self.method = method;
        self.body = Some(body);
        self
    }

    /// The call with its body sent as `content_type`.
    pub fn content_type(mut self, content_type: &'static str) -> Self {
        self.content_type = content_type;
        self
    }

    /// The call with the query parameter `k=v`.
    pub fn query(mut self, k: &str, v: impl Into<String>) -> Self {
        self.query.push((k.to_string(), v.into()));
        self
    }
}
