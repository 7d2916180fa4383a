//! What the server knows between messages: the project of the workspace root,
//! lowered and linked once at `initialize` by the same `lint::load` that
//! `racelint check` runs, and the documents the editor has open. An edit lowers
//! the changed buffer's text (not the file on disk), puts it in the project in
//! place of the file's old model and links the project again, so that the
//! file's findings use what every other file and the schema say. Saving a
//! schema source or `racelint.toml` loads the whole project again.

use super::convert::{self, LineIndex};
use crate::config::Configs;
use crate::diagnostic::{Diagnostic, ErrorKind, RunError};
use crate::discover;
use crate::lint::{self, Lowering, Options, RuleRun};
use crate::project::{Project, ProjectFile};
use crate::rules::ProjectFacts;
use crate::schema::Schemas;
use lsp_types::Url;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A document the editor has open: its text as the editor has it, and what
/// racelint last found in that text.
pub struct Document {
    pub uri: Url,
    pub version: Option<i32>,
    pub text: Arc<str>,
    pub findings: Vec<Diagnostic>,
    /// Problems reading or parsing the text.
    pub problems: Vec<RunError>,
}

pub struct Workspace {
    root: PathBuf,
    /// The files the configurations were read from (their saving reloads).
    config_files: Vec<PathBuf>,
    pool: rayon::ThreadPool,
    project: Project,
    facts: ProjectFacts,
    schema: Schemas,
    lowering: Lowering,
    /// Open documents by path.
    pub documents: BTreeMap<PathBuf, Document>,
}

impl Workspace {
    /// Loads the project of `root`. A configuration that does not load is
    /// replaced by the defaults, and said in the returned message.
    pub fn load(root: &Path) -> Result<(Workspace, Option<String>), String> {
        let root = root
            .canonicalize()
            .unwrap_or_else(|_| discover::absolute(root));
        let (configs, warning) = load_configs(&root);
        let pool = lint::thread_pool(0).map_err(|e| e.0)?;
        let loaded = lint::load(&options(&root, &configs), &pool).map_err(|e| e.0)?;
        let workspace = Workspace {
            config_files: configs.files().map(Path::to_path_buf).collect(),
            root,
            pool,
            project: loaded.project,
            facts: loaded.facts,
            schema: loaded.schema,
            lowering: loaded.lowering,
            documents: BTreeMap::new(),
        };
        Ok((workspace, warning))
    }

    /// Loads the project again from disk (the schema or configuration changed),
    /// keeping the open documents' unsaved text.
    pub fn reload(&mut self) -> Option<String> {
        let (configs, warning) = load_configs(&self.root);
        let loaded = match lint::load(&options(&self.root, &configs), &self.pool) {
            Ok(loaded) => loaded,
            Err(fatal) => return Some(fatal.0),
        };
        self.config_files = configs.files().map(Path::to_path_buf).collect();
        self.project = loaded.project;
        self.facts = loaded.facts;
        self.schema = loaded.schema;
        self.lowering = loaded.lowering;
        let open: Vec<(PathBuf, Arc<str>)> = self
            .documents
            .iter()
            .map(|(path, d)| (path.clone(), d.text.clone()))
            .collect();
        for (path, text) in open {
            self.put(&path, text.to_string());
        }
        warning
    }

    /// The key a path is known by: canonical when it exists, as the walk of the
    /// canonical root names files.
    pub fn key(path: &Path) -> PathBuf {
        path.canonicalize()
            .unwrap_or_else(|_| discover::absolute(path))
    }

    /// Opens or changes a document: its text goes into the project.
    pub fn edit(&mut self, path: PathBuf, uri: Url, version: Option<i32>, text: String) {
        let text: Arc<str> = Arc::from(text);
        let problems = self.put(&path, text.to_string());
        let document = self.documents.entry(path).or_insert_with(|| Document {
            uri: uri.clone(),
            version,
            text: text.clone(),
            findings: Vec::new(),
            problems: Vec::new(),
        });
        document.uri = uri;
        document.version = version;
        document.text = text;
        document.problems = problems;
    }

    /// Closes a document: the project goes back to the file as it is on disk.
    pub fn close(&mut self, path: &Path) -> Option<Document> {
        let document = self.documents.remove(path)?;
        match std::fs::read_to_string(path) {
            Ok(text) => {
                self.put(path, text);
            }
            Err(_) => self.replace(path, None),
        }
        Some(document)
    }

