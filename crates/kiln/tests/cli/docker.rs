//! The docker builder and post-processors through the `kiln` binary, on the
//! real engine: a build from a busybox base made with `docker import`,
//! provisioned with `shell-local`, `shell` and `file`, committed with
//! `changes`, then docker-tag → docker-save → manifest; `export_path`;
//! a failing provisioner and Ctrl-C leave no container and no image; and
//! `validate` reports every config error at once. Each test removes the
//! containers (by label) and images it made, even when it fails.

use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::support::*;

/// The docker tests of this file run one at a time: one counts images.
static SERIAL: Mutex<()> = Mutex::new(());

pub(crate) fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn docker(args: &[&str]) -> Output {
    Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run docker")
}

pub(crate) fn docker_ok(args: &[&str]) -> String {
    let o = docker(args);
    assert!(
        o.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

fn lines(o: Output) -> Vec<String> {
    let mut v: Vec<String> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    v.sort();
    v
}

/// The busybox base image, made once by the one builder every docker test
/// shares (`kiln_docker_test`): two different images under one tag would
/// make the tests depend on which ran first.
fn base_image() -> &'static str {
    kiln_docker_test::base_image()
}

/// Removes the labelled containers and the named images when dropped.
pub(crate) struct Guard {
    pub(crate) label: String,
    pub(crate) images: Vec<String>,
}

impl Guard {
    pub(crate) fn new(test: &str) -> Guard {
        Guard {
            label: format!("kiln-cli-test={test}-{}", std::process::id()),
            images: Vec::new(),
        }
    }
    pub(crate) fn containers(&self) -> Vec<String> {
        lines(docker(&[
            "ps",
            "-aq",
            "--filter",
            &format!("label={}", self.label),
        ]))
    }
    /// `run_command` that puts the label on the build container.
    pub(crate) fn run_command(&self) -> String {
        serde_json::json!([
            "-d",
            "-i",
            "-t",
            "-l",
            self.label,
            "--entrypoint=/bin/sh",
            "--",
            "{{.Image}}"
        ])
        .to_string()
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        for c in self.containers() {
            let _ = docker(&["rm", "-f", "-v", &c]);
        }
        for i in &self.images {
            let _ = docker(&["rmi", "-f", i]);
        }
    }
}

/// Replaces container and image ids (64 hex digits) with `[ID]`.
fn hide_ids(text: &str) -> String {
    let mut out = String::new();
    let mut run = String::new();
    for c in text.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_hexdigit() && !c.is_ascii_uppercase() {
            run.push(c);
            continue;
        }
        if run.len() == 64 {
            out.push_str("[ID]");
        } else {
            out.push_str(&run);
        }
        run.clear();
        out.push(c);
    }
    out.pop();
    out
}

