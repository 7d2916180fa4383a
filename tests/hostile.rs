//! Hostile input through the whole binary: pathological nesting, huge and minified
//! files, NUL bytes, bad encodings, CRLF and BOM, symbolic-link loops, unreadable
//! files, missing paths. In every case racelint must not panic, must exit with the
//! code CONTRACT.md gives, must say what it skipped in one clear line, and must
//! still lint everything else.

mod common;

use common::{project, racelint, stderr, stdout, GET_OR_CREATE};
use std::fs;
use std::path::Path;
use std::time::Instant;

const DEPTH: usize = 10_000;

/// Runs `check --format json` and asserts what every hostile run must hold: no
/// panic, exit 1 because the good file's race is still found, and errors only of
/// the kinds listed. Returns the JSON document.
fn check_survives(dir: &Path, args: &[&str], allowed_errors: &[&str]) -> serde_json::Value {
    check_survives_as(&[], dir, args, allowed_errors)
}

/// [`check_survives`], with racelint started through `prefix` (see [`unprivileged`]).
fn check_survives_as(
    prefix: &[&str],
    dir: &Path,
    args: &[&str],
    allowed_errors: &[&str],
) -> serde_json::Value {
    let mut all = vec!["check", "--format", "json"];
    all.extend(args);
    let out = racelint_as(prefix, dir, &all);
    let err = stderr(&out);
    assert!(
        !err.contains("panicked") && !err.contains("overflow"),
        "racelint crashed: {err}"
    );
    assert_eq!(out.status.code(), Some(1), "exit code; stderr: {err}");
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out))
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", stdout(&out)));
    assert!(
        doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["path"] == "src/good.ts" && f["rule"] == "check-then-act"),
        "the good file was not linted: {doc:#}"
    );
    for error in doc["errors"].as_array().unwrap() {
        let kind = error["kind"].as_str().unwrap();
        assert!(
            allowed_errors.contains(&kind),
            "unexpected error entry {error}"
        );
        // Each error is also one clear line on stderr, naming the file.
        let path = error["path"].as_str().unwrap();
        assert!(
            err.lines().any(|l| l.contains(path) && l.contains(kind)),
            "no error line for {path} on stderr:\n{err}"
        );
    }
    doc
}

fn errors_for<'a>(doc: &'a serde_json::Value, path: &str) -> Vec<&'a serde_json::Value> {
    doc["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["path"] == path)
        .collect()
}

fn timed<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let started = Instant::now();
    let out = f();
    eprintln!("{what}: {:?}", started.elapsed());
    out
}

fn ts_nesting() -> Vec<(String, String)> {
    let n = DEPTH;
    let head = "import { prisma } from \"./db\";\nexport async function f(a: boolean) {\n";
    let tail = "\n}\n";
    let wrap = |body: String| format!("{head}{body}{tail}");
    vec![
        (
            "parens".into(),
            wrap(format!(
                "  const x = {}await prisma.user.findFirst(){};",
                "(".repeat(n),
                ")".repeat(n)
            )),
        ),
        (
            "blocks".into(),
            wrap(format!(
                "{}await prisma.user.create({{ data: {{}} }});{}",
                "{".repeat(n),
                "}".repeat(n)
            )),
        ),
        (
            "nested-ifs".into(),
            wrap(format!(
                "{}await prisma.user.create({{ data: {{}} }});{}",
                "if (a) {".repeat(n),
                "}".repeat(n)
            )),
        ),
        (
            "else-if-chain".into(),
            wrap(format!(
                "{}{{ await prisma.user.create({{ data: {{}} }}); }}",
                "if (a) { await prisma.user.findFirst(); } else ".repeat(n)
            )),
        ),
        (
            "object-literal".into(),
            wrap(format!(
                "  await prisma.user.create({{ data: {}1{} }});",
                "{ a: ".repeat(n),
                " }".repeat(n)
            )),
        ),
        (
            "arrays".into(),
            wrap(format!(
                "  await prisma.user.create({{ data: {}{} }});",
                "[".repeat(n),
                "]".repeat(n)
            )),
        ),
        (
            "call-chain".into(),
            wrap(format!("  await prisma.user{};", ".findFirst()".repeat(n))),
        ),
        (
            "binary-chain".into(),
            wrap(format!(
                "  const s = 1{};\n  await prisma.user.create({{ data: {{ s }} }});",
                " + 1".repeat(n)
            )),
        ),
        (
            "nested-arrows".into(),
            wrap(format!(
                "  await prisma.$transaction({}prisma.user.create({{ data: {{}} }}){});",
                "async (tx) => await (".repeat(n),
                ")".repeat(n)
            )),
        ),
    ]
}

