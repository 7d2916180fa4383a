//! The places a linter lives, end to end with the real binary on real files:
//! suppression comments and `--fix`, baselines, SARIF and GitHub output,
//! `--changed-since` in a scratch git repository, the rule list, and the
//! GitHub Action's run script.

mod common;

use common::*;
use std::fs;
use std::path::Path;
use std::process::Command;

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `GET_OR_CREATE` with `comment` on its own line before the racy create (line 6).
fn with_line_before(comment: &str) -> String {
    GET_OR_CREATE.replace(
        "  return prisma.invite.create",
        &format!("  {comment}\n  return prisma.invite.create"),
    )
}

/// `GET_OR_CREATE` with `comment` at the end of the racy create's line.
fn at_line_end(comment: &str) -> String {
    GET_OR_CREATE.replace(
        "{ data: { email, teamId } });",
        &format!("{{ data: {{ email, teamId }} }}); {comment}"),
    )
}

fn assert_clean(dir: &Path) {
    let (code, doc) = check_json(dir, &[]);
    assert_eq!(code, Some(0), "{doc:#}");
    assert!(findings(&doc).is_empty(), "{doc:#}");
    assert!(doc["errors"].as_array().unwrap().is_empty(), "{doc:#}");
}

// ---------------------------------------------------------------- suppressions

#[test]
fn suppressions_silence_the_finding_in_typescript() {
    let directive = "// racelint-ignore check-then-act: invites are unique and P2002 is caught";
    for text in [
        with_line_before(directive),
        at_line_end(directive),
        format!("{directive}\n{GET_OR_CREATE}").replace("ignore", "ignore-file"),
        // Block comments work too, and several ids in one comment.
        at_line_end("/* racelint-ignore non-atomic-writes, check-then-act: reviewed */")
            .replace("non-atomic-writes, ", ""),
    ] {
        let dir = tree(&[("racelint.toml", ""), ("src/invite.ts", &text)]);
        assert_clean(dir.path());
    }
    // The unsuppressed file does fire, so the above proves something.
    let dir = tree(&[("racelint.toml", ""), ("src/invite.ts", GET_OR_CREATE)]);
    assert_eq!(check_json(dir.path(), &[]).0, Some(1));
}

#[test]
fn suppressions_silence_the_finding_in_rust() {
    let directive = "// racelint-ignore check-then-act: the insert is ON CONFLICT DO NOTHING";
    let dir = tree(&[("racelint.toml", ""), ("src/invite.rs", RUST_GET_OR_CREATE)]);
    let (code, doc) = check_json(dir.path(), &[]);
    assert_eq!(code, Some(1));
    assert_eq!(
        findings(&doc),
        [(
            "check-then-act".into(),
            "src/invite.rs".into(),
            9,
            "error".into()
        )]
    );
    for text in [
        RUST_GET_OR_CREATE.replace(
            "            .execute(pool)",
            &format!("            {directive}\n            .execute(pool)"),
        ),
        RUST_GET_OR_CREATE.replace(".execute(pool)", &format!(".execute(pool) {directive}")),
        format!(
            "{}\n{RUST_GET_OR_CREATE}",
            directive.replace("ignore", "ignore-file")
        ),
    ] {
        write(dir.path(), "src/invite.rs", &text);
        assert_clean(dir.path());
    }
}

#[test]
fn a_suppression_without_reason_still_suppresses_but_is_reported() {
    let dir = tree(&[
        ("racelint.toml", ""),
        (
            "src/invite.ts",
            &with_line_before("// racelint-ignore check-then-act"),
        ),
    ]);
    let (code, doc) = check_json(dir.path(), &[]);
    assert_eq!(code, Some(1));
    assert_eq!(
        findings(&doc),
        [(
            "suppression-missing-reason".into(),
            "src/invite.ts".into(),
            6,
            "warning".into()
        )]
    );
    assert!(doc["findings"][0].get("fix").is_none(), "only a person can");
}

