//! Lowers a TypeScript syntax tree into the effect model, one function at a time.
//!
//! The walk follows evaluation order and keeps, per function, an environment from
//! variable names to the reads their values came from (taint). Conditions that
//! depend on a read become [`Guard`]s of every effect they decide: inside the
//! branch, after an early `return`/`throw`, on the right of `??`/`||`/`&&`, and
//! after an `OrThrow` read. Transaction helpers recognised by a client are lowered
//! inline, with their callback's first parameter as the transaction handle.
//!
//! Which nested functions are lowered inline: callbacks handed to a call that is
//! awaited or returned (they run as part of this function: `withLock(key, async
//! () => …)`), iteration and promise helpers (`.map`, `.then`), and transaction
//! callbacks. Every other function — declarations, methods, callbacks given to
//! `app.post(…)` — is its own [`Function`].

use super::clients::{self, FileHints, Recognized, TxControl};
use super::syntax::{self, named_children, text, unwrap_expr, Chain};
use crate::frontend::sql;
use crate::frontend::typescript::syntax::FieldExt;
use crate::ir::{
    inline, Arm, CallbackArgument, Client, Completion, Construction, Effect, EffectKind, Field,
    FileModel, Function, Guard, LocalCall, Span, Transaction, TransactionCallback,
    TransactionStyle, Value,
};
use std::collections::{HashMap, HashSet, VecDeque};
use tree_sitter::Node;

/// Deeper than this, a subtree is skipped rather than risk the stack.
const MAX_DEPTH: u32 = 600;

/// Callee names whose callbacks run as part of the calling function.
const INLINE_CALLEES: &[&str] = &[
    "map",
    "forEach",
    "flatMap",
    "filter",
    "reduce",
    "some",
    "every",
    "find",
    "then",
    "catch",
    "finally",
    "all",
    "allSettled",
    "race",
    "any",
];

/// Property names of arrays and strings, not columns, when a condition reads them.
const NON_COLUMN_FIELDS: &[&str] = &["length", "size"];

/// The reads a value came from and the fields of their rows it looked at.
#[derive(Clone, Debug, Default)]
struct Taint {
    reads: Vec<usize>,
    fields: Vec<String>,
    /// Reads whose tested result chose the value (`Value::chosen_by`).
    chosen_by: Vec<usize>,
}

impl Taint {
    fn read(index: usize) -> Taint {
        Taint {
            reads: vec![index],
            fields: Vec::new(),
            chosen_by: Vec::new(),
        }
    }
    fn union(&mut self, other: Taint) {
        for r in other.reads {
            if !self.reads.contains(&r) {
                self.reads.push(r);
            }
        }
        for f in other.fields {
            if !self.fields.contains(&f) {
                self.fields.push(f);
            }
        }
        self.chosen(&other.chosen_by);
    }
    /// The value was chosen by these reads as well.
    fn chosen(&mut self, reads: &[usize]) {
        for &r in reads {
            if !self.chosen_by.contains(&r) {
                self.chosen_by.push(r);
            }
        }
    }
    fn is_empty(&self) -> bool {
        self.reads.is_empty()
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Exit {
    /// `return`, `throw`: nothing after runs in this call.
    Function,
    /// `continue`, `break`: the rest of the loop body is skipped.
    Loop,
}

/// What a loop chooses: a variable assigned in it holds a value the loop's
/// continuing decided on, and so the reads that decide that.
#[derive(Default)]
struct LoopChoice {
    assigned: Vec<String>,
    continues_on: Vec<usize>,
}

struct Pending<'t> {
    node: Node<'t>,
    name: String,
}

pub struct Lowered {
    pub model: FileModel,
    /// Subtrees skipped for being too deeply nested (byte offset).
    pub too_deep: Option<usize>,
}

pub fn lower(root: Node, src: &str, hints: &FileHints) -> Lowered {
    let (imports, exports) = super::modules::record(root, src);
    let mut local_names = Names::default();
    collect_local_names(root, src, &mut local_names);
    // A call to an imported name may reach a function of another file: the
    // project stage resolves it.
    local_names.callable.extend(
        imports
            .iter()
            .filter(|i| may_be_project_module(&i.source))
            .map(|i| i.local.clone()),
    );
    let process_locks = clients::runtime::process_locks(root, src);
    let mut queue = VecDeque::new();
    queue.push_back(Pending {
        node: root,
        name: "<module>".into(),
    });
    let mut functions = Vec::new();
    let mut too_deep = None;
    while let Some(pending) = queue.pop_front() {
        let mut lowerer = FnLowerer::new(
            src,
            hints,
            &local_names,
            &process_locks,
            &mut queue,
            &pending,
        );
        lowerer.lower_body(pending.node);
        too_deep = too_deep.or(lowerer.too_deep);
        let function = lowerer.func;
        if !function.effects.is_empty()
            || !function.calls.is_empty()
            || !function.transaction_callbacks.is_empty()
            || !function.constructions.is_empty()
        {
            functions.push(function);
        }
    }
    functions.sort_by_key(|f| f.span.start);
    Lowered {
        model: FileModel {
            functions,
            imports,
            exports,
            rust: None,
            registrations: Vec::new(),
        },
        too_deep,
    }
}

/// Package scopes of libraries, never of a project's own workspace packages.
const LIBRARY_SCOPES: &[&str] = &[
    "@prisma",
    "@nestjs",
    "@supabase",
    "@tanstack",
    "@trpc",
    "@types",
    "@aws-sdk",
    "@google-cloud",
    "@vercel",
    "@next",
    "@radix-ui",
    "@mui",
    "@sentry",
    "@auth",
    "@clerk",
    "@upstash",
    "@opentelemetry",
    "@hono",
    "@planetscale",
    "@neondatabase",
    "@libsql",
    "@electric-sql",
    "@mikro-orm",
    "@sequelize",
    "@faker-js",
    "@playwright",
    "@testing-library",
    "@reduxjs",
    "@apollo",
    "@graphql-tools",
    "@octokit",
    "@stripe",
];

/// Whether an import may come from the project itself (a relative path, a path
/// alias, a workspace package), so that calls to it are worth resolving. Calls to
/// libraries (`eq` from `drizzle-orm`, `z` from `zod`) are not recorded.
pub fn may_be_project_module(specifier: &str) -> bool {
    if specifier.starts_with('.')
        || ["@/", "~/", "#", "src/", "@@/", "$lib/"]
            .iter()
            .any(|p| specifier.starts_with(p))
    {
        return true;
    }
    specifier.starts_with('@')
        && !LIBRARY_SCOPES
            .iter()
            .any(|scope| specifier.split('/').next() == Some(scope))
}

/// What calls in the file may name besides clients: functions, classes and
/// objects of methods declared in it, imported names, and the declared types of
/// class fields (constructor-injected services).
#[derive(Default)]
struct Names {
    /// Calls to these become [`LocalCall`]s.
    callable: HashSet<String>,
    /// `constructor(private readonly invites: InviteService)` → `invites` →
    /// `InviteService`.
    field_types: HashMap<String, String>,
    /// `const orders = new OrderRepository(tx)` → `orders` → `OrderRepository`;
    /// `None` for a name bound to objects of two classes in the file.
    instance_types: HashMap<String, Option<String>>,
}

/// The type a field or parameter is declared with, when it is a plain class name.
fn declared_class(node: Node, src: &str) -> Option<String> {
    let annotation = named_children(node).find(|n| n.kind() == "type_annotation")?;
    let ty = named_children(annotation).next()?;
    (ty.kind() == "type_identifier").then(|| text(ty, src).to_string())
}

/// A constructor parameter that is also a field of the class
/// (`constructor(private readonly tx: Prisma.TransactionClient)`).
fn is_parameter_property(param: Node) -> bool {
    named_children(param)
        .any(|c| matches!(c.kind(), "accessibility_modifier" | "override_modifier"))
        || {
            let mut cursor = param.walk();
            let readonly = param.children(&mut cursor).any(|c| c.kind() == "readonly");
            readonly
        }
}

fn collect_local_names(root: Node, src: &str, out: &mut Names) {
    // One cursor pass over the tree: no recursion, however deep the file nests.
    let mut cursor = root.walk();
    loop {
        let node = cursor.node();
        match node.kind() {
            "function_declaration"
            | "generator_function_declaration"
            | "method_definition"
            | "class_declaration"
            | "abstract_class_declaration" => {
                if let Some(name) = node.field("name") {
                    out.callable.insert(text(name, src).to_string());
                }
            }
            "variable_declarator" | "public_field_definition" => {
                let name = node.field("name").or_else(|| node.field("property"));
                let value = node.field("value");
                if let (Some(name), Some(value)) = (name, value) {
                    if syntax::is_function(value) || value.kind() == "object" {
                        out.callable.insert(text(name, src).to_string());
                    }
                }
                if node.kind() == "public_field_definition" {
                    if let (Some(name), Some(ty)) = (name, declared_class(node, src)) {
                        out.field_types.insert(text(name, src).to_string(), ty);
                    }
                }
                let constructed = value
                    .filter(|v| v.kind() == "new_expression")
                    .and_then(|v| v.field("constructor"))
                    .filter(|c| c.kind() == "identifier");
                if let (Some(name), Some(class)) =
                    (name.filter(|n| n.kind() == "identifier"), constructed)
                {
                    let class = text(class, src).to_string();
                    out.instance_types
                        .entry(text(name, src).to_string())
                        .and_modify(|known| {
                            if known.as_deref() != Some(class.as_str()) {
                                *known = None;
                            }
                        })
                        .or_insert(Some(class));
                }
            }
            "required_parameter" | "optional_parameter" => {
                let injected = is_parameter_property(node);
                let name = node.field("pattern").filter(|p| p.kind() == "identifier");
                if let (true, Some(name), Some(ty)) = (injected, name, declared_class(node, src)) {
                    out.field_types.insert(text(name, src).to_string(), ty);
                }
            }
            _ => {}
        }
        if cursor.goto_first_child() {
            continue;
        }
        while !cursor.goto_next_sibling() {
            if !cursor.goto_parent() {
                return;
            }
        }
    }
}

fn function_name(node: Node, src: &str) -> Option<String> {
    match node.kind() {
        "function_declaration" | "generator_function_declaration" | "function_expression" => {
            node.field("name").map(|n| text(n, src).to_string())
        }
        "method_definition" => {
            let method = text(node.field("name")?, src);
            let owner = match node.parent().map(|p| p.kind()) {
                Some("object") => node.parent().and_then(|o| object_name(o, src)),
                _ => std::iter::successors(node.parent(), |n| n.parent())
                    .find(|n| n.kind() == "class_declaration" || n.kind() == "class")
                    .and_then(|c| c.field("name"))
                    .map(|n| text(n, src).to_string()),
            };
            Some(match owner {
                Some(owner) => format!("{owner}.{method}"),
                None => method.to_string(),
            })
        }
        // `export const invites = { accept: async (…) => {…} }`.
        "arrow_function" => {
            let pair = node.parent().filter(|p| p.kind() == "pair")?;
            let key = text(pair.field("key")?, src);
            let object = pair.parent().filter(|o| o.kind() == "object")?;
            Some(match object_name(object, src) {
                Some(owner) => format!("{owner}.{key}"),
                None => key.to_string(),
            })
        }
        _ => None,
    }
}

/// The variable an object literal of methods is bound to (`const invites = {…}`).
fn object_name(object: Node, src: &str) -> Option<String> {
    let declarator = object
        .parent()
        .filter(|d| d.kind() == "variable_declarator")?;
    let name = declarator
        .field("name")
        .filter(|n| n.kind() == "identifier")?;
    Some(text(name, src).to_string())
}

/// At most this many early exits put the rest of a function in their other arm
/// (each effect after them carries them all); past that, later writes are
/// paired as if the exits were not there.
const MAX_EXITED_ARMS: usize = 64;

struct FnLowerer<'q, 't> {
    src: &'t str,
    hints: &'q FileHints,
    names: &'q Names,
    process_locks: &'q HashSet<String>,
    queue: &'q mut VecDeque<Pending<'t>>,
    func: Function,
    env: HashMap<String, Taint>,
    cond_guards: Vec<Guard>,
    exit_guards: Vec<Guard>,
    arms: Vec<Arm>,
    /// Arms the rest of the function (or of the callback lowered inline) is in
    /// because an earlier arm left it: after `if (expired) { await del(); return }`
    /// every later statement, past the enclosing block too, is in the other arm.
    exited_arms: Vec<Arm>,
    /// Per open block, by the variable tested (`level`, `data.kind`), the last
    /// plain `if` whose test a later sibling can exclude.
    sibling_tests: Vec<HashMap<String, SiblingTest>>,
    next_branch: u32,
    /// Open callback and batch transactions, innermost last, with their handle.
    tx_stack: Vec<(usize, Option<String>)>,
    /// Open explicit transactions (`BEGIN` on a connection) by handle.
    explicit: HashMap<String, usize>,
    loop_depth: u32,
    /// Open loops, innermost last: the variables assigned in each and the reads
    /// that decide whether it goes round again.
    loops: Vec<LoopChoice>,
    unique_handled: u32,
    /// The expression of the statement being lowered, when nothing awaits it.
    floating_expr: Option<usize>,
    /// The expression returned, when the statement is a `return` or an arrow body.
    returned_expr: Option<usize>,
    /// Inside an `await` or `return`: callbacks given to calls here run now.
    awaited: u32,
    /// Inside a callback whose return value the caller drops (`forEach`).
    discard_returns: bool,
    /// Inside an async callback whose promise the caller drops.
    dropped_async: u32,
    /// Inside a callback lowered inline: its `return` is not the function's.
    callback_depth: u32,
    effect_at: HashMap<usize, usize>,
    depth: u32,
    too_deep: Option<usize>,
    is_module: bool,
    /// Which effect each variable came from, and fields assigned on it since.
    scope: clients::Scope<'t>,
    /// Values already lowered (assignment right-hand sides), by node id, so that a
    /// client pointing at them later does not walk them twice.
    value_cache: HashMap<usize, Value>,
    /// A transaction begun by a call whose result names it (`const t = await
    /// sequelize.transaction()`): the call's node id and the transaction.
    pending_begin: Option<(usize, usize)>,
    /// Variables derived from a transaction handle (`const repo =
    /// manager.getRepository(User)`): calls through them run in that transaction.
    tx_aliases: HashMap<String, usize>,
}

impl<'q, 't> FnLowerer<'q, 't> {
    fn new(
        src: &'t str,
        hints: &'q FileHints,
        names: &'q Names,
        process_locks: &'q HashSet<String>,
        queue: &'q mut VecDeque<Pending<'t>>,
        pending: &Pending<'t>,
    ) -> Self {
        let span = Span::new(pending.node.start_byte(), pending.node.end_byte());
        FnLowerer {
            src,
            hints,
            names,
            process_locks,
            queue,
            func: Function::new(pending.name.clone(), span),
            env: HashMap::new(),
            cond_guards: Vec::new(),
            exit_guards: Vec::new(),
            arms: Vec::new(),
            exited_arms: Vec::new(),
            sibling_tests: Vec::new(),
            next_branch: 0,
            tx_stack: Vec::new(),
            explicit: HashMap::new(),
            loop_depth: 0,
            loops: Vec::new(),
            unique_handled: 0,
            floating_expr: None,
            returned_expr: None,
            awaited: 0,
            discard_returns: false,
            dropped_async: 0,
            callback_depth: 0,
            effect_at: HashMap::new(),
            depth: 0,
            too_deep: None,
            is_module: pending.node.kind() == "program",
            scope: clients::Scope::default(),
            value_cache: HashMap::new(),
            pending_begin: None,
            tx_aliases: HashMap::new(),
        }
    }

