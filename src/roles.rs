//! Code roles: what a file (and, in Rust, a function) is for — production code,
//! tests, one-off scripts, migrations or database seeds — and why racelint thinks so.
//!
//! Only production code serves concurrent requests. The rules whose race needs
//! two requests at once (`RuleMeta::concurrent`) skip the other roles, and project
//! facts ("this table is deleted somewhere") come from production code only, so a
//! test that empties a table never makes a production insert look racy.
//!
//! The guess reads the path below the project root (folders such as `e2e/`,
//! `__tests__/`, `migrations/`; names such as `*.spec.ts`, `test_*.py`), the
//! file's imports (vitest, jest, `@playwright/test`, …), and for Rust the crate's
//! `Cargo.toml` (`[[test]]`, `[[bench]]`, `[[example]]` targets; test-support
//! crates, which other crates only take as dev-dependencies). A folder name alone
//! never makes a seed (a project may keep anything in a `seeds/` folder): the file
//! must also read like one. `racelint.toml` `[roles]` globs override the guess.

use crate::config::{Configs, RoleGlobs};
use crate::discover;
use crate::ir::FileModel;
use ignore::gitignore::{Gitignore, GitignoreBuilder};
use serde::Serialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    Production,
    Test,
    Script,
    Migration,
    Seed,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Production,
        Role::Test,
        Role::Script,
        Role::Migration,
        Role::Seed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Production => "production",
            Role::Test => "test",
            Role::Script => "script",
            Role::Migration => "migration",
            Role::Seed => "seed",
        }
    }

    /// Code that never runs beside a concurrent request.
    pub fn runs_alone(self) -> bool {
        self != Role::Production
    }
}

/// A file's role and the reason for it, in words for `racelint roles`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Assigned {
    pub role: Role,
    pub reason: String,
}

fn assigned(role: Role, reason: impl Into<String>) -> Option<Assigned> {
    Some(Assigned {
        role,
        reason: reason.into(),
    })
}

/// One configuration's `[roles]` globs compiled, in the order they are tried.
fn role_globs(root: &Path, roles: &RoleGlobs) -> Result<Vec<(Role, Gitignore)>, String> {
    let RoleGlobs {
        production,
        test,
        script,
        migration,
        seed,
    } = roles;
    let mut overrides = Vec::new();
    for (role, globs) in [
        (Role::Production, production),
        (Role::Test, test),
        (Role::Script, script),
        (Role::Migration, migration),
        (Role::Seed, seed),
    ] {
        if globs.is_empty() {
            continue;
        }
        let mut builder = GitignoreBuilder::new(discover::absolute(globs.base_or(root)));
        for glob in &globs.patterns {
            builder
                .add_line(None, glob)
                .map_err(|e| format!("invalid [roles] glob `{glob}`: {e}"))?;
        }
        overrides.push((role, builder.build().map_err(|e| e.to_string())?));
    }
    Ok(overrides)
}

/// Decides roles for the files of one project root; shared by the workers of a run.
pub struct Roles {
    root: PathBuf,
    /// Each configuration's file (as reasons name it) and `[roles]` globs, and
    /// which configuration applies where.
    overrides: Vec<(String, Vec<(Role, Gitignore)>)>,
    index: crate::config::tree::ConfigIndex,
    /// Parsed `Cargo.toml` files by folder (`None`: no manifest there).
    manifests: Mutex<HashMap<PathBuf, Option<Arc<Manifest>>>>,
    /// Crates of the workspace at a folder, by package name.
    workspaces: Mutex<HashMap<PathBuf, Arc<Workspace>>>,
}

impl Roles {
    /// Roles for files below `root`, corrected by the `[roles]` globs of each
    /// file's configuration (relative to the folder of the file that wrote
    /// them, else to `root`).
    pub fn new(root: &Path, configs: &Configs) -> Result<Roles, String> {
        let root = discover::absolute(root);
        let overrides = configs
            .all()
            .iter()
            .map(|config| {
                let shown = config.path.as_deref().map_or_else(
                    || crate::config::CONFIG_FILE.to_string(),
                    |path| {
                        let path = discover::absolute(path);
                        let shown = path.strip_prefix(&root).unwrap_or(&path);
                        shown.to_string_lossy().replace('\\', "/")
                    },
                );
                Ok((shown, role_globs(&root, &config.roles)?))
            })
            .collect::<Result<_, String>>()?;
        Ok(Roles {
            root,
            overrides,
            index: configs.index().clone(),
            manifests: Mutex::new(HashMap::new()),
            workspaces: Mutex::new(HashMap::new()),
        })
    }

