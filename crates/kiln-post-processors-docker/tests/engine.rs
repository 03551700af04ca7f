//! The docker post-processors against the real engine and a local registry:
//! tag → save (and the saved tar's manifest), tag → push → pull back, and
//! export tar → import. Every test removes its tags, images and registry.

// Each `#[tokio::test]` owns its runtime and thread, so holding the
// process-wide docker test lock across awaits cannot deadlock.
#![allow(clippy::await_holding_lock)]

use std::sync::Arc;

use kiln_builder_docker::{ExportArtifact, ImageArtifact, BUILDER_ID_IMPORT};
use kiln_docker_test::{base_image, docker, docker_ok, Cleanup, Registry};
use kiln_post_processors_docker::factories;
use kiln_sdk::component::KeepInput;
use kiln_sdk::config::RawConfig;
use kiln_sdk::ui::RecordingUi;
use kiln_sdk::{Artifact, PostProcessContext, PostProcessed};
use kiln_test::prepare_cx;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

async fn run_pp(
    name: &str,
    config: Value,
    input: Arc<dyn Artifact>,
) -> (PostProcessed, Vec<String>) {
    let factory = factories().into_iter().find(|f| f.name() == name).unwrap();
    let pp = factory
        .prepare(&RawConfig::from_value(config), &prepare_cx("docker"))
        .unwrap_or_else(|e| panic!("prepare {name}: {e}"))
        .component;
    let ui = RecordingUi::default();
    let interpolation = Default::default();
    let r = pp
        .post_process(
            PostProcessContext {
                ui: &ui,
                cancel: CancellationToken::new(),
                build_name: "docker",
                builder_type: "docker",
                run_uuid: "u",
                interpolation: &interpolation,
                record: &Default::default(),
                builder: None,
                options: Default::default(),
            },
            input,
        )
        .await
        .unwrap_or_else(|e| panic!("{name} failed: {e}\n{:#?}", ui.lines()));
    (r, ui.lines())
}

