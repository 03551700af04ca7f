//! `iso_checksum` in Packer's forms: `none`, a bare hex digest (the
//! algorithm guessed from its length), `md5:`/`sha1:`/`sha256:`/`sha512:`
//! prefixed digests, and `file:URL` (a checksum file, read at run time).
//! Also hashes files to verify them. Holds no resources.

use std::path::Path;

use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};
use tokio::io::AsyncReadExt;

/// A hash algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// md5.
    Md5,
    /// sha1.
    Sha1,
    /// sha256.
    Sha256,
    /// sha512.
    Sha512,
}

impl Algorithm {
    fn from_name(s: &str) -> Option<Self> {
        match s {
            "md5" => Some(Algorithm::Md5),
            "sha1" => Some(Algorithm::Sha1),
            "sha256" => Some(Algorithm::Sha256),
            "sha512" => Some(Algorithm::Sha512),
            _ => None,
        }
    }

    fn hex_len(self) -> usize {
        match self {
            Algorithm::Md5 => 32,
            Algorithm::Sha1 => 40,
            Algorithm::Sha256 => 64,
            Algorithm::Sha512 => 128,
        }
    }

    /// The name, as in `sha256:`.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Md5 => "md5",
            Algorithm::Sha1 => "sha1",
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }
}

/// A parsed `iso_checksum`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checksum {
    /// `none`: no verification.
    None,
    /// A digest.
    Digest {
        /// The algorithm.
        algorithm: Algorithm,
        /// Lowercase hex.
        hex: String,
    },
    /// `file:URL`: the digest is in a checksum file, looked up by the
    /// source's file name.
    File {
        /// The algorithm, when the form was `sha256:file:…`… or guessed
        /// from the digest found.
        url: String,
    },
}

impl Checksum {
    /// Parses Packer's forms.
    pub fn parse(s: &str) -> Result<Checksum, String> {
        let s = s.trim();
        if s.is_empty() {
            return Err(
                "a checksum must be specified (`iso_checksum`); use `none` to skip verification"
                    .into(),
            );
        }
        if s.eq_ignore_ascii_case("none") {
            return Ok(Checksum::None);
        }
        if let Some(url) = s.strip_prefix("file:") {
            if url.is_empty() {
                return Err("`file:` must be followed by the checksum file's path or URL".into());
            }
            return Ok(Checksum::File {
                url: url.to_string(),
            });
        }
        let (algorithm, hex) = match s.split_once(':') {
            Some((name, hex)) => match Algorithm::from_name(&name.to_ascii_lowercase()) {
                Some(a) => (Some(a), hex),
                None => {
                    return Err(format!(
                        "unknown checksum type `{name}` in `{s}`: use `md5`, `sha1`, `sha256`, `sha512`, `file` or `none`"
                    ))
                }
            },
            None => (None, s),
        };
        Self::digest(algorithm, hex).map_err(|e| format!("invalid checksum `{s}`: {e}"))
    }

    /// A digest from hex, guessing the algorithm from the length when not
    /// given.
    pub fn digest(algorithm: Option<Algorithm>, hex: &str) -> Result<Checksum, String> {
        let hex = hex.trim().to_ascii_lowercase();
        if hex.is_empty() || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err("not a hexadecimal digest".into());
        }
        let algorithm = match algorithm {
            Some(a) => a,
            None => [
                Algorithm::Md5,
                Algorithm::Sha1,
                Algorithm::Sha256,
                Algorithm::Sha512,
            ]
            .into_iter()
            .find(|a| a.hex_len() == hex.len())
            .ok_or_else(|| format!("cannot tell the algorithm of a {}-digit digest", hex.len()))?,
        };
        if algorithm.hex_len() != hex.len() {
            return Err(format!(
                "a {} digest has {} hex digits, found {}",
                algorithm.name(),
                algorithm.hex_len(),
                hex.len()
            ));
        }
        Ok(Checksum::Digest { algorithm, hex })
    }

    /// A stable key for the download cache.
    pub fn cache_key(&self, url: &str) -> String {
        let basis = match self {
            Checksum::Digest { hex, .. } => hex.clone(),
            _ => url.to_string(),
        };
        hex::encode(Sha1::digest(basis.as_bytes()))
    }
}

