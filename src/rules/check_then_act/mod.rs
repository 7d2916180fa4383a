//! check-then-act: a read decides whether a write happens, and nothing stops a
//! concurrent request from changing what was read in between.
//!
//! Three guard shapes race (RULES.md): "no such row" then insert one; "the row is
//! in state X" then a write that changes that state; "the parent exists" then
//! insert a child, when the project deletes parents elsewhere. A fourth is decided
//! by the value, not a guard: numbering (numbering.rs). An update's row count
//! deciding an insert (update_else_insert.rs) and a checked row used up by a
//! delete (consume_by_delete.rs) are two more, and a value a check chose for the
//! column it looked up (value_choice.rs) the last. A read locked inside its
//! transaction, a write the database decides itself (upsert, `ON CONFLICT`, a
//! filter that re-checks the state) and a handled unique violation close the race.

use super::{help_with_code, join_words, serialized_by_sqlite, Context, Rule, SQLITE_SERIALIZES};
use crate::diagnostic::{Confidence, Finding, Related, RuleMeta, Severity};
use crate::ir::remedy::Remedy;
use crate::ir::{Effect, EffectKind, Function, Guard};
use crate::schema::fold_name;

mod consume_by_delete;
mod numbering;
mod update_else_insert;
mod value_choice;

pub struct CheckThenAct;

static META: RuleMeta = RuleMeta {
    id: "check-then-act",
    severity: Severity::Error,
    summary: "a read decides whether a write happens, with nothing stopping a concurrent change in between",
    doc: include_str!("../../../rules/check-then-act.md"),
    concurrent: true,
    fixable: None,
};

#[derive(Debug, PartialEq, Eq)]
enum Shape {
    /// No row was found, so one is inserted.
    AbsenceThenInsert,
    /// The row's state was checked, and the write changes those columns.
    /// `converges`: the write sets only constants, and nothing else hangs on the
    /// check, so both requests leave the same row.
    StateThenWrite {
        columns: Vec<String>,
        converges: bool,
    },
    /// The parent was found, and a child pointing at it is inserted.
    ParentThenChild { deleted_at: String },
    /// No row held these values, and an update gives them to another row (a
    /// username, a slug): the insert race, spelled as an update.
    AbsenceThenClaim { columns: Vec<String> },
}

impl Rule for CheckThenAct {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Context, function: &Function, out: &mut Vec<Finding>) {
        let mut reported = Vec::new();
        for (write_index, write) in function.effects.iter().enumerate() {
            if super::rechecked_under_lock(cx, function, write_index) {
                continue;
            }
            if !matches!(write.kind, EffectKind::Insert | EffectKind::Update)
                || write.is_conditional_write()
            {
                continue;
            }
            let written: Vec<String> = write.values.iter().map(|v| v.column.clone()).collect();
            let race = write.guards.iter().find_map(|guard| {
                // The checks of one read are one guard; the race is decided by the
                // condition that looked at what the write changes.
                let guard = Guard {
                    span: guard.span_of_fields(&written),
                    ..guard.clone()
                };
                let read = &function.effects[guard.read];
                if read.kind != EffectKind::Read || guard.read >= write_index {
                    return None;
                }
                if function.check_is_serialized(guard.read, write_index) {
                    return None;
                }
                // A lock between the check and the write is lock-after-check's finding.
                if super::lock_between(function, guard.read, write_index).is_some() {
                    return None;
                }
                shape(cx, function, &guard, read, write).map(|s| (guard, read, s))
            });
            if let Some((guard, read, shape)) = race {
                let confidence = confidence(cx, function, &guard, read, write, &shape);
                out.push(finding(
                    cx, function, &guard, read, write, shape, confidence,
                ));
                reported.push(write_index);
            }
        }
        numbering::check(cx, function, &reported, out);
        update_else_insert::check(cx, function, &reported, out);
        consume_by_delete::check(cx, function, &reported, out);
        value_choice::check(cx, function, &reported, out);
    }
}

