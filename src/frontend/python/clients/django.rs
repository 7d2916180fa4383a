//! The Django ORM: managers and querysets (`Model.objects.filter(…).exists()`,
//! `get`, `create`, `get_or_create`, `update_or_create`, `update(col=F("col") + 1)`,
//! `delete`, `bulk_create(ignore_conflicts=True)`, `select_for_update`), a model
//! instance's `save(update_fields=…)` and `delete()`, `transaction.atomic`, and
//! signal receivers (`@receiver(post_delete, …)`, `post_delete.connect(handler)`).

use super::{EffectDraft, FieldDraft, Recognized, Scope};
use crate::frontend::python::syntax::{compact, keyword, keywords, last_name, positional, Chain};
use crate::frontend::typescript::clients::Vocabulary;
use crate::ir::remedy::{Remedy, Target};
use crate::ir::{
    Client, EffectKind, LocalCall, OnConflict, Registration, RowLock, Span, Transaction,
};
use crate::schema::py::{children, string_list, text};
use tree_sitter::Node;

/// `.objects` is Django's own; a saved or deleted instance needs it (or an
/// import of Django) in the file.
pub static VOCABULARY: Vocabulary = Vocabulary {
    calls: &[
        ".objects",
        "select_for_update",
        "transaction.atomic",
        "_default_manager",
    ],
    gated_calls: &[
        ".save",
        ".delete",
        ".refresh_from_db",
        "atomic",
        "receiver(",
        ".connect(",
    ],
    gates: &["django", ".objects"],
};

/// Queryset methods that return a queryset (nothing runs yet).
const LAZY: &[&str] = &[
    "filter",
    "exclude",
    "all",
    "order_by",
    "select_related",
    "prefetch_related",
    "only",
    "defer",
    "distinct",
    "annotate",
    "values",
    "values_list",
    "using",
    "select_for_update",
    "none",
];

const MANAGERS: &[&str] = &["objects", "_default_manager", "_base_manager"];

pub fn recognize<'t>(
    chain: &Chain<'t>,
    src: &'t str,
    hints: super::FileHints,
    scope: &Scope<'t>,
) -> Option<Recognized<'t>> {
    if let Some(found) = queryset(chain, src) {
        return Some(found);
    }
    if !hints.django {
        return None;
    }
    instance_method(chain, src, scope)
}

/// A chain through a manager: the model, and the segment after `objects`.
fn manager<'t>(chain: &Chain<'t>, src: &'t str) -> Option<(String, usize, String)> {
    let at = chain
        .segments
        .iter()
        .position(|s| MANAGERS.contains(&s.name) && !s.is_call())?;
    let model_code = chain.receiver_text(at, src);
    let model = last_name(&model_code);
    if !super::is_model_name(&model) {
        return None;
    }
    Some((
        model,
        at + 1,
        format!("{model_code}.{}", chain.segments[at].name),
    ))
}

/// A queryset that locks its rows (`Model.objects.select_for_update()…`), built
/// whether or not it is evaluated here.
pub fn locks_rows(chain: &Chain, src: &str) -> bool {
    manager(chain, src).is_some_and(|(_, start, _)| {
        chain.segments[start..]
            .iter()
            .any(|s| s.name == "select_for_update" && s.is_call())
    })
}

