//! The artifact of the cloud builders that make images by region
//! (alicloud-ecs, tencentcloud-cvm, ucloud-uhost, huaweicloud-ecs), written
//! once: its id, text and state, worded as each Packer builder words them
//! ([`Style`]), and its `destroy`, which deletes every image with the
//! client of its region through [`destroy_images`] (what is gone already is
//! no error). [`impl_region_images_artifact!`](crate::impl_region_images_artifact)
//! implements kiln-sdk's `Artifact` on a builder's own artifact type, which
//! keeps its name and fields: `images` (image ids by region), `generated`
//! (the build's generated data, secrets left out) and its client. Holds
//! nothing open.

use std::collections::BTreeMap;

use kiln_sdk::artifact::ArtifactError;

use crate::steps::image::{destroy_images, ImageApi};

/// The paths [`impl_region_images_artifact!`](crate::impl_region_images_artifact)
/// expands to.
#[doc(hidden)]
pub mod __private {
    pub use async_trait::async_trait;
    pub use kiln_sdk::artifact::{Artifact, ArtifactError};
    pub use serde_json::Value;
}

/// How one builder's artifact reads, as its Packer builder words it.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    /// Packer's builder id (`alibaba.alicloud`).
    pub builder_id: &'static str,
    /// The artifact's id.
    pub id: IdForm,
    /// Its text (`describe`), `{}` standing for the [`Listing`].
    pub text: &'static str,
    /// What stands for `{}` in the text.
    pub listing: Listing,
    /// Its `atlas.artifact.metadata` state.
    pub metadata: Metadata,
}

impl Style {
    /// Packer's alicloud and tencentcloud form under `builder_id`: id
    /// `region:image,…`, a line `region: image` a region for `{}` in
    /// `text`, and `{"region.<region>": image}` as metadata.
    pub const fn by_region(builder_id: &'static str, text: &'static str) -> Style {
        Style {
            builder_id,
            id: IdForm::RegionImage,
            text,
            listing: Listing::RegionImage,
            metadata: Metadata::Regions,
        }
    }

    /// Packer's openstack form (and that of Huawei's plugin, a fork of
    /// it) under `builder_id`: the image id, "An image was created: …",
    /// no metadata.
    pub const fn image_id(builder_id: &'static str) -> Style {
        Style {
            builder_id,
            id: IdForm::Images,
            text: "An image was created: {}",
            listing: Listing::Id,
            metadata: Metadata::Absent,
        }
    }
}

/// The form of the artifact's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdForm {
    /// `region:image` by region, joined by `,`
    /// (`cn-beijing:m-1,cn-shanghai:m-2`).
    RegionImage,
    /// The image ids alone, joined by `;`.
    Images,
}

/// What the artifact's text lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listing {
    /// A line `region: image` a region, joined by newlines.
    RegionImage,
    /// A line `project: region: image` a region, whose key is
    /// `<project>:<region>` (UCloud's), joined by newlines.
    ProjectRegionImage,
    /// The artifact's id.
    Id,
}

/// What `state("atlas.artifact.metadata")` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metadata {
    /// `{"region.<region>": image, …}`, as Packer's alicloud and
    /// tencentcloud builders have it.
    Regions,
    /// The images by region as they are.
    Images,
    /// Nothing.
    Absent,
}

/// The images a build made, read in a [`Style`]: what the artifact's
/// methods return.
#[derive(Debug, Clone, Copy)]
pub struct RegionImages<'a> {
    /// Image ids by region.
    pub images: &'a BTreeMap<String, String>,
    /// The build's generated data, secrets left out.
    pub generated: &'a BTreeMap<String, String>,
    /// How it reads.
    pub style: &'a Style,
}

impl<'a> RegionImages<'a> {
    /// `images` and `generated`, read as `style` says.
    pub fn new(
        images: &'a BTreeMap<String, String>,
        generated: &'a BTreeMap<String, String>,
        style: &'a Style,
    ) -> Self {
        RegionImages {
            images,
            generated,
            style,
        }
    }

    /// The artifact's id ([`IdForm`]).
    pub fn id(&self) -> String {
        match self.style.id {
            IdForm::RegionImage => self
                .images
                .iter()
                .map(|(r, i)| format!("{r}:{i}"))
                .collect::<Vec<_>>()
                .join(","),
            IdForm::Images => self.images.values().cloned().collect::<Vec<_>>().join(";"),
        }
    }

    /// The artifact's text ([`Style::text`]).
    pub fn describe(&self) -> String {
        let line = |r: &str, i: &str| match self.style.listing {
            Listing::ProjectRegionImage => {
                let (p, r) = r.split_once(':').unwrap_or(("", r));
                format!("{p}: {r}: {i}")
            }
            _ => format!("{r}: {i}"),
        };
        let listing = match self.style.listing {
            Listing::Id => self.id(),
            Listing::RegionImage | Listing::ProjectRegionImage => self
                .images
                .iter()
                .map(|(r, i)| line(r, i))
                .collect::<Vec<_>>()
                .join("\n"),
        };
        self.style.text.replacen("{}", &listing, 1)
    }

    /// The artifact's state: `generated_data` (unless empty) and
    /// `atlas.artifact.metadata` ([`Metadata`]).
    pub fn state(&self, key: &str) -> Option<serde_json::Value> {
        match (key, self.style.metadata) {
            ("generated_data", _) if !self.generated.is_empty() => {
                Some(serde_json::json!(self.generated))
            }
            ("atlas.artifact.metadata", Metadata::Regions) => Some(serde_json::json!(self
                .images
                .iter()
                .map(|(r, i)| (format!("region.{r}"), i.clone()))
                .collect::<BTreeMap<_, _>>())),
            ("atlas.artifact.metadata", Metadata::Images) => Some(serde_json::json!(self.images)),
            _ => None,
        }
    }

