//! `racelint.toml` as users write it: where it is found, what every key does to a
//! real run of the binary, how a mistake in it is reported, and that the README's
//! example is a complete, valid configuration.

mod common;

use common::*;
use std::path::Path;

#[test]
fn a_config_in_the_scanned_root_is_used() {
    let dir = tree(&[
        ("racelint.toml", "[rules]\ncheck-then-act = \"warning\"\n"),
        ("src/invite.ts", GET_OR_CREATE),
    ]);
    let (code, doc) = check_json(dir.path(), &[]);
    assert_eq!(code, Some(1), "a warning still fails by default");
    assert_eq!(
        findings(&doc),
        [(
            "check-then-act".into(),
            "src/invite.ts".into(),
            6,
            "warning".into()
        )]
    );
}

#[test]
fn a_config_in_a_parent_folder_is_used() {
    let dir = tree(&[
        ("racelint.toml", "[rules]\ncheck-then-act = \"info\"\n"),
        ("apps/web/lib/invite.ts", GET_OR_CREATE),
    ]);
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    // From the root, naming the subfolder…
    let (_, doc) = check_json(dir.path(), &["apps/web"]);
    assert_eq!(findings(&doc)[0].3, "info");
    // …and from inside it.
    let (code, doc) = check_json(&dir.path().join("apps/web"), &["."]);
    assert_eq!(findings(&doc)[0].3, "info");
    assert_eq!(code, Some(0), "info is below the default fail-on");
}

#[test]
fn config_flag_names_the_file() {
    let dir = tree(&[
        ("racelint.toml", ""),
        ("ci/strict.toml", "[rules]\ncheck-then-act = \"off\"\n"),
        ("src/invite.ts", GET_OR_CREATE),
    ]);
    let (code, doc) = check_json(dir.path(), &["--config", "ci/strict.toml"]);
    assert_eq!(code, Some(0));
    assert!(findings(&doc).is_empty(), "{doc:#}");
    // Without the flag the racelint.toml of the root applies.
    assert_eq!(check_json(dir.path(), &[]).0, Some(1));
    // A --config that does not exist is a configuration error.
    let out = racelint(dir.path(), &["check", "--config", "nope.toml"]);
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    assert!(stderr(&out).contains("nope.toml"), "{}", both(&out));
}

#[test]
fn off_silences_a_rule() {
    let dir = tree(&[
        ("racelint.toml", "[rules]\ncheck-then-act = \"off\"\n"),
        ("src/invite.ts", GET_OR_CREATE),
        ("src/archive.ts", ARCHIVE),
    ]);
    let (code, doc) = check_json(dir.path(), &[]);
    assert_eq!(code, Some(1));
    assert_eq!(rules_of(&doc), ["non-atomic-writes"]);
}

#[test]
fn select_and_ignore_in_the_file() {
    let files = |config: &'static str| {
        tree(&[
            ("racelint.toml", config),
            ("src/invite.ts", GET_OR_CREATE),
            ("src/archive.ts", ARCHIVE),
        ])
    };
    let both_rules = files("");
    assert_eq!(
        rules_of(&check_json(both_rules.path(), &[]).1),
        ["non-atomic-writes", "check-then-act"]
    );
    let select = files("select = [\"check-then-act\"]\n");
    assert_eq!(
        rules_of(&check_json(select.path(), &[]).1),
        ["check-then-act"]
    );
    let ignore = files("ignore = [\"check-then-act\"]\n");
    assert_eq!(
        rules_of(&check_json(ignore.path(), &[]).1),
        ["non-atomic-writes"]
    );
    // --select on the command line replaces the file's select.
    assert_eq!(
        rules_of(&check_json(select.path(), &["--select", "non-atomic-writes"]).1),
        ["non-atomic-writes"]
    );
}

