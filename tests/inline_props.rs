//! Property tests of inlining. Random same-file call graphs — up to 20 functions,
//! recursion and mutual recursion, database handles passed in any argument
//! position, nested transactions, savepoints and transaction callbacks — are
//! written out as real Rust (sqlx) and TypeScript (Prisma) code, lowered by the
//! frontends and inlined. Every model, before and after inlining, must be
//! well formed (the transaction forest acyclic and in bounds, every index an
//! effect holds pointing at something that exists), and every rule must finish on
//! every function.
//!
//! A failure proptest shrinks is kept in `tests/inline_props.proptest-regressions`
//! and replayed first on every run.

use proptest::prelude::*;
use racelint::frontend::{rust, typescript};
use racelint::ir::{inline, FileModel, Function};
use racelint::rules::{Context, ProjectFacts, RULES};
use racelint::schema::Schema;
use racelint::source::SourceFile;
use std::fmt::Write as _;
use std::path::PathBuf;

#[derive(Clone, Copy, Debug)]
enum Param {
    Pool,
    Connection,
    Transaction,
    Id,
}

#[derive(Clone, Debug)]
enum Stmt {
    /// A statement through a handle: `kind` picks update, insert, delete,
    /// read-then-insert, advisory lock or locking read; `table` one of four tables.
    Query {
        kind: u8,
        handle: u8,
        table: u8,
    },
    /// A transaction (or a savepoint, on a transaction) begun on a handle.
    Begin {
        handle: u8,
    },
    Commit {
        handle: u8,
    },
    /// A call of another function of the file (or of itself), handles passed by
    /// position.
    Call {
        callee: u8,
        args: Vec<u8>,
    },
    If {
        body: Vec<Stmt>,
    },
    /// A transaction callback on a handle, its body using the callback's handle.
    InTransaction {
        handle: u8,
        body: Vec<Stmt>,
    },
}

#[derive(Clone, Debug)]
struct Func {
    params: Vec<Param>,
    body: Vec<Stmt>,
}

fn param() -> impl Strategy<Value = Param> {
    prop_oneof![
        Just(Param::Pool),
        Just(Param::Connection),
        Just(Param::Transaction),
        Just(Param::Id),
    ]
}

fn stmt() -> impl Strategy<Value = Stmt> {
    let leaf = prop_oneof![
        4 => (0u8..6, any::<u8>(), 0u8..4).prop_map(|(kind, handle, table)| Stmt::Query { kind, handle, table }),
        2 => any::<u8>().prop_map(|handle| Stmt::Begin { handle }),
        1 => any::<u8>().prop_map(|handle| Stmt::Commit { handle }),
        3 => (any::<u8>(), proptest::collection::vec(any::<u8>(), 0..4))
            .prop_map(|(callee, args)| Stmt::Call { callee, args }),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(|body| Stmt::If { body }),
            (any::<u8>(), proptest::collection::vec(inner, 0..5))
                .prop_map(|(handle, body)| Stmt::InTransaction { handle, body }),
        ]
    })
}

fn program() -> impl Strategy<Value = Vec<Func>> {
    proptest::collection::vec(
        (
            proptest::collection::vec(param(), 1..4),
            proptest::collection::vec(stmt(), 0..7),
        )
            .prop_map(|(params, body)| Func { params, body }),
        1..=20,
    )
}

/// A handle in scope while a body is written: its name and whether it is a
/// plain pool (passed by reference) or a connection-like handle (`&mut *h`).
#[derive(Clone)]
struct Handle {
    name: String,
    pool: bool,
}

struct Writer<'p> {
    program: &'p [Func],
    out: String,
    fresh: usize,
    rust: bool,
}

