//! `racelint explain RULE`: the rule's documentation, from `rules/<id>.md`.

use super::{EXIT_CLEAN, EXIT_ERROR};
use crate::rules;

pub fn run(id: &str) -> i32 {
    match rules::find(id) {
        Some(rule) => {
            print!("{}", rule.meta().doc);
            EXIT_CLEAN
        }
        None => {
            let known: Vec<&str> = rules::RULES.iter().map(|r| r.meta().id).collect();
            eprintln!(
                "racelint: error: unknown rule `{id}`; known rules: {}",
                known.join(", ")
            );
            EXIT_ERROR
        }
    }
}
