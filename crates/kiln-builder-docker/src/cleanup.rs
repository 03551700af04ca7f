//! What `kiln cleanup -run <uuid>` does in the Docker engine: every build
//! container kiln creates carries the run labels ([`kiln_sdk::run_tags`]:
//! `kiln.run` = the run's `PACKER_RUN_UUID`, `kiln.build` = the build's
//! name), so a container a SIGKILLed kiln left behind can be listed by
//! label and force-removed with its anonymous volumes. Committed images
//! are artifacts and stay; since Docker copies a container's labels into
//! the image committed from it, a container whose image carries the same
//! run label is not the run's own and is left alone. Holds nothing;
//! removing twice is harmless.

use std::collections::HashMap;

use bollard::query_parameters::{ListContainersOptions, RemoveContainerOptions};
use bollard::Docker;
use kiln_sdk::run_tags;
use kiln_sdk::Ui;

use crate::client::{is_not_found, Context, DockerError};

/// Removes the containers labelled `kiln.run` = `run` (with `dry_run`,
/// only lists them). Returns how many were found.
pub async fn find_and_delete(
    docker: &Docker,
    run: &str,
    dry_run: bool,
    ui: &dyn Ui,
) -> Result<usize, DockerError> {
    let filters = HashMap::from([(
        "label".to_string(),
        vec![format!("{}={run}", run_tags::LABEL_RUN)],
    )]);
    let containers = docker
        .list_containers(Some(ListContainersOptions {
            all: true,
            filters: Some(filters),
            ..Default::default()
        }))
        .await
        .context(|| format!("cannot list the containers of run `{run}`"))?;
    let mut count = 0;
    let mut failures = Vec::new();
    for c in containers {
        let Some(id) = c.id else { continue };
        let label = c
            .labels
            .as_ref()
            .and_then(|l| l.get(run_tags::LABEL_RUN))
            .map(String::as_str);
        if label != Some(run) || image_has_run(docker, c.image_id.as_deref(), run).await {
            continue;
        }
        count += 1;
        let short = &id[..id.len().min(12)];
        if dry_run {
            ui.say(&format!("Would remove container {short}"));
            continue;
        }
        ui.say(&format!("Removing container {short}"));
        let removed = docker
            .remove_container(
                &id,
                Some(RemoveContainerOptions {
                    force: true,
                    v: true,
                    ..Default::default()
                }),
            )
            .await;
        match removed {
            Ok(()) => {}
            Err(e) if is_not_found(&e) => {}
            Err(e) => failures.push(format!(
                "cannot remove container `{short}`: {}",
                crate::client::engine_message(&e)
            )),
        }
    }
    if failures.is_empty() {
        Ok(count)
    } else {
        Err(DockerError::Msg(failures.join("\n  ")))
    }
}

/// True when image `id` itself carries `kiln.run` = `run` (a container
/// started from an image a run committed inherits the label).
async fn image_has_run(docker: &Docker, id: Option<&str>, run: &str) -> bool {
    let Some(id) = id.filter(|i| !i.is_empty()) else {
        return false;
    };
    match docker.inspect_image(id).await {
        Ok(image) => image
            .config
            .and_then(|c| c.labels)
            .and_then(|l| l.get(run_tags::LABEL_RUN).cloned())
            .is_some_and(|v| v == run),
        Err(_) => false,
    }
}
