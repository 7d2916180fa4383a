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
            if !effect.is_write() || effect.completion != Completion::Floating {
                continue;
            }
            let Some(tx) = effect.transaction.or(effect.enclosing_transaction) else {
                continue;
            };
            out.push(Finding {
                rule: META.id,
                severity: META.severity,
                span: effect.site,
                label: "not awaited".to_string(),
                message: format!(
                    "{} is {} inside the transaction at line {} without `await`, so the transaction can commit before this write runs",
                    table_name(effect),
                    verb(effect.kind),
                    cx.line_of(function.transactions()[tx].span.start)
                ),
                help: "Await the write (or return it), so it completes inside the transaction and its failure rolls the transaction back.".to_string(),
                related: Vec::new(),
                fix: None,
                confidence: Confidence::high("the write is never awaited, so it can run after the commit on any run"),
            });
        }
    }
}
