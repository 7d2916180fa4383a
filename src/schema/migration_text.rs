//! What of a SQL migration's text is replayed, and in which form.
//!
//! - Files holding both directions (dbmate `-- migrate:up` / `-- migrate:down`,
//!   goose `-- +goose Up` / `-- +goose Down`) keep only their up part; the rest is
//!   blanked, newlines kept, so that lines stay where they were.
//! - ClickHouse DDL (`ENGINE = MergeTree`, `CODEC(…)`) declares no keys at all.
//! - Statements PostgreSQL accepts but sqlparser does not (`DROP INDEX
//!   CONCURRENTLY`, `ALTER … TYPE … COLLATE "C"`, `CREATE INDEX … ON ONLY t`) get a
//!   second try without the words that do not change keys.

use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::{Token, Tokenizer};

/// A direction marker: `Some(true)` for up, `Some(false)` for down.
fn marker(line: &str) -> Option<bool> {
    let l = line.trim().to_ascii_lowercase();
    let rest = l.strip_prefix("--")?.trim_start();
    if let Some(word) = rest.strip_prefix("migrate:") {
        return match word.trim() {
            w if w.starts_with("up") => Some(true),
            w if w.starts_with("down") => Some(false),
            _ => None,
        };
    }
    let goose = rest.strip_prefix("+goose")?.trim_start();
    match goose {
        w if w.starts_with("up") => Some(true),
        w if w.starts_with("down") => Some(false),
        _ => None,
    }
}

/// The text with everything outside its up sections blanked; `None` when the file
/// has no direction markers (all of it is the up part).
pub fn up_part(text: &str) -> Option<String> {
    if !text.contains("migrate:") && !text.contains("+goose") {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    let mut keep = true;
    let mut seen = false;
    for line in text.split_inclusive('\n') {
        if let Some(up) = marker(line) {
            keep = up;
            seen = true;
        }
        if keep {
            out.push_str(line);
        } else {
            out.extend(line.chars().map(|c| if c == '\n' { '\n' } else { ' ' }));
        }
    }
    seen.then_some(out)
}

/// Whether a file is ClickHouse DDL, which has neither foreign nor unique keys.
pub fn is_clickhouse(rel_path: &str, text: &str) -> bool {
    rel_path
        .split('/')
        .any(|p| p.eq_ignore_ascii_case("clickhouse"))
        || text.contains("MergeTree")
}

/// The statement without what sqlparser cannot read and keys do not depend on;
/// `None` when there is nothing to take out.
pub fn relaxed(stmt: &str) -> Option<String> {
    let tokens = Tokenizer::new(&PostgreSqlDialect {}, stmt)
        .tokenize()
        .ok()?;
    let word = |t: &Token, k: Keyword| matches!(t, Token::Word(w) if w.keyword == k);
    let significant: Vec<usize> = (0..tokens.len())
        .filter(|&i| !matches!(tokens[i], Token::Whitespace(_)))
        .collect();
    let mut drop = vec![false; tokens.len()];
    for (n, &i) in significant.iter().enumerate() {
        let prev = n.checked_sub(1).map(|p| &tokens[significant[p]]);
        let t = &tokens[i];
        if word(t, Keyword::CONCURRENTLY) {
            drop[i] = true;
        } else if word(t, Keyword::COLLATE) {
            drop[i] = true;
            if let Some(&next) = significant.get(n + 1) {
                drop[next] = true;
            }
        } else if word(t, Keyword::ONLY) && prev.is_some_and(|p| word(p, Keyword::ON)) {
            drop[i] = true;
        }
    }
    if !drop.contains(&true) {
        return None;
    }
    Some(
        tokens
            .iter()
            .zip(drop)
            .filter(|(_, d)| !d)
            .map(|(t, _)| t.to_string())
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_up_part_is_kept_in_place() {
        let dbmate = "-- migrate:up\nCREATE TABLE a (id int);\n\n-- migrate:down\nDROP TABLE a;\n";
        let up = up_part(dbmate).unwrap();
        assert!(up.contains("CREATE TABLE a"));
        assert!(!up.contains("DROP"));
        assert_eq!(up.lines().count(), dbmate.lines().count());
        let goose = "-- +goose Up\n-- +goose StatementBegin\nCREATE TABLE b (id int);\n-- +goose StatementEnd\n-- +goose Down\nDROP TABLE b;\n";
        let up = up_part(goose).unwrap();
        assert!(up.contains("CREATE TABLE b") && !up.contains("DROP"));
        assert_eq!(up_part("CREATE TABLE c (id int);"), None);
    }

    #[test]
    fn relaxed_forms_drop_only_what_keys_ignore() {
        assert_eq!(
            relaxed("DROP INDEX CONCURRENTLY IF EXISTS ix").as_deref(),
            Some("DROP INDEX  IF EXISTS ix")
        );
        assert_eq!(
            relaxed("ALTER TABLE t ALTER name TYPE VARCHAR COLLATE \"C\"").as_deref(),
            Some("ALTER TABLE t ALTER name TYPE VARCHAR  ")
        );
        assert_eq!(
            relaxed("CREATE UNIQUE INDEX i ON ONLY t (a)").as_deref(),
            Some("CREATE UNIQUE INDEX i ON  t (a)")
        );
        assert_eq!(relaxed("CREATE TABLE t (only_col int)"), None);
    }
}
