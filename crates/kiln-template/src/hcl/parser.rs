//! Reading HCL2 files into a small spanned tree ([`BodyAst`]): hcl-edit
//! parses with byte spans, which become `file:line:column` [`Location`]s;
//! every attribute's expression is kept unevaluated (as an
//! [`hcl::Expression`]) so that evaluation can be staged (variables, then
//! locals, then sources and builds).

use std::sync::Arc;

use hcl::edit::Span;
use kiln_sdk::config::{did_you_mean, ConfigError, ConfigErrors, Location};

/// One file's text, for turning byte offsets into lines and columns.
#[derive(Clone, Debug)]
pub struct SourceFile {
    /// The file as the user named it.
    pub name: Arc<str>,
    text: Arc<str>,
    line_starts: Vec<usize>,
}

impl SourceFile {
    /// Indexes `text`.
    pub fn new(name: Arc<str>, text: &str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        SourceFile {
            name,
            text: text.into(),
            line_starts,
        }
    }

    /// The location of byte `offset` (clamped to the text).
    pub fn location(&self, offset: usize) -> Location {
        let offset = offset.min(self.text.len());
        let line = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        let start = self.line_starts.get(line).copied().unwrap_or(0);
        let column = self
            .text
            .get(start..offset)
            .map(|s| s.chars().count())
            .unwrap_or(0)
            + 1;
        Location {
            file: self.name.clone(),
            line: line + 1,
            column,
        }
    }

    fn locate(&self, span: Option<std::ops::Range<usize>>) -> Location {
        self.location(span.map(|r| r.start).unwrap_or(0))
    }
}

/// An unevaluated expression and where it starts.
#[derive(Clone, Debug)]
pub struct Expr {
    /// The expression.
    pub expr: hcl::Expression,
    /// Where it is written.
    pub location: Location,
}

/// `name = expression`.
#[derive(Clone, Debug)]
pub struct Attr {
    /// The key.
    pub name: String,
    /// Where the key is written.
    pub key_location: Location,
    /// The value.
    pub value: Expr,
}

/// `ident "label" … { body }`.
#[derive(Clone, Debug)]
pub struct BlockAst {
    /// The block type.
    pub ident: String,
    /// Its labels.
    pub labels: Vec<String>,
    /// Where the block starts.
    pub location: Location,
    /// Its body.
    pub body: BodyAst,
}

/// A body: attributes and nested blocks, in file order.
#[derive(Clone, Debug, Default)]
pub struct BodyAst {
    /// The attributes.
    pub attrs: Vec<Attr>,
    /// The blocks.
    pub blocks: Vec<BlockAst>,
}

impl BodyAst {
    /// The attribute `name`, if set.
    pub fn attr(&self, name: &str) -> Option<&Attr> {
        self.attrs.iter().find(|a| a.name == name)
    }

    /// The nested blocks of type `ident`.
    pub fn blocks_of<'a>(&'a self, ident: &'a str) -> impl Iterator<Item = &'a BlockAst> + 'a {
        self.blocks.iter().filter(move |b| b.ident == ident)
    }

    /// Reports attributes and blocks that `what` does not accept, with a
    /// "did you mean".
    pub fn check_schema(
        &self,
        what: &str,
        attrs: &[&str],
        blocks: &[&str],
        errors: &mut ConfigErrors,
    ) {
        for a in &self.attrs {
            if !attrs.contains(&a.name.as_str()) {
                let mut e =
                    ConfigError::new(format!("unsupported argument `{}` in {what}", a.name));
                e.hint = hint_for(&a.name, attrs.iter().chain(blocks.iter()).copied());
                e.location = Some(a.key_location.clone());
                errors.push(e);
            }
        }
        for b in &self.blocks {
            if !blocks.contains(&b.ident.as_str()) {
                let mut e =
                    ConfigError::new(format!("unsupported block type `{}` in {what}", b.ident));
                e.hint = hint_for(&b.ident, blocks.iter().chain(attrs.iter()).copied());
                e.location = Some(b.location.clone());
                errors.push(e);
            }
        }
    }
}

