//! Separate schemas for the separate packages of a monorepo.
//!
//! A schema source belongs to its *package*: the nearest folder above it, within
//! the project root, that holds `package.json`, `Cargo.toml`, `pyproject.toml`,
//! `racelint.toml` or a `prisma/` folder (else the project root). For a table the
//! sources of the packages whose folder contains a file declare (its own package
//! and those around it, merged as one project's sources always are), the file
//! sees their keys, foreign keys, version column and database; everything else —
//! the table's other names, and every table they do not declare — comes from
//! the merged schema of the whole project. So two apps that each keep a `users`
//! table keep their own keys, while an app with no schema of its own still sees
//! the shared `packages/db`.
//!
//! Two sibling packages that declare one table differently are a
//! [`Conflict`]: files that take the table from the merged schema see the two
//! combined (the first's keys, plus the other's unique keys), which fits
//! neither. It is reported once per run, as a `schema-conflict` problem, when
//! some file does take the table from there.

use super::{fold_name, Schema, Table};
use crate::diagnostic::{ErrorKind, RunError};
use crate::source::Position;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

/// Files whose presence makes a folder a package.
const MARKERS: [&str; 4] = [
    "package.json",
    "Cargo.toml",
    "pyproject.toml",
    crate::config::CONFIG_FILE,
];

/// The package of a schema source at `path`, below `root`.
pub(crate) fn package_of(root: &Path, path: &Path) -> PathBuf {
    path.ancestors()
        .skip(1)
        .take_while(|dir| dir.starts_with(root))
        .find(|dir| MARKERS.iter().any(|m| dir.join(m).is_file()) || dir.join("prisma").is_dir())
        .unwrap_or(root)
        .to_path_buf()
}

/// The sources (by index) grouped by package, packages sorted by folder.
pub(crate) fn by_package<'a>(
    root: &Path,
    sources: impl Iterator<Item = (usize, &'a Path)>,
) -> Vec<(PathBuf, Vec<usize>)> {
    let mut packages: BTreeMap<PathBuf, Vec<usize>> = BTreeMap::new();
    let mut known: BTreeMap<PathBuf, PathBuf> = BTreeMap::new();
    for (index, path) in sources {
        let folder = path.parent().unwrap_or(root).to_path_buf();
        let package = known
            .entry(folder)
            .or_insert_with(|| package_of(root, path))
            .clone();
        packages.entry(package).or_default().push(index);
    }
    packages.into_iter().collect()
}

/// One package's schema: its own sources merged, and those of the packages
/// around it too (what its files see before the merged schema fills in).
#[derive(Debug, Default)]
pub struct PackageSchema {
    /// Absolute.
    pub folder: PathBuf,
    pub own: Schema,
    pub view: Schema,
}

/// What a package's files see.
#[derive(Debug)]
struct View {
    folder: PathBuf,
    schema: Schema,
    /// Tables the package (or one around it) declares, by lower-cased name.
    declared: HashSet<String>,
}

/// Two packages that declare a table differently.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    /// The table's database name.
    pub table: String,
    /// `path:line` of each declaration, the first package's first.
    pub first: String,
    pub second: String,
    /// What differs, each in words.
    pub differences: Vec<String>,
}

/// The schemas of a run: the merged one, and a view per package when sources
/// lie in more than one.
#[derive(Debug, Default)]
pub struct Schemas {
    merged: Schema,
    views: Vec<View>,
    conflicts: Vec<Conflict>,
    databases: super::dialect::Databases,
}

impl From<Schema> for Schemas {
    fn from(merged: Schema) -> Self {
        Schemas {
            merged,
            ..Schemas::default()
        }
    }
}

impl Schemas {
    /// The schemas of a discovery: its merged schema, and for each package its
    /// view completed from the merged schema.
    pub fn new(merged: Schema, packages: Vec<PackageSchema>) -> Schemas {
        let conflicts = conflicts(&packages);
        let views = packages
            .into_iter()
            .map(|p| {
                let declared: HashSet<String> = p
                    .view
                    .tables
                    .iter()
                    .map(|t| t.name.to_lowercase())
                    .collect();
                View {
                    folder: p.folder,
                    schema: completed(p.view, &merged),
                    declared,
                }
            })
            .collect();
        Schemas {
            merged,
            views,
            conflicts,
            databases: Default::default(),
        }
    }

