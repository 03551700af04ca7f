//! The UI layer: every line kiln prints goes through [`Output`], which
//! formats it for the chosen mode (Packer's human output, `-machine-readable`
//! lines, or JSON events), scrubs every registered secret, and, on a
//! terminal, keeps a live status view of the running builds below the log
//! without garbling it: every line, to stdout or stderr, goes through one
//! writer that erases the status block, prints the line and redraws the
//! block (see [`live`]), and the block is erased when the output is dropped.
//!
//! [`BuildUi`] is the per-build [`Ui`] handed to components: it prefixes
//! lines with the build name and colour, as Packer's `TargetedUI` and
//! `ColoredUi` do.
//!
//! Output that belongs to no build goes through it too: a plugin's log and
//! test hooks' notes ([`kiln_sdk::ui::diagnostic`]), and a panic's message,
//! which the panic hook prints with secrets masked between an erase and a
//! redraw of the status block.

pub mod live;

use std::io::{BufRead, Write};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use kiln_sdk::ui::{Redactor, Ui, UiError};
use serde_json::json;

pub use live::LiveView;

/// How output is formatted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputMode {
    /// Packer's human output.
    Human {
        /// ANSI colours (`-color=false` turns them off).
        color: bool,
        /// `-timestamp-ui`: prefix each line with an RFC 3339 time.
        timestamp: bool,
    },
    /// `-machine-readable`: `timestamp,target,type,data…` lines.
    MachineReadable,
    /// `-events=json`: one JSON object per line.
    JsonEvents,
}

/// Packer's build colours, in its order.
const BUILD_COLORS: [u8; 5] = [32, 36, 35, 33, 34];
const RED: u8 = 31;

/// The kinds of UI line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// A headline.
    Say,
    /// Detail.
    Message,
    /// An error.
    Error,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Say => "say",
            Level::Message => "message",
            Level::Error => "error",
        }
    }
}

/// Escapes one machine-readable field as Packer does.
pub fn escape_machine(field: &str) -> String {
    field
        .replace(',', "%!(PACKER_COMMA)")
        .replace('\r', "\\r")
        .replace('\n', "\\n")
}

struct Sinks {
    stdout: Box<dyn Write + Send>,
    stderr: Box<dyn Write + Send>,
    live: Option<LiveView>,
}

impl Sinks {
    /// Runs `f` on the live view, if any, between erasing and redrawing
    /// the block.
    fn redraw(&mut self, f: impl FnOnce(&mut LiveView)) {
        let Some(l) = self.live.as_mut() else { return };
        let mut frame = Vec::new();
        l.clear(&mut frame);
        f(l);
        l.draw(&mut frame);
        let _ = self.stdout.write_all(&frame);
        let _ = self.stdout.flush();
    }
}

impl Drop for Sinks {
    /// Erases the status block, whatever way the run ended.
    fn drop(&mut self) {
        self.redraw(LiveView::remove_all);
    }
}

/// The output that takes panic messages ([`Output::take_stray_output`]).
static PROCESS_OUTPUT: Mutex<Option<Weak<Output>>> = Mutex::new(None);

/// Sends panic messages through [`PROCESS_OUTPUT`] (once per process).
/// With `RUST_BACKTRACE` set, or no output, Rust's own hook prints them.
fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let output = PROCESS_OUTPUT
                .try_lock()
                .ok()
                .and_then(|o| o.as_ref()?.upgrade());
            let backtrace = std::env::var_os("RUST_BACKTRACE").is_some_and(|v| v != "0");
            let printed = match output {
                Some(o) if !backtrace => o.panic_message(info),
                _ => false,
            };
            if !printed {
                previous(info);
            }
        }));
    });
}

/// Progress updates redraw the block at most this often (the ticker and
/// log lines redraw it too).
const PROGRESS_REDRAW: Duration = Duration::from_millis(200);

/// The process-wide output. Cheap to share (`Arc`).
pub struct Output {
    mode: OutputMode,
    redactor: Redactor,
    sinks: Mutex<Sinks>,
    ask_lock: tokio::sync::Mutex<()>,
    answers: Mutex<Option<Box<dyn BufRead + Send>>>,
}