fn rust_nesting() -> Vec<(String, String)> {
    let n = DEPTH;
    let head = "use sqlx::PgPool;\npub async fn f(pool: &PgPool, a: bool) {\n";
    let tail = "\n}\n";
    let query = "sqlx::query!(\"DELETE FROM users WHERE id = $1\", 1).execute(pool).await;";
    let wrap = |body: String| format!("{head}{body}{tail}");
    vec![
        (
            "parens".into(),
            wrap(format!("let x = {}1{};", "(".repeat(n), ")".repeat(n))),
        ),
        (
            "blocks".into(),
            wrap(format!("{}{query}{}", "{".repeat(n), "}".repeat(n))),
        ),
        (
            "nested-ifs".into(),
            wrap(format!("{}{query}{}", "if a {".repeat(n), "}".repeat(n))),
        ),
        (
            "else-if-chain".into(),
            wrap(format!("{}{{ {query} }}", "if a { } else ".repeat(n))),
        ),
        (
            "method-chain".into(),
            wrap(format!("let x = pool{};", ".clone()".repeat(n))),
        ),
        (
            "binary-chain".into(),
            wrap(format!("let x = 1{};", " + 1".repeat(n))),
        ),
        (
            "closures".into(),
            wrap(format!(
                "let f = {}{query}{};",
                "|| {".repeat(n),
                "}".repeat(n)
            )),
        ),
        // No brackets, but as deep for syn: one expression of 100 000 links.
        (
            "unary-run".into(),
            wrap(format!("let x = {}a; {query}", "!".repeat(10 * n))),
        ),
        (
            "reference-run".into(),
            wrap(format!("let x = {}a; {query}", "&".repeat(10 * n))),
        ),
        (
            "field-run".into(),
            wrap(format!("let x = a{}; {query}", ".b".repeat(10 * n))),
        ),
        (
            "assignment-run".into(),
            wrap(format!("a{}; {query}", " = a".repeat(10 * n))),
        ),
        (
            "closure-run".into(),
            wrap(format!("let f = {}1; {query}", "|| ".repeat(10 * n))),
        ),
        (
            "cast-run".into(),
            wrap(format!("let x = a{}; {query}", " as u8".repeat(10 * n))),
        ),
        (
            "type-run".into(),
            wrap(format!(
                "let x: {}u8{} = 1; {query}",
                "V<".repeat(10 * n),
                ">".repeat(10 * n)
            )),
        ),
        (
            "long-else-if".into(),
            wrap(format!(
                "if a {{}} {}{{ {query} }}",
                "else if a {} ".repeat(5 * n)
            )),
        ),
    ]
}

#[test]
fn deeply_nested_typescript_neither_crashes_nor_stops_the_run() {
    let cases = ts_nesting();
    let mut files: Vec<(String, Vec<u8>)> =
        vec![("src/good.ts".into(), GET_OR_CREATE.as_bytes().to_vec())];
    for (name, text) in &cases {
        files.push((format!("src/deep-{name}.ts"), text.clone().into_bytes()));
        // The TSX grammar is a different parser table.
        files.push((format!("src/deep-{name}.tsx"), text.clone().into_bytes()));
    }
    let refs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_slice()))
        .collect();
    let dir = project(&refs);
    let doc = timed("10 000-deep TypeScript", || {
        check_survives(dir.path(), &[], &["parse-error"])
    });
    assert_eq!(doc["summary"]["files"], 1 + 2 * cases.len() as u64);
}

#[test]
fn deeply_nested_rust_neither_crashes_nor_stops_the_run() {
    let cases = rust_nesting();
    let mut files: Vec<(String, Vec<u8>)> =
        vec![("src/good.ts".into(), GET_OR_CREATE.as_bytes().to_vec())];
    for (name, text) in &cases {
        files.push((format!("src/deep_{name}.rs"), text.clone().into_bytes()));
    }
    let refs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_slice()))
        .collect();
    let dir = project(&refs);
    timed("10 000-deep Rust", || {
        check_survives(dir.path(), &[], &["parse-error"])
    });
}

