//! Run the source instance and wait until it runs; stop it before imaging:
//! the instance family of the generic cloud steps.
//!
//! - [`InstanceApi`]: the cloud's calls: create the instance from the
//!   cloud's own launch request ([`InstanceApi::Launch`]: EC2's
//!   `RunInstances` with its many options, alicloud's `CreateInstance`,
//!   an OpenStack server create), start it where creating does not
//!   (alicloud's `StartInstance`), look at it, stop it, terminate it; and
//!   the cloud's wording ([`InstanceWording`]).
//! - [`LaunchPlan`]: the builder's half of launching: the launch request,
//!   built from its config and the state, and what to record once the
//!   instance runs (the address to connect to).
//! - [`InstanceState`]: where the launched instance is recorded, as soon as
//!   the create call returns it and before the start and the wait, which
//!   may fail.
//! - [`StepRunInstance`]: creates, records, starts and waits until running.
//!   Stores the ids it launched; its cleanup terminates each and waits
//!   until it is terminated (or gone), reporting problems; a second
//!   cleanup does nothing.
//! - [`StepStopInstance`]: stops the instance and waits until it is
//!   stopped ([`StopMode`]: through the API, by a provisioner, or not at
//!   all). Creates nothing; nothing to clean up.
//! - [`wait_running`], [`terminate_and_wait`]: the waits on their own, for
//!   launches that do not fit the step (amazon's spot fleet).

use async_trait::async_trait;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};
use kiln_sdk::Ui;
use tokio_util::sync::CancellationToken;

use super::{fill, wait_error};
use crate::{ApiError, CheckError, Poller, Status};

/// Where an instance is in its life, as the steps need to know it; each
/// cloud maps its own states onto these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Being created or started (`pending`, `Starting`, `BUILD`).
    Starting,
    /// Running (`running`, `Running`, `ACTIVE`).
    Running,
    /// Being stopped (`stopping`).
    Stopping,
    /// Stopped (`stopped`, `Stopped`, `SHUTOFF`).
    Stopped,
    /// Being terminated (`shutting-down`, `Deleting`).
    Terminating,
    /// Terminated: gone for good, though still listed.
    Terminated,
    /// Broken: it can no longer run (`ERROR`).
    Failed,
}

/// Where a server of Nova (or a Nova-style API: Huawei's ECS) is, from
/// its `status` and `OS-EXT-STS:task_state`.
pub fn nova_phase(status: &str, task_state: &str) -> Phase {
    match (status, task_state) {
        (_, "deleting") => Phase::Terminating,
        ("ACTIVE", "powering-off") => Phase::Stopping,
        ("BUILD" | "REBUILD" | "HARD_REBOOT" | "REBOOT", _) => Phase::Starting,
        ("ACTIVE", _) => Phase::Running,
        ("SHUTOFF" | "STOPPED", _) => Phase::Stopped,
        ("DELETED" | "SOFT_DELETED", _) => Phase::Terminated,
        ("ERROR", _) => Phase::Failed,
        _ => Phase::Starting,
    }
}

/// One look at an instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed<I> {
    /// Its phase.
    pub phase: Phase,
    /// The cloud's own word for its state (`pending`, `ACTIVE`), for
    /// messages.
    pub state: String,
    /// Why it is in that state, when the cloud says.
    pub reason: Option<String>,
    /// The cloud's description of it.
    pub instance: I,
}

/// What a create call returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launched<I> {
    /// The instance's id.
    pub id: String,
    /// The cloud's description of it, when the call returned one.
    pub instance: Option<I>,
}

/// A UI line of the cloud's wording; `{id}` stands for the instance's id.
pub use super::Text;

fn show(texts: &[Text], ui: &dyn Ui, id: &str) {
    super::show(texts, ui, &[("id", id)]);
}

/// What the steps say, in each cloud's words (Packer's, for each cloud's
/// builder). In the templates, `{id}` is the instance's id and `{error}`
/// the error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceWording {
    /// The cloud's name for an instance, in waits' messages (`instance`,
    /// `server`).
    pub noun: &'static str,
    /// The cloud's name, for "unknown to …" (`EC2`).
    pub cloud: &'static str,
    /// Once the create call returned the id.
    pub launched: &'static [Text],
    /// Before the start call (none where creating starts the instance).
    pub starting: &'static [Text],
    /// The run's error when the start call fails.
    pub start_failed: &'static str,
    /// Before waiting until it runs.
    pub waiting_running: &'static [Text],
    /// Before the stop call.
    pub stopping: &'static [Text],
    /// The run's error when the stop call fails.
    pub stop_failed: &'static str,
    /// When a provisioner is to stop the instance.
    pub stop_by_provisioner: &'static [Text],
    /// Before waiting until it is stopped.
    pub waiting_stopped: &'static [Text],
    /// Before the terminate call (cleanup).
    pub terminating: &'static [Text],
    /// The UI error when the terminate call fails (cleanup).
    pub terminate_failed: &'static str,
}

