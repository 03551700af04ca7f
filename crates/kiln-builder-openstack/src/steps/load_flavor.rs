//! `StepLoadFlavor`: finds the flavor by id (`GET /flavors/{flavor}`),
//! else by name among all flavors, and stores its id. Creates nothing;
//! no cleanup.

use async_trait::async_trait;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};

use crate::client::{Call, Service};
use crate::OsState;

/// See the module docs.
pub struct StepLoadFlavor {
    /// `flavor`: an id or a name.
    pub flavor: String,
}

#[async_trait]
impl Step<OsState> for StepLoadFlavor {
    fn name(&self) -> &'static str {
        "StepLoadFlavor"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut OsState,
    ) -> Result<StepAction, StepError> {
        let c = &state.os.client;
        let f = &self.flavor;
        cx.ui.say(&format!("Loading flavor: {f}"));
        let by_id = Call::get(Service::Compute, "ShowFlavor", format!("/flavors/{f}"));
        let id = match c.call(&by_id, Some(&cx.cancel)).await {
            Ok(v) => v["flavor"]["id"].as_str().unwrap_or(f).to_string(),
            Err(id_error) => {
                let all = Call::get(Service::Compute, "ListFlavors", "/flavors/detail");
                let named = c.list_all(&all, "flavors").await.map(|flavors| {
                    flavors
                        .into_iter()
                        .filter(|x| x["name"].as_str() == Some(f.as_str()))
                        .filter_map(|x| x["id"].as_str().map(String::from))
                        .collect::<Vec<_>>()
                });
                match named {
                    Ok(ids) if ids.len() == 1 => ids[0].clone(),
                    other => {
                        let name_error = match other {
                            Ok(ids) if ids.is_empty() => {
                                format!("no flavor is named `{f}`")
                            }
                            Ok(ids) => format!("{} flavors are named `{f}`", ids.len()),
                            Err(e) => e.to_string(),
                        };
                        return Err(StepError::msg(format!(
                            "unable to find flavor `{f}` by id or name: by id: {id_error}; by name: {name_error}"
                        )));
                    }
                }
            }
        };
        cx.ui.message(&format!("Verified flavor. ID: {id}"));
        state.flavor_id = Some(id);
        Ok(StepAction::Continue)
    }
}
