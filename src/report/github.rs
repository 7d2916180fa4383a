//! GitHub Actions workflow commands (`::error file=…,line=…::message`), which the
//! runner turns into annotations on the pull request's diff.
//!
//! The escaping follows GitHub's toolkit (`@actions/core` `command.ts`): in the
//! message, `%`, `\r` and `\n` are percent-encoded; in property values `:` and `,`
//! are too, because they separate the properties.
//!
//! GitHub shows only the first ten annotations of each kind per step, so
//! [`step_summary`] also writes the whole run as a Markdown table for the job's
//! summary page (`$GITHUB_STEP_SUMMARY`).

use crate::diagnostic::{Diagnostic, Report, RunError, Severity};
use std::fmt::Write;

/// One workflow command per diagnostic, then one `::warning` per run error; each
/// line ends with `\n`.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    for d in &report.diagnostics {
        diagnostic(&mut out, d);
    }
    for e in &report.errors {
        run_error(&mut out, e);
    }
    out
}

pub fn command(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "notice",
    }
}

fn diagnostic(out: &mut String, d: &Diagnostic) {
    let start = d.location.start;
    let end = d.location.end;
    let mut props = vec![
        ("file", d.location.path.replace('\\', "/")),
        ("line", start.line.to_string()),
        ("col", start.column.to_string()),
        ("endLine", end.line.max(start.line).to_string()),
    ];
    // GitHub documents endColumn only for single-line annotations.
    if end.line <= start.line {
        props.push(("endColumn", end.column.to_string()));
    }
    props.push(("title", format!("racelint({})", d.rule)));
    let mut message = d.message.clone();
    for r in &d.related {
        let _ = write!(
            message,
            "\n{}:{}:{}: {}",
            r.location.path, r.location.start.line, r.location.start.column, r.message
        );
    }
    if !d.help.is_empty() {
        message.push_str("\n\nhelp: ");
        message.push_str(&d.help);
    }
    line(out, command(d.severity), &props, &message);
}

fn run_error(out: &mut String, e: &RunError) {
    let mut props = vec![("file", e.path.replace('\\', "/"))];
    if let Some(p) = e.position {
        props.push(("line", p.line.to_string()));
        props.push(("col", p.column.to_string()));
    }
    props.push(("title", format!("racelint({})", e.kind.as_str())));
    line(out, "warning", &props, &e.message);
}

fn line(out: &mut String, command: &str, props: &[(&str, String)], message: &str) {
    out.push_str("::");
    out.push_str(command);
    for (i, (key, value)) in props.iter().enumerate() {
        out.push(if i == 0 { ' ' } else { ',' });
        out.push_str(key);
        out.push('=');
        out.push_str(&escape_property(value));
    }
    out.push_str("::");
    out.push_str(&escape_data(message));
    out.push('\n');
}

/// The message part of a command.
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A property value: as data, plus the two characters that separate properties.
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// Findings listed one by one in the step summary; the per-rule table counts all.
const SUMMARY_FINDINGS: usize = 100;

/// The job summary in Markdown: totals, findings per rule with fixable counts,
/// then the findings themselves (the first hundred).
pub fn step_summary(report: &Report) -> String {
    let mut out = String::from("## racelint\n\n");
    let findings = report.diagnostics.len();
    let _ = writeln!(
        out,
        "{} in {} file{}.\n",
        match findings {
            0 => "No races found".to_string(),
            1 => "1 finding".to_string(),
            n => format!("{n} findings"),
        },
        report.files,
        if report.files == 1 { "" } else { "s" }
    );
    if findings > 0 {
        out.push_str("| rule | findings | fixable |\n| --- | ---: | ---: |\n");
        for row in super::statistics::rows(report) {
            let _ = writeln!(out, "| `{}` | {} | {} |", row.rule, row.count, row.fixable);
        }
        out.push_str("\n| where | rule | severity | message |\n| --- | --- | --- | --- |\n");
        for d in report.diagnostics.iter().take(SUMMARY_FINDINGS) {
            let _ = writeln!(
                out,
                "| `{}:{}:{}` | `{}` | {} | {} |",
                d.location.path.replace('`', "'"),
                d.location.start.line,
                d.location.start.column,
                d.rule,
                d.severity.as_str(),
                table_cell(&d.message)
            );
        }
        if findings > SUMMARY_FINDINGS {
            let _ = writeln!(
                out,
                "\n{} more not listed; the annotations and the job log have them all.",
                findings - SUMMARY_FINDINGS
            );
        }
    }
    if !report.errors.is_empty() {
        let _ = writeln!(
            out,
            "\n{} file problem{} while reading or parsing (see the job log).",
            report.errors.len(),
            if report.errors.len() == 1 { "" } else { "s" }
        );
    }
    out
}

