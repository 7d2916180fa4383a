//! The fixes rules recommend, in neutral terms; each client spells them out.
//!
//! A rule decides *what* would close the race (an upsert, a lock taken first, a
//! transaction); the client module of the code in question renders *how* in that
//! client's API (`frontend::suggest`). Names are the ones the code uses.

/// What the code at the finding looks like, for the client to echo back.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Target {
    /// The table as the code names it (`invite`, `invites`, `users::table`).
    pub table: String,
    /// The handle the code calls through (`prisma`, `db`, `ctx.db`, `&pool`).
    pub handle: String,
    /// Columns and the code of their values, from the filter of the read or write.
    pub key: Vec<(String, String)>,
    /// Columns and the code of their values, from the data being written.
    pub values: Vec<(String, String)>,
    /// The call as written after its handle (`.user.create({ data })`), when the
    /// handle is the call's receiver: a client can replay it through another handle.
    /// Lines after the first are re-indented relative to the statement's line.
    pub call: Option<String>,
    /// The filter and the data as written (`{ id: { in: ids } }`), re-indented like
    /// `call`, for a fix that must keep every operator and nested write.
    pub filter_code: Option<String>,
    pub values_code: Option<String>,
    /// The database the table lives in: what its schema source says, else what
    /// the package's configuration says (`schema::dialect`).
    pub database: crate::schema::dialect::Dialect,
    /// The unique keys the schema declares on the table, each in declared order.
    pub unique_keys: Vec<Vec<String>>,
}

impl Target {
    /// The database a snippet is spelled for: PostgreSQL when nothing says
    /// (what most projects run), none when the project supports several.
    pub fn spelled_database(&self) -> Option<crate::schema::Database> {
        self.database.spelled()
    }
}

/// `text` with every line after the first indented by `indent` more.
pub fn indent_rest(text: &str, indent: &str) -> String {
    let mut lines = text.lines();
    let mut out = lines.next().unwrap_or_default().to_string();
    for line in lines {
        out.push('\n');
        if !line.trim().is_empty() {
            out.push_str(indent);
        }
        out.push_str(line);
    }
    out
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Remedy {
    /// Let the insert itself decide: `upsert`, `INSERT … ON CONFLICT (key) DO …`.
    InsertOnConflict { target: Target },
    /// Put the checked state into the write's filter and look at the affected-row count.
    ConditionalWrite {
        target: Target,
        /// `(column, the value the check expected)`, e.g. `("status", "'free'")`.
        state: Vec<(String, String)>,
    },
    /// Rely on a unique key and handle the violation the losing insert raises.
    HandleUniqueViolation {
        target: Target,
        unique_key: Vec<String>,
    },
    /// Open a transaction, lock the row (or an advisory key) first, then check and write.
    LockThenCheck { target: Target },
    /// Run these writes in one transaction. `open` is the handle of a transaction
    /// the code already holds for some of them (`tx`): the others move into it.
    Transaction {
        targets: Vec<Target>,
        open: Option<String>,
    },
    /// Compare-and-swap on a version column and check the count.
    OptimisticLock {
        target: Target,
        version_column: String,
    },
    /// Let the database compute the new value from the current one.
    AtomicUpdate { target: Target, column: String },
    /// Take a number (a count, a max) and write it in one transaction that first
    /// locks the key the rows are numbered within (`read.key`): the read and the
    /// write as the code made them, replayed through the transaction's handle.
    /// `binding` is the variable the read's result is bound to.
    NumberUnderLock {
        read: Target,
        binding: Option<String>,
        write: Target,
    },
    /// Delete the children first: the tables in the order they must be deleted.
    DeleteOrder { targets: Vec<Target> },
}

impl Remedy {
    /// The first table the fix is about, whose database it is spelled for.
    pub fn first_target(&self) -> Option<&Target> {
        match self {
            Remedy::InsertOnConflict { target }
            | Remedy::ConditionalWrite { target, .. }
            | Remedy::HandleUniqueViolation { target, .. }
            | Remedy::LockThenCheck { target }
            | Remedy::OptimisticLock { target, .. }
            | Remedy::AtomicUpdate { target, .. } => Some(target),
            Remedy::NumberUnderLock { read, .. } => Some(read),
            Remedy::Transaction { targets, .. } | Remedy::DeleteOrder { targets } => {
                targets.first()
            }
        }
    }
}

/// The statements of one block that hold a race's writes, from the first to the
/// last, as a frontend found them: what a fix that edits the code moves or wraps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatementRun {
    /// From the start of the first statement's line to the end of the last statement.
    pub span: super::Span,
    /// Each statement of the run, from its line's start to its end.
    pub statements: Vec<super::Span>,
    /// The names each statement declares or assigns, in the order of `statements`.
    pub declares: Vec<Vec<String>>,
    /// The indentation of the first statement's line.
    pub indent: String,
    /// One step of the file's indentation (`"  "`, `"    "`).
    pub unit: String,
    /// Names the statements declare that later code of the block uses.
    pub used_after: Vec<String>,
    /// Of those, the ones declared alone by a plain `const x = …` / `let x = …`, a
    /// declaration a wrapper can hand out as its result.
    pub simple: Vec<String>,
}

