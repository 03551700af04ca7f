//! Tag maps (`tags`, `run_tags`, `run_volume_tags`, `snapshot_tags`):
//! rendered at run time with Packer's build info (`{{ .BuildRegion }}`,
//! `{{ .SourceAMI }}`, `{{ .SourceAMIName }}`, `{{ .SourceAMIOwner }}`,
//! `{{ .SourceAMIOwnerName }}`, `{{ .SourceAMICreationDate }}`) and the
//! builder's generated data, turned into EC2 tags and reported the way
//! Packer does. Pure; holds nothing.

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_sdk_ec2::types::{Image, Tag};
use kiln_sdk::generated;
use kiln_sdk::interpolate::{self, Generated};
use kiln_sdk::step::StepError;
use kiln_sdk::Ui;

use crate::config::Config;
use crate::AmazonState;

/// Renders `tags` for `region`.
pub fn render(
    config: &Config,
    state: &AmazonState,
    region: &str,
    tags: &BTreeMap<String, String>,
) -> Result<Vec<(String, String)>, StepError> {
    if tags.is_empty() {
        return Ok(Vec::new());
    }
    let mut ctx = config.interpolation.with_data(
        build_info(state.source_image.as_ref(), region)
            .map(|(k, v)| (k, serde_json::Value::String(v))),
    );
    ctx.generated = Generated::Known(Arc::new(state.generated.clone()));
    let mut out = Vec::with_capacity(tags.len());
    for (k, v) in tags {
        let r = |s: &str| {
            interpolate::render(s, &ctx)
                .map_err(|e| StepError::msg(format!("error rendering tag `{k}`: {e}")))
        };
        out.push((r(k)?, r(v)?));
    }
    Ok(out)
}

/// Packer's build info about the source image and region, by its
/// generated-data key: the builder's generated data (`{{ build
/// `SourceAMI` }}`) and the tag templates' data (`{{ .SourceAMI }}`).
/// Empty strings before the source image is known.
pub fn build_info(image: Option<&Image>, region: &str) -> [(&'static str, String); 6] {
    let field = |f: fn(&Image) -> Option<&str>| image.and_then(f).unwrap_or_default().to_string();
    [
        (generated::BUILD_REGION, region.to_string()),
        (generated::SOURCE_AMI, field(|i| i.image_id())),
        (generated::SOURCE_AMI_NAME, field(|i| i.name())),
        (generated::SOURCE_AMI_OWNER, field(|i| i.owner_id())),
        (
            generated::SOURCE_AMI_OWNER_NAME,
            field(|i| i.image_owner_alias()),
        ),
        (
            generated::SOURCE_AMI_CREATION_DATE,
            field(|i| i.creation_date()),
        ),
    ]
}

/// EC2 tags from rendered pairs.
pub fn ec2_tags(pairs: &[(String, String)]) -> Vec<Tag> {
    pairs
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// Packer's report of each tag.
pub fn report(ui: &dyn Ui, pairs: &[(String, String)]) {
    for (k, v) in pairs {
        ui.message(&format!("Adding tag: \"{k}\": \"{v}\""));
    }
}

/// EC2 tags from rendered pairs and the run tags (`kiln:run`,
/// `kiln:build`), which replace a template tag of the same key so that
/// `kiln cleanup` always finds the resource. Only the template's pairs are
/// reported to the user.
pub fn with_run(state: &AmazonState, pairs: &[(String, String)]) -> Vec<Tag> {
    let mut all: Vec<(String, String)> = pairs
        .iter()
        .filter(|(k, _)| !state.run_tags.iter().any(|(r, _)| r == k))
        .cloned()
        .collect();
    all.extend(state.run_tags.iter().cloned());
    ec2_tags(&all)
}

/// A tag specification of `kind` with `pairs` and the run tags; `None`
/// when there is nothing to tag (EC2 rejects an empty specification).
pub fn specs(
    state: &AmazonState,
    kind: aws_sdk_ec2::types::ResourceType,
    pairs: &[(String, String)],
) -> Option<Vec<aws_sdk_ec2::types::TagSpecification>> {
    spec(kind, with_run(state, pairs))
}

/// A tag specification of `kind` with `tags`; `None` when there are none
/// (EC2 rejects an empty specification).
pub fn spec(
    kind: aws_sdk_ec2::types::ResourceType,
    tags: Vec<Tag>,
) -> Option<Vec<aws_sdk_ec2::types::TagSpecification>> {
    (!tags.is_empty()).then(|| {
        vec![aws_sdk_ec2::types::TagSpecification::builder()
            .resource_type(kind)
            .set_tags(Some(tags))
            .build()]
    })
}

/// The run tags as IAM tags (the temporary role and instance profile).
pub fn iam_run_tags(state: &AmazonState) -> Option<Vec<aws_sdk_iam::types::Tag>> {
    let tags: Vec<_> = state
        .run_tags
        .iter()
        .filter_map(|(k, v)| {
            aws_sdk_iam::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
                .ok()
        })
        .collect();
    (!tags.is_empty()).then_some(tags)
}
