//! Lowers a Python syntax tree into the effect model, one function at a time.
//!
//! The walk follows evaluation order and keeps, per function, an environment from
//! variable names to the reads their values came from (taint). Conditions that
//! depend on a read become [`Guard`]s of what they decide: inside the branch,
//! after an early `return`/`raise`/`continue`, on the right of `and`/`or`, after a
//! read that raises when nothing matches (`.get()`, `.one()`).
//!
//! Transactions: `with session.begin():`, `with transaction.atomic():` and
//! `@transaction.atomic` scope a block; a SQLAlchemy session otherwise begins a
//! transaction at its first statement and ends it at `commit()`/`rollback()`
//! (autobegin), so the statements between two commits run together. Attribute
//! assignments on a row read through a session (`story.updated_at = now`) are
//! the update the next `commit()`/`flush()` sends; on a Django row, `save()` does.

use super::clients::{self, runtime, sqlalchemy, Control, FileHints, Origin, Recognized};
use super::syntax::{compact, dict_pairs, last_name, Chain, SqlParam};
use crate::frontend::sql;
use crate::ir::{
    Arm, Client, Completion, Construction, Effect, EffectKind, Field, FileModel, Function, Guard,
    LocalCall, Span, Transaction, TransactionStyle, Value,
};
use crate::schema::py::{children, text};
use std::collections::{HashMap, HashSet, VecDeque};
use tree_sitter::Node;

mod calls;
mod rows;

use super::names;

/// Deeper than this, a subtree is skipped rather than risk the stack.
const MAX_DEPTH: u32 = 400;

/// Result methods that return one row of what the statement read.
const SINGLE_ROW: &[&str] = &[
    "scalar_one_or_none",
    "scalar_one",
    "scalar",
    "first",
    "one",
    "one_or_none",
    "fetchone",
];

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
}

/// What a loop chooses: a variable assigned in it holds a value the loop's going
/// round decided on, and so the reads that decide that.
#[derive(Default)]
struct LoopChoice {
    assigned: Vec<String>,
    continues_on: Vec<usize>,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Exit {
    /// `return`, `raise`: nothing after runs in this call.
    Function,
    /// `continue`, `break`: the rest of the loop body is skipped.
    Loop,
}

/// Attributes assigned on one variable: column, the assignment statement, the
/// value and what it was computed from.
type Assigned<'t> = Vec<(String, Node<'t>, Node<'t>, Taint)>;

struct Pending<'t> {
    node: Node<'t>,
    name: String,
    /// `@transaction.atomic`: the whole body runs in one transaction.
    atomic: bool,
    /// A method: its `self`/`cls` is no parameter callers pass.
    method: bool,
}

pub struct Lowered {
    pub model: FileModel,
    /// Subtrees skipped for being too deeply nested (byte offset).
    pub too_deep: Option<usize>,
}

pub fn lower(root: Node, src: &str, hints: FileHints) -> Lowered {
    let mut callable = HashSet::new();
    collect_defined(root, src, &mut callable, 0);
    let locks = runtime::process_locks(root, src);
    let imports = names::imports(root, src);
    let file_names = FileNames {
        imported: imports.iter().map(|i| i.local.clone()).collect(),
        attributes: names::attribute_types(root, src),
    };
    let mut queue = VecDeque::new();
    queue.push_back(Pending {
        node: root,
        name: "<module>".into(),
        atomic: false,
        method: false,
    });
    let mut functions = Vec::new();
    let mut too_deep = None;
    while let Some(pending) = queue.pop_front() {
        let mut lowerer = FnLowerer::new(
            src,
            hints,
            &callable,
            &file_names,
            &locks,
            &mut queue,
            &pending,
        );
        lowerer.lower_body(&pending);
        too_deep = too_deep.or(lowerer.too_deep);
        let mut lowerer_extra = std::mem::take(&mut lowerer.dataclass_inits);
        let function = lowerer.func;
        if !function.effects.is_empty()
            || !function.calls.is_empty()
            || !function.constructions.is_empty()
        {
            functions.push(function);
        }
        functions.append(&mut lowerer_extra);
    }
    functions.sort_by_key(|f| f.span.start);
    Lowered {
        model: FileModel {
            functions,
            imports,
            registrations: clients::django::registrations(root, src),
            ..FileModel::default()
        },
        too_deep,
    }
}

/// The names of the functions and classes the file defines, at any depth.
fn collect_defined(node: Node, src: &str, out: &mut HashSet<String>, depth: u32) {
    if depth > MAX_DEPTH {
        return;
    }
    for child in children(node) {
        match child.kind() {
            "function_definition" | "class_definition" => {
                if let Some(name) = child.child_by_field_name("name") {
                    out.insert(text(name, src).to_string());
                }
                collect_defined(child, src, out, depth + 1);
            }
            "decorated_definition"
            | "block"
            | "module"
            | "if_statement"
            | "else_clause"
            | "try_statement"
            | "elif_clause" => collect_defined(child, src, out, depth + 1),
            _ => {}
        }
    }
}

/// What the file's imports and classes make a name stand for.
struct FileNames {
    /// The names imports bind (`create_user`, `billing`, `app.services`).
    imported: HashSet<String>,
    /// The class each instance attribute holds, keyed `Class.attr`.
    attributes: HashMap<String, String>,
}

/// At most this many early exits put the rest of a function in their other arm
/// (each effect after them carries them all); past that, later writes are
/// paired as if the exits were not there.
const MAX_EXITED_ARMS: usize = 64;

