//! One SQL function's body → one [`Function`].
//!
//! Each SQL statement of the body goes through the shared classifier
//! (`frontend::sql`) after its PL/pgSQL variables are rewritten into numbered
//! placeholders, so that `WHERE slug = v_slug` is a filter on `slug` whose value is
//! the variable `v_slug`, with the reads that gave `v_slug` its value. `SELECT …
//! INTO v` binds `v` to the read; `IF v IS NULL`, `IF NOT FOUND`, `IF EXISTS
//! (SELECT …)` and `EXIT WHEN` turn reads into guards of what they decide.
//!
//! Transaction semantics: the whole body runs inside one transaction (the caller's,
//! or the calling statement's own), so every effect is in it: writes are atomic
//! together, while a read is protected only by a lock taken before it (`FOR UPDATE`,
//! `pg_advisory_xact_lock`). A `pg_try_advisory_xact_lock` counts as a lock only
//! when its result is tested. A procedure's `COMMIT` starts a new transaction.

use super::block::{always_leaves, LoopKind, Parser, Stmt};
use super::lex::{lex, Kind, Tok};
use crate::frontend::sql::{self, SqlKind};
use crate::ir::{
    Arm, Client, Effect, EffectKind, Function, Guard, RowLock, Span, Transaction, TransactionStyle,
    Value,
};
use std::collections::HashMap;
use std::ops::Range;

/// A `CREATE FUNCTION`/`PROCEDURE` found in a file.
pub struct Routine {
    pub name: String,
    pub span: Span,
    /// Parameter names, lowercased, in order (`""` for unnamed ones): `$n` is `params[n - 1]`.
    pub params: Vec<String>,
    /// `OUT` parameters and `RETURNS TABLE` columns: usually named like the table's
    /// columns, so never read as variables inside SQL.
    pub outputs: Vec<String>,
    pub plpgsql: bool,
    /// `RETURNS trigger`: it runs inside the statement that wrote `NEW`/`OLD`.
    pub trigger: bool,
    /// The body's byte range in the file.
    pub body: Range<usize>,
}

#[derive(Clone, Debug, Default)]
struct Var {
    /// Reads whose result the variable holds.
    reads: Vec<usize>,
    /// The column it was selected from (`SELECT status INTO v_status`).
    column: Option<String>,
    /// The `pg_try_advisory_xact_lock` whose result it holds.
    lock: Option<usize>,
    /// The write whose row count it holds (`GET DIAGNOSTICS v = ROW_COUNT`).
    count_of: Option<usize>,
}

struct Lowerer<'a> {
    src: &'a str,
    toks: Vec<Tok>,
    f: Function,
    params: Vec<String>,
    outputs: Vec<String>,
    vars: HashMap<String, Var>,
    guards: Vec<Guard>,
    arms: Vec<Arm>,
    branches: u32,
    in_loop: usize,
    unique_handled: usize,
    tx: usize,
    /// The last SQL statement's effect: what `FOUND` is about.
    last: Option<usize>,
    /// `pg_try_advisory_xact_lock` effects and whether a condition tests them.
    try_locks: Vec<(usize, bool)>,
    /// Guards of the `EXIT WHEN` conditions met in the current loop body.
    exits: Vec<Guard>,
    trigger: bool,
}

/// A variable rewritten into a placeholder: `$n` of the rewritten SQL is `slots[n - 1]`.
struct Slot {
    /// As written: `v_slug`, `rec.user_id`.
    text: String,
    var: String,
}

