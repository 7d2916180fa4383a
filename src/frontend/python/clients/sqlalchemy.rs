//! SQLAlchemy 2.x (sync `Session` and `AsyncSession`), its legacy `Query`,
//! Flask-SQLAlchemy (`db.session`, `Model.query`) and SQLModel (`session.exec`).
//!
//! Statements are built with `select/insert/update/delete(M)` and run through a
//! session's `execute`/`scalar(s)`/`exec`; `text("…")` goes to the shared SQL
//! classifier. The session methods `get`, `add`, `add_all`, `delete`, `commit`,
//! `flush` and `rollback` are recognised on handles that name a session.

use super::{Control, EffectDraft, FieldDraft, Recognized, Scope};
use crate::frontend::python::syntax::{
    self, compact, dict_pairs, keyword, keywords, last_name, positional, Chain,
};
use crate::frontend::typescript::clients::Vocabulary;
use crate::ir::remedy::{Remedy, Target};
use crate::ir::{Client, EffectKind, OnConflict, RowLock};
use crate::schema::py::{children, text};
use tree_sitter::Node;

/// Gated on the words of an import or a session: a session handle's name holds
/// "session", a statement builder comes from an `sqlalchemy`/`sqlmodel` import.
pub static VOCABULARY: Vocabulary = Vocabulary {
    calls: &[
        "with_for_update",
        "on_conflict_do_*",
        "scalar_one*",
        ".query.*",
    ],
    gated_calls: &[
        ".execute",
        ".exec",
        ".scalar",
        ".scalars",
        ".get",
        ".get_one",
        ".add",
        ".add_all",
        ".delete",
        ".commit",
        ".flush",
        ".rollback",
        ".begin",
        ".query",
    ],
    gates: &["sqlalchemy", "sqlmodel", "session"],
};

const BUILDERS: &[&str] = &[
    "select",
    "insert",
    "update",
    "delete",
    "text",
    "pg_insert",
    "sqlite_insert",
    "mysql_insert",
];

/// Methods of a result that return one row (or one value).
const SINGLE_ROW: &[&str] = &[
    "scalar_one_or_none",
    "scalar_one",
    "scalar",
    "first",
    "one",
    "one_or_none",
    "fetchone",
];

/// Whether a handle names a session (or a connection bound as one).
pub fn is_session(handle: &str, scope: &Scope) -> bool {
    if scope.sessions.contains(handle) {
        return true;
    }
    if handle.ends_with("request.session") || handle.contains('(') {
        return false;
    }
    let last = last_name(handle).to_ascii_lowercase();
    last.contains("session") && !last.ends_with("sessions") && !last.contains("factory")
        || last == "db_sess"
}

/// A session factory called to open one: `async_session()`, `self.session_factory()`,
/// `Session(engine)`, `sessionmaker(...)()`.
pub fn opens_session(node: Node, src: &str) -> bool {
    if node.kind() != "call" {
        return false;
    }
    let Some(function) = node.child_by_field_name("function") else {
        return false;
    };
    let name = last_name(text(function, src)).to_ascii_lowercase();
    name.contains("session") && !name.contains("begin")
        || ["connect", "get_db", "get_session"].contains(&name.as_str())
}

