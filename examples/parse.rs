//! The raw-parse baseline of `scripts/bench`: finds the files `racelint check` would
//! (the same walk), reads each and parses it — TypeScript and Python with tree-sitter, Rust
//! with `syn::parse_file` — on N threads, and does nothing else. No prefilter, no
//! lowering, no rules: what parsing the whole tree costs, for racelint's time to be
//! compared with.
//!
//! ```text
//! cargo run --release --example parse -- [--jobs N] PATH...
//! ```
//!
//! Prints one line: `files F bytes B parse_errors E`.

use racelint::discover::{self, Language};
use racelint::frontend::typescript::parse_tree;
use rayon::prelude::*;
use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut jobs = 0;
    let mut paths = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--jobs" => match args.next().and_then(|n| n.parse().ok()) {
                Some(n) => jobs = n,
                None => return usage("--jobs needs a number"),
            },
            "-h" | "--help" => return usage(""),
            _ => paths.push(PathBuf::from(arg)),
        }
    }
    if paths.is_empty() {
        return usage("no path given");
    }
    let pool = match rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .stack_size(64 << 20)
        .build()
    {
        Ok(pool) => pool,
        Err(e) => return usage(&format!("cannot start threads: {e}")),
    };
    let threads = pool.current_num_threads();
    let found = match discover::discover(&paths, &[], &|_| true, threads) {
        Ok(found) => found,
        Err(e) => return usage(&e),
    };
    let (bytes, errors) = pool.install(|| {
        found
            .files
            .par_iter()
            .map(|path| {
                let Ok(text) = std::fs::read_to_string(path) else {
                    return (0, 1);
                };
                let parsed = match discover::language_of(path) {
                    Some(Language::TypeScript(dialect)) => parse_tree(&text, dialect).is_some(),
                    Some(Language::Rust) => syn::parse_file(&text).is_ok(),
                    Some(Language::Sql) => sqlparser::parser::Parser::parse_sql(
                        &sqlparser::dialect::PostgreSqlDialect {},
                        &text,
                    )
                    .is_ok(),
                    Some(Language::Python) => {
                        racelint::frontend::python::parse_tree(&text).is_some()
                    }
                    None => true,
                };
                (text.len(), usize::from(!parsed))
            })
            .reduce(|| (0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
    });
    println!(
        "files {} bytes {bytes} parse_errors {errors}",
        found.files.len()
    );
    ExitCode::SUCCESS
}

fn usage(problem: &str) -> ExitCode {
    if !problem.is_empty() {
        eprintln!("parse: {problem}");
    }
    eprintln!("usage: parse [--jobs N] PATH...");
    ExitCode::from(2)
}
