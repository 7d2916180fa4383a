//! Calls into the project's SQL functions: `supabase.rpc("fn")`, `SELECT fn($1)`
//! from any client's raw SQL, `PERFORM fn(…)` in another SQL function.
//!
//! Every SQL function the project defines is summarised by what a caller can see
//! of it: the writes it makes, and for each whether the function decides it itself
//! (a read inside guards it, it is conditional, its count or unique violation is
//! looked at). [`Routines::resolve`] adds those writes to a caller right after the
//! call, in the call's transaction, or in a transaction of their own when the call
//! has none: a function body is atomic. A write the function decides is marked as
//! decided by the database (`on_conflict`), so a race inside the function is
//! reported at the function, once, and not again at every caller; a plain write
//! still pairs with the caller's own checks and writes.
//!
//! This is the step the project stage (cross-file call resolution) takes over:
//! summaries by name, applied at call sites, bounded in depth.

use super::{
    Effect, EffectKind, Field, Function, OnConflict, Transaction, TransactionStyle, Value,
};
use std::collections::BTreeMap;

/// How many calls deep (a function calling a function …) writes are followed.
const MAX_DEPTH: usize = 4;

#[derive(Clone, Debug)]
struct Write {
    kind: EffectKind,
    table: Option<String>,
    filter: Vec<String>,
    values: Vec<String>,
    many: bool,
    /// The function decides itself whether and how the write lands.
    decided: bool,
}

#[derive(Clone, Debug, Default)]
struct Summary {
    writes: Vec<Write>,
    /// Functions it calls in turn.
    calls: Vec<String>,
    /// Where the definition in force is: its file and offset.
    defined_at: (String, u32),
}

/// The SQL functions of the project, by lowercased name.
#[derive(Debug, Default)]
pub struct Routines {
    by_name: BTreeMap<String, Summary>,
}

impl Routines {
    /// Records a function if it is a SQL function. Files come in path order, so a
    /// later definition of the name (a migration's `CREATE OR REPLACE`) replaces an
    /// earlier one, as it does in the database.
    pub fn add(&mut self, function: &Function, file: &str) {
        if !function.routine {
            return;
        }
        let summary = self
            .by_name
            .entry(function.name.to_ascii_lowercase())
            .or_default();
        *summary = Summary {
            defined_at: (file.to_string(), function.span.start),
            ..Summary::default()
        };
        for effect in &function.effects {
            for call in &effect.routines {
                if !summary.calls.contains(call) {
                    summary.calls.push(call.clone());
                }
            }
            if !effect.is_write() {
                continue;
            }
            let columns = |fields: &[Field]| fields.iter().map(|f| f.column.clone()).collect();
            let write = Write {
                kind: effect.kind,
                table: effect.table.clone(),
                filter: columns(&effect.filter),
                values: columns(&effect.values),
                many: effect.many,
                decided: effect.is_conditional_write()
                    || !effect.guards.is_empty()
                    || effect.unique_violation_handled
                    || effect.count_checked,
            };
            let known = summary
                .writes
                .iter()
                .any(|w| w.kind == write.kind && w.table == write.table);
            if !known {
                summary.writes.push(write);
            }
        }
    }

    /// `other` was gathered from files after these.
    pub fn merge(&mut self, other: Routines) {
        self.by_name.extend(other.by_name);
    }

    /// Whether a SQL function is replaced by a later definition of its name: the
    /// database runs that one, so only that one is linted. Overloads (one name,
    /// other arguments) are taken for the same function.
    pub fn is_replaced(&self, function: &Function, file: &str) -> bool {
        function.routine
            && self
                .by_name
                .get(&function.name.to_ascii_lowercase())
                .is_some_and(|s| s.defined_at != (file.to_string(), function.span.start))
    }

    /// The writes a call of `names` makes, through the functions they call.
    fn writes_of(&self, names: &[String], depth: usize, seen: &mut Vec<String>) -> Vec<Write> {
        let mut out = Vec::new();
        for name in names {
            if seen.contains(name) {
                continue;
            }
            let Some(summary) = self.by_name.get(name) else {
                continue;
            };
            seen.push(name.clone());
            out.extend(summary.writes.iter().cloned());
            if depth < MAX_DEPTH {
                out.extend(self.writes_of(&summary.calls, depth + 1, seen));
            }
        }
        out
    }

