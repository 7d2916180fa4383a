//! What the end-to-end tests share: running the real binary in a folder, and
//! scratch projects made of real files.
#![allow(dead_code)]

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

pub const GET_OR_CREATE: &str = r#"import { prisma } from "./db";

export async function invite(email: string, teamId: string) {
  const existing = await prisma.invite.findFirst({ where: { email, teamId } });
  if (existing) return existing;
  return prisma.invite.create({ data: { email, teamId } });
}
"#;

pub const UPSERT: &str = r#"import { prisma } from "./db";

export async function invite(email: string, teamId: string) {
  return prisma.invite.upsert({
    where: { email_teamId: { email, teamId } },
    create: { email, teamId },
    update: {},
  });
}
"#;

/// Two related writes, keyed by the same id, outside a transaction.
pub const ARCHIVE: &str = r#"import { prisma } from "./db";

export async function archiveProject(projectId: string) {
  await prisma.project.update({ where: { id: projectId }, data: { archivedAt: new Date() } });
  await prisma.task.updateMany({ where: { projectId }, data: { status: "closed" } });
}
"#;

/// The get-or-create race in Rust, through sqlx.
pub const RUST_GET_OR_CREATE: &str = r#"pub async fn invite(pool: &sqlx::PgPool, email: &str) -> sqlx::Result<()> {
    let existing = sqlx::query("SELECT id FROM invites WHERE email = $1")
        .bind(email)
        .fetch_optional(pool)
        .await?;
    if existing.is_none() {
        sqlx::query("INSERT INTO invites (email) VALUES ($1)")
            .bind(email)
            .execute(pool)
            .await?;
    }
    Ok(())
}
"#;

/// A scratch project: a `racelint.toml` (so it is its own project root) and the
/// given files.
pub fn project<C: AsRef<[u8]>>(files: &[(&str, C)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("racelint.toml"), "").unwrap();
    for (name, content) in files {
        let path = dir.path().join(name);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, content).unwrap();
    }
    dir
}

pub fn racelint(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_racelint"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("racelint runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Both streams, for assertion messages.
pub fn both(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        stdout(o),
        stderr(o)
    )
}

/// A scratch folder holding these files (no `racelint.toml` unless listed).
pub fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, content) in files {
        write(dir.path(), name, content);
    }
    dir
}

pub fn write(root: &Path, name: &str, content: &str) {
    let path = root.join(name);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, content).unwrap();
}

/// `check --format json` in `dir`: exit code and the parsed document.
pub fn check_json(dir: &Path, args: &[&str]) -> (Option<i32>, serde_json::Value) {
    let mut all = vec!["check", "--format", "json"];
    all.extend_from_slice(args);
    let out = racelint(dir, &all);
    let doc = serde_json::from_str(&stdout(&out))
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", both(&out)));
    (out.status.code(), doc)
}

/// `(rule, path, line, severity)` of every finding, in output order.
pub fn findings(doc: &serde_json::Value) -> Vec<(String, String, u64, String)> {
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_string(),
                f["path"].as_str().unwrap().to_string(),
                f["line"].as_u64().unwrap(),
                f["severity"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

pub fn rules_of(doc: &serde_json::Value) -> Vec<String> {
    findings(doc).into_iter().map(|f| f.0).collect()
}

/// `git` in `dir`, with an identity and no user or system configuration, so the
/// scratch repositories behave the same on every machine. Panics on failure.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "racelint test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "racelint test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A scratch git repository on branch `main` with one commit of these files.
pub fn repo(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tree(files);
    git(dir.path(), &["init", "-q", "-b", "main"]);
    git(dir.path(), &["add", "-A"]);
    git(dir.path(), &["commit", "-q", "-m", "initial"]);
    dir
}
