//! HCL2 in JSON syntax (`.pkr.json` files), after HashiCorp's HCL JSON
//! specification: a small spanned JSON reader (so every value keeps its
//! `file:line:column`) and the schema-driven mapping of JSON objects onto
//! the same [`BodyAst`] the native syntax produces. Which keys are blocks
//! (and how many labels each takes) depends on where they are: the
//! top-level blocks, `build`'s nested blocks, `variable`'s `validation`,
//! and so on; everything else is an attribute. JSON strings are template
//! expressions (`"${var.x}"`); a variable's `type` string is read as a type
//! expression (`"list(string)"`). Keys named `//` are comments.

use kiln_sdk::config::{ConfigError, ConfigErrors, Location};

use super::parser::{Attr, BlockAst, BodyAst, Expr, SourceFile};

/// A JSON value with the byte offset where it starts.
#[derive(Clone, Debug)]
pub struct JNode {
    /// Where the value starts.
    pub offset: usize,
    /// The value.
    pub value: JValue,
}

/// A JSON value whose members keep their offsets.
#[derive(Clone, Debug)]
pub enum JValue {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A number, as written.
    Number(String),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<JNode>),
    /// An object: `(key, key offset, value)` in file order.
    Object(Vec<(String, usize, JNode)>),
}

struct Reader<'a> {
    s: &'a [u8],
    text: &'a str,
    pos: usize,
    depth: usize,
}

type JResult<T> = Result<T, (usize, String)>;

impl Reader<'_> {
    fn ws(&mut self) {
        while self.pos < self.s.len() && matches!(self.s[self.pos], b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
    }

    fn value(&mut self) -> JResult<JNode> {
        self.ws();
        let offset = self.pos;
        let Some(&c) = self.s.get(self.pos) else {
            return Err((
                offset,
                "unexpected end of input, a value was expected".into(),
            ));
        };
        if self.depth > 200 {
            return Err((offset, "values are nested too deeply".into()));
        }
        let value = match c {
            b'{' => {
                self.pos += 1;
                self.depth += 1;
                let mut members = Vec::new();
                self.ws();
                if self.s.get(self.pos) == Some(&b'}') {
                    self.pos += 1;
                } else {
                    loop {
                        self.ws();
                        let key_offset = self.pos;
                        if self.s.get(self.pos) != Some(&b'"') {
                            return Err((self.pos, "an object key (a string) was expected".into()));
                        }
                        let key = self.string()?;
                        self.ws();
                        if self.s.get(self.pos) != Some(&b':') {
                            return Err((self.pos, "`:` was expected after an object key".into()));
                        }
                        self.pos += 1;
                        let v = self.value()?;
                        members.push((key, key_offset, v));
                        self.ws();
                        match self.s.get(self.pos) {
                            Some(b',') => self.pos += 1,
                            Some(b'}') => {
                                self.pos += 1;
                                break;
                            }
                            _ => return Err((self.pos, "`,` or `}` was expected".into())),
                        }
                    }
                }
                self.depth -= 1;
                JValue::Object(members)
            }
            b'[' => {
                self.pos += 1;
                self.depth += 1;
                let mut items = Vec::new();
                self.ws();
                if self.s.get(self.pos) == Some(&b']') {
                    self.pos += 1;
                } else {
                    loop {
                        items.push(self.value()?);
                        self.ws();
                        match self.s.get(self.pos) {
                            Some(b',') => self.pos += 1,
                            Some(b']') => {
                                self.pos += 1;
                                break;
                            }
                            _ => return Err((self.pos, "`,` or `]` was expected".into())),
                        }
                    }
                }
                self.depth -= 1;
                JValue::Array(items)
            }
            b'"' => JValue::String(self.string()?),
            b't' if self.text[self.pos..].starts_with("true") => {
                self.pos += 4;
                JValue::Bool(true)
            }
            b'f' if self.text[self.pos..].starts_with("false") => {
                self.pos += 5;
                JValue::Bool(false)
            }
            b'n' if self.text[self.pos..].starts_with("null") => {
                self.pos += 4;
                JValue::Null
            }
            b'-' | b'0'..=b'9' => {
                let start = self.pos;
                while self.pos < self.s.len()
                    && matches!(
                        self.s[self.pos],
                        b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'
                    )
                {
                    self.pos += 1;
                }
                let n = &self.text[start..self.pos];
                if n.parse::<f64>().is_err() {
                    return Err((start, format!("invalid number `{n}`")));
                }
                JValue::Number(n.to_string())
            }
            _ => {
                let ch = self.text[self.pos..].chars().next().unwrap_or(' ');
                return Err((self.pos, format!("unexpected character `{ch}`")));
            }
        };
        Ok(JNode { offset, value })
    }

    fn string(&mut self) -> JResult<String> {
        let start = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let Some(&c) = self.s.get(self.pos) else {
                return Err((start, "unterminated string".into()));
            };
            match c {
                b'"' => {
                    self.pos += 1;
                    return Ok(out);
                }
                b'\\' => {
                    let esc = self.s.get(self.pos + 1).copied();
                    self.pos += 2;
                    match esc {
                        Some(b'"') => out.push('"'),
                        Some(b'\\') => out.push('\\'),
                        Some(b'/') => out.push('/'),
                        Some(b'b') => out.push('\u{8}'),
                        Some(b'f') => out.push('\u{c}'),
                        Some(b'n') => out.push('\n'),
                        Some(b'r') => out.push('\r'),
                        Some(b't') => out.push('\t'),
                        Some(b'u') => {
                            let hex = |r: &mut Self| -> JResult<u32> {
                                let h = r
                                    .text
                                    .get(r.pos..r.pos + 4)
                                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                                    .ok_or((r.pos, "invalid `\\u` escape".to_string()))?;
                                r.pos += 4;
                                Ok(h)
                            };
                            let mut cp = hex(self)?;
                            if (0xD800..0xDC00).contains(&cp)
                                && self.text[self.pos..].starts_with("\\u")
                            {
                                self.pos += 2;
                                let lo = hex(self)?;
                                cp = 0x10000
                                    + ((cp - 0xD800) << 10)
                                    + (lo.wrapping_sub(0xDC00) & 0x3FF);
                            }
                            out.push(char::from_u32(cp).unwrap_or('\u{FFFD}'));
                        }
                        _ => return Err((self.pos - 1, "invalid escape in a string".into())),
                    }
                }
                _ => {
                    let ch = self.text[self.pos..].chars().next().unwrap_or(' ');
                    if (ch as u32) < 0x20 {
                        return Err((self.pos, "control character in a string".into()));
                    }
                    out.push(ch);
                    self.pos += ch.len_utf8();
                }
            }
        }
    }
}

