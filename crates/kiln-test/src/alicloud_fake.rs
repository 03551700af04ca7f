//! The FAKE Alibaba Cloud API (`fakes/alicloud/alicloud_fake.py`) for the
//! alicloud tests, as moto is for amazon-ebs: [`AlicloudFake`] starts it on
//! free loopback ports (plain HTTP and HTTPS with a CA it generates)
//! through [`crate::fake_server::FakeServer`], which it dereferences to
//! (the endpoints, the CA certificate, `resources` for leak checks, the
//! request log, the time scale of its delays, an sshd playing the
//! instance), and adds the access key it accepts, [`AlicloudFake::ids`] and
//! [`AlicloudFake::requests`] (the request log parsed).
//!
//! The fake runs on the Python of the venv scripts/install-deps.sh makes
//! (which also holds Alibaba's SDKs for the fidelity scenario); a missing
//! venv is a failure, never a skip.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::fake_server::{log_entries, string_fields, text};

/// How to start the fake.
pub use crate::fake_server::Options;

crate::fake_server::fake_cloud!(
    AlicloudFake,
    "alicloud",
    "KILN_ALICLOUD_VENV",
    "Alibaba Cloud"
);

/// The access key id the fake accepts.
pub const ACCESS_KEY: &str = "LTAIfakeaccesskey";

/// One request the fake answered.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiRequest {
    /// `ecs`, `vpc`, `oss`, `ram`, `sts` or `location`.
    pub service: String,
    /// The action (`CreateInstance`; for OSS `PutObject`, ...).
    pub action: String,
    /// The request's region (for Location: the region asked about).
    pub region: String,
    /// HTTP status of the answer.
    pub status: u16,
    /// Alibaba's error code when it failed.
    pub code: Option<String>,
    /// The resource ids it named or made (`InstanceId`, `ImageId`, ...).
    pub ids: BTreeMap<String, String>,
    /// `v1`, `acs3` or `oss`.
    pub signature: String,
    /// The Host header.
    pub host: String,
}

impl AlicloudFake {
    /// The fake with `opts`, once it listens.
    pub fn start_with(opts: &Options) -> AlicloudFake {
        let secret = format!("kiln-fake-secret-{}", std::process::id());
        let mut args = opts.args();
        if opts.no_import_role {
            args.push("--no-import-role".into());
        }
        // The key goes through the environment, never the command line.
        let server = CLOUD.start(
            &args,
            &[("ALICLOUD_FAKE_KEYS", format!("{ACCESS_KEY}:{secret}"))],
        );
        AlicloudFake { server, secret }
    }

    /// The access key id it accepts.
    pub fn access_key(&self) -> &str {
        ACCESS_KEY
    }

    /// The secret of [`AlicloudFake::access_key`].
    pub fn secret_key(&self) -> &str {
        &self.secret
    }

    /// Ids of every resource of `kind` (`instance`, `image`, `snapshot`,
    /// `vpc`, `vswitch`, `security_group`, `key_pair`, `eip`, `bucket`,
    /// `object`, `multipart`, `role`, `task`, `disk`) it holds.
    pub fn ids(&self, kind: &str) -> Vec<String> {
        let key = match kind {
            "instance" => "InstanceId",
            "image" => "ImageId",
            "snapshot" => "SnapshotId",
            "vpc" => "VpcId",
            "vswitch" => "VSwitchId",
            "security_group" => "SecurityGroupId",
            "key_pair" => "KeyPairName",
            "eip" => "AllocationId",
            "disk" => "DiskId",
            "bucket" => "Name",
            "role" => "RoleName",
            "task" => "TaskId",
            _ => "Key",
        };
        self.rows(kind)
            .iter()
            .filter_map(|r| r[key].as_str().map(String::from))
            .collect()
    }

    /// The request log, oldest first.
    pub fn requests(&self) -> Vec<ApiRequest> {
        parse_requests(&self.request_log())
    }
}

/// A recorded action sequence of packer 1.6.6, `fidelity/<name>` (as
/// [`crate::fake_server::FakeServer::normalized_actions`] gives them; `#`
/// lines left out).
pub fn recorded_actions(name: &str) -> Vec<String> {
    CLOUD.recorded_actions(name)
}

/// The fake's `/_fake/requests` JSON as [`ApiRequest`]s.
pub fn parse_requests(v: &Value) -> Vec<ApiRequest> {
    log_entries(v, |r| ApiRequest {
        service: text(r, "service"),
        action: text(r, "action"),
        region: text(r, "region"),
        status: r["status"].as_u64().unwrap_or(0) as u16,
        code: r["code"].as_str().map(String::from),
        ids: string_fields(&r["ids"]).into_iter().collect(),
        signature: text(r, "signature"),
        host: text(r, "host"),
    })
}
