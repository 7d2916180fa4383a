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
use crate::lint::Relinter;
use std::collections::BTreeMap;
use std::path::PathBuf;

pub struct Outcome {
    /// `(path, number of findings fixed)` for every file written.
    pub written: Vec<(String, usize)>,
    /// Fixes (or whole files) dropped, and why: `(path, reason)`.
    pub refused: Vec<(String, String)>,
}

/// A byte range of the file and its replacement.
pub type ByteEdit = (usize, usize, String);

/// For each edit applied, its range in the original text and in the new one.
type Moved = Vec<(std::ops::Range<usize>, std::ops::Range<usize>)>;

/// One fix a run would take: the finding it is for and its edits.
struct Candidate {
    /// Index into the report's findings.
    finding: usize,
    edits: Vec<ByteEdit>,
}

/// What `--fix` would write: each file's new text and the fixes it holds, and
/// the fixes left out, with why.
pub struct Plan {
    /// `(path, original text, fixed text, number of findings fixed)`.
    pub files: Vec<(String, std::sync::Arc<str>, String, usize)>,
    pub refused: Vec<(String, String)>,
}

/// Whether `--fix`/`--diff` take a fix of this applicability.
fn wanted(applicability: Applicability, include_unsafe: bool) -> bool {
    match applicability {
        Applicability::Safe => true,
        Applicability::Unsafe => include_unsafe,
        Applicability::DisplayOnly => false,
    }
}

/// The fixes `--fix` would consider, per file, without those overlapping a
/// fix taken before them (they wait for the next run).
fn candidates_per_file(
    report: &Report,
    include_unsafe: bool,
) -> BTreeMap<String, (std::sync::Arc<str>, Vec<Candidate>)> {
    let mut per_file: BTreeMap<String, (std::sync::Arc<str>, Vec<Candidate>)> = BTreeMap::new();
    for (index, d) in report.diagnostics.iter().enumerate() {
        let Some(fix) = d
            .fix
            .as_ref()
            .filter(|f| wanted(f.applicability, include_unsafe))
        else {
            continue;
        };
        let edits: Vec<ByteEdit> = fix
            .edits
            .iter()
            .map(|e| {
                (
                    e.span.start as usize,
                    e.span.end as usize,
                    e.replacement.clone(),
                )
            })
            .collect();
        let entry = per_file
            .entry(d.location.path.clone())
            .or_insert_with(|| (d.source.clone(), Vec::new()));
        let overlaps = entry.1.iter().any(|taken| {
            taken.edits.iter().any(|a| {
                edits
                    .iter()
                    .any(|b| a.0 < b.1.max(b.0 + 1) && b.0 < a.1.max(a.0 + 1))
            })
        });
        let fits = edits.iter().all(|e| {
            e.0 <= e.1
                && e.1 <= d.source.len()
                && d.source.is_char_boundary(e.0)
                && d.source.is_char_boundary(e.1)
        });
        if !overlaps && fits {
            entry.1.push(Candidate {
                finding: index,
                edits,
            });
        }
    }
    per_file
}

/// Where a finding of the fixed text stands in the original: at an offset the
/// edits did not touch, or inside the replacement of edit `k`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Place {
    At(usize),
    InEdit(usize),
}

/// The text with the edits applied (sorted, non-overlapping), and for each edit
/// its range in the original and in the new text.
fn apply_mapped(source: &str, mut edits: Vec<ByteEdit>) -> (String, Moved) {
    edits.sort_by_key(|e| (e.0, e.1));
    let mut out = String::with_capacity(source.len());
    let mut ranges = Vec::new();
    let mut at = 0;
    for (start, end, replacement) in edits {
        if start < at {
            continue;
        }
        out.push_str(&source[at..start]);
        let from = out.len();
        out.push_str(&replacement);
        ranges.push((start..end, from..out.len()));
        at = end;
    }
    out.push_str(&source[at..]);
    (out, ranges)
}

fn place_in_original(offset: usize, ranges: &Moved) -> Place {
    let mut shift: isize = 0;
    for (k, (old, new)) in ranges.iter().enumerate() {
        if offset < new.start {
            break;
        }
        if offset < new.end || (new.is_empty() && offset == new.start) {
            return Place::InEdit(k);
        }
        shift = new.end as isize - old.end as isize;
    }
    Place::At((offset as isize - shift).max(0) as usize)
}

fn original_place(offset: usize, ranges: &Moved) -> Place {
    ranges
        .iter()
        .position(|(old, _)| old.contains(&offset))
        .map_or(Place::At(offset), Place::InEdit)
}