/// Reads JSON text with offsets. The error is `(offset, message)`.
pub fn read_json(text: &str) -> Result<JNode, (usize, String)> {
    let mut r = Reader {
        s: text.as_bytes(),
        text,
        pos: 0,
        depth: 0,
    };
    let v = r.value()?;
    r.ws();
    if r.pos < text.len() {
        return Err((r.pos, "unexpected text after the JSON value".into()));
    }
    Ok(v)
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
    fn loc(&self, offset: usize) -> Location {
        self.file.location(offset)
    }

    fn err(&mut self, offset: usize, msg: impl Into<String>, hint: Option<&str>) {
        let mut e = ConfigError::new(msg);
        e.location = Some(self.loc(offset));
        e.hint = hint.map(str::to_string);
        self.errors.push(e);
    }

    fn body(&mut self, node: &JNode, schema: Schema, what: &str) -> BodyAst {
        let mut out = BodyAst::default();
        let JValue::Object(members) = &node.value else {
            self.err(
                node.offset,
                format!("{what} must be a JSON object"),
                Some("write the block's body as `{ \"key\": value, … }`"),
            );
            return out;
        };
        for (key, key_offset, value) in members {
            if key == "//" {
                continue;
            }
            if let Some((labels, inner)) = schema.block(key) {
                self.blocks(key, *key_offset, value, labels, inner, Vec::new(), &mut out);
                continue;
            }
            if out.attr(key).is_some() {
                self.err(
                    *key_offset,
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
                key_location: self.loc(*key_offset),
                value: Expr {
                    expr,
                    location: self.loc(value.offset),
                },
            });
        }
        out
    }

    #[allow(clippy::too_many_arguments)]
    fn blocks(
        &mut self,
        ident: &str,
        key_offset: usize,
        node: &JNode,
        labels_left: usize,
        schema: Schema,
        labels: Vec<String>,
        out: &mut BodyAst,
    ) {
        // An array holds several blocks (or several label objects).
        if let JValue::Array(items) = &node.value {
            for item in items {
                self.blocks(
                    ident,
                    key_offset,
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
                location: self.loc(key_offset),
                body,
            });
            return;
        }
        let JValue::Object(members) = &node.value else {
            self.err(
                node.offset,
                format!("a `{ident}` block needs {labels_left} more label(s) as object keys"),
                Some("in JSON syntax, labels are nested object keys: `\"source\": {\"null\": {\"name\": { … }}}`"),
            );
            return;
        };
        for (label, label_offset, value) in members {
            if label == "//" {
                continue;
            }
            let mut l = labels.clone();
            l.push(label.clone());
            let at = if labels_left == 1 {
                *label_offset
            } else {
                key_offset
            };
            self.blocks(ident, at, value, labels_left - 1, schema, l, out);
        }
    }

    fn expr(&mut self, node: &JNode) -> hcl::Expression {
        match &node.value {
            JValue::Null => hcl::Expression::Null,
            JValue::Bool(b) => hcl::Expression::Bool(*b),
            JValue::Number(n) => {
                let num = if let Ok(i) = n.parse::<i64>() {
                    hcl::Number::from(i)
                } else {
                    hcl::Number::from_f64(n.parse::<f64>().unwrap_or(0.0))
                        .unwrap_or_else(|| hcl::Number::from(0))
                };
                hcl::Expression::Number(num)
            }
            JValue::String(s) => self.template(node.offset, s),
            JValue::Array(items) => {
                hcl::Expression::Array(items.iter().map(|i| self.expr(i)).collect())
            }
            JValue::Object(members) => {
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
    fn template(&mut self, offset: usize, s: &str) -> hcl::Expression {
        if !s.contains("${") && !s.contains("%{") {
            return hcl::Expression::String(s.to_string());
        }
        match s.parse::<hcl::Template>() {
            Ok(_) => hcl::Expression::TemplateExpr(Box::new(hcl::TemplateExpr::Heredoc(
                hcl::expr::Heredoc::new(hcl::Identifier::unchecked("EOT"), s),
            ))),
            Err(e) => {
                self.err(
                    offset,
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
    fn type_expr(&mut self, node: &JNode) -> hcl::Expression {
        let JValue::String(s) = &node.value else {
            self.err(
                node.offset,
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
                    node.offset,
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
    let node = match read_json(text) {
        Ok(n) => n,
        Err((offset, msg)) => {
            conv.err(offset, format!("invalid JSON: {msg}"), None);
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
