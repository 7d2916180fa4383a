//! The syn walk: every function becomes an [`ir::Function`], its database effects
//! in evaluation order, with the data flow that links them.
//!
//! The walk keeps, per function, an environment from variables to the effects
//! whose results flow into them (taint), the branch arms and guards in force, the
//! open transactions, and the futures not yet awaited. It knows Rust, not database
//! crates: what a call chain does is asked of [`clients::recognize`].

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;

use proc_macro2::Span as PmSpan;
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::{Block, Expr, Item, Pat, Stmt};

use super::clients::{self, Chain, EffectSpec, Features, FieldSpec, Op, OpKind, Step};
use super::names::{self, Names};
use crate::ir::{
    Arm, Completion, Construction, Effect, EffectKind, FileModel, Function, Guard, LocalCall, Span,
    Transaction, TransactionStyle, Value,
};

pub(super) fn lower_file(
    file: &syn::File,
    text: &str,
    base: usize,
    crate_root: Option<&Path>,
) -> FileModel {
    let features = Features::detect(text, crate_root.map(Path::to_path_buf));
    let mut lw = Lowerer {
        names: Names::collect(&file.items),
        mod_path: Vec::new(),
        self_paths: Vec::new(),
        text,
        base,
        features,
        free_fns: HashSet::new(),
        methods: HashSet::new(),
        self_ty: None,
        consts: HashMap::new(),
        functions: Vec::new(),
        in_test: 0,
        cx: FnCx::new(String::new(), Span::default()),
    };
    lw.collect_locals(&file.items);
    lw.items(&file.items);
    FileModel {
        functions: lw.functions,
        rust: Some(lw.names.into_module()),
        ..FileModel::default()
    }
}

/// Which effects a value comes from: `effects` for results (rows, records),
/// `counts` for writes whose affected-row count the value is.
#[derive(Clone, Debug, Default)]
struct Taint {
    effects: BTreeSet<usize>,
    counts: BTreeSet<usize>,
    /// Reads whose tested result chose the value (`Value::chosen_by`).
    chosen: BTreeSet<usize>,
}

impl Taint {
    fn add(&mut self, other: Taint) {
        self.effects.extend(other.effects);
        self.counts.extend(other.counts);
        self.chosen.extend(other.chosen);
    }
}

/// What a loop chooses: a variable assigned in it holds a value the loop's going
/// round decided on, and so the reads that decide that.
#[derive(Default)]
struct LoopChoice {
    assigned: Vec<String>,
    continues_on: Vec<usize>,
}

/// Where an expression sits: its value is the function's result.
#[derive(Clone, Copy, Default)]
struct Pos {
    tail: bool,
}

const TAIL: Pos = Pos { tail: true };
const PLAIN: Pos = Pos { tail: false };

/// A struct literal or typed binding whose fields a later `.insert(db)` writes.
#[derive(Clone, Debug, Default)]
struct Model {
    table: Option<String>,
    fields: Vec<(String, Expr)>,
    /// The row a model was converted from (`let am: x::ActiveModel = row.into()`):
    /// its key, as the code and as text (`row`, `row.id`), for updates and deletes.
    key: Option<(Expr, String)>,
}

#[derive(Default)]
struct Scope {
    vars: HashMap<String, Taint>,
    models: HashMap<String, Model>,
    /// The declared or constructed type of a variable, as written (`User`,
    /// `Self`); `None` shadows an outer one whose type was known.
    types: HashMap<String, Option<Vec<String>>>,
}

struct OpenTx {
    index: usize,
    handle: String,
    /// The number of scopes when it opened: it ends with that block.
    scope: usize,
}

struct PendingTx {
    client: crate::ir::Client,
    span: Span,
    serializable: bool,
    parent: Option<usize>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Exit {
    /// Leaves the function (`return`, `bail!`, `panic!`).
    Return,
    /// Leaves the loop iteration (`continue`, `break`).
    Loop,
}

struct FnCx {
    f: Function,
    scopes: Vec<Scope>,
    arms: Vec<Arm>,
    next_branch: u32,
    /// Guards in force, each with the nesting depth it ends with.
    guards: Vec<(Guard, usize)>,
    depth: usize,
    /// Depth of the innermost function boundary (an inline closure's body).
    fn_depth: usize,
    loop_depths: Vec<usize>,
    in_loop: usize,
    /// Open loops, innermost last (what each chooses).
    loops: Vec<LoopChoice>,
    open_tx: Vec<OpenTx>,
    /// Futures bound to a variable and not awaited yet.
    pending: HashMap<String, Vec<usize>>,
    tx_begin: Option<PendingTx>,
    /// Inside `join!`, `join_all(…)`, `spawn(…)`: a future there is awaited for us.
    joined: usize,
    /// Inside `spawn(…)`: the task runs on its own, so a transaction open around
    /// the spawn does not enclose what the task does through other handles.
    detached: usize,
    /// sqlx connections the caller hands in (`conn: &mut PgConnection`), each with
    /// the transaction the caller may hold on it: effects through one commit
    /// together as far as this function can tell, yet nothing is open *around*
    /// the function's other calls.
    lent: Vec<(String, usize)>,
    /// Variables holding SQL text or a statement prepared from it.
    sql_vars: HashMap<String, String>,
    /// Variables holding one column of a row: `let s = seat.status;`,
    /// `let s: String = row.get("status");` → `s` → `status`.
    var_fields: HashMap<String, String>,
}

impl FnCx {
    fn new(name: String, span: Span) -> Self {
        FnCx {
            f: Function::new(name, span),
            scopes: vec![Scope::default()],
            arms: Vec::new(),
            next_branch: 0,
            guards: Vec::new(),
            depth: 0,
            fn_depth: 0,
            loop_depths: Vec::new(),
            in_loop: 0,
            loops: Vec::new(),
            open_tx: Vec::new(),
            pending: HashMap::new(),
            tx_begin: None,
            joined: 0,
            detached: 0,
            lent: Vec::new(),
            sql_vars: HashMap::new(),
            var_fields: HashMap::new(),
        }
    }
}

struct Lowerer<'t> {
    text: &'t str,
    names: Names,
    /// The inline modules the walk is in.
    mod_path: Vec<String>,
    /// What `Self` may name in the impl or trait being walked.
    self_paths: Vec<Vec<String>>,
    base: usize,
    features: Features,
    free_fns: HashSet<String>,
    /// `(type or trait, method)` declared in this file.
    methods: HashSet<(String, String)>,
    self_ty: Option<String>,
    /// `const SQL: &str = "…";` items of the file.
    consts: HashMap<String, String>,
    functions: Vec<Function>,
    cx: FnCx,
    /// Inside a `#[cfg(test)]` module or a test function.
    in_test: usize,
}

const UNIQUE_MARKERS: &[&str] = &[
    "is_unique_violation",
    "UniqueViolation",
    "unique_violation",
    // tokio-postgres / postgres: `e.code() == Some(&SqlState::UNIQUE_VIOLATION)`.
    "UNIQUE_VIOLATION",
    "23505",
    "UniqueConstraintViolation",
];

const ITERATION: &[&str] = &[
    "map",
    "for_each",
    "try_for_each",
    "filter",
    "filter_map",
    "flat_map",
    "fold",
    "try_fold",
    "any",
    "all",
    "find",
    "find_map",
    "retain",
    "scan",
    "take_while",
    "skip_while",
    "inspect",
    "then",
    "for_each_concurrent",
    "try_for_each_concurrent",
];

impl<'t> Lowerer<'t> {
    // ---- spans and text ----

    fn span(&self, s: PmSpan) -> Span {
        let r = s.byte_range();
        Span::new(r.start + self.base, r.end + self.base)
    }

    fn span_of<T: Spanned>(&self, t: &T) -> Span {
        self.span(t.span())
    }

