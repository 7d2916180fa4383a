//! `racelint.toml`: finding it, reading it, and refusing anything it does not know.
//! [`tree`] finds every `racelint.toml` of a project and says which applies to a
//! file (the nearest; `extend` folds another file in, see [`Config::extended_by`]).
//!
//! Every table denies unknown keys, and every rule id is checked against the rule
//! list, because a misspelt key or id that is silently ignored leaves a team
//! believing a rule is off (or on) when it is not. Errors are
//! [`miette::Diagnostic`]s that point at the offending key in the file, so the CLI
//! can print them like any other report and exit 2.
//!
//! ```toml
//! extend = "../../racelint.toml"  # start from this file's settings (relative path)
//! select = ["check-then-act", "non-atomic-writes"]   # run only these (default: all)
//! ignore = ["sleep-as-sync"]                         # never run these
//! include = ["src/**"]          # gitignore-style globs, relative to this file's folder
//! exclude = ["**/generated/**"]
//! fail-on = "warning"           # exit 1 at or above this severity: error | warning | info
//! max-file-size = 1048576       # bytes; larger files are skipped (reported as `skipped`)
//!
//! [rules]                       # a rule's severity, or "off"
//! missing-version-check = "warning"
//! in-process-lock = "off"
//!
//! [clients]                     # extra names the client is reached by
//! prisma = ["db", "ctx.database"]
//! drizzle = ["orm"]
//!
//! [non-atomic-writes]           # tables whose writes never need a transaction with others
//! log-tables = ["audit_log", "outbox"]
//!
//! [transactions]                # functions (in dependencies) that run their callback
//! wrappers = ["withTransaction", "uow.run"]   # in a transaction, the handle first
//!
//! [schema]                      # more `.sql` migrations than the usual folders
//! migrations = ["db/sql/**"]
//! database = "mysql"            # the database advice is for, over what racelint detects:
//!                               # postgres | mysql | sqlite | sqlserver
//!
//! [roles]                       # correct the guessed code role of files (globs)
//! script = ["ops/**"]
//! production = ["src/tests/fixtures-server/**"]
//!
//! [[overrides]]                 # per-file rule levels; the last matching one wins
//! files = ["apps/legacy/**", "**/*.admin.ts"]
//! rules = { check-then-act = "warning", sleep-as-sync = "off" }
//! ```

use crate::diagnostic::{Level, RuleMeta, Severity};
use crate::ir::Client;
use miette::{LabeledSpan, NamedSource, SourceSpan};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use toml::Spanned;

pub mod tree;

pub use tree::Configs;

pub const CONFIG_FILE: &str = "racelint.toml";

/// Hand-written files are far below this; what is above it is bundled or generated
/// code (a minified bundle, a generated client) where findings are noise and
/// parsing costs seconds.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 1024 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RuleLevel {
    Error,
    Warning,
    Info,
    Off,
}

impl RuleLevel {
    pub fn severity(self) -> Option<Severity> {
        match self {
            RuleLevel::Error => Some(Severity::Error),
            RuleLevel::Warning => Some(Severity::Warning),
            RuleLevel::Info => Some(Severity::Info),
            RuleLevel::Off => None,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Clients {
    /// Names a `PrismaClient` is reached by besides `prisma` (`db`, `ctx.database`).
    #[serde(default)]
    pub prisma: Vec<String>,
    /// Names a Drizzle database is reached by besides `db`.
    #[serde(default)]
    pub drizzle: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct NonAtomicWrites {
    /// Added to the rule's built-in log-like names: a write to one of these tables
    /// never needs to share a transaction with the writes around it.
    #[serde(default)]
    pub log_tables: Vec<String>,
}

/// `[transactions]`: what racelint cannot see of the project's transactions.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transactions {
    /// Functions whose callback runs inside a transaction, its first parameter the
    /// handle (`withTransaction`, `uow.run`): ones kept in a dependency. Those in
    /// the project are recognised from their bodies.
    #[serde(default)]
    pub wrappers: Vec<String>,
}

/// Gitignore-style globs and the folder they are relative to: that of the
/// `racelint.toml` that wrote them, which for a setting taken through `extend` is
/// the extended file's folder.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Globs {
    pub patterns: Vec<String>,
    /// `None` when no file wrote them: the consumer's own default folder applies.
    pub base: Option<PathBuf>,
}

impl Globs {
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// The folder the globs are relative to, `fallback` when no file wrote them.
    pub fn base_or<'a>(&'a self, fallback: &'a Path) -> &'a Path {
        self.base.as_deref().unwrap_or(fallback)
    }
}

impl From<Vec<String>> for Globs {
    fn from(patterns: Vec<String>) -> Globs {
        Globs {
            patterns,
            base: None,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SchemaConfig {
    /// Globs naming `.sql` files that are migrations besides those racelint
    /// recognises by folder.
    pub migrations: Globs,
    /// The database the files run on, over what the project's configuration
    /// says (`schema::dialect`) and below what a table's own source says.
    pub database: Option<crate::schema::Database>,
}

/// `[roles]`: globs that set the code role of matching files over racelint's
/// guess (`crate::roles`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RoleGlobs {
    pub production: Globs,
    pub test: Globs,
    pub script: Globs,
    pub migration: Globs,
    pub seed: Globs,
}

/// `[[overrides]]`: rule levels for the files its globs match, over `[rules]`
/// (ruff's per-file-ignores, biome's overrides).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Override {
    pub files: Globs,
    pub rules: BTreeMap<String, RuleLevel>,
}

/// The settings of one run. [`Config::default`] is what racelint does without a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The file this came from; `None` for the defaults.
    pub path: Option<PathBuf>,
    /// Severity overrides and rules turned off, by rule id.
    pub rules: BTreeMap<String, RuleLevel>,
    /// Run only these rules; `None` runs all.
    pub select: Option<Vec<String>>,
    pub ignore: Vec<String>,
    /// Empty means all files.
    pub include: Globs,
    /// On top of `.gitignore`; schema sources honour it too.
    pub exclude: Globs,
    /// The least severity that makes `check` exit 1.
    pub fail_on: Severity,
    /// Files larger than this many bytes are skipped.
    pub max_file_size: u64,
    pub clients: Clients,
    pub non_atomic_writes: NonAtomicWrites,
    pub transactions: Transactions,
    pub schema: SchemaConfig,
    /// Findings below this confidence are not reported.
    pub min_confidence: Level,
    pub roles: RoleGlobs,
    /// In file order (an extended file's first); for a file, the last matching
    /// override that names a rule decides its level.
    pub overrides: Vec<Override>,
    /// The files `extend` folded in, nearest first.
    pub extends: Vec<PathBuf>,
    /// The keys the file itself sets (`fail-on`, `clients.prisma`), which win over
    /// an extended file's.
    pub set: BTreeSet<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            path: None,
            rules: BTreeMap::new(),
            select: None,
            ignore: Vec::new(),
            include: Globs::default(),
            exclude: Globs::default(),
            fail_on: Severity::Warning,
            max_file_size: DEFAULT_MAX_FILE_SIZE,
            clients: Clients::default(),
            non_atomic_writes: NonAtomicWrites::default(),
            transactions: Transactions::default(),
            schema: SchemaConfig::default(),
            min_confidence: Level::Medium,
            roles: RoleGlobs::default(),
            overrides: Vec::new(),
            extends: Vec::new(),
            set: BTreeSet::new(),
        }
    }
}

