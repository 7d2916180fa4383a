//! SARIF 2.1.0 output, for GitHub code scanning and every other SARIF viewer.
//!
//! Only the part of SARIF racelint fills is modelled here, as plain serde structs:
//! the `serde-sarif` crate models all of it through generated builders, which costs
//! more compile time on a shared machine than these hundred lines do.
//!
//! Choices a reader of the output may wonder about:
//! - `columnKind` is `unicodeCodePoints`, because racelint's columns count Unicode
//!   scalar values (SARIF's default would be UTF-16 code units).
//! - Relative paths are given against `%SRCROOT%`, which GitHub resolves to the
//!   checkout; absolute paths (files outside the working directory) become `file://`
//!   URIs without a base.
//! - Each related location is also linked from the result's message
//!   (`[the check happens here](1)`), because GitHub shows related locations only
//!   when the message links them.
//! - Parse and read errors are `toolExecutionNotifications` of the one invocation;
//!   they do not make the run unsuccessful, as a file that cannot be parsed never
//!   stops a run.

use crate::diagnostic::{
    Diagnostic, ErrorKind, Location, Report, ResolvedFix, RuleMeta, RunError, Severity,
};
use serde::Serialize;
use std::collections::BTreeMap;

const SCHEMA: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";
const SRCROOT: &str = "%SRCROOT%";
/// The key under `partialFingerprints`; bump the suffix if `fingerprint()` changes.
pub const FINGERPRINT_KEY: &str = "racelint/v2";

/// Where a SARIF viewer sends the user to learn about the tool. Cargo's
/// `repository` field wins once the manifest has one.
fn information_uri() -> &'static str {
    match env!("CARGO_PKG_REPOSITORY") {
        "" => "https://crates.io/crates/racelint",
        uri => uri,
    }
}

/// Renders the report as one SARIF 2.1.0 log (pretty-printed, with a final newline).
///
/// `rules` is the rule table (every rule that can report, including the
/// suppression rules from [`crate::suppress::META`]); a diagnostic whose rule is
/// missing from it still gets a bare descriptor so that `ruleIndex` stays valid.
pub fn render(report: &Report, rules: &[RuleMeta]) -> String {
    let mut descriptors: Vec<ReportingDescriptor> = rules.iter().map(descriptor).collect();
    let mut index: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, rule) in rules.iter().enumerate() {
        index.entry(rule.id).or_insert(i);
    }
    for d in &report.diagnostics {
        if !index.contains_key(d.rule) {
            index.insert(d.rule, descriptors.len());
            descriptors.push(bare_descriptor(d.rule, d.severity));
        }
    }

    let results = report
        .diagnostics
        .iter()
        .map(|d| result(d, index[d.rule]))
        .collect();

    let log = Log {
        schema: SCHEMA,
        version: "2.1.0",
        runs: vec![Run {
            tool: Tool {
                driver: Driver {
                    name: "racelint",
                    version: env!("CARGO_PKG_VERSION"),
                    semantic_version: env!("CARGO_PKG_VERSION"),
                    information_uri: information_uri(),
                    rules: descriptors,
                    notifications: ERROR_KINDS
                        .iter()
                        .map(|k| notification_descriptor(*k))
                        .collect(),
                },
            },
            invocations: vec![Invocation {
                execution_successful: true,
                tool_execution_notifications: report.errors.iter().map(notification).collect(),
            }],
            column_kind: "unicodeCodePoints",
            results,
        }],
    };
    let mut out = serde_json::to_string_pretty(&log).expect("SARIF structs always serialize");
    out.push('\n');
    out
}

pub fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

/// Where a rule's documentation is read on the web: `rules/<id>.md` in the
/// repository Cargo's `repository` names.
fn rule_doc_uri(id: &str) -> Option<String> {
    let repository = env!("CARGO_PKG_REPOSITORY").trim_end_matches('/');
    (!repository.is_empty()).then(|| format!("{repository}/blob/main/rules/{id}.md"))
}

