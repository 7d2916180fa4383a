//! Which files to lint: a .gitignore-aware parallel walk, and language by extension.
//!
//! Folders given on the command line are walked honouring `.gitignore` (inside a
//! repository or not), skipping dependency and build output; files given on the
//! command line are always linted, as pre-commit expects. Symbolic links are not
//! followed, so a link loop cannot trap the walk.

use crate::diagnostic::{ErrorKind, RunError};
use crate::frontend::typescript::Dialect;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Language {
    TypeScript(Dialect),
    Rust,
    /// `.sql`: the bodies of `CREATE FUNCTION … LANGUAGE plpgsql|sql`.
    Sql,
    Python,
}

/// Folders that hold dependencies or generated output, never the app's own code.
pub(crate) const SKIPPED_DIRS: &[&str] = &[
    "node_modules",
    "target",
    "dist",
    "build",
    ".next",
    ".git",
    ".turbo",
    ".svelte-kit",
    ".nuxt",
    "coverage",
    "out",
];

pub fn language_of(path: &Path) -> Option<Language> {
    let name = path.file_name()?.to_str()?;
    let extension = path.extension()?.to_str()?;
    match extension {
        "ts" | "mts" | "cts"
            if !name.ends_with(".d.ts")
                && !name.ends_with(".d.mts")
                && !name.ends_with(".d.cts") =>
        {
            Some(Language::TypeScript(Dialect::TypeScript))
        }
        "js" | "mjs" | "cjs" if !name.ends_with(".min.js") => {
            Some(Language::TypeScript(Dialect::TypeScript))
        }
        "tsx" | "jsx" => Some(Language::TypeScript(Dialect::Tsx)),
        "rs" => Some(Language::Rust),
        "py" => Some(Language::Python),
        // Rollbacks (`down.sql`) restore what an earlier migration had: not code that runs.
        "sql" if name != "down.sql" && !name.ends_with(".down.sql") => Some(Language::Sql),
        _ => None,
    }
}

pub struct Discovered {
    /// Sorted and without duplicates.
    pub files: Vec<PathBuf>,
    pub errors: Vec<RunError>,
}

/// Finds the files to lint under `paths`. A path that does not exist is a usage
/// error (`Err`); an unreadable folder inside the walk is reported and skipped.
pub fn discover(
    paths: &[PathBuf],
    excludes: &[String],
    keep: &(dyn Fn(&Path) -> bool + Sync),
    threads: usize,
) -> Result<Discovered, String> {
    check_paths(paths)?;
    let found = Mutex::new(Vec::new());
    let errors = walk(paths, excludes, keep, threads, &|path| {
        found.lock().unwrap_or_else(|e| e.into_inner()).push(path);
    })?;
    let mut files = found.into_inner().unwrap_or_else(|e| e.into_inner());
    files.sort();
    files.dedup();
    Ok(Discovered { files, errors })
}

/// Every path named on the command line must exist: anything else is a usage error,
/// found before any work starts.
pub fn check_paths(paths: &[PathBuf]) -> Result<(), String> {
    for path in paths {
        std::fs::metadata(path).map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
    }
    Ok(())
}

/// Walks `paths` and hands each file to lint to `found`, from the walker's threads,
/// as it is found (in no particular order; a file named twice comes twice), so
/// that linting can start before the walk ends. Returns the folders it could not
/// read, sorted.
pub fn walk(
    paths: &[PathBuf],
    excludes: &[String],
    keep: &(dyn Fn(&Path) -> bool + Sync),
    threads: usize,
    found: &(dyn Fn(PathBuf) + Sync),
) -> Result<Vec<RunError>, String> {
    let errors = Mutex::new(Vec::new());
    for path in paths {
        let metadata = std::fs::metadata(path)
            .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
        if metadata.is_file() {
            if language_of(path).is_some() {
                found(path.clone());
            }
            continue;
        }
        let mut overrides = ignore::overrides::OverrideBuilder::new(path);
        for glob in excludes {
            overrides
                .add(&format!("!{glob}"))
                .map_err(|e| format!("invalid --exclude glob `{glob}`: {e}"))?;
        }
        let overrides = overrides
            .build()
            .map_err(|e| format!("invalid --exclude: {e}"))?;
        let walker = ignore::WalkBuilder::new(path)
            .hidden(true)
            .require_git(false)
            .follow_links(false)
            .overrides(overrides)
            .threads(threads.max(1))
            .filter_entry(|entry| {
                let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
                !(is_dir
                    && entry.depth() > 0
                    && entry
                        .file_name()
                        .to_str()
                        .is_some_and(|n| SKIPPED_DIRS.contains(&n)))
            })
            .build_parallel();
        walker.run(|| {
            Box::new(|entry| {
                match entry {
                    Ok(entry) => {
                        if entry.file_type().is_some_and(|t| t.is_file())
                            && language_of(entry.path()).is_some()
                            && keep(entry.path())
                        {
                            found(entry.into_path());
                        }
                    }
                    Err(error) => errors
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(walk_error(&error)),
                }
                ignore::WalkState::Continue
            })
        });
    }
    let mut errors = errors.into_inner().unwrap_or_else(|e| e.into_inner());
    errors.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(errors)
}