/// Replaces the builder's shared temporary directory (`…/kiln-docker-XXXX`)
/// with `[TEMP]`.
fn hide_temp_dirs(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("kiln-docker-") {
        let start = rest[..at].rfind([' ', '\n']).map_or(0, |i| i + 1);
        let end = at + rest[at..].find([':', ' ', '\n']).unwrap_or(rest.len() - at);
        out.push_str(&rest[..start]);
        out.push_str("[TEMP]");
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

#[test]
fn build_with_shell_file_and_shell_local_then_tag_save_manifest() {
    let _serial = serial();
    let mut g = Guard::new("chain");
    let repo = format!("kiln-cli-test/chain-{}", std::process::id());
    g.images.push(format!("{repo}:1.0"));
    let d = dir();
    d.write("files/a.txt", "hello from a file\n");
    d.write("files/sub/b.txt", "b\n");
    let t = d.write(
        "docker.json",
        &format!(
            r#"{{
  "variables": {{"repo": "{repo}"}},
  "builders": [{{
    "type": "docker",
    "image": "{base}",
    "commit": true,
    "run_command": {run},
    "changes": ["ENV BUILT_BY=kiln", "LABEL stage=test", "WORKDIR /opt/app",
                "EXPOSE 8080", "USER root", "CMD [\"cat\", \"/opt/app/a.txt\"]"]
  }}],
  "provisioners": [
    {{"type": "shell-local", "inline": ["echo local side"]}},
    {{"type": "shell", "inline": ["mkdir -p /opt/app"]}},
    {{"type": "file", "source": "files/", "destination": "/opt/app"}},
    {{"type": "shell", "inline": ["echo remote: $(cat /opt/app/a.txt)", "echo built > /etc/built"]}}
  ],
  "post-processors": [[
    {{"type": "docker-tag", "repository": "{{{{user `repo`}}}}", "tags": ["1.0"]}},
    {{"type": "docker-save", "path": "image.tar"}},
    {{"type": "manifest", "output": "manifest.json", "strip_time": true}}
  ]]
}}"#,
            base = base_image(),
            run = g.run_command()
        ),
    );
    let r = kiln(&d, &["build", "-color=false", t.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let shown = Run {
        stdout: hide_temp_dirs(&hide_ids(&r.stdout))
            .replace(&repo, "[REPO]")
            .replace(&g.label, "[LABEL]")
            .lines()
            .map(
                |l| match l.split_once("Using docker communicator to connect: ") {
                    Some((head, _)) => {
                        format!("{head}Using docker communicator to connect: [IP]\n")
                    }
                    None => format!("{l}\n"),
                },
            )
            .collect(),
        stderr: hide_ids(&r.stderr),
        code: r.code,
    };
    insta::assert_snapshot!(shown.snapshot(d.path()));
    assert!(g.containers().is_empty(), "the build container is left");

    // The image has the changes and the files.
    let cfg: serde_json::Value = serde_json::from_str(&docker_ok(&[
        "image",
        "inspect",
        "-f",
        "{{json .Config}}",
        &format!("{repo}:1.0"),
    ]))
    .unwrap();
    assert!(cfg["Env"].to_string().contains("BUILT_BY=kiln"), "{cfg}");
    assert_eq!(cfg["Labels"]["stage"], "test");
    assert_eq!(cfg["WorkingDir"], "/opt/app");
    assert_eq!(cfg["Cmd"], serde_json::json!(["cat", "/opt/app/a.txt"]));
    assert!(cfg["ExposedPorts"].get("8080/tcp").is_some(), "{cfg}");
    let out = docker_ok(&[
        "run",
        "--rm",
        "--entrypoint",
        "/bin/cat",
        &format!("{repo}:1.0"),
        "/opt/app/a.txt",
        "/opt/app/sub/b.txt",
        "/etc/built",
    ]);
    assert_eq!(out, "hello from a file\nb\nbuilt");

    // docker-save wrote a loadable image tar; the manifest records the tag.
    let listing = Command::new("tar")
        .args(["-tf", "image.tar"])
        .current_dir(d.path())
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&listing.stdout).contains("manifest.json"));
    let m: serde_json::Value = serde_json::from_str(&d.read("manifest.json")).unwrap();
    assert_eq!(m["builds"][0]["builder_type"], "docker");
    assert_eq!(m["builds"][0]["artifact_id"], format!("{repo}:1.0"));
}

#[test]
fn export_path_writes_a_tar_of_the_container() {
    let _serial = serial();
    let g = Guard::new("export");
    let d = dir();
    let t = d.write(
        "export.json",
        &format!(
            r#"{{"builders": [{{"type": "docker", "image": "{}", "export_path": "out/fs.tar",
                 "run_command": {}}}],
                "provisioners": [{{"type": "shell", "inline": ["echo exported > /marker"]}}]}}"#,
            base_image(),
            g.run_command()
        ),
    );
    let r = kiln(&d, &["build", "-color=false", t.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("--> docker: Exported Docker file: out/fs.tar"),
        "{}",
        r.stdout
    );
    let listing = Command::new("tar")
        .args(["-tf", "out/fs.tar"])
        .current_dir(d.path())
        .output()
        .unwrap();
    let names = String::from_utf8_lossy(&listing.stdout);
    assert!(names.lines().any(|l| l == "marker"), "{names}");
    assert!(g.containers().is_empty());
}