/// Python nested every way the lowering recurses: blocks (indentation), calls,
/// parentheses, `and` chains, method chains, subscripts and f-string SQL.
fn python_nesting() -> Vec<(String, String)> {
    let n = DEPTH;
    let head = "from sqlalchemy import select\n\nasync def f(session, a):\n";
    let mut ifs = String::from(head);
    for depth in 0..n.min(650) {
        ifs.push_str(&" ".repeat(4 * (depth + 1)));
        ifs.push_str("if a:\n");
    }
    ifs.push_str(&" ".repeat(4 * (n.min(650) + 1)));
    ifs.push_str("session.add(Tag(name=a))\n");
    let line = |expr: String| format!("{head}    x = {expr}\n    await session.commit()\n");
    vec![
        ("ifs".into(), ifs),
        (
            "calls".into(),
            line(format!("{}a{}", "f(".repeat(n), ")".repeat(n))),
        ),
        (
            "parens".into(),
            line(format!("{}a{}", "(".repeat(n), ")".repeat(n))),
        ),
        ("ands".into(), line(format!("a{}", " and a".repeat(n)))),
        (
            "chain".into(),
            line(format!(
                "session.execute(select(T){})",
                ".where(T.a == a)".repeat(n)
            )),
        ),
        ("subscripts".into(), line(format!("a{}", "[0]".repeat(n)))),
        (
            "strings".into(),
            line(format!(
                "session.execute({}\"SELECT 1\"{})",
                "(".repeat(n),
                ")".repeat(n)
            )),
        ),
        (
            "session-adds".into(),
            line(format!(
                "{}Tag(name=a){}",
                "session.add(".repeat(n),
                ")".repeat(n)
            )),
        ),
    ]
}

#[test]
fn deeply_nested_python_neither_crashes_nor_stops_the_run() {
    let cases = python_nesting();
    let mut files: Vec<(String, Vec<u8>)> =
        vec![("src/good.ts".into(), GET_OR_CREATE.as_bytes().to_vec())];
    for (name, text) in &cases {
        files.push((
            format!("app/deep_{}.py", name.replace('-', "_")),
            text.clone().into_bytes(),
        ));
    }
    let refs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_slice()))
        .collect();
    let dir = project(&refs);
    timed("10 000-deep Python", || {
        check_survives(dir.path(), &[], &["parse-error"])
    });
}

#[test]
fn deeply_nested_sql_functions_neither_crash_nor_stop_the_run() {
    let n = DEPTH;
    let body = |inner: String| {
        format!("CREATE FUNCTION f(p int) RETURNS void LANGUAGE plpgsql AS $$\nBEGIN\n{inner}\nEND $$;\n")
    };
    let ifs = body(format!(
        "{}INSERT INTO t (a) VALUES (p);{}",
        "IF EXISTS (SELECT 1 FROM t WHERE a = p) THEN ".repeat(n),
        " END IF;".repeat(n)
    ));
    let parens = body(format!("PERFORM {}1{};", "(".repeat(n), ")".repeat(n)));
    let blocks = body(format!("{}NULL;{}", "BEGIN ".repeat(n), " END;".repeat(n)));
    let unterminated =
        "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $x$ BEGIN IF".repeat(n);
    let dir = project(&[
        ("src/good.ts", GET_OR_CREATE.as_bytes()),
        ("db/ifs.sql", ifs.as_bytes()),
        ("db/parens.sql", parens.as_bytes()),
        ("db/blocks.sql", blocks.as_bytes()),
        ("db/unterminated.sql", unterminated.as_bytes()),
    ]);
    timed("10 000-deep SQL functions", || {
        check_survives(dir.path(), &[], &["parse-error", "schema-error"])
    });
}