/// The fixes to write: each file's fixes applied together; a file that would
/// parse worse loses them all; with a `relinter`, every fixed file is linted
/// again in the project, and a fix whose finding is still reported, or near
/// whose edit a new finding appears, is dropped (a new finding elsewhere in the
/// file drops all of its fixes), until what is left lints as promised.
/// Rounds of fixing: a fix may make room for another (the second of two child
/// deletes moved above one parent), found when the fixed text is linted again.
const ROUNDS: usize = 10;

pub fn plan(report: &Report, include_unsafe: bool, mut relinter: Option<&mut Relinter>) -> Plan {
    let (mut plan, mut after) = plan_round(report, include_unsafe, relinter.as_deref_mut());
    for _ in 1..ROUNDS {
        let Some(relinter) = relinter.as_deref_mut() else {
            break;
        };
        let more: Vec<crate::diagnostic::Diagnostic> = after
            .into_iter()
            .flatten()
            .filter(|d| {
                d.fix
                    .as_ref()
                    .is_some_and(|f| wanted(f.applicability, include_unsafe))
            })
            .collect();
        if more.is_empty() {
            break;
        }
        let next = Report {
            diagnostics: more,
            errors: Vec::new(),
            files: 0,
            elapsed_ms: 0,
        };
        let (round, round_after) = plan_round(&next, include_unsafe, Some(relinter));
        if round.files.is_empty() {
            break;
        }
        for (path, _, text, fixed) in round.files {
            match plan.files.iter_mut().find(|f| f.0 == path) {
                Some(file) => {
                    file.2 = text;
                    file.3 += fixed;
                }
                None => plan
                    .files
                    .push((path.clone(), report_source(report, &path), text, fixed)),
            }
        }
        plan.refused.extend(round.refused);
        after = round_after;
    }
    plan
}

/// The original text of a file the report holds findings of.
fn report_source(report: &Report, path: &str) -> std::sync::Arc<str> {
    report
        .diagnostics
        .iter()
        .find(|d| d.location.path == path)
        .map(|d| d.source.clone())
        .unwrap_or_else(|| std::fs::read_to_string(path).unwrap_or_default().into())
}

/// One round: the report's fixes applied, checked, and the findings of each fixed
/// text (empty without a relinter).
fn plan_round(
    report: &Report,
    include_unsafe: bool,
    mut relinter: Option<&mut Relinter>,
) -> (Plan, Vec<Vec<crate::diagnostic::Diagnostic>>) {
    let mut plan = Plan {
        files: Vec::new(),
        refused: Vec::new(),
    };
    let mut files: Vec<(String, std::sync::Arc<str>, Vec<Candidate>)> =
        candidates_per_file(report, include_unsafe)
            .into_iter()
            .map(|(path, (source, fixes))| (path, source, fixes))
            .collect();
    for (path, source, fixes) in &mut files {
        let edits = fixes.iter().flat_map(|c| c.edits.clone()).collect();
        let (text, _) = apply_mapped(source, edits);
        if parse_problems(path, &text) > parse_problems(path, source) {
            plan.refused.push((
                path.clone(),
                "the fixed file would not parse; nothing written".into(),
            ));
            fixes.clear();
        }
    }
    files.retain(|f| !f.2.is_empty());
    let describe = |c: &Candidate| {
        let d = &report.diagnostics[c.finding];
        format!("the {} fix at line {}", d.rule, d.location.start.line)
    };
    let mut last_after: Vec<Vec<crate::diagnostic::Diagnostic>> = Vec::new();
    // Each pass drops at least one fix or ends.
    for _ in 0..=report.diagnostics.len() {
        let Some(relinter) = relinter.as_deref_mut() else {
            break;
        };
        let applied: Vec<(String, String, Vec<_>)> = files
            .iter()
            .map(|(path, source, fixes)| {
                let edits = fixes.iter().flat_map(|c| c.edits.clone()).collect();
                let (text, ranges) = apply_mapped(source, edits);
                (path.clone(), text, ranges)
            })
            .collect();
        let texts: Vec<(String, String)> = applied
            .iter()
            .map(|(p, t, _)| (p.clone(), t.clone()))
            .collect();
        let after = relinter.check(&texts);
        let mut dropped_any = false;
        last_after = after.clone();
        for ((path, _, ranges), found) in applied.iter().zip(after) {
            let file = files.iter_mut().find(|f| f.0 == *path).expect("planned");
            let before: Vec<(usize, &crate::diagnostic::Diagnostic)> = report
                .diagnostics
                .iter()
                .enumerate()
                .filter(|(_, d)| d.location.path == *path)
                .collect();
            // The edit (in `ranges`) each fix's edits are, in order.
            let mut owner = Vec::new();
            for (i, c) in file.2.iter().enumerate() {
                for e in &c.edits {
                    owner.push((e.0, i));
                }
            }
            owner.sort();
            let fix_of_edit = |k: usize| owner.get(k).map(|o| o.1);
            let mut why: Vec<Option<String>> = vec![None; file.2.len()];
            for d in &found {
                let place = place_in_original(d.span.start as usize, ranges);
                let same = before.iter().find(|(_, b)| {
                    b.rule == d.rule && original_place(b.span.start as usize, ranges) == place
                });
                match same {
                    Some((index, _)) => {
                        if let Some(i) = file.2.iter().position(|c| c.finding == *index) {
                            why[i] = Some(format!(
                                "{} is still reported after it",
                                describe(&file.2[i])
                            ));
                        } else if let Place::InEdit(k) = place {
                            // Another finding in the edit, still there: not the fix's.
                            let _ = k;
                        }
                    }
                    None => {
                        let line = d.location.start.line;
                        let message = |c: &Candidate| {
                            format!(
                                "{} makes a new {} finding appear at line {line}",
                                describe(c),
                                d.rule
                            )
                        };
                        match place {
                            Place::InEdit(k) => {
                                if let Some(i) = fix_of_edit(k) {
                                    why[i].get_or_insert_with(|| message(&file.2[i]));
                                }
                            }
                            Place::At(_) => {
                                for (i, c) in file.2.iter().enumerate() {
                                    why[i].get_or_insert_with(|| message(c));
                                }
                            }
                        }
                    }
                }
            }
            let mut kept = Vec::new();
            for (c, why) in std::mem::take(&mut file.2).into_iter().zip(why) {
                match why {
                    Some(why) => {
                        plan.refused.push((path.clone(), format!("dropped {why}")));
                        dropped_any = true;
                    }
                    None => kept.push(c),
                }
            }
            file.2 = kept;
        }
        files.retain(|f| !f.2.is_empty());
        if !dropped_any {
            break;
        }
    }
    let mut after = Vec::new();
    for (path, source, fixes) in files {
        let edits = fixes.iter().flat_map(|c| c.edits.clone()).collect();
        let (text, _) = apply_mapped(&source, edits);
        // The findings of the text written, when the last pass linted it.
        let found = last_after
            .iter()
            .find(|found| found.first().is_some_and(|d| d.location.path == path))
            .cloned()
            .unwrap_or_default();
        after.push(found);
        plan.files.push((path, source, text, fixes.len()));
    }
    (plan, after)
}

