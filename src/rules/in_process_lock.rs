//! in-process-lock: a module-level `Map` of promises or a `Mutex` serializes
//! database work — but only within one process. Other Node processes, serverless
//! instances and replicas run the same work concurrently (seed 000, "Why In-Memory
//! Lock Wasn't Sufficient"). A database lock serializes across all of them.

use super::{help_with_code, table_name, Context, Rule};
use crate::diagnostic::{Confidence, Finding, Related, RuleMeta, Severity};
use crate::ir::remedy::Remedy;
use crate::ir::{EffectKind, Function};

pub struct InProcessLock;

static META: RuleMeta = RuleMeta {
    id: "in-process-lock",
    severity: Severity::Warning,
    summary: "an in-process lock guards database work that other processes run too",
    doc: include_str!("../../rules/in-process-lock.md"),
    concurrent: true,
    fixable: None,
};

impl Rule for InProcessLock {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Context, function: &Function, out: &mut Vec<Finding>) {
        for (index, lock) in function.effects.iter().enumerate() {
            if lock.kind != EffectKind::ProcessLock {
                continue;
            }
            let effects = &function.effects[index + 1..];
            let Some(guarded) = effects
                .iter()
                .find(|e| e.is_write())
                .or_else(|| effects.iter().find(|e| e.is_database()))
            else {
                continue;
            };
            let advice = "Serialise with the database instead, so every process and replica waits: take a transaction-scoped advisory lock on the same key first thing in a transaction, and do the work in it:";
            out.push(Finding {
                rule: META.id,
                severity: META.severity,
                span: lock.site,
                label: "holds only inside this process".to_string(),
                message: format!(
                    "this in-process lock serializes work on {} only within one process; other processes and replicas run it concurrently",
                    table_name(guarded)
                ),
                help: help_with_code(advice, &cx.suggest(guarded, &Remedy::LockThenCheck { target: cx.target(guarded) })),
                related: vec![Related { span: guarded.site, message: "the database work it is meant to protect".to_string() }],
                fix: None,
                confidence: Confidence::medium("the lock holds only within one process; whether the app runs several is not known"),
            });
            return;
        }
    }
}