fn queryset<'t>(chain: &Chain<'t>, src: &'t str) -> Option<Recognized<'t>> {
    let (model, start, handle) = manager(chain, src)?;
    let mut filter: Vec<FieldDraft<'t>> = Vec::new();
    let mut row_lock = RowLock::None;
    let mut last_site = None;
    let mut descending: Option<String> = None;
    for segment in &chain.segments[start..] {
        let site = segment.name_node.unwrap_or(segment.node);
        last_site = Some(site);
        let Some(args) = segment.args else {
            continue;
        };
        let draft = |kind: EffectKind| {
            let mut d = EffectDraft::new(kind, Client::Django, handle.clone(), site);
            d.table = Some(model.clone());
            d.row_lock = row_lock;
            d
        };
        match segment.name {
            "filter" => lookups(args, src, &mut filter),
            "select_for_update" => row_lock = RowLock::Exclusive,
            "order_by" => {
                descending = match positional(args).as_slice() {
                    [first, ..] => crate::schema::py::string_value(*first, src)
                        .and_then(|c| c.strip_prefix('-').map(str::to_string)),
                    [] => None,
                };
            }
            name if LAZY.contains(&name) => {}
            "get" | "first" | "last" | "earliest" | "latest" => {
                let mut d = draft(EffectKind::Read);
                let named = positional(args)
                    .first()
                    .and_then(|a| crate::schema::py::string_value(*a, src));
                d.tally = match segment.name {
                    "first" => descending.clone(),
                    "latest" => named.filter(|c| !c.starts_with('-')),
                    _ => None,
                }
                .map(crate::ir::Tally::max);
                if segment.name != "latest" {
                    lookups(args, src, &mut filter);
                }
                d.throws_if_missing = segment.name == "get";
                d.many = false;
                d.filter = filter;
                return Some(Recognized::Effect(d));
            }
            "exists" | "count" | "aggregate" | "in_bulk" | "iterator" | "contains" => {
                let mut d = draft(EffectKind::Read);
                d.tally = match segment.name {
                    "count" => Some(crate::ir::Tally::count()),
                    "aggregate" => aggregated(args, src),
                    _ => None,
                };
                d.many = true;
                d.filter = filter;
                return Some(Recognized::Effect(d));
            }
            "create" => {
                let mut d = draft(EffectKind::Insert);
                d.values = values(args, src, &[]);
                return Some(Recognized::Effect(d));
            }
            "get_or_create" | "update_or_create" => {
                // Django runs these as "read, else insert" and, on the unique
                // violation the losing insert raises, reads again: the database
                // decides when a unique key covers the lookup.
                let upsert = segment.name == "update_or_create";
                let mut d = draft(if upsert {
                    EffectKind::Upsert
                } else {
                    EffectKind::Insert
                });
                d.on_conflict = if upsert {
                    OnConflict::DoUpdate
                } else {
                    OnConflict::DoNothing
                };
                lookups(args, src, &mut filter);
                d.values = values(args, src, &["defaults", "create_defaults"]);
                if let Some(defaults) = keyword(args, src, "defaults") {
                    let mut update = Vec::new();
                    for (column, value) in
                        crate::frontend::python::syntax::dict_pairs(defaults, src)
                    {
                        let field = FieldDraft {
                            column,
                            value: Some(value),
                            atomic: text(value, src).contains("F("),
                        };
                        update.push(field.clone());
                        d.values.push(field);
                    }
                    // `defaults` is what an existing row is updated with.
                    if upsert {
                        d.conflict_update = Some(update);
                    }
                }
                d.filter = filter;
                return Some(Recognized::Effect(d));
            }
            "update" => {
                let mut d = draft(EffectKind::Update);
                d.values = values(args, src, &[]);
                d.many = !filter
                    .iter()
                    .any(|f| matches!(f.column.as_str(), "id" | "pk"));
                d.filter = filter;
                return Some(Recognized::Effect(d));
            }
            "delete" => {
                let mut d = draft(EffectKind::Delete);
                d.many = !filter
                    .iter()
                    .any(|f| matches!(f.column.as_str(), "id" | "pk"));
                d.filter = filter;
                return Some(Recognized::Effect(d));
            }
            "bulk_create" => {
                let flag = |k: &str| keyword(args, src, k).is_some_and(|v| text(v, src) == "True");
                let upsert = flag("update_conflicts");
                let mut d = draft(if upsert {
                    EffectKind::Upsert
                } else {
                    EffectKind::Insert
                });
                d.many = true;
                d.on_conflict = if upsert {
                    OnConflict::DoUpdate
                } else if flag("ignore_conflicts") {
                    OnConflict::DoNothing
                } else {
                    OnConflict::None
                };
                return Some(Recognized::Effect(d));
            }
            "bulk_update" => {
                let mut d = draft(EffectKind::Update);
                d.many = true;
                if let Some(fields) = positional(args).get(1).and_then(|f| string_list(*f, src)) {
                    d.values = fields
                        .into_iter()
                        .map(|column| FieldDraft {
                            column,
                            value: None,
                            atomic: false,
                        })
                        .collect();
                }
                return Some(Recognized::Effect(d));
            }
            _ => return None,
        }
    }
    // A queryset built and not run here: iterating or returning it reads.
    let mut read = EffectDraft::new(
        EffectKind::Read,
        Client::Django,
        handle,
        last_site.unwrap_or(chain.root),
    );
    read.table = Some(model);
    read.many = true;
    read.filter = filter;
    read.row_lock = row_lock;
    Some(Recognized::Deferred { read: Some(read) })
}

