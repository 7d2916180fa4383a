//! PL/pgSQL bodies → a tree of statements: blocks with their declarations and
//! exception handlers, `IF`/`CASE`, the loops, `EXIT`/`CONTINUE`, `RETURN`,
//! `RAISE`, `GET DIAGNOSTICS`, assignments, and SQL statements (kept as token
//! ranges for the shared SQL classifier).
//!
//! The grammar is PL/pgSQL's own (PostgreSQL's `pl_gram.y`), read as far as a race
//! needs: a construct it does not know is a SQL statement up to its `;`. Bounded:
//! nesting deeper than [`MAX_DEPTH`] ends the parse with a problem, and every step
//! consumes at least one token.

use super::lex::{Kind, Tok};
use std::ops::Range;

/// Nesting of blocks, `IF`s and loops beyond which the body is not read further.
pub const MAX_DEPTH: usize = 200;

#[derive(Debug, Clone)]
pub enum Stmt {
    /// `[DECLARE …] BEGIN … [EXCEPTION WHEN … THEN …] END`.
    Block {
        declared: Vec<String>,
        /// `name type := expr` initialisers, as assignments run on entry.
        init: Vec<Stmt>,
        body: Vec<Stmt>,
        handlers: Vec<Handler>,
    },
    /// `IF`/`ELSIF`/`ELSE`, and `CASE WHEN` (each `WHEN` a branch).
    If {
        branches: Vec<(Range<usize>, Vec<Stmt>)>,
        otherwise: Option<Vec<Stmt>>,
    },
    Loop {
        kind: LoopKind,
        body: Vec<Stmt>,
    },
    /// `EXIT`/`CONTINUE [label] [WHEN cond]`.
    Exit {
        when: Option<Range<usize>>,
    },
    /// `RETURN [expr]`; `RETURN NEXT`/`RETURN QUERY` do not leave the function.
    Return {
        expr: Range<usize>,
        leaves: bool,
    },
    /// `RAISE`: `exception` unless the level is a notice or lower.
    Raise {
        exception: bool,
    },
    /// A SQL statement (`SELECT`, `INSERT`, `WITH`, …), `PERFORM` included.
    Sql {
        range: Range<usize>,
        perform: bool,
    },
    /// `target := expr` (or `=`).
    Assign {
        target: String,
        expr: Range<usize>,
    },
    /// `GET [CURRENT] DIAGNOSTICS var = ROW_COUNT`.
    Diagnostics {
        row_count_into: Vec<String>,
    },
    /// `EXECUTE`: dynamic SQL, opaque.
    Execute {
        range: Range<usize>,
    },
    Commit,
    Other,
}

#[derive(Debug, Clone)]
pub enum LoopKind {
    Plain,
    While(Range<usize>),
    /// `FOR rec IN SELECT …`: the query and the loop variables.
    ForQuery {
        vars: Vec<String>,
        query: Range<usize>,
    },
    /// `FOR i IN 1..n`, `FOREACH x IN ARRAY …`, `FOR r IN EXECUTE …`.
    ForOther {
        vars: Vec<String>,
    },
}

#[derive(Debug, Clone)]
pub struct Handler {
    /// `unique_violation` or `SQLSTATE '23505'` among the conditions.
    pub unique_violation: bool,
    pub body: Vec<Stmt>,
}

pub struct Parser<'a> {
    src: &'a str,
    toks: &'a [Tok],
    pos: usize,
    depth: usize,
    /// Set when the body could not be read to its end.
    pub problem: Option<(usize, String)>,
}

impl<'a> Parser<'a> {
    pub fn new(src: &'a str, toks: &'a [Tok]) -> Self {
        Parser {
            src,
            toks,
            pos: 0,
            depth: 0,
            problem: None,
        }
    }

    /// The whole body: normally one block, possibly preceded by labels.
    pub fn body(&mut self) -> Vec<Stmt> {
        self.list(&[])
    }

    fn at_word(&self, word: &str) -> bool {
        self.toks
            .get(self.pos)
            .is_some_and(|t| t.is(self.src, word))
    }

    fn word_at(&self, i: usize, word: &str) -> bool {
        self.toks.get(i).is_some_and(|t| t.is(self.src, word))
    }

