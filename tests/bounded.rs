//! No input can stall a run. The shapes that once made racelint loop for ever or
//! panic, and adversarial files built to make each stage do as much work as it
//! can: every run must finish with exit 0 or 1, and where a stage gives up, it says
//! so in a `skipped` error naming the file, the function and the stage.
//!
//! These tests assert completion, never a time: the work budgets are what bound a
//! run. The generous kill timer only turns a hang into a failure instead of a CI
//! job that never ends.

mod common;

use common::{both, project};
use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Far beyond what any of these runs needs, even in a debug build on a busy machine.
const HANG: Duration = Duration::from_secs(300);

/// Runs racelint, killing it if it is still running after [`HANG`].
fn racelint_finishing(dir: &Path, args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_racelint"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("racelint starts");
    let started = Instant::now();
    // Drain the pipes on threads so a large report cannot block the child.
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut out, &mut buf).ok();
        buf
    });
    let err = std::thread::spawn(move || {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut err, &mut buf).ok();
        buf
    });
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > HANG {
            child.kill().ok();
            child.wait().ok();
            panic!("racelint {args:?} did not finish within {HANG:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// `check --format json` must finish with 0 or 1, and without internal errors.
fn check_finishes(dir: &Path, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["check", "--format", "json", "--max-file-size", "64000000"];
    args.extend_from_slice(extra);
    let output = racelint_finishing(dir, &args);
    assert!(
        matches!(output.status.code(), Some(0 | 1)),
        "{}",
        both(&output)
    );
    let doc: serde_json::Value =
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {}", both(&output)));
    for error in doc["errors"].as_array().unwrap() {
        assert_ne!(error["kind"], "internal-error", "{error}");
    }
    doc
}

fn errors_of_kind<'a>(doc: &'a serde_json::Value, kind: &str) -> Vec<&'a serde_json::Value> {
    doc["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == kind)
        .collect()
}

// The shapes from real services that made inlining corrupt the transaction tree.

#[test]
fn a_helper_that_begins_on_a_lent_connection_called_by_a_test_finishes() {
    let dir = project(&[(
        "src/reader.rs",
        r#"use sqlx::{query, PgConnection};

pub struct Reader;

impl Reader {
    pub async fn new(c: &mut sqlx::PgConnection) -> sqlx::Result<Self> {
        let mut txn = c.begin().await?;
        query("LOCK TABLE users IN EXCLUSIVE MODE NOWAIT;")
            .execute(&mut *txn)
            .await?;
        Ok(Reader)
    }
}

async fn test_read_users(mut conn: PgConnection) {
    Reader::new(&mut conn).await.unwrap();
}
"#,
    )]);
    let doc = check_finishes(dir.path(), &[]);
    assert!(doc["errors"].as_array().unwrap().is_empty(), "{doc}");
}

#[test]
fn a_caller_passing_its_own_connection_on_finishes() {
    let dir = project(&[(
        "src/krate.rs",
        r#"async fn delete_from_database(conn: &mut sqlx::PgConnection) -> sqlx::Result<()> {
    let mut transaction = conn.begin().await?;
    sqlx::query!("DELETE FROM builds").execute(&mut *transaction).await?;
    transaction.commit().await
}

pub async fn delete_crate(conn: &mut sqlx::PgConnection) -> sqlx::Result<()> {
    delete_from_database(conn).await?;
    Ok(())
}
"#,
    )]);
    let doc = check_finishes(dir.path(), &[]);
    assert!(doc["errors"].as_array().unwrap().is_empty(), "{doc}");
}

#[test]
fn a_savepoint_on_the_callers_transaction_finishes_inside_it() {
    let dir = project(&[(
        "src/purge.rs",
        r#"use sqlx::Postgres;

async fn purge(tx: &mut sqlx::Transaction<'_, Postgres>) -> sqlx::Result<()> {
    let mut savepoint = tx.begin().await?;
    sqlx::query("DELETE FROM builds WHERE stale").execute(&mut *savepoint).await?;
    savepoint.commit().await
}

pub async fn nightly(pool: &sqlx::PgPool) -> sqlx::Result<()> {
    let mut tx = pool.begin().await?;
    sqlx::query("DELETE FROM crates WHERE yanked").execute(&mut *tx).await?;
    purge(&mut tx).await?;
    sqlx::query("INSERT INTO crates (name) VALUES ('x')").execute(&mut *tx).await?;
    tx.commit().await
}
"#,
    )]);
    let doc = check_finishes(dir.path(), &[]);
    assert!(doc["errors"].as_array().unwrap().is_empty(), "{doc}");
    // The savepoint is nested in `nightly`'s transaction: the delete and the
    // recreate around it are one transaction.
    let findings = doc["findings"].as_array().unwrap();
    assert!(
        !findings.iter().any(|f| f["rule"] == "delete-then-create"),
        "{doc}"
    );
}

#[test]
fn two_connection_parameters_with_a_transaction_on_the_second_finish() {
    let dir = project(&[(
        "src/mirror.rs",
        r#"async fn copy_rows(a: &mut sqlx::PgConnection, b: &mut sqlx::PgConnection) -> sqlx::Result<()> {
    let rows = sqlx::query("SELECT id FROM source").fetch_all(&mut *a).await?;
    let mut t = b.begin().await?;
    sqlx::query("DELETE FROM mirror").execute(&mut *t).await?;
    t.commit().await
}

pub async fn sync(x: &mut sqlx::PgConnection, y: &mut sqlx::PgConnection) -> sqlx::Result<()> {
    copy_rows(x, y).await
}
"#,
    )]);
    let doc = check_finishes(dir.path(), &[]);
    assert!(doc["errors"].as_array().unwrap().is_empty(), "{doc}");
}

