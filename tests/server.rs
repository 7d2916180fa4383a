//! `racelint server` end to end: the built binary, spoken to over its stdio as
//! an editor would, on a scratch project with a Prisma schema and racy files.

mod common;

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

const SCHEMA: &str = r#"model Invite {
  id     String @id
  email  String
  teamId String
}

model Project {
  id    String @id
  name  String
  tasks Task[]
}

model Task {
  id        String  @id
  name      String
  projectId String
  project   Project @relation(fields: [projectId], references: [id])
}
"#;

const DB: &str = r#"import { PrismaClient } from "@prisma/client";
export const prisma = new PrismaClient();
"#;

/// A write through the outer client inside a transaction: tx-client-escape,
/// whose fix replaces `prisma` with `tx`.
const RENAME: &str = r#"import { prisma } from "./db";

export async function rename(id: string, name: string) {
  await prisma.$transaction(async (tx) => {
    await tx.project.update({ where: { id }, data: { name } });
    await tx.task.updateMany({ where: { projectId: id }, data: { name } });
    await prisma.task.updateMany({ where: { projectId: id }, data: { name } });
  });
}
"#;

/// The insert of a get-or-create, written in another file.
const SERVICES: &str = r#"import { prisma } from "./db";

export async function createInvite(email: string, teamId: string) {
  return prisma.invite.create({ data: { email, teamId } });
}
"#;

const CALLER: &str = r#"import { prisma } from "./db";
import { createInvite } from "./services";

export async function join(email: string, teamId: string) {
  const existing = await prisma.invite.findFirst({ where: { email, teamId } });
  if (existing) return existing;
  return createInvite(email, teamId);
}
"#;

/// The parent deleted before its children: fk-delete-order, but only while
/// the schema's foreign key does not cascade.
const CLEANUP: &str = r#"import { prisma } from "./db";

export async function cleanup(id: string) {
  await prisma.$transaction(async (tx) => {
    await tx.project.deleteMany({ where: { id } });
    await tx.task.deleteMany({ where: { projectId: id } });
  });
}
"#;

const TIMEOUT: Duration = Duration::from_secs(60);

/// The server process and what it has said.
struct Client {
    child: Child,
    stdin: ChildStdin,
    messages: Receiver<Value>,
    next_id: i64,
}

impl Client {
    /// The server, started in `dir` as an editor may start it anywhere.
    fn start(dir: &Path) -> Client {
        let mut child = Command::new(env!("CARGO_BIN_EXE_racelint"))
            .arg("server")
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("racelint server starts");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (sender, messages) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            while let Some(message) = read_message(&mut reader) {
                if sender.send(message).is_err() {
                    break;
                }
            }
        });
        Client {
            child,
            stdin,
            messages,
            next_id: 1,
        }
    }

    fn send(&mut self, message: Value) {
        let body = message.to_string();
        write!(self.stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
        self.stdin.flush().unwrap();
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({ "jsonrpc": "2.0", "method": method, "params": params }));
    }

    /// Sends a request and waits for its response (notifications meanwhile are
    /// dropped).
    fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }));
        self.wait_for(|m| m["id"] == id && m.get("method").is_none())
    }

    fn wait_for(&mut self, wanted: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let message = self
                .messages
                .recv_timeout(left)
                .expect("the server answers in time");
            if wanted(&message) {
                return message;
            }
        }
    }

    /// The next diagnostics published for `uri`.
    fn diagnostics(&mut self, uri: &str) -> Vec<Value> {
        let published = self.wait_for(|m| {
            m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == uri
        });
        published["params"]["diagnostics"]
            .as_array()
            .cloned()
            .unwrap()
    }

    fn initialize(&mut self, root: &Path) -> Value {
        let root = uri(root);
        let response = self.request(
            "initialize",
            json!({ "processId": null, "rootUri": root, "capabilities": {} }),
        );
        self.notify("initialized", json!({}));
        response
    }

    fn open(&mut self, uri: &str, text: &str) {
        self.notify(
            "textDocument/didOpen",
            json!({ "textDocument": {
                "uri": uri, "languageId": "typescript", "version": 1, "text": text
            }}),
        );
    }

    fn change(&mut self, uri: &str, version: i32, text: &str) {
        self.notify(
            "textDocument/didChange",
            json!({
                "textDocument": { "uri": uri, "version": version },
                "contentChanges": [ { "text": text } ],
            }),
        );
    }

    /// `shutdown` then `exit`; the exit status.
    fn shut_down(mut self) -> std::process::ExitStatus {
        let response = self.request("shutdown", Value::Null);
        assert!(response.get("error").is_none(), "{response}");
        self.notify("exit", Value::Null);
        wait(&mut self.child)
    }
}

