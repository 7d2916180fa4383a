//! The language-neutral model of what code does to the database.
//!
//! Frontends lower every function they find into a [`Function`]: its database
//! [`Effect`]s in source order, the transactions they run in, and the data flow
//! that links them (which earlier reads guard an effect, which reads feed the
//! values it writes). Rules see only this model: no syntax tree, no ORM spelling.
//! Spans are byte offsets into the file's text; line and column are computed only
//! when a finding is rendered.

use serde::{Deserialize, Serialize};

pub mod inline;
pub mod items;
pub mod remedy;
pub mod routines;

/// A half-open byte range into the file text.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        Span {
            start: start as u32,
            end: end as u32,
        }
    }
    pub fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
}

/// The database client an effect was written with; decides how help is worded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Client {
    Prisma,
    Drizzle,
    Sequelize,
    TypeOrm,
    Supabase,
    Kysely,
    Knex,
    /// Hand-written SQL through node-postgres, postgres.js or a tagged template.
    SqlTs,
    Sqlx,
    Diesel,
    SeaOrm,
    TokioPostgres,
    /// The body of a SQL function (`CREATE FUNCTION … LANGUAGE plpgsql|sql`).
    PlPgSql,
    /// SQLAlchemy through a sync `Session` (Flask-SQLAlchemy, SQLModel too).
    Sqlalchemy,
    /// SQLAlchemy's asyncio API (`AsyncSession`): fixes are spelled with `await`.
    SqlalchemyAsync,
    Django,
    /// Not a database call: a timer or an in-process lock of the language runtime.
    Runtime,
}

impl Client {
    /// The client's own delete collects the rows that reference the deleted one
    /// and applies each relation's delete rule in application code first
    /// (Django's `on_delete`), so the database's foreign keys never refuse it.
    pub fn deletes_related_rows_itself(self) -> bool {
        self == Client::Django
    }