#[test]
fn an_unused_suppression_is_reported_and_fix_removes_it() {
    // The upsert has no race: the suppression above it is stale.
    let stale = UPSERT.replace(
        "  return prisma.invite.upsert",
        "  // racelint-ignore check-then-act: get-or-create, reviewed\n  return prisma.invite.upsert",
    );
    let dir = tree(&[("racelint.toml", ""), ("src/invite.ts", &stale)]);
    let (code, doc) = check_json(dir.path(), &[]);
    assert_eq!(code, Some(1), "a warning fails by default");
    assert_eq!(
        findings(&doc),
        [(
            "unused-suppression".into(),
            "src/invite.ts".into(),
            4,
            "warning".into()
        )]
    );
    let finding = &doc["findings"][0];
    assert_eq!(finding["fix"]["applicability"], "safe");
    assert!(finding["message"]
        .as_str()
        .unwrap()
        .contains("no `check-then-act` finding on line 5"));

    let out = racelint(dir.path(), &["check", "--fix"]);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert!(
        stderr(&out).contains("fixed 1 finding in src/invite.ts"),
        "{}",
        both(&out)
    );
    let fixed = fs::read_to_string(dir.path().join("src/invite.ts")).unwrap();
    assert_eq!(
        fixed, UPSERT,
        "the comment's whole line is gone, nothing else"
    );
    // The fixed file parses and the next run reports nothing.
    assert_clean(dir.path());
}

#[test]
fn fix_removes_only_the_unused_id_of_a_trailing_suppression() {
    let text = at_line_end("// racelint-ignore check-then-act, non-atomic-writes: reviewed");
    let dir = tree(&[("racelint.toml", ""), ("src/invite.ts", &text)]);
    let (code, doc) = check_json(dir.path(), &[]);
    assert_eq!(code, Some(1));
    assert_eq!(rules_of(&doc), ["unused-suppression"]);
    let out = racelint(dir.path(), &["check", "--fix"]);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert_eq!(
        fs::read_to_string(dir.path().join("src/invite.ts")).unwrap(),
        at_line_end("// racelint-ignore check-then-act: reviewed")
    );
    assert_clean(dir.path());
}

#[test]
fn rules_and_explain_cover_the_suppression_checks() {
    let dir = tempfile::tempdir().unwrap();
    let rules = stdout(&racelint(dir.path(), &["rules"]));
    let json: serde_json::Value = serde_json::from_str(&stdout(&racelint(
        dir.path(),
        &["rules", "--format", "json"],
    )))
    .unwrap();
    for meta in racelint::lint::all_rule_meta() {
        assert!(rules.contains(meta.id), "{rules}");
        assert!(
            json.as_array().unwrap().iter().any(|r| r["id"] == meta.id),
            "{json:#}"
        );
        let out = racelint(dir.path(), &["explain", meta.id]);
        assert_eq!(out.status.code(), Some(0), "{}", both(&out));
        let doc = fs::read_to_string(manifest_dir().join(format!("rules/{}.md", meta.id)))
            .unwrap_or_else(|_| panic!("rules/{}.md exists", meta.id));
        assert_eq!(stdout(&out), doc, "explain {} prints rules/{0}.md", meta.id);
        assert!(doc.starts_with(&format!("# {}\n", meta.id)));
    }
    assert!(rules.contains("unused-suppression"));
    assert!(rules.contains("suppression-missing-reason"));

    // The README's rule table lists every rule with its default severity.
    let readme = fs::read_to_string(manifest_dir().join("README.md")).unwrap();
    for meta in racelint::lint::all_rule_meta() {
        let row = format!("| `{}` | {} |", meta.id, meta.severity.as_str());
        assert!(readme.contains(&row), "README.md lacks the row {row}");
    }
}

// ------------------------------------------------------------------- baselines

