//! The in-toto Statement v1 with a SLSA v1 provenance predicate that the
//! `provenance` post-processor signs: what was built (the subjects, with
//! their digests), from what (the template's files and digests, the
//! variables' names — and values, unless sensitive —, the source image), by
//! what (kiln and its version, the builder type) and when.
//!
//! Subjects: one per local file of the artifact, named by its file name
//! with its SHA-256. An artifact without files (a Docker image, a cloud
//! image) gets one subject named by its artifact id: a Docker image id
//! `sha256:<hex>` gives the digest `{"sha256": "<hex>"}`; any other id (an
//! AMI list such as `us-east-1:ami-123`, a tag) is recorded as
//! `{"kiln_image_id": "<id>"}`, a digest key of kiln's own, since such an
//! id names an image in its registry or cloud but is no content hash.

use std::collections::BTreeMap;
use std::time::SystemTime;

use kiln_sdk::record::RunInfo;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// `_type` of an in-toto Statement v1.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// `predicateType` of SLSA provenance v1.
pub const PREDICATE_TYPE: &str = "https://slsa.dev/provenance/v1";
/// `buildDefinition.buildType`: a kiln template build, whose parameters
/// are documented in `docs/post-processors/provenance.md`.
pub const BUILD_TYPE: &str = "urn:kiln:build-type:template-build:v1";
/// `runDetails.builder.id`: kiln, running on the machine that ran the build.
pub const BUILDER_ID: &str = "urn:kiln:builder:local";
/// The digest key of a subject named by an image id that is not a
/// content digest (see the module documentation).
pub const IMAGE_ID_DIGEST: &str = "kiln_image_id";

/// One subject of a statement: an artifact and its digests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    /// The file name, or the image id.
    pub name: String,
    /// Algorithm → lowercase hex digest (or [`IMAGE_ID_DIGEST`] → id).
    pub digest: BTreeMap<String, String>,
}

impl Subject {
    /// The subject of a local file with this SHA-256.
    pub fn file(name: impl Into<String>, sha256: impl Into<String>) -> Subject {
        Subject {
            name: name.into(),
            digest: BTreeMap::from([("sha256".to_string(), sha256.into())]),
        }
    }

    /// The subject of an artifact without files, named by its id.
    pub fn image(id: &str) -> Subject {
        let digest = match sha256_of_id(id) {
            Some(hex) => ("sha256".to_string(), hex.to_string()),
            None => (IMAGE_ID_DIGEST.to_string(), id.to_string()),
        };
        Subject {
            name: id.to_string(),
            digest: BTreeMap::from([digest]),
        }
    }
}

/// The hex of a `sha256:<64 hex>` id (a Docker image id or digest), also
/// after a repository (`name@sha256:…`).
pub(crate) fn sha256_of_id(id: &str) -> Option<&str> {
    let i = id.find("sha256:")?;
    if i > 0 && !id[..i].ends_with('@') {
        return None;
    }
    let hex = &id[i + 7..];
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then_some(hex)
}

/// The facts of a build that the predicate records.
#[derive(Debug, Clone)]
pub struct Facts<'a> {
    /// The build's name.
    pub build_name: &'a str,
    /// The builder's type (`qemu`, `docker`).
    pub builder_type: &'a str,
    /// The artifact's id.
    pub artifact_id: &'a str,
    /// The id of the builder or post-processor that made the artifact.
    pub artifact_builder_id: &'a str,
    /// The run's template files, variables and kiln version.
    pub run: &'a RunInfo,
    /// The image the build started from, when the builder recorded one.
    pub source_image: Option<&'a str>,
    /// The run's id.
    pub invocation_id: &'a str,
    /// When the build started.
    pub started: SystemTime,
    /// When the provenance was made.
    pub finished: SystemTime,
}

