//! Prisma Client: `prisma.<model>.<method>(…)`, `$transaction`, `$queryRaw` and friends.
//!
//! The client is recognised by shape, however it is named (`prisma`, `db`,
//! `ctx.prisma`, `this.prisma`, a transaction handle): a member chain ending in a
//! model delegate and one of the delegate methods below. Methods whose names are
//! common outside Prisma (`create`, `update`, `delete`, `count`) only count when the
//! file mentions Prisma or the handle looks like a database client, so that
//! `stripe.customers.create(…)` is not mistaken for a write.

use super::{EffectDraft, FieldDraft, FileHints, Recognized, TxControl};
use crate::frontend::typescript::syntax::FieldExt;
use crate::frontend::typescript::syntax::{
    arguments, object_properties, property, text, Chain, Segment,
};
use crate::ir::remedy::{indent_rest, Remedy, Target};
use crate::ir::{Client, EffectKind, OnConflict};
use crate::schema::Database;
use tree_sitter::Node;

/// How a parameter that holds one of this client's transactions is typed.
pub const TRANSACTION_TYPES: &[&str] = &[
    "Prisma.TransactionClient",
    "TransactionClient",
    "Omit<PrismaClient",
];

/// Unmistakable methods are recognised anywhere; the common ones (`create`,
/// `update`, `delete`, `count`) only in files that name Prisma or on a handle that
/// looks like a client (see `looks_like_client`, which these gates mirror).
pub const VOCABULARY: super::Vocabulary = super::Vocabulary {
    calls: &[
        ".findUnique*",
        ".findFirst*",
        ".findMany",
        ".createMany*",
        ".updateMany*",
        ".deleteMany",
        ".upsert",
        ".aggregate",
        ".groupBy",
        "$transaction",
        "$queryRaw*",
        "$executeRaw*",
    ],
    gated_calls: &[".create", ".update", ".delete", ".count"],
    gates: &[
        "prisma",
        "db.",
        "tx.",
        "trx.",
        "txn.",
        "client.",
        "database.",
        "transaction.",
    ],
};

/// Delegate methods, what they do, and whether they throw when no row matches.
const METHODS: &[(&str, EffectKind, bool)] = &[
    ("findUnique", EffectKind::Read, false),
    ("findUniqueOrThrow", EffectKind::Read, true),
    ("findFirst", EffectKind::Read, false),
    ("findFirstOrThrow", EffectKind::Read, true),
    ("findMany", EffectKind::Read, false),
    ("count", EffectKind::Read, false),
    ("aggregate", EffectKind::Read, false),
    ("groupBy", EffectKind::Read, false),
    ("create", EffectKind::Insert, false),
    ("createMany", EffectKind::Insert, false),
    ("createManyAndReturn", EffectKind::Insert, false),
    ("update", EffectKind::Update, true),
    ("updateMany", EffectKind::Update, false),
    ("updateManyAndReturn", EffectKind::Update, false),
    ("delete", EffectKind::Delete, true),
    ("deleteMany", EffectKind::Delete, false),
    ("upsert", EffectKind::Upsert, false),
];

/// Method names no other popular SDK uses on a `.x.method(` chain.
const UNMISTAKABLE: &[&str] = &[
    "findUnique",
    "findUniqueOrThrow",
    "findFirst",
    "findFirstOrThrow",
    "findMany",
    "createMany",
    "createManyAndReturn",
    "updateMany",
    "updateManyAndReturn",
    "deleteMany",
    "upsert",
    "aggregate",
    "groupBy",
];

/// Promise methods that may follow a delegate call without changing what it does.
const PROMISE_TAIL: &[&str] = &["then", "catch", "finally"];

/// Operators of a Prisma number update that the database applies to the current value.
const ATOMIC_OPERATORS: &[&str] = &["increment", "decrement", "multiply", "divide"];

/// Keys of a relation field's value that make it a nested write, not a column.
const NESTED_WRITES: &[&str] = &[
    "create",
    "createMany",
    "connect",
    "connectOrCreate",
    "disconnect",
    "set",
    "update",
    "updateMany",
    "upsert",
    "delete",
    "deleteMany",
];

