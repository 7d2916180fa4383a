//! `--fix`: writes the fixes whose applicability is `safe` (and, with
//! `--unsafe-fixes`, `unsafe`), and nothing else; `--diff` prints the same edits
//! as a unified diff and writes nothing.
//!
//! Edits are applied per file from the end backwards so earlier offsets stay
//! valid; an edit overlapping one already taken waits for the next run. A fixed
//! file must parse no worse than before, or it is not written.

use crate::diagnostic::{Applicability, Report};
use crate::discover::{language_of, Language};
use crate::frontend::typescript;
use std::collections::BTreeMap;
use std::path::PathBuf;

pub struct Outcome {
    /// `(path, number of findings fixed)` for every file written.
    pub written: Vec<(String, usize)>,
    /// Files whose fixes were dropped, and why.
    pub refused: Vec<(String, String)>,
}

/// A byte range of the file and its replacement.
pub type ByteEdit = (usize, usize, String);

/// One file's text, the edits for it, and how many findings they fix.
type FileEdits = (std::sync::Arc<str>, Vec<ByteEdit>, usize);

/// Whether `--fix`/`--diff` take a fix of this applicability.
fn wanted(applicability: Applicability, include_unsafe: bool) -> bool {
    match applicability {
        Applicability::Safe => true,
        Applicability::Unsafe => include_unsafe,
        Applicability::DisplayOnly => false,
    }
}

/// The edits of the fixes `--fix` would take, per file.
fn edits_per_file(report: &Report, include_unsafe: bool) -> BTreeMap<String, FileEdits> {
    let mut per_file: BTreeMap<String, FileEdits> = BTreeMap::new();
    for d in &report.diagnostics {
        let Some(fix) = d
            .fix
            .as_ref()
            .filter(|f| wanted(f.applicability, include_unsafe))
        else {
            continue;
        };
        let entry = per_file
            .entry(d.location.path.clone())
            .or_insert_with(|| (d.source.clone(), Vec::new(), 0));
        entry.2 += 1;
        for edit in &fix.edits {
            entry.1.push((
                edit.span.start as usize,
                edit.span.end as usize,
                edit.replacement.clone(),
            ));
        }
    }
    per_file
}

pub fn apply(report: &Report, include_unsafe: bool) -> Outcome {
    let per_file = edits_per_file(report, include_unsafe);
    let mut outcome = Outcome {
        written: Vec::new(),
        refused: Vec::new(),
    };
    for (path, (source, edits, findings)) in per_file {
        let text = apply_edits(&source, edits);
        if parse_problems(&path, &text) > parse_problems(&path, &source) {
            outcome.refused.push((
                path,
                "the fixed file would not parse; nothing written".into(),
            ));
            continue;
        }
        match std::fs::write(PathBuf::from(&path), text) {
            Ok(()) => outcome.written.push((path, findings)),
            Err(e) => outcome.refused.push((path, format!("cannot write: {e}"))),
        }
    }
    outcome
}

/// Every fix `--fix` would apply, as a unified diff (`--- a/path`, `+++ b/path`,
/// three lines of context); empty when there is none.
pub fn diff(report: &Report, include_unsafe: bool) -> String {
    let mut out = String::new();
    for (path, (source, edits, _)) in edits_per_file(report, include_unsafe) {
        let hunks = hunks(&source, non_overlapping(&source, edits));
        if hunks.is_empty() {
            continue;
        }
        out.push_str(&format!("--- a/{path}\n+++ b/{path}\n"));
        for hunk in hunks {
            out.push_str(&hunk);
        }
    }
    out
}

/// The edits sorted, without those overlapping an earlier one or outside the text.
fn non_overlapping(source: &str, mut edits: Vec<ByteEdit>) -> Vec<ByteEdit> {
    edits.sort_by_key(|e| (e.0, e.1));
    let mut taken: Vec<ByteEdit> = Vec::new();
    for edit in edits {
        if taken.last().is_none_or(|last| edit.0 >= last.1)
            && edit.1 <= source.len()
            && source.is_char_boundary(edit.0)
            && source.is_char_boundary(edit.1)
        {
            taken.push(edit);
        }
    }
    taken
}