fn images() -> Vec<String> {
    lines(docker(&["images", "-aq", "--no-trunc"]))
}

#[test]
fn failing_provisioner_leaves_no_container_and_no_image() {
    let _serial = serial();
    let g = Guard::new("fail");
    base_image();
    let before = images();
    let d = dir();
    let t = d.write(
        "fail.json",
        &format!(
            r#"{{"builders": [{{"type": "docker", "image": "{}", "commit": true,
                 "run_command": {}}}],
                "provisioners": [{{"type": "shell", "inline": ["echo about to fail", "exit 9"]}}]}}"#,
            base_image(),
            g.run_command()
        ),
    );
    let r = kiln(&d, &["build", "-color=false", t.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("about to fail"), "{}", r.stdout);
    assert!(r.stdout.contains("Killing the container"), "{}", r.stdout);
    assert!(
        g.containers().is_empty(),
        "a failed build left its container"
    );
    assert_eq!(images(), before, "a failed build left an image");
}

#[test]
fn ctrl_c_leaves_no_container() {
    let _serial = serial();
    let g = Guard::new("sigint");
    let d = dir();
    let t = d.write(
        "slow.json",
        &format!(
            r#"{{"builders": [{{"type": "docker", "image": "{}", "commit": true,
                 "run_command": {}}}],
                "provisioners": [{{"type": "shell", "inline": ["sleep 600"]}}]}}"#,
            base_image(),
            g.run_command()
        ),
    );
    let mut c = d.kiln(&["build", "-color=false", t.to_str().unwrap()]);
    c.stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = c.spawn().unwrap();
    let started = Instant::now();
    loop {
        let running = g.containers();
        if let Some(id) = running.first() {
            let top = docker(&["top", id]);
            if String::from_utf8_lossy(&top.stdout).contains("sleep 600") {
                break;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the provisioner never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let ok = Command::new("kill")
        .args(["-2", &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("Cleanly cancelled builds after being interrupted."),
        "{stdout}"
    );
    assert!(g.containers().is_empty(), "Ctrl-C left the build container");
}

#[test]
fn run_command_options_take_effect_as_with_packer() {
    // packer 1.6.6 passes `run_command` to `docker run`; kiln maps each
    // option onto the engine API. Both build the same template; the build
    // container is inspected from a shell-local provisioner while it runs.
    kiln_test::require_packer();
    let _serial = serial();
    let g = Guard::new("run-options");
    let (kd, pd) = (dir(), dir());
    let template = |d: &TestDir| {
        d.write("host/marker", "marker-ok\n");
        let host = d.path().join("host");
        let run = serde_json::json!([
            "-d",
            "-i",
            "-t",
            "-l",
            g.label,
            "--memory",
            "256m",
            "--cpus",
            "1",
            "--env",
            "A=b",
            "-v",
            format!("{}:/hostdir:ro", host.display()),
            "--shm-size=32m",
            "--pids-limit",
            "64",
            "--cgroupns",
            "private",
            "--security-opt",
            "no-new-privileges",
            "--tmpfs",
            "/scratch",
            "--cap-add",
            "NET_ADMIN",
            "--user",
            "0:0",
            "--network",
            "bridge",
            "--entrypoint=/bin/sh",
            "--",
            "{{.Image}}"
        ]);
        let inspect = format!(
            "docker inspect $(docker ps -q --filter label={}) | grep -E '\"(Memory|NanoCpus|ShmSize|CgroupnsMode|PidsLimit|SecurityOpt)\":' | tr -d ' '",
            g.label
        );
        let t = serde_json::json!({
            "builders": [{
                "type": "docker", "image": base_image(), "discard": true, "pull": false,
                "ssh_pty": true, "run_command": run
            }],
            "provisioners": [
                {"type": "shell", "inline": [
                    "echo A=$A", "cat /hostdir/marker", "id -u",
                    "mount | grep -c ' /scratch type tmpfs'",
                    "df -k /dev/shm | tail -1 | awk '{print $2}'"
                ]},
                {"type": "shell-local", "inline": [inspect]}
            ]
        });
        d.write("t.json", &t.to_string());
    };
    template(&kd);
    template(&pd);
    let args = ["build", "-color=false", "t.json"];
    let k = kiln(&kd, &args);
    let p = run(pd.packer(&args).unwrap());
    assert_eq!(k.code, 0, "kiln:\n{}{}", k.stdout, k.stderr);
    assert_eq!(p.code, 0, "packer:\n{}{}", p.stdout, p.stderr);
    let said = |out: &str| -> Vec<String> {
        out.lines()
            .filter(|l| {
                l.starts_with("    docker: ")
                    && !l.contains("Run command")
                    && !l.contains("Container ID")
            })
            .map(String::from)
            .collect()
    };
    assert_eq!(said(&k.stdout), said(&p.stdout));
    for want in [
        "    docker: A=b",
        "    docker: marker-ok",
        "    docker: 0",
        "    docker: 1",
        "    docker: 32768",
        "    docker: \"CgroupnsMode\":\"private\",",
        "    docker: \"ShmSize\":33554432,",
        "    docker: \"Memory\":268435456,",
        "    docker: \"NanoCpus\":1000000000,",
        "    docker: \"PidsLimit\":64,",
    ] {
        assert!(
            said(&k.stdout).iter().any(|l| l == want),
            "missing {want:?} in\n{}",
            k.stdout
        );
    }
    assert!(g.containers().is_empty(), "the build container is left");
}

/// `communicator: none`: no connection, the container committed as its
/// command left it, with the same steps and lines as packer 1.6.6.
#[test]
fn communicator_none_commits_without_connecting_as_packer_does() {
    kiln_test::require_packer();
    let _serial = serial();
    let mut g = Guard::new("communicator-none");
    let (kd, pd) = (dir(), dir());
    for (d, tag) in [(&kd, "kiln"), (&pd, "packer")] {
        let t = serde_json::json!({
            "builders": [{
                "type": "docker", "image": base_image(), "pull": false, "commit": true,
                "communicator": "none", "run_command": serde_json::from_str::<serde_json::Value>(&g.run_command()).unwrap(),
                "changes": [format!("LABEL made-by={tag}")]
            }],
            "post-processors": [{"type": "docker-tag", "repository": format!("kiln-cli-test/none-{tag}"), "tags": ["t"]}]
        });
        d.write("t.json", &t.to_string());
        g.images.push(format!("kiln-cli-test/none-{tag}:t"));
    }
    let args = ["build", "-color=false", "t.json"];
    let k = kiln(&kd, &args);
    let p = run(pd.packer(&args).unwrap());
    assert_eq!(k.code, 0, "kiln:\n{}{}", k.stdout, k.stderr);
    assert_eq!(p.code, 0, "packer:\n{}{}", p.stdout, p.stderr);
    let steps = |out: &str| -> Vec<String> {
        hide_temp_dirs(&hide_ids(out))
            .lines()
            .filter(|l| l.starts_with("==> docker"))
            .map(|l| {
                l.replace("kiln-cli-test/none-kiln", "REPO")
                    .replace("kiln-cli-test/none-packer", "REPO")
            })
            .collect()
    };
    assert_eq!(
        steps(&k.stdout),
        steps(&p.stdout),
        "kiln:\n{}\npacker:\n{}",
        k.stdout,
        p.stdout
    );
    assert!(
        !k.stdout.contains("Using docker communicator"),
        "{}",
        k.stdout
    );
    for tag in ["kiln", "packer"] {
        let label = docker_ok(&[
            "inspect",
            "-f",
            "{{index .Config.Labels \"made-by\"}}",
            &format!("kiln-cli-test/none-{tag}:t"),
        ]);
        assert_eq!(label, tag);
    }
    assert!(g.containers().is_empty(), "the build container is left");
}

#[test]
fn validate_reports_every_docker_error() {
    let d = dir();
    let t = d.write(
        "bad.json",
        r#"{"builders": [{"type": "docker", "commit": true, "discard": true,
             "changes": ["FROM scratch"], "ecr_login": true,
             "run_command": ["--memroy=1g", "{{.Image}}"], "login_password": "hunter2"}],
            "post-processors": [{"type": "docker-tag", "tags": ["a:b"]},
                                {"type": "docker-save"}]}"#,
    );
    let r = kiln(&d, &["validate", t.to_str().unwrap()]);
    assert_eq!(r.code, 1);
    assert!(!r.stderr.contains("hunter2") && !r.stdout.contains("hunter2"));
    insta::assert_snapshot!(r.snapshot(d.path()));
}