pub fn mentions_prisma(src: &str) -> bool {
    src.contains("prisma") || src.contains("Prisma") || src.contains("$transaction")
}

/// A handle named like a database client: `prisma`, `db`, `ctx.db`, `tx`,
/// `readDb`, `prismaClient`. Its last name, followed by the `.` of the model, is
/// what `VOCABULARY.gates` look for.
fn looks_like_client(handle: &str, hints: &FileHints) -> bool {
    let last = handle
        .rsplit(['.', ' '])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    hints.prisma
        || last.contains("prisma")
        || [
            "db",
            "tx",
            "trx",
            "txn",
            "client",
            "database",
            "transaction",
        ]
        .iter()
        .any(|w| last.ends_with(w))
        || hints.prisma_names.iter().any(|n| n == handle)
}

pub fn recognize<'t>(chain: &Chain<'t>, src: &'t str, hints: &FileHints) -> Option<Recognized<'t>> {
    let segments = &chain.segments;
    // The first called segment decides; anything after it must be a promise method.
    let call_index = segments.iter().position(Segment::is_call)?;
    if segments[call_index + 1..]
        .iter()
        .any(|s| !PROMISE_TAIL.contains(&s.name))
    {
        return None;
    }
    let call = &segments[call_index];
    let handle = chain.receiver_text(call_index, src).to_string();
    match call.name {
        "$transaction" => return transaction(call, src),
        "$queryRaw" | "$executeRaw" | "$queryRawUnsafe" | "$executeRawUnsafe" => {
            return raw(call, handle, src)
        }
        _ => {}
    }
    let &(method, kind, throws) = METHODS.iter().find(|(m, _, _)| *m == call.name)?;
    if call_index == 0 {
        return None;
    }
    let model = &segments[call_index - 1];
    if model.is_call()
        || model.name.starts_with('$')
        || !model.name.starts_with(|c: char| c.is_ascii_lowercase())
    {
        return None;
    }
    let client_handle = chain.receiver_text(call_index - 1, src).to_string();
    if foreign_argument(call, src) {
        return None;
    }
    if !UNMISTAKABLE.contains(&method)
        && (!looks_like_client(&client_handle, hints) || !prisma_shaped_argument(call, src, hints))
    {
        return None;
    }
    let mut draft = EffectDraft::new(kind, Client::Prisma, client_handle, call.name_node?);
    draft.table = Some(model.name.to_string());
    draft.throws_if_missing = throws;
    // Counts and aggregates look at many rows too.
    draft.many = method.contains("Many") || matches!(method, "count" | "aggregate" | "groupBy");
    if method == "count" {
        draft.tally = Some(crate::ir::Tally::count());
    }
    let Some(args) = call.arg(0) else {
        return Some(Recognized::Effect(draft));
    };
    if kind == EffectKind::Read && draft.tally.is_none() {
        draft.tally = tally(method, args, src);
    }
    if let Some(filter) = property(args, "where", src) {
        where_fields(filter, src, &mut draft.filter);
        draft.filter_node = Some(filter);
    }
    match kind {
        EffectKind::Upsert => {
            for key in ["create", "update"] {
                if let Some(data) = property(args, key, src) {
                    data_fields(data, src, &mut draft.values);
                }
            }
            if let Some(data) = property(args, "update", src) {
                let mut update = Vec::new();
                data_fields(data, src, &mut update);
                draft.conflict_update = Some(update);
            }
        }
        _ => {
            if let Some(data) = property(args, "data", src) {
                draft.values_node = Some(data);
                let first_row = if data.kind() == "array" {
                    data.named_child(0)
                } else {
                    Some(data)
                };
                if let Some(row) = first_row {
                    data_fields(row, src, &mut draft.values);
                }
            }
        }
    }
    if method.starts_with("createMany")
        && property(args, "skipDuplicates", src).is_some_and(|v| text(v, src) == "true")
    {
        draft.on_conflict = OnConflict::DoNothing;
    }
    Some(Recognized::Effect(draft))
}

