//! The UI contract: every line a component shows the user goes through a
//! [`Ui`], never straight to stdout. The core supplies implementations for
//! Packer's human output, `-machine-readable` lines and JSON events; all of
//! them scrub the values registered with the [`Redactor`].

use std::borrow::Cow;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;

/// What a component uses to talk to the user. Implementations are cheap to
/// call from many tasks at once and never panic on a closed stream.
#[async_trait]
pub trait Ui: Send + Sync {
    /// A headline (`==> name: …`).
    fn say(&self, message: &str);
    /// Detail or command output (`    name: …`).
    fn message(&self, message: &str);
    /// An error line (`==> name: …` on stderr, red).
    fn error(&self, message: &str);
    /// A machine-readable record (`timestamp,target,kind,args…`). The human
    /// UI ignores it.
    fn machine(&self, kind: &str, args: &[&str]);
    /// A step started; drives the live view and JSON events. No output in the
    /// plain log.
    fn step_started(&self, _step: &str) {}
    /// What the build is doing inside its current step, shown next to the
    /// step in the live view (`shell 2/3` while provisioning); `None` clears
    /// it. No output in the plain log. A new step clears it too.
    fn activity(&self, _what: Option<&str>) {}
    /// Progress of a long transfer or wait (`label` such as `upload` or
    /// `download`; `done` of `total` bytes or percent, `total` 0 when
    /// unknown), shown as a bar in the live view. No output in the plain
    /// log. Cheap to call for every chunk; `done >= total` (with a known
    /// total) or a new step removes the bar.
    fn progress(&self, _label: &str, _done: u64, _total: u64) {}
    /// A structured event for `-events=json` (an object with a `type`; the
    /// build's name is added). No output in the other modes: pair it with
    /// [`Ui::say`] or [`Ui::machine`]. Every event type is described in
    /// docs/schemas/events.schema.json.
    fn event(&self, _event: serde_json::Value) {}
    /// Asks the user a question on the terminal and returns the answer line.
    /// Fails when there is no interactive terminal.
    async fn ask(&self, question: &str) -> Result<String, UiError>;
}

/// A reader that reports how much of `total` bytes was read through
/// [`Ui::progress`] (an upload's source, a download's body), for the live
/// view's progress bar.
pub struct ProgressReader<'a, R> {
    inner: R,
    ui: &'a dyn Ui,
    label: &'a str,
    done: u64,
    total: u64,
}

impl<'a, R> ProgressReader<'a, R> {
    /// Wraps `inner`; `total` is 0 when unknown.
    pub fn new(inner: R, ui: &'a dyn Ui, label: &'a str, total: u64) -> Self {
        ProgressReader {
            inner,
            ui,
            label,
            done: 0,
            total,
        }
    }
}

impl<R: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for ProgressReader<'_, R> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let poll = std::pin::Pin::new(&mut self.inner).poll_read(cx, buf);
        let read = (buf.filled().len() - before) as u64;
        if read > 0 {
            self.done += read;
            self.ui.progress(self.label, self.done, self.total);
        }
        poll
    }
}

/// Where [`diagnostic`] lines go: set by the process's output (the core's
/// `Output::stdio`), which erases its live view first and scrubs secrets.
type DiagnosticSink = Arc<dyn Fn(&str) + Send + Sync>;

static DIAGNOSTIC_SINK: RwLock<Option<DiagnosticSink>> = RwLock::new(None);

/// Writes one line on stderr that belongs to no build: a plugin's log
/// (`KILN_PLUGIN_LOG`), a test hook's note. It goes through the process's
/// output when there is one, so the line is never drawn over by the live
/// view and its secrets are masked; before there is one, straight to
/// stderr.
pub fn diagnostic(line: &str) {
    let sink = DIAGNOSTIC_SINK
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    match sink {
        Some(sink) => sink(line),
        None => eprintln!("{line}"),
    }
}

/// Sets (or with `None` removes) where [`diagnostic`] lines go.
pub fn set_diagnostic_sink(sink: Option<DiagnosticSink>) {
    *DIAGNOSTIC_SINK.write().unwrap_or_else(|e| e.into_inner()) = sink;
}

