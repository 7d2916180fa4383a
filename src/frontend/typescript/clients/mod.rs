//! The TypeScript database clients racelint understands, behind one question:
//! "what does this call chain do to the database?".
//!
//! Each client module knows its own API's spelling and answers with a
//! [`Recognized`]; the lowering in `lower.rs` knows none of them. The first client
//! that recognises a chain wins, so more specific shapes come first.

use super::syntax::Chain;
use crate::frontend::typescript::syntax::FieldExt;
use crate::ir::{Client, EffectKind, OnConflict, RowLock};
use crate::schema::{dialect::Dialect, Database};
use tree_sitter::Node;

pub mod drizzle;
pub mod knex;
pub mod kysely;
pub mod pg;
pub mod prisma;
pub mod runtime;

// ---- Sequelize, TypeORM, supabase-js ------------------------------------------
mod ormkit;
pub mod sequelize;
pub mod supabase;
pub mod typeorm;
// --------------------------------------------------------------------------------

/// What a client needs to see in a file's text before it can recognise anything
/// there. The prefilter (`frontend::Prefilter`) parses a file only when, for some
/// client, one of its `calls` appears, or one of its `gates` and one of its
/// `gated_calls` both appear. Each client's recognition must keep to this: it may
/// recognise a gated call only in a file that contains one of its gates.
///
/// A member name (`.create`) matches only a whole name, so `.createdAt` is not
/// `.create`; a trailing `*` makes it a prefix (`.findUnique*` also matches
/// `findUniqueOrThrow`).
pub struct Vocabulary {
    /// Text of calls the client recognises whatever else the file says.
    pub calls: &'static [&'static str],
    /// Text of calls it recognises only where a gate appears too.
    pub gated_calls: &'static [&'static str],
    /// Words (matched ignoring ASCII case) that open the gated calls.
    pub gates: &'static [&'static str],
}

pub use crate::frontend::FieldDraft;

#[derive(Clone, Debug)]
pub struct EffectDraft<'t> {
    pub kind: EffectKind,
    pub client: Client,
    pub table: Option<String>,
    pub filter: Vec<FieldDraft<'t>>,
    pub values: Vec<FieldDraft<'t>>,
    /// An upsert's update part, when the call spells it apart (`Effect::conflict_update`).
    pub conflict_update: Option<Vec<FieldDraft<'t>>>,
    pub many: bool,
    pub on_conflict: OnConflict,
    pub row_lock: RowLock,
    /// What a read counts or maxes (`count`, `_max`, top-1 by a column descending).
    pub tally: Option<crate::ir::Tally>,
    pub throws_if_missing: bool,
    /// The receiver as written (`prisma`, `tx`, `ctx.db`).
    pub handle: String,
    /// The node to underline (the method name).
    pub site: Node<'t>,
    /// The handle is the receiver written before the call (`prisma` in
    /// `prisma.user.create`), not something passed elsewhere (an option).
    pub receiver_is_handle: bool,
    /// SQL functions the call runs (`rpc("fn")`), lowercased.
    pub routines: Vec<String>,
    /// The filter and data arguments as written, for fixes that quote them.
    pub filter_node: Option<Node<'t>>,
    pub values_node: Option<Node<'t>>,
    /// The request context the handle was built from (`Effect::context`).
    pub context: Option<String>,
}

