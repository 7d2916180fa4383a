//! SQL migrations: Prisma `migrations/*/migration.sql`, sqlx `migrations/*.sql`,
//! Diesel `migrations/*/up.sql`, Drizzle's generated SQL, a plain `schema.sql`.
//!
//! Each file is split into statements by hand (strings, quoted identifiers,
//! comments, `$$` bodies and `COPY … FROM stdin` data cannot end a statement), so
//! that one statement sqlparser rejects costs only that statement. Only DDL that
//! shapes keys is parsed: `CREATE TABLE`, `CREATE UNIQUE INDEX`, `ALTER TABLE`,
//! `DROP TABLE`/`DROP INDEX`, MySQL `RENAME TABLE`. Files are parsed on their own
//! (in parallel) and then replayed in path order into one [`MigrationState`],
//! because migration folders and files carry timestamp or sequence prefixes.

use super::{migration_text, schema_error, schema_file, FileSchema, ForeignKey, OnDelete, Table};
use crate::diagnostic::RunError;
use sqlparser::ast::{
    AlterTableOperation, ColumnDef, ColumnOption, DataType, Expr, Ident, IndexColumn, ObjectName,
    ObjectNamePart, ObjectType, ReferentialAction, RenameTableNameKind, Statement, TableConstraint,
};
use sqlparser::dialect::{Dialect, GenericDialect, MySqlDialect, PostgreSqlDialect, SQLiteDialect};
use sqlparser::parser::Parser;

/// One file's DDL, parsed but not yet applied.
#[derive(Clone, Debug, Default)]
pub struct ParsedMigration {
    /// Each step with the 1-based line it starts on.
    steps: Vec<(Step, u32)>,
    path: String,
    /// Where the file goes in the replay when its name does not say (Alembic).
    pub revision: Option<Revision>,
    /// A Django migration's app and name, and the migrations it squashes.
    pub django: Option<DjangoName>,
    pub notes: Vec<String>,
    pub error: Option<RunError>,
}

/// An Alembic revision: its id and the revisions it follows (`down_revision`).
#[derive(Debug, Default, Clone)]
pub struct Revision {
    pub id: String,
    pub parents: Vec<String>,
}

/// A Django migration: `("api", "0002_squashed_0010")` and what it `replaces`.
#[derive(Debug, Default, Clone)]
pub struct DjangoName {
    pub app: String,
    pub name: String,
    pub replaces: Vec<(String, String)>,
}

#[derive(Clone, Debug)]
enum Step {
    // Boxed: sqlparser's statements are kilobytes.
    Sql(Box<Statement>),
    Change(Box<Change>),
}

/// A schema change a non-SQL migration (Alembic, Django) makes, in the replay's terms.
/// Tables are named by database name or by a label the creating change gave.
#[derive(Clone, Debug)]
pub enum Change {
    CreateTable {
        table: Table,
        /// Each column and whether its type is an integer.
        columns: Vec<(String, bool)>,
        /// Other names later changes use for the table (Django's `app.model`).
        labels: Vec<String>,
    },
    DropTable(String),
    RenameTable {
        from: String,
        to: String,
    },
    AddColumn {
        table: String,
        column: String,
        integer: bool,
    },
    DropColumn {
        table: String,
        column: String,
    },
    /// The single-column unique key and the foreign key of a column, before a
    /// changed definition adds its own (Django's `AlterField`).
    DropColumnKeys {
        table: String,
        column: String,
    },
    /// Django's `RenameModel`: new labels, and the default table name follows
    /// when the table still has the old one.
    Relabel {
        table: String,
        from_default: String,
        to_default: String,
        labels: Vec<String>,
    },
    RenameColumn {
        table: String,
        from: String,
        to: String,
    },
    SetPrimaryKey {
        table: String,
        columns: Vec<String>,
    },
    AddUnique {
        table: String,
        columns: Vec<String>,
        name: Option<String>,
    },
    /// A unique key over Django field names: `project` is the column `project_id`
    /// when the table has that column.
    AddUniqueFields {
        table: String,
        fields: Vec<String>,
        name: Option<String>,
    },
    AddForeignKey {
        table: String,
        foreign_key: ForeignKey,
        name: Option<String>,
    },
    /// A named constraint or index, in `table` when given.
    DropConstraint {
        table: Option<String>,
        name: String,
    },
}

impl ParsedMigration {
    /// An empty migration of a non-SQL source, to fill with [`Self::push_change`]
    /// and [`Self::push_sql`] in the order the migration runs them.
    pub fn new(rel_path: &str, revision: Option<Revision>) -> ParsedMigration {
        ParsedMigration {
            path: rel_path.to_string(),
            revision,
            ..ParsedMigration::default()
        }
    }

    /// Points the foreign keys that reference `from` at `to` instead (a setting
    /// such as Django's `AUTH_USER_MODEL`, known once every file is read).
    pub fn retarget(&mut self, from: &str, to: &str) {
        for (step, _) in &mut self.steps {
            let fk = match step {
                Step::Change(c) => match c.as_mut() {
                    Change::AddForeignKey { foreign_key, .. } => foreign_key,
                    _ => continue,
                },
                Step::Sql(_) => continue,
            };
            if fk.references == from {
                fk.references = to.to_string();
            }
        }
    }

    pub fn push_change(&mut self, change: Change, line: u32) {
        self.steps.push((Step::Change(Box::new(change)), line));
    }

    /// Adds the statements of SQL text a migration runs (Alembic's `op.execute`),
    /// all placed at `line`.
    pub fn push_sql(&mut self, sql: &str, line: u32) {
        let parsed = parse(&self.path, sql);
        self.notes.extend(parsed.notes);
        self.steps
            .extend(parsed.steps.into_iter().map(|(s, l)| (s, line + l - 1)));
    }
}

