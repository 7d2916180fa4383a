//! `racelint check`: load the configuration, lint, filter by baseline, fix if asked,
//! report, and exit 0, 1 or 2.

use super::{split_list, EXIT_CLEAN, EXIT_ERROR, EXIT_FINDINGS};
use crate::config::{self, Config};
use crate::lint::{self, Options};
use crate::{baseline, changed, discover, fix, report};
use clap::{Args, ValueEnum};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    Human,
    Json,
    Sarif,
    Github,
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
    /// A racelint.toml (default: found in the linted folder or its parents)
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Report only findings that are not in this baseline
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Record today's findings as the baseline
    #[arg(long, value_name = "FILE")]
    pub write_baseline: Option<PathBuf>,
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

pub fn run(args: CheckArgs) -> i32 {
    let config = match load_config(&args) {
        Ok(config) => config,
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
        config,
        exclude: args.exclude.clone(),
        jobs: args.jobs,
        schema: lint::SchemaSource::ProjectRoot,
        only,
        prefilter: !args.no_prefilter,
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
        let diff = fix::diff(&report, args.unsafe_fixes);
        print!("{diff}");
        return if diff.is_empty() {
            EXIT_CLEAN
        } else {
            EXIT_FINDINGS
        };
    }
    if args.fix {
        let outcome = fix::apply(&report, args.unsafe_fixes);
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
        if let Err(e) = baseline::write(path, &report.diagnostics) {
            eprintln!(
                "racelint: error: cannot write the baseline {}: {e}",
                path.display()
            );
            return EXIT_ERROR;
        }
        eprintln!(
            "racelint: recorded {} finding(s) in {}",
            report.diagnostics.len(),
            path.display()
        );
    }
    if let Some(path) = &args.baseline {
        match baseline::load(path) {
            Ok(known) => {
                report.diagnostics =
                    baseline::filter(std::mem::take(&mut report.diagnostics), &known)
            }
            // The message names the file and says whether it is missing or invalid.
            Err(e) => {
                eprintln!("racelint: error: {e}");
                return EXIT_ERROR;
            }
        }
    }
    let rendered = match args.format {
        CheckFormat::Human => report::human::render(
            &report,
            &report::human::Style::detect(std::io::stdout().is_terminal()),
        ),
        CheckFormat::Json => report::json::render(&report),
        CheckFormat::Sarif => report::sarif::render(&report, &lint::all_rule_meta()),
        CheckFormat::Github => report::github::render(&report),
    };
    let mut stdout = std::io::stdout().lock();
    // A closed pipe (`racelint check | head`) is not a lint failure.
    let _ = stdout
        .write_all(rendered.as_bytes())
        .and_then(|_| stdout.flush());
    eprint!("{}", report::human::error_lines(&report));
    if lint::fails(&report, &options.config) {
        EXIT_FINDINGS
    } else {
        EXIT_CLEAN
    }
}

/// The configuration: `--config`, else the nearest `racelint.toml`, else defaults;
/// then the command line on top.
fn load_config(args: &CheckArgs) -> Result<Config, i32> {
    let known: Vec<&str> = lint::all_rule_meta().iter().map(|m| m.id).collect();
    let found = args.config.clone().or_else(|| {
        let first = args
            .paths
            .first()
            .cloned()
            .unwrap_or_else(|| PathBuf::from("."));
        config::find_config(&discover::absolute(&first))
    });
    let mut config = match found {
        Some(path) => match config::load(&path, &known) {
            Ok(config) => config,
            Err(error) => {
                eprint!("{}", crate::report::human::config_error(error));
                return Err(EXIT_ERROR);
            }
        },
        None => Config::default(),
    };
    let select = split_list(&args.select);
    let ignore = split_list(&args.ignore);
    for id in select.iter().chain(&ignore) {
        if !known.contains(&id.as_str()) {
            eprintln!("racelint: error: unknown rule `{id}` (see `racelint rules`)");
            return Err(EXIT_ERROR);
        }
    }
    config.merge_cli((!select.is_empty()).then_some(select), ignore);
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
    Ok(config)
}
