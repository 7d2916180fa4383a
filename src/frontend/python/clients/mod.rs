//! The Python database clients racelint understands, behind one question: "what
//! does this call chain do to the database?". SQLAlchemy (sync and asyncio,
//! Flask-SQLAlchemy, SQLModel) and the Django ORM each live in one module, which
//! recognises its calls, declares its prefilter [`Vocabulary`] and spells fixes;
//! `runtime.rs` knows the standard library's timers and in-process locks. The
//! lowering in `lower.rs` knows none of their spellings.

use super::syntax::{Chain, SqlText};
use crate::frontend::typescript::clients::Vocabulary;
use crate::ir::{Client, EffectKind, OnConflict, RowLock};
use std::collections::{HashMap, HashSet};
use tree_sitter::Node;

pub mod django;
pub mod runtime;
pub mod sqlalchemy;

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
    /// The session or manager the call goes through, as written.
    pub handle: String,
    /// The node to underline (the method name).
    pub site: Node<'t>,
    /// SQL functions the statement calls (`select(func.fn(x))`), lowercased.
    pub routines: Vec<String>,
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
            routines: Vec::new(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    Commit,
    /// Sends pending changes, inside the session's open transaction.
    Flush,
    Rollback,
}

#[derive(Clone, Debug)]
pub enum Recognized<'t> {
    /// A call with a known effect.
    Effect(EffectDraft<'t>),
    /// A statement or queryset built but not yet run (`stmt = select(M)…`,
    /// `qs = M.objects.filter(…)`). Kept when assigned; `read` is what running it
    /// where it stands (iterating it, returning it) reads.
    Deferred { read: Option<EffectDraft<'t>> },
    /// `session.add(obj)`, `session.add_all([a, b])`: inserts of objects the
    /// lowering knows (built by a model's constructor).
    AddObjects {
        client: Client,
        handle: String,
        site: Node<'t>,
        objects: Vec<Node<'t>>,
    },
    /// `session.delete(obj)`, `obj.delete()`.
    DeleteObject {
        client: Client,
        handle: String,
        site: Node<'t>,
        object: Node<'t>,
    },
    /// Django's `obj.save(update_fields=[…])`: an insert of a new object, an
    /// update of a row read before.
    SaveObject {
        client: Client,
        site: Node<'t>,
        object: Node<'t>,
        update_fields: Option<Vec<String>>,
    },
    /// Raw SQL: `text("…")`, a string given to `execute`; `binds` is the dict of
    /// values for `:name` parameters.
    Sql {
        client: Client,
        handle: String,
        site: Node<'t>,
        sql: SqlText<'t>,
        binds: Option<Node<'t>>,
    },
    Control {
        client: Client,
        handle: String,
        control: Control,
    },
}

/// Where a variable's value came from.
#[derive(Clone, Debug)]
pub struct Origin {
    pub client: Client,
    pub table: Option<String>,
    /// The read (index into the function's effects) it is a row of.
    pub read: Option<usize>,
    /// Built by the model's constructor (`Character(name=…)`), not read.
    pub constructed: bool,
    pub handle: String,
}

/// What the lowering knows that recognition needs.
#[derive(Default)]
pub struct Scope<'t> {
    /// Statements and querysets assigned to a variable, not yet run.
    pub statements: HashMap<String, Chain<'t>>,
    /// Names bound to a session (`with Session(engine) as s`, `session: AsyncSession`).
    pub sessions: HashSet<String>,
    pub origins: HashMap<String, Origin>,
}

/// What is known about the file before its calls are recognised.
#[derive(Clone, Copy, Debug, Default)]
pub struct FileHints {
    /// One of SQLAlchemy's gates is in the file (see `sqlalchemy::VOCABULARY`).
    pub sqlalchemy: bool,
    /// One of Django's gates is in the file.
    pub django: bool,
}

impl FileHints {
    pub fn of(src: &str) -> FileHints {
        FileHints {
            sqlalchemy: has_gate(src, sqlalchemy::VOCABULARY.gates),
            django: has_gate(src, django::VOCABULARY.gates),
        }
    }
}

fn has_gate(src: &str, gates: &[&str]) -> bool {
    let lower = src.to_ascii_lowercase();
    gates
        .iter()
        .any(|g| lower.contains(&g.to_ascii_lowercase()))
}

/// Every Python client's vocabulary, for the prefilter.
pub fn vocabularies() -> Vec<&'static Vocabulary> {
    vec![&sqlalchemy::VOCABULARY, &django::VOCABULARY]
}

pub fn recognize<'t>(
    chain: &Chain<'t>,
    src: &'t str,
    hints: FileHints,
    scope: &Scope<'t>,
) -> Option<Recognized<'t>> {
    django::recognize(chain, src, hints, scope)
        .or_else(|| sqlalchemy::recognize(chain, src, hints, scope))
}

/// The help text for a remedy, in the Python client the finding's code uses.
pub fn suggest(client: Client, remedy: &crate::ir::remedy::Remedy) -> Option<String> {
    match client {
        Client::Sqlalchemy => Some(sqlalchemy::suggest(remedy, false)),
        Client::SqlalchemyAsync => Some(sqlalchemy::suggest(remedy, true)),
        Client::Django => Some(django::suggest(remedy)),
        _ => None,
    }
}

/// The statements of `wrap` in the client's transaction, as code replacing them.
/// Django: `with transaction.atomic():` (nestable: inside an outer atomic block it
/// is a savepoint). SQLAlchemy's session begins its transaction by itself, so a
/// race there is a commit between the writes, which no wrapper fixes: no edit.
pub fn wrap(client: Client, wrap: &crate::ir::remedy::Wrap) -> Option<String> {
    if client != Client::Django {
        return None;
    }
    let i = &wrap.indent;
    let import = if wrap.file.contains("import transaction") {
        String::new()
    } else {
        format!("{i}from django.db import transaction\n")
    };
    Some(format!(
        "{import}{i}with transaction.atomic():\n{}",
        wrap.indented(&wrap.body)
    ))
}

/// The writes of a race replayed inside a transaction block, one per line, each
/// as written with its session renamed to `session` (when given) and `aw`
/// (`await `) before it; `...` stands for writes whose call is not known (an
/// attribute set on a loaded row, flushed at commit).
pub fn transaction_body(
    targets: &[crate::ir::remedy::Target],
    session: Option<&str>,
    aw: &str,
) -> String {
    let mut lines: Vec<String> = Vec::new();
    let mut unknown = false;
    for t in targets {
        match &t.call {
            Some(call) => lines.push(format!(
                "    {aw}{}{}",
                session.unwrap_or(&t.handle),
                crate::ir::remedy::indent_rest(call, "    ")
            )),
            None => unknown = true,
        }
    }
    if unknown || lines.is_empty() {
        lines.push("    ...".to_string());
    }
    lines.join("\n")
}

/// Whether an `except` clause's code handles a unique violation.
pub fn handles_unique_violation(code: &str) -> bool {
    [
        "IntegrityError",
        "UniqueViolation",
        "unique_violation",
        "23505",
        "UniqueViolationError",
    ]
    .iter()
    .any(|w| code.contains(w))
}

/// A class-like name: `Story`, `models.Story`'s last part.
pub fn is_model_name(code: &str) -> bool {
    let last = code.rsplit('.').next().unwrap_or(code);
    last.chars().next().is_some_and(|c| c.is_ascii_uppercase())
        && last.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !last.chars().all(|c| c.is_ascii_uppercase() || c == '_')
}
