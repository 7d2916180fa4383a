//! TypeORM 0.3: repository and entity-manager calls, the query builder, callback
//! transactions and query runners.
//!
//! The table of a call is the entity class when the file shows it —
//! `getRepository(User)`, `manager.findOne(User, …)`, `users: Repository<User>`,
//! `repo = x.getRepository(User)` — and otherwise comes from the repository's name
//! (`userRepository` → `user`). Effects through `manager` inside
//! `dataSource.transaction(async (manager) => …)` are in the transaction, those
//! through an outer `this.repo` are not; effects through `queryRunner.manager` are
//! inside `queryRunner.startTransaction()` … `commitTransaction()`.
//!
//! `save` inserts or updates by primary key: saving a variable bound to an earlier
//! read (or an object carrying `id`) is an update of the fields assigned since;
//! anything else is an insert. `create` and `merge` build entities in memory and are
//! not effects.

use super::ormkit::{
    field, is_capitalized, key_or_id, last_name, lock_of, object_fields, object_literal,
    single_call, string_value,
};
use super::{EffectDraft, FieldDraft, FileHints, Recognized, Scope, TxControl};
use crate::frontend::typescript::syntax::{
    arguments, is_function, named_children, object_properties, property, text, Chain, Segment,
};
use crate::ir::remedy::{Remedy, Target};
use crate::ir::{Client, EffectKind, OnConflict, RowLock};
use tree_sitter::Node;

/// Every call is gated: recognised only where `mentions_typeorm` holds or on a
/// handle named like a repository (`…Repository`, `…Repo`), whose `.` these
/// gates look for.
pub const VOCABULARY: super::Vocabulary = super::Vocabulary {
    calls: &[],
    gated_calls: &[
        ".find*",
        ".count*",
        ".exist*",
        ".sum",
        ".maximum",
        ".minimum",
        ".save",
        ".insert",
        ".update",
        ".increment",
        ".decrement",
        ".softDelete",
        ".softRemove",
        ".restore",
        ".delete",
        ".remove",
        ".upsert",
        ".transaction",
        "Transaction(",
        ".query",
        "createQueryBuilder",
    ],
    gates: &[
        "typeorm",
        "Repository<",
        "getRepository(",
        "EntityManager",
        "DataSource",
        "repo.",
        "repository.",
    ],
};

/// Repository / entity-manager methods.
const METHODS: &[(&str, EffectKind)] = &[
    ("findOne", EffectKind::Read),
    ("findOneBy", EffectKind::Read),
    ("findOneOrFail", EffectKind::Read),
    ("findOneByOrFail", EffectKind::Read),
    ("find", EffectKind::Read),
    ("findBy", EffectKind::Read),
    ("findAndCount", EffectKind::Read),
    ("findAndCountBy", EffectKind::Read),
    ("count", EffectKind::Read),
    ("countBy", EffectKind::Read),
    ("exist", EffectKind::Read),
    ("exists", EffectKind::Read),
    ("existsBy", EffectKind::Read),
    ("sum", EffectKind::Read),
    ("maximum", EffectKind::Read),
    ("minimum", EffectKind::Read),
    ("save", EffectKind::Insert),
    ("insert", EffectKind::Insert),
    ("update", EffectKind::Update),
    ("increment", EffectKind::Update),
    ("decrement", EffectKind::Update),
    ("softDelete", EffectKind::Update),
    ("softRemove", EffectKind::Update),
    ("restore", EffectKind::Update),
    ("delete", EffectKind::Delete),
    ("remove", EffectKind::Delete),
    ("upsert", EffectKind::Upsert),
];

/// Query-builder calls that run it.
const QB_TERMINALS: &[&str] = &[
    "getOne",
    "getOneOrFail",
    "getMany",
    "getManyAndCount",
    "getCount",
    "getExists",
    "getRawOne",
    "getRawMany",
    "execute",
];

pub fn mentions_typeorm(src: &str) -> bool {
    src.contains("typeorm")
        || src.contains("Repository<")
        || src.contains("getRepository(")
        || src.contains("EntityManager")
        || src.contains("DataSource")
}