fn wait(child: &mut Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "the server did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn read_message(reader: &mut impl BufRead) -> Option<Value> {
    let mut length = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some(value) = line.strip_prefix("Content-Length: ") {
            length = value.parse::<usize>().ok();
        }
    }
    let mut body = vec![0; length?];
    reader.read_exact(&mut body).ok()?;
    serde_json::from_slice(&body).ok()
}

fn uri(path: &Path) -> String {
    let path = path.canonicalize().unwrap();
    format!("file://{}", path.display())
}

fn scratch() -> tempfile::TempDir {
    common::project(&[
        ("prisma/schema.prisma", SCHEMA),
        ("src/db.ts", DB),
        ("src/invite.ts", common::GET_OR_CREATE),
        ("src/rename.ts", RENAME),
        ("src/services.ts", SERVICES),
        ("src/caller.ts", CALLER),
        ("src/cleanup.ts", CLEANUP),
    ])
}

fn codes(diagnostics: &[Value]) -> Vec<&str> {
    diagnostics
        .iter()
        .map(|d| d["code"].as_str().unwrap())
        .collect()
}

/// The 0-based line and UTF-16 character of the first `needle` in `text`.
fn position_of(text: &str, needle: &str) -> (u64, u64) {
    let at = text.find(needle).unwrap();
    let line = text[..at].matches('\n').count();
    let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    (line as u64, text[start..at].encode_utf16().count() as u64)
}

fn range_start(d: &Value) -> (u64, u64) {
    let start = &d["range"]["start"];
    (
        start["line"].as_u64().unwrap(),
        start["character"].as_u64().unwrap(),
    )
}

/// Applies a `WorkspaceEdit`'s edits for one document to its text.
fn apply(text: &str, edit: &Value, uri: &str) -> String {
    let mut edits = edit["changes"][uri].as_array().unwrap().clone();
    let offset = |p: &Value| {
        let line = p["line"].as_u64().unwrap() as usize;
        let character = p["character"].as_u64().unwrap() as usize;
        let start: usize = text.split_inclusive('\n').take(line).map(str::len).sum();
        let mut units = 0;
        for (i, c) in text[start..].char_indices() {
            if units >= character {
                return start + i;
            }
            units += c.len_utf16();
        }
        text.len()
    };
    // Last first, so that earlier offsets stay right.
    edits.sort_by_key(|e| std::cmp::Reverse(offset(&e["range"]["start"])));
    let mut text = text.to_string();
    for e in edits {
        let (start, end) = (offset(&e["range"]["start"]), offset(&e["range"]["end"]));
        text.replace_range(start..end, e["newText"].as_str().unwrap());
    }
    text
}