impl Writer<'_> {
    fn name(&mut self, stem: &str) -> String {
        self.fresh += 1;
        format!("{stem}{}", self.fresh)
    }

    fn function(&mut self, index: usize) {
        let f = &self.program[index];
        let mut handles = Vec::new();
        let mut params = Vec::new();
        for (i, p) in f.params.iter().enumerate() {
            let (name, ty) = match (p, self.rust) {
                (Param::Pool, true) => (format!("pool{i}"), "&sqlx::PgPool"),
                (Param::Connection, true) => (format!("conn{i}"), "&mut sqlx::PgConnection"),
                (Param::Transaction, true) => (
                    format!("tx{i}"),
                    "&mut sqlx::Transaction<'_, sqlx::Postgres>",
                ),
                (Param::Id, true) => (format!("id{i}"), "i64"),
                (Param::Pool, false) => (format!("db{i}"), "PrismaClient"),
                (Param::Connection | Param::Transaction, false) => {
                    (format!("tx{i}"), "Prisma.TransactionClient")
                }
                (Param::Id, false) => (format!("id{i}"), "string"),
            };
            if !matches!(p, Param::Id) {
                handles.push(Handle {
                    name: name.clone(),
                    pool: matches!(p, Param::Pool),
                });
            }
            params.push(format!("{name}: {ty}"));
        }
        if handles.is_empty() {
            handles.push(Handle {
                name: if self.rust { "POOL" } else { "prisma" }.into(),
                pool: true,
            });
        }
        let signature = params.join(", ");
        if self.rust {
            let _ = writeln!(
                self.out,
                "pub async fn f{index}({signature}) -> sqlx::Result<()> {{"
            );
        } else {
            let _ = writeln!(self.out, "export async function f{index}({signature}) {{");
        }
        let body = f.body.clone();
        self.body(&body, &mut handles, 1);
        if self.rust {
            self.out.push_str("    Ok(())\n");
        }
        self.out.push_str("}\n\n");
    }

    fn body(&mut self, body: &[Stmt], handles: &mut Vec<Handle>, depth: usize) {
        let pad = "    ".repeat(depth);
        for s in body {
            let pick = |i: u8, handles: &[Handle]| handles[i as usize % handles.len()].clone();
            match s {
                Stmt::Query {
                    kind,
                    handle,
                    table,
                } => {
                    let h = pick(*handle, handles);
                    let line = self.query(*kind, &h, *table, &pad);
                    self.out.push_str(&line);
                }
                Stmt::Begin { handle } if self.rust => {
                    let h = pick(*handle, handles);
                    let t = self.name("t");
                    let _ = writeln!(self.out, "{pad}let mut {t} = {}.begin().await?;", h.name);
                    handles.push(Handle {
                        name: t,
                        pool: false,
                    });
                }
                Stmt::Commit { handle } if self.rust => {
                    let h = pick(*handle, handles);
                    if h.name.starts_with('t') && !h.name.starts_with("tx") {
                        let _ = writeln!(self.out, "{pad}{}.commit().await?;", h.name);
                        handles.retain(|x| x.name != h.name);
                    }
                }
                Stmt::Begin { handle } | Stmt::Commit { handle } => {
                    // TypeScript has callbacks only: a batch of two writes.
                    let h = pick(*handle, handles);
                    let _ = writeln!(
                        self.out,
                        "{pad}await {0}.$transaction([{0}.t0.deleteMany({{ where: {{}} }}), {0}.t1.create({{ data: {{}} }})]);",
                        h.name
                    );
                }
                Stmt::Call { callee, args } => {
                    let target = *callee as usize % self.program.len();
                    let callee_params = self.program[target].params.clone();
                    let rendered: Vec<String> = callee_params
                        .iter()
                        .enumerate()
                        .map(|(i, p)| {
                            let choice = args.get(i).copied().unwrap_or(i as u8);
                            match p {
                                Param::Id => {
                                    if self.rust {
                                        "1".into()
                                    } else {
                                        "\"1\"".into()
                                    }
                                }
                                _ => {
                                    let h = pick(choice, handles);
                                    if self.rust && !h.pool {
                                        format!("&mut *{}", h.name)
                                    } else {
                                        h.name
                                    }
                                }
                            }
                        })
                        .collect();
                    if self.rust {
                        let _ = writeln!(
                            self.out,
                            "{pad}Box::pin(f{target}({})).await?;",
                            rendered.join(", ")
                        );
                    } else {
                        let _ =
                            writeln!(self.out, "{pad}await f{target}({});", rendered.join(", "));
                    }
                }
                Stmt::If { body } => {
                    let cond = if self.rust {
                        "rand::random::<bool>()"
                    } else {
                        "(Math.random() > 0.5)"
                    };
                    let _ = writeln!(self.out, "{pad}if {cond} {{");
                    let mut inner = handles.clone();
                    self.body(body, &mut inner, depth + 1);
                    let _ = writeln!(self.out, "{pad}}}");
                }
                Stmt::InTransaction { handle, body } => {
                    let h = pick(*handle, handles);
                    let c = self.name("c");
                    let mut inner = handles.clone();
                    inner.push(Handle {
                        name: c.clone(),
                        pool: false,
                    });
                    if self.rust {
                        let _ = writeln!(
                            self.out,
                            "{pad}{}.transaction(|{c}| Box::pin(async move {{",
                            h.name
                        );
                        self.body(body, &mut inner, depth + 1);
                        let _ = writeln!(
                            self.out,
                            "{pad}    Ok::<_, sqlx::Error>(())\n{pad}}})).await?;"
                        );
                    } else {
                        let _ = writeln!(
                            self.out,
                            "{pad}await {}.$transaction(async ({c}) => {{",
                            h.name
                        );
                        self.body(body, &mut inner, depth + 1);
                        let _ = writeln!(self.out, "{pad}}});");
                    }
                }
            }
        }
    }

    fn query(&mut self, kind: u8, h: &Handle, table: u8, pad: &str) -> String {
        if self.rust {
            let exec = if h.pool {
                h.name.clone()
            } else {
                format!("&mut *{}", h.name)
            };
            match kind {
                0 => format!("{pad}sqlx::query(\"UPDATE t{table} SET n = n + 1 WHERE id = $1\").bind(1).execute({exec}).await?;\n"),
                1 => format!("{pad}sqlx::query(\"INSERT INTO t{table} (id) VALUES ($1)\").bind(1).execute({exec}).await?;\n"),
                2 => format!("{pad}sqlx::query(\"DELETE FROM t{table} WHERE id = $1\").bind(1).execute({exec}).await?;\n"),
                3 => {
                    let r = self.name("row");
                    format!(
                        "{pad}let {r} = sqlx::query(\"SELECT id FROM t{table} WHERE name = $1\").bind(1).fetch_optional({exec}).await?;\n{pad}if {r}.is_none() {{\n{pad}    sqlx::query(\"INSERT INTO t{table} (name) VALUES ($1)\").bind(1).execute({exec}).await?;\n{pad}}}\n"
                    )
                }
                4 => format!("{pad}sqlx::query(\"SELECT pg_advisory_xact_lock(1)\").execute({exec}).await?;\n"),
                _ => {
                    let r = self.name("row");
                    format!(
                        "{pad}let {r} = sqlx::query(\"SELECT n FROM t{table} WHERE id = $1 FOR UPDATE\").bind(1).fetch_one({exec}).await?;\n{pad}sqlx::query(\"UPDATE t{table} SET n = $1 WHERE id = $2\").bind({r}.n + 1).bind(1).execute({exec}).await?;\n"
                    )
                }
            }
        } else {
            let h = &h.name;
            match kind {
                0 => format!("{pad}await {h}.t{table}.update({{ where: {{ id: \"1\" }}, data: {{ n: {{ increment: 1 }} }} }});\n"),
                1 => format!("{pad}await {h}.t{table}.create({{ data: {{ name: \"x\" }} }});\n"),
                2 => format!("{pad}await {h}.t{table}.deleteMany({{ where: {{ name: \"x\" }} }});\n"),
                3 => {
                    let r = self.name("row");
                    format!(
                        "{pad}const {r} = await {h}.t{table}.findFirst({{ where: {{ name: \"x\" }} }});\n{pad}if (!{r}) await {h}.t{table}.create({{ data: {{ name: \"x\" }} }});\n"
                    )
                }
                4 => format!("{pad}await {h}.$executeRaw`SELECT pg_advisory_xact_lock(1)`;\n"),
                _ => {
                    let r = self.name("row");
                    format!(
                        "{pad}const {r} = await {h}.t{table}.findUnique({{ where: {{ id: \"1\" }} }});\n{pad}await {h}.t{table}.update({{ where: {{ id: \"1\" }}, data: {{ n: {r}.n + 1 }} }});\n"
                    )
                }
            }
        }
    }
}

