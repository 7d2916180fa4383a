//! Drizzle ORM: the SQL-like builder (`db.select().from(users).where(…)`,
//! `db.insert(users).values(…)`, `db.update(users).set(…)`, `db.delete(users)`),
//! the relational API (`db.query.users.findFirst({ where })`), `db.transaction`
//! and `db.execute(sql`…`)`.
//!
//! The table is the table variable as the code names it (`users`, `schema.users`
//! → `users`); the schema maps it through Drizzle's aliases. A filter is read from
//! the operator calls (`eq(users.id, id)` → column `id`, value `id`) through
//! `and`/`or`/`not`.
//!
//! Gate: `select/insert/update/delete` are common method names, so a chain counts
//! only in its Drizzle shape — `select(…).from(table)` with a table variable (not a
//! string, which is Knex), `insert(t).values(…)`, `update(t).set(…)`,
//! `delete(t).where(…)`. `delete` also needs the file to import `drizzle-orm` or
//! the handle to look like a database (`db`, `tx`, `ctx.db`); the other shapes need
//! that only in files that use Knex. A bare `x.delete(t)` and
//! `x.execute(…)` with more after it need the `drizzle-orm` import, so that
//! `cache.delete(key)` is left alone; `x.transaction(async (tx) => …)` needs the
//! import or a database-like handle in a file that does not use Knex (whose
//! `knex.transaction(cb)` has the same shape).

use super::{
    core_segments, is_tagged_template, looks_like_db, many_unless_id, mentions_column, EffectDraft,
    FieldDraft, FileHints, Recognized,
};
use crate::frontend::typescript::syntax::FieldExt;
use crate::frontend::typescript::syntax::{
    arguments, named_children, object_properties, property, text, unwrap_expr, Chain, Segment,
};
use crate::ir::remedy::{Remedy, Target};
use crate::ir::{Client, EffectKind, OnConflict, RowLock};
use tree_sitter::Node;

/// How a parameter that holds one of this client's transactions is typed.
pub const TRANSACTION_TYPES: &[&str] = &[
    "PgTransaction<",
    "MySqlTransaction<",
    "SQLiteTransaction<",
    "PostgresJsTransaction<",
    "NodePgTransaction<",
];

/// The builder shapes (`insert(t).values`, `update(t).set`, `select().from(t)`)
/// are recognised on any handle, so their first step opens the rest; the other
/// calls need the `drizzle-orm` import or a db-like handle (`looks_like_db`).
pub const BUILDER_VOCABULARY: super::Vocabulary = super::Vocabulary {
    calls: &["$count"],
    gated_calls: &[".values", ".set", ".from"],
    gates: &[".insert", ".update", ".select*"],
};

pub const HANDLE_VOCABULARY: super::Vocabulary = super::Vocabulary {
    calls: &[],
    gated_calls: &[
        ".delete",
        ".transaction",
        ".execute",
        ".batch",
        ".query",
        ".findFirst",
        ".findMany",
    ],
    gates: super::DB_LIKE_GATES,
};

/// Comparison operators whose first argument is a column and second a value.
const COMPARISONS: &[&str] = &[
    "eq",
    "ne",
    "gt",
    "gte",
    "lt",
    "lte",
    "like",
    "ilike",
    "notLike",
    "notIlike",
    "inArray",
    "notInArray",
    "between",
    "notBetween",
    "arrayContains",
    "arrayContained",
    "arrayOverlaps",
];

/// Operators of a column alone.
const UNARY: &[&str] = &["isNull", "isNotNull"];

/// Operators combining filters.
const COMBINATORS: &[&str] = &["and", "or", "not"];

/// What a select list of one aggregate tallies: `{ last: max(items.position) }`,
/// `{ n: count() }`, `{ last: sql<number>`max(${items.position})` }`.
fn selected_tally(fields: Node, src: &str) -> Option<crate::ir::Tally> {
    let props = object_properties(fields, src);
    let [(_, value)] = props.as_slice() else {
        return None;
    };
    let code: String = text(*value, src).split_whitespace().collect();
    let column = |inner: &str| -> Option<String> {
        let arg = inner.trim_start_matches("${").split([')', '}']).next()?;
        let column = arg.rsplit('.').next()?;
        (!column.is_empty() && column.chars().all(|c| c.is_alphanumeric() || c == '_'))
            .then(|| column.to_string())
    };
    if let Some(inner) = code.strip_prefix("max(") {
        return column(inner).map(crate::ir::Tally::max);
    }
    if code.starts_with("count(") || code.starts_with("countDistinct(") {
        return Some(crate::ir::Tally::count());
    }
    let sql = code.strip_prefix("sql")?.trim_start_matches(|c| c != '`');
    let lower = sql.to_ascii_lowercase();
    if let Some(at) = lower.find("max(") {
        return column(&sql[at + 4..]).map(crate::ir::Tally::max);
    }
    lower.contains("count(").then(crate::ir::Tally::count)
}