/// Why [`Ui::ask`] could not get an answer.
#[derive(Debug, thiserror::Error)]
pub enum UiError {
    /// stdin is not a terminal (CI, pipes, `-machine-readable`).
    #[error("cannot ask `{0}`: kiln is not attached to an interactive terminal")]
    NotInteractive(String),
    /// Reading the answer failed.
    #[error("failed to read an answer from the terminal: {0}")]
    Io(#[from] std::io::Error),
}

/// The placeholder that replaces every secret in output.
pub const REDACTED: &str = "<sensitive>";

/// The set of secret values to scrub from all output. Shared between the
/// template loader (sensitive variables), components (passwords, keys) and
/// every UI implementation.
///
/// What is masked (see [`Redactor::redact`]):
/// - a secret that looks like a word (1 to 24 ASCII letters, such as an SSH
///   password `freebsd` or `vagrant`) only where it stands as a whole
///   token: the characters around the match are not word characters
///   (`A-Z`, `a-z`, `0-9`, `_`). `freebsd` is masked in `pw=freebsd` and
///   `echo freebsd`, not in `freebsdx` or `myfreebsd`;
/// - any other secret (digits or punctuation in it, or longer) wherever it
///   appears, even inside a longer word: a random token embedded in a URL
///   or an `Authorization` header is still masked;
/// - never inside a protected text ([`Redactor::protect`]: the names of the
///   files kiln prints itself, such as the template's) that is longer than
///   the match, so `./freebsd-14.pkr.hcl` stays readable;
/// - a word-like secret, never inside the path of a file or directory that
///   exists when the line is printed (an artifact kiln just wrote,
///   `out/freebsd-14.tar.gz`), or of a file about to be written: a path
///   with a `/` whose directory exists and whose file name is more than
///   the match. The path is the token around the match, cut at spaces,
///   quotes, backticks, commas and brackets, and must be longer than the
///   match and hold a `/` or a `.`; `/tmp/freebsd` (the name is the
///   value) is masked.
///
/// Matching is one pass of an Aho-Corasick automaton over each text, not one
/// search per secret: a process with 1,000 builds holds tens of thousands of
/// forms (each build's temporary key, line by line), and searching for each
/// on every line made redaction 90% of kiln's CPU.
#[derive(Clone, Default, Debug)]
pub struct Redactor {
    secrets: Arc<RwLock<Secrets>>,
    protected: Arc<RwLock<Vec<String>>>,
}

/// The registered forms and the automata that find them. The automata hold
/// each form's first [`PREFIX`] bytes only (forms that share them share a
/// pattern) and a match is confirmed against the whole form, so their size
/// does not grow with the length of the secrets (a key's lines). Patterns
/// are matched by two automata: `sealed` over the first `sealed_len`
/// patterns, rebuilt only when more than [`PENDING_PATTERNS`] have been added
/// since, and `pending` over the rest, rebuilt on every addition (it stays
/// small). So adding a build's secrets costs a small rebuild, and the large
/// one happens once per [`PENDING_PATTERNS`] patterns, not once per build.
#[derive(Default, Debug)]
struct Secrets {
    forms: Vec<String>,
    /// Each pattern (a prefix) and the forms that start with it.
    patterns: Vec<(String, Vec<usize>)>,
    /// The pattern of each prefix.
    index: std::collections::HashMap<String, usize>,
    sealed: Matcher,
    sealed_len: usize,
    pending: Matcher,
}

/// The bytes of a form its pattern holds.
const PREFIX: usize = 16;

/// The patterns added since the last rebuild of the large automaton before it
/// is rebuilt with them.
const PENDING_PATTERNS: usize = 512;

/// An automaton over a slice of the patterns (`offset` is the index of its
/// first pattern), or none when there are no patterns (or the automaton could
/// not be built, when its patterns are searched one by one).
#[derive(Default, Debug)]
struct Matcher {
    automaton: Option<aho_corasick::AhoCorasick>,
    offset: usize,
    len: usize,
}

impl Matcher {
    fn new(patterns: &[(String, Vec<usize>)], offset: usize) -> Matcher {
        let automaton = if patterns.is_empty() {
            None
        } else {
            aho_corasick::AhoCorasick::builder()
                .match_kind(aho_corasick::MatchKind::Standard)
                .build(patterns.iter().map(|(p, _)| p))
                .ok()
        };
        Matcher {
            automaton,
            offset,
            len: patterns.len(),
        }
    }

