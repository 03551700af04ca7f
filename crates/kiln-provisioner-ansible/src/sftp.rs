//! The `sftp` subsystem, served by the proxy itself over the build's
//! communicator. Packer's adapter instead runs `/usr/lib/sftp-server` on
//! the machine with the channel as its stdin and stdout, which fails where
//! there is none (most containers) and is what breaks under OpenSSH 9,
//! whose `scp` speaks SFTP. Here each operation Ansible and `scp` use maps
//! onto the communicator: a file opened for writing is spooled to a local
//! temporary file and uploaded when it is closed; one opened for reading
//! is downloaded when it is opened; `stat`, `mkdir`, `remove`, `rename`,
//! `setstat`, `realpath` and directory listings run small POSIX shell
//! commands.
//!
//! Stores the open handles and their temporary files; every temporary file
//! is deleted when its handle is closed or the session ends.

use std::collections::HashMap;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

use kiln_sdk::communicator::{shell_quote, FileMeta};
use russh_sftp::protocol::{
    Attrs, Data, File, FileAttributes, Handle, Name, OpenFlags, Status, StatusCode, Version,
};
use russh_sftp::server::StatusReply;

use crate::remote::Remote;

/// A file or directory as `stat` found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Found {
    Dir,
    File { size: u64 },
    Missing,
}

enum Open {
    /// Spooled locally, uploaded on close.
    Write {
        path: String,
        file: std::fs::File,
        tmp: tempfile::TempPath,
        mode: Option<u32>,
    },
    /// Downloaded on open.
    Read { file: std::fs::File, size: u64 },
    /// A directory's entries, listed on open; `None` once sent.
    Dir(Option<Vec<String>>),
}

/// One SFTP session.
pub(crate) struct Sftp {
    remote: Remote,
    open: HashMap<String, Open>,
    next: u64,
    home: Option<String>,
}

impl Sftp {
    pub(crate) fn new(remote: Remote) -> Self {
        Sftp {
            remote,
            open: HashMap::new(),
            next: 0,
            home: None,
        }
    }

    fn failure(message: impl Into<String>) -> StatusReply {
        StatusCode::Failure.with_message(message)
    }

    fn ok(id: u32) -> Status {
        Status {
            id,
            status_code: StatusCode::Ok,
            error_message: "Ok".into(),
            language_tag: "en-US".into(),
        }
    }

    async fn run(&self, command: String) -> Result<Vec<String>, StatusReply> {
        self.remote.output(&command).await.map_err(Self::failure)
    }

    async fn find(&self, path: &str) -> Result<Found, StatusReply> {
        let q = shell_quote(path);
        let out = self
            .run(format!(
                "if [ -d {q} ]; then echo d; elif [ -e {q} ]; then echo f $(wc -c < {q}); else echo n; fi"
            ))
            .await?;
        let line = out.first().map(String::as_str).unwrap_or_default();
        match line.split_whitespace().collect::<Vec<_>>().as_slice() {
            ["d"] => Ok(Found::Dir),
            ["n"] => Ok(Found::Missing),
            ["f", size] => Ok(Found::File {
                size: size.parse().unwrap_or(0),
            }),
            _ => Err(Self::failure(format!(
                "cannot tell what `{path}` is: the machine answered `{line}`"
            ))),
        }
    }

    async fn attrs_of(&self, path: &str) -> Result<FileAttributes, StatusReply> {
        let mut attrs = FileAttributes::default();
        match self.find(path).await? {
            Found::Dir => attrs.permissions = Some(0o40755),
            Found::File { size } => {
                attrs.permissions = Some(0o100644);
                attrs.size = Some(size);
            }
            Found::Missing => {
                return Err(StatusCode::NoSuchFile.with_message(format!("no such file `{path}`")))
            }
        }
        Ok(attrs)
    }

    async fn absolute(&mut self, path: &str) -> Result<String, StatusReply> {
        let joined = if path.starts_with('/') {
            path.to_string()
        } else {
            if self.home.is_none() {
                let out = self.run("pwd".into()).await?;
                self.home = Some(out.first().cloned().unwrap_or_else(|| "/".into()));
            }
            let home = self.home.as_deref().unwrap_or("/");
            format!("{}/{path}", home.trim_end_matches('/'))
        };
        Ok(normalise(&joined))
    }