/// `orderBy(desc(items.position))` → `position`.
fn descending_column(order: Node, src: &str) -> Option<String> {
    let code: String = text(order, src).split_whitespace().collect();
    let inner = code.strip_prefix("desc(")?.strip_suffix(')')?;
    let column = inner.rsplit('.').next()?;
    column
        .chars()
        .all(|c| c.is_alphanumeric() || c == '_')
        .then(|| column.to_string())
}

pub fn recognize<'t>(chain: &Chain<'t>, src: &'t str, hints: &FileHints) -> Option<Recognized<'t>> {
    let segments = core_segments(chain);
    if let Some(found) = relational(chain, segments, src, hints) {
        return Some(found);
    }
    let call_index = segments.iter().position(Segment::is_call)?;
    let call = &segments[call_index];
    if call.name.is_empty() {
        return None;
    }
    let handle = chain.receiver_text(call_index, src).to_string();
    let db_like = hints.drizzle || looks_like_db(&handle);
    // The builder shapes with a table variable are Drizzle's alone (Knex names the
    // table with a string, TypeORM's query builder starts at createQueryBuilder), so
    // any handle will do (`t.insert(users).values(…)` in a transaction) unless the
    // file is a Knex one.
    let shaped = hints.drizzle || !hints.knex;
    let rest = &segments[call_index + 1..];
    let next = rest.first().map(|s| s.name);
    match call.name {
        "transaction" if hints.drizzle || (looks_like_db(&handle) && !hints.knex) => {
            transaction(call, src)
        }
        "execute" if hints.drizzle || (db_like && call_index + 1 == segments.len()) => {
            execute(call, handle, src)
        }
        "select" | "selectDistinct" | "selectDistinctOn" if shaped && next == Some("from") => {
            let from = rest[0].arg(0)?;
            if from.kind() == "string" {
                return None;
            }
            let mut draft =
                EffectDraft::new(EffectKind::Read, Client::Drizzle, handle, call.name_node?);
            draft.table = table_name(from, src);
            let mut limited = false;
            let mut descending = None;
            for segment in rest {
                match segment.name {
                    "where" => filters(segment, src, &mut draft.filter),
                    "limit" => limited = segment.arg(0).is_some_and(|a| text(a, src) == "1"),
                    "for" => draft.row_lock = lock_strength(segment, src),
                    "orderBy" => {
                        descending = segment.arg(0).and_then(|a| descending_column(a, src))
                    }
                    _ => {}
                }
            }
            draft.many = !limited && many_unless_id(&draft.filter);
            draft.tally = call
                .arg(0)
                .and_then(|a| selected_tally(a, src))
                .or_else(|| descending.filter(|_| limited).map(crate::ir::Tally::max));
            Some(Recognized::Effect(draft))
        }
        "insert" if shaped && next == Some("values") && call.arg(0).is_some_and(is_table_ref) => {
            let table = call.arg(0)?;
            let mut draft =
                EffectDraft::new(EffectKind::Insert, Client::Drizzle, handle, call.name_node?);
            draft.table = table_name(table, src);
            let table_text = text(table, src);
            for segment in rest {
                match segment.name {
                    "values" => {
                        if let Some(rows) = segment.arg(0) {
                            let (row, many) = super::row_object(rows, src);
                            draft.many = many;
                            if let Some(row) = row {
                                set_fields(row, table_text, src, &mut draft.values);
                            }
                        }
                    }
                    "onConflictDoNothing" => draft.on_conflict = OnConflict::DoNothing,
                    "onConflictDoUpdate" | "onDuplicateKeyUpdate" => {
                        draft.kind = EffectKind::Upsert;
                        draft.on_conflict = OnConflict::DoUpdate;
                        let set = segment.arg(0).and_then(|config| {
                            object_properties(unwrap_expr(config), src)
                                .into_iter()
                                .find(|(key, _)| key == "set")
                        });
                        if let Some((_, data)) = set {
                            let mut update = Vec::new();
                            set_fields(data, table_text, src, &mut update);
                            draft.conflict_update = Some(update);
                        }
                    }
                    _ => {}
                }
            }
            Some(Recognized::Effect(draft))
        }
        "update" if shaped && next == Some("set") && call.arg(0).is_some_and(is_table_ref) => {
            let table = call.arg(0)?;
            let mut draft =
                EffectDraft::new(EffectKind::Update, Client::Drizzle, handle, call.name_node?);
            draft.table = table_name(table, src);
            let table_text = text(table, src);
            for segment in rest {
                match segment.name {
                    "set" => {
                        if let Some(data) = segment.arg(0) {
                            set_fields(data, table_text, src, &mut draft.values);
                        }
                    }
                    "where" => filters(segment, src, &mut draft.filter),
                    _ => {}
                }
            }
            draft.many = many_unless_id(&draft.filter);
            Some(Recognized::Effect(draft))
        }
        // `db.$count(users, eq(users.teamId, teamId))`
        "$count" if db_like && call.arg(0).is_some_and(is_table_ref) => {
            let mut draft =
                EffectDraft::new(EffectKind::Read, Client::Drizzle, handle, call.name_node?);
            draft.table = table_name(call.arg(0)?, src);
            if let Some(filter) = call.arg(1) {
                filter_fields(filter, src, &mut draft.filter, 0);
            }
            draft.many = true;
            draft.tally = Some(crate::ir::Tally::count());
            Some(Recognized::Effect(draft))
        }
        // `db.batch([db.insert(…), db.update(…)])` (libSQL, Neon HTTP, D1): one transaction.
        "batch" if hints.drizzle && call.arg(0).is_some_and(|a| a.kind() == "array") => {
            Some(Recognized::Transaction {
                client: Client::Drizzle,
                callback: None,
                batch: call.arg(0),
                serializable: false,
            })
        }
        "delete"
            if (hints.drizzle && call.arg(0).is_some_and(|a| is_table_ref(a)))
                || (db_like && next == Some("where")) =>
        {
            let table = call.arg(0)?;
            if !is_table_ref(table) {
                return None;
            }
            let mut draft =
                EffectDraft::new(EffectKind::Delete, Client::Drizzle, handle, call.name_node?);
            draft.table = table_name(table, src);
            for segment in rest.iter().filter(|s| s.name == "where") {
                filters(segment, src, &mut draft.filter);
            }
            draft.many = many_unless_id(&draft.filter);
            Some(Recognized::Effect(draft))
        }
        _ => None,
    }
}

