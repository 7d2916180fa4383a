//! Rust call resolution across files: which project function a call names.
//!
//! [`RustIndex::build`] places every lowered Rust file in its crate (the nearest
//! `Cargo.toml`, the file's place under `src/`), makes the paths the frontend
//! recorded ([`crate::ir::items`]) absolute, and indexes every function by the
//! path it is called by: free functions by module, methods by the canonical path
//! of their type (through re-exports), a trait's default methods under every type
//! that implements the trait without overriding them. [`RustIndex::resolve`]
//! follows a call's candidate paths through `use` re-exports and glob imports,
//! a bounded number of hops, and never guesses: two candidates are no answer.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::ir::items::RustModule;
use crate::ir::{FileModel, LocalCall};

/// Re-exports one path may pass through: no real chain is longer, and a cycle
/// (`pub use a::X` in `b`, `pub use b::X` in `a`) ends here.
const MAX_HOPS: usize = 16;
/// Paths one lookup may try, however many glob imports fan it out.
const MAX_STEPS: usize = 512;

/// How a function comes to be called by a path, from the strongest claim to the
/// weakest: an inherent method shadows a trait's, which shadows a default body.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Inherent,
    TraitImpl,
    Default,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Target {
    file: usize,
    function: usize,
    kind: Kind,
}

#[derive(Default)]
struct Module {
    aliases: HashMap<String, Vec<Vec<String>>>,
    globs: Vec<Vec<String>>,
}

/// Where a file sits: its crate (a library's name, or a private id for a
/// binary or test target) and its module path inside it.
struct Place {
    krate: String,
    module: Vec<String>,
}

pub struct RustIndex {
    places: Vec<Option<Place>>,
    modules: HashMap<String, Module>,
    /// Declared types and traits, absolute: where a path walk stops.
    types: HashSet<String>,
    functions: HashMap<String, Vec<Target>>,
    /// `(crate, type name, method)`: for paths whose type is known by name only.
    by_type_method: HashMap<(String, String, String), Vec<Target>>,
}

impl RustIndex {
    /// `files`: every Rust file of the project (path, lowered model), in a fixed order.
    /// Module paths come from the file's place in its crate: the nearest Cargo.toml's
    /// package name (read `[package] name`, `-` → `_`; `[lib] name` if set), `src/lib.rs`
    /// / `src/main.rs` / `src/bin/x.rs` roots, `a/mod.rs` and `a.rs` → `a`, plus inline
    /// `mod` blocks the frontend saw. Workspace crates are found by name from any file.
    pub fn build(files: &[(&Path, &FileModel)]) -> RustIndex {
        let mut packages = Packages::default();
        let places = place_files(files, &mut packages);
        let mut index = RustIndex {
            places,
            modules: HashMap::new(),
            types: HashSet::new(),
            functions: HashMap::new(),
            by_type_method: HashMap::new(),
        };
        let modules: Vec<Option<&RustModule>> =
            files.iter().map(|(_, m)| m.rust.as_ref()).collect();
        for (file, module) in modules.iter().enumerate() {
            if let Some(m) = module {
                index.declare(file, m);
            }
        }
        for (file, module) in modules.iter().enumerate() {
            if let Some(m) = module {
                index.register_functions(file, m);
            }
        }
        let traits = index.trait_defaults(&modules);
        for (file, module) in modules.iter().enumerate() {
            if let Some(m) = module {
                index.register_defaults(file, m, files[file].1, &traits);
            }
        }
        index
    }

    /// The project function a call in `files[file]` names: (file index, function index
    /// into that file's `model.functions`), or None when unknown or ambiguous.
    pub fn resolve(&self, file: usize, call: &LocalCall) -> Option<(usize, usize)> {
        pick(&self.targets(file, call))
    }

    /// The canonical path of the type `candidates` (a struct literal's or an
    /// impl's type, as the frontend wrote it in Rust file `file`) names.
    pub fn type_path(&self, file: usize, candidates: &[String]) -> Option<String> {
        let ty = self.absolute(file, candidates.first()?)?;
        Some(self.canonical_type(ty).join("::"))
    }

