//! kiln-provisioners: the built-in provisioners. Local ones need no
//! communicator: `sleep`, `breakpoint`, and `shell-local` (from
//! `kiln-shell-local`); `shell` and `file` work on the machine through the
//! build's communicator. [`factories`] hands them to the registry. Each
//! module documents what it cleans up.

mod breakpoint;
mod file;
mod shell;
mod sleep;

pub use breakpoint::BreakpointProvisionerFactory;
pub use file::FileProvisionerFactory;
pub use kiln_shell_local::ShellLocalProvisionerFactory;
pub use shell::ShellProvisionerFactory;
pub use sleep::SleepProvisionerFactory;

/// Every provisioner of this crate.
pub fn factories() -> Vec<Box<dyn kiln_sdk::ProvisionerFactory>> {
    vec![
        Box::new(SleepProvisionerFactory),
        Box::new(BreakpointProvisionerFactory),
        Box::new(ShellLocalProvisionerFactory),
        Box::new(ShellProvisionerFactory),
        Box::new(FileProvisionerFactory),
    ]
}

#[cfg(test)]
mod tests {
    #[test]
    fn factories_cover_the_local_provisioners() {
        let names: Vec<_> = super::factories().iter().map(|f| f.name()).collect();
        assert_eq!(
            names,
            ["sleep", "breakpoint", "shell-local", "shell", "file"]
        );
    }
}
