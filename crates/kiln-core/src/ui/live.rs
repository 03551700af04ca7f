//! The live view: on a terminal, a status block below the log with one
//! line per running build: its name, current step, what it does inside the
//! step (`shell 2/3` while provisioning), its elapsed time and, during a
//! long transfer, a progress bar. It stores the running builds' states and
//! the widths of the lines it drew last, so that it can erase exactly them.
//!
//! How the log stays intact (the [`Output`](super::Output) writer applies
//! it to every line, stdout and stderr alike): erase the block, print the
//! line, redraw the block. The block never wraps (each line is cut to the
//! terminal's width, read at every draw), is never taller than the screen
//! minus two rows (so none of it scrolls into the history, where it could
//! not be erased), and its lines hold no control characters. After a
//! resize that narrowed the terminal, the lines drawn before it are counted
//! as the terminal reflows them (tmux, VTE, iTerm2, kitty, Alacritty and
//! Windows Terminal rewrap long lines), so the erase still covers them.
//! The escape sequences and the size come from `crossterm` and
//! `terminal_size`.

use std::io::Write;
use std::time::{Duration, Instant};

use crossterm::cursor::{MoveToNextLine, MoveToPreviousLine};
use crossterm::style::{Attribute, SetAttribute};
use crossterm::terminal::{Clear, ClearType};
use unicode_width::UnicodeWidthChar;

/// Reads the terminal's size as (columns, rows).
pub type SizeFn = fn() -> Option<(u16, u16)>;

/// The size of the terminal stdout is attached to.
fn stdout_size() -> Option<(u16, u16)> {
    let (terminal_size::Width(w), terminal_size::Height(h)) =
        terminal_size::terminal_size_of(std::io::stdout())?;
    Some((w, h))
}

/// The size assumed when the terminal does not report one.
const FALLBACK_SIZE: (u16, u16) = (80, 24);
/// At most this many lines, the last one a summary when builds are left out.
const MAX_LINES: usize = 20;
/// Build names wider than this, or than a third of the terminal, are cut
/// in the block (never in the log).
const MAX_NAME: usize = 32;
/// Cells of a progress bar, between its brackets.
const BAR: usize = 20;

struct Progress {
    label: String,
    done: u64,
    total: u64,
}

struct Entry {
    build: String,
    step: String,
    activity: Option<String>,
    progress: Option<Progress>,
    started: Instant,
}

/// The status block's state.
pub struct LiveView {
    entries: Vec<Entry>,
    /// The display width of each line on the screen now.
    drawn: Vec<usize>,
    color: bool,
    size: SizeFn,
    /// When the block was drawn last.
    drawn_at: Option<Instant>,
    /// While a question waits for its answer, the block is not drawn (the
    /// echo of the answer would move the cursor under it).
    paused: bool,
}

impl LiveView {
    /// A view of the terminal on stdout; `color` dims the block.
    pub fn new(color: bool) -> Self {
        Self::with_size(color, stdout_size)
    }

    /// A view that reads the terminal's size with `size` (tests).
    pub fn with_size(color: bool, size: SizeFn) -> Self {
        LiveView {
            entries: Vec::new(),
            drawn: Vec::new(),
            color,
            size,
            drawn_at: None,
            paused: false,
        }
    }

    fn entry(&mut self, build: &str) -> Option<&mut Entry> {
        self.entries.iter_mut().find(|e| e.build == build)
    }

    /// Sets a build's step (its activity and progress are cleared); `None`
    /// removes the build (it finished).
    pub fn set_step(&mut self, build: &str, step: Option<&str>) {
        let Some(step) = step else {
            self.entries.retain(|e| e.build != build);
            return;
        };
        match self.entry(build) {
            Some(e) => {
                e.step = step.to_string();
                e.activity = None;
                e.progress = None;
            }
            None => self.entries.push(Entry {
                build: build.to_string(),
                step: step.to_string(),
                activity: None,
                progress: None,
                started: Instant::now(),
            }),
        }
    }