fn shape(
    cx: &Context,
    function: &Function,
    guard: &Guard,
    read: &Effect,
    write: &Effect,
) -> Option<Shape> {
    let read_table = cx.table_key(read)?;
    let write_table = cx.table_key(write)?;
    if read_table == write_table {
        return match write.kind {
            // Inserting another row because this one exists (copying a template,
            // duplicating a poll) creates no duplicate: only "no row yet" does, or a
            // count or list that limits the inserts.
            EffectKind::Insert
                if !write.unique_violation_handled
                    && !(runs_when_found(cx, guard, read, write)
                        && !(read.reads_many() && compares_to_limit(cx, guard))) =>
            {
                Some(Shape::AbsenceThenInsert)
            }
            EffectKind::Update => {
                state_change(cx, function, guard, read, write).or_else(|| claim(guard, read, write))
            }
            _ => None,
        };
    }
    if write.kind != EffectKind::Insert || cx.is_log_like(write) {
        return None;
    }
    let (child, parent) = (write.table.as_deref()?, read.table.as_deref()?);
    // When the schema knows both tables, only a foreign key from the inserted row
    // to the checked table makes it a child: copying `token.userId` into a session
    // points the session at the user, not at the token.
    let references_parent = if cx.schema.table(child).is_some() && cx.schema.table(parent).is_some()
    {
        cx.schema
            .foreign_keys_between(child, parent)
            .next()
            .is_some()
    } else {
        write
            .values
            .iter()
            .any(|v| v.value.reads.contains(&guard.read))
    };
    if !references_parent
        || parent_created_here(cx, function, &read_table, write)
        || parent_deleted_here(cx, function, guard, read, write)
    {
        return None;
    }
    // A parent read `FOR SHARE` (or key-share locked) cannot be deleted before
    // the transaction ends.
    if read.row_lock == crate::ir::RowLock::Shared && function.same_transaction(read, write) {
        return None;
    }
    let deleted_at = cx.project.deleted_tables.get(&read_table)?;
    Some(Shape::ParentThenChild {
        deleted_at: deleted_at.clone(),
    })
}

/// The checked row deleted by this function between the check and the insert (a
/// token or an invitation consumed, then what it stood for granted): the inserted
/// row cannot point at a row its own code just deleted, so it copies values from
/// it rather than referencing it. That race is consume_by_delete.rs's.
fn parent_deleted_here(
    cx: &Context,
    function: &Function,
    guard: &Guard,
    read: &Effect,
    write: &Effect,
) -> bool {
    let table = cx.table_key(read);
    function.effects.iter().enumerate().any(|(i, e)| {
        e.kind == EffectKind::Delete
            && i > guard.read
            && e.span.start > read.span.end
            && e.span.end <= write.span.start
            && crate::ir::may_both_run(e, write)
            && cx.table_key(e) == table
    })
}

/// A parent row inserted earlier in the write's own transaction: no other
/// transaction sees it before the commit, so none can delete it in between.
fn parent_created_here(cx: &Context, function: &Function, parent: &str, write: &Effect) -> bool {
    function.effects.iter().any(|e| {
        matches!(e.kind, EffectKind::Insert | EffectKind::Upsert)
            && e.span.start < write.span.start
            && cx.table_key(e).as_deref() == Some(parent)
            && function.same_transaction(e, write)
    })
}

/// The unique key that makes the second of two racing inserts fail: one within the
/// checked columns, or, when the insert goes to the table it checked, one that
/// takes at least one checked column and otherwise only columns the insert sets
/// (`UNIQUE (name, project_id)` for a check on `name` and an insert of `name` and
/// `project`; the two requests insert the same values). A relation set by its
/// field (`project=project`) stands for its key column (`project_id`).
fn unique_key_of_insert(
    cx: &Context,
    read_table: &str,
    checked: &[&str],
    write: &Effect,
) -> Option<Vec<String>> {
    if let Some(key) = cx.schema.unique_key_within(read_table, checked) {
        return Some(key);
    }
    let same_table = write
        .table
        .as_deref()
        .is_some_and(|t| cx.schema.table_key(t) == cx.schema.table_key(read_table));
    if !same_table || checked.is_empty() || write.values.is_empty() {
        return None;
    }
    let table = cx.schema.table(read_table)?;
    let written = |key_column: &str| {
        let key = fold_name(key_column);
        write.values.iter().any(|v| {
            let value = fold_name(&v.column);
            value == key || format!("{value}id") == key
        })
    };
    let is_checked = |key_column: &str| {
        checked
            .iter()
            .any(|c| fold_name(c) == fold_name(key_column))
    };
    table
        .unique
        .iter()
        .filter(|key| !key.is_empty())
        .find(|key| {
            key.iter().any(|k| is_checked(k)) && key.iter().all(|k| is_checked(k) || written(k))
        })
        .cloned()
}

