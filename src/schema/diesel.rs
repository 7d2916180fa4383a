//! Diesel's `schema.rs`: `table!` (or `diesel::table!`) and `joinable!` macros,
//! parsed with syn. The macro tokens are read by hand, since they are not Rust.
//!
//! The module name (`users`) is the alias code uses (`users::table`,
//! `users::dsl::…`); `#[sql_name = "…"]` gives the database name. `schema.rs`
//! declares no unique keys and no delete actions: `joinable!` becomes a foreign
//! key to the parent's primary key whose `on_delete_known` is false.

use super::{FileSchema, ForeignKey, OnDelete, Table};
use crate::diagnostic::{ErrorKind, RunError};
use crate::source::Position;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::visit::Visit;
use syn::{Attribute, Expr, Ident, Lit, Meta, Token};

struct DieselTable {
    schema: Option<Ident>,
    module: Ident,
    sql_name: Option<String>,
    primary_key: Vec<Ident>,
    /// Each column: its Rust name and the last segment of its SQL type (`Int4`).
    columns: Vec<(Ident, String)>,
}

struct TableMacro(Vec<DieselTable>);

fn sql_name(attrs: &[Attribute]) -> Option<String> {
    attrs.iter().find_map(|a| match &a.meta {
        Meta::NameValue(nv) if nv.path.is_ident("sql_name") => match &nv.value {
            Expr::Lit(l) => match &l.lit {
                Lit::Str(s) => Some(s.value()),
                _ => None,
            },
            _ => None,
        },
        _ => None,
    })
}

fn type_name(ty: &syn::Type) -> String {
    match ty {
        syn::Type::Path(p) => p
            .path
            .segments
            .last()
            .map(|s| s.ident.to_string())
            .unwrap_or_default(),
        _ => String::new(),
    }
}

impl Parse for TableMacro {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut tables = Vec::new();
        while !input.is_empty() {
            if input.peek(Token![use]) {
                input.parse::<syn::ItemUse>()?;
                continue;
            }
            let attrs = input.call(Attribute::parse_outer)?;
            let first = input.call(Ident::parse_any)?;
            let (schema, module) = if input.peek(Token![.]) {
                input.parse::<Token![.]>()?;
                (Some(first), input.call(Ident::parse_any)?)
            } else {
                (None, first)
            };
            let primary_key = if input.peek(syn::token::Paren) {
                let content;
                syn::parenthesized!(content in input);
                content
                    .parse_terminated(Ident::parse_any, Token![,])?
                    .into_iter()
                    .collect()
            } else {
                // Diesel's default when the key is left out.
                vec![Ident::new("id", module.span())]
            };
            let body;
            syn::braced!(body in input);
            let mut columns = Vec::new();
            while !body.is_empty() {
                // A column's `#[sql_name]` is ignored: code uses the Rust name.
                body.call(Attribute::parse_outer)?;
                let name = body.call(Ident::parse_any)?;
                body.parse::<Token![->]>()?;
                let ty: syn::Type = body.parse()?;
                if body.peek(Token![,]) {
                    body.parse::<Token![,]>()?;
                }
                columns.push((name, type_name(&ty)));
            }
            tables.push(DieselTable {
                schema,
                module,
                sql_name: sql_name(&attrs),
                primary_key,
                columns,
            });
        }
        Ok(TableMacro(tables))
    }
}

/// `child -> parent (column)`.
struct Joinable {
    child: Ident,
    parent: Ident,
    column: Ident,
}

impl Parse for Joinable {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let child = input.call(Ident::parse_any)?;
        input.parse::<Token![->]>()?;
        let parent = input.call(Ident::parse_any)?;
        let content;
        syn::parenthesized!(content in input);
        let column = content.call(Ident::parse_any)?;
        Ok(Joinable {
            child,
            parent,
            column,
        })
    }
}

#[derive(Default)]
struct Collector {
    tables: Vec<(DieselTable, usize)>,
    joins: Vec<(Joinable, usize)>,
    failures: Vec<(usize, String)>,
}

impl<'ast> Visit<'ast> for Collector {
    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        let Some(last) = mac.path.segments.last() else {
            return;
        };
        let line = last.ident.span().start().line;
        match last.ident.to_string().as_str() {
            "table" => match mac.parse_body::<TableMacro>() {
                Ok(t) => self.tables.extend(t.0.into_iter().map(|t| (t, line))),
                Err(e) => self.failures.push((e.span().start().line, e.to_string())),
            },
            "joinable" => match mac.parse_body::<Joinable>() {
                Ok(j) => self.joins.push((j, line)),
                Err(e) => self.failures.push((e.span().start().line, e.to_string())),
            },
            _ => {}
        }
    }
}

fn error(rel_path: &str, line: usize, column: usize, message: String) -> RunError {
    RunError {
        kind: ErrorKind::SchemaError,
        path: rel_path.to_string(),
        message,
        position: Some(Position {
            line: line as u32,
            column: column as u32 + 1,
        }),
    }
}

