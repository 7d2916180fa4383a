//! Small helpers over tree-sitter nodes, and the call chain view clients match on.
//!
//! A call chain such as `ctx.prisma.user.findFirst({ … })` or
//! `db.select().from(users).where(eq(users.id, id))` is flattened into a root
//! expression and a list of segments, so that a client module can recognise its
//! API by shape without walking the tree itself.

use std::num::NonZeroU16;
use std::sync::OnceLock;
use tree_sitter::Node;

/// Children by field name, with the name resolved to the grammar's field id once per
/// run: `child_by_field_name` compares the name with every field of the grammar on
/// each call, which showed in profiles of the lowering.
pub trait FieldExt<'t> {
    fn field(&self, name: &str) -> Option<Node<'t>>;
}

impl<'t> FieldExt<'t> for Node<'t> {
    fn field(&self, name: &str) -> Option<Node<'t>> {
        match field_id(self.language().field_count(), name) {
            Some(id) => self.child_by_field_id(id.get()),
            None => self.child_by_field_name(name),
        }
    }
}

/// The field names the frontend asks for, sorted.
const FIELDS: [&str; 25] = [
    "alias",
    "alternative",
    "arguments",
    "body",
    "condition",
    "consequence",
    "constructor",
    "declaration",
    "finalizer",
    "function",
    "handler",
    "index",
    "key",
    "left",
    "name",
    "object",
    "operator",
    "parameter",
    "parameters",
    "pattern",
    "property",
    "right",
    "source",
    "type_arguments",
    "value",
];

/// One grammar's ids for [`FIELDS`], and its field count, which tells the grammars
/// apart (TSX has the JSX fields on top, so its ids differ).
struct FieldIds {
    field_count: usize,
    ids: [Option<NonZeroU16>; FIELDS.len()],
}

impl FieldIds {
    fn of(language: tree_sitter::Language) -> FieldIds {
        FieldIds {
            field_count: language.field_count(),
            ids: FIELDS.map(|name| language.field_id_for_name(name)),
        }
    }
}

fn field_id(field_count: usize, name: &str) -> Option<NonZeroU16> {
    static GRAMMARS: OnceLock<[FieldIds; 2]> = OnceLock::new();
    let grammars = GRAMMARS.get_or_init(|| {
        [
            FieldIds::of(tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into()),
            FieldIds::of(tree_sitter_typescript::LANGUAGE_TSX.into()),
        ]
    });
    let grammar = grammars.iter().find(|g| g.field_count == field_count)?;
    grammar.ids[FIELDS.binary_search(&name).ok()?]
}

pub fn text<'t>(node: Node, src: &'t str) -> &'t str {
    src.get(node.byte_range()).unwrap_or("")
}

/// The named children. Indexing (`named_child(i)`) costs O(i), which makes a loop
/// over a wide node (a long array, a big module) quadratic, while a cursor costs an
/// allocation: small nodes are indexed, wide ones walked with a cursor.
pub fn named_children<'t>(node: Node<'t>) -> impl Iterator<Item = Node<'t>> {
    const WIDE: usize = 16;
    let count = node.named_child_count();
    let mut cursor = (count > WIDE).then(|| node.walk());
    let mut index = 0;
    let mut at_start = true;
    std::iter::from_fn(move || match cursor.as_mut() {
        None => {
            let child = (index < count).then(|| node.named_child(index)).flatten();
            index += 1;
            child
        }
        Some(cursor) => loop {
            let moved = if at_start {
                at_start = false;
                cursor.goto_first_child()
            } else {
                cursor.goto_next_sibling()
            };
            if !moved {
                return None;
            }
            if cursor.node().is_named() {
                return Some(cursor.node());
            }
        },
    })
}

/// Strips wrappers that do not change which value an expression denotes:
/// parentheses, `await`, `as T`, `satisfies T`, `<T>x`, `x!`.
pub fn unwrap_expr(mut node: Node) -> Node {
    loop {
        match node.kind() {
            "parenthesized_expression"
            | "await_expression"
            | "as_expression"
            | "satisfies_expression"
            | "non_null_expression"
            | "type_assertion" => match node.named_child(0) {
                Some(inner) if node.kind() != "type_assertion" => node = inner,
                _ => match node.named_child(1).or_else(|| node.named_child(0)) {
                    Some(inner) => node = inner,
                    None => return node,
                },
            },
            _ => return node,
        }
    }
}

pub fn is_function(node: Node) -> bool {
    matches!(
        node.kind(),
        "arrow_function"
            | "function_expression"
            | "function"
            | "function_declaration"
            | "generator_function"
            | "generator_function_declaration"
            | "method_definition"
    )
}

