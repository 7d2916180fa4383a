//! SQLAlchemy schemas: declarative classes (`__tablename__`, `mapped_column`,
//! `Column`, `__table_args__`, `__mapper_args__`), Flask-SQLAlchemy's `db.Model`,
//! SQLModel's `table=True`, and `Table("name", metadata, Column(…), …)`, read
//! with tree-sitter-python.
//!
//! Classes become [`ModelClass`] records (inheritance is joined across files in
//! [`super::py_models`]); `Table(…)` calls are tables at once, aliased by their
//! variable. The readers of `Column`, `ForeignKey` and the constraint calls are
//! shared with Alembic, whose `op.create_table` takes the same arguments.

use super::py::{self, call, children, string_value, text, Call};
use super::py_models::{ModelClass, Naming, Orm};
use super::{schema_error, schema_file, FileSchema, ForeignKey, OnDelete, Table};
use tree_sitter::Node;

/// Whether the text may declare SQLAlchemy tables or the classes they build on
/// (a mixin's columns, a base's `__abstract__` or computed `__tablename__`).
/// Services that only import `sqlalchemy` to query are not parsed.
pub fn mentions(src: &str) -> bool {
    [
        "__tablename__",
        "__abstract__",
        "mapped_column",
        "Mapped[",
        "__mapper_args__",
        "Column(",
        "Table(",
        "DeclarativeBase",
        "declarative_base",
        "db.Model",
        "table=True",
    ]
    .iter()
    .any(|m| src.contains(m))
}

const COLUMN_CALLS: [&str; 3] = ["Column", "mapped_column", "Field"];
const INTEGER_TYPES: [&str; 5] = ["Integer", "BigInteger", "SmallInteger", "INTEGER", "BIGINT"];

/// One `Column(…)`/`mapped_column(…)` as written.
#[derive(Debug, Default)]
pub struct ColumnSpec {
    /// The database name, when the call gives one (`Column("user_id", …)`).
    pub name: Option<String>,
    pub primary_key: bool,
    pub unique: bool,
    pub integer: bool,
    /// `ForeignKey("users.id", ondelete="CASCADE")`: the referenced table (or
    /// class, for `ForeignKey(User.id)`), column and action.
    pub foreign_key: Option<(String, String, OnDelete)>,
}

/// A `Column`-like call (`Column`, `sa.Column`, `db.Column`, `mapped_column`,
/// SQLModel's `Field`) read into a [`ColumnSpec`].
pub fn column_spec(node: Node, src: &str) -> Option<ColumnSpec> {
    let c = call(node, src)?;
    if !COLUMN_CALLS.contains(&c.last()) {
        return None;
    }
    let mut spec = ColumnSpec {
        name: c.kwarg_str("name", src),
        primary_key: c.flag("primary_key", src),
        unique: c.flag("unique", src),
        ..ColumnSpec::default()
    };
    for (i, arg) in c.args.iter().enumerate() {
        if i == 0 {
            if let Some(name) = string_value(*arg, src) {
                spec.name = Some(name);
                continue;
            }
        }
        if let Some(fk) = call(*arg, src).filter(|f| f.last() == "ForeignKey") {
            spec.foreign_key = foreign_key_target(&fk, src);
            continue;
        }
        let type_name = call(*arg, src).map_or_else(
            || py::last_segment(*arg, src).to_string(),
            |t| t.last().to_string(),
        );
        if INTEGER_TYPES.contains(&type_name.as_str()) {
            spec.integer = true;
        }
    }
    // SQLModel: `Field(foreign_key="users.id", ondelete="CASCADE")`.
    if let Some(target) = c.kwarg_str("foreign_key", src) {
        let (table, col) = split_target(&target);
        let action = ondelete(&c, src);
        spec.foreign_key = Some((table, col, action));
    }
    Some(spec)
}

/// A constraint name: a string, or Alembic's `op.f("name")` (the name as given,
/// without the naming convention applied).
pub fn name_value(node: Node, src: &str) -> Option<String> {
    string_value(node, src).or_else(|| {
        let c = call(node, src).filter(|c| c.last() == "f")?;
        string_value(*c.args.first()?, src)
    })
}

