//! What a new user sees from `racelint check`, end to end on scratch projects:
//! the concise and statistics views, `--quiet`, `--output-file`, colour and its
//! environment variables, plain ASCII output, the timing line, the GitHub step
//! summary, baselines that refuse partial runs and say what they hid, and the
//! did-you-mean hints.

mod common;

use common::*;
use std::fs;
use std::path::Path;
use std::process::{Command, Output};

/// Two findings: a get-or-create (check-then-act) and two writes outside a
/// transaction (non-atomic-writes).
fn racy_project() -> tempfile::TempDir {
    tree(&[
        ("racelint.toml", ""),
        ("src/invite.ts", GET_OR_CREATE),
        ("src/archive.ts", ARCHIVE),
    ])
}

/// racelint with exactly these variables of the colour conventions set (the
/// others removed), as a user's shell would have them.
fn with_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_racelint"));
    command.args(args).current_dir(dir);
    for name in [
        "NO_COLOR",
        "FORCE_COLOR",
        "CLICOLOR_FORCE",
        "TERM",
        "GITHUB_STEP_SUMMARY",
    ] {
        command.env_remove(name);
    }
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("racelint runs")
}

const ESC: char = '\u{1b}';

#[test]
fn concise_is_one_line_per_finding_then_the_summary() {
    let dir = racy_project();
    let out = racelint(dir.path(), &["check", "--format", "concise"]);
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[0].starts_with("src/archive.ts:5:21: warning[non-atomic-writes] "),
        "{text}"
    );
    assert!(
        lines[1].starts_with("src/invite.ts:6:24: error[check-then-act] `invite` is inserted"),
        "{text}"
    );
    assert!(lines[2].starts_with("Found 2 findings (1 error, 1 warning) in 2 files in "));
    assert!(lines[2].ends_with(" s."), "{text}");
}

#[test]
fn quiet_prints_only_the_findings() {
    let dir = racy_project();
    let out = racelint(dir.path(), &["check", "--format", "concise", "--quiet"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out).lines().count(), 2, "{}", both(&out));
    let human = racelint(dir.path(), &["check", "-q"]);
    assert!(!stdout(&human).contains("Found "), "{}", both(&human));
    assert!(stdout(&human).contains("check-then-act"));
}