/// Why a frontend offers no statement run for a set of spans.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoRun {
    /// The file does not parse here, or the spans are not statements of one block.
    NotOneBlock,
    /// A statement of the run returns, breaks, continues or yields.
    ControlFlow,
}

/// What a client needs to wrap statements in its transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wrap<'a> {
    /// The handle the writes go through, as written (`prisma`, `this.db`, `self.pool`).
    pub handle: String,
    /// The statements, every line but the first starting at the first's indentation
    /// level (stripped), so the client can indent them anew.
    pub body: String,
    /// Where, in `body`, the writes' handle is written as the call's receiver: the
    /// places to rename to the transaction's handle.
    pub handle_spans: Vec<std::ops::Range<usize>>,
    pub indent: String,
    pub unit: String,
    /// A name the statements declare that code after them uses: the wrapper
    /// returns it and declares it outside.
    pub result: Option<String>,
    /// The whole file, for a client to see what it already imports.
    pub file: &'a str,
}

impl Wrap<'_> {
    /// The body with the receiver handles renamed to `to`.
    pub fn renamed(&self, to: &str) -> String {
        let mut out = self.body.clone();
        let mut spans = self.handle_spans.clone();
        spans.sort_by_key(|r| std::cmp::Reverse(r.start));
        for r in spans {
            if out.is_char_boundary(r.start) && out.is_char_boundary(r.end) && r.end <= out.len() {
                out.replace_range(r, to);
            }
        }
        out
    }

    /// `body` indented by `indent` plus one `unit`, line by line (blank lines kept
    /// blank).
    pub fn indented(&self, body: &str) -> String {
        body.lines()
            .map(|l| {
                if l.trim().is_empty() {
                    String::new()
                } else {
                    format!("{}{}{l}", self.indent, self.unit)
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// The file's indentation step: the leading whitespace of its first indented line
/// that is not inside a block comment.
pub fn indent_unit(src: &str) -> String {
    src.lines()
        .filter(|l| !l.trim_start().starts_with('*'))
        .map(|l| &l[..l.len() - l.trim_start().len()])
        .find(|w| !w.is_empty() && w.len() <= 8)
        .map_or("    ".to_string(), |w| {
            if w.starts_with('\t') {
                "\t".to_string()
            } else {
                w.to_string()
            }
        })
}

/// `end`, moved past a comment that ends its line (`foo(); // why`), so that an
/// edit of the statement carries its comment along.
pub fn past_trailing_comment(src: &str, end: usize, marker: &str) -> usize {
    let Some(rest) = src.get(end..) else {
        return end;
    };
    let line = rest.split('\n').next().unwrap_or_default();
    if line.trim_start().starts_with(marker) {
        end + line.trim_end().len()
    } else {
        end
    }
}

/// Whether `word` occurs in `text` as a whole identifier.
pub fn mentions_word(text: &str, word: &str) -> bool {
    let ident = |c: char| c.is_alphanumeric() || c == '_' || c == '$';
    !word.is_empty()
        && text.match_indices(word).any(|(i, _)| {
            !text[..i].chars().next_back().is_some_and(ident)
                && !text[i + word.len()..].chars().next().is_some_and(ident)
        })
}