/// What a read tallies: `aggregate({ _max: { number: true } })`, or the top row
/// of `findFirst({ orderBy: { number: "desc" } })`.
fn tally(method: &str, args: Node, src: &str) -> Option<crate::ir::Tally> {
    match method {
        "aggregate" => {
            if let Some(max) = property(args, "_max", src) {
                let columns = object_properties(max, src);
                let [(column, _)] = columns.as_slice() else {
                    return None;
                };
                return Some(crate::ir::Tally::max(column.clone()));
            }
            property(args, "_count", src).map(|_| crate::ir::Tally::count())
        }
        "findFirst" | "findFirstOrThrow" => {
            let mut order = property(args, "orderBy", src)?;
            if order.kind() == "array" {
                order = order.named_child(0)?;
            }
            let columns = object_properties(order, src);
            let [(column, direction)] = columns.as_slice() else {
                return None;
            };
            text(*direction, src)
                .contains("desc")
                .then(|| crate::ir::Tally::max(column.clone()))
        }
        _ => None,
    }
}

/// The argument of a common-named method looks like Prisma's: an object with
/// `where`, `data`, `select` or `include`, or nothing at all (`count()`). A bare
/// key (`client.sessions.delete(id)`) is a `Map`, a `Set` or a cache; a variable
/// holding the arguments counts only in files that name Prisma.
fn prisma_shaped_argument(call: &Segment, src: &str, hints: &FileHints) -> bool {
    match call.arg(0) {
        None => true,
        Some(arg) if arg.kind() == "object" => object_properties(arg, src)
            .iter()
            .any(|(key, _)| matches!(key.as_str(), "where" | "data" | "select" | "include")),
        Some(_) => hints.prisma,
    }
}

/// Every key a Prisma model method accepts. A generic data layer with Prisma's
/// method names (`adapter.deleteMany({ model: "member", where: [{ field, value }] })`)
/// passes keys Prisma has not (`model`, `collection`, `table`) or a `where` that is
/// not an object; its "model" segment (`adapter`) is no table.
const ARGUMENT_KEYS: &[&str] = &[
    "where",
    "data",
    "select",
    "include",
    "omit",
    "orderBy",
    "take",
    "skip",
    "cursor",
    "distinct",
    "create",
    "update",
    "skipDuplicates",
    "by",
    "having",
    "_count",
    "_sum",
    "_avg",
    "_min",
    "_max",
    "relationLoadStrategy",
    "cacheStrategy",
];

/// The first argument is an object literal Prisma would not accept.
fn foreign_argument(call: &Segment, src: &str) -> bool {
    let Some(arg) = call.arg(0).filter(|a| a.kind() == "object") else {
        return false;
    };
    object_properties(arg, src).iter().any(|(key, value)| {
        !ARGUMENT_KEYS.contains(&key.as_str()) || (key == "where" && value.kind() == "array")
    })
}

fn transaction<'t>(call: &Segment<'t>, src: &'t str) -> Option<Recognized<'t>> {
    let args = arguments(call.args?);
    let first = *args.first()?;
    let serializable = args
        .get(1)
        .and_then(|options| property(*options, "isolationLevel", src))
        .is_some_and(|level| text(level, src).contains("Serializable"));
    let (callback, batch) = match first.kind() {
        // `$transaction(ops)`, `$transaction(ids.map((id) => prisma.x.update(…)))`:
        // a batch built elsewhere from calls that Prisma runs only when awaited.
        "array" | "identifier" | "call_expression" => (None, Some(first)),
        "arrow_function" | "function_expression" | "function" => (Some(first), None),
        _ => return None,
    };
    Some(Recognized::Transaction {
        client: Client::Prisma,
        callback,
        batch,
        serializable,
    })
}

