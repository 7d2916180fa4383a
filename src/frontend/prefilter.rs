//! Which files are worth parsing: a byte search for the vocabulary every
//! recognised call needs, before any parser runs.
//!
//! Sound by construction: each client declares what its recognition requires
//! (`Vocabulary`: calls it always recognises, and calls it recognises only next to
//! a gate word), so a file the prefilter turns away has no effect for a rule to see.
//! Most files of a web app never touch the database and are never parsed.

use super::rust;
use super::typescript::clients::{self, Vocabulary};
use crate::discover::Language;
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use std::sync::OnceLock;

#[derive(Clone, Copy)]
enum Role {
    Call,
    GatedCall,
    Gate,
    /// A suppression comment: the file must be read to check it.
    Always,
}

/// The searcher for one language: every pattern, with its client, its role and
/// whether it must end at the end of a name.
struct Searcher {
    automaton: AhoCorasick,
    roles: Vec<(usize, Role, bool)>,
    clients: usize,
}

/// A pattern's text and whether it must end where a name ends: member names do
/// (`.create` is not `.createdAt`), unless written as a prefix (`.findUnique*`).
fn pattern(word: &str) -> (String, bool) {
    match word.strip_suffix('*') {
        Some(prefix) => (prefix.to_string(), false),
        None => {
            let name_like = word.starts_with(['.', '$']) && word.ends_with(is_name_char);
            (word.to_string(), name_like)
        }
    }
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '$'
}

impl Searcher {
    fn new(vocabularies: &[&Vocabulary], extra_gates: &[String]) -> Option<Searcher> {
        let mut patterns: Vec<String> = Vec::new();
        let mut roles = Vec::new();
        for (client, vocabulary) in vocabularies.iter().enumerate() {
            for (words, role) in [
                (vocabulary.calls, Role::Call),
                (vocabulary.gated_calls, Role::GatedCall),
                (vocabulary.gates, Role::Gate),
            ] {
                for word in words {
                    let (text, whole_name) = pattern(word);
                    patterns.push(text);
                    roles.push((client, role, whole_name));
                }
            }
            // Configured client names open every client's gated calls.
            for name in extra_gates {
                patterns.push(name.clone());
                roles.push((client, Role::Gate, false));
            }
        }
        patterns.push(crate::suppress::MARKER.to_string());
        roles.push((0, Role::Always, false));
        // A DFA: a few hundred short patterns make a small one, and it scans every
        // file of the tree, most of which are then never parsed.
        let automaton = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .kind(Some(AhoCorasickKind::DFA))
            .build(&patterns)
            .ok()?;
        Some(Searcher {
            automaton,
            roles,
            clients: vocabularies.len(),
        })
    }

    fn admits(&self, text: &str) -> bool {
        let mut gated = vec![false; self.clients];
        let mut gate = vec![false; self.clients];
        for found in self.automaton.find_overlapping_iter(text) {
            let (client, role, whole_name) = self.roles[found.pattern().as_usize()];
            if whole_name && text[found.end()..].starts_with(is_name_char) {
                continue;
            }
            match role {
                Role::Call | Role::Always => return true,
                Role::GatedCall => gated[client] = true,
                Role::Gate => gate[client] = true,
            }
            if gated[client] && gate[client] {
                return true;
            }
        }
        false
    }
}

/// The prefilter of one run.
pub struct Prefilter {
    typescript: Option<Searcher>,
    rust: Option<Searcher>,
    sql: Option<Searcher>,
    python: Option<Searcher>,
}

/// SQL files are lowered only for their function definitions.
static SQL_VOCABULARY: Vocabulary = Vocabulary {
    calls: super::plpgsql::VOCABULARY,
    gated_calls: &[],
    gates: &[],
};

/// Rust clients are recognised only in files that name their crate.
static RUST_VOCABULARY: Vocabulary = Vocabulary {
    calls: rust::TRIGGERS,
    gated_calls: &[],
    gates: &[],
};

impl Prefilter {
    /// `client_names`: extra names the configuration gives the clients.
    pub fn new(client_names: &[String]) -> Prefilter {
        Prefilter {
            typescript: Searcher::new(&clients::vocabularies(), client_names),
            rust: Searcher::new(&[&RUST_VOCABULARY], &[]),
            sql: Searcher::new(&[&SQL_VOCABULARY], &[]),
            python: Searcher::new(&super::python::clients::vocabularies(), &[]),
        }
    }

