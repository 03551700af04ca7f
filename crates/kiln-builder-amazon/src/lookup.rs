//! EC2 calls shared by the builds of one process. Many amazon-ebs builds
//! running side by side ask EC2 the same kinds of read-only questions at
//! the same time: what state is my instance in, is my AMI available yet,
//! does an AMI of mine already have this name, which is the source image,
//! which of my volumes survived; and they stop and terminate their
//! instances, two idempotent actions that take many instance ids. Each kind
//! goes through a [`Batcher`]: a request made while no call of its kind is
//! in flight is sent at once, alone; requests made while one is in flight
//! wait for it and then go together in the next call (`DescribeInstances`,
//! `DescribeImages`, `StopInstances`, `TerminateInstances` with many ids,
//! one name filter with many names, ...). No request is answered by a call
//! sent before it was made, so every build sees what it would have seen
//! alone, and a build's waiters poll exactly as Packer's do; only the
//! number of calls changes (EC2's request rate limit applies to the
//! account, not to the build). When a call with many ids fails (one id
//! unknown, or not allowed), each id is sent again alone, so each build
//! gets its own answer or error. Builds share the batchers of one region
//! when their access settings are identical. The batching itself is
//! `kiln-cloud`'s ([`kiln_cloud::Batcher`]); every call goes through the
//! region's [`Ec2`] client, so kiln's retry policy retries it, and a poll
//! that gets a transient error retries within its wait. Holds nothing to
//! clean up.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

use aws_config::SdkConfig;
use aws_sdk_ec2::types::{Filter, Image, Instance, Volume};
use kiln_cloud::batch::{self, BoxFuture};
use kiln_cloud::ApiError;

use crate::client::{self, Ec2};
use crate::config::AccessConfig;

/// One question's answer: `None` when EC2 does not know the thing (yet).
pub type Answer<V> = batch::Answer<V, ApiError>;

/// The answers of one call, by key.
type Answers<K, V> = batch::Answers<K, V, ApiError>;

/// Answers many questions with one call.
type Fetch<K, V> = batch::Fetch<Ec2, K, V, ApiError>;

/// Natural batching of one kind of EC2 lookup ([`kiln_cloud::Batcher`]).
pub type Batcher<K, V> = kiln_cloud::Batcher<Ec2, K, V, ApiError>;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What identifies the source image query of `source_ami` and
/// `source_ami_filter`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SourceQuery {
    /// `source_ami`.
    pub id: Option<String>,
    /// `source_ami_filter.owners`.
    pub owners: Vec<String>,
    /// `source_ami_filter.filters`.
    pub filters: BTreeMap<String, String>,
}

/// The shared lookups of one region for one set of access settings.
pub struct Lookups {
    instances: Batcher<String, Instance>,
    images: Batcher<String, Image>,
    own_names: Batcher<String, String>,
    volumes: Batcher<String, Volume>,
    sources: Batcher<SourceQuery, Arc<Vec<Image>>>,
    stops: Batcher<String, ()>,
    terminations: Batcher<String, ()>,
}

/// The most ids or filter values one call carries.
const MAX_KEYS: usize = 100;

impl Lookups {
    /// Lookups through `ec2`, shared by nobody else (tests).
    pub fn new(ec2: Ec2) -> Self {
        Lookups {
            instances: Batcher::new(ec2.clone(), fetch_instances, MAX_KEYS),
            images: Batcher::new(ec2.clone(), fetch_images, MAX_KEYS),
            own_names: Batcher::new(ec2.clone(), fetch_own_names, MAX_KEYS),
            volumes: Batcher::new(ec2.clone(), fetch_volumes, MAX_KEYS),
            sources: Batcher::new(ec2.clone(), fetch_sources, MAX_KEYS),
            stops: Batcher::new(ec2.clone(), fetch_stop, MAX_KEYS),
            terminations: Batcher::new(ec2, fetch_terminate, MAX_KEYS),
        }
    }