impl<'t> EffectDraft<'t> {
    pub fn new(kind: EffectKind, client: Client, handle: String, site: Node<'t>) -> Self {
        EffectDraft {
            kind,
            client,
            table: None,
            filter: Vec::new(),
            values: Vec::new(),
            conflict_update: None,
            many: false,
            on_conflict: OnConflict::None,
            row_lock: RowLock::None,
            tally: None,
            throws_if_missing: false,
            handle,
            site,
            receiver_is_handle: true,
            routines: Vec::new(),
            filter_node: None,
            values_node: None,
            context: None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxControl {
    Begin { serializable: bool },
    Commit,
    Rollback,
}

#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Recognized<'t> {
    /// A call with a known effect.
    Effect(EffectDraft<'t>),
    /// Raw SQL: the lowering classifies the text and maps `$n` to `params[n-1]`.
    Sql {
        client: Client,
        handle: String,
        site: Node<'t>,
        sql: String,
        params: Vec<Node<'t>>,
    },
    /// A transaction helper: a callback run inside it, or a batch of statements.
    Transaction {
        client: Client,
        /// `async (tx) => { … }`; its first parameter is the transaction handle.
        callback: Option<Node<'t>>,
        /// `[prisma.a.create(…), prisma.b.update(…)]`.
        batch: Option<Node<'t>>,
        serializable: bool,
    },
    /// `BEGIN`/`COMMIT`/`ROLLBACK` on a connection, or a query runner's equivalents.
    Control {
        client: Client,
        /// The connection or transaction object; empty when it is the value the
        /// call returns (`const t = await sequelize.transaction()`): the lowering
        /// then uses the variable the result is bound to.
        handle: String,
        control: TxControl,
    },
}

/// What is known about the file before its calls are recognised.
#[derive(Clone, Debug, Default)]
pub struct FileHints {
    /// The file mentions Prisma (`@prisma/client`, `PrismaClient`, `$transaction`, …).
    pub prisma: bool,
    /// Extra names of client variables from the configuration, per client.
    pub prisma_names: Vec<String>,
    /// The file imports from `drizzle-orm`.
    pub drizzle: bool,
    /// The file imports `kysely`.
    pub kysely: bool,
    /// The file imports or mentions `knex`.
    pub knex: bool,
    /// The file imports a raw SQL driver: node-postgres (`pg`), `pg-promise`, Neon's
    /// serverless driver, `mysql2`.
    pub pg: bool,
    /// The file imports postgres.js (`postgres`) or a driver with its tagged template.
    pub postgres_js: bool,
    /// The file imports a `sql` tag from a module other than postgres.js: Drizzle's
    /// `sql` (from `drizzle-orm` or a package re-exporting it) builds fragments and
    /// runs nothing.
    pub sql_fragment: bool,
    /// Functions from `[transactions] wrappers` that run their callback in a transaction.
    pub transaction_wrappers: Vec<String>,
    /// What the file says about Sequelize, TypeORM and supabase-js.
    pub orm: OrmHints,
}

impl FileHints {
    pub fn of(src: &str) -> FileHints {
        FileHints {
            prisma: prisma::mentions_prisma(src),
            prisma_names: Vec::new(),
            transaction_wrappers: Vec::new(),
            drizzle: imports(src, &["drizzle-orm"]),
            kysely: imports(src, &["kysely"]),
            knex: imports(src, &["knex"]) || src.contains("Knex"),
            pg: imports(
                src,
                &[
                    "pg",
                    "pg-pool",
                    "pg-promise",
                    "@neondatabase/serverless",
                    "mysql2",
                    "mysql",
                ],
            ),
            postgres_js: imports(src, &["postgres", "@vercel/postgres"]),
            sql_fragment: imports_sql_tag_from_elsewhere(src),
            orm: OrmHints::of(src),
        }
    }
}

impl FileHints {
    /// The client a transaction of unknown origin most likely belongs to: the one
    /// the file imports (for how a fix is spelled).
    pub fn main_client(&self) -> Client {
        [
            (self.prisma, Client::Prisma),
            (self.drizzle, Client::Drizzle),
            (self.kysely, Client::Kysely),
            (self.knex, Client::Knex),
            (self.orm.sequelize, Client::Sequelize),
            (self.orm.typeorm, Client::TypeOrm),
        ]
        .into_iter()
        .find_map(|(used, client)| used.then_some(client))
        .unwrap_or(Client::SqlTs)
    }
}

/// A method decorator that runs the method in a transaction carried by the async
/// context, not by a handle: `@Transactional()` (typeorm-transactional,
/// @nestjs-cls/transactional, MikroORM) and `@Transaction()` (Vendure, TypeORM
/// 0.2). `Some(serializable)` when it opens or joins one; a propagation that may
/// run without one (`SUPPORTS`, `NOT_SUPPORTED`, `NEVER`) and Vendure's
/// `'manual'` mode are none.
pub fn transactional_decorator(code: &str) -> Option<bool> {
    let code = code.trim().strip_prefix('@')?;
    let (name, args) = code.split_once('(').unwrap_or((code, ""));
    let name = name.trim().rsplit('.').next().unwrap_or(name);
    if !matches!(name, "Transactional" | "Transaction") {
        return None;
    }
    let args = args.to_ascii_uppercase();
    if [
        "SUPPORTS",
        "NOT_SUPPORTED",
        "NEVER",
        "'MANUAL'",
        "\"MANUAL\"",
    ]
    .iter()
    .any(|word| args.contains(word))
    {
        return None;
    }
    Some(args.contains("SERIALIZABLE"))
}

/// What a file needs to hold a `@Transactional()` method: its calls into other
/// files run in that method's transaction.
static DECORATOR_VOCABULARY: Vocabulary = Vocabulary {
    calls: &["@Transactional", "@Transaction("],
    gated_calls: &[],
    gates: &[],
};

/// Every client's vocabulary, for the prefilter.
pub fn vocabularies() -> Vec<&'static Vocabulary> {
    vec![
        &DECORATOR_VOCABULARY,
        &prisma::VOCABULARY,
        &drizzle::BUILDER_VOCABULARY,
        &drizzle::HANDLE_VOCABULARY,
        &kysely::VOCABULARY,
        &knex::VOCABULARY,
        &pg::VOCABULARY,
        &pg::TAG_VOCABULARY,
        &sequelize::VOCABULARY,
        &typeorm::VOCABULARY,
        &supabase::VOCABULARY,
    ]
}

/// Whether an `import { sql } from "m"` names a module other than postgres.js.
fn imports_sql_tag_from_elsewhere(src: &str) -> bool {
    src.match_indices("import ").any(|(at, _)| {
        let rest = &src[at + "import ".len()..];
        let Some(from) = rest.find("from").filter(|&f| f < 500) else {
            return false;
        };
        let clause = &rest[..from];
        // Only a named import: `import sql from "./db"` is a postgres.js instance.
        let named = clause
            .split_once('{')
            .and_then(|(_, inner)| inner.split_once('}'))
            .map_or("", |(inner, _)| inner);
        let names_sql = named
            .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
            .any(|word| word == "sql");
        let module = rest[from + 4..]
            .trim_start()
            .trim_start_matches(['"', '\''])
            .split(['"', '\''])
            .next()
            .unwrap_or_default();
        names_sql
            && !clause.contains(" as sql")
            && !matches!(module, "postgres" | "@vercel/postgres")
            && !module.starts_with("postgres/")
    })
}

/// Whether the file imports (or requires) one of `modules`, or a path under one.
fn imports(src: &str, modules: &[&str]) -> bool {
    modules.iter().any(|m| {
        ['"', '\'']
            .iter()
            .any(|q| src.contains(&format!("{q}{m}{q}")) || src.contains(&format!("{q}{m}/")))
    })
}

/// The first client that recognises the chain wins: Drizzle's relational
/// `db.query.users.findFirst` must be claimed before Prisma sees a delegate call,
/// and Kysely's `sql`...`.execute(db)` before postgres.js sees a tagged template.
pub fn recognize<'t>(chain: &Chain<'t>, src: &'t str, hints: &FileHints) -> Option<Recognized<'t>> {
    drizzle::recognize(chain, src, hints)
        .or_else(|| kysely::recognize(chain, src, hints))
        .or_else(|| knex::recognize(chain, src, hints))
        .or_else(|| prisma::recognize(chain, src, hints))
        .or_else(|| pg::recognize(chain, src, hints))
}

// ---- Sequelize, TypeORM, supabase-js ------------------------------------------

/// File-level knowledge for the Sequelize, TypeORM and supabase-js clients.
#[derive(Clone, Debug, Default)]
pub struct OrmHints {
    /// Imports from `sequelize` / `sequelize-typescript` or uses its vocabulary.
    pub sequelize: bool,
    /// Imports from `typeorm` / `@nestjs/typeorm` or uses `Repository<T>`, `DataSource`.
    pub typeorm: bool,
    /// Imports from `@supabase/*` or calls `createClient`/`createServerClient`.
    pub supabase: bool,
    /// TypeORM repositories the file declares: `(variable or property, entity class)`,
    /// from `users: Repository<User>` and `repo = x.getRepository(User)`.
    pub repositories: Vec<(String, String)>,
}

impl OrmHints {
    pub fn of(src: &str) -> OrmHints {
        OrmHints {
            sequelize: sequelize::mentions_sequelize(src),
            typeorm: typeorm::mentions_typeorm(src),
            supabase: supabase::mentions_supabase(src),
            repositories: typeorm::declared_repositories(src),
        }
    }
}

/// Where a variable's value came from: the effect it was bound to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    pub client: Client,
    pub kind: EffectKind,
    pub table: Option<String>,
    /// The handle that effect went through.
    pub handle: String,
}

/// What the lowering knows about the function's variables when a call is recognised,
/// for clients whose calls go through rows (`user.save()`, `repo.save(user)`).
#[derive(Clone, Debug, Default)]
pub struct Scope<'t> {
    /// Variables bound to the result of an effect.
    pub origins: std::collections::HashMap<String, Origin>,
    /// Fields assigned on a variable since it was bound (`user.balance = …`), with
    /// the node of the new value; the lowering has already evaluated these nodes.
    pub assigned: std::collections::HashMap<String, Vec<(String, Node<'t>)>>,
}

impl<'t> Scope<'t> {
    pub fn origin(&self, name: &str) -> Option<&Origin> {
        self.origins.get(name)
    }
    pub fn assigned(&self, name: &str) -> &[(String, Node<'t>)] {
        self.assigned.get(name).map_or(&[], Vec::as_slice)
    }
}

/// [`recognize`], with what the lowering knows about variables: the clients that
/// need it first, then the others.
pub fn recognize_in<'t>(
    chain: &Chain<'t>,
    src: &'t str,
    hints: &FileHints,
    scope: &Scope<'t>,
) -> Option<Recognized<'t>> {
    // Another service's SDK object: its `update` and `create` write no table.
    if runtime::service_sdk_root(chain, src) {
        return None;
    }
    sequelize::recognize(chain, src, hints, scope)
        .or_else(|| typeorm::recognize(chain, src, hints, scope))
        .or_else(|| supabase::recognize(chain, src, hints))
        .or_else(|| recognize(chain, src, hints))
        .or_else(|| configured_wrapper(chain, src, hints))
}

