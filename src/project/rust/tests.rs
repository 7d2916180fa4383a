//! Resolution across the files of small crates written to a scratch folder (crate
//! names come from their `Cargo.toml`).

use std::path::{Path, PathBuf};

use super::RustIndex;
use crate::frontend::rust::lower;
use crate::ir::{FileModel, LocalCall};

struct Project {
    _dir: tempfile::TempDir,
    root: PathBuf,
    files: Vec<(PathBuf, FileModel)>,
    texts: Vec<String>,
}

/// Writes the manifests (`path`, text) and lowers the sources (`path`, text);
/// only the manifests need to exist on disk.
fn project(manifests: &[(&str, &str)], sources: &[(&str, &str)]) -> Project {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().to_path_buf();
    for (path, text) in manifests {
        let at = root.join(path);
        std::fs::create_dir_all(at.parent().expect("parent")).expect("mkdir");
        std::fs::write(at, text).expect("write manifest");
    }
    let files = sources
        .iter()
        .map(|(path, text)| (root.join(path), lower(text).expect("parses")))
        .collect();
    Project {
        _dir: dir,
        root,
        files,
        texts: sources.iter().map(|(_, t)| t.to_string()).collect(),
    }
}

fn one_crate(sources: &[(&str, &str)]) -> Project {
    project(
        &[(
            "Cargo.toml",
            "[package]\nname = \"app\"\nversion = \"0.1.0\"\n",
        )],
        sources,
    )
}

impl Project {
    fn index(&self) -> RustIndex {
        let files: Vec<(&Path, &FileModel)> =
            self.files.iter().map(|(p, m)| (p.as_path(), m)).collect();
        RustIndex::build(&files)
    }

    fn file(&self, rel: &str) -> usize {
        self.files
            .iter()
            .position(|(p, _)| p == &self.root.join(rel))
            .expect("file")
    }

    /// The call in function `caller` of `file` whose code contains `needle`.
    fn call(&self, file: &str, caller: &str, needle: &str) -> &LocalCall {
        let i = self.file(file);
        let f = self.files[i]
            .1
            .functions
            .iter()
            .find(|f| f.name == caller)
            .expect("caller");
        f.calls
            .iter()
            .find(|c| self.texts[i][c.span.range()].contains(needle))
            .unwrap_or_else(|| panic!("no call `{needle}` in {caller}: {:?}", f.calls))
    }

    /// What the call resolves to: (file, function name).
    fn resolve(&self, file: &str, caller: &str, needle: &str) -> Option<(String, String)> {
        let call = self.call(file, caller, needle);
        let (f, function) = self.index().resolve(self.file(file), call)?;
        let (path, model) = &self.files[f];
        let rel = path.strip_prefix(&self.root).expect("inside");
        Some((
            rel.to_string_lossy().into_owned(),
            model.functions[function].name.clone(),
        ))
    }
}

fn at(file: &str, function: &str) -> Option<(String, String)> {
    Some((file.to_string(), function.to_string()))
}

const LIB: &str = "pub mod api;\npub mod db;\npub mod models;\npub fn top() {}\n";

#[test]
fn use_items_name_types_and_modules_of_other_files() {
    let p = one_crate(&[
        ("src/lib.rs", LIB),
        ("src/db/mod.rs", "pub mod person;\n"),
        (
            "src/db/person.rs",
            "pub struct Person;\nimpl Person {\n    pub async fn create(conn: &mut C) {}\n}\npub fn insert(conn: &mut C) {}\n",
        ),
        (
            "src/api.rs",
            r#"
use crate::db::person::Person;
use crate::db;
use super::top as go;
pub async fn register(conn: &mut C) {
    Person::create(conn).await;
    db::person::insert(conn);
    crate::db::person::insert(conn);
    go();
    Person::missing(conn);
}
"#,
        ),
    ]);
    let want = at("src/db/person.rs", "Person::create");
    assert_eq!(p.resolve("src/api.rs", "register", "Person::create"), want);
    let insert = at("src/db/person.rs", "insert");
    assert_eq!(
        p.resolve("src/api.rs", "register", "db::person::insert"),
        insert
    );
    assert_eq!(p.resolve("src/api.rs", "register", "crate::db"), insert);
    assert_eq!(
        p.resolve("src/api.rs", "register", "go()"),
        at("src/lib.rs", "top")
    );
    assert_eq!(p.resolve("src/api.rs", "register", "missing"), None);
}

