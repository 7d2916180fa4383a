//! sqlx: `sqlx::query("…").bind(x).fetch_one(&pool)`, `query_as::<_, T>`,
//! `query_scalar`, the checked macros `query!("…", args)`, `query_as!(T, "…", args)`,
//! `query_scalar!`, `query_file!("path")`, and transactions through
//! `pool.begin()` … `tx.commit()` or raw `BEGIN` / `COMMIT`.

use syn::Expr;

use super::{
    atomic_delta, borrowed, code_values, handle_text, is_sql_constant, macro_args, macro_name,
    names, path_text, sql_assign_args, sql_op, str_lit, Chain, EffectSpec, Features, Op, OpKind,
    Step,
};
use crate::ir::remedy::{Remedy, Target};
use crate::ir::{Client, EffectKind};
use crate::schema::Database;

const EXECUTORS: &[&str] = &[
    "fetch_one",
    "fetch_optional",
    "fetch_all",
    "fetch",
    "fetch_many",
    "execute",
    "execute_many",
];

pub(crate) fn recognize(features: &Features, chain: &Chain) -> Option<Op> {
    if let Some(op) = transaction_control(chain) {
        return Some(op);
    }
    let (sql, mut params) = query_root(features, chain.root)?;
    let exec = chain.find(0, EXECUTORS)?;
    for (name, call) in chain.methods_before(exec) {
        if name == "bind" {
            params.extend(call.args.first().cloned());
        }
    }
    let (method, call) = chain.method(exec)?;
    let executor = call.args.first().map(handle_text).unwrap_or_default();
    let kind = match sql {
        Some(sql) => {
            let mut kind = sql_op(&sql, &params);
            if let OpKind::Effects(specs) = &mut kind {
                for s in specs.iter_mut() {
                    s.throws_if_missing = method == "fetch_one"
                        && matches!(s.kind, EffectKind::Read | EffectKind::Opaque);
                }
            }
            kind
        }
        None => OpKind::Effects(vec![EffectSpec::new(EffectKind::Opaque, None)]),
    };
    Some(Op {
        client: Client::Sqlx,
        kind,
        step: exec,
        executor,
        site: call.method.span(),
        is_async: true,
        counts: false,
    })
}

/// `pool.begin()`, `tx.commit()`, `tx.rollback()`.
fn transaction_control(chain: &Chain) -> Option<Op> {
    let first = chain.steps.iter().position(|s| s.method().is_some())?;
    // Only field accesses may precede the method: `self.pool.begin()`.
    if !chain.steps[..first]
        .iter()
        .all(|s| matches!(s, Step::Field(_)))
    {
        return None;
    }
    let (name, call) = chain.method(first)?;
    let kind = match name.as_str() {
        "begin" if call.args.is_empty() => OpKind::TxBegin {
            serializable: false,
        },
        "commit" | "rollback" if call.args.is_empty() => OpKind::TxEnd,
        _ => return None,
    };
    Some(Op {
        client: Client::Sqlx,
        kind,
        step: first,
        executor: handle_text(&call.receiver),
        site: call.method.span(),
        is_async: true,
        counts: false,
    })
}

/// The SQL text (None when it is not a literal) and the macro's arguments.
fn query_root(features: &Features, root: &Expr) -> Option<(Option<String>, Vec<Expr>)> {
    match root {
        Expr::Call(call) => {
            let Expr::Path(p) = &*call.func else {
                return None;
            };
            let path = path_text(&p.path);
            let last = path.rsplit("::").next().unwrap_or("");
            let known = matches!(
                last,
                "query" | "query_as" | "query_scalar" | "query_with" | "query_as_with"
            );
            if !known || !(path.starts_with("sqlx::") || path == last) {
                return None;
            }
            Some((call.args.first().and_then(str_lit), Vec::new()))
        }
        Expr::Macro(m) => {
            let name = macro_name(&m.mac);
            let path = path_text(&m.mac.path);
            if !(path.starts_with("sqlx::") || path == name) {
                return None;
            }
            let typed = name.contains("_as");
            let file = name.starts_with("query_file");
            if !name.starts_with("query") {
                return None;
            }
            let args = macro_args(&m.mac)?;
            let text_at = usize::from(typed);
            let text = args.get(text_at).and_then(str_lit);
            let sql = if file {
                text.and_then(|rel| {
                    let root = features.crate_root.as_ref()?;
                    std::fs::read_to_string(root.join(rel)).ok()
                })
            } else {
                text
            };
            Some((sql, args.into_iter().skip(text_at + 1).collect()))
        }
        _ => None,
    }
}

