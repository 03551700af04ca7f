//! Makes the extra CD from `cd_files` (paths and globs) and `cd_content`
//! with xorriso (or genisoimage / mkisofs), labelled `cd_label`. Stages the
//! files and writes the ISO in the temporary directory (removed by
//! StepTempDir); records it in `QemuState::cd_path`. Nothing else to undo.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};

use crate::config::Config;
use crate::driver::Driver;
use crate::QemuState;

/// Expands `patterns` (plain paths or globs) into files, each with the
/// path it gets inside the image: a directory keeps its contents under its
/// own name, a file goes to the root.
pub fn expand(patterns: &[String]) -> Result<Vec<(PathBuf, PathBuf)>, String> {
    let mut out = Vec::new();
    for pat in patterns {
        let matches: Vec<PathBuf> = if pat.contains(['*', '?', '[']) {
            let (base, _) = pat.split_at(pat.find(['*', '?', '[']).unwrap_or(0));
            let base_dir = Path::new(base)
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."))
                .to_path_buf();
            let glob = globset::Glob::new(pat)
                .map_err(|e| format!("invalid pattern `{pat}`: {e}"))?
                .compile_matcher();
            let mut found = Vec::new();
            let rd = std::fs::read_dir(&base_dir)
                .map_err(|e| format!("cannot read `{}` for `{pat}`: {e}", base_dir.display()))?;
            for e in rd.flatten() {
                let p = if base_dir == Path::new(".") && !pat.starts_with("./") {
                    PathBuf::from(e.file_name())
                } else {
                    e.path()
                };
                if glob.is_match(&p) {
                    found.push(p);
                }
            }
            found.sort();
            if found.is_empty() {
                return Err(format!("`{pat}` matches no file"));
            }
            found
        } else {
            vec![PathBuf::from(pat)]
        };
        for m in matches {
            let meta =
                std::fs::metadata(&m).map_err(|e| format!("cannot read `{}`: {e}", m.display()))?;
            if meta.is_dir() {
                let name = m.file_name().map(PathBuf::from).unwrap_or_default();
                walk(&m, &name, &mut out)?;
            } else {
                let name = m.file_name().map(PathBuf::from).unwrap_or_default();
                out.push((m.clone(), name));
            }
        }
    }
    Ok(out)
}

fn walk(dir: &Path, rel: &Path, out: &mut Vec<(PathBuf, PathBuf)>) -> Result<(), String> {
    let rd = std::fs::read_dir(dir).map_err(|e| format!("cannot read `{}`: {e}", dir.display()))?;
    for e in rd.flatten() {
        let p = e.path();
        let r = rel.join(e.file_name());
        if p.is_dir() {
            walk(&p, &r, out)?;
        } else {
            out.push((p, r));
        }
    }
    Ok(())
}

/// Copies files and writes contents into `stage`.
pub fn stage(
    stage: &Path,
    files: &[(PathBuf, PathBuf)],
    content: &BTreeMap<String, String>,
) -> Result<(), String> {
    for (src, rel) in files {
        let dst = stage.join(rel);
        if let Some(p) = dst.parent() {
            std::fs::create_dir_all(p)
                .map_err(|e| format!("cannot create `{}`: {e}", p.display()))?;
        }
        std::fs::copy(src, &dst).map_err(|e| {
            format!(
                "cannot copy `{}` to `{}`: {e}",
                src.display(),
                dst.display()
            )
        })?;
    }
    for (name, text) in content {
        let dst = stage.join(name.trim_start_matches('/'));
        if let Some(p) = dst.parent() {
            std::fs::create_dir_all(p)
                .map_err(|e| format!("cannot create `{}`: {e}", p.display()))?;
        }
        std::fs::write(&dst, text).map_err(|e| format!("cannot write `{}`: {e}", dst.display()))?;
    }
    Ok(())
}

/// See the module docs.
pub struct StepCreateCd {
    config: Arc<Config>,
    driver: Arc<dyn Driver>,
}

impl StepCreateCd {
    /// The step for `config`.
    pub fn new(config: Arc<Config>, driver: Arc<dyn Driver>) -> Self {
        StepCreateCd { config, driver }
    }
}

#[async_trait]
impl Step<QemuState> for StepCreateCd {
    fn name(&self) -> &'static str {
        "StepCreateCD"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut QemuState,
    ) -> Result<StepAction, StepError> {
        let Some(cd) = &self.config.cd else {
            return Ok(StepAction::Continue);
        };
        let tmp = state
            .temp_dir
            .clone()
            .ok_or_else(|| StepError::msg("internal error: no temporary directory"))?;
        cx.ui.say("Creating CD disk...");
        let dir = tmp.join("cd");
        std::fs::create_dir_all(&dir)
            .map_err(|e| StepError::msg(format!("cannot create `{}`: {e}", dir.display())))?;
        let files = expand(&cd.files).map_err(StepError::msg)?;
        stage(&dir, &files, &cd.content).map_err(StepError::msg)?;
        let iso = tmp.join("cd.iso");
        let program = ["xorriso", "genisoimage", "mkisofs"]
            .into_iter()
            .find(|p| self.driver.has(p))
            .ok_or_else(|| {
                StepError::msg(
                    "making a CD needs `xorriso`, `genisoimage` or `mkisofs`; none is installed",
                )
            })?;
        let mut args: Vec<String> = Vec::new();
        if program == "xorriso" {
            args.extend(["-as".into(), "mkisofs".into()]);
        }
        args.extend(["-quiet".into(), "-J".into(), "-R".into()]);
        if !cd.label.is_empty() {
            args.extend(["-V".into(), cd.label.clone()]);
        }
        args.extend([
            "-o".into(),
            iso.display().to_string(),
            dir.display().to_string(),
        ]);
        state.cd_path = Some(iso);
        self.driver
            .run(program, &args)
            .await
            .map_err(|e| StepError::msg(format!("cannot create the CD: {e}")))?;
        Ok(StepAction::Continue)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::fake::FakeDriver;
    use crate::tests::{config_with, run_step};
    use serde_json::json;

    #[tokio::test]
    async fn stages_files_and_content_then_runs_xorriso() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        std::fs::create_dir_all(src.join("sub")).unwrap();
        std::fs::write(src.join("a.txt"), "a").unwrap();
        std::fs::write(src.join("sub/b.txt"), "b").unwrap();
        let c = config_with(
            json!({
            "cd_files": [src.join("a.txt"), src.join("su*")],
            "cd_content": {"meta/user-data": "hi"}, "cd_label": "cidata"}),
            false,
        );
        let d = Arc::new(FakeDriver::default());
        let state = QemuState {
            temp_dir: Some(tmp.path().join("t")),
            ..Default::default()
        };
        let (r, state, _) = run_step(StepCreateCd::new(c, d.clone()), state, false).await;
        assert!(r.is_ok(), "{r:?}");
        let stage = tmp.path().join("t/cd");
        assert_eq!(std::fs::read_to_string(stage.join("a.txt")).unwrap(), "a");
        assert_eq!(
            std::fs::read_to_string(stage.join("sub/b.txt")).unwrap(),
            "b"
        );
        assert_eq!(
            std::fs::read_to_string(stage.join("meta/user-data")).unwrap(),
            "hi"
        );
        assert_eq!(state.cd_path, Some(tmp.path().join("t/cd.iso")));
        let calls = d.calls();
        assert!(
            calls[0].starts_with("xorriso -as mkisofs -quiet -J -R -V cidata -o "),
            "{calls:?}"
        );
    }

    #[test]
    fn missing_globs_fail() {
        assert!(expand(&["/nonexistent-dir/*.x".into()]).is_err());
    }
}
