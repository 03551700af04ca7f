//! The `breakpoint` provisioner: pauses the build until the user presses
//! enter, showing an optional `note`; `disable: true` turns it into a
//! message. Cancelling the build ends the wait. Holds no resources; nothing
//! to clean up.

use async_trait::async_trait;
use kiln_sdk::communicator::Communicator;
use kiln_sdk::component::BuildError;
use kiln_sdk::config::{decode, DecodeOptions};
use kiln_sdk::{
    ConfigErrors, PrepareContext, Prepared, ProvisionContext, Provisioner, ProvisionerFactory,
    RawConfig,
};
use serde::Deserialize;

/// Declares the `breakpoint` provisioner.
pub struct BreakpointProvisionerFactory;

/// The keys of a `breakpoint` block.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Fields {
    note: String,
    disable: bool,
}

impl ProvisionerFactory for BreakpointProvisionerFactory {
    fn name(&self) -> &'static str {
        "breakpoint"
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
        Ok(Prepared::new(Box::new(BreakpointProvisioner {
            note: fields.note,
            disable: fields.disable,
        })))
    }
}

/// A prepared `breakpoint` provisioner.
struct BreakpointProvisioner {
    note: String,
    disable: bool,
}

/// What Packer asks at a breakpoint.
const QUESTION: &str = "Press enter to continue.";

#[async_trait]
impl Provisioner for BreakpointProvisioner {
    /// It only pauses: nothing in the machine changes.
    fn effects(&self) -> kiln_sdk::checkpoint::Effects {
        kiln_sdk::checkpoint::Effects::Outside
    }

    async fn provision(
        &self,
        cx: ProvisionContext<'_>,
        _communicator: &dyn Communicator,
    ) -> Result<(), BuildError> {
        if self.disable {
            cx.ui.say(&if self.note.is_empty() {
                "Breakpoint provisioner disabled; continuing...".to_string()
            } else {
                format!(
                    "Breakpoint provisioner with note \"{}\" disabled; continuing...",
                    self.note
                )
            });
            return Ok(());
        }
        cx.ui.say(&if self.note.is_empty() {
            "Pausing at breakpoint provisioner.".to_string()
        } else {
            format!(
                "Pausing at breakpoint provisioner with note \"{}\".",
                self.note
            )
        });
        tokio::select! {
            answer = cx.ui.ask(QUESTION) => answer
                .map(drop)
                .map_err(|e| BuildError::msg(format!("error asking for input: {e}"))),
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

    fn prepare(v: serde_json::Value) -> Box<dyn Provisioner> {
        match BreakpointProvisionerFactory
            .prepare(&RawConfig::from_value(v), &build_cx("web", "null"))
        {
            Ok(p) => p.component,
            Err(e) => panic!("{e}"),
        }
    }

    /// Runs `p` with no machine behind it and no generated data.
    async fn provision(p: &dyn Provisioner, ui: &RecordingUi) -> Result<(), BuildError> {
        provision_locally(p, ui, CancellationToken::new(), Default::default()).await
    }

    #[tokio::test]
    async fn pauses_until_enter() {
        let p = prepare(json!({"note": "check {{build_name}}"}));
        let ui = RecordingUi::with_answers(&[""]);
        provision(p.as_ref(), &ui).await.unwrap();
        assert_eq!(
            ui.lines(),
            vec![
                "say: Pausing at breakpoint provisioner with note \"check web\".",
                "ask: Press enter to continue.",
            ]
        );
        let p = prepare(json!({}));
        let ui = RecordingUi::with_answers(&[""]);
        provision(p.as_ref(), &ui).await.unwrap();
        assert_eq!(ui.lines()[0], "say: Pausing at breakpoint provisioner.");
    }

    #[tokio::test]
    async fn disabled_only_says_so() {
        let p = prepare(json!({"disable": true, "note": "foo bar"}));
        let ui = RecordingUi::default();
        provision(p.as_ref(), &ui).await.unwrap();
        assert_eq!(
            ui.lines(),
            vec!["say: Breakpoint provisioner with note \"foo bar\" disabled; continuing..."]
        );
        let p = prepare(json!({"disable": "true"}));
        let ui = RecordingUi::default();
        provision(p.as_ref(), &ui).await.unwrap();
        assert_eq!(
            ui.lines(),
            vec!["say: Breakpoint provisioner disabled; continuing..."]
        );
    }

    #[tokio::test]
    async fn fails_without_a_terminal() {
        let p = prepare(json!({"note": "n"}));
        let ui = RecordingUi::default();
        let err = provision(p.as_ref(), &ui).await.unwrap_err();
        assert!(
            err.to_string().starts_with("error asking for input: "),
            "{err}"
        );
    }

    #[test]
    fn rejects_bad_values() {
        let e = BreakpointProvisionerFactory
            .prepare(
                &RawConfig::from_value(json!({"disable": "yes", "nope": 1})),
                &build_cx("web", "null"),
            )
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("unknown configuration key `nope`"), "{e}");
        assert!(e.contains("`disable`: expected a boolean"), "{e}");
    }
}
