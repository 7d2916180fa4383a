//! fk-delete-order, second shape: a parent row is deleted while the child tables
//! whose foreign keys restrict that delete (NO ACTION / RESTRICT, known from the
//! schema) are deleted nowhere before it — not in the function, not by the
//! callees linked into it, not by every caller before the call. The delete fails
//! whenever the parent still has children. Quiet whenever the schema cannot say
//! what the database does on delete, when the function looks at or moves the
//! children first, and for Django, whose `delete()` collects related rows itself.

use super::META;
use crate::diagnostic::{Confidence, Finding, Related};
use crate::ir::remedy::{Remedy, Target};
use crate::ir::{Effect, EffectKind, Function, Span};
use crate::rules::{join_words, table_name, Context};
use crate::schema::{fold_name, ForeignKey, Table};

/// A restricting child table the function leaves in place.
struct Child<'s> {
    table: &'s Table,
    fk: &'s ForeignKey,
}

/// `reported`: deletes the first shape already reports (a child deleted after
/// its parent), one finding per place.
pub(super) fn check(cx: &Context, function: &Function, reported: &[Span], out: &mut Vec<Finding>) {
    // A test, seed or script fails in front of its author, who sees why.
    if cx.runs_alone || function.runs_alone {
        return;
    }
    for (index, parent) in function.effects.iter().enumerate() {
        if reported.contains(&parent.span) {
            continue;
        }
        let Some(parent_table) = deleted_table(cx, function, index) else {
            continue;
        };
        let left = children_left(cx, function, index, parent_table);
        if !left.is_empty() {
            let cleans_up = cleans_up_children(cx, function, index, parent_table);
            out.push(finding(cx, parent, parent_table, &left, cleans_up));
        }
    }
}

/// The children of `delete` (a delete of `function`) left in its way, named as
/// the code names tables; empty when the rule could not tell.
pub(super) fn left_of(cx: &Context, function: &Function, delete: &Effect) -> Vec<String> {
    let Some(index) = function.effects.iter().position(|e| e.span == delete.span) else {
        return Vec::new();
    };
    let Some(parent_table) = deleted_table(cx, function, index) else {
        return Vec::new();
    };
    children_left(cx, function, index, parent_table)
        .iter()
        .map(|c| format!("`{}`", code_name(delete, parent_table, c.table)))
        .collect()
}

/// The schema's table of the delete at `index`, when this shape may speak of it.
fn deleted_table<'s>(cx: &Context<'s>, function: &Function, index: usize) -> Option<&'s Table> {
    let parent = &function.effects[index];
    // The ORM's own delete of a loaded object applies the model's relationship
    // rules first (Django's `on_delete`, SQLAlchemy's cascades or nulling).
    if parent.kind != EffectKind::Delete
        || parent.client.deletes_related_rows_itself()
        || parent.unit_of_work
    {
        return None;
    }
    let parent_table = cx.schema.table(parent.table.as_deref()?)?;
    // Emulated relations (Prisma `relationMode = "prisma"`) are checked by
    // Prisma Client only: a delete through anything else meets no constraint.
    if parent_table.emulated_relations && !parent.client.checks_emulated_relations() {
        return None;
    }
    // A delete the model cannot name comes earlier, or a call of the project's
    // named for removing things: it may be the children's.
    let unknown_delete_before = function.effects[..index]
        .iter()
        .any(|e| e.kind == EffectKind::Delete && e.table.is_none())
        || function.cleanup_calls.iter().any(|&at| at <= index);
    (!unknown_delete_before).then_some(parent_table)
}

