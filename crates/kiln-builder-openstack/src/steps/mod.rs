//! The openstack builder's own steps, in Packer's order: load the flavor,
//! find the source image, discover the network, create the root volume,
//! the launch and image plans of kiln-cloud's generic steps, wait for
//! RackConnect, allocate the floating IP, detach the volume, and update
//! the image (tags, visibility, members, min disk). One step per file;
//! each says what it stores and what its cleanup undoes.

mod allocate_ip;
mod create_volume;
mod detach_volume;
mod discover_network;
mod launch;
mod load_flavor;
mod rackconnect;
mod skip_image;
mod source_image;
mod update_image;
mod volume;

pub use allocate_ip::StepAllocateIp;
pub use create_volume::StepCreateVolume;
pub use detach_volume::StepDetachVolume;
pub use discover_network::StepDiscoverNetwork;
pub use launch::{ImagePlan, LaunchPlan};
pub use load_flavor::StepLoadFlavor;
pub use rackconnect::StepWaitForRackConnect;
pub use skip_image::StepSkipCreateImage;
pub use source_image::StepSourceImageInfo;
pub use update_image::{ImageUpdate, StepUpdateImage};
