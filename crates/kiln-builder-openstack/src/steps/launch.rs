//! The builder's halves of kiln-cloud's generic instance and image steps:
//! [`LaunchPlan`] builds Nova's `server` (Packer's `StepRunSourceServer`:
//! name, image or root volume, flavor, security groups, networks, zone,
//! base64 user data, config drive, metadata with the run tags, key pair)
//! and records the running server; [`ImagePlan`] builds the image request
//! (Packer's `stepCreateImage`: Nova's `createImage` with the image's
//! `metadata` and the run tags, or Cinder's upload of the root volume).
//! Neither creates anything itself.

use base64::Engine as _;
use kiln_cloud::steps::image::{self, NewImage};
use kiln_cloud::steps::instance;
use kiln_sdk::step::StepError;
use kiln_sdk::Ui;
use serde_json::{json, Value};

use crate::cloud::image::CreateRequest;
use crate::config::Config;
use crate::OsState;

/// See the module docs.
pub struct LaunchPlan {
    /// The config.
    pub config: std::sync::Arc<Config>,
}

impl instance::LaunchPlan<OsState> for LaunchPlan {
    fn request(&self, ui: &dyn Ui, state: &OsState) -> Result<Value, StepError> {
        let r = &self.config.run;
        let missing = |what: &str| StepError::msg(format!("no {what} was chosen before launching"));
        let user_data = match &r.user_data_file {
            Some(p) => std::fs::read(p).map_err(|e| {
                StepError::msg(format!(
                    "Error reading user data file `{}`: {e}",
                    p.display()
                ))
            })?,
            None => r.user_data.clone().unwrap_or_default().into_bytes(),
        };
        ui.say("Launching server...");
        let mut metadata = r.instance_metadata.clone();
        metadata.extend(state.run_tags.iter().cloned());
        let mut server = json!({
            "name": self.config.instance_name(),
            "flavorRef": state.flavor_id.clone().ok_or_else(|| missing("flavor"))?,
            "metadata": metadata,
        });
        match &state.volume_id {
            Some(volume) => {
                server["block_device_mapping_v2"] = json!([{
                    "boot_index": 0, "destination_type": "volume",
                    "source_type": "volume", "uuid": volume,
                }]);
            }
            None => {
                server["imageRef"] = json!(state
                    .source_image
                    .clone()
                    .ok_or_else(|| missing("source image"))?)
            }
        }
        if !r.security_groups.is_empty() {
            server["security_groups"] = json!(r
                .security_groups
                .iter()
                .map(|g| json!({"name": g}))
                .collect::<Vec<_>>());
        }
        if !state.networks.is_empty() {
            server["networks"] = json!(state.networks);
        }
        if let Some(z) = &r.availability_zone {
            server["availability_zone"] = json!(z);
        }
        if !user_data.is_empty() {
            server["user_data"] =
                json!(base64::engine::general_purpose::STANDARD.encode(user_data));
        }
        if r.config_drive {
            server["config_drive"] = json!(true);
        }
        if let Some(k) = &state.key_pair_name {
            server["key_name"] = json!(k);
        }
        Ok(server)
    }

    fn running(&self, state: &mut OsState, server: Value) -> Result<(), StepError> {
        state.server = Some(server);
        Ok(())
    }
}

/// See the module docs.
pub struct ImagePlan {
    /// The config.
    pub config: std::sync::Arc<Config>,
}

impl image::ImagePlan<OsState> for ImagePlan {
    fn request(&self, ui: &dyn Ui, state: &OsState) -> Result<NewImage<CreateRequest>, StepError> {
        let i = &self.config.image;
        ui.say(&format!("Creating the image: {}", i.name));
        let mut metadata = i.metadata.clone();
        let request = match &state.volume_id {
            Some(volume) => CreateRequest::Volume {
                volume: volume.clone(),
                disk_format: i.disk_format.clone(),
                metadata,
            },
            None => {
                metadata.extend(state.run_tags.iter().cloned());
                CreateRequest::Server {
                    server: state
                        .server_id
                        .clone()
                        .ok_or_else(|| StepError::msg("no server to make the image of"))?,
                    metadata,
                }
            }
        };
        Ok(NewImage {
            name: i.name.clone(),
            request,
        })
    }
}