impl InstanceWording {
    /// Plain wording, for a cloud that has no Packer wording of its own.
    pub const GENERIC: InstanceWording = InstanceWording {
        noun: "instance",
        cloud: "the cloud",
        launched: &[Text::Message("Instance ID: {id}")],
        starting: &[Text::Say("Starting instance: {id}")],
        start_failed: "error starting instance: {error}",
        waiting_running: &[Text::Say("Waiting for instance ({id}) to become ready...")],
        stopping: &[Text::Say("Stopping instance: {id}")],
        stop_failed: "error stopping instance: {error}",
        stop_by_provisioner: &[Text::Say(
            "Automatic instance stop disabled. Please stop instance manually.",
        )],
        waiting_stopped: &[Text::Say("Waiting for instance ({id}) to stop...")],
        terminating: &[Text::Say("Terminating instance: {id}")],
        terminate_failed: "Error terminating instance `{id}`, may still be around: {error}",
    };
}

/// The cloud calls of the instance steps, implemented by each builder on
/// its client wrapper: every call retried by [`crate::Api`]'s policy, the
/// create idempotent (a client token, or a look by the run tags before a
/// retry) and tagging what it creates with the run tags.
#[async_trait]
pub trait InstanceApi: Send + Sync {
    /// The cloud's launch request (everything its create call takes),
    /// built by the builder's [`LaunchPlan`].
    type Launch: Send + Sync;
    /// The cloud's description of an instance (its addresses, its disks).
    type Instance: Send + Sync;

    /// Creates the instance (`RunInstances`, `CreateInstance`, a server
    /// create). The error is the step's, in the cloud's words
    /// (`error launching source instance: …`), or
    /// [`StepError::Cancelled`] when `cancel` fired while it retried.
    async fn create(
        &self,
        launch: &Self::Launch,
        cancel: &CancellationToken,
    ) -> Result<Launched<Self::Instance>, StepError>;

    /// Starts the created instance, for clouds whose create leaves it
    /// stopped; by default nothing (creating started it).
    async fn start(&self, _id: &str) -> Result<(), ApiError> {
        Ok(())
    }

    /// Whether [`InstanceApi::start`] is a call of this cloud (the
    /// `starting` lines are said only then); by default not.
    fn starts_separately(&self) -> bool {
        false
    }

    /// One look at instance `id`; `None` while the cloud does not know it
    /// (just created, or long gone).
    async fn observe(&self, id: &str) -> Result<Option<Observed<Self::Instance>>, CheckError>;

    /// Stops instance `id`. An instance already stopped is the cloud's to
    /// judge (OpenStack answers 409 and the implementation says done).
    async fn stop(&self, id: &str) -> Result<(), ApiError>;

    /// Terminates instance `id`; an instance the cloud does not know is
    /// terminated already (not an error).
    async fn terminate(&self, id: &str) -> Result<(), ApiError>;

    /// What the steps say.
    fn wording(&self) -> &InstanceWording {
        &InstanceWording::GENERIC
    }
}

/// The instance steps' view of the builder's state.
pub trait InstanceState: Send {
    /// The cloud's instance calls.
    type Api: InstanceApi;
    /// The client for the instance calls (cheap: a clone of the builder's
    /// client).
    fn instance_api(&self) -> Self::Api;
    /// Records the launched instance, before anything that may fail after
    /// the create call.
    fn record_instance(&mut self, launched: Launched<<Self::Api as InstanceApi>::Instance>);
    /// The instance to stop, when one was launched.
    fn instance_id(&self) -> Option<String>;
}

/// The builder's half of launching.
pub trait LaunchPlan<S: InstanceState>: Send + Sync {
    /// The launch request, from the builder's config and `state`; says
    /// what the cloud's builder says before launching. Fails before
    /// anything is created.
    fn request(&self, ui: &dyn Ui, state: &S)
        -> Result<<S::Api as InstanceApi>::Launch, StepError>;

    /// Records the running instance (the address to connect to).
    fn running(
        &self,
        state: &mut S,
        instance: <S::Api as InstanceApi>::Instance,
    ) -> Result<(), StepError>;
}

