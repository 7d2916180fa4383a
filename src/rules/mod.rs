//! The rules: each one file, each a function from a lowered [`Function`] to findings.
//!
//! Rules see only the effect model, the discovered schema and facts about the
//! whole project; they never see syntax or an ORM's spelling. Registering a rule
//! is one line in [`RULES`]; its documentation is `rules/<id>.md`, its fixtures
//! live in `fixtures/<id>/`, and tests fail until all exist.

use crate::diagnostic::{Finding, Fix, RuleMeta};
use crate::ir::remedy::{Remedy, Target};
use crate::ir::{Effect, EffectKind, FileModel, Function, Span};
use crate::schema::Schema;
use crate::source::SourceFile;
use std::collections::BTreeMap;

pub mod check_then_act;
pub mod delete_then_create;
pub mod fk_delete_order;
pub mod floating_write_in_tx;
pub mod in_process_lock;
pub mod lock_after_check;
pub mod missing_version_check;
pub mod non_atomic_writes;
pub mod sleep_as_sync;
pub mod tx_client_escape;

pub trait Rule: Sync {
    fn meta(&self) -> &'static RuleMeta;
    fn check(&self, cx: &Context, function: &Function, out: &mut Vec<Finding>);
}

/// Every rule, in the order `racelint rules` lists them.
pub static RULES: &[&dyn Rule] = &[
    &check_then_act::CheckThenAct,
    &non_atomic_writes::NonAtomicWrites,
    &delete_then_create::DeleteThenCreate,
    &missing_version_check::MissingVersionCheck,
    &fk_delete_order::FkDeleteOrder,
    &tx_client_escape::TxClientEscape,
    &floating_write_in_tx::FloatingWriteInTx,
    &sleep_as_sync::SleepAsSync,
    &in_process_lock::InProcessLock,
    &lock_after_check::LockAfterCheck,
];

/// Ids reported by the pipeline itself rather than by a rule.
pub const PIPELINE_IDS: &[&str] = &["unused-suppression", "suppression-missing-reason"];

pub fn find(id: &str) -> Option<&'static dyn Rule> {
    RULES.iter().copied().find(|r| r.meta().id == id)
}

/// What the whole project's code does, gathered before any rule runs.
#[derive(Debug, Default)]
pub struct ProjectFacts {
    /// Table keys deleted somewhere, with one place that does it (`path:line`).
    pub deleted_tables: BTreeMap<String, String>,
    /// The project's SQL functions, for calls into them.
    pub routines: crate::ir::routines::Routines,
    /// Table keys deleted somewhere other than an admin or account-deletion path
    /// (`deleteAccount`, `admin/…`), which ordinary requests race with.
    pub deleted_by_requests: std::collections::BTreeSet<String>,
    /// Table keys whose version column some update bumps (`version: { increment: 1 }`,
    /// `version = version + 1`): the project uses it for optimistic locking.
    pub bumped_versions: std::collections::BTreeSet<String>,
    /// Table keys production code inserts into, with one place that does it
    /// (`path:line`): where a child table's rows come from.
    pub inserted_tables: BTreeMap<String, String>,
}

impl ProjectFacts {
    /// `file` names the file (its display path); files come in path order.
    pub fn add_file(
        &mut self,
        schema: &Schema,
        model: &FileModel,
        file: &str,
        production: bool,
        place: impl Fn(&Effect) -> String,
    ) {
        for function in &model.functions {
            self.routines.add(function, file);
        }
        if !production {
            return;
        }
        for function in model.functions.iter().filter(|f| !f.runs_alone) {
            for effect in &function.effects {
                if bumps_version(schema, effect) {
                    if let Some(table) = &effect.table {
                        self.bumped_versions.insert(schema.table_key(table));
                    }
                }
                if matches!(effect.kind, EffectKind::Insert | EffectKind::Upsert) {
                    if let Some(table) = &effect.table {
                        let key = schema.table_key(table);
                        self.inserted_tables
                            .entry(key)
                            .or_insert_with(|| place(effect));
                    }
                }
                if effect.kind == EffectKind::Delete {
                    if let Some(table) = &effect.table {
                        let key = schema.table_key(table);
                        let place = place(effect);
                        if !is_admin_path(&function.name, &place) && !is_tenant_root(table) {
                            self.deleted_by_requests.insert(key.clone());
                        }
                        self.deleted_tables.entry(key).or_insert(place);
                    }
                }
            }
        }
    }

