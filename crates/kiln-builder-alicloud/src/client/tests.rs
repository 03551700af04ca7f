//! The client's unit tests: the signature against the vector Alibaba's
//! own Python SDK computed, the encodings, the endpoint choice, and calls
//! against a scripted loopback server (a typed reply, error replies and
//! their classes and wording, throttling retried, a refused connection).

use super::*;
use serde::Deserialize;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// `aliyun_rpc_v1` of /work/shared/reference/cloud-signing/sigvectors.json,
/// computed by aliyun-python-sdk-core.
const VECTOR_STRING_TO_SIGN: &str = "GET&%2F&AccessKeyId%3DAK%26Action%3DDescribeInstances%26Format%3DJSON%26InstanceName%3Dpacker%2520build%252A%26RegionId%3Dcn-hangzhou%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3Dn-1%26SignatureVersion%3D1.0%26Timestamp%3D2026-01-01T00%253A00%253A00Z%26Version%3D2014-05-26";
const VECTOR_SIGNATURE: &str = "+Wt9dQTbjHNL72lrU2MHW2NLrFk=";

fn key(token: Option<&str>) -> AccessKey {
    AccessKey {
        id: "AK".into(),
        secret: Secret::new("SECRET".into()),
        security_token: token.map(|t| Secret::new(t.to_string())),
    }
}