    fn source(&self, span: Span) -> &'t str {
        self.text.get(span.range()).unwrap_or("")
    }

    fn mentions_unique<T: Spanned>(&self, t: &T) -> bool {
        let s = self.source(self.span_of(t));
        UNIQUE_MARKERS.iter().any(|m| s.contains(m))
    }

    // ---- items ----

    fn collect_locals(&mut self, items: &[Item]) {
        for item in items {
            match item {
                Item::Fn(f) => {
                    self.free_fns.insert(f.sig.ident.to_string());
                }
                Item::Impl(i) => {
                    let ty = type_name(&i.self_ty);
                    for it in &i.items {
                        if let syn::ImplItem::Fn(m) = it {
                            self.methods.insert((ty.clone(), m.sig.ident.to_string()));
                        }
                    }
                }
                Item::Trait(t) => {
                    for it in &t.items {
                        if let syn::TraitItem::Fn(m) = it {
                            self.methods
                                .insert((t.ident.to_string(), m.sig.ident.to_string()));
                        }
                    }
                }
                Item::Mod(m) => {
                    if let Some((_, items)) = &m.content {
                        self.collect_locals(items);
                    }
                }
                Item::Const(c) => {
                    if let Some(sql) = clients::str_lit(&c.expr) {
                        self.consts.insert(c.ident.to_string(), sql);
                    }
                }
                Item::Static(c) => {
                    if let Some(sql) = clients::str_lit(&c.expr) {
                        self.consts.insert(c.ident.to_string(), sql);
                    }
                }
                _ => {}
            }
        }
    }

    fn items(&mut self, items: &[Item]) {
        for item in items {
            self.item(item);
        }
    }

    fn item(&mut self, item: &Item) {
        // An item inside a function body is out of reach of other files.
        let nameable = self.cx.f.name.is_empty();
        let path_of = |owner: &[String], name: &syn::Ident| -> String {
            if !nameable || owner.is_empty() {
                return String::new();
            }
            format!("{}::{name}", owner.join("::"))
        };
        match item {
            Item::Fn(f) => {
                let name = f.sig.ident.to_string();
                let test = is_test(&f.attrs);
                let owner = names::self_path(&self.mod_path);
                let path = path_of(&owner, &f.sig.ident);
                self.in_test += usize::from(test);
                self.function(name, path, &f.sig, &f.block, f.span());
                self.in_test -= usize::from(test);
            }
            Item::Impl(i) => {
                let ty = type_name(&i.self_ty);
                let saved = self.self_ty.replace(ty.clone());
                let paths = names::type_path(&i.self_ty)
                    .map(|segs| self.names.resolve(&self.mod_path, &segs, &[]))
                    .unwrap_or_default();
                let owner = paths.first().cloned().unwrap_or_default();
                let saved_paths = std::mem::replace(&mut self.self_paths, paths);
                let mut methods = Vec::new();
                for it in &i.items {
                    if let syn::ImplItem::Fn(m) = it {
                        let name = format!("{ty}::{}", m.sig.ident);
                        let path = path_of(&owner, &m.sig.ident);
                        methods.push(self.functions.len());
                        let test = is_test(&m.attrs);
                        self.in_test += usize::from(test);
                        self.function(name, path, &m.sig, &m.block, m.span());
                        self.in_test -= usize::from(test);
                    }
                }
                if nameable && !owner.is_empty() {
                    let trait_ = i.trait_.as_ref().and_then(|(_, p, _)| {
                        let first = self.names.resolve(&self.mod_path, &names::segments(p), &[]);
                        first.into_iter().next().map(|p| p.join("::"))
                    });
                    self.names.module_mut().impls.push(crate::ir::items::Impl {
                        ty: owner.join("::"),
                        trait_,
                        functions: methods,
                    });
                }
                self.self_paths = saved_paths;
                self.self_ty = saved;
            }
            Item::Trait(t) => {
                let ty = t.ident.to_string();
                let saved = self.self_ty.replace(ty.clone());
                let mut owner = names::self_path(&self.mod_path);
                owner.push(ty.clone());
                let saved_paths = std::mem::replace(&mut self.self_paths, vec![owner.clone()]);
                let mut defaults = Vec::new();
                for it in &t.items {
                    if let syn::TraitItem::Fn(m) = it {
                        if let Some(body) = &m.default {
                            let name = format!("{ty}::{}", m.sig.ident);
                            let path = path_of(&owner, &m.sig.ident);
                            defaults.push(self.functions.len());
                            self.function(name, path, &m.sig, body, m.span());
                        }
                    }
                }
                if nameable {
                    self.names
                        .module_mut()
                        .traits
                        .push(crate::ir::items::TraitDecl {
                            path: owner.join("::"),
                            defaults,
                        });
                }
                self.self_paths = saved_paths;
                self.self_ty = saved;
            }
            Item::Mod(m) => {
                if let Some((_, items)) = &m.content {
                    let test = is_test(&m.attrs);
                    self.in_test += usize::from(test);
                    self.mod_path.push(m.ident.to_string());
                    self.items(items);
                    self.mod_path.pop();
                    self.in_test -= usize::from(test);
                }
            }
            _ => {}
        }
    }

    fn function(
        &mut self,
        name: String,
        path: String,
        sig: &syn::Signature,
        body: &Block,
        span: PmSpan,
    ) {
        let span = self.span(span);
        let slot = self.functions.len();
        self.functions.push(Function::new(name.clone(), span));
        self.names.module_mut().paths.push(path);
        let saved = std::mem::replace(&mut self.cx, FnCx::new(name, span));
        self.cx.f.runs_alone = self.in_test > 0;
        for input in &sig.inputs {
            let param = match input {
                syn::FnArg::Receiver(_) => {
                    self.declare_type("self".into(), Some(vec!["Self".into()]));
                    "self".to_string()
                }
                syn::FnArg::Typed(pt) => pat_idents(&pt.pat).first().cloned().unwrap_or_default(),
            };
            self.cx.f.params.push(param);
            if let syn::FnArg::Typed(pt) = input {
                let names = pat_idents(&pt.pat);
                // A parameter of a transaction type: the caller opened it, so
                // every effect through it runs inside one transaction.
                let ty = quote::ToTokens::to_token_stream(&pt.ty).to_string();
                if is_transaction_type(&pt.ty) {
                    if let Some(handle) = names.first() {
                        let index = self.cx.f.add_transaction(Transaction {
                            style: TransactionStyle::Explicit,
                            client: param_client(&ty, &self.features),
                            span: self.span_of(pt),
                            handle: Some(handle.clone()),
                            serializable: false,
                            parent: None,
                        });
                        self.cx.open_tx.push(OpenTx {
                            index,
                            handle: handle.clone(),
                            scope: 0,
                        });
                    }
                } else if self.features.sqlx
                    && !self.features.diesel
                    && is_sqlx_connection_type(&pt.ty)
                {
                    // sqlx's way to accept "a transaction or a connection": the
                    // caller decides, and usually passes `&mut *tx`.
                    if let Some(handle) = names.first() {
                        let index = self.cx.f.add_transaction(Transaction {
                            style: TransactionStyle::Lent,
                            client: crate::ir::Client::Sqlx,
                            span: self.span_of(pt),
                            handle: Some(handle.clone()),
                            serializable: false,
                            parent: None,
                        });
                        self.cx.lent.push((handle.clone(), index));
                    }
                }
                if let [one] = names.as_slice() {
                    self.declare_type(one.clone(), names::type_path(&pt.ty));
                }
                for n in names {
                    self.declare(n, Taint::default());
                }
            }
        }
        let t = self.block(body, TAIL);
        self.note_returned(&t);
        let done = std::mem::replace(&mut self.cx, saved);
        self.functions[slot] = done.f;
    }

    /// A closure or async block bound with `let`: a function of its own.
    fn own_function(&mut self, name: String, e: &Expr) {
        let span = self.span_of(e);
        let slot = self.functions.len();
        self.functions.push(Function::new(name.clone(), span));
        self.names.module_mut().paths.push(String::new());
        let saved = std::mem::replace(&mut self.cx, FnCx::new(name, span));
        self.cx.f.runs_alone = self.in_test > 0;
        match e {
            Expr::Closure(c) => {
                for p in &c.inputs {
                    for n in pat_idents(p) {
                        self.declare(n, Taint::default());
                    }
                }
                self.expr(&c.body, TAIL);
            }
            Expr::Async(a) => {
                self.block(&a.block, TAIL);
            }
            _ => {}
        }
        let done = std::mem::replace(&mut self.cx, saved);
        self.functions[slot] = done.f;
    }

    // ---- environment ----

    fn declare(&mut self, name: String, t: Taint) {
        if let Some(s) = self.cx.scopes.last_mut() {
            s.vars.insert(name, t);
        }
    }

    fn declare_type(&mut self, name: String, ty: Option<Vec<String>>) {
        if let Some(s) = self.cx.scopes.last_mut() {
            s.types.insert(name, ty);
        }
    }

    fn type_of(&self, name: &str) -> Option<&Vec<String>> {
        self.cx
            .scopes
            .iter()
            .rev()
            .find_map(|s| s.types.get(name))?
            .as_ref()
    }

    fn lookup(&self, name: &str) -> Taint {
        self.cx
            .scopes
            .iter()
            .rev()
            .find_map(|s| s.vars.get(name))
            .cloned()
            .unwrap_or_default()
    }

    fn taint_var(&mut self, name: &str, mut t: Taint, replace: bool) {
        // Assigned under a condition on a read, or in a loop: the read chose it.
        let chosen: Vec<usize> = self
            .cx
            .guards
            .iter()
            .map(|(g, _)| g.read)
            .filter(|&r| self.is_plain_read(r))
            .collect();
        t.chosen.extend(chosen);
        if let Some(frame) = self.cx.loops.last_mut() {
            frame.assigned.push(name.to_string());
        }
        for s in self.cx.scopes.iter_mut().rev() {
            if let Some(v) = s.vars.get_mut(name) {
                if replace {
                    *v = t;
                } else {
                    v.add(t);
                }
                return;
            }
        }
    }

    fn model_mut(&mut self, name: &str) -> Option<&mut Model> {
        self.cx
            .scopes
            .iter_mut()
            .rev()
            .find_map(|s| s.models.get_mut(name))
    }

    fn model(&self, name: &str) -> Option<&Model> {
        self.cx.scopes.iter().rev().find_map(|s| s.models.get(name))
    }

    fn push_scope(&mut self) {
        self.cx.scopes.push(Scope::default());
    }

    fn pop_scope(&mut self) {
        self.cx.scopes.pop();
        let n = self.cx.scopes.len();
        // A transaction bound in a block ends with it (the handle is dropped: rollback).
        // A callback's transaction (`usize::MAX`) ends with its closure instead.
        self.cx
            .open_tx
            .retain(|t| t.scope == usize::MAX || t.scope <= n);
    }

    /// The taint of the variables an expression mentions, without lowering it.
    fn peek(&self, e: &Expr) -> Taint {
        let mut idents = Vec::new();
        collect_idents(e, &mut idents);
        let mut t = Taint::default();
        for i in idents {
            t.add(self.lookup(&i));
        }
        t
    }

    fn tx_of(&self, handle: &str) -> Option<usize> {
        let h = handle.strip_prefix("self.").unwrap_or(handle);
        self.cx
            .open_tx
            .iter()
            .rev()
            .find(|t| t.handle == handle || t.handle == h)
            .map(|t| t.index)
            .or_else(|| {
                self.cx
                    .lent
                    .iter()
                    .find(|(l, _)| l == handle || l == h)
                    .map(|&(_, index)| index)
            })
    }

    /// The open transaction an initializer only names again: the handle itself
    /// (borrowed, dereferenced, `acquire()`d), or the handle wrapped by a
    /// one-argument constructor (`Executor::from(&tx)`).
    fn tx_alias(&self, init: &Expr) -> Option<usize> {
        let mut e = strip(init);
        while let Expr::Try(t) = e {
            e = strip(&t.expr);
        }
        while let Expr::Await(a) = e {
            e = strip(&a.base);
        }
        if let Expr::Call(c) = e {
            let Expr::Path(f) = &*c.func else { return None };
            let ctor = f
                .path
                .segments
                .last()
                .is_some_and(|s| matches!(s.ident.to_string().as_str(), "from" | "new"));
            return match (ctor, c.args.len()) {
                (true, 1) => self.open_tx_of(&clients::handle_text(&c.args[0])),
                _ => None,
            };
        }
        self.open_tx_of(&clients::handle_text(init))
    }

    fn open_tx_of(&self, handle: &str) -> Option<usize> {
        self.cx
            .open_tx
            .iter()
            .rev()
            .find(|t| t.handle == handle)
            .map(|t| t.index)
    }

    /// The transaction open around an effect whose own is `own`: the innermost
    /// open one, except in a spawned task, which only its own handle puts in one.
    fn enclosing_tx(&self, own: Option<usize>) -> Option<usize> {
        if self.cx.detached > 0 {
            own
        } else {
            self.cx.open_tx.last().map(|t| t.index)
        }
    }

    fn returns_written_row(&self, i: usize) -> bool {
        matches!(
            self.cx.f.effects.get(i).map(|e| e.kind),
            Some(EffectKind::Insert | EffectKind::Upsert | EffectKind::Update)
        )
    }

    /// A read (or a call's value) whose result can choose a value.
    fn is_plain_read(&self, i: usize) -> bool {
        matches!(
            self.cx.f.effects.get(i).map(|e| e.kind),
            Some(EffectKind::Read | EffectKind::CallResult)
        )
    }

    fn is_readlike(&self, i: usize) -> bool {
        matches!(
            self.cx.f.effects.get(i).map(|e| e.kind),
            Some(EffectKind::Read | EffectKind::Opaque | EffectKind::CallResult)
        )
    }

    /// What the function returns (its tail, or a `return` of the function itself,
    /// not of a closure lowered inline) hands these reads to its callers.
    fn note_returned(&mut self, t: &Taint) {
        if self.cx.fn_depth != 0 {
            return;
        }
        for &r in &t.chosen {
            if !self.cx.f.returns_chosen_by.contains(&r) {
                self.cx.f.returns_chosen_by.push(r);
            }
        }
        for &r in &t.effects {
            let kind = self.cx.f.effects[r].kind;
            if matches!(kind, EffectKind::Read | EffectKind::CallResult)
                && !self.cx.f.returns.contains(&r)
            {
                self.cx.f.returns.push(r);
            }
        }
    }

    // ---- guards and arms ----

    fn guards_from(&self, t: &Taint, cond: &Expr) -> Vec<Guard> {
        let span = self.span_of(cond);
        t.effects
            .iter()
            .filter(|&&r| self.is_readlike(r))
            // A write's row count decides too (`if n == 0 { fallback }`).
            .chain(t.counts.iter().filter(|&&r| !t.effects.contains(&r)))
            .map(|&r| Guard {
                read: r,
                span,
                fields: self.fields_of(cond, r),
                field_spans: Vec::new(),
            })
            .collect()
    }

    /// Fields of read `r`'s result that `cond` inspects (`seat.status` → `status`).
    fn fields_of(&self, cond: &Expr, r: usize) -> Vec<String> {
        struct Fields<'a, 'b> {
            lw: &'a Lowerer<'b>,
            r: usize,
            out: Vec<String>,
        }
        impl<'ast> Visit<'ast> for Fields<'_, '_> {
            fn visit_expr_field(&mut self, f: &'ast syn::ExprField) {
                if let (Expr::Path(p), syn::Member::Named(m)) = (&*f.base, &f.member) {
                    if let Some(id) = p.path.get_ident() {
                        let name = m.to_string();
                        if self.lw.lookup(&id.to_string()).effects.contains(&self.r)
                            && !self.out.contains(&name)
                        {
                            self.out.push(name);
                        }
                        return;
                    }
                }
                syn::visit::visit_expr_field(self, f);
            }
            fn visit_expr_path(&mut self, p: &'ast syn::ExprPath) {
                let Some(id) = p.path.get_ident().map(|i| i.to_string()) else {
                    return;
                };
                if !self.lw.lookup(&id).effects.contains(&self.r) {
                    return;
                }
                // A column taken out of the row (`row.get("used")`), or a part of
                // it bound by name (`let Some((id, used)) = coupon`): not the row
                // itself, which is the read's binding.
                let column = match self.lw.cx.var_fields.get(&id) {
                    Some(col) => col.clone(),
                    None if self.lw.cx.f.effects[self.r].binding.as_deref() != Some(&id) => id,
                    None => return,
                };
                if !self.out.contains(&column) {
                    self.out.push(column);
                }
            }
        }
        let mut v = Fields {
            lw: self,
            r,
            out: Vec::new(),
        };
        v.visit_expr(cond);
        v.out
    }

    fn mark_counts(&mut self, t: &Taint) {
        for &i in &t.counts {
            if let Some(e) = self.cx.f.effects.get_mut(i) {
                e.count_checked = true;
            }
        }
    }

    fn new_branch(&mut self) -> u32 {
        let b = self.cx.next_branch;
        self.cx.next_branch += 1;
        b
    }

    /// Runs `f` one level deeper, with `guards` in force until it returns.
    fn nested<R>(
        &mut self,
        arm: Option<Arm>,
        guards: &[Guard],
        f: impl FnOnce(&mut Self) -> R,
    ) -> R {
        if let Some(a) = arm {
            self.cx.arms.push(a);
        }
        self.cx.depth += 1;
        let d = self.cx.depth;
        for g in guards {
            self.cx.guards.push((g.clone(), d));
        }
        let r = f(self);
        self.cx.guards.retain(|(_, gd)| *gd < d);
        self.cx.depth -= 1;
        if arm.is_some() {
            self.cx.arms.pop();
        }
        r
    }

    fn in_loop_body<R>(&mut self, guards: &[Guard], f: impl FnOnce(&mut Self) -> R) -> R {
        self.cx.in_loop += 1;
        self.cx.loop_depths.push(self.cx.depth + 1);
        let continues_on = guards
            .iter()
            .map(|g| g.read)
            .filter(|&r| self.is_plain_read(r))
            .collect();
        self.cx.loops.push(LoopChoice {
            assigned: Vec::new(),
            continues_on,
        });
        let r = self.nested(None, guards, f);
        if let Some(mut frame) = self.cx.loops.pop() {
            for name in &frame.assigned {
                for s in self.cx.scopes.iter_mut().rev() {
                    if let Some(v) = s.vars.get_mut(name) {
                        v.chosen.extend(frame.continues_on.iter().copied());
                        break;
                    }
                }
            }
            if let Some(outer) = self.cx.loops.last_mut() {
                outer.assigned.append(&mut frame.assigned);
            }
        }
        self.cx.loop_depths.pop();
        self.cx.in_loop -= 1;
        r
    }

    /// After `if cond { return }`: everything later runs only when the condition was false.
    fn exit_guards(&mut self, guards: Vec<Guard>, exit: Exit) {
        if exit == Exit::Loop {
            let reads: Vec<usize> = guards
                .iter()
                .map(|g| g.read)
                .filter(|&r| self.is_plain_read(r))
                .collect();
            if let Some(frame) = self.cx.loops.last_mut() {
                frame.continues_on.extend(reads);
            }
        }
        let depth = match exit {
            Exit::Return => self.cx.fn_depth,
            Exit::Loop => self
                .cx
                .loop_depths
                .last()
                .copied()
                .unwrap_or(self.cx.fn_depth),
        };
        for g in guards {
            self.cx.guards.push((g, depth));
        }
    }

    fn current_guards(&self) -> Vec<Guard> {
        let mut out: Vec<Guard> = Vec::new();
        for (g, _) in &self.cx.guards {
            if !out.iter().any(|o| o.read == g.read && o.span == g.span) {
                out.push(g.clone());
            }
        }
        out
    }

    // ---- statements ----

    fn block(&mut self, b: &Block, pos: Pos) -> Taint {
        self.push_scope();
        let mut t = Taint::default();
        let n = b.stmts.len();
        for (i, s) in b.stmts.iter().enumerate() {
            let last = i + 1 == n;
            match s {
                Stmt::Local(l) => self.local(l),
                Stmt::Item(item) => self.item(item),
                Stmt::Expr(e, semi) => {
                    let tail = last && semi.is_none();
                    let v = self.expr(
                        e,
                        Pos {
                            tail: pos.tail && tail,
                        },
                    );
                    if tail {
                        t = v;
                    }
                }
                Stmt::Macro(m) => {
                    self.mac(&m.mac, PLAIN);
                }
            }
        }
        self.pop_scope();
        t
    }

    fn local(&mut self, l: &syn::Local) {
        let names = pat_idents(&l.pat);
        let ty = match &l.pat {
            Pat::Type(pt) => names::type_path(&pt.ty),
            _ => l.init.as_ref().and_then(|i| constructed_type(&i.expr)),
        };
        for (i, n) in names.iter().enumerate() {
            self.declare_type(n.clone(), ty.clone().filter(|_| i == 0 && names.len() == 1));
        }
        let Some(init) = &l.init else {
            for n in names {
                self.declare(n, Taint::default());
            }
            return;
        };
        if matches!(strip(&init.expr), Expr::Closure(_) | Expr::Async(_)) && names.len() == 1 {
            let name = format!("{}::{}", self.cx.f.name, names[0]);
            self.own_function(name, strip(&init.expr));
            self.declare(names[0].clone(), Taint::default());
            return;
        }
        if let (Some(name), Some(sql)) = (names.first(), sql_text(&init.expr)) {
            self.cx.sql_vars.insert(name.clone(), sql);
        }
        if let (Some(name), Some(col)) = (names.first(), column_of_row(&init.expr)) {
            self.cx.var_fields.insert(name.clone(), col);
        }
        let before = self.cx.f.effects.len();
        self.cx.tx_begin = None;
        let t = self.expr(&init.expr, PLAIN);
        if let Some((_, diverge)) = &init.diverge {
            // `let Some(x) = read else { return };`
            let guards = self.guards_from(&t, &init.expr);
            let b = self.new_branch();
            let arm = Arm { branch: b, arm: 1 };
            self.nested(Some(arm), &guards, |me| me.expr(diverge, PLAIN));
            if let Some(exit) = expr_exit(diverge) {
                for i in before..self.cx.f.effects.len() {
                    if t.effects.contains(&i) && self.is_readlike(i) {
                        self.cx.f.effects[i].throws_if_missing = true;
                    }
                }
                self.exit_guards(guards, exit);
            }
        }
        let first = names.first().cloned();
        if let Some(name) = &first {
            for i in before..self.cx.f.effects.len() {
                if t.effects.contains(&i) || t.counts.contains(&i) {
                    let e = &mut self.cx.f.effects[i];
                    if e.binding.is_none() {
                        e.binding = Some(name.clone());
                    }
                    if e.completion == Completion::Floating {
                        self.cx.pending.entry(name.clone()).or_default().push(i);
                    }
                }
            }
            if let Some(p) = self.cx.tx_begin.take() {
                let index = self.cx.f.add_transaction(Transaction {
                    style: TransactionStyle::Explicit,
                    client: p.client,
                    span: p.span,
                    handle: Some(name.clone()),
                    serializable: p.serializable,
                    parent: p.parent,
                });
                self.cx.open_tx.push(OpenTx {
                    index,
                    handle: name.clone(),
                    scope: self.cx.scopes.len(),
                });
            } else if let Some(index) = self.tx_alias(&init.expr) {
                // `let conn = &mut *tx;`, `let conn = tx.acquire().await?;`,
                // `let cot = DatabaseExecutor::from(&txn);`: another name for `tx`.
                self.cx.open_tx.push(OpenTx {
                    index,
                    handle: name.clone(),
                    scope: self.cx.scopes.len(),
                });
            }
            if let Some(model) = self.model_for(&l.pat, &init.expr, &t) {
                if let Some(s) = self.cx.scopes.last_mut() {
                    s.models.insert(name.clone(), model);
                }
            }
        }
        for n in names {
            self.declare(n, t.clone());
        }
    }

    fn model_for(&self, pat: &Pat, init: &Expr, t: &Taint) -> Option<Model> {
        if let Expr::Struct(s) = strip(init) {
            let segs: Vec<String> = s
                .path
                .segments
                .iter()
                .map(|s| s.ident.to_string())
                .collect();
            return Some(Model {
                table: clients::sea_orm::model_table(&segs),
                fields: s
                    .fields
                    .iter()
                    .filter_map(|f| match &f.member {
                        syn::Member::Named(m) => Some((m.to_string(), f.expr.clone())),
                        syn::Member::Unnamed(_) => None,
                    })
                    .collect(),
                key: None,
            });
        }
        // A model converted from a row read earlier (`found.into()`,
        // `found.into_active_model()`): the read's table, keyed by that row.
        let read = t
            .effects
            .iter()
            .filter_map(|&i| self.cx.f.effects.get(i))
            .find(|e| e.kind == EffectKind::Read);
        let key = read.and_then(|_| {
            let root = root_path_expr(init)?;
            let text = format!("{}.id", self.source(self.span_of(root)));
            Some((root.clone(), text))
        });
        if let Pat::Type(pt) = pat {
            if let syn::Type::Path(tp) = &*pt.ty {
                let segs: Vec<String> = tp
                    .path
                    .segments
                    .iter()
                    .map(|s| s.ident.to_string())
                    .collect();
                if let Some(table) = clients::sea_orm::model_table(&segs) {
                    return Some(Model {
                        table: Some(table),
                        fields: Vec::new(),
                        key,
                    });
                }
            }
        }
        Some(Model {
            table: Some(read?.table.clone()?),
            fields: Vec::new(),
            key,
        })
    }

    // ---- expressions ----

    fn expr(&mut self, e: &Expr, pos: Pos) -> Taint {
        match e {
            Expr::MethodCall(_)
            | Expr::Await(_)
            | Expr::Try(_)
            | Expr::Field(_)
            | Expr::Call(_)
            | Expr::Macro(_) => self.chain(e, pos),
            Expr::Path(p) => match p.path.get_ident() {
                Some(id) => self.var_use(&id.to_string(), pos),
                None => Taint::default(),
            },
            Expr::Lit(_) | Expr::Continue(_) | Expr::Verbatim(_) | Expr::Infer(_) => {
                Taint::default()
            }
            Expr::Array(a) => self.exprs(a.elems.iter()),
            Expr::Tuple(t) => self.exprs(t.elems.iter()),
            Expr::Assign(a) => {
                let t = self.expr(&a.right, PLAIN);
                self.assign(&a.left, &a.right, t.clone(), true);
                Taint::default()
            }
            Expr::Binary(b) => {
                let mut t = self.expr(&b.left, PLAIN);
                t.add(self.expr(&b.right, PLAIN));
                use syn::BinOp::*;
                match b.op {
                    Eq(_) | Ne(_) | Lt(_) | Le(_) | Gt(_) | Ge(_) => self.mark_counts(&t),
                    AddAssign(_) | SubAssign(_) | MulAssign(_) | DivAssign(_) => {
                        self.assign(&b.left, &b.right, t.clone(), false);
                    }
                    _ => {}
                }
                t
            }
            Expr::Async(a) => self.inline_body(|me| me.block(&a.block, TAIL)),
            Expr::Block(b) => self.block(&b.block, pos),
            Expr::Unsafe(b) => self.block(&b.block, pos),
            Expr::Const(b) => self.block(&b.block, pos),
            Expr::TryBlock(b) => self.block(&b.block, pos),
            Expr::Break(b) => b
                .expr
                .as_ref()
                .map(|e| self.expr(e, PLAIN))
                .unwrap_or_default(),
            Expr::Return(r) => {
                let t = r
                    .expr
                    .as_ref()
                    .map(|e| self.expr(e, TAIL))
                    .unwrap_or_default();
                self.note_returned(&t);
                t
            }
            Expr::Yield(y) => y
                .expr
                .as_ref()
                .map(|e| self.expr(e, PLAIN))
                .unwrap_or_default(),
            Expr::Cast(c) => self.expr(&c.expr, pos),
            Expr::Group(g) => self.expr(&g.expr, pos),
            Expr::Paren(p) => self.expr(&p.expr, pos),
            Expr::Reference(r) => self.expr(&r.expr, pos),
            Expr::Unary(u) => self.expr(&u.expr, pos),
            Expr::Closure(c) => self.closure_inline(c, Taint::default()),
            Expr::If(i) => self.if_expr(i, pos),
            Expr::Match(m) => self.match_expr(m, pos),
            Expr::While(w) => {
                self.push_scope();
                let c = self.cond(&w.cond);
                self.mark_counts(&c);
                let guards = self.guards_from(&c, &w.cond);
                self.in_loop_body(&guards, |me| me.block(&w.body, PLAIN));
                self.pop_scope();
                Taint::default()
            }
            Expr::ForLoop(f) => {
                let t = self.expr(&f.expr, PLAIN);
                self.push_scope();
                for n in pat_idents(&f.pat) {
                    self.declare(n, t.clone());
                }
                self.in_loop_body(&[], |me| me.block(&f.body, PLAIN));
                self.pop_scope();
                Taint::default()
            }
            Expr::Loop(l) => {
                self.in_loop_body(&[], |me| me.block(&l.body, PLAIN));
                Taint::default()
            }
            Expr::Index(i) => {
                let mut t = self.expr(&i.expr, PLAIN);
                t.add(self.expr(&i.index, PLAIN));
                t
            }
            Expr::Let(l) => self.expr(&l.expr, PLAIN),
            Expr::Range(r) => {
                let mut t = Taint::default();
                for e in [&r.start, &r.end].into_iter().flatten() {
                    t.add(self.expr(e, PLAIN));
                }
                t
            }
            Expr::Repeat(r) => self.expr(&r.expr, PLAIN),
            Expr::Struct(s) => {
                self.record_construction(s);
                let mut t = self.exprs(s.fields.iter().map(|f| &f.expr));
                if let Some(rest) = &s.rest {
                    t.add(self.expr(rest, PLAIN));
                }
                t
            }
            _ => Taint::default(),
        }
    }

    fn exprs<'a>(&mut self, es: impl Iterator<Item = &'a Expr>) -> Taint {
        let mut t = Taint::default();
        for e in es {
            t.add(self.expr(e, PLAIN));
        }
        t
    }

    fn var_use(&mut self, name: &str, pos: Pos) -> Taint {
        if pos.tail || self.cx.joined > 0 {
            if let Some(ids) = self.cx.pending.remove(name) {
                for i in ids {
                    self.cx.f.effects[i].completion = Completion::Returned;
                }
            }
        }
        self.lookup(name)
    }

    fn assign(&mut self, left: &Expr, right: &Expr, t: Taint, replace: bool) {
        match strip(left) {
            Expr::Path(p) => {
                if let Some(id) = p.path.get_ident() {
                    self.taint_var(&id.to_string(), t, replace);
                }
            }
            Expr::Field(f) => {
                let mut base = &*f.base;
                while let Expr::Field(inner) = base {
                    base = &inner.base;
                }
                if let Expr::Path(p) = base {
                    if let Some(id) = p.path.get_ident() {
                        let var = id.to_string();
                        self.taint_var(&var, t, false);
                        if let (syn::Member::Named(m), true) =
                            (&f.member, matches!(&*f.base, Expr::Path(_)))
                        {
                            let value = if replace {
                                right.clone()
                            } else {
                                // `acct.balance -= amount` writes `balance - amount`.
                                syn::parse_quote!(#left - #right)
                            };
                            if let Some(model) = self.model_mut(&var) {
                                model.fields.retain(|(c, _)| m != c);
                                model.fields.push((m.to_string(), value));
                            }
                        }
                    }
                }
            }
            Expr::Index(i) => {
                let mut t2 = t;
                t2.add(self.peek(&i.index));
                self.assign(&i.expr, right, t2, false);
            }
            _ => {}
        }
    }

    /// The body of a closure or async block lowered where it is written: a
    /// `return` inside leaves only the closure.
    fn inline_body<R>(&mut self, f: impl FnOnce(&mut Self) -> R) -> R {
        let saved_fn = self.cx.fn_depth;
        let saved_loops = std::mem::take(&mut self.cx.loop_depths);
        let r = self.nested(None, &[], |me| {
            me.cx.fn_depth = me.cx.depth;
            f(me)
        });
        self.cx.fn_depth = saved_fn;
        self.cx.loop_depths = saved_loops;
        r
    }

    fn closure_inline(&mut self, c: &syn::ExprClosure, params: Taint) -> Taint {
        self.push_scope();
        for p in &c.inputs {
            for n in pat_idents(p) {
                self.declare(n, params.clone());
            }
        }
        let t = self.inline_body(|me| me.expr(&c.body, TAIL));
        self.pop_scope();
        t
    }

    fn cond(&mut self, e: &Expr) -> Taint {
        match e {
            Expr::Let(l) => {
                let t = self.expr(&l.expr, PLAIN);
                for n in pat_idents(&l.pat) {
                    self.declare(n, t.clone());
                }
                t
            }
            Expr::Binary(b) if matches!(b.op, syn::BinOp::And(_) | syn::BinOp::Or(_)) => {
                let mut t = self.cond(&b.left);
                t.add(self.cond(&b.right));
                t
            }
            Expr::Paren(p) => self.cond(&p.expr),
            _ => self.expr(e, PLAIN),
        }
    }

    fn if_expr(&mut self, x: &syn::ExprIf, pos: Pos) -> Taint {
        let b = self.new_branch();
        self.push_scope();
        let c = self.cond(&x.cond);
        self.mark_counts(&c);
        if let Expr::Let(l) = &*x.cond {
            // `if let Err(e) = write { … UniqueViolation … }`
            if self.mentions_unique(&x.then_branch) || self.mentions_unique(&l.pat) {
                self.mark_unique(&c);
            }
        }
        let guards = self.guards_from(&c, &x.cond);
        let mut t = self.nested(Some(Arm { branch: b, arm: 0 }), &guards, |me| {
            me.block(&x.then_branch, pos)
        });
        self.pop_scope();
        if let Some((_, e)) = &x.else_branch {
            let et = self.nested(Some(Arm { branch: b, arm: 1 }), &guards, |me| {
                me.expr(e, pos)
            });
            t.add(et);
        }
        let then_exit = block_exit(&x.then_branch);
        let else_exit = x.else_branch.as_ref().and_then(|(_, e)| expr_exit(e));
        match (then_exit, else_exit) {
            (Some(k), None) | (None, Some(k)) => self.exit_guards(guards, k),
            _ => {}
        }
        // `let slug = if taken { … } else { base }`: the read chose the value.
        let chosen: Vec<usize> = c
            .effects
            .iter()
            .copied()
            .filter(|&r| self.is_plain_read(r))
            .collect();
        t.chosen.extend(chosen);
        t.add(c);
        t
    }

    fn match_expr(&mut self, m: &syn::ExprMatch, pos: Pos) -> Taint {
        let s = self.expr(&m.expr, PLAIN);
        self.mark_counts(&s);
        if m.arms.iter().any(|a| self.mentions_unique(a)) {
            self.mark_unique(&s);
        }
        let b = self.new_branch();
        let base = self.guards_from(&s, &m.expr);
        let mut t = s.clone();
        let mut exits = Vec::new();
        for (i, arm) in m.arms.iter().enumerate() {
            self.push_scope();
            for n in pat_idents(&arm.pat) {
                self.declare(n, s.clone());
            }
            let mut guards = base.clone();
            if let Some((_, g)) = &arm.guard {
                let gt = self.expr(g, PLAIN);
                self.mark_counts(&gt);
                guards.extend(self.guards_from(&gt, g));
            }
            let arm_id = Arm {
                branch: b,
                arm: i as u32,
            };
            let at = self.nested(Some(arm_id), &guards, |me| me.expr(&arm.body, pos));
            self.pop_scope();
            exits.push(expr_exit(&arm.body));
            t.add(at);
        }
        let diverging: Vec<Exit> = exits.iter().flatten().copied().collect();
        if !diverging.is_empty() && diverging.len() < exits.len() {
            self.exit_guards(base, diverging[0]);
        }
        t
    }

    fn mark_unique(&mut self, t: &Taint) {
        for &i in t.effects.iter().chain(&t.counts) {
            if let Some(e) = self.cx.f.effects.get_mut(i) {
                if may_write(e.kind) {
                    e.unique_violation_handled = true;
                }
            }
        }
    }

    fn mac(&mut self, mac: &syn::Macro, pos: Pos) -> Taint {
        let name = clients::macro_name(mac);
        let Some(args) = clients::macro_args(mac) else {
            // Not expressions (`json!({…})`, `matches!(x, P)`, custom syntax):
            // keep the data flow of the variables it names, lower nothing.
            let mut t = Taint::default();
            for i in token_idents(mac.tokens.clone()) {
                t.add(self.lookup(&i));
            }
            return t;
        };
        let joins = matches!(name.as_str(), "join" | "try_join" | "select");
        if joins {
            self.cx.joined += 1;
        }
        let mut t = Taint::default();
        let mut first = Taint::default();
        for (i, a) in args.iter().enumerate() {
            let at = self.expr(a, PLAIN);
            if i == 0 {
                first = at.clone();
            }
            t.add(at);
        }
        if joins {
            self.cx.joined -= 1;
        }
        match name.as_str() {
            "ensure" | "assert" | "assert_eq" | "assert_ne" => {
                self.mark_counts(&t);
                let cond_t = if name == "ensure" || name == "assert" {
                    first
                } else {
                    t.clone()
                };
                if let Some(cond) = args.first() {
                    let guards = self.guards_from(&cond_t, cond);
                    self.exit_guards(guards, Exit::Return);
                }
                Taint::default()
            }
            _ => {
                let _ = pos;
                t
            }
        }
    }

    // ---- call chains ----

    fn chain(&mut self, e: &Expr, pos: Pos) -> Taint {
        let chain = Chain::flatten(e);
        let op = {
            let sql_of = |e: &Expr| -> Option<String> {
                clients::str_lit(e).or_else(|| {
                    let id = root_ident(strip_ref(e))?;
                    self.cx
                        .sql_vars
                        .get(&id)
                        .or_else(|| self.consts.get(&id))
                        .cloned()
                })
            };
            clients::recognize(&self.features, &chain, &sql_of)
        };
        let mut t = self.root(chain.root, &chain, pos, op.is_some());
        let mut created: Vec<usize> = Vec::new();
        // A value that makes the next `?` (or `unwrap`) leave when a row is missing.
        let mut missing: Option<Taint> = None;
        let mut awaited_root = false;
        for (i, step) in chain.steps.iter().enumerate() {
            match step {
                Step::Method(m) => {
                    let name = m.method.to_string();
                    let is_op = op.as_ref().is_some_and(|o| o.step == i);
                    if is_op {
                        let op = op.as_ref().expect("checked");
                        self.op_args(op, m);
                        created = self.emit(op, &chain, e, pos);
                        t = Taint::default();
                        for &c in &created {
                            if op.counts && may_write(self.cx.f.effects[c].kind) {
                                t.counts.insert(c);
                            } else {
                                t.effects.insert(c);
                            }
                        }
                        let throws: Vec<usize> = created
                            .iter()
                            .copied()
                            .filter(|&c| self.cx.f.effects[c].throws_if_missing)
                            .collect();
                        if !throws.is_empty() {
                            missing = Some(Taint {
                                effects: throws.into_iter().collect(),
                                counts: BTreeSet::new(),
                                chosen: BTreeSet::new(),
                            });
                        }
                        continue;
                    }
                    if i == 0 {
                        if let Some(callee) = self.self_method(chain.root, &name) {
                            let at = self.exprs(m.args.iter());
                            let qualified = self.receiver_candidates(&chain, i, &name);
                            let result = self.local_call(callee, qualified, e, m);
                            t.add(at);
                            t.effects.insert(result);
                            continue;
                        }
                    }
                    let at = self.method_args(&name, m, &t);
                    match name.as_str() {
                        "rows_affected" => {
                            let writes: Vec<usize> = t
                                .effects
                                .iter()
                                .copied()
                                .filter(|&w| may_write(self.cx.f.effects[w].kind))
                                .collect();
                            for w in writes {
                                t.effects.remove(&w);
                                t.counts.insert(w);
                            }
                        }
                        "ok_or" | "ok_or_else" | "context" | "with_context" | "ok_or_eyre" => {
                            let reads: BTreeSet<usize> = t
                                .effects
                                .iter()
                                .copied()
                                .filter(|&r| self.is_readlike(r))
                                .collect();
                            if !reads.is_empty() && missing.is_none() {
                                missing = Some(Taint {
                                    effects: reads,
                                    counts: BTreeSet::new(),
                                    chosen: BTreeSet::new(),
                                });
                            }
                        }
                        "unwrap" | "expect" => {
                            if let Some(m) = missing.take() {
                                self.leave_if_missing(m, e, &created);
                            }
                        }
                        "map_err" | "or_else" | "map_or_else" | "unwrap_or_else"
                        | "inspect_err" => {
                            if self.mentions_unique(&m.args) {
                                let tt = t.clone();
                                self.mark_unique(&tt);
                            }
                        }
                        "wrap_err" | "into" => {}
                        _ => {
                            missing = None;
                            t.add(at);
                            let qualified = self.receiver_candidates(&chain, i, &name);
                            if !qualified.is_empty() {
                                let args = std::iter::once(&*m.receiver).chain(m.args.iter());
                                self.push_call(String::new(), qualified, self.span_of(m), args);
                            }
                        }
                    }
                }
                Step::Await => {
                    if i == 0 {
                        awaited_root = true;
                    }
                }
                Step::Try(tr) => {
                    if let Some(m) = missing.take() {
                        self.leave_if_missing(m, &Expr::Try((*tr).clone()), &created);
                    }
                }
                Step::Field(f) => {
                    if matches!(&f.member, syn::Member::Named(n) if n == "rows_affected") {
                        let writes: Vec<usize> = t
                            .effects
                            .iter()
                            .copied()
                            .filter(|&w| may_write(self.cx.f.effects[w].kind))
                            .collect();
                        for w in writes {
                            t.effects.remove(&w);
                            t.counts.insert(w);
                        }
                    }
                }
            }
        }
        if awaited_root {
            if let Some(id) = root_ident(chain.root) {
                if let Some(ids) = self.cx.pending.remove(&id) {
                    for i in ids {
                        self.cx.f.effects[i].completion = Completion::Awaited;
                    }
                }
            }
        }
        t
    }

    fn leave_if_missing(&mut self, m: Taint, at: &Expr, created: &[usize]) {
        for &r in &m.effects {
            if created.contains(&r) {
                self.cx.f.effects[r].throws_if_missing = true;
            }
        }
        let span = self.span_of(at);
        let guards = m
            .effects
            .iter()
            .map(|&r| Guard {
                read: r,
                span,
                fields: Vec::new(),
                field_spans: Vec::new(),
            })
            .collect();
        self.exit_guards(guards, Exit::Return);
    }

    /// The root of a chain: lowers a call's arguments or a macro's, or looks a variable up.
    /// `recognized`: a client's call chain, whose root no project function is.
    fn root(&mut self, r: &Expr, chain: &Chain, pos: Pos, recognized: bool) -> Taint {
        let tail = pos.tail && chain.steps.is_empty();
        match r {
            Expr::Call(c) => {
                let fname = match &*c.func {
                    Expr::Path(p) => clients::path_text(&p.path),
                    _ => String::new(),
                };
                let last = fname.rsplit("::").next().unwrap_or("").to_owned();
                let joins = matches!(
                    last.as_str(),
                    "join_all" | "try_join_all" | "join" | "try_join" | "spawn" | "block_on"
                );
                if last == "drop" && c.args.len() == 1 {
                    // `drop(tx)`: the transaction rolls back and ends here.
                    if let Some(index) = self.open_tx_of(&clients::handle_text(&c.args[0])) {
                        self.cx.open_tx.retain(|t| t.index != index);
                    }
                }
                let spawns = matches!(last.as_str(), "spawn" | "spawn_local" | "spawn_blocking");
                if joins {
                    self.cx.joined += 1;
                }
                if spawns {
                    self.cx.detached += 1;
                }
                let mut t = Taint::default();
                if !matches!(&*c.func, Expr::Path(_)) {
                    t.add(self.expr(&c.func, PLAIN));
                }
                t.add(self.exprs(c.args.iter()));
                if joins {
                    self.cx.joined -= 1;
                }
                if spawns {
                    self.cx.detached -= 1;
                }
                let qualified = self.path_candidates(&c.func);
                if clients::is_sleep(&fname, &qualified) {
                    let span = self.span_of(r);
                    let mut eff = Effect::new(EffectKind::Sleep, crate::ir::Client::Runtime, span);
                    eff.site = self.span(c.func.span());
                    eff.enclosing_transaction = self.enclosing_tx(None);
                    eff.guards = self.current_guards();
                    eff.arms = self.cx.arms.clone();
                    eff.in_loop = self.cx.in_loop > 0;
                    self.cx.f.effects.push(eff);
                    return t;
                }
                if let Some(callee) = self.local_fn(&fname) {
                    let span = self.span_of(r);
                    let result = self.record_call(callee, qualified, span, c.args.iter());
                    t.effects.insert(result);
                } else if !recognized && qualified.iter().any(|q| q.starts_with("crate::")) {
                    // A function of another module of this crate: its value may stand
                    // for what it returns (`if let Some(t) = tags::find(…)`).
                    let span = self.span_of(r);
                    let result = self.record_call(String::new(), qualified, span, c.args.iter());
                    t.effects.insert(result);
                } else if !recognized && !qualified.is_empty() {
                    self.push_call(String::new(), qualified, self.span_of(r), c.args.iter());
                }
                t
            }
            Expr::Macro(m) => self.mac(&m.mac, Pos { tail }),
            Expr::Path(p) => match p.path.get_ident() {
                Some(id) => self.var_use(&id.to_string(), Pos { tail }),
                None => Taint::default(),
            },
            other => self.expr(other, Pos { tail }),
        }
    }

    fn local_fn(&self, path: &str) -> Option<String> {
        let segs: Vec<&str> = path.split("::").collect();
        match segs.as_slice() {
            [f] if self.free_fns.contains(*f) => Some((*f).to_owned()),
            ["Self", m] => {
                let ty = self.self_ty.clone()?;
                self.methods
                    .contains(&(ty.clone(), (*m).to_owned()))
                    .then(|| format!("{ty}::{m}"))
            }
            [ty, m] if self.methods.contains(&((*ty).to_owned(), (*m).to_owned())) => {
                Some(format!("{ty}::{m}"))
            }
            ["crate" | "self" | "super", .., f] if self.free_fns.contains(*f) => {
                Some((*f).to_owned())
            }
            _ => None,
        }
    }

    fn self_method(&self, root: &Expr, name: &str) -> Option<String> {
        let Expr::Path(p) = root else { return None };
        if !p.path.is_ident("self") {
            return None;
        }
        let ty = self.self_ty.clone()?;
        self.methods
            .contains(&(ty.clone(), name.to_owned()))
            .then(|| format!("{ty}::{name}"))
    }

    /// The paths a call of `func` (`Person::create`, `db::insert`) may name.
    fn path_candidates(&self, func: &Expr) -> Vec<String> {
        let Expr::Path(p) = strip(func) else {
            return Vec::new();
        };
        let segs = names::segments(&p.path);
        if p.qself.is_some() || !names::names_function(&segs) {
            return Vec::new();
        }
        self.names
            .resolve(&self.mod_path, &segs, &self.self_paths)
            .iter()
            .map(|c| c.join("::"))
            .collect()
    }

    /// A struct literal's named fields and what fills them, for the project stage.
    fn record_construction(&mut self, s: &syn::ExprStruct) {
        let segs = names::segments(&s.path);
        let ty: Vec<String> = self
            .names
            .resolve(&self.mod_path, &segs, &self.self_paths)
            .iter()
            .map(|c| c.join("::"))
            .collect();
        let fields: Vec<(String, String, Option<usize>)> = s
            .fields
            .iter()
            .filter_map(|f| match &f.member {
                syn::Member::Named(name) => {
                    let code = clients::handle_text(&f.expr);
                    let tx = self.tx_of(&code);
                    Some((name.to_string(), code, tx))
                }
                syn::Member::Unnamed(_) => None,
            })
            .collect();
        if !ty.is_empty() && !fields.is_empty() {
            self.cx.f.constructions.push(Construction { ty, fields });
        }
    }

    /// The paths method `method`, called at step `i` of `chain`, may name: by the
    /// type of the variable or field it is called on (`self.repo.save(…)`).
    fn receiver_candidates(&self, chain: &Chain, i: usize, method: &str) -> Vec<String> {
        let Some(var) = root_ident(chain.root) else {
            return Vec::new();
        };
        let Some(mut ty) = self.type_of(&var).cloned() else {
            return Vec::new();
        };
        for step in &chain.steps[..i] {
            let Step::Field(syn::ExprField {
                member: syn::Member::Named(field),
                ..
            }) = step
            else {
                return Vec::new();
            };
            let owner = match (ty.as_slice(), &self.self_ty) {
                ([only], Some(self_ty)) if only == "Self" => vec![self_ty.clone()],
                _ => ty,
            };
            match self.names.field_type(&owner, &field.to_string()) {
                Some(t) => ty = t.clone(),
                None => return Vec::new(),
            }
        }
        ty.push(method.to_string());
        self.names
            .resolve(&self.mod_path, &ty, &self.self_paths)
            .iter()
            .map(|c| c.join("::"))
            .collect()
    }

    fn local_call(
        &mut self,
        callee: String,
        qualified: Vec<String>,
        whole: &Expr,
        m: &syn::ExprMethodCall,
    ) -> usize {
        let span = self.span_of(whole);
        let site = self.span(m.method.span());
        // The receiver is the callee's first parameter (`self`).
        let args = std::iter::once(&*m.receiver).chain(m.args.iter());
        let result = self.record_call(callee, qualified, span, args);
        self.cx.f.effects[result].site = site;
        result
    }

    /// Records a call to a function of this file, and the `CallResult` effect that
    /// stands for its value (the inliner turns it into the read the callee
    /// returns, see `ir::inline`); returns that effect's index.
    fn record_call<'a>(
        &mut self,
        callee: String,
        qualified: Vec<String>,
        span: Span,
        args: impl Iterator<Item = &'a Expr>,
    ) -> usize {
        let transaction = self.push_call(callee, qualified, span, args);
        let mut eff = Effect::new(EffectKind::CallResult, crate::ir::Client::Runtime, span);
        eff.site = span;
        eff.guards = self.current_guards();
        eff.arms = self.cx.arms.clone();
        eff.in_loop = self.cx.in_loop > 0;
        eff.enclosing_transaction = self.enclosing_tx(transaction);
        let index = self.cx.f.effects.len();
        self.cx.f.effects.push(eff);
        if let Some(call) = self.cx.f.calls.last_mut() {
            call.result = Some(index);
        }
        index
    }

    /// Adds the call to the function's calls; returns the transaction its
    /// arguments pass.
    fn push_call<'a>(
        &mut self,
        callee: String,
        qualified: Vec<String>,
        span: Span,
        args: impl Iterator<Item = &'a Expr>,
    ) -> Option<usize> {
        let args: Vec<String> = args.map(clients::handle_text).collect();
        let transaction = args.iter().find_map(|h| self.tx_of(h));
        self.cx.f.calls.push(LocalCall {
            callee,
            qualified,
            span,
            transaction,
            arms: self.cx.arms.clone(),
            guards: self.current_guards(),
            position: self.cx.f.effects.len(),
            args,
            keywords: Vec::new(),
            arg_reads: Vec::new(),
            result: None,
            callbacks: Vec::new(),
            in_loop: self.cx.in_loop > 0,
        });
        transaction
    }

    /// Lowers a method's arguments; closures passed to iteration adapters run in a loop
    /// with their parameters tainted by the receiver.
    fn method_args(&mut self, name: &str, m: &syn::ExprMethodCall, recv: &Taint) -> Taint {
        let mut t = Taint::default();
        let iterates = ITERATION.contains(&name);
        for a in &m.args {
            match strip(a) {
                Expr::Closure(c) => {
                    let at = if iterates {
                        self.cx.in_loop += 1;
                        let r = self.closure_inline(c, recv.clone());
                        self.cx.in_loop -= 1;
                        r
                    } else {
                        self.closure_inline(c, recv.clone())
                    };
                    t.add(at);
                }
                _ => t.add(self.expr(a, PLAIN)),
            }
        }
        t
    }

    /// Lowers the arguments of the step that runs the query; a transaction
    /// callback's closure is lowered inside its new transaction.
    fn op_args(&mut self, op: &Op, m: &syn::ExprMethodCall) -> Taint {
        let mut t = Taint::default();
        for (j, a) in m.args.iter().enumerate() {
            match (&op.kind, strip(a)) {
                (
                    OpKind::TxCallback {
                        closure,
                        serializable,
                    },
                    Expr::Closure(c),
                ) if *closure == j => {
                    let handle = c
                        .inputs
                        .first()
                        .and_then(|p| pat_idents(p).into_iter().next());
                    let span = self.span_of(m);
                    let index = self.cx.f.add_transaction(Transaction {
                        style: TransactionStyle::Callback,
                        client: op.client,
                        span,
                        handle: handle.clone(),
                        serializable: *serializable,
                        parent: self.tx_of(&op.executor),
                    });
                    self.cx.open_tx.push(OpenTx {
                        index,
                        handle: handle.unwrap_or_default(),
                        scope: usize::MAX,
                    });
                    t.add(self.closure_inline(c, Taint::default()));
                    self.cx.open_tx.retain(|o| o.index != index);
                }
                _ => t.add(self.expr(a, PLAIN)),
            }
        }
        t
    }

    /// Records what the op does: effects, or the start or end of a transaction.
    fn emit(&mut self, op: &Op, chain: &Chain, whole: &Expr, pos: Pos) -> Vec<usize> {
        let span = self.span_of(whole);
        match &op.kind {
            OpKind::TxBegin { serializable } => {
                self.cx.tx_begin = Some(PendingTx {
                    client: op.client,
                    span,
                    serializable: *serializable,
                    parent: self.tx_of(&op.executor),
                });
                Vec::new()
            }
            OpKind::SqlBegin { serializable } => {
                let index = self.cx.f.add_transaction(Transaction {
                    style: TransactionStyle::Explicit,
                    client: op.client,
                    span,
                    handle: Some(op.executor.clone()),
                    serializable: *serializable,
                    parent: None,
                });
                self.cx.open_tx.push(OpenTx {
                    index,
                    handle: op.executor.clone(),
                    scope: self.cx.scopes.len(),
                });
                Vec::new()
            }
            OpKind::TxEnd => {
                let h = op.executor.clone();
                if let Some(pos) = self.cx.open_tx.iter().rposition(|t| t.handle == h) {
                    // With the names it had (`let conn = &mut *tx;`).
                    let index = self.cx.open_tx[pos].index;
                    self.cx.open_tx.retain(|t| t.index != index);
                }
                Vec::new()
            }
            OpKind::TxCallback { .. } => Vec::new(),
            OpKind::Effects(specs) => {
                let awaited = chain.awaited_after(op.step);
                let completion = if !op.is_async || awaited {
                    Completion::Awaited
                } else if pos.tail || self.cx.joined > 0 {
                    Completion::Returned
                } else {
                    Completion::Floating
                };
                let site = self.span(op.site);
                let mut out = Vec::new();
                for spec in specs {
                    let mut eff = Effect::new(spec.kind, op.client, span);
                    self.fill(&mut eff, spec);
                    eff.completion = completion;
                    eff.handle = op.executor.clone();
                    eff.transaction = self.tx_of(&op.executor);
                    eff.enclosing_transaction = self.enclosing_tx(eff.transaction);
                    eff.guards = self.current_guards();
                    eff.arms = self.cx.arms.clone();
                    eff.in_loop = self.cx.in_loop > 0;
                    eff.site = site;
                    out.push(self.cx.f.effects.len());
                    self.cx.f.effects.push(eff);
                }
                out
            }
        }
    }

    fn fill(&self, eff: &mut Effect, spec: &EffectSpec) {
        eff.table = spec.table.clone();
        eff.many = spec.many;
        eff.on_conflict = spec.on_conflict;
        eff.row_lock = spec.row_lock;
        eff.tally.clone_from(&spec.tally);
        eff.routines.clone_from(&spec.routines);
        eff.throws_if_missing = spec.throws_if_missing;
        let mut filter: Vec<FieldSpec> = spec.filter.clone();
        let mut values: Vec<FieldSpec> = spec.values.clone();
        if let Some(var) = &spec.model {
            if let Some(model) = self.model(var) {
                if eff.table.is_none() {
                    eff.table = model.table.clone();
                }
                let keyed = matches!(eff.kind, EffectKind::Update | EffectKind::Delete);
                if let Some((row, text)) = &model.key {
                    if keyed && !filter.iter().any(|f| f.column == "id") {
                        filter.push(FieldSpec {
                            text: Some(text.clone()),
                            ..FieldSpec::new("id", vec![row.clone()])
                        });
                    }
                }
                if values.is_empty() {
                    for (c, e) in &model.fields {
                        let fs = FieldSpec {
                            literal: clients::is_literal(e),
                            ..FieldSpec::new(c.clone(), vec![e.clone()])
                        };
                        let keyed = matches!(eff.kind, EffectKind::Update | EffectKind::Delete);
                        if keyed && c == "id" {
                            filter.push(fs);
                        } else if eff.kind != EffectKind::Delete {
                            values.push(fs);
                        }
                    }
                }
            } else if values.is_empty()
                && matches!(eff.kind, EffectKind::Insert | EffectKind::Upsert)
            {
                // `.values(&rows)` of rows built elsewhere (`skus.iter().map(…)`): their
                // columns are unknown, but what they carry from earlier effects is not.
                // The column stays empty, so that no rule matches it by name.
                if let Ok(rows) = syn::parse_str::<syn::Expr>(var) {
                    values.push(FieldSpec::new("", vec![rows]));
                }
            }
        }
        eff.filter = filter
            .iter()
            .map(|f| crate::ir::Field {
                column: f.column.clone(),
                value: self.value(f),
            })
            .collect();
        eff.values = values
            .iter()
            .map(|f| crate::ir::Field {
                column: f.column.clone(),
                value: self.value(f),
            })
            .collect();
    }

    fn value(&self, f: &FieldSpec) -> Value {
        let mut reads = BTreeSet::new();
        let mut chosen = BTreeSet::new();
        let mut vars = Vec::new();
        for e in &f.exprs {
            chosen.extend(self.peek(e).chosen);
            // What a value carries from earlier effects: rows read, and the rows an
            // insert or update returned (`RETURNING id`, `get_result`), which make a
            // later write depend on that one.
            reads.extend(
                self.peek(e)
                    .effects
                    .into_iter()
                    .filter(|&r| self.is_readlike(r) || self.returns_written_row(r)),
            );
            let mut ids = Vec::new();
            collect_idents(e, &mut ids);
            for i in ids {
                if !vars.contains(&i) {
                    vars.push(i);
                }
            }
        }
        let text = match &f.text {
            Some(t) => t.clone(),
            None => f
                .exprs
                .iter()
                .map(|e| self.source(self.span_of(clients::set_inner(e))))
                .collect::<Vec<_>>()
                .join(", "),
        };
        Value {
            reads: reads.into_iter().collect(),
            chosen_by: chosen.into_iter().collect(),
            vars,
            atomic: f.atomic,
            literal: f.literal || (!f.exprs.is_empty() && f.exprs.iter().all(clients::is_literal)),
            text: shorten(&text),
        }
    }
}

