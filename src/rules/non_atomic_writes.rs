//! non-atomic-writes: related writes in one function that do not share a transaction.
//!
//! A crash, a timeout or a concurrent request between the two statements leaves
//! the rows half-changed (seed 003 §1: the project marked "not welcome" while its
//! scenes were not yet deleted). Writes are related when they touch the same table,
//! tables joined by a foreign key, or rows picked by the same value. Log-like tables
//! (audit, events, outbox, and those configured) do not need to share the fate of
//! the writes around them. A delete followed by an insert of the same rows is
//! delete-then-create's finding, not this one's.

use super::{help_with_code, table_name, verb, Context, Rule};
use crate::diagnostic::{Confidence, Finding, Related, RuleMeta, Severity};
use crate::ir::remedy::Remedy;
use crate::ir::{may_both_run, Effect, EffectKind, Function};

pub struct NonAtomicWrites;

static META: RuleMeta = RuleMeta {
    id: "non-atomic-writes",
    severity: Severity::Warning,
    summary: "related writes in one function that are not in one transaction",
    doc: include_str!("../../rules/non-atomic-writes.md"),
    concurrent: true,
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
            writes[..j]
                .iter()
                .filter(move |first| exposed_pair(cx, function, first, second))
                .map(move |first| (*first, *second))
        });
        let Some((first, second)) = pairs.next() else {
            return;
        };
        let others = writes
            .iter()
            .filter(|w| w.span != first.span && w.span != second.span)
            .filter(|w| {
                may_both_run(w, second)
                    && !function.same_transaction(w, second)
                    && (cx.related(first, w) || cx.related(w, first))
            })
            .count();
        out.push(finding(cx, function, first, second, others));
    }
}

fn exposed_pair(cx: &Context, function: &Function, first: &Effect, second: &Effect) -> bool {
    if !may_both_run(first, second) || function.same_transaction(first, second) {
        return false;
    }
    if first.kind == EffectKind::Delete
        && matches!(second.kind, EffectKind::Insert | EffectKind::Upsert)
    {
        return false;
    }
    // The same statement run again for each item of a loop is not a second write.
    if first.span == second.span {
        return false;
    }
    cx.related(first, second) || uses_result_of(function, first, second)
}

/// The second write is keyed by, or writes, what the first returned
/// (`orderId: rows[0].id` after `INSERT … RETURNING id`), as the data flow shows.
fn uses_result_of(function: &Function, first: &Effect, second: &Effect) -> bool {
    let Some(index) = function.effects.iter().position(|e| std::ptr::eq(e, first)) else {
        return false;
    };
    second
        .filter
        .iter()
        .chain(&second.values)
        .any(|f| f.value.reads.contains(&index))
}

fn finding(
    cx: &Context,
    function: &Function,
    first: &Effect,
    second: &Effect,
    others: usize,
) -> Finding {
    let split = match (first.transaction, second.transaction) {
        (Some(_), Some(_)) => "in two separate transactions",
        (Some(_), None) | (None, Some(_)) => "with only one of them in a transaction",
        (None, None) => "outside a transaction",
    };
    let more = match others {
        0 => String::new(),
        1 => " (and 1 more write)".to_string(),
        n => format!(" (and {n} more writes)"),
    };
    let message = format!(
        "{} is {} and {} is {} by separate statements {split}{more}; a failure or a concurrent request between them leaves the rows inconsistent",
        table_name(first),
        verb(first.kind),
        table_name(second),
        verb(second.kind),
    );
    let first_line = cx.line_of(first.span.start);
    let mut targets = vec![cx.target(first), cx.target(second)];
    targets.dedup_by(|a, b| a.table == b.table);
    let help = help_with_code(
        "Run the writes in one transaction, so they commit together or not at all:",
        &cx.suggest(second, &Remedy::Transaction { targets }),
    );
    let _ = function;
    let confidence = Confidence::medium("");
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
        fix: None,
        confidence,
    }
}
