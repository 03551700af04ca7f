//! The rest of Packer's library: IP network (`cidr*`), YAML and CSV,
//! `fileset`, `base64gzip`, `bcrypt`, `uuidv5`, `legacy_strftime`,
//! `rsadecrypt`, the secret stores `vault` and `consul_key` over their
//! HTTP APIs (AWS Secrets Manager is in [`super::aws`]), the HTTP client
//! they share, and the internal helpers the
//! expression rewriter (`kiln_template::hcl::prepare`) calls: `__kiln_num`,
//! `__kiln_bool` (cty's operand conversions), `__kiln_fail`, and the eager
//! fallbacks of `try`, `can` and `convert`.

use std::io::Write;

use base64::Engine;
use hcl::eval::FuncArgs;
use hcl::{Map, Value};

use super::{num, to_bool, to_f64, to_i64, to_str, Entry};

pub(super) const FUNCS: &[Entry] = &[
    ("__kiln_num", 1, false, kiln_num),
    ("__kiln_bool", 1, false, kiln_bool),
    ("__kiln_fail", 1, false, kiln_fail),
    ("try", 0, true, try_eager),
    ("can", 1, false, can_eager),
    ("convert", 2, false, convert_eager),
    ("cidrhost", 2, false, cidrhost),
    ("cidrnetmask", 1, false, cidrnetmask),
    ("cidrsubnet", 3, false, cidrsubnet),
    ("cidrsubnets", 1, true, cidrsubnets),
    ("yamldecode", 1, false, yamldecode),
    ("yamlencode", 1, false, yamlencode),
    ("csvdecode", 1, false, csvdecode),
    ("fileset", 2, false, fileset),
    ("base64gzip", 1, false, base64gzip),
    ("bcrypt", 1, true, bcrypt_hash),
    ("uuidv5", 2, false, uuidv5),
    ("legacy_strftime", 1, false, legacy_strftime),
    ("vault", 2, false, vault),
    ("consul_key", 1, false, consul_key),
    ("rsadecrypt", 2, false, rsadecrypt),
];

fn kiln_num(a: FuncArgs) -> Result<Value, String> {
    match &a[0] {
        Value::Number(_) => Ok(a[0].clone()),
        v => to_f64(v).map(num),
    }
}

fn kiln_bool(a: FuncArgs) -> Result<Value, String> {
    to_bool(&a[0]).map(Value::Bool)
}

fn kiln_fail(a: FuncArgs) -> Result<Value, String> {
    Err(to_str(&a[0]).unwrap_or_default())
}

/// Only reached inside `for` expressions that bind what the arguments use:
/// arguments were evaluated already, so the first non-null one wins.
fn try_eager(a: FuncArgs) -> Result<Value, String> {
    a.iter()
        .find(|v| !matches!(v, Value::Null))
        .cloned()
        .ok_or_else(|| "no argument succeeded".into())
}

fn can_eager(_: FuncArgs) -> Result<Value, String> {
    Ok(Value::Bool(true))
}

fn convert_eager(_: FuncArgs) -> Result<Value, String> {
    Err("`convert` cannot use the variables of an enclosing `for` expression; convert the whole result instead".into())
}

/// A parsed prefix: address as a number, address width, prefix length.
struct Prefix {
    addr: u128,
    bits: u32,
    len: u32,
}

fn parse_prefix(s: &str) -> Result<Prefix, String> {
    let (ip, len) = s
        .split_once('/')
        .ok_or_else(|| format!("`{s}` is not a CIDR prefix such as `10.0.0.0/16`"))?;
    let ip: std::net::IpAddr = ip
        .parse()
        .map_err(|_| format!("`{s}`: `{ip}` is not an IP address"))?;
    let (addr, bits) = match ip {
        std::net::IpAddr::V4(v) => (u32::from(v) as u128, 32),
        std::net::IpAddr::V6(v) => (u128::from(v), 128),
    };
    let len: u32 = len
        .parse()
        .ok()
        .filter(|l| *l <= bits)
        .ok_or_else(|| format!("`{s}`: invalid prefix length `{len}`"))?;
    let mask = mask(bits, len);
    Ok(Prefix {
        addr: addr & mask,
        bits,
        len,
    })
}

fn mask(bits: u32, len: u32) -> u128 {
    if len == 0 {
        return 0;
    }
    let all = if bits == 128 {
        u128::MAX
    } else {
        (1u128 << bits) - 1
    };
    let host = bits - len;
    let host_mask = if host >= 128 {
        u128::MAX
    } else {
        (1u128 << host) - 1
    };
    all & !host_mask
}

