//! `--format json`: one document on stdout, as CONTRACT.md and
//! `racelint-output.schema.json` define it.

use crate::diagnostic::{Diagnostic, Location, Report};
use serde_json::{json, Map, Value};

pub fn render(report: &Report) -> String {
    let findings: Vec<Value> = report.diagnostics.iter().map(finding).collect();
    let errors: Vec<Value> = report
        .errors
        .iter()
        .map(|e| {
            let mut error = Map::new();
            error.insert("kind".into(), json!(e.kind.as_str()));
            error.insert("path".into(), json!(e.path));
            error.insert("message".into(), json!(e.message));
            if let Some(p) = e.position {
                error.insert("line".into(), json!(p.line));
                error.insert("column".into(), json!(p.column));
            }
            Value::Object(error)
        })
        .collect();
    let document = json!({
        "version": 1,
        "findings": findings,
        "errors": errors,
        "summary": {
            "files": report.files,
            "findings": report.diagnostics.len(),
            "elapsed_ms": report.elapsed_ms,
        }
    });
    let mut text = serde_json::to_string_pretty(&document).unwrap_or_default();
    text.push('\n');
    text
}

fn finding(d: &Diagnostic) -> Value {
    let mut f = Map::new();
    f.insert("rule".into(), json!(d.rule));
    f.insert("severity".into(), json!(d.severity.as_str()));
    f.insert("path".into(), json!(d.location.path));
    f.insert("line".into(), json!(d.location.start.line));
    f.insert("column".into(), json!(d.location.start.column));
    f.insert("end_line".into(), json!(d.location.end.line));
    f.insert("end_column".into(), json!(d.location.end.column));
    f.insert("message".into(), json!(d.message));
    f.insert("help".into(), json!(d.help));
    f.insert(
        "related".into(),
        Value::Array(
            d.related
                .iter()
                .map(|r| related(&r.location, &r.message))
                .collect(),
        ),
    );
    if let Some(fix) = &d.fix {
        f.insert(
            "fix".into(),
            json!({
                "applicability": fix.applicability,
                "edits": fix.edits.iter().map(|e| json!({
                    "path": e.location.path,
                    "start_line": e.location.start.line,
                    "start_column": e.location.start.column,
                    "end_line": e.location.end.line,
                    "end_column": e.location.end.column,
                    "replacement": e.replacement,
                })).collect::<Vec<_>>(),
            }),
        );
    }
    f.insert("confidence".into(), json!(d.confidence.level.as_str()));
    if !d.confidence.reason.is_empty() {
        f.insert("confidence_reason".into(), json!(d.confidence.reason));
    }
    f.insert("fingerprint".into(), json!(d.fingerprint));
    Value::Object(f)
}

fn related(location: &Location, message: &str) -> Value {
    json!({
        "path": location.path,
        "line": location.start.line,
        "column": location.start.column,
        "message": message,
    })
}