/// What `aggregate(Max("position"))` / `aggregate(last=Max("position"))` /
/// `aggregate(n=Count("id"))` tallies, when it computes one thing.
fn aggregated(args: Node, src: &str) -> Option<crate::ir::Tally> {
    let code: String = text(args, src).split_whitespace().collect();
    let at = code.find("Max(").or_else(|| code.find("Count("))?;
    if code[at + 1..].contains("Max(") || code[at + 1..].contains("Count(") {
        return None;
    }
    let call = &code[at..];
    if call.starts_with("Count(") {
        return Some(crate::ir::Tally::count());
    }
    let column = call["Max(".len()..]
        .split([')', ','])
        .next()?
        .trim_matches(['"', '\'']);
    (!column.is_empty()).then(|| crate::ir::Tally::max(column.to_string()))
}

/// `filter(email=e, team__id=t, status__in=…)` → columns `email`, `team`, `status`.
fn lookups<'t>(args: Node<'t>, src: &'t str, out: &mut Vec<FieldDraft<'t>>) {
    for (key, value) in keywords(args, src) {
        if matches!(key, "defaults" | "create_defaults") {
            continue;
        }
        let column = key.split("__").next().unwrap_or(key);
        let column = if column == "pk" { "id" } else { column };
        out.push(FieldDraft {
            column: column.to_string(),
            value: Some(value),
            atomic: false,
        });
    }
}

/// Keyword arguments written as columns; `F("n") + 1` is computed by the database.
fn values<'t>(args: Node<'t>, src: &'t str, skip: &[&str]) -> Vec<FieldDraft<'t>> {
    keywords(args, src)
        .into_iter()
        .filter(|(k, _)| !skip.contains(k))
        .map(|(column, value)| FieldDraft {
            column: column.split("__").next().unwrap_or(column).to_string(),
            value: Some(value),
            atomic: is_f_expression(value, src),
        })
        .collect()
}

fn is_f_expression(value: Node, src: &str) -> bool {
    let code = text(value, src);
    code.starts_with("F(")
        || code.contains(" F(")
        || code.contains("(F(")
        || code.starts_with("models.F(")
}

/// `obj.save(…)`, `obj.delete()`, `obj.refresh_from_db()` on a variable the
/// lowering knows (a row read through a manager, or a model built by its
/// constructor).
fn instance_method<'t>(
    chain: &Chain<'t>,
    src: &'t str,
    scope: &Scope<'t>,
) -> Option<Recognized<'t>> {
    let [segment] = chain.segments.as_slice() else {
        return None;
    };
    let object = chain.root;
    let origin = scope.origins.get(text(object, src))?;
    if origin.client != Client::Django && !origin.constructed {
        return None;
    }
    let args = segment.args?;
    let site = segment.name_node.unwrap_or(segment.node);
    match segment.name {
        "save" => Some(Recognized::SaveObject {
            client: Client::Django,
            site,
            object,
            update_fields: keyword(args, src, "update_fields").and_then(|f| string_list(f, src)),
        }),
        "delete" if !origin.constructed => Some(Recognized::DeleteObject {
            client: Client::Django,
            handle: compact(text(object, src)),
            site,
            object,
        }),
        _ => None,
    }
}

/// `transaction.atomic`, `atomic`, `transaction.atomic(using=…)`, as a decorator's
/// or a context manager's code.
/// `transaction.atomic` in any spelling, or a project's wrapper named for it
/// (`traced_atomic_transaction()`, `atomic_transaction(using=…)`): a context
/// manager or decorator whose name has the word `atomic` runs in a transaction,
/// except file helpers (`atomic_write(path)`, `atomic_open`).
pub fn is_atomic(code: &str) -> bool {
    let head = code.split('(').next().unwrap_or(code).trim();
    if matches!(
        head,
        "transaction.atomic" | "atomic" | "db.transaction.atomic" | "django.db.transaction.atomic"
    ) {
        return true;
    }
    let name = head.rsplit('.').next().unwrap_or(head).to_ascii_lowercase();
    let words: Vec<&str> = name.split('_').collect();
    words.contains(&"atomic")
        && !words.iter().any(|w| {
            matches!(
                *w,
                "write" | "writer" | "file" | "open" | "save" | "rename" | "replace" | "dump"
            )
        })
}

// ---- signal receivers ----------------------------------------------------

/// The signals Django sends only inside a `transaction.atomic(savepoint=False)`
/// of its own: `pre_delete` and `post_delete` from `Collector.delete` (its fast
/// path, outside the block, is taken only for a model no receiver listens to),
/// `m2m_changed` from the many-to-many managers' `add`, `remove`, `clear` and
/// `set`. `pre_save` and `post_save` are sent outside `save_base`'s block.
const SENT_IN_TRANSACTION: &[&str] = &["pre_delete", "post_delete", "m2m_changed"];