fn format_addr(addr: u128, bits: u32) -> String {
    if bits == 32 {
        std::net::Ipv4Addr::from(addr as u32).to_string()
    } else {
        std::net::Ipv6Addr::from(addr).to_string()
    }
}

fn cidrhost(a: FuncArgs) -> Result<Value, String> {
    let p = parse_prefix(&to_str(&a[0])?)?;
    let host = to_i64(&a[1])?;
    let host_bits = p.bits - p.len;
    let size: u128 = if host_bits >= 128 {
        u128::MAX
    } else {
        1u128 << host_bits
    };
    let n: u128 = if host < 0 {
        let back = host.unsigned_abs() as u128;
        if back > size {
            return Err(format!(
                "prefix of {} bits has no host number {host}",
                p.len
            ));
        }
        size - back
    } else {
        let n = host as u128;
        if host_bits < 128 && n >= size {
            return Err(format!(
                "prefix of {} bits cannot accommodate host number {host}",
                p.len
            ));
        }
        n
    };
    Ok(Value::from(format_addr(p.addr | n, p.bits)))
}

fn cidrnetmask(a: FuncArgs) -> Result<Value, String> {
    let p = parse_prefix(&to_str(&a[0])?)?;
    if p.bits != 32 {
        return Err("only IPv4 prefixes have a netmask".into());
    }
    Ok(Value::from(format_addr(mask(32, p.len), 32)))
}

fn subnet(p: &Prefix, newbits: i64, netnum: i64) -> Result<Prefix, String> {
    if newbits < 0 || p.len as i64 + newbits > p.bits as i64 {
        return Err(format!(
            "insufficient address space to extend prefix of {} by {newbits}",
            p.len
        ));
    }
    let newlen = p.len + newbits as u32;
    if netnum < 0 || (newbits < 64 && netnum as u128 >= (1u128 << newbits)) {
        return Err(format!(
            "prefix extension of {newbits} does not accommodate a subnet numbered {netnum}"
        ));
    }
    let shift = p.bits - newlen;
    let add = if shift >= 128 {
        0
    } else {
        (netnum as u128) << shift
    };
    Ok(Prefix {
        addr: p.addr | add,
        bits: p.bits,
        len: newlen,
    })
}

fn show(p: &Prefix) -> String {
    format!("{}/{}", format_addr(p.addr, p.bits), p.len)
}

fn cidrsubnet(a: FuncArgs) -> Result<Value, String> {
    let p = parse_prefix(&to_str(&a[0])?)?;
    let s = subnet(&p, to_i64(&a[1])?, to_i64(&a[2])?)?;
    Ok(Value::from(show(&s)))
}

/// Consecutive subnets of the given sizes, each aligned to its size, as
/// Terraform's `cidrsubnets` allocates them.
fn cidrsubnets(a: FuncArgs) -> Result<Value, String> {
    let p = parse_prefix(&to_str(&a[0])?)?;
    let mut out = Vec::new();
    let mut next: u128 = p.addr;
    let end: u128 = p.addr
        | if p.bits - p.len >= 128 {
            u128::MAX
        } else {
            (1u128 << (p.bits - p.len)) - 1
        };
    for v in a.iter().skip(1) {
        let nb = to_i64(v)?;
        if nb < 1 || p.len as i64 + nb > p.bits as i64 {
            return Err(format!(
                "invalid new bits `{nb}` for a prefix of {} bits",
                p.len
            ));
        }
        let newlen = p.len + nb as u32;
        let size: u128 = 1u128 << (p.bits - newlen).min(127);
        // Align up to the subnet size.
        let start = next.div_ceil(size).saturating_mul(size);
        if start < next || start > end || start.saturating_add(size - 1) > end {
            return Err(format!(
                "not enough remaining address space for a subnet with a prefix of {newlen} bits after {}",
                out.last().and_then(|v: &Value| v.as_str().map(str::to_string)).unwrap_or_else(|| show(&p))
            ));
        }
        out.push(Value::from(show(&Prefix {
            addr: start,
            bits: p.bits,
            len: newlen,
        })));
        next = start.saturating_add(size);
    }
    Ok(Value::Array(out))
}