/// Splits SQL text into statements: `(byte offset of the statement, its text)`.
/// The text excludes the `;`. Empty statements are dropped.
pub fn split_statements(text: &str) -> Vec<(usize, &str)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    let mut delimiter: &str = ";";
    fn push<'t>(out: &mut Vec<(usize, &'t str)>, text: &'t str, s: usize, e: usize) {
        let piece = &text[s..e];
        let lead = skip_trivia(piece);
        if lead < piece.len() {
            out.push((s + lead, piece[lead..].trim_end()));
        }
    }
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                i = text[i..].find('\n').map_or(bytes.len(), |e| i + e);
            }
            b'#' if delimiter != ";" => {
                i = text[i..].find('\n').map_or(bytes.len(), |e| i + e);
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let mut depth = 1;
                i += 2;
                while i < bytes.len() && depth > 0 {
                    if bytes[i] == b'/' && bytes.get(i + 1) == Some(&b'*') {
                        depth += 1;
                        i += 2;
                    } else if bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/') {
                        depth -= 1;
                        i += 2;
                    } else {
                        i += 1;
                    }
                }
            }
            b'\'' => {
                let backslash = i > 0 && matches!(bytes[i - 1], b'E' | b'e');
                i += 1;
                while i < bytes.len() {
                    if backslash && bytes[i] == b'\\' {
                        i += 2;
                    } else if bytes[i] == b'\'' {
                        if bytes.get(i + 1) == Some(&b'\'') {
                            i += 2;
                        } else {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
                i += 1;
            }
            b'"' | b'`' => {
                let close = c;
                i += 1;
                while i < bytes.len() && bytes[i] != close {
                    i += 1;
                }
                i += 1;
            }
            b'$' => {
                // `$tag$ … $tag$`, and `$$ … $$`; `$1` parameters are not tags.
                let tag_end = text[i + 1..]
                    .find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_'))
                    .map(|e| i + 1 + e);
                match tag_end {
                    Some(e)
                        if bytes[e] == b'$'
                            && !bytes.get(i + 1).is_some_and(u8::is_ascii_digit) =>
                    {
                        let tag = &text[i..=e];
                        i = text[e + 1..]
                            .find(tag)
                            .map_or(bytes.len(), |k| e + 1 + k + tag.len());
                    }
                    _ => i += 1,
                }
            }
            _ if text[i..].starts_with(delimiter) => {
                let stmt_end = i;
                i += delimiter.len();
                let piece_start = start;
                push(&mut out, text, piece_start, stmt_end);
                start = i;
                // `COPY … FROM stdin;` is followed by raw rows up to a `\.` line.
                if let Some(&(_, last)) = out.last() {
                    let upper = last
                        .get(..last.len().min(200))
                        .unwrap_or(last)
                        .to_ascii_uppercase();
                    if upper.starts_with("COPY ") && upper.contains("FROM STDIN") {
                        let end = text[i..].find("\n\\.").map_or(bytes.len(), |k| i + k + 3);
                        i = end;
                        start = end;
                    }
                }
            }
            _ => {
                // MySQL dumps switch delimiters around procedure bodies.
                let at_line_start = i == 0 || bytes[i - 1] == b'\n';
                // `get`, not indexing: byte 10 may fall inside a character.
                if at_line_start
                    && text[i..].len() > 10
                    && text
                        .get(i..i + 10)
                        .is_some_and(|w| w.eq_ignore_ascii_case("DELIMITER "))
                {
                    let line_end = text[i..].find('\n').map_or(bytes.len(), |e| i + e);
                    let new = text[i + 10..line_end].trim();
                    if !new.is_empty() {
                        push(&mut out, text, start, i);
                        delimiter = new;
                    }
                    i = line_end;
                    start = i;
                } else {
                    i += text[i..].chars().next().map_or(1, char::len_utf8);
                }
            }
        }
    }
    if start < bytes.len() {
        push(&mut out, text, start, bytes.len());
    }
    out
}

/// Bytes of whitespace and comments at the start of `s`.
fn skip_trivia(s: &str) -> usize {
    let mut i = 0;
    loop {
        let rest = &s[i..];
        let trimmed = rest.trim_start();
        i += rest.len() - trimmed.len();
        if trimmed.starts_with("--") {
            i += trimmed.find('\n').unwrap_or(trimmed.len());
        } else if trimmed.starts_with("/*") {
            i += trimmed.find("*/").map_or(trimmed.len(), |e| e + 2);
        } else {
            return i;
        }
    }
}

/// The statements inside a `DO $$ BEGIN … EXCEPTION … END $$` block, which
/// drizzle-kit and hand-written migrations use to make DDL idempotent; any other
/// statement is returned as it is.
fn expand_do(offset: usize, stmt: &str) -> Vec<(usize, &str)> {
    let is_do = stmt.len() > 3
        && stmt.get(..2).is_some_and(|w| w.eq_ignore_ascii_case("DO"))
        && stmt[2..].starts_with(char::is_whitespace);
    let open = stmt.find('$');
    let (true, Some(open)) = (is_do, open) else {
        return vec![(offset, stmt)];
    };
    let Some(tag_len) = stmt[open + 1..].find('$').map(|e| e + 2) else {
        return vec![(offset, stmt)];
    };
    let tag = &stmt[open..open + tag_len];
    let body_start = open + tag_len;
    let body_end = stmt[body_start..]
        .find(tag)
        .map_or(stmt.len(), |e| body_start + e);
    let body = &stmt[body_start..body_end];
    split_statements(body)
        .into_iter()
        .map(|(o, s)| {
            let rest = if s.get(..5).is_some_and(|w| w.eq_ignore_ascii_case("BEGIN")) {
                &s[5..]
            } else {
                s
            };
            let lead = skip_trivia(rest);
            let cut = s.len() - rest.len() + lead;
            (offset + body_start + o + cut, &s[cut..])
        })
        .filter(|(_, s)| !s.is_empty())
        .collect()
}

