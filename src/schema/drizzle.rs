//! Drizzle table definitions: `pgTable` / `mysqlTable` / `sqliteTable` calls (and
//! tables made by a `pgTableCreator`), read with tree-sitter-typescript.
//!
//! Columns are stored by their *property key* (`userId` in `userId:
//! integer("user_id")`), because Drizzle code names the key; the database name is
//! the builder's string argument and only `fold_name` bridges the two. Foreign keys
//! name the referenced *variable* (`() => users.id`); the merge resolves it.

use super::ts::{self, call_chain, children, member, object_get, string_value, text, Link};
use super::{schema_error, schema_file, source_at, FileSchema, ForeignKey, OnDelete, Table};
use crate::source::SourceFile;
use tree_sitter::Node;

const TABLE_FNS: [&str; 3] = ["pgTable", "mysqlTable", "sqliteTable"];
const INT_BUILDERS: [&str; 10] = [
    "integer",
    "int",
    "bigint",
    "smallint",
    "tinyint",
    "mediumint",
    "serial",
    "bigserial",
    "smallserial",
    "int4",
];

/// A `pgTableCreator((name) => `app_${name}`)` variable, with the template that names its tables.
struct Creator {
    var: String,
    /// `pgTableCreator`, `mysqlTableCreator`, `sqliteTableCreator`: the dialect.
    function: String,
    param: String,
    template: Option<String>,
}

fn creators(root: Node, src: &str) -> Vec<Creator> {
    let mut out = Vec::new();
    for node in ts::descendants(root) {
        if node.kind() != "variable_declarator" {
            continue;
        }
        let (Some(name), Some(value)) = (
            node.child_by_field_name("name"),
            node.child_by_field_name("value"),
        ) else {
            continue;
        };
        let Some(chain) = call_chain(value, src) else {
            continue;
        };
        let Some(first) = chain.first() else { continue };
        if !matches!(
            first.name.as_str(),
            "pgTableCreator" | "mysqlTableCreator" | "sqliteTableCreator"
        ) {
            continue;
        }
        let arrow = first.args.first().filter(|a| a.kind() == "arrow_function");
        let param = arrow
            .and_then(|a| {
                a.child_by_field_name("parameters")
                    .or_else(|| a.child_by_field_name("parameter"))
            })
            .map(|p| {
                text(p, src)
                    .trim_matches(|c| c == '(' || c == ')')
                    .trim()
                    .to_string()
            })
            .unwrap_or_default();
        let template = arrow
            .and_then(|a| a.child_by_field_name("body"))
            .filter(|b| b.kind() == "template_string")
            .map(|b| text(b, src).trim_matches('`').to_string());
        out.push(Creator {
            var: text(name, src).to_string(),
            function: first.name.clone(),
            param,
            template,
        });
    }
    out
}

/// Parses one TypeScript/JavaScript file for Drizzle tables.
pub fn parse(rel_path: &str, text_: &str) -> FileSchema {
    let src = text_;
    let file = schema_file(rel_path, src);
    let mut out = FileSchema::default();
    let Some(tree) = ts::parse(rel_path, src) else {
        out.error = Some(schema_error(
            &file,
            0,
            "the TypeScript parser could not start".into(),
        ));
        return out;
    };
    let root = tree.root_node();
    let creators = creators(root, src);
    for node in ts::descendants(root) {
        if node.kind() != "call_expression" {
            continue;
        }
        let Some(func) = node.child_by_field_name("function") else {
            continue;
        };
        let fname = match func.kind() {
            "identifier" => text(func, src),
            // `mySchema.table("x", …)` from `pgSchema("my")`.
            "member_expression" => func
                .child_by_field_name("property")
                .map_or("", |p| text(p, src)),
            _ => continue,
        };
        let creator = creators.iter().find(|c| c.var == fname);
        let schema_table = fname == "table" && src.contains("Schema(");
        if !TABLE_FNS.contains(&fname) && creator.is_none() && !schema_table {
            continue;
        }
        let args = ts::call_args(node);
        let Some(name) = args.first().and_then(|a| string_value(*a, src)) else {
            continue;
        };
        let name = match creator.and_then(|c| c.template.as_ref().map(|t| (t, &c.param))) {
            Some((template, param)) => template.replace(&format!("${{{param}}}"), &name),
            None => name,
        };
        let Some(columns) = args.get(1).and_then(|a| columns_object(*a)) else {
            continue;
        };
        let dialect = creator.map_or(fname, |c| c.function.as_str());
        let mut table = Table {
            name,
            sources: vec![source_at(&file, node.start_byte())],
            database: if dialect.starts_with("pg") {
                Some(super::Database::Postgres)
            } else if dialect.starts_with("mysql") {
                Some(super::Database::Mysql)
            } else if dialect.starts_with("sqlite") {
                Some(super::Database::Sqlite)
            } else {
                None
            },
            ..Table::default()
        };
        if let Some(var) = enclosing_variable(node, src) {
            table.aliases.push(var);
        }
        read_columns(&file, src, columns, &mut table);
        if let Some(extra) = args.get(2) {
            read_extras(&file, src, *extra, &mut table);
        }
        out.tables.push(table);
    }
    if root.has_error() {
        let at = first_error(root).map_or(0, |n| n.start_byte());
        if out.tables.is_empty() {
            out.error = Some(schema_error(
                &file,
                at,
                "not valid TypeScript and no table could be read".into(),
            ));
        } else {
            out.notes.push(format!(
                "{}: syntax errors; tables read around them",
                source_at(&file, at)
            ));
        }
    }
    out
}

