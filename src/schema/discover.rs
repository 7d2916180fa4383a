//! Finding the schema sources under a project root, parsing them in parallel and
//! merging what they say into one [`Schema`].
//!
//! Merge rules: tables meet by database name (case-insensitively). ORM sources add
//! to each other. Where migrations describe a table, its keys, foreign keys and
//! their delete actions are the migrations' — the database is what the migrations
//! built — and every fact an ORM states differently becomes a note. Aliases and
//! sources are always the union. Output order is fixed: files by path, tables by
//! name, sources by path and line.

use super::py_models::{self, ModelClass, Orm};
use super::{
    alembic, diesel, django, django_migrations, drizzle, fold_name, migrations, prisma, sea_orm,
    sqlalchemy, typeorm,
};
use super::{FileSchema, ForeignKey, Schema, Table};
use crate::diagnostic::{ErrorKind, RunError};
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// Schema files larger than this are dumps or generated bundles, not schemas.
const MAX_FILE_BYTES: u64 = 5 * 1024 * 1024;
const SKIP_DIRS: [&str; 5] = ["node_modules", "target", "dist", "build", ".next"];

/// What `discover` found: the merged schema, files it could not use, and notes on
/// what it skipped or which source won a disagreement (for `--verbose`).
#[derive(Debug, Default)]
pub struct SchemaDiscovery {
    pub schema: Schema,
    pub errors: Vec<RunError>,
    pub notes: Vec<String>,
    /// When sources lie in more than one package: each package's own schema
    /// and what its files see (`super::packages`); empty otherwise.
    pub packages: Vec<super::packages::PackageSchema>,
    /// The database each folder's configuration names (`super::dialect`).
    pub databases: super::dialect::Databases,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Prisma,
    Drizzle,
    TypeOrm,
    Diesel,
    SeaOrm,
    SqlAlchemy,
    Django,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Prisma => "Prisma",
            Kind::Drizzle => "Drizzle",
            Kind::TypeOrm => "TypeORM",
            Kind::Diesel => "Diesel",
            Kind::SeaOrm => "SeaORM",
            Kind::SqlAlchemy => "SQLAlchemy",
            Kind::Django => "Django",
        }
    }
}

#[derive(Clone)]
enum Parsed {
    Orm(Kind, FileSchema),
    /// Python model classes, made tables once every file's classes are known.
    Classes(Vec<ModelClass>),
    /// A Django settings module's `AUTH_USER_MODEL` label.
    UserModel(String),
    Migration(migrations::ParsedMigration),
    /// What a manifest (`manifest`) or configuration in code says of the database.
    Database {
        evidence: Vec<super::dialect::Evidence>,
        manifest: bool,
    },
    Error(RunError),
}

impl Parsed {
    /// Whether this says anything about tables (not a problem, not a setting).
    fn declares_tables(&self) -> bool {
        match self {
            Parsed::Orm(_, fs) => !fs.tables.is_empty(),
            Parsed::Classes(c) => !c.is_empty(),
            Parsed::Migration(_) => true,
            Parsed::UserModel(_) | Parsed::Error(_) | Parsed::Database { .. } => false,
        }
    }
}

fn rel_path(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.to_string_lossy().replace('\\', "/")
}

fn is_ts(ext: &str) -> bool {
    matches!(
        ext,
        "ts" | "tsx" | "mts" | "cts" | "js" | "jsx" | "mjs" | "cjs"
    )
}

/// Files that may hold schema, by extension alone; content decides later. Walking
/// for them can run while the code is being read (see [`discover_reusing`]).
pub fn candidates(root: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = ignore::WalkBuilder::new(root)
        .require_git(false)
        .filter_entry(|e| {
            !(e.file_type().is_some_and(|t| t.is_dir())
                && e.file_name()
                    .to_str()
                    .is_some_and(|n| SKIP_DIRS.contains(&n)))
        })
        .build()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_some_and(|t| t.is_file()))
        .map(ignore::DirEntry::into_path)
        .filter(|p| {
            if super::dialect::is_manifest(p) {
                return true;
            }
            let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            match ext {
                "prisma" => true,
                // Rollbacks describe the schema before, not after.
                "sql" => name != "down.sql" && !name.ends_with(".down.sql"),
                "rs" | "py" => true,
                e => is_ts(e) && !name.ends_with(".d.ts"),
            }
        })
        .collect();
    out.sort();
    out
}

