//! Parsing and lowering: one frontend per language, each turning a file's text into
//! the [`crate::ir`] model. A frontend never fails: what it cannot parse it reports
//! as an error next to whatever it could lower.

pub mod sql;