fn yaml_to_value(y: serde_yaml::Value) -> Result<Value, String> {
    Ok(match y {
        serde_yaml::Value::Null => Value::Null,
        serde_yaml::Value::Bool(b) => Value::Bool(b),
        serde_yaml::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else {
                num(n.as_f64().unwrap_or(0.0))
            }
        }
        serde_yaml::Value::String(s) => Value::from(s),
        serde_yaml::Value::Sequence(s) => Value::Array(
            s.into_iter()
                .map(yaml_to_value)
                .collect::<Result<Vec<_>, _>>()?,
        ),
        serde_yaml::Value::Mapping(m) => {
            let mut o = Map::new();
            for (k, v) in m {
                let k = match k {
                    serde_yaml::Value::String(s) => s,
                    serde_yaml::Value::Number(n) => n.to_string(),
                    serde_yaml::Value::Bool(b) => b.to_string(),
                    _ => return Err("only string, number and bool map keys are supported".into()),
                };
                o.insert(k, yaml_to_value(v)?);
            }
            Value::Object(o)
        }
        serde_yaml::Value::Tagged(t) => yaml_to_value(t.value)?,
    })
}

fn yamldecode(a: FuncArgs) -> Result<Value, String> {
    let s = to_str(&a[0])?;
    let y: serde_yaml::Value =
        serde_yaml::from_str(&s).map_err(|e| format!("invalid YAML: {e}"))?;
    yaml_to_value(y)
}

fn yamlencode(a: FuncArgs) -> Result<Value, String> {
    let j = crate::value::to_json(&a[0]);
    serde_yaml::to_string(&j)
        .map(Value::from)
        .map_err(|e| format!("cannot encode as YAML: {e}"))
}

/// RFC 4180 CSV: the first row names the columns.
fn csvdecode(a: FuncArgs) -> Result<Value, String> {
    let s = to_str(&a[0])?;
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = s.chars().peekable();
    let mut line = 1;
    let mut any = false;
    while let Some(c) = chars.next() {
        any = true;
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                '\n' => {
                    line += 1;
                    field.push(c)
                }
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() => quoted = true,
            '"' => return Err(format!("line {line}: a bare `\"` in a non-quoted field")),
            ',' => row.push(std::mem::take(&mut field)),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
                line += 1;
                any = false;
            }
            _ => field.push(c),
        }
    }
    if quoted {
        return Err(format!("line {line}: unterminated quoted field"));
    }
    if any {
        row.push(field);
        rows.push(row);
    }
    let mut it = rows.into_iter();
    let Some(header) = it.next() else {
        return Err("missing header line".into());
    };
    let mut out = Vec::new();
    for (i, r) in it.enumerate() {
        if r.len() != header.len() {
            return Err(format!(
                "line {}: expected {} fields, found {}",
                i + 2,
                header.len(),
                r.len()
            ));
        }
        out.push(Value::Object(
            header
                .iter()
                .cloned()
                .zip(r.into_iter().map(Value::from))
                .collect(),
        ));
    }
    Ok(Value::Array(out))
}

/// Files (not directories) under `path` whose path relative to it matches
/// `pattern`, sorted.
fn fileset(a: FuncArgs) -> Result<Value, String> {
    let base = to_str(&a[0])?;
    let pattern = to_str(&a[1])?;
    let glob = globset::GlobBuilder::new(&pattern)
        .literal_separator(true)
        .build()
        .map_err(|e| format!("invalid pattern `{pattern}`: {e}"))?
        .compile_matcher();
    let root = std::path::PathBuf::from(&base);
    let mut out = Vec::new();
    let mut stack = vec![(root.clone(), 0usize)];
    while let Some((dir, depth)) = stack.pop() {
        if depth > 64 {
            continue;
        }
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if dir == root && e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Value::Array(Vec::new()))
            }
            Err(e) => return Err(format!("cannot read `{}`: {e}", dir.display())),
        };
        for e in entries.flatten() {
            let p = e.path();
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                stack.push((p, depth + 1));
            } else if let Ok(rel) = p.strip_prefix(&root) {
                let rel = rel.to_string_lossy().replace('\\', "/");
                if glob.is_match(&rel) {
                    out.push(rel);
                }
            }
        }
    }
    out.sort();
    Ok(Value::Array(out.into_iter().map(Value::from).collect()))
}

fn base64gzip(a: FuncArgs) -> Result<Value, String> {
    let s = to_str(&a[0])?;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(s.as_bytes())
        .and_then(|_| enc.finish())
        .map(|gz| Value::from(base64::engine::general_purpose::STANDARD.encode(gz)))
        .map_err(|e| format!("cannot compress: {e}"))
}

