//! Hover on a finding: what it found and how to fix it, then the rule's
//! documentation (`rules/<id>.md`, what `racelint explain` prints).

use super::convert::{self, LineIndex};
use super::state::Document;
use crate::lint;
use lsp_types::{Hover, HoverContents, MarkupContent, MarkupKind, Position, Range};

/// The hover for the findings of `document` whose range holds `position`.
pub fn at(document: &Document, position: Position) -> Option<Hover> {
    let lines = LineIndex::new(&document.text);
    let here = Range::new(position, position);
    let rules = lint::all_rule_meta();
    let mut sections = Vec::new();
    let mut range = None;
    for finding in &document.findings {
        let found = lines.range(finding.span);
        if !convert::overlaps(found, here) {
            continue;
        }
        range.get_or_insert(found);
        let doc = rules
            .iter()
            .find(|m| m.id == finding.rule)
            .map_or("", |m| m.doc);
        let mut section = format!(
            "**racelint `{}`** ({}, {} confidence)\n\n{}\n\n{}",
            finding.rule,
            finding.severity.as_str(),
            finding.confidence.level.as_str(),
            finding.help,
            doc
        );
        if let Some(url) = convert::rule_doc_url(finding.rule) {
            section.push_str(&format!("\n\n[{}]({url})", finding.rule));
        }
        sections.push(section);
    }
    if sections.is_empty() {
        return None;
    }
    Some(Hover {
        contents: HoverContents::Markup(MarkupContent {
            kind: MarkupKind::Markdown,
            value: sections.join("\n\n---\n\n"),
        }),
        range,
    })
}
