//! A small UFile (US3) client: the bucket's domain through the API's
//! `DescribeBucket` (signed by kiln-builder-ucloud's client), and objects
//! `PUT` (streamed from the file, never read whole into memory) and
//! `DELETE` with UFile's token `Authorization: UCloud <public key>:<base64
//! HMAC-SHA1 of METHOD\nContent-MD5\nContent-Type\nDate\n/bucket/key>`
//! (the ufile-gosdk's `Auth.Authorization`), and the signed private URL
//! ImportCustomImage reads the object from. Objects go to the bucket's own
//! domain, or path style below kiln's `ufile_endpoint`. Every request goes
//! through kiln-cloud's retry policy. Holds a connection pool only; what
//! an upload leaves behind is the caller's to delete.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use kiln_builder_ucloud::client::{params, Client};
use kiln_cloud::error::{snippet, transport_fault};
use kiln_cloud::sign::{encode_path, hmac_sha1_base64, percent_encode};
use kiln_cloud::{Api, ApiError, ErrorClass, Failure, Fault, RetryPolicy, Timeouts};
use serde_json::Value;
use tokio_util::io::ReaderStream;

/// The content type of every upload.
const CONTENT_TYPE: &str = "application/octet-stream";

/// UFile's string to sign: method, Content-MD5, Content-Type, Date (or
/// the expiry of a private URL), `/bucket/key` (no `X-UCloud-*` headers
/// are sent).
pub fn string_to_sign(
    method: &str,
    content_type: &str,
    date: &str,
    bucket: &str,
    key: &str,
) -> String {
    format!("{method}\n\n{content_type}\n{date}\n/{bucket}/{key}")
}

/// The base64 HMAC-SHA1 of `text` with `private_key`.
pub fn signature(private_key: &str, text: &str) -> String {
    hmac_sha1_base64(private_key.as_bytes(), text.as_bytes())
}

/// An existing bucket's UFile client.
#[derive(Clone)]
pub struct Ufile {
    http: reqwest::Client,
    api: Api,
    client: Client,
    bucket: String,
    /// The bucket's domain (`<bucket>.<region>.ufileos.com`).
    domain: String,
    /// kiln's `ufile_endpoint`.
    endpoint: Option<String>,
}

