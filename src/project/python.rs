//! Python calls across files: a name a file imports is followed to the module
//! it comes from, then through that module's own imports (a package's
//! `__init__.py` re-exporting `from .users import create_user`), star imports
//! and submodules, to the function or method it names.
//!
//! Modules are named from module roots: the project root, a `src/` beside it,
//! the folder holding each top-level package (the highest folder of an
//! unbroken `__init__.py` chain), the folder of a `manage.py`, and the package
//! folders `pyproject.toml`/`setup.cfg` declare (`where = ["src"]`,
//! `package-dir`, poetry's `from`). Relative imports (`from . import x`, `from
//! ..models import M`) follow the file's own folders. A name two files claim
//! (under two roots) is no answer: the index never guesses.

use super::ProjectFile;
use crate::discover::Language;
use crate::ir::{FileModel, Import, Imported, LocalCall};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// How many imports one name is followed through: a cycle of re-exports ends here.
const MAX_HOPS: usize = 8;

/// A project function: (file, index into its functions).
type FunctionId = (usize, usize);

pub struct PyIndex {
    /// Every Python file of the project by path, and back.
    by_path: HashMap<PathBuf, usize>,
    paths: Vec<Option<PathBuf>>,
    /// Folders holding Python files, and their ancestors: where a namespace
    /// package (no `__init__.py`) may be.
    dirs: HashSet<PathBuf>,
    roots: Vec<PathBuf>,
    /// (calling file, callee) → the function, resolved once.
    resolved: Mutex<HashMap<(usize, String), Option<FunctionId>>>,
}

impl PyIndex {
    pub fn build(files: &[ProjectFile], root: Option<&Path>) -> PyIndex {
        let by_path: HashMap<PathBuf, usize> = files
            .iter()
            .enumerate()
            .filter(|(_, f)| f.language == Some(Language::Python))
            .map(|(i, f)| (normal(&f.source.path), i))
            .collect();
        let roots = module_roots(&by_path, root);
        let mut paths = vec![None; files.len()];
        let mut dirs = HashSet::new();
        for (path, &i) in &by_path {
            paths[i] = Some(path.clone());
            for dir in path.ancestors().skip(1) {
                if !dirs.insert(dir.to_path_buf()) {
                    break;
                }
            }
        }
        PyIndex {
            by_path,
            paths,
            dirs,
            roots,
            resolved: Mutex::new(HashMap::new()),
        }
    }

    /// Whether the call's name starts with a name `model`'s imports bind: then
    /// only the import says what it is.
    pub fn imports_head(model: &FileModel, call: &LocalCall) -> bool {
        binding(model, &call.callee).is_some()
    }

    /// The function a call written in `files[file]` names in another module.
    pub fn resolve(
        &self,
        files: &[ProjectFile],
        file: usize,
        call: &LocalCall,
    ) -> Option<(usize, usize)> {
        let key = (file, call.callee.clone());
        if let Some(known) = self.resolved.lock().ok()?.get(&key) {
            return *known;
        }
        let found = self.resolve_uncached(files, file, &call.callee);
        if let Ok(mut cache) = self.resolved.lock() {
            cache.insert(key, found);
        }
        found
    }

    fn resolve_uncached(
        &self,
        files: &[ProjectFile],
        file: usize,
        callee: &str,
    ) -> Option<(usize, usize)> {
        let model = &files[file].model;
        if let Some((import, rest)) = binding(model, callee) {
            return self.follow(files, file, import, rest, 0);
        }
        // `from .models import *`: the one star module that has it.
        let (head, rest) = split(callee);
        unique(
            model
                .imports
                .iter()
                .filter(|i| i.local == "*")
                .filter_map(|i| {
                    self.in_modules(files, &self.locations(file, &i.source), head, rest, 1)
                }),
        )
    }

    /// What `import` (then `.rest`) names, `import` written in `files[file]`.
    fn follow(
        &self,
        files: &[ProjectFile],
        file: usize,
        import: &Import,
        rest: Option<&str>,
        hops: usize,
    ) -> Option<(usize, usize)> {
        if hops > MAX_HOPS {
            return None;
        }
        let locations = self.locations(file, &import.source);
        match &import.imported {
            Imported::Name(name) => self.in_modules(files, &locations, name, rest, hops),
            Imported::Namespace | Imported::Default => {
                let (head, tail) = split(rest?);
                self.in_modules(files, &locations, head, tail, hops)
            }
        }
    }

    fn in_modules(
        &self,
        files: &[ProjectFile],
        locations: &[PathBuf],
        name: &str,
        rest: Option<&str>,
        hops: usize,
    ) -> Option<(usize, usize)> {
        unique(
            locations
                .iter()
                .filter_map(|l| self.in_module(files, l, name, rest, hops)),
        )
    }