    /// Instance `id` (`DescribeInstances`); `None` while EC2 does not know
    /// it.
    pub async fn instance(&self, id: &str) -> Answer<Instance> {
        self.instances.get(id.to_string()).await
    }

    /// Image `id` (`DescribeImages`); `None` while EC2 does not know it.
    pub async fn image(&self, id: &str) -> Answer<Image> {
        self.images.get(id.to_string()).await
    }

    /// The id of an AMI of this account named `name`, if any
    /// (`DescribeImages`, owner `self`, filter `name`). A name with EC2's
    /// wildcard or escape characters is its own query, as it is in Packer.
    pub async fn own_image_named(&self, name: &str) -> Answer<String> {
        if name.contains(['*', '?', '\\']) {
            let c = self.own_names.context().clone();
            return match fetch_own_names(c, vec![name.to_string()]).await {
                Ok(m) => m.into_values().next().unwrap_or(Ok(None)),
                Err(e) => Err(e),
            };
        }
        self.own_names.get(name.to_string()).await
    }

    /// The volumes among `ids` that exist (`DescribeVolumes`, filter
    /// `volume-id`).
    pub async fn volumes(&self, ids: &[String]) -> Result<Vec<Volume>, ApiError> {
        let mut found = Vec::new();
        for a in self.volumes.get_many(ids.to_vec()).await {
            if let Some(v) = a? {
                found.push(v);
            }
        }
        Ok(found)
    }

    /// Stops instance `id` (`StopInstances`); the error is EC2's.
    pub async fn stop(&self, id: &str) -> Result<(), ApiError> {
        self.stops.get(id.to_string()).await.map(|_| ())
    }

    /// Terminates instance `id` (`TerminateInstances`): `false` when EC2
    /// does not know it.
    pub async fn terminate(&self, id: &str) -> Result<bool, ApiError> {
        Ok(self.terminations.get(id.to_string()).await?.is_some())
    }

    /// The images `query` matches (`DescribeImages`).
    pub async fn source_images(&self, query: SourceQuery) -> Result<Arc<Vec<Image>>, ApiError> {
        Ok(self.sources.get(query).await?.unwrap_or_default())
    }
}

/// The token of the next page of a describe call, if there is one.
fn next_page(token: Option<&str>) -> Option<String> {
    token.filter(|t| !t.is_empty()).map(str::to_string)
}

/// After EC2 said an ID of `ids` does not exist: a lone ID is simply not
/// there; in a batch, each ID is asked about alone, so every build gets
/// its own answer.
async fn unknown_ids<V: Send + 'static>(
    c: Ec2,
    ids: Vec<String>,
    fetch: Fetch<String, V>,
) -> Answers<String, V> {
    if ids.len() == 1 {
        return Ok(HashMap::new());
    }
    batch::each(c, ids, fetch).await
}

/// The paging loop every describe below shares: `$request` is the call for
/// the page `$token`; each page `$page` is stored into the map `$out` by
/// `$collect`. With `not_found: CODE => FETCH(KEYS)`, that error means an
/// ID of the batch `KEYS` does not exist, and the IDs are asked about one
/// by one through `FETCH` (`unknown_ids`).
macro_rules! paged {
    (
        $c:ident, $(not_found: $code:literal => $fetch:ident($keys:ident),)?
        |$token:ident| $request:expr,
        |$page:ident, $out:ident| $collect:block
    ) => {
        Box::pin(async move {
            let mut $out = HashMap::new();
            let mut $token: Option<String> = None;
            loop {
                let $page = match $c.send($request, |r| r.send()).await {
                    Ok(r) => r,
                    $(Err(e) if e.code() == Some($code) => {
                        return unknown_ids($c, $keys, $fetch).await;
                    })?
                    Err(e) => return Err(e),
                };
                $collect
                $token = next_page($page.next_token());
                if $token.is_none() {
                    return Ok($out);
                }
            }
        })
    };
}

