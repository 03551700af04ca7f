//! A small OSS client: the calls alicloud-import makes (ListBuckets with a
//! prefix, PutBucket, PutObject, the multipart upload, DeleteObject,
//! DeleteBucket), signed with OSS's header signature v1 (`sign`), sent to
//! `https://oss-<region>.aliyuncs.com` as Packer's OSS SDK is (virtual-host
//! style: `<bucket>.oss-<region>…`) or to `custom_endpoint_oss` (path
//! style when its host is an IP address or `localhost`, as the OSS SDKs
//! do). Every call goes through kiln-cloud's retry policy; an upload is
//! streamed from the file on each attempt, its CRC-64 checked against the
//! one OSS computed, and its progress counted in a shared counter. Holds a
//! connection pool only; what an upload leaves behind on failure (a
//! multipart upload) is the caller's to abort.

mod crc64;
mod sign;
#[cfg(test)]
mod tests;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use futures_util::StreamExt;
use kiln_builder_alicloud::client::{transport_fault, AccessKey};
use kiln_cloud::error::snippet;
use kiln_cloud::retry::{classify_failure, classify_reply, deleted};
use kiln_cloud::sign::{encode_path, percent_decode, percent_encode};
use kiln_cloud::{Api, ApiError, ErrorClass, Failure, Fault, RetryPolicy, Timeouts};
use reqwest::Method;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;

pub use crc64::Crc64;
pub use sign::{authorization, string_to_sign};

/// Where the bucket goes in a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Style {
    /// `scheme://<bucket>.<host>/<key>`.
    VirtualHost { scheme: String, host: String },
    /// `<base>/<bucket>/<key>`.
    Path { base: String },
}

/// An OSS bucket as ListBuckets names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    /// Its name.
    pub name: String,
    /// Its region (`cn-beijing`), from `<Location>oss-cn-beijing</Location>`.
    pub region: String,
}

/// How an upload is cut: one PutObject up to `threshold` bytes, else parts
/// of `part_size` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadPlan {
    /// The largest file sent in one PutObject.
    pub threshold: u64,
    /// The size of each part (the last one is smaller).
    pub part_size: u64,
}

impl UploadPlan {
    /// kiln's plan: one PutObject up to 100 MiB (OSS takes up to 5 GiB),
    /// else parts of 32 MiB, larger when the file needs more than OSS's
    /// 10,000 parts.
    pub fn for_size(size: u64) -> UploadPlan {
        const MIB: u64 = 1024 * 1024;
        UploadPlan {
            threshold: 100 * MIB,
            part_size: (32 * MIB).max(size.div_ceil(10_000)),
        }
    }
}

/// A multipart upload in progress, for [`Oss::abort_multipart`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Multipart {
    /// The bucket.
    pub bucket: String,
    /// The object key.
    pub key: String,
    /// OSS's upload id.
    pub upload_id: String,
}

/// The client; see the module docs. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Oss {
    http: reqwest::Client,
    api: Api,
    style: Style,
    key: AccessKey,
}

/// A reply: status, headers, body.
struct Reply {
    headers: reqwest::header::HeaderMap,
    body: String,
}

/// The body of one request attempt.
enum Body<'a> {
    /// Nothing.
    Empty,
    /// Text (XML).
    Text(String),
    /// `len` bytes of the file at `path` from `offset`, counted in
    /// `progress` and summed up in `crc`.
    File {
        path: &'a Path,
        offset: u64,
        len: u64,
        progress: &'a Arc<AtomicU64>,
        crc: &'a Arc<std::sync::Mutex<Crc64>>,
    },
}

/// The default OSS endpoint of `region` (`https://oss-cn-beijing.aliyuncs.com`),
/// as Packer's `getEndPoint`: a region already starting with `oss-` is kept.
pub fn default_endpoint(region: &str) -> String {
    format!("https://{}.aliyuncs.com", oss_region(region))
}

/// `oss-<region>`, as Packer's `getOSSRegion`.
fn oss_region(region: &str) -> String {
    if region.starts_with("oss-") {
        region.to_string()
    } else {
        format!("oss-{region}")
    }
}

