//! Packer's `guest_os_type` command table (packer-plugin-sdk `guestexec`,
//! `provisioner/guest_commands.go` in Packer 1.6.6): the shell command
//! that creates, removes, chmods, stats or moves a path on a `unix` or a
//! `windows` guest, with `sudo ` in front on unix unless `prevent_sudo`.
//! Pure string building; holds nothing, runs nothing.

use std::fmt;

/// The guest operating systems Packer's provisioners know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuestOsType {
    /// `unix`, the default: POSIX commands.
    Unix,
    /// `windows`: PowerShell commands.
    Windows,
}

impl GuestOsType {
    /// Reads `guest_os_type` as Packer does: empty means `unix`, case is
    /// ignored. The error is the value, lowercased, for the message.
    pub fn parse(value: &str) -> Result<GuestOsType, String> {
        match value.to_lowercase().as_str() {
            "" | "unix" => Ok(GuestOsType::Unix),
            "windows" => Ok(GuestOsType::Windows),
            other => Err(other.to_string()),
        }
    }

    /// Packer's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            GuestOsType::Unix => "unix",
            GuestOsType::Windows => "windows",
        }
    }
}

impl fmt::Display for GuestOsType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Builds the guest commands for one OS type, with or without `sudo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuestCommands {
    os: GuestOsType,
    sudo: bool,
}

impl GuestCommands {
    /// Commands for `os`; `sudo` (Packer: `!prevent_sudo`) only matters on
    /// unix.
    pub fn new(os: GuestOsType, sudo: bool) -> GuestCommands {
        GuestCommands { os, sudo }
    }

    /// The OS type the commands are for.
    pub fn os(&self) -> GuestOsType {
        self.os
    }

    /// Gives `path` the permission bits `mode` (`0777`); a no-op `echo`
    /// on windows.
    pub fn chmod(&self, path: &str, mode: &str) -> String {
        match self.os {
            GuestOsType::Unix => self.sudo(format!("chmod {mode} {}", self.quote(path))),
            GuestOsType::Windows => format!("echo 'skipping chmod {mode} {}'", self.escape(path)),
        }
    }

    /// Creates the directory `path` and its parents.
    pub fn create_dir(&self, path: &str) -> String {
        match self.os {
            GuestOsType::Unix => self.sudo(format!("mkdir -p {}", self.quote(path))),
            GuestOsType::Windows => format!(
                "powershell.exe -Command \"New-Item -ItemType directory -Force -ErrorAction SilentlyContinue -Path {}\"",
                self.escape(path)
            ),
        }
    }

    /// Removes the directory `path` and everything in it.
    pub fn remove_dir(&self, path: &str) -> String {
        match self.os {
            GuestOsType::Unix => self.sudo(format!("rm -rf {}", self.quote(path))),
            GuestOsType::Windows => format!(
                "powershell.exe -Command \"rm {} -recurse -force\"",
                self.escape(path)
            ),
        }
    }

    /// Succeeds when `path` exists.
    pub fn stat_path(&self, path: &str) -> String {
        match self.os {
            GuestOsType::Unix => self.sudo(format!("stat {}", self.quote(path))),
            GuestOsType::Windows => format!(
                "powershell.exe -Command {{ if (test-path {}) {{ exit 0 }} else {{ exit 1 }} }}",
                self.escape(path)
            ),
        }
    }

    /// Moves `source` to `destination`.
    pub fn move_path(&self, source: &str, destination: &str) -> String {
        match self.os {
            GuestOsType::Unix => self.sudo(format!(
                "mv {} {}",
                self.quote(source),
                self.quote(destination)
            )),
            GuestOsType::Windows => format!(
                "powershell.exe -Command \"mv {} {} -force\"",
                self.escape(source),
                self.escape(destination)
            ),
        }
    }

    /// Packer writes `'%s'`; a single quote inside the path is closed,
    /// escaped and reopened so that such a path still works (Packer's
    /// command breaks on it). Every other path gives Packer's command.
    fn quote(&self, path: &str) -> String {
        format!("'{}'", path.replace('\'', r"'\''"))
    }

    /// PowerShell's escape of spaces (`` ` ``), as in Packer.
    fn escape(&self, path: &str) -> String {
        path.replace(' ', "` ")
    }

    fn sudo(&self, command: String) -> String {
        if self.os == GuestOsType::Unix && self.sudo {
            format!("sudo {command}")
        } else {
            command
        }
    }
}

