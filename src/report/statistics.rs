//! `--statistics`: how many findings each rule made and how many of them carry a
//! fix, most frequent first — the view to start from on a codebase with hundreds.

use crate::diagnostic::Report;
use serde_json::json;
use std::collections::BTreeMap;
use std::fmt::Write;

/// One rule's count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub rule: &'static str,
    pub count: usize,
    /// Findings with a machine-applicable fix (any applicability).
    pub fixable: usize,
}

/// Rows sorted by count, most first, then by rule id.
pub fn rows(report: &Report) -> Vec<Row> {
    let mut by_rule: BTreeMap<&'static str, (usize, usize)> = BTreeMap::new();
    for d in &report.diagnostics {
        let entry = by_rule.entry(d.rule).or_default();
        entry.0 += 1;
        entry.1 += usize::from(d.fix.is_some());
    }
    let mut rows: Vec<Row> = by_rule
        .into_iter()
        .map(|(rule, (count, fixable))| Row {
            rule,
            count,
            fixable,
        })
        .collect();
    rows.sort_by(|a, b| b.count.cmp(&a.count).then(a.rule.cmp(b.rule)));
    rows
}

/// An aligned table with a total line.
pub fn render_text(report: &Report) -> String {
    let rows = rows(report);
    let width = rows
        .iter()
        .map(|r| r.rule.len())
        .chain(["rule".len()])
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    let _ = writeln!(out, "{:>7}  {:>7}  rule", "count", "fixable");
    for row in &rows {
        let _ = writeln!(out, "{:>7}  {:>7}  {}", row.count, row.fixable, row.rule);
    }
    let total: usize = rows.iter().map(|r| r.count).sum();
    let fixable: usize = rows.iter().map(|r| r.fixable).sum();
    let _ = writeln!(out, "{:>7}  {:>7}  {:width$}", total, fixable, "total");
    // Trailing spaces from the padding of the last column help nobody.
    out.lines()
        .map(str::trim_end)
        .fold(String::new(), |mut acc, line| {
            acc.push_str(line);
            acc.push('\n');
            acc
        })
}

/// `{"version": 1, "rules": [{"rule", "count", "fixable"}], "total", "fixable"}`.
pub fn render_json(report: &Report) -> String {
    let rows = rows(report);
    let document = json!({
        "version": 1,
        "rules": rows
            .iter()
            .map(|r| json!({ "rule": r.rule, "count": r.count, "fixable": r.fixable }))
            .collect::<Vec<_>>(),
        "total": rows.iter().map(|r| r.count).sum::<usize>(),
        "fixable": rows.iter().map(|r| r.fixable).sum::<usize>(),
        "files": report.files,
    });
    let mut text = serde_json::to_string_pretty(&document).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::{Applicability, Diagnostic, Location, ResolvedFix, Severity};
    use crate::ir::Span;
    use crate::source::Position;
    use std::sync::Arc;

    fn diag(rule: &'static str, fixable: bool) -> Diagnostic {
        let at = Position { line: 1, column: 1 };
        Diagnostic {
            rule,
            severity: Severity::Error,
            location: Location {
                path: "a.ts".into(),
                start: at,
                end: at,
            },
            span: Span::new(0, 1),
            label: String::new(),
            message: String::new(),
            help: String::new(),
            related: vec![],
            fix: fixable.then(|| ResolvedFix {
                applicability: Applicability::Safe,
                edits: vec![],
            }),
            confidence: Default::default(),
            fingerprint: String::new(),
            source: Arc::from(""),
        }
    }

    fn report() -> Report {
        Report {
            diagnostics: vec![
                diag("tx-client-escape", true),
                diag("check-then-act", false),
                diag("tx-client-escape", false),
                diag("check-then-act", false),
                diag("unused-suppression", true),
            ],
            ..Report::default()
        }
    }

    #[test]
    fn most_frequent_first_ties_by_id_with_fixable_counts() {
        assert_eq!(
            rows(&report()),
            vec![
                Row {
                    rule: "check-then-act",
                    count: 2,
                    fixable: 0
                },
                Row {
                    rule: "tx-client-escape",
                    count: 2,
                    fixable: 1
                },
                Row {
                    rule: "unused-suppression",
                    count: 1,
                    fixable: 1
                },
            ]
        );
    }

    #[test]
    fn text_table_ends_with_the_total() {
        assert_eq!(
            render_text(&report()),
            "  count  fixable  rule\n      \
             2        0  check-then-act\n      \
             2        1  tx-client-escape\n      \
             1        1  unused-suppression\n      \
             5        2  total\n"
        );
    }

    #[test]
    fn json_carries_the_same_rows() {
        let value: serde_json::Value = serde_json::from_str(&render_json(&report())).unwrap();
        assert_eq!(value["total"], 5);
        assert_eq!(value["fixable"], 2);
        assert_eq!(value["rules"][1]["rule"], "tx-client-escape");
        assert_eq!(value["rules"][1]["fixable"], 1);
    }
}