/// Finds the digest for `file_name` in the text of a checksum file (GNU
/// `sha256sum` lines, BSD `SHA256 (name) = hex` lines, or a lone digest).
pub fn find_in_checksum_file(text: &str, file_name: &str) -> Option<Checksum> {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    for line in &lines {
        if let Some((left, hex)) = line.split_once(") = ") {
            if let Some((algo, name)) = left.split_once(" (") {
                if name == file_name {
                    let a = Algorithm::from_name(&algo.to_ascii_lowercase());
                    return Checksum::digest(a, hex).ok();
                }
            }
            continue;
        }
        let mut parts = line.split_whitespace();
        if let (Some(hex), Some(name)) = (parts.next(), parts.next()) {
            let name = name.trim_start_matches('*').trim_start_matches("./");
            if name == file_name
                || Path::new(name).file_name().and_then(|n| n.to_str()) == Some(file_name)
            {
                return Checksum::digest(None, hex).ok();
            }
        }
    }
    if lines.len() == 1 && !lines[0].contains(char::is_whitespace) {
        return Checksum::digest(None, lines[0]).ok();
    }
    None
}

/// Hashes a file with `algorithm`, streaming it.
pub async fn hash_file(path: &Path, algorithm: Algorithm) -> std::io::Result<String> {
    let mut f = tokio::fs::File::open(path).await?;
    let mut buf = vec![0u8; 1 << 20];
    macro_rules! run {
        ($h:expr) => {{
            let mut h = $h;
            loop {
                let n = f.read(&mut buf).await?;
                if n == 0 {
                    break;
                }
                h.update(&buf[..n]);
            }
            hex::encode(h.finalize())
        }};
    }
    Ok(match algorithm {
        Algorithm::Md5 => run!(Md5::new()),
        Algorithm::Sha1 => run!(Sha1::new()),
        Algorithm::Sha256 => run!(Sha256::new()),
        Algorithm::Sha512 => run!(Sha512::new()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_packer_forms() {
        assert_eq!(Checksum::parse("none"), Ok(Checksum::None));
        let sha = "a".repeat(64);
        assert_eq!(
            Checksum::parse(&format!("sha256:{sha}")),
            Ok(Checksum::Digest {
                algorithm: Algorithm::Sha256,
                hex: sha.clone()
            })
        );
        assert_eq!(
            Checksum::parse(&sha.to_uppercase()),
            Ok(Checksum::Digest {
                algorithm: Algorithm::Sha256,
                hex: sha
            })
        );
        assert_eq!(
            Checksum::parse("file:./SHA256SUMS"),
            Ok(Checksum::File {
                url: "./SHA256SUMS".into()
            })
        );
        assert!(Checksum::parse("")
            .unwrap_err()
            .contains("a checksum must be specified"));
        assert!(Checksum::parse("md5:abc")
            .unwrap_err()
            .contains("`md5:abc`"));
        assert!(Checksum::parse("crc:00")
            .unwrap_err()
            .contains("unknown checksum type `crc`"));
    }

    #[test]
    fn finds_digests_in_checksum_files() {
        let d = "b".repeat(64);
        let gnu = format!("{} other.iso\n{d}  debian.iso\n", "c".repeat(64));
        assert_eq!(
            find_in_checksum_file(&gnu, "debian.iso"),
            Checksum::digest(None, &d).ok()
        );
        let bsd = format!("SHA256 (debian.iso) = {d}\n");
        assert_eq!(
            find_in_checksum_file(&bsd, "debian.iso"),
            Checksum::digest(None, &d).ok()
        );
        assert_eq!(find_in_checksum_file(&gnu, "missing.iso"), None);
    }

    #[tokio::test]
    async fn hashes_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"abc").unwrap();
        assert_eq!(
            hash_file(&p, Algorithm::Sha256).await.unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            hash_file(&p, Algorithm::Md5).await.unwrap(),
            "900150983cd24fb0d6963f7d28e17f72"
        );
    }
}