    /// Adds the writes of the SQL functions `function` calls after each call.
    pub fn resolve(&self, function: &mut Function) {
        if self.by_name.is_empty() || function.effects.iter().all(|e| e.routines.is_empty()) {
            return;
        }
        let own = function.routine.then(|| function.name.to_ascii_lowercase());
        let old = std::mem::take(&mut function.effects);
        let mut map = Vec::with_capacity(old.len());
        let mut effects = Vec::with_capacity(old.len());
        for call in old {
            map.push(effects.len());
            let mut seen: Vec<String> = own.iter().cloned().collect();
            let writes = self.writes_of(&call.routines, 0, &mut seen);
            let transaction = match (writes.is_empty(), call.transaction) {
                (true, _) => None,
                (false, Some(t)) => Some(t),
                (false, None) => {
                    function.transactions.push(Transaction {
                        style: TransactionStyle::Routine,
                        client: call.client,
                        span: call.span,
                        handle: None,
                        serializable: false,
                        parent: None,
                    });
                    Some(function.transactions.len() - 1)
                }
            };
            let added: Vec<Effect> = writes
                .into_iter()
                .map(|w| {
                    let mut effect = call.clone();
                    effect.kind = w.kind;
                    effect.table = w.table;
                    let fields = |columns: Vec<String>| {
                        columns
                            .into_iter()
                            .map(|column| Field {
                                column,
                                value: Value::default(),
                            })
                            .collect()
                    };
                    effect.filter = fields(w.filter);
                    effect.values = fields(w.values);
                    effect.many = w.many;
                    if w.decided && effect.on_conflict == OnConflict::None {
                        effect.on_conflict = OnConflict::DoNothing;
                    }
                    effect.routines = Vec::new();
                    effect.binding = None;
                    effect.transaction = transaction;
                    effect
                })
                .collect();
            effects.push(call);
            effects.extend(added);
        }
        let total = effects.len();
        let moved = |i: usize| map.get(i).copied().unwrap_or(total);
        for effect in &mut effects {
            for guard in &mut effect.guards {
                guard.read = moved(guard.read);
            }
            for field in effect.fields_mut() {
                field.value.remap(moved);
            }
        }
        for r in function
            .returns
            .iter_mut()
            .chain(function.returns_chosen_by.iter_mut())
        {
            *r = moved(*r);
        }
        for call in &mut function.calls {
            call.position = moved(call.position);
            call.result = call.result.map(moved);
            for guard in &mut call.guards {
                guard.read = moved(guard.read);
            }
        }
        function.effects = effects;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{Client, Guard, Span};

    fn routine(name: &str, guarded: bool) -> Function {
        let mut f = Function::new(name.into(), Span::default());
        f.routine = true;
        f.effects.push(Effect::new(
            EffectKind::Read,
            Client::PlPgSql,
            Span::default(),
        ));
        let mut insert = Effect::new(EffectKind::Insert, Client::PlPgSql, Span::default());
        insert.table = Some("cards".into());
        if guarded {
            insert.guards.push(Guard {
                read: 0,
                span: Span::default(),
                fields: Vec::new(),
                field_spans: Vec::new(),
            });
        }
        f.effects.push(insert);
        f
    }

    #[test]
    fn a_call_gets_the_functions_writes_in_a_transaction_of_their_own() {
        let mut routines = Routines::default();
        routines.add(&routine("create_card", false), "a.sql");
        routines.add(&routine("create_card_atomic", true), "a.sql");
        let mut caller = Function::new("POST".into(), Span::default());
        let mut read = Effect::new(EffectKind::Read, Client::Supabase, Span::default());
        read.table = Some("cards".into());
        caller.effects.push(read);
        for name in ["create_card", "create_card_atomic", "unknown"] {
            let mut call = Effect::new(EffectKind::Opaque, Client::Supabase, Span::default());
            call.routines = vec![name.into()];
            call.guards.push(Guard {
                read: 0,
                span: Span::default(),
                fields: Vec::new(),
                field_spans: Vec::new(),
            });
            caller.effects.push(call);
        }
        routines.resolve(&mut caller);
        let kinds: Vec<EffectKind> = caller.effects.iter().map(|e| e.kind).collect();
        use EffectKind::*;
        assert_eq!(kinds, [Read, Opaque, Insert, Opaque, Insert, Opaque]);
        assert!(!caller.effects[2].is_conditional_write());
        assert!(caller.effects[4].is_conditional_write());
        assert_eq!(caller.effects[2].guards[0].read, 0);
        assert!(caller.effects[2].transaction.is_some());
        assert_ne!(caller.effects[2].transaction, caller.effects[4].transaction);
    }
}