/// Waits until instance `id` runs and returns its description. A phase
/// other than starting (stopped, terminated, failed) ends the wait with
/// the cloud's state and reason.
pub async fn wait_running<A: InstanceApi>(
    api: &A,
    poller: &Poller,
    id: &str,
    cancel: &CancellationToken,
) -> Result<A::Instance, StepError> {
    let w = api.wording();
    let (noun, cloud) = (w.noun, w.cloud);
    poller
        .wait(
            &format!("{noun} ({id}) to become ready"),
            cancel,
            || async move {
                match api.observe(id).await? {
                    None => Ok(Status::Pending(format!("unknown to {cloud}"))),
                    Some(o) => match o.phase {
                        Phase::Running => Ok(Status::Ready(o.instance)),
                        Phase::Starting => Ok(Status::Pending(o.state)),
                        _ => Err(CheckError::Failed(format!(
                            "the {noun} is `{}`: {}",
                            o.state,
                            o.reason.as_deref().unwrap_or("no reason given")
                        ))),
                    },
                }
            },
        )
        .await
        .map_err(wait_error)
}

/// Waits until instance `id` is stopped. An instance that is gone,
/// terminating or broken ends the wait.
pub async fn wait_stopped<A: InstanceApi>(
    api: &A,
    poller: &Poller,
    id: &str,
    cancel: &CancellationToken,
) -> Result<(), StepError> {
    let noun = api.wording().noun;
    poller
        .wait(&format!("{noun} ({id}) to stop"), cancel, || async move {
            let Some(o) = api.observe(id).await? else {
                return Err(CheckError::Failed(format!(
                    "the {noun} `{id}` does not exist"
                )));
            };
            match o.phase {
                Phase::Stopped => Ok(Status::Ready(())),
                Phase::Terminating | Phase::Terminated | Phase::Failed => {
                    Err(CheckError::Failed(format!("the {noun} is `{}`", o.state)))
                }
                _ => Ok(Status::Pending(o.state)),
            }
        })
        .await
        .map_err(wait_error)
}

/// Terminates instance `id` and waits until it is terminated or gone;
/// problems are reported on `ui`, not returned (cleanup). Terminating an
/// instance that is gone already is fine.
pub async fn terminate_and_wait<A: InstanceApi>(
    api: &A,
    poller: &Poller,
    id: &str,
    ui: &dyn Ui,
    cancel: &CancellationToken,
) {
    let w = api.wording();
    show(w.terminating, ui, id);
    if let Err(e) = api.terminate(id).await {
        ui.error(&fill(
            w.terminate_failed,
            &[("id", id), ("error", &e.to_string())],
        ));
        return;
    }
    let noun = w.noun;
    let r: Result<(), crate::PollError<CheckError>> = poller
        .wait(
            &format!("{noun} ({id}) to terminate"),
            cancel,
            || async move {
                match api.observe(id).await? {
                    None => Ok(Status::Ready(())),
                    Some(o) if o.phase == Phase::Terminated => Ok(Status::Ready(())),
                    Some(o) if o.state.is_empty() => Ok(Status::Pending("unknown".into())),
                    Some(o) => Ok(Status::Pending(o.state)),
                }
            },
        )
        .await;
    if let Err(e) = r {
        ui.error(&wait_error(e).to_string());
    }
}

/// Runs the source instance: see the module docs.
pub struct StepRunInstance<P> {
    name: &'static str,
    plan: P,
    poller: Poller,
    /// Every instance this step created, to terminate (more than one only
    /// when `-on-error=ask` retried the step).
    launched: Vec<String>,
}

impl<P> StepRunInstance<P> {
    /// A step named `name` (Packer's step name, for `-debug` and the
    /// events) launching by `plan` and waiting as `poller` says.
    pub fn new(name: &'static str, plan: P, poller: Poller) -> Self {
        StepRunInstance {
            name,
            plan,
            poller,
            launched: Vec::new(),
        }
    }
}

#[async_trait]
impl<S, P> Step<S> for StepRunInstance<P>
where
    S: InstanceState,
    P: LaunchPlan<S>,
{
    fn name(&self) -> &'static str {
        self.name
    }

    async fn run(&mut self, cx: &StepContext<'_>, state: &mut S) -> Result<StepAction, StepError> {
        let api = state.instance_api();
        let request = self.plan.request(cx.ui, state)?;
        let launched = api.create(&request, &cx.cancel).await?;
        let id = launched.id.clone();
        self.launched.push(id.clone());
        state.record_instance(launched);
        let w = api.wording();
        show(w.launched, cx.ui, &id);
        if api.starts_separately() {
            show(w.starting, cx.ui, &id);
            api.start(&id).await.map_err(|e| {
                StepError::msg(fill(
                    w.start_failed,
                    &[("id", &id), ("error", &e.to_string())],
                ))
            })?;
        }
        show(w.waiting_running, cx.ui, &id);
        let instance = wait_running(&api, &self.poller, &id, &cx.cancel).await?;
        self.plan.running(state, instance)?;
        Ok(StepAction::Continue)
    }

    async fn cleanup(&mut self, cx: &StepContext<'_>, state: &mut S) {
        if self.launched.is_empty() {
            return;
        }
        let api = state.instance_api();
        for id in std::mem::take(&mut self.launched) {
            terminate_and_wait(&api, &self.poller, &id, cx.ui, &cx.cancel).await;
        }
    }
}

