//! The names one Rust file can see, resolved without leaving the file: its `use`
//! items, its inline `mod` blocks, the items each module declares and the field
//! types of its structs. A path written in the code (`Person::create`,
//! `db::person::create`, `super::x::f`) becomes the paths it may stand for, in
//! the form [`crate::ir::items`] describes (`crate::db::person::Person::create`);
//! the project stage places them in the crate.

use std::collections::{HashMap, HashSet};

use syn::Item;

use crate::ir::items::{Import, RustModule};

/// How many `use` items a path may pass through inside one file: enough for any
/// real chain, and an end to `use a as b; use b as a;`.
const MAX_HOPS: usize = 8;
/// Scopes one resolution may search: glob imports between the modules of a
/// file can form cycles, and each hop fans out over every glob.
const MAX_STEPS: usize = 64;

/// The standard prelude's types, traits and functions code calls through.
const PRELUDE: &[&str] = &[
    "Option",
    "Result",
    "Vec",
    "String",
    "Box",
    "Default",
    "Clone",
    "ToString",
    "ToOwned",
    "Into",
    "From",
    "TryFrom",
    "TryInto",
    "Iterator",
    "IntoIterator",
    "AsRef",
    "AsMut",
    "PartialEq",
    "PartialOrd",
    "Eq",
    "Ord",
    "Extend",
    "drop",
];

/// What one module of the file (the file itself, or an inline `mod`) can see.
#[derive(Default)]
struct Scope {
    /// Names bound by `use`, to their path as written.
    uses: HashMap<String, Vec<String>>,
    globs: Vec<Vec<String>>,
    /// Items declared in the module: functions, types, traits, modules, constants.
    items: HashSet<String>,
}

#[derive(Default)]
pub(super) struct Names {
    /// By inline-module path inside the file (`[]` for the file itself).
    scopes: HashMap<Vec<String>, Scope>,
    /// Struct fields by struct name: field → its type as written.
    fields: HashMap<String, HashMap<String, Vec<String>>>,
    module: RustModule,
    /// What is left of [`MAX_STEPS`] for the resolution under way.
    steps: std::cell::Cell<usize>,
}

impl Names {
    pub(super) fn collect(items: &[Item]) -> Names {
        let mut names = Names::default();
        names.collect_scope(&[], items);
        let mut imports = Vec::new();
        let mut scopes: Vec<_> = names.scopes.iter().collect();
        scopes.sort_by(|a, b| a.0.cmp(b.0));
        for (scope, s) in scopes {
            let module = self_path(scope).join("::");
            let mut bound: Vec<_> = s.uses.iter().collect();
            bound.sort();
            for (name, target) in bound {
                if let Some(t) = names.resolve_use(scope, target).first() {
                    imports.push(Import {
                        module: module.clone(),
                        name: Some(name.clone()),
                        target: t.join("::"),
                    });
                }
            }
            for glob in &s.globs {
                for t in names.resolve_use(scope, glob) {
                    imports.push(Import {
                        module: module.clone(),
                        name: None,
                        target: t.join("::"),
                    });
                }
            }
        }
        names.module.imports = imports;
        names
    }

    fn collect_scope(&mut self, scope: &[String], items: &[Item]) {
        let mut s = Scope::default();
        for item in items {
            let declared = match item {
                Item::Fn(f) => Some(&f.sig.ident),
                Item::Struct(st) => {
                    let fields = st
                        .fields
                        .iter()
                        .filter_map(|f| Some((f.ident.as_ref()?.to_string(), type_path(&f.ty)?)))
                        .collect();
                    self.fields.insert(st.ident.to_string(), fields);
                    self.declare_type(scope, &st.ident);
                    Some(&st.ident)
                }
                Item::Enum(syn::ItemEnum { ident, .. })
                | Item::Union(syn::ItemUnion { ident, .. })
                | Item::Type(syn::ItemType { ident, .. })
                | Item::Trait(syn::ItemTrait { ident, .. }) => {
                    self.declare_type(scope, ident);
                    Some(ident)
                }
                Item::Const(c) => Some(&c.ident),
                Item::Static(c) => Some(&c.ident),
                Item::Mod(m) => {
                    let mut inner = scope.to_vec();
                    inner.push(m.ident.to_string());
                    if let Some((_, content)) = &m.content {
                        self.module.modules.push(self_path(&inner).join("::"));
                        self.collect_scope(&inner, content);
                    } else if scope.is_empty() {
                        self.module.child_files.push(m.ident.to_string());
                    }
                    Some(&m.ident)
                }
                Item::Use(u) => {
                    use_tree(&u.tree, &mut Vec::new(), &mut s);
                    None
                }
                _ => None,
            };
            if let Some(ident) = declared {
                s.items.insert(ident.to_string());
            }
        }
        self.scopes.insert(scope.to_vec(), s);
    }

