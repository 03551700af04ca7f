//! tencentcloud-cvm's side of the temporary key pair
//! ([`kiln_cloud::steps::key_pair`]): kiln generates the key pair locally
//! and imports its public half (`ImportKeyPair`, tagged with the run
//! tags), where Packer has CVM generate one (`CreateKeyPair`) and sends
//! the private key over the wire; `DeleteKeyPairs` deletes it by its id,
//! one already gone being done. Packer's tencentcloud wording. Holds
//! nothing; the step's cleanup deletes the key pair.

use async_trait::async_trait;
use kiln_cloud::steps::key_pair::{packer_line, KeyPairApi, KeyPairEvent};
use kiln_cloud::steps::Line;
use kiln_cloud::ApiError;
use serde_json::json;

use super::{tag_list, Cvm};
use crate::TencentState;

#[async_trait]
impl KeyPairApi for Cvm {
    async fn import_key_pair(
        &self,
        name: &str,
        public_key: &str,
        tags: &[(String, String)],
    ) -> Result<(), ApiError> {
        let body = json!({
            "KeyName": name,
            "ProjectId": 0,
            "PublicKey": public_key,
            "TagSpecification": [{"ResourceType": "keypair", "Tags": tag_list(tags)}],
        });
        // A retry after a lost reply finds the key pair imported (with this
        // build's key): adopt it.
        self.cvm
            .create(
                "ImportKeyPair",
                &body,
                &["InvalidKeyPairName.Duplicate", "InvalidPublicKey.Duplicate"],
                false,
                || async { Ok(Some(serde_json::Value::Null)) },
            )
            .await
            .map(drop)
    }

    async fn delete_key_pair(&self, name: &str) -> Result<(), ApiError> {
        let Some(id) = self.key_pair_id(name).await? else {
            return Ok(());
        };
        self.cvm
            .delete(
                "DeleteKeyPairs",
                &json!({"KeyIds": [id]}),
                &["InvalidKeyPairId.NotFound"],
            )
            .await
    }

    fn line(&self, event: &KeyPairEvent<'_>) -> Option<Line> {
        match event {
            KeyPairEvent::Creating(name) => Some(Line::Say(format!(
                "Trying to create a new keypair: {name}..."
            ))),
            KeyPairEvent::Deleting(_) => Some(Line::Say("Cleaning up keypair...".into())),
            KeyPairEvent::NoKeyPair => Some(Line::Say("Not to use temporary keypair...".into())),
            e => packer_line(e),
        }
    }
}

kiln_cloud::impl_key_pair_state!(TencentState, cvm: Cvm);
