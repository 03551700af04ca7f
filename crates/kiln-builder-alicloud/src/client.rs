//! The Alibaba Cloud API client: RPC-style calls (`GET /?Action=…`) with
//! the common parameters (`Format=JSON`, `Version`, `AccessKeyId`,
//! `SignatureMethod=HMAC-SHA1`, `SignatureVersion=1.0`, a random
//! `SignatureNonce`, a UTC `Timestamp`, `RegionId`, `SecurityToken` with
//! STS credentials), signed with signature version 1.0 (`sign`), sent to
//! the endpoint the Alibaba SDK would pick ([`endpoint`]) over reqwest
//! (rustls) with kiln-cloud's request [`Timeouts`].
//!
//! kiln's retry policy governs: every call goes through a
//! [`kiln_cloud::Api`], which retries throttling (kiln-cloud's
//! `alicloud` codes), 5xx replies and connection failures, bounds the
//! requests in flight per endpoint and words the final error. An error
//! reply becomes a [`Fault`] with its class and a hint naming the action,
//! the endpoint and what to check (`fault`); no message carries the
//! secret key or the security token. Holds a connection pool only;
//! nothing to clean up.

mod endpoint;
mod fault;
mod profile;
mod ram_role;
mod sign;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use kiln_cloud::{Api, ApiError, ErrorClass, Fault, RetryPolicy, Timeouts};
use kiln_sdk::Secret;
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;

use fault::reply_fault;
pub use fault::transport_fault;

pub use endpoint::{endpoint, host, Product};
pub use sign::{canonical_query, percent_encode, signature, string_to_sign, Params};

use crate::config::{AccessConfig, Credentials};

/// An AccessKey pair, with an STS token when temporary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKey {
    /// The AccessKey ID.
    pub id: String,
    /// The AccessKey secret.
    pub secret: Secret<String>,
    /// The STS security token.
    pub security_token: Option<Secret<String>>,
}

/// Why a client could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The template's credentials are of a kind this client cannot use yet.
    #[error("{0} credentials are not supported by kiln's alicloud-ecs builder yet\n  hint: set `access_key` and `secret_key` (or `ALICLOUD_ACCESS_KEY` and `ALICLOUD_SECRET_KEY`)")]
    Unsupported(&'static str),
    /// The `profile` could not be read.
    #[error("cannot use the Alibaba Cloud CLI profile `{name}` of `{path}`: {message}\n  hint: check `profile` and `shared_credentials_file` (or `ALICLOUD_PROFILE` and `ALICLOUD_SHARED_CREDENTIALS_FILE`), or set `access_key` and `secret_key`")]
    Profile {
        /// The profile.
        name: String,
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
    /// `ram_role_name`'s credentials could not be read.
    #[error("cannot get the credentials of the RAM role `{role}` from the ECS metadata service at `{endpoint}`: {message}\n  hint: `ram_role_name` works on an ECS instance with that role attached; elsewhere set `access_key` and `secret_key` (or `ALICLOUD_ACCESS_KEY` and `ALICLOUD_SECRET_KEY`)")]
    RamRole {
        /// The role.
        role: String,
        /// The metadata endpoint.
        endpoint: String,
        /// Why.
        message: String,
    },
    /// The HTTP client could not be built (TLS set-up).
    #[error("cannot set up the HTTP client for {service}: {message}")]
    Http {
        /// The service.
        service: &'static str,
        /// Why.
        message: String,
    },
}

/// The AccessKey of `access`'s credentials, `ram_role_name`'s read from
/// the ECS metadata service ([`ram_role::ram_role_key`]).
pub async fn resolve_access_key(access: &AccessConfig) -> Result<AccessKey, ClientError> {
    match &access.credentials {
        Credentials::EcsRamRole(role) => {
            ram_role::ram_role_key(&access.metadata_endpoint, role).await
        }
        _ => access_key(access),
    }
}

/// The AccessKey of `access`'s credentials that need no call (not
/// `ram_role_name`'s: see [`resolve_access_key`]).
pub fn access_key(access: &AccessConfig) -> Result<AccessKey, ClientError> {
    match &access.credentials {
        Credentials::Keys {
            access_key,
            secret_key,
            security_token,
        } => Ok(AccessKey {
            id: access_key.clone(),
            secret: secret_key.clone(),
            security_token: security_token.clone(),
        }),
        Credentials::Profile(name) => {
            let path = access
                .shared_credentials_file
                .as_deref()
                .map(profile::expand)
                .unwrap_or_else(profile::default_path);
            profile::access_key(&path, name)
        }
        Credentials::EcsRamRole(_) => Err(ClientError::Unsupported("`ram_role_name`")),
    }
}

/// A client of one product in one region: signs, sends and decodes calls
/// under the retry policy. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
    api: Api,
    product: Product,
    region: String,
    key: AccessKey,
    /// The base URL (`https://ecs.cn-hangzhou.aliyuncs.com`).
    base: String,
}

impl Client {
    /// A client of `product` in `region` with `key`; `custom` (a URL)
    /// replaces the endpoint.
    pub fn new(
        product: Product,
        region: &str,
        key: AccessKey,
        custom: Option<&str>,
        policy: RetryPolicy,
        timeouts: Timeouts,
    ) -> Result<Client, ClientError> {
        let base = endpoint(product, region, custom);
        let http = reqwest::Client::builder()
            .connect_timeout(timeouts.connect)
            .timeout(timeouts.read)
            .user_agent(concat!("kiln/", env!("CARGO_PKG_VERSION"), " alicloud-ecs"))
            .build()
            .map_err(|e| ClientError::Http {
                service: product.service(),
                message: e.without_url().to_string(),
            })?;
        let setting = custom.and(product.setting());
        let api = Api::new(product.service(), &base, setting, policy);
        Ok(Client {
            http,
            api,
            product,
            region: region.to_string(),
            key,
            base,
        })
    }

