//! HCL2 in JSON syntax (`.pkr.json` files), after HashiCorp's HCL JSON
//! specification: the file is read by the crate's one positioned JSON
//! reader ([`crate::json`], the same one legacy templates use, so every
//! value keeps its `file:line:column`), then mapped, schema-driven, onto the
//! same [`BodyAst`] the native syntax produces. Which keys are blocks (and
//! how many labels each takes) depends on where they are: the top-level
//! blocks, `build`'s nested blocks, `variable`'s `validation`, and so on;
//! everything else is an attribute. JSON strings are template expressions
//! (`"${var.x}"`); a variable's `type` string is read as a type expression
//! (`"list(string)"`). Keys named `//` are comments.
//!
//! What differs from legacy templates is the message layer only: a syntax
//! error is worded here ([`syntax_message`]), after HCL's JSON parser's
//! diagnostics, instead of in the legacy templates' words.

use kiln_sdk::config::{ConfigError, ConfigErrors, Location};

use super::parser::{Attr, BlockAst, BodyAst, Expr, SourceFile};
use crate::json::{self, DigitPlace, Found, Node, Pos, Spanned, SyntaxErrorKind};

/// A syntax error of the shared reader in HCL's words: the message (after
/// `invalid JSON: `) and a hint, taken from HCL's diagnostic details where
/// they say more than the message.
pub fn syntax_message(kind: &SyntaxErrorKind) -> (String, Option<&'static str>) {
    const VALUE_START: &str =
        "a JSON value must start with a brace, a bracket, a number, a string, or a keyword";
    let unexpected = |c: char| format!("unexpected character `{c}`");
    match kind {
        SyntaxErrorKind::EmptyFile | SyntaxErrorKind::ExpectedValue(Found::End) => (
            "unexpected end of input, a value was expected".into(),
            Some("the JSON data ends prematurely"),
        ),
        SyntaxErrorKind::ExpectedValue(Found::LineBreak) => {
            ("unexpected line break".into(), Some(VALUE_START))
        }
        SyntaxErrorKind::ExpectedValue(Found::Char(c)) if c.is_alphabetic() => (
            unexpected(*c),
            Some("the JSON keywords are `true`, `false` and `null`"),
        ),
        SyntaxErrorKind::ExpectedValue(Found::Char(c)) => (unexpected(*c), Some(VALUE_START)),
        SyntaxErrorKind::TrailingCommaInArray => (
            unexpected(']'),
            Some("JSON does not permit a trailing comma after the final value in an array"),
        ),
        SyntaxErrorKind::TrailingData(_) => (
            "unexpected text after the JSON value".into(),
            Some("extra characters appear after the JSON value"),
        ),
        SyntaxErrorKind::TooDeep => ("values are nested too deeply".into(), None),
        SyntaxErrorKind::ExpectedKey(found) => (
            "an object key (a string) was expected".into(),
            Some(if *found == Found::Char('}') {
                "JSON does not permit a trailing comma after the final property in an object"
            } else {
                "a JSON object property name must be a string"
            }),
        ),
        SyntaxErrorKind::ExpectedColon { found, .. } => (
            "`:` was expected after an object key".into(),
            Some(match found {
                Found::Char('=') => {
                    "JSON uses a colon as its name/value delimiter, not an equals sign"
                }
                Found::Char('}' | ',') => {
                    "a JSON object attribute must have a value, introduced by a colon"
                }
                _ => "a colon must appear between an object property's name and its value",
            }),
        ),
        SyntaxErrorKind::ExpectedCommaOrBrace(found) => (
            "`,` or `}` was expected".into(),
            Some(match found {
                Found::End => "no closing brace was found for this JSON object",
                Found::Char(']') => "a JSON object must be closed with a brace, not a bracket",
                _ => "a comma must appear between each property definition in an object",
            }),
        ),
        SyntaxErrorKind::ExpectedCommaOrBracket(found) => (
            "`,` or `]` was expected".into(),
            Some(match found {
                Found::End => "no closing bracket was found for this JSON array",
                Found::Char('}') => "a JSON array must be closed with a bracket, not a brace",
                Found::Char(':') => "a colon is not used to introduce values in a JSON array",
                _ => "a comma must appear between each value in an array",
            }),
        ),
        SyntaxErrorKind::InvalidEscape(_) => (
            "invalid escape in a string".into(),
            Some("the escapes are `\\\"`, `\\\\`, `\\/`, `\\b`, `\\f`, `\\n`, `\\r`, `\\t` and `\\uXXXX`"),
        ),
        SyntaxErrorKind::ExpectedHexDigits => ("invalid `\\u` escape".into(), None),
        SyntaxErrorKind::LineBreakInString => (
            "control character in a string".into(),
            Some("write a line break inside a JSON string as `\\n`"),
        ),
        SyntaxErrorKind::ControlCharacterInString => ("control character in a string".into(), None),
        SyntaxErrorKind::UnterminatedString => ("unterminated string".into(), None),
        SyntaxErrorKind::ExpectedDigit { place, .. } => (
            format!(
                "invalid number: a digit was expected {}",
                match place {
                    DigitPlace::Integer => "in its integer part",
                    DigitPlace::Fraction => "after `.`",
                    DigitPlace::Exponent => "in its exponent",
                }
            ),
            None,
        ),
        SyntaxErrorKind::NumberOutOfRange(text) => (format!("invalid number `{text}`"), Some("the number is out of range")),
    }
}