    fn lower_body(&mut self, node: Node<'t>) {
        if self.is_module {
            for child in named_children(node) {
                self.stmt(child);
            }
            return;
        }
        if let Some(params) = node.field("parameters") {
            for param in named_children(params).filter(|p| p.kind() != "comment") {
                let pattern = param.field("pattern").unwrap_or(param);
                let name = if pattern.kind() == "identifier" {
                    text(pattern, self.src)
                } else {
                    ""
                };
                self.func.params.push(name.to_string());
                if !name.is_empty() {
                    self.transaction_parameter(param, name);
                    if is_parameter_property(param) {
                        self.record_field_fill(name.to_string(), name.to_string());
                    }
                }
            }
        } else if let Some(param) = node.field("parameter") {
            self.func.params.push(text(param, self.src).to_string());
        }
        let ambient = self.open_decorated_transaction(node);
        self.func.entry = self.func.entry || self.framework_entry(node);
        match node.field("body") {
            Some(body) if body.kind() == "statement_block" => self.stmt(body),
            Some(body) => {
                self.returned_expr = Some(unwrap_expr(body).id());
                self.awaited += 1;
                let taint = self.expr(body);
                self.awaited -= 1;
                self.note_returned(&taint);
            }
            None => {}
        }
        if ambient {
            self.tx_stack.pop();
        }
    }

    /// A method the framework calls: decorated (`@Mutation()`, `@Post()`), other
    /// than for a transaction, or with a parameter the framework fills (`@Ctx()`).
    fn framework_entry(&self, method: Node<'t>) -> bool {
        let own = named_children(method).filter(|c| c.kind() == "decorator");
        let before = std::iter::successors(method.prev_named_sibling(), |n| n.prev_named_sibling())
            .take_while(|n| n.kind() == "decorator");
        let decorated = own
            .chain(before)
            .any(|d| clients::transactional_decorator(text(d, self.src)).is_none());
        decorated
            || method.field("parameters").is_some_and(|params| {
                named_children(params).any(|p| named_children(p).any(|c| c.kind() == "decorator"))
            })
    }

    /// A method decorated `@Transactional()`: its whole body runs in a transaction
    /// every statement joins, whatever handle it goes through. Decorators are the
    /// method's own children or, in a class body, the siblings just before it.
    fn open_decorated_transaction(&mut self, method: Node<'t>) -> bool {
        let own = named_children(method).filter(|c| c.kind() == "decorator");
        let before = std::iter::successors(method.prev_named_sibling(), |n| n.prev_named_sibling())
            .take_while(|n| n.kind() == "decorator");
        let Some(serializable) = own
            .chain(before)
            .find_map(|d| clients::transactional_decorator(text(d, self.src)))
        else {
            return false;
        };
        let index = self.func.add_transaction(Transaction {
            style: TransactionStyle::Ambient,
            client: self.hints.main_client(),
            span: span_of(method),
            handle: None,
            serializable,
            parent: None,
        });
        self.tx_stack.push((index, None));
        true
    }

    /// A `return` of the function itself (not of a callback inlined into it)
    /// hands these reads to its callers.
    fn note_returned(&mut self, taint: &Taint) {
        if self.callback_depth > 0 {
            return;
        }
        for &read in &taint.chosen_by {
            if !self.func.returns_chosen_by.contains(&read) {
                self.func.returns_chosen_by.push(read);
            }
        }
        for &read in &taint.reads {
            let kind = self.func.effects[read].kind;
            if matches!(kind, EffectKind::Read | EffectKind::CallResult)
                && !self.func.returns.contains(&read)
            {
                self.func.returns.push(read);
            }
        }
    }

    fn queue_function(&mut self, node: Node<'t>, name: Option<String>) {
        let name = name
            .or_else(|| function_name(node, self.src))
            .unwrap_or_else(|| format!("<function at byte {}>", node.start_byte()));
        self.queue.push_back(Pending { node, name });
    }

    fn enter(&mut self, node: Node) -> bool {
        if self.depth >= MAX_DEPTH {
            self.too_deep.get_or_insert(node.start_byte());
            return false;
        }
        self.depth += 1;
        true
    }