fn write(program: &[Func], rust: bool) -> String {
    let mut w = Writer {
        program,
        out: String::new(),
        fresh: 0,
        rust,
    };
    if !rust {
        w.out.push_str("import { Prisma, PrismaClient } from \"@prisma/client\";\nimport { prisma } from \"./db\";\n\n");
    }
    for i in 0..program.len() {
        w.function(i);
    }
    w.out
}

/// Every index a function holds points at something that exists, and the
/// transaction forest is one: each parent comes before its child.
fn assert_well_formed(f: &Function, stage: &str) {
    let txs = f.transactions().len();
    for (i, tx) in f.transactions().iter().enumerate() {
        if let Some(parent) = tx.parent {
            assert!(
                parent < i,
                "{stage}: `{}`: transaction {i} has parent {parent}",
                f.name
            );
        }
    }
    let n = f.effects.len();
    for (i, e) in f.effects.iter().enumerate() {
        for t in e.transaction.iter().chain(&e.enclosing_transaction) {
            assert!(
                *t < txs,
                "{stage}: `{}`: effect {i} in transaction {t} of {txs}",
                f.name
            );
            // The walk to the root ends, at a root.
            let root = f.root_transaction(*t);
            assert!(f.transactions()[root].parent.is_none());
        }
        for g in &e.guards {
            assert!(
                g.read < n,
                "{stage}: `{}`: effect {i} guarded by {} of {n}",
                f.name,
                g.read
            );
        }
        for field in e.filter.iter().chain(&e.values) {
            for &r in &field.value.reads {
                assert!(r < n, "{stage}: `{}`: effect {i} reads {r} of {n}", f.name);
            }
        }
    }
    for &r in &f.returns {
        assert!(r < n, "{stage}: `{}`: returns {r} of {n}", f.name);
    }
    assert!(
        f.internal_errors.is_empty(),
        "{stage}: {:?}",
        f.internal_errors
    );
}

