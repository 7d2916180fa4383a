//! Knex: `knex("users").where({ email }).first()`, `.insert(…)`, `.update(…)`,
//! `.increment(…)`, `.del()`, `knex.transaction(async (trx) => …)` (and the
//! explicit `const trx = await knex.transaction()` … `trx.commit()`), and
//! `knex.raw("…", [bindings])`.
//!
//! The query starts at a call with a table name: the instance itself called
//! (`knex("users")`, `trx("users")`, `this.db("users")`) or `from`/`table`/`into`
//! with a string. The handle is the instance called, so `trx("users")` inside a
//! transaction callback runs in it. Gate: the file imports `knex` (or mentions the
//! `Knex` type), or the instance is named like a database (`knex`, `db`, `trx`);
//! and at least one Knex query method follows the table.
//!
//! `knex.raw(…)` counts as a statement only where its value is consumed as one
//! (awaited, returned, an expression statement); inside `.update({ balance:
//! knex.raw("balance - ?", [n]) })` it is an expression of that update.

use super::{
    bound_name, core_segments, in_statement_position, looks_like_db, many_unless_id,
    mentions_column, EffectDraft, FieldDraft, FileHints, Recognized, TxControl,
};
use crate::frontend::typescript::syntax::FieldExt;
use crate::frontend::typescript::syntax::{
    arguments, is_function, named_children, object_properties, text, unwrap_expr, Chain, Segment,
};
use crate::ir::remedy::{Remedy, Target};
use crate::ir::{Client, EffectKind, OnConflict, RowLock};
use crate::schema::Database;
use tree_sitter::Node;

/// How a parameter that holds one of this client's transactions is typed.
pub const TRANSACTION_TYPES: &[&str] = &["Knex.Transaction"];

/// Knex calls are recognised in Knex files or on a db-like handle
/// (`looks_like_db`). `.join` alone is left out: it is on every array, and a query
/// whose only method is a join is not one any rule needs (rules start from
/// writes, transactions and locks, whose words are here).
pub const VOCABULARY: super::Vocabulary = super::Vocabulary {
    calls: &[],
    gated_calls: &[
        ".where*",
        ".first",
        ".select",
        ".pluck",
        ".count*",
        ".sum*",
        ".insert",
        ".update",
        ".del*",
        ".increment",
        ".decrement",
        ".forUpdate",
        ".forShare",
        ".forNoKeyUpdate",
        ".forKeyShare",
        ".returning",
        ".onConflict",
        ".orderBy",
        ".limit",
        ".leftJoin",
        ".innerJoin",
        ".truncate",
        ".raw",
        ".transaction*",
        ".commit",
        ".rollback",
        ".andWhere*",
        ".orWhere*",
    ],
    gates: super::DB_LIKE_GATES,
};

/// Methods of a Knex query builder, any of which makes a table call a query.
const QUERY_METHODS: &[&str] = &[
    "where",
    "andWhere",
    "orWhere",
    "whereNot",
    "whereIn",
    "whereNotIn",
    "whereNull",
    "whereNotNull",
    "first",
    "select",
    "pluck",
    "count",
    "sum",
    "insert",
    "update",
    "del",
    "delete",
    "increment",
    "decrement",
    "forUpdate",
    "forShare",
    "forNoKeyUpdate",
    "forKeyShare",
    "returning",
    "onConflict",
    "orderBy",
    "limit",
    "join",
    "leftJoin",
    "innerJoin",
    "truncate",
];

