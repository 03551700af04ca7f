//! The cloud-builder toolkit: what every cloud builder (amazon-ebs today,
//! the other clouds next) needs to talk to a cloud API robustly, written
//! once and independent of any cloud's SDK.
//!
//! - [`error`]: one error type for a failed API call ([`ApiError`]) that
//!   says what was called, where, what happened and what to check, and the
//!   classification every cloud maps its errors onto ([`ErrorClass`]:
//!   transient, throttled or permanent).
//! - [`retry`]: the retry policy for API calls ([`RetryPolicy`]: bounded
//!   attempts and time, exponential backoff with full jitter), each cloud's
//!   throttling codes in one table ([`retry::THROTTLING_CODES`]), the
//!   per-endpoint bound on requests in flight, request timeouts, and the
//!   idempotent create/delete helpers (on a retry, "already exists" adopts
//!   and "not found" on delete is done) through [`Api`].
//! - [`poll`]: one "wait until this resource is X" loop ([`Poller`]) with a
//!   timeout, backoff with jitter, cancellation and a message naming the
//!   resource, its last state and how long it waited.
//! - [`steps`]: the steps every cloud builder repeats (key pair, network,
//!   security group, instance, image, region copies, sharing, tags),
//!   generic over the cloud's client.
//! - [`sweep`]: `kiln cleanup`'s search and deletion of what a killed
//!   run left, kind by kind, with its messages and error report.
//! - [`import`]: what the import post-processors share (cancellation,
//!   upload progress, the artifact under their own builder id).
//! - [`sign`]: the percent-encoding of the clouds' request signatures;
//!   [`rest`]: one call of a REST-style API ([`rest::Call`]).
//! - [`builder`], [`comm`], [`state`], [`artifact`] and [`config`]: the
//!   wiring every cloud builder repeats (its factory and prepare, temporary
//!   names, the waits' poller, the connection and the steps' states on its
//!   state, the images-by-region artifact, template values or their
//!   environment variables, section decoding).
//! - [`batch`]: batching of the same kind of lookup across the builds of
//!   one process ([`Batcher`]).
//!
//! A cloud builder keeps its SDK in its own crate and adapts its errors
//! into [`Fault`]s; everything else comes from here. Holds no resources
//! and creates nothing, so there is nothing to clean up.

pub mod artifact;
pub mod batch;
pub mod builder;
pub mod comm;
pub mod config;
pub mod error;
pub mod import;
pub mod poll;
pub mod rest;
pub mod retry;
pub mod sign;
pub mod state;
pub mod steps;
pub mod sweep;

pub use batch::Batcher;
pub use error::{ApiError, Classify, ErrorClass, Failure, Fault};
pub use poll::{CheckError, PollError, Poller, Status};
pub use retry::{Api, Attempt, RetryPolicy, Timeouts};
