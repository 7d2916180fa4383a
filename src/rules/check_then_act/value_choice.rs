//! check-then-act, a value chosen by a check (seed 002 §1): a read of a table
//! filtered on a column decides which value a later write gives that column of the
//! same table — the value itself when the read found it free, another candidate
//! when taken (`while (await exists(slug)) slug = `${base}-${n++}``, `if taken:
//! slug = f"{base}-{suffix}"`, a helper `generateUniqueSlug(name)` whose loop does
//! the reads). Two requests for the same base both find the first candidate free
//! and both write it. The read does not decide *whether* the write runs, so the
//! guard shapes miss it; the link is `Value::chosen_by`.
//!
//! Quiet when the write decides by itself (an upsert, `ON CONFLICT`), when its
//! unique violation is handled (insert and retry), when a lock taken first in one
//! transaction orders the requests, when nothing the read returned chose the value
//! (a uuid), and when the read looks at another table or column.

use super::super::{
    help_with_code, lock_between, serialized_by_sqlite, Context, SQLITE_SERIALIZES,
};
use crate::diagnostic::{Confidence, Finding, Related};
use crate::ir::remedy::Remedy;
use crate::ir::{Effect, EffectKind, Field, Function};
use crate::schema::fold_name;

/// A write whose value for `field.column` a read of that column chose.
struct Chosen<'f> {
    read: &'f Effect,
    write: &'f Effect,
    field: &'f Field,
    /// The code the read looked the column up with (`slug`, `candidate`).
    looked_up: String,
}

/// Findings for writes the other shapes did not already report (`reported` holds
/// their indexes).
pub(super) fn check(cx: &Context, function: &Function, reported: &[usize], out: &mut Vec<Finding>) {
    for (write_index, write) in function.effects.iter().enumerate() {
        let Some(table) = super::unsafe_plain_write(cx, function, reported, write_index) else {
            continue;
        };
        let chosen = write
            .values
            .iter()
            .filter(|f| !f.value.atomic && !f.value.literal)
            .find_map(|field| {
                field.value.chosen_by.iter().find_map(|&r| {
                    let read = function.effects.get(r).filter(|_| r < write_index)?;
                    if read.kind != EffectKind::Read
                        || cx.table_key(read).as_deref() != Some(table.as_str())
                    {
                        return None;
                    }
                    let looked_up = read.filter.iter().find(|f| {
                        fold_name(&f.column) == fold_name(&field.column) && !f.value.literal
                    })?;
                    // An update of the row the read found rewrites that row; only an
                    // update that hands the value to another row claims it.
                    if write.kind == EffectKind::Update
                        && write.filter.iter().any(|f| f.value.reads.contains(&r))
                    {
                        return None;
                    }
                    if function.check_is_serialized(r, write_index)
                        || lock_between(function, r, write_index).is_some()
                    {
                        return None;
                    }
                    Some(Chosen {
                        read,
                        write,
                        field,
                        looked_up: looked_up.value.text.clone(),
                    })
                })
            });
        if let Some(chosen) = chosen {
            out.push(finding(cx, function, &chosen));
        }
    }
}

/// The unique key that refuses the second of two equal values, if the schema has one.
fn unique_key(cx: &Context, c: &Chosen) -> Option<Vec<String>> {
    let read_table = c.read.table.as_deref()?;
    let checked: Vec<&str> = c.read.filter_columns().collect();
    super::unique_key_of_insert(cx, read_table, &checked, c.write).or_else(|| {
        cx.schema
            .unique_key_within(read_table, &[c.field.column.as_str()])
    })
}

fn confidence(cx: &Context, function: &Function, c: &Chosen) -> Confidence {
    if serialized_by_sqlite(cx, function, c.read, c.write) {
        return Confidence::low(SQLITE_SERIALIZES);
    }
    let table = c.write.table.as_deref().unwrap_or("?");
    let column = &c.field.column;
    if every_candidate_random(cx, c) {
        return Confidence::low(format!(
            "every candidate for `{column}` is drawn at random: two requests collide only when they draw the same one"
        ));
    }
    match unique_key(cx, c) {
        Some(key) => Confidence::medium(format!(
            "the unique key on ({}) turns the second request's `{column}` into a unique violation this code does not handle",
            key.join(", ")
        )),
        None if cx.schema.table(table).is_none() => Confidence::medium(format!(
            "the schema of `{table}` is unknown, so a unique key on `{column}` may turn the duplicate into an error"
        )),
        None => Confidence::high(format!(
            "no unique key on `{column}`: the race stores two rows with the same `{column}`"
        )),
    }
}

/// Random draws, not a value derived from the input: `generateSlug()` of a word
/// list, `nanoid()`, `uuid4()`, `secrets.token_hex()`.
const RANDOM_WORDS: &[&str] = &[
    "random",
    "nanoid",
    "uuid",
    "cuid",
    "ulid",
    "token_hex",
    "token_urlsafe",
];