/// `db.query.users.findFirst({ where: … })`.
fn relational<'t>(
    chain: &Chain<'t>,
    segments: &[Segment<'t>],
    src: &'t str,
    hints: &FileHints,
) -> Option<Recognized<'t>> {
    let n = segments.len();
    if n < 3 {
        return None;
    }
    let (query, table, method) = (&segments[n - 3], &segments[n - 2], &segments[n - 1]);
    if query.name != "query" || query.is_call() || table.is_call() || !method.is_call() {
        return None;
    }
    let many = match method.name {
        "findFirst" => false,
        "findMany" => true,
        _ => return None,
    };
    let handle = chain.receiver_text(n - 3, src).to_string();
    if !hints.drizzle && !looks_like_db(&handle) {
        return None;
    }
    let mut draft = EffectDraft::new(EffectKind::Read, Client::Drizzle, handle, method.name_node?);
    draft.table = Some(table.name.to_string());
    draft.many = many;
    if let Some(filter) = method.arg(0).and_then(|a| property(a, "where", src)) {
        filter_fields(filter, src, &mut draft.filter, 0);
    }
    Some(Recognized::Effect(draft))
}

fn transaction<'t>(call: &Segment<'t>, src: &'t str) -> Option<Recognized<'t>> {
    let args = arguments(call.args?);
    let callback = *args.first()?;
    // A function, or one passed on by name (`db.transaction(fn)` in a wrapper).
    if !crate::frontend::typescript::syntax::is_function(callback)
        && callback.kind() != "identifier"
    {
        return None;
    }
    let serializable = args
        .get(1)
        .and_then(|options| property(*options, "isolationLevel", src))
        .is_some_and(|level| {
            text(level, src)
                .to_ascii_lowercase()
                .contains("serializable")
        });
    Some(Recognized::Transaction {
        client: Client::Drizzle,
        callback: Some(callback),
        batch: None,
        serializable,
    })
}

/// `db.execute(sql`…`)`, `db.execute(sql.raw("…"))`.
fn execute<'t>(call: &Segment<'t>, handle: String, src: &'t str) -> Option<Recognized<'t>> {
    let arg = unwrap_expr(call.arg(0)?);
    let site = call.name_node?;
    let (sql, params) = if is_tagged_template(arg, "sql", src) {
        super::template_sql(arg.field("arguments")?, src)
    } else if arg.kind() == "call_expression"
        && arg
            .field("function")
            .is_some_and(|f| text(f, src) == "sql.raw")
    {
        let raw = arg
            .field("arguments")
            .and_then(|a| arguments(a).first().copied())?;
        (super::string_value(raw, src)?, Vec::new())
    } else {
        return None;
    };
    Some(Recognized::Sql {
        client: Client::Drizzle,
        handle,
        site,
        sql,
        params,
    })
}

