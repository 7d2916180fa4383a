//! `racelint schema`: the database schema racelint discovered under the project root.

use super::{Format, EXIT_CLEAN, EXIT_ERROR};
use crate::{config, discover, lint, schema};
use clap::Args;
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct SchemaArgs {
    /// A path inside the project (default: .); discovery starts at its project root
    #[arg(default_value = ".")]
    pub paths: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Also print what was skipped and where sources disagreed
    #[arg(long, short)]
    pub verbose: bool,
}

/// The `[schema] migrations` folders of the project's `racelint.toml` files.
fn migration_folders(paths: &[PathBuf], root: &Path) -> Result<schema::MigrationFolders, i32> {
    let known: Vec<&str> = lint::all_rule_meta().iter().map(|m| m.id).collect();
    let configs = config::Configs::for_run(None, paths, &known).map_err(|error| {
        eprint!("{}", crate::report::human::config_error(error));
        EXIT_ERROR
    })?;
    schema::MigrationFolders::new(&configs, root).map_err(|e| {
        eprintln!("racelint: error: {e}");
        EXIT_ERROR
    })
}

pub fn run(args: SchemaArgs) -> i32 {
    let first = args
        .paths
        .first()
        .cloned()
        .unwrap_or_else(|| PathBuf::from("."));
    let root = discover::project_root(&first);
    let migrations = match migration_folders(&args.paths, &root) {
        Ok(m) => m,
        Err(code) => return code,
    };
    // The parsers recurse; run them on the same big-stack workers as `check`.
    let found = match lint::thread_pool(0) {
        Ok(pool) => pool.install(|| schema::discover_with(&root, &migrations)),
        Err(fatal) => {
            eprintln!("racelint: error: {fatal}");
            return EXIT_ERROR;
        }
    };
    let mut found = found;
    let packages = std::mem::take(&mut found.packages);
    found
        .errors
        .extend(schema::Schemas::new(schema::Schema::default(), packages).all_conflicts(&root));
    match args.format {
        Format::Human => print!(
            "{}",
            schema::output::render_text(
                &found.schema,
                &found.databases,
                &root,
                &found.notes,
                args.verbose
            )
        ),
        Format::Json => {
            let text = serde_json::to_string_pretty(&schema::output::to_json(
                &found.schema,
                &found.databases,
                &root,
            ))
            .unwrap_or_default();
            println!("{text}");
        }
    }
    for error in &found.errors {
        match error.position {
            Some(p) => eprintln!(
                "racelint: {}: {}:{}:{}: {}",
                error.kind.as_str(),
                error.path,
                p.line,
                p.column,
                error.message
            ),
            None => eprintln!(
                "racelint: {}: {}: {}",
                error.kind.as_str(),
                error.path,
                error.message
            ),
        }
    }
    EXIT_CLEAN
}
