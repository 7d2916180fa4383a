//! `.racelint_cache/`: a run reads unchanged files' models from it, and what it
//! reports never depends on it. Fixture projects are copied to scratch folders
//! and linted cold (no cache yet), warm (every file cached), with `--no-cache`,
//! and with every entry damaged; the JSON must be the same each time.

mod common;

use common::{both, racelint, stderr, stdout};
use std::fs;
use std::path::{Path, PathBuf};

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        // Other tests' runs inside the fixture leave its cache there.
        if path.file_name().is_some_and(|n| n == ".racelint_cache") {
            continue;
        }
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_tree(&path, &target);
        } else {
            fs::copy(&path, &target).unwrap();
        }
    }
}

/// A fixture project in a scratch folder of its own (its `racelint.toml` makes
/// it the project root).
fn scratch(fixture: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures")
            .join(fixture),
        dir.path(),
    );
    dir
}

/// The JSON report without its timing.
fn report(dir: &Path, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["check", ".", "--format", "json"];
    args.extend_from_slice(extra);
    let out = racelint(dir, &args);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "racelint failed: {}",
        both(&out)
    );
    let mut value: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    strip_timing(&mut value);
    value
}

fn strip_timing(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            map.remove("elapsed_ms");
            map.values_mut().for_each(strip_timing);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(strip_timing),
        _ => {}
    }
}

fn entries(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = fs::read_dir(dir.join(".racelint_cache/entries"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    out.sort();
    out
}

fn findings(report: &serde_json::Value) -> usize {
    report["findings"].as_array().map_or(0, Vec::len)
}

/// TypeScript, Rust, Python, schema declared in code (Drizzle) and in Prisma.
const PROJECTS: &[&str] = &[
    "demo",
    "check-then-act/sqlx-cross-file-repository",
    "fk-delete-order/sqlalchemy-async-delete-board",
    "fk-delete-order/drizzle-project",
];

#[test]
fn findings_are_the_same_cold_warm_and_without_the_cache() {
    for project in PROJECTS {
        let dir = scratch(project);
        let uncached = report(dir.path(), &["--no-cache"]);
        assert!(
            !dir.path().join(".racelint_cache").exists(),
            "--no-cache writes no cache"
        );
        assert!(findings(&uncached) > 0, "{project} has findings to compare");
        let cold = report(dir.path(), &[]);
        let written = entries(dir.path());
        assert!(!written.is_empty(), "{project}: the cold run wrote entries");
        let warm = report(dir.path(), &[]);
        assert_eq!(cold, uncached, "{project}: cold run");
        assert_eq!(warm, uncached, "{project}: warm run");
        assert_eq!(entries(dir.path()), written, "{project}: same entries");
        // One file linted alone, the rest from the cache.
        let file = uncached["findings"][0]["path"]
            .as_str()
            .unwrap()
            .to_string();
        let alone = |extra: &[&str]| {
            let mut args = vec!["check", file.as_str(), "--format", "json"];
            args.extend_from_slice(extra);
            let mut value: serde_json::Value =
                serde_json::from_str(&stdout(&racelint(dir.path(), &args))).unwrap();
            strip_timing(&mut value);
            value
        };
        assert_eq!(
            alone(&[]),
            alone(&["--no-cache"]),
            "{project}: {file} alone"
        );
    }
}

#[test]
fn a_damaged_entry_is_lowered_again_never_trusted() {
    for project in PROJECTS {
        let dir = scratch(project);
        let expected = report(dir.path(), &["--no-cache"]);
        report(dir.path(), &[]);
        let written = entries(dir.path());
        // Truncated, garbled in the middle, emptied, and (the last) another
        // file's whole entry: the key it carries is not this file's.
        for (i, entry) in written.iter().enumerate() {
            let mut bytes = fs::read(entry).unwrap();
            match i % 3 {
                0 => bytes.truncate(bytes.len() / 2),
                1 => {
                    let middle = bytes.len() / 2;
                    bytes[middle] ^= 0xff;
                }
                _ => bytes.clear(),
            }
            fs::write(entry, bytes).unwrap();
        }
        if let [first, .., last] = written.as_slice() {
            fs::copy(first, last).unwrap();
        }
        assert_eq!(report(dir.path(), &[]), expected, "{project}: damaged");
        // The damaged entries were replaced: this run reads them.
        assert_eq!(report(dir.path(), &[]), expected, "{project}: rewritten");
    }
}

#[test]
fn an_edited_file_is_lowered_again() {
    let dir = scratch("fk-delete-order/drizzle-project");
    let before = report(dir.path(), &[]);
    let file = before["findings"][0]["path"].as_str().unwrap().to_string();
    let path = dir.path().join(&file);
    // Emptied, the file must lose its findings, whatever its entry said.
    fs::write(&path, "export const nothing = 1;\n").unwrap();
    let after = report(dir.path(), &[]);
    assert_eq!(after, report(dir.path(), &["--no-cache"]));
    let in_file = |r: &serde_json::Value| {
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["path"] == file.as_str())
            .count()
    };
    assert!(in_file(&before) > 0);
    assert_eq!(in_file(&after), 0);
}

#[test]
fn a_changed_configuration_is_not_served_from_the_cache() {
    // `store` is a Prisma client only once the configuration says so.
    let dir = common::project(&[(
        "src/invites.ts",
        "import { store } from \"./store\";\n\
         export async function acceptInvite(email: string, teamId: string) {\n\
         \x20 const existing = await store.invite.findFirst({ where: { email, teamId } });\n\
         \x20 if (existing) return existing;\n\
         \x20 return store.invite.create({ data: { email, teamId } });\n\
         }\n",
    )]);
    let plain = report(dir.path(), &[]);
    fs::write(
        dir.path().join("racelint.toml"),
        "[clients]\nprisma = [\"store\"]\n",
    )
    .unwrap();
    let configured = report(dir.path(), &[]);
    assert_eq!(configured, report(dir.path(), &["--no-cache"]));
    assert_ne!(findings(&plain), findings(&configured), "{configured:#}");
}

#[test]
fn without_a_writable_cache_folder_the_run_goes_on_with_one_warning() {
    let dir = scratch("demo");
    let expected = report(dir.path(), &["--no-cache"]);
    // A file where the folder should be: nothing can be created there (root
    // ignores permission bits, so a read-only folder would not do).
    fs::write(dir.path().join(".racelint_cache"), "not a folder").unwrap();
    let out = racelint(dir.path(), &["check", ".", "--format", "json"]);
    let mut value: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    strip_timing(&mut value);
    assert_eq!(value, expected);
    assert_eq!(
        stderr(&out)
            .matches("warning: cannot use the cache")
            .count(),
        1,
        "{}",
        both(&out)
    );
    let env_off = std::process::Command::new(env!("CARGO_BIN_EXE_racelint"))
        .args(["check", ".", "--format", "json"])
        .current_dir(dir.path())
        .env("RACELINT_NO_CACHE", "1")
        .output()
        .unwrap();
    assert!(
        !stderr(&env_off).contains("cache"),
        "RACELINT_NO_CACHE=1 does not try: {}",
        both(&env_off)
    );
}