    /// The role of the file at `path`, whose text is `text`.
    pub fn of_file(&self, path: &Path, text: &str) -> Assigned {
        let absolute = discover::absolute(path);
        self.configured(&absolute)
            .or_else(|| self.cargo_role(&absolute))
            .or_else(|| guess(&self.relative(&absolute), text))
            .unwrap_or(Assigned {
                role: Role::Production,
                reason: "no test, script, migration or seed shape".to_string(),
            })
    }

    fn relative(&self, absolute: &Path) -> PathBuf {
        absolute
            .strip_prefix(&self.root)
            .unwrap_or(absolute)
            .to_path_buf()
    }

    fn configured(&self, absolute: &Path) -> Option<Assigned> {
        // The last matching table wins, as in gitignore; `production` is listed
        // first so that a narrower role glob still applies inside it.
        let (file, overrides) = &self.overrides[self.index.of(absolute)];
        overrides
            .iter()
            .rev()
            .find(|(_, set)| {
                absolute.starts_with(set.path())
                    && set.matched_path_or_any_parents(absolute, false).is_ignore()
            })
            .and_then(|(role, _)| {
                assigned(
                    *role,
                    format!("matches `[roles] {}` in {file}", role.as_str()),
                )
            })
    }

    /// Roles Cargo decides: declared or conventional test, bench and example
    /// targets, and test-support crates.
    fn cargo_role(&self, file: &Path) -> Option<Assigned> {
        if file.extension().is_none_or(|e| e != "rs") {
            return None;
        }
        let (crate_dir, manifest) = file
            .ancestors()
            .skip(1)
            .take_while(|dir| dir.starts_with(&self.root) || *dir == self.root)
            .find_map(|dir| self.manifest(dir).map(|m| (dir.to_path_buf(), m)))?;
        let shown = |p: &Path| self.relative(p).to_string_lossy().replace('\\', "/");
        for target in &manifest.targets {
            let declared = crate_dir.join(&target.path);
            if belongs_to_target(file, &declared) {
                return assigned(
                    target.role,
                    format!(
                        "in the `[[{}]]` target `{}` of {}",
                        target.kind,
                        target.path,
                        shown(&crate_dir.join("Cargo.toml"))
                    ),
                );
            }
        }
        let inside = file.strip_prefix(&crate_dir).ok()?;
        match inside.components().next()?.as_os_str().to_str()? {
            "tests" | "benches" if inside.components().count() > 1 => {
                return assigned(
                    Role::Test,
                    format!(
                        "a Cargo test target (beside {})",
                        shown(&crate_dir.join("Cargo.toml"))
                    ),
                )
            }
            "examples" if inside.components().count() > 1 => {
                return assigned(
                    Role::Script,
                    format!(
                        "a Cargo example (beside {})",
                        shown(&crate_dir.join("Cargo.toml"))
                    ),
                )
            }
            _ => {}
        }
        let name = manifest.name.as_deref()?;
        if is_test_support_name(name) {
            return assigned(Role::Test, format!("in the test-support crate `{name}`"));
        }
        let workspace = self.workspace_of(&crate_dir)?;
        let (users, dev_users) = workspace.users_of(name);
        if users.is_empty() && !dev_users.is_empty() && !manifest.has_binary(&crate_dir) {
            return assigned(
                Role::Test,
                format!(
                    "the crate `{name}` is only a dev-dependency (of `{}`)",
                    dev_users.join("`, `")
                ),
            );
        }
        None
    }

    fn manifest(&self, dir: &Path) -> Option<Arc<Manifest>> {
        let mut cache = self.manifests.lock().unwrap_or_else(|e| e.into_inner());
        cache
            .entry(dir.to_path_buf())
            .or_insert_with(|| {
                let text = std::fs::read_to_string(dir.join("Cargo.toml")).ok()?;
                Some(Arc::new(Manifest::parse(&text)))
            })
            .clone()
    }

