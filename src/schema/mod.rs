//! The database schema racelint discovered: tables, keys, foreign keys, version columns.
//!
//! Built once per run from every schema source under the project root (Prisma
//! schemas, SQL migrations, Drizzle tables, Diesel `table!`, SeaORM and TypeORM
//! entities) before the rules run. Rules ask it questions by the names code uses
//! (`prisma.ludicTrace`, a Drizzle variable `cards`, a Diesel module `users`).
//!
//! Each source has its own module that turns one file into a [`FileSchema`] and
//! never fails as a whole run; [`discover`] walks the project, runs them and merges
//! the results (migrations win over ORM declarations); [`output`] prints the result.

pub mod alembic;
pub mod dialect;
pub mod diesel;
pub mod discover;
pub mod django;
pub mod django_migrations;
pub mod drizzle;
mod migration_text;
pub mod migrations;
pub mod output;
pub mod packages;
pub mod prisma;
pub(crate) mod py;
pub mod py_models;
pub mod sea_orm;
pub mod sqlalchemy;
mod ts;
pub mod typeorm;

pub use discover::{
    candidates, discover, discover_reusing, discover_with, sources_in_code, MigrationFolders,
    ReadSources, SchemaDiscovery,
};
pub use output::{render_text, to_json};
pub use packages::Schemas;

use crate::diagnostic::RunError;
use crate::source::SourceFile;
use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnDelete {
    Cascade,
    SetNull,
    SetDefault,
    Restrict,
    NoAction,
}

impl OnDelete {
    /// SQL's words for an action, any case: `CASCADE`, `set null`, `No Action`.
    pub fn from_words(words: &str) -> Option<OnDelete> {
        match words.trim().to_ascii_lowercase().as_str() {
            "cascade" => Some(OnDelete::Cascade),
            "set null" => Some(OnDelete::SetNull),
            "set default" => Some(OnDelete::SetDefault),
            "restrict" => Some(OnDelete::Restrict),
            "no action" => Some(OnDelete::NoAction),
            _ => None,
        }
    }