// ---- syntax helpers ----

/// The type a `let` initializer constructs: a struct literal (`User { … }`) or a
/// constructor call (`PgRepo::new(pool)`, `Repo::from_conn(c).await?`).
fn constructed_type(init: &Expr) -> Option<Vec<String>> {
    let mut e = strip(init);
    loop {
        e = match e {
            Expr::Try(t) => strip(&t.expr),
            Expr::Await(a) => strip(&a.base),
            Expr::MethodCall(m) if matches!(m.method.to_string().as_str(), "unwrap" | "expect") => {
                strip(&m.receiver)
            }
            _ => break,
        };
    }
    match e {
        Expr::Struct(s) => Some(names::segments(&s.path)).filter(|p| !names::names_function(p)),
        Expr::Call(c) => {
            let Expr::Path(p) = &*c.func else { return None };
            let mut path = names::segments(&p.path);
            let f = path.pop()?;
            let ctor = f == "new"
                || f == "default"
                || f.starts_with("new_")
                || f.starts_with("from")
                || f.starts_with("with_");
            (ctor && !path.is_empty() && !names::names_function(&path)).then_some(path)
        }
        _ => None,
    }
}

fn type_name(ty: &syn::Type) -> String {
    match ty {
        syn::Type::Path(p) => p
            .path
            .segments
            .last()
            .map(|s| s.ident.to_string())
            .unwrap_or_default(),
        syn::Type::Reference(r) => type_name(&r.elem),
        _ => "impl".into(),
    }
}

