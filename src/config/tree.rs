//! Every `racelint.toml` of a project, and which one applies to a file: the
//! nearest in the file's folder or above it, up to the project root. As in ruff,
//! the nearest file wins whole — settings of a `racelint.toml` further up are not
//! merged in unless the nearer one says `extend = "../racelint.toml"` — and
//! `--config` names one file for every file instead.
//!
//! Each stage that needs a setting asks [`Configs::for_path`] (or compiles what it
//! needs once per config, indexed by [`Configs::index_of`]), so a file's rules,
//! severities, overrides, client names, log tables, wrappers, roles and
//! include/exclude globs all come from its own configuration.

use super::{load, Config, ConfigError, CONFIG_FILE};
use crate::discover;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Which configuration applies to a path: folders holding a `racelint.toml`, each
/// with the index of its configuration.
#[derive(Clone, Debug, Default)]
pub struct ConfigIndex {
    /// Absolute folder → index into [`Configs::all`].
    folders: BTreeMap<PathBuf, usize>,
}

impl ConfigIndex {
    /// The index of the configuration that applies to `path`: that of the
    /// nearest folder at or above it holding one, else 0 (the defaults, or the
    /// one `--config` file).
    pub fn of(&self, path: &Path) -> usize {
        if self.folders.is_empty() {
            return 0;
        }
        let path = discover::absolute(path);
        path.ancestors()
            .find_map(|dir| self.folders.get(dir).copied())
            .unwrap_or(0)
    }
}

/// The configurations of one run.
#[derive(Clone, Debug)]
pub struct Configs {
    /// The first applies to files no `racelint.toml` covers.
    configs: Vec<Config>,
    index: ConfigIndex,
}

impl Default for Configs {
    fn default() -> Self {
        Configs::single(Config::default())
    }
}

impl From<Config> for Configs {
    fn from(config: Config) -> Self {
        Configs::single(config)
    }
}

impl Configs {
    /// One configuration for every file (`--config`, or a library caller's).
    pub fn single(config: Config) -> Configs {
        Configs {
            configs: vec![config],
            index: ConfigIndex::default(),
        }
    }

    /// The configurations of a run over `paths`: the `--config` file for every
    /// file when given, else every `racelint.toml` of their project root.
    pub fn for_run(
        config_flag: Option<&Path>,
        paths: &[PathBuf],
        known: &[&str],
    ) -> Result<Configs, ConfigError> {
        match config_flag {
            Some(path) => load(path, known).map(Configs::single),
            None => {
                let first = paths.first().map_or(Path::new("."), PathBuf::as_path);
                Configs::discover(&discover::project_root(first), paths, known)
            }
        }
    }

    /// Every `racelint.toml` below `root` (the walk honours `.gitignore` and skips
    /// dependency folders, as linting does) and the nearest one of each of
    /// `paths`, should a path lie outside `root`. The problems of all of them are
    /// reported at once.
    pub fn discover(
        root: &Path,
        paths: &[PathBuf],
        known: &[&str],
    ) -> Result<Configs, ConfigError> {
        let root = discover::absolute(root);
        let mut files = config_files(&root);
        for path in paths {
            if let Some(found) = super::find_config(&discover::absolute(path)) {
                files.push(discover::absolute(&found));
            }
        }
        files.sort();
        files.dedup();
        let mut configs = vec![Config::default()];
        let mut folders = BTreeMap::new();
        let mut errors = Vec::new();
        for file in files {
            match load(&file, known) {
                Ok(config) => {
                    let folder = file.parent().unwrap_or(&root).to_path_buf();
                    folders.insert(folder, configs.len());
                    configs.push(config);
                }
                Err(error) => errors.push(error),
            }
        }
        if let Some(error) = ConfigError::combine(errors) {
            return Err(error);
        }
        Ok(Configs {
            configs,
            index: ConfigIndex { folders },
        })
    }

    /// The configuration that applies to the file or folder at `path`.
    pub fn for_path(&self, path: &Path) -> &Config {
        &self.configs[self.index.of(path)]
    }

    /// The index of [`Configs::for_path`]'s answer in [`Configs::all`].
    pub fn index_of(&self, path: &Path) -> usize {
        self.index.of(path)
    }

    pub fn index(&self) -> &ConfigIndex {
        &self.index
    }

    /// Every configuration, the defaults (or `--config`) first.
    pub fn all(&self) -> &[Config] {
        &self.configs
    }

    /// Applies the command line (`--select`, `--max-file-size`, …) to each.
    pub fn for_each_mut(&mut self, mut change: impl FnMut(&mut Config)) {
        self.configs.iter_mut().for_each(&mut change);
    }

    /// Every file these configurations were read from, extended ones included.
    pub fn files(&self) -> impl Iterator<Item = &Path> {
        self.configs
            .iter()
            .flat_map(|c| c.path.iter().chain(&c.extends))
            .map(PathBuf::as_path)
    }
}