    /// The contract's spelling: `cascade`, `set-null`, `set-default`, `restrict`, `no-action`.
    pub fn as_str(self) -> &'static str {
        match self {
            OnDelete::Cascade => "cascade",
            OnDelete::SetNull => "set-null",
            OnDelete::SetDefault => "set-default",
            OnDelete::Restrict => "restrict",
            OnDelete::NoAction => "no-action",
        }
    }

    /// Whether deleting the parent row takes care of the children by itself.
    pub fn handles_children(self) -> bool {
        matches!(
            self,
            OnDelete::Cascade | OnDelete::SetNull | OnDelete::SetDefault
        )
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ForeignKey {
    pub columns: Vec<String>,
    /// The referenced table's database name.
    pub references: String,
    pub referenced_columns: Vec<String>,
    pub on_delete: OnDelete,
    /// False when the source cannot say what happens on delete (Diesel's `joinable!`,
    /// a SeaORM relation without `on_delete`): `on_delete` then holds the database
    /// default, `no-action`, but rules should not build a finding on it.
    #[serde(skip)]
    pub on_delete_known: bool,
    /// `file:line` the fact came from.
    pub source: String,
}

impl ForeignKey {
    /// Whether the schema says that deleting a referenced parent row fails while this
    /// child row exists. Unknown actions answer false, so that rules stay quiet rather
    /// than guess.
    pub fn blocks_parent_delete(&self) -> bool {
        self.on_delete_known && !self.on_delete.handles_children()
    }

    /// The source wrote `RESTRICT` itself, asking the database to refuse deleting a
    /// parent that still has children, on purpose (SQL's default is NO ACTION).
    /// Prisma's default for a required relation is `Restrict`, and its schema does
    /// not say which was written, so a Prisma relation never counts.
    pub fn declares_restrict(&self) -> bool {
        self.on_delete == OnDelete::Restrict && !self.source.contains(".prisma:")
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Table {
    /// The table's name in the database.
    pub name: String,
    /// Names code uses for it: Prisma model and client property, Drizzle variable, Diesel module.
    pub aliases: Vec<String>,
    /// `file:line` of each declaration.
    pub sources: Vec<String>,
    pub primary_key: Vec<String>,
    pub unique: Vec<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_column: Option<String>,
    /// The ORM declares the version column as an optimistic lock (`@VersionColumn`,
    /// a `/// @racelint version` comment), rather than racelint guessing it from a
    /// column named `version`.
    #[serde(skip)]
    pub version_declared: bool,
    pub foreign_keys: Vec<ForeignKey>,
    /// The database the table lives in, when its source says (a Prisma
    /// datasource's `provider`, Drizzle's `mysqlTable`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<Database>,
    /// The ORM only emulates the foreign keys (Prisma's `relationMode = "prisma"`):
    /// the database enforces none of them.
    #[serde(skip)]
    pub emulated_relations: bool,
}

impl Table {
    /// How a delete is refused when the table's relations are only emulated by
    /// the ORM (the one schema source that emulates them is Prisma's
    /// `relationMode = "prisma"`).
    pub fn emulated_refusal(&self) -> &'static str {
        "Prisma Client refuses it (`P2014`, relations emulated with `relationMode = \"prisma\"`)"
    }
}

/// The database engines whose advice differs (locks, upserts, error codes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Database {
    Postgres,
    Mysql,
    Sqlite,
    SqlServer,
}

impl Database {
    /// A Prisma datasource `provider` (`postgresql`, `mysql`, `sqlite`, …).
    pub fn from_provider(provider: &str) -> Option<Database> {
        match provider {
            "postgresql" | "postgres" | "cockroachdb" => Some(Database::Postgres),
            "mysql" => Some(Database::Mysql),
            "sqlite" => Some(Database::Sqlite),
            "sqlserver" => Some(Database::SqlServer),
            _ => None,
        }
    }

    /// A name as configuration spells it (`database = "mysql"`): the contract's
    /// names and the common others (`postgresql`, `mariadb`, `mssql`).
    pub fn from_name(name: &str) -> Option<Database> {
        match name.to_ascii_lowercase().as_str() {
            "postgres" | "postgresql" | "pg" => Some(Database::Postgres),
            "mysql" | "mariadb" => Some(Database::Mysql),
            "sqlite" | "sqlite3" => Some(Database::Sqlite),
            "sqlserver" | "mssql" => Some(Database::SqlServer),
            _ => None,
        }
    }

    /// The product's name, for advice that names each of several.
    pub fn name(self) -> &'static str {
        match self {
            Database::Postgres => "PostgreSQL",
            Database::Mysql => "MySQL",
            Database::Sqlite => "SQLite",
            Database::SqlServer => "SQL Server",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Database::Postgres => "postgres",
            Database::Mysql => "mysql",
            Database::Sqlite => "sqlite",
            Database::SqlServer => "sqlserver",
        }
    }

    /// How the database reports a unique violation.
    pub fn unique_violation(self) -> &'static str {
        match self {
            Database::Postgres => "SQLSTATE `23505`",
            Database::Mysql => "error `1062` (`ER_DUP_ENTRY`)",
            Database::Sqlite => "`SQLITE_CONSTRAINT_UNIQUE`",
            Database::SqlServer => "error `2627`",
        }
    }

    /// How the database reports a foreign-key violation.
    pub fn foreign_key_violation(self) -> &'static str {
        match self {
            Database::Postgres => "SQLSTATE `23503`",
            Database::Mysql => "error `1452` (`ER_NO_REFERENCED_ROW_2`)",
            Database::Sqlite => "`SQLITE_CONSTRAINT_FOREIGNKEY`",
            Database::SqlServer => "error `547`",
        }
    }

    /// How to lock a row, or serialise on a key, in words.
    pub fn row_lock(self) -> &'static str {
        match self {
            Database::Postgres => "`SELECT … FOR UPDATE`, or `pg_advisory_xact_lock` on the key",
            Database::Mysql => "`SELECT … FOR UPDATE`, or `GET_LOCK` on the key",
            Database::Sqlite => "a write transaction begun with `BEGIN IMMEDIATE`",
            Database::SqlServer => "`WITH (UPDLOCK, HOLDLOCK)`",
        }
    }
}

/// What one schema file declares, before merging. Foreign keys may still name the
/// referenced table by a code name (a Prisma model, a Drizzle variable); the merge
/// resolves them to database names.
#[derive(Clone, Debug, Default)]
pub struct FileSchema {
    pub tables: Vec<Table>,
    /// Things skipped or guessed, for `--verbose`.
    pub notes: Vec<String>,
    /// Set when the file could not be understood at all.
    pub error: Option<RunError>,
}

/// `path:line` of a byte offset, the form every `source` takes.
pub(crate) fn source_at(file: &SourceFile, offset: usize) -> String {
    format!(
        "{}:{}",
        file.display_path,
        file.position(offset as u32).line
    )
}

/// A [`SourceFile`] for a schema file whose display path is relative to the root.
pub(crate) fn schema_file(rel_path: &str, text: &str) -> SourceFile {
    SourceFile::new(rel_path.into(), rel_path.to_string(), text.to_string())
}

/// A whole-file failure, placed at `offset`.
pub(crate) fn schema_error(file: &SourceFile, offset: usize, message: String) -> RunError {
    RunError {
        kind: crate::diagnostic::ErrorKind::SchemaError,
        path: file.display_path.clone(),
        message,
        position: Some(file.position(offset as u32)),
    }
}

