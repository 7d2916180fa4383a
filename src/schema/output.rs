//! The `racelint schema` output: the contract's JSON and a human listing.

use super::dialect::Databases;
use super::{Schema, Table};
use serde_json::{json, Value};
use std::path::Path;

/// The schema as CONTRACT.md's `racelint schema --format json` document, plus
/// (additive) the database each folder's configuration names: `databases`,
/// each `{ "folder", "databases": ["mysql"], "evidence": ["package.json: …"] }`,
/// with more than one database when the folder supports several.
pub fn to_json(schema: &Schema, databases: &Databases, root: &Path) -> Value {
    let tables: Vec<Value> = schema.tables.iter().map(table_json).collect();
    let folders: Vec<Value> = databases
        .folders()
        .map(|(folder, dialect, evidence)| {
            let names: Vec<&str> = dialect.databases().iter().map(|d| d.as_str()).collect();
            let reasons: Vec<&str> = evidence.iter().map(|e| e.reason.as_str()).collect();
            json!({ "folder": shown(root, folder), "databases": names, "evidence": reasons })
        })
        .collect();
    let mut document = json!({ "version": 1, "tables": tables });
    if !folders.is_empty() {
        if let Some(obj) = document.as_object_mut() {
            obj.insert("databases".into(), Value::Array(folders));
        }
    }
    document
}

/// A folder below `root` as the listing shows it (`.` for the root).
fn shown(root: &Path, folder: &Path) -> String {
    let root = crate::discover::absolute(root);
    match folder.strip_prefix(&root) {
        Ok(rel) if rel.as_os_str().is_empty() => ".".to_string(),
        Ok(rel) => rel.to_string_lossy().replace('\\', "/"),
        Err(_) => folder.to_string_lossy().into_owned(),
    }
}

fn table_json(t: &Table) -> Value {
    let fks: Vec<Value> = t
        .foreign_keys
        .iter()
        .map(|fk| {
            json!({
                "columns": fk.columns,
                "references": fk.references,
                "referenced_columns": fk.referenced_columns,
                "on_delete": fk.on_delete.as_str(),
                "source": fk.source,
            })
        })
        .collect();
    let mut v = json!({
        "name": t.name,
        "aliases": t.aliases,
        "sources": t.sources,
        "primary_key": t.primary_key,
        "unique": t.unique,
        "foreign_keys": fks,
    });
    if let Some(obj) = v.as_object_mut() {
        if let Some(version) = &t.version_column {
            obj.insert("version_column".into(), json!(version));
        }
        // Additive: readers of the contract's document ignore what they do not know.
        if let Some(database) = t.database {
            obj.insert("database".into(), json!(database.as_str()));
        }
        if t.emulated_relations {
            obj.insert("relation_mode".into(), json!("prisma"));
        }
    }
    v
}

fn cols(c: &[String]) -> String {
    format!("({})", c.join(", "))
}