fn bcrypt_hash(a: FuncArgs) -> Result<Value, String> {
    let s = to_str(&a[0])?;
    let cost = match a.get(1) {
        Some(c) => to_i64(c)?,
        None => 10,
    };
    if a.len() > 2 {
        return Err("at most two arguments: the string and a cost".into());
    }
    if !(4..=31).contains(&cost) {
        return Err(format!("the cost must be between 4 and 31, found {cost}"));
    }
    bcrypt::hash(s, cost as u32)
        .map(|h| Value::from(h.replacen("$2b$", "$2a$", 1)))
        .map_err(|e| format!("cannot hash: {e}"))
}

fn uuidv5(a: FuncArgs) -> Result<Value, String> {
    let ns = to_str(&a[0])?;
    let name = to_str(&a[1])?;
    let namespace = match ns.as_str() {
        "dns" => uuid::Uuid::NAMESPACE_DNS,
        "url" => uuid::Uuid::NAMESPACE_URL,
        "oid" => uuid::Uuid::NAMESPACE_OID,
        "x500" => uuid::Uuid::NAMESPACE_X500,
        other => uuid::Uuid::parse_str(other).map_err(|_| {
            format!("`{other}` is not a namespace: use `dns`, `url`, `oid`, `x500` or a UUID")
        })?,
    };
    Ok(Value::from(
        uuid::Uuid::new_v5(&namespace, name.as_bytes()).to_string(),
    ))
}

/// The current UTC time in a C `strftime` format (`%Y-%m-%d`).
fn legacy_strftime(a: FuncArgs) -> Result<Value, String> {
    let f = to_str(&a[0])?;
    let items: Vec<chrono::format::Item> = chrono::format::StrftimeItems::new(&f).collect();
    if items
        .iter()
        .any(|i| matches!(i, chrono::format::Item::Error))
    {
        return Err(format!("`{f}` is not a valid strftime format"));
    }
    Ok(Value::from(
        chrono::Utc::now()
            .format_with_items(items.into_iter())
            .to_string(),
    ))
}

/// A GET on a secret store's HTTP API: `(status, body)`.
fn http_get(url: &str, headers: Vec<(String, String)>) -> Result<(u16, String), String> {
    http_send("GET", url, headers, Vec::new()).map(|r| (r.status, r.body))
}

/// An HTTP answer: status, headers (names in lowercase) and body.
pub(super) struct HttpAnswer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// One request to a secret store's HTTP API, in a thread of its own
/// (templates may be loaded inside an async runtime), with a 30 s limit.
/// A transport failure comes back with its whole chain of causes.
pub(super) fn http_send(
    method: &str,
    url: &str,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
) -> Result<HttpAnswer, String> {
    let url = url.to_string();
    let method = reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| e.to_string())?;
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(async move {
            let client = reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(30))
                .build()
                .map_err(|e| e.to_string())?;
            let mut req = client.request(method, &url);
            for (k, v) in &headers {
                req = req.header(k, v);
            }
            if !body.is_empty() {
                req = req.body(body);
            }
            let resp = req.send().await.map_err(|e| {
                let mut s = e.to_string();
                let mut src = std::error::Error::source(&e);
                while let Some(inner) = src {
                    s.push_str(&format!(": {inner}"));
                    src = inner.source();
                }
                s
            })?;
            let status = resp.status().as_u16();
            let headers = resp
                .headers()
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_ascii_lowercase(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect();
            let body = resp.text().await.map_err(|e| e.to_string())?;
            Ok(HttpAnswer {
                status,
                headers,
                body,
            })
        })
    })
    .join()
    .unwrap_or_else(|_| Err("the HTTP client failed".into()))
}

/// `vault(path, key)`: a key of a Vault secret, read with `VAULT_TOKEN`
/// from `VAULT_ADDR` (default `https://127.0.0.1:8200`); KV v1 and v2.
fn vault(a: FuncArgs) -> Result<Value, String> {
    let path = to_str(&a[0])?;
    let key = to_str(&a[1])?;
    let addr = std::env::var("VAULT_ADDR").unwrap_or_else(|_| "https://127.0.0.1:8200".into());
    let token = std::env::var("VAULT_TOKEN").unwrap_or_default();
    vault_at(&addr, &token, &path, &key)
}

fn vault_at(addr: &str, token: &str, path: &str, key: &str) -> Result<Value, String> {
    let url = format!(
        "{}/v1/{}",
        addr.trim_end_matches('/'),
        path.trim_start_matches('/')
    );
    let (status, body) = http_get(&url, vec![("X-Vault-Token".into(), token.to_string())])
        .map_err(|e| {
            format!("cannot reach Vault at `{addr}` (set `VAULT_ADDR` and `VAULT_TOKEN`): {e}")
        })?;
    if status != 200 {
        return Err(format!("Vault at `{addr}` answered {status} for `{path}`"));
    }
    let j: serde_json::Value =
        serde_json::from_str(&body).map_err(|e| format!("Vault's answer is not JSON: {e}"))?;
    let data = &j["data"];
    // KV v2 nests the secret under data.data.
    let v = data["data"].get(key).or_else(|| data.get(key));
    match v {
        Some(serde_json::Value::String(s)) => Ok(Value::from(s.clone())),
        Some(other) => Ok(Value::from(other.to_string())),
        None => Err(format!("the Vault secret `{path}` has no key `{key}`")),
    }
}