/// `LudicTrace` → `ludicTrace`: how Prisma names a model's client property (only the
/// first character changes, so `URLRecord` becomes `uRLRecord`).
pub fn lower_first(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// `FruitId` / `userProfile` → `fruit_id` / `user_profile`: SeaORM column variants and
/// TypeORM's default table names.
pub fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() {
            let prev_lower =
                i > 0 && (chars[i - 1].is_lowercase() || chars[i - 1].is_ascii_digit());
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            let prev_upper = i > 0 && chars[i - 1].is_uppercase();
            if i > 0 && (prev_lower || (prev_upper && next_lower)) && !out.ends_with('_') {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Schema {
    pub tables: Vec<Table>,
}

/// A folded form of a name, so that `LudicTrace`, `ludicTrace`, `ludic_trace` and
/// `ludic_traces` meet.
pub fn fold_name(name: &str) -> String {
    let base = name.rsplit('.').next().unwrap_or(name);
    let mut folded: String = base
        .chars()
        .filter(|c| *c != '_' && *c != '"' && *c != '`')
        .flat_map(char::to_lowercase)
        .collect();
    if folded.ends_with("ies") && folded.len() > 4 {
        folded.truncate(folded.len() - 3);
        folded.push('y');
    } else if folded.ends_with("ses") || folded.ends_with("xes") {
        folded.truncate(folded.len() - 2);
    } else if folded.ends_with('s') && !folded.ends_with("ss") && folded.len() > 1 {
        folded.pop();
    }
    folded
}

impl Schema {
    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }

    /// The table a code name refers to: exact database name, then an alias, then
    /// the folded form of either.
    pub fn table(&self, code_name: &str) -> Option<&Table> {
        self.tables
            .iter()
            .find(|t| t.name == code_name || t.aliases.iter().any(|a| a == code_name))
            .or_else(|| {
                let folded = fold_name(code_name);
                self.tables.iter().find(|t| {
                    fold_name(&t.name) == folded || t.aliases.iter().any(|a| fold_name(a) == folded)
                })
            })
    }

    /// A stable identity for a code name: the database name when known, else the folded name.
    pub fn table_key(&self, code_name: &str) -> String {
        match self.table(code_name) {
            Some(t) => t.name.clone(),
            None => fold_name(code_name),
        }
    }

    /// The foreign keys of `child` that point at `parent`.
    pub fn foreign_keys_between<'a>(
        &'a self,
        child: &str,
        parent: &str,
    ) -> impl Iterator<Item = &'a ForeignKey> + 'a {
        let parent_key = self.table_key(parent);
        self.table(child)
            .into_iter()
            .flat_map(|t| t.foreign_keys.iter())
            .filter(move |fk| self.table_key(&fk.references) == parent_key)
    }

    /// Whether one table references the other by a foreign key, either way.
    pub fn related(&self, a: &str, b: &str) -> bool {
        self.foreign_keys_between(a, b).next().is_some()
            || self.foreign_keys_between(b, a).next().is_some()
    }

    /// Tables whose foreign keys point at `parent`, each with the key.
    pub fn children_of<'a>(&'a self, parent: &str) -> Vec<(&'a Table, &'a ForeignKey)> {
        let parent_key = self.table_key(parent);
        self.tables
            .iter()
            .flat_map(|t| t.foreign_keys.iter().map(move |fk| (t, fk)))
            .filter(|(_, fk)| self.table_key(&fk.references) == parent_key)
            .collect()
    }

    /// A unique key (or the primary key) made only of `columns`, if the schema has one.
    pub fn unique_key_within(&self, table: &str, columns: &[&str]) -> Option<Vec<String>> {
        let t = self.table(table)?;
        std::iter::once(&t.primary_key)
            .chain(t.unique.iter())
            .filter(|key| !key.is_empty())
            .find(|key| {
                key.iter()
                    .all(|k| columns.iter().any(|c| fold_name(c) == fold_name(k)))
            })
            .cloned()
    }

    pub fn version_column(&self, table: &str) -> Option<&str> {
        self.table(table)?.version_column.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folded_names_meet() {
        assert_eq!(fold_name("LudicTrace"), fold_name("ludic_traces"));
        assert_eq!(fold_name("categories"), fold_name("Category"));
        assert_eq!(fold_name("public.users"), "user");
        assert_eq!(fold_name("address"), "address");
    }

    #[test]
    fn case_conversions() {
        assert_eq!(lower_first("LudicTrace"), "ludicTrace");
        assert_eq!(snake_case("FruitId"), "fruit_id");
        assert_eq!(snake_case("UserProfile"), "user_profile");
        assert_eq!(snake_case("HTTPRequest"), "http_request");
        assert_eq!(snake_case("already_snake"), "already_snake");
    }

    #[test]
    fn unknown_actions_never_block() {
        let fk = ForeignKey {
            columns: vec!["user_id".into()],
            references: "users".into(),
            referenced_columns: vec!["id".into()],
            on_delete: OnDelete::NoAction,
            on_delete_known: false,
            source: "src/schema.rs:3".into(),
        };
        assert!(!fk.blocks_parent_delete());
        let known = ForeignKey {
            on_delete_known: true,
            ..fk.clone()
        };
        assert!(known.blocks_parent_delete());
        let cascade = ForeignKey {
            on_delete: OnDelete::Cascade,
            ..known
        };
        assert!(!cascade.blocks_parent_delete());
    }
}