impl Config {
    /// The folder of the config file.
    pub fn base_dir(&self) -> Option<&Path> {
        self.path.as_deref().and_then(Path::parent)
    }

    /// Every glob list of the config, for making them relative to a folder.
    fn globs_mut(&mut self) -> impl Iterator<Item = &mut Globs> {
        let RoleGlobs {
            production,
            test,
            script,
            migration,
            seed,
        } = &mut self.roles;
        [
            &mut self.include,
            &mut self.exclude,
            &mut self.schema.migrations,
            production,
            test,
            script,
            migration,
            seed,
        ]
        .into_iter()
        .chain(self.overrides.iter_mut().map(|o| &mut o.files))
    }

    /// The config as read from `path`: its globs relative to `folder`, the file's.
    fn rebase(&mut self, path: &Path, folder: &Path) {
        self.path = Some(path.to_path_buf());
        for globs in self.globs_mut() {
            globs.base = Some(folder.to_path_buf());
        }
    }

    /// `child` (a file that says `extend = "…"`) on top of this, the file it
    /// extends, as ruff's `extend` does: a key the child sets replaces this file's
    /// (a list is not appended to); tables merge key by key, so a `[rules]` entry
    /// or `[clients] prisma` of the child replaces only that entry; `[[overrides]]`
    /// are this file's, then the child's (the last match wins). Globs stay
    /// relative to the folder of the file that wrote them.
    pub fn extended_by(self, child: Config) -> Config {
        let set = |key: &str| child.set.contains(key);
        let pick = |key: &str, mine: Globs, theirs: Globs| if set(key) { theirs } else { mine };
        let list = |key: &str, mine: Vec<String>, theirs: Vec<String>| {
            if set(key) {
                theirs
            } else {
                mine
            }
        };
        let mut rules = self.rules;
        rules.extend(child.rules);
        let mut overrides = self.overrides;
        overrides.extend(child.overrides);
        let mut keys = self.set;
        keys.extend(child.set.iter().cloned());
        Config {
            path: child.path,
            rules,
            select: child.select.or(self.select),
            ignore: list("ignore", self.ignore, child.ignore),
            include: pick("include", self.include, child.include),
            exclude: pick("exclude", self.exclude, child.exclude),
            fail_on: if set("fail-on") {
                child.fail_on
            } else {
                self.fail_on
            },
            max_file_size: if set("max-file-size") {
                child.max_file_size
            } else {
                self.max_file_size
            },
            min_confidence: if set("min-confidence") {
                child.min_confidence
            } else {
                self.min_confidence
            },
            clients: Clients {
                prisma: list("clients.prisma", self.clients.prisma, child.clients.prisma),
                drizzle: list(
                    "clients.drizzle",
                    self.clients.drizzle,
                    child.clients.drizzle,
                ),
            },
            non_atomic_writes: NonAtomicWrites {
                log_tables: list(
                    "non-atomic-writes.log-tables",
                    self.non_atomic_writes.log_tables,
                    child.non_atomic_writes.log_tables,
                ),
            },
            transactions: Transactions {
                wrappers: list(
                    "transactions.wrappers",
                    self.transactions.wrappers,
                    child.transactions.wrappers,
                ),
            },
            schema: SchemaConfig {
                migrations: pick(
                    "schema.migrations",
                    self.schema.migrations,
                    child.schema.migrations,
                ),
                database: if set("schema.database") {
                    child.schema.database
                } else {
                    self.schema.database
                },
            },
            roles: RoleGlobs {
                production: pick(
                    "roles.production",
                    self.roles.production,
                    child.roles.production,
                ),
                test: pick("roles.test", self.roles.test, child.roles.test),
                script: pick("roles.script", self.roles.script, child.roles.script),
                migration: pick(
                    "roles.migration",
                    self.roles.migration,
                    child.roles.migration,
                ),
                seed: pick("roles.seed", self.roles.seed, child.roles.seed),
            },
            overrides,
            extends: child.extends,
            set: keys,
        }
    }