/// The parent's restricting children that nothing before the delete removes,
/// moves or looks at.
fn children_left<'s>(
    cx: &Context<'s>,
    function: &Function,
    index: usize,
    parent_table: &Table,
) -> Vec<Child<'s>> {
    let parent = &function.effects[index];
    let mut left: Vec<Child> = Vec::new();
    for (table, fk) in cx.schema.children_of(&parent_table.name) {
        // A self-reference (replies of a comment, a tree of folders) is usually
        // emptied by the same delete's filter or by application code walking it.
        // An explicit RESTRICT is the schema refusing the delete on purpose.
        if table.name == parent_table.name || !fk.blocks_parent_delete() || fk.declares_restrict() {
            continue;
        }
        if left.iter().any(|c| c.table.name == table.name) {
            continue;
        }
        let handled = function.effects.iter().enumerate().any(|(i, e)| {
            let same = e
                .table
                .as_deref()
                .is_some_and(|t| cx.schema.table_key(t) == table.name);
            same && match e.kind {
                // Deleted anywhere in the function: before is right, after is
                // the first shape's finding.
                EffectKind::Delete => true,
                // Moved to another parent, or detached, before the delete.
                EffectKind::Update | EffectKind::Upsert => i < index,
                // Looked at before the delete decides to run: the code checks
                // for children itself.
                EffectKind::Read => parent.guards.iter().any(|g| g.read == i),
                _ => false,
            }
        });
        let caller_deletes = function
            .callers_delete
            .iter()
            .any(|t| cx.schema.table_key(t) == table.name);
        if !handled && !caller_deletes {
            left.push(Child { table, fk });
        }
    }
    left
}

/// The function deletes some other child of the parent before it (seed 000's
/// cleanup that misses one table), rather than deleting the parent alone, which
/// is as often a lookup row whose referencing rows should stop the delete.
fn cleans_up_children(cx: &Context, function: &Function, index: usize, parent: &Table) -> bool {
    function.effects[..index].iter().any(|e| {
        e.kind == EffectKind::Delete
            && e.table.as_deref().is_some_and(|t| {
                cx.schema.table_key(t) != parent.name
                    && cx
                        .schema
                        .foreign_keys_between(t, &parent.name)
                        .next()
                        .is_some()
            })
    })
}

fn finding(
    cx: &Context,
    parent: &Effect,
    parent_table: &Table,
    left: &[Child],
    cleans_up: bool,
) -> Finding {
    let names: Vec<String> = left
        .iter()
        .map(|c| format!("`{}`", code_name(parent, parent_table, c.table)))
        .collect();
    let keys: Vec<String> = left
        .iter()
        .map(|c| {
            format!(
                "`{}.{}` ({}, {})",
                c.table.name,
                c.fk.columns.join(", "),
                super::action(c.fk.on_delete),
                c.fk.source
            )
        })
        .collect();
    let inserted: Vec<String> = left
        .iter()
        .filter_map(|c| {
            let place = cx.project.inserted_tables.get(&c.table.name)?;
            Some(format!("`{}` rows are inserted at {place}", c.table.name))
        })
        .collect();
    let violation = if parent_table.emulated_relations {
        parent_table.emulated_refusal().to_string()
    } else {
        match parent_table.database {
            Some(db) => format!("it fails with {}", db.foreign_key_violation()),
            None => "it fails with a foreign-key violation".to_string(),
        }
    };
    let mut message = format!(
        "{} is deleted while {} rows may still reference it through {}, and nothing before this delete removes them; {violation} whenever such rows exist",
        table_name(parent),
        join_words(&names),
        join_words(&keys),
    );
    if !inserted.is_empty() {
        message.push_str(&format!(" ({})", join_words(&inserted)));
    }
    let code = children_first_code(cx, parent, parent_table, left);
    let columns: Vec<String> = left
        .iter()
        .map(|c| format!("`{}.{}`", c.table.name, c.fk.columns.join(", ")))
        .collect();
    let advice = format!(
        "Delete the children first, in the same transaction, with the parent's filter. Or, if the children should go with their parent, make {} cascade on delete (`onDelete: Cascade`, `ON DELETE CASCADE`).",
        join_words(&columns)
    );
    let confidence = if inserted.is_empty() {
        Confidence::low(format!(
            "nothing in the project inserts {} rows, so the parent may never have any",
            join_words(&names)
        ))
    } else if !cleans_up {
        Confidence::low(format!(
            "the parent is deleted alone: the referencing {} rows may be meant to stop the delete (a lookup row still in use)",
            join_words(&names)
        ))
    } else {
        Confidence::medium(format!(
            "the function deletes other children of the parent first but not {}, which the project inserts; the delete fails (and rolls back) for every parent that has one",
            join_words(&names)
        ))
    };
    Finding {
        rule: META.id,
        severity: META.severity,
        span: parent.site,
        label: format!(
            "{} is deleted with its {} left in place",
            table_name(parent),
            join_words(&names)
        ),
        message,
        help: crate::rules::help_with_code(&advice, &code),
        related: Vec::<Related>::new(),
        fix: None,
        confidence,
    }
}

