//! Alembic migrations (`versions/*.py`): the `upgrade()` function's `op.*` calls,
//! `batch_alter_table` blocks included, as replay [`Change`]s, and `op.execute`
//! SQL through the SQL migration parser. `downgrade()` is never read.
//!
//! Alembic orders revisions by their `down_revision` links, not by file name, so
//! each file carries its [`Revision`] and the replay follows the chain.

use super::migrations::{Change, ParsedMigration, Revision};
use super::py::{self, call, string_value, text, Call};
use super::sqlalchemy::{self, column_spec, Constraint};
use super::{schema_error, schema_file, ForeignKey, Table};
use std::collections::HashMap;
use tree_sitter::Node;

/// Whether a file is an Alembic revision: in a `versions/` folder, with an
/// `upgrade()` that calls `op`.
pub fn is_revision(rel_path: &str, src: &str) -> bool {
    rel_path.split('/').any(|p| p == "versions")
        && src.contains("def upgrade")
        && src.contains("op.")
}

fn line(node: Node) -> u32 {
    node.start_position().row as u32 + 1
}

fn revision(root: Node, src: &str) -> Option<Revision> {
    let mut rev = Revision::default();
    for stmt in py::children(root) {
        let Some((name, value)) = py::assignment(stmt, src) else {
            continue;
        };
        match name {
            "revision" => rev.id = string_value(value, src)?,
            "down_revision" => {
                rev.parents = string_value(value, src)
                    .map(|s| vec![s])
                    .or_else(|| py::string_list(value, src))
                    .unwrap_or_default()
            }
            _ => {}
        }
    }
    (!rev.id.is_empty()).then_some(rev)
}

/// Parses one Alembic revision's upgrade.
pub fn parse(rel_path: &str, src: &str) -> ParsedMigration {
    let Some(tree) = py::parse(src) else {
        let mut out = ParsedMigration::new(rel_path, None);
        out.error = Some(schema_error(
            &schema_file(rel_path, src),
            0,
            "the Python parser gave up on this file".into(),
        ));
        return out;
    };
    let root = tree.root_node();
    let mut out = ParsedMigration::new(rel_path, revision(root, src));
    let upgrade = py::children(root)
        .into_iter()
        .filter_map(|s| py::function(s, src))
        .map(|(f, _)| f)
        .find(|f| {
            f.child_by_field_name("name")
                .is_some_and(|n| text(n, src) == "upgrade")
        });
    let Some(body) = upgrade.and_then(|f| f.child_by_field_name("body")) else {
        return out;
    };
    let constants = py::children(root)
        .into_iter()
        .filter_map(|stmt| py::assignment(stmt, src))
        .filter_map(|(name, value)| Some((name.to_string(), string_value(value, src)?)))
        .collect();
    let mut reader = Reader {
        path: rel_path,
        src,
        constants,
        out: &mut out,
    };
    reader.block(body, None);
    out
}

struct Reader<'a> {
    path: &'a str,
    src: &'a str,
    /// Module-level `NAME = "…"` strings, which revisions use for index names.
    constants: HashMap<String, String>,
    out: &'a mut ParsedMigration,
}

