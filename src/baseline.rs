//! Baselines: record today's findings (`--write-baseline FILE`) and later report
//! only the ones not recorded (`--baseline FILE`), so a team can adopt racelint on
//! an old codebase and still fail CI on every new race.
//!
//! A finding is recognised by (rule, path, fingerprint). The fingerprint hashes the
//! code of the lines the finding's spans touch, not their line numbers, so edits
//! elsewhere in the file keep a recorded finding recorded, while changing the racy
//! code itself (another table, another filter) makes it new. The message is stored for the reader of the file
//! only; rewording a message must not resurrect old findings. Matching is by
//! multiset: two identical findings in the baseline absorb two today, and a third
//! is new.

use crate::diagnostic::Diagnostic;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io;
use std::path::Path;

pub const VERSION: u32 = 1;

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Entry {
    pub rule: String,
    pub path: String,
    pub fingerprint: String,
    #[serde(default)]
    pub message: String,
}

#[derive(Serialize, Deserialize)]
struct BaselineFile {
    version: u32,
    findings: Vec<Entry>,
}

type Key = (String, String, String);

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Baseline {
    counts: HashMap<Key, usize>,
}

impl Baseline {
    pub fn from_entries(entries: impl IntoIterator<Item = Entry>) -> Self {
        let mut counts = HashMap::new();
        for e in entries {
            *counts
                .entry((e.rule, normalise(&e.path), e.fingerprint))
                .or_insert(0) += 1;
        }
        Baseline { counts }
    }

    /// How many findings the baseline holds.
    pub fn len(&self) -> usize {
        self.counts.values().sum()
    }

    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }
}

/// Paths are compared with `/` so that a baseline written on Windows works on Linux CI.
fn normalise(path: &str) -> String {
    let path = path.replace('\\', "/");
    path.strip_prefix("./").map(str::to_string).unwrap_or(path)
}

fn key(d: &Diagnostic) -> Key {
    (
        d.rule.to_string(),
        normalise(&d.location.path),
        d.fingerprint.clone(),
    )
}

/// The baseline file's text: pretty, sorted, with a final newline, so that it
/// diffs well in review and two runs write the same bytes.
pub fn to_json(diagnostics: &[Diagnostic]) -> String {
    let mut findings: Vec<Entry> = diagnostics
        .iter()
        .map(|d| Entry {
            rule: d.rule.to_string(),
            path: normalise(&d.location.path),
            fingerprint: d.fingerprint.clone(),
            message: d.message.clone(),
        })
        .collect();
    findings.sort_by(|a, b| {
        (&a.path, &a.rule, &a.fingerprint, &a.message).cmp(&(
            &b.path,
            &b.rule,
            &b.fingerprint,
            &b.message,
        ))
    });
    let file = BaselineFile {
        version: VERSION,
        findings,
    };
    let mut out = serde_json::to_string_pretty(&file).expect("baseline always serializes");
    out.push('\n');
    out
}

pub fn write(path: &Path, diagnostics: &[Diagnostic]) -> io::Result<()> {
    std::fs::write(path, to_json(diagnostics))
}

/// Reads a baseline; the error is a sentence naming the file, for exit code 2.
pub fn load(path: &Path) -> Result<Baseline, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read baseline {}: {e}", path.display()))?;
    parse(&text).map_err(|e| format!("invalid baseline {}: {e}", path.display()))
}

pub fn parse(text: &str) -> Result<Baseline, String> {
    #[derive(Deserialize)]
    struct Version {
        version: u32,
    }
    let version: Version = serde_json::from_str(text).map_err(|e| e.to_string())?;
    if version.version != VERSION {
        return Err(format!(
            "version {} is not supported (this racelint reads version {VERSION}); \
             write it again with --write-baseline",
            version.version
        ));
    }
    let file: BaselineFile = serde_json::from_str(text).map_err(|e| e.to_string())?;
    Ok(Baseline::from_entries(file.findings))
}