/// The columns object, also in the newer callback form `(d) => ({ id: d.integer() })`.
fn columns_object(arg: Node) -> Option<Node> {
    let mut node = arg;
    if node.kind() == "arrow_function" {
        node = node.child_by_field_name("body")?;
    }
    while node.kind() == "parenthesized_expression" {
        node = node.named_child(0)?;
    }
    (node.kind() == "object").then_some(node)
}

fn first_error(root: Node) -> Option<Node> {
    ts::descendants(root)
        .into_iter()
        .find(|n| n.is_error() || n.is_missing())
}

fn enclosing_variable(call: Node, src: &str) -> Option<String> {
    let mut cur = call.parent()?;
    while matches!(
        cur.kind(),
        "parenthesized_expression" | "as_expression" | "satisfies_expression"
    ) {
        cur = cur.parent()?;
    }
    (cur.kind() == "variable_declarator")
        .then(|| {
            cur.child_by_field_name("name")
                .map(|n| text(n, src).to_string())
        })
        .flatten()
}

fn read_columns(file: &SourceFile, src: &str, object: Node, table: &mut Table) {
    for pair in children(object) {
        if pair.kind() != "pair" {
            continue; // spreads of shared columns, methods
        }
        let Some(key) = ts::pair_key(pair, src) else {
            continue;
        };
        let Some(value) = pair.child_by_field_name("value") else {
            continue;
        };
        let Some(chain) = call_chain(value, src) else {
            continue;
        };
        let Some(builder) = chain.first() else {
            continue;
        };
        if key == "version" && INT_BUILDERS.contains(&builder.name.as_str()) {
            table.version_column = Some(key.clone());
        }
        for link in &chain[1..] {
            match link.name.as_str() {
                "primaryKey" => table.primary_key = vec![key.clone()],
                "unique" => push_unique(table, vec![key.clone()]),
                "references" => {
                    if let Some(fk) = column_reference(file, src, &key, link, pair) {
                        table.foreign_keys.push(fk);
                    }
                }
                _ => {}
            }
        }
    }
}

fn push_unique(table: &mut Table, cols: Vec<String>) {
    if !cols.is_empty() && !table.unique.contains(&cols) {
        table.unique.push(cols);
    }
}

/// `.references(() => users.id, { onDelete: "cascade" })`.
fn column_reference(
    file: &SourceFile,
    src: &str,
    key: &str,
    link: &Link,
    at: Node,
) -> Option<ForeignKey> {
    let target = link.args.first()?;
    let body = if target.kind() == "arrow_function" {
        target.child_by_field_name("body")?
    } else {
        *target
    };
    let (object, column) = member(body, src)?;
    let action = link
        .args
        .get(1)
        .and_then(|o| object_get(*o, "onDelete", src))
        .and_then(|v| string_value(v, src))
        .and_then(|s| OnDelete::from_words(&s));
    Some(ForeignKey {
        columns: vec![key.to_string()],
        references: object,
        referenced_columns: vec![column],
        // Drizzle emits no ON DELETE clause when none is given: the database's NO ACTION.
        on_delete: action.unwrap_or(OnDelete::NoAction),
        on_delete_known: true,
        source: source_at(file, at.start_byte()),
    })
}

/// Property names of `t.a`-style arguments or array elements.
fn member_props(nodes: &[Node], src: &str) -> Vec<String> {
    nodes
        .iter()
        .flat_map(|n| {
            if n.kind() == "array" {
                children(*n)
            } else {
                vec![*n]
            }
        })
        .filter_map(|n| member(n, src).map(|(_, p)| p))
        .collect()
}

