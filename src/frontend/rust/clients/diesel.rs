//! Diesel and diesel-async: query-builder chains rooted at a table
//! (`users::table`, `users::dsl::users`, `users` after `use …::dsl::*`),
//! `diesel::insert_into` / `update` / `delete` / `sql_query`, and transactions
//! through `conn.transaction(|conn| …)` and `conn.build_transaction().run(…)`.

use syn::{Expr, ExprMethodCall};

use super::{
    handle_text, is_literal, path_segments, path_text, sql_op, str_lit, Chain, EffectSpec,
    Features, FieldSpec, Op, OpKind,
};
use crate::ir::remedy::{Remedy, Target};
use crate::ir::{Client, EffectKind, OnConflict, RowLock};
use crate::schema::Database;

const QUERY: &[&str] = &[
    "filter",
    "or_filter",
    "find",
    "select",
    "order",
    "order_by",
    "then_order_by",
    "limit",
    "offset",
    "inner_join",
    "left_join",
    "left_outer_join",
    "for_update",
    "for_no_key_update",
    "for_share",
    "for_key_share",
    "skip_locked",
    "no_wait",
    "distinct",
    "group_by",
    "into_boxed",
    "count",
    "single_value",
];

const TERMINALS: &[&str] = &[
    "first",
    "load",
    "get_result",
    "get_results",
    "execute",
    "load_iter",
];

pub(crate) fn recognize(features: &Features, chain: &Chain) -> Option<Op> {
    if let Some(op) = transaction(chain) {
        return Some(op);
    }
    if let Some(op) = save_changes(features, chain) {
        return Some(op);
    }
    let exec = (0..chain.steps.len()).find(|&i| {
        chain
            .method(i)
            .is_some_and(|(n, m)| TERMINALS.contains(&n.as_str()) && m.args.len() == 1)
    })?;
    let (method, call) = chain.method(exec)?;
    let before = chain.methods_before(exec);
    let mut spec = match chain.root {
        Expr::Call(c) => {
            let Expr::Path(p) = &*c.func else { return None };
            let path = path_text(&p.path);
            let last = path.rsplit("::").next().unwrap_or("");
            if !(path.starts_with("diesel::") || path == last) {
                return None;
            }
            match last {
                "insert_into" | "insert_or_ignore_into" | "replace_into" => {
                    let mut s =
                        EffectSpec::new(EffectKind::Insert, c.args.first().and_then(table_of));
                    if last == "insert_or_ignore_into" {
                        s.on_conflict = OnConflict::DoNothing;
                    }
                    if last == "replace_into" {
                        s.kind = EffectKind::Upsert;
                        s.on_conflict = OnConflict::DoUpdate;
                    }
                    s
                }
                "update" | "delete" => {
                    let kind = if last == "update" {
                        EffectKind::Update
                    } else {
                        EffectKind::Delete
                    };
                    let target = c.args.first()?;
                    let inner = Chain::flatten(target);
                    let mut s = EffectSpec::new(kind, table_of(inner.root));
                    for (n, m) in inner.methods_before(inner.steps.len()) {
                        query_method(&mut s, &n, m);
                    }
                    if table_of(inner.root).is_none() {
                        // `diesel::update(&user)`: a loaded record, keyed by its id.
                        s.filter.push(FieldSpec::new("id", vec![target.clone()]));
                    }
                    s.many = !s.filter.iter().any(|f| f.column == "id");
                    s
                }
                // `select(exists(users::table.filter(…))).get_result::<bool>(conn)`:
                // a read of the inner query, answering whether a row exists.
                "select" => {
                    let Expr::Call(inner_call) = strip_ref(c.args.first()?) else {
                        return None;
                    };
                    let Expr::Path(f) = &*inner_call.func else {
                        return None;
                    };
                    let name = path_text(&f.path);
                    if name.rsplit("::").next() != Some("exists")
                        || !(name == "exists" || name.starts_with("diesel::"))
                    {
                        return None;
                    }
                    let inner = Chain::flatten(strip_ref(inner_call.args.first()?));
                    let methods = inner.methods_before(inner.steps.len());
                    if !methods.iter().all(|(n, _)| QUERY.contains(&n.as_str())) {
                        return None;
                    }
                    let mut s = EffectSpec::new(EffectKind::Read, table_of(inner.root));
                    s.table.as_ref()?;
                    for (n, m) in methods {
                        query_method(&mut s, &n, m);
                    }
                    return Some(op(
                        features,
                        chain,
                        exec,
                        call,
                        OpKind::Effects(vec![s]),
                        false,
                    ));
                }
                "sql_query" => {
                    let sql = c.args.first().and_then(str_lit)?;
                    let params: Vec<Expr> = before
                        .iter()
                        .filter(|(n, _)| n == "bind")
                        .filter_map(|(_, m)| m.args.first().cloned())
                        .collect();
                    let mut kind = sql_op(&sql, &params);
                    if let OpKind::Effects(specs) = &mut kind {
                        for s in specs.iter_mut() {
                            s.throws_if_missing = s.kind == EffectKind::Read
                                && matches!(method.as_str(), "get_result" | "first")
                                && !optional_after(chain, exec);
                        }
                    }
                    return Some(op(features, chain, exec, call, kind, method == "execute"));
                }
                _ => return None,
            }
        }
        root @ Expr::Path(_) => {
            if !before.iter().all(|(n, _)| QUERY.contains(&n.as_str())) {
                return None;
            }
            let mut s = EffectSpec::new(EffectKind::Read, table_of(root));
            s.table.as_ref()?;
            s.throws_if_missing = matches!(method.as_str(), "first" | "get_result");
            s.many = matches!(method.as_str(), "load" | "get_results" | "load_iter");
            s
        }
        _ => return None,
    };
    if spec.kind != EffectKind::Read || matches!(chain.root, Expr::Path(_)) {
        for (n, m) in &before {
            query_method(&mut spec, n, m);
        }
    }
    if spec.kind == EffectKind::Read && optional_after(chain, exec) {
        spec.throws_if_missing = false;
    }
    let counts = method == "execute";
    Some(op(
        features,
        chain,
        exec,
        call,
        OpKind::Effects(vec![spec]),
        counts,
    ))
}

