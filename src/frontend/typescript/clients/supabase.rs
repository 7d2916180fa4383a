//! supabase-js v2: `supabase.from("t").select(…).eq(…)`, `.insert`, `.upsert`,
//! `.update(…).eq(…)`, `.delete().eq(…)`, and `.rpc("fn", args)`.
//!
//! The table is the string given to `from`; the handle is the receiver
//! (`supabase`, `supabaseAdmin`, `ctx.supabase`). Filters (`eq`, `neq`, `gt`, `in`,
//! `is`, `match({…})`, …) are the effect's filter. `.single()` does not throw on a
//! missing row — it returns `{ error }` — so a read is never `throws_if_missing`;
//! the code's own `if (error) throw` is what guards what follows.
//!
//! supabase-js has no client-side transactions: two writes are never atomic, and
//! the fix for that is a Postgres function called with `.rpc(…)`. An `rpc` call
//! names the function it runs; the project resolves it against its SQL functions
//! (`ir::routines`), and it stays opaque when the function is not in the project.

use super::ormkit::{field, object_fields, object_literal, string_value};
use super::{EffectDraft, FileHints, Recognized};
use crate::frontend::typescript::syntax::{property, text, Chain};
use crate::ir::remedy::{Remedy, Target};
use crate::ir::{Client, EffectKind, OnConflict};

/// Text every call this module recognises contains (the prefilter's vocabulary).
/// Recognised only in files that name Supabase or on a handle that does.
pub const VOCABULARY: super::Vocabulary = super::Vocabulary {
    calls: &[],
    gated_calls: &[".from", ".rpc"],
    gates: &["supabase"],
};

/// Filter methods whose first argument is a column.
const FILTERS: &[&str] = &[
    "eq",
    "neq",
    "gt",
    "gte",
    "lt",
    "lte",
    "like",
    "ilike",
    "is",
    "in",
    "contains",
    "containedBy",
    "overlaps",
    "textSearch",
    "not",
    "filter",
];

pub fn mentions_supabase(src: &str) -> bool {
    src.contains("supabase") || src.contains("Supabase")
}

fn looks_like_supabase(receiver: &str, hints: &FileHints) -> bool {
    hints.orm.supabase || receiver.to_ascii_lowercase().contains("supabase")
}

pub fn recognize<'t>(chain: &Chain<'t>, src: &'t str, hints: &FileHints) -> Option<Recognized<'t>> {
    let segments = &chain.segments;
    let first_call = segments.iter().position(|s| s.is_call())?;
    let receiver = chain.receiver_text(first_call, src);
    if !looks_like_supabase(receiver, hints) {
        return None;
    }
    // `supabase.storage.from("avatars")` is a bucket, not a table.
    if segments[..first_call]
        .iter()
        .any(|s| matches!(s.name, "storage" | "auth" | "functions" | "realtime"))
    {
        return None;
    }
    let call = &segments[first_call];
    if call.name == "rpc" {
        let mut draft = EffectDraft::new(
            EffectKind::Opaque,
            Client::Supabase,
            receiver.to_string(),
            call.name_node?,
        );
        draft.table = None;
        draft.routines = call
            .arg(0)
            .and_then(|name| string_value(name, src))
            .map(|name| {
                name.rsplit('.')
                    .next()
                    .unwrap_or(&name)
                    .to_ascii_lowercase()
            })
            .into_iter()
            .collect();
        return Some(Recognized::Effect(draft));
    }
    // `supabase.schema("billing").from("invoices")`
    let from_index = match call.name {
        "from" => first_call,
        "schema" => first_call + 1,
        _ => return None,
    };
    let from = segments.get(from_index).filter(|s| s.name == "from")?;
    let table = string_value(from.arg(0)?, src)?;
    let handle = chain.receiver_text(first_call, src).to_string();
    let op = segments[from_index + 1..]
        .iter()
        .find(|s| matches!(s.name, "insert" | "upsert" | "update" | "delete"))
        .or_else(|| {
            segments[from_index + 1..]
                .iter()
                .find(|s| s.name == "select")
        })?;
    let kind = match op.name {
        "insert" => EffectKind::Insert,
        "upsert" => EffectKind::Upsert,
        "update" => EffectKind::Update,
        "delete" => EffectKind::Delete,
        _ => EffectKind::Read,
    };
    let mut draft = EffectDraft::new(kind, Client::Supabase, handle, op.name_node?);
    draft.table = Some(table);
    match op.name {
        "insert" | "upsert" | "update" => {
            if let Some(values) = op.arg(0) {
                draft.values = object_fields(values, src);
                draft.many = values.kind() == "array";
            }
        }
        _ => {}
    }
    if op.name == "upsert" {
        let options = op.arg(1);
        let ignore = options
            .and_then(|o| property(o, "ignoreDuplicates", src))
            .is_some_and(|v| text(v, src) == "true");
        if ignore {
            draft.kind = EffectKind::Insert;
            draft.on_conflict = OnConflict::DoNothing;
        } else {
            draft.on_conflict = OnConflict::DoUpdate;
        }
    }
    let mut single = false;
    for segment in &segments[from_index + 1..] {
        match segment.name {
            name if FILTERS.contains(&name) => {
                if let Some(column) = segment.arg(0).and_then(|c| string_value(c, src)) {
                    // `.not("col", "is", null)` / `.filter("col", "eq", v)`: the value is last.
                    let value = match name {
                        "not" | "filter" => segment.arg(2),
                        _ => segment.arg(1),
                    };
                    draft.filter.push(field(column, value));
                }
            }
            "match" => {
                if let Some(object) = segment.arg(0) {
                    draft.filter.extend(object_fields(object, src));
                }
            }
            "single" | "maybeSingle" => single = true,
            _ => {}
        }
    }
    draft.many = match kind {
        EffectKind::Read => !single,
        EffectKind::Update | EffectKind::Delete => !draft.filter.iter().any(|f| f.column == "id"),
        _ => draft.many,
    };
    Some(Recognized::Effect(draft))
}

