//! The sweep behind `kiln cleanup -run <uuid> -cloud=…`: what a killed
//! kiln (SIGKILL runs no cleanup) left in a cloud is found through the
//! cloud's own API by the run tags every resource carries, kind by kind in
//! an order the cloud accepts (instances before the networks they sit in),
//! and deleted; `-dry-run` only lists it. Each cloud says how to list and
//! delete one kind in one region ([`RegionSweep`]); the loop, its messages
//! and its error report are here once ([`sweep`]). What is gone already
//! counts as deleted, so a second sweep finds nothing and does nothing.
//! Holds nothing.

use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use kiln_sdk::Ui;
use tokio_util::sync::CancellationToken;

use crate::{ApiError, CheckError, Poller, Status};

/// The variables `vars` as `env` reads them, when every one is set (an
/// empty value is unset): a cloud's credentials for `kiln cleanup`.
pub fn env_all<const N: usize>(
    env: &dyn Fn(&str) -> Option<String>,
    vars: [&str; N],
) -> Option<[String; N]> {
    let mut out = Vec::with_capacity(N);
    for v in vars {
        out.push(env_value(env, v)?);
    }
    out.try_into().ok()
}

/// The variable `var` as `env` reads it, `None` when unset or empty.
pub fn env_value(env: &dyn Fn(&str) -> Option<String>, var: &str) -> Option<String> {
    env(var).filter(|v| !v.is_empty())
}

/// Why a cloud's `kiln cleanup` did not finish; `C` is the cloud
/// client's error. Each cloud names it (`pub type CleanupError =
/// kiln_cloud::sweep::CleanupError<ClientError>`).
#[derive(Debug, thiserror::Error)]
pub enum CleanupError<C: std::error::Error + 'static> {
    /// No credentials in the environment.
    #[error("no {cloud} credentials: set {needed}")]
    NoCredentials {
        /// The cloud (`Alibaba Cloud`).
        cloud: &'static str,
        /// The variables to set, in words.
        needed: &'static str,
    },
    /// The client could not be made.
    #[error("{0}")]
    Client(C),
    /// Some resources could not be listed or deleted; every other one was.
    #[error(transparent)]
    Failed(#[from] SweepFailed),
}

/// Some resources of a run could not be listed or deleted; every other
/// one was.
#[derive(Debug, thiserror::Error)]
#[error("{} resource(s) of run `{run}` could not be cleaned up:\n  {}", .failures.len(), .failures.join("\n  "))]
pub struct SweepFailed {
    /// The run.
    pub run: String,
    /// What failed, one line each.
    pub failures: Vec<String>,
}

/// One region of one cloud, as [`sweep`] walks it.
#[async_trait]
pub trait RegionSweep: Send {
    /// The kinds of resources the cloud's builders make.
    type Kind: Copy + Send + Sync;

    /// The kinds, in the order they are deleted.
    fn kinds(&self) -> Vec<Self::Kind>;

    /// `security group`, as messages name one.
    fn noun(&self, kind: Self::Kind) -> &'static str;

    /// `security groups`.
    fn plural(&self, kind: Self::Kind) -> String {
        format!("{}s", self.noun(kind))
    }

    /// The ids of `kind` that carry `run`. Runs before any of `kind` is
    /// deleted and after every earlier kind was, and may note what a later
    /// kind needs (the EIPs of the run's instances).
    async fn list(&mut self, kind: Self::Kind, run: &str) -> Result<Vec<String>, String>;

    /// Deletes `kind` `id`; gone already is done.
    async fn delete(&self, kind: Self::Kind, id: &str) -> Result<(), String>;
}

/// Lists (with `dry_run`) or deletes what `run` left in each region,
/// saying each resource on `ui` (`Deleting security group sg-1 in
/// cn-hangzhou`); how many it found. Listing and deleting go on past a
/// failure; the failures come back together.
pub async fn sweep<S: RegionSweep>(
    run: &str,
    regions: Vec<(String, S)>,
    dry_run: bool,
    ui: &dyn Ui,
) -> Result<usize, SweepFailed> {
    let mut failures = Vec::new();
    let mut found = 0;
    for (region, mut cloud) in regions {
        for kind in cloud.kinds() {
            let ids = match cloud.list(kind, run).await {
                Ok(ids) => ids,
                Err(e) => {
                    failures.push(format!(
                        "cannot list {}: {e} (in {region})",
                        cloud.plural(kind)
                    ));
                    continue;
                }
            };
            found += ids.len();
            let verb = if dry_run { "Would delete" } else { "Deleting" };
            for id in &ids {
                ui.say(&format!("{verb} {} {id} in {region}", cloud.noun(kind)));
            }
            if dry_run {
                continue;
            }
            for id in &ids {
                if let Err(e) = cloud.delete(kind, id).await {
                    failures.push(format!(
                        "cannot delete {} {id}: {e} (in {region})",
                        cloud.noun(kind)
                    ));
                }
            }
        }
    }
    if failures.is_empty() {
        Ok(found)
    } else {
        Err(SweepFailed {
            run: run.to_string(),
            failures,
        })
    }
}

/// How long a sweep waits for one resource (gone, or deletable).
pub fn poller() -> Poller {
    Poller::tracking(
        Duration::from_secs(900),
        Duration::from_millis(200),
        Duration::from_secs(10),
    )
}

