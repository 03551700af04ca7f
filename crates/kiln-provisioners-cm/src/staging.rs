//! What the four provisioners share to work on the guest, as Packer's copies
//! of the same helpers do: running a command with its output on the UI
//! (Packer's `RunWithUi`), creating a staging directory (`mkdir -p`, then
//! `chmod 0777` so that a non-root user can write to it), removing it,
//! uploading a local directory's contents, a local file or generated
//! bytes; and the prepare-time checks of local paths, with Packer's
//! reasons. Holds nothing: what a provisioner creates on the guest is
//! removed by that provisioner (`clean_staging_directory`,
//! `skip_clean_staging_directory`).

use std::path::Path;

use kiln_sdk::communicator::{Communicator, ExitStatus, FileMeta};
use kiln_sdk::Ui;

use crate::guest_commands::GuestCommands;

/// The failure of a command whose output the UI has shown.
pub(crate) const SEE_OUTPUT: &str = "Non-zero exit status. See output above for more info.";

/// The failure of `mkdir` in puppet-masterless (the others say
/// [`SEE_OUTPUT`]) and of `rm -rf` in both puppet provisioners.
pub(crate) const NON_ZERO: &str = "Non-zero exit status.";

/// The guest as the provisioners see it: a communicator, the UI its
/// commands' output goes to, and the guest command table.
pub(crate) struct Guest<'a> {
    pub(crate) comm: &'a dyn Communicator,
    pub(crate) ui: &'a dyn Ui,
    pub(crate) commands: GuestCommands,
}

impl Guest<'_> {
    /// Runs `command`, its stdout shown as messages and its stderr as
    /// errors. `Err` only when it could not run at all.
    pub(crate) async fn run(&self, command: &str) -> Result<ExitStatus, String> {
        kiln_sdk::communicator::run_with_ui(self.comm, self.ui, command)
            .await
            .map_err(|e| e.to_string())
    }

    /// Packer's `createDir`: says `Creating directory: <dir>`, creates it,
    /// then opens it to everyone (`0777`). `mkdir_failure` is what a
    /// failing `mkdir` reads as (the provisioners differ).
    pub(crate) async fn create_dir(&self, dir: &str, mkdir_failure: &str) -> Result<(), String> {
        self.ui.message(&format!("Creating directory: {dir}"));
        if self.run(&self.commands.create_dir(dir)).await?.code() != 0 {
            return Err(mkdir_failure.to_string());
        }
        if self.run(&self.commands.chmod(dir, "0777")).await?.code() != 0 {
            return Err(SEE_OUTPUT.to_string());
        }
        Ok(())
    }

    /// Packer's `removeDir` (`rm -rf`); `Err(NON_ZERO)` when it fails.
    pub(crate) async fn remove_dir(&self, dir: &str) -> Result<(), String> {
        if self.run(&self.commands.remove_dir(dir)).await?.code() != 0 {
            return Err(NON_ZERO.to_string());
        }
        Ok(())
    }

    /// Packer's `uploadDirectory`: creates `destination`, then uploads the
    /// contents of the local directory `source` into it (a trailing `/`
    /// is added, so the directory itself is not created inside).
    pub(crate) async fn upload_directory(
        &self,
        destination: &str,
        source: &str,
        mkdir_failure: &str,
    ) -> Result<(), String> {
        self.create_dir(destination, mkdir_failure).await?;
        let source = if source.ends_with('/') {
            source.to_string()
        } else {
            format!("{source}/")
        };
        self.comm
            .upload_dir(destination, Path::new(&source), &[])
            .await
            .map_err(|e| e.to_string())
    }

    /// Uploads the local directory `local`, when set, to
    /// `<staging_dir>/<name>` (with `announce`, saying `Uploading <what>
    /// from: <local>` first); returns the remote path, empty when unset.
    /// A failure reads `Error uploading <what>: …`.
    pub(crate) async fn upload_optional_dir(
        &self,
        staging_dir: &str,
        (local, name): (&str, &str),
        what: &str,
        announce: bool,
        mkdir_failure: &str,
    ) -> Result<String, String> {
        if local.is_empty() {
            return Ok(String::new());
        }
        if announce {
            self.ui.message(&format!("Uploading {what} from: {local}"));
        }
        let remote = format!("{staging_dir}/{name}");
        self.upload_directory(&remote, local, mkdir_failure)
            .await
            .map_err(|e| format!("Error uploading {what}: {e}"))?;
        Ok(remote)
    }

    /// Uploads the local file `source` to `destination`, streaming it. The
    /// remote file gets the communicator's default mode, as Packer's
    /// upload without file info does.
    pub(crate) async fn upload_file(&self, destination: &str, source: &str) -> Result<(), String> {
        let mut f = tokio::fs::File::open(source)
            .await
            .map_err(|e| format!("open {source}: {}", reason(&e)))?;
        let size = f
            .metadata()
            .await
            .map_err(|e| format!("stat {source}: {}", reason(&e)))?
            .len();
        self.comm
            .upload(
                destination,
                &mut f,
                FileMeta {
                    size: Some(size),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| e.to_string())
    }

    /// Uploads `content` (a generated file) to `destination`.
    pub(crate) async fn upload_bytes(
        &self,
        destination: &str,
        content: &[u8],
    ) -> Result<(), String> {
        let mut reader = content;
        self.comm
            .upload(
                destination,
                &mut reader,
                FileMeta {
                    size: Some(content.len() as u64),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| e.to_string())
    }
}

/// An I/O error as Go prints it (`no such file or directory`): the
/// system's message, lowercased, without Rust's `(os error N)`.
pub(crate) fn reason(e: &std::io::Error) -> String {
    let mut text = e.to_string();
    if let Some(i) = text.find(" (os error") {
        text.truncate(i);
    }
    match text.get(..1) {
        Some(first) => first.to_lowercase() + &text[1..],
        None => text,
    }
}

/// What a local path is, for the prepare-time checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    File,
    Dir,
}

