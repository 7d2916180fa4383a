//! The tree-sitter-python glue the Python schema sources (SQLAlchemy, Django,
//! Alembic, Django migrations) share: parsing under a budget, node text, literals,
//! calls with their positional and keyword arguments.

use std::cell::RefCell;
use tree_sitter::{Node, Parser, Tree};

thread_local! {
    static PARSER: RefCell<Option<Parser>> = const { RefCell::new(None) };
}

/// The syntax tree of a Python file; `None` when the parse ran out of budget.
pub fn parse(src: &str) -> Option<Tree> {
    PARSER.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            let mut parser = Parser::new();
            parser
                .set_language(&tree_sitter_python::LANGUAGE.into())
                .ok()?;
            *slot = Some(parser);
        }
        crate::frontend::parse_bounded(slot.as_mut()?, src)
    })
}

/// `path:line` of a node, the form every `source` takes.
pub fn source(path: &str, node: Node) -> String {
    format!("{path}:{}", node.start_position().row + 1)
}

pub fn text<'a>(node: Node, src: &'a str) -> &'a str {
    src.get(node.byte_range()).unwrap_or("")
}

/// The named children of a node, comments left out.
pub fn children(node: Node) -> Vec<Node> {
    let mut cursor = node.walk();
    node.named_children(&mut cursor)
        .filter(|n| n.kind() != "comment")
        .collect()
}

/// The value of a string literal (or of adjacent literals), `None` for f-strings
/// with substitutions and for anything that is not a string.
pub fn string_value(node: Node, src: &str) -> Option<String> {
    match node.kind() {
        "string" => {
            let kids = children(node);
            if kids.iter().any(|k| k.kind() == "interpolation") {
                return None;
            }
            let start = kids.iter().find(|k| k.kind() == "string_start")?;
            let end = kids.iter().rev().find(|k| k.kind() == "string_end")?;
            src.get(start.end_byte()..end.start_byte())
                .map(str::to_string)
        }
        "concatenated_string" => children(node)
            .into_iter()
            .map(|s| string_value(s, src))
            .collect(),
        "parenthesized_expression" => string_value(node.named_child(0)?, src),
        _ => None,
    }
}

/// The strings of a list, tuple or set literal (`["a", "b"]`, `("a",)`); `None`
/// when it is not such a literal or holds anything but strings.
pub fn string_list(node: Node, src: &str) -> Option<Vec<String>> {
    match node.kind() {
        "list" | "tuple" | "set" => children(node)
            .into_iter()
            .map(|n| string_value(n, src))
            .collect(),
        "parenthesized_expression" => {
            let inner = node.named_child(0)?;
            string_value(inner, src).map(|s| vec![s])
        }
        _ => None,
    }
}

/// The items of a list or tuple literal, else the node itself.
pub fn items(node: Node) -> Vec<Node> {
    match node.kind() {
        "list" | "tuple" | "set" => children(node),
        "parenthesized_expression" => node.named_child(0).into_iter().collect(),
        _ => vec![node],
    }
}

/// A call: the dotted name it calls (`sa.Column`), its positional arguments and
/// its keyword arguments (`**kwargs` left out).
#[derive(Debug)]
pub struct Call<'t> {
    pub name: String,
    pub args: Vec<Node<'t>>,
    pub kwargs: Vec<(String, Node<'t>)>,
}

impl<'t> Call<'t> {
    /// The last segment of the called name: `Column` for `sa.Column`.
    pub fn last(&self) -> &str {
        self.name.rsplit('.').next().unwrap_or(&self.name)
    }

    pub fn kwarg(&self, key: &str) -> Option<Node<'t>> {
        self.kwargs.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
    }

    /// Whether `key=True` is passed.
    pub fn flag(&self, key: &str, src: &str) -> bool {
        self.kwarg(key).is_some_and(|v| text(v, src) == "True")
    }

    /// The string passed as `key=`.
    pub fn kwarg_str(&self, key: &str, src: &str) -> Option<String> {
        self.kwarg(key).and_then(|v| string_value(v, src))
    }
}