/// Text safe inside one Markdown table cell: no line breaks, pipes escaped,
/// no HTML taken from the user's code.
fn table_cell(text: &str) -> String {
    text.replace(['\r', '\n'], " ")
        .replace('|', "\\|")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::{ErrorKind, Location, RelatedLocation};
    use crate::ir::Span;
    use crate::source::Position;
    use std::sync::Arc;

    fn pos(line: u32, column: u32) -> Position {
        Position { line, column }
    }

    fn diag(severity: Severity, path: &str, message: &str) -> Diagnostic {
        Diagnostic {
            rule: "check-then-act",
            severity,
            location: Location {
                path: path.into(),
                start: pos(14, 5),
                end: pos(14, 11),
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
    fn one_command_per_finding_by_severity() {
        let report = Report {
            diagnostics: vec![
                diag(Severity::Error, "src/a.ts", "boom"),
                diag(Severity::Warning, "src/b.ts", "hmm"),
                diag(Severity::Info, "src/c.ts", "fyi"),
            ],
            ..Report::default()
        };
        assert_eq!(
            render(&report),
            "::error file=src/a.ts,line=14,col=5,endLine=14,endColumn=11,title=racelint(check-then-act)::boom\n\
             ::warning file=src/b.ts,line=14,col=5,endLine=14,endColumn=11,title=racelint(check-then-act)::hmm\n\
             ::notice file=src/c.ts,line=14,col=5,endLine=14,endColumn=11,title=racelint(check-then-act)::fyi\n"
        );
    }

    #[test]
    fn message_escapes_percent_and_line_breaks_only() {
        assert_eq!(
            escape_data("100% done\r\nnext: a,b"),
            "100%25 done%0D%0Anext: a,b"
        );
        // `%` first, or the `%` of `%0A` would itself be encoded.
        assert_eq!(escape_data("%0A\n"), "%250A%0A");
    }

    #[test]
    fn properties_also_escape_separators() {
        assert_eq!(escape_property("C:\\a,b%\n"), "C%3A\\a%2Cb%25%0A");
        let report = Report {
            diagnostics: vec![diag(Severity::Error, "odd,name:x%.ts", "a\nb")],
            ..Report::default()
        };
        let out = render(&report);
        assert!(
            out.starts_with("::error file=odd%2Cname%3Ax%25.ts,line=14,"),
            "{out}"
        );
        assert!(out.ends_with("::a%0Ab\n"), "{out}");
        assert_eq!(out.lines().count(), 1);
    }

    #[test]
    fn multi_line_spans_drop_end_column_and_help_and_related_follow_the_message() {
        let mut d = diag(Severity::Error, "src/a.ts", "insert races the check");
        d.location.end = pos(16, 7);
        d.help = "use upsert".into();
        d.related.push(RelatedLocation {
            location: Location {
                path: "src/a.ts".into(),
                start: pos(9, 20),
                end: pos(9, 30),
            },
            span: Span::default(),
            message: "the check happens here".into(),
        });
        let out = render(&Report {
            diagnostics: vec![d],
            ..Report::default()
        });
        assert_eq!(
            out,
            "::error file=src/a.ts,line=14,col=5,endLine=16,title=racelint(check-then-act)::\
             insert races the check%0Asrc/a.ts:9:20: the check happens here%0A%0Ahelp: use upsert\n"
        );
    }

    #[test]
    fn run_errors_are_warnings() {
        let report = Report {
            errors: vec![
                RunError {
                    kind: ErrorKind::ParseError,
                    path: "src/bad.ts".into(),
                    message: "unexpected `}`".into(),
                    position: Some(pos(3, 1)),
                },
                RunError {
                    kind: ErrorKind::ReadError,
                    path: "src/gone.ts".into(),
                    message: "permission denied".into(),
                    position: None,
                },
            ],
            ..Report::default()
        };
        assert_eq!(
            render(&report),
            "::warning file=src/bad.ts,line=3,col=1,title=racelint(parse-error)::unexpected `}`\n\
             ::warning file=src/gone.ts,title=racelint(read-error)::permission denied\n"
        );
    }

    #[test]
    fn step_summary_tables_rules_and_findings() {
        let mut report = Report {
            diagnostics: vec![
                diag(Severity::Error, "src/a.ts", "a | b <script>"),
                diag(Severity::Warning, "src/b.ts", "line one\nline two"),
            ],
            files: 3,
            ..Report::default()
        };
        report.diagnostics[1].rule = "sleep-as-sync";
        let out = step_summary(&report);
        assert!(
            out.starts_with("## racelint\n\n2 findings in 3 files.\n"),
            "{out}"
        );
        assert!(out.contains("| `check-then-act` | 1 | 0 |\n| `sleep-as-sync` | 1 | 0 |\n"));
        assert!(
            out.contains(
                "| `src/a.ts:14:5` | `check-then-act` | error | a \\| b &lt;script&gt; |\n"
            ),
            "{out}"
        );
        assert!(out.contains("| warning | line one line two |\n"), "{out}");
    }

    #[test]
    fn step_summary_of_a_clean_run_is_one_line() {
        let report = Report {
            files: 1,
            ..Report::default()
        };
        assert_eq!(
            step_summary(&report),
            "## racelint\n\nNo races found in 1 file.\n\n"
        );
    }
}