/// One `@@` hunk per group of edits whose lines (with context) touch.
fn hunks(source: &str, edits: Vec<ByteEdit>) -> Vec<String> {
    const CONTEXT: usize = 3;
    let lines: Vec<&str> = source.split_inclusive('\n').collect();
    let mut starts = Vec::with_capacity(lines.len() + 1);
    let mut offset = 0;
    for line in &lines {
        starts.push(offset);
        offset += line.len();
    }
    starts.push(offset);
    let line_of = |byte: usize| starts.partition_point(|&s| s <= byte).saturating_sub(1);
    // Groups of edits as (first line, last line, edits), lines 0-based inclusive.
    let mut groups: Vec<(usize, usize, Vec<ByteEdit>)> = Vec::new();
    for edit in edits {
        let first = line_of(edit.0).saturating_sub(CONTEXT);
        let last =
            (line_of(edit.1.max(edit.0 + 1) - 1) + CONTEXT).min(lines.len().saturating_sub(1));
        match groups.last_mut() {
            Some(group) if first <= group.1 + 1 => {
                group.1 = group.1.max(last);
                group.2.push(edit);
            }
            _ => groups.push((first, last, vec![edit])),
        }
    }
    let mut shift: isize = 0;
    let mut out = Vec::new();
    for (first, last, group) in groups {
        let (from, to) = (starts[first], starts[last + 1]);
        let old = &source[from..to];
        let relative = group
            .into_iter()
            .map(|(s, e, r)| (s - from, e - from, r))
            .collect();
        let new = apply_edits(old, relative);
        let old_lines: Vec<&str> = old.split_inclusive('\n').collect();
        let new_lines: Vec<&str> = new.split_inclusive('\n').collect();
        let mut hunk = format!(
            "@@ -{},{} +{},{} @@\n",
            first + 1,
            old_lines.len(),
            (first as isize + 1 + shift),
            new_lines.len()
        );
        // The unchanged lines at either end are context; the rest is replaced.
        let same_head = old_lines
            .iter()
            .zip(&new_lines)
            .take_while(|(a, b)| a == b)
            .count();
        let same_tail = old_lines[same_head..]
            .iter()
            .rev()
            .zip(new_lines[same_head..].iter().rev())
            .take_while(|(a, b)| a == b)
            .count();
        let line = |prefix: char, text: &str| {
            let text = text.strip_suffix('\n').unwrap_or(text);
            format!("{prefix}{text}\n")
        };
        for l in &old_lines[..same_head] {
            hunk.push_str(&line(' ', l));
        }
        for l in &old_lines[same_head..old_lines.len() - same_tail] {
            hunk.push_str(&line('-', l));
        }
        for l in &new_lines[same_head..new_lines.len() - same_tail] {
            hunk.push_str(&line('+', l));
        }
        for l in &old_lines[old_lines.len() - same_tail..] {
            hunk.push_str(&line(' ', l));
        }
        shift += new_lines.len() as isize - old_lines.len() as isize;
        out.push(hunk);
    }
    out
}

/// The text with the edits applied, from the end backwards so earlier offsets stay
/// valid. An edit overlapping one already taken is left for the next run.
pub fn apply_edits(source: &str, mut edits: Vec<ByteEdit>) -> String {
    edits.sort_by_key(|e| (e.0, e.1));
    let mut taken: Vec<ByteEdit> = Vec::new();
    for edit in edits {
        if taken.last().is_none_or(|last| edit.0 >= last.1) && edit.1 <= source.len() {
            taken.push(edit);
        }
    }
    let mut text = source.to_string();
    for (start, end, replacement) in taken.iter().rev() {
        if text.is_char_boundary(*start) && text.is_char_boundary(*end) {
            text.replace_range(*start..*end, replacement);
        }
    }
    text
}

fn parse_problems(path: &str, text: &str) -> usize {
    match language_of(std::path::Path::new(path)) {
        // Any syntax error counts, not only those the lint reports (the ones that
        // may hide a database call): a fix must not break code anywhere.
        Some(Language::TypeScript(dialect)) => typescript::syntax_errors(text, dialect),
        Some(Language::Rust) => usize::from(crate::frontend::rust::lower(text).is_err()),
        Some(Language::Sql) => crate::frontend::plpgsql::parse(text).problems.len(),
        Some(Language::Python) => crate::frontend::python::syntax_errors(text),
        None => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::hunks;

    #[test]
    fn a_hunk_shows_the_changed_line_with_context() {
        let source = "a\nb\nc\nd\ne\nf\ng\nh\n";
        let at = source.find('e').unwrap();
        let hunks = hunks(source, vec![(at, at + 1, "E".into())]);
        assert_eq!(
            hunks,
            vec!["@@ -2,7 +2,7 @@\n b\n c\n d\n-e\n+E\n f\n g\n h\n".to_string()]
        );
    }

    #[test]
    fn distant_edits_are_separate_hunks_and_later_starts_shift() {
        let source: String = (0..20).map(|i| format!("l{i}\n")).collect();
        let first = source.find("l1\n").unwrap();
        let second = source.find("l15").unwrap();
        let hunks = hunks(
            &source,
            vec![
                (first, first + 3, "x\ny\n".into()),
                (second, second + 3, "z".into()),
            ],
        );
        assert_eq!(hunks.len(), 2);
        assert!(hunks[0].starts_with("@@ -1,5 +1,6 @@\n"));
        assert!(hunks[1].starts_with("@@ -13,7 +14,7 @@\n"), "{}", hunks[1]);
    }
}