/// A table variable: `users`, `schema.users`.
fn is_table_ref(node: Node) -> bool {
    matches!(unwrap_expr(node).kind(), "identifier" | "member_expression")
}

fn table_name(node: Node, src: &str) -> Option<String> {
    let node = unwrap_expr(node);
    match node.kind() {
        "identifier" => Some(text(node, src).to_string()),
        "member_expression" => node.field("property").map(|p| text(p, src).to_string()),
        _ => None,
    }
}

fn lock_strength(segment: &Segment, src: &str) -> RowLock {
    let strength = segment
        .arg(0)
        .and_then(|a| super::string_value(a, src))
        .unwrap_or_default()
        .to_ascii_lowercase();
    match strength.as_str() {
        "update" | "no key update" => RowLock::Exclusive,
        "share" | "key share" => RowLock::Shared,
        _ => RowLock::None,
    }
}

fn filters<'t>(segment: &Segment<'t>, src: &str, out: &mut Vec<FieldDraft<'t>>) {
    if let Some(arg) = segment.arg(0) {
        filter_fields(arg, src, out, 0);
    }
}

/// The column an operator's first argument names: `users.id` → `id`.
fn column_of(node: Node, src: &str) -> Option<String> {
    let node = unwrap_expr(node);
    match node.kind() {
        "member_expression" => node.field("property").map(|p| text(p, src).to_string()),
        _ => None,
    }
}

/// The columns a filter constrains: operator calls through `and`/`or`/`not`, the
/// relational API's callback `(users, { eq }) => eq(users.email, email)` and its
/// object form `{ email, status: "free" }`.
fn filter_fields<'t>(node: Node<'t>, src: &str, out: &mut Vec<FieldDraft<'t>>, depth: u32) {
    if depth > 16 {
        return;
    }
    let node = unwrap_expr(node);
    match node.kind() {
        // ``sql`${users.id} = ${id} and ${users.status} = 'free'` ``
        "call_expression" if is_tagged_template(node, "sql", src) => {
            if let Some(template) = node.field("arguments") {
                sql_comparisons(template, src, out);
            }
        }
        "call_expression" => {
            let Some(function) = node.field("function") else {
                return;
            };
            let name = text(function, src).rsplit('.').next().unwrap_or("");
            let args = node.field("arguments").map(arguments).unwrap_or_default();
            if COMBINATORS.contains(&name) {
                for arg in args {
                    filter_fields(arg, src, out, depth + 1);
                }
            } else if COMPARISONS.contains(&name) || UNARY.contains(&name) {
                if let Some(column) = args.first().and_then(|c| column_of(*c, src)) {
                    out.push(FieldDraft {
                        column,
                        value: args.get(1).copied(),
                        atomic: false,
                    });
                }
            }
        }
        "arrow_function" | "function_expression" => {
            let Some(body) = node.field("body") else {
                return;
            };
            if body.kind() == "statement_block" {
                for statement in named_children(body).filter(|s| s.kind() == "return_statement") {
                    if let Some(value) = statement.named_child(0) {
                        filter_fields(value, src, out, depth + 1);
                    }
                }
            } else {
                filter_fields(body, src, out, depth + 1);
            }
        }
        "object" => {
            for (key, value) in object_properties(node, src) {
                match key.as_str() {
                    "AND" | "OR" | "NOT" => {
                        let items: Vec<Node> = if value.kind() == "array" {
                            named_children(value).collect()
                        } else {
                            vec![value]
                        };
                        for item in items {
                            filter_fields(item, src, out, depth + 1);
                        }
                    }
                    _ => {
                        // `{ status: { eq: "free" } }` in the relational API v2.
                        let value = if value.kind() == "object" {
                            object_properties(value, src)
                                .into_iter()
                                .find(|(k, _)| matches!(k.as_str(), "eq" | "in" | "ne"))
                                .map_or(value, |(_, v)| v)
                        } else {
                            value
                        };
                        out.push(FieldDraft {
                            column: key,
                            value: Some(value),
                            atomic: false,
                        });
                    }
                }
            }
        }
        _ => {}
    }
}

