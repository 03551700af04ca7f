//! The wire format of kiln's plugin protocol (documented for plugin authors
//! in `docs/plugins/protocol.md`): newline-delimited JSON messages over the
//! plugin's stdin (host → plugin) and stdout (plugin → host). Requests carry
//! an `id` chosen by their sender; either side may send requests, so calls
//! in both directions interleave. A message that belongs to a call in
//! progress (UI lines of a `run`, command output of a `comm.start`) names
//! that call in `call`. Holds no state: only types and constants.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The oldest protocol version this kiln speaks.
pub const PROTOCOL_MIN: u32 = 1;
/// The newest protocol version this kiln speaks.
pub const PROTOCOL_MAX: u32 = 1;

/// The environment variable kiln sets when it starts a plugin; a plugin run
/// by hand without it explains that kiln starts it.
pub const MAGIC_ENV: &str = "KILN_PLUGIN_MAGIC";
/// Its value.
pub const MAGIC_VALUE: &str = "kiln-plugin-protocol";

/// The capability of serving data sources (`prepare` with kind
/// `data-source`, then `execute`). Added to protocol version 1 as a
/// capability, not a new version: a plugin that does not offer it still
/// runs, and the host asks it for no data source.
pub const CAP_DATA_SOURCE: &str = "data-source";

/// The capability of showing what a component is doing and how far a
/// transfer is: `ui` notifications of kind `activity` and `progress`
/// (kiln-sdk's `Ui::activity` and `Ui::progress`, the live view's step
/// detail and progress bar). Offered by the host; a plugin sends those
/// kinds only to a host that offered it, since a host older than it shows
/// a `ui` kind it does not know as a plain message line.
pub const CAP_UI_PROGRESS: &str = "ui.progress";

/// What the host can do for a plugin, offered in the handshake.
pub const HOST_CAPABILITIES: &[&str] = &[
    "ui",
    "ui.ask",
    CAP_UI_PROGRESS,
    "communicator",
    "hook",
    "cancel",
    CAP_DATA_SOURCE,
];

/// Capabilities the plugin side of this crate offers.
pub const PLUGIN_CAPABILITIES: &[&str] = &[
    "cancel",
    "communicator",
    "artifact.destroy",
    CAP_DATA_SOURCE,
];

/// One protocol message, in either direction.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Message {
    /// The request id (requests and responses); absent on notifications.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    /// The method (requests and notifications).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The method's parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<Value>,
    /// The id of the receiver's own call in progress this message belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call: Option<u64>,
    /// A successful response's value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    /// A failed response's error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<WireError>,
}

/// How a call failed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct WireError {
    /// `failed`, `cancelled`, `config` (with `errors`), `incompatible`,
    /// `unsupported`, or `unknown-method`.
    pub kind: String,
    /// What went wrong, lowercase.
    pub message: String,
    /// For `config`: every configuration problem.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<WireConfigError>,
}

impl WireError {
    /// An error of `kind` saying `message`.
    pub fn new(kind: &str, message: impl Into<String>) -> Self {
        WireError {
            kind: kind.into(),
            message: message.into(),
            errors: Vec::new(),
        }
    }
}

/// One configuration problem reported by a plugin's `prepare`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct WireConfigError {
    /// The config key path (`inline[2]`), when the problem has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The problem.
    pub message: String,
    /// A hint ("did you mean …?").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// The kinds of component a plugin serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord)]
pub enum Kind {
    /// A builder.
    #[serde(rename = "builder")]
    Builder,
    /// A provisioner.
    #[serde(rename = "provisioner")]
    Provisioner,
    /// A post-processor.
    #[serde(rename = "post-processor")]
    PostProcessor,
    /// A data source.
    #[serde(rename = "data-source")]
    DataSource,
}

impl Kind {
    /// The name used in messages and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Builder => "builder",
            Kind::Provisioner => "provisioner",
            Kind::PostProcessor => "post-processor",
            Kind::DataSource => "data source",
        }
    }
}

/// `describe`'s answer (also part of the handshake result).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct Description {
    /// The plugin's own version (`1.2.3`).
    pub version: String,
    /// The oldest protocol version the plugin speaks.
    pub protocol_min: u32,
    /// The newest protocol version the plugin speaks.
    pub protocol_max: u32,
    /// Builder types.
    #[serde(default)]
    pub builders: Vec<String>,
    /// Provisioner types.
    #[serde(default)]
    pub provisioners: Vec<String>,
    /// Post-processor types.
    #[serde(default)]
    pub post_processors: Vec<String>,
    /// Data source types.
    #[serde(default)]
    pub data_sources: Vec<String>,
}

/// The host's `handshake` request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HandshakeParams {
    /// The host's version.
    pub kiln_version: String,
    /// The oldest protocol version the host speaks.
    pub protocol_min: u32,
    /// The newest protocol version the host speaks.
    pub protocol_max: u32,
    /// What the host offers.
    pub capabilities: Vec<String>,
}