pub fn recognize<'t>(
    chain: &Chain<'t>,
    src: &'t str,
    hints: super::FileHints,
    scope: &Scope<'t>,
) -> Option<Recognized<'t>> {
    if !hints.sqlalchemy && !chain.has("query") {
        return None;
    }
    // `Model.query.filter_by(…).first()` (Flask-SQLAlchemy).
    if let (Some(first), Some(root)) = (chain.segments.first(), chain.root_name(src)) {
        if first.name == "query" && !first.is_call() && super::is_model_name(root) {
            return legacy_query(
                chain,
                1,
                Some(root.to_string()),
                format!("{root}.query"),
                src,
            );
        }
    }
    // A builder: `select(M).where(…)`, not run until a session executes it.
    if let Some(statement) = builder(chain, src) {
        let _ = statement;
        return Some(Recognized::Deferred { read: None });
    }
    let (index, segment) = chain
        .segments
        .iter()
        .enumerate()
        .find(|(_, s)| s.is_call() && !s.name.is_empty())?;
    let handle = chain.receiver_text(index, src);
    let args = segment.args?;
    let site = segment.name_node.unwrap_or(segment.node);
    let session = is_session(&handle, scope);
    let client = Client::Sqlalchemy;
    match segment.name {
        "execute" | "exec" | "scalar" | "scalars" | "exec_driver_sql" => {
            let first = positional(args).into_iter().next()?;
            if let Some(sql) = sql_argument(first, src, scope) {
                if !session && !is_connection(&handle) {
                    return None;
                }
                let binds = positional(args).get(1).copied();
                return Some(Recognized::Sql {
                    client,
                    handle,
                    site,
                    sql,
                    binds,
                });
            }
            let statement = statement_of(first, src, scope)?;
            let mut draft = statement.into_draft(handle, site);
            let rest = &chain.segments[index + 1..];
            if segment.name == "scalar" || rest.iter().any(|s| SINGLE_ROW.contains(&s.name)) {
                draft.many = false;
            }
            Some(Recognized::Effect(draft))
        }
        "get" | "get_one" if session => {
            let positional = positional(args);
            let (model, key) = (positional.first()?, positional.get(1)?);
            if !super::is_model_name(text(*model, src)) {
                return None;
            }
            let mut draft = EffectDraft::new(EffectKind::Read, client, handle, site);
            draft.table = Some(compact(text(*model, src)));
            draft.filter.push(FieldDraft {
                column: "id".into(),
                value: Some(*key),
                atomic: false,
            });
            draft.throws_if_missing = segment.name == "get_one";
            if keyword(args, src, "with_for_update").is_some_and(|v| text(v, src) != "None") {
                draft.row_lock = RowLock::Exclusive;
            }
            Some(Recognized::Effect(draft))
        }
        "add" | "add_all" if session => {
            let first = positional(args).into_iter().next()?;
            let objects = if segment.name == "add_all" {
                match first.kind() {
                    "list" | "tuple" => children(first),
                    _ => vec![first],
                }
            } else {
                vec![first]
            };
            Some(Recognized::AddObjects {
                client,
                handle,
                site,
                objects,
            })
        }
        "delete" if session => Some(Recognized::DeleteObject {
            client,
            handle,
            site,
            object: positional(args).into_iter().next()?,
        }),
        "commit" | "flush" | "rollback" if session || is_connection(&handle) => {
            Some(Recognized::Control {
                client,
                handle,
                control: match segment.name {
                    "commit" => Control::Commit,
                    "flush" => Control::Flush,
                    _ => Control::Rollback,
                },
            })
        }
        "query" if session => {
            let model = positional(args).into_iter().next()?;
            let table = table_of(model, src);
            legacy_query(chain, index + 1, table, handle, src)
        }
        _ => None,
    }
}

fn is_connection(handle: &str) -> bool {
    let last = last_name(handle).to_ascii_lowercase();
    ["conn", "connection", "db_conn", "cx"].contains(&last.as_str())
}

/// The SQL of `text("…")`, of a string run directly (`execute("SELECT …")`,
/// SQLAlchemy 1.x), or of a variable holding `text(…)`.
fn sql_argument<'t>(
    node: Node<'t>,
    src: &'t str,
    scope: &Scope<'t>,
) -> Option<syntax::SqlText<'t>> {
    if matches!(node.kind(), "string" | "concatenated_string") {
        return syntax::sql_text(node, src);
    }
    let chain = match node.kind() {
        "identifier" => scope.statements.get(text(node, src))?.clone(),
        "call" => Chain::of(node, src),
        _ => return None,
    };
    let root = chain
        .root_name(src)
        .or_else(|| (chain.root.kind() == "attribute").then(|| text(chain.root, src)))?;
    if last_name(root) != "text" {
        return None;
    }
    let first = chain.segments.first().filter(|s| s.name.is_empty())?;
    let literal = positional(first.args?).into_iter().next()?;
    syntax::sql_text(literal, src)
}

