//! HCL2 templates with Packer 1.6.6's own components as Go plugins: their
//! configs travel as cty JSON in msgpack `bin` (plugin-protocol.md §4.1),
//! as Packer sends them, and the plugins see the right values: lists,
//! numbers, bools and maps reach shell-local, checksum and docker intact.

mod common;

use common::*;
use kiln_plugin_go::cty::CtyType;
use kiln_plugin_go::{ComponentKind, ConfigEncoding, GoProvisionerFactory};

#[test]
fn hcl2_template_sends_cty_configs_and_plugins_see_the_values() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let out_txt = dir.join("out.txt");
    let target = dir.join("target.txt");
    let template = format!(
        r#"
source "go-null" "a" {{
  communicator = "none"
}}

source "go-file" "f" {{
  content = "checksummed\n"
  target  = "{target}"
}}

build {{
  sources = ["source.go-null.a"]

  provisioner "go-shell-local" {{
    environment_vars  = ["A=1", "B=two words"]
    inline            = ["echo \"A=$A B=$B\" > {out}", "echo from-cty-shell", "exit 7"]
    valid_exit_codes  = [0, 7]
    use_linux_pathing = false
    only_on           = ["linux"]
  }}
}}

build {{
  sources = ["source.go-file.f"]

  post-processor "go-checksum" {{
    checksum_types      = ["sha256", "md5"]
    output              = "{dir}/out.{{{{.ChecksumType}}}}"
    keep_input_artifact = true
  }}
}}
"#,
        target = target.display(),
        out = out_txt.display(),
        dir = dir.display(),
    );
    let builds = prepare_hcl(&registry(), dir, &template).unwrap_or_else(|e| panic!("{e}"));
    let out = run(builds);
    assert_eq!(out.summary.exit_code(), 0, "{}", out.text());
    // The list of strings (environment_vars), the list of numbers
    // (valid_exit_codes: `exit 7` passes) and the inline lines arrived.
    assert_eq!(
        std::fs::read_to_string(&out_txt).unwrap(),
        "A=1 B=two words\n"
    );
    assert!(out.text().contains("from-cty-shell"), "{}", out.text());
    // checksum_types reached the checksum post-processor: one file each.
    let sha = std::fs::read_to_string(dir.join("out.sha256")).unwrap();
    assert!(sha.contains("target.txt"), "{sha}");
    assert!(dir.join("out.md5").exists());
    assert!(!dir.join("out.sha1").exists());
}

const BOGUS: &str = r#"
source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]
  provisioner "go-shell-local" {
    inline = ["true"]
    bogus  = 1
  }
}
"#;

#[test]
fn hcl2_configs_go_as_cty_and_json_configs_as_maps() {
    // The same unknown key, as each decoder in the plugin words it: a cty
    // value fails gocty's check against the flat config struct, a map
    // fails mapstructure's.
    let d = tempfile::tempdir().unwrap();
    let e = prepare_hcl(&registry(), d.path(), BOGUS)
        .err()
        .expect("bogus is unknown");
    assert!(e.contains("unsupported attribute \"bogus\""), "{e}");
    assert!(e.contains("template.pkr.hcl:"), "{e}");

    let mut r = registry();
    r.provisioners.retain(|p| p.name() != "go-shell-local");
    r.provisioners.push(Box::new(
        GoProvisionerFactory::new(
            "go-shell-local",
            packer(ComponentKind::Provisioner, "shell-local"),
        )
        .with_config_encoding(ConfigEncoding::Legacy),
    ));
    let e = prepare_hcl(&r, d.path(), BOGUS)
        .err()
        .expect("bogus is unknown");
    assert!(!e.contains("unsupported attribute"), "{e}");
    assert!(e.contains("bogus"), "{e}");
}

#[test]
fn a_map_attribute_reaches_a_go_map_field() {
    // docker's `volumes` is a Go map[string]string: it takes a cty map
    // (not an object). Prepare only; nothing runs docker.
    let d = tempfile::tempdir().unwrap();
    let template = r#"
source "go-docker" "d" {
  image       = "busybox:latest"
  discard     = true
  volumes     = { "/tmp" = "/mnt/tmp", "/srv" = "/srv" }
  run_command = ["-d", "-i", "-t", "{{.Image}}", "/bin/sh"]
  changes     = ["ENV A=1"]
}

build {
  sources = ["source.go-docker.d"]
}
"#;
    let builds = prepare_hcl(&registry(), d.path(), template).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(builds.len(), 1);

    // The type matters: the same value typed as an object is refused by
    // the plugin's gocty check.
    use kiln_plugin_go::cty::marshal;
    use kiln_plugin_go::msgpack::Value;
    let config = serde_json::json!({
        "image": "busybox:latest", "discard": true,
        "volumes": {"/tmp": "/mnt/tmp"}
    });
    let mut ty = CtyType::infer(&config);
    let CtyType::Object(attrs) = &mut ty else {
        panic!("{ty:?}")
    };
    assert_eq!(attrs["volumes"], CtyType::Map(Box::new(CtyType::String)));
    let prepare = |ty: &CtyType| {
        let bin = marshal(&config, ty).unwrap();
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let conn = kiln_plugin_go::plugin::PluginConn::start(&packer(
                ComponentKind::Builder,
                "docker",
            ))
            .await
            .unwrap();
            let reply = conn
                .call(
                    "Builder.Prepare",
                    Value::map([("Configs", Value::Array(vec![Value::Bin(bin)]))]),
                )
                .await
                .unwrap();
            reply.get("Error").cloned().unwrap_or(Value::Nil)
        })
    };
    assert!(prepare(&ty).is_nil());
    attrs_as_object(&mut ty);
    let e = format!("{:?}", prepare(&ty));
    assert!(e.contains("volumes"), "{e}");
}

fn attrs_as_object(ty: &mut CtyType) {
    if let CtyType::Object(attrs) = ty {
        attrs.insert(
            "volumes".into(),
            CtyType::Object([("/tmp".to_string(), CtyType::String)].into()),
        );
    }
}
