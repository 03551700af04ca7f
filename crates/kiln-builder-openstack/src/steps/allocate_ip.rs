//! `StepAllocateIp`: the floating IP the server is reached through, and
//! the address the communicator connects to.
//!
//! The floating IP is the user's (`floating_ip`, which must be free), a
//! free one of the project (`reuse_ips`), or a new one on
//! `floating_ip_network` (an id, or the name of an external network),
//! associated with the server's port (the one on
//! `instance_floating_ip_net`, else its first). A new one carries the run
//! tags in its description and is recorded before the association; the
//! cleanup releases it (only that one: the user's and reused ones stay).
//!
//! The address, as Packer's `CommHost` picks it: `ssh_host` when set, else
//! the address on the `ssh_interface` network, the floating IP, the
//! server's `accessIPv4`, or its first address of `ssh_ip_version`.

use async_trait::async_trait;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};
use serde_json::{json, Value};

use crate::client::{Call, Service};
use crate::cloud::text;
use crate::config::FloatingIp;
use crate::{FloatingIpState, OsState};

/// See the module docs.
pub struct StepAllocateIp {
    /// Which floating IP.
    pub plan: FloatingIp,
    /// `instance_floating_ip_net`.
    pub instance_net: Option<String>,
    /// `ssh_interface`.
    pub ssh_interface: Option<String>,
    /// `ssh_ip_version`.
    pub ssh_ip_version: Option<String>,
    /// `ssh_host`, when the template sets it.
    pub ssh_host: Option<String>,
}

/// The address on network `desired` (any network when `None`) of
/// `ip_version`, as Packer's `sshAddrFromPool` picks it: a floating
/// address first met, else a fixed one of the version (either when
/// unset).
pub fn address_from_pool(
    server: &Value,
    desired: Option<&str>,
    ip_version: Option<&str>,
) -> Option<String> {
    let pools = server["addresses"].as_object()?;
    for (pool, addresses) in pools {
        if desired.is_some_and(|d| d != pool) {
            continue;
        }
        for a in addresses.as_array().into_iter().flatten() {
            let addr = text(a, "addr");
            if addr.is_empty() {
                continue;
            }
            let v6 = a["version"].as_u64() == Some(6);
            let pick = match (text(a, "OS-EXT-IPS:type").as_str(), ip_version) {
                ("floating", _) => Some(addr),
                (_, Some("4")) => (!v6).then_some(addr),
                (_, Some("6")) => v6.then(|| format!("[{addr}]")),
                _ if v6 => Some(format!("[{addr}]")),
                _ => Some(addr),
            };
            if pick.is_some() {
                return pick;
            }
        }
    }
    None
}

impl StepAllocateIp {
    /// The communicator's address: see the module docs.
    fn comm_host(&self, server: &Value, floating: Option<&FloatingIpState>) -> Option<String> {
        if self.ssh_host.is_some() {
            return None;
        }
        if let Some(i) = &self.ssh_interface {
            if let Some(a) = address_from_pool(server, Some(i), self.ssh_ip_version.as_deref()) {
                return Some(a);
            }
        }
        if let Some(f) = floating {
            return Some(f.address.clone());
        }
        if let Some(a) = server["accessIPv4"].as_str().filter(|a| !a.is_empty()) {
            return Some(a.to_string());
        }
        address_from_pool(server, None, self.ssh_ip_version.as_deref())
    }
}