#[test]
fn diagnostics_fixes_and_ignores_over_the_protocol() {
    let dir = scratch();
    let mut client = Client::start(dir.path());
    let initialized = client.initialize(dir.path());
    let capabilities = &initialized["result"]["capabilities"];
    assert_eq!(capabilities["hoverProvider"], true, "{initialized}");
    assert!(capabilities["codeActionProvider"].is_object());

    // A racy file: the escaped write, with the write's range and the
    // transaction as related information.
    let rename = uri(&dir.path().join("src/rename.ts"));
    client.open(&rename, RENAME);
    let diagnostics = client.diagnostics(&rename);
    let escape = diagnostics
        .iter()
        .find(|d| d["code"] == "tx-client-escape")
        .unwrap_or_else(|| panic!("{diagnostics:?}"));
    let escaped = position_of(RENAME, "prisma.task");
    assert_eq!(range_start(escape), escaped);
    assert_eq!(
        escape["range"]["end"]["character"],
        escaped.1 + "prisma".len() as u64
    );
    assert_eq!(escape["severity"], 1, "errors are severity 1");
    assert_eq!(escape["source"], "racelint");
    let related = escape["relatedInformation"].as_array().unwrap();
    assert!(!related.is_empty());
    assert!(related
        .iter()
        .all(|r| r["location"]["uri"] == rename.as_str()));

    // Hover on the finding shows the rule's documentation.
    let hover = client.request(
        "textDocument/hover",
        json!({ "textDocument": { "uri": rename }, "position": { "line": escaped.0, "character": escaped.1 + 2 } }),
    );
    let shown = hover["result"]["contents"]["value"].as_str().unwrap();
    let doc = common::stdout(&common::racelint(
        dir.path(),
        &["explain", "tx-client-escape"],
    ));
    assert!(shown.contains(doc.trim()), "{shown}");
    let elsewhere = client.request(
        "textDocument/hover",
        json!({ "textDocument": { "uri": rename }, "position": { "line": 0, "character": 0 } }),
    );
    assert!(elsewhere["result"].is_null(), "{elsewhere}");

    // Code actions: the fix and the ignore comment.
    let actions = client.request(
        "textDocument/codeAction",
        json!({
            "textDocument": { "uri": rename },
            "range": escape["range"],
            "context": { "diagnostics": [escape] },
        }),
    );
    let actions = actions["result"].as_array().unwrap().clone();
    let fix = actions
        .iter()
        .find(|a| {
            a["title"]
                .as_str()
                .unwrap()
                .starts_with("Fix tx-client-escape")
        })
        .unwrap_or_else(|| panic!("{actions:?}"));
    assert_eq!(fix["kind"], "quickfix");
    let ignore = actions
        .iter()
        .find(|a| {
            a["title"].as_str().unwrap().contains("Ignore")
                && a["diagnostics"][0]["code"] == "tx-client-escape"
        })
        .unwrap();

    // The ignore comment, in TypeScript's syntax, indented as the line.
    let ignored = apply(RENAME, &ignore["edit"], &rename);
    assert!(
        ignored.contains(
            "    // racelint-ignore tx-client-escape: <reason>\n    await prisma.task.updateMany"
        ),
        "{ignored}"
    );

    // Applying the fix: the escape is gone from the next diagnostics.
    let fixed = apply(RENAME, &fix["edit"], &rename);
    assert!(fixed.contains(
        "await tx.task.updateMany({ where: { projectId: id }, data: { name } });\n  });"
    ));
    client.change(&rename, 2, &fixed);
    let after = client.diagnostics(&rename);
    assert!(!codes(&after).contains(&"tx-client-escape"), "{after:?}");

    // And the suppression, with its placeholder reason, quiets it too.
    client.change(&rename, 3, &ignored);
    let after = client.diagnostics(&rename);
    assert!(!codes(&after).contains(&"tx-client-escape"), "{after:?}");
    assert!(!codes(&after).contains(&"unused-suppression"), "{after:?}");

    assert!(client.shut_down().success());
}

#[test]
fn edits_make_a_file_racy_and_quiet_from_the_buffer_not_the_disk() {
    let dir = scratch();
    let mut client = Client::start(dir.path());
    client.initialize(dir.path());
    let invite = uri(&dir.path().join("src/invite.ts"));

    // The upsert is atomic: nothing to say.
    client.open(&invite, common::UPSERT);
    assert_eq!(client.diagnostics(&invite), Vec::<Value>::new());

    // Typed into the buffer (the disk still holds the same racy file, unread):
    // the get-or-create, found on the insert.
    client.change(&invite, 2, common::GET_OR_CREATE);
    let racy = client.diagnostics(&invite);
    assert_eq!(codes(&racy), ["check-then-act"], "{racy:?}");
    assert_eq!(
        range_start(&racy[0]),
        position_of(common::GET_OR_CREATE, "create({")
    );
    let related = racy[0]["relatedInformation"].as_array().unwrap();
    let check = position_of(common::GET_OR_CREATE, "prisma.invite.findFirst");
    assert!(
        related
            .iter()
            .any(|r| r["location"]["range"]["start"]["line"] == check.0),
        "{related:?}"
    );

    // Back to the upsert: quiet again.
    client.change(&invite, 3, common::UPSERT);
    assert_eq!(client.diagnostics(&invite), Vec::<Value>::new());

    // A suppression left over suppresses nothing: its fix removes it, and it
    // is not offered an ignore comment of its own.
    let stale = common::UPSERT.replace(
        "  return prisma.invite.upsert",
        "  // racelint-ignore check-then-act: was a get-or-create\n  return prisma.invite.upsert",
    );
    client.change(&invite, 4, &stale);
    let unused = client.diagnostics(&invite);
    assert_eq!(codes(&unused), ["unused-suppression"], "{unused:?}");
    let actions = client.request(
        "textDocument/codeAction",
        json!({
            "textDocument": { "uri": invite },
            "range": unused[0]["range"],
            "context": { "diagnostics": unused },
        }),
    );
    let titles: Vec<&str> = actions["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Fix unused-suppression"], "{actions}");
    let removed = apply(&stale, &actions["result"][0]["edit"], &invite);
    client.change(&invite, 5, &removed);
    assert_eq!(client.diagnostics(&invite), Vec::<Value>::new());
    assert!(client.shut_down().success());
}