/// Which nested keys of a body are blocks, and their label counts.
#[derive(Clone, Copy)]
enum Schema {
    Top,
    Build,
    PostProcessors,
    Variable,
    Packer,
    /// Attributes only (locals, variables, …).
    Attrs,
    /// A component's body (source, provisioner, post-processor, data):
    /// attributes, plus `dynamic` blocks.
    Component,
    /// A `dynamic` block: its `content` block.
    Dynamic,
}

impl Schema {
    fn block(self, key: &str) -> Option<(usize, Schema)> {
        Some(match (self, key) {
            (Schema::Top, "packer") => (0, Schema::Packer),
            (Schema::Top, "variable") => (1, Schema::Variable),
            (Schema::Top, "variables" | "locals" | "hcp_packer_registry") => (0, Schema::Attrs),
            (Schema::Top, "local") => (1, Schema::Attrs),
            (Schema::Top, "source" | "data") => (2, Schema::Component),
            (Schema::Top, "build") => (0, Schema::Build),
            (Schema::Build, "source") => (1, Schema::Component),
            (Schema::Build, "provisioner" | "error-cleanup-provisioner" | "post-processor") => {
                (1, Schema::Component)
            }
            (Schema::Build | Schema::Component, "dynamic") => (1, Schema::Dynamic),
            (Schema::Dynamic, "content") => (0, Schema::Component),
            (Schema::Build, "post-processors") => (0, Schema::PostProcessors),
            (Schema::Build, "hcp_packer_registry") => (0, Schema::Attrs),
            (Schema::PostProcessors, "post-processor") => (1, Schema::Component),
            (Schema::Variable, "validation") => (0, Schema::Attrs),
            (Schema::Packer, "required_plugins") => (0, Schema::Attrs),
            _ => return None,
        })
    }
}

struct Conv<'a> {
    file: &'a SourceFile,
    errors: ConfigErrors,
}

