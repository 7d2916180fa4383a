//! Django migrations (`<app>/migrations/NNNN_*.py`): the `operations` of the
//! `Migration` class as replay [`Change`]s — `CreateModel`, `DeleteModel`,
//! `RenameModel`, `AlterModelTable`, `AddField`, `RemoveField`, `AlterField`,
//! `RenameField`, `AddConstraint`, `RemoveConstraint`, `AlterUniqueTogether` and
//! `RunSQL`. Migrations only run forwards here; reverse code is never read.
//!
//! Operations name models (`model_name="check"`), not tables, so each created
//! table carries the labels `app.model` and `app_model` (Django's default name)
//! by which later changes and foreign keys find it, whatever its `db_table`. Field
//! names become columns at replay time: `project` is the column `project_id`
//! when the table has one (a foreign key), else itself.

use super::django::{self, FieldSpec};
use super::migrations::{Change, DjangoName, ParsedMigration, Revision};
use super::py::{self, call, string_list, string_value, text, Call};
use super::{schema_error, schema_file, ForeignKey, OnDelete, Table};
use std::collections::HashMap;
use tree_sitter::Node;

/// The name `AlterUniqueTogether` replaces: every key it made before.
const UNIQUE_TOGETHER: &str = "__unique_together__";

/// Whether a file is a Django migration: `<app>/migrations/*.py` with a `Migration` class.
pub fn is_migration(rel_path: &str, src: &str) -> bool {
    app_and_name(rel_path).is_some() && src.contains("migrations.Migration")
}

/// `("api", "0001_initial")` for `hc/api/migrations/0001_initial.py`.
fn app_and_name(rel_path: &str) -> Option<(String, String)> {
    let parts: Vec<&str> = rel_path.split('/').collect();
    let n = parts.len();
    if n < 3 || parts[n - 2] != "migrations" {
        return None;
    }
    let name = parts[n - 1].strip_suffix(".py")?;
    (name != "__init__").then(|| (parts[n - 3].to_string(), name.to_string()))
}

fn line(node: Node) -> u32 {
    node.start_position().row as u32 + 1
}

/// A model reference (`"api.Check"`, `"Check"`) as the label tables carry.
fn label(app: &str, model: &str) -> String {
    let model = model.to_lowercase();
    if model.contains('.') {
        model
    } else {
        format!("{}.{model}", app.to_lowercase())
    }
}

/// Django's default table for a label: `api.check` → `api_check`.
fn default_table(label: &str) -> String {
    label.replacen('.', "_", 1)
}

/// Parses one Django migration's operations.
pub fn parse(rel_path: &str, src: &str) -> ParsedMigration {
    let Some((app, name)) = app_and_name(rel_path) else {
        return ParsedMigration::new(rel_path, None);
    };
    let mut out = ParsedMigration::new(rel_path, None);
    let Some(tree) = py::parse(src) else {
        out.error = Some(schema_error(
            &schema_file(rel_path, src),
            0,
            "the Python parser gave up on this file".into(),
        ));
        return out;
    };
    let Some(class) = py::children(tree.root_node())
        .into_iter()
        .filter_map(|n| py::class(n, src))
        .find(|c| c.name == "Migration")
    else {
        return out;
    };
    let mut revision = Revision {
        id: format!("{app}.{name}"),
        parents: Vec::new(),
    };
    let mut django_name = DjangoName {
        app: app.clone(),
        name,
        replaces: Vec::new(),
    };
    let locals = class
        .body
        .iter()
        .filter_map(|stmt| py::assignment(*stmt, src))
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    let mut reader = Reader {
        app: &app,
        path: rel_path,
        src,
        locals,
        out: &mut out,
    };
    for stmt in &class.body {
        let Some((key, value)) = py::assignment(*stmt, src) else {
            continue;
        };
        match key {
            // Django applies migrations in dependency order, which file names
            // only suggest (`0001_auto_…` may depend on `0001_initial`).
            "dependencies" => {
                revision.parents = py::items(value)
                    .into_iter()
                    .filter_map(|pair| string_list(pair, src))
                    .filter_map(|pair| match pair.as_slice() {
                        [a, n] => Some(format!("{a}.{n}")),
                        _ => None,
                    })
                    .collect()
            }
            "replaces" => {
                django_name.replaces = py::items(value)
                    .into_iter()
                    .filter_map(|pair| string_list(pair, src))
                    .filter_map(|pair| match pair.as_slice() {
                        [a, n] => Some((a.clone(), n.clone())),
                        _ => None,
                    })
                    .collect()
            }
            "operations" => reader.operations(value),
            _ => {}
        }
    }
    out.django = Some(django_name);
    out.revision = Some(revision);
    out
}

struct Reader<'a> {
    app: &'a str,
    path: &'a str,
    src: &'a str,
    /// The `Migration` class's own assignments (`state_operations = […]`).
    locals: HashMap<String, Node<'a>>,
    out: &'a mut ParsedMigration,
}

