//! One `racelint check` run: discover → read → parse and lower → gather project
//! facts → run the rules → place findings in their files → sort.
//!
//! Every file is read and parsed once, in parallel. A file that cannot be read or
//! parsed is reported and the run goes on. Rules run after all files are lowered,
//! because some of them ask about the whole project (which tables are deleted
//! anywhere). Findings are sorted once, at the end, so output is deterministic
//! whatever the number of threads.

use crate::config::Config;
use crate::diagnostic::{
    fingerprint, Diagnostic, ErrorKind, Finding, Location, RelatedLocation, Report, ResolvedEdit,
    ResolvedFix, RuleMeta, RunError, Severity,
};
use crate::discover::{self, Language};
use crate::frontend::rust;
use crate::frontend::typescript::{self, clients::FileHints};
use crate::ir::FileModel;
use crate::rules::{self, Context, ProjectFacts, Rule};
use crate::schema::{self, Schema};
use crate::source::{Position, SourceFile};
use crate::suppress;
use rayon::prelude::*;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Clone, Debug)]
pub struct Options {
    pub paths: Vec<PathBuf>,
    /// Rules, severities, include/exclude globs, file size limit, client names.
    pub config: Config,
    /// `--exclude` globs, on top of `.gitignore` and the config's `exclude`.
    pub exclude: Vec<String>,
    /// Worker threads; 0 means one per core.
    pub jobs: usize,
    /// Where to discover the database schema.
    pub schema: SchemaSource,
    /// Lint only these files (canonical paths), of those the walk finds; `None`
    /// lints all. `--changed-since` sets it. Schema discovery is not limited.
    pub only: Option<BTreeSet<PathBuf>>,
    /// Skip parsing files without database vocabulary (`frontend::may_have_effects`).
    pub prefilter: bool,
}

#[derive(Clone, Debug)]
pub enum SchemaSource {
    /// The project root of the first path (CONTRACT.md: nearest `.git` or `racelint.toml`).
    ProjectRoot,
    /// This folder.
    Folder(PathBuf),
    /// No schema at all.
    None,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            paths: vec![PathBuf::from(".")],
            config: Config::default(),
            exclude: Vec::new(),
            jobs: 0,
            schema: SchemaSource::ProjectRoot,
            only: None,
            prefilter: true,
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

/// A file after parsing: its text and model, kept only when rules have work there.
struct Lowered {
    file: SourceFile,
    model: FileModel,
    role: crate::roles::Role,
}

/// What reading one file gave: its model when rules have work there, its problems,
/// and the schema it defines (so that schema discovery does not read it again).
#[derive(Default)]
struct FileOutcome {
    lowered: Option<Lowered>,
    errors: Vec<RunError>,
    schema: Option<schema::ReadSources>,
}

impl FileOutcome {
    fn error(path: &str, kind: ErrorKind, message: String) -> FileOutcome {
        FileOutcome {
            errors: vec![RunError {
                kind,
                path: path.to_string(),
                message,
                position: None,
            }],
            ..FileOutcome::default()
        }
    }
}

/// Every id a rule or a suppression may name: the rules and the suppression checks.
pub fn all_rule_meta() -> Vec<RuleMeta> {
    rules::RULES
        .iter()
        .map(|r| *r.meta())
        .chain(suppress::META.iter().copied())
        .collect()
}

/// The rules this run uses, each with the severity it reports at.
pub fn active_rules(config: &Config) -> Vec<(&'static dyn Rule, Severity)> {
    rules::RULES
        .iter()
        .filter_map(|r| config.severity(r.meta()).map(|s| (*r, s)))
        .collect()
}

pub fn thread_pool(jobs: usize) -> Result<rayon::ThreadPool, Fatal> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        // Deeply nested code recurses in the parsers and the lowering.
        .stack_size(64 * 1024 * 1024)
        .build()
        .map_err(|e| Fatal(format!("cannot start worker threads: {e}")))
}

/// The folder whose schema sources the run discovers, if any.
fn schema_root(options: &Options) -> Option<PathBuf> {
    match &options.schema {
        SchemaSource::None => None,
        SchemaSource::Folder(folder) => Some(discover::absolute(folder)),
        SchemaSource::ProjectRoot => Some(discover::project_root(
            options
                .paths
                .first()
                .map_or(Path::new("."), PathBuf::as_path),
        )),
    }
}

