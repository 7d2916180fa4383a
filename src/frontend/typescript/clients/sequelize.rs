//! Sequelize v6: static model calls (`User.findOne({ where })`, `Seat.update(values,
//! { where })`), instance methods on rows read earlier (`user.save()`,
//! `seat.update({…})`), managed and unmanaged transactions.
//!
//! A model is a capitalized name (`User`, `db.User`, `models.Order`) or an injected
//! model property (`this.userModel`). Common method names (`create`, `update`,
//! `count`) count only in files that mention Sequelize; `findByPk`, `findOrCreate`,
//! `bulkCreate`, `findAndCountAll` and `destroy` on a capitalized model are enough.
//!
//! Transactions: a call is inside `sequelize.transaction(async (t) => …)` only when
//! it passes `{ transaction: t }`, so the effect's handle is the code of its
//! `transaction` option and otherwise the model. A call that forgets the option
//! escapes the transaction — which is what Sequelize does without CLS.
//!
//! `findOrCreate` (and `findCreateFind`) is lowered as an insert that tolerates the
//! row existing (`on_conflict = DoNothing`), with or without a `transaction`
//! option: Sequelize runs it in a transaction of its own when none is passed,
//! catches the `UniqueConstraintError` of a losing insert and returns the winner's
//! row. What it cannot do is invent a unique index: without one on the `where`
//! columns two requests still both insert — a schema question, not a code one.

use super::ormkit::{
    field, is_capitalized, key_or_id, last_name, lock_of, object_fields, object_literal,
    single_call, string_value,
};
use super::{EffectDraft, FieldDraft, FileHints, Recognized, Scope, TxControl};
use crate::frontend::typescript::syntax::FieldExt;
use crate::frontend::typescript::syntax::{arguments, named_children, property, text, Chain};
use crate::ir::remedy::{Remedy, Target};
use crate::ir::{Client, EffectKind, OnConflict};
use tree_sitter::Node;

/// `UNMISTAKABLE` methods are recognised anywhere; the others only in files
/// `mentions_sequelize` accepts, whose tests these gates cover.
pub const VOCABULARY: super::Vocabulary = super::Vocabulary {
    calls: &[
        ".findByPk",
        ".findOrCreate",
        ".findCreateFind",
        ".findOrBuild",
        ".findAndCountAll",
        ".bulkCreate",
        ".destroy",
    ],
    gated_calls: &[
        ".find*",
        ".count",
        ".max",
        ".min",
        ".sum",
        ".create",
        ".update",
        ".increment",
        ".decrement",
        ".upsert",
        ".transaction",
        ".commit",
        ".rollback",
        ".save",
        ".reload",
    ],
    gates: &[
        "sequelize",
        ".findOne(",
        ".findAll(",
        ".count(",
        ".destroy(",
    ],
};

/// Where a static method keeps its options (argument index) and what it does.
const STATIC: &[(&str, EffectKind, usize)] = &[
    ("findOne", EffectKind::Read, 0),
    ("findByPk", EffectKind::Read, 1),
    ("findAll", EffectKind::Read, 0),
    ("findAndCountAll", EffectKind::Read, 0),
    ("count", EffectKind::Read, 0),
    ("max", EffectKind::Read, 1),
    ("min", EffectKind::Read, 1),
    ("sum", EffectKind::Read, 1),
    ("findOrBuild", EffectKind::Read, 0),
    ("findOrCreate", EffectKind::Insert, 0),
    ("findCreateFind", EffectKind::Insert, 0),
    ("create", EffectKind::Insert, 1),
    ("bulkCreate", EffectKind::Insert, 1),
    ("update", EffectKind::Update, 1),
    ("increment", EffectKind::Update, 1),
    ("decrement", EffectKind::Update, 1),
    ("destroy", EffectKind::Delete, 0),
    ("upsert", EffectKind::Upsert, 1),
];

/// Methods no other popular SDK calls on a capitalized receiver.
const UNMISTAKABLE: &[&str] = &[
    "findByPk",
    "findOrCreate",
    "findCreateFind",
    "findOrBuild",
    "findAndCountAll",
    "bulkCreate",
    "destroy",
];

