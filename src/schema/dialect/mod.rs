//! The database a package runs on, from its configuration, for advice a table's
//! own schema source cannot give (a Knex, sqlx, Django or Diesel app).
//!
//! Evidence comes from three places, each read where discovery already is:
//! manifests (`Cargo.toml` features and crates, `package.json` drivers,
//! `pyproject.toml` / `requirements*.txt` drivers), which the schema walk now
//! also keeps, one small read each; and configuration in code (a knexfile's
//! `client`, TypeORM's `DataSource({ type })`, Sequelize's `dialect`, Django's
//! `ENGINE`, a literal `create_engine` URL), found in the text schema discovery
//! reads anyway. A file's database is that of the nearest folder above it with
//! evidence: configuration in code outranks dependencies, and evidence for
//! several databases is [`Dialect::Several`], never a guess among them.

mod cargo;
mod node;
mod python;

pub use cargo::from_cargo;
pub use node::{from_package_json, in_typescript};
pub use python::{from_pyproject, from_requirements, in_python};

use super::Database;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A set of databases, in the order of [`Database`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DatabaseSet(u8);

impl DatabaseSet {
    const ALL: [Database; 4] = [
        Database::Postgres,
        Database::Mysql,
        Database::Sqlite,
        Database::SqlServer,
    ];

    fn bit(d: Database) -> u8 {
        1 << (d as u8)
    }

    pub fn insert(&mut self, d: Database) {
        self.0 |= Self::bit(d);
    }

    pub fn contains(self, d: Database) -> bool {
        self.0 & Self::bit(d) != 0
    }

    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Database> {
        Self::ALL.into_iter().filter(move |d| self.contains(*d))
    }
}

/// What racelint knows of the database a piece of code runs on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Dialect {
    /// Nothing says: advice is spelled for PostgreSQL, what most projects run.
    #[default]
    Unknown,
    One(Database),
    /// The project supports each of these (at least two): advice names each
    /// rather than pick one.
    Several(DatabaseSet),
}

impl Dialect {
    /// The dialect of a set of databases found.
    pub fn of(found: impl IntoIterator<Item = Database>) -> Dialect {
        let mut all = DatabaseSet::default();
        for d in found {
            all.insert(d);
        }
        match all.len() {
            0 => Dialect::Unknown,
            1 => all.iter().next().map_or(Dialect::Unknown, Dialect::One),
            _ => Dialect::Several(all),
        }
    }

    /// The one database, when known.
    pub fn one(&self) -> Option<Database> {
        match self {
            Dialect::One(d) => Some(*d),
            _ => None,
        }
    }

    /// `self`, or `other` when `self` knows nothing.
    pub fn or(self, other: Dialect) -> Dialect {
        match self {
            Dialect::Unknown => other,
            known => known,
        }
    }

    /// The database code should be spelled for: the one known, PostgreSQL when
    /// nothing is known, and none when the project supports several (the
    /// snippet must then work on each, or say what differs).
    pub fn spelled(&self) -> Option<Database> {
        match self {
            Dialect::Unknown => Some(Database::Postgres),
            Dialect::One(d) => Some(*d),
            Dialect::Several(_) => None,
        }
    }

    /// The databases advice must cover: one, or each supported.
    pub fn databases(&self) -> Vec<Database> {
        match self {
            Dialect::Unknown => vec![Database::Postgres],
            Dialect::One(d) => vec![*d],
            Dialect::Several(all) => all.iter().collect(),
        }
    }

    fn each(&self, words: fn(Database) -> &'static str) -> String {
        match self {
            Dialect::Several(all) => all
                .iter()
                .map(|d| format!("on {}, {}", d.name(), words(d)))
                .collect::<Vec<_>>()
                .join("; "),
            other => words(other.spelled().unwrap_or(Database::Postgres)).to_string(),
        }
    }

    /// How the database reports a unique violation (each, when several).
    pub fn unique_violation(&self) -> String {
        self.each(Database::unique_violation)
    }

    /// How the database reports a foreign-key violation (each, when several).
    pub fn foreign_key_violation(&self) -> String {
        self.each(Database::foreign_key_violation)
    }

    /// How to lock a row or serialise on a key, in words (each, when several).
    pub fn row_lock(&self) -> String {
        self.each(Database::row_lock)
    }
}

/// How strongly a piece of evidence says what the database is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Strength {
    /// A driver among the dependencies (some may serve tests or tools).
    Dependency,
    /// Configuration that connects (`client: 'mysql2'`, `ENGINE`, a URL).
    Config,
}

/// One fact about the database, and where it was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evidence {
    pub database: Database,
    pub strength: Strength,
    /// `Cargo.toml: sqlx feature "sqlite"`, for `racelint schema --verbose`.
    pub reason: String,
}

impl Evidence {
    pub(crate) fn dependency(database: Database, reason: String) -> Evidence {
        Evidence {
            database,
            strength: Strength::Dependency,
            reason,
        }
    }

    pub(crate) fn config(database: Database, reason: String) -> Evidence {
        Evidence {
            database,
            strength: Strength::Config,
            reason,
        }
    }
}

/// Whether a file is a manifest whose dependencies name a driver.
pub fn is_manifest(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    matches!(name, "Cargo.toml" | "package.json" | "pyproject.toml") || is_requirements(path)
}

