//! Inline suppressions (`// racelint-ignore RULE: reason`) and the findings about
//! the suppressions themselves: `unused-suppression` and
//! `suppression-missing-reason`.
//!
//! Forms, in TypeScript and Rust alike (in SQL files, `--` comments instead of `//`):
//! - `// racelint-ignore RULE[, RULE]: reason` or `/* … */` at the end of a line
//!   covers that line; alone on a line it covers the next line that is not itself
//!   a comment (so suppressions can be stacked, or follow an explanation);
//! - `// racelint-ignore-file RULE[, RULE]: reason` anywhere covers the whole file.
//!
//! A finding is matched by the line its primary span starts on.
//!
//! Comments are found without a parser: a line is scanned left to right, tracking
//! `'`, `"` and `` ` `` strings, and the directive must be the first word of a `//`
//! or `/*` comment that starts on that line. So `"// racelint-ignore x"` in a string
//! does not count, and neither does prose that mentions racelint-ignore mid-comment.
//! A quote opens a string only if the same quote closes it later on the line, which
//! keeps Rust lifetimes (`&'a str`) from hiding a comment; the price is that a line
//! inside a multi-line template literal that looks like a comment is taken for one.

use crate::diagnostic::{Applicability, Confidence, Edit, Finding, Fix, RuleMeta, Severity};
use crate::ir::Span;
use crate::source::SourceFile;

pub const UNUSED_SUPPRESSION: &str = "unused-suppression";
pub const SUPPRESSION_MISSING_REASON: &str = "suppression-missing-reason";

/// Every suppression comment contains this; files without it skip the parse.
pub const MARKER: &str = "racelint-ignore";

