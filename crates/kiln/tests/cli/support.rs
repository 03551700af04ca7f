//! Shared helpers for the CLI tests.

use std::path::PathBuf;

pub use kiln_test::{normalize, run, Run, TestDir};

/// A fresh test directory for the kiln binary under test.
pub fn dir() -> TestDir {
    TestDir::new(env!("CARGO_BIN_EXE_kiln"))
}

/// The path of a fixture template.
pub fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

/// Copies a fixture into the test directory under its file name and
/// returns that name.
pub fn copy_fixture(d: &TestDir, rel: &str) -> String {
    let name = PathBuf::from(rel)
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    std::fs::copy(fixture(rel), d.path().join(&name)).unwrap();
    name
}

/// Runs kiln in `d` and returns the run.
pub fn kiln(d: &TestDir, args: &[&str]) -> Run {
    run(d.kiln(args))
}

/// Every fixture file under `sub` (`valid` or `invalid`), sorted.
pub fn fixtures(sub: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(fixture(sub))
        .unwrap()
        .map(|e| format!("{sub}/{}", e.unwrap().file_name().to_string_lossy()))
        .filter(|n| n.ends_with(".json"))
        .collect();
    v.sort();
    v
}

/// Presses Ctrl-C on a running kiln (SIGINT to `child`), waits for it to
/// exit and returns its exit code and its stdout and stderr together.
pub fn interrupt(child: std::process::Child) -> (Option<i32>, String) {
    let status = std::process::Command::new("kill")
        .args(["-2", &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -2 failed");
    let out = child.wait_with_output().expect("wait for kiln");
    let all = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), all)
}

/// Ctrl-C when each step of a build starts, one build per step: runs
/// `build(n)` for n = 1, 2, … (it returns its test directory, or whatever
/// the checks need, and its run; it must pass
/// `KILN_TEST_SIGNAL_AT_STEP=n` to kiln, whose step runner then sends
/// itself SIGINT as its n-th step starts) until a build completes before
/// reaching its n-th step. Each interrupted build must exit 1 with
/// "Cleanly cancelled builds after being interrupted."; then
/// `check("SIGINT at step n (Step…)", &dir, &run)` checks what it left. The
/// completing build is handed to `completed`. Returns the interrupted
/// steps in order, each one asserted distinct: every step was interrupted
/// once.
pub fn ctrl_c_at_every_step<D>(
    max: usize,
    mut build: impl FnMut(usize) -> (D, Run),
    mut check: impl FnMut(&str, &D, &Run),
    completed: impl FnOnce(&D, &Run),
) -> Vec<String> {
    let mut interrupted: Vec<String> = Vec::new();
    for n in 1..=max {
        let (d, r) = build(n);
        let Some(step) = r
            .stderr
            .lines()
            .find_map(|l| l.strip_prefix("kiln test hook: SIGINT at step "))
        else {
            // More steps asked for than the build has: it completed.
            completed(&d, &r);
            let distinct: std::collections::BTreeSet<&String> = interrupted.iter().collect();
            assert_eq!(distinct.len(), interrupted.len(), "{interrupted:?}");
            return interrupted;
        };
        let context = format!("SIGINT at step {n} ({step})");
        assert_eq!(r.code, 1, "{context}\n{}\n{}", r.stdout, r.stderr);
        assert!(
            r.stdout
                .contains("Cleanly cancelled builds after being interrupted."),
            "{context}\n{}",
            r.stdout
        );
        check(&context, &d, &r);
        interrupted.push(step.to_string());
    }
    panic!("the build still had steps after {max}: {interrupted:?}");
}

// ---------------------------------------------------------------------------
// Builds against a cloud's fake API: running them, what they print, what
// they leave in the fake, and the fault matrix behind the fault proxy.

/// A run's stdout and stderr together, for assertions.
pub fn both(r: &Run) -> String {
    format!("{}\n{}", r.stdout, r.stderr)
}