    /// These schemas, with the database each folder's configuration names.
    pub fn with_databases(self, databases: super::dialect::Databases) -> Schemas {
        Schemas { databases, ..self }
    }

    /// The database the configuration of the file at `path`'s package (or the
    /// nearest one around it that says) names, for tables whose own source does
    /// not say.
    pub fn database_for(&self, path: &Path) -> super::dialect::Dialect {
        self.databases.for_file(path)
    }

    /// The schema of the whole project, every source merged.
    pub fn merged(&self) -> &Schema {
        &self.merged
    }

    /// The view of the innermost package with sources that contains `path`.
    fn view_of(&self, path: &Path) -> Option<&View> {
        if self.views.is_empty() {
            return None;
        }
        let path = crate::discover::absolute(path);
        self.views
            .iter()
            .filter(|v| path.starts_with(&v.folder))
            .max_by_key(|v| v.folder.components().count())
    }

    /// The schema the file at `path` sees.
    pub fn for_file(&self, path: &Path) -> &Schema {
        self.view_of(path).map_or(&self.merged, |v| &v.schema)
    }

    /// The conflicts some of `files` meet: a file takes the table from the
    /// merged schema because no package around it declares it. Each is one
    /// `schema-conflict` problem placed at the first declaration; `root` is what
    /// the sources' paths are relative to.
    pub fn conflicts_met<'a>(
        &self,
        root: &Path,
        files: impl IntoIterator<Item = &'a Path>,
    ) -> Vec<RunError> {
        if self.conflicts.is_empty() {
            return Vec::new();
        }
        // Files of one folder see one view: one answer per distinct view.
        let mut seen: Vec<Option<&View>> = Vec::new();
        for file in files {
            let view = self.view_of(file);
            if !seen
                .iter()
                .any(|v| v.map(|v| &v.folder) == view.map(|v| &v.folder))
            {
                seen.push(view);
            }
        }
        self.conflicts
            .iter()
            .filter(|c| {
                let key = c.table.to_lowercase();
                seen.iter()
                    .any(|v| v.is_none_or(|v| !v.declared.contains(&key)))
            })
            .map(|c| problem(root, c))
            .collect()
    }

    /// Every conflict, whoever meets it (`racelint schema`).
    pub fn all_conflicts(&self, root: &Path) -> Vec<RunError> {
        self.conflicts.iter().map(|c| problem(root, c)).collect()
    }
}

/// A package's view completed from the merged schema: of a table the package
/// (or one around it) declares, the keys, foreign keys, version column and
/// database are the package's, and its other names the whole project's; every
/// other table is the merged one.
fn completed(view: Schema, merged: &Schema) -> Schema {
    let mut tables = merged.tables.clone();
    for own in view.tables {
        let key = own.name.to_lowercase();
        let Some(table) = tables.iter_mut().find(|t| t.name.to_lowercase() == key) else {
            tables.push(own);
            continue;
        };
        table.aliases.extend(own.aliases);
        table.aliases.sort();
        table.aliases.dedup();
        table.database = own.database.or(table.database);
        table.sources = own.sources;
        table.primary_key = own.primary_key;
        table.unique = own.unique;
        table.foreign_keys = own.foreign_keys;
        table.version_column = own.version_column;
        table.version_declared = own.version_declared;
        table.emulated_relations = own.emulated_relations;
    }
    tables.sort_by(|a, b| a.name.cmp(&b.name));
    Schema { tables }
}

/// A `path:line` source, relative to `root`, as the run shows paths.
fn place(root: &Path, source: &str) -> (String, Option<Position>) {
    let (path, line) = match source.rsplit_once(':') {
        Some((path, line)) => (path, line.parse::<u32>().ok()),
        None => (source, None),
    };
    let shown = crate::discover::display_path(&root.join(path));
    (shown, line.map(|line| Position { line, column: 1 }))
}

fn problem(root: &Path, c: &Conflict) -> RunError {
    let (first_path, first_line) = place(root, &c.first);
    let (second_path, second_line) = place(root, &c.second);
    let at = |path: &str, line: Option<Position>| match line {
        Some(p) => format!("{path}:{}", p.line),
        None => path.to_string(),
    };
    RunError {
        kind: ErrorKind::SchemaConflict,
        message: format!(
            "table `{}` is declared differently by {} and {}: {}; a file in neither of their \
             packages sees the two merged",
            c.table,
            at(&first_path, first_line),
            at(&second_path, second_line),
            c.differences.join("; ")
        ),
        path: first_path,
        position: first_line,
    }
}

