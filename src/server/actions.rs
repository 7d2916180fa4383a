//! Code actions for the findings under the editor's selection: each finding's
//! fix (the edits `check --fix` would apply, unsafe and display-only ones
//! included and titled as such) as a quick fix, and a `racelint-ignore` comment
//! on the line before the finding, in the comment syntax of the file's
//! language, with a reason left for the user to write (not for the findings
//! about suppressions themselves).

use super::convert::{self, LineIndex};
use super::state::Document;
use crate::diagnostic::{Applicability, Diagnostic};
use crate::suppress::{self, CommentSyntax};
use lsp_types::{
    CodeAction, CodeActionKind, CodeActionOrCommand, Position, Range, TextEdit, WorkspaceEdit,
};
use std::collections::HashMap;
use std::path::Path;

/// What the user is asked to replace in an inserted suppression.
pub const REASON_PLACEHOLDER: &str = "<reason>";

/// The actions for the findings of `document` that overlap `range`.
pub fn for_range(path: &Path, document: &Document, range: Range) -> Vec<CodeActionOrCommand> {
    let lines = LineIndex::new(&document.text);
    let mut actions = Vec::new();
    for finding in &document.findings {
        if !convert::overlaps(lines.range(finding.span), range) {
            continue;
        }
        let diagnostic = convert::diagnostic(finding, &document.uri, &lines);
        if let Some(action) = fix(finding, document, &lines, &diagnostic) {
            actions.push(CodeActionOrCommand::CodeAction(action));
        }
        // A finding about a suppression is answered by editing that comment.
        if !suppress::META.iter().any(|m| m.id == finding.rule) {
            actions.push(CodeActionOrCommand::CodeAction(ignore(
                path, finding, document, &lines, diagnostic,
            )));
        }
    }
    actions
}

fn fix(
    finding: &Diagnostic,
    document: &Document,
    lines: &LineIndex,
    diagnostic: &lsp_types::Diagnostic,
) -> Option<CodeAction> {
    let fix = finding.fix.as_ref().filter(|f| !f.edits.is_empty())?;
    let edits = fix
        .edits
        .iter()
        .map(|e| TextEdit::new(lines.range(e.span), e.replacement.clone()))
        .collect();
    let caution = match fix.applicability {
        Applicability::Safe => "",
        Applicability::Unsafe => " (may change behaviour: review it)",
        Applicability::DisplayOnly => " (a suggestion: review it)",
    };
    Some(CodeAction {
        title: format!("Fix {}{caution}", finding.rule),
        kind: Some(CodeActionKind::QUICKFIX),
        diagnostics: Some(vec![diagnostic.clone()]),
        edit: Some(edit(document, edits)),
        is_preferred: Some(fix.applicability == Applicability::Safe),
        ..CodeAction::default()
    })
}

fn ignore(
    path: &Path,
    finding: &Diagnostic,
    document: &Document,
    lines: &LineIndex,
    diagnostic: lsp_types::Diagnostic,
) -> CodeAction {
    let line = lines.position(finding.span.start as usize).line;
    let indent: String = lines
        .line(line)
        .chars()
        .take_while(|c| c.is_whitespace())
        .collect();
    let break_ = if document.text.contains("\r\n") {
        "\r\n"
    } else {
        "\n"
    };
    let comment = format!(
        "{indent}{} {} {}: {REASON_PLACEHOLDER}{break_}",
        line_comment(CommentSyntax::of(path)),
        suppress::MARKER,
        finding.rule
    );
    let at = Position::new(line, 0);
    CodeAction {
        title: format!("Ignore this {} finding (racelint-ignore)", finding.rule),
        kind: Some(CodeActionKind::QUICKFIX),
        diagnostics: Some(vec![diagnostic]),
        edit: Some(edit(
            document,
            vec![TextEdit::new(Range::new(at, at), comment)],
        )),
        is_preferred: Some(false),
        ..CodeAction::default()
    }
}

/// What opens a comment to the end of the line.
fn line_comment(syntax: CommentSyntax) -> &'static str {
    match syntax {
        CommentSyntax::Slashes => "//",
        CommentSyntax::Sql => "--",
        CommentSyntax::Hash => "#",
    }
}

fn edit(document: &Document, edits: Vec<TextEdit>) -> WorkspaceEdit {
    WorkspaceEdit {
        changes: Some(HashMap::from([(document.uri.clone(), edits)])),
        ..WorkspaceEdit::default()
    }
}
