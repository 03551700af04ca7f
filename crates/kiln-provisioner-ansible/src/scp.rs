//! The legacy SCP protocol (`scp -t` to receive, `scp -f` to send), served
//! by the proxy itself and carried out with the communicator's upload and
//! download, as Packer's adapter does: Ansible's `scp` (OpenSSH before 9,
//! or `scp -O`) runs these on the far side of its connection. Stores each
//! file in a local temporary file between the two protocols; the file is
//! deleted when the transfer ends, whatever happened.
//!
//! The protocol, from OpenSSH's scp.c: the sink sends `\0` when ready; the
//! source sends `T<mtime> 0 <atime> 0`, `C<mode> <size> <name>`, `D…`/`E`
//! lines, each acknowledged with `\0`; a file's bytes are followed by a
//! `\0` from the source and acknowledged by the sink. `\x01` or `\x02`
//! followed by a message and a newline reports an error.

use std::path::PathBuf;

use kiln_sdk::communicator::FileMeta;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};

use crate::remote::Remote;

/// Which side of the protocol the proxy plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    /// `scp -t`: the client sends files to the machine.
    ToMachine,
    /// `scp -f`: the client fetches a file from the machine.
    FromMachine,
}

/// A parsed `scp -t` / `scp -f` command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ScpCommand {
    pub direction: Direction,
    /// `-d` or `-r`: the target is a directory.
    pub target_is_dir: bool,
    /// The remote path, unquoted.
    pub path: String,
}

/// The command as an SCP transfer, when it is one (`scp` with `-t` or
/// `-f`); anything else runs on the machine as it is.
pub(crate) fn parse(command: &str) -> Option<ScpCommand> {
    let words = split_words(command)?;
    let (first, rest) = words.split_first()?;
    if first != "scp" {
        return None;
    }
    let mut opts = String::new();
    let mut i = 0;
    while i < rest.len() && rest[i].starts_with('-') && rest[i].len() > 1 {
        if rest[i] == "--" {
            i += 1;
            break;
        }
        opts.push_str(&rest[i][1..]);
        i += 1;
    }
    let direction = if opts.contains('t') {
        Direction::ToMachine
    } else if opts.contains('f') {
        Direction::FromMachine
    } else {
        return None;
    };
    Some(ScpCommand {
        direction,
        target_is_dir: opts.contains('d') || opts.contains('r'),
        path: rest[i..].join(" "),
    })
}

/// Splits a POSIX shell command line into words (quotes and backslashes
/// as `sh` reads them); `None` for an unterminated quote.
pub(crate) fn split_words(s: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '\'' => break,
                        c => word.push(c),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '"' => break,
                        '\\' => match chars.next()? {
                            c @ ('$' | '`' | '"' | '\\') => word.push(c),
                            '\n' => {}
                            c => {
                                word.push('\\');
                                word.push(c);
                            }
                        },
                        c => word.push(c),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some('\n') | None => {}
                    Some(c) => word.push(c),
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Some(words)
}

/// Serves one SCP transfer over the channel's `input` and `output`.
pub(crate) async fn serve(
    cmd: &ScpCommand,
    remote: &Remote,
    input: impl AsyncRead + Unpin,
    mut output: impl AsyncWrite + Unpin,
) -> Result<(), String> {
    let mut input = BufReader::new(input);
    let r = match cmd.direction {
        Direction::ToMachine => receive(cmd, remote, &mut input, &mut output).await,
        Direction::FromMachine => send(cmd, remote, &mut input, &mut output).await,
    };
    if let Err(e) = &r {
        // Best effort: the client may be gone already.
        let _ = output
            .write_all(format!("\x01scp: {}\n", e.replace('\n', " ")).as_bytes())
            .await;
    }
    let _ = output.flush().await;
    r
}

async fn ack(output: &mut (impl AsyncWrite + Unpin)) -> Result<(), String> {
    output
        .write_all(b"\0")
        .await
        .map_err(|e| format!("cannot answer the scp client: {e}"))?;
    output
        .flush()
        .await
        .map_err(|e| format!("cannot answer the scp client: {e}"))
}

/// Reads the peer's one-byte answer; a non-zero one carries a message.
async fn read_ack(input: &mut (impl AsyncBufReadExt + Unpin)) -> Result<(), String> {
    let mut b = [0u8; 1];
    input
        .read_exact(&mut b)
        .await
        .map_err(|e| format!("the scp client went away: {e}"))?;
    if b[0] == 0 {
        return Ok(());
    }
    let mut msg = String::new();
    let _ = input.read_line(&mut msg).await;
    Err(format!("the scp client reported: {}", msg.trim_end()))
}

fn temp_file() -> Result<tempfile::TempPath, String> {
    tempfile::Builder::new()
        .prefix("kiln-ansible-scp")
        .tempfile()
        .map(|f| f.into_temp_path())
        .map_err(|e| format!("cannot create a temporary file: {e}"))
}

fn join(dir: &str, name: &str) -> String {
    format!("{}/{name}", dir.trim_end_matches('/'))
}

