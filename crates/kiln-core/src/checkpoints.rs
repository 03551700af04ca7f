//! One build's checkpoints (`kiln build -incremental`): the core's side of
//! [`kiln_sdk::checkpoint`]. It computes the chain of checkpoint keys once
//! the builder has said what shapes its machine, picks the latest valid
//! checkpoint to restore, tells the hook which provisioners it stands for,
//! and saves a new checkpoint after each provisioner that changes the
//! machine. It holds the restored checkpoint for the build's life (nothing
//! prunes it meanwhile) and prunes the cache to its size limit after each
//! save; what a pruned checkpoint kept outside the cache (a docker image)
//! is removed through its builder's [`CheckpointCleaner`].

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use async_trait::async_trait;
use kiln_cache::{Cache, Committed, Listed, Meta, Removed};
use kiln_sdk::checkpoint::{CheckpointCleaner, Checkpoints, Effects, MachineSaver, Restore};
use kiln_sdk::component::BuildError;
use kiln_sdk::ui::Ui;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::fingerprint::{builder_fields, builder_link, chain, ProvisionerInputs};

/// The run's `-incremental` settings, shared by its builds.
pub struct Incremental {
    /// The checkpoint store.
    pub cache: Arc<Cache>,
    /// `-explain`: print, for each provisioner, hit or miss and why.
    pub explain: bool,
    /// The template file, as given (a checkpoint records it for `-explain`
    /// and `kiln cache list`).
    pub template: String,
    /// Each builder type's cleaner, for checkpoints kept outside the cache.
    pub cleaners: BTreeMap<String, Arc<dyn CheckpointCleaner>>,
}

impl Incremental {
    /// Removes what `removed` checkpoints kept outside the cache; returns a
    /// message per failure.
    pub async fn clean_external(&self, removed: &[Removed]) -> Vec<String> {
        clean_external(&self.cleaners, removed).await
    }
}

/// Removes what `removed` checkpoints kept outside the cache through their
/// builders' cleaners; returns a message per failure.
pub async fn clean_external(
    cleaners: &BTreeMap<String, Arc<dyn CheckpointCleaner>>,
    removed: &[Removed],
) -> Vec<String> {
    let mut errors = Vec::new();
    for r in removed {
        let Some(meta) = &r.meta else { continue };
        if let Some(c) = cleaners.get(&meta.builder_type) {
            if let Err(e) = c.remove(&meta.data).await {
                errors.push(format!(
                    "cannot remove what checkpoint `{}` kept outside the cache: {e}",
                    short(&r.key)
                ));
            }
        }
    }
    errors
}

/// `0.4s`, `41s`, `12m5s`: how long, at a glance.
pub fn short_duration(d: std::time::Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 10.0 {
        format!("{secs:.1}s")
    } else if secs < 60.0 {
        format!("{}s", secs.round() as u64)
    } else {
        let s = secs.round() as u64;
        format!("{}m{}s", s / 60, s % 60)
    }
}

/// The first 12 characters of a key, as `kiln cache list` shows it.
pub fn short(key: &str) -> &str {
    &key[..key.len().min(12)]
}

