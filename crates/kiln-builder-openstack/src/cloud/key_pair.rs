//! `KeyPairApi` on [`Os`]: the temporary key pair is imported into Nova
//! (`POST /os-keypairs` with the public key; a retry that finds it there,
//! 409, adopts it) and deleted (`DELETE /os-keypairs/{name}`; 404 is
//! gone). Nova key pairs carry no tags: their `packer_<uuid>` name is
//! what marks them. The lines are Packer's openstack builder's.

use async_trait::async_trait;
use kiln_cloud::steps::key_pair::{packer_line, KeyPairApi, KeyPairEvent};
use kiln_cloud::steps::Line;
use kiln_cloud::ApiError;
use serde_json::json;

use super::Os;
use crate::client::{status, Call, Service};

#[async_trait]
impl KeyPairApi for Os {
    async fn import_key_pair(
        &self,
        name: &str,
        public_key: &str,
        _tags: &[(String, String)],
    ) -> Result<(), ApiError> {
        let call = Call::post(
            Service::Compute,
            "CreateKeypair",
            "/os-keypairs",
            json!({"keypair": {"name": name, "public_key": public_key}}),
        );
        let c = &self.client;
        let found = || async {
            let get = Call::get(
                Service::Compute,
                "ShowKeypair",
                format!("/os-keypairs/{name}"),
            );
            match c.call(&get, None).await {
                Ok(v)
                    if v["keypair"]["public_key"].as_str().map(str::trim)
                        == Some(public_key.trim()) =>
                {
                    Ok(Some(v))
                }
                Ok(_) => Ok(None),
                Err(e) if status(&e) == Some(404) => Ok(None),
                Err(e) => Err(e.fault),
            }
        };
        c.create(&call, found).await.map(drop)
    }

    async fn delete_key_pair(&self, name: &str) -> Result<(), ApiError> {
        self.client
            .delete(&Call::delete(
                Service::Compute,
                "DeleteKeypair",
                format!("/os-keypairs/{name}"),
            ))
            .await
    }

    fn line(&self, event: &KeyPairEvent<'_>) -> Option<Line> {
        match event {
            KeyPairEvent::Creating(name) => {
                Some(Line::Say(format!("Creating temporary keypair: {name} ...")))
            }
            KeyPairEvent::Created(name) => {
                Some(Line::Say(format!("Created temporary keypair: {name}")))
            }
            KeyPairEvent::Deleting(name) => {
                Some(Line::Say(format!("Deleting temporary keypair: {name} ...")))
            }
            KeyPairEvent::Agent => Some(Line::Say(
                "Using SSH Agent with key pair in Source image".into(),
            )),
            other => packer_line(other),
        }
    }
}
