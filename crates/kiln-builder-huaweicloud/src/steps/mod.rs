//! The huaweicloud-ecs builder's own steps, in the plugin's order: load
//! the zones and the flavor, find the source image, size the data disks,
//! get the EIP, the
//! launch and image plans of kiln-cloud's generic steps, associate the
//! EIP, set the image's minimum disk and add its members. One step per
//! file; each says what it stores and what its cleanup undoes.

mod associate_eip;
mod check_volumes;
mod eip;
mod image_members;
mod image_min_disk;
mod launch;
mod load_flavor;
mod load_zones;
mod source_image;

pub use associate_eip::StepAssociateEip;
pub use check_volumes::StepCheckVolumes;
pub use eip::StepCreateEip;
pub use image_members::StepAddImageMembers;
pub use image_min_disk::StepUpdateImageMinDisk;
pub use launch::{ImagePlan, LaunchPlan};
pub use load_flavor::StepLoadFlavor;
pub use load_zones::StepLoadZones;
pub use source_image::StepSourceImageInfo;
