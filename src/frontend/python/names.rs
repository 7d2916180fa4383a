//! What one Python file's names stand for, for calls into other modules: the
//! names its `import` statements bind (anywhere in the file: a function-level
//! import to break a cycle counts too), and the classes its instance attributes
//! hold (`repo: UserRepo` in a class body, `self.repo: UserRepo = …`,
//! `self.repo = UserRepo(…)`, `self.repo = repo` from an annotated parameter).

use crate::ir::{Import, Imported};
use crate::schema::py::{children, text};
use std::collections::HashMap;
use tree_sitter::Node;

/// Deeper than this, a subtree is not searched for imports or attributes.
const MAX_DEPTH: u32 = 200;

/// Every name the file's imports bind: `from m import a as b` → `b` is `a` of
/// `m`; `import a.b as c` → `c` is the module `a.b`; `import a.b` → `a.b` is that
/// module; `from m import *` → `*`.
pub fn imports(root: Node, src: &str) -> Vec<Import> {
    let mut out = Vec::new();
    collect_imports(root, src, &mut out, 0);
    out
}

fn collect_imports(node: Node, src: &str, out: &mut Vec<Import>, depth: u32) {
    if depth > MAX_DEPTH {
        return;
    }
    for child in children(node) {
        match child.kind() {
            "import_statement" => {
                for name in children(child) {
                    let (module, alias) = aliased(name, src);
                    if module.is_empty() {
                        continue;
                    }
                    out.push(Import {
                        local: alias.unwrap_or_else(|| module.clone()),
                        source: module,
                        imported: Imported::Namespace,
                    });
                }
            }
            "import_from_statement" => {
                let Some(module) = child.child_by_field_name("module_name") else {
                    continue;
                };
                let source: String = text(module, src).split_whitespace().collect();
                let mut cursor = child.walk();
                let names: Vec<Node> = child.children_by_field_name("name", &mut cursor).collect();
                if names.is_empty()
                    && children(child)
                        .iter()
                        .any(|c| c.kind() == "wildcard_import")
                {
                    out.push(Import {
                        local: "*".into(),
                        source: source.clone(),
                        imported: Imported::Namespace,
                    });
                }
                for name in names {
                    let (imported, alias) = aliased(name, src);
                    if imported.is_empty() {
                        continue;
                    }
                    out.push(Import {
                        local: alias.unwrap_or_else(|| imported.clone()),
                        source: source.clone(),
                        imported: Imported::Name(imported),
                    });
                }
            }
            "function_definition"
            | "class_definition"
            | "decorated_definition"
            | "block"
            | "if_statement"
            | "else_clause"
            | "elif_clause"
            | "try_statement"
            | "except_clause"
            | "finally_clause"
            | "with_statement" => collect_imports(child, src, out, depth + 1),
            _ => {}
        }
    }
}

/// `a.b as c` → (`a.b`, `c`); `a.b` → (`a.b`, none).
fn aliased(node: Node, src: &str) -> (String, Option<String>) {
    match node.kind() {
        "aliased_import" => (
            node.child_by_field_name("name")
                .map_or(String::new(), |n| text(n, src).to_string()),
            node.child_by_field_name("alias")
                .map(|a| text(a, src).to_string()),
        ),
        "dotted_name" => (text(node, src).split_whitespace().collect(), None),
        _ => (String::new(), None),
    }
}

/// The class an annotation names, when it names one: `UserRepo`,
/// `repos.UserRepo`, `"UserRepo"`, `Optional[UserRepo]`, `UserRepo | None`.
pub fn annotated_class(annotation: &str) -> Option<String> {
    let mut t = annotation.trim().trim_matches(['"', '\'']).trim();
    if let Some(inner) = t
        .strip_prefix("Optional[")
        .or_else(|| t.strip_prefix("typing.Optional["))
        .and_then(|i| i.strip_suffix(']'))
    {
        t = inner.trim();
    }
    let parts: Vec<&str> = t
        .split('|')
        .map(str::trim)
        .filter(|p| *p != "None")
        .collect();
    let [one] = parts.as_slice() else {
        return None;
    };
    let one = one.trim_matches(['"', '\'']);
    let well_formed = !one.is_empty()
        && one.split('.').all(|s| {
            s.chars()
                .next()
                .is_some_and(|c| c.is_alphabetic() || c == '_')
                && s.chars().all(|c| c.is_alphanumeric() || c == '_')
        });
    let last = one.rsplit('.').next().unwrap_or(one);
    (well_formed && last.starts_with(|c: char| c.is_ascii_uppercase())).then(|| one.to_string())
}

/// The class a constructor call builds: `UserRepo(session)` → `UserRepo`.
pub fn constructed_class(value: Node, src: &str) -> Option<String> {
    if value.kind() != "call" {
        return None;
    }
    let function = value.child_by_field_name("function")?;
    if !matches!(function.kind(), "identifier" | "attribute") {
        return None;
    }
    annotated_class(text(function, src))
}