/// `scp -t`: files from the client to the machine.
async fn receive(
    cmd: &ScpCommand,
    remote: &Remote,
    input: &mut (impl AsyncBufReadExt + Unpin),
    output: &mut (impl AsyncWrite + Unpin),
) -> Result<(), String> {
    ack(output).await?;
    let mut dirs: Vec<String> = Vec::new();
    let mut mtime = None;
    loop {
        let mut line = String::new();
        let n = input
            .read_line(&mut line)
            .await
            .map_err(|e| format!("cannot read from the scp client: {e}"))?;
        if n == 0 {
            return Ok(());
        }
        let line = line.trim_end_matches('\n');
        let (kind, body) = line.split_at(line.len().min(1));
        match kind {
            "T" => {
                let secs = body
                    .split(' ')
                    .next()
                    .and_then(|s| s.parse::<u64>().ok())
                    .ok_or_else(|| format!("invalid time message `{line}`"))?;
                mtime = Some(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs));
                ack(output).await?;
            }
            "C" | "D" => {
                let mut parts = body.splitn(3, ' ');
                let (Some(mode), Some(size), Some(name)) =
                    (parts.next(), parts.next(), parts.next())
                else {
                    return Err(format!("invalid message `{line}`"));
                };
                let mode = u32::from_str_radix(mode, 8)
                    .map_err(|_| format!("invalid mode in `{line}`"))?;
                let size: u64 = size
                    .parse()
                    .map_err(|_| format!("invalid size in `{line}`"))?;
                if name.contains('/') || name == ".." {
                    return Err(format!("unsafe file name `{name}`"));
                }
                let parent = dirs.last().cloned().unwrap_or_else(|| cmd.path.clone());
                if kind == "D" {
                    let dir = if dirs.is_empty() && !cmd.target_is_dir {
                        cmd.path.clone()
                    } else {
                        join(&parent, name)
                    };
                    remote
                        .output(&format!(
                            "mkdir -p {} && chmod {mode:o} {}",
                            kiln_sdk::communicator::shell_quote(&dir),
                            kiln_sdk::communicator::shell_quote(&dir)
                        ))
                        .await?;
                    dirs.push(dir);
                    mtime = None;
                    ack(output).await?;
                    continue;
                }
                let dest = if dirs.is_empty() && !cmd.target_is_dir {
                    cmd.path.clone()
                } else {
                    join(&parent, name)
                };
                ack(output).await?;
                let tmp = temp_file()?;
                let mut f = tokio::fs::File::create(&tmp)
                    .await
                    .map_err(|e| format!("cannot write a temporary file: {e}"))?;
                let copied = tokio::io::copy(&mut (&mut *input).take(size), &mut f)
                    .await
                    .map_err(|e| format!("cannot read `{name}` from the scp client: {e}"))?;
                if copied != size {
                    return Err(format!(
                        "the scp client sent {copied} of the {size} bytes of `{name}`"
                    ));
                }
                f.flush()
                    .await
                    .map_err(|e| format!("cannot write a temporary file: {e}"))?;
                drop(f);
                read_ack(input).await?;
                let meta = FileMeta {
                    mode: Some(mode),
                    mtime: mtime.take(),
                    size: Some(size),
                };
                remote.upload(&dest, PathBuf::from(&*tmp), meta).await?;
                ack(output).await?;
            }
            "E" => {
                dirs.pop();
                ack(output).await?;
            }
            _ => return Err(format!("unexpected message `{line}`")),
        }
    }
}

/// `scp -f`: one file from the machine to the client (Ansible's `fetch`
/// asks for nothing else; directories are refused, as Packer does).
async fn send(
    cmd: &ScpCommand,
    remote: &Remote,
    input: &mut (impl AsyncBufReadExt + Unpin),
    output: &mut (impl AsyncWrite + Unpin),
) -> Result<(), String> {
    if cmd.target_is_dir {
        return Err("directory downloads are not supported".into());
    }
    read_ack(input).await?;
    let tmp = temp_file()?;
    remote.download(&cmd.path, PathBuf::from(&*tmp)).await?;
    let mut f = tokio::fs::File::open(&tmp)
        .await
        .map_err(|e| format!("cannot read a temporary file: {e}"))?;
    let size = f
        .metadata()
        .await
        .map_err(|e| format!("cannot read a temporary file: {e}"))?
        .len();
    let name = cmd.path.rsplit('/').next().unwrap_or(&cmd.path);
    let w = |e: std::io::Error| format!("cannot write to the scp client: {e}");
    output
        .write_all(format!("C0644 {size} {name}\n").as_bytes())
        .await
        .map_err(w)?;
    output.flush().await.map_err(w)?;
    read_ack(input).await?;
    tokio::io::copy(&mut f, output).await.map_err(w)?;
    ack(output).await?;
    read_ack(input).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_words_as_sh_does() {
        assert_eq!(
            split_words(r#"scp -t '/a b/c' "d\"e" f\ g"#).unwrap(),
            ["scp", "-t", "/a b/c", "d\"e", "f g"]
        );
        assert_eq!(split_words("a 'b"), None);
        assert_eq!(split_words("  ").unwrap(), Vec::<String>::new());
        assert_eq!(split_words("''").unwrap(), [""]);
    }

    #[test]
    fn recognises_scp_transfers_only() {
        assert_eq!(
            parse("scp -v -t '/home/u/.ansible/tmp/x/AnsiballZ_ping.py'"),
            Some(ScpCommand {
                direction: Direction::ToMachine,
                target_is_dir: false,
                path: "/home/u/.ansible/tmp/x/AnsiballZ_ping.py".into()
            })
        );
        assert_eq!(
            parse("scp -r -d -t /dest"),
            Some(ScpCommand {
                direction: Direction::ToMachine,
                target_is_dir: true,
                path: "/dest".into()
            })
        );
        assert_eq!(
            parse("scp -f /etc/hostname").map(|c| c.direction),
            Some(Direction::FromMachine)
        );
        assert_eq!(parse("scp /a /b"), None);
        assert_eq!(parse("/bin/sh -c 'echo ~ && sleep 0'"), None);
        assert_eq!(parse("scpx -t /a"), None);
    }
}