    /// The client checks the relations a schema only emulates (Prisma's
    /// `relationMode = "prisma"`): a delete through it is refused while children
    /// exist, where the database itself would refuse nothing.
    pub fn checks_emulated_relations(self) -> bool {
        self == Client::Prisma
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EffectKind {
    Read,
    Insert,
    Update,
    Delete,
    /// Insert-or-update decided by the database (`upsert`, `INSERT … ON CONFLICT DO UPDATE`).
    Upsert,
    /// An advisory lock or an explicit `LOCK TABLE`.
    Lock,
    /// A timer used as a wait (`setTimeout`, `sleep`).
    Sleep,
    /// An in-process lock taken (a module-level promise map, a `Mutex`): it holds
    /// only within one process.
    ProcessLock,
    /// A call that leaves the process for another service (HTTP, a payment API, a
    /// queue, email): no database transaction can undo it.
    External,
    /// A database call racelint could not classify (unparsable SQL, an unknown RPC).
    Opaque,
    /// The value of a call to a function of the same file. `inline::expand` turns it
    /// into the read that function returns; unresolved, rules ignore it.
    CallResult,
}

impl EffectKind {
    pub fn is_write(self) -> bool {
        matches!(
            self,
            EffectKind::Insert | EffectKind::Update | EffectKind::Delete | EffectKind::Upsert
        )
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RowLock {
    #[default]
    None,
    /// `FOR UPDATE`, `FOR NO KEY UPDATE`, a pessimistic write lock.
    Exclusive,
    /// `FOR SHARE`.
    Shared,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnConflict {
    #[default]
    None,
    DoNothing,
    DoUpdate,
}

/// Whether the result of an effect is waited for before the code moves on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Completion {
    #[default]
    Awaited,
    /// Returned to the caller or handed to something that awaits it (`$transaction([…])`).
    Returned,
    /// Started and never awaited.
    Floating,
    /// Created and never awaited where that means never run: a Python
    /// coroutine left as a bare expression. (Kept last: the cache's encoding
    /// numbers the variants.)
    Unstarted,
}

/// What a read tallies of its table, so that a number written back from it can be
/// told apart from any other value: how many rows match (`count`), or the largest
/// value of a column (`max`, `_max`, `ORDER BY col DESC LIMIT 1`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    pub kind: TallyKind,
    /// The column maxed (`number`); `None` for a count, or a max of something unnamed.
    pub column: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TallyKind {
    Count,
    Max,
}

impl Tally {
    pub fn count() -> Self {
        Tally {
            kind: TallyKind::Count,
            column: None,
        }
    }
    pub fn max(column: impl Into<String>) -> Self {
        Tally {
            kind: TallyKind::Max,
            column: Some(column.into()),
        }
    }
}

/// Which earlier reads a value is computed from, and how.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Value {
    /// Reads (indexes into [`Function::effects`]) whose results flow into this value.
    pub reads: Vec<usize>,
    /// Reads whose result, tested in a condition, chose which value this is: the
    /// variable was assigned under an `if` or a ternary on the read, or in a loop
    /// the read keeps going (`while (await exists(slug)) slug = next()`). The
    /// value need not contain the read's data.
    #[serde(default)]
    pub chosen_by: Vec<usize>,
    /// Names of the variables the value mentions, outermost first (`input.id` → `input`).
    pub vars: Vec<String>,
    /// Computed by the database from the current row (`{ increment: 1 }`, `balance - $1`).
    pub atomic: bool,
    /// A literal constant (`'free'`, `true`, `0`).
    pub literal: bool,
    /// The code as written, shortened, for messages.
    pub text: String,
}

impl Value {
    /// Renumbers the reads the value refers to (effects moved or copied).
    pub fn remap(&mut self, mut to: impl FnMut(usize) -> usize) {
        for r in self.reads.iter_mut().chain(self.chosen_by.iter_mut()) {
            *r = to(*r);
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Field {
    pub column: String,
    pub value: Value,
}

/// A condition, dependent on an earlier read, that decides whether an effect runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Guard {
    /// Index of the read in [`Function::effects`].
    pub read: usize,
    /// The condition (or the `throw`/`?` that stands for it).
    pub span: Span,
    /// Fields of the read's result the condition inspects (`seat.status` → `status`);
    /// empty when it only tests whether a row came back.
    pub fields: Vec<String>,
    /// Where a field was first inspected, when that was another condition than
    /// `span` (the checks of one read merged into one guard): `if (!c) throw …;
    /// if (c.status === 'approved') return;` inspects `status` in the second.
    pub field_spans: Vec<(String, Span)>,
}

impl Guard {
    /// Folds another condition on the same read into this guard: the condition
    /// that looks at the row's fields is the one a finding points at, and each
    /// field keeps the condition that inspected it.
    pub fn absorb(&mut self, other: &Guard) {
        if self.fields.is_empty() && !other.fields.is_empty() {
            self.span = other.span;
        }
        for f in &other.fields {
            if !self.fields.contains(f) {
                self.fields.push(f.clone());
                if other.span != self.span {
                    self.field_spans.push((f.clone(), other.span));
                }
            }
        }
        for (f, span) in &other.field_spans {
            if !self.field_spans.iter().any(|(g, _)| g == f) {
                self.field_spans.push((f.clone(), *span));
            }
        }
    }

    /// The condition that inspected the first of `columns` this guard looked at.
    pub fn span_of_fields(&self, columns: &[String]) -> Span {
        columns
            .iter()
            .filter(|c| self.fields.contains(c))
            .find_map(|c| {
                self.field_spans
                    .iter()
                    .find(|(f, _)| f == c)
                    .map(|(_, span)| *span)
                    .or(Some(self.span))
            })
            .unwrap_or(self.span)
    }
}

/// One arm of one branch point (`if`, `?:`, `switch`, `catch`, short-circuit).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Arm {
    pub branch: u32,
    pub arm: u32,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Effect {
    pub kind: EffectKind,
    pub client: Client,
    /// The table as the code names it: a Prisma delegate, a Drizzle table variable,
    /// the table of a SQL statement. `None` when it could not be told.
    pub table: Option<String>,
    /// Columns constrained by the statement's filter (`where`, `.eq`, `WHERE`).
    pub filter: Vec<Field>,
    /// Columns written (`data`, `.set`, `SET`, `VALUES`).
    pub values: Vec<Field>,
    /// What an upsert writes to the row already there (Prisma `update`, Drizzle
    /// `onConflictDoUpdate({ set })`, `DO UPDATE SET`, Django `defaults`), when the
    /// client tells it apart from the inserted row; `None`: the whole of `values`.
    #[serde(default)]
    pub conflict_update: Option<Vec<Field>>,
    /// Where the filter and the data are written as one argument (`{ id: { in: ids } }`,
    /// `data: { leads: { increment: 1 } }`), so a fix can quote them as they are.
    pub filter_code: Option<Span>,
    pub values_code: Option<Span>,
    /// Several rows at once (`updateMany`, `deleteMany`, a filter that is not a key).
    pub many: bool,
    pub on_conflict: OnConflict,
    /// The row lock a read takes.
    pub row_lock: RowLock,
    /// What a read counts or maxes, when that is all it returns.
    pub tally: Option<Tally>,
    /// The read throws (or returns early through `?`) when no row matches.
    pub throws_if_missing: bool,
    /// The write reports how many rows it changed and the code looks at that count.
    pub count_checked: bool,
    /// A failure of this write is caught and a unique violation is handled
    /// (`P2002`, `23505`, `UniqueConstraintError`, …).
    pub unique_violation_handled: bool,
    pub completion: Completion,
    /// The variable the result is bound to, if any.
    pub binding: Option<String>,
    /// Conditions on earlier reads that decide whether this effect runs.
    pub guards: Vec<Guard>,
    /// The transaction (index into [`Function::transactions`]) the effect runs in.
    pub transaction: Option<usize>,
    /// The handle the call went through, as written (`prisma`, `tx`, `this.db`).
    pub handle: String,
    /// Where the handle is written, when the call's receiver is the handle itself
    /// (so that swapping it for a transaction handle is a correct edit).
    pub handle_span: Option<Span>,
    /// The transaction whose callback (or open scope) lexically contains the call,
    /// whether or not the call goes through its handle.
    pub enclosing_transaction: Option<usize>,
    /// The branch arms enclosing the effect, outermost first.
    pub arms: Vec<Arm>,
    /// Inside a loop body or an iteration callback.
    pub in_loop: bool,
    /// The whole call.
    pub span: Span,
    /// The part to underline: the method or statement keyword.
    pub site: Span,
    /// Where the effect is written, when it was linked in from a function of
    /// another file: `span` and `site` then point at the call in this file that
    /// reaches it.
    pub origin: Option<Origin>,
    /// Functions the call runs in the database (`supabase.rpc("fn")`, `SELECT fn($1)`),
    /// lowercased; `routines::resolve` adds the effects of those that are the
    /// project's SQL functions.
    pub routines: Vec<String>,
    /// The write goes through the ORM's unit of work for one loaded object
    /// (SQLAlchemy's `session.delete(obj)`): the ORM applies the model's
    /// relationship rules (cascades, nulling the children's key) before it.
    #[serde(default)]
    pub unit_of_work: bool,
    /// The request context the handle was built from (`ctx` of a connection's
    /// `getRepository(ctx, Order)`), when the client's connection takes one: the
    /// effect runs in whatever transaction that context carries, its caller's.
    #[serde(default)]
    pub context: Option<String>,
}

/// The statement in another file an effect linked into a caller stands for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    /// The function it is written in (`Person::create`, `InviteService.accept`).
    pub function: String,
    /// The file, as an index the project stage gave it.
    pub file: usize,
    pub span: Span,
}

impl Effect {
    pub fn new(kind: EffectKind, client: Client, span: Span) -> Self {
        Effect {
            kind,
            client,
            table: None,
            filter: Vec::new(),
            values: Vec::new(),
            conflict_update: None,
            filter_code: None,
            values_code: None,
            many: false,
            on_conflict: OnConflict::None,
            row_lock: RowLock::None,
            tally: None,
            throws_if_missing: false,
            count_checked: false,
            unique_violation_handled: false,
            completion: Completion::Awaited,
            binding: None,
            guards: Vec::new(),
            transaction: None,
            handle: String::new(),
            handle_span: None,
            enclosing_transaction: None,
            arms: Vec::new(),
            in_loop: false,
            span,
            site: span,
            origin: None,
            routines: Vec::new(),
            unit_of_work: false,
            context: None,
        }
    }

    pub fn is_write(&self) -> bool {
        self.kind.is_write()
    }

    /// A call that reaches the database (not a timer or an in-process lock).
    pub fn is_database(&self) -> bool {
        !matches!(
            self.kind,
            EffectKind::Sleep | EffectKind::ProcessLock | EffectKind::CallResult
        )
    }

    /// Whether the database itself decides the outcome, so a concurrent writer
    /// cannot slip between a check and this write.
    pub fn is_conditional_write(&self) -> bool {
        self.kind == EffectKind::Upsert || self.on_conflict != OnConflict::None
    }

    /// A read whose result stands for many rows: a list, or their count
    /// (`count(*)` read as one value).
    pub fn reads_many(&self) -> bool {
        self.many
            || self
                .tally
                .as_ref()
                .is_some_and(|t| t.kind == TallyKind::Count)
    }

    /// Every field of the effect: filter, values and an upsert's update part.
    pub fn fields_mut(&mut self) -> impl Iterator<Item = &mut Field> {
        self.filter
            .iter_mut()
            .chain(self.values.iter_mut())
            .chain(self.conflict_update.iter_mut().flatten())
    }

    /// What the effect writes to a row already there: an upsert's update part when
    /// known, else its values.
    pub fn written_on_conflict(&self) -> &[Field] {
        self.conflict_update.as_deref().unwrap_or(&self.values)
    }

    pub fn filter_columns(&self) -> impl Iterator<Item = &str> {
        self.filter.iter().map(|f| f.column.as_str())
    }

    pub fn value_columns(&self) -> impl Iterator<Item = &str> {
        self.values.iter().map(|f| f.column.as_str())
    }
}

/// Two effects can both run in one call of the function unless they sit in
/// different arms of the same branch point.
pub fn may_both_run(a: &Effect, b: &Effect) -> bool {
    !a.arms.iter().any(|x| {
        b.arms
            .iter()
            .any(|y| x.branch == y.branch && x.arm != y.arm)
    })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TransactionStyle {
    /// `$transaction(async (tx) => …)`, `db.transaction(|c| …)`.
    Callback,
    /// `$transaction([a, b])`: a batch of statements run together.
    Batch,
    /// `BEGIN` … `COMMIT`, `pool.begin()` … `tx.commit()`.
    Explicit,
    /// The caller's, assumed: a connection parameter that may carry the caller's
    /// transaction (sqlx's `conn: &mut PgConnection`). Inlined into a caller that
    /// passes no transaction there, it is none.
    Lent,
    /// Bound to the running code rather than to a handle: a method decorated
    /// `@Transactional()`, whose transaction travels in async-local storage and
    /// is used by every repository call made while it runs, in the method and in
    /// what it calls.
    Ambient,
    /// A SQL function's body: it runs inside one transaction, its caller's or, when
    /// called on its own, its statement's.
    Routine,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Transaction {
    pub style: TransactionStyle,
    pub client: Client,
    pub span: Span,
    /// The handle effects must go through to be inside (`tx`, `trx`, `client`).
    pub handle: Option<String>,
    /// SERIALIZABLE isolation: the database aborts one of two racing transactions.
    pub serializable: bool,
    /// The enclosing transaction, for nested ones (savepoints).
    pub parent: Option<usize>,
}

impl Transaction {
    /// A transaction bound to the running code ([`TransactionStyle::Ambient`]):
    /// no handle, no parent, the default isolation.
    pub fn ambient(client: Client, span: Span) -> Self {
        Transaction {
            style: TransactionStyle::Ambient,
            client,
            span,
            handle: None,
            serializable: false,
            parent: None,
        }
    }
}

/// A call to a function of the project: declared in the same file (`callee` names
/// it), or possibly in another one (`qualified` says where to look).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct LocalCall {
    /// The same-file function called (`helper`, `Type::method`); empty when the
    /// callee is not declared in this file.
    pub callee: String,
    /// Where the callee may be declared, as paths resolved through the file's own
    /// imports (`crate::db::person::Person::create`), most specific first; the
    /// project stage resolves them across files. Empty when the frontend has none.
    pub qualified: Vec<String>,
    pub span: Span,
    pub transaction: Option<usize>,
    pub arms: Vec<Arm>,
    pub guards: Vec<Guard>,
    /// Position among the effects: the call happens after `effects[..position]`.
    pub position: usize,
    /// The code of each argument, in order (`tx`, `input.id`); empty when unknown.
    pub args: Vec<String>,
    /// Arguments passed by name (`session=tx`): (parameter, code).
    pub keywords: Vec<(String, String)>,
    /// The reads each argument's value is computed from (`last + 1` → the read
    /// `last` came from), in the caller's numbering; empty when unknown. Linking
    /// adds them to the callee's values that use the parameter.
    pub arg_reads: Vec<Vec<usize>>,
    /// The `CallResult` effect standing for the call's value, when the value is used.
    pub result: Option<usize>,
    /// Functions written as arguments and lowered inline, as part of the caller
    /// (`withTransaction(ctx, async (tx) => { … })`): a callee that runs that
    /// argument inside a transaction puts them in it when linked.
    pub callbacks: Vec<CallbackArgument>,
    /// The call is inside a loop body: so is everything the callee does.
    #[serde(default)]
    pub in_loop: bool,
}

/// A function literal passed to a call and lowered inline into the caller.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct CallbackArgument {
    /// Its position among the call's arguments.
    pub arg: usize,
    /// The caller's effects and calls its body produced.
    pub effects: std::ops::Range<usize>,
    pub calls: std::ops::Range<usize>,
    /// Its first parameter (`tx`), the handle a transaction would hand it.
    pub handle: Option<String>,
}

/// A parameter that is a function the callee runs inside a transaction it opens
/// (`db.transaction(fn)`, `db.transaction(async (tx) => fn(tx))`): the callee is a
/// project transaction wrapper for that argument.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TransactionCallback {
    pub param: usize,
    pub client: Client,
    pub serializable: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Function {
    /// The name a reader would use: `createInvite`, `UserService.join`, `POST`,
    /// or `<callback at line N>` style names chosen by the frontend.
    pub name: String,
    pub span: Span,
    pub effects: Vec<Effect>,
    /// A forest: every parent comes before its children. Built only through
    /// [`Function::add_transaction`], which keeps it so.
    transactions: Vec<Transaction>,
    pub calls: Vec<LocalCall>,
    /// Parameter names in order; empty strings for patterns that bind no one name.
    pub params: Vec<String>,
    /// Reads whose result the function returns (`return prisma.user.findFirst(…)`).
    pub returns: Vec<usize>,
    /// Reads that chose the value the function returns (`Value::chosen_by` of it):
    /// a helper that looks for a free slug returns one the read decided on.
    #[serde(default)]
    pub returns_chosen_by: Vec<usize>,
    /// Test code (`#[test]`, `#[tokio::test]`, inside `#[cfg(test)]`, or a helper
    /// only tests call, `roles::mark_test_helpers`): it runs alone against its own
    /// database, like a seed, so the rules whose race needs two requests at once
    /// skip it.
    pub runs_alone: bool,
    /// Inconsistencies the model's construction caught and repaired (a transaction
    /// whose parent did not come before it). Never expected: reported as internal
    /// errors so that they are seen and fixed, while the run goes on.
    pub internal_errors: Vec<String>,
    /// A SQL function (`CREATE FUNCTION`/`PROCEDURE`), which code elsewhere may call.
    pub routine: bool,
    /// Parameters the function runs inside a transaction (a transaction wrapper).
    pub transaction_callbacks: Vec<TransactionCallback>,
    /// Every caller in the project holds a lock when it calls this function (an
    /// advisory lock or a locked row, in the transaction open at the call), so two
    /// runs of it cannot overlap. Set by the project stage.
    pub callers_hold_lock: bool,
    /// Struct literals that fill a field with a value (`Repo { conn: &mut *txn }`):
    /// the project stage learns from them whether a type's handle field always
    /// holds a transaction.
    #[serde(default)]
    pub constructions: Vec<Construction>,
    /// Tables (as the callers' code names them) that every caller in the project
    /// deletes before it calls this function, itself or through a function it
    /// called earlier. Set by the project stage.
    #[serde(default)]
    pub callers_delete: Vec<String>,
    /// Where the function calls one of its project's functions named for removing
    /// things (`delete_all_by_user`, `removeMembers`), as the index into `effects`
    /// the call comes before. Set when linking, whether or not the callee's own
    /// effects could be seen (a macro body, an unresolved method).
    #[serde(default)]
    pub cleanup_calls: Vec<usize>,
    /// Called by a framework rather than by the project's code: a decorated
    /// handler (`@Mutation()`, `@Post()`, a parameter filled by `@Ctx()`). Its
    /// callers are known to be none, so what it is handed carries no transaction
    /// it does not open itself.
    #[serde(default)]
    pub entry: bool,
    /// Some chain of callers could not be followed to its entry (a function no
    /// code of the project is seen to call, a call through an interface, too far
    /// up): a request context the function was handed may carry a transaction
    /// opened there. Set by the project stage.
    #[serde(default)]
    pub callers_unknown: bool,
}

/// A struct literal: the paths its type may be (as calls' `qualified`), and each
/// named field with the code of its value and the transaction that value is.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Construction {
    pub ty: Vec<String>,
    pub fields: Vec<(String, String, Option<usize>)>,
}

impl Function {
    pub fn new(name: String, span: Span) -> Self {
        Function {
            name,
            span,
            effects: Vec::new(),
            transactions: Vec::new(),
            calls: Vec::new(),
            params: Vec::new(),
            returns: Vec::new(),
            returns_chosen_by: Vec::new(),
            runs_alone: false,
            routine: false,
            internal_errors: Vec::new(),
            transaction_callbacks: Vec::new(),
            callers_hold_lock: false,
            constructions: Vec::new(),
            callers_delete: Vec::new(),
            cleanup_calls: Vec::new(),
            entry: false,
            callers_unknown: false,
        }
    }

    pub fn transactions(&self) -> &[Transaction] {
        &self.transactions
    }

    /// Adds a transaction and returns its index. A parent must be an earlier
    /// transaction: a link to itself or to a later one (which would make
    /// [`Function::root_transaction`] loop or index out of bounds) is cut, and
    /// recorded in [`Function::internal_errors`].
    pub fn add_transaction(&mut self, mut transaction: Transaction) -> usize {
        let index = self.transactions.len();
        if let Some(parent) = transaction.parent.filter(|&p| p >= index) {
            debug_assert!(
                false,
                "transaction {index} of `{}` names {parent} as its parent",
                self.name
            );
            transaction.parent = None;
            self.internal_errors.push(format!(
                "transaction {index} of `{}` named transaction {parent} as its parent; the link was cut",
                self.name
            ));
        }
        self.transactions.push(transaction);
        index
    }

    /// Puts `outer` around the function: it becomes transaction 0, every index into
    /// the transactions moves up by one, and the outermost transactions that
    /// `nest` accepts become its children (savepoints of it). Returns its index, 0.
    pub fn enclose_in(&mut self, outer: Transaction, nest: impl Fn(&Transaction) -> bool) -> usize {
        let shift = |t: &mut Option<usize>| {
            if let Some(i) = t {
                *i += 1;
            }
        };
        for t in &mut self.transactions {
            if t.parent.is_none() && nest(t) {
                t.parent = Some(0);
            } else {
                shift(&mut t.parent);
            }
        }
        self.transactions.insert(
            0,
            Transaction {
                parent: None,
                ..outer
            },
        );
        for e in &mut self.effects {
            shift(&mut e.transaction);
            shift(&mut e.enclosing_transaction);
        }
        for c in &mut self.calls {
            shift(&mut c.transaction);
        }
        for c in &mut self.constructions {
            for (_, _, t) in &mut c.fields {
                shift(t);
            }
        }
        0
    }

    /// Names the handle of a transaction begun earlier, once the variable it is
    /// bound to is known (`const t = await sequelize.transaction()`).
    pub fn name_transaction_handle(&mut self, index: usize, handle: String) {
        if let Some(tx) = self.transactions.get_mut(index) {
            tx.handle = Some(handle);
        }
    }

    /// Whether `a` and `b` run inside one and the same transaction.
    pub fn same_transaction(&self, a: &Effect, b: &Effect) -> bool {
        match (a.transaction, b.transaction) {
            (Some(x), Some(y)) => self.root_transaction(x) == self.root_transaction(y),
            _ => false,
        }
    }

    /// The outermost transaction `tx` is nested in. Parents come before their
    /// children ([`Function::add_transaction`]), so each step goes down and the
    /// walk ends.
    /// Transaction `tx` or one it is nested in is bound to the running code
    /// ([`TransactionStyle::Ambient`]): every statement made inside joins it.
    pub fn is_ambient(&self, mut tx: usize) -> bool {
        while let Some(t) = self.transactions.get(tx) {
            if t.style == TransactionStyle::Ambient {
                return true;
            }
            match t.parent {
                Some(parent) if parent < tx => tx = parent,
                _ => return false,
            }
        }
        false
    }

    pub fn root_transaction(&self, mut tx: usize) -> usize {
        while let Some(parent) = self.transactions.get(tx).and_then(|t| t.parent) {
            if parent >= tx {
                break;
            }
            tx = parent;
        }
        tx
    }

    /// Whether `read` is protected against concurrent writers for the rest of its
    /// transaction: it locks its row, a lock was taken earlier in the same
    /// transaction, or the transaction is SERIALIZABLE.
    /// Any read of a function whose every caller holds a lock at the call is.
    pub fn read_is_protected(&self, read_index: usize) -> bool {
        if self.callers_hold_lock {
            return true;
        }
        let read = &self.effects[read_index];
        let locked_before_in = |root: usize| {
            self.effects[..read_index].iter().any(|e| {
                e.transaction.map(|t| self.root_transaction(t)) == Some(root)
                    && (e.kind == EffectKind::Lock || e.row_lock == RowLock::Exclusive)
            })
        };
        // Outside a transaction a row lock ends with its own statement.
        let Some(tx) = read.transaction else {
            return false;
        };
        let root = self.root_transaction(tx);
        read.row_lock == RowLock::Exclusive
            || self.transactions[root].serializable
            || locked_before_in(root)
    }

    /// Whether no other run of this code can come between the check `read` and
    /// the `act` that depends on it: both in one transaction that protects the
    /// read; or both made while one transaction that took a lock before the read
    /// is open, even through another connection (`pg_advisory_xact_lock` in the
    /// callback, then the global client); or every caller holds a lock.
    pub fn check_is_serialized(&self, read: usize, act: usize) -> bool {
        let (r, a) = (&self.effects[read], &self.effects[act]);
        if self.callers_hold_lock || (self.same_transaction(r, a) && self.read_is_protected(read)) {
            return true;
        }
        let open_at = |e: &Effect| {
            e.transaction
                .or(e.enclosing_transaction)
                .map(|t| self.root_transaction(t))
        };
        match (open_at(r), open_at(a)) {
            (Some(x), Some(y)) if x == y => self.effects[..read].iter().any(|e| {
                e.transaction.map(|t| self.root_transaction(t)) == Some(x)
                    && e.kind == EffectKind::Lock
            }),
            _ => false,
        }
    }

    /// Whether this function holds a lock at `call`: taken earlier in the
    /// transaction open there.
    pub fn holds_lock_at(&self, call: &LocalCall) -> bool {
        let Some(tx) = call.transaction else {
            return false;
        };
        let root = self.root_transaction(tx);
        self.effects[..call.position.min(self.effects.len())]
            .iter()
            .any(|e| {
                e.transaction.map(|t| self.root_transaction(t)) == Some(root)
                    && (e.kind == EffectKind::Lock || e.row_lock == RowLock::Exclusive)
            })
    }
}

/// Everything a frontend learned from one file.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct FileModel {
    pub functions: Vec<Function>,
    /// What a Rust file declares and imports, for resolving calls into it.
    pub rust: Option<items::RustModule>,
    /// Names the file takes from other modules (TypeScript/JavaScript `import`).
    pub imports: Vec<Import>,
    /// Names the file offers to other modules.
    pub exports: Vec<Export>,
    /// Functions the file hands to a framework to run on an event.
    #[serde(default)]
    pub registrations: Vec<Registration>,
}

/// A function registered to run when the framework sends an event (a Django
/// signal receiver), and the transaction the framework always runs it in, if any.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Registration {
    /// The function, named as a call from where it is registered would name it.
    pub handler: LocalCall,
    pub runs_in: Option<Transaction>,
}

/// `import { a as b } from "./x"`: `b` here is `a` of the module `./x`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Import {
    pub local: String,
    /// The module specifier as written (`./x`, `@/lib/db`, `@acme/db`).
    pub source: String,
    pub imported: Imported,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Imported {
    Name(String),
    Default,
    /// `import * as ns from`: the whole module.
    Namespace,
}

/// An exported name and what it stands for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Export {
    /// The name other modules import; `default` for the default export, `*` for
    /// `export * from`.
    pub name: String,
    pub target: ExportTarget,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExportTarget {
    /// A name declared in this file (a function, a class, an object of methods).
    Local(String),
    /// Re-exported from another module: `export { a as b } from "./x"`
    /// (`Imported::Name("a")`), `export * from "./x"` (`Imported::Namespace`).
    From { source: String, imported: Imported },
}
