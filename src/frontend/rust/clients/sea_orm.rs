//! SeaORM: `cake::Entity::find()…one(db)`, `find_by_id`, `Entity::insert(am)…exec`,
//! `update_many` / `delete_many` / `delete_by_id`, ActiveModel `insert` / `update`
//! / `save` / `delete`, locks, `OnConflict`, and transactions through
//! `db.begin()` … `txn.commit()` or `db.transaction(|txn| Box::pin(async move …))`.

use syn::{Expr, ExprMethodCall};

use super::{handle_text, is_literal, Chain, EffectSpec, FieldSpec, Op, OpKind, Step};
use crate::ir::remedy::{Remedy, Target};
use crate::ir::{Client, EffectKind, OnConflict, RowLock};

const TERMINALS: &[&str] = &[
    "one",
    "all",
    "exec",
    "exec_with_returning",
    "exec_without_returning",
    "count",
    "stream",
];

pub(crate) fn recognize(chain: &Chain) -> Option<Op> {
    if let Some(op) = transaction(chain) {
        return Some(op);
    }
    if let Some(op) = entity_query(chain) {
        return Some(op);
    }
    active_model(chain)
}

/// The table of a model type path: `cake::ActiveModel` → `cake`.
pub(crate) fn model_table(segs: &[String]) -> Option<String> {
    let n = segs.len();
    if n >= 2 && matches!(segs[n - 1].as_str(), "ActiveModel" | "Model" | "Entity") {
        return Some(segs[n - 2].clone());
    }
    None
}

fn op(chain: &Chain, i: usize, call: &ExprMethodCall, kind: OpKind, executor: String) -> Op {
    let _ = chain;
    Op {
        client: Client::SeaOrm,
        kind,
        step: i,
        executor,
        site: call.method.span(),
        is_async: true,
        counts: false,
    }
}

fn transaction(chain: &Chain) -> Option<Op> {
    let first = chain.steps.iter().position(|s| s.method().is_some())?;
    if !chain.steps[..first]
        .iter()
        .all(|s| matches!(s, Step::Field(_)))
    {
        return None;
    }
    let (name, call) = chain.method(first)?;
    let recv = handle_text(&call.receiver);
    let kind = match name.as_str() {
        "begin" if call.args.is_empty() => OpKind::TxBegin {
            serializable: false,
        },
        "begin_with_config" => OpKind::TxBegin {
            serializable: quote::ToTokens::to_token_stream(&call.args)
                .to_string()
                .contains("Serializable"),
        },
        "commit" | "rollback" if call.args.is_empty() => OpKind::TxEnd,
        "transaction" | "transaction_with_config" => {
            let closure = call
                .args
                .iter()
                .position(|a| matches!(a, Expr::Closure(_)))?;
            OpKind::TxCallback {
                closure,
                serializable: quote::ToTokens::to_token_stream(&call.args)
                    .to_string()
                    .contains("Serializable"),
            }
        }
        _ => return None,
    };
    Some(op(chain, first, call, kind, recv))
}