/// Lowers one routine; the second value is a problem met in its body.
pub fn lower(src: &str, routine: &Routine) -> (Function, Option<(usize, String)>) {
    let mut f = Function::new(routine.name.clone(), routine.span);
    f.routine = true;
    f.params = routine.params.clone();
    f.add_transaction(transaction(routine.span));
    let toks = lex(src, routine.body.start, routine.body.end);
    let mut l = Lowerer {
        src,
        toks,
        f,
        params: routine.params.clone(),
        outputs: routine.outputs.clone(),
        vars: HashMap::new(),
        guards: Vec::new(),
        arms: Vec::new(),
        branches: 0,
        in_loop: 0,
        unique_handled: 0,
        tx: 0,
        last: None,
        try_locks: Vec::new(),
        exits: Vec::new(),
        trigger: false,
    };
    for p in routine.params.iter().filter(|p| !p.is_empty()) {
        l.vars.insert(p.clone(), Var::default());
    }
    if routine.trigger {
        // A trigger function's rows: variables, not columns.
        for row in ["new", "old"] {
            l.vars.entry(row.to_string()).or_default();
        }
    }
    l.trigger = routine.trigger;
    let mut problem = None;
    if routine.plpgsql {
        let toks = l.toks.clone();
        let mut parser = Parser::new(src, &toks);
        let body = parser.body();
        problem = parser.problem.take();
        l.list(&body);
    } else {
        // A SQL function: its statements, in order.
        let mut start = 0;
        for i in 0..=l.toks.len() {
            if i == l.toks.len() || l.toks[i].kind == Kind::Semi {
                if i > start {
                    l.sql(start..i, false, &[]);
                }
                start = i + 1;
            }
        }
    }
    for &(effect, tested) in &l.try_locks {
        if !tested {
            l.f.effects[effect].kind = EffectKind::Opaque;
        }
    }
    (l.f, problem)
}

fn transaction(span: Span) -> Transaction {
    Transaction {
        style: TransactionStyle::Routine,
        client: Client::PlPgSql,
        span,
        handle: None,
        serializable: false,
        parent: None,
    }
}