struct FnLowerer<'q, 't> {
    src: &'t str,
    hints: FileHints,
    callable: &'q HashSet<String>,
    names: &'q FileNames,
    /// The class a parameter's annotation or a constructor gave a local.
    types: HashMap<String, String>,
    locks: &'q HashSet<String>,
    queue: &'q mut VecDeque<Pending<'t>>,
    func: Function,
    env: HashMap<String, Taint>,
    cond_guards: Vec<Guard>,
    /// Open loops, innermost last (what each chooses).
    loops: Vec<LoopChoice>,
    exit_guards: Vec<Guard>,
    arms: Vec<Arm>,
    /// Arms the rest of the function is in because an earlier arm left it: after
    /// `if expired: token.delete(); return` every later statement, past the
    /// enclosing block too, is in the other arm.
    exited_arms: Vec<Arm>,
    next_branch: u32,
    /// Open `begin()`/`atomic()` blocks, innermost last, with their handle
    /// (`None`: every call inside runs in it, as Django's connection does).
    tx_stack: Vec<(usize, Option<String>)>,
    /// Transactions a SQLAlchemy session began on its own, by handle.
    implicit: HashMap<String, usize>,
    /// Sessions opened inside an open `begin()` block (`with factory() as
    /// audit:`): a second connection on purpose, never taken for an escape.
    opened_in_block: HashSet<String>,
    loop_depth: u32,
    unique_handled: u32,
    effect_at: HashMap<usize, usize>,
    depth: u32,
    too_deep: Option<usize>,
    scope: clients::Scope<'t>,
    /// Model constructors bound to a variable (`character = Character(name=…)`).
    constructors: HashMap<String, Node<'t>>,
    /// Attributes assigned on a variable since it was bound: column, the
    /// assignment, the value and what it was computed from.
    assigned: HashMap<String, Assigned<'t>>,
    /// The value of the assignment being lowered: a deferred statement there is kept.
    assigning: Option<usize>,
    deferred: Option<Chain<'t>>,
    is_async: bool,
    /// A `select_for_update()` queryset built with no `atomic()` block open.
    locks_outside_atomic: bool,
    class_prefix: Option<String>,
    /// The `__init__` a `@dataclass` is given, one per dataclass defined here.
    dataclass_inits: Vec<Function>,
}

impl<'q, 't> FnLowerer<'q, 't> {
    fn new(
        src: &'t str,
        hints: FileHints,
        callable: &'q HashSet<String>,
        names: &'q FileNames,
        locks: &'q HashSet<String>,
        queue: &'q mut VecDeque<Pending<'t>>,
        pending: &Pending<'t>,
    ) -> Self {
        let node = pending.node;
        let span = Span::new(node.start_byte(), node.end_byte());
        let class_prefix = pending
            .name
            .rsplit_once('.')
            .map(|(class, _)| class.to_string());
        FnLowerer {
            src,
            hints,
            callable,
            names,
            types: names::parameter_types(node, src),
            locks,
            queue,
            func: Function::new(pending.name.clone(), span),
            env: HashMap::new(),
            cond_guards: Vec::new(),
            loops: Vec::new(),
            exit_guards: Vec::new(),
            arms: Vec::new(),
            exited_arms: Vec::new(),
            next_branch: 0,
            tx_stack: Vec::new(),
            implicit: HashMap::new(),
            opened_in_block: HashSet::new(),
            loop_depth: 0,
            unique_handled: 0,
            effect_at: HashMap::new(),
            depth: 0,
            too_deep: None,
            scope: clients::Scope::default(),
            constructors: HashMap::new(),
            assigned: HashMap::new(),
            assigning: None,
            deferred: None,
            is_async: text(node, src).starts_with("async"),
            locks_outside_atomic: false,
            class_prefix,
            dataclass_inits: Vec::new(),
        }
    }

    fn lower_body(&mut self, pending: &Pending<'t>) {
        let node = pending.node;
        if node.kind() == "module" {
            self.block_statements(node);
            return;
        }
        if let Some(params) = node.child_by_field_name("parameters") {
            for (position, param) in children(params).into_iter().enumerate() {
                let name_node = match param.kind() {
                    "identifier" => Some(param),
                    "typed_parameter" => param.named_child(0),
                    _ => param.child_by_field_name("name"),
                };
                let name = name_node
                    .filter(|n| n.kind() == "identifier")
                    .map_or("", |n| text(n, self.src));
                if pending.method && position == 0 && matches!(name, "self" | "cls") {
                    continue;
                }
                let annotation = param
                    .child_by_field_name("type")
                    .map_or("", |t| text(t, self.src));
                if annotation.contains("Session") || annotation.contains("Connection") {
                    self.scope.sessions.insert(name.to_string());
                }
                self.func.params.push(name.to_string());
            }
        }
        let atomic = pending
            .atomic
            .then(|| self.open_block(node, Client::Django, None));
        if let Some(body) = node.child_by_field_name("body") {
            self.stmt(body);
        }
        if atomic.is_some() {
            self.tx_stack.pop();
        }
        self.assume_callers_atomic();
    }

    /// Django refuses `select_for_update()` outside a transaction
    /// (`TransactionManagementError`): a function that locks rows with it and opens
    /// no `atomic()` around the lock always runs in its caller's, and so do its
    /// other statements on the same thread-bound connection.
    fn assume_callers_atomic(&mut self) {
        if !self.locks_outside_atomic {
            return;
        }
        let assumed = self
            .func
            .add_transaction(Transaction::ambient(Client::Django, self.func.span));
        for effect in &mut self.func.effects {
            if effect.client == Client::Django && effect.transaction.is_none() {
                effect.transaction = Some(assumed);
            }
        }
    }

    fn open_block(&mut self, node: Node, client: Client, handle: Option<String>) -> usize {
        let parent = self.tx_stack.last().map(|(tx, _)| *tx);
        self.open_block_in(node, client, handle, parent)
    }

    fn open_block_in(
        &mut self,
        node: Node,
        client: Client,
        handle: Option<String>,
        parent: Option<usize>,
    ) -> usize {
        // A block with no handle is Django's `atomic()`: thread-bound, so what
        // its callees run joins it.
        let style = match handle {
            None => TransactionStyle::Ambient,
            Some(_) => TransactionStyle::Callback,
        };
        let index = self.func.add_transaction(Transaction {
            style,
            client,
            span: span_of(node),
            handle: handle.clone(),
            serializable: false,
            parent,
        });
        self.tx_stack.push((index, handle));
        index
    }

    fn enter(&mut self, node: Node) -> bool {
        if self.depth >= MAX_DEPTH {
            self.too_deep.get_or_insert(node.start_byte());
            return false;
        }
        self.depth += 1;
        true
    }