/// `users: Repository<User>` and `repo = ….getRepository(User)`: (name, entity).
pub fn declared_repositories(src: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let ident = |s: &str| -> String {
        s.chars()
            .rev()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '$')
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect()
    };
    let after_ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '$')
            .collect()
    };
    for (at, _) in src.match_indices("Repository<") {
        let entity = after_ident(&src[at + "Repository<".len()..]);
        let before = src[..at].trim_end();
        let before = before.strip_suffix(':').map(str::trim_end).map(|b| {
            let b = b.strip_suffix(['!', '?']).unwrap_or(b);
            b.trim_end()
        });
        if let Some(before) = before {
            let name = ident(before);
            if !name.is_empty() && !entity.is_empty() {
                out.push((name, entity));
            }
        }
    }
    for (at, _) in src.match_indices("getRepository(") {
        // `getRepository(ctx, User)` (a project's connection wrapper taking a
        // context first) names the entity second.
        let args = &src[at + "getRepository(".len()..];
        let mut entity = after_ident(args);
        if entity.starts_with(|c: char| c.is_ascii_lowercase()) {
            if let Some(rest) = args.trim_start()[entity.len()..]
                .trim_start()
                .strip_prefix(',')
            {
                entity = after_ident(rest);
            }
        }
        let line_start = src[..at].rfind(['\n', ';', '{']).map_or(0, |i| i + 1);
        let before = &src[line_start..at];
        if let Some(eq) = before.find('=') {
            let lhs = before[..eq].trim_end();
            let lhs = lhs.split(':').next().unwrap_or(lhs).trim_end();
            let name = ident(lhs);
            if !name.is_empty() && !entity.is_empty() && !before[eq..].starts_with("==") {
                out.push((name, entity));
            }
        }
    }
    out
}

/// The entity a repository getter names: its first argument, or the first
/// capitalised one after a context (`getRepository(ctx, User)`).
fn repository_entity(
    getter: &crate::frontend::typescript::syntax::Segment,
    src: &str,
) -> Option<String> {
    let first = getter.arg(0)?;
    let is_entity = |n: Node| n.kind() == "identifier" && is_capitalized(text(n, src));
    if !is_entity(first) && matches!(first.kind(), "identifier" | "member_expression" | "this") {
        // `getRepository(ctx, translationType)`: the second argument is the
        // entity even when it is a variable.
        if let Some(second) = getter.arg(1).filter(|n| n.kind() == "identifier") {
            return Some(text(second, src).to_string());
        }
    }
    Some(text(first, src).to_string())
}

/// The context a project's connection wrapper builds the repository from
/// (`ctx` of `getRepository(ctx, User)`): the transaction it carries, if any, is
/// the one the repository's statements run in.
fn repository_context(
    getter: &crate::frontend::typescript::syntax::Segment,
    src: &str,
) -> Option<String> {
    let first = getter.arg(0)?;
    getter.arg(1)?;
    (matches!(first.kind(), "identifier" | "member_expression")
        && !is_capitalized(text(first, src)))
    .then(|| text(first, src).to_string())
}

fn is_manager(receiver: &str) -> bool {
    let last = last_name(receiver).to_ascii_lowercase();
    last.contains("manager") || last == "em"
}

fn looks_like_repository(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.ends_with("repository") || lower.ends_with("repo")
}

/// `userRepository` → `user`, `ordersRepo` → `orders`.
fn table_from_repository_name(name: &str) -> Option<String> {
    let lower = name.to_ascii_lowercase();
    let cut = if lower.ends_with("repository") {
        name.len() - "repository".len()
    } else if lower.ends_with("repo") {
        name.len() - "repo".len()
    } else {
        return None;
    };
    let base = name[..cut].trim_end_matches('_');
    (!base.is_empty()).then(|| base.to_string())
}