/// Whether a statement can change keys; everything else (DML, functions, grants,
/// triggers, extensions) is passed over without parsing or noting.
fn shapes_keys(stmt: &str) -> bool {
    let words: Vec<String> = stmt
        .split(|c: char| c.is_whitespace() || c == '(')
        .filter(|w| !w.is_empty())
        .take(5)
        .map(str::to_ascii_uppercase)
        .collect();
    let w = |i: usize| words.get(i).map_or("", String::as_str);
    match w(0) {
        "CREATE" => {
            let head = &words[1..];
            let temp = head.iter().any(|x| x == "TEMP" || x == "TEMPORARY");
            (head.iter().take(3).any(|x| x == "TABLE") && !temp)
                || (w(1) == "UNIQUE" && head.iter().any(|x| x == "INDEX"))
        }
        // `ALTER COLUMN … TYPE`, `SET DEFAULT`, `OWNER TO` leave keys alone.
        "ALTER" => {
            w(1) == "TABLE"
                && stmt
                    .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .any(|x| {
                        [
                            "ADD",
                            "DROP",
                            "RENAME",
                            "PRIMARY",
                            "UNIQUE",
                            "REFERENCES",
                            "FOREIGN",
                        ]
                        .iter()
                        .any(|k| x.eq_ignore_ascii_case(k))
                    })
        }
        "DROP" => w(1) == "TABLE" || w(1) == "INDEX",
        "RENAME" => w(1) == "TABLE",
        _ => false,
    }
}

/// Parses one migration file's key-shaping DDL. `rel_path` is shown in sources.
pub fn parse(rel_path: &str, text: &str) -> ParsedMigration {
    let mut out = ParsedMigration {
        path: rel_path.to_string(),
        ..Default::default()
    };
    if migration_text::is_clickhouse(rel_path, text) {
        out.notes.push(format!(
            "{rel_path}: ClickHouse DDL, which has no keys; skipped"
        ));
        return out;
    }
    let up = migration_text::up_part(text);
    let text = up.as_deref().unwrap_or(text);
    let file = schema_file(rel_path, text);
    let dialects: [&dyn Dialect; 4] = [
        &PostgreSqlDialect {},
        &MySqlDialect {},
        &SQLiteDialect {},
        &GenericDialect {},
    ];
    let mut relevant = 0;
    let mut first_failure: Option<(usize, String)> = None;
    for (offset, stmt) in split_statements(text)
        .into_iter()
        .flat_map(|(o, s)| expand_do(o, s))
    {
        if !shapes_keys(stmt) {
            continue;
        }
        relevant += 1;
        let line = file.position(offset as u32).line;
        let mut last_err = String::new();
        let mut try_parse = |stmt: &str| {
            dialects
                .iter()
                .find_map(|d| match Parser::parse_sql(*d, stmt) {
                    Ok(s) => Some(s),
                    Err(e) => {
                        if last_err.is_empty() {
                            last_err = e.to_string();
                        }
                        None
                    }
                })
        };
        let parsed = try_parse(stmt)
            .or_else(|| migration_text::relaxed(stmt).and_then(|relaxed| try_parse(&relaxed)));
        match parsed {
            Some(statements) => {
                for s in statements {
                    out.steps.push((Step::Sql(Box::new(s)), line));
                }
            }
            None => {
                let head: String = stmt
                    .split_whitespace()
                    .take(6)
                    .collect::<Vec<_>>()
                    .join(" ");
                out.notes.push(format!("{rel_path}:{line}: skipped a statement sqlparser cannot read (`{head} …`): {last_err}"));
                first_failure.get_or_insert((offset, last_err));
            }
        }
    }
    if relevant > 0 && out.steps.is_empty() {
        if let Some((offset, message)) = first_failure {
            out.error = Some(schema_error(
                &file,
                offset,
                format!("no statement could be parsed: {message}"),
            ));
        }
    }
    out
}

/// A table as the replayed migrations leave it.
#[derive(Debug, Clone, Default)]
struct TableState {
    table: Table,
    /// Each column and whether its type is an integer.
    columns: Vec<(String, bool)>,
    /// Constraint or index names, parallel to `table.unique` and `table.foreign_keys`.
    unique_names: Vec<Option<String>>,
    fk_names: Vec<Option<String>>,
    /// Names other than its own that migrations use for the table.
    labels: Vec<String>,
}

/// The schema that the migrations replayed so far describe.
#[derive(Debug, Default)]
pub struct MigrationState {
    tables: Vec<TableState>,
    pub notes: Vec<String>,
}

fn key(name: &str) -> String {
    name.to_lowercase()
}

/// Whether a key is the one `wanted` names: by its own name, or, when it was
/// created without one, by the name PostgreSQL gives it (`case_assignee_id_fkey`,
/// `user_email_key`), which is what a later migration drops it by.
fn named_or_defaulted(
    name: Option<&str>,
    table: &str,
    columns: &[String],
    suffix: &str,
    wanted: &str,
) -> bool {
    match name {
        Some(name) => key(name) == wanted,
        None => key(&format!("{table}_{}_{suffix}", columns.join("_"))) == wanted,
    }
}