#[test]
fn relative_paths_start_at_the_calling_files_module() {
    let p = one_crate(&[
        ("src/lib.rs", "pub mod a;\npub fn top() {}\n"),
        ("src/a/mod.rs", "pub mod b;\npub mod c;\n"),
        ("src/a/c.rs", "pub fn f() {}\n"),
        (
            "src/a/b.rs",
            r#"
pub fn caller() {
    super::c::f();
    self::inner::g();
    crate::top();
    super::super::top();
}
pub mod inner {
    pub fn g() {}
    pub fn h() { super::super::c::f(); }
}
"#,
        ),
    ]);
    let f = at("src/a/c.rs", "f");
    assert_eq!(p.resolve("src/a/b.rs", "caller", "super::c::f"), f);
    assert_eq!(
        p.resolve("src/a/b.rs", "caller", "inner::g"),
        at("src/a/b.rs", "g")
    );
    let top = at("src/lib.rs", "top");
    assert_eq!(p.resolve("src/a/b.rs", "caller", "crate::top"), top);
    assert_eq!(p.resolve("src/a/b.rs", "caller", "super::super::top"), top);
    assert_eq!(p.resolve("src/a/b.rs", "h", "c::f"), f);
}

#[test]
fn re_exports_and_globs_are_followed() {
    let p = one_crate(&[
        ("src/lib.rs", LIB),
        ("src/models/mod.rs", "mod person;\npub use self::person::Person;\npub use person::helpers::*;\n"),
        (
            "src/models/person.rs",
            "pub struct Person;\nimpl Person { pub fn find(c: &C) {} }\npub mod helpers { pub fn audit() {} }\n",
        ),
        (
            "src/db.rs",
            "use crate::models::Person;\nimpl Person { pub fn save(&self, c: &C) {} }\n",
        ),
        (
            "src/api.rs",
            r#"
use crate::models::*;
pub fn by_glob(c: &C) {
    Person::find(c);
    audit();
}
pub fn by_path(c: &C) {
    crate::models::Person::find(c);
    crate::models::Person::save(c);
    crate::models::audit();
}
"#,
        ),
    ]);
    let find = at("src/models/person.rs", "Person::find");
    assert_eq!(p.resolve("src/api.rs", "by_glob", "Person::find"), find);
    assert_eq!(p.resolve("src/api.rs", "by_path", "Person::find"), find);
    let audit = at("src/models/person.rs", "audit");
    assert_eq!(p.resolve("src/api.rs", "by_glob", "audit"), audit);
    assert_eq!(p.resolve("src/api.rs", "by_path", "audit"), audit);
    // A method declared in an `impl` of a file that imported the type is the type's.
    let save = at("src/db.rs", "Person::save");
    assert_eq!(p.resolve("src/api.rs", "by_path", "Person::save"), save);
}

