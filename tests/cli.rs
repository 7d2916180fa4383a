//! The command line as users and scripts see it: exit codes, the JSON contract,
//! bad input that must not stop the run, determinism, and that nothing is written.

mod common;

use common::{both, racelint, stderr, stdout, GET_OR_CREATE, UPSERT};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

fn project(files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("racelint.toml"), "").unwrap();
    for (name, content) in files {
        let path = dir.path().join(name);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, content).unwrap();
    }
    dir
}

fn validate_against_contract(document: &serde_json::Value) {
    let schema_path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/racelint-output.schema.json");
    let schema: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(schema_path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the contract schema compiles");
    let problems: Vec<String> = validator
        .iter_errors(document)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(
        problems.is_empty(),
        "output breaks the contract: {problems:#?}\n{document:#}"
    );
}

#[test]
fn get_or_create_is_reported_with_both_spans_and_exit_1() {
    let dir = project(&[("src/invite.ts", GET_OR_CREATE.as_bytes())]);
    let out = racelint(dir.path(), &["check", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    validate_against_contract(&doc);
    let finding = &doc["findings"][0];
    assert_eq!(finding["rule"], "check-then-act");
    assert_eq!(finding["path"], "src/invite.ts");
    assert_eq!(finding["line"], 6, "the act is the create");
    assert_eq!(
        finding["related"][0]["line"], 4,
        "the check is the findFirst"
    );
    assert!(finding["help"]
        .as_str()
        .unwrap()
        .contains("prisma.invite.upsert"));
    assert_eq!(doc["summary"]["findings"], 1);
}

#[test]
fn upsert_is_quiet_and_exits_0() {
    let dir = project(&[("src/invite.ts", UPSERT.as_bytes())]);
    let out = racelint(dir.path(), &["check"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(stdout(&out).contains("No races found in 1 file in "));
}

#[test]
fn bad_files_are_reported_and_the_rest_is_linted() {
    let mut not_utf8 = b"export const s = '".to_vec();
    not_utf8.extend([0xff, 0xfe, 0xfd]);
    not_utf8.extend(b"';\n");
    let dir = project(&[
        ("src/invite.ts", GET_OR_CREATE.as_bytes()),
        (
            "src/broken.ts",
            b"export async function f( {\n  const x = await prisma.user.findFirst(\n",
        ),
        ("src/binary.js", b"\x7fELF\x00\x00\x01\x02garbage\x00"),
        ("src/latin1.ts", &not_utf8),
    ]);
    let out = racelint(dir.path(), &["check", "--format", "json"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "findings in the good file still count"
    );
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    validate_against_contract(&doc);
    assert_eq!(doc["findings"].as_array().unwrap().len(), 1);
    let errors = doc["errors"].as_array().unwrap();
    let kind_of = |path: &str| {
        errors
            .iter()
            .find(|e| e["path"] == path)
            .map(|e| e["kind"].as_str().unwrap().to_string())
    };
    assert_eq!(kind_of("src/broken.ts").as_deref(), Some("parse-error"));
    assert_eq!(kind_of("src/binary.js").as_deref(), Some("read-error"));
    assert_eq!(kind_of("src/latin1.ts").as_deref(), Some("read-error"));
    assert!(errors
        .iter()
        .find(|e| e["path"] == "src/broken.ts")
        .unwrap()["line"]
        .as_u64()
        .is_some());
    let err = stderr(&out);
    assert!(
        err.contains("src/latin1.ts") && err.contains("UTF-8"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn parse_errors_alone_do_not_fail_the_run() {
    let dir = project(&[("a.ts", b"await prisma.user.findFirst(function (")]);
    let out = racelint(dir.path(), &["check"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stderr(&out).contains("parse-error: a.ts:1:"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_empty_folder_is_clean() {
    let dir = tempfile::tempdir().unwrap();
    let out = racelint(dir.path(), &["check", "."]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains("No files to lint"), "{}", both(&out));
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let missing = racelint(dir.path(), &["check", "does/not/exist"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("does/not/exist"));
    assert_eq!(
        racelint(dir.path(), &["check", "--select", "no-such-rule"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        racelint(dir.path(), &["check", "--format", "xml"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        racelint(dir.path(), &["explain", "no-such-rule"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(racelint(dir.path(), &["frobnicate"]).status.code(), Some(2));
}

#[test]
fn select_and_ignore_choose_rules() {
    let dir = project(&[("src/invite.ts", GET_OR_CREATE.as_bytes())]);
    assert_eq!(
        racelint(dir.path(), &["check", "--ignore", "check-then-act"])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        racelint(dir.path(), &["check", "--select", "check-then-act"])
            .status
            .code(),
        Some(1)
    );
}

#[test]
fn rules_explain_and_version() {
    let dir = tempfile::tempdir().unwrap();
    let rules = stdout(&racelint(dir.path(), &["rules"]));
    for rule in racelint::rules::RULES {
        assert!(rules.contains(rule.meta().id), "{rules}");
    }
    let explain = racelint(dir.path(), &["explain", "check-then-act"]);
    assert_eq!(explain.status.code(), Some(0));
    assert!(stdout(&explain).starts_with("# check-then-act"));
    let version = racelint(dir.path(), &["--version"]);
    assert_eq!(version.status.code(), Some(0));
    assert!(stdout(&version).contains(env!("CARGO_PKG_VERSION")));
}

fn without_elapsed(json: &str) -> serde_json::Value {
    let mut doc: serde_json::Value = serde_json::from_str(json).unwrap();
    doc["summary"].as_object_mut().unwrap().remove("elapsed_ms");
    doc
}

#[test]
fn output_is_the_same_whatever_the_thread_count() {
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let runs: Vec<String> = ["1", "2", "8", "2"]
        .iter()
        .map(|jobs| {
            stdout(&racelint(
                &fixtures,
                &["check", "--format", "json", "--jobs", jobs, "."],
            ))
        })
        .collect();
    assert!(
        without_elapsed(&runs[0])["findings"]
            .as_array()
            .unwrap()
            .len()
            > 5
    );
    // Byte for byte, but for the one line that holds the run's duration.
    let timeless = |out: &str| {
        out.lines()
            .filter(|line| !line.trim_start().starts_with("\"elapsed_ms\""))
            .collect::<Vec<_>>()
            .join("\n")
    };
    for run in &runs[1..] {
        assert!(
            timeless(run) == timeless(&runs[0]),
            "the output changed with the thread count"
        );
    }
}

/// The prefilter skips files without database vocabulary; it must never skip a
/// file that would have produced a finding.
#[test]
fn the_prefilter_loses_no_finding() {
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let with = without_elapsed(&stdout(&racelint(
        &fixtures,
        &["check", "--format", "json", "."],
    )));
    let without = without_elapsed(&stdout(&racelint(
        &fixtures,
        &["check", "--format", "json", "--no-prefilter", "."],
    )));
    assert_eq!(with["findings"], without["findings"]);
    assert!(with["findings"].as_array().unwrap().len() > 10);
}

/// Every file below `root` but racelint's own cache (`.racelint_cache/`).
fn snapshot_tree(root: &Path) -> Vec<(PathBuf, std::time::SystemTime, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.ends_with(".racelint_cache") {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else {
                let meta = fs::metadata(&path).unwrap();
                out.push((
                    path.clone(),
                    meta.modified().unwrap(),
                    fs::read(&path).unwrap(),
                ));
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn a_check_writes_nothing() {
    let dir = project(&[
        ("src/invite.ts", GET_OR_CREATE.as_bytes()),
        ("src/ok.ts", UPSERT.as_bytes()),
    ]);
    let before = snapshot_tree(dir.path());
    for format in ["human", "json"] {
        racelint(dir.path(), &["check", "--format", format, "--no-cache"]);
    }
    assert!(!dir.path().join(".racelint_cache").exists());
    assert_eq!(before, snapshot_tree(dir.path()));
    // With the cache, nothing but the cache.
    for format in ["human", "json"] {
        racelint(dir.path(), &["check", "--format", format]);
    }
    assert!(dir.path().join(".racelint_cache/entries").is_dir());
    assert_eq!(before, snapshot_tree(dir.path()));
}

/// The whole fixtures tree and the demo app hold safe fixes (tx-client-escape,
/// unused suppressions); without `--fix`, in no format and under no command is
/// a byte or a modification time of them changed.
#[test]
fn nothing_in_the_fixtures_or_the_demo_is_written_without_fix() {
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let before = snapshot_tree(&fixtures);
    let mut safe_fixes = 0;
    for dir in [fixtures.clone(), fixtures.join("demo")] {
        for format in ["human", "json", "sarif", "github"] {
            let out = racelint(&dir, &["check", "--format", format, "."]);
            assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
            if format == "json" {
                safe_fixes += stdout(&out).matches("\"applicability\": \"safe\"").count();
            }
        }
        racelint(&dir, &["schema", "."]);
        racelint(&dir, &["schema", "--format", "json", "."]);
    }
    assert!(
        safe_fixes > 0,
        "the tree should offer safe fixes to be tempted by"
    );
    assert_eq!(
        before,
        snapshot_tree(&fixtures),
        "a check wrote into fixtures/"
    );
}

/// `--fix` writes the safe fix, the written file parses and no longer has the
/// finding, and it is what the fixture's `.fixed` sibling says it should be.
#[test]
fn fix_writes_a_file_that_reparses_without_the_finding() {
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/tx-client-escape");
    for name in [
        "prisma-payment-outer-client",
        "prisma-nest-service-this-prisma",
    ] {
        let original = fs::read(fixtures.join(format!("{name}.ts"))).unwrap();
        let fixed = fs::read_to_string(fixtures.join(format!("{name}.fixed.ts"))).unwrap();
        let file = format!("src/{name}.ts");
        let dir = project(&[(file.as_str(), &original)]);
        let rules_in = |out: &Output| -> Vec<String> {
            let doc: serde_json::Value = serde_json::from_str(&stdout(out)).unwrap();
            assert!(
                doc["errors"].as_array().unwrap().is_empty(),
                "{name}: {doc:#}"
            );
            doc["findings"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["rule"].as_str().unwrap().to_string())
                .collect()
        };
        let before = racelint(dir.path(), &["check", "--format", "json"]);
        assert!(rules_in(&before).iter().any(|r| r == "tx-client-escape"));
        let fixing = racelint(dir.path(), &["check", "--fix", "--format", "json"]);
        assert!(
            stderr(&fixing).contains(&format!("fixed 1 finding in {file}")),
            "{name}: {}",
            stderr(&fixing)
        );
        // The report after --fix is the re-lint of the written file.
        assert!(!rules_in(&fixing).iter().any(|r| r == "tx-client-escape"));
        assert_eq!(fs::read_to_string(dir.path().join(&file)).unwrap(), fixed);
        let after = racelint(dir.path(), &["check", "--format", "json"]);
        assert!(!rules_in(&after).iter().any(|r| r == "tx-client-escape"));
        // A second --fix has nothing left to do.
        let again = racelint(dir.path(), &["check", "--fix"]);
        assert!(!stderr(&again).contains("fixed"), "{}", stderr(&again));
    }
}

/// A fix whose result would not parse is refused and the file left as it was:
/// take the real safe fixes of a run and make them break the syntax.
#[test]
fn a_fix_that_breaks_parsing_is_refused() {
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/tx-client-escape");
    let original = fs::read(fixtures.join("prisma-payment-outer-client.ts")).unwrap();
    let rust = b"use sqlx::PgPool;\n// racelint-ignore check-then-act: nothing here races\npub async fn f(pool: &PgPool) {}\n";
    let dir = project(&[("src/pay.ts", &original), ("src/lib.rs", rust)]);
    let options = racelint::lint::Options {
        paths: vec![dir.path().to_path_buf()],
        schema: racelint::lint::SchemaSource::None,
        jobs: 1,
        ..Default::default()
    };
    let mut report = racelint::lint::check(&options).unwrap();
    let mut broken = 0;
    for diagnostic in &mut report.diagnostics {
        if let Some(fix) = &mut diagnostic.fix {
            for edit in &mut fix.edits {
                edit.replacement.push_str(" ((( {");
                broken += 1;
            }
        }
    }
    assert!(broken >= 2, "expected safe fixes in both files: {broken}");
    let outcome = racelint::fix::apply(&report, false, None);
    assert!(outcome.written.is_empty(), "{:?}", outcome.written);
    assert_eq!(outcome.refused.len(), 2, "{:?}", outcome.refused);
    for (_, why) in &outcome.refused {
        assert!(why.contains("would not parse"), "{why}");
    }
    assert_eq!(fs::read(dir.path().join("src/pay.ts")).unwrap(), original);
    assert_eq!(fs::read(dir.path().join("src/lib.rs")).unwrap(), rust);
}

/// Two calls escaping their transactions, as a project; its report; the
/// project loaded for re-linting.
fn escape_project() -> (
    tempfile::TempDir,
    racelint::diagnostic::Report,
    racelint::lint::Relinter,
) {
    let source = r#"import { prisma } from "./db";

export async function markPaid(orderId: string, amount: number, email: string) {
  await prisma.$transaction(async (tx) => {
    const order = await tx.order.update({ where: { id: orderId }, data: { status: "paid" } });
    await prisma.payment.create({ data: { orderId: order.id, amount } });
  });
}

export async function refund(orderId: string) {
  await prisma.$transaction(async (tx) => {
    await tx.order.update({ where: { id: orderId }, data: { status: "refunded" } });
    await prisma.payment.deleteMany({ where: { orderId } });
  });
}
"#;
    let dir = project(&[("src/pay.ts", source.as_bytes())]);
    let options = racelint::lint::Options {
        paths: vec![dir.path().to_path_buf()],
        schema: racelint::lint::SchemaSource::None,
        jobs: 1,
        ..Default::default()
    };
    let report = racelint::lint::check(&options).unwrap();
    assert!(report.diagnostics.iter().any(|d| d.fix.is_some()));
    let relinter = racelint::lint::Relinter::new(&options).unwrap();
    (dir, report, relinter)
}

#[test]
fn a_fix_that_leaves_its_finding_is_dropped() {
    let (_dir, mut report, mut relinter) = escape_project();
    // The edit writes the outer client back: the call still escapes.
    for d in &mut report.diagnostics {
        if let Some(fix) = &mut d.fix {
            for edit in &mut fix.edits {
                edit.replacement = d.source[edit.span.range()].to_string();
            }
        }
    }
    let plan = racelint::fix::plan(&report, false, Some(&mut relinter));
    assert!(plan.files.is_empty(), "nothing is left to write");
    assert!(!plan.refused.is_empty());
    for (_, why) in &plan.refused {
        assert!(
            why.contains("tx-client-escape fix at line") && why.contains("is still reported"),
            "{why}"
        );
    }
}

#[test]
fn a_fix_that_brings_a_new_finding_is_dropped_and_the_others_kept() {
    let (_dir, mut report, mut relinter) = escape_project();
    let fixed: Vec<usize> = (0..report.diagnostics.len())
        .filter(|&i| report.diagnostics[i].fix.is_some())
        .collect();
    assert_eq!(fixed.len(), 2, "two escaping calls");
    // The first fix also writes a get-or-create race of its own.
    let d = &mut report.diagnostics[fixed[0]];
    let edit = &mut d.fix.as_mut().unwrap().edits[0];
    edit.replacement.push_str(
        ".user.findFirst({ where: { email } });\n  if (!(await tx.user.findFirst({ where: { email } }))) await tx.user.create({ data: { email } });\n  await tx",
    );
    let plan = racelint::fix::plan(&report, false, Some(&mut relinter));
    assert!(
        plan.refused
            .iter()
            .any(|(_, why)| why.contains("makes a new") && why.contains("finding appear")),
        "{:?}",
        plan.refused
    );
    // The other fix still applies; the next round, linting the text without the
    // dropped edit, finds the first call's own fix again and takes it.
    assert_eq!(plan.files.len(), 1);
    let text = &plan.files[0].2;
    assert!(text.contains("await tx.payment.deleteMany"), "{text}");
    assert!(text.contains("await tx.payment.create"), "{text}");
    assert!(!text.contains("user.create"), "{text}");
}

#[test]
fn human_output_reads_well() {
    let dir = project(&[("src/invite.ts", GET_OR_CREATE.as_bytes())]);
    let out = racelint(dir.path(), &["check"]);
    // The run's time is the one part that changes from run to run.
    let text = stdout(&out);
    let (head, took) = text
        .rsplit_once(" in ")
        .expect("the summary ends with the time");
    assert!(took.ends_with(" s.\n"), "{took}");
    insta::assert_snapshot!("human_get_or_create", format!("{head} in <time>.\n"));
}

#[test]
fn the_schema_copy_matches_the_contract() {
    let shared =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/racelint-output.schema.json");
    if let Ok(original) = fs::read_to_string(shared) {
        let copy = fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/racelint-output.schema.json"),
        )
        .unwrap();
        assert_eq!(
            original, copy,
            "tests/data/racelint-output.schema.json is out of date"
        );
    }
}

/// racelint never runs what it scans and never touches the network: outside
/// test modules, no source file opens a socket, the one process it may start is
/// `git` for `--changed-since` (in `changed.rs`), and no dependency is a network
/// client.
#[test]
fn the_product_spawns_nothing_and_opens_no_socket() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut stack = vec![root.join("src")];
    let mut checked = 0;
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.file_name().is_some_and(|n| n == "tests.rs") {
                continue;
            }
            let text = fs::read_to_string(&path).unwrap();
            let product = text.split("#[cfg(test)]").next().unwrap();
            let product = if path.ends_with("src/changed.rs") {
                assert_eq!(
                    product.matches("Command::new(").count(),
                    product.matches("Command::new(\"git\")").count(),
                    "changed.rs starts something other than git"
                );
                product
                    .replace("Command::new(\"git\")", "")
                    .replace("use std::process::Command;", "")
            } else {
                product.to_string()
            };
            for word in [
                "Command::new",
                "process::Command",
                "std::net",
                "TcpStream",
                "UdpSocket",
                "libc::exec",
            ] {
                assert!(
                    !product.contains(word),
                    "{} uses {word} outside tests",
                    path.display()
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 20);
    let manifest = fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let dependencies = manifest
        .split("[dependencies]")
        .nth(1)
        .unwrap()
        .split("\n[")
        .next()
        .unwrap();
    for client in ["reqwest", "hyper", "ureq", "curl", "tokio", "surf", "isahc"] {
        assert!(
            !dependencies.contains(client),
            "a network client among the dependencies: {client}"
        );
    }
}