#[test]
fn the_signature_matches_alibabas_sdk() {
    let params: BTreeMap<String, String> = [
        ("Action", "DescribeInstances"),
        ("RegionId", "cn-hangzhou"),
        ("Version", "2014-05-26"),
        ("Format", "JSON"),
        ("AccessKeyId", "AK"),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureVersion", "1.0"),
        ("SignatureNonce", "n-1"),
        ("Timestamp", "2026-01-01T00:00:00Z"),
        ("InstanceName", "packer build*"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let sts = string_to_sign("GET", &canonical_query(&params));
    assert_eq!(sts, VECTOR_STRING_TO_SIGN);
    assert_eq!(signature("SECRET", &sts), VECTOR_SIGNATURE);

    // The client adds the same common parameters and signs the same.
    let c = Client::new(
        Product::Ecs,
        "cn-hangzhou",
        key(None),
        None,
        RetryPolicy::default(),
        Timeouts::from_env(),
    )
    .unwrap();
    let url = c.signed_url(
        "DescribeInstances",
        &Params::new().set("InstanceName", "packer build*"),
        "n-1",
        "2026-01-01T00:00:00Z",
    );
    assert!(
        url.starts_with(
            "https://ecs-cn-hangzhou.aliyuncs.com/?AccessKeyId=AK&Action=DescribeInstances&"
        ),
        "{url}"
    );
    assert!(url.contains("&InstanceName=packer%20build%2A&"), "{url}");
    assert!(
        url.ends_with(&format!("&Signature={}", percent_encode(VECTOR_SIGNATURE))),
        "{url}"
    );
    assert!(!url.contains("SECRET"), "{url}");
}

#[test]
fn the_security_token_is_signed_and_params_override_the_region() {
    let c = Client::new(
        Product::Ecs,
        "cn-hangzhou",
        key(Some("tok/en")),
        Some("http://127.0.0.1:9"),
        RetryPolicy::default(),
        Timeouts::from_env(),
    )
    .unwrap();
    let url = c.signed_url(
        "CopyImage",
        &Params::new().set("RegionId", "cn-beijing"),
        "n",
        "t",
    );
    assert!(url.starts_with("http://127.0.0.1:9/?"), "{url}");
    assert!(url.contains("&SecurityToken=tok%2Fen&"), "{url}");
    assert!(url.contains("&RegionId=cn-beijing&"), "{url}");
    assert!(!url.contains("cn-hangzhou"), "{url}");
}

#[test]
fn encoding_follows_alibabas_rules() {
    assert_eq!(percent_encode("aZ09-_.~"), "aZ09-_.~");
    assert_eq!(
        percent_encode("a b*+/:=&ä"),
        "a%20b%2A%2B%2F%3A%3D%26%C3%A4"
    );
    let p = Params::new()
        .list("InstanceId", &["i-1", "i-2"])
        .tags(
            "Tag",
            &BTreeMap::from([("b".to_string(), "2".to_string()), ("a".into(), "1".into())]),
        )
        .objects(
            "DataDisk",
            &[vec![
                ("Size", "20".to_string()),
                ("Category", "cloud_essd".into()),
            ]],
        )
        .opt("ZoneId", None::<String>)
        .opt("InstanceName", Some("x"));
    let query = canonical_query(&p.0);
    assert_eq!(
        query,
        "DataDisk.1.Category=cloud_essd&DataDisk.1.Size=20&InstanceId.1=i-1&InstanceId.2=i-2&InstanceName=x&Tag.1.Key=a&Tag.1.Value=1&Tag.2.Key=b&Tag.2.Value=2"
    );
}

#[test]
fn endpoints_are_chosen_as_the_sdk_chooses_them() {
    assert_eq!(
        host(Product::Ecs, "cn-hangzhou"),
        "ecs-cn-hangzhou.aliyuncs.com"
    );
    assert_eq!(
        host(Product::Ecs, "us-east-1"),
        "ecs-cn-hangzhou.aliyuncs.com"
    );
    assert_eq!(host(Product::Ecs, "cn-wuhan"), "ecs.aliyuncs.com");
    assert_eq!(
        host(Product::Ecs, "eu-central-1"),
        "ecs.eu-central-1.aliyuncs.com"
    );
    assert_eq!(
        host(Product::Ecs, "cn-zhangjiakou"),
        "ecs.cn-zhangjiakou.aliyuncs.com"
    );
    assert_eq!(host(Product::Vpc, "cn-hangzhou"), "vpc.aliyuncs.com");
    assert_eq!(
        host(Product::Vpc, "eu-central-1"),
        "vpc.eu-central-1.aliyuncs.com"
    );
    assert_eq!(
        endpoint(Product::Ecs, "cn-hangzhou", Some("http://localhost:8080/")),
        "http://localhost:8080"
    );
    assert_eq!(
        endpoint(Product::Ecs, "ap-south-1", None),
        "https://ecs.ap-south-1.aliyuncs.com"
    );
}

#[test]
fn a_region_copy_client_follows_the_region_unless_the_endpoint_is_custom() {
    let c = Client::new(
        Product::Ecs,
        "cn-hangzhou",
        key(None),
        None,
        RetryPolicy::default(),
        Timeouts::from_env(),
    )
    .unwrap();
    let b = c.for_region("eu-central-1");
    assert_eq!(b.region(), "eu-central-1");
    assert_eq!(b.api().endpoint(), "https://ecs.eu-central-1.aliyuncs.com");
    let custom = Client::new(
        Product::Ecs,
        "cn-hangzhou",
        key(None),
        Some("http://127.0.0.1:9"),
        RetryPolicy::default(),
        Timeouts::from_env(),
    )
    .unwrap();
    assert_eq!(
        custom.for_region("eu-central-1").api().endpoint(),
        "http://127.0.0.1:9"
    );
}

/// A loopback server answering its requests with `replies` in turn (the
/// last one again when they run out), recording each request line.
fn scripted(replies: Vec<(u16, &'static str)>) -> (String, Arc<Mutex<Vec<String>>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for (n, s) in l.incoming().enumerate() {
            let Ok(mut s) = s else { return };
            let mut buf = vec![0u8; 16384];
            let mut req = Vec::new();
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(k) => req.extend_from_slice(&buf[..k]),
                }
            }
            let head = String::from_utf8_lossy(&req).into_owned();
            log.lock()
                .unwrap()
                .push(head.lines().next().unwrap_or("").to_string());
            let (status, body) = replies[n.min(replies.len() - 1)];
            let _ = write!(
                s,
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (url, seen)
}

fn quick() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
        ..RetryPolicy::default()
    }
}