/// The name of a parameter list's `index`-th simple parameter (`(tx) =>`, `async (tx: Tx) =>`).
pub fn param_name(function: Node, index: usize, src: &str) -> Option<String> {
    if let Some(single) = function.field("parameter") {
        return (index == 0).then(|| text(single, src).to_string());
    }
    let pattern = param_pattern(function, index)?;
    (pattern.kind() == "identifier").then(|| text(pattern, src).to_string())
}

/// The binding pattern of parameter `index` (`{ tx }` of `async ({ tx }) => …`).
pub fn param_pattern(function: Node, index: usize) -> Option<Node> {
    if let Some(single) = function.field("parameter") {
        return (index == 0).then_some(single);
    }
    let params = function.field("parameters")?;
    let param = named_children(params)
        .filter(|p| p.kind() != "comment")
        .nth(index)?;
    Some(param.field("pattern").unwrap_or(param))
}

/// Every identifier a binding pattern introduces (`{ data: row }`, `[first]`, `x = 1`).
pub fn pattern_names(pattern: Node, src: &str, out: &mut Vec<String>) {
    match pattern.kind() {
        "identifier" | "shorthand_property_identifier_pattern" => {
            out.push(text(pattern, src).into())
        }
        "pair_pattern" => {
            if let Some(value) = pattern.field("value") {
                pattern_names(value, src, out);
            }
        }
        "assignment_pattern" | "object_assignment_pattern" => {
            if let Some(left) = pattern.field("left") {
                pattern_names(left, src, out);
            }
        }
        _ => {
            for child in named_children(pattern) {
                pattern_names(child, src, out);
            }
        }
    }
}

/// The properties of an object literal: `(key, value)`; a shorthand `{ email }` has
/// itself as value. Spreads and computed keys are skipped.
pub fn object_properties<'t>(object: Node<'t>, src: &str) -> Vec<(String, Node<'t>)> {
    let mut props = Vec::new();
    if object.kind() != "object" {
        return props;
    }
    for child in named_children(object) {
        match child.kind() {
            "pair" => {
                let (Some(key), Some(value)) = (child.field("key"), child.field("value")) else {
                    continue;
                };
                let name = match key.kind() {
                    "string" => text(key, src).trim_matches(['"', '\'', '`']).to_string(),
                    "computed_property_name" => continue,
                    _ => text(key, src).to_string(),
                };
                props.push((name, value));
            }
            "shorthand_property_identifier" => props.push((text(child, src).into(), child)),
            _ => {}
        }
    }
    props
}

pub fn property<'t>(object: Node<'t>, name: &str, src: &str) -> Option<Node<'t>> {
    object_properties(object, src)
        .into_iter()
        .find(|(key, _)| key == name)
        .map(|(_, v)| v)
}

/// The arguments of a call, without comments.
pub fn arguments(args: Node) -> Vec<Node> {
    named_children(args)
        .filter(|n| n.kind() != "comment")
        .collect()
}

/// One step of a call chain: a member access, possibly called.
#[derive(Clone, Debug)]
pub struct Segment<'t> {
    /// The property name (`findFirst`); empty for a call on the root itself (`knex('users')`).
    pub name: &'t str,
    pub name_node: Option<Node<'t>>,
    /// The `arguments` node when this segment is called.
    pub args: Option<Node<'t>>,
    /// The template literal when this segment is a tagged template (``sql`…` ``).
    pub template: Option<Node<'t>>,
    /// The call (or member) expression that ends at this segment.
    pub node: Node<'t>,
}

impl<'t> Segment<'t> {
    pub fn is_call(&self) -> bool {
        self.args.is_some() || self.template.is_some()
    }
    pub fn arg(&self, index: usize) -> Option<Node<'t>> {
        self.args.and_then(|a| arguments(a).into_iter().nth(index))
    }
}

/// The tree tree-sitter-typescript 0.23 builds for a tagged template with type
/// arguments (``tx.$queryRaw<Row[]>`…` ``): an instantiation expression, possibly
/// under a `!` the parser invented, called with the template.
pub fn is_misparsed_generic_tag(node: Node) -> bool {
    let instantiation = match node.kind() {
        "non_null_expression" => match node.named_child(0) {
            Some(n) if n.kind() == "instantiation_expression" => n,
            _ => return false,
        },
        "instantiation_expression" => node,
        _ => return false,
    };
    instantiation
        .parent()
        .and_then(|p| {
            if p.kind() == "non_null_expression" {
                p.parent()
            } else {
                Some(p)
            }
        })
        .is_some_and(|call| {
            call.kind() == "call_expression"
                && call
                    .field("arguments")
                    .is_some_and(|a| a.kind() == "template_string")
        })
}