fn ident(id: &Ident) -> String {
    id.value.clone()
}

/// A table name without the default schema (`public`, `dbo`, `main`), which code never spells.
fn object_name(name: &ObjectName) -> String {
    let parts: Vec<String> = name
        .0
        .iter()
        .filter_map(|p| match p {
            ObjectNamePart::Identifier(id) => Some(ident(id)),
            ObjectNamePart::Function(_) => None,
        })
        .collect();
    match parts.as_slice() {
        [schema, table] if matches!(schema.to_lowercase().as_str(), "public" | "dbo" | "main") => {
            table.clone()
        }
        _ => parts.join("."),
    }
}

fn is_integer(ty: &DataType) -> bool {
    let text = ty.to_string().to_lowercase();
    let first = text
        .split(|c: char| c == '(' || c.is_whitespace())
        .next()
        .unwrap_or("");
    matches!(
        first,
        "int"
            | "integer"
            | "bigint"
            | "smallint"
            | "tinyint"
            | "mediumint"
            | "int2"
            | "int4"
            | "int8"
            | "serial"
            | "bigserial"
            | "smallserial"
            | "serial2"
            | "serial4"
            | "serial8"
            | "unsigned"
    )
}

fn action(a: Option<ReferentialAction>) -> OnDelete {
    match a {
        Some(ReferentialAction::Cascade) => OnDelete::Cascade,
        Some(ReferentialAction::SetNull) => OnDelete::SetNull,
        Some(ReferentialAction::SetDefault) => OnDelete::SetDefault,
        Some(ReferentialAction::Restrict) => OnDelete::Restrict,
        Some(ReferentialAction::NoAction) | None => OnDelete::NoAction,
    }
}

fn index_columns(cols: &[IndexColumn]) -> Option<Vec<String>> {
    cols.iter()
        .map(|c| match &c.column.expr {
            Expr::Identifier(id) => Some(ident(id)),
            Expr::CompoundIdentifier(ids) => ids.last().map(ident),
            _ => None,
        })
        .collect()
}

impl MigrationState {
    fn find(&mut self, name: &str) -> Option<&mut TableState> {
        let k = key(name);
        self.tables
            .iter_mut()
            .find(|t| key(&t.table.name) == k || t.labels.iter().any(|l| key(l) == k))
    }

    /// The database name of a table named by its name or a label.
    fn name_of(&mut self, name: &str) -> String {
        self.find(name)
            .map_or_else(|| name.to_string(), |t| t.table.name.clone())
    }

    fn change(&mut self, change: Change, at: &str) {
        let unknown = |notes: &mut Vec<String>, table: &str| {
            notes.push(format!("{at}: change to unknown table `{table}`; skipped"));
        };
        match change {
            Change::CreateTable {
                table,
                columns,
                labels,
            } => {
                let k = key(&table.name);
                self.tables.retain(|t| key(&t.table.name) != k);
                let fk_names = vec![None; table.foreign_keys.len()];
                let unique_names = vec![None; table.unique.len()];
                self.tables.push(TableState {
                    table,
                    columns,
                    unique_names,
                    fk_names,
                    labels,
                });
            }
            Change::DropTable(name) => {
                let name = self.name_of(&name);
                self.tables.retain(|t| key(&t.table.name) != key(&name));
            }
            Change::RenameTable { from, to } => {
                let from = self.name_of(&from);
                self.rename(&from, &to);
            }
            Change::DropConstraint { table, name } => {
                let table = table.map(|t| self.name_of(&t));
                self.drop_named(table.as_deref(), &name);
            }
            Change::AddColumn {
                table,
                column,
                integer,
            } => match self.find(&table) {
                Some(state) => {
                    state.columns.retain(|(c, _)| key(c) != key(&column));
                    if integer && column.eq_ignore_ascii_case("version") {
                        state.table.version_column = Some(column.clone());
                    }
                    state.columns.push((column, integer));
                }
                None => unknown(&mut self.notes, &table),
            },
            Change::DropColumn { table, column } => match self.find(&table) {
                Some(state) => drop_column(state, &column),
                None => unknown(&mut self.notes, &table),
            },
            Change::RenameColumn { table, from, to } => match self.find(&table) {
                Some(state) => rename_column(state, &from, &to),
                None => unknown(&mut self.notes, &table),
            },
            Change::DropColumnKeys { table, column } => match self.find(&table) {
                Some(state) => {
                    let single = vec![column.clone()];
                    while let Some(i) = state.table.unique.iter().position(|u| *u == single) {
                        state.table.unique.remove(i);
                        state.unique_names.remove(i);
                    }
                    while let Some(i) = state
                        .table
                        .foreign_keys
                        .iter()
                        .position(|f| f.columns == single)
                    {
                        state.table.foreign_keys.remove(i);
                        state.fk_names.remove(i);
                    }
                }
                None => unknown(&mut self.notes, &table),
            },
            Change::Relabel {
                table,
                from_default,
                to_default,
                labels,
            } => {
                let Some(state) = self.find(&table) else {
                    return unknown(&mut self.notes, &table);
                };
                let old = state.table.name.clone();
                state.labels.extend(labels);
                if key(&old) == key(&from_default) {
                    self.rename(&old, &to_default);
                }
            }
            Change::AddUniqueFields {
                table,
                fields,
                name,
            } => match self.find(&table) {
                Some(state) => {
                    let columns = fields
                        .into_iter()
                        .map(|f| {
                            let fk = format!("{f}_id");
                            let has = |c: &str| state.columns.iter().any(|(x, _)| key(x) == key(c));
                            if !has(&f) && has(&fk) {
                                fk
                            } else {
                                f
                            }
                        })
                        .collect();
                    push_unique(state, columns, name);
                }
                None => unknown(&mut self.notes, &table),
            },
            Change::SetPrimaryKey { table, columns } => match self.find(&table) {
                Some(state) => state.table.primary_key = columns,
                None => unknown(&mut self.notes, &table),
            },
            Change::AddUnique {
                table,
                columns,
                name,
            } => match self.find(&table) {
                Some(state) => push_unique(state, columns, name),
                None => unknown(&mut self.notes, &table),
            },
            Change::AddForeignKey {
                table,
                foreign_key,
                name,
            } => match self.find(&table) {
                Some(state) => {
                    state.table.foreign_keys.push(foreign_key);
                    state.fk_names.push(name);
                }
                None => unknown(&mut self.notes, &table),
            },
        }
    }

