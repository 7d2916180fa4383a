//! Random and mutated input for every parsing entry point: none may panic.
//!
//! The complement of the cargo-fuzz targets in `fuzz/` (which need nightly): a
//! fixed-seed generator mutates the fixtures — byte flips, deleted and duplicated
//! ranges, spliced fixtures, inserted syntax and database vocabulary, truncation —
//! and feeds the result to the same functions the fuzz targets call. The seed is
//! fixed so a failure reproduces; the case count is bounded so the test stays fast
//! in a debug build. `RACELINT_ROBUSTNESS_CASES=N` runs more cases per target.
//!
//! Inputs that once crashed a fuzz target are kept in `tests/data/crashes/` and
//! replayed through every entry point by [`known_crashes_stay_fixed`].

use racelint::frontend::{rust, sql, typescript};
use racelint::schema;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

/// xorshift64*: tiny, deterministic, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// Fragments that steer mutations into the interesting parts of the parsers.
const TOKENS: &[&str] = &[
    "(",
    ")",
    "{",
    "}",
    "[",
    "]",
    "<",
    ">",
    "'",
    "\"",
    "`",
    "${",
    "/*",
    "*/",
    "//",
    "\n",
    "\r\n",
    ";",
    ",",
    ":",
    "::",
    "=>",
    "?.",
    "??",
    "!",
    "&",
    "#",
    "@",
    "\\",
    "\u{feff}",
    "é",
    "😀",
    "\0",
    "await ",
    "async ",
    "if (x) ",
    "else ",
    "return ",
    "throw ",
    "for (const a of b) ",
    "function f() {",
    "fn f() {",
    "impl X {",
    "match x {",
    "let x = ",
    "const x = ",
    "prisma.user.findFirst({ where: { id } })",
    "prisma.user.create({ data: {} })",
    "prisma.$transaction(async (tx) => {",
    "tx.user.update(",
    ".delete(",
    "$queryRaw`SELECT 1`",
    "sqlx::query!(\"SELECT * FROM t WHERE id = $1\", id)",
    ".fetch_one(&pool).await?",
    "diesel::insert_into(users::table)",
    "table! { users (id) { id -> Int4, } }",
    "#[sea_orm(table_name = \"x\")]",
    "@Entity()",
    "@ManyToOne(() => User, { onDelete: 'CASCADE' })",
    "pgTable(\"t\", { id: serial(\"id\").primaryKey() })",
    "references(() => users.id)",
    "model User {",
    "@relation(fields: [a], references: [id], onDelete: Cascade)",
    "@@unique([a, b])",
    "CREATE TABLE t (id int PRIMARY KEY, a int REFERENCES u(id) ON DELETE CASCADE);",
    "ALTER TABLE t ADD CONSTRAINT c FOREIGN KEY (a) REFERENCES u (id);",
    "SELECT ",
    "FROM ",
    "WHERE ",
    " AND ",
    " OR ",
    "FOR UPDATE",
    "ON CONFLICT DO NOTHING",
    "$1",
    "?",
    "BEGIN;",
    "$$",
    "E'",
    "--",
    "racelint-ignore check-then-act: x",
];

fn mutate(rng: &mut Rng, base: &[u8], other: &[u8]) -> Vec<u8> {
    let mut bytes = base.to_vec();
    for _ in 0..1 + rng.below(8) {
        let len = bytes.len();
        let at = rng.below(len + 1);
        match rng.below(8) {
            0 if len > 0 => bytes[at.min(len - 1)] ^= 1 << rng.below(8),
            1 => {
                let end = (at + rng.below(64)).min(len);
                bytes.drain(at..end);
            }
            2 => {
                let end = (at + rng.below(256)).min(len);
                let copy = bytes[at..end].to_vec();
                let to = rng.below(len + 1);
                bytes.splice(to..to, copy);
            }
            3 => {
                let start = rng.below(other.len() + 1);
                let end = (start + rng.below(512)).min(other.len());
                bytes.splice(at..at, other[start..end].iter().copied());
            }
            4 => bytes.truncate(at),
            5 => {
                // A run of openers: nesting the parsers must bound.
                let token = ["(", "{", "[", "<", "if (a) {", "[{", "`${"][rng.below(7)];
                let run = token.repeat(1 + rng.below(400));
                bytes.splice(at..at, run.into_bytes());
            }
            6 => bytes.insert(at, rng.next() as u8),
            _ => {
                let token = TOKENS[rng.below(TOKENS.len())];
                bytes.splice(at..at, token.bytes());
            }
        }
    }
    bytes
}

fn fixtures(extensions: &[&str]) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| extensions.contains(&e))
            {
                let bytes = std::fs::read(&path).unwrap();
                out.push((path, bytes));
            }
        }
    }
    out.sort();
    assert!(!out.is_empty(), "no fixtures with {extensions:?}");
    out
}

fn cases() -> usize {
    std::env::var("RACELINT_ROBUSTNESS_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(150)
}

/// Feeds `cases()` mutated fixtures (and pure noise) to `target`; on a panic,
/// writes the input to a temp file and fails with its path.
fn hammer(name: &str, seed: u64, extensions: &[&str], target: &(dyn Fn(&str) + Sync)) {
    // The run lowers files on worker threads with a 64 MiB stack (`lint::thread_pool`).
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .stack_size(64 * 1024 * 1024)
            .spawn_scoped(scope, || hammer_here(name, seed, extensions, target))
            .unwrap()
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e))
    });
}