#[test]
fn a_baseline_hides_known_findings_until_the_code_changes() {
    let dir = tree(&[("racelint.toml", ""), ("src/invite.ts", GET_OR_CREATE)]);
    let out = racelint(dir.path(), &["check", "--write-baseline", "b.json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "writing a baseline is not a lint run"
    );
    assert!(stderr(&out).contains("recorded 1 finding from 1 file in b.json"));
    let written: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(dir.path().join("b.json")).unwrap()).unwrap();
    assert_eq!(written["findings"][0]["rule"], "check-then-act");

    let (code, doc) = check_json(dir.path(), &["--baseline", "b.json"]);
    assert_eq!(code, Some(0));
    assert!(findings(&doc).is_empty());
    let out = racelint(dir.path(), &["check", "--baseline", "b.json"]);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));

    // Lines inserted above move the finding, which stays known.
    let moved = GET_OR_CREATE.replace(
        "export async function",
        "// Invitations.\n\nconst LIMIT = 10;\n\nexport async function",
    );
    write(dir.path(), "src/invite.ts", &moved);
    let (code, doc) = check_json(dir.path(), &[]);
    assert_eq!(code, Some(1));
    assert_eq!(findings(&doc)[0].2, 10, "the finding moved down 4 lines");
    assert_eq!(check_json(dir.path(), &["--baseline", "b.json"]).0, Some(0));

    // Racing on another table is another race.
    write(
        dir.path(),
        "src/invite.ts",
        &moved.replace("prisma.invite.", "prisma.membership."),
    );
    let (code, doc) = check_json(dir.path(), &["--baseline", "b.json"]);
    assert_eq!(code, Some(1));
    assert_eq!(rules_of(&doc), ["check-then-act"]);
    assert!(doc["findings"][0]["message"]
        .as_str()
        .unwrap()
        .contains("membership"));
}

#[test]
fn a_missing_or_corrupt_baseline_is_an_error() {
    let dir = tree(&[("racelint.toml", ""), ("src/invite.ts", GET_OR_CREATE)]);
    let out = racelint(dir.path(), &["check", "--baseline", "missing.json"]);
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    let err = stderr(&out);
    assert!(
        err.contains("racelint: error: cannot read baseline missing.json"),
        "{err}"
    );
    assert_eq!(err.matches("baseline").count(), 1, "said once: {err}");

    for (content, expect) in [
        ("{ not json", "invalid baseline corrupt.json"),
        (
            "{\"version\": 99, \"findings\": []}",
            "version 99 is not supported",
        ),
        ("{\"version\": 1}", "invalid baseline corrupt.json"),
    ] {
        write(dir.path(), "corrupt.json", content);
        let out = racelint(dir.path(), &["check", "--baseline", "corrupt.json"]);
        assert_eq!(out.status.code(), Some(2), "{}", both(&out));
        assert!(stderr(&out).contains(expect), "{}", both(&out));
        assert!(stdout(&out).is_empty(), "nothing is reported as if clean");
    }
}

// ----------------------------------------------------------- sarif and github