fn client_of(target: &Target) -> &str {
    if target.handle.is_empty() {
        "supabase"
    } else {
        &target.handle
    }
}

fn filters(fields: &[(String, String)]) -> String {
    if fields.is_empty() {
        return ".eq(\"id\", id)".into();
    }
    fields
        .iter()
        .map(|(k, v)| format!(".eq(\"{k}\", {v})"))
        .collect()
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
            let cols: Vec<&str> = target.key.iter().map(|(k, _)| k.as_str()).collect();
            format!(
                "// needs a unique index on ({cols})\nconst {{ error }} = await {client}\n  .from(\"{table}\")\n  .upsert({row}, {{ onConflict: \"{cols_csv}\", ignoreDuplicates: true }});",
                cols = cols.join(", "),
                cols_csv = cols.join(","),
                client = client_of(target),
                table = target.table,
                row = object_literal(&row),
            )
        }
        Remedy::HandleUniqueViolation { target, unique_key } => format!(
            "const {{ error }} = await {client}.from(\"{table}\").insert({values});\n// unique key ({key}): the other request won; load its row instead\nif (error?.code === \"23505\") {{\n  return {client}.from(\"{table}\").select(){filter}.single();\n}}\nif (error) throw error;",
            client = client_of(target),
            table = target.table,
            values = object_literal(&target.values),
            key = unique_key.join(", "),
            filter = filters(&target.key),
        ),
        Remedy::ConditionalWrite { target, state } => {
            let mut filter = target.key.clone();
            filter.extend(state.iter().cloned());
            format!(
                "const {{ data, error }} = await {client}\n  .from(\"{table}\")\n  .update({values})\n  {filter}\n  .select();\nif (error) throw error;\nif (data.length === 0) {{\n  // someone else changed it first\n}}",
                client = client_of(target),
                table = target.table,
                values = object_literal(&target.values),
                filter = filters(&filter),
            )
        }
        Remedy::LockThenCheck { target } => format!(
            "-- supabase-js has no transactions: check and write in one Postgres function\ncreate function claim_{table}(p_key text) returns void language plpgsql as $$\nbegin\n  perform 1 from {table} where {col} = p_key for update;\n  -- … check, then write …\nend $$;\n\n// then, from the app:\nconst {{ error }} = await {client}.rpc(\"claim_{table}\", {{ p_key: {value} }});",
            table = target.table,
            col = target.key.first().map_or("id", |(k, _)| k.as_str()),
            value = target.key.first().map_or("id", |(_, v)| v.as_str()),
            client = client_of(target),
        ),
        Remedy::Transaction { targets, .. } => {
            let client = targets.first().map_or("supabase", client_of);
            let body: Vec<String> = targets
                .iter()
                .map(|t| format!("  -- write {} …", t.table))
                .collect();
            format!(
                "-- supabase-js cannot run two writes atomically: move them into one Postgres function\ncreate function do_writes(…) returns void language plpgsql as $$\nbegin\n{}\nend $$;\n\n// then, from the app:\nconst {{ error }} = await {client}.rpc(\"do_writes\", {{ /* … */ }});",
                body.join("\n")
            )
        }
        Remedy::OptimisticLock {
            target,
            version_column,
        } => {
            let mut filter = target.key.clone();
            filter.push((version_column.clone(), format!("row.{version_column}")));
            let mut values = target.values.clone();
            values.retain(|(k, _)| k != version_column);
            values.push((version_column.clone(), format!("row.{version_column} + 1")));
            format!(
                "const {{ data, error }} = await {client}\n  .from(\"{table}\")\n  .update({values})\n  {filter}\n  .select();\nif (error) throw error;\nif (data.length === 0) {{\n  // changed since it was read: reload and retry, or answer 409 Conflict\n}}",
                client = client_of(target),
                table = target.table,
                values = object_literal(&values),
                filter = filters(&filter),
            )
        }
        Remedy::AtomicUpdate { target, column } => format!(
            "-- supabase-js cannot say `{column} = {column} + n`: use a Postgres function\ncreate function add_to_{table}_{column}(p_id uuid, p_delta numeric) returns void language sql as $$\n  update {table} set {column} = {column} + p_delta where id = p_id;\n$$;\n\n// then, from the app:\nawait {client}.rpc(\"add_to_{table}_{column}\", {{ p_id: {id}, p_delta: delta }});",
            table = target.table,
            client = client_of(target),
            id = target.key.first().map_or("id", |(_, v)| v.as_str()),
        ),
        Remedy::DeleteOrder { targets } => {
            let client = targets.first().map_or("supabase", client_of);
            let steps: Vec<String> = targets
                .iter()
                .map(|t| format!("await {client}.from(\"{}\").delete(){};", t.table, filters(&t.key)))
                .collect();
            format!("// children first\n{}", steps.join("\n"))
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::frontend::typescript::{clients::FileHints, parse, Dialect};
    use crate::ir::{EffectKind, OnConflict};

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
    fn reads_filters_and_destructured_data() {
        let f = lower(
            "async function f(supabase) {\n  const { data, error } = await supabase.from('seats').select('*').eq('id', id).eq('status', 'free').single();\n  if (!data) return;\n  await supabase.from('seats').update({ status: 'held' }).eq('id', id);\n}",
        );
        let read = &f.effects[0];
        assert_eq!(read.kind, EffectKind::Read);
        assert_eq!(read.table.as_deref(), Some("seats"));
        assert!(!read.throws_if_missing);
        assert!(!read.many);
        assert_eq!(read.binding.as_deref(), Some("data"));
        assert!(read.filter[1].value.literal);
        assert_eq!(f.effects[1].kind, EffectKind::Update);
        assert_eq!(f.effects[1].guards[0].read, 0);
    }

    #[test]
    fn upsert_options_and_rpc() {
        let f = lower(
            "async function f(supabase) {\n  await supabase.from('profiles').upsert({ user_id }, { onConflict: 'user_id', ignoreDuplicates: true });\n  await supabase.from('profiles').upsert({ user_id, name });\n  await supabase.rpc('do_it', { x });\n  await supabase.storage.from('avatars').upload(path, file);\n}",
        );
        assert_eq!(f.effects.len(), 3);
        assert_eq!(f.effects[0].kind, EffectKind::Insert);
        assert_eq!(f.effects[0].on_conflict, OnConflict::DoNothing);
        assert_eq!(f.effects[1].kind, EffectKind::Upsert);
        assert_eq!(f.effects[2].kind, EffectKind::Opaque);
    }
}