#[test]
fn methods_on_locals_fields_and_self_by_their_type() {
    let p = one_crate(&[
        ("src/lib.rs", LIB),
        (
            "src/models.rs",
            "pub struct User;\nimpl User {\n    pub fn new() -> Self { User }\n    pub async fn save(&self, c: &C) {}\n}\npub struct PgRepo;\nimpl PgRepo { pub async fn store(&self) {} }\n",
        ),
        ("src/db.rs", "use crate::models::User;\nimpl User { pub fn audit(&self) {} }\n"),
        (
            "src/api.rs",
            r#"
use crate::models::{User, PgRepo};
use std::sync::Arc;
pub struct Service { repo: Arc<PgRepo> }
impl Service {
    pub async fn run(&self, c: &C, given: &User) {
        let typed: User = load();
        typed.save(c).await;
        let built = User::new();
        built.save(c).await;
        let literal = User {};
        literal.save(c).await;
        given.save(c).await;
        self.repo.store().await;
        self.audit();
        Self::helper();
    }
    pub async fn with_self(&self) {
        let u = User::new();
        u.audit();
    }
}
"#,
        ),
        ("src/service_ext.rs", "use crate::api::Service;\nimpl Service { pub fn helper() {} pub fn audit(&self) {} }\n"),
    ]);
    let save = at("src/models.rs", "User::save");
    assert_eq!(p.resolve("src/api.rs", "Service::run", "typed.save"), save);
    assert_eq!(p.resolve("src/api.rs", "Service::run", "built.save"), save);
    assert_eq!(
        p.resolve("src/api.rs", "Service::run", "literal.save"),
        save
    );
    assert_eq!(p.resolve("src/api.rs", "Service::run", "given.save"), save);
    let store = at("src/models.rs", "PgRepo::store");
    assert_eq!(
        p.resolve("src/api.rs", "Service::run", "self.repo.store"),
        store
    );
    let ext = at("src/service_ext.rs", "Service::helper");
    assert_eq!(p.resolve("src/api.rs", "Service::run", "Self::helper"), ext);
    let audit = at("src/service_ext.rs", "Service::audit");
    assert_eq!(p.resolve("src/api.rs", "Service::run", "self.audit"), audit);
    let user_audit = at("src/db.rs", "User::audit");
    assert_eq!(
        p.resolve("src/api.rs", "Service::with_self", "u.audit"),
        user_audit
    );
}

#[test]
fn trait_impls_and_default_methods() {
    let p = one_crate(&[
        ("src/lib.rs", "pub mod traits;\npub mod person;\npub mod post;\npub mod api;\n"),
        (
            "src/traits.rs",
            r#"
pub trait Crud {
    async fn create(c: &C) -> Self;
    async fn delete(&self, c: &C) { sqlx::query("DELETE FROM x").execute(c).await; }
    async fn read(c: &C) {}
}
"#,
        ),
        (
            "src/person.rs",
            "use crate::traits::Crud;\npub struct Person;\nimpl Crud for Person {\n    async fn create(c: &C) -> Self { Person }\n    async fn read(c: &C) {}\n}\n",
        ),
        (
            "src/post.rs",
            "pub struct Post;\nimpl crate::traits::Crud for Post { async fn create(c: &C) -> Self { Post } }\nimpl Post { async fn read(c: &C) {} }\n",
        ),
        (
            "src/api.rs",
            r#"
use crate::person::Person;
use crate::post::Post;
pub async fn handler(c: &C) {
    Person::create(c).await;
    Person::delete(c).await;
    Person::read(c).await;
    Post::delete(c).await;
    Post::read(c).await;
}
"#,
        ),
    ]);
    let h = |needle| p.resolve("src/api.rs", "handler", needle);
    assert_eq!(h("Person::create"), at("src/person.rs", "Person::create"));
    assert_eq!(h("Person::delete"), at("src/traits.rs", "Crud::delete"));
    assert_eq!(h("Person::read"), at("src/person.rs", "Person::read"));
    assert_eq!(h("Post::delete"), at("src/traits.rs", "Crud::delete"));
    // The inherent method shadows the trait's default.
    assert_eq!(h("Post::read"), at("src/post.rs", "Post::read"));
}

