//! The names of the generated-data keys that builders hand to provisioners
//! and post-processors (`{{ build `Host` }}`, `build.Host`,
//! `PACKER_HTTP_ADDR`…), as Packer's builders name them. One place, so a
//! builder cannot misspell a key that a provisioner reads.

/// The communicator type: `ssh`, `winrm`, `docker`, `none`.
pub const CONN_TYPE: &str = "ConnType";
/// The address the communicator connects to.
pub const HOST: &str = "Host";
/// The port the communicator connects to.
pub const PORT: &str = "Port";
/// The communicator's user name.
pub const USER: &str = "User";
/// The communicator's password.
pub const PASSWORD: &str = "Password";
/// The public half of the SSH key the communicator uses.
pub const SSH_PUBLIC_KEY: &str = "SSHPublicKey";
/// The private half of the SSH key the communicator uses.
pub const SSH_PRIVATE_KEY: &str = "SSHPrivateKey";
/// The WinRM password (Windows guests).
pub const WINRM_PASSWORD: &str = "WinRMPassword";
/// The ID of the machine or image the builder works on.
pub const ID: &str = "ID";
/// The run's UUID (`PACKER_RUN_UUID`).
pub const PACKER_RUN_UUID: &str = "PackerRunUUID";
/// The `host:port` of the builder's HTTP server.
pub const PACKER_HTTP_ADDR: &str = "PackerHTTPAddr";
/// The IP of the builder's HTTP server.
pub const PACKER_HTTP_IP: &str = "PackerHTTPIP";
/// The port of the builder's HTTP server.
pub const PACKER_HTTP_PORT: &str = "PackerHTTPPort";
/// The name of the source image (amazon-ebs).
pub const SOURCE_AMI_NAME: &str = "SourceAMIName";
/// The ID of the source image (amazon-ebs).
pub const SOURCE_AMI: &str = "SourceAMI";
/// The creation date of the source image (amazon-ebs).
pub const SOURCE_AMI_CREATION_DATE: &str = "SourceAMICreationDate";
/// The account that owns the source image (amazon-ebs).
pub const SOURCE_AMI_OWNER: &str = "SourceAMIOwner";
/// The owner alias of the source image (`amazon`, …; amazon-ebs).
pub const SOURCE_AMI_OWNER_NAME: &str = "SourceAMIOwnerName";
/// The region the build runs in (amazon-ebs).
pub const BUILD_REGION: &str = "BuildRegion";

/// The keys a builder that connects over SSH provides, in Packer's order.
pub const SSH_KEYS: &[&str] = &[
    CONN_TYPE,
    HOST,
    PORT,
    USER,
    PASSWORD,
    SSH_PUBLIC_KEY,
    SSH_PRIVATE_KEY,
];
