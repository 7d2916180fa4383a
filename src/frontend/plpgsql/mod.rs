//! The SQL frontend: `CREATE [OR REPLACE] FUNCTION|PROCEDURE … LANGUAGE plpgsql|sql`
//! in `.sql` files (migrations, `supabase/migrations`, schema dumps), one
//! [`crate::ir::Function`] each, named by the function's name.
//!
//! `lex.rs` tokenizes with byte offsets, `block.rs` parses PL/pgSQL's block
//! structure, `lower.rs` turns a body into effects through the shared SQL
//! classifier, `suggest.rs` spells fixes in PL/pgSQL. A hand-written block parser
//! over `sqlparser` rather than the `pg_query` crate (libpg_query): `pg_query`'s
//! build needs libclang for bindgen, which the CI image lacks, and its PL/pgSQL
//! tree gives line numbers, not the byte spans findings need; the SQL inside a
//! body would still be classified by `sqlparser`.

mod block;
mod lex;
mod lower;
mod suggest;

pub use suggest::suggest;

use crate::ir::{FileModel, Function, Span};
use lex::{Kind, Tok};
use lower::Routine;

/// Words that open a SQL function definition: a file without them has nothing here.
pub const VOCABULARY: &[&str] = &["function", "procedure"];

pub struct Parsed {
    pub model: FileModel,
    /// Byte offset and message of each body that could not be read to its end.
    pub problems: Vec<(usize, String)>,
}

pub fn parse(src: &str) -> Parsed {
    let toks = lex::lex(src, 0, src.len());
    let mut model = FileModel::default();
    let mut problems = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        if toks[i].is(src, "drop") {
            let (dropped, end) = dropped_at(src, &toks, i);
            model.functions.extend(dropped);
            i = end.max(i + 1);
            continue;
        }
        if !toks[i].is(src, "create") {
            i += 1;
            continue;
        }
        let (routine, end) = routine_at(src, &toks, i);
        if let Some(routine) = routine {
            let (function, problem) = lower::lower(src, &routine);
            problems.extend(
                problem.map(|(at, m)| (at, format!("in function `{}`: {m}", routine.name))),
            );
            model.functions.push(function);
        }
        i = end.max(i + 1);
    }
    Parsed { model, problems }
}

/// Type names of more than one word: their first word is not a parameter name.
const MULTI_WORD_TYPES: &[&str] = &[
    "character",
    "double",
    "timestamp",
    "time",
    "bit",
    "interval",
    "national",
];

/// The routine a `CREATE` at `at` defines, if it is a PL/pgSQL or SQL function
/// with a body, and the index just past its statement.
fn routine_at(src: &str, toks: &[Tok], at: usize) -> (Option<Routine>, usize) {
    let mut j = at + 1;
    let word = |j: usize, w: &str| toks.get(j).is_some_and(|t| t.is(src, w));
    if word(j, "or") && word(j + 1, "replace") {
        j += 2;
    }
    if !(word(j, "function") || word(j, "procedure")) {
        return (None, j);
    }
    j += 1;
    let end = statement_end(toks, j);
    let mut name = None;
    while j < end && matches!(toks[j].kind, Kind::Word | Kind::Quoted | Kind::Dot) {
        if toks[j].kind != Kind::Dot {
            name = toks[j].name(src);
        }
        j += 1;
    }
    let Some(name) = name else { return (None, end) };
    let mut params = Vec::new();
    let mut outputs = Vec::new();
    if toks.get(j).is_some_and(|t| t.kind == Kind::LParen) {
        let close = close_of(toks, j, end);
        for item in split_commas(toks, j + 1, close) {
            let mut words = item.iter().filter(|t| t.kind != Kind::Op);
            let mut first = words.next();
            let mut output = false;
            if let Some(mode) = first.filter(|t| {
                ["in", "out", "inout", "variadic"]
                    .iter()
                    .any(|m| t.is(src, m))
            }) {
                output = mode.is(src, "out");
                first = words.next();
            }
            let second = words.next();
            let named = first.filter(|t| {
                second.is_some_and(|s| matches!(s.kind, Kind::Word | Kind::Quoted))
                    && !MULTI_WORD_TYPES.iter().any(|w| t.is(src, w))
            });
            let param = named.and_then(|t| t.name(src)).unwrap_or_default();
            if output {
                outputs.push(param);
            } else {
                params.push(param);
            }
        }
        j = close + 1;
    }
    let mut plpgsql = None;
    let mut body = None;
    let mut trigger = false;
    while j < end {
        let t = toks[j];
        if t.is(src, "language") {
            plpgsql = toks.get(j + 1).map(|l| {
                let l = l.text(src).trim_matches(['\'', '"']).to_ascii_lowercase();
                match l.as_str() {
                    "plpgsql" => Some(true),
                    "sql" => Some(false),
                    _ => None,
                }
            });
        } else if t.is(src, "returns") && word(j + 1, "trigger") {
            trigger = true;
        } else if t.is(src, "returns") && word(j + 1, "table") {
            if toks.get(j + 2).is_some_and(|p| p.kind == Kind::LParen) {
                let close = close_of(toks, j + 2, end);
                for item in split_commas(toks, j + 3, close) {
                    outputs.extend(item.first().and_then(|t| t.name(src)));
                }
                j = close;
            }
        } else if t.is(src, "as") && body.is_none() {
            body = match toks.get(j + 1).map(|b| b.kind) {
                Some(Kind::Dollar {
                    body_start,
                    body_end,
                }) => Some(body_start..body_end),
                Some(Kind::Str) => {
                    let b = toks[j + 1];
                    // An unterminated string runs to the end of the file: no closing quote to drop.
                    let closed = b.end > b.start + 1 && src.as_bytes()[b.end - 1] == b'\'';
                    Some(b.start + 1..if closed { b.end - 1 } else { b.end })
                }
                _ => None,
            };
        }
        j += 1;
    }
    let (Some(Some(plpgsql)), Some(body)) = (plpgsql, body) else {
        return (None, end);
    };
    let last = toks
        .get(end.saturating_sub(1).max(at))
        .map_or(toks[at].end, |t| t.end);
    let routine = Routine {
        name,
        span: Span::new(toks[at].start, last),
        params,
        outputs,
        plpgsql,
        trigger,
        body,
    };
    (Some(routine), end)
}

