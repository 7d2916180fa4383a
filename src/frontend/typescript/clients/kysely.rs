//! Kysely: `db.selectFrom("users")…executeTakeFirst()`, `insertInto`, `updateTable`,
//! `deleteFrom`, `db.transaction().execute(async (trx) => …)` and
//! `sql`…`.execute(db)`.
//!
//! A Kysely builder does nothing until it is executed, so a chain is an effect only
//! when it ends in `execute`, `executeTakeFirst` or `executeTakeFirstOrThrow`
//! (optionally followed by `.then`/`.catch`); a builder kept in a variable and never
//! executed is not one. The builder method names (`selectFrom`, `insertInto`,
//! `updateTable`, `deleteFrom`) are Kysely's own, so no import is required.

use super::{
    core_segments, many_unless_id, mentions_column, EffectDraft, FieldDraft, FileHints, Recognized,
};
use crate::frontend::typescript::syntax::FieldExt;
use crate::frontend::typescript::syntax::{
    arguments, is_function, named_children, object_properties, param_name, text, unwrap_expr,
    Chain, Segment,
};
use crate::ir::remedy::{Remedy, Target};
use crate::ir::{Client, EffectKind, OnConflict, RowLock};
use tree_sitter::Node;

/// How a parameter that holds one of this client's transactions is typed.
pub const TRANSACTION_TYPES: &[&str] = &["Transaction<"];

/// A Kysely effect happens at `.execute*()` of a chain that starts with one of
/// the gates (the chain may be built earlier in a variable, in the same file).
pub const VOCABULARY: super::Vocabulary = super::Vocabulary {
    calls: &[],
    gated_calls: &[".execute*"],
    gates: &[
        "kysely",
        "selectFrom",
        "insertInto",
        "updateTable",
        "deleteFrom",
        "replaceInto",
        "mergeInto",
        ".transaction(",
        "sql`",
    ],
};

const EXECUTE: &[&str] = &["execute", "executeTakeFirst", "executeTakeFirstOrThrow"];

pub fn recognize<'t>(chain: &Chain<'t>, src: &'t str, hints: &FileHints) -> Option<Recognized<'t>> {
    match recognize_chain(chain, src, hints) {
        Some(found) => Some(found),
        // `await query.execute()` where `query` was built (and refined) earlier.
        None if core_segments(chain)
            .last()
            .is_some_and(|s| EXECUTE.contains(&s.name))
            && chain
                .segments
                .first()
                .is_some_and(|s| s.name != "transaction") =>
        {
            let expanded = super::expand_builder_variable(chain, src)?;
            // The handle is written where the query was built, not before `.execute()`.
            match recognize_chain(&expanded, src, hints)? {
                Recognized::Effect(mut draft) => {
                    draft.receiver_is_handle = false;
                    Some(Recognized::Effect(draft))
                }
                other => Some(other),
            }
        }
        None => None,
    }
}

