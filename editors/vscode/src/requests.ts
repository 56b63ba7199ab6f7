/**
 * Everything the extension sends to the repoctx language server, built from plain values.
 *
 * This module does not import `vscode`, so the Node test (test/server.test.mjs) loads the very same
 * builders (compiled to out/requests.js) and drives the real server with the extension's params.
 */

/** LSP position: 0-based line and UTF-16 character. */
export interface Position {
  line: number;
  character: number;
}

/** LSP range: `end` exclusive. */
export interface Range {
  start: Position;
  end: Position;
}

export type Format = "xml" | "markdown" | "plain";
export type Mode = "auto" | "whole" | "slice";

export const FORMATS: readonly Format[] = ["xml", "markdown", "plain"];

/** Custom request methods of the server. */
export const METHODS = {
  context: "repoctx/context",
  pack: "repoctx/pack",
  map: "repoctx/map",
  applyEdit: "repoctx/applyEdit",
} as const;

/** The same operations as `workspace/executeCommand` commands (`arguments: [params]`). */
export const SERVER_COMMANDS = {
  context: "repoctx.context",
  pack: "repoctx.pack",
  map: "repoctx.map",
  applyEdit: "repoctx.applyEdit",
} as const;

/** The extension's own (palette) command ids; distinct from the server's executeCommand ids. */
export const EXTENSION_COMMANDS = {
  copyContext: "repoctx.copyContext",
  packToFile: "repoctx.packToFile",
  showMap: "repoctx.showMap",
  restartServer: "repoctx.restartServer",
  applyFromClipboard: "repoctx.applyModelEditFromClipboard",
  applyFromSelection: "repoctx.applyModelEditFromSelection",
} as const;

/** The `repoctx.*` settings as read from the editor configuration (null or missing = unset). */
export interface Settings {
  serverCommand?: readonly string[] | null;
  pythonPath?: string | null;
  budget?: number | null;
  encoding?: string | null;
  format?: string | null;
  include?: readonly string[] | null;
  exclude?: readonly string[] | null;
  lineNumbers?: boolean | null;
}

/** The server's options: `initializationOptions` and `settings.repoctx` of didChangeConfiguration. */
export interface ServerOptions {
  budget?: number;
  encoding?: string;
  format?: Format;
  include?: string[];
  exclude?: string[];
}

export interface ContextParams {
  textDocument: { uri: string };
  range?: Range;
  position?: Position;
  query?: string;
  budget?: number;
  format?: Format;
  lineNumbers?: boolean;
}

export interface PackParams {
  query?: string;
  budget?: number;
  format?: Format;
  mode?: Mode;
}

export interface MapParams {
  budget?: number;
  focus?: string;
}

export interface FileSpans {
  uri: string;
  /** 1-based inclusive line ranges. */
  spans: [number, number][];
}

export interface ContextResult {
  text: string;
  tokens: number;
  budget: number;
  encoding: string;
  mode?: string;
  files?: FileSpans[];
}

export type PackResult = ContextResult;

export interface MapResult {
  text: string;
  tokens: number;
  budget: number;
  encoding: string;
}

/** `repoctx/applyEdit`: a model's answer (diff, SEARCH/REPLACE blocks or `*** Begin Patch`). */
export interface ApplyEditParams {
  text: string;
  dryRun: boolean;
}

/** A closest place for a refused hunk: 1-based line, similarity 0..1, the text of that line. */
export interface ApplyCandidate {
  line: number;
  similarity: number;
  text: string;
}

/** One hunk's fate, as the server reports it (the applier's HunkResult plus the file's uri). */
export interface ApplyHunk {
  path: string;
  uri?: string;
  /** 1-based within its file. */
  index: number;
  applied: boolean;
  /** 1-based line where it went, in the result. */
  line?: number | null;
  offset?: number | null;
  relaxation?: string | null;
  reason?: string | null;
  candidates?: ApplyCandidate[];
}

/** The LSP WorkspaceEdit of the server's reply: only `documentChanges`. */
export interface LspWorkspaceEdit {
  documentChanges: Array<Record<string, unknown>>;
}