/// `DROP FUNCTION|PROCEDURE [IF EXISTS] a(…), b …`: each name as an empty SQL
/// function, which replaces the earlier definitions as the drop does in the
/// database (`Routines::is_replaced`), so they are neither linted nor called.
fn dropped_at(src: &str, toks: &[Tok], at: usize) -> (Vec<Function>, usize) {
    let word = |j: usize, w: &str| toks.get(j).is_some_and(|t| t.is(src, w));
    if !(word(at + 1, "function") || word(at + 1, "procedure")) {
        return (Vec::new(), at + 1);
    }
    let end = statement_end(toks, at + 1);
    let mut start = at + 2;
    if word(start, "if") && word(start + 1, "exists") {
        start += 2;
    }
    let span = Span::new(toks[at].start, toks[end.saturating_sub(1).max(at)].end);
    let dropped = split_commas(toks, start, end)
        .into_iter()
        .filter_map(|item| {
            // `schema.name(args)`: the name is the last word before the arguments.
            let name = item
                .iter()
                .take_while(|t| t.kind != Kind::LParen)
                .filter(|t| matches!(t.kind, Kind::Word | Kind::Quoted))
                .filter(|t| !t.is(src, "cascade") && !t.is(src, "restrict"))
                .last()?
                .name(src)?;
            let mut function = Function::new(name, span);
            function.routine = true;
            Some(function)
        })
        .collect();
    (dropped, end)
}

/// The index of the `;` ending the statement that goes on at `from` (or the end).
fn statement_end(toks: &[Tok], from: usize) -> usize {
    let mut depth = 0usize;
    for (i, t) in toks.iter().enumerate().skip(from) {
        match t.kind {
            Kind::LParen => depth += 1,
            Kind::RParen => depth = depth.saturating_sub(1),
            Kind::Semi if depth == 0 => return i,
            _ => {}
        }
    }
    toks.len()
}

pub(super) fn close_of(toks: &[Tok], open: usize, end: usize) -> usize {
    let mut depth = 0usize;
    for (i, t) in toks.iter().enumerate().take(end).skip(open) {
        match t.kind {
            Kind::LParen => depth += 1,
            Kind::RParen => {
                depth -= 1;
                if depth == 0 {
                    return i;
                }
            }
            _ => {}
        }
    }
    end
}

/// The comma-separated items between `from` and `to`, at bracket depth 0.
pub(super) fn split_commas(toks: &[Tok], from: usize, to: usize) -> Vec<Vec<Tok>> {
    let mut items = vec![Vec::new()];
    let mut depth = 0usize;
    for t in toks.iter().take(to).skip(from) {
        match t.kind {
            Kind::LParen => depth += 1,
            Kind::RParen => depth = depth.saturating_sub(1),
            Kind::Comma if depth == 0 => {
                items.push(Vec::new());
                continue;
            }
            _ => {}
        }
        if let Some(item) = items.last_mut() {
            item.push(*t);
        }
    }
    items.retain(|i| !i.is_empty());
    items
}

#[cfg(test)]
mod tests;