    pub fn merge(&mut self, other: ProjectFacts) {
        for (table, place) in other.deleted_tables {
            self.deleted_tables.entry(table).or_insert(place);
        }
        for (table, place) in other.inserted_tables {
            self.inserted_tables.entry(table).or_insert(place);
        }
        self.routines.merge(other.routines);
        self.deleted_by_requests.extend(other.deleted_by_requests);
        self.bumped_versions.extend(other.bumped_versions);
    }
}

/// An update that bumps its table's version column.
fn bumps_version(schema: &Schema, effect: &Effect) -> bool {
    if !matches!(effect.kind, EffectKind::Update | EffectKind::Upsert) {
        return false;
    }
    let Some(version) = effect
        .table
        .as_deref()
        .and_then(|t| schema.version_column(t))
    else {
        return false;
    };
    let version = crate::schema::fold_name(version);
    effect.values.iter().any(|v| {
        let code: String = v.value.text.split_whitespace().collect();
        crate::schema::fold_name(&v.column) == version
            && (v.value.atomic || code.contains("+1") || code.contains("increment"))
    })
}

/// The table a whole tenant hangs from (`team`, `workspace`, `organization`,
/// `account`): deleting one of its rows is deleting an account, which few requests
/// do and whose children go with it.
fn is_tenant_root(table: &str) -> bool {
    let name = crate::schema::snake_case(table).to_ascii_lowercase();
    let name = name.rsplit('.').next().unwrap_or(&name);
    matches!(
        name.trim_end_matches('s'),
        "team"
            | "workspace"
            | "organization"
            | "organisation"
            | "org"
            | "account"
            | "tenant"
            | "company"
            | "user"
    )
}

/// Whether a delete happens on an admin path or when an account is deleted: code
/// few requests run, so a race with it is unlikely. Judged from the function's
/// name (`deleteAccount`, `AdminService.removeUser`) and its file's path.
fn is_admin_path(function: &str, place: &str) -> bool {
    let path = place.rsplit_once(':').map_or(place, |(p, _)| p);
    let words = |s: &str| -> Vec<String> {
        crate::schema::snake_case(s)
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_ascii_lowercase)
            .collect()
    };
    let path_words = words(path);
    let name_words = words(function);
    let admin = |w: &Vec<String>| w.iter().any(|w| w == "admin" || w == "superadmin");
    let deletes = name_words.iter().any(|w| {
        matches!(
            w.as_str(),
            "delete" | "remove" | "destroy" | "erase" | "purge"
        )
    });
    let account = name_words.iter().any(|w| {
        matches!(
            w.as_str(),
            "account" | "accounts" | "user" | "users" | "me" | "self" | "profile"
        )
    });
    admin(&path_words) || admin(&name_words) || (deletes && account)
}

/// What a rule may consult besides the function it checks.
pub struct Context<'a> {
    pub schema: &'a Schema,
    pub project: &'a ProjectFacts,
    /// The file's text, for naming things as the code does.
    pub text: &'a str,
    /// The same file with its line index, for pointing at lines.
    pub source: &'a SourceFile,
    /// Tables configured as logs or outboxes (`[non-atomic-writes] log-tables`).
    pub log_tables: &'a [String],
    /// The database the file's package runs on, for tables whose schema source
    /// does not say (`[schema] database`, else `Schemas::database_for`).
    pub database: crate::schema::dialect::Dialect,
    /// The file runs alone (a test, a seed, a script, a migration): nothing else
    /// runs against its database, and what fails there fails in front of its author.
    pub runs_alone: bool,
    /// How many edit fixes may still re-parse the file to find their statements:
    /// each parse costs the whole file, so a file with thousands of findings gets
    /// help text beyond the first ones instead of quadratic work.
    pub statement_parses: std::cell::Cell<usize>,
}

/// Edit fixes per file that may re-parse it ([`Context::statement_parses`]):
/// up to 64, and no more than re-reading 4 MB in all.
pub fn statement_parses_for(bytes: usize) -> usize {
    (4_000_000 / bytes.max(1)).clamp(1, 64)
}