    /// The prefilter without configured names, shared by callers outside a run.
    pub fn standard() -> &'static Prefilter {
        static STANDARD: OnceLock<Prefilter> = OnceLock::new();
        STANDARD.get_or_init(|| Prefilter::new(&[]))
    }

    /// Whether a file of this language could produce an effect or a suppression.
    pub fn admits(&self, language: Language, text: &str) -> bool {
        let searcher = match language {
            Language::TypeScript(_) => &self.typescript,
            Language::Rust => &self.rust,
            Language::Sql => &self.sql,
            Language::Python => &self.python,
        };
        // Without a searcher (it cannot fail for these patterns) parse everything.
        searcher.as_ref().is_none_or(|s| s.admits(text))
            || reexports(language, text)
            || awaits_project_code(language, text)
            || imports_own_package(language, text)
            || constructs_imported_class(language, text)
    }
}

/// A module that builds an object of a class it imports (`new
/// OrderRepository(prisma)`, `OrderRepository(session)`): what it fills the
/// object's fields with decides whether the class's methods run in a
/// transaction (`project/fields.rs`), database vocabulary or not.
fn constructs_imported_class(language: Language, text: &str) -> bool {
    let python = match language {
        Language::TypeScript(_) => false,
        Language::Python => true,
        _ => return false,
    };
    // TypeScript: only classes imported from the project's own modules (not
    // `new Hono()` from a package).
    let from_project = (!python).then(|| project_imports(text));
    // One pass over the names: those an import list may name (after `import`,
    // `,`, `{`, `(`), and the classes built (after `new`, or called in Python).
    let mut listed = std::collections::HashSet::new();
    let mut built = Vec::new();
    let mut previous = "";
    let mut last_punct = ' ';
    let mut chars = text.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        if c.is_alphanumeric() || c == '_' || c == '$' {
            let mut end = at + c.len_utf8();
            while let Some(&(i, d)) = chars.peek() {
                if !(d.is_alphanumeric() || d == '_' || d == '$') {
                    break;
                }
                end = i + d.len_utf8();
                chars.next();
            }
            let name = &text[at..end];
            let class = name.starts_with(|c: char| c.is_ascii_uppercase());
            if class && (previous == "import" || matches!(last_punct, ',' | '{' | '(')) {
                listed.insert(name);
            }
            let called = text[end..].starts_with('(');
            if class && ((!python && previous == "new") || (python && called)) {
                built.push(name);
            }
            previous = name;
            last_punct = ' ';
        } else if !c.is_whitespace() {
            previous = "";
            last_punct = c;
        }
    }
    built.iter().any(|name| match &from_project {
        Some(project) => project.contains(name),
        None => listed.contains(name),
    })
}

/// The names TypeScript `import … from "<project module>"` statements bind.
fn project_imports(text: &str) -> std::collections::HashSet<&str> {
    let mut out = std::collections::HashSet::new();
    for (at, _) in text.match_indices("import ") {
        if !text[..at].ends_with('\n') && at != 0 {
            continue;
        }
        let statement = &text[at..];
        // The statement's `from "…"`, within a bounded import list.
        let mut end = statement.len().min(4096);
        while !statement.is_char_boundary(end) {
            end -= 1;
        }
        let window = &statement[..end];
        let Some((from, quote)) = ["from \"", "from '"]
            .iter()
            .filter_map(|p| window.find(p).map(|i| (i, i + p.len())))
            .min()
        else {
            continue;
        };
        let source = &window[quote..];
        let source = &source[..source.find(['"', '\'']).unwrap_or(source.len())];
        if !super::typescript::may_be_project_module(source) {
            continue;
        }
        out.extend(
            window[..from]
                .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
                .filter(|w| !w.is_empty()),
        );
    }
    out
}

/// A Python module that imports from its own package (`from .users import
/// create_user`: a package's `__init__.py` re-exporting, a view calling its
/// app's services): calls reach functions elsewhere through it, as through a
/// TypeScript module importing `./x`.
fn imports_own_package(language: Language, text: &str) -> bool {
    language == Language::Python
        && text.contains("from .")
        && text.lines().any(|l| {
            let l = l.trim_start();
            l.starts_with("from .") && l.contains(" import ")
        })
}

