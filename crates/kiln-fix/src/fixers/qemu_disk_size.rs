//! `qemu-disk-size`: in `qemu` builders, a numeric `disk_size` (megabytes)
//! becomes a string with an `M` suffix: `10240` → `"10240M"`. The number is
//! truncated to an integer the way Go's `int(float64)` does on amd64
//! (`10.9` → `10`, and out-of-range values → `-9223372036854775808`).

use serde_json::Value;

use crate::decode::{fix_builders, type_of};
use crate::FixError;

pub(crate) const NAME: &str = "qemu-disk-size";
pub(crate) const SYNOPSIS: &str = r#"Updates "disk_size" from int to string in QEMU builders."#;

/// Go's `int(f)` for a float64 on amd64: truncation toward zero, and the
/// "integer indefinite" value `i64::MIN` when out of range.
fn go_int(f: f64) -> i64 {
    const LIMIT: f64 = 9_223_372_036_854_775_808.0; // 2^63
    if !(-LIMIT..LIMIT).contains(&f) {
        i64::MIN
    } else {
        f.trunc() as i64
    }
}

pub(crate) fn fix(template: Value) -> Result<Value, FixError> {
    fix_builders(NAME, template, |builder, _| {
        if type_of(builder) != Some("qemu") {
            return Ok(());
        }
        if let Some(size) = builder.get("disk_size").and_then(Value::as_f64) {
            builder.insert("disk_size".into(), format!("{}M", go_int(size)).into());
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn truncates_like_go() {
        assert_eq!(super::go_int(10.9), 10);
        assert_eq!(super::go_int(-5.7), -5);
        assert_eq!(super::go_int(1e20), i64::MIN);
        assert_eq!(super::go_int(-9_223_372_036_854_775_808.0), i64::MIN);
        assert_eq!(super::go_int(9.2e18), 9_200_000_000_000_000_000);
    }

    #[test]
    fn converts_numbers() {
        let out = super::fix(json!({"builders": [
            {"type": "qemu", "disk_size": 10240},
            {"type": "qemu", "disk_size": "10G"},
            {"type": "vmware-iso", "disk_size": 10240}
        ]}))
        .unwrap();
        assert_eq!(
            out,
            json!({"builders": [
                {"type": "qemu", "disk_size": "10240M"},
                {"type": "qemu", "disk_size": "10G"},
                {"type": "vmware-iso", "disk_size": 10240}
            ]})
        );
    }
}