    // ---- statements -------------------------------------------------------

    fn stmt(&mut self, node: Node<'t>) {
        if !self.enter(node) {
            return;
        }
        self.stmt_inner(node);
        self.depth -= 1;
    }

    fn stmt_inner(&mut self, node: Node<'t>) {
        match node.kind() {
            "statement_block" => self.block(node),
            "lexical_declaration" | "variable_declaration" => {
                for declarator in named_children(node).filter(|n| n.kind() == "variable_declarator")
                {
                    self.declarator(declarator);
                }
            }
            "expression_statement" => {
                if let Some(expr) = node.named_child(0) {
                    let inner = match expr.kind() {
                        "unary_expression" if text(expr, self.src).starts_with("void") => {
                            expr.named_child(0).unwrap_or(expr)
                        }
                        _ => expr,
                    };
                    // `await pool.query<Row>(…);` parsed as `(await pool.query)<Row>(…)`
                    // is awaited, not floating.
                    let floating = syntax::misparsed_generic_await(inner)
                        .is_none()
                        .then(|| inner.id());
                    let saved = std::mem::replace(&mut self.floating_expr, floating);
                    self.expr(expr);
                    self.floating_expr = saved;
                }
            }
            "return_statement" | "throw_statement" => {
                if let Some(value) = node.named_child(0) {
                    let saved = self.returned_expr.replace(unwrap_expr(value).id());
                    self.awaited += 1;
                    let taint = self.expr(value);
                    self.awaited -= 1;
                    self.returned_expr = saved;
                    if node.kind() == "return_statement" {
                        self.note_returned(&taint);
                    }
                }
            }
            "if_statement" => self.if_statement(node),
            "try_statement" => self.try_statement(node),
            "for_statement" | "for_in_statement" | "while_statement" | "do_statement" => {
                self.loop_statement(node)
            }
            "switch_statement" => self.switch_statement(node),
            "labeled_statement" => {
                if let Some(body) = node.field("body") {
                    self.stmt(body);
                }
            }
            "export_statement" => {
                for child in named_children(node) {
                    self.stmt(child);
                }
            }
            "function_declaration" | "generator_function_declaration" => {
                self.queue_function(node, None)
            }
            "class_declaration" | "abstract_class_declaration" | "class" => self.class(node),
            "import_statement"
            | "comment"
            | "type_alias_declaration"
            | "interface_declaration"
            | "enum_declaration"
            | "ambient_declaration"
            | "empty_statement" => {}
            _ => {
                for child in named_children(node) {
                    if child.kind().ends_with("statement") || child.kind().ends_with("declaration")
                    {
                        self.stmt(child);
                    } else {
                        self.expr(child);
                    }
                }
            }
        }
    }

    fn block(&mut self, node: Node<'t>) {
        let guards = self.cond_guards.len();
        let arms = self.arms.len();
        self.sibling_tests.push(HashMap::new());
        for child in named_children(node) {
            self.stmt(child);
        }
        self.sibling_tests.pop();
        self.cond_guards.truncate(guards);
        self.arms.truncate(arms);
    }

    /// The arms an effect or call written here is in.
    fn arms_here(&self) -> Vec<Arm> {
        self.arms.iter().chain(&self.exited_arms).copied().collect()
    }

    /// An earlier plain `if` of this block (no `else`, a body that does not leave
    /// the function, so no arm of its branch but its body's is in use) that cannot
    /// run its body when `node` runs its own: the same variable tested the other
    /// way (`!level` / `level`, `=== null` / `!== null`) or against another literal
    /// (`kind === "incident"` / `kind === "recovery"`), with no assignment to it in
    /// between. Gives the arm of that `if`'s branch the body of `node` is in, and
    /// records a plain `node` for later siblings. Not in a loop.
    fn sibling_arm(&mut self, node: Node<'t>, condition: Node<'t>, branch: u32) -> Option<Arm> {
        let plain = node.field("alternative").is_none()
            && node
                .field("consequence")
                .is_none_or(|c| exit_of(c, self.src) != Some(Exit::Function));
        // In a loop, another pass can run the other body in the same call.
        if self.loop_depth > 0 {
            return None;
        }
        let (subject, test) = sibling_test(condition, self.src)?;
        let src = self.src;
        let siblings = self.sibling_tests.last_mut()?;
        if let Some(sibling) = siblings.get_mut(&subject) {
            // The code since the last look is scanned once: linear in the block.
            let assigned = assigns(&src[sibling.scanned_to..node.start_byte()], &subject);
            sibling.scanned_to = node.start_byte();
            if !assigned && sibling.seen.len() < MAX_SIBLING_TESTS && sibling.excluded_by(&test) {
                sibling.seen.push(test);
                sibling.next_arm += 1;
                return Some(Arm {
                    branch: sibling.branch,
                    arm: sibling.next_arm,
                });
            }
        }
        if plain {
            siblings.insert(
                subject,
                SiblingTest {
                    seen: vec![test],
                    branch,
                    next_arm: 1,
                    scanned_to: node.start_byte(),
                },
            );
        }
        None
    }

    fn class(&mut self, node: Node<'t>) {
        let Some(body) = node.field("body") else {
            return;
        };
        let class_name = node.field("name").map(|n| text(n, self.src).to_string());
        for member in named_children(body) {
            match member.kind() {
                "method_definition" => self.queue_function(member, None),
                "public_field_definition" => {
                    let name = member.field("name").map(|n| text(n, self.src).to_string());
                    if let Some(value) = member.field("value") {
                        if let (false, Some(class), Some(field)) =
                            (syntax::is_function(value), &class_name, &name)
                        {
                            // `private db = prisma`: a value the field holds until
                            // some code sets it.
                            let code = text(value, self.src).to_string();
                            let tx = self.transaction_for(&code);
                            self.func.constructions.push(Construction {
                                ty: vec![class.clone()],
                                fields: vec![(field.clone(), code, tx)],
                            });
                        }
                        if syntax::is_function(value) {
                            let name = match (&class_name, name) {
                                (Some(c), Some(n)) => Some(format!("{c}.{n}")),
                                (_, n) => n,
                            };
                            self.queue_function(value, name);
                        }
                    }
                }
                _ => {}
            }
        }
    }

    fn declarator(&mut self, node: Node<'t>) {
        let Some(name) = node.field("name") else {
            return;
        };
        let Some(value) = node.field("value") else {
            return;
        };
        if syntax::is_function(value) {
            self.queue_function(value, Some(text(name, self.src).to_string()));
            return;
        }
        let effects_before = self.func.effects.len();
        let taint = self.expr(value);
        // `const [row] = await …`, `const { rows: [row] } = await …`: the code takes
        // one row of the result, so what it writes back is that row's.
        if takes_first_row(name) {
            self.single_row(&taint);
        }
        let mut names = Vec::new();
        syntax::pattern_names(name, self.src, &mut names);
        for n in &names {
            self.forget(n);
        }
        if let Some(&index) = self.effect_at.get(&value_effect_node(value).id()) {
            if index >= effects_before
                && name.kind() != "object_pattern"
                && name.kind() != "array_pattern"
            {
                self.func.effects[index].binding = Some(text(name, self.src).to_string());
            } else if index >= effects_before {
                self.func.effects[index].binding = names.first().cloned();
            }
            if index >= effects_before {
                if let Some(first) = names.first() {
                    self.bind_origin(first.clone(), index);
                }
            }
        } else if let Some(first) = names.first() {
            self.bind_derived(first.clone(), value);
        }
        // `const { id, used } = coupon`: each name holds one field of the row, so a
        // condition on `used` looks at `coupon.used`. Not for the result object of a
        // call itself (`const { rows, count } = await …`), whose keys are no columns.
        let fields = if name.kind() == "object_pattern"
            && !taint.is_empty()
            && !self.effect_at.contains_key(&value_effect_node(value).id())
        {
            destructured_fields(name, self.src)
        } else {
            Vec::new()
        };
        for n in names {
            let mut held = taint.clone();
            if let Some((_, field)) = fields.iter().find(|(var, _)| *var == n) {
                if !held.fields.contains(field) {
                    held.fields.push(field.clone());
                }
            }
            self.env.insert(n, held);
        }
    }

    /// A variable gets a new value: what was known about the old one goes.
    fn forget(&mut self, name: &str) {
        self.scope.origins.remove(name);
        self.scope.assigned.remove(name);
        self.tx_aliases.remove(name);
    }

    /// `name` holds the result of effect `index`.
    fn bind_origin(&mut self, name: String, index: usize) {
        let effect = &self.func.effects[index];
        self.scope.origins.insert(
            name,
            clients::Origin {
                client: effect.client,
                kind: effect.kind,
                table: effect.table.clone(),
                handle: effect.handle.clone(),
            },
        );
    }

    /// `name` holds a value that is no effect's result: a transaction begun by the
    /// call (`const t = await sequelize.transaction()`), or something derived from a
    /// transaction handle (`const repo = manager.getRepository(User)`), or a copy of
    /// another variable.
    fn bind_derived(&mut self, name: String, value: Node<'t>) {
        let value = value_effect_node(value);
        if let Some((node, tx)) = self.pending_begin {
            if node == value.id() {
                self.pending_begin = None;
                self.func.name_transaction_handle(tx, name.clone());
                self.explicit.insert(name, tx);
                return;
            }
        }
        if !matches!(
            value.kind(),
            "identifier" | "member_expression" | "call_expression"
        ) {
            return;
        }
        let chain = Chain::of(value, self.src);
        let root = text(chain.root, self.src);
        let root = if root == "this" {
            chain.receiver_text(1.min(chain.segments.len()), self.src)
        } else {
            root
        };
        if value.kind() == "identifier" {
            if let Some(origin) = self.scope.origins.get(root).cloned() {
                self.scope.origins.insert(name.clone(), origin);
            }
        }
        if let Some(tx) = self.transaction_for(root) {
            self.tx_aliases.insert(name, tx);
        }
    }

