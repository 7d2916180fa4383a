//! racelint: finds the race conditions that lose data in database-backed code.
//!
//! The pipeline, one stage per module:
//!
//! 1. [`discover`] — which files to lint (a .gitignore-aware parallel walk);
//! 2. [`frontend`] — parse each file once and lower every function to the
//!    language-neutral effect model in [`ir`] (one frontend per language, client
//!    knowledge in one module per database client);
//!    [`roles`] tells production code from tests, scripts, migrations and seeds;
//! 3. [`schema`] — the tables, keys and foreign keys discovered in the project;
//! 4. [`rules`] — one file per rule, over the model only;
//! 5. [`report`] — human (miette), json, sarif, github: the only place that formats.
//!
//! [`lint`] runs the stages; [`cli`] is the command line around it; [`server`]
//! keeps the project between edits for editors.

pub mod baseline;
pub mod budget;
pub mod cache;
pub mod changed;
pub mod cli;
pub mod config;
pub mod diagnostic;
pub mod discover;
pub mod fix;
pub mod frontend;
pub mod ir;
pub mod lint;
pub mod project;
pub mod report;
pub mod roles;
pub mod rules;
pub mod schema;
pub mod server;
pub mod settings;
pub mod source;
pub mod suppress;