/// The file names Sequelize, or calls a capitalized model the way only Sequelize
/// does (`Tag.findOne({ where: … })`, `User.findByPk(id)`): apps often import their
/// models from `../models` without naming Sequelize anywhere.
pub fn mentions_sequelize(src: &str) -> bool {
    if src.contains("sequelize") || src.contains("Sequelize") {
        return true;
    }
    if src.contains("mongoose") || src.contains("typeorm") {
        return false;
    }
    let model_before = |at: usize| {
        let name: String = src[..at]
            .chars()
            .rev()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        name.chars().last().is_some_and(|c| c.is_ascii_uppercase())
    };
    for method in [
        ".findByPk(",
        ".findOrCreate(",
        ".bulkCreate(",
        ".findAndCountAll(",
    ] {
        if src.match_indices(method).any(|(at, _)| model_before(at)) {
            return true;
        }
    }
    for method in [".findOne(", ".findAll(", ".count(", ".destroy("] {
        for (at, _) in src.match_indices(method) {
            let after = src[at + method.len()..].trim_start();
            let opens_where = after
                .strip_prefix('{')
                .is_some_and(|rest| rest.trim_start().starts_with("where"));
            if opens_where && model_before(at) {
                return true;
            }
        }
    }
    false
}

pub fn recognize<'t>(
    chain: &Chain<'t>,
    src: &'t str,
    hints: &FileHints,
    scope: &Scope<'t>,
) -> Option<Recognized<'t>> {
    let (call_index, call) = single_call(chain)?;
    let receiver = chain.receiver_text(call_index, src);
    if call.name == "transaction" && hints.orm.sequelize && is_sequelize_instance(receiver) {
        return transaction(call, receiver, src);
    }
    if matches!(call.name, "commit" | "rollback")
        && hints.orm.sequelize
        && call_index == 0
        && chain.root.kind() == "identifier"
        && scope.origin(receiver).is_none()
    {
        return Some(Recognized::Control {
            client: Client::Sequelize,
            handle: receiver.to_string(),
            control: if call.name == "commit" {
                TxControl::Commit
            } else {
                TxControl::Rollback
            },
        });
    }
    if call_index == 0 && chain.root.kind() == "identifier" {
        if let Some(origin) = scope.origin(receiver) {
            if origin.client == Client::Sequelize {
                let table = origin.table.clone();
                return instance(chain.root, call, receiver, table, src, scope);
            }
        }
    }
    let &(method, kind, options_at) = STATIC.iter().find(|(m, _, _)| *m == call.name)?;
    let model = model_name(chain, call_index, src)?;
    if hints.orm.typeorm && !hints.orm.sequelize {
        return None;
    }
    if !hints.orm.sequelize && !UNMISTAKABLE.contains(&method) {
        return None;
    }
    let options = call.arg(options_at);
    let mut draft = EffectDraft::new(
        kind,
        Client::Sequelize,
        handle_of(options, receiver, src),
        call.name_node?,
    );
    // The handle is the `transaction` option, not the model the call goes through.
    draft.receiver_is_handle = false;
    draft.table = Some(model);
    apply_options(&mut draft, options, src);
    match method {
        "findByPk" => {
            draft.filter.push(field("id", call.arg(0)));
        }
        "findAll" | "findAndCountAll" | "count" | "max" | "min" | "sum" => draft.many = true,
        "findOrCreate" | "findCreateFind" => {
            // See the module comment: Sequelize catches the losing insert's unique violation.
            draft.on_conflict = OnConflict::DoNothing;
            draft.values = draft.filter.clone();
            if let Some(defaults) = options.and_then(|o| property(o, "defaults", src)) {
                draft.values.extend(object_fields(defaults, src));
            }
        }
        "create" | "upsert" => {
            if let Some(values) = call.arg(0) {
                draft.values = object_fields(values, src);
            }
        }
        "bulkCreate" => {
            draft.many = true;
            if let Some(rows) = call.arg(0) {
                draft.values = object_fields(rows, src);
            }
            if let Some(options) = options {
                if property(options, "ignoreDuplicates", src)
                    .is_some_and(|v| text(v, src) == "true")
                {
                    draft.on_conflict = OnConflict::DoNothing;
                }
                if property(options, "updateOnDuplicate", src).is_some() {
                    draft.kind = EffectKind::Upsert;
                    draft.on_conflict = OnConflict::DoUpdate;
                }
            }
        }
        "update" => {
            if let Some(values) = call.arg(0) {
                draft.values = object_fields(values, src);
            }
            draft.many = !draft.filter.iter().any(|f| f.column == "id");
        }
        "increment" | "decrement" => {
            draft.values = atomic_fields(call.arg(0), src);
            draft.many = !draft.filter.iter().any(|f| f.column == "id");
        }
        "destroy" => draft.many = !draft.filter.iter().any(|f| f.column == "id"),
        _ => {}
    }
    Some(Recognized::Effect(draft))
}