/// A statement being built: what it does, to which table, filtered and set how.
struct Statement<'t> {
    kind: EffectKind,
    table: Option<String>,
    filter: Vec<FieldDraft<'t>>,
    values: Vec<FieldDraft<'t>>,
    conflict_update: Option<Vec<FieldDraft<'t>>>,
    on_conflict: OnConflict,
    row_lock: RowLock,
    many: bool,
    routines: Vec<String>,
    tally: Option<crate::ir::Tally>,
}

impl<'t> Statement<'t> {
    fn into_draft(self, handle: String, site: Node<'t>) -> EffectDraft<'t> {
        let mut draft = EffectDraft::new(self.kind, Client::Sqlalchemy, handle, site);
        draft.table = self.table;
        draft.filter = self.filter;
        draft.values = self.values;
        draft.conflict_update = self.conflict_update;
        draft.on_conflict = self.on_conflict;
        draft.row_lock = self.row_lock;
        draft.many = self.many;
        draft.routines = self.routines;
        draft.tally = self.tally;
        draft
    }
}

fn statement_of<'t>(node: Node<'t>, src: &'t str, scope: &Scope<'t>) -> Option<Statement<'t>> {
    match node.kind() {
        "identifier" => builder(scope.statements.get(text(node, src))?, src),
        "call" | "attribute" => {
            let chain = Chain::of(node, src);
            match chain.root_name(src) {
                Some(root) if scope.statements.contains_key(root) => {
                    let mut base = scope.statements[root].clone();
                    base.segments.extend(chain.segments.iter().copied());
                    builder(&base, src)
                }
                _ => builder(&chain, src),
            }
        }
        "parenthesized_expression" => statement_of(node.named_child(0)?, src, scope),
        _ => None,
    }
}

/// The builder name a chain starts with (`select`, `sa.select`, `postgresql.insert`).
fn builder_name<'t>(chain: &Chain<'t>, src: &'t str) -> Option<&'static str> {
    let root = match chain.root.kind() {
        "identifier" | "attribute" => text(chain.root, src),
        _ => return None,
    };
    let first = chain.segments.first()?;
    let name = if first.name.is_empty() {
        last_name(root)
    } else {
        // `sa.select(…)` parsed as root `sa`, segment `select(…)`.
        first.name.to_string()
    };
    BUILDERS.iter().copied().find(|b| *b == name)
}

