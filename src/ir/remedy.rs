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
    /// The database the table lives in, when the schema says.
    pub database: Option<crate::schema::Database>,
    /// The unique keys the schema declares on the table, each in declared order.
    pub unique_keys: Vec<Vec<String>>,
}

impl Target {
    /// The database, PostgreSQL when the schema does not say (what most projects run).
    pub fn database_or_default(&self) -> crate::schema::Database {
        self.database.unwrap_or(crate::schema::Database::Postgres)
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
