//! lock-after-check: a lock (advisory, or a `FOR UPDATE` read) is taken after the
//! read that decides the write (seed 004). Every request passes the check before
//! any of them holds the lock; the lock then only orders writes already decided.

use super::{help_with_code, table_name, Context, Rule};
use crate::diagnostic::{Confidence, Finding, Related, RuleMeta, Severity};
use crate::ir::remedy::Remedy;
use crate::ir::{EffectKind, Function};

pub struct LockAfterCheck;

/// The first lock between the check and the write that could have protected the
/// check: an advisory lock (its key is the code's to choose), or a row lock on
/// rows related to those checked or written ([`Context::relation`]: the same
/// table, a foreign key, or the same key value). A `FOR UPDATE` on unrelated rows
/// (a helper's get-or-create of a default project, re-read after a handled
/// duplicate key) orders other rows and is no late version of this check's lock.
fn lock_on_checked_rows(
    cx: &Context,
    function: &Function,
    read: usize,
    act: usize,
) -> Option<usize> {
    let (checked, written) = (&function.effects[read], &function.effects[act]);
    let mut from = read;
    while let Some(lock) = super::lock_between(function, from, act) {
        let effect = &function.effects[lock];
        if effect.kind == EffectKind::Lock
            || effect.table.is_none()
            || cx.relation(effect, checked).is_some()
            || cx.relation(effect, written).is_some()
        {
            return Some(lock);
        }
        from = lock;
    }
    None
}

static META: RuleMeta = RuleMeta {
    id: "lock-after-check",
    severity: Severity::Error,
    summary: "a lock is taken after the check it should protect",
    doc: include_str!("../../rules/lock-after-check.md"),
    concurrent: true,
    fixable: None,
};

impl Rule for LockAfterCheck {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Context, function: &Function, out: &mut Vec<Finding>) {
        let mut reported = Vec::new();
        for (index, write) in function.effects.iter().enumerate() {
            if !write.is_write()
                || write.is_conditional_write()
                || super::rechecked_under_lock(cx, function, index)
            {
                continue;
            }
            for guard in &write.guards {
                let read = &function.effects[guard.read];
                if read.kind != EffectKind::Read
                    || guard.read >= index
                    || function.read_is_protected(guard.read)
                {
                    continue;
                }
                let Some(lock_index) = lock_on_checked_rows(cx, function, guard.read, index) else {
                    continue;
                };
                if reported.contains(&lock_index) {
                    continue;
                }
                reported.push(lock_index);
                let lock = &function.effects[lock_index];
                out.push(Finding {
                    rule: META.id,
                    severity: META.severity,
                    span: lock.site,
                    label: format!("locked only after the check at line {}", cx.line_of(guard.span.start)),
                    message: format!(
                        "the lock is taken after {} was read and checked, so concurrent requests all pass the check before any of them holds the lock",
                        table_name(read)
                    ),
                    help: help_with_code(
                        "Lock first, then check, then write — and re-check after taking the lock if you keep a fast path before it:",
                        &cx.suggest(write, &Remedy::LockThenCheck { target: cx.target(read) }),
                    ),
                    related: vec![
                        Related { span: read.site, message: "the check reads here, before the lock".to_string() },
                        Related { span: write.site, message: "the write the check decided".to_string() },
                    ],
                    fix: None,
                    confidence: Confidence::medium("the lock is taken after the read that decides"),
                });
            }
        }
    }
}