#[test]
fn findings_use_the_other_files_of_the_project() {
    let dir = scratch();
    let mut client = Client::start(dir.path());
    client.initialize(dir.path());

    // The insert of this race is in services.ts, which is not open.
    let caller = uri(&dir.path().join("src/caller.ts"));
    client.open(&caller, CALLER);
    let found = client.diagnostics(&caller);
    assert_eq!(codes(&found), ["check-then-act"], "{found:?}");
    assert_eq!(
        range_start(&found[0]),
        position_of(CALLER, "createInvite(email")
    );

    // Once the helper's buffer upserts instead, and is saved, the caller is
    // checked again and is quiet.
    let services = uri(&dir.path().join("src/services.ts"));
    let upserting = SERVICES.replace(
        "prisma.invite.create({ data: { email, teamId } })",
        "prisma.invite.upsert({ where: { email_teamId: { email, teamId } }, create: { email, teamId }, update: {} })",
    );
    client.open(&services, SERVICES);
    client.diagnostics(&services);
    client.change(&services, 2, &upserting);
    client.diagnostics(&services);
    client.notify(
        "textDocument/didSave",
        json!({ "textDocument": { "uri": services } }),
    );
    assert_eq!(client.diagnostics(&caller), Vec::<Value>::new());
    assert!(client.shut_down().success());
}

#[test]
fn a_schema_changed_on_disk_is_read_again() {
    let dir = scratch();
    let mut client = Client::start(dir.path());
    client.initialize(dir.path());
    let cleanup = uri(&dir.path().join("src/cleanup.ts"));
    client.open(&cleanup, CLEANUP);
    let found = client.diagnostics(&cleanup);
    assert_eq!(codes(&found), ["fk-delete-order"], "{found:?}");
    assert_eq!(
        range_start(&found[0]),
        position_of(CLEANUP, "deleteMany({ where: { projectId")
    );

    // The relation cascades now, written by another program.
    let schema = dir.path().join("prisma/schema.prisma");
    std::fs::write(
        &schema,
        SCHEMA.replace("references: [id])", "references: [id], onDelete: Cascade)"),
    )
    .unwrap();
    client.notify(
        "workspace/didChangeWatchedFiles",
        json!({ "changes": [ { "uri": uri(&schema), "type": 2 } ] }),
    );
    assert_eq!(client.diagnostics(&cleanup), Vec::<Value>::new());
    assert!(client.shut_down().success());
}