    /// Replays one parsed file on top of what came before.
    pub fn apply(&mut self, file: ParsedMigration) {
        self.notes.extend(file.notes);
        for (step, line) in file.steps {
            let at = |span_line: u64| {
                let l = if span_line > 0 {
                    line + span_line as u32 - 1
                } else {
                    line
                };
                format!("{}:{l}", file.path)
            };
            match step {
                Step::Sql(stmt) => self.statement(*stmt, &at),
                Step::Change(change) => self.change(*change, &at(0)),
            }
        }
    }

    fn statement(&mut self, stmt: Statement, at: &dyn Fn(u64) -> String) {
        match stmt {
            Statement::CreateTable(ct) => {
                if ct.temporary || ct.like.is_some() || ct.clone.is_some() {
                    return;
                }
                let name = object_name(&ct.name);
                if ct.if_not_exists && self.find(&name).is_some() {
                    return;
                }
                self.tables.retain(|t| key(&t.table.name) != key(&name));
                let first_line = ct.name.0.first().map_or(0, |p| match p {
                    ObjectNamePart::Identifier(id) => id.span.start.line,
                    ObjectNamePart::Function(_) => 0,
                });
                let mut state = TableState {
                    table: Table {
                        name: name.clone(),
                        sources: vec![at(first_line)],
                        ..Table::default()
                    },
                    ..TableState::default()
                };
                for col in &ct.columns {
                    add_column(&mut state, col, at);
                }
                for c in ct.constraints {
                    add_constraint(&mut state, c, at);
                }
                self.tables.push(state);
            }
            Statement::AlterTable(alter) => {
                let name = object_name(&alter.name);
                for op in alter.operations {
                    self.alter(&name, op, at);
                }
            }
            Statement::CreateIndex(ci) if ci.unique => {
                let table = object_name(&ci.table_name);
                let index_name = ci.name.as_ref().map(object_name);
                let Some(cols) = index_columns(&ci.columns) else {
                    self.notes.push(format!(
                        "{}: unique index on an expression over `{table}` is not a column key; skipped",
                        at(0)
                    ));
                    return;
                };
                match self.find(&table) {
                    Some(state) => push_unique(state, cols, index_name),
                    None => self.notes.push(format!(
                        "{}: unique index on unknown table `{table}`",
                        at(0)
                    )),
                }
            }
            Statement::Drop {
                object_type: ObjectType::Table,
                names,
                ..
            } => {
                for n in names {
                    let k = key(&object_name(&n));
                    self.tables.retain(|t| key(&t.table.name) != k);
                }
            }
            Statement::Drop {
                object_type: ObjectType::Index,
                names,
                ..
            } => {
                for n in names {
                    self.drop_named(None, &object_name(&n));
                }
            }
            Statement::RenameTable(renames) => {
                for r in renames {
                    self.rename(&object_name(&r.old_name), &object_name(&r.new_name));
                }
            }
            _ => {}
        }
    }

    fn alter(&mut self, table: &str, op: AlterTableOperation, at: &dyn Fn(u64) -> String) {
        if let AlterTableOperation::RenameTable { table_name } = &op {
            let new = match table_name {
                RenameTableNameKind::As(n) | RenameTableNameKind::To(n) => object_name(n),
            };
            self.rename(table, &new);
            return;
        }
        let Some(state) = self.find(table) else {
            self.notes.push(format!(
                "{}: ALTER TABLE of unknown table `{table}`; skipped",
                at(0)
            ));
            return;
        };
        match op {
            AlterTableOperation::AddConstraint { constraint, .. } => {
                add_constraint(state, constraint, at)
            }
            AlterTableOperation::AddColumn { column_def, .. } => add_column(state, &column_def, at),
            AlterTableOperation::DropConstraint { name, .. }
            | AlterTableOperation::DropForeignKey { name, .. }
            | AlterTableOperation::DropIndex { name } => {
                let table = table.to_string();
                self.drop_named(Some(&table), &ident(&name));
            }
            AlterTableOperation::DropPrimaryKey { .. } => state.table.primary_key.clear(),
            AlterTableOperation::DropColumn { column_names, .. } => {
                for c in column_names {
                    drop_column(state, &ident(&c));
                }
            }
            AlterTableOperation::RenameColumn {
                old_column_name,
                new_column_name,
            } => {
                rename_column(state, &ident(&old_column_name), &ident(&new_column_name));
            }
            _ => {}
        }
    }

