//! `StepModifyAMIAttributes` (Packer's): kiln-cloud's generic
//! [`StepShareImage`] with amazon's changes: in every region, the AMI's
//! description (on copies too), its launch permissions (`ami_users`,
//! `ami_groups`), `imds_support` and `deprecate_at`, in Packer's order, and
//! its snapshots' create-volume permissions (`snapshot_users`,
//! `snapshot_groups`). Changes attributes of the AMIs this build made;
//! they are removed with them, so no cleanup.

use std::sync::Arc;

use kiln_cloud::steps::image::{ImageChange, Sharing, StepShareImage};

use crate::cloud::image::Ec2Attribute;
use crate::config::Config;

/// The changes to every AMI, in Packer's order.
fn changes(c: &Config) -> Vec<ImageChange<Ec2Attribute>> {
    let mut out = Vec::new();
    if let Some(d) = &c.ami_description {
        out.push(ImageChange::Attribute(Ec2Attribute::Description(d.clone())));
    }
    let launch = Sharing {
        accounts: c.ami_users.clone(),
        groups: c.ami_groups.clone(),
    };
    if !launch.is_empty() {
        out.push(ImageChange::Share(launch));
    }
    if let Some(v) = &c.imds_support {
        out.push(ImageChange::Attribute(Ec2Attribute::ImdsSupport(v.clone())));
    }
    if let Some(t) = &c.deprecate_at {
        out.push(ImageChange::Attribute(Ec2Attribute::DeprecateAt(
            t.timestamp(),
        )));
    }
    out
}

/// The modify-attributes step of `config`.
pub fn step(config: Arc<Config>) -> StepShareImage<Ec2Attribute> {
    let snapshots = Sharing {
        accounts: config.snapshot_users.clone(),
        groups: config.snapshot_groups.clone(),
    };
    StepShareImage::new("StepModifyAMIAttributes", changes(&config), snapshots)
}