impl Context<'_> {
    /// One re-parse of the file for an edit fix, while the file's allowance lasts.
    fn statement_run(&self, spans: &[Span]) -> Option<crate::ir::remedy::StatementRun> {
        let left = self.statement_parses.get();
        if left == 0 {
            return None;
        }
        self.statement_parses.set(left - 1);
        crate::frontend::statement_run(&self.source.path, self.text, spans).ok()
    }

    /// The database of a table the code names: its schema source's, else the file's.
    pub fn database_of(&self, table: Option<&str>) -> crate::schema::dialect::Dialect {
        table
            .and_then(|t| self.schema.table(t))
            .and_then(|t| t.database)
            .map_or_else(|| self.database, crate::schema::dialect::Dialect::One)
    }

    pub fn table_key(&self, effect: &Effect) -> Option<String> {
        effect.table.as_deref().map(|t| self.schema.table_key(t))
    }

    /// The line of a byte offset, for messages that point elsewhere in the file.
    pub fn line_of(&self, offset: u32) -> usize {
        self.source.position(offset).line as usize
    }

    /// What makes two writes related (RULES.md, "Related" tables): the same table,
    /// a foreign key between the tables, or — when the schema does not know both
    /// tables — rows picked by the same key variable (`where: { projectId }` in
    /// both, or the second keyed by what the first returned). A shared expression
    /// such as `now()` is no key.
    pub fn relation(&self, first: &Effect, second: &Effect) -> Option<Link> {
        let (a, b) = (first.table.as_deref()?, second.table.as_deref()?);
        if self.schema.table_key(a) == self.schema.table_key(b) {
            return Some(Link::SameTable);
        }
        if let Some(fk) = self
            .schema
            .foreign_keys_between(a, b)
            .chain(self.schema.foreign_keys_between(b, a))
            .next()
        {
            let child = if self.schema.foreign_keys_between(a, b).next().is_some() {
                a
            } else {
                b
            };
            return Some(Link::ForeignKey(format!(
                "`{child}.{}` references `{}`",
                fk.columns.join(", "),
                fk.references
            )));
        }
        if self.schema.table(a).is_some() && self.schema.table(b).is_some() {
            return None;
        }
        let keys = |fields: &[crate::ir::Field]| -> Vec<String> {
            fields
                .iter()
                .filter(|f| is_key_code(&f.value))
                .map(|f| f.value.text.clone())
                .collect()
        };
        let (first_filter, second_filter) = (keys(&first.filter), keys(&second.filter));
        let first_all = [first_filter.clone(), keys(&first.values)].concat();
        let second_all = [second_filter.clone(), keys(&second.values)].concat();
        // One write is keyed by a value the other uses (`where: { id: projectId }`
        // and `data: { projectId }`); two inserts merely carrying the same value are
        // siblings, not related.
        if let Some(key) = second_all
            .iter()
            .find(|k| first_filter.contains(k))
            .or_else(|| second_filter.iter().find(|k| first_all.contains(k)))
        {
            return Some(Link::SameKey(key.clone()));
        }
        let binding = first.binding.as_deref()?;
        second_all
            .iter()
            .any(|k| {
                k == binding
                    || k.starts_with(&format!("{binding}."))
                    || k.starts_with(&format!("{binding}?."))
            })
            .then(|| Link::UsesResult(binding.to_string()))
    }

    /// Tables that record what happened rather than state: logs, audits, outboxes,
    /// events, and those configured as such.
    pub fn is_log_like(&self, effect: &Effect) -> bool {
        let Some(table) = effect.table.as_deref() else {
            return false;
        };
        let folded = crate::schema::fold_name(table);
        self.log_tables
            .iter()
            .any(|t| crate::schema::fold_name(t) == folded)
            || log_like_name(table)
    }

    /// The table's version column, when the project uses it as one: the ORM
    /// declares it, or some update bumps it. A column merely named `version` may
    /// be domain data (a deployment's version number).
    pub fn version_in_use(&self, effect: &Effect) -> Option<&str> {
        let table = effect.table.as_deref()?;
        let version = self.schema.version_column(table)?;
        let declared = self.schema.table(table).is_some_and(|t| t.version_declared);
        (declared
            || self
                .project
                .bumped_versions
                .contains(&self.schema.table_key(table)))
        .then_some(version)
    }

    /// The neutral description of an effect a client renders a fix for.
    pub fn target(&self, effect: &Effect) -> Target {
        // Spans of an effect linked in from another file point into that file.
        let here = effect.origin.is_none();
        let call = effect.handle_span.filter(|_| here).and_then(|handle| {
            self.quote(Span::new(handle.end as usize, effect.span.end as usize))
        });
        let quoted = |span: Option<Span>| span.filter(|_| here).and_then(|s| self.quote(s));
        let table = effect.table.as_deref().and_then(|t| self.schema.table(t));
        Target {
            table: effect.table.clone().unwrap_or_default(),
            handle: effect.handle.clone(),
            key: effect
                .filter
                .iter()
                .map(|f| (f.column.clone(), f.value.text.clone()))
                .collect(),
            values: effect
                .values
                .iter()
                .map(|f| (f.column.clone(), f.value.text.clone()))
                .collect(),
            call,
            filter_code: quoted(effect.filter_code),
            values_code: quoted(effect.values_code),
            database: self.database_of(effect.table.as_deref()),
            unique_keys: table.map(|t| t.unique.clone()).unwrap_or_default(),
        }
    }

    /// The fix that runs `writes` in one transaction: every write of the race, once
    /// each (a statement repeated by a loop counts once), and, when the code
    /// already holds a transaction for some of them, that transaction's handle
    /// for the others to move into.
    pub fn transaction_remedy(&self, function: &Function, writes: &[&Effect]) -> Remedy {
        let mut seen = Vec::new();
        let mut targets = Vec::new();
        for write in writes {
            if seen.contains(&write.span) {
                continue;
            }
            seen.push(write.span);
            targets.push(self.target(write));
        }
        // A block the code opened (a callback, `with …begin()`) before a
        // transaction a session began on its own.
        let held = |w: &&Effect| {
            let tx = function.transactions().get(w.transaction?)?;
            let handle = tx.handle.as_deref()?;
            (w.handle == handle)
                .then(|| (tx.style == crate::ir::TransactionStyle::Explicit, handle))
        };
        let open = writes
            .iter()
            .filter_map(held)
            .min_by_key(|(implicit, _)| *implicit)
            .map(|(_, handle)| handle.to_string());
        Remedy::Transaction { targets, open }
    }

    /// The edit that runs `writes`, and the statements between them, in their
    /// client's transaction, built from the statements as written with the writes'
    /// handle renamed to the transaction's. Only for writes of this file, of one
    /// client and handle, in no transaction yet, whose statements are plain
    /// statements of one block: nothing between leaves it, calls another service
    /// or a function of the project, or declares what later code uses (one plain
    /// declaration becomes the wrapper's result). `None` otherwise: the help explains.
    pub fn transaction_fix(&self, function: &Function, writes: &[&Effect]) -> Option<Fix> {
        let first = *writes.iter().min_by_key(|w| w.span.start)?;
        let last = *writes.iter().max_by_key(|w| w.span.start)?;
        if writes.len() < 2
            || writes.iter().any(|w| {
                w.origin.is_some()
                    || w.transaction.is_some()
                    || w.enclosing_transaction.is_some()
                    || w.client != first.client
                    || w.handle != first.handle
            })
            || first.handle.is_empty()
        {
            return None;
        }
        let run = self.statement_run(&[first.span, last.span])?;
        let inside = |span: Span| span.start >= run.span.start && span.end <= run.span.end;
        let mut handle_spans = Vec::new();
        let mut unrenamed = false;
        for e in function.effects.iter().filter(|e| inside(e.span)) {
            // A `CallResult` still there after linking is a call the project does
            // not define (`F("balance")`, `timezone.now()`): nothing to move.
            if e.origin.is_some() || e.transaction.is_some() || e.kind == EffectKind::External {
                return None;
            }
            if e.is_database() && e.handle == first.handle {
                match e.handle_span {
                    Some(span) if !handle_spans.contains(&span) => handle_spans.push(span),
                    Some(_) => {}
                    None => unrenamed = true,
                }
            }
        }
        if (unrenamed && !handle_spans.is_empty()) || function.calls.iter().any(|c| inside(c.span))
        {
            return None;
        }
        let result = match run.used_after.as_slice() {
            [] => None,
            [name] => Some(name.clone()),
            _ => return None,
        };
        let (body, handle_spans) = self.dedented(run.span, &run.indent, &handle_spans);
        let wrap = crate::ir::remedy::Wrap {
            handle: first.handle.clone(),
            body,
            handle_spans,
            indent: run.indent.clone(),
            unit: run.unit.clone(),
            result,
            file: self.text,
        };
        let replacement = crate::frontend::wrap_in_transaction(first.client, &wrap)?;
        Some(Fix {
            applicability: crate::diagnostic::Applicability::Unsafe,
            edits: vec![crate::diagnostic::Edit {
                span: run.span,
                replacement,
            }],
        })
    }

    /// The edit that moves the statement of `later` above the statement of
    /// `earlier` (a child delete above its parent's): both plain statements of one
    /// block, each holding its effect alone, and the moved one using nothing the
    /// statements it jumps over declare. `None` otherwise.
    pub fn move_above_fix(
        &self,
        function: &Function,
        earlier: &Effect,
        later: &Effect,
    ) -> Option<Fix> {
        if earlier.origin.is_some() || later.origin.is_some() {
            return None;
        }
        let run = self.statement_run(&[earlier.span, later.span])?;
        let (Some(first), Some(moved)) = (run.statements.first(), run.statements.last()) else {
            return None;
        };
        if run.statements.len() < 2 {
            return None;
        }
        let holds_only = |stmt: &Span, effect: &Effect| {
            function
                .effects
                .iter()
                .filter(|e| e.span.start >= stmt.start && e.span.end <= stmt.end)
                .all(|e| e.span == effect.span)
                && !function
                    .calls
                    .iter()
                    .any(|c| c.span.start >= stmt.start && c.span.end <= stmt.end)
        };
        if !holds_only(first, earlier) || !holds_only(moved, later) {
            return None;
        }
        let moved_text = self.text.get(moved.range())?;
        let jumped = &run.declares[..run.declares.len() - 1];
        if jumped
            .iter()
            .flatten()
            .any(|name| crate::ir::remedy::mentions_word(moved_text, name))
        {
            return None;
        }
        // The comment lines (and attributes) right above the moved statement go with it.
        let mut moved_start = moved.start as usize;
        while moved_start > first.end as usize {
            let line_start = self.text[..moved_start - 1]
                .rfind('\n')
                .map_or(0, |i| i + 1);
            let line = self.text[line_start..moved_start - 1].trim_start();
            if line_start <= first.end as usize
                || !(line.starts_with("//") || line.starts_with('#'))
            {
                break;
            }
            moved_start = line_start;
        }
        let end = run.span.end as usize;
        let before = self.text.get(run.span.start as usize..moved_start)?;
        let moved_full = self.text.get(moved_start..end)?;
        Some(Fix {
            applicability: crate::diagnostic::Applicability::Unsafe,
            edits: vec![crate::diagnostic::Edit {
                span: run.span,
                replacement: format!("{moved_full}\n{}", before.trim_end_matches(['\n', '\r'])),
            }],
        })
    }

    /// The text of whole lines `span`, without the first line's indentation on any
    /// line, and where the `marks` (spans inside it) land in that text.
    fn dedented(
        &self,
        span: Span,
        indent: &str,
        marks: &[Span],
    ) -> (String, Vec<std::ops::Range<usize>>) {
        let mut out = String::new();
        let mut ranges = Vec::new();
        let mut at = span.start as usize;
        let end = span.end as usize;
        let text = self.text;
        let mut line_start = true;
        while at < end {
            if line_start {
                let skip = text[at..end]
                    .char_indices()
                    .take_while(|(i, c)| *i < indent.len() && *c != '\n' && c.is_whitespace())
                    .last()
                    .map_or(0, |(i, c)| i + c.len_utf8());
                at += skip;
                line_start = false;
                continue;
            }
            if let Some(mark) = marks.iter().find(|m| m.start as usize == at) {
                let from = out.len();
                out.push_str(&text[mark.range()]);
                ranges.push(from..out.len());
                at = mark.end as usize;
                continue;
            }
            let c = text[at..].chars().next().unwrap_or('\n');
            if c == '\n' {
                while out.ends_with([' ', '\t', '\r']) {
                    out.pop();
                }
                line_start = true;
            }
            out.push(c);
            at += c.len_utf8();
        }
        (out, ranges)
    }

    /// A call to another service (HTTP, a payment API, a queue) that may run
    /// between `first` and `second`: no transaction can take it back.
    pub fn external_between<'f>(
        &self,
        function: &'f Function,
        first: &Effect,
        second: &Effect,
    ) -> Option<&'f Effect> {
        let (from, to) = (
            first.span.start.min(second.span.start),
            first.span.end.max(second.span.start),
        );
        function.effects.iter().find(|e| {
            e.kind == EffectKind::External
                && e.span.start >= from
                && e.span.end <= to
                && crate::ir::may_both_run(e, second)
        })
    }

    /// The code of `span` with its line structure and comments kept: lines after
    /// the first lose the indentation of the line the code starts on, so the
    /// snippet can be indented anew.
    pub fn quote(&self, span: Span) -> Option<String> {
        let code = self.text.get(span.range())?;
        let line_start = self.text[..span.start as usize]
            .rfind('\n')
            .map_or(0, |i| i + 1);
        let indent = self.text[line_start..span.start as usize]
            .chars()
            .take_while(|c| c.is_whitespace())
            .count();
        let mut lines = code.lines();
        let mut out = lines.next().unwrap_or_default().trim_end().to_string();
        for line in lines {
            let strip = line
                .char_indices()
                .take_while(|(i, c)| *i < indent && c.is_whitespace())
                .last()
                .map_or(0, |(i, c)| i + c.len_utf8());
            out.push('\n');
            out.push_str(line[strip..].trim_end());
        }
        Some(out)
    }

    /// The fix for `remedy` in the effect's client, as help text.
    pub fn suggest(&self, effect: &Effect, remedy: &Remedy) -> String {
        crate::frontend::suggest(effect.client, remedy).unwrap_or_default()
    }
}