pub fn recognize<'t>(chain: &Chain<'t>, src: &'t str, hints: &FileHints) -> Option<Recognized<'t>> {
    let segments = core_segments(chain);
    let start = segments.iter().position(Segment::is_call)?;
    let first = &segments[start];
    let handle = chain.receiver_text(start, src).to_string();
    let knexish = |h: &str| hints.knex || h.to_ascii_lowercase().contains("knex");
    match first.name {
        "transaction" if start + 1 == segments.len() && knexish(&handle) => {
            return transaction(chain, first, handle, src);
        }
        "commit" | "rollback" if hints.knex && start + 1 == segments.len() => {
            let control = if first.name == "commit" {
                TxControl::Commit
            } else {
                TxControl::Rollback
            };
            return Some(Recognized::Control {
                client: Client::Knex,
                handle,
                control,
            });
        }
        "raw"
            if start + 1 == segments.len()
                && (knexish(&handle) || looks_like_db(&handle))
                && in_statement_position(chain.node) =>
        {
            return raw(first, handle, src);
        }
        _ => {}
    }
    // The table: `knex("users")`, `this.db("users")`, `.from("users")`, `.table("users")`.
    let (table, handle, rest_from) = if first.name.is_empty() || looks_like_db(first.name) {
        let table = first.arg(0).and_then(|a| super::string_value(a, src))?;
        let handle = match first.name_node {
            Some(name) => src
                .get(chain.root.start_byte()..name.end_byte())
                .unwrap_or("")
                .to_string(),
            None => handle,
        };
        (table, handle, start + 1)
    } else {
        // `x.from("users")` is also supabase-js and others: only in Knex files, or on
        // a handle named for Knex.
        if !knexish(&handle) {
            return None;
        }
        let at = segments[start..]
            .iter()
            .position(|s| matches!(s.name, "from" | "table" | "into"))?;
        let table = segments[start + at]
            .arg(0)
            .and_then(|a| super::string_value(a, src))?;
        (table, handle, start)
    };
    if !(hints.knex || looks_like_db(&handle)) {
        return None;
    }
    let rest = &segments[rest_from..];
    if !rest.iter().any(|s| QUERY_METHODS.contains(&s.name)) {
        return None;
    }
    // `.transacting(trx)`: the query runs in that transaction, whatever it started from.
    let transacting = rest
        .iter()
        .find(|s| s.name == "transacting")
        .and_then(|s| s.arg(0));
    let handle = transacting.map_or(handle, |trx| text(trx, src).to_string());
    let table = table.split_whitespace().next().unwrap_or("").to_string();
    let mut kind = EffectKind::Read;
    let mut site = None;
    let mut draft_filter = Vec::new();
    let mut values = Vec::new();
    let mut on_conflict = OnConflict::None;
    let mut row_lock = RowLock::None;
    let mut first_row = false;
    let mut multi_insert = false;
    let mut tally = None;
    let mut descending = None;
    for (i, segment) in rest.iter().enumerate() {
        match segment.name {
            "max" => {
                site.get_or_insert(segment.name_node);
                tally = segment
                    .arg(0)
                    .and_then(|a| super::string_value(a, src))
                    .and_then(|c| tallied_column(&c))
                    .map(crate::ir::Tally::max);
            }
            "orderBy" => {
                let args = segment.args.map(arguments).unwrap_or_default();
                if let [column, direction] = args.as_slice() {
                    let desc = super::string_value(*direction, src)
                        .is_some_and(|d| d.eq_ignore_ascii_case("desc"));
                    descending = super::string_value(*column, src)
                        .filter(|_| desc)
                        .and_then(|c| tallied_column(&c));
                }
            }
            "where" | "andWhere" | "orWhere" | "whereIn" | "whereNull" | "whereNot" => {
                where_fields(segment, src, &mut draft_filter)
            }
            "first" => {
                first_row = true;
                site.get_or_insert(segment.name_node);
            }
            "select" | "pluck" | "count" => {
                site.get_or_insert(segment.name_node);
                if segment.name == "count" {
                    tally = Some(crate::ir::Tally::count());
                }
            }
            "insert" => {
                kind = EffectKind::Insert;
                site = Some(segment.name_node);
                if let Some(data) = segment.arg(0) {
                    let (row, many) = super::row_object(data, src);
                    multi_insert = many;
                    if let Some(row) = row {
                        object_fields(row, src, &mut values);
                    }
                }
            }
            "update" => {
                kind = EffectKind::Update;
                site = Some(segment.name_node);
                match segment.args.map(arguments).unwrap_or_default().as_slice() {
                    [column, value] if column.kind() != "object" => {
                        if let Some(column) = super::string_value(*column, src) {
                            let atomic = is_atomic(*value, &column, src);
                            values.push(FieldDraft {
                                column,
                                value: Some(*value),
                                atomic,
                            });
                        }
                    }
                    // `.update(data)`, `.update(data, ["id"])` (returning)
                    [data, ..] if unwrap_expr(*data).kind() == "object" => {
                        object_fields(*data, src, &mut values)
                    }
                    _ => {}
                }
            }
            "increment" | "decrement" => {
                kind = EffectKind::Update;
                site = Some(segment.name_node);
                let args = segment.args.map(arguments).unwrap_or_default();
                match args.as_slice() {
                    [column, rest @ ..] if column.kind() == "string" => {
                        if let Some(column) = super::string_value(*column, src) {
                            values.push(FieldDraft {
                                column,
                                value: rest.first().copied(),
                                atomic: true,
                            });
                        }
                    }
                    [object] => {
                        for (column, value) in object_properties(*object, src) {
                            values.push(FieldDraft {
                                column,
                                value: Some(value),
                                atomic: true,
                            });
                        }
                    }
                    _ => {}
                }
            }
            "del" | "delete" | "truncate" => {
                kind = EffectKind::Delete;
                site = Some(segment.name_node);
            }
            "onConflict" => {
                let resolution = rest[i + 1..].iter().find_map(|s| match s.name {
                    "ignore" => Some(OnConflict::DoNothing),
                    "merge" => Some(OnConflict::DoUpdate),
                    _ => None,
                });
                on_conflict = resolution.unwrap_or(OnConflict::None);
            }
            "forUpdate" | "forNoKeyUpdate" => row_lock = RowLock::Exclusive,
            "forShare" | "forKeyShare" => row_lock = RowLock::Shared,
            _ => {}
        }
    }
    if kind == EffectKind::Insert && on_conflict == OnConflict::DoUpdate {
        kind = EffectKind::Upsert;
    }
    let site = site.flatten().or(first.name_node).unwrap_or(chain.root);
    let mut draft = EffectDraft::new(kind, Client::Knex, handle, site);
    draft.table = Some(table);
    draft.receiver_is_handle = transacting.is_none();
    draft.on_conflict = on_conflict;
    draft.row_lock = row_lock;
    if kind == EffectKind::Read {
        let limited = first_row
            || rest
                .iter()
                .any(|s| s.name == "limit" && s.arg(0).is_some_and(|a| text(a, src) == "1"));
        draft.tally = tally.or_else(|| descending.filter(|_| limited).map(crate::ir::Tally::max));
    }
    draft.many = match kind {
        EffectKind::Read => !first_row && many_unless_id(&draft_filter),
        EffectKind::Insert | EffectKind::Upsert => multi_insert,
        _ => many_unless_id(&draft_filter),
    };
    draft.filter = draft_filter;
    draft.values = values;
    Some(Recognized::Effect(draft))
}