pub fn recognize<'t>(
    chain: &Chain<'t>,
    src: &'t str,
    hints: &FileHints,
    scope: &Scope<'t>,
) -> Option<Recognized<'t>> {
    if hints.orm.sequelize && !hints.orm.typeorm {
        return None;
    }
    if let Some(q) = chain
        .segments
        .iter()
        .position(|s| s.name == "createQueryBuilder")
    {
        return query_builder(chain, q, src, hints);
    }
    let (call_index, call) = repository_call(chain).or_else(|| single_call(chain))?;
    let receiver = chain.receiver_text(call_index, src);
    match call.name {
        "transaction" if hints.orm.typeorm => return transaction(call, src),
        "startTransaction" => {
            let serializable = call
                .arg(0)
                .is_some_and(|a| text(a, src).to_ascii_uppercase().contains("SERIALIZABLE"));
            return Some(Recognized::Control {
                client: Client::TypeOrm,
                handle: receiver.to_string(),
                control: TxControl::Begin { serializable },
            });
        }
        "commitTransaction" | "rollbackTransaction" => {
            return Some(Recognized::Control {
                client: Client::TypeOrm,
                handle: receiver.to_string(),
                control: if call.name == "commitTransaction" {
                    TxControl::Commit
                } else {
                    TxControl::Rollback
                },
            })
        }
        "query" if hints.orm.typeorm && (is_manager(receiver) || is_data_source(receiver)) => {
            return raw(call, receiver, src)
        }
        _ => {}
    }
    let &(method, kind) = METHODS.iter().find(|(m, _)| *m == call.name)?;
    // Which repository: `getRepository(User).x`, `manager.x(User, …)`, a known one.
    let mut args: Vec<Node<'t>> = call.args.map(arguments).unwrap_or_default();
    let mut context = None;
    let (table, handle) = if call_index > 0 && chain.segments[call_index - 1].is_call() {
        let getter = &chain.segments[call_index - 1];
        if !matches!(getter.name, "getRepository" | "withRepository") {
            return None;
        }
        context = repository_context(getter, src);
        let entity = repository_entity(getter, src);
        (entity, chain.receiver_text(call_index - 1, src).to_string())
    } else if is_manager(receiver)
        && args
            .first()
            .is_some_and(|a| a.kind() == "identifier" && is_capitalized(text(*a, src)))
    {
        let entity = text(args.remove(0), src).to_string();
        (Some(entity), receiver.to_string())
    } else {
        let name = last_name(receiver);
        let known = hints
            .orm
            .repositories
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, e)| e.clone());
        match known {
            Some(entity) => (Some(entity), receiver.to_string()),
            None if looks_like_repository(name) => {
                (table_from_repository_name(name), receiver.to_string())
            }
            // `manager.save(user)` with a row read earlier.
            None if is_manager(receiver) => (None, receiver.to_string()),
            None => return None,
        }
    };
    if !hints.orm.typeorm && !looks_like_repository(last_name(&handle)) {
        return None;
    }
    let mut draft = EffectDraft::new(kind, Client::TypeOrm, handle, call.name_node?);
    // A repository's API differs from the transaction manager's: no handle swap.
    draft.receiver_is_handle = false;
    draft.table = table;
    draft.context = context;
    let first = args.first().copied();
    match method {
        "findOne" | "findOneOrFail" | "find" | "findAndCount" | "count" | "exist" | "exists" => {
            if let Some(options) = first {
                if let Some(filter) = property(options, "where", src) {
                    where_fields(filter, src, &mut draft.filter);
                }
                if let Some(lock) = property(options, "lock", src) {
                    let mode = property(lock, "mode", src).map_or("", |m| text(m, src));
                    draft.row_lock = lock_of(mode);
                }
            }
            draft.throws_if_missing = method.ends_with("OrFail");
            draft.many = matches!(method, "find" | "findAndCount" | "count");
        }
        "findOneBy" | "findOneByOrFail" | "findBy" | "findAndCountBy" | "countBy" | "existsBy" => {
            if let Some(filter) = first {
                where_fields(filter, src, &mut draft.filter);
            }
            draft.throws_if_missing = method.ends_with("OrFail");
            draft.many = matches!(method, "findBy" | "findAndCountBy" | "countBy");
        }
        "sum" | "maximum" | "minimum" => {
            if let Some(filter) = args.get(1) {
                where_fields(*filter, src, &mut draft.filter);
            }
            draft.many = true;
        }
        "save" => save(&mut draft, first, src, scope),
        "insert" => {
            if let Some(values) = first {
                draft.many = values.kind() == "array";
                draft.values = object_fields(values, src);
            }
        }
        "update" | "softDelete" | "restore" | "delete" => {
            if let Some(criteria) = first {
                criteria_fields(criteria, src, &mut draft.filter);
            }
            if method == "update" {
                if let Some(values) = args.get(1) {
                    draft.values = object_fields(*values, src);
                }
            } else if method != "delete" {
                draft.values.push(field("deletedAt", None));
            }
            draft.many = !draft.filter.iter().any(|f| f.column == "id");
        }
        "remove" | "softRemove" => {
            let entity = first?;
            draft.filter.push(field("id", Some(entity)));
            if draft.table.is_none() && entity.kind() == "identifier" {
                draft.table = scope
                    .origin(text(entity, src))
                    .and_then(|o| o.table.clone());
            }
            if method == "softRemove" {
                draft.values.push(field("deletedAt", None));
            }
        }
        "increment" | "decrement" => {
            if let Some(criteria) = first {
                criteria_fields(criteria, src, &mut draft.filter);
            }
            if let Some(column) = args.get(1).and_then(|c| string_value(*c, src)) {
                draft.values.push(FieldDraft {
                    column,
                    value: args.get(2).copied(),
                    atomic: true,
                });
            }
            draft.many = !draft.filter.iter().any(|f| f.column == "id");
        }
        "upsert" => {
            if let Some(values) = first {
                draft.values = object_fields(values, src);
            }
            draft.on_conflict = OnConflict::DoUpdate;
        }
        _ => {}
    }
    Some(Recognized::Effect(draft))
}