/// Parses one Rust file for Diesel `table!`/`joinable!` macros.
pub fn parse(rel_path: &str, src: &str) -> FileSchema {
    let mut out = FileSchema::default();
    // syn recurses per nesting level: bound it first (see `nesting`).
    if let Some((line, column, message)) = crate::frontend::rust::nesting::too_deep(src) {
        out.error = Some(error(rel_path, line, column - 1, message));
        return out;
    }
    let ast = match syn::parse_file(src) {
        Ok(f) => f,
        Err(e) => {
            let start = e.span().start();
            out.error = Some(error(
                rel_path,
                start.line,
                start.column,
                format!("not valid Rust: {e}"),
            ));
            return out;
        }
    };
    let mut c = Collector::default();
    c.visit_file(&ast);
    if c.tables.is_empty() {
        if let Some((line, message)) = c.failures.first() {
            out.error = Some(error(
                rel_path,
                *line,
                0,
                format!("`table!` could not be read: {message}"),
            ));
            return out;
        }
    }
    for (line, message) in &c.failures {
        out.notes.push(format!(
            "{rel_path}:{line}: skipped a macro racelint cannot read: {message}"
        ));
    }
    for (t, _) in &c.tables {
        let module = t.module.unraw().to_string();
        let base = t.sql_name.clone().unwrap_or_else(|| module.clone());
        let name = match &t.schema {
            Some(s) if s != "public" => format!("{}.{base}", s.unraw()),
            _ => base,
        };
        let version = t
            .columns
            .iter()
            .find(|(c, ty)| {
                c.unraw() == "version"
                    && matches!(
                        ty.as_str(),
                        "Int2" | "Int4" | "Int8" | "Integer" | "BigInt" | "SmallInt"
                    )
            })
            .map(|(c, _)| c.unraw().to_string());
        out.tables.push(Table {
            name,
            aliases: vec![module],
            sources: vec![format!("{rel_path}:{}", t.module.span().start().line)],
            primary_key: t
                .primary_key
                .iter()
                .map(|i| i.unraw().to_string())
                .collect(),
            unique: Vec::new(),
            version_column: version,
            version_declared: false,
            foreign_keys: Vec::new(),
            ..Table::default()
        });
    }
    for (j, line) in c.joins {
        let child = j.child.unraw().to_string();
        let Some(table) = out.tables.iter_mut().find(|t| t.aliases.contains(&child)) else {
            out.notes.push(format!(
                "{rel_path}:{line}: joinable! names `{child}`, not declared in this file"
            ));
            continue;
        };
        table.foreign_keys.push(ForeignKey {
            columns: vec![j.column.unraw().to_string()],
            references: j.parent.unraw().to_string(),
            referenced_columns: Vec::new(),
            on_delete: OnDelete::NoAction,
            on_delete_known: false,
            source: format!("{rel_path}:{line}"),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_and_joins() {
        let src = r#"// @generated automatically by Diesel CLI.

pub mod sql_types {
    #[derive(diesel::sql_types::SqlType)]
    #[diesel(postgres_type(name = "mood"))]
    pub struct Mood;
}

diesel::table! {
    use diesel::sql_types::*;
    use super::sql_types::Mood;

    /// Registered people.
    users (id) {
        id -> Int4,
        #[max_length = 255]
        email -> Varchar,
        mood -> Nullable<Mood>,
    }
}

diesel::table! {
    #[sql_name = "blog_posts"]
    posts (id) {
        id -> Int4,
        user_id -> Int4,
        #[sql_name = "type"]
        r#type -> Text,
        version -> Int4,
    }

    auth.sessions (user_id, token) {
        user_id -> Int4,
        token -> Text,
    }
}

diesel::joinable!(posts -> users (user_id));
diesel::allow_tables_to_appear_in_same_query!(posts, users,);
"#;
        let parsed = parse("src/schema.rs", src);
        assert!(parsed.error.is_none(), "{:?}", parsed.error);
        let names: Vec<_> = parsed.tables.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["users", "blog_posts", "auth.sessions"]);
        assert_eq!(parsed.tables[0].sources, ["src/schema.rs:14"]);
        let posts = &parsed.tables[1];
        assert_eq!(posts.aliases, ["posts"]);
        assert_eq!(posts.version_column.as_deref(), Some("version"));
        let fk = &posts.foreign_keys[0];
        assert_eq!(
            (fk.columns[0].as_str(), fk.references.as_str()),
            ("user_id", "users")
        );
        assert!(!fk.on_delete_known);
        assert_eq!(fk.source, "src/schema.rs:38");
        assert_eq!(parsed.tables[2].primary_key, ["user_id", "token"]);
    }

    #[test]
    fn broken_rust_is_an_error() {
        let parsed = parse(
            "src/schema.rs",
            "table! {\n users (id) { id -> Int4, }\n}\nfn (",
        );
        assert_eq!(parsed.error.unwrap().position.unwrap().line, 4);
    }
}
