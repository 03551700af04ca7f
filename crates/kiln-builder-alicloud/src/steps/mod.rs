//! The alicloud-ecs steps that are Alibaba's own (the others are
//! kiln-cloud's generic ones over [`crate::cloud`]), in Packer 1.6.6's
//! order and words: check the region and image name
//! ([`StepPreValidate`]), find the source image ([`StepCheckSourceImage`]),
//! create the instance and wait until it is stopped
//! ([`StepCreateInstance`]; its cleanup deletes it), give it an address
//! ([`StepConfigAddress`]: an EIP, a public IP or the private one; its
//! cleanup releases the EIP), attach the key pair ([`StepAttachKeyPair`];
//! its cleanup detaches it), start it ([`StepStartInstance`]), and with
//! `image_force_delete` delete the images of the same name
//! ([`StepDeleteImages`]), with `image_ignore_data_disks` snapshot the
//! system disk ([`StepCreateSnapshot`]; its cleanup deletes the snapshot
//! on failure), and with `vswitch_id` alone find the vSwitch's VPC
//! ([`StepVSwitchVpc`]); plus the image and tag plans of the generic
//! image steps. Each records what it made before the call that may fail
//! after making it.

mod address;
mod attach_key_pair;
mod create_instance;
mod delete_images;
mod image;
mod pre_validate;
mod snapshot;
mod start_instance;
mod vswitch_vpc;

pub use address::{AddressPlan, StepConfigAddress};
pub use attach_key_pair::StepAttachKeyPair;
#[cfg(test)]
pub(crate) use create_instance::instance_tags;
pub use create_instance::StepCreateInstance;
pub use delete_images::StepDeleteImages;
pub use image::{CreateImagePlan, ImageTagPlan};
pub use pre_validate::{StepCheckSourceImage, StepPreValidate};
pub use snapshot::StepCreateSnapshot;
pub use start_instance::StepStartInstance;
pub use vswitch_vpc::StepVSwitchVpc;
