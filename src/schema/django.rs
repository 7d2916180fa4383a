//! Django models: classes with `models.*Field` attributes, `ForeignKey` /
//! `OneToOneField` with `on_delete`, `ManyToManyField`, and `class Meta`
//! (`db_table`, `abstract`, `proxy`, `app_label`, `unique_together`,
//! `constraints`), read with tree-sitter-python.
//!
//! A model's table is `Meta.db_table`, else `<app_label>_<model name lowercased>`,
//! the app label being the package that holds `models.py` (or the `models/`
//! package). Without a primary-key field Django adds `id`. `on_delete` is what the
//! ORM does when code deletes the parent (`CASCADE` deletes the children first,
//! `PROTECT` refuses), which is the behaviour racelint's rules reason about.
//! Inheritance is joined across files in [`super::py_models`].

use super::py::{self, call, string_list, string_value, text, Call};
use super::py_models::{ModelClass, Orm};
use super::{schema_error, schema_file, FileSchema, ForeignKey, OnDelete};
use tree_sitter::Node;

/// Whether the text may declare Django models.
pub fn mentions(src: &str) -> bool {
    src.contains("django") || src.contains("models.Model")
}

/// Bases that make a class a model without any project class in between.
const ROOTS: [&str; 6] = [
    "models.Model",
    "Model",
    "AbstractUser",
    "AbstractBaseUser",
    "MPTTModel",
    "PolymorphicModel",
];

/// The app a models file belongs to: the folder holding `models.py`, or the one
/// holding the `models/` package.
pub fn app_label(rel_path: &str) -> Option<String> {
    let parts: Vec<&str> = rel_path.split('/').collect();
    let n = parts.len();
    let package = parts[..n.saturating_sub(1)]
        .iter()
        .rposition(|p| *p == "models")
        .filter(|&i| i > 0)
        .map(|i| parts[i - 1].to_string());
    package.or_else(|| (n >= 2 && parts[n - 1] == "models.py").then(|| parts[n - 2].to_string()))
}

/// Django's words for what deleting the parent does.
pub fn on_delete(word: &str) -> Option<OnDelete> {
    match word {
        "CASCADE" => Some(OnDelete::Cascade),
        "PROTECT" | "RESTRICT" => Some(OnDelete::Restrict),
        "SET_NULL" => Some(OnDelete::SetNull),
        "SET_DEFAULT" | "SET" => Some(OnDelete::SetDefault),
        "DO_NOTHING" => Some(OnDelete::NoAction),
        _ => None,
    }
}

/// A field's effect on keys: its column, and whether it is a key or a reference.
pub struct FieldSpec {
    pub column: String,
    pub primary_key: bool,
    pub unique: bool,
    /// The target (`"app.Model"`, `"self"`, a class name) and the delete action.
    pub foreign_key: Option<(String, Option<OnDelete>, Option<String>)>,
    /// `ManyToManyField` without `through`: its target.
    pub many_to_many: Option<String>,
}

/// What `settings.AUTH_USER_MODEL` stands for until resolved through the
/// project's settings ([`user_model_setting`]), else Django's `auth.User`.
pub const AUTH_USER_MODEL: &str = "AUTH_USER_MODEL";

/// `AUTH_USER_MODEL = "account.User"` in a settings module: the label.
pub fn user_model_setting(src: &str) -> Option<String> {
    src.lines().find_map(|line| {
        let value = line.strip_prefix("AUTH_USER_MODEL")?.trim_start();
        let value = value.strip_prefix('=')?.trim();
        let quote = value.chars().next().filter(|c| *c == '"' || *c == '\'')?;
        let inner = value[1..].split(quote).next()?;
        inner.contains('.').then(|| inner.to_string())
    })
}

/// The model a relation points at, as written.
fn target(c: &Call, src: &str) -> Option<String> {
    let node = c.args.first().copied().or_else(|| c.kwarg("to"))?;
    string_value(node, src).or_else(|| {
        let t = text(node, src);
        Some(if t.ends_with("AUTH_USER_MODEL") {
            AUTH_USER_MODEL.to_string()
        } else {
            t.rsplit('.').next().unwrap_or(t).to_string()
        })
    })
}

/// Reads a field call (`models.CharField(unique=True)`, `models.ForeignKey(…)`)
/// of the attribute `name`; `None` when the call is not a field.
pub fn field(name: &str, node: Node, src: &str) -> Option<FieldSpec> {
    let c = call(node, src)?;
    let last = c.last();
    // `models.CharField`, or a bare imported name; never `forms.CharField` or
    // `serializers.CharField`, which describe no column.
    let prefix = c.name.rsplit_once('.').map_or("", |(p, _)| p);
    let model_module =
        prefix.is_empty() || prefix.ends_with("models") || prefix.ends_with("fields");
    if !model_module || last == "Field" {
        return None;
    }
    let relation = last.ends_with("ForeignKey") || last == "OneToOneField" || last == "ParentalKey";
    if !(last.ends_with("Field") || relation) || last == "GenericForeignKey" {
        return None;
    }
    let db_column = c.kwarg_str("db_column", src);
    let mut spec = FieldSpec {
        column: db_column.clone().unwrap_or_else(|| name.to_string()),
        primary_key: c.flag("primary_key", src),
        unique: c.flag("unique", src) || last == "OneToOneField",
        foreign_key: None,
        many_to_many: None,
    };
    if last == "ManyToManyField" {
        if c.kwarg("through").is_none() {
            spec.many_to_many = target(&c, src);
        }
        return Some(spec);
    }
    if relation {
        spec.column = db_column.unwrap_or_else(|| format!("{name}_id"));
        let action = c
            .args
            .get(1)
            .copied()
            .or_else(|| c.kwarg("on_delete"))
            .and_then(|n| on_delete(py::last_segment(n, src)));
        spec.foreign_key = Some((target(&c, src)?, action, c.kwarg_str("to_field", src)));
    }
    Some(spec)
}

