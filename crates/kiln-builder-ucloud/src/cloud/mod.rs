//! The UCloud side of kiln-cloud's generic steps: [`Uhost`], the client of
//! one project and region with what the calls need besides (the build's
//! start, for finding what a lost reply made), implements
//! [`kiln_cloud::steps::instance::InstanceApi`] (`instance`) and
//! [`kiln_cloud::steps::image::ImageApi`] (`image`); the builder's state
//! implements their `…State` traits in `lib.rs`. Also the UCloud models
//! the steps read (UHosts, images) and the look-ups that page through
//! every result (`DescribeImage` answers 20 a page unless told). Holds
//! nothing but a client.

pub mod image;
pub mod instance;
#[cfg(test)]
mod tests;

use kiln_cloud::ApiError;
use serde::Deserialize;

use crate::client::{params, Client, Params};

/// How many rows each page of a look-up asks for.
pub const PAGE: usize = 100;

/// A project and region's client, for the generic steps.
#[derive(Clone, Debug)]
pub struct Uhost {
    /// The client of the project and region.
    pub client: Client,
    /// When the build started (Unix seconds): an image named as the one
    /// the build makes and created since then is the build's.
    pub since: i64,
    /// The `Tag` (business group) of the UHost the build makes.
    pub run_tag: String,
}

/// A UHost as `DescribeUHostInstance` describes it.
#[derive(Debug, Clone, Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct UHost {
    /// Its id.
    #[serde(rename = "UHostId")]
    pub uhost_id: String,
    /// `Initializing`, `Starting`, `Running`, `Stopping`, `Stopped`,
    /// `Install Fail`, `ResizeFail`, ...
    pub state: String,
    /// `Normal` once the boot disk is ready.
    pub boot_disk_state: String,
    /// Its addresses.
    #[serde(rename = "IPSet")]
    pub ip_set: Vec<Ip>,
    /// Its business group.
    pub tag: String,
    /// Its name.
    pub name: String,
}

/// One address of a UHost.
#[derive(Debug, Clone, Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct Ip {
    /// `Private`, `Bgp`, `International`, ...
    #[serde(rename = "Type")]
    pub kind: String,
    /// The address.
    #[serde(rename = "IP")]
    pub ip: String,
}

impl UHost {
    /// The address to connect to: the private one, or the first public
    /// one (the plugin's `SSHHost`).
    pub fn ssh_host(&self, private: bool) -> Option<String> {
        self.ip_set
            .iter()
            .find(|i| (i.kind == "Private") == private)
            .map(|i| i.ip.clone())
    }
}

/// An image as `DescribeImage` describes it.
#[derive(Debug, Clone, Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct Image {
    /// Its id.
    pub image_id: String,
    /// Its name.
    pub image_name: String,
    /// `Base`, `Custom`, ...
    pub image_type: String,
    /// `Linux` or `Windows`.
    pub os_type: String,
    /// `Making`, `Available`, `Copying`, `Unavailable`.
    pub state: String,
    /// Its size in GB.
    pub image_size: u32,
    /// `CloudInit`, `NetEnhanced`, ...
    pub features: Vec<String>,
    /// When it was made (Unix seconds).
    pub create_time: i64,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ImagePage {
    #[serde(default)]
    image_set: Vec<Image>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UHostPage {
    #[serde(rename = "UHostSet", default)]
    uhost_set: Vec<UHost>,
}

impl Uhost {
    /// Every image `filter` selects, page after page (kiln's fix of the
    /// plugin's look-ups, which read the first 20 only).
    pub async fn images(&self, filter: &Params) -> Result<Vec<Image>, ApiError> {
        let mut out = Vec::new();
        loop {
            let mut p = filter.clone();
            p.extend(params([("Offset", out.len()), ("Limit", PAGE)]));
            let page: ImagePage = self.client.call("DescribeImage", &p, None).await?;
            let n = page.image_set.len();
            out.extend(page.image_set);
            if n < PAGE {
                return Ok(out);
            }
        }
    }

    /// Image `id`, if the project and region hold it.
    pub async fn image(&self, id: &str) -> Result<Option<Image>, ApiError> {
        let all = self.images(&params([("ImageId", id)])).await?;
        Ok(all.into_iter().find(|i| i.image_id == id))
    }

    /// UHost `id`, if the project and region hold it.
    pub async fn uhost(&self, id: &str) -> Result<Option<UHost>, ApiError> {
        let page: UHostPage = self
            .client
            .call("DescribeUHostInstance", &params([("UHostIds.0", id)]), None)
            .await?;
        Ok(page.uhost_set.into_iter().find(|h| h.uhost_id == id))
    }

    /// The UHosts carrying the run tag, page after page.
    pub async fn tagged_uhosts(&self) -> Result<Vec<UHost>, ApiError> {
        let mut out = Vec::new();
        loop {
            let p = params([
                ("Tag", self.run_tag.clone()),
                ("Offset", out.len().to_string()),
                ("Limit", PAGE.to_string()),
            ]);
            let page: UHostPage = self.client.call("DescribeUHostInstance", &p, None).await?;
            let n = page.uhost_set.len();
            out.extend(page.uhost_set);
            if n < PAGE {
                return Ok(out);
            }
        }
    }
}
