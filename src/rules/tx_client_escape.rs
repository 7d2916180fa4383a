//! tx-client-escape: inside a transaction callback, a call through the outer client
//! (`prisma.x` inside `prisma.$transaction(async (tx) => …)`, `db` inside a Drizzle
//! `db.transaction`, a Sequelize call without `{ transaction: t }`). The call runs
//! on another connection, outside the transaction: it does not roll back with it,
//! and it can deadlock waiting for rows the transaction holds.

use super::{table_name, verb, Context, Rule};
use crate::diagnostic::{Confidence, Edit, Finding, Fix, Related, RuleMeta, Severity};
use crate::ir::Function;

pub struct TxClientEscape;

static META: RuleMeta = RuleMeta {
    id: "tx-client-escape",
    severity: Severity::Error,
    summary: "a call inside a transaction callback goes through the outer client and escapes the transaction",
    doc: include_str!("../../rules/tx-client-escape.md"),
    concurrent: false,
    fixable: Some(crate::diagnostic::Applicability::Safe),
};

impl Rule for TxClientEscape {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Context, function: &Function, out: &mut Vec<Finding>) {
        for effect in function.effects.iter().filter(|e| e.is_database()) {
            let Some(enclosing) = effect.enclosing_transaction else {
                continue;
            };
            let root = function.root_transaction(enclosing);
            if effect.transaction.map(|t| function.root_transaction(t)) == Some(root) {
                continue;
            }
            let transaction = &function.transactions()[enclosing];
            let Some(tx_handle) = transaction.handle.as_deref() else {
                continue;
            };
            let fix = effect.handle_span.map(|span| Fix {
                applicability: crate::frontend::rehandle_applicability(effect.client),
                edits: vec![Edit {
                    span,
                    replacement: tx_handle.to_string(),
                }],
            });
            let what = match effect.table {
                Some(_) => format!("{} is {}", table_name(effect), verb(effect.kind)),
                None => "this query runs".to_string(),
            };
            let through = if effect.handle.is_empty()
                || Some(effect.handle.as_str()) == effect.table.as_deref()
            {
                format!("without going through `{tx_handle}`")
            } else {
                format!("through `{}` instead of `{tx_handle}`", effect.handle)
            };
            out.push(Finding {
                rule: META.id,
                severity: META.severity,
                span: effect.handle_span.unwrap_or(effect.site),
                label: "runs outside the transaction".to_string(),
                message: format!(
                    "{what} {inside} {through}, so it runs outside the transaction: it does not roll back with it and can wait on the transaction's own locks",
                    inside = match transaction.style {
                        crate::ir::TransactionStyle::Explicit => format!("while the transaction begun at line {} is open", cx.line_of(transaction.span.start)),
                        _ => format!("inside the transaction callback at line {}", cx.line_of(transaction.span.start)),
                    }
                ),
                help: format!("Make the call through the transaction handle `{tx_handle}` — or, where the client takes the transaction as an option, pass `{tx_handle}` to the call."),
                related: vec![Related { span: transaction.span, message: format!("the transaction whose handle is `{tx_handle}`") }],
                fix,
                confidence: Confidence::high("the call runs outside the transaction on every run"),
            });
        }
    }
}