// Adversarial files: each stage pushed as far as a file can push it.

#[test]
fn ten_thousand_functions_calling_each_other_in_a_chain() {
    let mut ts = String::from("import { prisma } from \"./db\";\n");
    let mut rs = String::new();
    for i in 0..10_000 {
        let _ = writeln!(
            ts,
            "export async function step{i}(id: string) {{\n  await prisma.task.update({{ where: {{ id }}, data: {{ step: {i} }} }});\n  await step{}(id);\n}}",
            i + 1
        );
        let _ = writeln!(
            rs,
            "pub async fn step{i}(pool: &sqlx::PgPool) -> sqlx::Result<()> {{\n    sqlx::query(\"UPDATE tasks SET step = {i}\").execute(pool).await?;\n    Box::pin(step{}(pool)).await\n}}",
            i + 1
        );
    }
    let dir = project(&[("chain.ts", ts), ("chain.rs", rs)]);
    check_finishes(dir.path(), &[]);
}

#[test]
fn two_thousand_mutually_recursive_functions() {
    let n = 2_000;
    let mut ts = String::from("import { prisma } from \"./db\";\n");
    let mut rs = String::new();
    for i in 0..n {
        let (a, b) = ((i + 1) % n, (i * 7 + 3) % n);
        let _ = writeln!(
            ts,
            "export async function visit{i}(id: string) {{\n  const row = await prisma.node.findFirst({{ where: {{ id }} }});\n  if (!row) await prisma.node.create({{ data: {{ id }} }});\n  await visit{a}(id);\n  await visit{b}(id);\n}}"
        );
        let _ = writeln!(
            rs,
            "pub async fn visit{i}(conn: &mut sqlx::PgConnection) -> sqlx::Result<()> {{\n    let mut tx = conn.begin().await?;\n    sqlx::query(\"DELETE FROM nodes\").execute(&mut *tx).await?;\n    Box::pin(visit{a}(&mut tx)).await?;\n    Box::pin(visit{b}(&mut *tx)).await?;\n    tx.commit().await\n}}"
        );
    }
    let dir = project(&[("graph.ts", ts), ("graph.rs", rs)]);
    check_finishes(dir.path(), &[]);
}

#[test]
fn one_function_with_a_hundred_thousand_effects() {
    let mut ts = String::from(
        "import { prisma } from \"./db\";\nexport async function migrate(id: string) {\n",
    );
    for i in 0..100_000 {
        let _ = writeln!(
            ts,
            "  const r{i} = await prisma.item.findFirst({{ where: {{ id: r{} }} }});\n  if (r{i}) await prisma.item.update({{ where: {{ id }}, data: {{ n: r{i}.n + 1 }} }});",
            i.max(1) - 1
        );
    }
    ts.push_str("}\n");
    let dir = project(&[("huge.ts", ts)]);
    let doc = check_finishes(dir.path(), &[]);
    let skipped = errors_of_kind(&doc, "skipped");
    assert!(
        skipped.iter().any(|e| {
            let message = e["message"].as_str().unwrap();
            message.contains("`migrate`") && message.contains("rules")
        }),
        "a function too large to check names itself and the stage: {:?}",
        skipped
    );
}

#[test]
fn five_thousand_nested_savepoints() {
    let mut rs = String::from(
        "pub async fn deep(pool: &sqlx::PgPool) -> sqlx::Result<()> {\n    let mut t0 = pool.begin().await?;\n",
    );
    for i in 1..5_000 {
        let _ = writeln!(
            rs,
            "    let mut t{i} = t{}.begin().await?;\n    sqlx::query(\"UPDATE counters SET n = n + 1\").execute(&mut *t{i}).await?;",
            i - 1
        );
    }
    rs.push_str("    Ok(())\n}\n");
    let dir = project(&[("deep.rs", rs)]);
    check_finishes(dir.path(), &[]);
}

#[test]
fn a_two_hundred_deep_chain_of_helpers_each_opening_a_transaction() {
    let mut rs = String::new();
    let mut ts = String::from("import { prisma, Prisma } from \"./db\";\n");
    for i in 0..200 {
        let _ = writeln!(
            rs,
            "async fn level{i}(conn: &mut sqlx::PgConnection) -> sqlx::Result<()> {{\n    let mut tx = conn.begin().await?;\n    sqlx::query(\"DELETE FROM items WHERE level = {i}\").execute(&mut *tx).await?;\n    Box::pin(level{}(&mut tx)).await?;\n    tx.commit().await\n}}",
            i + 1
        );
        let _ = writeln!(
            ts,
            "async function level{i}(db: Prisma.TransactionClient) {{\n  await db.$transaction(async (tx) => {{\n    await tx.item.deleteMany({{ where: {{ level: {i} }} }});\n    await level{}(tx);\n  }});\n}}",
            i + 1
        );
    }
    let dir = project(&[("levels.rs", rs), ("levels.ts", ts)]);
    check_finishes(dir.path(), &[]);
}
