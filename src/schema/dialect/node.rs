//! The database a Node package names: driver packages among its
//! `dependencies` and `devDependencies`, and connection configuration in code
//! (a knexfile's or `knex({ client })`'s client, TypeORM's
//! `new DataSource({ type })`, Sequelize's `dialect`).

use super::Evidence;
use crate::schema::Database;

/// Driver packages that serve one database.
const DRIVERS: [(&str, Database); 16] = [
    ("pg", Database::Postgres),
    ("postgres", Database::Postgres),
    ("pg-promise", Database::Postgres),
    ("@neondatabase/serverless", Database::Postgres),
    ("@vercel/postgres", Database::Postgres),
    ("@electric-sql/pglite", Database::Postgres),
    ("mysql2", Database::Mysql),
    ("mysql", Database::Mysql),
    ("mariadb", Database::Mysql),
    ("@planetscale/database", Database::Mysql),
    ("better-sqlite3", Database::Sqlite),
    ("sqlite3", Database::Sqlite),
    ("@libsql/client", Database::Sqlite),
    ("bun:sqlite", Database::Sqlite),
    ("tedious", Database::SqlServer),
    ("mssql", Database::SqlServer),
];

/// What a `package.json` says; nothing when it does not parse.
pub fn from_package_json(text: &str) -> Vec<Evidence> {
    let Ok(manifest) = serde_json::from_str::<serde_json::Value>(text) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for field in ["dependencies", "devDependencies"] {
        let Some(deps) = manifest.get(field).and_then(|d| d.as_object()) else {
            continue;
        };
        for name in deps.keys() {
            if let Some((_, database)) = DRIVERS.iter().find(|(n, _)| n == name) {
                out.push(Evidence::dependency(
                    *database,
                    format!("package.json: {field} `{name}`"),
                ));
            }
        }
    }
    out
}

/// A driver name as Knex's `client`, TypeORM's `type` or Sequelize's `dialect` spells it.
fn named(value: &str) -> Option<Database> {
    match value {
        "pg" | "postgres" | "postgresql" | "pg-native" | "cockroachdb" | "aurora-postgres" => {
            Some(Database::Postgres)
        }
        "mysql" | "mysql2" | "mariadb" | "aurora-mysql" => Some(Database::Mysql),
        "sqlite" | "sqlite3" | "better-sqlite3" | "libsql" | "sqljs" => Some(Database::Sqlite),
        "mssql" | "tedious" => Some(Database::SqlServer),
        _ => None,
    }
}

/// How far past the call that opens a configuration object its key may be.
const CONFIG_REACH: usize = 1_500;

/// Configuration in a TypeScript or JavaScript file: every `client:` of a
/// knexfile, and the key of a `knex({…})`, `new DataSource({…})`,
/// `TypeOrmModule.forRoot({…})` or `new Sequelize(…)` call. Only string
/// literals count; a value read from the environment says nothing.
pub fn in_typescript(rel: &str, text: &str) -> Vec<Evidence> {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    let mut out = Vec::new();
    if is_test(rel) {
        return out;
    }
    let mut found = |key: &str, region: &str, what: &str| {
        for value in values_of(region, key) {
            if let Some(database) = named(value) {
                out.push(Evidence::config(
                    database,
                    format!("{rel}: {what} {key} '{value}'"),
                ));
            }
        }
    };
    if name.starts_with("knexfile.") {
        found("client", text, "knexfile");
    } else if text.contains("knex(") || text.contains("Knex(") {
        for region in regions(text, &["knex({", "Knex({"]) {
            found("client", region, "knex");
        }
    }
    if text.contains("DataSource(") || text.contains("forRoot(") || name.starts_with("ormconfig.") {
        let calls = [
            "new DataSource(",
            "TypeOrmModule.forRoot(",
            "createConnection(",
        ];
        if name.starts_with("ormconfig.") {
            found("type", text, "TypeORM");
        }
        for region in regions(text, &calls) {
            found("type", region, "TypeORM");
        }
    }
    if text.contains("new Sequelize(") {
        for region in regions(text, &["new Sequelize("]) {
            found("dialect", region, "Sequelize");
        }
    }
    out
}