/// `kiln <args…> <file>` in `d`, with `template` written to `file` first.
pub fn kiln_on(d: &TestDir, file: &str, template: &str, args: &[&str]) -> std::process::Command {
    std::fs::write(d.path().join(file), template).unwrap();
    let mut all = args.to_vec();
    all.push(file);
    d.kiln(&all)
}

/// Runs `c`: the run, and its stdout and stderr together.
pub fn run_both(c: std::process::Command) -> (Run, String) {
    let r = run(c);
    let all = both(&r);
    (r, all)
}

/// Writes `template` as `file` in `d` and runs `kiln build -machine-readable`
/// on it with `PACKER_LOG=1` and `env`: the build succeeds, and neither its
/// output nor its log holds `secret`.
pub fn assert_logged_build_hides(
    d: &TestDir,
    file: &str,
    template: &str,
    env: &[(&str, &str)],
    secret: &str,
) {
    assert!(!secret.is_empty());
    let mut c = kiln_on(d, file, template, &["build", "-machine-readable"]);
    c.env("PACKER_LOG", "1").envs(env.iter().copied());
    let (r, all) = run_both(c);
    assert_eq!(r.code, 0, "{all}");
    assert!(!all.contains(secret), "the secret key was printed: {all}");
}

/// A build over SSH succeeded and its provisioner said `said` (the
/// fake's `log` shown if not).
pub fn assert_provisioned(r: &Run, all: &str, said: &str, log: &str) {
    assert_eq!(r.code, 0, "{all}\n--- fake ---\n{log}");
    assert!(all.contains(said), "the provisioner ran over SSH: {all}");
}

/// A build with the wrong secret `secret` failed, with the cloud's `code`
/// and a hint to check `keys`, and never printed the secret.
pub fn assert_bad_credentials(r: &Run, all: &str, code: &str, keys: &str, secret: &str) {
    assert_ne!(r.code, 0, "{all}");
    assert!(all.contains(code), "{all}");
    assert!(
        all.contains(&format!("check {keys}")),
        "the error says what to check: {all}"
    );
    assert!(!all.contains(secret), "the secret was printed: {all}");
}

/// A `file` build writing `disk.raw` (`name`d `disk`), then the
/// post-processor `pp` with `extra`'s keys merged in (`null` removes one).
pub fn file_then(mut pp: serde_json::Value, extra: serde_json::Value) -> String {
    for (k, v) in extra.as_object().unwrap() {
        if v.is_null() {
            pp.as_object_mut().unwrap().remove(k);
        } else {
            pp[k] = v.clone();
        }
    }
    serde_json::json!({
        "builders": [{"type": "file", "name": "disk", "target": "disk.raw", "content": "not really a disk, but bytes"}],
        "post-processors": [pp]
    })
    .to_string()
}

/// Fails unless each of `lines` is in `text`, in this order.
pub fn assert_in_order<S: AsRef<str>>(text: &str, lines: impl IntoIterator<Item = S>) {
    let mut rest = text;
    for line in lines {
        let line = line.as_ref();
        match rest.find(line) {
            Some(at) => rest = &rest[at + line.len()..],
            None => panic!("`{line}` missing or out of order:\n{text}"),
        }
    }
}

/// The rows of `kind` in a fake's resources (`resources()`: rows by
/// kind); none when it holds none.
pub fn rows<'a>(res: &'a serde_json::Value, kind: &str) -> &'a [serde_json::Value] {
    res[kind].as_array().map(Vec::as_slice).unwrap_or(&[])
}

/// Fails unless the fake's resources `res` hold no row of any of `kinds`.
pub fn assert_none_left<'a>(res: &serde_json::Value, kinds: impl IntoIterator<Item = &'a str>) {
    assert_none_left_after("", res, kinds);
}

/// [`assert_none_left`], saying `context` when it fails.
pub fn assert_none_left_after<'a>(
    context: &str,
    res: &serde_json::Value,
    kinds: impl IntoIterator<Item = &'a str>,
) {
    let at = if context.is_empty() {
        String::new()
    } else {
        format!("{context}: ")
    };
    for kind in kinds {
        assert!(rows(res, kind).is_empty(), "{at}{kind} left: {res:#}");
    }
}