#[test]
fn include_and_exclude_globs() {
    let dir = tree(&[
        (
            "racelint.toml",
            "include = [\"src/**\"]\nexclude = [\"**/generated/**\"]\n",
        ),
        ("src/invite.ts", GET_OR_CREATE),
        ("src/generated/invite.ts", GET_OR_CREATE),
        ("scripts/seed.ts", GET_OR_CREATE),
    ]);
    let (_, doc) = check_json(dir.path(), &[]);
    let paths: Vec<String> = findings(&doc).into_iter().map(|f| f.1).collect();
    assert_eq!(paths, ["src/invite.ts"]);
    assert_eq!(doc["summary"]["files"], 1);
    // Globs are relative to the config's folder, also when run from elsewhere.
    let (_, doc) = check_json(&dir.path().join("src"), &["."]);
    let paths: Vec<String> = findings(&doc).into_iter().map(|f| f.1).collect();
    assert_eq!(paths, ["invite.ts"]);
}

#[test]
fn fail_on_error_lets_warnings_pass() {
    let dir = tree(&[
        (
            "racelint.toml",
            "fail-on = \"error\"\n[rules]\ncheck-then-act = \"warning\"\n",
        ),
        ("src/invite.ts", GET_OR_CREATE),
    ]);
    let (code, doc) = check_json(dir.path(), &[]);
    assert_eq!(code, Some(0));
    assert_eq!(findings(&doc).len(), 1, "the warning is still reported");
    // An error still fails.
    write(dir.path(), "racelint.toml", "fail-on = \"error\"\n");
    assert_eq!(check_json(dir.path(), &[]).0, Some(1));
}

#[test]
fn max_file_size_skips_big_files() {
    let dir = tree(&[
        ("racelint.toml", "max-file-size = 100\n"),
        ("src/invite.ts", GET_OR_CREATE),
    ]);
    let (code, doc) = check_json(dir.path(), &[]);
    assert_eq!(code, Some(0));
    assert!(findings(&doc).is_empty());
    assert_eq!(doc["errors"][0]["kind"], "skipped");
    assert_eq!(doc["errors"][0]["path"], "src/invite.ts");
    // The command line wins over the file.
    let (code, _) = check_json(dir.path(), &["--max-file-size", "100000"]);
    assert_eq!(code, Some(1));
}

#[test]
fn custom_client_names_are_recognised() {
    // Nothing in the file says Prisma, and `store` is not a name racelint guesses.
    let racy = GET_OR_CREATE
        .replace("{ prisma }", "{ store }")
        .replace("prisma.", "store.");
    assert!(!racy.contains("prisma"));
    let dir = tree(&[("racelint.toml", ""), ("src/invite.ts", &racy)]);
    assert!(findings(&check_json(dir.path(), &[]).1).is_empty());
    write(
        dir.path(),
        "racelint.toml",
        "[clients]\nprisma = [\"store\"]\n",
    );
    let (code, doc) = check_json(dir.path(), &[]);
    assert_eq!(code, Some(1));
    assert_eq!(rules_of(&doc), ["check-then-act"]);
    assert!(doc["findings"][0]["help"]
        .as_str()
        .unwrap()
        .contains("store.invite.upsert"));
}

#[test]
fn log_tables_are_left_out_of_non_atomic_writes() {
    let dir = tree(&[("racelint.toml", ""), ("src/archive.ts", ARCHIVE)]);
    assert_eq!(
        rules_of(&check_json(dir.path(), &[]).1),
        ["non-atomic-writes"]
    );
    write(
        dir.path(),
        "racelint.toml",
        "[non-atomic-writes]\nlog-tables = [\"task\"]\n",
    );
    let (code, doc) = check_json(dir.path(), &[]);
    assert_eq!(code, Some(0), "{doc:#}");
    assert!(findings(&doc).is_empty());
}