/// Whether `chain` builds a statement, and what it is.
fn builder<'t>(chain: &Chain<'t>, src: &'t str) -> Option<Statement<'t>> {
    let name = builder_name(chain, src)?;
    if name == "text" {
        return None;
    }
    let start = chain
        .segments
        .iter()
        .position(|s| s.is_call())
        .filter(|&i| chain.segments[..i].iter().all(|s| !s.is_call()))?;
    let opening = chain.segments[start];
    let opening_args = positional(opening.args?);
    let kind = match name {
        "select" => EffectKind::Read,
        "update" => EffectKind::Update,
        "delete" => EffectKind::Delete,
        _ => EffectKind::Insert,
    };
    let mut statement = Statement {
        kind,
        table: None,
        filter: Vec::new(),
        values: Vec::new(),
        conflict_update: None,
        on_conflict: OnConflict::None,
        row_lock: RowLock::None,
        many: true,
        routines: Vec::new(),
        tally: None,
    };
    let mut descending = None;
    let mut limited = false;
    if let Some(first) = opening_args.first() {
        if name == "select" {
            select_target(*first, src, &mut statement);
        } else {
            statement.table = table_of(*first, src);
        }
    }
    for segment in &chain.segments[start + 1..] {
        let Some(args) = segment.args else { continue };
        match segment.name {
            "where" | "filter" => {
                for arg in positional(args) {
                    conditions(arg, src, &mut statement.filter, &mut statement.many, 0);
                }
            }
            "filter_by" => {
                for (column, value) in keywords(args, src) {
                    statement
                        .filter
                        .push(field(column, value, &statement.table, src));
                }
            }
            "values" => {
                for (column, value) in keywords(args, src) {
                    statement
                        .values
                        .push(field(column, value, &statement.table, src));
                }
                for arg in positional(args) {
                    for (column, value) in dict_pairs(arg, src) {
                        statement
                            .values
                            .push(field(&column, value, &statement.table, src));
                    }
                }
            }
            "with_for_update" => {
                statement.row_lock =
                    if keyword(args, src, "read").is_some_and(|v| text(v, src) == "True") {
                        RowLock::Shared
                    } else {
                        RowLock::Exclusive
                    };
            }
            "order_by" => {
                descending = positional(args)
                    .first()
                    .and_then(|o| descending_column(*o, src));
            }
            "limit" => {
                limited = positional(args)
                    .first()
                    .is_some_and(|n| text(*n, src) == "1");
            }
            "select_from" => {
                if let Some(first) = positional(args).first() {
                    statement.table = table_of(*first, src).or(statement.table.take());
                }
            }
            "on_conflict_do_nothing" => {
                statement.on_conflict = OnConflict::DoNothing;
            }
            "on_conflict_do_update" | "on_duplicate_key_update" => {
                statement.on_conflict = OnConflict::DoUpdate;
                statement.kind = EffectKind::Upsert;
                if let Some(set) = keyword(args, src, "set_") {
                    let mut update = Vec::new();
                    for (column, value) in dict_pairs(set, src) {
                        let code = text(value, src);
                        // `excluded.tags` is what the insert gave `tags`; an
                        // expression over `excluded` and the row is the database's.
                        let copied = code
                            .strip_prefix("stmt.excluded.")
                            .or_else(|| code.strip_prefix("insert_stmt.excluded."))
                            .or_else(|| code.split_once(".excluded.").map(|(_, c)| c))
                            .filter(|c| c.chars().all(|ch| ch.is_alphanumeric() || ch == '_'));
                        let mut f = field(&column, value, &statement.table, src);
                        match copied.and_then(|c| statement.values.iter().find(|v| v.column == c)) {
                            Some(inserted) => f.value = inserted.value,
                            None => f.atomic |= code.contains("excluded"),
                        }
                        update.push(f.clone());
                        statement.values.retain(|v| v.column != f.column);
                        statement.values.push(f);
                    }
                    statement.conflict_update = Some(update);
                }
            }
            _ => {}
        }
    }
    if statement.filter.iter().any(|f| f.column == "id") {
        statement.many = false;
    }
    if kind == EffectKind::Read && statement.tally.is_none() && limited && opening_args.len() == 1 {
        statement.tally = descending.map(crate::ir::Tally::max);
    }
    Some(statement)
}

/// `Scene.number.desc()`, `desc(Scene.number)` → `number`.
fn descending_column(order: Node, src: &str) -> Option<String> {
    let code = compact(text(order, src));
    let column = code
        .strip_suffix(".desc()")
        .or_else(|| code.strip_prefix("desc(").and_then(|c| c.strip_suffix(')')))?;
    Some(last_name(column))
}