    /// Drops a named unique key or foreign key, in `table` or, for `DROP INDEX`, anywhere.
    fn drop_named(&mut self, table: Option<&str>, name: &str) {
        let k = key(name);
        for state in &mut self.tables {
            if table.is_some_and(|t| key(t) != key(&state.table.name)) {
                continue;
            }
            let table_name = state.table.name.clone();
            while let Some(i) = state.unique_names.iter().enumerate().position(|(i, n)| {
                named_or_defaulted(n.as_deref(), &table_name, &state.table.unique[i], "key", &k)
            }) {
                state.unique_names.remove(i);
                state.table.unique.remove(i);
            }
            while let Some(i) = state.fk_names.iter().enumerate().position(|(i, n)| {
                let columns = &state.table.foreign_keys[i].columns;
                named_or_defaulted(n.as_deref(), &table_name, columns, "fkey", &k)
            }) {
                state.fk_names.remove(i);
                state.table.foreign_keys.remove(i);
            }
        }
    }

    fn rename(&mut self, old: &str, new: &str) {
        let (ko, new) = (key(old), new.to_string());
        for state in &mut self.tables {
            if key(&state.table.name) == ko {
                state.table.name = new.clone();
            }
            for fk in &mut state.table.foreign_keys {
                if key(&fk.references) == ko {
                    fk.references = new.clone();
                }
            }
        }
    }

    /// The tables, with a foreign key's missing referenced columns filled from the
    /// referenced primary key (`REFERENCES users` means `users(id)` when that is the key).
    pub fn finish(self) -> FileSchema {
        let labels: Vec<(String, String)> = self
            .tables
            .iter()
            .flat_map(|s| s.labels.iter().map(|l| (key(l), s.table.name.clone())))
            .collect();
        let mut tables: Vec<Table> = self.tables.into_iter().map(|s| s.table).collect();
        for fk in tables.iter_mut().flat_map(|t| t.foreign_keys.iter_mut()) {
            if let Some((_, name)) = labels.iter().find(|(l, _)| *l == key(&fk.references)) {
                fk.references = name.clone();
            }
        }
        let pks: Vec<(String, Vec<String>)> = tables
            .iter()
            .map(|t| (key(&t.name), t.primary_key.clone()))
            .collect();
        for t in &mut tables {
            for fk in &mut t.foreign_keys {
                if fk.referenced_columns.is_empty() {
                    if let Some((_, pk)) = pks.iter().find(|(k, _)| *k == key(&fk.references)) {
                        fk.referenced_columns = pk.clone();
                    }
                }
            }
        }
        FileSchema {
            tables,
            notes: self.notes,
            error: None,
        }
    }
}

fn push_unique(state: &mut TableState, cols: Vec<String>, name: Option<String>) {
    if !cols.is_empty() && !state.table.unique.contains(&cols) {
        state.table.unique.push(cols);
        state.unique_names.push(name);
    }
}

fn add_column(state: &mut TableState, col: &ColumnDef, at: &dyn Fn(u64) -> String) {
    let name = ident(&col.name);
    let int = is_integer(&col.data_type);
    state.columns.retain(|(c, _)| c != &name);
    state.columns.push((name.clone(), int));
    if int && name.eq_ignore_ascii_case("version") {
        state.table.version_column = Some(name.clone());
    }
    for opt in &col.options {
        let constraint_name = opt.name.as_ref().map(ident);
        match &opt.option {
            ColumnOption::PrimaryKey(_) => state.table.primary_key = vec![name.clone()],
            ColumnOption::Unique(_) => push_unique(state, vec![name.clone()], constraint_name),
            ColumnOption::ForeignKey(fk) => {
                state.table.foreign_keys.push(ForeignKey {
                    columns: vec![name.clone()],
                    references: object_name(&fk.foreign_table),
                    referenced_columns: fk.referred_columns.iter().map(ident).collect(),
                    on_delete: action(fk.on_delete),
                    on_delete_known: true,
                    source: at(col.name.span.start.line),
                });
                state.fk_names.push(constraint_name);
            }
            _ => {}
        }
    }
}

fn add_constraint(state: &mut TableState, c: TableConstraint, at: &dyn Fn(u64) -> String) {
    match c {
        TableConstraint::PrimaryKey(pk) => {
            if let Some(cols) = index_columns(&pk.columns) {
                state.table.primary_key = cols;
            }
        }
        TableConstraint::Unique(u) => {
            if let Some(cols) = index_columns(&u.columns) {
                push_unique(state, cols, u.name.as_ref().map(ident));
            }
        }
        TableConstraint::ForeignKey(fk) => {
            let line = fk.columns.first().map_or(0, |c| c.span.start.line);
            state.table.foreign_keys.push(ForeignKey {
                columns: fk.columns.iter().map(ident).collect(),
                references: object_name(&fk.foreign_table),
                referenced_columns: fk.referred_columns.iter().map(ident).collect(),
                on_delete: action(fk.on_delete),
                on_delete_known: true,
                source: at(line),
            });
            state.fk_names.push(fk.name.as_ref().map(ident));
        }
        _ => {}
    }
}

/// Postgres drops every constraint that uses a dropped column.
fn drop_column(state: &mut TableState, col: &str) {
    let k = key(col);
    let uses = |cols: &[String]| cols.iter().any(|c| key(c) == k);
    state.columns.retain(|(c, _)| key(c) != k);
    if uses(&state.table.primary_key) {
        state.table.primary_key.clear();
    }
    let mut i = 0;
    while i < state.table.unique.len() {
        if uses(&state.table.unique[i]) {
            state.table.unique.remove(i);
            state.unique_names.remove(i);
        } else {
            i += 1;
        }
    }
    let mut i = 0;
    while i < state.table.foreign_keys.len() {
        if uses(&state.table.foreign_keys[i].columns) {
            state.table.foreign_keys.remove(i);
            state.fk_names.remove(i);
        } else {
            i += 1;
        }
    }
    if state.table.version_column.as_deref().map(key) == Some(k) {
        state.table.version_column = None;
    }
}