    /// The severity `rule` reports at in this run, or `None` when it does not run.
    /// `select` and `ignore` decide whether it runs; `[rules]` can then turn it off
    /// or change its severity.
    pub fn severity(&self, rule: &RuleMeta) -> Option<Severity> {
        if let Some(select) = &self.select {
            if !select.iter().any(|id| id == rule.id) {
                return None;
            }
        }
        if self.ignore.iter().any(|id| id == rule.id) {
            return None;
        }
        match self.rules.get(rule.id) {
            Some(level) => level.severity(),
            None => Some(rule.severity),
        }
    }

    /// The severity an override gives `rule` somewhere, when `select` and
    /// `ignore` let it run: a rule off in `[rules]` but on in an override must
    /// still run, for the files the override covers.
    pub fn severity_in_overrides(&self, rule: &RuleMeta) -> Option<Severity> {
        if self
            .select
            .as_ref()
            .is_some_and(|s| !s.iter().any(|id| id == rule.id))
            || self.ignore.iter().any(|id| id == rule.id)
        {
            return None;
        }
        self.overrides
            .iter()
            .find_map(|o| o.rules.get(rule.id).and_then(|level| level.severity()))
    }

    /// Folds in `--select` (replaces the file's `select`) and `--ignore` (adds to
    /// its `ignore`), the precedence ruff and clippy users expect.
    pub fn merge_cli(&mut self, select: Option<Vec<String>>, ignore: Vec<String>) {
        if select.is_some() {
            self.select = select;
        }
        self.ignore.extend(ignore);
    }

    /// Whether a finding of this severity makes `check` exit 1.
    pub fn fails(&self, severity: Severity) -> bool {
        severity >= self.fail_on
    }

    /// The extra names configured for a client; empty for clients without a key.
    pub fn client_names(&self, client: Client) -> &[String] {
        match client {
            Client::Prisma => &self.clients.prisma,
            Client::Drizzle => &self.clients.drizzle,
            _ => &[],
        }
    }
}

/// The `racelint.toml` in `start` (a folder, or a file's folder) or its nearest
/// ancestor. The search stops at the repository root (a folder holding `.git`) so
/// that a checkout never picks up a stray config from the home directory above it.
pub fn find_config(start: &Path) -> Option<PathBuf> {
    let start = std::path::absolute(start).ok()?;
    let mut dir = if start.is_file() {
        start.parent()?
    } else {
        start.as_path()
    };
    loop {
        let candidate = dir.join(CONFIG_FILE);
        if candidate.is_file() {
            return Some(candidate);
        }
        if dir.join(".git").exists() {
            return None;
        }
        dir = dir.parent()?;
    }
}

/// Reads and checks a config file, and the files it extends. `known_rules` is
/// every rule id that exists (including `unused-suppression` and
/// `suppression-missing-reason`).
pub fn load(path: &Path, known_rules: &[&str]) -> Result<Config, ConfigError> {
    load_extending(path, known_rules, &mut Vec::new())
}

/// [`load`], `visiting` holding the files whose `extend` led here (a cycle check).
fn load_extending(
    path: &Path,
    known_rules: &[&str],
    visiting: &mut Vec<PathBuf>,
) -> Result<Config, ConfigError> {
    let name = crate::discover::display_path(path);
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigError(Box::new(Inner {
            message: format!("cannot read {name}: {e}"),
            src: None,
            span: None,
            label: None,
            help: None,
            others: Vec::new(),
        }))
    })?;
    let (mut config, extend) = parse_with_extend(&text, &name, known_rules)?;
    let folder = crate::discover::absolute(path.parent().unwrap_or(Path::new(".")));
    config.rebase(path, &folder);
    let Some(extend) = extend else {
        return Ok(config);
    };
    let at_extend = |message: String, label: &str| {
        ConfigError(Box::new(Inner {
            message,
            src: Some(NamedSource::new(&name, text.clone()).with_language("TOML")),
            span: Some(SourceSpan::from(extend.span())),
            label: Some(label.to_string()),
            help: None,
            others: Vec::new(),
        }))
    };
    let target = crate::discover::absolute(&folder.join(extend.get_ref()));
    if !target.is_file() {
        return Err(at_extend(
            format!(
                "invalid {name}: `extend` names {}, which is not a file",
                crate::discover::display_path(&target)
            ),
            "no such file",
        ));
    }
    let identity = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    visiting.push(identity(path));
    if visiting.contains(&identity(&target)) {
        let chain: Vec<String> = visiting
            .iter()
            .map(|p| crate::discover::display_path(p))
            .chain(std::iter::once(crate::discover::display_path(&target)))
            .collect();
        return Err(at_extend(
            format!(
                "invalid {name}: `extend` goes round in a circle ({})",
                chain.join(" → ")
            ),
            "extended again here",
        ));
    }
    let base = load_extending(&target, known_rules, visiting)?;
    visiting.pop();
    config.extends = std::iter::once(target)
        .chain(base.extends.iter().cloned())
        .collect();
    Ok(base.extended_by(config))
}