/// The `await` tree-sitter-typescript 0.23 puts inside a call with type arguments:
/// ``await pool.query<Row>(…)`` parses as `(await pool.query)<Row>(…)`, a call whose
/// function is the await. The call is what is awaited.
pub fn misparsed_generic_await(call: Node) -> Option<Node> {
    if call.kind() != "call_expression" || call.field("type_arguments").is_none() {
        return None;
    }
    call.field("function")
        .filter(|f| f.kind() == "await_expression")
}

/// `root.seg1.seg2(args).seg3(args)`, flattened.
#[derive(Clone, Debug)]
pub struct Chain<'t> {
    pub root: Node<'t>,
    pub segments: Vec<Segment<'t>>,
    /// The outermost node of the chain.
    pub node: Node<'t>,
}

impl<'t> Chain<'t> {
    /// Flattens the chain ending at `node` (a call, member or tagged template expression).
    pub fn of(node: Node<'t>, src: &'t str) -> Chain<'t> {
        let mut segments = Vec::new();
        let mut current = node;
        let mut pending_call: Option<(Option<Node<'t>>, Option<Node<'t>>, Node<'t>)> = None;
        loop {
            match current.kind() {
                "call_expression" => {
                    let Some(function) = current.field("function") else {
                        break;
                    };
                    let function = misparsed_generic_await(current)
                        .and_then(|a| a.named_child(0))
                        .unwrap_or(function);
                    let args = current.field("arguments");
                    let (args, template) = match args {
                        Some(a) if a.kind() == "template_string" => (None, Some(a)),
                        a => (a, None),
                    };
                    if let Some((a, t, n)) = pending_call.take() {
                        // A call whose result is called again: `f()()`.
                        segments.push(Segment {
                            name: "",
                            name_node: None,
                            args: a,
                            template: t,
                            node: n,
                        });
                    }
                    pending_call = Some((args, template, current));
                    current = function;
                }
                "member_expression" => {
                    let (Some(object), Some(prop)) =
                        (current.field("object"), current.field("property"))
                    else {
                        break;
                    };
                    let (args, template, seg_node) = match pending_call.take() {
                        Some((a, t, n)) => (a, t, n),
                        None => (None, None, current),
                    };
                    segments.push(Segment {
                        name: text(prop, src),
                        name_node: Some(prop),
                        args,
                        template,
                        node: seg_node,
                    });
                    current = object;
                }
                // tree-sitter-typescript 0.23 parses ``await tx.$queryRaw<T>`…` `` as
                // `(await tx.$queryRaw)<T>!` called with the template: see through it.
                "non_null_expression" | "instantiation_expression"
                    if is_misparsed_generic_tag(current) =>
                {
                    let inner = match current.kind() {
                        "non_null_expression" => current.named_child(0),
                        _ => current.named_child(0).and_then(|n| {
                            if n.kind() == "await_expression" {
                                n.named_child(0)
                            } else {
                                Some(n)
                            }
                        }),
                    };
                    match inner {
                        Some(inner) => current = inner,
                        None => break,
                    }
                }
                "parenthesized_expression" | "non_null_expression" | "await_expression"
                    if pending_call.is_none() =>
                {
                    match current.named_child(0) {
                        Some(inner) => current = inner,
                        None => break,
                    }
                }
                _ => break,
            }
        }
        if let Some((a, t, n)) = pending_call.take() {
            segments.push(Segment {
                name: "",
                name_node: None,
                args: a,
                template: t,
                node: n,
            });
        }
        segments.reverse();
        Chain {
            root: current,
            segments,
            node,
        }
    }

    pub fn root_text(&self, src: &'t str) -> &'t str {
        text(self.root, src)
    }

    /// The receiver text before segment `index` (`this.prisma` for `this.prisma.user.create`).
    pub fn receiver_text(&self, index: usize, src: &'t str) -> &'t str {
        let end = if index == 0 {
            self.root.end_byte()
        } else {
            let prev = &self.segments[index - 1];
            prev.node.end_byte()
        };
        src.get(self.root.start_byte()..end).unwrap_or("")
    }

    pub fn find(&self, name: &str) -> Option<&Segment<'t>> {
        self.segments.iter().find(|s| s.name == name)
    }

    pub fn has(&self, name: &str) -> bool {
        self.find(name).is_some()
    }

    pub fn last(&self) -> Option<&Segment<'t>> {
        self.segments.last()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_ids_are_each_grammars_own() {
        assert!(FIELDS.windows(2).all(|w| w[0] < w[1]));
        for language in [
            tree_sitter_typescript::LANGUAGE_TYPESCRIPT,
            tree_sitter_typescript::LANGUAGE_TSX,
        ] {
            let language: tree_sitter::Language = language.into();
            for name in FIELDS {
                assert_eq!(
                    field_id(language.field_count(), name),
                    language.field_id_for_name(name),
                    "{name}"
                );
            }
        }
    }
}