impl Output {
    /// Output to the process's stdout and stderr. The live view is enabled
    /// when stdout is a terminal in human mode (unless `KILN_NO_LIVE` is set).
    pub fn stdio(mode: OutputMode, redactor: Redactor) -> Arc<Output> {
        use std::io::IsTerminal;
        let live = matches!(mode, OutputMode::Human { .. })
            && std::io::stdout().is_terminal()
            && std::env::var_os("KILN_NO_LIVE").is_none();
        let out = Output::new(
            mode,
            redactor,
            Box::new(std::io::stdout()),
            Box::new(std::io::stderr()),
            Box::new(std::io::BufReader::new(std::io::stdin())),
        );
        if live {
            let color = matches!(mode, OutputMode::Human { color: true, .. });
            out.sinks.lock().unwrap_or_else(|e| e.into_inner()).live = Some(LiveView::new(color));
        }
        let out = Arc::new(out);
        out.take_stray_output();
        out
    }

    /// Makes this the output of the lines that belong to no build
    /// ([`kiln_sdk::ui::diagnostic`]) and of panic messages, for as long as
    /// it lives.
    pub fn take_stray_output(self: &Arc<Self>) {
        let weak = Arc::downgrade(self);
        kiln_sdk::ui::set_diagnostic_sink(Some(Arc::new(move |line: &str| match weak.upgrade() {
            Some(o) => o.write(true, &o.redactor.redact(line)),
            None => eprintln!("{line}"),
        })));
        *PROCESS_OUTPUT.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::downgrade(self));
        install_panic_hook();
    }

    /// A panic's message, on stderr: masked, and with the status block
    /// erased before and drawn again after. The lock is only tried: the
    /// panicking thread may hold it (a panic while writing), and then the
    /// message goes out as Rust prints it.
    fn panic_message(&self, info: &std::panic::PanicHookInfo<'_>) -> bool {
        let mut s = match self.sinks.try_lock() {
            Ok(s) => s,
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return false,
        };
        let Sinks {
            stdout,
            stderr,
            live,
        } = &mut *s;
        let mut frame = Vec::new();
        if let Some(l) = live.as_mut() {
            l.clear(&mut frame);
            let _ = stdout.write_all(&frame);
            let _ = stdout.flush();
        }
        let thread = std::thread::current();
        let text = format!(
            "thread '{}' {info}\nnote: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n",
            thread.name().unwrap_or("<unnamed>")
        );
        let _ = stderr.write_all(self.redactor.redact(&text).as_bytes());
        let _ = stderr.flush();
        if let Some(l) = live.as_mut() {
            frame.clear();
            l.draw(&mut frame);
            let _ = stdout.write_all(&frame);
            let _ = stdout.flush();
        }
        true
    }

    /// Output to the given writers with a live view drawn on `stdout`, which
    /// [`LiveView::with_size`] describes (tests).
    pub fn with_live_view(
        mode: OutputMode,
        redactor: Redactor,
        stdout: Box<dyn Write + Send>,
        stderr: Box<dyn Write + Send>,
        live: LiveView,
    ) -> Output {
        let out = Output::new(mode, redactor, stdout, stderr, Box::new(std::io::empty()));
        out.sinks.lock().unwrap_or_else(|e| e.into_inner()).live = Some(live);
        out
    }

    /// Output to the given writers (tests), with answers read from `input`.
    pub fn new(
        mode: OutputMode,
        redactor: Redactor,
        stdout: Box<dyn Write + Send>,
        stderr: Box<dyn Write + Send>,
        input: Box<dyn BufRead + Send>,
    ) -> Output {
        Output {
            mode,
            redactor,
            sinks: Mutex::new(Sinks {
                stdout,
                stderr,
                live: None,
            }),
            ask_lock: tokio::sync::Mutex::new(()),
            answers: Mutex::new(Some(input)),
        }
    }

    /// The output mode.
    pub fn mode(&self) -> OutputMode {
        self.mode
    }

    /// The redactor every line passes through.
    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    fn color(&self) -> bool {
        matches!(self.mode, OutputMode::Human { color: true, .. })
    }

    /// Writes one line (or several joined by `\n`). With a live view, the
    /// block is erased before and redrawn after, and the erase reaches the
    /// terminal before a line written to stderr does (the streams are
    /// buffered apart; out of order, the erase would wipe the line).
    fn write(&self, to_stderr: bool, text: &str) {
        let mut s = self.sinks.lock().unwrap_or_else(|e| e.into_inner());
        let Sinks {
            stdout,
            stderr,
            live,
        } = &mut *s;
        // Output errors (a closed pipe) must never take a build down.
        let Some(l) = live.as_mut() else {
            let w: &mut dyn Write = if to_stderr {
                stderr.as_mut()
            } else {
                stdout.as_mut()
            };
            let _ = w.write_all(text.as_bytes());
            let _ = w.write_all(b"\n");
            let _ = w.flush();
            return;
        };
        let mut frame = Vec::new();
        l.clear(&mut frame);
        if to_stderr {
            let _ = stdout.write_all(&frame);
            let _ = stdout.flush();
            frame.clear();
            let _ = stderr.write_all(text.as_bytes());
            let _ = stderr.write_all(b"\n");
            let _ = stderr.flush();
        } else {
            frame.extend_from_slice(text.as_bytes());
            frame.push(b'\n');
        }
        l.draw(&mut frame);
        let _ = stdout.write_all(&frame);
        let _ = stdout.flush();
    }

    fn machine_line(&self, target: &str, kind: &str, args: &[&str]) -> String {
        let mut line = format!(
            "{},{},{}",
            chrono::Utc::now().timestamp(),
            escape_machine(target),
            escape_machine(kind)
        );
        for a in args {
            line.push(',');
            line.push_str(&escape_machine(&self.redactor.redact(a)));
        }
        line
    }

    fn decorate(&self, text: &str, color: Option<u8>, bold: bool) -> String {
        let text = match self.mode {
            OutputMode::Human {
                timestamp: true, ..
            } => {
                format!(
                    "{}: {text}",
                    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ")
                )
            }
            _ => text.to_string(),
        };
        match color {
            Some(c) if self.color() => {
                format!("\x1b[{};{c}m{text}\x1b[0m", if bold { 1 } else { 0 })
            }
            _ => text,
        }
    }

    /// A line that belongs to no build (`==> Wait completed…`).
    pub fn line(&self, level: Level, text: &str) {
        self.line_colored(level, text, None, None);
    }

    /// A line with an optional colour and machine-readable target. `build`
    /// names the build for JSON events.
    pub fn line_colored(&self, level: Level, text: &str, color: Option<u8>, build: Option<&str>) {
        let text = self.redactor.redact(text);
        match self.mode {
            OutputMode::Human { .. } => {
                let color = if level == Level::Error {
                    Some(RED)
                } else {
                    color
                };
                let bold = level != Level::Message;
                let decorated = self.decorate(&text, color, bold);
                self.write(level == Level::Error, &decorated);
            }
            OutputMode::MachineReadable => {
                let l = self.machine_line("", "ui", &[level.as_str(), &text]);
                self.write(false, &l);
            }
            OutputMode::JsonEvents => {
                self.event(
                    json!({"type": "ui", "level": level.as_str(), "build": build, "message": text}),
                );
            }
        }
    }

    /// A machine-readable record; ignored by the human output.
    pub fn machine(&self, target: &str, kind: &str, args: &[&str]) {
        if self.mode == OutputMode::MachineReadable {
            let l = self.machine_line(target, kind, args);
            self.write(false, &l);
        }
    }

    /// A structured event (JSON events mode only). Every string in it is
    /// redacted.
    pub fn event(&self, mut event: serde_json::Value) {
        if self.mode != OutputMode::JsonEvents {
            return;
        }
        redact_json(&mut event, &self.redactor);
        if let Some(o) = event.as_object_mut() {
            o.insert(
                "time".into(),
                json!(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
            );
        }
        self.write(false, &event.to_string());
    }

    fn sinks(&self) -> std::sync::MutexGuard<'_, Sinks> {
        self.sinks.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Updates the live view: `build` is now at `step` (`None`: finished).
    pub fn status(&self, build: &str, step: Option<&str>) {
        self.sinks().redraw(|l| l.set_step(build, step));
    }

    /// Updates the live view: what `build` does inside its step.
    pub fn activity(&self, build: &str, what: Option<&str>) {
        self.sinks().redraw(|l| l.set_activity(build, what));
    }

    /// Updates the live view: `build`'s transfer progress. Redraws at most
    /// every [`PROGRESS_REDRAW`], so it is cheap to call for every chunk.
    pub fn progress(&self, build: &str, label: &str, done: u64, total: u64) {
        let mut s = self.sinks();
        let Some(l) = s.live.as_mut() else { return };
        let finished = total > 0 && done >= total;
        if l.drawn_within(PROGRESS_REDRAW) && !finished {
            l.set_progress(build, label, done, total);
        } else {
            s.redraw(|l| l.set_progress(build, label, done, total));
        }
    }

    /// Redraws the live view (elapsed times, a resized terminal); called by
    /// a ticker.
    pub fn tick(&self) {
        self.sinks().redraw(|_| {});
    }

    /// Erases the live view and stops drawing it (`true`), or draws it
    /// again (`false`); while a question waits for its answer.
    fn pause_live_view(&self, paused: bool) {
        self.sinks().redraw(|l| l.pause(paused));
    }

    /// True when a live view is shown.
    pub fn has_live_view(&self) -> bool {
        self.sinks().live.is_some()
    }

    /// Asks a question and reads one answer line. One question at a time.
    pub async fn ask(&self, question: &str) -> Result<String, UiError> {
        if self.mode != OutputMode::MachineReadable && self.mode != OutputMode::JsonEvents {
            // fallthrough below
        } else {
            return Err(UiError::NotInteractive(question.to_string()));
        }
        let _guard = self.ask_lock.lock().await;
        self.line(Level::Say, question);
        // The answer's echo moves the cursor: no block below it meanwhile.
        self.pause_live_view(true);
        let result = self.read_answer(question).await;
        self.pause_live_view(false);
        result
    }

    async fn read_answer(&self, question: &str) -> Result<String, UiError> {
        let input = self
            .answers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let Some(mut input) = input else {
            return Err(UiError::NotInteractive(question.to_string()));
        };
        let (input, result) = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            let r = input.read_line(&mut line);
            (input, r.map(|n| (n, line)))
        })
        .await
        .map_err(|e| UiError::Io(std::io::Error::other(e.to_string())))?;
        *self.answers.lock().unwrap_or_else(|e| e.into_inner()) = Some(input);
        match result {
            Ok((0, _)) => Err(UiError::NotInteractive(question.to_string())),
            Ok((_, line)) => Ok(line.trim_end_matches(['\n', '\r']).to_string()),
            Err(e) => Err(UiError::Io(e)),
        }
    }
}