    /// Forgets every build (the run is over).
    pub fn remove_all(&mut self) {
        self.entries.clear();
    }

    /// Sets what a build does inside its step (`shell 2/3`).
    pub fn set_activity(&mut self, build: &str, what: Option<&str>) {
        if let Some(e) = self.entry(build) {
            e.activity = what.map(String::from);
            e.progress = None;
        }
    }

    /// Sets a build's progress; a finished one (`done >= total > 0`) is
    /// removed.
    pub fn set_progress(&mut self, build: &str, label: &str, done: u64, total: u64) {
        if let Some(e) = self.entry(build) {
            e.progress = (total == 0 || done < total).then(|| Progress {
                label: label.to_string(),
                done,
                total,
            });
        }
    }

    /// True when the block was drawn less than `period` ago.
    pub fn drawn_within(&self, period: Duration) -> bool {
        self.drawn_at.is_some_and(|t| t.elapsed() < period)
    }

    /// Stops (`true`) or resumes drawing; the caller erases or redraws.
    pub fn pause(&mut self, paused: bool) {
        self.paused = paused;
    }

    fn size(&self) -> (usize, usize) {
        let (w, h) = (self.size)()
            .filter(|&(w, h)| w > 0 && h > 0)
            .unwrap_or(FALLBACK_SIZE);
        (usize::from(w), usize::from(h))
    }

    /// How many rows the block drawn last takes now that the terminal is
    /// `columns` wide: one per line, or more for a line the terminal
    /// rewrapped after it was narrowed.
    fn rows_on_screen(&self, columns: usize) -> usize {
        self.drawn
            .iter()
            .map(|&w| w.div_ceil(columns.max(1)).max(1))
            .sum()
    }

    /// Erases the block drawn last: moves to its first row, clears each of
    /// its rows and the cursor's row below them (where the terminal echoed
    /// a `^C`), and goes back to the first row. Rows are cleared one by one
    /// rather than with "erase to the end of the screen", which tmux turns
    /// into scrolling the whole screen into its history when the block
    /// starts in the top-left corner.
    pub fn clear(&mut self, out: &mut Vec<u8>) {
        if self.drawn.is_empty() {
            return;
        }
        let (columns, _) = self.size();
        let rows = u16::try_from(self.rows_on_screen(columns)).unwrap_or(u16::MAX);
        self.drawn.clear();
        let _ = crossterm::queue!(out, MoveToPreviousLine(rows));
        for _ in 0..rows {
            let _ = crossterm::queue!(out, Clear(ClearType::UntilNewLine), MoveToNextLine(1));
        }
        let _ = crossterm::queue!(
            out,
            Clear(ClearType::UntilNewLine),
            MoveToPreviousLine(rows)
        );
    }

    /// Draws the block below the cursor, which must be at the start of a
    /// line (after a log line, or where [`clear`](Self::clear) left it).
    pub fn draw(&mut self, out: &mut Vec<u8>) {
        self.drawn_at = Some(Instant::now());
        if self.paused || self.entries.is_empty() {
            return;
        }
        let (columns, rows) = self.size();
        // One column is left free: a line that fills the last column
        // leaves some terminals waiting to wrap.
        let room = columns.saturating_sub(1);
        let max_lines = MAX_LINES.min(rows.saturating_sub(2));
        if room < 8 || max_lines == 0 {
            return;
        }
        let shown = if self.entries.len() > max_lines {
            max_lines - 1
        } else {
            self.entries.len()
        };
        let name_width = self.entries[..shown]
            .iter()
            .map(|e| display_width(&e.build))
            .max()
            .unwrap_or(0)
            .min(MAX_NAME)
            .min(room / 3);
        let mut lines: Vec<String> = self.entries[..shown]
            .iter()
            .map(|e| render(e, name_width))
            .collect();
        if shown < self.entries.len() {
            lines.push(format!(
                "  … and {} more builds running",
                self.entries.len() - shown
            ));
        }
        for line in lines {
            let line = fit(&line, room);
            self.drawn.push(display_width(&line));
            if self.color {
                let _ = crossterm::queue!(out, SetAttribute(Attribute::Dim));
            }
            let _ = out.write_all(line.as_bytes());
            if self.color {
                let _ = crossterm::queue!(out, SetAttribute(Attribute::Reset));
            }
            let _ = out.write_all(b"\n");
        }
    }
}