/// Schema discovery parses `.rs` files with `table!` and `.ts` files with
/// `pgTable` too, also under `racelint schema`, which runs outside the linter's
/// big-stack worker pool.
#[test]
fn deeply_nested_schema_sources_neither_crash_check_nor_schema() {
    let n = DEPTH;
    let diesel = format!(
        "diesel::table! {{ users (id) {{ id -> Int4, }} }}\nfn f() {{ let x = {}1{}; }}\n",
        "(".repeat(n),
        ")".repeat(n)
    );
    let sea_orm = format!(
        "#[derive(DeriveEntityModel)]\n#[sea_orm(table_name = \"cakes\")]\npub struct Model {{ #[sea_orm(primary_key)] pub id: i32 }}\nfn f() {{ {}{} }}\n",
        "{".repeat(n),
        "}".repeat(n)
    );
    let drizzle = format!(
        "import {{ pgTable, serial }} from \"drizzle-orm/pg-core\";\nexport const users = pgTable(\"users\", {{ id: serial(\"id\").primaryKey() }});\nconst x = {}1{};\nconst y = {}1{};\n",
        "(".repeat(n),
        ")".repeat(n),
        "{ a: ".repeat(n),
        " }".repeat(n)
    );
    let typeorm = format!(
        "import {{ Entity, PrimaryGeneratedColumn }} from \"typeorm\";\n@Entity()\nexport class User {{ @PrimaryGeneratedColumn() id: number; }}\nconst x = {}1{};\n",
        "[".repeat(n),
        "]".repeat(n)
    );
    let prisma = format!(
        "model User {{\n  id Int @id\n  a  Int @default({}1{})\n}}\n",
        "f(".repeat(n),
        ")".repeat(n)
    );
    let migration = format!(
        "CREATE TABLE users (id int PRIMARY KEY, a int DEFAULT {}1{});\n",
        "(".repeat(n),
        ")".repeat(n)
    );
    let sqlalchemy = format!(
        "from sqlalchemy.orm import mapped_column\nclass User(Base):\n    __tablename__ = \"users\"\n    id = mapped_column(primary_key=True)\n    name = mapped_column({}\"n\"{})\n",
        "(".repeat(n),
        ")".repeat(n)
    );
    let django = format!(
        "from django.db import models\nclass Team(models.Model):\n    slug = models.SlugField(unique=True, default={}\"x\"{})\n",
        "(".repeat(n),
        ")".repeat(n)
    );
    let alembic = format!(
        "from alembic import op\nrevision = \"a1\"\ndown_revision = None\ndef upgrade():\n    op.create_table(\"teams\", sa.Column(\"id\", sa.Integer(), primary_key=True))\n    op.execute({}\"SELECT 1\"{})\n",
        "(".repeat(n),
        ")".repeat(n)
    );
    let dir = project(&[
        ("src/good.ts", GET_OR_CREATE.as_bytes()),
        ("app/models.py", sqlalchemy.as_bytes()),
        ("teams/models.py", django.as_bytes()),
        ("migrations/versions/a1_init.py", alembic.as_bytes()),
        ("src/schema.rs", diesel.as_bytes()),
        ("src/entities/cake.rs", sea_orm.as_bytes()),
        ("src/db/schema.ts", drizzle.as_bytes()),
        ("src/entities/user.ts", typeorm.as_bytes()),
        ("prisma/schema.prisma", prisma.as_bytes()),
        ("migrations/0001_init.sql", migration.as_bytes()),
    ]);
    timed("10 000-deep schema sources, check", || {
        check_survives(dir.path(), &[], &["parse-error", "schema-error"])
    });
    let out = timed("10 000-deep schema sources, schema", || {
        racelint(dir.path(), &["schema", "--format", "json"])
    });
    let err = stderr(&out);
    assert!(
        !err.contains("panicked") && !err.contains("overflow"),
        "{err}"
    );
    assert!(out.status.code().is_some(), "killed by a signal: {err}");
}

#[test]
fn a_file_over_the_size_limit_is_skipped_with_a_note() {
    let dir = project(&[("src/good.ts", GET_OR_CREATE.as_bytes())]);
    // 50 MB, written in chunks so the test itself stays small in memory.
    {
        use std::io::Write;
        let mut big =
            std::io::BufWriter::new(fs::File::create(dir.path().join("src/huge.ts")).unwrap());
        let line = "await prisma.user.findFirst({ where: { id: 1 } }); // padding padding\n";
        let mut written = 0;
        while written < 50 * 1024 * 1024 {
            big.write_all(line.as_bytes()).unwrap();
            written += line.len();
        }
    }
    let doc = timed("50 MB file", || {
        check_survives(dir.path(), &[], &["skipped"])
    });
    let errors = errors_for(&doc, "src/huge.ts");
    assert_eq!(errors.len(), 1, "{doc:#}");
    assert_eq!(errors[0]["kind"], "skipped");
    assert!(
        errors[0]["message"].as_str().unwrap().contains("limit"),
        "{}",
        errors[0]
    );
}