#[test]
fn sarif_output_is_valid_sarif_2_1_0() {
    let dir = tree(&[
        ("racelint.toml", ""),
        ("src/invite.ts", GET_OR_CREATE),
        ("src/archive.ts", ARCHIVE),
        ("src/broken.ts", "export async function f( {\n"),
    ]);
    let out = racelint(dir.path(), &["check", "--format", "sarif"]);
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    let sarif: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let schema: serde_json::Value = serde_json::from_str(
        &fs::read_to_string(manifest_dir().join("tests/data/sarif-2.1.0.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&sarif)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}\n{sarif:#}");

    let run = &sarif["runs"][0];
    let results = run["results"].as_array().unwrap();
    let invite = results
        .iter()
        .find(|r| r["ruleId"] == "check-then-act")
        .expect("the get-or-create is a result");
    let location = &invite["locations"][0]["physicalLocation"];
    assert_eq!(location["artifactLocation"]["uri"], "src/invite.ts");
    assert_eq!(location["region"]["startLine"], 6);
    assert!(results.iter().any(|r| r["ruleId"] == "non-atomic-writes"));
    let rule_ids: Vec<&str> = run["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    for meta in racelint::lint::all_rule_meta() {
        assert!(rule_ids.contains(&meta.id), "{rule_ids:?}");
    }
}

#[test]
fn github_output_is_one_workflow_command_per_finding() {
    let dir = tree(&[
        (
            "racelint.toml",
            "[rules]\nnon-atomic-writes = \"warning\"\n",
        ),
        ("src/invite.ts", GET_OR_CREATE),
        ("src/archive.ts", ARCHIVE),
    ]);
    let out = racelint(dir.path(), &["check", "--format", "github", "."]);
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].starts_with("::warning file=src/archive.ts,line=5,"),
        "{text}"
    );
    assert!(
        lines[1].starts_with("::error file=src/invite.ts,line=6,col=24,"),
        "{text}"
    );
    assert!(
        lines[1].contains("title=racelint(check-then-act)::"),
        "{text}"
    );
    // Multi-line messages are percent-encoded onto the one line.
    assert!(lines[1].contains("%0A"), "{text}");

    let clean = tree(&[("racelint.toml", ""), ("src/invite.ts", UPSERT)]);
    let out = racelint(clean.path(), &["check", "--format", "github", "."]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out), "");
}

// --------------------------------------------------------------- changed-since

/// A repository whose `main` holds a Prisma schema and an old racy file, and a
/// branch `feature` with a commit, a staged file, an unstaged edit and an
/// untracked file.
fn changed_repo() -> tempfile::TempDir {
    let schema = fs::read_to_string(
        manifest_dir().join("fixtures/fk-delete-order/prisma-ludics/prisma/schema.prisma"),
    )
    .unwrap();
    let dir = repo(&[
        ("prisma/schema.prisma", &schema),
        ("src/old.ts", GET_OR_CREATE),
        ("src/edited.ts", UPSERT),
        ("src/deleted.ts", UPSERT),
    ]);
    let root = dir.path();
    git(root, &["checkout", "-q", "-b", "feature"]);
    // Racy only with the schema (traces reference designs without a cascade), which
    // the branch does not touch.
    write(
        root,
        "src/committed.ts",
        r#"import { prisma } from "./db";

export async function cleanup(deliberationId: string) {
  await prisma.$transaction(async (tx) => {
    await tx.ludicDesign.deleteMany({ where: { deliberationId } });
    await tx.ludicTrace.deleteMany({ where: { deliberationId } });
  });
}
"#,
    );
    git(root, &["rm", "-q", "src/deleted.ts"]);
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "feature"]);
    write(root, "src/staged.ts", GET_OR_CREATE);
    git(root, &["add", "src/staged.ts"]);
    write(root, "src/edited.ts", GET_OR_CREATE);
    write(root, "src/untracked.ts", GET_OR_CREATE);
    write(root, ".gitignore", "ignored.ts\n");
    write(root, "ignored.ts", GET_OR_CREATE);
    dir
}

fn paths_of(doc: &serde_json::Value) -> Vec<(String, String)> {
    findings(doc).into_iter().map(|f| (f.1, f.0)).collect()
}

