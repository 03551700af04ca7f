//! `aws_secretsmanager(name, key)` and `aws_secretsmanager_raw(name)`:
//! a secret's current value (`AWSCURRENT`) read with Secrets Manager's
//! `GetSecretValue` (AWS JSON 1.1 protocol), signed with AWS Signature
//! Version 4 by the official `aws-sigv4` crate and sent with kiln's HTTP
//! client rather than with the whole AWS SDK. Credentials, region and endpoint come from where the AWS SDKs look:
//! `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/`AWS_SESSION_TOKEN`, else
//! the shared credentials file (`AWS_SHARED_CREDENTIALS_FILE` or
//! `~/.aws/credentials`, profile `AWS_PROFILE` or `default`); `AWS_REGION`,
//! `AWS_DEFAULT_REGION` or the shared config file; and
//! `AWS_ENDPOINT_URL_SECRETS_MANAGER`, `AWS_ENDPOINT_URL`, or the region's
//! public endpoint. The value is picked out of the secret as Packer's
//! plugin SDK does (`template/interpolate/aws/secretsmanager`).

use std::time::SystemTime;

use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings};
use hcl::eval::FuncArgs;
use hcl::Value;

use super::{to_str, Entry};

pub(super) const FUNCS: &[Entry] = &[
    ("aws_secretsmanager", 2, false, aws_secretsmanager),
    ("aws_secretsmanager_raw", 1, false, aws_secretsmanager_raw),
];

fn aws_secretsmanager(a: FuncArgs) -> Result<Value, String> {
    let name = to_str(&a[0])?;
    // A null key is the documented way to ask for a single-value secret.
    let key = match &a[1] {
        Value::Null => String::new(),
        v => to_str(v)?,
    };
    let cfg = Config::from_env(&getenv)?;
    let secret = get_secret_string(&cfg, &name)?;
    pick(&name, &secret, &key).map(Value::from)
}

fn aws_secretsmanager_raw(a: FuncArgs) -> Result<Value, String> {
    let name = to_str(&a[0])?;
    let cfg = Config::from_env(&getenv)?;
    get_secret_string(&cfg, &name).map(Value::from)
}

#[cfg(test)]
thread_local! {
    /// The environment the tests give this thread: when set, it is all
    /// the AWS code sees (the real environment is shared by every test).
    static TEST_ENV: std::cell::RefCell<Option<std::collections::HashMap<String, String>>> =
        const { std::cell::RefCell::new(None) };
}

/// A non-empty environment variable.
fn getenv(name: &str) -> Option<String> {
    #[cfg(test)]
    if let Some(v) = TEST_ENV.with(|e| e.borrow().as_ref().map(|m| m.get(name).cloned())) {
        return v.filter(|v| !v.is_empty());
    }
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Where and as whom to call Secrets Manager.
#[derive(Clone, Debug, PartialEq)]
struct Config {
    access_key: String,
    secret_key: String,
    session_token: Option<String>,
    region: String,
    endpoint: String,
}

impl Config {
    /// Resolves the configuration from `env` (and the files it names).
    fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<Config, String> {
        let home = env("HOME").unwrap_or_default();
        let profile = env("AWS_PROFILE")
            .or_else(|| env("AWS_DEFAULT_PROFILE"))
            .unwrap_or_else(|| "default".into());
        let creds_file = env("AWS_SHARED_CREDENTIALS_FILE")
            .unwrap_or_else(|| format!("{home}/.aws/credentials"));
        let config_file = env("AWS_CONFIG_FILE").unwrap_or_else(|| format!("{home}/.aws/config"));
        // The credentials file names profiles `[NAME]`; the config file
        // `[profile NAME]`, except `[default]`.
        let creds_section = ini_section(&creds_file, &profile);
        let config_section = ini_section(
            &config_file,
            &if profile == "default" {
                profile.clone()
            } else {
                format!("profile {profile}")
            },
        );
        let from_files = |k: &str| {
            creds_section
                .iter()
                .chain(config_section.iter())
                .find(|(name, _)| name == k)
                .map(|(_, v)| v.clone())
                .filter(|v| !v.is_empty())
        };

        let env_key = env("AWS_ACCESS_KEY_ID").or_else(|| env("AWS_ACCESS_KEY"));
        let env_secret = env("AWS_SECRET_ACCESS_KEY").or_else(|| env("AWS_SECRET_KEY"));
        let (access_key, secret_key, session_token) = match (env_key, env_secret) {
            (Some(k), Some(s)) => (k, s, env("AWS_SESSION_TOKEN")),
            _ => match (
                from_files("aws_access_key_id"),
                from_files("aws_secret_access_key"),
            ) {
                (Some(k), Some(s)) => (k, s, from_files("aws_session_token")),
                _ => {
                    return Err(format!(
                        "no AWS credentials: set `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`, or `aws_access_key_id` and `aws_secret_access_key` in profile `{profile}` of `{creds_file}`"
                    ))
                }
            },
        };
        let region = env("AWS_REGION")
            .or_else(|| env("AWS_DEFAULT_REGION"))
            .or_else(|| {
                config_section
                    .iter()
                    .find(|(k, _)| k == "region")
                    .map(|(_, v)| v.clone())
                    .filter(|v| !v.is_empty())
            })
            .ok_or_else(|| {
                format!(
                    "no AWS region: set `AWS_REGION`, or `region` in profile `{profile}` of `{config_file}`"
                )
            })?;
        let endpoint = env("AWS_ENDPOINT_URL_SECRETS_MANAGER")
            .or_else(|| env("AWS_ENDPOINT_URL"))
            .unwrap_or_else(|| {
                let suffix = if region.starts_with("cn-") {
                    "amazonaws.com.cn"
                } else {
                    "amazonaws.com"
                };
                format!("https://secretsmanager.{region}.{suffix}")
            });
        Ok(Config {
            access_key,
            secret_key,
            session_token,
            region,
            endpoint,
        })
    }
}

/// The `key = value` pairs of section `[name]` of an INI file such as
/// `~/.aws/credentials`; nothing when the file or section is missing.
fn ini_section(path: &str, name: &str) -> Vec<(String, String)> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            inside = section.split_whitespace().collect::<Vec<_>>().join(" ") == name;
            continue;
        }
        if inside {
            if let Some((k, v)) = line.split_once('=') {
                out.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
        }
    }
    out
}