/// The two rules this module reports, for the rule table (`racelint rules`, SARIF,
/// the config's id check).
pub const META: &[RuleMeta] = &[
    RuleMeta {
        id: UNUSED_SUPPRESSION,
        severity: Severity::Warning,
        summary: "a racelint-ignore comment that suppresses nothing",
        doc: include_str!("../rules/unused-suppression.md"),
        concurrent: false,
        fixable: Some(Applicability::Safe),
    },
    RuleMeta {
        id: SUPPRESSION_MISSING_REASON,
        severity: Severity::Warning,
        summary: "a racelint-ignore comment that does not say why",
        doc: include_str!("../rules/suppression-missing-reason.md"),
        concurrent: false,
        fixable: None,
    },
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Covers findings starting on this 1-based line.
    Line(u32),
    File,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleRef {
    pub id: String,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Suppression {
    pub scope: Scope,
    pub rules: Vec<RuleRef>,
    /// `None` when there is no non-empty text after a colon.
    pub reason: Option<String>,
    /// From `racelint-ignore` to the end of the directive.
    pub span: Span,
    /// What deleting the whole comment removes (its line, when it stands alone);
    /// `None` for a block comment that does not close on its line.
    removal: Option<Span>,
    /// The reason was written without its colon (`racelint-ignore x because …`).
    missing_colon: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Suppressions {
    pub items: Vec<Suppression>,
}

impl Suppressions {
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// How a language writes comments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommentSyntax {
    /// `//` and `/* */`: TypeScript, JavaScript, Rust.
    Slashes,
    /// `--` and `/* */`.
    Sql,
    /// `#`: Python.
    Hash,
}

impl CommentSyntax {
    pub fn of(path: &std::path::Path) -> CommentSyntax {
        match crate::discover::language_of(path) {
            Some(crate::discover::Language::Sql) => CommentSyntax::Sql,
            Some(crate::discover::Language::Python) => CommentSyntax::Hash,
            _ => CommentSyntax::Slashes,
        }
    }

    fn opens_line_comment(self, text: &str) -> bool {
        text.starts_with(match self {
            CommentSyntax::Slashes => "//",
            CommentSyntax::Sql => "--",
            CommentSyntax::Hash => "#",
        })
    }
}

/// Finds every suppression in a file's text. Cheap when there is none: lines are
/// scanned only if they contain the marker.
pub fn parse(text: &str) -> Suppressions {
    parse_in(text, CommentSyntax::Slashes)
}

/// [`parse`], for a language with the given comments.
pub fn parse_in(text: &str, syntax: CommentSyntax) -> Suppressions {
    let mut items = Vec::new();
    if !text.contains(MARKER) {
        return Suppressions { items };
    }
    let lines = line_table(text);
    for (index, &(start, end)) in lines.iter().enumerate() {
        let content = text[start..end].trim_end_matches('\r');
        if !content.contains(MARKER) {
            continue;
        }
        for comment in comments(content, syntax) {
            if let Some(s) = directive(text, &lines, index, start, content, &comment, syntax) {
                items.push(s);
            }
        }
    }
    Suppressions { items }
}

/// Splits the findings into those no suppression covers, and adds the findings
/// about the suppressions.
///
/// `known` is every rule id that exists; `active` the ids of the rules that ran on
/// this file. A suppression naming a known rule that did not run (turned off,
/// not selected) is left alone: whether it is needed cannot be told.
pub fn apply(
    findings: Vec<Finding>,
    suppressions: &Suppressions,
    file: &SourceFile,
    known: &[&str],
    active: &[&str],
) -> (Vec<Finding>, Vec<Finding>) {
    let mut used: Vec<Vec<bool>> = suppressions
        .items
        .iter()
        .map(|s| vec![false; s.rules.len()])
        .collect();
    let mut kept = Vec::with_capacity(findings.len());
    for finding in findings {
        let line = file.position(finding.span.start).line;
        let mut suppressed = false;
        for (i, s) in suppressions.items.iter().enumerate() {
            let covers = match s.scope {
                Scope::File => true,
                Scope::Line(l) => l == line,
            };
            if !covers {
                continue;
            }
            for (j, r) in s.rules.iter().enumerate() {
                if r.id == finding.rule {
                    used[i][j] = true;
                    suppressed = true;
                }
            }
        }
        if !suppressed {
            kept.push(finding);
        }
    }

    let mut new = Vec::new();
    for (s, used) in suppressions.items.iter().zip(&used) {
        let unknown = |r: &RuleRef| !known.contains(&r.id.as_str());
        let reportable: Vec<bool> = s
            .rules
            .iter()
            .zip(used)
            .map(|(r, &u)| unknown(r) || (!u && active.contains(&r.id.as_str())))
            .collect();
        let whole = !s.rules.is_empty() && reportable.iter().all(|&r| r);

        if s.rules.is_empty() {
            new.push(meta_finding(
                UNUSED_SUPPRESSION,
                s.span,
                "this suppression names no rule".into(),
                "names no rule",
                format!("name the rule: `{MARKER} RULE: reason`"),
                None,
            ));
        } else if whole {
            let ids: Vec<String> = s.rules.iter().map(|r| format!("`{}`", r.id)).collect();
            let unknown_ids: Vec<&RuleRef> = s.rules.iter().filter(|r| unknown(r)).collect();
            let message = match (&unknown_ids[..], s.rules.len()) {
                ([r], 1) => format!("unknown rule `{}` in suppression", r.id),
                (_, 1) => format!("unused suppression: no {} finding {}", ids[0], place(s)),
                _ => format!(
                    "unused suppression: no {} finding {}",
                    ids.join(" or "),
                    place(s)
                ),
            };
            let help = match unknown_ids.first().map(|r| (r, did_you_mean(&r.id, known))) {
                None => "remove the suppression; the finding it was for is gone".to_string(),
                Some((r, Some(near))) => format!(
                    "did you mean `{near}`? otherwise remove the suppression of `{}`",
                    r.id
                ),
                Some(_) => "remove the suppression, or fix the id; `racelint rules` lists every id"
                    .to_string(),
            };
            new.push(meta_finding(
                UNUSED_SUPPRESSION,
                s.span,
                message,
                "suppresses nothing",
                help,
                s.removal.map(remove),
            ));
        } else {
            let first_kept = reportable.iter().position(|&r| !r).unwrap_or(0);
            for (k, r) in s.rules.iter().enumerate() {
                if !reportable[k] {
                    continue;
                }
                // Unused ids before the first kept one go with the comma after them,
                // the others with the comma before, so that the edits never overlap.
                let span = if k < first_kept {
                    Span::new(r.span.start as usize, s.rules[k + 1].span.start as usize)
                } else {
                    Span::new(s.rules[k - 1].span.end as usize, r.span.end as usize)
                };
                let (message, label) = if unknown(r) {
                    (
                        format!("unknown rule `{}` in suppression", r.id),
                        "no rule has this id",
                    )
                } else {
                    (
                        format!("unused suppression: no `{}` finding {}", r.id, place(s)),
                        "suppresses nothing",
                    )
                };
                let help = match unknown(r).then(|| did_you_mean(&r.id, known)).flatten() {
                    Some(near) => {
                        format!(
                            "did you mean `{near}`? otherwise remove `{}` from the suppression",
                            r.id
                        )
                    }
                    None => format!("remove `{}` from the suppression", r.id),
                };
                new.push(meta_finding(
                    UNUSED_SUPPRESSION,
                    r.span,
                    message,
                    label,
                    help,
                    Some(remove(span)),
                ));
            }
        }

        if s.reason.is_none() && !whole {
            let ids: Vec<&str> = s.rules.iter().map(|r| r.id.as_str()).collect();
            let example = if ids.is_empty() {
                "RULE".into()
            } else {
                ids.join(", ")
            };
            let help = if s.missing_colon {
                format!("put a colon before the reason: `{MARKER} {example}: why this cannot race`")
            } else {
                format!("say why the race cannot happen: `{MARKER} {example}: reason`")
            };
            new.push(meta_finding(
                SUPPRESSION_MISSING_REASON,
                s.span,
                "suppression without a reason".into(),
                "no reason given",
                help,
                None,
            ));
        }
    }
    (kept, new)
}

/// The rule id a misspelt one most likely meant.
fn did_you_mean<'a>(id: &str, known: &[&'a str]) -> Option<&'a str> {
    crate::config::closest(id, known)
}

