//! `Secret<T>`: a value that never reaches `Display` or `Debug`.
//!
//! Wrap every password, token and private key in a config struct with
//! `Secret`. Its `Debug` prints `<sensitive>` and it has no `Display`, so a
//! secret can only leave through [`Secret::expose`], which marks the boundary
//! in code review. Components also register their secrets with the UI via
//! [`crate::ui::Redactor`] so that text produced by child processes is
//! scrubbed too.

use serde::{Deserialize, Deserializer};

/// A sensitive value. See the module docs.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wraps a sensitive value.
    pub fn new(value: T) -> Self {
        Secret(value)
    }

    /// Returns the sensitive value. Call this only where the value is needed
    /// (to authenticate, to pass to a child process), never to print it.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> std::fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<sensitive>")
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Secret<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(deserializer).map(Secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let s = Secret::new("hunter2".to_string());
        assert_eq!(format!("{s:?}"), "<sensitive>");
        assert_eq!(s.expose(), "hunter2");
    }
}
