//! The database a Python project names: driver distributions among the
//! dependencies of `pyproject.toml` (PEP 621 and Poetry) and `requirements*.txt`,
//! and configuration in code (Django's `DATABASES` `ENGINE`, a literal URL given
//! to SQLAlchemy's `create_engine` / `create_async_engine`).

use super::Evidence;
use crate::schema::Database;

/// Driver distributions that serve one database.
fn driver(name: &str) -> Option<Database> {
    let name = name.trim().to_ascii_lowercase().replace('_', "-");
    match name.as_str() {
        "psycopg" | "psycopg2" | "psycopg2-binary" | "psycopg-binary" | "asyncpg" | "pg8000" => {
            Some(Database::Postgres)
        }
        "mysqlclient" | "pymysql" | "aiomysql" | "asyncmy" | "mysql-connector-python" => {
            Some(Database::Mysql)
        }
        "aiosqlite" => Some(Database::Sqlite),
        "pyodbc" | "mssql-django" | "pymssql" => Some(Database::SqlServer),
        _ => None,
    }
}

/// The distribution a requirement names: `psycopg[binary]>=3.1 ; python_version…` → `psycopg`.
fn requirement_name(line: &str) -> &str {
    let line = line.split('#').next().unwrap_or("").trim();
    let end = line
        .find(|c: char| !(c.is_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(line.len());
    &line[..end]
}

fn evidence_of<'a>(names: impl Iterator<Item = &'a str>, file: &str) -> Vec<Evidence> {
    names
        .filter_map(|line| {
            let name = requirement_name(line);
            driver(name).map(|d| Evidence::dependency(d, format!("{file}: `{name}`")))
        })
        .collect()
}

/// What a `requirements*.txt` says.
pub fn from_requirements(text: &str) -> Vec<Evidence> {
    evidence_of(
        text.lines().filter(|l| !l.trim_start().starts_with('-')),
        "requirements",
    )
}

/// What a `pyproject.toml` says; nothing when it does not parse.
pub fn from_pyproject(text: &str) -> Vec<Evidence> {
    let Ok(manifest) = text.parse::<toml::Table>() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if let Some(deps) = manifest
        .get("project")
        .and_then(|p| p.get("dependencies"))
        .and_then(|d| d.as_array())
    {
        out.extend(evidence_of(
            deps.iter().filter_map(|d| d.as_str()),
            "pyproject.toml",
        ));
    }
    if let Some(deps) = manifest
        .get("tool")
        .and_then(|t| t.get("poetry"))
        .and_then(|p| p.get("dependencies"))
        .and_then(|d| d.as_table())
    {
        out.extend(evidence_of(
            deps.keys().map(String::as_str),
            "pyproject.toml",
        ));
    }
    out
}

/// Whether a settings module is the tests' (which often swap in SQLite).
fn is_test_settings(rel: &str) -> bool {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    name.contains("test")
        || rel
            .split('/')
            .any(|p| matches!(p, "tests" | "test" | "testing"))
}

/// A Django backend module: `django.db.backends.postgresql`, `…contrib.gis.db.backends.postgis`.
fn backend(module: &str) -> Option<Database> {
    let last = module.rsplit('.').next().unwrap_or(module);
    match last {
        "postgresql" | "postgresql_psycopg2" | "postgis" => Some(Database::Postgres),
        "mysql" => Some(Database::Mysql),
        "sqlite3" | "spatialite" => Some(Database::Sqlite),
        "mssql" => Some(Database::SqlServer),
        _ => None,
    }
}

/// A database URL's scheme: `postgresql+asyncpg://…` → PostgreSQL.
pub(super) fn url_scheme(url: &str) -> Option<Database> {
    let (scheme, _) = url.split_once("://")?;
    let dialect = scheme.split('+').next().unwrap_or(scheme);
    match dialect {
        "postgres" | "postgresql" | "cockroachdb" => Some(Database::Postgres),
        "mysql" | "mariadb" => Some(Database::Mysql),
        "sqlite" => Some(Database::Sqlite),
        "mssql" => Some(Database::SqlServer),
        _ => None,
    }
}

/// The string literal that starts `text` (after spaces), if any.
fn leading_literal(text: &str) -> Option<&str> {
    let text = text.trim_start();
    let text = text.strip_prefix(['r', 'f']).unwrap_or(text);
    let quote = text.chars().next().filter(|c| matches!(c, '"' | '\''))?;
    let end = text[1..].find(quote)?;
    Some(&text[1..1 + end])
}

/// Configuration in a Python file outside the tests: each literal Django
/// `ENGINE` (in a module that sets `DATABASES`), each literal URL handed to
/// `create_engine(…)` / `create_async_engine(…)`.
pub fn in_python(rel: &str, text: &str) -> Vec<Evidence> {
    if is_test_settings(rel) {
        return Vec::new();
    }
    let mut out = Vec::new();
    if text.contains("DATABASES") && text.contains("ENGINE") {
        for value in super::node::values_of(text, "ENGINE") {
            if let Some(database) = backend(value) {
                out.push(Evidence::config(
                    database,
                    format!("{rel}: ENGINE '{value}'"),
                ));
            }
        }
    }
    for call in ["create_engine(", "create_async_engine("] {
        for (at, _) in text.match_indices(call) {
            let Some(url) = leading_literal(&text[at + call.len()..]) else {
                continue;
            };
            if let Some(database) = url_scheme(url) {
                let scheme = url.split("://").next().unwrap_or(url);
                out.push(Evidence::config(
                    database,
                    format!("{rel}: {call}\"{scheme}://…\")"),
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

    fn dialect(found: Vec<Evidence>) -> Dialect {
        Dialect::of(found.into_iter().map(|e| e.database))
    }

    #[test]
    fn django_engine_and_sqlalchemy_urls() {
        let settings = "DATABASES = {\n    \"default\": {\n        \"ENGINE\": \"django.db.backends.mysql\",\n        \"NAME\": env(\"DB_NAME\"),\n    }\n}\n";
        assert_eq!(
            dialect(in_python("shop/settings.py", settings)),
            Dialect::One(Database::Mysql)
        );
        assert!(in_python("shop/settings/test.py", settings).is_empty());
        let engine =
            "engine = create_async_engine(\"postgresql+asyncpg://app@db/app\", echo=False)\n";
        assert_eq!(
            dialect(in_python("app/db.py", engine)),
            Dialect::One(Database::Postgres)
        );
        let from_env = "engine = create_engine(settings.DATABASE_URL)\n";
        assert!(in_python("app/db.py", from_env).is_empty());
    }

    #[test]
    fn drivers_in_requirements_and_pyproject() {
        let req = "Django>=5.0\n-r base.txt\nmysqlclient==2.2.4  # the driver\n";
        assert_eq!(
            dialect(from_requirements(req)),
            Dialect::One(Database::Mysql)
        );
        let pep621 = "[project]\nname = \"api\"\ndependencies = [\"fastapi\", \"asyncpg>=0.29\", \"psycopg[binary]\"]\n";
        assert_eq!(
            dialect(from_pyproject(pep621)),
            Dialect::One(Database::Postgres)
        );
        let poetry =
            "[tool.poetry.dependencies]\npython = \"^3.12\"\naiosqlite = \"*\"\nPyMySQL = \"1\"\n";
        assert_eq!(
            dialect(from_pyproject(poetry)),
            Dialect::of([Database::Mysql, Database::Sqlite])
        );
        assert!(from_pyproject("[project\ndependencies = [").is_empty());
        assert!(from_pyproject("project = 1").is_empty());
    }
}
