//! The findings for a file do not depend on which other files are named: every
//! fixture project (a folder holding a `racelint.toml`) is linted whole, then file
//! by file as pre-commit does, and each file must get the same findings — rule,
//! place, message, related places and fingerprint — both ways.

use racelint::diagnostic::Diagnostic;
use racelint::lint::{self, Options, SchemaSource};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn projects(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if path.join("racelint.toml").is_file() {
                out.push(path);
            } else {
                projects(&path, out);
            }
        }
    }
}

fn code_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            code_files(&path, out);
        } else if racelint::discover::language_of(&path).is_some() {
            out.push(path);
        }
    }
}

type Seen = Vec<(String, u32, u32, String, Vec<(u32, String)>, String)>;

fn by_file(diagnostics: Vec<Diagnostic>) -> BTreeMap<String, Seen> {
    let mut out: BTreeMap<String, Seen> = BTreeMap::new();
    for d in diagnostics {
        out.entry(d.location.path.clone()).or_default().push((
            d.rule.to_string(),
            d.location.start.line,
            d.location.start.column,
            d.message.clone(),
            d.related
                .iter()
                .map(|r| (r.location.start.line, r.message.clone()))
                .collect(),
            d.fingerprint.clone(),
        ));
    }
    out
}

fn lint(paths: Vec<PathBuf>, project: &Path) -> Vec<Diagnostic> {
    let options = Options {
        paths,
        jobs: 1,
        schema: SchemaSource::Folder(project.to_path_buf()),
        ..Options::default()
    };
    lint::check(&options).expect("lint runs").diagnostics
}

#[test]
fn each_file_gets_the_same_findings_alone_as_in_its_whole_project() {
    let mut folders = Vec::new();
    projects(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures")
            .as_path(),
        &mut folders,
    );
    folders.sort();
    assert!(folders.len() >= 10, "fixture projects: {folders:?}");
    for folder in &folders {
        let whole = by_file(lint(vec![folder.clone()], folder));
        let mut files = Vec::new();
        code_files(folder, &mut files);
        files.sort();
        for file in &files {
            let alone = by_file(lint(vec![file.clone()], folder));
            let path = racelint::discover::display_path(file);
            let expected = whole.get(&path).cloned().unwrap_or_default();
            let got = alone.get(&path).cloned().unwrap_or_default();
            assert_eq!(
                got, expected,
                "{path}: findings alone (left) differ from the whole project's (right)"
            );
        }
    }
}

/// The route decides and a service in another file inserts: linted alone, the
/// route still sees the insert, through a tsconfig path and a barrel.
#[test]
fn a_file_linted_alone_sees_the_functions_it_calls_in_other_files() {
    let project = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/check-then-act/prisma-cross-file-service");
    let route = project.join("src/app/api/invites/route.ts");
    let found = lint(vec![route], &project);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].rule, "check-then-act");
    assert!(
        found[0].message.contains("`invite` is inserted"),
        "{}",
        found[0].message
    );
}
