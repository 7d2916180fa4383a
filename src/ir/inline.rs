//! Calls to functions of the same file, seen from the caller: the callee's effects
//! are copied into the caller at the call, under the call's guards, branch arms
//! and transaction.
//!
//! A callee's handle that is one of its parameters is renamed to the argument the
//! caller passed, so `createTrace(tx, …)` called inside `$transaction(async (tx) =>
//! …)` runs its writes in the caller's transaction, while a helper that uses the
//! module's own client escapes it. Calls nest to a small depth, and a function that
//! (indirectly) calls itself is not expanded again. Every effect copied is paid for
//! from the file's [`Budget`]: a function whose expansion would exceed it is kept
//! as it is, unexpanded, and named in [`Expanded::stopped`].

use std::collections::HashMap;

use crate::budget::Budget;

use super::{
    Arm, CallbackArgument, Client, Effect, EffectKind, FileModel, Function, Guard, LocalCall,
    Origin, Span, Transaction, TransactionCallback, TransactionStyle,
};

/// How many calls deep the expansion follows.
const MAX_DEPTH: usize = 3;

/// Effects a file may copy while inlining, per byte of its text: far beyond what
/// real code needs (a call copies its callee's effects, three levels deep), small
/// enough that a file built to make inlining explode cannot stall the run.
pub const BUDGET_PER_BYTE: u64 = 16;
/// The budget of a small file, whatever its size.
pub const BUDGET_FLOOR: u64 = 1 << 20;

/// The file's functions with their local calls expanded.
pub struct Expanded {
    pub functions: Vec<Function>,
    /// Functions whose calls were left unexpanded because the budget ran out.
    pub stopped: Vec<String>,
}

/// The work budget inlining gets for a file of `bytes` bytes.
pub fn budget_for(bytes: usize) -> Budget {
    Budget::for_source(bytes, BUDGET_PER_BYTE, BUDGET_FLOOR)
}

/// Ran out of budget.
struct Exhausted;

/// What inlining asks of the code around a function: which function a call
/// names (in the same file or, through the project stage, in another), and who
/// calls a function. Functions are named by (file, index into that file's
/// functions).
pub trait Resolve {
    fn function(&self, file: usize, index: usize) -> &Function;
    /// The function a call written in `file` names.
    fn resolve(&self, file: usize, call: &LocalCall) -> Option<(usize, usize)>;
    /// Every call of the function that counts for what its callers hold:
    /// (caller's file, caller's index, call index into the caller's calls).
    fn caller_sites(&self, file: usize, index: usize) -> Vec<(usize, usize, usize)>;

    /// Every call of the function, with the function that makes it.
    fn callers(&self, file: usize, index: usize) -> Vec<(&Function, &LocalCall)> {
        self.caller_sites(file, index)
            .into_iter()
            .map(|(f, caller, c)| {
                let caller = self.function(f, caller);
                (caller, &caller.calls[c])
            })
            .collect()
    }
    /// The handle fields of the method's type that hold a transaction wherever
    /// the type is built: (the field as the method reaches it, `self.conn` or
    /// `this.tx`; the transaction).
    fn field_transactions(&self, _file: usize, _index: usize) -> Vec<(String, Transaction)> {
        Vec::new()
    }
}

/// One file alone: calls resolve to its own functions.
pub struct SingleFile<'m> {
    model: &'m FileModel,
    index: LocalIndex,
}

impl<'m> SingleFile<'m> {
    pub fn new(model: &'m FileModel) -> SingleFile<'m> {
        SingleFile {
            model,
            index: LocalIndex::new(model),
        }
    }
}

/// A file's functions by name, and who in the file calls each.
pub struct LocalIndex {
    callees: Callees,
    callers: Vec<Vec<(usize, usize)>>,
}

impl LocalIndex {
    pub fn new(model: &FileModel) -> LocalIndex {
        let callees = Callees::of(model);
        // Who calls each function, resolved once: a file of thousands of
        // functions (a bundled library) must not resolve every call for every
        // function.
        let mut callers = vec![Vec::new(); model.functions.len()];
        for (caller, f) in model.functions.iter().enumerate() {
            for (c, call) in f.calls.iter().enumerate() {
                if let Some(index) = callees.resolve(model, call) {
                    callers[index].push((caller, c));
                }
            }
        }
        LocalIndex { callees, callers }
    }

