//! The packages, for real: `scripts/package` builds the wheel (maturin from PyPI)
//! and the two npm tarballs from one binary; the wheel is installed into a fresh
//! virtualenv with no index, the tarballs into a scratch npm project with
//! `--offline`, and each install's `racelint` runs `--version` and finds races.
//! Each install prints the time from the install command to its first finding.
//!
//! Slow (maturin's venv on first use, then packing a 170 MB debug binary), so it
//! runs only with `RACELINT_SLOW_TESTS=1` (CI sets it). It packages the `dev`
//! profile, which `cargo test` has just built, so that CI compiles racelint
//! once; releases package the `dist` profile (`.github/workflows/release.yml`).

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

fn enabled() -> bool {
    if std::env::var_os("RACELINT_SLOW_TESTS").is_some_and(|v| v == "1") {
        true
    } else {
        eprintln!("skipped: set RACELINT_SLOW_TESTS=1 to build and install the packages");
        false
    }
}

fn manifest() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn run(command: &mut Command) -> Output {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(out.status.success(), "{command:?}\n{}", both(&out));
    out
}

fn python() -> &'static str {
    ["python3", "python"]
        .into_iter()
        .find(|p| Command::new(p).arg("--version").output().is_ok())
        .expect("Python 3 is needed to build and install the wheel")
}

/// `target/package-tools/venv/bin/maturin`, installed from PyPI on first use.
fn maturin() -> PathBuf {
    let venv = manifest().join("target/package-tools/venv");
    let exe = venv.join("bin/maturin");
    if !exe.is_file() {
        run(Command::new(python()).args(["-m", "venv"]).arg(&venv));
        run(Command::new(venv.join("bin/pip")).args([
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "maturin>=1.5,<2",
        ]));
    }
    exe
}

/// The wheel and the two npm tarballs `scripts/package` wrote.
struct Packages {
    wheel: PathBuf,
    tarballs: Vec<PathBuf>,
}

fn package(out: &Path) -> Packages {
    let started = Instant::now();
    let built = run(Command::new(manifest().join("scripts/package"))
        .args(["--profile", "dev", "--out"])
        .arg(out)
        .env("MATURIN", maturin()));
    eprintln!("scripts/package: {:.1}s", started.elapsed().as_secs_f64());
    let paths: Vec<PathBuf> = stdout(&built).lines().map(PathBuf::from).collect();
    let wheel = paths
        .iter()
        .find(|p| p.extension().is_some_and(|e| e == "whl"))
        .expect("a wheel")
        .clone();
    let tarballs: Vec<PathBuf> = paths
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "tgz"))
        .cloned()
        .collect();
    assert_eq!(tarballs.len(), 2, "{paths:?}");
    Packages { wheel, tarballs }
}

/// A scratch project with one racy Prisma file, its own project root.
fn racy_prisma_app(dir: &Path) {
    write(dir, "racelint.toml", "");
    write(dir, "src/invite.ts", GET_OR_CREATE);
}

fn assert_finds_the_race(out: &Output) {
    assert_eq!(out.status.code(), Some(1), "{}", both(out));
    assert!(
        stdout(out).contains("src/invite.ts:6:24: error[check-then-act]"),
        "{}",
        both(out)
    );
}

#[test]
fn the_wheel_and_the_npm_packages_install_and_find_races() {
    if !enabled() {
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    let packages = package(&scratch.path().join("out"));
    let version = format!("racelint {}\n", env!("CARGO_PKG_VERSION"));

    // pip: a fresh virtualenv, the wheel alone (no index), nothing else on PATH.
    let venv = scratch.path().join("venv");
    let started = Instant::now();
    run(Command::new(python()).args(["-m", "venv"]).arg(&venv));
    run(Command::new(venv.join("bin/pip"))
        .args([
            "install",
            "--quiet",
            "--no-index",
            "--disable-pip-version-check",
        ])
        .arg(&packages.wheel));
    let installed = venv.join("bin/racelint");
    let app = scratch.path().join("pip-app");
    racy_prisma_app(&app);
    let out = Command::new(&installed)
        .args(["check", "--format", "concise"])
        .current_dir(&app)
        .output()
        .unwrap();
    eprintln!(
        "pip: virtualenv + install + first finding: {:.1}s",
        started.elapsed().as_secs_f64()
    );
    assert_finds_the_race(&out);
    let out = run(Command::new(&installed).arg("--version"));
    assert_eq!(stdout(&out), version);
    let demo = Command::new(&installed)
        .args(["check", "--format", "json"])
        .arg(manifest().join("fixtures/demo"))
        .current_dir(scratch.path())
        .output()
        .unwrap();
    assert_eq!(demo.status.code(), Some(1), "{}", both(&demo));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&demo)).unwrap();
    assert!(
        doc["findings"].as_array().unwrap().len() >= 5,
        "the demo app's races: {doc:#}"
    );

    // npm: the launcher and this platform's package, from their tarballs only.
    let project = scratch.path().join("npm-app");
    racy_prisma_app(&project);
    write(
        &project,
        "package.json",
        "{ \"name\": \"scratch\", \"private\": true }\n",
    );
    let started = Instant::now();
    run(Command::new("npm")
        .args(["install", "--offline", "--no-audit", "--no-fund"])
        .args(&packages.tarballs)
        .current_dir(&project));
    let out = Command::new("npx")
        .args(["--offline", "racelint", "check", "--format", "concise"])
        .current_dir(&project)
        .output()
        .unwrap();
    eprintln!(
        "npm: install + first finding: {:.1}s",
        started.elapsed().as_secs_f64()
    );
    assert_finds_the_race(&out);
    let out = run(Command::new("npx")
        .args(["--offline", "racelint", "--version"])
        .current_dir(&project));
    assert_eq!(stdout(&out), version);
    // The launcher passes the exit code through: a usage error is 2.
    let out = Command::new("npx")
        .args(["--offline", "racelint", "check", "--select", "nope"])
        .current_dir(&project)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
}