fn is_requirements(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let in_folder = path
        .parent()
        .and_then(|p| p.file_name())
        .is_some_and(|f| f == "requirements");
    name.ends_with(".txt") && (name.starts_with("requirements") || in_folder)
}

/// What a manifest says, by its file name. Malformed text says nothing.
pub fn from_manifest(path: &Path, text: &str) -> Vec<Evidence> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    match name {
        "Cargo.toml" => from_cargo(text),
        "package.json" => from_package_json(text),
        "pyproject.toml" => from_pyproject(text),
        _ if is_requirements(path) => from_requirements(text),
        _ => Vec::new(),
    }
}

/// The folder whose database a manifest at `path` speaks for: its own, or for
/// `requirements/base.txt` the one above.
pub(crate) fn manifest_folder(path: &Path) -> PathBuf {
    let parent = path.parent().unwrap_or(Path::new(""));
    if is_requirements(path) && parent.file_name().is_some_and(|f| f == "requirements") {
        return parent.parent().unwrap_or(parent).to_path_buf();
    }
    parent.to_path_buf()
}

/// The databases of a project's folders, and which a file runs on.
#[derive(Clone, Debug, Default)]
pub struct Databases {
    /// Absolute folder → what was found there.
    found: BTreeMap<PathBuf, Vec<Evidence>>,
}

impl Databases {
    /// `evidence` is each folder's findings (folders absolute).
    pub fn new(evidence: impl IntoIterator<Item = (PathBuf, Vec<Evidence>)>) -> Databases {
        let mut found: BTreeMap<PathBuf, Vec<Evidence>> = BTreeMap::new();
        for (folder, e) in evidence {
            let all = found.entry(folder).or_default();
            for e in e {
                if !all.contains(&e) {
                    all.push(e);
                }
            }
        }
        found.retain(|_, e| !e.is_empty());
        Databases { found }
    }

    /// The database of the folder nearest above `path` that says anything.
    pub fn for_file(&self, path: &Path) -> Dialect {
        if self.found.is_empty() {
            return Dialect::Unknown;
        }
        let path = crate::discover::absolute(path);
        path.ancestors()
            .find_map(|dir| self.found.get(dir))
            .map_or(Dialect::Unknown, |e| decide(e))
    }

    /// Each folder with evidence, its dialect and the reasons (for `racelint schema`).
    pub fn folders(&self) -> impl Iterator<Item = (&Path, Dialect, &[Evidence])> {
        self.found
            .iter()
            .map(|(folder, e)| (folder.as_path(), decide(e), e.as_slice()))
    }
}

/// One folder's dialect: its strongest kind of evidence decides.
fn decide(evidence: &[Evidence]) -> Dialect {
    let Some(strongest) = evidence.iter().map(|e| e.strength).max() else {
        return Dialect::Unknown;
    };
    Dialect::of(
        evidence
            .iter()
            .filter(|e| e.strength == strongest)
            .map(|e| e.database),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dep(d: Database) -> Evidence {
        Evidence::dependency(d, String::new())
    }

    #[test]
    fn nearest_folder_decides_and_config_outranks_dependencies() {
        let dbs = Databases::new([
            (PathBuf::from("/p"), vec![dep(Database::Postgres)]),
            (
                PathBuf::from("/p/apps/api"),
                vec![
                    dep(Database::Postgres),
                    dep(Database::Sqlite),
                    Evidence::config(Database::Mysql, String::new()),
                ],
            ),
            (
                PathBuf::from("/p/apps/both"),
                vec![dep(Database::Mysql), dep(Database::Sqlite)],
            ),
        ]);
        assert_eq!(
            dbs.for_file(Path::new("/p/apps/api/src/x.ts")),
            Dialect::One(Database::Mysql)
        );
        assert_eq!(
            dbs.for_file(Path::new("/p/apps/web/src/x.ts")),
            Dialect::One(Database::Postgres),
            "the workspace root's"
        );
        assert_eq!(
            dbs.for_file(Path::new("/p/apps/both/x.rs")).databases(),
            [Database::Mysql, Database::Sqlite]
        );
        assert_eq!(dbs.for_file(Path::new("/q/x.rs")), Dialect::Unknown);
    }

    #[test]
    fn several_databases_name_each() {
        let d = Dialect::of([Database::Sqlite, Database::Mysql, Database::Sqlite]);
        let words = d.unique_violation();
        assert!(words.contains("on MySQL, error `1062`"), "{words}");
        assert!(
            words.contains("on SQLite, `SQLITE_CONSTRAINT_UNIQUE`"),
            "{words}"
        );
        assert!(!words.contains("23505"), "{words}");
        assert_eq!(d.spelled(), None);
        assert_eq!(Dialect::Unknown.spelled(), Some(Database::Postgres));
        assert_eq!(
            Dialect::Unknown.or(Dialect::One(Database::Mysql)),
            Dialect::One(Database::Mysql)
        );
    }

    #[test]
    fn manifest_names() {
        assert!(is_manifest(Path::new("/p/requirements/prod.txt")));
        assert_eq!(
            manifest_folder(Path::new("/p/requirements/prod.txt")),
            PathBuf::from("/p")
        );
        assert!(is_manifest(Path::new("/p/requirements-dev.txt")));
        assert!(!is_manifest(Path::new("/p/notes.txt")));
    }
}