#[test]
fn changed_since_lints_only_what_changed() {
    let dir = changed_repo();
    let (code, doc) = check_json(dir.path(), &["--changed-since", "main"]);
    assert_eq!(code, Some(1), "{doc:#}");
    assert_eq!(
        paths_of(&doc),
        [
            ("src/committed.ts".into(), "fk-delete-order".into()),
            ("src/edited.ts".into(), "check-then-act".into()),
            ("src/staged.ts".into(), "check-then-act".into()),
            ("src/untracked.ts".into(), "check-then-act".into()),
        ],
        "not src/old.ts (unchanged) nor ignored.ts; the schema still counts"
    );
    assert_eq!(doc["summary"]["files"], 4);

    // Without the flag, everything; with a path, only changed files below it.
    let (_, all) = check_json(dir.path(), &[]);
    assert!(paths_of(&all).iter().any(|(p, _)| p == "src/old.ts"));
    let (_, doc) = check_json(
        dir.path(),
        &["--changed-since", "main", "src/edited.ts", "src/old.ts"],
    );
    assert_eq!(
        paths_of(&doc),
        [("src/edited.ts".into(), "check-then-act".into())]
    );

    // Since HEAD: only the uncommitted and untracked files.
    let (_, doc) = check_json(&dir.path().join("src"), &["--changed-since", "HEAD", "."]);
    let paths: Vec<String> = paths_of(&doc).into_iter().map(|p| p.0).collect();
    assert_eq!(paths, ["edited.ts", "staged.ts", "untracked.ts"]);
}

#[test]
fn changed_since_counts_from_the_merge_base() {
    let dir = changed_repo();
    let root = dir.path();
    git(root, &["stash", "-q", "--include-untracked"]);
    // A commit on main after the branch left it is not the branch's change.
    git(root, &["checkout", "-q", "main"]);
    write(root, "src/later-on-main.ts", GET_OR_CREATE);
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "main moves on"]);
    git(root, &["checkout", "-q", "feature"]);
    let (_, doc) = check_json(root, &["--changed-since", "main"]);
    let paths: Vec<String> = paths_of(&doc).into_iter().map(|p| p.0).collect();
    assert_eq!(paths, ["src/committed.ts"]);
}

#[test]
fn changed_since_outside_git_or_with_a_bad_ref_exits_2() {
    let dir = tree(&[("racelint.toml", ""), ("src/invite.ts", GET_OR_CREATE)]);
    let out = racelint(dir.path(), &["check", "--changed-since", "main"]);
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    assert!(
        stderr(&out).contains("--changed-since needs a git repository"),
        "{}",
        both(&out)
    );

    let dir = changed_repo();
    for bad in ["no-such-branch", "--output=x"] {
        let out = racelint(dir.path(), &["check", &format!("--changed-since={bad}")]);
        assert_eq!(out.status.code(), Some(2), "{}", both(&out));
        assert!(
            stderr(&out).contains(&format!("`{bad}` is not a commit, branch or tag")),
            "{}",
            both(&out)
        );
    }
    assert!(!dir.path().join("x").exists());
}

// ------------------------------------------------------------- GitHub Action

