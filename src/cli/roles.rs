//! `racelint roles`: each file's code role (production, test, script, migration,
//! seed) and why, as `check` decides it.

use super::{Format, EXIT_CLEAN, EXIT_ERROR};
use crate::config::Configs;
use crate::roles::Roles;
use crate::{discover, lint};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct RolesArgs {
    /// Files and folders (default: .)
    #[arg(default_value = ".")]
    pub paths: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// A racelint.toml for every file (default: each file's nearest racelint.toml)
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

pub fn run(args: RolesArgs) -> i32 {
    let first = args
        .paths
        .first()
        .cloned()
        .unwrap_or_else(|| PathBuf::from("."));
    let known: Vec<&str> = lint::all_rule_meta().iter().map(|m| m.id).collect();
    let configs = match Configs::for_run(args.config.as_deref(), &args.paths, &known) {
        Ok(configs) => configs,
        Err(error) => {
            eprint!("{}", crate::report::human::config_error(error));
            return EXIT_ERROR;
        }
    };
    let roles = match Roles::new(&discover::project_root(&first), &configs) {
        Ok(roles) => roles,
        Err(message) => {
            eprintln!("racelint: error: {message}");
            return EXIT_ERROR;
        }
    };
    let found = match discover::discover(&args.paths, &[], &|_| true, 0) {
        Ok(found) => found,
        Err(message) => {
            eprintln!("racelint: error: {message}");
            return EXIT_ERROR;
        }
    };
    let rows: Vec<(String, crate::roles::Assigned)> = found
        .files
        .iter()
        .map(|path| {
            // A file that cannot be read is judged by its path alone.
            let text = std::fs::read_to_string(path).unwrap_or_default();
            (discover::display_path(path), roles.of_file(path, &text))
        })
        .collect();
    match args.format {
        Format::Human => {
            let width = rows.iter().map(|(p, _)| p.len()).max().unwrap_or(0);
            for (path, assigned) in &rows {
                println!(
                    "{path:width$}  {:10}  {}",
                    assigned.role.as_str(),
                    assigned.reason
                );
            }
        }
        Format::Json => {
            let files: Vec<serde_json::Value> = rows
                .iter()
                .map(|(path, a)| {
                    serde_json::json!({ "path": path, "role": a.role, "reason": a.reason })
                })
                .collect();
            let document = serde_json::json!({ "version": 1, "files": files });
            println!(
                "{}",
                serde_json::to_string_pretty(&document).unwrap_or_default()
            );
        }
    }
    for error in &found.errors {
        eprintln!(
            "racelint: {}: {}: {}",
            error.kind.as_str(),
            error.path,
            error.message
        );
    }
    EXIT_CLEAN
}