fn client_at(url: &str, token: Option<&str>) -> Client {
    Client::new(
        Product::Ecs,
        "cn-hangzhou",
        key(token),
        Some(url),
        quick(),
        Timeouts::from_env(),
    )
    .unwrap()
}

/// The query parameters of a request line, decoded.
fn query(line: &str) -> BTreeMap<String, String> {
    let target = line.split(' ').nth(1).unwrap();
    let q = target.split_once('?').unwrap().1;
    q.split('&')
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

#[derive(Deserialize, Debug, PartialEq)]
#[serde(rename_all = "PascalCase")]
struct Regions {
    request_id: String,
    regions: RegionList,
}

#[derive(Deserialize, Debug, PartialEq)]
#[serde(rename_all = "PascalCase")]
struct RegionList {
    region: Vec<Region>,
}

#[derive(Deserialize, Debug, PartialEq)]
#[serde(rename_all = "PascalCase")]
struct Region {
    region_id: String,
    region_endpoint: String,
}

#[tokio::test]
async fn a_successful_call_is_signed_and_its_reply_typed() {
    let (url, seen) = scripted(vec![(
        200,
        r#"{"RequestId":"r-1","Regions":{"Region":[{"RegionId":"cn-hangzhou","RegionEndpoint":"ecs.cn-hangzhou.aliyuncs.com","LocalName":"x"}]}}"#,
    )]);
    let c = client_at(&url, Some("sts-token"));
    let r: Regions = c
        .call(
            "DescribeRegions",
            &Params::new().set("AcceptLanguage", "en-US"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(r.request_id, "r-1");
    assert_eq!(r.regions.region[0].region_id, "cn-hangzhou");
    assert_eq!(
        r.regions.region[0].region_endpoint,
        "ecs.cn-hangzhou.aliyuncs.com"
    );

    let line = seen.lock().unwrap()[0].clone();
    assert!(line.starts_with("GET /?"), "{line}");
    let mut q = query(&line);
    for (k, v) in [
        ("Action", "DescribeRegions"),
        ("Format", "JSON"),
        ("Version", "2014-05-26"),
        ("AccessKeyId", "AK"),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureVersion", "1.0"),
        ("RegionId", "cn-hangzhou"),
        ("SecurityToken", "sts-token"),
        ("AcceptLanguage", "en-US"),
    ] {
        assert_eq!(q.get(k).map(String::as_str), Some(v), "{k} in {line}");
    }
    let ts = &q["Timestamp"];
    assert!(
        chrono::NaiveDateTime::parse_from_str(ts, "%Y-%m-%dT%H:%M:%SZ").is_ok(),
        "{ts}"
    );
    assert!(uuid::Uuid::parse_str(&q["SignatureNonce"]).is_ok());
    // The server can verify the signature from what it received.
    let sig = q.remove("Signature").unwrap();
    assert_eq!(
        sig,
        signature("SECRET", &string_to_sign("GET", &canonical_query(&q)))
    );
}

#[tokio::test]
async fn an_error_reply_is_classified_and_says_what_where_and_what_to_check() {
    let (url, seen) = scripted(vec![(
        404,
        r#"{"RequestId":"r-404","HostId":"ecs.aliyuncs.com","Code":"InvalidImageId.NotFound","Message":"The specified ImageId does not exist.","Recommend":"https://api.aliyun.com/troubleshoot?q=InvalidImageId.NotFound"}"#,
    )]);
    let c = client_at(&url, Some("sts-token"));
    let e = c
        .call::<serde_json::Value>("DescribeImages", &Params::new().set("ImageId", "m-1"), None)
        .await
        .unwrap_err();
    assert_eq!(e.fault.class, ErrorClass::Permanent);
    assert_eq!(e.code(), Some("InvalidImageId.NotFound"));
    assert_eq!(e.attempts, 1);
    assert_eq!(
        seen.lock().unwrap().len(),
        1,
        "a client error is not retried"
    );
    let text = e.to_string();
    for want in [
        "InvalidImageId.NotFound: The specified ImageId does not exist.",
        "request ID `r-404`",
        &format!("hint: ECS `DescribeImages` at `{url}` (region `cn-hangzhou`) failed: see https://api.aliyun.com/troubleshoot?q=InvalidImageId.NotFound"),
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
    assert!(
        !text.contains("SECRET") && !text.contains("sts-token"),
        "{text}"
    );

    let (url, _) = scripted(vec![(
        400,
        r#"{"RequestId":"r-2","Code":"SignatureDoesNotMatch","Message":"Specified signature is not matched with our calculation."}"#,
    )]);
    let e = client_at(&url, None)
        .call::<serde_json::Value>("DescribeRegions", &Params::new(), None)
        .await
        .unwrap_err();
    assert_eq!(e.fault.class, ErrorClass::Permanent);
    assert!(
        e.to_string()
            .contains("check `access_key` and `secret_key`"),
        "{e}"
    );
}

#[tokio::test]
async fn throttling_and_server_errors_are_retried_then_succeed() {
    let (url, seen) = scripted(vec![
        (
            400,
            r#"{"RequestId":"r-1","Code":"Throttling.User","Message":"Request was denied due to user flow control."}"#,
        ),
        (
            503,
            r#"{"RequestId":"r-2","Code":"ServiceUnavailable","Message":"The request has failed due to a temporary failure of the server."}"#,
        ),
        (
            502,
            "<html><head><title>502 Bad Gateway</title></head></html>",
        ),
        (200, r#"{"RequestId":"r-4","Regions":{"Region":[]}}"#),
    ]);
    let r: Regions = client_at(&url, None)
        .call("DescribeRegions", &Params::new(), None)
        .await
        .unwrap();
    assert_eq!(r.request_id, "r-4");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 4, "{seen:?}");
    let nonces: std::collections::BTreeSet<String> = seen
        .iter()
        .map(|l| query(l)["SignatureNonce"].clone())
        .collect();
    assert_eq!(nonces.len(), 4, "each attempt is signed anew");
}

#[tokio::test]
async fn persistent_throttling_gives_up_with_the_services_words() {
    let (url, seen) = scripted(vec![(
        400,
        r#"{"RequestId":"r-1","Code":"Throttling","Message":"Request was denied due to flow control."}"#,
    )]);
    let e = client_at(&url, None)
        .call::<serde_json::Value>("DescribeInstances", &Params::new(), None)
        .await
        .unwrap_err();
    assert_eq!(e.fault.class, ErrorClass::Throttled);
    assert_eq!(e.attempts, 4);
    assert_eq!(seen.lock().unwrap().len(), 4);
    let text = e.to_string();
    assert!(
        text.starts_with("Throttling: Request was denied due to flow control."),
        "{text}"
    );
    assert!(text.contains("gave up after 4 attempts"), "{text}");
}

#[tokio::test]
async fn a_refused_connection_is_retried_and_named() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}");
    let e = client_at(&url, Some("sts-token"))
        .call::<serde_json::Value>("DescribeRegions", &Params::new(), None)
        .await
        .unwrap_err();
    assert_eq!(e.fault.failure, kiln_cloud::Failure::Refused);
    assert_eq!(e.attempts, 4);
    let text = e.to_string();
    assert!(
        text.starts_with(&format!(
            "cannot connect to ECS at `{url}` for `DescribeRegions`: connection refused"
        )),
        "{text}"
    );
    assert!(text.contains("(`custom_endpoint_ecs`)"), "{text}");
    assert!(
        !text.contains("sts-token") && !text.contains("Signature"),
        "{text}"
    );
}

fn access(credentials: crate::config::Credentials, file: Option<&std::path::Path>) -> AccessConfig {
    AccessConfig {
        region: "cn-hangzhou".into(),
        credentials,
        profile: None,
        shared_credentials_file: file.map(std::path::Path::to_path_buf),
        ram_role_name: None,
        skip_region_validation: false,
        skip_image_validation: false,
        custom_endpoint_ecs: None,
        metadata_endpoint: crate::config::METADATA_ENDPOINT.into(),
    }
}

#[test]
fn profiles_of_the_cli_give_access_keys() {
    use crate::config::Credentials::{EcsRamRole, Profile};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.json");
    std::fs::write(
        &path,
        r#"{"current": "ak", "profiles": [
            {"name": "ak", "mode": "AK", "access_key_id": "LTAI-1", "access_key_secret": "s-1", "region_id": "cn-beijing"},
            {"name": "sts", "mode": "StsToken", "access_key_id": "STS.1", "access_key_secret": "s-2", "sts_token": "t-2"},
            {"name": "arn", "mode": "RamRoleArn", "access_key_id": "LTAI-3", "access_key_secret": "s-3"},
            {"name": "empty", "mode": "AK"}
        ]}"#,
    )
    .unwrap();
    let k = access_key(&access(Profile("ak".into()), Some(&path))).unwrap();
    assert_eq!(
        (k.id.as_str(), k.secret.expose().as_str()),
        ("LTAI-1", "s-1")
    );
    assert_eq!(k.security_token, None);
    let k = access_key(&access(Profile("sts".into()), Some(&path))).unwrap();
    assert_eq!(k.security_token.unwrap().expose(), "t-2");
    for (name, want) in [
        ("arn", "its mode `RamRoleArn` is not supported by kiln yet"),
        ("empty", "it has no `access_key_id` and `access_key_secret`"),
        ("nobody", "there is no profile of that name"),
    ] {
        let e = access_key(&access(Profile(name.into()), Some(&path)))
            .unwrap_err()
            .to_string();
        assert!(e.contains(want), "{name}: {e}");
        assert!(
            e.contains(&format!("profile `{name}` of `{}`", path.display())),
            "{e}"
        );
        assert!(!e.contains("s-3") && !e.contains("s-1"), "{e}");
    }
    let missing = dir.path().join("nope.json");
    let e = access_key(&access(Profile("ak".into()), Some(&missing)))
        .unwrap_err()
        .to_string();
    assert!(e.contains("cannot read it"), "{e}");
    let e = access_key(&access(EcsRamRole("r".into()), None))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("`ram_role_name` credentials are not supported"),
        "{e}"
    );
}