    /// The workspace a crate belongs to: every manifest under the nearest
    /// ancestor whose `Cargo.toml` has `[workspace]` (or the crate alone).
    fn workspace_of(&self, crate_dir: &Path) -> Option<Arc<Workspace>> {
        let top = crate_dir
            .ancestors()
            .take_while(|dir| dir.starts_with(&self.root))
            .find(|dir| self.manifest(dir).is_some_and(|m| m.is_workspace))?
            .to_path_buf();
        let mut cache = self.workspaces.lock().unwrap_or_else(|e| e.into_inner());
        Some(
            cache
                .entry(top.clone())
                .or_insert_with(|| Arc::new(Workspace::walk(&top)))
                .clone(),
        )
    }
}

/// Whether `file` is the declared target file or one of its modules
/// (`src/tests/mod.rs` owns `src/tests/**`; `tests/api.rs` owns `tests/api/**`).
fn belongs_to_target(file: &Path, declared: &Path) -> bool {
    let declared = discover::absolute(declared);
    if file == declared {
        return true;
    }
    let Some(parent) = declared.parent() else {
        return false;
    };
    let own_folder = match declared.file_name().and_then(|n| n.to_str()) {
        Some("mod.rs") => parent.to_path_buf(),
        _ => parent.join(declared.file_stem().unwrap_or_default()),
    };
    file.starts_with(own_folder)
}

/// Names of crates that exist to support tests: `foo_test_utils`, `db-test-fakes`.
fn is_test_support_name(name: &str) -> bool {
    let name = name.replace('-', "_").to_ascii_lowercase();
    [
        "test_utils",
        "test_util",
        "testutils",
        "test_fakes",
        "test_helpers",
        "test_support",
        "testing",
        "_tests",
        "_fixtures",
    ]
    .iter()
    .any(|suffix| name.ends_with(suffix))
        || name.starts_with("test_")
}

/// What racelint reads from a `Cargo.toml`.
#[derive(Debug, Default)]
struct Manifest {
    name: Option<String>,
    is_workspace: bool,
    targets: Vec<Target>,
    /// Names of dependencies that ship with the program, and of dev-dependencies.
    dependencies: Vec<String>,
    dev_dependencies: Vec<String>,
    declares_bin: bool,
}

#[derive(Debug)]
struct Target {
    kind: &'static str,
    role: Role,
    path: String,
}

