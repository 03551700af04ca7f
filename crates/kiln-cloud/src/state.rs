//! The step states every cloud builder's state implements, wired once. A
//! builder's state keeps what its steps made in fields named alike across
//! clouds (`key_pair_name`, `instance_id`, `images`, `run_tags`, …); these
//! macros implement the toolkit's state traits over those fields, naming
//! only what differs: the client's field and type, and the fields of the
//! network, subnet and security groups.
//!
//! - [`impl_key_pair_state!`](crate::impl_key_pair_state): `key_pair_name:
//!   Option<String>`, `run_tags`;
//! - [`impl_network_state!`](crate::impl_network_state): the network and
//!   subnet fields (`Option<String>`), `run_tags`;
//! - [`impl_security_group_state!`](crate::impl_security_group_state): the
//!   network field and one group (`group: Option<String>`) or several
//!   (`groups: Vec<String>`), `run_tags`;
//! - [`impl_instance_state!`](crate::impl_instance_state): the instance
//!   field (`Option<String>`, `instance_id` unless named);
//! - [`impl_image_state!`](crate::impl_image_state): `images` (region →
//!   id), with the builder's own `build_region`, `image_api` and
//!   `run_tags`.
//!
//! Holds nothing and creates nothing: the steps' cleanup undoes what they
//! made.

/// The paths the macros expand to.
#[doc(hidden)]
pub mod __private {
    pub use crate::steps::image::ImageState;
    pub use crate::steps::instance::{InstanceApi, InstanceState, Launched};
    pub use crate::steps::key_pair::KeyPairState;
    pub use crate::steps::network::{NetworkState, SecurityGroupState};
}

/// Implements `KeyPairState` on a state with `key_pair_name:
/// Option<String>` and `run_tags`, whose client is field `ecs` of type
/// `Ecs`: `kiln_cloud::impl_key_pair_state!(AlicloudState, ecs: Ecs);`.
#[macro_export]
macro_rules! impl_key_pair_state {
    ($state:ty, $api:ident: $api_ty:ty) => {
        impl $crate::state::__private::KeyPairState for $state {
            type Api = $api_ty;
            fn key_pair_api(&self) -> &$api_ty {
                &self.$api
            }
            fn run_tags(&self) -> &[(::std::string::String, ::std::string::String)] {
                &self.run_tags
            }
            fn set_key_pair_name(&mut self, name: ::std::string::String) {
                self.key_pair_name = ::std::option::Option::Some(name);
            }
        }
    };
}

/// Implements `NetworkState` on a state with `run_tags` and the network
/// and subnet fields named (both `Option<String>`):
/// `kiln_cloud::impl_network_state!(AlicloudState, ecs: Ecs, network:
/// vpc_id, subnet: vswitch_id);`.
#[macro_export]
macro_rules! impl_network_state {
    ($state:ty, $api:ident: $api_ty:ty, network: $network:ident, subnet: $subnet:ident) => {
        impl $crate::state::__private::NetworkState for $state {
            type Api = $api_ty;
            fn network_api(&self) -> &$api_ty {
                &self.$api
            }
            fn run_tags(&self) -> &[(::std::string::String, ::std::string::String)] {
                &self.run_tags
            }
            fn set_network(&mut self, id: ::std::string::String) {
                self.$network = ::std::option::Option::Some(id);
            }
            fn set_subnet(&mut self, id: ::std::string::String) {
                self.$subnet = ::std::option::Option::Some(id);
            }
        }
    };
}

/// Implements `SecurityGroupState` on a state with `run_tags`, the
/// network field (`Option<String>`) and one group (`group: NAME`, an
/// `Option<String>`: the first of the ids) or several (`groups: NAME`, a
/// `Vec<String>`): `kiln_cloud::impl_security_group_state!(AlicloudState,
/// ecs: Ecs, network: vpc_id, group: security_group_id);`.
#[macro_export]
macro_rules! impl_security_group_state {
    ($state:ty, $api:ident: $api_ty:ty, network: $network:ident, group: $group:ident) => {
        $crate::impl_security_group_state!(@impl $state, $api: $api_ty, $network,
            |state, ids| state.$group = ids.into_iter().next());
    };
    ($state:ty, $api:ident: $api_ty:ty, network: $network:ident, groups: $groups:ident) => {
        $crate::impl_security_group_state!(@impl $state, $api: $api_ty, $network,
            |state, ids| state.$groups = ids);
    };
    (@impl $state:ty, $api:ident: $api_ty:ty, $network:ident, $set:expr) => {
        impl $crate::state::__private::SecurityGroupState for $state {
            type Api = $api_ty;
            fn security_group_api(&self) -> &$api_ty {
                &self.$api
            }
            fn run_tags(&self) -> &[(::std::string::String, ::std::string::String)] {
                &self.run_tags
            }
            fn network_id(&self) -> ::std::option::Option<::std::string::String> {
                self.$network.clone()
            }
            fn set_security_group_ids(&mut self, ids: ::std::vec::Vec<::std::string::String>) {
                let set: fn(&mut $state, ::std::vec::Vec<::std::string::String>) = $set;
                set(self, ids);
            }
        }
    };
}

