//! One `racelint check` run: discover → read → parse and lower → gather project
//! facts → run the rules → place findings in their files → sort.
//!
//! Every file is read and parsed once, in parallel. A file that cannot be read or
//! parsed is reported and the run goes on. Rules run after all files are lowered,
//! because some of them ask about the whole project (which tables are deleted
//! anywhere). Findings are sorted once, at the end, so output is deterministic
//! whatever the number of threads.

use crate::budget::Budget;
use crate::config::Configs;
use crate::diagnostic::{
    fingerprint, Diagnostic, ErrorKind, Finding, Location, RelatedLocation, Report, ResolvedEdit,
    ResolvedFix, RuleMeta, RunError,
};
use crate::discover::{self, Language};
use crate::frontend::rust;
use crate::frontend::typescript::{self, clients::FileHints};
use crate::ir::{inline, FileModel, Function};
use crate::project::{Project, ProjectFile};
use crate::rules::{self, Context, ProjectFacts};
use crate::schema::{self, dialect::Dialect, Schemas};
use crate::settings::{HintNames, Settings};
use crate::source::{Position, SourceFile};
use crate::suppress;
use rayon::prelude::*;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Clone, Debug)]
pub struct Options {
    pub paths: Vec<PathBuf>,
    /// Rules, severities, include/exclude globs, file size limit, client names:
    /// the nearest `racelint.toml` of each file, or one for all.
    pub configs: Configs,
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
    /// Read unchanged files' models from `.racelint_cache/` under the project
    /// root, and write those lowered (`cache`). Off by default: the command line
    /// and the editor server turn it on.
    pub cache: bool,
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
            configs: Configs::default(),
            exclude: Vec::new(),
            jobs: 0,
            schema: SchemaSource::ProjectRoot,
            only: None,
            prefilter: true,
            cache: false,
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

impl Lowered {
    fn into_project_file(self, linted: bool) -> ProjectFile {
        ProjectFile {
            language: discover::language_of(&self.file.path),
            role: self.role,
            source: self.file,
            model: self.model,
            linted,
        }
    }
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

/// Reads, lowers and links the whole project of a run: what `check` then runs
/// the rules on, and what the editor server keeps between edits.
pub(crate) fn load(options: &Options, pool: &rayon::ThreadPool) -> Result<Loaded, Fatal> {
    let settings = std::sync::Arc::new(Settings::new(options.configs.clone()).map_err(Fatal)?);
    let settings_ref = &*settings;
    let jobs = pool.current_num_threads();
    discover::check_paths(&options.paths).map_err(Fatal)?;
    let prefilter = options
        .prefilter
        .then(|| crate::frontend::Prefilter::new(&settings.all_prisma_names()));
    let project_root = discover::project_root(
        options
            .paths
            .first()
            .map_or(Path::new("."), PathBuf::as_path),
    );
    let roles = crate::roles::Roles::new(&project_root, &options.configs).map_err(Fatal)?;
    let cache = options
        .cache
        .then(|| crate::cache::Cache::open(&project_root))
        .flatten();
    let cache = cache.as_ref();

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
                &|p| settings_ref.keeps(p),
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
                                settings_ref,
                                prefilter.as_ref(),
                                schema_root.as_deref(),
                                &roles,
                                cache,
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
    // Schema sources honour `exclude` as the walk does (CONTRACT.md).
    let candidates = match (candidates, &schema_root) {
        (Some(found), Some(root)) => {
            let excluded = Excluded::new(root, &options.exclude).map_err(Fatal)?;
            Some(
                found
                    .into_iter()
                    .filter(|p| !settings.excludes(p) && !excluded.matches(p))
                    .collect(),
            )
        }
        (found, _) => found,
    };
    outcomes.sort_by(|a, b| a.0.cmp(&b.0));
    // A file named on the command line and found by a walk too is linted once.
    outcomes.dedup_by(|a, b| a.0 == b.0);
    let files = outcomes.len();
    let mut lowered = Vec::new();
    let mut schema_read = Vec::new();
    let mut linted_paths = std::collections::HashSet::new();
    for (path, outcome) in outcomes {
        errors.extend(outcome.errors);
        if let Some(l) = outcome.lowered {
            linted_paths.insert(path.canonicalize().unwrap_or(path));
            lowered.push((l, true));
        }
        schema_read.extend(outcome.schema);
    }
    // Whether this run meets every file of the project, so that cache entries
    // it did not meet are of files gone.
    let whole = schema_root.as_deref() == Some(project_root.as_path());
    // The rest of the project is read for what the linted files need to know
    // of it: the functions they call, the tables deleted anywhere, the schema
    // its code declares (taken from the text read here, not read again).
    if let Some(root) = schema_root.as_deref().filter(|root| !covers(options, root)) {
        let (sender, receiver) = std::sync::mpsc::channel::<PathBuf>();
        let (prefilter, linted_paths) = (&prefilter, &linted_paths);
        let rest = std::thread::scope(|threads| {
            let walker = threads.spawn(move || {
                discover::walk(
                    &[root.to_path_buf()],
                    &options.exclude,
                    &|p| settings_ref.keeps(p),
                    jobs,
                    &|path| {
                        let _ = sender.send(path);
                    },
                )
            });
            let read = pool.install(|| {
                receiver
                    .into_iter()
                    .par_bridge()
                    .filter(|path| {
                        !linted_paths.contains(&path.canonicalize().unwrap_or(path.clone()))
                    })
                    .map(|path| {
                        let outcome = lint_file(
                            &path,
                            settings_ref,
                            prefilter.as_ref(),
                            Some(root),
                            &roles,
                            cache,
                        );
                        (path, outcome.lowered, outcome.schema)
                    })
                    .collect::<Vec<_>>()
            });
            let _ = walker.join();
            read
        });
        let mut rest = rest;
        rest.sort_by(|a, b| a.0.cmp(&b.0));
        rest.dedup_by(|a, b| a.0 == b.0);
        for (_, l, schema) in rest {
            lowered.extend(l.map(|l| (l, false)));
            schema_read.extend(schema);
        }
    }
    if let Some(cache) = cache.filter(|_| whole) {
        cache.prune();
    }
    let schema = match (&schema_root, candidates) {
        (Some(root), Some(candidates)) => {
            let migrations =
                schema::MigrationFolders::new(&options.configs, root).map_err(Fatal)?;
            let found = pool
                .install(|| schema::discover_reusing(root, candidates, schema_read, &migrations));
            errors.extend(found.errors);
            Schemas::new(found.schema, found.packages).with_databases(found.databases)
        }
        _ => Schemas::default(),
    };
    let mut project_files: Vec<ProjectFile> = lowered
        .into_iter()
        .map(|(l, linted)| l.into_project_file(linted))
        .collect();
    project_files.sort_by(|a, b| a.source.path.cmp(&b.source.path));
    let facts = facts_of(&schema, &project_files);
    if let Some(root) = &schema_root {
        let linted = project_files.iter().filter(|f| f.linted);
        errors.extend(schema.conflicts_met(root, linted.map(|f| f.source.path.as_path())));
    }
    let project = Project::new(project_files, schema_root.as_deref());
    Ok(Loaded {
        project,
        facts,
        schema,
        errors,
        files,
        lowering: Lowering {
            prefilter,
            settings,
            roles,
            schema_root,
        },
    })
}

/// What the whole project does, from every file of it.
pub(crate) fn facts_of(schemas: &Schemas, files: &[ProjectFile]) -> ProjectFacts {
    let mut facts = ProjectFacts::default();
    for file in files {
        // What tests, scripts and seeds do is no fact about the running
        // application (but their SQL functions may still be called).
        let production = !file.role.runs_alone();
        facts.add_file(
            schemas.for_file(&file.source.path),
            &file.model,
            &file.source.display_path,
            production,
            |effect| {
                format!(
                    "{}:{}",
                    file.source.display_path,
                    file.source.position(effect.span.start).line
                )
            },
        );
    }
    facts
}

pub fn check(options: &Options) -> Result<Report, Fatal> {
    let started = Instant::now();
    let pool = thread_pool(options.jobs)?;
    let Loaded {
        project: linked,
        facts,
        schema,
        mut errors,
        files,
        lowering,
    } = load(options, &pool)?;
    let project = &linked;
    let run = RuleRun {
        project,
        facts: &facts,
        schema: &schema,
        settings: &lowering.settings,
    };
    let (mut diagnostics, stage_errors): (Vec<Diagnostic>, Vec<RunError>) = pool.install(|| {
        (0..project.files.len())
            .into_par_iter()
            .filter(|&index| project.files[index].linted)
            .map(|index| check_file(&run, index))
            .reduce(
                || (Vec::new(), Vec::new()),
                |mut a, b| {
                    a.0.extend(b.0);
                    a.1.extend(b.1);
                    a
                },
            )
    });
    errors.extend(stage_errors);
    // Freeing the models and texts is a measurable part of a large run: in parallel.
    pool.install(|| linked.into_files().into_par_iter().for_each(drop));
    sort_diagnostics(&mut diagnostics);
    errors.sort_by(|a, b| (&a.path, a.position, a.kind).cmp(&(&b.path, b.position, b.kind)));
    // A `.sql` file is read for its functions and for the schema: one unreadable
    // file is one error.
    errors.dedup_by(|a, b| {
        a.path == b.path && a.kind == b.kind && a.position.is_none() && b.position.is_none()
    });
    Ok(Report {
        diagnostics,
        errors,
        files,
        elapsed_ms: started.elapsed().as_millis() as u64,
    })
}

/// Sorts findings into the contract's order and drops repeats: a helper's race is
/// found in the helper and again in each caller that inlines it, one report per
/// rule and place.
pub(crate) fn sort_diagnostics(diagnostics: &mut Vec<Diagnostic>) {
    diagnostics.sort_by(|a, b| {
        a.sort_key()
            .cmp(&b.sort_key())
            .then_with(|| a.message.cmp(&b.message))
    });
    diagnostics.dedup_by(|a, b| a.sort_key() == b.sort_key() && a.location.end == b.location.end);
}

/// The project of a run, lowered and linked, with what lowering one more file needs.
pub(crate) struct Loaded {
    pub project: Project,
    pub facts: ProjectFacts,
    /// The merged schema, and each package's when there are several.
    pub schema: Schemas,
    /// Files that could not be read or parsed, schema problems.
    pub errors: Vec<RunError>,
    /// How many files the run lints.
    pub files: usize,
    pub lowering: Lowering,
}

/// How the run lowers a file: the prefilter, the settings, the roles.
pub(crate) struct Lowering {
    prefilter: Option<crate::frontend::Prefilter>,
    pub settings: std::sync::Arc<Settings>,
    roles: crate::roles::Roles,
    schema_root: Option<PathBuf>,
}

impl Lowering {
    /// A file's text, such as an editor's unsaved buffer, lowered as the run lowers
    /// the files it reads: its project file when rules have work there, and its
    /// parse problems.
    pub(crate) fn lower(&self, path: &Path, text: String) -> (Option<ProjectFile>, Vec<RunError>) {
        let outcome = lower_text(
            path,
            text,
            self.prefilter.as_ref(),
            &self.settings.of(path).1.hints,
            None,
            &self.roles,
            None,
        );
        (
            outcome.lowered.map(|l| l.into_project_file(true)),
            outcome.errors,
        )
    }

