//! The builder's halves of kiln-cloud's `StepRunInstance` and
//! `StepCreateImage` (the plugin's `stepCreateInstance` and
//! `stepCreateImage`): the `CreateUHostInstance` request (CPU and memory of
//! `instance_type`, `LoginMode=Password` with the base64 password, the
//! boot disk of `boot_disk_type` sized as the source image, the VPC,
//! subnet and firewall, an EIP unless `use_ssh_private_ip`, the user data,
//! the run tag as the UHost's `Tag`), the address to connect to once it
//! runs, and the `CreateCustomImage` request. Pure; the steps that use
//! them create and clean up.

use std::sync::Arc;

use base64::Engine as _;
use kiln_cloud::steps::image::{ImagePlan, NewImage};
use kiln_cloud::steps::instance::LaunchPlan;
use kiln_sdk::step::StepError;
use kiln_sdk::Ui;

use crate::client::{params, Params};
use crate::cloud::image::CreateRequest;
use crate::cloud::UHost;
use crate::config::Config;
use crate::UcloudState;

/// How the UHost is launched.
pub struct LaunchUhost {
    /// The configuration.
    pub config: Arc<Config>,
}

impl LaunchUhost {
    /// The `CreateUHostInstance` parameters.
    pub fn params(&self, state: &UcloudState) -> Result<Params, StepError> {
        let c = &self.config;
        let r = &c.run;
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let size = state
            .source_image
            .as_ref()
            .map(|i| i.image_size)
            .unwrap_or(20);
        let mut p = params([
            ("Zone", r.zone.clone()),
            ("ImageId", r.source_image_id.clone()),
            ("Name", r.instance_name.clone()),
            ("CPU", r.instance_type.cpu.to_string()),
            ("Memory", r.instance_type.memory.to_string()),
            ("MachineType", r.instance_type.machine_type.clone()),
            ("MinimalCpuPlatform", r.min_cpu_platform.clone()),
            ("LoginMode", "Password".into()),
            ("Password", b64(state.password.expose())),
            ("ChargeType", "Dynamic".into()),
            ("Tag", state.uhost.run_tag.clone()),
            ("Disks.0.IsBoot", "true".into()),
            ("Disks.0.Type", r.boot_disk_type.api_name()),
            ("Disks.0.Size", size.to_string()),
        ]);
        for (k, v) in [
            ("VPCId", &state.vpc_id),
            ("SubnetId", &state.subnet_id),
            ("SecurityGroupId", &state.security_group_id),
        ] {
            if let Some(v) = v {
                p.insert(k.into(), v.clone());
            }
        }
        let user_data = match (&r.user_data, &r.user_data_file) {
            (Some(d), _) => Some(d.clone()),
            (None, Some(f)) => Some(std::fs::read_to_string(f).map_err(|e| {
                StepError::msg(format!("error on reading `user_data_file` `{f}`: {e}"))
            })?),
            (None, None) => None,
        };
        if let Some(d) = user_data {
            p.insert("UserData".into(), b64(&d));
        }
        if !r.use_ssh_private_ip {
            let operator = if c.access.region.starts_with("cn-") {
                "Bgp"
            } else {
                "International"
            };
            p.extend(params([
                (
                    "NetworkInterface.0.EIP.Bandwidth",
                    r.eip_bandwidth.to_string(),
                ),
                ("NetworkInterface.0.EIP.PayMode", r.eip_pay_mode.to_string()),
                ("NetworkInterface.0.EIP.OperatorName", operator.to_string()),
            ]));
        }
        Ok(p)
    }
}

impl LaunchPlan<UcloudState> for LaunchUhost {
    fn request(&self, ui: &dyn Ui, state: &UcloudState) -> Result<Params, StepError> {
        ui.say("Creating Instance...");
        let t = self.config.run.boot_disk_type;
        if t.is_local() {
            ui.message(&format!(
                "Warning: It takes around 10 mins for boot disk initialization when `boot_disk_type` is \"{}\"",
                t.as_str()
            ));
        }
        self.params(state)
    }

    fn running(&self, state: &mut UcloudState, instance: UHost) -> Result<(), StepError> {
        let private = self.config.run.use_ssh_private_ip;
        let host = instance.ssh_host(private).ok_or_else(|| {
            StepError::msg(format!(
                "the instance `{}` has no {} address",
                instance.uhost_id,
                if private { "private" } else { "public" }
            ))
        })?;
        state.ssh_host = Some(host.clone());
        state
            .generated
            .insert(kiln_sdk::generated::HOST.into(), host);
        state
            .generated
            .insert(kiln_sdk::generated::ID.into(), instance.uhost_id.clone());
        state.instance = Some(instance);
        Ok(())
    }
}

/// The image to create.
pub struct CreateImagePlan {
    /// The configuration.
    pub config: Arc<Config>,
}

impl ImagePlan<UcloudState> for CreateImagePlan {
    fn request(
        &self,
        ui: &dyn Ui,
        state: &UcloudState,
    ) -> Result<NewImage<CreateRequest>, StepError> {
        let c = &self.config.image;
        let uhost_id = state
            .instance_id
            .clone()
            .ok_or_else(|| StepError::msg("there is no instance to image"))?;
        ui.say(&format!("Creating image {}...", c.image_name));
        Ok(NewImage {
            name: c.image_name.clone(),
            request: CreateRequest {
                uhost_id,
                description: c.image_description.clone(),
            },
        })
    }
}