fn walk_error(error: &ignore::Error) -> RunError {
    /// The path the error is about, and the error without it (its text would
    /// repeat the path the report already shows).
    fn parts(error: &ignore::Error) -> (Option<&Path>, &ignore::Error) {
        match error {
            ignore::Error::WithPath { path, err } => (Some(path), parts(err).1),
            ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
                parts(err)
            }
            ignore::Error::Loop { child, .. } => (Some(child), error),
            _ => (None, error),
        }
    }
    let (path, inner) = parts(error);
    let message = match inner {
        ignore::Error::Io(e) => format!("cannot read: {e}"),
        other => other.to_string(),
    };
    RunError {
        kind: ErrorKind::ReadError,
        path: path.map(display_path).unwrap_or_default(),
        message,
        position: None,
    }
}

/// The current directory, normalized, asked of the system once: racelint never
/// changes directory, and paths are made absolute for every file of a run.
fn current_dir() -> Option<&'static Path> {
    static CWD: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    CWD.get_or_init(|| std::env::current_dir().ok().map(|d| normalize(&d)))
        .as_deref()
}

/// The path made absolute against the current directory, without `.` and `..`.
pub fn absolute(path: &Path) -> PathBuf {
    match current_dir() {
        Some(cwd) if !path.is_absolute() => normalize(&cwd.join(path)),
        _ => normalize(path),
    }
}

/// A path relative to the current directory when below it, else absolute.
pub fn display_path(path: &Path) -> String {
    let absolute = absolute(path);
    let shown = current_dir()
        .and_then(|cwd| absolute.strip_prefix(cwd).ok())
        .unwrap_or(&absolute);
    shown.to_string_lossy().replace('\\', "/")
}

/// Removes `.` and `..` components without touching the file system.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// The project root, whose files and schema sources make the project: walking up
/// from `path` to the repository root (the nearest folder holding `.git`), the
/// outermost folder holding a `racelint.toml`, else the repository root, else the
/// current directory. A `racelint.toml` inside another one's folder configures
/// part of that project (a monorepo's package), it does not cut it off.
pub fn project_root(path: &Path) -> PathBuf {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let start = normalize(&cwd.join(path));
    let start = if start.is_file() {
        start.parent().map(Path::to_path_buf).unwrap_or(start)
    } else {
        start
    };
    let mut configured = None;
    for dir in start.ancestors() {
        if dir.join("racelint.toml").is_file() {
            configured = Some(dir);
        }
        if dir.join(".git").exists() {
            return configured.unwrap_or(dir).to_path_buf();
        }
    }
    configured.map(Path::to_path_buf).unwrap_or(cwd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nested_config_does_not_cut_the_project_off() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().canonicalize().unwrap();
        let web = repo.join("apps/web/src");
        std::fs::create_dir_all(&web).unwrap();
        std::fs::create_dir(repo.join(".git")).unwrap();
        std::fs::write(repo.join("apps/web/racelint.toml"), "").unwrap();
        // Only the package has one: it is a project of its own, as before.
        assert_eq!(project_root(&web), repo.join("apps/web"));
        // With one at the root, the package's configures part of the project.
        std::fs::write(repo.join("racelint.toml"), "").unwrap();
        assert_eq!(project_root(&web), repo);
        std::fs::remove_file(repo.join("racelint.toml")).unwrap();
        std::fs::remove_file(repo.join("apps/web/racelint.toml")).unwrap();
        assert_eq!(project_root(&web), repo, "the repository root");
    }

    #[test]
    fn languages_by_extension() {
        assert_eq!(
            language_of(Path::new("a/b.ts")),
            Some(Language::TypeScript(Dialect::TypeScript))
        );
        assert_eq!(
            language_of(Path::new("a/b.tsx")),
            Some(Language::TypeScript(Dialect::Tsx))
        );
        assert_eq!(
            language_of(Path::new("a/b.jsx")),
            Some(Language::TypeScript(Dialect::Tsx))
        );
        assert_eq!(
            language_of(Path::new("a/b.cjs")),
            Some(Language::TypeScript(Dialect::TypeScript))
        );
        assert_eq!(language_of(Path::new("a/b.d.ts")), None);
        assert_eq!(language_of(Path::new("a/b.rs")), Some(Language::Rust));
        assert_eq!(language_of(Path::new("a/b.py")), Some(Language::Python));
        assert_eq!(language_of(Path::new("a/b.go")), None);
        assert_eq!(
            language_of(Path::new("supabase/migrations/1_init.sql")),
            Some(Language::Sql)
        );
        assert_eq!(language_of(Path::new("migrations/2020_x/down.sql")), None);
        assert_eq!(language_of(Path::new("Makefile")), None);
    }
}
