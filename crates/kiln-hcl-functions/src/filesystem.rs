//! Filesystem functions: `file`, `filebase64`, `fileexists`,
//! `templatefile`, `abspath`, `basename`, `dirname`, `pathexpand`.
//! Relative paths are relative to the current directory, as in Packer
//! (use `path.root` for the template's directory).

use base64::Engine;
use hcl::eval::{Context, Evaluate, FuncArgs};
use hcl::Value;

use super::{to_map, to_str, Entry};

pub(super) const FUNCS: &[Entry] = &[
    ("abspath", 1, false, abspath),
    ("basename", 1, false, basename),
    ("dirname", 1, false, dirname),
    ("file", 1, false, file),
    ("filebase64", 1, false, filebase64),
    ("fileexists", 1, false, fileexists),
    ("pathexpand", 1, false, pathexpand),
    ("templatefile", 2, false, templatefile),
];

/// Files larger than this are refused (templates are small).
const MAX_FILE: u64 = 64 << 20;

fn read(path: &str) -> Result<Vec<u8>, String> {
    let p = expand(path);
    let meta = std::fs::metadata(&p).map_err(|e| format!("cannot read `{path}`: {e}"))?;
    if meta.is_dir() {
        return Err(format!("`{path}` is a directory"));
    }
    if meta.len() > MAX_FILE {
        return Err(format!("`{path}` is larger than {} MiB", MAX_FILE >> 20));
    }
    std::fs::read(&p).map_err(|e| format!("cannot read `{path}`: {e}"))
}

fn expand(path: &str) -> String {
    if let Some(rest) = path.strip_prefix('~') {
        if rest.is_empty() || rest.starts_with('/') {
            if let Some(home) = std::env::var_os("HOME") {
                return format!("{}{rest}", home.to_string_lossy());
            }
        }
    }
    path.to_string()
}

fn file(a: FuncArgs) -> Result<Value, String> {
    let p = to_str(&a[0])?;
    String::from_utf8(read(&p)?)
        .map(Value::from)
        .map_err(|_| format!("`{p}` is not valid UTF-8; use `filebase64` for binary files"))
}
fn filebase64(a: FuncArgs) -> Result<Value, String> {
    Ok(Value::from(
        base64::engine::general_purpose::STANDARD.encode(read(&to_str(&a[0])?)?),
    ))
}
fn fileexists(a: FuncArgs) -> Result<Value, String> {
    let p = to_str(&a[0])?;
    match std::fs::metadata(expand(&p)) {
        Ok(m) if m.is_dir() => Err(format!("`{p}` is a directory, not a file")),
        Ok(_) => Ok(Value::Bool(true)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Value::Bool(false)),
        Err(e) => Err(format!("cannot stat `{p}`: {e}")),
    }
}
fn abspath(a: FuncArgs) -> Result<Value, String> {
    let p = to_str(&a[0])?;
    let abs = std::path::absolute(&p).map_err(|e| format!("cannot make `{p}` absolute: {e}"))?;
    // Clean `.` and `..` as Go's filepath.Abs does.
    let mut out = std::path::PathBuf::new();
    for c in abs.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    Ok(Value::from(out.to_string_lossy().into_owned()))
}
fn basename(a: FuncArgs) -> Result<Value, String> {
    let p = to_str(&a[0])?;
    let t = p.trim_end_matches('/');
    if t.is_empty() {
        return Ok(Value::from(if p.is_empty() { "." } else { "/" }));
    }
    Ok(Value::from(t.rsplit('/').next().unwrap_or(t).to_string()))
}
fn dirname(a: FuncArgs) -> Result<Value, String> {
    let p = to_str(&a[0])?;
    let d = match p.rfind('/') {
        Some(0) => "/".to_string(),
        Some(i) => p[..i].trim_end_matches('/').to_string(),
        None => ".".to_string(),
    };
    Ok(Value::from(if d.is_empty() { "/".into() } else { d }))
}
fn pathexpand(a: FuncArgs) -> Result<Value, String> {
    Ok(Value::from(expand(&to_str(&a[0])?)))
}
fn templatefile(a: FuncArgs) -> Result<Value, String> {
    let p = to_str(&a[0])?;
    let text = String::from_utf8(read(&p)?).map_err(|_| format!("`{p}` is not valid UTF-8"))?;
    let vars = to_map(&a[1])?;
    let template: hcl::Template = text
        .parse()
        .map_err(|e: hcl::Error| format!("`{p}`: invalid template: {e}"))?;
    let mut ctx = Context::new();
    super::register(&mut ctx, false);
    // No recursion: a template cannot call templatefile itself.
    ctx.declare_func("templatefile", super::def(no_recursion, 2, false));
    for (k, v) in vars {
        ctx.declare_var(k.as_str(), v.clone());
    }
    template
        .evaluate(&ctx)
        .map(Value::from)
        .map_err(|e| format!("`{p}`: {}", crate::value::eval_message(&e)))
}
fn no_recursion(_: FuncArgs) -> Result<Value, String> {
    Err("`templatefile` cannot be called from inside a template file".into())
}

#[cfg(test)]
mod tests {
    use super::super::tests::{check, eval};

    #[test]
    fn documented_examples() {
        check(&[
            (r#"basename("foo/bar/baz.txt")"#, r#""baz.txt""#),
            (r#"basename("/")"#, r#""/""#),
            (r#"dirname("foo/bar/baz.txt")"#, r#""foo/bar""#),
            (r#"dirname("baz.txt")"#, r#"".""#),
            (r#"dirname("/baz.txt")"#, r#""/""#),
            (r#"abspath("/a/b/../c")"#, r#""/a/c""#),
        ]);
        let home = std::env::var("HOME").unwrap_or_default();
        if !home.is_empty() {
            assert_eq!(
                eval(r#"pathexpand("~/.ssh/id_rsa")"#).unwrap(),
                format!("\"{home}/.ssh/id_rsa\"")
            );
        }
        assert_eq!(
            eval(r#"pathexpand("/etc/resolv.conf")"#).unwrap(),
            "\"/etc/resolv.conf\""
        );
    }

    #[test]
    fn files_and_templates() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("hello.txt");
        std::fs::write(&f, "Hello World").unwrap();
        let t = d.path().join("backends.tpl");
        std::fs::write(
            &t,
            "%{ for addr in ip_addrs ~}\nbackend ${addr}:${port}\n%{ endfor ~}\n",
        )
        .unwrap();
        let fp = f.display();
        let tp = t.display();
        check(&[
            (&format!(r#"file("{fp}")"#), r#""Hello World""#),
            (&format!(r#"filebase64("{fp}")"#), r#""SGVsbG8gV29ybGQ=""#),
            (&format!(r#"fileexists("{fp}")"#), "true"),
            (&format!(r#"fileexists("{fp}.nope")"#), "false"),
            (
                &format!(
                    r#"templatefile("{tp}", {{ port = 8080, ip_addrs = ["10.0.0.1", "10.0.0.2"] }})"#
                ),
                r#""backend 10.0.0.1:8080\nbackend 10.0.0.2:8080\n""#,
            ),
        ]);
        assert!(eval(&format!(r#"file("{fp}.nope")"#))
            .unwrap_err()
            .contains("cannot read"));
        let dp = d.path().display();
        assert!(eval(&format!(r#"file("{dp}")"#))
            .unwrap_err()
            .contains("is a directory"));
    }
}
