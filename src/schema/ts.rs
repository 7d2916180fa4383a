//! The little tree-sitter glue the TypeScript schema sources (Drizzle, TypeORM)
//! share: parsing, node text, string literals and call chains.

use crate::frontend::typescript::{parse_tree, Dialect};
use tree_sitter::{Node, Tree};

/// Parses TypeScript (TSX for `.tsx`/`.jsx`, whose grammar differs on `<` casts)
/// with the code frontend's parser and its bounds.
pub fn parse(path: &str, text: &str) -> Option<Tree> {
    let dialect = if path.ends_with(".tsx") || path.ends_with(".jsx") {
        Dialect::Tsx
    } else {
        Dialect::TypeScript
    };
    parse_tree(text, dialect)
}

pub fn text<'a>(node: Node, src: &'a str) -> &'a str {
    src.get(node.byte_range()).unwrap_or("")
}

/// The value of a string literal or a template string without substitutions.
pub fn string_value(node: Node, src: &str) -> Option<String> {
    match node.kind() {
        "string" | "template_string" => {
            let raw = text(node, src);
            if node.kind() == "template_string" && raw.contains("${") {
                return None;
            }
            Some(
                raw.get(1..raw.len().saturating_sub(1))
                    .unwrap_or("")
                    .to_string(),
            )
        }
        _ => None,
    }
}

/// The named children of a node, comments left out.
pub fn children(node: Node) -> Vec<Node> {
    let mut cursor = node.walk();
    node.named_children(&mut cursor)
        .filter(|n| n.kind() != "comment")
        .collect()
}

/// The arguments of a `call_expression`.
pub fn call_args(call: Node) -> Vec<Node> {
    call.child_by_field_name("arguments")
        .map(children)
        .unwrap_or_default()
}

/// One link of a call chain: `.references(…)` is `("references", [args])`.
#[derive(Debug)]
pub struct Link<'t> {
    pub name: String,
    pub args: Vec<Node<'t>>,
}

/// `integer("id").primaryKey().references(() => x.id)` → the links from the root
/// builder outwards: `integer`, `primaryKey`, `references`. None when the
/// expression is not a chain of calls on a plain name.
pub fn call_chain<'t>(node: Node<'t>, src: &str) -> Option<Vec<Link<'t>>> {
    let mut links = Vec::new();
    let mut cur = node;
    loop {
        match cur.kind() {
            "call_expression" => {
                let func = cur.child_by_field_name("function")?;
                let args = call_args(cur);
                match func.kind() {
                    "identifier" => {
                        links.push(Link {
                            name: text(func, src).to_string(),
                            args,
                        });
                        break;
                    }
                    "member_expression" => {
                        let prop = func.child_by_field_name("property")?;
                        links.push(Link {
                            name: text(prop, src).to_string(),
                            args,
                        });
                        let object = func.child_by_field_name("object")?;
                        if object.kind() == "identifier" {
                            // `t.integer("id")`, `mysqlSchema.table(…)`: the object names a namespace.
                            break;
                        }
                        cur = object;
                    }
                    _ => return None,
                }
            }
            "parenthesized_expression"
            | "non_null_expression"
            | "as_expression"
            | "satisfies_expression" => {
                cur = cur.named_child(0)?;
            }
            _ => return None,
        }
    }
    links.reverse();
    Some(links)
}

/// The property name in `t.a`, `table.a`, `users.id`, and the object's name.
pub fn member(node: Node, src: &str) -> Option<(String, String)> {
    if node.kind() != "member_expression" {
        return None;
    }
    let object = node.child_by_field_name("object")?;
    let prop = node.child_by_field_name("property")?;
    Some((text(object, src).to_string(), text(prop, src).to_string()))
}

/// The key of an object `pair` (`name`, `"name"`, `'name'`).
pub fn pair_key(pair: Node, src: &str) -> Option<String> {
    let key = pair.child_by_field_name("key")?;
    string_value(key, src).or_else(|| Some(text(key, src).to_string()))
}

/// The value of `key` in an object literal.
pub fn object_get<'t>(object: Node<'t>, key: &str, src: &str) -> Option<Node<'t>> {
    if object.kind() != "object" {
        return None;
    }
    children(object)
        .into_iter()
        .filter(|p| p.kind() == "pair")
        .find(|p| pair_key(*p, src).as_deref() == Some(key))
        .and_then(|p| p.child_by_field_name("value"))
}

/// Every node below `node` (itself included), depth first.
pub fn descendants(node: Node) -> Vec<Node> {
    let mut out = Vec::new();
    let mut stack = vec![node];
    while let Some(n) = stack.pop() {
        out.push(n);
        let mut cursor = n.walk();
        let kids: Vec<Node> = n.children(&mut cursor).collect();
        stack.extend(kids.into_iter().rev());
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    #[ignore]
    fn dump() {
        let src = std::env::var("TS_DUMP").unwrap_or_default();
        let tree = super::parse("a.ts", &src).unwrap();
        println!("{}", tree.root_node().to_sexp());
    }
}
