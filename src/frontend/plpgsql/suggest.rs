//! Fixes spelled in PL/pgSQL, for findings inside SQL functions: an advisory lock
//! taken first, `INSERT … ON CONFLICT`, a conditional `UPDATE` with `GET
//! DIAGNOSTICS`, optimistic locking on a version column, a (partial) unique index.

use crate::ir::remedy::{Remedy, Target};
use crate::ir::Client;

pub fn suggest(client: Client, remedy: &Remedy) -> Option<String> {
    (client == Client::PlPgSql).then(|| spell(remedy))
}

/// A value as written in the SQL: a variable name, or a constant.
fn is_constant(value: &str) -> bool {
    let v = value.trim();
    v.starts_with('\'')
        || v.parse::<f64>().is_ok()
        || ["true", "false", "null"]
            .iter()
            .any(|c| v.eq_ignore_ascii_case(c))
}

fn or_placeholder(value: &str, column: &str) -> String {
    if value.is_empty() {
        format!("p_{column}")
    } else {
        value.to_string()
    }
}

/// `a = x AND b = 'y'` (`separator` " AND "), `a = x, b = 'y'` (", "); `empty`
/// when there are none.
fn equalities(pairs: &[(String, String)], separator: &str, empty: &str) -> String {
    if pairs.is_empty() {
        return empty.to_string();
    }
    pairs
        .iter()
        .map(|(c, v)| format!("{c} = {}", or_placeholder(v, c)))
        .collect::<Vec<_>>()
        .join(separator)
}

fn conditions(pairs: &[(String, String)]) -> String {
    equalities(pairs, " AND ", "id = p_id")
}

fn set_list(values: &[(String, String)]) -> String {
    equalities(values, ", ", "…")
}

/// `(column, value)` pairs as the code writes them.
type Pairs = Vec<(String, String)>;

/// The key columns that take a value from the code, and the constant conditions
/// (`status = 'active'`) that make a unique index partial.
fn split_key(target: &Target) -> (Vec<&(String, String)>, Pairs) {
    let (constant, varying): (Vec<_>, Vec<_>) =
        target.key.iter().partition(|(_, v)| is_constant(v));
    (varying, constant.into_iter().cloned().collect())
}

fn unique_index(target: &Target) -> String {
    let (varying, constant) = split_key(target);
    let columns: Vec<&str> = varying.iter().map(|(c, _)| c.as_str()).collect();
    let columns = if columns.is_empty() {
        "id".to_string()
    } else {
        columns.join(", ")
    };
    let partial = if constant.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conditions(&constant))
    };
    format!(
        "CREATE UNIQUE INDEX {table}_{name}_key ON {table} ({columns}){partial};",
        table = target.table,
        name = columns.replace(", ", "_"),
    )
}

fn insert(target: &Target) -> String {
    let mut row: Vec<(String, String)> = target.values.clone();
    for (c, v) in &target.key {
        if !row.iter().any(|(rc, _)| rc == c) {
            row.push((c.clone(), v.clone()));
        }
    }
    if row.is_empty() {
        return format!("INSERT INTO {} (…) VALUES (…)", target.table);
    }
    let columns: Vec<&str> = row.iter().map(|(c, _)| c.as_str()).collect();
    let values: Vec<String> = row.iter().map(|(c, v)| or_placeholder(v, c)).collect();
    format!(
        "INSERT INTO {} ({}) VALUES ({})",
        target.table,
        columns.join(", "),
        values.join(", ")
    )
}

fn lock_key(target: &Target) -> String {
    let (varying, _) = split_key(target);
    match varying.first() {
        Some((c, v)) => format!("'{}:' || {}::text", target.table, or_placeholder(v, c)),
        None => format!("'{}'", target.table),
    }
}

fn spell(remedy: &Remedy) -> String {
    match remedy {
        Remedy::NumberUnderLock { read, .. } => spell(&Remedy::LockThenCheck { target: read.clone() }),
        Remedy::InsertOnConflict { target } => {
            let (varying, constant) = split_key(target);
            let columns: Vec<&str> = varying.iter().map(|(c, _)| c.as_str()).collect();
            let partial = if constant.is_empty() {
                String::new()
            } else {
                format!(" WHERE {}", conditions(&constant))
            };
            format!(
                "{index}\n\n{insert}\nON CONFLICT ({columns}){partial} DO NOTHING;\nIF NOT FOUND THEN\n  -- another request inserted it first\nEND IF;",
                index = unique_index(target),
                insert = insert(target),
                columns = columns.join(", "),
            )
        }
        Remedy::HandleUniqueViolation { target, unique_key } => format!(
            "BEGIN\n  {insert};\nEXCEPTION WHEN unique_violation THEN\n  -- unique key ({key}): the other request won; use its row\nEND;",
            insert = insert(target),
            key = unique_key.join(", "),
        ),
        Remedy::ConditionalWrite { target, state } => {
            let mut filter = target.key.clone();
            filter.extend(state.iter().cloned());
            format!(
                "UPDATE {table} SET {set}\nWHERE {filter};\nGET DIAGNOSTICS v_rows = ROW_COUNT;\nIF v_rows = 0 THEN\n  -- someone else changed it first\nEND IF;",
                table = target.table,
                set = set_list(&target.values),
                filter = conditions(&filter),
            )
        }
        Remedy::LockThenCheck { target } => format!(
            "-- first, before the check:\nPERFORM pg_advisory_xact_lock(hashtext({key}));\n-- then read, check and write under the lock; or lock the row you check:\nPERFORM 1 FROM {table} WHERE {filter} FOR UPDATE;",
            key = lock_key(target),
            table = target.table,
            filter = conditions(&target.key),
        ),
        Remedy::Transaction { targets, .. } => {
            let tables: Vec<&str> = targets.iter().map(|t| t.table.as_str()).collect();
            format!(
                "-- a function body is one transaction: keep the writes to {} in this function, or call it in one transaction",
                tables.join(", ")
            )
        }
        Remedy::OptimisticLock {
            target,
            version_column,
        } => {
            let mut values = target.values.clone();
            values.retain(|(c, _)| c != version_column);
            values.push((version_column.clone(), format!("{version_column} + 1")));
            let mut filter = target.key.clone();
            filter.push((version_column.clone(), format!("p_expected_{version_column}")));
            format!(
                "UPDATE {table} SET {set}\nWHERE {filter};\nGET DIAGNOSTICS v_rows = ROW_COUNT;\nIF v_rows = 0 THEN\n  RAISE EXCEPTION 'changed since it was read' USING ERRCODE = '40001';\nEND IF;",
                table = target.table,
                set = set_list(&values),
                filter = conditions(&filter),
            )
        }
        Remedy::AtomicUpdate { target, column } => format!(
            "UPDATE {table} SET {column} = {column} + p_delta WHERE {filter};",
            table = target.table,
            filter = conditions(&target.key),
        ),
        Remedy::DeleteOrder { targets } => targets
            .iter()
            .map(|t| format!("DELETE FROM {} WHERE {};", t.table, conditions(&t.key)))
            .collect::<Vec<_>>()
            .join("\n"),
    }
}