/// The column of `max("position as last")`, `orderBy("items.position", "desc")`.
fn tallied_column(code: &str) -> Option<String> {
    let column = code.split_whitespace().next()?.rsplit('.').next()?;
    column
        .chars()
        .all(|c| c.is_alphanumeric() || c == '_')
        .then(|| column.to_string())
}

fn transaction<'t>(
    chain: &Chain<'t>,
    call: &Segment<'t>,
    handle: String,
    src: &'t str,
) -> Option<Recognized<'t>> {
    let args = call.args.map(arguments).unwrap_or_default();
    let serializable = args.iter().any(|a| {
        a.kind() == "object" && text(*a, src).to_ascii_lowercase().contains("serializable")
    });
    match args.iter().find(|a| is_function(**a)) {
        Some(callback) => Some(Recognized::Transaction {
            client: Client::Knex,
            callback: Some(*callback),
            batch: None,
            serializable,
        }),
        // `const trx = await knex.transaction();` … `await trx.commit();`
        None => {
            let name = bound_name(chain.node, src)?;
            let _ = handle;
            Some(Recognized::Control {
                client: Client::Knex,
                handle: name,
                control: TxControl::Begin { serializable },
            })
        }
    }
}

fn raw<'t>(call: &Segment<'t>, handle: String, src: &'t str) -> Option<Recognized<'t>> {
    let args = arguments(call.args?);
    let first = *args.first()?;
    let (sql, mut params) = match first.kind() {
        "template_string" => super::template_sql(first, src),
        _ => (super::string_value(first, src)?, Vec::new()),
    };
    if let Some(bindings) = args.get(1).filter(|b| b.kind() == "array") {
        params.extend(named_children(*bindings).filter(|n| n.kind() != "comment"));
    }
    if let Some(control) = super::control_of(&sql) {
        return Some(Recognized::Control {
            client: Client::Knex,
            handle,
            control,
        });
    }
    Some(Recognized::Sql {
        client: Client::Knex,
        handle,
        site: call.name_node?,
        sql,
        params,
    })
}

