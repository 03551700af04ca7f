//! kiln-provisioners-cm: the configuration-management provisioners of
//! Packer 1.6.6, `puppet-masterless`, `puppet-server`, `chef-solo` and
//! `chef-client`. Each stages files in a directory on the guest and runs
//! the tool there through the build's communicator, with Packer's keys,
//! defaults, generated files, commands and messages; [`factories`] hands
//! them to the registry. What they share: the `guest_os_type` command
//! table ([`guest_commands`]), decoding and cancellation
//! (`provisioner`), the staging helpers, the windows elevated
//! runner, and the Puppet and Chef halves each pair has in common. Each
//! provisioner's module says what it leaves on the guest and what it
//! removes.

mod chef;
mod chef_client;
mod chef_json;
mod chef_solo;
mod elevated;
pub mod guest_commands;
mod provisioner;
mod puppet;
mod puppet_masterless;
mod puppet_server;
mod staging;
#[cfg(test)]
mod testing;

pub use chef_client::ChefClientProvisionerFactory;
pub use chef_solo::ChefSoloProvisionerFactory;
pub use puppet_masterless::PuppetMasterlessProvisionerFactory;
pub use puppet_server::PuppetServerProvisionerFactory;

/// Every provisioner of this crate.
pub fn factories() -> Vec<Box<dyn kiln_sdk::ProvisionerFactory>> {
    vec![
        Box::new(PuppetMasterlessProvisionerFactory),
        Box::new(PuppetServerProvisionerFactory),
        Box::new(ChefSoloProvisionerFactory),
        Box::new(ChefClientProvisionerFactory),
    ]
}

#[cfg(test)]
mod tests {
    #[test]
    fn factories_are_the_four_packer_names() {
        let names: Vec<_> = super::factories().iter().map(|f| f.name()).collect();
        assert_eq!(
            names,
            [
                "puppet-masterless",
                "puppet-server",
                "chef-solo",
                "chef-client"
            ]
        );
    }
}