#[test]
fn a_folder_without_git_or_config_is_its_own_project() {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in [
        ("prisma/schema.prisma", SCHEMA),
        ("src/db.ts", DB),
        ("src/cleanup.ts", CLEANUP),
    ] {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    // Started elsewhere: the schema still comes from the opened folder.
    let mut client = Client::start(Path::new("/"));
    client.initialize(dir.path());
    let cleanup = uri(&dir.path().join("src/cleanup.ts"));
    client.open(&cleanup, CLEANUP);
    let found = client.diagnostics(&cleanup);
    assert_eq!(codes(&found), ["fk-delete-order"], "{found:?}");
    assert!(client.shut_down().success());
}

#[test]
fn bad_input_gets_errors_not_a_crash() {
    let dir = scratch();
    let mut client = Client::start(dir.path());
    client.initialize(dir.path());

    // Unknown documents, unknown schemes, unknown methods, bad parameters.
    let hover = client.request(
        "textDocument/hover",
        json!({ "textDocument": { "uri": "untitled:Untitled-1" }, "position": { "line": 0, "character": 0 } }),
    );
    assert!(hover["result"].is_null(), "{hover}");
    let nowhere = uri(dir.path()) + "/missing.ts";
    let actions = client.request(
        "textDocument/codeAction",
        json!({
            "textDocument": { "uri": nowhere },
            "range": { "start": { "line": 99, "character": 0 }, "end": { "line": 99, "character": 5 } },
            "context": { "diagnostics": [] },
        }),
    );
    assert!(actions["result"].is_null(), "{actions}");
    let unknown = client.request("racelint/nothing", json!({}));
    assert_eq!(unknown["error"]["code"], -32601, "{unknown}");
    let invalid = client.request("textDocument/hover", json!({ "position": "here" }));
    assert_eq!(invalid["error"]["code"], -32602, "{invalid}");
    client.notify("textDocument/didOpen", json!({ "textDocument": 7 }));
    client.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": nowhere, "version": 2 }, "contentChanges": [ { "text": "x" } ] }),
    );

    // A new document, not on disk, that does not parse; positions past its end.
    let broken = uri(dir.path()) + "/src/broken.ts";
    client.open(
        &broken,
        "export async function f( {{{ prisma.invite.create(",
    );
    let diagnostics = client.diagnostics(&broken);
    assert!(diagnostics.iter().all(|d| d["code"] != "tx-client-escape"));
    let far = client.request(
        "textDocument/codeAction",
        json!({
            "textDocument": { "uri": broken },
            "range": { "start": { "line": 500, "character": 9 }, "end": { "line": 900, "character": 0 } },
            "context": { "diagnostics": [] },
        }),
    );
    assert!(far["result"].is_array(), "{far}");
    client.notify(
        "textDocument/didChange",
        json!({
            "textDocument": { "uri": broken, "version": 2 },
            "contentChanges": [ { "range": { "start": { "line": 40, "character": 3 }, "end": { "line": 2, "character": 0 } }, "text": "é" } ],
        }),
    );
    client.diagnostics(&broken);
    client.notify(
        "textDocument/didClose",
        json!({ "textDocument": { "uri": broken } }),
    );
    assert_eq!(client.diagnostics(&broken), Vec::<Value>::new());

    // Still serving.
    let rename = uri(&dir.path().join("src/rename.ts"));
    client.open(&rename, RENAME);
    assert!(codes(&client.diagnostics(&rename)).contains(&"tx-client-escape"));
    assert!(client.shut_down().success());
}

#[test]
fn exit_without_shutdown_is_status_one_and_a_closed_pipe_ends_the_server() {
    let dir = scratch();
    let mut client = Client::start(dir.path());
    client.initialize(dir.path());
    client.notify("exit", Value::Null);
    assert_eq!(wait(&mut client.child).code(), Some(1));

    // The editor goes away without a word.
    let mut client = Client::start(dir.path());
    client.initialize(dir.path());
    let Client {
        mut child, stdin, ..
    } = client;
    drop(stdin);
    assert!(wait(&mut child).code().is_some());

    // A client that never sends `initialized` is served all the same.
    let mut client = Client::start(dir.path());
    client.request(
        "initialize",
        json!({ "processId": null, "rootUri": uri(dir.path()), "capabilities": {} }),
    );
    let rename = uri(&dir.path().join("src/rename.ts"));
    client.open(&rename, RENAME);
    assert!(codes(&client.diagnostics(&rename)).contains(&"tx-client-escape"));
    assert!(client.shut_down().success());

    // Garbage before initialize.
    let mut child = Command::new(env!("CARGO_BIN_EXE_racelint"))
        .arg("server")
        .current_dir(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"Content-Length: 5\r\n\r\n{{{{{").unwrap();
    drop(stdin);
    assert_eq!(wait(&mut child).code(), Some(2));
}

#[test]
fn each_file_uses_its_nearest_config() {
    let dir = common::project(&[
        (
            "apps/web/racelint.toml",
            "[rules]\ncheck-then-act = \"info\"\n",
        ),
        ("apps/web/src/invite.ts", common::GET_OR_CREATE),
        ("apps/api/src/invite.ts", common::GET_OR_CREATE),
    ]);
    let mut client = Client::start(dir.path());
    client.initialize(dir.path());
    let severity = |client: &mut Client, app: &str| {
        let file = uri(&dir.path().join(app).join("src/invite.ts"));
        client.open(&file, common::GET_OR_CREATE);
        let found = client.diagnostics(&file);
        assert_eq!(codes(&found), ["check-then-act"], "{found:?}");
        found[0]["severity"].as_u64()
    };
    assert_eq!(severity(&mut client, "apps/web"), Some(3), "information");
    assert_eq!(severity(&mut client, "apps/api"), Some(1), "error");
    assert!(client.shut_down().success());
}