#[test]
fn an_unknown_key_exits_2_and_shows_its_line() {
    let dir = tree(&[
        (
            "racelint.toml",
            "fail-on = \"error\"\nselekt = [\"check-then-act\"]\n",
        ),
        ("src/invite.ts", GET_OR_CREATE),
    ]);
    let out = racelint(dir.path(), &["check"]);
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    let err = stderr(&out);
    assert!(err.contains("unknown key `selekt`"), "{err}");
    assert!(err.contains("did you mean `select`?"), "{err}");
    assert!(err.contains("racelint.toml:2:1"), "{err}");
    assert!(err.contains("selekt = [\"check-then-act\"]"), "{err}");
    assert!(err.contains("not a racelint setting"), "{err}");
    assert!(stdout(&out).is_empty(), "nothing is linted");

    // A misspelt rule id is pointed at too, with a suggestion.
    write(
        dir.path(),
        "racelint.toml",
        "[rules]\ncheck-then-akt = \"off\"\n",
    );
    let out = racelint(dir.path(), &["check"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("racelint.toml:2:1"), "{err}");
    assert!(err.contains("did you mean `check-then-act`"), "{err}");
}

/// The ```toml block under the README's "## Configuration" heading.
fn readme_example() -> String {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let section = readme
        .split("\n## Configuration\n")
        .nth(1)
        .expect("README has a Configuration section");
    let section = section.split("\n## ").next().unwrap();
    let block = section
        .split("```toml\n")
        .nth(1)
        .expect("the section has a toml example");
    block.split("```").next().unwrap().to_string()
}

#[test]
fn the_readme_example_sets_every_key() {
    let text = readme_example();
    let known: Vec<&str> = racelint::lint::all_rule_meta()
        .iter()
        .map(|m| m.id)
        .collect();
    let config = racelint::config::parse(&text, "README.md", &known)
        .unwrap_or_else(|e| panic!("the README's example is invalid: {e}"));
    let defaults = racelint::config::Config::default();
    // Exhaustive on purpose: a new setting does not compile here until the README
    // shows it.
    let racelint::config::Config {
        path: _,
        rules,
        select,
        ignore,
        include,
        exclude,
        fail_on,
        max_file_size,
        clients,
        non_atomic_writes,
        transactions,
        schema,
        min_confidence,
        roles,
        overrides,
        extends: _,
        set: _,
    } = config;
    assert!(!rules.is_empty());
    assert!(rules
        .values()
        .any(|l| *l == racelint::config::RuleLevel::Off));
    assert!(select.is_some());
    assert!(!ignore.is_empty());
    assert!(!include.is_empty());
    assert!(!exclude.is_empty());
    assert_ne!(fail_on, defaults.fail_on);
    assert_ne!(max_file_size, defaults.max_file_size);
    let racelint::config::Clients { prisma, drizzle } = clients;
    assert!(!prisma.is_empty() && !drizzle.is_empty());
    let racelint::config::NonAtomicWrites { log_tables } = non_atomic_writes;
    assert!(!log_tables.is_empty());
    let racelint::config::Transactions { wrappers } = transactions;
    assert!(!wrappers.is_empty());
    let racelint::config::SchemaConfig {
        migrations,
        database,
    } = schema;
    assert!(!migrations.is_empty());
    assert!(database.is_some());
    assert_ne!(min_confidence, defaults.min_confidence);
    let racelint::config::RoleGlobs {
        production,
        test,
        script,
        migration,
        seed,
    } = roles;
    assert!(!production.is_empty() && !script.is_empty());
    let _ = (test, migration, seed);
    let racelint::config::Override { files, rules } = &overrides[0];
    assert!(!files.is_empty() && !rules.is_empty());
    // Every key is also explained in the section's prose or comments.
    for key in [
        "select",
        "ignore",
        "include",
        "exclude",
        "fail-on",
        "max-file-size",
        "[rules]",
        "[clients]",
        "[non-atomic-writes]",
        "log-tables",
        "[transactions]",
        "wrappers",
        "[schema]",
        "migrations",
        "database",
        "min-confidence",
        "[roles]",
    ] {
        assert!(text.contains(key), "the README example lacks `{key}`");
    }
}

#[test]
fn the_readme_example_runs() {
    let dir = tree(&[
        ("racelint.toml", &readme_example()),
        ("src/invite.ts", GET_OR_CREATE),
    ]);
    let out = racelint(dir.path(), &["check", "--format", "json"]);
    assert_ne!(out.status.code(), Some(2), "{}", both(&out));
    serde_json::from_str::<serde_json::Value>(&stdout(&out)).unwrap();
}

#[test]
fn exclude_applies_to_schema_sources_too() {
    let schema = "model Invite {\n  id     String @id\n  email  String\n  teamId String\n  @@unique([email, teamId])\n}\n";
    let reason = |dir: &Path, args: &[&str]| {
        let args = [args, &["--min-confidence", "low"]].concat();
        let (_, doc) = check_json(dir, &args);
        doc["findings"][0]["confidence_reason"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let dir = tree(&[
        ("racelint.toml", ""),
        ("legacy/schema.prisma", schema),
        ("src/invite.ts", GET_OR_CREATE),
    ]);
    assert!(
        !reason(dir.path(), &[]).contains("is unknown"),
        "the schema is read: {}",
        reason(dir.path(), &[])
    );
    assert!(
        reason(dir.path(), &["--exclude", "legacy/**"]).contains("schema of `invite` is unknown")
    );
    write(dir.path(), "racelint.toml", "exclude = [\"legacy/**\"]\n");
    assert!(reason(dir.path(), &[]).contains("schema of `invite` is unknown"));
}

#[test]
fn overrides_set_rule_levels_for_the_files_they_match() {
    let dir = tree(&[
        (
            "racelint.toml",
            "[rules]\nnon-atomic-writes = \"off\"\n\n\
             [[overrides]]\nfiles = [\"apps/legacy/**\"]\nrules = { check-then-act = \"off\" }\n\n\
             [[overrides]]\nfiles = [\"apps/web/**\"]\n\
             rules = { check-then-act = \"warning\", non-atomic-writes = \"error\" }\n",
        ),
        ("apps/legacy/invite.ts", GET_OR_CREATE),
        ("apps/legacy/archive.ts", ARCHIVE),
        ("apps/web/invite.ts", GET_OR_CREATE),
        ("apps/web/archive.ts", ARCHIVE),
        ("apps/api/invite.ts", GET_OR_CREATE),
    ]);
    let (code, doc) = check_json(dir.path(), &[]);
    assert_eq!(code, Some(1));
    let got: Vec<(String, String, String)> = findings(&doc)
        .into_iter()
        .map(|(rule, path, _, severity)| (path, rule, severity))
        .collect();
    let want = [
        ("apps/api/invite.ts", "check-then-act", "error"),
        ("apps/web/archive.ts", "non-atomic-writes", "error"),
        ("apps/web/invite.ts", "check-then-act", "warning"),
    ];
    let want: Vec<(String, String, String)> = want
        .iter()
        .map(|(p, r, s)| (p.to_string(), r.to_string(), s.to_string()))
        .collect();
    assert_eq!(got, want, "{doc:#}");
}

#[test]
fn an_override_without_files_or_with_a_misspelt_rule_is_an_error() {
    let dir = tree(&[("racelint.toml", "[[overrides]]\nfiles = []\n")]);
    let out = racelint(dir.path(), &["check"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("at least one glob"), "{}", both(&out));
    write(
        dir.path(),
        "racelint.toml",
        "[[overrides]]\nfiles = [\"a/**\"]\nrules = { check-then-akt = \"off\" }\n",
    );
    let out = racelint(dir.path(), &["check"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("did you mean `check-then-act`?"),
        "{}",
        both(&out)
    );
}

/// `(path, rule, severity)` of every finding.
fn placed(doc: &serde_json::Value) -> Vec<(String, String, String)> {
    findings(doc)
        .into_iter()
        .map(|(rule, path, _, severity)| (path, rule, severity))
        .collect()
}

fn triples(items: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
    items
        .iter()
        .map(|(p, r, s)| (p.to_string(), r.to_string(), s.to_string()))
        .collect()
}

/// A monorepo: a root `racelint.toml` and one in `apps/web`, which applies whole
/// to the files below it and to nothing else.
#[test]
fn a_nested_config_applies_only_under_its_folder() {
    let dir = tree(&[
        ("racelint.toml", "[rules]\nnon-atomic-writes = \"off\"\n"),
        (
            "apps/web/racelint.toml",
            "fail-on = \"error\"\n[rules]\ncheck-then-act = \"warning\"\n",
        ),
        ("apps/web/src/invite.ts", GET_OR_CREATE),
        ("apps/web/src/archive.ts", ARCHIVE),
        ("apps/api/src/invite.ts", GET_OR_CREATE),
        ("apps/api/src/archive.ts", ARCHIVE),
    ]);
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    let (code, doc) = check_json(dir.path(), &[]);
    assert_eq!(
        placed(&doc),
        triples(&[
            ("apps/api/src/invite.ts", "check-then-act", "error"),
            // The root's `non-atomic-writes = "off"` is not merged into apps/web's.
            ("apps/web/src/archive.ts", "non-atomic-writes", "warning"),
            ("apps/web/src/invite.ts", "check-then-act", "warning"),
        ]),
        "{doc:#}"
    );
    assert_eq!(code, Some(1));

    // Linting the app alone, from the root or from inside it, gives its findings
    // the same severities; its own `fail-on` lets the warning pass.
    let (_, doc) = check_json(dir.path(), &["apps/web/src/invite.ts"]);
    assert_eq!(
        placed(&doc),
        triples(&[("apps/web/src/invite.ts", "check-then-act", "warning")])
    );
    let (code, doc) = check_json(&dir.path().join("apps/web"), &["src/invite.ts"]);
    assert_eq!(
        placed(&doc),
        triples(&[("src/invite.ts", "check-then-act", "warning")])
    );
    assert_eq!(code, Some(0), "apps/web fails on errors only");

    // `--config` names one file for every file.
    let (_, doc) = check_json(dir.path(), &["--config", "racelint.toml"]);
    assert_eq!(
        placed(&doc),
        triples(&[
            ("apps/api/src/invite.ts", "check-then-act", "error"),
            ("apps/web/src/invite.ts", "check-then-act", "error"),
        ])
    );
}

#[test]
fn a_nested_config_s_globs_are_relative_to_its_folder() {
    let schema = "model Invite {\n  id     String @id\n  email  String\n  teamId String\n  @@unique([email, teamId])\n}\n";
    let dir = tree(&[
        ("racelint.toml", ""),
        (
            "apps/web/racelint.toml",
            "exclude = [\"generated/**\", \"legacy/**\"]\n",
        ),
        ("apps/web/generated/invite.ts", GET_OR_CREATE),
        ("apps/web/legacy/schema.prisma", schema),
        ("generated/invite.ts", GET_OR_CREATE),
    ]);
    let (_, doc) = check_json(dir.path(), &[]);
    assert_eq!(
        placed(&doc),
        triples(&[("generated/invite.ts", "check-then-act", "error")])
    );
    // The nested config's `exclude` leaves its schema source out too.
    assert!(
        doc["findings"][0]["confidence_reason"]
            .as_str()
            .unwrap()
            .contains("schema of `invite` is unknown"),
        "{doc:#}"
    );
    write(
        dir.path(),
        "apps/web/racelint.toml",
        "exclude = [\"generated/**\"]\n",
    );
    // The schema's unique key now stops the duplicate: a low finding.
    let (_, doc) = check_json(dir.path(), &["--min-confidence", "low"]);
    assert!(
        !doc["findings"][0]["confidence_reason"]
            .as_str()
            .unwrap()
            .contains("is unknown"),
        "{doc:#}"
    );
}

/// `extend` starts from another file's settings: the child's keys win, tables
/// merge entry by entry, overrides add up, and the extended file's globs stay
/// relative to its own folder.
#[test]
fn extend_inherits_the_named_config() {
    let dir = tree(&[
        (
            "racelint.toml",
            "[rules]\nnon-atomic-writes = \"off\"\ncheck-then-act = \"warning\"\n\n\
             [[overrides]]\nfiles = [\"apps/web/legacy/**\"]\nrules = { check-then-act = \"off\" }\n",
        ),
        (
            "apps/web/racelint.toml",
            "extend = \"../../racelint.toml\"\n[rules]\ncheck-then-act = \"info\"\n",
        ),
        ("apps/web/src/invite.ts", GET_OR_CREATE),
        ("apps/web/src/archive.ts", ARCHIVE),
        ("apps/web/legacy/invite.ts", GET_OR_CREATE),
        ("apps/other/racelint.toml", "[rules]\ncheck-then-act = \"info\"\n"),
        ("apps/other/archive.ts", ARCHIVE),
    ]);
    let (_, doc) = check_json(dir.path(), &[]);
    assert_eq!(
        placed(&doc),
        triples(&[
            // No `extend`: nothing of the root's.
            ("apps/other/archive.ts", "non-atomic-writes", "warning"),
            ("apps/web/src/invite.ts", "check-then-act", "info"),
        ]),
        "{doc:#}"
    );

    // A missing or circular `extend` is a configuration error at its line.
    write(
        dir.path(),
        "apps/other/racelint.toml",
        "extend = \"../web/racelint.toml\"\n",
    );
    write(
        dir.path(),
        "racelint.toml",
        "extend = \"apps/other/racelint.toml\"\n",
    );
    let out = racelint(dir.path(), &["check"]);
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    assert!(stderr(&out).contains("circle"), "{}", both(&out));
    write(dir.path(), "racelint.toml", "extend = \"base.toml\"\n");
    let out = racelint(dir.path(), &["check"]);
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    assert!(stderr(&out).contains("base.toml"), "{}", both(&out));
}

#[test]
fn the_errors_of_every_config_file_are_reported_at_once() {
    let dir = tree(&[
        ("racelint.toml", "selekt = []\n"),
        (
            "apps/web/racelint.toml",
            "[rules]\ncheck-then-akt = \"off\"\n",
        ),
        (
            "apps/api/racelint.toml",
            "[clients]\nprisma = [\"ctx..db\"]\n",
        ),
        ("apps/web/invite.ts", GET_OR_CREATE),
    ]);
    let out = racelint(dir.path(), &["check"]);
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    let err = stderr(&out);
    for part in [
        "apps/web/racelint.toml",
        "check-then-akt",
        "apps/api/racelint.toml",
        "ctx..db",
        "selekt",
    ] {
        assert!(err.contains(part), "{part}:\n{}", both(&out));
    }
    assert!(out.stdout.is_empty(), "nothing is linted: {}", both(&out));
}

#[test]
fn roles_come_from_each_file_s_config() {
    let dir = tree(&[
        ("racelint.toml", "[roles]\nscript = [\"ops/**\"]\n"),
        ("apps/web/racelint.toml", "[roles]\ntest = [\"ops/**\"]\n"),
        ("ops/backfill.ts", GET_OR_CREATE),
        ("apps/web/ops/backfill.ts", GET_OR_CREATE),
    ]);
    let out = racelint(dir.path(), &["roles", "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let rows: Vec<(String, String, String)> = doc["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let text = |k: &str| f[k].as_str().unwrap().to_string();
            (text("path"), text("role"), text("reason"))
        })
        .collect();
    assert_eq!(
        rows,
        [
            (
                "apps/web/ops/backfill.ts".to_string(),
                "test".to_string(),
                "matches `[roles] test` in apps/web/racelint.toml".to_string()
            ),
            (
                "ops/backfill.ts".to_string(),
                "script".to_string(),
                "matches `[roles] script` in racelint.toml".to_string()
            ),
        ]
    );
}
