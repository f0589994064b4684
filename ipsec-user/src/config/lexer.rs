//! Splits a running-config into lines of words, remembering each word's
//! column and whether the line is indented (a sub-mode line, as the ASA
//! prints ` nameif outside` under `interface`).
//!
//! The ASA has no quoting and no inline comments: `!` and `:` start a
//! comment only as the first character of a line (`: Saved`, `!`), so a
//! pre-shared key may contain `!`.

/// One word and its 1-based column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Word<'a> {
    pub text: &'a str,
    pub col: usize,
}

impl Word<'_> {
    /// Case-insensitive keyword comparison (ASA keywords are).
    pub fn is(&self, kw: &str) -> bool {
        self.text.eq_ignore_ascii_case(kw)
    }

    pub fn lower(&self) -> String {
        self.text.to_ascii_lowercase()
    }
}

/// A non-empty, non-comment line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line<'a> {
    /// 1-based line number in the input.
    pub number: usize,
    /// Starts with whitespace: belongs to the sub-mode opened above.
    pub indented: bool,
    pub words: Vec<Word<'a>>,
    /// The line without its trailing whitespace (for the ignored list).
    pub text: &'a str,
}

impl Line<'_> {
    /// Column just past the last word: where a missing argument goes.
    pub fn end_col(&self) -> usize {
        self.words
            .last()
            .map_or(1, |w| w.col + w.text.chars().count())
    }
}

/// Lines worth parsing, in order. Blank lines and comments are dropped.
pub fn lex(text: &str) -> Vec<Line<'_>> {
    let mut out = Vec::new();
    for (idx, raw) in text.split('\n').enumerate() {
        let line = raw.trim_end();
        let body = line.trim_start();
        if body.is_empty() || body.starts_with('!') || body.starts_with(':') {
            continue;
        }
        let mut words = Vec::new();
        let mut col = 0usize;
        let mut start: Option<(usize, usize)> = None; // (byte offset, column)
        for (off, ch) in line.char_indices() {
            col += 1;
            if ch.is_whitespace() {
                if let Some((s, c)) = start.take() {
                    words.push(Word {
                        text: &line[s..off],
                        col: c,
                    });
                }
            } else if start.is_none() {
                start = Some((off, col));
            }
        }
        if let Some((s, c)) = start {
            words.push(Word {
                text: &line[s..],
                col: c,
            });
        }
        let indented = line.starts_with(char::is_whitespace);
        out.push(Line {
            number: idx + 1,
            indented,
            words,
            text: line,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_and_columns() {
        let lines =
            lex(": Saved\r\n!\ninterface wan0\r\n nameif  outside\n\n  pre-shared-key a!b\n");
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0].number, 3);
        assert!(!lines[0].indented);
        assert_eq!(
            lines[0].words[1],
            Word {
                text: "wan0",
                col: 11
            }
        );
        assert_eq!(lines[1].number, 4);
        assert!(lines[1].indented);
        assert_eq!(
            lines[1].words[0],
            Word {
                text: "nameif",
                col: 2
            }
        );
        assert_eq!(
            lines[1].words[1],
            Word {
                text: "outside",
                col: 10
            }
        );
        assert_eq!(lines[1].end_col(), 17);
        assert_eq!(lines[2].words[1].text, "a!b");
        assert_eq!(lines[2].text, "  pre-shared-key a!b");
    }

    #[test]
    fn columns_count_characters() {
        let lines = lex("name 192.0.2.1 é-host\tdescription x");
        assert_eq!(
            lines[0].words[2],
            Word {
                text: "é-host",
                col: 16
            }
        );
        assert_eq!(lines[0].words[3].col, 23);
    }
}
