//! Small helpers shared by the Sequelize, TypeORM and supabase-js clients.

use super::FieldDraft;
use crate::frontend::typescript::syntax::FieldExt;
use crate::frontend::typescript::syntax::{object_properties, text, Chain, Segment};
use crate::ir::remedy::Target;
use crate::ir::RowLock;
use tree_sitter::Node;

/// Promise methods that may follow a call without changing what it does.
pub const PROMISE_TAIL: &[&str] = &["then", "catch", "finally"];

/// The first called segment, when everything after it is a promise method.
pub fn single_call<'c, 't>(chain: &'c Chain<'t>) -> Option<(usize, &'c Segment<'t>)> {
    let index = chain.segments.iter().position(Segment::is_call)?;
    if chain.segments[index + 1..]
        .iter()
        .any(|s| !PROMISE_TAIL.contains(&s.name))
    {
        return None;
    }
    Some((index, &chain.segments[index]))
}

/// A column with the code of its value.
pub fn field<'t>(column: impl Into<String>, value: Option<Node<'t>>) -> FieldDraft<'t> {
    FieldDraft {
        column: column.into(),
        value,
        atomic: false,
    }
}

/// The properties of an object literal as fields; for an array of rows, the first row.
pub fn object_fields<'t>(node: Node<'t>, src: &str) -> Vec<FieldDraft<'t>> {
    let row = match node.kind() {
        "array" => match node.named_child(0) {
            Some(first) => first,
            None => return Vec::new(),
        },
        // `items.map((i) => ({ orderId, sku: i.sku }))`: the row the callback builds.
        "call_expression" => match mapped_row(node) {
            Some(row) => row,
            None => return Vec::new(),
        },
        _ => node,
    };
    object_properties(row, src)
        .into_iter()
        .map(|(k, v)| field(k, Some(v)))
        .collect()
}

/// The text of a string literal, without quotes; `None` for anything else.
pub fn string_value(node: Node, src: &str) -> Option<String> {
    match node.kind() {
        "string" => Some(text(node, src).trim_matches(['"', '\'']).to_string()),
        "template_string" if node.named_child_count() == 0 => {
            Some(text(node, src).trim_matches('`').to_string())
        }
        _ => None,
    }
}

pub fn is_capitalized(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_uppercase())
}

/// The row lock a lock mode's code names (`t.LOCK.UPDATE`, `"pessimistic_write"`, `true`).
pub fn lock_of(code: &str) -> RowLock {
    let upper = code.to_ascii_uppercase();
    if upper.contains("SHARE") || upper.contains("PESSIMISTIC_READ") {
        RowLock::Shared
    } else if upper == "TRUE" || upper.contains("UPDATE") || upper.contains("PESSIMISTIC_WRITE") {
        RowLock::Exclusive
    } else {
        RowLock::None
    }
}

/// The last name of a receiver: `this.userRepository` → `userRepository`.
pub fn last_name(receiver: &str) -> &str {
    receiver.rsplit(['.', ' ']).next().unwrap_or(receiver)
}

/// `{ email, teamId: input.teamId }`, with the key of a row variable spelled out
/// (`user.save()` filters on `user`: `id: user.id`).
pub fn object_literal(fields: &[(String, String)]) -> String {
    let fields: Vec<(String, String)> = fields
        .iter()
        .map(|(k, v)| {
            let row_key = k == "id" && k != v && is_row_variable(v);
            let value = if row_key {
                format!("{v}.id")
            } else {
                v.clone()
            };
            (k.clone(), value)
        })
        .collect();
    super::object_literal(&fields)
}

/// The filter's columns and values, or `{ id }` when the code had none.
pub fn key_or_id(target: &Target) -> Vec<(String, String)> {
    if target.key.is_empty() {
        vec![("id".to_string(), "id".to_string())]
    } else {
        target.key.clone()
    }
}

pub fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A bare variable that names a row rather than a key (`coupon`, not `couponId`).
fn is_row_variable(code: &str) -> bool {
    !code.is_empty()
        && code.chars().all(|c| c.is_alphanumeric() || c == '_')
        && !code.to_ascii_lowercase().ends_with("id")
        && code.starts_with(|c: char| c.is_ascii_lowercase())
}

/// The object literal a `.map` callback returns, for rows built from a list.
fn mapped_row(call: Node) -> Option<Node> {
    let function = call.field("function")?;
    let property = function.field("property")?;
    if function.kind() != "member_expression" || property.kind() != "property_identifier" {
        return None;
    }
    let callback = call.field("arguments")?.named_child(0)?;
    let body = callback.field("body")?;
    let body = crate::frontend::typescript::syntax::unwrap_expr(body);
    (body.kind() == "object").then_some(body)
}