/// A call to a function `[transactions] wrappers` names (one kept in a dependency,
/// whose body racelint cannot read): its function argument runs in a transaction,
/// and the argument's first parameter is the handle. `this.uow.run` matches the
/// configured `uow.run` and `run`'s full path; a bare name matches calls ending in it.
fn configured_wrapper<'t>(
    chain: &Chain<'t>,
    src: &'t str,
    hints: &FileHints,
) -> Option<Recognized<'t>> {
    if hints.transaction_wrappers.is_empty() {
        return None;
    }
    let last = chain.segments.last().filter(|s| s.is_call())?;
    let callee = chain
        .node
        .child_by_field_name("function")
        .map(|f| super::syntax::text(f, src))?;
    let named = hints.transaction_wrappers.iter().any(|w| {
        callee == w
            || callee
                .strip_suffix(w.as_str())
                .is_some_and(|head| head.ends_with('.'))
    });
    if !named {
        return None;
    }
    let callback = super::syntax::arguments(last.args?)
        .into_iter()
        .find(|a| super::syntax::is_function(*a))?;
    Some(Recognized::Transaction {
        client: hints.main_client(),
        callback: Some(callback),
        batch: None,
        serializable: false,
    })
}

// --------------------------------------------------------------------------------

/// The fix for a remedy, in the client's API.
pub fn suggest(client: Client, remedy: &crate::ir::remedy::Remedy) -> Option<String> {
    match client {
        Client::Prisma => Some(prisma::suggest(remedy)),
        Client::Drizzle => Some(drizzle::suggest(remedy)),
        Client::Kysely => Some(kysely::suggest(remedy)),
        Client::Knex => Some(knex::suggest(remedy)),
        Client::SqlTs => Some(pg::suggest(remedy)),
        Client::Sequelize => Some(sequelize::suggest(remedy)),
        Client::TypeOrm => Some(typeorm::suggest(remedy)),
        Client::Supabase => Some(supabase::suggest(remedy)),
        _ => None,
    }
}