pub fn check(options: &Options) -> Result<Report, Fatal> {
    let started = Instant::now();
    let config = &options.config;
    let rules = active_rules(config);
    let known: Vec<&str> = all_rule_meta().iter().map(|m| m.id).collect();
    let active: Vec<&str> = rules
        .iter()
        .map(|(r, _)| r.meta().id)
        .chain(
            suppress::META
                .iter()
                .filter(|m| config.severity(m).is_some())
                .map(|m| m.id),
        )
        .collect();
    let pool = thread_pool(options.jobs)?;
    let jobs = pool.current_num_threads();
    let scope = Scope::new(config).map_err(Fatal)?;
    discover::check_paths(&options.paths).map_err(Fatal)?;
    let prefilter = options
        .prefilter
        .then(|| crate::frontend::Prefilter::new(&config.clients.prisma));
    let hints = HintNames {
        prisma: config.clients.prisma.clone(),
    };
    let roles = crate::roles::Roles::new(
        &discover::project_root(
            options
                .paths
                .first()
                .map_or(Path::new("."), PathBuf::as_path),
        ),
        config,
    )
    .map_err(Fatal)?;

    // Files are linted as the walk finds them, and schema sources are walked for
    // meanwhile; the code files among those are parsed for schema from the text
    // already read, the rest afterwards. Outcomes are put in path order after.
    let schema_root = schema_root(options);
    let (sender, receiver) = std::sync::mpsc::channel::<PathBuf>();
    let (walked, (candidates, mut outcomes)) = std::thread::scope(|threads| {
        let walker = threads.spawn(move || {
            discover::walk(
                &options.paths,
                &options.exclude,
                &|p| scope.keeps(p),
                jobs,
                &|path| {
                    let wanted = options
                        .only
                        .as_ref()
                        .is_none_or(|only| path.canonicalize().is_ok_and(|p| only.contains(&p)));
                    if wanted {
                        // The receiver lives until the walk ends.
                        let _ = sender.send(path);
                    }
                },
            )
        });
        let linted = pool.install(|| {
            rayon::join(
                || schema_root.as_deref().map(schema::candidates),
                || {
                    receiver
                        .into_iter()
                        .par_bridge()
                        .map(|path| {
                            let outcome = lint_file(
                                &path,
                                config.max_file_size,
                                prefilter.as_ref(),
                                &hints,
                                schema_root.as_deref(),
                                &roles,
                            );
                            (path, outcome)
                        })
                        .collect::<Vec<(PathBuf, FileOutcome)>>()
                },
            )
        });
        let walked = walker
            .join()
            .unwrap_or_else(|_| Err("the file walk stopped unexpectedly".into()));
        (walked, linted)
    });
    let mut errors = walked.map_err(Fatal)?;
    outcomes.sort_by(|a, b| a.0.cmp(&b.0));
    // A file named on the command line and found by a walk too is linted once.
    outcomes.dedup_by(|a, b| a.0 == b.0);
    let files = outcomes.len();
    let mut lowered = Vec::new();
    let mut schema_read = Vec::new();
    for (_, outcome) in outcomes {
        errors.extend(outcome.errors);
        lowered.extend(outcome.lowered);
        schema_read.extend(outcome.schema);
    }
    let schema = match (&schema_root, candidates) {
        (Some(root), Some(candidates)) => {
            let found = pool.install(|| schema::discover_reusing(root, candidates, schema_read));
            errors.extend(found.errors);
            found.schema
        }
        _ => Schema::default(),
    };
    let schema = &schema;

    let mut project = ProjectFacts::default();
    // What tests, scripts and seeds do is no fact about the running application.
    for file in lowered.iter().filter(|f| !f.role.runs_alone()) {
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
                    log_tables: &config.non_atomic_writes.log_tables,
                };
                let mut findings = Vec::new();
                let alone = file.role.runs_alone();
                for function in &crate::ir::inline::expand(&file.model) {
                    for (rule, severity) in &rules {
                        if (alone || function.runs_alone) && rule.meta().concurrent {
                            continue;
                        }
                        let from = findings.len();
                        rule.check(&cx, function, &mut findings);
                        for finding in &mut findings[from..] {
                            finding.severity = *severity;
                        }
                    }
                }
                let findings = if file.file.text.contains(suppress::MARKER) {
                    let suppressions = suppress::parse(&file.file.text);
                    let (mut kept, extra) =
                        suppress::apply(findings, &suppressions, &file.file, &known, &active);
                    kept.extend(extra.into_iter().filter_map(|mut f| {
                        let meta = suppress::META.iter().find(|m| m.id == f.rule)?;
                        f.severity = config.severity(meta)?;
                        Some(f)
                    }));
                    kept
                } else {
                    findings
                };
                findings
                    .into_iter()
                    .filter(|f| f.confidence.level >= config.min_confidence)
                    .map(|f| place(&file.file, f))
                    .collect::<Vec<_>>()
            })
            .collect()
    });
    // Freeing the models and texts is a measurable part of a large run: in parallel.
    pool.install(|| lowered.into_par_iter().for_each(drop));
    diagnostics.sort_by(|a, b| {
        a.sort_key()
            .cmp(&b.sort_key())
            .then_with(|| a.message.cmp(&b.message))
    });
    // A helper's race is found in the helper and again in each caller that
    // inlines it: one report per rule and place.
    diagnostics.dedup_by(|a, b| a.sort_key() == b.sort_key() && a.location.end == b.location.end);
    errors.sort_by(|a, b| (&a.path, a.position, a.kind).cmp(&(&b.path, b.position, b.kind)));
    Ok(Report {
        diagnostics,
        errors,
        files,
        elapsed_ms: started.elapsed().as_millis() as u64,
    })
}