/// `cake::Entity::find()…` and the other associated functions of an entity.
fn entity_query(chain: &Chain) -> Option<Op> {
    let Expr::Call(c) = chain.root else {
        return None;
    };
    let Expr::Path(p) = &*c.func else { return None };
    let segs: Vec<String> = p
        .path
        .segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect();
    let n = segs.len();
    if n < 2 {
        return None;
    }
    let func = segs[n - 1].as_str();
    let table = entity_table(&segs[..n - 1])?;
    let arg = c.args.first();
    let mut spec = match func {
        "find" => EffectSpec::new(EffectKind::Read, Some(table)),
        "find_by_id" => {
            let mut s = EffectSpec::new(EffectKind::Read, Some(table));
            s.filter
                .extend(arg.map(|a| FieldSpec::new("id", vec![a.clone()])));
            s
        }
        "insert" | "insert_many" => {
            let mut s = EffectSpec::new(EffectKind::Insert, Some(table));
            s.many = func == "insert_many";
            if let Some(a) = arg {
                s.model = root_var(a);
            }
            s
        }
        "update" => {
            let mut s = EffectSpec::new(EffectKind::Update, Some(table));
            s.model = arg.and_then(root_var);
            s
        }
        "update_many" => {
            let mut s = EffectSpec::new(EffectKind::Update, Some(table));
            s.many = true;
            s
        }
        "delete" => {
            let mut s = EffectSpec::new(EffectKind::Delete, Some(table));
            s.model = arg.and_then(root_var);
            s
        }
        "delete_many" => {
            let mut s = EffectSpec::new(EffectKind::Delete, Some(table));
            s.many = true;
            s
        }
        "delete_by_id" => {
            let mut s = EffectSpec::new(EffectKind::Delete, Some(table));
            s.filter
                .extend(arg.map(|a| FieldSpec::new("id", vec![a.clone()])));
            s
        }
        _ => return None,
    };
    let exec = chain.find(0, TERMINALS)?;
    let (tname, call) = chain.method(exec)?;
    for (name, m) in chain.methods_before(exec) {
        let a = m.args.first();
        match name.as_str() {
            "filter" => {
                if let Some(a) = a {
                    conditions(a, &mut spec.filter);
                }
            }
            "lock_exclusive" => spec.row_lock = RowLock::Exclusive,
            "lock_shared" => spec.row_lock = RowLock::Shared,
            "lock" => {
                let t = quote::ToTokens::to_token_stream(&m.args).to_string();
                spec.row_lock = if t.contains("Share") {
                    RowLock::Shared
                } else {
                    RowLock::Exclusive
                };
            }
            "on_conflict" => {
                let t = quote::ToTokens::to_token_stream(&m.args).to_string();
                if t.contains("do_nothing") {
                    spec.on_conflict = OnConflict::DoNothing;
                } else if t.contains("update_column") || t.contains("value") {
                    spec.on_conflict = OnConflict::DoUpdate;
                    spec.kind = EffectKind::Upsert;
                }
            }
            // SeaORM 2: `Entity::insert(am).on_conflict_do_nothing()`.
            "on_conflict_do_nothing" => spec.on_conflict = OnConflict::DoNothing,
            "col_expr" => {
                if let (Some(col), Some(v)) =
                    (m.args.first().and_then(column), m.args.iter().nth(1))
                {
                    let text = quote::ToTokens::to_token_stream(v).to_string();
                    let atomic = text.contains("Expr :: col") || text.contains("col (");
                    spec.values.push(FieldSpec {
                        atomic,
                        literal: is_literal(v),
                        ..FieldSpec::new(col, vec![v.clone()])
                    });
                }
            }
            "set" => spec.model = a.and_then(root_var),
            _ => {}
        }
    }
    spec.many |= tname == "all" || tname == "stream";
    let executor = call.args.first().map(handle_text).unwrap_or_default();
    Some(op(chain, exec, call, OpKind::Effects(vec![spec]), executor))
}

/// `am.insert(db).await`, `cake::ActiveModel { … }.insert(db).await`.
fn active_model(chain: &Chain) -> Option<Op> {
    let i = chain.find(0, &["insert", "update", "save", "delete"])?;
    let (name, call) = chain.method(i)?;
    if call.args.len() != 1 || !chain.awaited_after(i) {
        return None;
    }
    let kind = match name.as_str() {
        "insert" => EffectKind::Insert,
        "delete" => EffectKind::Delete,
        _ => EffectKind::Update,
    };
    let mut spec = EffectSpec::new(kind, None);
    match chain.root {
        Expr::Struct(s) => {
            let segs: Vec<String> = s
                .path
                .segments
                .iter()
                .map(|s| s.ident.to_string())
                .collect();
            spec.table = model_table(&segs);
            for f in &s.fields {
                if let syn::Member::Named(m) = &f.member {
                    let fs = FieldSpec {
                        literal: is_literal(&f.expr),
                        ..FieldSpec::new(m.to_string(), vec![f.expr.clone()])
                    };
                    if kind != EffectKind::Insert && m == "id" {
                        spec.filter.push(fs);
                    } else {
                        spec.values.push(fs);
                    }
                }
            }
        }
        root => spec.model = root_var(root),
    }
    let executor = handle_text(&call.args[0]);
    Some(op(chain, i, call, OpKind::Effects(vec![spec]), executor))
}