/// `select(M)`, `select(M.id)`, `select(func.count(M.id))`,
/// `select(func.pg_advisory_xact_lock(k))`.
fn select_target(node: Node, src: &str, statement: &mut Statement) {
    if node.kind() == "call" {
        let chain = Chain::of(node, src);
        let function = chain
            .segments
            .iter()
            .rev()
            .find(|s| s.is_call())
            .map(|s| s.name.to_ascii_lowercase())
            .unwrap_or_default();
        if !function.is_empty() {
            if function.contains("advisory")
                && function.contains("lock")
                && !function.contains("unlock")
            {
                statement.kind = EffectKind::Lock;
            } else if !["count", "max", "min", "sum", "avg", "coalesce", "exists"]
                .contains(&function.as_str())
            {
                statement.routines.push(function.clone());
            }
            if let Some(arg) = chain
                .last()
                .and_then(|s| s.args)
                .and_then(|a| positional(a).into_iter().next())
            {
                match function.as_str() {
                    // `coalesce(func.max(Scene.number), 0)`: the aggregate inside.
                    "coalesce" if arg.kind() == "call" => {
                        return select_target(arg, src, statement)
                    }
                    "count" => statement.tally = Some(crate::ir::Tally::count()),
                    "max" if arg.kind() == "attribute" => {
                        statement.tally =
                            Some(crate::ir::Tally::max(last_name(&compact(text(arg, src)))));
                    }
                    _ => {}
                }
                statement.table = table_of(arg, src);
            } else if function == "count" {
                statement.tally = Some(crate::ir::Tally::count());
            }
            return;
        }
    }
    statement.table = table_of(node, src);
}

/// The model a node names: `Story`, `Story.id` → `Story`; a `Table` object's name.
fn table_of(node: Node, src: &str) -> Option<String> {
    match node.kind() {
        "identifier" => {
            let t = text(node, src);
            (super::is_model_name(t) || t.ends_with("_table") || t.ends_with("table"))
                .then(|| t.to_string())
        }
        "attribute" => {
            let t = compact(text(node, src));
            if super::is_model_name(&t) {
                return Some(last_name(&t));
            }
            // `Story.id`, `users.c.id`: the object before the column.
            let object = node.child_by_field_name("object")?;
            let object = if last_name(text(object, src)) == "c" {
                object.child_by_field_name("object").unwrap_or(object)
            } else {
                object
            };
            table_of(object, src)
        }
        _ => None,
    }
}

/// A column written, atomic when its value reads the same table's column
/// (`Story.views + 1`).
fn field<'t>(column: &str, value: Node<'t>, table: &Option<String>, src: &str) -> FieldDraft<'t> {
    let code = text(value, src);
    let atomic = table
        .as_ref()
        .is_some_and(|t| code.contains(&format!("{t}.")) && value.kind() == "binary_operator")
        || value.kind() == "binary_operator" && code.contains(".c.");
    FieldDraft {
        column: column.to_string(),
        value: Some(value),
        atomic,
    }
}

/// The columns a `where` argument constrains: `M.col == v`, `and_(…)`,
/// `M.col.in_(xs)`, `M.col.is_(None)`.
fn conditions<'t>(
    node: Node<'t>,
    src: &'t str,
    out: &mut Vec<FieldDraft<'t>>,
    many: &mut bool,
    depth: u32,
) {
    if depth > 20 {
        return;
    }
    match node.kind() {
        "comparison_operator" => {
            let kids = children(node);
            if let [left, right] = kids.as_slice() {
                let (column, value) = if left.kind() == "attribute" {
                    (*left, *right)
                } else {
                    (*right, *left)
                };
                if column.kind() == "attribute" {
                    out.push(FieldDraft {
                        column: last_name(text(column, src)),
                        value: Some(value),
                        atomic: false,
                    });
                }
            }
        }
        "call" => {
            let chain = Chain::of(node, src);
            let Some(last) = chain.last() else { return };
            let name = if last.name.is_empty() {
                chain.root_name(src).unwrap_or("")
            } else {
                last.name
            };
            match name {
                "and_" => {
                    for arg in last.args.map(positional).unwrap_or_default() {
                        conditions(arg, src, out, many, depth + 1);
                    }
                }
                "in_" | "is_" | "any_" => {
                    if let Some(column) = chain
                        .segments
                        .len()
                        .checked_sub(1)
                        .map(|i| chain.receiver(i))
                    {
                        out.push(FieldDraft {
                            column: last_name(text(column, src)),
                            value: last.args.and_then(|a| positional(a).into_iter().next()),
                            atomic: false,
                        });
                    }
                    *many |= name == "in_";
                }
                _ => {}
            }
        }
        "binary_operator"
            if node
                .child_by_field_name("operator")
                .is_some_and(|o| text(o, src) == "&") =>
        {
            for part in ["left", "right"] {
                if let Some(p) = node.child_by_field_name(part) {
                    conditions(p, src, out, many, depth + 1);
                }
            }
        }
        "parenthesized_expression" => {
            if let Some(inner) = node.named_child(0) {
                conditions(inner, src, out, many, depth + 1);
            }
        }
        _ => {}
    }
}