/// Whether a file is test code, whose connection (often an in-memory SQLite)
/// is not the application's.
fn is_test(rel: &str) -> bool {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    name.contains(".spec.")
        || name.contains(".test.")
        || name.contains(".e2e-spec.")
        || rel.split('/').any(|p| {
            matches!(
                p,
                "test" | "tests" | "__tests__" | "e2e" | "e2e-common" | "testing"
            )
        })
}

/// The text after each opening call, at most [`CONFIG_REACH`] bytes.
fn regions<'a>(text: &'a str, calls: &[&str]) -> Vec<&'a str> {
    let mut out = Vec::new();
    for call in calls {
        for (at, _) in text.match_indices(call) {
            let start = at + call.len();
            let mut end = (start + CONFIG_REACH).min(text.len());
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            out.push(&text[start..end]);
        }
    }
    out
}

/// The string literal values of `key:` in `region` (`client: 'pg'`, `"type": "mysql"`).
pub(super) fn values_of<'a>(region: &'a str, key: &str) -> Vec<&'a str> {
    let mut out = Vec::new();
    for (at, _) in region.match_indices(key) {
        let before = region[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let rest = region[at + key.len()..].trim_start_matches(['"', '\'']);
        let Some(rest) = rest.trim_start().strip_prefix(':') else {
            continue;
        };
        let rest = rest.trim_start();
        let Some(quote) = rest
            .chars()
            .next()
            .filter(|c| matches!(c, '"' | '\'' | '`'))
        else {
            continue;
        };
        if let Some(end) = rest[1..].find(quote) {
            out.push(&rest[1..1 + end]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::dialect::Dialect;

    fn dialect(found: Vec<Evidence>) -> Dialect {
        Dialect::of(found.into_iter().map(|e| e.database))
    }

    #[test]
    fn drivers_in_dependencies() {
        let text = r#"{ "name": "api", "dependencies": { "knex": "^3.1.0", "mysql2": "^3.9.0" },
            "devDependencies": { "typescript": "^5" } }"#;
        assert_eq!(
            dialect(from_package_json(text)),
            Dialect::One(Database::Mysql)
        );
        let both =
            r#"{ "dependencies": { "pg": "8" }, "devDependencies": { "better-sqlite3": "9" } }"#;
        assert_eq!(
            dialect(from_package_json(both)),
            Dialect::of([Database::Postgres, Database::Sqlite])
        );
    }

    #[test]
    fn malformed_package_json_says_nothing() {
        assert!(from_package_json("{ \"dependencies\": { \"pg\": ").is_empty());
        assert!(from_package_json("[1, 2]").is_empty());
        assert!(from_package_json("{ \"dependencies\": [\"pg\"] }").is_empty());
    }

    #[test]
    fn configuration_in_code() {
        let knexfile = "module.exports = {\n  development: { client: 'better-sqlite3', connection: { filename: './dev.db' } },\n  production: { client: \"pg\", connection: process.env.DATABASE_URL },\n};\n";
        assert_eq!(
            dialect(in_typescript("knexfile.js", knexfile)),
            Dialect::of([Database::Postgres, Database::Sqlite])
        );
        let data_source = "export const AppDataSource = new DataSource({\n  type: \"mariadb\",\n  host: process.env.DB_HOST,\n  entities: [User],\n});\n";
        assert_eq!(
            dialect(in_typescript("src/data-source.ts", data_source)),
            Dialect::One(Database::Mysql)
        );
        let sequelize = "const sequelize = new Sequelize(process.env.DB_NAME, user, pass, { host, dialect: 'postgres' });";
        assert_eq!(
            dialect(in_typescript("src/db.ts", sequelize)),
            Dialect::One(Database::Postgres)
        );
        assert!(in_typescript("src/plugin.spec.ts", data_source).is_empty());
        let elsewhere = "const field = { type: 'mysql' }; const knexClient = { client: 'pg' };";
        assert!(in_typescript("src/form.ts", elsewhere).is_empty());
        let from_env = "export const db = knex({ client: process.env.DB_CLIENT });";
        assert!(in_typescript("src/db.ts", from_env).is_empty());
    }
}