const MAX_DEPTH: u32 = 400;

/// The functions the file registers as signal receivers, `@receiver(signal, …)`
/// (one signal or a list) and `signal.connect(handler, …)`, each with the
/// transaction Django runs it in when the signal is always sent in one.
pub fn registrations(root: Node, src: &str) -> Vec<Registration> {
    let mut out = Vec::new();
    walk_registrations(root, src, None, &mut out, 0);
    out
}

fn walk_registrations(
    node: Node,
    src: &str,
    class: Option<&str>,
    out: &mut Vec<Registration>,
    depth: u32,
) {
    if depth > MAX_DEPTH {
        return;
    }
    for child in children(node) {
        match child.kind() {
            "decorated_definition" => {
                let definition = child
                    .child_by_field_name("definition")
                    .filter(|d| d.kind() == "function_definition");
                if let Some((def, name)) =
                    definition.and_then(|d| Some((d, d.child_by_field_name("name")?)))
                {
                    let name = match class {
                        Some(class) => format!("{class}.{}", text(name, src)),
                        None => text(name, src).to_string(),
                    };
                    for decorator in children(child)
                        .into_iter()
                        .filter(|d| d.kind() == "decorator")
                    {
                        for signal in receiver_signals(decorator, src) {
                            out.push(registration(&name, &signal, def));
                        }
                    }
                }
                walk_registrations(child, src, class, out, depth + 1);
            }
            "class_definition" => {
                let name = child.child_by_field_name("name").map(|n| text(n, src));
                if let Some(body) = child.child_by_field_name("body") {
                    walk_registrations(body, src, name, out, depth + 1);
                }
            }
            "function_definition" => walk_registrations(child, src, None, out, depth + 1),
            "call" => {
                if let Some((signal, handler)) = connected(child, src) {
                    out.push(registration(&handler, &signal, child));
                }
                walk_registrations(child, src, class, out, depth + 1);
            }
            _ => walk_registrations(child, src, class, out, depth + 1),
        }
    }
}

/// The signals a `@receiver(signal, …)` or `@receiver([a, b], …)` decorator names.
fn receiver_signals(decorator: Node, src: &str) -> Vec<String> {
    let Some(call) = children(decorator).into_iter().find(|c| c.kind() == "call") else {
        return Vec::new();
    };
    let function = call
        .child_by_field_name("function")
        .map_or("", |f| text(f, src));
    if last_name(function) != "receiver" {
        return Vec::new();
    }
    let Some(first) = call
        .child_by_field_name("arguments")
        .and_then(|a| positional(a).into_iter().next())
    else {
        return Vec::new();
    };
    match first.kind() {
        "list" | "tuple" => children(first)
            .into_iter()
            .filter(|s| matches!(s.kind(), "identifier" | "attribute"))
            .map(|s| last_name(text(s, src)))
            .collect(),
        _ => vec![last_name(text(first, src))],
    }
}

/// `signal.connect(handler, …)` (or `receiver=handler`): the signal and the handler.
fn connected(call: Node, src: &str) -> Option<(String, String)> {
    let function = call.child_by_field_name("function")?;
    if function.kind() != "attribute"
        || text(function.child_by_field_name("attribute")?, src) != "connect"
    {
        return None;
    }
    let signal = last_name(text(function.child_by_field_name("object")?, src));
    let args = call.child_by_field_name("arguments")?;
    let handler = positional(args)
        .into_iter()
        .next()
        .or_else(|| keyword(args, src, "receiver"))
        .filter(|h| matches!(h.kind(), "identifier" | "attribute"))?;
    Some((signal, compact(text(handler, src))))
}

fn registration(handler: &str, signal: &str, node: Node) -> Registration {
    let span = Span::new(node.start_byte(), node.end_byte());
    Registration {
        handler: LocalCall {
            callee: handler.to_string(),
            span,
            ..LocalCall::default()
        },
        runs_in: SENT_IN_TRANSACTION
            .contains(&signal)
            .then(|| Transaction::ambient(Client::Django, span)),
    }
}

// ---- suggestions ----------------------------------------------------------

/// The key's columns, then the data's that are not in the key.
fn merged(key: &[(String, String)], values: &[(String, String)]) -> Vec<(String, String)> {
    let mut out = key.to_vec();
    for pair in values {
        if !out.iter().any(|(c, _)| *c == pair.0) {
            out.push(pair.clone());
        }
    }
    out
}