    fn handle(&mut self, open: Open) -> String {
        self.next += 1;
        let h = format!("h{}", self.next);
        self.open.insert(h.clone(), open);
        h
    }
}

/// `path` with `.`, `..` and repeated slashes resolved, as `realpath`
/// answers for paths it cannot see.
fn normalise(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for p in path.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

fn local_err(e: std::io::Error) -> StatusReply {
    Sftp::failure(format!("temporary file: {e}"))
}

impl russh_sftp::server::Handler for Sftp {
    type Error = StatusReply;

    fn unimplemented(&self) -> Self::Error {
        StatusCode::OpUnsupported.with_message("not supported by kiln's ansible proxy")
    }

    async fn init(
        &mut self,
        _version: u32,
        _extensions: HashMap<String, String>,
    ) -> Result<Version, Self::Error> {
        Ok(Version::new())
    }

    async fn realpath(&mut self, id: u32, path: String) -> Result<Name, Self::Error> {
        let abs = self.absolute(&path).await?;
        Ok(Name {
            id,
            files: vec![File::dummy(abs)],
        })
    }

    async fn stat(&mut self, id: u32, path: String) -> Result<Attrs, Self::Error> {
        let attrs = self.attrs_of(&path).await?;
        Ok(Attrs { id, attrs })
    }

    async fn lstat(&mut self, id: u32, path: String) -> Result<Attrs, Self::Error> {
        let attrs = self.attrs_of(&path).await?;
        Ok(Attrs { id, attrs })
    }

    async fn open(
        &mut self,
        id: u32,
        filename: String,
        pflags: OpenFlags,
        attrs: FileAttributes,
    ) -> Result<Handle, Self::Error> {
        let path = self.absolute(&filename).await?;
        let tmp = tempfile::Builder::new()
            .prefix("kiln-ansible-sftp")
            .tempfile()
            .map_err(local_err)?
            .into_temp_path();
        let open = if pflags.contains(OpenFlags::WRITE) {
            let file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(&tmp)
                .map_err(local_err)?;
            Open::Write {
                path,
                file,
                tmp,
                mode: attrs.permissions.map(|m| m & 0o7777),
            }
        } else {
            self.remote
                .download(&path, PathBuf::from(&*tmp))
                .await
                .map_err(|e| StatusCode::NoSuchFile.with_message(e))?;
            let file = std::fs::File::open(&tmp).map_err(local_err)?;
            let size = file.metadata().map_err(local_err)?.len();
            // The open file keeps the data; the name can go now.
            drop(tmp);
            Open::Read { file, size }
        };
        Ok(Handle {
            id,
            handle: self.handle(open),
        })
    }

    async fn read(
        &mut self,
        id: u32,
        handle: String,
        offset: u64,
        len: u32,
    ) -> Result<Data, Self::Error> {
        let Some(Open::Read { file, size }) = self.open.get(&handle) else {
            return Err(Self::failure(format!("`{handle}` is not open for reading")));
        };
        if offset >= *size {
            return Err(StatusCode::Eof.into());
        }
        let n = (len as u64).min(size - offset) as usize;
        let mut data = vec![0u8; n];
        file.read_exact_at(&mut data, offset).map_err(local_err)?;
        Ok(Data { id, data })
    }

    async fn write(
        &mut self,
        id: u32,
        handle: String,
        offset: u64,
        data: Vec<u8>,
    ) -> Result<Status, Self::Error> {
        let Some(Open::Write { file, .. }) = self.open.get(&handle) else {
            return Err(Self::failure(format!("`{handle}` is not open for writing")));
        };
        file.write_all_at(&data, offset).map_err(local_err)?;
        Ok(Self::ok(id))
    }

    async fn fstat(&mut self, id: u32, handle: String) -> Result<Attrs, Self::Error> {
        let mut attrs = FileAttributes::default();
        match self.open.get(&handle) {
            Some(Open::Read { size, .. }) => attrs.size = Some(*size),
            Some(Open::Dir(_)) => attrs.permissions = Some(0o40755),
            Some(Open::Write { file, mode, .. }) => {
                attrs.size = Some(file.metadata().map_err(local_err)?.len());
                attrs.permissions = Some(0o100000 | mode.unwrap_or(0o644));
            }
            None => return Err(Self::failure(format!("unknown handle `{handle}`"))),
        }
        attrs.permissions.get_or_insert(0o100644);
        Ok(Attrs { id, attrs })
    }

    async fn fsetstat(
        &mut self,
        id: u32,
        handle: String,
        attrs: FileAttributes,
    ) -> Result<Status, Self::Error> {
        if let (Some(Open::Write { mode, .. }), Some(p)) =
            (self.open.get_mut(&handle), attrs.permissions)
        {
            *mode = Some(p & 0o7777);
        }
        Ok(Self::ok(id))
    }

    async fn setstat(
        &mut self,
        id: u32,
        path: String,
        attrs: FileAttributes,
    ) -> Result<Status, Self::Error> {
        if let Some(p) = attrs.permissions {
            self.run(format!("chmod {:o} {}", p & 0o7777, shell_quote(&path)))
                .await?;
        }
        Ok(Self::ok(id))
    }

    async fn close(&mut self, id: u32, handle: String) -> Result<Status, Self::Error> {
        match self.open.remove(&handle) {
            Some(Open::Write {
                path,
                file,
                tmp,
                mode,
            }) => {
                let size = file.metadata().map_err(local_err)?.len();
                drop(file);
                self.remote
                    .upload(
                        &path,
                        PathBuf::from(&*tmp),
                        FileMeta {
                            mode,
                            mtime: None,
                            size: Some(size),
                        },
                    )
                    .await
                    .map_err(Self::failure)?;
            }
            Some(Open::Read { .. } | Open::Dir(_)) => {}
            None => return Err(Self::failure(format!("unknown handle `{handle}`"))),
        }
        Ok(Self::ok(id))
    }

    async fn opendir(&mut self, id: u32, path: String) -> Result<Handle, Self::Error> {
        let path = self.absolute(&path).await?;
        let names = self
            .run(format!("cd {} && ls -1A", shell_quote(&path)))
            .await?;
        Ok(Handle {
            id,
            handle: self.handle(Open::Dir(Some(names))),
        })
    }

    async fn readdir(&mut self, id: u32, handle: String) -> Result<Name, Self::Error> {
        match self.open.get_mut(&handle) {
            Some(Open::Dir(names)) => match names.take() {
                Some(names) => Ok(Name {
                    id,
                    files: names.into_iter().map(File::dummy).collect(),
                }),
                None => Err(StatusCode::Eof.into()),
            },
            _ => Err(Self::failure(format!(
                "`{handle}` is not an open directory"
            ))),
        }
    }

    async fn remove(&mut self, id: u32, filename: String) -> Result<Status, Self::Error> {
        self.run(format!("rm -f {}", shell_quote(&filename)))
            .await?;
        Ok(Self::ok(id))
    }

    async fn mkdir(
        &mut self,
        id: u32,
        path: String,
        attrs: FileAttributes,
    ) -> Result<Status, Self::Error> {
        let mode = attrs.permissions.map(|p| format!(" -m {:o}", p & 0o7777));
        self.run(format!(
            "mkdir{} {}",
            mode.unwrap_or_default(),
            shell_quote(&path)
        ))
        .await?;
        Ok(Self::ok(id))
    }

    async fn rmdir(&mut self, id: u32, path: String) -> Result<Status, Self::Error> {
        self.run(format!("rmdir {}", shell_quote(&path))).await?;
        Ok(Self::ok(id))
    }

    async fn rename(
        &mut self,
        id: u32,
        oldpath: String,
        newpath: String,
    ) -> Result<Status, Self::Error> {
        self.run(format!(
            "mv -f {} {}",
            shell_quote(&oldpath),
            shell_quote(&newpath)
        ))
        .await?;
        Ok(Self::ok(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_paths_like_realpath() {
        assert_eq!(normalise("/a/./b//c/../d/"), "/a/b/d");
        assert_eq!(normalise("/.."), "/");
        assert_eq!(normalise("/"), "/");
    }
}
