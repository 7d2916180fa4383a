//! fk-delete-order: a parent table is deleted before a child table whose foreign
//! key references it without `ON DELETE CASCADE`/`SET NULL`, so the parent delete
//! violates the constraint (seed 000: designs deleted before the traces pointing
//! at them, `P2003`); and (children_left.rs) a parent deleted while its
//! restricting children are deleted nowhere before it. Needs the schema: without
//! a known foreign key and a known ON DELETE action it says nothing rather than
//! guess.

use super::{join_words, table_name, Context, Rule};
use crate::diagnostic::{Confidence, Finding, Related, RuleMeta, Severity};
use crate::ir::remedy::{Remedy, Target};
use crate::ir::{may_both_run, Effect, EffectKind, Function};
use crate::schema::{ForeignKey, OnDelete};

mod children_left;

pub struct FkDeleteOrder;

static META: RuleMeta = RuleMeta {
    id: "fk-delete-order",
    severity: Severity::Error,
    summary: "a parent row is deleted before the child rows that reference it",
    doc: include_str!("../../rules/fk-delete-order.md"),
    concurrent: false,
    fixable: Some(crate::diagnostic::Applicability::Unsafe),
};

impl Rule for FkDeleteOrder {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Context, function: &Function, out: &mut Vec<Finding>) {
        let deletes: Vec<&Effect> = function
            .effects
            .iter()
            .filter(|e| e.kind == EffectKind::Delete && e.table.is_some())
            .collect();
        let mut reported = Vec::new();
        for (j, child) in deletes.iter().enumerate() {
            let violated = deletes[..j].iter().find_map(|parent| {
                if !may_both_run(parent, child) {
                    return None;
                }
                let fk = cx
                    .schema
                    .foreign_keys_between(child.table.as_deref()?, parent.table.as_deref()?)
                    .find(|fk| fk.blocks_parent_delete())?;
                Some((*parent, fk))
            });
            if let Some((parent, fk)) = violated {
                out.push(finding(cx, function, &deletes, parent, child, fk));
                reported.push(child.span);
            }
        }
        // One report per delete: a child deleted after its parent is this shape's.
        children_left::check(cx, function, &reported, out);
    }
}

/// The tables this function deletes, children before parents.
fn safe_order<'e>(cx: &Context, deletes: &[&'e Effect]) -> Vec<&'e Effect> {
    let mut remaining: Vec<&Effect> = Vec::new();
    for d in deletes {
        if !remaining.iter().any(|r| r.table == d.table) {
            remaining.push(d);
        }
    }
    let mut ordered = Vec::new();
    while !remaining.is_empty() {
        // A table can go once no remaining table still references it.
        let next = remaining
            .iter()
            .position(|candidate| {
                !remaining.iter().any(|other| {
                    other.table != candidate.table
                        && cx
                            .schema
                            .foreign_keys_between(
                                other.table.as_deref().unwrap_or(""),
                                candidate.table.as_deref().unwrap_or(""),
                            )
                            .any(|fk| fk.blocks_parent_delete())
                })
            })
            .unwrap_or(0);
        ordered.push(remaining.remove(next));
    }
    ordered
}

fn action(on_delete: OnDelete) -> &'static str {
    match on_delete {
        OnDelete::Restrict => "ON DELETE RESTRICT",
        OnDelete::NoAction => "no ON DELETE action",
        OnDelete::Cascade => "ON DELETE CASCADE",
        OnDelete::SetNull => "ON DELETE SET NULL",
        OnDelete::SetDefault => "ON DELETE SET DEFAULT",
    }
}

fn finding(
    cx: &Context,
    function: &Function,
    deletes: &[&Effect],
    parent: &Effect,
    child: &Effect,
    fk: &ForeignKey,
) -> Finding {
    let order = safe_order(cx, deletes);
    let chain: Vec<String> = order
        .iter()
        .map(|d| d.table.clone().unwrap_or_default())
        .collect();
    let message = format!(
        "{} is deleted at line {} while {} rows still reference it ({} → {}, {}); that delete fails with a foreign-key violation",
        table_name(parent),
        cx.line_of(parent.site.start),
        table_name(child),
        fk.columns.join(", "),
        fk.references,
        action(fk.on_delete),
    );
    let targets: Vec<Target> = order.iter().map(|d| cx.target(d)).collect();
    let advice = format!(
        "Delete children before parents: {}. Or let the database do it: make `{}` cascade on delete ({}).",
        chain.join(" → "),
        fk.columns.join(", "),
        fk.source,
    );
    let code = cx.suggest(child, &Remedy::DeleteOrder { targets });
    // Moving the child up would leave its own children in the way: the order is
    // still wrong after the move, so it is no fix.
    let grandchildren = children_left::left_of(cx, function, child);
    let advice = if grandchildren.is_empty() {
        advice
    } else {
        format!(
            "{advice} {} rows still reference {} too and are deleted nowhere: delete them before it.",
            join_words(&grandchildren),
            table_name(child)
        )
    };
    let fix = if grandchildren.is_empty() {
        cx.move_above_fix(function, parent, child)
    } else {
        None
    };
    Finding {
        rule: META.id,
        severity: META.severity,
        span: child.site,
        label: format!(
            "{} rows are deleted only here, after their parent",
            table_name(child)
        ),
        message,
        help: super::help_with_code(&advice, &code),
        related: vec![Related {
            span: parent.site,
            message: format!("{} is deleted first, here", table_name(parent)),
        }],
        fix,
        confidence: Confidence::high(format!(
            "the order fails whenever a {} row references the deleted row",
            table_name(child)
        )),
    }
}
