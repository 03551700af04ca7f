//! Steps that every builder shares, generic over small accessor traits so a
//! missing piece of state is a compile error, not a runtime panic.

mod step_provision;

pub use step_provision::{HasCommunicator, StepProvision};