/// A request to sign: method, URL, headers (`host` included) and body.
struct Request<'a> {
    method: &'a str,
    url: &'a str,
    headers: &'a [(String, String)],
    body: &'a [u8],
}

/// Signs `req` with AWS Signature Version 4 (the `aws-sigv4` crate) as
/// `cfg`'s credentials, at `time`, for `service` in `cfg`'s region. Every
/// header given is signed; the answer is the headers to send with them:
/// `x-amz-date`, `x-amz-security-token` (temporary credentials) and
/// `authorization`.
fn sign(
    req: &Request<'_>,
    cfg: &Config,
    service: &str,
    time: SystemTime,
) -> Result<Vec<(String, String)>, String> {
    let identity = aws_credential_types::Credentials::new(
        cfg.access_key.clone(),
        cfg.secret_key.clone(),
        cfg.session_token.clone(),
        None,
        "kiln",
    )
    .into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(&cfg.region)
        .name(service)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| format!("cannot sign the request to `{}`: {e}", req.url))?
        .into();
    let output = SignableRequest::new(
        req.method,
        req.url,
        req.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(req.body),
    )
    .and_then(|r| aws_sigv4::http_request::sign(r, &params))
    .map_err(|e| format!("cannot sign the request to `{}`: {e}", req.url))?;
    let (instructions, _signature) = output.into_parts();
    Ok(instructions
        .headers()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect())
}