#[test]
fn two_candidates_are_no_answer() {
    let p = one_crate(&[
        (
            "src/lib.rs",
            "pub mod a;\npub mod b;\npub mod c;\npub mod api;\n",
        ),
        (
            "src/a.rs",
            "pub fn shared() {}\npub struct Person;\nimpl Person { pub fn create() {} }\n",
        ),
        (
            "src/b.rs",
            "pub fn shared() {}\npub struct Person;\nimpl Person { pub fn create() {} }\n",
        ),
        (
            "src/c.rs",
            "pub struct Account;\nimpl Account { pub fn open() {} }\n",
        ),
        (
            "src/api.rs",
            r#"
use crate::a::*;
use crate::b::*;
use crate::generated::{Person, Account};
pub fn handler() {
    shared();
    Person::create();
    Account::open();
}
"#,
        ),
    ]);
    let h = |needle| p.resolve("src/api.rs", "handler", needle);
    let shared = &p.call("src/api.rs", "handler", "shared").qualified;
    assert_eq!(shared, &["crate::a::shared", "crate::b::shared"]);
    assert_eq!(h("shared"), None, "two globs supply `shared`");
    assert_eq!(h("Person::create"), None, "two types named Person");
    // A module the index cannot see: the one `Account::open` of the crate.
    assert_eq!(h("Account::open"), at("src/c.rs", "Account::open"));
}

#[test]
fn cyclic_re_exports_end() {
    let p = one_crate(&[
        ("src/lib.rs", "pub mod a;\npub mod b;\npub mod api;\n"),
        ("src/a.rs", "pub use crate::b::Thing;\npub use crate::b::*;\n"),
        ("src/b.rs", "pub use crate::a::Thing;\npub use crate::a::*;\npub fn real() {}\n"),
        (
            "src/api.rs",
            "pub fn handler() {\n    crate::a::Thing::go();\n    crate::a::nothing();\n    crate::a::real();\n}\n",
        ),
    ]);
    let h = |needle| p.resolve("src/api.rs", "handler", needle);
    assert_eq!(h("Thing::go"), None);
    assert_eq!(h("nothing"), None);
    assert_eq!(h("a::real"), at("src/b.rs", "real"));
}

#[test]
fn workspace_crates_by_name() {
    let p = project(
        &[
            ("Cargo.toml", "[workspace]\nmembers = [\"crates/*\"]\n"),
            (
                "crates/db/Cargo.toml",
                "[package]\nname = \"my-db\"\nversion = \"0.1.0\"\n",
            ),
            (
                "crates/store/Cargo.toml",
                "[package]\nname = \"store-impl\"\nversion = \"0.1.0\"\n[lib]\nname = \"store\"\n",
            ),
            (
                "crates/api/Cargo.toml",
                "[package]\nname = \"api\"\nversion = \"0.1.0\"\n",
            ),
        ],
        &[
            ("crates/db/src/lib.rs", "pub mod models;\npub mod person;\n"),
            (
                "crates/db/src/models.rs",
                "pub struct User;\nimpl User { pub fn find(c: &C) {} }\n",
            ),
            ("crates/db/src/person.rs", "pub fn create(c: &C) {}\n"),
            ("crates/store/src/lib.rs", "pub fn put() {}\n"),
            (
                "crates/api/src/lib.rs",
                "pub mod routes;\npub fn serve() {}\n",
            ),
            (
                "crates/api/src/routes.rs",
                r#"
use my_db::models::User as U;
pub fn handler(c: &C) {
    U::find(c);
    my_db::person::create(c);
    store::put();
    crate::serve();
}
"#,
            ),
            (
                "crates/api/src/main.rs",
                "use api::serve;\nfn main() { serve(); }\n",
            ),
        ],
    );
    let h = |needle| p.resolve("crates/api/src/routes.rs", "handler", needle);
    assert_eq!(h("U::find"), at("crates/db/src/models.rs", "User::find"));
    assert_eq!(h("person::create"), at("crates/db/src/person.rs", "create"));
    assert_eq!(h("store::put"), at("crates/store/src/lib.rs", "put"));
    assert_eq!(h("crate::serve"), at("crates/api/src/lib.rs", "serve"));
    let main = p.resolve("crates/api/src/main.rs", "main", "serve");
    assert_eq!(main, at("crates/api/src/lib.rs", "serve"));
}