/// Calls `delete` until it succeeds, or fails with an error whose code is
/// not in `busy` ("still in use": the cloud sees a deleted instance in its
/// network for a while), for as long as [`poller`] waits; `what` names the
/// resource in the timeout message.
pub async fn delete_when_free<F, Fut>(what: &str, busy: &[&str], delete: F) -> Result<(), String>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<(), ApiError>>,
{
    poller()
        .wait(
            &format!("{what} to be deletable"),
            &CancellationToken::new(),
            || {
                let call = delete();
                async move {
                    match call.await {
                        Ok(()) => Ok(Status::Ready(())),
                        Err(e) if e.is(busy) => Ok(Status::Pending(e.to_string())),
                        Err(e) => Err(CheckError::from(e)),
                    }
                }
            },
        )
        .await
        .map_err(|e| e.to_string())
}

/// Terminates instance `id` through the cloud's instance calls and waits
/// until it is gone (`what` names it in messages: `server 1f2e…`).
pub async fn terminate_instance<A: crate::steps::instance::InstanceApi>(
    api: &A,
    id: &str,
    what: &str,
) -> Result<(), String> {
    api.terminate(id).await.map_err(|e| e.to_string())?;
    wait_gone(what, || async move {
        Ok(api.observe(id).await?.map(|o| o.state))
    })
    .await
}

/// Waits until `observe` finds `what` gone (`None`); its state meanwhile
/// is the `Some`.
pub async fn wait_gone<F, Fut>(what: &str, observe: F) -> Result<(), String>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<Option<String>, CheckError>>,
{
    poller()
        .wait(
            &format!("{what} to be deleted"),
            &CancellationToken::new(),
            || {
                let call = observe();
                async move {
                    Ok::<_, CheckError>(match call.await? {
                        None => Status::Ready(()),
                        Some(state) => Status::Pending(state),
                    })
                }
            },
        )
        .await
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_sdk::ui::RecordingUi;
    use std::sync::{Arc, Mutex};

    #[test]
    fn credentials_are_read_only_when_every_variable_is_set_and_not_empty() {
        let env = |k: &str| match k {
            "ID" => Some("id".to_string()),
            "SECRET" => Some("s".to_string()),
            "EMPTY" => Some(String::new()),
            _ => None,
        };
        assert_eq!(
            env_all(&env, ["ID", "SECRET"]),
            Some(["id".to_string(), "s".to_string()])
        );
        assert_eq!(env_all(&env, ["ID", "EMPTY"]), None);
        assert_eq!(env_all(&env, ["ID", "UNSET"]), None);
        assert_eq!(env_value(&env, "EMPTY"), None);
        assert_eq!(env_value(&env, "ID").as_deref(), Some("id"));
    }

    /// A cloud of two kinds whose listing of `"broken"` fails and whose
    /// deletion of `"stuck"` fails.
    struct Fake {
        deleted: Arc<Mutex<Vec<String>>>,
    }

    #[async_trait]
    impl RegionSweep for Fake {
        type Kind = &'static str;
        fn kinds(&self) -> Vec<&'static str> {
            vec!["instance", "broken", "vSwitch"]
        }
        fn noun(&self, kind: &'static str) -> &'static str {
            kind
        }
        fn plural(&self, kind: &'static str) -> String {
            match kind {
                "vSwitch" => "vSwitches".into(),
                k => format!("{k}s"),
            }
        }
        async fn list(&mut self, kind: &'static str, run: &str) -> Result<Vec<String>, String> {
            match kind {
                "broken" => Err("denied".into()),
                "instance" => Ok(vec![format!("i-{run}"), "stuck".into()]),
                _ => Ok(vec!["vsw-1".into()]),
            }
        }
        async fn delete(&self, _kind: &'static str, id: &str) -> Result<(), String> {
            if id == "stuck" {
                return Err("in use".into());
            }
            self.deleted.lock().unwrap().push(id.to_string());
            Ok(())
        }
    }

    #[tokio::test]
    async fn every_kind_is_listed_in_order_and_failures_come_back_together() {
        let deleted = Arc::new(Mutex::new(Vec::new()));
        let ui = RecordingUi::default();
        let regions = vec![(
            "r1".to_string(),
            Fake {
                deleted: deleted.clone(),
            },
        )];
        let err = sweep("run", regions, false, &ui).await.unwrap_err();
        assert_eq!(*deleted.lock().unwrap(), ["i-run", "vsw-1"]);
        assert_eq!(
            err.failures,
            [
                "cannot delete instance stuck: in use (in r1)",
                "cannot list brokens: denied (in r1)",
            ]
        );
        assert!(err
            .to_string()
            .starts_with("2 resource(s) of run `run` could not be cleaned up:"));
        assert_eq!(
            ui.lines(),
            [
                "say: Deleting instance i-run in r1",
                "say: Deleting instance stuck in r1",
                "say: Deleting vSwitch vsw-1 in r1",
            ]
        );
    }

    #[tokio::test]
    async fn a_dry_run_lists_and_deletes_nothing() {
        let deleted = Arc::new(Mutex::new(Vec::new()));
        let ui = RecordingUi::default();
        let fake = || Fake {
            deleted: deleted.clone(),
        };
        let regions = vec![("r1".to_string(), fake()), ("r2".to_string(), fake())];
        let err = sweep("run", regions, true, &ui).await.unwrap_err();
        assert!(deleted.lock().unwrap().is_empty());
        assert_eq!(err.failures.len(), 2, "{err}");
        let said = ui.lines();
        assert_eq!(said.len(), 6, "{said:?}");
        assert_eq!(said[5], "say: Would delete vSwitch vsw-1 in r2");
    }
}