    fn if_statement(&mut self, node: Node<'t>) {
        let Some(condition) = node.field("condition") else {
            return;
        };
        let taint = self.expr(condition);
        let guards = self.guards_for(condition, &taint);
        let branch = self.new_branch();
        let saved = self.cond_guards.len();
        self.cond_guards.extend(guards.iter().cloned());
        let arms = self.arms.len();
        let mut exits = Vec::new();
        let sibling = self.sibling_arm(node, condition, branch);
        if let Some(consequence) = node.field("consequence") {
            self.arms.push(Arm { branch, arm: 0 });
            self.arms.extend(sibling);
            self.stmt(consequence);
            self.arms.truncate(arms);
            exits.push(exit_of(consequence, self.src));
        }
        if let Some(alternative) = node.field("alternative") {
            self.arms.push(Arm { branch, arm: 1 });
            for child in named_children(alternative) {
                self.stmt(child);
            }
            self.arms.truncate(arms);
            exits.push(
                named_children(alternative)
                    .last()
                    .and_then(|n| exit_of(n, self.src)),
            );
        } else {
            exits.push(None);
        }
        self.cond_guards.truncate(saved);
        // `if (batched) { …; return results } await insertAll()`: what follows runs
        // only when the arm that returned did not, so it is in the other arm, to the
        // end of the function (or of the callback). Not in a loop, where an earlier
        // pass may have run what follows before the arm that returns.
        if self.loop_depth == 0 && self.exited_arms.len() < MAX_EXITED_ARMS {
            let returns = |e: &Option<Exit>| *e == Some(Exit::Function);
            match exits.as_slice() {
                [a, b] if returns(a) && !returns(b) => {
                    self.exited_arms.push(Arm { branch, arm: 1 })
                }
                [a, b] if !returns(a) && returns(b) => {
                    self.exited_arms.push(Arm { branch, arm: 0 })
                }
                _ => {}
            }
        }
        if exits.contains(&Some(Exit::Loop)) {
            let reads = self.choosing_reads(&guards);
            if let Some(frame) = self.loops.last_mut() {
                frame.continues_on.extend(reads);
            }
        }
        match exits.iter().flatten().min_by_key(|e| **e == Exit::Loop) {
            Some(Exit::Function) => self.exit_guards.extend(guards),
            Some(Exit::Loop) => self.cond_guards.extend(guards),
            None => {}
        }
    }

    /// The reads among `guards` whose result can choose a value (not a write's count).
    fn choosing_reads(&self, guards: &[Guard]) -> Vec<usize> {
        guards
            .iter()
            .map(|g| g.read)
            .filter(|&r| {
                matches!(
                    self.func.effects[r].kind,
                    EffectKind::Read | EffectKind::CallResult
                )
            })
            .collect()
    }

    /// Variables assigned in the loop just closed hold what its going round chose.
    fn close_loop(&mut self, mut frame: LoopChoice) {
        for name in &frame.assigned {
            if let Some(taint) = self.env.get_mut(name) {
                taint.chosen(&frame.continues_on);
            }
        }
        if let Some(outer) = self.loops.last_mut() {
            outer.assigned.append(&mut frame.assigned);
        }
    }

    fn try_statement(&mut self, node: Node<'t>) {
        let handler = node.field("handler");
        let handles_unique =
            handler.is_some_and(|h| clients::mentions_unique_violation(text(h, self.src)));
        let branch = self.new_branch();
        if let Some(body) = node.field("body") {
            self.unique_handled += u32::from(handles_unique);
            self.arms.push(Arm { branch, arm: 0 });
            self.stmt(body);
            self.arms.pop();
            self.unique_handled -= u32::from(handles_unique);
        }
        if let Some(handler) = handler {
            if let Some(body) = handler.field("body") {
                self.arms.push(Arm { branch, arm: 1 });
                self.stmt(body);
                self.arms.pop();
            }
        }
        if let Some(finalizer) = node.field("finalizer") {
            for child in named_children(finalizer) {
                self.stmt(child);
            }
        }
    }

    fn loop_statement(&mut self, node: Node<'t>) {
        let mut taint = Taint::default();
        let mut condition_node = None;
        for field in ["initializer", "condition", "right", "increment"] {
            if let Some(part) = node.field(field) {
                if field != "increment" {
                    condition_node.get_or_insert(part);
                    taint.union(self.expr(part));
                }
            }
        }
        // `for (const seat of seats)`: the loop variable carries the collection's taint.
        if let Some(left) = node.field("left") {
            let mut names = Vec::new();
            syntax::pattern_names(left, self.src, &mut names);
            // `for (const seat of seats)`: each item is a row of the same effect.
            let origin = node
                .field("right")
                .and_then(|r| self.scope.origins.get(text(r, self.src)).cloned());
            for n in names {
                self.forget(&n);
                if let Some(origin) = &origin {
                    self.scope.origins.insert(n.clone(), origin.clone());
                }
                self.env.insert(n, taint.clone());
            }
        }
        let guards = match condition_node {
            Some(c) if node.kind() != "for_in_statement" => self.guards_for(c, &taint),
            _ => Vec::new(),
        };
        let saved = self.cond_guards.len();
        self.cond_guards.extend(guards.iter().cloned());
        self.loop_depth += 1;
        self.loops.push(LoopChoice {
            assigned: Vec::new(),
            continues_on: self.choosing_reads(&guards),
        });
        if let Some(body) = node.field("body") {
            self.stmt(body);
        }
        if let Some(condition) = node
            .field("condition")
            .filter(|_| node.kind() == "do_statement")
        {
            // `do { slug = next() } while (await exists(slug))`.
            let taint = self.expr(condition);
            let guards = self.guards_for(condition, &taint);
            let reads = self.choosing_reads(&guards);
            if let Some(frame) = self.loops.last_mut() {
                frame.continues_on.extend(reads);
            }
        }
        if let Some(frame) = self.loops.pop() {
            self.close_loop(frame);
        }
        self.loop_depth -= 1;
        self.cond_guards.truncate(saved);
        // What follows a loop runs once its condition failed: `while (await
        // findUnique(slug)) slug = next(slug);` then create means "no row found".
        self.cond_guards.extend(guards);
    }

    fn switch_statement(&mut self, node: Node<'t>) {
        let Some(value) = node.field("value") else {
            return;
        };
        let taint = self.expr(value);
        let guards = self.guards_for(value, &taint);
        let branch = self.new_branch();
        let saved = self.cond_guards.len();
        self.cond_guards.extend(guards);
        if let Some(body) = node.field("body") {
            for (arm, case) in named_children(body).enumerate() {
                self.arms.push(Arm {
                    branch,
                    arm: arm as u32,
                });
                let arms = self.arms.len() - 1;
                for child in named_children(case) {
                    if child.kind().ends_with("statement") || child.kind().ends_with("declaration")
                    {
                        self.stmt(child);
                    }
                }
                self.arms.truncate(arms);
            }
        }
        self.cond_guards.truncate(saved);
    }

    fn new_branch(&mut self) -> u32 {
        self.next_branch += 1;
        self.next_branch
    }

    // ---- expressions ------------------------------------------------------

    fn expr(&mut self, node: Node<'t>) -> Taint {
        if !self.enter(node) {
            return Taint::default();
        }
        let taint = self.expr_inner(node);
        self.depth -= 1;
        taint
    }

    fn expr_inner(&mut self, node: Node<'t>) -> Taint {
        match node.kind() {
            "identifier" | "shorthand_property_identifier" => self
                .env
                .get(text(node, self.src))
                .cloned()
                .unwrap_or_default(),
            "member_expression" => {
                let mut taint = node
                    .field("object")
                    .map(|o| self.expr(o))
                    .unwrap_or_default();
                if !taint.is_empty() {
                    if let Some(prop) = node.field("property") {
                        let field = text(prop, self.src);
                        if !NON_COLUMN_FIELDS.contains(&field)
                            && !taint.fields.iter().any(|f| f == field)
                        {
                            taint.fields.push(field.to_string());
                        }
                    }
                }
                taint
            }
            "call_expression" => self.call(node),
            "subscript_expression" => {
                let mut taint = Taint::default();
                for child in named_children(node) {
                    taint.union(self.expr(child));
                }
                // `rows[0]`: one row of what the read returned.
                if node
                    .field("index")
                    .is_some_and(|i| text(i, self.src) == "0")
                {
                    self.single_row(&taint);
                }
                taint
            }
            "await_expression" => {
                self.awaited += 1;
                let taint = node
                    .named_child(0)
                    .map(|c| self.expr(c))
                    .unwrap_or_default();
                self.awaited -= 1;
                taint
            }
            "ternary_expression" => self.ternary(node),
            "binary_expression" => self.binary(node),
            "assignment_expression" | "augmented_assignment_expression" => self.assignment(node),
            // A method of an object literal (`return { async createUser() {…} }`) is
            // a function of its own: building the object runs none of its body.
            "arrow_function"
            | "function_expression"
            | "function"
            | "generator_function"
            | "method_definition" => {
                self.queue_function(node, None);
                Taint::default()
            }
            "class" => {
                self.class(node);
                Taint::default()
            }
            "new_expression" => {
                self.record_construction_call(node);
                // `new Promise((resolve) => …)` runs its executor now.
                let mut taint = Taint::default();
                if let Some(args) = node.field("arguments") {
                    for arg in syntax::arguments(args) {
                        if syntax::is_function(arg) {
                            self.inline_callback(arg, Taint::default());
                        } else {
                            taint.union(self.expr(arg));
                        }
                    }
                }
                taint
            }
            "string"
            | "number"
            | "true"
            | "false"
            | "null"
            | "undefined"
            | "regex"
            | "comment"
            | "this"
            | "super"
            | "property_identifier"
            | "type_annotation"
            | "type_arguments" => Taint::default(),
            _ => {
                let mut taint = Taint::default();
                for child in named_children(node) {
                    taint.union(self.expr(child));
                }
                taint
            }
        }
    }

