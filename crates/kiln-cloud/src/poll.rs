//! One "wait until this resource is X" loop for every cloud: an instance
//! running, an image available, a snapshot complete. The [`Poller`] checks
//! at once, then after an interval that grows exponentially (with jitter,
//! so many builds do not poll in step) up to a bound, until the check says
//! ready, says failed, the timeout passes or the build is cancelled. A
//! transient error while checking (throttling, a 5xx, a reset connection,
//! as the retry policy classifies it) is waited out within the poll, not
//! returned. A timeout names the resource, the state it was last in and how
//! long it waited.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::error::{human, ApiError, Classify, ErrorClass};

/// What one check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status<T> {
    /// The resource is as wanted.
    Ready(T),
    /// Not yet; the state it is in (`pending`), for the timeout message.
    Pending(String),
}

/// Why a check failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckError {
    /// The API call failed (retried within the poll when transient).
    Api(ApiError),
    /// The resource can no longer become ready (`the AMI is failed`).
    Failed(String),
}

impl From<ApiError> for CheckError {
    fn from(e: ApiError) -> Self {
        CheckError::Api(e)
    }
}

impl From<String> for CheckError {
    fn from(e: String) -> Self {
        CheckError::Failed(e)
    }
}

impl Classify for CheckError {
    fn class(&self) -> ErrorClass {
        match self {
            CheckError::Api(e) => e.class(),
            CheckError::Failed(_) => ErrorClass::Permanent,
        }
    }
}

impl fmt::Display for CheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckError::Api(e) => e.fmt(f),
            CheckError::Failed(e) => f.write_str(e),
        }
    }
}

/// Why a wait ended without the resource being ready.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PollError<E> {
    /// The build was cancelled.
    #[error("cancelled while waiting for {resource}")]
    Cancelled {
        /// What was waited for.
        resource: String,
    },
    /// The timeout passed.
    #[error("timed out waiting for {resource}: {} after {}{}", last_state(.state), human(*.waited), .hint.as_deref().map(|h| format!(" ({h})")).unwrap_or_default())]
    TimedOut {
        /// What was waited for.
        resource: String,
        /// The state the last check found (or its transient error).
        state: Option<String>,
        /// How long the wait took.
        waited: Duration,
        /// What sets the timeout (`aws_polling`).
        hint: Option<String>,
    },
    /// A check failed for good.
    #[error("error waiting for {resource}: {error}")]
    Failed {
        /// What was waited for.
        resource: String,
        /// Why.
        error: E,
    },
}

fn last_state(state: &Option<String>) -> String {
    match state {
        Some(s) => format!("it was still {s}"),
        None => "it never answered".to_string(),
    }
}

/// How to wait; see the module docs.
#[derive(Debug, Clone, PartialEq)]
pub struct Poller {
    /// The longest wait.
    pub timeout: Duration,
    /// The first interval between checks.
    pub interval: Duration,
    /// The longest interval between checks.
    pub max_interval: Duration,
    /// How much the interval grows after each check.
    pub factor: f64,
    /// What sets the timeout, for the timeout message (`aws_polling`).
    pub hint: Option<String>,
    /// When set, the share of the time waited so far to sleep between
    /// checks (within `min_interval`..the grown interval); see the module
    /// docs.
    pub tracking: Option<Tracking>,
}

/// How a tracking poller ([`Poller::tracking`]) sizes its sleeps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tracking {
    /// The share of the time waited so far (`1/16`).
    pub share: f64,
    /// The shortest sleep.
    pub min_interval: Duration,
}

impl Poller {
    /// A poller that waits at most `timeout`, checking every `interval`
    /// at first and growing it by half each time up to twice `interval`.
    pub fn new(timeout: Duration, interval: Duration) -> Poller {
        Poller {
            timeout,
            interval,
            max_interval: interval * 2,
            factor: 1.5,
            hint: None,
            tracking: None,
        }
    }