/// Fails unless every one of `steps` is named by one of the `interrupted`
/// steps ([`ctrl_c_at_every_step`]); a step given in lower case matches
/// whatever the case.
pub fn assert_interrupted_at(interrupted: &[String], steps: &[&str]) {
    for step in steps {
        assert!(
            interrupted
                .iter()
                .any(|s| s.contains(step) || s.to_lowercase().contains(step)),
            "{step} never interrupted: {interrupted:?}"
        );
    }
}

/// Starts `c` with its output piped and waits, at most two minutes, until
/// `ready` sees what it waits for (`what`, for the message; `log` is the
/// fake's log, shown if it never comes); the running child and what
/// `ready` saw.
// The child goes back to the caller, which waits on it.
#[allow(clippy::zombie_processes)]
pub fn spawn_until<T>(
    mut c: std::process::Command,
    what: &str,
    mut ready: impl FnMut() -> Option<T>,
    log: impl Fn() -> String,
) -> (std::process::Child, T) {
    c.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    let started = std::time::Instant::now();
    loop {
        if let Some(seen) = ready() {
            return (child, seen);
        }
        if started.elapsed() >= std::time::Duration::from_secs(120) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} never started: {}", log());
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// Ctrl-C on a running build ([`interrupt`]): it must exit 1, cancelled
/// cleanly. Its stdout and stderr together.
pub fn interrupt_cleanly(child: std::process::Child) -> String {
    let (code, all) = interrupt(child);
    assert_eq!(code, Some(1), "{all}");
    assert!(
        all.contains("Cleanly cancelled builds after being interrupted."),
        "{all}"
    );
    all
}

/// `kiln cleanup <args…>` in `d` with `env` (a cloud's credentials and
/// endpoint), no region coming from the environment.
pub fn kiln_cleanup(d: &TestDir, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut all = vec!["cleanup"];
    all.extend_from_slice(args);
    let mut c = d.kiln(&all);
    c.envs(env.iter().copied());
    for region in [
        "TENCENTCLOUD_REGION",
        "ALICLOUD_REGION",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "UCLOUD_REGION",
        "HW_REGION_NAME",
    ] {
        c.env_remove(region);
    }
    run(c)
}

/// Fails unless `kiln cleanup` (`r`) found and deleted `n` resources of
/// run `uuid` in `place` (`tencentcloud (ap-guangzhou)`).
pub fn assert_cleanup_deleted(r: &Run, n: usize, uuid: &str, place: &str) {
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains(&format!(
            "{n} resource(s) of run `{uuid}` found in {place} and deleted"
        )),
        "{}",
        r.stdout
    );
}

/// Fails unless `kiln cleanup` (`r`) found nothing of run `uuid` in
/// `place` (`alicloud (cn-beijing)`).
pub fn assert_cleanup_found_nothing(r: &Run, uuid: &str, place: &str) {
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains(&format!("Nothing of run `{uuid}` found in {place}")),
        "{}",
        r.stdout
    );
}

/// `kiln cleanup` (through `cleanup`, which gives it the cloud's
/// credentials) of the run of a successful build, whose provisioner wrote
/// the run's UUID to `run_file`, in `cloud`'s `regions`: it finds nothing,
/// as what the build made to keep no longer carries the run tags.
pub fn assert_cleanup_leaves_a_success(
    run_file: &std::path::Path,
    cloud: &str,
    regions: &str,
    cleanup: impl FnOnce(&[&str]) -> Run,
) {
    let uuid = std::fs::read_to_string(run_file)
        .unwrap()
        .trim()
        .to_string();
    let r = cleanup(&["-run", &uuid, "-cloud", cloud, "-region", regions]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("Nothing of run"), "{}", r.stdout);
}

