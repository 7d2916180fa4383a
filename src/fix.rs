//! `--fix`: writes the fixes whose applicability is `safe`, and nothing else.
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

pub fn apply(report: &Report) -> Outcome {
    let mut per_file: BTreeMap<String, FileEdits> = BTreeMap::new();
    for d in &report.diagnostics {
        let Some(fix) = d
            .fix
            .as_ref()
            .filter(|f| f.applicability == Applicability::Safe)
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