/// Checks config text; `name` is how errors name the file. An `extend` is checked
/// for its form only ([`load`] follows it).
pub fn parse(text: &str, name: &str, known_rules: &[&str]) -> Result<Config, ConfigError> {
    parse_with_extend(text, name, known_rules).map(|(config, _)| config)
}

/// [`parse`], and the file's `extend`, if any, where it is written.
fn parse_with_extend(
    text: &str,
    name: &str,
    known_rules: &[&str],
) -> Result<(Config, Option<Spanned<String>>), ConfigError> {
    let err = |message: String, span: Option<std::ops::Range<usize>>, label: &str| {
        ConfigError(Box::new(Inner {
            message,
            src: Some(NamedSource::new(name, text.to_string()).with_language("TOML")),
            span: span.map(|r| SourceSpan::from(r.start..r.end)),
            label: Some(label.to_string()),
            help: None,
            others: Vec::new(),
        }))
    };

    let unknown: Vec<ConfigError> = unknown_keys(text)
        .into_iter()
        .map(|(key, span, known)| {
            let mut error = err(
                format!("unknown key `{key}` in {name}"),
                Some(span),
                "not a racelint setting",
            );
            error.0.help = Some(match closest(&key, known) {
                Some(near) => format!("did you mean `{near}`?"),
                None => format!("the keys here are: {}", known.join(", ")),
            });
            error
        })
        .collect();
    if let Some(error) = ConfigError::all(unknown) {
        return Err(error);
    }

    let raw: Raw = toml::from_str(text).map_err(|e| {
        let message = e.message().trim_end().to_string();
        let label = if message.starts_with("unknown field") {
            "not a racelint setting"
        } else {
            "here"
        };
        // toml's own message already lists the keys that are expected here.
        err(format!("invalid {name}: {message}"), e.span(), label)
    })?;

    let check_rule = |id: &Spanned<String>| -> Result<(), ConfigError> {
        if known_rules.contains(&id.get_ref().as_str()) {
            return Ok(());
        }
        let mut error = err(
            format!("unknown rule `{}` in {name}", id.get_ref()),
            Some(id.span()),
            "no rule has this id",
        );
        error.0.help = Some(match closest(id.get_ref(), known_rules) {
            Some(near) => format!("did you mean `{near}`? `racelint rules` lists every id"),
            None => "`racelint rules` lists every id".into(),
        });
        Err(error)
    };
    // Every problem of the file at once, not one per run.
    let mut problems = Vec::new();
    for id in raw.rules.keys() {
        problems.extend(check_rule(id).err());
    }
    for id in raw.select.iter().flatten().chain(&raw.ignore) {
        problems.extend(check_rule(id).err());
    }
    for o in &raw.overrides {
        if o.files.get_ref().is_empty() {
            problems.push(err(
                format!("invalid {name}: an override needs at least one glob in `files`"),
                Some(o.files.span()),
                "matches no file",
            ));
        }
        for id in o.rules.keys() {
            problems.extend(check_rule(id).err());
        }
    }

    let role_globs = [
        &raw.roles.production,
        &raw.roles.test,
        &raw.roles.script,
        &raw.roles.migration,
        &raw.roles.seed,
    ];
    for glob in raw
        .include
        .iter()
        .chain(&raw.exclude)
        .chain(&raw.schema.migrations)
        .chain(role_globs.into_iter().flatten())
        .chain(raw.overrides.iter().flat_map(|o| o.files.get_ref()))
    {
        let mut builder = ignore::overrides::OverrideBuilder::new("/");
        if let Err(e) = builder.add(glob.get_ref()) {
            problems.push(err(
                format!("invalid glob `{}` in {name}: {e}", glob.get_ref()),
                Some(glob.span()),
                "not a valid glob",
            ));
        }
    }

    for (what, names) in [
        ("client name", &raw.clients.prisma),
        ("client name", &raw.clients.drizzle),
        ("transaction wrapper", &raw.transactions.wrappers),
    ] {
        for n in names {
            let valid = !n.get_ref().is_empty()
                && n.get_ref().split('.').all(|part| {
                    !part.is_empty()
                        && !part.starts_with(|c: char| c.is_ascii_digit())
                        && part
                            .chars()
                            .all(|c| c.is_alphanumeric() || c == '_' || c == '$')
                });
            if !valid {
                problems.push(err(
                    format!("invalid {what} `{}` in {name}", n.get_ref()),
                    Some(n.span()),
                    "expected a variable or a dotted path such as `ctx.db`",
                ));
            }
        }
    }

    if let Some(database) = &raw.schema.database {
        if crate::schema::Database::from_name(database.get_ref()).is_none() {
            problems.push(err(
                format!("invalid {name}: unknown database `{}`", database.get_ref()),
                Some(database.span()),
                "expected postgres, mysql, sqlite or sqlserver",
            ));
        }
    }

    if let Some(size) = &raw.max_file_size {
        if *size.get_ref() == 0 {
            problems.push(err(
                format!("invalid {name}: max-file-size must be at least 1 byte"),
                Some(size.span()),
                "every file would be skipped",
            ));
        }
    }

    if let Some(extend) = &raw.extend {
        if extend.get_ref().trim().is_empty() {
            problems.push(err(
                format!("invalid {name}: `extend` needs the path of a racelint.toml"),
                Some(extend.span()),
                "an empty path",
            ));
        }
    }

    if let Some(error) = ConfigError::all(problems) {
        return Err(error);
    }

    let strings = |v: Vec<Spanned<String>>| v.into_iter().map(Spanned::into_inner).collect();
    let globs = |v: Vec<Spanned<String>>| Globs::from(strings(v));
    let defaults = Config::default();
    let extend = raw.extend;
    let config = Config {
        path: None,
        rules: raw
            .rules
            .into_iter()
            .map(|(k, v)| (k.into_inner(), v))
            .collect(),
        select: raw.select.map(strings),
        ignore: strings(raw.ignore),
        include: globs(raw.include),
        exclude: globs(raw.exclude),
        fail_on: raw.fail_on.unwrap_or(defaults.fail_on),
        max_file_size: raw
            .max_file_size
            .map_or(defaults.max_file_size, Spanned::into_inner),
        clients: Clients {
            prisma: strings(raw.clients.prisma),
            drizzle: strings(raw.clients.drizzle),
        },
        non_atomic_writes: raw.non_atomic_writes,
        transactions: Transactions {
            wrappers: strings(raw.transactions.wrappers),
        },
        schema: SchemaConfig {
            migrations: globs(raw.schema.migrations),
            database: raw
                .schema
                .database
                .and_then(|d| crate::schema::Database::from_name(d.get_ref())),
        },
        min_confidence: raw.min_confidence.unwrap_or(defaults.min_confidence),
        roles: RoleGlobs {
            production: globs(raw.roles.production),
            test: globs(raw.roles.test),
            script: globs(raw.roles.script),
            migration: globs(raw.roles.migration),
            seed: globs(raw.roles.seed),
        },
        overrides: raw
            .overrides
            .into_iter()
            .map(|o| Override {
                files: globs(o.files.into_inner()),
                rules: o
                    .rules
                    .into_iter()
                    .map(|(k, v)| (k.into_inner(), v))
                    .collect(),
            })
            .collect(),
        extends: Vec::new(),
        set: keys_set(text),
    };
    Ok((config, extend))
}