fn op(
    features: &Features,
    chain: &Chain,
    exec: usize,
    call: &ExprMethodCall,
    kind: OpKind,
    counts: bool,
) -> Op {
    Op {
        client: Client::Diesel,
        kind,
        step: exec,
        executor: call.args.first().map(handle_text).unwrap_or_default(),
        site: call.method.span(),
        is_async: features.diesel_async || chain.awaited_after(exec),
        counts,
    }
}

/// `record.save_changes::<T>(conn)` (`AsChangeset` + `Identifiable`): an update of
/// the record's table by its id, writing the record's fields.
fn save_changes(features: &Features, chain: &Chain) -> Option<Op> {
    let i = chain.find(0, &["save_changes"])?;
    let (_, call) = chain.method(i)?;
    if i != 0 || call.args.len() != 1 {
        return None;
    }
    let Expr::Path(p) = strip_ref(chain.root) else {
        return None;
    };
    let var = p.path.get_ident()?.to_string();
    let mut spec = EffectSpec::new(EffectKind::Update, None);
    spec.filter.push(FieldSpec {
        text: Some(format!("{var}.id")),
        ..FieldSpec::new("id", vec![chain.root.clone()])
    });
    spec.model = Some(var);
    Some(op(
        features,
        chain,
        i,
        call,
        OpKind::Effects(vec![spec]),
        false,
    ))
}

fn optional_after(chain: &Chain, exec: usize) -> bool {
    chain
        .find(exec + 1, &["optional"])
        .is_some_and(|i| i <= exec + 2)
}

/// `conn.transaction(|conn| …)`, `conn.build_transaction().serializable().run(|conn| …)`.
fn transaction(chain: &Chain) -> Option<Op> {
    let i = chain.find(
        0,
        &[
            "transaction",
            "immediate_transaction",
            "exclusive_transaction",
            "run",
        ],
    )?;
    let (name, call) = chain.method(i)?;
    let closure = call
        .args
        .iter()
        .position(|a| matches!(a, Expr::Closure(_)))?;
    let before = chain.methods_before(i);
    if name == "run" && !before.iter().any(|(n, _)| n == "build_transaction") {
        return None;
    }
    let serializable = before.iter().any(|(n, _)| n == "serializable");
    let receiver = if name == "run" {
        before
            .iter()
            .find(|(n, _)| n == "build_transaction")
            .map(|(_, m)| handle_text(&m.receiver))
            .unwrap_or_default()
    } else {
        handle_text(&call.receiver)
    };
    Some(Op {
        client: Client::Diesel,
        kind: OpKind::TxCallback {
            closure,
            serializable,
        },
        step: i,
        executor: receiver,
        site: call.method.span(),
        is_async: false,
        counts: false,
    })
}

