//! The one table of kiln's built-in components, of all four kinds
//! (builders, provisioners, post-processors, data sources), in the spirit
//! of Packer's generated `command/execute.go`: greppable, ordered, no
//! link-time magic. Plugin discovery adds plugin components to the same
//! [`Registry`] at run time (`kiln_plugin::discover::register`).

use kiln_sdk::{
    BuilderFactory, DataSourceFactory, PostProcessorFactory, ProvisionerFactory, Registry,
};

/// Every built-in builder type.
pub fn builders() -> Vec<Box<dyn BuilderFactory>> {
    vec![
        Box::new(kiln_builder_alicloud::AlicloudEcsBuilderFactory),
        Box::new(kiln_builder_amazon::AmazonEbsBuilderFactory),
        Box::new(kiln_builder_docker::DockerBuilderFactory),
        Box::new(kiln_builder_file::FileBuilderFactory),
        Box::new(kiln_builder_huaweicloud::HuaweicloudEcsBuilderFactory),
        Box::new(kiln_builder_null::NullBuilderFactory),
        Box::new(kiln_builder_openstack::OpenstackBuilderFactory),
        Box::new(kiln_builder_qemu::QemuBuilderFactory),
        Box::new(kiln_builder_tencentcloud::TencentCloudCvmBuilderFactory),
        Box::new(kiln_builder_ucloud::UcloudUhostBuilderFactory),
    ]
}

/// Every built-in provisioner type.
pub fn provisioners() -> Vec<Box<dyn ProvisionerFactory>> {
    let mut v = kiln_provisioners::factories();
    v.push(Box::new(
        kiln_provisioner_ansible::AnsibleProvisionerFactory,
    ));
    v.push(Box::new(
        kiln_provisioner_ansible_local::AnsibleLocalProvisionerFactory,
    ));
    v.extend(kiln_provisioners_cm::factories());
    v.push(Box::new(kiln_provisioner_sbom::SbomProvisionerFactory));
    v
}

/// Every built-in post-processor type.
pub fn post_processors() -> Vec<Box<dyn PostProcessorFactory>> {
    let mut v = kiln_post_processors::factories();
    v.extend(kiln_post_processors_docker::factories());
    v.push(Box::new(
        kiln_post_processor_alicloud_import::AlicloudImportFactory,
    ));
    v.push(Box::new(
        kiln_post_processor_ucloud_import::UcloudImportFactory,
    ));
    v.push(kiln_shell_local::post_processor_factory());
    v.push(Box::new(kiln_post_processor_test::TestPostProcessorFactory));
    v.push(Box::new(kiln_provenance::ProvenanceFactory));
    v
}

/// Every built-in data source type (HCL2 `data` blocks).
pub fn data_sources() -> Vec<Box<dyn DataSourceFactory>> {
    kiln_data_sources::factories()
}

/// The registry of built-ins.
pub fn builtin() -> Registry {
    Registry {
        builders: builders(),
        provisioners: provisioners(),
        post_processors: post_processors(),
        data_sources: data_sources(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_cover_packer_basics() {
        let r = builtin();
        for names in [
            r.builder_names(),
            r.provisioner_names(),
            r.post_processor_names(),
            r.data_source_names(),
        ] {
            let mut names = names;
            names.sort_unstable();
            let mut d = names.clone();
            d.dedup();
            assert_eq!(d, names, "duplicate component names");
        }
        assert_eq!(
            r.builder_names(),
            [
                "alicloud-ecs",
                "amazon-ebs",
                "docker",
                "file",
                "huaweicloud-ecs",
                "null",
                "openstack",
                "qemu",
                "tencentcloud-cvm",
                "ucloud-uhost"
            ]
        );
        assert_eq!(r.data_source_names(), ["null", "http"]);
        for p in [
            "ansible-local",
            "breakpoint",
            "chef-client",
            "chef-solo",
            "puppet-masterless",
            "puppet-server",
            "sbom",
            "shell-local",
            "sleep",
        ] {
            assert!(r.provisioner(p).is_some(), "missing provisioner {p}");
        }
        for p in [
            "alicloud-import",
            "artifice",
            "checksum",
            "compress",
            "docker-import",
            "docker-push",
            "docker-save",
            "docker-tag",
            "manifest",
            "provenance",
            "shell-local",
            "ucloud-import",
        ] {
            assert!(r.post_processor(p).is_some(), "missing post-processor {p}");
        }
    }
}
