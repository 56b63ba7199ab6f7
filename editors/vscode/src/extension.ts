import { promises as fsp } from "fs";
import * as path from "path";
import * as vscode from "vscode";
import {
  DidChangeConfigurationNotification,
  LSPErrorCodes,
  Executable,
  LanguageClient,
  LanguageClientOptions,
  ResponseError,
  State,
  WorkspaceEdit as ProtocolWorkspaceEdit,
} from "vscode-languageclient/node";
import * as rq from "./requests";

const SECTION = "repoctx";
/** Settings whose change needs a new server process. */
const RESTART_KEYS = ["serverCommand", "pythonPath"];

let output: vscode.LogOutputChannel;
let client: LanguageClient | undefined;
let clientFolder: vscode.WorkspaceFolder | undefined;
let starting: Promise<LanguageClient> | undefined;
let statusBar: ContextStatusBar | undefined;
let refusals: vscode.DiagnosticCollection | undefined;
let proposed: ProposedTexts | undefined;

function readSettings(scope?: vscode.Uri): rq.Settings & { statusBar: boolean; debugLastResultFile: string | null } {
  const c = vscode.workspace.getConfiguration(SECTION, scope);
  return {
    serverCommand: c.get<string[] | null>("serverCommand", null),
    pythonPath: c.get<string | null>("pythonPath", null),
    budget: c.get<number | null>("budget", null),
    encoding: c.get<string | null>("encoding", null),
    format: c.get<string | null>("format", null),
    include: c.get<string[] | null>("include", null),
    exclude: c.get<string[] | null>("exclude", null),
    lineNumbers: c.get<boolean | null>("lineNumbers", null),
    statusBar: c.get<boolean>("statusBar", true),
    debugLastResultFile: c.get<string | null>("debugLastResultFile", null),
  };
}

function log(msg: string): void {
  output?.info(msg);
}

function errorMessage(e: unknown): string {
  if (e instanceof ResponseError) return `${e.message} (${e.code})`;
  if (e instanceof Error) return e.message;
  return String(e);
}

function isCancelled(e: unknown): boolean {
  return (
    e instanceof ResponseError &&
    (e.code === LSPErrorCodes.RequestCancelled || e.code === LSPErrorCodes.ServerCancelled)
  ) || (e instanceof vscode.CancellationError);
}

/** The workspace folder the server serves: the active file's folder, else the first folder. */
function pickFolder(): vscode.WorkspaceFolder | undefined {
  const uri = vscode.window.activeTextEditor?.document.uri;
  const own = uri ? vscode.workspace.getWorkspaceFolder(uri) : undefined;
  return own ?? vscode.workspace.workspaceFolders?.[0];
}

function globEscape(p: string): string {
  return p.replace(/[\\*?[\]{}]/g, (ch) => `[${ch}]`);
}

function createClient(folder: vscode.WorkspaceFolder): LanguageClient {
  const settings = readSettings(folder.uri);
  const { command, args } = rq.serverCommand(settings);
  log(`starting server: ${[command, ...args].join(" ")} (cwd ${folder.uri.fsPath})`);
  // No `transport`: the client then speaks over stdio without appending `--stdio` to the arguments.
  const serverOptions: Executable = { command, args, options: { cwd: folder.uri.fsPath, env: process.env } };
  const folderGlob = globEscape(folder.uri.fsPath.replace(/\\/g, "/").replace(/\/$/, ""));
  const clientOptions: LanguageClientOptions = {
    documentSelector: [{ scheme: "file", pattern: `${folderGlob}/**/*` }],
    workspaceFolder: folder,
    outputChannel: output,
    initializationOptions: () => rq.initializationOptions(readSettings(folder.uri)),
    synchronize: { configurationSection: SECTION },
    middleware: {
      workspace: {
        // Send exactly the server's keys (not serverCommand, pythonPath, …), unset ones left out.
        didChangeConfiguration: async () => {
          await self.sendNotification(
            DidChangeConfigurationNotification.type,
            rq.didChangeConfigurationParams(readSettings(folder.uri)),
          );
        },
      },
    },
  };
  const self = new LanguageClient("repoctx", "repoctx", serverOptions, clientOptions);
  return self;
}