/// Why two writes belong together, said in a finding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Link {
    SameTable,
    /// The foreign key, worded: "`scene.project_id` references `project`".
    ForeignKey(String),
    /// Both rows are picked by this variable.
    SameKey(String),
    /// The second write uses what the first returned, bound to this name.
    UsesResult(String),
}

impl Link {
    pub fn describe(&self) -> String {
        match self {
            Link::SameTable => "both write the same table".to_string(),
            Link::ForeignKey(fk) => fk.clone(),
            Link::SameKey(key) => format!("both are keyed by `{key}`"),
            Link::UsesResult(binding) => {
                format!("the second uses `{binding}`, what the first returned")
            }
        }
    }
}

/// A value that names a row: a variable or a member path (`projectId`,
/// `input.team.id`), not a literal, a call or the current time.
fn is_key_code(value: &crate::ir::Value) -> bool {
    let code = value.text.trim_end_matches('!');
    !value.literal
        && !value.atomic
        && !code.is_empty()
        && code
            .split(['.', '?'])
            .filter(|part| !part.is_empty())
            .all(|part| {
                part.starts_with(|c: char| c.is_alphabetic() || c == '_' || c == '$')
                    && part
                        .chars()
                        .all(|c| c.is_alphanumeric() || c == '_' || c == '$')
            })
}