fn root_var(e: &Expr) -> Option<String> {
    match e {
        Expr::Reference(r) => root_var(&r.expr),
        Expr::Paren(p) => root_var(&p.expr),
        Expr::MethodCall(m) => root_var(&m.receiver),
        Expr::Path(p) => p.path.get_ident().map(|i| i.to_string()),
        _ => None,
    }
}

/// `cake::Entity` → `cake`; `Cake` (an `Entity as Cake` alias) → `cake`.
fn entity_table(segs: &[String]) -> Option<String> {
    let last = segs.last()?;
    if last == "Entity" {
        return segs.len().checked_sub(2).map(|i| segs[i].clone());
    }
    if segs.len() == 1 && last.starts_with(char::is_uppercase) && last != "Self" {
        return Some(snake(last));
    }
    None
}

fn snake(s: &str) -> String {
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if ch.is_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.extend(ch.to_lowercase());
        } else {
            out.push(ch);
        }
    }
    out
}

/// `cake::Column::Name` → `name`.
fn column(e: &Expr) -> Option<String> {
    let Expr::Path(p) = e else { return None };
    let segs: Vec<String> = p
        .path
        .segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect();
    let n = segs.len();
    (n >= 2 && segs[n - 2] == "Column").then(|| snake(&segs[n - 1]))
}

fn conditions(e: &Expr, out: &mut Vec<FieldSpec>) {
    let Expr::MethodCall(m) = e else { return };
    let name = m.method.to_string();
    match name.as_str() {
        "and" | "or" | "add" => {
            conditions(&m.receiver, out);
            if let Some(a) = m.args.first() {
                conditions(a, out);
            }
        }
        "eq" | "ne" | "gt" | "gte" | "lt" | "lte" | "is_in" | "is_null" | "like" => {
            if let Some(col) = column(&m.receiver) {
                let exprs: Vec<Expr> = m.args.iter().cloned().collect();
                let literal = !exprs.is_empty() && exprs.iter().all(is_literal);
                out.push(FieldSpec {
                    literal,
                    ..FieldSpec::new(col, exprs)
                });
            }
        }
        _ => {}
    }
}

fn pascal(s: &str) -> String {
    s.split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        })
        .collect()
}

/// `let txn = db.begin().await?;`, the statements through `&txn`, then
/// `txn.commit().await?;` (a dropped `DatabaseTransaction` rolls back). The
/// explicit form keeps the function's own error type, which a
/// `db.transaction(|txn| …)` closure would wrap in `TransactionError`.
pub fn wrap(wrap: &crate::ir::remedy::Wrap) -> Option<String> {
    let body = super::pass_instead(&wrap.body, &wrap.handle, "&txn")?;
    let db = wrap.handle.trim_start_matches('&').trim();
    let i = &wrap.indent;
    let body = crate::ir::remedy::indent_rest(&body, i);
    let import = if wrap.file.contains("TransactionTrait") {
        String::new()
    } else {
        format!("{i}use sea_orm::TransactionTrait as _;\n")
    };
    Some(format!(
        "{import}{i}let txn = {db}.begin().await?;\n{i}{body}\n{i}txn.commit().await?;"
    ))
}