/// The statements of `wrap` inside the client's transaction, as code replacing
/// them; `None` when the client has no edit for it (the help still explains).
pub fn wrap(client: Client, wrap: &crate::ir::remedy::Wrap) -> Option<String> {
    let (open, tx, close) = match client {
        // A transaction client has no `$transaction`: a handle named for one
        // (`tx`, `trx`, `transaction`) may be one.
        Client::Prisma if names_a_transaction(&wrap.handle) => return None,
        Client::Prisma => (
            format!("{}.$transaction(async (tx) => {{", wrap.handle),
            "tx",
            "});",
        ),
        Client::Drizzle => (
            format!("{}.transaction(async (tx) => {{", wrap.handle),
            "tx",
            "});",
        ),
        Client::Kysely => (
            format!("{}.transaction().execute(async (trx) => {{", wrap.handle),
            "trx",
            "});",
        ),
        Client::Knex => (
            format!("{}.transaction(async (trx) => {{", wrap.handle),
            "trx",
            "});",
        ),
        Client::TypeOrm => return typeorm::wrap(wrap),
        _ => return None,
    };
    if wrap.handle_spans.is_empty() {
        return None;
    }
    wrap_callback(wrap, wrap.renamed(tx), &open, close)
}

fn names_a_transaction(handle: &str) -> bool {
    let last = handle
        .rsplit('.')
        .next()
        .unwrap_or(handle)
        .to_ascii_lowercase();
    last == "tx" || last == "trx" || last.contains("transaction")
}

/// `await <open>` + the body + `<close>`; with a result, the wrapper
/// returns it and declares it outside (`const order = await …`).
pub fn wrap_callback(
    wrap: &crate::ir::remedy::Wrap,
    mut body: String,
    open: &str,
    close: &str,
) -> Option<String> {
    let head = match &wrap.result {
        Some(name) => {
            body.push_str(&format!("\nreturn {name};"));
            format!("const {name} = await ")
        }
        None => "await ".to_string(),
    };
    Some(format!(
        "{}{head}{open}\n{}\n{}{close}",
        wrap.indent,
        wrap.indented(&body),
        wrap.indent
    ))
}

/// Promise methods that may follow a query without changing what it does.
pub const PROMISE_TAIL: &[&str] = &["then", "catch", "finally"];

/// The segments of a chain without a trailing `.then(…)`/`.catch(…)`/`.finally(…)`.
pub fn core_segments<'a, 't>(chain: &'a Chain<'t>) -> &'a [super::syntax::Segment<'t>] {
    let mut end = chain.segments.len();
    while end > 0 && PROMISE_TAIL.contains(&chain.segments[end - 1].name) {
        end -= 1;
    }
    &chain.segments[..end]
}

/// Whether the last part of a handle names a database connection, pool or
/// transaction (`db`, `ctx.db`, `this.pool`, `trx`, `client`).
/// Last names of handles that look like a database: `db`, `ctx.db`, `readDb`,
/// `pgPool`, `sqlClient`, `trx`, `connection`.
const DB_LIKE_ENDINGS: &[&str] = &[
    "db",
    "tx",
    "trx",
    "txn",
    "database",
    "drizzle",
    "conn",
    "connection",
    "client",
    "pool",
    "pg",
    "sql",
    "knex",
    "transaction",
];