    /// `name` (then `.rest`) in the module at `location` (a path without its
    /// extension: `app/services/users` is `users.py` or `users/__init__.py`).
    fn in_module(
        &self,
        files: &[ProjectFile],
        location: &Path,
        name: &str,
        rest: Option<&str>,
        hops: usize,
    ) -> Option<(usize, usize)> {
        if hops > MAX_HOPS {
            return None;
        }
        if let Some(module) = self.module_file(location) {
            let model = &files[module].model;
            if let Some(function) = super::function_named(model, name, rest) {
                return Some((module, function));
            }
            if let Some(import) = model.imports.iter().find(|i| i.local == name) {
                return self.follow(files, module, import, rest, hops + 1);
            }
            if model
                .functions
                .iter()
                .any(|f| f.name == name || f.name.starts_with(&format!("{name}.")))
            {
                // The module defines it: a class without that method, say.
                return None;
            }
        }
        // A submodule: `from app.services import users`, then `users.f`.
        let sub = location.join(name);
        if let Some(rest) = rest {
            let (head, tail) = split(rest);
            if let Some(found) = self.in_module(files, &sub, head, tail, hops + 1) {
                return Some(found);
            }
        }
        let module = self.module_file(location)?;
        unique(
            files[module]
                .model
                .imports
                .iter()
                .filter(|i| i.local == "*")
                .filter_map(|i| {
                    self.in_modules(
                        files,
                        &self.locations(module, &i.source),
                        name,
                        rest,
                        hops + 1,
                    )
                }),
        )
    }

    /// The project file of the module at `location`.
    fn module_file(&self, location: &Path) -> Option<usize> {
        let mut file = location.as_os_str().to_os_string();
        file.push(".py");
        self.by_path
            .get(&PathBuf::from(file))
            .or_else(|| self.by_path.get(&location.join("__init__.py")))
            .copied()
    }

    /// Where the module a file imports from may be: relative to the file for
    /// `.x`/`..x`, under each module root otherwise.
    fn locations(&self, file: usize, source: &str) -> Vec<PathBuf> {
        let dots = source.chars().take_while(|&c| c == '.').count();
        let rest = &source[dots..];
        let parts: Vec<&str> = rest.split('.').filter(|p| !p.is_empty()).collect();
        let join = |base: &Path| {
            let mut p = base.to_path_buf();
            for part in &parts {
                p.push(part);
            }
            p
        };
        if dots > 0 {
            let Some(Some(path)) = self.paths.get(file) else {
                return Vec::new();
            };
            let mut base = path.parent().map(Path::to_path_buf).unwrap_or_default();
            for _ in 1..dots {
                match base.parent() {
                    Some(up) => base = up.to_path_buf(),
                    None => return Vec::new(),
                }
            }
            return vec![join(&base)];
        }
        if parts.is_empty() {
            return Vec::new();
        }
        let mut out: Vec<PathBuf> = Vec::new();
        for root in &self.roots {
            let location = join(root);
            if (self.module_file(&location).is_some() || self.dirs.contains(&location))
                && !out.contains(&location)
            {
                out.push(location);
            }
        }
        out
    }
}

/// Whether a Python file imports a module of the project by its absolute name
/// (`from app.services.users import create_user`, with `app/` in a folder above
/// the file, up to the project root): calls into it may carry effects, so the
/// file is read even without database vocabulary of its own.
pub fn imports_project_module(path: &Path, text: &str, root: Option<&Path>) -> bool {
    let mut heads: Vec<&str> = Vec::new();
    for line in text.lines() {
        let line = line.trim_start();
        let rest = match line
            .strip_prefix("from ")
            .or_else(|| line.strip_prefix("import "))
        {
            Some(rest) => rest,
            None => continue,
        };
        let head = rest
            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .next()
            .unwrap_or("");
        if !head.is_empty() && !heads.contains(&head) {
            heads.push(head);
        }
    }
    if heads.is_empty() {
        return false;
    }
    let root = root.map(normal);
    let path = normal(path);
    for dir in path.ancestors().skip(1) {
        for head in &heads {
            let package = dir.join(head);
            if package.join("__init__.py").is_file() || dir.join(format!("{head}.py")).is_file() {
                return true;
            }
        }
        if root.as_deref().is_none_or(|r| r == dir) {
            break;
        }
    }
    false
}

/// The import of `model` whose bound name `callee` starts with, the longest
/// (`app.services` before `app`), and what follows it.
fn binding<'m, 'c>(model: &'m FileModel, callee: &'c str) -> Option<(&'m Import, Option<&'c str>)> {
    model
        .imports
        .iter()
        .filter(|i| i.local != "*")
        .filter_map(|i| {
            if callee == i.local {
                Some((i, None))
            } else {
                let rest = callee.strip_prefix(i.local.as_str())?.strip_prefix('.')?;
                Some((i, Some(rest)))
            }
        })
        .max_by_key(|(i, _)| i.local.len())
}