/// `x.getRepository(User).findOneBy(…)`: the call after the repository getter.
fn repository_call<'c, 't>(chain: &'c Chain<'t>) -> Option<(usize, &'c Segment<'t>)> {
    let getter = chain
        .segments
        .iter()
        .position(|s| matches!(s.name, "getRepository" | "withRepository") && s.is_call())?;
    let index = getter + 1;
    let call = chain.segments.get(index).filter(|s| s.is_call())?;
    chain.segments[index + 1..]
        .iter()
        .all(|s| super::ormkit::PROMISE_TAIL.contains(&s.name))
        .then_some((index, call))
}

fn is_data_source(receiver: &str) -> bool {
    let last = last_name(receiver).to_ascii_lowercase();
    last.contains("datasource") || last.contains("connection") || last.contains("queryrunner")
}

/// `save(entity)`: an update of a row read earlier, else an insert.
fn save<'t>(draft: &mut EffectDraft<'t>, entity: Option<Node<'t>>, src: &str, scope: &Scope<'t>) {
    let Some(entity) = entity else { return };
    match entity.kind() {
        "identifier" => {
            let name = text(entity, src);
            if let Some(origin) = scope.origin(name) {
                if draft.table.is_none() {
                    draft.table = origin.table.clone();
                }
                // Read here, or returned by a call (`await this.findOne(ctx, id)`).
                if matches!(origin.kind, EffectKind::Read | EffectKind::CallResult) {
                    draft.kind = EffectKind::Update;
                    draft.filter.push(field("id", Some(entity)));
                }
            } else if !created_in_file(name, src) {
                // `save(updated)` of an entity neither read here nor built here
                // (`patchEntity(customer, input)`): an existing row, saved by id.
                draft.kind = EffectKind::Update;
                draft.filter.push(field("id", Some(entity)));
            }
            draft.values = scope
                .assigned(name)
                .iter()
                .map(|(column, value)| field(column.clone(), Some(*value)))
                .collect();
        }
        "object" => {
            draft.values = object_fields(entity, src);
            // `{ ...user, status }` or `{ id, … }`: by primary key.
            let spread = named_children(entity)
                .find(|c| c.kind() == "spread_element")
                .and_then(|s| s.named_child(0))
                .filter(|s| s.kind() == "identifier" && scope.origin(text(*s, src)).is_some());
            if let Some(row) = spread {
                draft.kind = EffectKind::Update;
                draft.filter.push(field("id", Some(row)));
            } else if let Some(id) = draft.values.iter().position(|f| f.column == "id") {
                draft.kind = EffectKind::Update;
                let id = draft.values.remove(id);
                draft.filter.push(id);
            }
        }
        "array" => draft.many = true,
        // `save(addresses[0])`, `save(order.customer)`: part of a row read earlier.
        "subscript_expression" | "member_expression" => {
            let root = text(entity, src)
                .split(['.', '['])
                .next()
                .unwrap_or_default()
                .to_string();
            if scope
                .origin(&root)
                .is_some_and(|o| o.kind == EffectKind::Read)
            {
                draft.kind = EffectKind::Update;
                draft.filter.push(field("id", Some(entity)));
            }
        }
        _ => {}
    }
}

/// Whether the file builds a new entity under this name (`x = new User(…)`,
/// `x = repo.create(…)`, `x: User = {…}`), which `save` then inserts.
fn created_in_file(name: &str, src: &str) -> bool {
    src.match_indices(name).any(|(at, _)| {
        let before_ok = src[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == '$'));
        let rest = &src[at + name.len()..];
        let line = rest.split('\n').next().unwrap_or_default();
        let Some(eq) = line.find('=') else {
            return false;
        };
        let (lhs, rhs) = (&line[..eq], line[eq + 1..].trim_start());
        before_ok
            && (lhs.trim().is_empty() || lhs.trim_start().starts_with(':'))
            && !rhs.starts_with('=')
            && (rhs.starts_with("new ") || rhs.contains(".create(") || rhs.starts_with('{'))
    })
}

