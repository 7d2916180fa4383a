//! Parsing and lowering: one frontend per language, each turning a file's text into
//! the [`crate::ir`] model. A frontend never fails: what it cannot parse it reports
//! as an error next to whatever it could lower.

pub mod rust;
pub mod sql;

use crate::ir::remedy::Remedy;
use crate::ir::Client;

/// The help text, with code, for a remedy in the client the finding's code uses.
pub fn suggest(client: Client, remedy: &Remedy) -> String {
    let _ = (client, remedy);
    String::new()
}