/** The reply: the edit of every file whose hunks all placed, and every hunk's fate. */
export interface ApplyResult {
  ok: boolean;
  edit: LspWorkspaceEdit;
  hunks: ApplyHunk[];
  files: { path: string; kind: string; new_path: string | null }[];
  applied?: boolean;
}

export const DEFAULT_SERVER_COMMAND: readonly string[] = ["repoctx", "serve"];

function nonEmptyString(v: unknown): v is string {
  return typeof v === "string" && v.trim() !== "";
}

function positiveInt(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v) && v > 0;
}

function isFormat(v: unknown): v is Format {
  return typeof v === "string" && (FORMATS as readonly string[]).includes(v);
}

function stringList(v: unknown): string[] {
  return Array.isArray(v) ? v.filter(nonEmptyString) : [];
}

/**
 * The program and arguments that start the server on stdio.
 * `pythonPath` wins: `<python> -m repoctx serve`; else `serverCommand` (default `repoctx serve`).
 */
export function serverCommand(settings: Settings): { command: string; args: string[] } {
  if (nonEmptyString(settings.pythonPath)) {
    return { command: settings.pythonPath, args: ["-m", "repoctx", "serve"] };
  }
  const cmd = stringList(settings.serverCommand);
  const argv = cmd.length > 0 ? cmd : [...DEFAULT_SERVER_COMMAND];
  return { command: argv[0], args: argv.slice(1) };
}

/**
 * The server options from the settings. Unset values (null, empty string, empty list) are left out,
 * so the repository's own configuration and the server's defaults apply to them.
 */
export function serverOptions(settings: Settings): ServerOptions {
  const out: ServerOptions = {};
  if (positiveInt(settings.budget)) out.budget = settings.budget;
  if (nonEmptyString(settings.encoding)) out.encoding = settings.encoding.trim();
  if (isFormat(settings.format)) out.format = settings.format;
  const include = stringList(settings.include);
  if (include.length > 0) out.include = include;
  const exclude = stringList(settings.exclude);
  if (exclude.length > 0) out.exclude = exclude;
  return out;
}

/** `initializationOptions` of the `initialize` request. */
export function initializationOptions(settings: Settings): ServerOptions {
  return serverOptions(settings);
}

/** Params of `workspace/didChangeConfiguration` after a `repoctx.*` setting changed. */
export function didChangeConfigurationParams(settings: Settings): { settings: { repoctx: ServerOptions } } {
  return { settings: { repoctx: serverOptions(settings) } };
}

function isEmptyRange(r: Range): boolean {
  return r.start.line === r.end.line && r.start.character === r.end.character;
}

/**
 * `repoctx/context` for a selection: a non-empty selection is sent as `range`, an empty one (a cursor)
 * as `position`. `query`, `budget`, `format`, `lineNumbers` are sent only when given.
 */
export function contextParams(
  uri: string,
  selection: Range,
  opts: { query?: string; budget?: number | null; format?: string | null; lineNumbers?: boolean | null } = {},
): ContextParams {
  const params: ContextParams = { textDocument: { uri } };
  if (isEmptyRange(selection)) {
    params.position = { line: selection.start.line, character: selection.start.character };
  } else {
    params.range = {
      start: { line: selection.start.line, character: selection.start.character },
      end: { line: selection.end.line, character: selection.end.character },
    };
  }
  if (nonEmptyString(opts.query)) params.query = opts.query;
  if (positiveInt(opts.budget)) params.budget = opts.budget;
  if (isFormat(opts.format)) params.format = opts.format;
  if (opts.lineNumbers === true) params.lineNumbers = true;
  return params;
}

/**
 * `repoctx/context` for a whole document (the status bar count): the range from the first character
 * to the end of the last line. `lineCount` >= 1; `lastLineLength` is the last line's length in UTF-16 units.
 */
export function fileContextParams(uri: string, lineCount: number, lastLineLength: number): ContextParams {
  const last = Math.max(0, lineCount - 1);
  return {
    textDocument: { uri },
    range: { start: { line: 0, character: 0 }, end: { line: last, character: Math.max(0, lastLineLength) } },
  };
}

