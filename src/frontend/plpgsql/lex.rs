//! A PostgreSQL lexer that keeps byte offsets: words, quoted names, strings,
//! dollar-quoted strings, numbers, placeholders and punctuation, with comments and
//! whitespace dropped. One pass, linear in the text, never fails: what it does not
//! recognise becomes a one-character operator, an unterminated string or comment
//! runs to the end of the text.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A bare word: keyword or unquoted name.
    Word,
    /// `"name"`.
    Quoted,
    /// `'…'`, `E'…'`.
    Str,
    /// `$tag$ … $tag$`; `body` is the text between the delimiters.
    Dollar {
        body_start: usize,
        body_end: usize,
    },
    Number,
    /// `$1`.
    Param,
    LParen,
    RParen,
    Semi,
    Comma,
    Dot,
    /// Anything else: `:=`, `..`, `<<`, `>>`, `::`, `=`, `<>`, `+`, …
    Op,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tok {
    pub kind: Kind,
    pub start: usize,
    pub end: usize,
}

impl Tok {
    pub fn text<'a>(&self, src: &'a str) -> &'a str {
        src.get(self.start..self.end).unwrap_or("")
    }

    /// A bare word equal to `word`, ignoring case.
    pub fn is(&self, src: &str, word: &str) -> bool {
        self.kind == Kind::Word && self.text(src).eq_ignore_ascii_case(word)
    }

    pub fn is_op(&self, src: &str, op: &str) -> bool {
        self.kind == Kind::Op && self.text(src) == op
    }

    /// The name a word or quoted name stands for: unquoted words fold to lowercase.
    pub fn name(&self, src: &str) -> Option<String> {
        match self.kind {
            Kind::Word => Some(self.text(src).to_ascii_lowercase()),
            Kind::Quoted => {
                let t = self.text(src);
                Some(t.trim_matches('"').replace("\"\"", "\""))
            }
            _ => None,
        }
    }
}