/// Folders whose `.sql` files are migrations: Prisma, sqlx, Diesel and Supabase
/// `migrations/`, Drizzle's `drizzle/`, `db/migrate`.
const MIGRATION_DIRS: [&str; 4] = ["migrations", "migration", "migrate", "drizzle"];

/// Which `.sql` files are replayed into the schema: those in migration folders,
/// schema dumps (`schema.sql`, `structure.sql`, a `schema/` folder), and those the
/// configuration's `[schema] migrations` globs name. Any other `.sql` (a one-off
/// data script, a query file) never changes the schema.
#[derive(Clone, Debug, Default)]
pub struct MigrationFolders {
    /// Each configuration's globs (`None`: it has none), and which applies where.
    globs: Vec<Option<ignore::overrides::Override>>,
    index: crate::config::tree::ConfigIndex,
}

impl MigrationFolders {
    /// The `[schema] migrations` globs of each configuration, relative to the
    /// folder of the file that wrote them (`root` when none did); a `.sql` file
    /// is matched against those of its own configuration.
    pub fn new(configs: &crate::config::Configs, root: &Path) -> Result<MigrationFolders, String> {
        let mut all = Vec::new();
        for config in configs.all() {
            let globs = &config.schema.migrations;
            if globs.is_empty() {
                all.push(None);
                continue;
            }
            let mut builder = ignore::overrides::OverrideBuilder::new(globs.base_or(root));
            for g in &globs.patterns {
                builder
                    .add(g)
                    .map_err(|e| format!("invalid glob `{g}`: {e}"))?;
            }
            all.push(Some(builder.build().map_err(|e| e.to_string())?));
        }
        Ok(MigrationFolders {
            globs: all,
            index: configs.index().clone(),
        })
    }

    fn holds(&self, root: &Path, path: &Path) -> bool {
        let rel = path.strip_prefix(root).unwrap_or(path);
        let name = rel.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let mut folders = rel.parent().into_iter().flat_map(Path::components);
        folders.any(|c| {
            c.as_os_str()
                .to_str()
                .is_some_and(|c| MIGRATION_DIRS.contains(&c) || c == "schema")
        }) || matches!(name, "schema.sql" | "structure.sql")
            || self
                .globs
                .get(self.index.of(path))
                .and_then(Option::as_ref)
                .is_some_and(|g| g.matched(path, false).is_whitelist())
    }
}

fn read_error(kind: ErrorKind, rel: &str, message: String) -> Parsed {
    Parsed::Error(RunError {
        kind,
        path: rel.to_string(),
        message,
        position: None,
    })
}

fn parse_file(root: &Path, path: &Path) -> Vec<Parsed> {
    let rel = rel_path(root, path);
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let declared = matches!(ext, "prisma" | "sql");
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    if size > MAX_FILE_BYTES {
        return if declared {
            vec![read_error(
                ErrorKind::Skipped,
                &rel,
                format!("schema file of {size} bytes is over the 5 MB limit"),
            )]
        } else {
            Vec::new()
        };
    }
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if declared => return vec![read_error(ErrorKind::ReadError, &rel, e.to_string())],
        Err(_) => return Vec::new(),
    };
    if super::dialect::is_manifest(path) {
        let text = String::from_utf8_lossy(&bytes);
        let evidence = super::dialect::from_manifest(path, &text);
        return if evidence.is_empty() {
            Vec::new()
        } else {
            vec![Parsed::Database {
                evidence,
                manifest: true,
            }]
        };
    }
    match String::from_utf8(bytes) {
        Ok(text) => parse_text(&rel, ext, &text),
        Err(e) => {
            let lossy = String::from_utf8_lossy(e.as_bytes()).into_owned();
            if declared || !kinds_in(&rel, ext, &lossy).is_empty() {
                vec![read_error(ErrorKind::ReadError, &rel, "not UTF-8".into())]
            } else {
                Vec::new()
            }
        }
    }
}

