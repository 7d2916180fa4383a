//! The human report: miette diagnostics with the code and both halves of the race
//! labelled. Graphical with colour on a terminal; without colour when stdout is not
//! a terminal or `NO_COLOR` is set. The only file that knows miette.

use crate::diagnostic::{Diagnostic, Report, Severity};
use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteDiagnostic, NamedSource};
use std::fmt::Write;

pub struct Style {
    pub color: bool,
    pub width: usize,
}

impl Style {
    /// Colour only for a terminal, and never when `NO_COLOR` is set.
    pub fn detect(is_terminal: bool) -> Style {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Style {
            color: is_terminal && !no_color,
            width: 100,
        }
    }
}

pub fn render(report: &Report, style: &Style) -> String {
    let theme = if style.color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(style.width)
        .with_links(false)
        // Help carries code to paste: a wrapped line would not paste.
        .with_wrap_lines(false)
        .with_context_lines(1);
    let mut out = String::new();
    for diagnostic in &report.diagnostics {
        let rendered = to_miette(diagnostic);
        let _ = handler.render_report(&mut out, rendered.as_ref());
        out.push('\n');
    }
    out.push_str(&summary(report));
    out
}

fn to_miette(d: &Diagnostic) -> Box<dyn miette::Diagnostic + Send + Sync> {
    let severity = match d.severity {
        Severity::Error => miette::Severity::Error,
        Severity::Warning => miette::Severity::Warning,
        Severity::Info => miette::Severity::Advice,
    };
    let mut labels = vec![LabeledSpan::new_primary_with_span(
        Some(d.label.clone()),
        d.span.range(),
    )];
    labels.extend(
        d.related
            .iter()
            .filter(|r| r.location.path == d.location.path)
            .map(|r| LabeledSpan::new_with_span(Some(r.message.clone()), r.span.range())),
    );
    let mut help = d.help.clone();
    for r in d
        .related
        .iter()
        .filter(|r| r.location.path != d.location.path)
    {
        let _ = write!(
            help,
            "\n{}:{}:{}: {}",
            r.location.path, r.location.start.line, r.location.start.column, r.message
        );
    }
    let _ = write!(help, "\nconfidence: {}", d.confidence.level.as_str());
    if !d.confidence.reason.is_empty() {
        let _ = write!(help, " ({})", d.confidence.reason);
    }
    match d.fix.as_ref().map(|f| f.applicability) {
        Some(crate::diagnostic::Applicability::Safe) => {
            help.push_str("\nfixable: `racelint check --fix` applies it, `--diff` shows it");
        }
        Some(crate::diagnostic::Applicability::Unsafe) => help.push_str(
            "\nfixable, with care: `racelint check --fix --unsafe-fixes` applies it, `--diff --unsafe-fixes` shows it",
        ),
        _ => {}
    }
    let diagnostic = MietteDiagnostic::new(d.message.clone())
        .with_code(d.rule)
        .with_severity(severity)
        .with_help(help)
        .with_labels(labels);
    let source = NamedSource::new(d.location.path.clone(), d.source.to_string());
    Box::new(WithSource { diagnostic, source })
}

/// A diagnostic with the file it points into.
#[derive(Debug)]
struct WithSource {
    diagnostic: MietteDiagnostic,
    source: NamedSource<String>,
}

impl std::fmt::Display for WithSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.diagnostic, f)
    }
}

impl std::error::Error for WithSource {}

impl miette::Diagnostic for WithSource {
    fn code<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.diagnostic.code()
    }
    fn severity(&self) -> Option<miette::Severity> {
        self.diagnostic.severity
    }
    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.diagnostic.help()
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        self.diagnostic.labels()
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.source)
    }
}

/// The closing lines: counts of findings and of files that could not be linted.
pub fn summary(report: &Report) -> String {
    let count = |s: Severity| {
        report
            .diagnostics
            .iter()
            .filter(|d| d.severity == s)
            .count()
    };
    let plural = |n: usize, word: &str| {
        if n == 1 {
            format!("{n} {word}")
        } else {
            format!("{n} {word}s")
        }
    };
    let mut out = String::new();
    if report.diagnostics.is_empty() {
        let _ = writeln!(out, "No races found in {}.", plural(report.files, "file"));
    } else {
        let mut parts = Vec::new();
        for (severity, word) in [
            (Severity::Error, "error"),
            (Severity::Warning, "warning"),
            (Severity::Info, "note"),
        ] {
            let n = count(severity);
            if n > 0 {
                parts.push(plural(n, word));
            }
        }
        let _ = writeln!(
            out,
            "Found {} ({}) in {}.",
            plural(report.diagnostics.len(), "finding"),
            parts.join(", "),
            plural(report.files, "file")
        );
    }
    if !report.errors.is_empty() {
        let _ = writeln!(
            out,
            "{} while reading or parsing (listed on stderr).",
            plural(report.errors.len(), "problem")
        );
    }
    out
}

/// A configuration error, with the file and the offending key underlined.
pub fn config_error(error: crate::config::ConfigError) -> String {
    format!("{:?}\n", miette::Report::new(error))
}

/// One line per file that could not be linted, for stderr.
pub fn error_lines(report: &Report) -> String {
    let mut out = String::new();
    for e in &report.errors {
        match e.position {
            Some(p) => {
                let _ = writeln!(
                    out,
                    "racelint: {}: {}:{}:{}: {}",
                    e.kind.as_str(),
                    e.path,
                    p.line,
                    p.column,
                    e.message
                );
            }
            None => {
                let _ = writeln!(
                    out,
                    "racelint: {}: {}: {}",
                    e.kind.as_str(),
                    e.path,
                    e.message
                );
            }
        }
    }
    out
}
