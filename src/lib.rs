//! racelint: finds the race conditions that lose data in database-backed code.

pub mod diagnostic;
pub mod frontend;
pub mod ir;
pub mod schema;
pub mod source;