    fn eat(&mut self, word: &str) -> bool {
        let yes = self.at_word(word);
        if yes {
            self.pos += 1;
        }
        yes
    }

    fn fail(&mut self, message: &str) {
        if self.problem.is_none() {
            let at = self.toks.get(self.pos).map_or(0, |t| t.start);
            self.problem = Some((at, message.to_string()));
        }
        self.pos = self.toks.len();
    }

    /// Statements until one of `stops` (a keyword at a statement's start) or the end.
    fn list(&mut self, stops: &[&str]) -> Vec<Stmt> {
        let mut out = Vec::new();
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            self.fail("nested too deeply; the rest of the function is not read");
            self.depth -= 1;
            return out;
        }
        while self.pos < self.toks.len() {
            if stops.iter().any(|s| self.at_word(s)) {
                break;
            }
            let before = self.pos;
            if let Some(stmt) = self.statement() {
                out.push(stmt);
            }
            if self.pos == before {
                self.pos += 1;
            }
        }
        self.depth -= 1;
        out
    }

    /// Index of the first `;` at bracket depth 0 from the current position (or the end).
    fn semi(&self) -> usize {
        let mut depth = 0usize;
        for i in self.pos..self.toks.len() {
            match self.toks[i].kind {
                Kind::LParen => depth += 1,
                Kind::RParen => depth = depth.saturating_sub(1),
                Kind::Semi if depth == 0 => return i,
                _ => {}
            }
        }
        self.toks.len()
    }

    /// Index of the keyword `word` at bracket depth 0, outside `CASE … END`.
    fn find_keyword(&self, word: &str) -> Option<usize> {
        let (mut parens, mut cases) = (0usize, 0usize);
        for i in self.pos..self.toks.len() {
            let t = &self.toks[i];
            match t.kind {
                Kind::LParen => parens += 1,
                Kind::RParen => parens = parens.saturating_sub(1),
                Kind::Semi if parens == 0 => return None,
                Kind::Word if parens == 0 => {
                    if t.is(self.src, "case") {
                        cases += 1;
                    } else if t.is(self.src, "end") && cases > 0 {
                        cases -= 1;
                    } else if cases == 0 && t.is(self.src, word) {
                        return Some(i);
                    }
                }
                _ => {}
            }
        }
        None
    }

    /// Skips to just past the next `;`.
    fn finish(&mut self) {
        self.pos = (self.semi() + 1).min(self.toks.len());
    }

    fn statement(&mut self) -> Option<Stmt> {
        let t = *self.toks.get(self.pos)?;
        // `<<label>>`
        if t.is_op(self.src, "<<") {
            while self.pos < self.toks.len() && !self.toks[self.pos].is_op(self.src, ">>") {
                self.pos += 1;
            }
            self.pos += 1;
            return None;
        }
        if t.kind == Kind::Semi {
            self.pos += 1;
            return None;
        }
        if t.kind != Kind::Word {
            let range = self.pos..self.semi();
            self.finish();
            return Some(Stmt::Sql {
                range,
                perform: false,
            });
        }
        let word = t.text(self.src).to_ascii_lowercase();
        match word.as_str() {
            "declare" | "begin" => Some(self.block()),
            "if" => Some(self.if_statement()),
            "case" => Some(self.case_statement()),
            "loop" | "while" | "for" | "foreach" => Some(self.loop_statement()),
            "exit" | "continue" => {
                self.pos += 1;
                let end = self.semi();
                let when = (self.pos..end)
                    .find(|&i| self.word_at(i, "when"))
                    .map(|w| w + 1..end);
                self.finish();
                Some(Stmt::Exit { when })
            }
            "return" => {
                self.pos += 1;
                let leaves = !(self.at_word("next") || self.at_word("query"));
                if self.eat("query") {
                    let range = self.pos..self.semi();
                    self.finish();
                    return Some(Stmt::Sql {
                        range,
                        perform: false,
                    });
                }
                let expr = self.pos..self.semi();
                self.finish();
                Some(Stmt::Return { expr, leaves })
            }
            "raise" => {
                self.pos += 1;
                let exception = !["debug", "log", "info", "notice", "warning"]
                    .iter()
                    .any(|l| self.at_word(l));
                self.finish();
                Some(Stmt::Raise { exception })
            }
            "perform" => {
                self.pos += 1;
                let range = self.pos..self.semi();
                self.finish();
                Some(Stmt::Sql {
                    range,
                    perform: true,
                })
            }
            "get" => {
                let end = self.semi();
                let mut into = Vec::new();
                for i in self.pos..end {
                    if self.word_at(i, "row_count") && i >= 2 {
                        if let Some(name) = self.toks[i - 2].name(self.src) {
                            into.push(name);
                        }
                    }
                }
                self.finish();
                Some(Stmt::Diagnostics {
                    row_count_into: into,
                })
            }
            "execute" => {
                let range = self.pos..self.semi();
                self.finish();
                Some(Stmt::Execute { range })
            }
            "commit" | "rollback" => {
                self.finish();
                Some(Stmt::Commit)
            }
            "null" | "assert" | "open" | "close" | "fetch" | "move" | "call" => {
                // `CALL proc()` runs another procedure; kept as SQL so the call is seen.
                if word == "call" {
                    self.pos += 1;
                    let range = self.pos..self.semi();
                    self.finish();
                    return Some(Stmt::Sql {
                        range,
                        perform: true,
                    });
                }
                self.finish();
                Some(Stmt::Other)
            }
            "end" | "elsif" | "elseif" | "else" | "exception" | "when" | "then" => {
                // Out of place here (the enclosing construct is broken): skip it.
                self.pos += 1;
                None
            }
            _ => {
                if let Some(assign) = self.assignment() {
                    return Some(assign);
                }
                let range = self.pos..self.semi();
                self.finish();
                Some(Stmt::Sql {
                    range,
                    perform: false,
                })
            }
        }
    }

    /// `name [.field | [i]] := expr;`
    fn assignment(&mut self) -> Option<Stmt> {
        let end = self.semi();
        let op = (self.pos + 1..end.min(self.pos + 8)).find(|&i| {
            let t = &self.toks[i];
            t.is_op(self.src, ":=") || t.is_op(self.src, "=")
        })?;
        // Only names, dots and subscripts may stand before the operator.
        let target_ok = self.toks[self.pos..op].iter().all(|t| {
            matches!(t.kind, Kind::Word | Kind::Quoted | Kind::Dot | Kind::Number)
                || t.is_op(self.src, "[")
                || t.is_op(self.src, "]")
        });
        if !target_ok {
            return None;
        }
        let target = self.toks[self.pos].name(self.src)?;
        if matches!(
            target.as_str(),
            "select" | "insert" | "update" | "delete" | "with" | "values"
        ) {
            return None;
        }
        let expr = op + 1..end;
        self.finish();
        Some(Stmt::Assign { target, expr })
    }

    fn block(&mut self) -> Stmt {
        let mut declared = Vec::new();
        let mut init = Vec::new();
        if self.eat("declare") {
            while self.pos < self.toks.len() && !self.at_word("begin") {
                let before = self.pos;
                let end = self.semi();
                if let Some(name) = self.toks[self.pos].name(self.src) {
                    let initialiser = (self.pos + 1..end).find(|&i| {
                        let t = &self.toks[i];
                        t.is_op(self.src, ":=")
                            || t.is_op(self.src, "=")
                            || t.is(self.src, "default")
                    });
                    if let Some(op) = initialiser {
                        init.push(Stmt::Assign {
                            target: name.clone(),
                            expr: op + 1..end,
                        });
                    }
                    declared.push(name);
                }
                self.finish();
                if self.pos == before {
                    self.pos += 1;
                }
            }
        }
        if !self.eat("begin") {
            self.fail("a DECLARE section without BEGIN");
            return Stmt::Other;
        }
        let body = self.list(&["exception", "end"]);
        let mut handlers = Vec::new();
        if self.eat("exception") {
            while self.eat("when") {
                let then = self.find_keyword("then").unwrap_or(self.toks.len());
                let unique_violation = self.toks[self.pos..then].iter().any(|t| {
                    t.is(self.src, "unique_violation")
                        || (t.kind == Kind::Str && t.text(self.src).contains("23505"))
                });
                self.pos = (then + 1).min(self.toks.len());
                let body = self.list(&["when", "end"]);
                handlers.push(Handler {
                    unique_violation,
                    body,
                });
            }
        }
        if !self.eat("end") {
            self.fail("a block without END");
        }
        self.finish();
        Stmt::Block {
            declared,
            init,
            body,
            handlers,
        }
    }

    fn if_statement(&mut self) -> Stmt {
        self.pos += 1;
        let mut branches = Vec::new();
        let mut otherwise = None;
        loop {
            let Some(then) = self.find_keyword("then") else {
                self.fail("IF without THEN");
                break;
            };
            let cond = self.pos..then;
            self.pos = then + 1;
            let body = self.list(&["elsif", "elseif", "else", "end"]);
            branches.push((cond, body));
            if self.eat("elsif") || self.eat("elseif") {
                continue;
            }
            if self.eat("else") {
                otherwise = Some(self.list(&["end"]));
            }
            break;
        }
        if !self.eat("end") {
            self.fail("IF without END IF");
        }
        self.finish();
        Stmt::If {
            branches,
            otherwise,
        }
    }

    /// `CASE [expr] WHEN … THEN … [ELSE …] END CASE`: an `IF` chain whose
    /// conditions are the `WHEN` values (with the selector, if any, in front).
    fn case_statement(&mut self) -> Stmt {
        self.pos += 1;
        let selector = self.pos..self.find_keyword("when").unwrap_or(self.pos);
        self.pos = selector.end;
        let mut branches = Vec::new();
        let mut otherwise = None;
        while self.eat("when") {
            let Some(then) = self.find_keyword("then") else {
                self.fail("CASE WHEN without THEN");
                break;
            };
            let cond = if selector.is_empty() {
                self.pos..then
            } else {
                selector.start..then
            };
            self.pos = then + 1;
            let body = self.list(&["when", "else", "end"]);
            branches.push((cond, body));
        }
        if self.eat("else") {
            otherwise = Some(self.list(&["end"]));
        }
        if !self.eat("end") {
            self.fail("CASE without END CASE");
        }
        self.finish();
        Stmt::If {
            branches,
            otherwise,
        }
    }

    fn loop_statement(&mut self) -> Stmt {
        let head = self.pos;
        let Some(loop_at) = (if self.at_word("loop") {
            Some(self.pos)
        } else {
            self.find_keyword("loop")
        }) else {
            self.fail("a loop without LOOP");
            return Stmt::Other;
        };
        let kind = if self.word_at(head, "while") {
            LoopKind::While(head + 1..loop_at)
        } else if self.word_at(head, "for") || self.word_at(head, "foreach") {
            let in_at = (head + 1..loop_at).find(|&i| self.word_at(i, "in"));
            let vars: Vec<String> = (head + 1..in_at.unwrap_or(loop_at))
                .filter_map(|i| self.toks[i].name(self.src))
                .collect();
            match in_at {
                Some(i)
                    if self.word_at(i + 1, "select")
                        || self.word_at(i + 1, "with")
                        || self.word_at(i + 1, "values")
                        || self.toks.get(i + 1).is_some_and(|t| t.kind == Kind::LParen) =>
                {
                    LoopKind::ForQuery {
                        vars,
                        query: i + 1..loop_at,
                    }
                }
                _ => LoopKind::ForOther { vars },
            }
        } else {
            LoopKind::Plain
        };
        self.pos = loop_at + 1;
        let body = self.list(&["end"]);
        if !self.eat("end") {
            self.fail("LOOP without END LOOP");
        }
        self.finish();
        Stmt::Loop { kind, body }
    }
}

/// Whether running `stmts` always leaves the statement list: it ends in `RETURN`,
/// `RAISE EXCEPTION`, `EXIT` or `CONTINUE` (unconditionally), or in an `IF` whose
/// every branch does.
pub fn always_leaves(stmts: &[Stmt]) -> bool {
    match stmts.last() {
        Some(Stmt::Return { leaves, .. }) => *leaves,
        Some(Stmt::Raise { exception, .. }) => *exception,
        Some(Stmt::Exit { when, .. }) => when.is_none(),
        Some(Stmt::If {
            branches,
            otherwise: Some(otherwise),
        }) => branches.iter().all(|(_, b)| always_leaves(b)) && always_leaves(otherwise),
        Some(Stmt::Block { body, .. }) => always_leaves(body),
        _ => false,
    }
}