fn redact_json(v: &mut serde_json::Value, r: &Redactor) {
    match v {
        serde_json::Value::String(s) => {
            if let std::borrow::Cow::Owned(o) = r.redact(s) {
                *s = o;
            }
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(|x| redact_json(x, r)),
        serde_json::Value::Object(m) => m.values_mut().for_each(|x| redact_json(x, r)),
        _ => {}
    }
}

/// The [`Ui`] of one build.
pub struct BuildUi {
    output: Arc<Output>,
    name: String,
    /// The build's line in the live view (a retargeted UI keeps it).
    live_key: String,
    color: u8,
    started: Instant,
}

impl BuildUi {
    /// The UI for the `index`-th build called `name`.
    pub fn new(output: Arc<Output>, name: &str, index: usize) -> Self {
        BuildUi {
            output,
            name: name.to_string(),
            live_key: name.to_string(),
            color: BUILD_COLORS[index % BUILD_COLORS.len()],
            started: Instant::now(),
        }
    }

    /// A UI for the same build, with another target in its prefix (Packer
    /// shows post-processor output as `==> build (type): …`).
    pub fn retarget(&self, target: &str) -> BuildUi {
        BuildUi {
            output: self.output.clone(),
            name: target.to_string(),
            live_key: self.live_key.clone(),
            color: self.color,
            started: self.started,
        }
    }

    /// The build's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The shared output.
    pub fn output(&self) -> &Arc<Output> {
        &self.output
    }

    /// When the build started.
    pub fn started(&self) -> Instant {
        self.started
    }

    fn prefixed(&self, arrow: bool, message: &str) -> String {
        let arrow = if arrow { "==>" } else { "   " };
        let mut out = String::new();
        for (i, line) in message.split('\n').enumerate() {
            if i > 0 {
                out.push('\n');
            }
            out.push_str(&format!(
                "{arrow} {}: {}",
                self.name,
                after_carriage_return(line)
            ));
        }
        out.trim_end().to_string()
    }

    /// A line in the build's colour without the `==> name:` prefix
    /// ("Build 'x' finished…").
    pub fn plain(&self, level: Level, text: &str) {
        self.output
            .line_colored(level, text, Some(self.color), Some(&self.name));
    }
}

/// What a terminal shows of `line` once its carriage returns have moved
/// the cursor back: the text after the last `\r` (a trailing one, from a
/// CRLF line end, is dropped). A progress meter (`10%\r50%\r100%`) thus
/// shows its last state, and a `\r` in a script's output cannot overwrite
/// the `    name:` prefix the line is printed after.
fn after_carriage_return(line: &str) -> &str {
    let line = line.strip_suffix('\r').unwrap_or(line);
    match line.rfind('\r') {
        Some(i) => &line[i + 1..],
        None => line,
    }
}

#[async_trait]
impl Ui for BuildUi {
    fn say(&self, message: &str) {
        let text = self.prefixed(true, message);
        self.output
            .line_colored(Level::Say, &text, Some(self.color), Some(&self.name));
    }

    fn message(&self, message: &str) {
        let text = self.prefixed(false, message);
        self.output
            .line_colored(Level::Message, &text, Some(self.color), Some(&self.name));
    }

    fn error(&self, message: &str) {
        let text = self.prefixed(true, message);
        self.output
            .line_colored(Level::Error, &text, Some(self.color), Some(&self.name));
    }

    fn machine(&self, kind: &str, args: &[&str]) {
        self.output.machine(&self.name, kind, args);
    }

    fn event(&self, mut event: serde_json::Value) {
        if let Some(o) = event.as_object_mut() {
            o.insert("build".into(), json!(self.name));
        }
        self.output.event(event);
    }

    fn step_started(&self, step: &str) {
        self.output.status(&self.live_key, Some(step));
        self.output
            .event(json!({"type": "step", "build": self.name, "step": step}));
    }

    fn activity(&self, what: Option<&str>) {
        self.output.activity(&self.live_key, what);
    }

    fn progress(&self, label: &str, done: u64, total: u64) {
        self.output.progress(&self.live_key, label, done, total);
    }

    async fn ask(&self, question: &str) -> Result<String, UiError> {
        self.output.ask(&self.prefixed(true, question)).await
    }
}

/// A writer into a shared buffer, for tests that capture output.
#[derive(Clone, Default)]
pub struct SharedBuffer(pub Arc<Mutex<Vec<u8>>>);

impl SharedBuffer {
    /// The captured text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }
}

impl Write for SharedBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_carriage_return_cannot_overwrite_the_prefix() {
        assert_eq!(after_carriage_return("10%\r50%\r100%"), "100%");
        assert_eq!(after_carriage_return("done\r"), "done");
        assert_eq!(after_carriage_return("\rXXXXXXXX"), "XXXXXXXX");
        assert_eq!(after_carriage_return("plain"), "plain");
    }

    fn out(mode: OutputMode) -> (Arc<Output>, SharedBuffer, SharedBuffer) {
        let (o, e) = (SharedBuffer::default(), SharedBuffer::default());
        let r = Redactor::new();
        r.add("hunter2");
        let output = Output::new(
            mode,
            r,
            Box::new(o.clone()),
            Box::new(e.clone()),
            Box::new(std::io::empty()),
        );
        (Arc::new(output), o, e)
    }

    #[test]
    fn human_lines_are_prefixed_and_redacted() {
        let (output, o, e) = out(OutputMode::Human {
            color: false,
            timestamp: false,
        });
        let ui = BuildUi::new(output, "web", 0);
        ui.say("Running\nsecond line");
        ui.message("pw hunter2");
        ui.error("boom");
        assert_eq!(
            o.text(),
            "==> web: Running\n==> web: second line\n    web: pw <sensitive>\n"
        );
        assert_eq!(e.text(), "==> web: boom\n");
    }

    #[test]
    fn colours_like_packer() {
        let (output, o, _) = out(OutputMode::Human {
            color: true,
            timestamp: false,
        });
        let ui = BuildUi::new(output, "a", 1);
        ui.say("x");
        ui.message("y");
        assert_eq!(
            o.text(),
            "\x1b[1;36m==> a: x\x1b[0m\n\x1b[0;36m    a: y\x1b[0m\n"
        );
    }

    #[test]
    fn machine_readable_escapes_and_redacts() {
        let (output, o, _) = out(OutputMode::MachineReadable);
        let ui = BuildUi::new(output.clone(), "b", 0);
        ui.say("a, b\nc hunter2");
        ui.machine("artifact", &["0", "id", "x,y"]);
        let text = o.text();
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].ends_with(",,ui,say,==> b: a%!(PACKER_COMMA) b\\n==> b: c <sensitive>"),
            "{text}"
        );
        assert!(
            lines[1].ends_with(",b,artifact,0,id,x%!(PACKER_COMMA)y"),
            "{text}"
        );
    }

    #[test]
    fn json_events_are_redacted() {
        let (output, o, _) = out(OutputMode::JsonEvents);
        let ui = BuildUi::new(output, "b", 0);
        ui.message("hunter2");
        ui.step_started("StepProvision");
        let text = o.text();
        let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(first["message"], "    b: <sensitive>");
        assert_eq!(first["build"], "b");
        assert!(text.contains("\"step\":\"StepProvision\""));
    }

    fn terminal() -> Option<(u16, u16)> {
        Some((40, 12))
    }

    /// stdout and stderr into one buffer, as on a terminal.
    fn live_output() -> (Output, SharedBuffer) {
        let screen = SharedBuffer::default();
        let output = Output::with_live_view(
            OutputMode::Human {
                color: false,
                timestamp: false,
            },
            Redactor::new(),
            Box::new(screen.clone()),
            Box::new(screen.clone()),
            LiveView::with_size(false, terminal),
        );
        (output, screen)
    }

    #[test]
    fn the_block_is_erased_before_every_line_on_either_stream() {
        let (output, screen) = live_output();
        let output = Arc::new(output);
        let ui = BuildUi::new(output.clone(), "web", 0);
        ui.step_started("StepProvision");
        ui.activity(Some("shell 1/2"));
        ui.message("out");
        ui.error("err");
        output.status("web", None);
        let text = screen.text();
        // Erase (one line), the line, the block again: stderr's line is
        // not written until the erase is out.
        let erase = live::tests::erase(1);
        let block = "  ▸ web  StepProvision · shell 1/2  0s\n";
        assert_eq!(
            text,
            format!(
                "  ▸ web  StepProvision  0s\n{erase}{block}{erase}    web: out\n{block}{erase}==> web: err\n{block}{erase}"
            )
        );
    }

    #[test]
    fn lines_of_no_build_erase_the_block_first_and_are_masked() {
        let (output, screen) = live_output();
        output.redactor().add("hunter2-plugin-token");
        let output = Arc::new(output);
        output.take_stray_output();
        output.status("web", Some("StepProvision"));
        kiln_sdk::ui::diagnostic("plugin: token=hunter2-plugin-token");
        let erase = live::tests::erase(1);
        let block = "  ▸ web  StepProvision  0s\n";
        assert_eq!(
            screen.text(),
            format!("{block}{erase}plugin: token=<sensitive>\n{block}")
        );
        kiln_sdk::ui::set_diagnostic_sink(None);
    }

    #[test]
    fn the_block_is_erased_when_the_output_goes() {
        let (output, screen) = live_output();
        output.status("web", Some("StepCreate"));
        output.progress("web", "upload", 1, 4);
        drop(output);
        assert!(
            screen.text().ends_with(&live::tests::erase(1)),
            "{:?}",
            screen.text()
        );
    }

    #[test]
    fn a_retargeted_ui_keeps_the_build_line() {
        let (output, screen) = live_output();
        let ui = BuildUi::new(Arc::new(output), "web", 0);
        ui.step_started("StepCreate");
        ui.retarget("web (compress)").step_started("StepCompress");
        let text = screen.text();
        assert!(text.ends_with("  ▸ web  StepCompress  0s\n"), "{text:?}");
        assert!(!text.contains("compress)"), "{text:?}");
    }

    #[tokio::test]
    async fn ask_reads_a_line_and_fails_on_eof() {
        let (o, e) = (SharedBuffer::default(), SharedBuffer::default());
        let output = Output::new(
            OutputMode::Human {
                color: false,
                timestamp: false,
            },
            Redactor::new(),
            Box::new(o),
            Box::new(e),
            Box::new(std::io::Cursor::new(b"r\n".to_vec())),
        );
        assert_eq!(output.ask("q?").await.unwrap(), "r");
        assert!(output.ask("q?").await.is_err());
    }
}