impl Reader<'_> {
    /// A name argument: a string, `op.f("…")`, or a module constant.
    fn name(&self, node: Node) -> Option<String> {
        sqlalchemy::name_value(node, self.src).or_else(|| {
            (node.kind() == "identifier")
                .then(|| self.constants.get(text(node, self.src)).cloned())
                .flatten()
        })
    }

    fn at(&self, node: Node) -> String {
        py::source(self.path, node)
    }

    /// The statements of a block in order; `batch` is the table of an enclosing
    /// `with op.batch_alter_table("t") as batch_op:`.
    fn block(&mut self, block: Node, batch: Option<(String, String)>) {
        let mut stack = vec![block];
        // Statements of nested blocks (if, for, try) run in their place; a `with`
        // batch block is read where it stands.
        let mut order = Vec::new();
        while let Some(n) = stack.pop() {
            if n.kind() == "with_statement" {
                order.push(n);
                continue;
            }
            if n.kind() == "call" {
                order.push(n);
                continue;
            }
            if matches!(
                n.kind(),
                "function_definition" | "class_definition" | "lambda"
            ) {
                continue;
            }
            let mut cursor = n.walk();
            let kids: Vec<Node> = n.named_children(&mut cursor).collect();
            stack.extend(kids.into_iter().rev());
        }
        for n in order {
            if n.kind() == "with_statement" {
                self.with_block(n, batch.clone());
            } else if let Some(c) = call(n, self.src) {
                self.op(&c, n, batch.as_ref());
            }
        }
    }

    fn with_block(&mut self, with: Node, outer: Option<(String, String)>) {
        let src = self.src;
        let mut inner = outer;
        let clause = py::children(with)
            .into_iter()
            .find(|n| n.kind() == "with_clause");
        for item in clause
            .map(py::children)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|n| n.named_child(0))
            .filter(|n| n.kind() == "as_pattern")
        {
            let (Some(value), Some(alias)) =
                (item.named_child(0), item.child_by_field_name("alias"))
            else {
                continue;
            };
            if let Some(c) = call(value, src).filter(|c| c.last() == "batch_alter_table") {
                if let Some(table) = c
                    .args
                    .first()
                    .copied()
                    .or_else(|| c.kwarg("table_name"))
                    .and_then(|t| string_value(t, src))
                {
                    inner = Some((text(alias, src).trim().to_string(), table));
                }
            } else if let Some(c) = call(value, src) {
                self.op(&c, value, inner.as_ref());
            }
        }
        if let Some(body) = with.child_by_field_name("body") {
            self.block(body, inner);
        }
    }

    fn strings(&self, node: Option<Node>) -> Option<Vec<String>> {
        let node = node?;
        py::items(node)
            .into_iter()
            .map(|n| string_value(n, self.src))
            .collect()
    }

    fn op(&mut self, c: &Call, node: Node, batch: Option<&(String, String)>) {
        let src = self.src;
        let Some((object, method)) = c.name.rsplit_once('.') else {
            return;
        };
        // In a batch block the table is the block's, and every argument after
        // the name moves one place left.
        let (table_arg, shift): (Option<String>, usize) = match batch {
            Some((alias, table)) if object == alias => (Some(table.clone()), 0),
            _ if object == "op" => (None, 1),
            _ => return,
        };
        let arg = |i: usize, key: &str| c.args.get(i).copied().or_else(|| c.kwarg(key));
        let table = |i: usize, key: &str| {
            table_arg
                .clone()
                .or_else(|| arg(i, key).and_then(|n| self.name(n)))
        };
        let name = |i: usize, key: &str| arg(i, key).and_then(|n| self.name(n));
        let l = line(node);
        match method {
            "create_table" => self.create_table(c, node),
            "drop_table" => {
                if let Some(t) = name(0, "table_name") {
                    self.out.push_change(Change::DropTable(t), l);
                }
            }
            "rename_table" => {
                if let (Some(from), Some(to)) =
                    (name(0, "old_table_name"), name(1, "new_table_name"))
                {
                    self.out.push_change(Change::RenameTable { from, to }, l);
                }
            }
            "add_column" => {
                let (Some(t), Some(col)) = (table(0, "table_name"), arg(shift, "column")) else {
                    return;
                };
                let Some(spec) = column_spec(col, src) else {
                    return;
                };
                let Some(column) = spec.name.clone() else {
                    return;
                };
                self.out.push_change(
                    Change::AddColumn {
                        table: t.clone(),
                        column: column.clone(),
                        integer: spec.integer,
                    },
                    l,
                );
                let mut keys = Table::default();
                sqlalchemy::apply_column(&mut keys, &column, &spec, self.at(col));
                self.push_keys(&t, keys, l);
            }
            "drop_column" => {
                if let (Some(t), Some(column)) =
                    (table(0, "table_name"), name(shift, "column_name"))
                {
                    self.out
                        .push_change(Change::DropColumn { table: t, column }, l);
                }
            }
            "alter_column" => {
                let (Some(t), Some(from)) = (table(0, "table_name"), name(shift, "column_name"))
                else {
                    return;
                };
                if let Some(to) = c.kwarg_str("new_column_name", src) {
                    self.out
                        .push_change(Change::RenameColumn { table: t, from, to }, l);
                }
            }
            "create_foreign_key" => {
                let (Some(t), Some(references)) =
                    (table(1, "source_table"), name(1 + shift, "referent_table"))
                else {
                    return;
                };
                let (Some(columns), Some(referenced)) = (
                    self.strings(arg(2 + shift, "local_cols")),
                    self.strings(arg(3 + shift, "remote_cols")),
                ) else {
                    return;
                };
                let on_delete = c
                    .kwarg_str("ondelete", src)
                    .and_then(|w| super::OnDelete::from_words(&w))
                    .unwrap_or(super::OnDelete::NoAction);
                self.out.push_change(
                    Change::AddForeignKey {
                        table: t,
                        foreign_key: ForeignKey {
                            columns,
                            references,
                            referenced_columns: referenced,
                            on_delete,
                            on_delete_known: true,
                            source: self.at(node),
                        },
                        name: name(0, "constraint_name"),
                    },
                    l,
                );
            }
            "create_unique_constraint" => {
                if let (Some(t), Some(columns)) = (
                    table(1, "table_name"),
                    self.strings(arg(1 + shift, "columns")),
                ) {
                    self.out.push_change(
                        Change::AddUnique {
                            table: t,
                            columns,
                            name: name(0, "constraint_name"),
                        },
                        l,
                    );
                }
            }
            "create_index" if c.flag("unique", src) => {
                let Some(t) = table(1, "table_name") else {
                    return;
                };
                match self.strings(arg(1 + shift, "columns")) {
                    Some(columns) => self.out.push_change(
                        Change::AddUnique {
                            table: t,
                            columns,
                            name: name(0, "index_name"),
                        },
                        l,
                    ),
                    None => self.out.notes.push(format!(
                        "{}: unique index on an expression over `{t}` is not a column key; skipped",
                        self.at(node)
                    )),
                }
            }
            "drop_constraint" | "drop_index" => {
                let Some(constraint) = name(0, "constraint_name").or_else(|| name(0, "index_name"))
                else {
                    return;
                };
                let t = table_arg
                    .clone()
                    .or_else(|| name(1, "table_name"))
                    .or_else(|| c.kwarg_str("table_name", src));
                self.out.push_change(
                    Change::DropConstraint {
                        table: t,
                        name: constraint,
                    },
                    l,
                );
            }
            "execute" => {
                let sql = c.args.first().and_then(|a| {
                    string_value(*a, src).or_else(|| {
                        call(*a, src)
                            .filter(|t| t.last() == "text")
                            .and_then(|t| t.args.first().and_then(|s| string_value(*s, src)))
                    })
                });
                if let Some(sql) = sql {
                    self.out.push_sql(&sql, l);
                }
            }
            _ => {}
        }
    }

    fn create_table(&mut self, c: &Call, node: Node) {
        let src = self.src;
        let Some(name) = c
            .args
            .first()
            .copied()
            .or_else(|| c.kwarg("table_name"))
            .and_then(|n| string_value(n, src))
        else {
            return;
        };
        let mut table = Table {
            name,
            sources: vec![self.at(node)],
            ..Table::default()
        };
        let mut columns = Vec::new();
        // Keys become changes of their own, so that they keep their names for a
        // later `drop_constraint`.
        let mut keys = Vec::new();
        let mut inline = Table::default();
        for arg in c.args.iter().skip(1) {
            if let Some(spec) = column_spec(*arg, src) {
                let Some(col) = spec.name.clone() else {
                    continue;
                };
                if spec.integer && col.eq_ignore_ascii_case("version") {
                    table.version_column = Some(col.clone());
                }
                sqlalchemy::apply_column(&mut inline, &col, &spec, self.at(*arg));
                columns.push((col, spec.integer));
            } else if let Some(k) = sqlalchemy::constraint(*arg, src) {
                keys.push((k, *arg));
            }
        }
        table.primary_key = std::mem::take(&mut inline.primary_key);
        let name = table.name.clone();
        self.out.push_change(
            Change::CreateTable {
                table,
                columns,
                labels: Vec::new(),
            },
            line(node),
        );
        self.push_keys(&name, inline, line(node));
        for (k, at) in keys {
            let l = line(at);
            let change = match k {
                Constraint::PrimaryKey(cols) => Change::SetPrimaryKey {
                    table: name.clone(),
                    columns: cols,
                },
                Constraint::Unique(columns, key_name) => Change::AddUnique {
                    table: name.clone(),
                    columns,
                    name: key_name,
                },
                Constraint::ForeignKey {
                    columns,
                    table: references,
                    referenced,
                    on_delete,
                    name: key_name,
                } => Change::AddForeignKey {
                    table: name.clone(),
                    foreign_key: ForeignKey {
                        columns,
                        references,
                        referenced_columns: referenced,
                        on_delete,
                        on_delete_known: true,
                        source: self.at(at),
                    },
                    name: key_name,
                },
            };
            self.out.push_change(change, l);
        }
    }

    /// The keys of a column added to an existing table, as changes.
    fn push_keys(&mut self, table: &str, keys: Table, line: u32) {
        for columns in keys.unique {
            self.out.push_change(
                Change::AddUnique {
                    table: table.to_string(),
                    columns,
                    name: None,
                },
                line,
            );
        }
        for foreign_key in keys.foreign_keys {
            self.out.push_change(
                Change::AddForeignKey {
                    table: table.to_string(),
                    foreign_key,
                    name: None,
                },
                line,
            );
        }
    }
}