/// `node` read as a call, through parentheses; `None` for anything else.
pub fn call<'t>(node: Node<'t>, src: &str) -> Option<Call<'t>> {
    let node = match node.kind() {
        "parenthesized_expression" => node.named_child(0)?,
        _ => node,
    };
    if node.kind() != "call" {
        return None;
    }
    let function = node.child_by_field_name("function")?;
    if !matches!(function.kind(), "identifier" | "attribute") {
        return None;
    }
    let mut call = Call {
        name: text(function, src).split_whitespace().collect(),
        args: Vec::new(),
        kwargs: Vec::new(),
    };
    let Some(arguments) = node.child_by_field_name("arguments") else {
        return Some(call);
    };
    for arg in children(arguments) {
        match arg.kind() {
            "keyword_argument" => {
                if let (Some(k), Some(v)) = (
                    arg.child_by_field_name("name"),
                    arg.child_by_field_name("value"),
                ) {
                    call.kwargs.push((text(k, src).to_string(), v));
                }
            }
            "list_splat" | "dictionary_splat" => {}
            _ => call.args.push(arg),
        }
    }
    Some(call)
}

/// The last segment of a dotted name or attribute: `CASCADE` for `models.CASCADE`.
pub fn last_segment<'a>(node: Node, src: &'a str) -> &'a str {
    let t = text(node, src);
    t.rsplit('.').next().unwrap_or(t).trim()
}

pub use super::ts::descendants;

/// A class definition's name, its base expressions and its keyword arguments
/// (`table=True` for SQLModel).
pub struct Class<'t> {
    pub node: Node<'t>,
    pub name: String,
    pub bases: Vec<Node<'t>>,
    pub keywords: Vec<(String, Node<'t>)>,
    pub body: Vec<Node<'t>>,
}

pub fn class<'t>(node: Node<'t>, src: &str) -> Option<Class<'t>> {
    if node.kind() != "class_definition" {
        return None;
    }
    let name = text(node.child_by_field_name("name")?, src).to_string();
    let mut bases = Vec::new();
    let mut keywords = Vec::new();
    if let Some(list) = node.child_by_field_name("superclasses") {
        for b in children(list) {
            match b.kind() {
                "keyword_argument" => {
                    if let (Some(k), Some(v)) = (
                        b.child_by_field_name("name"),
                        b.child_by_field_name("value"),
                    ) {
                        keywords.push((text(k, src).to_string(), v));
                    }
                }
                "list_splat" | "dictionary_splat" => {}
                _ => bases.push(b),
            }
        }
    }
    let body = node
        .child_by_field_name("body")
        .map(children)
        .unwrap_or_default();
    Some(Class {
        node,
        name,
        bases,
        keywords,
        body,
    })
}

/// `name = value` (or `name: T = value`) as a statement of a class body.
pub fn assignment<'t>(stmt: Node<'t>, src: &'t str) -> Option<(&'t str, Node<'t>)> {
    let inner = match stmt.kind() {
        "expression_statement" => stmt.named_child(0)?,
        _ => stmt,
    };
    if inner.kind() != "assignment" {
        return None;
    }
    let left = inner.child_by_field_name("left")?;
    if left.kind() != "identifier" {
        return None;
    }
    Some((text(left, src), inner.child_by_field_name("right")?))
}

/// A function definition, through its decorators: the function node and the
/// decorators' texts.
pub fn function<'t>(stmt: Node<'t>, src: &str) -> Option<(Node<'t>, Vec<String>)> {
    match stmt.kind() {
        "function_definition" => Some((stmt, Vec::new())),
        "decorated_definition" => {
            let def = stmt.child_by_field_name("definition")?;
            if def.kind() != "function_definition" {
                return None;
            }
            let decorators = children(stmt)
                .into_iter()
                .filter(|d| d.kind() == "decorator")
                .map(|d| text(d, src).trim_start_matches('@').trim().to_string())
                .collect();
            Some((def, decorators))
        }
        _ => None,
    }
}

/// The expression a function returns in a top-level `return` of its body.
pub fn returned(function: Node) -> Option<Node> {
    let body = function.child_by_field_name("body")?;
    children(body)
        .into_iter()
        .find(|s| s.kind() == "return_statement")
        .and_then(|r| r.named_child(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_and_calls() {
        let src = "x = sa.Column('a' \"b\", sa.Integer(), primary_key=True, *rest)\n";
        let tree = parse(src).unwrap();
        let call_node = descendants(tree.root_node())
            .into_iter()
            .find(|n| n.kind() == "call")
            .unwrap();
        let c = call(call_node, src).unwrap();
        assert_eq!(c.name, "sa.Column");
        assert_eq!(c.last(), "Column");
        assert_eq!(c.args.len(), 2);
        assert_eq!(string_value(c.args[0], src).as_deref(), Some("ab"));
        assert!(c.flag("primary_key", src));
        let f = "y = f'a{b}'\n";
        let tree = parse(f).unwrap();
        let s = descendants(tree.root_node())
            .into_iter()
            .find(|n| n.kind() == "string")
            .unwrap();
        assert_eq!(string_value(s, f), None);
    }
}