/// The value of `key` in an `a=b&c=d` query or form (not percent-decoded:
/// action names need none).
pub fn form_value(form: &str, key: &str) -> Option<String> {
    form.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == key && !v.is_empty()).then(|| v.to_string())
    })
}

/// A cloud's JSON API as the fault proxy speaks it: how a request names
/// its action, and how the cloud words its throttling and 5xx errors.
/// Holds the throttling code of one fault-matrix case.
pub struct JsonApi {
    /// The action a request calls, if it names one.
    pub action: fn(&kiln_test::fault_proxy::RequestView<'_>) -> Option<String>,
    /// The throttling reply's HTTP status and code.
    pub throttle: (u16, String),
    /// The code of a reply with this 5xx status.
    pub error: fn(u16) -> &'static str,
    /// The error body for a code, a message and a request id.
    pub body: fn(&str, &str, &str) -> serde_json::Value,
    /// The error replies' content type.
    pub content_type: &'static str,
}

impl JsonApi {
    fn reply(&self, status: u16, code: &str, request_id: &str) -> kiln_test::fault_proxy::Reply {
        let message = format!("{code} (injected by the test's fault proxy)");
        kiln_test::fault_proxy::Reply {
            status,
            content_type: self.content_type,
            body: (self.body)(code, &message, request_id).to_string(),
        }
    }
}

impl kiln_test::fault_proxy::Dialect for JsonApi {
    fn action(&self, r: &kiln_test::fault_proxy::RequestView<'_>) -> Option<String> {
        (self.action)(r)
    }

    fn throttled(&self, request_id: &str) -> kiln_test::fault_proxy::Reply {
        self.reply(self.throttle.0, &self.throttle.1, request_id)
    }

    fn error(&self, status: u16, request_id: &str) -> kiln_test::fault_proxy::Reply {
        self.reply(status, (self.error)(status), request_id)
    }
}

/// One row of a fault matrix: `fault` on `action`, at most `limit` times
/// (`None`: every time), with `throttle` as the throttling code.
#[derive(Debug, Clone)]
pub struct FaultCase {
    pub action: &'static str,
    pub fault: kiln_test::fault_proxy::Fault,
    pub throttle: &'static str,
    pub limit: Option<usize>,
}

impl FaultCase {
    /// Each of `throttles` on each of `actions`, twice: the build retries
    /// and succeeds.
    pub fn throttling(actions: &[&'static str], throttles: &[&'static str]) -> Vec<FaultCase> {
        let mut cases = Vec::new();
        for &action in actions {
            for &throttle in throttles {
                cases.push(FaultCase {
                    action,
                    fault: kiln_test::fault_proxy::Fault::Throttle,
                    throttle,
                    limit: Some(2),
                });
            }
        }
        cases
    }

    /// A 500, a reset connection and a lost reply on each of `actions`,
    /// once: the build retries and succeeds.
    pub fn transient(actions: &[&'static str], throttle: &'static str) -> Vec<FaultCase> {
        use kiln_test::fault_proxy::Fault;
        let mut cases = Vec::new();
        for &action in actions {
            for fault in [Fault::Status(500), Fault::Reset, Fault::LostReply] {
                cases.push(FaultCase {
                    action,
                    fault,
                    throttle,
                    limit: Some(1),
                });
            }
        }
        cases
    }
}

/// A cloud's side of a fault matrix ([`fault_matrix`]): its fake, started
/// afresh for each case, how the fault proxy speaks its API, the build
/// each case runs through the proxy, and what the fake may hold after.
pub trait FaultCloud {
    /// The fake.
    type Fake;
    /// The kinds of the fake's resources no build may leave.
    const TEMPORARY: &'static [&'static str];
    /// The kinds a build that succeeded leaves, with how many of each.
    const BUILT: &'static [(&'static str, usize)];
    /// The kinds, besides [`FaultCloud::BUILT`]'s, a build that failed
    /// leaves none of.
    const FAILED_ALSO: &'static [&'static str] = &[];

    /// A fresh fake, and its endpoint (the proxy's upstream).
    fn start(&self) -> (Self::Fake, String);
    /// The fault proxy's seed.
    fn seed(&self) -> u64 {
        7
    }
    /// The proxy's dialect, throttling with `throttle`.
    fn dialect(&self, throttle: &'static str) -> JsonApi;
    /// Runs the case's build in `d`, the cloud's API at `endpoint` (the
    /// proxy); the run, and its stdout and stderr together.
    fn build(&self, fake: &Self::Fake, d: &TestDir, endpoint: &str) -> (Run, String);
    /// What the fake holds, by kind.
    fn resources(&self, fake: &Self::Fake) -> serde_json::Value;
    /// The secret no build may print.
    fn secret<'a>(&self, fake: &'a Self::Fake) -> &'a str;
    /// Whether the error `all` of a build that failed names the call
    /// `action`.
    fn names_the_call(&self, action: &str, all: &str) -> bool {
        all.contains(action)
    }
}