fn recognize_chain<'t>(
    chain: &Chain<'t>,
    src: &'t str,
    _hints: &FileHints,
) -> Option<Recognized<'t>> {
    let segments = core_segments(chain);
    let last = segments.last()?;
    if !EXECUTE.contains(&last.name) || !last.is_call() {
        return None;
    }
    // `sql`…`.execute(db)`
    if let [template, execute] = segments {
        if template.name.is_empty() && template.template.is_some() && text(chain.root, src) == "sql"
        {
            let (sql, params) = super::template_sql(template.template?, src);
            let handle = execute.arg(0).map(|a| text(a, src).to_string())?;
            return Some(Recognized::Sql {
                client: Client::Kysely,
                handle,
                site: execute.name_node?,
                sql,
                params,
            });
        }
    }
    let start = segments.iter().position(Segment::is_call)?;
    let first = &segments[start];
    let handle = chain.receiver_text(start, src).to_string();
    if first.name == "transaction" {
        // A function, or one passed on by name (`.execute(fn)` in a wrapper).
        let callback = last
            .arg(0)
            .filter(|c| is_function(*c) || c.kind() == "identifier")?;
        let serializable = segments[start + 1..].iter().any(|s| {
            s.name == "setIsolationLevel"
                && s.args
                    .is_some_and(|a| text(a, src).to_ascii_lowercase().contains("serializable"))
        });
        return Some(Recognized::Transaction {
            client: Client::Kysely,
            callback: Some(callback),
            batch: None,
            serializable,
        });
    }
    let kind = match first.name {
        "selectFrom" => EffectKind::Read,
        "insertInto" | "replaceInto" => EffectKind::Insert,
        "updateTable" => EffectKind::Update,
        "deleteFrom" => EffectKind::Delete,
        _ => return None,
    };
    let table = first.arg(0).and_then(|t| super::string_value(t, src))?;
    let table = table.split_whitespace().next().unwrap_or("").to_string();
    let mut draft = EffectDraft::new(kind, Client::Kysely, handle, first.name_node?);
    draft.table = Some(table);
    draft.throws_if_missing = last.name == "executeTakeFirstOrThrow";
    let mut multi_row = false;
    let mut descending = None;
    let mut limited = last.name == "executeTakeFirst" || last.name == "executeTakeFirstOrThrow";
    for segment in &segments[start + 1..] {
        match segment.name {
            "select" if kind == EffectKind::Read => {
                draft.tally = segment.args.and_then(|a| selected_tally(text(a, src)));
            }
            "orderBy" => {
                let args = segment.args.map(arguments).unwrap_or_default();
                if let [column, direction] = args.as_slice() {
                    let desc = super::string_value(*direction, src)
                        .is_some_and(|d| d.eq_ignore_ascii_case("desc"));
                    descending = super::string_value(*column, src)
                        .filter(|_| desc)
                        .map(|c| strip_qualifier(&c));
                }
            }
            "limit" => limited = segment.arg(0).is_some_and(|a| text(a, src) == "1"),
            "where" | "orWhere" | "having" => where_fields(segment, src, &mut draft.filter),
            "values" => {
                if let Some(rows) = segment.arg(0) {
                    let (row, many) = super::row_object(rows, src);
                    multi_row = many;
                    if let Some(row) = row {
                        set_fields(row, "eb", src, &mut draft.values);
                    }
                }
            }
            "set" => set_call(segment, src, &mut draft.values),
            "onConflict" | "onDuplicateKeyUpdate" => {
                let code = segment.args.map_or("", |a| text(a, src));
                if segment.name == "onDuplicateKeyUpdate" || code.contains("doUpdateSet") {
                    draft.kind = EffectKind::Upsert;
                    draft.on_conflict = OnConflict::DoUpdate;
                } else if code.contains("doNothing") {
                    draft.on_conflict = OnConflict::DoNothing;
                }
            }
            "ignore" | "orIgnore" => draft.on_conflict = OnConflict::DoNothing,
            "forUpdate" | "forNoKeyUpdate" => draft.row_lock = RowLock::Exclusive,
            "forShare" | "forKeyShare" => draft.row_lock = RowLock::Shared,
            _ => {}
        }
    }
    if kind == EffectKind::Read && draft.tally.is_none() && limited {
        draft.tally = descending.map(crate::ir::Tally::max);
    }
    draft.many = match kind {
        EffectKind::Insert => multi_row,
        EffectKind::Read => last.name == "execute" && many_unless_id(&draft.filter),
        _ => many_unless_id(&draft.filter),
    };
    Some(Recognized::Effect(draft))
}