/// One build's line, before it is cut to the terminal's width. The
/// progress bar comes last, so a narrow terminal cuts it first.
fn render(e: &Entry, name_width: usize) -> String {
    let mut s = format!(
        "  ▸ {}  {}",
        pad(&fit(&e.build, name_width), name_width),
        e.step
    );
    if let Some(a) = &e.activity {
        s.push_str(" · ");
        s.push_str(a);
    }
    s.push_str("  ");
    s.push_str(&elapsed(e.started.elapsed()));
    if let Some(p) = &e.progress {
        s.push_str("  ");
        s.push_str(&p.label);
        s.push(' ');
        if p.total > 0 {
            let filled = (p.done.min(p.total) as u128 * BAR as u128 / p.total as u128) as usize;
            let head = if filled < BAR { ">" } else { "" };
            s.push_str(&format!(
                "[{}{head}{}] {:>3}% {}/{}",
                "=".repeat(filled),
                " ".repeat(BAR - filled - head.len()),
                p.done.min(p.total) as u128 * 100 / p.total as u128,
                bytes(p.done),
                bytes(p.total)
            ));
        } else {
            s.push_str(&bytes(p.done));
        }
    }
    s
}

/// `12s`, `3m07s`, `1h02m`.
fn elapsed(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
    }
}

/// `512 B`, `1.5 KiB`, `12.3 MiB`, `4.0 GiB`.
fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

/// The columns `c` takes on a terminal; a control character is shown as
/// `?` (see [`fit`]), one column.
fn char_width(c: char) -> usize {
    if c.is_control() {
        1
    } else {
        c.width().unwrap_or(0)
    }
}

fn display_width(s: &str) -> usize {
    s.chars().map(char_width).sum()
}

/// `s` with its control characters replaced by `?` (a template's build
/// name must not move the cursor) and cut to `columns`, ending in `…` when
/// cut.
fn fit(s: &str, columns: usize) -> String {
    let clean = |c: char| if c.is_control() { '?' } else { c };
    if display_width(s) <= columns {
        return s.chars().map(clean).collect();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = char_width(c);
        if used + w + 1 > columns {
            break;
        }
        out.push(clean(c));
        used += w;
    }
    if columns > 0 {
        out.push('…');
    }
    out
}

