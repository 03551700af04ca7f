//! The `ansible-local` provisioner (Packer 1.6.6's
//! `provisioner/ansible-local`): uploads playbooks, roles, variables and
//! an inventory to a staging directory on the machine being built, through
//! the build's communicator, and runs `ansible-playbook -c local` there.
//! Ansible must already be installed on the machine.
//!
//! [`config`] decodes and checks the keys (pure, every error at once);
//! [`provisioner`] runs it and documents what its cleanup removes (the
//! staging directory, with `clean_staging_directory`); [`paths`] lays the
//! staging directory out with Go's path rules, as Packer does.

pub mod config;
mod paths;
pub mod provisioner;

use kiln_sdk::{
    ConfigErrors, PrepareContext, Prepared, Provisioner, ProvisionerFactory, RawConfig,
};

/// Declares the `ansible-local` provisioner.
pub struct AnsibleLocalProvisionerFactory;

impl ProvisionerFactory for AnsibleLocalProvisionerFactory {
    fn name(&self) -> &'static str {
        "ansible-local"
    }

    fn prepare(
        &self,
        raw: &RawConfig,
        cx: &PrepareContext,
    ) -> Result<Prepared<Box<dyn Provisioner>>, ConfigErrors> {
        let config = config::prepare(raw, cx)?;
        Ok(Prepared::new(Box::new(provisioner::AnsibleLocal {
            config,
        })))
    }
}