/// A TypeScript module that awaits something and imports the project's own
/// modules (a route calling a service): the effects of what it calls are linked
/// into it, so it is worth reading without database vocabulary of its own.
fn awaits_project_code(language: Language, text: &str) -> bool {
    matches!(language, Language::TypeScript(_))
        && text.contains("await")
        && [
            "from \"./",
            "from \"../",
            "from \"@/",
            "from \"~/",
            "from './",
            "from '../",
            "from '@/",
            "from '~/",
        ]
        .iter()
        .any(|p| text.contains(p))
}

/// A TypeScript module that re-exports others (`export * from "./invites"`, an
/// `index.ts` barrel): calls reach functions elsewhere through it, so it is read
/// even without database vocabulary of its own. Still sound: skipping a file
/// never hides an effect or a link.
fn reexports(language: Language, text: &str) -> bool {
    matches!(language, Language::TypeScript(_))
        && (text.contains("export *") || text.contains("export {") && text.contains(" from "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frontend::typescript::Dialect;

    #[test]
    fn a_route_that_awaits_the_projects_own_services_is_read() {
        let p = Prefilter::new(&[]);
        let ts = Language::TypeScript(Dialect::TypeScript);
        let route = "import { createInvite } from \"@/services\";\nexport async function POST() {\n  await createInvite();\n}\n";
        assert!(p.admits(ts, route));
        let barrel = "export * from \"./invites\";\n";
        assert!(p.admits(ts, barrel));
        let library_only = "import { z } from \"zod\";\nexport async function f() {\n  await z.parseAsync(1);\n}\n";
        assert!(!p.admits(ts, library_only));
    }

    const TS: Language = Language::TypeScript(Dialect::TypeScript);

    #[test]
    fn a_module_building_an_imported_class_is_read() {
        let p = Prefilter::new(&[]);
        let ts = "import { prisma } from \"../db\";\nimport { OrderRepository } from \"../orders\";\nconst orders = new OrderRepository(prisma);\n";
        assert!(p.admits(TS, ts));
        let package = "import { Hono } from \"hono\";\nexport const app = new Hono();\n";
        assert!(!p.admits(TS, package));
        assert!(!p.admits(TS, "const started = new Date();\n"));
        let py = "from app.repositories import OrderRepository\n\ndef make(db):\n    return OrderRepository(db)\n";
        assert!(p.admits(Language::Python, py));
        assert!(!p.admits(Language::Python, "import math\n\nprint(math.floor(2.5))\n"));
    }

    #[test]
    fn files_without_database_vocabulary_are_turned_away() {
        let p = Prefilter::new(&[]);
        assert!(!p.admits(
            TS,
            "export const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);"
        ));
        assert!(!p.admits(
            TS,
            "const m = Math.max(a, b); items.find((x) => x.id === id); Array.from(s);"
        ));
        // `.create` alone is everywhere; it needs a client-like handle to count.
        assert!(!p.admits(
            TS,
            "const el = document.createElement('div'); Object.create(null);"
        ));
    }

    #[test]
    fn database_calls_are_admitted() {
        let p = Prefilter::new(&[]);
        assert!(p.admits(TS, "await prisma.user.findFirst({ where: { id } })"));
        assert!(p.admits(TS, "await db.user.create({ data })"));
        assert!(p.admits(TS, "await ctx.readDb.user.update({ where, data })"));
        assert!(p.admits(TS, "const { data } = await supabase.from('users').select()"));
        assert!(p.admits(
            TS,
            "import { Repository } from 'typeorm'; await this.users.save(u)"
        ));
        assert!(p.admits(TS, "await User.findByPk(id)"));
        assert!(p.admits(TS, "// racelint-ignore check-then-act: reason"));
    }

    #[test]
    fn configured_names_open_the_gated_calls() {
        assert!(!Prefilter::new(&[]).admits(TS, "await store.user.create({ data })"));
        assert!(Prefilter::new(&["store".into()]).admits(TS, "await store.user.create({ data })"));
    }
}