impl Oss {
    /// The client of `region`'s endpoint, or of `custom` (a URL).
    pub fn new(region: &str, key: AccessKey, custom: Option<&str>) -> Result<Oss, String> {
        let base = custom
            .map(|c| c.trim_end_matches('/').to_string())
            .unwrap_or_else(|| default_endpoint(region));
        let (scheme, host) = base
            .split_once("://")
            .ok_or_else(|| format!("`{base}` is not a URL"))?;
        let bare = host.rsplit_once(':').map_or(host, |(h, _)| h);
        let ip = bare
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok();
        let style = if ip || bare == "localhost" {
            Style::Path { base: base.clone() }
        } else {
            Style::VirtualHost {
                scheme: scheme.to_string(),
                host: host.to_string(),
            }
        };
        let timeouts = Timeouts::from_env();
        let http = reqwest::Client::builder()
            .connect_timeout(timeouts.connect)
            .user_agent(concat!(
                "kiln/",
                env!("CARGO_PKG_VERSION"),
                " alicloud-import"
            ))
            .build()
            .map_err(|e| format!("cannot set up the HTTP client for OSS: {e}"))?;
        let setting = custom.map(|_| "custom_endpoint_oss");
        let api = Api::new("OSS", &base, setting, RetryPolicy::default());
        Ok(Oss {
            http,
            api,
            style,
            key,
        })
    }

    /// The bucket's URL, for messages (`https://b.oss-cn-beijing.aliyuncs.com`).
    pub fn bucket_url(&self, bucket: &str) -> String {
        match &self.style {
            Style::VirtualHost { scheme, host } => format!("{scheme}://{bucket}.{host}"),
            Style::Path { base } => format!("{base}/{bucket}"),
        }
    }

    /// The URL of `bucket`/`key` with `query` (already encoded).
    fn url(&self, bucket: &str, key: &str, query: &str) -> String {
        let key = encode_path(key);
        let mut url = match (&self.style, bucket) {
            (Style::VirtualHost { scheme, host }, "") => format!("{scheme}://{host}/"),
            (Style::Path { base }, "") => format!("{base}/"),
            (_, b) => format!("{}/{key}", self.bucket_url(b)),
        };
        if !query.is_empty() {
            url.push('?');
            url.push_str(query);
        }
        url
    }

    /// Finds the bucket `name` with ListBuckets (`prefix=name`), as the
    /// OSS SDK's `IsBucketExist` does.
    pub async fn find_bucket(&self, name: &str) -> Result<Option<Bucket>, ApiError> {
        let query = format!("prefix={}&max-keys=1000", percent_encode(name));
        let reply = self
            .api
            .call("ListBuckets", None, |_| {
                self.attempt(Method::GET, "", "", &query, &[], Body::Empty)
            })
            .await?;
        Ok(blocks(&reply.body, "Bucket")
            .into_iter()
            .map(|b| Bucket {
                name: element(b, "Name").unwrap_or_default().to_string(),
                region: element(b, "Region")
                    .map(str::to_string)
                    .or_else(|| {
                        element(b, "Location").map(|l| l.trim_start_matches("oss-").to_string())
                    })
                    .unwrap_or_default(),
            })
            .find(|b| b.name == name))
    }

    /// Creates the bucket `name` in the endpoint's region (PutBucket).
    pub async fn create_bucket(&self, name: &str) -> Result<(), ApiError> {
        let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><CreateBucketConfiguration><StorageClass>Standard</StorageClass></CreateBucketConfiguration>";
        self.api
            .call("PutBucket", None, |_| {
                self.attempt(Method::PUT, name, "", "", &[], Body::Text(body.to_string()))
            })
            .await
            .map(drop)
    }

    /// Deletes the bucket `name`; one already gone is done.
    pub async fn delete_bucket(&self, name: &str) -> Result<(), ApiError> {
        let r = self
            .api
            .delete("DeleteBucket", None, &["NoSuchBucket"], || {
                self.attempt(Method::DELETE, name, "", "", &[], Body::Empty)
            });
        deleted(r.await, &["NoSuchBucket"])
    }