/// Runs `openssl` with `args` in `dir`, panicking with its stderr.
fn openssl(dir: &std::path::Path, args: &[&str]) {
    let o = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs");
    assert!(
        o.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, in
/// the file names `DOCKER_CERT_PATH` uses (`ca.pem`, `cert.pem`,
/// `key.pem`), plus `server-cert.pem`/`server-key.pem`.
fn make_certificates(dir: &std::path::Path, cn: &str) {
    std::fs::create_dir_all(dir).unwrap();
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN={cn}"),
            "-keyout",
            "ca-key.pem",
            "-out",
            "ca.pem",
        ],
    );
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    std::fs::write(dir.join("client.ext"), "extendedKeyUsage=clientAuth\n").unwrap();
    for (who, ext) in [("server", "server.ext"), ("client", "client.ext")] {
        openssl(
            dir,
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-subj",
                &format!("/CN={who}"),
                "-keyout",
                &format!("{who}-key.pem"),
                "-out",
                &format!("{who}.csr"),
            ],
        );
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &format!("{who}.csr"),
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca-key.pem",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                ext,
                "-out",
                &format!("{who}-cert.pem"),
            ],
        );
    }
    std::fs::copy(dir.join("client-cert.pem"), dir.join("cert.pem")).unwrap();
    std::fs::copy(dir.join("client-key.pem"), dir.join("key.pem")).unwrap();
}