fn raw<'t>(call: &Segment<'t>, handle: String, src: &'t str) -> Option<Recognized<'t>> {
    let site = call.name_node?;
    let (sql, params) = if let Some(template) = call.template {
        super::template_sql(template, src)
    } else {
        let args = arguments(call.args?);
        let first = *args.first()?;
        match first.kind() {
            "string" => (
                text(first, src).trim_matches(['"', '\'']).to_string(),
                args[1..].to_vec(),
            ),
            "template_string" => super::template_sql(first, src),
            // `$queryRaw(Prisma.sql`…`)`
            "call_expression" => {
                let template = first
                    .field("arguments")
                    .filter(|a| a.kind() == "template_string")?;
                super::template_sql(template, src)
            }
            _ => return None,
        }
    };
    let control = match sql.trim().to_ascii_uppercase().as_str() {
        "BEGIN" | "START TRANSACTION" => Some(TxControl::Begin {
            serializable: false,
        }),
        "COMMIT" => Some(TxControl::Commit),
        "ROLLBACK" => Some(TxControl::Rollback),
        _ => None,
    };
    if let Some(control) = control {
        return Some(Recognized::Control {
            client: Client::Prisma,
            handle,
            control,
        });
    }
    Some(Recognized::Sql {
        client: Client::Prisma,
        handle,
        site,
        sql,
        params,
    })
}

/// The columns a `where` constrains, through `AND`/`OR`/`NOT`, compound unique
/// keys (`userId_teamId: { userId, teamId }`) and filter operators (`{ equals: x }`).
fn where_fields<'t>(filter: Node<'t>, src: &str, out: &mut Vec<FieldDraft<'t>>) {
    for (key, value) in object_properties(filter, src) {
        match key.as_str() {
            "AND" | "OR" | "NOT" => {
                if value.kind() == "array" {
                    for item in crate::frontend::typescript::syntax::named_children(value) {
                        where_fields(item, src, out);
                    }
                } else {
                    where_fields(value, src, out);
                }
            }
            _ if value.kind() == "object" => {
                let props = object_properties(value, src);
                let operator = props.iter().find(|(k, _)| {
                    matches!(
                        k.as_str(),
                        "equals"
                            | "in"
                            | "not"
                            | "lt"
                            | "lte"
                            | "gt"
                            | "gte"
                            | "contains"
                            | "startsWith"
                            | "endsWith"
                            | "notIn"
                            | "is"
                            | "isNot"
                            | "some"
                            | "every"
                            | "none"
                    )
                });
                match operator {
                    Some((_, v)) => out.push(FieldDraft {
                        column: key,
                        value: Some(*v),
                        atomic: false,
                    }),
                    // A compound unique key or a relation filter: its own columns count.
                    None => where_fields(value, src, out),
                }
            }
            _ => out.push(FieldDraft {
                column: key,
                value: Some(value),
                atomic: false,
            }),
        }
    }
}

fn data_fields<'t>(data: Node<'t>, src: &str, out: &mut Vec<FieldDraft<'t>>) {
    for (key, value) in object_properties(data, src) {
        if out.iter().any(|f| f.column == key) {
            continue;
        }
        if value.kind() == "object" {
            let props = object_properties(value, src);
            if let Some((_, amount)) = props
                .iter()
                .find(|(k, _)| ATOMIC_OPERATORS.contains(&k.as_str()))
            {
                out.push(FieldDraft {
                    column: key,
                    value: Some(*amount),
                    atomic: true,
                });
                continue;
            }
            if let Some((_, v)) = props.iter().find(|(k, _)| k == "set") {
                out.push(FieldDraft {
                    column: key,
                    value: Some(*v),
                    atomic: false,
                });
                continue;
            }
            if props
                .iter()
                .any(|(k, _)| NESTED_WRITES.contains(&k.as_str()))
            {
                // A nested write runs in the same statement as its parent.
                continue;
            }
        }
        out.push(FieldDraft {
            column: key,
            value: Some(value),
            atomic: false,
        });
    }
}

/// A `where` on a unique key: Prisma names a compound key after its fields in
/// the order the schema declares them (`@@unique([organizationId, name])` →
/// `organizationId_name: { organizationId, name }`).
fn unique_where(target: &Target) -> String {
    let key = &target.key;
    if key.len() < 2 {
        return super::object_literal(key);
    }
    let folded = |c: &str| c.replace('_', "").to_ascii_lowercase();
    let declared = target.unique_keys.iter().find(|u| {
        u.len() == key.len()
            && key
                .iter()
                .all(|(k, _)| u.iter().any(|c| folded(c) == folded(k)))
    });
    let mut ordered = key.clone();
    if let Some(declared) = declared {
        ordered.sort_by_key(|(k, _)| declared.iter().position(|c| folded(c) == folded(k)));
    }
    let name: Vec<&str> = ordered.iter().map(|(k, _)| k.as_str()).collect();
    format!(
        "{{ {}: {} }}",
        name.join("_"),
        super::object_literal(&ordered)
    )
}