/// The table of the write at `index` when the value-deciding shapes (numbering,
/// a value chosen by a check) may speak of it: a plain insert or update that no
/// other shape reported (`reported`), not conditional, not retried on its unique
/// violation, not a log, and not re-checked under a lock.
pub(super) fn unsafe_plain_write(
    cx: &Context,
    function: &Function,
    reported: &[usize],
    index: usize,
) -> Option<String> {
    let write = &function.effects[index];
    let excluded = reported.contains(&index)
        || !matches!(write.kind, EffectKind::Insert | EffectKind::Update)
        || write.is_conditional_write()
        || write.unique_violation_handled
        || cx.is_log_like(write)
        || super::rechecked_under_lock(cx, function, index);
    if excluded {
        return None;
    }
    cx.table_key(write)
}

/// What the losing request of a race that ends in a unique violation leaves
/// behind: a write committed apart from the insert, or a call to another service,
/// made between the check and the insert.
fn left_behind_by_loser(
    function: &Function,
    read: &Effect,
    write: &Effect,
) -> Option<&'static str> {
    let committed = between(function, read, write)
        .any(|e| e.is_write() && !function.same_transaction(e, write));
    if committed {
        Some("the write committed")
    } else {
        external_between(function, read, write).map(|_| "the call to the other service made")
    }
}

fn between<'f>(
    function: &'f Function,
    read: &Effect,
    write: &Effect,
) -> impl Iterator<Item = &'f Effect> {
    let (after, before) = (read.span.start, write.span.start);
    function
        .effects
        .iter()
        .filter(move |e| e.span.start > after && e.span.start < before)
}

/// The first call to another service (a payment API, an email) made between the
/// check and the insert.
fn external_between<'f>(
    function: &'f Function,
    read: &Effect,
    write: &Effect,
) -> Option<&'f Effect> {
    between(function, read, write).find(|e| e.kind == EffectKind::External && e.origin.is_none())
}

/// What to say of a call to another service that runs before the insert: the
/// request that loses the race has made it too, and no transaction takes it back.
fn external_call_note(cx: &Context, external: &Effect, claimed: &str) -> String {
    let call = cx
        .text
        .get(external.span.start as usize..external.span.end as usize)
        .map(|code| {
            let first = code.lines().next().unwrap_or(code).trim_end();
            if first.len() < code.len() || first.len() > 60 {
                let head: String = first.chars().take(60).collect();
                format!("{}…", head.trim_end_matches(['(', '{', ' ']))
            } else {
                first.to_string()
            }
        })
        .unwrap_or_default();
    format!(
        "\n\nEither way, `{call}` (line {}) runs before the insert, so the request that loses the race has made that call too, and no transaction takes it back: claim {claimed} first (insert, then call the other service and store what it returns on the row), or give the call an idempotency key made from {claimed}.",
        cx.line_of(external.span.start)
    )
}

/// How likely the race is to do harm, by its shape and what the schema says.
fn confidence(
    cx: &Context,
    function: &Function,
    guard: &Guard,
    read: &Effect,
    write: &Effect,
    shape: &Shape,
) -> Confidence {
    if serialized_by_sqlite(cx, function, read, write) {
        return Confidence::low(SQLITE_SERIALIZES);
    }
    let read_table = read.table.as_deref().unwrap_or("?");
    let checked: Vec<&str> = match shape {
        Shape::AbsenceThenClaim { columns } => columns.iter().map(String::as_str).collect(),
        _ => read.filter_columns().collect(),
    };
    match shape {
        // No unique key can stop this one: the rows differ, only their number is wrong.
        Shape::AbsenceThenInsert if read.reads_many() && compares_to_limit(cx, guard) => {
            Confidence::medium(
                "a count compared with a limit: concurrent requests can both pass it and go over the limit by a row each",
            )
        }
        Shape::AbsenceThenInsert | Shape::AbsenceThenClaim { .. } => {
            let cols = checked.join(", ");
            if let Some(key) = unique_key_of_insert(cx, read_table, &checked, write) {
                let key = key.join(", ");
                match left_behind_by_loser(function, read, write) {
                    Some(what) => Confidence::medium(format!(
                        "the unique key on ({key}) fails the losing insert, but {what} before it stays"
                    )),
                    None => Confidence::low(format!(
                        "the unique key on ({key}) turns the race into an error rather than a duplicate, and nothing done before the insert stays"
                    )),
                }
            } else if cx.schema.table(read_table).is_none() {
                Confidence::medium(format!(
                    "the schema of `{read_table}` is unknown, so a unique key on ({cols}) may stop the duplicate"
                ))
            } else if read.reads_many() {
                Confidence::medium("the check looks at a list of rows, not one key")
            } else if checked.is_empty() {
                Confidence::medium(
                    "the columns the check looks up are not known, so neither is whether a unique key stops the duplicate",
                )
            } else {
                Confidence::high(format!(
                    "no unique key on ({cols}): the race leaves duplicate rows"
                ))
            }
        }
        Shape::StateThenWrite {
            converges: true, ..
        } => Confidence::low(
            "both requests write the same constants and nothing else depends on the check: the row ends the same either way",
        ),
        Shape::StateThenWrite { .. } => {
            Confidence::medium("two requests can both pass the check and both write")
        }
        Shape::ParentThenChild { .. } => {
            let parent = cx.schema.table_key(read_table);
            let child = write.table.as_deref().unwrap_or("?");
            let has_fk = cx
                .schema
                .foreign_keys_between(child, read_table)
                .next()
                .is_some();
            let committed_before = function.effects.iter().any(|e| {
                e.is_write()
                    && e.span.start < write.span.start
                    && !function.same_transaction(e, write)
            });
            if !cx.project.deleted_by_requests.contains(&parent) {
                Confidence::low(format!(
                    "`{read_table}` rows are deleted only on admin or account-deletion paths, or are accounts themselves"
                ))
            } else if has_fk && (write.transaction.is_some() || !committed_before) {
                Confidence::low(format!(
                    "the foreign key to `{read_table}` makes the race fail the insert, and nothing written before it stays"
                ))
            } else if has_fk {
                // A request racing the deletion of its own parent ends in an error; what
                // it committed before is a partial change only that rare race leaves.
                Confidence::low(format!(
                    "the foreign key to `{read_table}` fails the insert; only the writes committed before it stay, and only when the parent is deleted at that moment"
                ))
            } else {
                Confidence::medium(format!(
                    "no known foreign key to `{read_table}`: the race leaves an orphan row"
                ))
            }
        }
    }
}