    /// Every function the call may name; [`pick`] says whether one is its answer.
    fn targets(&self, file: usize, call: &LocalCall) -> Vec<Target> {
        if !self.places.get(file).is_some_and(Option::is_some) {
            return Vec::new();
        }
        // Several candidates are names from several glob imports: equals, as
        // in Rust, where two globs that both supply a used name do not compile.
        let mut found = Vec::new();
        for candidate in &call.qualified {
            if let Some(path) = self.absolute(file, candidate) {
                for t in self.lookup(path) {
                    if !found.contains(&t) {
                        found.push(t);
                    }
                }
            }
        }
        if !found.is_empty() {
            return found;
        }
        // The type is known by name, its module is not (a re-export the walk
        // could not follow, a macro-made module): unique in the crate, or nothing.
        let Some(path) = call.qualified.first().and_then(|c| self.absolute(file, c)) else {
            return Vec::new();
        };
        match path.as_slice() {
            [krate, .., ty, method] if ty.starts_with(char::is_uppercase) => {
                let key = (krate.clone(), ty.clone(), method.clone());
                self.by_type_method.get(&key).cloned().unwrap_or_default()
            }
            _ => Vec::new(),
        }
    }

    /// A path as the frontend wrote it for `file` (`self::…`, `super::…`,
    /// `crate::…`, `name::…`), made absolute: its first segment is a crate.
    fn absolute(&self, file: usize, path: &str) -> Option<Vec<String>> {
        let place = self.places.get(file)?.as_ref()?;
        let segs: Vec<&str> = path.split("::").collect();
        let (head, rest): (Vec<String>, &[&str]) = match segs[0] {
            "self" => (module_path(place, place.module.len())?, &segs[1..]),
            "super" => {
                let ups = segs.iter().take_while(|s| **s == "super").count();
                let keep = place.module.len().checked_sub(ups)?;
                (module_path(place, keep)?, &segs[ups..])
            }
            "crate" => (vec![place.krate.clone()], &segs[1..]),
            // A library's name is its crate's: one of the project's, or another.
            name => (vec![name.to_string()], &segs[1..]),
        };
        Some(
            head.into_iter()
                .chain(rest.iter().map(|s| s.to_string()))
                .collect(),
        )
    }

    fn declare(&mut self, file: usize, m: &RustModule) {
        let Some(place) = &self.places[file] else {
            return;
        };
        let mut own = vec![place.krate.clone()];
        own.extend(place.module.iter().cloned());
        for k in 1..=own.len() {
            self.modules.entry(own[..k].join("::")).or_default();
        }
        for inline in &m.modules {
            if let Some(p) = self.absolute(file, inline) {
                self.modules.entry(p.join("::")).or_default();
            }
        }
        for ty in m.types.iter().chain(m.traits.iter().map(|t| &t.path)) {
            if let Some(p) = self.absolute(file, ty) {
                self.types.insert(p.join("::"));
            }
        }
        for import in &m.imports {
            let (Some(module), Some(target)) = (
                self.absolute(file, &import.module),
                self.absolute(file, &import.target),
            ) else {
                continue;
            };
            let entry = self.modules.entry(module.join("::")).or_default();
            match &import.name {
                Some(name) => entry.aliases.entry(name.clone()).or_default().push(target),
                None => entry.globs.push(target),
            }
        }
    }

    fn register_functions(&mut self, file: usize, m: &RustModule) {
        let trait_impl: HashSet<usize> = m
            .impls
            .iter()
            .filter(|i| i.trait_.is_some())
            .flat_map(|i| i.functions.iter().copied())
            .collect();
        let defaults: HashSet<usize> = m
            .traits
            .iter()
            .flat_map(|t| t.defaults.iter().copied())
            .collect();
        for (function, path) in m.paths.iter().enumerate() {
            if path.is_empty() {
                continue;
            }
            let kind = if defaults.contains(&function) {
                Kind::Default
            } else if trait_impl.contains(&function) {
                Kind::TraitImpl
            } else {
                Kind::Inherent
            };
            let Some(path) = self.absolute(file, path) else {
                continue;
            };
            self.add(self.canonical(path), file, function, kind);
        }
    }