/// `sequelize`, `this.sequelize`, `db.sequelize`, `models.sequelize`.
fn is_sequelize_instance(receiver: &str) -> bool {
    last_name(receiver)
        .to_ascii_lowercase()
        .contains("sequelize")
}

/// The model a static call goes through: `User`, `db.User`, `this.userModel`.
fn model_name(chain: &Chain, call_index: usize, src: &str) -> Option<String> {
    let name = if call_index == 0 {
        if chain.root.kind() != "identifier" {
            return None;
        }
        text(chain.root, src)
    } else {
        let segment = &chain.segments[call_index - 1];
        if segment.is_call() {
            return None;
        }
        segment.name
    };
    if is_capitalized(name) && name.chars().any(|c| c.is_ascii_lowercase()) {
        return Some(name.to_string());
    }
    // `@InjectModel(User) private userModel: typeof User`
    let base = name.strip_suffix("Model")?;
    (!base.is_empty()).then(|| base.to_string())
}

/// The handle a call runs through: its `transaction` option, or the receiver.
fn handle_of(options: Option<Node>, receiver: &str, src: &str) -> String {
    options
        .and_then(|o| property(o, "transaction", src))
        .map(|t| text(t, src).to_string())
        .filter(|t| t != "null" && t != "undefined")
        .unwrap_or_else(|| receiver.to_string())
}

/// `where`, `lock` of an options object.
fn apply_options<'t>(draft: &mut EffectDraft<'t>, options: Option<Node<'t>>, src: &str) {
    let Some(options) = options else { return };
    if let Some(filter) = property(options, "where", src) {
        where_fields(filter, src, &mut draft.filter);
    }
    if let Some(lock) = property(options, "lock", src) {
        let code = match lock.kind() {
            "object" => property(lock, "level", src).map_or("", |l| text(l, src)),
            _ => text(lock, src),
        };
        draft.row_lock = lock_of(code);
    }
}

/// The columns of a `where`, through `[Op.and]`-free nesting: each key is a column,
/// whatever operator object its value holds.
fn where_fields<'t>(filter: Node<'t>, src: &str, out: &mut Vec<FieldDraft<'t>>) {
    if filter.kind() != "object" {
        return;
    }
    for child in named_children(filter) {
        // `[Op.or]: [{ … }, { … }]`: the columns of every alternative count.
        if child.kind() == "pair"
            && child
                .field("key")
                .is_some_and(|k| k.kind() == "computed_property_name")
        {
            if let Some(value) = child.field("value") {
                for item in named_children(value) {
                    where_fields(item, src, out);
                }
                where_fields(value, src, out);
            }
        }
    }
    for (key, value) in crate::frontend::typescript::syntax::object_properties(filter, src) {
        out.push(field(key, Some(value)));
    }
}

/// `increment("views")`, `increment(["a", "b"], …)`, `increment({ balance: -amount })`.
fn atomic_fields<'t>(fields: Option<Node<'t>>, src: &str) -> Vec<FieldDraft<'t>> {
    let Some(fields) = fields else {
        return Vec::new();
    };
    let mut out = match fields.kind() {
        "object" => object_fields(fields, src),
        "array" => arguments(fields)
            .into_iter()
            .filter_map(|n| string_value(n, src).map(|c| field(c, Some(n))))
            .collect(),
        _ => string_value(fields, src)
            .map(|c| vec![field(c, Some(fields))])
            .unwrap_or_default(),
    };
    for f in &mut out {
        f.atomic = true;
    }
    out
}