    /// Deletes every image with the client `api_for` gives for its region;
    /// what is gone already is no error, and every failure is reported.
    pub async fn destroy<A: ImageApi>(
        &self,
        api_for: impl Fn(&str) -> A,
    ) -> Result<(), ArtifactError> {
        destroy_images(self.images, api_for)
            .await
            .map_err(|e| ArtifactError {
                id: self.id(),
                message: e.to_string(),
            })
    }
}

/// Implements kiln-sdk's `Artifact` on a builder's artifact type with the
/// fields `images` and `generated`, read in `style` (a [`Style`]), whose
/// `destroy` deletes each image with the client the closure gives for its
/// region (see the [module docs](crate::artifact)):
///
/// ```ignore
/// kiln_cloud::impl_region_images_artifact!(AlicloudArtifact, STYLE, |a, region| {
///     a.ecs.for_region(region)
/// });
/// ```
#[macro_export]
macro_rules! impl_region_images_artifact {
    ($artifact:ty, $style:expr, |$this:ident, $region:ident| $api:expr) => {
        #[$crate::artifact::__private::async_trait]
        impl $crate::artifact::__private::Artifact for $artifact {
            fn builder_id(&self) -> &str {
                $style.builder_id
            }
            fn id(&self) -> ::std::string::String {
                $crate::artifact::RegionImages::new(&self.images, &self.generated, &$style).id()
            }
            fn files(&self) -> ::std::vec::Vec<::std::path::PathBuf> {
                ::std::vec::Vec::new()
            }
            fn describe(&self) -> ::std::string::String {
                $crate::artifact::RegionImages::new(&self.images, &self.generated, &$style)
                    .describe()
            }
            fn state(
                &self,
                key: &str,
            ) -> ::std::option::Option<$crate::artifact::__private::Value> {
                $crate::artifact::RegionImages::new(&self.images, &self.generated, &$style)
                    .state(key)
            }
            async fn destroy(
                &self,
            ) -> ::std::result::Result<(), $crate::artifact::__private::ArtifactError> {
                let $this = self;
                $crate::artifact::RegionImages::new(&self.images, &self.generated, &$style)
                    .destroy(|$region: &str| $api)
                    .await
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn images() -> BTreeMap<String, String> {
        BTreeMap::from([
            ("cn-shanghai".to_string(), "m-2".to_string()),
            ("cn-beijing".to_string(), "m-1".to_string()),
        ])
    }

    #[test]
    fn images_by_region_read_as_packers_alicloud_and_tencentcloud_builders() {
        let (images, none) = (images(), BTreeMap::new());
        let style = Style::by_region("x.y", "Images({}) were made");
        let a = RegionImages::new(&images, &none, &style);
        assert_eq!(a.id(), "cn-beijing:m-1,cn-shanghai:m-2");
        assert_eq!(
            a.describe(),
            "Images(cn-beijing: m-1\ncn-shanghai: m-2) were made"
        );
        let metadata = a.state("atlas.artifact.metadata").unwrap();
        assert_eq!(metadata["region.cn-shanghai"], "m-2");
        assert_eq!(metadata.as_object().unwrap().len(), 2);
        assert!(a.state("generated_data").is_none());
        assert!(a.state("other").is_none());
    }

    #[test]
    fn project_keys_are_listed_by_project_and_region() {
        let images = BTreeMap::from([
            ("org-a:cn-bj2".to_string(), "uimage-1".to_string()),
            ("org-b:cn-sh2".to_string(), "uimage-2".to_string()),
        ]);
        let generated = BTreeMap::from([("ID".to_string(), "uhost-1".to_string())]);
        let style = Style {
            builder_id: "ucloud.uhost",
            id: IdForm::RegionImage,
            text: "UCloud images were created:\n\n{}",
            listing: Listing::ProjectRegionImage,
            metadata: Metadata::Images,
        };
        let a = RegionImages::new(&images, &generated, &style);
        assert_eq!(a.id(), "org-a:cn-bj2:uimage-1,org-b:cn-sh2:uimage-2");
        assert_eq!(
            a.describe(),
            "UCloud images were created:\n\norg-a: cn-bj2: uimage-1\norg-b: cn-sh2: uimage-2"
        );
        assert_eq!(
            a.state("atlas.artifact.metadata").unwrap(),
            serde_json::json!({"org-a:cn-bj2": "uimage-1", "org-b:cn-sh2": "uimage-2"})
        );
        assert_eq!(
            a.state("generated_data").unwrap(),
            serde_json::json!({"ID": "uhost-1"})
        );
    }

    #[test]
    fn an_image_alone_is_its_id() {
        let images = BTreeMap::from([("cn-north-4".to_string(), "img-1".to_string())]);
        let none = BTreeMap::new();
        let style = Style {
            builder_id: "huawei.huaweicloud",
            id: IdForm::Images,
            text: "An image was created: {}",
            listing: Listing::Id,
            metadata: Metadata::Absent,
        };
        let a = RegionImages::new(&images, &none, &style);
        assert_eq!(a.id(), "img-1");
        assert_eq!(a.describe(), "An image was created: img-1");
        assert!(a.state("atlas.artifact.metadata").is_none());
    }
}