fn pad(s: &str, columns: usize) -> String {
    let w = display_width(s);
    format!("{s}{}", " ".repeat(columns.saturating_sub(w)))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn narrow() -> Option<(u16, u16)> {
        Some((30, 10))
    }
    fn wide() -> Option<(u16, u16)> {
        Some((200, 50))
    }
    fn short() -> Option<(u16, u16)> {
        Some((80, 5))
    }

    fn text(buf: &[u8]) -> String {
        String::from_utf8_lossy(buf).into_owned()
    }

    /// What erasing a block of `rows` rows writes.
    pub(crate) fn erase(rows: usize) -> String {
        format!(
            "\x1b[{rows}F{}\x1b[K\x1b[{rows}F",
            "\x1b[K\x1b[1E".repeat(rows)
        )
    }

    #[test]
    fn clears_exactly_what_it_drew() {
        let mut v = LiveView::with_size(false, wide);
        let mut buf = Vec::new();
        v.set_step("a", Some("StepProvision"));
        v.set_step("b", Some("StepCreate"));
        v.draw(&mut buf);
        assert_eq!(text(&buf).lines().count(), 2);
        buf.clear();
        v.clear(&mut buf);
        assert_eq!(text(&buf), erase(2));
        // Nothing drawn, nothing erased.
        buf.clear();
        v.clear(&mut buf);
        assert_eq!(text(&buf), "");
        v.set_step("a", None);
        v.draw(&mut buf);
        assert!(text(&buf).contains("▸ b "), "{}", text(&buf));
        assert!(!text(&buf).contains("▸ a "), "{}", text(&buf));
    }

    #[test]
    fn lines_never_reach_the_last_column() {
        let mut v = LiveView::with_size(false, narrow);
        let name = "a-very-long-build-name-that-would-wrap-at-thirty-columns";
        v.set_step(name, Some("StepProvision"));
        v.set_activity(name, Some("shell 2/3"));
        let mut buf = Vec::new();
        v.draw(&mut buf);
        let out = text(&buf);
        assert_eq!(out.lines().count(), 1, "{out}");
        for line in out.lines() {
            assert!(display_width(line) <= 29, "`{line}` is too wide");
            assert!(line.ends_with('…'), "`{line}`");
        }
    }

    #[test]
    fn a_narrowed_terminal_is_erased_as_it_rewraps() {
        let mut v = LiveView::with_size(false, wide);
        v.set_step("build", Some("StepProvision"));
        v.set_activity("build", Some("shell-local 1/1"));
        let mut buf = Vec::new();
        v.draw(&mut buf);
        let width = v.drawn[0];
        assert!(width > 30 && width <= 60, "{width}");
        // The terminal shrank to 30 columns: the line now takes two rows.
        v.size = narrow;
        buf.clear();
        v.clear(&mut buf);
        assert_eq!(text(&buf), erase(2));
    }

    #[test]
    fn the_block_fits_the_screen_height() {
        let mut v = LiveView::with_size(false, short);
        for i in 0..6 {
            v.set_step(&format!("b{i}"), Some("StepProvision"));
        }
        let mut buf = Vec::new();
        v.draw(&mut buf);
        let out = text(&buf);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 3, "{out}");
        assert!(lines[2].contains("… and 4 more builds running"), "{out}");
    }

    #[test]
    fn shows_activity_elapsed_time_and_progress() {
        let mut v = LiveView::with_size(true, wide);
        v.set_step("b", Some("StepProvision"));
        v.set_activity("b", Some("shell 2/3"));
        v.set_progress("b", "upload", 5 << 20, 10 << 20);
        let mut buf = Vec::new();
        v.draw(&mut buf);
        let out = text(&buf);
        assert!(out.starts_with("\x1b[2m"), "{out:?}");
        assert!(out.trim_end().ends_with("\x1b[0m"), "{out:?}");
        assert!(
            out.contains("▸ b  StepProvision · shell 2/3  0s  upload [==========>         ]  50% 5.0 MiB/10.0 MiB"),
            "{out}"
        );
        // Done: the bar goes; a new step clears the activity.
        v.set_progress("b", "upload", 10 << 20, 10 << 20);
        v.set_step("b", Some("StepCleanup"));
        buf.clear();
        v.draw(&mut buf);
        let out = text(&buf);
        assert!(!out.contains("upload") && !out.contains("shell"), "{out}");
    }

    #[test]
    fn control_characters_never_reach_the_terminal() {
        assert_eq!(fit("a\x1b[2Jb", 40), "a?[2Jb");
        assert_eq!(fit("abcdef", 4), "abc…");
        assert_eq!(fit("日本語", 5), "日本…");
        assert_eq!(elapsed(Duration::from_secs(187)), "3m07s");
        assert_eq!(elapsed(Duration::from_secs(3720)), "1h02m");
        assert_eq!(bytes(1536), "1.5 KiB");
    }
}
