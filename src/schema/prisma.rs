//! Prisma schema files (`schema.prisma`, or the multi-file `prisma/schema/*.prisma`).
//!
//! A small hand-written tokenizer and parser: Prisma's language is line-based
//! (one field per line) with attribute argument lists that may span lines, so a
//! token stream with newlines, ignored inside brackets, is all it takes. Only
//! `model` blocks matter; `enum`, `type`, `view`, `datasource` and `generator`
//! blocks are skipped by brace matching.
//!
//! Column names are the *field* names (`authorId`), not their `@map` names,
//! because Prisma code names fields; `fold_name` makes them meet the snake_case
//! names of migrations. Foreign keys name the referenced *model*; the merge maps it
//! to the table's database name.

use super::{
    lower_first, schema_error, schema_file, source_at, FileSchema, ForeignKey, OnDelete, Table,
};

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Num,
    Punct(char),
    At,
    AtAt,
    Doc(String),
    Newline,
}

#[derive(Clone, Debug)]
struct Token {
    tok: Tok,
    offset: usize,
}

/// Splits the text into tokens; an unterminated string is the one error, at its offset.
fn tokenize(text: &str) -> Result<Vec<Token>, (usize, String)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        match c {
            b'\n' => {
                out.push(Token {
                    tok: Tok::Newline,
                    offset: i,
                });
                i += 1;
            }
            b' ' | b'\t' | b'\r' => i += 1,
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                let end = text[i..].find('\n').map_or(text.len(), |e| i + e);
                if bytes.get(i + 2) == Some(&b'/') {
                    let doc = text[i + 3..end].trim().to_string();
                    out.push(Token {
                        tok: Tok::Doc(doc),
                        offset: start,
                    });
                }
                i = end;
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                // Not in Prisma's grammar, but cheap to forgive.
                i = text[i + 2..]
                    .find("*/")
                    .map_or(text.len(), |e| i + 2 + e + 2);
            }
            b'"' => {
                let mut value = String::new();
                let mut j = i + 1;
                let mut closed = false;
                let mut chars = text[j..].char_indices();
                while let Some((k, ch)) = chars.next() {
                    match ch {
                        '\\' => {
                            if let Some((_, escaped)) = chars.next() {
                                value.push(escaped);
                            }
                        }
                        '"' => {
                            j += k + 1;
                            closed = true;
                            break;
                        }
                        '\n' => break,
                        _ => value.push(ch),
                    }
                }
                if !closed {
                    return Err((start, "unterminated string".into()));
                }
                out.push(Token {
                    tok: Tok::Str(value),
                    offset: start,
                });
                i = j;
            }
            b'@' => {
                if bytes.get(i + 1) == Some(&b'@') {
                    out.push(Token {
                        tok: Tok::AtAt,
                        offset: i,
                    });
                    i += 2;
                } else {
                    out.push(Token {
                        tok: Tok::At,
                        offset: i,
                    });
                    i += 1;
                }
            }
            c if c.is_ascii_digit() => {
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'.') {
                    i += 1;
                }
                out.push(Token {
                    tok: Tok::Num,
                    offset: start,
                });
            }
            c if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 => {
                // Dots join `db.VarChar` into one name.
                while i < bytes.len()
                    && (bytes[i].is_ascii_alphanumeric()
                        || bytes[i] == b'_'
                        || bytes[i] == b'.'
                        || bytes[i] >= 0x80)
                {
                    i += 1;
                }
                while !text.is_char_boundary(i) {
                    i += 1;
                }
                out.push(Token {
                    tok: Tok::Ident(text[start..i].to_string()),
                    offset: start,
                });
            }
            _ => {
                let ch = text[i..].chars().next().unwrap_or(' ');
                out.push(Token {
                    tok: Tok::Punct(ch),
                    offset: start,
                });
                i += ch.len_utf8();
            }
        }
    }
    Ok(out)
}

/// An attribute argument value, as far as racelint cares.
#[derive(Clone, Debug, PartialEq)]
enum Value {
    Ident(String),
    Str(String),
    List(Vec<Value>),
    /// `name(args)`, e.g. `autoincrement()` or `title(sort: Desc)`.
    Call(String, Vec<Arg>),
    Other,
}