/// Where the problems with files (parse errors, skipped files) are explained.
fn problems_doc_uri() -> Option<String> {
    let repository = env!("CARGO_PKG_REPOSITORY").trim_end_matches('/');
    (!repository.is_empty()).then(|| format!("{repository}#problems-with-files"))
}

/// The doc's "What it does" paragraph as one line of text, else the summary.
fn what_it_does(doc: &str, summary: &str) -> String {
    let section = doc
        .split("## What it does")
        .nth(1)
        .map(|rest| rest.trim_start())
        .unwrap_or("");
    let paragraph = section.split("\n\n").next().unwrap_or("").trim();
    if paragraph.is_empty() || paragraph.starts_with('#') {
        return format!("racelint flags: {summary}.");
    }
    paragraph.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn descriptor(rule: &RuleMeta) -> ReportingDescriptor {
    let doc = rule.doc.trim();
    ReportingDescriptor {
        id: rule.id.to_string(),
        name: name(rule.id),
        short_description: Message::text(rule.summary),
        full_description: Some(MultiformatMessage {
            text: what_it_does(doc, rule.summary),
            markdown: (!doc.is_empty()).then(|| doc.to_string()),
        }),
        help_uri: rule_doc_uri(rule.id),
        help: (!doc.is_empty()).then(|| MultiformatMessage {
            text: format!(
                "{}. Run `racelint explain {}` for details.",
                rule.summary, rule.id
            ),
            markdown: Some(doc.to_string()),
        }),
        default_configuration: Configuration {
            level: level(rule.severity),
        },
    }
}

fn bare_descriptor(id: &str, severity: Severity) -> ReportingDescriptor {
    ReportingDescriptor {
        id: id.to_string(),
        name: name(id),
        short_description: Message::text(id),
        full_description: Some(MultiformatMessage {
            text: format!("Findings of the racelint rule `{id}`."),
            markdown: None,
        }),
        help_uri: rule_doc_uri(id),
        help: None,
        default_configuration: Configuration {
            level: level(severity),
        },
    }
}

/// SARIF's `name` is an identifier-like form of the id; the Multitool warns when
/// the two differ only in case (`skipped`/`Skipped`), so such a name is left out.
fn name(id: &str) -> Option<String> {
    let name = pascal_case(id);
    (!name.eq_ignore_ascii_case(id)).then_some(name)
}

fn pascal_case(id: &str) -> String {
    id.split(['-', '_'])
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        })
        .collect()
}

fn result(d: &Diagnostic, rule_index: usize) -> SarifResult {
    let mut text = escape_links(&d.message);
    for (i, r) in d.related.iter().enumerate() {
        let sep = if i == 0 { " — " } else { "; " };
        text.push_str(sep);
        text.push_str(&format!("[{}]({})", escape_link_text(&r.message), i + 1));
    }
    let mut partial_fingerprints = BTreeMap::new();
    partial_fingerprints.insert(FINGERPRINT_KEY, d.fingerprint.clone());
    SarifResult {
        rule_id: d.rule.to_string(),
        rule_index,
        level: level(d.severity),
        message: Message::text(text),
        locations: vec![SarifLocation {
            id: None,
            physical_location: physical(&d.location),
            message: None,
        }],
        related_locations: d
            .related
            .iter()
            .enumerate()
            .map(|(i, r)| SarifLocation {
                id: Some(i + 1),
                physical_location: physical(&r.location),
                message: Some(Message::text(&r.message)),
            })
            .collect(),
        partial_fingerprints,
        fixes: d.fix.as_ref().map(fix).into_iter().collect(),
        rank: rank(d.confidence.level),
        properties: ResultProperties {
            confidence: d.confidence.level.as_str(),
            confidence_reason: d.confidence.reason.clone(),
        },
    }
}

