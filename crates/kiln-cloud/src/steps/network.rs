//! The temporary network family: where the instance is launched.
//!
//! - [`StepNetwork`] (Packer's alicloud `stepConfigAlicloudVPC` and
//!   `stepConfigAlicloudVSwitch`, tencentcloud's `stepConfigVPC` and
//!   `stepConfigSubnet`): uses the network and subnet the user names
//!   (checking they exist), else creates a temporary network and/or
//!   subnet and waits until they are available ([`NetworkPlan`]). It
//!   records what it uses in the builder's state ([`NetworkState`]) and,
//!   before each create call that may fail after creating, the name of what
//!   it creates; its cleanup deletes the temporary subnet, then the
//!   temporary network (found by name when the create's reply was lost),
//!   retrying while the cloud still sees them in use.
//! - [`StepSecurityGroup`] (Packer's amazon `StepSecurityGroup`, alicloud's
//!   `stepConfigAlicloudSecurityGroup`, …): uses the security groups the
//!   user names (checking they exist) or that the cloud's filter matches,
//!   else creates a temporary security group in the build's network that
//!   lets the communicator port in from the configured CIDRs
//!   ([`SecurityGroupPlan`]). It records the group ids in the builder's
//!   state ([`SecurityGroupState`]); its cleanup deletes the temporary
//!   group (found by name when the create's reply was lost), retrying while
//!   the cloud still sees the terminated instance in it.
//!
//! amazon-ebs uses [`StepSecurityGroup`] only (EC2 builds go into an
//! existing VPC: its `StepNetworkInfo` finds it); the clouds that make a
//! throwaway network when none is given use both.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};

use super::{wait_error, Line};
use crate::{ApiError, Attempt, CheckError, Poller, Status};

/// How often a temporary resource's deletion is tried in cleanup: the
/// cloud may still see the terminated instance in it for a while.
const DELETE_ATTEMPTS: u64 = 8;

/// The sleep after failed deletion attempt `n` (0 for the first).
fn delete_backoff(n: u64) -> Duration {
    Duration::from_millis(500 * (n + 1))
}

/// Deletes with `delete`, [`DELETE_ATTEMPTS`] times at most; the last
/// error when none succeeded. Cleanup runs under its own timeout, so the
/// sleeps are not cancellable.
async fn delete_with_retries<F, Fut>(mut delete: F) -> Result<(), ApiError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), ApiError>>,
{
    let mut n = 0;
    loop {
        match delete().await {
            Ok(()) => return Ok(()),
            Err(e) if n + 1 >= DELETE_ATTEMPTS => return Err(e),
            Err(_) => {
                tokio::time::sleep(delete_backoff(n)).await;
                n += 1;
            }
        }
    }
}

/// What a step made, as cleanup needs it: the name is recorded before the
/// create call, the id once it answers.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Created {
    name: String,
    id: Option<String>,
}

// ---------------------------------------------------------------------------
// Network and subnet

/// A temporary network to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemporaryNetwork {
    /// Its name (`packer_<uuid>`), also how cleanup finds it when the
    /// create's reply was lost.
    pub name: String,
    /// Its address block (`cidr_block`).
    pub cidr: String,
}

/// A temporary subnet to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemporarySubnet {
    /// Its name (`packer_<uuid>`).
    pub name: String,
    /// Its address block, inside the network's.
    pub cidr: String,
    /// The zone it is made in; `None` lets the cloud's API choose one
    /// (alicloud picks a zone offering the instance type).
    pub zone: Option<String>,
}

/// Where the instance goes, decided from the config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetworkPlan {
    /// The network and subnet the user names.
    Given {
        /// The network (`vpc_id`).
        network: String,
        /// The subnet (`vswitch_id`, `subnet_id`).
        subnet: String,
    },
    /// The user's network, with a temporary subnet in it.
    TemporarySubnet {
        /// The network (`vpc_id`).
        network: String,
        /// The subnet to create.
        subnet: TemporarySubnet,
    },
    /// A temporary network with a temporary subnet.
    Temporary {
        /// The network to create.
        network: TemporaryNetwork,
        /// The subnet to create in it.
        subnet: TemporarySubnet,
    },
}

/// A network or a subnet, for the calls both share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetworkResource {
    /// The network (a VPC).
    Network,
    /// A subnet of a network (a vswitch).
    Subnet,
}

impl NetworkResource {
    /// The resource's generic name, for messages.
    pub fn noun(self) -> &'static str {
        match self {
            NetworkResource::Network => "network",
            NetworkResource::Subnet => "subnet",
        }
    }
}