/// A `where` object (or an array of them: any of them).
fn where_fields<'t>(filter: Node<'t>, src: &str, out: &mut Vec<FieldDraft<'t>>) {
    if filter.kind() == "array" {
        for item in named_children(filter) {
            where_fields(item, src, out);
        }
        return;
    }
    for (key, value) in object_properties(filter, src) {
        // A relation filter `{ team: { id: teamId } }` names the column `teamId`.
        if value.kind() == "object" && !is_operator_call(value) {
            let inner = object_properties(value, src);
            if let [(inner_key, inner_value)] = inner.as_slice() {
                out.push(field(
                    format!("{key}{}", super::ormkit::capitalize(inner_key)),
                    Some(*inner_value),
                ));
                continue;
            }
        }
        out.push(field(key, Some(value)));
    }
}

fn is_operator_call(node: Node) -> bool {
    node.kind() == "call_expression"
}

/// `update(id, …)`, `update({ id, status: "free" }, …)`, `delete([a, b])`.
fn criteria_fields<'t>(criteria: Node<'t>, src: &str, out: &mut Vec<FieldDraft<'t>>) {
    match criteria.kind() {
        "object" | "array" => where_fields(criteria, src, out),
        _ => out.push(field("id", Some(criteria))),
    }
}

fn transaction<'t>(call: &Segment<'t>, src: &str) -> Option<Recognized<'t>> {
    let args = arguments(call.args?);
    // A function, or one passed on by name (`manager.transaction(fn)` in a wrapper).
    let callback = args
        .iter()
        .copied()
        .find(|a| is_function(*a))
        .or_else(|| args.last().copied().filter(|a| a.kind() == "identifier"))?;
    let serializable = args
        .iter()
        .any(|a| text(*a, src).to_ascii_uppercase().contains("SERIALIZABLE") && !is_function(*a));
    Some(Recognized::Transaction {
        client: Client::TypeOrm,
        callback: Some(callback),
        batch: None,
        serializable,
    })
}

fn raw<'t>(call: &Segment<'t>, receiver: &str, src: &'t str) -> Option<Recognized<'t>> {
    let args = arguments(call.args?);
    let first = *args.first()?;
    let (sql, params) = match first.kind() {
        "string" => (
            text(first, src).trim_matches(['"', '\'']).to_string(),
            args.get(1)
                .filter(|a| a.kind() == "array")
                .map(|a| arguments(*a))
                .unwrap_or_default(),
        ),
        "template_string" if first.named_child_count() == 0 => (
            text(first, src).trim_matches('`').to_string(),
            args.get(1)
                .filter(|a| a.kind() == "array")
                .map(|a| arguments(*a))
                .unwrap_or_default(),
        ),
        _ => return None,
    };
    Some(Recognized::Sql {
        client: Client::TypeOrm,
        handle: receiver.to_string(),
        site: call.name_node?,
        sql,
        params,
    })
}

