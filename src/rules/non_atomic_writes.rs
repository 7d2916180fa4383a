//! non-atomic-writes: related writes in one function that do not share a transaction.
//!
//! A crash, a timeout or a concurrent request between the two statements leaves
//! the rows half-changed (seed 003 §1: the project marked "not welcome" while its
//! scenes were not yet deleted). Writes are related when they touch the same table,
//! tables joined by a foreign key, or rows picked by the same value. Log-like tables
//! (audit, events, outbox, and those configured) do not need to share the fate of
//! the writes around them. A delete followed by an insert of the same rows is
//! delete-then-create's finding, not this one's.

use super::{help_with_code, table_name, verb, Context, Link, Rule};
use crate::diagnostic::{Confidence, Finding, Related, RuleMeta, Severity};
use crate::ir::{may_both_run, Effect, EffectKind, Function};

pub struct NonAtomicWrites;

static META: RuleMeta = RuleMeta {
    id: "non-atomic-writes",
    severity: Severity::Warning,
    summary: "related writes in one function that are not in one transaction",
    doc: include_str!("../../rules/non-atomic-writes.md"),
    concurrent: true,
    fixable: Some(crate::diagnostic::Applicability::Unsafe),
};

impl Rule for NonAtomicWrites {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Context, function: &Function, out: &mut Vec<Finding>) {
        let writes: Vec<&Effect> = function
            .effects
            .iter()
            .filter(|e| e.is_write() && !cx.is_log_like(e))
            .collect();
        // One finding per function: the first write that a related earlier write
        // does not share a transaction with; the others are listed in the message.
        let mut pairs = writes.iter().enumerate().flat_map(|(j, second)| {
            writes[..j].iter().filter_map(move |first| {
                exposed_pair(cx, function, first, second).map(|link| (*first, *second, link))
            })
        });
        let Some((first, second, link)) = pairs.next() else {
            return;
        };
        let others: Vec<&Effect> = writes
            .iter()
            .copied()
            .filter(|w| w.span != first.span && w.span != second.span)
            .filter(|w| {
                may_both_run(w, second)
                    && !function.same_transaction(w, second)
                    && (cx.relation(first, w).is_some() || cx.relation(w, first).is_some())
            })
            .collect();
        out.push(finding(cx, function, first, second, &others, &link));
    }
}

fn exposed_pair(
    cx: &Context,
    function: &Function,
    first: &Effect,
    second: &Effect,
) -> Option<Link> {
    if !may_both_run(first, second) || function.same_transaction(first, second) {
        return None;
    }
    if first.kind == EffectKind::Delete
        && matches!(second.kind, EffectKind::Insert | EffectKind::Upsert)
    {
        return None;
    }
    // The same statement run again for each item of a loop is not a second write.
    if first.span == second.span {
        return None;
    }
    let index = |e: &Effect| function.effects.iter().position(|x| std::ptr::eq(x, e));
    let first_index = index(first)?;
    // A fallback taken on the first write's result (`if (updated.count === 0)`
    // update the legacy row) runs instead of it, not after it.
    if second
        .guards
        .iter()
        .any(|g| g.read == first_index && on_row_count(cx, g))
    {
        return None;
    }
    cx.relation(first, second).or_else(|| {
        uses_result_of(first_index, second).then(|| {
            Link::UsesResult(
                first
                    .binding
                    .clone()
                    .unwrap_or_else(|| "its result".to_string()),
            )
        })
    })
}

/// A condition on how many rows a write changed (`count`, `rowCount`, the
/// number itself), not on whether it failed (`error`).
fn on_row_count(cx: &Context, guard: &crate::ir::Guard) -> bool {
    let condition = cx
        .text
        .get(guard.span.range())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if condition.contains("err") {
        return false;
    }
    guard.fields.iter().all(|f| {
        matches!(
            f.as_str(),
            "count"
                | "rowCount"
                | "rowsAffected"
                | "affectedRows"
                | "numUpdatedRows"
                | "numDeletedRows"
                | "length"
                | "changes"
                | "affected"
                | "rows_affected"
        )
    })
}

/// The second write is keyed by, or writes, what the first returned
/// (`orderId: rows[0].id` after `INSERT … RETURNING id`), as the data flow shows.
fn uses_result_of(first: usize, second: &Effect) -> bool {
    second
        .filter
        .iter()
        .chain(&second.values)
        .any(|f| f.value.reads.contains(&first))
}