#[async_trait]
impl Step<OsState> for StepAllocateIp {
    fn name(&self) -> &'static str {
        "StepAllocateIp"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut OsState,
    ) -> Result<StepAction, StepError> {
        let c = state.os.client.clone();
        let server = state.server.clone().unwrap_or(Value::Null);
        let server_id = state
            .server_id
            .clone()
            .ok_or_else(|| StepError::msg("no server to give a floating IP"))?;
        let halt = |m: String| {
            cx.ui.error(&m);
            StepError::msg(m)
        };
        let ip = match &self.plan {
            FloatingIp::None => {
                cx.ui.message("Floating IP not required");
                None
            }
            FloatingIp::Given(id) => {
                let v = c
                    .call(
                        &Call::get(
                            Service::Network,
                            "ShowFloatingIp",
                            format!("/floatingips/{id}"),
                        ),
                        Some(&cx.cancel),
                    )
                    .await
                    .map_err(|e| halt(format!("Error using provided floating IP '{id}': {e}")))?;
                let f = &v["floatingip"];
                if let Some(port) = f["port_id"].as_str().filter(|p| !p.is_empty()) {
                    return Err(halt(format!(
                        "Error using provided floating IP '{id}': provided floating IP '{id}' is already associated with port '{port}'"
                    )));
                }
                let ip = FloatingIpState {
                    id: id.clone(),
                    address: text(f, "floating_ip_address"),
                    temporary: false,
                };
                cx.ui.message(&format!(
                    "Selected floating IP: '{}' ({})",
                    ip.id, ip.address
                ));
                Some(ip)
            }
            FloatingIp::Reuse => {
                cx.ui.say("Searching for unassociated floating IP");
                let list = Call::get(Service::Network, "ListFloatingIps", "/floatingips")
                    .query("status", "DOWN");
                let all = c
                    .list_all(&list, "floatingips")
                    .await
                    .map_err(|e| halt(format!("Error searching for floating IP: {e}")))?;
                let free = all
                    .iter()
                    .find(|f| f["port_id"].as_str().is_none_or(str::is_empty))
                    .ok_or_else(|| {
                        halt("Error searching for floating IP: no free floating IPs found".into())
                    })?;
                let ip = FloatingIpState {
                    id: text(free, "id"),
                    address: text(free, "floating_ip_address"),
                    temporary: false,
                };
                cx.ui.message(&format!(
                    "Selected floating IP: '{}' ({})",
                    ip.id, ip.address
                ));
                Some(ip)
            }
            FloatingIp::Create(network) => {
                let network = external_network(&c, network).await.map_err(|e| {
                    halt(format!("Error using the provided floating_ip_network: {e}"))
                })?;
                cx.ui
                    .say(&format!("Creating floating IP using network {network} ..."));
                let tags: Vec<String> = state
                    .run_tags
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                let description = tags.join(" ");
                let body = json!({"floatingip": {
                    "floating_network_id": network, "description": description,
                }});
                let has_tags = !state.run_tags.is_empty();
                let (cc, net, desc) = (&c, &network, &description);
                let v = c
                    .create(
                        &Call::post(Service::Network, "CreateFloatingIp", "/floatingips", body),
                        || async move {
                            if !has_tags {
                                return Ok(None);
                            }
                            let list =
                                Call::get(Service::Network, "ListFloatingIps", "/floatingips")
                                    .query("floating_network_id", net.clone())
                                    .query("description", desc.clone());
                            let found = cc
                                .list_all(&list, "floatingips")
                                .await
                                .map_err(|e| e.fault)?;
                            Ok(found.first().map(|f| json!({"floatingip": f})))
                        },
                    )
                    .await
                    .map_err(|e| {
                        halt(format!(
                            "Error creating floating IP from floating network '{network}': {e}"
                        ))
                    })?;
                let f = &v["floatingip"];
                let ip = FloatingIpState {
                    id: text(f, "id"),
                    address: text(f, "floating_ip_address"),
                    temporary: true,
                };
                // Recorded before the association: cleanup releases it.
                state.floating_ip = Some(ip.clone());
                cx.ui.message(&format!(
                    "Created floating IP: '{}' ({})",
                    ip.id, ip.address
                ));
                Some(ip)
            }
        };
        if let Some(ip) = &ip {
            cx.ui.say(&format!(
                "Associating floating IP '{}' ({}) with instance port...",
                ip.id, ip.address
            ));
            let list = Call::get(
                Service::Compute,
                "ListInterfaces",
                format!("/servers/{server_id}/os-interface"),
            );
            let interfaces = c.call(&list, Some(&cx.cancel)).await.map_err(|e| {
                halt(format!(
                    "Error getting interfaces of the instance '{server_id}': {e}"
                ))
            })?;
            let interfaces = interfaces["interfaceAttachments"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let chosen = interfaces
                .iter()
                .rev()
                .find(|i| self.instance_net.as_deref().is_some_and(|n| i["net_id"].as_str() == Some(n)))
                .or_else(|| interfaces.first())
                .ok_or_else(|| {
                    halt(format!(
                        "Error getting interfaces of the instance '{server_id}': instance '{server_id}' has no interfaces"
                    ))
                })?;
            let port = text(chosen, "port_id");
            c.call(
                &Call::put(
                    Service::Network,
                    "UpdateFloatingIp",
                    format!("/floatingips/{}", ip.id),
                    json!({"floatingip": {"port_id": port}}),
                ),
                Some(&cx.cancel),
            )
            .await
            .map_err(|e| {
                halt(format!(
                    "Error associating floating IP '{}' ({}) with instance port '{port}': {e}",
                    ip.id, ip.address
                ))
            })?;
            cx.ui.message(&format!(
                "Added floating IP '{}' ({}) to instance!",
                ip.id, ip.address
            ));
        }
        if state.floating_ip.is_none() {
            state.floating_ip = ip;
        }
        state.ssh_host = self.comm_host(&server, state.floating_ip.as_ref());
        Ok(StepAction::Continue)
    }

    async fn cleanup(&mut self, cx: &StepContext<'_>, state: &mut OsState) {
        let Some(ip) = state.floating_ip.take().filter(|ip| ip.temporary) else {
            return;
        };
        let call = Call::delete(
            Service::Network,
            "DeleteFloatingIp",
            format!("/floatingips/{}", ip.id),
        );
        match state.os.client.delete(&call).await {
            Ok(()) => cx.ui.say(&format!(
                "Deleted temporary floating IP '{}' ({})",
                ip.id, ip.address
            )),
            Err(e) => cx.ui.error(&format!(
                "Error deleting temporary floating IP '{}' ({}): {e}",
                ip.id, ip.address
            )),
        }
    }
}

