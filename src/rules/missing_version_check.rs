//! missing-version-check: read-modify-write of a row with nothing to notice that it
//! changed in between, so a concurrent update is silently lost.
//!
//! Flags an update whose new value is computed in application code from a read of
//! the same row, when the update's filter tests no version (or `updatedAt`), the
//! read holds no row lock in the same transaction, and the value is not an atomic
//! expression. Also flags an update of a table whose schema has a version column
//! when the update neither tests nor bumps it.

use super::{help_with_code, table_name, Context, Rule};
use crate::diagnostic::{Confidence, Finding, Related, RuleMeta, Severity};
use crate::ir::remedy::Remedy;
use crate::ir::{Effect, EffectKind, Field, Function, OnConflict};

pub struct MissingVersionCheck;

static META: RuleMeta = RuleMeta {
    id: "missing-version-check",
    severity: Severity::Warning,
    summary: "a row is read, changed in code and written back with no version check",
    doc: include_str!("../../rules/missing-version-check.md"),
    concurrent: true,
    fixable: None,
};

/// Column names that serve as an optimistic-lock token when a filter tests them.
const VERSION_LIKE: &[&str] = &[
    "version",
    "lockversion",
    "rowversion",
    "rev",
    "revision",
    "updatedat",
    "etag",
    "xmin",
];

fn is_version_like(column: &str) -> bool {
    let folded: String = column
        .chars()
        .filter(|c| *c != '_')
        .flat_map(char::to_lowercase)
        .collect();
    VERSION_LIKE.contains(&folded.as_str())
}

impl Rule for MissingVersionCheck {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Context, function: &Function, out: &mut Vec<Finding>) {
        for (index, write) in function.effects.iter().enumerate() {
            if !(write.kind == EffectKind::Update || is_upsert(write))
                || write.filter.iter().any(|f| is_version_like(&f.column))
            {
                continue;
            }
            if let Some((read, field)) = lost_update(cx, function, index, write) {
                out.push(read_modify_write(cx, function, read, write, field));
            } else if write.kind != EffectKind::Update {
                continue;
            } else if let Some(version) = unguarded_versioned_update(cx, write) {
                out.push(versioned_table(cx, write, &version));
            }
        }
    }
}

/// An insert that updates the row already there (`ON CONFLICT … DO UPDATE`, an
/// upsert): its update part writes back like an update.
fn is_upsert(write: &Effect) -> bool {
    write.kind == EffectKind::Upsert
        || (write.kind == EffectKind::Insert && write.on_conflict == OnConflict::DoUpdate)
}

/// The read a written value is computed from, when it is the same row and nothing
/// protects it. Of an upsert, only what it writes to the row already there counts.
fn lost_update<'f>(
    cx: &Context,
    function: &'f Function,
    index: usize,
    write: &'f Effect,
) -> Option<(&'f Effect, &'f Field)> {
    let write_table = cx.table_key(write)?;
    let written = if is_upsert(write) {
        write.written_on_conflict()
    } else {
        &write.values
    };
    written
        .iter()
        .filter(|f| !f.value.atomic && !f.value.literal)
        .find_map(|field| {
            field.value.reads.iter().find_map(|&r| {
                let read = function.effects.get(r)?;
                let same_row = read.kind == EffectKind::Read
                    && r < index
                    && cx.table_key(read).as_deref() == Some(write_table.as_str())
                    && !read.many
                    && identifies_read_row(write, read, r);
                let protected = function.check_is_serialized(r, index);
                (same_row && !protected && !through_another_service(function, read, field))
                    .then_some((read, field))
            })
        })
}

/// The value is what another service answered (`customer.id` of a Stripe call
/// made with the row's email), not the row's data changed in code: nothing a
/// concurrent update wrote to this column is folded into it.
fn through_another_service(function: &Function, read: &Effect, field: &Field) -> bool {
    let names_row = read
        .binding
        .as_deref()
        .is_some_and(|row| field.value.vars.iter().any(|v| v == row));
    !names_row
        && field.value.vars.iter().any(|v| {
            function
                .effects
                .iter()
                .any(|e| e.kind == EffectKind::External && e.binding.as_deref() == Some(v.as_str()))
        })
}