fn fetch_instances(c: Ec2, ids: Vec<String>) -> BoxFuture<Answers<String, Instance>> {
    paged!(c, not_found: "InvalidInstanceID.NotFound" => fetch_instances(ids),
    |token| c.describe_instances().set_instance_ids(Some(ids.clone())).set_next_token(token),
    |r, out| {
        for i in r.reservations().iter().flat_map(|r| r.instances()) {
            if let Some(id) = i.instance_id() {
                out.insert(id.to_string(), Ok(Some(i.clone())));
            }
        }
    })
}

fn fetch_images(c: Ec2, ids: Vec<String>) -> BoxFuture<Answers<String, Image>> {
    paged!(c, not_found: "InvalidAMIID.NotFound" => fetch_images(ids),
    |token| c.describe_images().set_image_ids(Some(ids.clone())).set_next_token(token),
    |r, out| {
        for i in r.images() {
            if let Some(id) = i.image_id() {
                out.insert(id.to_string(), Ok(Some(i.clone())));
            }
        }
    })
}

// The answers carry `ApiError`s whole (what was called, where, the hint),
// as every other lookup does.
#[allow(clippy::result_large_err)]
fn fetch_own_names(c: Ec2, names: Vec<String>) -> BoxFuture<Answers<String, String>> {
    let single = names.len() == 1;
    let filter = Filter::builder()
        .name("name")
        .set_values(Some(names.clone()))
        .build();
    paged!(
        c,
        |token| c
            .describe_images()
            .owners("self")
            .filters(filter.clone())
            .set_next_token(token),
        |r, out| {
            for i in r.images() {
                // One name: whatever EC2 matched (its wildcards included).
                let key = if single {
                    names[0].clone()
                } else {
                    i.name().unwrap_or_default().to_string()
                };
                out.entry(key)
                    .or_insert_with(|| Ok(Some(i.image_id().unwrap_or_default().to_string())));
            }
        }
    )
}

fn fetch_volumes(c: Ec2, ids: Vec<String>) -> BoxFuture<Answers<String, Volume>> {
    let filter = Filter::builder()
        .name("volume-id")
        .set_values(Some(ids))
        .build();
    paged!(
        c,
        |token| c
            .describe_volumes()
            .filters(filter.clone())
            .set_next_token(token),
        |r, out| {
            for v in r.volumes() {
                if let Some(id) = v.volume_id() {
                    out.insert(id.to_string(), Ok(Some(v.clone())));
                }
            }
        }
    )
}

/// `StopInstances` or `TerminateInstances` for `ids`: every id EC2 lists
/// as changing state is done; a call with many ids that fails, or leaves
/// ids out, is sent again one id at a time.
async fn instance_action(
    c: Ec2,
    ids: Vec<String>,
    fetch: Fetch<String, ()>,
    terminate: bool,
) -> Answers<String, ()> {
    let r = if terminate {
        let req = c.terminate_instances().set_instance_ids(Some(ids.clone()));
        c.send(req, |r| r.send()).await.map(|r| {
            r.terminating_instances()
                .iter()
                .filter_map(|i| i.instance_id().map(str::to_string))
                .collect::<Vec<_>>()
        })
    } else {
        let req = c.stop_instances().set_instance_ids(Some(ids.clone()));
        c.send(req, |r| r.send()).await.map(|r| {
            r.stopping_instances()
                .iter()
                .filter_map(|i| i.instance_id().map(str::to_string))
                .collect::<Vec<_>>()
        })
    };
    match r {
        Ok(listed) => {
            let (done, left): (Vec<String>, Vec<String>) =
                ids.into_iter().partition(|i| listed.contains(i));
            let mut out: HashMap<String, Answer<()>> =
                done.into_iter().map(|i| (i, Ok(Some(())))).collect();
            if left.len() == 1 && out.is_empty() {
                // One id, and EC2 said nothing about it: done, as a lone
                // call always was.
                out.insert(left[0].clone(), Ok(Some(())));
            } else if !left.is_empty() {
                out.extend(batch::each(c, left, fetch).await?);
            }
            Ok(out)
        }
        Err(_) if ids.len() > 1 => batch::each(c, ids, fetch).await,
        Err(e) if terminate && e.code() == Some("InvalidInstanceID.NotFound") => Ok(HashMap::new()),
        Err(e) => Err(e),
    }
}

