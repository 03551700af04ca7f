//! A small UFile (US3) client: the bucket's domain through the API's
//! `DescribeBucket` (signed by kiln-builder-ucloud's client), objects
//! uploaded the way the plugin's `AsyncMPut` does (a multipart upload:
//! UFile's single `PUT` takes at most 5 GB, where disk images often are
//! larger; parts read from the file, never the whole file into memory) and
//! `DELETE`d, with UFile's token `Authorization: UCloud <public
//! key>:<base64 HMAC-SHA1 of METHOD\nContent-MD5\nContent-Type\nDate\n/bucket/key>`
//! (the ufile-gosdk's `Auth.Authorization`), and the signed private URL
//! ImportCustomImage reads the object from. Objects go to the bucket's own
//! domain, or path style below kiln's `ufile_endpoint`. Every request goes
//! through kiln-cloud's retry policy. Holds a connection pool and the id of
//! a multipart upload begun and not yet finished, which
//! [`Ufile::abort_unfinished`] aborts (the parts would stay stored);
//! the finished object is the caller's to delete.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use futures_util::{StreamExt, TryStreamExt};
use kiln_builder_ucloud::client::{params, Client};
use kiln_cloud::error::{snippet, transport_fault};
use kiln_cloud::sign::{encode_path, hmac_sha1_base64, percent_encode};
use kiln_cloud::{Api, ApiError, ErrorClass, Failure, Fault, RetryPolicy, Timeouts};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