    /// The code uses one row of these reads' results (`rows[0]`, `const [row] = …`).
    fn single_row(&mut self, taint: &Taint) {
        for &r in &taint.reads {
            if let Some(effect) = self.func.effects.get_mut(r) {
                if effect.kind == EffectKind::Read {
                    effect.many = false;
                }
            }
        }
    }

    fn ternary(&mut self, node: Node<'t>) -> Taint {
        let Some(condition) = node.field("condition") else {
            return Taint::default();
        };
        let mut taint = self.expr(condition);
        let guards = self.guards_for(condition, &taint);
        let chosen = self.choosing_reads(&guards);
        taint.chosen(&chosen);
        let branch = self.new_branch();
        let saved = self.cond_guards.len();
        self.cond_guards.extend(guards);
        for (arm, field) in ["consequence", "alternative"].into_iter().enumerate() {
            if let Some(part) = node.field(field) {
                self.arms.push(Arm {
                    branch,
                    arm: arm as u32,
                });
                taint.union(self.expr(part));
                self.arms.pop();
            }
        }
        self.cond_guards.truncate(saved);
        taint
    }

    fn binary(&mut self, node: Node<'t>) -> Taint {
        let operator = node.field("operator").map(|o| text(o, self.src));
        let left = node.field("left");
        let right = node.field("right");
        let mut taint = left.map(|l| self.expr(l)).unwrap_or_default();
        let Some(right) = right else {
            return taint;
        };
        if matches!(operator, Some("??" | "||" | "&&")) {
            // The right side runs only depending on the left.
            let guards = left.map(|l| self.guards_for(l, &taint)).unwrap_or_default();
            let branch = self.new_branch();
            let saved = self.cond_guards.len();
            self.cond_guards.extend(guards);
            self.arms.push(Arm { branch, arm: 1 });
            taint.union(self.expr(right));
            self.arms.pop();
            self.cond_guards.truncate(saved);
        } else {
            taint.union(self.expr(right));
        }
        taint
    }

    fn assignment(&mut self, node: Node<'t>) -> Taint {
        let (Some(left), Some(right)) = (node.field("left"), node.field("right")) else {
            return Taint::default();
        };
        let effects_before = self.func.effects.len();
        let taint = self.expr(right);
        let augmented = node.kind() == "augmented_assignment_expression";
        // `this.tx = tx`: what fills the object's field.
        let this_field = left
            .field("object")
            .filter(|o| o.kind() == "this" && left.kind() == "member_expression")
            .and_then(|_| left.field("property"));
        if let (false, Some(prop)) = (augmented, this_field) {
            let (field, code) = (text(prop, self.src), text(unwrap_expr(right), self.src));
            self.record_field_fill(field.to_string(), code.to_string());
        }
        let mut names = Vec::new();
        match left.kind() {
            "identifier" => names.push(text(left, self.src).to_string()),
            "member_expression" | "subscript_expression" => {
                // `order.total = …` taints `order` as a whole.
                let root = std::iter::successors(Some(left), |n| n.field("object"))
                    .last()
                    .unwrap_or(left);
                if root.kind() == "identifier" {
                    let name = text(root, self.src).to_string();
                    let mut merged = self.env.get(&name).cloned().unwrap_or_default();
                    // `user.balance -= amount` computes from the old value.
                    let before = if augmented {
                        self.expr(left)
                    } else {
                        Taint::default()
                    };
                    // `user.balance = …`: remember the field and its new value, for
                    // clients that save the whole row later (`user.save()`).
                    if left.kind() == "member_expression" && left.field("object") == Some(root) {
                        if let Some(prop) = left.field("property") {
                            let value_node = if augmented { node } else { right };
                            let mut value_taint = before;
                            value_taint.union(taint.clone());
                            let value = self.value_of(value_node, &value_taint, false);
                            self.value_cache.insert(value_node.id(), value);
                            let fields = self.scope.assigned.entry(name.clone()).or_default();
                            let column = text(prop, self.src).to_string();
                            fields.retain(|(c, _)| *c != column);
                            fields.push((column, value_node));
                        }
                    }
                    merged.union(taint.clone());
                    self.env.insert(name, merged);
                }
                return taint;
            }
            _ => syntax::pattern_names(left, self.src, &mut names),
        }
        if !augmented {
            for n in &names {
                self.forget(n);
            }
        }
        if let Some(&index) = self.effect_at.get(&value_effect_node(right).id()) {
            if index >= effects_before {
                self.func.effects[index].binding = names.first().cloned();
                if let Some(first) = names.first() {
                    self.bind_origin(first.clone(), index);
                }
            }
        } else if let (false, Some(first)) = (augmented, names.first()) {
            self.bind_derived(first.clone(), right);
        }
        // Assigned under a condition on a read: the read chose this value.
        let chosen = self.choosing_reads(&self.cond_guards);
        for name in names {
            let mut value = if augmented {
                self.env.get(&name).cloned().unwrap_or_default()
            } else {
                Taint::default()
            };
            value.union(taint.clone());
            value.chosen(&chosen);
            if let Some(frame) = self.loops.last_mut() {
                frame.assigned.push(name.clone());
            }
            self.env.insert(name, value);
        }
        taint
    }

    /// The guards a condition contributes: one per read it depends on, with the
    /// fields of that read's row it inspects. A write's result in a condition
    /// (`if (count === 0)`) marks the write's count as checked instead.
    fn guards_for(&mut self, condition: Node, taint: &Taint) -> Vec<Guard> {
        let span = Span::new(condition.start_byte(), condition.end_byte());
        let mut guards = Vec::new();
        for &read in &taint.reads {
            let effect = &mut self.func.effects[read];
            // A write's result decides too: `if (updated.count === 0)` guards the
            // fallback that follows on the first write's row count.
            if effect.is_write() {
                effect.count_checked = true;
            } else if !matches!(effect.kind, EffectKind::Read | EffectKind::CallResult) {
                continue;
            }
            guards.push(Guard {
                read,
                span,
                fields: taint.fields.clone(),
                field_spans: Vec::new(),
            });
        }
        guards
    }

    // ---- calls ------------------------------------------------------------

    fn call(&mut self, node: Node<'t>) -> Taint {
        // `await f<T>(…)`, parsed as `(await f)<T>(…)`: the call is the awaited one.
        let awaited = u32::from(syntax::misparsed_generic_await(node).is_some());
        self.awaited += awaited;
        let taint = self.call_inner(node);
        self.awaited -= awaited;
        taint
    }

    fn call_inner(&mut self, node: Node<'t>) -> Taint {
        let chain = Chain::of(node, self.src);
        match clients::recognize_in(&chain, self.src, self.hints, &self.scope) {
            Some(Recognized::Effect(draft)) => {
                let unique_handled = self.chain_handles_unique(&chain);
                let filter = self.fields(&draft.filter);
                let values = self.fields(&draft.values);
                let conflict_update = draft.conflict_update.as_ref().map(|d| self.fields(d));
                let mut effect = Effect::new(draft.kind, draft.client, span_of(node));
                effect.conflict_update = conflict_update;
                effect.site = span_of(draft.site);
                effect.table = draft.table;
                effect.filter = filter;
                effect.values = values;
                effect.many = draft.many;
                effect.on_conflict = draft.on_conflict;
                effect.row_lock = draft.row_lock;
                effect.tally = draft.tally;
                effect.throws_if_missing = draft.throws_if_missing;
                effect.unique_violation_handled = unique_handled;
                effect.routines = draft.routines;
                effect.filter_code = draft.filter_node.map(span_of);
                effect.values_code = draft.values_node.map(span_of);
                effect.context = draft.context;
                let root_start = chain.root.start_byte();
                if draft.receiver_is_handle
                    && self
                        .src
                        .get(root_start..)
                        .is_some_and(|rest| rest.starts_with(&draft.handle))
                {
                    effect.handle_span =
                        Some(Span::new(root_start, root_start + draft.handle.len()));
                }
                effect.handle = draft.handle;
                let index = self.push_effect(effect, node);
                self.promise_callbacks(&chain, index);
                Taint::read(index)
            }
            Some(Recognized::Sql {
                client,
                handle,
                site,
                sql,
                params,
            }) => self.sql_call(node, client, handle, site, &sql, &params),
            Some(Recognized::Transaction {
                client,
                callback,
                batch,
                serializable,
            }) => {
                self.transaction(node, client, callback, batch, serializable);
                Taint::default()
            }
            Some(Recognized::Control {
                client,
                handle,
                control,
            }) => {
                self.control(node, client, handle, control);
                Taint::default()
            }
            None => self.plain_call(node, &chain),
        }
    }

    fn push_effect(&mut self, mut effect: Effect, node: Node) -> usize {
        let id = unwrap_expr(node).id();
        let returned = self.returned_expr == Some(id);
        effect.completion = if self.floating_expr == Some(id)
            || self.dropped_async > 0
            || (returned && self.discard_returns)
        {
            Completion::Floating
        } else if returned {
            Completion::Returned
        } else {
            Completion::Awaited
        };
        effect.transaction = self.transaction_for(&effect.handle);
        effect.enclosing_transaction = self.tx_stack.last().map(|(tx, _)| *tx);
        effect.guards = self.current_guards();
        effect.arms = self.arms_here();
        effect.in_loop = self.loop_depth > 0;
        effect.unique_violation_handled |= self.unique_handled > 0;
        let index = self.func.effects.len();
        self.func.effects.push(effect);
        self.effect_at.insert(node.id(), index);
        if self.func.effects[index].throws_if_missing
            && self.func.effects[index].kind == EffectKind::Read
        {
            let site = self.func.effects[index].site;
            self.exit_guards.push(Guard {
                read: index,
                span: site,
                fields: Vec::new(),
                field_spans: Vec::new(),
            });
        }
        index
    }