pub fn apply(report: &Report, include_unsafe: bool, relinter: Option<&mut Relinter>) -> Outcome {
    let plan = plan(report, include_unsafe, relinter);
    let mut outcome = Outcome {
        written: Vec::new(),
        refused: plan.refused,
    };
    for (path, _, text, findings) in plan.files {
        match std::fs::write(PathBuf::from(&path), text) {
            Ok(()) => outcome.written.push((path, findings)),
            Err(e) => outcome.refused.push((path, format!("cannot write: {e}"))),
        }
    }
    outcome
}

/// Every fix `--fix` would apply, as a unified diff (`--- a/path`, `+++ b/path`,
/// three lines of context); empty when there is none. Also the fixes left out.
pub fn diff(
    report: &Report,
    include_unsafe: bool,
    relinter: Option<&mut Relinter>,
) -> (String, Vec<(String, String)>) {
    let plan = plan(report, include_unsafe, relinter);
    let mut out = String::new();
    for (path, source, text, _) in &plan.files {
        let hunks = line_hunks(source, text);
        if hunks.is_empty() {
            continue;
        }
        out.push_str(&format!("--- a/{path}\n+++ b/{path}\n"));
        for hunk in hunks {
            out.push_str(&hunk);
        }
    }
    (out, plan.refused)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Same(usize, usize),
    Removed(usize),
    Added(usize),
}

