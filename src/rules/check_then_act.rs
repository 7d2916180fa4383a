//! check-then-act: a read decides whether a write happens, and nothing stops a
//! concurrent request from changing what was read in between.
//!
//! Three shapes race (RULES.md): "no such row" then insert one; "the row is in
//! state X" then a write that changes that state; "the parent exists" then insert
//! a child, when the project deletes parents elsewhere. A read locked inside its
//! transaction, a write the database decides itself (upsert, `ON CONFLICT`, a
//! filter that re-checks the state) and a handled unique violation close the race.

use super::{help_with_code, join_words, Context, Rule};
use crate::diagnostic::{Confidence, Finding, Related, RuleMeta, Severity};
use crate::ir::remedy::Remedy;
use crate::ir::{Effect, EffectKind, Function, Guard};

pub struct CheckThenAct;

static META: RuleMeta = RuleMeta {
    id: "check-then-act",
    severity: Severity::Error,
    summary: "a read decides whether a write happens, with nothing stopping a concurrent change in between",
    doc: include_str!("../../rules/check-then-act.md"),
    concurrent: true,
};

#[derive(Debug, PartialEq, Eq)]
enum Shape {
    /// No row was found, so one is inserted.
    AbsenceThenInsert,
    /// The row's state was checked, and the write changes those columns.
    StateThenWrite { columns: Vec<String> },
    /// The parent was found, and a child pointing at it is inserted.
    ParentThenChild { deleted_at: String },
    /// No row held these values, and an update gives them to another row (a
    /// username, a slug): the insert race, spelled as an update.
    AbsenceThenClaim { columns: Vec<String> },
}

impl Rule for CheckThenAct {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Context, function: &Function, out: &mut Vec<Finding>) {
        for (write_index, write) in function.effects.iter().enumerate() {
            if super::rechecked_under_lock(cx, function, write_index) {
                continue;
            }
            if !matches!(write.kind, EffectKind::Insert | EffectKind::Update)
                || write.is_conditional_write()
            {
                continue;
            }
            let race = write.guards.iter().find_map(|guard| {
                let read = &function.effects[guard.read];
                if read.kind != EffectKind::Read || guard.read >= write_index {
                    return None;
                }
                if function.same_transaction(read, write) && function.read_is_protected(guard.read)
                {
                    return None;
                }
                // A lock between the check and the write is lock-after-check's finding.
                if super::lock_between(function, guard.read, write_index).is_some() {
                    return None;
                }
                shape(cx, function, guard, read, write).map(|s| (guard, read, s))
            });
            if let Some((guard, read, shape)) = race {
                out.push(finding(cx, guard, read, write, shape));
            }
        }
    }
}

fn shape(
    cx: &Context,
    function: &Function,
    guard: &Guard,
    read: &Effect,
    write: &Effect,
) -> Option<Shape> {
    let read_table = cx.table_key(read)?;
    let write_table = cx.table_key(write)?;
    if read_table == write_table {
        return match write.kind {
            EffectKind::Insert if !write.unique_violation_handled => Some(Shape::AbsenceThenInsert),
            EffectKind::Update => {
                state_change(function, guard, read, write).or_else(|| claim(guard, read, write))
            }
            _ => None,
        };
    }
    if write.kind != EffectKind::Insert || cx.is_log_like(write) {
        return None;
    }
    let references_parent = cx
        .schema
        .foreign_keys_between(write.table.as_deref()?, read.table.as_deref()?)
        .next()
        .is_some()
        || write
            .values
            .iter()
            .any(|v| v.value.reads.contains(&guard.read));
    let deleted_at = cx.project.deleted_tables.get(&read_table)?;
    references_parent.then(|| Shape::ParentThenChild {
        deleted_at: deleted_at.clone(),
    })
}