/// The plugin's answer to `handshake`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HandshakeResult {
    /// The version both sides will speak (the newest both know).
    pub protocol: u32,
    /// What the plugin offers.
    #[serde(default)]
    pub capabilities: Vec<String>,
    /// What the plugin serves.
    pub description: Description,
}

/// Picks the protocol version for a host range and a plugin range: the
/// newest both speak.
pub fn negotiate(host: (u32, u32), plugin: (u32, u32)) -> Option<u32> {
    let v = host.1.min(plugin.1);
    (v >= host.0.max(plugin.0)).then_some(v)
}

/// Why the host and a plugin cannot talk, in words a user can act on.
pub fn incompatibility(plugin: &str, plugin_range: (u32, u32)) -> String {
    let (pmin, pmax) = plugin_range;
    let speaks = |a: u32, b: u32| {
        if a == b {
            format!("version {a}")
        } else {
            format!("versions {a} to {b}")
        }
    };
    let advice = if pmin > PROTOCOL_MAX {
        "upgrade kiln, or install a release of the plugin made for this kiln"
    } else {
        "upgrade the plugin: this kiln no longer runs plugins that old"
    };
    format!(
        "plugin `{plugin}` speaks kiln plugin protocol {}, but kiln {} speaks {}: {advice}",
        speaks(pmin, pmax),
        kiln_sdk::KILN_VERSION,
        speaks(PROTOCOL_MIN, PROTOCOL_MAX),
    )
}

/// What a plugin's `prepare` sees of the host's prepare context.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct WireContext {
    /// The build's name.
    pub build_name: String,
    /// The builder's type.
    pub builder_type: String,
    /// The template's directory.
    pub template_dir: String,
    /// User variables, for `{{user `x`}}`.
    #[serde(default)]
    pub user_variables: Map<String, Value>,
    /// `-debug`.
    #[serde(default)]
    pub debug: bool,
    /// `-force`.
    #[serde(default)]
    pub force: bool,
    /// `-on-error`: `cleanup`, `abort`, `ask` or `run-cleanup-provisioner`.
    #[serde(default)]
    pub on_error: String,
    /// The run's start time (RFC 3339), for `{{timestamp}}`.
    #[serde(default)]
    pub init_time: String,
}

/// An artifact crossing the wire.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct WireArtifact {
    /// See `Artifact::builder_id`.
    pub builder_id: String,
    /// See `Artifact::id`.
    pub id: String,
    /// See `Artifact::files`.
    #[serde(default)]
    pub files: Vec<String>,
    /// See `Artifact::describe`.
    #[serde(default)]
    pub description: String,
    /// Extra state (`Artifact::state`).
    #[serde(default)]
    pub state: Map<String, Value>,
}

/// The answer to `prepare`.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq, Eq)]
pub struct PrepareResult {
    /// Warnings to show the user.
    #[serde(default)]
    pub warnings: Vec<String>,
    /// The keys the component adds to the build's generated data.
    #[serde(default)]
    pub generated: Vec<String>,
}

/// The answer to a builder's `run`.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct RunResult {
    /// What the builder made, if anything.
    #[serde(default)]
    pub artifact: Option<WireArtifact>,
}

/// The answer to `post-process`.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct PostProcessResult {
    /// The new artifact; `null` means the input, unchanged.
    #[serde(default)]
    pub artifact: Option<WireArtifact>,
    /// Whether the input artifact is kept.
    #[serde(default)]
    pub keep_input: bool,
    /// Whether `keep_input` wins over the template's `keep_input_artifact`.
    #[serde(default)]
    pub force_keep_input: bool,
}

/// The answer to a data source's `execute`.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct ExecuteResult {
    /// The data: an object whose keys the template reads as
    /// `data.TYPE.NAME.KEY` (the host refuses anything else).
    #[serde(default)]
    pub output: Option<Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_picks_the_newest_common_version() {
        assert_eq!(negotiate((1, 1), (1, 1)), Some(1));
        // A newer host still runs an older plugin.
        assert_eq!(negotiate((1, 3), (1, 1)), Some(1));
        assert_eq!(negotiate((1, 3), (2, 5)), Some(3));
        // An older host refuses a newer plugin.
        assert_eq!(negotiate((1, 1), (2, 2)), None);
        // A host that dropped version 1 refuses a plugin that only has it.
        assert_eq!(negotiate((2, 3), (1, 1)), None);
    }

    #[test]
    fn incompatibility_says_what_to_do() {
        let m = incompatibility("kiln-plugin-x", (2, 2));
        assert!(m.contains("protocol version 2"), "{m}");
        assert!(m.contains("upgrade kiln"), "{m}");
        let m = incompatibility("kiln-plugin-x", (0, 0));
        assert!(m.contains("upgrade the plugin"), "{m}");
    }

    #[test]
    fn messages_round_trip_without_empty_fields() {
        let m = Message {
            id: Some(3),
            method: Some("ui".into()),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_string(&m).unwrap(),
            r#"{"id":3,"method":"ui"}"#
        );
    }
}