#[tokio::test]
async fn a_lost_delete_reply_then_not_found_is_done_and_a_lost_create_is_adopted() {
    let (url, seen) = scripted(vec![
        (
            503,
            r#"{"RequestId":"r-1","Code":"ServiceUnavailable","Message":"busy"}"#,
        ),
        (
            404,
            r#"{"RequestId":"r-2","Code":"InvalidInstanceId.NotFound","Message":"The specified InstanceId does not exist."}"#,
        ),
    ]);
    let c = client_at(&url, None);
    let params = Params::new().set("InstanceId", "i-1");
    let r = c
        .delete::<serde_json::Value>(
            "DeleteInstance",
            &params,
            &["InvalidInstanceId.NotFound"],
            None,
        )
        .await
        .unwrap();
    assert_eq!(r, None);
    assert_eq!(seen.lock().unwrap().len(), 2);
    // On the first attempt, not found is the caller's error.
    let e = c
        .delete::<serde_json::Value>(
            "DeleteInstance",
            &params,
            &["InvalidInstanceId.NotFound"],
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("InvalidInstanceId.NotFound"));

    let (url, seen) = scripted(vec![
        (
            500,
            r#"{"RequestId":"r-1","Code":"InternalError","Message":"oops"}"#,
        ),
        (
            400,
            r#"{"RequestId":"r-2","Code":"InvalidVpcName.Duplicate","Message":"exists"}"#,
        ),
    ]);
    let c = client_at(&url, None);
    let found = c
        .create(
            "CreateVpc",
            &Params::new()
                .set("VpcName", "kiln")
                .set("ClientToken", "t-1"),
            &["InvalidVpcName.Duplicate"],
            false,
            || async { Ok(Some(serde_json::json!({"VpcId": "vpc-1"}))) },
        )
        .await
        .unwrap();
    assert_eq!(found["VpcId"], "vpc-1");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert!(
        seen.iter().all(|l| query(l)["ClientToken"] == "t-1"),
        "{seen:?}"
    );
}

