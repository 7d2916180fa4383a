//! check-then-act, numbering: a read tallies a table (a count, a max, the top row
//! in descending order) and the number it returned, usually plus one, is written
//! back into the same table — invoice numbers, positions, version numbers, seed
//! 001 §2's `scene_number`. Two requests both read N and both write N + 1.
//!
//! Quiet when nothing reads the tally back into a write (a sequence or identity
//! fills the column), when the number comes from a counter row updated atomically
//! (`UPDATE … RETURNING`, `{ increment: 1 }`: an update, not a tally), when the
//! write's unique violation is handled (insert-and-retry), and when the read and
//! the write are serialised by a lock taken first in one transaction.

use super::super::{
    help_with_code, lock_between, serialized_by_sqlite, Context, SQLITE_SERIALIZES,
};
use crate::diagnostic::{Confidence, Finding, Related};
use crate::ir::remedy::Remedy;
use crate::ir::{Effect, EffectKind, Function, TallyKind};

/// One write whose value is a number a stale tally of its own table gave.
struct Numbered<'f> {
    read: &'f Effect,
    write: &'f Effect,
    /// The column written with the number (`scene_number`).
    column: String,
    /// The code of the value written (`last + 1`).
    value: String,
}

/// Findings for writes the guard-based shapes did not already report (`reported`
/// holds their indexes).
pub(super) fn check(cx: &Context, function: &Function, reported: &[usize], out: &mut Vec<Finding>) {
    for (write_index, write) in function.effects.iter().enumerate() {
        let Some(table) = super::unsafe_plain_write(cx, function, reported, write_index) else {
            continue;
        };
        let numbered = write.values.iter().find_map(|field| {
            if field.value.atomic {
                return None;
            }
            field.value.reads.iter().find_map(|&r| {
                let read = function.effects.get(r).filter(|_| r < write_index)?;
                let tally = read
                    .tally
                    .as_ref()
                    .filter(|_| read.kind == EffectKind::Read)?;
                if cx.table_key(read).as_deref() != Some(table.as_str()) {
                    return None;
                }
                if let Some(column) = &tally.column {
                    if crate::schema::fold_name(column) != crate::schema::fold_name(&field.column) {
                        return None;
                    }
                }
                if function.check_is_serialized(r, write_index)
                    || lock_between(function, r, write_index).is_some()
                {
                    return None;
                }
                Some(Numbered {
                    read,
                    write,
                    column: field.column.clone(),
                    value: field.value.text.clone(),
                })
            })
        });
        if let Some(numbered) = numbered {
            out.push(finding(cx, function, &numbered));
        }
    }
}

fn confidence(cx: &Context, function: &Function, n: &Numbered) -> Confidence {
    if serialized_by_sqlite(cx, function, n.read, n.write) {
        return Confidence::low(SQLITE_SERIALIZES);
    }
    let table = n.write.table.as_deref().unwrap_or("?");
    if cx.schema.table(table).is_none() {
        return Confidence::medium(format!(
            "the schema of `{table}` is unknown, so a unique key on `{}` may turn the duplicate into an error",
            n.column
        ));
    }
    match covering_key(cx, n) {
        Some(key) => Confidence::medium(format!(
            "the unique key on ({}) turns the duplicate number into a unique-violation error for the second request",
            key.join(", ")
        )),
        None => Confidence::high(format!(
            "no unique key covers `{}`: the race leaves two rows with the same number",
            n.column
        )),
    }
}

/// A unique key of the written table that holds the numbered column and whose
/// other columns the write sets or filters on (`(story_id, scene_number)`).
fn covering_key(cx: &Context, n: &Numbered) -> Option<Vec<String>> {
    let table = n.write.table.as_deref()?;
    let columns: Vec<&str> = n
        .write
        .value_columns()
        .chain(n.write.filter_columns())
        .collect();
    let key = cx.schema.unique_key_within(table, &columns)?;
    key.iter()
        .any(|k| crate::schema::fold_name(k) == crate::schema::fold_name(&n.column))
        .then_some(key)
}

fn finding(cx: &Context, function: &Function, n: &Numbered) -> Finding {
    let table = n.write.table.as_deref().unwrap_or("?");
    let read_table = n.read.table.as_deref().unwrap_or("?");
    let tally = n.read.tally.as_ref();
    let what = match tally.map(|t| (t.kind, t.column.as_deref())) {
        Some((TallyKind::Max, Some(c))) => format!("the highest `{c}`"),
        _ => format!("the number of `{read_table}` rows"),
    };
    let from = n
        .read
        .binding
        .as_deref()
        .map_or_else(String::new, |b| format!(" (`{b}`)"));
    let scope: Vec<&str> = n.read.filter_columns().collect();
    let scope_words = if scope.is_empty() {
        String::new()
    } else {
        format!(" for the same {}", scope.join(", "))
    };
    let read_line = cx.line_of(n.read.site.start);
    let written = if n.write.kind == EffectKind::Insert {
        "inserts"
    } else {
        "updates"
    };
    let message = format!(
        "`{table}.{}` is set to `{}`, computed from {what}{from} read at line {read_line}: two requests{scope_words} can both read the same number and both write the next one",
        n.column, n.value
    );
    let key = covering_key(cx, n);
    let write_target = cx.target(n.write);
    let lock = cx.suggest(
        n.write,
        &Remedy::NumberUnderLock {
            read: cx.target(n.read),
            binding: n.read.binding.clone(),
            write: write_target.clone(),
        },
    );
    let mut help = help_with_code(
        &format!(
            "Number under a lock: take it{scope_words} before reading {what}, in the transaction that {written} the row, so the next request reads the number this one wrote:"
        ),
        &lock,
    );
    match &key {
        Some(key) => {
            let database = cx.database_of(n.write.table.as_deref());
            help.push_str(&format!(
                "\n\nOr keep the code and retry: the unique key on ({}) refuses the second request's number with a unique violation ({}); catch it, read {what} again and write again, a few times.",
                key.join(", "),
                database.unique_violation()
            ));
        }
        None => {
            let mut columns: Vec<String> = scope.iter().map(|c| c.to_string()).collect();
            columns.retain(|c| c != &n.column);
            columns.push(n.column.clone());
            help.push_str(&help_with_code(
                &format!(
                    "\n\nand add a unique key on ({}), so a duplicate number fails instead of being stored:",
                    columns.join(", ")
                ),
                &super::unique_index_migration(table, &columns, &[]),
            ));
        }
    }
    Finding {
        rule: super::META.id,
        severity: super::META.severity,
        span: n.write.site,
        label: format!("{written} the number read at line {read_line}"),
        message,
        help,
        related: vec![Related {
            span: n.read.site,
            message: format!("{what} is read here, without a lock"),
        }],
        fix: None,
        confidence: confidence(cx, function, n),
    }
}