/// The shell script of the action's "Run racelint" step.
fn action_run_script() -> String {
    let action = fs::read_to_string(manifest_dir().join("action.yml")).unwrap();
    let step = action
        .split("    - name: Run racelint\n")
        .nth(1)
        .expect("action.yml has a `Run racelint` step");
    let body = step
        .split("      run: |\n")
        .nth(1)
        .expect("the step runs a script");
    body.lines()
        .take_while(|l| l.is_empty() || l.starts_with("        "))
        .map(|l| l.strip_prefix("        ").unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs the action's script as the runner would: inputs in the environment,
/// racelint on the PATH, `bash -e` (GitHub's default for composite steps).
fn run_action(dir: &Path, paths: &str, args: &str, upload: &str) -> (Option<i32>, String, String) {
    let bin = Path::new(env!("CARGO_BIN_EXE_racelint")).parent().unwrap();
    let temp = tempfile::tempdir().unwrap();
    let output_file = temp.path().join("github_output");
    fs::write(&output_file, "").unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("bash")
        .args(["--noprofile", "--norc", "-eo", "pipefail", "-c"])
        .arg(action_run_script())
        .current_dir(dir)
        .env("PATH", path)
        .env("NO_COLOR", "1")
        .env("RUNNER_TEMP", temp.path())
        .env("GITHUB_OUTPUT", &output_file)
        .env("RACELINT_PATHS", paths)
        .env("RACELINT_ARGS", args)
        .env("RACELINT_UPLOAD", upload)
        .output()
        .unwrap();
    let outputs = fs::read_to_string(&output_file).unwrap();
    let sarif = outputs
        .lines()
        .find_map(|l| l.strip_prefix("sarif-file="))
        .filter(|f| !f.is_empty())
        .map(|f| fs::read_to_string(f).unwrap())
        .unwrap_or_default();
    (
        out.status.code(),
        format!("{outputs}{}", String::from_utf8_lossy(&out.stdout)),
        sarif,
    )
}

#[test]
fn the_action_script_runs_the_current_cli() {
    let dir = tree(&[
        ("racelint.toml", ""),
        ("ci/racelint.toml", "[rules]\nnon-atomic-writes = \"off\"\n"),
        ("src/invite.ts", GET_OR_CREATE),
        ("src/archive.ts", ARCHIVE),
        ("other/invite.ts", GET_OR_CREATE),
    ]);
    // SARIF: findings leave the step green (exit-code=1) for the upload step.
    let (code, outputs, sarif) = run_action(dir.path(), "src", "--config ci/racelint.toml", "true");
    assert_eq!(code, Some(0), "{outputs}");
    assert!(outputs.contains("exit-code=1"), "{outputs}");
    let sarif: serde_json::Value = serde_json::from_str(&sarif).unwrap();
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 1, "{sarif:#}");
    assert_eq!(results[0]["ruleId"], "check-then-act");

    // Annotations instead of SARIF.
    let (code, outputs, sarif) = run_action(dir.path(), "src other", "", "false");
    assert_eq!(code, Some(0), "{outputs}");
    assert!(
        outputs.contains("exit-code=1") && sarif.is_empty(),
        "{outputs}"
    );
    assert!(outputs.contains("sarif-file=\n"), "{outputs}");
    assert_eq!(outputs.matches(" file=").count(), 3, "{outputs}");

    // Clean code.
    let clean = tree(&[("racelint.toml", ""), ("src/invite.ts", UPSERT)]);
    let (code, outputs, _) = run_action(clean.path(), ".", "", "true");
    assert_eq!(code, Some(0));
    assert!(outputs.contains("exit-code=0"), "{outputs}");

    // A configuration error fails the step itself.
    let (code, outputs, _) = run_action(dir.path(), ".", "--select nope", "true");
    assert_eq!(code, Some(2), "{outputs}");
    assert!(outputs.contains("exit-code=2"), "{outputs}");
    assert!(outputs.contains("::error title=racelint::racelint could not run"));
}

#[test]
fn the_readme_workflows_use_only_the_actions_inputs() {
    let action = fs::read_to_string(manifest_dir().join("action.yml")).unwrap();
    let inputs = format!(
        "\n{}",
        action
            .split("\ninputs:\n")
            .nth(1)
            .unwrap()
            .split("\noutputs:\n")
            .next()
            .unwrap()
    );
    let readme = fs::read_to_string(manifest_dir().join("README.md")).unwrap();
    let section = readme.split("\n## GitHub Actions\n").nth(1).unwrap();
    let section = section.split("\n## ").next().unwrap();
    let mut checked = 0;
    for block in section.split("```yaml\n").skip(1) {
        let block = block.split("```").next().unwrap();
        assert!(block.contains("uses: racelint/racelint@"), "{block}");
        let with = block.split("        with:\n").nth(1).unwrap_or("");
        for line in with.lines().take_while(|l| l.starts_with("          ")) {
            let key = line.trim().split(':').next().unwrap();
            assert!(
                inputs.contains(&format!("\n  {key}:\n")),
                "README uses input `{key}`, which action.yml does not declare"
            );
            checked += 1;
        }
    }
    assert!(checked >= 4, "the README's workflows were not found");
}
