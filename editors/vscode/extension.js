// The racelint extension: starts `racelint server` (the binary named by the
// `racelint.path` setting) for the files racelint reads, and restarts it when
// that setting changes or on the "racelint: Restart the server" command.

const os = require("os");
const path = require("path");
const vscode = require("vscode");
const { LanguageClient } = require("vscode-languageclient/node");

let client;

/** The binary to run: `racelint.path`, with `~` and `${workspaceFolder}` expanded. */
function binary() {
  const configured = vscode.workspace.getConfiguration("racelint").get("path") || "racelint";
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? "";
  let expanded = configured.replace(/\$\{workspaceFolder\}/g, folder);
  if (expanded === "~" || expanded.startsWith("~/")) {
    expanded = path.join(os.homedir(), expanded.slice(1));
  }
  return expanded;
}

async function start(context) {
  const command = binary();
  const server = { command, args: ["server"] };
  client = new LanguageClient(
    "racelint",
    "racelint",
    { run: server, debug: server },
    {
      documentSelector: [
        "typescript",
        "typescriptreact",
        "javascript",
        "javascriptreact",
        "rust",
        "sql",
        "python",
      ].map((language) => ({ scheme: "file", language })),
      synchronize: {
        // Schema sources and configuration changed outside the editor.
        fileEvents: vscode.workspace.createFileSystemWatcher("**/{*.prisma,*.sql,racelint.toml}"),
      },
    },
  );
  try {
    await client.start();
  } catch (error) {
    vscode.window.showErrorMessage(
      `racelint: cannot start \`${command} server\` (set racelint.path): ${error.message ?? error}`,
    );
  }
  context.subscriptions.push(client);
}

async function restart(context) {
  if (client) {
    await client.stop().catch(() => {});
    client = undefined;
  }
  await start(context);
}

function activate(context) {
  context.subscriptions.push(
    vscode.commands.registerCommand("racelint.restart", () => restart(context)),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration("racelint.path")) {
        restart(context);
      }
    }),
  );
  return start(context);
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
