//! Hand-written SQL through node-postgres and postgres.js ([`Client::SqlTs`]).
//!
//! node-postgres: `pool.query("…", [a, b])`, `client.query(`…${x}…`)`,
//! `client.query({ text, values })`. `client.query("BEGIN")` … `"COMMIT"` opens
//! and closes an explicit transaction on that handle (the lowering does this for
//! any SQL statement that is transaction control), so effects through `client` in
//! between are inside and effects through `pool` are not. `pool.query("BEGIN")`
//! opens nothing the next statements are in (each `pool.query` may take another
//! connection), so it is not transaction control at all. Gate: the file imports
//! `pg` (or postgres.js), or the receiver is named like a connection (`pool`,
//! `client`, `db`, `conn`, `this.pool`).
//!
//! postgres.js: ``await sql`SELECT …` `` and `sql.unsafe("…", [params])`, with
//! `sql.begin(async (sql) => …)` as a callback transaction whose parameter is the
//! handle. A tagged template is a query only in statement position — awaited,
//! returned, an expression statement of its own, an arrow function's body — so
//! the `sql` template Drizzle and Kysely use inside expressions
//! (`set({ balance: sql`…` })`, `db.execute(sql`…`)`) is never taken for one. The
//! tag must be `sql`, or any identifier when the file imports postgres.js (the
//! handle of `sql.begin(async (tx) => …)` is `tx`).

use super::{
    core_segments, in_statement_position, looks_like_db, FileHints, Recognized, TxControl,
};
use crate::frontend::typescript::syntax::FieldExt;
use crate::frontend::typescript::syntax::{
    arguments, is_function, named_children, property, text, Chain, Segment,
};
use crate::ir::remedy::{Remedy, Target};
use crate::ir::Client;
use tree_sitter::Node;

/// postgres.js's `` sql`…` `` is recognised anywhere; other calls need a driver
/// import or a db-like handle (`looks_like_db`).
pub const VOCABULARY: super::Vocabulary = super::Vocabulary {
    calls: &["sql`"],
    gated_calls: &[
        ".query",
        ".execute",
        ".one*",
        ".none",
        ".any",
        ".many*",
        ".result",
        ".multi*",
        ".tx*",
        ".beginTransaction",
        ".commit",
        ".rollback",
        ".begin",
        ".unsafe",
        ".savepoint",
    ],
    gates: super::DB_LIKE_GATES,
};

/// A postgres.js tagged template on a handle not named `sql` counts only in files
/// importing postgres.js (or `@vercel/postgres`).
pub const TAG_VOCABULARY: super::Vocabulary = super::Vocabulary {
    calls: &[],
    gated_calls: &["`"],
    gates: &["postgres"],
};

pub fn recognize<'t>(chain: &Chain<'t>, src: &'t str, hints: &FileHints) -> Option<Recognized<'t>> {
    let segments = core_segments(chain);
    let root = text(chain.root, src);
    let postgres_js = (root == "sql" && !hints.sql_fragment) || hints.postgres_js;
    match segments {
        // ``sql`…` `` and ``sql`…`.execute()``
        [tag, tail @ ..]
            if tag.name.is_empty()
                && tag.template.is_some()
                && chain.root.kind() == "identifier"
                && postgres_js
                && tail
                    .iter()
                    .all(|s| s.name == "execute" && s.arg(0).is_none())
                && in_statement_position(chain.node) =>
        {
            let (sql, params) = postgres_js_sql(tag.template?, root, src);
            Some(Recognized::Sql {
                client: Client::SqlTs,
                handle: root.to_string(),
                site: chain.root,
                sql,
                params,
            })
        }
        [call] if call.name == "begin" && postgres_js && chain.root.kind() == "identifier" => {
            begin(call, src)
        }
        [call] if call.name == "savepoint" && postgres_js && chain.root.kind() == "identifier" => {
            begin(call, src)
        }
        [call] if call.name == "unsafe" && postgres_js && chain.root.kind() == "identifier" => {
            let args = arguments(call.args?);
            let sql = super::string_value(*args.first()?, src)?;
            let params = array_items(args.get(1).copied());
            Some(Recognized::Sql {
                client: Client::SqlTs,
                handle: root.to_string(),
                site: call.name_node?,
                sql,
                params,
            })
        }
        _ => node_postgres(chain, segments, src, hints),
    }
}

