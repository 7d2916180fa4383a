//! Runs every fixture under `fixtures/` and compares what racelint reports with
//! the expectations written inside the fixture:
//!
//! - `// expect: RULE` at the end of a line, or alone on the line above it: that
//!   line must carry a finding of RULE; `// expect: RULE "words"` also requires the
//!   words in the message; `// expect: RULE, OTHER` expects both;
//!   `confidence=low` (or `medium`, `high`) after them fixes the finding's
//!   confidence. Without it the finding must be reported by default (medium or
//!   high). Fixtures are linted with every confidence shown, so low findings are
//!   checked too.
//! - `// related: RULE` likewise marks the line a related span must point at.
//! - `// racelint-fixture: quiet` near the top: the file must produce nothing.
//!
//! In `.sql` fixtures the markers are `--` comments (`-- expect: RULE "words"`),
//! in `.py` fixtures `#` comments (`# expect: RULE`).
//!
//! A finding no marker claims is *noisy*; a marker no finding matches is *missing*.
//! Each file is linted alone, except folders holding a `racelint.toml`, which are
//! linted as one project.

use racelint::diagnostic::Diagnostic;
use racelint::lint::{self, Options, SchemaSource};
use std::path::{Path, PathBuf};

#[derive(Debug)]
struct Marker {
    line: u32,
    rule: String,
    words: Option<String>,
    related: bool,
    confidence: Option<String>,
}

fn markers(text: &str) -> (Vec<Marker>, bool) {
    let lines: Vec<&str> = text.lines().collect();
    let quiet = lines
        .iter()
        .take(5)
        .any(|l| l.contains("racelint-fixture: quiet"));
    let mut out = Vec::new();
    let is_comment = |l: &str| {
        let l = l.trim_start();
        l.starts_with("//") || l.starts_with("--") || l.starts_with('#')
    };
    for (i, line) in lines.iter().enumerate() {
        for (tag, related) in [
            ("// expect: ", false),
            ("// related: ", true),
            ("-- expect: ", false),
            ("-- related: ", true),
            ("# expect: ", false),
            ("# related: ", true),
        ] {
            let Some(at) = line.find(tag) else { continue };
            let mut spec = line[at + tag.len()..].trim().to_string();
            let mut confidence = None;
            if let Some(c) = spec.find("confidence=") {
                let level: String = spec[c + "confidence=".len()..]
                    .chars()
                    .take_while(char::is_ascii_alphabetic)
                    .collect();
                spec.replace_range(c..c + "confidence=".len() + level.len(), "");
                confidence = Some(level);
            }
            let spec = spec.trim();
            let (rules, words) = match spec.find('"') {
                Some(q) => (
                    spec[..q].trim(),
                    Some(spec[q + 1..].trim_end_matches('"').to_string()),
                ),
                None => (spec, None),
            };
            let alone = line[..at].trim().is_empty();
            let target = if alone {
                // The next line that is not itself a comment.
                (i + 1..lines.len())
                    .find(|&j| !is_comment(lines[j]))
                    .unwrap_or(i)
            } else {
                i
            };
            for rule in rules.split([',', ' ']).filter(|r| !r.is_empty()) {
                out.push(Marker {
                    line: target as u32 + 1,
                    rule: rule.to_string(),
                    words: words.clone(),
                    related,
                    confidence: confidence.clone(),
                });
            }
        }
    }
    (out, quiet)
}

/// Whether a finding's confidence is what its marker states (or, when the marker
/// states none, one reported by default).
fn confidence_matches(expected: Option<&str>, actual: racelint::diagnostic::Level) -> bool {
    match expected {
        Some(level) => level == actual.as_str(),
        None => actual >= racelint::diagnostic::Level::Medium,
    }
}

fn lintable(path: &Path) -> bool {
    racelint::discover::language_of(path).is_some()
}

/// Units of linting: single files, or folders marked as projects.
fn units(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        if dir != root && dir.join("racelint.toml").exists() {
            out.push(dir);
            continue;
        }
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                stack.push(path);
            } else if lintable(&path) && !is_fixed_sibling(&path) {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// `name.fixed.ts`: what `name.ts` must become under its fixes, safe and unsafe.
fn is_fixed_sibling(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.contains(".fixed."))
}

fn fixed_sibling(path: &Path) -> PathBuf {
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    let ext = path.extension().and_then(|s| s.to_str()).unwrap_or("");
    path.with_file_name(format!("{stem}.fixed.{ext}"))
}

/// What `--fix --unsafe-fixes` makes of a unit, through the same planning as the
/// CLI: every fixed file linted again in the unit's project, fixes that leave
/// their finding or add one dropped. Also the findings of each fixed text.
struct Fixed {
    plan: racelint::fix::Plan,
    /// The findings of each planned file's fixed text, in `plan.files` order.
    after: Vec<Vec<Diagnostic>>,
}