/// An update that sets the values the read looked for and found nowhere, on a row
/// picked by something else: `if (await findUnique({ where: { username: name } }))
/// throw …; update({ where: { id: me }, data: { username: name } })`. Constant
/// filters (`deletedAt: null`) may stay unset; every value the read looked up must
/// be written, as the same code.
fn claim(guard: &Guard, read: &Effect, write: &Effect) -> Option<Shape> {
    if !guard.fields.is_empty() || write.unique_violation_handled {
        return None;
    }
    let looked_up: Vec<_> = read
        .filter
        .iter()
        .filter(|f| !f.value.literal && !f.value.text.is_empty())
        .collect();
    if looked_up.is_empty() {
        return None;
    }
    let writes_same = |column: &str, text: &str| {
        write
            .values
            .iter()
            .any(|v| v.column == column && !v.value.atomic && v.value.text == text)
    };
    let picks_same = |column: &str, text: &str| {
        write
            .filter
            .iter()
            .any(|f| f.column == column && f.value.text == text)
    };
    let claimed = looked_up
        .iter()
        .all(|f| writes_same(&f.column, &f.value.text) && !picks_same(&f.column, &f.value.text));
    let picks_read_row = write
        .filter
        .iter()
        .any(|f| f.value.reads.contains(&guard.read));
    (claimed && !picks_read_row).then(|| Shape::AbsenceThenClaim {
        columns: looked_up.iter().map(|f| f.column.clone()).collect(),
    })
}

/// An update of the row that was read, setting a column the check looked at.
fn state_change(
    cx: &Context,
    function: &Function,
    guard: &Guard,
    read: &Effect,
    write: &Effect,
) -> Option<Shape> {
    let same_row = write.filter.iter().any(|f| {
        f.value.reads.contains(&guard.read)
            || f.value
                .vars
                .iter()
                .any(|v| read.filter.iter().any(|rf| rf.value.vars.contains(v)))
    });
    if !same_row {
        return None;
    }
    // The state a check relies on: fields the condition inspects, and constant
    // filters of the read (`where: { status: 'free' }` then `if (!seat)`).
    let mut state: Vec<&str> = guard.fields.iter().map(String::as_str).collect();
    state.extend(
        read.filter
            .iter()
            .filter(|f| f.value.literal)
            .map(|f| f.column.as_str()),
    );
    let columns: Vec<String> = write
        .values
        .iter()
        .filter(|v| state.contains(&v.column.as_str()))
        // A value computed from the read itself is a lost update: missing-version-check.
        .filter(|v| v.value.atomic || !v.value.reads.contains(&guard.read))
        .map(|v| v.column.clone())
        .collect();
    if columns.is_empty() {
        return None;
    }
    if set_if_unset(function, guard, write) {
        return None;
    }
    // The update re-checks the state itself: `updateMany({ where: { id, status: 'free' } })`.
    if write.filter.iter().any(|f| columns.contains(&f.column)) {
        return None;
    }
    Some(Shape::StateThenWrite {
        converges: converges(function, guard, write)
            && tests_for_the_target(cx, guard, write, &columns),
        columns,
    })
}