/// Whether an item is test code: `#[test]` or a test runner's own (`#[tokio::test]`,
/// `#[sqlx::test]`, `#[async_std::test]`, `#[rstest]`, `#[test_case(…)]`), or
/// compiled for tests only (`#[cfg(test)]`, `#[cfg(all(test, …))]`; not
/// `#[cfg(not(test))]`).
fn is_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        let path = a.path();
        let last = path
            .segments
            .last()
            .map(|s| s.ident.to_string())
            .unwrap_or_default();
        if path.is_ident("cfg") {
            let tokens = match &a.meta {
                syn::Meta::List(l) => l.tokens.to_string(),
                _ => return false,
            };
            return !tokens.contains("not")
                && !tokens.contains("any")
                && tokens
                    .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .any(|w| w == "test");
        }
        matches!(last.as_str(), "test" | "rstest" | "test_case")
    })
}

/// Whether a parameter's type is a database transaction handle: a path (behind
/// any references) named `…Transaction` with lifetime or type arguments, as
/// `sqlx::Transaction<'_, Postgres>`, `PgTransaction<'c>`, an alias such as
/// `DbTransaction<'_, Postgres>` or `tokio_postgres::Transaction<'_>`, or SeaORM's
/// `DatabaseTransaction`. A domain type that merely mentions the word
/// (`TransactionId`, `NewTransaction`, `impl IntoIterator<Item = TransactionId>`)
/// is not one.
fn is_transaction_type(ty: &syn::Type) -> bool {
    match ty {
        syn::Type::Reference(r) => is_transaction_type(&r.elem),
        syn::Type::Paren(p) => is_transaction_type(&p.elem),
        syn::Type::Group(g) => is_transaction_type(&g.elem),
        syn::Type::Path(p) => p.path.segments.last().is_some_and(|s| {
            let name = s.ident.to_string();
            name == "DatabaseTransaction"
                || (name.ends_with("Transaction")
                    && matches!(s.arguments, syn::PathArguments::AngleBracketed(_)))
        }),
        _ => false,
    }
}