/// `${table.column} <op> ${value}` pairs in a `sql` template filter.
fn sql_comparisons<'t>(template: Node<'t>, src: &str, out: &mut Vec<FieldDraft<'t>>) {
    let substitutions: Vec<Node> = named_children(template)
        .filter(|c| c.kind() == "template_substitution")
        .collect();
    for pair in substitutions.windows(2) {
        let (left, right) = (pair[0], pair[1]);
        let between = src
            .get(left.end_byte()..right.start_byte())
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if !matches!(
            between.as_str(),
            "=" | "<>" | "!=" | "<" | "<=" | ">" | ">=" | "in" | "like" | "ilike"
        ) {
            continue;
        }
        let (Some(column), Some(value)) = (
            left.named_child(0).and_then(|c| column_of(c, src)),
            right.named_child(0),
        ) else {
            continue;
        };
        out.push(FieldDraft {
            column,
            value: Some(value),
            atomic: false,
        });
    }
}

/// The columns of `.set({…})` / `.values({…})`; a `sql` template that reads the
/// column itself (`sql`${users.balance} - ${amount}``) is computed by the database.
fn set_fields<'t>(data: Node<'t>, table: &str, src: &str, out: &mut Vec<FieldDraft<'t>>) {
    for (column, value) in object_properties(unwrap_expr(data), src) {
        let atomic = is_atomic(value, &column, table, src);
        out.push(FieldDraft {
            column,
            value: Some(value),
            atomic,
        });
    }
}

fn is_atomic(value: Node, column: &str, table: &str, src: &str) -> bool {
    let value = unwrap_expr(value);
    if !is_tagged_template(value, "sql", src) {
        return false;
    }
    let Some(template) = value.field("arguments") else {
        return false;
    };
    let mut literal = String::new();
    let mut cursor = template.start_byte() + 1;
    for child in named_children(template) {
        if child.kind() != "template_substitution" {
            continue;
        }
        literal.push_str(src.get(cursor..child.start_byte()).unwrap_or(""));
        literal.push(' ');
        cursor = child.end_byte();
        let Some(expr) = child.named_child(0) else {
            continue;
        };
        // `${users.balance}`: a column of the table being updated.
        if expr.kind() == "member_expression"
            && expr.field("object").is_some_and(|o| text(o, src) == table)
            && expr
                .field("property")
                .is_some_and(|p| text(p, src) == column)
        {
            return true;
        }
    }
    literal.push_str(
        src.get(cursor..template.end_byte().saturating_sub(1))
            .unwrap_or(""),
    );
    mentions_column(&literal, column)
}

// ---- suggestions --------------------------------------------------------

fn handle_of(target: &Target) -> &str {
    if target.handle.is_empty() {
        "db"
    } else {
        &target.handle
    }
}

fn table_of(target: &Target) -> &str {
    if target.table.is_empty() {
        "table"
    } else {
        &target.table
    }
}

/// `eq(users.id, id)`, or `and(eq(…), eq(…))` for several columns.
fn condition(table: &str, fields: &[(String, String)]) -> String {
    let parts: Vec<String> = fields
        .iter()
        .map(|(c, v)| format!("eq({table}.{c}, {v})"))
        .collect();
    match parts.len() {
        0 => format!("eq({table}.id, id)"),
        1 => parts[0].clone(),
        _ => format!("and({})", parts.join(", ")),
    }
}

fn conflict_target(table: &str, key: &[(String, String)]) -> String {
    let columns: Vec<String> = key.iter().map(|(c, _)| format!("{table}.{c}")).collect();
    match columns.len() {
        0 => format!("{table}.id"),
        1 => columns[0].clone(),
        _ => format!("[{}]", columns.join(", ")),
    }
}