/// A postgres.js template as SQL text. Like [`super::template_sql`], except for the
/// dynamic helpers `${sql(row, "a", "b")}` and `${sql(ids)}`, which become what they
/// expand to: `(a, b) VALUES ($n, $n)` after `INSERT INTO t`, `a = $n, b = $n` after
/// `SET`, `($n)` elsewhere (`IN ${sql(ids)}`). The columns are the string arguments,
/// or the keys of an object literal; every placeholder stands for the helper's first
/// argument.
fn postgres_js_sql<'t>(template: Node<'t>, tag: &str, src: &'t str) -> (String, Vec<Node<'t>>) {
    let mut sql = String::new();
    let mut params = Vec::new();
    let inner_start = template.start_byte() + 1;
    let inner_end = template.end_byte().saturating_sub(1).max(inner_start);
    let mut cursor = inner_start;
    for child in named_children(template) {
        if child.kind() != "template_substitution" {
            continue;
        }
        sql.push_str(src.get(cursor..child.start_byte()).unwrap_or(""));
        cursor = child.end_byte();
        let Some(expr) = child.named_child(0) else {
            sql.push_str("NULL");
            continue;
        };
        let helper_args = (expr.kind() == "call_expression"
            && expr.field("function").is_some_and(|f| text(f, src) == tag))
        .then(|| expr.field("arguments"))
        .flatten()
        .filter(|a| a.kind() == "arguments")
        .map(arguments);
        let Some(args) = helper_args.filter(|a| !a.is_empty()) else {
            params.push(expr);
            sql.push_str(&format!("${}", params.len()));
            continue;
        };
        let value = args[0];
        params.push(value);
        let n = params.len();
        let mut columns: Vec<String> = args[1..]
            .iter()
            .filter_map(|a| super::string_value(*a, src))
            .collect();
        if columns.is_empty() {
            columns = crate::frontend::typescript::syntax::object_properties(
                crate::frontend::typescript::syntax::unwrap_expr(value),
                src,
            )
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        }
        let before = sql.trim_end().to_ascii_uppercase();
        if before.ends_with("SET") {
            let sets: Vec<String> = columns.iter().map(|c| format!("{c} = ${n}")).collect();
            sql.push_str(&if sets.is_empty() {
                format!("unknown = ${n}")
            } else {
                sets.join(", ")
            });
        } else if before.starts_with("INSERT") && !before.contains("VALUES") {
            if columns.is_empty() {
                sql.push_str("DEFAULT VALUES");
            } else {
                let values = vec![format!("${n}"); columns.len()];
                sql.push_str(&format!(
                    "({}) VALUES ({})",
                    columns.join(", "),
                    values.join(", ")
                ));
            }
        } else {
            sql.push_str(&format!("(${n})"));
        }
    }
    sql.push_str(src.get(cursor..inner_end).unwrap_or(""));
    (sql, params)
}

/// pg-promise's query methods, besides `query`; they take the values as an array or
/// as a single value.
const PG_PROMISE: &[&str] = &[
    "one",
    "oneOrNone",
    "none",
    "any",
    "many",
    "manyOrNone",
    "result",
    "multi",
];

