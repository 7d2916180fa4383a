//! Python model classes across the project: SQLAlchemy declarative classes and
//! Django models, as each file declares them, then joined through inheritance.
//!
//! A model's columns often come from a base class in another file (SQLAlchemy's
//! `RecordModel` carrying `id`, Django's abstract `PrimaryModel`), and whether a
//! class is a table at all can depend on one (a base with a computed
//! `__tablename__`, `models.Model` reached through three abstract classes). So
//! each file yields [`ModelClass`] records with their own facts, and [`resolve`]
//! builds the tables once every file is read: a concrete class takes the facts of
//! its abstract ancestors and mixins, never those of a concrete parent (that is a
//! table of its own). Bases are found by class name, the same file first.

use super::{snake_case, ForeignKey, OnDelete, Table};
use std::collections::{HashMap, HashSet};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Orm {
    SqlAlchemy,
    Django,
}

/// How a base class names the tables of the classes below it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Naming {
    /// `IncidentCost` → `incident_cost`: a `declared_attr` `__tablename__` (the
    /// usual body), Flask-SQLAlchemy's `db.Model`.
    Snake,
    /// `IncidentCost` → `incidentcost`: SQLModel's `table=True`.
    Lower,
}

/// One class as its file declares it. Column lists hold attribute (field) names;
/// [`resolve`] turns them into column names through `fields`.
#[derive(Clone, Debug)]
pub struct ModelClass {
    pub orm: Orm,
    pub name: String,
    pub path: String,
    /// `path:line` of the class.
    pub source: String,
    /// Base expressions as written (`models.Model`, `RecordModel`, `db.Model`).
    pub bases: Vec<String>,
    /// `__tablename__` or `Meta.db_table`.
    pub table_name: Option<String>,
    /// The app a Django model belongs to (`Meta.app_label`, else its package).
    pub app_label: Option<String>,
    /// Set when this class names the tables of its subclasses (or its own).
    pub naming: Option<Naming>,
    /// A base that makes the class a model by itself (`models.Model`, `db.Model`).
    pub root: bool,
    pub is_abstract: bool,
    pub proxy: bool,
    /// Attribute → database column.
    pub fields: Vec<(String, String)>,
    pub primary_key: Vec<String>,
    pub unique: Vec<Vec<String>>,
    pub foreign_keys: Vec<ForeignKey>,
    pub version_field: Option<String>,
    /// Django many-to-many fields without a `through` model: field name, target, line.
    pub many_to_many: Vec<(String, String, String)>,
    /// Whether the class declares a `Meta` (Django: then it does not inherit its
    /// abstract parent's unless it subclasses it, which is the common spelling).
    pub has_meta: bool,
}

impl ModelClass {
    pub fn new(orm: Orm, name: &str, path: &str, source: String) -> ModelClass {
        ModelClass {
            orm,
            name: name.to_string(),
            path: path.to_string(),
            source,
            bases: Vec::new(),
            table_name: None,
            app_label: None,
            naming: None,
            root: false,
            is_abstract: false,
            proxy: false,
            fields: Vec::new(),
            primary_key: Vec::new(),
            unique: Vec::new(),
            foreign_keys: Vec::new(),
            version_field: None,
            many_to_many: Vec::new(),
            has_meta: false,
        }
    }

    /// Whether the class states anything about columns or tables.
    fn declares(&self) -> bool {
        !self.fields.is_empty()
            || self.table_name.is_some()
            || !self.unique.is_empty()
            || !self.foreign_keys.is_empty()
    }
}

/// Nesting beyond this is a cycle or generated code; ancestors past it are ignored.
const MAX_DEPTH: usize = 32;

struct Index<'a> {
    classes: &'a [ModelClass],
    by_name: HashMap<&'a str, Vec<usize>>,
}

impl<'a> Index<'a> {
    fn new(classes: &'a [ModelClass]) -> Index<'a> {
        let mut by_name: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, c) in classes.iter().enumerate() {
            by_name.entry(c.name.as_str()).or_default().push(i);
        }
        Index { classes, by_name }
    }