/** The running client, started on first use. */
async function getClient(): Promise<LanguageClient> {
  if (client && client.state === State.Running) return client;
  if (starting) return starting;
  const folder = pickFolder();
  if (!folder) throw new Error("open a folder (a repository) first");
  starting = (async () => {
    const c = client ?? createClient(folder);
    client = c;
    clientFolder = folder;
    try {
      await c.start();
    } catch (e) {
      client = undefined;
      clientFolder = undefined;
      try {
        await c.dispose();
      } catch {
        /* already stopped */
      }
      const { command, args } = rq.serverCommand(readSettings(folder.uri));
      throw new Error(
        `could not start the server (${[command, ...args].join(" ")}): ${errorMessage(e)}. ` +
          `Set "repoctx.pythonPath" or "repoctx.serverCommand".`,
      );
    }
    statusBar?.schedule(0);
    return c;
  })();
  try {
    return await starting;
  } finally {
    starting = undefined;
  }
}

async function stopClient(): Promise<void> {
  const c = client;
  client = undefined;
  clientFolder = undefined;
  if (c) {
    try {
      await c.stop(5000);
    } catch (e) {
      log(`stop: ${errorMessage(e)}`);
    }
    try {
      await c.dispose();
    } catch {
      /* stopped */
    }
  }
}

/** For tests: the last command's params and result as JSON, atomically, to `repoctx.debugLastResultFile`. */
async function record(command: string, params: unknown, result: unknown, error?: string): Promise<void> {
  const file = readSettings(clientFolder?.uri).debugLastResultFile;
  if (!file) return;
  const body = JSON.stringify({ command, params, result: result ?? null, error: error ?? null, time: Date.now() }, null, 2);
  try {
    await fsp.mkdir(path.dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    await fsp.writeFile(tmp, body, "utf8");
    await fsp.rename(tmp, file);
  } catch (e) {
    log(`could not write ${file}: ${errorMessage(e)}`);
  }
}

async function reportError(command: string, params: unknown, e: unknown): Promise<void> {
  if (isCancelled(e)) return;
  const msg = errorMessage(e);
  log(`${command} failed: ${msg}`);
  await record(command, params, null, msg);
  void vscode.window.showErrorMessage(`repoctx: ${msg}`);
}

/** "repoctx: Copy Context for Selection". */
async function copyContext(): Promise<void> {
  const editor = vscode.window.activeTextEditor;
  if (!editor) {
    void vscode.window.showWarningMessage("repoctx: open a file and select the code to edit first.");
    return;
  }
  const settings = readSettings(editor.document.uri);
  const params = rq.contextParams(editor.document.uri.toString(), editor.selection, { lineNumbers: settings.lineNumbers });
  try {
    const c = await getClient();
    const r = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Window, title: "repoctx: building context…", cancellable: true },
      (_p, token) => c.sendRequest<rq.ContextResult>(rq.METHODS.context, params, token),
    );
    await vscode.env.clipboard.writeText(r.text);
    const summary = rq.resultSummary("copied context", r);
    log(summary);
    await record(rq.EXTENSION_COMMANDS.copyContext, params, r);
    statusBar?.show(r, editor.document.uri);
    void vscode.window.showInformationMessage(`repoctx: ${summary}`);
  } catch (e) {
    await reportError(rq.EXTENSION_COMMANDS.copyContext, params, e);
  }
}

