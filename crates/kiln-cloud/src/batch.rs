//! Natural batching of one kind of lookup across the builds of one
//! process. Many builds running side by side ask a cloud the same kinds of
//! read-only questions at the same time (what state is my instance in, is
//! my image available yet). Each kind goes through a [`Batcher`]: a
//! request made while no call of its kind is in flight is sent at once,
//! alone; requests made while one is in flight wait for it and then go
//! together in the next call (one describe call with many ids). No request
//! is answered by a call sent before it was made, so every build sees what
//! it would have seen alone; only the number of calls changes. A call that
//! fails answers each of its questions with the error; the calls go through
//! the cloud's [`Api`](crate::Api), so a transient failure has been retried
//! by the policy first, and a poller that gets one retries it within its
//! wait ([`crate::poll`]): one failed shared call does not fail every
//! waiting build. Holds nothing to clean up.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use crate::error::{ApiError, ErrorClass, Failure, Fault};

/// The batcher's driver stopped (a panic in a call) before answering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stopped;

impl From<Stopped> for String {
    fn from(_: Stopped) -> String {
        "the shared lookup stopped".to_string()
    }
}

impl From<Stopped> for ApiError {
    fn from(_: Stopped) -> ApiError {
        ApiError {
            service: "kiln".into(),
            action: "lookup".into(),
            endpoint: "this process".into(),
            setting: None,
            fault: Fault::new(
                Failure::Other("the shared lookup stopped".into()),
                ErrorClass::Transient,
            ),
            attempts: 1,
            elapsed: std::time::Duration::ZERO,
        }
    }
}

/// A boxed, sendable future.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// One question's answer: `None` when the cloud does not know the thing
/// (yet).
pub type Answer<V, E> = Result<Option<V>, E>;

/// The answers of one call, by key (a missing key means `Ok(None)`);
/// `Err` when the whole call failed.
pub type Answers<K, V, E> = Result<HashMap<K, Answer<V, E>>, E>;

/// Answers many questions with one call (or, when it must, a few).
pub type Fetch<C, K, V, E> = fn(C, Vec<K>) -> BoxFuture<Answers<K, V, E>>;

/// The questions of one kind, waiting for the next call.
struct Queue<K, V, E> {
    /// Whether a driver task is sending calls.
    running: bool,
    waiting: Vec<(K, oneshot::Sender<Answer<V, E>>)>,
}

/// Natural batching of one kind of lookup; see the module docs.
pub struct Batcher<C, K, V, E> {
    cx: C,
    fetch: Fetch<C, K, V, E>,
    /// The most keys one call carries.
    max: usize,
    queue: Arc<Mutex<Queue<K, V, E>>>,
}