/// A minified bundle: megabytes on one line, a Prisma race at its end. It must be
/// linted (with the size limit raised), the finding placed on line 1 at the right
/// column, and in time linear in the size.
#[test]
fn a_minified_one_line_bundle_is_linted_whole() {
    let filler = "var a=function(b){return b.map(function(c){return c+1}).filter(Boolean)},";
    let race = "async function invite(e,t){const x=await prisma.invite.findFirst({where:{email:e,teamId:t}});if(x)return x;return prisma.invite.create({data:{email:e,teamId:t}})}";
    let bundle = |bytes: usize| {
        let mut text = String::from("import{prisma}from\"./db\";");
        while text.len() < bytes {
            text.push_str(filler);
        }
        text.push_str("z=0;");
        // The finding points at the write's method, `create`.
        let column = text.chars().count() + race.find("create(").unwrap() + 1;
        text.push_str(race);
        (text, column)
    };
    let mut timings = Vec::new();
    for megabytes in [1, 3] {
        let (text, column) = bundle(megabytes * 1024 * 1024);
        let dir = project(&[
            ("src/good.ts", GET_OR_CREATE.as_bytes()),
            ("src/bundle.js", text.as_bytes()),
        ]);
        let started = Instant::now();
        let doc = check_survives(dir.path(), &["--max-file-size", "100000000"], &[]);
        let elapsed = started.elapsed();
        eprintln!("{megabytes} MB one-line bundle: {elapsed:?}");
        timings.push(elapsed);
        let finding = doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["path"] == "src/bundle.js")
            .unwrap_or_else(|| panic!("no finding in the bundle: {doc:#}"));
        assert_eq!(finding["rule"], "check-then-act");
        assert_eq!(finding["line"], 1);
        assert_eq!(finding["column"], column as u64);
    }
    // The times are printed, not asserted: on a shared machine they say nothing
    // reliable (scripts/bench measures speed). What bounds the work is the parse
    // budget and the stages' work budgets, which the assertions above exercise.
    eprintln!("one-line bundles, 1 and 3 MB: {timings:?}");
}

/// The binary check looks at the first 8 KiB; a NUL further on is text to the parsers.
#[test]
fn nul_bytes_after_the_binary_check_are_parsed_as_text() {
    let mut late_nul = GET_OR_CREATE.as_bytes().to_vec();
    late_nul.extend(b"// ".repeat(4000));
    late_nul.extend(b"\0 const z = 1;\0\n");
    late_nul.extend(GET_OR_CREATE.replace("invite(", "invite2(").as_bytes());
    let mut rust_nul = b"use sqlx::PgPool;\n".to_vec();
    rust_nul.extend(b"// padding\n".repeat(1000));
    rust_nul.extend(b"pub fn f() { let s = \"\0\"; }\0\n");
    let dir = project(&[
        ("src/good.ts", GET_OR_CREATE.as_bytes()),
        ("src/late_nul.ts", &late_nul),
        ("src/late_nul.rs", &rust_nul),
        ("src/early_nul.rs", b"use sqlx::PgPool;\0\0\0"),
    ]);
    let doc = check_survives(dir.path(), &[], &["parse-error", "read-error"]);
    assert_eq!(
        errors_for(&doc, "src/early_nul.rs")[0]["kind"],
        "read-error"
    );
}

/// Bad encodings in every kind of file racelint reads, schema sources included.
#[test]
fn invalid_utf8_anywhere_is_reported_not_fatal() {
    let latin1 = |prefix: &str| {
        let mut v = prefix.as_bytes().to_vec();
        v.extend([0xe9, 0xff, 0xc3, b'\n']);
        v
    };
    let dir = project(&[
        ("src/good.ts", GET_OR_CREATE.as_bytes()),
        ("src/bad.rs", &latin1("use sqlx::PgPool; // caf")),
        ("src/bad.tsx", &latin1("export const x = 'caf")),
        (
            "prisma/schema.prisma",
            &latin1("model User { id Int @id } // caf"),
        ),
        (
            "migrations/0001.sql",
            &latin1("CREATE TABLE t (id int); -- caf"),
        ),
        // Truncated in the middle of a multi-byte character, at the very end.
        ("src/truncated.ts", &b"export const x = '\xe2\x82"[..]),
    ]);
    let doc = check_survives(dir.path(), &[], &["read-error"]);
    for path in [
        "src/bad.rs",
        "src/bad.tsx",
        "prisma/schema.prisma",
        "migrations/0001.sql",
        "src/truncated.ts",
    ] {
        assert_eq!(errors_for(&doc, path).len(), 1, "{path}: {doc:#}");
    }
}