fn split(name: &str) -> (&str, Option<&str>) {
    match name.split_once('.') {
        Some((head, rest)) => (head, Some(rest)),
        None => (name, None),
    }
}

/// The one answer, or none when there are several different ones.
fn unique(found: impl Iterator<Item = (usize, usize)>) -> Option<(usize, usize)> {
    let mut first = None;
    for f in found {
        match first {
            None => first = Some(f),
            Some(seen) if seen != f => return None,
            Some(_) => {}
        }
    }
    first
}

/// A path made absolute, with `.` and `..` folded, without resolving links:
/// the run names files relative to the working folder, the root absolute.
fn normal(path: &Path) -> PathBuf {
    let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// The folders module names are counted from.
fn module_roots(by_path: &HashMap<PathBuf, usize>, root: Option<&Path>) -> Vec<PathBuf> {
    let mut roots: Vec<PathBuf> = Vec::new();
    let add = |p: PathBuf, roots: &mut Vec<PathBuf>| {
        if !roots.contains(&p) {
            roots.push(p);
        }
    };
    let root = root.map(normal);
    if let Some(root) = &root {
        add(root.clone(), &mut roots);
        if root.join("src").is_dir() {
            add(root.join("src"), &mut roots);
        }
    }
    let mut paths: Vec<&PathBuf> = by_path.keys().collect();
    paths.sort();
    let mut manifests_seen = HashSet::new();
    for path in paths {
        let Some(mut dir) = path.parent().map(Path::to_path_buf) else {
            continue;
        };
        // The top of the package chain this file is in. The files on disk
        // decide, not the files lowered: the prefilter skips an empty
        // `__init__.py` or a `manage.py` with no database vocabulary.
        while dir.join("__init__.py").is_file() || by_path.contains_key(&dir.join("__init__.py")) {
            match dir.parent() {
                Some(up) => dir = up.to_path_buf(),
                None => break,
            }
        }
        if path.parent() != Some(dir.as_path()) {
            add(dir, &mut roots);
        }
        for ancestor in path.ancestors().skip(1) {
            if !manifests_seen.insert(ancestor.to_path_buf()) {
                break;
            }
            if ancestor.join("manage.py").is_file() {
                add(ancestor.to_path_buf(), &mut roots);
            }
            for declared in declared_roots(ancestor) {
                add(declared, &mut roots);
            }
            if root.as_deref() == Some(ancestor) {
                break;
            }
        }
    }
    roots
}

/// Package folders a `pyproject.toml` or `setup.cfg` in `dir` declares.
fn declared_roots(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for manifest in ["pyproject.toml", "setup.cfg"] {
        let Ok(text) = std::fs::read_to_string(dir.join(manifest)) else {
            continue;
        };
        for line in text.lines() {
            let line = line.trim();
            let key = line
                .split(['=', ':'])
                .next()
                .unwrap_or("")
                .trim()
                .trim_matches('"');
            let declares = matches!(key, "where" | "package-dir" | "package_dir" | "")
                || line.contains("from =")
                || line.contains("from=");
            if !declares {
                continue;
            }
            for value in line
                .split(['"', '\'', '=', ',', '[', ']', '{', '}', ' '])
                .map(str::trim)
                .filter(|v| !v.is_empty())
            {
                if matches!(
                    value,
                    "where" | "package-dir" | "package_dir" | "from" | "include" | "."
                ) {
                    continue;
                }
                let candidate = dir.join(value);
                if value
                    .chars()
                    .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '/'))
                    && candidate.is_dir()
                    && !out.contains(&candidate)
                {
                    out.push(candidate);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_imported_name_binds_a_dotted_call() {
        let model = FileModel {
            imports: vec![
                Import {
                    local: "app".into(),
                    source: "app".into(),
                    imported: Imported::Namespace,
                },
                Import {
                    local: "app.services.billing".into(),
                    source: "app.services.billing".into(),
                    imported: Imported::Namespace,
                },
            ],
            ..FileModel::default()
        };
        let (import, rest) = binding(&model, "app.services.billing.charge").unwrap();
        assert_eq!(import.local, "app.services.billing");
        assert_eq!(rest, Some("charge"));
        assert!(binding(&model, "application.run").is_none());
    }

    #[test]
    fn several_different_answers_are_none() {
        assert_eq!(unique([(1, 2), (1, 2)].into_iter()), Some((1, 2)));
        assert_eq!(unique([(1, 2), (3, 4)].into_iter()), None);
    }
}
