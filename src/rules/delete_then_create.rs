//! delete-then-create: rows are deleted, then rows of the same (or a related) table
//! are created, and no single transaction covers both.
//!
//! Between the two, other requests see the rows gone — or, racing, recreate them
//! themselves; seed 000 deleted designs in one transaction and recreated them in
//! another, and a concurrent step read the stale ids in the gap. An upsert keyed on
//! what was deleted does not leave that gap.

use super::{help_with_code, table_name, Context, Rule};
use crate::diagnostic::{Confidence, Finding, Related, RuleMeta, Severity};
use crate::ir::{may_both_run, Effect, EffectKind, Function};

pub struct DeleteThenCreate;

static META: RuleMeta = RuleMeta {
    id: "delete-then-create",
    severity: Severity::Error,
    summary: "rows are deleted and recreated without one transaction covering both",
    doc: include_str!("../../rules/delete-then-create.md"),
    concurrent: true,
    fixable: None,
};

impl Rule for DeleteThenCreate {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Context, function: &Function, out: &mut Vec<Finding>) {
        let effects = &function.effects;
        for create in effects.iter().filter(|e| {
            e.kind == EffectKind::Insert && e.on_conflict == crate::ir::OnConflict::None
        }) {
            let delete = effects
                .iter()
                .take_while(|d| d.span.start < create.span.start)
                .find(|d| {
                    d.kind == EffectKind::Delete
                        && may_both_run(d, create)
                        && !function.same_transaction(d, create)
                        && same_or_related_table(cx, d, create)
                        && !removes_only_named_rows(cx, d, create)
                });
            if let Some(delete) = delete {
                out.push(finding(cx, function, delete, create));
                // One gap per function is enough to act on.
                return;
            }
        }
    }
}

/// A delete of rows named by their primary key (`pk__in=stale_ids`, `id: { in:
/// removed }`) prunes those rows; the rows created after get new keys, so they
/// are other rows (files that appeared beside files that went away), not these
/// recreated. Unless the create writes the same key back.
fn removes_only_named_rows(cx: &Context, delete: &Effect, create: &Effect) -> bool {
    let table = delete.table.as_deref().unwrap_or_default();
    let primary = cx
        .schema
        .table(table)
        .map(|t| t.primary_key.clone())
        .unwrap_or_default();
    let is_key = |column: &str| {
        matches!(column, "id" | "pk" | "uuid")
            || primary
                .iter()
                .any(|p| crate::schema::fold_name(p) == crate::schema::fold_name(column))
    };
    !delete.filter.is_empty()
        && delete.filter.iter().all(|f| is_key(&f.column))
        && !create.values.iter().any(|v| {
            is_key(&v.column) && delete.filter.iter().any(|f| f.value.text == v.value.text)
        })
}

/// The same table, or a related one whose new rows belong to what was deleted:
/// they carry a value the delete picked its rows by (`documentId`). A log row
/// written about the delete (an audit entry, an event) recreates nothing.
fn same_or_related_table(cx: &Context, delete: &Effect, create: &Effect) -> bool {
    let (Some(d), Some(c)) = (delete.table.as_deref(), create.table.as_deref()) else {
        return false;
    };
    if cx.schema.table_key(d) == cx.schema.table_key(c) {
        return true;
    }
    let carries_deleted_key = create.values.iter().any(|v| {
        !v.value.literal
            && delete.filter.iter().any(|f| {
                !f.value.literal && !f.value.text.is_empty() && f.value.text == v.value.text
            })
    });
    cx.schema.related(d, c) && !cx.is_log_like(create) && carries_deleted_key
}

fn finding(cx: &Context, function: &Function, delete: &Effect, create: &Effect) -> Finding {
    let gap = match (delete.transaction, create.transaction) {
        (Some(_), Some(_)) => "in separate transactions",
        (Some(_), None) | (None, Some(_)) => "with only one of them in a transaction",
        (None, None) => "outside a transaction",
    };
    let same = delete.table == create.table;
    let what = if same {
        format!(
            "{} rows are deleted and created again {gap}",
            table_name(create)
        )
    } else {
        format!(
            "{} rows are deleted and related {} rows created {gap}",
            table_name(delete),
            table_name(create)
        )
    };
    let message = format!(
        "{what}; between the two, another request sees the rows missing or recreates them itself"
    );
    let help = help_with_code(
        "Do the delete and the create in one transaction (compute what to create before it starts), or replace delete-all-recreate with an upsert of each row and a delete of only the rows that went away:",
        &cx.suggest(create, &cx.transaction_remedy(function, &[delete, create])),
    );
    Finding {
        rule: META.id,
        severity: META.severity,
        span: create.site,
        label: format!(
            "recreates what line {} deleted",
            cx.line_of(delete.site.start)
        ),
        message,
        help,
        related: vec![Related {
            span: delete.site,
            message: "the rows are deleted here".to_string(),
        }],
        fix: None,
        confidence: Confidence::medium("the rows are missing between the delete and the create"),
    }
}