/// `%SYSTEMROOT%` of the machine running kiln, with forward slashes: the
/// base of Packer's windows staging directories. Packer reads the
/// variable of its own host (its "FIXME assumes both Packer host and
/// target are same OS"), so on Linux it is empty and the directory is
/// `/Temp/...`; kiln does the same, for the same templates to give the
/// same paths.
pub fn host_system_root() -> String {
    std::env::var("SYSTEMROOT")
        .unwrap_or_default()
        .replace('\\', "/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_packer() {
        assert_eq!(GuestOsType::parse(""), Ok(GuestOsType::Unix));
        assert_eq!(GuestOsType::parse("UNIX"), Ok(GuestOsType::Unix));
        assert_eq!(GuestOsType::parse("Windows"), Ok(GuestOsType::Windows));
        assert_eq!(GuestOsType::parse("BeOS"), Err("beos".to_string()));
    }

    #[test]
    fn unix_commands_are_packers_with_and_without_sudo() {
        let g = GuestCommands::new(GuestOsType::Unix, true);
        assert_eq!(g.create_dir("/tmp/a b"), "sudo mkdir -p '/tmp/a b'");
        assert_eq!(g.chmod("/tmp/x", "0777"), "sudo chmod 0777 '/tmp/x'");
        assert_eq!(g.remove_dir("/tmp/x"), "sudo rm -rf '/tmp/x'");
        assert_eq!(g.stat_path("/tmp/x"), "sudo stat '/tmp/x'");
        assert_eq!(g.move_path("/a", "/b"), "sudo mv '/a' '/b'");
        let g = GuestCommands::new(GuestOsType::Unix, false);
        assert_eq!(g.create_dir("/tmp/x"), "mkdir -p '/tmp/x'");
        assert_eq!(g.create_dir("/tmp/it's"), r"mkdir -p '/tmp/it'\''s'");
    }

    #[test]
    fn windows_commands_never_sudo_and_escape_spaces() {
        let g = GuestCommands::new(GuestOsType::Windows, true);
        assert_eq!(
            g.create_dir("C:/Program Files/x"),
            "powershell.exe -Command \"New-Item -ItemType directory -Force -ErrorAction SilentlyContinue -Path C:/Program` Files/x\""
        );
        assert_eq!(g.chmod("C:/x", "0777"), "echo 'skipping chmod 0777 C:/x'");
        assert_eq!(
            g.remove_dir("C:/x"),
            "powershell.exe -Command \"rm C:/x -recurse -force\""
        );
        assert_eq!(
            g.stat_path("C:/x"),
            "powershell.exe -Command { if (test-path C:/x) { exit 0 } else { exit 1 } }"
        );
        assert_eq!(
            g.move_path("C:/a", "C:/b"),
            "powershell.exe -Command \"mv C:/a C:/b -force\""
        );
    }

    /// The unix commands run under a real `sh` and do what they say, even
    /// on a path with a space and a single quote.
    #[test]
    fn unix_commands_work_under_sh() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("it's a/dir");
        let path = path.to_str().unwrap();
        let g = GuestCommands::new(GuestOsType::Unix, false);
        let sh = |c: &str| {
            std::process::Command::new("/bin/sh")
                .arg("-c")
                .arg(c)
                .status()
                .unwrap()
                .success()
        };
        assert!(sh(&g.create_dir(path)));
        assert!(std::path::Path::new(path).is_dir());
        assert!(sh(&g.chmod(path, "0777")));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o777);
        assert!(sh(&g.stat_path(path)));
        assert!(sh(&g.remove_dir(path)));
        assert!(!sh(&g.stat_path(path)));
    }
}
