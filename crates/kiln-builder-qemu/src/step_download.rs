//! Finds the source image: a local path or `file://` URL is used in place;
//! an `http(s)://` URL is downloaded (with progress) into the download
//! cache (`PACKER_CACHE_DIR`, else `./packer_cache`), keyed by the checksum,
//! and reused when the cached file still matches. Every source is verified
//! against `iso_checksum` (a `file:` checksum is fetched first). Records
//! the path in `QemuState::source_path` and the verified digest in
//! `source_digest`; cleanup removes only a partial
//! download (`*.part`): cached images stay for the next build.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures_util::StreamExt;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};
use kiln_sdk::Ui;
use tokio::io::AsyncWriteExt;

use crate::checksum::{find_in_checksum_file, hash_file, Checksum};
use crate::config::Config;
use crate::driver::Driver;
use crate::QemuState;

/// See the module docs.
pub struct StepDownload {
    config: Arc<Config>,
    partial: Option<PathBuf>,
}

impl StepDownload {
    /// The step for `config`.
    pub fn new(config: Arc<Config>, _driver: Arc<dyn Driver>) -> Self {
        StepDownload {
            config,
            partial: None,
        }
    }
}

/// Where a source URL points.
#[derive(Debug, PartialEq, Eq)]
pub enum Location {
    /// A local file.
    Local(PathBuf),
    /// Something to download.
    Remote(String),
}

/// Classifies a source URL.
pub fn locate(url: &str) -> Result<Location, String> {
    if let Some(p) = url.strip_prefix("file://") {
        return Ok(Location::Local(PathBuf::from(p)));
    }
    if url.starts_with("http://") || url.starts_with("https://") {
        return Ok(Location::Remote(url.to_string()));
    }
    match url.split_once("://") {
        Some((scheme, _)) => Err(format!(
            "unsupported URL scheme `{scheme}` in `{url}`: use a local path, `file://`, `http://` or `https://`"
        )),
        None => Ok(Location::Local(PathBuf::from(url))),
    }
}

/// The file name a checksum file lists for `url`.
pub(crate) fn file_name(url: &str) -> String {
    url.rsplit('/')
        .next()
        .unwrap_or(url)
        .split(['?', '#'])
        .next()
        .unwrap_or_default()
        .to_string()
}

fn cache_dir() -> PathBuf {
    std::env::var_os("PACKER_CACHE_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("packer_cache"))
}

async fn fetch_text(url: &str) -> Result<String, String> {
    match locate(url)? {
        Location::Local(p) => tokio::fs::read_to_string(&p)
            .await
            .map_err(|e| format!("cannot read checksum file `{}`: {e}", p.display())),
        Location::Remote(u) => {
            let r = reqwest::get(&u)
                .await
                .and_then(|r| r.error_for_status())
                .map_err(|e| format!("cannot download checksum file `{u}`: {e}"))?;
            r.text()
                .await
                .map_err(|e| format!("cannot read checksum file `{u}`: {e}"))
        }
    }
}

async fn verify(path: &Path, checksum: &Checksum, ui: &dyn Ui) -> Result<(), String> {
    let Checksum::Digest { algorithm, hex } = checksum else {
        return Ok(());
    };
    ui.message(&format!(
        "Verifying {} checksum of {}",
        algorithm.name(),
        path.display()
    ));
    let got = hash_file(path, *algorithm).await.map_err(|e| {
        format!(
            "cannot read `{}` to verify its checksum: {e}",
            path.display()
        )
    })?;
    if &got != hex {
        return Err(format!(
            "checksum mismatch for `{}`: expected {}:{hex}, got {}:{got}",
            path.display(),
            algorithm.name(),
            algorithm.name()
        ));
    }
    Ok(())
}

async fn download(url: &str, target: &Path, ui: &dyn Ui) -> Result<(), String> {
    let resp = reqwest::get(url)
        .await
        .and_then(|r| r.error_for_status())
        .map_err(|e| format!("cannot download `{url}`: {e}"))?;
    let total = resp.content_length();
    if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(|e| format!("cannot create `{}`: {e}", parent.display()))?;
    }
    let mut file = tokio::fs::File::create(target)
        .await
        .map_err(|e| format!("cannot create `{}`: {e}", target.display()))?;
    let mut stream = resp.bytes_stream();
    let (mut done, mut last_pct, mut last_report) = (0u64, 0u64, Instant::now());
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| format!("download of `{url}` failed: {e}"))?;
        file.write_all(&chunk)
            .await
            .map_err(|e| format!("cannot write `{}`: {e}", target.display()))?;
        done += chunk.len() as u64;
        ui.progress("download", done, total.unwrap_or(0));
        match total {
            Some(t) if t > 0 => {
                let pct = done * 100 / t;
                if pct >= last_pct + 10 {
                    last_pct = pct - pct % 10;
                    ui.message(&format!(
                        "{url}: {pct}% ({} of {} MiB)",
                        done >> 20,
                        t >> 20
                    ));
                }
            }
            _ if last_report.elapsed() > Duration::from_secs(5) => {
                last_report = Instant::now();
                ui.message(&format!("{url}: {} MiB", done >> 20));
            }
            _ => {}
        }
    }
    file.flush()
        .await
        .map_err(|e| format!("cannot write `{}`: {e}", target.display()))?;
    Ok(())
}

