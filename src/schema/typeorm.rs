//! TypeORM entities: `@Entity()` classes and their column and relation decorators,
//! read with tree-sitter-typescript.
//!
//! The table is `@Entity`'s name, else the class name in snake_case (TypeORM's
//! `DefaultNamingStrategy.tableName`). The class name is the alias, since code
//! passes the class (`getRepository(User)`, `manager.delete(User, …)`). Columns
//! are property names; a join column is its `@JoinColumn` name, else TypeORM's
//! default `<property>Id`. Relation targets name the class; the merge resolves them.

use super::ts::{self, children, object_get, string_value, text};
use super::{
    schema_error, schema_file, snake_case, source_at, FileSchema, ForeignKey, OnDelete, Table,
};
use tree_sitter::Node;

/// A decorator's name (last segment, so `@typeorm.Entity()` counts) and its arguments.
fn decorator<'t>(node: Node<'t>, src: &str) -> Option<(String, Vec<Node<'t>>)> {
    let inner = node.named_child(0)?;
    let (func, args) = match inner.kind() {
        "call_expression" => (inner.child_by_field_name("function")?, ts::call_args(inner)),
        _ => (inner, Vec::new()),
    };
    let name = match func.kind() {
        "member_expression" => text(func.child_by_field_name("property")?, src),
        _ => text(func, src),
    };
    Some((name.to_string(), args))
}

fn decorators<'t>(node: Node<'t>, src: &str) -> Vec<(String, Vec<Node<'t>>)> {
    let mut cursor = node.walk();
    let own: Vec<Node> = node
        .children_by_field_name("decorator", &mut cursor)
        .collect();
    own.into_iter().filter_map(|d| decorator(d, src)).collect()
}

/// Strings in the first array among `args` (`@Unique(["a", "b"])`, `@Unique("name", ["a"])`).
fn string_list(args: &[Node], src: &str) -> Option<Vec<String>> {
    let array = args.iter().find(|a| a.kind() == "array")?;
    Some(
        children(*array)
            .into_iter()
            .filter_map(|n| string_value(n, src))
            .collect(),
    )
}

fn option<'t>(args: &[Node<'t>], key: &str, src: &str) -> Option<Node<'t>> {
    args.iter()
        .filter(|a| a.kind() == "object")
        .find_map(|o| object_get(*o, key, src))
}

fn is_true(node: Option<Node>, src: &str) -> bool {
    node.is_some_and(|n| text(n, src) == "true")
}

/// Parses one file for TypeORM entities.
pub fn parse(rel_path: &str, src: &str) -> FileSchema {
    let file = schema_file(rel_path, src);
    let mut out = FileSchema::default();
    let Some(tree) = ts::parse(rel_path, src) else {
        out.error = Some(schema_error(
            &file,
            0,
            "the TypeScript parser could not start".into(),
        ));
        return out;
    };
    let root = tree.root_node();
    for class in ts::descendants(root) {
        if !matches!(
            class.kind(),
            "class_declaration" | "abstract_class_declaration"
        ) {
            continue;
        }
        let mut decs = decorators(class, src);
        if let Some(parent) = class.parent().filter(|p| p.kind() == "export_statement") {
            decs.extend(decorators(parent, src));
        }
        let Some((_, entity_args)) = decs.iter().find(|(n, _)| n == "Entity") else {
            continue;
        };
        let Some(class_name) = class
            .child_by_field_name("name")
            .map(|n| text(n, src).to_string())
        else {
            continue;
        };
        let name = entity_args
            .first()
            .and_then(|a| string_value(*a, src))
            .or_else(|| option(entity_args, "name", src).and_then(|n| string_value(n, src)))
            .unwrap_or_else(|| snake_case(&class_name));
        let start = class
            .parent()
            .filter(|p| p.kind() == "export_statement")
            .unwrap_or(class);
        let mut table = Table {
            name,
            aliases: vec![class_name],
            sources: vec![source_at(&file, start.start_byte())],
            ..Table::default()
        };
        for (dec, args) in &decs {
            let unique = match dec.as_str() {
                "Unique" => true,
                "Index" => is_true(option(args, "unique", src), src),
                _ => false,
            };
            if unique {
                if let Some(cols) = string_list(args, src).filter(|c| !c.is_empty()) {
                    push_unique(&mut table, cols);
                }
            }
        }
        if let Some(body) = class.child_by_field_name("body") {
            for member in children(body) {
                if member.kind() != "public_field_definition" {
                    continue;
                }
                let Some(prop) = member
                    .child_by_field_name("name")
                    .map(|n| text(n, src).to_string())
                else {
                    continue;
                };
                read_member(&file, src, member, &prop, &mut table);
            }
        }
        out.tables.push(table);
    }
    if root.has_error() && out.tables.is_empty() && src.contains("@Entity") {
        let at = ts::descendants(root)
            .into_iter()
            .find(|n| n.is_error() || n.is_missing())
            .map_or(0, |n| n.start_byte());
        out.error = Some(schema_error(
            &file,
            at,
            "not valid TypeScript and no entity could be read".into(),
        ));
    }
    out
}

fn push_unique(table: &mut Table, cols: Vec<String>) {
    if !table.unique.contains(&cols) {
        table.unique.push(cols);
    }
}