    /// The function of `model` (the file this index was built from) a call names.
    pub fn resolve_here(&self, model: &FileModel, call: &LocalCall) -> Option<usize> {
        self.callees.resolve(model, call)
    }

    /// The same-file calls of function `index`: (caller, call index).
    pub fn callers_here(&self, index: usize) -> &[(usize, usize)] {
        &self.callers[index]
    }
}

impl Resolve for SingleFile<'_> {
    fn function(&self, _file: usize, index: usize) -> &Function {
        &self.model.functions[index]
    }
    fn resolve(&self, _file: usize, call: &LocalCall) -> Option<(usize, usize)> {
        self.index.resolve_here(self.model, call).map(|i| (0, i))
    }
    fn caller_sites(&self, _file: usize, index: usize) -> Vec<(usize, usize, usize)> {
        self.index.callers[index]
            .iter()
            .map(|&(f, c)| (0, f, c))
            .collect()
    }
}

/// Every function of the file with its local calls expanded.
pub fn expand(model: &FileModel, budget: &mut Budget) -> Expanded {
    expand_file(&SingleFile::new(model), 0, model.functions.len(), budget)
}

/// Every function of `file` (which has `count` of them) with its calls expanded,
/// wherever they lead. An effect from another file is placed at the call in this
/// file that reaches it, and keeps where it is written as its [`Origin`].
pub fn expand_file(
    resolver: &dyn Resolve,
    file: usize,
    count: usize,
    budget: &mut Budget,
) -> Expanded {
    let mut stopped = Vec::new();
    let functions = (0..count)
        .map(|index| {
            let f = resolver.function(file, index);
            let mut out = if f.calls.is_empty() {
                f.clone()
            } else {
                let mut linker = Linker {
                    resolver,
                    root: file,
                    stack: vec![(file, index)],
                    budget: &mut *budget,
                };
                match linker.expand_function(file, f, None) {
                    Ok(out) => out,
                    Err(Exhausted) => {
                        stopped.push(f.name.clone());
                        f.clone()
                    }
                }
            };
            let callers = resolver.callers(file, index);
            assume_callers_transaction(f, &callers, &mut out);
            assume_field_transactions(&resolver.field_transactions(file, index), &mut out);
            match callers_ambient_transaction(resolver, file, index) {
                Callers::In(ambient) => assume_ambient_transaction(&ambient, &mut out),
                Callers::Unknown => out.callers_unknown = true,
                Callers::Outside => {}
            }
            out.callers_delete = callers_delete(resolver, file, index);
            out.callers_hold_lock = !callers.is_empty()
                && callers
                    .iter()
                    .all(|(caller, call)| caller.holds_lock_at(call));
            out
        })
        .collect();
    Expanded { functions, stopped }
}

/// A call whose callee is named for removing things (`delete_all_by_cipher`,
/// `removeDeployments`, `Folder::purge`).
fn names_a_cleanup(call: &LocalCall) -> bool {
    let name = call
        .qualified
        .first()
        .map_or(call.callee.as_str(), String::as_str);
    let last = name
        .rsplit(['.', ':'])
        .next()
        .unwrap_or(name)
        .to_ascii_lowercase();
    [
        "delete", "remove", "purge", "clear", "destroy", "drop", "wipe",
    ]
    .iter()
    .any(|verb| last.starts_with(verb))
}

/// The tables every caller of the function deletes before calling it: in its
/// own statements, or in a function it called earlier (one level down).
fn callers_delete(resolver: &dyn Resolve, file: usize, index: usize) -> Vec<String> {
    let mut common: Option<Vec<String>> = None;
    for (caller_file, caller_index, call_index) in resolver.caller_sites(file, index) {
        let caller = resolver.function(caller_file, caller_index);
        let Some(call) = caller.calls.get(call_index) else {
            return Vec::new();
        };
        let mut deleted: Vec<String> = Vec::new();
        let mut note = |effects: &[Effect]| {
            for e in effects.iter().filter(|e| e.kind == EffectKind::Delete) {
                if let Some(t) = &e.table {
                    if !deleted.contains(t) {
                        deleted.push(t.clone());
                    }
                }
            }
        };
        note(&caller.effects[..call.position.min(caller.effects.len())]);
        for earlier in &caller.calls[..call_index] {
            if earlier.position > call.position {
                continue;
            }
            if let Some((f, i)) = resolver.resolve(caller_file, earlier) {
                if (f, i) != (file, index) {
                    note(&resolver.function(f, i).effects);
                }
            }
        }
        common = Some(match common {
            None => deleted,
            Some(before) => before.into_iter().filter(|t| deleted.contains(t)).collect(),
        });
    }
    common.unwrap_or_default()
}

