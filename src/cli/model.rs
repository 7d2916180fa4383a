//! `racelint model FILE` (hidden): the lowered effect model as JSON, for people
//! writing rules and fixtures.

use super::{EXIT_CLEAN, EXIT_ERROR};
use crate::discover::{language_of, Language};
use crate::frontend::typescript::{self, clients::FileHints};
use std::path::Path;

pub fn run(path: &Path) -> i32 {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("racelint: error: cannot read `{}`: {e}", path.display());
            return EXIT_ERROR;
        }
    };
    let model = match language_of(path) {
        Some(Language::TypeScript(dialect)) => {
            typescript::parse(&text, dialect, &FileHints::of(&text)).model
        }
        Some(Language::Rust) => match crate::frontend::rust::lower(&text) {
            Ok(model) => model,
            Err(e) => {
                let shown = path.display();
                eprintln!(
                    "racelint: parse-error: {shown}:{}:{}: {}",
                    e.line, e.column, e.message
                );
                return EXIT_ERROR;
            }
        },
        Some(Language::Sql) => crate::frontend::plpgsql::parse(&text).model,
        Some(Language::Python) => crate::frontend::python::parse(&text).model,
        None => {
            eprintln!("racelint: error: no frontend for `{}`", path.display());
            return EXIT_ERROR;
        }
    };
    println!(
        "{}",
        serde_json::to_string_pretty(&model).unwrap_or_default()
    );
    EXIT_CLEAN
}