impl Lowerer<'_> {
    fn span(&self, range: &Range<usize>) -> Span {
        match (
            self.toks.get(range.start),
            range.end.checked_sub(1).and_then(|e| self.toks.get(e)),
        ) {
            (Some(a), Some(b)) if range.start < range.end => Span::new(a.start, b.end),
            (Some(a), _) => Span::new(a.start, a.end),
            _ => Span::new(self.f.span.start as usize, self.f.span.start as usize),
        }
    }

    fn word(&self, i: usize, word: &str) -> bool {
        self.toks.get(i).is_some_and(|t| t.is(self.src, word))
    }

    fn list(&mut self, stmts: &[Stmt]) {
        let guards = self.guards.len();
        for stmt in stmts {
            self.statement(stmt);
        }
        self.guards.truncate(guards);
    }

    fn statement(&mut self, stmt: &Stmt) {
        match stmt {
            Stmt::Block {
                declared,
                init,
                body,
                handlers,
            } => {
                for name in declared {
                    self.vars.insert(name.clone(), Var::default());
                }
                self.list(init);
                let handles = handlers.iter().any(|h| h.unique_violation);
                self.unique_handled += usize::from(handles);
                self.list(body);
                self.unique_handled -= usize::from(handles);
                if !handlers.is_empty() {
                    let branch = self.branch();
                    for (arm, handler) in handlers.iter().enumerate() {
                        self.arms.push(Arm {
                            branch,
                            arm: arm as u32,
                        });
                        self.list(&handler.body);
                        self.arms.pop();
                    }
                }
            }
            Stmt::If {
                branches,
                otherwise,
            } => {
                let branch = self.branch();
                let base = self.guards.len();
                let mut leaves = false;
                for (arm, (cond, body)) in branches.iter().enumerate() {
                    let guards = self.condition(cond.clone());
                    self.guards.extend(guards);
                    self.arms.push(Arm {
                        branch,
                        arm: arm as u32,
                    });
                    self.list(body);
                    self.arms.pop();
                    leaves |= always_leaves(body);
                }
                if let Some(body) = otherwise {
                    self.arms.push(Arm {
                        branch,
                        arm: branches.len() as u32,
                    });
                    self.list(body);
                    self.arms.pop();
                    leaves |= always_leaves(body);
                }
                // A branch that returns, raises or leaves the loop: what follows runs
                // only when the conditions sent control elsewhere.
                if !leaves {
                    self.guards.truncate(base);
                } else if self.in_loop > 0 {
                    let decided = self.guards[base..].to_vec();
                    self.exits.extend(decided);
                }
            }
            Stmt::Loop { kind, body } => {
                let base = self.guards.len();
                // What ends a `WHILE` or plain loop decides what runs after it.
                let mut after = Vec::new();
                match kind {
                    LoopKind::Plain => {}
                    LoopKind::While(cond) => {
                        let guards = self.condition(cond.clone());
                        after.extend(guards.iter().cloned());
                        self.guards.extend(guards);
                    }
                    LoopKind::ForQuery { vars, query } => {
                        let effects = self.sql(query.clone(), false, &[]);
                        for name in vars {
                            let var = Var {
                                reads: effects.clone(),
                                ..Var::default()
                            };
                            self.vars.insert(name.clone(), var);
                        }
                        if let Some(&read) = effects.first() {
                            self.f.effects[read].many = true;
                            self.f.effects[read].binding = vars.first().cloned();
                        }
                    }
                    LoopKind::ForOther { vars } => {
                        for name in vars {
                            self.vars.insert(name.clone(), Var::default());
                        }
                    }
                }
                let exits = std::mem::take(&mut self.exits);
                self.in_loop += 1;
                self.list(body);
                self.in_loop -= 1;
                let inner_exits = std::mem::replace(&mut self.exits, exits);
                self.guards.truncate(base);
                if !matches!(kind, LoopKind::ForQuery { .. } | LoopKind::ForOther { .. }) {
                    after.extend(inner_exits);
                    self.guards.extend(after);
                }
            }
            Stmt::Exit { when } => {
                if let Some(cond) = when {
                    let guards = self.condition(cond.clone());
                    self.exits.extend(guards.iter().cloned());
                    self.guards.extend(guards);
                }
            }
            Stmt::Return { expr, .. } => {
                if !expr.is_empty() {
                    self.expression(expr.clone(), None);
                }
            }
            Stmt::Raise { .. } | Stmt::Other => {}
            Stmt::Sql { range, perform } => {
                self.sql(range.clone(), *perform, &[]);
            }
            Stmt::Execute { range } => {
                let span = self.span(range);
                let mut effect = Effect::new(EffectKind::Opaque, Client::PlPgSql, span);
                effect.site = self.span(&(range.start..range.start + 1));
                self.push(effect);
            }
            Stmt::Assign { target, expr } => {
                self.expression(expr.clone(), Some(target));
            }
            Stmt::Diagnostics { row_count_into } => {
                let write = self.last.filter(|&e| self.f.effects[e].is_write());
                for name in row_count_into {
                    let var = self.vars.entry(name.clone()).or_default();
                    *var = Var {
                        count_of: write,
                        ..Var::default()
                    };
                }
            }
            Stmt::Commit => {
                self.tx = self.f.add_transaction(transaction(self.f.span));
            }
        }
    }

    fn branch(&mut self) -> u32 {
        self.branches += 1;
        self.branches
    }

    /// `target := expr`, or a `RETURN expr`: run as `SELECT expr`. Effects are kept
    /// only when the expression reaches the database (a subquery, a lock, a call);
    /// otherwise the target just takes over the reads its operands hold.
    fn expression(&mut self, expr: Range<usize>, target: Option<&String>) {
        let reaches = self.toks[expr.clone()].iter().enumerate().any(|(i, t)| {
            t.is(self.src, "select")
                || (t.kind == Kind::Word
                    && self
                        .toks
                        .get(expr.start + i + 1)
                        .is_some_and(|n| n.kind == Kind::LParen))
        });
        let operands = self.operand_reads(expr.clone());
        let column = self.single_var_column(expr.clone());
        let found = self.last;
        let effects = if reaches {
            let targets: Vec<String> = target.cloned().into_iter().collect();
            self.sql(expr.clone(), true, &targets)
        } else {
            Vec::new()
        };
        // Only SQL statements set `FOUND`, not assignments.
        self.last = found;
        let Some(target) = target else { return };
        if effects.is_empty() {
            let var = self.vars.entry(target.clone()).or_default();
            *var = Var {
                reads: operands,
                column,
                ..Var::default()
            };
        } else if let Some(var) = self.vars.get_mut(target) {
            for r in operands {
                if !var.reads.contains(&r) {
                    var.reads.push(r);
                }
            }
        }
    }

    /// The reads held by the variables an expression mentions.
    fn operand_reads(&self, range: Range<usize>) -> Vec<usize> {
        let mut reads = Vec::new();
        for i in range {
            if let Some(var) = self.var_at(i) {
                for &r in &var.reads {
                    if !reads.contains(&r) {
                        reads.push(r);
                    }
                }
            }
        }
        reads
    }

    fn single_var_column(&self, range: Range<usize>) -> Option<String> {
        if range.len() != 1 {
            return None;
        }
        self.var_at(range.start)?.column.clone()
    }

    /// The variable the word at `i` names, unless it is a field name (`t.x`) or a call.
    fn var_at(&self, i: usize) -> Option<&Var> {
        let t = self.toks.get(i)?;
        if i > 0 && self.toks[i - 1].kind == Kind::Dot {
            return None;
        }
        if self.toks.get(i + 1).is_some_and(|n| n.kind == Kind::LParen) {
            return None;
        }
        self.vars.get(&t.name(self.src)?)
    }

    /// The guards a condition sets up: the reads it runs (`EXISTS (SELECT …)`, a
    /// scalar subquery), the variables it tests, and `FOUND`.
    fn condition(&mut self, range: Range<usize>) -> Vec<Guard> {
        let span = self.span(&range);
        let mut guards = Vec::new();
        let guard = |read: usize, fields: Vec<String>, guards: &mut Vec<Guard>| {
            if !guards
                .iter()
                .any(|g: &Guard| g.read == read && g.fields == fields)
            {
                guards.push(Guard {
                    read,
                    span,
                    fields,
                    field_spans: Vec::new(),
                });
            }
        };
        let mut i = range.start;
        while i < range.end {
            let t = self.toks[i];
            if t.kind == Kind::LParen && self.word(i + 1, "select") {
                let close = self.close_paren(i, range.end);
                let exists = self.word(i.saturating_sub(1), "exists");
                // `(SELECT status FROM …) = 'free'` tests that column.
                let fields: Vec<String> = match self.select_items(i + 1..close).as_slice() {
                    [Some(column)] if !exists && column != "*" => vec![column.clone()],
                    _ => Vec::new(),
                };
                for effect in self.sql(i + 1..close, false, &[]) {
                    if self.f.effects[effect].kind == EffectKind::Read {
                        if exists {
                            self.f.effects[effect].site = self.span(&(i - 1..close + 1));
                        }
                        guard(effect, fields.clone(), &mut guards);
                    }
                }
                i = close + 1;
                continue;
            }
            if t.kind == Kind::Word {
                let lower = t.text(self.src).to_ascii_lowercase();
                if lower.starts_with("pg_")
                    && lower.contains("advisory")
                    && self.toks.get(i + 1).is_some_and(|n| n.kind == Kind::LParen)
                {
                    let close = self.close_paren(i + 1, range.end);
                    let effects = self.sql(i..close + 1, true, &[]);
                    for e in effects {
                        self.try_locks.retain(|(x, _)| *x != e);
                    }
                    i = close + 1;
                    continue;
                }
                if lower == "found" {
                    if let Some(last) = self.last {
                        if self.f.effects[last].kind == EffectKind::Read {
                            guard(last, Vec::new(), &mut guards);
                        } else if self.f.effects[last].is_write() {
                            self.f.effects[last].count_checked = true;
                        }
                    }
                }
                if let Some(var) = self.var_at(i).cloned() {
                    let field = (self.toks.get(i + 1).is_some_and(|d| d.kind == Kind::Dot))
                        .then(|| self.toks.get(i + 2).and_then(|n| n.name(self.src)))
                        .flatten();
                    let fields: Vec<String> = field.or(var.column.clone()).into_iter().collect();
                    for &read in &var.reads {
                        if self.f.effects[read].kind == EffectKind::Read {
                            guard(read, fields.clone(), &mut guards);
                        }
                    }
                    if let Some(lock) = var.lock {
                        for entry in &mut self.try_locks {
                            if entry.0 == lock {
                                entry.1 = true;
                            }
                        }
                    }
                    if let Some(write) = var.count_of {
                        self.f.effects[write].count_checked = true;
                    }
                }
            }
            i += 1;
        }
        guards
    }

    /// The index of the `)` closing the `(` at `open`, or `end - 1`.
    fn close_paren(&self, open: usize, end: usize) -> usize {
        let mut depth = 0usize;
        for i in open..end {
            match self.toks[i].kind {
                Kind::LParen => depth += 1,
                Kind::RParen => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return i;
                    }
                }
                _ => {}
            }
        }
        end.saturating_sub(1).max(open)
    }

    /// Lowers one SQL statement (`SELECT`-prefixed when `select` is set, as for
    /// `PERFORM` and expressions); `into` names targets an expression assigns.
    /// Returns the indexes of the effects pushed.
    fn sql(&mut self, range: Range<usize>, select: bool, into: &[String]) -> Vec<usize> {
        if range.is_empty() {
            return Vec::new();
        }
        if self.calls_sleep(range.clone()) {
            let span = self.span(&range);
            let mut effect = Effect::new(EffectKind::Sleep, Client::PlPgSql, span);
            effect.site = span;
            return vec![self.push(effect)];
        }
        let (targets, strict, skip) = self.targets_of_into(range.clone());
        let targets: Vec<String> = if targets.is_empty() {
            into.to_vec()
        } else {
            targets
        };
        let (text, slots) = self.rewrite(range.clone(), skip.clone(), select, true);
        let mut statements = sql::classify(&text);
        let mut slots = slots;
        if statements.iter().all(|s| s.kind == SqlKind::Unparsed) {
            let (plain, plain_slots) = self.rewrite(range.clone(), skip, select, false);
            let retry = sql::classify(&plain);
            if retry.iter().any(|s| s.kind != SqlKind::Unparsed) {
                statements = retry;
                slots = plain_slots;
            }
        }
        let span = self.span(&range);
        // The statement's keyword; after `PERFORM`, the function it runs, if any.
        let calls = self
            .toks
            .get(range.start + 1)
            .is_some_and(|t| t.kind == Kind::LParen);
        let keyword = if range.start > 0 && self.word(range.start - 1, "perform") && !calls {
            range.start - 1
        } else {
            range.start
        };
        let site = self.span(&(keyword..keyword + 1));
        let mut pushed = Vec::new();
        for statement in &statements {
            let value_of = |column: &sql::SqlColumn| -> Value {
                let mut value = Value {
                    atomic: column.atomic,
                    literal: column.literal,
                    ..Value::default()
                };
                if column.literal && column.params.is_empty() {
                    value.text = self
                        .constant(range.clone(), &column.column)
                        .unwrap_or_default();
                }
                for &p in &column.params {
                    let Some(slot) = p.checked_sub(1).and_then(|i| slots.get(i)) else {
                        continue;
                    };
                    if let Some(var) = self.vars.get(&slot.var) {
                        for &r in &var.reads {
                            if !value.reads.contains(&r) {
                                value.reads.push(r);
                            }
                        }
                    }
                    if !value.vars.contains(&slot.var) {
                        value.vars.push(slot.var.clone());
                    }
                    if value.text.is_empty() {
                        value.text = slot.text.clone();
                    }
                }
                value
            };
            let Some(mut effect) =
                crate::frontend::effect_from_sql(statement, Client::PlPgSql, span, &value_of)
            else {
                continue;
            };
            effect.site = site;
            if effect.kind == EffectKind::Read && effect.table.is_none() {
                if effect.routines.is_empty() {
                    continue;
                }
                // A call of a function: what it does is the project's to say.
                effect.kind = EffectKind::Opaque;
            }
            effect.throws_if_missing = strict && effect.kind == EffectKind::Read;
            // In a trigger, a row looked up by the triggering row's columns is the
            // parent its foreign keys point at: the write that fired the trigger
            // holds a key-share lock on it until commit, so it cannot be deleted.
            if self.trigger
                && effect.kind == EffectKind::Read
                && effect.row_lock == RowLock::None
                && !effect.filter.is_empty()
                && effect
                    .filter
                    .iter()
                    .all(|f| f.value.vars.iter().any(|v| v == "new"))
            {
                effect.row_lock = RowLock::Shared;
            }
            let try_lock = statement
                .lock_key
                .as_ref()
                .is_some_and(|k| k.column.starts_with("pg_try_"));
            let index = self.push(effect);
            if try_lock {
                self.try_locks.push((index, false));
            }
            pushed.push(index);
        }
        if let Some(&main) = pushed.last() {
            self.last = Some(main);
            self.bind(main, &targets, range);
        }
        pushed
    }

    /// Binds `SELECT a, b INTO x, y` (or `RETURNING … INTO`) targets to the effect.
    fn bind(&mut self, effect: usize, targets: &[String], range: Range<usize>) {
        if targets.is_empty() {
            return;
        }
        let items = self.select_items(range);
        let is_lock = self.f.effects[effect].kind == EffectKind::Lock;
        let single = targets.len() == 1;
        self.f.effects[effect].binding = targets
            .first()
            .map(|t| t.split('.').next().unwrap_or(t).to_string());
        for (i, target) in targets.iter().enumerate() {
            let name = target.split('.').next().unwrap_or(target).to_string();
            let column = items.get(i).cloned().flatten().filter(|c| c != "*");
            let var = Var {
                reads: vec![effect],
                column: if single && items.len() > 1 {
                    None
                } else {
                    column
                },
                lock: is_lock.then_some(effect),
                count_of: None,
            };
            self.vars.insert(name, var);
        }
    }

    /// The simple column name of each item of a select list (`status`, `c.status`,
    /// `x AS status` → `status`), `None` for expressions.
    fn select_items(&self, range: Range<usize>) -> Vec<Option<String>> {
        let start =
            (range.start..range.end).find(|&i| self.word(i, "select") || self.word(i, "returning"));
        let Some(start) = start else {
            return Vec::new();
        };
        let mut items = Vec::new();
        let mut item: Vec<usize> = Vec::new();
        let mut depth = 0usize;
        for i in start + 1..range.end {
            let t = self.toks[i];
            let stop = depth == 0
                && (t.is(self.src, "into") || t.is(self.src, "from") || t.is(self.src, "where"));
            if stop || (depth == 0 && t.kind == Kind::Comma) {
                items.push(self.item_name(&item));
                item.clear();
                if stop {
                    break;
                }
                continue;
            }
            match t.kind {
                Kind::LParen => depth += 1,
                Kind::RParen => depth = depth.saturating_sub(1),
                _ => {}
            }
            item.push(i);
        }
        if !item.is_empty() {
            items.push(self.item_name(&item));
        }
        items
    }

    fn item_name(&self, item: &[usize]) -> Option<String> {
        let last = *item.last()?;
        let t = self.toks[last];
        let alias = item.len() >= 2 && self.word(item[item.len() - 2], "as");
        let dotted = item.len() == 3 && self.toks[item[1]].kind == Kind::Dot;
        if item.len() == 1 || alias || dotted {
            if t.text(self.src) == "*" {
                return Some("*".into());
            }
            return t.name(self.src);
        }
        None
    }

    /// The constant a statement compares or sets `column` to (`status = 'active'`,
    /// or `INSERT INTO t (…, status) VALUES (…, 'active')`).
    fn constant(&self, range: Range<usize>, column: &str) -> Option<String> {
        let is_constant = |v: &Tok| {
            matches!(v.kind, Kind::Str | Kind::Number)
                || ["true", "false", "null"].iter().any(|w| v.is(self.src, w))
        };
        let values_at = range.clone().find(|&i| self.word(i, "values"));
        let columns_at = range
            .clone()
            .find(|&i| self.toks[i].kind == Kind::LParen && i > 0 && !self.word(i - 1, "values"));
        if let (Some(values), Some(columns)) = (values_at, columns_at) {
            let names = super::split_commas(
                &self.toks,
                columns + 1,
                super::close_of(&self.toks, columns, range.end),
            );
            let row = super::split_commas(
                &self.toks,
                values + 2,
                super::close_of(&self.toks, values + 1, range.end),
            );
            let position = names.iter().position(|n| {
                n.len() == 1
                    && n[0]
                        .name(self.src)
                        .is_some_and(|c| c.eq_ignore_ascii_case(column))
            });
            if let Some(item) = position.and_then(|p| row.get(p)) {
                if let [v] = item.as_slice() {
                    if is_constant(v) {
                        return Some(v.text(self.src).to_string());
                    }
                }
            }
        }
        range.clone().find_map(|i| {
            let t = self.toks[i];
            let named = t
                .name(self.src)
                .is_some_and(|n| n.eq_ignore_ascii_case(column));
            if !named || !self.toks.get(i + 1).is_some_and(|o| o.is_op(self.src, "=")) {
                return None;
            }
            let v = self.toks.get(i + 2).filter(|_| i + 2 < range.end)?;
            is_constant(v).then(|| v.text(self.src).to_string())
        })
    }

    fn calls_sleep(&self, range: Range<usize>) -> bool {
        range.clone().any(|i| {
            let t = &self.toks[i];
            (t.is(self.src, "pg_sleep")
                || t.is(self.src, "pg_sleep_for")
                || t.is(self.src, "pg_sleep_until"))
                && self.toks.get(i + 1).is_some_and(|n| n.kind == Kind::LParen)
        })
    }

    /// The `INTO [STRICT] targets` of a `SELECT` (before `FROM`) or after `RETURNING`:
    /// the targets, `STRICT`, and the token range to leave out of the SQL.
    fn targets_of_into(&self, range: Range<usize>) -> (Vec<String>, bool, Range<usize>) {
        let mut depth = 0usize;
        let mut returning = false;
        let selects = self.word(range.start, "select") || self.word(range.start, "with");
        for i in range.clone() {
            let t = self.toks[i];
            match t.kind {
                Kind::LParen => depth += 1,
                Kind::RParen => depth = depth.saturating_sub(1),
                _ => {}
            }
            if depth > 0 {
                continue;
            }
            if t.is(self.src, "returning") {
                returning = true;
            }
            if !t.is(self.src, "into") || (i > 0 && self.word(i - 1, "insert")) {
                continue;
            }
            if !(selects || returning) {
                continue;
            }
            let mut j = i + 1;
            let strict = self.word(j, "strict");
            if strict {
                j += 1;
            }
            let mut targets = Vec::new();
            while j < range.end {
                let Some(name) = self.toks[j].name(self.src) else {
                    break;
                };
                if [
                    "from", "where", "group", "order", "limit", "for", "union", "having", "offset",
                    "window",
                ]
                .contains(&name.as_str())
                    && self.toks[j].kind == Kind::Word
                {
                    break;
                }
                let mut full = name;
                j += 1;
                while j + 1 < range.end && self.toks[j].kind == Kind::Dot {
                    if let Some(field) = self.toks[j + 1].name(self.src) {
                        full = format!("{full}.{field}");
                    }
                    j += 2;
                }
                targets.push(full);
                if j < range.end && self.toks[j].kind == Kind::Comma {
                    j += 1;
                } else {
                    break;
                }
            }
            return (targets, strict, i..j);
        }
        (Vec::new(), false, range.end..range.end)
    }

    /// The statement's text with `skip` left out, and, when `substitute` is set, its
    /// variables as `$n` placeholders.
    fn rewrite(
        &self,
        range: Range<usize>,
        skip: Range<usize>,
        select: bool,
        substitute: bool,
    ) -> (String, Vec<Slot>) {
        let mut text = String::from(if select { "SELECT " } else { "" });
        let mut slots: Vec<Slot> = Vec::new();
        let mut slot_of = |text_: String, var: String, slots: &mut Vec<Slot>| -> usize {
            match slots.iter().position(|s| s.text == text_) {
                Some(p) => p + 1,
                None => {
                    slots.push(Slot { text: text_, var });
                    slots.len()
                }
            }
        };
        let mut depth = 0usize;
        let mut column_list_depth: Option<usize> = None;
        let mut in_set = false;
        let mut previous: Option<Tok> = None;
        let mut i = range.start;
        while i < range.end {
            if skip.contains(&i) {
                i = skip.end;
                continue;
            }
            let t = self.toks[i];
            if let Some(p) = previous {
                if t.start > p.end {
                    text.push(' ');
                }
            }
            previous = Some(t);
            match t.kind {
                Kind::LParen => {
                    depth += 1;
                    // `INSERT INTO t (a, b)`, `ON CONFLICT (a)`: column names.
                    let after_table = i >= 2
                        && (self.word(i - 2, "into")
                            || (i >= 4
                                && self.word(i - 4, "into")
                                && self.toks[i - 2].kind == Kind::Dot))
                        && self.toks[i - 1].kind != Kind::Dot;
                    if after_table || self.word(i.wrapping_sub(1), "conflict") {
                        column_list_depth.get_or_insert(depth);
                    }
                }
                Kind::RParen => {
                    if column_list_depth == Some(depth) {
                        column_list_depth = None;
                    }
                    depth = depth.saturating_sub(1);
                }
                Kind::Word if depth == 0 => {
                    if t.is(self.src, "set") {
                        in_set = true;
                    } else if ["where", "from", "returning"]
                        .iter()
                        .any(|w| t.is(self.src, w))
                    {
                        in_set = false;
                    }
                }
                _ => {}
            }
            if substitute && column_list_depth.is_none() {
                if let Some((n, consumed)) =
                    self.substitution(i, range.end, in_set, &mut slots, &mut slot_of)
                {
                    text.push_str(&format!("${n}"));
                    previous = Some(self.toks[i + consumed - 1]);
                    i += consumed;
                    continue;
                }
            }
            text.push_str(t.text(self.src));
            i += 1;
        }
        (text, slots)
    }

    /// Whether the token at `i` is a variable reference to rewrite, and into which
    /// placeholder; the second value is how many tokens it spans (`rec.field` is 3).
    fn substitution(
        &self,
        i: usize,
        end: usize,
        in_set: bool,
        slots: &mut Vec<Slot>,
        slot_of: &mut impl FnMut(String, String, &mut Vec<Slot>) -> usize,
    ) -> Option<(usize, usize)> {
        let t = self.toks[i];
        if t.kind == Kind::Param {
            let n: usize = t.text(self.src)[1..].parse().ok()?;
            let name = self.params.get(n.checked_sub(1)?)?.clone();
            let shown = if name.is_empty() {
                t.text(self.src).to_string()
            } else {
                name.clone()
            };
            return Some((slot_of(shown, name, slots), 1));
        }
        if !matches!(t.kind, Kind::Word | Kind::Quoted) {
            return None;
        }
        let name = t.name(self.src)?;
        if !self.vars.contains_key(&name) || self.outputs.contains(&name) {
            return None;
        }
        let prev = i.checked_sub(1).map(|p| self.toks[p]);
        if prev.is_some_and(|p| p.kind == Kind::Dot || p.is(self.src, "as")) {
            return None;
        }
        let next = self.toks.get(i + 1).filter(|_| i + 1 < end);
        if next.is_some_and(|n| n.kind == Kind::LParen) {
            return None;
        }
        // `SET col = …`: the target is a column even when a variable shares its name.
        if in_set
            && next.is_some_and(|n| n.is_op(self.src, "="))
            && prev.is_some_and(|p| p.kind == Kind::Comma || p.is(self.src, "set"))
        {
            return None;
        }
        if next.is_some_and(|n| n.kind == Kind::Dot) {
            let field = self
                .toks
                .get(i + 2)
                .filter(|_| i + 2 < end)?
                .name(self.src)?;
            let text = format!("{}.{}", t.text(self.src), field);
            return Some((slot_of(text, name, slots), 3));
        }
        Some((slot_of(t.text(self.src).to_string(), name, slots), 1))
    }

    fn push(&mut self, mut effect: Effect) -> usize {
        effect.guards = self.guards.clone();
        effect.arms = self.arms.clone();
        effect.in_loop = self.in_loop > 0;
        effect.transaction = Some(self.tx);
        effect.enclosing_transaction = Some(self.tx);
        effect.unique_violation_handled = self.unique_handled > 0 && effect.is_write();
        self.f.effects.push(effect);
        self.f.effects.len() - 1
    }
}