fn model(target: &Target) -> String {
    if target.table.is_empty() {
        "Model".to_string()
    } else {
        target.table.clone()
    }
}

fn kwargs(pairs: &[(String, String)], fallback: &str) -> String {
    if pairs.is_empty() {
        return fallback.to_string();
    }
    pairs
        .iter()
        .map(|(c, v)| format!("{c}={}", if v.is_empty() { c } else { v }))
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn suggest(remedy: &Remedy) -> String {
    match remedy {
        Remedy::NumberUnderLock { read, .. } => suggest(&Remedy::LockThenCheck { target: read.clone() }),
        Remedy::InsertOnConflict { target } => format!(
            "# with a unique constraint on ({keys}):\nobj, created = {m}.objects.get_or_create({key}, defaults={{{defaults}}})",
            keys = target.key.iter().map(|(c, _)| c.as_str()).collect::<Vec<_>>().join(", "),
            key = kwargs(&target.key, "…"),
            defaults = target
                .values
                .iter()
                .map(|(c, v)| format!("\"{c}\": {}", if v.is_empty() { c } else { v }))
                .collect::<Vec<_>>()
                .join(", "),
            m = model(target),
        ),
        Remedy::ConditionalWrite { target, state } => {
            let mut pairs = target.key.clone();
            pairs.extend(state.iter().cloned());
            format!(
                "updated = {m}.objects.filter({}).update({})\nif updated == 0:\n    raise Conflict()  # someone else got there first",
                kwargs(&pairs, "pk=pk"),
                kwargs(&target.values, "…"),
                m = model(target),
            )
        }
        Remedy::HandleUniqueViolation { target, unique_key } => format!(
            "from django.db import IntegrityError, transaction\n\ntry:\n    with transaction.atomic():\n        {m}.objects.create({})\nexcept IntegrityError:  # unique ({})\n    obj = {m}.objects.get({})",
            kwargs(&merged(&target.key, &target.values), "…"),
            unique_key.join(", "),
            kwargs(&target.key, "…"),
            m = model(target),
        ),
        Remedy::LockThenCheck { target } => format!(
            "with transaction.atomic():\n    row = {m}.objects.select_for_update().filter({}).first()\n    # check `row`, then write; the lock holds until the block ends{sqlite}",
            kwargs(&target.key, "pk=pk"),
            m = model(target),
            sqlite = if target.database.databases().contains(&crate::schema::Database::Sqlite) {
                "\n    # (SQLite ignores select_for_update: there, make the block's first statement a write)"
            } else {
                ""
            },
        ),
        Remedy::Transaction { targets, .. } => format!(
            "from django.db import transaction\n\nwith transaction.atomic():\n    # every write here commits together, or none does\n{}",
            super::transaction_body(targets, None, "")
        ),
        Remedy::OptimisticLock {
            target,
            version_column,
        } => format!(
            "updated = {m}.objects.filter({}, {version_column}=obj.{version_column}).update(\n    {}, {version_column}=F(\"{version_column}\") + 1\n)\nif updated == 0:\n    raise Conflict()  # changed since it was read: retry or answer 409",
            kwargs(&target.key, "pk=obj.pk"),
            kwargs(&target.values, "…"),
            m = model(target),
        ),
        Remedy::AtomicUpdate { target, column } => format!(
            "from django.db.models import F\n\n{m}.objects.filter({}).update({column}=F(\"{column}\") + delta)",
            kwargs(&target.key, "pk=pk"),
            m = model(target),
        ),
        Remedy::DeleteOrder { targets } => {
            let lines: Vec<String> = targets
                .iter()
                .map(|t| format!("    {}.objects.filter({}).delete()", model(t), kwargs(&t.key, "…")))
                .collect();
            format!("with transaction.atomic():\n{}", lines.join("\n"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::is_atomic;

    #[test]
    fn atomic_blocks_and_project_wrappers_named_for_them() {
        for code in [
            "transaction.atomic()",
            "atomic",
            "transaction.atomic(using=db)",
            "traced_atomic_transaction()",
            "core.tracing.traced_atomic_transaction()",
            "atomic_transaction(using='replica')",
        ] {
            assert!(is_atomic(code), "{code}");
        }
        for code in [
            "atomic_write(path)",
            "atomicwrites.atomic_write(p)",
            "transaction.on_commit(f)",
            "atomically_save()",
        ] {
            assert!(!is_atomic(code), "{code}");
        }
    }
}