/// What one fault-matrix case did: its fake, the proxy, the build's run
/// and output, and the case's label for messages.
pub struct FaultRun<F> {
    pub fake: F,
    pub proxy: kiln_test::fault_proxy::FaultProxy,
    pub run: Run,
    pub all: String,
    pub label: String,
}

/// Runs `case` on a fresh fake behind a fresh fault proxy: the fault
/// fired, and the build left nothing temporary whatever its outcome.
pub fn fault_case<C: FaultCloud>(cloud: &C, case: &FaultCase) -> FaultRun<C::Fake> {
    use kiln_test::fault_proxy::{FaultProxy, Rule};
    let label = format!(
        "{:?} on {} ({}, at most {:?} times)",
        case.fault, case.action, case.throttle, case.limit
    );
    let (fake, upstream) = cloud.start();
    let mut rule = Rule::new(case.fault.clone()).on(&[case.action]);
    if let Some(n) = case.limit {
        rule = rule.limit(n);
    }
    let proxy = FaultProxy::start(
        &upstream,
        cloud.dialect(case.throttle),
        cloud.seed(),
        vec![rule],
    )
    .expect("start the fault proxy");
    let d = dir();
    let (run, all) = cloud.build(&fake, &d, &proxy.endpoint());
    assert!(
        proxy.fired_on(case.action, case.fault.kind()) >= 1,
        "{label}: the fault never fired\n{}",
        proxy.summary()
    );
    assert_none_left_after(
        &label,
        &cloud.resources(&fake),
        C::TEMPORARY.iter().copied(),
    );
    FaultRun {
        fake,
        proxy,
        run,
        all,
        label,
    }
}

/// Runs each case ([`fault_case`]): a fault that stops is retried, the
/// build succeeds and made exactly what [`FaultCloud::BUILT`] says (a
/// create retried is not made twice); one that does not stop fails the
/// build, naming the call, and leaves nothing. No build prints the
/// secret.
pub fn fault_matrix<C: FaultCloud>(cloud: &C, cases: Vec<FaultCase>) {
    for case in cases {
        let f = fault_case(cloud, &case);
        let (label, all) = (&f.label, &f.all);
        let res = cloud.resources(&f.fake);
        if case.limit.is_some() {
            assert_eq!(f.run.code, 0, "{label}: {all}\n{}", f.proxy.summary());
            for (kind, n) in C::BUILT {
                assert_eq!(rows(&res, kind).len(), *n, "{label}: {kind}: {res:#}");
            }
        } else {
            assert_ne!(f.run.code, 0, "{label}: {all}");
            assert!(
                cloud.names_the_call(case.action, all),
                "{label}: the error names the call: {all}"
            );
            let kinds = C::BUILT.iter().map(|(k, _)| *k);
            assert_none_left_after(label, &res, kinds.chain(C::FAILED_ALSO.iter().copied()));
        }
        assert!(
            !all.contains(cloud.secret(&f.fake)),
            "{label}: the secret was printed"
        );
    }
}