#[derive(Clone, Debug, PartialEq)]
struct Arg {
    name: Option<String>,
    value: Value,
}

impl Value {
    /// The names in a field list: `[a, b(sort: Desc)]` → `a`, `b`.
    fn names(&self) -> Vec<String> {
        match self {
            Value::List(items) => items.iter().filter_map(Value::name).collect(),
            other => other.name().into_iter().collect(),
        }
    }

    fn name(&self) -> Option<String> {
        match self {
            Value::Ident(s) | Value::Call(s, _) => Some(s.clone()),
            _ => None,
        }
    }
}

fn arg<'a>(args: &'a [Arg], name: &str, position: Option<usize>) -> Option<&'a Value> {
    args.iter()
        .find(|a| a.name.as_deref() == Some(name))
        .or_else(|| position.and_then(|p| args.iter().filter(|a| a.name.is_none()).nth(p)))
        .map(|a| &a.value)
}

struct Parser<'t> {
    toks: &'t [Token],
    i: usize,
    /// Calls and lists open around the current value.
    depth: usize,
}

/// Real attributes nest two or three deep (`@default(dbgenerated("…"))`); deeper
/// arguments are skipped rather than recursed into, so no input can exhaust the stack.
const MAX_VALUE_DEPTH: usize = 32;

impl<'t> Parser<'t> {
    fn peek(&self) -> Option<&'t Tok> {
        self.toks.get(self.i).map(|t| &t.tok)
    }

    fn skip_blank(&mut self) {
        while matches!(self.peek(), Some(Tok::Newline | Tok::Doc(_))) {
            self.i += 1;
        }
    }

    /// After an opening `(` or `[`: arguments up to the matching closer.
    fn args(&mut self, close: char) -> Vec<Arg> {
        let mut out = Vec::new();
        loop {
            self.skip_blank();
            match self.peek() {
                None => return out,
                Some(Tok::Punct(c)) if *c == close => {
                    self.i += 1;
                    return out;
                }
                Some(Tok::Punct(',')) => self.i += 1,
                _ => {
                    let name = match (self.peek(), self.toks.get(self.i + 1).map(|t| &t.tok)) {
                        (Some(Tok::Ident(n)), Some(Tok::Punct(':'))) => {
                            let n = n.clone();
                            self.i += 2;
                            Some(n)
                        }
                        _ => None,
                    };
                    self.skip_blank();
                    let before = self.i;
                    let value = self.value();
                    if self.i == before {
                        // A stray closer of the other kind: step over it rather than loop.
                        self.i += 1;
                    }
                    out.push(Arg { name, value });
                }
            }
        }
    }

    fn value(&mut self) -> Value {
        match self.peek().cloned() {
            Some(Tok::Str(s)) => {
                self.i += 1;
                Value::Str(s)
            }
            Some(Tok::Ident(name)) => {
                self.i += 1;
                if self.peek() == Some(&Tok::Punct('(')) {
                    self.i += 1;
                    if self.depth >= MAX_VALUE_DEPTH {
                        self.skip_group();
                        return Value::Other;
                    }
                    self.depth += 1;
                    let args = self.args(')');
                    self.depth -= 1;
                    Value::Call(name, args)
                } else {
                    Value::Ident(name)
                }
            }
            Some(Tok::Punct('[')) => {
                self.i += 1;
                if self.depth >= MAX_VALUE_DEPTH {
                    self.skip_group();
                    return Value::Other;
                }
                self.depth += 1;
                let items = self.args(']').into_iter().map(|a| a.value).collect();
                self.depth -= 1;
                Value::List(items)
            }
            Some(Tok::Punct(')' | ']' | ',')) | None => Value::Other,
            Some(_) => {
                self.i += 1;
                Value::Other
            }
        }
    }

    /// Skips past the `)` or `]` closing a group whose opener was just consumed,
    /// without recursion; stops before a `}`, which ends the model anyway.
    fn skip_group(&mut self) {
        let mut depth = 1usize;
        while let Some(tok) = self.peek() {
            match tok {
                Tok::Punct('(' | '[') => depth += 1,
                Tok::Punct(')' | ']') => {
                    depth -= 1;
                    if depth == 0 {
                        self.i += 1;
                        return;
                    }
                }
                Tok::Punct('}') => return,
                _ => {}
            }
            self.i += 1;
        }
    }

    /// Skips to the `}` closing a block whose `{` was just consumed; false at EOF.
    fn skip_block(&mut self) -> bool {
        let mut depth = 1;
        while let Some(tok) = self.peek() {
            self.i += 1;
            match tok {
                Tok::Punct('{') => depth += 1,
                Tok::Punct('}') => {
                    depth -= 1;
                    if depth == 0 {
                        return true;
                    }
                }
                _ => {}
            }
        }
        false
    }
}

