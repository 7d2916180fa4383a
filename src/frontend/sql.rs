//! SQL text → the statements it runs, for every frontend.
//!
//! Raw SQL reaches racelint through Prisma's `$queryRaw`, tagged `sql` templates,
//! node-postgres `query`, sqlx `query!`, Diesel `sql_query`, tokio-postgres and
//! migrations. This module parses it with `sqlparser` (PostgreSQL dialect, falling
//! back to the generic and MySQL ones) and says, per statement, what kind it is,
//! which table it touches, which columns its `WHERE` constrains and which it sets,
//! and whether it locks, upserts or is computed atomically. Placeholders are
//! reported by number (`$2` → 2, the n-th `?` → n) so that frontends can map them
//! to the argument expressions.
//! It never panics and its work is bounded: text it cannot parse, or will not
//! (over 1 MiB, pathologically deep), comes back as [`SqlKind::Unparsed`].

use sqlparser::ast::{
    AccessExpr, Assignment, AssignmentTarget, BinaryOperator, Delete, Expr, FromTable, Function,
    FunctionArg, FunctionArgExpr, FunctionArguments, GroupByExpr, Ident, InTarget, Insert,
    LimitClause, LockClause, LockType, Merge, MergeAction, MergeInsertKind, ObjectName,
    ObjectNamePart, OnConflictAction, OnInsert, Query, Select, SelectItem, Set, SetExpr,
    SqliteOnConflict, Statement, Subscript, TableFactor, TableObject, TransactionIsolationLevel,
    TransactionMode, UnaryOperator, Update, Value, With,
};
use sqlparser::dialect::{Dialect, GenericDialect, MySqlDialect, PostgreSqlDialect};
use sqlparser::keywords::Keyword;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, Tokenizer, Whitespace};

use crate::ir::{OnConflict, RowLock, Tally};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SqlKind {
    Select,
    Insert,
    Update,
    Delete,
    Begin,
    Commit,
    Rollback,
    /// `SAVEPOINT`, `RELEASE SAVEPOINT`: inside an existing transaction, no new scope.
    Savepoint,
    /// `pg_advisory_lock`, `pg_advisory_xact_lock`, `pg_try_advisory_xact_lock`, `LOCK TABLE`.
    Lock,
    /// Parsed, but not a data or transaction statement (DDL, `SET`, `SHOW`, …).
    Other,
    /// Not SQL racelint could parse.
    Unparsed,
}

/// A column of a `WHERE`, `SET` or `VALUES` clause and what its value is made of.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SqlColumn {
    /// Unqualified, unquoted, as written (`balance`, `user_id`).
    pub column: String,
    /// 1-based placeholder numbers in the value (`$2` → 2; the n-th `?` → n).
    pub params: Vec<usize>,
    /// `SET balance = balance - $1`: the new value is computed from the current row.
    pub atomic: bool,
    /// A constant (`'free'`, `true`, `NULL`, `now()`).
    pub literal: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqlStatement {
    pub kind: SqlKind,
    /// The main table, unquoted, without schema prefix.
    pub table: Option<String>,
    pub filter: Vec<SqlColumn>,
    pub values: Vec<SqlColumn>,
    /// `ON CONFLICT … DO UPDATE SET`'s columns, `EXCLUDED.x` standing for what the
    /// insert gave `x`; `None` when the statement has no such part.
    pub conflict_set: Option<Vec<SqlColumn>>,
    pub on_conflict: OnConflict,
    pub row_lock: RowLock,
    /// `BEGIN ISOLATION LEVEL SERIALIZABLE` / `SET TRANSACTION ISOLATION LEVEL SERIALIZABLE`.
    pub serializable: bool,
    /// Has a `RETURNING` clause.
    pub returning: bool,
    /// A `SELECT` of aggregates only (`count(*)`, `sum(amount)`) without `GROUP BY`:
    /// one row summing up any number of them.
    pub aggregate: bool,
    /// What a select counts or maxes: `SELECT count(*)`, `SELECT max(number)`,
    /// `SELECT number … ORDER BY number DESC LIMIT 1`.
    pub tally: Option<Tally>,
    /// For an advisory lock ([`SqlKind::Lock`] with no table): the function called,
    /// lowercased, in `column` (`pg_advisory_xact_lock`, `pg_try_advisory_lock`, …,
    /// which tells a transaction-scoped lock from a session one and a `try` from a
    /// wait), and in `params`/`literal` what the key is made of.
    pub lock_key: Option<SqlColumn>,
    /// Functions the statement calls for their result, lowercased, without schema:
    /// in a `FROM`-less select list (`SELECT create_card($1)`), as the table of
    /// `FROM` (`SELECT * FROM create_card($1)`), or by `CALL`. Builtins too: the
    /// project decides which of them are its own SQL functions.
    pub calls: Vec<String>,
}

impl SqlStatement {
    pub fn new(kind: SqlKind) -> Self {
        SqlStatement {
            kind,
            table: None,
            filter: Vec::new(),
            values: Vec::new(),
            conflict_set: None,
            on_conflict: OnConflict::None,
            row_lock: RowLock::None,
            serializable: false,
            returning: false,
            aggregate: false,
            tally: None,
            lock_key: None,
            calls: Vec::new(),
        }
    }
}

/// Classifies every statement in `sql`, in order; data-modifying CTEs come before
/// the statement that holds them.
///
/// Empty text and text made only of comments give an empty `Vec`; text no dialect
/// parses gives exactly one [`SqlKind::Unparsed`] statement. When some statements of
/// a script parse and others do not, each unparsable one becomes its own `Unparsed`
/// entry so that the rest are not lost.
pub fn classify(sql: &str) -> Vec<SqlStatement> {
    if sql.len() > MAX_SQL_BYTES {
        return vec![SqlStatement::new(SqlKind::Unparsed)];
    }
    let dialects: [&dyn Dialect; 3] = [&PostgreSqlDialect {}, &GenericDialect {}, &MySqlDialect {}];
    let mut tokenized: Vec<(&dyn Dialect, Vec<Token>)> = Vec::new();
    for dialect in dialects {
        let Some(tokens) = tokenize(dialect, sql) else {
            continue;
        };
        if tokens.iter().all(is_trivia) {
            return Vec::new();
        }
        if too_long_a_chain(&tokens) {
            return vec![SqlStatement::new(SqlKind::Unparsed)];
        }
        // Most SQL is Postgres and parses here: the other dialects are not even
        // tokenized then.
        if let Some(statements) = parse(dialect, &tokens, false) {
            return lower_all(&statements);
        }
        tokenized.push((dialect, tokens));
    }
    // Placeholders become names only once every dialect has failed on the text as
    // it is: that rewrite rescues a `$1` standing where SQL wants a name
    // (`FROM ${table}`) and must not win over a real parse.
    for (dialect, tokens) in &tokenized {
        if let Some(statements) = parse(*dialect, tokens, true) {
            return lower_all(&statements);
        }
    }
    // One bad statement (a dialect-specific DDL, a function body) must not hide
    // the others: retry statement by statement and keep the dialect that reads most.
    let mut best: Option<Vec<Option<Vec<Statement>>>> = None;
    let mut best_score = 0;
    for (dialect, tokens) in &tokenized {
        let pieces: Vec<Option<Vec<Statement>>> = split_statements(tokens)
            .into_iter()
            .filter(|piece| !piece.iter().all(is_trivia))
            .map(|piece| parse(*dialect, piece, false).or_else(|| parse(*dialect, piece, true)))
            .collect();
        let score = pieces.iter().filter(|p| p.is_some()).count();
        if score > best_score {
            best_score = score;
            best = Some(pieces);
        }
    }
    let Some(pieces) = best else {
        return vec![SqlStatement::new(SqlKind::Unparsed)];
    };
    let mut out = Vec::new();
    for piece in pieces {
        match piece {
            Some(statements) => out.extend(lower_all(&statements)),
            None => out.push(SqlStatement::new(SqlKind::Unparsed)),
        }
    }
    out
}

/// Above this, the text is not a query written by hand; parsing it would only cost time.
const MAX_SQL_BYTES: usize = 1 << 20;

/// sqlparser's own default (50) is a little tight for generated SQL with nested
/// subqueries; every level also costs a stack frame in our walk and in `Drop`.
const RECURSION_LIMIT: usize = 64;

/// sqlparser builds `a + b + c …` and `x = 1 OR x = 2 OR …` in a loop, not by
/// recursion, so its recursion limit does not bound how deep the tree gets; but
/// dropping that tree recurses once per operator. A run of this many tokens at one
/// bracket level with no comma between is far beyond hand-written SQL.
const MAX_CHAIN_TOKENS: usize = 4096;

/// How deep the walk of one value expression goes before it gives up and calls the
/// value opaque; real expressions are a handful of levels deep.
const MAX_EXPR_DEPTH: usize = 128;

/// A placeholder rewritten into a name carries its number after this prefix.
const PARAM_NAME: &str = "__racelint_param_";

fn tokenize(dialect: &dyn Dialect, sql: &str) -> Option<Vec<Token>> {
    let tokens = Tokenizer::new(dialect, sql).tokenize().ok()?;
    let mut out: Vec<Token> = Vec::with_capacity(tokens.len());
    let mut question = 0;
    for token in tokens {
        match token {
            // The n-th `?` is parameter n; numbering it here keeps the number
            // attached whatever order the tree is later walked in.
            Token::Placeholder(p) if p == "?" => {
                question += 1;
                out.push(Token::Placeholder(format!("?{question}")));
            }
            // sqlparser knows only `FOR UPDATE` and `FOR SHARE`; Postgres' weaker
            // `FOR NO KEY UPDATE` and `FOR KEY SHARE` lock the same row for our
            // purpose, so drop the qualifier rather than fail the whole statement.
            Token::Word(ref w)
                if w.quote_style.is_none()
                    && (w.keyword == Keyword::UPDATE || w.keyword == Keyword::SHARE) =>
            {
                strip_lock_strength(&mut out, w.keyword);
                out.push(token);
            }
            other => out.push(other),
        }
    }
    Some(out)
}

