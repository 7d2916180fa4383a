//! A finding as plain data: what rules return, and what reports render.
//!
//! Rules produce [`Finding`]s with byte spans inside one file. The pipeline turns
//! each into a [`Diagnostic`]: path, 1-based positions, related locations and a
//! fingerprint. Nothing here formats for a terminal; that is `report/`'s job.

use crate::ir::Span;
use crate::source::Position;
use serde::Serialize;
use std::sync::Arc;

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// Ruff's meaning: `safe` keeps behaviour and is applied by `--fix`; `unsafe` may
/// change behaviour; `display-only` is a suggestion to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Applicability {
    Safe,
    Unsafe,
    DisplayOnly,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edit {
    pub span: Span,
    pub replacement: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fix {
    pub applicability: Applicability,
    pub edits: Vec<Edit>,
}

/// How sure racelint is that a finding is a race worth fixing (RULES.md,
/// "Confidence"). Ordered: `Low < Medium < High`.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Level {
    Low,
    #[default]
    Medium,
    High,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::High => "high",
            Level::Medium => "medium",
            Level::Low => "low",
        }
    }
}

/// A finding's confidence and the reason for it, in the user's terms.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Confidence {
    pub level: Level,
    pub reason: String,
}

impl Confidence {
    pub fn new(level: Level, reason: impl Into<String>) -> Confidence {
        Confidence {
            level,
            reason: reason.into(),
        }
    }
    pub fn high(reason: impl Into<String>) -> Confidence {
        Confidence::new(Level::High, reason)
    }
    pub fn medium(reason: impl Into<String>) -> Confidence {
        Confidence::new(Level::Medium, reason)
    }
    pub fn low(reason: impl Into<String>) -> Confidence {
        Confidence::new(Level::Low, reason)
    }
}

/// The other half of a race: the check, the first write, the parent delete.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Related {
    pub span: Span,
    pub message: String,
}

/// What a rule reports, inside one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub rule: &'static str,
    pub severity: Severity,
    /// The racy act: the write, the delete, the second write.
    pub span: Span,
    /// The label under the primary span.
    pub label: String,
    /// What is wrong, lowercase, no trailing full stop, in the user's names.
    pub message: String,
    /// What to do, with code for the client in use.
    pub help: String,
    pub related: Vec<Related>,
    pub fix: Option<Fix>,
    pub confidence: Confidence,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Location {
    pub path: String,
    pub start: Position,
    pub end: Position,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RelatedLocation {
    pub location: Location,
    #[serde(skip)]
    pub span: Span,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ResolvedEdit {
    pub location: Location,
    #[serde(skip)]
    pub span: Span,
    pub replacement: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ResolvedFix {
    pub applicability: Applicability,
    pub edits: Vec<ResolvedEdit>,
}

/// A finding placed in its file, ready for any report.
#[derive(Clone, Debug, Serialize)]
pub struct Diagnostic {
    pub rule: &'static str,
    pub severity: Severity,
    pub location: Location,
    #[serde(skip)]
    pub span: Span,
    pub label: String,
    pub message: String,
    pub help: String,
    pub related: Vec<RelatedLocation>,
    pub fix: Option<ResolvedFix>,
    pub confidence: Confidence,
    /// Stable across unrelated edits: rule, path and the normalised code of the spans.
    pub fingerprint: String,
    /// The file's text, for reports that show the code.
    #[serde(skip)]
    pub source: Arc<str>,
}

impl Diagnostic {
    pub fn sort_key(&self) -> (&str, Position, &str) {
        (&self.location.path, self.location.start, self.rule)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    /// The file was read but is not valid code for its language.
    ParseError,
    /// The file or folder could not be read (permissions, not UTF-8, a symlink loop).
    ReadError,
    /// The file was skipped on purpose (too large).
    Skipped,
    /// A schema source racelint could not understand.
    SchemaError,
    /// Two packages' schemas declare one table differently, and some file sees
    /// the two merged (`schema::packages`).
    SchemaConflict,
    /// racelint caught an inconsistency in its own model and repaired it: a bug to
    /// report, never the input's fault. The run goes on.
    InternalError,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::ParseError => "parse-error",
            ErrorKind::ReadError => "read-error",
            ErrorKind::Skipped => "skipped",
            ErrorKind::SchemaError => "schema-error",
            ErrorKind::SchemaConflict => "schema-conflict",
            ErrorKind::InternalError => "internal-error",
        }
    }
}

/// A file the run could not lint, or could lint only in part.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RunError {
    pub kind: ErrorKind,
    pub path: String,
    pub message: String,
    pub position: Option<Position>,
}

/// Everything one `racelint check` found.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub diagnostics: Vec<Diagnostic>,
    pub errors: Vec<RunError>,
    pub files: usize,
    pub elapsed_ms: u64,
}

/// A stable fingerprint from the rule, the path and the code involved (the lines of
/// the spans, `lint::place` decides) with all whitespace removed, so that moving
/// code or re-indenting it keeps the fingerprint.
pub fn fingerprint(rule: &str, path: &str, code_parts: &[&str]) -> String {
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    hasher.update(rule.as_bytes());
    hasher.update(&[0]);
    hasher.update(path.replace('\\', "/").as_bytes());
    for part in code_parts {
        hasher.update(&[0]);
        for chunk in part.split_whitespace() {
            hasher.update(chunk.as_bytes());
        }
    }
    format!("{:016x}", hasher.digest())
}

/// What a rule is, apart from what it finds: the one record that `racelint rules`,
/// the config's rule-id check and the SARIF rule table all read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RuleMeta {
    pub id: &'static str,
    pub severity: Severity,
    /// One line, lowercase, no trailing full stop.
    pub summary: &'static str,
    /// The rule's documentation in Markdown (`rules/<id>.md`).
    pub doc: &'static str,
    /// The race needs two requests (or a failure) at once, which a script that runs
    /// alone, such as a test or a database seed, cannot have (see `roles`).
    pub concurrent: bool,
    /// The applicability of the machine fix the rule's findings can carry
    /// (`racelint rules` shows it); `None` when it gives advice only.
    pub fixable: Option<Applicability>,
}