impl<C, K, V, E> Batcher<C, K, V, E>
where
    C: Clone + Send + Sync + 'static,
    K: Clone + Eq + Hash + Ord + Send + 'static,
    V: Clone + Send + 'static,
    E: Clone + From<Stopped> + Send + 'static,
{
    /// A batcher that answers through `fetch(cx, keys)`, at most `max`
    /// keys a call.
    pub fn new(cx: C, fetch: Fetch<C, K, V, E>, max: usize) -> Self {
        Batcher {
            cx,
            fetch,
            max: max.max(1),
            queue: Arc::new(Mutex::new(Queue {
                running: false,
                waiting: Vec::new(),
            })),
        }
    }

    /// What the calls are made with.
    pub fn context(&self) -> &C {
        &self.cx
    }

    /// The answer for `key`.
    pub async fn get(&self, key: K) -> Answer<V, E> {
        self.get_many(vec![key]).await.remove(0)
    }

    /// The answers for `keys`, in their order; they go in the same call
    /// when they fit.
    pub async fn get_many(&self, keys: Vec<K>) -> Vec<Answer<V, E>> {
        let mut receivers = Vec::with_capacity(keys.len());
        let start = {
            let mut q = lock(&self.queue);
            for k in keys {
                let (tx, rx) = oneshot::channel();
                q.waiting.push((k, tx));
                receivers.push(rx);
            }
            !std::mem::replace(&mut q.running, true)
        };
        if start {
            tokio::spawn(drive(
                self.queue.clone(),
                self.cx.clone(),
                self.fetch,
                self.max,
            ));
        }
        let mut answers = Vec::with_capacity(receivers.len());
        for rx in receivers {
            answers.push(rx.await.unwrap_or_else(|_| Err(Stopped.into())));
        }
        answers
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Clears the queue if the driver dies (a panic in a call): its waiters
/// get an error instead of waiting forever, and the next question starts a
/// new driver.
struct Guard<K, V, E>(Arc<Mutex<Queue<K, V, E>>>, bool);

impl<K, V, E> Drop for Guard<K, V, E> {
    fn drop(&mut self) {
        if !self.1 {
            let mut q = lock(&self.0);
            q.waiting.clear();
            q.running = false;
        }
    }
}

/// Sends calls while questions wait: each call carries the questions
/// asked before it was sent (at most `max`).
async fn drive<C, K, V, E>(
    queue: Arc<Mutex<Queue<K, V, E>>>,
    cx: C,
    fetch: Fetch<C, K, V, E>,
    max: usize,
) where
    C: Clone,
    K: Clone + Eq + Hash + Ord,
    V: Clone,
    E: Clone,
{
    let mut guard = Guard(queue.clone(), false);
    loop {
        let batch: Vec<(K, oneshot::Sender<Answer<V, E>>)> = {
            let mut q = lock(&queue);
            // Builds cancelled while waiting no longer need an answer.
            q.waiting.retain(|(_, tx)| !tx.is_closed());
            if q.waiting.is_empty() {
                q.running = false;
                guard.1 = true;
                return;
            }
            let n = q.waiting.len().min(max);
            q.waiting.drain(..n).collect()
        };
        let mut keys: Vec<K> = batch.iter().map(|(k, _)| k.clone()).collect();
        keys.sort();
        keys.dedup();
        let found = fetch(cx.clone(), keys).await;
        for (k, tx) in batch {
            let answer = match &found {
                Ok(m) => m.get(&k).cloned().unwrap_or(Ok(None)),
                Err(e) => Err(e.clone()),
            };
            let _ = tx.send(answer);
        }
    }
}

/// Answers one key at a time, concurrently, through `fetch`: the fallback
/// when a call with many ids failed because one of them is unknown (a
/// cloud fails the whole call), and the way distinct queries are sent.
pub async fn each<C, K, V, E>(cx: C, keys: Vec<K>, fetch: Fetch<C, K, V, E>) -> Answers<K, V, E>
where
    C: Clone + Send + 'static,
    K: Clone + Eq + Hash + Send + 'static,
    V: Send + 'static,
    E: From<Stopped> + Send + 'static,
{
    let mut tasks = tokio::task::JoinSet::new();
    for k in keys {
        let cx = cx.clone();
        tasks.spawn(async move { (k.clone(), fetch(cx, vec![k.clone()]).await) });
    }
    let mut out = HashMap::new();
    while let Some(r) = tasks.join_next().await {
        let (k, r) = r.map_err(|_| E::from(Stopped))?;
        let answer = match r {
            Ok(mut m) => m.remove(&k).unwrap_or(Ok(None)),
            Err(e) => Err(e),
        };
        out.insert(k, answer);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    /// A fake EC2: counts calls, records each call's keys, and answers
    /// `key * 10` for even keys (odd ones are unknown); key 13 fails the
    /// call.
    #[derive(Clone, Default)]
    struct Fake {
        calls: Arc<AtomicUsize>,
        batches: Arc<Mutex<Vec<Vec<u32>>>>,
    }

    fn fake_fetch(f: Fake, keys: Vec<u32>) -> BoxFuture<Answers<u32, u32, String>> {
        Box::pin(async move {
            f.calls.fetch_add(1, Ordering::SeqCst);
            lock(&f.batches).push(keys.clone());
            tokio::time::sleep(Duration::from_millis(20)).await;
            if keys.contains(&13) {
                return Err("boom".to_string());
            }
            Ok(keys
                .into_iter()
                .filter(|k| k % 2 == 0)
                .map(|k| (k, Ok(Some(k * 10))))
                .collect())
        })
    }

    #[tokio::test]
    async fn a_lone_question_is_sent_at_once_and_answered() {
        let f = Fake::default();
        let b = Batcher::new(f.clone(), fake_fetch, 100);
        assert_eq!(b.get(4).await, Ok(Some(40)));
        assert_eq!(b.get(3).await, Ok(None));
        assert_eq!(f.calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn questions_asked_during_a_call_go_together_in_the_next() {
        let f = Fake::default();
        let b = Arc::new(Batcher::new(f.clone(), fake_fetch, 100));
        let first = {
            let b = b.clone();
            tokio::spawn(async move { b.get(2).await })
        };
        // While the first call is in flight, 50 more builds ask, one of
        // them the same question as the first.
        tokio::time::sleep(Duration::from_millis(5)).await;
        let mut rest = Vec::new();
        for k in (20..70u32).chain([2]) {
            let b = b.clone();
            rest.push(tokio::spawn(async move { (k, b.get(k).await) }));
        }
        assert_eq!(first.await.unwrap(), Ok(Some(20)));
        for t in rest {
            let (k, a) = t.await.unwrap();
            assert_eq!(a, Ok((k % 2 == 0).then_some(k * 10)), "key {k}");
        }
        let batches = lock(&f.batches).clone();
        assert_eq!(batches.len(), 2, "{batches:?}");
        assert_eq!(batches[0], vec![2]);
        // The second question about key 2 came after the first call was
        // sent, so it goes in the next call: no answer predates its
        // question.
        let second: Vec<u32> = [2].into_iter().chain(20..70).collect();
        assert_eq!(batches[1], second);
    }

    #[tokio::test]
    async fn calls_carry_at_most_max_keys_and_a_failed_call_fails_only_its_questions() {
        let f = Fake::default();
        let b = Arc::new(Batcher::new(f.clone(), fake_fetch, 4));
        let answers = b.get_many((10..20).collect()).await;
        let batches = lock(&f.batches).clone();
        assert_eq!(
            batches,
            vec![vec![10, 11, 12, 13], vec![14, 15, 16, 17], vec![18, 19]]
        );
        assert!(answers[..4].iter().all(|a| a == &Err("boom".to_string())));
        assert_eq!(answers[4], Ok(Some(140)));
        assert_eq!(answers[9], Ok(None));
    }

    #[tokio::test]
    async fn a_cancelled_question_is_not_sent() {
        let f = Fake::default();
        let b = Arc::new(Batcher::new(f.clone(), fake_fetch, 100));
        let first = {
            let b = b.clone();
            tokio::spawn(async move { b.get(2).await })
        };
        tokio::time::sleep(Duration::from_millis(5)).await;
        let gone = {
            let b = b.clone();
            tokio::spawn(async move { b.get(6).await })
        };
        tokio::time::sleep(Duration::from_millis(2)).await;
        gone.abort();
        let kept = {
            let b = b.clone();
            tokio::spawn(async move { b.get(8).await })
        };
        assert_eq!(first.await.unwrap(), Ok(Some(20)));
        assert_eq!(kept.await.unwrap(), Ok(Some(80)));
        assert_eq!(lock(&f.batches).clone(), vec![vec![2], vec![8]]);
    }
}
