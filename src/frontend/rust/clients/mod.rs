//! What a call chain means to a database client.
//!
//! `lower.rs` flattens every postfix chain (`root.a(..).b(..).await?`) into a
//! [`Chain`] and asks [`recognize`]; the answer, an [`Op`], says which step runs
//! the query, through which executor, and the effects it has, with the argument
//! expressions of every filtered or written column so that `lower.rs` can compute
//! their data flow. All knowledge of client spelling stays in this folder.

pub(crate) mod diesel;
pub(crate) mod sea_orm;
pub(crate) mod sqlx;
pub(crate) mod tokio_postgres;

use std::path::PathBuf;

use syn::punctuated::Punctuated;
use syn::{Expr, ExprMethodCall, Token};

use crate::frontend::sql::SqlKind;
use crate::ir::remedy::Remedy;
use crate::ir::{Client, EffectKind, OnConflict, RowLock};

/// Which clients the file uses, from its text; a client is only recognized in a
/// file that names it, which keeps `set.insert(x)` from looking like SeaORM.
#[derive(Clone, Debug, Default)]
pub(crate) struct Features {
    pub sqlx: bool,
    pub diesel: bool,
    pub diesel_async: bool,
    pub sea_orm: bool,
    /// `tokio_postgres`, `deadpool_postgres`, `bb8_postgres`: async calls.
    pub tokio_postgres: bool,
    /// The sync `postgres` crate (or `r2d2_postgres`).
    pub postgres: bool,
    pub crate_root: Option<PathBuf>,
}

/// A file names one of these before any client is tried on it; the prefilter
/// skips files without them (see `frontend::may_have_effects`).
pub const TRIGGERS: &[&str] = &[
    "sqlx",
    "diesel",
    "sea_orm",
    "tokio_postgres",
    "deadpool_postgres",
    "bb8_postgres",
    "postgres::",
    "r2d2_postgres",
];

impl Features {
    pub fn detect(text: &str, crate_root: Option<PathBuf>) -> Self {
        let has = |s: &str| text.contains(s);
        Features {
            sqlx: has("sqlx"),
            diesel: has("diesel"),
            diesel_async: has("diesel_async"),
            sea_orm: has("sea_orm"),
            tokio_postgres: has("tokio_postgres")
                || has("deadpool_postgres")
                || has("bb8_postgres"),
            postgres: names_crate(text, "postgres") || has("r2d2_postgres"),
            crate_root,
        }
    }
}

/// Whether `text` names the crate `name` as a path root (`postgres::Client`,
/// `use postgres::{…}`), not a module of another crate (`sqlx::postgres::PgPool`)
/// or a longer name (`tokio_postgres::`).
fn names_crate(text: &str, name: &str) -> bool {
    let path = format!("{name}::");
    text.match_indices(&path).any(|(at, _)| {
        !text[..at]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':')
    })
}

/// One link of a postfix chain, in evaluation order.
#[derive(Clone, Copy)]
pub(crate) enum Step<'a> {
    Method(&'a ExprMethodCall),
    Await,
    Try(&'a syn::ExprTry),
    Field(&'a syn::ExprField),
}

impl<'a> Step<'a> {
    pub fn method(&self) -> Option<&'a ExprMethodCall> {
        match self {
            Step::Method(m) => Some(m),
            _ => None,
        }
    }
}

/// `root.step.step…`: the root is whatever is not a postfix expression (a path,
/// a call, a macro).
pub(crate) struct Chain<'a> {
    pub root: &'a Expr,
    pub steps: Vec<Step<'a>>,
}

impl<'a> Chain<'a> {
    pub fn flatten(mut e: &'a Expr) -> Self {
        let mut steps = Vec::new();
        loop {
            match e {
                Expr::MethodCall(m) => {
                    steps.push(Step::Method(m));
                    e = &m.receiver;
                }
                Expr::Await(a) => {
                    steps.push(Step::Await);
                    e = &a.base;
                }
                Expr::Try(t) => {
                    steps.push(Step::Try(t));
                    e = &t.expr;
                }
                Expr::Field(f) => {
                    steps.push(Step::Field(f));
                    e = &f.base;
                }
                _ => break,
            }
        }
        steps.reverse();
        Chain { root: e, steps }
    }

    /// The method called at step `i`, and its name.
    pub fn method(&self, i: usize) -> Option<(String, &'a ExprMethodCall)> {
        let m = self.steps.get(i)?.method()?;
        Some((m.method.to_string(), m))
    }

