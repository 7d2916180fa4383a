//! racelint's findings in the protocol's terms: byte offsets to UTF-16 line and
//! character positions (the protocol's default encoding) and back, file paths to
//! URIs, and a placed finding to an LSP diagnostic with its related spans, its
//! severity and its rule id.

use crate::diagnostic::{Diagnostic, RunError, Severity};
use crate::ir::Span;
use lsp_types::{
    CodeDescription, DiagnosticRelatedInformation, DiagnosticSeverity, Location, NumberOrString,
    Position, Range, TextDocumentContentChangeEvent, Url,
};
use std::path::PathBuf;

/// Line starts of one text, for turning byte offsets into protocol positions.
pub struct LineIndex<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    pub fn new(text: &'a str) -> LineIndex<'a> {
        let starts = std::iter::once(0)
            .chain(memchr::memchr_iter(b'\n', text.as_bytes()).map(|i| i + 1))
            .collect();
        LineIndex { text, starts }
    }

    /// The position of a byte offset; an offset past the end or inside a
    /// character is moved back to the nearest character boundary.
    pub fn position(&self, offset: usize) -> Position {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.starts.partition_point(|&s| s <= offset) - 1;
        let character = self.text[self.starts[line]..offset]
            .chars()
            .map(char::len_utf16)
            .sum::<usize>();
        Position::new(line as u32, character as u32)
    }

    pub fn range(&self, span: Span) -> Range {
        let r = span.range();
        Range::new(self.position(r.start), self.position(r.end.max(r.start)))
    }

    /// The byte offset of a position; a line past the end is the end of the
    /// text, a character past the end of its line is the line's end.
    pub fn offset(&self, position: Position) -> usize {
        let Some(&start) = self.starts.get(position.line as usize) else {
            return self.text.len();
        };
        let end = self
            .starts
            .get(position.line as usize + 1)
            .map_or(self.text.len(), |&next| next - 1);
        let mut units = 0usize;
        for (index, c) in self.text[start..end].char_indices() {
            if units >= position.character as usize {
                return start + index;
            }
            units += c.len_utf16();
        }
        end
    }

    /// The position of a 1-based line and column counted in characters, as
    /// racelint reports them.
    pub fn position_of_column(&self, line: u32, column: u32) -> Position {
        let Some(&start) = self.starts.get(line.saturating_sub(1) as usize) else {
            return self.position(self.text.len());
        };
        let offset = self.text[start..]
            .char_indices()
            .nth(column.saturating_sub(1) as usize)
            .map_or(self.text.len(), |(i, _)| start + i);
        self.position(offset)
    }

    /// The 0-based line's text, without its line break.
    pub fn line(&self, line: u32) -> &'a str {
        let Some(&start) = self.starts.get(line as usize) else {
            return "";
        };
        let end = self
            .starts
            .get(line as usize + 1)
            .map_or(self.text.len(), |&next| next - 1);
        self.text[start..end].trim_end_matches('\r')
    }
}

/// A document's text after one change the editor sent: a range replaced, or
/// the whole text when the change has no range.
pub fn apply_change(mut text: String, change: TextDocumentContentChangeEvent) -> String {
    let Some(range) = change.range else {
        return change.text;
    };
    let lines = LineIndex::new(&text);
    let start = lines.offset(range.start);
    let end = lines.offset(range.end).max(start);
    text.replace_range(start..end, &change.text);
    text
}

/// The local path a URI names, when it names one.
pub fn path_of(uri: &Url) -> Option<PathBuf> {
    if uri.scheme() != "file" {
        return None;
    }
    uri.to_file_path().ok()
}

pub fn severity(severity: Severity) -> DiagnosticSeverity {
    match severity {
        Severity::Error => DiagnosticSeverity::ERROR,
        Severity::Warning => DiagnosticSeverity::WARNING,
        Severity::Info => DiagnosticSeverity::INFORMATION,
    }
}

/// Where a rule's documentation is published: `rules/<id>.md` in the
/// repository named in `Cargo.toml`, when it names one.
pub fn rule_doc_url(rule: &str) -> Option<Url> {
    let repository = option_env!("CARGO_PKG_REPOSITORY").filter(|r| !r.is_empty())?;
    Url::parse(&format!(
        "{}/blob/main/rules/{rule}.md",
        repository.trim_end_matches('/')
    ))
    .ok()
}

