//! lock-after-check: a lock (advisory, or a `FOR UPDATE` read) is taken after the
//! read that decides the write (seed 004). Every request passes the check before
//! any of them holds the lock; the lock then only orders writes already decided.

use super::{help_with_code, table_name, Context, Rule};
use crate::diagnostic::{Confidence, Finding, Related, RuleMeta, Severity};
use crate::ir::remedy::Remedy;
use crate::ir::{EffectKind, Function};

pub struct LockAfterCheck;

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
                let Some(lock_index) = super::lock_between(function, guard.read, index) else {
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