/// Which ORM schemas a file of this extension may define, by the markers they need.
fn kinds_in(rel: &str, ext: &str, text: &str) -> Vec<Kind> {
    let mut kinds = Vec::new();
    match ext {
        "prisma" => kinds.push(Kind::Prisma),
        "rs" => {
            if text.contains("table!") || text.contains("joinable!") {
                kinds.push(Kind::Diesel);
            }
            if text.contains("DeriveEntityModel") {
                kinds.push(Kind::SeaOrm);
            }
        }
        "sql" => {}
        "py" => {
            if sqlalchemy::mentions(text) {
                kinds.push(Kind::SqlAlchemy);
            }
            // Django finds models in an app's `models` module only.
            if django::app_label(rel).is_some() && django::mentions(text) {
                kinds.push(Kind::Django);
            }
        }
        _ => {
            if ["pgTable", "mysqlTable", "sqliteTable", "TableCreator"]
                .iter()
                .any(|m| text.contains(m))
            {
                kinds.push(Kind::Drizzle);
            }
            if text.contains("@Entity") {
                kinds.push(Kind::TypeOrm);
            }
        }
    }
    kinds
}

fn parse_text(rel: &str, ext: &str, text: &str) -> Vec<Parsed> {
    let evidence = match ext {
        "py" => super::dialect::in_python(rel, text),
        "sql" | "prisma" | "rs" => Vec::new(),
        _ => super::dialect::in_typescript(rel, text),
    };
    let mut parsed = parsed_text(rel, ext, text);
    if !evidence.is_empty() {
        parsed.push(Parsed::Database {
            evidence,
            manifest: false,
        });
    }
    parsed
}

fn parsed_text(rel: &str, ext: &str, text: &str) -> Vec<Parsed> {
    if ext == "sql" {
        return vec![Parsed::Migration(migrations::parse(rel, text))];
    }
    if ext == "py" {
        return parse_python(rel, text);
    }
    kinds_in(rel, ext, text)
        .into_iter()
        .map(|kind| {
            let parsed = match kind {
                Kind::Prisma => prisma::parse(rel, text),
                Kind::Drizzle => drizzle::parse(rel, text),
                Kind::TypeOrm => typeorm::parse(rel, text),
                Kind::Diesel => diesel::parse(rel, text),
                Kind::SeaOrm => sea_orm::parse(rel, text),
                Kind::SqlAlchemy | Kind::Django => FileSchema::default(),
            };
            Parsed::Orm(kind, parsed)
        })
        .collect()
}

/// Whether a Python file is test code, whose models are fixtures of the tests
/// rather than the application's tables.
fn is_python_test(rel: &str) -> bool {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    name.starts_with("test_")
        || matches!(name, "conftest.py" | "tests.py")
        || rel
            .split('/')
            .any(|p| matches!(p, "tests" | "test" | "testing"))
}

/// A Python file: an Alembic revision, or models (classes, `Table(…)`). Classes a
/// migration declares for its own data changes are not the application's.
fn parse_python(rel: &str, text: &str) -> Vec<Parsed> {
    if alembic::is_revision(rel, text) {
        return vec![Parsed::Migration(alembic::parse(rel, text))];
    }
    if let Some(label) = django::user_model_setting(text) {
        return vec![Parsed::UserModel(label)];
    }
    if is_python_test(rel) {
        return Vec::new();
    }
    if django_migrations::is_migration(rel, text) {
        return vec![Parsed::Migration(django_migrations::parse(rel, text))];
    }
    let mut out = Vec::new();
    for kind in kinds_in(rel, "py", text) {
        let (classes, tables) = match kind {
            Kind::SqlAlchemy => sqlalchemy::parse(rel, text),
            _ => django::parse(rel, text),
        };
        out.push(Parsed::Classes(classes));
        out.push(Parsed::Orm(kind, tables));
    }
    out
}

