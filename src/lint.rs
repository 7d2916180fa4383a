//! One `racelint check` run: discover → read → parse and lower → gather project
//! facts → run the rules → place findings in their files → sort.
//!
//! Every file is read and parsed once, in parallel. A file that cannot be read or
//! parsed is reported and the run goes on. Rules run after all files are lowered,
//! because some of them ask about the whole project (which tables are deleted
//! anywhere). Findings are sorted once, at the end, so output is deterministic
//! whatever the number of threads.

use crate::diagnostic::{
    fingerprint, Diagnostic, ErrorKind, Finding, Location, RelatedLocation, Report, ResolvedEdit,
    ResolvedFix, RunError, Severity,
};
use crate::discover::{self, Language};
use crate::frontend::typescript::{self, clients::FileHints};
use crate::ir::FileModel;
use crate::rules::{self, Context, ProjectFacts, Rule};
use crate::schema::Schema;
use crate::source::SourceFile;
use rayon::prelude::*;
use std::path::PathBuf;
use std::time::Instant;

/// Files larger than this are skipped with a note: generated bundles, data dumps.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 4 * 1024 * 1024;

#[derive(Clone, Debug)]
pub struct Options {
    pub paths: Vec<PathBuf>,
    /// Run only these rules (empty: all).
    pub select: Vec<String>,
    pub ignore: Vec<String>,
    pub exclude: Vec<String>,
    pub jobs: usize,
    pub max_file_size: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            paths: vec![PathBuf::from(".")],
            select: Vec::new(),
            ignore: Vec::new(),
            exclude: Vec::new(),
            jobs: 0,
            max_file_size: DEFAULT_MAX_FILE_SIZE,
        }
    }
}

/// A failure that stops the run (exit code 2).
#[derive(Debug)]
pub struct Fatal(pub String);

impl std::fmt::Display for Fatal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A file after parsing: its text and model, kept only when it has effects.
struct Lowered {
    file: SourceFile,
    model: FileModel,
}

enum FileOutcome {
    Lowered(Lowered, Vec<RunError>),
    Nothing(Vec<RunError>),
}

pub fn selected_rules(options: &Options) -> Result<Vec<&'static dyn Rule>, Fatal> {
    for id in options.select.iter().chain(&options.ignore) {
        if rules::find(id).is_none() {
            return Err(Fatal(format!("unknown rule `{id}` (see `racelint rules`)")));
        }
    }
    Ok(rules::RULES
        .iter()
        .copied()
        .filter(|r| options.select.is_empty() || options.select.iter().any(|s| s == r.meta().id))
        .filter(|r| !options.ignore.iter().any(|s| s == r.meta().id))
        .collect())
}

pub fn thread_pool(jobs: usize) -> Result<rayon::ThreadPool, Fatal> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        // Deeply nested code recurses in the parsers and the lowering.
        .stack_size(64 * 1024 * 1024)
        .build()
        .map_err(|e| Fatal(format!("cannot start worker threads: {e}")))
}

pub fn check(options: &Options, schema: &Schema) -> Result<Report, Fatal> {
    let started = Instant::now();
    let rules = selected_rules(options)?;
    let pool = thread_pool(options.jobs)?;
    let jobs = pool.current_num_threads();
    let discovered = discover::discover(&options.paths, &options.exclude, jobs).map_err(Fatal)?;
    let mut errors = discovered.errors;
    let files = discovered.files.len();

    let outcomes: Vec<FileOutcome> = pool.install(|| {
        discovered
            .files
            .par_iter()
            .map(|path| lint_file(path, options.max_file_size))
            .collect()
    });
    let mut lowered = Vec::new();
    for outcome in outcomes {
        match outcome {
            FileOutcome::Lowered(file, errs) => {
                errors.extend(errs);
                lowered.push(file);
            }
            FileOutcome::Nothing(errs) => errors.extend(errs),
        }
    }

    let mut project = ProjectFacts::default();
    for file in &lowered {
        project.add_file(schema, &file.model, |effect| {
            format!(
                "{}:{}",
                file.file.display_path,
                file.file.position(effect.span.start).line
            )
        });
    }

    let mut diagnostics: Vec<Diagnostic> = pool.install(|| {
        lowered
            .par_iter()
            .flat_map_iter(|file| {
                let cx = Context {
                    schema,
                    project: &project,
                    text: &file.file.text,
                };
                let mut findings = Vec::new();
                for function in &file.model.functions {
                    for rule in &rules {
                        rule.check(&cx, function, &mut findings);
                    }
                }
                findings
                    .into_iter()
                    .map(|f| place(&file.file, f))
                    .collect::<Vec<_>>()
            })
            .collect()
    });
    diagnostics.sort_by(|a, b| {
        a.sort_key()
            .cmp(&b.sort_key())
            .then_with(|| a.message.cmp(&b.message))
    });
    diagnostics.dedup_by(|a, b| a.sort_key() == b.sort_key() && a.message == b.message);
    errors.sort_by(|a, b| (&a.path, a.position, a.kind).cmp(&(&b.path, b.position, b.kind)));
    Ok(Report {
        diagnostics,
        errors,
        files,
        elapsed_ms: started.elapsed().as_millis() as u64,
    })
}

