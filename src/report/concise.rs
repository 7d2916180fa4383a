//! `--format concise`: one line per finding, `path:line:col: severity[rule] message`,
//! the shape compilers and editors' problem matchers read.

use crate::diagnostic::{Diagnostic, Report};
use std::fmt::Write;

/// One line per finding, in the report's order.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    for d in &report.diagnostics {
        let _ = writeln!(out, "{}", line(d));
    }
    out
}

fn line(d: &Diagnostic) -> String {
    // A message is one line by the rules' convention; a stray break would split
    // the finding in two for a line-oriented reader.
    let message = d.message.replace(['\r', '\n'], " ");
    format!(
        "{}:{}:{}: {}[{}] {}",
        d.location.path,
        d.location.start.line,
        d.location.start.column,
        d.severity.as_str(),
        d.rule,
        message
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::{Location, Severity};
    use crate::ir::Span;
    use crate::source::Position;
    use std::sync::Arc;

    fn diag(rule: &'static str, severity: Severity, line: u32, message: &str) -> Diagnostic {
        Diagnostic {
            rule,
            severity,
            location: Location {
                path: "src/invite.ts".into(),
                start: Position { line, column: 24 },
                end: Position { line, column: 30 },
            },
            span: Span::new(0, 6),
            label: String::new(),
            message: message.into(),
            help: String::new(),
            related: vec![],
            fix: None,
            confidence: Default::default(),
            fingerprint: String::new(),
            source: Arc::from(""),
        }
    }

    #[test]
    fn one_line_per_finding_with_severity_and_rule() {
        let report = Report {
            diagnostics: vec![
                diag("check-then-act", Severity::Error, 6, "`invite` is inserted"),
                diag("sleep-as-sync", Severity::Warning, 9, "a timer\nwaits"),
            ],
            ..Report::default()
        };
        assert_eq!(
            render(&report),
            "src/invite.ts:6:24: error[check-then-act] `invite` is inserted\n\
             src/invite.ts:9:24: warning[sleep-as-sync] a timer waits\n"
        );
    }
}
