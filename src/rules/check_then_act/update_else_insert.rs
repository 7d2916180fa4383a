//! check-then-act, update else insert: an update whose row count decides an insert
//! into the same table ("0 rows updated, so the row does not exist yet: insert
//! it"). An update that matches no row locks nothing, so two requests both update
//! nothing and both insert — the absence-then-insert race spelled through a count.
//!
//! Quiet when the insert decides by itself (`ON CONFLICT`, an upsert), when its
//! unique violation is handled (the loser retries the update), and when a lock
//! taken first in the transaction, or SERIALIZABLE isolation, orders the requests.

use super::super::{help_with_code, serialized_by_sqlite, Context, SQLITE_SERIALIZES};
use crate::diagnostic::{Confidence, Finding, Related};
use crate::ir::remedy::Remedy;
use crate::ir::{EffectKind, Function};

pub(super) fn check(cx: &Context, function: &Function, reported: &[usize], out: &mut Vec<Finding>) {
    for (write_index, write) in function.effects.iter().enumerate() {
        if reported.contains(&write_index)
            || write.kind != EffectKind::Insert
            || write.is_conditional_write()
            || write.unique_violation_handled
        {
            continue;
        }
        let Some(table) = cx.table_key(write) else {
            continue;
        };
        let Some(guard) = write.guards.iter().find(|g| {
            let update = &function.effects[g.read];
            g.read < write_index
                && update.kind == EffectKind::Update
                && !update.is_conditional_write()
                // An update that fails when no row matches (Prisma `update`) never
                // reports zero rows: a missing row is its error, not its count.
                && !update.throws_if_missing
                && cx.table_key(update).as_deref() == Some(table.as_str())
                && !serialized(function, g.read, write_index)
                // "changed rows, so insert more" is a follow-up, not a fallback.
                && !super::runs_when_found(cx, g, update, write)
        }) else {
            continue;
        };
        let update = &function.effects[guard.read];
        let name = write.table.as_deref().unwrap_or("?");
        let key: Vec<&str> = update.filter_columns().collect();
        let keys = key.join(", ");
        let update_line = cx.line_of(update.site.start);
        let message = format!(
            "`{name}` is inserted because the update at line {update_line} changed no row, but an update that matches nothing locks nothing: two requests for the same ({keys}) both update nothing and both insert"
        );
        let unique = cx.schema.unique_key_within(name, &key);
        let confidence = if serialized_by_sqlite(cx, function, update, write) {
            Confidence::low(SQLITE_SERIALIZES)
        } else if let Some(k) = &unique {
            Confidence::medium(format!(
                "the unique key on ({}) turns the second insert into an unhandled unique violation",
                k.join(", ")
            ))
        } else if cx.schema.table(name).is_none() {
            Confidence::medium(format!(
                "the schema of `{name}` is unknown, so a unique key on ({keys}) may stop the duplicate"
            ))
        } else {
            Confidence::high(format!(
                "no unique key on ({keys}): the race leaves two rows"
            ))
        };
        let mut target = cx.target(update);
        let inserted = cx.target(write);
        target.values = inserted.values.clone();
        target.values_code = inserted.values_code.clone();
        let advice = match &unique {
            Some(k) => format!(
                "Let the database decide in one statement: insert, and on conflict of the unique key ({}) apply the update's data instead (it goes where the snippet updates nothing):",
                k.join(", ")
            ),
            None => format!(
                "Add a unique key on ({keys}) and let the database decide in one statement: insert, and on conflict apply the update's data instead (it goes where the snippet updates nothing):"
            ),
        };
        let help = help_with_code(
            &advice,
            &cx.suggest(write, &Remedy::InsertOnConflict { target }),
        );
        out.push(Finding {
            rule: super::META.id,
            severity: super::META.severity,
            span: write.site,
            label: format!("inserts because the update at line {update_line} found no row"),
            message,
            help,
            related: std::iter::once(Related {
                span: update.site,
                message: "the update matches no row here, and locks nothing".to_string(),
            })
            .chain((guard.span != update.site).then(|| Related {
                span: guard.span,
                message: "and its row count decides here".to_string(),
            }))
            .collect(),
            fix: None,
            confidence,
        });
    }
}

/// A lock taken before the update in the transaction of both, or SERIALIZABLE
/// isolation: the update's own row locks do not count, since it matched none.
fn serialized(function: &Function, update: usize, insert: usize) -> bool {
    let (u, i) = (&function.effects[update], &function.effects[insert]);
    if function.callers_hold_lock {
        return true;
    }
    if !function.same_transaction(u, i) {
        return false;
    }
    let Some(root) = u.transaction.map(|t| function.root_transaction(t)) else {
        return false;
    };
    function.transactions()[root].serializable
        || function.effects[..update].iter().any(|e| {
            e.transaction.map(|t| function.root_transaction(t)) == Some(root)
                && (e.kind == EffectKind::Lock || e.row_lock == crate::ir::RowLock::Exclusive)
        })
}