/// The columns of the read row the value names (`user.lastName` → `lastName`),
/// or `None` when it uses the row whole (`...user`) or names none of its fields.
fn row_fields_named(read: &Effect, field: &Field) -> Option<Vec<String>> {
    let row = read.binding.as_deref()?;
    let code = &field.value.text;
    if code.contains(&format!("...{row}")) {
        return None;
    }
    let prefix = format!("{row}.");
    let fields: Vec<String> = code
        .match_indices(&prefix)
        .filter(|(at, _)| {
            !code[..*at]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.')
        })
        .map(|(at, _)| {
            code[at + prefix.len()..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect::<String>()
        })
        .filter(|f| !f.is_empty())
        .collect();
    (!fields.is_empty()).then_some(fields)
}

/// The update's filter picks the row the read returned: by its result
/// (`where: { id: card.id }`) or by the same values the read used.
fn identifies_read_row(write: &Effect, read: &Effect, read_index: usize) -> bool {
    let by_filter = write.filter.iter().any(|f| {
        f.value.reads.contains(&read_index)
            || read
                .filter
                .iter()
                .any(|rf| !rf.value.literal && rf.value.text == f.value.text)
    });
    // An upsert finds its row by the key it inserts: the read looked the row up by
    // the same values (`where user_id = $1`, then `VALUES ($1, …) ON CONFLICT`).
    let by_inserted_key = is_upsert(write)
        && !read.filter.is_empty()
        && read.filter.iter().all(|rf| {
            rf.value.literal
                || write.values.iter().any(|v| {
                    crate::schema::fold_name(&v.column) == crate::schema::fold_name(&rf.column)
                        && !rf.value.text.is_empty()
                        && v.value.text == rf.value.text
                })
        });
    by_filter || by_inserted_key
}

fn unguarded_versioned_update(cx: &Context, write: &Effect) -> Option<String> {
    let version = cx.version_in_use(write)?;
    let folded = crate::schema::fold_name(version);
    let mentions = |f: &Field| crate::schema::fold_name(&f.column) == folded;
    (!write.filter.iter().any(mentions) && !write.values.iter().any(mentions))
        .then(|| version.to_string())
}

fn read_modify_write(
    cx: &Context,
    function: &Function,
    read: &Effect,
    write: &Effect,
    field: &Field,
) -> Finding {
    let row = read.binding.as_deref().unwrap_or("the row");
    let column = &field.column;
    // A column named `version` that nothing bumps is the row's data: advise a
    // new column rather than hijacking it.
    let in_use = cx.version_in_use(write);
    let domain_version = in_use.is_none()
        && write
            .table
            .as_deref()
            .and_then(|t| cx.schema.version_column(t))
            .is_some();
    let version = match in_use {
        Some(v) => v.to_string(),
        None if domain_version => "row_version".to_string(),
        None => "version".to_string(),
    };
    let how = if in_use.is_some() {
        format!("test and bump `{version}`")
    } else {
        format!("add a `{version}` column, then test and bump it")
    };
    let upsert = is_upsert(write);
    let how_written = if upsert {
        "by the upsert's update of the existing row"
    } else {
        "back"
    };
    let message = format!(
        "`{}.{column}` is written {how_written} from `{}`, computed from `{row}` read at line {}, with no version check; a concurrent update between the read and this write is silently lost",
        write.table.as_deref().unwrap_or("?"),
        field.value.text,
        cx.line_of(read.site.start),
    );
    let mut target = cx.target(write);
    if upsert && target.key.is_empty() {
        target.key = cx.target(read).key;
    }
    let optimistic = cx.suggest(
        write,
        &Remedy::OptimisticLock {
            target: target.clone(),
            version_column: version.clone(),
        },
    );
    let mut help = if in_use.is_some() {
        help_with_code(
            &format!("Make the write fail when the row changed since it was read (optimistic locking: {how}, check the count, answer 409 or retry):"),
            &optimistic,
        )
    } else {
        // The column does not exist yet: the schema change comes first.
        let table = crate::schema::snake_case(write.table.as_deref().unwrap_or("?"));
        let mut help = help_with_code(
            &format!("Make the write fail when the row changed since it was read (optimistic locking). `{table}` has no version column yet: add `{version}` first (a migration; spell the table as the database names it):"),
            &format!("ALTER TABLE {table} ADD COLUMN {version} integer NOT NULL DEFAULT 0;"),
        );
        help.push_str(&help_with_code(
            "\n\nthen test and bump it, check the count, and answer 409 or retry:",
            &optimistic,
        ));
        help
    };
    if upsert {
        help = format!(
            "The upsert only decides between insert and update; the value it writes over the existing row was computed from a stale read. Insert the row if it is missing (on conflict do nothing), then update it under the version check. {help}\n\nor compute the new value from the existing row inside the upsert's update part (`col = t.col + EXCLUDED.col`, `{{ increment }}`), so the database merges it."
        );
    } else if looks_arithmetic(&field.value.text) {
        help.push_str(&help_with_code(
            "\n\nor, for a counter or a balance, let the database compute it:",
            &cx.suggest(
                write,
                &Remedy::AtomicUpdate {
                    target: cx.target(write),
                    column: column.clone(),
                },
            ),
        ));
    }
    let other_columns = row_fields_named(read, field).filter(|named| {
        let own = crate::schema::fold_name(column);
        !named.iter().any(|n| crate::schema::fold_name(n) == own)
    });
    let confidence = if super::serialized_by_sqlite(cx, function, read, write) {
        Confidence::low(super::SQLITE_SERIALIZES)
    } else if let Some(other) = other_columns {
        Confidence::low(format!(
            "`{column}` is computed from other columns of the row ({}), not from itself: a concurrent change of `{column}` is replaced as any later write would replace it, and only a stale `{}` carries over",
            other.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", "),
            other[0],
        ))
    } else if lost_value_is_numeric_or_json(column, &field.value.text) {
        Confidence::high(format!(
            "`{column}` is a number or a document: a concurrent change to it is silently lost"
        ))
    } else {
        Confidence::medium("a concurrent update between the read and the write is overwritten")
    };
    Finding {
        rule: META.id,
        severity: META.severity,
        span: write.site,
        label: format!("overwrites `{column}` with a value computed from an earlier read"),
        message,
        help,
        related: vec![Related {
            span: read.site,
            message: format!("`{row}` is read here"),
        }],
        fix: None,
        confidence,
    }
}