/** "repoctx: Pack Repository to File…". */
async function packToFile(): Promise<void> {
  let params: rq.PackParams = {};
  try {
    const folder = clientFolder ?? pickFolder();
    if (!folder) throw new Error("open a folder (a repository) first");
    const query = await vscode.window.showInputBox({
      title: "repoctx: Pack Repository to File",
      prompt: "Query (optional): what the change is about. Leave empty to pack by centrality.",
      placeHolder: "e.g. retry failed uploads with backoff",
      ignoreFocusOut: true,
    });
    if (query === undefined) return;
    const settings = readSettings(folder.uri);
    const ext = rq.extensionForFormat(settings.format);
    const target = await vscode.window.showSaveDialog({
      title: "repoctx: save the pack as",
      defaultUri: vscode.Uri.joinPath(folder.uri, `repoctx-pack.${ext}`),
      saveLabel: "Pack",
      filters: { "Pack (XML)": ["xml"], Markdown: ["md"], "Plain text": ["txt"], "All files": ["*"] },
    });
    if (!target) return;
    params = rq.packParams({ query, format: rq.formatForPath(target.path) });
    const c = await getClient();
    const r = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: "repoctx: packing the repository…", cancellable: true },
      (_p, token) => c.sendRequest<rq.PackResult>(rq.METHODS.pack, params, token),
    );
    await vscode.workspace.fs.writeFile(target, Buffer.from(r.text, "utf8"));
    const summary = rq.resultSummary(`wrote ${path.basename(target.fsPath)}`, r);
    log(`${summary} (${target.fsPath})`);
    await record(rq.EXTENSION_COMMANDS.packToFile, { ...params, target: target.toString() }, r);
    const open = await vscode.window.showInformationMessage(`repoctx: ${summary}`, "Open");
    if (open === "Open") await vscode.window.showTextDocument(target);
  } catch (e) {
    await reportError(rq.EXTENSION_COMMANDS.packToFile, params, e);
  }
}

/** "repoctx: Show Repository Map": an untitled document, focused on the active file if any. */
async function showMap(): Promise<void> {
  const uri = vscode.window.activeTextEditor?.document.uri;
  let params: rq.MapParams = {};
  try {
    const c = await getClient();
    const inFolder =
      uri && uri.scheme === "file" && clientFolder && vscode.workspace.getWorkspaceFolder(uri)?.uri.toString() === clientFolder.uri.toString();
    params = rq.mapParams({ focus: inFolder ? uri.toString() : undefined });
    const r = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Window, title: "repoctx: building the map…", cancellable: true },
      (_p, token) => c.sendRequest<rq.MapResult>(rq.METHODS.map, params, token),
    );
    const doc = await vscode.workspace.openTextDocument({ content: r.text, language: "plaintext" });
    await vscode.window.showTextDocument(doc, { preview: false });
    log(`map: ${rq.tokenSummary(r)}`);
    await record(rq.EXTENSION_COMMANDS.showMap, params, r);
    vscode.window.setStatusBarMessage(`repoctx map: ${rq.tokenSummary(r)}`, 8000);
  } catch (e) {
    await reportError(rq.EXTENSION_COMMANDS.showMap, params, e);
  }
}

/** Refused hunks in the Problems panel: at the closest candidate line (else line 1) of the target file. */
function showRefusals(r: rq.ApplyResult): void {
  refusals?.clear();
  const byUri = new Map<string, vscode.Diagnostic[]>();
  for (const h of r.hunks) {
    if (h.applied || !h.uri) continue;
    const uri = vscode.Uri.parse(h.uri);
    const at = (line: number) => new vscode.Range(Math.max(0, line - 1), 0, Math.max(0, line - 1), Number.MAX_SAFE_INTEGER);
    const [closest, ...others] = h.candidates ?? [];
    const d = new vscode.Diagnostic(
      at(closest?.line ?? 1),
      `hunk ${h.index} refused: ${h.reason ?? "no reason given"}` +
        (closest ? ` (closest: line ${closest.line}, similarity ${closest.similarity.toFixed(2)})` : ""),
      vscode.DiagnosticSeverity.Error,
    );
    d.source = "repoctx apply";
    d.relatedInformation = others.map(
      (c) => new vscode.DiagnosticRelatedInformation(new vscode.Location(uri, at(c.line)), rq.candidateLines({ ...h, candidates: [c] })[0]),
    );
    byUri.set(uri.toString(), [...(byUri.get(uri.toString()) ?? []), d]);
  }
  for (const [uri, ds] of byUri) refusals?.set(vscode.Uri.parse(uri), ds);
}

