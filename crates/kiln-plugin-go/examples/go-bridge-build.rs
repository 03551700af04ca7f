//! `go-bridge-build [-packer PATH] TEMPLATE`: builds a legacy JSON template
//! with kiln's engine, where packer 1.6.6's own builders, provisioners and
//! post-processors (served by `packer plugin packer-KIND-NAME`) replace
//! kiln's built-ins of the same name. For bench/go-plugins.sh and for
//! trying the bridge before plugin discovery is wired into `kiln build`.

use std::sync::Arc;

use kiln_core::ui::{Output, OutputMode};
use kiln_plugin_go::{
    builder_factory, post_processor_factory, provisioner_factory, ComponentKind, GoPluginCommand,
};
use kiln_sdk::ui::Redactor;
use tokio_util::sync::CancellationToken;

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut packer = "/usr/bin/packer".to_string();
    if args.first().map(String::as_str) == Some("-packer") && args.len() > 1 {
        packer = args.remove(1);
        args.remove(0);
    }
    let [template] = args.as_slice() else {
        eprintln!("usage: go-bridge-build [-packer PATH] TEMPLATE");
        std::process::exit(2);
    };
    let mut registry = kiln_registry::builtin();
    let cmd = |kind, name: &str| GoPluginCommand::packer_builtin(&packer, kind, name);
    for b in ["null", "file"] {
        registry
            .builders
            .insert(0, builder_factory(b, cmd(ComponentKind::Builder, b)));
    }
    for p in ["shell", "file", "shell-local"] {
        registry.provisioners.insert(
            0,
            provisioner_factory(p, cmd(ComponentKind::Provisioner, p)),
        );
    }
    for p in ["checksum", "compress"] {
        registry.post_processors.insert(
            0,
            post_processor_factory(p, cmd(ComponentKind::PostProcessor, p)),
        );
    }
    let path = std::path::Path::new(template);
    let plan = match kiln_template::legacy::load_partial(path).and_then(|(t, mut errors)| {
        let (plan, e) = kiln_template::plan_partial(
            &t,
            &Default::default(),
            &Default::default(),
            Default::default(),
        );
        errors.0.extend(e.0);
        errors.into_result(plan)
    }) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let options = kiln_core::Options {
        run_uuid: "00000000-0000-4000-8000-000000000000".into(),
        ..Default::default()
    };
    let redactor = Redactor::new();
    let builds = match kiln_core::prepare(&plan, &registry, &options, &redactor) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let output: Arc<Output> = Output::stdio(
        OutputMode::Human {
            color: false,
            timestamp: false,
        },
        redactor,
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let summary = rt.block_on(kiln_core::run(
        builds,
        output,
        options,
        CancellationToken::new(),
    ));
    std::process::exit(summary.exit_code());
}