#[tokio::test]
async fn ram_role_credentials_come_from_the_metadata_service() {
    use crate::config::Credentials::EcsRamRole;
    let fake = kiln_test::alicloud_fake::AlicloudFake::start();
    let mut a = access(EcsRamRole("AliyunECSImageImportDefaultRole".into()), None);
    a.metadata_endpoint = fake.endpoint();
    let key = super::resolve_access_key(&a).await.unwrap();
    assert_eq!(key.id, fake.access_key());
    assert_eq!(key.secret.expose(), fake.secret_key());
    assert!(key
        .security_token
        .as_ref()
        .is_some_and(|t| t.expose().starts_with("fake-sts-token-")));
    // The key signs calls the fake accepts.
    a.custom_endpoint_ecs = Some(fake.endpoint());
    let client = Client::ecs_resolved(&a).await.unwrap();
    let reply: serde_json::Value = client
        .call("DescribeRegions", &Params::new(), None)
        .await
        .unwrap();
    assert!(reply["Regions"]["Region"]
        .as_array()
        .is_some_and(|r| !r.is_empty()));

    // A role the instance does not have, and no metadata service at all.
    a.credentials = EcsRamRole("not-attached".into());
    let e = super::resolve_access_key(&a).await.unwrap_err().to_string();
    assert!(
        e.contains("RAM role `not-attached`") && e.contains("HTTP 404"),
        "{e}"
    );
    assert!(
        e.contains("hint: `ram_role_name` works on an ECS instance"),
        "{e}"
    );
    a.metadata_endpoint = "http://127.0.0.1:9".into();
    let e = super::resolve_access_key(&a).await.unwrap_err().to_string();
    assert!(e.contains("no answer"), "{e}");
}