fn ondelete(c: &Call, src: &str) -> OnDelete {
    c.kwarg_str("ondelete", src)
        .and_then(|w| OnDelete::from_words(&w))
        .unwrap_or(OnDelete::NoAction)
}

/// `"schema.table.col"` → (`table`, `col`); a default schema is dropped, another kept.
fn split_target(target: &str) -> (String, String) {
    match target.rsplit_once('.') {
        Some((table, col)) => {
            let table = table.strip_prefix("public.").unwrap_or(table);
            (table.to_string(), col.to_string())
        }
        None => (target.to_string(), String::new()),
    }
}

fn foreign_key_target(fk: &Call, src: &str) -> Option<(String, String, OnDelete)> {
    let target = fk.args.first()?;
    let (table, col) = match string_value(*target, src) {
        Some(s) => split_target(&s),
        // `ForeignKey(User.id)`: the class; the merge resolves it to its table.
        None => split_target(text(*target, src)),
    };
    Some((table, col, ondelete(fk, src)))
}

/// The column names of a constraint's arguments: strings, `cls.x`/`Model.x`,
/// `column("x")`; `None` when one is an expression (`func.lower(email)`).
fn constraint_columns(args: &[Node], src: &str) -> Option<Vec<String>> {
    args.iter()
        .map(|a| {
            string_value(*a, src).or_else(|| match a.kind() {
                "identifier" | "attribute" => Some(py::last_segment(*a, src).to_string()),
                _ => None,
            })
        })
        .collect()
}

/// What one `__table_args__`/`Table(…)`/`op.create_table` item declares.
pub enum Constraint {
    PrimaryKey(Vec<String>),
    Unique(Vec<String>, Option<String>),
    ForeignKey {
        columns: Vec<String>,
        table: String,
        referenced: Vec<String>,
        on_delete: OnDelete,
        name: Option<String>,
    },
}

/// `UniqueConstraint(…)`, `Index(…, unique=True)`, `PrimaryKeyConstraint(…)`,
/// `ForeignKeyConstraint([…], […], ondelete=…)`; anything else is `None`.
pub fn constraint(node: Node, src: &str) -> Option<Constraint> {
    let c = call(node, src)?;
    let name = c.kwarg("name").and_then(|n| name_value(n, src));
    match c.last() {
        "UniqueConstraint" => Some(Constraint::Unique(constraint_columns(&c.args, src)?, name)),
        "PrimaryKeyConstraint" => Some(Constraint::PrimaryKey(constraint_columns(&c.args, src)?)),
        "Index" if c.flag("unique", src) => {
            let index_name = c.args.first().and_then(|a| name_value(*a, src));
            let cols = constraint_columns(c.args.get(1..).unwrap_or_default(), src)?;
            Some(Constraint::Unique(cols, index_name))
        }
        "ForeignKeyConstraint" => {
            let columns = list_of_names(c.args.first().copied().or(c.kwarg("columns"))?, src)?;
            let refs = list_of_names(c.args.get(1).copied().or(c.kwarg("refcolumns"))?, src)?;
            let mut table = String::new();
            let mut referenced = Vec::new();
            for r in refs {
                let (t, col) = split_target(&r);
                table = t;
                referenced.push(col);
            }
            Some(Constraint::ForeignKey {
                columns,
                table,
                referenced,
                on_delete: ondelete(&c, src),
                name,
            })
        }
        _ => None,
    }
}

fn list_of_names(node: Node, src: &str) -> Option<Vec<String>> {
    constraint_columns(&py::items(node), src)
}