/// The file as written, with spans kept where a later check must point.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Raw {
    extend: Option<Spanned<String>>,
    #[serde(default)]
    rules: BTreeMap<Spanned<String>, RuleLevel>,
    select: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    ignore: Vec<Spanned<String>>,
    #[serde(default)]
    include: Vec<Spanned<String>>,
    #[serde(default)]
    exclude: Vec<Spanned<String>>,
    fail_on: Option<Severity>,
    max_file_size: Option<Spanned<u64>>,
    #[serde(default)]
    clients: RawClients,
    #[serde(default)]
    non_atomic_writes: NonAtomicWrites,
    #[serde(default)]
    transactions: RawTransactions,
    #[serde(default)]
    schema: RawSchema,
    min_confidence: Option<Level>,
    #[serde(default)]
    roles: RawRoles,
    #[serde(default)]
    overrides: Vec<RawOverride>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOverride {
    files: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    rules: BTreeMap<Spanned<String>, RuleLevel>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTransactions {
    #[serde(default)]
    wrappers: Vec<Spanned<String>>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSchema {
    #[serde(default)]
    migrations: Vec<Spanned<String>>,
    database: Option<Spanned<String>>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoles {
    #[serde(default)]
    production: Vec<Spanned<String>>,
    #[serde(default)]
    test: Vec<Spanned<String>>,
    #[serde(default)]
    script: Vec<Spanned<String>>,
    #[serde(default)]
    migration: Vec<Spanned<String>>,
    #[serde(default)]
    seed: Vec<Spanned<String>>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClients {
    #[serde(default)]
    prisma: Vec<Spanned<String>>,
    #[serde(default)]
    drizzle: Vec<Spanned<String>>,
}

/// The keys of each table, for naming every unknown key of a file at once (serde
/// stops at the first). `[rules]` holds rule ids, which are checked apart.
const TOP_KEYS: &[&str] = &[
    "extend",
    "select",
    "ignore",
    "include",
    "exclude",
    "fail-on",
    "max-file-size",
    "min-confidence",
    "rules",
    "clients",
    "non-atomic-writes",
    "transactions",
    "schema",
    "roles",
    "overrides",
];
const TABLE_KEYS: &[(&str, &[&str])] = &[
    ("clients", &["prisma", "drizzle"]),
    ("non-atomic-writes", &["log-tables"]),
    ("transactions", &["wrappers"]),
    ("schema", &["migrations", "database"]),
    (
        "roles",
        &["production", "test", "script", "migration", "seed"],
    ),
    ("overrides", &["files", "rules"]),
];

/// Every key the file sets that racelint does not know: the key, where it is,
/// and the keys its table does know. Empty when the file is not valid TOML
/// (the deserializer then says why).
fn unknown_keys(text: &str) -> Vec<(String, std::ops::Range<usize>, &'static [&'static str])> {
    use toml::de::{DeTable, DeValue};
    let Ok(root) = DeTable::parse(text) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut check = |table: &DeTable, known: &'static [&'static str]| {
        for key in table.keys() {
            if !known.contains(&key.get_ref().as_ref()) {
                out.push((key.get_ref().to_string(), key.span(), known));
            }
        }
    };
    check(root.get_ref(), TOP_KEYS);
    for (key, value) in root.get_ref() {
        let Some((_, known)) = TABLE_KEYS
            .iter()
            .find(|(k, _)| *k == key.get_ref().as_ref())
        else {
            continue;
        };
        match value.get_ref() {
            DeValue::Table(table) => check(table, known),
            DeValue::Array(items) => {
                for item in items.iter() {
                    if let DeValue::Table(table) = item.get_ref() {
                        check(table, known);
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// The keys a file sets, top-level (`fail-on`) and one table down
/// (`clients.prisma`), for [`Config::extended_by`].
fn keys_set(text: &str) -> BTreeSet<String> {
    use toml::de::{DeTable, DeValue};
    let Ok(root) = DeTable::parse(text) else {
        return BTreeSet::new();
    };
    let mut set = BTreeSet::new();
    for (key, value) in root.get_ref() {
        let key = key.get_ref().to_string();
        if let DeValue::Table(table) = value.get_ref() {
            for inner in table.keys() {
                set.insert(format!("{key}.{}", inner.get_ref()));
            }
        }
        set.insert(key);
    }
    set
}

/// The known id nearest to a misspelling, if it is near enough to be a typo.
pub fn closest<'a>(id: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (edit_distance(id, k), *k))
        .filter(|(d, k)| *d <= 3.max(k.len() / 4))
        .min()
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// A config file that cannot be used. Its `miette` form shows the file with the
/// offending key labelled; its `Display` is the one-line message.
#[derive(Debug)]
pub struct ConfigError(Box<Inner>);

// Boxed because a `Result` carrying a config error travels through the happy path
// of every run.
#[derive(Debug)]
struct Inner {
    message: String,
    src: Option<NamedSource<String>>,
    span: Option<SourceSpan>,
    label: Option<String>,
    help: Option<String>,
    /// The file's other problems, all reported in one run.
    others: Vec<ConfigError>,
}

impl ConfigError {
    /// One error for several: the first, with the rest shown after it.
    fn all(mut errors: Vec<ConfigError>) -> Option<ConfigError> {
        if errors.is_empty() {
            return None;
        }
        let mut first = errors.remove(0);
        first.0.others = errors;
        Some(first)
    }

    /// The problems of several files as one error, each problem once.
    pub fn combine(errors: Vec<ConfigError>) -> Option<ConfigError> {
        let flat = errors
            .into_iter()
            .flat_map(|mut e| {
                let others = std::mem::take(&mut e.0.others);
                std::iter::once(e).chain(others)
            })
            .collect();
        ConfigError::all(flat)
    }

    /// How many problems this error reports (itself and the others).
    pub fn count(&self) -> usize {
        1 + self.0.others.len()
    }

    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// The byte range of the offending key or value in the file, if known.
    pub fn span(&self) -> Option<std::ops::Range<usize>> {
        self.0.span.map(|s| s.offset()..s.offset() + s.len())
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.message)
    }
}

impl std::error::Error for ConfigError {}

impl miette::Diagnostic for ConfigError {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new("racelint::config"))
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.0
            .help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.0.src.as_ref().map(|s| s as &dyn miette::SourceCode)
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        if self.0.others.is_empty() {
            return None;
        }
        Some(Box::new(
            self.0.others.iter().map(|e| e as &dyn miette::Diagnostic),
        ))
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let span = self.0.span?;
        self.0.src.as_ref()?;
        Some(Box::new(std::iter::once(LabeledSpan::new_with_span(
            self.0.label.clone(),
            span,
        ))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KNOWN: &[&str] = &[
        "check-then-act",
        "non-atomic-writes",
        "sleep-as-sync",
        "in-process-lock",
        "unused-suppression",
    ];

    fn ok(text: &str) -> Config {
        parse(text, "racelint.toml", KNOWN).unwrap_or_else(|e| panic!("{e}"))
    }

    fn fail(text: &str) -> ConfigError {
        parse(text, "racelint.toml", KNOWN).expect_err("config must be rejected")
    }

    fn spanned<'a>(text: &'a str, e: &ConfigError) -> &'a str {
        &text[e.span().expect("error has a span")]
    }

    fn meta(id: &'static str, severity: Severity) -> RuleMeta {
        RuleMeta {
            id,
            severity,
            summary: "",
            doc: "",
            concurrent: true,
            fixable: None,
        }
    }

    #[test]
    fn empty_file_is_the_defaults() {
        assert_eq!(ok(""), Config::default());
        assert_eq!(Config::default().fail_on, Severity::Warning);
        assert_eq!(Config::default().max_file_size, 1024 * 1024);
    }

    #[test]
    fn every_key_is_read() {
        let c = ok(r#"
select = ["check-then-act", "non-atomic-writes"]
ignore = ["sleep-as-sync"]
include = ["src/**"]
exclude = ["**/generated/**", "!keep.ts"]
fail-on = "error"
max-file-size = 4096

[rules]
check-then-act = "warning"
in-process-lock = "off"
non-atomic-writes = "info"

[clients]
prisma = ["db", "ctx.database"]
drizzle = ["orm"]

[non-atomic-writes]
log-tables = ["audit_log", "outbox"]

[schema]
migrations = ["db/sql/**"]
database = "mariadb"
"#);
        assert_eq!(
            c.select,
            Some(vec!["check-then-act".into(), "non-atomic-writes".into()])
        );
        assert_eq!(c.ignore, vec!["sleep-as-sync"]);
        assert_eq!(c.include.patterns, vec!["src/**"]);
        assert_eq!(c.exclude.patterns, vec!["**/generated/**", "!keep.ts"]);
        assert_eq!(c.fail_on, Severity::Error);
        assert_eq!(c.max_file_size, 4096);
        assert_eq!(c.rules["check-then-act"], RuleLevel::Warning);
        assert_eq!(c.rules["in-process-lock"], RuleLevel::Off);
        assert_eq!(c.rules["non-atomic-writes"], RuleLevel::Info);
        assert_eq!(c.clients.prisma, vec!["db", "ctx.database"]);
        assert_eq!(c.client_names(Client::Prisma), ["db", "ctx.database"]);
        assert_eq!(c.client_names(Client::Drizzle), ["orm"]);
        assert!(c.client_names(Client::Sqlx).is_empty());
        assert_eq!(c.non_atomic_writes.log_tables, vec!["audit_log", "outbox"]);
        assert_eq!(c.schema.migrations.patterns, vec!["db/sql/**"]);
        assert_eq!(c.schema.database, Some(crate::schema::Database::Mysql));
    }

    #[test]
    fn severity_combines_select_ignore_and_rules() {
        let cta = meta("check-then-act", Severity::Error);
        let naw = meta("non-atomic-writes", Severity::Error);
        let sleep = meta("sleep-as-sync", Severity::Warning);
        let lock = meta("in-process-lock", Severity::Warning);

        let c = ok(r#"
ignore = ["sleep-as-sync"]
[rules]
check-then-act = "info"
in-process-lock = "off"
"#);
        assert_eq!(c.severity(&cta), Some(Severity::Info));
        assert_eq!(c.severity(&naw), Some(Severity::Error));
        assert_eq!(c.severity(&sleep), None);
        assert_eq!(c.severity(&lock), None);

        let c = ok(r#"select = ["non-atomic-writes"]"#);
        assert_eq!(c.severity(&cta), None);
        assert_eq!(c.severity(&naw), Some(Severity::Error));

        let mut c = ok(r#"select = ["non-atomic-writes"]
ignore = ["in-process-lock"]"#);
        c.merge_cli(
            Some(vec!["check-then-act".into()]),
            vec!["sleep-as-sync".into()],
        );
        assert_eq!(c.severity(&cta), Some(Severity::Error));
        assert_eq!(c.severity(&naw), None);
        assert_eq!(c.ignore, vec!["in-process-lock", "sleep-as-sync"]);
        c.merge_cli(None, vec![]);
        assert_eq!(c.select, Some(vec!["check-then-act".into()]));
    }

    #[test]
    fn fail_on_is_a_threshold() {
        let c = ok(r#"fail-on = "warning""#);
        assert!(c.fails(Severity::Error));
        assert!(c.fails(Severity::Warning));
        assert!(!c.fails(Severity::Info));
        assert!(ok(r#"fail-on = "info""#).fails(Severity::Info));
        assert!(!ok(r#"fail-on = "error""#).fails(Severity::Warning));
    }

    #[test]
    fn unknown_top_level_key_points_at_the_key() {
        let text = "fail-on = \"error\"\nselekt = [\"check-then-act\"]\n";
        let e = fail(text);
        assert_eq!(spanned(text, &e), "selekt");
        assert!(
            e.message().contains("unknown key `selekt`"),
            "{}",
            e.message()
        );
        assert_eq!(e.0.help.as_deref(), Some("did you mean `select`?"));
    }

    #[test]
    fn every_problem_of_a_file_is_reported_at_once() {
        let text = "selekt = []\n[clients]\nprismaa = [\"db\"]\n[[overrides]]\nfiles = [\"a\"]\nrulez = {}\n";
        let e = fail(text);
        assert_eq!(e.count(), 3, "{e:?}");
        let others: Vec<&str> = e.0.others.iter().map(|o| spanned(text, o)).collect();
        assert_eq!(spanned(text, &e), "selekt");
        assert_eq!(others, ["prismaa", "rulez"]);
        assert_eq!(
            e.0.others[0].0.help.as_deref(),
            Some("did you mean `prisma`?")
        );

        // Past the keys, each bad rule id, glob and name is reported too.
        let text = "select = [\"check-then-akt\"]\nignore = [\"nope\"]\ninclude = [\"a/{b\"]\n";
        let e = fail(text);
        assert_eq!(e.count(), 3, "{e:?}");
        assert!(e.0.others[1].message().contains("a/{b"), "{e:?}");
    }

    #[test]
    fn unknown_keys_in_tables_point_at_the_key() {
        let text = "[clients]\nprisma = [\"db\"]\nsequelize = [\"s\"]\n";
        assert_eq!(spanned(text, &fail(text)), "sequelize");
        let text = "[non-atomic-writes]\nlog_tables = [\"x\"]\n";
        assert_eq!(spanned(text, &fail(text)), "log_tables");
        let text = "[nonatomic]\nx = 1\n";
        assert_eq!(spanned(text, &fail(text)), "nonatomic");
    }

    #[test]
    fn unknown_rule_ids_point_at_the_id() {
        let text = "[rules]\ncheck-then-akt = \"off\"\n";
        let e = fail(text);
        assert_eq!(spanned(text, &e), "check-then-akt");
        assert!(e.message().contains("unknown rule `check-then-akt`"));
        let help = miette::Diagnostic::help(&e).unwrap().to_string();
        assert!(help.contains("did you mean `check-then-act`"), "{help}");

        let text = "select = [\"check-then-act\", \"race-everything\"]\n";
        let e = fail(text);
        assert_eq!(spanned(text, &e), "\"race-everything\"");
        assert!(!miette::Diagnostic::help(&e)
            .unwrap()
            .to_string()
            .contains("did you mean"));

        let text = "ignore = [\"sleep-as-sync\", \"nope\"]\n";
        assert_eq!(spanned(text, &fail(text)), "\"nope\"");
    }

    #[test]
    fn bad_values_point_at_the_value() {
        let text = "[rules]\ncheck-then-act = \"fatal\"\n";
        let e = fail(text);
        assert_eq!(spanned(text, &e), "\"fatal\"");
        assert!(
            e.message().contains("unknown variant `fatal`"),
            "{}",
            e.message()
        );

        let text = "fail-on = \"never\"\n";
        assert_eq!(spanned(text, &fail(text)), "\"never\"");

        let text = "max-file-size = \"2MiB\"\n";
        assert_eq!(spanned(text, &fail(text)), "\"2MiB\"");
        let text = "max-file-size = 0\n";
        assert_eq!(spanned(text, &fail(text)), "0");
        let text = "max-file-size = -5\n";
        assert_eq!(spanned(text, &fail(text)), "-5");

        let text = "select = \"check-then-act\"\n";
        assert_eq!(spanned(text, &fail(text)), "\"check-then-act\"");
    }

    #[test]
    fn invalid_globs_and_client_names_are_errors() {
        let text = "exclude = [\"src/{a,b\"]\n";
        let e = fail(text);
        assert_eq!(spanned(text, &e), "\"src/{a,b\"");
        assert!(e.message().contains("invalid glob"));

        let text = "[clients]\nprisma = [\"db\", \"ctx..db\"]\n";
        assert_eq!(spanned(text, &fail(text)), "\"ctx..db\"");
        let text = "[clients]\ndrizzle = [\"\"]\n";
        assert_eq!(spanned(text, &fail(text)), "\"\"");
        assert_eq!(
            ok("[clients]\nprisma = [\"$db\", \"this.prisma_1\"]")
                .clients
                .prisma
                .len(),
            2
        );
    }

    #[test]
    fn toml_syntax_errors_have_a_location() {
        let text = "select = [\"check-then-act\"\nfail-on = \"error\"\n";
        let e = fail(text);
        assert!(e.span().is_some());
    }

    #[test]
    fn miette_report_shows_the_file_and_label() {
        let text = "fail-on = \"error\"\nselekt = []\n";
        let e = fail(text);
        let out = crate::report::human::config_error(e);
        assert!(out.contains("racelint::config"), "{out}");
        assert!(out.contains("racelint.toml:2:1"), "{out}");
        assert!(out.contains("not a racelint setting"), "{out}");
        assert!(out.contains("selekt = []"), "{out}");
    }

    #[test]
    fn load_reads_a_file_and_remembers_where() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(CONFIG_FILE);
        std::fs::write(&path, "fail-on = \"error\"\n").unwrap();
        let c = load(&path, KNOWN).unwrap();
        assert_eq!(c.fail_on, Severity::Error);
        assert_eq!(c.base_dir(), Some(dir.path()));

        let missing = load(&dir.path().join("nope.toml"), KNOWN).unwrap_err();
        assert!(missing.message().contains("cannot read"));
        assert!(missing.span().is_none());
    }

    #[test]
    fn find_config_walks_up_to_the_repository_root() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        let deep = repo.join("apps/web/lib");
        std::fs::create_dir_all(&deep).unwrap();
        std::fs::create_dir(repo.join(".git")).unwrap();
        let file = deep.join("x.ts");
        std::fs::write(&file, "").unwrap();

        // A config above the repository is not this project's.
        std::fs::write(dir.path().join(CONFIG_FILE), "").unwrap();
        assert_eq!(find_config(&deep), None);

        std::fs::write(repo.join(CONFIG_FILE), "").unwrap();
        assert_eq!(find_config(&deep), Some(repo.join(CONFIG_FILE)));
        assert_eq!(find_config(&file), Some(repo.join(CONFIG_FILE)));

        std::fs::write(repo.join("apps").join(CONFIG_FILE), "").unwrap();
        assert_eq!(
            find_config(&file),
            Some(repo.join("apps").join(CONFIG_FILE))
        );
    }

    #[test]
    fn closest_suggests_only_near_misses() {
        assert_eq!(closest("sleep-as-synch", KNOWN), Some("sleep-as-sync"));
        assert_eq!(closest("zzz", KNOWN), None);
    }
}