/// The line operations turning `a` into `b`: a longest common subsequence of
/// the lines between the common head and tail (a plain replacement when that
/// middle is too large to compare).
fn line_ops(a: &[&str], b: &[&str]) -> Vec<Op> {
    let head = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let tail = a[head..]
        .iter()
        .rev()
        .zip(b[head..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (am, bm) = (&a[head..a.len() - tail], &b[head..b.len() - tail]);
    let mut ops: Vec<Op> = (0..head).map(|i| Op::Same(i, i)).collect();
    if am.len().saturating_mul(bm.len()) > 4_000_000 {
        ops.extend((0..am.len()).map(|i| Op::Removed(head + i)));
        ops.extend((0..bm.len()).map(|j| Op::Added(head + j)));
    } else {
        // lcs[i][j]: the longest common subsequence of am[i..] and bm[j..].
        let (n, m) = (am.len(), bm.len());
        let mut lcs = vec![0u32; (n + 1) * (m + 1)];
        for i in (0..n).rev() {
            for j in (0..m).rev() {
                lcs[i * (m + 1) + j] = if am[i] == bm[j] {
                    lcs[(i + 1) * (m + 1) + j + 1] + 1
                } else {
                    lcs[(i + 1) * (m + 1) + j].max(lcs[i * (m + 1) + j + 1])
                };
            }
        }
        let (mut i, mut j) = (0, 0);
        while i < n || j < m {
            if i < n && j < m && am[i] == bm[j] {
                ops.push(Op::Same(head + i, head + j));
                i += 1;
                j += 1;
            } else if i < n && (j == m || lcs[(i + 1) * (m + 1) + j] >= lcs[i * (m + 1) + j + 1]) {
                ops.push(Op::Removed(head + i));
                i += 1;
            } else {
                ops.push(Op::Added(head + j));
                j += 1;
            }
        }
    }
    let (an, bn) = (a.len() - tail, b.len() - tail);
    ops.extend((0..tail).map(|k| Op::Same(an + k, bn + k)));
    ops
}

/// The unified-diff hunks from `old` to `new`, three lines of context.
fn line_hunks(old: &str, new: &str) -> Vec<String> {
    const CONTEXT: usize = 3;
    let a: Vec<&str> = old.split_inclusive('\n').collect();
    let b: Vec<&str> = new.split_inclusive('\n').collect();
    let ops = line_ops(&a, &b);
    let changed: Vec<usize> = ops
        .iter()
        .enumerate()
        .filter(|(_, op)| !matches!(op, Op::Same(..)))
        .map(|(k, _)| k)
        .collect();
    // Groups of op indexes whose context touches.
    let mut groups: Vec<(usize, usize)> = Vec::new();
    for &k in &changed {
        let from = k.saturating_sub(CONTEXT);
        let to = (k + CONTEXT).min(ops.len() - 1);
        match groups.last_mut() {
            Some(g) if from <= g.1 + 1 => g.1 = to,
            _ => groups.push((from, to)),
        }
    }
    let line = |prefix: char, text: &str| {
        let text = text.strip_suffix('\n').unwrap_or(text);
        format!("{prefix}{text}\n")
    };
    groups
        .into_iter()
        .map(|(from, to)| {
            let slice = &ops[from..=to];
            let old_start = slice.iter().find_map(|op| match op {
                Op::Same(i, _) | Op::Removed(i) => Some(*i),
                Op::Added(_) => None,
            });
            let new_start = slice.iter().find_map(|op| match op {
                Op::Same(_, j) | Op::Added(j) => Some(*j),
                Op::Removed(_) => None,
            });
            let old_count = slice
                .iter()
                .filter(|op| !matches!(op, Op::Added(_)))
                .count();
            let new_count = slice
                .iter()
                .filter(|op| !matches!(op, Op::Removed(_)))
                .count();
            // An empty side starts after the line before it, as `diff -u` writes it.
            let start = |s: Option<usize>, count: usize| match s {
                Some(s) if count > 0 => s + 1,
                _ => slice.first().map_or(0, |op| match op {
                    Op::Same(i, _) | Op::Removed(i) => *i,
                    Op::Added(j) => *j,
                }),
            };
            let mut hunk = format!(
                "@@ -{},{old_count} +{},{new_count} @@\n",
                start(old_start, old_count),
                start(new_start, new_count)
            );
            for op in slice {
                hunk.push_str(&match *op {
                    Op::Same(i, _) => line(' ', a[i]),
                    Op::Removed(i) => line('-', a[i]),
                    Op::Added(j) => line('+', b[j]),
                });
            }
            hunk
        })
        .collect()
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
    use super::{apply_edits, line_hunks};

    fn hunks(source: &str, edits: Vec<super::ByteEdit>) -> Vec<String> {
        line_hunks(source, &apply_edits(source, edits))
    }

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
        assert!(hunks[0].starts_with("@@ -1,5 +1,6 @@\n"), "{}", hunks[0]);
        assert!(hunks[1].starts_with("@@ -13,7 +14,7 @@\n"), "{}", hunks[1]);
    }

    #[test]
    fn lines_an_edit_keeps_are_context_not_changes() {
        // Moving one line above two others changes two lines, not four.
        let source = "a\nparent\nmiddle\nchild\nz\n";
        let hunks = line_hunks(source, "a\nchild\nparent\nmiddle\nz\n");
        assert_eq!(
            hunks,
            vec!["@@ -1,5 +1,5 @@\n a\n+child\n parent\n middle\n-child\n z\n".to_string()]
        );
    }
}
