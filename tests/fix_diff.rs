//! `check --diff` and `check --fix` on a real fix: the diff is the fix, nothing is
//! written by `--diff`, and a second `--fix` changes nothing.

mod common;

use common::{project, racelint, stdout};
use std::fs;
use std::path::PathBuf;

fn outer_client() -> Vec<u8> {
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/tx-client-escape");
    fs::read(fixtures.join("prisma-payment-outer-client.ts")).unwrap()
}

#[test]
fn diff_prints_the_fix_and_writes_nothing() {
    let original = outer_client();
    let dir = project(&[("src/pay.ts", &original)]);
    let out = racelint(dir.path(), &["check", "--diff"]);
    assert_eq!(out.status.code(), Some(1));
    let diff = stdout(&out);
    assert!(
        diff.starts_with("--- a/src/pay.ts\n+++ b/src/pay.ts\n@@ -5,"),
        "{diff}"
    );
    assert!(
        diff.contains("-    await prisma.payment.create(")
            && diff.contains("+    await tx.payment.create("),
        "{diff}"
    );
    assert_eq!(fs::read(dir.path().join("src/pay.ts")).unwrap(), original);
}

#[test]
fn fixing_twice_changes_nothing_the_second_time() {
    let dir = project(&[("src/pay.ts", &outer_client())]);
    racelint(dir.path(), &["check", "--fix"]);
    let once = fs::read(dir.path().join("src/pay.ts")).unwrap();
    assert_ne!(once, outer_client());
    racelint(dir.path(), &["check", "--fix"]);
    assert_eq!(fs::read(dir.path().join("src/pay.ts")).unwrap(), once);
    let diff = racelint(dir.path(), &["check", "--diff"]);
    assert_eq!(stdout(&diff), "");
    assert_eq!(diff.status.code(), Some(0));
}

#[test]
fn diff_and_fix_are_exclusive() {
    let dir = project(&[("src/pay.ts", &outer_client())]);
    let out = racelint(dir.path(), &["check", "--diff", "--fix"]);
    assert_eq!(out.status.code(), Some(2));
}