    fn declare_type(&mut self, scope: &[String], ident: &syn::Ident) {
        let mut path = self_path(scope);
        path.push(ident.to_string());
        self.module.types.push(path.join("::"));
    }

    /// The paths `segs`, written in inline module `scope`, may stand for; `self_ty`
    /// is what `Self` names there. Several only when the name comes from one of
    /// several glob imports; none when it is not the project's to resolve (an
    /// unimported name, `std`).
    pub(super) fn resolve(
        &self,
        scope: &[String],
        segs: &[String],
        self_ty: &[Vec<String>],
    ) -> Vec<Vec<String>> {
        match segs.first().map(String::as_str) {
            Some("Self") => self_ty
                .iter()
                .map(|t| t.iter().chain(&segs[1..]).cloned().collect())
                .collect(),
            Some("std" | "core" | "alloc") | None => Vec::new(),
            Some(_) => {
                self.steps.set(MAX_STEPS);
                dedup(self.resolve_in(scope, segs, 0))
            }
        }
    }

    fn resolve_use(&self, scope: &[String], target: &[String]) -> Vec<Vec<String>> {
        self.steps.set(MAX_STEPS);
        dedup(self.resolve_target(scope, target, 0))
    }

    /// A `use` path: like code's, except that a lone unbound name is a crate
    /// (`use serde_json::*` imports from the crate, not through other globs).
    fn resolve_target(&self, scope: &[String], target: &[String], hops: usize) -> Vec<Vec<String>> {
        if let [name] = target {
            let bound = self
                .scopes
                .get(scope)
                .is_some_and(|s| s.uses.contains_key(name) || s.items.contains(name));
            if !bound && !matches!(name.as_str(), "crate" | "self" | "super") {
                return vec![target.to_vec()];
            }
        }
        self.resolve_in(scope, target, hops)
    }

    fn resolve_in(&self, scope: &[String], segs: &[String], hops: usize) -> Vec<Vec<String>> {
        let Some(head) = segs.first() else {
            return Vec::new();
        };
        let left = self.steps.get();
        if left == 0 {
            return Vec::new();
        }
        self.steps.set(left - 1);
        let rest = &segs[1..];
        match head.as_str() {
            "crate" => return vec![segs.to_vec()],
            "self" => return vec![join(self_path(scope), rest)],
            "super" => {
                let ups = segs.iter().take_while(|s| *s == "super").count();
                let rest = &segs[ups..];
                let path = if ups <= scope.len() {
                    self_path(&scope[..scope.len() - ups])
                } else {
                    std::iter::repeat_n("super".to_string(), ups - scope.len()).collect()
                };
                return vec![join(path, rest)];
            }
            _ => {}
        }
        let Some(s) = self.scopes.get(scope) else {
            return Vec::new();
        };
        if let Some(target) = s.uses.get(head) {
            let whole = join(target.clone(), rest);
            // `use diesel;` names the crate itself, not a binding to follow.
            if target.first() == Some(head) || hops >= MAX_HOPS {
                return vec![whole];
            }
            return self.resolve_in(scope, &whole, hops + 1);
        }
        if s.items.contains(head) {
            return vec![join(self_path(scope), segs)];
        }
        if !rest.is_empty() && head.starts_with(|c: char| c.is_lowercase() || c == '_') {
            // An external or workspace crate.
            return vec![segs.to_vec()];
        }
        // A glob could shadow the prelude; real code never has it do so.
        if hops >= MAX_HOPS || PRELUDE.contains(&head.as_str()) {
            return Vec::new();
        }
        s.globs
            .iter()
            .flat_map(|g| self.through_glob(scope, g, segs, hops + 1))
            .collect()
    }

