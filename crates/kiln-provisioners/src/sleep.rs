//! The `sleep` provisioner: waits for `duration` (a Go duration such as
//! `30s` or `1m30s`) and says nothing, as in Packer. Cancelling the build
//! ends the wait at once. Holds no resources; nothing to clean up.

use std::time::Duration;

use async_trait::async_trait;
use kiln_sdk::communicator::Communicator;
use kiln_sdk::component::BuildError;
use kiln_sdk::config::{decode, DecodeOptions};
use kiln_sdk::duration::parse_go_duration;
use kiln_sdk::{
    ConfigError, ConfigErrors, PrepareContext, Prepared, ProvisionContext, Provisioner,
    ProvisionerFactory, RawConfig,
};
use serde::Deserialize;

/// Declares the `sleep` provisioner.
pub struct SleepProvisionerFactory;

/// The keys of a `sleep` block.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Fields {
    /// A Go duration string; a bare number is nanoseconds (mapstructure
    /// decodes it straight into Go's `time.Duration`).
    duration: Option<serde_json::Value>,
}

/// Turns `duration` into a typed value plus an optional warning. Missing
/// means zero; negative durations sleep zero, as Go's `time.After` does.
fn parse_duration(value: Option<&serde_json::Value>) -> Result<(Duration, Option<String>), String> {
    use serde_json::Value;
    match value {
        None | Some(Value::Null) => Ok((Duration::ZERO, None)),
        Some(Value::String(s)) => match s.trim().strip_prefix('-') {
            Some(positive) => parse_go_duration(positive).map(|_| {
                (
                    Duration::ZERO,
                    Some(format!(
                        "`duration` `{s}` is negative; the sleep is skipped"
                    )),
                )
            }),
            None => parse_go_duration(s).map(|d| (d, None)),
        },
        Some(Value::Number(n)) => {
            let nanos = n.as_f64().unwrap_or(0.0);
            let d = if nanos > 0.0 {
                Duration::from_nanos(nanos as u64)
            } else {
                Duration::ZERO
            };
            let warning = (nanos != 0.0).then(|| {
                format!("`duration` `{n}` has no unit and is read as nanoseconds, as in Packer; write `{n}s` for seconds")
            });
            Ok((d, warning))
        }
        Some(other) => Err(format!(
            "expected a duration like `30s` or `1m30s`, found `{other}`"
        )),
    }
}

impl ProvisionerFactory for SleepProvisionerFactory {
    fn name(&self) -> &'static str {
        "sleep"
    }

    fn prepare(
        &self,
        raw: &RawConfig,
        cx: &PrepareContext,
    ) -> Result<Prepared<Box<dyn Provisioner>>, ConfigErrors> {
        let fields: Fields = decode(
            raw,
            &DecodeOptions {
                interpolate: Some(&cx.interpolation),
                ..Default::default()
            },
        )?;
        let (duration, warning) = parse_duration(fields.duration.as_ref())
            .map_err(|e| ConfigErrors::from(ConfigError::at("duration", e)).locate(raw))?;
        let mut prepared =
            Prepared::new(Box::new(SleepProvisioner { duration }) as Box<dyn Provisioner>);
        prepared.warnings.extend(warning);
        Ok(prepared)
    }
}

/// A prepared `sleep` provisioner.
struct SleepProvisioner {
    duration: Duration,
}

#[async_trait]
impl Provisioner for SleepProvisioner {
    /// It only waits: nothing in the machine changes.
    fn effects(&self) -> kiln_sdk::checkpoint::Effects {
        kiln_sdk::checkpoint::Effects::Outside
    }

    async fn provision(
        &self,
        cx: ProvisionContext<'_>,
        _communicator: &dyn Communicator,
    ) -> Result<(), BuildError> {
        tokio::select! {
            () = tokio::time::sleep(self.duration) => Ok(()),
            () = cx.cancel.cancelled() => Err(BuildError::Cancelled),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_sdk::ui::RecordingUi;
    use kiln_test::{build_cx, provision_locally};
    use serde_json::json;
    use tokio_util::sync::CancellationToken;

    fn prepare(v: serde_json::Value) -> Result<Prepared<Box<dyn Provisioner>>, ConfigErrors> {
        SleepProvisionerFactory.prepare(&RawConfig::from_value(v), &build_cx("web", "null"))
    }

    #[test]
    fn parses_durations_like_packer() {
        let d = |v: serde_json::Value| parse_duration(Some(&v));
        assert_eq!(d(json!("1m30s")).unwrap(), (Duration::from_secs(90), None));
        assert_eq!(d(json!(5)).unwrap().0, Duration::from_nanos(5));
        assert!(d(json!(5)).unwrap().1.unwrap().contains("nanoseconds"));
        assert_eq!(d(json!("-1s")).unwrap().0, Duration::ZERO);
        assert!(d(json!("-1s")).unwrap().1.unwrap().contains("negative"));
        assert_eq!(parse_duration(None).unwrap(), (Duration::ZERO, None));
        assert!(d(json!("5")).unwrap_err().contains("missing unit"));
        assert!(d(json!(["1s"]))
            .unwrap_err()
            .contains("expected a duration"));
    }

    #[test]
    fn reports_bad_durations_and_unknown_keys() {
        let text = match prepare(json!({"duration": "5x"})) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("`5x` was accepted"),
        };
        assert!(text.contains("`duration`: unknown unit `x`"), "{text}");
        let text = match prepare(json!({"duraton": "5s"})) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("`duraton` was accepted"),
        };
        assert!(text.contains("did you mean `duration`?"), "{text}");
    }

    #[tokio::test]
    async fn sleeps_for_the_duration() {
        let p = prepare(json!({"duration": "{{user `d`}}300ms"})).unwrap();
        let ui = RecordingUi::default();
        let started = std::time::Instant::now();
        provision_locally(
            p.component.as_ref(),
            &ui,
            CancellationToken::new(),
            Default::default(),
        )
        .await
        .unwrap();
        assert!(started.elapsed() >= Duration::from_millis(300));
        assert!(ui.lines().is_empty(), "{:?}", ui.lines());
    }

    #[tokio::test]
    async fn cancellation_ends_the_sleep() {
        let p = prepare(json!({"duration": "1h"})).unwrap();
        let ui = RecordingUi::default();
        let cancel = CancellationToken::new();
        let c = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            c.cancel();
        });
        let started = std::time::Instant::now();
        let r = provision_locally(p.component.as_ref(), &ui, cancel, Default::default()).await;
        assert!(matches!(r, Err(BuildError::Cancelled)), "{r:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