/// A TLS front for the engine's unix socket, as `dockerd --tlsverify`
/// would serve: it demands a client certificate signed by the CA. Written
/// in Python because socat's OpenSSL server breaks on TLS session
/// resumption ("session id context uninitialized"), which Go's TLS (the
/// real dockerd) and Python handle.
struct TlsEngine {
    child: std::process::Child,
    port: u16,
}

const TLS_RELAY: &str = r#"
import asyncio, socket, ssl, sys
port, certs = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=certs + "/ca.pem")
ctx.load_cert_chain(certs + "/server-cert.pem", certs + "/server-key.pem")
ctx.verify_mode = ssl.CERT_REQUIRED
async def pipe(r, w):
    try:
        while data := await r.read(65536):
            w.write(data)
            await w.drain()
    except Exception:
        pass
    finally:
        try:
            w.close()
        except Exception:
            pass
async def handle(cr, cw):
    try:
        er, ew = await asyncio.open_unix_connection("/var/run/docker.sock")
    except Exception:
        cw.close()
        return
    await asyncio.gather(pipe(cr, ew), pipe(er, cw))
async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", port, ssl=ctx)
    print("ready", flush=True)
    await server.serve_forever()
asyncio.run(main())
"#;

impl TlsEngine {
    fn start(certs: &std::path::Path) -> TlsEngine {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("python3")
            .args(["-c", TLS_RELAY, &port.to_string()])
            .arg(certs)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "the TLS relay did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
        TlsEngine { child, port }
    }
}

