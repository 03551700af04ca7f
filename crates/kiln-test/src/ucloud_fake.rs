//! The FAKE UCloud API (`fakes/ucloud/ucloud_fake.py`) for the ucloud
//! tests, as moto is for amazon-ebs: [`UcloudFake`] starts it on a free
//! loopback port (plain HTTP) through [`crate::fake_server::FakeServer`],
//! which it dereferences to (the endpoint, `base_url`; `resources` for leak
//! checks; the request log; its time scale), and adds the key pair it
//! accepts, [`UcloudFake::requests`] (the request log parsed), the fault
//! hook [`UcloudFake::fail`] and the seeding of custom images for paging
//! tests.
//!
//! The fake runs on the Python of the venv scripts/install-deps.sh makes
//! (which also holds UCloud's SDKs for the fidelity scenario); a missing
//! venv is a failure, never a skip.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::fake_server::{log_entries, string_fields, text};

/// How to start the fake.
pub use crate::fake_server::Options;

// Plain HTTP only by default, as UCloud's API is (its SDKs and kiln take
// the endpoint as `base_url`).
crate::fake_server::fake_cloud!(
    UcloudFake,
    "ucloud",
    "KILN_UCLOUD_VENV",
    "UCloud",
    Options {
        https: false,
        ..Options::default()
    }
);

/// The public key the fake accepts.
pub const PUBLIC_KEY: &str = "ucloudfakepublickey";
/// The project builds run in (the fake's default).
pub const PROJECT: &str = "org-kiln";
/// The second project, for copies across projects.
pub const OTHER_PROJECT: &str = "org-copy";

/// One request the fake answered.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiRequest {
    /// `uhost`, `vpc`, `unet`, `uaccount` or `ufile`.
    pub service: String,
    /// The action (`CreateUHostInstance`; for UFile objects `PutFile`,
    /// `HeadFile`, `DeleteFile`, `InitiateMultipartUpload`, `UploadPart`,
    /// `FinishMultipartUpload`, `AbortMultipartUpload`).
    pub action: String,
    /// The request's `Region`.
    pub region: String,
    /// The request's `ProjectId`.
    pub project: String,
    /// UCloud's RetCode (0: success).
    pub code: i64,
    /// The resource ids it named or made (`UHostId`, `ImageId`, ...).
    pub ids: BTreeMap<String, String>,
    /// Its parameters (`Password` masked).
    pub params: BTreeMap<String, String>,
}

impl UcloudFake {
    /// The fake with `opts`, once it listens.
    pub fn start_with(opts: &Options) -> UcloudFake {
        let private_key = format!("kiln-fake-private-{}", std::process::id());
        let args = opts.args();
        // The key goes through the environment, never the command line.
        let server = CLOUD.start(
            &args,
            &[("UCLOUD_FAKE_KEYS", format!("{PUBLIC_KEY}:{private_key}"))],
        );
        UcloudFake {
            server,
            secret: private_key,
        }
    }

    /// The public key it accepts.
    pub fn public_key(&self) -> &str {
        PUBLIC_KEY
    }

    /// The private key of [`UcloudFake::public_key`].
    pub fn private_key(&self) -> &str {
        &self.secret
    }

    /// The request log, oldest first.
    pub fn requests(&self) -> Vec<ApiRequest> {
        parse_requests(&self.request_log())
    }

    /// The actions called, oldest first (`CreateUHostInstance`, ...), with
    /// ` -> <RetCode>` for the calls that failed.
    pub fn actions(&self) -> Vec<String> {
        self.requests()
            .into_iter()
            .map(|r| match r.code {
                0 => r.action,
                c => format!("{} -> {c}", r.action),
            })
            .collect()
    }

    /// Makes the next `times` calls of `action` answer RetCode `code`.
    pub fn fail(&self, action: &str, code: i64, times: u32) {
        self.server
            .inject_fault(action, times, serde_json::json!({ "code": code }));
    }

    /// Makes `count` Available custom images named `<prefix>-NNN` in
    /// `project` and `region`; their ids.
    pub fn seed_images(
        &self,
        project: &str,
        region: &str,
        count: usize,
        prefix: &str,
    ) -> Vec<String> {
        let body = serde_json::json!({
            "project": project, "region": region, "count": count, "prefix": prefix
        });
        let v = self
            .server
            .admin("POST", "/_fake/seed_images", &body.to_string());
        v["ImageIds"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The fake's `/_fake/requests` JSON as [`ApiRequest`]s.
pub fn parse_requests(v: &Value) -> Vec<ApiRequest> {
    let map = |r: &Value| -> BTreeMap<String, String> { string_fields(r).into_iter().collect() };
    log_entries(v, |r| ApiRequest {
        service: text(r, "service"),
        action: text(r, "action"),
        region: text(r, "region"),
        project: text(r, "project"),
        code: r["code"].as_i64().unwrap_or(0),
        ids: map(&r["ids"]),
        params: map(&r["params"]),
    })
}