    /// The ECS client of the template's region and endpoint.
    pub fn ecs(access: &AccessConfig) -> Result<Client, ClientError> {
        Client::ecs_with(access, access_key(access)?)
    }

    /// The same with any credentials, `ram_role_name`'s too.
    pub async fn ecs_resolved(access: &AccessConfig) -> Result<Client, ClientError> {
        Client::ecs_with(access, resolve_access_key(access).await?)
    }

    /// The same with `key`, already resolved (by [`resolve_access_key`]).
    pub fn ecs_with(access: &AccessConfig, key: AccessKey) -> Result<Client, ClientError> {
        Client::new(
            Product::Ecs,
            &access.region,
            key,
            access.custom_endpoint_ecs.as_deref(),
            RetryPolicy::default(),
            Timeouts::from_env(),
        )
    }

    /// The same client for `region` (region copies): the custom endpoint,
    /// if any, stays.
    pub fn for_region(&self, region: &str) -> Client {
        let mut c = self.clone();
        c.region = region.to_string();
        if self.api.endpoint() == endpoint(self.product, &self.region, None) {
            c.base = endpoint(self.product, region, None);
            c.api = Api::new(self.product.service(), &c.base, None, self.api.policy());
        }
        c
    }

    /// The endpoint's [`Api`].
    pub fn api(&self) -> &Api {
        &self.api
    }

    /// The region.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The signed URL of `action` with `params`, `nonce` and `timestamp`
    /// (`2026-01-01T00:00:00Z`).
    pub fn signed_url(
        &self,
        action: &str,
        params: &Params,
        nonce: &str,
        timestamp: &str,
    ) -> String {
        let mut all: BTreeMap<String, String> = BTreeMap::new();
        for (k, v) in [
            ("Action", action),
            ("Format", "JSON"),
            ("Version", self.product.version()),
            ("AccessKeyId", self.key.id.as_str()),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureVersion", "1.0"),
            ("SignatureNonce", nonce),
            ("Timestamp", timestamp),
            ("RegionId", self.region.as_str()),
        ] {
            all.insert(k.to_string(), v.to_string());
        }
        if let Some(t) = &self.key.security_token {
            all.insert("SecurityToken".into(), t.expose().clone());
        }
        // The action's own parameters win (`RegionId` of a copy).
        all.extend(params.0.clone());
        let canonical = canonical_query(&all);
        let sig = signature(self.key.secret.expose(), &string_to_sign("GET", &canonical));
        format!(
            "{}/?{canonical}&Signature={}",
            self.base,
            percent_encode(&sig)
        )
    }

    /// Calls `action` with `params` under the retry policy and decodes the
    /// reply into `T`. Each attempt is signed anew (a fresh nonce and
    /// timestamp). `cancel` stops the waits between attempts.
    pub async fn call<T: DeserializeOwned>(
        &self,
        action: &str,
        params: &Params,
        cancel: Option<&CancellationToken>,
    ) -> Result<T, ApiError> {
        self.api
            .call(action, cancel, |_| self.attempt::<T>(action, params))
            .await
    }

    /// Calls a create `action` that stays right when a reply is lost
    /// ([`Api::create`]): on a retry, an error with a `duplicate` code (or,
    /// with `look_first`, anything before retrying) adopts what `find`
    /// finds, the earlier attempt having made it. Creates that take a
    /// `ClientToken` should get one in `params`: the same on every attempt.
    pub async fn create<T, L, LFut>(
        &self,
        action: &str,
        params: &Params,
        duplicate: &[&str],
        look_first: bool,
        find: L,
    ) -> Result<T, ApiError>
    where
        T: DeserializeOwned,
        L: FnMut() -> LFut,
        LFut: std::future::Future<Output = Result<Option<T>, ApiError>>,
    {
        self.api
            .create(
                action,
                None,
                duplicate,
                look_first,
                || self.attempt::<T>(action, params),
                find,
            )
            .await
    }

    /// Calls a delete `action`; an error with a `not_found` code on a
    /// retry is done (`Ok(None)`): the earlier attempt deleted it
    /// ([`Api::delete`]).
    pub async fn delete<T: DeserializeOwned>(
        &self,
        action: &str,
        params: &Params,
        not_found: &[&str],
        cancel: Option<&CancellationToken>,
    ) -> Result<Option<T>, ApiError> {
        self.api
            .delete(action, cancel, not_found, || {
                self.attempt::<T>(action, params)
            })
            .await
    }

    /// One attempt of `action`.
    async fn attempt<T: DeserializeOwned>(
        &self,
        action: &str,
        params: &Params,
    ) -> Result<T, Fault> {
        let nonce = uuid::Uuid::new_v4().to_string();
        let timestamp = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let url = self.signed_url(action, params, &nonce, &timestamp);
        let reply = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| transport_fault(&e))?;
        let status = reply.status().as_u16();
        let body = reply.bytes().await.map_err(|e| transport_fault(&e))?;
        if (200..300).contains(&status) {
            return kiln_cloud::error::json_reply("the reply", &body, ErrorClass::Transient);
        }
        Err(reply_fault(self, action, status, &body))
    }
}
