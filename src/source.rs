//! A file's text and the map from byte offsets to 1-based lines and columns.
//!
//! Columns count Unicode scalar values, as the JSON contract says. A leading BOM
//! is kept in the text (so byte offsets stay true to the file) but not counted.

use std::path::PathBuf;
use std::sync::Arc;

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct Position {
    pub line: u32,
    pub column: u32,
}

#[derive(Debug)]
pub struct SourceFile {
    /// The path as the user should see it (relative to the working directory when below it).
    pub display_path: String,
    pub path: PathBuf,
    pub text: Arc<str>,
    line_starts: Vec<u32>,
}

impl SourceFile {
    pub fn new(path: PathBuf, display_path: String, text: String) -> Self {
        let mut line_starts = vec![0u32];
        for (i, b) in text.bytes().enumerate() {
            if b == b'\n' {
                line_starts.push(i as u32 + 1);
            }
        }
        SourceFile {
            display_path,
            path,
            text: Arc::from(text),
            line_starts,
        }
    }

    /// The 1-based line and column of a byte offset (clamped to the text).
    pub fn position(&self, offset: u32) -> Position {
        let offset = (offset as usize).min(self.text.len());
        let line = self.line_starts.partition_point(|&s| s as usize <= offset) - 1;
        let start = self.line_starts[line] as usize;
        let mut boundary = offset;
        while !self.text.is_char_boundary(boundary) {
            boundary -= 1;
        }
        let prefix = &self.text[start..boundary];
        let bom = usize::from(line == 0 && prefix.starts_with('\u{feff}'));
        Position {
            line: line as u32 + 1,
            column: (prefix.chars().count() - bom) as u32 + 1,
        }
    }

    /// The text of one 1-based line, without its line ending.
    pub fn line_text(&self, line: u32) -> &str {
        let i = (line as usize)
            .saturating_sub(1)
            .min(self.line_starts.len() - 1);
        let start = self.line_starts[i] as usize;
        let end = self
            .line_starts
            .get(i + 1)
            .map_or(self.text.len(), |&e| e as usize);
        self.text[start..end].trim_end_matches(['\n', '\r'])
    }

    /// The whole lines a span touches, from the start of its first line to the end
    /// of its last, without the final line ending.
    pub fn lines_of(&self, span: crate::ir::Span) -> &str {
        let r = span.range();
        let first = self.position(r.start as u32).line;
        let last = self.position(r.end.max(r.start) as u32).line;
        let start = self.line_starts[first as usize - 1] as usize;
        let end = self
            .line_starts
            .get(last as usize)
            .map_or(self.text.len(), |&e| e as usize);
        self.text
            .get(start..end)
            .unwrap_or("")
            .trim_end_matches(['\n', '\r'])
    }

    pub fn slice(&self, span: crate::ir::Span) -> &str {
        let r = span.range();
        self.text.get(r).unwrap_or("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> SourceFile {
        SourceFile::new("a.ts".into(), "a.ts".into(), text.into())
    }

    #[test]
    fn positions_count_characters_not_bytes() {
        let f = file("const é = 1;\nlet x = ü;\r\nend");
        assert_eq!(f.position(0), Position { line: 1, column: 1 });
        let x = f.text.find('x').unwrap() as u32;
        assert_eq!(f.position(x), Position { line: 2, column: 5 });
        let end = f.text.find("end").unwrap() as u32;
        assert_eq!(f.position(end), Position { line: 3, column: 1 });
        let after_e = f.text.find(" = 1").unwrap() as u32;
        assert_eq!(f.position(after_e), Position { line: 1, column: 8 });
        assert_eq!(f.line_text(2), "let x = ü;");
    }

    #[test]
    fn bom_is_not_a_column() {
        let f = file("\u{feff}await x;");
        let a = f.text.find("await").unwrap() as u32;
        assert_eq!(f.position(a), Position { line: 1, column: 1 });
    }
}
