//! The TypeScript and JavaScript frontend: tree-sitter parsing and lowering.
//!
//! Parsers are costly to create and cheap to reuse, so each thread keeps one per
//! grammar. Syntax errors do not stop lowering: tree-sitter recovers, the effects
//! outside the broken part are still found, and the first error is reported.

pub mod clients;
mod lower;
mod modules;
mod statements;
pub mod syntax;
pub use lower::may_be_project_module;
pub use statements::run as statement_run;

use crate::ir::FileModel;
use std::cell::RefCell;
use tree_sitter::{Node, Parser, Tree};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    TypeScript,
    /// `.tsx` and `.jsx`: JSX is allowed, `<T>x` casts are not.
    Tsx,
}

/// A problem found while parsing, at a byte offset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxProblem {
    pub offset: usize,
    pub message: String,
}

pub struct Parsed {
    pub model: FileModel,
    pub problems: Vec<SyntaxProblem>,
}

thread_local! {
    static PARSERS: RefCell<(Option<Parser>, Option<Parser>)> = const { RefCell::new((None, None)) };
}

/// The syntax tree, from this thread's parser for the dialect; `None` when the
/// parse ran out of budget.
pub fn parse_tree(src: &str, dialect: Dialect) -> Option<Tree> {
    PARSERS.with(|cell| {
        let mut parsers = cell.borrow_mut();
        let slot = match dialect {
            Dialect::TypeScript => &mut parsers.0,
            Dialect::Tsx => &mut parsers.1,
        };
        if slot.is_none() {
            let mut parser = Parser::new();
            let language = match dialect {
                Dialect::TypeScript => tree_sitter_typescript::LANGUAGE_TYPESCRIPT,
                Dialect::Tsx => tree_sitter_typescript::LANGUAGE_TSX,
            };
            parser.set_language(&language.into()).ok()?;
            *slot = Some(parser);
        }
        super::parse_bounded(slot.as_mut()?, src)
    })
}

pub fn parse(src: &str, dialect: Dialect, hints: &clients::FileHints) -> Parsed {
    let Some(tree) = parse_tree(src, dialect) else {
        return Parsed {
            model: FileModel::default(),
            problems: vec![SyntaxProblem {
                offset: 0,
                message: "the parser gave up on this file (it is too malformed to parse in \
                          bounded time); nothing in it was checked"
                    .into(),
            }],
        };
    };
    let root = tree.root_node();
    let lowered = lower::lower(root, src, hints);
    let mut problems = Vec::new();
    if root.has_error() {
        if let Some((node, region)) = first_error_hiding_effects(root, src) {
            let message = if node.is_missing() {
                format!(
                    "syntax error: expected `{}`; database calls in this part may be missed",
                    node.kind()
                )
            } else {
                "syntax error: unexpected code; database calls in this part may be missed"
                    .to_string()
            };
            let _ = region;
            problems.push(SyntaxProblem {
                offset: node.start_byte(),
                message,
            });
        }
    }
    if let Some(offset) = lowered.too_deep {
        problems.push(SyntaxProblem {
            offset,
            message: "nesting too deep: this part of the file was skipped".into(),
        });
    }
    Parsed {
        model: lowered.model,
        problems,
    }
}

/// Every syntax error in the file, database vocabulary or not: error and
/// missing nodes. `--fix` writes a file only when this does not grow.
pub fn syntax_errors(src: &str, dialect: Dialect) -> usize {
    let Some(tree) = parse_tree(src, dialect) else {
        return usize::MAX;
    };
    let mut count = 0;
    let mut cursor = tree.root_node().walk();
    loop {
        let node = cursor.node();
        if node.is_error() || node.is_missing() {
            count += 1;
        }
        if node.has_error() && cursor.goto_first_child() {
            continue;
        }
        loop {
            if cursor.goto_next_sibling() {
                break;
            }
            if !cursor.goto_parent() {
                return count;
            }
        }
    }
}

/// The first syntax error whose broken region holds database vocabulary. The
/// grammar lags the language (`in`/`out` variance annotations, for one), so
/// valid files can carry error nodes; only one that may hide a database call is
/// worth a line, since that is where the analysis may be incomplete.
fn first_error_hiding_effects<'t>(
    root: Node<'t>,
    src: &str,
) -> Option<(Node<'t>, std::ops::Range<usize>)> {
    let mut cursor = root.walk();
    loop {
        let node = cursor.node();
        let known_gap =
            node.is_missing() && node.parent().is_some_and(syntax::is_misparsed_generic_tag);
        if (node.is_error() || node.is_missing()) && !known_gap {
            // A missing token has no width: judge the construct it breaks.
            let region = if node.is_missing() {
                node.parent().unwrap_or(node).byte_range()
            } else {
                node.byte_range()
            };
            let text = src.get(region.clone()).unwrap_or("");
            if crate::frontend::Prefilter::standard().admits(
                crate::discover::Language::TypeScript(Dialect::TypeScript),
                text,
            ) {
                return Some((node, region));
            }
        } else if node.has_error() && cursor.goto_first_child() {
            continue;
        }
        loop {
            if cursor.goto_next_sibling() {
                break;
            }
            if !cursor.goto_parent() {
                return None;
            }
        }
    }
}
