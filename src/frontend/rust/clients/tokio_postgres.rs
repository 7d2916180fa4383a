//! tokio-postgres and the sync `postgres` crate: `client.query` / `query_one` /
//! `query_opt` / `execute(sql_or_statement, &[&a, &b])`, `client.transaction()`,
//! `client.build_transaction().isolation_level(…).start()`, `tx.commit()`, and
//! raw `BEGIN` through `batch_execute`.

use syn::Expr;

use super::{handle_text, sql_op, Chain, Features, Op, OpKind, Step};
use crate::ir::remedy::{Remedy, Target};
use crate::ir::{Client, EffectKind};

const CALLS: &[&str] = &[
    "query",
    "query_one",
    "query_opt",
    "execute",
    "query_raw",
    "batch_execute",
    "simple_query",
];

pub(crate) fn recognize(
    features: &Features,
    chain: &Chain,
    sql_of: &dyn Fn(&Expr) -> Option<String>,
) -> Option<Op> {
    let first = chain.steps.iter().position(|s| s.method().is_some())?;
    if !chain.steps[..first]
        .iter()
        .all(|s| matches!(s, Step::Field(_)))
    {
        return None;
    }
    if !matches!(chain.root, Expr::Path(_)) {
        return None;
    }
    let is_async = features.tokio_postgres;
    let (name, call) = chain.method(first)?;
    let mk = |kind, step: usize, m: &syn::ExprMethodCall, counts| Op {
        client: Client::TokioPostgres,
        kind,
        step,
        executor: handle_text(&call.receiver),
        site: m.method.span(),
        is_async,
        counts,
    };
    match name.as_str() {
        "transaction" if call.args.is_empty() => {
            return Some(mk(
                OpKind::TxBegin {
                    serializable: false,
                },
                first,
                call,
                false,
            ))
        }
        "commit" | "rollback" if call.args.is_empty() => {
            return Some(mk(OpKind::TxEnd, first, call, false))
        }
        "build_transaction" => {
            let start = chain.find(first, &["start"])?;
            let serializable = chain.methods_before(start).iter().any(|(_, m)| {
                quote::ToTokens::to_token_stream(&m.args)
                    .to_string()
                    .contains("Serializable")
            });
            let (_, m) = chain.method(start)?;
            return Some(mk(OpKind::TxBegin { serializable }, start, m, false));
        }
        _ => {}
    }
    if !CALLS.contains(&name.as_str()) || call.args.is_empty() {
        return None;
    }
    let single = matches!(name.as_str(), "batch_execute" | "simple_query");
    if !single && call.args.len() != 2 {
        return None;
    }
    // The parameters are a shared slice (`&[&a, &b]`); a `&mut` second argument
    // is an executor handed to some other type's `execute(id, &mut *tx)`.
    if let Some(Expr::Reference(r)) = call.args.iter().nth(1) {
        if r.mutability.is_some() {
            return None;
        }
    }
    let params: Vec<Expr> = call.args.iter().nth(1).map(slice_elems).unwrap_or_default();
    let kind = match sql_of(&call.args[0]) {
        Some(sql) => {
            let mut kind = sql_op(&sql, &params);
            if let OpKind::Effects(specs) = &mut kind {
                for s in specs.iter_mut() {
                    s.throws_if_missing = name == "query_one"
                        && matches!(s.kind, EffectKind::Read | EffectKind::Opaque);
                    s.many |= name == "query" && s.kind == EffectKind::Read;
                }
            }
            kind
        }
        None => OpKind::Effects(vec![super::EffectSpec::new(EffectKind::Opaque, None)]),
    };
    Some(mk(kind, first, call, name == "execute"))
}

/// `&[&a, &b]` → `[a, b]`.
fn slice_elems(e: &Expr) -> Vec<Expr> {
    match e {
        Expr::Reference(r) => slice_elems(&r.expr),
        // `&[&(balance - amount), &id]` binds `balance - amount` and `id`.
        Expr::Array(a) => a.elems.iter().map(|e| unref(e).clone()).collect(),
        Expr::Macro(m) => super::macro_args(&m.mac).unwrap_or_default(),
        _ => Vec::new(),
    }
}

fn unref(e: &Expr) -> &Expr {
    match e {
        Expr::Reference(r) => unref(&r.expr),
        Expr::Paren(p) => unref(&p.expr),
        _ => e,
    }
}