fn lint_model(model: &FileModel, text: &str, path: &str) {
    for f in &model.functions {
        assert_well_formed(f, "lowered");
        for call in &f.calls {
            assert!(call.position <= f.effects.len());
            assert!(call.result.is_none_or(|r| r < f.effects.len()));
            assert!(call.transaction.is_none_or(|t| t < f.transactions().len()));
        }
    }
    let expanded = inline::expand(model, &mut inline::budget_for(text.len()));
    let schema = Schema::default();
    let mut project = ProjectFacts::default();
    project.add_file(&schema, model, path, true, |_| String::new());
    let source = SourceFile::new(PathBuf::from(path), path.into(), text.to_string());
    let cx = Context {
        schema: &schema,
        project: &project,
        text,
        source: &source,
        log_tables: &[],
        database: Default::default(),
        runs_alone: false,
        statement_parses: std::cell::Cell::new(racelint::rules::statement_parses_for(text.len())),
    };
    for f in &expanded.functions {
        assert_well_formed(f, "inlined");
        let mut findings = Vec::new();
        for rule in RULES {
            rule.check(&cx, f, &mut findings);
        }
        for finding in &findings {
            assert!(finding.span.end as usize <= text.len());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    #[test]
    fn rust_call_graphs_inline_into_well_formed_models(program in program()) {
        let text = write(&program, true);
        let model = rust::lower(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        lint_model(&model, &text, "graph.rs");
    }

    #[test]
    fn typescript_call_graphs_inline_into_well_formed_models(program in program()) {
        let text = write(&program, false);
        let parsed = typescript::parse(&text, typescript::Dialect::TypeScript, &typescript::clients::FileHints::of(&text));
        prop_assert!(parsed.problems.is_empty(), "{:?}\n{}", parsed.problems, text);
        lint_model(&parsed.model, &text, "graph.ts");
    }
}

/// The shrunk shape of the savepoint bug: a callee's transaction nested in one the
/// caller passed, copied with its parent pointing at itself.
#[test]
fn a_savepoint_on_a_passed_transaction_keeps_its_parent_in_the_caller() {
    let program = vec![
        Func {
            params: vec![Param::Transaction],
            body: vec![
                Stmt::Begin { handle: 0 },
                Stmt::Query {
                    kind: 2,
                    handle: 1,
                    table: 0,
                },
            ],
        },
        Func {
            params: vec![Param::Pool],
            body: vec![
                Stmt::Begin { handle: 0 },
                Stmt::Call {
                    callee: 0,
                    args: vec![1],
                },
            ],
        },
    ];
    let text = write(&program, true);
    let model = rust::lower(&text).unwrap();
    lint_model(&model, &text, "savepoint.rs");
}