#[tokio::test]
async fn a_create_image_refused_for_its_own_name_after_a_lost_reply_adopts_the_image() {
    use kiln_cloud::steps::image::{ImageApi, NewImage};
    // The first attempt's reply is lost (503); the retry is refused for
    // the name the first attempt took; the image of that name with the
    // build's run tags is the one made.
    let (url, seen) = scripted(vec![
        (
            503,
            r#"{"RequestId":"r-1","Code":"ServiceUnavailable","Message":"busy"}"#,
        ),
        (
            400,
            r#"{"RequestId":"r-2","Code":"InvalidImageName.Duplicated","Message":"The specified Image name has already been used."}"#,
        ),
        (
            200,
            r#"{"RequestId":"r-3","TotalCount":1,"Images":{"Image":[{"ImageId":"m-made","ImageName":"img","Status":"Creating"}]}}"#,
        ),
    ]);
    let ecs = crate::cloud::Ecs {
        client: client_at(&url, None),
        instance_type: "ecs.n1.tiny".into(),
        force_stop: false,
    };
    let image = NewImage {
        name: "img".to_string(),
        request: Params::new()
            .set("InstanceId", "i-1")
            .set("ImageName", "img")
            .tags(
                "Tag",
                &[("kiln:run".to_string(), "r1".to_string())]
                    .into_iter()
                    .collect(),
            ),
    };
    let id = ImageApi::create(&ecs, &image, &tokio_util::sync::CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(id, "m-made");
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert!(seen[2].contains("Action=DescribeImages"), "{seen:?}");
    // The look is by name and run tags.
    assert!(
        seen[2].contains("Tag.1.Key=kiln%3Arun") && seen[2].contains("Tag.1.Value=r1"),
        "{seen:?}"
    );
}