/// `user.save()`, `user.update({…})`, `user.destroy()`, `user.increment("x")`,
/// `user.reload()` on a row read earlier: by primary key, the row itself.
fn instance<'t>(
    row: Node<'t>,
    call: &crate::frontend::typescript::syntax::Segment<'t>,
    receiver: &str,
    table: Option<String>,
    src: &str,
    scope: &Scope<'t>,
) -> Option<Recognized<'t>> {
    let (kind, options_at) = match call.name {
        "save" => (EffectKind::Update, 0),
        "update" => (EffectKind::Update, 1),
        "increment" | "decrement" => (EffectKind::Update, 1),
        "destroy" => (EffectKind::Delete, 0),
        "reload" => (EffectKind::Read, 0),
        _ => return None,
    };
    let options = call.arg(options_at);
    let mut draft = EffectDraft::new(
        kind,
        Client::Sequelize,
        handle_of(options, receiver, src),
        call.name_node?,
    );
    // The handle is the `transaction` option, not the model the call goes through.
    draft.receiver_is_handle = false;
    draft.table = table;
    draft.filter.push(field("id", Some(row)));
    if let Some(options) = options {
        if let Some(lock) = property(options, "lock", src) {
            draft.row_lock = lock_of(text(lock, src));
        }
    }
    match call.name {
        "save" => {
            draft.values = scope
                .assigned(receiver)
                .iter()
                .map(|(column, value)| field(column.clone(), Some(*value)))
                .collect();
        }
        "update" => {
            if let Some(values) = call.arg(0) {
                draft.values = object_fields(values, src);
            }
        }
        "increment" | "decrement" => draft.values = atomic_fields(call.arg(0), src),
        _ => {}
    }
    Some(Recognized::Effect(draft))
}

fn transaction<'t>(
    call: &crate::frontend::typescript::syntax::Segment<'t>,
    receiver: &str,
    src: &str,
) -> Option<Recognized<'t>> {
    let args = call.args.map(arguments).unwrap_or_default();
    let serializable = args.iter().any(|a| {
        a.kind() == "object"
            && property(*a, "isolationLevel", src)
                .is_some_and(|l| text(l, src).contains("SERIALIZABLE"))
    });
    match args
        .iter()
        .find(|a| crate::frontend::typescript::syntax::is_function(**a))
    {
        Some(callback) => Some(Recognized::Transaction {
            client: Client::Sequelize,
            callback: Some(*callback),
            batch: None,
            serializable,
        }),
        // `const t = await sequelize.transaction()`: the variable is the handle.
        None => {
            let _ = receiver;
            Some(Recognized::Control {
                client: Client::Sequelize,
                handle: String::new(),
                control: TxControl::Begin { serializable },
            })
        }
    }
}

fn model_of(target: &Target) -> &str {
    if target.table.is_empty() {
        "Model"
    } else {
        &target.table
    }
}

