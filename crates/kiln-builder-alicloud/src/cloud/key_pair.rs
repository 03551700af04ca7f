//! alicloud-ecs's side of the temporary key pair
//! ([`kiln_cloud::steps::key_pair`]): kiln generates the key pair locally
//! and imports its public half (`ImportKeyPair`, tagged with the run
//! tags), where Packer has ECS generate one (`CreateKeyPair`) and sends
//! the private key over the wire; `DeleteKeyPairs` deletes it, one
//! already gone being done. Holds nothing; the step's cleanup deletes the
//! key pair.

use async_trait::async_trait;
use kiln_cloud::steps::key_pair::KeyPairApi;
use kiln_cloud::ApiError;
use serde_json::Value;

use super::{json_list, tag_map, Ecs};
use crate::client::Params;
use crate::AlicloudState;

const NOT_FOUND: &[&str] = &["InvalidKeyPair.NotFound"];

#[async_trait]
impl KeyPairApi for Ecs {
    async fn import_key_pair(
        &self,
        name: &str,
        public_key: &str,
        tags: &[(String, String)],
    ) -> Result<(), ApiError> {
        let params = Params::new()
            .set("KeyPairName", name)
            .set("PublicKeyBody", public_key)
            .tags("Tag", &tag_map(tags));
        // A retry after a lost reply finds the key pair imported (with this
        // build's key): adopt it.
        self.client
            .create::<Value, _, _>(
                "ImportKeyPair",
                &params,
                &["KeyPair.AlreadyExist"],
                false,
                || async { Ok(Some(Value::Null)) },
            )
            .await
            .map(drop)
    }

    async fn delete_key_pair(&self, name: &str) -> Result<(), ApiError> {
        let params = Params::new().set("KeyPairNames", json_list(&[name]));
        self.delete("DeleteKeyPairs", &params, NOT_FOUND).await
    }
}

kiln_cloud::impl_key_pair_state!(AlicloudState, ecs: Ecs);