    fn current_guards(&self) -> Vec<Guard> {
        let mut guards: Vec<Guard> = Vec::new();
        for g in self.exit_guards.iter().chain(&self.cond_guards) {
            match guards.iter_mut().find(|x| x.read == g.read) {
                Some(existing) => existing.absorb(g),
                None => guards.push(g.clone()),
            }
        }
        guards
    }

    /// A parameter typed as a transaction (`tx: Prisma.TransactionClient`,
    /// `trx: Knex.Transaction`, `tx: Transaction<DB>`): the caller opened it. Like
    /// sqlx's `&mut PgConnection`, it is lent: inlined into a caller that passes
    /// no transaction there, it is none.
    fn transaction_parameter(&mut self, param: Node, name: &str) {
        let Some(annotation) = named_children(param).find(|n| n.kind() == "type_annotation") else {
            return;
        };
        let Some(client) = clients::transaction_type(text(annotation, self.src)) else {
            return;
        };
        let index = self.func.add_transaction(Transaction {
            style: TransactionStyle::Lent,
            client,
            span: span_of(param),
            handle: Some(name.to_string()),
            serializable: false,
            parent: None,
        });
        self.explicit.insert(name.to_string(), index);
    }

    /// The transaction an effect through `handle` runs in: the innermost open one
    /// whose handle it uses, or a batch being built.
    fn transaction_for(&self, handle: &str) -> Option<usize> {
        let root = handle.split(['.', '(', '[']).next().unwrap_or(handle);
        for (tx, tx_handle) in self.tx_stack.iter().rev() {
            match tx_handle {
                None => return Some(*tx),
                Some(h) if h == root || h == handle => return Some(*tx),
                _ => {}
            }
        }
        self.explicit
            .get(handle)
            .or_else(|| self.explicit.get(root))
            .or_else(|| self.tx_aliases.get(root))
            .copied()
    }

