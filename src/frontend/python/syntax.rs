//! Python syntax helpers for the lowering and the clients: call chains
//! (`session.execute(select(M).where(…)).scalar_one_or_none()` as a root and its
//! segments), arguments, string literals with their interpolations as placeholders.

use crate::schema::py::{children, text};
use tree_sitter::Node;

/// One `.name`, `(…)` or `.name(…)` step of a chain.
#[derive(Clone, Copy, Debug)]
pub struct Segment<'t> {
    /// The attribute name; empty for a call of the root itself (`select(M)`).
    pub name: &'t str,
    pub name_node: Option<Node<'t>>,
    /// The argument list, when the step is a call.
    pub args: Option<Node<'t>>,
    /// The expression that ends with this step.
    pub node: Node<'t>,
}

impl Segment<'_> {
    pub fn is_call(&self) -> bool {
        self.args.is_some()
    }
}

#[derive(Clone, Debug)]
pub struct Chain<'t> {
    pub root: Node<'t>,
    pub segments: Vec<Segment<'t>>,
}

impl<'t> Chain<'t> {
    pub fn of(node: Node<'t>, src: &'t str) -> Chain<'t> {
        let mut segments = Vec::new();
        let mut current = node;
        // Bounded by the tree's depth, which the lowering bounds.
        loop {
            match current.kind() {
                "call" => {
                    let (Some(function), args) = (
                        current.child_by_field_name("function"),
                        current.child_by_field_name("arguments"),
                    ) else {
                        break;
                    };
                    if function.kind() == "attribute" {
                        let attr = function.child_by_field_name("attribute");
                        segments.push(Segment {
                            name: attr.map_or("", |a| text(a, src)),
                            name_node: attr,
                            args,
                            node: current,
                        });
                        match function.child_by_field_name("object") {
                            Some(object) => current = object,
                            None => break,
                        }
                    } else {
                        segments.push(Segment {
                            name: "",
                            name_node: None,
                            args,
                            node: current,
                        });
                        current = function;
                        break;
                    }
                }
                "attribute" => {
                    let attr = current.child_by_field_name("attribute");
                    segments.push(Segment {
                        name: attr.map_or("", |a| text(a, src)),
                        name_node: attr,
                        args: None,
                        node: current,
                    });
                    match current.child_by_field_name("object") {
                        Some(object) => current = object,
                        None => break,
                    }
                }
                "parenthesized_expression" if current.named_child_count() == 1 => {
                    match current.named_child(0) {
                        Some(inner) if matches!(inner.kind(), "call" | "attribute") => {
                            current = inner
                        }
                        _ => break,
                    }
                }
                _ => break,
            }
        }
        segments.reverse();
        Chain {
            root: current,
            segments,
        }
    }

    /// The code before segment `index`: the receiver of that step.
    pub fn receiver(&self, index: usize) -> Node<'t> {
        if index == 0 {
            self.root
        } else {
            self.segments[index - 1].node
        }
    }

    pub fn receiver_text(&self, index: usize, src: &'t str) -> String {
        compact(text(self.receiver(index), src))
    }

    pub fn position(&self, name: &str) -> Option<usize> {
        self.segments.iter().position(|s| s.name == name)
    }

    pub fn has(&self, name: &str) -> bool {
        self.position(name).is_some()
    }

    pub fn last(&self) -> Option<&Segment<'t>> {
        self.segments.last()
    }

    /// The root's text when it is a plain name (`select`, `session`, `self`).
    pub fn root_name(&self, src: &'t str) -> Option<&'t str> {
        (self.root.kind() == "identifier").then(|| text(self.root, src))
    }
}

/// Code with its whitespace runs (line breaks included) made single spaces.
pub fn compact(code: &str) -> String {
    code.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The positional arguments of an argument list.
pub fn positional(args: Node) -> Vec<Node> {
    children(args)
        .into_iter()
        .filter(|a| {
            !matches!(
                a.kind(),
                "keyword_argument" | "list_splat" | "dictionary_splat"
            )
        })
        .collect()
}

/// The keyword arguments of an argument list: `(name, value)`.
pub fn keywords<'t>(args: Node<'t>, src: &'t str) -> Vec<(&'t str, Node<'t>)> {
    children(args)
        .into_iter()
        .filter(|a| a.kind() == "keyword_argument")
        .filter_map(|a| {
            Some((
                text(a.child_by_field_name("name")?, src),
                a.child_by_field_name("value")?,
            ))
        })
        .collect()
}

