//! `createtime`: in every builder's `ami_name`, `bundle_prefix` and
//! `snapshot_name` strings, each `{{ .CreateTime }}` (any whitespace inside
//! the braces) becomes `{{timestamp}}`.

use serde_json::Value;

use crate::decode::fix_builders;
use crate::FixError;

pub(crate) const NAME: &str = "createtime";
pub(crate) const SYNOPSIS: &str =
    r#"Replaces ".CreateTime" in builder configs with "{{timestamp}}""#;

const KEYS: [&str; 3] = ["ami_name", "bundle_prefix", "snapshot_name"];

pub(crate) fn fix(template: Value) -> Result<Value, FixError> {
    fix_builders(NAME, template, |builder, _| {
        for key in KEYS {
            if let Some(Value::String(s)) = builder.get_mut(key) {
                *s = replace_create_time(s);
            }
        }
        Ok(())
    })
}

/// Go's `regexp.MustCompile(`{{\s*\.CreateTime\s*}}`).ReplaceAllString(s, "{{timestamp}}")`.
fn replace_create_time(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let (mut i, mut copied) = (0, 0);
    while i < bytes.len() {
        match match_at(bytes, i) {
            Some(end) => {
                out.push_str(&s[copied..i]);
                out.push_str("{{timestamp}}");
                i = end;
                copied = end;
            }
            None => i += 1,
        }
    }
    out.push_str(&s[copied..]);
    out
}

/// The end of a `{{\s*\.CreateTime\s*}}` match starting at `i`.
fn match_at(b: &[u8], i: usize) -> Option<usize> {
    // RE2's `\s` is `[\t\n\f\r ]`.
    let space = |c: u8| matches!(c, b'\t' | b'\n' | b'\x0c' | b'\r' | b' ');
    let rest = b.get(i..)?.strip_prefix(b"{{")?;
    let rest = &rest[rest.iter().take_while(|c| space(**c)).count()..];
    let rest = rest.strip_prefix(b".CreateTime")?;
    let rest = &rest[rest.iter().take_while(|c| space(**c)).count()..];
    let rest = rest.strip_prefix(b"}}")?;
    Some(b.len() - rest.len())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn replaces_create_time() {
        assert_eq!(
            super::replace_create_time("a-{{.CreateTime}}"),
            "a-{{timestamp}}"
        );
        assert_eq!(
            super::replace_create_time("{{{ \t.CreateTime\n}}}{{ .CreateTime }}"),
            "{{{timestamp}}}{{timestamp}}"
        );
        assert_eq!(
            super::replace_create_time("{{ CreateTime }}"),
            "{{ CreateTime }}"
        );
        assert_eq!(
            super::replace_create_time("é{{\u{b}.CreateTime}}"),
            "é{{\u{b}.CreateTime}}"
        );
        let out = super::fix(json!({"builders": [
            {"type": "amazon-ebs", "ami_name": "x {{ .CreateTime }}", "other": "{{.CreateTime}}"}
        ]}))
        .unwrap();
        assert_eq!(
            out,
            json!({"builders": [{"type": "amazon-ebs", "ami_name": "x {{timestamp}}", "other": "{{.CreateTime}}"}]})
        );
    }
}
