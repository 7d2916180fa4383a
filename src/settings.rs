//! What a run compiles from each configuration once, for the files it applies
//! to: the include/exclude globs, the `[[overrides]]`, the rules and their
//! severities, the client names handed to the frontends. [`Settings::of`] is the
//! one "configuration for this path" lookup that `lint` and the editor server use.

use crate::config::{Config, Configs, Globs, RuleLevel};
use crate::diagnostic::Severity;
use crate::discover;
use crate::rules::{self, Rule};
use crate::suppress;
use ignore::gitignore::{Gitignore, GitignoreBuilder};
use std::collections::BTreeMap;
use std::path::Path;

/// The configurations of a run, each compiled.
pub struct Settings {
    pub configs: Configs,
    compiled: Vec<Compiled>,
}

/// One configuration, compiled.
pub struct Compiled {
    pub scope: Scope,
    pub overrides: Overrides,
    pub rules: RuleSet,
    pub hints: HintNames,
    /// A hash of the whole configuration, part of each cache key of the files it
    /// applies to: whatever of it lowering reads, a change re-lowers them.
    pub cache_key: u64,
}

impl Settings {
    /// Compiles every configuration; a bad glob is the only failure (the
    /// configuration check has already refused those of files).
    pub fn new(configs: Configs) -> Result<Settings, String> {
        let compiled = configs
            .all()
            .iter()
            .map(|config| {
                Ok(Compiled {
                    scope: Scope::new(config)?,
                    overrides: Overrides::new(config)?,
                    rules: RuleSet::new(config),
                    hints: HintNames {
                        prisma: config.clients.prisma.clone(),
                        transaction_wrappers: config.transactions.wrappers.clone(),
                    },
                    cache_key: xxhash_rust::xxh3::xxh3_64(format!("{config:?}").as_bytes()),
                })
            })
            .collect::<Result<_, String>>()?;
        Ok(Settings { configs, compiled })
    }

    /// The configuration of the file at `path`, and what was compiled from it.
    pub fn of(&self, path: &Path) -> (&Config, &Compiled) {
        let index = self.configs.index_of(path);
        (&self.configs.all()[index], &self.compiled[index])
    }

    pub fn config(&self, path: &Path) -> &Config {
        self.configs.for_path(path)
    }

    /// Every configured Prisma client name: the prefilter is built once for the
    /// run, and admitting more is always sound.
    pub fn all_prisma_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .configs
            .all()
            .iter()
            .flat_map(|c| c.clients.prisma.iter().cloned())
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// Whether a walked file is in scope of its configuration.
    pub fn keeps(&self, path: &Path) -> bool {
        self.of(path).1.scope.keeps(path)
    }

    /// Whether its configuration's `exclude` names this file.
    pub fn excludes(&self, path: &Path) -> bool {
        self.of(path).1.scope.excludes(path)
    }
}

/// Client names from the configuration, handed to the frontends.
#[derive(Clone, Default)]
pub struct HintNames {
    pub prisma: Vec<String>,
    pub transaction_wrappers: Vec<String>,
}

/// The rules this configuration uses, each with the severity it reports at.
pub fn active_rules(config: &Config) -> Vec<(&'static dyn Rule, Severity)> {
    rules::RULES
        .iter()
        .filter_map(|r| {
            config
                .severity(r.meta())
                .or_else(|| config.severity_in_overrides(r.meta()))
                .map(|s| (*r, s))
        })
        .collect()
}

/// The rules a configuration runs, and the ids suppressions may name.
pub struct RuleSet {
    pub rules: Vec<(&'static dyn Rule, Severity)>,
    pub known: Vec<&'static str>,
    pub active: Vec<&'static str>,
}

impl RuleSet {
    pub fn new(config: &Config) -> RuleSet {
        let rules = active_rules(config);
        let known = crate::lint::all_rule_meta().iter().map(|m| m.id).collect();
        let active = rules
            .iter()
            .map(|(r, _)| r.meta().id)
            .chain(
                suppress::META
                    .iter()
                    .filter(|m| config.severity(m).is_some())
                    .map(|m| m.id),
            )
            .collect();
        RuleSet {
            rules,
            known,
            active,
        }
    }
}

/// Globs compiled against the folder they are relative to (the current
/// directory when no file wrote them).
fn compile(globs: &Globs) -> Result<Option<Gitignore>, String> {
    if globs.is_empty() {
        return Ok(None);
    }
    let base = discover::absolute(globs.base_or(Path::new(".")));
    let mut builder = GitignoreBuilder::new(&base);
    for glob in &globs.patterns {
        builder
            .add_line(None, glob)
            .map_err(|e| format!("invalid glob `{glob}`: {e}"))?;
    }
    builder.build().map(Some).map_err(|e| e.to_string())
}

/// Whether a gitignore-style set names the path or a folder above it.
fn names(set: &Gitignore, path: &Path) -> bool {
    path.starts_with(set.path()) && set.matched_path_or_any_parents(path, false).is_ignore()
}

/// The config's `include` and `exclude` globs.
pub struct Scope {
    include: Option<Gitignore>,
    exclude: Option<Gitignore>,
}

impl Scope {
    fn new(config: &Config) -> Result<Scope, String> {
        Ok(Scope {
            include: compile(&config.include)?,
            exclude: compile(&config.exclude)?,
        })
    }

    /// Whether the config's `exclude` names this file.
    pub fn excludes(&self, path: &Path) -> bool {
        self.exclude
            .as_ref()
            .is_some_and(|set| names(set, &discover::absolute(path)))
    }

    /// Whether a walked file is in scope (files named on the command line always are).
    pub fn keeps(&self, path: &Path) -> bool {
        if self.include.is_none() && self.exclude.is_none() {
            return true;
        }
        let path = discover::absolute(path);
        self.include.as_ref().is_none_or(|set| names(set, &path))
            && !self.exclude.as_ref().is_some_and(|set| names(set, &path))
    }
}

/// The config's `[[overrides]]`, each with its globs compiled.
#[derive(Default)]
pub struct Overrides {
    sets: Vec<(Gitignore, BTreeMap<String, RuleLevel>)>,
}

impl Overrides {
    fn new(config: &Config) -> Result<Overrides, String> {
        let mut sets = Vec::new();
        for o in &config.overrides {
            if let Some(set) = compile(&o.files)? {
                sets.push((set, o.rules.clone()));
            }
        }
        Ok(Overrides { sets })
    }

    pub fn is_empty(&self) -> bool {
        self.sets.is_empty()
    }

    /// The level the last matching override that names `rule` gives it here.
    pub fn level(&self, path: &Path, rule: &str) -> Option<RuleLevel> {
        let path = discover::absolute(path);
        self.sets.iter().rev().find_map(|(set, rules)| {
            names(set, &path)
                .then(|| rules.get(rule).copied())
                .flatten()
        })
    }
}
