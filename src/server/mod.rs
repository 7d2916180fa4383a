//! `racelint server`: the Language Server Protocol over a connection (stdio for
//! the command), on `lsp-server` and `lsp-types` as rust-analyzer uses them.
//!
//! The loop is single-threaded; the rules run on the workspace's worker pool
//! (whose deep stacks the parsers need). Edits are coalesced: a document that
//! changed is checked once no message is waiting, or before a request about it
//! is answered, so fast typing does not queue a check per keystroke. A message
//! that cannot be read, names an unknown document or makes a handler fail gets
//! an error reply or is dropped, never a crash.

mod actions;
mod convert;
mod hover;
mod state;

use lsp_server::{Connection, ErrorCode, Message, Notification, Request, RequestId, Response};
use lsp_types::notification::{
    DidChangeTextDocument, DidChangeWatchedFiles, DidCloseTextDocument, DidOpenTextDocument,
    DidSaveTextDocument, Notification as _, PublishDiagnostics, ShowMessage,
};
use lsp_types::request::{CodeActionRequest, HoverRequest, Request as _};
use lsp_types::{
    CodeActionKind, CodeActionOptions, CodeActionProviderCapability, HoverProviderCapability,
    InitializeParams, MessageType, PublishDiagnosticsParams, SaveOptions, ServerCapabilities,
    ServerInfo, ShowMessageParams, TextDocumentSyncCapability, TextDocumentSyncKind,
    TextDocumentSyncOptions, TextDocumentSyncSaveOptions, Url,
};
use state::Workspace;
use std::collections::BTreeSet;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};

/// Serves one client until it says `exit` or the connection closes; whether it
/// asked for `shutdown` first, as the protocol wants.
pub fn serve(connection: &Connection) -> Result<bool, String> {
    let (id, params) = connection
        .initialize_start()
        .map_err(|e| format!("before initialize: {e}"))?;
    let params: InitializeParams = match serde_json::from_value(params) {
        Ok(params) => params,
        Err(e) => {
            let _ = connection.sender.send(
                Response::new_err(
                    id,
                    ErrorCode::InvalidParams as i32,
                    format!("invalid initialize parameters: {e}"),
                )
                .into(),
            );
            return Err(format!("invalid initialize parameters: {e}"));
        }
    };
    let result = lsp_types::InitializeResult {
        capabilities: capabilities(),
        server_info: Some(ServerInfo {
            name: "racelint".to_string(),
            version: Some(env!("CARGO_PKG_VERSION").to_string()),
        }),
    };
    let result = serde_json::to_value(result).map_err(|e| e.to_string())?;
    // Not `initialize_finish`, which fails on a client that skips the
    // `initialized` notification; the loop ignores it when it comes.
    connection
        .sender
        .send(Response::new_ok(id, result).into())
        .map_err(|e| format!("initialize: {e}"))?;
    let root = workspace_root(&params);
    // Paths are shown relative to the project root, and whatever the stages
    // fall back to when no `.git` is found is the root, not where the editor
    // happened to start the server.
    if let Err(e) = std::env::set_current_dir(&root) {
        eprintln!("racelint server: cannot enter {}: {e}", root.display());
    }
    let mut server = Server {
        connection,
        workspace: None,
        dirty: BTreeSet::new(),
    };
    match Workspace::load(&root) {
        Ok((workspace, warning)) => {
            server.workspace = Some(workspace);
            if let Some(warning) = warning {
                server.show(MessageType::WARNING, warning);
            }
        }
        Err(e) => server.show(
            MessageType::ERROR,
            format!("racelint: cannot load {}: {e}", root.display()),
        ),
    }
    server.run()
}

fn capabilities() -> ServerCapabilities {
    ServerCapabilities {
        text_document_sync: Some(TextDocumentSyncCapability::Options(
            TextDocumentSyncOptions {
                open_close: Some(true),
                change: Some(TextDocumentSyncKind::INCREMENTAL),
                save: Some(TextDocumentSyncSaveOptions::SaveOptions(SaveOptions {
                    include_text: Some(false),
                })),
                ..TextDocumentSyncOptions::default()
            },
        )),
        code_action_provider: Some(CodeActionProviderCapability::Options(CodeActionOptions {
            code_action_kinds: Some(vec![CodeActionKind::QUICKFIX]),
            ..CodeActionOptions::default()
        })),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        ..ServerCapabilities::default()
    }
}