/// An update that sets the values the read looked for and found nowhere, on a row
/// picked by something else: `if (await findUnique({ where: { username: name } }))
/// throw …; update({ where: { id: me }, data: { username: name } })`. Constant
/// filters (`deletedAt: null`) may stay unset; every value the read looked up must
/// be written, as the same code.
fn claim(guard: &Guard, read: &Effect, write: &Effect) -> Option<Shape> {
    if !guard.fields.is_empty() || write.unique_violation_handled {
        return None;
    }
    let looked_up: Vec<_> = read
        .filter
        .iter()
        .filter(|f| !f.value.literal && !f.value.text.is_empty())
        .collect();
    if looked_up.is_empty() {
        return None;
    }
    let writes_same = |column: &str, text: &str| {
        write
            .values
            .iter()
            .any(|v| v.column == column && !v.value.atomic && v.value.text == text)
    };
    let picks_same = |column: &str, text: &str| {
        write
            .filter
            .iter()
            .any(|f| f.column == column && f.value.text == text)
    };
    let claimed = looked_up
        .iter()
        .all(|f| writes_same(&f.column, &f.value.text) && !picks_same(&f.column, &f.value.text));
    let picks_read_row = write
        .filter
        .iter()
        .any(|f| f.value.reads.contains(&guard.read));
    (claimed && !picks_read_row).then(|| Shape::AbsenceThenClaim {
        columns: looked_up.iter().map(|f| f.column.clone()).collect(),
    })
}

/// An update of the row that was read, setting a column the check looked at.
fn state_change(
    function: &Function,
    guard: &Guard,
    read: &Effect,
    write: &Effect,
) -> Option<Shape> {
    let same_row = write.filter.iter().any(|f| {
        f.value.reads.contains(&guard.read)
            || f.value
                .vars
                .iter()
                .any(|v| read.filter.iter().any(|rf| rf.value.vars.contains(v)))
    });
    if !same_row {
        return None;
    }
    // The state a check relies on: fields the condition inspects, and constant
    // filters of the read (`where: { status: 'free' }` then `if (!seat)`).
    let mut state: Vec<&str> = guard.fields.iter().map(String::as_str).collect();
    state.extend(
        read.filter
            .iter()
            .filter(|f| f.value.literal)
            .map(|f| f.column.as_str()),
    );
    let columns: Vec<String> = write
        .values
        .iter()
        .filter(|v| state.contains(&v.column.as_str()))
        // A value computed from the read itself is a lost update: missing-version-check.
        .filter(|v| v.value.atomic || !v.value.reads.contains(&guard.read))
        .map(|v| v.column.clone())
        .collect();
    if columns.is_empty() {
        return None;
    }
    // The update re-checks the state itself: `updateMany({ where: { id, status: 'free' } })`.
    if write.filter.iter().any(|f| columns.contains(&f.column)) {
        return None;
    }
    let _ = function;
    Some(Shape::StateThenWrite { columns })
}

