//! Large real code, parsed in full: the `.rs` sources of crates this build
//! downloaded, and TypeScript from an npm package when npm can fetch one. No
//! panic, no error but parse errors and size skips, and the throughput printed.
//!
//! Only with `RACELINT_SLOW_TESTS=1` (CI sets it); bounded to a few crates and
//! one package so it stays within a minute or two on a 2-core machine.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

fn enabled() -> bool {
    if std::env::var_os("RACELINT_SLOW_TESTS").is_some_and(|v| v == "1") {
        true
    } else {
        eprintln!("skipped: set RACELINT_SLOW_TESTS=1 to lint large real code");
        false
    }
}

/// Crates every build of racelint downloads, so they are there on CI.
const CRATES: &[&str] = &[
    "syn-2.",
    "sqlparser-",
    "serde_json-1.",
    "regex-automata-",
    "clap_builder-",
    "miette-",
    "rayon-core-",
    "ignore-",
];

fn registry_crates() -> Vec<PathBuf> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    let Some(src) = home.map(|h| h.join("registry/src")) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&src)
        .into_iter()
        .flatten()
        .flatten()
        .flat_map(|index| {
            std::fs::read_dir(index.path())
                .into_iter()
                .flatten()
                .flatten()
        })
        .map(|e| e.path())
        .collect();
    dirs.sort();
    CRATES
        .iter()
        .filter_map(|prefix| {
            dirs.iter()
                .rev()
                .find(|d| {
                    d.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with(prefix))
                })
                .cloned()
        })
        .collect()
}

fn bytes_of(paths: &[PathBuf], extensions: &[&str]) -> u64 {
    let mut total = 0;
    let mut stack: Vec<PathBuf> = paths.to_vec();
    while let Some(p) = stack.pop() {
        if p.is_dir() {
            stack.extend(std::fs::read_dir(&p).unwrap().flatten().map(|e| e.path()));
        } else if p
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| extensions.contains(&e))
        {
            total += p.metadata().map(|m| m.len()).unwrap_or(0);
        }
    }
    total
}

/// Lints `paths` with every file parsed; asserts robustness and prints throughput.
fn lint_everything(what: &str, paths: &[PathBuf], extensions: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("racelint.toml"), "").unwrap();
    let mut args: Vec<String> = ["check", "--format", "json", "--no-prefilter", "--jobs", "2"]
        .map(String::from)
        .to_vec();
    args.extend(paths.iter().map(|p| p.display().to_string()));
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_racelint"))
        .args(&args)
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let elapsed = started.elapsed();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{what}: {err}");
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{what}: exit {:?}: {err}",
        out.status
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let errors = doc["errors"].as_array().unwrap();
    for error in errors {
        let kind = error["kind"].as_str().unwrap();
        assert!(
            kind == "parse-error" || kind == "skipped",
            "{what}: unexpected error {error}"
        );
    }
    let files = doc["summary"]["files"].as_u64().unwrap();
    let bytes = bytes_of(paths, extensions);
    let bounded: Vec<&serde_json::Value> = errors
        .iter()
        .filter(|e| e["message"].as_str().is_some_and(|m| m.contains("safely")))
        .collect();
    eprintln!(
        "{what}: {files} files, {:.1} MB in {elapsed:.2?} ({:.1} MB/s, debug build), {} findings, {} errors ({} over the nesting bounds)",
        bytes as f64 / 1e6,
        bytes as f64 / 1e6 / elapsed.as_secs_f64(),
        doc["findings"].as_array().unwrap().len(),
        errors.len(),
        bounded.len()
    );
    // The nesting bounds are for hostile input, not for code people write.
    assert!(
        bounded.is_empty(),
        "{what}: real code hit a bound: {bounded:#?}"
    );
    assert!(files > 0, "{what}: nothing linted");
}

#[test]
fn registry_crates_lint_without_trouble() {
    if !enabled() {
        return;
    }
    let crates = registry_crates();
    if crates.len() < 3 {
        eprintln!("skipped: too few crates under ~/.cargo/registry/src ({crates:?})");
        return;
    }
    lint_everything("crates", &crates, &["rs"]);
}

fn npm_package(dir: &Path, spec: &str) -> Option<PathBuf> {
    let packed = Command::new("npm")
        .args(["pack", spec, "--silent"])
        .current_dir(dir)
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    let tarball = String::from_utf8_lossy(&packed.stdout)
        .trim()
        .lines()
        .last()?
        .to_string();
    let untar = Command::new("tar")
        .args(["xzf", &tarball])
        .current_dir(dir)
        .status()
        .ok()?;
    untar.success().then(|| dir.join("package"))
}

#[test]
fn an_npm_package_lints_without_trouble() {
    if !enabled() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Some(package) = npm_package(dir.path(), "zod@3.23.8") else {
        eprintln!("skipped: npm could not fetch zod (offline or no npm)");
        return;
    };
    lint_everything(
        "zod",
        &[package],
        &["ts", "tsx", "js", "mjs", "cjs", "mts", "cts"],
    );
}