/// The third argument: `(t) => [uniqueIndex("x").on(t.a, t.b), primaryKey({ columns: [...] })]`,
/// or the older `(t) => ({ … })` object form.
fn read_extras(file: &SourceFile, src: &str, extra: Node, table: &mut Table) {
    for node in ts::descendants(extra) {
        if node.kind() != "call_expression" {
            continue;
        }
        // Only the outermost call of a chain, so `uniqueIndex("x").on(…)` is seen once.
        if node
            .parent()
            .is_some_and(|p| p.kind() == "member_expression")
        {
            continue;
        }
        let Some(chain) = call_chain(node, src) else {
            continue;
        };
        let Some(root) = chain.first() else { continue };
        let on = || {
            chain
                .iter()
                .find(|l| l.name == "on")
                .map(|l| member_props(&l.args, src))
        };
        match root.name.as_str() {
            "uniqueIndex" | "unique" => {
                if let Some(cols) = on() {
                    push_unique(table, cols);
                }
            }
            "primaryKey" => {
                let cols = match root.args.first() {
                    Some(o) if o.kind() == "object" => object_get(*o, "columns", src)
                        .map(|c| member_props(&[c], src))
                        .unwrap_or_default(),
                    _ => member_props(&root.args, src),
                };
                if !cols.is_empty() {
                    table.primary_key = cols;
                }
            }
            "foreignKey" => {
                let Some(o) = root.args.first().filter(|o| o.kind() == "object") else {
                    continue;
                };
                let columns = object_get(*o, "columns", src)
                    .map(|c| member_props(&[c], src))
                    .unwrap_or_default();
                let foreign: Vec<(String, String)> = object_get(*o, "foreignColumns", src)
                    .map(|c| {
                        children(c)
                            .into_iter()
                            .filter_map(|n| member(n, src))
                            .collect()
                    })
                    .unwrap_or_default();
                let Some((references, _)) = foreign.first().cloned() else {
                    continue;
                };
                let action = chain
                    .iter()
                    .find(|l| l.name == "onDelete")
                    .and_then(|l| l.args.first())
                    .and_then(|a| string_value(*a, src))
                    .and_then(|s| OnDelete::from_words(&s));
                table.foreign_keys.push(ForeignKey {
                    columns,
                    references,
                    referenced_columns: foreign.into_iter().map(|(_, c)| c).collect(),
                    on_delete: action.unwrap_or(OnDelete::NoAction),
                    on_delete_known: true,
                    source: source_at(file, node.start_byte()),
                });
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEMA: &str = r#"import { pgTable, integer, text, uniqueIndex, primaryKey, foreignKey, unique, serial } from "drizzle-orm/pg-core";
import { relations } from "drizzle-orm";

export const users = pgTable("users", {
  id: serial("id").primaryKey(),
  email: text("email").notNull().unique(),
});

// cards belong to a deck; deleting a deck takes its cards
export const cards = pgTable(
  "cards",
  {
    id: integer("id").primaryKey(),
    deckId: integer("deck_id")
      .notNull()
      .references(() => decks.id, { onDelete: "cascade" }),
    ownerId: integer("owner_id").references(() => users.id),
    slug: text("slug"),
    version: integer("version").notNull().default(0),
  },
  (t) => [uniqueIndex("cards_deck_slug").on(t.deckId, t.slug)],
);

export const memberships = pgTable("memberships", {
  userId: integer("user_id").notNull(),
  teamId: integer("team_id").notNull(),
}, (table) => ({
  pk: primaryKey({ columns: [table.userId, table.teamId] }),
  userFk: foreignKey({ columns: [table.userId], foreignColumns: [users.id], name: "m_user" }).onDelete("set null"),
  uq: unique().on(table.teamId),
}));

export const usersRelations = relations(users, ({ many }) => ({ cards: many(cards) }));
"#;

    #[test]
    fn tables_columns_and_extras() {
        let parsed = parse("src/db/schema.ts", SCHEMA);
        assert!(parsed.error.is_none());
        let names: Vec<_> = parsed.tables.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["users", "cards", "memberships"]);

        let users = &parsed.tables[0];
        assert_eq!(users.aliases, ["users"]);
        assert_eq!(users.primary_key, ["id"]);
        assert_eq!(users.unique, [vec!["email".to_string()]]);

        let cards = &parsed.tables[1];
        assert_eq!(cards.sources, ["src/db/schema.ts:10"]);
        assert_eq!(cards.version_column.as_deref(), Some("version"));
        assert_eq!(
            cards.unique,
            [vec!["deckId".to_string(), "slug".to_string()]]
        );
        let deck = &cards.foreign_keys[0];
        assert_eq!(deck.columns, ["deckId"], "property keys, not DB names");
        assert_eq!(deck.references, "decks");
        assert_eq!(deck.on_delete, OnDelete::Cascade);
        assert_eq!(deck.source, "src/db/schema.ts:14");
        assert_eq!(cards.foreign_keys[1].on_delete, OnDelete::NoAction);

        let m = &parsed.tables[2];
        assert_eq!(m.primary_key, ["userId", "teamId"]);
        assert_eq!(m.unique, [vec!["teamId".to_string()]]);
        assert_eq!(m.foreign_keys[0].references, "users");
        assert_eq!(m.foreign_keys[0].on_delete, OnDelete::SetNull);
    }

    #[test]
    fn table_creator_prefixes_names() {
        let src = "export const createTable = pgTableCreator((name) => `app_${name}`);\nexport const posts = createTable(\"post\", (d) => ({ id: d.integer().primaryKey() }));\nexport const tags = createTable(\"tag\", { id: integer(\"id\").primaryKey() });\n";
        let parsed = parse("src/server/db/schema.ts", src);
        let names: Vec<_> = parsed.tables.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["app_post", "app_tag"]);
        assert_eq!(parsed.tables[0].aliases, ["posts"]);
        assert_eq!(parsed.tables[0].primary_key, ["id"]);
    }
}