#[derive(Debug)]
struct Attr {
    name: String,
    args: Vec<Arg>,
}

#[derive(Debug)]
struct Field {
    name: String,
    type_name: String,
    optional: bool,
    list: bool,
    attrs: Vec<Attr>,
    docs: Vec<String>,
    offset: usize,
}

#[derive(Debug)]
struct Model {
    name: String,
    offset: usize,
    fields: Vec<Field>,
    block_attrs: Vec<(Attr, usize)>,
}

/// Reads `@name(args)` / `@@name(args)` after the `@`/`@@` token.
fn attribute(p: &mut Parser) -> Option<Attr> {
    let Some(Tok::Ident(name)) = p.peek().cloned() else {
        return None;
    };
    p.i += 1;
    let args = if p.peek() == Some(&Tok::Punct('(')) {
        p.i += 1;
        p.args(')')
    } else {
        Vec::new()
    };
    Some(Attr { name, args })
}

/// The body of a model, after its `{`. Returns None when the file ends first.
fn model_body(p: &mut Parser, name: String, offset: usize) -> Option<Model> {
    let mut model = Model {
        name,
        offset,
        fields: Vec::new(),
        block_attrs: Vec::new(),
    };
    let mut docs = Vec::new();
    loop {
        let tok = p.toks.get(p.i)?;
        match &tok.tok {
            Tok::Punct('}') => {
                p.i += 1;
                return Some(model);
            }
            Tok::Newline => p.i += 1,
            Tok::Doc(d) => {
                docs.push(d.clone());
                p.i += 1;
            }
            Tok::AtAt => {
                let at = tok.offset;
                p.i += 1;
                if let Some(attr) = attribute(p) {
                    model.block_attrs.push((attr, at));
                }
                docs.clear();
            }
            Tok::Ident(field_name) => {
                let mut field = Field {
                    name: field_name.clone(),
                    type_name: String::new(),
                    optional: false,
                    list: false,
                    attrs: Vec::new(),
                    docs: std::mem::take(&mut docs),
                    offset: tok.offset,
                };
                p.i += 1;
                // The rest of the line: type, modifiers and field attributes.
                while let Some(t) = p.peek().cloned() {
                    match t {
                        Tok::Newline | Tok::Punct('}') => break,
                        Tok::Ident(ty) if field.type_name.is_empty() => {
                            field.type_name = ty;
                            p.i += 1;
                            if p.peek() == Some(&Tok::Punct('(')) {
                                // `Unsupported("circle")`
                                p.i += 1;
                                p.args(')');
                            }
                        }
                        Tok::Punct('?') => {
                            field.optional = true;
                            p.i += 1;
                        }
                        Tok::Punct('[') => {
                            field.list = true;
                            p.i += 1;
                        }
                        Tok::At => {
                            p.i += 1;
                            if let Some(attr) = attribute(p) {
                                field.attrs.push(attr);
                            }
                        }
                        Tok::Punct('(') => {
                            p.i += 1;
                            p.args(')');
                        }
                        _ => p.i += 1,
                    }
                }
                model.fields.push(field);
            }
            _ => {
                p.i += 1;
                docs.clear();
            }
        }
    }
}

