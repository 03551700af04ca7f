//! The live view: on a terminal, one status line per running build (its
//! current step and elapsed time) kept below the log. Before any log line
//! is written the status block is erased, and it is redrawn after, so the
//! log itself is never garbled and scrolls as usual.

use std::io::Write;
use std::time::Instant;

struct Entry {
    build: String,
    step: String,
    started: Instant,
}

/// The status block's state.
#[derive(Default)]
pub struct LiveView {
    entries: Vec<Entry>,
    drawn: usize,
}

impl LiveView {
    /// Sets a build's step; `None` removes the build (it finished).
    pub fn set(&mut self, build: &str, step: Option<&str>) {
        match (self.entries.iter_mut().find(|e| e.build == build), step) {
            (Some(e), Some(s)) => e.step = s.to_string(),
            (None, Some(s)) => self.entries.push(Entry {
                build: build.to_string(),
                step: s.to_string(),
                started: Instant::now(),
            }),
            (_, None) => self.entries.retain(|e| e.build != build),
        }
    }

    /// Erases the block drawn last.
    pub fn clear(&mut self, out: &mut dyn Write) {
        if self.drawn > 0 {
            let _ = write!(out, "\x1b[{}F\x1b[J", self.drawn);
            self.drawn = 0;
        }
    }

    /// Draws the block (at most 20 lines, then a summary line).
    pub fn draw(&mut self, out: &mut dyn Write) {
        if self.entries.is_empty() {
            let _ = out.flush();
            return;
        }
        let width = self
            .entries
            .iter()
            .map(|e| e.build.len())
            .max()
            .unwrap_or(0);
        let shown = self.entries.len().min(20);
        for e in &self.entries[..shown] {
            let secs = e.started.elapsed().as_secs_f64();
            let _ = writeln!(
                out,
                "\x1b[2m  ▸ {:<width$}  {:<24} {secs:>6.1}s\x1b[0m",
                e.build, e.step
            );
        }
        self.drawn = shown;
        if self.entries.len() > shown {
            let _ = writeln!(
                out,
                "\x1b[2m  … and {} more builds running\x1b[0m",
                self.entries.len() - shown
            );
            self.drawn += 1;
        }
        let _ = out.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clears_exactly_what_it_drew() {
        let mut v = LiveView::default();
        let mut buf = Vec::new();
        v.set("a", Some("StepProvision"));
        v.set("b", Some("StepCreate"));
        v.draw(&mut buf);
        assert_eq!(String::from_utf8_lossy(&buf).lines().count(), 2);
        buf.clear();
        v.clear(&mut buf);
        assert_eq!(String::from_utf8_lossy(&buf), "\x1b[2F\x1b[J");
        v.set("a", None);
        buf.clear();
        v.draw(&mut buf);
        assert!(String::from_utf8_lossy(&buf).contains("b "));
        assert!(!String::from_utf8_lossy(&buf).contains("a "));
    }
}