/// A "did you mean" hint, if a candidate is close.
pub fn hint_for<'a>(input: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    did_you_mean(input, candidates).map(|s| format!("did you mean `{s}`?"))
}

/// Parses one HCL2 file into a [`BodyAst`]. Duplicate attributes in one
/// body are reported (HCL forbids them).
pub fn parse_file(file: &SourceFile, text: &str) -> Result<BodyAst, ConfigErrors> {
    let body = match hcl::edit::parser::parse_body(text) {
        Ok(b) => b,
        Err(e) => {
            let loc = e.location();
            let mut ce = ConfigError::new(format!("invalid HCL: {}", lowercase_first(e.message())));
            ce.location = Some(Location {
                file: file.name.clone(),
                line: loc.line(),
                column: loc.column(),
            });
            return Err(ce.into());
        }
    };
    let mut errors = ConfigErrors::new();
    let ast = convert_body(file, &body, &mut errors);
    errors.into_result(ast)
}

fn lowercase_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

fn convert_body(
    file: &SourceFile,
    body: &hcl::edit::structure::Body,
    errors: &mut ConfigErrors,
) -> BodyAst {
    let mut out = BodyAst::default();
    // Attribute name to index, for the duplicate check: linear in the
    // attributes (a `locals` block may hold tens of thousands).
    let mut seen: std::collections::HashMap<String, usize> = Default::default();
    for s in body.iter() {
        match s {
            hcl::edit::structure::Structure::Attribute(a) => {
                let name = a.key.as_str().to_string();
                let key_location = file.locate(a.key.span().or_else(|| a.span()));
                if let Some(prev) = seen.get(&name).map(|&i| &out.attrs[i]) {
                    let mut e = ConfigError::new(format!("duplicate argument `{name}`"))
                        .with_hint(format!("`{name}` was already set at {}", prev.key_location));
                    e.location = Some(key_location);
                    errors.push(e);
                    continue;
                }
                let location = file.locate(a.value.span());
                seen.insert(name.clone(), out.attrs.len());
                out.attrs.push(Attr {
                    name,
                    key_location,
                    value: Expr {
                        expr: hcl::Expression::from(a.value.clone()),
                        location,
                    },
                });
            }
            hcl::edit::structure::Structure::Block(b) => {
                out.blocks.push(BlockAst {
                    ident: b.ident.as_str().to_string(),
                    labels: b.labels.iter().map(|l| l.as_str().to_string()).collect(),
                    location: file.locate(b.ident.span().or_else(|| b.span())),
                    body: convert_body(file, &b.body, errors),
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_are_one_based_in_characters() {
        let f = SourceFile::new("t.pkr.hcl".into(), "a = 1\nbé = \"x\"\n");
        let l = f.location(10);
        assert_eq!((l.line, l.column), (2, 4));
        assert_eq!(f.location(0).line, 1);
        assert_eq!(f.location(10_000).line, 3);
    }

    #[test]
    fn parses_blocks_and_attributes_with_spans() {
        let text = "source \"null\" \"x\" {\n  communicator = \"none\"\n}\n";
        let f = SourceFile::new("t.pkr.hcl".into(), text);
        let ast = parse_file(&f, text).unwrap();
        let b = &ast.blocks[0];
        assert_eq!(b.labels, ["null", "x"]);
        let a = b.body.attr("communicator").unwrap();
        assert_eq!((a.key_location.line, a.key_location.column), (2, 3));
        assert_eq!(a.value.location.column, 18);
    }

    #[test]
    fn syntax_errors_are_located() {
        let text = "a = \n b = [";
        let f = SourceFile::new("t.pkr.hcl".into(), text);
        let e = parse_file(&f, text).unwrap_err();
        assert!(e.0[0].location.is_some());
        assert!(e.0[0].message.starts_with("invalid HCL: "), "{e}");
    }

    #[test]
    fn duplicate_attributes_are_errors() {
        let text = "a = 1\na = 2\n";
        let f = SourceFile::new("t.pkr.hcl".into(), text);
        let e = parse_file(&f, text).unwrap_err();
        assert!(
            e.to_string().starts_with("t.pkr.hcl:2:1: invalid HCL: "),
            "{e}"
        );
    }
}