/// A helper that takes the transaction handle as a parameter (`debit(tx, …)`), when
/// every call to it in the file passes the caller's open transaction there: seen
/// on its own, its effects through that parameter run in the caller's transaction
/// (the one of its first call), not outside any.
fn assume_callers_transaction(
    helper: &Function,
    calls: &[(&Function, &LocalCall)],
    out: &mut Function,
) {
    if calls.is_empty() {
        return;
    }
    for (index, param) in helper.params.iter().enumerate() {
        if param.is_empty() || !out.effects.iter().any(|e| root(&e.handle) == param) {
            continue;
        }
        let Some(first) = passed_transaction(helper, calls, index) else {
            continue;
        };
        let assumed = out.add_transaction(Transaction {
            handle: Some(param.clone()),
            parent: None,
            ..(*first).clone()
        });
        for e in &mut out.effects {
            if e.transaction.is_none() && root(&e.handle) == param {
                e.transaction = Some(assumed);
            }
        }
    }
}

/// The open transaction of the first call, when every call (at least one) passes
/// its caller's open transaction as `helper`'s parameter `index`.
pub(crate) fn passed_transaction<'c>(
    helper: &Function,
    calls: &[(&'c Function, &'c LocalCall)],
    index: usize,
) -> Option<&'c Transaction> {
    let passed: Option<Vec<&Transaction>> = calls
        .iter()
        .map(|(caller, call)| {
            let arg = root(argument(call, &helper.params, index)?);
            let tx = call.transaction?;
            let root_tx = caller.root_transaction(tx);
            (0..caller.transactions.len())
                .filter(|&t| caller.root_transaction(t) == root_tx)
                .find(|&t| caller.transactions[t].handle.as_deref() == Some(arg))
                .map(|t| &caller.transactions[t])
        })
        .collect();
    passed?.first().copied()
}

/// A method of a type whose handle field every construction in the project fills
/// with an open transaction ([`Resolve::field_transactions`]): its effects
/// through that field (`self.conn`, `this.tx`) run in that transaction (the
/// first construction's).
fn assume_field_transactions(fields: &[(String, Transaction)], out: &mut Function) {
    for (field, tx) in fields {
        if !out
            .effects
            .iter()
            .any(|e| e.transaction.is_none() && through_field(&e.handle, field))
        {
            continue;
        }
        let assumed = out.add_transaction(Transaction {
            handle: Some(field.clone()),
            parent: None,
            ..tx.clone()
        });
        for e in &mut out.effects {
            if e.transaction.is_none() && through_field(&e.handle, field) {
                e.transaction = Some(assumed);
            }
        }
    }
}

/// Whether `handle` goes through the object field `field` (`self.conn` of
/// `&mut *self.conn`, `this.tx` of `this.tx.order`).
fn through_field(handle: &str, field: &str) -> bool {
    handle
        .trim_start_matches(['&', '*'])
        .trim_start_matches("mut ")
        .strip_prefix(field)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '(']))
}

/// How many callers up a `@Transactional()` method's transaction is looked for:
/// the resolver calls a service method that calls a helper.
const AMBIENT_DEPTH: usize = 2;
/// At most this many call sites are weighed per function, so that a helper
/// called from everywhere costs a bounded walk.
const AMBIENT_SITES: usize = 256;

/// What the callers of a function run it in, followed up to [`AMBIENT_DEPTH`]
/// levels.
enum Callers {
    /// Every chain of callers calls it in this transaction: a `@Transactional()`
    /// method's, or one whose handle the call passes on (`withTransaction(ctx,
    /// async (ctx) => f(ctx))`).
    In(Transaction),
    /// Some chain reaches a framework's entry, or a caller, that runs it outside
    /// any transaction.
    Outside,
    /// Some chain could not be followed to its entry, and none runs it outside.
    Unknown,
}

/// The transaction every caller of the function calls it in — directly, or
/// through callers that themselves are only called in one.
fn callers_ambient_transaction(resolver: &dyn Resolve, file: usize, index: usize) -> Callers {
    let mut sites = AMBIENT_SITES;
    ambient_above(resolver, file, index, AMBIENT_DEPTH, &mut sites)
}