/// A lock taken after the read at `read` and before the effect at `act`, in the
/// act's transaction: it came too late to protect the read (lock-after-check).
pub fn lock_between(function: &Function, read: usize, act: usize) -> Option<usize> {
    let act_effect = &function.effects[act];
    (read + 1..act).find(|&i| {
        let e = &function.effects[i];
        (e.kind == EffectKind::Lock
            || (e.kind == EffectKind::Read && e.row_lock == crate::ir::RowLock::Exclusive))
            && e.transaction.is_some()
            && function.same_transaction(e, act_effect)
    })
}

/// Double-checked locking (seed 004: lock, then re-check): the write also depends
/// on a read of the same table made under a lock in its own transaction, so an
/// earlier unlocked check is only a fast path.
pub fn rechecked_under_lock(cx: &Context, function: &Function, write: usize) -> bool {
    let effect = &function.effects[write];
    let Some(table) = cx.table_key(effect) else {
        return false;
    };
    effect.guards.iter().any(|g| {
        let read = &function.effects[g.read];
        read.kind == EffectKind::Read
            && cx.table_key(read).as_deref() == Some(table.as_str())
            && function.same_transaction(read, effect)
            && function.read_is_protected(g.read)
    })
}

/// Words in a table name that mark a record of what happened, not raceable state.
/// Whole words only: `blog_posts`, `catalog_items` and `dialogue` are state.
const LOG_LIKE_WORDS: &[&str] = &[
    "log",
    "audit",
    "auditlog",
    "changelog",
    "outbox",
    "history",
    "notification",
    "activity",
];