/// What the network step shows a line for; the cloud words it
/// ([`NetworkApi::line`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetworkEvent<'a> {
    /// The user's network or subnet (its id) is used.
    Using(NetworkResource, &'a str),
    /// A temporary one (its name) is being created.
    Creating(NetworkResource, &'a str),
    /// It was created and is available (its id).
    Created(NetworkResource, &'a str),
    /// The temporary one is being deleted (its id); `failed` when the
    /// build failed or was cancelled.
    Deleting {
        /// Which.
        resource: NetworkResource,
        /// Its id.
        id: &'a str,
        /// Whether the build failed or was cancelled.
        failed: bool,
    },
}

/// The generic wording (each cloud's plugin words these its own way).
pub fn network_line(event: &NetworkEvent<'_>) -> Option<Line> {
    Some(match event {
        NetworkEvent::Using(..) => return None,
        NetworkEvent::Creating(r, _) => Line::Say(format!("Creating {}...", r.noun())),
        NetworkEvent::Created(r, id) => Line::Message(format!("Created {}: {id}", r.noun())),
        NetworkEvent::Deleting { resource, .. } => {
            Line::Say(format!("Deleting temporary {}...", resource.noun()))
        }
    })
}

/// The cloud calls of the network step, implemented by the builder on its
/// client: retried, and idempotent on a retry after a lost reply (a client
/// token, or adopting what an earlier attempt made).
#[async_trait]
pub trait NetworkApi: Send + Sync {
    /// Whether the network or subnet `id` exists (a subnet in `network`).
    async fn exists(
        &self,
        resource: NetworkResource,
        id: &str,
        network: Option<&str>,
    ) -> Result<bool, ApiError>;

    /// Creates the network `spec`, tagged with `tags`; its id.
    async fn create_network(
        &self,
        spec: &TemporaryNetwork,
        tags: &[(String, String)],
    ) -> Result<String, ApiError>;

    /// Creates the subnet `spec` in `network`, tagged with `tags`; its id.
    async fn create_subnet(
        &self,
        network: &str,
        spec: &TemporarySubnet,
        tags: &[(String, String)],
    ) -> Result<String, ApiError>;

    /// The id of the network or subnet named `name` (a subnet in
    /// `network`), for cleanup when a create's reply was lost.
    async fn find(
        &self,
        resource: NetworkResource,
        name: &str,
        network: Option<&str>,
    ) -> Result<Option<String>, ApiError>;

    /// Whether the network or subnet `id` is available yet.
    async fn status(&self, resource: NetworkResource, id: &str) -> Result<Status<()>, CheckError>;

    /// Deletes the network or subnet `id`; one already gone is deleted.
    async fn delete(&self, resource: NetworkResource, id: &str) -> Result<(), ApiError>;

    /// The line shown for `event`, if any ([`network_line`] unless the
    /// cloud's plugin words it differently).
    fn line(&self, event: &NetworkEvent<'_>) -> Option<Line> {
        network_line(event)
    }
}

/// What the network step reads from and records in the builder's state.
pub trait NetworkState: Send {
    /// The cloud client.
    type Api: NetworkApi;
    /// The client of the build region.
    fn network_api(&self) -> &Self::Api;
    /// The run tags everything this build creates carries.
    fn run_tags(&self) -> &[(String, String)];
    /// Records the network the instance is launched in.
    fn set_network(&mut self, id: String);
    /// Records the subnet the instance is launched in.
    fn set_subnet(&mut self, id: String);
}

/// See the module docs.
pub struct StepNetwork {
    plan: NetworkPlan,
    /// How long a new network or subnet may take to become available.
    poller: Poller,
    /// The temporary network to delete.
    network: Option<Created>,
    /// The temporary subnet to delete.
    subnet: Option<Created>,
}

impl StepNetwork {
    /// A network step following `plan`, waiting with `poller`.
    pub fn new(plan: NetworkPlan, poller: Poller) -> Self {
        StepNetwork {
            plan,
            poller,
            network: None,
            subnet: None,
        }
    }
}

fn show_network<A: NetworkApi>(api: &A, cx: &StepContext<'_>, event: NetworkEvent<'_>) {
    if let Some(line) = api.line(&event) {
        line.show(cx.ui);
    }
}

/// Checks that the user's network or subnet `id` exists.
async fn check_given<A: NetworkApi>(
    api: &A,
    cx: &StepContext<'_>,
    resource: NetworkResource,
    id: &str,
    network: Option<&str>,
) -> Result<(), StepError> {
    let noun = resource.noun();
    let exists = api
        .exists(resource, id, network)
        .await
        .map_err(|e| StepError::msg(format!("couldn't find the specified {noun} `{id}`: {e}")))?;
    if !exists {
        return Err(StepError::msg(format!(
            "the specified {noun} `{id}` does not exist"
        )));
    }
    show_network(api, cx, NetworkEvent::Using(resource, id));
    Ok(())
}

/// Waits until the new network or subnet `id` is available.
async fn wait_available<A: NetworkApi>(
    api: &A,
    cx: &StepContext<'_>,
    poller: &Poller,
    resource: NetworkResource,
    id: &str,
) -> Result<(), StepError> {
    let what = format!("{} ({id}) to become available", resource.noun());
    poller
        .wait(&what, &cx.cancel, || api.status(resource, id))
        .await
        .map_err(wait_error)
}

impl StepNetwork {
    /// Creates the temporary network, recording its name first and its id
    /// as soon as the cloud answers.
    async fn create_network<S: NetworkState>(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut S,
        spec: &TemporaryNetwork,
    ) -> Result<String, StepError> {
        let api = state.network_api();
        let resource = NetworkResource::Network;
        // A retried run (`-on-error=ask`) keeps what the first one made.
        let id = match self.network.as_ref().and_then(|c| c.id.clone()) {
            Some(id) => id,
            None => {
                show_network(api, cx, NetworkEvent::Creating(resource, &spec.name));
                self.network = Some(Created {
                    name: spec.name.clone(),
                    id: None,
                });
                let id = api
                    .create_network(spec, state.run_tags())
                    .await
                    .map_err(|e| {
                        StepError::msg(format!("error creating temporary network: {e}"))
                    })?;
                self.network = Some(Created {
                    name: spec.name.clone(),
                    id: Some(id.clone()),
                });
                id
            }
        };
        wait_available(api, cx, &self.poller, resource, &id).await?;
        show_network(api, cx, NetworkEvent::Created(resource, &id));
        state.set_network(id.clone());
        Ok(id)
    }

    /// Creates the temporary subnet in `network`, recording its name first
    /// and its id as soon as the cloud answers.
    async fn create_subnet<S: NetworkState>(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut S,
        network: &str,
        spec: &TemporarySubnet,
    ) -> Result<(), StepError> {
        let api = state.network_api();
        let resource = NetworkResource::Subnet;
        let id = match self.subnet.as_ref().and_then(|c| c.id.clone()) {
            Some(id) => id,
            None => {
                show_network(api, cx, NetworkEvent::Creating(resource, &spec.name));
                self.subnet = Some(Created {
                    name: spec.name.clone(),
                    id: None,
                });
                let id = api
                    .create_subnet(network, spec, state.run_tags())
                    .await
                    .map_err(|e| StepError::msg(format!("error creating temporary subnet: {e}")))?;
                self.subnet = Some(Created {
                    name: spec.name.clone(),
                    id: Some(id.clone()),
                });
                id
            }
        };
        wait_available(api, cx, &self.poller, resource, &id).await?;
        show_network(api, cx, NetworkEvent::Created(resource, &id));
        state.set_subnet(id);
        Ok(())
    }
}

/// Deletes what `created` records (found by name when its id never came
/// back), reporting what could not be deleted.
async fn delete_created<A: NetworkApi>(
    api: &A,
    cx: &StepContext<'_>,
    resource: NetworkResource,
    created: Created,
    network: Option<&str>,
) {
    let noun = resource.noun();
    let id = match created.id {
        Some(id) => id,
        None => match api.find(resource, &created.name, network).await {
            Ok(Some(id)) => id,
            // The create never made it.
            Ok(None) => return,
            Err(e) => {
                cx.ui.error(&format!(
                    "Error cleaning up {noun}. Please delete the {noun} manually: {} ({e})",
                    created.name
                ));
                return;
            }
        },
    };
    show_network(
        api,
        cx,
        NetworkEvent::Deleting {
            resource,
            id: &id,
            failed: cx.failed,
        },
    );
    if let Err(e) = delete_with_retries(|| api.delete(resource, &id)).await {
        cx.ui.error(&format!(
            "Error cleaning up {noun}. Please delete the {noun} manually: {id} ({e})"
        ));
    }
}

#[async_trait]
impl<S: NetworkState> Step<S> for StepNetwork {
    fn name(&self) -> &'static str {
        "StepNetwork"
    }

    async fn run(&mut self, cx: &StepContext<'_>, state: &mut S) -> Result<StepAction, StepError> {
        let plan = self.plan.clone();
        match &plan {
            NetworkPlan::Given { network, subnet } => {
                let api = state.network_api();
                check_given(api, cx, NetworkResource::Network, network, None).await?;
                check_given(
                    api,
                    cx,
                    NetworkResource::Subnet,
                    subnet,
                    Some(network.as_str()),
                )
                .await?;
                state.set_network(network.clone());
                state.set_subnet(subnet.clone());
            }
            NetworkPlan::TemporarySubnet { network, subnet } => {
                let api = state.network_api();
                check_given(api, cx, NetworkResource::Network, network, None).await?;
                state.set_network(network.clone());
                self.create_subnet(cx, state, network, subnet).await?;
            }
            NetworkPlan::Temporary { network, subnet } => {
                let id = self.create_network(cx, state, network).await?;
                self.create_subnet(cx, state, &id, subnet).await?;
            }
        }
        Ok(StepAction::Continue)
    }

    async fn cleanup(&mut self, cx: &StepContext<'_>, state: &mut S) {
        let api = state.network_api();
        let network = match &self.plan {
            NetworkPlan::Given { network, .. } | NetworkPlan::TemporarySubnet { network, .. } => {
                Some(network.clone())
            }
            NetworkPlan::Temporary { .. } => self.network.as_ref().and_then(|c| c.id.clone()),
        };
        // The subnet first: a network with a subnet cannot be deleted.
        if let Some(subnet) = self.subnet.take() {
            delete_created(api, cx, NetworkResource::Subnet, subnet, network.as_deref()).await;
        }
        if let Some(created) = self.network.take() {
            delete_created(api, cx, NetworkResource::Network, created, None).await;
        }
    }
}

// ---------------------------------------------------------------------------
// Security group

/// The rule a temporary security group gets: the communicator's port, open
/// to these address blocks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngressRule {
    /// The communicator's port (0 without a communicator).
    pub port: u16,
    /// `temporary_security_group_source_cidrs` (`0.0.0.0/0` by default).
    pub cidrs: Vec<String>,
}

