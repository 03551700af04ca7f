//! `stepPreValidate`: the project and every copy's project exist
//! (`GetProjectList`), the region and every copy's region exist, the zone
//! is in the region (`GetRegion`), and (kiln's addition) the zone offers
//! the `boot_disk_type` asked for as a boot disk of the instance type's
//! machine type (`DescribeAvailableInstanceTypes`): otherwise the build
//! fails here, before anything is made, naming what the zone offers.
//! Creates nothing; nothing to clean up.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};
use serde::Deserialize;

use crate::client::{params, Client};
use crate::config::{BootDiskType, Config};
use crate::UcloudState;

/// Validates what the build names before it makes anything.
pub struct StepPreValidate {
    /// The configuration.
    pub config: Arc<Config>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Projects {
    #[serde(default)]
    project_set: Vec<Project>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Project {
    project_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Regions {
    #[serde(default)]
    regions: Vec<Region>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Region {
    region: String,
    zone: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Available {
    #[serde(default)]
    available_instance_types: Vec<AvailableType>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AvailableType {
    name: String,
    #[serde(default)]
    zone: String,
    #[serde(default)]
    disks: Vec<Disks>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Disks {
    #[serde(default)]
    boot_disk: Vec<Named>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Named {
    name: String,
}

/// The boot disk types `zone` offers for `machine_type` (UCloud's names,
/// `CLOUD_SSD`), sorted.
pub async fn boot_disk_types(
    client: &Client,
    zone: &str,
    machine_type: &str,
) -> Result<Vec<String>, kiln_cloud::ApiError> {
    let a: Available = client
        .call(
            "DescribeAvailableInstanceTypes",
            &params([("Zone", zone)]),
            None,
        )
        .await?;
    let types: BTreeSet<String> = a
        .available_instance_types
        .iter()
        .filter(|t| {
            t.name.eq_ignore_ascii_case(machine_type) && (t.zone.is_empty() || t.zone == zone)
        })
        .flat_map(|t| {
            t.disks
                .iter()
                .flat_map(|d| d.boot_disk.iter().map(|b| b.name.clone()))
        })
        .collect();
    Ok(types.into_iter().collect())
}

/// The error of a zone that does not offer `wanted`.
fn disk_type_error(zone: &str, wanted: BootDiskType, offered: &[String]) -> String {
    let known: Vec<String> = offered
        .iter()
        .map(|o| match BootDiskType::from_api(o) {
            Some(t) => format!("`{}`", t.as_str()),
            None => format!("`{}`", o.to_ascii_lowercase()),
        })
        .collect();
    let offered = if known.is_empty() {
        "no boot disk type".to_string()
    } else {
        known.join(", ")
    };
    format!(
        "the availability zone `{zone}` does not offer `boot_disk_type` `{}`: it offers {offered}\n  hint: set `boot_disk_type` to one of these, or pick another `availability_zone`",
        wanted.as_str()
    )
}

#[async_trait]
impl Step<UcloudState> for StepPreValidate {
    fn name(&self) -> &'static str {
        "stepPreValidate"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut UcloudState,
    ) -> Result<StepAction, StepError> {
        let c = &self.config;
        let client = &state.uhost.client;
        let err = |e: kiln_cloud::ApiError| StepError::msg(e.to_string());

        cx.ui.say("Validating project_id and copied project_ids...");
        let projects: Projects = client
            .call("GetProjectList", &Default::default(), Some(&cx.cancel))
            .await
            .map_err(err)?;
        let known: BTreeSet<&str> = projects
            .project_set
            .iter()
            .map(|p| p.project_id.as_str())
            .collect();
        let mut problems = Vec::new();
        let wanted = std::iter::once(c.access.project_id.as_str())
            .chain(c.image.copies.iter().map(|x| x.project_id.as_str()));
        for p in wanted.collect::<BTreeSet<_>>() {
            if !known.contains(p) {
                problems.push(format!(
                    "`project_id` is invalid, should be a valid UCloud project_id, got `{p}`"
                ));
            }
        }
        if !problems.is_empty() {
            return Err(StepError::msg(problems.join("\n")));
        }

        cx.ui.say("Validating region and copied regions...");
        let regions: Regions = client
            .call("GetRegion", &Default::default(), Some(&cx.cancel))
            .await
            .map_err(err)?;
        let known: BTreeSet<&str> = regions.regions.iter().map(|r| r.region.as_str()).collect();
        let wanted = std::iter::once(c.access.region.as_str())
            .chain(c.image.copies.iter().map(|x| x.region.as_str()));
        for r in wanted.collect::<BTreeSet<_>>() {
            if !known.contains(r) {
                problems.push(format!(
                    "`region` is invalid, should be a valid UCloud region, got `{r}`"
                ));
            }
        }
        if !problems.is_empty() {
            return Err(StepError::msg(problems.join("\n")));
        }

        cx.ui.say("Validating availability_zone...");
        let zone = c.run.zone.as_str();
        if !regions
            .regions
            .iter()
            .any(|r| r.region == c.access.region && r.zone == zone)
        {
            return Err(StepError::msg(format!(
                "`availability_zone` is invalid, should be a valid UCloud zone of `{}`, got `{zone}`",
                c.access.region
            )));
        }
        let offered = boot_disk_types(client, zone, &c.run.instance_type.machine_type)
            .await
            .map_err(err)?;
        let wanted = c.run.boot_disk_type;
        if !offered
            .iter()
            .any(|o| o.eq_ignore_ascii_case(&wanted.api_name()))
        {
            return Err(StepError::msg(disk_type_error(zone, wanted, &offered)));
        }
        Ok(StepAction::Continue)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_disk_type_error_lists_what_the_zone_offers() {
        let e = disk_type_error(
            "cn-bj2-04",
            BootDiskType::CloudSsd,
            &["CLOUD_RSSD".into(), "LOCAL_NORMAL".into()],
        );
        assert!(e.starts_with("the availability zone `cn-bj2-04` does not offer `boot_disk_type` `cloud_ssd`: it offers `cloud_rssd`, `local_normal`"), "{e}");
    }
}
