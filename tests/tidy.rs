//! The layout's invariants, checked on the source itself (rust-analyzer's "tidy"):
//! rules know no syntax tree and no client's spelling, frontends know no rule, only
//! `report/` renders, and every source file says what it owns.

use std::path::{Path, PathBuf};

fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The file's code, without comment lines.
fn code(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn rules_know_no_syntax_and_no_client() {
    const FORBIDDEN: &[&str] = &[
        "tree_sitter",
        "syn::",
        "proc_macro2",
        "frontend::typescript",
        "frontend::rust",
        "Client::",
        "prisma",
        "drizzle",
        "sequelize",
        "typeorm",
        "knex",
        "kysely",
        "supabase",
        "sqlx",
        "diesel",
        "sea_orm",
        "tokio_postgres",
    ];
    for file in sources(&src().join("rules")) {
        let code = code(&file).to_lowercase();
        for word in FORBIDDEN {
            assert!(
                !code.contains(&word.to_lowercase()),
                "{} names `{word}`",
                file.display()
            );
        }
    }
}

#[test]
fn frontends_know_no_rule() {
    for file in sources(&src().join("frontend")) {
        assert!(
            !code(&file).contains("crate::rules"),
            "{} uses the rules",
            file.display()
        );
    }
}

#[test]
fn only_report_renders() {
    for file in sources(&src()) {
        let shown = file.strip_prefix(src()).unwrap().display().to_string();
        if shown.starts_with("report") {
            continue;
        }
        let code = code(&file);
        for word in ["GraphicalReportHandler", "miette::Report"] {
            assert!(
                !code.contains(word),
                "{shown} renders with `{word}`; rendering belongs in report/"
            );
        }
    }
}

#[test]
fn every_source_file_says_what_it_owns() {
    for file in sources(&src()) {
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(
            text.starts_with("//!"),
            "{} does not open with a `//!` comment",
            file.display()
        );
    }
}
