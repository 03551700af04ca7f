//! Tests of the cache on the real filesystem, under temporary directories.

use std::sync::{Arc, Barrier};

use chrono::TimeZone;

use super::*;

fn key(n: u32) -> String {
    format!("{n:064x}")
}

fn open() -> (tempfile::TempDir, Cache) {
    let tmp = tempfile::tempdir().unwrap();
    let cache = Cache::open(tmp.path().join("cache"), DEFAULT_MAX_SIZE).unwrap();
    (tmp, cache)
}

fn at(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).unwrap()
}

fn meta(build: &str) -> Meta {
    Meta {
        build: build.into(),
        builder_type: "null".into(),
        template: "t.pkr.hcl".into(),
        after: 2,
        count: 3,
        provisioner_type: "shell".into(),
        elapsed_secs: 1.5,
        data: serde_json::json!({"image": "abc"}),
        inputs: serde_json::json!(["a", "b"]),
        ..Meta::default()
    }
}

/// Commits `files` under `key`, with `last_used` when given.
fn save(cache: &Cache, k: &str, files: &[(&str, &[u8])], last_used: Option<i64>) -> Committed {
    let pending = cache.begin().unwrap();
    for (path, content) in files {
        let path = pending.dir().join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, content).unwrap();
    }
    let mut m = meta("b");
    if let Some(t) = last_used {
        m.last_used = at(t);
        m.created = at(t);
    }
    pending.commit(k, m).unwrap()
}

fn saved(c: Committed) -> Entry {
    match c {
        Committed::Saved(e) => e,
        Committed::AlreadyThere(m) => panic!("already there: {m:?}"),
    }
}

fn staging_names(cache: &Cache) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(cache.staging())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn corrupt_reason(r: Result<Option<Entry>, CacheError>) -> String {
    match r {
        Err(CacheError::Corrupt { reason, .. }) => reason,
        Err(e) => panic!("unexpected error {e}"),
        Ok(e) => panic!("not corrupt: {:?}", e.map(|e| e.meta)),
    }
}

#[test]
fn commit_then_get_round_trips() {
    let (_tmp, cache) = open();
    let k = key(1);
    let before = Utc::now();
    let entry = saved(save(
        &cache,
        &k,
        &[("disk.qcow2", b"disk"), ("sub/dir/b", b"bb"), ("a", b"")],
        None,
    ));
    assert_eq!(entry.dir, cache.root().join("checkpoints").join(&k));
    assert!(entry.meta.created >= before && entry.meta.last_used >= before);
    let paths: Vec<&str> = entry.meta.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["a", "disk.qcow2", "sub/dir/b"]);
    assert_eq!(entry.meta.files[1].size, 4);
    assert_eq!(
        entry.meta.files[1].sha256,
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b"disk"))
    );
    drop(entry);
    assert!(staging_names(&cache).is_empty());

    let got = cache.get(&k).unwrap().expect("a hit");
    assert_eq!(got.meta.version, META_VERSION);
    assert_eq!(got.meta.key, k);
    assert_eq!(got.meta.build, "b");
    assert_eq!(got.meta.data, serde_json::json!({"image": "abc"}));
    assert_eq!(got.meta.size(), 6);
    assert_eq!(fs::read(got.dir.join("sub/dir/b")).unwrap(), b"bb");
    // last_used was rewritten on disk.
    let on_disk = cache.peek(&k).unwrap().unwrap();
    assert_eq!(on_disk.last_used, got.meta.last_used);
    assert!(!got.dir.join(META_TMP).exists());

    assert!(cache.get(&key(2)).unwrap().is_none());
    assert!(cache.peek(&key(2)).unwrap().is_none());
}

#[test]
fn explicit_timestamps_are_kept() {
    let (_tmp, cache) = open();
    let entry = saved(save(&cache, &key(1), &[("f", b"x")], Some(1000)));
    assert_eq!(entry.meta.created, at(1000));
    assert_eq!(entry.meta.last_used, at(1000));
}

