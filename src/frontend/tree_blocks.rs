//! The block structure the tree-sitter frontends' fixes need, once for both
//! grammars: the blocks around a node and whether a statement leaves its block.

use tree_sitter::Node;

/// What a grammar calls the nodes a statement run is found by.
pub(crate) struct BlockKinds {
    /// Nodes that start a function (or class) body: the walk stops there.
    pub functions: &'static [&'static str],
    /// Nodes whose children are statements (`statement_block`, `block`).
    pub blocks: &'static [&'static str],
    /// Nodes that leave the block other than by its end: `return`, `break`, …
    pub leaving: &'static [&'static str],
}

impl BlockKinds {
    /// Each block above `node` within its function, innermost first, with the
    /// statement of that block that holds `node`.
    pub fn enclosing<'t>(&self, mut node: Node<'t>) -> Vec<(Node<'t>, Node<'t>)> {
        let mut out = Vec::new();
        while let Some(parent) = node.parent() {
            if self.functions.contains(&parent.kind()) {
                break;
            }
            if self.blocks.contains(&parent.kind()) {
                out.push((parent, node));
            }
            node = parent;
        }
        out
    }

    /// Whether control leaves `node` other than by running to its end or
    /// throwing (not counting nested functions).
    pub fn leaves(&self, node: Node) -> bool {
        if self.leaving.contains(&node.kind()) {
            return true;
        }
        if self.functions.contains(&node.kind()) {
            return false;
        }
        let mut cursor = node.walk();
        let children: Vec<Node> = node.named_children(&mut cursor).collect();
        children.into_iter().any(|c| self.leaves(c))
    }
}
