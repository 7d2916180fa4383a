//! Every code block racelint prints in a help text must parse: the help of every
//! fixture finding is rendered, and each indented block is parsed with racelint's
//! own frontend for its language — TypeScript/TSX as the body of an async
//! function, Rust as the statements of one, SQL with the SQL parser (PL/pgSQL
//! bodies with the plpgsql frontend). A snippet a user pastes must not be a syntax
//! error, whatever it elides (`/* … */`, `// …`).

use racelint::discover::{language_of, Language};
use racelint::lint::{self, Options, SchemaSource};
use std::path::{Path, PathBuf};

/// Fixture files and project folders, each linted the way `tests/fixtures.rs` does.
fn units(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        if dir != root && dir.join("racelint.toml").exists() {
            out.push(dir);
            continue;
        }
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if language_of(&path).is_some() {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn lint_unit(unit: &Path) -> Vec<racelint::diagnostic::Diagnostic> {
    let mut options = Options {
        paths: vec![unit.to_path_buf()],
        jobs: 1,
        schema: if unit.is_dir() {
            SchemaSource::Folder(unit.to_path_buf())
        } else {
            SchemaSource::None
        },
        ..Options::default()
    };
    let config = unit.join("racelint.toml");
    if config.is_file() {
        let known: Vec<&str> = lint::all_rule_meta().iter().map(|m| m.id).collect();
        options.configs = racelint::config::load(&config, &known)
            .expect("fixture config loads")
            .into();
    }
    options
        .configs
        .for_each_mut(|c| c.min_confidence = racelint::diagnostic::Level::Low);
    lint::check(&options).expect("lint runs").diagnostics
}

/// The code blocks of a help text: runs of lines indented by four spaces (blank
/// lines inside a run belong to it), without that indentation.
fn code_blocks(help: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    for line in help.lines() {
        if let Some(code) = line.strip_prefix("    ") {
            current.push(code);
        } else if line.trim().is_empty() && !current.is_empty() {
            current.push("");
        } else if !current.is_empty() {
            blocks.push(current.join("\n").trim_end().to_string());
            current.clear();
        }
    }
    if !current.is_empty() {
        blocks.push(current.join("\n").trim_end().to_string());
    }
    blocks
}

#[derive(Debug, PartialEq)]
enum Snippet {
    Host,
    Sql,
    PrismaSchema,
}

/// What language a block is in: the finding's own, unless the block is a
/// migration (SQL, a Prisma schema change) written for the project's database.
fn kind_of(block: &str) -> Snippet {
    let first = block
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let upper = first.to_ascii_uppercase();
    if first.starts_with("--")
        || [
            "CREATE ", "ALTER ", "SELECT ", "INSERT ", "UPDATE ", "DELETE ", "BEGIN", "WITH ",
        ]
        .iter()
        // `with session.begin():` is Python; SQL's WITH is written in capitals.
        .any(|k| first.starts_with(k) || (upper.starts_with(k) && *k != "WITH "))
    {
        Snippet::Sql
    } else if first.starts_with("model ") || first.starts_with("@@") {
        Snippet::PrismaSchema
    } else {
        Snippet::Host
    }
}

fn sql_parses(block: &str) -> Result<(), String> {
    use sqlparser::dialect::{Dialect, MySqlDialect, PostgreSqlDialect, SQLiteDialect};
    if block.to_ascii_lowercase().contains("create function")
        || block
            .to_ascii_lowercase()
            .contains("create or replace function")
    {
        let parsed = racelint::frontend::plpgsql::parse(block);
        return match parsed.problems.first() {
            Some(problem) => Err(format!("{problem:?}")),
            None => Ok(()),
        };
    }
    let dialects: [&dyn Dialect; 3] = [&PostgreSqlDialect {}, &MySqlDialect {}, &SQLiteDialect {}];
    let mut last = String::new();
    for dialect in dialects {
        match sqlparser::parser::Parser::parse_sql(dialect, block) {
            Ok(_) => return Ok(()),
            Err(e) => last = e.to_string(),
        }
    }
    Err(last)
}

/// A piece of PL/pgSQL body: the plpgsql frontend reads its structure, and each
/// SQL statement in it (`PERFORM x` as `SELECT x`) must parse as SQL.
fn plpgsql_parses(block: &str) -> Result<(), String> {
    let wrapped = format!(
        "CREATE FUNCTION snippet() RETURNS void LANGUAGE plpgsql AS $$\nDECLARE v_rows int;\nBEGIN\n{block}\nEND;\n$$;\n"
    );
    sql_parses(&wrapped)?;
    let code: String = block
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    for piece in code.split(';') {
        let mut statement = piece.trim();
        let upper = statement.to_ascii_uppercase();
        if upper.starts_with("IF ") || upper.starts_with("ELSIF ") {
            match upper.find(" THEN") {
                Some(at) => statement = statement[at + 5..].trim(),
                None => return Err(format!("`{statement}` has no THEN")),
            }
        }
        let upper = statement.to_ascii_uppercase();
        let first = upper.split_whitespace().next().unwrap_or("");
        match first {
            "" | "END" | "ELSE" | "RAISE" | "GET" | "RETURN" | "NULL" => {}
            "PERFORM" => sql_parses(&format!("SELECT {}", &statement[7..]))?,
            _ => sql_parses(statement)?,
        }
    }
    Ok(())
}

/// Python statements, as the body of an `async def` (a class definition in a fix
/// is a statement too).
fn python_parses(block: &str) -> Result<(), String> {
    let body: String = block.lines().map(|l| format!("    {l}\n")).collect();
    let wrapped = format!("async def snippet():\n{body}");
    let tree = racelint::frontend::python::parse_tree(&wrapped).ok_or("no tree")?;
    if tree.root_node().has_error() {
        return Err("syntax errors".to_string());
    }
    Ok(())
}

fn parses(language: Language, block: &str) -> Result<(), String> {
    match kind_of(block) {
        Snippet::Sql if language == Language::Sql => plpgsql_parses(block),
        Snippet::Sql => sql_parses(block),
        Snippet::PrismaSchema => {
            let wrapped = if block.trim_start().starts_with("model ") {
                block.to_string()
            } else {
                format!("model Snippet {{\n  id Int @id\n{block}\n}}")
            };
            match racelint::schema::prisma::parse("snippet.prisma", &wrapped).error {
                Some(e) => Err(format!("{e:?}")),
                None => Ok(()),
            }
        }
        Snippet::Host => match language {
            Language::TypeScript(dialect) => {
                let wrapped = format!("async function snippet() {{\n{block}\n}}\n");
                match racelint::frontend::typescript::syntax_errors(&wrapped, dialect) {
                    0 => Ok(()),
                    n => Err(format!("{n} syntax errors")),
                }
            }
            Language::Rust => {
                let wrapped = format!("async fn snippet() {{\n{block}\n}}\n");
                syn::parse_file(&wrapped)
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
            // A `.sql` finding is in a PL/pgSQL body: its fix is more of that body.
            Language::Sql => plpgsql_parses(block),
            Language::Python => python_parses(block),
        },
    }
}

#[test]
fn every_help_snippet_parses() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut failures = Vec::new();
    let mut checked = 0;
    for unit in units(&root) {
        for d in lint_unit(&unit) {
            let Some(language) = language_of(Path::new(&d.location.path)) else {
                continue;
            };
            for block in code_blocks(&d.help) {
                checked += 1;
                if let Err(error) = parses(language, &block) {
                    failures.push(format!(
                        "{}:{} {}: {error}\n{block}\n",
                        d.location.path, d.location.start.line, d.rule
                    ));
                }
            }
        }
    }
    assert!(checked > 100, "only {checked} snippets found");
    assert!(
        failures.is_empty(),
        "{} of {checked} snippets do not parse:\n\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn blocks_are_the_indented_runs() {
    let help = "Do this:\n\n    a();\n\n    b();\nor that:\n\n    c();";
    assert_eq!(code_blocks(help), vec!["a();\n\nb();", "c();"]);
    assert_eq!(
        kind_of("-- a migration\nCREATE UNIQUE INDEX x ON t (a);"),
        Snippet::Sql
    );
    assert_eq!(kind_of("@@unique([a, b])"), Snippet::PrismaSchema);
    assert_eq!(
        kind_of("await prisma.user.create({ data });"),
        Snippet::Host
    );
    assert!(parses(Language::Rust, "let x = pool.begin().await?;").is_ok());
    assert!(parses(Language::Rust, "let x = ;").is_err());
    assert!(parses(
        Language::Sql,
        "PERFORM 1 FROM t WHERE id = p_id FOR UPDATE;"
    )
    .is_ok());
    assert!(parses(Language::Sql, "UPDATE t SET WHERE;").is_err());
}

#[test]
fn writes_around_an_external_call_get_no_transaction() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/non-atomic-writes/prisma-writes-around-stripe-call.ts");
    let findings = lint_unit(&fixture);
    let finding = findings
        .iter()
        .find(|d| d.rule == "non-atomic-writes")
        .expect("the writes around the Stripe call are reported");
    assert!(
        finding.help.contains("`stripe.refunds.create` (line 11)"),
        "{}",
        finding.help
    );
    assert!(finding.help.contains("idempotency key"), "{}", finding.help);
    assert!(!finding.help.contains("$transaction"), "{}", finding.help);
}
