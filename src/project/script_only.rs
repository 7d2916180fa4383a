//! Functions only scripts reach. A function in a production file whose every
//! caller in the project is a script, seed, migration or test — with at least
//! one that is not a test — runs alone as its callers do: `populatedb` calls the
//! sample-data helpers of `core/utils/random_data.py`, and nothing else does, so
//! their writes are no race a request can meet.
//!
//! Tests alone do not make a function a script's: a route handler is called by
//! its tests and, from production, by the framework through a reference the
//! project stage cannot follow (`path("checkout", views.checkout)`). For the same
//! reason a function stays production when its name is mentioned in a production
//! file beyond its definition and its resolved calls: some production code may
//! reach it in a way no resolved call shows.

use super::Project;
use crate::roles::Role;
use aho_corasick::AhoCorasick;
use std::collections::{HashMap, HashSet};

/// Marks `runs_alone` on every function of a production file that only scripts
/// (through any chain of such functions) call.
pub(super) fn mark(project: &mut Project) {
    let callees = callees(project);
    let mut candidates = only_nonproduction_callers(project, &callees, |_| true);
    if candidates.is_empty() {
        return;
    }
    let unmentioned = unmentioned_elsewhere(project, &candidates);
    candidates = only_nonproduction_callers(project, &callees, |key| unmentioned.contains(&key));
    for (file, index) in reached_from_scripts(project, &callees, &candidates) {
        project.files[file].model.functions[index].runs_alone = true;
    }
}

type Key = (usize, usize);

fn runs_alone(project: &Project, (file, index): Key) -> bool {
    project.files[file].role != Role::Production
        || project.files[file].model.functions[index].runs_alone
}

/// Every function's resolved callees, from the project's callers.
fn callees(project: &Project) -> HashMap<Key, Vec<Key>> {
    let mut callees: HashMap<Key, Vec<Key>> = HashMap::new();
    for (file, functions) in project.callers.iter().enumerate() {
        for (index, callers) in functions.iter().enumerate() {
            for &(cf, ci, _) in callers {
                callees.entry((cf, ci)).or_default().push((file, index));
            }
        }
    }
    callees
}

/// The greatest set of production functions, among those `allowed`, each of
/// which has callers and is called only from code that runs alone or from
/// members of the set. A worklist: a function dropped from the set is a
/// production caller outside it for each of its callees.
fn only_nonproduction_callers(
    project: &Project,
    callees: &HashMap<Key, Vec<Key>>,
    allowed: impl Fn(Key) -> bool,
) -> HashSet<Key> {
    let mut set: HashSet<Key> = HashSet::new();
    for (file, f) in project.files.iter().enumerate() {
        if f.role != Role::Production {
            continue;
        }
        for (index, function) in f.model.functions.iter().enumerate() {
            if !function.runs_alone
                && !project.callers[file][index].is_empty()
                && allowed((file, index))
            {
                set.insert((file, index));
            }
        }
    }
    let mut dropped: Vec<Key> = set
        .iter()
        .copied()
        .filter(|&(file, index)| {
            project.callers[file][index]
                .iter()
                .any(|&(cf, ci, _)| !runs_alone(project, (cf, ci)) && !set.contains(&(cf, ci)))
        })
        .collect();
    while let Some(key) = dropped.pop() {
        if !set.remove(&key) {
            continue;
        }
        for callee in callees.get(&key).into_iter().flatten() {
            if set.contains(callee) {
                dropped.push(*callee);
            }
        }
    }
    set
}

/// Members of `set` that a script, seed or migration calls, directly or through
/// other members.
fn reached_from_scripts(
    project: &Project,
    callees: &HashMap<Key, Vec<Key>>,
    set: &HashSet<Key>,
) -> Vec<Key> {
    let mut reached: HashSet<Key> = HashSet::new();
    let mut work: Vec<Key> = set
        .iter()
        .copied()
        .filter(|&(file, index)| {
            project.callers[file][index]
                .iter()
                .any(|&(cf, _, _)| !matches!(project.files[cf].role, Role::Production | Role::Test))
        })
        .collect();
    while let Some(key) = work.pop() {
        if !reached.insert(key) {
            continue;
        }
        for callee in callees.get(&key).into_iter().flatten() {
            if set.contains(callee) && !reached.contains(callee) {
                work.push(*callee);
            }
        }
    }
    let mut reached: Vec<Key> = reached.into_iter().collect();
    reached.sort_unstable();
    reached
}

/// The last segment of a function's name: what a call spells (`create_products`
/// of `Seeder.create_products`, `insert` of `Repo::insert`).
fn short_name(name: &str) -> &str {
    name.rsplit(['.', ':']).next().unwrap_or(name)
}

/// Of `candidates`, those whose name no production file mentions beyond their
/// definition and the resolved calls from production files to them.
fn unmentioned_elsewhere(project: &Project, candidates: &HashSet<Key>) -> HashSet<Key> {
    let mut names: Vec<&str> = candidates
        .iter()
        .map(|&(f, i)| short_name(&project.files[f].model.functions[i].name))
        .filter(|n| !n.is_empty())
        .collect();
    names.sort_unstable();
    names.dedup();
    let Ok(searcher) = AhoCorasick::new(&names) else {
        return HashSet::new();
    };
    // Mentions of each name in production files, counted as whole words.
    let mut mentions: HashMap<&str, usize> = HashMap::new();
    for file in project.files.iter().filter(|f| f.role == Role::Production) {
        let text = file.source.text.as_bytes();
        for found in searcher.find_overlapping_iter(text) {
            let before = found.start().checked_sub(1).map(|i| text[i]);
            let after = text.get(found.end()).copied();
            if before.is_some_and(is_word_byte) || after.is_some_and(is_word_byte) {
                continue;
            }
            *mentions
                .entry(names[found.pattern().as_usize()])
                .or_default() += 1;
        }
    }
    // What the known places account for: each definition of the name in a
    // production file, and each resolved production call to any of them.
    let mut accounted: HashMap<&str, usize> = HashMap::new();
    for (file, f) in project.files.iter().enumerate() {
        if f.role != Role::Production {
            continue;
        }
        for (index, function) in f.model.functions.iter().enumerate() {
            let name = short_name(&function.name);
            if !mentions.contains_key(name) {
                continue;
            }
            let calls = project.callers[file][index]
                .iter()
                .filter(|&&(cf, _, _)| project.files[cf].role == Role::Production)
                .count();
            *accounted.entry(name).or_default() += 1 + calls;
        }
    }
    candidates
        .iter()
        .copied()
        .filter(|&(f, i)| {
            let name = short_name(&project.files[f].model.functions[i].name);
            mentions.get(name).copied().unwrap_or(0) <= accounted.get(name).copied().unwrap_or(0)
        })
        .collect()
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$'
}