    /// `segs` through `use g::*`: a module of this file (`use super::*` in a
    /// test module) supplies only what it has; another file's, anything.
    fn through_glob(
        &self,
        scope: &[String],
        glob: &[String],
        segs: &[String],
        hops: usize,
    ) -> Vec<Vec<String>> {
        let Some(target) = self.resolve_target(scope, glob, hops).into_iter().next() else {
            return Vec::new();
        };
        match target.split_first() {
            Some((head, inner)) if head == "self" && self.scopes.contains_key(inner) => {
                if inner == scope {
                    return Vec::new();
                }
                let found = self.resolve_in(inner, segs, hops);
                // Only what the module declares or imports, not a guess at a crate.
                let supplied = self.scopes[inner].uses.contains_key(&segs[0])
                    || self.scopes[inner].items.contains(&segs[0])
                    || !self.scopes[inner].globs.is_empty();
                if supplied {
                    found
                } else {
                    Vec::new()
                }
            }
            _ => vec![join(target, segs)],
        }
    }

    /// The type of field `field` of struct `ty` (as written), if the struct is
    /// declared in this file.
    pub(super) fn field_type(&self, ty: &[String], field: &str) -> Option<&Vec<String>> {
        self.fields.get(ty.last()?)?.get(field)
    }

    pub(super) fn module_mut(&mut self) -> &mut RustModule {
        &mut self.module
    }

    pub(super) fn into_module(self) -> RustModule {
        self.module
    }
}

fn use_tree(tree: &syn::UseTree, prefix: &mut Vec<String>, scope: &mut Scope) {
    match tree {
        syn::UseTree::Path(p) => {
            prefix.push(p.ident.to_string());
            use_tree(&p.tree, prefix, scope);
            prefix.pop();
        }
        syn::UseTree::Name(n) => {
            let name = n.ident.to_string();
            if name == "self" {
                if let Some(last) = prefix.last() {
                    scope.uses.insert(last.clone(), prefix.clone());
                }
            } else {
                scope
                    .uses
                    .insert(name.clone(), join(prefix.clone(), &[name]));
            }
        }
        syn::UseTree::Rename(r) => {
            let alias = r.rename.to_string();
            if alias == "_" {
                return;
            }
            let name = r.ident.to_string();
            let target = if name == "self" {
                prefix.clone()
            } else {
                join(prefix.clone(), &[name])
            };
            scope.uses.insert(alias, target);
        }
        syn::UseTree::Glob(_) => scope.globs.push(prefix.clone()),
        syn::UseTree::Group(g) => {
            for t in &g.items {
                use_tree(t, prefix, scope);
            }
        }
    }
}

fn dedup(mut paths: Vec<Vec<String>>) -> Vec<Vec<String>> {
    let mut seen = HashSet::new();
    paths.retain(|p| seen.insert(p.clone()));
    paths
}

/// `self` followed by the inline modules the code is in.
pub(super) fn self_path(scope: &[String]) -> Vec<String> {
    std::iter::once("self".to_string())
        .chain(scope.iter().cloned())
        .collect()
}

fn join(mut head: Vec<String>, rest: &[String]) -> Vec<String> {
    head.extend(rest.iter().cloned());
    head
}

/// The path of the type a value of type `ty` is used as: references and the
/// smart pointers a method call sees through are peeled (`&mut Arc<PgRepo>` →
/// `PgRepo`). `None` for what no method of the project can be declared on.
pub(super) fn type_path(ty: &syn::Type) -> Option<Vec<String>> {
    match ty {
        syn::Type::Reference(r) => type_path(&r.elem),
        syn::Type::Paren(p) => type_path(&p.elem),
        syn::Type::Group(g) => type_path(&g.elem),
        syn::Type::Path(p) if p.qself.is_none() => {
            let last = p.path.segments.last()?;
            if matches!(
                last.ident.to_string().as_str(),
                "Arc" | "Rc" | "Box" | "Data" | "Extension"
            ) {
                if let syn::PathArguments::AngleBracketed(a) = &last.arguments {
                    if let Some(syn::GenericArgument::Type(inner)) = a.args.first() {
                        return type_path(inner);
                    }
                }
            }
            Some(segments(&p.path))
        }
        _ => None,
    }
}

/// A path's names, without generic arguments (`Vec::<u8>::new` → `Vec`, `new`).
pub(super) fn segments(p: &syn::Path) -> Vec<String> {
    p.segments.iter().map(|s| s.ident.to_string()).collect()
}

/// Whether a path's last segment names a function rather than a type, a variant
/// or a tuple struct (`Person::create`, not `Some` or `Error::NotFound`).
pub(super) fn names_function(segs: &[String]) -> bool {
    segs.last()
        .is_some_and(|s| s.starts_with(|c: char| c.is_lowercase() || c == '_'))
}