pub fn keyword<'t>(args: Node<'t>, src: &'t str, name: &str) -> Option<Node<'t>> {
    keywords(args, src)
        .into_iter()
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// `{"col": value, …}`: the string keys and their values.
pub fn dict_pairs<'t>(node: Node<'t>, src: &'t str) -> Vec<(String, Node<'t>)> {
    if node.kind() != "dictionary" {
        return Vec::new();
    }
    children(node)
        .into_iter()
        .filter(|p| p.kind() == "pair")
        .filter_map(|p| {
            let key = p.child_by_field_name("key")?;
            let value = p.child_by_field_name("value")?;
            let column = crate::schema::py::string_value(key, src)
                .or_else(|| (key.kind() == "attribute").then(|| last_name(text(key, src))))?;
            Some((column, value))
        })
        .collect()
}

/// `a.b.c` → `c`.
pub fn last_name(code: &str) -> String {
    code.rsplit('.').next().unwrap_or(code).trim().to_string()
}

/// The SQL of a string literal, with each `{…}` of an f-string (and each
/// `:name` bind parameter) made a `$n` placeholder; the nodes of the f-string's
/// substitutions and the names of the bind parameters, in placeholder order.
#[derive(Clone, Debug)]
pub struct SqlText<'t> {
    pub sql: String,
    /// For each placeholder, the interpolated expression or the bind name.
    pub params: Vec<SqlParam<'t>>,
}

#[derive(Clone, Debug)]
pub enum SqlParam<'t> {
    Expr(Node<'t>),
    Bind(String),
}

pub fn sql_text<'t>(node: Node<'t>, src: &'t str) -> Option<SqlText<'t>> {
    let mut out = SqlText {
        sql: String::new(),
        params: Vec::new(),
    };
    collect_string(node, src, &mut out, 0)?;
    out.sql = binds_to_placeholders(&out.sql, &mut out.params);
    Some(out)
}

fn collect_string<'t>(
    node: Node<'t>,
    src: &'t str,
    out: &mut SqlText<'t>,
    depth: u32,
) -> Option<()> {
    if depth > 32 {
        return None;
    }
    match node.kind() {
        "string" => {
            let kids = children(node);
            let start = kids.iter().find(|k| k.kind() == "string_start")?;
            let end = kids.iter().rev().find(|k| k.kind() == "string_end")?;
            let mut at = start.end_byte();
            for kid in kids.iter().filter(|k| k.kind() == "interpolation") {
                out.sql.push_str(src.get(at..kid.start_byte())?);
                out.params.push(SqlParam::Expr(
                    kid.child_by_field_name("expression")
                        .or_else(|| kid.named_child(0))
                        .unwrap_or(*kid),
                ));
                out.sql.push_str(&format!("${}", out.params.len()));
                at = kid.end_byte();
            }
            out.sql.push_str(src.get(at..end.start_byte())?);
            Some(())
        }
        "concatenated_string" => {
            for part in children(node) {
                collect_string(part, src, out, depth + 1)?;
            }
            Some(())
        }
        "parenthesized_expression" => collect_string(node.named_child(0)?, src, out, depth + 1),
        _ => None,
    }
}

/// `:name` bind parameters (SQLAlchemy `text`) become `$n`; `::type` casts stay.
fn binds_to_placeholders(sql: &str, params: &mut Vec<SqlParam<'_>>) -> String {
    let bytes = sql.as_bytes();
    let mut out = String::with_capacity(sql.len());
    let mut i = 0;
    let mut quoted = false;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'\'' {
            quoted = !quoted;
        }
        let starts_bind = !quoted
            && c == b':'
            && bytes
                .get(i + 1)
                .is_some_and(|n| n.is_ascii_alphabetic() || *n == b'_')
            && (i == 0 || bytes[i - 1] != b':');
        if starts_bind {
            let end = (i + 1..bytes.len())
                .find(|&j| !(bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_'))
                .unwrap_or(bytes.len());
            params.push(SqlParam::Bind(sql[i + 1..end].to_string()));
            out.push_str(&format!("${}", params.len()));
            i = end;
            continue;
        }
        let ch = sql[i..].chars().next().unwrap_or(' ');
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}
