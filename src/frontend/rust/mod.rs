//! The Rust frontend: `syn` parses a `.rs` file and [`lower`] turns every function
//! into the language-neutral [`crate::ir`] model.
//!
//! `lower.rs` walks the syntax tree and owns the data flow (taint of variables by
//! reads, guards, branch arms, transactions, completion); it never names a database
//! crate. Everything that knows how sqlx, Diesel, SeaORM or tokio-postgres spell a
//! query lives under `clients/`, which `lower.rs` asks "what is this call chain?".

mod clients;
mod lower;
mod names;
mod statements;
pub use statements::run as statement_run;
pub mod nesting;
#[cfg(test)]
mod tests;

use std::path::Path;

use crate::ir::remedy::Remedy;
use crate::ir::{Client, FileModel};

/// A file that `syn` could not parse. Line is 1-based, column 1-based in characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RustParseError {
    pub message: String,
    pub line: u32,
    pub column: u32,
}

impl std::fmt::Display for RustParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.message)
    }
}

impl std::error::Error for RustParseError {}

/// Parses `text` and lowers every function in it.
///
/// `sqlx::query_file!` paths cannot be resolved without a crate root; use
/// [`lower_in_crate`] when the file's crate is known.
pub fn lower(text: &str) -> Result<FileModel, RustParseError> {
    lower_in_crate(text, None)
}

/// Like [`lower`], resolving `query_file!("queries/x.sql")` against `crate_root`.
pub fn lower_in_crate(text: &str, crate_root: Option<&Path>) -> Result<FileModel, RustParseError> {
    // syn recurses once per nesting level, and proc-macro2 keeps a thread-local
    // source map that grows with every parse. A fresh thread with a large stack
    // handles pathological nesting and drops the source map when it ends.
    const STACK: usize = 256 * 1024 * 1024;
    let text = text.to_owned();
    let root = crate_root.map(Path::to_path_buf);
    let worker = std::thread::Builder::new()
        .name("racelint-rust".into())
        .stack_size(STACK)
        .spawn(move || lower_here(&text, root.as_deref()));
    match worker {
        Ok(handle) => handle.join().unwrap_or_else(|_| {
            Err(RustParseError {
                message: "internal error while lowering this file".into(),
                line: 1,
                column: 1,
            })
        }),
        // Spawning fails only when the system is out of threads.
        Err(_) => Err(RustParseError {
            message: "could not start the Rust lowering thread".into(),
            line: 1,
            column: 1,
        }),
    }
}

fn lower_here(text: &str, crate_root: Option<&Path>) -> Result<FileModel, RustParseError> {
    // Do what `syn::parse_file` does (skip a BOM and a shebang line) while keeping
    // the offset, so that spans stay byte offsets into the original text.
    let mut base = 0;
    let mut content = text;
    if let Some(rest) = content.strip_prefix('\u{feff}') {
        base += content.len() - rest.len();
        content = rest;
    }
    if content.starts_with("#!") && !content[2..].trim_start().starts_with('[') {
        let cut = content.find('\n').unwrap_or(content.len());
        base += cut;
        content = &content[cut..];
    }
    if let Some((line, column, message)) = nesting::too_deep(content) {
        return Err(RustParseError {
            message,
            line: line as u32,
            column: column as u32,
        });
    }
    let file: syn::File = syn::parse_str(content).map_err(|e| {
        let start = e.span().start();
        RustParseError {
            message: e.to_string(),
            line: start.line as u32,
            column: start.column as u32 + 1,
        }
    })?;
    Ok(lower::lower_file(&file, text, base, crate_root))
}

/// The help text for a remedy, written in the API of a Rust client; `None` for
/// clients of other languages.
/// What a Rust file must mention for any client to be recognised in it.
pub use clients::TRIGGERS;

pub fn suggest(client: Client, remedy: &Remedy) -> Option<String> {
    clients::suggest(client, remedy)
}

/// The statements of a wrap in a Rust client's transaction.
pub fn wrap(client: Client, wrap: &crate::ir::remedy::Wrap) -> Option<String> {
    clients::wrap(client, wrap)
}