pub fn suggest(remedy: &Remedy) -> String {
    if let Remedy::NumberUnderLock { read, .. } = remedy {
        return suggest(&Remedy::LockThenCheck {
            target: read.clone(),
        });
    }
    let client = |t: &Target| {
        let h = t.handle.trim_start_matches('&').trim_start_matches("mut ");
        if h.is_empty() {
            "client".to_owned()
        } else {
            h.to_owned()
        }
    };
    let params = |vals: Vec<&str>| -> String {
        vals.iter()
            .map(|v| {
                // A literal of the SQL the value came from, as a Rust string.
                if let Some(text) = v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
                    format!("&\"{text}\"")
                } else if v.contains(' ') {
                    format!("&({v})")
                } else {
                    format!("&{v}")
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let wh = |t: &Target, first: usize| super::sql_assign(&t.key, first, " AND ");
    match remedy {
        Remedy::NumberUnderLock { .. } => String::new(),
        Remedy::InsertOnConflict { target } | Remedy::HandleUniqueViolation { target, .. } => {
            let mut cols = super::names(&target.key);
            let mut vals = super::code_values(&target.key);
            for (c, v) in &target.values {
                if !cols.contains(&c.as_str()) {
                    cols.push(c);
                    vals.push(v);
                }
            }
            let ph: Vec<String> = (1..=cols.len()).map(|i| format!("${i}")).collect();
            let conflict = super::names(&target.key).join(", ");
            if matches!(remedy, Remedy::HandleUniqueViolation { .. }) {
                format!(
                    "match {}.execute(\"INSERT INTO {} ({}) VALUES ({})\", &[{}]).await {{\n    Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) => {{\n        /* already exists: load it or answer 409 */\n    }}\n    other => {{ other?; }}\n}}",
                    client(target), target.table, cols.join(", "), ph.join(", "), params(vals)
                )
            } else {
                format!(
                    "let row = {}\n    .query_opt(\n        \"INSERT INTO {} ({}) VALUES ({}) ON CONFLICT ({conflict}) DO NOTHING RETURNING *\",\n        &[{}],\n    )\n    .await?;\n// `None`: it already existed",
                    client(target), target.table, cols.join(", "), ph.join(", "), params(vals)
                )
            }
        }
        Remedy::ConditionalWrite { target, state } => {
            let set = super::sql_assign(&target.values, 1, ", ");
            let mut w = wh(target, target.values.len() + 1);
            for (c, v) in state {
                w.push_str(&format!(" AND {c} = {}", super::sqlx::sql_quote(v)));
            }
            let mut vals = super::code_values(&target.values);
            vals.extend(super::code_values(&target.key));
            format!(
                "let n = {}\n    .execute(\"UPDATE {} SET {set} WHERE {w}\", &[{}])\n    .await?;\nif n != 1 {{\n    // somebody else changed it first\n}}",
                client(target), target.table, params(vals)
            )
        }
        Remedy::LockThenCheck { target } => format!(
            "let tx = {}.transaction().await?;\nlet row = tx\n    .query_opt(\"SELECT * FROM {} WHERE {} FOR UPDATE\", &[{}])\n    .await?;\n// check `row`, then write through `tx`\ntx.commit().await?;",
            client(target), target.table, wh(target, 1), params(super::code_values(&target.key))
        ),
        Remedy::Transaction { targets, .. } | Remedy::DeleteOrder { targets } => {
            let c = targets.first().map(client).unwrap_or_else(|| "client".into());
            let body: Vec<String> = targets
                .iter()
                .map(|t| {
                    if matches!(remedy, Remedy::DeleteOrder { .. }) {
                        let w = wh(t, 1);
                        let w = if w.is_empty() { String::new() } else { format!(" WHERE {w}") };
                        format!("tx.execute(\"DELETE FROM {}{w}\", &[{}]).await?;", t.table, params(super::code_values(&t.key)))
                    } else {
                        format!("// … the write to `{}`, through `tx`", t.table)
                    }
                })
                .collect();
            if c.starts_with("tx") || c == "transaction" {
                // Already in a transaction: keep it, change the order.
                return body
                    .iter()
                    .map(|l| l.replacen("tx.", &format!("{c}."), 1))
                    .collect::<Vec<_>>()
                    .join("\n");
            }
            format!("let tx = {c}.transaction().await?;\n{}\ntx.commit().await?;", body.join("\n"))
        }
        Remedy::OptimisticLock {
            target,
            version_column: v,
        } => {
            let (set, mut vals, next) = super::sql_assign_args(&target.values, 1, ", ");
            let (w, key_vals, next) = super::sql_assign_args(&target.key, next, " AND ");
            vals.extend(key_vals);
            vals.push(v);
            format!(
                "let n = {}\n    .execute(\n        \"UPDATE {} SET {set}, {v} = {v} + 1 \\\n         WHERE {w} AND {v} = ${next}\",\n        &[{}],\n    )\n    .await?;\nif n == 0 {{\n    // stale: reload and retry, or answer 409\n}}",
                client(target), target.table, params(vals)
            )
        }
        Remedy::AtomicUpdate { target, column } => {
            let (op, delta, note) = super::atomic_delta(target, column);
            let (w, key_vals, _) = super::sql_assign_args(&target.key, 2, " AND ");
            let mut vals = vec![delta.as_str()];
            vals.extend(key_vals);
            format!(
                "{note}{}\n    .execute(\n        \"UPDATE {} SET {column} = {column} {op} $1 WHERE {w}\",\n        &[{}],\n    )\n    .await?;",
                client(target), target.table, params(vals)
            )
        }
    }
}