fn node_postgres<'t>(
    chain: &Chain<'t>,
    segments: &[Segment<'t>],
    src: &'t str,
    hints: &FileHints,
) -> Option<Recognized<'t>> {
    let index = segments.iter().position(Segment::is_call)?;
    let call = &segments[index];
    if index + 1 != segments.len() {
        return None;
    }
    let handle = chain.receiver_text(index, src).to_string();
    let db_like = hints.pg || hints.postgres_js || looks_like_db(&handle);
    match call.name {
        // node-postgres, Neon, mysql2; mysql2's prepared `execute` takes the same arguments.
        "query" | "execute" if db_like => {}
        _ if hints.pg && PG_PROMISE.contains(&call.name) => {}
        // pg-promise: `db.tx(async (t) => …)`, `db.tx("tag", cb)`, `db.tx({ mode }, cb)`.
        "tx" if hints.pg => {
            let args = arguments(call.args?);
            let callback = args.iter().copied().find(|a| is_function(*a))?;
            let serializable = args.iter().any(|a| {
                !is_function(*a) && text(*a, src).to_ascii_lowercase().contains("serializable")
            });
            return Some(Recognized::Transaction {
                client: Client::SqlTs,
                callback: Some(callback),
                batch: None,
                serializable,
            });
        }
        // mysql2: `await conn.beginTransaction()` … `await conn.commit()`.
        "beginTransaction" | "commit" | "rollback" if hints.pg => {
            let control = match call.name {
                "beginTransaction" => TxControl::Begin {
                    serializable: false,
                },
                "commit" => TxControl::Commit,
                _ => TxControl::Rollback,
            };
            return Some(Recognized::Control {
                client: Client::SqlTs,
                handle,
                control,
            });
        }
        _ => return None,
    }
    let args = arguments(call.args?);
    let first = *args.first()?;
    let first = resolve_constant(first, src).unwrap_or(first);
    let values = |at: Option<Node<'t>>| -> Vec<Node<'t>> {
        match at {
            Some(array) if array.kind() == "array" => array_items(Some(array)),
            // pg-promise: a single value stands for `$1`.
            Some(value) if PG_PROMISE.contains(&call.name) && value.kind() != "object" => {
                vec![value]
            }
            _ => Vec::new(),
        }
    };
    let (sql, params) = match first.kind() {
        "string" => (
            super::string_value(first, src)?,
            values(args.get(1).copied()),
        ),
        "template_string" => {
            let (sql, mut params) = super::template_sql(first, src);
            params.extend(values(args.get(1).copied()));
            (sql, params)
        }
        // `client.query({ text: "…", values: [a, b] })`
        "object" => {
            let query = property(first, "text", src)?;
            let query = resolve_constant(query, src).unwrap_or(query);
            let (sql, mut params) = match query.kind() {
                "template_string" => super::template_sql(query, src),
                _ => (super::string_value(query, src)?, Vec::new()),
            };
            params.extend(array_items(property(first, "values", src)));
            (sql, params)
        }
        _ => return None,
    };
    // `pool.query("BEGIN")` opens a transaction on whichever connection the pool
    // picked; the next `pool.query` may run on another one. It opens nothing the
    // following statements are in, so it is not recognised as transaction control.
    if super::control_of(&sql).is_some()
        && handle
            .rsplit('.')
            .next()
            .is_some_and(|h| h.to_ascii_lowercase().contains("pool"))
    {
        return None;
    }
    Some(Recognized::Sql {
        client: Client::SqlTs,
        handle,
        site: call.name_node?,
        sql,
        params,
    })
}

/// `client.query(INSERT_USER, [..])`: the string a variable declared before the call
/// holds, in a block enclosing the call (the function's, the module's); the nearest
/// declaration wins. Only the enclosing blocks' own statements are looked at, so the
/// cost is the nesting depth times the statements per block, not the file size.
fn resolve_constant<'t>(node: Node<'t>, src: &'t str) -> Option<Node<'t>> {
    if node.kind() != "identifier" {
        return None;
    }
    let name = text(node, src);
    for scope in std::iter::successors(node.parent(), |n| n.parent())
        .filter(|n| matches!(n.kind(), "statement_block" | "program" | "class_body"))
    {
        let found = named_children(scope)
            .filter(|s| s.start_byte() < node.start_byte())
            .flat_map(|s| {
                // `const X = "…"`, `export const X = "…"`
                let declaration = if s.kind() == "export_statement" {
                    s.field("declaration").unwrap_or(s)
                } else {
                    s
                };
                named_children(declaration).collect::<Vec<_>>()
            })
            .filter(|d| d.kind() == "variable_declarator")
            .filter(|d| d.field("name").is_some_and(|n| text(n, src) == name))
            .filter_map(|d| d.field("value"))
            .map(crate::frontend::typescript::syntax::unwrap_expr)
            .filter(|v| matches!(v.kind(), "string" | "template_string"))
            .last();
        if found.is_some() {
            return found;
        }
    }
    None
}

