//! The FAKE Huawei Cloud API (`fakes/huaweicloud/huaweicloud_fake.py`) for
//! the huaweicloud tests, as moto is for amazon-ebs: [`HuaweicloudFake`]
//! starts it on free loopback ports (plain HTTP and HTTPS with a CA it
//! generates) through [`crate::fake_server::FakeServer`], which it
//! dereferences to (the endpoint, the CA, `resources` for leak checks, the
//! request log, an sshd that plays the server's cloud-init), and adds the
//! access key and secret it accepts, the project,
//! [`HuaweicloudFake::requests`] (the request log parsed) and the fault
//! hook [`HuaweicloudFake::fail`].
//!
//! The fake runs on the Python of the venv scripts/install-deps.sh makes
//! (which also holds Huawei's SDKs for the fidelity scenario); a missing
//! venv is a failure, never a skip.

use serde_json::Value;

use crate::fake_server::{log_entries, string_fields, text};

/// How to start the fake.
pub use crate::fake_server::Options;

crate::fake_server::fake_cloud!(
    HuaweicloudFake,
    "huaweicloud",
    "KILN_HUAWEICLOUD_VENV",
    "Huawei Cloud"
);

/// The access key id the fake accepts.
pub const ACCESS_KEY: &str = "HWFAKEKILNACCESSKEY1";
/// The project builds run in.
pub const PROJECT_ID: &str = "0b0ff3a5fa804c0e8f1d7e5b2a9c4d61";
/// The region of requests to `127.0.0.1` (the fake's default).
pub const REGION: &str = "cn-north-4";
/// The CBR vault the fake holds in every region (`vault_id`).
pub const VAULT_ID: &str = "3c4a8e2f-1b6d-4f0e-9a7c-2e5d8b1f6a01";
/// The data disk image (20 GB) shared with every project
/// (`data_disks[].data_image_id`).
pub const DATA_IMAGE_ID: &str = "5b0b6a7e-7c1e-4a55-9f0e-6d0c7a1d0d01";

/// One request the fake answered.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiRequest {
    /// `ecs`, `ims`, `vpc` or `eip`.
    pub service: String,
    /// The operation, named as Huawei's SDKs name it
    /// (`CreatePostPaidServers`).
    pub action: String,
    /// HTTP status of the answer.
    pub status: u16,
    /// Huawei's error code when it failed.
    pub code: Option<String>,
    /// The id the call named (its last path argument) or made (`job_id`,
    /// `id`).
    pub ids: Vec<(String, String)>,
    /// The query parameters of a call that succeeded.
    pub query: Vec<(String, String)>,
    /// The JSON body of a call that succeeded (`null` for none).
    pub body: Value,
}

impl HuaweicloudFake {
    /// The fake with `opts`, once it listens.
    pub fn start_with(opts: &Options) -> HuaweicloudFake {
        let secret = format!("kiln-hw-fake-secret-{}", std::process::id());
        let mut args = opts.args();
        args.extend(["--region", REGION, "--project-id", PROJECT_ID].map(String::from));
        let server = CLOUD.start(
            &args,
            &[("HUAWEICLOUD_FAKE_KEYS", format!("{ACCESS_KEY}:{secret}"))],
        );
        HuaweicloudFake { server, secret }
    }

    /// The access key id it accepts.
    pub fn access_key(&self) -> &str {
        ACCESS_KEY
    }

    /// The secret of [`HuaweicloudFake::access_key`].
    pub fn secret_key(&self) -> &str {
        &self.secret
    }

    /// The request log, oldest first.
    pub fn requests(&self) -> Vec<ApiRequest> {
        parse_requests(&self.request_log())
    }

    /// The operations it answered, oldest first (`Op` or `Op -> Code`).
    pub fn actions(&self) -> Vec<String> {
        self.requests()
            .into_iter()
            .map(|r| match r.code {
                Some(c) => format!("{} -> {c}", r.action),
                None => r.action,
            })
            .collect()
    }

    /// The next `times` calls of `action` fail with `status` and `code`
    /// (the gateway's body for `APIGW.*` codes, the service's otherwise).
    pub fn fail(&self, action: &str, status: u16, code: &str, times: u32) {
        self.server.inject_fault(
            action,
            times,
            serde_json::json!({ "status": status, "code": code }),
        );
    }
}

/// The fake's `/_fake/requests` JSON as [`ApiRequest`]s.
pub fn parse_requests(v: &Value) -> Vec<ApiRequest> {
    log_entries(v, |r| ApiRequest {
        service: text(r, "service"),
        action: text(r, "action"),
        status: r["status"].as_u64().unwrap_or(0) as u16,
        code: r["code"].as_str().map(String::from),
        ids: string_fields(&r["ids"]),
        query: string_fields(&r["query"]),
        body: r["body"].clone(),
    })
}