/// The table a Diesel path names: `users::table`, `users::dsl::users`, `users`.
fn table_of(e: &Expr) -> Option<String> {
    let segs = path_segments(e)?;
    let last = segs.last()?;
    if last == "table" {
        return segs.len().checked_sub(2).map(|i| segs[i].clone());
    }
    if segs.len() == 1 && last.chars().next()?.is_lowercase() {
        return Some(last.clone());
    }
    if segs.iter().any(|s| s == "dsl") {
        return Some(last.clone());
    }
    None
}

fn query_method(spec: &mut EffectSpec, name: &str, m: &ExprMethodCall) {
    let arg = m.args.first();
    match name {
        "filter" | "or_filter" => {
            if let Some(a) = arg {
                conditions(a, &mut spec.filter);
            }
        }
        "find" => {
            if let Some(a) = arg {
                spec.filter.push(FieldSpec::new("id", vec![a.clone()]));
            }
        }
        "for_update" | "for_no_key_update" => spec.row_lock = RowLock::Exclusive,
        "for_share" | "for_key_share" => spec.row_lock = RowLock::Shared,
        "values" | "set" => {
            if let Some(a) = arg {
                assignments(a, &mut spec.values, &mut spec.model, &mut spec.many);
            }
        }
        "on_conflict_do_nothing" | "do_nothing" => spec.on_conflict = OnConflict::DoNothing,
        "do_update" => {
            spec.on_conflict = OnConflict::DoUpdate;
            spec.kind = EffectKind::Upsert;
        }
        _ => {}
    }
}

/// `users::id.eq(x).and(status.eq("free"))` → `[(id, x), (status, "free")]`.
fn conditions(e: &Expr, out: &mut Vec<FieldSpec>) {
    let Expr::MethodCall(m) = strip_ref(e) else {
        return;
    };
    let name = m.method.to_string();
    match name.as_str() {
        "and" | "or" => {
            conditions(&m.receiver, out);
            if let Some(a) = m.args.first() {
                conditions(a, out);
            }
        }
        "eq" | "eq_any" | "ne" | "gt" | "ge" | "lt" | "le" | "is_null" | "is_not_null" | "like" => {
            if let Some(col) = column(&m.receiver) {
                let exprs: Vec<Expr> = m.args.iter().cloned().collect();
                let literal = exprs.iter().all(is_literal) && !exprs.is_empty();
                out.push(FieldSpec {
                    literal,
                    ..FieldSpec::new(col, exprs)
                });
            }
        }
        _ => {}
    }
}

/// `.set((a.eq(x), b.eq(b + 1)))`, `.values(&new_user)`.
fn assignments(e: &Expr, out: &mut Vec<FieldSpec>, model: &mut Option<String>, many: &mut bool) {
    match strip_ref(e) {
        Expr::Tuple(t) => {
            for el in &t.elems {
                assignments(el, out, model, many);
            }
        }
        Expr::MethodCall(m) if m.method == "eq" => {
            if let (Some(col), Some(v)) = (column(&m.receiver), m.args.first()) {
                let atomic = mentions_column(v, &col);
                out.push(FieldSpec {
                    atomic,
                    literal: is_literal(v),
                    ..FieldSpec::new(col, vec![v.clone()])
                });
            }
        }
        Expr::Path(p) => {
            if let Some(id) = p.path.get_ident() {
                *model = Some(id.to_string());
            }
        }
        Expr::Macro(_) | Expr::Array(_) => *many = true,
        _ => {}
    }
}

fn strip_ref(e: &Expr) -> &Expr {
    match e {
        Expr::Reference(r) => strip_ref(&r.expr),
        Expr::Paren(p) => strip_ref(&p.expr),
        _ => e,
    }
}

fn column(e: &Expr) -> Option<String> {
    path_segments(e)?.last().cloned()
}

fn mentions_column(e: &Expr, col: &str) -> bool {
    struct Finder<'a>(&'a str, bool);
    impl<'ast> syn::visit::Visit<'ast> for Finder<'_> {
        fn visit_expr_path(&mut self, p: &'ast syn::ExprPath) {
            let segs = &p.path.segments;
            // `balance` or `accounts::balance`, not a plain variable of another name.
            if segs.last().is_some_and(|s| s.ident == self.0) {
                self.1 = true;
            }
        }
    }
    let mut f = Finder(col, false);
    syn::visit::Visit::visit_expr(&mut f, e);
    f.1
}