fn array_items(node: Option<Node>) -> Vec<Node> {
    match node {
        Some(array) if array.kind() == "array" => named_children(array)
            .filter(|n| n.kind() != "comment")
            .collect(),
        _ => Vec::new(),
    }
}

/// `sql.begin(async (sql) => …)`, `sql.begin("isolation level serializable", async (sql) => …)`.
fn begin<'t>(call: &Segment<'t>, src: &'t str) -> Option<Recognized<'t>> {
    let args = arguments(call.args?);
    let callback = args.iter().copied().find(|a| is_function(*a))?;
    let serializable = args.iter().any(|a| {
        super::string_value(*a, src)
            .is_some_and(|s| s.to_ascii_lowercase().contains("serializable"))
    });
    Some(Recognized::Transaction {
        client: Client::SqlTs,
        callback: Some(callback),
        batch: None,
        serializable,
    })
}

// ---- suggestions --------------------------------------------------------
//
// One client value covers node-postgres and postgres.js; the handle tells them
// apart: postgres.js code calls through its `sql` tag (or a `sql.begin` handle
// named like it), node-postgres through a pool or client.

fn handle_of(target: &Target) -> &str {
    if target.handle.is_empty() {
        "pool"
    } else {
        &target.handle
    }
}

fn is_postgres_js(target: &Target) -> bool {
    target.handle.to_ascii_lowercase().ends_with("sql")
}

fn table_of(target: &Target) -> &str {
    if target.table.is_empty() {
        "table"
    } else {
        &target.table
    }
}

/// `a = $1 AND b = $2`, numbering from `from`.
fn predicate(fields: &[(String, String)], from: usize) -> String {
    if fields.is_empty() {
        return format!("id = ${from}");
    }
    fields
        .iter()
        .enumerate()
        .map(|(i, (c, _))| format!("{c} = ${}", from + i))
        .collect::<Vec<_>>()
        .join(" AND ")
}

fn params(fields: &[(String, String)]) -> Vec<String> {
    if fields.is_empty() {
        return vec!["id".into()];
    }
    fields
        .iter()
        .map(|(c, v)| {
            if v.is_empty() {
                format!("/* {c} */")
            } else {
                v.clone()
            }
        })
        .collect()
}