fn hammer_here(name: &str, seed: u64, extensions: &[&str], target: &(dyn Fn(&str) + Sync)) {
    let corpus = fixtures(extensions);
    let mut rng = Rng(seed);
    for case in 0..cases() {
        let input = if case % 10 == 9 {
            (0..rng.below(2048)).map(|_| rng.next() as u8).collect()
        } else {
            let (_, base) = &corpus[rng.below(corpus.len())];
            let (_, other) = &corpus[rng.below(corpus.len())];
            mutate(&mut rng, base, other)
        };
        let text = String::from_utf8_lossy(&input);
        if catch_unwind(AssertUnwindSafe(|| target(&text))).is_err() {
            let kept = std::env::temp_dir().join(format!("racelint-{name}-crash-{case}"));
            std::fs::write(&kept, &input).unwrap();
            panic!(
                "{name} panicked on case {case} (seed {seed}); input kept in {}",
                kept.display()
            );
        }
    }
}

fn typescript_target(text: &str) {
    let hints = typescript::clients::FileHints::of(text);
    typescript::parse(text, typescript::Dialect::TypeScript, &hints);
    typescript::parse(text, typescript::Dialect::Tsx, &hints);
}

fn rust_target(text: &str) {
    let _ = rust::lower(text);
}

fn sql_target(text: &str) {
    sql::classify(text);
    racelint::frontend::plpgsql::parse(text);
}

fn migrations_target(text: &str) {
    schema::migrations::split_statements(text);
    let parsed = schema::migrations::parse("migrations/0001_init.sql", text);
    schema::migrations::replay([parsed]);
}

fn schema_targets(text: &str) {
    schema::prisma::parse("schema.prisma", text);
    schema::drizzle::parse("src/db/schema.ts", text);
    schema::typeorm::parse("src/entities/user.ts", text);
    schema::diesel::parse("src/schema.rs", text);
    schema::sea_orm::parse("src/entities/user.rs", text);
    python_schema_target(text);
}

fn python_target(text: &str) {
    racelint::frontend::python::parse(text);
    racelint::frontend::python::syntax_errors(text);
}

fn python_schema_target(text: &str) {
    let (mut classes, _) = schema::sqlalchemy::parse("app/models.py", text);
    classes.extend(schema::django::parse("shop/models.py", text).0);
    schema::py_models::resolve(&classes, "auth.User");
    let alembic = schema::alembic::parse("migrations/versions/a1.py", text);
    let django = schema::django_migrations::parse("shop/migrations/0001_initial.py", text);
    schema::migrations::replay([alembic, django]);
}

#[test]
fn typescript_frontend_survives_mutated_fixtures() {
    hammer(
        "typescript",
        0x7e57_0001,
        &["ts", "tsx"],
        &typescript_target,
    );
}

#[test]
fn rust_frontend_survives_mutated_fixtures() {
    hammer("rust", 0x7e57_0002, &["rs"], &rust_target);
}

#[test]
fn python_frontend_survives_mutated_fixtures() {
    hammer("python", 0x7e57_0009, &["py"], &python_target);
}

#[test]
fn sql_classifier_survives_mutated_migrations() {
    hammer("sql", 0x7e57_0003, &["sql"], &sql_target);
    hammer("migrations", 0x7e57_0004, &["sql"], &migrations_target);
}

#[test]
fn schema_parsers_survive_mutated_sources() {
    hammer("prisma", 0x7e57_0005, &["prisma"], &|t| {
        schema::prisma::parse("schema.prisma", t);
    });
    hammer("ts-schemas", 0x7e57_0006, &["ts"], &|t| {
        schema::drizzle::parse("src/db/schema.ts", t);
        schema::typeorm::parse("src/entities/user.ts", t);
    });
    hammer("rs-schemas", 0x7e57_0007, &["rs"], &|t| {
        schema::diesel::parse("src/schema.rs", t);
        schema::sea_orm::parse("src/entities/user.rs", t);
    });
    hammer("py-schemas", 0x7e57_0008, &["py"], &python_schema_target);
}

/// Every input that once crashed, hung or exhausted a fuzz target, through every
/// entry point (a crash in one parser is a good input for the others).
#[test]
fn known_crashes_stay_fixed() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/crashes");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
    paths.sort();
    let mut failures = Vec::new();
    for path in paths {
        let bytes = std::fs::read(&path).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        for (name, target) in [
            ("typescript", &typescript_target as &dyn Fn(&str)),
            ("rust", &rust_target),
            ("sql", &sql_target),
            ("migrations", &migrations_target),
            ("schemas", &schema_targets),
            ("python", &python_target),
        ] {
            let started = std::time::Instant::now();
            if catch_unwind(AssertUnwindSafe(|| target(&text))).is_err() {
                failures.push(format!("{name} panics on {}", path.display()));
            } else if started.elapsed() > std::time::Duration::from_secs(20) {
                failures.push(format!(
                    "{name} takes {:?} on {}",
                    started.elapsed(),
                    path.display()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// tree-sitter's TSX error recovery never finished on this fuzzer input; the parse
/// budget turns it into one `parse-error`, the same on every run.
#[test]
fn a_parse_that_would_not_end_is_given_up() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/crashes/typescript-tsx-recovery-hang.tsx");
    let text = String::from_utf8_lossy(&std::fs::read(path).unwrap()).into_owned();
    let hints = typescript::clients::FileHints::of(&text);
    for _ in 0..2 {
        let parsed = typescript::parse(&text, typescript::Dialect::Tsx, &hints);
        assert_eq!(parsed.problems.len(), 1, "{:?}", parsed.problems);
        assert!(
            parsed.problems[0].message.contains("gave up"),
            "{:?}",
            parsed.problems
        );
    }
    // The same text as TypeScript parses, with a syntax error.
    let parsed = typescript::parse(&text, typescript::Dialect::TypeScript, &hints);
    assert!(parsed
        .problems
        .iter()
        .all(|p| !p.message.contains("gave up")));
}