    /// Index of the first method step named one of `names`, from `from`.
    pub fn find(&self, from: usize, names: &[&str]) -> Option<usize> {
        (from..self.steps.len()).find(|&i| {
            self.method(i)
                .is_some_and(|(n, _)| names.contains(&n.as_str()))
        })
    }

    /// All method steps before `end`, as (name, call).
    pub fn methods_before(&self, end: usize) -> Vec<(String, &'a ExprMethodCall)> {
        (0..end.min(self.steps.len()))
            .filter_map(|i| self.method(i))
            .collect()
    }

    pub fn awaited_after(&self, i: usize) -> bool {
        matches!(self.steps.get(i + 1), Some(Step::Await))
    }
}

/// A column the query filters on or writes, with the code of its value.
#[derive(Clone, Debug, Default)]
pub(crate) struct FieldSpec {
    pub column: String,
    pub exprs: Vec<Expr>,
    pub atomic: bool,
    pub literal: bool,
    /// Text to show when there is no expression (a SQL literal, `DEFAULT`).
    pub text: Option<String>,
}

impl FieldSpec {
    pub fn new(column: impl Into<String>, exprs: Vec<Expr>) -> Self {
        FieldSpec {
            column: column.into(),
            exprs,
            ..Default::default()
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct EffectSpec {
    pub kind: EffectKind,
    pub table: Option<String>,
    pub filter: Vec<FieldSpec>,
    pub values: Vec<FieldSpec>,
    pub many: bool,
    pub on_conflict: OnConflict,
    pub row_lock: RowLock,
    pub tally: Option<crate::ir::Tally>,
    pub throws_if_missing: bool,
    /// A variable holding the record written (`am.insert(db)`, `.values(&new)`):
    /// its struct literal or field assignments give the table and values.
    pub model: Option<String>,
    /// Functions the SQL calls (`SELECT create_order($1)`), for the project's SQL functions.
    pub routines: Vec<String>,
}

impl EffectSpec {
    pub fn new(kind: EffectKind, table: Option<String>) -> Self {
        EffectSpec {
            kind,
            table,
            filter: Vec::new(),
            values: Vec::new(),
            many: false,
            on_conflict: OnConflict::None,
            row_lock: RowLock::None,
            tally: None,
            throws_if_missing: false,
            model: None,
            routines: Vec::new(),
        }
    }
}

pub(crate) enum OpKind {
    Effects(Vec<EffectSpec>),
    /// `pool.begin()`, `client.transaction()`: the binding becomes the handle.
    TxBegin {
        serializable: bool,
    },
    /// Raw `BEGIN` sent through a connection: the executor becomes the handle.
    SqlBegin {
        serializable: bool,
    },
    /// `tx.commit()`, `tx.rollback()`, raw `COMMIT`: ends the executor's transaction.
    TxEnd,
    /// `conn.transaction(|c| …)`: the closure at argument `closure` of the step
    /// runs inside a new transaction whose handle is its first parameter.
    TxCallback {
        closure: usize,
        serializable: bool,
    },
}

pub(crate) struct Op {
    pub client: Client,
    pub kind: OpKind,
    /// The step that runs the query.
    pub step: usize,
    /// The executor as written, normalized (`&mut *tx` → `tx`).
    pub executor: String,
    pub site: proc_macro2::Span,
    /// The call returns a future: not awaited means not run.
    pub is_async: bool,
    /// The result is the number of rows affected.
    pub counts: bool,
}

/// Asks each client in turn.
///
/// `sql_of` resolves an expression to SQL text: a literal, or a variable bound to
/// one or to a prepared statement in the same function.
pub(crate) fn recognize(
    features: &Features,
    chain: &Chain,
    sql_of: &dyn Fn(&Expr) -> Option<String>,
) -> Option<Op> {
    if features.sqlx {
        if let Some(op) = sqlx::recognize(features, chain) {
            return Some(op);
        }
    }
    if features.sea_orm {
        if let Some(op) = sea_orm::recognize(chain) {
            return Some(op);
        }
    }
    if features.tokio_postgres || features.postgres {
        if let Some(op) = tokio_postgres::recognize(features, chain, sql_of) {
            return Some(op);
        }
    }
    if features.diesel {
        if let Some(op) = diesel::recognize(features, chain) {
            return Some(op);
        }
    }
    None
}

pub(crate) fn suggest(client: Client, remedy: &Remedy) -> Option<String> {
    Some(match client {
        Client::Sqlx => sqlx::suggest(remedy),
        Client::Diesel => diesel::suggest(remedy),
        Client::SeaOrm => sea_orm::suggest(remedy),
        Client::TokioPostgres => tokio_postgres::suggest(remedy),
        _ => return None,
    })
}

/// The statements of `wrap` in the client's transaction, as code replacing them;
/// `None` when the client has no edit for them.
pub(crate) fn wrap(client: Client, wrap: &crate::ir::remedy::Wrap) -> Option<String> {
    match client {
        Client::Sqlx => sqlx::wrap(wrap),
        Client::Diesel => diesel::wrap(wrap),
        Client::SeaOrm => sea_orm::wrap(wrap),
        _ => None,
    }
}

/// The body with every argument that passes the handle (`(&self.pool)`,
/// `(pool)`, `(&mut conn)`) passing `to` instead; `None` when none did.
pub(crate) fn pass_instead(body: &str, handle: &str, to: &str) -> Option<String> {
    let base = handle
        .trim_start_matches('&')
        .trim_start_matches("mut ")
        .trim();
    let mut out = body.to_string();
    for form in [
        format!("(&mut *{base})"),
        format!("(&mut {base})"),
        format!("(&{base})"),
        format!("({base})"),
    ] {
        out = out.replace(&form, &format!("({to})"));
    }
    (out != body).then_some(out)
}

// ---- helpers shared by the clients ----

/// The executor or receiver as a reader names it: `&mut *tx` → `tx`,
/// `&self.pool` → `self.pool`, `tx.as_mut()` → `tx`, `state.db.clone()` → `state.db`,
/// `tx.acquire().await?` → `tx` (a transaction's connection is the transaction; a
/// pool's is still the pool's).
pub(crate) fn handle_text(e: &Expr) -> String {
    match e {
        Expr::Reference(r) => handle_text(&r.expr),
        Expr::Unary(u) if matches!(u.op, syn::UnOp::Deref(_)) => handle_text(&u.expr),
        Expr::Paren(p) => handle_text(&p.expr),
        Expr::Group(g) => handle_text(&g.expr),
        Expr::MethodCall(m)
            if m.args.is_empty()
                && matches!(
                    m.method.to_string().as_str(),
                    "acquire"
                        | "as_mut"
                        | "as_ref"
                        | "clone"
                        | "deref"
                        | "deref_mut"
                        | "get_mut"
                        | "get_ref"
                        | "borrow"
                        | "borrow_mut"
                        | "lock"
                        | "unwrap"
                ) =>
        {
            handle_text(&m.receiver)
        }
        Expr::Try(t) => handle_text(&t.expr),
        Expr::Await(a) => handle_text(&a.base),
        Expr::Path(p) => path_text(&p.path),
        Expr::Field(f) => {
            let member = match &f.member {
                syn::Member::Named(i) => i.to_string(),
                syn::Member::Unnamed(i) => i.index.to_string(),
            };
            format!("{}.{}", handle_text(&f.base), member)
        }
        _ => compact(&quote::ToTokens::to_token_stream(e).to_string()),
    }
}

pub(crate) fn path_text(p: &syn::Path) -> String {
    p.segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect::<Vec<_>>()
        .join("::")
}

/// Token text without the spaces `to_string` puts between tokens.
pub(crate) fn compact(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev_word = false;
    let mut pending_space = false;
    for ch in s.chars() {
        if ch == ' ' {
            pending_space = true;
            continue;
        }
        let word = ch.is_alphanumeric() || ch == '_' || ch == '"';
        if pending_space && prev_word && word {
            out.push(' ');
        }
        pending_space = false;
        prev_word = word;
        out.push(ch);
    }
    out
}

/// The value an ActiveModel field holds: `Set(x)`, `ActiveValue::Set(x)` → `x`.
pub(crate) fn set_inner(e: &Expr) -> &Expr {
    if let Expr::Call(c) = e {
        if let Expr::Path(p) = &*c.func {
            let last = p.path.segments.last().map(|s| s.ident.to_string());
            if matches!(last.as_deref(), Some("Set" | "Unchanged")) && c.args.len() == 1 {
                return &c.args[0];
            }
        }
    }
    e
}

/// The string of a literal, if `e` is one (`"SELECT …"`, `r#"…"#`).
pub(crate) fn str_lit(e: &Expr) -> Option<String> {
    match e {
        Expr::Lit(l) => match &l.lit {
            syn::Lit::Str(s) => Some(s.value()),
            _ => None,
        },
        Expr::Group(g) => str_lit(&g.expr),
        Expr::Paren(p) => str_lit(&p.expr),
        _ => None,
    }
}

pub(crate) fn is_literal(e: &Expr) -> bool {
    match e {
        Expr::Lit(_) => true,
        Expr::Unary(u) => is_literal(&u.expr),
        Expr::Reference(r) => is_literal(&r.expr),
        Expr::Paren(p) => is_literal(&p.expr),
        Expr::Path(p) => {
            // `true`-like constants and enum variants (`Status::Free`, `None`).
            let last = p.path.segments.last().map(|s| s.ident.to_string());
            p.path.segments.len() > 1
                || last
                    .is_some_and(|s| s == "None" || s.chars().all(|c| c.is_uppercase() || c == '_'))
        }
        Expr::Call(c) => {
            // `Set("free")`, `Some(0)`, `Status::Free("x")`.
            c.args.iter().all(is_literal) && !c.args.is_empty()
        }
        Expr::MethodCall(m) => {
            // `"free".to_string()`, `"x".into()`.
            m.args.is_empty() && is_literal(&m.receiver)
        }
        _ => false,
    }
}

/// The last segment of a path expression (`users::table` → `table`).
pub(crate) fn path_segments(e: &Expr) -> Option<Vec<String>> {
    match e {
        Expr::Path(p) => Some(
            p.path
                .segments
                .iter()
                .map(|s| s.ident.to_string())
                .collect(),
        ),
        Expr::Reference(r) => path_segments(&r.expr),
        Expr::Paren(p) => path_segments(&p.expr),
        _ => None,
    }
}

/// The comma-separated expressions of a macro body, if it is one.
pub(crate) fn macro_args(mac: &syn::Macro) -> Option<Vec<Expr>> {
    mac.parse_body_with(Punctuated::<Expr, Token![,]>::parse_terminated)
        .ok()
        .map(|p| p.into_iter().collect())
}

pub(crate) fn macro_name(mac: &syn::Macro) -> String {
    mac.path
        .segments
        .last()
        .map(|s| s.ident.to_string())
        .unwrap_or_default()
}

/// Lowers classified SQL statements to effect specs, mapping placeholder `n` to
/// `params[n - 1]`. Transaction control statements come back as `OpKind`s.
pub(crate) fn sql_op(sql: &str, params: &[Expr]) -> OpKind {
    let statements = crate::frontend::sql::classify(sql);
    let arg = |cols: &[crate::frontend::sql::SqlColumn]| -> Vec<FieldSpec> {
        cols.iter()
            .map(|c| FieldSpec {
                column: c.column.clone(),
                exprs: c
                    .params
                    .iter()
                    .filter_map(|&n| n.checked_sub(1).and_then(|i| params.get(i)).cloned())
                    .collect(),
                atomic: c.atomic,
                literal: c.literal,
                // A constant written in the SQL (`status = 'booked'`): its SQL text,
                // so that messages and fixes can show it.
                text: (c.literal && c.params.is_empty())
                    .then(|| sql_constant(sql, &c.column))
                    .flatten(),
            })
            .collect()
    };
    let mut specs = Vec::new();
    for st in &statements {
        let kind = match st.kind {
            SqlKind::Select => EffectKind::Read,
            SqlKind::Insert if st.on_conflict == OnConflict::DoUpdate => EffectKind::Upsert,
            SqlKind::Insert => EffectKind::Insert,
            SqlKind::Update => EffectKind::Update,
            SqlKind::Delete => EffectKind::Delete,
            SqlKind::Lock => EffectKind::Lock,
            SqlKind::Begin => {
                return OpKind::SqlBegin {
                    serializable: st.serializable,
                }
            }
            SqlKind::Commit | SqlKind::Rollback => return OpKind::TxEnd,
            SqlKind::Savepoint | SqlKind::Other => continue,
            SqlKind::Unparsed => EffectKind::Opaque,
        };
        let mut spec = EffectSpec::new(kind, st.table.clone());
        spec.filter = arg(&st.filter);
        spec.values = arg(&st.values);
        spec.on_conflict = st.on_conflict;
        spec.row_lock = st.row_lock;
        spec.tally.clone_from(&st.tally);
        spec.routines.clone_from(&st.calls);
        spec.many = (matches!(
            kind,
            EffectKind::Update | EffectKind::Delete | EffectKind::Read
        ) && st.filter.is_empty())
            || (kind == EffectKind::Read && st.aggregate);
        specs.push(spec);
    }
    if specs.is_empty() && statements.is_empty() {
        specs.push(EffectSpec::new(EffectKind::Opaque, None));
    }
    OpKind::Effects(specs)
}

/// The constant a SQL text gives `column` (`status = 'booked'` → `'booked'`,
/// `VALUES` excepted): the first `column = <constant>` in the text.
pub(crate) fn sql_constant(sql: &str, column: &str) -> Option<String> {
    let lower = sql.to_ascii_lowercase();
    let col = column.to_ascii_lowercase();
    let mut from = 0;
    while let Some(at) = lower[from..].find(&col) {
        let start = from + at;
        from = start + col.len();
        let before_ok = lower[..start]
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
        let rest = sql[from..].trim_start();
        let Some(value) = rest.strip_prefix('=') else {
            continue;
        };
        if !before_ok {
            continue;
        }
        let value = value.trim_start();
        if let Some(quoted) = value.strip_prefix('\'') {
            let end = quoted.find('\'')?;
            return Some(format!("'{}'", &quoted[..end]));
        }
        let end = value
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.' || c == '(' || c == ')'))
            .unwrap_or(value.len());
        let word = &value[..end];
        return (!word.is_empty() && !word.starts_with('$')).then(|| word.to_owned());
    }
    None
}

/// Whether a value's text is SQL already (a constant taken from the query), not
/// Rust code to bind: `'booked'`, `true`, `0`, `now()`.
pub(crate) fn is_sql_constant(v: &str) -> bool {
    let l = v.to_ascii_lowercase();
    v.starts_with('\'')
        || matches!(
            l.as_str(),
            "true" | "false" | "null" | "now()" | "current_timestamp"
        )
        || (!v.is_empty() && v.chars().all(|c| c.is_ascii_digit() || c == '.'))
}

/// Renders a `(column, value)` list as `a = $1, b = 'x'` style SQL: Rust values get
/// numbered placeholders starting at `first`, SQL constants stay inline.
pub(crate) fn sql_assign(cols: &[(String, String)], first: usize, sep: &str) -> String {
    sql_assign_args(cols, first, sep).0
}

/// Like [`sql_assign`], also returning the Rust values to bind, in placeholder
/// order, and the next placeholder number.
pub(crate) fn sql_assign_args<'a>(
    cols: &'a [(String, String)],
    first: usize,
    sep: &str,
) -> (String, Vec<&'a str>, usize) {
    let mut next = first;
    let mut args = Vec::new();
    let parts: Vec<String> = cols
        .iter()
        .map(|(c, v)| {
            if is_sql_constant(v) {
                format!("{c} = {v}")
            } else {
                args.push(v.as_str());
                next += 1;
                format!("{c} = ${}", next - 1)
            }
        })
        .collect();
    (parts.join(sep), args, next)
}

pub(crate) fn names(cols: &[(String, String)]) -> Vec<&str> {
    cols.iter().map(|(c, _)| c.as_str()).collect()
}

pub(crate) fn code_values(cols: &[(String, String)]) -> Vec<&str> {
    cols.iter().map(|(_, v)| v.as_str()).collect()
}

/// For an atomic rewrite of `column = <computed in code>`: the operator and the
/// change, read from the code (`acct.balance - amount` → `-`, `amount`), and a
/// note to put above the code when it could not be told.
pub(crate) fn atomic_delta(
    target: &crate::ir::remedy::Target,
    column: &str,
) -> (char, String, String) {
    let value = target
        .values
        .iter()
        .find(|(c, _)| c == column)
        .map(|(_, v)| v.as_str())
        .unwrap_or("");
    for op in ['-', '+'] {
        let sep = format!(" {op} ");
        if let Some((left, right)) = value.split_once(&sep) {
            let left = left.trim().trim_start_matches('(');
            let names_column = left == column
                || left.ends_with(&format!(".{column}"))
                || left.ends_with(&format!("::{column}"));
            if names_column && !right.contains(&sep) {
                return (
                    op,
                    right.trim().trim_end_matches(')').to_owned(),
                    String::new(),
                );
            }
        }
    }
    (
        '+',
        "delta".to_owned(),
        "// `delta`: the change your code computes (negative to subtract)\n".to_owned(),
    )
}

/// The handle with the borrow a call needs: `pool` → `&pool`, already borrowed stays.
pub(crate) fn borrowed(handle: &str) -> String {
    if handle.starts_with('&') || handle.is_empty() {
        handle.to_owned()
    } else {
        format!("&{handle}")
    }
}

/// The runtime's sleeps, by path: a call to one is a fixed wait, not database work.
const SLEEPS: &[&str] = &[
    "tokio::time::sleep",
    "std::thread::sleep",
    "async_std::task::sleep",
    "actix_rt::time::sleep",
    "smol::Timer::after",
];

/// `tokio::time::sleep(d)`, `time::sleep(d)` or `sleep(d)` through a `use`, `thread::sleep`.
pub fn is_sleep(written: &str, qualified: &[String]) -> bool {
    SLEEPS.contains(&written)
        || qualified.iter().any(|q| SLEEPS.contains(&q.as_str()))
        || matches!(written, "thread::sleep" | "time::sleep")
}