fn fix_unit(unit: &Path, report: &racelint::diagnostic::Report) -> Fixed {
    if report.diagnostics.iter().all(|d| d.fix.is_none()) {
        return Fixed {
            plan: racelint::fix::Plan {
                files: Vec::new(),
                refused: Vec::new(),
            },
            after: Vec::new(),
        };
    }
    let mut relinter = racelint::lint::Relinter::new(&unit_options(unit)).expect("unit loads");
    let plan = racelint::fix::plan(report, true, Some(&mut relinter));
    let texts: Vec<(String, String)> = plan
        .files
        .iter()
        .map(|(path, _, text, _)| (path.clone(), text.clone()))
        .collect();
    let after = relinter.check(&texts);
    Fixed { plan, after }
}

/// The file's fixes (safe and unsafe) must give its `.fixed` sibling, none may be
/// dropped, and fixing the fixed text again must change nothing.
fn check_fixes(
    file: &Path,
    fixed: &Fixed,
    same_file: &dyn Fn(&str) -> bool,
    failures: &mut Vec<String>,
) {
    let sibling = fixed_sibling(file);
    let shown = file.display();
    for (_, why) in fixed.plan.refused.iter().filter(|(p, _)| same_file(p)) {
        failures.push(format!("fixed   {shown}: {why}"));
    }
    let Some(index) = fixed.plan.files.iter().position(|(p, ..)| same_file(p)) else {
        if sibling.exists() {
            failures.push(format!("fixed   {shown}: has a .fixed sibling but no fix"));
        }
        return;
    };
    let text = &fixed.plan.files[index].2;
    // Writes the siblings for review (`git diff` then shows what each fix does).
    if std::env::var_os("RACELINT_WRITE_FIXED").is_some() {
        std::fs::write(&sibling, text).unwrap();
    }
    match std::fs::read_to_string(&sibling) {
        Ok(expected) if expected == *text => {}
        Ok(_) => failures.push(format!(
            "fixed   {shown}: its fixes do not give {}",
            sibling.display()
        )),
        Err(_) => failures.push(format!(
            "fixed   {shown}: a fix needs a sibling {}",
            sibling.display()
        )),
    }
    let again: Vec<(usize, usize, String)> = fixed.after[index]
        .iter()
        .filter_map(|d| d.fix.as_ref())
        .filter(|f| f.applicability != racelint::diagnostic::Applicability::DisplayOnly)
        .flat_map(|f| f.edits.iter())
        .map(|e| {
            (
                e.span.start as usize,
                e.span.end as usize,
                e.replacement.clone(),
            )
        })
        .collect();
    if !again.is_empty() && racelint::fix::apply_edits(text, again) != *text {
        failures.push(format!(
            "fixed   {shown}: fixing the fixed text changes it again"
        ));
    }
}

fn unit_options(unit: &Path) -> Options {
    // A project folder brings its schema; a single file is linted without one, so
    // that the schema fixtures do not leak into every other fixture.
    let schema = if unit.is_dir() {
        SchemaSource::Folder(unit.to_path_buf())
    } else {
        SchemaSource::None
    };
    let mut options = Options {
        paths: vec![unit.to_path_buf()],
        jobs: 1,
        schema,
        // A project's `.fixed` siblings are what its files become, not more of it.
        exclude: vec!["*.fixed.*".to_string()],
        ..Options::default()
    };
    // A project's own racelint.toml applies (its `[roles]`, for one).
    let config = unit.join("racelint.toml");
    if config.is_file() {
        let known: Vec<&str> = lint::all_rule_meta().iter().map(|m| m.id).collect();
        options.configs = racelint::config::load(&config, &known)
            .expect("fixture config loads")
            .into();
    }
    options
        .configs
        .for_each_mut(|c| c.min_confidence = racelint::diagnostic::Level::Low);
    options
}

fn lint_unit(unit: &Path) -> racelint::diagnostic::Report {
    lint::check(&unit_options(unit)).expect("lint runs")
}

fn files_of(unit: &Path) -> Vec<PathBuf> {
    if unit.is_file() {
        return vec![unit.to_path_buf()];
    }
    racelint::discover::discover(&[unit.to_path_buf()], &[], &|_| true, 1)
        .unwrap()
        .files
        .into_iter()
        .filter(|f| !is_fixed_sibling(f))
        .collect()
}