fn ambient_above(
    resolver: &dyn Resolve,
    file: usize,
    index: usize,
    depth: usize,
    sites: &mut usize,
) -> Callers {
    let callers = resolver.caller_sites(file, index);
    if callers.is_empty() {
        return if resolver.function(file, index).entry {
            Callers::Outside
        } else {
            Callers::Unknown
        };
    }
    let mut first = None;
    let mut unknown = false;
    for (caller_file, caller_index, c) in callers {
        let Some(left) = sites.checked_sub(1) else {
            return Callers::Unknown;
        };
        *sites = left;
        let caller = resolver.function(caller_file, caller_index);
        let call = &caller.calls[c];
        let found = match call.transaction {
            Some(tx) => {
                let tx = caller.root_transaction(tx);
                let t = &caller.transactions()[tx];
                let passed = t
                    .handle
                    .as_deref()
                    .is_some_and(|h| call.args.iter().any(|a| root(a) == h));
                if caller.is_ambient(tx) || passed {
                    Callers::In(t.clone())
                } else {
                    Callers::Outside
                }
            }
            None if caller.entry => Callers::Outside,
            None if depth > 0 && (caller_file, caller_index) != (file, index) => {
                ambient_above(resolver, caller_file, caller_index, depth - 1, sites)
            }
            None if (caller_file, caller_index) == (file, index) => continue,
            None => Callers::Unknown,
        };
        match found {
            Callers::In(tx) => {
                first.get_or_insert(tx);
            }
            Callers::Outside => return Callers::Outside,
            Callers::Unknown => unknown = true,
        }
    }
    match first {
        Some(_) if unknown => Callers::Unknown,
        Some(tx) => Callers::In(tx),
        None => Callers::Unknown,
    }
}

/// Seen on its own, a function run in its callers' ambient transaction has its
/// statements outside a transaction of their own in that one, whatever handle
/// they go through; its own ambient blocks (a nested `transaction.atomic()`)
/// are savepoints inside it, so what they write commits with the rest.
///
/// A transaction held by a handle (one the calls pass on) reaches only what goes
/// through the context they pass it in.
fn assume_ambient_transaction(ambient: &Transaction, out: &mut Function) {
    let joins = |e: &Effect| {
        e.transaction.is_none()
            && e.client != Client::Runtime
            && (ambient.style == TransactionStyle::Ambient || e.context.is_some())
    };
    if !out.effects.iter().any(joins) {
        return;
    }
    let assumed = out.enclose_in(ambient.clone(), |t| t.style == TransactionStyle::Ambient);
    for e in &mut out.effects {
        if joins(e) {
            e.transaction = Some(assumed);
        }
    }
}

/// The single function a call names: by exact name, or a method of that name.
/// The file's functions by the last part of their name (`Repo.find` → `find`).
struct Callees {
    by_name: HashMap<String, Vec<usize>>,
    by_last_name: HashMap<String, Vec<usize>>,
}

impl Callees {
    fn of(model: &FileModel) -> Callees {
        let mut by_name: HashMap<String, Vec<usize>> = HashMap::new();
        let mut by_last_name: HashMap<String, Vec<usize>> = HashMap::new();
        for (index, f) in model.functions.iter().enumerate() {
            by_name.entry(f.name.clone()).or_default().push(index);
            by_last_name
                .entry(last_name(&f.name).to_string())
                .or_default()
                .push(index);
        }
        Callees {
            by_name,
            by_last_name,
        }
    }

    /// The index of the one function a call names, by exact name or a method of
    /// that name; `None` when no function or several match.
    fn resolve(&self, model: &FileModel, call: &LocalCall) -> Option<usize> {
        if let Some(exact) = self.by_name.get(call.callee.as_str()) {
            return (exact.len() == 1).then(|| exact[0]);
        }
        let named = |f: &Function| {
            f.name == call.callee
                || f.name
                    .strip_suffix(call.callee.as_str())
                    .is_some_and(|head| head.ends_with('.') || head.ends_with("::"))
        };
        let mut candidates = self
            .by_last_name
            .get(last_name(&call.callee))
            .into_iter()
            .flatten()
            .copied()
            .filter(|&i| named(&model.functions[i]));
        let first = candidates.next()?;
        candidates.next().is_none().then_some(first)
    }
}

fn last_name(name: &str) -> &str {
    name.rsplit(['.', ':']).next().unwrap_or(name)
}

