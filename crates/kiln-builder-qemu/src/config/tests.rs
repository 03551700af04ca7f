//! The qemu configuration's unit tests: Packer's defaults, every error
//! at once, the validate-time file checks, secrets registered and never
//! printed.

use super::*;
use kiln_test::prepare_cx;
use serde_json::json;

fn errs(v: serde_json::Value) -> String {
    match prepare(&RawConfig::from_value(v), &prepare_cx("qemu")) {
        Ok(_) => String::new(),
        Err(e) => e.to_string(),
    }
}

#[test]
fn local_files_are_checked_at_validate_like_packer() {
    // packer 1.6.6 `validate`: "Bad Floppy disk file 'x': stat x: no such
    // file or directory", "Bad Floppy disk directory", "Bad CD disk
    // file", "no checksum found in: sums.txt"; a glob only has to parse.
    let dir = tempfile::tempdir().unwrap();
    let sums = dir.path().join("SHA256SUMS");
    std::fs::write(&sums, format!("{}  other.iso\n", "a".repeat(64))).unwrap();
    let text = errs(json!({
        "iso_url": "a.iso", "communicator": "none",
        "iso_checksum": format!("file:{}", sums.display()),
        "floppy_files": ["/nonexistent/ks.cfg", "/nonexistent/*.cfg", "bad[.cfg"],
        "floppy_dirs": ["/nonexistent/dir"],
        "cd_files": ["/nonexistent/meta-data"],
    }));
    for want in [
        "`floppy_files[0]`: bad floppy disk file `/nonexistent/ks.cfg`: no such file or directory",
        "`floppy_files[2]`: bad floppy disk file `bad[.cfg`",
        "`floppy_dirs[0]`: bad floppy disk directory `/nonexistent/dir`",
        "`cd_files[0]`: bad CD disk file `/nonexistent/meta-data`",
        "`iso_checksum`: no checksum for `a.iso` in the checksum file",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
    assert!(!text.contains("floppy_files[1]"), "{text}");
    let text = errs(json!({"iso_url": "a.iso", "communicator": "none",
        "iso_checksum": "file:/nonexistent/SUMS"}));
    assert!(
        text.contains("`iso_checksum`: bad checksum file `/nonexistent/SUMS`"),
        "{text}"
    );
    // A remote checksum file is fetched by the build, not by validate.
    assert_eq!(
        errs(json!({"iso_url": "a.iso", "communicator": "none",
            "iso_checksum": "file:http://127.0.0.1:9/SUMS"})),
        ""
    );
}

#[test]
fn packer_defaults() {
    let c = prepare(
        &RawConfig::from_value(
            json!({"iso_url": "a.iso", "iso_checksum": "none", "communicator": "none"}),
        ),
        &prepare_cx("qemu"),
    )
    .unwrap();
    assert_eq!(c.output_directory, PathBuf::from("output-qemu"));
    assert_eq!(c.vm_name, "packer-qemu");
    assert_eq!(c.format, DiskFormat::Qcow2);
    assert_eq!(c.disk.size_mib, 40960);
    assert_eq!(c.disk.interface, "virtio");
    assert_eq!(c.disk.cache, "writeback");
    assert_eq!(c.disk.discard, "ignore");
    assert_eq!(c.machine.memory_mib, 512);
    assert_eq!(c.machine.smp.cpus, 1);
    assert_eq!(c.machine.machine_type, "pc");
    assert_eq!(c.machine.net_device, "virtio-net");
    assert_eq!(c.machine.display, Display::Window("gtk".into()));
    assert_eq!(c.host_ports, 2222..=4444);
    assert_eq!(c.vnc.as_ref().map(|v| v.ports.clone()), Some(5900..=6000));
    assert_eq!(c.boot.wait, None);
    assert_eq!(c.shutdown_timeout, Duration::from_secs(300));
    assert_eq!(c.disk.compaction, Compaction::Convert { compress: false });
    assert_eq!(c.machine.accelerator, Accelerator::Auto);
}

#[test]
fn collects_every_error() {
    let e = errs(json!({
        "format": "vmdk", "accelerator": "bogus", "disk_interface": "sata2",
        "disk_cache": "zz", "disk_discard": "qq", "boot_wait": "xx",
        "shutdown_timeout": "bad", "host_port_min": 5000, "host_port_max": 4000,
        "disk_size": "lots", "communicator": "none"
    }));
    for want in [
        "one of `iso_url` or `iso_urls` must be specified",
        "a checksum must be specified",
        "`format` must be `qcow2` or `raw`, found `vmdk`",
        "found `bogus`",
        "found `sata2`",
        "found `zz`",
        "found `qq`",
        "`boot_wait`",
        "`shutdown_timeout`",
        "`host_port_min` (5000) must be less than `host_port_max` (4000)",
        "found `lots`",
    ] {
        assert!(e.contains(want), "missing {want:?} in:\n{e}");
    }
}

#[test]
fn backing_file_needs_disk_image_and_forces_skip_compaction() {
    let e = errs(
        json!({"iso_url": "a", "iso_checksum": "none", "communicator": "none", "use_backing_file": true}),
    );
    assert!(e.contains("`use_backing_file` can only be enabled"), "{e}");
    let c = prepare(
        &RawConfig::from_value(json!({"iso_url": "a", "iso_checksum": "none", "communicator": "none", "use_backing_file": true, "disk_image": true})),
        &prepare_cx("qemu"),
    )
    .unwrap();
    assert_eq!(c.disk.compaction, Compaction::Skip);
    assert_eq!(c.source.kind, SourceKind::DiskImage { backing_file: true });
}

#[test]
fn runtime_templates_are_kept() {
    let c = prepare(
        &RawConfig::from_value(json!({"iso_url": "a", "iso_checksum": "none", "communicator": "none",
            "boot_command": ["<enter>http://{{ .HTTPIP }}:{{ .HTTPPort }}/"], "qemuargs": [["-name", "{{ .Name }}"]]})),
        &prepare_cx("qemu"),
    )
    .unwrap();
    assert_eq!(
        c.boot.steps[0].command,
        "<enter>http://{{ .HTTPIP }}:{{ .HTTPPort }}/"
    );
    assert_eq!(c.machine.qemuargs[0][1], "{{ .Name }}");
}

#[test]
fn disk_sizes() {
    assert_eq!(parse_disk_size("40960M"), Ok(40960));
    assert_eq!(parse_disk_size("20G"), Ok(20480));
    assert_eq!(parse_disk_size("1000"), Ok(1000));
    assert!(parse_disk_size("x").is_err());
    assert_eq!(
        prepare(&RawConfig::from_value(json!({"iso_url": "a", "iso_checksum": "none", "communicator": "none", "disk_size": 2048})), &prepare_cx("qemu"))
            .unwrap()
            .disk
            .size_mib,
        2048
    );
}

#[test]
fn new_keys_have_packers_defaults() {
    let c = prepare(
        &RawConfig::from_value(
            json!({"iso_url": "a", "iso_checksum": "none", "communicator": "none",
            "vtpm": true, "qmp_enable": true, "output_directory": "out", "vm_name": "vm",
            "efi_firmware_code": "/c.fd", "efi_firmware_vars": "/v.fd", "run_once": true,
            "boot_steps": [["<enter>", "Start"], ["x<wait1s>"]], "boot_keygroup_interval": "2s",
            "floppy_content": {"a.txt": "A"}, "vnc_use_password": true}),
        ),
        &prepare_cx("qemu"),
    )
    .unwrap();
    assert_eq!(
        c.machine.tpm,
        Some(Tpm {
            version: TpmVersion::V2,
            device: "tpm-tis".into()
        })
    );
    assert_eq!(c.qmp_socket_path, Some(PathBuf::from("out/vm.monitor")));
    assert_eq!(
        c.machine.firmware,
        Firmware::Efi(Efi {
            code: Some("/c.fd".into()),
            vars: Some("/v.fd".into()),
            drop_vars: false
        })
    );
    assert_eq!(
        c.boot.steps,
        [
            BootStep {
                command: "<enter>".into(),
                description: Some("Start".into())
            },
            BootStep {
                command: "x<wait1s>".into(),
                description: None
            }
        ]
    );
    assert_eq!(c.boot.keygroup_interval, Some(Duration::from_secs(2)));
    assert_eq!(c.floppy.unwrap().content["a.txt"], "A");
    assert!(matches!(
        c.vnc.unwrap().password,
        Some(VncPassword::Generated)
    ));
    assert_eq!(c.machine.cpu_model, None);
    assert_eq!(c.disk.img_args, QemuImgArgs::default());
}

#[test]
fn new_keys_collect_every_error() {
    let e = errs(json!({
        "iso_url": "a", "iso_checksum": "none", "communicator": "none",
        "sockets": 4, "cpus": 2, "cores": 0,
        "disk_additional_size": ["1G", "big"],
        "boot_command": ["<enter>"], "boot_steps": [["x"]],
        "use_tpm1": true, "efi_firmware_code": "/c.fd", "firmware": "/f",
        "vnc_password": "hunter2", "qmp_socket_path": "/q.sock",
        "boot_keygroup_interval": "soon", "efi_drop_efivars": false
    }));
    for want in [
        "`cores` must be at least 1",
        "`sockets` (4) must not be higher than `cpus` (2)",
        "disk_additional_size[1]",
        "found `big`",
        "only one of `boot_command` or `boot_steps` may be specified",
        "`use_tpm1` has no effect without `vtpm: true`",
        "only one of `firmware` or `efi_boot`",
        "`vnc_password` needs `vnc_use_password: true`",
        "`qmp_socket_path` needs `qmp_enable: true`",
        "`boot_keygroup_interval`",
    ] {
        assert!(e.contains(want), "missing {want:?} in:\n{e}");
    }
    assert!(!e.contains("hunter2"), "{e}");
    let e = errs(
        json!({"iso_url": "a", "iso_checksum": "none", "communicator": "none",
        "boot_steps": [["a", "b", "c"]], "efi_firmware_vars": "/v.fd"}),
    );
    for want in [
        "each `boot_steps` entry is `[keys]` or `[keys, description]`, found 3 elements",
        "`efi_firmware_vars` needs `efi_firmware_code` too",
    ] {
        assert!(e.contains(want), "missing {want:?} in:\n{e}");
    }
    let e = errs(
        json!({"iso_url": "a", "iso_checksum": "none", "communicator": "none",
        "qemu_img_args": {"rebase": []}}),
    );
    assert!(
        e.contains("`qemu_img_args.rebase`: unknown field `rebase`, expected one of `convert`, `create`, `resize`"),
        "{e}"
    );
}

#[test]
fn vnc_passwords_are_secret() {
    let cx = prepare_cx("qemu");
    let c = prepare(
        &RawConfig::from_value(
            json!({"iso_url": "a", "iso_checksum": "none", "communicator": "none",
            "vnc_use_password": true, "vnc_password": "s3cr3tpw"}),
        ),
        &cx,
    )
    .unwrap();
    assert!(!format!("{c:?}").contains("s3cr3tpw"));
    assert_eq!(cx.redactor.redact("pw is s3cr3tpw"), "pw is <sensitive>");
}

#[test]
fn byte_sizes() {
    assert_eq!(parse_byte_size("512"), Ok(512));
    assert_eq!(parse_byte_size("1k"), Ok(1024));
    assert_eq!(parse_byte_size("64M"), Ok(64 << 20));
    assert_eq!(parse_byte_size("2Gb"), Ok(2 << 30));
    assert_eq!(parse_byte_size("1E"), Ok(1 << 60));
    assert!(parse_byte_size("16E").is_err());
    assert!(parse_byte_size("0").is_err());
    assert!(parse_byte_size("1X").is_err());
}

#[test]
fn skip_cache_needs_no_checksum_but_a_backing_file_for_disk_images() {
    let c = prepare(
        &RawConfig::from_value(
            json!({"iso_url": "http://h/a.iso", "communicator": "none", "iso_skip_cache": true}),
        ),
        &prepare_cx("qemu"),
    )
    .unwrap();
    assert!(c.source.skip_cache);
    let e = errs(
        json!({"iso_url": "http://h/a", "communicator": "none", "iso_skip_cache": true, "disk_image": true}),
    );
    assert!(e.contains("`iso_skip_cache` needs a local copy"), "{e}");
}
