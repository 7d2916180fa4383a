//! Caller context through a struct's handle field: a type (`Repo { conn }`) that
//! every construction in the project fills with an open transaction — directly
//! (`Repo { conn: &mut *txn }`) or through a constructor function of the type
//! (`Repo::from_conn(conn)`) whose every caller passes its transaction — hands
//! that transaction to its methods' `self.conn`. One construction from a plain
//! pool or connection, or one the project cannot see through, decides nothing.

use std::collections::HashMap;

use super::Project;
use crate::discover::Language;
use crate::ir::inline::{passed_transaction, root, Resolve};
use crate::ir::{Function, Transaction, TransactionStyle};

/// Per file, per function: the fields of its type that hold a transaction.
pub type FieldTransactions = Vec<Vec<Vec<(String, Transaction)>>>;

pub fn field_transactions(project: &Project) -> FieldTransactions {
    let mut out: FieldTransactions = project
        .files
        .iter()
        .map(|f| vec![Vec::new(); f.model.functions.len()])
        .collect();
    // The type each Rust method belongs to, by its canonical path.
    let mut owner: HashMap<(usize, usize), String> = HashMap::new();
    for (file, f) in project.files.iter().enumerate() {
        let (Some(position), Some(m)) = (project.rust_position[file], f.model.rust.as_ref()) else {
            continue;
        };
        for imp in &m.impls {
            if let Some(ty) = project
                .rust
                .type_path(position, std::slice::from_ref(&imp.ty))
            {
                for &function in &imp.functions {
                    owner.insert((file, function), ty.clone());
                }
            }
        }
    }
    // Type → field → the transaction every construction fills it with (None once
    // one does not).
    let mut verdicts: HashMap<String, HashMap<String, Option<Transaction>>> = HashMap::new();
    for (file, f) in project.files.iter().enumerate() {
        let Some(position) = project.rust_position[file] else {
            continue;
        };
        if f.language != Some(Language::Rust) {
            continue;
        }
        for (index, function) in f.model.functions.iter().enumerate() {
            for c in &function.constructions {
                let Some(ty) = project.rust.type_path(position, &c.ty) else {
                    continue;
                };
                let inside = owner.get(&(file, index)) == Some(&ty);
                for (field, code, tx) in &c.fields {
                    let verdict = filled_with(project, file, index, function, inside, code, *tx);
                    let entry = verdicts.entry(ty.clone()).or_default();
                    match entry.get_mut(field) {
                        Some(known) => {
                            if verdict.is_none() {
                                *known = None;
                            }
                        }
                        None => {
                            entry.insert(field.clone(), verdict);
                        }
                    }
                }
            }
        }
    }
    for ((file, function), ty) in owner {
        let Some(fields) = verdicts.get(&ty) else {
            continue;
        };
        let mut held: Vec<(String, Transaction)> = fields
            .iter()
            .filter_map(|(field, tx)| Some((field.clone(), tx.clone()?)))
            .collect();
        held.sort_by(|a, b| a.0.cmp(&b.0));
        out[file][function] = held;
    }
    out
}

/// The transaction a field's value `code` is, written in `function`: its own
/// open transaction, or — in a constructor function of the type that stores its
/// parameter — the transaction every caller passes there.
fn filled_with(
    project: &Project,
    file: usize,
    index: usize,
    function: &Function,
    inside: bool,
    code: &str,
    tx: Option<usize>,
) -> Option<Transaction> {
    let head = root(code);
    if let Some(param) = function
        .params
        .iter()
        .position(|p| !p.is_empty() && p == head)
    {
        if !inside {
            return None;
        }
        let callers = project.callers(file, index);
        return passed_transaction(function, &callers, param).cloned();
    }
    let t = function.transactions().get(tx?)?;
    (t.style != TransactionStyle::Lent && t.handle.as_deref() == Some(head)).then(|| t.clone())
}