/// The folder the client opened: the first workspace folder, else `rootUri`,
/// else `rootPath`, else the current folder; then its project root (the
/// nearest folder with `.git` or `racelint.toml`), else that folder itself.
#[allow(deprecated)] // rootUri and rootPath are what older clients send.
fn workspace_root(params: &InitializeParams) -> PathBuf {
    let folder = params
        .workspace_folders
        .as_ref()
        .and_then(|folders| folders.iter().find_map(|f| convert::path_of(&f.uri)))
        .or_else(|| params.root_uri.as_ref().and_then(convert::path_of))
        .or_else(|| params.root_path.as_ref().map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("."));
    let folder = crate::discover::absolute(&folder);
    folder
        .ancestors()
        .find(|dir| dir.join(".git").exists() || dir.join("racelint.toml").exists())
        .map_or_else(|| folder.clone(), Path::to_path_buf)
}

struct Server<'a> {
    connection: &'a Connection,
    /// `None` when the project could not be loaded: requests get empty answers.
    workspace: Option<Workspace>,
    /// Documents changed since they were last checked.
    dirty: BTreeSet<PathBuf>,
}

impl Server<'_> {
    fn run(&mut self) -> Result<bool, String> {
        while let Ok(message) = self.connection.receiver.recv() {
            match message {
                Message::Request(request) => {
                    if self
                        .connection
                        .handle_shutdown(&request)
                        .map_err(|e| e.to_string())?
                    {
                        return Ok(true);
                    }
                    let id = request.id.clone();
                    let response =
                        std::panic::catch_unwind(AssertUnwindSafe(|| self.request(request)))
                            .unwrap_or_else(|_| {
                                Response::new_err(
                                    id,
                                    ErrorCode::InternalError as i32,
                                    "racelint failed on this request".to_string(),
                                )
                            });
                    self.send(response.into());
                }
                Message::Notification(notification) => {
                    if notification.method == lsp_types::notification::Exit::METHOD {
                        return Ok(false);
                    }
                    let method = notification.method.clone();
                    if std::panic::catch_unwind(AssertUnwindSafe(|| {
                        self.notification(notification)
                    }))
                    .is_err()
                    {
                        self.show(
                            MessageType::ERROR,
                            format!("racelint failed on {method}; the document's diagnostics may be stale"),
                        );
                    }
                }
                Message::Response(_) => {}
            }
            if self.connection.receiver.is_empty() {
                self.check_dirty();
            }
        }
        Ok(false)
    }

    fn request(&mut self, request: Request) -> Response {
        let id = request.id.clone();
        match request.method.as_str() {
            CodeActionRequest::METHOD => {
                self.answer::<CodeActionRequest>(id, request, |server, params| {
                    let path = server.known(&params.text_document.uri)?;
                    let document = server.workspace.as_ref()?.documents.get(&path)?;
                    Some(actions::for_range(&path, document, params.range))
                })
            }
            HoverRequest::METHOD => self.answer::<HoverRequest>(id, request, |server, params| {
                let at = params.text_document_position_params;
                let path = server.known(&at.text_document.uri)?;
                let document = server.workspace.as_ref()?.documents.get(&path)?;
                hover::at(document, at.position)
            }),
            method => Response::new_err(
                id,
                ErrorCode::MethodNotFound as i32,
                format!("racelint does not answer {method}"),
            ),
        }
    }

    /// Decodes a request's parameters, brings its document up to date and
    /// answers with what `handle` gives (`null` for `None`).
    fn answer<R: lsp_types::request::Request>(
        &mut self,
        id: RequestId,
        request: Request,
        handle: impl FnOnce(&mut Self, R::Params) -> R::Result,
    ) -> Response {
        match serde_json::from_value::<R::Params>(request.params) {
            Ok(params) => {
                self.check_dirty();
                Response::new_ok(id, handle(self, params))
            }
            Err(e) => Response::new_err(
                id,
                ErrorCode::InvalidParams as i32,
                format!("invalid {} parameters: {e}", R::METHOD),
            ),
        }
    }

    fn notification(&mut self, notification: Notification) {
        match notification.method.as_str() {
            DidOpenTextDocument::METHOD => {
                if let Some(params) = decode::<DidOpenTextDocument>(notification) {
                    let document = params.text_document;
                    self.edit(document.uri, Some(document.version), document.text);
                }
            }
            DidChangeTextDocument::METHOD => {
                if let Some(params) = decode::<DidChangeTextDocument>(notification) {
                    let document = params.text_document;
                    let Some(text) = self.text_of(&document.uri) else {
                        return;
                    };
                    let text = params
                        .content_changes
                        .into_iter()
                        .fold(text, convert::apply_change);
                    self.edit(document.uri, Some(document.version), text);
                }
            }
            DidSaveTextDocument::METHOD => {
                if let Some(params) = decode::<DidSaveTextDocument>(notification) {
                    self.saved(&params.text_document.uri);
                }
            }
            DidCloseTextDocument::METHOD => {
                if let Some(params) = decode::<DidCloseTextDocument>(notification) {
                    self.close(params.text_document.uri);
                }
            }
            DidChangeWatchedFiles::METHOD => {
                if let Some(params) = decode::<DidChangeWatchedFiles>(notification) {
                    let paths: Vec<PathBuf> = params
                        .changes
                        .iter()
                        .filter_map(|change| convert::path_of(&change.uri))
                        .map(|path| Workspace::key(&path))
                        .collect();
                    self.changed_on_disk(&paths);
                }
            }
            _ => {}
        }
    }

    fn changed_on_disk(&mut self, paths: &[PathBuf]) {
        let Some(workspace) = self.workspace.as_mut() else {
            return;
        };
        if let Some(warning) = workspace.changed_on_disk(paths) {
            self.show(MessageType::WARNING, warning);
        }
        if let Some(workspace) = self.workspace.as_ref() {
            self.dirty.extend(workspace.documents.keys().cloned());
        }
    }

    fn edit(&mut self, uri: Url, version: Option<i32>, text: String) {
        let Some(path) = convert::path_of(&uri) else {
            return;
        };
        let Some(workspace) = self.workspace.as_mut() else {
            return;
        };
        let path = Workspace::key(&path);
        workspace.edit(path.clone(), uri, version, text);
        self.dirty.insert(path);
    }

    /// A saved file may change other open files' findings (they call into it,
    /// or it is the schema): every open document is checked again.
    fn saved(&mut self, uri: &Url) {
        let Some(path) = self.known(uri) else {
            return;
        };
        let Some(workspace) = self.workspace.as_mut() else {
            return;
        };
        if workspace.changes_project(&path) {
            if let Some(warning) = workspace.reload() {
                self.show(MessageType::WARNING, warning);
            }
        }
        if let Some(workspace) = self.workspace.as_ref() {
            self.dirty.extend(workspace.documents.keys().cloned());
        }
    }

    fn close(&mut self, uri: Url) {
        let Some(path) = self.known(&uri) else {
            return;
        };
        self.dirty.remove(&path);
        let closed = self.workspace.as_mut().and_then(|w| w.close(&path));
        if closed.is_some() {
            self.publish(uri, None, Vec::new());
        }
    }

    /// The text of an open document, as the editor last sent it.
    fn text_of(&self, uri: &Url) -> Option<String> {
        let path = self.known(uri)?;
        let document = self.workspace.as_ref()?.documents.get(&path)?;
        Some(document.text.to_string())
    }

    /// The path of a document the workspace has open.
    fn known(&self, uri: &Url) -> Option<PathBuf> {
        let path = Workspace::key(&convert::path_of(uri)?);
        self.workspace
            .as_ref()?
            .documents
            .contains_key(&path)
            .then_some(path)
    }

    fn check_dirty(&mut self) {
        for path in std::mem::take(&mut self.dirty) {
            self.check(&path);
        }
    }

    fn check(&mut self, path: &Path) {
        let checked = self.workspace.as_mut().and_then(|w| w.check(path));
        if let Some((uri, version, diagnostics)) = checked {
            self.publish(uri, version, diagnostics);
        }
    }

    fn publish(&self, uri: Url, version: Option<i32>, diagnostics: Vec<lsp_types::Diagnostic>) {
        let params = PublishDiagnosticsParams {
            uri,
            diagnostics,
            version,
        };
        self.send(Notification::new(PublishDiagnostics::METHOD.to_string(), params).into());
    }

    fn show(&self, typ: MessageType, message: String) {
        let params = ShowMessageParams { typ, message };
        self.send(Notification::new(ShowMessage::METHOD.to_string(), params).into());
    }

    fn send(&self, message: Message) {
        // The writer is gone only when the client is: the loop ends on its own.
        let _ = self.connection.sender.send(message);
    }
}

fn decode<N: lsp_types::notification::Notification>(
    notification: Notification,
) -> Option<N::Params> {
    serde_json::from_value(notification.params).ok()
}