/// Which security groups the instance goes in, decided from the config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecurityGroupPlan {
    /// The groups the user names (`security_group_ids`).
    Given(Vec<String>),
    /// The groups the cloud's filter matches in the build's network
    /// (`security_group_filter`: filter names and values).
    Filter(BTreeMap<String, String>),
    /// A temporary group.
    Temporary {
        /// Its name (`packer_<uuid>`), also how cleanup finds it when the
        /// create's reply was lost.
        name: String,
        /// What it lets in.
        rule: IngressRule,
    },
}

/// The security group keys of the clouds whose builders take one group
/// (`security_group_id`, or a temporary group named `security_group_name`),
/// validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecurityGroup {
    /// `security_group_id`: an existing group, left alone.
    Existing(String),
    /// A temporary group, made and deleted by the build.
    Create {
        /// `security_group_name` (`packer_<uuid>` by default).
        name: Option<String>,
    },
}

impl SecurityGroup {
    /// From `security_group_id` and `security_group_name` (`None`: unset).
    pub fn from_keys(id: Option<String>, name: Option<String>) -> Self {
        match id {
            Some(id) => SecurityGroup::Existing(id),
            None => SecurityGroup::Create { name },
        }
    }

    /// The step's plan: the group given, or a temporary one that lets the
    /// communicator's `port` in from anywhere (Packer's builders open it to
    /// `0.0.0.0/0`).
    pub fn plan(&self, port: u16) -> SecurityGroupPlan {
        match self {
            SecurityGroup::Existing(id) => SecurityGroupPlan::Given(vec![id.clone()]),
            SecurityGroup::Create { name } => SecurityGroupPlan::Temporary {
                name: name.clone().unwrap_or_else(crate::builder::temporary_name),
                rule: IngressRule {
                    port,
                    cidrs: vec!["0.0.0.0/0".into()],
                },
            },
        }
    }
}