fn on_delete(value: &Value) -> Option<OnDelete> {
    match value.name()?.as_str() {
        "Cascade" => Some(OnDelete::Cascade),
        "SetNull" => Some(OnDelete::SetNull),
        "SetDefault" => Some(OnDelete::SetDefault),
        "Restrict" => Some(OnDelete::Restrict),
        "NoAction" => Some(OnDelete::NoAction),
        _ => None,
    }
}

/// Parses one `.prisma` file. `rel_path` is the path shown in sources and errors.
pub fn parse(rel_path: &str, text: &str) -> FileSchema {
    let file = schema_file(rel_path, text);
    let mut out = FileSchema::default();
    let toks = match tokenize(text) {
        Ok(t) => t,
        Err((offset, message)) => {
            out.error = Some(schema_error(&file, offset, message));
            return out;
        }
    };
    let mut p = Parser {
        toks: &toks,
        i: 0,
        depth: 0,
    };
    let mut models = Vec::new();
    let mut datasource = None;
    loop {
        p.skip_blank();
        let Some(tok) = toks.get(p.i) else { break };
        let Tok::Ident(keyword) = &tok.tok else {
            p.i += 1;
            continue;
        };
        let start = tok.offset;
        let keyword = keyword.clone();
        p.i += 1;
        let name = match p.peek() {
            Some(Tok::Ident(n)) => {
                let n = n.clone();
                p.i += 1;
                n
            }
            _ => String::new(),
        };
        // Skip anything between the name and the `{` (nothing in today's grammar).
        while !matches!(p.peek(), Some(Tok::Punct('{')) | Some(Tok::Newline) | None) {
            p.i += 1;
        }
        if p.peek() != Some(&Tok::Punct('{')) {
            continue;
        }
        p.i += 1;
        if keyword == "model" && !name.is_empty() {
            match model_body(&mut p, name, start) {
                Some(m) => models.push(m),
                None => {
                    out.error = Some(schema_error(
                        &file,
                        start,
                        format!("`{keyword}` block is not closed"),
                    ));
                    return out;
                }
            }
        } else {
            let block_start = p.i;
            if keyword == "view" {
                out.notes.push(format!(
                    "{}: view `{name}` is not a table; skipped",
                    source_at(&file, start)
                ));
            }
            if !p.skip_block() {
                out.error = Some(schema_error(
                    &file,
                    start,
                    format!("`{keyword}` block is not closed"),
                ));
                return out;
            }
            if keyword == "datasource" {
                datasource = Some(datasource_settings(&toks[block_start..p.i]));
            }
        }
    }
    for model in models {
        if let Some(mut table) = lower_model(&file, &model, &mut out.notes) {
            if let Some((database, emulated)) = datasource {
                table.database = database;
                table.emulated_relations = emulated;
            }
            out.tables.push(table);
        }
    }
    out
}

/// A datasource block's `provider` and whether `relationMode = "prisma"` leaves
/// the database without foreign keys.
fn datasource_settings(tokens: &[Token]) -> (Option<super::Database>, bool) {
    let setting = |name: &str| {
        tokens
            .windows(3)
            .find_map(|w| match (&w[0].tok, &w[1].tok, &w[2].tok) {
                (Tok::Ident(key), Tok::Punct('='), Tok::Str(value)) if key == name => {
                    Some(value.clone())
                }
                _ => None,
            })
    };
    let database = setting("provider").and_then(|p| super::Database::from_provider(&p));
    (
        database,
        setting("relationMode").as_deref() == Some("prisma"),
    )
}

