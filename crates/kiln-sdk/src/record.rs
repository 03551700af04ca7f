//! The build record: what a build's components learn and make beside its
//! image, shared by its builder, provisioners and post-processors.
//!
//! It stores the run's facts (template files and their digests, variable
//! names, kiln's version), the build's start time and source image (set by
//! the builder), the files attached to the artifact (an SBOM, an attestation,
//! a test report: named in the manifest), and the outcome of image tests.
//! A post-processor may *fail the build softly* ([`BuildRecord::fail`]): the
//! chain goes on, so a later manifest records the artifact and the failure,
//! and the build then ends in error with its artifacts kept. Nothing here is
//! cleaned up: attachments are outputs, like the artifact's own files.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

/// Facts about the whole run, the same for every build.
#[derive(Debug, Clone, Default)]
pub struct RunInfo {
    /// The template's files with their SHA-256 digests (lowercase hex), in
    /// the order they were read.
    pub template_files: Vec<TemplateFile>,
    /// The template's variables: names always, values only when not
    /// sensitive.
    pub variables: Vec<VariableInfo>,
    /// kiln's version.
    pub kiln_version: String,
}

/// One file of the template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateFile {
    /// Its path, as given on the command line (or found in the directory).
    pub path: PathBuf,
    /// Its SHA-256 digest in lowercase hex.
    pub sha256: String,
}

/// One variable of the template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariableInfo {
    /// Its name.
    pub name: String,
    /// Its value; `None` when it is sensitive.
    pub value: Option<String>,
}

/// A file made for the artifact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// What it is: `sbom-spdx`, `sbom-cyclonedx`, `provenance`,
    /// `test-report`.
    pub kind: String,
    /// Where it was written.
    pub path: PathBuf,
}

/// The outcome of the image tests that ran on the artifact.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TestSummary {
    /// Checks that passed.
    pub passed: usize,
    /// Checks that failed.
    pub failed: usize,
}

#[derive(Debug, Default)]
struct Inner {
    source_image: Option<String>,
    attachments: Vec<Attachment>,
    tests: Option<TestSummary>,
    failures: Vec<String>,
}

/// See the module documentation. Cheap to share: components get an `Arc`.
#[derive(Debug)]
pub struct BuildRecord {
    run: Arc<RunInfo>,
    started: SystemTime,
    inner: Mutex<Inner>,
}

impl Default for BuildRecord {
    fn default() -> Self {
        BuildRecord::new(Arc::new(RunInfo::default()))
    }
}

impl BuildRecord {
    /// A record for a build starting now.
    pub fn new(run: Arc<RunInfo>) -> BuildRecord {
        BuildRecord {
            run,
            started: SystemTime::now(),
            inner: Mutex::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic elsewhere while holding the lock leaves plain data behind.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The run's facts.
    pub fn run(&self) -> &RunInfo {
        &self.run
    }

    /// When the build started.
    pub fn started(&self) -> SystemTime {
        self.started
    }

    /// Records the image the machine was made from (an image ID or digest,
    /// or a URL with its checksum), as the builder resolved it.
    pub fn set_source_image(&self, source: impl Into<String>) {
        self.lock().source_image = Some(source.into());
    }

    /// The source image, when the builder recorded one.
    pub fn source_image(&self) -> Option<String> {
        self.lock().source_image.clone()
    }

    /// Attaches a file to the build's artifacts.
    pub fn attach(&self, kind: impl Into<String>, path: PathBuf) {
        let attachment = Attachment {
            kind: kind.into(),
            path,
        };
        let mut inner = self.lock();
        if !inner.attachments.contains(&attachment) {
            inner.attachments.push(attachment);
        }
    }

    /// The attached files, in the order they were attached.
    pub fn attachments(&self) -> Vec<Attachment> {
        self.lock().attachments.clone()
    }

    /// Adds the outcome of one run of image tests.
    pub fn add_tests(&self, summary: &TestSummary) {
        let mut inner = self.lock();
        let t = inner.tests.get_or_insert_with(TestSummary::default);
        t.passed += summary.passed;
        t.failed += summary.failed;
    }

    /// The image tests' outcome, when tests ran.
    pub fn tests(&self) -> Option<TestSummary> {
        self.lock().tests.clone()
    }

    /// Fails the build once its post-processor chains have run, keeping
    /// its artifacts (see the module documentation).
    pub fn fail(&self, message: impl Into<String>) {
        self.lock().failures.push(message.into());
    }

    /// The soft failures, in order.
    pub fn failures(&self) -> Vec<String> {
        self.lock().failures.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attachments_are_kept_once_in_order() {
        let r = BuildRecord::default();
        r.attach("sbom-spdx", "a.spdx.json".into());
        r.attach("provenance", "a.intoto.jsonl".into());
        r.attach("sbom-spdx", "a.spdx.json".into());
        let kinds: Vec<_> = r.attachments().into_iter().map(|a| a.kind).collect();
        assert_eq!(kinds, ["sbom-spdx", "provenance"]);
    }

    #[test]
    fn test_summaries_add_up() {
        let r = BuildRecord::default();
        assert_eq!(r.tests(), None);
        r.add_tests(&TestSummary {
            passed: 2,
            failed: 0,
        });
        r.add_tests(&TestSummary {
            passed: 1,
            failed: 1,
        });
        assert_eq!(
            r.tests(),
            Some(TestSummary {
                passed: 3,
                failed: 1
            })
        );
    }
}
