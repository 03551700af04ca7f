//! The run-tag convention: every resource a builder creates in a cloud
//! carries the name of its build and the run's `PACKER_RUN_UUID`, so that
//! `kiln cleanup -run <uuid>` can find, through the cloud's own API, what a
//! killed kiln left behind (a SIGKILL runs no cleanup). The key names are
//! defined here once, so every cloud uses the same ones. Pure; holds
//! nothing.

/// The tag key naming the run, on clouds whose tag keys allow `:` (EC2).
pub const RUN: &str = "kiln:run";
/// The tag key naming the build, on clouds whose tag keys allow `:`.
pub const BUILD: &str = "kiln:build";
/// The label naming the run, where labels are dotted (Docker).
pub const LABEL_RUN: &str = "kiln.run";
/// The label naming the build, where labels are dotted (Docker).
pub const LABEL_BUILD: &str = "kiln.build";

/// The run tags of one build.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RunTags {
    /// The run's `PACKER_RUN_UUID`.
    pub run: String,
    /// The build's name.
    pub build: String,
}

impl RunTags {
    /// The run tags of build `build` in run `run`.
    pub fn new(run: &str, build: &str) -> Self {
        RunTags {
            run: run.to_string(),
            build: build.to_string(),
        }
    }

    /// The tags, keyed [`RUN`] and [`BUILD`]. Empty when the run has no
    /// id (a component run outside `kiln build`), so nothing is tagged
    /// with an empty run.
    pub fn tags(&self) -> Vec<(String, String)> {
        self.pairs(RUN, BUILD)
    }

    /// The labels, keyed [`LABEL_RUN`] and [`LABEL_BUILD`]; empty like
    /// [`RunTags::tags`].
    pub fn labels(&self) -> Vec<(String, String)> {
        self.pairs(LABEL_RUN, LABEL_BUILD)
    }

    fn pairs(&self, run: &str, build: &str) -> Vec<(String, String)> {
        if self.run.is_empty() {
            return Vec::new();
        }
        vec![
            (run.to_string(), self.run.clone()),
            (build.to_string(), self.build.clone()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_and_labels_name_the_run_and_the_build() {
        let t = RunTags::new("5e1c-run", "web");
        assert_eq!(
            t.tags(),
            [
                ("kiln:run".to_string(), "5e1c-run".to_string()),
                ("kiln:build".to_string(), "web".to_string())
            ]
        );
        assert_eq!(
            t.labels()[0],
            ("kiln.run".to_string(), "5e1c-run".to_string())
        );
    }

    #[test]
    fn a_run_without_an_id_tags_nothing() {
        assert!(RunTags::new("", "web").tags().is_empty());
    }
}
