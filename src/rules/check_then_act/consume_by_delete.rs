//! check-then-act, consume by delete: a read checks a row and a delete uses it up.
//!
//! Two forms race. A single-use row (a token, an invitation, a gift code) is read,
//! checked, deleted by a filter that does not re-check it, and the function goes on
//! to grant what the row stood for: two requests both read it, the second delete
//! removes nothing and nobody looks, so both grant. And "more than N left" (admins
//! of a team, members of an organisation) is counted and one of them deleted: two
//! requests deleting different rows both see N + 1 and leave fewer than N.
//!
//! Quiet when the delete's row count is looked at (the loser deleted nothing and
//! stops), when the delete fails by itself on a missing row (Prisma `delete`), and
//! when the read is locked, or serialised by a lock taken first, in the delete's
//! transaction.

use super::super::{
    help_with_code, lock_between, serialized_by_sqlite, Context, SQLITE_SERIALIZES,
};
use crate::diagnostic::{Confidence, Finding, Related};
use crate::ir::remedy::Remedy;
use crate::ir::{may_both_run, Effect, EffectKind, Function, Guard};
use crate::schema::fold_name;

enum Form {
    /// The checked row is deleted, then `grant` (an effect index) hands out what it
    /// stood for.
    Consume { grant: usize },
    /// A count (or a list) of rows is checked against a limit and one row deleted.
    Left,
}

pub(super) fn check(cx: &Context, function: &Function, reported: &[usize], out: &mut Vec<Finding>) {
    for (delete_index, delete) in function.effects.iter().enumerate() {
        if delete.kind != EffectKind::Delete || delete.is_conditional_write() {
            continue;
        }
        let Some(table) = cx.table_key(delete) else {
            continue;
        };
        let found = delete.guards.iter().find_map(|guard| {
            let read = &function.effects[guard.read];
            if read.kind != EffectKind::Read
                || guard.read >= delete_index
                || cx.table_key(read).as_deref() != Some(table.as_str())
                || function.check_is_serialized(guard.read, delete_index)
                || lock_between(function, guard.read, delete_index).is_some()
            {
                return None;
            }
            if read.many || read.tally.is_some() {
                // Deleting the row whose count was checked: the count is what the
                // loser gets wrong, and no filter on the deleted row re-checks it.
                // Pruning the oldest rows past a cap picks the rows from the read
                // itself: two requests delete the same ones.
                let picked_from_read = delete
                    .filter
                    .iter()
                    .any(|f| f.value.reads.contains(&guard.read));
                return (!delete.many && !picked_from_read && super::compares_to_limit(cx, guard))
                    .then_some((guard, read, Form::Left));
            }
            // The loser's delete removes nothing: a count looked at, or an error
            // on a missing row, stops it before it grants.
            if delete.count_checked
                || delete.throws_if_missing
                || !deletes_the_row(cx, guard, read, delete)
            {
                return None;
            }
            let grant = grant_after(cx, function, guard, delete_index, reported)?;
            Some((guard, read, Form::Consume { grant }))
        });
        if let Some((guard, read, form)) = found {
            out.push(finding(cx, function, guard, read, delete, form));
        }
    }
}

/// Whether the delete removes the row the read returned: its filter names that
/// row's key by a value taken from the row (`{ id: invite.id }`), or repeats the
/// read's own filter (`{ token }`).
fn deletes_the_row(cx: &Context, guard: &Guard, read: &Effect, delete: &Effect) -> bool {
    let table = read.table.as_deref().unwrap_or_default();
    let same: Vec<&str> = delete
        .filter
        .iter()
        .filter(|f| {
            f.value.reads.contains(&guard.read)
                || read
                    .filter
                    .iter()
                    .any(|r| r.column == f.column && r.value.text == f.value.text)
        })
        .map(|f| f.column.as_str())
        .collect();
    if same.is_empty() {
        return false;
    }
    let repeats_read = read.filter.len() == same.len()
        && read
            .filter
            .iter()
            .all(|r| same.contains(&r.column.as_str()));
    repeats_read
        || same.iter().any(|c| fold_name(c) == "id")
        || cx.schema.unique_key_within(table, &same).is_some()
}