/// The prefilter's gates for calls on db-like handles: each ending of
/// `DB_LIKE_ENDINGS` followed by the `.` of the call, and the package names whose
/// imports open the same calls.
pub const DB_LIKE_GATES: &[&str] = &[
    "db.",
    "tx.",
    "trx.",
    "txn.",
    "database.",
    "drizzle",
    "conn.",
    "connection.",
    "client.",
    "pool.",
    "pg.",
    "sql.",
    "knex",
    "transaction.",
    "kysely",
    "postgres",
    "mysql",
    "neon",
    "'pg'",
    "\"pg\"",
    "pg-",
];

/// A handle whose last name ends like a database client's (see `DB_LIKE_ENDINGS`).
/// The client whose transaction a parameter's type annotation names
/// (`: Prisma.TransactionClient`, `: Knex.Transaction`), if any.
pub fn transaction_type(annotation: &str) -> Option<Client> {
    let annotation = annotation.trim_start_matches(':').trim();
    [
        (prisma::TRANSACTION_TYPES, Client::Prisma),
        (knex::TRANSACTION_TYPES, Client::Knex),
        (kysely::TRANSACTION_TYPES, Client::Kysely),
        (drizzle::TRANSACTION_TYPES, Client::Drizzle),
    ]
    .into_iter()
    .find(|(types, _)| types.iter().any(|t| annotation.starts_with(t)))
    .map(|(_, client)| client)
}

pub fn looks_like_db(handle: &str) -> bool {
    let last = handle
        .rsplit(['.', ' '])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    DB_LIKE_ENDINGS.iter().any(|w| last.ends_with(w))
}

/// The text of a string literal, or of a template literal without substitutions.
pub fn string_value(node: Node, src: &str) -> Option<String> {
    match node.kind() {
        "string" => Some(
            super::syntax::text(node, src)
                .trim_matches(['"', '\''])
                .to_string(),
        ),
        "template_string"
            if super::syntax::named_children(node).all(|c| c.kind() != "template_substitution") =>
        {
            Some(super::syntax::text(node, src).trim_matches('`').to_string())
        }
        _ => None,
    }
}

/// Whether the value of `node` is consumed as a statement: awaited, returned, an
/// expression statement of its own, or an arrow function's body. A query-valued
/// expression elsewhere (a property value, an argument) is a fragment of another
/// statement: `set({ balance: knex.raw("balance - ?", [n]) })`.
pub fn in_statement_position(node: Node) -> bool {
    if super::syntax::misparsed_generic_await(node).is_some() {
        return true;
    }
    let mut current = node;
    while let Some(parent) = current.parent() {
        match parent.kind() {
            "parenthesized_expression"
            | "as_expression"
            | "satisfies_expression"
            | "non_null_expression" => current = parent,
            "await_expression" | "expression_statement" | "return_statement" => return true,
            "arrow_function" => {
                return parent.field("body").is_some_and(|b| b.id() == current.id())
            }
            "unary_expression" => {
                return parent.child(0).is_some_and(|op| op.kind() == "void");
            }
            _ => return false,
        }
    }
    false
}

/// The name a statement's value is bound to: `const trx = await knex.transaction()`.
pub fn bound_name(node: Node, src: &str) -> Option<String> {
    let mut current = node;
    while let Some(parent) = current.parent() {
        match parent.kind() {
            "parenthesized_expression" | "as_expression" | "await_expression" => current = parent,
            "variable_declarator" => {
                let name = parent.field("name")?;
                return (name.kind() == "identifier")
                    .then(|| super::syntax::text(name, src).to_string());
            }
            "assignment_expression" => {
                let left = parent.field("left")?;
                return (left.kind() == "identifier")
                    .then(|| super::syntax::text(left, src).to_string());
            }
            _ => return None,
        }
    }
    None
}

/// Whether `node` is a tagged template whose tag is the identifier `tag` (``sql`…` ``).
pub fn is_tagged_template(node: Node, tag: &str, src: &str) -> bool {
    node.kind() == "call_expression"
        && node
            .field("arguments")
            .is_some_and(|a| a.kind() == "template_string")
        && node
            .field("function")
            .is_some_and(|f| super::syntax::text(f, src) == tag)
}

/// Whether `code` uses `column` as a word (`balance - ?`, `"balance"`, `t.balance`).
pub fn mentions_column(code: &str, column: &str) -> bool {
    let snake = crate::schema::snake_case(column);
    [column, snake.as_str()].iter().any(|c| {
        code.match_indices(*c).any(|(at, _)| {
            let before = code[..at].chars().next_back();
            let after = code[at + c.len()..].chars().next();
            let is_word = |ch: Option<char>| ch.is_some_and(|ch| ch.is_alphanumeric() || ch == '_');
            !is_word(before) && !is_word(after)
        })
    })
}

/// The affected rows of an update or delete may be many unless the filter names `id`.
pub fn many_unless_id(filter: &[FieldDraft]) -> bool {
    !filter.iter().any(|f| f.column == "id")
}

