//! `racelint check`: lint, report, and exit 0, 1 or 2.

use super::{split_list, Format, EXIT_CLEAN, EXIT_ERROR, EXIT_FINDINGS};
use crate::diagnostic::Severity;
use crate::lint::{self, Options};
use crate::report;
use crate::schema::Schema;
use clap::Args;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Files and folders to lint
    #[arg(default_value = ".")]
    pub paths: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Run only these rules (comma-separated or repeated)
    #[arg(long, value_name = "RULE,...")]
    pub select: Vec<String>,
    /// Skip these rules
    #[arg(long, value_name = "RULE,...")]
    pub ignore: Vec<String>,
    /// Worker threads (default: all cores)
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub jobs: usize,
    /// Skip paths matching this glob, on top of .gitignore (repeatable)
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,
    /// Files larger than this many bytes are skipped with a note
    #[arg(long, value_name = "BYTES", default_value_t = lint::DEFAULT_MAX_FILE_SIZE)]
    pub max_file_size: u64,
}

pub fn run(args: CheckArgs) -> i32 {
    let options = Options {
        paths: args.paths,
        select: split_list(&args.select),
        ignore: split_list(&args.ignore),
        exclude: args.exclude,
        jobs: args.jobs,
        max_file_size: args.max_file_size,
    };
    let schema = Schema::default();
    let report = match lint::check(&options, &schema) {
        Ok(report) => report,
        Err(fatal) => {
            eprintln!("racelint: error: {fatal}");
            return EXIT_ERROR;
        }
    };
    let rendered = match args.format {
        Format::Human => report::human::render(
            &report,
            &report::human::Style::detect(std::io::stdout().is_terminal()),
        ),
        Format::Json => report::json::render(&report),
    };
    let mut stdout = std::io::stdout().lock();
    if stdout
        .write_all(rendered.as_bytes())
        .and_then(|_| stdout.flush())
        .is_err()
    {
        // A closed pipe (`racelint check | head`) is not a lint failure.
    }
    eprint!("{}", report::human::error_lines(&report));
    if lint::fails(&report, Severity::Warning) {
        EXIT_FINDINGS
    } else {
        EXIT_CLEAN
    }
}
