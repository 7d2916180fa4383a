//! `racelint check`: load the configuration, lint, filter by baseline, fix if asked,
//! report, and exit 0, 1 or 2.
//!
//! Where the report goes and how it looks (`--format`, `--statistics`, `--quiet`,
//! `--color`, `--output-file`, the GitHub step summary) is decided here; what it
//! says is `report/`'s.

use super::{split_list, EXIT_CLEAN, EXIT_ERROR, EXIT_FINDINGS};
use crate::config::{self, Configs};
use crate::lint::{self, Options};
use crate::{baseline, changed, discover, fix, report};
use clap::{Args, ValueEnum};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    Human,
    /// One line per finding: `path:line:col: severity[rule] message`
    Concise,
    Json,
    Sarif,
    Github,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorArg {
    Auto,
    Always,
    Never,
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Files and folders to lint
    #[arg(default_value = ".")]
    pub paths: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t = CheckFormat::Human)]
    pub format: CheckFormat,
    /// Run only these rules (comma-separated or repeated)
    #[arg(long, value_name = "RULE,...")]
    pub select: Vec<String>,
    /// Skip these rules
    #[arg(long, value_name = "RULE,...")]
    pub ignore: Vec<String>,
    /// A racelint.toml for every file (default: each file's nearest racelint.toml)
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Report only findings that are not in this baseline
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Record today's findings as the baseline, print a one-line summary, exit 0
    #[arg(long, value_name = "FILE")]
    pub write_baseline: Option<PathBuf>,
    /// With --write-baseline: write it from a partial run (some paths, --select,
    /// --ignore, --changed-since), replacing the file
    #[arg(long, requires = "write_baseline")]
    pub force: bool,
    /// Findings per rule, with fixable counts, instead of each finding
    #[arg(long)]
    pub statistics: bool,
    /// Write the report to this file instead of stdout
    #[arg(long, value_name = "FILE")]
    pub output_file: Option<PathBuf>,
    /// Only the findings: no summary line, no notes on stderr
    #[arg(long, short)]
    pub quiet: bool,
    /// Colour in human output: auto honours NO_COLOR, FORCE_COLOR, CLICOLOR_FORCE and TERM=dumb
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = ColorArg::Auto)]
    pub color: ColorArg,
    /// Apply the fixes that are safe and print what changed
    #[arg(long)]
    pub fix: bool,
    /// Print the available fixes as a unified diff; write nothing
    #[arg(long, conflicts_with = "fix")]
    pub diff: bool,
    /// With --fix or --diff: include the fixes that may change behaviour
    #[arg(long)]
    pub unsafe_fixes: bool,
    /// Worker threads (default: all cores)
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub jobs: usize,
    /// Skip paths matching this glob, on top of .gitignore (repeatable)
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,
    /// Lower every file afresh: neither read nor write .racelint_cache/ (also
    /// RACELINT_NO_CACHE=1)
    #[arg(long)]
    pub no_cache: bool,
    /// Parse every file, also those without database vocabulary (for testing the prefilter)
    #[arg(long, hide = true)]
    pub no_prefilter: bool,
    /// Files larger than this many bytes are skipped with a note (default: the config's, 1 MiB)
    #[arg(long, value_name = "BYTES")]
    pub max_file_size: Option<u64>,
    /// Lint only files changed since this git ref (committed since the merge base,
    /// uncommitted, untracked); the schema still comes from the whole project
    #[arg(long, value_name = "REF")]
    pub changed_since: Option<String>,
    /// Report findings at or above this confidence (default: the config's, medium)
    #[arg(long, value_enum, value_name = "LEVEL")]
    pub min_confidence: Option<ConfidenceArg>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ConfidenceArg {
    High,
    Medium,
    Low,
}

/// The project loaded again, for `--fix`/`--diff` to lint each fixed file in it;
/// `None` (with a note) when it cannot load, and fixes are then checked by
/// parsing alone.
fn relinter(options: &Options) -> Option<lint::Relinter> {
    match lint::Relinter::new(options) {
        Ok(relinter) => Some(relinter),
        Err(fatal) => {
            eprintln!("racelint: warning: fixes not re-linted: {fatal}");
            None
        }
    }
}