/** `repoctx/pack`: the whole workspace, optionally ranked by a query. */
export function packParams(opts: { query?: string | null; budget?: number | null; format?: string | null; mode?: string | null } = {}): PackParams {
  const params: PackParams = {};
  if (nonEmptyString(opts.query)) params.query = opts.query.trim();
  if (positiveInt(opts.budget)) params.budget = opts.budget;
  if (isFormat(opts.format)) params.format = opts.format;
  if (opts.mode === "auto" || opts.mode === "whole" || opts.mode === "slice") params.mode = opts.mode;
  return params;
}

/** `repoctx/map`, personalised to the focused document when there is one. */
export function mapParams(opts: { budget?: number | null; focus?: string | null } = {}): MapParams {
  const params: MapParams = {};
  if (positiveInt(opts.budget)) params.budget = opts.budget;
  if (nonEmptyString(opts.focus)) params.focus = opts.focus;
  return params;
}

/** The same request as a `workspace/executeCommand`. */
export function executeCommandParams(
  command: (typeof SERVER_COMMANDS)[keyof typeof SERVER_COMMANDS],
  params: ContextParams | PackParams | MapParams,
): { command: string; arguments: unknown[] } {
  return { command, arguments: [params] };
}

/** The format a pack file's name asks for: `.md` markdown, `.txt` plain, `.xml` xml; else undefined. */
export function formatForPath(path: string): Format | undefined {
  const m = /\.([A-Za-z0-9]+)$/.exec(path);
  switch (m?.[1].toLowerCase()) {
    case "md":
    case "markdown":
      return "markdown";
    case "txt":
    case "text":
      return "plain";
    case "xml":
      return "xml";
    default:
      return undefined;
  }
}

/** File-name extension for a pack in `format` (save dialog default). */
export function extensionForFormat(format: string | null | undefined): string {
  switch (format) {
    case "markdown":
      return "md";
    case "plain":
      return "txt";
    default:
      return "xml";
  }
}

function n(x: number): string {
  return x.toLocaleString("en-US");
}

/** "1,234 / 8,000 tokens (o200k_base)". */
export function tokenSummary(r: { tokens: number; budget: number; encoding: string }): string {
  return `${n(r.tokens)} / ${n(r.budget)} tokens (${r.encoding})`;
}

/** The notification text after a context or pack: tokens, budget, encoding, files, mode. */
export function resultSummary(what: string, r: ContextResult): string {
  const parts = [`${what}: ${tokenSummary(r)}`];
  if (r.files) parts.push(`${r.files.length} file${r.files.length === 1 ? "" : "s"}`);
  if (r.mode) parts.push(`mode ${r.mode}`);
  return parts.join(", ");
}

/** The status bar text: "$(symbol-namespace) 1,234 tok". */
export function statusText(r: { tokens: number }): string {
  return `$(symbol-namespace) ${n(r.tokens)} tok`;
}

/** `repoctx/applyEdit` params; a dry run unless `dryRun: false` (then the server applies it itself). */
export function applyEditParams(text: string, opts: { dryRun?: boolean } = {}): ApplyEditParams {
  return { text, dryRun: opts.dryRun !== false };
}

/** "shop/a.py: hunk 1 applied line 13, offset +1 (offset)", the wording of `repoctx apply`. */
export function hunkLine(h: ApplyHunk): string {
  if (!h.applied) return `${h.path}: hunk ${h.index} REFUSED: ${h.reason ?? "no reason given"}`;
  const where = h.line ? ` line ${h.line}` : "";
  const off = h.offset ? `, offset ${h.offset > 0 ? "+" : ""}${h.offset}` : "";
  return `${h.path}: hunk ${h.index} applied${where}${off}${h.relaxation ? ` (${h.relaxation})` : ""}`;
}

/** "closest: line 12 (similarity 0.83): total = compute(x)", one per candidate of a refused hunk. */
export function candidateLines(h: ApplyHunk): string[] {
  return (h.candidates ?? []).map(
    (c) => `closest: line ${c.line} (similarity ${c.similarity.toFixed(2)}): ${c.text.trim().slice(0, 80)}`,
  );
}

/** The whole report, one line per hunk and candidate, as `repoctx apply` prints it. */
export function applyReport(r: ApplyResult): string[] {
  const out: string[] = [];
  for (const h of r.hunks) {
    out.push(hunkLine(h));
    for (const c of candidateLines(h)) out.push(`    ${c}`);
  }
  return out;
}