fn positions(doc: &serde_json::Value) -> Vec<serde_json::Value> {
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            serde_json::json!({
                "path": f["path"], "rule": f["rule"],
                "line": f["line"], "column": f["column"],
                "end_line": f["end_line"], "end_column": f["end_column"],
                "related": f["related"].as_array().unwrap().iter()
                    .map(|r| (r["line"].clone(), r["column"].clone()))
                    .collect::<Vec<_>>(),
                "fix": f["fix"]["edits"].as_array().map(|edits| edits.iter()
                    .map(|e| (e["start_line"].clone(), e["start_column"].clone(),
                              e["end_line"].clone(), e["end_column"].clone()))
                    .collect::<Vec<_>>()),
            })
        })
        .collect()
}

/// Line endings and a byte-order mark change no line or column: CRLF, BOM and
/// both give the findings of the LF file, at the same places.
#[test]
fn crlf_and_bom_files_point_at_the_same_places() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let sources = [
        "check-then-act/prisma-invite-get-or-create.ts",
        "tx-client-escape/prisma-payment-outer-client.ts",
        "check-then-act/sqlx-get-or-create-tag.rs",
        "non-atomic-writes",
    ];
    let mut files: Vec<(String, String)> = Vec::new();
    for source in sources {
        let path = fixtures.join(source);
        if path.is_dir() {
            for entry in fs::read_dir(&path).unwrap() {
                let p = entry.unwrap().path();
                if p.is_file() && !p.to_string_lossy().contains(".fixed.") {
                    let name = p.file_name().unwrap().to_string_lossy().into_owned();
                    files.push((name, fs::read_to_string(&p).unwrap()));
                }
            }
        } else {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            files.push((name, fs::read_to_string(&path).unwrap()));
        }
    }
    files.retain(|(name, _)| name.ends_with(".ts") || name.ends_with(".rs"));
    files.sort();
    let variant = |crlf: bool, bom: bool| {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("racelint.toml"), "").unwrap();
        for (name, text) in &files {
            let mut text = text.replace("\r\n", "\n");
            if crlf {
                text = text.replace('\n', "\r\n");
            }
            if bom {
                text.insert(0, '\u{feff}');
            }
            fs::write(dir.path().join(name), text).unwrap();
        }
        let out = racelint(dir.path(), &["check", "--format", "json", "--no-prefilter"]);
        assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
        let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
        assert!(
            doc["errors"].as_array().unwrap().is_empty(),
            "crlf {crlf} bom {bom}: {doc:#}"
        );
        positions(&doc)
    };
    let lf = variant(false, false);
    // Folders are flattened (projects lose their layout), so not every fixture
    // that expects a finding gets it here; most must.
    let firing = files
        .iter()
        .filter(|(_, text)| text.contains("expect:"))
        .count();
    assert!(lf.len() >= firing / 2, "too few findings: {lf:#?}");
    assert_eq!(variant(true, false), lf, "CRLF moves findings");
    assert_eq!(variant(false, true), lf, "a BOM moves findings");
    assert_eq!(variant(true, true), lf, "CRLF and a BOM move findings");
}

#[cfg(unix)]
#[test]
fn symlink_loops_and_dangling_links_are_not_followed() {
    use std::os::unix::fs::symlink;
    let dir = project(&[("src/good.ts", GET_OR_CREATE.as_bytes())]);
    let root = dir.path();
    symlink(root.join("src"), root.join("src/loop")).unwrap();
    symlink("..", root.join("src/up")).unwrap();
    symlink(root.join("src/missing.ts"), root.join("src/dangling.ts")).unwrap();
    symlink("self.ts", root.join("src/self.ts")).unwrap();
    let doc = timed("symlink loops", || {
        check_survives(root, &[], &["read-error"])
    });
    assert_eq!(
        doc["summary"]["files"], 1,
        "links are not followed: {doc:#}"
    );
    // A link named on the command line is a path like any other: a dangling one
    // or a loop cannot be read, which is a usage error.
    for link in ["src/dangling.ts", "src/self.ts"] {
        let out = racelint(root, &["check", link]);
        assert_eq!(out.status.code(), Some(2), "{link}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(link) && !stderr(&out).contains("panicked"),
            "{}",
            stderr(&out)
        );
    }
}