    /// The class a base expression names, the same file and ORM first.
    fn base(&self, of: &ModelClass, base: &str) -> Option<usize> {
        let name = base.rsplit('.').next().unwrap_or(base);
        let found = self.by_name.get(name)?;
        let same_orm: Vec<usize> = found
            .iter()
            .copied()
            .filter(|&i| self.classes[i].orm == of.orm && !std::ptr::eq(&self.classes[i], of))
            .collect();
        same_orm
            .iter()
            .copied()
            .find(|&i| self.classes[i].path == of.path)
            .or_else(|| same_orm.first().copied())
    }

    /// Every ancestor, nearest first (Python's order is close enough for facts
    /// that are merged, not overridden).
    fn ancestors(&self, start: usize) -> Vec<usize> {
        let mut out = Vec::new();
        let mut seen = HashSet::from([start]);
        let mut frontier = vec![start];
        for _ in 0..MAX_DEPTH {
            let mut next = Vec::new();
            for &c in &frontier {
                let class = &self.classes[c];
                for b in &class.bases {
                    if let Some(i) = self.base(class, b) {
                        if seen.insert(i) {
                            out.push(i);
                            next.push(i);
                        }
                    }
                }
            }
            if next.is_empty() {
                break;
            }
            frontier = next;
        }
        out
    }
}

/// What a class is once its ancestors are known.
enum Role {
    Table(String),
    /// Shares an ancestor's table (single-table inheritance, a Django proxy).
    SameAs(usize),
    None,
}

fn role(index: &Index, i: usize, ancestors: &[usize]) -> Role {
    let c = &index.classes[i];
    let concrete_ancestor = || {
        ancestors
            .iter()
            .copied()
            .find(|&a| matches!(role_shallow(index, a), Some(true)))
    };
    if c.is_abstract {
        return Role::None;
    }
    match c.orm {
        Orm::SqlAlchemy => {
            if let Some(t) = &c.table_name {
                return Role::Table(t.clone());
            }
            let naming = c
                .naming
                .filter(|_| c.root)
                .or_else(|| ancestors.iter().find_map(|&a| index.classes[a].naming));
            match (naming, concrete_ancestor()) {
                (_, Some(parent)) if c.fields.is_empty() || naming.is_none() => {
                    Role::SameAs(parent)
                }
                (Some(n), _) if !c.fields.is_empty() => Role::Table(name_table(&c.name, n)),
                _ => Role::None,
            }
        }
        Orm::Django => {
            let is_model =
                c.root || ancestors.iter().any(|&a| index.classes[a].root) || c.declares();
            if !is_model {
                return Role::None;
            }
            if c.proxy {
                return concrete_ancestor().map_or(Role::None, Role::SameAs);
            }
            Role::Table(django_table(c))
        }
    }
}

/// Whether a class is a concrete table on its own facts (for finding the parent of
/// an inheritance), without following its own ancestors.
fn role_shallow(index: &Index, i: usize) -> Option<bool> {
    let c = &index.classes[i];
    if c.is_abstract || c.proxy {
        return Some(false);
    }
    match c.orm {
        Orm::SqlAlchemy => Some(c.table_name.is_some()),
        Orm::Django => Some(c.declares() || c.root),
    }
}

fn name_table(class: &str, naming: Naming) -> String {
    match naming {
        Naming::Snake => snake_case(class),
        Naming::Lower => class.to_lowercase(),
    }
}

/// Django's default: `<app_label>_<model name, lowercased>`.
fn django_table(c: &ModelClass) -> String {
    if let Some(t) = &c.table_name {
        return t.clone();
    }
    match &c.app_label {
        Some(app) => format!("{app}_{}", c.name.to_lowercase()),
        None => c.name.to_lowercase(),
    }
}

fn column(fields: &[(String, String)], name: &str) -> String {
    fields
        .iter()
        .find(|(f, _)| f == name)
        .map_or_else(|| name.to_string(), |(_, c)| c.clone())
}

/// A Django reference (`"app.Model"`, `"Model"`, `"self"`, a class name) → the
/// referenced class, the same app first.
/// What Django references resolve against: the classes, their tables, and the
/// label `settings.AUTH_USER_MODEL` names.
struct Targets<'a> {
    index: &'a Index<'a>,
    tables: &'a [Option<String>],
    user_model: &'a str,
}

