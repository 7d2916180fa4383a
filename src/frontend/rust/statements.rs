//! The statements of one block around given spans, for fixes that wrap or move
//! them (a transaction around a race's writes, a child delete moved up): which
//! statements, whether control leaves through them, and what their `let`s bind
//! that later code of the block reads.

use crate::ir::remedy::{NoRun, StatementRun};
use crate::ir::Span;
use syn::spanned::Spanned;
use syn::visit::Visit;

pub fn run(src: &str, spans: &[Span]) -> Result<StatementRun, NoRun> {
    let base = if src.starts_with('\u{feff}') { 3 } else { 0 };
    if src[base..].starts_with("#!") {
        return Err(NoRun::NotOneBlock);
    }
    let file: syn::File = syn::parse_str(&src[base..]).map_err(|_| NoRun::NotOneBlock)?;
    let range = |s: proc_macro2::Span| {
        let r = s.byte_range();
        (r.start + base, r.end + base)
    };
    let mut finder = Finder {
        spans,
        range: &range,
        best: None,
    };
    finder.visit_file(&file);
    let (block_end, stmts) = finder.best.ok_or(NoRun::NotOneBlock)?;
    let first = stmts.first().map_or(0, |s| s.0);
    let last = stmts.last().map_or(0, |s| s.1);
    if stmts.iter().any(|s| s.2) {
        return Err(NoRun::ControlFlow);
    }
    let line_start = |at: usize| src[..at].rfind('\n').map_or(0, |i| i + 1);
    let start = line_start(first);
    if !src[start..first].trim().is_empty() {
        return Err(NoRun::NotOneBlock);
    }
    let later = src.get(last..block_end).unwrap_or_default();
    let mut used_after = Vec::new();
    let mut simple = Vec::new();
    for (_, _, _, names, is_simple) in &stmts {
        for name in names {
            if crate::ir::remedy::mentions_word(later, name) && !used_after.contains(name) {
                used_after.push(name.clone());
                if *is_simple {
                    simple.push(name.clone());
                }
            }
        }
    }
    Ok(StatementRun {
        span: Span::new(
            start,
            crate::ir::remedy::past_trailing_comment(src, last, "//"),
        ),
        statements: stmts
            .iter()
            .map(|s| Span::new(line_start(s.0), s.1))
            .collect(),
        declares: stmts.iter().map(|s| s.3.clone()).collect(),
        indent: src[start..first].to_string(),
        unit: crate::ir::remedy::indent_unit(src),
        used_after,
        simple,
    })
}

/// A statement: its byte range, whether control leaves through it, the names its
/// `let` binds, and whether that `let` binds one plain name.
type Stmt = (usize, usize, bool, Vec<String>, bool);

struct Finder<'a> {
    spans: &'a [Span],
    range: &'a dyn Fn(proc_macro2::Span) -> (usize, usize),
    /// The innermost block holding every span: its end and the statements of the run.
    best: Option<(usize, Vec<Stmt>)>,
}

impl<'ast> Visit<'ast> for Finder<'_> {
    fn visit_block(&mut self, block: &'ast syn::Block) {
        let ranges: Vec<(usize, usize)> =
            block.stmts.iter().map(|s| (self.range)(s.span())).collect();
        let holder = |at: u32| {
            ranges
                .iter()
                .position(|(s, e)| *s <= at as usize && (at as usize) < *e)
        };
        let held: Option<Vec<usize>> = self.spans.iter().map(|s| holder(s.start)).collect();
        if let Some(held) = held {
            let (from, to) = (
                held.iter().copied().min().unwrap_or(0),
                held.iter().copied().max().unwrap_or(0),
            );
            let stmts = (from..=to)
                .map(|i| {
                    let (names, simple) = bindings(&block.stmts[i]);
                    (
                        ranges[i].0,
                        ranges[i].1,
                        leaves(&block.stmts[i]),
                        names,
                        simple,
                    )
                })
                .collect();
            let end = (self.range)(block.brace_token.span.close()).0;
            self.best = Some((end, stmts));
        }
        syn::visit::visit_block(self, block);
    }
}

fn bindings(stmt: &syn::Stmt) -> (Vec<String>, bool) {
    let syn::Stmt::Local(local) = stmt else {
        return (Vec::new(), false);
    };
    struct Names(Vec<String>);
    impl<'ast> Visit<'ast> for Names {
        fn visit_pat_ident(&mut self, p: &'ast syn::PatIdent) {
            self.0.push(p.ident.to_string());
            syn::visit::visit_pat_ident(self, p);
        }
    }
    let mut names = Names(Vec::new());
    names.visit_pat(&local.pat);
    let simple = match &local.pat {
        syn::Pat::Ident(p) => p.subpat.is_none() && p.by_ref.is_none(),
        syn::Pat::Type(t) => matches!(&*t.pat, syn::Pat::Ident(_)),
        _ => false,
    };
    (names.0, simple)
}

/// `return`, `break`, `continue` or `yield`, outside closures, async blocks and items.
fn leaves(stmt: &syn::Stmt) -> bool {
    struct Leaves(bool);
    impl<'ast> Visit<'ast> for Leaves {
        fn visit_expr_return(&mut self, _: &'ast syn::ExprReturn) {
            self.0 = true;
        }
        fn visit_expr_break(&mut self, _: &'ast syn::ExprBreak) {
            self.0 = true;
        }
        fn visit_expr_continue(&mut self, _: &'ast syn::ExprContinue) {
            self.0 = true;
        }
        fn visit_expr_yield(&mut self, _: &'ast syn::ExprYield) {
            self.0 = true;
        }
        fn visit_expr_closure(&mut self, _: &'ast syn::ExprClosure) {}
        fn visit_expr_async(&mut self, _: &'ast syn::ExprAsync) {}
        fn visit_item(&mut self, _: &'ast syn::Item) {}
    }
    let mut v = Leaves(false);
    v.visit_stmt(stmt);
    v.0
}