/// `.where({ a, b })`, `.where("a", v)`, `.where("a", ">", v)`, `.whereIn("a", xs)`,
/// `.whereNull("a")`.
fn where_fields<'t>(segment: &Segment<'t>, src: &'t str, out: &mut Vec<FieldDraft<'t>>) {
    let Some(args) = segment.args else { return };
    let args = arguments(args);
    match args.as_slice() {
        // `.where((qb) => qb.where("a", x).orWhere("b", y))`, `.where(function () { this.where(…) })`
        [callback] if is_function(*callback) => {
            if let Some(body) = callback.field("body") {
                nested_wheres(body, src, out, 0);
            }
        }
        [object] if object.kind() == "object" => {
            for (column, value) in object_properties(*object, src) {
                out.push(FieldDraft {
                    column: strip_qualifier(&column),
                    value: Some(value),
                    atomic: false,
                });
            }
        }
        [column] => {
            if let Some(column) = super::string_value(*column, src) {
                out.push(FieldDraft {
                    column: strip_qualifier(&column),
                    value: None,
                    atomic: false,
                });
            }
        }
        [column, .., value] => {
            if let Some(column) = super::string_value(*column, src) {
                out.push(FieldDraft {
                    column: strip_qualifier(&column),
                    value: Some(*value),
                    atomic: false,
                });
            }
        }
        _ => {}
    }
}

/// The `where` calls inside a grouping callback.
fn nested_wheres<'t>(node: Node<'t>, src: &'t str, out: &mut Vec<FieldDraft<'t>>, depth: u32) {
    if depth > 24 {
        return;
    }
    if node.kind() == "call_expression" {
        let property = node
            .field("function")
            .filter(|f| f.kind() == "member_expression")
            .and_then(|f| f.field("property"));
        if let Some(property) = property {
            let name = text(property, src);
            if matches!(
                name,
                "where" | "andWhere" | "orWhere" | "whereIn" | "whereNull" | "whereNot"
            ) {
                let segment = Segment {
                    name,
                    name_node: Some(property),
                    args: node.field("arguments"),
                    template: None,
                    node,
                };
                where_fields(&segment, src, out);
            }
        }
    }
    for child in named_children(node) {
        nested_wheres(child, src, out, depth + 1);
    }
}

fn strip_qualifier(column: &str) -> String {
    column.rsplit('.').next().unwrap_or(column).to_string()
}

fn object_fields<'t>(data: Node<'t>, src: &str, out: &mut Vec<FieldDraft<'t>>) {
    for (column, value) in object_properties(unwrap_expr(data), src) {
        let atomic = is_atomic(value, &column, src);
        out.push(FieldDraft {
            column,
            value: Some(value),
            atomic,
        });
    }
}