/// `&mut PgConnection`, `&mut SqliteConnection`, `&mut MySqlConnection`,
/// `&mut AnyConnection`: what sqlx code takes to run in the caller's transaction
/// (`&mut *tx` derefs to it). A `PoolConnection` is a pool's, and never one.
fn is_sqlx_connection_type(ty: &syn::Type) -> bool {
    let syn::Type::Reference(r) = ty else {
        return false;
    };
    r.mutability.is_some()
        && matches!(&*r.elem, syn::Type::Path(p) if p.path.segments.last().is_some_and(|s| matches!(
            s.ident.to_string().as_str(),
            "PgConnection" | "SqliteConnection" | "MySqlConnection" | "AnyConnection"
        )))
}

fn param_client(ty: &str, f: &Features) -> crate::ir::Client {
    use crate::ir::Client;
    if ty.contains("DatabaseTransaction") {
        Client::SeaOrm
    } else if f.sqlx
        && (ty.contains("Postgres")
            || ty.contains("Sqlite")
            || ty.contains("MySql")
            || ty.contains("'_"))
    {
        Client::Sqlx
    } else if f.tokio_postgres || f.postgres {
        Client::TokioPostgres
    } else {
        Client::Sqlx
    }
}

fn strip(e: &Expr) -> &Expr {
    match e {
        Expr::Paren(p) => strip(&p.expr),
        Expr::Group(g) => strip(&g.expr),
        _ => e,
    }
}