pub fn run(args: CheckArgs) -> i32 {
    let configs = match load_configs(&args) {
        Ok(configs) => configs,
        Err(code) => return code,
    };
    let only = match &args.changed_since {
        Some(git_ref) => {
            let first = args.paths.first().map_or(Path::new("."), PathBuf::as_path);
            match changed::changed_files(&discover::project_root(first), git_ref) {
                Ok(files) => Some(files),
                Err(message) => {
                    eprintln!("racelint: error: {message}");
                    return EXIT_ERROR;
                }
            }
        }
        None => None,
    };
    let options = Options {
        paths: args.paths.clone(),
        configs,
        exclude: args.exclude.clone(),
        jobs: args.jobs,
        schema: lint::SchemaSource::ProjectRoot,
        only,
        prefilter: !args.no_prefilter,
        cache: !args.no_cache && !crate::cache::disabled_by_env(),
    };
    let mut report = match lint::check(&options) {
        Ok(report) => report,
        Err(fatal) => {
            eprintln!("racelint: error: {fatal}");
            return EXIT_ERROR;
        }
    };
    if args.diff {
        // As ruff's `--diff`: the exit code says whether anything would change.
        let mut relinter = relinter(&options);
        let (diff, refused) = fix::diff(&report, args.unsafe_fixes, relinter.as_mut());
        for (path, why) in &refused {
            eprintln!("racelint: would not fix {path}: {why}");
        }
        print!("{diff}");
        return if diff.is_empty() {
            EXIT_CLEAN
        } else {
            EXIT_FINDINGS
        };
    }
    if args.fix {
        let mut relinter = relinter(&options);
        let outcome = fix::apply(&report, args.unsafe_fixes, relinter.as_mut());
        drop(relinter);
        for (path, count) in &outcome.written {
            eprintln!(
                "racelint: fixed {count} finding{} in {path}",
                if *count == 1 { "" } else { "s" }
            );
        }
        for (path, why) in &outcome.refused {
            eprintln!("racelint: did not fix {path}: {why}");
        }
        if !outcome.written.is_empty() {
            report = match lint::check(&options) {
                Ok(report) => report,
                Err(fatal) => {
                    eprintln!("racelint: error: {fatal}");
                    return EXIT_ERROR;
                }
            };
        }
    }
    if let Some(path) = &args.write_baseline {
        return write_baseline(&args, path, &report);
    }
    let mut notes = report::human::Notes::default();
    if let Some(path) = &args.baseline {
        match baseline::load(path) {
            Ok(known) => {
                let before = report.diagnostics.len();
                report.diagnostics =
                    baseline::filter(std::mem::take(&mut report.diagnostics), &known);
                notes.hidden_by_baseline = Some(before - report.diagnostics.len());
            }
            // The message names the file and says whether it is missing or invalid.
            Err(e) => {
                eprintln!("racelint: error: {e}");
                return EXIT_ERROR;
            }
        }
    }
    let rendered = match render(&args, &report, &notes) {
        Ok(rendered) => rendered,
        Err(message) => {
            eprintln!("racelint: error: {message}");
            return EXIT_ERROR;
        }
    };
    if args.format == CheckFormat::Github {
        write_step_summary(&report);
    }
    match &args.output_file {
        Some(path) => {
            if let Err(e) = std::fs::write(path, rendered.as_bytes()) {
                eprintln!("racelint: error: cannot write {}: {e}", path.display());
                return EXIT_ERROR;
            }
        }
        None => {
            let mut stdout = std::io::stdout().lock();
            // A closed pipe (`racelint check | head`) is not a lint failure.
            let _ = stdout
                .write_all(rendered.as_bytes())
                .and_then(|_| stdout.flush());
        }
    }
    if !args.quiet {
        eprint!("{}", report::human::error_lines(&report));
        // Machine formats keep stdout to their document; a baseline's effect is
        // still worth a line for the person reading the log.
        if let Some(hidden) = notes.hidden_by_baseline.filter(|&n| n > 0) {
            if !matches!(args.format, CheckFormat::Human | CheckFormat::Concise) || args.statistics
            {
                eprintln!("racelint: {hidden} known finding(s) hidden by the baseline");
            }
        }
    }
    if lint::fails(&report, &options.configs) {
        EXIT_FINDINGS
    } else {
        EXIT_CLEAN
    }
}

/// The report in the asked format, with the summary lines unless `--quiet`.
fn render(
    args: &CheckArgs,
    report: &crate::diagnostic::Report,
    notes: &report::human::Notes,
) -> Result<String, String> {
    let is_terminal = args.output_file.is_none() && std::io::stdout().is_terminal();
    let style = report::human::Style::choose(
        match args.color {
            ColorArg::Auto => report::human::ColorChoice::Auto,
            ColorArg::Always => report::human::ColorChoice::Always,
            ColorArg::Never => report::human::ColorChoice::Never,
        },
        is_terminal,
        &|name| std::env::var(name).ok(),
    );
    let summary = || {
        if args.quiet {
            String::new()
        } else {
            report::human::summary_with(report, notes)
        }
    };
    if args.statistics {
        return match args.format {
            CheckFormat::Json => Ok(report::statistics::render_json(report)),
            CheckFormat::Human | CheckFormat::Concise => {
                Ok(report::statistics::render_text(report) + &summary())
            }
            CheckFormat::Sarif | CheckFormat::Github => Err(
                "--statistics prints a table (--format human or concise) or JSON (--format json)"
                    .into(),
            ),
        };
    }
    Ok(match args.format {
        CheckFormat::Human => report::human::render_findings(report, &style) + &summary(),
        CheckFormat::Concise => report::concise::render(report) + &summary(),
        CheckFormat::Json => report::json::render(report),
        CheckFormat::Sarif => report::sarif::render(report, &lint::all_rule_meta()),
        CheckFormat::Github => report::github::render(report),
    })
}