impl Drop for TlsEngine {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn tls_docker_host_with_client_certificates() {
    let _serial = serial();
    let g = Guard::new("tls");
    let d = dir();
    let good = d.path().join("certs");
    make_certificates(&good, "kiln-test-ca");
    let engine = TlsEngine::start(&good);
    let t = d.write(
        "tls.json",
        &format!(
            r#"{{"builders": [{{"type": "docker", "image": "{base}", "discard": true, "run_command": {run}}}],
  "provisioners": [{{"type": "shell", "inline": ["echo over tls"]}}]}}"#,
            base = base_image(),
            run = g.run_command()
        ),
    );
    let host = format!("tcp://127.0.0.1:{}", engine.port);
    let build = |cert_dir: &std::path::Path| {
        let mut c = d.kiln(&["build", "-color=false", t.to_str().unwrap()]);
        c.env("DOCKER_HOST", &host)
            .env("DOCKER_TLS_VERIFY", "1")
            .env("DOCKER_CERT_PATH", cert_dir);
        run(c)
    };
    let r = build(&good);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("    docker: over tls"), "{}", r.stdout);
    assert!(g.containers().is_empty(), "the build container is left");

    // Certificates from another CA: the engine is not trusted, and the
    // error says where kiln was connecting.
    let other = d.path().join("other");
    make_certificates(&other, "some-other-ca");
    let r = build(&other);
    let all = format!("{}{}", r.stdout, r.stderr);
    assert_eq!(r.code, 1, "{all}");
    assert!(
        all.contains(&format!("cannot reach the docker engine at `{host}`"))
            && all.contains("UnknownIssuer"),
        "{all}"
    );

    // No certificates at all: the missing file is named.
    let r = build(&d.path().join("nowhere"));
    let all = format!("{}{}", r.stdout, r.stderr);
    assert_eq!(r.code, 1);
    assert!(
        all.contains("ca.pem` does not exist") && all.contains(&format!("`{host}`")),
        "{all}"
    );
}

/// packer 1.6.6 `validate` accepts `docker-tag` without `repository` and
/// `docker-save` without `path`; its build fails when they run (`Error
/// parsing reference: ":latest" is not a valid repository/tag`, `Error
/// creating output file: open : no such file or directory`). kiln warns at
/// `validate` and fails the build with each missing key's name.
#[test]
fn docker_tag_and_save_without_their_target_fail_at_run() {
    let _serial = serial();
    let g = Guard::new("deferred");
    base_image();
    let before = images();
    let d = dir();
    let t = d.write(
        "t.json",
        &format!(
            r#"{{"builders": [{{"type": "docker", "image": "{}", "commit": true,
                 "run_command": {}}}],
                "post-processors": [[{{"type": "docker-tag", "tag": "latest"}}],
                                    [{{"type": "docker-save"}}]]}}"#,
            base_image(),
            g.run_command()
        ),
    );
    let t = t.to_str().unwrap();
    let r = kiln(&d, &["validate", t]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("`docker-tag`: `repository` is not set (the repository to tag the image into); the post-processor will fail when it runs"),
        "{}",
        r.stdout
    );
    let r = kiln(&d, &["build", "-color=false", t]);
    // The committed image, which no post-processor could use.
    for i in images() {
        if !before.contains(&i) {
            docker(&["rmi", "-f", &i]);
        }
    }
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let all = format!("{}{}", r.stdout, r.stderr);
    for needle in [
        "`docker-tag`: `repository` is required: the repository to tag the image into",
        "`docker-save`: `path` is required: the tar file to save the image to",
    ] {
        assert!(all.contains(needle), "missing {needle:?} in:\n{all}");
    }
    assert!(g.containers().is_empty());
}