/// The diagnostics the baseline does not account for, in their original order.
pub fn filter(diags: Vec<Diagnostic>, baseline: &Baseline) -> Vec<Diagnostic> {
    let mut left = baseline.counts.clone();
    diags
        .into_iter()
        .filter(|d| match left.get_mut(&key(d)) {
            Some(n) if *n > 0 => {
                *n -= 1;
                false
            }
            _ => true,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::{fingerprint, Location, Severity};
    use crate::ir::Span;
    use crate::source::Position;
    use std::sync::Arc;

    fn diag(rule: &'static str, path: &str, fp: &str, message: &str) -> Diagnostic {
        Diagnostic {
            rule,
            severity: Severity::Error,
            location: Location {
                path: path.into(),
                start: Position { line: 1, column: 1 },
                end: Position { line: 1, column: 2 },
            },
            span: Span::new(0, 1),
            label: String::new(),
            message: message.into(),
            help: String::new(),
            related: vec![],
            fix: None,
            confidence: Default::default(),
            fingerprint: fp.into(),
            source: Arc::from(""),
        }
    }

    fn names(diags: &[Diagnostic]) -> Vec<(&str, &str, &str)> {
        diags
            .iter()
            .map(|d| (d.rule, d.location.path.as_str(), d.fingerprint.as_str()))
            .collect()
    }

    #[test]
    fn json_is_versioned_sorted_and_stable() {
        let diags = vec![
            diag("non-atomic-writes", "src/b.ts", "22", "second"),
            diag("check-then-act", "src\\a.ts", "11", "first"),
        ];
        let json = to_json(&diags);
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["version"], 1);
        assert_eq!(
            v["findings"],
            serde_json::json!([
                {"rule": "check-then-act", "path": "src/a.ts", "fingerprint": "11", "message": "first"},
                {"rule": "non-atomic-writes", "path": "src/b.ts", "fingerprint": "22", "message": "second"},
            ])
        );
        let reversed: Vec<Diagnostic> = diags.into_iter().rev().collect();
        assert_eq!(to_json(&reversed), json);
        assert!(json.ends_with("}\n"));
    }

    #[test]
    fn write_then_load_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("racelint-baseline.json");
        let diags = vec![
            diag("check-then-act", "src/a.ts", "11", "m"),
            diag("check-then-act", "src/a.ts", "11", "m"),
        ];
        write(&path, &diags).unwrap();
        let baseline = load(&path).unwrap();
        assert_eq!(baseline.len(), 2);
        assert!(filter(diags, &baseline).is_empty());
    }

    #[test]
    fn filter_is_a_multiset_match() {
        let baseline = parse(
            r#"{"version": 1, "findings": [
                {"rule": "check-then-act", "path": "src/a.ts", "fingerprint": "11", "message": "old wording"},
                {"rule": "check-then-act", "path": "src/a.ts", "fingerprint": "11", "message": "old wording"}
            ]}"#,
        )
        .unwrap();
        let today = vec![
            diag("check-then-act", "src/a.ts", "11", "x"),
            diag("check-then-act", "src/a.ts", "99", "new code"),
            diag("check-then-act", "src/a.ts", "11", "y"),
            diag("check-then-act", "src/a.ts", "11", "a third, new"),
            diag("non-atomic-writes", "src/a.ts", "11", "other rule"),
            diag("check-then-act", "src/other.ts", "11", "other file"),
        ];
        let left = filter(today, &baseline);
        assert_eq!(
            names(&left),
            [
                ("check-then-act", "src/a.ts", "99"),
                ("check-then-act", "src/a.ts", "11"),
                ("non-atomic-writes", "src/a.ts", "11"),
                ("check-then-act", "src/other.ts", "11"),
            ]
        );
        assert_eq!(left[1].message, "a third, new");
        // The baseline itself is not used up: it applies afresh to the next run.
        assert_eq!(baseline.len(), 2);
    }

    #[test]
    fn paths_match_across_separators() {
        let baseline = Baseline::from_entries([Entry {
            rule: "check-then-act".into(),
            path: ".\\src\\a.ts".into(),
            fingerprint: "11".into(),
            message: String::new(),
        }]);
        assert!(filter(
            vec![diag("check-then-act", "src/a.ts", "11", "")],
            &baseline
        )
        .is_empty());
    }

    #[test]
    fn bad_files_are_errors_that_name_the_problem() {
        assert!(parse("{").is_err());
        assert!(parse(r#"{"version": 2, "findings": []}"#)
            .unwrap_err()
            .contains("version 2 is not supported"));
        assert!(parse(r#"{"version": 1}"#).unwrap_err().contains("findings"));
        assert!(parse(r#"{"version": 1, "findings": [{"rule": "x"}]}"#).is_err());
        // The message is for people; a baseline without it still works.
        let b = parse(
            r#"{"version": 1, "findings": [{"rule": "x", "path": "p", "fingerprint": "f"}]}"#,
        )
        .unwrap();
        assert_eq!(b.len(), 1);
        let missing = load(Path::new("/nonexistent/racelint-baseline.json")).unwrap_err();
        assert!(missing.contains("cannot read baseline"), "{missing}");
    }

    #[test]
    fn fingerprint_ignores_where_the_code_is_and_how_it_is_indented() {
        let before = "const u = await db.user.findUnique({ where: { email } });\nif (!u) await db.user.create({ data });";
        let file_a = format!("import x;\n{before}\n");
        let file_b = format!(
            "import x;\n\n// a new comment\nfunction added() {{}}\n\n    {}\n",
            before.replace('\n', "\n      ")
        );
        let spans = |file: &str| {
            let check = file.find("db.user.findUnique").unwrap();
            let act = file.find("db.user.create").unwrap();
            (
                file[act..act + "db.user.create({ data })".len()].to_string(),
                file[check..check + "db.user.findUnique({ where: { email } })".len()].to_string(),
                act,
            )
        };
        let (act_a, check_a, off_a) = spans(&file_a);
        let (act_b, check_b, off_b) = spans(&file_b);
        assert_ne!(off_a, off_b, "the code moved");
        let fp_a = fingerprint("check-then-act", "src/a.ts", &[&act_a, &check_a]);
        let fp_b = fingerprint("check-then-act", "src/a.ts", &[&act_b, &check_b]);
        assert_eq!(fp_a, fp_b);
        // Re-indented and re-wrapped code is the same code.
        assert_eq!(
            fp_a,
            fingerprint(
                "check-then-act",
                "src/a.ts",
                &["db.user.create({\n  data\n})", &check_a]
            )
        );
    }

    #[test]
    fn fingerprint_changes_with_the_code_rule_or_path() {
        let base = fingerprint(
            "check-then-act",
            "src/a.ts",
            &["db.user.create({ data })", "findUnique()"],
        );
        assert_ne!(
            base,
            fingerprint(
                "check-then-act",
                "src/a.ts",
                &["db.team.create({ data })", "findUnique()"]
            )
        );
        assert_ne!(
            base,
            fingerprint(
                "check-then-act",
                "src/a.ts",
                &["db.user.create({ data })", "findFirst()"]
            )
        );
        assert_ne!(
            base,
            fingerprint(
                "non-atomic-writes",
                "src/a.ts",
                &["db.user.create({ data })", "findUnique()"]
            )
        );
        assert_ne!(
            base,
            fingerprint(
                "check-then-act",
                "src/b.ts",
                &["db.user.create({ data })", "findUnique()"]
            )
        );
        // Parts are separated: moving text from one span to the other is a change.
        assert_ne!(
            fingerprint("r", "p", &["ab", "c"]),
            fingerprint("r", "p", &["a", "bc"])
        );
        assert_eq!(
            base,
            fingerprint(
                "check-then-act",
                "src\\a.ts",
                &["db.user.create({ data })", "findUnique()"]
            )
        );
    }
}