/// The content type of every upload.
const CONTENT_TYPE: &str = "application/octet-stream";
/// The content type of a multipart upload's begin and finish requests
/// (the ufile SDKs').
const TEXT: &str = "text/plain";
/// The part size when UFile's answer names none (its `BlkSize`: 4 MiB).
const DEFAULT_BLOCK: u64 = 4 * 1024 * 1024;
/// How many parts are sent at once (the ufile SDKs' default).
const PARALLEL_PARTS: usize = 4;

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
    /// A multipart upload begun and not finished: (key, upload id).
    unfinished: Arc<Mutex<Option<(String, String)>>>,
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
            unfinished: Arc::default(),
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

    /// Uploads the `size` bytes of `path` as `key` as the plugin's
    /// `AsyncMPut` does: `InitiateMultipartUpload` (`POST ?uploads`), the
    /// parts of the block size UFile answers (`PUT ?uploadId&partNumber`,
    /// [`PARALLEL_PARTS`] at a time, each retried on its own), then
    /// `FinishMultipartUpload` with the parts' ETags in order. A finish
    /// whose reply was lost is done when the object is there at its size.
    /// The bytes of the parts sent are counted in `progress`. A failed
    /// upload is aborted; one cut short by cancellation stays recorded for
    /// [`Ufile::abort_unfinished`].
    pub async fn put_file(
        &self,
        key: &str,
        path: &Path,
        size: u64,
        progress: &Arc<AtomicU64>,
    ) -> Result<(), ApiError> {
        let url = self.object_url(key);
        let begun: Value = self
            .api
            .call("InitiateMultipartUpload", None, |_| async {
                let req = self
                    .http
                    .post(format!("{url}?uploads"))
                    .header("Authorization", self.token("POST", TEXT, key))
                    .header("Content-Type", TEXT)
                    .header("Content-Length", "0");
                let (_, body) = self.send(req).await?;
                serde_json::from_str(&body).map_err(|e| {
                    Fault::new(
                        Failure::Other(format!(
                            "UFile's answer to InitiateMultipartUpload is not JSON: {e}"
                        )),
                        ErrorClass::Permanent,
                    )
                })
            })
            .await?;
        let upload_id = begun["UploadId"].as_str().unwrap_or_default().to_string();
        let block = begun["BlkSize"]
            .as_u64()
            .filter(|b| *b > 0)
            .unwrap_or(DEFAULT_BLOCK);
        *self.unfinished.lock().unwrap() = Some((key.to_string(), upload_id.clone()));
        let upload = format!("{url}?uploadId={}", percent_encode(&upload_id));
        let parts = size.div_ceil(block).max(1);
        let sent = futures_util::stream::iter(0..parts)
            .map(|n| {
                let (start, upload) = (n * block, &upload);
                let len = block.min(size - start.min(size));
                async move {
                    let etag = self
                        .api
                        .call("UploadPart", None, |_| async move {
                            let data = read_part(path, start, len).await?;
                            let req = self
                                .http
                                .put(format!("{upload}&partNumber={n}"))
                                .header("Authorization", self.token("PUT", CONTENT_TYPE, key))
                                .header("Content-Type", CONTENT_TYPE)
                                .body(data);
                            let (headers, _) = self.send(req).await?;
                            Ok(headers
                                .get("ETag")
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or_default()
                                .trim_matches('"')
                                .to_string())
                        })
                        .await?;
                    progress.fetch_add(len, Ordering::Relaxed);
                    Ok::<_, ApiError>(etag)
                }
            })
            .buffered(PARALLEL_PARTS)
            .try_collect::<Vec<String>>()
            .await;
        let finished = match sent {
            Ok(etags) => {
                let etags = etags.join(",");
                self.api
                    .call("FinishMultipartUpload", None, |attempt| {
                        let etags = etags.clone();
                        let upload = &upload;
                        async move {
                            let req = self
                                .http
                                .post(upload.clone())
                                .header("Authorization", self.token("POST", TEXT, key))
                                .header("Content-Type", TEXT)
                                .body(etags);
                            match self.send(req).await {
                                Ok(_) => Ok(()),
                                // The first attempt made the object; its
                                // reply was lost.
                                Err(_) if attempt.is_retry() && self.has(key, size).await => Ok(()),
                                Err(f) => Err(f),
                            }
                        }
                    })
                    .await
            }
            Err(e) => Err(e),
        };
        if finished.is_err() {
            self.abort_unfinished().await;
        }
        *self.unfinished.lock().unwrap() = None;
        finished
    }

    /// Aborts the multipart upload begun and not finished, if any (its
    /// parts stay stored until then); one UFile no longer knows is done.
    /// Best effort: a failure is returned for the caller to show.
    pub async fn abort_unfinished(&self) -> Option<ApiError> {
        let (key, upload_id) = self.unfinished.lock().unwrap().take()?;
        let url = format!(
            "{}?uploadId={}",
            self.object_url(&key),
            percent_encode(&upload_id)
        );
        self.api
            .call("AbortMultipartUpload", None, |_| async {
                let req = self
                    .http
                    .delete(url.clone())
                    .header("Authorization", self.token("DELETE", "", &key));
                match self.send(req).await {
                    Ok(_) => Ok(()),
                    // UFile no longer knows the upload: aborted already.
                    Err(Fault {
                        failure:
                            Failure::Service {
                                status: Some(400 | 404),
                                ..
                            }
                            | Failure::Http {
                                status: 400 | 404, ..
                            },
                        ..
                    }) => Ok(()),
                    Err(f) => Err(f),
                }
            })
            .await
            .err()
    }

    /// Whether object `key` is there with `size` bytes (`HEAD`).
    async fn has(&self, key: &str, size: u64) -> bool {
        let req = self
            .http
            .head(self.object_url(key))
            .header("Authorization", self.token("HEAD", "", key));
        match req.send().await {
            Ok(r) => r.status().is_success() && r.content_length() == Some(size),
            Err(_) => false,
        }
    }

    /// Deletes object `key`; one already gone is done.
    pub async fn delete(&self, key: &str) -> Result<(), ApiError> {
        self.api
            .call("DeleteFile", None, |_| async {
                let req = self
                    .http
                    .delete(self.object_url(key))
                    .header("Authorization", self.token("DELETE", "", key));
                self.send(req).await.map(drop)
            })
            .await
    }

    /// Sends `req`: the reply's headers and body, or UFile's error reply
    /// (`{"RetCode", "ErrMsg"}`) as a [`Fault`].
    async fn send(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<(reqwest::header::HeaderMap, String), Fault> {
        let reply = req
            .send()
            .await
            .map_err(|e| transport_fault(&e, e.is_timeout(), e.is_connect()))?;
        let status = reply.status().as_u16();
        let headers = reply.headers().clone();
        let body = reply
            .text()
            .await
            .map_err(|e| transport_fault(&e, e.is_timeout(), e.is_connect()))?;
        if (200..300).contains(&status) {
            return Ok((headers, body));
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

/// The `len` bytes of `path` from `start`: one part of an upload.
async fn read_part(path: &Path, start: u64, len: u64) -> Result<Vec<u8>, Fault> {
    let read = async {
        let mut f = tokio::fs::File::open(path).await?;
        f.seek(std::io::SeekFrom::Start(start)).await?;
        let mut buf = Vec::with_capacity(len as usize);
        f.take(len).read_to_end(&mut buf).await?;
        Ok::<_, std::io::Error>(buf)
    };
    let failed = |why: String| Fault::new(Failure::Other(why), ErrorClass::Permanent);
    match read.await {
        Ok(buf) if buf.len() as u64 == len => Ok(buf),
        Ok(buf) => Err(failed(format!(
            "`{}` shrank while it was uploaded: {} of {len} bytes at {start}",
            path.display(),
            buf.len()
        ))),
        Err(e) => Err(failed(format!("cannot read `{}`: {e}", path.display()))),
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