/** The proposed texts the changes editor shows on its right side (read-only, scheme `repoctx-proposed`). */
class ProposedTexts implements vscode.TextDocumentContentProvider {
  static readonly scheme = "repoctx-proposed";
  private readonly texts = new Map<string, string>();
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;

  set(target: vscode.Uri, text: string): vscode.Uri {
    const uri = target.with({ scheme: ProposedTexts.scheme });
    this.texts.set(uri.toString(), text);
    this.changed.fire(uri);
    return uri;
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.texts.get(uri.toString()) ?? "";
  }

  clear(): void {
    this.texts.clear();
  }

  dispose(): void {
    this.changed.dispose();
  }
}

/** Opens the changes editor: each file's current text (the buffer if open) against the text the edit makes of it. */
async function showProposed(r: rq.ApplyResult, title: string): Promise<void> {
  proposed?.clear();
  const rows: [vscode.Uri, vscode.Uri | undefined, vscode.Uri | undefined][] = [];
  for (const f of rq.proposedFiles(r.edit)) {
    const uri = vscode.Uri.parse(f.uri);
    const target = f.newUri ? vscode.Uri.parse(f.newUri) : uri;
    const base = f.created ? "" : (await vscode.workspace.openTextDocument(uri)).getText();
    const right = f.deleted || !proposed ? undefined : proposed.set(target, rq.applyTextEdits(base, f.edits));
    rows.push([target, f.created ? undefined : uri, right]);
  }
  await vscode.commands.executeCommand("vscode.changes", title, rows);
}

/** The preview, then on "Apply" the edit into the buffers (and their undo history). Resolves whether it was applied. */
async function previewAndApply(c: LanguageClient, r: rq.ApplyResult, versions: Map<string, number>): Promise<boolean> {
  const summary = rq.applySummary(r);
  const title = `repoctx: model edit (${summary})`;
  await showProposed(r, title);
  const choice = await vscode.window.showInformationMessage(`repoctx: ${summary}. Apply the model's edit?`, "Apply", "Discard");
  // The changes editor's tab: its label is the title (VS Code may append the number of files).
  const tabs = vscode.window.tabGroups.all.flatMap((g) => g.tabs).filter((t) => t.label.startsWith(title));
  await vscode.window.tabGroups.close(tabs, true);
  proposed?.clear();
  if (choice !== "Apply") return false;
  const edit = await c.protocol2CodeConverter.asWorkspaceEdit(r.edit as unknown as ProtocolWorkspaceEdit);
  // The server placed the hunks against these buffers: one typed into since would be overwritten.
  for (const [uri] of edit.entries()) {
    const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
    const was = versions.get(uri.toString());
    if (doc && was !== undefined && doc.version !== was) {
      throw new Error(`${vscode.workspace.asRelativePath(uri)} changed after the edit was placed; nothing applied, run the command again`);
    }
  }
  if (!(await vscode.workspace.applyEdit(edit))) throw new Error("VS Code did not apply the edit; nothing applied");
  return true;
}