    /// Where this matcher's patterns occur in `text`, overlapping
    /// occurrences included, as (pattern index, start).
    fn find(&self, patterns: &[(String, Vec<usize>)], text: &str, out: &mut Vec<(usize, usize)>) {
        match &self.automaton {
            Some(ac) => out.extend(
                ac.find_overlapping_iter(text)
                    .map(|m| (self.offset + m.pattern().as_usize(), m.start())),
            ),
            None => {
                let mine = &patterns[self.offset..self.offset + self.len];
                for (i, (pattern, _)) in mine.iter().enumerate() {
                    out.extend(
                        text.match_indices(pattern.as_str())
                            .map(|(start, _)| (self.offset + i, start)),
                    );
                }
            }
        }
    }
}

impl Secrets {
    /// Adds `form` (unless known); true when it added a pattern (the
    /// automata must be rebuilt).
    fn insert(&mut self, form: String) -> bool {
        let mut cut = form.len().min(PREFIX);
        while !form.is_char_boundary(cut) {
            cut -= 1;
        }
        let id = self.forms.len();
        match self.index.get(&form[..cut]) {
            Some(&p) => {
                if self.patterns[p].1.iter().all(|&f| self.forms[f] != form) {
                    self.patterns[p].1.push(id);
                    self.forms.push(form);
                }
                false
            }
            None => {
                self.index
                    .insert(form[..cut].to_string(), self.patterns.len());
                self.patterns.push((form[..cut].to_string(), vec![id]));
                self.forms.push(form);
                true
            }
        }
    }

    /// Rebuilds the automata after patterns were added.
    fn rebuild(&mut self) {
        if self.patterns.len() - self.sealed_len > PENDING_PATTERNS {
            self.sealed = Matcher::new(&self.patterns, 0);
            self.sealed_len = self.patterns.len();
        }
        self.pending = Matcher::new(&self.patterns[self.sealed_len..], self.sealed_len);
    }