impl Conv<'_> {
    fn loc(&self, pos: Pos) -> Location {
        Location {
            file: self.file.name.clone(),
            line: pos.line,
            column: pos.column,
        }
    }

    fn err(&mut self, pos: Pos, msg: impl Into<String>, hint: Option<&str>) {
        let mut e = ConfigError::new(msg);
        e.location = Some(self.loc(pos));
        e.hint = hint.map(str::to_string);
        self.errors.push(e);
    }

    fn body(&mut self, node: &Spanned, schema: Schema, what: &str) -> BodyAst {
        let mut out = BodyAst::default();
        let Node::Object(members) = &node.node else {
            self.err(
                node.pos,
                format!("{what} must be a JSON object"),
                Some("write the block's body as `{ \"key\": value, … }`"),
            );
            return out;
        };
        for (key, key_pos, value) in members {
            if key == "//" {
                continue;
            }
            if let Some((labels, inner)) = schema.block(key) {
                self.blocks(key, *key_pos, value, labels, inner, Vec::new(), &mut out);
                continue;
            }
            if out.attr(key).is_some() {
                self.err(
                    *key_pos,
                    format!("duplicate argument `{key}`"),
                    Some("each key may appear once in a JSON object"),
                );
                continue;
            }
            let expr = if key == "type" && matches!(schema, Schema::Variable) {
                self.type_expr(value)
            } else {
                self.expr(value)
            };
            out.attrs.push(Attr {
                name: key.clone(),
                key_location: self.loc(*key_pos),
                value: Expr {
                    expr,
                    location: self.loc(value.pos),
                },
            });
        }
        out
    }

    #[allow(clippy::too_many_arguments)]
    fn blocks(
        &mut self,
        ident: &str,
        key_pos: Pos,
        node: &Spanned,
        labels_left: usize,
        schema: Schema,
        labels: Vec<String>,
        out: &mut BodyAst,
    ) {
        // An array holds several blocks (or several label objects).
        if let Node::Array(items) = &node.node {
            for item in items {
                self.blocks(
                    ident,
                    key_pos,
                    item,
                    labels_left,
                    schema,
                    labels.clone(),
                    out,
                );
            }
            return;
        }
        if labels_left == 0 {
            let body = self.body(node, schema, &format!("a `{ident}` block"));
            out.blocks.push(BlockAst {
                ident: ident.to_string(),
                labels,
                location: self.loc(key_pos),
                body,
            });
            return;
        }
        let Node::Object(members) = &node.node else {
            self.err(
                node.pos,
                format!("a `{ident}` block needs {labels_left} more label(s) as object keys"),
                Some("in JSON syntax, labels are nested object keys: `\"source\": {\"null\": {\"name\": { … }}}`"),
            );
            return;
        };
        for (label, label_pos, value) in members {
            if label == "//" {
                continue;
            }
            let mut l = labels.clone();
            l.push(label.clone());
            let at = if labels_left == 1 {
                *label_pos
            } else {
                key_pos
            };
            self.blocks(ident, at, value, labels_left - 1, schema, l, out);
        }
    }

    fn expr(&mut self, node: &Spanned) -> hcl::Expression {
        match &node.node {
            Node::Null => hcl::Expression::Null,
            Node::Bool(b) => hcl::Expression::Bool(*b),
            Node::Number(n) => {
                let num = match n.as_i64() {
                    Some(i) => hcl::Number::from(i),
                    None => hcl::Number::from_f64(n.as_f64().unwrap_or(0.0))
                        .unwrap_or_else(|| hcl::Number::from(0)),
                };
                hcl::Expression::Number(num)
            }
            Node::String(s) => self.template(node.pos, s),
            Node::Array(items) => {
                hcl::Expression::Array(items.iter().map(|i| self.expr(i)).collect())
            }
            Node::Object(members) => {
                let mut o = hcl::Object::new();
                for (k, _, v) in members {
                    if k == "//" {
                        continue;
                    }
                    o.insert(hcl::ObjectKey::from(k.as_str()), self.expr(v));
                }
                hcl::Expression::Object(o)
            }
        }
    }

    /// A JSON string is a template: `${…}` and `%{…}` are evaluated.
    fn template(&mut self, pos: Pos, s: &str) -> hcl::Expression {
        if !s.contains("${") && !s.contains("%{") {
            return hcl::Expression::String(s.to_string());
        }
        match s.parse::<hcl::Template>() {
            Ok(_) => hcl::Expression::TemplateExpr(Box::new(hcl::TemplateExpr::Heredoc(
                hcl::expr::Heredoc::new(hcl::Identifier::unchecked("EOT"), s),
            ))),
            Err(e) => {
                self.err(
                    pos,
                    format!(
                        "invalid template in a JSON string: {}",
                        first_line(&e.to_string())
                    ),
                    Some("write a literal `${` as `$${`"),
                );
                hcl::Expression::String(s.to_string())
            }
        }
    }

    /// A variable's `type`: the string is a type expression.
    fn type_expr(&mut self, node: &Spanned) -> hcl::Expression {
        let Node::String(s) = &node.node else {
            self.err(
                node.pos,
                "a variable's `type` must be a string holding a type expression",
                Some("write `\"type\": \"list(string)\"`"),
            );
            return hcl::Expression::Null;
        };
        match hcl::edit::parser::parse_body(&format!("t = {s}\n")) {
            Ok(body) => match body.into_attributes().next() {
                Some(a) => hcl::Expression::from(a.value),
                None => hcl::Expression::Null,
            },
            Err(e) => {
                self.err(
                    node.pos,
                    format!("invalid type expression `{s}`: {}", first_line(e.message())),
                    Some("types are `string`, `number`, `bool`, `list(T)`, `map(T)`, `object({…})`, …"),
                );
                hcl::Expression::Null
            }
        }
    }
}

