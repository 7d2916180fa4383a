//! The statements of one block around given spans, for fixes that wrap or move
//! them: which statements, and whether control leaves through them. A Python
//! block opens no scope, so what they assign stays visible after a `with`.

use crate::frontend::tree_blocks::BlockKinds;
use crate::ir::remedy::{NoRun, StatementRun};
use crate::ir::Span;
use tree_sitter::Node;

const BLOCKS: BlockKinds = BlockKinds {
    functions: &["function_definition", "lambda", "class_definition"],
    blocks: &["block", "module"],
    leaving: &[
        "return_statement",
        "break_statement",
        "continue_statement",
        "yield",
    ],
};

pub fn run(src: &str, spans: &[Span]) -> Result<StatementRun, NoRun> {
    let tree = crate::schema::py::parse(src).ok_or(NoRun::NotOneBlock)?;
    let root = tree.root_node();
    let mut chains = Vec::new();
    for span in spans {
        let leaf = root
            .descendant_for_byte_range(span.start as usize, span.start as usize)
            .ok_or(NoRun::NotOneBlock)?;
        chains.push(BLOCKS.enclosing(leaf));
    }
    // The innermost block every span is in: the first of the first span's blocks
    // that each other span's chain also passes through.
    let (parent, _) = *chains
        .first()
        .and_then(|chain| {
            chain
                .iter()
                .find(|(block, _)| chains.iter().all(|c| c.iter().any(|(b, _)| b == block)))
        })
        .ok_or(NoRun::NotOneBlock)?;
    let statements: Vec<Node> = chains
        .iter()
        .filter_map(|c| c.iter().find(|(b, _)| *b == parent).map(|(_, s)| *s))
        .collect();
    let first = statements.iter().map(Node::start_byte).min().unwrap_or(0);
    let last = statements.iter().map(Node::end_byte).max().unwrap_or(0);
    let mut cursor = parent.walk();
    let run: Vec<Node> = parent
        .named_children(&mut cursor)
        .filter(|s| s.start_byte() >= first && s.end_byte() <= last)
        .collect();
    if run.iter().any(Node::has_error) {
        return Err(NoRun::NotOneBlock);
    }
    if run.iter().any(|s| BLOCKS.leaves(*s)) {
        return Err(NoRun::ControlFlow);
    }
    let line_start = |at: usize| src[..at].rfind('\n').map_or(0, |i| i + 1);
    let start = line_start(first);
    if !src[start..first].trim().is_empty() {
        return Err(NoRun::NotOneBlock);
    }
    Ok(StatementRun {
        span: Span::new(
            start,
            crate::ir::remedy::past_trailing_comment(src, last, "#"),
        ),
        statements: run
            .iter()
            .map(|s| Span::new(line_start(s.start_byte()), s.end_byte()))
            .collect(),
        declares: run.iter().map(|s| assigned(src, *s)).collect(),
        indent: src[start..first].to_string(),
        unit: crate::ir::remedy::indent_unit(src),
        used_after: Vec::new(),
        simple: Vec::new(),
    })
}

/// The names an assignment statement binds (`a = …`, `a, b = …`, `with … as a`).
fn assigned(src: &str, statement: Node) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![statement];
    while let Some(node) = stack.pop() {
        if BLOCKS.functions.contains(&node.kind()) {
            continue;
        }
        let target = match node.kind() {
            "assignment" | "augmented_assignment" => node.child_by_field_name("left"),
            "as_pattern_target" | "for_statement" => Some(node),
            _ => None,
        };
        if let Some(target) = target {
            let target = if node.kind() == "for_statement" {
                node.child_by_field_name("left").unwrap_or(target)
            } else {
                target
            };
            for leaf in crate::schema::py::descendants(target) {
                if leaf.kind() == "identifier" {
                    out.push(src[leaf.byte_range()].to_string());
                }
            }
        }
        let mut c = node.walk();
        stack.extend(node.named_children(&mut c));
    }
    out
}
