//! amazon-ebs's side of kiln-cloud's generic steps: the `…Api` traits of
//! `kiln_cloud::steps` implemented on the EC2 client ([`crate::client::Aws`]),
//! each call retried and idempotent, and the `…State` traits implemented
//! on [`crate::AmazonState`]. Holds nothing and creates nothing itself.

pub(crate) mod image;
pub(crate) mod instance;
mod key_pair;
pub(crate) mod network;
