//! The `null` data source: `input` comes back as `output` (and as
//! `input`), as Packer's `datasource/null`. Useful to name a value once
//! and to test templates. Reads nothing; nothing to clean up.

use async_trait::async_trait;
use kiln_sdk::component::{BuildError, DataSourceContext};
use kiln_sdk::config::{ConfigErrors, RawConfig};
use kiln_sdk::{DataSource, DataSourceFactory, PrepareContext, Prepared};
use serde_json::{json, Value};

/// Registers `null`.
pub struct NullDataSourceFactory;

/// A prepared `null` data source: its `input`.
struct NullDataSource(Value);

impl DataSourceFactory for NullDataSourceFactory {
    fn name(&self) -> &'static str {
        "null"
    }

    fn prepare(
        &self,
        raw: &RawConfig,
        cx: &PrepareContext,
    ) -> Result<Prepared<Box<dyn DataSource>>, ConfigErrors> {
        let mut errors = ConfigErrors::new();
        super::check_keys(raw, &super::what("null", cx), &["input"], &mut errors);
        let input = raw.values.get("input").cloned().unwrap_or(Value::Null);
        errors.into_result(Prepared::new(
            Box::new(NullDataSource(input)) as Box<dyn DataSource>
        ))
    }
}

#[async_trait]
impl DataSource for NullDataSource {
    async fn execute(&self, _: DataSourceContext) -> Result<Value, BuildError> {
        Ok(json!({ "input": self.0, "output": self.0 }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_test::data_source_cx;
    use tokio_util::sync::CancellationToken;

    #[tokio::test]
    async fn input_comes_back_as_output() {
        let raw = RawConfig::from_value(json!({ "input": [1, "a"] }));
        let p = NullDataSourceFactory
            .prepare(&raw, &data_source_cx("data.null.n"))
            .unwrap();
        let out = p
            .component
            .execute(DataSourceContext {
                cancel: CancellationToken::new(),
            })
            .await
            .unwrap();
        assert_eq!(out, json!({ "input": [1, "a"], "output": [1, "a"] }));
        let p = NullDataSourceFactory
            .prepare(&RawConfig::default(), &data_source_cx("data.null.n"))
            .unwrap();
        let out = p
            .component
            .execute(DataSourceContext {
                cancel: CancellationToken::new(),
            })
            .await
            .unwrap();
        assert_eq!(out, json!({ "input": null, "output": null }));
    }

    #[test]
    fn unknown_arguments_are_named_with_a_hint() {
        let raw = RawConfig::from_value(json!({ "inptu": 1 }));
        let Err(e) = NullDataSourceFactory.prepare(&raw, &data_source_cx("data.null.n")) else {
            panic!("`inptu` was accepted");
        };
        assert_eq!(
            e.to_string(),
            "unsupported argument `inptu` in data source `data.null.n`\n  hint: did you mean `input`?"
        );
    }
}
