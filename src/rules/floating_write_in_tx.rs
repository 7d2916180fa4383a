//! floating-write-in-tx: a write inside a transaction that is neither awaited nor
//! returned. The callback can finish — and the transaction commit — before the
//! write runs; the write then fails on a closed transaction or escapes a rollback.

use super::{table_name, verb, Context, Rule};
use crate::diagnostic::{Confidence, Finding, RuleMeta, Severity};
use crate::ir::{Completion, Function};

pub struct FloatingWriteInTx;

static META: RuleMeta = RuleMeta {
    id: "floating-write-in-tx",
    severity: Severity::Error,
    summary: "a write inside a transaction is not awaited, so it may run after commit",
    doc: include_str!("../../rules/floating-write-in-tx.md"),
    concurrent: false,
    fixable: None,
};

impl Rule for FloatingWriteInTx {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Context, function: &Function, out: &mut Vec<Finding>) {
        for effect in &function.effects {
            let never_runs = match effect.completion {
                Completion::Floating => false,
                Completion::Unstarted => true,
                Completion::Awaited | Completion::Returned => continue,
            };
            if !effect.is_write() {
                continue;
            }
            let Some(tx) = effect.transaction.or(effect.enclosing_transaction) else {
                continue;
            };
            let line = cx.line_of(function.transactions()[tx].span.start);
            let (label, message, why) = if never_runs {
                (
                    "never awaited, never runs",
                    format!(
                        "{} is {} inside the transaction at line {line} by a call that is never awaited, so the write never runs and the transaction commits without it",
                        table_name(effect),
                        verb(effect.kind),
                    ),
                    "the call only runs when awaited, and nothing awaits it",
                )
            } else {
                (
                    "not awaited",
                    format!(
                        "{} is {} inside the transaction at line {line} without `await`, so the transaction can commit before this write runs",
                        table_name(effect),
                        verb(effect.kind),
                    ),
                    "the write is never awaited, so it can run after the commit on any run",
                )
            };
            out.push(Finding {
                rule: META.id,
                severity: META.severity,
                span: effect.site,
                label: label.to_string(),
                message,
                help: "Await the write (or return it), so it completes inside the transaction and its failure rolls the transaction back.".to_string(),
                related: Vec::new(),
                fix: None,
                confidence: Confidence::high(why),
            });
        }
    }
}
