//! The command line: arguments → the subcommand's run → an exit code.
//! Exit codes (CONTRACT.md): 0 clean, 1 findings, 2 usage, configuration or internal error.

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

mod check;
mod explain;
mod model;
mod roles;
mod rules;
mod schema;
mod server;

pub const EXIT_CLEAN: i32 = 0;
pub const EXIT_FINDINGS: i32 = 1;
pub const EXIT_ERROR: i32 = 2;

#[derive(Parser, Debug)]
#[command(
    name = "racelint",
    version,
    about = "Finds the race conditions that lose data in database-backed TypeScript and Rust code"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Lint files and folders (default: the current folder)
    Check(check::CheckArgs),
    /// List every rule: id, default severity, summary
    Rules(rules::RulesArgs),
    /// Print the database schema racelint discovered (tables, keys, foreign keys)
    Schema(schema::SchemaArgs),
    /// Print each file's code role (production, test, script, migration, seed) and why
    Roles(roles::RolesArgs),
    /// Print a rule's documentation
    Explain {
        /// The rule id, e.g. check-then-act
        rule: String,
    },
    /// The Language Server Protocol over stdio, for editors
    Server,
    /// Print the effect model racelint lowered a file to (for debugging rules)
    #[command(hide = true)]
    Model { path: PathBuf },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Human,
    Json,
}

pub fn run(cli: Cli) -> i32 {
    match cli.command {
        Command::Check(args) => check::run(args),
        Command::Rules(args) => rules::run(args),
        Command::Schema(args) => schema::run(args),
        Command::Roles(args) => roles::run(args),
        Command::Explain { rule } => explain::run(&rule),
        Command::Model { path } => model::run(&path),
        Command::Server => server::run(),
    }
}

/// Splits `a,b` and repeated flags into one list.
pub fn split_list(values: &[String]) -> Vec<String> {
    values
        .iter()
        .flat_map(|v| v.split(','))
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}
