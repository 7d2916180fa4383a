//! The TypeScript database clients racelint understands, behind one question:
//! "what does this call chain do to the database?".
//!
//! Each client module knows its own API's spelling and answers with a
//! [`Recognized`]; the lowering in `lower.rs` knows none of them. The first client
//! that recognises a chain wins, so more specific shapes come first.

use super::syntax::Chain;
use crate::ir::{Client, EffectKind, OnConflict, RowLock};
use tree_sitter::Node;

pub mod prisma;
pub mod runtime;

// ---- Sequelize, TypeORM, supabase-js ------------------------------------------
mod ormkit;
pub mod sequelize;
pub mod supabase;
pub mod typeorm;
// --------------------------------------------------------------------------------

/// A column of a filter or of the data written, with the code of its value.
#[derive(Clone, Debug)]
pub struct FieldDraft<'t> {
    pub column: String,
    pub value: Option<Node<'t>>,
    /// The database computes the new value from the current one (`{ increment: 1 }`).
    pub atomic: bool,
}

#[derive(Clone, Debug)]
pub struct EffectDraft<'t> {
    pub kind: EffectKind,
    pub client: Client,
    pub table: Option<String>,
    pub filter: Vec<FieldDraft<'t>>,
    pub values: Vec<FieldDraft<'t>>,
    pub many: bool,
    pub on_conflict: OnConflict,
    pub row_lock: RowLock,
    pub throws_if_missing: bool,
    /// The receiver as written (`prisma`, `tx`, `ctx.db`).
    pub handle: String,
    /// The node to underline (the method name).
    pub site: Node<'t>,
    /// The handle is the receiver written before the call (`prisma` in
    /// `prisma.user.create`), not something passed elsewhere (an option).
    pub receiver_is_handle: bool,
}

impl<'t> EffectDraft<'t> {
    pub fn new(kind: EffectKind, client: Client, handle: String, site: Node<'t>) -> Self {
        EffectDraft {
            kind,
            client,
            table: None,
            filter: Vec::new(),
            values: Vec::new(),
            many: false,
            on_conflict: OnConflict::None,
            row_lock: RowLock::None,
            throws_if_missing: false,
            handle,
            site,
            receiver_is_handle: true,
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
    /// What the file says about Sequelize, TypeORM and supabase-js.
    pub orm: OrmHints,
}

impl FileHints {
    pub fn of(src: &str) -> FileHints {
        FileHints {
            prisma: prisma::mentions_prisma(src),
            prisma_names: Vec::new(),
            orm: OrmHints::of(src),
        }
    }
}

/// The text some recognised call must contain, over every client.
pub fn triggers() -> impl Iterator<Item = &'static str> {
    prisma::TRIGGERS
        .iter()
        .chain(sequelize::TRIGGERS)
        .chain(typeorm::TRIGGERS)
        .chain(supabase::TRIGGERS)
        .copied()
}

pub fn recognize<'t>(chain: &Chain<'t>, src: &'t str, hints: &FileHints) -> Option<Recognized<'t>> {
    prisma::recognize(chain, src, hints)
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
    sequelize::recognize(chain, src, hints, scope)
        .or_else(|| typeorm::recognize(chain, src, hints, scope))
        .or_else(|| supabase::recognize(chain, src, hints))
        .or_else(|| recognize(chain, src, hints))
}

// --------------------------------------------------------------------------------

/// The fix for a remedy, in the client's API.
pub fn suggest(client: Client, remedy: &crate::ir::remedy::Remedy) -> Option<String> {
    match client {
        Client::Prisma => Some(prisma::suggest(remedy)),
        Client::Sequelize => Some(sequelize::suggest(remedy)),
        Client::TypeOrm => Some(typeorm::suggest(remedy)),
        Client::Supabase => Some(supabase::suggest(remedy)),
        _ => None,
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