impl StepDownload {
    async fn one(&mut self, url: &str, ui: &dyn Ui) -> Result<(PathBuf, Checksum), String> {
        let mut checksum = self.config.source.checksum.clone();
        if let Checksum::File { url: sums } = &checksum {
            let text = fetch_text(sums).await?;
            let name = file_name(url);
            checksum = find_in_checksum_file(&text, &name)
                .ok_or_else(|| format!("no checksum for `{name}` in `{sums}`"))?;
        }
        match locate(url)? {
            Location::Local(p) => {
                if !p.is_file() {
                    return Err(format!(
                        "source `{}` does not exist or is not a file",
                        p.display()
                    ));
                }
                verify(&p, &checksum, ui).await?;
                Ok((p, checksum))
            }
            Location::Remote(u) => {
                let target = match &self.config.source.target_path {
                    Some(t) => t.clone(),
                    None => cache_dir().join(format!(
                        "{}.{}",
                        checksum.cache_key(&u),
                        self.config.source.target_extension
                    )),
                };
                if target.is_file()
                    && checksum != Checksum::None
                    && verify(&target, &checksum, ui).await.is_ok()
                {
                    ui.message(&format!("Using cached {}", target.display()));
                    return Ok((target, checksum));
                }
                ui.say(&format!("Downloading {u}"));
                let part =
                    target.with_extension(format!("{}.part", self.config.source.target_extension));
                self.partial = Some(part.clone());
                download(&u, &part, ui).await?;
                verify(&part, &checksum, ui).await?;
                tokio::fs::rename(&part, &target).await.map_err(|e| {
                    format!(
                        "cannot move `{}` to `{}`: {e}",
                        part.display(),
                        target.display()
                    )
                })?;
                self.partial = None;
                Ok((target, checksum))
            }
        }
    }
}

#[async_trait]
impl Step<QemuState> for StepDownload {
    fn name(&self) -> &'static str {
        "StepDownload"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut QemuState,
    ) -> Result<StepAction, StepError> {
        if self.config.source.checksum == Checksum::None {
            cx.ui.say("Retrieving ISO");
        }
        if self.config.source.skip_cache {
            // QEMU opens the URL itself (curl block driver); a local path
            // still has to exist.
            let url = self.config.source.urls.first().cloned().unwrap_or_default();
            if let Location::Local(p) = locate(&url).map_err(StepError::msg)? {
                if !p.is_file() {
                    return Err(StepError::msg(format!(
                        "source `{}` does not exist or is not a file",
                        p.display()
                    )));
                }
            }
            cx.ui.message(&format!(
                "`iso_skip_cache` is set: QEMU reads {url} directly, unchecked"
            ));
            state.source_image = Some(url.clone());
            state.source_path = Some(PathBuf::from(url));
            return Ok(StepAction::Continue);
        }
        let mut errors = Vec::new();
        for url in self.config.source.urls.clone() {
            match self.one(&url, cx.ui).await {
                Ok((p, checksum)) => {
                    state.source_image = Some(match &checksum {
                        Checksum::Digest { algorithm, hex } => {
                            state.source_digest = Some(format!("{}:{hex}", algorithm.name()));
                            format!("{url}@{}:{hex}", algorithm.name())
                        }
                        _ => url.clone(),
                    });
                    state.source_path = Some(p);
                    return Ok(StepAction::Continue);
                }
                Err(e) => {
                    cx.ui.error(&e);
                    errors.push(e);
                }
            }
        }
        Err(StepError::msg(match errors.len() {
            1 => errors.remove(0),
            _ => format!("no source could be used:\n{}", errors.join("\n")),
        }))
    }

    async fn cleanup(&mut self, _: &StepContext<'_>, _: &mut QemuState) {
        if let Some(p) = self.partial.take() {
            let _ = tokio::fs::remove_file(p).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::{config_with, run_step};
    use serde_json::json;

    #[test]
    fn locates_sources() {
        assert_eq!(locate("a/b.iso"), Ok(Location::Local("a/b.iso".into())));
        assert_eq!(
            locate("file:///x/y.iso"),
            Ok(Location::Local("/x/y.iso".into()))
        );
        assert_eq!(
            locate("https://h/x.iso"),
            Ok(Location::Remote("https://h/x.iso".into()))
        );
        assert!(locate("ftp://h/x")
            .unwrap_err()
            .contains("unsupported URL scheme `ftp`"));
        assert_eq!(file_name("https://h/a/x.iso?y=1"), "x.iso");
    }

    #[tokio::test]
    async fn verifies_local_files_and_falls_back_through_urls() {
        let tmp = tempfile::tempdir().unwrap();
        let f = tmp.path().join("x.iso");
        std::fs::write(&f, b"abc").unwrap();
        let sha = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        let c = config_with(
            json!({"iso_urls": [tmp.path().join("missing.iso"), format!("file://{}", f.display())], "iso_checksum": format!("sha256:{sha}")}),
            false,
        );
        let (r, state, _) = run_step(
            StepDownload::new(c, Arc::new(crate::driver::QemuDriver)),
            QemuState::default(),
            false,
        )
        .await;
        assert!(r.is_ok(), "{r:?}");
        assert_eq!(state.source_path, Some(f.clone()));
        assert_eq!(state.source_digest, Some(format!("sha256:{sha}")));

        let sums = tmp.path().join("SHA256SUMS");
        std::fs::write(&sums, format!("{}  x.iso\n", "0".repeat(64))).unwrap();
        let c = config_with(
            json!({"iso_url": f, "iso_checksum": format!("file:{}", sums.display())}),
            false,
        );
        let (r, _, _) = run_step(
            StepDownload::new(c, Arc::new(crate::driver::QemuDriver)),
            QemuState::default(),
            false,
        )
        .await;
        let e = r.unwrap_err().to_string();
        assert!(e.contains("checksum mismatch"), "{e}");
    }
}