impl Reader<'_> {
    /// A list of operations, or the name of a class attribute holding one.
    fn operations(&mut self, list: Node) {
        let list = match list.kind() {
            "identifier" => match self.locals.get(text(list, self.src)) {
                Some(&value) if value.kind() != "identifier" => value,
                _ => return,
            },
            _ => list,
        };
        for op in py::items(list) {
            if let Some(c) = call(op, self.src) {
                self.operation(&c, op);
            }
        }
    }

    fn arg(&self, c: &Call<'_>, i: usize, key: &str) -> Option<String> {
        c.args
            .get(i)
            .copied()
            .or_else(|| c.kwarg(key))
            .and_then(|n| string_value(n, self.src))
    }

    fn model(&self, c: &Call<'_>, i: usize, key: &str) -> Option<String> {
        self.arg(c, i, key).map(|m| label(self.app, &m))
    }

    fn operation(&mut self, c: &Call<'_>, node: Node) {
        let src = self.src;
        let l = line(node);
        match c.last() {
            "CreateModel" => self.create_model(c, node),
            "DeleteModel" => {
                if let Some(model) = self.model(c, 0, "name") {
                    self.out.push_change(Change::DropTable(model), l);
                }
            }
            "RenameModel" => {
                if let (Some(from), Some(to)) =
                    (self.model(c, 0, "old_name"), self.model(c, 1, "new_name"))
                {
                    self.out.push_change(
                        Change::Relabel {
                            to_default: default_table(&to),
                            from_default: default_table(&from),
                            labels: vec![to.clone(), default_table(&to)],
                            table: from,
                        },
                        l,
                    );
                }
            }
            "AlterModelTable" => {
                // `table=None` goes back to Django's default name.
                if let Some(model) = self.model(c, 0, "name") {
                    let to = self
                        .arg(c, 1, "table")
                        .unwrap_or_else(|| default_table(&model));
                    self.out
                        .push_change(Change::RenameTable { from: model, to }, l);
                }
            }
            "AddField" | "AlterField" => {
                let (Some(model), Some(name), Some(field)) = (
                    self.model(c, 0, "model_name"),
                    self.arg(c, 1, "name"),
                    c.args.get(2).copied().or_else(|| c.kwarg("field")),
                ) else {
                    return;
                };
                let Some(spec) = django::field(&name, field, src) else {
                    return;
                };
                let source = py::source(self.path, field);
                if c.last() == "AddField" {
                    self.out.push_change(
                        Change::AddColumn {
                            table: model.clone(),
                            column: spec.column.clone(),
                            integer: false,
                        },
                        l,
                    );
                } else {
                    self.out.push_change(
                        Change::DropColumnKeys {
                            table: model.clone(),
                            column: spec.column.clone(),
                        },
                        l,
                    );
                }
                self.field_keys(&model, spec, source, l);
            }
            "RemoveField" => {
                if let (Some(model), Some(name)) =
                    (self.model(c, 0, "model_name"), self.arg(c, 1, "name"))
                {
                    for column in [format!("{name}_id"), name] {
                        self.out.push_change(
                            Change::DropColumn {
                                table: model.clone(),
                                column,
                            },
                            l,
                        );
                    }
                }
            }
            "RenameField" => {
                let (Some(model), Some(from), Some(to)) = (
                    self.model(c, 0, "model_name"),
                    self.arg(c, 1, "old_name"),
                    self.arg(c, 2, "new_name"),
                ) else {
                    return;
                };
                for (f, t) in [(format!("{from}_id"), format!("{to}_id")), (from, to)] {
                    self.out.push_change(
                        Change::RenameColumn {
                            table: model.clone(),
                            from: f,
                            to: t,
                        },
                        l,
                    );
                }
            }
            "AddConstraint" => {
                let (Some(model), Some(constraint)) = (
                    self.model(c, 0, "model_name"),
                    c.args.get(1).copied().or_else(|| c.kwarg("constraint")),
                ) else {
                    return;
                };
                self.constraint(&model, constraint, l);
            }
            "RemoveConstraint" => {
                if let (Some(model), Some(name)) =
                    (self.model(c, 0, "model_name"), self.arg(c, 1, "name"))
                {
                    self.out.push_change(
                        Change::DropConstraint {
                            table: Some(model),
                            name,
                        },
                        l,
                    );
                }
            }
            "AlterUniqueTogether" => {
                let (Some(model), Some(value)) = (
                    self.model(c, 0, "name"),
                    c.args
                        .get(1)
                        .copied()
                        .or_else(|| c.kwarg("unique_together")),
                ) else {
                    return;
                };
                self.out.push_change(
                    Change::DropConstraint {
                        table: Some(model.clone()),
                        name: UNIQUE_TOGETHER.into(),
                    },
                    l,
                );
                self.unique_together(&model, value, l);
            }
            // The state operations say what the models became; the database
            // operations are how (often a rename or data move).
            "SeparateDatabaseAndState" => {
                if let Some(ops) = c.kwarg("state_operations") {
                    self.operations(ops);
                }
            }
            "RunSQL" => {
                let sql = c.args.first().copied().or_else(|| c.kwarg("sql"));
                for s in sql.map(py::items).unwrap_or_default() {
                    if let Some(sql) = string_value(s, src) {
                        self.out.push_sql(&sql, l);
                    }
                }
            }
            _ => {}
        }
    }

    fn create_model(&mut self, c: &Call<'_>, node: Node) {
        let src = self.src;
        let Some(model) = self.arg(c, 0, "name") else {
            return;
        };
        let options = c.kwarg("options");
        let option = |key: &str| options.and_then(|o| dict_get(o, key, src));
        if option("proxy").is_some_and(|v| text(v, src) == "True")
            || option("abstract").is_some_and(|v| text(v, src) == "True")
        {
            return;
        }
        let lbl = label(self.app, &model);
        let name = option("db_table")
            .and_then(|v| string_value(v, src))
            .unwrap_or_else(|| default_table(&lbl));
        let l = line(node);
        self.out.push_change(
            Change::CreateTable {
                table: Table {
                    name,
                    aliases: vec![model.clone(), format!("{model}.objects")],
                    sources: vec![py::source(self.path, node)],
                    ..Table::default()
                },
                columns: Vec::new(),
                labels: vec![lbl.clone(), default_table(&lbl)],
            },
            l,
        );
        let fields = c.args.get(1).copied().or_else(|| c.kwarg("fields"));
        for pair in fields.map(py::items).unwrap_or_default() {
            let items = py::items(pair);
            let (Some(name), Some(field)) = (
                items.first().and_then(|n| string_value(*n, src)),
                items.get(1),
            ) else {
                continue;
            };
            let Some(spec) = django::field(&name, *field, src) else {
                continue;
            };
            let source = py::source(self.path, *field);
            self.out.push_change(
                Change::AddColumn {
                    table: lbl.clone(),
                    column: spec.column.clone(),
                    integer: false,
                },
                l,
            );
            self.field_keys(&lbl, spec, source, l);
        }
        if let Some(value) = option("unique_together") {
            self.unique_together(&lbl, value, l);
        }
        for constraint in option("constraints").map(py::items).unwrap_or_default() {
            self.constraint(&lbl, constraint, l);
        }
    }

    /// A field's primary key, unique key and foreign key, as changes.
    fn field_keys(&mut self, model: &str, spec: FieldSpec, source: String, l: u32) {
        if spec.primary_key {
            self.out.push_change(
                Change::SetPrimaryKey {
                    table: model.to_string(),
                    columns: vec![spec.column.clone()],
                },
                l,
            );
        }
        if spec.unique {
            self.out.push_change(
                Change::AddUnique {
                    table: model.to_string(),
                    columns: vec![spec.column.clone()],
                    name: None,
                },
                l,
            );
        }
        if let Some((target, action, to_field)) = spec.foreign_key {
            let references = if target == django::AUTH_USER_MODEL {
                target
            } else if target == "self" {
                default_table(model)
            } else {
                default_table(&label(self.app, &target))
            };
            self.out.push_change(
                Change::AddForeignKey {
                    table: model.to_string(),
                    foreign_key: ForeignKey {
                        columns: vec![spec.column],
                        references,
                        referenced_columns: to_field.into_iter().collect(),
                        on_delete: action.unwrap_or(OnDelete::NoAction),
                        on_delete_known: action.is_some(),
                        source,
                    },
                    name: None,
                },
                l,
            );
        }
    }

    fn unique_together(&mut self, model: &str, value: Node, l: u32) {
        for fields in django::unique_together(value, self.src) {
            self.out.push_change(
                Change::AddUniqueFields {
                    table: model.to_string(),
                    fields,
                    name: Some(UNIQUE_TOGETHER.into()),
                },
                l,
            );
        }
    }

    fn constraint(&mut self, model: &str, constraint: Node, l: u32) {
        let Some(fields) = django::unique_constraint(constraint, self.src) else {
            return;
        };
        let name = call(constraint, self.src).and_then(|c| c.kwarg_str("name", self.src));
        self.out.push_change(
            Change::AddUniqueFields {
                table: model.to_string(),
                fields,
                name,
            },
            l,
        );
    }
}

/// The value of `key` in a dictionary literal.
fn dict_get<'t>(dict: Node<'t>, key: &str, src: &str) -> Option<Node<'t>> {
    if dict.kind() != "dictionary" {
        return None;
    }
    py::children(dict)
        .into_iter()
        .filter(|p| p.kind() == "pair")
        .find(|p| {
            p.child_by_field_name("key")
                .and_then(|k| string_value(k, src))
                .as_deref()
                == Some(key)
        })
        .and_then(|p| p.child_by_field_name("value"))
}
