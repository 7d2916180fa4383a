//! The human report: miette diagnostics with the code and both halves of the race
//! labelled. Graphical with colour on a terminal; plain when colour is off (not a
//! terminal, `NO_COLOR`, `TERM=dumb`, `--color never`): no colour and only ASCII
//! in what racelint writes, so logs and old consoles show it as it is. The only
//! file that knows miette.

use crate::diagnostic::{Diagnostic, Report, Severity};
use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteDiagnostic, NamedSource};
use std::fmt::Write;

pub struct Style {
    /// Colour and Unicode box drawing; off, the output is plain ASCII art.
    pub color: bool,
    pub width: usize,
}

/// `--color`: `auto` decides from the terminal and the environment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

impl Style {
    /// Colour only for a terminal, and never when `NO_COLOR` is set.
    pub fn detect(is_terminal: bool) -> Style {
        Style::choose(ColorChoice::Auto, is_terminal, &|name| {
            std::env::var(name).ok()
        })
    }

    /// The style for a `--color` choice. For `auto`, the conventions in the order
    /// their authors give precedence (no-color.org, bixense.com/clicolors, and
    /// Node's `FORCE_COLOR`): `NO_COLOR` turns colour off, `CLICOLOR_FORCE` or
    /// `FORCE_COLOR` turns it on, `TERM=dumb` off, else a terminal decides.
    pub fn choose(
        choice: ColorChoice,
        is_terminal: bool,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Style {
        let set = |name: &str| env(name).is_some_and(|v| !v.is_empty());
        let forced = |name: &str| env(name).is_some_and(|v| !v.is_empty() && v != "0");
        let color = match choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                if set("NO_COLOR") {
                    false
                } else if forced("CLICOLOR_FORCE") || forced("FORCE_COLOR") {
                    true
                } else if env("TERM").is_some_and(|t| t == "dumb") {
                    false
                } else {
                    is_terminal
                }
            }
        };
        Style { color, width: 100 }
    }
}

/// The findings, then the summary line.
pub fn render(report: &Report, style: &Style) -> String {
    let mut out = render_findings(report, style);
    out.push_str(&summary(report));
    out
}

/// The findings alone, each a miette report followed by a blank line.
pub fn render_findings(report: &Report, style: &Style) -> String {
    let theme = if style.color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::none()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(style.width)
        .with_links(false)
        // Help carries code to paste: a wrapped line would not paste.
        .with_wrap_lines(false)
        .with_context_lines(1);
    let mut out = String::new();
    for diagnostic in &report.diagnostics {
        let rendered = to_miette(diagnostic, !style.color);
        let _ = handler.render_report(&mut out, rendered.as_ref());
        out.push('\n');
    }
    out
}

/// racelint's own typography, said in ASCII for plain output. The user's code
/// is quoted as it is written.
pub fn to_ascii(text: &str) -> String {
    if text.is_ascii() {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\u{2014}' | '\u{2013}' => out.push_str("--"),
            '\u{2026}' => out.push_str("..."),
            '\u{2018}' | '\u{2019}' => out.push('\''),
            '\u{201C}' | '\u{201D}' => out.push('"'),
            '\u{2192}' => out.push_str("->"),
            '\u{2190}' => out.push_str("<-"),
            '\u{2264}' => out.push_str("<="),
            '\u{2265}' => out.push_str(">="),
            '\u{2260}' => out.push_str("!="),
            '\u{00D7}' => out.push('x'),
            '\u{2022}' | '\u{00B7}' => out.push('*'),
            '\u{00A0}' => out.push(' '),
            c if c.is_ascii() => out.push(c),
            _ => out.push('?'),
        }
    }
    out
}

fn to_miette(d: &Diagnostic, ascii: bool) -> Box<dyn miette::Diagnostic + Send + Sync> {
    let words = |text: &str| {
        if ascii {
            to_ascii(text)
        } else {
            text.to_string()
        }
    };
    let severity = match d.severity {
        Severity::Error => miette::Severity::Error,
        Severity::Warning => miette::Severity::Warning,
        Severity::Info => miette::Severity::Advice,
    };
    let mut labels = vec![LabeledSpan::new_primary_with_span(
        Some(words(&d.label)),
        d.span.range(),
    )];
    labels.extend(
        d.related
            .iter()
            .filter(|r| r.location.path == d.location.path)
            .map(|r| LabeledSpan::new_with_span(Some(words(&r.message)), r.span.range())),
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
    let diagnostic = MietteDiagnostic::new(words(&d.message))
        .with_code(d.rule)
        .with_severity(severity)
        .with_help(words(&help))
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

/// What the run did beyond its findings, for the closing lines.
#[derive(Clone, Copy, Debug, Default)]
pub struct Notes {
    /// Findings the baseline knew and left out, when a baseline was given.
    pub hidden_by_baseline: Option<usize>,
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// A duration as people read it: "0.04 s", "1.23 s", "12.3 s".
pub fn seconds(elapsed_ms: u64) -> String {
    let secs = elapsed_ms as f64 / 1000.0;
    if secs < 10.0 {
        format!("{secs:.2} s")
    } else {
        format!("{secs:.1} s")
    }
}

/// The closing lines: counts of findings and of files that could not be linted.
pub fn summary(report: &Report) -> String {
    summary_with(report, &Notes::default())
}

/// The closing lines: counts of findings with the run's time, what a baseline
/// hid, and files that could not be linted.
pub fn summary_with(report: &Report, notes: &Notes) -> String {
    let count = |s: Severity| {
        report
            .diagnostics
            .iter()
            .filter(|d| d.severity == s)
            .count()
    };
    let took = seconds(report.elapsed_ms);
    let mut out = String::new();
    if report.diagnostics.is_empty() && report.files == 0 && report.errors.is_empty() {
        let _ = writeln!(out, "No files to lint (in {took}).");
    } else if report.diagnostics.is_empty() {
        let _ = writeln!(
            out,
            "No races found in {} in {took}.",
            plural(report.files, "file")
        );
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
            "Found {} ({}) in {} in {took}.",
            plural(report.diagnostics.len(), "finding"),
            parts.join(", "),
            plural(report.files, "file")
        );
    }
    if let Some(hidden) = notes.hidden_by_baseline.filter(|&n| n > 0) {
        let _ = writeln!(
            out,
            "{} hidden by the baseline.",
            plural(hidden, "known finding")
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