fn django_target(t: &Targets, from: usize, target: &str) -> String {
    let (index, tables) = (t.index, t.tables);
    let c = &index.classes[from];
    if target == "self" {
        return tables[from].clone().unwrap_or_else(|| django_table(c));
    }
    if target == super::django::AUTH_USER_MODEL {
        return django_target(t, from, t.user_model);
    }
    let (app, model) = match target.rsplit_once('.') {
        Some((a, m)) => (Some(a.rsplit('.').next().unwrap_or(a)), m),
        None => (None, target),
    };
    let candidates: Vec<usize> = index
        .by_name
        .get(model)
        .into_iter()
        .flatten()
        .copied()
        .filter(|&i| index.classes[i].orm == Orm::Django && tables[i].is_some())
        .collect();
    let wanted_app = app.map(str::to_string).or_else(|| c.app_label.clone());
    let pick = candidates
        .iter()
        .copied()
        .find(|&i| {
            wanted_app.is_some() && index.classes[i].app_label.as_deref() == wanted_app.as_deref()
        })
        .or_else(|| candidates.first().copied());
    match pick {
        Some(i) => tables[i].clone().unwrap_or_default(),
        // Another package's model (`auth.User`): its default table name.
        None => match (app, contrib_table(model)) {
            (None | Some("auth" | "contenttypes"), Some(t)) => t.to_string(),
            (Some(a), _) => format!("{}_{}", a.to_lowercase(), model.to_lowercase()),
            (None, None) => model.to_string(),
        },
    }
}

/// The tables of the `django.contrib` models projects point at by class.
fn contrib_table(model: &str) -> Option<&'static str> {
    Some(match model {
        "User" => "auth_user",
        "Group" => "auth_group",
        "Permission" => "auth_permission",
        "ContentType" => "django_content_type",
        _ => return None,
    })
}

