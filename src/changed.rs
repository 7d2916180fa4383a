//! `check --changed-since REF`: the files changed since a git ref, so that a pull
//! request's CI job or a pre-push hook lints only what it touches.
//!
//! "Changed" is what a reviewer would call the change: the commits on this branch
//! since it left `REF` (`git diff REF...HEAD`, i.e. against their merge base, so
//! commits that landed on `REF` meanwhile do not count), plus what is not committed
//! yet (staged and unstaged edits against `HEAD`) and untracked files that are not
//! ignored. Deleted files drop out. git runs as a subprocess, in the project root;
//! racelint links no git library and reads nothing but the file names git prints.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The absolute, canonical paths of the files changed since `git_ref`, for the
/// repository holding `root`. The error is a sentence for exit code 2.
pub fn changed_files(root: &Path, git_ref: &str) -> Result<BTreeSet<PathBuf>, String> {
    let toplevel = git(root, &["rev-parse", "--show-toplevel"]).map_err(|e| match e {
        GitError::Spawn(e) => format!("--changed-since needs git, which cannot be run: {e}"),
        GitError::Failed(_) => format!(
            "--changed-since needs a git repository, and {} is not in one",
            root.display()
        ),
    })?;
    let toplevel = PathBuf::from(toplevel.trim_end_matches(['\n', '\r']));
    // `--end-of-options` keeps a ref such as `--output=x` from being read as an option.
    let commit = format!("{git_ref}^{{commit}}");
    if git(
        &toplevel,
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            "--end-of-options",
            &commit,
        ],
    )
    .is_err()
    {
        return Err(format!(
            "--changed-since: `{git_ref}` is not a commit, branch or tag in {}",
            toplevel.display()
        ));
    }
    let range = format!("{git_ref}...HEAD");
    let listings = [
        // The branch's own commits since it left the ref.
        vec!["diff", "--name-only", "-z", "--no-renames", &range, "--"],
        // Staged and unstaged edits to tracked files.
        vec!["diff", "--name-only", "-z", "--no-renames", "HEAD", "--"],
        // New files not yet added (and not ignored).
        vec![
            "ls-files",
            "-z",
            "--others",
            "--exclude-standard",
            "--full-name",
        ],
    ];
    // With `-z` git prints paths as stored, neither quoted nor escaped.
    let mut files = BTreeSet::new();
    for args in listings {
        let out = git(&toplevel, &args).map_err(|e| match e {
            GitError::Spawn(e) => format!("cannot run git: {e}"),
            GitError::Failed(stderr) => format!(
                "--changed-since {git_ref}: `git {}` failed: {}",
                args.join(" "),
                stderr.trim()
            ),
        })?;
        for name in out.split('\0').filter(|n| !n.is_empty()) {
            let path = toplevel.join(name);
            // Deleted files have nothing to lint.
            if let Ok(path) = path.canonicalize() {
                files.insert(path);
            }
        }
    }
    Ok(files)
}

enum GitError {
    Spawn(std::io::Error),
    /// git ran and failed; its stderr.
    Failed(String),
}

fn git(dir: &Path, args: &[&str]) -> Result<String, GitError> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(GitError::Spawn)?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(GitError::Failed(
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ))
    }
}