/** Files the edit changes (text edits, creations, deletions, renames), counted once each. */
export function editedFiles(edit: LspWorkspaceEdit): number {
  const uris = new Set<string>();
  for (const c of edit.documentChanges) {
    const doc = c.textDocument as { uri: string } | undefined;
    const uri = doc?.uri ?? (c.oldUri as string | undefined) ?? (c.uri as string | undefined);
    if (uri) uris.add(uri);
  }
  return uris.size;
}

/** "3/3 hunks placed in 2 files". */
export function applySummary(r: ApplyResult): string {
  const placed = r.hunks.filter((h) => h.applied).length;
  const n = editedFiles(r.edit);
  return `${placed}/${r.hunks.length} hunk${r.hunks.length === 1 ? "" : "s"} placed in ${n} file${n === 1 ? "" : "s"}`;
}

/** The notification after a refusal: the summary, then each refused hunk (at most `max`) with its reason and closest line. */
export function refusalNotice(r: ApplyResult, max = 3): string {
  const refused = r.hunks.filter((h) => !h.applied);
  const placed = r.hunks.length - refused.length;
  const parts = refused.slice(0, max).map((h) => {
    const c = h.candidates?.[0];
    const closest = c ? `; closest: line ${c.line} (similarity ${c.similarity.toFixed(2)})` : "";
    return `${h.path} hunk ${h.index}: ${h.reason ?? "refused"}${closest}`;
  });
  if (refused.length > max) parts.push(`and ${refused.length - max} more`);
  return `${placed}/${r.hunks.length} hunks placed, ${refused.length} refused; nothing applied. ${parts.join(" · ")}`;
}

/** A text edit of the server's WorkspaceEdit (LSP: 0-based lines, UTF-16 characters, `end` exclusive). */
export interface TextEditLike {
  range: Range;
  newText: string;
}

/** One file of the edit, as the preview shows it: where it ends up, and the text edits to its current text. */
export interface ProposedFile {
  uri: string;
  /** Set when the edit renames the file. */
  newUri?: string;
  created: boolean;
  deleted: boolean;
  edits: TextEditLike[];
}

/** The files of a WorkspaceEdit's `documentChanges` (create, text edits, rename, delete), in order of first mention. */
export function proposedFiles(edit: LspWorkspaceEdit): ProposedFile[] {
  const files = new Map<string, ProposedFile>();
  const get = (uri: string): ProposedFile => {
    let f = files.get(uri);
    if (!f) files.set(uri, (f = { uri, created: false, deleted: false, edits: [] }));
    return f;
  };
  for (const c of edit.documentChanges) {
    const doc = c.textDocument as { uri: string } | undefined;
    if (doc) get(doc.uri).edits.push(...(c.edits as TextEditLike[]));
    else if (c.kind === "create") get(c.uri as string).created = true;
    else if (c.kind === "delete") get(c.uri as string).deleted = true;
    else if (c.kind === "rename") get(c.oldUri as string).newUri = c.newUri as string;
  }
  return [...files.values()];
}

/** The offset of an LSP position in `text` (lines end at \n, \r\n or \r; characters are UTF-16 units), clamped to the text. */
function offsetAt(text: string, pos: Position): number {
  const eol = /\r\n|\r|\n/g;
  let start = 0;
  for (let line = 0; line < pos.line; line++) {
    const m = eol.exec(text);
    if (!m) return text.length;
    start = eol.lastIndex;
  }
  eol.lastIndex = start;
  const end = eol.exec(text)?.index ?? text.length;
  return start + Math.min(pos.character, end - start);
}

/** `text` with the (non-overlapping) edits applied, as an editor applies a TextDocumentEdit. */
export function applyTextEdits(text: string, edits: readonly TextEditLike[]): string {
  const spans = edits
    .map((e) => ({ start: offsetAt(text, e.range.start), end: offsetAt(text, e.range.end), newText: e.newText }))
    .sort((a, b) => b.start - a.start || b.end - a.end);
  for (const e of spans) text = text.slice(0, e.start) + e.newText + text.slice(e.end);
  return text;
}