/// The schema a code file defines, taken from the text `racelint check` has already
/// read to lint it, so that discovery does not read the file a second time.
pub struct ReadSources {
    path: PathBuf,
    parsed: Vec<Parsed>,
}

/// What the code file at `path` (under `root`, already read as `text`) says about the
/// schema; `None` when discovery must look at the file itself (a file outside
/// `root`, or of a kind only discovery reads).
pub fn sources_in_code(root: &Path, path: &Path, text: &str) -> Option<ReadSources> {
    let path = crate::discover::absolute(path);
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    if !(ext == "rs" || ext == "py" || is_ts(ext)) || !path.starts_with(root) {
        return None;
    }
    let parsed = if text.len() as u64 > MAX_FILE_BYTES {
        Vec::new()
    } else {
        parse_text(&rel_path(root, &path), ext, text)
    };
    Some(ReadSources { path, parsed })
}

/// Finds and merges every schema source under `root`. Never fails: unreadable or
/// unparseable files become `errors`, and the rest is still used.
pub fn discover(root: &Path) -> SchemaDiscovery {
    discover_with(root, &MigrationFolders::default())
}

/// [`discover`], with the configured migration folders.
pub fn discover_with(root: &Path, migrations: &MigrationFolders) -> SchemaDiscovery {
    discover_reusing(root, candidates(root), Vec::new(), migrations)
}

/// [`discover`], given the walk's candidates and the sources of the code files
/// already read: only the candidates not among those are read here.
pub fn discover_reusing(
    root: &Path,
    candidates: Vec<PathBuf>,
    read: Vec<ReadSources>,
    migrations: &MigrationFolders,
) -> SchemaDiscovery {
    let mut known: std::collections::HashMap<PathBuf, Vec<Parsed>> =
        read.into_iter().map(|r| (r.path, r.parsed)).collect();
    let parsed: Vec<(PathBuf, Vec<Parsed>)> = candidates
        .into_iter()
        .filter(|p| p.extension().is_none_or(|e| e != "sql") || migrations.holds(root, p))
        .map(|path| (known.remove(&path), path))
        .collect::<Vec<_>>()
        .into_par_iter()
        .map(|(known, path)| {
            let parsed = known.unwrap_or_else(|| parse_file(root, &path));
            (path, parsed)
        })
        .filter(|(_, parsed)| !parsed.is_empty())
        .collect();
    let databases = databases_of(root, &parsed);
    let packages = super::packages::by_package(
        root,
        parsed
            .iter()
            .enumerate()
            .filter(|(_, (_, p))| p.iter().any(Parsed::declares_tables))
            .map(|(index, (path, _))| (index, path.as_path())),
    );
    if packages.len() < 2 {
        let mut out = assemble(parsed.into_iter().flat_map(|(_, p)| p));
        out.databases = databases;
        return out;
    }
    let files_of = |keep: &dyn Fn(&Path) -> bool| {
        packages
            .iter()
            .filter(|(package, _)| keep(package))
            .flat_map(|(_, files)| files.iter().flat_map(|&i| parsed[i].1.iter().cloned()))
            .collect::<Vec<Parsed>>()
    };
    let mut sources = Vec::new();
    for (package, _) in &packages {
        let own = assemble(files_of(&|p| p == package)).schema;
        let view = assemble(files_of(&|p| package.starts_with(p))).schema;
        sources.push(super::packages::PackageSchema {
            folder: package.clone(),
            own,
            view,
        });
    }
    let mut out = assemble(parsed.into_iter().flat_map(|(_, p)| p));
    out.packages = sources;
    out.databases = databases;
    out
}