/// The config's `include` and `exclude` globs, relative to the config's folder.
struct Scope {
    include: Option<ignore::gitignore::Gitignore>,
    exclude: Option<ignore::gitignore::Gitignore>,
}

impl Scope {
    fn new(config: &Config) -> Result<Scope, String> {
        let base = config
            .base_dir()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let base = discover::absolute(&base);
        let build = |globs: &[String]| -> Result<Option<ignore::gitignore::Gitignore>, String> {
            if globs.is_empty() {
                return Ok(None);
            }
            let mut builder = ignore::gitignore::GitignoreBuilder::new(&base);
            for glob in globs {
                builder
                    .add_line(None, glob)
                    .map_err(|e| format!("invalid glob `{glob}`: {e}"))?;
            }
            builder.build().map(Some).map_err(|e| e.to_string())
        };
        Ok(Scope {
            include: build(&config.include)?,
            exclude: build(&config.exclude)?,
        })
    }

    /// Whether a walked file is in scope (files named on the command line always are).
    fn keeps(&self, path: &Path) -> bool {
        if self.include.is_none() && self.exclude.is_none() {
            return true;
        }
        let path = discover::absolute(path);
        let matches = |set: &ignore::gitignore::Gitignore| {
            path.starts_with(set.path())
                && set.matched_path_or_any_parents(&path, false).is_ignore()
        };
        self.include.as_ref().is_none_or(matches) && !self.exclude.as_ref().is_some_and(matches)
    }
}

/// Client names from the configuration, handed to the frontends.
struct HintNames {
    prisma: Vec<String>,
}