fn first_line(s: &str) -> String {
    let l = s.lines().find(|l| !l.trim().is_empty()).unwrap_or(s).trim();
    let mut c = l.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Parses one `.pkr.json` file into the same [`BodyAst`] as
/// [`super::parser::parse_file`] gives for native syntax.
pub fn parse_file(file: &SourceFile, text: &str) -> Result<BodyAst, ConfigErrors> {
    let mut conv = Conv {
        file,
        errors: ConfigErrors::new(),
    };
    let node = match json::parse(text) {
        Ok(n) => n,
        Err(e) => {
            let (msg, hint) = syntax_message(&e.kind);
            conv.err(e.pos, format!("invalid JSON: {msg}"), hint);
            return Err(conv.errors);
        }
    };
    let body = conv.body(&node, Schema::Top, "an HCL2 JSON template");
    conv.errors.into_result(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<BodyAst, ConfigErrors> {
        let f = SourceFile::new("t.pkr.json".into(), text);
        parse_file(&f, text)
    }

    #[test]
    fn blocks_labels_and_attributes_keep_locations() {
        let text = "{\n  \"variable\": {\"v\": {\"type\": \"list(string)\", \"default\": [\"a\"]}},\n  \"source\": {\"null\": {\"x\": {\"communicator\": \"none\"}}},\n  \"build\": [{\"sources\": [\"source.null.x\"], \"provisioner\": [{\"shell-local\": {\"inline\": [\"echo ${var.v[0]}\"]}}]}]\n}\n";
        let b = parse(text).unwrap();
        let idents: Vec<(&str, Vec<String>)> = b
            .blocks
            .iter()
            .map(|b| (b.ident.as_str(), b.labels.clone()))
            .collect();
        assert_eq!(
            idents,
            [
                ("variable", vec!["v".to_string()]),
                ("source", vec!["null".into(), "x".into()]),
                ("build", vec![])
            ]
        );
        let src = &b.blocks[1];
        assert_eq!((src.location.line, src.location.column), (3, 23));
        let a = src.body.attr("communicator").unwrap();
        assert_eq!((a.key_location.line, a.key_location.column), (3, 29));
        assert!(matches!(
            b.blocks[0].body.attr("type").unwrap().value.expr,
            hcl::Expression::FuncCall(_)
        ));
        let build = &b.blocks[2];
        assert_eq!(build.body.blocks[0].ident, "provisioner");
        assert_eq!(build.body.blocks[0].labels, ["shell-local"]);
    }

    #[test]
    fn json_errors_are_located() {
        let e = parse("{\n  \"a\": [1,\n}").unwrap_err();
        assert_eq!(e.0[0].location.as_ref().unwrap().line, 3);
        assert!(e.0[0].message.starts_with("invalid JSON: "), "{e}");
        let e = parse("{\"source\": {\"null\": 5}}").unwrap_err();
        assert!(e.to_string().contains("1 more label"), "{e}");
    }

    /// The same syntax error reads in HCL's words here and in the legacy
    /// templates' words there, at the same position: only the message
    /// layer differs.
    #[test]
    fn syntax_errors_are_worded_after_hcl_at_the_shared_readers_position() {
        for (text, message, hint, legacy) in [
            (
                "{\n  \"source\": {\n}",
                "invalid JSON: `,` or `}` was expected",
                Some("no closing brace was found for this JSON object"),
                "expected `,` or `}` after an object entry, found the end of the file",
            ),
            (
                "{\"a\": 1,\n}",
                "invalid JSON: an object key (a string) was expected",
                Some("JSON does not permit a trailing comma after the final property in an object"),
                "expected a string key, found `}` (a trailing comma is not allowed in JSON)",
            ),
            (
                "{\"locals\": {\"a\" = 1}}",
                "invalid JSON: `:` was expected after an object key",
                Some("JSON uses a colon as its name/value delimiter, not an equals sign"),
                "expected `:` after the key `a`, found `=`",
            ),
            (
                "[1, 2,]",
                "invalid JSON: unexpected character `]`",
                Some("JSON does not permit a trailing comma after the final value in an array"),
                "expected a value, found `]` (a trailing comma is not allowed in JSON)",
            ),
            (
                "{\"a\": [1}",
                "invalid JSON: `,` or `]` was expected",
                Some("a JSON array must be closed with a bracket, not a brace"),
                "expected `,` or `]` after an array item, found `}`",
            ),
            (
                "{\"a\": tru}",
                "invalid JSON: unexpected character `t`",
                Some("the JSON keywords are `true`, `false` and `null`"),
                "expected a value, found `t`",
            ),
            (
                "{} {}",
                "invalid JSON: unexpected text after the JSON value",
                Some("extra characters appear after the JSON value"),
                "expected the end of the file after the top-level value, found `{`",
            ),
            (
                "{\"a\": 1e999}",
                "invalid JSON: invalid number `1e999`",
                Some("the number is out of range"),
                "number `1e999` is out of range",
            ),
            (
                "{\"a\": \"x\\qy\"}",
                "invalid JSON: invalid escape in a string",
                Some("the escapes are `\\\"`, `\\\\`, `\\/`, `\\b`, `\\f`, `\\n`, `\\r`, `\\t` and `\\uXXXX`"),
                "invalid escape `\\q` in a string",
            ),
            (
                "  ",
                "invalid JSON: unexpected end of input, a value was expected",
                Some("the JSON data ends prematurely"),
                "expected a JSON object, found an empty file",
            ),
        ] {
            let e = parse(text).unwrap_err();
            let shared = json::parse(text).unwrap_err();
            assert_eq!(e.0.len(), 1, "{e}");
            let (got, loc) = (&e.0[0], e.0[0].location.as_ref().unwrap());
            assert_eq!(got.message, message, "{text:?}");
            assert_eq!(got.hint.as_deref(), hint, "{text:?}");
            assert_eq!((loc.line, loc.column), (shared.pos.line, shared.pos.column));
            assert_eq!(shared.kind.to_string(), legacy, "{text:?}");
        }
    }

    #[test]
    fn numbers_keep_their_value_and_a_byte_order_mark_is_tolerated() {
        use hcl::eval::Evaluate;
        let b =
            parse("\u{feff}{\"locals\": {\"i\": -42, \"u\": 18446744073709551615, \"f\": 0.5}}")
                .unwrap();
        let attrs = &b.blocks[0].body.attrs;
        let value = |i: usize| {
            attrs[i]
                .value
                .expr
                .evaluate(&hcl::eval::Context::new())
                .unwrap()
        };
        assert_eq!(value(0), hcl::Value::from(-42));
        assert_eq!(value(1), hcl::Value::from(18446744073709551615u64 as f64));
        assert_eq!(value(2), hcl::Value::from(0.5));
        assert_eq!(
            (attrs[2].key_location.line, attrs[2].key_location.column),
            (1, 50)
        );
    }

    #[test]
    fn strings_are_templates() {
        use hcl::eval::Evaluate;
        let b = parse(r#"{"locals": {"a": "x-${1 + 2}-\\n", "b": "plain ${"}}"#);
        let e = b.unwrap_err();
        assert!(e.to_string().contains("invalid template"), "{e}");
        let b = parse(r#"{"locals": {"a": "x-${1 + 2}-\\n $${y}"}}"#).unwrap();
        let v = b.blocks[0].body.attrs[0]
            .value
            .expr
            .evaluate(&hcl::eval::Context::new())
            .unwrap();
        assert_eq!(v, hcl::Value::from("x-3-\\n ${y}"));
    }
}