/// The legacy `Query` API from segment `start`: `filter`, `filter_by`, `get`,
/// `first`, `one`, `all`, `count`, `update`, `delete`, `with_for_update`.
fn legacy_query<'t>(
    chain: &Chain<'t>,
    start: usize,
    table: Option<String>,
    handle: String,
    src: &'t str,
) -> Option<Recognized<'t>> {
    let mut filter = Vec::new();
    let mut many = true;
    let mut row_lock = RowLock::None;
    for segment in chain.segments.iter().skip(start) {
        let site = segment.name_node.unwrap_or(segment.node);
        let args = segment.args;
        let draft = |kind| {
            let mut d = EffectDraft::new(kind, Client::Sqlalchemy, handle.clone(), site);
            d.table.clone_from(&table);
            d
        };
        match segment.name {
            "filter" | "where" => {
                for arg in args.map(positional).unwrap_or_default() {
                    conditions(arg, src, &mut filter, &mut many, 0);
                }
            }
            "filter_by" => {
                for (column, value) in args.map(|a| keywords(a, src)).unwrap_or_default() {
                    filter.push(field(column, value, &table, src));
                }
            }
            "with_for_update" => row_lock = RowLock::Exclusive,
            "first" | "one" | "one_or_none" | "scalar" | "first_or_404" | "one_or_404" | "get"
            | "get_or_404" => {
                let mut d = draft(EffectKind::Read);
                if matches!(segment.name, "get" | "get_or_404") {
                    if let Some(key) = args.and_then(|a| positional(a).into_iter().next()) {
                        filter.push(FieldDraft {
                            column: "id".into(),
                            value: Some(key),
                            atomic: false,
                        });
                    }
                }
                d.throws_if_missing = matches!(
                    segment.name,
                    "one" | "first_or_404" | "one_or_404" | "get_or_404"
                );
                d.filter = filter;
                d.row_lock = row_lock;
                return Some(Recognized::Effect(d));
            }
            "all" | "count" | "exists" | "paginate" => {
                let mut d = draft(EffectKind::Read);
                d.filter = filter;
                d.many = true;
                d.row_lock = row_lock;
                return Some(Recognized::Effect(d));
            }
            "update" | "delete" => {
                let kind = if segment.name == "update" {
                    EffectKind::Update
                } else {
                    EffectKind::Delete
                };
                let mut d = draft(kind);
                if let Some(values) = args.and_then(|a| positional(a).into_iter().next()) {
                    for (column, value) in dict_pairs(values, src) {
                        d.values.push(field(&column, value, &table, src));
                    }
                }
                d.many = !filter.iter().any(|f| f.column == "id");
                d.filter = filter;
                return Some(Recognized::Effect(d));
            }
            _ => {}
        }
    }
    // Built, not run: iterating or returning it reads.
    let site = chain
        .segments
        .get(start.saturating_sub(1))
        .map_or(chain.root, |s| s.name_node.unwrap_or(s.node));
    let mut read = EffectDraft::new(EffectKind::Read, Client::Sqlalchemy, handle, site);
    read.table = table;
    read.filter = filter;
    read.many = true;
    read.row_lock = row_lock;
    Some(Recognized::Deferred { read: Some(read) })
}