fn read_error(path: &str, kind: ErrorKind, message: String) -> Vec<RunError> {
    vec![RunError {
        kind,
        path: path.to_string(),
        message,
        position: None,
    }]
}

fn lint_file(path: &PathBuf, max_size: u64) -> FileOutcome {
    let display = discover::display_path(path);
    let bytes = match std::fs::metadata(path) {
        Ok(meta) if meta.len() > max_size => {
            return FileOutcome::Nothing(read_error(
                &display,
                ErrorKind::Skipped,
                format!(
                    "skipped: {} bytes is over the {} byte limit for one file",
                    meta.len(),
                    max_size
                ),
            ))
        }
        Ok(_) => match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) => {
                return FileOutcome::Nothing(read_error(
                    &display,
                    ErrorKind::ReadError,
                    format!("cannot read: {e}"),
                ))
            }
        },
        Err(e) => {
            return FileOutcome::Nothing(read_error(
                &display,
                ErrorKind::ReadError,
                format!("cannot read: {e}"),
            ))
        }
    };
    if bytes.iter().take(8192).any(|&b| b == 0) {
        return FileOutcome::Nothing(read_error(
            &display,
            ErrorKind::ReadError,
            "binary file (contains NUL bytes), skipped".into(),
        ));
    }
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            return FileOutcome::Nothing(read_error(
                &display,
                ErrorKind::ReadError,
                format!(
                    "not valid UTF-8 (first bad byte at offset {}), skipped",
                    e.utf8_error().valid_up_to()
                ),
            ))
        }
    };
    let file = SourceFile::new(path.clone(), display, text);
    let (model, problems) = match discover::language_of(path) {
        Some(Language::TypeScript(dialect)) => {
            let hints = FileHints::of(&file.text);
            let parsed = typescript::parse(&file.text, dialect, &hints);
            (
                parsed.model,
                parsed
                    .problems
                    .into_iter()
                    .map(|p| (p.offset, p.message))
                    .collect::<Vec<_>>(),
            )
        }
        Some(Language::Rust) | None => (FileModel::default(), Vec::new()),
    };
    let errors: Vec<RunError> = problems
        .into_iter()
        .map(|(offset, message)| RunError {
            kind: ErrorKind::ParseError,
            path: file.display_path.clone(),
            message,
            position: Some(file.position(offset as u32)),
        })
        .collect();
    if model.functions.is_empty() {
        FileOutcome::Nothing(errors)
    } else {
        FileOutcome::Lowered(Lowered { file, model }, errors)
    }
}

/// Places a finding in its file: positions, related locations, fingerprint.
pub fn place(file: &SourceFile, finding: Finding) -> Diagnostic {
    let location = |span: crate::ir::Span| Location {
        path: file.display_path.clone(),
        start: file.position(span.start),
        end: file.position(span.end),
    };
    let mut code_parts = vec![file.slice(finding.span)];
    code_parts.extend(finding.related.iter().map(|r| file.slice(r.span)));
    let fingerprint = fingerprint(finding.rule, &file.display_path, &code_parts);
    Diagnostic {
        rule: finding.rule,
        severity: finding.severity,
        location: location(finding.span),
        span: finding.span,
        label: finding.label,
        message: finding.message,
        help: finding.help,
        related: finding
            .related
            .into_iter()
            .map(|r| RelatedLocation {
                location: location(r.span),
                span: r.span,
                message: r.message,
            })
            .collect(),
        fix: finding.fix.map(|fix| ResolvedFix {
            applicability: fix.applicability,
            edits: fix
                .edits
                .into_iter()
                .map(|e| ResolvedEdit {
                    location: location(e.span),
                    span: e.span,
                    replacement: e.replacement,
                })
                .collect(),
        }),
        fingerprint,
        source: file.text.clone(),
    }
}

/// Whether the report should fail the run at `threshold`.
pub fn fails(report: &Report, threshold: Severity) -> bool {
    report.diagnostics.iter().any(|d| d.severity >= threshold)
}