/// Applies a constraint to a table whose columns are already named.
pub fn apply_constraint(table: &mut Table, c: Constraint, source: String) {
    match c {
        Constraint::PrimaryKey(cols) => table.primary_key = cols,
        Constraint::Unique(cols, _) => {
            if !cols.is_empty() && !table.unique.contains(&cols) {
                table.unique.push(cols);
            }
        }
        Constraint::ForeignKey {
            columns,
            table: references,
            referenced,
            on_delete,
            ..
        } => table.foreign_keys.push(ForeignKey {
            columns,
            references,
            referenced_columns: referenced,
            on_delete,
            on_delete_known: true,
            source,
        }),
    }
}

/// Adds a column's keys to a table, the column named `name`.
pub fn apply_column(table: &mut Table, name: &str, spec: &ColumnSpec, source: String) {
    if spec.primary_key && !table.primary_key.iter().any(|c| c == name) {
        table.primary_key.push(name.to_string());
    }
    if spec.unique {
        let key = vec![name.to_string()];
        if !table.unique.contains(&key) {
            table.unique.push(key);
        }
    }
    if let Some((references, col, on_delete)) = &spec.foreign_key {
        table.foreign_keys.push(ForeignKey {
            columns: vec![name.to_string()],
            references: references.clone(),
            referenced_columns: if col.is_empty() {
                Vec::new()
            } else {
                vec![col.clone()]
            },
            on_delete: *on_delete,
            on_delete_known: true,
            source,
        });
    }
}

/// A `Table("name", metadata, Column(…), UniqueConstraint(…), …)` call.
pub fn table_call(path: &str, node: Node, src: &str) -> Option<Table> {
    let c = call(node, src)?;
    if c.last() != "Table" {
        return None;
    }
    let name = string_value(*c.args.first()?, src)?;
    let mut table = Table {
        name,
        sources: vec![py::source(path, node)],
        ..Table::default()
    };
    table_items(path, &mut table, c.args.get(1..).unwrap_or_default(), src);
    Some(table)
}

/// `Column(…)` and constraint arguments of `Table(…)` or `op.create_table(…)`.
pub fn table_items(path: &str, table: &mut Table, args: &[Node], src: &str) {
    for arg in args {
        let at = py::source(path, *arg);
        if let Some(spec) = column_spec(*arg, src) {
            if let Some(name) = &spec.name {
                apply_column(table, &name.clone(), &spec, at);
            }
        } else if let Some(c) = constraint(*arg, src) {
            apply_constraint(table, c, at);
        }
    }
}

/// Parses one Python file for SQLAlchemy classes and `Table(…)` definitions.
pub fn parse(rel_path: &str, src: &str) -> (Vec<ModelClass>, FileSchema) {
    let mut out = FileSchema::default();
    let Some(tree) = py::parse(src) else {
        out.error = Some(schema_error(
            &schema_file(rel_path, src),
            0,
            "the Python parser gave up on this file".into(),
        ));
        return (Vec::new(), out);
    };
    let mut classes = Vec::new();
    for node in py::descendants(tree.root_node()) {
        if let Some(class) = py::class(node, src) {
            classes.push(read_class(rel_path, &class, src));
        } else if node.kind() == "assignment" {
            let (Some(left), Some(right)) = (
                node.child_by_field_name("left"),
                node.child_by_field_name("right"),
            ) else {
                continue;
            };
            if let Some(mut table) = table_call(rel_path, right, src) {
                if left.kind() == "identifier" {
                    table.aliases.push(text(left, src).to_string());
                }
                out.tables.push(table);
            }
        }
    }
    // `Index("ix", Model.col, unique=True)` beside the classes: a key of Model's table.
    for stmt in py::children(tree.root_node()) {
        let Some(expr) = (stmt.kind() == "expression_statement")
            .then(|| stmt.named_child(0))
            .flatten()
        else {
            continue;
        };
        let Some(c) = call(expr, src).filter(|c| c.last() == "Index" && c.flag("unique", src))
        else {
            continue;
        };
        let owners: Vec<&str> = c.args[1.min(c.args.len())..]
            .iter()
            .filter(|a| a.kind() == "attribute")
            .filter_map(|a| a.child_by_field_name("object").map(|o| text(o, src)))
            .collect();
        let (Some(owner), Some(Constraint::Unique(cols, _))) =
            (owners.first(), constraint(expr, src))
        else {
            continue;
        };
        if owners.iter().all(|o| o == owner) {
            if let Some(m) = classes.iter_mut().find(|m| m.name == *owner) {
                m.unique.push(cols);
            }
        }
    }
    (classes, out)
}

