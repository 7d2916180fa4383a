//! The statements of one block around given spans, for fixes that wrap or move
//! them (a transaction around a race's writes, a child delete moved up): which
//! statements, whether control leaves through them, and what they declare that
//! later code reads.

use super::Dialect;
use crate::frontend::tree_blocks::BlockKinds;
use crate::ir::remedy::{NoRun, StatementRun};
use crate::ir::Span;
use tree_sitter::Node;

const BLOCKS: BlockKinds = BlockKinds {
    functions: &[
        "arrow_function",
        "function_expression",
        "function_declaration",
        "generator_function",
        "generator_function_declaration",
        "method_definition",
        "class_declaration",
        "class",
    ],
    blocks: &["statement_block", "program"],
    leaving: &[
        "return_statement",
        "break_statement",
        "continue_statement",
        "yield_expression",
    ],
};

/// The run of statements of one block from the one holding the first span to the
/// one holding the last.
pub fn run(src: &str, dialect: Dialect, spans: &[Span]) -> Result<StatementRun, NoRun> {
    let tree = super::parse_tree(src, dialect).ok_or(NoRun::NotOneBlock)?;
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
    let siblings: Vec<Node> = parent.named_children(&mut cursor).collect();
    let run: Vec<Node> = siblings
        .iter()
        .copied()
        .filter(|s| s.start_byte() >= first && s.end_byte() <= last)
        .collect();
    let after: Vec<Node> = siblings
        .iter()
        .copied()
        .filter(|s| s.start_byte() >= last)
        .collect();
    if run.iter().any(|s| s.has_error() || BLOCKS.leaves(*s)) {
        return Err(if run.iter().any(Node::has_error) {
            NoRun::NotOneBlock
        } else {
            NoRun::ControlFlow
        });
    }
    let line_start = |at: usize| src[..at].rfind('\n').map_or(0, |i| i + 1);
    let start = line_start(first);
    if !src[start..first].trim().is_empty() {
        return Err(NoRun::NotOneBlock);
    }
    let mut declared = Vec::new();
    let mut simple = Vec::new();
    let mut declares = Vec::new();
    for s in &run {
        let from = declared.len();
        if !matches!(s.kind(), "lexical_declaration" | "variable_declaration") {
            declares.push(Vec::new());
            continue;
        }
        let mut c = s.walk();
        let declarators: Vec<Node> = s
            .named_children(&mut c)
            .filter(|d| d.kind() == "variable_declarator")
            .collect();
        for d in &declarators {
            let Some(name) = d.child_by_field_name("name") else {
                continue;
            };
            if name.kind() == "identifier" && declarators.len() == 1 {
                simple.push(text(src, name).to_string());
            }
            collect_names(src, name, &mut declared);
        }
        declares.push(declared[from..].to_vec());
    }
    let mut used_after: Vec<String> = Vec::new();
    for s in &after {
        uses(src, *s, &declared, &mut used_after);
    }
    simple.retain(|n| used_after.contains(n));
    Ok(StatementRun {
        span: Span::new(
            start,
            crate::ir::remedy::past_trailing_comment(src, last, "//"),
        ),
        statements: run
            .iter()
            .map(|s| Span::new(line_start(s.start_byte()), s.end_byte()))
            .collect(),
        declares,
        indent: src[start..first].to_string(),
        unit: crate::ir::remedy::indent_unit(src),
        used_after,
        simple,
    })
}

fn collect_names(src: &str, pattern: Node, out: &mut Vec<String>) {
    if matches!(
        pattern.kind(),
        "identifier" | "shorthand_property_identifier_pattern"
    ) {
        out.push(text(src, pattern).to_string());
        return;
    }
    let mut c = pattern.walk();
    let children: Vec<Node> = pattern.named_children(&mut c).collect();
    for child in children {
        // `{ a: b }` binds `b`, not the key `a`.
        if pattern.kind() == "pair_pattern" && Some(child) == pattern.child_by_field_name("key") {
            continue;
        }
        collect_names(src, child, out);
    }
}

fn uses(src: &str, node: Node, names: &[String], out: &mut Vec<String>) {
    if matches!(node.kind(), "identifier" | "shorthand_property_identifier") {
        let name = text(src, node);
        if names.iter().any(|n| n == name) && !out.iter().any(|o| o == name) {
            out.push(name.to_string());
        }
        return;
    }
    let mut c = node.walk();
    let children: Vec<Node> = node.named_children(&mut c).collect();
    for child in children {
        uses(src, child, names, out);
    }
}

fn text<'s>(src: &'s str, node: Node) -> &'s str {
    src.get(node.byte_range()).unwrap_or_default()
}