impl Manifest {
    fn parse(text: &str) -> Manifest {
        let Ok(value) = text.parse::<toml::Table>() else {
            return Manifest::default();
        };
        let names = |table: Option<&toml::Value>| -> Vec<String> {
            table
                .and_then(toml::Value::as_table)
                .map(|t| {
                    t.iter()
                        .map(|(key, spec)| {
                            // `alias = { package = "real-name" }` depends on real-name.
                            spec.get("package")
                                .and_then(toml::Value::as_str)
                                .unwrap_or(key)
                                .replace('-', "_")
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut dependencies = names(value.get("dependencies"));
        dependencies.extend(names(value.get("build-dependencies")));
        let mut dev_dependencies = names(value.get("dev-dependencies"));
        if let Some(targets) = value.get("target").and_then(toml::Value::as_table) {
            for spec in targets.values() {
                dependencies.extend(names(spec.get("dependencies")));
                dependencies.extend(names(spec.get("build-dependencies")));
                dev_dependencies.extend(names(spec.get("dev-dependencies")));
            }
        }
        let mut targets = Vec::new();
        for (kind, role) in [
            ("test", Role::Test),
            ("bench", Role::Test),
            ("example", Role::Script),
        ] {
            for target in value
                .get(kind)
                .and_then(toml::Value::as_array)
                .into_iter()
                .flatten()
            {
                let path = target
                    .get("path")
                    .and_then(toml::Value::as_str)
                    .map(str::to_string)
                    .or_else(|| {
                        let name = target.get("name")?.as_str()?;
                        let folder = if kind == "test" { "tests" } else { "benches" };
                        let folder = if kind == "example" {
                            "examples"
                        } else {
                            folder
                        };
                        Some(format!("{folder}/{name}.rs"))
                    });
                if let Some(path) = path {
                    targets.push(Target { kind, role, path });
                }
            }
        }
        Manifest {
            name: value
                .get("package")
                .and_then(|p| p.get("name"))
                .and_then(toml::Value::as_str)
                .map(str::to_string),
            is_workspace: value.contains_key("workspace"),
            targets,
            dependencies,
            dev_dependencies,
            declares_bin: value.contains_key("bin"),
        }
    }

    /// A crate with a program of its own is not merely test support.
    fn has_binary(&self, crate_dir: &Path) -> bool {
        self.declares_bin
            || crate_dir.join("src/main.rs").is_file()
            || crate_dir.join("src/bin").is_dir()
    }
}

/// The crates of one Cargo workspace and who depends on whom.
#[derive(Debug, Default)]
struct Workspace {
    /// (package name, normal dependencies, dev-dependencies), names with `_`.
    crates: Vec<(String, Vec<String>, Vec<String>)>,
}

impl Workspace {
    fn walk(top: &Path) -> Workspace {
        let mut crates = Vec::new();
        let walker = ignore::WalkBuilder::new(top)
            .hidden(true)
            .require_git(false)
            .follow_links(false)
            .filter_entry(|e| e.file_name() != "target" && e.file_name() != "node_modules")
            .build();
        for entry in walker.flatten() {
            if entry.file_name() != "Cargo.toml" {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(entry.path()) else {
                continue;
            };
            let manifest = Manifest::parse(&text);
            if let Some(name) = manifest.name {
                crates.push((
                    name.replace('-', "_"),
                    manifest.dependencies,
                    manifest.dev_dependencies,
                ));
            }
        }
        Workspace { crates }
    }

    /// The crates that depend on `name` normally, and those that take it only as a
    /// dev-dependency.
    fn users_of(&self, name: &str) -> (Vec<String>, Vec<String>) {
        let name = name.replace('-', "_");
        let mut users = Vec::new();
        let mut dev_users = Vec::new();
        for (user, deps, dev) in &self.crates {
            if deps.contains(&name) {
                users.push(user.clone());
            } else if dev.contains(&name) {
                dev_users.push(user.clone());
            }
        }
        (users, dev_users)
    }
}

/// Folders whose code is tests (compared lowercase).
const TEST_FOLDERS: &[&str] = &[
    "test",
    "tests",
    "__tests__",
    "__test__",
    "spec",
    "specs",
    "e2e",
    "playwright",
    "cypress",
    "__mocks__",
    "__fixtures__",
    // Load tests and benchmarks drive the app; they are not the app.
    "load-testing",
    "loadtesting",
    "loadtest",
    "loadtests",
    "benchmarks",
    "benchmark",
];

/// Test-runner modules a test file imports.
const TEST_IMPORTS: &[&str] = &[
    "vitest",
    "@jest/globals",
    "jest",
    "mocha",
    "@playwright/test",
    "node:test",
    "bun:test",
    "ava",
    "uvu",
];

/// Words in a program's name that mark a one-off job rather than a service.
const ONE_OFF_WORDS: &[&str] = &[
    "backfill", "import", "export", "cleanup", "clean", "clear", "fix", "populate", "reindex",
    "rebuild", "generate", "dump", "repair", "oneoff", "script", "bench", "reset", "create",
    "install", "load", "purge", "setup", "init",
];

/// The one-off word in a program's file stem (`backfill-users`, `create_app`), if
/// any; with `joined`, also one a word starts with, as Django spells its commands
/// (`populatedb`, `loaddata`).
fn one_off_word(stem: &str, joined: bool) -> Option<&'static str> {
    let words: Vec<&str> = stem.split(['-', '_']).collect();
    ONE_OFF_WORDS.iter().copied().find(|w| {
        words
            .iter()
            .any(|word| word == w || (joined && word.starts_with(w)))
    })
}

/// The role the path and text suggest, if not production.
fn guess(relative: &Path, text: &str) -> Option<Assigned> {
    let folders: Vec<String> = relative
        .parent()
        .into_iter()
        .flat_map(Path::components)
        .filter_map(|c| c.as_os_str().to_str())
        .map(str::to_ascii_lowercase)
        .collect();
    let name = relative
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let stem = name.split('.').next().unwrap_or_default().to_string();
    let python = name.ends_with(".py");

    // Tests.
    if let Some(folder) = folders.iter().find(|f| is_test_folder(f)) {
        return assigned(Role::Test, format!("under `{folder}/`"));
    }
    for marker in [".spec.", ".test.", ".stories.", ".story.", ".e2e.", ".cy."] {
        if name.contains(marker) {
            return assigned(Role::Test, format!("named `*{marker}*`"));
        }
    }
    if python && (name.starts_with("test_") || stem.ends_with("_test") || name == "conftest.py") {
        return assigned(Role::Test, format!("a pytest file (`{name}`)"));
    }
    // `utilities/testing/`: a Python package of test helpers (factories, base
    // test cases), by the name Django and pytest plugins give theirs.
    if python && folders.iter().any(|f| *f == "testing") {
        return assigned(Role::Test, "in a Python `testing/` package");
    }
    if name.ends_with(".rs")
        && matches!(
            stem.as_str(),
            "tests" | "test" | "test_utils" | "test_helpers"
        )
    {
        return assigned(Role::Test, format!("a Rust test module (`{name}`)"));
    }
    if let Some(module) = imported_test_runner(text) {
        return assigned(Role::Test, format!("imports `{module}`"));
    }

    // Migrations. A `.sql` migration that defines a function is where the
    // production function lives: the application calls it on every request.
    let sql_function = relative.extension().is_some_and(|e| e == "sql") && {
        let lower = text.to_ascii_lowercase();
        lower.contains("create") && (lower.contains("function") || lower.contains("procedure"))
    };
    if sql_function {
        return None;
    }
    if let Some(folder) = folders
        .iter()
        .find(|f| f.contains("migration") || *f == "migrate")
    {
        return assigned(Role::Migration, format!("under `{folder}/`"));
    }
    if folders
        .windows(2)
        .any(|w| w[0] == "alembic" && w[1] == "versions")
    {
        return assigned(Role::Migration, "an Alembic revision");
    }
    // An Alembic revision kept elsewhere (`database/revisions/tenant/versions/`):
    // the folder and the revision identifiers Alembic writes into each one.
    if name.ends_with(".py")
        && folders.last().is_some_and(|f| *f == "versions")
        && text.contains("down_revision")
        && text.contains("def upgrade")
    {
        return assigned(Role::Migration, "an Alembic revision");
    }
    if stem.contains("migrat") {
        return assigned(Role::Migration, format!("a migration runner (`{name}`)"));
    }

    // Seeds.
    if let Some(reason) = seed_reason(&folders, &name, text) {
        return assigned(Role::Seed, reason);
    }

    // Scripts.
    if let Some(folder) = folders.iter().find(|f| *f == "scripts" || *f == "script") {
        return assigned(Role::Script, format!("under `{folder}/`"));
    }
    if folders.last().is_some_and(|f| f == "bin") {
        if let Some(word) = one_off_word(&stem, false) {
            return assigned(
                Role::Script,
                format!("a one-off program in `bin/` (`{word}`)"),
            );
        }
    }
    // A Django management command (`<app>/management/commands/<name>.py`) is a
    // program an operator runs; named for a one-off job, it runs alone. Others
    // (`process_queue`, `runworker`) are services and stay production.
    if python && folders.ends_with(&["management".to_string(), "commands".to_string()]) {
        if let Some(word) = one_off_word(&stem, true) {
            return assigned(
                Role::Script,
                format!("a one-off Django management command (`{word}`)"),
            );
        }
    }
    None
}

fn is_test_folder(folder: &str) -> bool {
    TEST_FOLDERS.contains(&folder)
        || ["-tests", "_tests", "-test", "_test", "-e2e", "_e2e"]
            .iter()
            .any(|s| folder.ends_with(s))
        || ["test-", "test_", "tests-", "e2e-"]
            .iter()
            .any(|p| folder.starts_with(p))
}

/// The test runner a JavaScript or TypeScript file imports, if any.
fn imported_test_runner(text: &str) -> Option<&'static str> {
    TEST_IMPORTS.iter().copied().find(|module| {
        [
            "from '",
            "from \"",
            "require('",
            "require(\"",
            "import '",
            "import \"",
        ]
        .iter()
        .any(|opening| {
            let quote = &opening[opening.len() - 1..];
            text.contains(&format!("{opening}{module}{quote}"))
        })
    })
}

/// Why a file is a database seed: named so (`prisma/seed.ts`, `users.seed.ts`,
/// `CreateUsers.seeder.ts`), or kept in a seed folder and reading like a seed
/// (`export async function seed(knex)`, `queryInterface`, `implements Seeder`), or
/// kept in a seed folder of the database's own folder (`prisma/seed/`, `db/seeds/`).
fn seed_reason(folders: &[String], name: &str, text: &str) -> Option<String> {
    const FOLDERS: [&str; 4] = ["seed", "seeds", "seeders", "seeding"];
    const SEED_CODE: [&str; 4] = ["function seed", "exports.seed", "queryInterface", "Seeder"];
    const DATABASE_FOLDERS: [&str; 4] = ["prisma", "db", "database", "drizzle"];
    if name.split('.').next() == Some("seed")
        || name.contains(".seed.")
        || name.contains(".seeder.")
    {
        return Some(format!("named as a seed (`{name}`)"));
    }
    let at = folders
        .iter()
        .rposition(|f| FOLDERS.contains(&f.as_str()))?;
    if folders
        .last()
        .is_some_and(|f| FOLDERS.contains(&f.as_str()))
        && SEED_CODE.iter().any(|code| text.contains(code))
    {
        return Some(format!(
            "in a `{}/` folder and reads like a seed",
            folders[at]
        ));
    }
    (at > 0 && DATABASE_FOLDERS.contains(&folders[at - 1].as_str()))
        .then(|| format!("under `{}/{}/`", folders[at - 1], folders[at]))
}

/// Marks the functions of a Rust file that only tests call: helpers whose every
/// caller in the file is test code (`#[test]`, `#[cfg(test)]`) run alone too.
pub fn mark_test_helpers(model: &mut FileModel) {
    loop {
        let alone: HashMap<&str, bool> = model
            .functions
            .iter()
            .map(|f| (f.name.as_str(), f.runs_alone))
            .collect();
        let mut callers: HashMap<String, (usize, usize)> = HashMap::new();
        for function in &model.functions {
            for call in &function.calls {
                let entry = callers.entry(call.callee.clone()).or_default();
                entry.0 += 1;
                if alone.get(function.name.as_str()) == Some(&true) {
                    entry.1 += 1;
                }
            }
        }
        let mut changed = false;
        for function in &mut model.functions {
            if function.runs_alone {
                continue;
            }
            let short = function
                .name
                .rsplit(['.', ':'])
                .next()
                .unwrap_or(&function.name);
            let counts = callers
                .get(&function.name)
                .or_else(|| callers.get(short))
                .copied();
            if let Some((all, from_tests)) = counts {
                if all > 0 && all == from_tests {
                    function.runs_alone = true;
                    changed = true;
                }
            }
        }
        if !changed {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(path: &str, text: &str) -> Role {
        guess(Path::new(path), text).map_or(Role::Production, |a| a.role)
    }

    #[test]
    fn tests_by_folder_name_and_import() {
        for path in [
            "apps/web/e2e/invite.spec.ts",
            "packages/app-tests/src/flows/signup.ts",
            "src/__tests__/invite.ts",
            "apps/server/src/routes/monitor.test.ts",
            "playwright/fixtures/users.ts",
            "packages/dev-server/load-testing/init-load-test.ts",
            "benchmarks/checkout.ts",
            "cypress/support/db.ts",
            "src/components/Button.stories.tsx",
            "tests/test_invites.py",
            "app/users/test_views.py",
            "app/users/views_test.py",
            "app/conftest.py",
            "crates/db/src/tests.rs",
        ] {
            assert_eq!(role(path, ""), Role::Test, "{path}");
        }
        assert_eq!(
            role("src/lib/check.ts", "import { describe, it } from 'vitest';"),
            Role::Test
        );
        assert_eq!(
            role(
                "src/lib/flow.ts",
                "import { test, expect } from \"@playwright/test\";"
            ),
            Role::Test
        );
        for path in [
            "src/lib/testimonials.ts",
            "src/contest/entry.ts",
            "src/latest.ts",
        ] {
            assert_eq!(
                role(path, "import x from 'vitest-like';"),
                Role::Production,
                "{path}"
            );
        }
    }

    #[test]
    fn scripts_migrations_and_seeds() {
        assert_eq!(role("scripts/backfill-slugs.ts", ""), Role::Script);
        assert_eq!(role("src/bin/backfill_users.rs", ""), Role::Script);
        assert_eq!(role("src/bin/server.rs", ""), Role::Production);
        assert_eq!(role("bin/www.js", ""), Role::Production);
        assert_eq!(
            role("shop/core/management/commands/populatedb.py", ""),
            Role::Script
        );
        assert_eq!(
            role("shop/app/management/commands/install_app.py", ""),
            Role::Script
        );
        assert_eq!(
            role(
                "netbox/extras/management/commands/populate_image_sizes.py",
                ""
            ),
            Role::Script
        );
        assert_eq!(
            role("chat/management/commands/process_queue.py", ""),
            Role::Production
        );
        assert_eq!(
            role("src/migrations/1700000000-AddUsers.ts", ""),
            Role::Migration
        );
        assert_eq!(role("db/migrate/20240101_add.js", ""), Role::Migration);
        assert_eq!(
            role("alembic/versions/abc123_add_users.py", ""),
            Role::Migration
        );
        assert_eq!(
            role("app/users/migrations/0002_data.py", ""),
            Role::Migration
        );
        assert_eq!(role("netbox/utilities/testing/utils.py", ""), Role::Test);
        assert_eq!(
            role(
                "src/app/database/revisions/tenant/versions/2023_01_30_e4b4.py",
                "revision = \"e4b4\"\ndown_revision = \"ce5c\"\n\ndef upgrade():\n    pass\n",
            ),
            Role::Migration
        );
        assert_eq!(role("packages/prisma/seed/users.ts", ""), Role::Seed);
        assert_eq!(role("prisma/seed.ts", ""), Role::Seed);
        assert_eq!(
            role(
                "db/seeds/01_users.js",
                "export async function seed(knex) {}"
            ),
            Role::Seed
        );
        // Cases kept in a folder named after seed reports are ordinary code.
        assert_eq!(role("eval/seeds/000/app.ts", ""), Role::Production);
        assert_eq!(
            role("eval/seeds/app.ts", "await prisma.user.create({ data })"),
            Role::Production
        );
        assert_eq!(role("cases/seed-000-trace.ts", ""), Role::Production);
        assert_eq!(role("src/seedling.ts", ""), Role::Production);
    }

    #[test]
    fn cargo_manifests_declare_targets_and_dev_only_crates() {
        let manifest = Manifest::parse(
            "[package]\nname = \"app\"\n[[test]]\nname = \"it\"\npath = \"src/tests/mod.rs\"\n\
             [[bench]]\nname = \"speed\"\n[dev-dependencies]\napp-test-fakes = { path = \"../f\" }\n",
        );
        assert_eq!(manifest.targets.len(), 2);
        assert_eq!(manifest.targets[0].path, "src/tests/mod.rs");
        assert_eq!(manifest.targets[1].path, "benches/speed.rs");
        assert_eq!(manifest.dev_dependencies, ["app_test_fakes"]);
        assert!(belongs_to_target(
            Path::new("/p/src/tests/users.rs"),
            Path::new("/p/src/tests/mod.rs")
        ));
        assert!(!belongs_to_target(
            Path::new("/p/src/users.rs"),
            Path::new("/p/src/tests/mod.rs")
        ));
        assert!(is_test_support_name("lemmy_db_schema_test_utils"));
        assert!(is_test_support_name("svix-test-fakes"));
        assert!(!is_test_support_name("contest"));
    }
}