    /// A method's path with its type's canonical path (where the type is
    /// declared, through re-exports); other paths unchanged.
    fn canonical(&self, mut path: Vec<String>) -> Vec<String> {
        let Some(name) = path.pop() else {
            return path;
        };
        let owner = path.join("::");
        if self.modules.contains_key(&owner) || self.types.contains(&owner) {
            path.push(name);
            return path;
        }
        let declared: Vec<Vec<String>> = self
            .expand(path.clone())
            .into_iter()
            .filter(|p| self.types.contains(&p.join("::")))
            .collect();
        let mut out = match declared.as_slice() {
            [one] => one.clone(),
            _ => path,
        };
        out.push(name);
        out
    }

    fn add(&mut self, path: Vec<String>, file: usize, function: usize, kind: Kind) {
        let target = Target {
            file,
            function,
            kind,
        };
        if let [krate, .., ty, method] = path.as_slice() {
            if path.len() >= 3 && ty.starts_with(char::is_uppercase) {
                self.by_type_method
                    .entry((krate.clone(), ty.clone(), method.clone()))
                    .or_default()
                    .push(target);
            }
        }
        self.functions
            .entry(path.join("::"))
            .or_default()
            .push(target);
    }

    /// Every trait's default methods by the trait's absolute path: name → (file, function).
    fn trait_defaults(
        &self,
        modules: &[Option<&RustModule>],
    ) -> HashMap<String, Vec<(String, usize, usize)>> {
        let mut out: HashMap<String, Vec<(String, usize, usize)>> = HashMap::new();
        for (file, m) in modules.iter().enumerate() {
            let Some(m) = m else { continue };
            for t in &m.traits {
                let Some(path) = self.absolute(file, &t.path) else {
                    continue;
                };
                let entry = out.entry(path.join("::")).or_default();
                for &function in &t.defaults {
                    if let Some(name) = m.paths.get(function).and_then(|p| p.rsplit("::").next()) {
                        entry.push((name.to_string(), file, function));
                    }
                }
            }
        }
        out
    }

    /// `impl Crud for Person` without `delete`: `Person::delete` is `Crud`'s default.
    fn register_defaults(
        &mut self,
        file: usize,
        m: &RustModule,
        model: &FileModel,
        traits: &HashMap<String, Vec<(String, usize, usize)>>,
    ) {
        for imp in &m.impls {
            let Some(trait_path) = imp.trait_.as_ref().and_then(|t| self.absolute(file, t)) else {
                continue;
            };
            let Some(trait_path) = self
                .expand(trait_path)
                .into_iter()
                .map(|p| p.join("::"))
                .find(|p| traits.contains_key(p))
            else {
                continue;
            };
            let Some(ty) = self.absolute(file, &imp.ty) else {
                continue;
            };
            let ty = self.canonical_type(ty);
            let overridden: HashSet<&str> = imp
                .functions
                .iter()
                .filter_map(|&f| model.functions.get(f))
                .map(|f| f.name.rsplit("::").next().unwrap_or(&f.name))
                .collect();
            for (name, tf, tfn) in &traits[&trait_path] {
                if overridden.contains(name.as_str()) {
                    continue;
                }
                let mut path = ty.clone();
                path.push(name.clone());
                self.add(path, *tf, *tfn, Kind::Default);
            }
        }
    }

    fn canonical_type(&self, ty: Vec<String>) -> Vec<String> {
        let mut with_name = ty;
        with_name.push(String::new());
        let mut out = self.canonical(with_name);
        out.pop();
        out
    }

    /// The functions an absolute path names, through re-exports and globs.
    fn lookup(&self, path: Vec<String>) -> Vec<Target> {
        let mut found = Vec::new();
        for p in self.expand(path) {
            if let Some(targets) = self.functions.get(&p.join("::")) {
                for t in targets {
                    if !found.contains(t) {
                        found.push(*t);
                    }
                }
            }
        }
        found
    }