/// Packer's `os.Stat` of a local path named in the config: its kind, or
/// why it cannot be read (`no such file or directory`).
pub(crate) fn stat(path: &str) -> Result<Kind, String> {
    std::fs::metadata(path)
        .map(|m| if m.is_dir() { Kind::Dir } else { Kind::File })
        .map_err(|e| reason(&e))
}

/// Go's `filepath.ToSlash(filepath.Join(dir, name))` on a unix host:
/// joined, then cleaned (`a//b/../c` is `a/c`).
pub(crate) fn join_clean(dir: &str, name: &str) -> String {
    let joined = match (dir.is_empty(), name.is_empty()) {
        (true, true) => return String::new(),
        (true, false) => name.to_string(),
        (false, true) => dir.to_string(),
        (false, false) => format!("{dir}/{name}"),
    };
    go_clean(&joined)
}

/// Go's `path.Clean`.
fn go_clean(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => match parts.last() {
                Some(&last) if last != ".." => {
                    parts.pop();
                }
                _ if rooted => {}
                _ => parts.push(".."),
            },
            p => parts.push(p),
        }
    }
    let body = parts.join("/");
    match (rooted, body.is_empty()) {
        (true, _) => format!("/{body}"),
        (false, true) => ".".to_string(),
        (false, false) => body,
    }
}

/// Packer's `uuid.TimeOrderedUUID`: the Unix time in seconds as 8 hex
/// digits, then 12 random bytes, laid out like a UUID. Node names and
/// elevated task names are made of it.
pub(crate) fn time_ordered_uuid() -> String {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as u32)
        .unwrap_or(0);
    let b = *uuid::Uuid::new_v4().as_bytes();
    let hex = |bytes: &[u8]| bytes.iter().map(|x| format!("{x:02x}")).collect::<String>();
    format!(
        "{seconds:08x}-{}-{}-{}-{}",
        hex(&b[0..2]),
        hex(&b[2..4]),
        hex(&b[4..6]),
        hex(&b[6..12])
    )
}

/// Packer's `ExpandUser`: a leading `~` or `~/` becomes the home
/// directory; `~user` cannot be expanded.
pub(crate) fn expand_user(path: &str) -> Result<String, String> {
    let Some(rest) = path.strip_prefix('~') else {
        return Ok(path.to_string());
    };
    if !rest.is_empty() && !rest.starts_with('/') && !rest.starts_with('\\') {
        return Err("cannot expand user-specific home dir".to_string());
    }
    let home = std::env::var("HOME").map_err(|_| "$HOME is not defined".to_string())?;
    Ok(join_clean(&home, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans_like_go() {
        assert_eq!(
            join_clean("/tmp/packer-chef-solo", "solo.rb"),
            "/tmp/packer-chef-solo/solo.rb"
        );
        assert_eq!(join_clean("/tmp/x/", "solo.rb"), "/tmp/x/solo.rb");
        assert_eq!(join_clean("/tmp//a/../b", "node.json"), "/tmp/b/node.json");
        assert_eq!(
            join_clean("C:/Windows/Temp/packer-chef-solo", "solo.rb"),
            "C:/Windows/Temp/packer-chef-solo/solo.rb"
        );
        assert_eq!(join_clean("rel/./x", "y"), "rel/x/y");
        assert_eq!(join_clean("../a", "b"), "../a/b");
        assert_eq!(join_clean("/..", "b"), "/b");
        assert_eq!(join_clean("", "b"), "b");
    }

    #[test]
    fn time_ordered_uuids_look_like_packers() {
        let u = time_ordered_uuid();
        let groups: Vec<usize> = u.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12], "{u}");
        assert!(u.chars().all(|c| c == '-' || c.is_ascii_hexdigit()), "{u}");
        assert_ne!(u, time_ordered_uuid());
    }

    #[test]
    fn expands_a_leading_tilde_only() {
        let home = std::env::var("HOME").unwrap();
        assert_eq!(expand_user("~/k.pem").unwrap(), format!("{home}/k.pem"));
        assert_eq!(expand_user("/etc/k.pem").unwrap(), "/etc/k.pem");
        assert_eq!(
            expand_user("~bob/k.pem").unwrap_err(),
            "cannot expand user-specific home dir"
        );
    }

    #[test]
    fn stat_gives_gos_reasons() {
        assert_eq!(
            stat("/nonexistent-kiln"),
            Err("no such file or directory".into())
        );
        assert_eq!(stat("/"), Ok(Kind::Dir));
        assert_eq!(
            stat("/etc/hostname").or(stat("/etc/passwd")),
            Ok(Kind::File)
        );
    }
}