fn read_class(path: &str, class: &py::Class, src: &str) -> ModelClass {
    let mut m = ModelClass::new(
        Orm::SqlAlchemy,
        &class.name,
        path,
        py::source(path, class.node),
    );
    m.bases = class
        .bases
        .iter()
        .map(|b| text(*b, src).to_string())
        .collect();
    for b in &m.bases {
        let b = b.as_str();
        // Flask-SQLAlchemy names a table after its class unless told otherwise.
        if b == "db.Model" || b.ends_with(".Model") && !b.starts_with("models.") {
            m.root = true;
            m.naming = Some(Naming::Snake);
        }
    }
    if class
        .keywords
        .iter()
        .any(|(k, v)| k == "table" && text(*v, src) == "True")
    {
        m.root = true;
        m.naming = Some(Naming::Lower);
    }
    let mut table = Table::default();
    let mut version_attr = None;
    for stmt in &class.body {
        if let Some((name, value)) = py::assignment(*stmt, src) {
            match name {
                "__tablename__" => m.table_name = string_value(value, src),
                "__abstract__" => m.is_abstract = text(value, src) == "True",
                "__table_args__" => table_args(path, &mut table, value, src),
                "__mapper_args__" => version_attr = version_id_col(value, src),
                _ => {
                    if let Some(spec) = column_spec(value, src) {
                        column_field(path, &mut m, &mut table, name, &spec, value);
                    }
                }
            }
        } else if let Some((func, decorators)) = py::function(*stmt, src) {
            let Some(name) = func.child_by_field_name("name").map(|n| text(n, src)) else {
                continue;
            };
            let declared = decorators.iter().any(|d| d.contains("declared_attr"));
            let Some(value) = py::returned(func) else {
                continue;
            };
            match name {
                // The usual body derives the name from the class; it cannot be run.
                "__tablename__" => m.naming = Some(Naming::Snake),
                "__table_args__" if declared => table_args(path, &mut table, value, src),
                "__mapper_args__" if declared => version_attr = version_id_col(value, src),
                _ if declared => {
                    if let Some(spec) = column_spec(value, src) {
                        column_field(path, &mut m, &mut table, name, &spec, value);
                    }
                }
                _ => {}
            }
        }
    }
    m.primary_key = table.primary_key;
    m.unique = table.unique;
    m.foreign_keys = table.foreign_keys;
    m.version_field = version_attr;
    m
}

/// A class attribute that is a column: recorded under its attribute name, which
/// [`super::py_models::resolve`] maps to the column's database name.
fn column_field(
    path: &str,
    m: &mut ModelClass,
    table: &mut Table,
    attr: &str,
    spec: &ColumnSpec,
    at: Node,
) {
    let column = spec.name.clone().unwrap_or_else(|| attr.to_string());
    m.fields.push((attr.to_string(), column));
    apply_column(table, attr, spec, py::source(path, at));
}

fn table_args(path: &str, table: &mut Table, value: Node, src: &str) {
    let items = match value.kind() {
        "call" => vec![value],
        _ => py::items(value),
    };
    for item in items {
        if let Some(c) = constraint(item, src) {
            apply_constraint(table, c, py::source(path, item));
        }
    }
}

/// `{"version_id_col": version}` → the attribute named.
fn version_id_col(value: Node, src: &str) -> Option<String> {
    if value.kind() != "dictionary" {
        return None;
    }
    children(value)
        .into_iter()
        .filter(|p| p.kind() == "pair")
        .find(|p| {
            p.child_by_field_name("key")
                .and_then(|k| string_value(k, src))
                .as_deref()
                == Some("version_id_col")
        })
        .and_then(|p| p.child_by_field_name("value"))
        .map(|v| py::last_segment(v, src).to_string())
}