impl Ufile {
    /// The client of `bucket`, after asking `DescribeBucket` for its
    /// domain; a bucket that does not exist is an error (as in the
    /// plugin: it must exist).
    pub async fn open(
        client: &Client,
        bucket: &str,
        endpoint: Option<&str>,
    ) -> Result<Ufile, String> {
        let reply: Value = client
            .call("DescribeBucket", &params([("BucketName", bucket)]), None)
            .await
            .map_err(|e| {
                format!("Failed to query bucket, error on reading bucket `{bucket}`: {e}")
            })?;
        let Some(row) = reply["DataSet"]
            .as_array()
            .and_then(|rows| rows.iter().find(|b| b["BucketName"] == bucket))
        else {
            return Err(format!(
                "Failed to query bucket, the bucket `{bucket}` does not exist\n  hint: ucloud-import uploads to an existing bucket: create `{bucket}` first, or set `ufile_bucket_name` to one of the project's buckets"
            ));
        };
        let domain = row["Domain"]["Src"][0]
            .as_str()
            .map(String::from)
            .unwrap_or_else(|| {
                let region = row["Region"].as_str().unwrap_or("cn-bj");
                format!("{bucket}.{region}.ufileos.com")
            });
        let timeouts = Timeouts::from_env();
        let http = reqwest::Client::builder()
            .connect_timeout(timeouts.connect)
            .user_agent(concat!(
                "kiln/",
                env!("CARGO_PKG_VERSION"),
                " ucloud-import"
            ))
            .build()
            .map_err(|e| {
                format!(
                    "cannot set up the HTTP client for UFile: {}",
                    e.without_url()
                )
            })?;
        let base = endpoint
            .map(String::from)
            .unwrap_or_else(|| format!("https://{domain}"));
        Ok(Ufile {
            http,
            api: Api::new(
                "UFile",
                &base,
                endpoint.map(|_| "ufile_endpoint"),
                RetryPolicy::default(),
            ),
            client: client.clone(),
            bucket: bucket.to_string(),
            domain,
            endpoint: endpoint.map(String::from),
        })
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The URL of object `key`.
    pub fn object_url(&self, key: &str) -> String {
        let key = encode_path(key);
        match &self.endpoint {
            Some(e) => format!("{e}/{}/{key}", self.bucket),
            None => format!("https://{}/{key}", self.domain),
        }
    }

    /// The URL ImportCustomImage reads `key` from: the bucket's own
    /// domain, signed for a day (ufile-gosdk's `GetPrivateURL`). It holds
    /// a signature, never the private key; kiln does not print it.
    pub fn private_url(&self, key: &str) -> String {
        let expires = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default()
            + 24 * 3600;
        let (public, private) = self.client.keys();
        let sig = signature(
            private.expose(),
            &string_to_sign("GET", "", &expires.to_string(), &self.bucket, key),
        );
        format!(
            "http://{}/{}?UCloudPublicKey={}&Signature={}&Expires={expires}",
            self.domain,
            encode_path(key),
            percent_encode(public),
            percent_encode(&sig)
        )
    }

    /// The `Authorization` header of `method` on `key`.
    fn token(&self, method: &str, content_type: &str, key: &str) -> String {
        let (public, private) = self.client.keys();
        let sig = signature(
            private.expose(),
            &string_to_sign(method, content_type, "", &self.bucket, key),
        );
        format!("UCloud {public}:{sig}")
    }

    /// Uploads the `size` bytes of `path` as `key` in one streamed `PUT`,
    /// counting the bytes sent in `progress`.
    pub async fn put_file(
        &self,
        key: &str,
        path: &Path,
        size: u64,
        progress: &Arc<AtomicU64>,
    ) -> Result<(), ApiError> {
        self.api
            .call("PutFile", None, |_| async {
                progress.store(0, Ordering::Relaxed);
                let f = tokio::fs::File::open(path).await.map_err(|e| {
                    Fault::new(
                        Failure::Other(format!("cannot read `{}`: {e}", path.display())),
                        ErrorClass::Permanent,
                    )
                })?;
                let counter = Arc::clone(progress);
                let stream = ReaderStream::with_capacity(f, 256 * 1024).map(
                    move |chunk: std::io::Result<bytes::Bytes>| {
                        if let Ok(c) = &chunk {
                            counter.fetch_add(c.len() as u64, Ordering::Relaxed);
                        }
                        chunk
                    },
                );
                let req = self
                    .http
                    .put(self.object_url(key))
                    .header("Authorization", self.token("PUT", CONTENT_TYPE, key))
                    .header("Content-Type", CONTENT_TYPE)
                    .header("Content-Length", size.to_string())
                    .body(reqwest::Body::wrap_stream(stream));
                self.send(req).await
            })
            .await
    }

    /// Deletes object `key`; one already gone is done.
    pub async fn delete(&self, key: &str) -> Result<(), ApiError> {
        self.api
            .call("DeleteFile", None, |_| async {
                let req = self
                    .http
                    .delete(self.object_url(key))
                    .header("Authorization", self.token("DELETE", "", key));
                self.send(req).await
            })
            .await
    }

    /// Sends `req`; UFile's error reply (`{"RetCode", "ErrMsg"}`) as a
    /// [`Fault`].
    async fn send(&self, req: reqwest::RequestBuilder) -> Result<(), Fault> {
        let reply = req
            .send()
            .await
            .map_err(|e| transport_fault(&e, e.is_timeout(), e.is_connect()))?;
        let status = reply.status().as_u16();
        let body = reply
            .text()
            .await
            .map_err(|e| transport_fault(&e, e.is_timeout(), e.is_connect()))?;
        if (200..300).contains(&status) {
            return Ok(());
        }
        let parsed: Option<Value> = serde_json::from_str(&body).ok();
        let failure = match parsed.as_ref().and_then(|v| v["RetCode"].as_i64()) {
            Some(code) => Failure::Service {
                code: code.to_string(),
                message: parsed
                    .as_ref()
                    .and_then(|v| v["ErrMsg"].as_str())
                    .unwrap_or_default()
                    .to_string(),
                status: Some(status),
            },
            None => Failure::Http {
                status,
                body: snippet(&body, 100),
            },
        };
        let class = if status >= 500 || status == 429 {
            ErrorClass::Transient
        } else {
            ErrorClass::Permanent
        };
        let mut f = Fault::new(failure, class);
        if status == 403 {
            f.hint = Some("UFile refused the token: check `public_key` and `private_key` (or `UCLOUD_PUBLIC_KEY` and `UCLOUD_PRIVATE_KEY`)".into());
        }
        Err(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_signs_what_ufile_checks() {
        let s = string_to_sign("PUT", CONTENT_TYPE, "", "b", "k/disk.raw");
        assert_eq!(s, "PUT\n\napplication/octet-stream\n\n/b/k/disk.raw");
        // HMAC-SHA1 of RFC 2202's test case 2, base64.
        assert_eq!(
            signature("Jefe", "what do ya want for nothing?"),
            "7/zfauXrL6LSdBbV8YTfnCWafHk="
        );
    }
}
