//! The project stage, between lowering and the rules: every file of the project
//! root, lowered once, indexed so that a call in one file resolves to the
//! function it names in another, and linked — each linted function gets its
//! callees' effects (to a bounded depth), and a helper learns what its callers
//! pass it (their transaction).
//!
//! Same-file calls resolve as they always did ([`inline::SingleFile`]); calls
//! into other files go through the language's index: [`typescript::TsIndex`]
//! (imports, tsconfig paths, workspace packages, re-exports) and
//! [`rust::RustIndex`] (`use` paths, mod trees, workspace crates, trait impls and
//! default methods, methods by the receiver's type) and [`python::PyIndex`]
//! (imports from module roots and relative ones, `__init__.py` re-exports,
//! methods by the receiver's class). Project facts —
//! which tables are deleted anywhere — come from every file of the project, so
//! the findings for a file do not depend on which other files were named.

mod fields;
pub mod python;
mod registered;
pub mod rust;
mod script_only;
pub mod typescript;

use crate::budget::Budget;
use crate::discover::Language;
use crate::ir::inline::{self, Expanded, LocalIndex, Resolve};
use crate::ir::{FileModel, Function, LocalCall, Transaction};
use crate::source::SourceFile;
use std::path::Path;

/// One file of the project.
pub struct ProjectFile {
    pub source: SourceFile,
    pub model: FileModel,
    pub language: Option<Language>,
    pub role: crate::roles::Role,
    /// Named by the run (its findings are reported), or read only for what the
    /// rest of the project needs to know.
    pub linted: bool,
}

pub struct Project {
    pub files: Vec<ProjectFile>,
    /// Same-file resolution, per file.
    local: Vec<LocalIndex>,
    ts: typescript::TsIndex,
    rust: rust::RustIndex,
    python: python::PyIndex,
    /// The project file of each of the Rust index's files, and back.
    rust_files: Vec<usize>,
    rust_position: Vec<Option<usize>>,
    /// Who calls each function, across the project: (caller file, caller, call).
    callers: Vec<Vec<Vec<(usize, usize, usize)>>>,
    /// What each method's handle fields hold wherever its type is built.
    fields: fields::FieldTransactions,
}

impl Project {
    /// Indexes `files` (in a fixed order: the run sorts them by path) and resolves
    /// every call once.
    pub fn new(files: Vec<ProjectFile>, root: Option<&Path>) -> Project {
        let local = files.iter().map(|f| LocalIndex::new(&f.model)).collect();
        let ts = typescript::TsIndex::build(&files, root);
        let python = python::PyIndex::build(&files, root);
        // The Rust index numbers the project's Rust files in their own order.
        let rust_files: Vec<usize> = (0..files.len())
            .filter(|&i| files[i].language == Some(Language::Rust))
            .collect();
        let rust_listing: Vec<(&Path, &FileModel)> = rust_files
            .iter()
            .map(|&i| (files[i].source.path.as_path(), &files[i].model))
            .collect();
        let rust = rust::RustIndex::build(&rust_listing);
        drop(rust_listing);
        let mut rust_position = vec![None; files.len()];
        for (position, &i) in rust_files.iter().enumerate() {
            rust_position[i] = Some(position);
        }
        let callers = files
            .iter()
            .map(|f| vec![Vec::new(); f.model.functions.len()])
            .collect();
        let mut project = Project {
            files,
            local,
            ts,
            rust,
            python,
            rust_files,
            rust_position,
            callers,
            fields: Vec::new(),
        };
        let mut callers = std::mem::take(&mut project.callers);
        for (file, f) in project.files.iter().enumerate() {
            for (caller, function) in f.model.functions.iter().enumerate() {
                for (c, call) in function.calls.iter().enumerate() {
                    if let Some((tf, ti)) = project.resolve(file, call) {
                        callers[tf][ti].push((file, caller, c));
                    }
                }
            }
        }
        project.callers = callers;
        registered::mark(&mut project);
        script_only::mark(&mut project);
        project.fields = fields::field_transactions(&project);
        project
    }

    pub fn into_files(self) -> Vec<ProjectFile> {
        self.files
    }

    /// The functions of `file` with every call they make expanded, wherever it
    /// leads.
    pub fn link(&self, file: usize, budget: &mut Budget) -> Expanded {
        inline::expand_file(self, file, self.files[file].model.functions.len(), budget)
    }
}

impl Resolve for Project {
    fn function(&self, file: usize, index: usize) -> &Function {
        &self.files[file].model.functions[index]
    }

    fn resolve(&self, file: usize, call: &LocalCall) -> Option<(usize, usize)> {
        let here = &self.files[file];
        // An imported name is what its import says, even where a method of this
        // file has the same name.
        if here.language == Some(Language::Python)
            && python::PyIndex::imports_head(&here.model, call)
        {
            return self.python.resolve(&self.files, file, call);
        }
        if let Some(index) = self.local[file].resolve_here(&here.model, call) {
            return Some((file, index));
        }
        match here.language {
            Some(Language::TypeScript(_)) => self.ts.resolve(&self.files, file, call),
            Some(Language::Rust) => {
                let position = self.rust_position[file]?;
                let (target, index) = self.rust.resolve(position, call)?;
                Some((*self.rust_files.get(target)?, index))
            }
            Some(Language::Python) => self.python.resolve(&self.files, file, call),
            _ => None,
        }
    }

    /// A production function's callers in tests, scripts, seeds and migrations
    /// do not count: what they hold or lack says nothing of production runs.
    fn caller_sites(&self, file: usize, index: usize) -> Vec<(usize, usize, usize)> {
        let production = self.files[file].role == crate::roles::Role::Production;
        self.callers[file][index]
            .iter()
            .copied()
            .filter(|&(f, _, _)| {
                !production || self.files[f].role == crate::roles::Role::Production
            })
            .collect()
    }

    fn field_transactions(&self, file: usize, index: usize) -> Vec<(String, Transaction)> {
        self.fields[file][index].clone()
    }
}

/// The one function of `model` that `name` (then `.rest`) names: a function, or a
/// method of a class or of an object of methods (`UserService.create`); `None`
/// when no function or several have that name.
fn function_named(model: &FileModel, name: &str, rest: Option<&str>) -> Option<usize> {
    let wanted = match rest {
        Some(rest) => format!("{name}.{rest}"),
        None => name.to_string(),
    };
    let mut found = model
        .functions
        .iter()
        .enumerate()
        .filter(|(_, f)| f.name == wanted)
        .map(|(i, _)| i);
    let first = found.next()?;
    found.next().is_none().then_some(first)
}