    /// Lowers `text` as the file at `path` and links it into the project; the
    /// problems lowering met.
    fn put(&mut self, path: &Path, text: String) -> Vec<RunError> {
        let lowering = &self.lowering;
        let (file, problems) = self.pool.install(|| lowering.lower(path, text));
        self.replace(path, file);
        problems
            .into_iter()
            .filter(|p| p.kind == ErrorKind::ParseError)
            .collect()
    }

    fn replace(&mut self, path: &Path, file: Option<ProjectFile>) {
        let placeholder = Project::new(Vec::new(), None);
        let mut files = std::mem::replace(&mut self.project, placeholder).into_files();
        files.retain(|f| f.source.path != path);
        files.extend(file);
        files.sort_by(|a, b| a.source.path.cmp(&b.source.path));
        let root = self.lowering.root().map(Path::to_path_buf);
        let (facts, project) = self.pool.install(|| {
            let facts = lint::facts_of(&self.schema, &files);
            (facts, Project::new(files, root.as_deref()))
        });
        self.facts = facts;
        self.project = project;
    }

    /// Runs the rules on an open document and keeps what they found; the
    /// document's diagnostics in the protocol's terms.
    pub fn check(&mut self, path: &Path) -> Option<(Url, Option<i32>, Vec<lsp_types::Diagnostic>)> {
        let index = self
            .project
            .files
            .iter()
            .position(|f| f.source.path == path);
        let run = RuleRun {
            project: &self.project,
            facts: &self.facts,
            schema: &self.schema,
            settings: &self.lowering.settings,
        };
        let mut findings = match index {
            Some(index) => self.pool.install(|| lint::check_file(&run, index).0),
            None => Vec::new(),
        };
        lint::sort_diagnostics(&mut findings);
        let document = self.documents.get_mut(path)?;
        document.findings = findings;
        let lines = LineIndex::new(&document.text);
        let diagnostics = document
            .findings
            .iter()
            .map(|f| convert::diagnostic(f, &document.uri, &lines))
            .chain(
                document
                    .problems
                    .iter()
                    .map(|p| convert::run_error(p, &lines)),
            )
            .collect();
        Some((document.uri.clone(), document.version, diagnostics))
    }

    /// Whether saving this file changes what the whole project is built from:
    /// the schema or the configuration.
    pub fn changes_project(&self, path: &Path) -> bool {
        let text = self.documents.get(path).map(|d| d.text.to_string());
        self.is_project_source(path, text.as_deref())
    }

    fn is_project_source(&self, path: &Path, text: Option<&str>) -> bool {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        name == crate::config::CONFIG_FILE
            || self.config_files.iter().any(|f| f == path)
            || name.ends_with(".prisma")
            || name.ends_with(".sql")
            || text.is_some_and(|text| {
                crate::schema::sources_in_code(&self.root, path, text).is_some()
            })
    }

    /// Files changed on disk outside the editor (created, changed, deleted):
    /// the whole project is loaded again when one is a schema source or the
    /// configuration, else each file that is not open is read again.
    pub fn changed_on_disk(&mut self, paths: &[PathBuf]) -> Option<String> {
        let texts: Vec<(PathBuf, Option<String>)> = paths
            .iter()
            .filter(|path| !self.documents.contains_key(*path))
            .map(|path| (path.clone(), std::fs::read_to_string(path).ok()))
            .collect();
        if texts
            .iter()
            .any(|(path, text)| self.is_project_source(path, text.as_deref()))
        {
            return self.reload();
        }
        for (path, text) in texts {
            match text {
                Some(text) => {
                    self.put(&path, text);
                }
                None => self.replace(&path, None),
            }
        }
        None
    }
}

fn options(root: &Path, configs: &Configs) -> Options {
    Options {
        paths: vec![root.to_path_buf()],
        configs: configs.clone(),
        // The initial load and a reload read unchanged files from the cache;
        // edited buffers are lowered from their text.
        cache: !crate::cache::disabled_by_env(),
        ..Options::default()
    }
}

/// Every `racelint.toml` of the root's project, else the defaults: when one does
/// not load, the defaults for every file, and the message says why.
fn load_configs(root: &Path) -> (Configs, Option<String>) {
    let known: Vec<&str> = lint::all_rule_meta().iter().map(|m| m.id).collect();
    match Configs::for_run(None, &[root.to_path_buf()], &known) {
        Ok(configs) => (configs, None),
        Err(error) => (
            Configs::default(),
            Some(format!(
                "racelint: the configuration is not valid, using the defaults: {error}"
            )),
        ),
    }
}