/// Whether an `AsyncSession` method returns a coroutine (`session.add` does
/// not: it only records the object, sent at the next flush).
pub fn is_coroutine_method(name: &str) -> bool {
    matches!(
        name,
        "execute"
            | "scalar"
            | "scalars"
            | "get"
            | "delete"
            | "merge"
            | "flush"
            | "commit"
            | "refresh"
    )
}

/// Whether a context manager opens a transaction: `session.begin()`,
/// `Session.begin()`, `engine.begin()`, `session.begin_nested()`.
pub fn begins(node: Node, src: &str) -> Option<String> {
    let chain = Chain::of(node, src);
    let last = chain.last()?;
    if !last.is_call() || !matches!(last.name, "begin" | "begin_nested") {
        return None;
    }
    Some(chain.receiver_text(chain.segments.len() - 1, src))
}

/// `session.begin_nested()`: a SAVEPOINT inside the session's transaction, which
/// it begins first when none is open.
pub fn is_savepoint(node: Node, src: &str) -> bool {
    Chain::of(node, src)
        .last()
        .is_some_and(|last| last.is_call() && last.name == "begin_nested")
}

// ---- suggestions ----------------------------------------------------------

/// The key's columns, then the data's that are not in the key.
fn merged(key: &[(String, String)], values: &[(String, String)]) -> Vec<(String, String)> {
    let mut out = key.to_vec();
    for pair in values {
        if !out.iter().any(|(c, _)| *c == pair.0) {
            out.push(pair.clone());
        }
    }
    out
}

fn model(target: &Target) -> String {
    if target.table.is_empty() {
        "Model".to_string()
    } else {
        target.table.clone()
    }
}

fn session(target: &Target) -> String {
    if target.handle.is_empty() || target.handle.contains('(') {
        "session".to_string()
    } else {
        target.handle.clone()
    }
}

fn kwargs(pairs: &[(String, String)], fallback: &str) -> String {
    if pairs.is_empty() {
        return fallback.to_string();
    }
    pairs
        .iter()
        .map(|(c, v)| format!("{c}={}", if v.is_empty() { c } else { v }))
        .collect::<Vec<_>>()
        .join(", ")
}

