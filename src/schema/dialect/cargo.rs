//! The database a Rust crate or workspace names in its `Cargo.toml`: the
//! database features of sqlx, Diesel, diesel-async and SeaORM (on the
//! dependency, or enabled by the crate's own `[features]`, as vaultwarden's
//! `mysql = ["diesel/mysql"]`), and single-database driver crates.

use super::Evidence;
use crate::schema::Database;

/// Driver crates that serve one database.
const DRIVERS: [(&str, Database); 8] = [
    ("tokio-postgres", Database::Postgres),
    ("postgres", Database::Postgres),
    ("deadpool-postgres", Database::Postgres),
    ("bb8-postgres", Database::Postgres),
    ("rusqlite", Database::Sqlite),
    ("mysql", Database::Mysql),
    ("mysql_async", Database::Mysql),
    ("tiberius", Database::SqlServer),
];

/// The database a feature of a multi-database crate turns on.
fn feature(krate: &str, feature: &str) -> Vec<Database> {
    let krate = krate.replace('_', "-");
    match (krate.as_str(), feature) {
        ("sqlx" | "diesel" | "diesel-async" | "diesel-migrations", "postgres")
        | ("sea-orm" | "sea-orm-migration", "sqlx-postgres") => vec![Database::Postgres],
        ("sqlx" | "diesel" | "diesel-async" | "diesel-migrations", "mysql")
        | ("sea-orm" | "sea-orm-migration", "sqlx-mysql") => vec![Database::Mysql],
        ("sqlx" | "diesel" | "diesel-async" | "diesel-migrations", "sqlite")
        | ("sea-orm" | "sea-orm-migration", "sqlx-sqlite") => vec![Database::Sqlite],
        ("sea-orm" | "sea-orm-migration", "sqlx-all") => {
            vec![Database::Postgres, Database::Mysql, Database::Sqlite]
        }
        _ => Vec::new(),
    }
}

/// What a `Cargo.toml` says; nothing when it does not parse.
pub fn from_cargo(text: &str) -> Vec<Evidence> {
    let Ok(manifest) = text.parse::<toml::Table>() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut tables: Vec<&toml::Table> = Vec::new();
    tables.extend(manifest.get("dependencies").and_then(|d| d.as_table()));
    tables.extend(
        manifest
            .get("workspace")
            .and_then(|w| w.get("dependencies"))
            .and_then(|d| d.as_table()),
    );
    if let Some(targets) = manifest.get("target").and_then(|t| t.as_table()) {
        tables.extend(
            targets
                .values()
                .filter_map(|t| t.get("dependencies"))
                .filter_map(|d| d.as_table()),
        );
    }
    for deps in tables {
        for (key, spec) in deps {
            let krate = spec.get("package").and_then(|p| p.as_str()).unwrap_or(key);
            if let Some((_, database)) = DRIVERS.iter().find(|(name, _)| *name == krate) {
                out.push(Evidence::dependency(
                    *database,
                    format!("Cargo.toml: crate `{krate}`"),
                ));
            }
            let features = spec
                .get("features")
                .and_then(|f| f.as_array())
                .into_iter()
                .flatten()
                .filter_map(|f| f.as_str());
            for f in features {
                for database in feature(krate, f) {
                    out.push(Evidence::dependency(
                        database,
                        format!("Cargo.toml: {krate} feature `{f}`"),
                    ));
                }
            }
        }
    }
    // `[features] mysql = ["diesel/mysql"]`: the crate can be built for it.
    if let Some(features) = manifest.get("features").and_then(|f| f.as_table()) {
        let enabled = features
            .values()
            .filter_map(|v| v.as_array())
            .flatten()
            .filter_map(|v| v.as_str());
        for entry in enabled {
            let Some((krate, f)) = entry.split_once('/') else {
                continue;
            };
            let krate = krate.trim_end_matches('?');
            for database in feature(krate, f) {
                out.push(Evidence::dependency(
                    database,
                    format!("Cargo.toml: feature `{entry}`"),
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::dialect::Dialect;

    fn dialect(text: &str) -> Dialect {
        Dialect::of(from_cargo(text).into_iter().map(|e| e.database))
    }

    #[test]
    fn sqlx_features_name_the_database() {
        let text = r#"
[package]
name = "api"

[dependencies]
sqlx = { version = "0.8", features = ["runtime-tokio", "sqlite", "macros"] }
tokio = { version = "1", features = ["full"] }
"#;
        assert_eq!(dialect(text), Dialect::One(Database::Sqlite));
    }

    #[test]
    fn diesel_sea_orm_and_drivers() {
        assert_eq!(
            dialect("[dependencies]\ndiesel = { version = \"2\", features = [\"mysql\", \"chrono\"] }\n"),
            Dialect::One(Database::Mysql)
        );
        assert_eq!(
            dialect("[dependencies.sea-orm]\nversion = \"1\"\nfeatures = [\"sqlx-postgres\"]\n"),
            Dialect::One(Database::Postgres)
        );
        assert_eq!(
            dialect("[dependencies]\ntokio-postgres = \"0.7\"\ndeadpool-postgres = \"0.14\"\n"),
            Dialect::One(Database::Postgres)
        );
        assert_eq!(
            dialect("[dependencies]\ndb = { package = \"rusqlite\", version = \"0.32\" }\n"),
            Dialect::One(Database::Sqlite)
        );
        assert_eq!(
            dialect("[workspace.dependencies]\nsqlx = { version = \"0.8\", features = [\"postgres\"] }\n"),
            Dialect::One(Database::Postgres),
            "a workspace root's dependencies"
        );
    }

    #[test]
    fn several_databases_are_no_single_answer() {
        let vaultwarden_like = r#"
[features]
default = []
mysql = ["diesel/mysql", "diesel_migrations/mysql"]
postgresql = ["diesel/postgres", "diesel_migrations/postgres"]
sqlite = ["diesel/sqlite", "diesel_migrations/sqlite"]

[dependencies]
diesel = { version = "2", features = ["chrono", "r2d2"] }
"#;
        assert_eq!(
            dialect(vaultwarden_like),
            Dialect::of([Database::Postgres, Database::Mysql, Database::Sqlite])
        );
        assert!(matches!(
            dialect("[dependencies]\nsea-orm = { version = \"1\", features = [\"sqlx-all\"] }\n"),
            Dialect::Several(_)
        ));
    }

    #[test]
    fn malformed_or_silent_manifests_say_nothing() {
        assert!(from_cargo("[dependencies\nsqlx = ").is_empty());
        assert!(from_cargo("").is_empty());
        assert!(from_cargo("dependencies = 3\nfeatures = \"x\"\n").is_empty());
        assert!(from_cargo("[dependencies]\nsqlx = { workspace = true }\n").is_empty());
    }
}