    /// Every occurrence of every form in `text`, overlapping ones included,
    /// as (form index, start, end).
    fn find(&self, text: &str) -> Vec<(usize, usize, usize)> {
        let mut starts = Vec::new();
        self.sealed.find(&self.patterns, text, &mut starts);
        self.pending.find(&self.patterns, text, &mut starts);
        let mut found = Vec::new();
        for (p, start) in starts {
            for &f in &self.patterns[p].1 {
                let form = &self.forms[f];
                if text[start..].starts_with(form.as_str()) {
                    found.push((f, start, start + form.len()));
                }
            }
        }
        found
    }
}

/// The longest secret that is matched only as a whole word.
const MAX_WORD_SECRET: usize = 24;

/// True for a secret that looks like a word: it is masked only as a whole
/// token, so that it does not mangle unrelated words that contain it.
fn looks_like_a_word(secret: &str) -> bool {
    secret.len() <= MAX_WORD_SECRET && secret.bytes().all(|b| b.is_ascii_alphabetic())
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// True when `text[start..end]` is a whole token: no word character
/// touches it on either side.
fn whole_token(text: &str, start: usize, end: usize) -> bool {
    let bytes = text.as_bytes();
    let before = start.checked_sub(1).map(|i| bytes[i]);
    let after = bytes.get(end).copied();
    !before.is_some_and(is_word_byte) && !after.is_some_and(is_word_byte)
}

/// True when `text[start..end]` lies inside a longer token, with a `/` or a
/// `.`, that names a file or directory that exists (relative to the working
/// directory, or absolute), or a file to be written in a directory that
/// exists; a trailing `.`, `:` or `;` may end the sentence.
fn in_an_existing_path(text: &str, start: usize, end: usize) -> bool {
    let delimiter = |c: char| c.is_whitespace() || "\"'`,()[]{}<>=".contains(c);
    let from = text[..start]
        .rfind(delimiter)
        .map(|i| i + text[i..].chars().next().map_or(1, char::len_utf8))
        .unwrap_or(0);
    let to = text[end..].find(delimiter).map_or(text.len(), |i| end + i);
    let token = &text[from..to];
    if token.len() <= end - start || !token.contains(['/', '.']) {
        return false;
    }
    let trimmed = token.trim_end_matches(['.', ':', ';']);
    let exists = [token, trimmed]
        .iter()
        .any(|t| t.len() > end - start && std::path::Path::new(t).exists());
    // A file about to be written (`Tarring out/freebsd-14.tar.gz`): its
    // directory exists and its name is more than the match.
    let path = std::path::Path::new(trimmed);
    let to_be = trimmed.contains('/')
        && path.file_name().is_some_and(|n| {
            n.len() > end - start && n.to_string_lossy().contains(&text[start..end])
        })
        && path.parent().is_some_and(|p| p.is_dir());
    exists || to_be
}

/// Lines of a multi-line secret shorter than this are not masked on their
/// own (a `}` or an empty line of a key file would mask every such line).
const MIN_SECRET_LINE: usize = 6;

/// A PEM armor line (`-----BEGIN OPENSSH PRIVATE KEY-----`): the same in
/// every key, so not masked on its own.
fn is_pem_armor(line: &str) -> bool {
    line.starts_with("-----") && line.ends_with("-----")
}

/// The forms of `secret` that are masked: the value itself; each line of a
/// multi-line value (a private key printed line by line, or one line of it
/// quoted in an error); the value as a JSON or HCL string literal writes it
/// (`a\"b`, a key with `\n`), as the source lines under errors show it;
/// its upper- and lower-case forms (`upper(var.x)`); and its standard
/// base64 encoding (`base64encode(var.x)`; the encoding of a longer text
/// that contains the secret is not covered).
fn secret_forms(secret: &str) -> Vec<String> {
    use base64::Engine as _;
    let mut forms = vec![secret.to_string()];
    let quoted = serde_json::to_string(secret).unwrap_or_default();
    if let Some(escaped) = quoted.get(1..quoted.len().saturating_sub(1)) {
        forms.push(escaped.to_string());
    }
    if secret.contains('\n') {
        forms.extend(
            secret
                .lines()
                .map(|l| l.trim_end_matches('\r').trim())
                .filter(|l| l.len() >= MIN_SECRET_LINE && !is_pem_armor(l))
                .map(String::from),
        );
    }
    forms.push(secret.to_uppercase());
    forms.push(secret.to_lowercase());
    forms.push(base64::engine::general_purpose::STANDARD.encode(secret));
    let mut seen = std::collections::HashSet::new();
    forms.retain(|f| !f.is_empty() && seen.insert(f.clone()));
    forms
}

impl Redactor {
    /// An empty redactor.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a secret, with the forms it is commonly printed in (see
    /// [`secret_forms`]). Empty strings are ignored (they would match
    /// everywhere). Every occurrence of every form is masked, overlapping
    /// ones as one, so a secret that contains another is scrubbed whole.
    pub fn add(&self, secret: impl Into<String>) {
        let secret = secret.into();
        if secret.is_empty() {
            return;
        }
        let mut secrets = self.secrets.write().unwrap_or_else(|e| e.into_inner());
        let mut added = false;
        for form in secret_forms(&secret) {
            added |= secrets.insert(form);
        }
        if added {
            secrets.rebuild();
        }
    }

    /// Registers a text that is never masked inside: the name of a file
    /// kiln prints itself (the template, its files, var files). A secret
    /// that is the whole protected text is still masked.
    pub fn protect(&self, text: impl Into<String>) {
        let text = text.into();
        if text.is_empty() {
            return;
        }
        let mut protected = self.protected.write().unwrap_or_else(|e| e.into_inner());
        if !protected.contains(&text) {
            protected.push(text);
        }
    }

    /// Replaces every registered secret in `text` with [`REDACTED`], by the
    /// rules in the type's documentation. Overlapping matches of several
    /// secrets are masked as one.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let secrets = self.secrets.read().unwrap_or_else(|e| e.into_inner());
        let found = secrets.find(text);
        let mut hits: Vec<(usize, usize)> = Vec::new();
        let mut shields: Option<Vec<(usize, usize)>> = None;
        for (form, start, end) in found {
            if looks_like_a_word(&secrets.forms[form])
                && (!whole_token(text, start, end) || in_an_existing_path(text, start, end))
            {
                continue;
            }
            let shields = shields.get_or_insert_with(|| self.protected_ranges(text));
            if shields
                .iter()
                .any(|&(s, e)| s <= start && end <= e && e - s > end - start)
            {
                continue;
            }
            hits.push((start, end));
        }
        if hits.is_empty() {
            return Cow::Borrowed(text);
        }
        hits.sort_unstable();
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        let mut i = 0;
        while i < hits.len() {
            let (start, mut end) = hits[i];
            while i + 1 < hits.len() && hits[i + 1].0 < end {
                i += 1;
                end = end.max(hits[i].1);
            }
            // Hits are sorted and merged, so each starts at or after `at`.
            out.push_str(&text[at..start]);
            out.push_str(REDACTED);
            at = end;
            i += 1;
        }
        out.push_str(&text[at..]);
        Cow::Owned(out)
    }

    /// Where the protected texts occur in `text`.
    fn protected_ranges(&self, text: &str) -> Vec<(usize, usize)> {
        let protected = self.protected.read().unwrap_or_else(|e| e.into_inner());
        protected
            .iter()
            .flat_map(|p| {
                text.match_indices(p.as_str())
                    .map(|(i, _)| (i, i + p.len()))
            })
            .collect()
    }

    /// True when no secret is registered.
    pub fn is_empty(&self) -> bool {
        self.secrets
            .read()
            .map(|s| s.forms.is_empty())
            .unwrap_or(true)
    }
}

/// A [`Ui`] that records every call; for unit tests of components.
#[derive(Default)]
pub struct RecordingUi {
    lines: std::sync::Mutex<Vec<String>>,
    answers: std::sync::Mutex<Vec<String>>,
}

impl RecordingUi {
    /// A recording UI whose `ask` returns `answers` in order.
    pub fn with_answers(answers: &[&str]) -> Self {
        RecordingUi {
            lines: Default::default(),
            answers: std::sync::Mutex::new(answers.iter().rev().map(|s| s.to_string()).collect()),
        }
    }