/// `consul_key(key)`: a Consul KV value from `CONSUL_HTTP_ADDR` (default
/// `127.0.0.1:8500`), with `CONSUL_HTTP_TOKEN` when set.
fn consul_key(a: FuncArgs) -> Result<Value, String> {
    let key = to_str(&a[0])?;
    let addr = std::env::var("CONSUL_HTTP_ADDR").unwrap_or_else(|_| "127.0.0.1:8500".into());
    consul_key_at(&addr, std::env::var("CONSUL_HTTP_TOKEN").ok(), &key)
}

fn consul_key_at(addr: &str, token: Option<String>, key: &str) -> Result<Value, String> {
    let addr = if addr.contains("://") {
        addr.to_string()
    } else {
        format!("http://{addr}")
    };
    let headers = token
        .map(|t| vec![("X-Consul-Token".to_string(), t)])
        .unwrap_or_default();
    let url = format!(
        "{}/v1/kv/{}?raw",
        addr.trim_end_matches('/'),
        key.trim_start_matches('/')
    );
    let (status, body) = http_get(&url, headers)
        .map_err(|e| format!("cannot reach Consul at `{addr}` (set `CONSUL_HTTP_ADDR`): {e}"))?;
    match status {
        200 => Ok(Value::from(body)),
        404 => Err(format!("Consul has no key `{key}`")),
        s => Err(format!("Consul at `{addr}` answered {s} for `{key}`")),
    }
}

