//! Everything that turns a [`crate::diagnostic::Report`] into bytes for someone else
//! to read. One file per format; nothing outside this folder renders.

pub mod concise;
pub mod github;
pub mod human;
pub mod json;
pub mod sarif;
pub mod statistics;
