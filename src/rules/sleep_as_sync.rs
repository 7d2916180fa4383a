//! sleep-as-sync: a timer used to "wait for" another write to commit or a lock to
//! be released before reading or writing (seed 000 §3–4: 500 ms after compiling,
//! 800 ms before retrying). A delay is not a guarantee: under load the other write
//! is still not committed, and on a quiet day the wait is wasted. Three shapes: a
//! sleep before the next database effect; a loop that sleeps until a read finds
//! another request's row (a poll); a sleep inside an open transaction, which holds
//! its connection and locks while it waits. A sleep is the runtime's timer or any
//! project helper whose body is one (linked in by the project stage). Retry
//! back-offs inside a loop, which no read of the polled table decides, are left
//! alone.

use super::{table_name, Context, Rule};
use crate::diagnostic::{Confidence, Finding, Related, RuleMeta, Severity};
use crate::ir::{Completion, Effect, EffectKind, Function, TransactionStyle};

pub struct SleepAsSync;

static META: RuleMeta = RuleMeta {
    id: "sleep-as-sync",
    severity: Severity::Warning,
    summary: "a timer is used to wait for another write to land before touching the database",
    doc: include_str!("../../rules/sleep-as-sync.md"),
    concurrent: true,
    fixable: None,
};

impl Rule for SleepAsSync {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Context, function: &Function, out: &mut Vec<Finding>) {
        let mut reported: Vec<crate::ir::Span> = Vec::new();
        for (index, sleep) in function.effects.iter().enumerate() {
            if sleep.kind != EffectKind::Sleep || reported.contains(&sleep.site) {
                continue;
            }
            // A sleep named at the call and the helper's timer linked in after it
            // are one wait.
            if index > 0 && is_same_wait(&function.effects[..index], sleep) {
                continue;
            }
            let finding = if let Some(read) = polled_read(function, index) {
                Some(poll(cx, sleep, read))
            } else if let Some(tx) = held_transaction(function, sleep) {
                Some(in_transaction(cx, function, index, tx))
            } else if !sleep.in_loop {
                before_next(cx, function, index)
            } else {
                None
            };
            if let Some(finding) = finding {
                reported.push(sleep.site);
                out.push(finding);
            }
        }
    }
}

/// A lock both sides can take on a key, in the words of the table's database.
fn key_lock(cx: &Context, effect: &Effect) -> String {
    match cx.database_of(effect.table.as_deref()) {
        crate::schema::dialect::Dialect::Unknown
        | crate::schema::dialect::Dialect::One(crate::schema::Database::Postgres) => {
            "`pg_advisory_xact_lock(hashtext(key))` in a transaction".to_string()
        }
        other => other.row_lock(),
    }
}

/// The effect just before is a sleep too, with no database work between.
fn is_same_wait(before: &[Effect], sleep: &Effect) -> bool {
    before
        .iter()
        .rev()
        .find(|e| e.kind != EffectKind::CallResult)
        .is_some_and(|e| e.kind == EffectKind::Sleep && e.in_loop == sleep.in_loop)
}

fn transaction_of(sleep: &Effect) -> Option<usize> {
    sleep.transaction.or(sleep.enclosing_transaction)
}

/// The transaction the code opened itself (a callback, `BEGIN`/`begin()`) around
/// a sleep that is no retry's back-off. A SQL function's body, a lent connection or
/// an ambient transaction are the caller's business.
fn held_transaction(function: &Function, sleep: &Effect) -> Option<usize> {
    let tx = transaction_of(sleep).filter(|_| !sleep.in_loop)?;
    let style = function.transactions().get(tx)?.style;
    matches!(
        style,
        TransactionStyle::Callback | TransactionStyle::Explicit
    )
    .then_some(tx)
}

/// A sleep in a loop whose run depends on a read of a table that the loop reads
/// again: the loop waits for a row someone else writes.
fn polled_read(function: &Function, index: usize) -> Option<&Effect> {
    let sleep = &function.effects[index];
    if !sleep.in_loop {
        return None;
    }
    sleep.guards.iter().find_map(|g| {
        let read = function.effects.get(g.read)?;
        // One row picked by a key, waited for until it exists: a worker's idle
        // loop over all rows, or a wait for a status someone sets (an approval),
        // is a design, not a race with a commit.
        if read.kind != EffectKind::Read || read.table.is_none() || read.filter.is_empty() {
            return None;
        }
        let inspects_fields = sleep
            .guards
            .iter()
            .any(|other| other.read == g.read && !other.fields.is_empty());
        if inspects_fields {
            return None;
        }
        let reread = read.in_loop
            || function.effects[index + 1..]
                .iter()
                .any(|e| e.kind == EffectKind::Read && e.in_loop && e.table == read.table);
        reread.then_some(read)
    })
}