/// A SQL text's transaction control, if that is all it is.
pub fn control_of(sql: &str) -> Option<TxControl> {
    let upper = sql.trim().trim_end_matches(';').to_ascii_uppercase();
    if upper == "BEGIN" || upper == "START TRANSACTION" {
        return Some(TxControl::Begin {
            serializable: false,
        });
    }
    if upper.starts_with("BEGIN") || upper.starts_with("START TRANSACTION") {
        return Some(TxControl::Begin {
            serializable: upper.contains("SERIALIZABLE"),
        });
    }
    match upper.as_str() {
        "COMMIT" | "END" => Some(TxControl::Commit),
        "ROLLBACK" => Some(TxControl::Rollback),
        _ => None,
    }
}

/// `{ email, teamId: input.teamId }`: fields as a JavaScript object literal, for
/// the fixes clients spell.
pub fn object_literal(fields: &[(String, String)]) -> String {
    if fields.is_empty() {
        return "{ /* … */ }".into();
    }
    let parts: Vec<String> = fields.iter().map(|(k, v)| property(k, v)).collect();
    format!("{{ {} }}", parts.join(", "))
}

/// An object literal as written with more properties: `{ id }` + `status` →
/// `{ id, status: "free" }`, keeping a multi-line literal multi-line. Anything
/// other than a literal (`where`, a variable) is spread into a new one.
pub fn with_properties(code: &str, extra: &[(String, String)]) -> String {
    if extra.is_empty() {
        return code.to_string();
    }
    let props: Vec<String> = extra.iter().map(|(k, v)| property(k, v)).collect();
    let trimmed = code.trim();
    let Some(inner) = trimmed
        .strip_prefix('{')
        .and_then(|rest| rest.strip_suffix('}'))
    else {
        return format!("{{ ...{trimmed}, {} }}", props.join(", "));
    };
    if !inner.contains('\n') {
        let inner = inner.trim().trim_end_matches(',');
        return if inner.is_empty() {
            format!("{{ {} }}", props.join(", "))
        } else {
            format!("{{ {inner}, {} }}", props.join(", "))
        };
    }
    let body = inner.trim_end();
    let comma = if body.ends_with(',') || body.ends_with('{') {
        ""
    } else {
        ","
    };
    let added: String = props.iter().map(|p| format!("\n  {p},")).collect();
    format!("{{{body}{comma}{added}\n}}")
}

/// One property of an object literal: `email` for `email: email`, else `k: v`.
pub fn property(key: &str, value: &str) -> String {
    if key == value {
        key.to_string()
    } else {
        format!("{key}: {value}")
    }
}

/// `version` → `Version`, `row_version` → `RowVersion`, for names clients build
/// (`expectedVersion`).
pub fn capitalize(s: &str) -> String {
    s.split('_')
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(c) => c.to_uppercase().chain(chars).collect(),
                None => String::new(),
            }
        })
        .collect()
}

/// `["email", "teamId"]`: a key's columns as a JavaScript array of strings
/// (`["id"]` when the key is unknown), for conflict targets.
pub fn quoted_columns(key: &[(String, String)]) -> String {
    let cols: Vec<String> = key.iter().map(|(c, _)| format!("\"{c}\"")).collect();
    if cols.is_empty() {
        "[\"id\"]".into()
    } else {
        format!("[{}]", cols.join(", "))
    }
}

/// One statement of a transaction body: the user's own call replayed through the
/// transaction handle when its code is known, else `fallback`.
pub fn replay(target: &crate::ir::remedy::Target, tx: &str, fallback: String) -> String {
    match &target.call {
        Some(call) => format!(
            "  await {tx}{};",
            crate::ir::remedy::indent_rest(call, "  ")
        ),
        None => fallback,
    }
}

/// The numbering fix, from the read and the write as written: in the client's
/// transaction (`wrap(client, body)`), `lock` (built from the numbering key's
/// code) first, then the read and the write replayed through `tx`. `None` when
/// either call's code is not known.
pub fn number_under_lock(
    read: &crate::ir::remedy::Target,
    binding: Option<&str>,
    write: &crate::ir::remedy::Target,
    tx: &str,
    lock: impl Fn(&str) -> String,
    wrap: impl Fn(&str, &str) -> String,
) -> Option<String> {
    let (read_call, _) = (read.call.as_ref()?, write.call.as_ref()?);
    let key = read.key.first().map_or("key", |(_, v)| v.as_str());
    let read_line = format!(
        "  const {} = await {tx}{};",
        binding.unwrap_or("last"),
        crate::ir::remedy::indent_rest(read_call, "  ")
    );
    let body = [
        format!(
            "  // serialise the numbering for this key, then read the number under the lock\n  {}",
            lock(key)
        ),
        read_line,
        format!(
            "  // … compute the next number from `{}` as before …",
            binding.unwrap_or("last")
        ),
        replay(write, tx, String::new()),
    ];
    Some(wrap(&read.handle, &body.join("\n")))
}