/// The first effect after the delete that hands out what the row stood for: a
/// write of the row's data (the invitation's team, the code's amount) into
/// another table, or a call to another service the read's check decides; it runs
/// whenever the delete does. A log of the delete grants nothing.
fn grant_after(
    cx: &Context,
    function: &Function,
    guard: &Guard,
    delete: usize,
    reported: &[usize],
) -> Option<usize> {
    let d = &function.effects[delete];
    let (index, _) = function
        .effects
        .iter()
        .enumerate()
        .skip(delete + 1)
        .find(|(_, e)| {
            // The row's data handed on (`invitation.teamId`, `gift.amount`), to
            // another table: updating the consumed row's siblings, or setting a
            // flag on what was found, is no grant.
            let carries_row = e
                .values
                .iter()
                .any(|v| !v.value.literal && v.value.reads.contains(&guard.read));
            let write = matches!(
                e.kind,
                EffectKind::Insert | EffectKind::Update | EffectKind::Upsert
            ) && carries_row
                && cx.table_key(e) != cx.table_key(d)
                && !cx.is_log_like(e);
            let call_out =
                e.kind == EffectKind::External && e.guards.iter().any(|g| g.read == guard.read);
            (write || call_out) && may_both_run(d, e)
        })?;
    // A grant already reported as its own check-then-act race is that finding's.
    (!reported.contains(&index)).then_some(index)
}

fn finding(
    cx: &Context,
    function: &Function,
    guard: &Guard,
    read: &Effect,
    delete: &Effect,
    form: Form,
) -> Finding {
    let table = delete.table.as_deref().unwrap_or("?");
    let read_name = read
        .binding
        .as_deref()
        .map_or_else(|| format!("the `{table}` read"), |b| format!("`{b}`"));
    let check_line = cx.line_of(guard.span.start);
    let lock = cx.suggest(
        delete,
        &Remedy::LockThenCheck {
            target: cx.target(read),
        },
    );
    let sqlite = serialized_by_sqlite(cx, function, read, delete);
    let (message, label, help, confidence, mut related) = match form {
        Form::Consume { grant } => {
            let grant = &function.effects[grant];
            let granted = match grant.kind {
                EffectKind::External => "calls the other service".to_string(),
                _ => format!("writes `{}`", grant.table.as_deref().unwrap_or("?")),
            };
            let message = format!(
                "`{table}` is consumed by a delete that does not re-check what {read_name} was checked for at line {check_line}, and nobody looks at what it deleted: two requests both read the row, the second delete removes nothing, and both go on and grant it"
            );
            let help = help_with_code(
                "Make the delete the check: put the checked condition in its filter, look at the rows it deleted and stop when it deleted none (the other request used the row); or lock the row when reading it, in the transaction that deletes it:",
                &lock,
            );
            let confidence = if sqlite {
                Confidence::low(SQLITE_SERIALIZES)
            } else {
                Confidence::medium(format!(
                    "the function goes on and {granted} after the delete whatever it deleted"
                ))
            };
            let related = vec![Related {
                span: grant.site,
                message: "and grants here, even when the delete removed nothing".to_string(),
            }];
            (
                message,
                "deletes the checked row without re-checking it",
                help,
                confidence,
                related,
            )
        }
        Form::Left => {
            let message = format!(
                "a `{table}` row is deleted because the count {read_name} returned was over the limit checked at line {check_line}, but two requests deleting different rows both see the same count and together go below it"
            );
            let help = help_with_code(
                "Count and delete under one lock: lock the rows counted (or an advisory key for their group) in the transaction that deletes, so the second request counts after the first one's delete:",
                &lock,
            );
            let confidence = if sqlite {
                Confidence::low(SQLITE_SERIALIZES)
            } else {
                Confidence::medium(
                    "the rows that are counted may each be deleted by a different request",
                )
            };
            (
                message,
                "deletes one of the rows counted",
                help,
                confidence,
                Vec::new(),
            )
        }
    };
    related.insert(
        0,
        Related {
            span: read.site,
            message: "the row is read here".to_string(),
        },
    );
    if guard.span != read.site {
        related.insert(
            1,
            Related {
                span: guard.span,
                message: "and checked here".to_string(),
            },
        );
    }
    Finding {
        rule: super::META.id,
        severity: super::META.severity,
        span: delete.site,
        label: label.to_string(),
        message,
        help,
        related,
        fix: None,
        confidence,
    }
}