/// See the module docs.
pub struct BuildCheckpoints {
    run: Arc<Incremental>,
    build: String,
    builder_type: String,
    provisioners: Vec<ProvisionerInputs>,
    started: Instant,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Whether the builder asked for a plan (builders without checkpoints
    /// never do).
    planned: bool,
    /// The key of the checkpoint after each provisioner; `None` for those
    /// whose effects are outside the machine.
    keys: Vec<Option<String>>,
    /// The builder's inputs, as `-explain` keeps them.
    builder_fields: Value,
    /// How many provisioners the restored checkpoint holds.
    restored: usize,
    /// The build time the restored checkpoint stands for.
    restored_secs: f64,
    /// The restored checkpoint, held until the build ends.
    held: Option<kiln_cache::Entry>,
    /// The builder's saver.
    saver: Option<Arc<dyn MachineSaver>>,
}

impl BuildCheckpoints {
    /// The checkpoints of build `build`, whose provisioners' inputs are
    /// `provisioners`, in order.
    pub fn new(
        run: Arc<Incremental>,
        build: &str,
        builder_type: &str,
        provisioners: Vec<ProvisionerInputs>,
    ) -> Self {
        BuildCheckpoints {
            run,
            build: build.to_string(),
            builder_type: builder_type.to_string(),
            provisioners,
            started: Instant::now(),
            inner: Mutex::new(Inner::default()),
        }
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the builder planned (supports checkpoints).
    pub fn planned(&self) -> bool {
        self.inner().planned
    }

    /// How many provisioners the restored checkpoint holds (0: none).
    pub fn restored(&self) -> usize {
        self.inner().restored
    }

    /// Whose state provisioner `index` changes.
    pub fn effects(&self, index: usize) -> Effects {
        self.provisioners
            .get(index)
            .map(|p| p.effects)
            .unwrap_or(Effects::Machine)
    }

    fn label(&self, index: usize) -> String {
        format!("{} ({})", self.position(index), self.type_of(index))
    }

    fn position(&self, index: usize) -> String {
        format!("provisioner {} of {}", index + 1, self.provisioners.len())
    }

    fn type_of(&self, index: usize) -> &str {
        self.provisioners
            .get(index)
            .map(|p| p.provisioner_type.as_str())
            .unwrap_or("?")
    }

    /// Saves the checkpoint after provisioner `index` (from 0), when it
    /// changes the machine and the builder attached a saver. A checkpoint
    /// that cannot be saved is a warning: the build goes on.
    pub async fn save_after(
        &self,
        index: usize,
        ui: &dyn Ui,
        cancel: &CancellationToken,
    ) -> Result<(), BuildError> {
        let (key, saver, fields, restored_secs) = {
            let inner = self.inner();
            let Some(Some(key)) = inner.keys.get(index).cloned() else {
                return Ok(());
            };
            let Some(saver) = inner.saver.clone() else {
                return Ok(());
            };
            (
                key,
                saver,
                inner.builder_fields.clone(),
                inner.restored_secs,
            )
        };
        let cache = self.run.cache.clone();
        let pending = match tokio::task::spawn_blocking(move || cache.begin()).await {
            Ok(Ok(p)) => p,
            Ok(Err(e)) => {
                ui.error(&format!("Warning: cannot save a checkpoint: {e}"));
                return Ok(());
            }
            Err(e) => {
                ui.error(&format!("Warning: cannot save a checkpoint: {e}"));
                return Ok(());
            }
        };
        let began = Instant::now();
        let saved = match saver.save(ui, pending.dir(), cancel).await {
            Ok(s) => s,
            Err(BuildError::Cancelled) => return Err(BuildError::Cancelled),
            Err(e) => {
                ui.error(&format!(
                    "Warning: cannot save the checkpoint after {}: {e}",
                    self.label(index)
                ));
                return Ok(());
            }
        };
        let now = chrono::Utc::now();
        let meta = Meta {
            version: kiln_cache::META_VERSION,
            key: key.clone(),
            build: self.build.clone(),
            builder_type: self.builder_type.clone(),
            template: self.run.template.clone(),
            after: index + 1,
            count: self.provisioners.len(),
            provisioner_type: self.provisioners[index].provisioner_type.clone(),
            created: now,
            last_used: now,
            elapsed_secs: restored_secs + self.started.elapsed().as_secs_f64(),
            data: saved.data.clone(),
            external_size: saved.external_size,
            files: Vec::new(),
            inputs: json!({
                "builder": fields,
                "provisioners": self.provisioners[..=index].iter().map(ProvisionerInputs::to_json).collect::<Vec<_>>(),
            }),
        };
        let k = key.clone();
        let committed = tokio::task::spawn_blocking(move || pending.commit(&k, meta)).await;
        match committed {
            Ok(Ok(Committed::Saved(entry))) => {
                let size =
                    entry.meta.files.iter().map(|f| f.size).sum::<u64>() + entry.meta.external_size;
                ui.say(&format!(
                    "Saved the checkpoint after {} ({}, {}, took {})",
                    self.position(index),
                    self.type_of(index),
                    kiln_cache::format_size(size),
                    short_duration(began.elapsed())
                ));
            }
            Ok(Ok(Committed::AlreadyThere(_))) => {
                // Another kiln saved the same state first: keep its
                // checkpoint, drop ours.
                if let Some(c) = self.run.cleaners.get(&self.builder_type) {
                    if let Err(e) = c.remove(&saved.data).await {
                        ui.error(&format!("Warning: {e}"));
                    }
                }
                ui.say(&format!(
                    "The checkpoint after {} was saved meanwhile by another kiln; keeping that one",
                    self.label(index)
                ));
            }
            Ok(Err(e)) => {
                ui.error(&format!("Warning: cannot save a checkpoint: {e}"));
                if let Some(c) = self.run.cleaners.get(&self.builder_type) {
                    let _ = c.remove(&saved.data).await;
                }
                return Ok(());
            }
            Err(e) => {
                ui.error(&format!("Warning: cannot save a checkpoint: {e}"));
                return Ok(());
            }
        }
        self.prune(ui).await;
        Ok(())
    }

    /// Keeps the cache under its size limit.
    async fn prune(&self, ui: &dyn Ui) {
        let cache = self.run.cache.clone();
        let max = cache.max_size();
        match tokio::task::spawn_blocking(move || cache.prune(max, None)).await {
            Ok(Ok(removed)) => {
                // Abandoned partial checkpoints are removed too; they are
                // not worth a line.
                let checkpoints = removed.iter().filter(|r| r.meta.is_some()).count();
                if checkpoints > 0 {
                    ui.message(&format!(
                        "Pruned {checkpoints} least recently used checkpoint(s) to keep the cache under {}",
                        kiln_cache::format_size(max)
                    ));
                }
                for e in self.run.clean_external(&removed).await {
                    ui.error(&format!("Warning: {e}"));
                }
            }
            Ok(Err(e)) => ui.error(&format!("Warning: cannot prune the checkpoint cache: {e}")),
            Err(e) => ui.error(&format!("Warning: cannot prune the checkpoint cache: {e}")),
        }
    }

    /// `-explain`: one line per provisioner.
    fn explain(&self, ui: &dyn Ui, keys: &[Option<String>], fields: &Value) {
        let cache = &self.run.cache;
        // The latest checkpoint of this build and template: what the
        // inputs are compared with.
        let reference: Option<Meta> = cache.list().ok().and_then(|list| {
            list.into_iter()
                .filter_map(|l| match l {
                    Listed::Ok { meta, .. } => Some(meta),
                    Listed::Corrupt { .. } => None,
                })
                .filter(|m| m.build == self.build && m.template == self.run.template)
                .max_by_key(|m| m.created)
        });
        ui.say("Checkpoints (-explain):");
        let mut earlier_changed = false;
        for (i, key) in keys.iter().enumerate() {
            let label = self.label(i);
            let Some(key) = key else {
                ui.message(&format!(
                    "{label}: not checkpointed: its effects are outside the machine; it runs every time"
                ));
                continue;
            };
            if matches!(cache.peek(key), Ok(Some(_))) {
                ui.message(&format!("{label}: hit"));
                continue;
            }
            let why = if earlier_changed {
                "an earlier input changed".to_string()
            } else {
                match &reference {
                    None => "no checkpoint of this build yet".to_string(),
                    Some(r) => match changed(r, fields, &self.provisioners, i) {
                        Some(c) => {
                            earlier_changed = true;
                            c
                        }
                        None => "no checkpoint saved for these inputs yet (the last build stopped before it, or it was pruned)".to_string(),
                    },
                }
            };
            ui.message(&format!("{label}: miss: {why}"));
        }
    }
}

/// What differs between checkpoint `r`'s recorded inputs and the current
/// ones, up to provisioner `index`; `None` when nothing does.
fn changed(
    r: &Meta,
    fields: &Value,
    provisioners: &[ProvisionerInputs],
    index: usize,
) -> Option<String> {
    let old_fields = r.inputs.get("builder").cloned().unwrap_or(Value::Null);
    if &old_fields != fields {
        let mut names: Vec<String> = Vec::new();
        if let (Value::Object(a), Value::Object(b)) = (&old_fields, fields) {
            for (k, v) in b {
                if a.get(k) != Some(v) {
                    names.push(format!("`{k}`"));
                }
            }
            for k in a.keys() {
                if !b.contains_key(k) {
                    names.push(format!("`{k}`"));
                }
            }
        }
        return Some(if names.is_empty() {
            "the builder's inputs changed".to_string()
        } else {
            format!("the builder's inputs changed: {}", names.join(", "))
        });
    }
    let old = r
        .inputs
        .get("provisioners")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for (j, p) in provisioners.iter().enumerate().take(index + 1) {
        let o = old.get(j)?;
        let label = format!("provisioner {} ({})", j + 1, p.provisioner_type);
        if o.get("type").and_then(Value::as_str) != Some(p.provisioner_type.as_str()) {
            return Some(format!(
                "{label} replaced a `{}` provisioner",
                o.get("type").and_then(Value::as_str).unwrap_or("?")
            ));
        }
        if p.effects == Effects::Outside {
            continue;
        }
        if o.get("config").and_then(Value::as_str) != Some(p.config.as_str()) {
            return Some(format!("{label}: its configuration changed"));
        }
        let old_files: BTreeMap<String, String> = o
            .get("files")
            .and_then(|f| serde_json::from_value(f.clone()).ok())
            .unwrap_or_default();
        let mut diffs = Vec::new();
        for (path, d) in &p.files {
            match old_files.get(path) {
                None => diffs.push(format!("it now reads `{path}`")),
                Some(o) if o != d => diffs.push(format!("`{path}` changed")),
                Some(_) => {}
            }
        }
        for path in old_files.keys() {
            if !p.files.contains_key(path) {
                diffs.push(format!("it no longer reads `{path}`"));
            }
        }
        if !diffs.is_empty() {
            return Some(format!("{label}: {}", diffs.join(", ")));
        }
    }
    None
}

#[async_trait]
impl Checkpoints for BuildCheckpoints {
    async fn plan(&self, ui: &dyn Ui, inputs: Value) -> Option<Restore> {
        let mut link = builder_link(&self.builder_type, &inputs);
        let keys: Vec<Option<String>> = self
            .provisioners
            .iter()
            .map(|p| match p.effects {
                Effects::Outside => None,
                Effects::Machine => {
                    link = chain(&link, p);
                    Some(link.clone())
                }
            })
            .collect();
        let fields = builder_fields(&inputs);
        {
            let mut inner = self.inner();
            inner.planned = true;
            inner.keys = keys.clone();
            inner.builder_fields = fields.clone();
        }
        if self.run.explain {
            self.explain(ui, &keys, &fields);
        }
        let cleaner = self.run.cleaners.get(&self.builder_type).cloned();
        for (i, key) in keys.iter().enumerate().rev() {
            let Some(key) = key else { continue };
            let cache = self.run.cache.clone();
            let k = key.clone();
            let found = match tokio::task::spawn_blocking(move || cache.get(&k)).await {
                Ok(r) => r,
                Err(e) => {
                    ui.error(&format!("Warning: cannot read the checkpoint cache: {e}"));
                    continue;
                }
            };
            let entry = match found {
                Ok(Some(e)) => e,
                Ok(None) => continue,
                Err(e) => {
                    ui.error(&format!(
                        "Warning: ignoring the checkpoint after {}: {e}",
                        self.label(i)
                    ));
                    continue;
                }
            };
            if let Some(c) = &cleaner {
                match c.exists(&entry.meta.data).await {
                    Ok(true) => {}
                    Ok(false) => {
                        ui.error(&format!(
                            "Warning: ignoring the checkpoint after {}: what it saved outside the cache is gone",
                            self.label(i)
                        ));
                        // Drop it, so that this build saves it again.
                        drop(entry);
                        let cache = self.run.cache.clone();
                        let k = key.clone();
                        let _ = tokio::task::spawn_blocking(move || cache.remove(&k)).await;
                        continue;
                    }
                    Err(e) => {
                        ui.error(&format!(
                            "Warning: ignoring the checkpoint after {}: {e}",
                            self.label(i)
                        ));
                        continue;
                    }
                }
            }
            let saved = std::time::Duration::from_secs_f64(entry.meta.elapsed_secs.max(0.0));
            ui.say(&format!(
                "Restoring the checkpoint after {} ({}, saved {})",
                self.position(i),
                self.type_of(i),
                short_duration(saved)
            ));
            let restore = Restore {
                after: i + 1,
                data: entry.meta.data.clone(),
                dir: entry.dir.clone(),
            };
            let mut inner = self.inner();
            inner.restored = i + 1;
            inner.restored_secs = entry.meta.elapsed_secs;
            inner.held = Some(entry);
            return Some(restore);
        }
        let machine = keys.iter().filter(|k| k.is_some()).count();
        ui.say(&format!(
            "No checkpoint to restore; running all {} provisioner(s) and saving a checkpoint after each of the {machine} that change the machine",
            self.provisioners.len()
        ));
        None
    }

    fn attach(&self, saver: Arc<dyn MachineSaver>) {
        self.inner().saver = Some(saver);
    }
}