#[test]
fn a_test_module_sees_its_parents_imports_through_its_glob() {
    let p = one_crate(&[
        ("src/lib.rs", LIB),
        (
            "src/models.rs",
            "pub struct User;\nimpl User { pub fn find() {} }\n",
        ),
        (
            "src/api.rs",
            r#"
use crate::models::User;
#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn finds() {
        User::find();
        Vec::<u8>::new();
    }
}
"#,
        ),
    ]);
    let find = p.resolve("src/api.rs", "finds", "User::find");
    assert_eq!(find, at("src/models.rs", "User::find"));
    let call = p.call("src/api.rs", "finds", "User::find");
    assert_eq!(call.qualified, ["crate::models::User::find"]);
    let calls = &p.files[p.file("src/api.rs")].1.functions[0].calls;
    assert_eq!(calls.len(), 1, "`Vec` is not the parent's: {calls:?}");
}

#[test]
fn targets_the_manifest_places_own_their_folder() {
    let p = project(
        &[(
            "Cargo.toml",
            "[package]\nname = \"app\"\nversion = \"0.1.0\"\n[[test]]\nname = \"integration\"\npath = \"src/tests/mod.rs\"\n",
        )],
        &[
            ("src/lib.rs", "pub mod tests_support;\npub fn serve() {}\n"),
            ("src/tests/mod.rs", "mod builders;\nmod routes;\n"),
            ("src/tests/builders.rs", "pub struct CrateBuilder;\nimpl CrateBuilder { pub fn new() -> Self { CrateBuilder } }\n"),
            (
                "src/tests/routes.rs",
                "use crate::builders::CrateBuilder;\nfn route() {\n    CrateBuilder::new();\n    app::serve();\n}\n",
            ),
        ],
    );
    let h = |needle| p.resolve("src/tests/routes.rs", "route", needle);
    assert_eq!(
        h("CrateBuilder::new"),
        at("src/tests/builders.rs", "CrateBuilder::new")
    );
    assert_eq!(h("serve"), at("src/lib.rs", "serve"));
}

#[test]
fn glob_imports_of_crates_and_cycles_of_modules_stay_bounded() {
    let crates: String = (0..12).map(|i| format!("use dep{i}::*;\n")).collect();
    let text = format!(
        "{crates}mod a {{ use super::*; pub use super::b::*; }}\n\
         mod b {{ use super::*; pub use super::a::*; pub fn g() {{}} }}\n\
         use a::*;\nuse b::*;\nfn f() {{ helper(); }}\n"
    );
    let model = lower(&text).expect("parses");
    let f = model.functions.iter().find(|f| f.name == "f").expect("f");
    let call = &f.calls[0].qualified;
    assert_eq!(call.len(), 12, "one candidate per crate glob: {call:?}");
    assert!(call.iter().all(|c| c.starts_with("dep")), "{call:?}");
}

#[test]
fn files_outside_any_package_resolve_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("loose.rs");
    let model = lower("use crate::a::f;\nfn g() { f(); }\n").expect("parses");
    let index = RustIndex::build(&[(path.as_path(), &model)]);
    let call = &model.functions[0].calls[0];
    assert_eq!(index.resolve(0, call), None);
    assert_eq!(index.resolve(7, call), None, "no such file");
}