    /// The paths `path` may be rewritten to by following, from its crate root
    /// down, the `use` items and glob imports of the modules it passes through;
    /// the path itself first.
    fn expand(&self, path: Vec<String>) -> Vec<Vec<String>> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut steps = 0;
        self.walk(path, 0, &mut seen, &mut steps, &mut out);
        out
    }

    fn walk(
        &self,
        path: Vec<String>,
        hops: usize,
        seen: &mut HashSet<Vec<String>>,
        steps: &mut usize,
        out: &mut Vec<Vec<String>>,
    ) {
        if hops > MAX_HOPS || *steps >= MAX_STEPS || !seen.insert(path.clone()) {
            return;
        }
        *steps += 1;
        out.push(path.clone());
        let mut module = path[..1].join("::");
        for k in 1..path.len() {
            let here = format!("{module}::{}", path[k]);
            if self.types.contains(&here) || self.functions.contains_key(&here) {
                return;
            }
            if self.modules.contains_key(&here) && k + 1 < path.len() {
                module = here;
                continue;
            }
            let Some(m) = self.modules.get(&module) else {
                return;
            };
            if let Some(targets) = m.aliases.get(&path[k]) {
                for t in targets {
                    let next = t.iter().chain(&path[k + 1..]).cloned().collect();
                    self.walk(next, hops + 1, seen, steps, out);
                }
                return;
            }
            for g in &m.globs {
                let next = g.iter().chain(&path[k..]).cloned().collect();
                self.walk(next, hops + 1, seen, steps, out);
            }
            return;
        }
    }
}

/// The one function the strongest claim names; `None` when two share it.
fn pick(found: &[Target]) -> Option<(usize, usize)> {
    let strongest = found.iter().map(|t| t.kind).min()?;
    let mut named = found
        .iter()
        .filter(|t| t.kind == strongest)
        .map(|t| (t.file, t.function));
    let first = named.next()?;
    named.all(|n| n == first).then_some(first)
}

fn module_path(place: &Place, keep: usize) -> Option<Vec<String>> {
    let mut out = vec![place.krate.clone()];
    out.extend(place.module.get(..keep)?.iter().cloned());
    Some(out)
}

/// A Cargo package: where its manifest is and the names it gives its crates.
struct Package {
    dir: PathBuf,
    /// `[package] name` with `-` → `_`.
    name: String,
    /// `[lib] name`, or the package name.
    lib: String,
    /// Targets whose root the manifest names (`[[test]] path = "src/tests/mod.rs"`):
    /// the root's path inside the package, split, and the crate's id.
    roots: Vec<(Vec<String>, String)>,
}

/// Manifests read once per folder.
#[derive(Default)]
struct Packages {
    by_dir: HashMap<PathBuf, Option<usize>>,
    all: Vec<Package>,
}

impl Packages {
    /// The package the file at `path` belongs to: the nearest manifest above it
    /// with a `[package]` table.
    fn of(&mut self, path: &Path) -> Option<usize> {
        let mut visited = Vec::new();
        let mut found = None;
        for dir in path.ancestors().skip(1) {
            if let Some(&known) = self.by_dir.get(dir) {
                found = known;
                break;
            }
            visited.push(dir.to_path_buf());
            if let Some(p) = read_manifest(dir) {
                self.all.push(p);
                found = Some(self.all.len() - 1);
                break;
            }
        }
        for dir in visited {
            let below = found.is_some_and(|f| dir.starts_with(&self.all[f].dir));
            self.by_dir.insert(dir, if below { found } else { None });
        }
        found
    }
}

fn read_manifest(dir: &Path) -> Option<Package> {
    let text = std::fs::read_to_string(dir.join("Cargo.toml")).ok()?;
    let table: toml::Table = text.parse().ok()?;
    let name = table
        .get("package")?
        .get("name")?
        .as_str()?
        .replace('-', "_");
    let lib = table
        .get("lib")
        .and_then(|l| l.get("name"))
        .and_then(|n| n.as_str())
        .map_or_else(|| name.clone(), |n| n.replace('-', "_"));
    let mut roots = Vec::new();
    let split = |p: &str| -> Vec<String> {
        p.split('/')
            .filter(|s| !s.is_empty() && *s != ".")
            .map(String::from)
            .collect()
    };
    if let Some(path) = table.get("lib").and_then(|l| l.get("path")?.as_str()) {
        roots.push((split(path), lib.clone()));
    }
    for kind in ["bin", "test", "bench", "example"] {
        let targets = table.get(kind).and_then(|t| t.as_array());
        for t in targets.into_iter().flatten() {
            if let (Some(path), Some(target)) = (
                t.get("path").and_then(|p| p.as_str()),
                t.get("name").and_then(|n| n.as_str()),
            ) {
                roots.push((split(path), format!("{name}#{kind}:{target}")));
            }
        }
    }
    Some(Package {
        dir: dir.to_path_buf(),
        name,
        lib,
        roots,
    })
}