/// SARIF's `rank` (0–100, how likely the result is a real problem) for a confidence.
fn rank(level: crate::diagnostic::Level) -> f64 {
    match level {
        crate::diagnostic::Level::High => 90.0,
        crate::diagnostic::Level::Medium => 60.0,
        crate::diagnostic::Level::Low => 30.0,
    }
}

fn fix(f: &ResolvedFix) -> SarifFix {
    // One artifactChange per file, edits in source order, as SARIF requires the
    // replacements of one change not to overlap and readers apply them in order.
    let mut by_path: BTreeMap<&str, Vec<Replacement>> = BTreeMap::new();
    let mut edits: Vec<_> = f.edits.iter().collect();
    edits.sort_by_key(|e| (e.location.path.as_str(), e.location.start));
    for e in edits {
        by_path
            .entry(&e.location.path)
            .or_default()
            .push(Replacement {
                deleted_region: region(&e.location),
                inserted_content: ArtifactContent {
                    text: e.replacement.clone(),
                },
            });
    }
    let applicability = match f.applicability {
        crate::diagnostic::Applicability::Safe => "safe",
        crate::diagnostic::Applicability::Unsafe => "unsafe",
        crate::diagnostic::Applicability::DisplayOnly => "display-only",
    };
    SarifFix {
        description: Message::text(format!("racelint fix ({applicability})")),
        artifact_changes: by_path
            .into_iter()
            .map(|(path, replacements)| ArtifactChange {
                artifact_location: artifact(path),
                replacements,
            })
            .collect(),
        properties: FixProperties { applicability },
    }
}

fn physical(loc: &Location) -> PhysicalLocation {
    PhysicalLocation {
        artifact_location: artifact(&loc.path),
        region: Some(region(loc)),
    }
}

fn region(loc: &Location) -> Region {
    Region {
        start_line: loc.start.line.max(1),
        start_column: loc.start.column.max(1),
        end_line: loc.end.line.max(loc.start.line).max(1),
        end_column: loc.end.column.max(1),
    }
}

fn artifact(path: &str) -> ArtifactLocation {
    let path = path.replace('\\', "/");
    let drive = path.as_bytes().get(1) == Some(&b':') && path.as_bytes()[0].is_ascii_alphabetic();
    if path.starts_with('/') {
        ArtifactLocation {
            uri: format!("file://{}", percent_encode(&path)),
            uri_base_id: None,
        }
    } else if drive {
        ArtifactLocation {
            uri: format!("file:///{}", percent_encode(&path)),
            uri_base_id: None,
        }
    } else {
        let rel = path.strip_prefix("./").unwrap_or(&path);
        ArtifactLocation {
            uri: percent_encode(rel),
            uri_base_id: Some(SRCROOT),
        }
    }
}