/// Set-if-unset: the write sets only flags (`true`, `false`, `null`) and the
/// current time, with nothing else hanging on the check: two requests that both
/// pass it converge on the same row, and neither believes it moved it to a state.
fn set_if_unset(function: &Function, guard: &Guard, write: &Effect) -> bool {
    converges(function, guard, write)
        && write
            .values
            .iter()
            .all(|v| is_now(&v.value.text) || (v.value.literal && is_flag(&v.value.text)))
}

/// Both requests that pass the check end with the same row: the write sets only
/// constants and the current time, and no other write and no call out of the
/// process hangs on the check or runs between it and the write. A move to a named
/// state (`status: 'archived'`) converges too, but each request believes it made
/// the transition, which matters when something done once per transition lives
/// outside what racelint sees.
fn converges(function: &Function, guard: &Guard, write: &Effect) -> bool {
    let constant = write.values.iter().all(|v| {
        !v.value.atomic
            && (v.value.literal || is_now(&v.value.text) || is_named_constant(&v.value.text))
    });
    let read_end = function.effects[guard.read].span.end;
    constant
        && !function.effects.iter().any(|other| {
            other.span != write.span
                && (other.is_write() || other.kind == EffectKind::External)
                && (other.guards.iter().any(|g| g.read == guard.read)
                    || (other.kind == EffectKind::External
                        && other.span.start > read_end
                        && other.span.start < write.span.start))
        })
}

/// The check asks whether the row is already in the state the write moves it to
/// (`if (project.status === 'archived') return;` then `status: 'archived'`): an
/// "already done?" short-cut, not a transition from another state that only one
/// request may make (`'in_stock'` to `'sold'`).
fn tests_for_the_target(cx: &Context, guard: &Guard, write: &Effect, columns: &[String]) -> bool {
    let condition = cx.text.get(guard.span.range()).unwrap_or_default();
    write
        .values
        .iter()
        .filter(|v| columns.contains(&v.column))
        .all(|v| {
            if is_named_constant(&v.value.text) {
                return condition.contains(v.value.text.as_str());
            }
            let target = v.value.text.trim_matches(['\'', '"', '`']);
            !target.is_empty()
                && ['\'', '"', '`']
                    .iter()
                    .any(|q| condition.contains(&format!("{q}{target}{q}")))
        })
}

/// A member of an enum or a class constant, written by its path
/// (`MfaChallengeStatus.APPROVED`, `OrderStatus.Paid`, `Status::Approved`): as
/// constant as a literal.
fn is_named_constant(code: &str) -> bool {
    let segments: Vec<&str> = code.split("::").flat_map(|s| s.split('.')).collect();
    segments.len() >= 2
        && segments[0].starts_with(|c: char| c.is_ascii_uppercase())
        && segments.iter().all(|s| {
            !s.is_empty()
                && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !s.starts_with(|c: char| c.is_ascii_digit())
        })
}

fn is_flag(code: &str) -> bool {
    matches!(
        code,
        "true" | "false" | "null" | "None" | "NULL" | "TRUE" | "FALSE" | "True" | "False"
    )
}

/// The farthest a write is read as being inside (or past) its test's code.
const MAX_TEST_TO_WRITE: usize = 8 * 1024;