    fn queue_function(&mut self, node: Node<'t>, decorators: &[Node<'t>], class: Option<&str>) {
        let name = node
            .child_by_field_name("name")
            .map_or("<function>", |n| text(n, self.src));
        let name = match class {
            Some(class) => format!("{class}.{name}"),
            None => name.to_string(),
        };
        let atomic = decorators.iter().any(|d| {
            let code = text(*d, self.src).trim_start_matches('@').trim();
            clients::django::is_atomic(code)
        });
        self.queue.push_back(Pending {
            node,
            name,
            atomic,
            method: class.is_some(),
        });
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
            "block" => self.block(node),
            "expression_statement" => {
                for child in children(node) {
                    self.expr(child);
                }
            }
            "return_statement" => {
                if let Some(value) = node.named_child(0) {
                    let taint = self.expr(value);
                    self.note_returned(&taint);
                }
            }
            "raise_statement" | "assert_statement" | "delete_statement" | "print_statement" => {
                for child in children(node) {
                    self.expr(child);
                }
            }
            "if_statement" => self.if_statement(node),
            "for_statement" | "while_statement" => self.loop_statement(node),
            "try_statement" => self.try_statement(node),
            "with_statement" => self.with_statement(node),
            "function_definition" => self.queue_function(node, &[], None),
            "decorated_definition" => {
                let decorators: Vec<Node> = children(node)
                    .into_iter()
                    .filter(|d| d.kind() == "decorator")
                    .collect();
                if let Some(definition) = node.child_by_field_name("definition") {
                    match definition.kind() {
                        "function_definition" => self.queue_function(definition, &decorators, None),
                        "class_definition" => {
                            self.class(definition);
                            if decorators
                                .iter()
                                .any(|d| is_dataclass_decorator(text(*d, self.src)))
                            {
                                self.dataclass_init(definition);
                            }
                        }
                        _ => {}
                    }
                }
            }
            "class_definition" => self.class(node),
            "import_statement"
            | "import_from_statement"
            | "future_import_statement"
            | "pass_statement"
            | "comment"
            | "global_statement"
            | "nonlocal_statement"
            | "break_statement"
            | "continue_statement"
            | "type_alias_statement" => {}
            _ => {
                for child in children(node) {
                    if child.kind().ends_with("statement") || child.kind() == "block" {
                        self.stmt(child);
                    } else {
                        self.expr(child);
                    }
                }
            }
        }
    }

    fn block_statements(&mut self, node: Node<'t>) {
        for child in children(node) {
            self.stmt(child);
        }
    }

    /// The arms an effect or call written here is in.
    pub(super) fn arms_here(&self) -> Vec<Arm> {
        self.arms.iter().chain(&self.exited_arms).copied().collect()
    }

    fn block(&mut self, node: Node<'t>) {
        let guards = self.cond_guards.len();
        let arms = self.arms.len();
        self.block_statements(node);
        self.cond_guards.truncate(guards);
        self.arms.truncate(arms);
    }

    fn class(&mut self, node: Node<'t>) {
        let Some(name) = node.child_by_field_name("name") else {
            return;
        };
        let class = match &self.class_prefix {
            Some(outer) if self.func.name == "<module>" => {
                format!("{outer}.{}", text(name, self.src))
            }
            _ => text(name, self.src).to_string(),
        };
        let Some(body) = node.child_by_field_name("body") else {
            return;
        };
        for member in children(body) {
            match member.kind() {
                "function_definition" => self.queue_function(member, &[], Some(&class)),
                "decorated_definition" => {
                    let decorators: Vec<Node> = children(member)
                        .into_iter()
                        .filter(|d| d.kind() == "decorator")
                        .collect();
                    if let Some(def) = member
                        .child_by_field_name("definition")
                        .filter(|d| d.kind() == "function_definition")
                    {
                        self.queue_function(def, &decorators, Some(&class));
                    }
                }
                _ => {}
            }
        }
    }

    /// `@dataclass class OrderRepository: session: AsyncSession`: the generated
    /// `__init__` takes the annotated fields in order and stores each, so
    /// `OrderRepository(session)` fills `self.session` as a written one would.
    fn dataclass_init(&mut self, node: Node<'t>) {
        let (Some(name), Some(body)) = (
            node.child_by_field_name("name"),
            node.child_by_field_name("body"),
        ) else {
            return;
        };
        let class = text(name, self.src).to_string();
        let mut init = Function::new(format!("{class}.__init__"), span_of(node));
        for statement in children(body) {
            let Some(assignment) = statement
                .named_child(0)
                .filter(|a| statement.kind() == "expression_statement" && a.kind() == "assignment")
            else {
                continue;
            };
            let (Some(left), Some(annotation)) = (
                assignment.child_by_field_name("left"),
                assignment.child_by_field_name("type"),
            ) else {
                continue;
            };
            let default = assignment
                .child_by_field_name("right")
                .map_or("", |r| text(r, self.src));
            if left.kind() != "identifier"
                || text(annotation, self.src).starts_with("ClassVar")
                || default.contains("init=False")
            {
                continue;
            }
            let field = text(left, self.src).to_string();
            init.params.push(field.clone());
            init.constructions.push(Construction {
                ty: vec![class.clone()],
                fields: vec![(field.clone(), field, None)],
            });
        }
        if !init.constructions.is_empty() {
            self.dataclass_inits.push(init);
        }
    }

    fn note_returned(&mut self, taint: &Taint) {
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

    fn new_branch(&mut self) -> u32 {
        self.next_branch += 1;
        self.next_branch
    }

    fn if_statement(&mut self, node: Node<'t>) {
        let Some(condition) = node.child_by_field_name("condition") else {
            return;
        };
        let taint = self.expr(condition);
        let guards = self.guards_for(condition, &taint);
        let branch = self.new_branch();
        let saved = self.cond_guards.len();
        self.cond_guards.extend(guards.iter().cloned());
        let arms = self.arms.len();
        let mut exits = Vec::new();
        if let Some(consequence) = node.child_by_field_name("consequence") {
            self.arms.push(Arm { branch, arm: 0 });
            self.stmt(consequence);
            self.arms.truncate(arms);
            exits.push(exit_of(consequence, self.src));
        }
        self.cond_guards.truncate(saved);
        let mut cursor = node.walk();
        let alternatives: Vec<Node> = node
            .children_by_field_name("alternative", &mut cursor)
            .collect();
        for (i, alternative) in alternatives.iter().enumerate() {
            self.arms.push(Arm {
                branch,
                arm: i as u32 + 1,
            });
            let saved = self.cond_guards.len();
            // The other arms run when the condition was false: they depend on it too.
            self.cond_guards.extend(guards.iter().cloned());
            if let Some(elif_condition) = alternative.child_by_field_name("condition") {
                let t = self.expr(elif_condition);
                let more = self.guards_for(elif_condition, &t);
                self.cond_guards.extend(more);
            }
            let body = alternative
                .child_by_field_name("consequence")
                .or_else(|| alternative.child_by_field_name("body"));
            if let Some(body) = body {
                self.stmt(body);
                exits.push(exit_of(body, self.src));
            }
            self.cond_guards.truncate(saved);
            self.arms.truncate(arms);
        }
        if alternatives.is_empty() {
            exits.push(None);
        }
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

    /// A variable gets a value: under a condition on a read, or in a loop, the
    /// read chose it.
    fn assigned(&mut self, name: &str, taint: &mut Taint) {
        taint.chosen(&self.choosing_reads(&self.cond_guards));
        if let Some(frame) = self.loops.last_mut() {
            frame.assigned.push(name.to_string());
        }
    }

    fn try_statement(&mut self, node: Node<'t>) {
        let clauses = children(node);
        let handles_unique = clauses.iter().any(|c| {
            c.kind() == "except_clause"
                && children(*c)
                    .into_iter()
                    .filter(|k| k.kind() != "block")
                    .any(|k| clients::handles_unique_violation(text(k, self.src)))
        });
        let branch = self.new_branch();
        let mut arm = 0;
        for clause in clauses {
            match clause.kind() {
                "block" => {
                    self.unique_handled += u32::from(handles_unique);
                    self.arms.push(Arm { branch, arm: 0 });
                    self.stmt(clause);
                    self.arms.pop();
                    self.unique_handled -= u32::from(handles_unique);
                }
                "except_clause" | "except_group_clause" => {
                    arm += 1;
                    self.arms.push(Arm { branch, arm });
                    let (exit_guards, exited_arms) =
                        (self.exit_guards.len(), self.exited_arms.len());
                    for part in children(clause) {
                        if part.kind() == "block" {
                            self.stmt(part);
                            // A handler that always raises or returns: what its
                            // conditions decided does not reach the code after
                            // the `try`, which only the other ways get to.
                            if exit_of(part, self.src) == Some(Exit::Function) {
                                self.exit_guards.truncate(exit_guards);
                                self.exited_arms.truncate(exited_arms);
                            }
                        }
                    }
                    self.arms.pop();
                }
                "else_clause" => {
                    self.arms.push(Arm { branch, arm: 0 });
                    if let Some(body) = clause.child_by_field_name("body") {
                        self.stmt(body);
                    }
                    self.arms.pop();
                }
                "finally_clause" => {
                    for part in children(clause) {
                        self.stmt(part);
                    }
                }
                _ => {}
            }
        }
    }

    fn loop_statement(&mut self, node: Node<'t>) {
        let mut guards = Vec::new();
        if node.kind() == "for_statement" {
            let right = node.child_by_field_name("right");
            let taint = right.map(|r| self.expr(r)).unwrap_or_default();
            let origin = right.and_then(|r| self.origin_of_value(r));
            if let Some(left) = node.child_by_field_name("left") {
                for name in pattern_names(left, self.src) {
                    self.forget(&name);
                    if let Some(origin) = &origin {
                        self.scope.origins.insert(name.clone(), origin.clone());
                    }
                    self.env.insert(name, taint.clone());
                }
            }
        } else if let Some(condition) = node.child_by_field_name("condition") {
            let taint = self.expr(condition);
            guards = self.guards_for(condition, &taint);
        }
        let saved = self.cond_guards.len();
        self.cond_guards.extend(guards.iter().cloned());
        self.loop_depth += 1;
        self.loops.push(LoopChoice {
            assigned: Vec::new(),
            continues_on: self.choosing_reads(&guards),
        });
        if let Some(body) = node.child_by_field_name("body") {
            self.stmt(body);
        }
        if let Some(mut frame) = self.loops.pop() {
            for name in &frame.assigned {
                if let Some(taint) = self.env.get_mut(name) {
                    taint.chosen(&frame.continues_on);
                }
            }
            if let Some(outer) = self.loops.last_mut() {
                outer.assigned.append(&mut frame.assigned);
            }
        }
        self.loop_depth -= 1;
        self.cond_guards.truncate(saved);
        if let Some(alternative) = node.child_by_field_name("alternative") {
            if let Some(body) = alternative.child_by_field_name("body") {
                self.stmt(body);
            }
        }
        // What follows a `while` runs once its condition failed.
        self.cond_guards.extend(guards);
    }

    fn with_statement(&mut self, node: Node<'t>) {
        enum Opened {
            Block(Option<String>),
            Session(String),
        }
        let mut opened = Vec::new();
        let items: Vec<Node> = children(node)
            .into_iter()
            .filter(|c| c.kind() == "with_clause")
            .flat_map(children)
            .filter(|i| i.kind() == "with_item")
            .collect();
        for item in items {
            let Some(value) = item.child_by_field_name("value") else {
                continue;
            };
            let (manager, alias) = if value.kind() == "as_pattern" {
                let alias = value
                    .child_by_field_name("alias")
                    .map(|a| compact(text(a, self.src)));
                (value.named_child(0).unwrap_or(value), alias)
            } else {
                (value, None)
            };
            let manager = if manager.kind() == "await" {
                manager.named_child(0).unwrap_or(manager)
            } else {
                manager
            };
            let code = text(manager, self.src);
            if clients::django::is_atomic(code) {
                self.open_block(manager, Client::Django, None);
                opened.push(Opened::Block(None));
            } else if let Some(begun_on) = sqlalchemy::begins(manager, self.src) {
                // `with Session.begin() as s:` gives a session in a transaction;
                // `with session.begin():` begins one on `session`.
                let handle = alias.clone().unwrap_or(begun_on);
                self.scope.sessions.insert(handle.clone());
                let client = self.sqlalchemy_client();
                // A savepoint nests in the session's own transaction: what it
                // writes commits with what the session wrote around it.
                let parent = if sqlalchemy::is_savepoint(manager, self.src) {
                    self.transaction_for(&handle, client, manager)
                } else {
                    self.tx_stack.last().map(|(tx, _)| *tx)
                };
                self.open_block_in(manager, client, Some(handle.clone()), parent);
                opened.push(Opened::Block(Some(handle)));
            } else if sqlalchemy::opens_session(manager, self.src) && alias.is_some() {
                let alias = alias.clone().unwrap_or_default();
                for child in manager
                    .child_by_field_name("arguments")
                    .map(children)
                    .unwrap_or_default()
                {
                    self.expr(child);
                }
                self.scope.sessions.insert(alias.clone());
                if self.tx_stack.iter().any(|(_, handle)| handle.is_some()) {
                    self.opened_in_block.insert(alias.clone());
                }
                opened.push(Opened::Session(alias));
            } else if runtime::is_process_lock(manager, self.src, self.locks) {
                let mut effect =
                    Effect::new(EffectKind::ProcessLock, Client::Runtime, span_of(manager));
                effect.site = span_of(manager);
                self.push_effect(effect, manager);
            } else {
                let taint = self.expr(manager);
                if let Some(alias) = alias {
                    self.env.insert(alias, taint);
                }
            }
        }
        if let Some(body) = node.child_by_field_name("body") {
            self.stmt(body);
        }
        for open in opened.into_iter().rev() {
            match open {
                Opened::Block(handle) => {
                    // The block commits at its end: pending attribute changes go then.
                    if let Some(handle) = &handle {
                        self.flush_assigned(handle, node);
                    }
                    self.tx_stack.pop();
                }
                Opened::Session(name) => {
                    self.implicit.remove(&name);
                    self.opened_in_block.remove(&name);
                    self.scope.sessions.remove(&name);
                }
            }
        }
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
            "identifier" => self
                .env
                .get(text(node, self.src))
                .cloned()
                .unwrap_or_default(),
            "attribute" => {
                let mut taint = node
                    .child_by_field_name("object")
                    .map(|o| self.expr(o))
                    .unwrap_or_default();
                if !taint.reads.is_empty() {
                    if let Some(attr) = node.child_by_field_name("attribute") {
                        let field = text(attr, self.src).to_string();
                        if !taint.fields.contains(&field) {
                            taint.fields.push(field);
                        }
                    }
                }
                taint
            }
            "call" => self.call(node),
            "await" => node
                .named_child(0)
                .map(|c| self.expr(c))
                .unwrap_or_default(),
            "assignment" => self.assignment(node),
            "augmented_assignment" => self.augmented_assignment(node),
            "named_expression" => {
                let taint = node
                    .child_by_field_name("value")
                    .map(|v| self.expr(v))
                    .unwrap_or_default();
                if let Some(name) = node.child_by_field_name("name") {
                    self.env
                        .insert(text(name, self.src).to_string(), taint.clone());
                }
                taint
            }
            "boolean_operator" => {
                let left = node.child_by_field_name("left");
                let mut taint = left.map(|l| self.expr(l)).unwrap_or_default();
                if let Some(right) = node.child_by_field_name("right") {
                    let guards = left.map(|l| self.guards_for(l, &taint)).unwrap_or_default();
                    let branch = self.new_branch();
                    let saved = self.cond_guards.len();
                    self.cond_guards.extend(guards);
                    self.arms.push(Arm { branch, arm: 1 });
                    taint.union(self.expr(right));
                    self.arms.pop();
                    self.cond_guards.truncate(saved);
                }
                taint
            }
            "conditional_expression" => {
                let parts = children(node);
                let [consequence, condition, alternative] = parts.as_slice() else {
                    return Taint::default();
                };
                let mut taint = self.expr(*condition);
                let guards = self.guards_for(*condition, &taint);
                let chosen = self.choosing_reads(&guards);
                taint.chosen(&chosen);
                let branch = self.new_branch();
                let saved = self.cond_guards.len();
                self.cond_guards.extend(guards);
                for (arm, part) in [consequence, alternative].into_iter().enumerate() {
                    self.arms.push(Arm {
                        branch,
                        arm: arm as u32,
                    });
                    taint.union(self.expr(*part));
                    self.arms.pop();
                }
                self.cond_guards.truncate(saved);
                taint
            }
            "subscript" => {
                let mut taint = Taint::default();
                for child in children(node) {
                    taint.union(self.expr(child));
                }
                if node
                    .child_by_field_name("subscript")
                    .is_some_and(|i| text(i, self.src) == "0")
                {
                    self.single_row(&taint);
                }
                taint
            }
            "list_comprehension"
            | "set_comprehension"
            | "dictionary_comprehension"
            | "generator_expression" => {
                self.loop_depth += 1;
                let mut taint = Taint::default();
                for child in children(node) {
                    taint.union(self.expr(child));
                }
                self.loop_depth -= 1;
                taint
            }
            "for_in_clause" => {
                let right = node.child_by_field_name("right");
                let taint = right.map(|r| self.expr(r)).unwrap_or_default();
                if let Some(left) = node.child_by_field_name("left") {
                    for name in pattern_names(left, self.src) {
                        self.env.insert(name, taint.clone());
                    }
                }
                taint
            }
            "lambda" | "string" | "integer" | "float" | "true" | "false" | "none" | "comment"
            | "ellipsis" | "type" => Taint::default(),
            "keyword_argument" => node
                .child_by_field_name("value")
                .map(|v| self.expr(v))
                .unwrap_or_default(),
            _ => {
                let mut taint = Taint::default();
                for child in children(node) {
                    taint.union(self.expr(child));
                }
                taint
            }
        }
    }

    fn single_row(&mut self, taint: &Taint) {
        for &r in &taint.reads {
            if let Some(effect) = self.func.effects.get_mut(r) {
                if effect.kind == EffectKind::Read {
                    effect.many = false;
                }
            }
        }
    }

    fn forget(&mut self, name: &str) {
        self.types.remove(name);
        self.scope.origins.remove(name);
        self.scope.statements.remove(name);
        self.constructors.remove(name);
        self.assigned.remove(name);
    }

    fn assignment(&mut self, node: Node<'t>) -> Taint {
        let Some(left) = node.child_by_field_name("left") else {
            return Taint::default();
        };
        let Some(right) = node.child_by_field_name("right") else {
            return Taint::default();
        };
        let value = unwrap_await(right);
        let effects_before = self.func.effects.len();
        let saved = self.assigning.replace(value.id());
        let taint = self.expr(right);
        self.assigning = saved;
        let deferred = self.deferred.take();
        match left.kind() {
            "identifier" => {
                let name = text(left, self.src).to_string();
                self.forget(&name);
                if let Some(class) =
                    names::constructed_class(value, self.src).filter(|c| self.is_project_name(c))
                {
                    self.types.insert(name.clone(), class);
                }
                if let Some(chain) = deferred {
                    self.scope.statements.insert(name.clone(), chain);
                }
                if let Some(index) = self.effect_of_value(value) {
                    if index >= effects_before {
                        self.func.effects[index].binding = Some(name.clone());
                        self.bind_origin(name.clone(), index);
                    }
                } else if let Some(origin) = self.origin_of_value(value) {
                    self.scope.origins.insert(name.clone(), origin);
                } else if let Some(table) = self.constructed_model(value) {
                    self.scope.origins.insert(
                        name.clone(),
                        Origin {
                            client: Client::Runtime,
                            table: Some(table),
                            read: None,
                            constructed: true,
                            handle: String::new(),
                        },
                    );
                    self.constructors.insert(name.clone(), value);
                }
                let code = text(value, self.src);
                if sqlalchemy::opens_session(value, self.src)
                    || sqlalchemy::is_session(code, &self.scope)
                {
                    self.scope.sessions.insert(name.clone());
                }
                let mut held = taint.clone();
                self.assigned(&name, &mut held);
                self.env.insert(name, held);
            }
            "attribute" => {
                self.record_field_fill(left, value);
                self.assign_attribute(left, node, right, taint.clone(), false);
            }
            "pattern_list" | "tuple_pattern" | "list_pattern" => {
                let names = pattern_names(left, self.src);
                for name in &names {
                    self.forget(name);
                }
                if let (Some(first), Some(&index)) =
                    (names.first(), self.effect_at.get(&value.id()))
                {
                    if index >= effects_before {
                        self.func.effects[index].binding = Some(first.clone());
                        self.bind_origin(first.clone(), index);
                    }
                }
                for name in names {
                    let mut held = taint.clone();
                    self.assigned(&name, &mut held);
                    self.env.insert(name, held);
                }
            }
            _ => {
                self.expr(left);
            }
        }
        taint
    }

    fn augmented_assignment(&mut self, node: Node<'t>) -> Taint {
        let (Some(left), Some(right)) = (
            node.child_by_field_name("left"),
            node.child_by_field_name("right"),
        ) else {
            return Taint::default();
        };
        let mut taint = self.expr(left);
        taint.union(self.expr(right));
        match left.kind() {
            "identifier" => {
                let name = text(left, self.src).to_string();
                let mut held = taint.clone();
                self.assigned(&name, &mut held);
                self.env.entry(name).or_default().union(held);
            }
            "attribute" => self.assign_attribute(left, node, node, taint.clone(), true),
            _ => {}
        }
        taint
    }

    /// `self.session = session` in a method of a class: what fills the object's
    /// field, for the project stage.
    fn record_field_fill(&mut self, left: Node<'t>, value: Node<'t>) {
        let (Some(object), Some(attribute), Some(class)) = (
            left.child_by_field_name("object"),
            left.child_by_field_name("attribute"),
            self.class_prefix.clone(),
        ) else {
            return;
        };
        if text(object, self.src) != "self" {
            return;
        }
        let code = compact(text(value, self.src));
        let tx = self
            .tx_stack
            .iter()
            .rev()
            .find(|(_, handle)| handle.as_deref() == Some(code.as_str()))
            .map(|(tx, _)| *tx)
            .or_else(|| self.implicit.get(code.as_str()).copied());
        self.func.constructions.push(Construction {
            ty: vec![class],
            fields: vec![(text(attribute, self.src).to_string(), code, tx)],
        });
    }

    /// `row.column = value`: remembered for the commit or `save()` that writes it.
    fn assign_attribute(
        &mut self,
        left: Node<'t>,
        statement: Node<'t>,
        value: Node<'t>,
        taint: Taint,
        augmented: bool,
    ) {
        let (Some(object), Some(attribute)) = (
            left.child_by_field_name("object"),
            left.child_by_field_name("attribute"),
        ) else {
            return;
        };
        if object.kind() != "identifier" {
            return;
        }
        let name = text(object, self.src).to_string();
        let column = text(attribute, self.src).to_string();
        let mut taint = taint;
        if augmented {
            taint.union(self.env.get(&name).cloned().unwrap_or_default());
        }
        if self.scope.origins.contains_key(&name) {
            let fields = self.assigned.entry(name.clone()).or_default();
            fields.retain(|(c, ..)| *c != column);
            fields.push((column, statement, value, taint.clone()));
        }
        self.env.entry(name).or_default().union(taint);
    }

    /// The effect whose result a value is, through result methods
    /// (`(await session.execute(…)).scalar_one()`).
    fn effect_of_value(&self, value: Node<'t>) -> Option<usize> {
        let mut node = value;
        for _ in 0..8 {
            if let Some(&index) = self.effect_at.get(&node.id()) {
                return Some(index);
            }
            if node.kind() != "call" {
                return None;
            }
            let chain = Chain::of(node, self.src);
            if !chain
                .segments
                .iter()
                .all(|s| RESULT_METHODS.contains(&s.name))
            {
                return None;
            }
            node = unwrap_await(chain.root);
        }
        None
    }

    /// `name` holds the result of effect `index`.
    fn bind_origin(&mut self, name: String, index: usize) {
        let effect = &self.func.effects[index];
        if !matches!(
            effect.kind,
            EffectKind::Read | EffectKind::Insert | EffectKind::Upsert
        ) {
            return;
        }
        self.scope.origins.insert(
            name,
            Origin {
                client: effect.client,
                table: effect.table.clone(),
                read: Some(index),
                constructed: false,
                handle: effect.handle.clone(),
            },
        );
    }

    /// The origin a value takes from the variable its chain starts at
    /// (`story = result.scalar_one_or_none()`, `for s in result.scalars()`).
    fn origin_of_value(&self, value: Node<'t>) -> Option<Origin> {
        let value = unwrap_await(value);
        let chain = Chain::of(value, self.src);
        if chain.root.kind() != "identifier" {
            return None;
        }
        let root = self.scope.origins.get(text(chain.root, self.src))?;
        if root.constructed && !chain.segments.is_empty() {
            return None;
        }
        Some(root.clone())
    }

    /// `Character(name=…)` in a file whose ORM builds rows that way.
    fn constructed_model(&self, value: Node<'t>) -> Option<String> {
        if value.kind() != "call" {
            return None;
        }
        let function = value.child_by_field_name("function")?;
        let name = compact(text(function, self.src));
        (clients::is_model_name(&name) && matches!(function.kind(), "identifier" | "attribute"))
            .then(|| last_name(&name))
    }

    fn guards_for(&mut self, condition: Node, taint: &Taint) -> Vec<Guard> {
        let span = span_of(condition);
        let mut guards = Vec::new();
        for &read in &taint.reads {
            let effect = &mut self.func.effects[read];
            if effect.is_write() {
                effect.count_checked = true;
            } else if !matches!(effect.kind, EffectKind::Read | EffectKind::CallResult) {
                continue;
            }
            guards.push(Guard {
                read,
                span,
                fields: taint
                    .fields
                    .iter()
                    .filter(|f| !RESULT_METHODS.contains(&f.as_str()))
                    .cloned()
                    .collect(),
                field_spans: Vec::new(),
            });
        }
        guards
    }

    // ---- calls ------------------------------------------------------------

    fn call(&mut self, node: Node<'t>) -> Taint {
        let mut chain = Chain::of(node, self.src);
        if let Some(base) = chain
            .root_name(self.src)
            .and_then(|r| self.scope.statements.get(r))
        {
            let mut expanded = base.clone();
            expanded.segments.extend(chain.segments.iter().copied());
            chain = expanded;
        }
        if self.tx_stack.is_empty() && clients::django::locks_rows(&chain, self.src) {
            self.locks_outside_atomic = true;
        }
        match clients::recognize(&chain, self.src, self.hints, &self.scope) {
            Some(Recognized::Effect(draft)) => {
                let client = self.client_of(draft.client);
                let filter = self.fields(&draft.filter);
                let values = self.fields(&draft.values);
                let conflict_update = draft.conflict_update.as_ref().map(|d| self.fields(d));
                let mut effect = Effect::new(draft.kind, client, span_of(node));
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
                effect.routines = draft.routines;
                effect.handle = draft.handle;
                let index = self.push_effect(effect, node);
                Taint::read(index)
            }
            Some(Recognized::Deferred { read }) => {
                if self.assigning == Some(node.id()) {
                    self.deferred = Some(chain);
                    return Taint::default();
                }
                match read {
                    Some(draft) => {
                        let filter = self.fields(&draft.filter);
                        let mut effect = Effect::new(
                            EffectKind::Read,
                            self.client_of(draft.client),
                            span_of(node),
                        );
                        effect.site = span_of(draft.site);
                        effect.table = draft.table;
                        effect.filter = filter;
                        effect.many = true;
                        effect.row_lock = draft.row_lock;
                        effect.tally = draft.tally;
                        effect.handle = draft.handle;
                        Taint::read(self.push_effect(effect, node))
                    }
                    None => Taint::default(),
                }
            }
            Some(Recognized::AddObjects {
                client,
                handle,
                site,
                objects,
            }) => {
                let mut taint = Taint::default();
                for object in objects {
                    if let Some(index) = self.insert_object(object, client, &handle, site, node) {
                        taint.union(Taint::read(index));
                    }
                }
                taint
            }
            Some(Recognized::DeleteObject {
                client,
                handle,
                site,
                object,
            }) => self.delete_object(object, client, handle, site, node),
            Some(Recognized::SaveObject {
                client,
                site,
                object,
                update_fields,
            }) => self.save_object(object, client, site, node, update_fields),
            Some(Recognized::Sql {
                client,
                handle,
                site,
                sql,
                binds,
            }) => self.sql_call(node, client, handle, site, sql, binds),
            Some(Recognized::Control {
                handle, control, ..
            }) => {
                self.control(node, &handle, control);
                Taint::default()
            }
            None => self.plain_call(node, &chain),
        }
    }

    fn sqlalchemy_client(&self) -> Client {
        if self.is_async {
            Client::SqlalchemyAsync
        } else {
            Client::Sqlalchemy
        }
    }

    fn client_of(&self, client: Client) -> Client {
        if client == Client::Sqlalchemy {
            self.sqlalchemy_client()
        } else {
            client
        }
    }

    fn push_effect(&mut self, mut effect: Effect, node: Node) -> usize {
        // A session is a connection a statement can be moved to; a Django
        // manager is not (every query of the thread shares one connection).
        if matches!(effect.client, Client::Sqlalchemy | Client::SqlalchemyAsync)
            && effect.handle_span.is_none()
            && !effect.handle.is_empty()
        {
            let handle = self.handle_node(node, &effect.handle);
            effect.handle_span = handle.map(span_of);
            if self.is_async && effect.is_write() {
                if let Some(completion) = handle.and_then(|h| self.completion_of(h)) {
                    effect.completion = completion;
                }
            }
        }
        effect.transaction = self.transaction_for(&effect.handle, effect.client, node);
        effect.enclosing_transaction = self.tx_stack.last().map(|(tx, _)| *tx);
        effect.guards = self.current_guards();
        effect.arms = self.arms_here();
        effect.in_loop = self.loop_depth > 0;
        effect.unique_violation_handled |= self.unique_handled > 0;
        let index = self.func.effects.len();
        let raises = effect.throws_if_missing && effect.kind == EffectKind::Read;
        let site = effect.site;
        self.func.effects.push(effect);
        self.effect_at.insert(node.id(), index);
        if raises {
            self.exit_guards.push(Guard {
                read: index,
                span: site,
                fields: Vec::new(),
                field_spans: Vec::new(),
            });
        }
        index
    }

    /// The receiver written as `handle` in the call chain `node` ends
    /// (`db.session` in `db.session.execute(…).scalars().first()`).
    fn handle_node<'n>(&self, node: Node<'n>, handle: &str) -> Option<Node<'n>> {
        let mut current = node;
        // Bounded by the tree's depth, which the lowering bounds.
        loop {
            current = match current.kind() {
                "call" => current.child_by_field_name("function")?,
                "attribute" => {
                    let object = current.child_by_field_name("object")?;
                    if compact(text(object, self.src)) == handle {
                        return Some(object);
                    }
                    object
                }
                "await" | "parenthesized_expression" => current.named_child(0)?,
                _ => return None,
            };
        }
    }

    /// Whether the coroutine of the session method called on `handle` runs: a
    /// bare expression statement never does; one handed to
    /// `asyncio.create_task`/`ensure_future` and not awaited runs whenever the
    /// loop gets to it. `None`: awaited, or used in a way not followed.
    fn completion_of(&self, handle: Node) -> Option<Completion> {
        let method = handle.parent().filter(|a| a.kind() == "attribute")?;
        let name = method.child_by_field_name("attribute")?;
        if !sqlalchemy::is_coroutine_method(text(name, self.src)) {
            return None;
        }
        let call = method.parent().filter(|c| c.kind() == "call")?;
        fn outer(node: Node) -> Option<Node> {
            let mut node = node;
            while let Some(parent) = node
                .parent()
                .filter(|p| p.kind() == "parenthesized_expression")
            {
                node = parent;
            }
            node.parent()
        }
        let parent = outer(call)?;
        match parent.kind() {
            "expression_statement" => Some(Completion::Unstarted),
            "argument_list" => {
                let spawn = parent.parent().filter(|c| c.kind() == "call")?;
                let function = spawn.child_by_field_name("function")?;
                let spawned = runtime::spawns_task(text(function, self.src));
                (spawned && outer(spawn)?.kind() == "expression_statement")
                    .then_some(Completion::Floating)
            }
            _ => None,
        }
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

    /// The transaction an effect through `handle` runs in: the innermost open
    /// block it belongs to, else the one its session began on its own.
    fn transaction_for(&mut self, handle: &str, client: Client, node: Node) -> Option<usize> {
        if client == Client::Runtime {
            return None;
        }
        for (tx, tx_handle) in self.tx_stack.iter().rev() {
            match tx_handle {
                None if client == Client::Django => return Some(*tx),
                Some(h) if h == handle => return Some(*tx),
                _ => {}
            }
        }
        if !matches!(client, Client::Sqlalchemy | Client::SqlalchemyAsync)
            || !sqlalchemy::is_session(handle, &self.scope) && !self.implicit.contains_key(handle)
        {
            return None;
        }
        if let Some(&tx) = self.implicit.get(handle) {
            return Some(tx);
        }
        // Another session's statements run on its own connection, outside a
        // `begin()` block of this one: they do not nest in it (tx-client-escape).
        let escapes = self.tx_stack.iter().any(|(_, h)| h.is_some())
            && !self.opened_in_block.contains(handle);
        let parent = self.tx_stack.last().map(|(tx, _)| *tx).filter(|_| !escapes);
        let tx = self.func.add_transaction(Transaction {
            style: TransactionStyle::Explicit,
            client,
            span: span_of(node),
            handle: Some(handle.to_string()),
            serializable: false,
            parent,
        });
        self.implicit.insert(handle.to_string(), tx);
        Some(tx)
    }

    fn fields(&mut self, drafts: &[clients::FieldDraft<'t>]) -> Vec<Field> {
        drafts
            .iter()
            .map(|d| Field {
                column: d.column.clone(),
                value: match d.value {
                    Some(node) => self.value(node, d.atomic),
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

    fn value_of(&self, node: Node<'t>, taint: &Taint, atomic: bool) -> Value {
        let mut vars = Vec::new();
        collect_vars(node, self.src, &mut vars, 0);
        let literal = match node.kind() {
            "string" => !children(node).iter().any(|c| c.kind() == "interpolation"),
            "integer" | "float" | "true" | "false" | "none" => true,
            // An enum member or a module constant: `MfaChallengeStatus.APPROVED`.
            "attribute" => is_constant_name(text(node, self.src)),
            _ => false,
        };
        // `row.n += 1` writes `row.n + 1`.
        let code = match (
            node.kind(),
            node.child_by_field_name("left"),
            node.child_by_field_name("operator"),
            node.child_by_field_name("right"),
        ) {
            ("augmented_assignment", Some(left), Some(op), Some(right)) => format!(
                "{} {} {}",
                text(left, self.src),
                text(op, self.src).trim_end_matches('='),
                text(right, self.src)
            ),
            _ => text(node, self.src).to_string(),
        };
        Value {
            reads: taint.reads.clone(),
            chosen_by: taint.chosen_by.clone(),
            vars,
            atomic,
            literal,
            text: short_text(&code),
        }
    }
}

/// Methods of a result object whose names are no column of the row.
const RESULT_METHODS: &[&str] = &[
    "scalar_one_or_none",
    "scalar_one",
    "scalar",
    "scalars",
    "first",
    "one",
    "one_or_none",
    "all",
    "exists",
    "count",
    "fetchone",
    "fetchall",
    "rowcount",
];

/// `@dataclass`, `@dataclasses.dataclass(frozen=True)`, `@dataclass(slots=True)`.
fn is_dataclass_decorator(code: &str) -> bool {
    let name = code.trim_start_matches('@').trim();
    let name = name.split('(').next().unwrap_or(name).trim();
    name == "dataclass" || name == "dataclasses.dataclass"
}

fn unwrap_await(node: Node) -> Node {
    let mut node = node;
    while matches!(node.kind(), "await" | "parenthesized_expression") {
        match node.named_child(0) {
            Some(inner) => node = inner,
            None => break,
        }
    }
    node
}

fn pattern_names(node: Node, src: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![node];
    while let Some(n) = stack.pop() {
        match n.kind() {
            "identifier" => out.push(text(n, src).to_string()),
            "pattern_list"
            | "tuple_pattern"
            | "list_pattern"
            | "parenthesized_expression"
            | "expression_list"
            | "tuple"
            | "list" => {
                let mut kids = children(n);
                kids.reverse();
                stack.extend(kids);
            }
            _ => {}
        }
        if out.len() > 64 {
            break;
        }
    }
    out
}

fn exit_of(block: Node, src: &str) -> Option<Exit> {
    exit_within(block, src, 0)
}

fn exit_within(node: Node, src: &str, depth: u32) -> Option<Exit> {
    if depth > 50 {
        return None;
    }
    match node.kind() {
        "return_statement" | "raise_statement" => Some(Exit::Function),
        "continue_statement" | "break_statement" => Some(Exit::Loop),
        "block" => children(node)
            .last()
            .and_then(|last| exit_within(*last, src, depth + 1)),
        "expression_statement" => {
            // `abort(404)`, `sys.exit()`: calls that never return.
            let code = text(node, src);
            (code.starts_with("abort(") || code.starts_with("sys.exit(")).then_some(Exit::Function)
        }
        "if_statement" => {
            let mut cursor = node.walk();
            let alternatives: Vec<Node> = node
                .children_by_field_name("alternative", &mut cursor)
                .collect();
            if !alternatives.iter().any(|a| a.kind() == "else_clause") {
                return None;
            }
            let mut exits = vec![exit_within(
                node.child_by_field_name("consequence")?,
                src,
                depth + 1,
            )?];
            for alternative in alternatives {
                let body = alternative
                    .child_by_field_name("consequence")
                    .or_else(|| alternative.child_by_field_name("body"))?;
                exits.push(exit_within(body, src, depth + 1)?);
            }
            exits.into_iter().max()
        }
        _ => None,
    }
}

fn collect_vars(node: Node, src: &str, out: &mut Vec<String>, depth: u32) {
    if depth > 30 || out.len() > 16 {
        return;
    }
    match node.kind() {
        "identifier" => {
            let name = text(node, src).to_string();
            if !out.contains(&name) {
                out.push(name);
            }
        }
        "attribute" => {
            if let Some(object) = node.child_by_field_name("object") {
                collect_vars(object, src, out, depth + 1);
            }
        }
        "keyword_argument" => {
            if let Some(value) = node.child_by_field_name("value") {
                collect_vars(value, src, out, depth + 1);
            }
        }
        _ => {
            for child in children(node) {
                collect_vars(child, src, out, depth + 1);
            }
        }
    }
}

/// `Status.APPROVED`, `models.Role.OWNER`: a Capitalized name's UPPER_CASE member.
fn is_constant_name(code: &str) -> bool {
    let mut parts = code.rsplit('.');
    let member = parts.next().unwrap_or("");
    let owner = parts.next().unwrap_or("");
    member.chars().any(|c| c.is_ascii_uppercase())
        && member
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        && clients::is_model_name(owner)
}

fn short_text(code: &str) -> String {
    let code = compact(code);
    if code.chars().count() > 60 {
        let cut: String = code.chars().take(57).collect();
        format!("{cut}…")
    } else {
        code
    }
}

fn span_of(node: Node) -> Span {
    Span::new(node.start_byte(), node.end_byte())
}