/// Whether a table name reads as a log: one of its words is a log word, or it ends
/// in "event" after a qualifier (`login_events`, `securityEvent`, `domain_events`);
/// `events` alone or `event_attendees` are the events people book.
fn log_like_name(table: &str) -> bool {
    let base = table.rsplit('.').next().unwrap_or(table);
    let snake = crate::schema::snake_case(base);
    let words: Vec<String> = snake
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(crate::schema::fold_name)
        .collect();
    words.iter().any(|w| LOG_LIKE_WORDS.contains(&w.as_str()))
        || (words.len() > 1 && words.last().is_some_and(|w| w == "event"))
}

/// The past participle a message uses for an effect: "inserted", "deleted".
pub fn verb(kind: EffectKind) -> &'static str {
    match kind {
        EffectKind::Insert => "inserted",
        EffectKind::Update => "updated",
        EffectKind::Delete => "deleted",
        EffectKind::Upsert => "upserted",
        EffectKind::Read => "read",
        EffectKind::Lock => "locked",
        EffectKind::Sleep
        | EffectKind::ProcessLock
        | EffectKind::External
        | EffectKind::Opaque
        | EffectKind::CallResult => "used",
    }
}

/// The table as the code names it, in backticks, for messages.
pub fn table_name(effect: &Effect) -> String {
    format!("`{}`", effect.table.as_deref().unwrap_or("?"))
}