/// One finding as the protocol's diagnostic, in the document `uri` whose text
/// `lines` indexes (the text the finding was found in).
pub fn diagnostic(finding: &Diagnostic, uri: &Url, lines: &LineIndex) -> lsp_types::Diagnostic {
    let related = finding
        .related
        .iter()
        .map(|r| DiagnosticRelatedInformation {
            location: Location::new(uri.clone(), lines.range(r.span)),
            message: r.message.clone(),
        })
        .collect::<Vec<_>>();
    let mut message = finding.message.clone();
    if !finding.label.is_empty() && !message.contains(&finding.label) {
        message = format!("{message}\n{}", finding.label);
    }
    lsp_types::Diagnostic {
        range: lines.range(finding.span),
        severity: Some(severity(finding.severity)),
        code: Some(NumberOrString::String(finding.rule.to_string())),
        code_description: rule_doc_url(finding.rule).map(|href| CodeDescription { href }),
        source: Some("racelint".to_string()),
        message,
        related_information: (!related.is_empty()).then_some(related),
        tags: None,
        data: Some(serde_json::json!({
            "fingerprint": finding.fingerprint,
            "confidence": finding.confidence.level.as_str(),
        })),
    }
}

/// A file that could not be parsed, at the place the parser stopped.
pub fn run_error(error: &RunError, lines: &LineIndex) -> lsp_types::Diagnostic {
    let at = error.position.map_or(Position::new(0, 0), |p| {
        lines.position_of_column(p.line, p.column)
    });
    lsp_types::Diagnostic {
        range: Range::new(at, at),
        severity: Some(DiagnosticSeverity::INFORMATION),
        code: Some(NumberOrString::String(error.kind.as_str().to_string())),
        source: Some("racelint".to_string()),
        message: error.message.clone(),
        ..lsp_types::Diagnostic::default()
    }
}

/// Whether two ranges share a position (an empty range touching another counts).
pub fn overlaps(a: Range, b: Range) -> bool {
    a.start <= b.end && b.start <= a.end
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_utf16_units() {
        let text = "a😀b\nçx\r\nend";
        let lines = LineIndex::new(text);
        let b = text.find('b').unwrap();
        assert_eq!(lines.position(b), Position::new(0, 3));
        assert_eq!(lines.offset(Position::new(0, 3)), b);
        let x = text.find('x').unwrap();
        assert_eq!(lines.position(x), Position::new(1, 1));
        assert_eq!(lines.offset(Position::new(1, 1)), x);
        assert_eq!(lines.position(text.len()), Position::new(2, 3));
        assert_eq!(lines.line(1), "çx");
        assert_eq!(lines.position_of_column(2, 2), Position::new(1, 1));
    }

    #[test]
    fn out_of_range_positions_are_clamped() {
        let text = "ab\ncd";
        let lines = LineIndex::new(text);
        assert_eq!(lines.offset(Position::new(9, 0)), text.len());
        assert_eq!(lines.offset(Position::new(0, 99)), 2);
        assert_eq!(lines.position(999), Position::new(1, 2));
        // Inside the bytes of one character: the character's start.
        let lines = LineIndex::new("é");
        assert_eq!(lines.position(1), Position::new(0, 0));
        assert_eq!(lines.line(7), "");
    }

    #[test]
    fn changes_replace_their_range() {
        let change = |range: Option<Range>, text: &str| TextDocumentContentChangeEvent {
            range,
            range_length: None,
            text: text.to_string(),
        };
        let text = "let a = 1;\nlet 😀 = 2;\n".to_string();
        let text = apply_change(
            text,
            change(
                Some(Range::new(Position::new(1, 7), Position::new(1, 8))),
                " ",
            ),
        );
        assert_eq!(text, "let a = 1;\nlet 😀   2;\n");
        let text = apply_change(
            text,
            change(
                Some(Range::new(Position::new(0, 4), Position::new(1, 0))),
                "",
            ),
        );
        assert_eq!(text, "let let 😀   2;\n");
        assert_eq!(apply_change(text, change(None, "new")), "new");
    }

    #[test]
    fn only_file_uris_are_paths() {
        assert!(path_of(&Url::parse("untitled:Untitled-1").unwrap()).is_none());
        assert!(path_of(&Url::parse("file:///tmp/x.ts").unwrap()).is_some());
    }
}