/// Whether the write runs only when the read found its row, as the code reads:
/// an exit on a negated test before it (`if (!poll) throw …`), a test it sits
/// under (`if (poll) { … }`), or a read that throws when nothing matches.
fn runs_when_found(cx: &Context, guard: &Guard, read: &Effect, write: &Effect) -> bool {
    // A write inlined from a helper declared above, or far below (no test and its
    // write are 8 KiB apart in one function): the code between says nothing. The
    // bound also keeps the text read here per guard small.
    if write.span.start < guard.span.end
        || write.span.start as usize - guard.span.end as usize > MAX_TEST_TO_WRITE
    {
        return false;
    }
    let squeeze = |code: &str| -> String { code.split_whitespace().collect() };
    let condition = squeeze(cx.text.get(guard.span.range()).unwrap_or_default());
    let mut condition = condition.as_str();
    while let Some(inner) = condition
        .strip_prefix('(')
        .and_then(|c| c.strip_suffix(')'))
    {
        condition = inner;
    }
    let tests_absence = [
        "===null",
        "==null",
        "===undefined",
        "==undefined",
        ".length===0",
        "==0",
        "<1",
        "<=0",
    ]
    .iter()
    .any(|n| condition.contains(n))
        && !condition.contains("!=");
    // The same tests as other languages spell them: `not found`, `if not tag:`,
    // `tag is None`, `IS NULL`.
    let spelled = cx
        .text
        .get(guard.span.range())
        .unwrap_or_default()
        .trim()
        .trim_start_matches('(')
        .to_ascii_lowercase();
    let negated = (condition.starts_with('!') && !condition.starts_with("!="))
        || tests_absence
        || condition.contains("is_none()")
        || spelled.starts_with("not ")
        || spelled.ends_with(" is none")
        || spelled.ends_with(" is null");
    // SQL keywords come in either case.
    // Only the code just before the test matters (`while (await`): a bounded tail,
    // so that each guard costs the same however far into the file it is.
    let guard_start = guard.span.start as usize;
    let mut tail_start = guard_start.saturating_sub(64);
    while !cx.text.is_char_boundary(tail_start) {
        tail_start -= 1;
    }
    let before =
        squeeze(cx.text.get(tail_start..guard_start).unwrap_or_default()).to_ascii_lowercase();
    let between = cx
        .text
        .get(guard.span.end as usize..write.span.start as usize)
        .unwrap_or_default()
        .to_ascii_lowercase();
    // `find() ?? create()`, `while (await find()) { … }`: the write runs once the
    // read found nothing.
    let after = between.trim_start();
    if after.starts_with("??")
        || after.starts_with("||")
        || before
            .trim_end_matches('(')
            .trim_end_matches("await")
            .trim_end_matches('(')
            .ends_with("while")
    {
        return negated;
    }
    let _ = read;
    // What runs between the test and the write's own statement: an exit there means
    // the write is past the `if`, reached when the test failed.
    let before_write_line = between
        .rsplit_once(['\n', ';', '}'])
        .map_or("", |(head, _)| head);
    let exits = ["throw", "return", "continue", "err(", "bail!", "raise"]
        .iter()
        .any(|e| before_write_line.contains(e));
    if exits {
        negated
    } else {
        !negated
    }
}

/// A count compared with a limit (`members.length < MAX`, `count >= 5`), not a
/// test for "any rows at all" (`rows.length > 0`).
fn compares_to_limit(cx: &Context, guard: &Guard) -> bool {
    let condition: String = cx
        .text
        .get(guard.span.range())
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    (condition.contains('<') || condition.contains('>'))
        && ![">0", ">=1", "<1", "<=0"]
            .iter()
            .any(|zero| condition.contains(zero))
}

/// Code for "the current time": `new Date()`, `Date.now()`, `now()`,
/// `CURRENT_TIMESTAMP`, `Utc::now()`.
fn is_now(code: &str) -> bool {
    let folded: String = code
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase();
    [
        "newdate()",
        "date.now()",
        "now()",
        "current_timestamp",
        "utc::now",
        "local::now",
        "dayjs()",
        "datetime.now",
        "timezone.now",
    ]
    .iter()
    .any(|n| folded.contains(n))
}

