//! What a Rust file declares and imports: the facts the project stage needs to
//! resolve a call in one file to a function of another (`project::rust`).
//!
//! Every path here is `::`-joined and relative to the file it was written in:
//! it starts with `self` (the file's own module), one or more `super` (its
//! parents), `crate`, or a crate's name (`lemmy_db_schema::source::Person`).
//! The frontend resolves what one file can see (its `use` items, its inline
//! `mod` blocks); only the project stage knows where the file sits in its crate.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct RustModule {
    /// For each of [`super::FileModel::functions`], in order: the path it is
    /// called by (`self::db::create`, `crate::models::User::find`, a trait's
    /// default method `self::Crud::delete`); empty for closures and functions
    /// nothing outside can name.
    pub paths: Vec<String>,
    /// Inline `mod name { … }` blocks (`self::tests`, `self::a::b`).
    pub modules: Vec<String>,
    /// Out-of-line `mod name;` declarations at the file's top level.
    pub child_files: Vec<String>,
    /// Types and traits declared (`self::User`, `self::repo::Crud`).
    pub types: Vec<String>,
    /// Every `use` item, re-exports included.
    pub imports: Vec<Import>,
    /// `impl Type` and `impl Trait for Type` blocks.
    pub impls: Vec<Impl>,
    /// Traits declared here, with the functions that are their default methods.
    pub traits: Vec<TraitDecl>,
}

/// `use target as name;` (or `use target::*;`, `name` `None`) in `module`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Import {
    /// The module the item is in: `self`, or an inline module (`self::tests`).
    pub module: String,
    pub name: Option<String>,
    pub target: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Impl {
    pub ty: String,
    pub trait_: Option<String>,
    /// Indexes into [`super::FileModel::functions`] of the methods it defines.
    pub functions: Vec<usize>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TraitDecl {
    pub path: String,
    /// Indexes into [`super::FileModel::functions`] of its default methods.
    pub defaults: Vec<usize>,
}