struct Linker<'r, 'b> {
    resolver: &'r dyn Resolve,
    /// The file whose functions are being expanded: effects from any other are
    /// placed at the call here that reaches them.
    root: usize,
    /// The functions being expanded, outermost first: a call back into one of
    /// them is not followed again.
    stack: Vec<(usize, usize)>,
    budget: &'b mut Budget,
}

impl Linker<'_, '_> {
    /// `function`, written in `file`, with its calls expanded. `anchor` is the call
    /// in the root file this expansion is reached through, once it left the root.
    fn expand_function(
        &mut self,
        file: usize,
        function: &Function,
        anchor: Option<Span>,
    ) -> Result<Function, Exhausted> {
        let mut out = Function {
            effects: Vec::new(),
            transactions: function.transactions.clone(),
            calls: Vec::new(),
            ..function.clone()
        };
        // Where each of the caller's own effects lands in `out.effects`.
        let mut caller_map: Vec<usize> = Vec::with_capacity(function.effects.len());
        let mut next_branch = max_branch(function) + 1;
        // The caller's `CallResult` effects to turn into the read each callee returns.
        let mut resolved: Vec<(usize, Effect)> = Vec::new();
        // The caller's `CallResult` effects whose value the callee's reads chose
        // (a helper that returns a free slug), with those reads as inlined here.
        let mut chosen: Vec<(usize, Vec<usize>)> = Vec::new();
        // Effects from another file, placed at their call once the caller's reads
        // are renumbered (which tells the call's guards apart by their spans).
        let mut to_place: Vec<(usize, String, usize, Span, usize)> = Vec::new();
        // What each of `out.effects` comes from: the caller's own effect, or a call.
        let mut provenance: Vec<Provenance> = Vec::with_capacity(function.effects.len());
        // Calls to transaction wrappers, with the callback each runs in a transaction.
        let mut wrapped: Vec<(&LocalCall, &CallbackArgument, TransactionCallback)> = Vec::new();
        for position in 0..=function.effects.len() {
            for (call_index, call) in function
                .calls
                .iter()
                .enumerate()
                .filter(|(_, c)| c.position == position)
            {
                let Some((target_file, target_index)) = self.resolver.resolve(file, call) else {
                    continue;
                };
                let id = (target_file, target_index);
                if self.stack.len() > MAX_DEPTH || self.stack.contains(&id) {
                    continue;
                }
                let target = self.resolver.function(target_file, target_index);
                for wrapper in &target.transaction_callbacks {
                    if let Some(callback) = call.callbacks.iter().find(|c| c.arg == wrapper.param) {
                        wrapped.push((call, callback, wrapper.clone()));
                    }
                }
                let foreign = target_file != self.root;
                // The call as the user sees it in the root file.
                let reached_through = anchor.or((file == self.root).then_some(call.span));
                self.stack.push(id);
                let expanded = if target.calls.is_empty() {
                    Ok(target.clone())
                } else {
                    let inner_anchor = if foreign { reached_through } else { None };
                    self.expand_function(target_file, target, inner_anchor)
                };
                self.stack.pop();
                let expanded = expanded?;
                let cost = expanded.effects.len() + expanded.transactions.len() + 1;
                if !self.budget.spend(cost as u64) {
                    return Err(Exhausted);
                }
                let offset = out.effects.len();
                let tx_map = map_transactions(&expanded, call, function, &mut out);
                // A method whose object field holds a transaction wherever the type
                // is built, called inside one: what it writes through that field
                // joins the caller's (the object was built with it).
                let held = self.resolver.field_transactions(target_file, target_index);
                let branch_offset = next_branch;
                next_branch += max_branch(&expanded) + 1;
                let mut inlined = Vec::with_capacity(expanded.effects.len());
                for effect in &expanded.effects {
                    let mut e = effect.clone();
                    e.handle = rename_handle(&e.handle, &expanded.params, call);
                    e.transaction = e
                        .transaction
                        .and_then(|t| tx_map.get(t).copied().flatten())
                        .or_else(|| {
                            call.transaction.filter(|&t| {
                                out.transactions[t].handle.as_deref() == Some(root(&e.handle))
                                    || out.is_ambient(t)
                                    || held.iter().any(|(f, _)| through_field(&e.handle, f))
                            })
                        });
                    // The callee's numbering, like `transaction`: an enclosing
                    // transaction of the callee is its copy (or the caller's).
                    e.enclosing_transaction = e
                        .enclosing_transaction
                        .and_then(|t| tx_map.get(t).copied().flatten());
                    let own_guards: Vec<Guard> = e
                        .guards
                        .iter()
                        .map(|g| Guard {
                            read: g.read + offset,
                            ..g.clone()
                        })
                        .collect();
                    // The call's guards are in the caller's numbering: fixed up below.
                    e.guards = call.guards.iter().cloned().chain(own_guards).collect();
                    e.in_loop |= call.in_loop;
                    // A helper's timer is a wait where the helper is called
                    // (`await pause(500)`), wherever the helper is written.
                    if e.kind == EffectKind::Sleep && !foreign {
                        e.span = call.span;
                        e.site = call.span;
                    }
                    for field in e.fields_mut() {
                        field.value.remap(|r| r + offset);
                        // A value made of a parameter is made of what the call passed.
                        let passed = argument_reads(&field.value.vars, &expanded.params, call);
                        for r in passed.iter().filter_map(|r| caller_map.get(*r).copied()) {
                            if !field.value.reads.contains(&r) {
                                field.value.reads.push(r);
                            }
                        }
                    }
                    e.arms = call
                        .arms
                        .iter()
                        .copied()
                        .chain(e.arms.iter().map(|a| Arm {
                            branch: a.branch + branch_offset,
                            arm: a.arm,
                        }))
                        .collect();
                    if let (true, Some(at)) = (foreign, reached_through) {
                        // The call's own guards are this file's, and stay where they are
                        // when this file is the root.
                        let kept = if file == self.root {
                            call.guards.len()
                        } else {
                            0
                        };
                        to_place.push((
                            offset + inlined.len(),
                            target.name.clone(),
                            target_file,
                            at,
                            kept,
                        ));
                    }
                    inlined.push(e);
                }
                provenance.extend(std::iter::repeat_n(
                    Provenance::Call(call_index),
                    inlined.len(),
                ));
                out.effects.extend(inlined);
                if let (Some(result), Some(&returned)) = (call.result, expanded.returns.first()) {
                    resolved.push((result, out.effects[offset + returned].clone()));
                }
                if let Some(result) = call.result {
                    let chose: Vec<usize> = expanded
                        .returns_chosen_by
                        .iter()
                        .map(|r| r + offset)
                        .collect();
                    if !chose.is_empty() {
                        chosen.push((result, chose));
                    }
                }
            }
            if let Some(effect) = function.effects.get(position) {
                caller_map.push(out.effects.len());
                provenance.push(Provenance::Own(position));
                out.effects.push(effect.clone());
            }
        }
        for (call, callback, wrapper) in wrapped {
            run_in_wrapper_transaction(&mut out, &provenance, call, callback, &wrapper);
        }
        renumber_caller_reads(&mut out, function, &caller_map);
        out.cleanup_calls = function
            .calls
            .iter()
            .filter(|c| names_a_cleanup(c))
            .map(|c| {
                caller_map
                    .get(c.position)
                    .copied()
                    .unwrap_or(out.effects.len())
            })
            .collect();
        for (index, name, target_file, at, kept) in to_place {
            place_at_call(&mut out.effects[index], &name, target_file, at, kept);
        }
        for (result, read) in resolved {
            if let Some(&index) = caller_map.get(result) {
                become_read(&mut out.effects[index], read);
            }
        }
        out.returns = function
            .returns
            .iter()
            .filter_map(|&r| caller_map.get(r).copied())
            .collect();
        out.returns_chosen_by = function
            .returns_chosen_by
            .iter()
            .filter_map(|&r| caller_map.get(r).copied())
            .collect();
        for (result, chose) in chosen {
            if let Some(&index) = caller_map.get(result) {
                chosen_through_call(&mut out, &caller_map, index, &chose);
                if function.returns.contains(&result) {
                    out.returns_chosen_by.extend(chose);
                }
            }
        }
        Ok(out)
    }
}