fn lower_model(
    file: &crate::source::SourceFile,
    model: &Model,
    notes: &mut Vec<String>,
) -> Option<Table> {
    let block = |name: &'static str| {
        model
            .block_attrs
            .iter()
            .filter(move |(a, _)| a.name == name)
    };
    if block("ignore").next().is_some() {
        notes.push(format!(
            "{}: model `{}` has @@ignore; the client cannot reach it, skipped",
            source_at(file, model.offset),
            model.name
        ));
        return None;
    }
    let name = block("map")
        .find_map(|(a, _)| match arg(&a.args, "name", Some(0)) {
            Some(Value::Str(s)) => Some(s.clone()),
            _ => None,
        })
        .unwrap_or_else(|| model.name.clone());
    let mut table = Table {
        name,
        aliases: vec![model.name.clone(), lower_first(&model.name)],
        sources: vec![source_at(file, model.offset)],
        ..Table::default()
    };
    for (attr, _) in block("id") {
        if let Some(v) = arg(&attr.args, "fields", Some(0)) {
            table.primary_key = v.names();
        }
    }
    for field in &model.fields {
        let has = |n: &str| field.attrs.iter().any(|a| a.name == n);
        if has("ignore") {
            continue;
        }
        if has("id") {
            table.primary_key = vec![field.name.clone()];
        }
        if has("unique") {
            let cols = vec![field.name.clone()];
            if !table.unique.contains(&cols) {
                table.unique.push(cols);
            }
        }
        let marked_version = field.docs.iter().any(|d| d.contains("@racelint version"));
        let int_version = field.name == "version"
            && matches!(field.type_name.as_str(), "Int" | "BigInt")
            && !field.list;
        if marked_version || (int_version && table.version_column.is_none()) {
            table.version_column = Some(field.name.clone());
            table.version_declared = marked_version;
        }
        if let Some(rel) = field.attrs.iter().find(|a| a.name == "relation") {
            let Some(columns) = arg(&rel.args, "fields", None).map(Value::names) else {
                continue; // the back-relation side: no columns here
            };
            let referenced_columns = arg(&rel.args, "references", None)
                .map(Value::names)
                .unwrap_or_default();
            let explicit = arg(&rel.args, "onDelete", None).and_then(on_delete);
            // Prisma's documented defaults: SetNull for optional relations, Restrict for required ones.
            let default = if field.optional {
                OnDelete::SetNull
            } else {
                OnDelete::Restrict
            };
            table.foreign_keys.push(ForeignKey {
                columns,
                references: field.type_name.clone(),
                referenced_columns,
                on_delete: explicit.unwrap_or(default),
                on_delete_known: true,
                source: source_at(file, field.offset),
            });
        }
    }
    // Block-level keys follow the fields, as they do in the file.
    for (attr, _) in block("unique") {
        if let Some(v) = arg(&attr.args, "fields", Some(0)) {
            let cols = v.names();
            if !cols.is_empty() && !table.unique.contains(&cols) {
                table.unique.push(cols);
            }
        }
    }
    Some(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LUDICS: &str = r#"
// Ludics engine
datasource db {
  provider = "postgresql"
  url      = env("DATABASE_URL")
}

generator client {
  provider = "prisma-client-js"
}

model LudicDesign {
  id             String   @id @default(cuid())
  deliberationId String
  participantId  String   // "Proponent" | "Opponent"
  acts           LudicAct[]
  posTraces      LudicTrace[] @relation("PosDesign")
  negTraces      LudicTrace[] @relation("NegDesign")

  @@unique([deliberationId, participantId], name: "design_per_participant")
  @@index([deliberationId])
}

enum TraceStatus {
  ONGOING
  CONVERGENT // done
  DIVERGENT
}

/// One run of the stepper.
model LudicTrace {
  id             String      @id @default(cuid())
  deliberationId String
  posDesignId    String
  negDesignId    String
  status         TraceStatus @default(ONGOING)
  posDesign      LudicDesign @relation("PosDesign", fields: [posDesignId], references: [id])
  negDesign      LudicDesign @relation(
    "NegDesign",
    fields: [negDesignId],
    references: [id]
  )
  /// @racelint version
  revision       Int @default(0)
}

model LudicAct {
  id       String  @id
  designId String  @map("design_id")
  design   LudicDesign? @relation(fields: [designId], references: [id], onDelete: Cascade)
  version  Int     @default(0)

  @@map("ludic_acts")
}
"#;

    #[test]
    fn models_keys_and_relations() {
        let parsed = parse("prisma/schema.prisma", LUDICS);
        assert!(parsed.error.is_none(), "{:?}", parsed.error);
        let names: Vec<_> = parsed.tables.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["LudicDesign", "LudicTrace", "ludic_acts"]);

        let design = &parsed.tables[0];
        assert_eq!(design.aliases, ["LudicDesign", "ludicDesign"]);
        assert_eq!(design.primary_key, ["id"]);
        assert_eq!(
            design.unique,
            [vec![
                "deliberationId".to_string(),
                "participantId".to_string()
            ]]
        );
        assert!(
            design.foreign_keys.is_empty(),
            "back-relations declare no columns"
        );

        let trace = &parsed.tables[1];
        assert_eq!(trace.sources, ["prisma/schema.prisma:31"]);
        assert_eq!(trace.foreign_keys.len(), 2);
        let neg = &trace.foreign_keys[1];
        assert_eq!(neg.columns, ["negDesignId"]);
        assert_eq!(neg.references, "LudicDesign");
        assert_eq!(neg.referenced_columns, ["id"]);
        assert_eq!(
            neg.on_delete,
            OnDelete::Restrict,
            "required relation defaults to Restrict"
        );
        assert_eq!(neg.source, "prisma/schema.prisma:38");
        assert_eq!(trace.version_column.as_deref(), Some("revision"));

        let act = &parsed.tables[2];
        assert_eq!(act.aliases, ["LudicAct", "ludicAct"]);
        assert_eq!(act.foreign_keys[0].on_delete, OnDelete::Cascade);
        assert_eq!(
            act.foreign_keys[0].columns,
            ["designId"],
            "field names, not @map names"
        );
        assert_eq!(act.version_column.as_deref(), Some("version"));
    }

    #[test]
    fn optional_relation_defaults_to_set_null_and_composite_ids() {
        let src = r#"
model Membership {
  userId String
  teamId String
  team   Team?  @relation(fields: [teamId], references: [id])
  email  String @unique @db.VarChar(255)
  @@id([userId, teamId])
  @@unique(fields: [teamId, email], map: "membership_team_email")
}
type Address {
  street String
}
view ActiveUsers {
  id Int @unique
}
"#;
        let parsed = parse("schema/team.prisma", src);
        assert_eq!(parsed.tables.len(), 1);
        let m = &parsed.tables[0];
        assert_eq!(m.primary_key, ["userId", "teamId"]);
        assert_eq!(
            m.unique,
            [
                vec!["email".to_string()],
                vec!["teamId".to_string(), "email".to_string()]
            ]
        );
        assert_eq!(m.foreign_keys[0].on_delete, OnDelete::SetNull);
        assert!(m.version_column.is_none());
        assert_eq!(parsed.notes.len(), 1, "the view is noted");
    }

    #[test]
    fn deep_arguments_do_not_recurse() {
        // 100 000 nested calls and lists overflowed the stack before the depth bound.
        let n = 100_000;
        let text = format!(
            "model User {{\n  id Int @id @default({}1{})\n  tags String[] @default({}{})\n  name String @unique\n}}\n",
            "f(".repeat(n),
            ")".repeat(n),
            "[".repeat(n),
            "]".repeat(n)
        );
        let parsed = parse("schema.prisma", &text);
        assert!(parsed.error.is_none(), "{:?}", parsed.error);
        assert_eq!(parsed.tables[0].primary_key, ["id"]);
        assert!(parsed.tables[0].unique.contains(&vec!["name".to_string()]));
    }

    #[test]
    fn unclosed_block_is_an_error_with_its_line() {
        let parsed = parse(
            "schema.prisma",
            "model A {\n  id Int @id\n}\n\nmodel B {\n  id Int @id\n",
        );
        let err = parsed.error.expect("error");
        assert_eq!(err.position.map(|p| p.line), Some(5));
    }

    #[test]
    fn sort_args_and_comments_do_not_confuse() {
        let src = "model Post { // trailing { brace in a comment\n  id Int @id\n  slug String\n  title String // }\n  @@unique([slug(sort: Desc), title(length: 10)])\n  @@ignore_unknown\n}\n";
        let parsed = parse("p.prisma", src);
        assert!(parsed.error.is_none());
        assert_eq!(
            parsed.tables[0].unique,
            [vec!["slug".to_string(), "title".to_string()]]
        );
    }
}