/// `conn.transaction(|conn| { … })` around the statements; for diesel-async (the
/// statements await) `conn.transaction(|conn| async move { … }.scope_boxed()).await`.
/// Inside, the closure's `conn` is already `&mut`: `&mut conn` becomes `conn`.
pub fn wrap(wrap: &crate::ir::remedy::Wrap) -> Option<String> {
    let conn = wrap
        .handle
        .trim_start_matches('&')
        .trim_start_matches("mut ")
        .trim_start_matches('*')
        .trim()
        .to_string();
    if conn.is_empty() || !conn.chars().all(|c| c.is_alphanumeric() || c == '_') {
        return None;
    }
    let mut body = wrap.body.clone();
    for form in [format!("&mut *{conn}"), format!("&mut {conn}")] {
        body = body.replace(&form, &conn);
    }
    let value = wrap.result.as_deref().unwrap_or("()");
    body.push_str(&format!("\nOk({value})"));
    let i = &wrap.indent;
    let head = match &wrap.result {
        Some(name) => format!("let {name} = "),
        None => String::new(),
    };
    let asynchronous = wrap.body.contains(".await");
    let (import, open, close) = if asynchronous {
        let import = if wrap.file.contains("ScopedFutureExt") {
            String::new()
        } else {
            format!("{i}use diesel_async::scoped_futures::ScopedFutureExt;\n")
        };
        (
            import,
            format!("{conn}.transaction::<_, diesel::result::Error, _>(|{conn}| async move {{"),
            "}.scope_boxed()).await?;",
        )
    } else {
        (
            String::new(),
            format!("{conn}.transaction::<_, diesel::result::Error, _>(|{conn}| {{"),
            "})?;",
        )
    };
    Some(format!(
        "{import}{i}{head}{open}\n{}\n{i}{close}",
        wrap.indented(&body)
    ))
}