/// The caller's values made of a call's result (`result`, renumbered) were
/// chosen by the reads that chose what the callee returned: `const slug = await
/// uniqueSlug(name)` then `create({ data: { slug } })`. The caller's own effects
/// only, and the caller returns what they chose when it returns the result.
fn chosen_through_call(out: &mut Function, caller_map: &[usize], result: usize, chose: &[usize]) {
    let own: std::collections::HashSet<usize> = caller_map.iter().copied().collect();
    for (index, effect) in out.effects.iter_mut().enumerate() {
        if !own.contains(&index) {
            continue;
        }
        for field in effect.fields_mut() {
            if field.value.reads.contains(&result) {
                for &r in chose {
                    if !field.value.chosen_by.contains(&r) {
                        field.value.chosen_by.push(r);
                    }
                }
            }
        }
    }
}

/// Where an effect of a linked function comes from.
#[derive(Clone, Copy)]
enum Provenance {
    /// The caller's own effect at this index.
    Own(usize),
    /// An effect of the callee of the caller's call at this index.
    Call(usize),
}

/// `withTransaction(ctx, async (tx) => { … })`, where `withTransaction` runs its
/// callback in a transaction it opens: the callback's effects through `tx`, and
/// those of the calls it makes with it, run in that transaction, nested in the
/// call's own. The others are left as they were, not marked as escaping it: a
/// wrapper may hand over a context that carries the transaction (`ctx`) rather
/// than the handle itself, which the model cannot follow (on outline, marking
/// them gave 29 false tx-client-escape findings).
fn run_in_wrapper_transaction(
    out: &mut Function,
    provenance: &[Provenance],
    call: &LocalCall,
    callback: &CallbackArgument,
    wrapper: &TransactionCallback,
) {
    let tx = out.add_transaction(Transaction {
        style: TransactionStyle::Callback,
        client: wrapper.client,
        span: call.span,
        handle: callback.handle.clone(),
        serializable: wrapper.serializable,
        parent: call.transaction,
    });
    for (effect, from) in out.effects.iter_mut().zip(provenance) {
        let inside = match *from {
            Provenance::Own(index) => callback.effects.contains(&index),
            Provenance::Call(index) => callback.calls.contains(&index),
        };
        if !inside {
            continue;
        }
        let through_handle = callback.handle.as_deref() == Some(root(&effect.handle));
        if through_handle && effect.transaction == call.transaction {
            effect.transaction = Some(tx);
        }
    }
}