/// A write, or a call racelint could not classify (which may be one).
fn may_write(kind: EffectKind) -> bool {
    kind.is_write() || kind == EffectKind::Opaque
}

fn strip_ref(e: &Expr) -> &Expr {
    match e {
        Expr::Reference(r) => strip_ref(&r.expr),
        Expr::Paren(p) => strip_ref(&p.expr),
        _ => e,
    }
}

/// The variable at the root of a conversion chain: `found.into()` → `found`.
fn root_path_expr(e: &Expr) -> Option<&Expr> {
    match e {
        Expr::Path(p) if p.path.get_ident().is_some() => Some(e),
        Expr::MethodCall(m) if m.args.is_empty() => root_path_expr(&m.receiver),
        Expr::Reference(r) => root_path_expr(&r.expr),
        Expr::Paren(p) => root_path_expr(&p.expr),
        Expr::Call(c) if c.args.len() == 1 => root_path_expr(&c.args[0]),
        _ => None,
    }
}

/// The column a `let` takes out of a row: `seat.status`, `row.get("status")`,
/// `row.try_get("status")?`.
fn column_of_row(e: &Expr) -> Option<String> {
    match strip(e) {
        Expr::Try(t) => column_of_row(&t.expr),
        Expr::Reference(r) => column_of_row(&r.expr),
        Expr::MethodCall(m)
            if matches!(
                m.method.to_string().as_str(),
                "clone" | "to_owned" | "to_string" | "unwrap"
            ) =>
        {
            column_of_row(&m.receiver)
        }
        Expr::Field(f) => match (&*f.base, &f.member) {
            (Expr::Path(_), syn::Member::Named(n)) => Some(n.to_string()),
            _ => None,
        },
        Expr::MethodCall(m) if matches!(m.method.to_string().as_str(), "get" | "try_get") => {
            m.args.first().and_then(clients::str_lit)
        }
        _ => None,
    }
}