/// A write that only keeps books beside the main one: counters moved by the
/// database (`{ increment: 1 }`) and timestamps (`lastSyncedAt: new Date()`).
fn bookkeeping(write: &Effect) -> bool {
    write.kind == EffectKind::Update
        && !write.values.is_empty()
        && write.values.iter().all(|v| {
            let column = crate::schema::snake_case(&v.column);
            let words: Vec<&str> = column.split('_').collect();
            let counter = [
                "count", "counter", "views", "clicks", "hits", "visits", "usage", "uses",
                "attempts",
            ]
            .iter()
            .any(|w| words.contains(w));
            let timestamp = matches!(words.last(), Some(&("at" | "on" | "time")))
                && [
                    "last",
                    "updated",
                    "modified",
                    "synced",
                    "seen",
                    "used",
                    "accessed",
                    "checked",
                    "refreshed",
                ]
                .iter()
                .any(|w| words.contains(w));
            (v.value.atomic && counter) || timestamp
        })
}

/// The advice when a call to another service sits between the writes: a
/// transaction cannot hold a request to someone else.
fn across_external_call(cx: &Context, external: &Effect) -> String {
    // The callee as written (`stripe.refunds.create`), without its arguments.
    let call = cx
        .text
        .get(external.span.range())
        .and_then(|code| code.split('(').next())
        .map(|callee| callee.split_whitespace().collect::<String>())
        .filter(|callee| !callee.is_empty())
        .unwrap_or_else(|| "the external call".to_string());
    format!(
        "`{call}` (line {}) calls another service between the writes, and no database transaction can take that call back. Make the sequence recoverable instead: record the intent first (a row saying what is about to happen, in the same transaction as the first write), call the service with an idempotency key derived from that row, then complete or compensate the record; or write an outbox row with the first write and let a worker make the call and the second write.",
        cx.line_of(external.site.start)
    )
}

fn finding(
    cx: &Context,
    function: &Function,
    first: &Effect,
    second: &Effect,
    others: &[&Effect],
    link: &Link,
) -> Finding {
    let split = match (first.transaction, second.transaction) {
        (Some(_), Some(_)) => "in two separate transactions",
        (Some(_), None) | (None, Some(_)) => "with only one of them in a transaction",
        (None, None) => "outside a transaction",
    };
    let more = match others.len() {
        0 => String::new(),
        1 => " (and 1 more write)".to_string(),
        n => format!(" (and {n} more writes)"),
    };
    let message = format!(
        "{} is {} and {} is {} by separate statements {split}{more}; a failure or a concurrent request between them leaves the rows inconsistent ({})",
        table_name(first),
        verb(first.kind),
        table_name(second),
        verb(second.kind),
        link.describe(),
    );
    let first_line = cx.line_of(first.site.start);
    let external = cx.external_between(function, first, second);
    let help = match external {
        Some(external) => across_external_call(cx, external),
        None => help_with_code(
            "Run the writes in one transaction, so they commit together or not at all:",
            &cx.suggest(second, &cx.transaction_remedy(function, &[first, second])),
        ),
    };
    let confidence = if external.is_some() {
        Confidence::low(
            "a call to another service runs between the writes, which no transaction can cover",
        )
    } else if let Some(context) = lent_context(function, first, second) {
        Confidence::low(format!(
            "both writes go through the request context `{context}` the function is handed, which may carry its caller's transaction: not every chain of callers could be followed to where the context comes from"
        ))
    } else if bookkeeping(first) != bookkeeping(second) {
        Confidence::low("one of the writes only keeps books beside the other (a counter or a last-seen timestamp)")
    } else {
        match link {
            Link::SameKey(_) | Link::UsesResult(_) => {
                Confidence::medium("the rows are linked through the code, not a known foreign key")
            }
            _ => Confidence::medium(link.describe()),
        }
    };
    Finding {
        rule: META.id,
        severity: META.severity,
        span: second.site,
        label: format!("not atomic with the write at line {first_line}"),
        message,
        help,
        related: vec![Related {
            span: first.site,
            message: "the first write".to_string(),
        }],
        fix: external
            .is_none()
            .then(|| {
                let race: Vec<&Effect> = [first, second]
                    .into_iter()
                    .chain(others.iter().copied())
                    .collect();
                cx.transaction_fix(function, &race)
            })
            .flatten(),
        confidence,
    }
}

/// The request context both writes are made through, when some caller of the
/// function could not be followed to its entry: that context may carry the
/// transaction of a caller the model cannot see.
fn lent_context<'e>(function: &Function, first: &'e Effect, second: &Effect) -> Option<&'e str> {
    if !function.callers_unknown || first.transaction.is_some() || second.transaction.is_some() {
        return None;
    }
    second.context.as_ref()?;
    first.context.as_deref()
}