/// Runs racelint in `dir`, started through `prefix` when it is not empty.
fn racelint_as(prefix: &[&str], dir: &Path, args: &[&str]) -> std::process::Output {
    let Some((program, rest)) = prefix.split_first() else {
        return racelint(dir, args);
    };
    std::process::Command::new(program)
        .args(rest)
        .arg(env!("CARGO_BIN_EXE_racelint"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("racelint runs")
}

/// How to start racelint so that permission bits bind it: directly when they bind
/// this process; as root (CI containers, sandboxes), as the user `nobody` through
/// util-linux's `setpriv`, when that works here. `None`: no way to test them.
#[cfg(unix)]
fn unprivileged(dir: &Path) -> Option<Vec<&'static str>> {
    use std::os::unix::fs::PermissionsExt;
    if permissions_apply(dir) {
        return Some(Vec::new());
    }
    let prefix = vec![
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--",
    ];
    // `nobody` must reach the scratch project, which tempfile creates as 0700.
    fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).ok()?;
    let probe = racelint_as(&prefix, dir, &["--version"]);
    probe.status.success().then_some(prefix)
}

/// Whether permission bits bind this process (they do not for root).
#[cfg(unix)]
fn permissions_apply(dir: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let probe = dir.join("probe");
    fs::write(&probe, "x").unwrap();
    fs::set_permissions(&probe, fs::Permissions::from_mode(0o000)).unwrap();
    let applies = fs::read(&probe).is_err();
    fs::set_permissions(&probe, fs::Permissions::from_mode(0o644)).unwrap();
    fs::remove_file(&probe).unwrap();
    applies
}

#[cfg(unix)]
#[test]
fn unreadable_files_and_folders_are_reported_and_skipped() {
    use std::os::unix::fs::PermissionsExt;
    let dir = project(&[
        ("src/good.ts", GET_OR_CREATE.as_bytes()),
        ("src/secret.ts", GET_OR_CREATE.as_bytes()),
        ("src/locked/inner.ts", GET_OR_CREATE.as_bytes()),
        ("locked-root/a.ts", GET_OR_CREATE.as_bytes()),
    ]);
    let root = dir.path();
    let Some(prefix) = unprivileged(root) else {
        eprintln!(
            "skipped: running as root, where chmod 000 does not stop reading, and \
             `setpriv` cannot start racelint as `nobody` here"
        );
        return;
    };
    let lock = |p: &str, mode| {
        fs::set_permissions(root.join(p), fs::Permissions::from_mode(mode)).unwrap();
    };
    lock("src/secret.ts", 0o000);
    lock("src/locked", 0o000);
    let doc = check_survives_as(&prefix, root, &["src"], &["read-error"]);
    assert_eq!(errors_for(&doc, "src/secret.ts").len(), 1, "{doc:#}");
    assert_eq!(errors_for(&doc, "src/locked").len(), 1, "{doc:#}");
    // An unreadable root named on the command line is exit 2.
    lock("locked-root", 0o000);
    let out = racelint_as(&prefix, root, &["check", "locked-root/a.ts"]);
    let code = out.status.code();
    lock("src/secret.ts", 0o644);
    lock("src/locked", 0o755);
    lock("locked-root", 0o755);
    assert_eq!(code, Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("locked-root"), "{}", stderr(&out));
}

#[test]
fn a_missing_path_next_to_good_ones_is_a_usage_error() {
    let dir = project(&[("src/good.ts", GET_OR_CREATE.as_bytes())]);
    let out = racelint(dir.path(), &["check", "src", "src/nope.ts"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.lines()
            .any(|l| l.starts_with("racelint: error:") && l.contains("src/nope.ts")),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert!(stdout(&out).is_empty(), "no report on a usage error");
}