/** "repoctx: Apply Model Edit from Clipboard / from Selection": a dry run, then a preview, then the edit. */
async function applyModelEdit(source: "clipboard" | "selection"): Promise<void> {
  const command = source === "clipboard" ? rq.EXTENSION_COMMANDS.applyFromClipboard : rq.EXTENSION_COMMANDS.applyFromSelection;
  let params: rq.ApplyEditParams | undefined;
  try {
    let text: string;
    if (source === "clipboard") {
      text = await vscode.env.clipboard.readText();
    } else {
      const editor = vscode.window.activeTextEditor;
      if (!editor) throw new Error("open the model's answer in an editor (and select the edit) first");
      text = editor.document.getText(editor.selection.isEmpty ? undefined : editor.selection);
    }
    if (!text.trim()) {
      void vscode.window.showWarningMessage(
        source === "clipboard" ? "repoctx: the clipboard is empty: copy the model's answer first." : "repoctx: the selection is empty.",
      );
      return;
    }
    params = rq.applyEditParams(text);
    const c = await getClient();
    const versions = new Map(vscode.workspace.textDocuments.map((d) => [d.uri.toString(), d.version]));
    const req = params;
    const r = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Window, title: "repoctx: placing the edit…", cancellable: true },
      (_p, token) => c.sendRequest<rq.ApplyResult>(rq.METHODS.applyEdit, req, token),
    );
    output.info(`apply (${source}): ${r.hunks.length} hunk(s)`);
    for (const line of rq.applyReport(r)) output.info(line);
    showRefusals(r);
    let applied = false;
    if (r.ok) {
      applied = await previewAndApply(c, r, versions);
      const summary = rq.applySummary(r);
      log(applied ? `applied: ${summary}` : "edit discarded");
      if (applied) void vscode.window.showInformationMessage(`repoctx: applied ${summary}`);
      else vscode.window.setStatusBarMessage("repoctx: model edit discarded", 6000);
    } else {
      await record(command, params, { ...r, applied: false });
      const placedFiles = rq.editedFiles(r.edit);
      const buttons = placedFiles > 0 ? ["Preview Placed Files", "Show Problems", "Show Output"] : ["Show Problems", "Show Output"];
      const choice = await vscode.window.showWarningMessage(`repoctx: ${rq.refusalNotice(r)}`, ...buttons);
      if (choice === "Show Problems") await vscode.commands.executeCommand("workbench.actions.view.problems");
      else if (choice === "Show Output") output.show(true);
      else if (choice === "Preview Placed Files") applied = await previewAndApply(c, r, versions);
      if (!applied) return;
    }
    await record(command, params, { ...r, applied });
  } catch (e) {
    await reportError(command, params, e);
  }
}

