//! The builder's halves of kiln-cloud's generic instance and image steps:
//! [`LaunchPlan`] builds `CreatePostPaidServers`' `server` (the plugin's
//! `StepRunSourceServer`: image, flavor, zone, VPC and subnets, security
//! groups, root volume, data volumes, EIP, key pair, base64 user data,
//! metadata, spot and enterprise project, the run tags as `server_tags`)
//! and records the running server's port and address; [`ImagePlan`] builds
//! IMS's `CreateImage`, or `CreateWholeImage` with the `vault_id` for a
//! `full-ecs` image (the plugin's `stepCreateImage`, with `image_tags` and
//! the run tags). Neither creates anything itself.

use base64::Engine as _;
use kiln_cloud::steps::image::{self, NewImage};
use kiln_cloud::steps::instance;
use kiln_cloud::Poller;
use kiln_sdk::step::StepError;
use kiln_sdk::Ui;
use serde_json::{json, Value};

use crate::cloud::image::CreateRequest;
use crate::cloud::{tag_list, text};
use crate::config::{Config, ImageType};
use crate::HuaweiState;

/// See the module docs.
pub struct LaunchPlan {
    /// The config.
    pub config: std::sync::Arc<Config>,
}

impl instance::LaunchPlan<HuaweiState> for LaunchPlan {
    fn request(&self, ui: &dyn Ui, state: &HuaweiState) -> Result<Value, StepError> {
        let r = &self.config.run;
        let missing = |what: &str| StepError::msg(format!("no {what} was chosen before launching"));
        let zone = state
            .availability_zone
            .clone()
            .ok_or_else(|| missing("availability zone"))?;
        let user_data = match &r.user_data_file {
            Some(p) => std::fs::read(p).map_err(|e| {
                StepError::msg(format!(
                    "error reading user data file `{}`: {e}",
                    p.display()
                ))
            })?,
            None => r.user_data.clone().unwrap_or_default().into_bytes(),
        };
        ui.say(&format!("Launching server in AZ {zone}..."));
        let mut extend = json!({"chargingMode": 0});
        if let Some(id) = &r.enterprise_project_id {
            extend["enterprise_project_id"] = json!(id);
        }
        if let Some(price) = &r.spot {
            extend["marketType"] = json!("spot");
            match price {
                Some(p) => {
                    ui.message(&format!(
                        "The ECS server will be billed in spot price mode with the highest price {p} per hour"
                    ));
                    extend["spotPrice"] = json!(p);
                }
                None => ui.message("The ECS server will be billed in spot price mode"),
            }
        }
        let mut root = json!({"volumetype": r.volume_type});
        if let Some(size) = r.volume_size {
            root["size"] = json!(size);
        }
        let mut server = json!({
            "name": r.instance_name.clone().unwrap_or_else(|| self.config.image.name.clone()),
            "imageRef": state.source_image.clone().ok_or_else(|| missing("source image"))?,
            "flavorRef": state.flavor_id.clone().ok_or_else(|| missing("flavor"))?,
            "vpcid": state.vpc_id.clone().ok_or_else(|| missing("VPC"))?,
            "nics": state.subnet_ids.iter().map(|s| json!({"subnet_id": s})).collect::<Vec<_>>(),
            "availability_zone": zone,
            "root_volume": root,
            "extendparam": extend,
            "metadata": r.instance_metadata,
            "server_tags": tag_list(&state.run_tags),
        });
        if !state.security_group_ids.is_empty() {
            server["security_groups"] = json!(state
                .security_group_ids
                .iter()
                .map(|g| json!({"id": g}))
                .collect::<Vec<_>>());
        }
        if let Some(k) = &state.key_pair_name {
            server["key_name"] = json!(k);
        }
        if let Some(eip) = &state.eip {
            server["publicip"] = json!({"id": eip.id});
        }
        if !state.data_volumes.is_empty() {
            server["data_volumes"] = json!(state.data_volumes);
        }
        if !user_data.is_empty() {
            server["user_data"] =
                json!(base64::engine::general_purpose::STANDARD.encode(user_data));
        }
        Ok(server)
    }

    fn running(&self, state: &mut HuaweiState, server: Value) -> Result<(), StepError> {
        let version = self.config.run.ssh_ip_version.as_deref().unwrap_or("4");
        let fixed = server["addresses"]
            .as_object()
            .into_iter()
            .flat_map(|nets| nets.values())
            .flat_map(|a| a.as_array().cloned().unwrap_or_default())
            .find(|a| {
                text(a, "OS-EXT-IPS:type") == "fixed"
                    && a["version"].to_string().trim_matches('"') == version
            })
            .ok_or_else(|| {
                StepError::msg(format!(
                    "the server `{}` has no private IPv{version} address",
                    text(&server, "id")
                ))
            })?;
        state.port_id = Some(text(&fixed, "OS-EXT-IPS:port-id"));
        // The EIP, once associated, replaces it.
        state.ssh_host = Some(text(&fixed, "addr"));
        Ok(())
    }
}

/// See the module docs.
pub struct ImagePlan {
    /// The config.
    pub config: std::sync::Arc<Config>,
    /// Waits for the image's job.
    pub poller: Poller,
}

impl image::ImagePlan<HuaweiState> for ImagePlan {
    fn request(
        &self,
        ui: &dyn Ui,
        state: &HuaweiState,
    ) -> Result<NewImage<CreateRequest>, StepError> {
        let i = &self.config.image;
        let server = state
            .server_id
            .clone()
            .ok_or_else(|| StepError::msg("no server to make the image of"))?;
        ui.say(&format!("Creating the image: {}", i.name));
        let tags: Vec<(String, String)> = i
            .tags
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .chain(state.run_tags.iter().cloned())
            .collect();
        let mut body = json!({
            "name": i.name, "description": i.description, "instance_id": server,
            "image_tags": tag_list(&tags),
        });
        if let Some(id) = &self.config.run.enterprise_project_id {
            body["enterprise_project_id"] = json!(id);
        }
        let whole = i.kind == ImageType::FullEcs;
        if whole {
            body["vault_id"] = json!(self.config.run.vault_id);
        }
        ui.say(&format!(
            "Waiting for image {} to become available ...",
            i.name
        ));
        Ok(NewImage {
            name: i.name.clone(),
            request: CreateRequest {
                body,
                whole,
                run_tags: state.run_tags.clone(),
                poller: self.poller.clone(),
            },
        })
    }
}
