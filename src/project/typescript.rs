//! TypeScript and JavaScript calls across files: an imported name is followed to
//! the module it comes from (relative paths, tsconfig `baseUrl`/`paths` with
//! `extends`, package `exports`, through `oxc_resolver`, the resolver Node and
//! TypeScript tooling agree with; workspace packages by their `package.json`
//! name, since a fresh checkout has no `node_modules`), then through that module's
//! exports and re-exports to the function it names.

use super::ProjectFile;
use crate::discover::Language;
use crate::ir::{ExportTarget, Imported, LocalCall};
use oxc_resolver::{ResolveOptions, Resolver, TsconfigDiscovery};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// How many re-exports a name is followed through.
const MAX_HOPS: usize = 8;

/// Entry points tried, in order, for a workspace package whose `main` points at
/// build output that a checkout does not have.
const PACKAGE_ENTRIES: &[&str] = &[
    "src/index.ts",
    "src/index.tsx",
    "index.ts",
    "src/index.js",
    "index.js",
];

pub struct TsIndex {
    resolver: Resolver,
    /// The same without tsconfig: a `tsconfig.json` whose `extends` names a package
    /// a fresh checkout has not installed (`@acme/tsconfig/base.json`) makes every
    /// resolution from under it fail, relative paths included.
    without_tsconfig: Resolver,
    /// Every TypeScript/JavaScript file of the project by canonical path.
    by_path: HashMap<PathBuf, usize>,
    /// Workspace packages: name → folder.
    packages: HashMap<String, PathBuf>,
    /// (importing file, specifier) → the file it names, resolved once.
    resolved: Mutex<HashMap<(usize, String), Option<usize>>>,
}

impl TsIndex {
    /// `files`: the project's files (path, model); only those with `is_ts` count.
    pub fn build(files: &[ProjectFile], root: Option<&Path>) -> TsIndex {
        let by_path = files
            .iter()
            .enumerate()
            .filter(|(_, f)| is_ts(f))
            .map(|(i, f)| (canonical(&f.source.path), i))
            .collect();
        let options = ResolveOptions {
            extensions: [".ts", ".tsx", ".mts", ".cts", ".js", ".jsx", ".mjs", ".cjs"]
                .map(String::from)
                .to_vec(),
            extension_alias: vec![
                (
                    ".js".into(),
                    vec![".ts".into(), ".tsx".into(), ".js".into()],
                ),
                (".mjs".into(), vec![".mts".into(), ".mjs".into()]),
            ],
            condition_names: ["types", "import", "module", "require", "node", "default"]
                .map(String::from)
                .to_vec(),
            main_fields: ["types", "module", "main"].map(String::from).to_vec(),
            tsconfig: Some(TsconfigDiscovery::Auto),
            ..ResolveOptions::default()
        };
        TsIndex {
            without_tsconfig: Resolver::new(ResolveOptions {
                tsconfig: None,
                ..options.clone()
            }),
            resolver: Resolver::new(options),
            by_path,
            packages: workspace_packages(files, root),
            resolved: Mutex::new(HashMap::new()),
        }
    }

    /// The function a call in `files[file]` names in another module:
    /// (file index, function index).
    pub fn resolve(
        &self,
        files: &[ProjectFile],
        file: usize,
        call: &LocalCall,
    ) -> Option<(usize, usize)> {
        let (head, rest) = match call.callee.split_once('.') {
            Some((head, rest)) => (head, Some(rest)),
            None => (call.callee.as_str(), None),
        };
        let model = &files[file].model;
        let import = model.imports.iter().find(|i| i.local == head)?;
        let target = self.module(files, file, &import.source)?;
        self.exported(files, target, &import.imported, rest, 0)
    }

    /// The function `imported` (then `.rest`) names in module `file`.
    fn exported(
        &self,
        files: &[ProjectFile],
        file: usize,
        imported: &Imported,
        rest: Option<&str>,
        hops: usize,
    ) -> Option<(usize, usize)> {
        if hops > MAX_HOPS {
            return None;
        }
        let (name, rest) = match imported {
            Imported::Name(name) => (name.as_str(), rest),
            Imported::Default => ("default", rest),
            // `ns.f(…)`: `f` of the module.
            Imported::Namespace => {
                let rest = rest?;
                match rest.split_once('.') {
                    Some((name, tail)) => (name, Some(tail)),
                    None => (rest, None),
                }
            }
        };
        let model = &files[file].model;
        let mut star_sources = Vec::new();
        for export in &model.exports {
            match &export.target {
                ExportTarget::Local(local) if export.name == name => {
                    return super::function_named(model, local, rest).map(|f| (file, f));
                }
                ExportTarget::From { source, imported } if export.name == name => {
                    let target = self.module(files, file, source)?;
                    let rest_owned;
                    let (imported, rest) = match imported {
                        // `export * as ns from "./x"`, then `ns.f`.
                        Imported::Namespace => (imported, rest),
                        _ => {
                            rest_owned = rest;
                            (imported, rest_owned)
                        }
                    };
                    return self.exported(files, target, imported, rest, hops + 1);
                }
                ExportTarget::From {
                    source,
                    imported: Imported::Namespace,
                } if export.name == "*" => star_sources.push(source),
                _ => {}
            }
        }
        // `export * from "./a"; export * from "./b"`: the one that has it.
        let mut found = star_sources.into_iter().filter_map(|source| {
            let target = self.module(files, file, source)?;
            self.exported(
                files,
                target,
                &Imported::Name(name.to_string()),
                rest,
                hops + 1,
            )
        });
        let first = found.next()?;
        found.next().is_none().then_some(first)
    }