pub fn suggest(remedy: &Remedy) -> String {
    match remedy {
        Remedy::NumberUnderLock {
            read,
            binding,
            write,
        } => super::number_under_lock(
            read,
            binding.as_deref(),
            write,
            "tx",
            |key| {
                super::key_lock(&read.database, |q| {
                    format!(
                        "await tx.execute(sql`{}`);",
                        q.replace("{KEY}", &format!("${{{key}}}"))
                    )
                })
            },
            |_, body| {
                format!(
                    "await {}.transaction(async (tx) => {{\n{body}\n}});",
                    handle_of(read)
                )
            },
        )
        .unwrap_or_else(|| {
            suggest(&Remedy::LockThenCheck {
                target: read.clone(),
            })
        }),
        Remedy::InsertOnConflict { target } => {
            let (db, table) = (handle_of(target), table_of(target));
            format!(
                "const [row] = await {db}\n  .insert({table})\n  .values({values})\n  .onConflictDoNothing({{ target: {target} }})\n  .returning();\n// no row back: it already existed; load it with\n// {db}.select().from({table}).where({cond})",
                values = super::object_literal(&target.values),
                target = conflict_target(table, &target.key),
                cond = condition(table, &target.key),
            )
        }
        Remedy::HandleUniqueViolation { target, unique_key } => {
            let (db, table) = (handle_of(target), table_of(target));
            format!(
                "try {{\n  await {db}.insert({table}).values({values});\n}} catch (e) {{\n  // unique key ({key}): the other request won; load its row instead\n  if ({test}) {{\n    const [row] = await {db}.select().from({table}).where({cond});\n    return row;\n  }}\n  throw e;\n}}",
                test = super::unique_violation_test(&target.database),
                values = super::object_literal(&target.values),
                key = unique_key.join(", "),
                cond = condition(table, &target.key),
            )
        }
        Remedy::ConditionalWrite { target, state } => {
            let (db, table) = (handle_of(target), table_of(target));
            let mut filter = target.key.clone();
            filter.extend(state.iter().cloned());
            format!(
                "const updated = await {db}\n  .update({table})\n  .set({values})\n  .where({cond})\n  .returning();\nif (updated.length === 0) {{\n  // someone else changed it first\n}}",
                values = super::object_literal(&target.values),
                cond = condition(table, &filter),
            )
        }
        Remedy::LockThenCheck { target } => {
            let (db, table) = (handle_of(target), table_of(target));
            format!(
                "await {db}.transaction(async (tx) => {{\n  const [row] = await tx\n    .select()\n    .from({table})\n    .where({cond})\n    .for(\"update\"); // or: await tx.execute(sql`SELECT pg_advisory_xact_lock(hashtext(${{key}}))`)\n  // … check `row`, then write through `tx` …\n}});",
                cond = condition(table, &target.key),
            )
        }
        Remedy::Transaction { targets, open } => super::transaction_fix(
            targets,
            open.as_deref(),
            "tx",
            |t, tx| format!("  // … the write to `{}`, through `{tx}`", table_of(t)),
            |_, body| {
                let db = targets.first().map_or("db", handle_of);
                format!("await {db}.transaction(async (tx) => {{\n{body}\n}});")
            },
        ),
        Remedy::OptimisticLock {
            target,
            version_column,
        } => {
            let (db, table) = (handle_of(target), table_of(target));
            let mut filter = target.key.clone();
            filter.push((
                version_column.clone(),
                format!("expected{}", super::capitalize(version_column)),
            ));
            let mut values: Vec<String> = target
                .values
                .iter()
                .filter(|(k, _)| k != version_column)
                .map(|(k, v)| super::property(k, v))
                .collect();
            values.push(format!(
                "{version_column}: sql`${{{table}.{version_column}}} + 1`"
            ));
            format!(
                "const updated = await {db}\n  .update({table})\n  .set({{ {values} }})\n  .where({cond})\n  .returning();\nif (updated.length === 0) {{\n  // changed since it was read: reload and retry, or answer 409 Conflict\n}}",
                values = values.join(", "),
                cond = condition(table, &filter),
            )
        }
        Remedy::AtomicUpdate { target, column } => {
            let (db, table) = (handle_of(target), table_of(target));
            format!(
                "await {db}\n  .update({table})\n  .set({{ {column}: sql`${{{table}.{column}}} - ${{amount}}` }}) // or + for an increment\n  .where({cond});",
                cond = condition(table, &target.key),
            )
        }
        Remedy::DeleteOrder { targets } => {
            let db = targets.first().map_or("db", handle_of);
            let steps: Vec<String> = targets
                .iter()
                .map(|t| {
                    let table = table_of(t);
                    format!(
                        "  await tx.delete({table}).where({});",
                        condition(table, &t.key)
                    )
                })
                .collect();
            format!(
                "// children first, so no foreign key points at a deleted row\nawait {db}.transaction(async (tx) => {{\n{}\n}});",
                steps.join("\n")
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{effects_of, lower_snippet};
    use crate::ir::{Client, EffectKind, OnConflict, RowLock};

    const HEADER: &str =
        "import { and, eq, sql } from \"drizzle-orm\";\nimport { db } from \"./db\";\n";

    fn columns(fields: &[crate::ir::Field]) -> Vec<&str> {
        fields.iter().map(|f| f.column.as_str()).collect()
    }

    #[test]
    fn select_with_filter_limit_and_lock() {
        let src = format!(
            "{HEADER}export async function f(id: string) {{\n  const [seat] = await db.select().from(seats).where(and(eq(seats.id, id), eq(seats.status, \"free\"))).limit(1).for(\"update\");\n}}\n"
        );
        let model = lower_snippet(&src);
        let f = effects_of(&model, "f");
        let read = &f.effects[0];
        assert_eq!(read.kind, EffectKind::Read);
        assert_eq!(read.client, Client::Drizzle);
        assert_eq!(read.table.as_deref(), Some("seats"));
        assert_eq!(columns(&read.filter), ["id", "status"]);
        assert!(read.filter[1].value.literal);
        assert_eq!(read.row_lock, RowLock::Exclusive);
        assert!(!read.many);
        assert_eq!(read.binding.as_deref(), Some("seat"));
    }

    #[test]
    fn relational_find_first_callback_and_object_filters() {
        let src = format!(
            "{HEADER}export async function f(email: string, orgId: string) {{\n  await db.query.users.findFirst({{ where: eq(users.email, email) }});\n  await ctx.db.query.members.findMany({{ where: (m, {{ eq }}) => eq(m.orgId, orgId) }});\n  await db.query.invites.findFirst({{ where: {{ email, status: \"open\" }} }});\n}}\n"
        );
        let model = lower_snippet(&src);
        let f = effects_of(&model, "f");
        assert_eq!(f.effects.len(), 3);
        assert!(f
            .effects
            .iter()
            .all(|e| e.client == Client::Drizzle && e.kind == EffectKind::Read));
        assert_eq!(f.effects[0].table.as_deref(), Some("users"));
        assert_eq!(columns(&f.effects[0].filter), ["email"]);
        assert_eq!(f.effects[1].handle, "ctx.db");
        assert_eq!(columns(&f.effects[1].filter), ["orgId"]);
        assert!(f.effects[1].many);
        assert_eq!(columns(&f.effects[2].filter), ["email", "status"]);
    }

    #[test]
    fn insert_conflict_handling() {
        let src = format!(
            "{HEADER}export async function f(email: string) {{\n  await db.insert(users).values({{ email }}).onConflictDoNothing();\n  await db.insert(users).values({{ email, name }}).onConflictDoUpdate({{ target: users.email, set: {{ name }} }}).returning();\n  await db.insert(users).values([{{ email }}, {{ email: other }}]);\n}}\n"
        );
        let model = lower_snippet(&src);
        let f = effects_of(&model, "f");
        assert_eq!(f.effects[0].kind, EffectKind::Insert);
        assert_eq!(f.effects[0].on_conflict, OnConflict::DoNothing);
        assert!(f.effects[0].is_conditional_write());
        assert_eq!(f.effects[1].kind, EffectKind::Upsert);
        assert_eq!(columns(&f.effects[1].values), ["email", "name"]);
        assert_eq!(f.effects[2].on_conflict, OnConflict::None);
        assert!(f.effects[2].many);
    }

    #[test]
    fn update_with_sql_template_is_atomic_only_when_it_reads_the_column() {
        let src = format!(
            "{HEADER}export async function f(id: string, amount: number, v: number, row: Row) {{\n  await db.update(accounts).set({{ balance: sql`${{accounts.balance}} - ${{amount}}`, touchedAt: sql`now()`, total: sql`${{row.total + amount}}` }}).where(and(eq(accounts.id, id), eq(accounts.version, v)));\n}}\n"
        );
        let model = lower_snippet(&src);
        let update = &effects_of(&model, "f").effects[0];
        assert_eq!(update.kind, EffectKind::Update);
        assert_eq!(update.table.as_deref(), Some("accounts"));
        assert_eq!(columns(&update.filter), ["id", "version"]);
        let atomic: Vec<bool> = update.values.iter().map(|v| v.value.atomic).collect();
        assert_eq!(atomic, [true, false, false]);
        assert!(!update.many);
    }

    #[test]
    fn transaction_membership_isolation_and_execute() {
        let src = format!(
            "{HEADER}export async function f(projectId: string) {{\n  await db.transaction(async (tx) => {{\n    await tx.execute(sql`SELECT pg_advisory_xact_lock(hashtext(${{projectId}}))`);\n    await tx.delete(scenes).where(eq(scenes.projectId, projectId));\n    await db.update(projects).set({{ isWelcome: false }}).where(eq(projects.id, projectId));\n  }}, {{ isolationLevel: \"serializable\" }});\n}}\n"
        );
        let model = lower_snippet(&src);
        let f = effects_of(&model, "f");
        assert_eq!(f.transactions().len(), 1);
        assert!(f.transactions()[0].serializable);
        assert_eq!(f.transactions()[0].handle.as_deref(), Some("tx"));
        assert_eq!(f.effects[0].kind, EffectKind::Lock);
        assert_eq!(f.effects[0].transaction, Some(0));
        assert_eq!(f.effects[1].kind, EffectKind::Delete);
        assert_eq!(f.effects[1].transaction, Some(0));
        assert!(f.effects[1].many);
        // Through the outer client: outside the transaction.
        assert_eq!(f.effects[2].transaction, None);
    }

    #[test]
    fn other_libraries_are_left_alone() {
        let src = "const cache = new Map();\nexport async function f(key: string) {\n  cache.delete(key);\n  await knex.select(\"id\").from(\"users\");\n  await stripe.customers.update(id, { email });\n}\n";
        let model = lower_snippet(src);
        assert!(model
            .functions
            .iter()
            .flat_map(|f| &f.effects)
            .all(|e| e.client != Client::Drizzle));
    }

    #[test]
    fn sql_inside_set_is_not_a_statement() {
        let src = format!(
            "{HEADER}import postgres from \"postgres\";\nexport async function f(id: string) {{\n  await db.update(posts).set({{ views: sql`${{posts.views}} + 1` }}).where(eq(posts.id, id));\n}}\n"
        );
        let model = lower_snippet(&src);
        let f = effects_of(&model, "f");
        assert_eq!(f.effects.len(), 1);
        assert!(f.effects[0].values[0].value.atomic);
    }

    #[test]
    fn count_batch_and_transaction_without_the_import() {
        let src = "import { db } from \"@/db\";\nexport async function f(teamId: string) {\n  await db.transaction(async (tx) => {\n    await tx.insert(members).values({ teamId });\n  });\n}\n";
        let model = lower_snippet(src);
        let f = effects_of(&model, "f");
        assert_eq!(f.effects[0].transaction, Some(0), "db-like handle, no Knex");
        let src = format!(
            "{HEADER}export async function f(teamId: string) {{\n  const used = await db.$count(members, eq(members.teamId, teamId));\n  await db.batch([db.insert(members).values({{ teamId }}), db.update(teams).set({{ seats: used }}).where(eq(teams.id, teamId))]);\n}}\n"
        );
        let model = lower_snippet(&src);
        let f = effects_of(&model, "f");
        assert_eq!(f.effects[0].kind, EffectKind::Read);
        assert_eq!(columns(&f.effects[0].filter), ["teamId"]);
        assert_eq!(
            f.transactions()[0].style,
            crate::ir::TransactionStyle::Batch
        );
        assert_eq!(f.effects[1].transaction, Some(0));
        assert_eq!(f.effects[2].transaction, Some(0));
    }

    #[test]
    fn sql_template_filter() {
        let src = format!(
            "{HEADER}export async function f(id: string) {{\n  await db.select().from(seats).where(sql`${{seats.id}} = ${{id}} and ${{seats.status}} = 'free'`);\n}}\n"
        );
        let model = lower_snippet(&src);
        let read = &effects_of(&model, "f").effects[0];
        assert_eq!(columns(&read.filter), ["id"]);
        assert_eq!(read.filter[0].value.vars, ["id"]);
    }

    #[test]
    fn suggestions_use_the_drizzle_api() {
        use crate::ir::remedy::{Remedy, Target};
        let target = Target {
            table: "seats".into(),
            handle: "db".into(),
            key: vec![("id".into(), "seatId".into())],
            values: vec![("status".into(), "\"booked\"".into())],
            call: None,
            ..Target::default()
        };
        let conditional = super::suggest(&Remedy::ConditionalWrite {
            target: target.clone(),
            state: vec![("status".into(), "\"free\"".into())],
        });
        assert!(conditional.contains("and(eq(seats.id, seatId), eq(seats.status, \"free\"))"));
        assert!(conditional.contains(".returning()"));
        let upsert = super::suggest(&Remedy::InsertOnConflict {
            target: target.clone(),
        });
        assert!(upsert.contains(".onConflictDoNothing({ target: seats.id })"));
        let lock = super::suggest(&Remedy::LockThenCheck {
            target: target.clone(),
        });
        assert!(lock.contains("db.transaction(async (tx)") && lock.contains(".for(\"update\")"));
        let version = super::suggest(&Remedy::OptimisticLock {
            target: target.clone(),
            version_column: "version".into(),
        });
        assert!(version.contains("version: sql`${seats.version} + 1`"));
        let atomic = super::suggest(&Remedy::AtomicUpdate {
            target,
            column: "balance".into(),
        });
        assert!(atomic.contains("sql`${seats.balance} - ${amount}`"));
    }
}
