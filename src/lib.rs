//! racelint: finds the race conditions that lose data in database-backed code.

pub mod baseline;
pub mod config;
pub mod diagnostic;
pub mod frontend;
pub mod ir;
pub mod report;
pub mod schema;
pub mod source;
pub mod suppress;