    /// The project file a specifier written in `files[file]` names.
    fn module(&self, files: &[ProjectFile], file: usize, specifier: &str) -> Option<usize> {
        let key = (file, specifier.to_string());
        if let Some(known) = self.resolved.lock().ok()?.get(&key) {
            return *known;
        }
        let from = canonical(&files[file].source.path);
        let found = self
            .resolver
            .resolve_file(&from, specifier)
            .or_else(|_| self.without_tsconfig.resolve_file(&from, specifier))
            .ok()
            .map(|r| r.into_path_buf())
            .and_then(|p| self.by_path.get(&canonical(&p)).copied())
            .or_else(|| self.workspace_module(specifier));
        if let Ok(mut cache) = self.resolved.lock() {
            cache.insert(key, found);
        }
        found
    }

    /// `@acme/db` or `@acme/db/invites`: a package of the workspace, by name.
    fn workspace_module(&self, specifier: &str) -> Option<usize> {
        let (name, sub) = split_package(specifier)?;
        let folder = self.packages.get(name)?;
        let candidates: Vec<PathBuf> = match sub {
            Some(sub) => {
                let base = folder.join(sub);
                let src = folder.join("src").join(sub);
                [&base, &src]
                    .iter()
                    .flat_map(|b| {
                        ["ts", "tsx", "js"]
                            .iter()
                            .map(move |ext| b.with_extension(ext))
                            .chain(["index.ts", "index.tsx", "index.js"].map(|i| b.join(i)))
                    })
                    .collect()
            }
            None => {
                let mut from_manifest = Vec::new();
                if let Some(entry) = package_entry(folder) {
                    from_manifest.push(folder.join(entry));
                }
                from_manifest
                    .into_iter()
                    .chain(PACKAGE_ENTRIES.iter().map(|e| folder.join(e)))
                    .collect()
            }
        };
        candidates
            .iter()
            .find_map(|c| self.by_path.get(&canonical(c)).copied())
    }
}

fn is_ts(file: &ProjectFile) -> bool {
    matches!(file.language, Some(Language::TypeScript(_)))
}

fn canonical(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}

/// `@scope/name/sub/path` → (`@scope/name`, `sub/path`); relative paths are no
/// package.
fn split_package(specifier: &str) -> Option<(&str, Option<&str>)> {
    if specifier.starts_with('.') || specifier.starts_with('/') {
        return None;
    }
    let mut parts = specifier.splitn(if specifier.starts_with('@') { 3 } else { 2 }, '/');
    let first = parts.next()?;
    let name_len = if specifier.starts_with('@') {
        first.len() + 1 + parts.next()?.len()
    } else {
        first.len()
    };
    let sub = specifier.get(name_len + 1..).filter(|s| !s.is_empty());
    Some((&specifier[..name_len], sub))
}

/// The source entry a package's manifest names, when it exists in the checkout
/// (`exports["."]`, `types`, `module`, `main`).
fn package_entry(folder: &Path) -> Option<String> {
    let text = std::fs::read_to_string(folder.join("package.json")).ok()?;
    let manifest: serde_json::Value = serde_json::from_str(&text).ok()?;
    let from_exports = |v: &serde_json::Value| -> Option<String> {
        let dot = v.get(".").unwrap_or(v);
        match dot {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Object(conditions) => ["types", "import", "default", "require"]
                .iter()
                .find_map(|c| conditions.get(*c)?.as_str().map(String::from)),
            _ => None,
        }
    };
    manifest
        .get("exports")
        .and_then(from_exports)
        .into_iter()
        .chain(
            ["types", "module", "main"]
                .iter()
                .filter_map(|k| manifest.get(*k)?.as_str().map(String::from)),
        )
        .find(|entry| folder.join(entry).is_file())
}

/// Every `package.json` with a `name` between the project's files and the root.
fn workspace_packages(files: &[ProjectFile], root: Option<&Path>) -> HashMap<String, PathBuf> {
    let root = root.map(canonical);
    let mut seen = std::collections::HashSet::new();
    let mut packages = HashMap::new();
    for file in files.iter().filter(|f| is_ts(f)) {
        let path = canonical(&file.source.path);
        for dir in path.ancestors().skip(1) {
            if !seen.insert(dir.to_path_buf()) {
                break;
            }
            if let Ok(text) = std::fs::read_to_string(dir.join("package.json")) {
                if let Ok(manifest) = serde_json::from_str::<serde_json::Value>(&text) {
                    if let Some(name) = manifest.get("name").and_then(|n| n.as_str()) {
                        packages
                            .entry(name.to_string())
                            .or_insert_with(|| dir.to_path_buf());
                    }
                }
            }
            if root.as_deref() == Some(dir) {
                break;
            }
        }
    }
    packages
}

#[cfg(test)]
mod tests {
    use super::split_package;

    #[test]
    fn package_names_split_from_their_subpaths() {
        assert_eq!(split_package("@acme/db"), Some(("@acme/db", None)));
        assert_eq!(
            split_package("@acme/db/invites"),
            Some(("@acme/db", Some("invites")))
        );
        assert_eq!(split_package("lodash/fp"), Some(("lodash", Some("fp"))));
        assert_eq!(split_package("./x"), None);
    }
}