    /// The folder whose schema sources and files make the project.
    pub(crate) fn root(&self) -> Option<&Path> {
        self.schema_root.as_deref()
    }
}

/// What the rules of a run share, for every file they check.
pub(crate) struct RuleRun<'a> {
    pub project: &'a Project,
    pub facts: &'a ProjectFacts,
    pub schema: &'a Schemas,
    /// Each file's configuration and what was compiled from it.
    pub settings: &'a Settings,
}

/// One linted file of the project: its functions linked, every rule, its
/// suppressions; the findings placed, and what a stage gave up on.
pub(crate) fn check_file(run: &RuleRun, index: usize) -> (Vec<Diagnostic>, Vec<RunError>) {
    let RuleRun {
        project,
        facts: project_facts,
        schema,
        settings,
    } = *run;
    let source = &project.files[index].source;
    let (config, compiled) = settings.of(&source.path);
    let database = config
        .schema
        .database
        .map_or_else(|| schema.database_for(&source.path), Dialect::One);
    let schema = schema.for_file(&source.path);
    let (rules, known, active, overrides) = (
        &compiled.rules.rules,
        &compiled.rules.known,
        &compiled.rules.active,
        &compiled.overrides,
    );
    let cx = Context {
        schema,
        project: project_facts,
        text: &source.text,
        source,
        log_tables: &config.non_atomic_writes.log_tables,
        database,
        runs_alone: project.files[index].role.runs_alone(),
        statement_parses: std::cell::Cell::new(crate::rules::statement_parses_for(
            source.text.len(),
        )),
    };
    let mut findings = Vec::new();
    let mut problems = Vec::new();
    let alone = project.files[index].role.runs_alone();
    let bytes = source.text.len();
    let expanded = project.link(index, &mut inline::budget_for(bytes));
    for name in &expanded.stopped {
        problems.push(stage_skipped(
            source,
            name,
            "inlining",
            "its calls were not followed (the file's inlining budget ran out); \
             its own effects are still checked",
        ));
    }
    for mut function in expanded.functions {
        if project_facts
            .routines
            .is_replaced(&function, &source.display_path)
        {
            continue;
        }
        project_facts.routines.resolve(&mut function);
        let function = &function;
        for message in &function.internal_errors {
            problems.push(RunError {
                kind: ErrorKind::InternalError,
                path: source.display_path.clone(),
                message: message.clone(),
                position: Some(source.position(function.span.start)),
            });
        }
        if !rules_can_check(function, bytes) {
            problems.push(stage_skipped(
                source,
                &function.name,
                "rules",
                &format!(
                    "{} database effects are more than the rules compare pairwise \
                     in a file of this size; the function was not checked",
                    function.effects.len()
                ),
            ));
            continue;
        }
        for (rule, severity) in rules {
            if (alone || function.runs_alone) && rule.meta().concurrent {
                continue;
            }
            let from = findings.len();
            rule.check(&cx, function, &mut findings);
            for finding in &mut findings[from..] {
                finding.severity = *severity;
            }
            place_across_files(project, function, &mut findings, from);
        }
    }
    let findings = if source.text.contains(suppress::MARKER) {
        let suppressions =
            suppress::parse_in(&source.text, suppress::CommentSyntax::of(&source.path));
        let (mut kept, extra) = suppress::apply(findings, &suppressions, source, known, active);
        kept.extend(extra.into_iter().filter_map(|mut f| {
            let meta = suppress::META.iter().find(|m| m.id == f.rule)?;
            f.severity = config.severity(meta)?;
            Some(f)
        }));
        kept
    } else {
        findings
    };
    let mut findings = findings;
    if !overrides.is_empty() {
        // After suppressions, so that a suppression of a rule an override turns
        // off for this file is not reported as unused.
        findings.retain_mut(|f| {
            let level = overrides.level(&source.path, f.rule).map(|l| l.severity());
            let meta = all_rule_meta().into_iter().find(|m| m.id == f.rule);
            match level.or_else(|| meta.map(|m| config.severity(&m))) {
                Some(Some(severity)) => {
                    f.severity = severity;
                    true
                }
                Some(None) => false,
                None => true,
            }
        });
    }
    let placed = findings
        .into_iter()
        .filter(|f| f.confidence.level >= config.min_confidence)
        .map(|f| place(source, f))
        .collect::<Vec<_>>();
    (placed, problems)
}

/// One file's text linted as a project of its own (no schema, no other files):
/// what the fuzzer drives through the whole pipeline.
pub fn lint_text(path: &Path, text: String) -> (Vec<Diagnostic>, Vec<RunError>) {
    let settings = Settings::new(Configs::default()).unwrap_or_else(|_| unreachable!());
    let file = SourceFile::new(path.to_path_buf(), discover::display_path(path), text);
    let (model, mut errors) = lower_source(&file, &HintNames::default());
    let schema = Schemas::default();
    let mut facts = ProjectFacts::default();
    facts.add_file(schema.merged(), &model, &file.display_path, true, |_| {
        String::new()
    });
    let project = Project::new(
        vec![ProjectFile {
            language: discover::language_of(path),
            role: crate::roles::Role::Production,
            source: file,
            model,
            linted: true,
        }],
        None,
    );
    let run = RuleRun {
        project: &project,
        facts: &facts,
        schema: &schema,
        settings: &settings,
    };
    let (diagnostics, problems) = check_file(&run, 0);
    errors.extend(problems);
    (diagnostics, errors)
}

/// `--exclude` globs, relative to the project root, for the schema sources found
/// there (the walk applies them relative to each linted folder).
struct Excluded(Option<ignore::overrides::Override>);

impl Excluded {
    fn new(root: &Path, globs: &[String]) -> Result<Excluded, String> {
        if globs.is_empty() {
            return Ok(Excluded(None));
        }
        let mut builder = ignore::overrides::OverrideBuilder::new(root);
        for glob in globs {
            builder
                .add(&format!("!{glob}"))
                .map_err(|e| format!("invalid --exclude glob `{glob}`: {e}"))?;
        }
        builder
            .build()
            .map(|o| Excluded(Some(o)))
            .map_err(|e| format!("invalid --exclude: {e}"))
    }