fn base_artifact() -> Arc<dyn Artifact> {
    let id = docker_ok(&["image", "inspect", "-f", "{{.Id}}", base_image()]);
    Arc::new(ImageArtifact {
        builder_id: BUILDER_ID_IMPORT.into(),
        id,
        tags: vec![],
        generated: Default::default(),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tag_then_save_writes_a_loadable_tar_with_the_tags() {
    let _lock = kiln_docker_test::shared();
    let repo = format!("kiln-test/{}", kiln_docker_test::unique("tagsave"));
    let cleanup = Cleanup::default();
    cleanup.image(&format!("{repo}:a"));
    cleanup.image(&format!("{repo}:b"));
    let (tagged, lines) = run_pp(
        "docker-tag",
        json!({"repository": repo, "tags": ["a", "b"], "force": true}),
        base_artifact(),
    )
    .await;
    assert_eq!(tagged.keep_input, KeepInput::Force(true));
    let t = &tagged.artifact;
    assert_eq!(t.builder_id(), "packer.post-processor.docker-tag");
    assert_eq!(t.id(), format!("{repo}:b"));
    assert_eq!(
        t.state("docker_tags"),
        Some(json!([format!("{repo}:a"), format!("{repo}:b")]))
    );
    assert!(
        lines.contains(&format!("message: Repository: {repo}:a")),
        "{lines:?}"
    );
    assert!(docker(&["image", "inspect", &format!("{repo}:a")])
        .status
        .success());

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("saved.tar");
    let (saved, lines) = run_pp(
        "docker-save",
        json!({"path": path.to_str().unwrap()}),
        tagged.artifact.clone(),
    )
    .await;
    assert_eq!(saved.artifact.id(), t.id(), "docker-save returns its input");
    assert!(
        lines.iter().any(|l| l.starts_with("message: Saved to: ")),
        "{lines:?}"
    );
    let mut archive = tar::Archive::new(std::fs::File::open(&path).unwrap());
    let mut manifest = None;
    for e in archive.entries().unwrap() {
        let mut e = e.unwrap();
        if e.path().unwrap().to_str() == Some("manifest.json") {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut e, &mut s).unwrap();
            manifest = Some(serde_json::from_str::<Value>(&s).unwrap());
        }
    }
    let manifest = manifest.expect("docker save tar has a manifest.json");
    assert_eq!(manifest[0]["RepoTags"], json!([format!("{repo}:b")]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tag_push_to_a_local_registry_and_pull_back() {
    let _lock = kiln_docker_test::shared();
    let registry = Registry::start();
    let repo = format!("{}/kiln-test/pushed", registry.address);
    let cleanup = Cleanup::default();
    cleanup.image(&format!("{repo}:v1"));
    cleanup.image(&format!("{repo}:v2"));
    let (tagged, _) = run_pp(
        "docker-tag",
        json!({"repository": repo, "tags": ["v1", "v2"]}),
        base_artifact(),
    )
    .await;
    let (pushed, lines) = run_pp(
        "docker-push",
        json!({"login": true, "login_server": registry.address, "login_username": "u", "login_password": "p4ss"}),
        tagged.artifact.clone(),
    )
    .await;
    assert_eq!(pushed.artifact.builder_id(), BUILDER_ID_IMPORT);
    assert_eq!(pushed.artifact.id(), format!("{repo}:v2"));
    assert!(
        lines.contains(&format!("message: Pushing: {repo}:v1")),
        "{lines:?}"
    );
    assert!(!lines.iter().any(|l| l.contains("p4ss")), "{lines:?}");

    // Remove the local tags, then pull back from the registry.
    docker_ok(&["rmi", &format!("{repo}:v1"), &format!("{repo}:v2")]);
    assert!(!docker(&["image", "inspect", &format!("{repo}:v1")])
        .status
        .success());
    docker_ok(&["pull", &format!("{repo}:v1")]);
    let pulled = docker_ok(&["image", "inspect", "-f", "{{.Id}}", &format!("{repo}:v1")]);
    let base = docker_ok(&["image", "inspect", "-f", "{{.Id}}", base_image()]);
    assert_eq!(pulled, base, "the pulled image is the one pushed");
    drop(registry);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_turns_an_export_into_an_image() {
    let _lock = kiln_docker_test::shared();
    let repo = format!("kiln-test/{}", kiln_docker_test::unique("import"));
    let cleanup = Cleanup::default();
    cleanup.image(&format!("{repo}:v1"));
    // An exported file system: the base image's, via a created container.
    let dir = tempfile::tempdir().unwrap();
    let tar = dir.path().join("fs.tar");
    let cid = docker_ok(&["create", base_image()]);
    cleanup.container(&cid);
    docker_ok(&["export", "-o", tar.to_str().unwrap(), &cid]);
    let (imported, lines) = run_pp(
        "docker-import",
        json!({"repository": repo, "tag": "v1", "changes": ["ENV IMPORTED=yes"]}),
        Arc::new(ExportArtifact { path: tar }),
    )
    .await;
    assert_eq!(imported.keep_input, KeepInput::Default(false));
    assert_eq!(imported.artifact.builder_id(), BUILDER_ID_IMPORT);
    assert_eq!(imported.artifact.id(), format!("{repo}:v1"));
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("message: Imported ID: sha256:")),
        "{lines:?}"
    );
    let env = docker_ok(&[
        "image",
        "inspect",
        "-f",
        "{{json .Config.Env}}",
        &format!("{repo}:v1"),
    ]);
    assert!(env.contains("IMPORTED=yes"), "{env}");
    // Destroying the artifact removes the image.
    imported.artifact.destroy().await.unwrap();
    assert!(!docker(&["image", "inspect", &format!("{repo}:v1")])
        .status
        .success());
}

#[tokio::test]
async fn wrong_inputs_are_rejected_clearly() {
    let f = factories()
        .into_iter()
        .find(|f| f.name() == "docker-save")
        .unwrap();
    let pp = f
        .prepare(
            &RawConfig::from_value(json!({"path": "x.tar"})),
            &prepare_cx("docker"),
        )
        .ok()
        .unwrap()
        .component;
    let ui = RecordingUi::default();
    let interpolation = Default::default();
    let e = pp
        .post_process(
            PostProcessContext {
                ui: &ui,
                cancel: CancellationToken::new(),
                build_name: "b",
                builder_type: "docker",
                run_uuid: "u",
                interpolation: &interpolation,
                record: &Default::default(),
                builder: None,
                options: Default::default(),
            },
            Arc::new(ExportArtifact { path: "x".into() }),
        )
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("`docker-save` cannot use an artifact of type `packer.docker`"),
        "{e}"
    );
}

/// packer 1.6.6 validates `docker-tag` without `repository` and
/// `docker-save` without `path`, then fails when they run (`Error parsing
/// reference: ":latest" is not a valid repository/tag`, `Error creating
/// output file: open : no such file or directory`). kiln prepares them with
/// a warning and fails the run with the key's name, tagging nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_repository_or_path_passes_prepare_and_fails_the_run() {
    let _lock = kiln_docker_test::shared();
    let input = base_artifact();
    let tags_before = docker_ok(&["image", "inspect", "-f", "{{.RepoTags}}", base_image()]);
    for (name, config, expected) in [
        (
            "docker-tag",
            json!({"tag": "latest"}),
            "`docker-tag`: `repository` is required: the repository to tag the image into",
        ),
        (
            "docker-save",
            json!({}),
            "`docker-save`: `path` is required: the tar file to save the image to",
        ),
    ] {
        let factory = factories().into_iter().find(|f| f.name() == name).unwrap();
        let prepared = factory
            .prepare(&RawConfig::from_value(config), &prepare_cx("docker"))
            .unwrap_or_else(|e| panic!("prepare {name}: {e}"));
        assert!(
            prepared
                .warnings
                .iter()
                .any(|w| w.contains("is not set") && w.contains("will fail when it runs")),
            "{:?}",
            prepared.warnings
        );
        let ui = RecordingUi::default();
        let interpolation = Default::default();
        let e = prepared
            .component
            .post_process(
                PostProcessContext {
                    ui: &ui,
                    cancel: CancellationToken::new(),
                    build_name: "docker",
                    builder_type: "docker",
                    run_uuid: "u",
                    interpolation: &interpolation,
                    record: &Default::default(),
                    builder: None,
                    options: Default::default(),
                },
                input.clone(),
            )
            .await
            .err()
            .unwrap_or_else(|| panic!("{name} succeeded"))
            .to_string();
        assert!(e.contains(expected), "{e}");
        assert!(e.contains("hint: set"), "{e}");
    }
    assert_eq!(
        docker_ok(&["image", "inspect", "-f", "{{.RepoTags}}", base_image()]),
        tags_before
    );
}
