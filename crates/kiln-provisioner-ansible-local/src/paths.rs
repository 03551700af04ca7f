//! Go's `path/filepath` functions on slash-separated paths, as Packer's
//! `ansible-local` uses them to lay out the staging directory
//! (`filepath.Join`, `Base`, `Dir`, `Abs`): lexical only, no file system
//! access (but [`absolute`], which is given the working directory).
//! Stores nothing.

use std::path::Path;

/// Go's `filepath.Clean`: one slash between elements, no `.`, `..`
/// resolved lexically, no trailing slash; `.` for an empty result.
pub fn clean(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => match out.last() {
                Some(&last) if last != ".." => {
                    out.pop();
                }
                _ if rooted => {}
                _ => out.push(".."),
            },
            p => out.push(p),
        }
    }
    let body = out.join("/");
    match (rooted, body.is_empty()) {
        (true, _) => format!("/{body}"),
        (false, true) => ".".to_string(),
        (false, false) => body,
    }
}

/// Go's `filepath.Join`: the non-empty elements joined by `/`, cleaned;
/// empty when every element is.
pub fn join(parts: &[&str]) -> String {
    let parts: Vec<&str> = parts.iter().copied().filter(|p| !p.is_empty()).collect();
    if parts.is_empty() {
        return String::new();
    }
    clean(&parts.join("/"))
}

/// Go's `filepath.Base`: the last element, trailing slashes ignored; `.`
/// for an empty path, `/` for the root.
pub fn base(path: &str) -> String {
    if path.is_empty() {
        return ".".to_string();
    }
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return "/".to_string();
    }
    trimmed.rsplit('/').next().unwrap_or(trimmed).to_string()
}

/// Go's `filepath.Dir`: everything but the last element, cleaned.
pub fn dir(path: &str) -> String {
    let cut = path.rfind('/').map_or(0, |i| i + 1);
    clean(&path[..cut])
}

/// Go's `filepath.Abs` with `cwd` as the working directory: `path`
/// joined to it when relative, cleaned.
pub fn absolute(path: &str, cwd: Option<&Path>) -> String {
    if path.starts_with('/') {
        return clean(path);
    }
    match cwd {
        Some(cwd) => join(&[&cwd.to_string_lossy(), path]),
        None => clean(path),
    }
}

/// `path` below the directory `dir` (both absolute and clean) as Packer
/// keeps it, with its leading slash (`/site.yml`); `None` when `path` is
/// not inside `dir`. Whole path elements are compared: Packer 1.6.6 uses
/// a string prefix, so its `/a/play` also "contains" `/a/playbooks/x.yml`.
pub fn inside<'a>(path: &'a str, dir: &str) -> Option<&'a str> {
    let rest = path.strip_prefix(dir.trim_end_matches('/'))?;
    rest.starts_with('/').then_some(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_matches_go() {
        // Cases from Go's path/filepath tests.
        for (input, want) in [
            ("", "."),
            ("abc", "abc"),
            ("abc/def", "abc/def"),
            ("a/b/c", "a/b/c"),
            (".", "."),
            ("..", ".."),
            ("../..", "../.."),
            ("../../abc", "../../abc"),
            ("/abc", "/abc"),
            ("/", "/"),
            ("abc/", "abc"),
            ("abc/def/", "abc/def"),
            ("/abc/", "/abc"),
            ("//abc", "/abc"),
            ("abc//def//ghi", "abc/def/ghi"),
            ("abc/./def", "abc/def"),
            ("/./abc/def", "/abc/def"),
            ("abc/def/ghi/../jkl", "abc/def/jkl"),
            ("abc/def/../ghi/../jkl", "abc/jkl"),
            ("abc/def/..", "abc"),
            ("abc/def/../..", "."),
            ("/abc/def/../..", "/"),
            ("abc/def/../../..", ".."),
            ("/abc/def/../../..", "/"),
            ("abc/def/../../../ghi/jkl/../../../mno", "../../mno"),
            ("/../abc", "/abc"),
        ] {
            assert_eq!(clean(input), want, "clean({input:?})");
        }
    }

    #[test]
    fn join_base_dir_match_go() {
        assert_eq!(join(&["/tmp/stage/", "site.yml"]), "/tmp/stage/site.yml");
        assert_eq!(
            join(&["/tmp/stage", "/home/me/site.yml"]),
            "/tmp/stage/home/me/site.yml"
        );
        assert_eq!(join(&["stage", "roles", "web"]), "stage/roles/web");
        assert_eq!(join(&["", ""]), "");
        assert_eq!(join(&["", "a"]), "a");
        assert_eq!(base("/a/b/roles/"), "roles");
        assert_eq!(base("site.yml"), "site.yml");
        assert_eq!(base("///"), "/");
        assert_eq!(base(""), ".");
        assert_eq!(dir("/home/me/site.yml"), "/home/me");
        assert_eq!(dir("site.yml"), ".");
        assert_eq!(dir("/site.yml"), "/");
    }

    #[test]
    fn absolute_joins_the_working_directory() {
        let cwd = Path::new("/work/proj");
        assert_eq!(
            absolute("play/site.yml", Some(cwd)),
            "/work/proj/play/site.yml"
        );
        assert_eq!(absolute("./a/../b.yml", Some(cwd)), "/work/proj/b.yml");
        assert_eq!(absolute("/x//y/", Some(cwd)), "/x/y");
    }

    #[test]
    fn inside_compares_whole_elements() {
        assert_eq!(inside("/a/play/site.yml", "/a/play"), Some("/site.yml"));
        assert_eq!(inside("/a/play/sub/x.yml", "/a/play/"), Some("/sub/x.yml"));
        assert_eq!(inside("/a/playbooks/x.yml", "/a/play"), None);
        assert_eq!(inside("/b/site.yml", "/a/play"), None);
    }
}