/// The `SecretString` of secret `name`'s current version.
fn get_secret_string(cfg: &Config, name: &str) -> Result<String, String> {
    let url = reqwest::Url::parse(&cfg.endpoint)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
        .ok_or_else(|| {
            format!(
                "invalid AWS Secrets Manager endpoint `{}`: expected a URL such as `https://secretsmanager.us-east-1.amazonaws.com`",
                cfg.endpoint
            )
        })?;
    let host = match url.port() {
        Some(p) => format!("{}:{p}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_string(),
    };
    let body = serde_json::json!({"SecretId": name, "VersionStage": "AWSCURRENT"})
        .to_string()
        .into_bytes();
    let mut headers = vec![
        ("Host".to_string(), host),
        (
            "Content-Type".to_string(),
            "application/x-amz-json-1.1".to_string(),
        ),
        (
            "X-Amz-Target".to_string(),
            "secretsmanager.GetSecretValue".to_string(),
        ),
    ];
    let signed = sign(
        &Request {
            method: "POST",
            url: url.as_str(),
            headers: &headers,
            body: &body,
        },
        cfg,
        "secretsmanager",
        SystemTime::now(),
    )?;
    headers.extend(signed);
    let answer = super::more::http_send("POST", url.as_str(), headers, body).map_err(|e| {
        format!(
            "cannot reach AWS Secrets Manager at `{}` (set `AWS_REGION`, or `AWS_ENDPOINT_URL_SECRETS_MANAGER` for another endpoint): {e}",
            cfg.endpoint
        )
    })?;
    if answer.status == 200 {
        let j: serde_json::Value = serde_json::from_str(&answer.body)
            .map_err(|e| format!("AWS Secrets Manager's answer is not JSON: {e}"))?;
        return match j.get("SecretString") {
            Some(serde_json::Value::String(s)) => Ok(s.clone()),
            _ if j.get("SecretBinary").is_some() => Err(format!(
                "secret `{name}` holds binary data (`SecretBinary`), not a string"
            )),
            _ => Err(format!("secret `{name}` has no string value")),
        };
    }
    let (code, message) = error_of(&answer);
    let detail = match (code.is_empty(), message.is_empty()) {
        (true, true) => format!("HTTP {}", answer.status),
        (false, true) => format!("`{code}`"),
        (true, false) => message.clone(),
        (false, false) => format!("`{code}`: {message}"),
    };
    Err(match code.as_str() {
        "ResourceNotFoundException" => format!(
            "secret `{name}` not found in AWS Secrets Manager (region `{}`): {detail}",
            cfg.region
        ),
        "UnrecognizedClientException"
        | "InvalidClientTokenId"
        | "InvalidSignatureException"
        | "SignatureDoesNotMatch"
        | "IncompleteSignature"
        | "MissingAuthenticationToken"
        | "ExpiredTokenException"
        | "ExpiredToken"
        | "InvalidToken"
        | "AuthFailure" => format!(
            "AWS rejected the credentials of access key `{}`: {detail}",
            cfg.access_key
        ),
        "AccessDeniedException" | "AccessDenied" => format!(
            "access key `{}` may not read secret `{name}`: {detail}",
            cfg.access_key
        ),
        _ => format!(
            "AWS Secrets Manager answered {} for secret `{name}`: {detail}",
            answer.status
        ),
    })
}

/// The error code and message of a failed AWS call, from a JSON body
/// (`__type`, `message`), an XML one (`<Code>`, `<Message>`) or the
/// `x-amzn-errortype` header.
fn error_of(answer: &super::more::HttpAnswer) -> (String, String) {
    let (mut code, message);
    if let Ok(j) = serde_json::from_str::<serde_json::Value>(&answer.body) {
        let field = |names: &[&str]| {
            names
                .iter()
                .find_map(|n| j.get(*n).and_then(|v| v.as_str()))
                .unwrap_or_default()
                .to_string()
        };
        code = field(&["__type", "code", "Code"]);
        message = field(&["message", "Message"]);
    } else {
        let tag = |t: &str| {
            let open = format!("<{t}>");
            answer
                .body
                .split_once(&open)
                .and_then(|(_, rest)| rest.split_once(&format!("</{t}>")))
                .map(|(v, _)| v.trim().to_string())
                .unwrap_or_default()
        };
        code = tag("Code");
        message = tag("Message");
    }
    if code.is_empty() {
        if let Some((_, v)) = answer.headers.iter().find(|(k, _)| k == "x-amzn-errortype") {
            code = v.split(':').next().unwrap_or_default().to_string();
        }
    }
    // `aws.protocoltests#Name` and `com.amazonaws…#Name` carry a prefix.
    let code = code.rsplit('#').next().unwrap_or_default().to_string();
    (code, message)
}

/// The value `aws_secretsmanager` returns for `key` (empty: the only
/// one) of a secret: plain text as it is, a JSON object's string or
/// number value.
fn pick(name: &str, secret: &str, key: &str) -> Result<String, String> {
    let parsed: Option<serde_json::Value> = serde_json::from_str(secret).ok();
    let Some(parsed) = parsed else {
        if key.is_empty() {
            return Ok(secret.to_string());
        }
        return Err(format!(
            "secret `{name}` is not a JSON object, so it has no key `{key}`; read it whole with `aws_secretsmanager_raw(\"{name}\")` or a null key"
        ));
    };
    let serde_json::Value::Object(map) = parsed else {
        return Err(format!(
            "secret `{name}` is JSON but not an object of keys; read it whole with `aws_secretsmanager_raw(\"{name}\")`"
        ));
    };
    let (k, v) = if key.is_empty() {
        match map.len() {
            1 => map.iter().next().map(|(k, v)| (k.clone(), v)).unwrap(),
            0 => return Err(format!("secret `{name}` is an empty JSON object")),
            _ => {
                return Err(format!(
                    "secret `{name}` has several keys ({}) and no key was given",
                    map.keys()
                        .map(|k| format!("`{k}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            }
        }
    } else {
        match map.get(key) {
            Some(v) => (key.to_string(), v),
            None => {
                return Err(format!(
                    "secret `{name}` has no key `{key}`; its keys are {}",
                    map.keys()
                        .map(|k| format!("`{k}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            }
        }
    };
    match v {
        serde_json::Value::String(s) => Ok(s.clone()),
        // Packer formats numbers as whole numbers (`FormatFloat(v, 'f', 0)`).
        serde_json::Value::Number(n) => Ok(format!("{:.0}", n.as_f64().unwrap_or(0.0))),
        other => Err(format!(
            "key `{k}` of secret `{name}` holds {}, not a string or number; use `jsondecode(aws_secretsmanager_raw(\"{name}\"))`",
            match other {
                serde_json::Value::Null => "null",
                serde_json::Value::Bool(_) => "a bool",
                serde_json::Value::Array(_) => "a list",
                _ => "an object",
            }
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::path::PathBuf;
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};

    use super::*;

    /// The AWS Signature Version 4 test suite's credentials.
    const AKID: &str = "AKIDEXAMPLE";
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

    fn headers(h: &[(&str, &str)]) -> Vec<(String, String)> {
        h.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// Vectors of the AWS Signature Version 4 test suite (`get-vanilla`,
    /// `post-vanilla`, `get-vanilla-query-order-key-case`,
    /// `get-header-value-trim`), and two Secrets Manager requests signed
    /// by botocore 1.44.5's `SigV4Auth` (the last with a session token),
    /// through [`sign`] and so the `aws-sigv4` crate. shared/reference/
    /// cloud-signing has no AWS vector, so these stand in.
    #[test]
    fn sigv4_matches_the_reference_vectors() {
        // method, URL, headers, body, region, service, signature
        type Case<'a> = (
            &'a str,
            &'a str,
            Vec<(String, String)>,
            &'a [u8],
            &'a str,
            &'a str,
            &'a str,
        );
        let cases: &[Case] = &[
            (
                "GET",
                "https://example.amazonaws.com/",
                headers(&[("Host", "example.amazonaws.com")]),
                b"",
                "us-east-1",
                "service",
                "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
            ),
            (
                "POST",
                "https://example.amazonaws.com/",
                headers(&[("Host", "example.amazonaws.com")]),
                b"",
                "us-east-1",
                "service",
                "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
            ),
            (
                "GET",
                "https://example.amazonaws.com/?Param2=value2&Param1=value1",
                headers(&[("Host", "example.amazonaws.com")]),
                b"",
                "us-east-1",
                "service",
                "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
            ),
            (
                "GET",
                "https://example.amazonaws.com/",
                headers(&[
                    ("Host", "example.amazonaws.com"),
                    ("My-Header1", " value1"),
                    ("My-Header2", " \"a   b   c\""),
                ]),
                b"",
                "us-east-1",
                "service",
                "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736",
            ),
            (
                "POST",
                "https://secretsmanager.eu-west-1.amazonaws.com/",
                headers(&[
                    ("Host", "secretsmanager.eu-west-1.amazonaws.com"),
                    ("Content-Type", "application/x-amz-json-1.1"),
                    ("X-Amz-Target", "secretsmanager.GetSecretValue"),
                ]),
                br#"{"SecretId":"prod/db","VersionStage":"AWSCURRENT"}"#,
                "eu-west-1",
                "secretsmanager",
                "1a0dcf7eaab65db0a5889ebbc24be9ed40679f62af26cff513d5e6e93d60c2d1",
            ),
            (
                "POST",
                "http://127.0.0.1:4566/",
                headers(&[
                    ("Host", "127.0.0.1:4566"),
                    ("Content-Type", "application/x-amz-json-1.1"),
                    ("X-Amz-Target", "secretsmanager.GetSecretValue"),
                ]),
                br#"{"SecretId":"a b","VersionStage":"AWSCURRENT"}"#,
                "us-east-1",
                "secretsmanager",
                "f510307d7b81d6f22ced2ebe67d74821a008be7bad66f7827f2346ba7e506ec8",
            ),
        ];
        // The suite's time, 2015-08-30T12:36:00Z.
        let time = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_440_938_160);
        for (i, (method, url, headers, body, region, service, want)) in cases.iter().enumerate() {
            // The last case signs with temporary credentials.
            let session_token = (i == cases.len() - 1).then(|| "SESSIONTOKEN".to_string());
            let cfg = Config {
                access_key: AKID.into(),
                secret_key: SECRET.into(),
                session_token: session_token.clone(),
                region: region.to_string(),
                endpoint: url.to_string(),
            };
            let added = sign(
                &Request {
                    method,
                    url,
                    headers: headers.as_slice(),
                    body,
                },
                &cfg,
                service,
                time,
            )
            .unwrap();
            let header = |name: &str| {
                added
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.as_str())
            };
            assert_eq!(header("x-amz-date"), Some("20150830T123600Z"), "{url}");
            assert_eq!(
                header("x-amz-security-token"),
                session_token.as_deref(),
                "{url}"
            );
            let auth = header("authorization").unwrap_or_default();
            assert!(
                auth.ends_with(&format!("Signature={want}")),
                "{url}: {auth}"
            );
            if i == 0 {
                // `get-vanilla` in full, as the suite spells it out.
                assert_eq!(
                    auth,
                    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
                );
            }
        }
    }

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k: &str| m.get(k).cloned().filter(|v| !v.is_empty())
    }

    #[test]
    fn configuration_comes_from_the_environment_then_the_shared_files() {
        let d = tempfile::tempdir().unwrap();
        let home = d.path().display().to_string();
        std::fs::create_dir_all(d.path().join(".aws")).unwrap();
        std::fs::write(
            d.path().join(".aws/credentials"),
            "# comment\n[default]\naws_access_key_id = AKIDFILE\naws_secret_access_key = file-secret\n\n[ci]\naws_access_key_id=AKIDCI\naws_secret_access_key=ci-secret\naws_session_token = ci-token\n",
        )
        .unwrap();
        std::fs::write(
            d.path().join(".aws/config"),
            "[default]\nregion = eu-central-1\n[profile ci]\nregion = ap-south-1\n",
        )
        .unwrap();

        // The environment wins.
        let c = Config::from_env(&env_of(&[
            ("HOME", &home),
            ("AWS_ACCESS_KEY_ID", "AKIDENV"),
            ("AWS_SECRET_ACCESS_KEY", "env-secret"),
            ("AWS_SESSION_TOKEN", "env-token"),
            ("AWS_REGION", "us-west-2"),
            ("AWS_DEFAULT_REGION", "us-east-2"),
        ]))
        .unwrap();
        assert_eq!(
            c,
            Config {
                access_key: "AKIDENV".into(),
                secret_key: "env-secret".into(),
                session_token: Some("env-token".into()),
                region: "us-west-2".into(),
                endpoint: "https://secretsmanager.us-west-2.amazonaws.com".into(),
            }
        );
        // Then the default profile of the shared files.
        let c = Config::from_env(&env_of(&[("HOME", &home)])).unwrap();
        assert_eq!(
            (
                c.access_key.as_str(),
                c.secret_key.as_str(),
                c.session_token,
                c.region.as_str()
            ),
            ("AKIDFILE", "file-secret", None, "eu-central-1")
        );
        // `AWS_PROFILE` picks another; `AWS_DEFAULT_REGION` beats the file.
        let c = Config::from_env(&env_of(&[
            ("HOME", &home),
            ("AWS_PROFILE", "ci"),
            ("AWS_DEFAULT_REGION", "cn-north-1"),
        ]))
        .unwrap();
        assert_eq!(
            (
                c.access_key.as_str(),
                c.session_token.as_deref(),
                c.region.as_str(),
                c.endpoint.as_str()
            ),
            (
                "AKIDCI",
                Some("ci-token"),
                "cn-north-1",
                "https://secretsmanager.cn-north-1.amazonaws.com.cn"
            )
        );
        let c = Config::from_env(&env_of(&[("HOME", &home), ("AWS_PROFILE", "ci")])).unwrap();
        assert_eq!(c.region, "ap-south-1");
        // Files elsewhere, and endpoint overrides (the service's first).
        let c = Config::from_env(&env_of(&[
            ("HOME", "/nonexistent"),
            (
                "AWS_SHARED_CREDENTIALS_FILE",
                &format!("{home}/.aws/credentials"),
            ),
            ("AWS_CONFIG_FILE", &format!("{home}/.aws/config")),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:1"),
        ]))
        .unwrap();
        assert_eq!(
            (c.access_key.as_str(), c.endpoint.as_str()),
            ("AKIDFILE", "http://127.0.0.1:1")
        );
        let c = Config::from_env(&env_of(&[
            ("HOME", &home),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:1"),
            ("AWS_ENDPOINT_URL_SECRETS_MANAGER", "http://127.0.0.1:2"),
        ]))
        .unwrap();
        assert_eq!(c.endpoint, "http://127.0.0.1:2");

        // What is missing is named.
        let e = Config::from_env(&env_of(&[("HOME", "/nonexistent"), ("AWS_REGION", "x")]))
            .unwrap_err();
        assert_eq!(
            e,
            "no AWS credentials: set `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`, or `aws_access_key_id` and `aws_secret_access_key` in profile `default` of `/nonexistent/.aws/credentials`"
        );
        let e = Config::from_env(&env_of(&[
            ("HOME", "/nonexistent"),
            ("AWS_ACCESS_KEY_ID", "a"),
            ("AWS_SECRET_ACCESS_KEY", "b"),
            ("AWS_PROFILE", "dev"),
        ]))
        .unwrap_err();
        assert_eq!(
            e,
            "no AWS region: set `AWS_REGION`, or `region` in profile `dev` of `/nonexistent/.aws/config`"
        );
    }

    /// Packer's plugin SDK cases (`secretsmanager_test.go`), and the key
    /// errors.
    #[test]
    fn values_are_picked_as_packer_picks_them() {
        let n = "test/secret";
        for (secret, key, want) in [
            (r#"{"key": "test"}"#, "", "test"),
            (r#"{"key": "test"}"#, "key", "test"),
            (
                r#"{"first_key": "first_val", "second_key": "second_val"}"#,
                "second_key",
                "second_val",
            ),
            ("ThisIsThePassword", "", "ThisIsThePassword"),
            (r#"{"port": 5432}"#, "", "5432"),
            (
                r#"{"test": "kitchen", "shell": "powershell"}"#,
                "shell",
                "powershell",
            ),
        ] {
            assert_eq!(pick(n, secret, key).as_deref(), Ok(want), "{secret} {key}");
        }
        for (secret, key, want) in [
            (
                r#"{"first_key": "first_val", "second_key": "second_val"}"#,
                "",
                "secret `test/secret` has several keys (`first_key`, `second_key`) and no key was given",
            ),
            (
                r#"{"key": "test"}"#,
                "nonexistent",
                "secret `test/secret` has no key `nonexistent`; its keys are `key`",
            ),
            (
                r#"{"foo":{"bar":"baz"}}"#,
                "",
                "key `foo` of secret `test/secret` holds an object, not a string or number",
            ),
            (
                "ThisIsThePassword",
                "user",
                "secret `test/secret` is not a JSON object, so it has no key `user`",
            ),
            ("[1, 2]", "", "secret `test/secret` is JSON but not an object"),
            ("{}", "", "secret `test/secret` is an empty JSON object"),
        ] {
            let e = pick(n, secret, key).unwrap_err();
            assert!(e.starts_with(want), "{secret} {key}: {e}");
        }
    }

    /// Runs `expr` with `env` as the whole environment the AWS code sees.
    fn eval_with_env(expr: &str, env: &[(&str, &str)]) -> Result<String, String> {
        TEST_ENV.with(|e| {
            *e.borrow_mut() = Some(
                env.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            )
        });
        let r = super::super::tests::eval(expr);
        TEST_ENV.with(|e| *e.borrow_mut() = None);
        r
    }

    #[test]
    fn an_unreachable_endpoint_is_named() {
        // Nothing listens on a port just released.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let endpoint = format!("http://127.0.0.1:{port}");
        let env = [
            ("HOME", "/nonexistent"),
            ("AWS_ACCESS_KEY_ID", "AKIDKILN"),
            ("AWS_SECRET_ACCESS_KEY", "kiln"),
            ("AWS_REGION", "eu-west-1"),
            ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ];
        for expr in [
            r#"aws_secretsmanager("a", "b")"#,
            r#"aws_secretsmanager_raw("a")"#,
        ] {
            let e = eval_with_env(expr, &env).unwrap_err();
            assert!(
                e.contains(&format!("cannot reach AWS Secrets Manager at `{endpoint}`")),
                "{e}"
            );
            assert!(e.to_lowercase().contains("connect"), "{e}");
        }
        let e = eval_with_env(
            r#"aws_secretsmanager("a", null)"#,
            &[("HOME", "/nonexistent"), ("AWS_REGION", "eu-west-1")],
        )
        .unwrap_err();
        assert!(e.contains("no AWS credentials"), "{e}");
        let e = eval_with_env(
            r#"aws_secretsmanager_raw("a")"#,
            &[
                ("HOME", "/nonexistent"),
                ("AWS_ACCESS_KEY_ID", "a"),
                ("AWS_SECRET_ACCESS_KEY", "b"),
                ("AWS_REGION", "eu-west-1"),
                ("AWS_ENDPOINT_URL", "secretsmanager.local"),
            ],
        )
        .unwrap_err();
        assert!(
            e.contains("invalid AWS Secrets Manager endpoint `secretsmanager.local`"),
            "{e}"
        );
    }

    /// The venv scripts/install-deps.sh puts moto in.
    fn moto_venv() -> PathBuf {
        let v = std::env::var_os("KILN_MOTO_VENV")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(std::env::var("HOME").expect("HOME")).join(".cache/kiln/moto-venv")
            });
        assert!(
            v.join("bin/moto_server").exists() && v.join("bin/python").exists(),
            "moto is not installed in `{}`: run scripts/install-deps.sh",
            v.display()
        );
        v
    }

    /// A moto server on a loopback port; killed on drop.
    struct Moto {
        port: u16,
        child: Child,
    }

    impl Drop for Moto {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    impl Moto {
        fn start() -> Moto {
            let v = moto_venv();
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let child = Command::new(v.join("bin/moto_server"))
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start moto_server");
            let m = Moto { port, child };
            let deadline = Instant::now() + Duration::from_secs(60);
            while std::net::TcpStream::connect(("127.0.0.1", m.port)).is_err() {
                assert!(Instant::now() < deadline, "moto_server did not start");
                std::thread::sleep(Duration::from_millis(50));
            }
            m
        }

        fn endpoint(&self) -> String {
            format!("http://127.0.0.1:{}", self.port)
        }

        /// Creates the test secrets, an IAM user and a role allowed to read
        /// them, then turns moto's request authentication on (every later
        /// request must be signed by a key moto knows). Prints the keys.
        fn setup(&self) -> serde_json::Value {
            let script = r#"
import boto3, json, sys, urllib.request
ep = sys.argv[1]
kw = dict(endpoint_url=ep, region_name="eu-west-1",
          aws_access_key_id="AKIDSETUP", aws_secret_access_key="setup")
iam = boto3.client("iam", **kw)
allow = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "secretsmanager:*", "Resource": "*"}]})
iam.create_user(UserName="kiln")
key = iam.create_access_key(UserName="kiln")["AccessKey"]
iam.put_user_policy(UserName="kiln", PolicyName="secrets", PolicyDocument=allow)
trust = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]})
role = iam.create_role(RoleName="kiln-role", AssumeRolePolicyDocument=trust)["Role"]
iam.put_role_policy(RoleName="kiln-role", PolicyName="secrets", PolicyDocument=allow)
temp = boto3.client("sts", **kw).assume_role(RoleArn=role["Arn"], RoleSessionName="kiln")["Credentials"]
sm = boto3.client("secretsmanager", **kw)
sm.create_secret(Name="multikey/secret", SecretString=json.dumps({"test": "kitchen", "shell": "powershell"}))
sm.create_secret(Name="my_secret", SecretString="ThisIsThePassword")
sm.create_secret(Name="single", SecretString=json.dumps({"only": "one"}))
sm.create_secret(Name="port", SecretString='{"port": 5432}')
sm.create_secret(Name="production/database", SecretString='{"user":"admin","nested":{"a":1}}')
sm.create_secret(Name="binary", SecretBinary=b"\x00\x01")
urllib.request.urlopen(urllib.request.Request(ep + "/moto-api/reset-auth", data=b"0", method="POST",
                                             headers={"Content-Type": "text/plain"})).read()
print(json.dumps({"id": key["AccessKeyId"], "secret": key["SecretAccessKey"],
                  "temp_id": temp["AccessKeyId"], "temp_secret": temp["SecretAccessKey"],
                  "temp_token": temp["SessionToken"]}))
"#;
            let out = Command::new(moto_venv().join("bin/python"))
                .args(["-c", script, &self.endpoint()])
                .output()
                .expect("run python");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            serde_json::from_slice(&out.stdout).unwrap()
        }
    }

    /// `GetSecretValue` against moto's server with its request
    /// authentication on: moto recomputes every signature (with botocore)
    /// and rejects a request whose signature or key it does not know.
    #[test]
    fn reads_secrets_from_moto_with_signed_requests() {
        let moto = Moto::start();
        let keys = moto.setup();
        let endpoint = moto.endpoint();
        let id = keys["id"].as_str().unwrap();
        let secret = keys["secret"].as_str().unwrap();
        let env = |id: &str, secret: &str| {
            vec![
                ("HOME".to_string(), "/nonexistent".to_string()),
                ("AWS_ACCESS_KEY_ID".to_string(), id.to_string()),
                ("AWS_SECRET_ACCESS_KEY".to_string(), secret.to_string()),
                ("AWS_REGION".to_string(), "eu-west-1".to_string()),
                (
                    "AWS_ENDPOINT_URL_SECRETS_MANAGER".to_string(),
                    endpoint.clone(),
                ),
            ]
        };
        let run = |expr: &str, env: &[(String, String)]| {
            let pairs: Vec<(&str, &str)> =
                env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            eval_with_env(expr, &pairs)
        };
        let good = env(id, secret);
        for (expr, want) in [
            (
                r#"aws_secretsmanager("multikey/secret", "shell")"#,
                r#""powershell""#,
            ),
            (
                r#"aws_secretsmanager("multikey/secret", "test")"#,
                r#""kitchen""#,
            ),
            (
                r#"aws_secretsmanager("my_secret", null)"#,
                r#""ThisIsThePassword""#,
            ),
            (
                r#"aws_secretsmanager("my_secret", "")"#,
                r#""ThisIsThePassword""#,
            ),
            (r#"aws_secretsmanager("single", null)"#, r#""one""#),
            (r#"aws_secretsmanager("port", "")"#, r#""5432""#),
            (
                r#"jsondecode(aws_secretsmanager_raw("production/database")).user"#,
                r#""admin""#,
            ),
            (
                r#"aws_secretsmanager_raw("multikey/secret")"#,
                r#""{\"test\": \"kitchen\", \"shell\": \"powershell\"}""#,
            ),
        ] {
            assert_eq!(run(expr, &good).as_deref(), Ok(want), "{expr}");
        }
        for (expr, want) in [
            (
                r#"aws_secretsmanager("multikey/secret", null)"#,
                "secret `multikey/secret` has several keys (`test`, `shell`) and no key was given",
            ),
            (
                r#"aws_secretsmanager("multikey/secret", "nope")"#,
                "secret `multikey/secret` has no key `nope`",
            ),
            (
                r#"aws_secretsmanager("my_secret", "password")"#,
                "secret `my_secret` is not a JSON object, so it has no key `password`",
            ),
            (
                r#"aws_secretsmanager("production/database", "nested")"#,
                "key `nested` of secret `production/database` holds an object",
            ),
            (
                r#"aws_secretsmanager_raw("binary")"#,
                "secret `binary` holds binary data",
            ),
            (
                r#"aws_secretsmanager("missing", null)"#,
                "secret `missing` not found in AWS Secrets Manager (region `eu-west-1`): `ResourceNotFoundException`",
            ),
        ] {
            let e = run(expr, &good).unwrap_err();
            assert!(e.contains(want), "{expr}: {e}");
        }

        // A wrong secret key: moto's signature differs from ours.
        let e = run(r#"aws_secretsmanager_raw("my_secret")"#, &env(id, "wrong")).unwrap_err();
        assert!(
            e.contains(&format!(
                "AWS rejected the credentials of access key `{id}`: `SignatureDoesNotMatch`: The request signature we calculated does not match"
            )),
            "{e}"
        );
        // A key moto never issued.
        let e = run(
            r#"aws_secretsmanager_raw("my_secret")"#,
            &env("AKIDUNKNOWN000000000", secret),
        )
        .unwrap_err();
        assert!(
            e.contains("AWS rejected the credentials of access key `AKIDUNKNOWN000000000`: `InvalidClientTokenId`"),
            "{e}"
        );

        // Temporary credentials: the session token is sent and signed.
        let mut temp = env(
            keys["temp_id"].as_str().unwrap(),
            keys["temp_secret"].as_str().unwrap(),
        );
        temp.push((
            "AWS_SESSION_TOKEN".to_string(),
            keys["temp_token"].as_str().unwrap().to_string(),
        ));
        assert_eq!(
            run(r#"aws_secretsmanager("multikey/secret", "test")"#, &temp).as_deref(),
            Ok(r#""kitchen""#)
        );
        let mut bad_token = temp.clone();
        bad_token.last_mut().unwrap().1 = "not-the-token".into();
        assert!(run(r#"aws_secretsmanager_raw("my_secret")"#, &bad_token).is_err());

        // Credentials and region from the shared files, the endpoint from
        // `AWS_ENDPOINT_URL`.
        let d = tempfile::tempdir().unwrap();
        let creds = d.path().join("credentials");
        let config = d.path().join("config");
        std::fs::write(
            &creds,
            format!("[kiln]\naws_access_key_id = {id}\naws_secret_access_key = {secret}\n"),
        )
        .unwrap();
        std::fs::write(&config, "[profile kiln]\nregion = eu-west-1\n").unwrap();
        let files = vec![
            ("HOME".to_string(), "/nonexistent".to_string()),
            (
                "AWS_SHARED_CREDENTIALS_FILE".to_string(),
                creds.display().to_string(),
            ),
            ("AWS_CONFIG_FILE".to_string(), config.display().to_string()),
            ("AWS_PROFILE".to_string(), "kiln".to_string()),
            ("AWS_ENDPOINT_URL".to_string(), endpoint.clone()),
        ];
        assert_eq!(
            run(r#"aws_secretsmanager("single", "only")"#, &files).as_deref(),
            Ok(r#""one""#)
        );
    }
}
