//! The Python frontend: tree-sitter-python parsing (the schema sources' parser,
//! under the same operation budget) and lowering into the IR. `lower.rs` holds
//! the data flow; `clients/` everything SQLAlchemy, Django and the runtime spell.

pub mod clients;
mod lower;
mod names;
mod statements;
pub mod syntax;
pub use statements::run as statement_run;

use crate::ir::FileModel;
use tree_sitter::Node;

pub struct Parsed {
    pub model: FileModel,
    /// Byte offset and message of each problem met.
    pub problems: Vec<(usize, String)>,
}

/// The syntax tree, from this thread's parser; `None` when the parse ran out of
/// budget. The raw-parse baseline of `scripts/bench` times this alone.
pub fn parse_tree(src: &str) -> Option<tree_sitter::Tree> {
    crate::schema::py::parse(src)
}

pub fn parse(src: &str) -> Parsed {
    let Some(tree) = crate::schema::py::parse(src) else {
        return Parsed {
            model: FileModel::default(),
            problems: vec![(
                0,
                "the parser gave up on this file (it is too malformed to parse in bounded \
                 time); nothing in it was checked"
                    .into(),
            )],
        };
    };
    let root = tree.root_node();
    let lowered = lower::lower(root, src, clients::FileHints::of(src));
    let mut problems = Vec::new();
    if root.has_error() {
        if let Some(node) = first_error_hiding_effects(root, src) {
            problems.push((
                node.start_byte(),
                "syntax error: unexpected code; database calls in this part may be missed".into(),
            ));
        }
    }
    if let Some(offset) = lowered.too_deep {
        problems.push((
            offset,
            "nesting too deep: this part of the file was skipped".into(),
        ));
    }
    Parsed {
        model: lowered.model,
        problems,
    }
}

/// Every syntax error in the file: error and missing nodes. `--fix` writes a
/// file only when this does not grow.
pub fn syntax_errors(src: &str) -> usize {
    let Some(tree) = crate::schema::py::parse(src) else {
        return usize::MAX;
    };
    crate::schema::py::descendants(tree.root_node())
        .into_iter()
        .filter(|n| n.is_error() || n.is_missing())
        .count()
}

/// The first syntax error whose broken region holds database vocabulary: only
/// there may the analysis be incomplete.
fn first_error_hiding_effects<'t>(root: Node<'t>, src: &str) -> Option<Node<'t>> {
    crate::schema::py::descendants(root)
        .into_iter()
        .filter(|n| n.is_error() || n.is_missing())
        .find(|node| {
            let region = if node.is_missing() {
                node.parent().unwrap_or(*node).byte_range()
            } else {
                node.byte_range()
            };
            let text = src.get(region).unwrap_or("");
            crate::frontend::Prefilter::standard().admits(crate::discover::Language::Python, text)
        })
}
