//! SeaORM entities: a `Model` struct deriving `DeriveEntityModel` with
//! `#[sea_orm(table_name = "…")]`, and its `Relation` enum's `belongs_to`
//! variants (also the 2.0 form, `belongs_to` on a `Model` field), parsed with syn.
//!
//! An entity lives in a module (its file, `entity/cake.rs`, or an inline `mod`),
//! and code names it through that module: the aliases are `cake`, `cake::Entity`
//! and the prelude's `Cake`. Columns are the Rust field names. A relation without
//! `on_delete` says nothing about the database (the table is usually made by a
//! migration racelint does not read), so its action is recorded as unknown.

use super::{snake_case, FileSchema, ForeignKey, OnDelete, Table};
use crate::diagnostic::{ErrorKind, RunError};
use crate::source::Position;
use syn::{Attribute, Expr, Fields, Item, Lit};

/// `#[sea_orm(a, b = "x", c = 1)]` as `(name, Some(string value))` pairs.
fn sea_orm_args(attrs: &[Attribute]) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    for attr in attrs.iter().filter(|a| a.path().is_ident("sea_orm")) {
        let _ = attr.parse_nested_meta(|meta| {
            let name = meta
                .path
                .segments
                .last()
                .map(|s| s.ident.to_string())
                .unwrap_or_default();
            let value = if meta.input.peek(syn::Token![=]) {
                match meta.value()?.parse::<Expr>()? {
                    Expr::Lit(l) => match l.lit {
                        Lit::Str(s) => Some(s.value()),
                        other => Some(quote::ToTokens::to_token_stream(&other).to_string()),
                    },
                    _ => None,
                }
            } else if meta.input.peek(syn::token::Paren) {
                // `#[sea_orm(indexed(unique))]`-style groups: read but keep nothing.
                meta.parse_nested_meta(|_| Ok(()))?;
                None
            } else {
                None
            };
            out.push((name, value));
            Ok(())
        });
    }
    out
}

fn get<'a>(args: &'a [(String, Option<String>)], name: &str) -> Option<&'a Option<String>> {
    args.iter().find(|(n, _)| n == name).map(|(_, v)| v)
}

fn derives(attrs: &[Attribute], name: &str) -> bool {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("derive"))
        .any(|a| {
            let mut found = false;
            let _ = a.parse_nested_meta(|meta| {
                found |= meta.path.segments.last().is_some_and(|s| s.ident == name);
                Ok(())
            });
            found
        })
}

fn action(s: &str) -> Option<OnDelete> {
    match s {
        "Cascade" => Some(OnDelete::Cascade),
        "SetNull" => Some(OnDelete::SetNull),
        "SetDefault" => Some(OnDelete::SetDefault),
        "Restrict" => Some(OnDelete::Restrict),
        "NoAction" => Some(OnDelete::NoAction),
        _ => None,
    }
}

/// `"super::fruit::Entity"` → `fruit`; a bare `"Entity"` is the entity itself.
fn entity_module(path: &str, own: &str) -> String {
    let parts: Vec<&str> = path.split("::").map(str::trim).collect();
    match parts.as_slice() {
        [.., module, _entity] => module.to_string(),
        _ => own.to_string(),
    }
}

/// `"Column::FruitId"` / `"(Column::A, Column::B)"` → `fruit_id` / `a`, `b`.
fn columns(spec: &str) -> Vec<String> {
    spec.trim_matches(|c| c == '(' || c == ')')
        .split(',')
        .filter_map(|c| c.trim().rsplit("::").next())
        .filter(|c| !c.is_empty())
        .map(snake_case)
        .collect()
}

fn upper_camel(snake: &str) -> String {
    snake
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map_or_else(String::new, |f| f.to_uppercase().chain(c).collect())
        })
        .collect()
}

fn line_of(span: proc_macro2::Span) -> usize {
    span.start().line
}

/// Parses one Rust file for SeaORM entities. The file stem names the module.
pub fn parse(rel_path: &str, src: &str) -> FileSchema {
    let mut out = FileSchema::default();
    // syn recurses per nesting level: bound it first (see `nesting`).
    if let Some((line, column, message)) = crate::frontend::rust::nesting::too_deep(src) {
        out.error = Some(RunError {
            kind: ErrorKind::SchemaError,
            path: rel_path.to_string(),
            message,
            position: Some(Position {
                line: line as u32,
                column: column as u32,
            }),
        });
        return out;
    }
    let ast = match syn::parse_file(src) {
        Ok(f) => f,
        Err(e) => {
            let start = e.span().start();
            out.error = Some(RunError {
                kind: ErrorKind::SchemaError,
                path: rel_path.to_string(),
                message: format!("not valid Rust: {e}"),
                position: Some(Position {
                    line: start.line as u32,
                    column: start.column as u32 + 1,
                }),
            });
            return out;
        }
    };
    let path = std::path::Path::new(rel_path);
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    let module = if stem == "mod" {
        path.parent()
            .and_then(|p| p.file_name())
            .and_then(|s| s.to_str())
            .unwrap_or(stem)
    } else {
        stem
    };
    scope(rel_path, module, &ast.items, &mut out);
    out
}