/// What the security group step shows a line for; the cloud words it
/// ([`SecurityGroupApi::line`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecurityGroupEvent<'a> {
    /// The filter matched these groups.
    Found(&'a [String]),
    /// The temporary group (its name) is being created.
    Creating(&'a str),
    /// It was created (its id).
    Created(&'a str),
    /// Its rule is being added.
    Authorizing(&'a IngressRule),
    /// The temporary group (its id) is being deleted.
    Deleting(&'a str),
}

/// Packer's amazon wording, which kiln uses for clouds whose plugin does
/// not word these itself.
pub fn security_group_line(event: &SecurityGroupEvent<'_>) -> Option<Line> {
    Some(match event {
        SecurityGroupEvent::Found(ids) => {
            Line::Message(format!("Found Security Group(s): {}", ids.join(", ")))
        }
        SecurityGroupEvent::Creating(name) => Line::Say(format!(
            "Creating temporary security group for this instance: {name}"
        )),
        SecurityGroupEvent::Created(_) => return None,
        SecurityGroupEvent::Authorizing(rule) => Line::Say(format!(
            "Authorizing access to port {} from [{}] in the temporary security groups...",
            rule.port,
            rule.cidrs.join(" ")
        )),
        SecurityGroupEvent::Deleting(_) => Line::Say("Deleting temporary security group...".into()),
    })
}

/// The cloud calls of the security group step, implemented by the builder
/// on its client: retried, and idempotent on a retry after a lost reply.
#[async_trait]
pub trait SecurityGroupApi: Send + Sync {
    /// Those of `ids` that exist (in `network`, when known); the call
    /// fails when the cloud rejects an id.
    async fn existing_security_groups(
        &self,
        ids: &[String],
        network: Option<&str>,
    ) -> Result<Vec<String>, ApiError>;

    /// The ids of the groups `filter` matches (in `network`, when known).
    async fn find_security_groups(
        &self,
        filter: &BTreeMap<String, String>,
        network: Option<&str>,
    ) -> Result<Vec<String>, ApiError>;

    /// The id of the group named `name` (in `network`), for adopting or
    /// cleaning up a group whose create reply was lost.
    async fn find_security_group(
        &self,
        name: &str,
        network: Option<&str>,
    ) -> Result<Option<String>, ApiError>;

    /// Creates the group `name` in `network`, tagged with `tags`; its id.
    /// A retry that finds the group made by a lost attempt adopts it.
    async fn create_security_group(
        &self,
        name: &str,
        network: Option<&str>,
        tags: &[(String, String)],
    ) -> Result<String, ApiError>;

    /// Adds `rule` to the group `id`. On a retry (`attempt`), the rule
    /// already there (added by an attempt whose reply was lost) is success.
    async fn authorize_ingress(
        &self,
        id: &str,
        rule: &IngressRule,
        attempt: Attempt,
    ) -> Result<(), ApiError>;

    /// Deletes the group `id`; one already gone is deleted. Fails while the
    /// cloud still sees an instance in it (the step retries).
    async fn delete_security_group(&self, id: &str) -> Result<(), ApiError>;

    /// The line shown for `event`, if any ([`security_group_line`] unless
    /// the cloud's plugin words it differently).
    fn line(&self, event: &SecurityGroupEvent<'_>) -> Option<Line> {
        security_group_line(event)
    }
}

/// What the security group step reads from and records in the builder's
/// state.
pub trait SecurityGroupState: Send {
    /// The cloud client.
    type Api: SecurityGroupApi;
    /// The client of the build region.
    fn security_group_api(&self) -> &Self::Api;
    /// The run tags everything this build creates carries.
    fn run_tags(&self) -> &[(String, String)];
    /// The network the groups belong to (a VPC), when known.
    fn network_id(&self) -> Option<String>;
    /// Records the groups the instance is launched in.
    fn set_security_group_ids(&mut self, ids: Vec<String>);
}

/// How often adding the temporary group's rule is tried: a new group may
/// not be visible to the next call at once.
const AUTHORIZE_ATTEMPTS: u32 = 5;

/// See the module docs.
pub struct StepSecurityGroup {
    plan: SecurityGroupPlan,
    /// The temporary group to delete.
    created: Option<Created>,
}

impl StepSecurityGroup {
    /// A security group step following `plan`.
    pub fn new(plan: SecurityGroupPlan) -> Self {
        StepSecurityGroup {
            plan,
            created: None,
        }
    }
}

fn show_group<A: SecurityGroupApi>(api: &A, cx: &StepContext<'_>, event: SecurityGroupEvent<'_>) {
    if let Some(line) = api.line(&event) {
        line.show(cx.ui);
    }
}

#[async_trait]
impl<S: SecurityGroupState> Step<S> for StepSecurityGroup {
    fn name(&self) -> &'static str {
        "StepSecurityGroup"
    }

    async fn run(&mut self, cx: &StepContext<'_>, state: &mut S) -> Result<StepAction, StepError> {
        let network = state.network_id();
        let api = state.security_group_api();
        let (name, rule) = match &self.plan {
            SecurityGroupPlan::Given(ids) => {
                let found = api
                    .existing_security_groups(ids, network.as_deref())
                    .await
                    .map_err(|e| {
                        StepError::msg(format!("couldn't find specified security group: {e}"))
                    })?;
                if let Some(missing) = ids.iter().find(|id| !found.contains(id)) {
                    return Err(StepError::msg(format!(
                        "couldn't find specified security group: `{missing}` does not exist"
                    )));
                }
                state.set_security_group_ids(ids.clone());
                return Ok(StepAction::Continue);
            }
            SecurityGroupPlan::Filter(filter) => {
                let ids = api
                    .find_security_groups(filter, network.as_deref())
                    .await
                    .map_err(|e| {
                        StepError::msg(format!("couldn't find security groups for filter: {e}"))
                    })?;
                if ids.is_empty() {
                    return Err(StepError::msg(
                        "no security group matches `security_group_filter`",
                    ));
                }
                show_group(api, cx, SecurityGroupEvent::Found(&ids));
                state.set_security_group_ids(ids);
                return Ok(StepAction::Continue);
            }
            SecurityGroupPlan::Temporary { name, rule } => (name, rule),
        };

        // A retried run (`-on-error=ask`) keeps the group the first made.
        let id = match self.created.as_ref().and_then(|c| c.id.clone()) {
            Some(id) => id,
            None => {
                show_group(api, cx, SecurityGroupEvent::Creating(name));
                // Recorded first: a create that fails after the cloud made
                // the group leaves it for cleanup to find by name.
                self.created = Some(Created {
                    name: name.clone(),
                    id: None,
                });
                let id = api
                    .create_security_group(name, network.as_deref(), state.run_tags())
                    .await
                    .map_err(|e| {
                        StepError::msg(format!("error creating temporary security group: {e}"))
                    })?;
                self.created = Some(Created {
                    name: name.clone(),
                    id: Some(id.clone()),
                });
                show_group(api, cx, SecurityGroupEvent::Created(&id));
                id
            }
        };
        state.set_security_group_ids(vec![id.clone()]);

        let api = state.security_group_api();
        show_group(api, cx, SecurityGroupEvent::Authorizing(rule));
        let mut n = 0;
        loop {
            match api.authorize_ingress(&id, rule, Attempt(n + 1)).await {
                Ok(()) => break,
                Err(e) if n + 1 >= AUTHORIZE_ATTEMPTS => {
                    return Err(StepError::msg(format!(
                        "error creating temporary security group: {e}"
                    )))
                }
                Err(_) => {
                    tokio::select! {
                        _ = cx.cancel.cancelled() => return Err(StepError::Cancelled),
                        _ = tokio::time::sleep(Duration::from_secs(u64::from(n) + 1)) => {}
                    }
                    n += 1;
                }
            }
        }
        Ok(StepAction::Continue)
    }

    async fn cleanup(&mut self, cx: &StepContext<'_>, state: &mut S) {
        let Some(created) = self.created.take() else {
            return;
        };
        let api = state.security_group_api();
        let id = match created.id {
            Some(id) => id,
            None => match api
                .find_security_group(&created.name, state.network_id().as_deref())
                .await
            {
                Ok(Some(id)) => id,
                // The create never made it.
                Ok(None) => return,
                Err(e) => {
                    cx.ui.error(&format!(
                        "Error cleaning up security group. Please delete the group manually: {} ({e})",
                        created.name
                    ));
                    return;
                }
            },
        };
        show_group(api, cx, SecurityGroupEvent::Deleting(&id));
        if let Err(e) = delete_with_retries(|| api.delete_security_group(&id)).await {
            cx.ui.error(&format!(
                "Error cleaning up security group. Please delete the group manually: {id} ({e})"
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use kiln_sdk::ui::RecordingUi;
    use tokio_util::sync::CancellationToken;

    use super::*;
    use crate::steps::testing::{context, service_error, FakeCalls, ALWAYS};

    /// One resource of the fake cloud.
    #[derive(Debug, Clone)]
    struct Resource {
        kind: &'static str,
        name: String,
        parent: Option<String>,
        tags: Vec<(String, String)>,
        rules: Vec<IngressRule>,
        /// Status checks left before it is available.
        pending: u32,
    }

    /// The fake cloud's contents, its call log and how it misbehaves: its
    /// fault points are `create {kind}` (nothing made), `created {kind}`
    /// (made, then the reply lost), `authorize` (as if the new group
    /// were not visible), `authorized` (the rule added, then the reply
    /// lost) and `delete` (in use).
    #[derive(Default)]
    struct Cloud {
        next: u32,
        resources: BTreeMap<String, Resource>,
        calls: FakeCalls,
        /// Status checks before a new resource is available.
        pending: u32,
    }

    #[derive(Default)]
    struct Fake(Mutex<Cloud>);

    // The fake answers with the traits' own error type.
    #[allow(clippy::result_large_err)]
    impl Fake {
        fn with(f: impl FnOnce(&mut Cloud)) -> Fake {
            let mut c = Cloud::default();
            f(&mut c);
            Fake(Mutex::new(c))
        }
        /// A fake whose fault `point` fails `times` times with `code`.
        fn failing(point: &str, times: u32, action: &str, code: &str) -> Fake {
            Fake::with(|c| c.calls.fail(point, times, service_error(action, code)))
        }
        fn cloud(&self) -> std::sync::MutexGuard<'_, Cloud> {
            self.0.lock().unwrap()
        }
        fn calls(&self) -> Vec<String> {
            self.cloud().calls.calls()
        }
        fn ids(&self, kind: &str) -> Vec<String> {
            let c = self.cloud();
            c.resources
                .iter()
                .filter(|(_, r)| r.kind == kind)
                .map(|(id, _)| id.clone())
                .collect()
        }
        /// Adds a resource as the user's own.
        fn add(&self, kind: &'static str, id: &str, parent: Option<&str>) {
            self.cloud().resources.insert(
                id.into(),
                Resource {
                    kind,
                    name: id.into(),
                    parent: parent.map(str::to_string),
                    tags: Vec::new(),
                    rules: Vec::new(),
                    pending: 0,
                },
            );
        }
        fn create(
            &self,
            kind: &'static str,
            name: &str,
            parent: Option<&str>,
            tags: &[(String, String)],
        ) -> Result<String, ApiError> {
            let mut c = self.cloud();
            c.calls.record(format!("create {kind} {name}"));
            c.calls.fault(&format!("create {kind}"))?;
            c.next += 1;
            let id = format!("{kind}-{}", c.next);
            let pending = c.pending;
            c.resources.insert(
                id.clone(),
                Resource {
                    kind,
                    name: name.into(),
                    parent: parent.map(str::to_string),
                    tags: tags.to_vec(),
                    rules: Vec::new(),
                    pending,
                },
            );
            c.calls.fault(&format!("created {kind}"))?;
            Ok(id)
        }
        fn find(&self, kind: &str, name: &str) -> Option<String> {
            let c = self.cloud();
            c.calls.record(format!("find {kind} {name}"));
            c.resources
                .iter()
                .find(|(_, r)| r.kind == kind && r.name == name)
                .map(|(id, _)| id.clone())
        }
        fn delete(&self, kind: &str, id: &str) -> Result<(), ApiError> {
            let mut c = self.cloud();
            c.calls.record(format!("delete {id}"));
            if c.resources
                .values()
                .any(|r| r.parent.as_deref() == Some(id))
            {
                return Err(service_error("Delete", "DependencyViolation"));
            }
            c.calls.fault("delete")?;
            assert!(c.resources.get(id).is_none_or(|r| r.kind == kind));
            c.resources.remove(id);
            Ok(())
        }
    }

    fn kind(r: NetworkResource) -> &'static str {
        match r {
            NetworkResource::Network => "vpc",
            NetworkResource::Subnet => "subnet",
        }
    }

    #[async_trait]
    impl NetworkApi for Fake {
        async fn exists(
            &self,
            resource: NetworkResource,
            id: &str,
            network: Option<&str>,
        ) -> Result<bool, ApiError> {
            let c = self.cloud();
            Ok(c.resources
                .get(id)
                .is_some_and(|r| r.kind == kind(resource) && r.parent.as_deref() == network))
        }
        async fn create_network(
            &self,
            spec: &TemporaryNetwork,
            tags: &[(String, String)],
        ) -> Result<String, ApiError> {
            self.create("vpc", &spec.name, None, tags)
        }
        async fn create_subnet(
            &self,
            network: &str,
            spec: &TemporarySubnet,
            tags: &[(String, String)],
        ) -> Result<String, ApiError> {
            self.create("subnet", &spec.name, Some(network), tags)
        }
        async fn find(
            &self,
            resource: NetworkResource,
            name: &str,
            _network: Option<&str>,
        ) -> Result<Option<String>, ApiError> {
            Ok(Fake::find(self, kind(resource), name))
        }
        async fn status(
            &self,
            _resource: NetworkResource,
            id: &str,
        ) -> Result<Status<()>, CheckError> {
            let mut c = self.cloud();
            c.calls.record(format!("status {id}"));
            let r = c
                .resources
                .get_mut(id)
                .expect("status of a missing resource");
            if r.pending == 0 {
                return Ok(Status::Ready(()));
            }
            r.pending -= 1;
            Ok(Status::Pending("Pending".into()))
        }
        async fn delete(&self, resource: NetworkResource, id: &str) -> Result<(), ApiError> {
            Fake::delete(self, kind(resource), id)
        }
    }

    #[async_trait]
    impl SecurityGroupApi for Fake {
        async fn existing_security_groups(
            &self,
            ids: &[String],
            _network: Option<&str>,
        ) -> Result<Vec<String>, ApiError> {
            let c = self.cloud();
            Ok(ids
                .iter()
                .filter(|id| c.resources.contains_key(*id))
                .cloned()
                .collect())
        }
        async fn find_security_groups(
            &self,
            filter: &BTreeMap<String, String>,
            network: Option<&str>,
        ) -> Result<Vec<String>, ApiError> {
            let c = self.cloud();
            Ok(c.resources
                .iter()
                .filter(|(_, r)| r.kind == "sg" && r.parent.as_deref() == network)
                .filter(|(_, r)| filter.get("group-name").is_none_or(|n| *n == r.name))
                .map(|(id, _)| id.clone())
                .collect())
        }
        async fn find_security_group(
            &self,
            name: &str,
            _network: Option<&str>,
        ) -> Result<Option<String>, ApiError> {
            Ok(self.find("sg", name))
        }
        async fn create_security_group(
            &self,
            name: &str,
            network: Option<&str>,
            tags: &[(String, String)],
        ) -> Result<String, ApiError> {
            self.create("sg", name, network, tags)
        }
        async fn authorize_ingress(
            &self,
            id: &str,
            rule: &IngressRule,
            attempt: Attempt,
        ) -> Result<(), ApiError> {
            let mut c = self.cloud();
            c.calls
                .record(format!("authorize {id} attempt {}", attempt.0));
            c.calls.fault("authorize")?;
            let lost = c.calls.fault("authorized");
            let group = c.resources.get_mut(id).expect("authorize a missing group");
            if group.rules.contains(rule) {
                return if attempt.is_retry() {
                    Ok(())
                } else {
                    Err(service_error("Authorize", "InvalidPermission.Duplicate"))
                };
            }
            group.rules.push(rule.clone());
            lost
        }
        async fn delete_security_group(&self, id: &str) -> Result<(), ApiError> {
            self.delete("sg", id)
        }
    }

    struct State {
        api: Fake,
        tags: Vec<(String, String)>,
        network: Option<String>,
        subnet: Option<String>,
        groups: Vec<String>,
    }

    fn state(api: Fake) -> State {
        State {
            api,
            tags: vec![("kiln:run".into(), "r1".into())],
            network: None,
            subnet: None,
            groups: Vec::new(),
        }
    }

    impl NetworkState for State {
        type Api = Fake;
        fn network_api(&self) -> &Fake {
            &self.api
        }
        fn run_tags(&self) -> &[(String, String)] {
            &self.tags
        }
        fn set_network(&mut self, id: String) {
            self.network = Some(id);
        }
        fn set_subnet(&mut self, id: String) {
            self.subnet = Some(id);
        }
    }

    impl SecurityGroupState for State {
        type Api = Fake;
        fn security_group_api(&self) -> &Fake {
            &self.api
        }
        fn run_tags(&self) -> &[(String, String)] {
            &self.tags
        }
        fn network_id(&self) -> Option<String> {
            self.network.clone()
        }
        fn set_security_group_ids(&mut self, ids: Vec<String>) {
            self.groups = ids;
        }
    }

    #[test]
    fn a_named_group_is_used_and_a_temporary_one_opens_the_port_to_all() {
        let given = SecurityGroup::from_keys(Some("sg-1".into()), Some("ignored".into()));
        assert_eq!(
            given.plan(22),
            SecurityGroupPlan::Given(vec!["sg-1".into()])
        );
        let named = SecurityGroup::from_keys(None, Some("kiln-sg".into()));
        let want = SecurityGroupPlan::Temporary {
            name: "kiln-sg".into(),
            rule: IngressRule {
                port: 2222,
                cidrs: vec!["0.0.0.0/0".into()],
            },
        };
        assert_eq!(named.plan(2222), want);
        match SecurityGroup::from_keys(None, None).plan(22) {
            SecurityGroupPlan::Temporary { name, .. } => {
                assert!(name.starts_with("packer_"), "{name}")
            }
            other => panic!("{other:?}"),
        }
    }

    fn rule() -> IngressRule {
        IngressRule {
            port: 22,
            cidrs: vec!["10.0.0.0/8".into(), "192.168.0.0/16".into()],
        }
    }

    fn temporary_group() -> StepSecurityGroup {
        StepSecurityGroup::new(SecurityGroupPlan::Temporary {
            name: "packer_sg".into(),
            rule: rule(),
        })
    }

    fn temporary_network() -> NetworkPlan {
        NetworkPlan::Temporary {
            network: TemporaryNetwork {
                name: "packer_vpc".into(),
                cidr: "172.16.0.0/16".into(),
            },
            subnet: TemporarySubnet {
                name: "packer_subnet".into(),
                cidr: "172.16.0.0/24".into(),
                zone: None,
            },
        }
    }

    fn poller() -> Poller {
        Poller::new(Duration::from_secs(60), Duration::from_secs(1))
    }

    const CREATING: &str = "say: Creating temporary security group for this instance: packer_sg";
    const AUTHORIZING: &str = "say: Authorizing access to port 22 from [10.0.0.0/8 192.168.0.0/16] in the temporary security groups...";
    const DELETING: &str = "say: Deleting temporary security group...";

    #[tokio::test(start_paused = true)]
    async fn a_temporary_group_is_made_in_the_network_tagged_opened_and_deleted_once() {
        let ui = RecordingUi::default();
        let cx = context(&ui, &CancellationToken::new());
        let mut st = state(Fake::default());
        st.network = Some("vpc-7".into());
        let mut step = temporary_group();
        step.run(&cx, &mut st).await.unwrap();
        assert_eq!(st.groups, ["sg-1"]);
        {
            let c = st.api.cloud();
            let g = &c.resources["sg-1"];
            assert_eq!(g.name, "packer_sg");
            assert_eq!(g.parent.as_deref(), Some("vpc-7"));
            assert_eq!(g.tags, [("kiln:run".to_string(), "r1".to_string())]);
            assert_eq!(g.rules, [rule()]);
        }
        assert_eq!(ui.lines(), [CREATING, AUTHORIZING]);

        step.cleanup(&cx, &mut st).await;
        step.cleanup(&cx, &mut st).await;
        assert!(st.api.ids("sg").is_empty());
        assert_eq!(
            st.api.calls(),
            [
                "create sg packer_sg",
                "authorize sg-1 attempt 1",
                "delete sg-1"
            ]
        );
        assert_eq!(ui.lines(), [CREATING, AUTHORIZING, DELETING]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_group_created_by_a_failing_call_is_found_by_name_and_deleted() {
        let ui = RecordingUi::default();
        let cx = context(&ui, &CancellationToken::new());
        let mut st = state(Fake::failing(
            "created sg",
            ALWAYS,
            "Create",
            "RequestTimeout",
        ));
        let mut step = temporary_group();
        let e = step.run(&cx, &mut st).await.unwrap_err();
        assert_eq!(
            e.to_string(),
            "error creating temporary security group: RequestTimeout: Create failed"
        );
        assert!(st.groups.is_empty());
        step.cleanup(&cx, &mut st).await;
        assert!(st.api.ids("sg").is_empty());
        assert_eq!(ui.lines(), [CREATING, DELETING]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_create_that_made_nothing_leaves_cleanup_silent() {
        let ui = RecordingUi::default();
        let cx = context(&ui, &CancellationToken::new());
        let mut st = state(Fake::failing(
            "create sg",
            ALWAYS,
            "Create",
            "QuotaExceeded",
        ));
        let mut step = temporary_group();
        step.run(&cx, &mut st).await.unwrap_err();
        step.cleanup(&cx, &mut st).await;
        assert_eq!(st.api.calls(), ["create sg packer_sg", "find sg packer_sg"]);
        assert_eq!(ui.lines(), [CREATING]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_rule_added_by_a_lost_attempt_is_success_on_the_retry() {
        let ui = RecordingUi::default();
        let cx = context(&ui, &CancellationToken::new());
        let mut st = state(Fake::failing(
            "authorized",
            1,
            "Authorize",
            "RequestTimeout",
        ));
        let mut step = temporary_group();
        step.run(&cx, &mut st).await.unwrap();
        assert_eq!(st.api.cloud().resources["sg-1"].rules, [rule()]);
        assert_eq!(
            st.api.calls()[1..],
            ["authorize sg-1 attempt 1", "authorize sg-1 attempt 2"]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn authorizing_gives_up_after_five_attempts_and_cleanup_deletes_the_group() {
        let ui = RecordingUi::default();
        let cx = context(&ui, &CancellationToken::new());
        let mut st = state(Fake::failing(
            "authorize",
            100,
            "Authorize",
            "InvalidGroup.NotFound",
        ));
        let mut step = temporary_group();
        let e = step.run(&cx, &mut st).await.unwrap_err();
        assert_eq!(
            e.to_string(),
            "error creating temporary security group: InvalidGroup.NotFound: Authorize failed"
        );
        let attempts: Vec<String> = st
            .api
            .calls()
            .into_iter()
            .filter(|c| c.starts_with("authorize"))
            .collect();
        assert_eq!(attempts.len(), AUTHORIZE_ATTEMPTS as usize);
        assert_eq!(attempts[4], "authorize sg-1 attempt 5");
        // The group was recorded before its rule failed.
        assert_eq!(st.groups, ["sg-1"]);
        step.cleanup(&cx, &mut st).await;
        assert!(st.api.ids("sg").is_empty());
        assert_eq!(ui.lines(), [CREATING, AUTHORIZING, DELETING]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_cancelled_build_stops_retrying_and_cleanup_still_deletes_the_group() {
        let ui = RecordingUi::default();
        let cancel = CancellationToken::new();
        let cx = context(&ui, &cancel);
        let mut st = state(Fake::failing(
            "authorize",
            100,
            "Authorize",
            "InvalidGroup.NotFound",
        ));
        let mut step = temporary_group();
        cancel.cancel();
        let e = step.run(&cx, &mut st).await.unwrap_err();
        assert!(matches!(e, StepError::Cancelled), "{e}");
        assert_eq!(
            st.api
                .calls()
                .iter()
                .filter(|c| c.starts_with("authorize"))
                .count(),
            1
        );
        let cleanup = context(&ui, &CancellationToken::new());
        step.cleanup(&cleanup, &mut st).await;
        assert!(st.api.ids("sg").is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn cleanup_retries_while_the_group_is_in_use_then_reports_it() {
        let ui = RecordingUi::default();
        let cx = context(&ui, &CancellationToken::new());
        let mut st = state(Fake::failing("delete", 3, "Delete", "DependencyViolation"));
        let mut step = temporary_group();
        step.run(&cx, &mut st).await.unwrap();
        step.cleanup(&cx, &mut st).await;
        assert!(st.api.ids("sg").is_empty());
        assert_eq!(
            st.api
                .calls()
                .iter()
                .filter(|c| *c == "delete sg-1")
                .count(),
            4
        );
        assert!(!ui.lines().iter().any(|l| l.starts_with("error:")));

        let ui = RecordingUi::default();
        let cx = context(&ui, &CancellationToken::new());
        let mut st = state(Fake::failing(
            "delete",
            100,
            "Delete",
            "DependencyViolation",
        ));
        let mut step = temporary_group();
        step.run(&cx, &mut st).await.unwrap();
        step.cleanup(&cx, &mut st).await;
        assert_eq!(st.api.ids("sg"), ["sg-1"]);
        assert_eq!(
            st.api
                .calls()
                .iter()
                .filter(|c| *c == "delete sg-1")
                .count(),
            DELETE_ATTEMPTS as usize
        );
        assert_eq!(
            ui.lines().last().unwrap(),
            "error: Error cleaning up security group. Please delete the group manually: sg-1 (DependencyViolation: Delete failed)"
        );
    }

    #[tokio::test]
    async fn given_groups_are_checked_and_filters_report_what_they_found() {
        let ui = RecordingUi::default();
        let cx = context(&ui, &CancellationToken::new());
        let mut st = state(Fake::default());
        st.api.add("sg", "sg-a", None);
        let mut step = StepSecurityGroup::new(SecurityGroupPlan::Given(vec!["sg-a".into()]));
        step.run(&cx, &mut st).await.unwrap();
        step.cleanup(&cx, &mut st).await;
        assert_eq!(st.groups, ["sg-a"]);
        assert_eq!(st.api.ids("sg"), ["sg-a"]);

        let mut step =
            StepSecurityGroup::new(SecurityGroupPlan::Given(vec!["sg-a".into(), "sg-b".into()]));
        let e = step.run(&cx, &mut st).await.unwrap_err();
        assert_eq!(
            e.to_string(),
            "couldn't find specified security group: `sg-b` does not exist"
        );

        st.network = Some("vpc-1".into());
        st.api.add("sg", "sg-c", Some("vpc-1"));
        let filter = BTreeMap::from([("group-name".to_string(), "sg-c".to_string())]);
        let mut step = StepSecurityGroup::new(SecurityGroupPlan::Filter(filter));
        step.run(&cx, &mut st).await.unwrap();
        assert_eq!(st.groups, ["sg-c"]);
        assert_eq!(ui.lines(), ["message: Found Security Group(s): sg-c"]);

        let filter = BTreeMap::from([("group-name".to_string(), "nothing".to_string())]);
        let mut step = StepSecurityGroup::new(SecurityGroupPlan::Filter(filter));
        let e = step.run(&cx, &mut st).await.unwrap_err();
        assert_eq!(
            e.to_string(),
            "no security group matches `security_group_filter`"
        );
        step.cleanup(&cx, &mut st).await;
        assert_eq!(st.api.ids("sg"), ["sg-a", "sg-c"]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_temporary_network_and_subnet_are_made_awaited_and_deleted_subnet_first() {
        let ui = RecordingUi::default();
        let cx = context(&ui, &CancellationToken::new());
        let mut st = state(Fake::with(|c| c.pending = 2));
        let mut step = StepNetwork::new(temporary_network(), poller());
        step.run(&cx, &mut st).await.unwrap();
        assert_eq!(st.network.as_deref(), Some("vpc-1"));
        assert_eq!(st.subnet.as_deref(), Some("subnet-2"));
        {
            let c = st.api.cloud();
            assert_eq!(c.resources["subnet-2"].parent.as_deref(), Some("vpc-1"));
            assert_eq!(
                c.resources["vpc-1"].tags,
                [("kiln:run".to_string(), "r1".to_string())]
            );
            assert_eq!(c.resources["subnet-2"].tags, c.resources["vpc-1"].tags);
        }
        assert_eq!(
            ui.lines(),
            [
                "say: Creating network...",
                "message: Created network: vpc-1",
                "say: Creating subnet...",
                "message: Created subnet: subnet-2",
            ]
        );
        // Each was awaited until available (two pending checks, then ready).
        let statuses = |id: &str| {
            st.api
                .calls()
                .iter()
                .filter(|c| **c == format!("status {id}"))
                .count()
        };
        assert_eq!((statuses("vpc-1"), statuses("subnet-2")), (3, 3));

        step.cleanup(&cx, &mut st).await;
        step.cleanup(&cx, &mut st).await;
        assert!(st.api.cloud().resources.is_empty());
        let calls = st.api.calls();
        assert_eq!(
            calls[calls.len() - 2..],
            ["delete subnet-2", "delete vpc-1"]
        );
        assert_eq!(
            ui.lines()[4..],
            [
                "say: Deleting temporary subnet...",
                "say: Deleting temporary network..."
            ]
        );
    }

    #[tokio::test]
    async fn a_given_network_and_subnet_are_checked_and_kept() {
        let ui = RecordingUi::default();
        let cx = context(&ui, &CancellationToken::new());
        let mut st = state(Fake::default());
        st.api.add("vpc", "vpc-u", None);
        st.api.add("subnet", "subnet-u", Some("vpc-u"));
        let mut step = StepNetwork::new(
            NetworkPlan::Given {
                network: "vpc-u".into(),
                subnet: "subnet-u".into(),
            },
            poller(),
        );
        step.run(&cx, &mut st).await.unwrap();
        step.cleanup(&cx, &mut st).await;
        assert_eq!(st.network.as_deref(), Some("vpc-u"));
        assert_eq!(st.subnet.as_deref(), Some("subnet-u"));
        assert_eq!(st.api.cloud().resources.len(), 2);
        assert!(st.api.calls().is_empty());

        let mut step = StepNetwork::new(
            NetworkPlan::Given {
                network: "vpc-u".into(),
                subnet: "subnet-x".into(),
            },
            poller(),
        );
        let e = step.run(&cx, &mut st).await.unwrap_err();
        assert_eq!(
            e.to_string(),
            "the specified subnet `subnet-x` does not exist"
        );
        assert!(ui.lines().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_temporary_subnet_in_the_users_network_is_the_only_thing_deleted() {
        let ui = RecordingUi::default();
        let cx = context(&ui, &CancellationToken::new());
        let mut st = state(Fake::default());
        st.api.add("vpc", "vpc-u", None);
        let NetworkPlan::Temporary { subnet, .. } = temporary_network() else {
            unreachable!()
        };
        let mut step = StepNetwork::new(
            NetworkPlan::TemporarySubnet {
                network: "vpc-u".into(),
                subnet,
            },
            poller(),
        );
        step.run(&cx, &mut st).await.unwrap();
        assert_eq!(st.network.as_deref(), Some("vpc-u"));
        assert_eq!(st.subnet.as_deref(), Some("subnet-1"));
        step.cleanup(&cx, &mut st).await;
        assert_eq!(st.api.ids("vpc"), ["vpc-u"]);
        assert!(st.api.ids("subnet").is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_subnet_created_by_a_failing_call_is_found_and_both_are_deleted() {
        let ui = RecordingUi::default();
        let cx = context(&ui, &CancellationToken::new());
        let mut st = state(Fake::failing(
            "created subnet",
            ALWAYS,
            "Create",
            "RequestTimeout",
        ));
        let mut step = StepNetwork::new(temporary_network(), poller());
        let e = step.run(&cx, &mut st).await.unwrap_err();
        assert_eq!(
            e.to_string(),
            "error creating temporary subnet: RequestTimeout: Create failed"
        );
        assert_eq!(st.api.ids("subnet"), ["subnet-2"]);
        step.cleanup(&cx, &mut st).await;
        assert!(st.api.cloud().resources.is_empty());
        assert!(!ui.lines().iter().any(|l| l.starts_with("error:")));
    }

    #[tokio::test(start_paused = true)]
    async fn a_build_cancelled_while_waiting_deletes_what_it_made() {
        let ui = RecordingUi::default();
        let cancel = CancellationToken::new();
        let cx = context(&ui, &cancel);
        let mut st = state(Fake::with(|c| c.pending = u32::MAX));
        let mut step = StepNetwork::new(temporary_network(), poller());
        let run = async {
            let r = step.run(&cx, &mut st).await;
            (r, st.api.ids("vpc"))
        };
        let canceller = async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            cancel.cancel();
        };
        let ((r, made), ()) = tokio::join!(run, canceller);
        assert!(matches!(r, Err(StepError::Cancelled)), "{r:?}");
        assert_eq!(made, ["vpc-1"]);
        assert_eq!(st.network, None);
        let cleanup = context(&ui, &CancellationToken::new());
        step.cleanup(&cleanup, &mut st).await;
        assert!(st.api.cloud().resources.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_network_still_in_use_is_retried_then_reported() {
        let ui = RecordingUi::default();
        let cx = context(&ui, &CancellationToken::new());
        let mut st = state(Fake::default());
        let mut step = StepNetwork::new(temporary_network(), poller());
        step.run(&cx, &mut st).await.unwrap();
        st.api.cloud().calls.fail(
            "delete",
            100,
            service_error("Delete", "DependencyViolation"),
        );
        step.cleanup(&cx, &mut st).await;
        let lines = ui.lines();
        assert_eq!(
            lines[lines.len() - 3..],
            [
                "error: Error cleaning up subnet. Please delete the subnet manually: subnet-2 (DependencyViolation: Delete failed)".to_string(),
                "say: Deleting temporary network...".to_string(),
                "error: Error cleaning up network. Please delete the network manually: vpc-1 (DependencyViolation: Delete failed)".to_string(),
            ]
        );
    }
}
