//! A file's module record: what it imports and what it exports, read from its
//! top-level statements. The project stage links calls across files with it.

use super::syntax::{named_children, text, FieldExt};
use crate::ir::{Export, ExportTarget, Import, Imported};
use tree_sitter::Node;

/// The imports and exports of a module.
pub fn record(root: Node, src: &str) -> (Vec<Import>, Vec<Export>) {
    let mut imports = Vec::new();
    let mut exports = Vec::new();
    for statement in named_children(root) {
        match statement.kind() {
            "import_statement" => import(statement, src, &mut imports),
            "export_statement" => export(statement, src, &mut exports),
            _ => {}
        }
    }
    (imports, exports)
}

fn specifier(node: Node, src: &str) -> Option<String> {
    let source = node.field("source")?;
    Some(
        text(source, src)
            .trim_matches(|c| c == '"' || c == '\'' || c == '`')
            .to_string(),
    )
}

fn import(statement: Node, src: &str, out: &mut Vec<Import>) {
    let Some(source) = specifier(statement, src) else {
        return;
    };
    let Some(clause) = named_children(statement).find(|n| n.kind() == "import_clause") else {
        return;
    };
    for part in named_children(clause) {
        match part.kind() {
            "identifier" => out.push(Import {
                local: text(part, src).to_string(),
                source: source.clone(),
                imported: Imported::Default,
            }),
            "namespace_import" => {
                if let Some(name) = named_children(part).find(|n| n.kind() == "identifier") {
                    out.push(Import {
                        local: text(name, src).to_string(),
                        source: source.clone(),
                        imported: Imported::Namespace,
                    });
                }
            }
            "named_imports" => {
                for spec in named_children(part).filter(|n| n.kind() == "import_specifier") {
                    let Some(name) = spec.field("name") else {
                        continue;
                    };
                    let name = text(name, src).to_string();
                    let local = spec
                        .field("alias")
                        .map_or_else(|| name.clone(), |a| text(a, src).to_string());
                    let imported = if name == "default" {
                        Imported::Default
                    } else {
                        Imported::Name(name)
                    };
                    out.push(Import {
                        local,
                        source: source.clone(),
                        imported,
                    });
                }
            }
            _ => {}
        }
    }
}

fn export(statement: Node, src: &str, out: &mut Vec<Export>) {
    let is_default = {
        let mut cursor = statement.walk();
        let found = statement
            .children(&mut cursor)
            .any(|c| c.kind() == "default");
        found
    };
    let source = specifier(statement, src);
    if let Some(declaration) = statement.field("declaration") {
        for name in declared_names(declaration, src) {
            let exported = if is_default {
                "default".to_string()
            } else {
                name.clone()
            };
            out.push(Export {
                name: exported,
                target: ExportTarget::Local(name),
            });
        }
        return;
    }
    if is_default {
        // `export default handler;`, `export default { async m() {} }` has no name.
        if let Some(value) = statement.field("value") {
            if value.kind() == "identifier" {
                out.push(Export {
                    name: "default".into(),
                    target: ExportTarget::Local(text(value, src).to_string()),
                });
            }
        }
        return;
    }
    let clause = named_children(statement).find(|n| n.kind() == "export_clause");
    match (clause, source) {
        (Some(clause), source) => {
            for spec in named_children(clause).filter(|n| n.kind() == "export_specifier") {
                let Some(name) = spec.field("name") else {
                    continue;
                };
                let name = text(name, src).to_string();
                let exported = spec
                    .field("alias")
                    .map_or_else(|| name.clone(), |a| text(a, src).to_string());
                let target = match &source {
                    Some(source) => ExportTarget::From {
                        source: source.clone(),
                        imported: if name == "default" {
                            Imported::Default
                        } else {
                            Imported::Name(name)
                        },
                    },
                    None => ExportTarget::Local(name),
                };
                out.push(Export {
                    name: exported,
                    target,
                });
            }
        }
        (None, Some(source)) => {
            // `export * from "./x"`, or `export * as ns from "./x"`.
            let name = named_children(statement)
                .find(|n| n.kind() == "namespace_export")
                .and_then(|n| named_children(n).next())
                .map_or_else(|| "*".to_string(), |n| text(n, src).to_string());
            out.push(Export {
                name,
                target: ExportTarget::From {
                    source,
                    imported: Imported::Namespace,
                },
            });
        }
        (None, None) => {}
    }
}

/// The names a declaration introduces: a function, a class, the variables of a
/// `const`.
fn declared_names(declaration: Node, src: &str) -> Vec<String> {
    match declaration.kind() {
        "function_declaration"
        | "generator_function_declaration"
        | "class_declaration"
        | "abstract_class_declaration" => declaration
            .field("name")
            .map(|n| vec![text(n, src).to_string()])
            .unwrap_or_default(),
        "lexical_declaration" | "variable_declaration" => named_children(declaration)
            .filter(|n| n.kind() == "variable_declarator")
            .filter_map(|d| d.field("name"))
            .filter(|n| n.kind() == "identifier")
            .map(|n| text(n, src).to_string())
            .collect(),
        _ => Vec::new(),
    }
}