#[test]
fn get_verifies_every_file() {
    let (_tmp, cache) = open();
    let files: &[(&str, &[u8])] = &[("a", b"hello"), ("d/b", b"world")];

    // A flipped byte (same size).
    let k = key(1);
    drop(save(&cache, &k, files, None));
    fs::write(cache.checkpoints().join(&k).join("d/b"), b"worle").unwrap();
    assert!(corrupt_reason(cache.get(&k)).contains("sha256"));
    // peek does not hash, so it does not notice.
    assert!(cache.peek(&k).unwrap().is_some());
    // get never deletes.
    assert!(cache.checkpoints().join(&k).join("a").exists());

    // A deleted file.
    let k = key(2);
    drop(save(&cache, &k, files, None));
    fs::remove_file(cache.checkpoints().join(&k).join("a")).unwrap();
    assert!(corrupt_reason(cache.get(&k)).contains("`a` is missing"));
    assert!(matches!(cache.peek(&k), Err(CacheError::Corrupt { .. })));

    // A truncated file.
    let k = key(3);
    drop(save(&cache, &k, files, None));
    fs::write(cache.checkpoints().join(&k).join("a"), b"hell").unwrap();
    assert!(corrupt_reason(cache.get(&k)).contains("4 bytes"));

    // A truncated meta.json.
    let k = key(4);
    drop(save(&cache, &k, files, None));
    let meta_path = cache.checkpoints().join(&k).join(META_FILE);
    let text = fs::read(&meta_path).unwrap();
    fs::write(&meta_path, &text[..text.len() / 2]).unwrap();
    assert!(corrupt_reason(cache.get(&k)).contains("does not parse"));

    // A directory without metadata, as a half-written one would be.
    let k = key(5);
    fs::create_dir_all(cache.checkpoints().join(&k)).unwrap();
    fs::write(cache.checkpoints().join(&k).join("disk"), b"x").unwrap();
    let reason = corrupt_reason(cache.get(&k));
    assert_eq!(reason, "no metadata: the checkpoint was not finished");

    // A file nobody recorded.
    let k = key(6);
    drop(save(&cache, &k, files, None));
    fs::write(cache.checkpoints().join(&k).join("extra"), b"x").unwrap();
    assert!(corrupt_reason(cache.get(&k)).contains("`extra` is not in the metadata"));

    // Metadata of another version, or for another key.
    let k = key(7);
    drop(save(&cache, &k, files, None));
    let dir = cache.checkpoints().join(&k);
    let mut m = cache.peek(&k).unwrap().unwrap();
    m.version = 2;
    write_meta(&dir, &m).unwrap();
    assert!(corrupt_reason(cache.get(&k)).contains("version 2"));
    m.version = META_VERSION;
    m.key = key(8);
    write_meta(&dir, &m).unwrap();
    assert!(corrupt_reason(cache.get(&k)).contains(&key(8)));

    // A path escaping the entry.
    m.key = k.clone();
    m.files[0].path = "../a".into();
    write_meta(&dir, &m).unwrap();
    assert!(corrupt_reason(cache.get(&k)).contains("unsound path `../a`"));
}

