//! Parsing and lowering: one frontend per language, each turning a file's text into
//! the [`crate::ir`] model. A frontend never fails: what it cannot parse it reports
//! as a problem next to whatever it could lower.

pub mod plpgsql;
mod prefilter;
pub mod python;
pub mod rust;
pub mod sql;
mod tree_blocks;
pub mod typescript;

pub use prefilter::Prefilter;

/// Progress reports a tree-sitter parse may make: a floor for small files, plus
/// one report per this many bytes.
const PROGRESS_BUDGET_BASE: u64 = 2_000;
const PROGRESS_BUDGET_BYTES: u64 = 4;

/// A column of a filter or of the data written, with the code of its value: what
/// a tree-sitter frontend's client modules hand its lowering.
#[derive(Clone, Debug)]
pub struct FieldDraft<'t> {
    pub column: String,
    pub value: Option<tree_sitter::Node<'t>>,
    /// The database computes the new value from the current one (`{ increment: 1 }`,
    /// `M.n + 1`, `F("n") + 1`).
    pub atomic: bool,
}

/// Parses `src` with a tree-sitter parser under an operation budget linear in its
/// size; `None` when the budget ran out. tree-sitter's error recovery can take
/// time exponential in the input on some malformed files (a fuzzer found 576
/// bytes of TSX that never finished). It reports progress every 100 operations;
/// a budget far above what real code needs (at most 0.02 reports per byte on
/// the npm corpus of scripts/bench) bounds it and keeps the run deterministic,
/// unlike a clock. Every tree-sitter grammar racelint reads goes through here.
pub fn parse_bounded(parser: &mut tree_sitter::Parser, src: &str) -> Option<tree_sitter::Tree> {
    let budget = PROGRESS_BUDGET_BASE + src.len() as u64 / PROGRESS_BUDGET_BYTES;
    let mut reports = 0u64;
    let mut out_of_budget = |_: &tree_sitter::ParseState| {
        reports += 1;
        reports > budget
    };
    let options = tree_sitter::ParseOptions::new().progress_callback(&mut out_of_budget);
    let bytes = src.as_bytes();
    let tree = parser.parse_with_options(
        &mut |offset, _| bytes.get(offset..).unwrap_or_default(),
        None,
        Some(options),
    );
    if tree.is_none() {
        // A halted parser resumes its old parse on the next call: start afresh.
        parser.reset();
    }
    tree
}

use crate::ir::remedy::Remedy;
use crate::ir::{Client, Effect, EffectKind, Field, OnConflict, Span, Value};
use sql::{SqlColumn, SqlKind, SqlStatement};

/// The help text, with code, for a remedy in the client the finding's code uses.
pub fn suggest(client: Client, remedy: &Remedy) -> Option<String> {
    typescript::clients::suggest(client, remedy)
        .or_else(|| rust::suggest(client, remedy))
        .or_else(|| plpgsql::suggest(client, remedy))
        .or_else(|| python::clients::suggest(client, remedy))
}

/// The effect of one classified SQL statement; `None` for statements that touch
/// no data (transaction control, DDL). `value_of` maps a column's placeholders to
/// the frontend's argument values.
pub fn effect_from_sql(
    statement: &SqlStatement,
    client: Client,
    span: Span,
    value_of: &dyn Fn(&SqlColumn) -> Value,
) -> Option<Effect> {
    let kind = match statement.kind {
        SqlKind::Select => EffectKind::Read,
        SqlKind::Insert if statement.on_conflict == OnConflict::DoUpdate => EffectKind::Upsert,
        SqlKind::Insert => EffectKind::Insert,
        SqlKind::Update => EffectKind::Update,
        SqlKind::Delete => EffectKind::Delete,
        SqlKind::Lock => EffectKind::Lock,
        SqlKind::Unparsed => EffectKind::Opaque,
        SqlKind::Begin
        | SqlKind::Commit
        | SqlKind::Rollback
        | SqlKind::Savepoint
        | SqlKind::Other => return None,
    };
    let mut effect = Effect::new(kind, client, span);
    effect.table = statement.table.clone();
    let to_fields = |columns: &[SqlColumn]| -> Vec<Field> {
        columns
            .iter()
            .map(|c| Field {
                column: c.column.clone(),
                value: value_of(c),
            })
            .collect()
    };
    effect.filter = to_fields(&statement.filter);
    effect.values = to_fields(&statement.values);
    effect.conflict_update = statement.conflict_set.as_deref().map(to_fields);
    effect.on_conflict = statement.on_conflict;
    effect.row_lock = statement.row_lock;
    effect.tally.clone_from(&statement.tally);
    effect.routines.clone_from(&statement.calls);
    // Without a filter on a key, a statement may touch any number of rows; an
    // aggregate sums up any number of them.
    effect.many = !statement.filter.iter().any(|c| c.column == "id") || statement.aggregate;
    Some(effect)
}

/// The statements of one block holding `spans`, from the first to the last, in
/// the file's language.
pub fn statement_run(
    path: &std::path::Path,
    text: &str,
    spans: &[Span],
) -> Result<crate::ir::remedy::StatementRun, crate::ir::remedy::NoRun> {
    use crate::discover::Language;
    match crate::discover::language_of(path) {
        Some(Language::TypeScript(dialect)) => typescript::statement_run(text, dialect, spans),
        Some(Language::Rust) => rust::statement_run(text, spans),
        Some(Language::Python) => python::statement_run(text, spans),
        _ => Err(crate::ir::remedy::NoRun::NotOneBlock),
    }
}

/// How safe it is to send a statement of `client` through another handle of
/// the same database (tx-client-escape's fix). A SQLAlchemy session owns the
/// objects it loaded: one moved to another session may need re-attaching.
pub fn rehandle_applicability(client: Client) -> crate::diagnostic::Applicability {
    match client {
        Client::Sqlalchemy | Client::SqlalchemyAsync => crate::diagnostic::Applicability::Unsafe,
        _ => crate::diagnostic::Applicability::Safe,
    }
}

/// The statements of `wrap` inside the client's transaction, as the code that
/// replaces them; `None` when the client has no such edit.
pub fn wrap_in_transaction(client: Client, wrap: &crate::ir::remedy::Wrap) -> Option<String> {
    typescript::clients::wrap(client, wrap)
        .or_else(|| rust::wrap(client, wrap))
        .or_else(|| python::clients::wrap(client, wrap))
}