/// `rsadecrypt(ciphertext, privatekey)`: RSA PKCS #1 v1.5 decryption of
/// a base64 cipher text with an unencrypted PEM private key (PKCS #1
/// `RSA PRIVATE KEY` or PKCS #8 `PRIVATE KEY`). Errors never quote the key.
fn rsadecrypt(a: FuncArgs) -> Result<Value, String> {
    use rsa::pkcs1::DecodeRsaPrivateKey;
    use rsa::pkcs8::DecodePrivateKey;

    let text = to_str(&a[0])?;
    let pem = to_str(&a[1])?;
    let ct = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|_| {
            let shown: String = text.chars().take(40).collect();
            let more = if text.chars().count() > 40 { "…" } else { "" };
            format!("failed to decode input `{shown}{more}`: cipher text must be base64-encoded")
        })?;
    let pem = pem.trim();
    if pem.contains("ENCRYPTED") {
        return Err(
            "invalid private key: it is encrypted with a passphrase; decrypt it first (`openssl rsa -in KEY -out PLAIN`)"
                .into(),
        );
    }
    let key = if pem.contains("-----BEGIN RSA PRIVATE KEY-----") {
        rsa::RsaPrivateKey::from_pkcs1_pem(pem)
            .map_err(|e| format!("invalid private key: not a valid PKCS #1 RSA key ({e})"))?
    } else if pem.contains("-----BEGIN PRIVATE KEY-----") {
        rsa::RsaPrivateKey::from_pkcs8_pem(pem)
            .map_err(|e| format!("invalid private key: not a valid PKCS #8 RSA key ({e})"))?
    } else {
        return Err("invalid private key: expected a PEM-encoded RSA private key (`-----BEGIN RSA PRIVATE KEY-----` or `-----BEGIN PRIVATE KEY-----`)".into());
    };
    let out = key
        .decrypt(rsa::Pkcs1v15Encrypt, &ct)
        .map_err(|_| "failed to decrypt: the cipher text was not encrypted for this key with PKCS #1 v1.5 padding".to_string())?;
    Ok(Value::from(String::from_utf8_lossy(&out).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{check, eval};

    #[test]
    fn network_functions_match_the_documented_examples() {
        check(&[
            (r#"cidrhost("10.12.112.0/20", 16)"#, r#""10.12.112.16""#),
            (r#"cidrhost("10.12.112.0/20", 268)"#, r#""10.12.113.12""#),
            (r#"cidrhost("10.12.112.0/20", -2)"#, r#""10.12.127.254""#),
            (
                r#"cidrhost("fd00:fd12:3456:7890:00a2::/72", 34)"#,
                r#""fd00:fd12:3456:7890::22""#,
            ),
            (r#"cidrnetmask("172.16.0.0/12")"#, r#""255.240.0.0""#),
            (r#"cidrsubnet("172.16.0.0/12", 4, 2)"#, r#""172.18.0.0/16""#),
            (r#"cidrsubnet("10.1.2.0/24", 4, 15)"#, r#""10.1.2.240/28""#),
            (
                r#"cidrsubnet("fd00:fd12:3456:7890::/56", 16, 162)"#,
                r#""fd00:fd12:3456:7800:a200::/72""#,
            ),
            (
                r#"cidrsubnets("10.1.0.0/16", 4, 4, 8, 4)"#,
                r#"["10.1.0.0/20","10.1.16.0/20","10.1.32.0/24","10.1.48.0/20"]"#,
            ),
        ]);
        assert!(eval(r#"cidrsubnet("10.1.2.0/24", 4, 16)"#).is_err());
        assert!(eval(r#"cidrnetmask("fd00::/8")"#).is_err());
        assert!(eval(r#"cidrhost("10.0.0.0/33", 1)"#)
            .unwrap_err()
            .contains("invalid prefix length"));
    }

    #[test]
    fn yaml_csv_and_encodings() {
        check(&[
            (r#"yamldecode("hello: world")"#, r#"{"hello":"world"}"#),
            (r#"yamldecode("- 1\n- a\n- true")"#, r#"[1,"a",true]"#),
            (
                r#"yamlencode({"a" = "b", "c" = [1]})"#,
                r#""a: b\nc:\n- 1\n""#,
            ),
            (
                r#"csvdecode("a,b,c\n1,2,3\n4,\"x,y\",6\n")"#,
                r#"[{"a":"1","b":"2","c":"3"},{"a":"4","b":"x,y","c":"6"}]"#,
            ),
            (
                r#"uuidv5("dns", "www.terraform.io")"#,
                r#""a5008fae-b28c-5ba5-96cd-82b4c53552d6""#,
            ),
            (
                r#"uuidv5("6ba7b811-9dad-11d1-80b4-00c04fd430c8", "https://www.terraform.io/")"#,
                r#""9db6f67c-dd95-5ea0-aa5b-e70e5c5f7cf5""#,
            ),
        ]);
        assert!(eval(r#"csvdecode("a,b\n1\n")"#)
            .unwrap_err()
            .contains("line 2: expected 2 fields"));
        assert!(eval(r#"yamldecode("a: [")"#)
            .unwrap_err()
            .contains("invalid YAML"));
        let gz = eval(r#"base64gzip("hello")"#).unwrap();
        let raw = base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            gz.trim_matches('"'),
        )
        .unwrap();
        let mut out = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&raw[..]), &mut out)
            .unwrap();
        assert_eq!(out, "hello");
    }

    #[test]
    fn bcrypt_strftime_and_fileset() {
        let h = eval(r#"bcrypt("hello world", 4)"#).unwrap();
        let h = h.trim_matches('"');
        assert!(h.starts_with("$2a$04$"), "{h}");
        assert!(bcrypt::verify("hello world", h).unwrap());
        let y = eval(r#"legacy_strftime("%Y")"#).unwrap();
        assert_eq!(
            y.trim_matches('"'),
            chrono::Utc::now().format("%Y").to_string()
        );
        assert!(eval(r#"legacy_strftime("%Q")"#).is_err());
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("sub/deep")).unwrap();
        for f in ["a.txt", "b.md", "sub/c.txt", "sub/deep/d.txt"] {
            std::fs::write(d.path().join(f), "x").unwrap();
        }
        let p = d.path().display();
        assert_eq!(
            eval(&format!(r#"fileset("{p}", "*.txt")"#)).unwrap(),
            r#"["a.txt"]"#
        );
        assert_eq!(
            eval(&format!(r#"fileset("{p}", "**/*.txt")"#)).unwrap(),
            r#"["a.txt","sub/c.txt","sub/deep/d.txt"]"#
        );
        assert_eq!(
            eval(&format!(r#"fileset("{p}", "sub/*")"#)).unwrap(),
            r#"["sub/c.txt"]"#
        );
    }

    /// A 1024-bit test key and cipher texts made once with OpenSSL 3.0:
    /// `openssl genrsa -traditional 1024`, `openssl pkcs8 -topk8 -nocrypt`,
    /// and `openssl pkeyutl -encrypt -pubin -pkeyopt rsa_padding_mode:pkcs1`.
    const RSA_PKCS1: &str = "-----BEGIN RSA PRIVATE KEY-----\nMIICXQIBAAKBgQC9B0o1oiGAaEYgLpolC0X0Jai1GXj+r2PJ3IBmTTuo1c83rsyQ\nirxHDm+gfwYlYuaG4pq/czUziurL5aBkTeRtNZNxT1wp/ew5fRIM9oZZDabJ0PhD\nY7tvgUSAXX7kqYkWVSvxPs38J5s/OzhB4O2saMe/yFNNlon4ZQ06CLPe/QIDAQAB\nAoGAN+aQ/p1s1OGBY4EEmtHjpRkB9FSNIJxToV2xJw/OBdb9CdWKr3Anz8eoIUmP\nUr0VuWwIIXf7kruRRi0pKqCSXWtfxTCJzjtM66im2ipJPhuQjz6KWuO86IelKyEJ\nhUHbpERxLbOcZlMKgu+rXc5xDUE3dnUud+1s1m8ezRs3rQECQQDi29sLpHeZdZak\npfT/70cyg8UcaBi6EElJW44rg4V5w41Wzjn0h1Iuqb/Z0Wzg2wEtn0WGEUgH0K5g\njz6plVXBAkEA1U9m0Hvj7/JMLMD2b/ynTZUUOW+WibS1fLE1NstoH7zKC8EBNZ25\nXjsOyUIynRnl6g9K7FKEoLDdH+kW1RpwPQJAIxxBz5B5zi9rzDm/LGk9DK1mMVpP\nEWT54refzk5BtzGzy06Jm7Xh20T8Y1rNThO3H/d5jCFak5MRmfIxkY+CQQJBAIPV\nJv4DE8TgQyQFvklIJT5VvMIirS8+eEwwWWscG6ZBz72j81Nnv4D1jxXjy9Q8hVQ7\nT1rvRPjrVj66mFnslSECQQDFVKyYYeUzfZznAHv1ATvcoRt8o/LOq1q/JTcsXzd6\nhrcxinJ6mqV2Rf8lqZfHHhqFVqvrMZH2YehqyFRc7dKj\n-----END RSA PRIVATE KEY-----\n";
    const RSA_PKCS8: &str = "-----BEGIN PRIVATE KEY-----\nMIICdwIBADANBgkqhkiG9w0BAQEFAASCAmEwggJdAgEAAoGBAL0HSjWiIYBoRiAu\nmiULRfQlqLUZeP6vY8ncgGZNO6jVzzeuzJCKvEcOb6B/BiVi5obimr9zNTOK6svl\noGRN5G01k3FPXCn97Dl9Egz2hlkNpsnQ+ENju2+BRIBdfuSpiRZVK/E+zfwnmz87\nOEHg7axox7/IU02WifhlDToIs979AgMBAAECgYA35pD+nWzU4YFjgQSa0eOlGQH0\nVI0gnFOhXbEnD84F1v0J1YqvcCfPx6ghSY9SvRW5bAghd/uSu5FGLSkqoJJda1/F\nMInOO0zrqKbaKkk+G5CPPopa47zoh6UrIQmFQdukRHEts5xmUwqC76tdznENQTd2\ndS537WzWbx7NGzetAQJBAOLb2wukd5l1lqSl9P/vRzKDxRxoGLoQSUlbjiuDhXnD\njVbOOfSHUi6pv9nRbODbAS2fRYYRSAfQrmCPPqmVVcECQQDVT2bQe+Pv8kwswPZv\n/KdNlRQ5b5aJtLV8sTU2y2gfvMoLwQE1nbleOw7JQjKdGeXqD0rsUoSgsN0f6RbV\nGnA9AkAjHEHPkHnOL2vMOb8saT0MrWYxWk8RZPnit5/OTkG3MbPLTombteHbRPxj\nWs1OE7cf93mMIVqTkxGZ8jGRj4JBAkEAg9Um/gMTxOBDJAW+SUglPlW8wiKtLz54\nTDBZaxwbpkHPvaPzU2e/gPWPFePL1DyFVDtPWu9E+OtWPrqYWeyVIQJBAMVUrJhh\n5TN9nOcAe/UBO9yhG3yj8s6rWr8lNyxfN3qGtzGKcnqapXZF/yWpl8ceGoVWq+sx\nkfZh6GrIVFzt0qM=\n-----END PRIVATE KEY-----\n";
    /// "Hello, world!", the documented example's clear text.
    const RSA_HELLO: &str = "sCgYw9Ytsz6CyGVNfkUs1ycnPKvE8ZdIbiAcy1rtAjKD2nYqLQAPTxdjByhslYBv/c3gk+iX+Uuzjb9fXVAWNoEhwGcYe1cAgYls+aZHDc17qfUlMDwC9lhLf9Tl1UB5SK/JIPpFFNvYWCIVlxPyFAhuuK2M8kYJfWiuwCtpO8E=";
    /// "héllo wörld".
    const RSA_UTF8: &str = "SK6wphSoPe5mbWSFuI4xkJXNj9bHQ0XnzMmX9PtluEAqbCJ52xcw1HfNmB7JnZilfmUmwoBZItjYOkk/MpLDIT6vqPjeMUqq+BUPvGPSS9PhqpXSwao5oUS6PurHijhMTLnV4Smh+LU/gHybvavXfCV5zC/TjBJoxB+BtXqUlcI=";
    /// "Hello, world!" encrypted for another key.
    const RSA_OTHER: &str = "Hhnzg+nT2uiwshfe2SAQfhgsG4nRGlSHst8HG3zMrCDrKluA92lTz9D1y3Z8juql169kmF78XNcLadoWhzd+D0kxpLyipQKZMyFWNnqLWSbC82w26YPyg9dlv6PiZhA8zH63L2+o+GRroTSy8JWypA64fD8TdbSFHVXhaf14Owo=";

    fn rsadecrypt(ct: &str, key: &str) -> Result<String, String> {
        eval(&format!("rsadecrypt({}, {})", hcl_str(ct), hcl_str(key)))
    }

    fn hcl_str(s: &str) -> String {
        serde_json::to_string(s).unwrap()
    }

    #[test]
    fn rsadecrypt_decrypts_what_openssl_encrypted() {
        for key in [RSA_PKCS1, RSA_PKCS8] {
            assert_eq!(rsadecrypt(RSA_HELLO, key).unwrap(), r#""Hello, world!""#);
            assert_eq!(rsadecrypt(RSA_UTF8, key).unwrap(), r#""héllo wörld""#);
        }
        // Surrounding whitespace (a file read with `file()`) is fine.
        let padded = format!("{RSA_HELLO}\n");
        let key = format!("\n{RSA_PKCS1}\n");
        assert_eq!(rsadecrypt(&padded, &key).unwrap(), r#""Hello, world!""#);
    }

    #[test]
    fn rsadecrypt_explains_bad_input() {
        for (ct, key, want) in [
            (
                "not base64!",
                RSA_PKCS1,
                "failed to decode input `not base64!`: cipher text must be base64-encoded",
            ),
            (RSA_HELLO, "hello", "invalid private key: expected a PEM-encoded RSA private key"),
            (
                RSA_HELLO,
                "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n",
                "invalid private key: not a valid PKCS #1 RSA key",
            ),
            (
                RSA_HELLO,
                "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
                "invalid private key: it is encrypted with a passphrase",
            ),
            (RSA_OTHER, RSA_PKCS1, "failed to decrypt"),
            ("aGVsbG8=", RSA_PKCS8, "failed to decrypt"),
        ] {
            let e = rsadecrypt(ct, key).unwrap_err();
            assert!(e.contains(want), "{want}: {e}");
            assert!(!e.contains("MII"), "the key leaks into: {e}");
        }
    }

    #[test]
    fn secret_stores_say_when_they_cannot_be_reached() {
        // Nothing listens on a port just released.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let e = super::consul_key_at(&format!("127.0.0.1:{port}"), None, "a/b").unwrap_err();
        assert!(
            e.contains("cannot reach Consul at `http://127.0.0.1:"),
            "{e}"
        );
    }

    /// A fake Vault (no Vault server can run in tests): a loopback server
    /// answering one KV v2 read the way Vault's HTTP API does.
    #[test]
    fn vault_reads_kv_v2_from_a_fake_server() {
        use std::io::{Read, Write};
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let h = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut buf = [0u8; 4096];
            let n = s.read(&mut buf).unwrap();
            let req = String::from_utf8_lossy(&buf[..n]).into_owned();
            let body = r#"{"data":{"data":{"pw":"hunter2"}}}"#;
            write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
            .unwrap();
            req
        });

        assert_eq!(
            super::vault_at(&format!("http://{addr}"), "tok", "secret/data/app", "pw"),
            Ok(hcl::Value::from("hunter2"))
        );
        let req = h.join().unwrap();
        assert!(req.starts_with("GET /v1/secret/data/app "), "{req}");
        assert!(req.to_lowercase().contains("x-vault-token: tok"), "{req}");
    }
}