fn finding(
    cx: &Context,
    function: &Function,
    guard: &Guard,
    read: &Effect,
    write: &Effect,
    shape: Shape,
    confidence: Confidence,
) -> Finding {
    let table = write.table.as_deref().unwrap_or("?");
    let read_table = read.table.as_deref().unwrap_or("?");
    let read_name = read
        .binding
        .as_deref()
        .map_or_else(|| format!("the `{read_table}` read"), |b| format!("`{b}`"));
    let check_line = cx.line_of(guard.span.start);
    let target = cx.target(write);
    let mut read_target = cx.target(read);
    read_target.values = target.values.clone();
    read_target.values_code = target.values_code.clone();
    let lock_then_check = |advice: &str| {
        help_with_code(
            advice,
            &cx.suggest(
                write,
                &Remedy::LockThenCheck {
                    target: read_target.clone(),
                },
            ),
        )
    };
    let (message, label, help) = match &shape {
        Shape::AbsenceThenInsert => {
            let mut checked: Vec<&str> = Vec::new();
            for column in read.filter_columns() {
                if !checked.contains(&column) {
                    checked.push(column);
                }
            }
            let unique = unique_key_of_insert(cx, read_table, &checked, write);
            let rows = read.reads_many();
            let limit = rows && compares_to_limit(cx, guard);
            let message = if limit {
                format!(
                    "`{table}` is inserted while the count {read_name} returned is under the limit checked at line {check_line}, but concurrent requests can both see room and both insert, going over it"
                )
            } else if rows || !guard.fields.is_empty() {
                format!(
                    "`{table}` is inserted because of what {read_name} returned, but a concurrent request can pass the same check and insert too"
                )
            } else {
                format!(
                    "`{table}` is inserted only when {read_name} found no row, but a concurrent request can insert it between the check and the insert"
                )
            };
            // The schema knows the table and no unique key covers the check: the
            // check is all that stands between two requests and a duplicate.
            let message = if unique.is_none()
                && !limit
                && cx.schema.table(read_table).is_some()
                && !checked.is_empty()
            {
                format!(
                    "{message}; no unique key on `{read_table}` ({}) guards it",
                    checked.join(", ")
                )
            } else {
                message
            };
            let help = match &unique {
                Some(key) => {
                    let mut help = help_with_code(
                        &format!(
                            "`{table}` has a unique key on ({}): under this race the second insert fails with a unique violation this code does not handle. Let the database decide with one statement:",
                            key.join(", ")
                        ),
                        &cx.suggest(write, &Remedy::InsertOnConflict { target: read_target.clone() }),
                    );
                    help.push_str(&help_with_code(
                        "\n\nor keep the insert and handle the violation:",
                        &cx.suggest(
                            write,
                            &Remedy::HandleUniqueViolation {
                                target: read_target.clone(),
                                unique_key: key.clone(),
                            },
                        ),
                    ));
                    help
                }
                // A count or a list (`count < limit`, "none of these yet") is no
                // row a unique key can stand for: only serialising the requests works.
                None if rows => lock_then_check(
                    "No unique key can stand for this check (it counts or lists rows): serialise the requests for the same key, and check again under the lock:",
                ),
                None if checked.is_empty() => lock_then_check(
                    "racelint cannot tell which columns this check looks up (its filter is built as the code runs), so it names no unique key for it: add one on the columns that must not repeat and handle its violation, or serialise the requests for the same key and check again under the lock:",
                ),
                None => {
                    let (nulls, keys): (Vec<&crate::ir::Field>, Vec<&crate::ir::Field>) = read
                        .filter
                        .iter()
                        .partition(|f| f.value.literal && f.value.text.eq_ignore_ascii_case("null"));
                    let key_columns: Vec<String> = keys.iter().map(|f| f.column.clone()).collect();
                    let migration = unique_index_migration(read_table, &key_columns, &nulls);
                    let partial = if nulls.is_empty() {
                        ""
                    } else {
                        " — a partial index, since only the rows where the checked columns are null must be unique"
                    };
                    let advice = if cx.schema.table(read_table).is_some() {
                        format!(
                            "`{read_table}` has no unique key on ({}), so nothing but this check stops a duplicate. Add one first{partial}:",
                            key_columns.join(", ")
                        )
                    } else {
                        format!(
                            "Let the database decide. Unless `{read_table}` already has a unique key on ({}) (racelint found no schema for it), add one first{partial}:",
                            key_columns.join(", ")
                        )
                    };
                    let mut help = help_with_code(&advice, &migration);
                    let mut keyed = read_target.clone();
                    keyed.key.retain(|(c, _)| key_columns.contains(c));
                    let (advice, remedy) = if nulls.is_empty() {
                        (
                            "\n\nthen insert in one statement that tolerates the row already existing:",
                            Remedy::InsertOnConflict { target: keyed },
                        )
                    } else {
                        (
                            "\n\nthen keep the insert and handle the violation:",
                            Remedy::HandleUniqueViolation { target: keyed, unique_key: key_columns.clone() },
                        )
                    };
                    help.push_str(&help_with_code(advice, &cx.suggest(write, &remedy)));
                    help
                }
            };
            let mut help = help;
            if let Some(external) = external_between(function, read, write) {
                let claimed = if checked.is_empty() {
                    format!("the `{table}` row")
                } else {
                    join_words(&checked.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>())
                };
                help.push_str(&external_call_note(cx, external, &claimed));
            }
            (
                message,
                "inserts based on a check that may be stale".to_string(),
                help,
            )
        }
        Shape::StateThenWrite { columns, .. } => {
            let cols = join_words(&columns.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>());
            let row = read.binding.as_deref().unwrap_or(read_table);
            let checked = join_words(
                &columns
                    .iter()
                    .map(|c| format!("`{row}.{c}`"))
                    .collect::<Vec<_>>(),
            );
            let message = format!(
                "`{table}` is written because {checked} passed the check at line {check_line}, but a concurrent request can pass the same check before this write lands"
            );
            let state: Vec<(String, String)> = read
                .filter
                .iter()
                .filter(|f| f.value.literal && columns.contains(&f.column))
                .map(|f| (f.column.clone(), f.value.text.clone()))
                .chain(
                    columns
                        .iter()
                        .filter(|c| {
                            !read
                                .filter
                                .iter()
                                .any(|f| &f.column == *c && f.value.literal)
                        })
                        .map(|c| (c.clone(), format!("expected{}", capitalize(c)))),
                )
                .collect();
            let advice = format!(
                "Put the check into the write: filter on {cols} as well and look at how many rows changed, so only one request wins:"
            );
            let help = help_with_code(
                &advice,
                &cx.suggest(
                    write,
                    &Remedy::ConditionalWrite {
                        target: target.clone(),
                        state,
                    },
                ),
            );
            (
                message,
                format!("changes {cols}, which the check at line {check_line} relied on"),
                help,
            )
        }
        Shape::AbsenceThenClaim { columns } => {
            let cols = join_words(&columns.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>());
            let column_names: Vec<&str> = columns.iter().map(String::as_str).collect();
            let message = format!(
                "`{table}` takes {cols} only when {read_name} found no row holding it, but a concurrent request can take the same value between the check and this update"
            );
            let advice = match cx.schema.unique_key_within(read_table, &column_names) {
                Some(key) => format!(
                    "`{table}` has a unique key on ({}): under this race the second update fails with a unique violation this code does not handle. Handle it (answer \"taken\"), or serialise claims of the same value:",
                    key.join(", ")
                ),
                None => format!(
                    "Add a unique constraint on ({}) so the database refuses the second claim, and handle its violation; or serialise claims of the same value:",
                    columns.join(", ")
                ),
            };
            let help = lock_then_check(&advice);
            (
                message,
                format!("takes {cols}, which the check at line {check_line} found free"),
                help,
            )
        }
        Shape::ParentThenChild { deleted_at } => {
            let message = format!(
                "`{table}` is inserted pointing at a `{read_table}` row checked earlier, but `{read_table}` rows are deleted elsewhere ({deleted_at}); a delete in between breaks the reference"
            );
            let parent = cx.schema.table(read_table);
            let database = cx.database_of(Some(read_table));
            let advice = if parent.is_some_and(|t| t.emulated_relations) {
                format!(
                    "The database has no foreign keys here (the ORM only emulates them), so nothing refuses the orphan: check and insert in one transaction that locks the `{read_table}` row first ({}):",
                    database.row_lock()
                )
            } else {
                format!(
                    "Check and insert in one transaction that locks the `{read_table}` row first ({}), or handle the foreign-key violation ({}) by re-reading and retrying:",
                    database.row_lock(),
                    database.foreign_key_violation()
                )
            };
            let help = lock_then_check(&advice);
            (
                message,
                format!("inserts a child of the `{read_table}` row checked above"),
                help,
            )
        }
    };
    Finding {
        rule: META.id,
        severity: META.severity,
        span: write.site,
        label,
        message,
        help,
        related: std::iter::once(Related {
            span: read.site,
            message: format!("the check reads `{read_table}` here, without a lock"),
        })
        .chain((guard.span != read.site).then(|| Related {
            span: guard.span,
            message: "and decides here".to_string(),
        }))
        .collect(),
        fix: None,
        confidence,
    }
}

/// `status` → `Status`, for the name of a value the code must supply (`expectedStatus`).
fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// The SQL that adds the unique key a check stands for: a partial index when the
/// check looks only at rows where some columns are null (`deleted_at IS NULL`).
fn unique_index_migration(table: &str, key: &[String], nulls: &[&crate::ir::Field]) -> String {
    let snake: Vec<String> = key.iter().map(|c| crate::schema::snake_case(c)).collect();
    let table_name = crate::schema::snake_case(table);
    let condition: Vec<String> = nulls
        .iter()
        .map(|f| format!("{} IS NULL", crate::schema::snake_case(&f.column)))
        .collect();
    format!(
        "-- a migration; spell the table and columns as the database names them\nCREATE UNIQUE INDEX {table_name}_{}_key ON {table_name} ({}){};",
        snake.join("_"),
        snake.join(", "),
        if condition.is_empty() { String::new() } else { format!(" WHERE {}", condition.join(" AND ")) }
    )
}