pub fn suggest(remedy: &Remedy) -> String {
    if let Remedy::NumberUnderLock { read, .. } = remedy {
        return suggest(&Remedy::LockThenCheck {
            target: read.clone(),
        });
    }
    let tbl = |t: &Target| format!("{}::table", t.table);
    let eqs = |t: &Target, cols: &[(String, String)]| -> String {
        let v: Vec<String> = cols
            .iter()
            .map(|(c, v)| format!("{}::{c}.eq({v})", t.table))
            .collect();
        if v.len() == 1 {
            v[0].clone()
        } else {
            format!("({})", v.join(", "))
        }
    };
    let filter = |t: &Target| -> String {
        t.key
            .iter()
            .map(|(c, v)| format!(".filter({}::{c}.eq({v}))", t.table))
            .collect()
    };
    let filter_lines = |t: &Target| -> String {
        t.key
            .iter()
            .map(|(c, v)| format!("\n            .filter({}::{c}.eq({v}))", t.table))
            .collect()
    };
    let conn = |t: &Target| {
        if t.handle.is_empty() {
            "conn".to_owned()
        } else {
            t.handle
                .trim_start_matches('&')
                .trim_start_matches("mut ")
                .to_owned()
        }
    };
    // The key's columns, then the values' others: each column once.
    let key_and_values = |t: &Target| {
        let mut all = t.key.clone();
        all.extend(
            t.values
                .iter()
                .filter(|(c, _)| !t.key.iter().any(|(k, _)| k == c))
                .cloned(),
        );
        all
    };
    match remedy {
        Remedy::NumberUnderLock { .. } => String::new(),
        Remedy::InsertOnConflict { target } if target.database.one() == Some(Database::Mysql) => {
            let all = key_and_values(target);
            format!(
                "// MySQL: `INSERT IGNORE`, which skips a row whose unique key is taken\nlet inserted = diesel::insert_or_ignore_into({})\n    .values({})\n    .execute({})?;\n// 0 rows: it already existed",
                tbl(target),
                eqs(target, &all),
                conn(target)
            )
        }
        Remedy::InsertOnConflict { target } => {
            let mysql = if target.database.databases().contains(&Database::Mysql) {
                "\n// on MySQL: `diesel::insert_or_ignore_into(…)` instead of `on_conflict`"
            } else {
                ""
            };
            let cols: Vec<String> = target.key.iter().map(|(c, _)| format!("{}::{c}", target.table)).collect();
            let conflict = if cols.len() == 1 { cols[0].clone() } else { format!("({})", cols.join(", ")) };
            let mut all = target.key.clone();
            all.extend(
                target
                    .values
                    .iter()
                    .filter(|(c, _)| !target.key.iter().any(|(k, _)| k == c))
                    .cloned(),
            );
            format!(
                "let inserted = diesel::insert_into({})\n    .values({})\n    .on_conflict({conflict})\n    .do_nothing()\n    .execute({})?;\n// 0 rows: it already existed{mysql}",
                tbl(target),
                eqs(target, &all),
                conn(target)
            )
        }
        Remedy::HandleUniqueViolation { target, .. } => format!(
            "match diesel::insert_into({}).values({}).execute({}) {{\n    Err(diesel::result::Error::DatabaseError(\n        diesel::result::DatabaseErrorKind::UniqueViolation, _,\n    )) => {{ /* already exists: load it or answer 409 */ }}\n    other => {{ other?; }}\n}}",
            tbl(target),
            eqs(target, &key_and_values(target)),
            conn(target)
        ),
        Remedy::ConditionalWrite { target, state } => {
            let mut f = filter_lines(target);
            for (c, v) in state {
                f.push_str(&format!("\n            .filter({}::{c}.eq({v}))", target.table));
            }
            format!(
                "let n = diesel::update(\n        {}{f},\n    )\n    .set({})\n    .execute({})?;\nif n != 1 {{\n    // somebody else changed it first\n}}",
                tbl(target),
                eqs(target, &target.values),
                conn(target)
            )
        }
        Remedy::LockThenCheck { target } if target.database.one() == Some(Database::Sqlite) => format!(
            "// SQLite has no row locks: an immediate transaction takes the write lock first\n{c}.immediate_transaction(|{c}| {{\n    let row = {}{}\n        .first::<_>({c})\n        .optional()?;\n    // check `row`, then write through `{c}`\n    Ok(())\n}})?;",
            tbl(target),
            filter(target),
            c = conn(target)
        ),
        Remedy::LockThenCheck { target } => format!(
            "{c}.transaction(|{c}| {{\n    let row = {}{}\n        .for_update()\n        .first::<_>({c})\n        .optional()?;\n    // check `row`, then write through `{c}`{sqlite}\n    Ok(())\n}})?;",
            tbl(target),
            filter(target),
            c = conn(target),
            sqlite = if target.database.databases().contains(&Database::Sqlite) {
                "\n    // (on SQLite, which has no `for_update`: `immediate_transaction` instead)"
            } else {
                ""
            },
        ),
        Remedy::Transaction { targets, .. } | Remedy::DeleteOrder { targets } => {
            let c = targets.first().map(conn).unwrap_or_else(|| "conn".into());
            let body: Vec<String> = targets
                .iter()
                .map(|t| {
                    if matches!(remedy, Remedy::DeleteOrder { .. }) {
                        format!("    diesel::delete({}{}).execute({c})?;", tbl(t), filter(t))
                    } else {
                        format!("    // … the write to `{}`, through `{c}`", t.table)
                    }
                })
                .collect();
            if matches!(remedy, Remedy::DeleteOrder { .. }) {
                // The order is the fix; the deletes stay where they are (often
                // already inside `conn.transaction`).
                return body
                    .iter()
                    .map(|l| l.trim_start().to_owned())
                    .collect::<Vec<_>>()
                    .join("\n");
            }
            format!(
                "{c}.transaction::<_, diesel::result::Error, _>(|{c}| {{\n{}\n    Ok(())\n}})?;",
                body.join("\n")
            )
        }
        Remedy::OptimisticLock {
            target,
            version_column: v,
        } => {
            let mut sets: Vec<String> = target
                .values
                .iter()
                .map(|(c, val)| format!("{}::{c}.eq({val})", target.table))
                .collect();
            sets.push(format!("{t}::{v}.eq({t}::{v} + 1)", t = target.table));
            format!(
                "let n = diesel::update(\n        {}{}\n            .filter({t}::{v}.eq({v})), // the version you read\n    )\n    .set(({}))\n    .execute({})?;\nif n == 0 {{\n    // stale: reload and retry, or answer 409\n}}",
                tbl(target),
                filter_lines(target),
                sets.join(", "),
                conn(target),
                t = target.table
            )
        }
        Remedy::AtomicUpdate { target, column } => {
            let (op, delta, note) = super::atomic_delta(target, column);
            format!(
                "{note}diesel::update({}{})\n    .set({t}::{column}.eq({t}::{column} {op} {delta}))\n    .execute({})?;",
                tbl(target),
                filter(target),
                conn(target),
                t = target.table
            )
        }
    }
}
