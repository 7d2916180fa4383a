//! The database advice is spelled for, on whole fixture projects whose schema
//! source does not say it (`fixtures/check-then-act/*-app`): the package's
//! manifest or connection configuration decides, and a project that supports
//! several databases gets advice that claims none of them alone.

mod common;

use common::{check_json, racelint, stdout};
use std::path::{Path, PathBuf};

fn project(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/check-then-act")
        .join(name)
}

/// Every finding's help in the project, joined.
fn help_of(name: &str) -> String {
    let (_, doc) = check_json(&project(name), &["--min-confidence", "low", "."]);
    let findings = doc["findings"].as_array().expect("findings");
    assert!(!findings.is_empty(), "{name} has findings");
    findings
        .iter()
        .map(|f| f["help"].as_str().unwrap_or_default().to_string())
        .collect::<Vec<_>>()
        .join("\n\n")
}

fn assert_advice(name: &str, says: &[&str], never: &[&str]) {
    let help = help_of(name);
    for word in says {
        assert!(help.contains(word), "{name}: help lacks `{word}`:\n{help}");
    }
    for word in never {
        assert!(!help.contains(word), "{name}: help says `{word}`:\n{help}");
    }
}

const POSTGRES_ONLY: [&str; 3] = ["23505", "pg_advisory", "SQLSTATE"];

#[test]
fn knex_on_mysql_from_package_json() {
    assert_advice(
        "knex-mysql-app",
        &["errno === 1062", "GET_LOCK", "error `1062`"],
        &POSTGRES_ONLY,
    );
}

#[test]
fn sqlx_on_sqlite_from_cargo_features() {
    assert_advice(
        "sqlx-sqlite-app",
        &["BEGIN IMMEDIATE", "SQLITE_CONSTRAINT_UNIQUE"],
        &["23505", "pg_advisory", "FOR UPDATE"],
    );
}

#[test]
fn django_on_mysql_from_the_settings_engine() {
    assert_advice("django-mysql-app", &["error `1062`"], &POSTGRES_ONLY);
}

#[test]
fn diesel_on_mysql_from_cargo_features() {
    assert_advice(
        "diesel-mysql-app",
        &["insert_or_ignore_into"],
        &["on_conflict", "pg_advisory", "23505"],
    );
}

#[test]
fn several_databases_claim_none_alone() {
    assert_advice(
        "diesel-multi-database-app",
        &["on MySQL"],
        &["pg_advisory", "SQLSTATE `23505`"],
    );
}

#[test]
fn the_schema_command_shows_each_folders_database() {
    let out = racelint(
        &project("diesel-multi-database-app"),
        &["schema", "--format", "json", "."],
    );
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    assert_eq!(doc["version"], 1, "the contract's document, with additions");
    assert_eq!(
        doc["databases"][0]["databases"],
        serde_json::json!(["postgres", "mysql", "sqlite"])
    );
    let out = racelint(&project("knex-mysql-app"), &["schema", "."]);
    assert!(
        stdout(&out).contains("database mysql in ."),
        "{}",
        stdout(&out)
    );
}

#[test]
fn the_configuration_overrides_detection() {
    let dir = common::tree(&[
        ("racelint.toml", "[schema]\ndatabase = \"sqlite\"\n"),
        (
            "package.json",
            r#"{ "dependencies": { "knex": "3", "pg": "8" } }"#,
        ),
        (
            "src/invoices.ts",
            r#"import { db } from "./db";

export async function issueInvoice(customerId: number, totalCents: number) {
  const row = await db("invoices").where({ customer_id: customerId }).max("number as last").first();
  const next = (row?.last ?? 0) + 1;
  await db("invoices").insert({ customer_id: customerId, number: next, total_cents: totalCents });
}
"#,
        ),
    ]);
    let (_, doc) = check_json(dir.path(), &["."]);
    let help = doc["findings"][0]["help"].as_str().unwrap_or_default();
    assert!(help.contains("BEGIN IMMEDIATE"), "{doc:#}");
    assert!(!help.contains("pg_advisory"), "{help}");

    let bad = common::tree(&[("racelint.toml", "[schema]\ndatabase = \"oracle\"\n")]);
    let out = racelint(bad.path(), &["check", "."]);
    assert_eq!(out.status.code(), Some(2), "{}", common::both(&out));
    assert!(common::both(&out).contains("unknown database `oracle`"));
}