/// SQL a `let` binds: a literal, or `client.prepare("…")`.
fn sql_text(e: &Expr) -> Option<String> {
    if let Some(s) = clients::str_lit(e) {
        return Some(s);
    }
    let chain = Chain::flatten(e);
    let i = chain.find(0, &["prepare", "prepare_cached"])?;
    let (_, m) = chain.method(i)?;
    m.args.first().and_then(clients::str_lit)
}

fn root_ident(e: &Expr) -> Option<String> {
    match strip(e) {
        Expr::Path(p) => p.path.get_ident().map(|i| i.to_string()),
        _ => None,
    }
}

/// The names a pattern binds, in order.
fn pat_idents(p: &Pat) -> Vec<String> {
    struct Idents(Vec<String>);
    impl<'ast> Visit<'ast> for Idents {
        fn visit_pat_ident(&mut self, i: &'ast syn::PatIdent) {
            self.0.push(i.ident.to_string());
            syn::visit::visit_pat_ident(self, i);
        }
    }
    let mut v = Idents(Vec::new());
    v.visit_pat(p);
    v.0
}

/// Every plain variable an expression names (`input.id` → `input`), in order.
fn collect_idents(e: &Expr, out: &mut Vec<String>) {
    struct Idents<'a>(&'a mut Vec<String>);
    impl<'ast> Visit<'ast> for Idents<'_> {
        fn visit_expr_path(&mut self, p: &'ast syn::ExprPath) {
            if let Some(id) = p.path.get_ident() {
                let s = id.to_string();
                if !s.starts_with(char::is_uppercase) && !self.0.contains(&s) {
                    self.0.push(s);
                }
            }
        }
        fn visit_macro(&mut self, m: &'ast syn::Macro) {
            for s in token_idents(m.tokens.clone()) {
                if !self.0.contains(&s) {
                    self.0.push(s);
                }
            }
        }
    }
    Idents(out).visit_expr(e);
}