    fn matches(&self, path: &Path) -> bool {
        self.0.as_ref().is_some_and(|o| {
            let path = discover::absolute(path);
            path.ancestors()
                .take_while(|a| a.starts_with(o.path()))
                .any(|a| o.matched(a, a != path).is_ignore())
        })
    }
}

fn lint_file(
    path: &Path,
    settings: &Settings,
    prefilter: Option<&crate::frontend::Prefilter>,
    schema_root: Option<&Path>,
    roles: &crate::roles::Roles,
    cache: Option<&crate::cache::Cache>,
) -> FileOutcome {
    // Most files are turned away by the prefilter: their display path is never needed.
    let display = || discover::display_path(path);
    let (config, compiled) = settings.of(path);
    let bytes = match read_limited(path, config.max_file_size) {
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
    let cache = cache.map(|cache| (cache, compiled.cache_key));
    lower_text(
        path,
        text,
        prefilter,
        &compiled.hints,
        schema_root,
        roles,
        cache,
    )
}

/// [`lint_file`] once the text is read.
fn lower_text(
    path: &Path,
    text: String,
    prefilter: Option<&crate::frontend::Prefilter>,
    names: &HintNames,
    schema_root: Option<&Path>,
    roles: &crate::roles::Roles,
    cache: Option<(&crate::cache::Cache, u64)>,
) -> FileOutcome {
    let schema = schema_root.and_then(|root| schema::sources_in_code(root, path, &text));
    if let (Some(prefilter), Some(language)) = (prefilter, discover::language_of(path)) {
        let python_caller = || {
            language == Language::Python
                && crate::project::python::imports_project_module(path, &text, schema_root)
        };
        if !prefilter.admits(language, &text) && !python_caller() {
            return FileOutcome {
                schema,
                ..FileOutcome::default()
            };
        }
    }
    // `sqlx::query_file!` makes the model depend on another file's text: such a
    // file is always lowered.
    let cached = cache
        .filter(|_| !text.contains("query_file"))
        .and_then(|(cache, config)| {
            let rel = cache.relative(path)?;
            let key = cache.key(config, &rel, &text);
            Some((cache, rel, key))
        });
    let file = SourceFile::new(path.to_path_buf(), discover::display_path(path), text);
    let problem = |(kind, message, position)| RunError {
        kind,
        path: file.display_path.clone(),
        message,
        position,
    };
    if let Some(entry) = cached.as_ref().and_then(|(c, rel, key)| c.get(rel, *key)) {
        let errors = entry.problems.into_iter().map(problem).collect();
        let lowered = entry.model.map(|model| Lowered {
            role: roles.of_file(path, &file.text).role,
            file,
            model,
        });
        return FileOutcome {
            lowered,
            errors,
            schema,
        };
    }
    let (mut model, mut errors) = lower_source(&file, names);
    errors.sort_by_key(|e| e.position);
    if discover::language_of(path) == Some(Language::Rust) {
        crate::roles::mark_test_helpers(&mut model);
    }
    // A suppression comment is checked even in a file without effects; a module
    // that re-exports others is a step on the way to functions elsewhere.
    let keep = !model.functions.is_empty()
        || file.text.contains(suppress::MARKER)
        || model
            .exports
            .iter()
            .any(|e| matches!(e.target, crate::ir::ExportTarget::From { .. }))
        // Python re-exports are imports (`from .users import create_user`).
        || discover::language_of(path) == Some(Language::Python) && !model.imports.is_empty();
    if let Some((cache, rel, key)) = &cached {
        let problems: Vec<_> = errors
            .iter()
            .map(|e| (e.kind, e.message.clone(), e.position))
            .collect();
        cache.put(rel, *key, keep.then_some(&model), &problems);
    }
    let role = keep.then(|| roles.of_file(path, &file.text).role);
    FileOutcome {
        lowered: role.map(|role| Lowered { file, model, role }),
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
            hints
                .transaction_wrappers
                .clone_from(&names.transaction_wrappers);
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
        Some(Language::Sql) => {
            let parsed = crate::frontend::plpgsql::parse(&file.text);
            let errors = parsed
                .problems
                .into_iter()
                .map(|(offset, message)| parse_error(file.position(offset as u32), message))
                .collect();
            (parsed.model, errors)
        }
        Some(Language::Python) => {
            let parsed = crate::frontend::python::parse(&file.text);
            let errors = parsed
                .problems
                .into_iter()
                .map(|(offset, message)| parse_error(file.position(offset as u32), message))
                .collect();
            (parsed.model, errors)
        }
        None => (FileModel::default(), Vec::new()),
    }
}

/// Whether the run lints the whole of `root` already (`racelint check .` at the
/// root), so that there is nothing more of the project to read.
fn covers(options: &Options, root: &Path) -> bool {
    options.only.is_none()
        && options
            .paths
            .iter()
            .any(|p| p.canonicalize().is_ok_and(|p| p == root))
}

/// Findings of a function whose callees came from other files: a finding made
/// only of effects one call brought in is the callee's own race, reported in its
/// file, not again here; any other label on such an effect says where it is
/// written.
fn place_across_files(
    project: &Project,
    function: &Function,
    findings: &mut Vec<crate::diagnostic::Finding>,
    from: usize,
) {
    let foreign_at = |span: crate::ir::Span| {
        function
            .effects
            .iter()
            .filter(|e| e.site == span || e.span == span)
            .find_map(|e| e.origin.as_ref().map(|o| (e.span, o)))
    };
    let mut index = from;
    while index < findings.len() {
        let finding = &mut findings[index];
        let spans: Vec<crate::ir::Span> = std::iter::once(finding.span)
            .chain(finding.related.iter().map(|r| r.span))
            .collect();
        let origins: Vec<_> = spans.iter().map(|&s| foreign_at(s)).collect();
        let one_call = origins
            .first()
            .and_then(|o| o.as_ref())
            .is_some_and(|(at, _)| {
                origins
                    .iter()
                    .all(|o| o.as_ref().is_some_and(|(a, _)| a == at))
            });
        if one_call {
            findings.remove(index);
            continue;
        }
        // Every half of the race is written in other files, reached through
        // separate calls: this function only sequences them, and how it is run
        // (a decorator or a request context that opens a transaction, which the
        // model does not see) often makes them atomic. Reported, but low.
        if origins.iter().all(Option::is_some) {
            finding.confidence = crate::diagnostic::Confidence::new(
                crate::diagnostic::Level::Low,
                "every write of the race is in another file, reached through separate calls; \
                 the caller may run them in a transaction racelint does not see",
            );
        }
        let describe = |origin: &crate::ir::Origin| {
            let file = &project.files[origin.file].source;
            format!(
                " (in `{}`, {}:{})",
                origin.function,
                file.display_path,
                file.position(origin.span.start).line
            )
        };
        if let Some((_, origin)) = &origins[0] {
            finding.label.push_str(&describe(origin));
        }
        for (related, origin) in finding.related.iter_mut().zip(&origins[1..]) {
            if let Some((_, origin)) = origin {
                related.message.push_str(&describe(origin));
            }
        }
        index += 1;
    }
}

/// Pairs of effects the rules may compare in one function, per byte of the file:
/// the rules compare effects pairwise, so a function of tens of thousands of
/// effects (generated code, a file built to stall the run) is left unchecked,
/// and said so, rather than checked for minutes.
const RULE_PAIRS_PER_BYTE: u64 = 16;
const RULE_PAIRS_FLOOR: u64 = 1 << 22;

fn rules_can_check(function: &crate::ir::Function, bytes: usize) -> bool {
    let n = function.effects.len() as u64;
    let mut budget = Budget::for_source(bytes, RULE_PAIRS_PER_BYTE, RULE_PAIRS_FLOOR);
    budget.spend(n.saturating_mul(n))
}

/// A stage that gave up on one function of a file, said as a `skipped` error.
fn stage_skipped(file: &SourceFile, function: &str, stage: &str, why: &str) -> RunError {
    RunError {
        kind: ErrorKind::Skipped,
        path: file.display_path.clone(),
        message: format!("function `{function}`, {stage} stage: {why}"),
        position: None,
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

/// Whether the report should make `check` exit 1: a finding at or above the
/// `fail-on` of its file's configuration.
pub fn fails(report: &Report, configs: &Configs) -> bool {
    report.diagnostics.iter().any(|d| {
        configs
            .for_path(Path::new(&d.location.path))
            .fails(d.severity)
    })
}

/// The project of a run kept loaded, to lint files again with other texts (what
/// `--fix` would write) in the same project: the same schema, configuration and
/// other files.
pub struct Relinter {
    pool: rayon::ThreadPool,
    files: Vec<ProjectFile>,
    schema: Schemas,
    lowering: Lowering,
}

impl Relinter {
    pub fn new(options: &Options) -> Result<Relinter, Fatal> {
        let pool = thread_pool(options.jobs)?;
        let loaded = load(options, &pool)?;
        Ok(Relinter {
            files: loaded.project.into_files(),
            schema: loaded.schema,
            lowering: loaded.lowering,
            pool,
        })
    }

    /// The findings of each file named (by display path) when every one of them
    /// has the given text at once; the project's other files stay as they are.
    /// A path the project does not hold gets no findings.
    pub fn check(&mut self, texts: &[(String, String)]) -> Vec<Vec<Diagnostic>> {
        let mut originals = Vec::new();
        for (display, text) in texts {
            let Some(index) = self
                .files
                .iter()
                .position(|f| f.source.display_path == *display)
            else {
                continue;
            };
            let path = self.files[index].source.path.clone();
            let (lowered, _) = self
                .pool
                .install(|| self.lowering.lower(&path, text.clone()));
            let mut file = lowered.unwrap_or_else(|| ProjectFile {
                language: discover::language_of(&path),
                role: self.files[index].role,
                source: SourceFile::new(path.clone(), display.clone(), text.clone()),
                model: crate::ir::FileModel::default(),
                linted: true,
            });
            file.source.display_path.clone_from(display);
            file.linted = true;
            originals.push((
                display.clone(),
                std::mem::replace(&mut self.files[index], file),
            ));
        }
        let files = std::mem::take(&mut self.files);
        let root = self.lowering.root().map(Path::to_path_buf);
        let (facts, project) = self.pool.install(|| {
            let facts = facts_of(&self.schema, &files);
            (facts, Project::new(files, root.as_deref()))
        });
        let run = RuleRun {
            project: &project,
            facts: &facts,
            schema: &self.schema,
            settings: &self.lowering.settings,
        };
        let found = texts
            .iter()
            .map(|(display, _)| {
                match project
                    .files
                    .iter()
                    .position(|f| f.source.display_path == *display)
                {
                    Some(index) => {
                        let mut found = self.pool.install(|| check_file(&run, index).0);
                        sort_diagnostics(&mut found);
                        found
                    }
                    None => Vec::new(),
                }
            })
            .collect();
        self.files = project.into_files();
        for (display, original) in originals {
            if let Some(slot) = self
                .files
                .iter_mut()
                .find(|f| f.source.display_path == display)
            {
                *slot = original;
            }
        }
        found
    }
}