/// The child table named as the parent delete names its own table: the
/// database name next to a database name, else the alias of the same style
/// (`deployment` next to `project`, `Deployment` next to `Project`).
fn code_name(parent: &Effect, parent_table: &Table, child: &Table) -> String {
    let written = parent.table.as_deref().unwrap_or_default();
    if written == parent_table.name || child.aliases.is_empty() {
        return child.name.clone();
    }
    let lower = written.chars().next().is_some_and(char::is_lowercase);
    child
        .aliases
        .iter()
        .find(|a| a.chars().next().is_some_and(char::is_lowercase) == lower && **a != child.name)
        .or_else(|| child.aliases.first())
        .cloned()
        .unwrap_or_else(|| child.name.clone())
}

/// The children's deletes before the parent's, spelled by the parent's client,
/// when the parent's filter names the referenced columns (`where: { id }` →
/// `where: { projectId: id }`). Empty otherwise: the filter would need a join.
fn children_first_code(
    cx: &Context,
    parent: &Effect,
    parent_table: &Table,
    left: &[Child],
) -> String {
    let parent_target = cx.target(parent);
    let mut targets: Vec<Target> = Vec::new();
    for child in left {
        let mut key = Vec::new();
        for f in &parent.filter {
            let Some(at) = child
                .fk
                .referenced_columns
                .iter()
                .position(|r| fold_name(r) == fold_name(&f.column))
            else {
                return String::new();
            };
            let Some(column) = child.fk.columns.get(at) else {
                return String::new();
            };
            key.push((column.clone(), f.value.text.clone()));
        }
        if key.is_empty() {
            return String::new();
        }
        let filter_code = single_key_filter(&parent_target, &key);
        targets.push(Target {
            table: code_name(parent, parent_table, child.table),
            handle: parent.handle.clone(),
            key,
            values: Vec::new(),
            call: None,
            filter_code,
            values_code: None,
            database: cx.database_of(Some(child.table.name.as_str())),
            unique_keys: child.table.unique.clone(),
        });
    }
    targets.push(parent_target);
    cx.suggest(parent, &Remedy::DeleteOrder { targets })
}

/// A filter written as one object (`{ id: { in: ids } }`) with one column: the
/// child's is the same object keyed by the child's column, so operators survive.
fn single_key_filter(parent: &Target, key: &[(String, String)]) -> Option<String> {
    let code = parent.filter_code.as_deref()?;
    let [(column, _)] = key else { return None };
    let [(parent_column, _)] = parent.key.as_slice() else {
        return None;
    };
    let trimmed = code.trim();
    if !trimmed.starts_with('{') {
        return None;
    }
    let inner = trimmed.trim_start_matches('{').trim_start();
    if let Some(rest) = inner.strip_prefix(parent_column.as_str()) {
        let rest = rest.trim_start();
        if rest.starts_with(':') {
            return Some(format!("{{ {column}{rest}"));
        }
        if rest.starts_with('}') || rest.starts_with(',') {
            return Some(format!("{{ {column}: {parent_column}{rest}"));
        }
    }
    None
}