#[test]
fn statistics_count_findings_per_rule_with_fixable_counts() {
    let dir = racy_project();
    let out = racelint(dir.path(), &["check", "--statistics"]);
    assert_eq!(out.status.code(), Some(1), "failing findings still fail");
    let text = stdout(&out);
    assert!(
        text.starts_with(
            "  count  fixable  rule\n      1        0  check-then-act\n      \
             1        1  non-atomic-writes\n      2        1  total\n"
        ),
        "{text}"
    );
    assert!(!text.contains("inserted"), "no finding is printed: {text}");

    let out = racelint(dir.path(), &["check", "--statistics", "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(doc["total"], 2);
    assert_eq!(doc["rules"][0]["rule"], "check-then-act");

    let out = racelint(dir.path(), &["check", "--statistics", "--format", "sarif"]);
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
}

#[test]
fn a_fix_is_counted_as_fixable() {
    // An unused suppression carries a safe fix (removing it).
    let dir = tree(&[
        ("racelint.toml", ""),
        (
            "src/a.ts",
            "// racelint-ignore check-then-act: reviewed\nexport const a = 1;\n",
        ),
    ]);
    let out = racelint(dir.path(), &["check", "--statistics", "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(doc["rules"][0]["rule"], "unused-suppression", "{doc:#}");
    assert_eq!(doc["rules"][0]["fixable"], 1, "{doc:#}");
}

#[test]
fn output_file_takes_the_report_and_stdout_stays_empty() {
    let dir = racy_project();
    let out = racelint(
        dir.path(),
        &["check", "--format", "json", "--output-file", "report.json"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).is_empty(), "{}", both(&out));
    let doc: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(dir.path().join("report.json")).unwrap()).unwrap();
    assert_eq!(doc["findings"].as_array().unwrap().len(), 2);

    // Human output to a file is plain, whatever the terminal.
    let out = with_env(dir.path(), &["check", "--output-file", "report.txt"], &[]);
    assert_eq!(out.status.code(), Some(1));
    let text = fs::read_to_string(dir.path().join("report.txt")).unwrap();
    assert!(text.is_ascii() && !text.contains(ESC), "{text}");

    let out = racelint(dir.path(), &["check", "--output-file", "no/such/dir/r.txt"]);
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
}

#[test]
fn plain_output_is_ascii_and_colour_follows_the_conventions() {
    let dir = racy_project();
    let args = ["check"];
    let plain = with_env(dir.path(), &args, &[]);
    let text = stdout(&plain);
    assert!(text.is_ascii(), "not a terminal: plain ASCII\n{text}");
    assert!(!text.contains(ESC));
    assert!(text.contains("check-then-act"), "{text}");

    let colored = |env: &[(&str, &str)], extra: &[&str]| {
        let mut all = args.to_vec();
        all.extend_from_slice(extra);
        stdout(&with_env(dir.path(), &all, env)).contains(ESC)
    };
    assert!(colored(&[], &["--color", "always"]));
    assert!(!colored(&[("FORCE_COLOR", "1")], &["--color", "never"]));
    assert!(colored(&[("FORCE_COLOR", "1")], &[]));
    assert!(colored(&[("CLICOLOR_FORCE", "1")], &[]));
    assert!(!colored(&[("FORCE_COLOR", "0")], &[]));
    // NO_COLOR wins over the forcing variables; TERM=dumb does not.
    assert!(!colored(&[("NO_COLOR", "1"), ("FORCE_COLOR", "1")], &[]));
    assert!(colored(&[("TERM", "dumb"), ("FORCE_COLOR", "1")], &[]));
    assert!(!colored(&[("TERM", "dumb")], &[]));
}

#[test]
fn github_format_writes_a_step_summary_when_asked() {
    let dir = racy_project();
    let summary = dir.path().join("summary.md");
    fs::write(&summary, "earlier step\n").unwrap();
    let out = with_env(
        dir.path(),
        &["check", "--format", "github"],
        &[("GITHUB_STEP_SUMMARY", summary.to_str().unwrap())],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).starts_with("::warning file=src/archive.ts"));
    let text = fs::read_to_string(&summary).unwrap();
    assert!(
        text.starts_with("earlier step\n## racelint\n\n2 findings in 2 files.\n"),
        "appended: {text}"
    );
    assert!(text.contains("| `check-then-act` | 1 | 0 |"), "{text}");
    assert!(text.contains("| `src/invite.ts:6:24` | `check-then-act` | error |"));

    // Without the variable, nothing is written anywhere else.
    let out = with_env(dir.path(), &["check", "--format", "github"], &[]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn an_empty_folder_has_no_files_to_lint() {
    let dir = tree(&[("racelint.toml", "")]);
    let out = racelint(dir.path(), &["check"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stdout(&out).starts_with("No files to lint"),
        "{}",
        both(&out)
    );
}

// ------------------------------------------------------------------- baselines

#[test]
fn writing_a_baseline_says_so_in_one_line_and_exits_0() {
    let dir = racy_project();
    let out = racelint(dir.path(), &["check", "--write-baseline", "b.json"]);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert!(stdout(&out).is_empty(), "no report: {}", both(&out));
    assert_eq!(
        stderr(&out),
        "racelint: recorded 2 findings from 2 files in b.json\n"
    );

    let out = racelint(dir.path(), &["check", "--baseline", "b.json"]);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert!(
        stdout(&out).contains("\n2 known findings hidden by the baseline.\n"),
        "{}",
        both(&out)
    );
    let out = racelint(
        dir.path(),
        &["check", "--baseline", "b.json", "--format", "json"],
    );
    assert!(
        stderr(&out).contains("2 known finding(s) hidden by the baseline"),
        "{}",
        both(&out)
    );
}

#[test]
fn a_baseline_from_a_partial_run_is_refused_unless_forced() {
    let dir = racy_project();
    for partial in [
        &["src/invite.ts"][..],
        &["--select", "check-then-act"],
        &["--ignore", "non-atomic-writes"],
    ] {
        let mut args = vec!["check", "--write-baseline", "b.json"];
        args.extend_from_slice(partial);
        let out = racelint(dir.path(), &args);
        assert_eq!(out.status.code(), Some(2), "{partial:?}: {}", both(&out));
        assert!(stderr(&out).contains("partial"), "{}", both(&out));
        assert!(stderr(&out).contains("--force"), "{}", both(&out));
        assert!(!dir.path().join("b.json").exists());
    }
    let out = racelint(
        dir.path(),
        &[
            "check",
            "--write-baseline",
            "b.json",
            "--force",
            "src/invite.ts",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert!(stderr(&out).contains("recorded 1 finding from 1 file"));
    // A whole run named by its root is not partial.
    let out = racelint(dir.path(), &["check", "--write-baseline", "b.json", "."]);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
}

// --------------------------------------------------------------- did you mean

#[test]
fn misspelt_rule_ids_get_a_suggestion() {
    let dir = racy_project();
    let out = racelint(dir.path(), &["explain", "check-then-akt"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("did you mean `check-then-act`?"),
        "{}",
        both(&out)
    );
    let out = racelint(dir.path(), &["check", "--select", "non-atomic-write"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("did you mean `non-atomic-writes`?"));

    write(
        dir.path(),
        "src/invite.ts",
        &GET_OR_CREATE.replace(
            "  return prisma.invite.create",
            "  // racelint-ignore check-then-akt: the form debounces\n  return prisma.invite.create",
        ),
    );
    let (_, doc) = check_json(dir.path(), &[]);
    let help: Vec<&str> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "unused-suppression")
        .map(|f| f["help"].as_str().unwrap())
        .collect();
    assert_eq!(help.len(), 1, "{doc:#}");
    assert!(
        help[0].starts_with("did you mean `check-then-act`?"),
        "{help:?}"
    );
}