/// Every table two sibling packages (neither inside the other) declare
/// differently, each package compared with the first earlier one that declares
/// the table and does not contain it (files inside both see them merged as one
/// project's sources, like any others).
fn conflicts(packages: &[PackageSchema]) -> Vec<Conflict> {
    let mut out = Vec::new();
    let mut declared: BTreeMap<String, Vec<(&PackageSchema, &Table)>> = BTreeMap::new();
    for package in packages {
        for table in &package.own.tables {
            let earlier = declared.entry(table.name.to_lowercase()).or_default();
            let sibling = earlier
                .iter()
                .find(|(other, _)| !package.folder.starts_with(&other.folder))
                .map(|(_, theirs)| *theirs);
            earlier.push((package, table));
            let Some(theirs) = sibling else {
                continue;
            };
            let differences = differences(theirs, table);
            if !differences.is_empty() {
                out.push(Conflict {
                    table: theirs.name.clone(),
                    first: theirs.sources.first().cloned().unwrap_or_default(),
                    second: table.sources.first().cloned().unwrap_or_default(),
                    differences,
                });
            }
        }
    }
    out
}

fn columns(c: &[String]) -> String {
    format!("({})", c.join(", "))
}

fn same_columns(a: &[String], b: &[String]) -> bool {
    let norm = |c: &[String]| {
        let mut v: Vec<String> = c.iter().map(|x| fold_name(x)).collect();
        v.sort();
        v
    };
    norm(a) == norm(b)
}