/// Removes `NO KEY` (before `UPDATE`) or `KEY` (before `SHARE`) when they follow `FOR`.
fn strip_lock_strength(out: &mut Vec<Token>, next: Keyword) {
    let words: &[Keyword] = if next == Keyword::UPDATE {
        &[Keyword::FOR, Keyword::NO, Keyword::KEY]
    } else {
        &[Keyword::FOR, Keyword::KEY]
    };
    let mut positions = Vec::with_capacity(words.len());
    let mut i = out.len();
    for expected in words.iter().rev() {
        while i > 0 && is_trivia(&out[i - 1]) {
            i -= 1;
        }
        if i == 0 {
            return;
        }
        match &out[i - 1] {
            Token::Word(w) if w.quote_style.is_none() && w.keyword == *expected => {
                i -= 1;
                positions.push(i);
            }
            _ => return,
        }
    }
    // `positions` runs from the last keyword back to `FOR`; keep `FOR`.
    let for_at = positions[positions.len() - 1];
    out.truncate(for_at + 1);
    out.push(Token::Whitespace(Whitespace::Space));
}

fn is_trivia(token: &Token) -> bool {
    matches!(token, Token::Whitespace(_) | Token::EOF)
}

fn too_long_a_chain(tokens: &[Token]) -> bool {
    let mut runs: Vec<usize> = vec![0];
    for token in tokens {
        match token {
            Token::LParen | Token::LBracket | Token::LBrace => runs.push(0),
            Token::RParen | Token::RBracket | Token::RBrace => {
                if runs.len() > 1 {
                    runs.pop();
                }
            }
            Token::Comma | Token::SemiColon => {
                if let Some(run) = runs.last_mut() {
                    *run = 0;
                }
            }
            t if is_trivia(t) => {}
            _ => {
                if let Some(run) = runs.last_mut() {
                    *run += 1;
                    if *run > MAX_CHAIN_TOKENS {
                        return true;
                    }
                }
            }
        }
    }
    false
}

fn parse(dialect: &dyn Dialect, tokens: &[Token], params_as_names: bool) -> Option<Vec<Statement>> {
    let mut tokens = tokens.to_vec();
    if params_as_names {
        let mut changed = false;
        for token in &mut tokens {
            if let Token::Placeholder(p) = token {
                if let Some(n) = placeholder_number(p) {
                    *token = Token::make_word(&format!("{PARAM_NAME}{n}"), None);
                    changed = true;
                }
            }
        }
        if !changed {
            return None;
        }
    }
    Parser::new(dialect)
        .with_recursion_limit(RECURSION_LIMIT)
        .with_tokens(tokens)
        .parse_statements()
        .ok()
}