/// Counts on real projects, printed:
/// `RACELINT_DEVSET=/work/devset cargo test --lib measure_devset -- --ignored --nocapture`.
#[test]
#[ignore]
fn measure_devset() {
    let Ok(root) = std::env::var("RACELINT_DEVSET") else {
        return;
    };
    let apps = std::env::var("RACELINT_APPS")
        .unwrap_or_else(|_| "lemmy,crates.io,vaultwarden,lldap,svix-webhooks".into());
    for app in apps.split(',') {
        let dir = Path::new(&root).join(app);
        let mut paths: Vec<PathBuf> = ignore::WalkBuilder::new(&dir)
            .build()
            .filter_map(Result::ok)
            .map(|e| e.into_path())
            .filter(|p| p.extension().is_some_and(|e| e == "rs"))
            .collect();
        paths.sort();
        let mut files = Vec::new();
        let mut texts = Vec::new();
        for p in paths {
            let Ok(text) = std::fs::read_to_string(&p) else {
                continue;
            };
            if let Ok(model) = lower(&text) {
                files.push((p, model));
                texts.push(text);
            }
        }
        let refs: Vec<(&Path, &FileModel)> = files.iter().map(|(p, m)| (p.as_path(), m)).collect();
        let started = std::time::Instant::now();
        let index = RustIndex::build(&refs);
        let built = started.elapsed();
        let (mut calls, mut qualified, mut foreign, mut resolved, mut across, mut ambiguous) =
            (0, 0, 0, 0, 0, 0);
        let mut samples = Vec::new();
        // Unresolved calls into a crate of the project: what the index misses.
        let mut missed = Vec::new();
        for (i, (_, model)) in files.iter().enumerate() {
            for f in &model.functions {
                for c in &f.calls {
                    calls += 1;
                    if c.qualified.is_empty() {
                        continue;
                    }
                    qualified += 1;
                    foreign += usize::from(c.callee.is_empty());
                    let targets = index.targets(i, c);
                    match index.resolve(i, c) {
                        Some((tf, tfn)) => {
                            resolved += 1;
                            if tf != i {
                                across += 1;
                                samples.push((i, c.span, tf, tfn));
                            }
                        }
                        None if !targets.is_empty() => {
                            ambiguous += 1;
                            if ambiguous <= 3 {
                                let line = texts[i][..c.span.start as usize].lines().count();
                                let names: Vec<String> = targets
                                    .iter()
                                    .map(|t| {
                                        let p = files[t.file].0.strip_prefix(&dir);
                                        format!("{}", p.unwrap_or(&files[t.file].0).display())
                                    })
                                    .collect();
                                let name = files[i].0.strip_prefix(&dir).unwrap_or(&files[i].0);
                                println!(
                                    "  ambiguous {}:{line} {:?} {names:?}",
                                    name.display(),
                                    c.qualified
                                );
                            }
                        }
                        None => {
                            let head = index.absolute(i, &c.qualified[0]).map(|p| p[0].clone());
                            if head.is_some_and(|h| index.modules.contains_key(&h)) {
                                missed.push((i, c.span, c.qualified[0].clone()));
                            }
                        }
                    }
                }
            }
        }
        println!(
            "{app}: {} files, {calls} calls, {qualified} with a qualified path ({foreign} not same-file), \
             {resolved} resolved ({across} into another file), {ambiguous} ambiguous, \
             {} unresolved into a project crate; index built in {built:?}",
            files.len(),
            missed.len()
        );
        let step = (samples.len() / 10).max(1);
        for &(i, span, tf, tfn) in samples.iter().step_by(step).take(10) {
            let line = texts[i][..span.start as usize].lines().count();
            let code: String = texts[i][span.range()]
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            println!(
                "  {}:{line} `{}` → {} `{}`",
                files[i]
                    .0
                    .strip_prefix(&dir)
                    .unwrap_or(&files[i].0)
                    .display(),
                code.chars().take(90).collect::<String>(),
                files[tf]
                    .0
                    .strip_prefix(&dir)
                    .unwrap_or(&files[tf].0)
                    .display(),
                files[tf].1.functions[tfn].name
            );
        }
        let step = (missed.len() / 10).max(1);
        for (i, span, path) in missed.iter().step_by(step).take(10) {
            let line = texts[*i][..span.start as usize].lines().count();
            let name = files[*i].0.strip_prefix(&dir).unwrap_or(&files[*i].0);
            println!("  missed {}:{line} {path}", name.display());
        }
    }
}
