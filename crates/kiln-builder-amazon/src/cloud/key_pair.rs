//! amazon-ebs's side of the temporary key pair
//! ([`kiln_cloud::steps::key_pair`]): `ImportKeyPair` and `DeleteKeyPair`
//! on the EC2 client, retried by kiln's policy, an import retried after a
//! lost reply adopting the key pair it finds (`InvalidKeyPair.Duplicate`),
//! a delete of a key pair already gone done (`InvalidKeyPair.NotFound`);
//! Packer's amazon wording; and the state the step reads and records in
//! [`AmazonState`]. Holds nothing; the step's cleanup deletes the key pair.

use async_trait::async_trait;
use aws_sdk_ec2::operation::import_key_pair::ImportKeyPairOutput;
use aws_sdk_ec2::types::ResourceType;
use kiln_cloud::steps::key_pair::{packer_line, KeyPairApi, KeyPairEvent};
use kiln_cloud::steps::Line;
use kiln_cloud::ApiError;

use crate::client::Ec2;
use crate::{tags, AmazonState};

const NOT_FOUND: &[&str] = &["InvalidKeyPair.NotFound"];

#[async_trait]
impl KeyPairApi for Ec2 {
    async fn import_key_pair(
        &self,
        name: &str,
        public_key: &str,
        run_tags: &[(String, String)],
    ) -> Result<(), ApiError> {
        let ec2: &aws_sdk_ec2::Client = self;
        let req = ec2
            .import_key_pair()
            .key_name(name)
            .set_tag_specifications(tags::spec(ResourceType::KeyPair, tags::ec2_tags(run_tags)))
            .public_key_material(aws_smithy_types::Blob::new(public_key.as_bytes()));
        // A retry after a lost reply finds the key pair imported (with
        // this build's key): adopt it.
        let imported = || async { Ok(Some(ImportKeyPairOutput::builder().key_name(name).build())) };
        self.create(
            req,
            |r| r.send(),
            &["InvalidKeyPair.Duplicate"],
            false,
            imported,
        )
        .await
        .map(drop)
    }

    async fn delete_key_pair(&self, name: &str) -> Result<(), ApiError> {
        let ec2: &aws_sdk_ec2::Client = self;
        let req = ec2.delete_key_pair().key_name(name);
        match self.delete(req, |r| r.send(), NOT_FOUND).await {
            Err(e) if e.is(NOT_FOUND) => Ok(()),
            r => r.map(drop),
        }
    }

    fn line(&self, event: &KeyPairEvent<'_>) -> Option<Line> {
        match event {
            KeyPairEvent::Agent => Some(Line::Say(
                "Using SSH Agent with key pair in source AMI".into(),
            )),
            e => packer_line(e),
        }
    }
}

kiln_cloud::impl_key_pair_state!(AmazonState, ec2: Ec2);
