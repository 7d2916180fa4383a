//! The pre-commit hook, for real: pre-commit from PyPI, this repository's
//! `.pre-commit-hooks.yaml`, `language: rust` building racelint with
//! `cargo install`, on a scratch git repository with a racy Prisma file.
//!
//! Slow (a build of racelint, minutes on a cold cache), so it runs only when
//! `RACELINT_SLOW_TESTS=1` (CI sets it). Caches, all under `target/precommit/`:
//! the venv holding pre-commit, pre-commit's own store (`home/`) and the cargo
//! target dir the hook's `cargo install` builds in (`cargo/`), so a second run
//! reuses the compiled dependencies.
//!
//! pre-commit installs a hook from a *commit*: this test runs the hook of this
//! checkout's committed `HEAD` (`try-repo --ref HEAD-sha`, `rev: HEAD-sha`).
//! Uncommitted changes to the hook or to racelint are not seen; commit them
//! first. It works the same on a fresh clone (CI), which has a `HEAD`.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

fn cache() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/precommit")
}

/// `target/precommit/venv/bin/pre-commit`, installed from PyPI on first use.
fn pre_commit() -> PathBuf {
    let venv = cache().join("venv");
    let exe = venv.join("bin/pre-commit");
    if exe.is_file() {
        return exe;
    }
    let python = ["python3", "python"]
        .into_iter()
        .find(|p| Command::new(p).arg("--version").output().is_ok())
        .expect("Python 3 is needed to install pre-commit");
    let status = Command::new(python)
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .unwrap();
    assert!(status.success(), "python3 -m venv failed");
    let status = Command::new(venv.join("bin/pip"))
        .args([
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "pre-commit>=3.2,<5",
        ])
        .status()
        .unwrap();
    assert!(status.success(), "pip install pre-commit failed");
    exe
}

/// Runs pre-commit in `dir` with the caches above and an isolated git setup.
fn run_pre_commit(dir: &Path, args: &[&str]) -> Output {
    let started = Instant::now();
    let out = Command::new(pre_commit())
        .args(args)
        .current_dir(dir)
        .env("PRE_COMMIT_HOME", cache().join("home"))
        .env("CARGO_TARGET_DIR", cache().join("cargo"))
        // The hook's behaviour, not its speed, is under test: an unoptimised
        // build takes about half the time of a release one.
        .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "0")
        .env("CARGO_PROFILE_RELEASE_DEBUG", "false")
        .env("PRE_COMMIT_COLOR", "never")
        .env("NO_COLOR", "1")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE")
        .output()
        .expect("pre-commit runs");
    eprintln!(
        "pre-commit {}: {:.1}s",
        args[0],
        started.elapsed().as_secs_f64()
    );
    out
}

/// The README's `.pre-commit-config.yaml`, pointed at this checkout's HEAD.
fn readme_config(repo: &Path, sha: &str) -> String {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let section = readme
        .split("\n## pre-commit\n")
        .nth(1)
        .expect("README has a pre-commit section");
    let block = section
        .split("```yaml\n")
        .nth(1)
        .unwrap()
        .split("```")
        .next()
        .unwrap();
    assert!(block.contains("repo: https://github.com/racelint/racelint\n"));
    let rev = block
        .split("rev: ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .expect("the README's hook has a rev");
    assert_readme_rev_exists(rev);
    let config = block
        .replace(
            "https://github.com/racelint/racelint",
            &repo.display().to_string(),
        )
        .lines()
        .map(|l| match l.split_once("rev: ") {
            Some((indent, _)) => format!("{indent}rev: {sha}"),
            None => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert!(config.contains("id: racelint"), "{config}");
    config
}

/// A `rev` or `ref` the README gives must exist: a tag of this repository, or a
/// commit of its history (until a release is tagged).
fn assert_readme_rev_exists(rev: &str) {
    let this_repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let found = Command::new("git")
        .args(["cat-file", "-e", &format!("{rev}^{{commit}}")])
        .current_dir(this_repo)
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "the README's rev `{rev}` is no commit or tag of this repository"
    );
}

#[test]
fn the_readme_pins_a_rev_and_ref_that_exist() {
    let shallow = Command::new("git")
        .args(["rev-parse", "--is-shallow-repository"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output();
    match shallow {
        Ok(out) if out.status.success() && out.stdout.starts_with(b"false") => {}
        _ => {
            eprintln!("skipped: not a full git clone, the README's pins cannot be looked up");
            return;
        }
    }
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let mut pins = 0;
    for line in readme.lines() {
        let pin = line
            .trim()
            .strip_prefix("rev: ")
            .or_else(|| line.trim().strip_prefix("- uses: racelint/racelint@"))
            .and_then(|r| r.split_whitespace().next());
        if let Some(rev) = pin {
            assert_readme_rev_exists(rev);
            pins += 1;
        }
    }
    assert!(
        pins >= 3,
        "the README's pre-commit and action examples were not found"
    );
}

#[test]
fn the_pre_commit_hook_fails_on_a_race_and_passes_once_fixed() {
    if std::env::var("RACELINT_SLOW_TESTS").as_deref() != Ok("1") {
        eprintln!("skipped: set RACELINT_SLOW_TESTS=1 to run pre-commit for real");
        return;
    }
    let started = Instant::now();
    let this_repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let sha = git(this_repo, &["rev-parse", "HEAD"]).trim().to_string();
    std::fs::create_dir_all(cache()).unwrap();

    let scratch = repo(&[("src/invite.ts", GET_OR_CREATE)]);
    let dir = scratch.path();
    let repo_arg = this_repo.display().to_string();

    // 1. try-repo, as a hook author checks a hook.
    let out = run_pre_commit(
        dir,
        &[
            "try-repo",
            &repo_arg,
            "racelint",
            "--ref",
            &sha,
            "--files",
            "src/invite.ts",
        ],
    );
    let text = both(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("racelint"), "{text}");
    assert!(text.contains("Failed"), "{text}");
    assert!(text.contains("check-then-act"), "{text}");
    assert!(text.contains("src/invite.ts:6:"), "{text}");

    // 2. The README's configuration, as a user runs it.
    write(
        dir,
        ".pre-commit-config.yaml",
        &readme_config(this_repo, &sha),
    );
    let out = run_pre_commit(dir, &["run", "--files", "src/invite.ts"]);
    let text = both(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("check-then-act"), "{text}");

    // 3. Fixed with an upsert: the hook passes.
    write(dir, "src/invite.ts", UPSERT);
    let out = run_pre_commit(dir, &["run", "--all-files"]);
    let text = both(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("Passed"), "{text}");
    assert!(!text.contains("check-then-act"), "{text}");
    eprintln!(
        "pre-commit test total: {:.1}s",
        started.elapsed().as_secs_f64()
    );
}
