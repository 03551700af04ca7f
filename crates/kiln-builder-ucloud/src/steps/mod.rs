//! The ucloud-uhost builder's own steps (the rest are kiln-cloud's generic
//! steps and kiln-ssh's): validating the project, regions, zone and the
//! zone's boot disk types before anything is made, the source image, the
//! VPC, subnet and security group, and the builder's halves of launching
//! the UHost and creating the image. One step per file.

mod check_source_image;
mod config_security_group;
mod config_subnet;
mod config_vpc;
mod launch;
mod pre_validate;

pub use check_source_image::StepCheckSourceImage;
pub use config_security_group::StepConfigSecurityGroup;
pub use config_subnet::StepConfigSubnet;
pub use config_vpc::StepConfigVpc;
pub use launch::{CreateImagePlan, LaunchUhost};
pub use pre_validate::StepPreValidate;