fn fetch_stop(c: Ec2, ids: Vec<String>) -> BoxFuture<Answers<String, ()>> {
    Box::pin(instance_action(c, ids, fetch_stop, false))
}

fn fetch_terminate(c: Ec2, ids: Vec<String>) -> BoxFuture<Answers<String, ()>> {
    Box::pin(instance_action(c, ids, fetch_terminate, true))
}

fn fetch_sources(
    c: Ec2,
    queries: Vec<SourceQuery>,
) -> BoxFuture<Answers<SourceQuery, Arc<Vec<Image>>>> {
    Box::pin(async move {
        if queries.len() > 1 {
            return batch::each(c, queries, fetch_sources).await;
        }
        let Some(q) = queries.into_iter().next() else {
            return Ok(HashMap::new());
        };
        let mut req = c.describe_images();
        if let Some(id) = &q.id {
            req = req.image_ids(id);
        }
        for o in &q.owners {
            req = req.owners(o);
        }
        for (k, v) in &q.filters {
            req = req.filters(Filter::builder().name(k).values(v).build());
        }
        let r = c.send(req, |r| r.send()).await?;
        Ok(HashMap::from([(
            q,
            Ok(Some(Arc::new(r.images().to_vec()))),
        )]))
    })
}

/// What makes two builds' EC2 clients the same: every access setting.
/// Kept in memory only, never printed (it holds the secret key).
fn access_key(a: &AccessConfig) -> String {
    let creds = a.credentials.as_ref().map(|c| {
        (
            c.access_key.clone(),
            c.secret_key.expose().clone(),
            c.token.as_ref().map(|t| t.expose().clone()),
        )
    });
    let role = a.assume_role.as_ref().map(|r| {
        (
            r.role_arn.clone(),
            r.session_name.clone(),
            r.external_id.clone(),
            r.duration,
            r.policy.clone(),
        )
    });
    format!(
        "{:?}",
        (
            &a.region,
            creds,
            &a.profile,
            &a.shared_credentials_file,
            role,
            &a.endpoint,
            a.max_retries,
            a.skip_credential_validation,
            a.insecure_skip_tls_verify,
        )
    )
}

/// The SDK configuration for `access`, loaded once per process for each
/// distinct set of access settings (credentials are resolved, and a role
/// assumed, once; the SDK refreshes them as they expire). A failed load is
/// not kept: the next build tries again.
pub async fn sdk(access: &AccessConfig) -> Result<SdkConfig, client::ClientError> {
    type Cells = Mutex<HashMap<String, Arc<tokio::sync::OnceCell<SdkConfig>>>>;
    static CELLS: OnceLock<Cells> = OnceLock::new();
    let cell = lock(CELLS.get_or_init(Default::default))
        .entry(access_key(access))
        .or_default()
        .clone();
    cell.get_or_try_init(|| client::load(access)).await.cloned()
}