/// The class each instance attribute holds, keyed `Class.attr` (the class by
/// its name in the file).
pub fn attribute_types(root: Node, src: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    collect_classes(root, src, &mut out, 0);
    out
}

fn collect_classes(node: Node, src: &str, out: &mut HashMap<String, String>, depth: u32) {
    if depth > MAX_DEPTH {
        return;
    }
    for child in children(node) {
        match child.kind() {
            "class_definition" => {
                let (Some(name), Some(body)) = (
                    child.child_by_field_name("name"),
                    child.child_by_field_name("body"),
                ) else {
                    continue;
                };
                let class = text(name, src);
                for statement in children(body) {
                    class_statement(class, statement, src, out);
                }
                collect_classes(body, src, out, depth + 1);
            }
            "decorated_definition"
            | "block"
            | "if_statement"
            | "else_clause"
            | "elif_clause"
            | "try_statement" => collect_classes(child, src, out, depth + 1),
            _ => {}
        }
    }
}

fn class_statement(class: &str, statement: Node, src: &str, out: &mut HashMap<String, String>) {
    match statement.kind() {
        // `repo: UserRepo` (a dataclass field, an attribute declared for typing).
        "expression_statement" => {
            for assignment in children(statement)
                .into_iter()
                .filter(|a| a.kind() == "assignment")
            {
                let (Some(left), Some(ty)) = (
                    assignment.child_by_field_name("left"),
                    assignment.child_by_field_name("type"),
                ) else {
                    continue;
                };
                if left.kind() == "identifier" {
                    if let Some(ty) = annotated_class(text(ty, src)) {
                        out.entry(format!("{class}.{}", text(left, src)))
                            .or_insert(ty);
                    }
                }
            }
        }
        "decorated_definition" => {
            if let Some(def) = statement.child_by_field_name("definition") {
                class_statement(class, def, src, out);
            }
        }
        "function_definition" => {
            let params = parameter_types(statement, src);
            if let Some(body) = statement.child_by_field_name("body") {
                self_assignments(class, body, src, &params, out, 0);
            }
        }
        _ => {}
    }
}

/// A function's parameters annotated with a class: name → class.
pub fn parameter_types(function: Node, src: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let Some(params) = function.child_by_field_name("parameters") else {
        return out;
    };
    for param in children(params) {
        if !matches!(param.kind(), "typed_parameter" | "typed_default_parameter") {
            continue;
        }
        let name = match param.kind() {
            "typed_parameter" => param.named_child(0),
            _ => param.child_by_field_name("name"),
        };
        let (Some(name), Some(ty)) = (
            name.filter(|n| n.kind() == "identifier"),
            param.child_by_field_name("type"),
        ) else {
            continue;
        };
        if let Some(ty) = annotated_class(text(ty, src)) {
            out.insert(text(name, src).to_string(), ty);
        }
    }
    out
}

/// `self.repo: UserRepo = …`, `self.repo = UserRepo(…)`, `self.repo = repo`.
fn self_assignments(
    class: &str,
    node: Node,
    src: &str,
    params: &HashMap<String, String>,
    out: &mut HashMap<String, String>,
    depth: u32,
) {
    if depth > MAX_DEPTH {
        return;
    }
    for child in children(node) {
        match child.kind() {
            "assignment" => {
                let Some(left) = child.child_by_field_name("left") else {
                    continue;
                };
                if left.kind() != "attribute"
                    || left
                        .child_by_field_name("object")
                        .is_none_or(|o| text(o, src) != "self")
                {
                    continue;
                }
                let Some(attr) = left.child_by_field_name("attribute") else {
                    continue;
                };
                let right = child.child_by_field_name("right");
                let ty = child
                    .child_by_field_name("type")
                    .and_then(|t| annotated_class(text(t, src)))
                    .or_else(|| right.and_then(|r| constructed_class(r, src)))
                    .or_else(|| {
                        right
                            .filter(|r| r.kind() == "identifier")
                            .and_then(|r| params.get(text(r, src)).cloned())
                    });
                if let Some(ty) = ty {
                    out.entry(format!("{class}.{}", text(attr, src)))
                        .or_insert(ty);
                }
            }
            "function_definition" | "class_definition" | "lambda" => {}
            _ => self_assignments(class, child, src, params, out, depth + 1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::annotated_class;

    #[test]
    fn annotations_name_the_class_they_hold() {
        assert_eq!(annotated_class("UserRepo").as_deref(), Some("UserRepo"));
        assert_eq!(
            annotated_class("Optional[repos.UserRepo]").as_deref(),
            Some("repos.UserRepo")
        );
        assert_eq!(
            annotated_class("\"UserRepo\" | None").as_deref(),
            Some("UserRepo")
        );
        assert_eq!(annotated_class("int"), None);
        assert_eq!(annotated_class("list[UserRepo]"), None);
        assert_eq!(annotated_class("A | B"), None);
    }
}
