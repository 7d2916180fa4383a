//! Functions a framework runs inside a transaction of its own. A function
//! registered only for events the framework always sends inside a transaction
//! (Django's `post_delete`, `m2m_changed`), in its own file or any other, runs in
//! that ambient transaction, as a function decorated `@transaction.atomic` does;
//! one also registered for an event sent outside a transaction gets nothing.

use super::Project;
use crate::ir::inline::Resolve;
use crate::ir::{Client, Transaction, TransactionStyle};
use std::collections::HashMap;

pub(super) fn mark(project: &mut Project) {
    let mut runs_in: HashMap<(usize, usize), Option<Transaction>> = HashMap::new();
    for (file, f) in project.files.iter().enumerate() {
        for registration in &f.model.registrations {
            let Some(key) = project.resolve(file, &registration.handler) else {
                continue;
            };
            let entry = runs_in
                .entry(key)
                .or_insert_with(|| registration.runs_in.clone());
            if registration.runs_in.is_none() {
                *entry = None;
            }
        }
    }
    for ((file, index), transaction) in runs_in {
        if let Some(transaction) = transaction {
            let function = &mut project.files[file].model.functions[index];
            let outer = function.enclose_in(transaction, |t| t.style == TransactionStyle::Ambient);
            for e in &mut function.effects {
                if e.transaction.is_none() && e.client != Client::Runtime {
                    e.transaction = Some(outer);
                }
            }
            for c in &mut function.calls {
                c.transaction.get_or_insert(outer);
            }
        }
    }
}