    fn fields(&mut self, drafts: &[clients::FieldDraft<'t>]) -> Vec<Field> {
        drafts
            .iter()
            .map(|d| Field {
                column: d.column.clone(),
                value: match d.value {
                    Some(node) => match self.value_cache.get(&node.id()) {
                        Some(cached) => Value {
                            atomic: d.atomic || cached.atomic,
                            ..cached.clone()
                        },
                        None => self.value(node, d.atomic),
                    },
                    None => Value {
                        atomic: d.atomic,
                        ..Value::default()
                    },
                },
            })
            .collect()
    }

    fn value(&mut self, node: Node<'t>, atomic: bool) -> Value {
        let taint = self.expr(node);
        self.value_of(node, &taint, atomic)
    }

    /// The value of `node`, already lowered, whose reads are `taint`.
    fn value_of(&self, node: Node<'t>, taint: &Taint, atomic: bool) -> Value {
        let mut vars = Vec::new();
        collect_vars(node, self.src, &mut vars, 0);
        let literal = matches!(
            node.kind(),
            "string" | "number" | "true" | "false" | "null" | "undefined" | "template_string"
        ) && named_children(node).all(|c| c.kind() != "template_substitution");
        Value {
            reads: taint.reads.clone(),
            chosen_by: taint.chosen_by.clone(),
            vars,
            atomic,
            literal,
            text: short_text(text(node, self.src)),
        }
    }

    fn chain_handles_unique(&self, chain: &Chain) -> bool {
        chain
            .segments
            .iter()
            .filter(|s| s.name == "catch")
            .any(|s| {
                s.args
                    .is_some_and(|a| clients::mentions_unique_violation(text(a, self.src)))
            })
    }

    /// `.then(cb)` / `.catch(cb)` after an effect: their callbacks run after it,
    /// the `catch` one only when it failed.
    fn promise_callbacks(&mut self, chain: &Chain<'t>, effect: usize) {
        for segment in chain
            .segments
            .iter()
            .filter(|s| PROMISE_METHODS.contains(&s.name))
        {
            let Some(args) = segment.args else { continue };
            for arg in syntax::arguments(args) {
                if !syntax::is_function(arg) {
                    self.expr(arg);
                } else if segment.name == "catch" {
                    let branch = self.new_branch();
                    self.arms.push(Arm { branch, arm: 1 });
                    self.inline_callback(arg, Taint::default());
                    self.arms.pop();
                } else {
                    let taint = if segment.name == "then" {
                        Taint::read(effect)
                    } else {
                        Taint::default()
                    };
                    self.inline_callback(arg, taint);
                }
            }
        }
    }

    fn sql_call(
        &mut self,
        node: Node<'t>,
        client: Client,
        handle: String,
        site: Node<'t>,
        sql_text: &str,
        params: &[Node<'t>],
    ) -> Taint {
        let param_values: Vec<Value> = params.iter().map(|p| self.value(*p, false)).collect();
        let mut taint = Taint::default();
        for statement in sql::classify(sql_text) {
            match statement.kind {
                sql::SqlKind::Begin => {
                    self.control(
                        node,
                        client,
                        handle.clone(),
                        TxControl::Begin {
                            serializable: statement.serializable,
                        },
                    );
                    continue;
                }
                sql::SqlKind::Commit | sql::SqlKind::Rollback => {
                    self.control(node, client, handle.clone(), TxControl::Commit);
                    continue;
                }
                _ => {}
            }
            let Some(mut effect) =
                crate::frontend::effect_from_sql(&statement, client, span_of(node), &|column| {
                    let mut value = Value {
                        atomic: column.atomic,
                        literal: column.literal,
                        ..Value::default()
                    };
                    for p in &column.params {
                        if let Some(v) = param_values.get(p.wrapping_sub(1)) {
                            value.reads.extend(v.reads.iter().copied());
                            value.vars.extend(v.vars.iter().cloned());
                            if value.text.is_empty() {
                                value.text = v.text.clone();
                            }
                        }
                    }
                    value
                })
            else {
                continue;
            };
            effect.site = span_of(site);
            effect.handle = handle.clone();
            let index = self.push_effect(effect, node);
            taint.union(Taint::read(index));
        }
        taint
    }

    fn transaction(
        &mut self,
        node: Node<'t>,
        client: Client,
        callback: Option<Node<'t>>,
        batch: Option<Node<'t>>,
        serializable: bool,
    ) {
        let style = if batch.is_some() {
            TransactionStyle::Batch
        } else {
            TransactionStyle::Callback
        };
        let handle = callback.and_then(|cb| syntax::param_name(cb, 0, self.src));
        let parent = self.tx_stack.last().map(|(tx, _)| *tx);
        let index = self.func.add_transaction(Transaction {
            style,
            client,
            span: span_of(node),
            handle: handle.clone(),
            serializable,
            parent,
        });
        let passed_on = callback
            .or(batch)
            .filter(|c| c.kind() == "identifier")
            .map(|c| text(c, self.src))
            .filter(|name| self.func.params.iter().any(|p| p == name));
        if let Some(name) = passed_on {
            // `db.transaction(fn)` with `fn` a parameter: a transaction wrapper.
            self.note_transaction_callback(name, index);
        } else if let Some(callback) = callback {
            self.tx_stack.push((index, handle.clone()));
            self.inline_callback(callback, Taint::default());
            self.tx_stack.pop();
        } else if let Some(batch) = batch.filter(|b| b.kind() == "array") {
            self.tx_stack.push((index, None));
            let saved = self.returned_expr;
            for item in named_children(batch) {
                self.returned_expr = Some(unwrap_expr(item).id());
                self.expr(item);
            }
            self.returned_expr = saved;
            self.tx_stack.pop();
        } else if let Some(batch) = batch {
            // The array was built before (`const ops = [prisma.a.update(…), …]`): its
            // calls did not run then, they run now, in this batch.
            self.tx_stack.push((index, None));
            let taint = self.expr(batch);
            self.tx_stack.pop();
            for &effect in &taint.reads {
                let effect = &mut self.func.effects[effect];
                if effect.client == client && effect.transaction.is_none() {
                    effect.transaction = Some(index);
                    effect.completion = Completion::Returned;
                }
            }
        }
        // The rest of the call (options) may still hold expressions worth lowering.
        let _ = node;
    }

    fn control(&mut self, node: Node<'t>, client: Client, handle: String, control: TxControl) {
        match control {
            TxControl::Begin { serializable } => {
                let index = self.func.add_transaction(Transaction {
                    style: TransactionStyle::Explicit,
                    client,
                    span: span_of(node),
                    handle: (!handle.is_empty()).then(|| handle.clone()),
                    serializable,
                    parent: None,
                });
                if handle.is_empty() {
                    // Named by the variable the result is bound to.
                    self.pending_begin = Some((unwrap_expr(node).id(), index));
                } else {
                    self.explicit.insert(handle, index);
                }
            }
            TxControl::Commit | TxControl::Rollback => {
                if let Some(tx) = self.explicit.remove(&handle) {
                    self.tx_aliases.retain(|_, t| *t != tx);
                }
            }
        }
    }

    /// Lowers a callback's body as part of this function; its first parameter
    /// carries `param_taint`.
    fn inline_callback(&mut self, function: Node<'t>, param_taint: Taint) {
        if let Some(params) = function
            .field("parameters")
            .or_else(|| function.field("parameter"))
        {
            let mut names = Vec::new();
            syntax::pattern_names(params, self.src, &mut names);
            for name in names {
                self.env.insert(name, param_taint.clone());
            }
        }
        let Some(body) = function.field("body") else {
            return;
        };
        // An early return inside a callback leaves the callback, not this function.
        self.callback_depth += 1;
        let saved_exit = self.exit_guards.len();
        let saved_exited_arms = self.exited_arms.len();
        let saved_returned = self.returned_expr;
        if body.kind() == "statement_block" {
            self.stmt(body);
        } else {
            self.returned_expr = Some(unwrap_expr(body).id());
            self.awaited += 1;
            self.expr(body);
            self.awaited -= 1;
        }
        self.returned_expr = saved_returned;
        self.exit_guards.truncate(saved_exit);
        self.exited_arms.truncate(saved_exited_arms);
        self.callback_depth -= 1;
    }

    fn plain_call(&mut self, node: Node<'t>, chain: &Chain<'t>) -> Taint {
        let mut taint = Taint::default();
        let runtime_site = if self.awaited > 0 {
            clients::runtime::sleep_site(chain, self.src)
                .map(|site| (EffectKind::Sleep, site))
                .or_else(|| {
                    clients::runtime::external_site(chain, self.src)
                        .map(|site| (EffectKind::External, site))
                })
        } else {
            None
        }
        .or_else(|| {
            clients::runtime::process_lock_site(chain, self.src, self.process_locks)
                .map(|site| (EffectKind::ProcessLock, site))
        });
        if let Some((kind, site)) = runtime_site {
            let mut effect = Effect::new(kind, Client::Runtime, span_of(node));
            effect.site = span_of(site);
            self.push_effect(effect, node);
        }
        let callee_name = chain
            .last()
            .map_or_else(|| text(chain.root, self.src), |s| s.name);
        let inline = self.awaited > 0 || INLINE_CALLEES.contains(&callee_name);
        // A call through a tainted receiver (`seats.filter(…)`) carries its taint.
        let receiver_taint = self.expr(chain.root);
        taint.union(receiver_taint.clone());
        let local_call = self.record_local_call(node, chain);
        self.note_parameter_called_in_transaction(chain);
        let in_iteration = INLINE_CALLEES[..7].contains(&callee_name);
        let last_segment = chain.segments.len().saturating_sub(1);
        for (s, segment) in chain.segments.iter().enumerate() {
            let Some(args) = segment.args else {
                if let Some(template) = segment.template {
                    taint.union(self.expr(template));
                }
                continue;
            };
            for (position, arg) in syntax::arguments(args).into_iter().enumerate() {
                if syntax::is_function(arg) && inline && s == last_segment {
                    if let Some(call) = local_call {
                        self.inline_callback_argument(call, position, arg, receiver_taint.clone());
                        continue;
                    }
                }
                if syntax::is_function(arg) {
                    if inline {
                        // `forEach` drops what its callback returns: a promise
                        // returned there is never awaited.
                        let saved_discard =
                            std::mem::replace(&mut self.discard_returns, callee_name == "forEach");
                        // An async callback whose promise is dropped: nothing waits
                        // for anything inside it, awaited or not.
                        let dropped_async =
                            callee_name == "forEach" && text(arg, self.src).starts_with("async");
                        self.dropped_async += u32::from(dropped_async);
                        self.loop_depth += u32::from(in_iteration);
                        self.inline_callback(arg, receiver_taint.clone());
                        self.loop_depth -= u32::from(in_iteration);
                        self.dropped_async -= u32::from(dropped_async);
                        self.discard_returns = saved_discard;
                    } else {
                        self.queue_function(arg, Some(self.callback_name(node, chain)));
                    }
                } else {
                    taint.union(self.expr(arg));
                }
            }
        }
        // The call's value stands for what the callee returns (see `ir::inline`).
        if let Some(call) = local_call {
            let mut effect = Effect::new(EffectKind::CallResult, Client::Runtime, span_of(node));
            effect.site = chain
                .segments
                .last()
                .and_then(|s| s.name_node)
                .map_or(span_of(chain.root), span_of);
            let index = self.push_effect(effect, node);
            self.func.calls[call].result = Some(index);
            taint.union(Taint::read(index));
        }
        taint
    }

    /// A function literal given to a call of the project, lowered inline and
    /// remembered on the call, so that a callee which runs it in a transaction
    /// (a project transaction wrapper) can put its effects there when linked.
    fn inline_callback_argument(
        &mut self,
        call: usize,
        arg: usize,
        function: Node<'t>,
        param_taint: Taint,
    ) {
        let (effects, calls) = (self.func.effects.len(), self.func.calls.len());
        self.inline_callback(function, param_taint);
        let handle = syntax::param_name(function, 0, self.src)
            .or_else(|| self.destructured_handle(function, effects, calls));
        let callback = CallbackArgument {
            arg,
            effects: effects..self.func.effects.len(),
            calls: calls..self.func.calls.len(),
            handle,
        };
        self.func.calls[call].callbacks.push(callback);
    }

    /// `async ({ tx }) => …`: a callback handed a context object. Its handle is the
    /// destructured name the body reaches the database through (or passes on to a
    /// call), since the wrapper may put the transaction under any key.
    fn destructured_handle(&self, function: Node, effects: usize, calls: usize) -> Option<String> {
        let mut names = Vec::new();
        syntax::pattern_names(syntax::param_pattern(function, 0)?, self.src, &mut names);
        names.into_iter().find(|name| {
            self.func.effects[effects..]
                .iter()
                .any(|e| inline::root(&e.handle) == name)
                || self.func.calls[calls..]
                    .iter()
                    .any(|c| c.args.iter().any(|a| inline::root(a) == name))
        })
    }

    /// `fn(tx)` inside an open transaction, `fn` a parameter: this function is a
    /// transaction wrapper for that parameter.
    fn note_parameter_called_in_transaction(&mut self, chain: &Chain) {
        let Some(&(tx, _)) = self.tx_stack.last() else {
            return;
        };
        if chain.root.kind() != "identifier"
            || !matches!(chain.segments.as_slice(), [only] if only.name.is_empty())
        {
            return;
        }
        let name = text(chain.root, self.src);
        self.note_transaction_callback(name, tx);
    }

    /// Records that parameter `name` (if it is one) runs inside transaction `tx`.
    fn note_transaction_callback(&mut self, name: &str, tx: usize) {
        let Some(param) = self.func.params.iter().position(|p| p == name) else {
            return;
        };
        if self
            .func
            .transaction_callbacks
            .iter()
            .any(|c| c.param == param)
        {
            return;
        }
        let transaction = &self.func.transactions()[self.func.root_transaction(tx)];
        let (client, serializable) = (transaction.client, transaction.serializable);
        self.func.transaction_callbacks.push(TransactionCallback {
            param,
            client,
            serializable,
        });
    }

    fn callback_name(&self, node: Node, chain: &Chain) -> String {
        let callee = chain.receiver_text(chain.segments.len().saturating_sub(1), self.src);
        let last = chain.last().map_or("", |s| s.name);
        let line = node.start_position().row + 1;
        if last.is_empty() {
            format!("<callback of {callee}() at line {line}>")
        } else {
            format!("<callback of {callee}.{last}() at line {line}>")
        }
    }

    /// The class `name` is bound to an object of, by `new` in this file.
    fn instance_types_class(&self, name: &str) -> Option<&'q str> {
        self.names.instance_types.get(name)?.as_deref()
    }

    /// `this.tx = tx` in a method of a class (or a parameter property of its
    /// constructor): what fills the field, for the project stage.
    fn record_field_fill(&mut self, field: String, code: String) {
        let Some((class, _)) = self.func.name.rsplit_once('.') else {
            return;
        };
        let ty = vec![class.to_string()];
        let tx = self.transaction_for(&code);
        self.func.constructions.push(Construction {
            ty,
            fields: vec![(field, code, tx)],
        });
    }

    /// `new OrderRepository(tx)` of a class of the project: a call of its
    /// constructor, which the project stage resolves like any other.
    fn record_construction_call(&mut self, node: Node<'t>) {
        let Some(class) = node
            .field("constructor")
            .filter(|c| c.kind() == "identifier")
            .map(|c| text(c, self.src))
        else {
            return;
        };
        if !self.names.callable.contains(class) {
            return;
        }
        let args: Vec<String> = node
            .field("arguments")
            .map(|a| {
                syntax::arguments(a)
                    .into_iter()
                    .map(|n| text(n, self.src).to_string())
                    .collect()
            })
            .unwrap_or_default();
        let transaction = self.tx_stack.last().map(|(tx, _)| *tx).or_else(|| {
            args.iter()
                .find_map(|a| self.explicit.get(a.as_str()).copied())
        });
        self.func.calls.push(LocalCall {
            callee: format!("{class}.constructor"),
            qualified: Vec::new(),
            span: span_of(node),
            transaction,
            arms: self.arms_here(),
            guards: self.current_guards(),
            position: self.func.effects.len(),
            args,
            keywords: Vec::new(),
            arg_reads: Vec::new(),
            result: None,
            callbacks: Vec::new(),
            in_loop: self.loop_depth > 0,
        });
    }

    /// Records a call to a function of this file; returns its index in `calls`.
    fn record_local_call(&mut self, node: Node, chain: &Chain) -> Option<usize> {
        let root = text(chain.root, self.src);
        let callee: String = match (chain.root.kind(), chain.segments.as_slice()) {
            ("identifier", [only]) if only.name.is_empty() && only.template.is_none() => {
                if !self.names.callable.contains(root) {
                    return None;
                }
                root.to_string()
            }
            ("this", [method]) => {
                if !self.names.callable.contains(method.name) {
                    return None;
                }
                method.name.to_string()
            }
            // `invites.accept(…)`: a method of an imported object, namespace or
            // class, or a static method of a class of this file.
            ("identifier", [method]) if method.is_call() && self.names.callable.contains(root) => {
                format!("{root}.{}", method.name)
            }
            // `orders.place(…)` on `const orders = new OrderRepository(…)`.
            ("identifier", [method])
                if method.is_call()
                    && self
                        .instance_types_class(root)
                        .is_some_and(|c| self.names.callable.contains(c)) =>
            {
                format!("{}.{}", self.instance_types_class(root)?, method.name)
            }
            // `this.invites.accept(…)`: a service injected by its declared type.
            ("this", [field, method]) if !field.is_call() && method.is_call() => {
                let ty = self.names.field_types.get(field.name)?;
                format!("{ty}.{}", method.name)
            }
            // `new InviteService(…).accept(…)`.
            ("new_expression", [method]) if method.is_call() => {
                let class = chain.root.field("constructor")?;
                format!("{}.{}", text(class, self.src), method.name)
            }
            _ => return None,
        };
        let args: Vec<String> = node
            .field("arguments")
            .map(|a| {
                syntax::arguments(a)
                    .into_iter()
                    .map(|n| text(n, self.src).to_string())
                    .collect()
            })
            .unwrap_or_default();
        // Inside a callback transaction, that one; else an explicit transaction
        // (`BEGIN` on `client`) whose handle is passed: `insertLines(client, …)`.
        let transaction = self.tx_stack.last().map(|(tx, _)| *tx).or_else(|| {
            args.iter()
                .find_map(|a| self.explicit.get(a.as_str()).copied())
        });
        self.func.calls.push(LocalCall {
            callee,
            qualified: Vec::new(),
            span: span_of(node),
            transaction,
            arms: self.arms_here(),
            guards: self.current_guards(),
            position: self.func.effects.len(),
            args,
            keywords: Vec::new(),
            arg_reads: Vec::new(),
            result: None,
            callbacks: Vec::new(),
            in_loop: self.loop_depth > 0,
        });
        Some(self.func.calls.len() - 1)
    }
}

const PROMISE_METHODS: &[&str] = &["then", "catch", "finally"];

/// `{ id, used: isUsed }` → `[("id", "id"), ("isUsed", "used")]`: the variables an
/// object pattern binds at its top level and the property each one takes.
fn destructured_fields(pattern: Node, src: &str) -> Vec<(String, String)> {
    named_children(pattern)
        .filter_map(|part| match part.kind() {
            "shorthand_property_identifier_pattern" => {
                let name = text(part, src).to_string();
                Some((name.clone(), name))
            }
            "pair_pattern" => {
                let key = part.field("key")?;
                let value = part.field("value")?;
                (value.kind() == "identifier")
                    .then(|| (text(value, src).to_string(), text(key, src).to_string()))
            }
            _ => None,
        })
        .filter(|(_, field)| !NON_COLUMN_FIELDS.contains(&field.as_str()))
        .collect()
}

/// `[row]` or `{ rows: [row] }`: a pattern that takes the first element of a result.
fn takes_first_row(pattern: Node) -> bool {
    match pattern.kind() {
        "array_pattern" => pattern.named_child_count() == 1,
        "object_pattern" => named_children(pattern).any(|p| {
            p.kind() == "pair_pattern"
                && p.field("value")
                    .is_some_and(|v| v.kind() == "array_pattern" && v.named_child_count() == 1)
        }),
        _ => false,
    }
}

/// The node whose call produced a bound value: `await x.findFirst()`,
/// `(await x.findFirst())!`, `await x.findFirst().catch(…)`.
fn value_effect_node(node: Node) -> Node {
    unwrap_expr(node)
}

/// How many nested statements `exit_of` looks into. It runs at every `if`, so
/// without a bound a 10 000-deep `if` nest or `else if` chain costs quadratic
/// time (and recursion as deep as the file); beyond it a branch counts as not
/// exiting (an early return that deep is then not seen as a guard).
const MAX_EXIT_DEPTH: u32 = 64;

/// A plain `if` of a block, as a later sibling `if` may exclude it.
struct SiblingTest {
    /// The tests of it this `if` and its excluding siblings made.
    seen: Vec<Test>,
    branch: u32,
    /// The last arm of `branch` given out (0 is this `if`'s own body).
    next_arm: u32,
    /// How far the code after this `if` has been looked through for an
    /// assignment to the subject.
    scanned_to: usize,
}

/// At most this many sibling `if`s share one branch, so that a chain of tests
/// of one variable costs linear time.
const MAX_SIBLING_TESTS: usize = 32;

#[derive(Clone, PartialEq, Eq)]
enum Test {
    /// `x` / `!x`, `x != null` / `x === undefined`.
    Truthy(bool),
    /// `x === "literal"`.
    Equals(String),
}

impl SiblingTest {
    /// Whether no value of the subject passes `test` and one of the tests seen.
    fn excluded_by(&self, test: &Test) -> bool {
        match test {
            Test::Truthy(value) => self.seen == [Test::Truthy(!value)],
            Test::Equals(literal) => self
                .seen
                .iter()
                .all(|t| matches!(t, Test::Equals(l) if l != literal)),
        }
    }
}

/// The subject and test of a condition a sibling `if` can exclude.
fn sibling_test(condition: Node, src: &str) -> Option<(String, Test)> {
    let expr = unwrap_expr(condition);
    let subject_of = |n: Node| {
        matches!(n.kind(), "identifier" | "member_expression")
            .then(|| text(n, src).split_whitespace().collect::<String>())
            .filter(|s| !s.contains('('))
    };
    match expr.kind() {
        "identifier" | "member_expression" => Some((subject_of(expr)?, Test::Truthy(true))),
        "unary_expression" if expr.field("operator").is_some_and(|o| text(o, src) == "!") => {
            let operand = unwrap_expr(expr.field("argument")?);
            Some((subject_of(operand)?, Test::Truthy(false)))
        }
        "binary_expression" => {
            let operator = text(expr.field("operator")?, src);
            let (left, right) = (expr.field("left")?, expr.field("right")?);
            let (subject, other) = match (subject_of(left), subject_of(right)) {
                (Some(s), _) if is_literal(right) => (s, right),
                (_, Some(s)) if is_literal(left) => (s, left),
                _ => return None,
            };
            let nullish = matches!(other.kind(), "null" | "undefined");
            match (operator, nullish) {
                ("===" | "==", true) => Some((subject, Test::Truthy(false))),
                ("!==" | "!=", true) => Some((subject, Test::Truthy(true))),
                ("===" | "==", false) => {
                    Some((subject, Test::Equals(text(other, src).to_string())))
                }
                _ => None,
            }
        }
        _ => None,
    }
}

fn is_literal(node: Node) -> bool {
    matches!(
        node.kind(),
        "string" | "number" | "null" | "undefined" | "true" | "false"
    )
}

/// Whether `code` assigns `subject` or what it is read from (`x = …`, `x.kind = …`,
/// `x++`), so that a test of it before `code` says nothing after.
fn assigns(code: &str, subject: &str) -> bool {
    let root = subject.split(['.', '?']).next().unwrap_or(subject);
    let word = |c: char| c.is_alphanumeric() || c == '_' || c == '$';
    code.match_indices(root).any(|(at, _)| {
        if code[..at]
            .chars()
            .next_back()
            .is_some_and(|c| word(c) || c == '.')
        {
            return false;
        }
        let mut rest = code[at + root.len()..].trim_start();
        if rest.starts_with(|c: char| word(c)) {
            return false;
        }
        // Members of the root: `x.kind = …` assigns `x.kind`.
        while let Some(after) = rest.strip_prefix('.').or_else(|| rest.strip_prefix("?.")) {
            let end = after.find(|c: char| !word(c)).unwrap_or(after.len());
            rest = after[end..].trim_start();
        }
        (rest.starts_with('=') && !rest.starts_with("==") && !rest.starts_with("=>"))
            || rest.starts_with("++")
            || rest.starts_with("--")
            || ["+=", "-=", "*=", "/=", "??=", "||=", "&&="]
                .iter()
                .any(|op| rest.starts_with(op))
    })
}

fn exit_of(node: Node, src: &str) -> Option<Exit> {
    exit_within(node, src, 0)
}

fn exit_within(node: Node, src: &str, depth: u32) -> Option<Exit> {
    if depth > MAX_EXIT_DEPTH {
        return None;
    }
    let exit_of = |node: Node, src: &str| exit_within(node, src, depth + 1);
    match node.kind() {
        "return_statement" | "throw_statement" => Some(Exit::Function),
        "continue_statement" | "break_statement" => Some(Exit::Loop),
        "statement_block" => named_children(node)
            .filter(|c| c.kind() != "comment")
            .find_map(|c| exit_of(c, src)),
        "if_statement" => {
            let consequence = node.field("consequence").and_then(|c| exit_of(c, src));
            let alternative = node
                .field("alternative")
                .and_then(|a| named_children(a).last())
                .and_then(|a| exit_of(a, src));
            match (consequence, alternative) {
                (Some(a), Some(b)) => Some(if a == Exit::Loop || b == Exit::Loop {
                    Exit::Loop
                } else {
                    Exit::Function
                }),
                _ => None,
            }
        }
        "expression_statement" => {
            // Next.js `redirect()` and `notFound()` throw; `process.exit()` ends the process.
            let call = node
                .named_child(0)
                .map(unwrap_expr)
                .filter(|c| c.kind() == "call_expression")?;
            let callee = text(call.field("function")?, src);
            matches!(
                callee,
                "redirect"
                    | "notFound"
                    | "permanentRedirect"
                    | "process.exit"
                    | "unauthorized"
                    | "forbidden"
            )
            .then_some(Exit::Function)
        }
        // `try { …; return ok } catch (e) { return failed }`: both ways out leave.
        "try_statement" => {
            let body = exit_of(node.field("body")?, src)?;
            match node.field("handler").and_then(|h| h.field("body")) {
                Some(handler) => (exit_of(handler, src)? == body).then_some(body),
                None => Some(body),
            }
        }
        _ => None,
    }
}

fn collect_vars(node: Node, src: &str, out: &mut Vec<String>, depth: u32) {
    if depth > 32 {
        return;
    }
    match node.kind() {
        "identifier" | "shorthand_property_identifier" => {
            let name = text(node, src);
            if !out.iter().any(|v| v == name) && name != "undefined" {
                out.push(name.to_string());
            }
        }
        "member_expression" => {
            if let Some(object) = node.field("object") {
                collect_vars(object, src, out, depth + 1);
            }
        }
        "property_identifier" => {}
        _ => {
            for child in named_children(node) {
                collect_vars(child, src, out, depth + 1);
            }
        }
    }
}

fn short_text(code: &str) -> String {
    let one_line: String = code.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() > 60 {
        let cut: String = one_line.chars().take(57).collect();
        format!("{cut}…")
    } else {
        one_line
    }
}

fn span_of(node: Node) -> Span {
    Span::new(node.start_byte(), node.end_byte())
}