/// `repo.createQueryBuilder("u").setLock("pessimistic_write").where(…).getOne()`,
/// `dataSource.createQueryBuilder().update(User).set({…}).where(…).execute()`.
fn query_builder<'t>(
    chain: &Chain<'t>,
    q: usize,
    src: &'t str,
    hints: &FileHints,
) -> Option<Recognized<'t>> {
    let segments = &chain.segments;
    let terminal = segments[q..]
        .iter()
        .find(|s| QB_TERMINALS.contains(&s.name) && s.is_call())?;
    let receiver = chain.receiver_text(q, src);
    let builder = &segments[q];
    // The table: an entity argument, or the repository's.
    let mut table = builder
        .arg(0)
        .filter(|a| a.kind() == "identifier" && is_capitalized(text(*a, src)))
        .map(|a| text(a, src).to_string());
    let mut context = None;
    let handle = if q > 0 && segments[q - 1].name == "getRepository" {
        table = repository_entity(&segments[q - 1], src);
        context = repository_context(&segments[q - 1], src);
        chain.receiver_text(q - 1, src).to_string()
    } else {
        receiver.to_string()
    };
    if table.is_none() {
        let name = last_name(receiver);
        table = hints
            .orm
            .repositories
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, e)| e.clone())
            .or_else(|| table_from_repository_name(name));
    }
    if !hints.orm.typeorm && !looks_like_repository(last_name(receiver)) {
        return None;
    }
    let mut kind = EffectKind::Read;
    let mut draft_values: Vec<FieldDraft<'t>> = Vec::new();
    let mut filter: Vec<FieldDraft<'t>> = Vec::new();
    let mut row_lock = RowLock::None;
    let mut on_conflict = OnConflict::None;
    for segment in &segments[q + 1..] {
        match segment.name {
            "update" | "delete" | "insert" | "softDelete" => {
                kind = match segment.name {
                    "insert" => EffectKind::Insert,
                    "delete" => EffectKind::Delete,
                    _ => EffectKind::Update,
                };
                if let Some(entity) = segment.arg(0).filter(|a| a.kind() == "identifier") {
                    table = Some(text(entity, src).to_string());
                }
            }
            "from" | "into" => {
                if let Some(entity) = segment.arg(0).filter(|a| a.kind() == "identifier") {
                    table = Some(text(entity, src).to_string());
                }
            }
            "set" | "values" => {
                if let Some(values) = segment.arg(0) {
                    draft_values = object_fields(values, src);
                    for f in &mut draft_values {
                        // `.set({ balance: () => "balance - :amount" })`
                        if f.value.is_some_and(is_function) {
                            f.atomic = true;
                        }
                    }
                }
            }
            "where" | "andWhere" => {
                if let Some(condition) = segment.arg(0) {
                    match condition.kind() {
                        "object" => where_fields(condition, src, &mut filter),
                        _ => {
                            if let Some(sql) = string_value(condition, src) {
                                sql_where(&sql, segment.arg(1), src, &mut filter);
                            }
                        }
                    }
                }
            }
            "whereInIds" => filter.push(field("id", segment.arg(0))),
            "setLock" => {
                row_lock = segment
                    .arg(0)
                    .map_or(RowLock::None, |m| lock_of(text(m, src)));
            }
            "orIgnore" => on_conflict = OnConflict::DoNothing,
            "orUpdate" => {
                kind = EffectKind::Upsert;
                on_conflict = OnConflict::DoUpdate;
            }
            _ => {}
        }
    }
    let mut draft = EffectDraft::new(kind, Client::TypeOrm, handle, terminal.name_node?);
    draft.context = context;
    // A repository's API differs from the transaction manager's: no handle swap.
    draft.receiver_is_handle = false;
    draft.table = table;
    draft.filter = filter;
    draft.values = draft_values;
    draft.row_lock = row_lock;
    draft.on_conflict = on_conflict;
    draft.throws_if_missing = terminal.name == "getOneOrFail";
    draft.many = matches!(
        terminal.name,
        "getMany" | "getManyAndCount" | "getRawMany" | "getCount"
    ) || (kind != EffectKind::Read && !draft.filter.iter().any(|f| f.column == "id"));
    Some(Recognized::Effect(draft))
}

/// `"u.id = :id AND u.status = :status"` with `{ id, status: "free" }`.
fn sql_where<'t>(sql: &str, params: Option<Node<'t>>, src: &str, out: &mut Vec<FieldDraft<'t>>) {
    let lower = sql.to_ascii_lowercase();
    let mut parts = Vec::new();
    let mut rest = 0;
    for (at, _) in lower.match_indices(" and ") {
        parts.push(&sql[rest..at]);
        rest = at + 5;
    }
    parts.push(&sql[rest..]);
    for part in parts {
        let part = part.trim().trim_matches(['(', ')']);
        let Some(op_at) = part.find(['=', '<', '>', '!']).or_else(|| {
            part.to_ascii_lowercase()
                .find(" in ")
                .or_else(|| part.to_ascii_lowercase().find(" is "))
        }) else {
            continue;
        };
        let column = part[..op_at].trim();
        let column = column
            .rsplit('.')
            .next()
            .unwrap_or(column)
            .trim_matches(['"', '`', ' ']);
        if column.is_empty() || !column.chars().all(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let value = part[op_at..]
            .split(':')
            .nth(1)
            .map(|p| {
                p.trim_start_matches("...")
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect::<String>()
            })
            .and_then(|name| params.and_then(|p| property(p, &name, src)));
        out.push(field(column, value));
    }
}

/// How the code reaches the repository: its own handle, or a getter on it.
fn repo_of(target: &Target) -> String {
    let entity = entity_of(target);
    let handle = target.handle.as_str();
    if handle.is_empty() {
        return format!("dataSource.getRepository({entity})");
    }
    let last = last_name(handle).to_ascii_lowercase();
    if last.contains("queryrunner") {
        format!("{handle}.manager.getRepository({entity})")
    } else if is_manager(handle) || is_data_source(handle) {
        format!("{handle}.getRepository({entity})")
    } else {
        handle.to_string()
    }
}

fn entity_of(target: &Target) -> String {
    if target.table.is_empty() {
        "Entity".to_string()
    } else {
        super::ormkit::capitalize(&target.table)
    }
}