/// Each folder's evidence of its database: a manifest speaks for its folder,
/// configuration in code for the code's package.
fn databases_of(root: &Path, parsed: &[(PathBuf, Vec<Parsed>)]) -> super::dialect::Databases {
    let mut package_of = std::collections::HashMap::new();
    let mut found = Vec::new();
    for (path, parsed) in parsed {
        for p in parsed {
            let Parsed::Database { evidence, manifest } = p else {
                continue;
            };
            let folder = if *manifest {
                super::dialect::manifest_folder(path)
            } else {
                let dir = path.parent().unwrap_or(root).to_path_buf();
                package_of
                    .entry(dir)
                    .or_insert_with(|| super::packages::package_of(root, path))
                    .clone()
            };
            found.push((crate::discover::absolute(&folder), evidence.clone()));
        }
    }
    super::dialect::Databases::new(found)
}

/// One schema out of the parsed sources: Python classes joined, migrations
/// replayed, ORM declarations merged under them.
fn assemble(parsed: impl IntoIterator<Item = Parsed>) -> SchemaDiscovery {
    let mut out = SchemaDiscovery::default();
    let mut orm: Vec<(Kind, Table)> = Vec::new();
    let mut migration_files = Vec::new();
    let mut classes = Vec::new();
    let mut user_model = "auth.User".to_string();
    for p in parsed {
        match p {
            Parsed::Classes(c) => classes.extend(c),
            Parsed::UserModel(label) => user_model = label,
            Parsed::Orm(kind, fs) => {
                out.notes.extend(fs.notes);
                out.errors.extend(fs.error);
                orm.extend(fs.tables.into_iter().map(|t| (kind, t)));
            }
            Parsed::Migration(mut m) => {
                out.errors.extend(m.error.take());
                migration_files.push(m);
            }
            Parsed::Error(e) => out.errors.push(e),
            Parsed::Database { .. } => {}
        }
    }
    let user_table = user_model.to_lowercase().replacen('.', "_", 1);
    for m in &mut migration_files {
        m.retarget(django::AUTH_USER_MODEL, &user_table);
    }
    orm.extend(
        py_models::resolve(&classes, &user_model)
            .into_iter()
            .map(|(o, t)| {
                let kind = match o {
                    Orm::SqlAlchemy => Kind::SqlAlchemy,
                    Orm::Django => Kind::Django,
                };
                (kind, t)
            }),
    );
    // Django's models are what its migrations were generated from, and a replay
    // of a long history (app renames, `RunSQL`, squashes) is less exact than
    // they are: Django migrations only add the tables no model declares.
    let (django_files, migration_files): (Vec<_>, Vec<_>) = migration_files
        .into_iter()
        .partition(|m| m.django.is_some());
    let from_django = migrations::replay(django_files);
    out.notes.extend(from_django.notes);
    let modelled: std::collections::HashSet<String> = orm
        .iter()
        .filter(|(k, _)| *k == Kind::Django)
        .map(|(_, t)| key(&t.name))
        .collect();
    orm.extend(
        from_django
            .tables
            .into_iter()
            .filter(|t| !modelled.contains(&key(&t.name)))
            .map(|t| (Kind::Django, t)),
    );
    // Files came sorted by path, which is migration order.
    let migrated = migrations::replay(migration_files);
    out.notes.extend(migrated.notes);
    out.schema = merge(orm, migrated.tables, &mut out.notes);
    out
}

fn key(name: &str) -> String {
    name.to_lowercase()
}

fn same_columns(a: &[String], b: &[String]) -> bool {
    let norm = |c: &[String]| {
        let mut v: Vec<String> = c.iter().map(|x| fold_name(x)).collect();
        v.sort();
        v
    };
    norm(a) == norm(b)
}

fn same_fk(a: &ForeignKey, b: &ForeignKey) -> bool {
    same_columns(&a.columns, &b.columns) && fold_name(&a.references) == fold_name(&b.references)
}

fn cols(c: &[String]) -> String {
    format!("({})", c.join(", "))
}