/// Cuts a script at the `;` outside brackets (a `$$ … $$` body is one token already).
fn split_statements(tokens: &[Token]) -> Vec<&[Token]> {
    let mut pieces = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, token) in tokens.iter().enumerate() {
        match token {
            Token::LParen => depth += 1,
            Token::RParen => depth = depth.saturating_sub(1),
            Token::SemiColon if depth == 0 => {
                pieces.push(&tokens[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    pieces.push(&tokens[start..]);
    pieces
}

fn placeholder_number(p: &str) -> Option<usize> {
    let digits = p.strip_prefix('$').or_else(|| p.strip_prefix('?'))?;
    digits.parse().ok().filter(|n| *n > 0)
}

fn lower_all(statements: &[Statement]) -> Vec<SqlStatement> {
    let mut out = Vec::new();
    for statement in statements {
        lower_statement(statement, &mut out);
    }
    out
}

fn lower_statement(statement: &Statement, out: &mut Vec<SqlStatement>) {
    match statement {
        Statement::Query(query) => lower_query(query, out),
        Statement::Insert(insert) => lower_insert(insert, out),
        Statement::Update(update) => lower_update(update, out),
        Statement::Delete(delete) => lower_delete(delete, out),
        Statement::Merge(merge) => lower_merge(merge, out),
        Statement::StartTransaction { modes, .. } => {
            let mut s = SqlStatement::new(SqlKind::Begin);
            s.serializable = is_serializable(modes);
            out.push(s);
        }
        Statement::Commit { .. } => out.push(SqlStatement::new(SqlKind::Commit)),
        Statement::Rollback { savepoint, .. } => {
            out.push(SqlStatement::new(if savepoint.is_some() {
                SqlKind::Savepoint
            } else {
                SqlKind::Rollback
            }))
        }
        Statement::Savepoint { .. } | Statement::ReleaseSavepoint { .. } => {
            out.push(SqlStatement::new(SqlKind::Savepoint))
        }
        Statement::Set(Set::SetTransaction { modes, .. }) => {
            let mut s = SqlStatement::new(SqlKind::Other);
            s.serializable = is_serializable(modes);
            out.push(s);
        }
        Statement::Lock(lock) => {
            let mut s = SqlStatement::new(SqlKind::Lock);
            s.table = lock.tables.first().and_then(|t| table_name(&t.name));
            out.push(s);
        }
        Statement::Call(function) => {
            let mut s = SqlStatement::new(SqlKind::Select);
            let mut info = ValueInfo::default();
            scan_function(function, 0, &mut info);
            s.calls = info.functions;
            out.push(s);
        }
        Statement::LockTables { tables } => {
            let mut s = SqlStatement::new(SqlKind::Lock);
            s.table = tables.first().map(|t| t.table.value.clone());
            out.push(s);
        }
        _ => out.push(SqlStatement::new(SqlKind::Other)),
    }
}

fn is_serializable(modes: &[TransactionMode]) -> bool {
    modes.iter().any(|m| {
        matches!(
            m,
            TransactionMode::IsolationLevel(TransactionIsolationLevel::Serializable)
        )
    })
}

/// The data-modifying CTEs of `with`, innermost first, as statements of their own.
fn lower_modifying_ctes(with: &Option<With>, out: &mut Vec<SqlStatement>) {
    let Some(with) = with else { return };
    for cte in &with.cte_tables {
        lower_modifying_ctes(&cte.query.with, out);
        if let SetExpr::Insert(s) | SetExpr::Update(s) | SetExpr::Delete(s) | SetExpr::Merge(s) =
            cte.query.body.as_ref()
        {
            lower_statement(s, out);
        }
    }
}

fn lower_query(query: &Query, out: &mut Vec<SqlStatement>) {
    lower_modifying_ctes(&query.with, out);
    match query.body.as_ref() {
        SetExpr::Insert(s) | SetExpr::Update(s) | SetExpr::Delete(s) | SetExpr::Merge(s) => {
            lower_statement(s, out);
            return;
        }
        SetExpr::Values(_) => {
            out.push(SqlStatement::new(SqlKind::Other));
            return;
        }
        _ => {}
    }
    if reads_catalog(query, 0) {
        // `SELECT … FROM pg_stat_activity`, `information_schema.tables`: the server
        // describing itself, not rows the application reads and acts on.
        out.push(SqlStatement::new(SqlKind::Other));
        return;
    }
    let mut s = SqlStatement::new(SqlKind::Select);
    s.table = query_table(query, 0);
    s.row_lock = row_lock(&query.locks);
    if let Some(select) = first_select(&query.body, 0) {
        if let Some(selection) = &select.selection {
            s.filter = filter_columns(selection);
        }
        s.aggregate = aggregates_only(select);
        s.tally = tally(query, select);
        if let Some(TableFactor::Table {
            name,
            args: Some(_),
            ..
        }) = select.from.first().map(|f| &f.relation)
        {
            // `FROM fn(…)`: a set-returning function, not a table.
            s.table = None;
            s.calls
                .extend(table_name(name).map(|n| n.to_ascii_lowercase()));
        }
        if select.from.is_empty() {
            s.calls.extend(called_functions(&select.projection));
        }
        if let Some(lock) = advisory_lock(&select.projection) {
            s.kind = SqlKind::Lock;
            s.table = None;
            s.lock_key = Some(lock);
        } else if select.from.is_empty() {
            // `SELECT EXISTS(SELECT 1 FROM users WHERE name = $1)`, `SELECT (SELECT
            // count(*) FROM t WHERE …)`: the read is the subquery's.
            if let Some(inner) = projected_subquery(&select.projection) {
                s.table = query_table(inner, 1);
                s.row_lock = row_lock(&inner.locks);
                if let Some(selection) =
                    first_select(&inner.body, 0).and_then(|i| i.selection.as_ref())
                {
                    s.filter = filter_columns(selection);
                }
            }
        }
    }
    out.push(s);
}

/// Whether every item of the select list is an aggregate call and nothing is grouped.
fn aggregates_only(select: &Select) -> bool {
    const AGGREGATES: [&str; 5] = ["count", "sum", "avg", "min", "max"];
    let grouped = match &select.group_by {
        GroupByExpr::All(_) => true,
        GroupByExpr::Expressions(exprs, _) => !exprs.is_empty(),
    };
    !grouped
        && !select.projection.is_empty()
        && select.projection.iter().all(|item| match item {
            SelectItem::UnnamedExpr(Expr::Function(f))
            | SelectItem::ExprWithAlias {
                expr: Expr::Function(f),
                ..
            } => f.name.0.last().is_some_and(|part| {
                AGGREGATES.contains(&part.to_string().to_ascii_lowercase().as_str())
            }),
            _ => false,
        })
}

/// What a select tallies: one `count(…)` or `max(col)` (`coalesce(max(col), 0)`
/// too), or one column of the top row in that column's descending order.
fn tally(query: &Query, select: &Select) -> Option<Tally> {
    let [item] = select.projection.as_slice() else {
        return None;
    };
    let expr = match item {
        SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => e,
        _ => return None,
    };
    let grouped = match &select.group_by {
        GroupByExpr::All(_) => true,
        GroupByExpr::Expressions(exprs, _) => !exprs.is_empty(),
    };
    if grouped {
        return None;
    }
    if let Some(t) = tally_call(expr, 0) {
        return Some(t);
    }
    let selected = expr_column(expr)?;
    let order = query.order_by.as_ref()?;
    let sqlparser::ast::OrderByKind::Expressions(exprs) = &order.kind else {
        return None;
    };
    let first = exprs.first()?;
    let descending = matches!(first.options.sort, Some(sqlparser::ast::OrderBySort::Desc));
    let limited = matches!(
        &query.limit_clause,
        Some(LimitClause::LimitOffset { limit: Some(Expr::Value(v)), offset: None, .. })
            if v.value.to_string() == "1"
    );
    (descending && limited && expr_column(&first.expr).as_deref() == Some(selected.as_str()))
        .then(|| Tally::max(selected))
}

fn tally_call(expr: &Expr, depth: usize) -> Option<Tally> {
    if depth > 4 {
        return None;
    }
    match expr {
        Expr::Nested(e) => tally_call(e, depth + 1),
        Expr::Cast { expr, .. } => tally_call(expr, depth + 1),
        Expr::BinaryOp { left, .. } => tally_call(left, depth + 1),
        Expr::Function(f) => {
            let name = f.name.0.last()?.to_string().to_ascii_lowercase();
            let FunctionArguments::List(list) = &f.args else {
                return None;
            };
            let first = list.args.first();
            let arg = match first {
                Some(FunctionArg::Unnamed(FunctionArgExpr::Expr(e))) => Some(e),
                _ => None,
            };
            match name.as_str() {
                "count" => Some(Tally::count()),
                "max" => Some(Tally::max(expr_column(arg?)?)),
                "coalesce" | "ifnull" | "nullif" => tally_call(arg?, depth + 1),
                _ => None,
            }
        }
        _ => None,
    }
}

/// The column an expression is, unqualified: `number`, `i.number`.
fn expr_column(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Identifier(ident) => column_name(ident),
        Expr::CompoundIdentifier(parts) => parts.last().and_then(column_name),
        Expr::Nested(e) => expr_column(e),
        _ => None,
    }
}

/// The one subquery a `FROM`-less select list is made of: `EXISTS(…)`,
/// `NOT EXISTS(…)`, `(SELECT …)`.
fn projected_subquery(projection: &[SelectItem]) -> Option<&Query> {
    let [item] = projection else { return None };
    let mut expr = match item {
        SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => e,
        _ => return None,
    };
    loop {
        match expr {
            Expr::Nested(e) => expr = e,
            Expr::UnaryOp { expr: e, .. } => expr = e,
            Expr::Exists { subquery, .. } | Expr::Subquery(subquery) => return Some(subquery),
            _ => return None,
        }
    }
}

fn row_lock(locks: &[LockClause]) -> RowLock {
    let mut lock = RowLock::None;
    for clause in locks {
        match clause.lock_type {
            LockType::Update => return RowLock::Exclusive,
            LockType::Share => lock = RowLock::Shared,
        }
    }
    lock
}

/// The left-most `SELECT` of a set operation or a parenthesised query.
fn first_select(body: &SetExpr, depth: usize) -> Option<&Select> {
    if depth > MAX_EXPR_DEPTH {
        return None;
    }
    match body {
        SetExpr::Select(select) => Some(select),
        SetExpr::Query(query) => first_select(&query.body, depth + 1),
        SetExpr::SetOperation { left, .. } => first_select(left, depth + 1),
        _ => None,
    }
}

/// The table a query reads first, seen through read-only CTEs and derived tables
/// (`WITH x AS (SELECT … FROM t) SELECT … FROM x` reads `t`).
fn query_table(query: &Query, depth: usize) -> Option<String> {
    if depth > MAX_EXPR_DEPTH {
        return None;
    }
    match query.body.as_ref() {
        SetExpr::Table(table) => return table.table_name.as_ref().map(|t| t.value.clone()),
        SetExpr::Query(inner) => return query_table(inner, depth + 1),
        _ => {}
    }
    let select = first_select(&query.body, 0)?;
    let relation = &select.from.first()?.relation;
    match relation {
        TableFactor::Table { name, .. } => {
            let table = table_name(name)?;
            if name.0.len() == 1 {
                let cte = query
                    .with
                    .as_ref()
                    .and_then(|w| w.cte_tables.iter().find(|c| c.alias.name.value == table));
                if let Some(cte) = cte {
                    return match cte.query.body.as_ref() {
                        SetExpr::Insert(s) | SetExpr::Update(s) | SetExpr::Delete(s) => {
                            statement_table(s)
                        }
                        _ => query_table(&cte.query, depth + 1),
                    };
                }
            }
            Some(table)
        }
        TableFactor::Derived { subquery, .. } => query_table(subquery, depth + 1),
        _ => None,
    }
}

/// Whether a query reads a system catalog or statistics view first (where
/// [`query_table`] would look): `pg_catalog.*`, `information_schema.*`, an
/// unqualified `pg_*` relation (`pg_stat_activity`, `pg_locks`), SQLite's
/// `sqlite_master`, MySQL's `performance_schema`.
fn reads_catalog(query: &Query, depth: usize) -> bool {
    if depth > MAX_EXPR_DEPTH {
        return false;
    }
    let Some(select) = first_select(&query.body, 0) else {
        return false;
    };
    match select.from.first().map(|f| &f.relation) {
        Some(TableFactor::Table { name, .. }) => is_catalog(name),
        Some(TableFactor::Derived { subquery, .. }) => reads_catalog(subquery, depth + 1),
        Some(_) => false,
        None => projected_subquery(&select.projection).is_some_and(|q| reads_catalog(q, depth + 1)),
    }
}

fn is_catalog(name: &ObjectName) -> bool {
    let parts: Vec<String> = name
        .0
        .iter()
        .map(|p| p.to_string().trim_matches(['"', '`']).to_ascii_lowercase())
        .collect();
    match parts.as_slice() {
        [.., schema, _]
            if matches!(
                schema.as_str(),
                "pg_catalog" | "information_schema" | "performance_schema"
            ) =>
        {
            true
        }
        [table] => table.starts_with("pg_") || table == "sqlite_master" || table == "sqlite_schema",
        _ => false,
    }
}

fn statement_table(statement: &Statement) -> Option<String> {
    let mut out = Vec::new();
    lower_statement(statement, &mut out);
    out.pop().and_then(|s| s.table)
}

/// `SELECT pg_advisory_xact_lock(hashtext($1))`, wherever the call sits in the
/// select list (`SELECT CASE WHEN pg_try_advisory_lock(…) …` too).
fn advisory_lock(projection: &[SelectItem]) -> Option<SqlColumn> {
    for item in projection {
        let expr = match item {
            SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => e,
            _ => continue,
        };
        let mut info = ValueInfo::default();
        scan_expr(expr, 0, &mut info);
        if let Some(lock) = info.advisory {
            return Some(lock);
        }
    }
    None
}

/// The functions a select list calls, outermost first.
fn called_functions(projection: &[SelectItem]) -> Vec<String> {
    let mut info = ValueInfo::default();
    for item in projection {
        if let SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } = item {
            scan_expr(e, 0, &mut info);
        }
    }
    info.functions
}

const ADVISORY_LOCKS: [&str; 8] = [
    "pg_advisory_lock",
    "pg_advisory_xact_lock",
    "pg_try_advisory_lock",
    "pg_try_advisory_xact_lock",
    "pg_advisory_lock_shared",
    "pg_advisory_xact_lock_shared",
    "pg_try_advisory_lock_shared",
    "pg_try_advisory_xact_lock_shared",
];

fn lower_insert(insert: &Insert, out: &mut Vec<SqlStatement>) {
    if let Some(source) = &insert.source {
        lower_modifying_ctes(&source.with, out);
    }
    let mut s = SqlStatement::new(SqlKind::Insert);
    if let TableObject::TableName(name) = &insert.table {
        s.table = table_name(name);
    }
    s.returning = insert.returning.is_some();
    s.on_conflict = match &insert.on {
        Some(OnInsert::DuplicateKeyUpdate(_)) => OnConflict::DoUpdate,
        Some(OnInsert::OnConflict(c)) => match c.action {
            OnConflictAction::DoNothing => OnConflict::DoNothing,
            OnConflictAction::DoUpdate(_) => OnConflict::DoUpdate,
        },
        _ => OnConflict::None,
    };
    if insert.ignore || matches!(insert.or, Some(SqliteOnConflict::Ignore)) {
        s.on_conflict = OnConflict::DoNothing;
    }
    // `REPLACE INTO` and SQLite's `INSERT OR REPLACE` overwrite the existing row:
    // to a race, that is an upsert.
    if insert.replace_into || matches!(insert.or, Some(SqliteOnConflict::Replace)) {
        s.on_conflict = OnConflict::DoUpdate;
    }
    let columns: Vec<String> = insert.columns.iter().filter_map(table_name).collect();
    if !insert.assignments.is_empty() {
        s.values = set_columns(&insert.assignments, false);
    } else if let Some(source) = &insert.source {
        let row: Vec<&Expr> = match source.body.as_ref() {
            SetExpr::Values(values) => values
                .rows
                .first()
                .map(|row| row.content.iter().collect())
                .unwrap_or_default(),
            SetExpr::Select(select) => select
                .projection
                .iter()
                .map_while(|item| match item {
                    SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => {
                        Some(e)
                    }
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        s.values = columns
            .into_iter()
            .zip(row)
            .map(|(column, expr)| {
                let info = ValueInfo::of(expr);
                SqlColumn {
                    column,
                    literal: info.is_literal(),
                    params: info.params,
                    atomic: false,
                }
            })
            .collect();
    }
    let update_set = match &insert.on {
        Some(OnInsert::OnConflict(c)) => match &c.action {
            OnConflictAction::DoUpdate(update) => Some(&update.assignments[..]),
            OnConflictAction::DoNothing => None,
        },
        Some(OnInsert::DuplicateKeyUpdate(assignments)) => Some(&assignments[..]),
        _ => None,
    };
    if let Some(assignments) = update_set {
        s.conflict_set = Some(conflict_set(assignments, &s.values));
    }
    out.push(s);
}

/// `DO UPDATE SET tags = EXCLUDED.tags, count = t.count + EXCLUDED.count`: a value
/// that is only `EXCLUDED.x` (MySQL `VALUES(x)`) is what the insert gave `x`; one
/// that also reads the row's own columns is computed by the database.
fn conflict_set(assignments: &[Assignment], inserted: &[SqlColumn]) -> Vec<SqlColumn> {
    let excluded = |expr: &Expr| -> Option<String> {
        match expr {
            Expr::CompoundIdentifier(parts)
                if parts.len() == 2 && parts[0].value.eq_ignore_ascii_case("excluded") =>
            {
                Some(parts[1].value.clone())
            }
            Expr::Function(f) if f.name.to_string().eq_ignore_ascii_case("values") => {
                let text = f.args.to_string();
                Some(
                    text.trim_matches(|c| c == '(' || c == ')')
                        .trim()
                        .to_string(),
                )
            }
            _ => None,
        }
    };
    let mut columns = set_columns(assignments, true);
    for (column, assignment) in columns.iter_mut().zip(assignments) {
        if let Some(source) = excluded(&assignment.value) {
            if let Some(from) = inserted
                .iter()
                .find(|c| c.column.eq_ignore_ascii_case(&source))
            {
                *column = SqlColumn {
                    column: column.column.clone(),
                    ..from.clone()
                };
            }
        }
    }
    columns
}

fn lower_update(update: &Update, out: &mut Vec<SqlStatement>) {
    let mut s = SqlStatement::new(SqlKind::Update);
    s.table = relation_table(&update.table.relation);
    s.values = set_columns(&update.assignments, true);
    if let Some(selection) = &update.selection {
        s.filter = filter_columns(selection);
    }
    s.returning = update.returning.is_some();
    out.push(s);
}

fn lower_delete(delete: &Delete, out: &mut Vec<SqlStatement>) {
    let mut s = SqlStatement::new(SqlKind::Delete);
    s.table = match delete.tables.first() {
        Some(name) => table_name(name),
        None => {
            let (FromTable::WithFromKeyword(from) | FromTable::WithoutKeyword(from)) = &delete.from;
            from.first().and_then(|t| relation_table(&t.relation))
        }
    };
    if let Some(selection) = &delete.selection {
        s.filter = filter_columns(selection);
    }
    s.returning = delete.returning.is_some();
    out.push(s);
}

/// A `MERGE` inserts the row or acts on the one already there, in one statement:
/// to a race it is an upsert.
fn lower_merge(merge: &Merge, out: &mut Vec<SqlStatement>) {
    let mut s = SqlStatement::new(SqlKind::Insert);
    s.on_conflict = OnConflict::DoUpdate;
    s.table = relation_table(&merge.table);
    s.filter = filter_columns(&merge.on);
    for clause in &merge.clauses {
        if let MergeAction::Insert(insert) = &clause.action {
            if let MergeInsertKind::Values(values) = &insert.kind {
                let row = values
                    .rows
                    .first()
                    .map(|r| r.content.as_slice())
                    .unwrap_or(&[]);
                s.values = insert
                    .columns
                    .iter()
                    .filter_map(table_name)
                    .zip(row)
                    .map(|(column, expr)| {
                        let info = ValueInfo::of(expr);
                        SqlColumn {
                            column,
                            literal: info.is_literal(),
                            params: info.params,
                            atomic: false,
                        }
                    })
                    .collect();
            }
            break;
        }
    }
    out.push(s);
}

fn set_columns(assignments: &[Assignment], from_row: bool) -> Vec<SqlColumn> {
    let mut columns = Vec::new();
    for assignment in assignments {
        let names: Vec<String> = match &assignment.target {
            AssignmentTarget::ColumnName(name) => table_name(name).into_iter().collect(),
            AssignmentTarget::Tuple(names) => names.iter().filter_map(table_name).collect(),
        };
        // `SET (a, b) = ($1, $2)` pairs element by element; a row-valued subquery
        // gives every column the same source.
        let values: Vec<&Expr> = match &assignment.value {
            Expr::Tuple(items) if items.len() == names.len() => items.iter().collect(),
            value => vec![value; names.len()],
        };
        for (column, value) in names.into_iter().zip(values) {
            let info = ValueInfo::of(value);
            columns.push(SqlColumn {
                column,
                literal: info.is_literal(),
                atomic: from_row && (!info.columns.is_empty() || info.subquery),
                params: info.params,
            });
        }
    }
    columns
}

fn relation_table(relation: &TableFactor) -> Option<String> {
    match relation {
        TableFactor::Table { name, .. } => table_name(name),
        _ => None,
    }
}

/// The last part of a possibly schema-qualified, possibly quoted name.
fn table_name(name: &ObjectName) -> Option<String> {
    match name.0.last()? {
        // An interpolated table name (`FROM ${table}`) is not a table we know.
        ObjectNamePart::Identifier(ident) if param_of_ident(ident).is_none() => {
            Some(ident.value.clone())
        }
        _ => None,
    }
}

/// The columns a `WHERE` (or `ON`) condition constrains, in the order written.
fn filter_columns(condition: &Expr) -> Vec<SqlColumn> {
    let mut columns = Vec::new();
    // An explicit stack: `a = 1 OR a = 2 OR …` is as deep as it is long.
    let mut stack = vec![condition];
    while let Some(expr) = stack.pop() {
        let (column, values): (&Expr, Vec<&Expr>) = match expr {
            Expr::BinaryOp {
                left,
                op: BinaryOperator::And | BinaryOperator::Or | BinaryOperator::Xor,
                right,
            } => {
                stack.push(right);
                stack.push(left);
                continue;
            }
            Expr::Nested(inner)
            | Expr::UnaryOp {
                op: UnaryOperator::Not,
                expr: inner,
            } => {
                stack.push(inner);
                continue;
            }
            Expr::BinaryOp { left, op, right } if is_comparison(op) => {
                if column_of(left).is_some() {
                    (left, vec![right])
                } else {
                    (right, vec![left])
                }
            }
            Expr::IsDistinctFrom(left, right) | Expr::IsNotDistinctFrom(left, right) => {
                if column_of(left).is_some() {
                    (left, vec![right])
                } else {
                    (right, vec![left])
                }
            }
            Expr::AnyOp { left, right, .. } | Expr::AllOp { left, right, .. } => {
                (left, vec![right])
            }
            Expr::In { expr, target, .. } => (
                expr,
                match target {
                    InTarget::List(items) => items.iter().collect(),
                    InTarget::Unnest(e) => vec![e],
                    // The subquery's own parameters still say what the column is
                    // compared with; `ValueInfo` reads them from an `EXISTS` wrapper.
                    _ => Vec::new(),
                },
            ),
            Expr::Between {
                expr, low, high, ..
            } => (expr, vec![low, high]),
            Expr::Like { expr, pattern, .. }
            | Expr::ILike { expr, pattern, .. }
            | Expr::SimilarTo { expr, pattern, .. }
            | Expr::RLike { expr, pattern, .. } => (expr, vec![pattern]),
            Expr::IsNull(expr)
            | Expr::IsNotNull(expr)
            | Expr::IsTrue(expr)
            | Expr::IsNotTrue(expr)
            | Expr::IsFalse(expr)
            | Expr::IsNotFalse(expr)
            | Expr::IsUnknown(expr)
            | Expr::IsNotUnknown(expr) => (expr, Vec::new()),
            // A bare boolean column: `WHERE active`.
            e if column_of(e).is_some() => (e, Vec::new()),
            _ => continue,
        };
        let Some(name) = column_of(column) else {
            continue;
        };
        let mut info = ValueInfo::default();
        for value in values {
            scan_expr(value, 0, &mut info);
        }
        if let Expr::In {
            target: InTarget::Subquery(query),
            ..
        } = expr
        {
            info.subquery = true;
            scan_query(query, 0, &mut info);
        }
        columns.push(SqlColumn {
            column: name,
            literal: info.is_literal(),
            params: info.params,
            atomic: false,
        });
    }
    columns
}

fn is_comparison(op: &BinaryOperator) -> bool {
    use BinaryOperator::*;
    matches!(
        op,
        Eq | NotEq
            | Lt
            | LtEq
            | Gt
            | GtEq
            | Spaceship
            | PGLikeMatch
            | PGILikeMatch
            | PGNotLikeMatch
            | PGNotILikeMatch
            | PGRegexMatch
            | PGRegexIMatch
            | PGRegexNotMatch
            | PGRegexNotIMatch
            | AtArrow
            | ArrowAt
            | Question
            | QuestionAnd
            | QuestionPipe
    )
}

/// The column an operand stands for: `u.id` → `id`, also through a cast, a
/// collation, a JSON access or a one-column function such as `lower(email)`.
fn column_of(expr: &Expr) -> Option<String> {
    let mut expr = expr;
    for _ in 0..MAX_EXPR_DEPTH {
        expr = match expr {
            Expr::Identifier(ident) => return column_name(ident),
            Expr::CompoundIdentifier(parts) => return parts.last().and_then(column_name),
            Expr::Nested(inner)
            | Expr::Cast { expr: inner, .. }
            | Expr::Collate { expr: inner, .. }
            | Expr::JsonAccess { value: inner, .. } => inner,
            Expr::CompoundFieldAccess { root, .. } => root,
            Expr::Function(function) => match &function.args {
                FunctionArguments::List(list) if list.args.len() == 1 => match &list.args[0] {
                    FunctionArg::Unnamed(FunctionArgExpr::Expr(inner)) => inner,
                    _ => return None,
                },
                _ => return None,
            },
            _ => return None,
        };
    }
    None
}

/// A placeholder the parser took for a name: ours (`__racelint_param_2`), or a
/// `$2` a dialect reads as a name where SQL wants one (`FROM $1`).
fn param_of_ident(ident: &Ident) -> Option<usize> {
    if let Some(n) = ident.value.strip_prefix(PARAM_NAME) {
        return n.parse().ok();
    }
    if ident.quote_style.is_none() {
        return placeholder_number(&ident.value);
    }
    None
}

fn column_name(ident: &Ident) -> Option<String> {
    if param_of_ident(ident).is_some()
        || (ident.quote_style.is_none() && ident.value.eq_ignore_ascii_case("default"))
    {
        None
    } else {
        Some(ident.value.clone())
    }
}

/// What a value expression is made of.
#[derive(Default)]
struct ValueInfo {
    params: Vec<usize>,
    columns: Vec<String>,
    subquery: bool,
    /// Too deep to read to the end: neither a constant nor known to use the row.
    opaque: bool,
    advisory: Option<SqlColumn>,
    /// Names of the functions called, lowercased, each once (at most [`MAX_CALLS`]).
    functions: Vec<String>,
}

/// More calls than this in one value are not worth remembering.
const MAX_CALLS: usize = 16;

impl ValueInfo {
    fn of(expr: &Expr) -> Self {
        let mut info = ValueInfo::default();
        scan_expr(expr, 0, &mut info);
        info
    }

    fn is_literal(&self) -> bool {
        self.params.is_empty() && self.columns.is_empty() && !self.subquery && !self.opaque
    }

    fn param(&mut self, n: usize) {
        if !self.params.contains(&n) {
            self.params.push(n);
        }
    }
}

fn scan_exprs<'a>(exprs: impl IntoIterator<Item = &'a Expr>, depth: usize, info: &mut ValueInfo) {
    for expr in exprs {
        scan_expr(expr, depth, info);
    }
}

fn scan_expr(expr: &Expr, depth: usize, info: &mut ValueInfo) {
    if depth > MAX_EXPR_DEPTH {
        info.opaque = true;
        return;
    }
    let d = depth + 1;
    match expr {
        Expr::Identifier(ident) => scan_ident(ident, info),
        Expr::CompoundIdentifier(parts) => {
            if let Some(last) = parts.last() {
                scan_ident(last, info);
            }
        }
        Expr::Value(value) => {
            if let Value::Placeholder(p) = &value.value {
                match placeholder_number(p) {
                    Some(n) => info.param(n),
                    // A named placeholder (`:id`, `$name`) still is not a constant.
                    None => info.opaque = true,
                }
            }
        }
        Expr::CompoundFieldAccess { root, access_chain } => {
            scan_expr(root, d, info);
            for access in access_chain {
                match access {
                    AccessExpr::Dot(e) => scan_expr(e, d, info),
                    AccessExpr::Subscript(Subscript::Index { index }) => scan_expr(index, d, info),
                    AccessExpr::Subscript(_) => {}
                }
            }
        }
        Expr::JsonAccess { value, .. } => scan_expr(value, d, info),
        Expr::IsFalse(e)
        | Expr::IsNotFalse(e)
        | Expr::IsTrue(e)
        | Expr::IsNotTrue(e)
        | Expr::IsNull(e)
        | Expr::IsNotNull(e)
        | Expr::IsUnknown(e)
        | Expr::IsNotUnknown(e)
        | Expr::Nested(e)
        | Expr::UnaryOp { expr: e, .. }
        | Expr::Cast { expr: e, .. }
        | Expr::Collate { expr: e, .. }
        | Expr::Extract { expr: e, .. }
        | Expr::Ceil { expr: e, .. }
        | Expr::Floor { expr: e, .. }
        | Expr::Named { expr: e, .. }
        | Expr::Prefixed { value: e, .. }
        | Expr::OuterJoin(e)
        | Expr::Prior(e) => scan_expr(e, d, info),
        Expr::IsDistinctFrom(a, b)
        | Expr::IsNotDistinctFrom(a, b)
        | Expr::BinaryOp {
            left: a, right: b, ..
        }
        | Expr::AnyOp {
            left: a, right: b, ..
        }
        | Expr::AllOp {
            left: a, right: b, ..
        }
        | Expr::AtTimeZone {
            timestamp: a,
            time_zone: b,
        }
        | Expr::Position { expr: a, r#in: b }
        | Expr::Like {
            expr: a,
            pattern: b,
            ..
        }
        | Expr::ILike {
            expr: a,
            pattern: b,
            ..
        }
        | Expr::SimilarTo {
            expr: a,
            pattern: b,
            ..
        }
        | Expr::RLike {
            expr: a,
            pattern: b,
            ..
        } => {
            scan_expr(a, d, info);
            scan_expr(b, d, info);
        }
        Expr::Between {
            expr, low, high, ..
        } => scan_exprs([&**expr, &**low, &**high], d, info),
        Expr::In { expr, target, .. } => {
            scan_expr(expr, d, info);
            match target {
                InTarget::List(items) => scan_exprs(items, d, info),
                InTarget::Subquery(query) => {
                    info.subquery = true;
                    scan_query(query, d, info);
                }
                InTarget::Unnest(e) => scan_expr(e, d, info),
                _ => info.opaque = true,
            }
        }
        Expr::Substring {
            expr,
            substring_from,
            substring_for,
            ..
        } => {
            scan_expr(expr, d, info);
            scan_exprs(
                substring_from.iter().chain(substring_for).map(|e| &**e),
                d,
                info,
            );
        }
        Expr::Trim {
            expr,
            trim_what,
            trim_characters,
            ..
        } => {
            scan_expr(expr, d, info);
            scan_exprs(trim_what.iter().map(|e| &**e), d, info);
            scan_exprs(trim_characters.iter().flatten(), d, info);
        }
        Expr::Overlay {
            expr,
            overlay_what,
            overlay_from,
            overlay_for,
        } => {
            scan_exprs([&**expr, &**overlay_what, &**overlay_from], d, info);
            scan_exprs(overlay_for.iter().map(|e| &**e), d, info);
        }
        Expr::Function(function) => scan_function(function, d, info),
        Expr::Case {
            operand,
            conditions,
            else_result,
            ..
        } => {
            scan_exprs(operand.iter().map(|e| &**e), d, info);
            for when in conditions {
                scan_expr(&when.condition, d, info);
                scan_expr(&when.result, d, info);
            }
            scan_exprs(else_result.iter().map(|e| &**e), d, info);
        }
        Expr::Exists { subquery, .. } | Expr::Subquery(subquery) => {
            info.subquery = true;
            scan_query(subquery, d, info);
        }
        Expr::Tuple(items) => scan_exprs(items, d, info),
        Expr::Array(array) => scan_exprs(&array.elem, d, info),
        Expr::Interval(interval) => scan_expr(&interval.value, d, info),
        Expr::TypedString(_) => {}
        // Rare shapes: not worth reading, but not provably constant either.
        _ => info.opaque = true,
    }
}

fn scan_ident(ident: &Ident, info: &mut ValueInfo) {
    if let Some(n) = param_of_ident(ident) {
        info.param(n);
    } else if let Some(column) = column_name(ident) {
        // Postgres reads `current_date` and friends as bare words; they are constants.
        if !(ident.quote_style.is_none() && is_niladic(&ident.value)) {
            info.columns.push(column);
        }
    }
}

fn is_niladic(word: &str) -> bool {
    [
        "current_date",
        "current_time",
        "current_timestamp",
        "localtime",
        "localtimestamp",
        "current_user",
        "session_user",
        "user",
    ]
    .iter()
    .any(|w| word.eq_ignore_ascii_case(w))
}

fn scan_function(function: &Function, depth: usize, info: &mut ValueInfo) {
    let name = function
        .name
        .0
        .last()
        .and_then(|part| match part {
            ObjectNamePart::Identifier(ident) => Some(ident.value.to_ascii_lowercase()),
            _ => None,
        })
        .unwrap_or_default();
    if !name.is_empty() && info.functions.len() < MAX_CALLS && !info.functions.contains(&name) {
        info.functions.push(name.clone());
    }
    let before = info.params.len();
    let literal_before = (info.columns.len(), info.subquery, info.opaque);
    for arguments in [&function.parameters, &function.args] {
        match arguments {
            FunctionArguments::None => {}
            FunctionArguments::Subquery(query) => {
                info.subquery = true;
                scan_query(query, depth, info);
            }
            FunctionArguments::List(list) => {
                for arg in &list.args {
                    let arg = match arg {
                        FunctionArg::Named { arg, .. }
                        | FunctionArg::ExprNamed { arg, .. }
                        | FunctionArg::Unnamed(arg) => arg,
                    };
                    if let FunctionArgExpr::Expr(e) = arg {
                        scan_expr(e, depth, info);
                    }
                }
            }
        }
    }
    if let Some(filter) = &function.filter {
        scan_expr(filter, depth, info);
    }
    if info.advisory.is_none() && ADVISORY_LOCKS.contains(&name.as_str()) {
        let mut params: Vec<usize> = info.params[before..].to_vec();
        params.dedup();
        let literal =
            params.is_empty() && literal_before == (info.columns.len(), info.subquery, info.opaque);
        info.advisory = Some(SqlColumn {
            column: name,
            params,
            atomic: false,
            literal,
        });
    }
}

/// Reads the parameters and the shape of a subquery; its columns belong to other
/// rows, so they are not the outer value's columns.
fn scan_query(query: &Query, depth: usize, info: &mut ValueInfo) {
    if depth > MAX_EXPR_DEPTH {
        info.opaque = true;
        return;
    }
    let mut inner = ValueInfo::default();
    if let Some(with) = &query.with {
        for cte in &with.cte_tables {
            scan_query(&cte.query, depth + 1, &mut inner);
        }
    }
    scan_set_expr(&query.body, depth + 1, &mut inner);
    if let Some(LimitClause::LimitOffset { limit, offset, .. }) = &query.limit_clause {
        scan_exprs(
            limit.iter().chain(offset.as_ref().map(|o| &o.value)),
            depth + 1,
            &mut inner,
        );
    }
    for n in inner.params {
        info.param(n);
    }
    info.opaque |= inner.opaque;
}

fn scan_set_expr(body: &SetExpr, depth: usize, info: &mut ValueInfo) {
    if depth > MAX_EXPR_DEPTH {
        info.opaque = true;
        return;
    }
    match body {
        SetExpr::Select(select) => {
            for item in &select.projection {
                if let SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } = item
                {
                    scan_expr(e, depth, info);
                }
            }
            for table in &select.from {
                scan_relation(&table.relation, depth, info);
                for join in &table.joins {
                    scan_relation(&join.relation, depth, info);
                }
            }
            scan_exprs(select.selection.iter().chain(&select.having), depth, info);
        }
        SetExpr::Query(query) => scan_query(query, depth, info),
        SetExpr::SetOperation { left, right, .. } => {
            scan_set_expr(left, depth + 1, info);
            scan_set_expr(right, depth + 1, info);
        }
        SetExpr::Values(values) => {
            for row in &values.rows {
                scan_exprs(&row.content, depth, info);
            }
        }
        _ => {}
    }
}

fn scan_relation(relation: &TableFactor, depth: usize, info: &mut ValueInfo) {
    if let TableFactor::Derived { subquery, .. } = relation {
        scan_query(subquery, depth + 1, info);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregates_sum_up_many_rows() {
        assert!(one("SELECT count(*) FROM members WHERE team_id = $1").aggregate);
        assert!(
            one("SELECT COUNT(id) AS n, max(created_at) FROM members WHERE team_id = $1").aggregate
        );
        assert!(!one("SELECT team_id, count(*) FROM members GROUP BY team_id").aggregate);
        assert!(!one("SELECT id, count(*) OVER () FROM members").aggregate);
        assert!(!one("SELECT balance FROM accounts WHERE id = $1").aggregate);
    }

    fn one(sql: &str) -> SqlStatement {
        let mut statements = classify(sql);
        assert_eq!(statements.len(), 1, "{sql}: {statements:#?}");
        statements.remove(0)
    }

    fn kinds(sql: &str) -> Vec<SqlKind> {
        classify(sql).into_iter().map(|s| s.kind).collect()
    }

    fn col(column: &str, params: &[usize]) -> SqlColumn {
        SqlColumn {
            column: column.into(),
            params: params.to_vec(),
            atomic: false,
            literal: false,
        }
    }

    fn lit(column: &str) -> SqlColumn {
        SqlColumn {
            literal: true,
            ..col(column, &[])
        }
    }

    fn atomic(column: &str, params: &[usize]) -> SqlColumn {
        SqlColumn {
            atomic: true,
            ..col(column, params)
        }
    }

    /// Runs `f` on a thread with the default 2 MiB stack, as rayon's workers have,
    /// so that a stack overflow fails the test instead of hiding in the main
    /// thread's larger stack.
    fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        std::thread::Builder::new()
            .stack_size(2 * 1024 * 1024)
            .spawn(f)
            .unwrap()
            .join()
            .unwrap()
    }

    #[test]
    fn select_with_filter_and_table() {
        let s = one("SELECT id, email FROM users WHERE email = $1 AND deleted_at IS NULL");
        assert_eq!(s.kind, SqlKind::Select);
        assert_eq!(s.table.as_deref(), Some("users"));
        assert_eq!(s.filter, vec![col("email", &[1]), lit("deleted_at")]);
        assert_eq!(s.row_lock, RowLock::None);
        assert!(s.values.is_empty());
    }

    #[test]
    fn select_exists_reads_the_subquery_table() {
        let s = one("SELECT EXISTS(SELECT 1 FROM users WHERE username = $1)");
        assert_eq!(s.kind, SqlKind::Select);
        assert_eq!(s.table.as_deref(), Some("users"));
        assert_eq!(s.filter, vec![col("username", &[1])]);
        let s = one("SELECT NOT EXISTS (SELECT 1 FROM slugs WHERE slug = $1) AS free");
        assert_eq!(s.table.as_deref(), Some("slugs"));
        let s = one("SELECT (SELECT count(*) FROM seats WHERE event_id = $1)");
        assert_eq!(s.table.as_deref(), Some("seats"));
        assert_eq!(one("SELECT 1").table, None);
    }

    #[test]
    fn select_first_table_of_a_join_and_qualified_columns() {
        let s = one(
            "select u.id from users u join memberships m on m.user_id = u.id \
             where m.org_id = $1 and u.id = $2",
        );
        assert_eq!(s.table.as_deref(), Some("users"));
        assert_eq!(s.filter, vec![col("org_id", &[1]), col("id", &[2])]);
    }

    #[test]
    fn select_tallies() {
        use crate::ir::TallyKind;
        let t = one("SELECT MAX(number) FROM invoices WHERE account_id = $1").tally;
        assert_eq!(t, Some(Tally::max("number")));
        let t =
            one("SELECT COALESCE(MAX(i.position), 0) + 1 AS next FROM items i WHERE list_id = $1")
                .tally;
        assert_eq!(t, Some(Tally::max("position")));
        let t = one("SELECT count(*) FROM scenes WHERE story_id = $1").tally;
        assert_eq!(t.map(|t| t.kind), Some(TallyKind::Count));
        let t =
            one("SELECT version FROM doc_versions WHERE doc_id = $1 ORDER BY version DESC LIMIT 1")
                .tally;
        assert_eq!(t, Some(Tally::max("version")));
        assert_eq!(
            one("SELECT version FROM doc_versions ORDER BY version ASC LIMIT 1").tally,
            None
        );
        assert_eq!(
            one("SELECT * FROM doc_versions ORDER BY version DESC LIMIT 1").tally,
            None
        );
        assert_eq!(
            one("SELECT owner_id, count(*) FROM docs GROUP BY owner_id").tally,
            None
        );
        assert_eq!(one("SELECT id FROM docs WHERE slug = $1").tally, None);
    }

    #[test]
    fn select_row_locks() {
        assert_eq!(
            one("SELECT * FROM seats WHERE id = $1 FOR UPDATE").row_lock,
            RowLock::Exclusive
        );
        assert_eq!(
            one("SELECT * FROM seats WHERE id = $1 FOR NO KEY UPDATE").row_lock,
            RowLock::Exclusive
        );
        assert_eq!(
            one("SELECT * FROM seats WHERE id = $1 FOR SHARE").row_lock,
            RowLock::Shared
        );
        assert_eq!(
            one("SELECT * FROM seats WHERE id = $1 FOR KEY SHARE NOWAIT").row_lock,
            RowLock::Shared
        );
        let s = one("SELECT id FROM jobs WHERE status = 'queued' ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED");
        assert_eq!(s.row_lock, RowLock::Exclusive);
        assert_eq!(s.table.as_deref(), Some("jobs"));
        assert_eq!(s.filter, vec![lit("status")]);
        // A lock word inside a string is data, not a clause.
        assert_eq!(
            one("SELECT * FROM t WHERE note = 'for no key update'").row_lock,
            RowLock::None
        );
    }

    #[test]
    fn filter_shapes() {
        let s = one(
            "SELECT * FROM t WHERE (a = $1 OR b <> 'x') AND NOT c IN ($2, $3) \
             AND d BETWEEN $4 AND 10 AND e LIKE $5 AND $6 = f AND g = ANY($7) AND h IS NOT NULL",
        );
        assert_eq!(
            s.filter,
            vec![
                col("a", &[1]),
                lit("b"),
                col("c", &[2, 3]),
                col("d", &[4]),
                col("e", &[5]),
                col("f", &[6]),
                col("g", &[7]),
                lit("h"),
            ]
        );
    }

    #[test]
    fn filter_through_functions_casts_and_subqueries() {
        let s = one(
            "SELECT * FROM users WHERE lower(email) = lower($1) AND id::text = $2 \
             AND org_id IN (SELECT org_id FROM members WHERE user_id = $3)",
        );
        assert_eq!(
            s.filter,
            vec![col("email", &[1]), col("id", &[2]), col("org_id", &[3])]
        );
    }

    #[test]
    fn filter_literal_only_for_constants() {
        let s = one("SELECT * FROM t WHERE status = 'free' AND booked = false AND at < now() AND n = $1 + 1");
        assert_eq!(
            s.filter,
            vec![lit("status"), lit("booked"), lit("at"), col("n", &[1])]
        );
    }

    #[test]
    fn insert_values_and_returning() {
        let s =
            one("INSERT INTO users (email, name, created_at) VALUES ($1, $2, now()) RETURNING id");
        assert_eq!(s.kind, SqlKind::Insert);
        assert_eq!(s.table.as_deref(), Some("users"));
        assert_eq!(
            s.values,
            vec![col("email", &[1]), col("name", &[2]), lit("created_at")]
        );
        assert!(s.returning);
        assert_eq!(s.on_conflict, OnConflict::None);
    }

    #[test]
    fn insert_select_pairs_the_select_list() {
        let s = one("INSERT INTO members (org_id, user_id) SELECT $1, $2 \
             WHERE NOT EXISTS (SELECT 1 FROM members WHERE org_id = $1 AND user_id = $2)");
        assert_eq!(s.kind, SqlKind::Insert);
        assert_eq!(s.table.as_deref(), Some("members"));
        assert_eq!(s.values, vec![col("org_id", &[1]), col("user_id", &[2])]);
    }

    #[test]
    fn insert_on_conflict() {
        let s = one("INSERT INTO likes (user_id, post_id) VALUES ($1, $2) ON CONFLICT DO NOTHING");
        assert_eq!(s.on_conflict, OnConflict::DoNothing);
        let s = one("INSERT INTO counters (key, n) VALUES ($1, 1) \
             ON CONFLICT (key) DO UPDATE SET n = counters.n + 1 RETURNING n");
        assert_eq!(s.on_conflict, OnConflict::DoUpdate);
        assert!(s.returning);
        assert_eq!(s.values, vec![col("key", &[1]), lit("n")]);
    }

    #[test]
    fn mysql_upserts_backticks_and_question_marks() {
        let s = one("INSERT INTO `stock` (`sku`, `qty`) VALUES (?, ?) ON DUPLICATE KEY UPDATE `qty` = `qty` + VALUES(`qty`)");
        assert_eq!(s.kind, SqlKind::Insert);
        assert_eq!(s.table.as_deref(), Some("stock"));
        assert_eq!(s.on_conflict, OnConflict::DoUpdate);
        assert_eq!(s.values, vec![col("sku", &[1]), col("qty", &[2])]);

        let s = one("INSERT IGNORE INTO tags (name) VALUES (?)");
        assert_eq!(s.on_conflict, OnConflict::DoNothing);

        let s = one("UPDATE `accounts` SET `balance` = ? WHERE `id` = ? AND version = ?");
        assert_eq!(s.table.as_deref(), Some("accounts"));
        assert_eq!(s.values, vec![col("balance", &[1])]);
        assert_eq!(s.filter, vec![col("id", &[2]), col("version", &[3])]);
    }

    #[test]
    fn question_marks_are_numbered_in_text_order() {
        let s = one("SELECT * FROM t WHERE a = ? AND b IN (?, ?) AND c = ? LIMIT ?");
        assert_eq!(
            s.filter,
            vec![col("a", &[1]), col("b", &[2, 3]), col("c", &[4])]
        );
    }

    #[test]
    fn sqlite_upserts() {
        assert_eq!(
            one("INSERT OR IGNORE INTO t (a) VALUES (?)").on_conflict,
            OnConflict::DoNothing
        );
        assert_eq!(
            one("INSERT OR REPLACE INTO t (a) VALUES (?)").on_conflict,
            OnConflict::DoUpdate
        );
    }

    #[test]
    fn update_set_and_where() {
        let s =
            one("UPDATE posts SET title = $1, updated_at = now() WHERE id = $2 AND version = $3");
        assert_eq!(s.kind, SqlKind::Update);
        assert_eq!(s.table.as_deref(), Some("posts"));
        assert_eq!(s.values, vec![col("title", &[1]), lit("updated_at")]);
        assert_eq!(s.filter, vec![col("id", &[2]), col("version", &[3])]);
        assert!(!s.returning);
    }

    #[test]
    fn update_atomic_values() {
        let s = one("UPDATE accounts SET balance = balance - $1 WHERE id = $2 AND balance >= $1");
        assert_eq!(s.values, vec![atomic("balance", &[1])]);
        assert_eq!(s.filter, vec![col("id", &[2]), col("balance", &[1])]);

        let s = one(
            "UPDATE products SET stock = stock - 1, views = count + 1, version = version + 1, \
             total = (SELECT sum(x) FROM items WHERE order_id = $1) WHERE id = $2 RETURNING *",
        );
        assert_eq!(
            s.values,
            vec![
                atomic("stock", &[]),
                atomic("views", &[]),
                atomic("version", &[]),
                atomic("total", &[1]),
            ]
        );
        assert!(s.returning);

        // Parameters, constants and functions of them do not read the row.
        let s = one("UPDATE t SET a = $1, b = coalesce($2, 'x'), c = now(), d = CURRENT_TIMESTAMP, e = NULL");
        assert_eq!(
            s.values,
            vec![col("a", &[1]), col("b", &[2]), lit("c"), lit("d"), lit("e")]
        );
    }

    #[test]
    fn update_with_alias_and_tuple_assignment() {
        let s = one("UPDATE accounts AS a SET (x, y) = ($1, a.x) WHERE a.id = $2");
        assert_eq!(s.table.as_deref(), Some("accounts"));
        assert_eq!(s.values, vec![col("x", &[1]), atomic("y", &[])]);
        assert_eq!(s.filter, vec![col("id", &[2])]);
    }

    #[test]
    fn delete() {
        let s = one("DELETE FROM sessions WHERE user_id = $1 RETURNING id");
        assert_eq!(s.kind, SqlKind::Delete);
        assert_eq!(s.table.as_deref(), Some("sessions"));
        assert_eq!(s.filter, vec![col("user_id", &[1])]);
        assert!(s.returning);
    }

    #[test]
    fn merge_is_an_upsert() {
        let s = one(
            "MERGE INTO stock s USING (SELECT $1 AS sku) src ON s.sku = src.sku \
             WHEN MATCHED THEN UPDATE SET qty = s.qty + 1 \
             WHEN NOT MATCHED THEN INSERT (sku, qty) VALUES ($1, 1)",
        );
        assert_eq!(s.kind, SqlKind::Insert);
        assert_eq!(s.on_conflict, OnConflict::DoUpdate);
        assert_eq!(s.table.as_deref(), Some("stock"));
        assert_eq!(s.values, vec![col("sku", &[1]), lit("qty")]);
    }

    #[test]
    fn transactions() {
        assert_eq!(one("BEGIN").kind, SqlKind::Begin);
        assert!(!one("BEGIN").serializable);
        assert_eq!(one("start transaction").kind, SqlKind::Begin);
        let s = one("BEGIN ISOLATION LEVEL SERIALIZABLE");
        assert_eq!((s.kind, s.serializable), (SqlKind::Begin, true));
        let s = one("START TRANSACTION ISOLATION LEVEL SERIALIZABLE, READ WRITE");
        assert_eq!((s.kind, s.serializable), (SqlKind::Begin, true));
        assert!(!one("BEGIN ISOLATION LEVEL REPEATABLE READ").serializable);
        assert_eq!(one("COMMIT").kind, SqlKind::Commit);
        assert_eq!(one("END").kind, SqlKind::Commit);
        assert_eq!(one("ROLLBACK").kind, SqlKind::Rollback);
        assert_eq!(one("ROLLBACK TO SAVEPOINT sp1").kind, SqlKind::Savepoint);
        assert_eq!(one("SAVEPOINT sp1").kind, SqlKind::Savepoint);
        assert_eq!(one("RELEASE SAVEPOINT sp1").kind, SqlKind::Savepoint);
        let s = one("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE");
        assert_eq!((s.kind, s.serializable), (SqlKind::Other, true));
        assert!(!one("SET TRANSACTION ISOLATION LEVEL READ COMMITTED").serializable);
    }

    #[test]
    fn table_locks() {
        let s = one("LOCK TABLE public.accounts IN EXCLUSIVE MODE");
        assert_eq!(
            (s.kind, s.table.as_deref()),
            (SqlKind::Lock, Some("accounts"))
        );
        let s = one("LOCK TABLES stock WRITE");
        assert_eq!((s.kind, s.table.as_deref()), (SqlKind::Lock, Some("stock")));
    }

    #[test]
    fn advisory_locks() {
        for function in [
            "pg_advisory_lock",
            "pg_advisory_xact_lock",
            "pg_try_advisory_lock",
            "pg_try_advisory_xact_lock",
        ] {
            let s = one(&format!("SELECT {function}(hashtext($1))"));
            assert_eq!(s.kind, SqlKind::Lock, "{function}");
            assert_eq!(s.table, None);
            assert_eq!(s.lock_key, Some(col(function, &[1])));
        }
        let s = one("select pg_advisory_xact_lock(42)");
        assert_eq!(s.lock_key, Some(lit("pg_advisory_xact_lock")));
        let s =
            one("SELECT CASE WHEN pg_try_advisory_xact_lock($1, $2) THEN 1 ELSE 0 END AS locked");
        assert_eq!(s.kind, SqlKind::Lock);
        assert_eq!(s.lock_key, Some(col("pg_try_advisory_xact_lock", &[1, 2])));
        assert_eq!(one("SELECT pg_advisory_unlock($1)").kind, SqlKind::Select);
    }

    #[test]
    fn catalog_reads_are_not_data() {
        for sql in [
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'",
            "select exists(select 1 from pg_stat_activity where pid <> pg_backend_pid())",
            "SELECT relation::regclass FROM pg_locks WHERE granted = false",
            "SELECT table_name FROM information_schema.tables WHERE table_schema = $1",
            "SELECT c.relname FROM pg_catalog.pg_class c WHERE c.relkind = 'r'",
            "SELECT name FROM sqlite_master WHERE type = 'table'",
        ] {
            assert_eq!(one(sql).kind, SqlKind::Other, "{sql}");
        }
        assert_eq!(
            one("SELECT id FROM pages WHERE slug = $1").kind,
            SqlKind::Select
        );
        assert_eq!(one("SELECT id FROM app.pg_things").kind, SqlKind::Select);
    }

    #[test]
    fn other_statements() {
        assert_eq!(
            kinds("CREATE TABLE t (id serial PRIMARY KEY, email text UNIQUE)"),
            vec![SqlKind::Other]
        );
        assert_eq!(
            kinds("CREATE UNIQUE INDEX ON users (email); ALTER TABLE t ADD COLUMN v int; SET search_path = app"),
            vec![SqlKind::Other; 3]
        );
        assert_eq!(kinds("VALUES (1), (2)"), vec![SqlKind::Other]);
    }

    #[test]
    fn identifiers_quoted_and_qualified() {
        let s = one(r#"SELECT "id" FROM "public"."users" WHERE "users"."email" = $1"#);
        assert_eq!(s.table.as_deref(), Some("users"));
        assert_eq!(s.filter, vec![col("email", &[1])]);
        // Prisma's raw queries quote its PascalCase model tables.
        let s = one(r#"UPDATE "User" SET "credits" = "credits" - $1 WHERE "id" = $2"#);
        assert_eq!(s.table.as_deref(), Some("User"));
        assert_eq!(s.values, vec![atomic("credits", &[1])]);
        let s = one(
            r#"INSERT INTO "public"."Order" ("userId", "total") VALUES ($1, $2) ON CONFLICT ("userId") DO NOTHING"#,
        );
        assert_eq!(s.table.as_deref(), Some("Order"));
        assert_eq!(s.values, vec![col("userId", &[1]), col("total", &[2])]);
    }

    #[test]
    fn mixed_case_and_comments() {
        let s = one(
            "-- claim a seat\n/* keep the row locked */ SeLeCt * FrOm Seats\n  WhErE Id = $1 -- trailing\n  for UPDATE",
        );
        assert_eq!(s.table.as_deref(), Some("Seats"));
        assert_eq!(s.filter, vec![col("Id", &[1])]);
        assert_eq!(s.row_lock, RowLock::Exclusive);
    }

    #[test]
    fn several_statements() {
        let statements = classify(
            "BEGIN; SELECT balance FROM accounts WHERE id = $1 FOR UPDATE; \
             UPDATE accounts SET balance = $2 WHERE id = $1; COMMIT;",
        );
        let kinds: Vec<_> = statements.iter().map(|s| s.kind).collect();
        assert_eq!(
            kinds,
            vec![
                SqlKind::Begin,
                SqlKind::Select,
                SqlKind::Update,
                SqlKind::Commit
            ]
        );
        assert_eq!(statements[1].row_lock, RowLock::Exclusive);
    }

    #[test]
    fn a_bad_statement_does_not_hide_the_others() {
        let statements =
            classify("DELETE FROM a WHERE id = 1; THIS IS NOT SQL; INSERT INTO b (x) VALUES (2)");
        let kinds: Vec<_> = statements.iter().map(|s| s.kind).collect();
        assert_eq!(
            kinds,
            vec![SqlKind::Delete, SqlKind::Unparsed, SqlKind::Insert]
        );
        assert_eq!(statements[2].table.as_deref(), Some("b"));
    }

    #[test]
    fn data_modifying_ctes_come_first() {
        let statements = classify(
            "WITH moved AS (DELETE FROM a WHERE created < $1 RETURNING *) INSERT INTO b SELECT * FROM moved",
        );
        let kinds: Vec<_> = statements.iter().map(|s| s.kind).collect();
        assert_eq!(kinds, vec![SqlKind::Delete, SqlKind::Insert]);
        assert_eq!(statements[0].table.as_deref(), Some("a"));
        assert_eq!(statements[0].filter, vec![col("created", &[1])]);
        assert!(statements[0].returning);
        assert_eq!(statements[1].table.as_deref(), Some("b"));

        let statements = classify(
            "WITH u AS (UPDATE stock SET qty = qty - 1 WHERE sku = $1 AND qty > 0 RETURNING sku) \
             SELECT count(*) FROM u",
        );
        let kinds: Vec<_> = statements.iter().map(|s| s.kind).collect();
        assert_eq!(kinds, vec![SqlKind::Update, SqlKind::Select]);
        assert_eq!(statements[1].table.as_deref(), Some("stock"));
    }

    #[test]
    fn read_only_ctes_and_derived_tables_resolve_to_their_table() {
        let s = one("WITH recent AS (SELECT * FROM orders WHERE at > $1) SELECT * FROM recent WHERE user_id = $2");
        assert_eq!(s.kind, SqlKind::Select);
        assert_eq!(s.table.as_deref(), Some("orders"));
        assert_eq!(s.filter, vec![col("user_id", &[2])]);
        let s = one("SELECT * FROM (SELECT * FROM events) e");
        assert_eq!(s.table.as_deref(), Some("events"));
    }

    #[test]
    fn placeholders_anywhere() {
        let s = one("SELECT * FROM t WHERE a = $1 ORDER BY b LIMIT $2 OFFSET $3");
        assert_eq!(s.filter, vec![col("a", &[1])]);
        // A template literal interpolating the table name.
        let s = one("SELECT * FROM $1 WHERE id = $2");
        assert_eq!(s.kind, SqlKind::Select);
        assert_eq!(s.table, None);
        assert_eq!(s.filter, vec![col("id", &[2])]);
        let s = one("UPDATE $1 SET n = n + $2 WHERE $3 = $4");
        assert_eq!(s.kind, SqlKind::Update);
        assert_eq!(s.values, vec![atomic("n", &[2])]);
    }

    #[test]
    fn real_world_statements() {
        let s = one("SELECT id FROM users WHERE id = $1::uuid AND org_id = $2 FOR UPDATE OF users");
        assert_eq!(s.filter, vec![col("id", &[1]), col("org_id", &[2])]);
        assert_eq!(s.row_lock, RowLock::Exclusive);

        let s = one(
            "INSERT INTO carts (user_id) VALUES ($1) ON CONFLICT ON CONSTRAINT carts_user_key \
             DO UPDATE SET updated_at = now() RETURNING id",
        );
        assert_eq!(s.on_conflict, OnConflict::DoUpdate);
        assert_eq!(s.values, vec![col("user_id", &[1])]);

        let s = one(
            "UPDATE orders o SET status = 'paid', paid_at = now() FROM payments p \
             WHERE p.order_id = o.id AND p.id = $1 AND o.status = 'pending'",
        );
        assert_eq!(s.table.as_deref(), Some("orders"));
        assert_eq!(s.values, vec![lit("status"), lit("paid_at")]);
        assert_eq!(
            s.filter,
            vec![col("order_id", &[]), col("id", &[1]), lit("status")]
        );

        let s = one(
            "SELECT COUNT(*) AS \"count\" FROM \"Booking\" WHERE \"roomId\" = $1 AND \"date\" = $2",
        );
        assert_eq!(s.table.as_deref(), Some("Booking"));
        assert_eq!(s.filter, vec![col("roomId", &[1]), col("date", &[2])]);

        let s = one("DELETE FROM `sessions` WHERE `expires_at` < NOW() LIMIT 1000");
        assert_eq!(s.kind, SqlKind::Delete);
        assert_eq!(s.filter, vec![lit("expires_at")]);

        let s = one("SELECT * FROM a UNION ALL SELECT * FROM b WHERE x = $1");
        assert_eq!(s.table.as_deref(), Some("a"));
    }

    #[test]
    fn function_bodies_in_migrations() {
        let statements = classify(
            "CREATE FUNCTION bump() RETURNS trigger AS $$ BEGIN NEW.v := OLD.v + 1; RETURN NEW; END $$ \
             LANGUAGE plpgsql; UPDATE t SET v = 0;",
        );
        let kinds: Vec<_> = statements.iter().map(|s| s.kind).collect();
        assert_eq!(kinds, vec![SqlKind::Other, SqlKind::Update]);
    }

    #[test]
    fn empty_and_comment_only() {
        assert!(classify("").is_empty());
        assert!(classify("   \n\t").is_empty());
        assert!(classify("-- nothing\n/* at all */").is_empty());
    }

    #[test]
    fn unparsable_text_is_one_unparsed_statement() {
        for text in [
            "hello world",
            "SELECT * FROM t WHERE name = 'unterminated",
            "SELECT \"unterminated",
            "UPDATE SET WHERE",
            ";;; garbage ;;; more garbage ;",
            "\u{0}\u{1}\u{7f}\u{fffd}\u{1f600}",
            ")))(((",
        ] {
            assert_eq!(kinds(text), vec![SqlKind::Unparsed], "{text:?}");
        }
        let bytes: Vec<u8> = (0..=255u8).cycle().take(4096).collect();
        let text = String::from_utf8_lossy(&bytes);
        assert_eq!(kinds(&text), vec![SqlKind::Unparsed]);
    }

    #[test]
    fn oversized_text_is_not_parsed() {
        let text = format!("SELECT 1 FROM t WHERE {}", "a = 1 AND ".repeat(200_000));
        assert!(text.len() > MAX_SQL_BYTES);
        assert_eq!(kinds(&text), vec![SqlKind::Unparsed]);
    }

    #[test]
    fn deep_nesting_does_not_overflow_the_stack() {
        on_small_stack(|| {
            let open = format!("SELECT {}1", "(".repeat(10_000));
            assert_eq!(kinds(&open), vec![SqlKind::Unparsed]);
            let balanced = format!(
                "SELECT {}1{} FROM t",
                "(".repeat(10_000),
                ")".repeat(10_000)
            );
            assert_eq!(kinds(&balanced), vec![SqlKind::Unparsed]);
            let subqueries = format!(
                "SELECT * FROM t WHERE id IN {}1{}",
                "(SELECT id FROM t WHERE id IN ".repeat(5_000),
                ")".repeat(5_000)
            );
            assert_eq!(kinds(&subqueries), vec![SqlKind::Unparsed]);
            let not = format!("SELECT * FROM t WHERE {} a", "NOT ".repeat(10_000));
            assert_eq!(kinds(&not), vec![SqlKind::Unparsed]);
        });
    }

    #[test]
    fn long_operator_chains_stay_bounded() {
        on_small_stack(|| {
            // Just under the refusal threshold: parsed, walked and dropped on a small stack.
            let ors = vec!["x = 1"; MAX_CHAIN_TOKENS / 4 - 1].join(" OR ");
            let s = one(&format!("SELECT * FROM t WHERE {ors}"));
            assert_eq!(s.filter.len(), MAX_CHAIN_TOKENS / 4 - 1);
            let plus = format!(
                "UPDATE t SET n = n{} WHERE id = $1",
                " + 1".repeat(MAX_CHAIN_TOKENS / 2 - 8)
            );
            let s = one(&plus);
            assert_eq!(s.kind, SqlKind::Update);
            // Beyond it: refused before parsing.
            let long = format!("SELECT {}", vec!["1"; 200_000].join(" + "));
            assert_eq!(kinds(&long), vec![SqlKind::Unparsed]);
        });
    }

    #[test]
    fn wide_statements_are_fine() {
        let rows = vec!["(1, 'a')"; 20_000].join(", ");
        let s = one(&format!("INSERT INTO t (n, s) VALUES {rows}"));
        assert_eq!(s.values, vec![lit("n"), lit("s")]);
    }
}