/// Implements `InstanceState` on a state whose instance is field
/// `instance_id` (or the one named: `instance: server_id`), an
/// `Option<String>`, and whose client (field `ecs` of type `Ecs`) is cheap
/// to clone: `kiln_cloud::impl_instance_state!(AlicloudState, ecs: Ecs);`.
#[macro_export]
macro_rules! impl_instance_state {
    ($state:ty, $api:ident: $api_ty:ty) => {
        $crate::impl_instance_state!($state, $api: $api_ty, instance: instance_id);
    };
    ($state:ty, $api:ident: $api_ty:ty, instance: $instance:ident) => {
        impl $crate::state::__private::InstanceState for $state {
            type Api = $api_ty;
            fn instance_api(&self) -> $api_ty {
                self.$api.clone()
            }
            fn record_instance(
                &mut self,
                launched: $crate::state::__private::Launched<
                    <$api_ty as $crate::state::__private::InstanceApi>::Instance,
                >,
            ) {
                self.$instance = ::std::option::Option::Some(launched.id);
            }
            fn instance_id(&self) -> ::std::option::Option<::std::string::String> {
                self.$instance.clone()
            }
        }
    };
}

/// Implements `ImageState` on a state whose images are field `images` (a
/// `BTreeMap` of region to id) and whose images own their snapshots, or
/// whose images and snapshots are the fields named (`images: amis,
/// snapshots: snapshots`, the snapshots a `BTreeMap` of region to ids);
/// the builder's own `build_region`, `image_api` and `run_tags` go in the
/// braces:
///
/// ```ignore
/// kiln_cloud::impl_image_state!(TencentState, Cvm, {
///     fn build_region(&self) -> String { self.cvm.region().to_string() }
///     fn image_api(&self, region: &str) -> Cvm { self.cvm.for_region(region) }
///     fn run_tags(&self) -> &[(String, String)] { &self.run_tags }
/// });
/// ```
#[macro_export]
macro_rules! impl_image_state {
    ($state:ty, $api_ty:ty, { $($own:tt)* }) => {
        $crate::impl_image_state!(@impl $state, $api_ty, images, [], { $($own)* });
    };
    ($state:ty, $api_ty:ty, images: $images:ident, snapshots: $snapshots:ident, { $($own:tt)* }) => {
        $crate::impl_image_state!(@impl $state, $api_ty, $images, [$snapshots], { $($own)* });
    };
    (@impl $state:ty, $api_ty:ty, $images:ident, [$($snapshots:ident)?], { $($own:tt)* }) => {
        impl $crate::state::__private::ImageState for $state {
            type Api = $api_ty;
            $($own)*
            fn images(
                &self,
            ) -> ::std::collections::BTreeMap<::std::string::String, ::std::string::String> {
                self.$images.clone()
            }
            fn record_image(&mut self, region: &str, id: &str) {
                self.$images.insert(region.to_string(), id.to_string());
            }
            $(
                fn snapshots(&self, region: &str) -> ::std::vec::Vec<::std::string::String> {
                    self.$snapshots.get(region).cloned().unwrap_or_default()
                }
                fn record_snapshots(
                    &mut self,
                    region: &str,
                    snapshots: ::std::vec::Vec<::std::string::String>,
                ) {
                    self.$snapshots.insert(region.to_string(), snapshots);
                }
            )?
            fn forget_image(&mut self, region: &str) {
                self.$images.remove(region);
                $(self.$snapshots.remove(region);)?
            }
        }
    };
}