/// `let mut tx = pool.begin().await?;`, the statements through `&mut *tx`, then
/// `tx.commit().await?;`: the writes commit together, and an early `?` drops the
/// transaction, which rolls it back.
pub fn wrap(wrap: &crate::ir::remedy::Wrap) -> Option<String> {
    let body = super::pass_instead(&wrap.body, &wrap.handle, "&mut *tx")?;
    let pool = pool_of(&wrap.handle);
    if is_transaction(&pool) {
        return None;
    }
    let i = &wrap.indent;
    let body = crate::ir::remedy::indent_rest(&body, i);
    // A connection begins through the `Connection` trait; a pool's `begin` is its own.
    let import = if pool.rsplit('.').next().is_some_and(|n| n.contains("conn")) {
        format!("{i}use sqlx::Connection as _;\n")
    } else {
        String::new()
    };
    Some(format!(
        "{import}{i}let mut tx = {pool}.begin().await?;\n{i}{body}\n{i}tx.commit().await?;"
    ))
}

/// The fix in sqlx, its SQL spelled for the table's database: MySQL's `?`
/// placeholders and `INSERT IGNORE`, SQLite's `BEGIN IMMEDIATE` for a lock.
pub fn suggest(remedy: &Remedy) -> String {
    let text = suggest_spelled(remedy);
    let database = remedy.first_target().map(|t| &t.database);
    if database.and_then(|d| d.one()) == Some(Database::Mysql) {
        return question_marks(&text);
    }
    text
}

/// `$1`, `$2`, … as MySQL's positional `?` (the snippets number them in order).
fn question_marks(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(|d| d.is_ascii_digit()) {
            while chars.peek().is_some_and(|d| d.is_ascii_digit()) {
                chars.next();
            }
            out.push('?');
        } else {
            out.push(c);
        }
    }
    out
}