/// GitHub shows only the first annotations; the job's summary page gets them all.
fn write_step_summary(report: &crate::diagnostic::Report) {
    let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) else {
        return;
    };
    let appended = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut file| file.write_all(report::github::step_summary(report).as_bytes()));
    if let Err(e) = appended {
        eprintln!(
            "racelint: warning: cannot write the step summary {}: {e}",
            Path::new(&path).display()
        );
    }
}

/// `--write-baseline`: records the findings and says so in one line. A baseline
/// from a partial run would drop every finding outside it, and the next full run
/// would fail on all of them: refused unless `--force`.
fn write_baseline(args: &CheckArgs, path: &Path, report: &crate::diagnostic::Report) -> i32 {
    if !args.force {
        if let Some(why) = partial_run(args) {
            eprintln!(
                "racelint: error: not writing the baseline {}: this run is partial ({why}), so \
                 the baseline would forget every finding outside it; run on the whole project, \
                 or add --force to write it anyway",
                path.display()
            );
            return EXIT_ERROR;
        }
    }
    if let Err(e) = baseline::write(path, &report.diagnostics) {
        eprintln!(
            "racelint: error: cannot write the baseline {}: {e}",
            path.display()
        );
        return EXIT_ERROR;
    }
    let n = report.diagnostics.len();
    eprintln!(
        "racelint: recorded {n} finding{} from {} file{} in {}",
        if n == 1 { "" } else { "s" },
        report.files,
        if report.files == 1 { "" } else { "s" },
        path.display()
    );
    EXIT_CLEAN
}

/// Why this run does not see the whole project, if it does not.
fn partial_run(args: &CheckArgs) -> Option<String> {
    if args.changed_since.is_some() {
        return Some("--changed-since".into());
    }
    if !args.select.is_empty() {
        return Some("--select".into());
    }
    if !args.ignore.is_empty() {
        return Some("--ignore".into());
    }
    let first = args.paths.first().map_or(Path::new("."), PathBuf::as_path);
    let root = discover::project_root(first);
    let root = root.canonicalize().unwrap_or(root);
    let whole = args
        .paths
        .iter()
        .any(|p| p.canonicalize().is_ok_and(|p| p == root));
    (!whole).then(|| {
        format!(
            "the paths given are inside the project root {}",
            discover::display_path(&root)
        )
    })
}

/// The configurations: `--config` for every file, else each file's nearest
/// `racelint.toml` (the defaults where there is none); then the command line on
/// top of each.
fn load_configs(args: &CheckArgs) -> Result<Configs, i32> {
    let known: Vec<&str> = lint::all_rule_meta().iter().map(|m| m.id).collect();
    let mut configs = match Configs::for_run(args.config.as_deref(), &args.paths, &known) {
        Ok(configs) => configs,
        Err(error) => {
            eprint!("{}", crate::report::human::config_error(error));
            return Err(EXIT_ERROR);
        }
    };
    let select = split_list(&args.select);
    let ignore = split_list(&args.ignore);
    for id in select.iter().chain(&ignore) {
        if !known.contains(&id.as_str()) {
            match config::closest(id, &known) {
                Some(near) => eprintln!(
                    "racelint: error: unknown rule `{id}`; did you mean `{near}`? (see `racelint rules`)"
                ),
                None => eprintln!("racelint: error: unknown rule `{id}` (see `racelint rules`)"),
            }
            return Err(EXIT_ERROR);
        }
    }
    configs.for_each_mut(|config| {
        config.merge_cli((!select.is_empty()).then(|| select.clone()), ignore.clone());
        if let Some(size) = args.max_file_size {
            config.max_file_size = size;
        }
        if let Some(level) = args.min_confidence {
            config.min_confidence = match level {
                ConfidenceArg::High => crate::diagnostic::Level::High,
                ConfidenceArg::Medium => crate::diagnostic::Level::Medium,
                ConfidenceArg::Low => crate::diagnostic::Level::Low,
            };
        }
    });
    Ok(configs)
}
