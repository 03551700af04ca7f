//! The tencentcloud-cvm steps that are Tencent's own (the rest are
//! kiln-cloud's generic steps over [`crate::cloud`]): one step (or plan)
//! per file, in Packer 1.6.6's order.

mod check_source_image;
mod create_image;
mod detach_key_pair;
mod key_pair_id;
mod pre_validate;
mod run_instance;

pub use check_source_image::{name_pattern, StepCheckSourceImage};
pub use create_image::CreateImagePlan;
pub use detach_key_pair::StepDetachTempKeyPair;
pub use key_pair_id::StepKeyPairId;
pub use pre_validate::StepPreValidate;
pub use run_instance::RunPlan;