fn suggest_spelled(remedy: &Remedy) -> String {
    match remedy {
        Remedy::NumberUnderLock { read, .. } => suggest(&Remedy::LockThenCheck {
            target: read.clone(),
        }),
        Remedy::InsertOnConflict { target } | Remedy::HandleUniqueViolation { target, .. } => {
            let Target { table, handle, .. } = target;
            let cols = all_columns(target);
            let vals = all_values(target);
            let (placeholders, args) = insert_values(&vals);
            if let Remedy::HandleUniqueViolation { .. } = remedy {
                let call = query(
                    &[format!(
                        "INSERT INTO {table} ({}) VALUES ({placeholders})",
                        cols.join(", ")
                    )],
                    &args,
                );
                format!(
                    "match {call}\n.execute({})\n.await\n{{\n    Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {{\n        // already exists: load it or answer 409\n    }}\n    other => {{ other?; }}\n}}",
                    borrowed(handle)
                )
            } else if target.database.one() == Some(Database::Mysql) {
                let call = query(
                    &[format!(
                        "INSERT IGNORE INTO {table} ({}) VALUES ({placeholders})",
                        cols.join(", ")
                    )],
                    &args,
                );
                format!(
                    "let inserted = {call}\n.execute({})\n.await?;\nif inserted.rows_affected() == 0 {{\n    // the row already existed: load it instead\n}}",
                    borrowed(handle)
                )
            } else {
                let conflict = names(&target.key).join(", ");
                let call = query(
                    &[
                        format!(
                            "INSERT INTO {table} ({}) VALUES ({placeholders})",
                            cols.join(", ")
                        ),
                        format!("ON CONFLICT ({conflict}) DO NOTHING RETURNING *"),
                    ],
                    &args,
                );
                let mysql = if target.database.databases().contains(&Database::Mysql) {
                    "\n// on MySQL, which has no `ON CONFLICT`: `INSERT IGNORE INTO …` and `rows_affected() == 0`"
                } else {
                    ""
                };
                format!(
                    "let row = {call}\n.fetch_optional({})\n.await?;\n// `None` means the row already existed: load it instead.{mysql}",
                    borrowed(handle)
                )
            }
        }
        Remedy::ConditionalWrite { target, state } => {
            let (set, mut args, next) = sql_assign_args(&target.values, 1, ", ");
            let (mut wh, key_args, _) = sql_assign_args(&target.key, next, " AND ");
            args.extend(key_args);
            for (c, v) in state {
                wh.push_str(&format!(" AND {c} = {}", sql_quote(v)));
            }
            let call = query(
                &[
                    format!("UPDATE {} SET {set}", target.table),
                    format!("WHERE {wh}"),
                ],
                &args,
            );
            format!(
                "let done = {call}\n.execute({})\n.await?;\nif done.rows_affected() != 1 {{\n    // somebody else changed it first\n}}",
                borrowed(&target.handle)
            )
        }
        Remedy::LockThenCheck { target } if target.database.one() == Some(Database::Sqlite) => {
            let (wh, args, _) = sql_assign_args(&target.key, 1, " AND ");
            let call = query(
                &[format!("SELECT * FROM {} WHERE {wh}", target.table)],
                &args,
            );
            format!(
                "let mut conn = {}.acquire().await?;\n// SQLite has no row locks: take the write lock before reading, so no\n// other request reads in between\nsqlx::query(\"BEGIN IMMEDIATE\").execute(&mut *conn).await?;\nlet row = {call}\n.fetch_optional(&mut *conn)\n.await?;\n// check `row`, then write through `&mut *conn`\nsqlx::query(\"COMMIT\").execute(&mut *conn).await?;",
                pool_of(&target.handle),
            )
        }
        Remedy::LockThenCheck { target } => {
            let sqlite = if target.database.databases().contains(&Database::Sqlite) {
                "\n// on SQLite, which has no `FOR UPDATE`: run `BEGIN IMMEDIATE` on one connection instead"
            } else {
                ""
            };
            let (wh, args, _) = sql_assign_args(&target.key, 1, " AND ");
            let call = query(
                &[format!(
                    "SELECT * FROM {} WHERE {wh} FOR UPDATE",
                    target.table
                )],
                &args,
            );
            format!(
                "let mut tx = {}.begin().await?;\nlet row = {call}\n.fetch_optional(&mut *tx)\n.await?;\n// check `row`, then write through `&mut *tx`{sqlite}\ntx.commit().await?;",
                pool_of(&target.handle),
            )
        }
        Remedy::Transaction { targets, .. } | Remedy::DeleteOrder { targets } => {
            let pool = targets
                .first()
                .map(|t| pool_of(&t.handle))
                .unwrap_or("pool".into());
            let delete = matches!(remedy, Remedy::DeleteOrder { .. });
            let body = targets
                .iter()
                .map(|t| {
                    let (wh, args, _) = sql_assign_args(&t.key, 1, " AND ");
                    let wh = if wh.is_empty() {
                        String::new()
                    } else {
                        format!(" WHERE {wh}")
                    };
                    if delete {
                        format!(
                            "{}\n    .execute(&mut *tx)\n    .await?;",
                            query(&[format!("DELETE FROM {}{wh}", t.table)], &args)
                        )
                    } else {
                        format!("// … the write to `{}`, through `&mut *tx`", t.table)
                    }
                })
                .collect::<Vec<_>>()
                .join("\n");
            if is_transaction(&pool) {
                // Already inside a transaction: only the order (or the handle) changes.
                body.replace("&mut *tx", &format!("&mut *{pool}"))
            } else {
                format!("let mut tx = {pool}.begin().await?;\n{body}\ntx.commit().await?;")
            }
        }
        Remedy::OptimisticLock {
            target,
            version_column: v,
        } => {
            let (set, mut args, next) = sql_assign_args(&target.values, 1, ", ");
            let (wh, key_args, next) = sql_assign_args(&target.key, next, " AND ");
            args.extend(key_args);
            args.push(v);
            let call = query(
                &[
                    format!("UPDATE {} SET {set}, {v} = {v} + 1", target.table),
                    format!("WHERE {wh} AND {v} = ${next}"),
                ],
                &args,
            );
            format!(
                "let done = {call}\n.execute({})\n.await?;\nif done.rows_affected() == 0 {{\n    // stale: reload and retry, or answer 409\n}}",
                borrowed(&target.handle)
            )
        }
        Remedy::AtomicUpdate { target, column } => {
            let (op, delta, note) = atomic_delta(target, column);
            let (wh, key_args, _) = sql_assign_args(&target.key, 2, " AND ");
            let mut args = vec![delta.as_str()];
            args.extend(key_args);
            let call = query(
                &[format!(
                    "UPDATE {} SET {column} = {column} {op} $1 WHERE {wh}",
                    target.table
                )],
                &args,
            );
            format!(
                "{note}{call}\n.execute({})\n.await?;",
                borrowed(&target.handle)
            )
        }
    }
}