#[test]
fn fixtures_match_their_expectations() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut failures = Vec::new();
    let mut checked = 0;
    for unit in units(&root) {
        // `pending/` holds fixtures whose expectation the rules do not meet yet.
        if unit.starts_with(root.join("schema")) || unit.starts_with(root.join("pending")) {
            continue;
        }
        let report = lint_unit(&unit);
        let fixed = fix_unit(&unit, &report);
        let diagnostics = &report.diagnostics;
        for file in files_of(&unit) {
            checked += 1;
            let text = std::fs::read_to_string(&file).unwrap();
            let (markers, quiet) = markers(&text);
            let shown = file
                .strip_prefix(env!("CARGO_MANIFEST_DIR"))
                .unwrap_or(&file)
                .display()
                .to_string();
            let same_file = |d: &Diagnostic| {
                Path::new(&d.location.path).ends_with(file.strip_prefix(&root).unwrap())
            };
            let mine: Vec<&Diagnostic> = diagnostics.iter().filter(|d| same_file(d)).collect();
            let relative = file.strip_prefix(&root).unwrap().to_path_buf();
            let same_path = |p: &str| Path::new(p).ends_with(&relative);
            check_fixes(&file, &fixed, &same_path, &mut failures);
            if quiet && !markers.is_empty() {
                failures.push(format!("{shown}: marked quiet but has expectations"));
            }
            for d in &mine {
                let claimed = markers
                    .iter()
                    .any(|m| !m.related && m.rule == d.rule && m.line == d.location.start.line);
                if !claimed {
                    failures.push(format!(
                        "noisy   {shown}:{}: {} — {}",
                        d.location.start.line, d.rule, d.message
                    ));
                }
            }
            for m in &markers {
                let found = mine.iter().any(|d| {
                    d.rule == m.rule
                        && if m.related {
                            d.related.iter().any(|r| r.location.start.line == m.line)
                        } else {
                            d.location.start.line == m.line
                                && m.words.as_ref().is_none_or(|w| {
                                    d.message.contains(w.as_str()) || d.help.contains(w.as_str())
                                })
                        }
                });
                if let Some(d) = mine.iter().find(|d| {
                    !m.related
                        && found
                        && d.rule == m.rule
                        && d.location.start.line == m.line
                        && !confidence_matches(m.confidence.as_deref(), d.confidence.level)
                }) {
                    failures.push(format!(
                        "confidence {shown}:{}: {} is {} ({}), expected {}",
                        m.line,
                        m.rule,
                        d.confidence.level.as_str(),
                        d.confidence.reason,
                        m.confidence.as_deref().unwrap_or("medium or high"),
                    ));
                }
                if !found {
                    let kind = if m.related { "related" } else { "finding" };
                    let words = m
                        .words
                        .as_deref()
                        .map(|w| format!(" containing \"{w}\""))
                        .unwrap_or_default();
                    failures.push(format!(
                        "missing {shown}:{}: {} {kind}{words}",
                        m.line, m.rule
                    ));
                }
            }
        }
    }
    assert!(checked > 0, "no fixtures found");
    assert!(
        failures.is_empty(),
        "{} fixture failure(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Every rule has a doc with the required headings, and firing and quiet fixtures.
#[test]
fn every_rule_is_documented_and_has_fixtures() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    const HEADINGS: &[&str] = &[
        "## What it does",
        "## Why is this a race",
        "## Example",
        "## Use instead",
        "## Fix safety",
        "## Options",
        "## Known limitations",
        "## References",
    ];
    let mut problems = Vec::new();
    for rule in racelint::rules::RULES {
        let meta = rule.meta();
        let doc = std::fs::read_to_string(root.join("rules").join(format!("{}.md", meta.id)))
            .unwrap_or_default();
        for heading in HEADINGS {
            if !doc.contains(heading) {
                problems.push(format!("rules/{}.md lacks `{heading}`", meta.id));
            }
        }
        if doc != meta.doc {
            problems.push(format!("{}: its doc is not rules/{}.md", meta.id, meta.id));
        }
        assert!(
            !meta.summary.ends_with('.'),
            "{}: summary ends with a full stop",
            meta.id
        );
        let dir = root.join("fixtures").join(meta.id);
        let files: Vec<String> = files_of(&dir)
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect();
        // A schema project holds several scenarios in one file: count the markers.
        let firing: usize = files
            .iter()
            .map(|t| t.matches(&format!("expect: {}", meta.id)).count())
            .sum();
        let quiet = files
            .iter()
            .filter(|t| t.contains("racelint-fixture: quiet"))
            .count();
        if firing < 3 || quiet < 3 {
            problems.push(format!(
                "fixtures/{}: {firing} firing and {quiet} quiet fixtures (at least 3 of each)",
                meta.id
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn messages_are_lowercase_without_full_stop() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    for unit in units(&root) {
        for d in lint_unit(&unit).diagnostics {
            let first = d.message.chars().next().unwrap();
            assert!(
                !first.is_uppercase(),
                "{}: message starts uppercase: {}",
                d.location.path,
                d.message
            );
            assert!(
                !d.message.ends_with('.'),
                "{}: message ends with a full stop: {}",
                d.location.path,
                d.message
            );
            assert!(!d.help.is_empty());
        }
    }
}