/// Every value the code gives the looked-up variable near the check is a random
/// draw (`slug = randomWordSlugs.generateSlug(2)` in a loop until it is free): the
/// requests do not start from the same candidate.
fn every_candidate_random(cx: &Context, c: &Chosen) -> bool {
    let var = c.looked_up.trim_start_matches('&');
    if var.is_empty() || !var.chars().all(|ch| ch.is_alphanumeric() || ch == '_') {
        return false;
    }
    if c.read.origin.is_some() {
        return false;
    }
    let start = (c.read.site.start as usize).saturating_sub(1500);
    let end = (c.write.site.start as usize).max(c.read.site.end as usize);
    let Some(window) = cx
        .text
        .get(floor_char(cx.text, start)..floor_char(cx.text, end))
    else {
        return false;
    };
    let mut assignments = 0;
    for (at, _) in window.match_indices(var) {
        let before = window[..at].chars().next_back();
        if before.is_some_and(|ch| ch.is_alphanumeric() || ch == '_' || ch == '.') {
            continue;
        }
        let rest = window[at + var.len()..].trim_start();
        // `slug = …`, or a typed declaration `slug: string | undefined = …`.
        let rest = match rest.strip_prefix(':') {
            Some(typed) => typed
                .split_once('=')
                .map_or("", |(ty, _)| &typed[ty.len()..]),
            None => rest,
        };
        let Some(value) = rest.strip_prefix('=').filter(|r| !r.starts_with('=')) else {
            continue;
        };
        let value = value
            .split(['\n', ';'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        if value.trim().is_empty() || value.trim() == "undefined" || value.trim() == "none" {
            continue;
        }
        if !RANDOM_WORDS.iter().any(|w| value.contains(w)) {
            return false;
        }
        assignments += 1;
    }
    assignments > 0
}

fn floor_char(text: &str, mut at: usize) -> usize {
    at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn finding(cx: &Context, function: &Function, c: &Chosen) -> Finding {
    let table = c.write.table.as_deref().unwrap_or("?");
    let column = &c.field.column;
    let value = c.field.value.text.trim_start_matches('&');
    let read_line = cx.line_of(c.read.site.start);
    let inserts = c.write.kind == EffectKind::Insert;
    let (act, acts) = if inserts {
        ("insert", "inserts")
    } else {
        ("write", "writes")
    };
    let looked_up = if c.looked_up.is_empty() {
        column.clone()
    } else {
        c.looked_up.trim_start_matches('&').to_string()
    };
    let message = format!(
        "`{table}.{column}` is set to `{value}`, chosen by the `{table}` lookup on `{column}` at line {read_line}: two requests can both find the same `{looked_up}` free and both {act} it"
    );
    let key = unique_key(cx, c);
    let database = cx
        .schema
        .table(table)
        .and_then(|t| t.database)
        .unwrap_or(crate::schema::Database::Postgres);
    let mut read_target = cx.target(c.read);
    let written = cx.target(c.write);
    read_target.values = written.values.clone();
    read_target.values_code = written.values_code.clone();
    let lock = cx.suggest(
        c.write,
        &Remedy::LockThenCheck {
            target: read_target,
        },
    );
    let retry = |lead: &str| {
        format!(
            "{lead} and let the database refuse a taken value: catch the unique violation ({}) and try the next candidate, a few times — or `INSERT … ON CONFLICT DO NOTHING RETURNING` in the loop, which returns no row when the value is taken. A database function that picks the value and inserts in one transaction under a lock (seed 002's `generate_unique_slug`) does the same.",
            database.unique_violation()
        )
    };
    let mut help = match &key {
        Some(key) => format!(
            "`{table}` has a unique key on ({}): under this race the second {act} fails with a unique violation this code does not handle. {}",
            key.join(", "),
            retry(&format!("Keep the unique key, {act}"))
        ),
        None => {
            let mut scope: Vec<String> = c
                .read
                .filter
                .iter()
                .filter(|f| !f.value.literal)
                .map(|f| f.column.clone())
                .collect();
            scope.retain(|s| s != column);
            scope.push(column.clone());
            let advice = if cx.schema.table(table).is_some() {
                format!(
                    "`{table}` has no unique key on ({}), so nothing but this check keeps two rows from sharing a `{column}`. Add one first:",
                    scope.join(", ")
                )
            } else {
                format!(
                    "Unless `{table}` already has a unique key on ({}) (racelint found no schema for it), add one first:",
                    scope.join(", ")
                )
            };
            let mut help = help_with_code(&advice, &super::unique_index_migration(table, &scope, &[]));
            help.push_str("\n\n");
            help.push_str(&retry(&format!("then {act}")));
            help
        }
    };
    help.push_str(&help_with_code(
        &format!("\n\nOr serialise the choice: take an advisory lock on the value looked up (a row lock holds nothing while the row does not exist) before the check, in the transaction that {acts} the row:"),
        &lock,
    ));
    Finding {
        rule: super::META.id,
        severity: super::META.severity,
        span: c.write.site,
        label: format!("{acts} the `{column}` the lookup at line {read_line} found free"),
        message,
        help,
        related: vec![Related {
            span: c.read.site,
            message: format!("looks `{looked_up}` up in `{table}` here, without a lock, and the result picks the value"),
        }],
        fix: None,
        confidence: confidence(cx, function, c),
    }
}