/// A transaction fix, from the writes as written: each replayed through the
/// transaction's handle (`placeholder` when its call is not known), inside
/// `wrap(client, body)` — or, when the code already holds a transaction (`open`),
/// the writes outside it moved in through that handle, with no second transaction.
pub fn transaction_fix(
    targets: &[crate::ir::remedy::Target],
    open: Option<&str>,
    tx: &str,
    placeholder: impl Fn(&crate::ir::remedy::Target, &str) -> String,
    wrap: impl Fn(&str, &str) -> String,
) -> String {
    let through = open.unwrap_or(tx);
    let body: Vec<String> = targets
        .iter()
        .filter(|t| open.is_none_or(|open| t.handle != open))
        .map(|t| replay(t, through, placeholder(t, through)))
        .collect();
    match open {
        Some(open) => format!(
            "// inside the callback that already holds `{open}`, beside the other write:\n{}",
            body.iter()
                .map(|l| l.strip_prefix("  ").unwrap_or(l).replace("\n  ", "\n"))
                .collect::<Vec<_>>()
                .join("\n")
        ),
        None => {
            let client = targets.first().map_or("", |t| t.handle.as_str());
            wrap(client, &body.join("\n"))
        }
    }
}

/// The test that `e`, an error the driver threw, is a unique violation, for each
/// database the code may run on (`code === "23505"` on PostgreSQL, `errno === 1062`
/// on MySQL, …).
pub fn unique_violation_test(database: &Dialect) -> String {
    let test = |d: Database| match d {
        Database::Postgres => r#"(e as { code?: string }).code === "23505""#,
        Database::Mysql => "(e as { errno?: number }).errno === 1062",
        Database::Sqlite => r#"(e as { code?: string }).code === "SQLITE_CONSTRAINT_UNIQUE""#,
        Database::SqlServer => "(e as { number?: number }).number === 2627",
    };
    database
        .databases()
        .into_iter()
        .map(test)
        .collect::<Vec<_>>()
        .join(" || ")
}

/// The statement, at two spaces of indentation, that serialises requests on a key
/// inside a transaction: `raw` spells the client's raw query from SQL in which
/// `{KEY}` stands for the key. Where the database has no such lock (SQLite), or
/// the project supports several, a comment says what to do instead.
pub fn key_lock(database: &Dialect, raw: impl Fn(&str) -> String) -> String {
    match database.spelled() {
        Some(Database::Postgres) => raw("SELECT pg_advisory_xact_lock(hashtext({KEY}))"),
        Some(Database::Mysql) => format!(
            "{}
  // a MySQL named lock outlives the transaction: `SELECT RELEASE_LOCK(…)` after it commits",
            raw("SELECT GET_LOCK({KEY}, 10)")
        ),
        Some(Database::Sqlite) => "// SQLite runs one writer at a time: make the first statement a write, or begin
  // the transaction with `BEGIN IMMEDIATE`, so no other request reads in between".to_string(),
        Some(Database::SqlServer) => raw(
            "EXEC sp_getapplock @Resource = {KEY}, @LockMode = 'Exclusive', @LockOwner = 'Transaction'",
        ),
        None => format!(
            "// serialise requests for this key before checking: {}",
            database.row_lock()
        ),
    }
}

/// Whether error-handling code tells a unique violation apart, in any client's words.
pub fn mentions_unique_violation(code: &str) -> bool {
    const WORDS: &[&str] = &[
        "P2002",
        "23505",
        "UniqueConstraintError",
        "ER_DUP_ENTRY",
        "SQLITE_CONSTRAINT_UNIQUE",
        "unique_violation",
        "isUniqueViolation",
        "UniqueViolation",
        "DuplicateKey",
        "isDuplicate",
        "UniqueConstraint",
    ];
    WORDS.iter().any(|w| code.contains(w))
}

/// A template literal as SQL text with `${…}` replaced by `$1, $2, …`, and the
/// substituted expressions in order.
pub fn template_sql<'t>(template: Node<'t>, src: &'t str) -> (String, Vec<Node<'t>>) {
    let mut sql = String::new();
    let mut params = Vec::new();
    let inner_start = template.start_byte() + 1;
    let inner_end = template.end_byte().saturating_sub(1).max(inner_start);
    let mut cursor = inner_start;
    for child in super::syntax::named_children(template) {
        if child.kind() == "template_substitution" {
            sql.push_str(src.get(cursor..child.start_byte()).unwrap_or(""));
            match child.named_child(0) {
                Some(expr) => {
                    params.push(expr);
                    sql.push_str(&format!("${}", params.len()));
                }
                None => sql.push_str("NULL"),
            }
            cursor = child.end_byte();
        }
    }
    sql.push_str(src.get(cursor..inner_end).unwrap_or(""));
    (sql, params)
}

/// Lowers a TypeScript snippet with the hints its own text gives, for client tests.
#[cfg(test)]
pub(crate) fn lower_snippet(src: &str) -> crate::ir::FileModel {
    super::parse(src, super::Dialect::TypeScript, &FileHints::of(src)).model
}