fn lint_file(
    path: &Path,
    max_size: u64,
    prefilter: Option<&crate::frontend::Prefilter>,
    names: &HintNames,
    schema_root: Option<&Path>,
    roles: &crate::roles::Roles,
) -> FileOutcome {
    // Most files are turned away by the prefilter: their display path is never needed.
    let display = || discover::display_path(path);
    let bytes = match read_limited(path, max_size) {
        Ok(bytes) => bytes,
        Err((kind, message)) => return FileOutcome::error(&display(), kind, message),
    };
    let head = &bytes[..bytes.len().min(8192)];
    if memchr::memchr(0, head).is_some() {
        return FileOutcome::error(
            &display(),
            ErrorKind::ReadError,
            "binary file (contains NUL bytes), skipped".into(),
        );
    }
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            return FileOutcome::error(
                &display(),
                ErrorKind::ReadError,
                format!(
                    "not valid UTF-8 (first bad byte at offset {}), skipped",
                    e.utf8_error().valid_up_to()
                ),
            )
        }
    };
    let schema = schema_root.and_then(|root| schema::sources_in_code(root, path, &text));
    if let (Some(prefilter), Some(language)) = (prefilter, discover::language_of(path)) {
        if !prefilter.admits(language, &text) {
            return FileOutcome {
                schema,
                ..FileOutcome::default()
            };
        }
    }
    let file = SourceFile::new(path.to_path_buf(), display(), text);
    let (mut model, mut errors) = lower_source(&file, names);
    errors.sort_by_key(|e| e.position);
    let role = roles.of_file(path, &file.text).role;
    if discover::language_of(path) == Some(Language::Rust) {
        crate::roles::mark_test_helpers(&mut model);
    }
    // A suppression comment is checked even in a file without effects.
    let keep = !model.functions.is_empty() || file.text.contains(suppress::MARKER);
    FileOutcome {
        lowered: keep.then_some(Lowered { file, model, role }),
        errors,
        schema,
    }
}

/// The file's bytes, unless it is larger than `max_size` or cannot be read. One
/// open: the size comes from the open file.
fn read_limited(path: &Path, max_size: u64) -> Result<Vec<u8>, (ErrorKind, String)> {
    use std::io::Read;
    let cannot = |e: std::io::Error| (ErrorKind::ReadError, format!("cannot read: {e}"));
    let mut file = std::fs::File::open(path).map_err(cannot)?;
    let size = file.metadata().map_err(cannot)?.len();
    if size > max_size {
        return Err((
            ErrorKind::Skipped,
            format!("skipped: {size} bytes is over the {max_size} byte limit for one file"),
        ));
    }
    let mut bytes = Vec::with_capacity(size as usize + 1);
    file.read_to_end(&mut bytes).map_err(cannot)?;
    Ok(bytes)
}

/// Runs the file's frontend: its model, and its parse problems as run errors.
fn lower_source(file: &SourceFile, names: &HintNames) -> (FileModel, Vec<RunError>) {
    let parse_error = |position, message| RunError {
        kind: ErrorKind::ParseError,
        path: file.display_path.clone(),
        message,
        position: Some(position),
    };
    match discover::language_of(&file.path) {
        Some(Language::TypeScript(dialect)) => {
            let mut hints = FileHints::of(&file.text);
            hints.prisma_names.clone_from(&names.prisma);
            let parsed = typescript::parse(&file.text, dialect, &hints);
            let errors = parsed
                .problems
                .into_iter()
                .map(|p| parse_error(file.position(p.offset as u32), p.message))
                .collect();
            (parsed.model, errors)
        }
        Some(Language::Rust) => {
            let crate_root = file
                .path
                .ancestors()
                .skip(1)
                .find(|dir| dir.join("Cargo.toml").is_file());
            match rust::lower_in_crate(&file.text, crate_root) {
                Ok(model) => (model, Vec::new()),
                Err(e) => {
                    let position = Position {
                        line: e.line.max(1),
                        column: e.column.max(1),
                    };
                    (FileModel::default(), vec![parse_error(position, e.message)])
                }
            }
        }
        None => (FileModel::default(), Vec::new()),
    }
}

/// Places a finding in its file: positions, related locations, fingerprint.
pub fn place(file: &SourceFile, finding: Finding) -> Diagnostic {
    let location = |span: crate::ir::Span| Location {
        path: file.display_path.clone(),
        start: file.position(span.start),
        end: file.position(span.end),
    };
    // The whole lines of each span, not just the spans (often a method name such as
    // `create`): racing on another table, with another filter, is another finding
    // for a baseline, while lines inserted or removed elsewhere change nothing.
    let mut code_parts = vec![file.lines_of(finding.span)];
    code_parts.extend(finding.related.iter().map(|r| file.lines_of(r.span)));
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
        confidence: finding.confidence,
        fingerprint,
        source: file.text.clone(),
    }
}

/// Whether the report should make `check` exit 1.
pub fn fails(report: &Report, config: &Config) -> bool {
    report.diagnostics.iter().any(|d| config.fails(d.severity))
}