fn rename_column(state: &mut TableState, old: &str, new: &str) {
    let k = key(old);
    let swap = |c: &mut String| {
        if key(c) == k {
            *c = new.to_string();
        }
    };
    state.table.primary_key.iter_mut().for_each(swap);
    state.table.unique.iter_mut().flatten().for_each(swap);
    state
        .table
        .foreign_keys
        .iter_mut()
        .flat_map(|f| f.columns.iter_mut())
        .for_each(swap);
    if state.table.version_column.as_deref().map(key) == Some(k.clone()) {
        state.table.version_column = None;
    }
    let mut int = false;
    for (c, is_int) in &mut state.columns {
        if key(c) == k {
            *c = new.to_string();
            int = *is_int;
        }
    }
    if int && new.eq_ignore_ascii_case("version") {
        state.table.version_column = Some(new.to_string());
    }
}

/// Replays several files, in path order, into one schema. Files with an Alembic
/// revision take the places such files hold, in revision order.
pub fn replay(files: impl IntoIterator<Item = ParsedMigration>) -> FileSchema {
    let mut state = MigrationState::default();
    let files: Vec<ParsedMigration> = files.into_iter().collect();
    // A squashed Django migration stands for the ones it replaces.
    let replaced: Vec<(String, String)> = files
        .iter()
        .filter_map(|f| f.django.as_ref())
        .flat_map(|d| {
            d.replaces
                .iter()
                .map(|(app, name)| (app.clone(), name.clone()))
        })
        .collect();
    let files = files.into_iter().filter(|f| {
        f.django.as_ref().is_none_or(|d| {
            !replaced
                .iter()
                .any(|(app, name)| *app == d.app && *name == d.name)
        })
    });
    for f in revision_order(files.collect()) {
        state.apply(f);
    }
    state.finish()
}