/// What a select of one aggregate tallies: `(eb) => eb.fn.max("position").as("last")`,
/// `db.fn.countAll().as("n")`, `eb.fn.count("id")`.
fn selected_tally(code: &str) -> Option<crate::ir::Tally> {
    let code: String = code.split_whitespace().collect();
    if code.matches("fn.").count() != 1 {
        return None;
    }
    let (_, call) = code.split_once("fn.")?;
    if call.starts_with("count") {
        return Some(crate::ir::Tally::count());
    }
    let inner = call.strip_prefix("max(")?;
    let column = inner.split(')').next()?.trim_matches(['"', '\'', '`']);
    Some(crate::ir::Tally::max(strip_qualifier(column)))
}

fn strip_qualifier(column: &str) -> String {
    column.rsplit('.').next().unwrap_or(column).to_string()
}

/// `.where("email", "=", email)`, `.where((eb) => eb.and([eb("id", "=", id), …]))`.
fn where_fields<'t>(segment: &Segment<'t>, src: &str, out: &mut Vec<FieldDraft<'t>>) {
    let Some(args) = segment.args else { return };
    let args = arguments(args);
    match args.as_slice() {
        [column, _operator, value] => {
            if let Some(column) = super::string_value(*column, src) {
                out.push(FieldDraft {
                    column: strip_qualifier(&column),
                    value: Some(*value),
                    atomic: false,
                });
            }
        }
        [callback] if is_function(*callback) => {
            if let Some(body) = callback.field("body") {
                comparisons(body, src, out, 0);
            }
        }
        _ => {}
    }
}

/// Every `x("column", "op", value)` call inside an expression-builder callback.
fn comparisons<'t>(node: Node<'t>, src: &str, out: &mut Vec<FieldDraft<'t>>, depth: u32) {
    if depth > 24 {
        return;
    }
    if node.kind() == "call_expression" {
        let args = node
            .field("arguments")
            .filter(|a| a.kind() == "arguments")
            .map(arguments)
            .unwrap_or_default();
        if let [column, operator, value] = args.as_slice() {
            if let (Some(column), Some(_)) = (
                super::string_value(*column, src),
                super::string_value(*operator, src),
            ) {
                out.push(FieldDraft {
                    column: strip_qualifier(&column),
                    value: Some(*value),
                    atomic: false,
                });
                return;
            }
        }
    }
    for child in named_children(node) {
        comparisons(child, src, out, depth + 1);
    }
}

/// `.set({ … })`, `.set((eb) => ({ … }))`, `.set("column", value)`.
fn set_call<'t>(segment: &Segment<'t>, src: &str, out: &mut Vec<FieldDraft<'t>>) {
    let Some(args) = segment.args else { return };
    match arguments(args).as_slice() {
        [column, value] => {
            if let Some(column) = super::string_value(*column, src) {
                let atomic = is_atomic(*value, &column, "eb", src);
                out.push(FieldDraft {
                    column,
                    value: Some(value_node(*value)),
                    atomic,
                });
            }
        }
        [data] if is_function(*data) => {
            let builder = param_name(*data, 0, src).unwrap_or_else(|| "eb".into());
            if let Some(body) = data.field("body") {
                let object = if body.kind() == "statement_block" {
                    named_children(body)
                        .find(|s| s.kind() == "return_statement")
                        .and_then(|r| r.named_child(0))
                } else {
                    Some(body)
                };
                if let Some(object) = object {
                    set_fields(unwrap_expr(object), &builder, src, out);
                }
            }
        }
        [data] => set_fields(*data, "eb", src, out),
        _ => {}
    }
}

fn set_fields<'t>(data: Node<'t>, builder: &str, src: &str, out: &mut Vec<FieldDraft<'t>>) {
    for (column, value) in object_properties(unwrap_expr(data), src) {
        let atomic = is_atomic(value, &column, builder, src);
        out.push(FieldDraft {
            column,
            value: Some(value_node(value)),
            atomic,
        });
    }
}

/// A callback value stands for its body: `(eb) => eb("balance", "-", amount)`.
fn value_node(value: Node) -> Node {
    if is_function(value) {
        if let Some(body) = value.field("body") {
            if body.kind() != "statement_block" {
                return body;
            }
        }
    }
    value
}