fn quoted(cx: &Context, sleep: &Effect) -> String {
    let code = cx.text.get(sleep.span.range()).unwrap_or("the timer");
    code.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn poll(cx: &Context, sleep: &Effect, read: &Effect) -> Finding {
    Finding {
        rule: META.id,
        severity: META.severity,
        span: sleep.site,
        label: "polls with a fixed wait".to_string(),
        message: format!(
            "`{}` sleeps in a loop until the read of {} at line {} finds what another request writes; it works only while that write lands in time, and each round holds the request open",
            quoted(cx, sleep),
            table_name(read),
            cx.line_of(read.site.start)
        ),
        help: "Wait on the write itself: await the call that performs it, have the producer notify (`LISTEN`/`NOTIFY`, a pub/sub message), or hand the work to a queue whose job runs after the write has committed.".to_string(),
        related: vec![Related {
            span: read.site,
            message: "this read decides whether to wait another round".to_string(),
        }],
        fix: None,
        confidence: Confidence::medium(
            "the loop's sleep is decided by a read it repeats, so it waits for another request's write",
        ),
    }
}

fn in_transaction(cx: &Context, function: &Function, index: usize, tx: usize) -> Finding {
    let sleep = &function.effects[index];
    let in_tx = |e: &&Effect| transaction_of(e) == Some(tx) && e.is_database();
    let holding = function.effects[..index]
        .iter()
        .filter(in_tx)
        .find(|e| e.kind != EffectKind::Read || e.row_lock != crate::ir::RowLock::None);
    let tx_span = function
        .transactions()
        .get(tx)
        .map_or(sleep.site, |t| t.span);
    let mut related = vec![Related {
        span: tx_span,
        message: "the transaction is open here and stays open through the wait".to_string(),
    }];
    if let Some(held) = holding {
        related.push(Related {
            span: held.site,
            message: format!("{} is locked from here until commit", table_name(held)),
        });
    }
    Finding {
        rule: META.id,
        severity: META.severity,
        span: sleep.site,
        label: "waits inside a transaction".to_string(),
        message: format!(
            "`{}` waits a fixed time inside an open transaction: its connection{} taken for the whole wait, so concurrent requests queue behind it (or time out), and what it waits for cannot commit into this transaction's snapshot",
            quoted(cx, sleep),
            if holding.is_some() { " and row locks stay" } else { " stays" }
        ),
        help: format!(
            "Move the wait out of the transaction (commit first, then wait, then start a new one), or wait on the other work itself — a lock both sides take ({}) or the producer's own completion.",
            key_lock(cx, holding.unwrap_or(sleep))
        ),
        related,
        fix: None,
        confidence: match holding {
            Some(_) => Confidence::high("the transaction has written or locked rows before the wait"),
            None => Confidence::medium("the transaction holds a connection through the wait"),
        },
    }
}

fn before_next(cx: &Context, function: &Function, index: usize) -> Option<Finding> {
    let sleep = &function.effects[index];
    let next = function.effects[index + 1..]
        .iter()
        .find(|e| e.is_database() && e.kind != EffectKind::Lock)?;
    Some(Finding {
        rule: META.id,
        severity: META.severity,
        span: sleep.site,
        label: "waits a fixed time".to_string(),
        message: format!(
            "`{}` waits a fixed time before {} is touched at line {}, hoping another write has landed by then; a delay is no guarantee under load",
            quoted(cx, sleep),
            table_name(next),
            cx.line_of(next.site.start)
        ),
        help: format!(
            "Wait for the producer itself (await the promise that writes), or serialise both sides with a lock ({}), or do the work in one transaction.",
            key_lock(cx, next)
        ),
        related: vec![Related { span: next.site, message: "the database is touched here, assuming the wait was enough".to_string() }],
        fix: None,
        confidence: if next.kind == EffectKind::Read && sleep.completion == Completion::Awaited {
            Confidence::high("the timer is awaited before a read of what another request writes")
        } else {
            Confidence::medium("the timer is awaited before a write")
        },
    })
}