/// What two declarations of a table disagree on, in words: primary key, unique
/// keys, foreign keys and their ON DELETE, version column. (Plain columns are
/// not part of racelint's schema.)
fn differences(a: &Table, b: &Table) -> Vec<String> {
    let mut out = Vec::new();
    if !a.primary_key.is_empty()
        && !b.primary_key.is_empty()
        && !same_columns(&a.primary_key, &b.primary_key)
    {
        out.push(format!(
            "primary key {} against {}",
            columns(&a.primary_key),
            columns(&b.primary_key)
        ));
    }
    let only = |x: &Table, y: &Table| -> Vec<String> {
        x.unique
            .iter()
            .filter(|u| !y.unique.iter().any(|v| same_columns(u, v)))
            .filter(|u| !same_columns(u, &y.primary_key))
            .map(|u| columns(u))
            .collect()
    };
    for (keys, which) in [(only(a, b), "first"), (only(b, a), "second")] {
        if !keys.is_empty() {
            out.push(format!("unique {} only in the {which}", keys.join(", ")));
        }
    }
    for fk in &a.foreign_keys {
        let same = b.foreign_keys.iter().find(|x| {
            same_columns(&x.columns, &fk.columns)
                && fold_name(&x.references) == fold_name(&fk.references)
        });
        match same {
            Some(x) if fk.on_delete_known && x.on_delete_known && x.on_delete != fk.on_delete => {
                out.push(format!(
                    "ON DELETE {} against {} for {} → {}",
                    fk.on_delete.as_str(),
                    x.on_delete.as_str(),
                    columns(&fk.columns),
                    fk.references
                ))
            }
            Some(_) => {}
            None => out.push(format!(
                "foreign key {} → {} only in the first",
                columns(&fk.columns),
                fk.references
            )),
        }
    }
    for fk in &b.foreign_keys {
        if !a.foreign_keys.iter().any(|x| {
            same_columns(&x.columns, &fk.columns)
                && fold_name(&x.references) == fold_name(&fk.references)
        }) {
            out.push(format!(
                "foreign key {} → {} only in the second",
                columns(&fk.columns),
                fk.references
            ));
        }
    }
    if let (Some(x), Some(y)) = (&a.version_column, &b.version_column) {
        if fold_name(x) != fold_name(y) {
            out.push(format!("version column `{x}` against `{y}`"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{ForeignKey, OnDelete};

    fn users(source: &str, unique: &[&[&str]]) -> Table {
        Table {
            name: "users".into(),
            aliases: vec!["User".into()],
            sources: vec![source.into()],
            primary_key: vec!["id".into()],
            unique: unique
                .iter()
                .map(|u| u.iter().map(|c| c.to_string()).collect())
                .collect(),
            ..Table::default()
        }
    }

    fn package(folder: &str, tables: Vec<Table>) -> PackageSchema {
        PackageSchema {
            folder: PathBuf::from(folder),
            own: Schema {
                tables: tables.clone(),
            },
            view: Schema { tables },
        }
    }

    #[test]
    fn each_package_sees_its_own_table_and_others_the_merged_one() {
        let a = users("packages/a/schema.prisma:3", &[&["email"]]);
        let b = users("packages/b/schema.prisma:7", &[]);
        let merged = Schema {
            tables: vec![a.clone()],
        };
        let schemas = Schemas::new(
            merged,
            vec![
                package("/p/packages/a", vec![a]),
                package("/p/packages/b", vec![b]),
            ],
        );
        let unique = |path: &str| {
            schemas
                .for_file(Path::new(path))
                .unique_key_within("users", &["email"])
                .is_some()
        };
        assert!(unique("/p/packages/a/src/x.ts"));
        assert!(!unique("/p/packages/b/src/x.ts"));
        assert!(
            unique("/p/apps/web/x.ts"),
            "no package around it: the merged"
        );
        assert!(
            unique("/p/packages/bb/x.ts"),
            "`packages/bb` is not in `packages/b`"
        );

        // Only a file that takes `users` from the merged schema meets the conflict.
        let root = Path::new("/p");
        let inside = [
            Path::new("/p/packages/a/x.ts"),
            Path::new("/p/packages/b/y.ts"),
        ];
        assert!(schemas.conflicts_met(root, inside).is_empty());
        let met = schemas.conflicts_met(root, [Path::new("/p/apps/web/x.ts")]);
        assert_eq!(met.len(), 1, "{met:#?}");
        assert_eq!(met[0].kind, ErrorKind::SchemaConflict);
        assert_eq!(met[0].position.map(|p| p.line), Some(3));
        for part in [
            "`users`",
            "packages/a/schema.prisma:3",
            "packages/b/schema.prisma:7",
            "unique (email) only in the first",
        ] {
            assert!(met[0].message.contains(part), "{part}: {}", met[0].message);
        }
    }

    #[test]
    fn a_view_takes_keys_from_the_package_and_names_from_the_merged_schema() {
        let mut merged = users("packages/a/schema.prisma:3", &[&["email"]]);
        merged.aliases.push("Account".into());
        merged.database = Some(crate::schema::Database::Mysql);
        let own = users("packages/b/schema.prisma:7", &[]);
        let view = completed(
            Schema { tables: vec![own] },
            &Schema {
                tables: vec![merged],
            },
        );
        let t = &view.tables[0];
        assert!(t.unique.is_empty(), "the package's keys");
        assert_eq!(t.sources, ["packages/b/schema.prisma:7"]);
        assert_eq!(
            t.aliases,
            ["Account", "User"],
            "every name the project uses"
        );
        assert_eq!(t.database, Some(crate::schema::Database::Mysql));
    }

    #[test]
    fn differences_name_keys_and_delete_actions() {
        let fk = |on_delete| ForeignKey {
            columns: vec!["team_id".into()],
            references: "teams".into(),
            referenced_columns: vec!["id".into()],
            on_delete,
            on_delete_known: true,
            source: String::new(),
        };
        let mut a = users("a:1", &[]);
        a.foreign_keys.push(fk(OnDelete::Cascade));
        let mut b = users("b:1", &[&["email"]]);
        b.foreign_keys.push(fk(OnDelete::Restrict));
        assert_eq!(
            differences(&a, &b),
            [
                "unique (email) only in the second",
                "ON DELETE cascade against restrict for (team_id) → teams"
            ]
        );
        assert!(differences(&a, &a.clone()).is_empty());
    }

    #[test]
    fn nested_packages_are_no_conflict() {
        let outer = users("migrations/1.sql:1", &[&["email"]]);
        let inner = users("crates/db/src/schema.rs:1", &[]);
        let found = conflicts(&[
            package("/p", vec![outer]),
            package("/p/crates/db", vec![inner]),
        ]);
        assert!(found.is_empty(), "{found:#?}");
    }
}