pub fn suggest(remedy: &Remedy) -> String {
    match remedy {
        Remedy::NumberUnderLock { read, .. } => suggest(&Remedy::LockThenCheck { target: read.clone() }),
        Remedy::InsertOnConflict { target } => {
            let defaults: Vec<(String, String)> = target
                .values
                .iter()
                .filter(|(k, _)| !target.key.iter().any(|(kk, _)| kk == k))
                .cloned()
                .collect();
            format!(
                "// with a unique index on ({cols}); Sequelize catches the losing insert's UniqueConstraintError\nconst [row, created] = await {model}.findOrCreate({{\n  where: {key},\n  defaults: {defaults},\n  transaction: t, // if you are inside sequelize.transaction(async (t) => …)\n}});",
                cols = target.key.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>().join(", "),
                model = model_of(target),
                key = object_literal(&target.key),
                defaults = object_literal(&defaults),
            )
        }
        Remedy::HandleUniqueViolation { target, unique_key } => format!(
            "try {{\n  await {model}.create({values});\n}} catch (e) {{\n  // unique key ({key}): the other request won; load its row instead\n  if (e instanceof UniqueConstraintError) {{\n    return {model}.findOne({{ where: {filter} }});\n  }}\n  throw e;\n}}",
            model = model_of(target),
            values = object_literal(&target.values),
            key = unique_key.join(", "),
            filter = object_literal(&target.key),
        ),
        Remedy::ConditionalWrite { target, state } => {
            let mut filter = target.key.clone();
            filter.extend(state.iter().cloned());
            format!(
                "const [affectedCount] = await {model}.update({values}, {{\n  where: {filter},\n}});\nif (affectedCount === 0) {{\n  // someone else changed it first\n}}",
                model = model_of(target),
                values = object_literal(&target.values),
                filter = object_literal(&filter),
            )
        }
        Remedy::LockThenCheck { target } => format!(
            "await sequelize.transaction(async (t) => {{\n  const row = await {model}.findOne({{\n    where: {filter},\n    lock: t.LOCK.UPDATE,\n    transaction: t,\n  }});\n  // … decide, then write with {{ transaction: t }} on every call …\n}});",
            model = model_of(target),
            filter = object_literal(&key_or_id(target)),
        ),
        Remedy::Transaction { targets, .. } => {
            let body: Vec<String> = targets
                .iter()
                .map(|t| format!("  // … the `{}` write, with {{ transaction: t }}", model_of(t)))
                .collect();
            format!(
                "await sequelize.transaction(async (t) => {{\n  // pass {{ transaction: t }} to every call, or it runs outside\n{}\n}});",
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
                "// or declare the model with `version: true`: save() then tests and bumps `{version_column}` itself\nconst [affectedCount] = await {model}.update({values}, {{\n  where: {filter},\n}});\nif (affectedCount === 0) {{\n  // changed since it was read: reload and retry, or answer 409 Conflict\n}}",
                model = model_of(target),
                values = object_literal(&values),
                filter = object_literal(&filter),
            )
        }
        Remedy::AtomicUpdate { target, column } => format!(
            "await {model}.increment({{ {column}: delta }}, {{ where: {filter} }}); // a negative delta decrements",
            model = model_of(target),
            filter = object_literal(&key_or_id(target)),
        ),
        Remedy::DeleteOrder { targets } => {
            let steps: Vec<String> = targets
                .iter()
                .map(|t| {
                    format!(
                        "  await {}.destroy({{ where: {}, transaction: t }});",
                        model_of(t),
                        object_literal(&t.key)
                    )
                })
                .collect();
            format!(
                "await sequelize.transaction(async (t) => {{\n  // children first\n{}\n}});",
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
            .next()
            .expect("a function")
    }

    #[test]
    fn save_writes_the_fields_assigned_since_the_read() {
        let f = lower(
            "import { Account } from 'sequelize-models';\nasync function w(id, amount) {\n  const account = await Account.findByPk(id);\n  account.balance = account.balance - amount;\n  await account.save();\n}",
        );
        assert_eq!(f.effects.len(), 2);
        let save = &f.effects[1];
        assert_eq!(save.kind, EffectKind::Update);
        assert_eq!(save.table.as_deref(), Some("Account"));
        assert_eq!(save.values[0].column, "balance");
        assert_eq!(save.values[0].value.reads, vec![0]);
        assert_eq!(save.filter[0].value.reads, vec![0]);
    }

    #[test]
    fn a_call_without_the_transaction_option_escapes_the_transaction() {
        let f = lower(
            "async function f(sequelize) {\n  await sequelize.transaction(async (t) => {\n    const w = await Wallet.findOne({ where: { id }, lock: t.LOCK.UPDATE, transaction: t });\n    await Wallet.update({ frozen: true }, { where: { id } });\n  });\n}",
        );
        assert_eq!(f.effects[0].transaction, Some(0));
        assert_eq!(f.effects[0].row_lock, RowLock::Exclusive);
        assert_eq!(f.effects[1].transaction, None);
        assert_eq!(f.effects[1].handle, "Wallet");
    }

    #[test]
    fn unmanaged_transactions_are_named_by_their_variable() {
        let f = lower(
            "async function f(sequelize) {\n  const t = await sequelize.transaction({ isolationLevel: Transaction.ISOLATION_LEVELS.SERIALIZABLE });\n  await Project.create({ name }, { transaction: t });\n  await t.commit();\n  await Member.create({ name });\n}",
        );
        assert_eq!(f.transactions()[0].handle.as_deref(), Some("t"));
        assert!(f.transactions()[0].serializable);
        assert_eq!(f.effects[0].transaction, Some(0));
        assert_eq!(f.effects[1].transaction, None);
    }

    #[test]
    fn find_or_create_and_bulk_options_decide_on_conflict() {
        let f = lower(
            "async function f(sequelize) {\n  await Tag.findOrCreate({ where: { slug }, defaults: { name } });\n  await Tag.bulkCreate(rows, { ignoreDuplicates: true });\n  await Tag.bulkCreate(rows, { updateOnDuplicate: ['name'] });\n  await Tag.increment({ uses: 1 }, { where: { id } });\n}",
        );
        assert_eq!(f.effects[0].kind, EffectKind::Insert);
        assert_eq!(f.effects[0].on_conflict, OnConflict::DoNothing);
        assert_eq!(f.effects[1].on_conflict, OnConflict::DoNothing);
        assert_eq!(f.effects[2].kind, EffectKind::Upsert);
        assert!(f.effects[3].values[0].value.atomic);
    }

    #[test]
    fn capitalized_calls_outside_sequelize_files_are_not_models() {
        let src = "async function f() {\n  await Stripe.create({ amount });\n}";
        let parsed = parse(src, Dialect::TypeScript, &FileHints::of(src));
        assert!(parsed.model.functions.is_empty());
    }
}