/// Computed by the database from the current row: an expression-builder callback
/// or call (`(eb) => eb("balance", "-", n)`, `eb("balance", "+", 1)`) or a `sql`
/// template that names the column.
fn is_atomic(value: Node, column: &str, builder: &str, src: &str) -> bool {
    let value = unwrap_expr(value);
    let code = text(value, src);
    let built = if is_function(value) {
        true
    } else if value.kind() == "call_expression" {
        value.field("function").is_some_and(|f| {
            let callee = text(f, src);
            callee == "sql" || callee == builder || callee.starts_with(&format!("{builder}."))
        })
    } else {
        false
    };
    built && mentions_column(code, column)
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

fn wheres(fields: &[(String, String)]) -> String {
    if fields.is_empty() {
        return "\n  .where(\"id\", \"=\", id)".into();
    }
    fields
        .iter()
        .map(|(c, v)| format!("\n  .where(\"{c}\", \"=\", {v})"))
        .collect()
}

pub fn suggest(remedy: &Remedy) -> String {
    match remedy {
        Remedy::NumberUnderLock { read, binding, write } => super::number_under_lock(
            read,
            binding.as_deref(),
            write,
            "trx",
            |key| super::key_lock(&read.database, |q| format!("await sql`{}`.execute(trx);", q.replace("{KEY}", &format!("${{{key}}}")))),
            |_, body| format!("await {}.transaction().execute(async (trx) => {{\n{body}\n}});", handle_of(read)),
        )
        .unwrap_or_else(|| suggest(&Remedy::LockThenCheck { target: read.clone() })),
        Remedy::InsertOnConflict { target } => format!(
            "const row = await {db}\n  .insertInto(\"{table}\")\n  .values({values})\n  .onConflict((oc) => oc.columns({cols}).doNothing())\n  .returningAll()\n  .executeTakeFirst();\n// undefined: it already existed; select it by the same key",
            db = handle_of(target),
            table = table_of(target),
            values = super::object_literal(&target.values),
            cols = super::quoted_columns(&target.key),
        ),
        Remedy::HandleUniqueViolation { target, unique_key } => format!(
            "try {{\n  await {db}.insertInto(\"{table}\").values({values}).execute();\n}} catch (e) {{\n  // unique key ({key}): the other request won; load its row instead\n  if ({test}) {{\n    return {db}.selectFrom(\"{table}\").selectAll(){wheres}\n      .executeTakeFirstOrThrow();\n  }}\n  throw e;\n}}",
            test = super::unique_violation_test(&target.database),
            db = handle_of(target),
            table = table_of(target),
            values = super::object_literal(&target.values),
            key = unique_key.join(", "),
            wheres = wheres(&target.key).replace("\n  ", "\n      "),
        ),
        Remedy::ConditionalWrite { target, state } => {
            let mut filter = target.key.clone();
            filter.extend(state.iter().cloned());
            format!(
                "const result = await {db}\n  .updateTable(\"{table}\")\n  .set({values}){wheres}\n  .executeTakeFirst();\nif (result.numUpdatedRows === 0n) {{\n  // someone else changed it first\n}}",
                db = handle_of(target),
                table = table_of(target),
                values = super::object_literal(&target.values),
                wheres = wheres(&filter),
            )
        }
        Remedy::LockThenCheck { target } => format!(
            "await {db}.transaction().execute(async (trx) => {{\n  const row = await trx\n    .selectFrom(\"{table}\")\n    .selectAll(){wheres}\n    .forUpdate()\n    .executeTakeFirst();\n  // … check `row`, then write through `trx` …\n}});",
            db = handle_of(target),
            table = table_of(target),
            wheres = wheres(&target.key).replace("\n  ", "\n    "),
        ),
        Remedy::Transaction { targets, open } => super::transaction_fix(
            targets,
            open.as_deref(),
            "trx",
            |t, tx| format!("  // … the write to `{}`, through `{tx}`", table_of(t)),
            |_, body| {
                let db = targets.first().map_or("db", handle_of);
                format!("await {db}.transaction().execute(async (trx) => {{\n{body}\n}});")
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
                "{version_column}: (eb) => eb(\"{version_column}\", \"+\", 1)"
            ));
            format!(
                "const result = await {db}\n  .updateTable(\"{table}\")\n  .set({{ {values} }}){wheres}\n  .executeTakeFirst();\nif (result.numUpdatedRows === 0n) {{\n  // changed since it was read: reload and retry, or answer 409 Conflict\n}}",
                db = handle_of(target),
                table = table_of(target),
                values = values.join(", "),
                wheres = wheres(&filter),
            )
        }
        Remedy::AtomicUpdate { target, column } => format!(
            "await {db}\n  .updateTable(\"{table}\")\n  .set({{ {column}: (eb) => eb(\"{column}\", \"-\", amount) }}) // or \"+\"{wheres}\n  .execute();",
            db = handle_of(target),
            table = table_of(target),
            wheres = wheres(&target.key),
        ),
        Remedy::DeleteOrder { targets } => {
            let db = targets.first().map_or("db", handle_of);
            let steps: Vec<String> = targets
                .iter()
                .map(|t| {
                    format!(
                        "  await trx.deleteFrom(\"{}\"){}.execute();",
                        table_of(t),
                        wheres(&t.key).replace("\n  ", "")
                    )
                })
                .collect();
            format!(
                "// children first, so no foreign key points at a deleted row\nawait {db}.transaction().execute(async (trx) => {{\n{}\n}});",
                steps.join("\n")
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{effects_of, lower_snippet};
    use crate::ir::{Client, EffectKind, OnConflict, RowLock};

    fn columns(fields: &[crate::ir::Field]) -> Vec<&str> {
        fields.iter().map(|f| f.column.as_str()).collect()
    }

    #[test]
    fn only_executed_builders_are_effects() {
        let src = "import { Kysely } from \"kysely\";\nexport async function f(db: Kysely<DB>, email: string) {\n  const query = db.selectFrom(\"users\").selectAll().where(\"email\", \"=\", email);\n  const user = await db.selectFrom(\"users as u\").selectAll().where(\"u.email\", \"=\", email).executeTakeFirstOrThrow();\n}\n";
        let model = lower_snippet(src);
        let f = effects_of(&model, "f");
        assert_eq!(f.effects.len(), 1);
        let read = &f.effects[0];
        assert_eq!(read.client, Client::Kysely);
        assert_eq!(read.kind, EffectKind::Read);
        assert_eq!(read.table.as_deref(), Some("users"));
        assert_eq!(columns(&read.filter), ["email"]);
        assert!(read.throws_if_missing);
        assert!(!read.many);
    }

    #[test]
    fn inserts_with_on_conflict() {
        let src = "export async function f(db, email: string) {\n  await db.insertInto(\"users\").values({ email }).onConflict((oc) => oc.column(\"email\").doNothing()).execute();\n  await db.insertInto(\"users\").values({ email, name }).onConflict((oc) => oc.columns([\"email\"]).doUpdateSet({ name })).execute();\n  await db.insertInto(\"users\").values({ email }).execute();\n}\n";
        let model = lower_snippet(src);
        let f = effects_of(&model, "f");
        assert_eq!(f.effects[0].on_conflict, OnConflict::DoNothing);
        assert_eq!(f.effects[1].kind, EffectKind::Upsert);
        assert_eq!(f.effects[2].kind, EffectKind::Insert);
        assert!(!f.effects[2].is_conditional_write());
    }

    #[test]
    fn updates_atomic_and_callback_filters() {
        let src = "export async function f(db, id: number, amount: number, next: number) {\n  await db.updateTable(\"accounts\").set({ balance: (eb) => eb(\"balance\", \"-\", amount) }).where(\"id\", \"=\", id).execute();\n  await db.updateTable(\"accounts\").set((eb) => ({ balance: eb(\"balance\", \"+\", amount), note: \"x\" })).where((eb) => eb.and([eb(\"id\", \"=\", id), eb(\"status\", \"=\", \"open\")])).executeTakeFirst();\n  await db.updateTable(\"accounts\").set({ balance: next }).where(\"id\", \"=\", id).execute();\n}\n";
        let model = lower_snippet(src);
        let f = effects_of(&model, "f");
        assert!(f.effects[0].values[0].value.atomic);
        assert_eq!(columns(&f.effects[1].filter), ["id", "status"]);
        assert!(f.effects[1].filter[1].value.literal);
        assert_eq!(
            f.effects[1]
                .values
                .iter()
                .map(|v| v.value.atomic)
                .collect::<Vec<_>>(),
            [true, false]
        );
        assert!(!f.effects[2].values[0].value.atomic);
    }

    #[test]
    fn transaction_lock_and_sql_execute() {
        let src = "import { sql } from \"kysely\";\nexport async function f(db, id: number) {\n  await db.transaction().setIsolationLevel(\"serializable\").execute(async (trx) => {\n    await sql`SELECT pg_advisory_xact_lock(${id})`.execute(trx);\n    const seat = await trx.selectFrom(\"seats\").selectAll().where(\"id\", \"=\", id).forUpdate().executeTakeFirst();\n    await trx.deleteFrom(\"holds\").where(\"seatId\", \"=\", id).execute();\n    await db.deleteFrom(\"holds\").where(\"seatId\", \"=\", id).execute();\n  });\n}\n";
        let model = lower_snippet(src);
        let f = effects_of(&model, "f");
        assert!(f.transactions()[0].serializable);
        assert_eq!(f.effects[0].kind, EffectKind::Lock);
        assert_eq!(f.effects[0].transaction, Some(0));
        assert_eq!(f.effects[1].row_lock, RowLock::Exclusive);
        assert_eq!(f.effects[2].kind, EffectKind::Delete);
        assert_eq!(f.effects[2].transaction, Some(0));
        assert_eq!(f.effects[3].transaction, None);
    }

    #[test]
    fn builder_kept_in_a_variable_runs_at_execute() {
        let src = "export async function f(db, email?: string, teamId?: number) {\n  let query = db.selectFrom(\"users\").selectAll();\n  if (email) query = query.where(\"email\", \"=\", email);\n  if (teamId) {\n    query = query.where(\"teamId\", \"=\", teamId);\n  }\n  const user = await query.executeTakeFirst();\n  if (!user) await db.insertInto(\"users\").values({ email }).execute();\n}\n";
        let model = lower_snippet(src);
        let f = effects_of(&model, "f");
        assert_eq!(f.effects.len(), 2);
        let read = &f.effects[0];
        assert_eq!(read.kind, EffectKind::Read);
        assert_eq!(read.table.as_deref(), Some("users"));
        assert_eq!(columns(&read.filter), ["email", "teamId"]);
        assert_eq!(read.binding.as_deref(), Some("user"));
        assert_eq!(f.effects[1].guards[0].read, 0);
    }

    #[test]
    fn suggestions_use_the_kysely_api() {
        use crate::ir::remedy::{Remedy, Target};
        let target = Target {
            table: "users".into(),
            handle: "db".into(),
            key: vec![("email".into(), "email".into())],
            values: vec![("email".into(), "email".into())],
            call: None,
            ..Target::default()
        };
        let upsert = super::suggest(&Remedy::InsertOnConflict {
            target: target.clone(),
        });
        assert!(upsert.contains("onConflict((oc) => oc.columns([\"email\"]).doNothing())"));
        let lock = super::suggest(&Remedy::LockThenCheck { target });
        assert!(
            lock.contains("db.transaction().execute(async (trx)") && lock.contains(".forUpdate()")
        );
    }
}