fn finding(cx: &Context, guard: &Guard, read: &Effect, write: &Effect, shape: Shape) -> Finding {
    let table = write.table.as_deref().unwrap_or("?");
    let read_table = read.table.as_deref().unwrap_or("?");
    let read_name = read
        .binding
        .as_deref()
        .map_or_else(|| format!("the `{read_table}` read"), |b| format!("`{b}`"));
    let check_line = cx.line_of(guard.span.start);
    let target = cx.target(write);
    let mut read_target = cx.target(read);
    read_target.values = target.values.clone();
    let lock_then_check = |advice: &str| {
        help_with_code(
            advice,
            &cx.suggest(
                write,
                &Remedy::LockThenCheck {
                    target: read_target.clone(),
                },
            ),
        )
    };
    let (message, label, help) = match &shape {
        Shape::AbsenceThenInsert => {
            let checked: Vec<&str> = read.filter_columns().collect();
            let unique = cx.schema.unique_key_within(read_table, &checked);
            let message = if read.many || !guard.fields.is_empty() {
                format!(
                    "`{table}` is inserted because of what {read_name} returned, but a concurrent request can pass the same check and insert too"
                )
            } else {
                format!(
                    "`{table}` is inserted only when {read_name} found no row, but a concurrent request can insert it between the check and the insert"
                )
            };
            let advice = match &unique {
                Some(key) => format!(
                    "`{table}` has a unique key on ({}): under this race the second insert fails with a unique violation this code does not handle. Let the database decide with one statement:",
                    key.join(", ")
                ),
                None => format!(
                    "Let the database decide: add a unique constraint on ({}) and insert in one statement that tolerates the row already existing:",
                    checked.join(", ")
                ),
            };
            let mut help = help_with_code(
                &advice,
                &cx.suggest(
                    write,
                    &Remedy::InsertOnConflict {
                        target: read_target.clone(),
                    },
                ),
            );
            if let Some(key) = unique {
                help.push_str(&help_with_code(
                    "\n\nor keep the insert and handle the violation:",
                    &cx.suggest(
                        write,
                        &Remedy::HandleUniqueViolation {
                            target: read_target.clone(),
                            unique_key: key,
                        },
                    ),
                ));
            }
            (
                message,
                "inserts based on a check that may be stale".to_string(),
                help,
            )
        }
        Shape::StateThenWrite { columns } => {
            let cols = join_words(&columns.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>());
            let row = read.binding.as_deref().unwrap_or(read_table);
            let checked = join_words(
                &columns
                    .iter()
                    .map(|c| format!("`{row}.{c}`"))
                    .collect::<Vec<_>>(),
            );
            let message = format!(
                "`{table}` is written because {checked} passed the check at line {check_line}, but a concurrent request can pass the same check before this write lands"
            );
            let state: Vec<(String, String)> = read
                .filter
                .iter()
                .filter(|f| f.value.literal && columns.contains(&f.column))
                .map(|f| (f.column.clone(), f.value.text.clone()))
                .chain(
                    columns
                        .iter()
                        .filter(|c| {
                            !read
                                .filter
                                .iter()
                                .any(|f| &f.column == *c && f.value.literal)
                        })
                        .map(|c| (c.clone(), "/* the value you checked */".to_string())),
                )
                .collect();
            let advice = format!(
                "Put the check into the write: filter on {cols} as well and look at how many rows changed, so only one request wins:"
            );
            let help = help_with_code(
                &advice,
                &cx.suggest(
                    write,
                    &Remedy::ConditionalWrite {
                        target: target.clone(),
                        state,
                    },
                ),
            );
            (
                message,
                format!("changes {cols}, which the check at line {check_line} relied on"),
                help,
            )
        }
        Shape::AbsenceThenClaim { columns } => {
            let cols = join_words(&columns.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>());
            let column_names: Vec<&str> = columns.iter().map(String::as_str).collect();
            let message = format!(
                "`{table}` takes {cols} only when {read_name} found no row holding it, but a concurrent request can take the same value between the check and this update"
            );
            let advice = match cx.schema.unique_key_within(read_table, &column_names) {
                Some(key) => format!(
                    "`{table}` has a unique key on ({}): under this race the second update fails with a unique violation this code does not handle. Handle it (answer \"taken\"), or serialise claims of the same value:",
                    key.join(", ")
                ),
                None => format!(
                    "Add a unique constraint on ({}) so the database refuses the second claim, and handle its violation; or serialise claims of the same value:",
                    columns.join(", ")
                ),
            };
            let help = lock_then_check(&advice);
            (
                message,
                format!("takes {cols}, which the check at line {check_line} found free"),
                help,
            )
        }
        Shape::ParentThenChild { deleted_at } => {
            let message = format!(
                "`{table}` is inserted pointing at a `{read_table}` row checked earlier, but `{read_table}` rows are deleted elsewhere ({deleted_at}); a delete in between breaks the reference"
            );
            let advice = format!(
                "Check and insert in one transaction that locks the `{read_table}` row first (`SELECT … FOR UPDATE`), or handle the foreign-key violation (SQLSTATE `23503`) by re-reading and retrying:"
            );
            let help = lock_then_check(&advice);
            (
                message,
                format!("inserts a child of the `{read_table}` row checked above"),
                help,
            )
        }
    };
    let confidence = Confidence::medium("");
    Finding {
        rule: META.id,
        severity: META.severity,
        span: write.site,
        label,
        message,
        help,
        related: std::iter::once(Related {
            span: read.site,
            message: format!("the check reads `{read_table}` here, without a lock"),
        })
        .chain((guard.span != read.site).then(|| Related {
            span: guard.span,
            message: "and decides here".to_string(),
        }))
        .collect(),
        fix: None,
        confidence,
    }
}