/** The token count of the active file's context; refreshed on editor change and (debounced) on edits. */
class ContextStatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem("repoctx.tokens", vscode.StatusBarAlignment.Right, 100);
  private timer: NodeJS.Timeout | undefined;
  private cts: vscode.CancellationTokenSource | undefined;
  private readonly subs: vscode.Disposable[] = [];

  constructor() {
    this.item.name = "repoctx context tokens";
    this.item.command = rq.EXTENSION_COMMANDS.copyContext;
    this.subs.push(
      vscode.window.onDidChangeActiveTextEditor(() => this.schedule(150)),
      vscode.workspace.onDidChangeTextDocument((e) => {
        if (e.document === vscode.window.activeTextEditor?.document && e.contentChanges.length > 0) this.schedule(1000);
      }),
      vscode.workspace.onDidSaveTextDocument((d) => {
        if (d === vscode.window.activeTextEditor?.document) this.schedule(300);
      }),
    );
  }

  schedule(delayMs: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.refresh();
    }, delayMs);
  }

  /** Shows a result the extension already has (after Copy Context) without another request. */
  show(r: rq.ContextResult, uri: vscode.Uri): void {
    this.item.tooltip = this.tooltip(r, uri, "selection");
    this.item.show();
  }

  private tooltip(r: rq.ContextResult, uri: vscode.Uri, what: string): vscode.MarkdownString {
    const md = new vscode.MarkdownString(
      `**repoctx** — context of the ${what} in \`${vscode.workspace.asRelativePath(uri)}\`\n\n` +
        `${rq.tokenSummary(r)}${r.mode ? `, mode ${r.mode}` : ""}${r.files ? `, ${r.files.length} file(s)` : ""}\n\n` +
        `Click: Copy Context for Selection`,
    );
    return md;
  }

  private async refresh(): Promise<void> {
    this.cts?.cancel();
    this.cts?.dispose();
    this.cts = undefined;
    const editor = vscode.window.activeTextEditor;
    const doc = editor?.document;
    const c = client;
    if (
      !readSettings(doc?.uri).statusBar ||
      !doc ||
      doc.uri.scheme !== "file" ||
      !c ||
      c.state !== State.Running ||
      !clientFolder ||
      vscode.workspace.getWorkspaceFolder(doc.uri)?.uri.toString() !== clientFolder.uri.toString()
    ) {
      this.item.hide();
      return;
    }
    const cts = new vscode.CancellationTokenSource();
    this.cts = cts;
    const params = rq.fileContextParams(doc.uri.toString(), doc.lineCount, doc.lineAt(doc.lineCount - 1).text.length);
    this.item.text = "$(sync~spin) repoctx";
    this.item.show();
    try {
      const r = await c.sendRequest<rq.ContextResult>(rq.METHODS.context, params, cts.token);
      if (cts.token.isCancellationRequested) return;
      this.item.text = rq.statusText(r);
      this.item.tooltip = this.tooltip(r, doc.uri, "file");
    } catch (e) {
      if (cts.token.isCancellationRequested || isCancelled(e)) return;
      this.item.text = "$(warning) repoctx";
      this.item.tooltip = `repoctx: ${errorMessage(e)}`;
    }
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.cts?.cancel();
    this.cts?.dispose();
    this.item.dispose();
    for (const s of this.subs) s.dispose();
  }
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  output = vscode.window.createOutputChannel("repoctx", { log: true });
  statusBar = new ContextStatusBar();
  refusals = vscode.languages.createDiagnosticCollection("repoctx apply");
  proposed = new ProposedTexts();
  context.subscriptions.push(
    output,
    statusBar,
    refusals,
    proposed,
    vscode.workspace.registerTextDocumentContentProvider(ProposedTexts.scheme, proposed),
    // A refusal's diagnostics point into the text it was checked against; an edit there makes them stale.
    vscode.workspace.onDidChangeTextDocument((e) => {
      if (e.contentChanges.length > 0) refusals?.delete(e.document.uri);
    }),
    vscode.commands.registerCommand(rq.EXTENSION_COMMANDS.applyFromClipboard, () => applyModelEdit("clipboard")),
    vscode.commands.registerCommand(rq.EXTENSION_COMMANDS.applyFromSelection, () => applyModelEdit("selection")),
    vscode.commands.registerCommand(rq.EXTENSION_COMMANDS.copyContext, copyContext),
    vscode.commands.registerCommand(rq.EXTENSION_COMMANDS.packToFile, packToFile),
    vscode.commands.registerCommand(rq.EXTENSION_COMMANDS.showMap, showMap),
    vscode.commands.registerCommand(rq.EXTENSION_COMMANDS.restartServer, async () => {
      await stopClient();
      try {
        await getClient();
        void vscode.window.setStatusBarMessage("repoctx: server restarted", 4000);
      } catch (e) {
        void vscode.window.showErrorMessage(`repoctx: ${errorMessage(e)}`);
      }
    }),
    vscode.workspace.onDidChangeConfiguration(async (e) => {
      if (!e.affectsConfiguration(SECTION)) return;
      if (client && RESTART_KEYS.some((k) => e.affectsConfiguration(`${SECTION}.${k}`))) {
        log("server command changed: restarting");
        await stopClient();
        getClient().catch((err) => vscode.window.showErrorMessage(`repoctx: ${errorMessage(err)}`));
      } else {
        statusBar?.schedule(500);
      }
    }),
  );
  if (vscode.workspace.workspaceFolders?.length) {
    getClient().catch((e) => {
      log(errorMessage(e));
      void vscode.window.showErrorMessage(`repoctx: ${errorMessage(e)}`, "Open Settings").then((choice) => {
        if (choice) void vscode.commands.executeCommand("workbench.action.openSettings", "repoctx.");
      });
    });
  }
}

export async function deactivate(): Promise<void> {
  await stopClient();
}