/// `knex.raw("balance - ?", [amount])`: computed from the current row.
fn is_atomic(value: Node, column: &str, src: &str) -> bool {
    let value = unwrap_expr(value);
    value.kind() == "call_expression"
        && value.field("function").is_some_and(|f| {
            let callee = text(f, src);
            callee == "raw" || callee.ends_with(".raw")
        })
        && mentions_column(text(value, src), column)
}

// ---- suggestions --------------------------------------------------------

fn handle_of(target: &Target) -> &str {
    if target.handle.is_empty() {
        "knex"
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

pub fn suggest(remedy: &Remedy) -> String {
    match remedy {
        Remedy::NumberUnderLock { read, binding, write } => super::number_under_lock(
            read,
            binding.as_deref(),
            write,
            "trx",
            |key| super::key_lock(&read.database, |sql| format!("await trx.raw(\"{}\", [{key}]);", sql.replace("{KEY}", "?"))),
            |_, body| format!("await {}.transaction(async (trx) => {{\n{body}\n}});", handle_of(read)),
        )
        .unwrap_or_else(|| suggest(&Remedy::LockThenCheck { target: read.clone() })),
        Remedy::InsertOnConflict { target } if target.database.one() == Some(Database::Mysql) => format!(
            "await {db}(\"{table}\")\n  .insert({values})\n  .onConflict({cols})\n  .ignore(); // or .merge() to update the existing row\n// MySQL returns no row from an insert: select it by the same key\nconst row = await {db}(\"{table}\").where({filter}).first();",
            db = handle_of(target),
            table = table_of(target),
            values = super::object_literal(&target.values),
            cols = super::quoted_columns(&target.key),
            filter = super::object_literal(&target.key),
        ),
        Remedy::InsertOnConflict { target } => format!(
            "const [row] = await {db}(\"{table}\")\n  .insert({values})\n  .onConflict({cols})\n  .ignore() // or .merge() to update the existing row\n  .returning(\"*\");\n// no row back: it already existed; select it by the same key",
            db = handle_of(target),
            table = table_of(target),
            values = super::object_literal(&target.values),
            cols = super::quoted_columns(&target.key),
        ),
        Remedy::HandleUniqueViolation { target, unique_key } => format!(
            "try {{\n  await {db}(\"{table}\").insert({values});\n}} catch (e) {{\n  // unique key ({key}): the other request won; load its row instead\n  if ({test}) {{\n    return {db}(\"{table}\").where({filter}).first();\n  }}\n  throw e;\n}}",
            test = super::unique_violation_test(&target.database),
            db = handle_of(target),
            table = table_of(target),
            values = super::object_literal(&target.values),
            key = unique_key.join(", "),
            filter = super::object_literal(&target.key),
        ),
        Remedy::ConditionalWrite { target, state } => {
            let mut filter = target.key.clone();
            filter.extend(state.iter().cloned());
            format!(
                "const changed = await {db}(\"{table}\")\n  .where({filter})\n  .update({values});\nif (changed === 0) {{\n  // someone else changed it first\n}}",
                db = handle_of(target),
                table = table_of(target),
                filter = super::object_literal(&filter),
                values = super::object_literal(&target.values),
            )
        }
        Remedy::LockThenCheck { target } => format!(
            "await {db}.transaction(async (trx) => {{\n  const row = await trx(\"{table}\")\n    .where({filter})\n    .forUpdate()\n    .first();\n  // … check `row`, then write through `trx(…)` …\n}});",
            db = handle_of(target),
            table = table_of(target),
            filter = super::object_literal(&target.key),
        ),
        Remedy::Transaction { targets, open } => super::transaction_fix(
            targets,
            open.as_deref(),
            "trx",
            |t, tx| format!("  // … the write to `{}`, through `{tx}`", table_of(t)),
            |_, body| {
                let db = targets.first().map_or("knex", handle_of);
                format!("await {db}.transaction(async (trx) => {{\n{body}\n}});")
            },
        ),
        Remedy::OptimisticLock {
            target,
            version_column,
        } => {
            let mut filter = target.key.clone();
            filter.push((version_column.clone(), format!("expected{}", super::capitalize(version_column))));
            let mut values: Vec<String> = target
                .values
                .iter()
                .filter(|(k, _)| k != version_column)
                .map(|(k, v)| super::property(k, v))
                .collect();
            values.push(format!(
                "{version_column}: {db}.raw(\"?? + 1\", [\"{version_column}\"])",
                db = handle_of(target)
            ));
            format!(
                "const changed = await {db}(\"{table}\")\n  .where({filter})\n  .update({{ {values} }});\nif (changed === 0) {{\n  // changed since it was read: reload and retry, or answer 409 Conflict\n}}",
                db = handle_of(target),
                table = table_of(target),
                filter = super::object_literal(&filter),
                values = values.join(", "),
            )
        }
        Remedy::AtomicUpdate { target, column } => format!(
            "await {db}(\"{table}\")\n  .where({filter})\n  .decrement(\"{column}\", amount); // or .increment(…)",
            db = handle_of(target),
            table = table_of(target),
            filter = super::object_literal(&target.key),
        ),
        Remedy::DeleteOrder { targets } => {
            let db = targets.first().map_or("knex", handle_of);
            let steps: Vec<String> = targets
                .iter()
                .map(|t| {
                    format!(
                        "  await trx(\"{}\").where({}).del();",
                        table_of(t),
                        super::object_literal(&t.key)
                    )
                })
                .collect();
            format!(
                "// children first, so no foreign key points at a deleted row\nawait {db}.transaction(async (trx) => {{\n{}\n}});",
                steps.join("\n")
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{effects_of, lower_snippet};
    use crate::ir::{Client, EffectKind, OnConflict, RowLock, TransactionStyle};

    const HEADER: &str = "import knex from \"knex\";\nconst db = knex({ client: \"pg\" });\n";

    fn columns(fields: &[crate::ir::Field]) -> Vec<&str> {
        fields.iter().map(|f| f.column.as_str()).collect()
    }

    #[test]
    fn reads_and_where_forms() {
        let src = format!("{HEADER}export async function f(email: string, id: number) {{\n  await db(\"users\").where({{ email, status: \"active\" }}).first();\n  await db(\"users\").where(\"id\", id).andWhere(\"age\", \">\", 18).select(\"id\");\n  await db.from(\"users\").whereIn(\"id\", ids).forUpdate();\n}}\n");
        let model = lower_snippet(&src);
        let f = effects_of(&model, "f");
        assert!(f
            .effects
            .iter()
            .all(|e| e.client == Client::Knex && e.kind == EffectKind::Read));
        assert_eq!(columns(&f.effects[0].filter), ["email", "status"]);
        assert!(!f.effects[0].many);
        assert_eq!(columns(&f.effects[1].filter), ["id", "age"]);
        assert_eq!(f.effects[2].row_lock, RowLock::Exclusive);
        assert_eq!(f.effects[2].table.as_deref(), Some("users"));
    }

    #[test]
    fn writes_conflicts_and_atomic_values() {
        let src = format!("{HEADER}export async function f(email: string, id: number, amount: number, next: number) {{\n  await db(\"users\").insert({{ email }}).onConflict(\"email\").ignore();\n  await db(\"users\").insert({{ email }}).onConflict(\"email\").merge();\n  await db(\"accounts\").where({{ id }}).update({{ balance: db.raw(\"balance - ?\", [amount]), note: next }});\n  await db(\"posts\").where(\"id\", id).increment(\"views\", 1);\n  await db(\"sessions\").where({{ userId: id }}).del();\n}}\n");
        let model = lower_snippet(&src);
        let f = effects_of(&model, "f");
        assert_eq!(f.effects.len(), 5, "raw inside update is not a statement");
        assert_eq!(f.effects[0].on_conflict, OnConflict::DoNothing);
        assert_eq!(f.effects[1].kind, EffectKind::Upsert);
        assert_eq!(f.effects[2].kind, EffectKind::Update);
        assert_eq!(
            f.effects[2]
                .values
                .iter()
                .map(|v| v.value.atomic)
                .collect::<Vec<_>>(),
            [true, false]
        );
        assert!(f.effects[3].values[0].value.atomic);
        assert_eq!(f.effects[4].kind, EffectKind::Delete);
        assert!(f.effects[4].many);
    }

    #[test]
    fn callable_transaction_handle_and_explicit_transactions() {
        let src = format!("{HEADER}export async function f(id: number) {{\n  await db.transaction(async (trx) => {{\n    await trx(\"seats\").where({{ id }}).forUpdate().first();\n    await trx(\"seats\").where({{ id }}).update({{ status: \"booked\" }});\n    await db(\"audit\").insert({{ id }});\n  }});\n  const tx = await db.transaction();\n  await tx(\"orders\").insert({{ id }});\n  await tx.commit();\n  await tx(\"orders\").insert({{ id }});\n}}\n");
        let model = lower_snippet(&src);
        let f = effects_of(&model, "f");
        assert_eq!(f.transactions()[0].handle.as_deref(), Some("trx"));
        assert_eq!(f.effects[0].transaction, Some(0));
        assert_eq!(f.effects[1].transaction, Some(0));
        assert_eq!(f.effects[2].transaction, None);
        assert_eq!(f.transactions()[1].style, TransactionStyle::Explicit);
        assert_eq!(f.effects[3].transaction, Some(1));
        assert_eq!(f.effects[4].transaction, None);
    }

    #[test]
    fn transacting_and_update_with_returning() {
        let src = format!("{HEADER}export async function f(id: number) {{\n  await db.transaction(async (trx) => {{\n    await db(\"seats\").transacting(trx).where({{ id }}).update({{ status: \"booked\" }}, [\"id\"]);\n  }});\n}}\n");
        let model = lower_snippet(&src);
        let update = &effects_of(&model, "f").effects[0];
        assert_eq!(update.handle, "trx");
        assert_eq!(update.transaction, Some(0));
        assert_eq!(columns(&update.values), ["status"]);
    }

    #[test]
    fn grouped_where_callbacks() {
        let src = format!("{HEADER}export async function f(id: number, email: string) {{\n  await db(\"users\").where((qb) => qb.where(\"id\", id).orWhere(\"email\", email)).first();\n  await db(\"users\").where(function () {{ this.where({{ status: \"active\" }}); }}).select(\"id\");\n}}\n");
        let model = lower_snippet(&src);
        let f = effects_of(&model, "f");
        let mut grouped = columns(&f.effects[0].filter);
        grouped.sort_unstable();
        assert_eq!(grouped, ["email", "id"]);
        assert_eq!(columns(&f.effects[1].filter), ["status"]);
    }

    #[test]
    fn raw_statement_with_question_marks() {
        let src = format!("{HEADER}export async function f(id: number, amount: number) {{\n  await db.raw(\"UPDATE accounts SET balance = balance - ? WHERE id = ?\", [amount, id]);\n}}\n");
        let model = lower_snippet(&src);
        let update = &effects_of(&model, "f").effects[0];
        assert_eq!(update.kind, EffectKind::Update);
        assert_eq!(update.table.as_deref(), Some("accounts"));
        assert!(update.values[0].value.atomic);
        assert_eq!(update.filter[0].value.vars, ["id"]);
    }

    #[test]
    fn other_callables_are_not_tables() {
        let src = "export async function f() {\n  await fetchJson(\"users\").then((r) => r.json());\n  await t(\"greeting\").select();\n}\n";
        let model = lower_snippet(src);
        assert!(model.functions.iter().all(|f| f.effects.is_empty()));
    }
}
