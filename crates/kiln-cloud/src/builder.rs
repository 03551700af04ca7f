//! The wiring every cloud builder repeats around its steps, written once:
//! its factory and prepared builder ([`cloud_builder!`](crate::cloud_builder)),
//! what its `BuilderFactory::prepare` returns ([`prepared`]: the builder
//! and the generated data it provides), what the prepared builder keeps
//! for its runs ([`Setup`]), the temporary resources' names
//! ([`temporary_name`]), the poller of its waits ([`poller`]) and the
//! generated data its artifact keeps ([`artifact_data`]). Holds nothing
//! and creates nothing, so there is nothing to clean up.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use kiln_sdk::ui::Redactor;
use kiln_sdk::{Builder, PrepareContext, Prepared};

use crate::Poller;

/// The paths [`cloud_builder!`](crate::cloud_builder) expands to.
#[doc(hidden)]
pub mod __private {
    pub use kiln_sdk::checkpoint::CheckpointCleaner;
    pub use kiln_sdk::config::{ConfigErrors, RawConfig};
    pub use kiln_sdk::{Builder, BuilderFactory, PrepareContext, Prepared};
}

/// Declares a cloud builder's factory (`factory`, registered under `name`)
/// and its prepared builder (`builder`, a [`Setup`] of its config type,
/// with `config()`): the factory's `prepare` evaluates `prepare` (with
/// the template's raw config and the prepare context bound to the names
/// given; `?` returns its errors) and provides the generated data
/// `generated` names before the SSH communicator's ([`prepared`]). The
/// optional `checkpoint_cleaner` clause gives the factory's
/// `BuilderFactory::checkpoint_cleaner` (the value is wrapped in an `Arc`).
///
/// ```ignore
/// kiln_cloud::cloud_builder! {
///     /// Registers the `alicloud-ecs` builder type.
///     factory AlicloudEcsBuilderFactory;
///     /// A prepared alicloud-ecs builder.
///     builder AlicloudEcsBuilder(Config);
///     name "alicloud-ecs";
///     generated &[];
///     prepare |raw, cx| config::prepare(raw, cx)?
/// }
/// ```
#[macro_export]
macro_rules! cloud_builder {
    (
        $(#[$fmeta:meta])*
        factory $factory:ident;
        $(#[$bmeta:meta])*
        builder $builder:ident($config:ty);
        name $name:literal;
        generated $generated:expr;
        $(checkpoint_cleaner $cleaner:expr;)?
        prepare |$raw:ident, $cx:ident| $prepare:expr
    ) => {
        $(#[$fmeta])*
        pub struct $factory;

        impl $crate::builder::__private::BuilderFactory for $factory {
            fn name(&self) -> &'static str {
                $name
            }

            fn prepare(
                &self,
                $raw: &$crate::builder::__private::RawConfig,
                $cx: &$crate::builder::__private::PrepareContext,
            ) -> ::std::result::Result<
                $crate::builder::__private::Prepared<
                    ::std::boxed::Box<dyn $crate::builder::__private::Builder>,
                >,
                $crate::builder::__private::ConfigErrors,
            > {
                let config: $config = $prepare;
                ::std::result::Result::Ok($crate::builder::prepared(
                    $builder($crate::builder::Setup::new(config, $cx)),
                    $generated,
                ))
            }

            $(
                fn checkpoint_cleaner(
                    &self,
                ) -> ::std::option::Option<
                    ::std::sync::Arc<dyn $crate::builder::__private::CheckpointCleaner>,
                > {
                    ::std::option::Option::Some(::std::sync::Arc::new($cleaner))
                }
            )?
        }

        $(#[$bmeta])*
        pub struct $builder($crate::builder::Setup<$config>);

        impl $builder {
            /// The validated config.
            pub fn config(&self) -> &$config {
                &self.0.config
            }
        }
    };
}

/// The generated data an artifact keeps (and so the manifest): the run's,
/// without its secrets (the SSH private key, the password).
pub fn artifact_data(generated: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut data = generated.clone();
    data.remove(kiln_sdk::generated::SSH_PRIVATE_KEY);
    data.remove(kiln_sdk::generated::PASSWORD);
    data
}

/// `builder`, prepared: it provides the generated data `extra` names (a
/// cloud's own, as amazon-ebs's `SourceAMI`) and then the SSH
/// communicator's (`SSHPublicKey`, `SSHPrivateKey`, …).
pub fn prepared(builder: impl Builder + 'static, extra: &[&str]) -> Prepared<Box<dyn Builder>> {
    let mut p = Prepared::new(Box::new(builder) as Box<dyn Builder>);
    p.generated = extra
        .iter()
        .chain(kiln_ssh::GENERATED_DATA_KEYS)
        .map(|k| k.to_string())
        .collect();
    p
}

/// What a prepared cloud builder keeps for its runs: its validated
/// config, the redactor the run's secrets (generated keys, passwords) are
/// registered with, and the build's name.
pub struct Setup<C> {
    /// The validated config.
    pub config: Arc<C>,
    /// Where the run's secrets go, so that no output shows them.
    pub redactor: Redactor,
    /// The build's name, for `-debug`'s key file and the run tags.
    pub build_name: String,
}

impl<C> Setup<C> {
    /// `config`, with what the builder keeps of `cx`.
    pub fn new(config: C, cx: &PrepareContext) -> Self {
        Setup {
            config: Arc::new(config),
            redactor: cx.redactor.clone(),
            build_name: cx.build_name.clone(),
        }
    }

    /// The run tags (`kiln:run`, `kiln:build`) that what the run
    /// `run_uuid` makes carries, so that `kiln cleanup` finds it.
    pub fn run_tags(&self, run_uuid: &str) -> Vec<(String, String)> {
        kiln_sdk::run_tags::RunTags::new(run_uuid, &self.build_name).tags()
    }

    /// With `-debug` (`debug`), the file in the working directory the
    /// temporary private key is written to, as Packer names it:
    /// `<prefix>_<build name>.pem` (`ec2_`, `ecs_`, `cvm_`).
    pub fn debug_key(&self, debug: bool, prefix: &str) -> Option<PathBuf> {
        debug.then(|| PathBuf::from(format!("{prefix}_{}.pem", self.build_name)))
    }
}

/// A temporary resource's name: `packer_` and a random UUID
/// (`packer_1b4e28ba-2fa1-11d2-883f-0016d3cca427`), as Packer names them.
pub fn temporary_name() -> String {
    format!("packer_{}", uuid::Uuid::new_v4())
}

/// The poller of a build's waits, at most `timeout` each. Waits track
/// their own length ([`Poller::tracking`]): a VPC that takes a second is
/// checked every 0.2 s, an image copy that takes ten minutes every 10 s,
/// and neither is noticed late by more than about a sixteenth of its wait.
pub fn poller(timeout: Duration) -> Poller {
    Poller::tracking(timeout, Duration::from_millis(200), Duration::from_secs(10))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_sdk::component::{BuildContext, BuildError};
    use kiln_sdk::Artifact;
    use std::sync::Arc;

    struct Nothing;

    #[async_trait::async_trait]
    impl Builder for Nothing {
        async fn run(&self, _: BuildContext<'_>) -> Result<Option<Arc<dyn Artifact>>, BuildError> {
            Ok(None)
        }
    }

    #[test]
    fn a_prepared_builder_provides_its_own_data_then_the_ssh_keys() {
        let p = prepared(Nothing, &["SourceAMI"]);
        assert_eq!(p.generated[0], "SourceAMI");
        assert_eq!(&p.generated[1..], kiln_ssh::GENERATED_DATA_KEYS);
        assert!(p.warnings.is_empty());
        assert_eq!(
            prepared(Nothing, &[]).generated,
            kiln_ssh::GENERATED_DATA_KEYS
        );
    }

    #[test]
    fn a_setup_keeps_the_config_and_names_the_debug_key_after_the_build() {
        let mut cx = kiln_test::prepare_cx("alicloud-ecs");
        cx.build_name = "web".into();
        let s = Setup::new(7, &cx);
        assert_eq!(*s.config, 7);
        assert_eq!(s.debug_key(true, "ecs"), Some(PathBuf::from("ecs_web.pem")));
        assert_eq!(s.debug_key(false, "ecs"), None);
        let tags = s.run_tags("r-1");
        assert!(tags.iter().any(|(_, v)| v == "r-1"), "{tags:?}");
        assert!(tags.iter().any(|(_, v)| v == "web"), "{tags:?}");
    }

    #[test]
    fn an_artifact_keeps_the_generated_data_but_not_its_secrets() {
        let generated = BTreeMap::from(
            [
                (kiln_sdk::generated::SSH_PRIVATE_KEY, "-----BEGIN"),
                (kiln_sdk::generated::PASSWORD, "hunter2"),
                ("SourceImageName", "debian-12"),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        let kept = artifact_data(&generated);
        assert_eq!(kept.keys().collect::<Vec<_>>(), ["SourceImageName"]);
    }

    #[test]
    fn temporary_names_are_packers_and_differ() {
        let n = temporary_name();
        assert!(n.starts_with("packer_"), "{n}");
        assert_eq!(n.len(), "packer_".len() + 36, "{n}");
        assert_ne!(n, temporary_name());
    }
}