fn place(s: &Suppression) -> String {
    match s.scope {
        Scope::Line(l) => format!("on line {l}"),
        Scope::File => "in this file".into(),
    }
}

fn remove(span: Span) -> Fix {
    Fix {
        applicability: Applicability::Safe,
        edits: vec![Edit {
            span,
            replacement: String::new(),
        }],
    }
}

fn meta_finding(
    rule: &'static str,
    span: Span,
    message: String,
    label: &str,
    help: String,
    fix: Option<Fix>,
) -> Finding {
    Finding {
        rule,
        severity: Severity::Warning,
        span,
        label: label.into(),
        message,
        help,
        related: Vec::new(),
        fix,
        confidence: Confidence::high("read from the comment itself"),
    }
}

/// `(start, end)` byte offsets of each line, `end` excluding the `\n`.
fn line_table(text: &str) -> Vec<(usize, usize)> {
    let mut lines = Vec::new();
    let mut start = 0;
    for (i, b) in text.bytes().enumerate() {
        if b == b'\n' {
            lines.push((start, i));
            start = i + 1;
        }
    }
    lines.push((start, text.len()));
    lines
}

#[derive(Debug)]
struct Comment {
    /// Offsets within the line: the opener (`//`, `/*`) and the end (after `*/`, or
    /// the end of the line).
    start: usize,
    end: usize,
    block: bool,
    closed: bool,
}