/// The tables the classes describe, in class order. `user_model` is the label
/// `settings.AUTH_USER_MODEL` names (`auth.User` by default).
pub fn resolve(classes: &[ModelClass], user_model: &str) -> Vec<(Orm, Table)> {
    let index = Index::new(classes);
    let ancestors: Vec<Vec<usize>> = (0..classes.len()).map(|i| index.ancestors(i)).collect();
    let roles: Vec<Role> = (0..classes.len())
        .map(|i| role(&index, i, &ancestors[i]))
        .collect();
    let tables: Vec<Option<String>> = roles
        .iter()
        .map(|r| match r {
            Role::Table(t) => Some(t.clone()),
            _ => None,
        })
        .collect();
    let targets = Targets {
        index: &index,
        tables: &tables,
        user_model,
    };
    let mut out: Vec<(Orm, Table)> = Vec::new();
    for (i, c) in classes.iter().enumerate() {
        let Role::Table(name) = &roles[i] else {
            continue;
        };
        // Abstract ancestors and mixins contribute; a concrete parent is a table of
        // its own, reached (for Django) through a `<parent>_ptr_id` key.
        let mut contributors = vec![i];
        let mut parent_table: Option<usize> = None;
        let mut blocked: HashSet<usize> = HashSet::new();
        for &a in &ancestors[i] {
            if blocked.contains(&a) {
                blocked.extend(ancestors[a].iter().copied());
                continue;
            }
            if matches!(roles[a], Role::Table(_)) {
                parent_table.get_or_insert(a);
                blocked.extend(ancestors[a].iter().copied());
                continue;
            }
            contributors.push(a);
        }
        let fields: Vec<(String, String)> = contributors
            .iter()
            .flat_map(|&k| classes[k].fields.iter().cloned())
            .collect();
        let mut table = Table {
            name: name.clone(),
            aliases: vec![c.name.clone()],
            sources: vec![c.source.clone()],
            ..Table::default()
        };
        if c.orm == Orm::Django {
            table.aliases.push(format!("{}.objects", c.name));
        }
        for (k, &from) in contributors.iter().enumerate() {
            let class = &classes[from];
            // Django: a child that declares its own Meta keeps only that one.
            let meta_facts = k == 0 || !(c.orm == Orm::Django && c.has_meta);
            // SQLAlchemy's key is every `primary_key=True` column, mixins' included.
            if table.primary_key.is_empty() || c.orm == Orm::SqlAlchemy {
                for f in &class.primary_key {
                    let col = column(&fields, f);
                    if !table.primary_key.contains(&col) {
                        table.primary_key.push(col);
                    }
                }
            }
            for u in &class.unique {
                let cols: Vec<String> = u.iter().map(|f| column(&fields, f)).collect();
                let single = u.len() == 1 && class.fields.iter().any(|(f, _)| f == &u[0]);
                if (meta_facts || single) && !cols.is_empty() && !table.unique.contains(&cols) {
                    table.unique.push(cols);
                }
            }
            for fk in &class.foreign_keys {
                let mut fk = fk.clone();
                fk.columns = fk.columns.iter().map(|f| column(&fields, f)).collect();
                if c.orm == Orm::Django {
                    fk.references = django_target(&targets, i, &fk.references);
                }
                if !table.foreign_keys.iter().any(|x| x.columns == fk.columns) {
                    table.foreign_keys.push(fk);
                }
            }
            if table.version_column.is_none() {
                table.version_column = class.version_field.as_deref().map(|f| column(&fields, f));
            }
        }
        if c.orm == Orm::Django && table.primary_key.is_empty() {
            match parent_table {
                Some(p) => {
                    let ptr = format!("{}_ptr_id", classes[p].name.to_lowercase());
                    table.primary_key = vec![ptr.clone()];
                    table.foreign_keys.push(ForeignKey {
                        columns: vec![ptr],
                        references: tables[p].clone().unwrap_or_default(),
                        referenced_columns: Vec::new(),
                        on_delete: OnDelete::Cascade,
                        on_delete_known: true,
                        source: c.source.clone(),
                    });
                }
                None => table.primary_key = vec!["id".into()],
            }
        }
        for (field, target, source) in classes[i].many_to_many.iter().chain(
            contributors[1..]
                .iter()
                .flat_map(|&k| classes[k].many_to_many.iter()),
        ) {
            out.push((
                Orm::Django,
                through_table(&targets, i, &table, field, target, source),
            ));
        }
        out.push((c.orm, table));
    }
    // Classes sharing an ancestor's table are other names for it, and the
    // columns they add are that table's (single-table inheritance).
    for (i, r) in roles.iter().enumerate() {
        let Role::SameAs(parent) = r else { continue };
        let root = std::iter::successors(Some(*parent), |&p| match roles[p] {
            Role::SameAs(q) if q != p => Some(q),
            _ => None,
        })
        .take(MAX_DEPTH)
        .last()
        .unwrap_or(*parent);
        let Some(name) = &tables[root] else { continue };
        let Some((_, t)) = out.iter_mut().find(|(_, t)| &t.name == name) else {
            continue;
        };
        let class = &classes[i];
        t.aliases.push(class.name.clone());
        for u in &class.unique {
            let cols: Vec<String> = u.iter().map(|f| column(&class.fields, f)).collect();
            if !t.unique.contains(&cols) {
                t.unique.push(cols);
            }
        }
        for fk in &class.foreign_keys {
            let mut fk = fk.clone();
            fk.columns = fk
                .columns
                .iter()
                .map(|f| column(&class.fields, f))
                .collect();
            if !t.foreign_keys.iter().any(|x| x.columns == fk.columns) {
                t.foreign_keys.push(fk);
            }
        }
    }
    out
}

/// The table Django makes for a `ManyToManyField` without `through`:
/// `<model table>_<field>`, one key to each side, unique together.
fn through_table(
    targets: &Targets,
    from: usize,
    owner: &Table,
    field: &str,
    target: &str,
    source: &str,
) -> Table {
    let model = targets.index.classes[from].name.to_lowercase();
    let to_table = django_target(targets, from, target);
    let to_model = target.rsplit('.').next().unwrap_or(target).to_lowercase();
    let (a, b) = if target == "self" || to_model == model {
        (format!("from_{model}_id"), format!("to_{model}_id"))
    } else {
        (format!("{model}_id"), format!("{to_model}_id"))
    };
    let fk = |col: &str, references: &str| ForeignKey {
        columns: vec![col.to_string()],
        references: references.to_string(),
        referenced_columns: Vec::new(),
        on_delete: OnDelete::Cascade,
        on_delete_known: true,
        source: source.to_string(),
    };
    Table {
        name: format!("{}_{field}", owner.name),
        sources: vec![source.to_string()],
        primary_key: vec!["id".into()],
        unique: vec![vec![a.clone(), b.clone()]],
        foreign_keys: vec![fk(&a, &owner.name), fk(&b, &to_table)],
        ..Table::default()
    }
}