/// RFC 3339 in UTC, whole seconds (`2026-12-07T18:26:22Z`).
pub fn rfc3339(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The source image as an in-toto resource descriptor: a URL as `uri`,
/// anything else as `name`; a `sha256:<hex>` in it as its digest.
fn source_descriptor(source: &str) -> Value {
    let mut d = serde_json::Map::new();
    let key = if source.contains("://") {
        "uri"
    } else {
        "name"
    };
    d.insert(key.into(), source.into());
    let hex = source.match_indices("sha256:").find_map(|(i, _)| {
        let h = source.get(i + 7..i + 71)?;
        let end_ok = source[i + 71..]
            .chars()
            .next()
            .is_none_or(|c| !c.is_ascii_hexdigit());
        (end_ok && h.bytes().all(|b| b.is_ascii_hexdigit())).then_some(h)
    });
    if let Some(h) = hex {
        d.insert("digest".into(), json!({ "sha256": h.to_lowercase() }));
    }
    Value::Object(d)
}

/// The statement, ready to be serialised and signed.
pub fn statement(facts: &Facts<'_>, subjects: &[Subject]) -> Value {
    let files: Vec<Value> = facts
        .run
        .template_files
        .iter()
        .map(|f| json!({ "path": f.path.display().to_string(), "digest": { "sha256": f.sha256 } }))
        .collect();
    // Sensitive variables keep their name; their value is left out.
    let variables: Vec<Value> = facts
        .run
        .variables
        .iter()
        .map(|v| match &v.value {
            Some(value) => json!({ "name": v.name, "value": value }),
            None => json!({ "name": v.name, "sensitive": true }),
        })
        .collect();
    let mut dependencies: Vec<Value> = facts
        .run
        .template_files
        .iter()
        .map(|f| json!({ "name": f.path.display().to_string(), "digest": { "sha256": f.sha256 } }))
        .collect();
    if let Some(source) = facts.source_image {
        dependencies.push(source_descriptor(source));
    }
    let version = if facts.run.kiln_version.is_empty() {
        kiln_sdk::KILN_VERSION
    } else {
        &facts.run.kiln_version
    };
    json!({
        "_type": STATEMENT_TYPE,
        "subject": subjects,
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "buildDefinition": {
                "buildType": BUILD_TYPE,
                "externalParameters": {
                    "template": { "files": files },
                    "build": facts.build_name,
                    "builderType": facts.builder_type,
                    "variables": variables,
                },
                "internalParameters": {
                    "artifact": {
                        "id": facts.artifact_id,
                        "builderId": facts.artifact_builder_id,
                    },
                },
                "resolvedDependencies": dependencies,
            },
            "runDetails": {
                "builder": {
                    "id": BUILDER_ID,
                    "version": { "kiln": version },
                },
                "metadata": {
                    "invocationId": facts.invocation_id,
                    "startedOn": rfc3339(facts.started),
                    "finishedOn": rfc3339(facts.finished),
                },
            },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_sdk::record::{TemplateFile, VariableInfo};
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn image_ids_become_digests_when_they_are_digests() {
        let hex = "a".repeat(64);
        assert_eq!(
            Subject::image(&format!("sha256:{hex}")).digest,
            BTreeMap::from([("sha256".to_string(), hex.clone())])
        );
        assert_eq!(
            Subject::image(&format!("repo/app@sha256:{hex}")).digest["sha256"],
            hex
        );
        for id in [
            "us-east-1:ami-123,us-west-2:ami-456",
            "sha256:abc",
            "repo:sha256:x",
        ] {
            let s = Subject::image(id);
            assert_eq!(s.name, id);
            assert_eq!(
                s.digest,
                BTreeMap::from([(IMAGE_ID_DIGEST.to_string(), id.to_string())])
            );
        }
    }

    #[test]
    fn the_statement_has_every_fact_and_no_sensitive_value() {
        let run = RunInfo {
            template_files: vec![TemplateFile {
                path: "t.pkr.hcl".into(),
                sha256: "ab".repeat(32),
            }],
            variables: vec![
                VariableInfo {
                    name: "region".into(),
                    value: Some("eu-west-1".into()),
                },
                VariableInfo {
                    name: "password".into(),
                    value: None,
                },
            ],
            kiln_version: "9.9.9".into(),
        };
        let started = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let facts = Facts {
            build_name: "web",
            builder_type: "qemu",
            artifact_id: "VM",
            artifact_builder_id: "transcend.qemu",
            run: &run,
            source_image: Some(&format!(
                "https://example.com/base.img?checksum=sha256:{}",
                "C".repeat(64)
            )),
            invocation_id: "5e1c6a8e-0000-4000-8000-000000000001",
            started,
            finished: started + Duration::from_secs(61),
        };
        let s = statement(&facts, &[Subject::file("disk.qcow2", "cd".repeat(32))]);
        assert_eq!(s["_type"], STATEMENT_TYPE);
        assert_eq!(s["predicateType"], PREDICATE_TYPE);
        assert_eq!(
            s["subject"],
            json!([{ "name": "disk.qcow2", "digest": { "sha256": "cd".repeat(32) } }])
        );
        let p = &s["predicate"];
        let def = &p["buildDefinition"];
        assert_eq!(def["buildType"], BUILD_TYPE);
        assert_eq!(
            def["externalParameters"],
            json!({
                "template": { "files": [{ "path": "t.pkr.hcl", "digest": { "sha256": "ab".repeat(32) } }] },
                "build": "web",
                "builderType": "qemu",
                "variables": [
                    { "name": "region", "value": "eu-west-1" },
                    { "name": "password", "sensitive": true }
                ]
            })
        );
        assert_eq!(
            def["resolvedDependencies"][1],
            json!({
                "uri": format!("https://example.com/base.img?checksum=sha256:{}", "C".repeat(64)),
                "digest": { "sha256": "c".repeat(64) }
            })
        );
        assert_eq!(
            p["runDetails"],
            json!({
                "builder": { "id": BUILDER_ID, "version": { "kiln": "9.9.9" } },
                "metadata": {
                    "invocationId": "5e1c6a8e-0000-4000-8000-000000000001",
                    "startedOn": "2023-11-14T22:13:20Z",
                    "finishedOn": "2023-11-14T22:14:21Z"
                }
            })
        );
    }

    #[test]
    fn a_source_image_name_stays_a_name() {
        assert_eq!(
            source_descriptor("ubuntu:24.04"),
            json!({ "name": "ubuntu:24.04" })
        );
        let hex = "0123456789abcdef".repeat(4);
        assert_eq!(
            source_descriptor(&format!("ubuntu@sha256:{hex}")),
            json!({ "name": format!("ubuntu@sha256:{hex}"), "digest": { "sha256": hex } })
        );
        // Too long to be a SHA-256.
        assert_eq!(
            source_descriptor(&format!("x sha256:{hex}00")),
            json!({ "name": format!("x sha256:{hex}00") })
        );
    }
}