/// The `racelint.toml` files under `root`, sorted.
fn config_files(root: &Path) -> Vec<PathBuf> {
    let found = Mutex::new(Vec::new());
    ignore::WalkBuilder::new(root)
        .hidden(true)
        .require_git(false)
        .follow_links(false)
        .filter_entry(|entry| {
            let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
            !(is_dir
                && entry.depth() > 0
                && entry
                    .file_name()
                    .to_str()
                    .is_some_and(|n| discover::SKIPPED_DIRS.contains(&n)))
        })
        .build_parallel()
        .run(|| {
            Box::new(|entry| {
                if let Ok(entry) = entry {
                    if entry.file_name() == CONFIG_FILE
                        && entry.file_type().is_some_and(|t| t.is_file())
                    {
                        found
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push(discover::absolute(entry.path()));
                    }
                }
                ignore::WalkState::Continue
            })
        });
    let mut files = found.into_inner().unwrap_or_else(|e| e.into_inner());
    files.sort();
    files
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RuleLevel;
    use crate::diagnostic::Severity;

    const KNOWN: &[&str] = &["check-then-act", "non-atomic-writes", "sleep-as-sync"];

    fn write(root: &Path, name: &str, text: &str) {
        let path = root.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn the_nearest_config_applies_whole() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(
            root,
            "racelint.toml",
            "fail-on = \"error\"\n[rules]\nsleep-as-sync = \"off\"\n",
        );
        write(
            root,
            "apps/web/racelint.toml",
            "[rules]\ncheck-then-act = \"info\"\n",
        );
        write(root, "node_modules/x/racelint.toml", "nonsense = 1\n");
        let configs = Configs::discover(root, &[], KNOWN).unwrap();
        assert_eq!(configs.all().len(), 3, "defaults, root, apps/web");

        let web = configs.for_path(&root.join("apps/web/src/a.ts"));
        assert_eq!(web.rules.get("check-then-act"), Some(&RuleLevel::Info));
        assert_eq!(web.rules.get("sleep-as-sync"), None, "no implicit merge");
        assert_eq!(web.fail_on, Severity::Warning);

        let api = configs.for_path(&root.join("apps/api/a.ts"));
        assert_eq!(api.fail_on, Severity::Error);
        assert_eq!(api.rules.get("check-then-act"), None);
        // `apps/webby` is not inside `apps/web`.
        assert_eq!(
            configs.for_path(&root.join("apps/webby/a.ts")).path,
            Some(discover::absolute(&root.join("racelint.toml")))
        );
        assert_eq!(
            configs.for_path(Path::new("/elsewhere/a.ts")),
            &Config::default()
        );
    }

    #[test]
    fn extend_folds_the_named_file_in_below_the_child() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(
            root,
            "racelint.toml",
            "fail-on = \"error\"\nexclude = [\"gen/**\"]\n[rules]\nsleep-as-sync = \"off\"\n\
             check-then-act = \"warning\"\n[clients]\nprisma = [\"db\"]\ndrizzle = [\"orm\"]\n\
             [[overrides]]\nfiles = [\"legacy/**\"]\nrules = { check-then-act = \"off\" }\n",
        );
        write(
            root,
            "apps/web/racelint.toml",
            "extend = \"../../racelint.toml\"\n[rules]\ncheck-then-act = \"info\"\n\
             [clients]\nprisma = [\"ctx.db\"]\n[[overrides]]\nfiles = [\"legacy/**\"]\n\
             rules = { sleep-as-sync = \"warning\" }\n",
        );
        let configs = Configs::discover(root, &[], KNOWN).unwrap();
        let web = configs.for_path(&root.join("apps/web/a.ts"));
        let base = discover::absolute(root);
        assert_eq!(web.fail_on, Severity::Error, "kept from the extended file");
        assert_eq!(web.rules["sleep-as-sync"], RuleLevel::Off);
        assert_eq!(
            web.rules["check-then-act"],
            RuleLevel::Info,
            "the child's entry wins"
        );
        assert_eq!(
            web.clients.prisma,
            ["ctx.db"],
            "a list the child sets replaces"
        );
        assert_eq!(web.clients.drizzle, ["orm"]);
        assert_eq!(
            web.overrides.len(),
            2,
            "the extended file's, then the child's"
        );
        assert_eq!(web.overrides[0].files.base.as_deref(), Some(base.as_path()));
        assert_eq!(
            web.overrides[1].files.base.as_deref(),
            Some(base.join("apps/web").as_path())
        );
        assert_eq!(
            web.exclude.base.as_deref(),
            Some(base.as_path()),
            "an inherited glob stays relative to the file that wrote it"
        );
        assert_eq!(web.extends, [base.join("racelint.toml")]);
        assert_eq!(
            web.path.as_deref(),
            Some(base.join("apps/web/racelint.toml").as_path())
        );
    }

    #[test]
    fn every_file_s_problems_come_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "racelint.toml", "selekt = []\n");
        write(
            root,
            "apps/a/racelint.toml",
            "[rules]\ncheck-then-akt = \"off\"\n",
        );
        write(root, "apps/b/racelint.toml", "extend = \"missing.toml\"\n");
        write(
            root,
            "apps/c/racelint.toml",
            "extend = \"../d/racelint.toml\"\n",
        );
        write(
            root,
            "apps/d/racelint.toml",
            "extend = \"../c/racelint.toml\"\n",
        );
        let error = Configs::discover(root, &[], KNOWN).unwrap_err();
        let shown = crate::report::human::config_error(error);
        for expected in ["selekt", "check-then-akt", "missing.toml", "circle"] {
            assert!(shown.contains(expected), "{expected}:\n{shown}");
        }
    }
}
