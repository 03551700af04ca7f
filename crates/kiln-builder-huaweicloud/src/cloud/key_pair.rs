//! `KeyPairApi` on [`Hw`]: the temporary key pair is imported through
//! ECS's Nova API (`NovaCreateKeypair` with the public key kiln
//! generated), adopted on a retry when a lost reply already made it, and
//! deleted by name (`NovaDeleteKeypair`; gone already is done). Nova key
//! pairs take no tags: the `packer_<uuid>` name carries the build. The
//! lines are the plugin's.

use async_trait::async_trait;
use kiln_cloud::steps::key_pair::{packer_line, KeyPairApi, KeyPairEvent};
use kiln_cloud::steps::Line;
use kiln_cloud::ApiError;

use super::Hw;
use crate::client::{not_found, Call};
use crate::config::Service;

#[async_trait]
impl KeyPairApi for Hw {
    async fn import_key_pair(
        &self,
        name: &str,
        public_key: &str,
        _tags: &[(String, String)],
    ) -> Result<(), ApiError> {
        let c = &self.client;
        let call = Call::post(
            Service::Ecs,
            "NovaCreateKeypair",
            c.path("/v2.1", "/os-keypairs"),
            serde_json::json!({"keypair": {"name": name, "public_key": public_key}}),
        );
        let show = Call::get(
            Service::Ecs,
            "NovaShowKeypair",
            c.path("/v2.1", &format!("/os-keypairs/{name}")),
        );
        let show = &show;
        c.create(&call, || async move {
            match c.call(show, None).await {
                Ok(v) => Ok(Some(v)),
                Err(e) if not_found(&e) => Ok(None),
                Err(e) => Err(e.fault),
            }
        })
        .await
        .map(|_| ())
    }

    async fn delete_key_pair(&self, name: &str) -> Result<(), ApiError> {
        let c = &self.client;
        c.delete(&Call::delete(
            Service::Ecs,
            "NovaDeleteKeypair",
            c.path("/v2.1", &format!("/os-keypairs/{name}")),
        ))
        .await
    }

    fn line(&self, event: &KeyPairEvent<'_>) -> Option<Line> {
        match event {
            KeyPairEvent::Creating(name) => {
                Some(Line::Say(format!("Creating temporary keypair: {name}...")))
            }
            KeyPairEvent::Deleting(name) => {
                Some(Line::Say(format!("Deleting temporary keypair: {name} ...")))
            }
            e => packer_line(e),
        }
    }
}