#[test]
fn corrupt_entries_are_listed_as_such() {
    let (_tmp, cache) = open();
    drop(save(&cache, &key(1), &[("a", b"1")], Some(10)));
    fs::create_dir_all(cache.checkpoints().join(key(2))).unwrap();
    fs::write(cache.checkpoints().join(key(2)).join("x"), b"12345").unwrap();
    fs::create_dir_all(cache.checkpoints().join("not-a-key")).unwrap();
    let listed = cache.list().unwrap();
    assert_eq!(listed.len(), 3);
    assert!(matches!(&listed[0], Listed::Ok { meta, size: 1 } if meta.key == key(1)));
    match &listed[1] {
        Listed::Corrupt {
            key: k,
            reason,
            size,
        } => {
            assert_eq!(k, &key(2));
            assert!(reason.contains("no metadata"), "{reason}");
            assert_eq!(*size, 5);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(&listed[2], Listed::Corrupt { key, .. } if key == "not-a-key"));
}

#[test]
fn committing_an_existing_key_keeps_the_first() {
    let (_tmp, cache) = open();
    let k = key(1);
    let first = saved(save(&cache, &k, &[("a", b"first")], None));
    let pending = cache.begin().unwrap();
    let staging = pending.dir().to_path_buf();
    fs::write(staging.join("a"), b"second").unwrap();
    match pending.commit(&k, meta("other")).unwrap() {
        Committed::AlreadyThere(m) => assert_eq!(m, first.meta),
        Committed::Saved(_) => panic!("saved twice"),
    }
    assert!(!staging.exists());
    assert!(staging_names(&cache).is_empty());
    assert_eq!(fs::read(first.dir.join("a")).unwrap(), b"first");
}

#[test]
fn committing_over_a_corrupt_entry_replaces_it() {
    let (_tmp, cache) = open();
    let k = key(1);
    drop(save(&cache, &k, &[("a", b"first")], None));
    fs::write(cache.checkpoints().join(&k).join("a"), b"firsT").unwrap();
    let entry = saved(save(&cache, &k, &[("a", b"second")], None));
    assert_eq!(fs::read(entry.dir.join("a")).unwrap(), b"second");
    drop(entry);
    assert!(cache.get(&k).unwrap().is_some());
    assert!(staging_names(&cache).is_empty());
}

#[test]
fn committing_over_a_corrupt_entry_someone_holds_moves_it_aside() {
    let (_tmp, cache) = open();
    let k = key(1);
    drop(save(&cache, &k, &[("a", b"first")], None));
    let dir = cache.checkpoints().join(&k);
    fs::write(dir.join("a"), b"firsT").unwrap();
    let old_meta_size = fs::metadata(dir.join(META_FILE)).unwrap().len();
    // A reader in the middle of verifying it.
    let reader = Hold::shared(&dir.join(USE_FILE)).unwrap();
    drop(saved(save(&cache, &k, &[("a", b"second")], None)));
    assert_eq!(fs::read(dir.join("a")).unwrap(), b"second");
    assert!(!reader.still_at());
    // The old one waits in staging until the reader is done.
    assert_eq!(staging_names(&cache).len(), 1);
    assert!(cache.prune(u64::MAX, None).unwrap().is_empty());
    drop(reader);
    let removed = cache.prune(u64::MAX, None).unwrap();
    assert_eq!(removed.len(), 1);
    assert!(removed[0].key.starts_with("staging/"));
    assert_eq!(removed[0].size, 5 + old_meta_size);
    assert!(staging_names(&cache).is_empty());
}

#[test]
fn a_dropped_pending_removes_its_staging_dir() {
    let (_tmp, cache) = open();
    let pending = cache.begin().unwrap();
    let dir = pending.dir().to_path_buf();
    fs::create_dir_all(dir.join("x/y")).unwrap();
    fs::write(dir.join("x/y/z"), b"data").unwrap();
    assert_eq!(staging_names(&cache).len(), 2); // the dir and its lock
    drop(pending);
    assert!(!dir.exists());
    assert!(staging_names(&cache).is_empty());
}

#[test]
fn a_failed_commit_removes_its_staging_dir() {
    let (_tmp, cache) = open();
    let pending = cache.begin().unwrap();
    let dir = pending.dir().to_path_buf();
    fs::write(dir.join(META_FILE), b"{}").unwrap();
    let err = pending.commit(&key(1), meta("b")).unwrap_err();
    assert!(matches!(err, CacheError::BadFile { .. }), "{err}");
    assert!(err.to_string().contains("the cache's own"), "{err}");
    assert!(!dir.exists());

    let pending = cache.begin().unwrap();
    std::os::unix::fs::symlink("/etc/passwd", pending.dir().join("link")).unwrap();
    let err = pending.commit(&key(1), meta("b")).unwrap_err();
    assert!(err.to_string().contains("regular files"), "{err}");

    let pending = cache.begin().unwrap();
    assert!(matches!(
        pending.commit("ABC", meta("b")),
        Err(CacheError::BadKey(_))
    ));
    assert!(staging_names(&cache).is_empty());
    assert!(cache.list().unwrap().is_empty());
}

#[test]
fn list_is_most_recently_used_first() {
    let (_tmp, cache) = open();
    drop(save(&cache, &key(1), &[("a", b"1")], Some(300)));
    drop(save(&cache, &key(2), &[("a", b"22")], Some(100)));
    drop(save(&cache, &key(3), &[("a", b"333")], Some(200)));
    let order = |cache: &Cache| -> Vec<String> {
        cache
            .list()
            .unwrap()
            .into_iter()
            .map(|l| match l {
                Listed::Ok { meta, size } => {
                    assert_eq!(size, meta.files[0].size);
                    meta.key
                }
                Listed::Corrupt { key, reason, .. } => panic!("{key}: {reason}"),
            })
            .collect()
    };
    assert_eq!(order(&cache), [key(1), key(3), key(2)]);
    drop(cache.get(&key(2)).unwrap().unwrap());
    assert_eq!(order(&cache), [key(2), key(1), key(3)]);
    // peek leaves last_used alone.
    cache.peek(&key(3)).unwrap();
    assert_eq!(order(&cache), [key(2), key(1), key(3)]);
}

#[test]
fn prune_by_size_removes_the_least_recently_used_first() {
    let (_tmp, cache) = open();
    drop(save(&cache, &key(1), &[("a", &[0; 100])], Some(100)));
    drop(save(&cache, &key(2), &[("a", &[0; 100])], Some(300)));
    drop(save(&cache, &key(3), &[("a", &[0; 100])], Some(200)));
    // An external size counts too.
    let pending = cache.begin().unwrap();
    let mut m = meta("docker");
    m.external_size = 1000;
    m.last_used = at(400);
    drop(pending.commit(&key(4), m).unwrap());

    assert!(cache.prune(1300, None).unwrap().is_empty());
    let removed = cache.prune(1250, None).unwrap();
    assert_eq!(removed.len(), 1);
    assert_eq!(removed[0].key, key(1));
    assert_eq!(removed[0].size, 100);
    assert_eq!(removed[0].meta.as_ref().unwrap().last_used, at(100));
    assert!(!cache.checkpoints().join(key(1)).exists());

    let removed = cache.prune(1000, None).unwrap();
    let keys: Vec<&str> = removed.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(keys, [key(3), key(2)]);
    let left: Vec<Listed> = cache.list().unwrap();
    assert!(matches!(&left[..], [Listed::Ok { meta, size: 1000 }] if meta.key == key(4)));
    assert!(staging_names(&cache).is_empty());
}

#[test]
fn prune_removes_entries_older_than_asked_and_corrupt_ones() {
    let (_tmp, cache) = open();
    let now = Utc::now().timestamp();
    drop(save(
        &cache,
        &key(1),
        &[("a", b"old")],
        Some(now - 3 * 86400),
    ));
    drop(save(&cache, &key(2), &[("a", b"new")], Some(now - 60)));
    fs::create_dir_all(cache.checkpoints().join(key(3))).unwrap();
    assert!(
        cache
            .prune(u64::MAX, Some(Duration::from_secs(10 * 86400)))
            .unwrap()
            .len()
            == 1
    );
    assert!(cache.checkpoints().join(key(1)).exists());
    let removed = cache
        .prune(u64::MAX, Some(Duration::from_secs(86400)))
        .unwrap();
    let keys: Vec<&str> = removed.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(keys, [key(1)]);
    assert!(cache.get(&key(2)).unwrap().is_some());
    assert!(!cache.checkpoints().join(key(3)).exists());
    // A duration too large for a date removes nothing.
    assert!(cache
        .prune(u64::MAX, Some(Duration::MAX))
        .unwrap()
        .is_empty());
}

#[test]
fn held_entries_survive_remove_prune_and_clear() {
    let (_tmp, cache) = open();
    // Another Cache on the same root stands for another process.
    let other = Cache::open(cache.root(), 0).unwrap();
    drop(save(&cache, &key(1), &[("a", b"held")], Some(100)));
    drop(save(&cache, &key(2), &[("a", b"free")], Some(200)));
    let entry = cache.get(&key(1)).unwrap().unwrap();

    assert!(other.remove(&key(1)).unwrap().is_none());
    assert!(cache.remove(&key(1)).unwrap().is_none());
    let removed = other.prune(0, Some(Duration::ZERO)).unwrap();
    let keys: Vec<&str> = removed.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(keys, [key(2)]);
    assert!(other.clear().unwrap().is_empty());
    assert!(entry.dir.join("a").exists());
    assert_eq!(fs::read(entry.dir.join("a")).unwrap(), b"held");

    // A freshly saved entry is held as well, until dropped.
    let fresh = saved(save(&cache, &key(3), &[("a", b"x")], None));
    assert!(other.remove(&key(3)).unwrap().is_none());
    drop(fresh);

    drop(entry);
    let removed = other.remove(&key(1)).unwrap().unwrap();
    assert_eq!(removed.key, key(1));
    assert_eq!(removed.size, 4);
    assert!(!cache.checkpoints().join(key(1)).exists());
    assert!(other.remove(&key(1)).unwrap().is_none());
    let cleared = other.clear().unwrap();
    assert_eq!(cleared.len(), 1);
    assert!(cache.list().unwrap().is_empty());
    assert!(staging_names(&cache).is_empty());
}

#[test]
fn stale_staging_dirs_go_and_live_ones_stay() {
    let (_tmp, cache) = open();
    let live = cache.begin().unwrap();
    fs::write(live.dir().join("f"), b"in progress").unwrap();
    // What a crashed process leaves: a directory whose lock nobody holds,
    // and a lone lock file.
    let crashed = cache.staging().join("0b9e8a6c-crashed");
    fs::create_dir_all(crashed.join("d")).unwrap();
    fs::write(crashed.join("d/f"), b"123").unwrap();
    fs::write(cache.staging().join("0b9e8a6c-crashed.lock"), b"").unwrap();
    fs::write(cache.staging().join("lonely.lock"), b"").unwrap();

    let removed = cache.clear().unwrap();
    assert_eq!(removed.len(), 1);
    assert_eq!(removed[0].key, "staging/0b9e8a6c-crashed");
    assert_eq!(removed[0].size, 3);
    assert!(removed[0].meta.is_none());
    assert!(!crashed.exists());
    assert!(live.dir().join("f").exists());
    let names = staging_names(&cache);
    assert_eq!(names.len(), 2, "{names:?}"); // the live dir and its lock
    drop(saved(live.commit(&key(1), meta("b")).unwrap()));
    assert!(staging_names(&cache).is_empty());
}

#[test]
fn many_caches_committing_at_once() {
    let (_tmp, cache) = open();
    let root = cache.root().to_path_buf();
    let threads = 8;
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|i| {
            let root = root.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let cache = Cache::open(root, DEFAULT_MAX_SIZE).unwrap();
                let shared = cache.begin().unwrap();
                fs::write(shared.dir().join("disk"), vec![7u8; 64 * 1024]).unwrap();
                let own = cache.begin().unwrap();
                fs::create_dir_all(own.dir().join("d")).unwrap();
                fs::write(own.dir().join("d/disk"), format!("thread {i}")).unwrap();
                barrier.wait();
                let same = shared.commit(&key(1000), meta("same")).unwrap();
                let mine = own.commit(&key(i as u32), meta("own")).unwrap();
                assert!(matches!(mine, Committed::Saved(_)));
                let got = cache.get(&key(1000)).unwrap().expect("the shared key");
                assert_eq!(got.meta.files[0].size, 64 * 1024);
                matches!(same, Committed::Saved(_))
            })
        })
        .collect();
    let saved_count = handles
        .into_iter()
        .map(|h| h.join().unwrap())
        .filter(|s| *s)
        .count();
    assert_eq!(saved_count, 1, "the shared key is saved exactly once");
    let listed = cache.list().unwrap();
    assert_eq!(listed.len(), threads + 1);
    for l in &listed {
        assert!(matches!(l, Listed::Ok { .. }), "{l:?}");
    }
    for i in 0..threads {
        let entry = cache.get(&key(i as u32)).unwrap().unwrap();
        assert_eq!(
            fs::read_to_string(entry.dir.join("d/disk")).unwrap(),
            format!("thread {i}")
        );
    }
    assert!(cache.get(&key(1000)).unwrap().is_some());
    assert!(staging_names(&cache).is_empty());
}

