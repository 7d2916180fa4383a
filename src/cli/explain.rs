//! `racelint explain RULE`: the rule's documentation, from `rules/<id>.md`. Covers
//! the rules and the suppression checks (`unused-suppression`,
//! `suppression-missing-reason`), everything `racelint rules` lists.

use super::{EXIT_CLEAN, EXIT_ERROR};
use crate::lint;

pub fn run(id: &str) -> i32 {
    let all = lint::all_rule_meta();
    match all.iter().find(|m| m.id == id) {
        Some(meta) => {
            print!("{}", meta.doc);
            EXIT_CLEAN
        }
        None => {
            let known: Vec<&str> = all.iter().map(|m| m.id).collect();
            match crate::config::closest(id, &known) {
                Some(near) => {
                    eprintln!("racelint: error: unknown rule `{id}`; did you mean `{near}`?")
                }
                None => eprintln!(
                    "racelint: error: unknown rule `{id}`; known rules: {}",
                    known.join(", ")
                ),
            }
            EXIT_ERROR
        }
    }
}