/// An effect linked in from another file stands at the call that reaches it: its
/// spans are offsets into the root file's text, and no edit may be made through
/// it. Where it is written is kept as its origin (the innermost one, when it came
/// through several files).
fn place_at_call(effect: &mut Effect, function: &str, file: usize, at: Span, kept_guards: usize) {
    if effect.origin.is_none() {
        effect.origin = Some(Origin {
            function: function.to_string(),
            file,
            span: effect.site,
        });
    }
    effect.span = at;
    effect.site = at;
    effect.handle_span = None;
    for guard in effect.guards.iter_mut().skip(kept_guards) {
        guard.span = at;
        guard.field_spans.clear();
    }
}

/// The caller's `CallResult` takes on what the callee's returned read is (table,
/// filter, lock, transaction) while keeping its own place, guards and binding: a
/// check on the value is a check on that read, made at the call.
fn become_read(result: &mut Effect, read: Effect) {
    if read.kind != EffectKind::Read {
        return;
    }
    result.kind = EffectKind::Read;
    result.client = read.client;
    result.table = read.table;
    result.filter = read.filter;
    result.many = read.many;
    result.tally = read.tally;
    result.row_lock = read.row_lock;
    result.transaction = read.transaction.or(result.transaction);
    result.handle = read.handle;
}

/// Points the caller's own effects, and the call guards copied into inlined
/// effects, at the new positions of the caller's reads.
fn renumber_caller_reads(out: &mut Function, function: &Function, caller_map: &[usize]) {
    let own: std::collections::HashSet<usize> = caller_map.iter().copied().collect();
    let call_guard_spans: Vec<_> = function
        .calls
        .iter()
        .flat_map(|c| c.guards.iter().map(|g| (g.read, g.span)))
        .collect();
    for (index, effect) in out.effects.iter_mut().enumerate() {
        let is_own = own.contains(&index);
        for guard in &mut effect.guards {
            let from_call = !is_own && call_guard_spans.contains(&(guard.read, guard.span));
            if is_own || from_call {
                if let Some(&new) = caller_map.get(guard.read) {
                    guard.read = new;
                }
            }
        }
        if is_own {
            for field in effect.fields_mut() {
                field
                    .value
                    .remap(|r| caller_map.get(r).copied().unwrap_or(r));
            }
        }
    }
}