#[test]
fn bad_keys_are_rejected() {
    let (_tmp, cache) = open();
    let upper = key(1).to_uppercase().replace('0', "A");
    for bad in [
        "",
        "abc",
        &upper,
        &format!("{}0", key(1)),
        &key(1)[1..],
        &format!("{}g", &key(1)[1..]),
        "../../../../etc/passwd",
    ] {
        let is_bad = |e: CacheError| matches!(e, CacheError::BadKey(ref k) if k == bad);
        assert!(is_bad(cache.get(bad).unwrap_err()), "{bad}");
        assert!(is_bad(cache.peek(bad).unwrap_err()), "{bad}");
        assert!(is_bad(cache.remove(bad).unwrap_err()), "{bad}");
        let err = cache.begin().unwrap().commit(bad, meta("b")).unwrap_err();
        assert!(err.to_string().contains(&format!("`{bad}`")), "{err}");
        assert!(is_bad(err), "{bad}");
    }
    assert!(staging_names(&cache).is_empty());
}

#[test]
fn settings_come_from_the_environment() {
    let vars = |pairs: &'static [(&'static str, &'static str)]| {
        move |name: &str| {
            pairs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| OsString::from(v))
        }
    };
    assert_eq!(
        Cache::settings(vars(&[
            ("KILN_CACHE_DIR", "/k"),
            ("XDG_CACHE_HOME", "/x"),
            ("HOME", "/h")
        ]))
        .unwrap(),
        (PathBuf::from("/k"), DEFAULT_MAX_SIZE)
    );
    assert_eq!(
        Cache::settings(vars(&[
            ("KILN_CACHE_DIR", ""),
            ("XDG_CACHE_HOME", "/x"),
            ("HOME", "/h")
        ]))
        .unwrap()
        .0,
        PathBuf::from("/x/kiln")
    );
    assert_eq!(
        Cache::settings(vars(&[("XDG_CACHE_HOME", "relative"), ("HOME", "/h")]))
            .unwrap()
            .0,
        PathBuf::from("/h/.cache/kiln")
    );
    assert!(matches!(
        Cache::settings(vars(&[])),
        Err(CacheError::NoCacheDir)
    ));
    assert_eq!(
        Cache::settings(vars(&[("HOME", "/h"), ("KILN_CACHE_MAX_SIZE", "1.5G")]))
            .unwrap()
            .1,
        3 << 29
    );
    let err =
        Cache::settings(vars(&[("HOME", "/h"), ("KILN_CACHE_MAX_SIZE", "lots")])).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with("`KILN_CACHE_MAX_SIZE`: size `lots`"),
        "{msg}"
    );
}