    /// Everything recorded so far, one entry per call, prefixed by kind.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn push(&self, line: String) {
        self.lines
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(line);
    }
}

#[async_trait]
impl Ui for RecordingUi {
    fn say(&self, message: &str) {
        self.push(format!("say: {message}"));
    }
    fn message(&self, message: &str) {
        self.push(format!("message: {message}"));
    }
    fn error(&self, message: &str) {
        self.push(format!("error: {message}"));
    }
    fn machine(&self, kind: &str, args: &[&str]) {
        self.push(format!("machine: {kind},{}", args.join(",")));
    }
    fn step_started(&self, step: &str) {
        self.push(format!("step: {step}"));
    }
    async fn ask(&self, question: &str) -> Result<String, UiError> {
        self.push(format!("ask: {question}"));
        self.answers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop()
            .ok_or_else(|| UiError::NotInteractive(question.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_progress_reader_reports_what_was_read() {
        use tokio::io::AsyncReadExt;
        #[derive(Default)]
        struct Progress(std::sync::Mutex<Vec<(String, u64, u64)>>);
        #[async_trait]
        impl Ui for Progress {
            fn say(&self, _: &str) {}
            fn message(&self, _: &str) {}
            fn error(&self, _: &str) {}
            fn machine(&self, _: &str, _: &[&str]) {}
            fn progress(&self, label: &str, done: u64, total: u64) {
                self.0.lock().unwrap().push((label.into(), done, total));
            }
            async fn ask(&self, q: &str) -> Result<String, UiError> {
                Err(UiError::NotInteractive(q.into()))
            }
        }
        let ui = Progress::default();
        let mut r = ProgressReader::new(&b"hello"[..], &ui, "upload", 5);
        let mut out = Vec::new();
        r.read_to_end(&mut out).await.unwrap();
        assert_eq!(out, b"hello");
        assert_eq!(*ui.0.lock().unwrap(), vec![("upload".to_string(), 5, 5)]);
    }

    #[test]
    fn redacts_longest_first() {
        let r = Redactor::new();
        r.add("abc");
        r.add("abcdef");
        r.add("");
        assert_eq!(r.redact("x abcdef y abc"), "x <sensitive> y <sensitive>");
        assert_eq!(r.redact("nothing here"), "nothing here");
    }

    #[test]
    fn secrets_that_share_a_long_prefix_are_each_masked_whole() {
        let r = Redactor::new();
        r.add("0123456789abcdef-first");
        r.add("0123456789abcdef-second-one");
        r.add("0123456789abcdef-first");
        assert_eq!(
            r.redact("a 0123456789abcdef-second-one b 0123456789abcdef-first c 0123456789abcdef-x"),
            "a <sensitive> b <sensitive> c 0123456789abcdef-x"
        );
    }

    #[test]
    fn thousands_of_secrets_are_all_masked_across_both_automata() {
        // More forms than one pending automaton holds, so that some are in
        // the large automaton and some in the small one; every one of them,
        // the first and the last added, is masked, and overlapping forms of
        // different secrets are masked as one.
        let r = Redactor::new();
        let secrets: Vec<String> = (0..800)
            .map(|i| format!("tok-{i:04}-{}", i * 7919))
            .collect();
        for s in &secrets {
            r.add(s.clone());
        }
        {
            let inner = r.secrets.read().unwrap();
            assert!(inner.sealed_len > 0, "the large automaton holds some forms");
            assert!(
                inner.forms.len() > inner.sealed_len,
                "the small one the rest"
            );
        }
        for s in [&secrets[0], &secrets[400], &secrets[799]] {
            assert_eq!(r.redact(&format!("[{s}]")), "[<sensitive>]");
            assert_eq!(
                r.redact(&format!("[{}]", s.to_uppercase())),
                "[<sensitive>]"
            );
        }
        r.add("0799-6");
        assert_eq!(
            r.redact(&format!("a {} b", secrets[799])),
            "a <sensitive> b"
        );
        assert_eq!(r.redact("nothing"), "nothing");
    }

    #[test]
    fn lines_case_forms_and_base64_of_a_secret_are_masked() {
        let r = Redactor::new();
        r.add("-----BEGIN KEY-----\nMIIEowIBAAKCAQEA1x\nq2Zz\n-----END KEY-----\n");
        assert_eq!(r.redact("line: MIIEowIBAAKCAQEA1x"), "line: <sensitive>");
        // The armor is the same in every key.
        assert_eq!(r.redact("-----BEGIN KEY-----"), "-----BEGIN KEY-----");
        // Too short a line to mask on its own.
        assert_eq!(r.redact("q2Zz"), "q2Zz");
        let r = Redactor::new();
        r.add("s3cr3t-Pass");
        assert_eq!(
            r.redact("S3CR3T-PASS s3cr3t-pass"),
            "<sensitive> <sensitive>"
        );
        // base64("s3cr3t-Pass")
        assert_eq!(r.redact("Basic czNjcjN0LVBhc3M="), "Basic <sensitive>");
        // As a JSON or HCL string literal writes it.
        let r = Redactor::new();
        r.add("pa\"ss\\word\nline-two");
        assert_eq!(
            r.redact(r#"  "password": "pa\"ss\\word\nline-two","#),
            r#"  "password": "<sensitive>","#
        );
    }

    #[test]
    fn word_secrets_are_masked_as_whole_tokens_only() {
        let r = Redactor::new();
        r.add("freebsd");
        assert_eq!(r.redact("freebsd"), "<sensitive>");
        assert_eq!(
            r.redact("echo freebsd; pw=freebsd, 'freebsd'"),
            "echo <sensitive>; pw=<sensitive>, '<sensitive>'"
        );
        // Inside unrelated words it is left alone.
        assert_eq!(
            r.redact("freebsdx myfreebsd freebsd_14 freebsd2"),
            "freebsdx myfreebsd freebsd_14 freebsd2"
        );
        // A path separator or dash is not a word character: the value is
        // masked there unless the path is protected.
        assert_eq!(r.redact("/usr/freebsd/x"), "/usr/<sensitive>/x");
    }

    #[test]
    fn other_secrets_are_masked_inside_longer_strings() {
        let r = Redactor::new();
        r.add("Zq7xK2pL9mW4");
        r.add("dXNlcjpzM2NyM3Q");
        r.add("hunter2");
        assert_eq!(
            r.redact("https://bot:Zq7xK2pL9mW4@example.com/x?t=prefixZq7xK2pL9mW4suffix"),
            "https://bot:<sensitive>@example.com/x?t=prefix<sensitive>suffix"
        );
        assert_eq!(
            r.redact("Authorization: Basic dXNlcjpzM2NyM3Q="),
            "Authorization: Basic <sensitive>="
        );
        assert_eq!(r.redact("xhunter2x"), "x<sensitive>x");
        // Longer than a word: substring masking.
        let long = "abcdefghijklmnopqrstuvwxyz";
        r.add(long);
        assert_eq!(r.redact(&format!("k{long}k")), "k<sensitive>k");
    }

    #[test]
    fn protected_file_names_are_never_masked_inside() {
        let r = Redactor::new();
        r.add("freebsd");
        r.add("s3cr3t-2024");
        r.protect("./freebsd-14-aarch64.pkr.hcl");
        r.protect("tmpl/s3cr3t-2024.json");
        assert_eq!(
            r.redact("./freebsd-14-aarch64.pkr.hcl:3:5: ssh_password = \"freebsd\""),
            "./freebsd-14-aarch64.pkr.hcl:3:5: ssh_password = \"<sensitive>\""
        );
        assert_eq!(
            r.redact("--> tmpl/s3cr3t-2024.json:1:2 uses s3cr3t-2024"),
            "--> tmpl/s3cr3t-2024.json:1:2 uses <sensitive>"
        );
        // A protected text equal to a secret protects nothing.
        r.protect("freebsd");
        assert_eq!(r.redact("echo freebsd"), "echo <sensitive>");
    }

    #[test]
    fn a_word_secret_is_not_masked_inside_the_path_of_a_file_that_exists() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("out");
        std::fs::create_dir(&out).unwrap();
        std::fs::write(out.join("freebsd-14.tar.gz"), "").unwrap();
        let r = Redactor::new();
        r.add("freebsd");
        r.add("s3cr3t-2024");
        let file = out.join("freebsd-14.tar.gz").display().to_string();
        for line in [
            format!("Archive {file} completed"),
            format!("compressed artifacts in: {file}"),
            format!("Stored file: {file}."),
            format!("files: [`{file}`]"),
        ] {
            assert_eq!(r.redact(&line), line);
        }
        // A file to be written in a directory that exists.
        let to_be = out.join("freebsd-15.tar.gz").display().to_string();
        assert_eq!(
            r.redact(&format!("writing {to_be}")),
            format!("writing {to_be}")
        );
        // A path in a directory that does not exist, a file named just the
        // value, the word on its own or next to a path, and a secret that
        // is not a word are masked as before.
        let missing = d
            .path()
            .join("nowhere/freebsd-15.tar.gz")
            .display()
            .to_string();
        assert_eq!(
            r.redact(&format!("wrote {missing}")),
            format!("wrote {}", missing.replace("freebsd", REDACTED))
        );
        let named = out.join("freebsd").display().to_string();
        assert_eq!(
            r.redact(&format!("key in {named}")),
            format!("key in {}", named.replace("freebsd", REDACTED))
        );
        assert_eq!(r.redact("pw=freebsd."), format!("pw={REDACTED}."));
        assert_eq!(
            r.redact(&format!("{file} freebsd")),
            format!("{file} {REDACTED}")
        );
        std::fs::write(out.join("s3cr3t-2024.txt"), "").unwrap();
        let strong = out.join("s3cr3t-2024.txt").display().to_string();
        assert_eq!(r.redact(&strong), strong.replace("s3cr3t-2024", REDACTED));
    }

    #[test]
    fn overlapping_secrets_are_masked_as_one() {
        let r = Redactor::new();
        r.add("abc1");
        r.add("c1de");
        r.add("sensitive!");
        assert_eq!(r.redact("xabc1dey"), "x<sensitive>y");
        // A secret never matches the placeholder kiln wrote.
        assert_eq!(r.redact("abc1 sensitive!"), "<sensitive> <sensitive>");
    }
}
