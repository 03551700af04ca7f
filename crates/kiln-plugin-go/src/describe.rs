//! `packer-plugin-NAME describe`: the components a multi-component SDK
//! plugin serves, and the names Packer ≥ 1.7 registers them under
//! (`NAME-component`, or `NAME` for the SDK's default component). Runs the
//! plugin once and stores nothing.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::{GoPluginCommand, GoPluginError};

/// The SDK's name for a plugin's unnamed component.
pub const DEFAULT_NAME: &str = "-packer-default-plugin-name-";

/// The kinds of component kiln can run from a plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComponentKind {
    /// A builder.
    Builder,
    /// A provisioner.
    Provisioner,
    /// A post-processor.
    PostProcessor,
}

impl ComponentKind {
    /// The word Packer uses on command lines (`post-processor`).
    pub fn as_str(self) -> &'static str {
        match self {
            ComponentKind::Builder => "builder",
            ComponentKind::Provisioner => "provisioner",
            ComponentKind::PostProcessor => "post-processor",
        }
    }
}

/// What `describe` prints.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct Description {
    /// The plugin's version.
    #[serde(default)]
    pub version: String,
    /// The SDK version it was built with.
    #[serde(default)]
    pub sdk_version: String,
    /// `x5.0` (SDK ≥ 0.0.11; absent before).
    #[serde(default)]
    pub api_version: String,
    /// `v2` when it understands `--protobuf` (kiln does not use it).
    #[serde(default)]
    pub protocol_version: String,
    /// Builder names.
    #[serde(default)]
    pub builders: Vec<String>,
    /// Provisioner names.
    #[serde(default)]
    pub provisioners: Vec<String>,
    /// Post-processor names.
    #[serde(default)]
    pub post_processors: Vec<String>,
    /// Data source names (kiln does not run data sources yet).
    #[serde(default)]
    pub datasources: Vec<String>,
}

/// One component of a described plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    /// Its kind.
    pub kind: ComponentKind,
    /// The template type it registers as.
    pub type_name: String,
    /// How to start it.
    pub command: GoPluginCommand,
}

impl Description {
    /// Every builder, provisioner and post-processor, named as Packer ≥ 1.7
    /// names them for a plugin called `plugin_name` (the part after
    /// `packer-plugin-`).
    pub fn components(&self, program: &Path, plugin_name: &str) -> Vec<Component> {
        let mut out = Vec::new();
        for (kind, names) in [
            (ComponentKind::Builder, &self.builders),
            (ComponentKind::Provisioner, &self.provisioners),
            (ComponentKind::PostProcessor, &self.post_processors),
        ] {
            for n in names {
                let type_name = if n == DEFAULT_NAME {
                    plugin_name.to_string()
                } else {
                    format!("{plugin_name}-{n}")
                };
                out.push(Component {
                    kind,
                    type_name,
                    command: GoPluginCommand::sdk(program, kind, n),
                });
            }
        }
        out
    }
}

/// Runs `program describe` and parses its JSON.
pub fn describe(program: &Path) -> Result<Description, GoPluginError> {
    let name = program
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| program.display().to_string());
    let err = |message: String| GoPluginError::Describe {
        plugin: name.clone(),
        message,
    };
    let mut child = std::process::Command::new(program)
        .arg("describe")
        .env("CHECKPOINT_DISABLE", "1")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| err(format!("cannot run `{} describe`: {e}", program.display())))?;
    // A plugin that hangs must not hang kiln.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10))
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(err("`describe` did not finish within 30s".into()));
            }
        }
    }
    let out = child
        .wait_with_output()
        .map_err(|e| err(format!("cannot read its output: {e}")))?;
    if !out.status.success() {
        return Err(err(format!(
            "`describe` failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| {
        err(format!(
            "`describe` printed something that is not a plugin description ({e}); plugins built before packer-plugin-sdk v0.0.11 do not answer `describe`"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_components_like_packer() {
        let d: Description = serde_json::from_str(
            r#"{"version":"1.2.3","sdk_version":"0.5.2","api_version":"x5.0","builders":["-packer-default-plugin-name-","ebs"],
               "post_processors":[],"provisioners":["x"],"datasources":["ami"],"protocol_version":"v2"}"#,
        )
        .unwrap();
        let c = d.components(Path::new("/p/packer-plugin-amazon"), "amazon");
        let names: Vec<_> = c.iter().map(|c| c.type_name.as_str()).collect();
        assert_eq!(names, ["amazon", "amazon-ebs", "amazon-x"]);
        assert_eq!(c[1].command.args, ["start", "builder", "ebs"]);
        assert_eq!(c[2].command.args, ["start", "provisioner", "x"]);
    }
}