/// The effects of the function named `name` in a lowered snippet.
#[cfg(test)]
pub(crate) fn effects_of<'m>(
    model: &'m crate::ir::FileModel,
    name: &str,
) -> &'m crate::ir::Function {
    model
        .functions
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| {
            panic!(
                "no function {name} in {:?}",
                model.functions.iter().map(|f| &f.name).collect::<Vec<_>>()
            )
        })
}

/// The object literal describing one inserted row, and whether several rows are
/// inserted: `{ … }`, `[{ … }, …]`, or `items.map((item) => ({ … }))`.
pub fn row_object<'t>(node: Node<'t>, src: &str) -> (Option<Node<'t>>, bool) {
    use super::syntax::{arguments, is_function, named_children, text, unwrap_expr};
    let node = unwrap_expr(node);
    match node.kind() {
        "object" => (Some(node), false),
        "array" => (node.named_child(0).and_then(|n| row_object(n, src).0), true),
        "call_expression" => {
            let is_map = node
                .field("function")
                .and_then(|f| f.field("property"))
                .is_some_and(|p| text(p, src) == "map");
            let callback = node
                .field("arguments")
                .and_then(|a| arguments(a).first().copied())
                .filter(|c| is_function(*c));
            let (true, Some(callback)) = (is_map, callback) else {
                return (None, false);
            };
            let object = callback.field("body").and_then(|b| {
                if b.kind() == "statement_block" {
                    named_children(b)
                        .filter(|s| s.kind() == "return_statement")
                        .last()
                        .and_then(|r| r.named_child(0))
                } else {
                    Some(b)
                }
            });
            (
                object.map(unwrap_expr).filter(|o| o.kind() == "object"),
                true,
            )
        }
        _ => (None, false),
    }
}

/// A query built in a variable and run later — `let q = db.selectFrom("users");
/// if (email) q = q.where("email", "=", email); await q.execute()` — as one chain:
/// the declaration's chain, then the segments of each `q = q.…` reassignment before
/// the use, then the use's own segments. `None` when the chain's root is not such a
/// variable.
pub fn expand_builder_variable<'t>(chain: &Chain<'t>, src: &'t str) -> Option<Chain<'t>> {
    use super::syntax::{named_children, text, unwrap_expr};
    if chain.root.kind() != "identifier" {
        return None;
    }
    let name = text(chain.root, src);
    let use_at = chain.root.start_byte();
    // The enclosing function (or the file) is where the variable lives.
    let scope = std::iter::successors(chain.node.parent(), |n| n.parent())
        .find(|n| super::syntax::is_function(*n) || n.kind() == "program")?;
    let mut declaration: Option<Node<'t>> = None;
    let mut reassignments: Vec<Node<'t>> = Vec::new();
    let mut stack = vec![scope];
    while let Some(node) = stack.pop() {
        if node.start_byte() >= use_at {
            continue;
        }
        match node.kind() {
            "variable_declarator" if node.field("name").is_some_and(|n| text(n, src) == name) => {
                if let Some(value) = node.field("value").map(unwrap_expr) {
                    if value.kind() == "call_expression"
                        && declaration.is_none_or(|d| d.start_byte() < value.start_byte())
                    {
                        declaration = Some(value);
                    }
                }
            }
            "assignment_expression" if node.field("left").is_some_and(|l| text(l, src) == name) => {
                if let Some(right) = node.field("right").map(unwrap_expr) {
                    reassignments.push(right);
                }
            }
            _ => {}
        }
        stack.extend(named_children(node));
    }
    let declaration = declaration?;
    let mut combined = Chain::of(declaration, src);
    if combined.root.kind() == "identifier" && text(combined.root, src) == name {
        return None;
    }
    reassignments.retain(|r| r.start_byte() > declaration.start_byte());
    reassignments.sort_by_key(|r| r.start_byte());
    for right in reassignments {
        let step = Chain::of(right, src);
        if step.root.kind() == "identifier" && text(step.root, src) == name {
            combined.segments.extend(step.segments);
        }
    }
    combined.segments.extend(chain.segments.iter().cloned());
    combined.node = chain.node;
    Some(combined)
}

#[cfg(test)]
mod decorator_tests {
    use super::transactional_decorator;

    #[test]
    fn transactional_decorators_open_a_transaction_unless_their_propagation_may_not() {
        assert_eq!(transactional_decorator("@Transactional()"), Some(false));
        assert_eq!(transactional_decorator("@Transaction()"), Some(false));
        assert_eq!(
            transactional_decorator(
                "@Transactional({ isolationLevel: IsolationLevel.SERIALIZABLE })"
            ),
            Some(true)
        );
        assert_eq!(transactional_decorator("@cls.Transactional()"), Some(false));
        assert_eq!(
            transactional_decorator("@Transactional({ propagation: Propagation.SUPPORTS })"),
            None
        );
        assert_eq!(
            transactional_decorator("@Transactional({ propagation: 'NOT_SUPPORTED' })"),
            None
        );
        assert_eq!(transactional_decorator("@Transaction('manual')"), None);
        assert_eq!(transactional_decorator("@TransactionManager()"), None);
        assert_eq!(transactional_decorator("@Mutation()"), None);
    }
}