fn token_idents(ts: proc_macro2::TokenStream) -> Vec<String> {
    let mut out = Vec::new();
    for tt in ts {
        match tt {
            proc_macro2::TokenTree::Ident(i) => {
                let s = i.to_string();
                if !s.starts_with(char::is_uppercase) {
                    out.push(s);
                }
            }
            proc_macro2::TokenTree::Group(g) => out.extend(token_idents(g.stream())),
            _ => {}
        }
    }
    out
}

fn shorten(s: &str) -> String {
    let one: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() > 80 {
        let mut t: String = one.chars().take(77).collect();
        t.push('…');
        t
    } else {
        one
    }
}

/// How a block leaves, if every path through its end leaves early.
fn block_exit(b: &Block) -> Option<Exit> {
    b.stmts.iter().find_map(|s| match s {
        Stmt::Expr(e, _) => expr_exit(e),
        Stmt::Macro(m) => macro_exit(&m.mac),
        _ => None,
    })
}

fn expr_exit(e: &Expr) -> Option<Exit> {
    match e {
        Expr::Return(_) => Some(Exit::Return),
        Expr::Continue(_) | Expr::Break(_) => Some(Exit::Loop),
        Expr::Macro(m) => macro_exit(&m.mac),
        Expr::Block(b) => block_exit(&b.block),
        Expr::Paren(p) => expr_exit(&p.expr),
        Expr::If(i) => {
            let t = block_exit(&i.then_branch)?;
            let (_, e) = i.else_branch.as_ref()?;
            expr_exit(e).map(|x| {
                if x == Exit::Return && t == Exit::Return {
                    t
                } else {
                    Exit::Loop
                }
            })
        }
        Expr::Call(c) => match &*c.func {
            Expr::Path(p) if clients::path_text(&p.path).ends_with("process::exit") => {
                Some(Exit::Return)
            }
            _ => None,
        },
        _ => None,
    }
}

fn macro_exit(m: &syn::Macro) -> Option<Exit> {
    matches!(
        clients::macro_name(m).as_str(),
        "bail" | "panic" | "unreachable" | "todo" | "unimplemented"
    )
    .then_some(Exit::Return)
}