fn read_member(
    file: &crate::source::SourceFile,
    src: &str,
    member: Node,
    prop: &str,
    table: &mut Table,
) {
    let decs = decorators(member, src);
    let mut relation = None;
    let mut join_columns: Option<Vec<(Option<String>, Option<String>)>> = None;
    for (dec, args) in &decs {
        match dec.as_str() {
            "PrimaryGeneratedColumn" | "PrimaryColumn" | "ObjectIdColumn"
                if !table.primary_key.iter().any(|c| c == prop) =>
            {
                table.primary_key.push(prop.to_string());
            }
            "Column" => {
                if is_true(option(args, "unique", src), src) {
                    push_unique(table, vec![prop.to_string()]);
                }
                if is_true(option(args, "primary", src), src) {
                    table.primary_key.push(prop.to_string());
                }
            }
            "Index" | "Unique" if dec == "Unique" || is_true(option(args, "unique", src), src) => {
                push_unique(table, vec![prop.to_string()]);
            }
            "VersionColumn" => {
                table.version_column = Some(prop.to_string());
                table.version_declared = true;
            }
            "ManyToOne" | "OneToOne" => relation = Some((dec.as_str(), args)),
            "JoinColumn" => {
                let objects: Vec<Node> = match args.first() {
                    Some(a) if a.kind() == "array" => children(*a),
                    Some(a) => vec![*a],
                    None => Vec::new(),
                };
                let cols = objects
                    .into_iter()
                    .map(|o| {
                        let get = |k| object_get(o, k, src).and_then(|v| string_value(v, src));
                        (get("name"), get("referencedColumnName"))
                    })
                    .collect::<Vec<_>>();
                join_columns = Some(if cols.is_empty() {
                    vec![(None, None)]
                } else {
                    cols
                });
            }
            _ => {}
        }
    }
    let Some((kind, args)) = relation else { return };
    // A one-to-one owns the key only on the side with @JoinColumn.
    if kind == "OneToOne" && join_columns.is_none() {
        return;
    }
    let Some(target) = args.first().and_then(|a| relation_target(*a, src)) else {
        return;
    };
    let on_delete = option(args, "onDelete", src)
        .and_then(|v| string_value(v, src))
        .map(|s| OnDelete::from_words(&s).unwrap_or(OnDelete::NoAction));
    let joins = join_columns.unwrap_or_else(|| vec![(None, None)]);
    let columns = joins
        .iter()
        .map(|(n, r)| {
            n.clone()
                .unwrap_or_else(|| format!("{prop}{}", capitalize(r.as_deref().unwrap_or("id"))))
        })
        .collect();
    let referenced_columns = joins.iter().filter_map(|(_, r)| r.clone()).collect();
    table.foreign_keys.push(ForeignKey {
        columns,
        references: target,
        referenced_columns,
        // TypeORM creates foreign keys with NO ACTION unless told otherwise.
        on_delete: on_delete.unwrap_or(OnDelete::NoAction),
        on_delete_known: true,
        source: source_at(file, member.start_byte()),
    });
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map_or_else(String::new, |f| f.to_uppercase().chain(c).collect())
}

/// `() => User`, `(type) => User`, `"User"`.
fn relation_target(arg: Node, src: &str) -> Option<String> {
    if let Some(s) = string_value(arg, src) {
        return Some(s);
    }
    let body = arg.child_by_field_name("body")?;
    (body.kind() == "identifier").then(|| text(body, src).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entities_keys_and_relations() {
        let src = r#"import { Entity, PrimaryGeneratedColumn, Column, ManyToOne, JoinColumn, Unique, Index, VersionColumn, OneToMany } from "typeorm";
import { User } from "./User";

@Entity("orders")
@Unique(["customerId", "reference"])
@Index("orders_slug", ["slug"], { unique: true })
export class Order {
  @PrimaryGeneratedColumn("uuid")
  id!: string;

  @Column({ type: "varchar", unique: true })
  reference!: string;

  @Column()
  slug!: string;

  @ManyToOne(() => User, (user) => user.orders, {
    onDelete: "CASCADE",
  })
  @JoinColumn({ name: "customer_id" })
  customer!: User;

  @ManyToOne(() => Warehouse)
  warehouse?: Warehouse;

  @VersionColumn()
  revision!: number;
}

@Entity()
export class LineItem {
  @PrimaryColumn() orderId!: string;
  @PrimaryColumn() position!: number;
  @OneToMany(() => Order, (o) => o.items) orders!: Order[];
}
"#;
        let parsed = parse("src/entity/Order.ts", src);
        assert!(parsed.error.is_none());
        assert_eq!(parsed.tables.len(), 2);
        let order = &parsed.tables[0];
        assert_eq!(order.name, "orders");
        assert_eq!(order.aliases, ["Order"]);
        assert_eq!(order.sources, ["src/entity/Order.ts:4"]);
        assert_eq!(order.primary_key, ["id"]);
        assert_eq!(
            order.unique,
            [
                vec!["customerId".to_string(), "reference".to_string()],
                vec!["slug".to_string()],
                vec!["reference".to_string()]
            ]
        );
        assert_eq!(order.version_column.as_deref(), Some("revision"));
        let customer = &order.foreign_keys[0];
        assert_eq!(customer.columns, ["customer_id"]);
        assert_eq!(customer.references, "User");
        assert_eq!(customer.on_delete, OnDelete::Cascade);
        assert_eq!(customer.source, "src/entity/Order.ts:17");
        let warehouse = &order.foreign_keys[1];
        assert_eq!(
            warehouse.columns,
            ["warehouseId"],
            "TypeORM's default join column"
        );
        assert_eq!(warehouse.on_delete, OnDelete::NoAction);

        let item = &parsed.tables[1];
        assert_eq!(item.name, "line_item");
        assert_eq!(item.primary_key, ["orderId", "position"]);
        assert!(item.foreign_keys.is_empty());
    }
}