/// The tokens of `src[from..to]`, with offsets into `src`.
pub fn lex(src: &str, from: usize, to: usize) -> Vec<Tok> {
    let bytes = src.as_bytes();
    let to = floor_boundary(src, to);
    let mut out = Vec::new();
    let mut i = floor_boundary(src, from);
    let tok = |kind, start, end| Tok { kind, start, end };
    while i < to {
        let b = bytes[i];
        let start = i;
        match b {
            b' ' | b'\t' | b'\n' | b'\r' | 0x0c => i += 1,
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                while i < to && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                // Block comments nest in PostgreSQL.
                let mut depth = 0usize;
                while i < to {
                    if bytes[i] == b'/' && bytes.get(i + 1) == Some(&b'*') {
                        depth += 1;
                        i += 2;
                    } else if bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/') {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
            }
            b'\'' => {
                i = quoted_end(bytes, i, to, b'\'', false);
                out.push(tok(Kind::Str, start, i));
            }
            b'e' | b'E' if bytes.get(i + 1) == Some(&b'\'') => {
                i = quoted_end(bytes, i + 1, to, b'\'', true);
                out.push(tok(Kind::Str, start, i));
            }
            b'"' => {
                i = quoted_end(bytes, i, to, b'"', false);
                out.push(tok(Kind::Quoted, start, i));
            }
            b'$' => {
                let digits = bytes[i + 1..to]
                    .iter()
                    .take_while(|c| c.is_ascii_digit())
                    .count();
                if digits > 0 {
                    i += 1 + digits;
                    out.push(tok(Kind::Param, start, i));
                    continue;
                }
                let tag_len = bytes[i + 1..to]
                    .iter()
                    .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
                    .count();
                if bytes.get(i + 1 + tag_len) == Some(&b'$')
                    && bytes.get(i + 1).is_none_or(|c| !c.is_ascii_digit())
                {
                    let delimiter = &src[i..i + tag_len + 2];
                    let body_start = i + tag_len + 2;
                    let (body_end, end) = match src[body_start..to].find(delimiter) {
                        Some(p) => (body_start + p, body_start + p + delimiter.len()),
                        None => (to, to),
                    };
                    out.push(tok(
                        Kind::Dollar {
                            body_start,
                            body_end,
                        },
                        start,
                        end,
                    ));
                    i = end;
                } else {
                    i += 1;
                    out.push(tok(Kind::Op, start, i));
                }
            }
            b'(' => {
                i += 1;
                out.push(tok(Kind::LParen, start, i));
            }
            b')' => {
                i += 1;
                out.push(tok(Kind::RParen, start, i));
            }
            b';' => {
                i += 1;
                out.push(tok(Kind::Semi, start, i));
            }
            b',' => {
                i += 1;
                out.push(tok(Kind::Comma, start, i));
            }
            b'.' if bytes.get(i + 1) == Some(&b'.') => {
                i += 2;
                out.push(tok(Kind::Op, start, i));
            }
            b'.' if !bytes.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                i += 1;
                out.push(tok(Kind::Dot, start, i));
            }
            c if c.is_ascii_digit() || c == b'.' => {
                while i < to
                    && (bytes[i].is_ascii_alphanumeric()
                        || (bytes[i] == b'.' && bytes.get(i + 1) != Some(&b'.')))
                {
                    i += 1;
                }
                out.push(tok(Kind::Number, start, i));
            }
            c if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 => {
                while i < to
                    && (bytes[i].is_ascii_alphanumeric()
                        || bytes[i] == b'_'
                        || bytes[i] == b'$'
                        || bytes[i] >= 0x80)
                {
                    i += 1;
                }
                out.push(tok(Kind::Word, start, i));
            }
            _ => {
                const PAIRS: [&[u8; 2]; 8] =
                    [b":=", b"::", b"<<", b">>", b"<>", b"!=", b"<=", b">="];
                let two = bytes.get(i..i + 2);
                i += if two.is_some_and(|t| PAIRS.iter().any(|p| p.as_slice() == t)) {
                    2
                } else {
                    1
                };
                // Never split a UTF-8 character.
                while i < to && !src.is_char_boundary(i) {
                    i += 1;
                }
                out.push(tok(Kind::Op, start, i));
            }
        }
    }
    out
}

/// The offset after the quote that closes the one at `open`; doubled quotes (and,
/// in `E'…'` strings, backslashes) escape.
/// `i`, clamped to the text and moved back to the start of the character it falls in.
fn floor_boundary(src: &str, i: usize) -> usize {
    let mut i = i.min(src.len());
    while !src.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn quoted_end(bytes: &[u8], open: usize, to: usize, q: u8, backslash: bool) -> usize {
    let mut i = open + 1;
    while i < to {
        if backslash && bytes[i] == b'\\' {
            i += 2;
        } else if bytes[i] == q {
            if bytes.get(i + 1) == Some(&q) {
                i += 2;
            } else {
                return i + 1;
            }
        } else {
            i += 1;
        }
    }
    to
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<(Kind, &str)> {
        lex(src, 0, src.len())
            .into_iter()
            .map(|t| (t.kind, t.text(src)))
            .collect()
    }

    #[test]
    fn words_strings_dollars_and_comments() {
        let src = "SELECT 'it''s' -- note\n /* a /* nested */ b */ $fn$ x; $fn$ $1 a.b := 1..3;";
        let k = kinds(src);
        assert_eq!(k[0], (Kind::Word, "SELECT"));
        assert_eq!(k[1], (Kind::Str, "'it''s'"));
        assert!(matches!(k[2].0, Kind::Dollar { .. }));
        assert_eq!(k[3], (Kind::Param, "$1"));
        assert_eq!(k[5], (Kind::Dot, "."));
        assert_eq!(k[7], (Kind::Op, ":="));
        assert_eq!(k[9], (Kind::Op, ".."));
    }

    #[test]
    fn unterminated_input_ends_at_the_end() {
        for src in ["'abc", "$$ body", "/* open", "\"name", "é€ $"] {
            let toks = lex(src, 0, src.len());
            assert!(toks.iter().all(|t| t.end <= src.len()));
        }
    }
}
