//! Rendering a [`crate::diagnostic::Report`]: the only place that formats findings
//! for people or machines.

pub mod human;
pub mod json;