/// Path order, except that revisioned files follow their `down_revision` chain
/// (a topological order, ties by path); a revision whose parent is missing is a root.
fn revision_order(files: Vec<ParsedMigration>) -> Vec<ParsedMigration> {
    let slots: Vec<bool> = files.iter().map(|f| f.revision.is_some()).collect();
    let (mut revisioned, plain): (Vec<_>, Vec<_>) =
        files.into_iter().partition(|f| f.revision.is_some());
    let ids: Vec<String> = revisioned
        .iter()
        .map(|f| f.revision.as_ref().map_or(String::new(), |r| r.id.clone()))
        .collect();
    let mut pending: Vec<usize> = revisioned
        .iter()
        .map(|f| {
            f.revision
                .as_ref()
                .map_or(0, |r| r.parents.iter().filter(|p| ids.contains(p)).count())
        })
        .collect();
    let mut order = Vec::with_capacity(revisioned.len());
    let mut done = vec![false; revisioned.len()];
    while order.len() < revisioned.len() {
        // The first ready file by path; on a cycle, the first left.
        let next = (0..revisioned.len())
            .find(|&i| !done[i] && pending[i] == 0)
            .or_else(|| (0..revisioned.len()).find(|&i| !done[i]));
        let Some(i) = next else { break };
        done[i] = true;
        order.push(i);
        for (j, f) in revisioned.iter().enumerate() {
            if let Some(r) = &f.revision {
                if !done[j] {
                    pending[j] -= r
                        .parents
                        .iter()
                        .filter(|p| **p == ids[i])
                        .count()
                        .min(pending[j]);
                }
            }
        }
    }
    let mut taken: Vec<Option<ParsedMigration>> = revisioned.drain(..).map(Some).collect();
    let mut ordered = order.into_iter().filter_map(|i| taken[i].take());
    let mut plain = plain.into_iter();
    slots
        .into_iter()
        .filter_map(|revisioned| {
            if revisioned {
                ordered.next()
            } else {
                plain.next()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(files: &[(&str, &str)]) -> FileSchema {
        replay(files.iter().map(|(p, t)| parse(p, t)))
    }

    #[test]
    fn splitter_survives_dollar_bodies_strings_and_copy() {
        let sql = r#"
CREATE FUNCTION f() RETURNS trigger AS $body$
BEGIN NEW.updated = now(); RETURN NEW; END;
$body$ LANGUAGE plpgsql;
DO $$ BEGIN PERFORM 1; END $$;
INSERT INTO t VALUES ('a;b', 'it''s; fine', E'back\'slash;');
COPY t (a) FROM stdin;
x;y
\.
-- a comment; with a semicolon
CREATE TABLE "a;b" (id int); /* trailing; */
"#;
        let stmts: Vec<&str> = split_statements(sql).into_iter().map(|(_, s)| s).collect();
        assert_eq!(stmts.len(), 5, "{stmts:#?}");
        assert!(stmts[0].ends_with("LANGUAGE plpgsql"));
        assert!(stmts[1].starts_with("DO $$"));
        assert!(stmts[3].starts_with("COPY"));
        assert_eq!(stmts[4], r#"CREATE TABLE "a;b" (id int)"#);
    }

    #[test]
    fn prisma_style_migration() {
        let sql = r#"-- CreateEnum
CREATE TYPE "Status" AS ENUM ('A', 'B');

-- CreateTable
CREATE TABLE "LudicDesign" (
    "id" TEXT NOT NULL,
    "deliberationId" TEXT NOT NULL,
    CONSTRAINT "LudicDesign_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "LudicTrace" (
    "id" TEXT NOT NULL,
    "posDesignId" TEXT NOT NULL,
    "version" INTEGER NOT NULL DEFAULT 0,
    CONSTRAINT "LudicTrace_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "LudicDesign_deliberationId_key" ON "LudicDesign"("deliberationId");

-- AddForeignKey
ALTER TABLE "LudicTrace" ADD CONSTRAINT "LudicTrace_posDesignId_fkey" FOREIGN KEY ("posDesignId") REFERENCES "LudicDesign"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
"#;
        let s = schema(&[("prisma/migrations/20250101_init/migration.sql", sql)]);
        assert_eq!(s.tables.len(), 2);
        let design = &s.tables[0];
        assert_eq!(design.name, "LudicDesign");
        assert_eq!(design.primary_key, ["id"]);
        assert_eq!(design.unique, [vec!["deliberationId".to_string()]]);
        assert_eq!(
            design.sources,
            ["prisma/migrations/20250101_init/migration.sql:5"]
        );
        let trace = &s.tables[1];
        assert_eq!(trace.version_column.as_deref(), Some("version"));
        let fk = &trace.foreign_keys[0];
        assert_eq!(fk.references, "LudicDesign");
        assert_eq!(fk.on_delete, OnDelete::Restrict);
        assert_eq!(
            fk.source,
            "prisma/migrations/20250101_init/migration.sql:23"
        );
    }

    #[test]
    fn later_migrations_change_earlier_tables() {
        let first = "CREATE TABLE public.users (id serial PRIMARY KEY, email text UNIQUE);\n\
                     CREATE TABLE posts (id bigint PRIMARY KEY, user_id int REFERENCES users ON DELETE CASCADE, slug text);\n\
                     CREATE TABLE tmp (id int);";
        let second = "ALTER TABLE posts ADD COLUMN version integer NOT NULL DEFAULT 1;\n\
                      ALTER TABLE posts ADD CONSTRAINT posts_slug_key UNIQUE (user_id, slug);\n\
                      ALTER TABLE users RENAME TO accounts;\n\
                      DROP TABLE tmp;\n\
                      CREATE OR REPLACE FUNCTION broken( $$ nonsense;";
        let third = "ALTER TABLE posts DROP CONSTRAINT posts_slug_key;\nCREATE UNIQUE INDEX posts_slug ON posts USING btree (slug) WHERE deleted_at IS NULL;";
        let s = schema(&[
            ("migrations/0001_init.sql", first),
            ("migrations/0002_more.sql", second),
            ("migrations/0003_slug.sql", third),
        ]);
        let names: Vec<_> = s.tables.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["accounts", "posts"]);
        assert_eq!(s.tables[0].unique, [vec!["email".to_string()]]);
        let posts = &s.tables[1];
        assert_eq!(posts.version_column.as_deref(), Some("version"));
        assert_eq!(posts.unique, [vec!["slug".to_string()]]);
        assert_eq!(posts.foreign_keys[0].references, "accounts");
        assert_eq!(
            posts.foreign_keys[0].referenced_columns,
            ["id"],
            "filled from the primary key"
        );
        assert_eq!(posts.foreign_keys[0].on_delete, OnDelete::Cascade);
    }

    #[test]
    fn mysql_and_sqlite_shapes_and_absent_on_delete() {
        let mysql = "CREATE TABLE `orders` (\n  `id` int NOT NULL AUTO_INCREMENT,\n  `customer_id` int NOT NULL,\n  PRIMARY KEY (`id`),\n  UNIQUE KEY `uq` (`customer_id`, `id`),\n  CONSTRAINT `fk` FOREIGN KEY (`customer_id`) REFERENCES `customers` (`id`)\n) ENGINE=InnoDB;";
        let sqlite = "CREATE TABLE IF NOT EXISTS customers (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT);";
        let s = schema(&[("a.sql", sqlite), ("b.sql", mysql)]);
        let orders = s.tables.iter().find(|t| t.name == "orders").unwrap();
        assert_eq!(orders.primary_key, ["id"]);
        assert_eq!(
            orders.unique,
            [vec!["customer_id".to_string(), "id".to_string()]]
        );
        assert_eq!(orders.foreign_keys[0].on_delete, OnDelete::NoAction);
        assert!(s.tables.iter().any(|t| t.name == "customers"));
    }

    #[test]
    fn ddl_inside_do_blocks_counts() {
        let sql = "CREATE TABLE a (id int PRIMARY KEY);\nCREATE TABLE b (id int PRIMARY KEY, a_id int);\n--> statement-breakpoint\nDO $$ BEGIN\n ALTER TABLE \"b\" ADD CONSTRAINT \"b_a_fk\" FOREIGN KEY (\"a_id\") REFERENCES \"public\".\"a\"(\"id\") ON DELETE cascade ON UPDATE no action;\nEXCEPTION\n WHEN duplicate_object THEN null;\nEND $$;";
        let s = schema(&[("drizzle/0000_init.sql", sql)]);
        let fk = &s.tables[1].foreign_keys[0];
        assert_eq!(fk.on_delete, OnDelete::Cascade);
        assert_eq!(fk.references, "a");
        assert_eq!(fk.source, "drizzle/0000_init.sql:5");
    }

    #[test]
    fn a_bad_statement_is_a_note_a_bad_file_an_error() {
        let partly = parse(
            "m.sql",
            "CREATE TABLE a (id int PRIMARY KEY);\nCREATE TABLE b (id int PRIMARY KEY,, oops);",
        );
        assert!(partly.error.is_none());
        assert_eq!(partly.notes.len(), 1);
        assert!(
            partly.notes[0].starts_with("m.sql:2:"),
            "{}",
            partly.notes[0]
        );
        let broken = parse("x.sql", "\n\nCREATE TABLE (;");
        assert_eq!(broken.error.unwrap().position.unwrap().line, 3);
    }
}