/// Adds a field to a model record.
pub fn add_field(m: &mut ModelClass, name: &str, spec: FieldSpec, source: String) {
    m.fields.push((name.to_string(), spec.column.clone()));
    if spec.primary_key {
        m.primary_key = vec![name.to_string()];
    }
    if spec.unique {
        m.unique.push(vec![name.to_string()]);
    }
    if let Some((target, action, to_field)) = spec.foreign_key {
        m.foreign_keys.push(ForeignKey {
            columns: vec![name.to_string()],
            references: target,
            referenced_columns: to_field.into_iter().collect(),
            on_delete: action.unwrap_or(OnDelete::NoAction),
            on_delete_known: action.is_some(),
            source: source.clone(),
        });
    }
    if let Some(target) = spec.many_to_many {
        m.many_to_many.push((name.to_string(), target, source));
    }
}

/// `unique_together = ("a", "b")` or `(("a", "b"), ("c", "d"))`.
pub fn unique_together(node: Node, src: &str) -> Vec<Vec<String>> {
    if let Some(flat) = string_list(node, src) {
        return if flat.is_empty() {
            Vec::new()
        } else {
            vec![flat]
        };
    }
    py::items(node)
        .into_iter()
        .filter_map(|n| string_list(n, src))
        .filter(|l| !l.is_empty())
        .collect()
}

/// `models.UniqueConstraint(fields=[…], name=…)` → its fields; one over
/// expressions (`Lower("name")`) is no column key. A `condition=Q(…)` makes it
/// hold only for some rows; it is kept as a key (see README: partial keys).
pub fn unique_constraint(node: Node, src: &str) -> Option<Vec<String>> {
    let c = call(node, src)?;
    if c.last() != "UniqueConstraint" {
        return None;
    }
    string_list(c.kwarg("fields")?, src).filter(|f| !f.is_empty())
}

/// Parses one Python file for Django models.
pub fn parse(rel_path: &str, src: &str) -> (Vec<ModelClass>, FileSchema) {
    let mut out = FileSchema::default();
    let Some(tree) = py::parse(src) else {
        out.error = Some(schema_error(
            &schema_file(rel_path, src),
            0,
            "the Python parser gave up on this file".into(),
        ));
        return (Vec::new(), out);
    };
    let app = app_label(rel_path);
    let classes = py::children(tree.root_node())
        .into_iter()
        .flat_map(|n| match n.kind() {
            "decorated_definition" => n.child_by_field_name("definition"),
            _ => Some(n),
        })
        .filter_map(|n| py::class(n, src))
        .map(|class| read_class(rel_path, &class, app.clone(), src))
        .collect();
    (classes, out)
}

fn read_class(path: &str, class: &py::Class, app: Option<String>, src: &str) -> ModelClass {
    let mut m = ModelClass::new(Orm::Django, &class.name, path, py::source(path, class.node));
    m.app_label = app;
    m.bases = class
        .bases
        .iter()
        .map(|b| text(*b, src).to_string())
        .collect();
    m.root = m.bases.iter().any(|b| {
        let last = b.rsplit('.').next().unwrap_or(b);
        ROOTS.contains(&b.as_str()) || ROOTS.contains(&last)
    });
    for stmt in &class.body {
        if let Some((name, value)) = py::assignment(*stmt, src) {
            if let Some(spec) = field(name, value, src) {
                add_field(&mut m, name, spec, py::source(path, value));
            }
        } else if let Some(meta) = py::class(*stmt, src).filter(|c| c.name == "Meta") {
            read_meta(&mut m, &meta, src);
        }
    }
    m
}

fn read_meta(m: &mut ModelClass, meta: &py::Class, src: &str) {
    m.has_meta = meta.bases.is_empty();
    for stmt in &meta.body {
        let Some((name, value)) = py::assignment(*stmt, src) else {
            continue;
        };
        match name {
            "db_table" => m.table_name = string_value(value, src),
            "app_label" => m.app_label = string_value(value, src).or(m.app_label.take()),
            "abstract" => m.is_abstract = text(value, src) == "True",
            "proxy" => m.proxy = text(value, src) == "True",
            "unique_together" => m.unique.extend(unique_together(value, src)),
            "constraints" => m.unique.extend(
                py::items(value)
                    .into_iter()
                    .filter_map(|c| unique_constraint(c, src)),
            ),
            _ => {}
        }
    }
}