/// How the instance gets stopped before it is imaged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopMode {
    /// Through the API, then waited for.
    Api,
    /// A provisioner stops it (`disable_stop_instance`); only waited for.
    ByProvisioner,
    /// Not at all: it is imaged as it runs (amazon's spot instances,
    /// which cannot be stopped). The step says and does nothing.
    Skip,
}

/// Stops the instance: see the module docs.
pub struct StepStopInstance {
    name: &'static str,
    mode: StopMode,
    poller: Poller,
}

impl StepStopInstance {
    /// A step named `name` (Packer's step name) stopping the instance as
    /// `mode` says and waiting as `poller` says.
    pub fn new(name: &'static str, mode: StopMode, poller: Poller) -> Self {
        StepStopInstance { name, mode, poller }
    }
}

#[async_trait]
impl<S: InstanceState> Step<S> for StepStopInstance {
    fn name(&self) -> &'static str {
        self.name
    }

    async fn run(&mut self, cx: &StepContext<'_>, state: &mut S) -> Result<StepAction, StepError> {
        if self.mode == StopMode::Skip {
            return Ok(StepAction::Continue);
        }
        let Some(id) = state.instance_id() else {
            return Err(StepError::msg("there is no instance to stop"));
        };
        let api = state.instance_api();
        let w = api.wording();
        match self.mode {
            StopMode::Api => {
                show(w.stopping, cx.ui, &id);
                api.stop(&id).await.map_err(|e| {
                    StepError::msg(fill(
                        w.stop_failed,
                        &[("id", &id), ("error", &e.to_string())],
                    ))
                })?;
            }
            StopMode::ByProvisioner => show(w.stop_by_provisioner, cx.ui, &id),
            StopMode::Skip => {}
        }
        show(w.waiting_stopped, cx.ui, &id);
        wait_stopped(&api, &self.poller, &id, &cx.cancel).await?;
        Ok(StepAction::Continue)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use kiln_sdk::ui::RecordingUi;

    use super::*;
    use crate::steps::testing::{refusal, FakeCalls, ALWAYS};

    /// What the fake says when it refuses a call.
    const REFUSED: &str = "refused by the fake";

    /// An instance of the fake cloud.
    #[derive(Debug, Clone, PartialEq, Eq)]
    struct Vm {
        id: String,
        address: String,
    }

    /// The fake cloud: instances move one phase on after `delay` looks.
    struct Cloud {
        instances: BTreeMap<String, (Phase, u32)>,
        next: u32,
        calls: FakeCalls,
        /// Creating leaves the instance stopped; `start` starts it.
        separate_start: bool,
        /// Where a starting instance ends up.
        boots_to: Phase,
        /// Looks before a transient phase moves on.
        delay: u32,
        /// Cancelled at this look.
        cancel_at: Option<(usize, CancellationToken)>,
        /// What the steps say.
        wording: &'static InstanceWording,
    }

    #[derive(Clone)]
    struct Fake(Arc<Mutex<Cloud>>);

    impl Fake {
        fn new() -> Fake {
            Fake(Arc::new(Mutex::new(Cloud {
                instances: BTreeMap::new(),
                next: 0,
                calls: FakeCalls::default(),
                separate_start: false,
                boots_to: Phase::Running,
                delay: 2,
                cancel_at: None,
                wording: &InstanceWording::GENERIC,
            })))
        }
        fn with(self, f: impl FnOnce(&mut Cloud)) -> Fake {
            f(&mut self.0.lock().unwrap());
            self
        }
        fn calls(&self) -> Vec<String> {
            self.0.lock().unwrap().calls.calls()
        }
        fn phase(&self, id: &str) -> Option<Phase> {
            self.0.lock().unwrap().instances.get(id).map(|i| i.0)
        }
        fn set(&self, id: &str, phase: Phase) {
            let mut c = self.0.lock().unwrap();
            let delay = c.delay;
            c.instances.insert(id.to_string(), (phase, delay));
        }
    }

    fn word(p: Phase) -> &'static str {
        match p {
            Phase::Starting => "pending",
            Phase::Running => "running",
            Phase::Stopping => "stopping",
            Phase::Stopped => "stopped",
            Phase::Terminating => "shutting-down",
            Phase::Terminated => "terminated",
            Phase::Failed => "error",
        }
    }

    #[async_trait]
    impl InstanceApi for Fake {
        type Launch = String;
        type Instance = Vm;

        async fn create(
            &self,
            launch: &String,
            _cancel: &CancellationToken,
        ) -> Result<Launched<Vm>, StepError> {
            let mut c = self.0.lock().unwrap();
            c.next += 1;
            let id = format!("i-{}", c.next);
            c.calls.record(format!("create {launch}"));
            let phase = if c.separate_start {
                Phase::Stopped
            } else {
                Phase::Starting
            };
            let delay = c.delay;
            c.instances.insert(id.clone(), (phase, delay));
            Ok(Launched {
                id: id.clone(),
                instance: Some(Vm {
                    id,
                    address: String::new(),
                }),
            })
        }

        async fn start(&self, id: &str) -> Result<(), ApiError> {
            let mut c = self.0.lock().unwrap();
            c.calls.record(format!("start {id}"));
            c.calls.fault("start")?;
            let delay = c.delay;
            c.instances.insert(id.to_string(), (Phase::Starting, delay));
            Ok(())
        }

        fn starts_separately(&self) -> bool {
            self.0.lock().unwrap().separate_start
        }

        fn wording(&self) -> &InstanceWording {
            self.0.lock().unwrap().wording
        }

        async fn observe(&self, id: &str) -> Result<Option<Observed<Vm>>, CheckError> {
            let mut c = self.0.lock().unwrap();
            c.calls.record(format!("observe {id}"));
            let looks = c.calls.count("observe");
            if let Some((at, token)) = &c.cancel_at {
                if *at == looks {
                    token.cancel();
                }
            }
            let (boots_to, delay) = (c.boots_to, c.delay);
            let Some((phase, left)) = c.instances.get_mut(id) else {
                return Ok(None);
            };
            if *left == 0 {
                *phase = match *phase {
                    Phase::Starting => boots_to,
                    Phase::Stopping => Phase::Stopped,
                    Phase::Terminating => Phase::Terminated,
                    p => p,
                };
                *left = delay;
            } else {
                *left -= 1;
            }
            let phase = *phase;
            Ok(Some(Observed {
                phase,
                state: word(phase).to_string(),
                reason: (phase == Phase::Failed).then(|| "no valid host".to_string()),
                instance: Vm {
                    id: id.to_string(),
                    address: "10.0.0.1".into(),
                },
            }))
        }

        async fn stop(&self, id: &str) -> Result<(), ApiError> {
            let mut c = self.0.lock().unwrap();
            c.calls.record(format!("stop {id}"));
            c.calls.fault("stop")?;
            let delay = c.delay;
            c.instances.insert(id.to_string(), (Phase::Stopping, delay));
            Ok(())
        }

        async fn terminate(&self, id: &str) -> Result<(), ApiError> {
            let mut c = self.0.lock().unwrap();
            c.calls.record(format!("terminate {id}"));
            c.calls.fault("terminate")?;
            let delay = c.delay;
            if let Some(i) = c.instances.get_mut(id) {
                if i.0 != Phase::Terminated {
                    *i = (Phase::Terminating, delay);
                }
            }
            Ok(())
        }
    }

    struct St {
        api: Fake,
        recorded: Option<Launched<Vm>>,
        host: Option<String>,
    }

    impl St {
        fn new(api: &Fake) -> St {
            St {
                api: api.clone(),
                recorded: None,
                host: None,
            }
        }
    }

    impl InstanceState for St {
        type Api = Fake;
        fn instance_api(&self) -> Fake {
            self.api.clone()
        }
        fn record_instance(&mut self, launched: Launched<Vm>) {
            self.recorded = Some(launched);
        }
        fn instance_id(&self) -> Option<String> {
            self.recorded.as_ref().map(|l| l.id.clone())
        }
    }

    /// Launches `build`; refuses to with `refuse`.
    struct Plan {
        refuse: bool,
    }

    impl LaunchPlan<St> for Plan {
        fn request(&self, ui: &dyn Ui, _state: &St) -> Result<String, StepError> {
            ui.say("Launching a source instance...");
            if self.refuse {
                return Err(StepError::msg("problem reading user data file `x`"));
            }
            Ok("build".into())
        }
        fn running(&self, state: &mut St, instance: Vm) -> Result<(), StepError> {
            state.host = Some(instance.address);
            Ok(())
        }
    }

    fn poller() -> Poller {
        Poller::new(Duration::from_secs(60), Duration::from_secs(1))
    }

    fn run_step(refuse: bool) -> StepRunInstance<Plan> {
        StepRunInstance::new("StepRunSourceInstance", Plan { refuse }, poller())
    }

    fn cx(ui: &RecordingUi, cancel: CancellationToken) -> StepContext<'_> {
        StepContext {
            ui,
            cancel,
            failed: false,
        }
    }

    fn observes(calls: &[String]) -> usize {
        calls.iter().filter(|c| c.starts_with("observe")).count()
    }

    #[tokio::test(start_paused = true)]
    async fn launch_records_the_instance_then_waits_until_it_runs() {
        let fake = Fake::new();
        let mut state = St::new(&fake);
        let mut step = run_step(false);
        let ui = RecordingUi::default();
        let r = step
            .run(&cx(&ui, CancellationToken::new()), &mut state)
            .await;
        assert_eq!(r.unwrap(), StepAction::Continue);
        assert_eq!(state.instance_id().as_deref(), Some("i-1"));
        assert_eq!(state.host.as_deref(), Some("10.0.0.1"));
        assert_eq!(fake.phase("i-1"), Some(Phase::Running));
        let calls = fake.calls();
        assert_eq!(calls[0], "create build");
        // Pending twice, then running.
        assert_eq!(observes(&calls), 3, "{calls:?}");
        assert_eq!(
            ui.lines(),
            [
                "say: Launching a source instance...",
                "message: Instance ID: i-1",
                "say: Waiting for instance (i-1) to become ready...",
            ]
        );

        // The instance is terminated after the build, and waited for; a
        // second cleanup does nothing.
        let ui = RecordingUi::default();
        step.cleanup(&cx(&ui, CancellationToken::new()), &mut state)
            .await;
        assert_eq!(fake.phase("i-1"), Some(Phase::Terminated));
        assert_eq!(ui.lines(), ["say: Terminating instance: i-1"]);
        let before = fake.calls().len();
        step.cleanup(&cx(&ui, CancellationToken::new()), &mut state)
            .await;
        assert_eq!(fake.calls().len(), before);
        assert_eq!(ui.lines().len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_start_that_fails_after_the_create_still_terminates() {
        let fake = Fake::new().with(|c| {
            c.separate_start = true;
            c.calls.fail(
                "start",
                ALWAYS,
                refusal("StartInstance", "IncorrectInstanceStatus", REFUSED),
            );
        });
        let mut state = St::new(&fake);
        let mut step = run_step(false);
        let ui = RecordingUi::default();
        let e = step
            .run(&cx(&ui, CancellationToken::new()), &mut state)
            .await
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "error starting instance: IncorrectInstanceStatus: refused by the fake"
        );
        // Recorded before the call that failed.
        assert_eq!(state.instance_id().as_deref(), Some("i-1"));
        assert_eq!(
            ui.lines(),
            [
                "say: Launching a source instance...",
                "message: Instance ID: i-1",
                "say: Starting instance: i-1",
            ]
        );
        step.cleanup(&cx(&ui, CancellationToken::new()), &mut state)
            .await;
        assert_eq!(fake.phase("i-1"), Some(Phase::Terminated));
        assert!(fake.calls().contains(&"terminate i-1".to_string()));
    }

    #[tokio::test(start_paused = true)]
    async fn a_separate_start_is_called_before_the_wait() {
        let fake = Fake::new().with(|c| c.separate_start = true);
        let mut state = St::new(&fake);
        let ui = RecordingUi::default();
        let r = run_step(false)
            .run(&cx(&ui, CancellationToken::new()), &mut state)
            .await;
        assert_eq!(r.unwrap(), StepAction::Continue);
        let calls = fake.calls();
        assert_eq!(calls[..2], ["create build", "start i-1"]);
        assert_eq!(fake.phase("i-1"), Some(Phase::Running));
    }

    #[tokio::test(start_paused = true)]
    async fn an_instance_that_fails_to_boot_ends_the_wait_and_is_terminated() {
        let fake = Fake::new().with(|c| c.boots_to = Phase::Failed);
        let mut state = St::new(&fake);
        let mut step = run_step(false);
        let ui = RecordingUi::default();
        let e = step
            .run(&cx(&ui, CancellationToken::new()), &mut state)
            .await
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "error waiting for instance (i-1) to become ready: the instance is `error`: no valid host"
        );
        assert_eq!(state.host, None);
        step.cleanup(&cx(&ui, CancellationToken::new()), &mut state)
            .await;
        assert_eq!(fake.phase("i-1"), Some(Phase::Terminated));
    }

    #[tokio::test(start_paused = true)]
    async fn cancellation_during_the_wait_ends_the_run_and_cleanup_terminates() {
        let cancel = CancellationToken::new();
        let c2 = cancel.clone();
        let fake = Fake::new().with(|c| {
            c.delay = 1000;
            c.cancel_at = Some((2, c2));
        });
        let mut state = St::new(&fake);
        let mut step = run_step(false);
        let ui = RecordingUi::default();
        let r = step.run(&cx(&ui, cancel), &mut state).await;
        assert!(matches!(r, Err(StepError::Cancelled)), "{r:?}");
        assert_eq!(observes(&fake.calls()), 2);
        assert_eq!(state.instance_id().as_deref(), Some("i-1"));

        // Cleanup runs with a fresh token; the fake terminates quickly now.
        fake.0.lock().unwrap().delay = 1;
        step.cleanup(&cx(&ui, CancellationToken::new()), &mut state)
            .await;
        assert_eq!(fake.phase("i-1"), Some(Phase::Terminated));
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_that_fails_creates_nothing_and_cleanup_does_nothing() {
        let fake = Fake::new();
        let mut state = St::new(&fake);
        let mut step = run_step(true);
        let ui = RecordingUi::default();
        let e = step
            .run(&cx(&ui, CancellationToken::new()), &mut state)
            .await
            .unwrap_err();
        assert_eq!(e.to_string(), "problem reading user data file `x`");
        step.cleanup(&cx(&ui, CancellationToken::new()), &mut state)
            .await;
        assert!(fake.calls().is_empty());
        assert_eq!(ui.lines(), ["say: Launching a source instance..."]);
    }

    #[tokio::test(start_paused = true)]
    async fn terminating_a_gone_instance_is_fine_and_a_refusal_is_reported() {
        let fake = Fake::new();
        let ui = RecordingUi::default();
        let token = CancellationToken::new();
        terminate_and_wait(&fake, &poller(), "i-9", &ui, &token).await;
        assert_eq!(fake.calls(), ["terminate i-9", "observe i-9"]);
        assert_eq!(ui.lines(), ["say: Terminating instance: i-9"]);

        // Twice on the same instance: the second finds it terminated.
        fake.set("i-1", Phase::Running);
        terminate_and_wait(&fake, &poller(), "i-1", &ui, &token).await;
        terminate_and_wait(&fake, &poller(), "i-1", &ui, &token).await;
        assert_eq!(fake.phase("i-1"), Some(Phase::Terminated));
        assert!(!ui.lines().iter().any(|l| l.starts_with("error")));

        let fake = Fake::new().with(|c| {
            c.calls.fail(
                "terminate",
                ALWAYS,
                refusal("TerminateInstances", "UnauthorizedOperation", REFUSED),
            )
        });
        fake.set("i-1", Phase::Running);
        let ui = RecordingUi::default();
        terminate_and_wait(&fake, &poller(), "i-1", &ui, &token).await;
        assert_eq!(
            ui.lines(),
            [
                "say: Terminating instance: i-1",
                "error: Error terminating instance `i-1`, may still be around: UnauthorizedOperation: refused by the fake",
            ]
        );
        // No wait after a refusal.
        assert_eq!(fake.calls(), ["terminate i-1"]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_termination_that_never_ends_is_reported() {
        let fake = Fake::new().with(|c| c.delay = 100_000);
        fake.set("i-1", Phase::Running);
        let ui = RecordingUi::default();
        terminate_and_wait(&fake, &poller(), "i-1", &ui, &CancellationToken::new()).await;
        let lines = ui.lines();
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(
            lines[1].starts_with(
                "error: timed out waiting for instance (i-1) to terminate: it was still `shutting-down` after 1m"
            ),
            "{lines:?}"
        );
    }

    fn stopped_state(fake: &Fake) -> St {
        fake.set("i-1", Phase::Running);
        let mut state = St::new(fake);
        state.record_instance(Launched {
            id: "i-1".into(),
            instance: None,
        });
        state
    }

    #[tokio::test(start_paused = true)]
    async fn stop_through_the_api_waits_until_stopped() {
        let fake = Fake::new();
        let mut state = stopped_state(&fake);
        let ui = RecordingUi::default();
        let mut step = StepStopInstance::new("StepStopInstance", StopMode::Api, poller());
        let r = step
            .run(&cx(&ui, CancellationToken::new()), &mut state)
            .await;
        assert_eq!(r.unwrap(), StepAction::Continue);
        assert_eq!(fake.phase("i-1"), Some(Phase::Stopped));
        assert_eq!(fake.calls()[0], "stop i-1");
        assert_eq!(
            ui.lines(),
            [
                "say: Stopping instance: i-1",
                "say: Waiting for instance (i-1) to stop...",
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn stop_by_a_provisioner_only_waits() {
        let fake = Fake::new();
        let mut state = stopped_state(&fake);
        // The provisioner ran `shutdown`.
        fake.set("i-1", Phase::Stopping);
        let ui = RecordingUi::default();
        let mut step = StepStopInstance::new("StepStopInstance", StopMode::ByProvisioner, poller());
        let r = step
            .run(&cx(&ui, CancellationToken::new()), &mut state)
            .await;
        assert_eq!(r.unwrap(), StepAction::Continue);
        assert_eq!(fake.phase("i-1"), Some(Phase::Stopped));
        assert!(fake.calls().iter().all(|c| c.starts_with("observe")));
        assert_eq!(
            ui.lines(),
            [
                "say: Automatic instance stop disabled. Please stop instance manually.",
                "say: Waiting for instance (i-1) to stop...",
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn skip_does_nothing_and_a_missing_instance_is_an_error() {
        let fake = Fake::new();
        let mut state = St::new(&fake);
        let ui = RecordingUi::default();
        let mut skip = StepStopInstance::new("StepStopInstance", StopMode::Skip, poller());
        let r = skip
            .run(&cx(&ui, CancellationToken::new()), &mut state)
            .await;
        assert_eq!(r.unwrap(), StepAction::Continue);
        assert!(fake.calls().is_empty() && ui.lines().is_empty());

        let mut stop = StepStopInstance::new("StepStopInstance", StopMode::Api, poller());
        let e = stop
            .run(&cx(&ui, CancellationToken::new()), &mut state)
            .await
            .unwrap_err();
        assert_eq!(e.to_string(), "there is no instance to stop");
    }

    #[tokio::test(start_paused = true)]
    async fn stop_failures_say_what_failed() {
        let fake = Fake::new().with(|c| {
            c.calls.fail(
                "stop",
                ALWAYS,
                refusal("StopInstances", "IncorrectInstanceState", REFUSED),
            )
        });
        let mut state = stopped_state(&fake);
        let ui = RecordingUi::default();
        let mut step = StepStopInstance::new("StepStopInstance", StopMode::Api, poller());
        let e = step
            .run(&cx(&ui, CancellationToken::new()), &mut state)
            .await
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "error stopping instance: IncorrectInstanceState: refused by the fake"
        );

        // Terminated under the provisioner's feet: the wait says so.
        let fake = Fake::new();
        let mut state = stopped_state(&fake);
        fake.set("i-1", Phase::Terminated);
        let mut step = StepStopInstance::new("StepStopInstance", StopMode::ByProvisioner, poller());
        let e = step
            .run(&cx(&ui, CancellationToken::new()), &mut state)
            .await
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "error waiting for instance (i-1) to stop: the instance is `terminated`"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn cancellation_during_the_stop_wait_is_cancellation() {
        let cancel = CancellationToken::new();
        let c2 = cancel.clone();
        let fake = Fake::new().with(|c| {
            c.delay = 1000;
            c.cancel_at = Some((3, c2));
        });
        let mut state = stopped_state(&fake);
        let ui = RecordingUi::default();
        let mut step = StepStopInstance::new("StepStopInstance", StopMode::Api, poller());
        let r = step.run(&cx(&ui, cancel), &mut state).await;
        assert!(matches!(r, Err(StepError::Cancelled)), "{r:?}");
        assert_eq!(observes(&fake.calls()), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn the_clouds_wording_is_used() {
        const EC2: InstanceWording = InstanceWording {
            noun: "instance",
            cloud: "EC2",
            terminating: &[Text::Say("Terminating the source AWS instance...")],
            ..InstanceWording::GENERIC
        };
        let fake = Fake::new().with(|c| {
            c.delay = 100_000;
            c.wording = &EC2;
        });
        let ui = RecordingUi::default();
        let api = fake.clone();
        let mut short = poller();
        short.timeout = Duration::from_secs(5);
        let e = wait_running(&api, &short, "i-7", &CancellationToken::new())
            .await
            .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("timed out waiting for instance (i-7) to become ready: it was still `unknown to EC2`"),
            "{e}"
        );
        fake.set("i-7", Phase::Running);
        fake.0.lock().unwrap().delay = 0;
        terminate_and_wait(&api, &poller(), "i-7", &ui, &CancellationToken::new()).await;
        assert_eq!(ui.lines(), ["say: Terminating the source AWS instance..."]);
    }
}
