//! `kiln cleanup -run <uuid>`: finds what a killed kiln left behind (a
//! SIGKILL runs no cleanup) through each cloud's own API, by the run tags
//! every resource carries (`kiln:run` in AWS, Alibaba Cloud, Tencent Cloud and
//! Huawei Cloud, and in OpenStack's metadata and properties, the
//! `kiln-<run>` business group in UCloud, the `kiln.run` label in Docker),
//! and deletes it; `-dry-run` only lists it. The work is
//! in the builders' `cleanup` modules (on kiln-cloud's sweep); this file
//! picks the clouds and reports.

use std::sync::Arc;

use kiln_core::ui::{BuildUi, Output, OutputMode};
use kiln_sdk::ui::Redactor;
use kiln_sdk::Ui;

use super::common;
use crate::cli::{self, Flag, Kind};

pub const USAGE: &str = "Usage: kiln cleanup -run UUID [options]

  Deletes everything a kiln run created and left behind, for example after
  kiln was killed (SIGKILL) and could not clean up. Every resource kiln
  creates carries the run's PACKER_RUN_UUID: the `kiln:run` tag in AWS,
  Alibaba Cloud, Tencent Cloud and Huawei Cloud, the `kiln-<run>` business
  group in UCloud, the `kiln.run` label in Docker. Running it again finds
  nothing.

  AWS credentials come from the standard chain (AWS_ACCESS_KEY_ID and
  AWS_SECRET_ACCESS_KEY, AWS_PROFILE, the shared files, instance metadata).
  AWS is searched when regions are given (-region, or AWS_REGION or
  AWS_DEFAULT_REGION); Docker (DOCKER_HOST) when its engine answers.
  Alibaba Cloud is searched with -cloud=alicloud (in the -region regions,
  else ALICLOUD_REGION), or by default when ALICLOUD_REGION is set, with
  ALICLOUD_ACCESS_KEY and ALICLOUD_SECRET_KEY (and ALICLOUD_SECURITY_TOKEN);
  ALICLOUD_ECS_ENDPOINT replaces its ECS endpoint. Tencent Cloud is searched
  with -cloud=tencentcloud (in the -region regions, else TENCENTCLOUD_REGION),
  or by default when TENCENTCLOUD_REGION is set, with TENCENTCLOUD_SECRET_ID
  and TENCENTCLOUD_SECRET_KEY (and TENCENTCLOUD_SECURITY_TOKEN);
  KILN_TENCENTCLOUD_ENDPOINT replaces its endpoints. UCloud is searched with
  -cloud=ucloud (in the -region regions, else UCLOUD_REGION), or by default
  when UCLOUD_REGION is set, with UCLOUD_PUBLIC_KEY, UCLOUD_PRIVATE_KEY and
  UCLOUD_PROJECT_ID; KILN_UCLOUD_BASE_URL replaces its API's URL. Huawei
  Cloud is searched with -cloud=huaweicloud (in one region: -region or
  HW_REGION_NAME), or by default when HW_REGION_NAME is set, with
  HW_ACCESS_KEY, HW_SECRET_KEY and HW_PROJECT_ID (that region's project);
  KILN_HUAWEICLOUD_ENDPOINT replaces every service's endpoint. OpenStack is
  searched with -cloud=openstack (in the project and region of the OS_*
  variables or of OS_CLOUD's clouds.yaml entry; -region picks another
  region), or by default when OS_AUTH_URL or OS_CLOUD is set. Its temporary
  key pairs carry no tag and are not found.

Options:

  -run=UUID               The run to clean up (its PACKER_RUN_UUID). Required.
  -dry-run                List what would be deleted; delete nothing.
  -cloud=amazon,docker    Only these clouds (comma-separated, repeatable):
                          amazon, alicloud, tencentcloud, ucloud,
                          huaweicloud, openstack, docker.
  -region=us-east-1,...   Regions to search (comma-separated, repeatable).
  -endpoint=URL           The EC2 and IAM endpoint URL (a private endpoint, moto).
";

pub const FLAGS: &[Flag] = &[
    Flag::new("run", Kind::Value),
    Flag::new("dry-run", Kind::Bool),
    Flag::new("cloud", Kind::Repeated),
    Flag::new("region", Kind::Repeated),
    Flag::new("endpoint", Kind::Value),
];

/// The clouds `kiln cleanup` knows.
const CLOUDS: &[&str] = &[
    "amazon",
    "alicloud",
    "tencentcloud",
    "ucloud",
    "huaweicloud",
    "openstack",
    "docker",
];

/// The clouds searched in the regions `-region` names, or else in the one
/// their environment variable names (which also selects them when no
/// `-cloud` is given).
const REGIONAL: [(&str, &str); 4] = [
    ("alicloud", "ALICLOUD_REGION"),
    ("tencentcloud", "TENCENTCLOUD_REGION"),
    ("ucloud", "UCLOUD_REGION"),
    ("huaweicloud", "HW_REGION_NAME"),
];

/// Cleans run `run` up in `regions` of `cloud` (one of [`REGIONAL`]), with
/// the credentials and endpoint its environment variables give; how many
/// resources were found.
async fn clean_regional(
    cloud: &str,
    run: &str,
    regions: &[String],
    env: &dyn Fn(&str) -> Option<String>,
    dry_run: bool,
    ui: &dyn Ui,
) -> Result<usize, String> {
    let e = |e: &dyn std::fmt::Display| e.to_string();
    match cloud {
        "alicloud" => {
            use kiln_builder_alicloud::cleanup;
            let key = cleanup::access_key_from_env(env).map_err(|x| e(&x))?;
            let endpoint = env("ALICLOUD_ECS_ENDPOINT");
            cleanup::find_and_delete(run, regions, key, endpoint.as_deref(), dry_run, ui)
                .await
                .map_err(|x| e(&x))
        }
        "tencentcloud" => {
            use kiln_builder_tencentcloud::cleanup;
            let credential = cleanup::credential_from_env(env).map_err(|x| e(&x))?;
            let endpoint = env("KILN_TENCENTCLOUD_ENDPOINT");
            cleanup::find_and_delete(run, regions, credential, endpoint.as_deref(), dry_run, ui)
                .await
                .map_err(|x| e(&x))
        }
        "ucloud" => {
            use kiln_builder_ucloud::cleanup;
            let base_url = env("KILN_UCLOUD_BASE_URL");
            let access = cleanup::access_from_env(env, base_url.as_deref()).map_err(|x| e(&x))?;
            cleanup::find_and_delete(run, regions, &access, dry_run, ui)
                .await
                .map_err(|x| e(&x))
        }
        _ => {
            use kiln_builder_huaweicloud::cleanup;
            let endpoint = env("KILN_HUAWEICLOUD_ENDPOINT");
            let region = regions.first().map(String::as_str).unwrap_or_default();
            let access =
                cleanup::access_from_env(env, region, endpoint.as_deref()).map_err(|x| e(&x))?;
            cleanup::find_and_delete(run, &access, dry_run, ui)
                .await
                .map_err(|x| e(&x))
        }
    }
}

/// Runs `kiln cleanup`.
pub fn run(args: Vec<String>) -> u8 {
    let usage_error = |e: &str| {
        eprintln!("error: {e}\n");
        eprint!("{USAGE}");
        1
    };
    let p = match cli::parse(&args, FLAGS) {
        Ok(p) => p,
        Err(e) => return usage_error(&e),
    };
    if p.help {
        print!("{USAGE}");
        return 0;
    }
    if let Some(extra) = p.args.first() {
        return usage_error(&format!("unexpected argument `{extra}`"));
    }
    let Some(run) = p.value("run").map(str::trim).filter(|r| !r.is_empty()) else {
        return usage_error("`-run` is required: the PACKER_RUN_UUID of the run to clean up");
    };
    let dry_run = match p.flag("dry-run") {
        Ok(d) => d,
        Err(e) => return usage_error(&e),
    };
    let clouds = p.list("cloud");
    if let Some(bad) = clouds.iter().find(|c| !CLOUDS.contains(&c.as_str())) {
        return usage_error(&format!(
            "unknown cloud `{bad}` in `-cloud`: kiln cleanup knows {}",
            CLOUDS.join(", ")
        ));
    }
    let mut regions = p.list("region");
    if regions.is_empty() {
        regions.extend(
            ["AWS_REGION", "AWS_DEFAULT_REGION"]
                .iter()
                .filter_map(|k| std::env::var(k).ok())
                .filter(|r| !r.is_empty())
                .take(1),
        );
    }
    let explicit = |c: &str| clouds.iter().any(|x| x == c);
    let amazon = if clouds.is_empty() {
        !regions.is_empty()
    } else {
        explicit("amazon")
    };
    if amazon && regions.is_empty() {
        return usage_error(
            "`-cloud=amazon` needs the regions to search: `-region`, AWS_REGION or AWS_DEFAULT_REGION",
        );
    }
    let docker = clouds.is_empty() || explicit("docker");
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    // The clouds searched by region, each with the regions to search:
    // `-region` when the cloud is asked for by name, else its variable.
    let mut regional = Vec::new();
    for (cloud, var) in REGIONAL {
        let regions: Vec<String> = if explicit(cloud) && !p.list("region").is_empty() {
            p.list("region")
        } else {
            env(var).into_iter().collect()
        };
        if !(explicit(cloud) || (clouds.is_empty() && !regions.is_empty())) {
            continue;
        }
        if regions.is_empty() {
            return usage_error(&format!(
                "`-cloud={cloud}` needs the regions to search: `-region` or {var}"
            ));
        }
        if cloud == "huaweicloud" && regions.len() > 1 {
            return usage_error(
                "`-cloud=huaweicloud` searches one region at a time: a Huawei Cloud project (HW_PROJECT_ID) belongs to one region",
            );
        }
        regional.push((cloud, regions));
    }
    // OpenStack: the project of the OS_* credentials, one region.
    let openstack = explicit("openstack")
        || (clouds.is_empty() && (env("OS_AUTH_URL").is_some() || env("OS_CLOUD").is_some()));
    let os_region = if explicit("openstack") {
        let given = p.list("region");
        if given.len() > 1 {
            return usage_error(
                "`-cloud=openstack` searches one region at a time: the OS_* credentials name one project",
            );
        }
        given.into_iter().next()
    } else {
        None
    };
    let endpoint = p.value("endpoint").map(str::to_string);

    let rt = match common::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    let output = Output::stdio(
        OutputMode::Human {
            color: false,
            timestamp: false,
        },
        Redactor::new(),
    );
    let ui: Arc<dyn Ui> = Arc::new(BuildUi::new(output, "cleanup", 0));
    let (found, searched, failed) = rt.block_on(async {
        let mut found = 0;
        let mut searched = Vec::new();
        let mut failed = false;
        if amazon {
            searched.push(format!("amazon ({})", regions.join(", ")));
            match kiln_builder_amazon::cleanup::find_and_delete(
                run,
                &regions,
                endpoint.as_deref(),
                dry_run,
                ui.as_ref(),
            )
            .await
            {
                Ok(n) => found += n,
                Err(e) => {
                    ui.error(&e.to_string());
                    failed = true;
                }
            }
        }
        for (cloud, regions) in &regional {
            searched.push(format!("{cloud} ({})", regions.join(", ")));
            match clean_regional(cloud, run, regions, &env, dry_run, ui.as_ref()).await {
                Ok(n) => found += n,
                Err(e) => {
                    ui.error(&e);
                    failed = true;
                }
            }
        }
        if openstack {
            use kiln_builder_openstack::cleanup;
            match cleanup::access_from_env(&env, os_region.as_deref()) {
                Ok(access) => {
                    searched.push(format!(
                        "openstack ({})",
                        access.region.as_deref().unwrap_or(&access.auth_url)
                    ));
                    match cleanup::find_and_delete(run, &access, dry_run, ui.as_ref()).await {
                        Ok(n) => found += n,
                        Err(e) => {
                            ui.error(&e.to_string());
                            failed = true;
                        }
                    }
                }
                Err(e) => {
                    ui.error(&e.to_string());
                    failed = true;
                }
            }
        }
        if docker {
            match kiln_builder_docker::connect().await {
                Ok(engine) => {
                    searched.push("docker".to_string());
                    match kiln_builder_docker::cleanup::find_and_delete(
                        &engine,
                        run,
                        dry_run,
                        ui.as_ref(),
                    )
                    .await
                    {
                        Ok(n) => found += n,
                        Err(e) => {
                            ui.error(&e.to_string());
                            failed = true;
                        }
                    }
                }
                // Asked for: an error. By default: skipped, and said so.
                Err(e) if explicit("docker") => {
                    ui.error(&e.to_string());
                    failed = true;
                }
                Err(e) => ui.message(&format!("docker skipped: {e}")),
            }
        }
        (found, searched, failed)
    });
    if searched.is_empty() && !failed {
        return usage_error(
            "nothing to search: give `-region` (AWS), `-cloud=alicloud` with `-region` or ALICLOUD_REGION (Alibaba Cloud), `-cloud=tencentcloud` with `-region` or TENCENTCLOUD_REGION (Tencent Cloud), `-cloud=ucloud` with `-region` or UCLOUD_REGION (UCloud), `-cloud=huaweicloud` with `-region` or HW_REGION_NAME (Huawei Cloud), `-cloud=openstack` with the OS_* variables (OpenStack), or make the docker engine reachable",
        );
    }
    let place = searched.join(" and ");
    if found == 0 {
        ui.say(&format!("Nothing of run `{run}` found in {place}"));
    } else if dry_run {
        ui.say(&format!(
            "{found} resource(s) of run `{run}` would be deleted from {place}"
        ));
    } else {
        ui.say(&format!(
            "{found} resource(s) of run `{run}` found in {place}{}",
            if failed {
                "; some could not be deleted"
            } else {
                " and deleted"
            }
        ));
    }
    u8::from(failed)
}