/// A readable listing: each table, its keys, foreign keys with their delete
/// action, the version column and where each fact came from; with `verbose`, the
/// discovery notes after it.
pub fn render_text(
    schema: &Schema,
    databases: &Databases,
    root: &Path,
    notes: &[String],
    verbose: bool,
) -> String {
    let mut out = String::new();
    for (folder, dialect, evidence) in databases.folders() {
        let names: Vec<&str> = dialect.databases().iter().map(|d| d.as_str()).collect();
        out.push_str(&format!(
            "database {} in {}{}\n",
            names.join(" | "),
            shown(root, folder),
            if names.len() > 1 {
                " (several: advice names each)"
            } else {
                ""
            }
        ));
        if verbose {
            for e in evidence {
                out.push_str(&format!("  because    {}\n", e.reason));
            }
        }
    }
    if databases.folders().next().is_some() {
        out.push('\n');
    }
    if schema.tables.is_empty() {
        out.push_str("no schema found (looked for *.prisma, SQL migrations, Drizzle, Diesel, SeaORM and TypeORM)\n");
    }
    for (i, t) in schema.tables.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&t.name);
        let others: Vec<&str> = t
            .aliases
            .iter()
            .map(String::as_str)
            .filter(|a| *a != t.name)
            .collect();
        if !others.is_empty() {
            out.push_str(&format!("  (code: {})", others.join(", ")));
        }
        out.push('\n');
        out.push_str(&format!("  from         {}\n", t.sources.join(", ")));
        if let Some(database) = t.database {
            out.push_str(&format!("  database     {}\n", database.as_str()));
        }
        if t.emulated_relations {
            out.push_str(
                "  relations    emulated by Prisma (relationMode = \"prisma\"): no foreign keys in the database\n",
            );
        }
        if !t.primary_key.is_empty() {
            out.push_str(&format!("  primary key  {}\n", cols(&t.primary_key)));
        }
        for u in &t.unique {
            out.push_str(&format!("  unique       {}\n", cols(u)));
        }
        if let Some(v) = &t.version_column {
            out.push_str(&format!("  version      {v}\n"));
        }
        for fk in &t.foreign_keys {
            let action = if fk.on_delete_known {
                format!("on delete {}", fk.on_delete.as_str())
            } else {
                "on delete not declared".to_string()
            };
            out.push_str(&format!(
                "  foreign key  {} -> {}{}  {action}  [{}]\n",
                cols(&fk.columns),
                fk.references,
                if fk.referenced_columns.is_empty() {
                    String::new()
                } else {
                    cols(&fk.referenced_columns)
                },
                fk.source
            ));
        }
    }
    if verbose && !notes.is_empty() {
        out.push_str("\nnotes:\n");
        for n in notes {
            out.push_str(&format!("  {n}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{ForeignKey, OnDelete};
    use std::path::PathBuf;

    fn sample() -> Schema {
        Schema {
            tables: vec![Table {
                name: "tasks".into(),
                aliases: vec!["Task".into(), "task".into()],
                sources: vec!["prisma/schema.prisma:61".into()],
                primary_key: vec!["id".into()],
                unique: vec![vec!["slug".into()]],
                version_column: None,
                version_declared: false,
                foreign_keys: vec![ForeignKey {
                    columns: vec!["project_id".into()],
                    references: "projects".into(),
                    referenced_columns: vec!["id".into()],
                    on_delete: OnDelete::NoAction,
                    on_delete_known: true,
                    source: "prisma/schema.prisma:64".into(),
                }],
                ..Table::default()
            }],
        }
    }

    #[test]
    fn json_matches_the_contract_shape() {
        let root = Path::new("/p");
        let v = to_json(&sample(), &Databases::default(), root);
        assert_eq!(v["version"], 1);
        assert!(v.get("databases").is_none(), "absent when nothing says");
        let found = Databases::new([(
            PathBuf::from("/p/api"),
            vec![crate::schema::dialect::Evidence::dependency(
                crate::schema::Database::Mysql,
                "package.json: dependencies `mysql2`".into(),
            )],
        )]);
        let v = to_json(&sample(), &found, root);
        assert_eq!(
            v["databases"],
            json!([{ "folder": "api", "databases": ["mysql"], "evidence": ["package.json: dependencies `mysql2`"] }])
        );
        let t = &v["tables"][0];
        assert_eq!(t["name"], "tasks");
        assert_eq!(t["aliases"], json!(["Task", "task"]));
        assert!(
            t.get("version_column").is_none(),
            "absent when there is none"
        );
        assert_eq!(t["foreign_keys"][0]["on_delete"], "no-action");
        assert_eq!(t["foreign_keys"][0]["referenced_columns"], json!(["id"]));
    }

    #[test]
    fn text_lists_facts_and_notes_only_when_verbose() {
        let notes = vec!["a note".to_string()];
        let (none, root) = (Databases::default(), Path::new("/p"));
        let quiet = render_text(&sample(), &none, root, &notes, false);
        assert!(quiet.contains("foreign key  (project_id) -> projects(id)  on delete no-action  [prisma/schema.prisma:64]"));
        assert!(!quiet.contains("a note"));
        assert!(render_text(&sample(), &none, root, &notes, true).contains("notes:\n  a note"));
    }
}
