//! Diagnostics: errors, warnings and advice with a source position and an
//! optional hint, plus the "did you mean" suggestion by edit distance.

use std::fmt;

/// How bad a diagnostic is. Errors stop the load; warnings and advice don't.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Error,
    Warning,
    /// Information an engineer should know (e.g. lifetime negotiation).
    Advice,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Advice => "advice",
        })
    }
}

/// One message about the configuration. `line` and `column` are 1-based;
/// 0 means "not tied to a line" (or column) — e.g. a check on a [`Config`]
/// built in code.
///
/// [`Config`]: super::Config
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn error(line: usize, column: usize, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            line,
            column,
            message: message.into(),
            hint: None,
        }
    }

    pub fn warning(line: usize, column: usize, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            line,
            column,
            message: message.into(),
            hint: None,
        }
    }

    pub fn advice(line: usize, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Advice,
            line,
            column: 0,
            message: message.into(),
            hint: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Diagnostic {
        self.hint = Some(hint.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// `line 12, col 8: error: unknown hash `sha265` (did you mean `sha256`?)`
impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (0, _) => {}
            (l, 0) => write!(f, "line {l}: ")?,
            (l, c) => write!(f, "line {l}, col {c}: ")?,
        }
        write!(f, "{}: {}", self.severity, self.message)?;
        if let Some(h) = &self.hint {
            write!(f, " ({h})")?;
        }
        Ok(())
    }
}

/// Why a configuration did not load: every error found (the parser keeps
/// going after an error so one run shows them all), in line order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render(.errors))]
pub struct ConfigErrors {
    pub errors: Vec<Diagnostic>,
}

fn render(errors: &[Diagnostic]) -> String {
    let lines: Vec<String> = errors.iter().map(|d| d.to_string()).collect();
    lines.join("\n")
}

/// Edit distance counting an adjacent transposition as one edit (optimal
/// string alignment: `hsah` is one typo away from `hash`). Inputs are
/// keywords and words from one line, so quadratic cost is fine; long words
/// are cut at 64 chars.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().take(64).collect();
    let b: Vec<char> = b.chars().take(64).collect();
    // d[i][j]: distance between a[..i] and b[..j].
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

/// The closest candidate to `word` (case-insensitive), if it is close
/// enough to be a plausible typo: distance at most 2, and less than half
/// the word's length so `ah` does not "mean" `sha`.
pub fn closest<'c>(word: &str, candidates: &[&'c str]) -> Option<&'c str> {
    let w = word.to_ascii_lowercase();
    let (best, d) = candidates
        .iter()
        .map(|c| (*c, edit_distance(&w, &c.to_ascii_lowercase())))
        .min_by_key(|(_, d)| *d)?;
    (d > 0 && d <= 2 && d * 2 < w.chars().count().max(best.len())).then_some(best)
}

/// "did you mean `x`?" or the list of what is expected.
pub fn hint_for(word: &str, candidates: &[&str]) -> String {
    match closest(word, candidates) {
        Some(c) => format!("did you mean `{c}`?"),
        None => format!("expected one of: {}", candidates.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance() {
        assert_eq!(edit_distance("sha265", "sha256"), 1);
        assert_eq!(edit_distance("sha265", "sha526"), 2);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
        assert_eq!(edit_distance("hsah", "hash"), 1);
    }

    #[test]
    fn suggestions() {
        let hashes = ["md5", "sha", "sha256", "sha384", "sha512"];
        assert_eq!(closest("sha265", &hashes), Some("sha256"));
        assert_eq!(closest("SHA-256", &hashes), Some("sha256"));
        assert_eq!(closest("blake2", &hashes), None);
        assert_eq!(hint_for("sha265", &hashes), "did you mean `sha256`?");
        assert!(hint_for("zzz", &hashes).starts_with("expected one of: md5"));
    }

    #[test]
    fn display() {
        let d =
            Diagnostic::error(12, 8, "unknown hash `sha265`").with_hint("did you mean `sha256`?");
        assert_eq!(
            d.to_string(),
            "line 12, col 8: error: unknown hash `sha265` (did you mean `sha256`?)"
        );
        assert_eq!(
            Diagnostic::warning(3, 0, "x").to_string(),
            "line 3: warning: x"
        );
        assert_eq!(Diagnostic::advice(0, "y").to_string(), "advice: y");
    }
}