fn columns(fields: &[(String, String)]) -> String {
    if fields.is_empty() {
        return "id".into();
    }
    fields
        .iter()
        .map(|(c, _)| c.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn placeholders(n: usize, from: usize) -> String {
    (0..n.max(1))
        .map(|i| format!("${}", from + i))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One statement through `handle`: `handle.query(`…`, [args])` for node-postgres,
/// ``handle`…${arg}…` `` for postgres.js. `bind` names the result (`{ rowCount }`).
fn statement(postgres_js: bool, handle: &str, bind: &str, sql: &str, args: &[String]) -> String {
    let prefix = if bind.is_empty() {
        "await ".to_string()
    } else if postgres_js {
        // postgres.js results are arrays with a `count`.
        format!(
            "const {} = await ",
            if bind.contains("rowCount") {
                "result"
            } else {
                bind
            }
        )
    } else {
        format!("const {bind} = await ")
    };
    let short =
        prefix.len() + handle.len() + sql.len() + args.iter().map(|a| a.len() + 2).sum::<usize>()
            < 80;
    if postgres_js {
        let mut text = sql.to_string();
        // Highest first, so that `$1` does not eat the start of `$10`.
        for (i, arg) in args.iter().enumerate().rev() {
            text = text.replace(&format!("${}", i + 1), &format!("${{{arg}}}"));
        }
        if short {
            format!("{prefix}{handle}`{text}`;")
        } else {
            format!("{prefix}{handle}`\n  {text}\n`;")
        }
    } else if args.is_empty() {
        format!("{prefix}{handle}.query(`{sql}`);")
    } else if short {
        format!("{prefix}{handle}.query(`{sql}`, [{}]);", args.join(", "))
    } else {
        format!(
            "{prefix}{handle}.query(\n  `{sql}`,\n  [{}],\n);",
            args.join(", ")
        )
    }
}

/// "no row changed" for the style in use.
fn nothing_changed(postgres_js: bool) -> &'static str {
    if postgres_js {
        "result.count === 0"
    } else {
        "rowCount === 0"
    }
}

/// Statements run in one transaction, in the style in use.
fn in_transaction(postgres_js: bool, handle: &str, body: &[String]) -> String {
    if postgres_js {
        let body: Vec<String> = body
            .iter()
            .map(|l| format!("  {}", l.replace(&format!("{handle}`"), "sql`")))
            .collect();
        return format!(
            "await {handle}.begin(async (sql) => {{\n{}\n}});",
            body.join("\n")
        );
    }
    let pool = if handle == "client" { "pool" } else { handle };
    let body: Vec<String> = body
        .iter()
        .map(|l| {
            format!(
                "  {}",
                l.replace(&format!("{handle}.query("), "client.query(")
            )
        })
        .collect();
    format!(
        "const client = await {pool}.connect();\ntry {{\n  await client.query(\"BEGIN\");\n{}\n  await client.query(\"COMMIT\");\n}} catch (e) {{\n  await client.query(\"ROLLBACK\");\n  throw e;\n}} finally {{\n  client.release();\n}}",
        body.join("\n")
    )
}

pub fn suggest(remedy: &Remedy) -> String {
    match remedy {
        Remedy::NumberUnderLock { read, .. } => suggest(&Remedy::LockThenCheck {
            target: read.clone(),
        }),
        Remedy::InsertOnConflict { target } => {
            let js = is_postgres_js(target);
            let values = if target.values.is_empty() {
                &target.key
            } else {
                &target.values
            };
            let sql = format!(
                "INSERT INTO {table} ({cols}) VALUES ({ph}) ON CONFLICT ({key}) DO NOTHING RETURNING *",
                table = table_of(target),
                cols = columns(values),
                ph = placeholders(values.len(), 1),
                key = columns(&target.key),
            );
            format!(
                "{}\n// no row back: it already existed; select it by the same key",
                statement(
                    js,
                    handle_of(target),
                    if js { "[row]" } else { "{ rows }" },
                    &sql,
                    &params(values)
                )
            )
        }
        Remedy::HandleUniqueViolation { target, unique_key } => {
            let js = is_postgres_js(target);
            let handle = handle_of(target);
            let insert = statement(
                js,
                handle,
                "",
                &format!(
                    "INSERT INTO {} ({}) VALUES ({})",
                    table_of(target),
                    columns(&target.values),
                    placeholders(target.values.len(), 1)
                ),
                &params(&target.values),
            );
            let select = statement(
                js,
                handle,
                if js { "[row]" } else { "{ rows: [row] }" },
                &format!(
                    "SELECT * FROM {} WHERE {}",
                    table_of(target),
                    predicate(&target.key, 1)
                ),
                &params(&target.key),
            );
            format!(
                "try {{\n  {insert}\n}} catch (e) {{\n  // unique key ({key}): the other request won; load its row instead\n  if ({test}) {{\n    {select}\n    return row;\n  }}\n  throw e;\n}}",
                test = super::unique_violation_test(&target.database),
                key = unique_key.join(", "),
            )
        }
        Remedy::ConditionalWrite { target, state } => {
            let js = is_postgres_js(target);
            let set = predicate(&target.values, 1).replace(" AND ", ", ");
            let n = target.values.len().max(1);
            let mut filter = target.key.clone();
            filter.extend(state.iter().cloned());
            let mut args = params(&target.values);
            args.extend(params(&filter));
            let sql = format!(
                "UPDATE {} SET {set} WHERE {}",
                table_of(target),
                predicate(&filter, n + 1)
            );
            format!(
                "{}\nif ({}) {{\n  // someone else changed it first\n}}",
                statement(js, handle_of(target), "{ rowCount }", &sql, &args),
                nothing_changed(js)
            )
        }
        Remedy::LockThenCheck { target } => {
            let js = is_postgres_js(target);
            let handle = handle_of(target);
            let lock = statement(
                js,
                handle,
                if js { "[row]" } else { "{ rows: [row] }" },
                &format!(
                    "SELECT * FROM {} WHERE {} FOR UPDATE",
                    table_of(target),
                    predicate(&target.key, 1)
                ),
                &params(&target.key),
            );
            in_transaction(
                js,
                handle,
                &[
                    lock,
                    "// … check `row`, then write in this transaction …".into(),
                ],
            )
        }
        Remedy::Transaction { targets, .. } => {
            let first = targets.first();
            let js = first.is_some_and(is_postgres_js);
            let handle = first.map_or("pool", handle_of);
            let body: Vec<String> = targets
                .iter()
                .map(|t| {
                    if js {
                        format!("await {handle}`/* … {} … */`;", table_of(t))
                    } else {
                        format!("await {handle}.query(/* … {} … */);", table_of(t))
                    }
                })
                .collect();
            in_transaction(js, handle, &body)
        }
        Remedy::OptimisticLock {
            target,
            version_column,
        } => {
            let js = is_postgres_js(target);
            let values: Vec<(String, String)> = target
                .values
                .iter()
                .filter(|(k, _)| k != version_column)
                .cloned()
                .collect();
            let mut set = predicate(&values, 1).replace(" AND ", ", ");
            if values.is_empty() {
                set.clear();
            } else {
                set.push_str(", ");
            }
            let n = values.len();
            let mut filter = target.key.clone();
            filter.push((
                version_column.clone(),
                format!("expected{}", super::capitalize(version_column)),
            ));
            let mut args = if values.is_empty() {
                Vec::new()
            } else {
                params(&values)
            };
            args.extend(params(&filter));
            let sql = format!(
                "UPDATE {table} SET {set}{v} = {v} + 1 WHERE {pred}",
                table = table_of(target),
                v = version_column,
                pred = predicate(&filter, n + 1),
            );
            format!(
                "{}\nif ({}) {{\n  // changed since it was read: reload and retry, or answer 409 Conflict\n}}",
                statement(js, handle_of(target), "{ rowCount }", &sql, &args),
                nothing_changed(js)
            )
        }
        Remedy::AtomicUpdate { target, column } => {
            let js = is_postgres_js(target);
            let mut args = vec!["amount".to_string()];
            args.extend(params(&target.key));
            let sql = format!(
                "UPDATE {table} SET {column} = {column} - $1 WHERE {pred} AND {column} >= $1",
                table = table_of(target),
                pred = predicate(&target.key, 2),
            );
            format!(
                "{}\nif ({}) {{\n  // not enough left: refuse\n}}",
                statement(js, handle_of(target), "{ rowCount }", &sql, &args),
                nothing_changed(js)
            )
        }
        Remedy::DeleteOrder { targets } => {
            let first = targets.first();
            let js = first.is_some_and(is_postgres_js);
            let handle = first.map_or("pool", handle_of);
            let mut body =
                vec!["// children first, so no foreign key points at a deleted row".to_string()];
            body.extend(targets.iter().map(|t| {
                statement(
                    js,
                    handle,
                    "",
                    &format!("DELETE FROM {} WHERE {}", table_of(t), predicate(&t.key, 1)),
                    &params(&t.key),
                )
            }));
            in_transaction(js, handle, &body)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{effects_of, lower_snippet};
    use crate::ir::{Client, EffectKind, OnConflict, RowLock, TransactionStyle};

    #[test]
    fn node_postgres_queries_and_explicit_transaction() {
        let src = "import { Pool } from \"pg\";\nconst pool = new Pool();\nexport async function f(id: number, amount: number) {\n  const { rows } = await pool.query(\"SELECT * FROM accounts WHERE id = $1\", [id]);\n  const client = await pool.connect();\n  await client.query(\"BEGIN\");\n  await client.query({ text: \"UPDATE accounts SET balance = balance - $1 WHERE id = $2\", values: [amount, id] });\n  await pool.query(`INSERT INTO audit_log (account_id) VALUES (${id})`);\n  await client.query(\"COMMIT\");\n}\n";
        let model = lower_snippet(src);
        let f = effects_of(&model, "f");
        assert!(f.effects.iter().all(|e| e.client == Client::SqlTs));
        assert_eq!(f.effects[0].kind, EffectKind::Read);
        assert_eq!(f.effects[0].filter[0].value.vars, ["id"]);
        assert_eq!(f.transactions()[0].style, TransactionStyle::Explicit);
        assert_eq!(f.effects[1].kind, EffectKind::Update);
        assert!(f.effects[1].values[0].value.atomic);
        assert_eq!(f.effects[1].transaction, Some(0));
        assert_eq!(f.effects[2].table.as_deref(), Some("audit_log"));
        assert_eq!(f.effects[2].transaction, None);
    }

    #[test]
    fn postgres_js_templates_and_begin() {
        let src = "import postgres from \"postgres\";\nconst sql = postgres();\nexport async function f(id: number, email: string) {\n  const [user] = await sql`SELECT * FROM users WHERE id = ${id} FOR UPDATE`;\n  await sql.begin(\"isolation level serializable\", async (tx) => {\n    await tx`INSERT INTO users (email) VALUES (${email}) ON CONFLICT (email) DO NOTHING`;\n  });\n  const fragment = sql`WHERE id = ${id}`;\n}\n";
        let model = lower_snippet(src);
        let f = effects_of(&model, "f");
        assert_eq!(
            f.effects.len(),
            2,
            "a fragment kept in a variable is not a query"
        );
        assert_eq!(f.effects[0].row_lock, RowLock::Exclusive);
        assert_eq!(f.effects[0].binding.as_deref(), Some("user"));
        assert!(f.transactions()[0].serializable);
        assert_eq!(f.effects[1].on_conflict, OnConflict::DoNothing);
        assert_eq!(f.effects[1].transaction, Some(0));
    }

    #[test]
    fn drizzle_sql_templates_are_not_postgres_js_queries() {
        let src = "import { sql, eq } from \"drizzle-orm\";\nexport async function f(db, id: string) {\n  await db.update(posts).set({ views: sql`${posts.views} + 1` }).where(eq(posts.id, id));\n  const rows = await db.select().from(posts).where(sql`${posts.id} = ${id}`);\n}\n";
        let model = lower_snippet(src);
        let f = effects_of(&model, "f");
        assert_eq!(f.effects.len(), 2);
        assert!(f.effects.iter().all(|e| e.client == Client::Drizzle));
    }

    #[test]
    fn pg_promise_mysql2_and_sql_constants() {
        let src = "import pgPromise from \"pg-promise\";\nconst db = pgPromise()(url);\nconst FIND = \"SELECT * FROM users WHERE id = $1\";\nexport async function f(id: number) {\n  await db.tx(\"serializable\", async (t) => {\n    const user = await t.oneOrNone(FIND, id);\n    await t.none(\"UPDATE users SET seen = now() WHERE id = $1\", [id]);\n  });\n}\n";
        let model = lower_snippet(src);
        let f = effects_of(&model, "f");
        assert!(f.transactions()[0].serializable);
        assert_eq!(f.effects[0].kind, EffectKind::Read);
        assert_eq!(f.effects[0].table.as_deref(), Some("users"));
        assert_eq!(f.effects[0].filter[0].value.vars, ["id"]);
        assert_eq!(f.effects[1].kind, EffectKind::Update);
        assert!(f.effects.iter().all(|e| e.transaction == Some(0)));
        let src = "import mysql from \"mysql2/promise\";\nexport async function g(conn: mysql.Connection, id: number) {\n  await conn.beginTransaction();\n  await conn.execute(\"UPDATE seats SET status = 'booked' WHERE id = ?\", [id]);\n  await conn.commit();\n  await conn.execute(\"DELETE FROM holds WHERE seat_id = ?\", [id]);\n}\n";
        let model = lower_snippet(src);
        let g = effects_of(&model, "g");
        assert_eq!(g.effects[0].transaction, Some(0));
        assert_eq!(g.effects[0].filter[0].value.vars, ["id"]);
        assert_eq!(g.effects[1].transaction, None);
    }

    #[test]
    fn postgres_js_dynamic_helpers() {
        let src = "import postgres from \"postgres\";\nconst sql = postgres();\nexport async function f(user: User, id: number, ids: number[]) {\n  await sql`INSERT INTO users ${sql(user, \"name\", \"email\")}`;\n  await sql`UPDATE users SET ${sql({ name: user.name })} WHERE id = ${id}`;\n  await sql`DELETE FROM sessions WHERE user_id IN ${sql(ids)}`;\n}\n";
        let model = lower_snippet(src);
        let f = effects_of(&model, "f");
        assert_eq!(f.effects.len(), 3);
        assert_eq!(f.effects[0].kind, EffectKind::Insert);
        assert_eq!(f.effects[0].table.as_deref(), Some("users"));
        let inserted: Vec<&str> = f.effects[0]
            .values
            .iter()
            .map(|v| v.column.as_str())
            .collect();
        assert_eq!(inserted, ["name", "email"]);
        assert_eq!(f.effects[1].kind, EffectKind::Update);
        assert_eq!(f.effects[1].values[0].column, "name");
        assert_eq!(f.effects[1].filter[0].value.vars, ["id"]);
        assert_eq!(f.effects[2].kind, EffectKind::Delete);
        assert_eq!(f.effects[2].table.as_deref(), Some("sessions"));
    }

    #[test]
    fn begin_through_the_pool_opens_nothing() {
        let src = "import { Pool } from \"pg\";\nconst pool = new Pool();\nexport async function f(id: number) {\n  await pool.query(\"BEGIN\");\n  await pool.query(\"DELETE FROM holds WHERE seat_id = $1\", [id]);\n  await pool.query(\"COMMIT\");\n}\n";
        let model = lower_snippet(src);
        let f = effects_of(&model, "f");
        assert!(f.transactions().is_empty());
        assert_eq!(f.effects.len(), 1);
        assert_eq!(f.effects[0].transaction, None);
    }

    #[test]
    fn suggestions_are_plain_sql() {
        use crate::ir::remedy::{Remedy, Target};
        let target = Target {
            table: "accounts".into(),
            handle: "pool".into(),
            key: vec![("id".into(), "id".into())],
            values: vec![("balance".into(), "next".into())],
            call: None,
            ..Target::default()
        };
        let atomic = super::suggest(&Remedy::AtomicUpdate {
            target: target.clone(),
            column: "balance".into(),
        });
        assert!(atomic.contains(
            "UPDATE accounts SET balance = balance - $1 WHERE id = $2 AND balance >= $1"
        ));
        assert!(atomic.contains("rowCount"));
        let version = super::suggest(&Remedy::OptimisticLock {
            target: target.clone(),
            version_column: "version".into(),
        });
        assert!(version.contains("WHERE id = $2 AND version = $3"));
        let lock = super::suggest(&Remedy::LockThenCheck { target });
        assert!(lock.contains("BEGIN") && lock.contains("FOR UPDATE") && lock.contains("COMMIT"));
    }
}
