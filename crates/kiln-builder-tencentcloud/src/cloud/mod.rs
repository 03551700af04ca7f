//! The tencentcloud-cvm side of kiln-cloud's generic steps: [`Cvm`], the
//! CVM, VPC and Tag clients of one region with the zone builds launch in,
//! implements the toolkit's `…Api` traits (one file per family), and
//! [`crate::TencentState`] their `…State` traits. Holds clients only; the
//! steps' cleanups delete what they made.

pub mod image;
pub mod instance;
pub mod key_pair;
pub mod network;

use kiln_cloud::ApiError;
use serde_json::{json, Value};

use crate::client::{Client, ClientError, Service};
use crate::config::AccessConfig;

/// The clients of one region, with the zone builds launch in.
#[derive(Clone, Debug)]
pub struct Cvm {
    /// CVM (instances, images, key pairs).
    pub cvm: Client,
    /// VPC (networks, subnets, security groups).
    pub vpc: Client,
    /// Tags.
    pub tag: Client,
    /// `zone`.
    pub zone: String,
}

impl Cvm {
    /// The clients of `access`'s region (and endpoint override).
    pub fn connect(access: &AccessConfig) -> Result<Cvm, ClientError> {
        let cvm = Client::of(Service::Cvm, access)?;
        Ok(Cvm::of_client(cvm, &access.zone))
    }

    /// The clients of `region` as `credential`, through `endpoint` (a URL)
    /// when given, under the default retry policy and timeouts; for
    /// callers outside a build (`kiln cleanup`, tests).
    pub fn new(
        region: &str,
        zone: &str,
        credential: crate::client::Credential,
        endpoint: Option<&str>,
    ) -> Result<Cvm, ClientError> {
        let cvm = Client::new(
            Service::Cvm,
            region,
            credential,
            endpoint,
            kiln_cloud::RetryPolicy::default(),
            kiln_cloud::Timeouts::from_env(),
        )?;
        Ok(Cvm::of_client(cvm, zone))
    }

    /// The clients sharing `cvm`'s credential, region and pool.
    pub fn of_client(cvm: Client, zone: &str) -> Cvm {
        Cvm {
            vpc: cvm.service(Service::Vpc),
            tag: cvm.service(Service::Tag),
            cvm,
            zone: zone.to_string(),
        }
    }

    /// The same clients in `region` (region copies).
    pub fn for_region(&self, region: &str) -> Cvm {
        Cvm {
            cvm: self.cvm.for_region(region),
            vpc: self.vpc.for_region(region),
            tag: self.tag.for_region(region),
            zone: self.zone.clone(),
        }
    }

    /// The region.
    pub fn region(&self) -> &str {
        self.cvm.region()
    }

    /// The images named `name` in this region (`DescribeImages` with the
    /// `image-name` filter).
    pub async fn images_named(&self, name: &str) -> Result<Vec<Value>, ApiError> {
        let reply = self
            .cvm
            .call(
                "DescribeImages",
                &json!({"Filters": [{"Name": "image-name", "Values": [name]}], "Limit": 100}),
                None,
            )
            .await?;
        Ok(items(&reply, "ImageSet").to_vec())
    }

    /// The id of the key pair named `name`, if there is one.
    pub async fn key_pair_id(&self, name: &str) -> Result<Option<String>, ApiError> {
        let reply = self
            .cvm
            .call(
                "DescribeKeyPairs",
                &json!({"Filters": [{"Name": "key-name", "Values": [name]}], "Limit": 100}),
                None,
            )
            .await?;
        Ok(items(&reply, "KeyPairSet")
            .iter()
            .find(|k| text(k, "KeyName") == name)
            .map(|k| text(k, "KeyId").to_string()))
    }

    /// The six-segment name the Tag API knows `kind` `id` of this region by.
    pub fn resource_name(&self, kind: &str, id: &str) -> String {
        format!("qcs::cvm:{}:uin/:{kind}/{id}", self.region())
    }
}

/// `tags` as Tencent's `[{"Key", "Value"}]`.
pub fn tag_list(tags: &[(String, String)]) -> Value {
    Value::Array(
        tags.iter()
            .map(|(k, v)| json!({"Key": k, "Value": v}))
            .collect(),
    )
}

/// The objects of a list reply (`reply[key]`).
pub fn items<'a>(reply: &'a Value, key: &str) -> &'a [Value] {
    reply[key].as_array().map(Vec::as_slice).unwrap_or(&[])
}

/// The string field `key` of `v` (empty when missing).
pub fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or("")
}

/// Packer's cleanup line for `module`: deleting because the build failed
/// or was cancelled, else cleaning up.
pub fn cleanup_line(module: &str, failed: bool) -> String {
    if failed {
        format!("Deleting {module} because of cancellation or error...")
    } else {
        format!("Cleaning up {module}...")
    }
}
