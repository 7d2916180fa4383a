//! Caller context through an object's handle field: a type (`Repo { conn }`,
//! `class OrderRepository { constructor(private tx) }`, `self.session = session`
//! in `__init__`) that every construction in the project fills with an open
//! transaction hands that transaction to its methods' `self.conn` / `this.tx`.
//! A field is filled directly (`Repo { conn: &mut *txn }`) or through a
//! constructor of the type that stores its parameter (`Repo::from_conn(conn)`,
//! `new OrderRepository(tx)`, `OrderRepository(session)`) whose every caller
//! passes its transaction. One construction from a plain pool, client or
//! session, or a type the project never builds where it can see it, decides
//! nothing.

use std::collections::HashMap;

use super::Project;
use crate::discover::Language;
use crate::ir::inline::{passed_transaction, root, Resolve};
use crate::ir::{Function, Transaction, TransactionStyle};

/// Per file, per function: the fields of its type that hold a transaction, each
/// as the method reaches it (`self.conn`, `this.tx`).
pub type FieldTransactions = Vec<Vec<Vec<(String, Transaction)>>>;

pub fn field_transactions(project: &Project) -> FieldTransactions {
    let mut out: FieldTransactions = project
        .files
        .iter()
        .map(|f| vec![Vec::new(); f.model.functions.len()])
        .collect();
    let owner = owners(project);
    // Type → field → the transaction every construction fills it with (None once
    // one does not).
    let mut verdicts: HashMap<String, HashMap<String, Option<Transaction>>> = HashMap::new();
    for (file, f) in project.files.iter().enumerate() {
        for (index, function) in f.model.functions.iter().enumerate() {
            for c in &function.constructions {
                let Some(ty) = type_key(project, file, &c.ty) else {
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
        let receiver = match project.files[file].language {
            Some(Language::TypeScript(_)) => "this",
            _ => "self",
        };
        let mut held: Vec<(String, Transaction)> = fields
            .iter()
            .filter_map(|(field, tx)| Some((format!("{receiver}.{field}"), tx.clone()?)))
            .collect();
        held.sort_by(|a, b| a.0.cmp(&b.0));
        out[file][function] = held;
    }
    out
}

/// The type each method belongs to: a Rust impl's type by its canonical path; a
/// TypeScript or Python method (`OrderRepository.place`) its class in its file.
fn owners(project: &Project) -> HashMap<(usize, usize), String> {
    let mut owner = HashMap::new();
    for (file, f) in project.files.iter().enumerate() {
        match f.language {
            Some(Language::Rust) => {
                let (Some(position), Some(m)) =
                    (project.rust_position[file], f.model.rust.as_ref())
                else {
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
            Some(Language::TypeScript(_) | Language::Python) => {
                for (index, function) in f.model.functions.iter().enumerate() {
                    if let Some((class, _)) = function.name.rsplit_once('.') {
                        owner.insert((file, index), class_key(file, class));
                    }
                }
            }
            _ => {}
        }
    }
    owner
}

/// The type a construction fills: a Rust struct literal's path as the project
/// resolves it; in TypeScript and Python, where a field is set only by the
/// class's own code (`this.tx = tx`), the class in the file that sets it.
fn type_key(project: &Project, file: usize, ty: &[String]) -> Option<String> {
    match project.files[file].language {
        Some(Language::Rust) => project.rust.type_path(project.rust_position[file]?, ty),
        Some(Language::TypeScript(_) | Language::Python) => Some(class_key(file, ty.first()?)),
        _ => None,
    }
}

fn class_key(file: usize, class: &str) -> String {
    format!("{file}#{class}")
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