    /// A poller that waits at most `timeout` and sleeps a sixteenth of the
    /// time waited so far between checks, at least `min_interval` and at
    /// most `max_interval` (less up to half at random), so that it ends at
    /// most about 6% after the resource became ready.
    pub fn tracking(timeout: Duration, min_interval: Duration, max_interval: Duration) -> Poller {
        Poller {
            timeout,
            interval: max_interval,
            max_interval,
            factor: 1.0,
            hint: None,
            tracking: Some(Tracking {
                share: 1.0 / 16.0,
                min_interval,
            }),
        }
    }

    /// The sleep after check `n` (0 for the first), `waited` into the
    /// wait: the grown interval (or, tracking, the share of `waited`
    /// within its bounds), less up to half of it at random.
    pub fn delay(&self, n: u32, waited: Duration) -> Duration {
        let grown = self
            .interval
            .mul_f64(self.factor.max(1.0).powi(n.min(64) as i32))
            .min(self.max_interval.max(self.interval));
        let base = match self.tracking {
            Some(t) => waited
                .mul_f64(t.share)
                .clamp(t.min_interval.min(grown), grown),
            None => grown,
        };
        base.mul_f64(rand::random_range(0.5..=1.0))
    }

    /// Waits until `check` says [`Status::Ready`]. `resource` names what is
    /// waited for (`AMI (ami-1) to become ready`).
    pub async fn wait<T, E, F, Fut>(
        &self,
        resource: &str,
        cancel: &CancellationToken,
        mut check: F,
    ) -> Result<T, PollError<E>>
    where
        E: Classify + fmt::Display,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Status<T>, E>>,
    {
        let started = Instant::now();
        let deadline = started + self.timeout;
        let mut state = None;
        for n in 0.. {
            let outcome = tokio::select! {
                _ = cancel.cancelled() => {
                    return Err(PollError::Cancelled { resource: resource.to_string() })
                }
                r = check() => r,
            };
            match outcome {
                Ok(Status::Ready(v)) => return Ok(v),
                Ok(Status::Pending(s)) => state = Some(format!("`{s}`")),
                Err(e) if e.class().retryable() => {
                    state = Some(format!("in an unknown state (the last check failed: {e})"))
                }
                Err(error) => {
                    return Err(PollError::Failed {
                        resource: resource.to_string(),
                        error,
                    })
                }
            }
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            let sleep = self.delay(n, now - started).min(deadline - now);
            tokio::select! {
                _ = cancel.cancelled() => {
                    return Err(PollError::Cancelled { resource: resource.to_string() })
                }
                _ = tokio::time::sleep(sleep) => {}
            }
        }
        Err(PollError::TimedOut {
            resource: resource.to_string(),
            state,
            waited: started.elapsed(),
            hint: self.hint.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::testing;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// A failed look of `class` (three attempts when it was retried).
    fn api_error(class: ErrorClass) -> CheckError {
        let attempts = if class == ErrorClass::Permanent { 1 } else { 3 };
        CheckError::Api(testing::api_error(
            "DescribeImages",
            testing::fault(class),
            attempts,
        ))
    }

    fn poller() -> Poller {
        Poller::new(Duration::from_secs(60), Duration::from_secs(2))
    }

    #[tokio::test(start_paused = true)]
    async fn waits_until_ready_with_growing_jittered_intervals() {
        let n = AtomicU32::new(0);
        let started = Instant::now();
        let r: Result<u32, PollError<CheckError>> = poller()
            .wait(
                "AMI (ami-1) to become ready",
                &CancellationToken::new(),
                || {
                    let k = n.fetch_add(1, Ordering::SeqCst);
                    async move {
                        Ok(if k == 4 {
                            Status::Ready(k)
                        } else {
                            Status::Pending("pending".into())
                        })
                    }
                },
            )
            .await;
        assert_eq!(r, Ok(4));
        // Four sleeps of 1-2 s, 1.5-3 s, 2-4 s and 2-4 s.
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(6500), "{waited:?}");
        assert!(waited <= Duration::from_secs(13), "{waited:?}");
        let p = poller();
        for k in 0..20 {
            let d = p.delay(k, Duration::from_secs(k.into()));
            assert!(d <= p.max_interval && d >= p.interval / 2, "{d:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_tracking_poller_overshoots_by_a_share_of_the_wait() {
        let p = Poller::tracking(
            Duration::from_secs(3600),
            Duration::from_millis(200),
            Duration::from_secs(30),
        );
        // Sleeps: at least 0.1 s (half the shortest), a sixteenth of the
        // time waited (less up to half), at most 30 s.
        for (waited, lo, hi) in [
            (0, 100, 200),
            (8, 250, 500),
            (160, 5_000, 10_000),
            (3_600, 15_000, 30_000),
        ] {
            let d = p.delay(0, Duration::from_secs(waited));
            assert!(
                d >= Duration::from_millis(lo) && d <= Duration::from_millis(hi),
                "{waited} s: {d:?}"
            );
        }
        // Ready at 1 s and at 100 s: found within a sixteenth (plus the
        // shortest interval) of that.
        for ready in [1u64, 100] {
            let started = Instant::now();
            let ready_at = started + Duration::from_secs(ready);
            let checks = AtomicU32::new(0);
            p.wait(
                "image (m-1) to become ready",
                &CancellationToken::new(),
                || {
                    checks.fetch_add(1, Ordering::SeqCst);
                    async move {
                        Ok::<_, CheckError>(if Instant::now() >= ready_at {
                            Status::Ready(())
                        } else {
                            Status::Pending("creating".into())
                        })
                    }
                },
            )
            .await
            .unwrap();
            let over = started.elapsed() - Duration::from_secs(ready);
            assert!(
                over <= Duration::from_secs(ready) / 16 + Duration::from_millis(200),
                "ready at {ready} s, found {over:?} later"
            );
            // And not by hammering: about 16·ln(100) checks past the floor.
            assert!(checks.load(Ordering::SeqCst) < 120, "{checks:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_timeout_names_the_resource_its_last_state_and_the_wait() {
        let mut p = poller();
        p.hint = Some("`aws_polling`".into());
        let r: Result<(), _> = p
            .wait(
                "instance (i-1) to stop",
                &CancellationToken::new(),
                || async { Ok::<_, CheckError>(Status::Pending("stopping".into())) },
            )
            .await;
        let e = r.unwrap_err().to_string();
        assert_eq!(
            e,
            "timed out waiting for instance (i-1) to stop: it was still `stopping` after 1m (`aws_polling`)"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn transient_errors_are_waited_out_and_permanent_ones_returned() {
        let n = AtomicU32::new(0);
        let r = poller()
            .wait(
                "AMI (ami-1) to become ready",
                &CancellationToken::new(),
                || {
                    let k = n.fetch_add(1, Ordering::SeqCst);
                    async move {
                        match k {
                            0 | 1 => Err(api_error(ErrorClass::Throttled)),
                            2 => Err(api_error(ErrorClass::Transient)),
                            _ => Ok(Status::Ready("ami-1")),
                        }
                    }
                },
            )
            .await;
        assert_eq!(r, Ok("ami-1"));

        // A look that always fails: a permanent error is returned, a
        // failed resource fails the wait, throttling until the end times
        // it out and says so.
        let failing = |error: fn() -> CheckError| async move {
            poller()
                .wait(
                    "AMI (ami-1) to become ready",
                    &CancellationToken::new(),
                    move || async move { Err::<Status<()>, _>(error()) },
                )
                .await
        };
        let e = failing(|| api_error(ErrorClass::Permanent))
            .await
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "error waiting for AMI (ami-1) to become ready: InvalidParameterValue: no"
        );
        let r = failing(|| CheckError::from("the AMI is `failed`".to_string())).await;
        assert!(matches!(r, Err(PollError::Failed { .. })));
        let e = failing(|| api_error(ErrorClass::Throttled))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(
                "it was still in an unknown state (the last check failed: Throttling: Rate exceeded"
            ),
            "{e}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn cancellation_ends_the_wait() {
        let cancel = CancellationToken::new();
        let c = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(5)).await;
            c.cancel();
        });
        let started = Instant::now();
        let r: Result<(), _> = poller()
            .wait("instance (i-1) to become ready", &cancel, || async {
                Ok::<_, CheckError>(Status::Pending("pending".into()))
            })
            .await;
        assert!(matches!(r, Err(PollError::Cancelled { .. })), "{r:?}");
        assert!(started.elapsed() < Duration::from_secs(6));
    }
}
