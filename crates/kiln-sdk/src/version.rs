//! Versions and version constraints (`>= 1.2, < 2.0`, `~> 1.2.3`), as in
//! `required_version` and `required_plugins`: one parser for the template
//! (kiln-template) and plugin discovery (kiln-plugin). Pure functions, no
//! state.

/// A version as three numbers (`v1.2.3`, `1.2`); pre-release and build
/// suffixes are ignored.
pub fn parse(s: &str) -> Option<[u64; 3]> {
    let core = s.trim().trim_start_matches('v').split(['-', '+']).next()?;
    let parts: Vec<u64> = core
        .split('.')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    if parts.is_empty() || parts.len() > 3 {
        return None;
    }
    let mut v = [0; 3];
    v[..parts.len()].copy_from_slice(&parts);
    Some(v)
}

/// Whether `version` meets `constraint`: comma-separated parts, each with
/// one of the operators `=` (the default), `!=`, `>`, `>=`, `<`, `<=` and
/// `~>`. An empty constraint accepts every version.
pub fn satisfies(version: &str, constraint: &str) -> Result<bool, String> {
    let v = parse(version).ok_or_else(|| format!("invalid version `{version}`"))?;
    for (op, rest, want) in parts(constraint)? {
        let segments = rest.trim_start_matches('v').split('.').count();
        let ok = match op {
            "=" => v == want,
            "!=" => v != want,
            ">" => v > want,
            ">=" => v >= want,
            "<" => v < want,
            "<=" => v <= want,
            _ => {
                // `~> 1.2.3` allows 1.2.x (>= 1.2.3); `~> 1.2` allows 1.x.
                let keep = segments.saturating_sub(1).max(1);
                v >= want && v[..keep] == want[..keep]
            }
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The parts of a constraint as `(operator, version as written, version)`,
/// each checked; an empty constraint has none.
type Part<'a> = (&'static str, &'a str, [u64; 3]);

fn parts(constraint: &str) -> Result<Vec<Part<'_>>, String> {
    if constraint.trim().is_empty() {
        return Ok(Vec::new());
    }
    constraint
        .split(',')
        .map(|part| {
            let part = part.trim();
            let (op, rest) = ["~>", ">=", "<=", "!=", ">", "<", "="]
                .iter()
                .find_map(|op| part.strip_prefix(op).map(|r| (*op, r.trim())))
                .unwrap_or(("=", part));
            match parse(rest) {
                Some(v) => Ok((op, rest, v)),
                None => Err(format!("invalid version constraint `{part}`")),
            }
        })
        .collect()
}

/// The versions a constraint names (`>= 1.0, < 2.0-beta` gives `1.0` and
/// `2.0-beta`), or why the constraint is not valid.
pub fn constraint_versions(constraint: &str) -> Result<Vec<&str>, String> {
    Ok(parts(constraint)?.into_iter().map(|(_, v, _)| v).collect())
}

/// The pre-release part of a version (`1.2.0-dev` gives `dev`), if it has
/// one; build metadata (`+abc`) is not a pre-release.
pub fn prerelease(version: &str) -> Option<&str> {
    let core = version.split('+').next().unwrap_or_default();
    core.split_once('-')
        .map(|(_, pre)| pre)
        .filter(|p| !p.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constraints() {
        for (v, c, want) in [
            ("1.2.3", ">= 1.0", true),
            ("1.2.3", ">= 1.0, < 1.2", false),
            ("v1.2.3", "~> 1.2.0", true),
            ("1.3.0", "~> 1.2.0", false),
            ("1.3.0", "~> 1.2", true),
            ("1.2.3", "", true),
            ("1.2.3", "1.2.3", true),
            ("1.6.6", ">= 1.5, < 2.0", true),
            ("1.6.6", "~> 1.5.0", false),
            ("1.6.6", "!= 1.6.6", false),
            ("1.6.6", "= v1.6.6", true),
        ] {
            assert_eq!(satisfies(v, c), Ok(want), "{v} {c}");
        }
        assert!(satisfies("1.2.3", ">= x").is_err());
        assert!(satisfies("1.2.3", ">= 1.0,").is_err());
        assert!(parse("1.2.3.4").is_none());
    }

    #[test]
    fn constraint_versions_and_prereleases() {
        assert_eq!(
            constraint_versions(">= 1.0, < 2.0.0-beta1"),
            Ok(vec!["1.0", "2.0.0-beta1"])
        );
        assert_eq!(constraint_versions(""), Ok(vec![]));
        assert!(constraint_versions(">= one").is_err());
        assert_eq!(prerelease("2.0.0-beta1"), Some("beta1"));
        assert_eq!(prerelease("v1.2.0-dev+abc"), Some("dev"));
        assert_eq!(prerelease("1.2.0+abc-def"), None);
        assert_eq!(prerelease("1.2.0"), None);
    }
}