/// `network`'s id: itself when it is a UUID, else the external network
/// of that name.
async fn external_network(c: &crate::client::Client, network: &str) -> Result<String, String> {
    if uuid::Uuid::parse_str(network).is_ok() {
        return Ok(network.to_string());
    }
    let list = Call::get(Service::Network, "ListNetworks", "/networks").query("name", network);
    let nets = c
        .list_all(&list, "networks")
        .await
        .map_err(|e| e.to_string())?;
    let first = nets
        .first()
        .ok_or_else(|| format!("can't find external network {network}"))?;
    if first["router:external"].as_bool() != Some(true) {
        return Err(format!("network {network} is not external"));
    }
    Ok(text(first, "id"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_address_follows_packers_choice() {
        let server = json!({"addresses": {
            "private": [
                {"addr": "fd00::5", "version": 6, "OS-EXT-IPS:type": "fixed"},
                {"addr": "10.99.0.5", "version": 4, "OS-EXT-IPS:type": "fixed"}],
            "public": [{"addr": "172.31.250.9", "version": 4, "OS-EXT-IPS:type": "floating"}]}});
        assert_eq!(
            address_from_pool(&server, Some("private"), Some("4")).as_deref(),
            Some("10.99.0.5")
        );
        assert_eq!(
            address_from_pool(&server, Some("private"), Some("6")).as_deref(),
            Some("[fd00::5]")
        );
        assert_eq!(
            address_from_pool(&server, Some("private"), None).as_deref(),
            Some("[fd00::5]")
        );
        assert_eq!(
            address_from_pool(&server, Some("public"), Some("6")).as_deref(),
            Some("172.31.250.9")
        );
        assert_eq!(address_from_pool(&server, Some("other"), None), None);
        let step = StepAllocateIp {
            plan: FloatingIp::None,
            instance_net: None,
            ssh_interface: None,
            ssh_ip_version: Some("4".into()),
            ssh_host: None,
        };
        let fip = FloatingIpState {
            id: "f".into(),
            address: "172.31.250.10".into(),
            temporary: true,
        };
        assert_eq!(
            step.comm_host(&server, Some(&fip)).as_deref(),
            Some("172.31.250.10")
        );
        let with_access = json!({"accessIPv4": "203.0.113.7", "addresses": server["addresses"]});
        assert_eq!(
            step.comm_host(&with_access, None).as_deref(),
            Some("203.0.113.7")
        );
        let fixed = StepAllocateIp {
            ssh_host: Some("127.0.0.1".into()),
            ..step
        };
        assert_eq!(fixed.comm_host(&server, Some(&fip)), None);
    }
}