fn client_of(target: &Target) -> &str {
    if target.handle.is_empty() {
        "prisma"
    } else {
        &target.handle
    }
}

/// The filter as the code wrote it, else one built from its columns.
fn where_of(target: &Target) -> String {
    target
        .filter_code
        .clone()
        .unwrap_or_else(|| super::object_literal(&target.key))
}

/// The data as the code wrote it (`{ leads: { increment: 1 } }`), else one built
/// from its columns.
fn data_of(target: &Target) -> String {
    target
        .values_code
        .clone()
        .unwrap_or_else(|| super::object_literal(&target.values))
}

/// The data writes related rows too (`members: { create: … }`): `updateMany`
/// cannot, so a conditional write keeps `update` with the state in its filter.
fn nests_writes(target: &Target) -> bool {
    target.values_code.as_deref().is_some_and(|code| {
        NESTED_WRITES
            .iter()
            .any(|w| code.contains(&format!("{w}:")) || code.contains(&format!("{w} :")))
    })
}

pub fn suggest(remedy: &Remedy) -> String {
    match remedy {
        Remedy::NumberUnderLock { read, binding, write } => super::number_under_lock(
            read,
            binding.as_deref(),
            write,
            "tx",
            |key| super::key_lock(&read.database, |sql| format!("await tx.$executeRaw`{}`;", sql.replace("{KEY}", &format!("${{{key}}}")))),
            |_, body| format!("await {}.$transaction(async (tx) => {{\n{body}\n}});", client_of(read)),
        )
        .unwrap_or_else(|| suggest(&Remedy::LockThenCheck { target: read.clone() })),
        Remedy::InsertOnConflict { target } => format!(
            "await {client}.{table}.upsert({{\n  where: {key},\n  create: {values},\n  update: {{}},\n}});",
            client = client_of(target),
            table = target.table,
            key = unique_where(target),
            values = indent_rest(&data_of(target), "  "),
        ),
        Remedy::HandleUniqueViolation { target, unique_key } => format!(
            "try {{\n  await {client}.{table}.create({{\n    data: {values},\n  }});\n}} catch (e) {{\n  // unique key ({key}): the other request won; load its row instead\n  if (e instanceof Prisma.PrismaClientKnownRequestError && e.code === \"P2002\") {{\n    return {client}.{table}.findUnique({{ where: {filter} }});\n  }}\n  throw e;\n}}",
            client = client_of(target),
            table = target.table,
            values = indent_rest(&data_of(target), "    "),
            key = unique_key.join(", "),
            filter = unique_where(target),
        ),
        Remedy::ConditionalWrite { target, state } => {
            let filter = super::with_properties(&where_of(target), state);
            if nests_writes(target) {
                // `update` takes non-unique fields in its `where` (Prisma 5) and
                // throws P2025 when no row matches; nested writes stay.
                return format!(
                    "try {{\n  await {client}.{table}.update({{\n    where: {filter},\n    data: {values},\n  }});\n}} catch (e) {{\n  if (e instanceof Prisma.PrismaClientKnownRequestError && e.code === \"P2025\") {{\n    // someone else changed it first\n  }}\n  throw e;\n}}",
                    client = client_of(target),
                    table = target.table,
                    filter = indent_rest(&filter, "    "),
                    values = indent_rest(&data_of(target), "    "),
                );
            }
            format!(
                "const {{ count }} = await {client}.{table}.updateMany({{\n  where: {filter},\n  data: {values},\n}});\nif (count === 0) {{\n  // someone else changed it first\n}}",
                client = client_of(target),
                table = target.table,
                filter = indent_rest(&filter, "  "),
                values = indent_rest(&data_of(target), "  "),
            )
        }
        Remedy::LockThenCheck { target } => {
            let key = target
                .key
                .first()
                .map(|(_, v)| v.clone())
                .unwrap_or_else(|| "key".into());
            let lock = match target.spelled_database() {
                Some(Database::Mysql) => format!(
                    "await tx.$queryRaw`SELECT GET_LOCK(${{{key}}}, 10)`;\n  // … and `SELECT RELEASE_LOCK(${{{key}}})` after the write, or lock the row: `SELECT … FOR UPDATE`"
                ),
                Some(Database::Postgres) => format!(
                    "// serialise requests for this key before checking\n  await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${{{key}}}))`;"
                ),
                _ => super::key_lock(&target.database, |sql| {
                    format!("await tx.$executeRaw`{}`;", sql.replace("{KEY}", &format!("${{{key}}}")))
                }),
            };
            format!(
                "await {client}.$transaction(async (tx) => {{\n  {lock}\n  const existing = await tx.{table}.findFirst({{\n    where: {filter},\n  }});\n  // … decide and write through `tx` …\n}});",
                client = client_of(target),
                table = target.table,
                filter = indent_rest(&where_of(target), "    "),
            )
        }
        Remedy::Transaction { targets, open } => super::transaction_fix(
            targets,
            open.as_deref(),
            "tx",
            |t, tx| format!("  // … the write to `{}`, through `{tx}`", t.table),
            |client, body| {
                let client = if client.is_empty() { "prisma" } else { client };
                format!("await {client}.$transaction(async (tx) => {{\n{body}\n}});")
            },
        ),
        Remedy::OptimisticLock { target, version_column } => {
            let expected = format!("expected{}", super::capitalize(version_column));
            let filter = super::with_properties(
                &where_of(target),
                &[(version_column.clone(), expected)],
            );
            let data = match &target.values_code {
                Some(code) if !code.contains(version_column.as_str()) => super::with_properties(
                    code,
                    &[(version_column.clone(), "{ increment: 1 }".to_string())],
                ),
                Some(code) => code.clone(),
                None => {
                    let mut values: Vec<String> = target
                        .values
                        .iter()
                        .filter(|(k, _)| k != version_column)
                        .map(|(k, v)| super::property(k, v))
                        .collect();
                    values.push(format!("{version_column}: {{ increment: 1 }}"));
                    format!("{{ {} }}", values.join(", "))
                }
            };
            format!(
                "const {{ count }} = await {client}.{table}.updateMany({{\n  where: {filter},\n  data: {data},\n}});\nif (count === 0) {{\n  // changed since it was read: reload and retry, or answer 409 Conflict\n}}",
                client = client_of(target),
                table = target.table,
                filter = indent_rest(&filter, "  "),
                data = indent_rest(&data, "  "),
            )
        }
        Remedy::AtomicUpdate { target, column } => {
            let (operator, amount) = atomic_operation(target, column);
            format!(
                "await {client}.{table}.update({{\n  where: {filter},\n  data: {{ {column}: {{ {operator}: {amount} }} }},\n}});",
                client = client_of(target),
                table = target.table,
                filter = indent_rest(&where_of(target), "  "),
            )
        }
        Remedy::DeleteOrder { targets } => targets
            .iter()
            .map(|t| {
                format!(
                    "await {}.{}.deleteMany({{ where: {} }});",
                    client_of(t),
                    t.table,
                    indent_rest(&where_of(t), "  ")
                )
            })
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

/// `balance - amount` → `("decrement", "amount")`: the update the code computed by hand.
fn atomic_operation(target: &Target, column: &str) -> (&'static str, String) {
    let text = target
        .values
        .iter()
        .find(|(k, _)| k == column)
        .map_or("", |(_, v)| v.as_str());
    for (operator, name) in [
        (" - ", "decrement"),
        (" + ", "increment"),
        (" * ", "multiply"),
    ] {
        if let Some((_, amount)) = text.split_once(operator) {
            return (name, amount.trim().to_string());
        }
    }
    ("increment", "delta".to_string())
}