/// The lookups of `region` shared by every build with these access
/// settings; `sdk` is the configuration [`sdk`] gave them.
pub fn shared(sdk: &SdkConfig, access: &AccessConfig, region: &str) -> Arc<Lookups> {
    type All = Mutex<HashMap<(String, String), Arc<Lookups>>>;
    static ALL: OnceLock<All> = OnceLock::new();
    lock(ALL.get_or_init(Default::default))
        .entry((access_key(access), region.to_string()))
        .or_insert_with(|| Arc::new(Lookups::new(client::ec2_for(sdk, region))))
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn access_settings_that_differ_do_not_share() {
        let a = AccessConfig {
            region: "us-east-1".into(),
            credentials: None,
            profile: None,
            shared_credentials_file: None,
            assume_role: None,
            endpoint: None,
            max_retries: None,
            skip_credential_validation: false,
            insecure_skip_tls_verify: false,
        };
        let mut b = a.clone();
        assert_eq!(access_key(&a), access_key(&b));
        b.endpoint = Some("http://127.0.0.1:1".into());
        assert_ne!(access_key(&a), access_key(&b));
        let mut c = a.clone();
        c.region = "eu-west-1".into();
        assert_ne!(access_key(&a), access_key(&c));
    }

    /// A moto EC2 server (the venv scripts/install-deps.sh makes) on a free
    /// loopback port, recording every request; killed on drop.
    struct Moto {
        port: u16,
        child: std::process::Child,
        dir: tempfile::TempDir,
    }

    impl Moto {
        fn start() -> Moto {
            let venv = std::env::var_os("KILN_MOTO_VENV")
                .map(std::path::PathBuf::from)
                .unwrap_or_else(|| {
                    std::path::PathBuf::from(std::env::var("HOME").expect("HOME"))
                        .join(".cache/kiln/moto-venv")
                });
            let server = venv.join("bin/moto_server");
            assert!(
                server.exists(),
                "moto is not installed in `{}`: run scripts/install-deps.sh",
                venv.display()
            );
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(
                dir.path().join("amis.json"),
                r#"[{"ami_id": "ami-0be4c4", "name": "lookup-base", "state": "available",
                     "public": true, "owner_id": "801119661308", "image_location": "amazon/x",
                     "root_device_type": "ebs", "root_device_name": "/dev/xvda",
                     "description": "x", "image_type": "machine", "architecture": "x86_64",
                     "virtualization_type": "hvm", "hypervisor": "xen",
                     "creation_date": "2024-01-01T00:00:00.000Z"}]"#,
            )
            .unwrap();
            let port = {
                let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
                l.local_addr().unwrap().port()
            };
            let child = std::process::Command::new(server)
                .env("MOTO_AMIS_PATH", dir.path().join("amis.json"))
                .env("MOTO_ENABLE_RECORDING", "1")
                .env("MOTO_RECORDER_FILEPATH", dir.path().join("requests.jsonl"))
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("start moto_server");
            let m = Moto { port, child, dir };
            let deadline = std::time::Instant::now() + Duration::from_secs(60);
            while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
                assert!(
                    std::time::Instant::now() < deadline,
                    "moto_server did not start"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
            m
        }

        fn client(&self) -> Ec2 {
            let conf = aws_sdk_ec2::Config::builder()
                .behavior_version(aws_config::BehaviorVersion::latest())
                .region(aws_config::Region::new("us-east-1"))
                .endpoint_url(format!("http://127.0.0.1:{}", self.port))
                .credentials_provider(aws_credential_types::Credentials::new(
                    "AKIDKILNTEST",
                    "kiln-test-secret",
                    None,
                    None,
                    "test",
                ))
                .build();
            client::Aws::new(
                aws_sdk_ec2::Client::from_conf(conf),
                kiln_cloud::Api::new(
                    "EC2",
                    &format!("http://127.0.0.1:{}", self.port),
                    None,
                    kiln_cloud::RetryPolicy::default(),
                ),
            )
        }

        /// The EC2 actions moto served so far, in order.
        fn actions(&self) -> Vec<String> {
            use base64::Engine;
            let text =
                std::fs::read_to_string(self.dir.path().join("requests.jsonl")).unwrap_or_default();
            text.lines()
                .filter_map(|l| {
                    let v: serde_json::Value = serde_json::from_str(l).ok()?;
                    let body = v["body"].as_str().unwrap_or_default();
                    let body = if v["body_encoded"].as_bool() == Some(true) {
                        String::from_utf8(
                            base64::engine::general_purpose::STANDARD
                                .decode(body)
                                .ok()?,
                        )
                        .ok()?
                    } else {
                        body.to_string()
                    };
                    body.split('&')
                        .find_map(|kv| kv.strip_prefix("Action="))
                        .map(str::to_string)
                })
                .collect()
        }

        /// How many `action` requests moto served since `since` (an
        /// earlier `actions().len()`).
        fn count(&self, since: usize, action: &str) -> usize {
            self.actions()[since..]
                .iter()
                .filter(|a| *a == action)
                .count()
        }
    }

    impl Drop for Moto {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn lookups_against_moto_batch_and_fall_back_when_an_id_is_unknown() {
        let m = Moto::start();
        let c = m.client();
        let mut ids = Vec::new();
        let mut volumes = Vec::new();
        for _ in 0..6 {
            let r = c
                .run_instances()
                .image_id("ami-0be4c4")
                .instance_type("t2.micro".into())
                .min_count(1)
                .max_count(1)
                .send()
                .await
                .unwrap();
            let i = &r.instances()[0];
            ids.push(i.instance_id().unwrap().to_string());
            volumes.extend(
                i.block_device_mappings()
                    .iter()
                    .filter_map(|b| b.ebs()?.volume_id().map(str::to_string)),
            );
        }
        c.stop_instances()
            .instance_ids(&ids[0])
            .send()
            .await
            .unwrap();
        let mut amis = Vec::new();
        for (n, id) in ids.iter().take(3).enumerate() {
            let r = c
                .create_image()
                .instance_id(id)
                .name(format!("lookup-{n}"))
                .send()
                .await
                .unwrap();
            amis.push(r.image_id().unwrap().to_string());
        }

        // Six instances in one call.
        let b = Batcher::new(c.clone(), fetch_instances, MAX_KEYS);
        let n = m.actions().len();
        let found = b.get_many(ids.clone()).await;
        assert_eq!(m.count(n, "DescribeInstances"), 1);
        for (id, a) in ids.iter().zip(&found) {
            let i = a.as_ref().unwrap().as_ref().unwrap();
            assert_eq!(i.instance_id(), Some(id.as_str()));
        }
        let state = |a: &Answer<Instance>| {
            a.as_ref()
                .unwrap()
                .as_ref()
                .and_then(|i| i.state()?.name().map(|n| n.as_str().to_string()))
        };
        assert_eq!(state(&found[0]).as_deref(), Some("stopped"));
        assert_eq!(state(&found[1]).as_deref(), Some("running"));

        // An id EC2 does not know fails the whole call: each id is then
        // asked alone, and only the unknown one has no answer.
        let unknown = "i-0123456789abcdef0".to_string();
        let mut asked = ids.clone();
        asked.insert(2, unknown.clone());
        let n = m.actions().len();
        let found = b.get_many(asked.clone()).await;
        assert_eq!(m.count(n, "DescribeInstances"), 1 + asked.len());
        for (id, a) in asked.iter().zip(&found) {
            let got = a.as_ref().unwrap().as_ref().and_then(|i| i.instance_id());
            let want = (id != &unknown).then_some(id.as_str());
            assert_eq!(got, want, "{id}");
        }

        // Images by id, with the same fallback.
        let b = Batcher::new(c.clone(), fetch_images, MAX_KEYS);
        let n = m.actions().len();
        let found = b.get_many(amis.clone()).await;
        assert_eq!(m.count(n, "DescribeImages"), 1);
        assert!(found.iter().all(|a| matches!(a, Ok(Some(_)))), "{found:?}");
        // moto fails a call only when none of its image ids exists (EC2
        // when any does not): either way each image gets its own answer.
        let n = m.actions().len();
        let found = b
            .get_many(vec![amis[0].clone(), "ami-00000000".to_string()])
            .await;
        assert_eq!(m.count(n, "DescribeImages"), 1);
        assert!(matches!(found[0], Ok(Some(_))) && matches!(found[1], Ok(None)));
        let n = m.actions().len();
        let found = b
            .get_many(vec!["ami-00000000".to_string(), "ami-00000001".to_string()])
            .await;
        assert_eq!(m.count(n, "DescribeImages"), 3);
        assert_eq!(found, vec![Ok(None), Ok(None)]);

        // Own AMIs by exact name: one name filter for all of them.
        let b = Batcher::new(c.clone(), fetch_own_names, MAX_KEYS);
        let n = m.actions().len();
        let names = ["lookup-1", "lookup-9", "lookup-base", "lookup-2"];
        let found = b
            .get_many(names.iter().map(|s| s.to_string()).collect())
            .await;
        assert_eq!(m.count(n, "DescribeImages"), 1);
        assert_eq!(
            found,
            vec![
                Ok(Some(amis[1].clone())),
                Ok(None),
                // Not this account's image.
                Ok(None),
                Ok(Some(amis[2].clone())),
            ]
        );
        // A wildcard name is its own query, matched by EC2 as in Packer.
        let l = Lookups::new(c.clone());
        let wild = l.own_image_named("lookup-?").await.unwrap();
        assert!(wild.is_some_and(|id| amis.contains(&id)));
        assert_eq!(l.own_image_named("nothing-*").await, Ok(None));

        // Volumes by id, one call.
        assert!(!volumes.is_empty());
        let n = m.actions().len();
        let mut asked = volumes.clone();
        asked.push("vol-0000000000000000".to_string());
        let found = l.volumes(&asked).await.unwrap();
        assert_eq!(m.count(n, "DescribeVolumes"), 1);
        assert_eq!(found.len(), volumes.len());

        // Stops and terminations of many instances in one call; an unknown
        // id sends each again alone.
        let b = Batcher::new(c.clone(), fetch_stop, MAX_KEYS);
        let n = m.actions().len();
        let found = b.get_many(ids[1..4].to_vec()).await;
        assert_eq!(m.count(n, "StopInstances"), 1);
        assert!(found.iter().all(|a| a == &Ok(Some(()))), "{found:?}");
        let states = Batcher::new(c.clone(), fetch_instances, MAX_KEYS)
            .get_many(ids[1..4].to_vec())
            .await;
        assert!(
            states
                .iter()
                .all(|a| state(a).as_deref() == Some("stopped")),
            "{states:?}"
        );
        let e = l.stop(&unknown).await.unwrap_err().to_string();
        assert!(e.contains("InvalidInstanceID.NotFound"), "{e}");
        let b = Batcher::new(c.clone(), fetch_terminate, MAX_KEYS);
        let n = m.actions().len();
        let found = b.get_many(vec![ids[4].clone(), unknown.clone()]).await;
        assert_eq!(m.count(n, "TerminateInstances"), 3);
        assert_eq!(found, vec![Ok(Some(())), Ok(None)]);
        assert_eq!(l.terminate(&ids[5]).await, Ok(true));
        assert_eq!(l.terminate(&unknown).await, Ok(false));
        let states = Batcher::new(c.clone(), fetch_instances, MAX_KEYS)
            .get_many(ids[4..6].to_vec())
            .await;
        assert!(
            states
                .iter()
                .all(|a| state(a).as_deref() == Some("terminated")),
            "{states:?}"
        );

        // Distinct source queries are distinct calls; each gets its own
        // images.
        let b = Batcher::new(c.clone(), fetch_sources, MAX_KEYS);
        let by_id = SourceQuery {
            id: Some("ami-0be4c4".into()),
            owners: Vec::new(),
            filters: BTreeMap::new(),
        };
        let by_name = SourceQuery {
            id: None,
            owners: vec!["self".into()],
            filters: BTreeMap::from([("name".to_string(), "lookup-*".to_string())]),
        };
        let n = m.actions().len();
        let found = b
            .get_many(vec![by_id.clone(), by_name.clone(), by_id.clone()])
            .await;
        assert_eq!(m.count(n, "DescribeImages"), 2);
        let count = |a: &Answer<Arc<Vec<Image>>>| a.as_ref().unwrap().as_ref().unwrap().len();
        assert_eq!(
            (count(&found[0]), count(&found[1]), count(&found[2])),
            (1, 3, 1)
        );
    }
}