/// A counter, an amount or a JSON document: the updates whose loss is data loss.
fn lost_value_is_numeric_or_json(column: &str, code: &str) -> bool {
    const WORDS: &[&str] = &[
        "balance",
        "amount",
        "count",
        "total",
        "quantity",
        "qty",
        "stock",
        "credits",
        "credit",
        "price",
        "points",
        "score",
        "usage",
        "seats",
        "inventory",
        "counter",
        "metadata",
        "settings",
        "data",
        "json",
        "preferences",
        "config",
        "options",
    ];
    let snake = crate::schema::snake_case(column);
    looks_arithmetic(code) || code.contains("...") || snake.split('_').any(|w| WORDS.contains(&w))
}

fn looks_arithmetic(code: &str) -> bool {
    code.contains(" + ")
        || code.contains(" - ")
        || code.contains(" * ")
        || code.contains("+=")
        || code.contains("-=")
}

fn versioned_table(cx: &Context, write: &Effect, version: &str) -> Finding {
    let message = format!(
        "{} has a `{version}` column, but this update neither tests nor bumps it, so concurrent writers cannot notice each other",
        table_name(write)
    );
    let help = help_with_code(
        &format!("Filter on the `{version}` you read, bump it, and check the count:"),
        &cx.suggest(
            write,
            &Remedy::OptimisticLock {
                target: cx.target(write),
                version_column: version.to_string(),
            },
        ),
    );
    let confidence = Confidence::medium(format!(
        "the project uses `{version}` for optimistic locking elsewhere"
    ));
    Finding {
        rule: META.id,
        severity: META.severity,
        span: write.site,
        label: format!("ignores `{version}`"),
        message,
        help,
        related: Vec::new(),
        fix: None,
        confidence,
    }
}