/// A data source's calls (`dataSource.manager.save`, `dataSource.getRepository(X)`)
/// wrapped in `dataSource.transaction(async (manager) => …)`, each through the
/// callback's entity manager. Calls through a repository of the outer connection
/// (`this.orders.save`) have no handle to rename: no edit.
pub fn wrap(wrap: &crate::ir::remedy::Wrap) -> Option<String> {
    let handle = &wrap.handle;
    let (via_manager, via_repository) = (
        format!("{handle}.manager."),
        format!("{handle}.getRepository("),
    );
    if !wrap.body.contains(&via_manager) && !wrap.body.contains(&via_repository) {
        return None;
    }
    // `getRepository(ctx, Entity)` is a project's own connection (Vendure's
    // `TransactionalConnection`), whose transaction the request context
    // carries: an `EntityManager` has no such method.
    if wrap
        .body
        .match_indices(&via_repository)
        .any(|(at, _)| has_second_argument(&wrap.body[at + via_repository.len()..]))
    {
        return None;
    }
    let body = wrap
        .body
        .replace(&via_manager, "manager.")
        .replace(&via_repository, "manager.getRepository(");
    if body.contains(&format!("{handle}.")) {
        return None;
    }
    super::wrap_callback(
        wrap,
        body,
        &format!("{handle}.transaction(async (manager) => {{"),
        "});",
    )
}

/// Whether the argument list that `rest` opens (just after its `(`) has a comma
/// at its own level before it closes.
fn has_second_argument(rest: &str) -> bool {
    let mut depth = 0usize;
    for c in rest.chars() {
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' if depth == 0 => return false,
            ')' | ']' | '}' => depth -= 1,
            ',' if depth == 0 => return true,
            _ => {}
        }
    }
    false
}