/// `sqlx::query!("…", a, b)`, one SQL line per string line, arguments after.
fn query(lines: &[String], args: &[&str]) -> String {
    let sql = lines.join(" \\\n     ");
    let one_line = if args.is_empty() {
        format!("sqlx::query!(\"{sql}\")")
    } else {
        format!("sqlx::query!(\"{sql}\", {})", args.join(", "))
    };
    if lines.len() == 1 && one_line.len() <= 72 {
        return one_line;
    }
    let args = if args.is_empty() {
        String::new()
    } else {
        format!(",\n    {}", args.join(", "))
    };
    format!("sqlx::query!(\n    \"{sql}\"{args}\n)")
}

/// `$1, 'x', $2` for the values of an insert, and the Rust values to bind.
fn insert_values<'a>(vals: &[&'a str]) -> (String, Vec<&'a str>) {
    let mut n = 0;
    let mut args = Vec::new();
    let ph: Vec<String> = vals
        .iter()
        .map(|v| {
            if is_sql_constant(v) {
                (*v).to_owned()
            } else {
                n += 1;
                args.push(*v);
                format!("${n}")
            }
        })
        .collect();
    (ph.join(", "), args)
}

fn all_columns(t: &Target) -> Vec<&str> {
    let mut cols = names(&t.key);
    for c in names(&t.values) {
        if !cols.contains(&c) {
            cols.push(c);
        }
    }
    cols
}

fn all_values(t: &Target) -> Vec<&str> {
    let mut seen = names(&t.key);
    let mut vals = code_values(&t.key);
    for (c, v) in &t.values {
        if !seen.contains(&c.as_str()) {
            seen.push(c);
            vals.push(v);
        }
    }
    vals
}

/// A Rust literal (`"free"`) as SQL (`'free'`).
pub(crate) fn sql_quote(v: &str) -> String {
    match v.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        Some(s) => format!("'{}'", s.replace('\'', "''")),
        None => v.to_owned(),
    }
}

/// Whether a handle names an open transaction rather than a pool.
fn is_transaction(handle: &str) -> bool {
    let last = handle.rsplit('.').next().unwrap_or(handle);
    matches!(last, "tx" | "txn" | "trx" | "transaction") || last.ends_with("_tx")
}

/// `&mut *tx` or `&self.pool` → the pool to begin on.
fn pool_of(handle: &str) -> String {
    let h = handle.trim_start_matches('&').trim_start_matches("mut ");
    if h.is_empty() {
        "pool".into()
    } else {
        h.to_owned()
    }
}