pub fn suggest(remedy: &Remedy) -> String {
    if let Remedy::NumberUnderLock { read, .. } = remedy {
        return suggest(&Remedy::LockThenCheck {
            target: read.clone(),
        });
    }
    // SeaORM takes `&C`: a field (`self.db`) or a transaction is borrowed; a
    // plain `db` is usually already a `&DatabaseConnection` parameter.
    let db = |t: &Target| {
        let h = t.handle.trim_start_matches('&');
        if h.is_empty() {
            "db".to_owned()
        } else if h.contains('.') || h.starts_with("tx") {
            format!("&{h}")
        } else {
            h.to_owned()
        }
    };
    let filters = |t: &Target| -> String {
        t.key
            .iter()
            .map(|(c, v)| format!("\n    .filter({}::Column::{}.eq({v}))", t.table, pascal(c)))
            .collect()
    };
    let active = |t: &Target| -> String {
        let mut all = t.key.clone();
        all.extend(
            t.values
                .iter()
                .filter(|(c, _)| !t.key.iter().any(|(k, _)| k == c))
                .cloned(),
        );
        let fields: Vec<String> = all
            .iter()
            .map(|(c, v)| format!("    {c}: Set({v}),"))
            .collect();
        format!(
            "{}::ActiveModel {{\n{}\n    ..Default::default()\n}}",
            t.table,
            fields.join("\n")
        )
    };
    match remedy {
        Remedy::NumberUnderLock { .. } => String::new(),
        Remedy::InsertOnConflict { target } => {
            let cols: Vec<String> = target
                .key
                .iter()
                .map(|(c, _)| format!("{}::Column::{}", target.table, pascal(c)))
                .collect();
            format!(
                "use sea_orm::sea_query::OnConflict;\n\n{}::Entity::insert({})\n.on_conflict(OnConflict::columns([{}]).do_nothing().to_owned())\n.do_nothing()\n.exec({})\n.await?;",
                target.table,
                active(target),
                cols.join(", "),
                db(target)
            )
        }
        Remedy::HandleUniqueViolation { target, .. } => format!(
            "match {}.insert({}).await {{\n    Err(e) if matches!(e.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_))) => {{\n        /* already exists: load it or answer 409 */\n    }}\n    other => {{ other?; }}\n}}",
            active(target),
            db(target)
        ),
        Remedy::ConditionalWrite { target, state } => {
            let mut f = filters(target);
            for (c, v) in state {
                f.push_str(&format!("\n    .filter({}::Column::{}.eq({v}))", target.table, pascal(c)));
            }
            let sets: String = target
                .values
                .iter()
                .map(|(c, v)| format!("\n    .col_expr({}::Column::{}, Expr::value({v}))", target.table, pascal(c)))
                .collect();
            format!(
                "let res = {}::Entity::update_many(){sets}{f}\n    .exec({})\n    .await?;\nif res.rows_affected != 1 {{\n    // somebody else changed it first\n}}",
                target.table,
                db(target)
            )
        }
        Remedy::LockThenCheck { target } => format!(
            "let txn = {}.begin().await?;\nlet row = {}::Entity::find(){}\n    .lock_exclusive()\n    .one(&txn)\n    .await?;\n// check `row`, then write with `&txn`\ntxn.commit().await?;",
            db(target),
            target.table,
            filters(target)
        ),
        Remedy::Transaction { targets, .. } | Remedy::DeleteOrder { targets } => {
            let d = targets.first().map(db).unwrap_or_else(|| "db".into());
            let body: Vec<String> = targets
                .iter()
                .map(|t| {
                    if matches!(remedy, Remedy::DeleteOrder { .. }) {
                        format!("{}::Entity::delete_many(){}\n    .exec(&txn)\n    .await?;", t.table, filters(t))
                    } else {
                        format!("// … the write to `{}`, with `&txn`", t.table)
                    }
                })
                .collect();
            let h = d.trim_start_matches('&');
            if h.starts_with("tx") {
                // Already in a transaction: keep it, change the order.
                return body.join("\n").replace("&txn", &format!("&{h}"));
            }
            format!("let txn = {d}.begin().await?;\n{}\ntxn.commit().await?;", body.join("\n"))
        }
        Remedy::OptimisticLock {
            target,
            version_column: v,
        } => {
            let sets: String = target
                .values
                .iter()
                .map(|(c, val)| format!("\n    .col_expr({}::Column::{}, Expr::value({val}))", target.table, pascal(c)))
                .collect();
            format!(
                "let res = {t}::Entity::update_many(){sets}\n    .col_expr({t}::Column::{V}, Expr::col({t}::Column::{V}).add(1))\n    {}\n    .filter({t}::Column::{V}.eq({v}))\n    .exec({})\n    .await?;\nif res.rows_affected == 0 {{\n    // stale: reload and retry, or answer 409\n}}",
                filters(target).trim_start(),
                db(target),
                t = target.table,
                V = pascal(v)
            )
        }
        Remedy::AtomicUpdate { target, column } => {
            let delta = target
                .values
                .iter()
                .find(|(c, _)| c == column)
                .map(|(_, v)| v.clone())
                .unwrap_or_else(|| "amount".into());
            format!(
                "{t}::Entity::update_many()\n    .col_expr({t}::Column::{C}, Expr::col({t}::Column::{C}).add({delta})){}\n    .exec({})\n    .await?;",
                filters(target),
                db(target),
                t = target.table,
                C = pascal(column)
            )
        }
    }
}