/// The callee's transactions in the caller: one opened on a parameter the caller
/// passed its own transaction handle to is that transaction; a lent connection the
/// caller passes without a transaction is none; the others are added, nested where
/// their parent landed (or in the call's transaction when the parent is none).
fn map_transactions(
    callee: &Function,
    call: &LocalCall,
    caller: &Function,
    out: &mut Function,
) -> Vec<Option<usize>> {
    let mut map: Vec<Option<usize>> = Vec::with_capacity(callee.transactions.len());
    for tx in &callee.transactions {
        let passed = tx
            .handle
            .as_deref()
            .map(|h| rename_handle(h, &callee.params, call))
            .and_then(|h| open_at_call(caller, call, root(&h)));
        match passed {
            Some(existing) if tx.parent.is_none() => map.push(Some(existing)),
            // A connection the caller lends without a transaction of its own.
            None if tx.style == TransactionStyle::Lent => map.push(None),
            _ => {
                // Parents come before children, so the parent is mapped already.
                let parent = tx.parent.and_then(|p| map.get(p).copied().flatten());
                let copy = Transaction {
                    parent: parent.or(call.transaction),
                    ..tx.clone()
                };
                map.push(Some(out.add_transaction(copy)));
            }
        }
    }
    map
}

/// The caller's transaction open at `call` (the call's own or one it is nested
/// in) whose handle is `handle`. A transaction of the same handle committed
/// before the call (a session's earlier one) is not it.
fn open_at_call(caller: &Function, call: &LocalCall, handle: &str) -> Option<usize> {
    let mut at = call.transaction;
    while let Some(t) = at {
        let tx = caller.transactions.get(t)?;
        if tx.handle.as_deref() == Some(handle) {
            return Some(t);
        }
        at = tx.parent.filter(|&p| p < t);
    }
    None
}

/// The variable a handle is reached through: `tx` of `tx.user`, `conn` of `&mut *conn`.
pub(crate) fn root(handle: &str) -> &str {
    handle
        .split(['.', '(', '['])
        .next()
        .unwrap_or(handle)
        .trim_start_matches(['&', '*'])
        .trim_start_matches("mut ")
}

/// The caller's reads behind the arguments a callee's value uses through its
/// parameters (`scene_number` called as `f(story_id, last + 1)` → `last`'s read).
fn argument_reads(vars: &[String], params: &[String], call: &LocalCall) -> Vec<usize> {
    vars.iter()
        .filter_map(|v| params.iter().position(|p| !p.is_empty() && p == v))
        .filter_map(|i| call.arg_reads.get(i))
        .flatten()
        .copied()
        .collect()
}

/// `tx.user` in a callee whose first parameter is `tx`, called as `f(trx, …)`
/// (or `f(tx=trx)`) → `trx.user`.
fn rename_handle(handle: &str, params: &[String], call: &LocalCall) -> String {
    let head = root(handle);
    match params.iter().position(|p| !p.is_empty() && p == head) {
        Some(i) => match argument(call, params, i) {
            Some(arg) => format!(
                "{}{}",
                passed_handle(arg),
                &handle[handle.find(head).map_or(0, |at| at + head.len())..]
            ),
            None => handle.to_string(),
        },
        None => handle.to_string(),
    }
}

/// The handle an argument passes: the variable (`tx` of `&mut *tx`), or a
/// field path as written (`self.session`, `this.prisma`), which is a handle of
/// its own rather than its object's.
fn passed_handle(arg: &str) -> &str {
    let bare = arg
        .trim_start_matches(['&', '*'])
        .trim_start_matches("mut ")
        .trim_start_matches(['&', '*']);
    let path = !bare.is_empty()
        && bare.split('.').all(|s| {
            s.chars()
                .next()
                .is_some_and(|c| c.is_alphabetic() || c == '_' || c == '$')
                && s.chars()
                    .all(|c| c.is_alphanumeric() || c == '_' || c == '$')
        });
    if path {
        bare
    } else {
        root(arg)
    }
}

/// What a call passes for the callee's parameter `index`: in its place, or by
/// the parameter's name (`helper(session=tx)`). A parameter left to its
/// default gets nothing of the caller's.
fn argument<'c>(call: &'c LocalCall, params: &[String], index: usize) -> Option<&'c str> {
    if let Some(arg) = call.args.get(index) {
        return Some(arg);
    }
    let name = params.get(index).filter(|p| !p.is_empty())?;
    call.keywords
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn max_branch(function: &Function) -> u32 {
    function
        .effects
        .iter()
        .flat_map(|e| e.arms.iter().map(|a| a.branch))
        .chain(
            function
                .calls
                .iter()
                .flat_map(|c| c.arms.iter().map(|a| a.branch)),
        )
        .max()
        .unwrap_or(0)
}
