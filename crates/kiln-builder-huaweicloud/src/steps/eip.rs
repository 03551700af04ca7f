//! `StepCreatePublicipIP`: the EIP the server is reached through:
//! `floating_ip` checked to be free, or with `reuse_ips` the project's
//! first free one, or with `eip_bandwidth_size` a new one (`CreatePublicip`,
//! tagged with the run tags, waited until `DOWN`/`ACTIVE`). Stores it in
//! `HuaweiState::eip`; records a new one before waiting, and its cleanup
//! deletes only that one (gone already is done), after the server's
//! cleanup has unbound it.

use async_trait::async_trait;
use kiln_cloud::steps::wait_error;
use kiln_cloud::{CheckError, Poller, Status};
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};
use serde_json::{json, Value};

use crate::client::Call;
use crate::cloud::text;
use crate::config::{Eip, Service};
use crate::{HuaweiState, PublicIp};

/// See the module docs.
pub struct StepCreateEip {
    /// Which EIP.
    pub plan: Eip,
    /// Waits for a new EIP.
    pub poller: Poller,
    /// The EIP this step created.
    pub created: Option<PublicIp>,
}

fn public_ip(v: &Value) -> PublicIp {
    PublicIp {
        id: text(v, "id"),
        address: text(v, "public_ip_address"),
    }
}

fn bound(v: &Value) -> Option<String> {
    v["port_id"]
        .as_str()
        .filter(|p| !p.is_empty())
        .map(String::from)
}

#[async_trait]
impl Step<HuaweiState> for StepCreateEip {
    fn name(&self) -> &'static str {
        "StepCreatePublicipIP"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut HuaweiState,
    ) -> Result<StepAction, StepError> {
        let c = state.hw.client.clone();
        let eip = match &self.plan {
            Eip::None => return Ok(StepAction::Continue),
            Eip::Given(id) => {
                cx.ui
                    .say(&format!("Checking the provided public IP {id} ..."));
                let call = Call::get(
                    Service::Eip,
                    "ShowPublicip",
                    c.path("/v1", &format!("/publicips/{id}")),
                );
                let v = c.call(&call, Some(&cx.cancel)).await.map_err(|e| {
                    StepError::msg(format!("error using provided public IP `{id}`: {e}"))
                })?;
                if let Some(port) = bound(&v["publicip"]) {
                    return Err(StepError::msg(format!(
                        "the provided public IP `{id}` is already associated with port `{port}`"
                    )));
                }
                public_ip(&v["publicip"])
            }
            Eip::Reuse => {
                cx.ui.say("Searching for unassociated public IP ...");
                let mut marker: Option<String> = None;
                let found = loop {
                    let mut call =
                        Call::get(Service::Eip, "ListPublicips", c.path("/v1", "/publicips"))
                            .query("limit", "50");
                    if let Some(m) = &marker {
                        call = call.query("marker", m.clone());
                    }
                    let v = c.call(&call, Some(&cx.cancel)).await.map_err(|e| {
                        StepError::msg(format!("error searching for public IP: {e}"))
                    })?;
                    let page = v["publicips"].as_array().cloned().unwrap_or_default();
                    if let Some(free) = page.iter().find(|p| bound(p).is_none()) {
                        break public_ip(free);
                    }
                    if page.len() < 50 {
                        return Err(StepError::msg(
                            "error searching for public IP: no free public IPs found",
                        ));
                    }
                    marker = page.last().map(|p| text(p, "id"));
                };
                found
            }
            Eip::Create { kind, bandwidth } => {
                cx.ui.say("Creating EIP ...");
                // The plugin's bandwidth name, made unique: after a lost
                // reply the EIP is found by it (its run tag comes after).
                let bandwidth_name = format!(
                    "packer_eip_bandwidth_{}_{}",
                    chrono::Utc::now().timestamp(),
                    &uuid::Uuid::new_v4().simple().to_string()[..8]
                );
                let call = Call::post(
                    Service::Eip,
                    "CreatePublicip",
                    c.path("/v1", "/publicips"),
                    json!({
                        "publicip": {"type": kind},
                        "bandwidth": {
                            "name": bandwidth_name,
                            "size": bandwidth, "share_type": "PER", "charge_mode": "traffic",
                        },
                    }),
                );
                let list = Call::get(Service::Eip, "ListPublicips", c.path("/v1", "/publicips"));
                let (list, wanted, client) = (&list, bandwidth_name.as_str(), &c);
                let v = c
                    .create(&call, || async move {
                        let found = client.call(list, None).await.map_err(|e| e.fault)?;
                        Ok(found["publicips"]
                            .as_array()
                            .and_then(|all| {
                                all.iter().find(|p| text(p, "bandwidth_name") == wanted)
                            })
                            .map(|p| json!({ "publicip": p })))
                    })
                    .await
                    .map_err(|e| StepError::msg(format!("error creating EIP: {e}")))?;
                let ip = public_ip(&v["publicip"]);
                self.created = Some(ip.clone());
                cx.ui
                    .message(&format!("Created EIP: '{}' ({})", ip.id, ip.address));
                state
                    .hw
                    .tag_resource("publicips", &ip.id, &state.run_tags)
                    .await
                    .map_err(StepError::msg)?;
                let show = Call::get(
                    Service::Eip,
                    "ShowPublicip",
                    c.path("/v1", &format!("/publicips/{}", ip.id)),
                );
                let (show, c) = (&show, &c);
                self.poller
                    .wait(&format!("EIP ({})", ip.id), &cx.cancel, || async move {
                        let v = c.call(show, None).await.map_err(CheckError::from)?;
                        match text(&v["publicip"], "status").as_str() {
                            "DOWN" | "ACTIVE" => Ok(Status::Ready(())),
                            "ERROR" | "BIND_ERROR" => {
                                Err(CheckError::Failed("the EIP is `ERROR`".into()))
                            }
                            s => Ok(Status::Pending(s.to_string())),
                        }
                    })
                    .await
                    .map_err(|e| {
                        StepError::msg(format!("error waiting eip to be active: {}", wait_error(e)))
                    })?;
                ip
            }
        };
        if !matches!(self.plan, Eip::Create { .. }) {
            cx.ui.message(&format!(
                "Selected public IP: '{}' ({})",
                eip.id, eip.address
            ));
        }
        state.eip = Some(eip);
        Ok(StepAction::Continue)
    }

    async fn cleanup(&mut self, cx: &StepContext<'_>, state: &mut HuaweiState) {
        let Some(ip) = self.created.take() else {
            return;
        };
        let c = &state.hw.client;
        let call = Call::delete(
            Service::Eip,
            "DeletePublicip",
            c.path("/v1", &format!("/publicips/{}", ip.id)),
        );
        match c.delete(&call).await {
            Ok(()) => cx.ui.say(&format!(
                "Deleted temporary public IP '{}' ({})",
                ip.id, ip.address
            )),
            Err(e) => cx.ui.error(&format!(
                "Error deleting temporary public IP '{}' ({}): {e}",
                ip.id, ip.address
            )),
        }
    }
}
