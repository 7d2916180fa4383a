//! A bound on how deep `syn` may recurse, checked on tokens before parsing.
//!
//! `syn` parses, the lowering walks and `Drop` frees expressions recursively, so a
//! file of 10 000 nested blocks, or a single statement of 100 000 `!`, `&`,
//! `.field`, `as T` or `= a` links, overflows any stack. Real code stays far below
//! both bounds; a file beyond them is skipped with a parse error instead of
//! taking the process down.
//!
//! The tokens come from `proc_macro2`, whose lexer and `Drop` are iterative, and
//! are walked with an explicit stack, so the check itself cannot recurse.

use proc_macro2::{Delimiter, Spacing, TokenStream, TokenTree};

/// Brackets (`()`, `[]`, `{}`) open inside each other.
pub const MAX_BRACKET_DEPTH: usize = 256;

/// Tokens in one run at one bracket level without a `;`, `,`, `=>` or a closed
/// `{}` block (a block followed by `else` continues its `if` chain). A closed
/// group counts as one token of the level it sits in.
pub const MAX_RUN: usize = 3_000;

/// Where the text nests beyond the bounds, as `(line, 1-based column, message)`;
/// `None` when it stays within them or does not lex (then `syn` reports the error).
pub fn too_deep(text: &str) -> Option<(usize, usize, String)> {
    // As `syn::parse_file` does: skip a BOM, and a shebang line (keeping its
    // line break, so that lines still count from the file's first).
    let mut text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.starts_with("#!") && !text[2..].trim_start().starts_with('[') {
        text = &text[text.find('\n').unwrap_or(text.len())..];
    }
    let stream: TokenStream = text.parse().ok()?;
    struct Level {
        tokens: proc_macro2::token_stream::IntoIter,
        /// Tokens since the last separator.
        run: usize,
        /// The last token was a closed `{}` block.
        after_block: bool,
        /// The last token was a joint `=`, the first half of `=>`.
        after_eq: bool,
    }
    let level = |stream: TokenStream| Level {
        tokens: stream.into_iter(),
        run: 0,
        after_block: false,
        after_eq: false,
    };
    let mut stack = vec![level(stream)];
    while let Some(top) = stack.last_mut() {
        let Some(token) = top.tokens.next() else {
            stack.pop();
            continue;
        };
        let continues_chain = matches!(&token, TokenTree::Ident(i) if i == "else");
        if top.after_block && !continues_chain {
            top.run = 0;
        }
        let after_eq = std::mem::take(&mut top.after_eq);
        top.after_block = false;
        top.run += 1;
        let start = token.span().start();
        let (line, column) = (start.line, start.column + 1);
        if top.run > MAX_RUN {
            return Some((
                line,
                column,
                format!(
                    "expression too long to parse safely (over {MAX_RUN} tokens without a `;` or `,`); file skipped"
                ),
            ));
        }
        match token {
            TokenTree::Punct(p) => match p.as_char() {
                ';' | ',' => top.run = 0,
                '>' if after_eq => top.run = 0,
                '=' => top.after_eq = p.spacing() == Spacing::Joint,
                _ => {}
            },
            TokenTree::Group(group) => {
                top.after_block = group.delimiter() == Delimiter::Brace;
                if stack.len() >= MAX_BRACKET_DEPTH {
                    return Some((
                        line,
                        column,
                        format!(
                            "nesting too deep to parse safely (over {MAX_BRACKET_DEPTH} brackets); file skipped"
                        ),
                    ));
                }
                stack.push(level(group.stream()));
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_shapes_pass() {
        let text = r#"
            fn f(a: bool) -> Result<(), E> {
                let v = vec![1, 2, 3];
                if a { g()?; } else if !a { h(); } else { return Err(E) }
                match x { A => { y() } B => z(), }
                Ok(())
            }
            fn g() {}
        "#;
        assert_eq!(too_deep(text), None);
        assert_eq!(
            too_deep("fn broken( {"),
            None,
            "lex errors are syn's to report"
        );
    }

    #[test]
    fn deep_brackets_and_long_chains_are_caught() {
        let deep = format!("fn f() {{ {}1{} }}", "(".repeat(300), ")".repeat(300));
        let (line, _, message) = too_deep(&deep).unwrap();
        assert_eq!(line, 1);
        assert!(message.contains("nesting"));
        let chain = format!("fn f() {{ let x = a{}; }}", ".b".repeat(2_000));
        assert!(too_deep(&chain).unwrap().2.contains("too long"));
        let unary = format!("fn f() {{ let x = {}a; }}", "!".repeat(4_000));
        assert!(too_deep(&unary).is_some());
        let else_if = format!("fn f() {{ if a {{}} {} }}", "else if a {} ".repeat(1_000));
        assert!(too_deep(&else_if).is_some());
        // Many items, statements or arms in a row are not a chain.
        let items = "fn a() {} ".repeat(5_000);
        assert_eq!(too_deep(&items), None);
        let statements = format!("fn f() {{ {} }}", "if a { b() } ".repeat(5_000));
        assert_eq!(too_deep(&statements), None);
        let arms = format!(
            "fn f() {{ match x {{ {} }} }}",
            "A => { b() } ".repeat(5_000)
        );
        assert_eq!(too_deep(&arms), None);
    }
}