/// One module's items: its entity, if any, then inline submodules.
fn scope(rel_path: &str, module: &str, items: &[Item], out: &mut FileSchema) {
    let model = items.iter().find_map(|i| match i {
        Item::Struct(s) if s.ident == "Model" && derives(&s.attrs, "DeriveEntityModel") => Some(s),
        _ => None,
    });
    if let Some(model) = model {
        let args = sea_orm_args(&model.attrs);
        let name = match get(&args, "table_name") {
            Some(Some(n)) => n.clone(),
            _ => module.to_string(),
        };
        let name = match get(&args, "schema_name") {
            Some(Some(s)) if s != "public" => format!("{s}.{name}"),
            _ => name,
        };
        let mut table = Table {
            name,
            aliases: vec![module.to_string(), format!("{module}::Entity"), upper_camel(module)],
            sources: vec![format!("{rel_path}:{}", line_of(model.ident.span()))],
            ..Table::default()
        };
        let mut unique_groups: Vec<(String, Vec<String>)> = Vec::new();
        if let Fields::Named(fields) = &model.fields {
            for f in &fields.named {
                let Some(ident) = &f.ident else { continue };
                let field = ident.to_string();
                let fargs = sea_orm_args(&f.attrs);
                if get(&fargs, "primary_key").is_some() {
                    table.primary_key.push(field.clone());
                }
                if get(&fargs, "unique").is_some() {
                    table.unique.push(vec![field.clone()]);
                }
                if let Some(Some(group)) = get(&fargs, "unique_key") {
                    match unique_groups.iter_mut().find(|(g, _)| g == group) {
                        Some((_, cols)) => cols.push(field.clone()),
                        None => unique_groups.push((group.clone(), vec![field.clone()])),
                    }
                }
                let ty = quote::ToTokens::to_token_stream(&f.ty).to_string();
                if field == "version" && matches!(ty.as_str(), "i16" | "i32" | "i64" | "u32" | "u64") {
                    table.version_column = Some(field.clone());
                }
                // SeaORM 2.0: `#[sea_orm(belongs_to, from = "cake_id", to = "id")] cake: HasOne<super::cake::Entity>`.
                if get(&fargs, "belongs_to").is_some() {
                    let target = ty.split('<').nth(1).unwrap_or("").replace(' ', "");
                    let target = target.trim_end_matches('>');
                    push_fk(rel_path, module, target, &fargs, line_of(ident.span()), &mut table);
                }
            }
        }
        table.unique.extend(unique_groups.into_iter().map(|(_, cols)| cols));
        for item in items {
            let Item::Enum(e) = item else { continue };
            if e.ident != "Relation" {
                continue;
            }
            for v in &e.variants {
                let vargs = sea_orm_args(&v.attrs);
                if let Some(Some(target)) = get(&vargs, "belongs_to") {
                    push_fk(rel_path, module, target, &vargs, line_of(v.ident.span()), &mut table);
                }
            }
        }
        out.tables.push(table);
    } else if items.iter().any(|i| matches!(i, Item::Impl(im) if im.trait_.as_ref().is_some_and(|(_, p, _)| p.segments.last().is_some_and(|s| s.ident == "EntityName")))) {
        out.notes.push(format!("{rel_path}: `{module}` uses SeaORM's expanded entity format, which racelint does not read"));
    }
    for item in items {
        if let Item::Mod(m) = item {
            if let Some((_, inner)) = &m.content {
                scope(rel_path, &m.ident.to_string(), inner, out);
            }
        }
    }
}

fn push_fk(
    rel_path: &str,
    module: &str,
    target: &str,
    args: &[(String, Option<String>)],
    line: usize,
    table: &mut Table,
) {
    let from = get(args, "from")
        .cloned()
        .flatten()
        .map(|s| columns(&s))
        .unwrap_or_default();
    let to = get(args, "to")
        .cloned()
        .flatten()
        .map(|s| columns(&s))
        .unwrap_or_default();
    let explicit = get(args, "on_delete")
        .cloned()
        .flatten()
        .and_then(|s| action(&s));
    table.foreign_keys.push(ForeignKey {
        columns: from,
        references: entity_module(target, module),
        referenced_columns: to,
        on_delete: explicit.unwrap_or(OnDelete::NoAction),
        on_delete_known: explicit.is_some(),
        source: format!("{rel_path}:{line}"),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entity_and_relations() {
        let src = r#"//! `SeaORM` Entity, @generated by sea-orm-codegen 1.1.0

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Eq)]
#[sea_orm(table_name = "cake_slice")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    #[sea_orm(column_type = "Text", unique)]
    pub name: String,
    pub cake_id: Option<i32>,
    pub baker_id: i32,
    #[sea_orm(default_value = -1)]
    pub version: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::cake::Entity",
        from = "Column::CakeId",
        to = "super::cake::Column::Id",
        on_update = "NoAction",
        on_delete = "Cascade"
    )]
    Cake,
    #[sea_orm(belongs_to = "super::baker::Entity", from = "Column::BakerId", to = "super::baker::Column::Id")]
    Baker,
    #[sea_orm(has_many = "super::crumb::Entity")]
    Crumb,
}

impl ActiveModelBehavior for ActiveModel {}
"#;
        let parsed = parse("src/entity/cake_slice.rs", src);
        assert!(parsed.error.is_none());
        let t = &parsed.tables[0];
        assert_eq!(t.name, "cake_slice");
        assert_eq!(t.aliases, ["cake_slice", "cake_slice::Entity", "CakeSlice"]);
        assert_eq!(t.sources, ["src/entity/cake_slice.rs:7"]);
        assert_eq!(t.primary_key, ["id"]);
        assert_eq!(t.unique, [vec!["name".to_string()]]);
        assert_eq!(t.version_column.as_deref(), Some("version"));
        let cake = &t.foreign_keys[0];
        assert_eq!(cake.columns, ["cake_id"]);
        assert_eq!(cake.references, "cake");
        assert_eq!(cake.referenced_columns, ["id"]);
        assert_eq!(cake.on_delete, OnDelete::Cascade);
        assert!(cake.on_delete_known);
        assert_eq!(cake.source, "src/entity/cake_slice.rs:27");
        assert!(!t.foreign_keys[1].on_delete_known, "no on_delete: unknown");
        assert_eq!(t.foreign_keys.len(), 2, "has_many is the other side");
    }
}