pub fn suggest(remedy: &Remedy) -> String {
    match remedy {
        Remedy::NumberUnderLock { read, .. } => suggest(&Remedy::LockThenCheck { target: read.clone() }),
        Remedy::InsertOnConflict { target } => {
            let mut row = target.key.clone();
            row.extend(
                target
                    .values
                    .iter()
                    .filter(|(k, _)| !target.key.iter().any(|(kk, _)| kk == k))
                    .cloned(),
            );
            let cols: Vec<String> = target.key.iter().map(|(k, _)| format!("\"{k}\"")).collect();
            format!(
                "// with a unique index on ({plain})\nawait {repo}.upsert({row}, [{cols}]);\n// or, to keep the existing row untouched:\nawait {repo}.createQueryBuilder().insert().values({row}).orIgnore().execute();",
                plain = target.key.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>().join(", "),
                repo = repo_of(target),
                row = object_literal(&row),
                cols = cols.join(", "),
            )
        }
        Remedy::HandleUniqueViolation { target, unique_key } => format!(
            "try {{\n  await {repo}.insert({values});\n}} catch (e) {{\n  // unique key ({key}): the other request won; load its row instead\n  if (e instanceof QueryFailedError && ({test})) {{\n    return {repo}.findOneBy({filter});\n  }}\n  throw e;\n}}",
            test = super::unique_violation_test(&target.database),
            repo = repo_of(target),
            values = object_literal(&target.values),
            key = unique_key.join(", "),
            filter = object_literal(&target.key),
        ),
        Remedy::ConditionalWrite { target, state } => {
            let mut filter = key_or_id(target);
            filter.extend(state.iter().cloned());
            format!(
                "const result = await {repo}.update({filter}, {values});\nif (result.affected === 0) {{\n  // someone else changed it first\n}}",
                repo = repo_of(target),
                filter = object_literal(&filter),
                values = object_literal(&target.values),
            )
        }
        Remedy::LockThenCheck { target } => format!(
            "await dataSource.transaction(async (manager) => {{\n  const row = await manager\n    .getRepository({entity})\n    .createQueryBuilder(\"row\")\n    .setLock(\"pessimistic_write\")\n    .where({filter})\n    .getOne();\n  // … decide, then write through `manager` …\n}});",
            entity = entity_of(target),
            filter = object_literal(&key_or_id(target)),
        ),
        Remedy::Transaction { targets, .. } => {
            let body: Vec<String> = targets
                .iter()
                .map(|t| format!("  // … the write, through manager.getRepository({})", entity_of(t)))
                .collect();
            format!(
                "await dataSource.transaction(async (manager) => {{\n  // every call through `manager`, not an outer repository\n{}\n}});",
                body.join("\n")
            )
        }
        Remedy::OptimisticLock {
            target,
            version_column,
        } => {
            let mut filter = key_or_id(target);
            filter.push((version_column.clone(), format!("row.{version_column}")));
            let mut values: Vec<(String, String)> = target
                .values
                .iter()
                .filter(|(k, _)| k != version_column)
                .cloned()
                .collect();
            values.push((version_column.clone(), format!("row.{version_column} + 1")));
            format!(
                "// @VersionColumn() {version_column}: number on the entity, then compare-and-swap:\nconst result = await {repo}.update({filter}, {values});\nif (result.affected === 0) {{\n  // changed since it was read: reload and retry, or answer 409 Conflict\n}}",
                repo = repo_of(target),
                filter = object_literal(&filter),
                values = object_literal(&values),
            )
        }
        Remedy::AtomicUpdate { target, column } => format!(
            "await {repo}.decrement({filter}, \"{column}\", amount); // or increment",
            repo = repo_of(target),
            filter = object_literal(&key_or_id(target)),
        ),
        Remedy::DeleteOrder { targets } => {
            let steps: Vec<String> = targets
                .iter()
                .map(|t| {
                    format!(
                        "  await manager.delete({}, {});",
                        entity_of(t),
                        object_literal(&t.key)
                    )
                })
                .collect();
            format!(
                "await dataSource.transaction(async (manager) => {{\n  // children first\n{}\n}});",
                steps.join("\n")
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::frontend::typescript::{clients::FileHints, parse, Dialect};
    use crate::ir::{EffectKind, OnConflict, RowLock};

    fn lower(src: &str) -> crate::ir::Function {
        let parsed = parse(src, Dialect::TypeScript, &FileHints::of(src));
        parsed
            .model
            .functions
            .into_iter()
            .find(|f| !f.name.ends_with(".constructor"))
            .expect("a function")
    }

    #[test]
    fn injected_repositories_name_their_entity() {
        let f = lower(
            "import { Repository } from 'typeorm';\nclass S {\n  constructor(private readonly users: Repository<User>) {}\n  async f(id) {\n    const u = await this.users.findOneByOrFail({ id });\n    u.name = 'x';\n    await this.users.save(u);\n    await this.users.save({ email });\n  }\n}",
        );
        assert_eq!(f.effects[0].table.as_deref(), Some("User"));
        assert!(f.effects[0].throws_if_missing);
        assert_eq!(f.effects[1].kind, EffectKind::Update);
        assert_eq!(f.effects[1].values[0].column, "name");
        assert_eq!(f.effects[2].kind, EffectKind::Insert);
    }

    #[test]
    fn manager_calls_are_inside_the_callback_and_outer_repositories_are_not() {
        let f = lower(
            "import { DataSource } from 'typeorm';\nasync function f(dataSource, accountRepository) {\n  await dataSource.transaction('SERIALIZABLE', async (manager) => {\n    const repo = manager.getRepository(Account);\n    await repo.decrement({ id }, 'balance', 5);\n    await manager.increment(Account, { id: to }, 'balance', 5);\n    await accountRepository.update({ id }, { frozen: true });\n  });\n}",
        );
        assert!(f.transactions()[0].serializable);
        assert_eq!(f.effects[0].transaction, Some(0));
        assert_eq!(f.effects[0].table.as_deref(), Some("Account"));
        assert!(f.effects[0].values[0].value.atomic);
        assert_eq!(f.effects[1].transaction, Some(0));
        assert_eq!(f.effects[2].transaction, None);
    }

    #[test]
    fn query_builder_lock_and_query_runner() {
        let f = lower(
            "import { DataSource } from 'typeorm';\nasync function f(dataSource) {\n  const qr = dataSource.createQueryRunner();\n  await qr.startTransaction();\n  const seat = await qr.manager.getRepository(Seat).createQueryBuilder('s').setLock('pessimistic_write').where('s.id = :id', { id }).getOne();\n  await qr.manager.upsert(Seat, { id, status: 'held' }, ['id']);\n  await qr.commitTransaction();\n}",
        );
        assert_eq!(f.effects[0].row_lock, RowLock::Exclusive);
        assert_eq!(f.effects[0].filter[0].column, "id");
        assert_eq!(f.effects[0].transaction, Some(0));
        assert_eq!(f.effects[1].kind, EffectKind::Upsert);
        assert_eq!(f.effects[1].on_conflict, OnConflict::DoUpdate);
    }

    #[test]
    fn declared_repositories_are_found_in_text() {
        let repos = super::declared_repositories(
            "@InjectRepository(User) private users!: Repository<User>;\nconst orders = AppDataSource.getRepository(Order);",
        );
        assert!(repos.contains(&("users".into(), "User".into())));
        assert!(repos.contains(&("orders".into(), "Order".into())));
    }
}