/// Maps a code name (model, variable, class, module) to a database table name.
fn resolver<'a>(tables: &'a [&'a Table]) -> impl Fn(&str) -> Option<String> + 'a {
    move |name: &str| {
        let exact = tables
            .iter()
            .find(|t| t.name == name || t.aliases.iter().any(|a| a == name));
        let loose = || {
            tables.iter().find(|t| {
                key(&t.name) == key(name) || t.aliases.iter().any(|a| key(a) == key(name))
            })
        };
        let folded = || {
            let f = fold_name(name);
            tables
                .iter()
                .find(|t| fold_name(&t.name) == f || t.aliases.iter().any(|a| fold_name(a) == f))
        };
        exact.or_else(loose).or_else(folded).map(|t| t.name.clone())
    }
}

struct OrmTable {
    kinds: Vec<Kind>,
    table: Table,
}

fn merge(mut orm: Vec<(Kind, Table)>, migrated: Vec<Table>, notes: &mut Vec<String>) -> Schema {
    // References name code names; turn them into database names first, so that
    // keys from different sources can be compared.
    let resolved: Vec<Vec<Option<String>>> = {
        let all: Vec<&Table> = orm.iter().map(|(_, t)| t).chain(migrated.iter()).collect();
        let resolve = resolver(&all);
        orm.iter()
            .map(|(_, t)| {
                t.foreign_keys
                    .iter()
                    .map(|fk| resolve(&fk.references))
                    .collect()
            })
            .collect()
    };
    for ((_, t), names) in orm.iter_mut().zip(resolved) {
        for (fk, name) in t.foreign_keys.iter_mut().zip(names) {
            match name {
                Some(n) => fk.references = n,
                None => notes.push(format!(
                    "{}: foreign key to `{}`, a table racelint did not find",
                    fk.source, fk.references
                )),
            }
        }
    }

    let mut groups: Vec<OrmTable> = Vec::new();
    for (kind, table) in orm {
        match groups
            .iter_mut()
            .find(|g| key(&g.table.name) == key(&table.name))
        {
            Some(g) => {
                union(&mut g.table, table, notes);
                if !g.kinds.contains(&kind) {
                    g.kinds.push(kind);
                }
            }
            None => groups.push(OrmTable {
                kinds: vec![kind],
                table,
            }),
        }
    }

    let mut tables: Vec<Table> = Vec::new();
    for mig in migrated {
        match groups
            .iter()
            .position(|g| key(&g.table.name) == key(&mig.name))
        {
            Some(i) => {
                let g = groups.remove(i);
                tables.push(overlay(g, mig, notes));
            }
            None => tables.push(mig),
        }
    }
    tables.extend(groups.into_iter().map(|g| g.table));

    // A key given without columns (`REFERENCES users`, `joinable!`, TypeORM's
    // default join) points at the referenced primary key.
    let pks: Vec<(String, Vec<String>)> = tables
        .iter()
        .map(|t| (key(&t.name), t.primary_key.clone()))
        .collect();
    for t in &mut tables {
        for fk in &mut t.foreign_keys {
            if fk.referenced_columns.is_empty() {
                if let Some((_, pk)) = pks.iter().find(|(k, _)| *k == key(&fk.references)) {
                    fk.referenced_columns = pk.clone();
                }
            }
        }
        t.aliases.sort();
        t.aliases.dedup();
        sort_sources(&mut t.sources);
    }
    tables.sort_by(|a, b| a.name.cmp(&b.name));
    Schema { tables }
}

/// Sorts `path:line` strings by path, then by line as a number.
fn sort_sources(sources: &mut Vec<String>) {
    fn split(s: &str) -> (&str, u64) {
        match s.rsplit_once(':') {
            Some((p, l)) => (p, l.parse().unwrap_or(0)),
            None => (s, 0),
        }
    }
    sources.sort_by(|a, b| split(a).cmp(&split(b)));
    sources.dedup();
}

/// Two ORM declarations of one table: the union, the first one winning conflicts.
fn union(a: &mut Table, b: Table, notes: &mut Vec<String>) {
    a.aliases.extend(b.aliases);
    a.sources.extend(b.sources.iter().cloned());
    let b_at = b.sources.first().cloned().unwrap_or_default();
    if a.primary_key.is_empty() {
        a.primary_key = b.primary_key;
    } else if !b.primary_key.is_empty() && !same_columns(&a.primary_key, &b.primary_key) {
        notes.push(format!(
            "table `{}`: {b_at} declares primary key {}, another source {}; keeping the first",
            a.name,
            cols(&b.primary_key),
            cols(&a.primary_key)
        ));
    }
    for u in b.unique {
        if !a.unique.iter().any(|x| same_columns(x, &u)) {
            a.unique.push(u);
        }
    }
    if a.version_column.is_none() {
        a.version_column = b.version_column;
    }
    a.version_declared |= b.version_declared;
    a.database = a.database.or(b.database);
    a.emulated_relations |= b.emulated_relations;
    for fk in b.foreign_keys {
        match a.foreign_keys.iter_mut().find(|x| same_fk(x, &fk)) {
            None => a.foreign_keys.push(fk),
            Some(x) if !x.on_delete_known && fk.on_delete_known => *x = fk,
            Some(x) if fk.on_delete_known && x.on_delete != fk.on_delete => notes.push(format!(
                "table `{}`: {} says ON DELETE {}, {} says {}; keeping the first",
                a.name,
                x.source,
                x.on_delete.as_str(),
                fk.source,
                fk.on_delete.as_str()
            )),
            Some(_) => {}
        }
    }
}

/// An ORM declaration under the migrations that built the table: migrations win.
fn overlay(orm: OrmTable, mig: Table, notes: &mut Vec<String>) -> Table {
    let OrmTable { kinds, table: o } = orm;
    let kind_names: Vec<&str> = kinds.iter().map(|k| k.label()).collect();
    let by = kind_names.join("/");
    let declares_keys = kinds.iter().any(|k| *k != Kind::Diesel);
    let mut t = mig;
    let name = t.name.clone();
    let mut note = |s: String| notes.push(format!("table `{name}`: {s}"));
    t.aliases.extend(o.aliases);
    t.sources.extend(o.sources);
    t.database = t.database.or(o.database);
    t.emulated_relations |= o.emulated_relations;
    if t.primary_key.is_empty() {
        t.primary_key = o.primary_key;
    } else if !o.primary_key.is_empty() && !same_columns(&t.primary_key, &o.primary_key) {
        note(format!(
            "{by} declares primary key {}, the migrations {}; using the migrations",
            cols(&o.primary_key),
            cols(&t.primary_key)
        ));
    }
    for u in &o.unique {
        if !t.unique.iter().any(|x| same_columns(x, u)) && !same_columns(u, &t.primary_key) {
            note(format!(
                "{by} declares unique {} that the migrations do not; using the migrations",
                cols(u)
            ));
        }
    }
    if declares_keys {
        for u in &t.unique {
            if !o.unique.iter().any(|x| same_columns(x, u)) {
                note(format!(
                    "the migrations make {} unique, {by} does not say so",
                    cols(u)
                ));
            }
        }
    }
    if t.version_column.is_none() {
        t.version_column = o.version_column;
    }
    t.version_declared |= o.version_declared;
    for fk in &o.foreign_keys {
        match t.foreign_keys.iter().find(|x| same_fk(x, fk)) {
            None => note(format!(
                "{} declares a foreign key {} → {} that the migrations do not have; using the migrations",
                fk.source,
                cols(&fk.columns),
                fk.references
            )),
            Some(x) if fk.on_delete_known && x.on_delete != fk.on_delete => note(format!(
                "{} says ON DELETE {} for {}, the migration ({}) says {}; using the migration",
                fk.source,
                fk.on_delete.as_str(),
                cols(&fk.columns),
                x.source,
                x.on_delete.as_str()
            )),
            Some(_) => {}
        }
    }
    if kinds.iter().any(|k| {
        matches!(
            k,
            Kind::Prisma | Kind::Drizzle | Kind::TypeOrm | Kind::SqlAlchemy | Kind::Django
        )
    }) {
        for fk in &t.foreign_keys {
            if !o.foreign_keys.iter().any(|x| same_fk(x, fk)) {
                note(format!(
                    "the migrations have a foreign key {} → {} ({}) that {by} does not declare",
                    cols(&fk.columns),
                    fk.references,
                    fk.source
                ));
            }
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::OnDelete;

    fn fk(cols: &[&str], references: &str, on_delete: OnDelete, source: &str) -> ForeignKey {
        ForeignKey {
            columns: cols.iter().map(|c| c.to_string()).collect(),
            references: references.into(),
            referenced_columns: Vec::new(),
            on_delete,
            on_delete_known: true,
            source: source.into(),
        }
    }

    #[test]
    fn migrations_win_and_disagreements_are_noted() {
        let parent = Table {
            name: "decks".into(),
            aliases: vec!["decks".into()],
            sources: vec!["src/db/schema.ts:3".into()],
            primary_key: vec!["id".into()],
            ..Table::default()
        };
        let orm_cards = Table {
            name: "cards".into(),
            aliases: vec!["cards".into()],
            sources: vec!["src/db/schema.ts:10".into()],
            primary_key: vec!["id".into()],
            unique: vec![vec!["slug".into()]],
            foreign_keys: vec![fk(
                &["deckId"],
                "decks",
                OnDelete::Cascade,
                "src/db/schema.ts:12",
            )],
            ..Table::default()
        };
        let mig_cards = Table {
            name: "cards".into(),
            sources: vec!["drizzle/0000_init.sql:9".into()],
            primary_key: vec!["id".into()],
            foreign_keys: vec![fk(
                &["deck_id"],
                "decks",
                OnDelete::NoAction,
                "drizzle/0000_init.sql:20",
            )],
            ..Table::default()
        };
        let mut notes = Vec::new();
        let schema = merge(
            vec![(Kind::Drizzle, parent), (Kind::Drizzle, orm_cards)],
            vec![mig_cards],
            &mut notes,
        );
        let cards = schema.table("cards").unwrap();
        assert_eq!(cards.foreign_keys.len(), 1);
        assert_eq!(
            cards.foreign_keys[0].on_delete,
            OnDelete::NoAction,
            "the migration wins"
        );
        assert_eq!(cards.foreign_keys[0].referenced_columns, ["id"]);
        assert!(
            cards.unique.is_empty(),
            "the migrations never made slug unique"
        );
        assert_eq!(
            cards.sources,
            ["drizzle/0000_init.sql:9", "src/db/schema.ts:10"]
        );
        assert_eq!(cards.aliases, ["cards"]);
        assert_eq!(notes.len(), 2, "{notes:#?}");
        assert!(notes.iter().any(|n| n.contains("ON DELETE cascade")));
        assert_eq!(schema.tables[0].name, "cards", "tables sorted by name");
    }

    #[test]
    fn unknown_actions_give_way_to_known_ones() {
        let a = Table {
            name: "posts".into(),
            foreign_keys: vec![ForeignKey {
                on_delete_known: false,
                ..fk(
                    &["user_id"],
                    "users",
                    OnDelete::NoAction,
                    "src/schema.rs:20",
                )
            }],
            ..Table::default()
        };
        let b = Table {
            name: "posts".into(),
            foreign_keys: vec![fk(
                &["user_id"],
                "users",
                OnDelete::Cascade,
                "src/entity/posts.rs:30",
            )],
            ..Table::default()
        };
        let mut notes = Vec::new();
        let schema = merge(
            vec![(Kind::Diesel, a), (Kind::SeaOrm, b)],
            Vec::new(),
            &mut notes,
        );
        let fk = &schema.tables[0].foreign_keys[0];
        assert!(fk.on_delete_known);
        assert_eq!(fk.on_delete, OnDelete::Cascade);
    }
}