fn conditions_code(m: &str, pairs: &[(String, String)]) -> String {
    if pairs.is_empty() {
        return format!("{m}.id == id");
    }
    pairs
        .iter()
        .map(|(c, v)| format!("{m}.{c} == {}", if v.is_empty() { c } else { v }))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The fix for `remedy`, in SQLAlchemy; `asynchronous` for `AsyncSession` code.
pub fn suggest(remedy: &Remedy, asynchronous: bool) -> String {
    if let Remedy::NumberUnderLock { read, .. } = remedy {
        return suggest(
            &Remedy::LockThenCheck {
                target: read.clone(),
            },
            asynchronous,
        );
    }
    let (aw, with) = if asynchronous {
        ("await ", "async with")
    } else {
        ("", "with")
    };
    match remedy {
        Remedy::NumberUnderLock { .. } => String::new(),
        Remedy::InsertOnConflict { target } => {
            let m = model(target);
            let keys: Vec<String> = target.key.iter().map(|(c, _)| format!("{m}.{c}")).collect();
            let values = kwargs(&merged(&target.key, &target.values), "…");
            let s = session(target);
            let database = target.database;
            if database.one() == Some(crate::schema::Database::Mysql) {
                return format!(
                    "from sqlalchemy import insert\n\n# MySQL: INSERT IGNORE skips a row whose unique key is taken\n{aw}{s}.execute(\n    insert({m}).values({values})\n    .prefix_with(\"IGNORE\")\n)"
                );
            }
            let dialect = if database.one() == Some(crate::schema::Database::Sqlite) {
                "sqlite"
            } else {
                "postgresql"
            };
            let others = if database.databases().contains(&crate::schema::Database::Mysql) {
                "\n# on MySQL: `insert(…).prefix_with(\"IGNORE\")` instead; on SQLite, the same call from `sqlalchemy.dialects.sqlite`"
            } else {
                ""
            };
            format!(
                "from sqlalchemy.dialects.{dialect} import insert\n\n{aw}{s}.execute(\n    insert({m}).values({values})\n    .on_conflict_do_nothing(index_elements=[{}])\n){others}",
                keys.join(", "),
            )
        }
        Remedy::ConditionalWrite { target, state } => {
            let m = model(target);
            let mut pairs = target.key.clone();
            pairs.extend(state.iter().cloned());
            format!(
                "result = {aw}{s}.execute(\n    update({m})\n    .where({})\n    .values({})\n)\nif result.rowcount == 0:\n    raise Conflict()  # someone else got there first",
                conditions_code(&m, &pairs),
                kwargs(&target.values, "…"),
                s = session(target),
            )
        }
        Remedy::HandleUniqueViolation { target, unique_key } => format!(
            "from sqlalchemy.exc import IntegrityError\n\ntry:\n    {s}.add({m}({}))\n    {aw}{s}.commit()\nexcept IntegrityError:  # unique ({})\n    {aw}{s}.rollback()\n    # the row exists now: load it",
            kwargs(&target.values, "…"),
            unique_key.join(", "),
            m = model(target),
            s = session(target),
        ),
        Remedy::LockThenCheck { target } => {
            let m = model(target);
            format!(
                "{with} {s}.begin():\n    row = ({aw}{s}.execute(\n        select({m}).where({}).with_for_update()\n    )).scalar_one_or_none()\n    # check `row`, then write; the lock holds until the block commits",
                conditions_code(&m, &target.key),
                s = session(target),
            )
        }
        Remedy::Transaction { targets, open } => match open {
            Some(open) => {
                let moved: Vec<Target> = targets
                    .iter()
                    .filter(|t| t.handle != *open)
                    .cloned()
                    .collect();
                format!(
                    "# inside the `begin()` block that already holds `{open}`, beside the other write:\n{}",
                    super::transaction_body(&moved, Some(open), aw)
                        .lines()
                        .map(|l| l.strip_prefix("    ").unwrap_or(l))
                        .collect::<Vec<_>>()
                        .join("\n")
                )
            }
            None => {
                let s = targets.first().map_or_else(|| "session".to_string(), session);
                format!(
                    "{with} {s}.begin():\n    # every write here commits together, or none does\n{}",
                    super::transaction_body(targets, Some(&s), aw)
                )
            }
        },
        Remedy::OptimisticLock {
            target,
            version_column,
        } => {
            let m = model(target);
            format!(
                "class {m}(Base):\n    {version_column}: Mapped[int] = mapped_column(default=1)\n    __mapper_args__ = {{\"version_id_col\": {version_column}}}\n\n# a concurrent change now raises StaleDataError at commit: retry or answer 409\n\n# or, by hand:\nresult = {aw}{s}.execute(\n    update({m})\n    .where({}, {m}.{version_column} == row.{version_column})\n    .values({}, {version_column}={m}.{version_column} + 1)\n)\nif result.rowcount == 0:\n    raise Conflict()",
                conditions_code(&m, &target.key),
                kwargs(&target.values, "…"),
                s = session(target),
            )
        }
        Remedy::AtomicUpdate { target, column } => {
            let m = model(target);
            format!(
                "{aw}{s}.execute(\n    update({m})\n    .where({})\n    .values({column}={m}.{column} + delta)\n)",
                conditions_code(&m, &target.key),
                s = session(target),
            )
        }
        Remedy::DeleteOrder { targets } => {
            let s = targets.first().map_or_else(|| "session".to_string(), session);
            let lines: Vec<String> = targets
                .iter()
                .map(|t| {
                    let m = model(t);
                    format!("    {aw}{s}.execute(delete({m}).where({}))", conditions_code(&m, &t.key))
                })
                .collect();
            format!("{with} {s}.begin():\n{}", lines.join("\n"))
        }
    }
}