/// Keeps RFC 3986 unreserved characters, `/` and a drive's `:`; encodes the rest
/// byte by byte, so that spaces, `%`, `#` and non-ASCII names make valid URIs.
fn percent_encode(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for (i, b) in path.bytes().enumerate() {
        let keep = b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/')
            || (b == b':' && i == 1);
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// SARIF reads `[text](id)` in a message as a link; a message that happens to
/// contain that shape must have its brackets escaped (SARIF §3.11.6).
fn escape_links(text: &str) -> String {
    if text.contains("](") {
        escape_link_text(text)
    } else {
        text.to_string()
    }
}

fn escape_link_text(text: &str) -> String {
    text.replace('[', "\\[").replace(']', "\\]")
}

const ERROR_KINDS: [ErrorKind; 6] = [
    ErrorKind::ParseError,
    ErrorKind::ReadError,
    ErrorKind::Skipped,
    ErrorKind::SchemaError,
    ErrorKind::SchemaConflict,
    ErrorKind::InternalError,
];

fn notification_descriptor(kind: ErrorKind) -> ReportingDescriptor {
    let summary = match kind {
        ErrorKind::ParseError => "a file is not valid code for its language",
        ErrorKind::ReadError => "a file or folder could not be read",
        ErrorKind::Skipped => "a file, or a stage's work on one function, was skipped on purpose",
        ErrorKind::SchemaError => "a schema source could not be understood",
        ErrorKind::SchemaConflict => "two packages declare a table differently",
        ErrorKind::InternalError => "racelint repaired an inconsistency in its own model",
    };
    let full = match kind {
        ErrorKind::ParseError => {
            "The file is not valid code for its language. racelint reports it and lints the \
             rest of the project; findings in that file may be missing."
        }
        ErrorKind::ReadError => {
            "A file or folder could not be read: permissions, a binary or non-UTF-8 file, a \
             symbolic link loop. It is left out and the run goes on."
        }
        ErrorKind::Skipped => {
            "A file over the size limit (`max-file-size`), or a stage's work on one very large \
             function, was skipped so that the run stays bounded."
        }
        ErrorKind::SchemaError => {
            "A schema source (a Prisma schema, a migration, a model) could not be understood; \
             the tables it declares may be unknown to the rules."
        }
        ErrorKind::SchemaConflict => {
            "Two packages of a monorepo declare one table differently (keys, foreign keys, \
             ON DELETE), and files outside both take the table from the project's merged \
             schema, which combines the two. Reported once per run, at the first declaration."
        }
        ErrorKind::InternalError => {
            "racelint caught an inconsistency in its own model and repaired it. This is a bug \
             in racelint, never the input's fault; please report it."
        }
    };
    ReportingDescriptor {
        id: kind.as_str().to_string(),
        name: name(kind.as_str()),
        short_description: Message::text(summary),
        full_description: Some(MultiformatMessage {
            text: full.to_string(),
            markdown: None,
        }),
        help_uri: problems_doc_uri(),
        help: None,
        default_configuration: Configuration {
            level: notification_level(kind),
        },
    }
}

fn notification_level(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Skipped => "note",
        _ => "warning",
    }
}

fn notification(e: &RunError) -> Notification {
    let index = ERROR_KINDS
        .iter()
        .position(|k| *k == e.kind)
        .expect("every kind is listed");
    Notification {
        level: notification_level(e.kind),
        message: Message::text(format!("{}: {}", e.path, e.message)),
        locations: vec![NotificationLocation {
            physical_location: PhysicalLocation {
                artifact_location: artifact(&e.path),
                region: e.position.map(|p| Region {
                    start_line: p.line.max(1),
                    start_column: p.column.max(1),
                    end_line: p.line.max(1),
                    end_column: p.column.max(1),
                }),
            },
        }],
        descriptor: DescriptorReference {
            id: e.kind.as_str(),
            index,
        },
    }
}

#[derive(Serialize)]
struct Log {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: Vec<Run>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Run {
    tool: Tool,
    invocations: Vec<Invocation>,
    column_kind: &'static str,
    results: Vec<SarifResult>,
}

#[derive(Serialize)]
struct Tool {
    driver: Driver,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Driver {
    name: &'static str,
    version: &'static str,
    semantic_version: &'static str,
    information_uri: &'static str,
    rules: Vec<ReportingDescriptor>,
    notifications: Vec<ReportingDescriptor>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ReportingDescriptor {
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    short_description: Message,
    #[serde(skip_serializing_if = "Option::is_none")]
    full_description: Option<MultiformatMessage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    help_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    help: Option<MultiformatMessage>,
    default_configuration: Configuration,
}

#[derive(Serialize)]
struct Configuration {
    level: &'static str,
}

#[derive(Serialize)]
struct Message {
    text: String,
}

impl Message {
    fn text(text: impl Into<String>) -> Self {
        Message { text: text.into() }
    }
}

#[derive(Serialize)]
struct MultiformatMessage {
    text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    markdown: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Invocation {
    execution_successful: bool,
    tool_execution_notifications: Vec<Notification>,
}

#[derive(Serialize)]
struct Notification {
    level: &'static str,
    message: Message,
    locations: Vec<NotificationLocation>,
    descriptor: DescriptorReference,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NotificationLocation {
    physical_location: PhysicalLocation,
}

#[derive(Serialize)]
struct DescriptorReference {
    id: &'static str,
    index: usize,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult {
    rule_id: String,
    rule_index: usize,
    level: &'static str,
    message: Message,
    locations: Vec<SarifLocation>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    related_locations: Vec<SarifLocation>,
    partial_fingerprints: BTreeMap<&'static str, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    fixes: Vec<SarifFix>,
    rank: f64,
    properties: ResultProperties,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ResultProperties {
    confidence: &'static str,
    #[serde(skip_serializing_if = "String::is_empty")]
    confidence_reason: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifLocation {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<usize>,
    physical_location: PhysicalLocation,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<Message>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation {
    artifact_location: ArtifactLocation,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<Region>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ArtifactLocation {
    uri: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    uri_base_id: Option<&'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Region {
    start_line: u32,
    start_column: u32,
    end_line: u32,
    end_column: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifFix {
    description: Message,
    artifact_changes: Vec<ArtifactChange>,
    properties: FixProperties,
}

#[derive(Serialize)]
struct FixProperties {
    applicability: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ArtifactChange {
    artifact_location: ArtifactLocation,
    replacements: Vec<Replacement>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Replacement {
    deleted_region: Region,
    inserted_content: ArtifactContent,
}

#[derive(Serialize)]
struct ArtifactContent {
    text: String,
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::diagnostic::{Applicability, RelatedLocation, ResolvedEdit, ResolvedFix};
    use crate::ir::Span;
    use crate::source::Position;
    use serde_json::Value;
    use std::sync::Arc;

    fn loc(path: &str, l1: u32, c1: u32, l2: u32, c2: u32) -> Location {
        Location {
            path: path.into(),
            start: Position {
                line: l1,
                column: c1,
            },
            end: Position {
                line: l2,
                column: c2,
            },
        }
    }

    pub(crate) const RULES: &[RuleMeta] = &[
        RuleMeta {
            id: "check-then-act",
            severity: Severity::Error,
            summary: "a read decides a write that another request can race",
            doc: "# check-then-act\n\n## What it does\n\nFlags a read that decides a write.\n",
            concurrent: true,
            fixable: None,
        },
        RuleMeta {
            id: "sleep-as-sync",
            severity: Severity::Warning,
            summary: "a timer used to wait for another write",
            doc: "",
            concurrent: true,
            fixable: None,
        },
    ];

    pub(crate) fn sample_report() -> Report {
        let with_fix = Diagnostic {
            rule: "check-then-act",
            severity: Severity::Error,
            location: loc("src/invites.ts", 14, 5, 16, 7),
            span: Span::new(300, 360),
            label: "the insert".into(),
            message: "`invite` is inserted after checking it does not exist [see](docs)".into(),
            help: "use `upsert`".into(),
            related: vec![RelatedLocation {
                location: loc("src/invites.ts", 9, 20, 9, 48),
                span: Span::new(100, 128),
                message: "the check happens here".into(),
            }],
            fix: Some(ResolvedFix {
                applicability: Applicability::Safe,
                edits: vec![
                    ResolvedEdit {
                        location: loc("src/invites.ts", 15, 1, 15, 1),
                        span: Span::new(320, 320),
                        replacement: "  // inserted\n".into(),
                    },
                    ResolvedEdit {
                        location: loc("src/invites.ts", 14, 5, 14, 11),
                        span: Span::new(300, 306),
                        replacement: "tx".into(),
                    },
                ],
            }),
            confidence: Default::default(),
            fingerprint: "0123456789abcdef".into(),
            source: Arc::from(""),
        };
        let info = Diagnostic {
            rule: "unused-suppression",
            severity: Severity::Info,
            location: loc("dir with space/ü.rs", 1, 1, 1, 30),
            span: Span::new(0, 29),
            label: String::new(),
            message: "unused suppression".into(),
            help: "remove it".into(),
            related: vec![],
            fix: None,
            confidence: Default::default(),
            fingerprint: "fedcba9876543210".into(),
            source: Arc::from(""),
        };
        let absolute = Diagnostic {
            rule: "sleep-as-sync",
            severity: Severity::Warning,
            location: loc("/abs/path/x.ts", 3, 1, 3, 9),
            fingerprint: "1111111111111111".into(),
            ..info.clone()
        };
        Report {
            diagnostics: vec![with_fix, info, absolute],
            errors: vec![RunError {
                kind: ErrorKind::ParseError,
                path: "src/broken.ts".into(),
                message: "unexpected token".into(),
                position: Some(Position { line: 3, column: 7 }),
            }],
            files: 3,
            elapsed_ms: 5,
        }
    }

    fn rendered() -> Value {
        serde_json::from_str(&render(&sample_report(), RULES)).unwrap()
    }

    #[test]
    fn validates_against_the_official_schema() {
        let schema: Value =
            serde_json::from_str(include_str!("../../tests/data/sarif-2.1.0.json")).unwrap();
        let validator = jsonschema::validator_for(&schema).expect("schema compiles");
        let instance = rendered();
        let errors: Vec<String> = validator
            .iter_errors(&instance)
            .map(|e| format!("{} at {}", e, e.instance_path))
            .collect();
        assert!(errors.is_empty(), "{errors:#?}");

        let empty: Value = serde_json::from_str(&render(&Report::default(), &[])).unwrap();
        assert!(validator.is_valid(&empty));
    }

    #[test]
    fn the_schema_rejects_what_sarif_forbids() {
        // Guards the test above: a schema that accepts anything would prove nothing.
        let schema: Value =
            serde_json::from_str(include_str!("../../tests/data/sarif-2.1.0.json")).unwrap();
        let validator = jsonschema::validator_for(&schema).unwrap();
        let mut bad = rendered();
        bad["runs"][0]["results"][0]["level"] = Value::from("fatal");
        assert!(!validator.is_valid(&bad));
        let mut bad = rendered();
        bad["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] =
            Value::from(0);
        assert!(!validator.is_valid(&bad));
    }

    #[test]
    fn run_header() {
        let v = rendered();
        assert_eq!(v["version"], "2.1.0");
        assert!(v["$schema"].as_str().unwrap().ends_with("2.1.0.json"));
        let run = &v["runs"][0];
        assert_eq!(v["runs"].as_array().unwrap().len(), 1);
        assert_eq!(run["columnKind"], "unicodeCodePoints");
        let driver = &run["tool"]["driver"];
        assert_eq!(driver["name"], "racelint");
        assert_eq!(driver["version"], env!("CARGO_PKG_VERSION"));
        assert!(driver["informationUri"]
            .as_str()
            .unwrap()
            .starts_with("https://"));
    }

    #[test]
    fn rules_carry_descriptions_and_levels() {
        let v = rendered();
        let rules = v["runs"][0]["tool"]["driver"]["rules"].as_array().unwrap();
        assert_eq!(rules[0]["id"], "check-then-act");
        assert_eq!(rules[0]["name"], "CheckThenAct");
        assert_eq!(rules[0]["defaultConfiguration"]["level"], "error");
        assert_eq!(
            rules[0]["shortDescription"]["text"],
            "a read decides a write that another request can race"
        );
        assert!(rules[0]["help"]["markdown"]
            .as_str()
            .unwrap()
            .contains("## What it does"));
        assert_eq!(rules[1]["defaultConfiguration"]["level"], "warning");
        // No doc: no empty help for viewers to show.
        assert!(rules[1].get("help").is_none());
        // A diagnostic of a rule missing from the table gets a descriptor of its own.
        assert_eq!(rules[2]["id"], "unused-suppression");
        assert_eq!(rules.len(), 3);
    }

    #[test]
    fn every_descriptor_has_a_full_description_and_a_help_uri() {
        let v = rendered();
        let driver = &v["runs"][0]["tool"]["driver"];
        let rules = driver["rules"].as_array().unwrap();
        let notifications = driver["notifications"].as_array().unwrap();
        for d in rules.iter().chain(notifications) {
            let text = d["fullDescription"]["text"].as_str().unwrap();
            assert!(!text.is_empty(), "{d}");
            let uri = d["helpUri"].as_str().unwrap();
            assert!(uri.starts_with(env!("CARGO_PKG_REPOSITORY")), "{uri}");
        }
        assert!(rules[0]["helpUri"]
            .as_str()
            .unwrap()
            .ends_with("/blob/main/rules/check-then-act.md"));
        // The "What it does" paragraph, on one line.
        assert!(
            rules[0]["fullDescription"]["text"]
                .as_str()
                .unwrap()
                .starts_with("Flags a read that decides a write."),
            "{}",
            rules[0]["fullDescription"]
        );
    }

    #[test]
    fn results_point_at_their_rules_and_places() {
        let v = rendered();
        let results = v["runs"][0]["results"].as_array().unwrap();
        let rules = v["runs"][0]["tool"]["driver"]["rules"].as_array().unwrap();
        for r in results {
            let i = r["ruleIndex"].as_u64().unwrap() as usize;
            assert_eq!(rules[i]["id"], r["ruleId"]);
        }
        let first = &results[0];
        assert_eq!(first["level"], "error");
        let pl = &first["locations"][0]["physicalLocation"];
        assert_eq!(pl["artifactLocation"]["uri"], "src/invites.ts");
        assert_eq!(pl["artifactLocation"]["uriBaseId"], "%SRCROOT%");
        assert_eq!(
            pl["region"],
            serde_json::json!({"startLine": 14, "startColumn": 5, "endLine": 16, "endColumn": 7})
        );
        assert_eq!(
            first["partialFingerprints"]["racelint/v2"],
            "0123456789abcdef"
        );
        let related = &first["relatedLocations"][0];
        assert_eq!(related["id"], 1);
        assert_eq!(related["message"]["text"], "the check happens here");
        assert_eq!(related["physicalLocation"]["region"]["startLine"], 9);

        assert_eq!(results[1]["level"], "note");
        assert_eq!(results[2]["level"], "warning");
    }

    #[test]
    fn message_links_related_locations_and_escapes_accidental_links() {
        let v = rendered();
        let text = v["runs"][0]["results"][0]["message"]["text"]
            .as_str()
            .unwrap();
        assert_eq!(
            text,
            "`invite` is inserted after checking it does not exist \\[see\\](docs) — [the check happens here](1)"
        );
        assert_eq!(escape_links("$transaction([a, b])"), "$transaction([a, b])");
    }

    #[test]
    fn uris_are_relative_to_srcroot_or_absolute_file_uris() {
        let v = rendered();
        let results = v["runs"][0]["results"].as_array().unwrap();
        let art = |i: usize| &results[i]["locations"][0]["physicalLocation"]["artifactLocation"];
        assert_eq!(art(1)["uri"], "dir%20with%20space/%C3%BC.rs");
        assert_eq!(art(2)["uri"], "file:///abs/path/x.ts");
        assert!(art(2).get("uriBaseId").is_none());
        assert_eq!(artifact("C:\\src\\a b.ts").uri, "file:///C:/src/a%20b.ts");
        assert_eq!(artifact("./src/a.ts").uri, "src/a.ts");
    }

    #[test]
    fn fixes_become_replacements_in_source_order() {
        let v = rendered();
        let fixes = v["runs"][0]["results"][0]["fixes"].as_array().unwrap();
        assert_eq!(fixes.len(), 1);
        assert_eq!(fixes[0]["properties"]["applicability"], "safe");
        let change = &fixes[0]["artifactChanges"][0];
        assert_eq!(change["artifactLocation"]["uri"], "src/invites.ts");
        let reps = change["replacements"].as_array().unwrap();
        assert_eq!(reps[0]["deletedRegion"]["startLine"], 14);
        assert_eq!(reps[0]["deletedRegion"]["endColumn"], 11);
        assert_eq!(reps[0]["insertedContent"]["text"], "tx");
        // An insertion is an empty deleted region.
        assert_eq!(
            reps[1]["deletedRegion"]["startColumn"],
            reps[1]["deletedRegion"]["endColumn"]
        );
        assert!(v["runs"][0]["results"][1].get("fixes").is_none());
    }

    #[test]
    fn run_errors_are_notifications_not_failures() {
        let v = rendered();
        let inv = &v["runs"][0]["invocations"][0];
        assert_eq!(inv["executionSuccessful"], true);
        let n = &inv["toolExecutionNotifications"][0];
        assert_eq!(n["level"], "warning");
        assert_eq!(n["descriptor"]["id"], "parse-error");
        let notifications = v["runs"][0]["tool"]["driver"]["notifications"]
            .as_array()
            .unwrap();
        let i = n["descriptor"]["index"].as_u64().unwrap() as usize;
        assert_eq!(notifications[i]["id"], "parse-error");
        assert_eq!(
            n["locations"][0]["physicalLocation"]["region"]["startLine"],
            3
        );
        assert!(n["message"]["text"]
            .as_str()
            .unwrap()
            .contains("unexpected token"));
    }

    #[test]
    fn output_is_deterministic() {
        assert_eq!(
            render(&sample_report(), RULES),
            render(&sample_report(), RULES)
        );
    }

    /// Microsoft's validator checks more than the schema (rule SARIF1001 and its
    /// siblings). It is a 40 MiB download, so it runs only with
    /// `RACELINT_SLOW_TESTS=1`; `RACELINT_SARIF_MULTITOOL` may point at an installed
    /// `Sarif.Multitool`, else the npm package is fetched into `target/`.
    #[test]
    fn multitool_validate_finds_no_errors_or_warnings() {
        if std::env::var_os("RACELINT_SLOW_TESTS").is_none_or(|v| v != "1") {
            eprintln!("skipped: set RACELINT_SLOW_TESTS=1 to run the SARIF Multitool");
            return;
        }
        let tool = multitool();
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("racelint.sarif");
        let output = dir.path().join("validation.sarif");
        std::fs::write(&input, render(&sample_report(), RULES)).unwrap();
        let status = std::process::Command::new(&tool)
            .arg("validate")
            .arg(&input)
            .arg("-o")
            .arg(&output)
            .arg("--level")
            .arg("Error;Warning")
            .status()
            .expect("Sarif.Multitool runs");
        assert!(status.success());
        let log: Value = serde_json::from_str(&std::fs::read_to_string(&output).unwrap()).unwrap();
        let problems: Vec<&Value> = log["runs"][0]["results"]
            .as_array()
            .map(|r| r.iter().collect())
            .unwrap_or_default();
        assert!(problems.is_empty(), "{problems:#?}");
    }

    fn multitool() -> std::path::PathBuf {
        if let Some(path) = std::env::var_os("RACELINT_SARIF_MULTITOOL") {
            return path.into();
        }
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/sarif-multitool");
        let tool = dir.join("package/Sarif.Multitool");
        if !tool.exists() {
            std::fs::create_dir_all(&dir).unwrap();
            let pack = std::process::Command::new("npm")
                .args(["pack", "@microsoft/sarif-multitool-linux@5.7.0"])
                .current_dir(&dir)
                .status()
                .expect("npm is installed");
            assert!(pack.success());
            let untar = std::process::Command::new("tar")
                .args(["xzf", "microsoft-sarif-multitool-linux-5.7.0.tgz"])
                .current_dir(&dir)
                .status()
                .unwrap();
            assert!(untar.success());
            let chmod = std::process::Command::new("chmod")
                .arg("+x")
                .arg(&tool)
                .status()
                .unwrap();
            assert!(chmod.success());
        }
        tool
    }
}