/// Every file's crate and module path. A file under `src/` belongs to the
/// library, unless the package has no `src/lib.rs` among the files, or its top
/// module is declared by `src/main.rs` and not by `src/lib.rs`.
fn place_files(files: &[(&Path, &FileModel)], packages: &mut Packages) -> Vec<Option<Place>> {
    let rel: Vec<Option<(usize, Vec<String>)>> = files
        .iter()
        .map(|(path, model)| {
            model.rust.as_ref()?;
            let p = packages.of(path)?;
            let parts = path
                .strip_prefix(&packages.all[p].dir)
                .ok()?
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            Some((p, parts))
        })
        .collect();
    // Each package's `mod` declarations in its lib.rs and main.rs.
    let mut roots: HashMap<(usize, bool), &[String]> = HashMap::new();
    for (r, (_, model)) in rel.iter().zip(files) {
        if let (Some((p, parts)), Some(m)) = (r, &model.rust) {
            if let [src, root] = parts.as_slice() {
                if src == "src" && (root == "lib.rs" || root == "main.rs") {
                    roots.insert((*p, root == "main.rs"), &m.child_files);
                }
            }
        }
    }
    rel.into_iter()
        .map(|r| {
            let (p, parts) = r?;
            let package = &packages.all[p];
            let (krate, module) = crate_and_module(package, &parts, |top| {
                let in_main = roots.get(&(p, true)).is_some_and(|m| m.contains(top));
                let lib = roots.get(&(p, false));
                in_main && !lib.is_some_and(|m| m.contains(top)) || lib.is_none()
            });
            Some(Place { krate, module })
        })
        .collect()
}

/// The crate and module of a file at `parts` inside `package`; `in_main` says
/// whether a top module under `src/` belongs to the binary `src/main.rs`.
fn crate_and_module(
    package: &Package,
    parts: &[String],
    in_main: impl Fn(&String) -> bool,
) -> (String, Vec<String>) {
    let modules = |parts: &[String]| -> Vec<String> {
        let mut m: Vec<String> = parts
            .iter()
            .map(|p| p.strip_suffix(".rs").unwrap_or(p).to_string())
            .collect();
        if m.last().is_some_and(|l| l == "mod") {
            m.pop();
        }
        m
    };
    // A root the manifest names: its folder holds the target's modules (the
    // deepest such folder wins over `src/`).
    let named = package
        .roots
        .iter()
        .filter(|(root, _)| {
            let dir = &root[..root.len().saturating_sub(1)];
            parts.starts_with(dir) && (parts == root.as_slice() || dir.len() > 1)
        })
        .max_by_key(|(root, _)| root.len());
    if let Some((root, krate)) = named {
        if parts == root.as_slice() {
            return (krate.clone(), Vec::new());
        }
        return (krate.clone(), modules(&parts[root.len() - 1..]));
    }
    let name = &package.name;
    match parts {
        [src, root] if src == "src" && root == "lib.rs" => (package.lib.clone(), Vec::new()),
        [src, root] if src == "src" && root == "main.rs" => (format!("{name}#main"), Vec::new()),
        [src, bin, rest @ ..] if src == "src" && bin == "bin" && !rest.is_empty() => {
            let target = rest[0].strip_suffix(".rs").unwrap_or(&rest[0]);
            let inner = match &rest[1..] {
                [main] if main == "main.rs" => Vec::new(),
                more => modules(more),
            };
            (format!("{name}#bin:{target}"), inner)
        }
        [src, rest @ ..] if src == "src" && !rest.is_empty() => {
            let top = rest[0].strip_suffix(".rs").unwrap_or(&rest[0]).to_string();
            let krate = if in_main(&top) {
                format!("{name}#main")
            } else {
                package.lib.clone()
            };
            (krate, modules(rest))
        }
        [dir, rest @ ..] if !rest.is_empty() => {
            // tests/x.rs, benches/…, examples/…: one crate each.
            let target = rest[0].strip_suffix(".rs").unwrap_or(&rest[0]);
            (format!("{name}#{dir}:{target}"), modules(&rest[1..]))
        }
        _ => (format!("{name}#{}", parts.join("/")), Vec::new()),
    }
}

#[cfg(test)]
mod tests;