/// The comments that start on one line, outside strings.
fn comments(line: &str, syntax: CommentSyntax) -> Vec<Comment> {
    let bytes = line.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            q @ (b'"' | b'\'' | b'`') if q != b'`' || syntax == CommentSyntax::Slashes => {
                if let Some(close) = string_end(bytes, i, q) {
                    i = close + 1;
                    continue;
                }
            }
            b'/' | b'-' if syntax.opens_line_comment(&line[i..]) => {
                out.push(Comment {
                    start: i,
                    end: bytes.len(),
                    block: false,
                    closed: true,
                });
                break;
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let close = line[i + 2..].find("*/").map(|p| i + 2 + p + 2);
                out.push(Comment {
                    start: i,
                    end: close.unwrap_or(bytes.len()),
                    block: true,
                    closed: close.is_some(),
                });
                match close {
                    Some(c) => {
                        i = c;
                        continue;
                    }
                    None => break,
                }
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// Where the string opened by quote `q` at `open` closes on this line, if it does.
fn string_end(bytes: &[u8], open: usize, q: u8) -> Option<usize> {
    let mut i = open + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b if b == q => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// Reads the directive that opens `comment`, if it is one.
fn directive(
    text: &str,
    lines: &[(usize, usize)],
    index: usize,
    line_start: usize,
    content: &str,
    comment: &Comment,
    syntax: CommentSyntax,
) -> Option<Suppression> {
    let inner_end = if comment.block && comment.closed {
        comment.end - 2
    } else {
        comment.end
    };
    let inner = &content[comment.start + 2..inner_end];
    // Doc-comment openers (`///`, `//!`, `/**`, `/*!`) and padding come before the word.
    let lead = inner.len()
        - inner
            .trim_start_matches(['/', '*', '!', '-', ' ', '\t'])
            .len();
    let rest = inner[lead..].strip_prefix(MARKER)?;
    let (file_scope, rest) = match rest.strip_prefix("-file") {
        Some(r) => (true, r),
        None => (false, rest),
    };
    if !(rest.is_empty() || rest.starts_with([' ', '\t', ':'])) {
        return None;
    }
    let marker_at = line_start + comment.start + 2 + lead;
    let body_at = line_start + inner_end - rest.len();

    // Rule ids: words of letters, digits, `-` and `_`, separated by commas.
    let mut rules = Vec::new();
    let mut pos = 0;
    let b = rest.as_bytes();
    loop {
        while pos < b.len() && (b[pos] == b' ' || b[pos] == b'\t') {
            pos += 1;
        }
        let start = pos;
        while pos < b.len() && (b[pos].is_ascii_alphanumeric() || b[pos] == b'-' || b[pos] == b'_')
        {
            pos += 1;
        }
        if pos > start {
            rules.push(RuleRef {
                id: rest[start..pos].to_string(),
                span: Span::new(body_at + start, body_at + pos),
            });
        }
        let mut after = pos;
        while after < b.len() && (b[after] == b' ' || b[after] == b'\t') {
            after += 1;
        }
        if pos > start && after < b.len() && b[after] == b',' {
            pos = after + 1;
            continue;
        }
        pos = after;
        break;
    }
    let tail = &rest[pos..];
    let (reason, missing_colon) = match tail.strip_prefix(':') {
        Some(r) => {
            let r = r.trim();
            ((!r.is_empty()).then(|| r.to_string()), false)
        }
        None => (None, !tail.trim().is_empty()),
    };
    let directive_end = body_at + rest.trim_end().len();

    let code_before = !content[..comment.start].trim().is_empty();
    let after = content[comment.end..].trim();
    let code_after = comment.block && !after.is_empty() && !syntax.opens_line_comment(after);
    let scope = if file_scope {
        Scope::File
    } else if code_before || code_after {
        Scope::Line(index as u32 + 1)
    } else {
        // The comment may run on over several lines; cover the first code line after it.
        let mut next = index + 1;
        if comment.block && !comment.closed {
            let close = text[line_start + comment.start..]
                .find("*/")
                .map_or(text.len(), |p| line_start + comment.start + p);
            while next < lines.len() && lines[next].0 <= close {
                next += 1;
            }
        }
        while next < lines.len() {
            let t = text[lines[next].0..lines[next].1].trim_start();
            if !(syntax.opens_line_comment(t) || t.starts_with("/*")) {
                break;
            }
            next += 1;
        }
        Scope::Line(next as u32 + 1)
    };

    Some(Suppression {
        scope,
        rules,
        reason,
        span: Span::new(marker_at, directive_end.max(marker_at + MARKER.len())),
        removal: removal(lines, index, content, comment),
        missing_colon,
    })
}

/// What to delete to remove the comment: the whole line when nothing else is on
/// it, else the comment and the blanks that separate it from the code.
fn removal(
    lines: &[(usize, usize)],
    index: usize,
    content: &str,
    comment: &Comment,
) -> Option<Span> {
    if comment.block && !comment.closed {
        return None;
    }
    let (line_start, line_end) = lines[index];
    let before = &content[..comment.start];
    let after = &content[comment.end..];
    if before.trim().is_empty() && after.trim().is_empty() {
        let end = if index + 1 < lines.len() {
            lines[index + 1].0
        } else {
            line_end
        };
        // The last line has no newline of its own: take the one before it.
        let start = if index + 1 == lines.len() && index > 0 {
            lines[index - 1].1
        } else {
            line_start
        };
        return Some(Span::new(start, end));
    }
    let mut start = comment.start;
    let mut end = comment.end;
    if after.trim().is_empty() {
        start = before.trim_end_matches([' ', '\t']).len();
        end = content.len();
    } else if after.starts_with([' ', '\t']) {
        end += after.len() - after.trim_start_matches([' ', '\t']).len();
    } else {
        start = before.trim_end_matches([' ', '\t']).len();
    }
    Some(Span::new(line_start + start, line_start + end))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KNOWN: &[&str] = &[
        "check-then-act",
        "non-atomic-writes",
        "sleep-as-sync",
        UNUSED_SUPPRESSION,
        SUPPRESSION_MISSING_REASON,
    ];
    const ACTIVE: &[&str] = &["check-then-act", "non-atomic-writes"];

    fn file(text: &str) -> SourceFile {
        SourceFile::new("a.ts".into(), "a.ts".into(), text.into())
    }

    /// A finding of `rule` on the first occurrence of `needle`.
    fn finding(text: &str, rule: &'static str, needle: &str) -> Finding {
        let at = text.find(needle).expect("needle in text");
        Finding {
            rule,
            severity: Severity::Error,
            span: Span::new(at, at + needle.len()),
            label: String::new(),
            message: "race".into(),
            help: String::new(),
            related: vec![],
            fix: None,
            confidence: Default::default(),
        }
    }

    fn run(text: &str, findings: Vec<Finding>) -> (Vec<Finding>, Vec<Finding>) {
        apply(findings, &parse(text), &file(text), KNOWN, ACTIVE)
    }

    fn apply_fix(text: &str, fix: &Fix) -> String {
        let mut out = text.to_string();
        let mut edits = fix.edits.clone();
        edits.sort_by_key(|e| std::cmp::Reverse(e.span.start));
        for e in edits {
            out.replace_range(e.span.range(), &e.replacement);
        }
        out
    }

    fn scopes(text: &str) -> Vec<Scope> {
        parse(text).items.iter().map(|s| s.scope).collect()
    }

    #[test]
    fn parses_ids_reason_and_spans() {
        let text =
            "await x; // racelint-ignore check-then-act, non-atomic-writes: slug is unique\n";
        let s = &parse(text).items[0];
        assert_eq!(s.scope, Scope::Line(1));
        let ids: Vec<&str> = s.rules.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["check-then-act", "non-atomic-writes"]);
        assert_eq!(&text[s.rules[1].span.range()], "non-atomic-writes");
        assert_eq!(s.reason.as_deref(), Some("slug is unique"));
        assert_eq!(
            &text[s.span.range()],
            "racelint-ignore check-then-act, non-atomic-writes: slug is unique"
        );
    }

    #[test]
    fn scope_is_own_line_when_trailing_else_next_code_line() {
        let text = "\
// racelint-ignore check-then-act: a
// racelint-ignore non-atomic-writes: b
// an explanation
await write();

await other(); /* racelint-ignore check-then-act: c */
/* racelint-ignore check-then-act: d */ await third();
";
        assert_eq!(
            scopes(text),
            [
                Scope::Line(4),
                Scope::Line(4),
                Scope::Line(6),
                Scope::Line(7)
            ]
        );
    }

    #[test]
    fn multi_line_block_comment_covers_the_line_after_it() {
        let text =
            "/* racelint-ignore check-then-act: the reason\n   goes on here */\nawait write();\n";
        assert_eq!(scopes(text), [Scope::Line(3)]);
        assert_eq!(parse(text).items[0].reason.as_deref(), Some("the reason"));
    }

    #[test]
    fn sql_comments_use_dashes() {
        let text = "\
  -- racelint-ignore check-then-act: slugs are unique
  -- and the violation is caught by the caller
  INSERT INTO cards (slug) VALUES (p_slug);
  UPDATE t SET n = 1; -- racelint-ignore missing-version-check: a constant
  SELECT '-- racelint-ignore x: in a string';
";
        let items = parse_in(text, CommentSyntax::Sql).items;
        let scopes: Vec<Scope> = items.iter().map(|s| s.scope).collect();
        assert_eq!(scopes, [Scope::Line(3), Scope::Line(4)]);
        assert_eq!(items[0].reason.as_deref(), Some("slugs are unique"));
        assert!(parse(text).items.is_empty());
    }

    #[test]
    fn file_level_form() {
        let text = "import x;\n// racelint-ignore-file sleep-as-sync: test helpers\n";
        let s = &parse(text).items[0];
        assert_eq!(s.scope, Scope::File);
        assert_eq!(s.rules[0].id, "sleep-as-sync");
    }

    #[test]
    fn strings_and_prose_are_not_suppressions() {
        for text in [
            "const s = \"// racelint-ignore check-then-act: x\";\n",
            "const s = '/* racelint-ignore check-then-act: x */';\n",
            "const s = `// racelint-ignore check-then-act: x`;\n",
            "// see racelint-ignore check-then-act in the docs\n",
            "// racelint-ignored check-then-act: x\n",
            "let a = b / 2; racelint-ignore;\n",
        ] {
            assert!(parse(text).is_empty(), "{text}");
        }
        // A comment after a closed string still counts; a lifetime is no string.
        assert_eq!(
            parse("f(\"a//b\"); // racelint-ignore check-then-act: x")
                .items
                .len(),
            1
        );
        assert_eq!(
            parse("fn f<'a>(x: &'a str) {} // racelint-ignore check-then-act: x")
                .items
                .len(),
            1
        );
        assert_eq!(
            parse("fn f(x: &'a str) { // racelint-ignore check-then-act: x")
                .items
                .len(),
            1
        );
        assert_eq!(
            parse("/// racelint-ignore check-then-act: doc comment")
                .items
                .len(),
            1
        );
    }

    #[test]
    fn suppresses_findings_on_the_covered_line_only() {
        let text = "\
// racelint-ignore check-then-act: unique index handles it
await db.invite.create();
await db.invite.create2();
await db.member.create(); // racelint-ignore check-then-act: same
";
        let f1 = finding(text, "check-then-act", "db.invite.create()");
        let f2 = finding(text, "check-then-act", "db.invite.create2()");
        let f3 = finding(text, "check-then-act", "db.member.create()");
        let other_rule = finding(text, "non-atomic-writes", "db.member.create()");
        let (kept, new) = run(text, vec![f1, f2.clone(), f3, other_rule.clone()]);
        assert_eq!(kept, vec![f2, other_rule]);
        assert!(new.is_empty(), "{new:#?}");
    }

    #[test]
    fn file_level_suppresses_every_finding_of_its_rules() {
        let text = "// racelint-ignore-file check-then-act: seed script, runs once\na();\nb();\n";
        let (kept, new) = run(
            text,
            vec![
                finding(text, "check-then-act", "a()"),
                finding(text, "check-then-act", "b()"),
                finding(text, "non-atomic-writes", "b()"),
            ],
        );
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].rule, "non-atomic-writes");
        assert!(new.is_empty());
    }

    #[test]
    fn unused_suppression_is_reported_with_a_safe_removal() {
        let text = "a();\n// racelint-ignore check-then-act: was racy\nb();\n";
        let (kept, new) = run(text, vec![]);
        assert!(kept.is_empty());
        assert_eq!(new.len(), 1);
        let f = &new[0];
        assert_eq!(f.rule, UNUSED_SUPPRESSION);
        assert_eq!(f.severity, Severity::Warning);
        assert_eq!(
            f.message,
            "unused suppression: no `check-then-act` finding on line 3"
        );
        let fix = f.fix.as_ref().unwrap();
        assert_eq!(fix.applicability, Applicability::Safe);
        assert_eq!(apply_fix(text, fix), "a();\nb();\n");

        let text = "b(); // racelint-ignore check-then-act: was racy\n";
        let (_, new) = run(text, vec![]);
        assert_eq!(apply_fix(text, new[0].fix.as_ref().unwrap()), "b();\n");

        let text = "/* racelint-ignore check-then-act: x */ b();\n";
        let (_, new) = run(text, vec![]);
        assert_eq!(apply_fix(text, new[0].fix.as_ref().unwrap()), "b();\n");

        let text = "a();\n// racelint-ignore-file check-then-act: x";
        let (_, new) = run(text, vec![]);
        assert!(new[0].message.ends_with("in this file"));
        assert_eq!(apply_fix(text, new[0].fix.as_ref().unwrap()), "a();");
    }

    #[test]
    fn partly_used_suppression_reports_each_unused_id() {
        let text = "a(); // racelint-ignore non-atomic-writes, check-then-act, nope-rule: r\n";
        let (kept, new) = run(text, vec![finding(text, "check-then-act", "a()")]);
        assert!(kept.is_empty());
        assert_eq!(new.len(), 2, "{new:#?}");
        assert_eq!(
            new[0].message,
            "unused suppression: no `non-atomic-writes` finding on line 1"
        );
        assert_eq!(&text[new[0].span.range()], "non-atomic-writes");
        assert_eq!(new[1].message, "unknown rule `nope-rule` in suppression");
        // Both removals apply together and leave the used id.
        let both = Fix {
            applicability: Applicability::Safe,
            edits: new
                .iter()
                .flat_map(|f| f.fix.clone().unwrap().edits)
                .collect(),
        };
        assert_eq!(
            apply_fix(text, &both),
            "a(); // racelint-ignore check-then-act: r\n"
        );
    }

    #[test]
    fn unknown_rule_alone_is_reported_as_unknown() {
        let text = "a(); // racelint-ignore check-then-akt: r\n";
        let (kept, new) = run(text, vec![finding(text, "check-then-act", "a()")]);
        assert_eq!(kept.len(), 1);
        assert_eq!(new.len(), 1);
        assert_eq!(new[0].rule, UNUSED_SUPPRESSION);
        assert_eq!(
            new[0].message,
            "unknown rule `check-then-akt` in suppression"
        );
    }

    #[test]
    fn rules_that_did_not_run_are_not_called_unused() {
        // sleep-as-sync is known but not active in this run.
        let text = "a(); // racelint-ignore sleep-as-sync: r\n";
        let (_, new) = run(text, vec![]);
        assert!(new.is_empty(), "{new:#?}");
    }

    #[test]
    fn missing_reason_is_its_own_warning() {
        let text = "a(); // racelint-ignore check-then-act\n";
        let (kept, new) = run(text, vec![finding(text, "check-then-act", "a()")]);
        assert!(
            kept.is_empty(),
            "a suppression without reason still suppresses"
        );
        assert_eq!(new.len(), 1);
        assert_eq!(new[0].rule, SUPPRESSION_MISSING_REASON);
        assert_eq!(new[0].severity, Severity::Warning);
        assert_eq!(&text[new[0].span.range()], "racelint-ignore check-then-act");

        for text in [
            "a(); // racelint-ignore check-then-act:   \n",
            "a(); /* racelint-ignore check-then-act: */\n",
        ] {
            let (_, new) = run(text, vec![finding(text, "check-then-act", "a()")]);
            assert_eq!(new.len(), 1, "{text}");
            assert_eq!(new[0].rule, SUPPRESSION_MISSING_REASON);
        }

        let text = "a(); // racelint-ignore check-then-act because it is fine\n";
        let (kept, new) = run(text, vec![finding(text, "check-then-act", "a()")]);
        assert!(kept.is_empty());
        assert_eq!(new[0].rule, SUPPRESSION_MISSING_REASON);
        assert!(new[0].help.contains("colon"), "{}", new[0].help);
    }

    #[test]
    fn an_unused_suppression_without_reason_is_reported_once() {
        let text = "a(); // racelint-ignore check-then-act\n";
        let (_, new) = run(text, vec![]);
        assert_eq!(new.len(), 1);
        assert_eq!(new[0].rule, UNUSED_SUPPRESSION);
    }

    #[test]
    fn a_suppression_naming_no_rule_is_reported() {
        let text = "a(); // racelint-ignore: because\n";
        let (_, new) = run(text, vec![finding(text, "check-then-act", "a()")]);
        assert_eq!(new.len(), 1);
        assert_eq!(new[0].rule, UNUSED_SUPPRESSION);
        assert_eq!(new[0].message, "this suppression names no rule");
    }

    #[test]
    fn crlf_lines_and_unicode_keep_spans_right() {
        let text = "const é = 1;\r\n// racelint-ignore check-then-act: ünïcode\r\nawait w();\r\n";
        let s = &parse(text).items[0];
        assert_eq!(s.scope, Scope::Line(3));
        assert_eq!(s.reason.as_deref(), Some("ünïcode"));
        let (kept, _) = run(text, vec![finding(text, "check-then-act", "w()")]);
        assert!(kept.is_empty());
        let (_, new) = run(text, vec![]);
        assert_eq!(
            apply_fix(text, new[0].fix.as_ref().unwrap()),
            "const é = 1;\r\nawait w();\r\n"
        );
    }

    #[test]
    fn text_without_the_marker_is_not_scanned() {
        assert!(parse("// racelint\nlet x = 1;\n").is_empty());
    }
}