/// `a`, `a` and `b`, `a`, `b` and `c`.
pub fn join_words(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// Help text: the advice in words, then the code for the client, as a block.
pub fn help_with_code(advice: &str, code: &str) -> String {
    if code.is_empty() {
        return advice.to_string();
    }
    let indented: Vec<String> = code.lines().map(|l| format!("    {l}")).collect();
    format!("{advice}\n\n{}", indented.join("\n"))
}

/// Why a check and act in one SQLite transaction are reported at low confidence.
pub(crate) const SQLITE_SERIALIZES: &str = "SQLite runs one write transaction at a time: a second request that read before this write fails with `SQLITE_BUSY` instead of acting on a stale read";

/// Whether SQLite's single writer serializes the read and the write: both run in
/// one transaction, so a concurrent transaction that read the same rows cannot
/// also write (its write fails with `SQLITE_BUSY`), and the race becomes an error.
pub(crate) fn serialized_by_sqlite(
    cx: &Context,
    function: &crate::ir::Function,
    read: &crate::ir::Effect,
    write: &crate::ir::Effect,
) -> bool {
    cx.database_of(read.table.as_deref()).one() == Some(crate::schema::Database::Sqlite)
        && read.transaction.is_some()
        && function.same_transaction(read, write)
}

#[cfg(test)]
mod tests {
    use super::log_like_name;

    #[test]
    fn log_words_are_whole_words() {
        for log in [
            "audit_log",
            "AuditLog",
            "auditlogs",
            "activity_logs",
            "price_history",
            "notifications",
            "login_events",
            "securityEvent",
            "public.outbox",
        ] {
            assert!(log_like_name(log), "{log}");
        }
        for state in [
            "blog_posts",
            "blogs",
            "catalog_items",
            "dialogue",
            "events",
            "event",
            "event_attendees",
            "logins",
        ] {
            assert!(!log_like_name(state), "{state}");
        }
    }
}