    /// Uploads the file at `path` (`size` bytes) as `bucket`/`key` with
    /// `tags`: one PutObject, or a multipart upload per `plan`, whose id
    /// goes to `multipart` before the first part (for the caller to abort
    /// on failure). `progress` counts the bytes sent.
    #[allow(clippy::too_many_arguments)]
    pub async fn upload(
        &self,
        bucket: &str,
        key: &str,
        path: &Path,
        size: u64,
        tags: &[(String, String)],
        plan: UploadPlan,
        progress: &Arc<AtomicU64>,
        multipart: &mut Option<Multipart>,
    ) -> Result<(), ApiError> {
        let tagging = tagging(tags);
        let mut headers: Vec<(&str, String)> = Vec::new();
        if !tagging.is_empty() {
            headers.push(("x-oss-tagging", tagging));
        }
        if size <= plan.threshold {
            self.api
                .call("PutObject", None, |_| {
                    progress.store(0, Ordering::Relaxed);
                    self.put_file(
                        "PutObject",
                        bucket,
                        key,
                        "",
                        &headers,
                        path,
                        0,
                        size,
                        progress,
                    )
                })
                .await?;
            return Ok(());
        }
        let reply = self
            .api
            .call("InitiateMultipartUpload", None, |_| {
                self.attempt(Method::POST, bucket, key, "uploads", &headers, Body::Empty)
            })
            .await?;
        let upload_id = element(&reply.body, "UploadId")
            .filter(|u| !u.is_empty())
            .ok_or_else(|| {
                self.reply_error(
                    "InitiateMultipartUpload",
                    format!("the reply has no `UploadId`: {}", snippet(&reply.body, 100)),
                )
            })?
            .to_string();
        *multipart = Some(Multipart {
            bucket: bucket.to_string(),
            key: key.to_string(),
            upload_id: upload_id.clone(),
        });
        let mut etags = Vec::new();
        let mut offset = 0;
        let mut number = 1u32;
        while offset < size {
            let len = plan.part_size.min(size - offset);
            let query = format!(
                "partNumber={number}&uploadId={}",
                percent_encode(&upload_id)
            );
            let reply = self
                .api
                .call("UploadPart", None, |_| {
                    progress.store(offset, Ordering::Relaxed);
                    self.put_file(
                        "UploadPart",
                        bucket,
                        key,
                        &query,
                        &[],
                        path,
                        offset,
                        len,
                        progress,
                    )
                })
                .await?;
            let etag = reply
                .headers
                .get("etag")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            etags.push((number, etag));
            offset += len;
            number += 1;
        }
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><CompleteMultipartUpload>{}</CompleteMultipartUpload>",
            etags
                .iter()
                .map(|(n, e)| format!(
                    "<Part><PartNumber>{n}</PartNumber><ETag>{}</ETag></Part>",
                    escape(e)
                ))
                .collect::<String>()
        );
        let query = format!("uploadId={}", percent_encode(&upload_id));
        self.api
            .call("CompleteMultipartUpload", None, |_| {
                self.attempt(
                    Method::POST,
                    bucket,
                    key,
                    &query,
                    &[],
                    Body::Text(body.clone()),
                )
            })
            .await?;
        *multipart = None;
        Ok(())
    }

    /// Aborts the multipart upload `m`; one already gone is done.
    pub async fn abort_multipart(&self, m: &Multipart) -> Result<(), ApiError> {
        let query = format!("uploadId={}", percent_encode(&m.upload_id));
        let r = self
            .api
            .delete("AbortMultipartUpload", None, &["NoSuchUpload"], || {
                self.attempt(Method::DELETE, &m.bucket, &m.key, &query, &[], Body::Empty)
            });
        deleted(r.await, &["NoSuchUpload"])
    }

    /// Deletes `bucket`/`key` (OSS answers 204 for a key that is not there).
    pub async fn delete_object(&self, bucket: &str, key: &str) -> Result<(), ApiError> {
        self.api
            .delete("DeleteObject", None, &["NoSuchKey"], || {
                self.attempt(Method::DELETE, bucket, key, "", &[], Body::Empty)
            })
            .await
            .map(drop)
    }

    /// Sets `tags` on the bucket `name` (PutBucketTags).
    pub async fn tag_bucket(&self, name: &str, tags: &[(String, String)]) -> Result<(), ApiError> {
        let items: String = tags
            .iter()
            .map(|(k, v)| {
                format!(
                    "<Tag><Key>{}</Key><Value>{}</Value></Tag>",
                    escape(k),
                    escape(v)
                )
            })
            .collect();
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Tagging><TagSet>{items}</TagSet></Tagging>"
        );
        self.api
            .call("PutBucketTags", None, |_| {
                self.attempt(
                    Method::PUT,
                    name,
                    "",
                    "tagging",
                    &[],
                    Body::Text(body.clone()),
                )
            })
            .await
            .map(drop)
    }

    /// Takes the tags off the bucket `name` (DeleteBucketTags).
    pub async fn delete_bucket_tags(&self, name: &str) -> Result<(), ApiError> {
        self.api
            .call("DeleteBucketTags", None, |_| {
                self.attempt(Method::DELETE, name, "", "tagging", &[], Body::Empty)
            })
            .await
            .map(drop)
    }

    /// Takes the tags off `bucket`/`key` (DeleteObjectTagging).
    pub async fn delete_object_tags(&self, bucket: &str, key: &str) -> Result<(), ApiError> {
        self.api
            .call("DeleteObjectTagging", None, |_| {
                self.attempt(Method::DELETE, bucket, key, "tagging", &[], Body::Empty)
            })
            .await
            .map(drop)
    }

    /// One attempt of sending `len` bytes of `path` from `offset` with a
    /// PUT; the CRC-64 OSS computed must be the file's.
    #[allow(clippy::too_many_arguments)]
    async fn put_file(
        &self,
        action: &str,
        bucket: &str,
        key: &str,
        query: &str,
        headers: &[(&str, String)],
        path: &Path,
        offset: u64,
        len: u64,
        progress: &Arc<AtomicU64>,
    ) -> Result<Reply, Fault> {
        let crc = Arc::new(std::sync::Mutex::new(Crc64::new()));
        let body = Body::File {
            path,
            offset,
            len,
            progress,
            crc: &crc,
        };
        let reply = self
            .attempt(Method::PUT, bucket, key, query, headers, body)
            .await?;
        let ours = crc.lock().unwrap_or_else(|e| e.into_inner()).finish();
        if let Some(theirs) = reply
            .headers
            .get("x-oss-hash-crc64ecma")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
        {
            if theirs != ours {
                return Err(Fault::new(
                    Failure::Other(format!(
                        "OSS computed the CRC-64 {theirs} for `{action}` of `{key}`, kiln sent data whose CRC-64 is {ours}"
                    )),
                    ErrorClass::Transient,
                ));
            }
        }
        Ok(reply)
    }

    /// One signed request.
    async fn attempt(
        &self,
        method: Method,
        bucket: &str,
        key: &str,
        query: &str,
        headers: &[(&str, String)],
        body: Body<'_>,
    ) -> Result<Reply, Fault> {
        let date = chrono::Utc::now()
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string();
        let content_type = match &body {
            Body::Empty => "",
            Body::Text(_) => "application/xml",
            Body::File { .. } => "application/octet-stream",
        };
        let mut oss_headers: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        if let Some(t) = &self.key.security_token {
            oss_headers.push(("x-oss-security-token".into(), t.expose().clone()));
        }
        let sub: Vec<(String, String)> = query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (k.to_string(), percent_decode(v))
            })
            .collect();
        let sts = string_to_sign(
            method.as_str(),
            "",
            content_type,
            &date,
            &oss_headers,
            bucket,
            key,
            &sub,
        );
        let auth = authorization(&self.key.id, self.key.secret.expose(), &sts);
        let mut req = self
            .http
            .request(method, self.url(bucket, key, query))
            .header("Date", &date)
            .header("Authorization", auth);
        if !content_type.is_empty() {
            req = req.header("Content-Type", content_type);
        }
        for (k, v) in &oss_headers {
            req = req.header(k.as_str(), v.as_str());
        }
        req = match body {
            Body::Empty => req.header("Content-Length", "0"),
            Body::Text(t) => req.body(t),
            Body::File {
                path,
                offset,
                len,
                progress,
                crc,
            } => {
                let mut f = tokio::fs::File::open(path).await.map_err(|e| {
                    Fault::new(
                        Failure::Other(format!("cannot open `{}`: {e}", path.display())),
                        ErrorClass::Permanent,
                    )
                })?;
                f.seek(std::io::SeekFrom::Start(offset))
                    .await
                    .map_err(|e| {
                        Fault::new(
                            Failure::Other(format!("cannot read `{}`: {e}", path.display())),
                            ErrorClass::Permanent,
                        )
                    })?;
                let progress = Arc::clone(progress);
                let crc = Arc::clone(crc);
                let stream = ReaderStream::with_capacity(f.take(len), 256 * 1024).map(
                    move |chunk: std::io::Result<bytes::Bytes>| {
                        if let Ok(c) = &chunk {
                            progress.fetch_add(c.len() as u64, Ordering::Relaxed);
                            crc.lock().unwrap_or_else(|e| e.into_inner()).update(c);
                        }
                        chunk
                    },
                );
                req.header("Content-Length", len.to_string())
                    .body(reqwest::Body::wrap_stream(stream))
            }
        };
        let reply = req.send().await.map_err(|e| transport_fault(&e))?;
        let status = reply.status().as_u16();
        let headers = reply.headers().clone();
        let body = reply.text().await.map_err(|e| transport_fault(&e))?;
        if (200..300).contains(&status) {
            return Ok(Reply { headers, body });
        }
        Err(self.error_fault(status, &body))
    }

    /// The fault of an error reply: OSS's XML `<Error>` with its code,
    /// message and request id, else the status and the body's start.
    fn error_fault(&self, status: u16, body: &str) -> Fault {
        let Some(code) = element(body, "Code").filter(|c| !c.is_empty()) else {
            let failure = Failure::Http {
                status,
                body: snippet(body, 100),
            };
            let class = classify_failure(&failure);
            return Fault::new(failure, class);
        };
        let mut message = unescape(element(body, "Message").unwrap_or("(no message)"));
        if let Some(id) = element(body, "RequestId") {
            message = format!("{message} (request ID `{id}`)");
        }
        let class = classify_reply("alicloud", Some(code), Some(status));
        let mut f = Fault::new(
            Failure::Service {
                code: code.to_string(),
                message,
                status: Some(status),
            },
            class,
        );
        f.hint = Some(match code {
            "InvalidAccessKeyId" | "SignatureDoesNotMatch" | "InvalidSecurityToken" => {
                "check `access_key` and `secret_key` (or `ALICLOUD_ACCESS_KEY` and `ALICLOUD_SECRET_KEY`), and `security_token` for STS credentials".to_string()
            }
            "AccessDenied" => {
                "check that the bucket is in `region` and that the keys may write to it".to_string()
            }
            _ => "check `oss_bucket_name` and `region`".to_string(),
        });
        f
    }

    /// An error kiln found in a reply.
    fn reply_error(&self, action: &str, message: String) -> ApiError {
        ApiError {
            service: "OSS".into(),
            action: action.into(),
            endpoint: self.api.endpoint().to_string(),
            setting: None,
            fault: Fault::new(Failure::Other(message), ErrorClass::Permanent),
            attempts: 1,
            elapsed: std::time::Duration::ZERO,
        }
    }
}

/// `x-oss-tagging`: `k=v&k2=v2`, each part URL-encoded.
pub fn tagging(tags: &[(String, String)]) -> String {
    tags.iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The text of the first `<name>…</name>` in `xml`.
fn element<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&close)? + start;
    Some(&xml[start..end])
}

/// Every `<name>…</name>` block's inside, in order.
fn blocks<'a>(xml: &'a str, name: &str) -> Vec<&'a str> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(s) = rest.find(&open) {
        let from = s + open.len();
        let Some(e) = rest[from..].find(&close) else {
            break;
        };
        out.push(&rest[from..from + e]);
        rest = &rest[from + e + close.len()..];
    }
    out
}

/// XML-escapes text.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Undoes [`escape`].
fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// The file's size.
pub async fn file_size(path: &Path) -> std::io::Result<u64> {
    Ok(tokio::fs::metadata(path).await?.len())
}
